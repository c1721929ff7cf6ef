//! Putting messages into the farm through a node's spool (the same group
//! commit as SMTP: durable before the answer): `Submit`, which streams a
//! message from an application, and quarantine replay, which sends a
//! quarantined message back through routing and filing on the current
//! config. Both check recipients like SMTP's `RCPT` does.

use std::sync::Arc;

use postroom_cluster::Farm;
use postroom_core::route::{route_recipient, RecipientRoute, Refusal};
use postroom_core::{Command, MessageKey, ReleaseResult, Response};
use postroom_library::{Quarantine, QuarantineEntry};
use postroom_smtp::spool::{Committed, Spool};
use postroom_smtp::{Envelope, PeerInfo};
use tokio_stream::{Stream, StreamExt};

use crate::error::ApiError;
use crate::proto::{ReplayReply, SubmitChunk, SubmitReply};

/// What a node gives the admin API once its intake runs: the spool in the
/// drop folder, the quarantine, and its host name (for `Received:`).
#[derive(Clone, Debug)]
pub struct NodeIntake {
    pub spool: Spool,
    pub quarantine: Arc<Quarantine>,
    pub hostname: String,
}

/// Why the farm would refuse these recipients now, as SMTP's `RCPT` would
/// (and anything while incoming e-mail is off); else the size limit.
enum Refused {
    /// The farm cannot take mail now.
    Now(ApiError),
    /// A recipient (or their number) is refused: the sentence.
    Recipients(String),
}

fn check_recipients(farm: &Farm, recipients: &[String]) -> Result<u64, Refused> {
    farm.read(|s| {
        let Some(config) = s.config() else {
            return Err(Refused::Now(ApiError::Unavailable {
                detail: "the farm has no configuration yet".to_string(),
            }));
        };
        if !config.farm.incoming_enabled {
            return Err(Refused::Now(ApiError::Unavailable {
                detail: "incoming e-mail is turned off for this farm; try again later".to_string(),
            }));
        }
        if recipients.is_empty() {
            return Err(Refused::Recipients(
                "at least one recipient is required".into(),
            ));
        }
        let most = config.farm.max_recipients;
        if recipients.len() > most {
            return Err(Refused::Recipients(format!(
                "{} recipients is more than farm.max_recipients ({most})",
                recipients.len()
            )));
        }
        for r in recipients {
            match route_recipient(config, r) {
                RecipientRoute::Library(_) => {}
                RecipientRoute::Foreign => {
                    return Err(Refused::Recipients(format!(
                        "{r:?} is not in the farm's incoming domains"
                    )))
                }
                RecipientRoute::Refused(reason) => {
                    let refusal = Refusal {
                        recipient: r.clone(),
                        reason,
                    };
                    return Err(Refused::Recipients(refusal.to_string()));
                }
            }
        }
        Ok(config.farm.max_message_size.0)
    })
}

fn envelope(sender: &str, recipients: &[String], protocol: &str) -> Envelope {
    Envelope {
        sender: sender.to_string(),
        recipients: recipients.to_vec(),
        helo: postroom_mail::ADMIN_HELO.to_string(),
        protocol: protocol.to_string(),
        declared_size: None,
        eight_bit: true,
        smtputf8: false,
    }
}

fn head(intake: &NodeIntake, env: &Envelope, peer: PeerInfo, id: &str) -> Vec<u8> {
    postroom_smtp::head::drop_file_head(
        env,
        &peer,
        &intake.hostname,
        id,
        time::OffsetDateTime::now_utc(),
    )
}

async fn commit(
    intake: &NodeIntake,
    draft: postroom_smtp::spool::Draft,
) -> Result<Committed, ApiError> {
    intake
        .spool
        .commit(draft)
        .await
        .map_err(|reason| ApiError::Unavailable {
            detail: format!("the message could not be stored: {reason}; send it again"),
        })
}

/// Receive one message over the `Submit` stream and make it durable.
pub(crate) async fn submit<S>(
    farm: &Farm,
    intake: &NodeIntake,
    peer: PeerInfo,
    mut chunks: S,
) -> Result<SubmitReply, ApiError>
where
    S: Stream<Item = Result<SubmitChunk, tonic::Status>> + Unpin,
{
    let mut first = match chunks.next().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(status)) => return Err(ApiError::invalid("stream", status.message().to_string())),
        None => {
            return Err(ApiError::invalid(
                "stream",
                "it is empty; the first chunk carries the envelope".into(),
            ))
        }
    };
    let Some(given) = first.envelope.take() else {
        return Err(ApiError::invalid(
            "envelope",
            "the first chunk must carry the envelope".into(),
        ));
    };
    let recipients: Vec<String> = given
        .recipients
        .iter()
        .map(|r| r.trim().to_string())
        .collect();
    let limit = check_recipients(farm, &recipients).map_err(|r| match r {
        Refused::Now(e) => e,
        Refused::Recipients(why) => ApiError::invalid("envelope.recipients", why),
    })?;
    let env = envelope(given.sender.trim(), &recipients, "GRPC");
    let id = intake.spool.next_id();
    let mut draft =
        intake
            .spool
            .draft(&id, head(intake, &env, peer, &id), &env.sender, &recipients);
    let mut size = 0u64;
    let mut chunk = Some(first);
    loop {
        if let Some(c) = chunk.take() {
            if c.envelope.is_some() {
                intake.spool.discard(draft);
                return Err(ApiError::invalid(
                    "envelope",
                    "only the first chunk may carry the envelope".into(),
                ));
            }
            size += c.data.len() as u64;
            if size > limit {
                intake.spool.discard(draft);
                return Err(ApiError::invalid(
                    "data",
                    format!("the message is larger than farm.max_message_size ({limit} bytes)"),
                ));
            }
            draft.write(&c.data).await;
        }
        match chunks.next().await {
            Some(Ok(next)) => chunk = Some(next),
            Some(Err(status)) => {
                intake.spool.discard(draft);
                return Err(ApiError::Cancelled {
                    detail: format!("the stream broke off: {}", status.message()),
                });
            }
            None => break,
        }
    }
    if size == 0 {
        intake.spool.discard(draft);
        return Err(ApiError::invalid("data", "the message is empty".into()));
    }
    let committed = commit(intake, draft).await?;
    Ok(SubmitReply {
        message_key: committed.key.to_string(),
        drop_file: committed.path.display().to_string(),
    })
}

/// Send a quarantined message back through the drop folder. The recipients
/// that were refused (or all, when none was filed) are replayed. When the
/// whole message is replayed under its own key, the ledger first forgets its
/// quarantined outcome (refused while a node still holds a claim on it, as
/// its holder may yet finish it). The entry's claim on the key goes before
/// the new drop file is written (so a second quarantine of the message makes
/// a new entry) and its files after (a crash in between leaves the old
/// entry, nothing lost).
pub(crate) async fn replay(
    farm: &Farm,
    intake: &NodeIntake,
    entry: &QuarantineEntry,
) -> Result<ReplayReply, ApiError> {
    let path = intake.quarantine.message_path(entry);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::Storage {
            action: "read quarantined message".to_string(),
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
    let drop_file = postroom_mail::parse_drop_file(&bytes).map_err(|e| ApiError::FailedPrecondition {
        detail: format!(
            "{} cannot be replayed ({}: {e}); fix the file and put it into the drop folder yourself",
            entry.file, entry.code
        ),
    })?;
    let (trace, message) = postroom_mail::split_own_trace(drop_file.message);
    let all = drop_file.envelope.recipients.clone();
    let recipients = if entry.refused_recipients.is_empty() {
        all.clone()
    } else {
        entry.refused_recipients.clone()
    };
    let limit = check_recipients(farm, &recipients).map_err(|r| match r {
        Refused::Now(e) => e,
        Refused::Recipients(why) => ApiError::FailedPrecondition {
            detail: format!("{} cannot be replayed yet: {why}; fix that (e.g. create the library) and replay it again", entry.file),
        },
    })?;
    if message.len() as u64 > limit {
        return Err(ApiError::FailedPrecondition {
            detail: format!(
                "{} is larger than farm.max_message_size ({limit} bytes); raise it to replay this message",
                entry.file
            ),
        });
    }
    let sender = drop_file.envelope.sender.clone();
    if recipients == all {
        release(farm, MessageKey::compute(&sender, &recipients, message)).await?;
    }
    let quarantine = intake.quarantine.clone();
    let owned = entry.clone();
    blocking(move || quarantine.release_claim(&owned), &entry.file).await?;
    let mut env = envelope(&sender, &recipients, "REPLAY");
    let id = intake.spool.next_id();
    let mut peer = PeerInfo {
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        port: 0,
    };
    // The SMTP client it first came from stays in the trace, so SPF can be
    // checked again.
    if let Some((ip, protocol)) = postroom_mail::own_trace_origin(trace) {
        if protocol.contains("SMTP") {
            peer.ip = ip;
            env.helo = postroom_mail::own_trace_helo(trace).unwrap_or_default();
        }
    }
    let mut draft = intake
        .spool
        .draft(&id, head(intake, &env, peer, &id), &sender, &recipients);
    draft.write(message).await;
    let committed = commit(intake, draft).await?;
    let quarantine = intake.quarantine.clone();
    let owned = entry.clone();
    blocking(move || quarantine.remove_files(&owned), &entry.file).await?;
    Ok(ReplayReply {
        drop_file: committed.path.display().to_string(),
        recipients,
    })
}

/// Make the ledger forget the quarantined outcome of `key`.
async fn release(farm: &Farm, key: MessageKey) -> Result<(), ApiError> {
    let answer = farm.propose(Command::Release { keys: vec![key] }).await?;
    let Response::Releases(results) = answer else {
        return Err(ApiError::Internal {
            detail: format!("unexpected answer to a release: {answer:?}"),
        });
    };
    match results.first() {
        Some(ReleaseResult::Released | ReleaseResult::Absent) => Ok(()),
        Some(ReleaseResult::Claimed { node }) => Err(ApiError::FailedPrecondition {
            detail: format!("message {key} is being filed by node {node}; replay it again in a moment"),
        }),
        Some(ReleaseResult::Kept { outcome }) => Err(ApiError::FailedPrecondition {
            detail: format!(
                "message {key} is no longer quarantined in the ledger ({outcome:?}); delete the entry instead"
            ),
        }),
        None => Err(ApiError::Internal {
            detail: "a release answered nothing".to_string(),
        }),
    }
}

/// Run a quarantine operation on a blocking thread.
async fn blocking<F>(f: F, what: &str) -> Result<(), ApiError>
where
    F: FnOnce() -> Result<(), postroom_library::LibraryError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal {
            detail: format!("a quarantine task failed: {e}"),
        })?
        .map_err(|e| ApiError::Storage {
            action: "update quarantine entry".to_string(),
            path: what.to_string(),
            detail: e.to_string(),
        })
}

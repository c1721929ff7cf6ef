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

fn invalid(field: &str, detail: String) -> ApiError {
    ApiError::InvalidArgument {
        field: field.to_string(),
        detail,
    }
}

/// Refuse recipients the farm would refuse at `RCPT`, and everything while
/// incoming e-mail is off.
fn check_recipients(farm: &Farm, recipients: &[String]) -> Result<u64, ApiError> {
    farm.read(|s| {
        let Some(config) = s.config() else {
            return Err(ApiError::Unavailable {
                detail: "the farm has no configuration yet".to_string(),
            });
        };
        if !config.farm.incoming_enabled {
            return Err(ApiError::Unavailable {
                detail: "incoming e-mail is turned off for this farm; try again later".to_string(),
            });
        }
        if recipients.is_empty() {
            return Err(invalid(
                "envelope.recipients",
                "at least one recipient is required".into(),
            ));
        }
        for r in recipients {
            match route_recipient(config, r) {
                RecipientRoute::Library(_) => {}
                RecipientRoute::Foreign => {
                    return Err(invalid(
                        "envelope.recipients",
                        format!("{r:?} is not in the farm's incoming domains"),
                    ))
                }
                RecipientRoute::Refused(reason) => {
                    let refusal = Refusal {
                        recipient: r.clone(),
                        reason,
                    };
                    return Err(invalid("envelope.recipients", refusal.to_string()));
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
        helo: "postroom-admin".to_string(),
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
        Some(Err(status)) => return Err(invalid("stream", status.message().to_string())),
        None => {
            return Err(invalid(
                "stream",
                "it is empty; the first chunk carries the envelope".into(),
            ))
        }
    };
    let Some(given) = first.envelope.take() else {
        return Err(invalid(
            "envelope",
            "the first chunk must carry the envelope".into(),
        ));
    };
    let recipients: Vec<String> = given
        .recipients
        .iter()
        .map(|r| r.trim().to_string())
        .collect();
    let limit = check_recipients(farm, &recipients)?;
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
                return Err(invalid(
                    "envelope",
                    "only the first chunk may carry the envelope".into(),
                ));
            }
            size += c.data.len() as u64;
            if size > limit {
                intake.spool.discard(draft);
                return Err(invalid(
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
                return Err(invalid(
                    "stream",
                    format!("it broke off: {}", status.message()),
                ));
            }
            None => break,
        }
    }
    if size == 0 {
        intake.spool.discard(draft);
        return Err(invalid("data", "the message is empty".into()));
    }
    let committed = commit(intake, draft).await?;
    Ok(SubmitReply {
        message_key: committed.key.to_string(),
        drop_file: committed.path.display().to_string(),
    })
}

/// Send a quarantined message back through the drop folder. The recipients
/// that were refused (or all, when none was filed) are replayed; when the
/// whole message is replayed under its own key, the ledger first forgets
/// its quarantined outcome so that it can be filed. The entry is removed
/// once the new drop file is durable.
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
    let (_trace, message) = postroom_mail::split_own_trace(drop_file.message);
    let all = drop_file.envelope.recipients.clone();
    let recipients = if entry.refused_recipients.is_empty() {
        all.clone()
    } else {
        entry.refused_recipients.clone()
    };
    check_recipients(farm, &recipients)?;
    let sender = drop_file.envelope.sender.clone();
    if recipients == all {
        let key = MessageKey::compute(&sender, &recipients, message);
        match farm.propose(Command::Release { keys: vec![key] }).await? {
            Response::Releases(r) if matches!(r.first(), Some(ReleaseResult::Released | ReleaseResult::Absent)) => {}
            Response::Releases(r) => {
                return Err(ApiError::FailedPrecondition {
                    detail: format!(
                        "message {key} is not quarantined in the ledger ({:?}); delete the entry instead",
                        r.first()
                    ),
                })
            }
            other => {
                return Err(ApiError::Unavailable {
                    detail: format!("unexpected answer to a release: {other:?}"),
                })
            }
        }
    }
    let env = envelope(&sender, &recipients, "REPLAY");
    let id = intake.spool.next_id();
    let peer = PeerInfo {
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        port: 0,
    };
    let mut draft = intake
        .spool
        .draft(&id, head(intake, &env, peer, &id), &sender, &recipients);
    draft.write(message).await;
    let committed = commit(intake, draft).await?;
    let quarantine = intake.quarantine.clone();
    let file = entry.file.clone();
    tokio::task::spawn_blocking(move || quarantine.remove(&file))
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("removing the quarantine entry failed: {e}"),
        })?
        .map_err(|e| ApiError::Storage {
            action: "remove quarantine entry".to_string(),
            path: entry.file.clone(),
            detail: e.to_string(),
        })?;
    Ok(ReplayReply {
        drop_file: committed.path.display().to_string(),
        recipients,
    })
}

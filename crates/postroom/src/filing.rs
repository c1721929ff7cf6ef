//! The blocking middle of the pipeline for a batch of claimed messages:
//! route each message on the farm config, parse it, file it into its
//! libraries (one durable batch per library) and quarantine what cannot be
//! filed. Returns each message's outcome for the ledger, or a retry.

use std::collections::HashMap;
use std::path::Path;

use postroom_core::config::{FarmConfig, LibraryKind, LibrarySettings};
use postroom_core::groups::expand;
use postroom_core::list_item::Invitation;
use postroom_core::policy::{is_member, refuses_sender, AcceptFrom, Sender};
use postroom_core::route::{route, route_recipient, RecipientRoute, RefusalReason};
use postroom_core::{MessageAbout, MessageKey, Outcome};
use postroom_library::{
    FileContent, FileOutcome, FileToWrite, ItemMetadata, ItemToFile, Quarantine, QuarantineReason,
};
use postroom_mail::{parse_message, Attachment, ParsedMessage};
use tracing::{info, info_span, warn};

use crate::authentication::Authenticator;
use crate::intake::Received;
use crate::libraries::Libraries;
use crate::list_items::{self, list_item};
use crate::notices::{notice, Notice};
use crate::sender::sender;

/// What became of one claimed message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Durably filed and/or quarantined: record this in the ledger (and,
    /// once recorded, send the notice to a refused sender, if any).
    Done(Outcome, MessageAbout, Option<Notice>),
    /// Something transient failed (disk, library folder): leave the source for a later try.
    Retry(String),
    /// Who sent it cannot be told now (DNS lookups fail for now): wait and
    /// try again, apart from the filing attempts (see `sender_waits`).
    Wait(String),
}

/// Everything the filing step needs besides the messages.
pub struct FilingContext<'a> {
    pub config: &'a FarmConfig,
    pub data_dir: &'a Path,
    pub libraries: &'a Libraries,
    pub quarantine: &'a Quarantine,
    pub node: u64,
    pub received_at: String,
    /// Messages whose filing failed too often: quarantine them with the last error instead.
    pub give_up: &'a HashMap<MessageKey, String>,
    /// The farm's own DKIM / SPF / DMARC checks, for policies that ask who sent a message.
    pub auth: &'a Authenticator,
}

/// A message's plan after routing and parsing (large attachments still in
/// the message's bytes, which it borrows).
struct Plan<'m> {
    libraries: Vec<String>,
    parsed: Option<ParsedMessage<'m>>,
    quarantine: Option<(&'static str, String)>,
    /// Recipients refused by routing (their copy is quarantined).
    refused: Vec<String>,
    /// The attachments inside attached messages, for the libraries that
    /// file them too (`expand_attached_messages`).
    inner: Vec<Attachment<'static>>,
    /// The meeting invitation, read when a calendar is among the libraries.
    invitation: Option<Result<Invitation, String>>,
    /// Who sent it cannot be told now (a DNS lookup failed for now): why.
    wait: Option<String>,
}

impl Plan<'_> {
    /// Nothing to file: quarantine the whole message with `code` and `reason`.
    fn quarantine(code: &'static str, reason: String) -> Self {
        Plan {
            quarantine: Some((code, reason)),
            ..Plan::wait(None)
        }
    }

    /// Nothing to file now; with `Some(why)`, wait and try again later.
    fn wait(why: Option<String>) -> Self {
        Plan {
            libraries: Vec::new(),
            parsed: None,
            quarantine: None,
            refused: Vec::new(),
            inner: Vec::new(),
            invitation: None,
            wait: why,
        }
    }
}

/// File a batch of claimed messages; one [`Step`] per message, in order.
pub fn file_batch(ctx: &FilingContext<'_>, batch: &[Received]) -> Vec<Step> {
    let plans: Vec<Plan> = batch
        .iter()
        .map(|m| match ctx.give_up.get(&m.key) {
            Some(last) => {
                Plan::quarantine("filing_failed", format!("filing failed repeatedly: {last}"))
            }
            None => plan(ctx, m),
        })
        .collect();
    let mut failures: Vec<Option<String>> = vec![None; batch.len()];

    // One durable batch per library.
    let mut per_library: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in plans.iter().enumerate() {
        for alias in &p.libraries {
            per_library.entry(alias.as_str()).or_default().push(i);
        }
    }
    for (alias, members) in per_library {
        let outcome = ctx
            .config
            .library_by_alias(alias)
            .ok_or_else(|| anyhow::anyhow!("library {alias:?} vanished from the config"))
            .and_then(|settings| ctx.libraries.get(ctx.data_dir, settings));
        let library = match outcome {
            Ok(library) => library,
            Err(e) => {
                for &i in &members {
                    failures[i] = Some(format!("library {alias:?}: {e:#}"));
                }
                continue;
            }
        };
        let settings = library.settings();
        let items: Vec<ItemToFile<'_>> = members
            .iter()
            .map(|&i| item_to_file(ctx, settings, &batch[i], &plans[i]))
            .collect();
        let results = match ctx.libraries.lock_of(library.root()) {
            Ok(lock) => {
                // A poisoned lock guards no data of its own: go on.
                let _one_at_a_time = lock.lock().unwrap_or_else(|p| p.into_inner());
                library.file_batch(&items)
            }
            Err(e) => {
                for &i in &members {
                    failures[i] = Some(format!("library {alias:?}: {e:#}"));
                }
                continue;
            }
        };
        if results.len() != members.len() {
            for &i in &members {
                failures[i] = Some(format!(
                    "library {alias:?}: {} results for {} items",
                    results.len(),
                    members.len()
                ));
            }
            continue;
        }
        for (&i, result) in members.iter().zip(results) {
            let m = &batch[i];
            let _span =
                info_span!("message", message_key = %m.key, library = alias, node = ctx.node)
                    .entered();
            match result {
                Ok(FileOutcome::Filed(record)) => info!(files = ?record.files, "filed"),
                Ok(FileOutcome::AlreadyFiled(_)) => info!("already filed; not filed again"),
                Err(e) => {
                    warn!(error = %e, "filing failed; will retry");
                    failures[i] = Some(format!("library {alias:?}: {e}"));
                }
            }
        }
    }

    batch
        .iter()
        .zip(plans)
        .zip(failures)
        .map(|((m, plan), failure)| {
            if let Some(why) = failure {
                return Step::Retry(why);
            }
            if let Some(why) = plan.wait {
                return Step::Wait(why);
            }
            let about = about(m, plan.parsed.as_ref());
            let Some((code, reason)) = plan.quarantine else {
                let outcome = Outcome::Delivered {
                    libraries: plan.libraries,
                };
                return Step::Done(outcome, about, None);
            };
            let _span = info_span!("message", message_key = %m.key, node = ctx.node).entered();
            let why = QuarantineReason {
                code: code.to_string(),
                reason: reason.clone(),
                message_key: Some(m.key),
                source: Some(m.path.display().to_string()),
                envelope_sender: Some(m.envelope.sender.clone()),
                envelope_recipients: m.envelope.recipients.clone(),
                // Only when others were filed: a replay then files these alone.
                refused_recipients: if plan.libraries.is_empty() {
                    Vec::new()
                } else {
                    plan.refused.clone()
                },
            };
            let refused = if plan.libraries.is_empty() {
                m.envelope.recipients.clone()
            } else {
                plan.refused.clone()
            };
            let notice = notice(ctx.config, m, code, &reason, refused);
            match ctx.quarantine.put_bytes(&m.bytes, why) {
                Ok(entry) => {
                    warn!(code, reason = %reason, file = %entry.file, "quarantined");
                    let outcome = if plan.libraries.is_empty() {
                        Outcome::Quarantined { reason }
                    } else {
                        Outcome::Delivered {
                            libraries: plan.libraries,
                        }
                    };
                    Step::Done(outcome, about, notice)
                }
                Err(e) => Step::Retry(format!("quarantine: {e}")),
            }
        })
        .collect()
}

/// The message's identity for the ledger: from its parsed headers, or (when
/// it was not parsed: refused by routing, or unparsable) from a parse made
/// only for this, falling back to the envelope sender.
fn about(m: &Received, parsed: Option<&ParsedMessage>) -> MessageAbout {
    let reparsed;
    let headers = match parsed {
        Some(p) => Some(&p.headers),
        None => {
            reparsed = std::panic::catch_unwind(|| parse_message(m.message()));
            match &reparsed {
                Ok(Ok(p)) => Some(&p.headers),
                _ => None,
            }
        }
    };
    let sender = headers
        .and_then(|h| h.from_address.as_deref())
        .unwrap_or(&m.envelope.sender);
    MessageAbout::new(
        headers.and_then(|h| h.message_id.as_deref()),
        sender,
        headers.and_then(|h| h.subject.as_deref()).unwrap_or(""),
    )
}

/// Route and parse one message; decide what to quarantine.
fn plan<'m>(ctx: &FilingContext<'_>, m: &'m Received) -> Plan<'m> {
    let config = ctx.config;
    let route = route(config, &m.envelope.recipients);
    let refused: Vec<String> = route.refused.iter().map(|r| r.recipient.clone()).collect();
    let mut quarantine = None;
    if let Some(first) = route.refused.first() {
        let code = match first.reason {
            RefusalReason::UnknownAlias { .. } => "unknown_alias",
            RefusalReason::LibraryDisabled { .. } => "library_disabled",
        };
        let reasons: Vec<String> = route.refused.iter().map(|r| r.to_string()).collect();
        quarantine = Some((code, reasons.join("; ")));
    } else if route.libraries.is_empty() {
        let reason = format!(
            "no recipient is in the farm's incoming domains ({}): {}",
            config.farm.incoming_domains.join(", "),
            m.envelope.recipients.join(", ")
        );
        quarantine = Some(("no_library_recipient", reason));
    }
    if route.libraries.is_empty() {
        return Plan {
            quarantine,
            refused,
            ..Plan::wait(None)
        };
    }
    let parsed = std::panic::catch_unwind(|| parse_message(m.message()));
    let failure = match parsed {
        Ok(Ok(parsed)) if !parsed.problems.is_empty() => (
            "corrupt_attachment",
            format!(
                "an attachment cannot be decoded (nothing was filed): {}",
                parsed.problems.join("; ")
            ),
        ),
        Ok(Ok(parsed)) => {
            // Who sent it matters only to a policy that asks: the farm's, or a
            // members-only library the From address is a member of (a
            // stranger is refused without a lookup).
            let from = parsed.headers.from_address.as_deref();
            let asks = config.farm.accept_authenticated_only
                || route.libraries.iter().any(|alias| {
                    config.library_by_alias(alias).is_some_and(|l| {
                        l.accept_from == AcceptFrom::Members
                            && from.is_some_and(|f| {
                                is_member(&expand(&l.members, &config.farm.groups), f)
                            })
                    })
                });
            let (sender, why_not) = if asks {
                match sender(config, m, &parsed, ctx.auth) {
                    Ok(known) => known,
                    Err(why) => {
                        return Plan::wait(Some(format!("who sent it cannot be told now: {why}")))
                    }
                }
            } else {
                let from = from.map(str::to_string);
                let sender = Sender {
                    from,
                    authenticated: None,
                };
                (sender, String::new())
            };
            if config.farm.accept_authenticated_only && sender.authenticated.is_none() {
                (
                    "not_authenticated",
                    format!("farm.accept_authenticated_only is on and {why_not}"),
                )
            } else {
                let calendar = route.libraries.iter().any(|alias| {
                    config
                        .library_by_alias(alias)
                        .is_some_and(|l| l.kind == LibraryKind::Calendar)
                });
                let mut plan = Plan {
                    libraries: route.libraries,
                    invitation: calendar.then(|| list_items::invitation(&parsed)),
                    parsed: Some(parsed),
                    quarantine,
                    refused,
                    inner: Vec::new(),
                    wait: None,
                };
                apply_library_rules(config, m, (&sender, &why_not), &mut plan);
                plan.inner = inner_attachments(config, &plan);
                return plan;
            }
        }
        Ok(Err(e)) => ("unparsable", format!("the message cannot be parsed: {e}")),
        Err(_) => (
            "parser_panic",
            "the MIME parser failed on this message (a bug: please report it)".into(),
        ),
    };
    Plan::quarantine(failure.0, failure.1)
}

/// The attachments of the messages attached to this one, when a library of
/// the plan files them (`expand_attached_messages`); one level deep. An
/// attached message that cannot be parsed is still filed as its `.eml`.
fn inner_attachments(config: &FarmConfig, plan: &Plan) -> Vec<Attachment<'static>> {
    let wanted = plan.libraries.iter().any(|alias| {
        config
            .library_by_alias(alias)
            .is_some_and(|l| l.expand_attached_messages)
    });
    let Some(parsed) = plan.parsed.as_ref().filter(|_| wanted) else {
        return Vec::new();
    };
    parsed
        .attachments
        .iter()
        .filter(|a| a.content_type == "message/rfc822")
        .filter_map(|a| {
            let bytes = a.content.to_bytes();
            std::panic::catch_unwind(|| parse_message(&bytes).map(|inner| inner.into_owned()))
                .ok()?
                .ok()
        })
        .flat_map(|inner| inner.attachments)
        .collect()
}

/// Take the libraries that refuse the message out of the plan (their
/// `accept_from` policy, then their limits): their recipients' copy is
/// quarantined with the reason (never filed truncated). When no library is
/// left, nothing is filed.
fn apply_library_rules(
    config: &FarmConfig,
    m: &Received,
    (sender, why_not): (&Sender, &str),
    plan: &mut Plan,
) {
    let Some(parsed) = &plan.parsed else { return };
    let message_len = m.message().len() as u64;
    let mut refusals = Vec::new();
    plan.libraries.retain(|alias| {
        let refusal = config.library_by_alias(alias).and_then(|lib| {
            // Only the attachments this library would file count against its limit.
            let sizes: Vec<(&str, u64)> = parsed
                .attachments
                .iter()
                .filter(|a| lib.files_attachment(&a.content_type, &a.file_name).is_ok())
                .map(|a| (a.file_name.as_str(), a.content.len() as u64))
                .collect();
            refuses_sender(
                &lib.alias,
                lib.accept_from,
                (&lib.members, &config.farm.groups),
                sender,
            )
            .map(|(code, why)| match code {
                "not_authenticated" => (code, format!("{why}: {why_not}")),
                _ => (code, why),
            })
            .or_else(|| lib.refuses(message_len, &sizes))
            .or_else(|| list_items::refusal(lib, plan.invitation.as_ref()))
        });
        match refusal {
            Some(refusal) => {
                refusals.push((alias.clone(), refusal));
                false
            }
            None => true,
        }
    });
    let Some((_, (code, _))) = refusals.first() else {
        return;
    };
    // A refusal already planned (an unknown alias) keeps its code first.
    let code = plan
        .quarantine
        .as_ref()
        .map_or(*code, |(earlier, _)| *earlier);
    for (alias, _) in &refusals {
        let routed_here = m.envelope.recipients.iter().filter(|r| {
            matches!(route_recipient(config, r), RecipientRoute::Library(lib) if lib.alias == *alias)
        });
        plan.refused.extend(routed_here.cloned());
    }
    let mut reasons: Vec<String> = refusals.into_iter().map(|(_, (_, why))| why).collect();
    if let Some((_, earlier)) = plan.quarantine.take() {
        reasons.insert(0, earlier);
    }
    plan.quarantine = Some((code, reasons.join("; ")));
    if plan.libraries.is_empty() {
        // Nothing to file: the quarantined copy is the whole message.
        plan.refused.clear();
        plan.parsed = None;
    }
}

/// What library `lib` files of message `m`: the attachments it takes (by
/// kind and settings; the record names the others, and why), the original
/// for `.eml`.
fn item_to_file<'a>(
    ctx: &FilingContext<'_>,
    lib: &LibrarySettings,
    m: &'a Received,
    plan: &'a Plan,
) -> ItemToFile<'a> {
    let parsed = plan.parsed.as_ref();
    let mut not_filed = Vec::new();
    let inner = if lib.expand_attached_messages {
        plan.inner.as_slice()
    } else {
        &[]
    };
    let outer = parsed.map(|p| p.attachments.as_slice()).unwrap_or_default();
    let mut filed: Vec<&Attachment> = Vec::new();
    for a in outer.iter().chain(inner) {
        match lib.files_attachment(&a.content_type, &a.file_name) {
            Ok(()) => filed.push(a),
            Err(why) => {
                info!(message_key = %m.key, library = %lib.alias, file = %a.file_name, content_type = %a.content_type, why, "attachment not filed in this library");
                not_filed.push(format!("{}: {why}", a.file_name));
            }
        }
    }
    let attachments = filed
        .iter()
        .map(|a| FileToWrite {
            name: &a.file_name,
            content: FileContent::Pieces(&a.content),
        })
        .collect();
    let item = parsed.and_then(|p| list_item(lib, &m.key, p, &filed, plan.invitation.as_ref()));
    let meta = ItemMetadata {
        message_key: m.key,
        headers: parsed.map(|p| p.headers.clone()).unwrap_or_default(),
        received: ctx.received_at.clone(),
        envelope_sender: m.envelope.sender.clone(),
        envelope_recipients: m.envelope.recipients.clone(),
        not_filed,
        item,
    };
    ItemToFile {
        meta,
        attachments,
        original: m.message(),
    }
}

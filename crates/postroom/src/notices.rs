//! Notices to refused senders: whether a refusal gets one ([`notice`]:
//! policy refusals, when the farm sends them), and, once the ledger has a message's outcome (so
//! the notice goes out once, from the node that filed it), a DSN saying why
//! goes to the envelope sender through `farm.smarthost`. Best effort: the
//! message itself is in quarantine; a notice that cannot be sent is logged.

use std::time::Duration;

use postroom_core::config::FarmConfig;
use postroom_mail::{refusal_notice, Refused};
use postroom_smtp::client::{send_mail, Outgoing};
use tracing::{info, warn};

use crate::intake::Received;

/// How long each step with the smarthost may take.
const SMARTHOST_TIMEOUT: Duration = Duration::from_secs(30);

/// A notice to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The refused message's envelope sender.
    pub to: String,
    /// The recipients it was refused for.
    pub recipients: Vec<String>,
    pub reason: String,
    /// The refused message's header, quoted in the notice.
    pub header: Vec<u8>,
}

/// Send `notice` in the background, as `config` says.
pub fn send(config: &FarmConfig, notice: Notice) {
    let Some(smarthost) = config.farm.smarthost.clone() else {
        return;
    };
    let domain = config
        .farm
        .display_address
        .clone()
        .or_else(|| config.farm.incoming_domains.first().cloned())
        .unwrap_or_else(|| "localhost".to_string());
    let postmaster = config
        .farm
        .postmaster
        .clone()
        .unwrap_or_else(|| format!("postmaster@{domain}"));
    tokio::spawn(async move {
        let host = postroom_smtp::default_hostname();
        let now = time::OffsetDateTime::now_utc();
        let date = now
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let id = format!("{}", now.unix_timestamp_nanos());
        let message = refusal_notice(&Refused {
            reporting_host: &host,
            postmaster: &postmaster,
            sender: &notice.to,
            recipients: &notice.recipients,
            reason: &notice.reason,
            date: &date,
            id: &id,
            original: &notice.header,
        });
        let to = [notice.to.clone()];
        let mail = Outgoing {
            hello: &host,
            from: "",
            to: &to,
            message: &message,
        };
        match send_mail(&smarthost, mail, SMARTHOST_TIMEOUT).await {
            Ok(()) => info!(to = %notice.to, %smarthost, "refusal notice sent"),
            Err(e) => warn!(to = %notice.to, error = %e, "cannot send the refusal notice"),
        }
    });
}

/// A notice for the sender of `m`, refused by a library's policy, when the
/// farm sends them (`farm.notify_refused_senders`) and there is a sender
/// to tell (not the null sender).
pub fn notice(
    config: &FarmConfig,
    m: &Received,
    code: &str,
    reason: &str,
    recipients: Vec<String>,
) -> Option<Notice> {
    let policy = matches!(code, "not_a_member" | "not_authenticated");
    (policy && config.farm.notify_refused_senders && !m.envelope.sender.is_empty()).then(|| {
        Notice {
            to: m.envelope.sender.clone(),
            recipients,
            reason: reason.to_string(),
            header: postroom_mail::header_of(m.message()).to_vec(),
        }
    })
}

//! Who sent a message, as far as the farm can tell: its `From:` address and
//! whether the sender is authenticated: the message came through a safe
//! e-mail server that vouches for its senders (our own `Received:` field in
//! a file our spool wrote says which client sent it) or through the admin
//! API (Submit, or a replay an administrator asked for), or a trusted
//! server's `Authentication-Results` field says DMARC (or aligned DKIM)
//! passed. Used by `farm.accept_authenticated_only` and a library's
//! `accept_from = "members"`.

use postroom_core::cluster::smtp_writer;
use postroom_core::config::FarmConfig;
use postroom_core::policy::{authenticated_by_results, Sender};
use postroom_mail::{header_values, own_trace_origin, split_own_trace, ParsedMessage};

use crate::intake::Received;

/// How the message reached the farm vouches for its sender (`Ok(how)`), or
/// why not.
fn vouched(config: &FarmConfig, m: &Received) -> Result<String, String> {
    let name = m.path.file_name().map(|n| n.to_string_lossy().into_owned());
    let ours = name.as_deref().and_then(smtp_writer).is_some();
    let (trace, _) = split_own_trace(m.message());
    match own_trace_origin(trace).filter(|_| ours) {
        Some((_, protocol)) if protocol == "GRPC" || protocol == "REPLAY" => {
            Ok("through the admin API".to_string())
        }
        Some((ip, _)) if config.farm.vouches(ip) => {
            Ok(format!("through the safe e-mail server {ip}"))
        }
        Some((ip, _)) => Err(format!(
            "{ip} is not a safe e-mail server (farm.safe_servers)"
        )),
        None => Err(
            "the drop file did not come through a safe e-mail server or the admin API".to_string(),
        ),
    }
}

/// The sender of `m`, and how it is authenticated; else why not (for the
/// quarantine reason).
pub fn sender(config: &FarmConfig, m: &Received, parsed: &ParsedMessage) -> (Sender, String) {
    let from = parsed.headers.from_address.clone();
    let (authenticated, why_not) = match vouched(config, m) {
        Ok(how) => (Some(how), String::new()),
        Err(why) => {
            let results = header_values(m.message(), "Authentication-Results");
            let trusted = &config.farm.trusted_authserv_ids;
            let by_results = from
                .as_deref()
                .and_then(|f| authenticated_by_results(&results, trusted, f));
            (
                by_results,
                format!("{why}, and no trusted Authentication-Results field says it passed"),
            )
        }
    };
    (
        Sender {
            from,
            authenticated,
        },
        why_not,
    )
}

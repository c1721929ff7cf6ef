//! Who sent a message, as far as the farm can tell: its `From:` address and
//! whether the sender is authenticated: the message came through a server
//! that vouches for its senders (`farm.vouching_servers`; our own
//! `Received:` field in a file our spool wrote says which client sent it) or
//! through the admin API's Submit, or, for a drop file another server
//! wrote, a trusted server's `Authentication-Results` field says DMARC (or
//! aligned DKIM) passed; or else the farm's own DKIM / SPF / DMARC checks
//! pass (`authentication`; SPF only for a client of our own SMTP door).
//! Fields a client sent us over SMTP are never taken at their word (no
//! border server stripped them), and a replay does not vouch (it re-runs
//! the policy on what the message says). Used by
//! `farm.accept_authenticated_only` and `accept_from = "members"`.
//!
//! Known limit: whoever can write into the drop folder can write a file
//! that looks like our spool's; the drop folder's writers are trusted
//! infrastructure.

use postroom_core::cluster::smtp_writer;
use postroom_core::config::FarmConfig;
use postroom_core::policy::{authenticated_by_results, Sender};
use postroom_core::sender_auth::Verdict;
use postroom_mail::{
    header_values, own_trace_helo, own_trace_origin, split_own_trace, ParsedMessage, ADMIN_HELO,
};

use crate::authentication::{Authenticator, Client};
use crate::intake::Received;

/// How the message reached the farm.
enum Origin {
    /// Vouched for: how.
    Vouched(String),
    /// Through our own SMTP listener (or a replay), not vouched for: why,
    /// and the client when it was an SMTP one.
    OurDoor(String, Option<(std::net::IpAddr, String)>),
    /// A drop file another server wrote.
    DropFile,
}

fn origin(config: &FarmConfig, m: &Received) -> Origin {
    let name = m.path.file_name().map(|n| n.to_string_lossy().into_owned());
    let ours = name.as_deref().and_then(smtp_writer).is_some();
    let (trace, _) = split_own_trace(m.message());
    match own_trace_origin(trace).filter(|_| ours) {
        Some((_, protocol)) if protocol == "GRPC" => {
            Origin::Vouched("through the admin API".to_string())
        }
        Some((ip, protocol)) if protocol == "REPLAY" => Origin::OurDoor(
            "a replayed message is not vouched for again".to_string(),
            // The SMTP client it first came from, when it came from one.
            own_trace_helo(trace)
                .filter(|helo| helo != ADMIN_HELO)
                .map(|helo| (ip, helo)),
        ),
        Some((ip, _)) if config.farm.vouches(ip) => {
            Origin::Vouched(format!("through the vouching server {ip}"))
        }
        Some((ip, _)) => Origin::OurDoor(
            format!("{ip} does not vouch for its senders (farm.vouching_servers)"),
            Some((ip, own_trace_helo(trace).unwrap_or_default())),
        ),
        None => Origin::DropFile,
    }
}

/// The sender of `m`, and how it is authenticated; else why not (for the
/// quarantine reason). `Err`: the farm's own checks cannot tell now (a DNS
/// lookup failed for now); try again later.
pub fn sender(
    config: &FarmConfig,
    m: &Received,
    parsed: &ParsedMessage,
    auth: &Authenticator,
) -> Result<(Sender, String), String> {
    let from = parsed.headers.from_address.clone();
    let (authenticated, why_not, client) = match origin(config, m) {
        Origin::Vouched(how) => (Some(how), String::new(), None),
        Origin::OurDoor(why, client) => (None, why, client),
        Origin::DropFile => {
            let results = header_values(m.message(), "Authentication-Results");
            let trusted = &config.farm.trusted_authserv_ids;
            let by_results = from
                .as_deref()
                .and_then(|f| authenticated_by_results(&results, trusted, f));
            let why = "the drop file came through no vouching server or the admin API, and no \
                       trusted Authentication-Results field says it passed";
            (by_results, why.to_string(), None)
        }
    };
    let (authenticated, why_not) = match (authenticated, from.as_deref()) {
        (Some(how), _) => (Some(how), why_not),
        (None, None) => (None, format!("{why_not}; the message has no From address")),
        (None, Some(address)) => {
            let client = client.as_ref().map(|(ip, helo)| Client {
                ip: *ip,
                helo,
                mail_from: &m.envelope.sender,
            });
            let (_, as_sent) = split_own_trace(m.message());
            match auth.check(as_sent, address, client) {
                Verdict::Pass(how) => (Some(how), String::new()),
                Verdict::Fail(why) => (None, format!("{why_not}; the farm's checks: {why}")),
                Verdict::TempError(why) => return Err(why),
            }
        }
    };
    Ok((
        Sender {
            from,
            authenticated,
        },
        why_not,
    ))
}

//! The farm's own check of a sender, at the edge: DKIM signatures, SPF for
//! the client that handed the message to our SMTP door (when we know it),
//! and DMARC over both, evaluated with mail-auth through this node's
//! resolver (`[dns]`: given name servers, or the system's). What the
//! results mean is core's `sender_auth::verdict` (pure). Blocking: filing
//! runs on a blocking thread and waits here for the lookups, each bounded
//! by `dns.timeout`.

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::system_conf::read_system_conf;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, MessageAuthenticator, SpfOutput,
    SpfResult,
};
use postroom_core::config::DnsSettings;
use postroom_core::sender_auth::{verdict, AuthChecks, CheckResult, Verdict};
use tokio::runtime::Handle;
use tracing::warn;

/// The client that handed us a message over SMTP.
pub struct Client<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    /// The envelope sender (empty: the null sender).
    pub mail_from: &'a str,
}

/// DKIM / SPF / DMARC through this node's resolver.
pub struct Authenticator {
    auth: MessageAuthenticator,
    handle: Handle,
    timeout: Duration,
    /// Our host name, for SPF macros.
    host: String,
}

impl Authenticator {
    /// A resolver for `settings`, run on `handle`.
    pub fn new(settings: &DnsSettings, host: &str, handle: Handle) -> anyhow::Result<Self> {
        let timeout = settings.timeout.0;
        let (config, mut opts) = if settings.servers.is_empty() {
            match read_system_conf() {
                Ok(system) => system,
                Err(e) => {
                    // Lookups then fail for now: such messages wait, and
                    // are quarantined with the reason if it lasts.
                    warn!(error = %e, "dns: the system's resolver configuration cannot be read; DKIM, SPF and DMARC lookups will fail until dns.servers is set");
                    (ResolverConfig::default(), ResolverOpts::default())
                }
            }
        } else {
            let servers = settings
                .servers
                .iter()
                .map(|addr| {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in ns.connections.iter_mut() {
                        c.port = addr.port();
                    }
                    ns
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        opts.timeout = timeout;
        opts.attempts = 2;
        let auth = MessageAuthenticator::new(config, opts)
            .map_err(|e| anyhow::anyhow!("dns: the resolver cannot be made ({e})"))?;
        Ok(Authenticator {
            auth,
            handle,
            timeout,
            host: host.to_string(),
        })
    }

    /// The verdict on `from` (the `From:` address) for `message` (as the
    /// client sent it, without our trace). Call from a blocking thread,
    /// never from the runtime's own threads.
    pub fn check(&self, message: &[u8], from: &str, client: Option<Client<'_>>) -> Verdict {
        let Some((_, from_domain)) = from.rsplit_once('@') else {
            return Verdict::Fail(format!("the From address {from:?} has no domain"));
        };
        let from_domain = from_domain.to_ascii_lowercase();
        // Everything at once may take a few lookups; bound the whole.
        let limit = self.timeout.saturating_mul(4);
        let verdict = self.handle.block_on(async {
            tokio::time::timeout(limit, self.verdict(message, &from_domain, client)).await
        });
        verdict.unwrap_or_else(|_| {
            Verdict::TempError(format!(
                "the DKIM / SPF / DMARC lookups took longer than {} ms",
                limit.as_millis()
            ))
        })
    }

    async fn verdict(
        &self,
        message: &[u8],
        from_domain: &str,
        client: Option<Client<'_>>,
    ) -> Verdict {
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return Verdict::Fail("the message cannot be read for DKIM".to_string());
        };
        // DMARC authenticates a message with one author (RFC 7489 6.6.1).
        if parsed.from.len() != 1 {
            return Verdict::Fail(format!(
                "the message has {} From addresses; only a message with one can be authenticated",
                parsed.from.len()
            ));
        }
        // Only a signature or an envelope sender of the From domain's
        // organization can authenticate it: look nothing else up (a stranger
        // naming a slow domain cannot stall filing).
        let signs = parsed
            .dkim_headers
            .iter()
            .any(|h| may_align(&h.header.d, from_domain));
        let mail_from = client.as_ref().map(|c| {
            let helo = if c.helo.is_empty() {
                c.ip.to_string()
            } else {
                c.helo.to_string()
            };
            let mail_from = if c.mail_from.is_empty() {
                format!("postmaster@{helo}")
            } else {
                c.mail_from.to_string()
            };
            (c.ip, helo, mail_from)
        });
        let mail_from_domain = mail_from
            .as_ref()
            .and_then(|(_, _, m)| m.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let spf_aligned = mail_from.is_some() && may_align(&mail_from_domain, from_domain);
        if !signs && !spf_aligned {
            let signers: Vec<&str> = parsed
                .dkim_headers
                .iter()
                .map(|h| h.header.d.as_str())
                .collect();
            let dkim = if signers.is_empty() {
                "no DKIM signature".to_string()
            } else {
                format!("DKIM signatures of {} only", signers.join(", "))
            };
            let spf = match &mail_from {
                Some(_) => format!("the envelope sender's domain is {mail_from_domain}"),
                None => "SPF not checked (the client is unknown)".to_string(),
            };
            return Verdict::Fail(format!(
                "nothing in the message can authenticate {from_domain}: {dkim}; {spf}"
            ));
        }
        let outputs = if signs {
            self.auth.verify_dkim(&parsed).await
        } else {
            Vec::new()
        };
        // A signature must cover From (RFC 6376 5.4); mail-auth does not check.
        let covers_from = |o: &DkimOutput<'_>| {
            o.signature()
                .is_some_and(|s| s.h.iter().any(|h| h.eq_ignore_ascii_case("from")))
        };
        let dkim = outputs
            .iter()
            .map(|o| {
                let domain = o
                    .signature()
                    .map_or("(unreadable signature)".to_string(), |s| s.d.to_lowercase());
                let result = match dkim_result(o.result()) {
                    CheckResult::Pass if !covers_from(o) => {
                        CheckResult::Fail("the signature does not cover the From field".into())
                    }
                    other => other,
                };
                (domain, result)
            })
            .collect();
        let for_dmarc: Vec<DkimOutput<'_>> =
            outputs.iter().filter(|o| covers_from(o)).cloned().collect();
        let spf_output = match (&mail_from, spf_aligned) {
            (Some((ip, helo, mail_from)), true) => Some(
                self.auth
                    .verify_spf(SpfParameters::verify_mail_from(
                        *ip, helo, &self.host, mail_from,
                    ))
                    .await,
            ),
            _ => None,
        };
        let spf = spf_output
            .as_ref()
            .map(|o| (mail_from_domain.clone(), spf_result(o.result())));
        // DMARC needs an SPF output; without one it is "none".
        let none = SpfOutput::new(mail_from_domain.clone());
        let dmarc_output = self
            .auth
            .verify_dmarc(DmarcParameters::new(
                &parsed,
                &for_dmarc,
                &mail_from_domain,
                spf_output.as_ref().unwrap_or(&none),
            ))
            .await;
        let dmarc = match dmarc_output.result() {
            DmarcResult::None => None,
            DmarcResult::Pass if !dmarc_output.domain().eq_ignore_ascii_case(from_domain) => {
                Some(CheckResult::Fail(format!(
                    "it passed for {}, not {from_domain}",
                    dmarc_output.domain()
                )))
            }
            DmarcResult::Pass => Some(CheckResult::Pass),
            DmarcResult::Fail(e) | DmarcResult::PermError(e) => {
                Some(CheckResult::Fail(e.to_string()))
            }
            DmarcResult::TempError(e) => Some(CheckResult::TempError(e.to_string())),
        };
        verdict(&AuthChecks {
            from_domain: from_domain.to_string(),
            dkim,
            spf,
            dmarc,
        })
    }
}

/// `a` and `b` may be aligned under DMARC's relaxed rule (the same
/// organizational domain): they share their last two labels. A superset of
/// alignment (it knows no public suffixes), used only to skip lookups that
/// cannot matter.
fn may_align(a: &str, b: &str) -> bool {
    let last_two = |d: &str| {
        let labels: Vec<String> = d
            .trim_end_matches('.')
            .rsplit('.')
            .take(2)
            .map(str::to_ascii_lowercase)
            .collect();
        (labels.len() == 2).then_some(labels)
    };
    last_two(a).is_some_and(|x| Some(x) == last_two(b))
}

fn dkim_result(r: &DkimResult) -> CheckResult {
    match r {
        DkimResult::Pass => CheckResult::Pass,
        DkimResult::TempError(e) => CheckResult::TempError(e.to_string()),
        DkimResult::Fail(e) | DkimResult::PermError(e) | DkimResult::Neutral(e) => {
            CheckResult::Fail(e.to_string())
        }
        DkimResult::None => CheckResult::Fail("no result".to_string()),
    }
}

fn spf_result(r: SpfResult) -> CheckResult {
    match r {
        SpfResult::Pass => CheckResult::Pass,
        SpfResult::TempError => CheckResult::TempError("temperror".to_string()),
        other => CheckResult::Fail(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_domains_of_one_organization_may_align() {
        assert!(may_align("contoso.com", "mail.contoso.com"));
        assert!(may_align("bounces.CONTOSO.com", "contoso.com."));
        assert!(!may_align("contoso.com", "fabrikam.com"));
        assert!(!may_align("com", "contoso.com"));
        assert!(!may_align("", "contoso.com"));
    }
}

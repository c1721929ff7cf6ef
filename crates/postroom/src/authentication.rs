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
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfOutput, SpfResult,
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
        let auth = if settings.servers.is_empty() {
            match MessageAuthenticator::new_system_conf() {
                Ok(auth) => auth,
                Err(e) => {
                    // Lookups then fail for now: such messages wait, and
                    // are quarantined with the reason if it lasts.
                    warn!(error = %e, "dns: the system's resolver configuration cannot be read; DKIM, SPF and DMARC lookups will fail until dns.servers is set");
                    MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default())
                        .map_err(|e| anyhow::anyhow!("dns: no resolver can be made ({e})"))?
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
            let mut opts = ResolverOpts::default();
            opts.timeout = timeout;
            opts.attempts = 2;
            MessageAuthenticator::new(ResolverConfig::from_name_servers(servers), opts)
                .map_err(|e| anyhow::anyhow!("dns.servers: the resolver cannot be made ({e})"))?
        };
        Ok(Authenticator {
            auth,
            handle,
            timeout,
            host: host.to_string(),
        })
    }

    /// The verdict on `from` (the `From:` address) for `message`. Call from
    /// a blocking thread, never from the runtime's own threads.
    pub fn check(&self, message: &[u8], from: &str, client: Option<Client<'_>>) -> Verdict {
        let Some((_, from_domain)) = from.rsplit_once('@') else {
            return Verdict::Fail(format!("the From address {from:?} has no domain"));
        };
        let from_domain = from_domain.to_ascii_lowercase();
        // Everything at once may take a few lookups; bound the whole.
        let limit = self.timeout.saturating_mul(4);
        let checks = self.handle.block_on(async {
            tokio::time::timeout(limit, self.checks(message, from_domain.clone(), client)).await
        });
        match checks {
            Ok(Some(checks)) => verdict(&checks),
            Ok(None) => Verdict::Fail("the message cannot be read for DKIM".to_string()),
            Err(_) => Verdict::TempError(format!(
                "the DKIM / SPF / DMARC lookups took longer than {} ms",
                limit.as_millis()
            )),
        }
    }

    async fn checks(
        &self,
        message: &[u8],
        from_domain: String,
        client: Option<Client<'_>>,
    ) -> Option<AuthChecks> {
        let parsed = AuthenticatedMessage::parse(message)?;
        if parsed.dkim_headers.is_empty() && !parsed.has_dkim_errors && client.is_none() {
            // Nothing could pass (no signature, no client for SPF), so DMARC
            // cannot either: no lookups.
            return Some(AuthChecks {
                from_domain,
                dkim: Vec::new(),
                spf: None,
                dmarc: None,
            });
        }
        let dkim_outputs = self.auth.verify_dkim(&parsed).await;
        let dkim = dkim_outputs
            .iter()
            .map(|o| {
                let domain = o
                    .signature()
                    .map_or("(unreadable signature)".to_string(), |s| s.d.to_lowercase());
                (domain, dkim_result(o.result()))
            })
            .collect();
        let (spf_output, mail_from_domain) = match &client {
            Some(c) => {
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
                let domain = mail_from
                    .rsplit_once('@')
                    .map_or(helo.clone(), |(_, d)| d.to_ascii_lowercase());
                let output = self
                    .auth
                    .verify_spf(SpfParameters::verify_mail_from(
                        c.ip, &helo, &self.host, &mail_from,
                    ))
                    .await;
                (Some(output), domain)
            }
            None => (None, String::new()),
        };
        let spf = spf_output
            .as_ref()
            .map(|o| (mail_from_domain.clone(), spf_result(o.result())));
        // DMARC needs an SPF output; without a client it is "none".
        let none = SpfOutput::new(mail_from_domain.clone());
        let dmarc_output = self
            .auth
            .verify_dmarc(DmarcParameters::new(
                &parsed,
                &dkim_outputs,
                &mail_from_domain,
                spf_output.as_ref().unwrap_or(&none),
            ))
            .await;
        let dmarc = match dmarc_output.result() {
            DmarcResult::None => None,
            DmarcResult::Pass => Some(CheckResult::Pass),
            DmarcResult::Fail(e) | DmarcResult::PermError(e) => {
                Some(CheckResult::Fail(e.to_string()))
            }
            DmarcResult::TempError(e) => Some(CheckResult::TempError(e.to_string())),
        };
        Some(AuthChecks {
            from_domain,
            dkim,
            spf,
            dmarc,
        })
    }
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

//! The node-local settings of the SMTP listener (`[smtp]`): where it
//! listens, its name, TLS files, connection limits and timeouts. The
//! farm-wide mail policy (size, recipients, safe and denied servers) lives
//! in [`crate::config::FarmSettings`] so every node answers the same.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::FarmSettings;
use crate::units::{ByteSize, HumanDuration};

/// `[smtp]`: the node's mail listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Run the listener (a node may take mail from the drop folder only).
    pub enabled: bool,
    /// Address and port, e.g. `127.0.0.1:2525`, or `0.0.0.0:25` in deployments.
    pub listen: String,
    /// Our name in the greeting and `Received:` header; the system host name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// PEM certificate chain for STARTTLS; with `tls_key`. When neither is
    /// set, a self-signed certificate for `hostname` is generated at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key for STARTTLS (PKCS#8, PKCS#1 or SEC1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Concurrent connections in all; beyond it new ones get `421 4.3.2`.
    pub max_connections: usize,
    /// Concurrent connections from one client IP; beyond it `421 4.3.2`.
    pub max_connections_per_ip: usize,
    /// Longest command line accepted, CRLF included (`500 5.5.2` beyond).
    pub max_line_length: usize,
    /// Most bytes one session may send (`421 4.7.0` beyond); at least farm.max_message_size.
    pub max_session_size: ByteSize,
    /// Bad commands tolerated in one session before it is closed.
    pub max_errors: u32,
    /// Close a connection that sends nothing for this long (`421 4.4.2`).
    pub idle_timeout: HumanDuration,
    /// A command line must be complete this long after its first byte (`421 4.4.2`).
    pub command_timeout: HumanDuration,
    /// On SIGTERM, how long transactions in flight may take to finish.
    pub shutdown_grace: HumanDuration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            enabled: true,
            listen: "127.0.0.1:2525".to_string(),
            hostname: None,
            tls_certificate: None,
            tls_key: None,
            max_connections: 500,
            max_connections_per_ip: 50,
            max_line_length: 2048,
            max_session_size: ByteSize(1024 * 1024 * 1024),
            max_errors: 10,
            idle_timeout: HumanDuration::from_secs(300),
            command_timeout: HumanDuration::from_secs(60),
            shutdown_grace: HumanDuration::from_secs(30),
        }
    }
}

impl SmtpSettings {
    /// Every broken rule, naming the key and value.
    pub(crate) fn problems(&self, farm: &FarmSettings) -> Vec<String> {
        let mut problems = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "smtp.listen: {:?} is not an address:port such as \"0.0.0.0:25\"",
                self.listen
            ));
        }
        if let Some(h) = &self.hostname {
            if h.is_empty()
                || !h
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
            {
                problems.push(format!("smtp.hostname: {h:?} is not a host name"));
            }
        }
        match (&self.tls_certificate, &self.tls_key) {
            (Some(_), None) => {
                problems.push("smtp.tls_key: required when smtp.tls_certificate is set".to_string())
            }
            (None, Some(_)) => {
                problems.push("smtp.tls_certificate: required when smtp.tls_key is set".to_string())
            }
            _ => {}
        }
        for (key, value) in [
            ("smtp.max_connections", self.max_connections),
            ("smtp.max_connections_per_ip", self.max_connections_per_ip),
        ] {
            if value == 0 {
                problems.push(format!("{key}: 0 is not allowed"));
            }
        }
        if self.max_line_length < 512 {
            problems.push(format!(
                "smtp.max_line_length: {} is below RFC 5321's 512",
                self.max_line_length
            ));
        }
        if self.max_session_size.0 < farm.max_message_size.0 {
            problems.push(format!(
                "smtp.max_session_size: \"{}\" is smaller than farm.max_message_size \"{}\"",
                self.max_session_size, farm.max_message_size
            ));
        }
        for (key, value) in [
            ("smtp.idle_timeout", self.idle_timeout),
            ("smtp.command_timeout", self.command_timeout),
        ] {
            if value.as_millis() < 1_000 {
                problems.push(format!("{key}: \"{value}\" is shorter than 1s"));
            }
        }
        problems
    }
}

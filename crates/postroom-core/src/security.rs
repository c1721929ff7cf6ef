//! Who may talk to a node's gRPC port (`[admin]`, `[tls]`, and the farm's
//! shared secret in `[cluster]`): the [`Secret`] type that never shows its
//! value (in `Debug`, logs or `config check`) and compares in constant
//! time, the admin token and TLS settings, and the rules that tie them to
//! the listen address: a node that listens beyond loopback needs an admin
//! token, and a member of a farm of several nodes needs the farm secret or
//! required client certificates (mTLS). Pure: reading the `*_file` keys is
//! the binary's job.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cluster::ClusterSettings;

/// What `config check` prints in place of a secret.
pub const REDACTED: &str = "<redacted>";
/// Fewest characters of a token or secret.
pub const MIN_SECRET_LEN: usize = 16;

/// A bearer token or shared secret. `Debug` and `Serialize` print
/// `"<redacted>"`; [`Secret::matches`] compares in constant time.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct Secret(String);

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(&value)
    }
}

impl Secret {
    /// Wrap a value (trimmed of surrounding whitespace, as a file's newline).
    pub fn new(value: &str) -> Secret {
        Secret(value.trim().to_string())
    }

    /// The value itself, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this secret. Constant time: both are hashed
    /// first, so neither the content nor the length leaks through timing.
    pub fn matches(&self, given: &str) -> bool {
        let ours = Sha256::digest(self.0.as_bytes());
        let theirs = Sha256::digest(given.as_bytes());
        ours.as_slice().ct_eq(theirs.as_slice()).into()
    }

    /// Why this value cannot be a token or secret of `key`, if it cannot.
    /// The value itself is never part of the message.
    pub fn problem(&self, key: &str) -> Option<String> {
        let v = &self.0;
        if v == REDACTED {
            return Some(format!(
                "{key}: \"{REDACTED}\" is what `config check` prints in place of a secret; give the real value"
            ));
        }
        if v.is_empty() {
            return Some(format!("{key}: must not be empty"));
        }
        if !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Some(format!(
                "{key}: must be printable ASCII without spaces (it is sent in a gRPC header)"
            ));
        }
        let len = v.chars().count();
        if len < MIN_SECRET_LEN {
            return Some(format!(
                "{key}: {len} characters is too short (at least {MIN_SECRET_LEN}; e.g. `openssl rand -hex 32`)"
            ));
        }
        None
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// `[admin]`: the admin API's bearer token, given inline or in a file (a
/// mounted Kubernetes secret); at most one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// A file holding the token (read at start, trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// Whether a TLS server asks its clients for certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientCerts {
    /// No client certificates (the token and secret authenticate).
    #[default]
    None,
    /// Verified when a client sends one; clients without one are let in.
    Optional,
    /// Every connection must present a certificate signed by `tls.ca_file`.
    Required,
}

impl ClientCerts {
    fn name(self) -> &'static str {
        match self {
            ClientCerts::None => "none",
            ClientCerts::Optional => "optional",
            ClientCerts::Required => "required",
        }
    }
}

/// `[tls]`: TLS on the node's gRPC port (admin API and Raft between nodes).
/// On when `cert_file` and `key_file` are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain: the node's identity as a server and as a client of its peers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// PEM CA certificate(s): verify peers' server certificates and clients' certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub client_certs: ClientCerts,
}

impl TlsSettings {
    /// Whether the node serves (and dials its peers with) TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

/// Whether `host:port` names only this host: a loopback IP or `localhost`.
pub fn is_loopback(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every security rule broken by these settings, each naming its key and
/// value (never a secret's value).
pub fn security_problems(
    cluster: &ClusterSettings,
    admin: &AdminSettings,
    tls: &TlsSettings,
) -> Vec<String> {
    let mut problems = Vec::new();
    one_of(
        &mut problems,
        ("admin.token", admin.token.as_ref()),
        ("admin.token_file", admin.token_file.as_ref()),
    );
    one_of(
        &mut problems,
        ("cluster.secret", cluster.secret.as_ref()),
        ("cluster.secret_file", cluster.secret_file.as_ref()),
    );
    problems.extend(tls_problems(cluster, tls));
    let listen = &cluster.listen;
    if is_loopback(listen) {
        return problems;
    }
    let mtls = tls.client_certs == ClientCerts::Required;
    let has_token = admin.token.is_some() || admin.token_file.is_some();
    if !has_token && !mtls {
        problems.push(format!(
            "admin.token or admin.token_file is required when cluster.listen {listen:?} is not a loopback address; \
             the admin API would be open to the network (or set tls.client_certs = \"required\")"
        ));
    }
    let has_secret = cluster.secret.is_some() || cluster.secret_file.is_some();
    if cluster.is_multi_node() && !has_secret && !mtls {
        problems.push(format!(
            "cluster.secret or cluster.secret_file is required in a farm of several nodes when cluster.listen {listen:?} \
             is not a loopback address; without it anyone who reaches the port could join the farm or append to its log \
             (or set tls.client_certs = \"required\")"
        ));
    }
    problems
}

/// At most one of a secret given inline and its file; the inline value valid.
fn one_of(
    problems: &mut Vec<String>,
    inline: (&str, Option<&Secret>),
    file: (&str, Option<&PathBuf>),
) {
    if let (Some(_), Some(_)) = (inline.1, file.1) {
        problems.push(format!(
            "{}: give {} or {}, not both",
            inline.0, inline.0, file.0
        ));
    }
    if let Some(problem) = inline.1.and_then(|v| v.problem(inline.0)) {
        problems.push(problem);
    }
    if file.1.is_some_and(|p| p.as_os_str().is_empty()) {
        problems.push(format!("{}: must not be empty", file.0));
    }
}

fn tls_problems(cluster: &ClusterSettings, tls: &TlsSettings) -> Vec<String> {
    let mut problems = Vec::new();
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), None) => problems.push(format!(
            "tls.key_file: required with tls.cert_file {cert:?} (its private key)"
        )),
        (None, Some(key)) => problems.push(format!(
            "tls.cert_file: required with tls.key_file {key:?} (the certificate of that key)"
        )),
        _ => {}
    }
    let empty = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| p.as_os_str().is_empty());
    for (key, path) in [
        ("tls.cert_file", &tls.cert_file),
        ("tls.key_file", &tls.key_file),
        ("tls.ca_file", &tls.ca_file),
    ] {
        if empty(path) {
            problems.push(format!("{key}: must not be empty"));
        }
    }
    let on = tls.enabled();
    if tls.client_certs != ClientCerts::None {
        if !on {
            problems.push(format!(
                "tls.client_certs: {:?} needs TLS on (tls.cert_file and tls.key_file)",
                tls.client_certs.name()
            ));
        }
        if tls.ca_file.is_none() {
            problems.push(format!(
                "tls.client_certs: {:?} needs tls.ca_file (the CA that signs client certificates)",
                tls.client_certs.name()
            ));
        }
    }
    if let (Some(ca), false) = (&tls.ca_file, on) {
        problems.push(format!(
            "tls.ca_file: {ca:?} is set but TLS is off; set tls.cert_file and tls.key_file too"
        ));
    }
    if on && cluster.is_multi_node() && tls.ca_file.is_none() {
        problems.push(
            "tls.ca_file: required with TLS in a farm of several nodes (nodes verify each other's certificates with it)"
                .to_string(),
        );
    }
    problems
}

#[cfg(test)]
#[path = "security_test.rs"]
mod tests;

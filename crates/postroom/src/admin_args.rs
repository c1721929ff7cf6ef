//! What every admin command shares: which node to ask and with which
//! credentials (`--server`, `--token`, `--token-file`, TLS with `--ca-file`
//! and a client certificate with `--cert-file` / `--key-file`, or their
//! `POSTROOM_*` variables), the small runtime it runs on, and the exit codes
//! scripts can rely on.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use postroom_api::{ClientTls, Credentials};

/// Exit status of a command that worked but found something wrong (a member
/// not ready).
pub const EXIT_FOUND: u8 = 1;
/// Exit status of any other failure (bad flags, a config file, an unexpected error).
pub const EXIT_ERROR: u8 = 2;
/// The farm could not be asked now (no connection, no quorum, stopping): retry, or ask another node.
pub const EXIT_UNAVAILABLE: u8 = 3;
/// The farm refused the request (invalid, not found, already exists, version conflict).
pub const EXIT_REFUSED: u8 = 4;
/// The credentials were missing or wrong.
pub const EXIT_UNAUTHENTICATED: u8 = 5;

/// The exit status for a failed command, and a hint of what to do.
pub fn failure(e: &anyhow::Error) -> (u8, Option<&'static str>) {
    use postroom_api::ApiError;
    use tonic::Code;
    let Some(api) = e.chain().find_map(|c| c.downcast_ref::<ApiError>()) else {
        return (EXIT_ERROR, None);
    };
    match api {
        ApiError::Connect { .. } | ApiError::Timeout { .. } => (
            EXIT_UNAVAILABLE,
            Some("is the node running, and is --server its cluster.listen address?"),
        ),
        ApiError::Call { code, .. } => match code {
            Code::Unavailable | Code::DeadlineExceeded => (
                EXIT_UNAVAILABLE,
                Some("the node may lack a quorum or be stopping: retry, ask another node with --server, or read with --local"),
            ),
            Code::Unauthenticated | Code::PermissionDenied => (
                EXIT_UNAUTHENTICATED,
                Some("pass the farm's admin token with --token or --token-file (or POSTROOM_TOKEN)"),
            ),
            Code::Aborted => (
                EXIT_REFUSED,
                Some("someone changed the farm configuration meanwhile: read it again and retry"),
            ),
            Code::InvalidArgument
            | Code::AlreadyExists
            | Code::NotFound
            | Code::FailedPrecondition
            | Code::OutOfRange => (EXIT_REFUSED, None),
            _ => (EXIT_ERROR, None),
        },
        _ => (EXIT_ERROR, None),
    }
}

/// Which node to ask, and how to prove who we are.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    /// `host:port` (or `http://host:port`, `https://host:port`) of any
    /// node's gRPC endpoint (its `cluster.listen`); `host:port` is dialled
    /// with TLS when --ca-file is given.
    #[arg(long, env = "POSTROOM_SERVER", default_value = "127.0.0.1:7700")]
    pub server: String,
    /// The admin API's bearer token (`admin.token` of the nodes).
    #[arg(
        long,
        env = "POSTROOM_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the bearer token (e.g. a mounted Kubernetes secret).
    #[arg(long, env = "POSTROOM_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM CA certificate that signed the nodes' certificates (turns TLS on).
    #[arg(long, env = "POSTROOM_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for nodes that require one (`tls.client_certs`).
    #[arg(long, env = "POSTROOM_CERT_FILE", requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of --cert-file.
    #[arg(long, env = "POSTROOM_KEY_FILE", requires = "cert_file")]
    pub key_file: Option<PathBuf>,
    /// The name the node's certificate must carry, when not the host of --server.
    #[arg(long, env = "POSTROOM_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
}

impl ServerArgs {
    /// The credentials to present: the token given, or read from its file.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--token-file {}: cannot read it", path.display()))?;
                let token = text.trim().to_string();
                if token.is_empty() {
                    bail!("--token-file {}: the file is empty", path.display());
                }
                Some(token)
            }
            (None, None) => None,
        };
        Ok(Credentials {
            token,
            actor: Some(actor()),
            tls: self.tls()?,
        })
    }

    /// A connection to the node, with the credentials on every call.
    pub async fn channel(&self) -> anyhow::Result<postroom_api::AdminChannel> {
        Ok(postroom_api::connect_channel(&self.server, &self.credentials()?).await?)
    }

    /// TLS options, when any TLS flag is given.
    fn tls(&self) -> anyhow::Result<Option<ClientTls>> {
        if self.ca_file.is_none() && self.cert_file.is_none() && self.tls_server_name.is_none() {
            return Ok(None);
        }
        let read = |flag: &str, path: &PathBuf| {
            std::fs::read(path)
                .with_context(|| format!("{flag} {}: cannot read it", path.display()))
        };
        let ca_pem = self
            .ca_file
            .as_ref()
            .map(|p| read("--ca-file", p))
            .transpose()?;
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some((read("--cert-file", cert)?, read("--key-file", key)?)),
            _ => None,
        };
        Ok(Some(ClientTls {
            ca_pem,
            identity,
            domain: self.tls_server_name.clone(),
        }))
    }
}

/// `user@host` of whoever runs the command, for the config history.
fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// A small single-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Exit status 0, or [`EXIT_FOUND`] when `ok` is false.
pub fn exit_found(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND)
    }
}

/// Print `value` as pretty JSON on standard output.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC (`-` for 0).
pub fn time_text(ms: u64) -> String {
    if ms == 0 {
        return "-".to_string();
    }
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

//! The crate's one error type: what can stop the SMTP listener from
//! starting (protocol problems are replies, not errors), and what can stop
//! the client from handing a notice to a smarthost.

use std::path::PathBuf;

/// Why the SMTP front door cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot use the spool folder {dir}: {source}")]
    Spool {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("tls file {path}: {reason}")]
    TlsFile { path: PathBuf, reason: String },
    #[error("tls setup failed: {reason}")]
    Tls { reason: String },
    /// The smarthost could not be reached, or refused a step.
    #[error("smarthost {server}: {step}: {detail}")]
    Client {
        server: String,
        step: &'static str,
        detail: String,
    },
}

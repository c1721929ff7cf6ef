//! The crate's error type [`ApiError`] (what the CLI side can meet: a bad
//! server address, no connection, no answer, a refused call) and the single
//! mapping of the farm's `ClusterError` to a gRPC [`tonic::Status`].

use postroom_cluster::ClusterError;
use tonic::{Code, Status};

/// What can go wrong while talking to a node's admin service.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server is not `host:port`, `http://host:port` or `https://host:port`.
    #[error("invalid server address {server:?}: {detail}")]
    InvalidServer { server: String, detail: String },

    /// The token cannot be sent.
    #[error("invalid token: {detail}")]
    InvalidToken { detail: String },

    /// TLS cannot be set up for the server (a bad CA or client certificate).
    #[error("cannot use TLS with {server}: {detail}")]
    Tls { server: String, detail: String },

    /// No connection could be made.
    #[error("cannot connect to {server}: {detail}")]
    Connect { server: String, detail: String },

    /// The server did not answer in time.
    #[error("no answer from {server} within {waited_ms} ms")]
    Timeout { server: String, waited_ms: u64 },

    /// The server answered the call with an error status.
    #[error("{server} refused {call} ({code:?}): {message}")]
    Call {
        server: String,
        call: &'static str,
        code: Code,
        message: String,
    },
}

impl ApiError {
    pub(crate) fn call(server: &str, call: &'static str, status: &Status) -> ApiError {
        let mut message = status.message().to_string();
        // A transport failure says little at the top (`operation was
        // canceled`); its causes name e.g. the TLS alert.
        if let Some(cause) = std::error::Error::source(status) {
            let detail = chain(cause);
            if !message.contains(&detail) {
                message = format!("{message}: {detail}");
            }
        }
        if closed_by_peer(&message) {
            message.push_str(TLS_HINT);
        }
        ApiError::Call {
            server: server.to_string(),
            call,
            code: status.code(),
            message,
        }
    }
}

/// What a connection the node closed at once most likely means.
pub(crate) const TLS_HINT: &str = " (the node closed the connection; if it serves TLS, use https:// or --ca-file; if it requires client certificates (TLS), pass --cert-file and --key-file)";

/// Whether a transport failure reads like the node closing the connection
/// during or right after the handshake (a TLS mismatch or a refused client).
pub(crate) fn closed_by_peer(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    [
        "connection closed",
        "connection reset",
        "broken pipe",
        "unexpected eof",
        "alert",
        "frame with invalid size",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The gRPC status for a farm error: UNAVAILABLE when another attempt (or
/// another node) may succeed, INVALID_ARGUMENT for a bad value given,
/// FAILED_PRECONDITION when the farm refused, INTERNAL for everything that
/// points at this node itself. The message is the error's own sentence.
pub fn status_from(e: &ClusterError) -> Status {
    let code = match e {
        ClusterError::NotLeader { .. }
        | ClusterError::NoLeader { .. }
        | ClusterError::NoQuorum { .. }
        | ClusterError::NotAppliedHere { .. }
        | ClusterError::Unreachable { .. }
        | ClusterError::Stopped { .. } => Code::Unavailable,
        ClusterError::Config { .. } | ClusterError::Address { .. } => Code::InvalidArgument,
        ClusterError::Tls { .. } => Code::FailedPrecondition,
        ClusterError::Remote { .. } | ClusterError::Raft { .. } => Code::FailedPrecondition,
        ClusterError::OpenStorage { .. }
        | ClusterError::Storage { .. }
        | ClusterError::NodeIdMismatch { .. }
        | ClusterError::Encode { .. }
        | ClusterError::Decode { .. }
        | ClusterError::NoResponse { .. } => Code::Internal,
    };
    Status::new(code, e.to_string())
}

/// The detail of an error with its chain of causes (tonic's transport
/// errors say little at the top level).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cluster_error_has_its_code_and_message() {
        let cases = [
            (
                ClusterError::NotLeader { leader: Some(2) },
                Code::Unavailable,
            ),
            (ClusterError::NoLeader { waited_ms: 10 }, Code::Unavailable),
            (
                ClusterError::Unreachable {
                    node: 2,
                    address: "h:1".into(),
                    detail: "refused".into(),
                },
                Code::Unavailable,
            ),
            (
                ClusterError::Stopped {
                    action: "x".into(),
                    detail: "y".into(),
                },
                Code::Unavailable,
            ),
            (
                ClusterError::Config {
                    snapshot_every: 0,
                    detail: "d".into(),
                },
                Code::InvalidArgument,
            ),
            (
                ClusterError::Address {
                    addr: "nope".into(),
                    detail: "d".into(),
                },
                Code::InvalidArgument,
            ),
            (
                ClusterError::Remote {
                    node: 1,
                    detail: "only voter".into(),
                },
                Code::FailedPrecondition,
            ),
            (
                ClusterError::Raft {
                    action: "a".into(),
                    detail: "d".into(),
                },
                Code::FailedPrecondition,
            ),
            (
                ClusterError::OpenStorage {
                    path: "/p".into(),
                    detail: "d".into(),
                },
                Code::Internal,
            ),
            (
                ClusterError::Storage {
                    action: "a".into(),
                    detail: "d".into(),
                },
                Code::Internal,
            ),
            (
                ClusterError::NodeIdMismatch {
                    dir: "/p".into(),
                    stored: 1,
                    given: 2,
                },
                Code::Internal,
            ),
            (
                ClusterError::Encode {
                    what: "w".into(),
                    detail: "d".into(),
                },
                Code::Internal,
            ),
            (
                ClusterError::Decode {
                    what: "w".into(),
                    detail: "d".into(),
                },
                Code::Internal,
            ),
            (ClusterError::NoResponse { index: 4 }, Code::Internal),
            (
                ClusterError::Tls {
                    addr: "h:1".into(),
                    detail: "bad pem".into(),
                },
                Code::FailedPrecondition,
            ),
        ];
        for (e, code) in cases {
            let status = status_from(&e);
            assert_eq!(status.code(), code, "{e}");
            assert_eq!(status.message(), e.to_string());
        }
    }

    #[test]
    fn call_errors_name_the_server_and_the_call() {
        let e = ApiError::call(
            "h:1",
            "status",
            &Status::unavailable("no leader known after waiting 5 ms"),
        );
        assert_eq!(
            e.to_string(),
            "h:1 refused status (Unavailable): no leader known after waiting 5 ms"
        );
    }
}

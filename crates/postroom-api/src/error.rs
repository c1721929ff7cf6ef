//! The crate's error type [`ApiError`] (what the CLI side can meet: a bad
//! server address, no connection, no answer, a refused call) and the single
//! mapping of the farm's `ClusterError` to a gRPC [`tonic::Status`].

use postroom_cluster::ClusterError;
use tonic::{Code, Status};

/// What can go wrong in the admin API: on the serving side (a request the
/// farm refuses, mapped to a gRPC status by [`status_of`]) and on the client
/// side (a bad server address, no connection, no answer, a refused call).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is wrong; `field` names it as the request does.
    #[error("{field}: {detail}")]
    InvalidArgument { field: String, detail: String },

    /// The resulting farm configuration breaks its rules (each problem names
    /// its config key and value).
    #[error("the farm configuration would be invalid: {}", problems.join("; "))]
    InvalidConfig { problems: Vec<String> },

    /// An alias or name is taken.
    #[error("{what} is already used by library {holder:?}")]
    AlreadyExists { what: String, holder: String },

    /// No such library, message or quarantine entry.
    #[error("{what}")]
    NotFound { what: String },

    /// A write for a version that is no longer current.
    #[error(
        "the farm configuration changed: it is at version {current}, not {expected}; \
         read it again and retry"
    )]
    Conflict { expected: u64, current: u64 },

    /// The change cannot apply to this farm as it is.
    #[error("{detail}")]
    FailedPrecondition { detail: String },

    /// This node cannot do it now (starting, stopping).
    #[error("{detail}")]
    Unavailable { detail: String },

    /// The client gave up (a stream that broke off).
    #[error("{detail}")]
    Cancelled { detail: String },

    /// Something that should not happen here (a bug to report).
    #[error("{detail}")]
    Internal { detail: String },

    /// The farm (Raft) refused or failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),

    /// A file or folder of the farm could not be read or written.
    #[error("{action} {path}: {detail}")]
    Storage {
        action: String,
        path: String,
        detail: String,
    },

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
    /// A request field is wrong.
    pub(crate) fn invalid(field: &str, detail: String) -> ApiError {
        ApiError::InvalidArgument {
            field: field.to_string(),
            detail,
        }
    }

    /// A call that `server` refused with `status`.
    pub fn call(server: &str, call: &'static str, status: &Status) -> ApiError {
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

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        status_of(&e)
    }
}

/// The gRPC status for an admin API error: the one place codes are chosen.
pub fn status_of(e: &ApiError) -> Status {
    let code = match e {
        ApiError::Cluster(inner) => return status_from(inner),
        ApiError::InvalidArgument { .. }
        | ApiError::InvalidConfig { .. }
        | ApiError::InvalidServer { .. }
        | ApiError::InvalidToken { .. }
        | ApiError::Tls { .. } => Code::InvalidArgument,
        ApiError::AlreadyExists { .. } => Code::AlreadyExists,
        ApiError::NotFound { .. } => Code::NotFound,
        ApiError::Conflict { .. } => Code::Aborted,
        ApiError::FailedPrecondition { .. } => Code::FailedPrecondition,
        ApiError::Unavailable { .. } | ApiError::Connect { .. } | ApiError::Timeout { .. } => {
            Code::Unavailable
        }
        ApiError::Call { code, .. } => *code,
        ApiError::Cancelled { .. } => Code::Cancelled,
        ApiError::Storage { .. } | ApiError::Internal { .. } => Code::Internal,
    };
    Status::new(code, e.to_string())
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
    fn admin_errors_have_their_codes_and_name_what_is_wrong() {
        let cases = [
            (
                ApiError::InvalidArgument {
                    field: "library.kind".into(),
                    detail: "\"wiki\" is not one of document_library".into(),
                },
                Code::InvalidArgument,
                "library.kind: \"wiki\" is not one of document_library",
            ),
            (
                ApiError::AlreadyExists {
                    what: "alias \"docs\"".into(),
                    holder: "Shared Documents".into(),
                },
                Code::AlreadyExists,
                "alias \"docs\" is already used by library \"Shared Documents\"",
            ),
            (
                ApiError::Conflict {
                    expected: 3,
                    current: 4,
                },
                Code::Aborted,
                "the farm configuration changed: it is at version 4, not 3; read it again and retry",
            ),
            (
                ApiError::NotFound {
                    what: "no library has the alias \"x\"".into(),
                },
                Code::NotFound,
                "no library has the alias \"x\"",
            ),
            (
                ApiError::Cluster(ClusterError::NoLeader { waited_ms: 10 }),
                Code::Unavailable,
                "no leader known after waiting 10 ms",
            ),
        ];
        for (e, code, message) in cases {
            let status = Status::from(e);
            assert_eq!((status.code(), status.message()), (code, message));
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

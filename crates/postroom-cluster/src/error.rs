//! The crate's single error type, [`ClusterError`]: storage, encoding,
//! configuration and Raft failures, each message naming the offending value.

use std::path::PathBuf;

/// Everything that can go wrong while storing or replicating the farm state.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The sled database could not be opened.
    #[error("cannot open raft storage at {path}: {detail}")]
    OpenStorage { path: PathBuf, detail: String },

    /// A read or write of the storage backend failed.
    #[error("raft storage failed while {action}: {detail}")]
    Storage { action: String, detail: String },

    /// The data directory was created by another node.
    #[error("data directory {dir} belongs to node {stored}, not node {given}")]
    NodeIdMismatch {
        dir: PathBuf,
        stored: u64,
        given: u64,
    },

    /// A value could not be encoded for storage or the wire.
    #[error("cannot encode {what}: {detail}")]
    Encode { what: String, detail: String },

    /// Stored or received bytes could not be decoded.
    #[error("cannot decode {what}: {detail}")]
    Decode { what: String, detail: String },

    /// The Raft configuration derived from the options is invalid.
    #[error("invalid raft config (snapshot_every {snapshot_every}): {detail}")]
    Config { snapshot_every: u64, detail: String },

    /// A node address cannot be used as a gRPC endpoint.
    #[error("invalid node address {addr:?}: {detail}")]
    Address { addr: String, detail: String },

    /// TLS or the peer secret cannot be set up for a peer's endpoint.
    #[error("cannot secure the connection to {addr}: {detail}")]
    Tls { addr: String, detail: String },

    /// Writes must go to the leader; `leader` is the one this node knows of.
    #[error("this node is not the leader (known leader: {})", leader.map_or("none".to_string(), |l| l.to_string()))]
    NotLeader { leader: Option<u64> },

    /// The leader could not be reached to forward an operation.
    #[error("cannot reach node {node} at {address}: {detail}")]
    Unreachable {
        node: u64,
        address: String,
        detail: String,
    },

    /// The leader refused or failed a forwarded operation.
    #[error("node {node} answered: {detail}")]
    Remote { node: u64, detail: String },

    /// The leader could not confirm it still leads a quorum (it is cut off).
    #[error("no quorum: {detail}")]
    NoQuorum { detail: String },

    /// The leader applied a proposal, but this node did not catch up in time.
    #[error("log entry {index} was committed but not applied on this node within {waited_ms} ms")]
    NotAppliedHere { index: u64, waited_ms: u64 },

    /// No leader became known in time.
    #[error("no leader known after waiting {waited_ms} ms")]
    NoLeader { waited_ms: u64 },

    /// An entry was applied but produced no state machine response.
    #[error("log entry {index} was applied without a response")]
    NoResponse { index: u64 },

    /// Raft refused or failed an operation (membership change, initialization, ...).
    #[error("raft {action} failed: {detail}")]
    Raft { action: String, detail: String },

    /// The Raft node has stopped (after shutdown or a storage failure).
    #[error("raft node stopped during {action}: {detail}")]
    Stopped { action: String, detail: String },
}

impl ClusterError {
    pub(crate) fn storage(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        ClusterError::Storage {
            action: action.into(),
            detail: err.to_string(),
        }
    }

    pub(crate) fn encode(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        ClusterError::Encode {
            what: what.into(),
            detail: err.to_string(),
        }
    }

    pub(crate) fn decode(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        ClusterError::Decode {
            what: what.into(),
            detail: err.to_string(),
        }
    }

    pub(crate) fn unexpected(action: &str, got: &impl std::fmt::Debug) -> Self {
        ClusterError::Raft {
            action: action.to_string(),
            detail: format!("unexpected answer {got:?}"),
        }
    }

    pub(crate) fn raft(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        ClusterError::Raft {
            action: action.into(),
            detail: err.to_string(),
        }
    }
}

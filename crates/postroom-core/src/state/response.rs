//! What the state machine answers: to a proposal ([`Response`]), and per
//! key to a claim, a finish and a release.

use serde::{Deserialize, Serialize};

use super::{FencingToken, NodeId, Outcome, Timestamp};

/// The state machine's answer to one proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    ConfigSet {
        version: u64,
        changed: bool,
    },
    ConfigRefused {
        problems: Vec<String>,
    },
    /// `expected_version` was given and is not the current version.
    ConfigConflict {
        expected: u64,
        current: u64,
    },
    Claims(Vec<ClaimResult>),
    Renewals(Vec<bool>),
    Finishes(Vec<FinishResult>),
    Releases(Vec<ReleaseResult>),
}

/// Result of releasing one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseResult {
    /// The quarantined key was forgotten.
    Released,
    /// The ledger does not have the key (never finished, or expired).
    Absent,
    /// A node holds (or held, and may still finish) a claim on the key.
    Claimed { node: NodeId },
    /// The key ended otherwise (e.g. delivered); it stays in the ledger.
    Kept { outcome: Outcome },
}

/// Result of claiming one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimResult {
    /// The caller holds the key until `until` and must finish with `token`.
    Granted {
        token: FencingToken,
        until: Timestamp,
    },
    /// Another node holds a live lease.
    Held { by: NodeId, until: Timestamp },
    /// The ledger already has this key: a duplicate.
    Finished { outcome: Outcome },
}

/// Result of finishing one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishResult {
    Recorded,
    /// The token is not the key's current one (the lease was lost to a newer claim).
    Stale {
        current: Option<FencingToken>,
    },
    /// Someone already finished this key.
    AlreadyFinished,
}

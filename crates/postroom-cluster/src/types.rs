//! The openraft type configuration of a postroom farm: log entries carry a
//! [`postroom_core::Proposal`], applying one yields an optional
//! [`postroom_core::Response`], nodes are `u64` ids with their gRPC address.

use std::io::Cursor;

use postroom_core::{Proposal, Response};

openraft::declare_raft_types!(
    /// Type configuration of the farm's Raft group.
    pub TypeConfig:
        D = Proposal,
        // `None` for entries that carry no proposal (blank and membership entries).
        R = Option<Response>,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Raft node id.
pub type RaftNodeId = u64;
/// A log entry of the farm.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of the farm.
pub type LogId = openraft::LogId<RaftNodeId>;
/// A vote of the farm.
pub type Vote = openraft::Vote<RaftNodeId>;
/// Membership as stored with its log id.
pub type StoredMembership = openraft::StoredMembership<RaftNodeId, openraft::BasicNode>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<RaftNodeId, openraft::BasicNode>;
/// Storage error as openraft wants it.
pub type StorageError = openraft::StorageError<RaftNodeId>;
/// The running Raft node.
pub type FarmRaft = openraft::Raft<TypeConfig>;

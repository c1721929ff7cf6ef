//! postroom-cluster: replication of the farm state.
//!
//! Owns the openraft type configuration ([`TypeConfig`]), the Raft log and
//! state machine storage over a narrow backend trait ([`RaftBackend`], with
//! the sled implementation [`SledBackend`]), the tonic Raft transport
//! (`proto/postroom/raft/v1/raft.proto`) with its authentication (the
//! farm's shared secret, TLS; [`PeerSecurity`]) and the [`Farm`] handle the binary
//! uses. No business rules live here: applying a log entry is
//! `postroom_core::FarmState::apply`.

mod backend;
mod error;
mod farm;
mod leader;
mod log_store;
mod network;
mod payload_limit;
mod security;
mod service;
mod state_machine;
mod types;

/// Generated gRPC code of the Raft transport (`postroom.raft.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("postroom.raft.v1");
}

pub use backend::{RaftBackend, SledBackend};
pub use error::ClusterError;
pub use farm::{Farm, FarmOptions, FarmStatus, Role};
pub use leader::MembershipChange;
pub use security::{endpoint, ClientTls, PeerAuth, PeerSecurity, PEER_SECRET_HEADER};
pub use service::RaftService;
pub use types::TypeConfig;

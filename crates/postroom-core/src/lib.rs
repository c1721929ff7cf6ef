//! postroom-core: the pure heart of postroom.
//!
//! Domain types (message keys, timestamps, node ids), the farm configuration
//! model and its validation, recipient → library routing, and the
//! claim / lease / ledger state machine that the Raft log replicates.
//! Nothing here touches tokio, files, sockets or clocks: time comes in as a
//! [`Timestamp`] inside each command.

pub mod address;
pub mod calendar;
pub mod cluster;
pub mod config;
pub mod config_diff;
pub mod content;
pub mod discussion;
pub mod dns;
mod error;
pub mod folders;
pub mod groups;
mod headers;
pub mod key;
pub mod library;
pub mod list_item;
pub mod names;
pub mod net;
pub mod policy;
pub mod route;
pub mod security;
pub mod sender_auth;
pub mod smtp;
pub mod state;
pub mod units;

pub use error::CoreError;
pub use headers::MessageHeaders;
pub use key::{MessageKey, MessageKeyBuilder};
pub use state::{
    ClaimResult, Command, FarmState, FencingToken, FinishResult, Finished, MessageAbout, NodeId,
    Outcome, Proposal, ReleaseResult, Response, Timestamp,
};

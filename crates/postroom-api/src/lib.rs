//! postroom-api: the node's admin surface and its client side.
//!
//! Owns who may call the admin services ([`AdminAuth`]: bearer token or
//! client certificate), the gRPC cluster-admin service (`proto/postroom/admin/v1/cluster.proto`:
//! status, add and remove members, the farm config read linearizably), the readiness rules and the monitor that
//! publishes them (to the `grpc.health.v1` service and to HTTP `/readyz`),
//! the plain HTTP health endpoint, the one mapping of
//! `postroom_cluster::ClusterError` to `tonic::Status`, and what the CLI
//! needs to talk to a farm (connecting, asking every member for its status,
//! tables and JSON).

mod auth;
mod client;
mod config;
mod convert;
mod error;
mod farm_service;
mod format;
mod http;
mod items_view;
mod join;
mod library_service;
mod message_report;
mod message_service;
mod readiness;
mod reflection;
mod service;
mod submit;
mod write;

/// Generated gRPC code of the cluster-admin service (`postroom.admin.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("postroom.admin.v1");

    /// The encoded descriptors of every admin service, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/admin_descriptor.bin"));
}

pub use auth::{AdminAuth, MISSING_CERTIFICATE, MISSING_TOKEN, WRONG_TOKEN};
pub use client::{
    add_member, connect, connect_channel, farm_config, farm_status, remove_member, AdminChannel,
    Credentials, CALL_TIMEOUT,
};
pub use config::{config_toml, parse_farm_config};
pub use error::{status_from, status_of, ApiError};
pub use farm_service::{farm_admin_service, FarmAdminService};
pub use format::{membership_json, membership_table, render, status_json, status_table};
pub use http::serve_http;
pub use library_service::{library_admin_service, LibraryAdminService};
pub use message_service::{message_admin_service, MessageAdminService};
pub use postroom_cluster::ClientTls;
pub use readiness::{
    readiness, spawn_readiness_monitor, NodeProbe, NodeReport, Readiness, QUORUM_ACK_LIMIT_MS,
};
pub use reflection::reflection_services;
pub use service::{cluster_admin_service, ClusterAdminService, ADMIN_SERVICE_NAME};
pub use submit::NodeIntake;
pub use write::ACTOR_HEADER;

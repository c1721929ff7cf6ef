//! Helpers shared by the integration tests: options, message keys,
//! one-line wrappers around claim / finish proposals, and nodes serving the
//! Raft service over gRPC on 127.0.0.1.

#![allow(dead_code)]

use std::path::Path;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

use postroom_cluster::{Farm, FarmOptions};
use postroom_core::config::ConfigFile;
use postroom_core::{ClaimResult, Command, FencingToken, Finished, MessageKey, Outcome, Response};

pub fn options(node_id: u64, addr: &str, dir: &Path, snapshot_every: u64) -> FarmOptions {
    FarmOptions {
        node_id,
        advertise_addr: addr.to_string(),
        dir: dir.to_path_buf(),
        snapshot_every,
        formation: postroom_core::cluster::Formation::Single,
        local_ip: None,
        security: postroom_cluster::PeerSecurity::default(),
    }
}

pub fn key(n: u64) -> MessageKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[31] = 0x5a;
    MessageKey::from_bytes(bytes)
}

pub fn set_config() -> Command {
    Command::SetConfig {
        config: Box::new(ConfigFile::embedded_defaults().farm_config()),
        by: "test".to_string(),
        expected_version: None,
        file_digest: None,
    }
}

pub async fn claim(farm: &Farm, node: u64, keys: Vec<MessageKey>) -> Vec<ClaimResult> {
    match farm
        .propose(Command::Claim {
            keys,
            node,
            ttl_ms: 30_000,
        })
        .await
        .unwrap()
    {
        Response::Claims(results) => results,
        other => panic!("unexpected response {other:?}"),
    }
}

pub fn token(result: &ClaimResult) -> FencingToken {
    match result {
        ClaimResult::Granted { token, .. } => *token,
        other => panic!("not granted: {other:?}"),
    }
}

pub fn delivered() -> Outcome {
    Outcome::Delivered {
        libraries: vec!["documents".to_string()],
    }
}

pub async fn finish(farm: &Farm, key: MessageKey, token: FencingToken) -> Response {
    let items = vec![Finished {
        key,
        token,
        outcome: delivered(),
        about: None,
    }];
    farm.propose(Command::Finish { items }).await.unwrap()
}

/// A node whose gRPC server serves the Raft service.
pub struct Node {
    pub farm: Farm,
    pub addr: String,
    pub server: JoinHandle<()>,
}

pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

pub fn serve(farm: &Farm, listener: TcpListener) -> JoinHandle<()> {
    let service = farm.raft_service();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    })
}

pub async fn start_member(id: u64, dir: &Path, snapshot_every: u64) -> Node {
    let (listener, addr) = listen().await;
    let farm = Farm::open_member(options(id, &addr, dir, snapshot_every))
        .await
        .unwrap();
    let server = serve(&farm, listener);
    Node { farm, addr, server }
}

pub async fn stop(node: Node) {
    node.farm.shutdown().await.unwrap();
    node.server.abort();
}

//! Farm nodes in one process, each serving the Raft transport, the
//! cluster-admin service and gRPC health on one 127.0.0.1 port and
//! `/healthz` + `/readyz` on another, with a fake node probe: status,
//! membership changes and their errors through the generated client, HTTP
//! through a raw TCP exchange, and the farm view with a member gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postroom_api::proto::{AddMemberRequest, RemoveMemberRequest, StatusRequest};
use postroom_api::{
    add_member, cluster_admin_service, connect, farm_status, remove_member, serve_http,
    spawn_readiness_monitor, status_table, Credentials, NodeProbe, NodeReport, Readiness,
};
use postroom_cluster::{Farm, FarmOptions, MembershipChange};
use postroom_core::cluster::Formation;
use postroom_core::config::ConfigFile;
use postroom_core::{Command, MessageKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const WAIT: Duration = Duration::from_secs(10);

/// The binary's side, set by the test.
struct FakeProbe {
    report: Mutex<NodeReport>,
}

impl NodeProbe for FakeProbe {
    fn report(&self) -> NodeReport {
        self.report.lock().unwrap().clone()
    }
}

impl FakeProbe {
    fn set_drop_folder_error(&self, error: Option<&str>) {
        self.report.lock().unwrap().drop_folder_error = error.map(str::to_string);
    }
}

struct Node {
    farm: Farm,
    addr: String,
    http: String,
    probe: Arc<FakeProbe>,
    readiness: watch::Receiver<Readiness>,
    shutdown: CancellationToken,
    grpc: JoinHandle<()>,
    http_task: JoinHandle<()>,
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

async fn start(id: u64, dir: &Path, formation: Formation) -> Node {
    let (listener, addr) = bind().await;
    let farm = Farm::open(FarmOptions {
        node_id: id,
        advertise_addr: addr.clone(),
        dir: dir.to_path_buf(),
        snapshot_every: 1_000,
        formation,
        local_ip: None,
        security: postroom_cluster::PeerSecurity::default(),
    })
    .await
    .unwrap();
    let probe = Arc::new(FakeProbe {
        report: Mutex::new(NodeReport {
            drop_folder: format!("/srv/drop-{id}"),
            drop_folder_backlog: id * 10,
            drop_folder_error: None,
            smtp_listen: Some(format!("127.0.0.1:25{id}")),
            smtp_listening: true,
            stopping: false,
        }),
    });
    let dyn_probe: Arc<dyn NodeProbe> = probe.clone();
    let (health, health_service) = tonic_health::server::health_reporter();
    let shutdown = CancellationToken::new();
    let readiness = spawn_readiness_monitor(
        farm.clone(),
        dyn_probe.clone(),
        health,
        Duration::from_millis(50),
        shutdown.clone(),
    );
    let server = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(farm.raft_service())
        .add_service(cluster_admin_service(
            farm.clone(),
            dyn_probe,
            Credentials::default(),
        ))
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            shutdown.clone().cancelled_owned(),
        );
    let grpc = tokio::spawn(async move { server.await.unwrap() });
    let (http_listener, http) = bind().await;
    let http_task = tokio::spawn(serve_http(
        http_listener,
        readiness.clone(),
        shutdown.clone(),
    ));
    let http_task = tokio::spawn(async move { http_task.await.unwrap().unwrap() });
    Node {
        farm,
        addr,
        http,
        probe,
        readiness,
        shutdown,
        grpc,
        http_task,
    }
}

async fn stop(node: Node) {
    node.farm.shutdown().await.unwrap();
    node.shutdown.cancel();
    tokio::time::timeout(WAIT, node.grpc)
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(WAIT, node.http_task)
        .await
        .unwrap()
        .unwrap();
}

/// Poll `check` until it answers `Some`, for at most [`WAIT`].
async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ready(node: &Node) {
    let mut rx = node.readiness.clone();
    tokio::time::timeout(WAIT, rx.wait_for(|r| r.ready))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "node {} not ready: {:?}",
                node.farm.node_id(),
                node.readiness.borrow()
            )
        })
        .unwrap();
}

/// One HTTP/1.1 exchange on a fresh connection: (status code, body).
async fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

async fn health_of(addr: &str, service: &str) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

fn key(n: u8) -> MessageKey {
    MessageKey::from_bytes([n; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_service_reports_adds_and_removes_members() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n1 = start(1, d1.path(), Formation::Single).await;
    let n2 = start(2, d2.path(), Formation::Join).await;
    ready(&n1).await;

    n1.farm
        .propose(Command::SetConfig {
            config: Box::new(shared_config()),
            by: "test".to_string(),
            expected_version: None,
            file_digest: None,
        })
        .await
        .unwrap();
    n1.farm
        .propose(Command::Claim {
            keys: vec![key(1), key(2)],
            node: 1,
            ttl_ms: 60_000,
        })
        .await
        .unwrap();

    // A farm of one: the leader's own view.
    let mut c1 = connect(&n1.addr, &Credentials::default()).await.unwrap();
    let s1 = c1.status(StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(
        (s1.node_id, s1.role.as_str(), s1.leader),
        (1, "leader", Some(1))
    );
    assert_eq!(s1.address, n1.addr);
    assert_eq!(s1.members.len(), 1);
    assert!(s1.members[0].voter);
    assert_eq!((s1.claims_held, s1.claims_in_flight_total), (2, 2));
    assert_eq!(s1.config_version, 1);
    assert_eq!(
        (s1.drop_folder.as_str(), s1.drop_folder_backlog),
        ("/srv/drop-1", 10)
    );
    assert_eq!(s1.smtp_listen, "127.0.0.1:251");
    assert!(s1.ready, "{:?}", s1.not_ready_reasons);
    assert!(s1.millis_since_quorum_ack.is_some());
    assert!(s1.last_applied_index.is_some());

    // A node waiting to be added is not ready, and says why.
    let s2 = connect(&n2.addr, &Credentials::default())
        .await
        .unwrap()
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!s2.ready);
    assert!(s2.members.is_empty());
    assert_eq!(s2.address, "");
    assert!(
        s2.not_ready_reasons
            .contains(&"node 2 is not a member of the farm (members [])".to_string()),
        "{:?}",
        s2.not_ready_reasons
    );
    assert_eq!(
        health_of(&n2.addr, "").await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(http(&n2.http, "GET", "/readyz").await.0, 503);
    // ... and refuses membership changes at once: it knows no leader.
    let pristine = add_member(&n2.addr, &Credentials::default(), 2, &n2.addr)
        .await
        .unwrap_err();
    let text = pristine.to_string();
    assert!(
        text.contains("FailedPrecondition") && text.contains("node 2 is not in a farm yet"),
        "{text}"
    );

    // Bad requests are refused before anything changes.
    let zero = c1
        .add_member(AddMemberRequest {
            node_id: 0,
            address: n2.addr.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(zero.code(), Code::InvalidArgument);
    assert_eq!(zero.message(), "node_id: 0 is not allowed");
    let bad = c1
        .add_member(AddMemberRequest {
            node_id: 2,
            address: "node-two".to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        bad.message(),
        "address: \"node-two\": no port, expected host:port"
    );
    let zero = c1
        .remove_member(RemoveMemberRequest { node_id: 0 })
        .await
        .unwrap_err();
    assert_eq!(zero.code(), Code::InvalidArgument);

    // Add node 2; the reply already shows it as a voter.
    let reply = add_member(&n1.addr, &Credentials::default(), 2, &n2.addr)
        .await
        .unwrap();
    let members: Vec<(u64, &str, bool)> = reply
        .members
        .iter()
        .map(|m| (m.node_id, m.address.as_str(), m.voter))
        .collect();
    assert_eq!(
        members,
        [(1, n1.addr.as_str(), true), (2, n2.addr.as_str(), true)]
    );
    ready(&n2).await;
    let s2 = connect(&n2.addr, &Credentials::default())
        .await
        .unwrap()
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((s2.role.as_str(), s2.leader), ("follower", Some(1)));
    assert_eq!(s2.address, n2.addr);
    assert_eq!((s2.claims_held, s2.claims_in_flight_total), (0, 2));
    assert!(s2.millis_since_quorum_ack.is_none());
    assert_eq!(health_of(&n2.addr, "").await, ServingStatus::Serving as i32);

    // The whole farm, asked through the follower (once the leader has heard
    // from its new quorum: until then it is briefly not ready).
    ready(&n1).await;
    let farm = farm_status(&n2.addr, &Credentials::default())
        .await
        .unwrap();
    let view: Vec<(u64, &str, &str)> = farm
        .iter()
        .map(|s| (s.node_id, s.role.as_str(), s.address.as_str()))
        .collect();
    assert_eq!(
        view,
        [
            (1, "leader", n1.addr.as_str()),
            (2, "follower", n2.addr.as_str())
        ]
    );
    let table = status_table(&farm);
    assert!(table.starts_with("NODE  ADDRESS"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");

    // HTTP health follows readiness, and so does gRPC health.
    assert_eq!(
        http(&n1.http, "GET", "/healthz").await,
        (200, "ok\n".to_string())
    );
    assert_eq!(
        http(&n1.http, "GET", "/readyz").await,
        (200, "ready\n".to_string())
    );
    n1.probe.set_drop_folder_error(Some("permission denied"));
    let body = eventually("/readyz to fail", || async {
        let (code, body) = http(&n1.http, "GET", "/readyz").await;
        (code == 503).then_some(body)
    })
    .await;
    assert_eq!(body, "drop folder /srv/drop-1: permission denied\n");
    assert_eq!(http(&n1.http, "GET", "/healthz").await.0, 200);
    assert_eq!(
        health_of(&n1.addr, "").await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health_of(&n1.addr, "postroom.admin.v1.ClusterAdmin").await,
        ServingStatus::NotServing as i32
    );
    let s1 = c1.status(StatusRequest {}).await.unwrap().into_inner();
    assert!(!s1.ready);
    assert_eq!(
        s1.not_ready_reasons,
        ["drop folder /srv/drop-1: permission denied"]
    );
    n1.probe.set_drop_folder_error(None);
    ready(&n1).await;
    assert_eq!(
        http(&n1.http, "GET", "/readyz").await,
        (200, "ready\n".to_string())
    );
    assert_eq!(
        health_of(&n1.addr, "postroom.admin.v1.ClusterAdmin").await,
        ServingStatus::Serving as i32
    );
    assert_eq!(http(&n1.http, "GET", "/metrics").await.0, 404);
    assert_eq!(http(&n1.http, "POST", "/healthz").await.0, 404);

    // Remove node 2, through the leader; the farm's only voter stays.
    let reply = remove_member(&n1.addr, &Credentials::default(), 2)
        .await
        .unwrap();
    let ids: Vec<u64> = reply.members.iter().map(|m| m.node_id).collect();
    assert_eq!(ids, [1]);
    let only = c1
        .remove_member(RemoveMemberRequest { node_id: 1 })
        .await
        .unwrap_err();
    assert_eq!(only.code(), Code::FailedPrecondition, "{only:?}");
    assert!(only.message().contains("only voter"), "{}", only.message());

    stop(n1).await;
    stop(n2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_that_does_not_answer_is_shown_unreachable() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n1 = start(1, d1.path(), Formation::Single).await;
    let n2 = start(2, d2.path(), Formation::Join).await;
    n1.farm
        .change_membership(MembershipChange::AddVoter {
            id: 2,
            address: n2.addr.clone(),
        })
        .await
        .unwrap();
    ready(&n2).await;
    ready(&n1).await;

    let gone = n2.addr.clone();
    stop(n2).await;
    let farm = farm_status(&n1.addr, &Credentials::default())
        .await
        .unwrap();
    let view: BTreeMap<u64, (&str, &str, bool)> = farm
        .iter()
        .map(|s| (s.node_id, (s.role.as_str(), s.address.as_str(), s.ready)))
        .collect();
    assert_eq!(view[&2], ("unreachable", gone.as_str(), false));
    assert_eq!(view[&1].0, "leader");
    assert!(
        farm[1].not_ready_reasons[0].contains(&gone),
        "{:?}",
        farm[1].not_ready_reasons
    );
    let table = status_table(&farm);
    assert!(table.contains("unreachable"), "{table}");

    // Without its only peer the leader loses its quorum, and its readiness.
    let mut rx = n1.readiness.clone();
    let lost = tokio::time::timeout(
        WAIT,
        rx.wait_for(|r| {
            r.problems
                .iter()
                .any(|p| p.starts_with("leader without a quorum"))
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("still: {:?}", n1.readiness.borrow()))
    .unwrap()
    .clone();
    assert!(!lost.ready);
    assert_eq!(http(&n1.http, "GET", "/readyz").await.0, 503);

    stop(n1).await;
}

/// The embedded defaults with shared (absolute) folders, as a farm of several nodes needs.
fn shared_config() -> postroom_core::config::FarmConfig {
    let mut config = ConfigFile::embedded_defaults().farm_config();
    config.drop_folder.path = Some("/srv/shared/drop".into());
    config.quarantine.path = Some("/srv/shared/quarantine".into());
    config.libraries[0].path = Some("/srv/shared/documents".into());
    config
}

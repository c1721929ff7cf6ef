//! Security of the gRPC port with real `postroom` processes: the admin API
//! refuses calls without or with a wrong bearer token while health stays
//! open; a farm with a shared secret forms and files, and a stranger can
//! neither vote, append nor join it; TLS with required client certificates
//! (certificates made here with rcgen) for the CLI and for a whole farm
//! that has no secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use postroom_cluster::proto::raft_client::RaftClient;
use postroom_cluster::proto::{RaftReply, RaftRequest};
use postroom_cluster::PEER_SECRET_HEADER;
use serde_json::Value;
use support::cluster::{drop_into, drop_message, node_ip, Cluster, Membership};
use support::pki::Pki;
use support::{wait_until, Farm};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const TOKEN: &str = "admin-token-for-the-tests-0123456789";
const SECRET: &str = "farm-secret-for-the-tests-0123456789";
const MISSING_TOKEN: &str = "this node requires a bearer token";
const WRONG_TOKEN: &str = "the bearer token is not valid for this farm";

/// A scratch directory for secrets and certificates.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("postroom-security-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

use support::pki::write;

/// `postroom <args>` without credentials from the environment.
fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postroom"))
        .args(args)
        .env_remove("POSTROOM_TOKEN")
        .env_remove("POSTROOM_TOKEN_FILE")
        .env_remove("POSTROOM_CA_FILE")
        .env_remove("POSTROOM_CERT_FILE")
        .env_remove("POSTROOM_KEY_FILE")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The gRPC address of a node started by [`Farm`], from its "node ready" line.
fn grpc_addr(log: &str) -> String {
    let ready = log.lines().find(|l| l.contains("node ready")).unwrap();
    ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("grpc="))
        .unwrap()
        .to_string()
}

/// The members in `cluster status --json` output (empty if it is not JSON).
fn nodes_of(out: &Output) -> Vec<Value> {
    let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) else {
        return Vec::new();
    };
    v.get("nodes")
        .unwrap_or(&v)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_admin_api_needs_the_token_and_health_stays_open() {
    let dir = scratch();
    let token_file = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let farm = Farm::new(&format!(
        "[admin]\ntoken_file = \"{}\"\n",
        token_file.display()
    ));
    let node = farm.start();
    let server = grpc_addr(&node.log_text());
    let status = |extra: &[&str]| {
        let mut args = vec!["cluster", "status", "--server", server.as_str()];
        args.extend_from_slice(extra);
        cli(&args)
    };

    let none = status(&[]);
    assert_eq!(none.status.code(), Some(5), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("Unauthenticated"),
        "{}",
        stderr(&none)
    );
    assert!(stderr(&none).contains(MISSING_TOKEN), "{}", stderr(&none));
    let wrong = status(&["--token", "admin-token-for-the-tests-0123456788"]);
    assert_eq!(wrong.status.code(), Some(5), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains(WRONG_TOKEN), "{}", stderr(&wrong));
    let shown = farm_show(&server, &["--token-file", token_file.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    wait_until(Duration::from_secs(10), "status with the token", || {
        status(&["--token-file", token_file.to_str().unwrap()])
            .status
            .success()
    });
    let with_token = status(&["--token", TOKEN, "--json"]);
    let nodes = nodes_of(&with_token);
    assert_eq!(nodes.len(), 1, "{nodes:?}");

    // Probes need no token.
    let health = runtime().block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
    });
    assert!(health.is_ok(), "{health:?}");

    // `config check` never prints the token; refused calls are logged without it.
    let checked = cli(&["config", "check", "--config", farm.config.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(!String::from_utf8_lossy(&checked.stdout).contains(TOKEN));
    let log = node.log_text();
    assert!(log.contains("refused an admin call"), "{log}");
    assert!(!log.contains("admin-token-for-the-tests"), "{log}");
}

fn farm_show(server: &str, extra: &[&str]) -> Output {
    let mut args = vec!["farm", "show", "--server", server];
    args.extend_from_slice(extra);
    cli(&args)
}

/// A serde_json-encoded openraft `VoteRequest` from node 99 in `term`.
fn vote(term: u64) -> Vec<u8> {
    format!(
        r#"{{"vote":{{"leader_id":{{"term":{term},"node_id":99}},"committed":false}},"last_log_id":null}}"#
    )
    .into_bytes()
}

/// A serde_json-encoded openraft `AppendEntriesRequest` from node 99 as
/// leader of `term`, with no entries.
fn append(term: u64) -> Vec<u8> {
    format!(
        r#"{{"vote":{{"leader_id":{{"term":{term},"node_id":99}},"committed":true}},"prev_log_id":null,"entries":[],"leader_commit":null}}"#
    )
    .into_bytes()
}

/// Call `rpc` ("vote" or "append") on the Raft service at `addr` with the
/// given metadata.
fn raft_call(
    addr: &str,
    rpc: &str,
    payload: Vec<u8>,
    headers: &[(&'static str, &str)],
) -> Result<RaftReply, tonic::Status> {
    runtime().block_on(async {
        let mut client = RaftClient::connect(format!("http://{addr}")).await.unwrap();
        let mut request = tonic::Request::new(RaftRequest { payload });
        for (key, value) in headers {
            request.metadata_mut().insert(*key, value.parse().unwrap());
        }
        let reply = match rpc {
            "vote" => client.vote(request).await,
            _ => client.append_entries(request).await,
        };
        reply.map(tonic::Response::into_inner)
    })
}

/// (leader, term) of every node as node `i` sees the farm.
fn leader_and_terms(cluster: &Cluster, i: usize) -> Vec<(u64, u64)> {
    let nodes = cluster.status(i).unwrap();
    nodes
        .iter()
        .map(|n| (n["leader"].as_u64().unwrap(), n["term"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_farm_secret_keeps_strangers_from_voting_appending_and_joining() {
    let dir = scratch();
    let secret_file = write(dir.path(), "secret", &format!("{SECRET}\n"));
    let cluster = Cluster::start(
        3,
        &format!(
            "lease_ttl = \"3s\"\nsecret_file = \"{}\"",
            secret_file.display()
        ),
    );
    let leader = cluster.leader();
    wait_until(Duration::from_secs(20), "3 members ready", || {
        cluster
            .status(1)
            .is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["ready"] == true))
    });
    drop_into(&cluster.drop_dir(), "d-1.eml", &drop_message(1));
    wait_until(Duration::from_secs(20), "a message filed", || {
        cluster.record_count() == 1
    });
    let before = leader_and_terms(&cluster, 1);
    let term = before[0].1;

    let bearer = format!("Bearer {SECRET}");
    for i in 1..=3 {
        let addr = cluster.grpc_addr(i);
        for rpc in ["vote", "append"] {
            let payload = || {
                if rpc == "vote" {
                    vote(term + 100)
                } else {
                    append(term + 100)
                }
            };
            let cases: [(&[(&'static str, &str)], &str); 3] = [
                (&[], "none was sent"),
                (
                    &[(PEER_SECRET_HEADER, "farm-secret-for-the-tests-0123456788")],
                    "not this farm's cluster.secret",
                ),
                // The secret in the admin API's header is not the peer secret.
                (&[("authorization", bearer.as_str())], "none was sent"),
            ];
            for (headers, why) in cases {
                let refused = raft_call(&addr, rpc, payload(), headers).unwrap_err();
                assert_eq!(
                    refused.code(),
                    tonic::Code::Unauthenticated,
                    "{rpc} {refused:?}"
                );
                assert!(refused.message().contains(why), "{rpc}: {refused:?}");
            }
        }
    }
    // The same call with the secret reaches Raft (a stale vote, refused by Raft itself).
    let reply = raft_call(
        &cluster.grpc_addr(1),
        "vote",
        vote(0),
        &[(PEER_SECRET_HEADER, SECRET)],
    )
    .unwrap();
    let answer: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(answer.get("Ok").is_some(), "{answer}");

    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cluster.leader(), leader);
    assert_eq!(
        leader_and_terms(&cluster, 1),
        before,
        "term or leader moved"
    );
    assert!(!cluster.logs_containing("refused a raft call").is_empty());

    // A node with another secret waits to join; the farm refuses to add it.
    let stranger = Stranger::start(&cluster, dir.path());
    wait_until(Duration::from_secs(20), "node 4 waiting", || {
        stranger.log().contains("waiting to be added")
    });
    let out = cli(&[
        "cluster",
        "join",
        "--server",
        &cluster.grpc_addr(1),
        "--node-id",
        "4",
        "--address",
        &stranger.address,
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("node 4 at") && stderr(&out).contains("refuses this farm"),
        "{}",
        stderr(&out)
    );
    let nodes = cluster.status(1).unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.iter().all(|n| n["node_id"] != 4), "{nodes:?}");
    assert!(
        stranger.log().contains("refused a raft call"),
        "{}",
        stranger.log()
    );
}

/// Node 4 of a test farm, started with `cluster.join` and a wrong secret.
struct Stranger {
    child: Child,
    log: PathBuf,
    address: String,
}

impl Stranger {
    fn start(cluster: &Cluster, dir: &Path) -> Stranger {
        let ip = node_ip(4);
        let address = format!("{ip}:{}", cluster.port);
        let secret = write(dir, "wrong-secret", "not-the-farm-secret-0123456789");
        let config = std::fs::read_to_string(cluster.config(3))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("peers =") && !l.starts_with("secret_file ="))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("node_id = 3", "node_id = 4\njoin = true")
            .replace(&node_ip(3), &ip)
            .replace("node3", "node4")
            .replace(
                "[http]",
                &format!("secret_file = \"{}\"\n[http]", secret.display()),
            );
        let path = write(dir, "node4.toml", &config);
        let log = dir.join("node4.log");
        let child = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Stranger {
            child,
            log,
            address,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `postroom cluster status --json --server <server> <extra>`.
fn tls_status(server: &str, extra: &[String]) -> Output {
    let mut args = vec!["cluster", "status", "--json", "--server", server];
    args.extend(extra.iter().map(String::as_str));
    cli(&args)
}

#[test]
fn tls_with_required_client_certificates_for_the_cli() {
    let dir = scratch();
    let pki = Pki::new(dir.path());
    let farm = Farm::new(&pki.node_config());
    let node = farm.start();
    let addr = grpc_addr(&node.log_text());

    let https = format!("https://{addr}");
    let ok = tls_status(&https, &pki.client_args());
    assert!(ok.status.success(), "{}", stderr(&ok));
    let nodes = nodes_of(&ok);
    assert_eq!(nodes[0]["ready"], true, "{nodes:?}");
    // A plain host:port is dialled with TLS once a CA is given.
    let ok = tls_status(&addr, &pki.client_args());
    assert!(ok.status.success(), "{}", stderr(&ok));

    let ca_only = vec!["--ca-file".to_string(), pki.ca.display().to_string()];
    let no_cert = tls_status(&https, &ca_only);
    assert_eq!(no_cert.status.code(), Some(2), "{}", stderr(&no_cert));
    assert!(
        stderr(&no_cert).contains("pass --cert-file and --key-file"),
        "{}",
        stderr(&no_cert)
    );
    let no_ca = tls_status(&https, &[]);
    assert_eq!(no_ca.status.code(), Some(2));
    assert!(
        stderr(&no_ca).contains("https:// needs --ca-file"),
        "{}",
        stderr(&no_ca)
    );
    let plain = tls_status(&format!("http://{addr}"), &pki.client_args());
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
    assert!(
        stderr(&plain).contains("if it serves TLS"),
        "{}",
        stderr(&plain)
    );
    let plain = tls_status(&addr, &[]);
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
}

#[test]
fn a_farm_with_mutual_tls_and_no_secret_forms_and_files() {
    let dir = scratch();
    let pki = Pki::new(dir.path());
    let mut cluster = Cluster::prepare(3, "lease_ttl = \"3s\"", Membership::Static);
    for i in 1..=3 {
        cluster.append_config(i, &pki.node_config());
    }
    for i in 1..=3 {
        cluster.spawn(i);
    }
    for i in 1..=3 {
        cluster.wait_ready(i);
    }
    let ready = || {
        let nodes = nodes_of(&tls_status(&cluster.grpc_addr(2), &pki.client_args()));
        nodes.len() == 3 && nodes.iter().all(|n| n["ready"] == true)
    };
    wait_until(Duration::from_secs(30), "3 members ready over mTLS", ready);
    for n in 0..20 {
        drop_into(&cluster.drop_dir(), &format!("d-{n}.eml"), &drop_message(n));
    }
    wait_until(Duration::from_secs(30), "20 filed", || {
        cluster.record_count() == 20
    });
    assert!(cluster.filed().values().all(|n| *n == 1));
    // Without a client certificate nothing gets in, Raft included.
    let plain = raft_call_refused(&cluster.grpc_addr(1));
    assert!(plain, "a plain-text raft call was answered");
}

/// Whether a plain-text Raft call to a TLS node fails.
fn raft_call_refused(addr: &str) -> bool {
    runtime().block_on(async {
        let Ok(mut client) = RaftClient::connect(format!("http://{addr}")).await else {
            return true;
        };
        client
            .vote(tonic::Request::new(RaftRequest { payload: vote(0) }))
            .await
            .is_err()
    })
}

//! Raw claim throughput of a 3-node farm: three in-process farm nodes
//! talking Raft over real gRPC on 127.0.0.1 (each with its own sled
//! directory), the farm configuration set once, then concurrent proposers on
//! the leader and on both followers (which forward to the leader) propose
//! `Claim` batches of fresh keys for a fixed time. Reports claims/s (median
//! of 1-second windows, and overall) and proposal latency p50/p99, then one
//! `RESULT {json}` line for scripts (`bench/cluster_bench.py --mode claims`).
//!
//! ```sh
//! cargo build --release -p postroom-cluster --example claim_bench
//! target/release/examples/claim_bench [--secs 10] [--keys 512] \
//!     [--leader-proposers 4] [--follower-proposers 2] [--finish] [--dir bench/out]
//! ```
//!
//! `--finish` also proposes a `Finish` for every granted batch (what the
//! node's pipeline does per batch); throughput is still counted in claims.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use postroom_cluster::{Farm, FarmOptions};
use postroom_core::config::ConfigFile;
use postroom_core::{ClaimResult, Command, Finished, MessageKey, Outcome, Response};
use tokio::net::TcpListener;

struct Args {
    secs: u64,
    keys: usize,
    leader_proposers: usize,
    follower_proposers: usize,
    finish: bool,
    snapshot_every: u64,
    dir: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        secs: 10,
        keys: 512,
        leader_proposers: 4,
        follower_proposers: 2,
        finish: false,
        snapshot_every: 10_000,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .with_context(|| format!("{flag} {v:?}: not a number"))
        };
        match flag.as_str() {
            "--secs" => a.secs = number(value()?)?,
            "--keys" => a.keys = usize::try_from(number(value()?)?)?,
            "--leader-proposers" => a.leader_proposers = usize::try_from(number(value()?)?)?,
            "--follower-proposers" => a.follower_proposers = usize::try_from(number(value()?)?)?,
            "--snapshot-every" => a.snapshot_every = number(value()?)?,
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--finish" => a.finish = true,
            "-h" | "--help" => {
                println!(
                    "claim_bench [--secs N] [--keys N] [--leader-proposers N] \
                     [--follower-proposers N] [--snapshot-every N] [--finish] [--dir DIR]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!(a.secs >= 3, "--secs must be 3 or more");
    Ok(a)
}

fn options(node_id: u64, addr: &str, dir: &Path, snapshot_every: u64) -> FarmOptions {
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

/// A fresh key per claim: the counter in the first 8 bytes.
fn key(n: u64) -> MessageKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[31] = 0xbe;
    MessageKey::from_bytes(bytes)
}

struct Member {
    farm: Farm,
    addr: String,
    server: tokio::task::JoinHandle<()>,
}

async fn start_member(id: u64, dir: &Path, snapshot_every: u64) -> anyhow::Result<Member> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let farm = Farm::open_member(options(id, &addr, dir, snapshot_every)).await?;
    let service = farm.raft_service();
    let server = tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(service)
            // As the node does: no Nagle on accepted connections.
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            )
            .await;
        if let Err(e) = served {
            eprintln!("node {id}: grpc server failed: {e}");
        }
    });
    Ok(Member { farm, addr, server })
}

/// Completed proposals: (completion time since start, claims granted, latency, from the leader).
type Samples = Arc<Mutex<Vec<(Duration, usize, Duration, bool)>>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank, as bench/common.py.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let base = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let root = tempfile::Builder::new()
        .prefix("claim-bench-")
        .tempdir_in(&base)?;

    let mut members = Vec::new();
    for id in 1..=3u64 {
        let dir = root.path().join(format!("node{id}"));
        members.push(start_member(id, &dir, a.snapshot_every).await?);
    }
    let addrs: BTreeMap<u64, String> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (i as u64 + 1, m.addr.clone()))
        .collect();
    members[0].farm.initialize_with(addrs).await?;
    let wait = Duration::from_secs(20);
    let leader = members[0].farm.wait_for_leader(wait).await?;
    for m in &members {
        let seen = m.farm.wait_for_leader(wait).await?;
        ensure!(
            seen == leader,
            "node {} sees leader {seen}, not {leader}",
            m.farm.node_id()
        );
    }
    let config = Command::SetConfig {
        config: Box::new(ConfigFile::embedded_defaults().farm_config()),
        by: "claim_bench".to_string(),
        expected_version: None,
        file_digest: None,
    };
    match members[0].farm.propose(config).await? {
        Response::ConfigSet { .. } => {}
        other => bail!("unexpected answer to SetConfig: {other:?}"),
    }

    let next_key = Arc::new(AtomicU64::new(1));
    let samples: Samples = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop_at = start + Duration::from_secs(a.secs);
    let mut tasks = Vec::new();
    for m in &members {
        let id = m.farm.node_id();
        let on_leader = id == leader;
        let proposers = if on_leader {
            a.leader_proposers
        } else {
            a.follower_proposers
        };
        for _ in 0..proposers {
            let farm = m.farm.clone();
            let (next_key, samples, errors) = (next_key.clone(), samples.clone(), errors.clone());
            let (batch, finish) = (a.keys, a.finish);
            tasks.push(tokio::spawn(async move {
                while Instant::now() < stop_at {
                    let first = next_key.fetch_add(batch as u64, Ordering::Relaxed);
                    let keys: Vec<MessageKey> = (first..first + batch as u64).map(key).collect();
                    let sent = Instant::now();
                    let claim = Command::Claim {
                        keys: keys.clone(),
                        node: id,
                        ttl_ms: 30_000,
                    };
                    let results = match farm.propose(claim).await {
                        Ok(Response::Claims(results)) => results,
                        other => {
                            eprintln!("node {id}: claim failed: {other:?}");
                            errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    let latency = sent.elapsed();
                    let mut items = Vec::new();
                    for (k, r) in keys.iter().zip(&results) {
                        if let ClaimResult::Granted { token, .. } = r {
                            items.push(Finished {
                                key: *k,
                                token: *token,
                                outcome: Outcome::Delivered {
                                    libraries: vec!["documents".to_string()],
                                },
                                about: None,
                            });
                        }
                    }
                    let granted = items.len();
                    samples
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((start.elapsed(), granted, latency, on_leader));
                    if finish && !items.is_empty() {
                        if let Err(e) = farm.propose(Command::Finish { items }).await {
                            eprintln!("node {id}: finish failed: {e}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.context("a proposer task failed")?;
    }
    let elapsed = start.elapsed();

    let samples = samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let total: usize = samples.iter().map(|s| s.1).sum();
    // Whole 1-second windows, the first (warm-up) and any partial last one left out.
    let windows = a.secs as usize;
    let mut per_window = vec![0usize; windows];
    for (at, granted, _, _) in &samples {
        let w = at.as_secs() as usize;
        if w < windows {
            per_window[w] += granted;
        }
    }
    let mut counted: Vec<usize> = per_window[1..].to_vec();
    counted.sort_unstable();
    let median = counted[counted.len() / 2];
    let mut all: Vec<Duration> = samples.iter().map(|s| s.2).collect();
    all.sort_unstable();
    let mut from_leader: Vec<Duration> = samples.iter().filter(|s| s.3).map(|s| s.2).collect();
    from_leader.sort_unstable();
    let mut from_followers: Vec<Duration> = samples.iter().filter(|s| !s.3).map(|s| s.2).collect();
    from_followers.sort_unstable();

    let status = members[0].farm.status();
    let leader_status = members[(leader - 1) as usize].farm.status();
    println!(
        "3 nodes over gRPC on 127.0.0.1, leader {leader}; {} + 2x{} proposers, {} keys per claim{}",
        a.leader_proposers,
        a.follower_proposers,
        a.keys,
        if a.finish {
            ", each followed by a finish"
        } else {
            ""
        }
    );
    println!("claims per 1-s window: {per_window:?}");
    println!(
        "claims: {total} in {:.2} s = {:.0}/s overall, median window {median}/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "proposal latency: all p50 {:.1} ms p99 {:.1} ms ({} proposals); leader p50 {:.1} / p99 {:.1} ms; followers p50 {:.1} / p99 {:.1} ms",
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        all.len(),
        ms(percentile(&from_leader, 50.0)),
        ms(percentile(&from_leader, 99.0)),
        ms(percentile(&from_followers, 50.0)),
        ms(percentile(&from_followers, 99.0)),
    );
    println!(
        "log: last index {:?}, snapshot {:?}, node 1 applied {:?}; errors {}",
        leader_status.last_log_index,
        leader_status.snapshot_index,
        status.last_applied_index,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "RESULT {{\"claims_per_s_median\": {median}, \"claims_per_s_overall\": {:.0}, \"claims\": {total}, \"proposals\": {}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"leader_p50_ms\": {:.2}, \"leader_p99_ms\": {:.2}, \"follower_p50_ms\": {:.2}, \"follower_p99_ms\": {:.2}, \"errors\": {}, \"keys_per_claim\": {}, \"finish\": {}}}",
        total as f64 / elapsed.as_secs_f64(),
        all.len(),
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        ms(percentile(&from_leader, 50.0)),
        ms(percentile(&from_leader, 99.0)),
        ms(percentile(&from_followers, 50.0)),
        ms(percentile(&from_followers, 99.0)),
        errors.load(Ordering::Relaxed),
        a.keys,
        a.finish,
    );

    for m in members {
        m.farm.shutdown().await?;
        m.server.abort();
    }
    Ok(())
}

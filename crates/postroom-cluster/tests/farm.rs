//! Single-node tests of the farm handle over real sled storage and a real
//! openraft node: proposals, restarts, snapshots with log compaction, and a
//! throughput sanity run.

#[cfg(test)]
mod common;

use std::time::{Duration, Instant};

use common::{claim, delivered, finish, key, options, set_config, token};
use postroom_cluster::{ClusterError, Farm, Role};
use postroom_core::{ClaimResult, FinishResult, Response};

const ADDR: &str = "127.0.0.1:7700";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn propose_set_config_claim_finish_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::open(options(1, ADDR, dir.path(), 1_000))
        .await
        .unwrap();

    let status = farm.status();
    assert_eq!(status.role, Role::Leader);
    assert_eq!(status.leader, Some(1));
    assert_eq!(status.members.get(&1).map(String::as_str), Some(ADDR));

    assert_eq!(
        farm.propose(set_config()).await.unwrap(),
        Response::ConfigSet {
            version: 1,
            changed: true
        }
    );
    assert_eq!(
        farm.propose(set_config()).await.unwrap(),
        Response::ConfigSet {
            version: 1,
            changed: false
        }
    );

    let claims = claim(&farm, 1, vec![key(1), key(2)]).await;
    assert_eq!(claims.len(), 2);
    let (t1, t2) = (token(&claims[0]), token(&claims[1]));
    assert!(t1 < t2);
    // A second node sees the live lease.
    assert!(matches!(
        claim(&farm, 2, vec![key(1)]).await[0],
        ClaimResult::Held { by: 1, .. }
    ));

    assert_eq!(
        finish(&farm, key(1), t1).await,
        Response::Finishes(vec![FinishResult::Recorded])
    );
    assert_eq!(
        finish(&farm, key(1), t1).await,
        Response::Finishes(vec![FinishResult::AlreadyFinished])
    );
    assert_eq!(
        claim(&farm, 2, vec![key(1)]).await,
        vec![ClaimResult::Finished {
            outcome: delivered()
        }]
    );

    farm.read(|state| {
        assert_eq!(state.config_version(), 1);
        assert_eq!(state.ledger_entry(&key(1)).map(|e| e.node), Some(1));
        assert_eq!(state.lease(&key(2)).map(|l| l.token), Some(t2));
        assert!(state.now().0 > 0);
    });
    assert!(farm.status().last_applied_index >= Some(7));

    farm.shutdown().await.unwrap();
    farm.shutdown().await.unwrap(); // idempotent
    assert!(matches!(
        farm.propose(set_config()).await,
        Err(ClusterError::Stopped { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_recovers_state_and_tokens_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(1, ADDR, dir.path(), 1_000);
    let farm = Farm::open(opts.clone()).await.unwrap();
    farm.propose(set_config()).await.unwrap();
    let mut last = None;
    for n in 0..10 {
        let t = token(&claim(&farm, 1, vec![key(n)]).await[0]);
        if n % 2 == 0 {
            finish(&farm, key(n), t).await;
        }
        last = Some(t);
    }
    let before = farm.read(|s| s.clone());
    let last = last.unwrap();
    farm.shutdown().await.unwrap();
    drop(farm);

    let farm = Farm::open(opts).await.unwrap();
    // The committed log is re-applied before `open` returns leadership... or shortly after.
    let applied = farm.status().last_log_index.unwrap();
    farm.wait_applied(applied, Duration::from_secs(5))
        .await
        .unwrap();
    farm.read(|s| {
        assert_eq!(s.config_version(), 1);
        assert_eq!(s.ledger_len(), 5);
        assert_eq!(s.leases_len(), 5);
        assert!(s.ledger_entry(&key(4)).is_some());
    });
    assert_eq!(farm.read(|s| s.clone()), before);
    let next = token(&claim(&farm, 1, vec![key(100)]).await[0]);
    assert!(
        next > last,
        "token after restart {next:?} must exceed {last:?}"
    );
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshots_keep_the_log_bounded_and_restore_everything() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(1, ADDR, dir.path(), 100);
    let farm = Farm::open(opts.clone()).await.unwrap();
    farm.propose(set_config()).await.unwrap();

    let mut max_stored = 0;
    for n in 0..1_000u64 {
        let t = token(&claim(&farm, 1, vec![key(n)]).await[0]);
        finish(&farm, key(n), t).await;
        if n % 50 == 0 {
            max_stored = max_stored.max(farm.stored_log_entries().unwrap());
        }
    }
    let status = farm.status();
    let stored = farm.stored_log_entries().unwrap();
    eprintln!(
        "after 2001 proposals: {status:?}, {stored} entries stored, at most {max_stored} seen"
    );
    assert!(status.last_log_index >= Some(2_001));
    assert!(
        status.snapshot_index >= Some(1_800),
        "snapshot at {:?}",
        status.snapshot_index
    );
    assert!(status.purged_index.is_some());
    // Since the last snapshot (<= 100, plus up to 100 while one is being built),
    // kept behind it (100), one purge batch (50): at most 350.
    assert!(stored <= 350, "{stored} log entries stored");
    assert!(max_stored <= 350, "{max_stored} log entries stored at peak");

    let before = farm.read(|s| s.clone());
    assert_eq!(before.ledger_len(), 1_000);
    farm.shutdown().await.unwrap();
    drop(farm);

    let farm = Farm::open(opts).await.unwrap();
    let last = farm.status().last_log_index.unwrap();
    farm.wait_applied(last, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(farm.read(|s| s.clone()), before);
    let next = token(&claim(&farm, 1, vec![key(5_000)]).await[0]);
    assert!(next.0 > 1_000);
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throughput_sanity_200_proposals_of_100_claims() {
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::open(options(1, ADDR, dir.path(), 10_000))
        .await
        .unwrap();
    let started = Instant::now();
    for batch in 0..200u64 {
        let keys = (0..100).map(|i| key(batch * 100 + i)).collect();
        let results = claim(&farm, 1, keys).await;
        assert!(results
            .iter()
            .all(|r| matches!(r, ClaimResult::Granted { .. })));
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let farm = farm.clone();
        tasks.spawn(async move {
            for batch in 0..25u64 {
                let base = 1_000_000 + (worker * 25 + batch) * 100;
                let results = claim(&farm, 1, (0..100).map(|i| key(base + i)).collect()).await;
                assert_eq!(results.len(), 100);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let concurrent = started.elapsed();
    let rate = |d: Duration| 20_000.0 / d.as_secs_f64();
    eprintln!(
        "20000 claims in 200 proposals: sequential {sequential:?} ({:.0} claims/s), 8 concurrent proposers {concurrent:?} ({:.0} claims/s)",
        rate(sequential),
        rate(concurrent)
    );
    assert_eq!(farm.read(|s| s.leases_len()), 40_000);
    farm.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_snapshot_interval_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Farm::open(options(1, ADDR, dir.path(), 0))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("snapshot_every 0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_belongs_to_one_node_id() {
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::open(options(1, ADDR, dir.path(), 100)).await.unwrap();
    farm.shutdown().await.unwrap();
    drop(farm);
    let err = Farm::open(options(2, ADDR, dir.path(), 100))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ClusterError::NodeIdMismatch {
                stored: 1,
                given: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("belongs to node 1, not node 2"),
        "{err}"
    );
}

//! Two farm nodes in one process talking Raft over real gRPC on 127.0.0.1:
//! forming a two-voter farm, and adding a node that must catch up through
//! a snapshot sent over the transport.

#[cfg(test)]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{claim, key, listen, options, serve, set_config, start_member, stop, token, Node};
use postroom_cluster::{Farm, MembershipChange, Role};
use postroom_core::ClaimResult;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_voters_replicate_a_command_over_grpc() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n1 = start_member(1, d1.path(), 1_000).await;
    let n2 = start_member(2, d2.path(), 1_000).await;

    let members = BTreeMap::from([(1, n1.addr.clone()), (2, n2.addr.clone())]);
    n1.farm.initialize_with(members.clone()).await.unwrap();
    let leader = n1.farm.wait_for_leader(WAIT).await.unwrap();
    assert_eq!(n2.farm.wait_for_leader(WAIT).await.unwrap(), leader);
    let (leader_node, follower) = if leader == 1 { (&n1, &n2) } else { (&n2, &n1) };

    leader_node.farm.propose(set_config()).await.unwrap();
    let granted = claim(&leader_node.farm, 7, vec![key(1), key(2)]).await;
    let t2 = token(&granted[1]);

    // The follower forwards writes to the leader and sees them applied on return.
    let forwarded = claim(&follower.farm, 8, vec![key(3)]).await;
    let t3 = token(&forwarded[0]);
    assert!(t3 > t2);
    follower
        .farm
        .read(|s| assert_eq!(s.lease(&key(3)).map(|l| (l.node, l.token)), Some((8, t3))));
    // A linearizable read on the follower sees every write committed before it.
    claim(&leader_node.farm, 7, vec![key(4)]).await;
    let seen = follower
        .farm
        .read_linearizable(|s| (s.config_version(), s.lease(&key(4)).map(|l| l.node)))
        .await
        .unwrap();
    assert_eq!(seen, (1, Some(7)));
    follower.farm.read(|s| {
        assert_eq!(s.lease(&key(2)).map(|l| (l.node, l.token)), Some((7, t2)));
    });
    assert_eq!(
        leader_node.farm.read(|s| s.clone()),
        follower.farm.read(|s| s.clone())
    );
    let status = follower.farm.status();
    assert_eq!(status.role, Role::Follower);
    assert_eq!(status.members, members);

    stop(n1).await;
    stop(n2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn added_voter_catches_up_from_a_snapshot() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Node 1 runs alone long enough that its early log is compacted away.
    let (listener, addr1) = listen().await;
    let farm1 = Farm::open(options(1, &addr1, d1.path(), 20)).await.unwrap();
    let n1 = Node {
        server: serve(&farm1, listener),
        farm: farm1,
        addr: addr1,
    };
    n1.farm.propose(set_config()).await.unwrap();
    for n in 0..100 {
        claim(&n1.farm, 1, vec![key(n)]).await;
    }
    assert!(n1.farm.status().purged_index.is_some());

    let n2 = start_member(2, d2.path(), 20).await;
    n1.farm
        .change_membership(MembershipChange::AddVoter {
            id: 2,
            address: n2.addr.clone(),
        })
        .await
        .unwrap();
    // Status comes from metrics, which follow the change shortly after.
    let started = std::time::Instant::now();
    while n1.farm.status().voters.len() != 2 {
        assert!(
            started.elapsed() < WAIT,
            "voters: {:?}",
            n1.farm.status().voters
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let after = claim(&n1.farm, 1, vec![key(1_000)]).await;
    assert!(matches!(after[0], ClaimResult::Granted { .. }));
    let applied = n1.farm.status().last_applied_index.unwrap();
    n2.farm.wait_applied(applied, WAIT).await.unwrap();
    assert_eq!(n2.farm.read(|s| s.leases_len()), 101);
    assert_eq!(n1.farm.read(|s| s.clone()), n2.farm.read(|s| s.clone()));
    assert!(
        n2.farm.status().snapshot_index.is_some(),
        "node 2 should have installed a snapshot"
    );

    stop(n1).await;
    stop(n2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_adds_and_removes_members_through_the_leader() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let n1 = start_member(1, dirs[0].path(), 1_000).await;
    let n2 = start_member(2, dirs[1].path(), 1_000).await;
    let n3 = start_member(3, dirs[2].path(), 1_000).await;
    let members = BTreeMap::from([(1, n1.addr.clone()), (2, n2.addr.clone())]);
    n1.farm.initialize_with(members).await.unwrap();
    let leader = n1.farm.wait_for_leader(WAIT).await.unwrap();
    let follower = if leader == 1 { &n2 } else { &n1 };
    follower.farm.propose(set_config()).await.unwrap();

    follower
        .farm
        .change_membership(MembershipChange::AddVoter {
            id: 3,
            address: n3.addr.clone(),
        })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while n3.farm.status().voters.len() != 3 || n3.farm.read(|s| s.config_version()) != 1 {
        assert!(started.elapsed() < WAIT, "node 3: {:?}", n3.farm.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The new member forwards proposals too.
    let granted = claim(&n3.farm, 3, vec![key(9)]).await;
    assert!(matches!(granted[0], ClaimResult::Granted { .. }));

    follower
        .farm
        .change_membership(MembershipChange::Remove { id: 3 })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while n1.farm.status().members.contains_key(&3) {
        assert!(started.elapsed() < WAIT, "node 3 still a member");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop(n1).await;
    stop(n2).await;
    stop(n3).await;
}

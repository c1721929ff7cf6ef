//! Unit tests of the readiness rules, one rule at a time from a healthy
//! follower (or leader) and its report.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use postroom_cluster::{FarmStatus, Role};

use super::{readiness, role_name, NodeReport, Readiness};

const LIMIT: u64 = 3_000;

fn follower() -> FarmStatus {
    FarmStatus {
        node_id: 2,
        role: Role::Follower,
        leader: Some(1),
        term: 7,
        last_applied_index: Some(40),
        last_log_index: Some(40),
        snapshot_index: None,
        purged_index: None,
        voters: BTreeSet::from([1, 2]),
        members: BTreeMap::from([(1, "h1:7700".to_string()), (2, "h2:7700".to_string())]),
        matched: BTreeMap::new(),
        millis_since_quorum_ack: None,
    }
}

fn leader() -> FarmStatus {
    FarmStatus {
        node_id: 1,
        role: Role::Leader,
        leader: Some(1),
        millis_since_quorum_ack: Some(120),
        matched: BTreeMap::from([(1, Some(40)), (2, Some(38))]),
        ..follower()
    }
}

fn report() -> NodeReport {
    NodeReport {
        drop_folder: "/srv/drop".to_string(),
        drop_folder_backlog: 3,
        drop_folder_error: None,
        smtp_listen: Some("0.0.0.0:25".to_string()),
        smtp_listening: true,
        stopping: false,
    }
}

fn problems(status: &FarmStatus, report: &NodeReport) -> Vec<String> {
    let r = readiness(status, report, LIMIT);
    assert_eq!(r.ready, r.problems.is_empty(), "{r:?}");
    r.problems
}

#[test]
fn a_healthy_follower_and_leader_are_ready() {
    let ready = Readiness {
        ready: true,
        problems: vec![],
    };
    assert_eq!(readiness(&follower(), &report(), LIMIT), ready);
    assert_eq!(readiness(&leader(), &report(), LIMIT), ready);
    let learner = FarmStatus {
        role: Role::Learner,
        voters: BTreeSet::from([1]),
        ..follower()
    };
    assert_eq!(readiness(&learner, &report(), LIMIT), ready);
}

#[test]
fn a_node_outside_the_membership_is_not_ready() {
    let status = FarmStatus {
        node_id: 3,
        ..follower()
    };
    assert_eq!(
        problems(&status, &report()),
        ["node 3 is not a member of the farm (members [1, 2])"]
    );
}

#[test]
fn a_pristine_node_waiting_to_join_names_every_problem() {
    let status = FarmStatus {
        node_id: 3,
        role: Role::Learner,
        leader: None,
        term: 0,
        voters: BTreeSet::new(),
        members: BTreeMap::new(),
        ..follower()
    };
    assert_eq!(
        problems(&status, &report()),
        [
            "node 3 is not a member of the farm (members [])",
            "no leader known (role learner, term 0)",
        ]
    );
}

#[test]
fn a_candidate_or_stopped_node_is_not_ready() {
    let candidate = FarmStatus {
        role: Role::Candidate,
        leader: None,
        ..follower()
    };
    assert_eq!(
        problems(&candidate, &report()),
        [
            "role candidate cannot serve (term 7)",
            "no leader known (role candidate, term 7)",
        ]
    );
    let stopped = FarmStatus {
        role: Role::Shutdown,
        ..follower()
    };
    assert_eq!(
        problems(&stopped, &report()),
        ["role shutdown cannot serve (term 7)"]
    );
}

#[test]
fn a_node_without_a_known_leader_is_not_ready() {
    let status = FarmStatus {
        leader: None,
        ..follower()
    };
    assert_eq!(
        problems(&status, &report()),
        ["no leader known (role follower, term 7)"]
    );
}

#[test]
fn a_leader_needs_a_recent_quorum_acknowledgement() {
    let at_limit = FarmStatus {
        millis_since_quorum_ack: Some(LIMIT),
        ..leader()
    };
    assert!(readiness(&at_limit, &report(), LIMIT).ready);
    let stale = FarmStatus {
        millis_since_quorum_ack: Some(LIMIT + 1),
        ..leader()
    };
    assert_eq!(
        problems(&stale, &report()),
        ["leader without a quorum for 3001 ms (limit 3000 ms)"]
    );
    let never = FarmStatus {
        millis_since_quorum_ack: None,
        ..leader()
    };
    assert_eq!(
        problems(&never, &report()),
        ["leader not yet acknowledged by a quorum (term 7)"]
    );
    // A follower's missing quorum time is not a problem.
    assert!(readiness(&follower(), &report(), 0).ready);
}

#[test]
fn an_unusable_drop_folder_is_not_ready() {
    let r = NodeReport {
        drop_folder_error: Some("permission denied (os error 13)".to_string()),
        ..report()
    };
    assert_eq!(
        problems(&follower(), &r),
        ["drop folder /srv/drop: permission denied (os error 13)"]
    );
    let unknown = NodeReport {
        drop_folder: String::new(),
        drop_folder_error: Some("not watched yet".to_string()),
        ..report()
    };
    assert_eq!(
        problems(&follower(), &unknown),
        ["drop folder: not watched yet"]
    );
}

#[test]
fn smtp_must_listen_only_when_it_is_on() {
    let down = NodeReport {
        smtp_listening: false,
        ..report()
    };
    assert_eq!(
        problems(&follower(), &down),
        ["smtp is not listening on 0.0.0.0:25"]
    );
    let off = NodeReport {
        smtp_listen: None,
        smtp_listening: false,
        ..report()
    };
    assert!(readiness(&follower(), &off, LIMIT).ready);
}

#[test]
fn roles_have_lowercase_names() {
    let names: Vec<&str> = [
        Role::Leader,
        Role::Follower,
        Role::Candidate,
        Role::Learner,
        Role::Shutdown,
    ]
    .into_iter()
    .map(role_name)
    .collect();
    assert_eq!(
        names,
        ["leader", "follower", "candidate", "learner", "shutdown"]
    );
}

#[test]
fn a_stopping_node_is_not_ready() {
    let stopping = NodeReport {
        stopping: true,
        ..report()
    };
    assert_eq!(
        problems(&follower(), &stopping),
        ["the node is shutting down (finishing the work in flight)"]
    );
}

//! Unit tests of the status and membership tables and their JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::client::unreachable;

fn member(node_id: u64, voter: bool, matched_index: Option<u64>) -> Member {
    Member {
        node_id,
        address: format!("10.0.0.{node_id}:7700"),
        voter,
        matched_index,
    }
}

fn node(node_id: u64, role: &str, applied: u64, last_log: u64) -> NodeStatus {
    NodeStatus {
        node_id,
        address: format!("10.0.0.{node_id}:7700"),
        role: role.to_string(),
        leader: Some(1),
        term: 3,
        last_applied_index: Some(applied),
        last_log_index: Some(last_log),
        members: vec![
            member(1, true, None),
            member(2, true, None),
            member(3, true, None),
        ],
        claims_held: node_id * 2,
        claims_in_flight_total: 6,
        claims_by_node: [(1, 2), (2, 4)].into(),
        config_version: 2,
        drop_folder: "/srv/drop".to_string(),
        drop_folder_backlog: 10 + node_id,
        ready: true,
        ..NodeStatus::default()
    }
}

fn farm() -> Vec<NodeStatus> {
    let mut follower = node(2, "follower", 117, 118);
    follower.ready = false;
    follower.not_ready_reasons = vec!["drop folder /srv/drop: permission denied".to_string()];
    let gone = unreachable(
        &member(3, true, None),
        "cannot connect to 10.0.0.3:7700: connection refused",
    );
    vec![node(1, "leader", 120, 120), follower, gone]
}

#[test]
fn the_status_table_aligns_columns_and_lists_reasons() {
    let expected = "\
NODE  ADDRESS        ROLE         LEADER  TERM  APPLIED  LAG  CLAIMS  BACKLOG  READY
1     10.0.0.1:7700  leader       1       3     120      0    2       11       yes
2     10.0.0.2:7700  follower     1       3     117      3    4       12       no
3     10.0.0.3:7700  unreachable  -       -     -        -    -       -        no

node 2: drop folder /srv/drop: permission denied
node 3: cannot connect to 10.0.0.3:7700: connection refused
";
    assert_eq!(status_table(&farm()), expected);
}

#[test]
fn without_an_answering_leader_lag_is_unknown() {
    let nodes = vec![node(2, "follower", 117, 118)];
    let table = status_table(&nodes);
    let row = table.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "2",
            "10.0.0.2:7700",
            "follower",
            "1",
            "3",
            "117",
            "-",
            "4",
            "12",
            "yes"
        ]
    );
    assert_eq!(
        table.lines().count(),
        2,
        "a ready farm has no reasons: {table}"
    );
}

#[test]
fn an_empty_farm_is_a_header() {
    assert_eq!(
        status_table(&[]),
        "NODE  ADDRESS  ROLE  LEADER  TERM  APPLIED  LAG  CLAIMS  BACKLOG  READY\n"
    );
}

#[test]
fn status_json_has_every_field() {
    let value = status_json(&farm());
    let nodes = value.as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(
        nodes[0],
        json!({
            "node_id": 1,
            "address": "10.0.0.1:7700",
            "role": "leader",
            "leader": 1,
            "term": 3,
            "last_applied_index": 120,
            "last_log_index": 120,
            "snapshot_index": null,
            "purged_index": null,
            "members": [
                {"node_id": 1, "address": "10.0.0.1:7700", "voter": true, "matched_index": null},
                {"node_id": 2, "address": "10.0.0.2:7700", "voter": true, "matched_index": null},
                {"node_id": 3, "address": "10.0.0.3:7700", "voter": true, "matched_index": null},
            ],
            "claims_held": 2,
            "claims_in_flight_total": 6,
            "claims_by_node": {"1": 2, "2": 4},
            "config_version": 2,
            "drop_folder": "/srv/drop",
            "drop_folder_backlog": 11,
            "smtp_listen": null,
            "ready": true,
            "not_ready_reasons": [],
            "millis_since_quorum_ack": null,
        })
    );
    assert_eq!(nodes[2]["role"], "unreachable");
    assert_eq!(nodes[2]["address"], "10.0.0.3:7700");
    assert_eq!(
        nodes[1]["not_ready_reasons"][0],
        "drop folder /srv/drop: permission denied"
    );
}

#[test]
fn membership_as_table_and_json() {
    let reply = MembershipReply {
        members: vec![member(1, true, Some(40)), member(4, false, Some(12))],
    };
    assert_eq!(
        membership_table(&reply),
        "\
NODE  ADDRESS        VOTER         MATCHED
1     10.0.0.1:7700  yes           40
4     10.0.0.4:7700  no (learner)  12
"
    );
    assert_eq!(
        membership_json(&reply),
        json!({"members": [
            {"node_id": 1, "address": "10.0.0.1:7700", "voter": true, "matched_index": 40},
            {"node_id": 4, "address": "10.0.0.4:7700", "voter": false, "matched_index": 12},
        ]})
    );
}

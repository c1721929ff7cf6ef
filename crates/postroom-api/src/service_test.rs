//! Unit tests of request validation, the `Status` answer built from a farm
//! status, and the service's name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use postroom_cluster::{FarmStatus, Role};
use tonic::server::NamedService;
use tonic::Code;

use super::*;

#[test]
fn node_id_zero_is_refused() {
    let e = check_node_id(0).unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(e.message(), "node_id: 0 is not allowed");
    assert_eq!(check_node_id(3).unwrap(), 3);
}

#[test]
fn addresses_must_be_host_and_port() {
    for ok in ["10.0.0.2:7700", "node-b.example:7700", "[::1]:7700"] {
        assert!(check_address(ok).is_ok(), "{ok}");
    }
    let cases = [
        ("", "address: \"\": it is empty, expected host:port"),
        ("node-b", "address: \"node-b\": no port, expected host:port"),
        (":7700", "address: \":7700\": no host, expected host:port"),
        ("node-b:0", "address: \"node-b:0\": the port is not 1-65535"),
        (
            "node-b:70000",
            "address: \"node-b:70000\": the port is not 1-65535",
        ),
        (
            "http://node-b:7700",
            "address: \"http://node-b:7700\": expected host:port without scheme, path or spaces",
        ),
        (
            "node b:7700",
            "address: \"node b:7700\": expected host:port without scheme, path or spaces",
        ),
    ];
    for (bad, message) in cases {
        let e = check_address(bad).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(e.message(), message);
    }
}

#[test]
fn the_health_name_is_the_grpc_service_name() {
    assert_eq!(
        <ClusterAdminServer<ClusterAdminService> as NamedService>::NAME,
        ADMIN_SERVICE_NAME
    );
}

#[test]
fn status_combines_raft_state_leases_report_and_readiness() {
    let status = FarmStatus {
        node_id: 1,
        role: Role::Leader,
        leader: Some(1),
        term: 4,
        last_applied_index: Some(90),
        last_log_index: Some(91),
        snapshot_index: Some(50),
        purged_index: Some(40),
        voters: BTreeSet::from([1, 2]),
        members: BTreeMap::from([
            (1, "h1:7700".to_string()),
            (2, "h2:7700".to_string()),
            (3, "h3:7700".to_string()),
        ]),
        matched: BTreeMap::from([(1, Some(91)), (2, Some(88)), (3, None)]),
        millis_since_quorum_ack: Some(12),
    };
    let leases = BTreeMap::from([(1, 4), (2, 3)]);
    let report = NodeReport {
        drop_folder: "/srv/drop".to_string(),
        drop_folder_backlog: 17,
        drop_folder_error: None,
        smtp_listen: None,
        smtp_listening: false,
        stopping: false,
    };
    let readiness = Readiness {
        ready: false,
        problems: vec!["drop folder /srv/drop: gone".to_string()],
    };
    let s = node_status(&status, 6, &leases, &report, &readiness);
    assert_eq!(s.node_id, 1);
    assert_eq!(s.address, "h1:7700");
    assert_eq!(s.role, "leader");
    assert_eq!((s.leader, s.term), (Some(1), 4));
    assert_eq!(
        (
            s.last_applied_index,
            s.last_log_index,
            s.snapshot_index,
            s.purged_index
        ),
        (Some(90), Some(91), Some(50), Some(40))
    );
    assert_eq!((s.claims_held, s.claims_in_flight_total), (4, 7));
    assert_eq!(s.claims_by_node, [(1, 4), (2, 3)].into());
    assert_eq!(s.config_version, 6);
    assert_eq!(
        (s.drop_folder.as_str(), s.drop_folder_backlog),
        ("/srv/drop", 17)
    );
    assert_eq!(s.smtp_listen, "");
    assert!(!s.ready);
    assert_eq!(s.not_ready_reasons, ["drop folder /srv/drop: gone"]);
    assert_eq!(s.millis_since_quorum_ack, Some(12));
    let members: Vec<(u64, &str, bool, Option<u64>)> = s
        .members
        .iter()
        .map(|m| (m.node_id, m.address.as_str(), m.voter, m.matched_index))
        .collect();
    assert_eq!(
        members,
        [
            (1, "h1:7700", true, Some(91)),
            (2, "h2:7700", true, Some(88)),
            (3, "h3:7700", false, None),
        ]
    );
}

#[test]
fn a_node_outside_the_farm_has_no_address_and_holds_nothing() {
    let status = FarmStatus {
        node_id: 5,
        role: Role::Learner,
        leader: None,
        term: 0,
        last_applied_index: None,
        last_log_index: None,
        snapshot_index: None,
        purged_index: None,
        voters: BTreeSet::new(),
        members: BTreeMap::new(),
        matched: BTreeMap::new(),
        millis_since_quorum_ack: None,
    };
    let report = NodeReport {
        smtp_listen: Some("0.0.0.0:25".to_string()),
        smtp_listening: true,
        ..NodeReport::default()
    };
    let s = node_status(&status, 0, &BTreeMap::new(), &report, &Readiness::default());
    assert_eq!(s.address, "");
    assert_eq!((s.claims_held, s.claims_in_flight_total), (0, 0));
    assert!(s.claims_by_node.is_empty());
    assert_eq!(s.smtp_listen, "0.0.0.0:25");
    assert!(s.members.is_empty());
}

#[test]
fn membership_changes_need_a_node_in_a_farm() {
    let pristine = FarmStatus {
        node_id: 4,
        role: Role::Learner,
        leader: None,
        term: 0,
        last_applied_index: None,
        last_log_index: None,
        snapshot_index: None,
        purged_index: None,
        voters: BTreeSet::new(),
        members: BTreeMap::new(),
        matched: BTreeMap::new(),
        millis_since_quorum_ack: None,
    };
    let e = check_in_a_farm(&pristine).unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(
        e.message(),
        "node 4 is not in a farm yet (it waits to be added); send membership changes to a member"
    );
    let member = FarmStatus {
        members: BTreeMap::from([(1, "h1:7700".to_string())]),
        ..pristine
    };
    assert!(check_in_a_farm(&member).is_ok());
}

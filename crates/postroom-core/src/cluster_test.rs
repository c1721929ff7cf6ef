use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn settings(node_id: u64, peers: &[&str]) -> ClusterSettings {
    ClusterSettings {
        node_id,
        peers: peers.iter().map(|p| p.parse().unwrap()).collect(),
        ..ClusterSettings::default()
    }
}

#[test]
fn peers_parse_and_name_what_is_wrong() {
    let p: Peer = "2@10.0.0.2:7700".parse().unwrap();
    assert_eq!((p.id, p.address.as_str()), (2, "10.0.0.2:7700"));
    assert_eq!(p.to_string(), "2@10.0.0.2:7700");
    for (bad, why) in [
        ("10.0.0.2:7700", "no '@'"),
        ("x@h:1", "not a number"),
        ("0@h:1", "ids start at 1"),
        ("1@h", "not host:port"),
        ("1@h:0", "not host:port"),
        ("1@:7700", "not host:port"),
    ] {
        let err = bad.parse::<Peer>().unwrap_err();
        assert!(err.contains(bad) && err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn formation_follows_peers_and_join() {
    assert_eq!(ClusterSettings::default().formation(), Formation::Single);
    let s = settings(2, &["1@a:1", "2@b:1", "3@c:1"]);
    assert_eq!(
        s.formation(),
        Formation::Static(BTreeMap::from([
            (1, "a:1".to_string()),
            (2, "b:1".to_string()),
            (3, "c:1".to_string())
        ]))
    );
    assert!(s.problems().is_empty(), "{:?}", s.problems());
    let join = ClusterSettings {
        join: true,
        ..ClusterSettings::default()
    };
    assert_eq!(join.formation(), Formation::Join);
    assert!(join.is_multi_node());
}

#[test]
fn advertised_address_prefers_setting_then_own_peer_entry_then_bound() {
    let bound = "127.0.0.1:4000".parse().unwrap();
    let mut s = settings(2, &["1@a:1", "2@b:1"]);
    assert_eq!(s.advertised_address(bound), "b:1");
    s.advertise = Some("c:9".to_string());
    assert_eq!(s.advertised_address(bound), "c:9");
    assert_eq!(
        ClusterSettings::default().advertised_address(bound),
        "127.0.0.1:4000"
    );
}

#[test]
fn peer_rules_name_the_key() {
    let problems = settings(4, &["1@a:1", "1@b:1"]).problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("node id 1 is listed twice")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("this node (4) is not listed")),
        "{problems:?}"
    );

    let mut s = ClusterSettings {
        join: true,
        listen: "0.0.0.0:7700".to_string(),
        ..ClusterSettings::default()
    };
    let problems = s.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("cluster.advertise: required")),
        "{problems:?}"
    );
    s.advertise = Some("0.0.0.0:7700".to_string());
    assert!(s
        .problems()
        .iter()
        .any(|p| p.contains("not an address peers can reach")));
    s.advertise = Some("node-4.postroom:7700".to_string());
    assert!(s.problems().is_empty(), "{:?}", s.problems());
    s.peers = vec!["4@x:1".parse().unwrap()];
    assert!(s.problems().iter().any(|p| p.starts_with("cluster.join:")));
}

#[test]
fn drop_files_spread_evenly_and_stay_put_when_others_leave() {
    let three = BTreeSet::from([1, 2, 3]);
    let mut counts = BTreeMap::new();
    let names: Vec<String> = (0..3000).map(|i| format!("msg-{i:05}.eml")).collect();
    for n in &names {
        *counts
            .entry(preferred_node(n, &three).unwrap())
            .or_insert(0) += 1;
    }
    for (node, count) in &counts {
        assert!((850..1150).contains(count), "node {node}: {count} of 3000");
    }
    // Removing node 3 moves only node 3's files.
    let two = BTreeSet::from([1, 2]);
    for n in &names {
        let before = preferred_node(n, &three).unwrap();
        let after = preferred_node(n, &two).unwrap();
        if before != 3 {
            assert_eq!(before, after, "{n}");
        }
    }
    assert_eq!(preferred_node("a.eml", &BTreeSet::new()), None);
    assert_eq!(preferred_node("a.eml", &BTreeSet::from([7])), Some(7));
}

#[test]
fn smtp_spool_files_belong_to_their_writer_while_it_is_a_member() {
    let three = BTreeSet::from([1, 2, 3]);
    for i in 0..50 {
        assert_eq!(
            preferred_node(&format!("smtp-2-{i:016x}.eml"), &three),
            Some(2)
        );
    }
    let without_two = BTreeSet::from([1, 3]);
    let owner = preferred_node("smtp-2-00000000000000aa.eml", &without_two).unwrap();
    assert!(without_two.contains(&owner));
}

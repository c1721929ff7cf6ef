//! Whether a node may be added to the farm, decided before the membership
//! changes (pure): the node at the address must be the one named and must
//! be waiting to join; every member must be recorded at an address the new
//! node can reach; and the farm's folders must be shared, since a second
//! node would otherwise file into folders of its own.

use std::collections::BTreeMap;
use std::net::IpAddr;

use postroom_core::config::FarmConfig;

use crate::proto::NodeStatus;

/// Whether `host:port` names this host only (loopback or unspecified).
fn local_only(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Why node `id` at `address` may not join a farm of `members` with
/// `config`, given what the node at `address` said about itself (`target`);
/// `None` when it may.
pub(crate) fn join_problem(
    id: u64,
    address: &str,
    members: &BTreeMap<u64, String>,
    config: Option<&FarmConfig>,
    target: Result<&NodeStatus, String>,
) -> Option<String> {
    let target = match target {
        Ok(t) => t,
        Err(e) => return Some(format!("cannot ask the node at {address} who it is: {e}")),
    };
    if target.node_id != id {
        return Some(format!(
            "the node at {address} is node {}, not node {id}",
            target.node_id
        ));
    }
    if !target.members.is_empty() {
        let theirs: Vec<u64> = target.members.iter().map(|m| m.node_id).collect();
        return Some(format!(
            "node {id} at {address} is already in a farm (members {theirs:?}); start it with an empty data_dir and cluster.join = true"
        ));
    }
    if !local_only(address) {
        if let Some((member, at)) = members.iter().find(|(_, at)| local_only(at)) {
            return Some(format!(
                "node {member} is recorded at {at}, which node {id} at {address} cannot reach; start node {member} with cluster.advertise set to an address other hosts reach"
            ));
        }
    }
    let local = config.map(FarmConfig::node_local_paths).unwrap_or_default();
    if !local.is_empty() {
        return Some(format!(
            "the farm's folders are under each node's data_dir; make them shared first: {}",
            local.join("; ")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use postroom_core::config::ConfigFile;

    use super::*;
    use crate::proto::Member;

    fn waiting(node_id: u64) -> NodeStatus {
        NodeStatus {
            node_id,
            ..NodeStatus::default()
        }
    }

    fn shared_config() -> FarmConfig {
        let mut config = ConfigFile::embedded_defaults().farm_config();
        config.drop_folder.path = Some(PathBuf::from("/shared/drop"));
        config.quarantine.path = Some(PathBuf::from("/shared/quarantine"));
        config.libraries[0].path = Some(PathBuf::from("/shared/documents"));
        config
    }

    fn members(at: &str) -> BTreeMap<u64, String> {
        BTreeMap::from([(1, at.to_string())])
    }

    #[test]
    fn a_waiting_node_with_the_right_id_may_join_a_shared_farm() {
        let config = shared_config();
        let ok = join_problem(
            2,
            "pr2:7700",
            &members("pr1:7700"),
            Some(&config),
            Ok(&waiting(2)),
        );
        assert_eq!(ok, None);
        // All on one host (tests, a laptop): loopback everywhere is fine.
        let ok = join_problem(
            2,
            "127.0.0.2:7700",
            &members("127.0.0.1:7700"),
            Some(&config),
            Ok(&waiting(2)),
        );
        assert_eq!(ok, None);
    }

    #[test]
    fn each_refusal_names_what_is_wrong() {
        let config = shared_config();
        let m = members("pr1:7700");
        let cases = [
            (
                join_problem(
                    2,
                    "pr2:7700",
                    &m,
                    Some(&config),
                    Err("connection refused".into()),
                ),
                "cannot ask the node at pr2:7700 who it is: connection refused",
            ),
            (
                join_problem(2, "pr2:7700", &m, Some(&config), Ok(&waiting(3))),
                "the node at pr2:7700 is node 3, not node 2",
            ),
            (
                join_problem(
                    2,
                    "pr2:7700",
                    &m,
                    Some(&config),
                    Ok(&NodeStatus {
                        node_id: 2,
                        members: vec![Member {
                            node_id: 5,
                            ..Member::default()
                        }],
                        ..NodeStatus::default()
                    }),
                ),
                "already in a farm (members [5])",
            ),
            (
                join_problem(
                    2,
                    "pr2:7700",
                    &members("127.0.0.1:7700"),
                    Some(&config),
                    Ok(&waiting(2)),
                ),
                "node 1 is recorded at 127.0.0.1:7700",
            ),
            (
                join_problem(
                    2,
                    "pr2:7700",
                    &members("0.0.0.0:7700"),
                    Some(&config),
                    Ok(&waiting(2)),
                ),
                "cluster.advertise",
            ),
            (
                join_problem(
                    2,
                    "pr2:7700",
                    &m,
                    Some(&ConfigFile::embedded_defaults().farm_config()),
                    Ok(&waiting(2)),
                ),
                "drop_folder.path: must be an absolute path",
            ),
        ];
        for (problem, needle) in cases {
            let problem = problem.unwrap();
            assert!(problem.contains(needle), "{needle} missing in {problem}");
        }
    }
}

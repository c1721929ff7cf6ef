//! What `postroom cluster ...` prints: aligned tables for people (like
//! kubectl or etcdctl) and JSON for scripts, built by hand since the
//! generated prost types do not derive serde.

use serde_json::{json, Value};

use crate::proto::{Member, MembershipReply, NodeStatus};

const UNREACHABLE: &str = "unreachable";

/// Left-aligned columns two spaces apart, no trailing spaces.
pub fn render(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// The last log index of the leader among `nodes` (the answering leader of
/// the highest term), which every member's applied index is compared to.
fn leader_last_log(nodes: &[NodeStatus]) -> Option<u64> {
    nodes
        .iter()
        .filter(|n| n.role == "leader")
        .max_by_key(|n| n.term)
        .and_then(|n| n.last_log_index)
}

/// The farm as a table, one row per node: NODE ADDRESS ROLE LEADER TERM
/// APPLIED LAG CLAIMS BACKLOG READY. LAG is the leader's last log index
/// minus the node's applied index (`-` when no leader answered); a member
/// that did not answer shows ROLE `unreachable`. The reasons of every node
/// that is not ready follow the table, one per line.
pub fn status_table(nodes: &[NodeStatus]) -> String {
    let header = [
        "NODE", "ADDRESS", "ROLE", "LEADER", "TERM", "APPLIED", "LAG", "CLAIMS", "BACKLOG", "READY",
    ];
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    let leader_log = leader_last_log(nodes);
    for n in nodes {
        let ready = if n.ready { "yes" } else { "no" }.to_string();
        let row = if n.role == UNREACHABLE {
            let mut row = vec![n.node_id.to_string(), or_dash(&n.address), n.role.clone()];
            row.extend(std::iter::repeat_n("-".to_string(), 6));
            row.push(ready);
            row
        } else {
            let lag = leader_log.map(|last| last.saturating_sub(n.last_applied_index.unwrap_or(0)));
            vec![
                n.node_id.to_string(),
                or_dash(&n.address),
                n.role.clone(),
                opt(n.leader),
                n.term.to_string(),
                opt(n.last_applied_index),
                opt(lag),
                n.claims_held.to_string(),
                n.drop_folder_backlog.to_string(),
                ready,
            ]
        };
        rows.push(row);
    }
    let mut out = render(&rows);
    let reasons: Vec<String> = nodes
        .iter()
        .filter(|n| !n.ready)
        .flat_map(|n| {
            let mut lines: Vec<String> = n
                .not_ready_reasons
                .iter()
                .map(|r| format!("node {}: {r}", n.node_id))
                .collect();
            if lines.is_empty() {
                lines.push(format!("node {}: not ready", n.node_id));
            }
            lines
        })
        .collect();
    if !reasons.is_empty() {
        out.push('\n');
        for line in reasons {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn member_json(m: &Member) -> Value {
    json!({
        "node_id": m.node_id,
        "address": m.address,
        "voter": m.voter,
        "matched_index": m.matched_index,
    })
}

fn node_json(n: &NodeStatus) -> Value {
    json!({
        "node_id": n.node_id,
        "address": n.address,
        "role": n.role,
        "leader": n.leader,
        "term": n.term,
        "last_applied_index": n.last_applied_index,
        "last_log_index": n.last_log_index,
        "snapshot_index": n.snapshot_index,
        "purged_index": n.purged_index,
        "members": n.members.iter().map(member_json).collect::<Vec<_>>(),
        "claims_held": n.claims_held,
        "claims_in_flight_total": n.claims_in_flight_total,
        "claims_by_node": n.claims_by_node.iter().map(|(id, c)| (id.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
        "config_version": n.config_version,
        "drop_folder": n.drop_folder,
        "drop_folder_backlog": n.drop_folder_backlog,
        "smtp_listen": if n.smtp_listen.is_empty() { Value::Null } else { json!(n.smtp_listen) },
        "ready": n.ready,
        "not_ready_reasons": n.not_ready_reasons,
        "millis_since_quorum_ack": n.millis_since_quorum_ack,
    })
}

/// The farm as a JSON array, one object per node with every status field
/// (absent values as `null`, `smtp_listen` `null` when SMTP is off).
pub fn status_json(nodes: &[NodeStatus]) -> Value {
    Value::Array(nodes.iter().map(node_json).collect())
}

/// The membership as a table: NODE ADDRESS VOTER MATCHED (MATCHED only
/// known when the answering node leads).
pub fn membership_table(reply: &MembershipReply) -> String {
    let mut rows = vec![["NODE", "ADDRESS", "VOTER", "MATCHED"]
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()];
    for m in &reply.members {
        rows.push(vec![
            m.node_id.to_string(),
            or_dash(&m.address),
            if m.voter { "yes" } else { "no (learner)" }.to_string(),
            opt(m.matched_index),
        ]);
    }
    render(&rows)
}

/// The membership as JSON: `{"members": [...]}`.
pub fn membership_json(reply: &MembershipReply) -> Value {
    json!({ "members": reply.members.iter().map(member_json).collect::<Vec<_>>() })
}

#[cfg(test)]
#[path = "format_test.rs"]
mod tests;

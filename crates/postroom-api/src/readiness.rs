//! Whether a node can do its job: the pure rules ([`readiness`]) over the
//! farm's status and what the binary reports about itself ([`NodeProbe`]),
//! and the monitor that re-evaluates them periodically and publishes the
//! answer to HTTP `/readyz`, the admin `Status` call and the
//! `grpc.health.v1` service.

use std::sync::Arc;
use std::time::Duration;

use postroom_cluster::{Farm, FarmStatus, Role};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::service::ADMIN_SERVICE_NAME;

/// A leader not acknowledged by a quorum for longer than this is not ready:
/// followers start an election at most 2 s after the last heartbeat (leader
/// lease plus election timeout, `postroom-cluster` `raft_config`), so it has
/// probably been replaced (or cut off).
pub const QUORUM_ACK_LIMIT_MS: u64 = 3_000;

/// Facts about the local node that only the binary knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeReport {
    /// The drop folder this node watches.
    pub drop_folder: String,
    /// Files waiting in it.
    pub drop_folder_backlog: u64,
    /// Why the drop folder cannot be used, if it cannot.
    pub drop_folder_error: Option<String>,
    /// Where the SMTP front door listens; `None` when SMTP is disabled.
    pub smtp_listen: Option<String>,
    /// Whether the SMTP listener is accepting connections.
    pub smtp_listening: bool,
    /// The node was told to stop (SIGTERM) and is draining.
    pub stopping: bool,
}

/// The binary's side of status and readiness. Called from a blocking
/// thread every monitor tick and on each `Status` call, so it may touch the
/// file system but should answer quickly.
pub trait NodeProbe: Send + Sync + 'static {
    /// The node's current facts.
    fn report(&self) -> NodeReport;
}

/// Whether the node can do its job, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readiness {
    pub ready: bool,
    /// One lowercase sentence per broken rule, each naming its value.
    pub problems: Vec<String>,
}

/// The lowercase name of a Raft role, as status and messages show it.
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Learner => "learner",
        Role::Shutdown => "shutdown",
    }
}

/// Pure: is this node able to do its job? It must not be stopping, be a member of the farm,
/// a leader, follower or learner, know a leader; as the leader it must have
/// been acknowledged by a quorum within `max_quorum_ack_ms`; its drop folder
/// must be usable and, when SMTP is on, its listener listening.
pub fn readiness(status: &FarmStatus, report: &NodeReport, max_quorum_ack_ms: u64) -> Readiness {
    let mut problems = Vec::new();
    if report.stopping {
        problems.push("the node is shutting down (finishing the work in flight)".to_string());
    }
    let role = role_name(status.role);
    if !status.members.contains_key(&status.node_id) {
        let members: Vec<u64> = status.members.keys().copied().collect();
        problems.push(format!(
            "node {} is not a member of the farm (members {members:?})",
            status.node_id
        ));
    }
    if matches!(status.role, Role::Candidate | Role::Shutdown) {
        problems.push(format!("role {role} cannot serve (term {})", status.term));
    }
    if status.leader.is_none() {
        problems.push(format!(
            "no leader known (role {role}, term {})",
            status.term
        ));
    }
    if status.role == Role::Leader {
        match status.millis_since_quorum_ack {
            Some(ms) if ms <= max_quorum_ack_ms => {}
            Some(ms) => problems.push(format!(
                "leader without a quorum for {ms} ms (limit {max_quorum_ack_ms} ms)"
            )),
            None => problems.push(format!(
                "leader not yet acknowledged by a quorum (term {})",
                status.term
            )),
        }
    }
    if let Some(e) = &report.drop_folder_error {
        if report.drop_folder.is_empty() {
            problems.push(format!("drop folder: {e}"));
        } else {
            problems.push(format!("drop folder {}: {e}", report.drop_folder));
        }
    }
    if let Some(addr) = &report.smtp_listen {
        if !report.smtp_listening {
            problems.push(format!("smtp is not listening on {addr}"));
        }
    }
    Readiness {
        ready: problems.is_empty(),
        problems,
    }
}

/// Ask the probe on a blocking thread; a probe that panics is a problem of
/// the drop folder side, reported as such.
pub(crate) async fn report_of(probe: &Arc<dyn NodeProbe>) -> NodeReport {
    let probe = probe.clone();
    match tokio::task::spawn_blocking(move || probe.report()).await {
        Ok(report) => report,
        Err(e) => NodeReport {
            drop_folder_error: Some(format!("the node probe failed: {e}")),
            ..NodeReport::default()
        },
    }
}

/// Recompute readiness every `every` until `shutdown`; publish it on the
/// returned watch and set the grpc.health.v1 status of `""` and of
/// `postroom.admin.v1.ClusterAdmin` to SERVING / NOT_SERVING accordingly.
/// The first evaluation happens in this call (the probe is asked once on
/// the caller's thread), so the watch starts with a real answer.
pub fn spawn_readiness_monitor(
    farm: Farm,
    probe: Arc<dyn NodeProbe>,
    health: HealthReporter,
    every: Duration,
    shutdown: CancellationToken,
) -> watch::Receiver<Readiness> {
    let first = readiness(&farm.status(), &probe.report(), QUORUM_ACK_LIMIT_MS);
    let (tx, rx) = watch::channel(first.clone());
    tokio::spawn(async move {
        let mut published: Option<bool> = None;
        let mut next = Some(first);
        loop {
            let now = match next.take() {
                Some(first) => first,
                None => readiness(
                    &farm.status(),
                    &report_of(&probe).await,
                    QUORUM_ACK_LIMIT_MS,
                ),
            };
            let changed = published.is_none() || *tx.borrow() != now;
            if changed && now.ready {
                tracing::info!("node ready");
            } else if changed {
                tracing::warn!(problems = ?now.problems, "node not ready");
            }
            if published != Some(now.ready) {
                let serving = if now.ready {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                health.set_service_status("", serving).await;
                health.set_service_status(ADMIN_SERVICE_NAME, serving).await;
                published = Some(now.ready);
            }
            tx.send_if_modified(|old| {
                let changed = *old != now;
                *old = now;
                changed
            });
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
        tracing::debug!("readiness monitor stopped");
    });
    rx
}

#[cfg(test)]
#[path = "readiness_test.rs"]
mod tests;

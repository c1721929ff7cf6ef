//! What only the leader can do, from any node: replicate a command (the
//! leader stamps its time), confirm a read index for linearizable reads, and
//! change the membership. On the leader these run locally; a follower
//! forwards them over the `Propose` / `ReadIndex` / `ChangeMembership` RPCs to
//! the leader it knows, retrying through elections within a time budget.
//!
//! Every command is safe to repeat (a retried claim re-grants to the same
//! node, a retried finish answers `AlreadyFinished`), so a forward whose reply
//! was lost is simply sent again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use postroom_core::units::millis;
use postroom_core::{Command, FarmState, Proposal, Response, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::farm::{now_millis, stopped, write_error, Farm};
use crate::network::{peer_client, PeerClient};
use crate::proto::RaftRequest;
use crate::types::RaftNodeId;
use crate::ClusterError;

/// How long a proposal may look for a leader and be applied.
const PROPOSE_BUDGET: Duration = Duration::from_secs(10);
/// How long a new member may take to catch up with the log before it is
/// promoted (else it is removed again and the change fails).
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);
/// How long a membership change may take (a new voter catches up first).
const MEMBERSHIP_BUDGET: Duration = Duration::from_secs(120);
/// How long one forwarded proposal or read index may wait for the leader's
/// reply before it is sent again (to whoever leads then): a leader cut off
/// mid-call never answers, and an election takes 1–2 s.
const FORWARD_ATTEMPT: Duration = Duration::from_secs(3);
/// Pause between attempts while the leader is unknown or changing.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A change of the farm's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add node `id` at `address` as a learner, wait until it caught up, make it a voter.
    AddVoter { id: u64, address: String },
    /// Remove node `id` (voter or learner) from the farm.
    Remove { id: u64 },
}

impl std::fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipChange::AddVoter { id, address } => write!(f, "add node {id} at {address}"),
            MembershipChange::Remove { id } => write!(f, "remove node {id}"),
        }
    }
}

/// A leader-only operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum LeaderOp {
    Propose(Command),
    ReadIndex,
    ChangeMembership(MembershipChange),
}

/// Its result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum LeaderDone {
    /// The proposal's log index and the state machine's response.
    Applied {
        index: u64,
        response: Response,
    },
    /// Reads that wait until this index is applied are linearizable.
    ReadIndex(u64),
    MembershipChanged,
}

/// Why the leader (or the node asked) did not do it, as sent on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Refusal {
    NotLeader { leader: Option<u64> },
    NoQuorum { detail: String },
    Failed { detail: String },
}

impl Refusal {
    pub(crate) fn from_error(e: &ClusterError) -> Refusal {
        match e {
            ClusterError::NotLeader { leader } => Refusal::NotLeader { leader: *leader },
            // Stopping: whoever leads next can do it.
            ClusterError::Stopped { .. } => Refusal::NotLeader { leader: None },
            ClusterError::NoQuorum { detail } => Refusal::NoQuorum {
                detail: detail.clone(),
            },
            other => Refusal::Failed {
                detail: other.to_string(),
            },
        }
    }

    fn into_error(self, node: u64) -> ClusterError {
        match self {
            Refusal::NotLeader { leader } => ClusterError::NotLeader { leader },
            Refusal::NoQuorum { detail } => ClusterError::NoQuorum {
                detail: format!("node {node}: {detail}"),
            },
            Refusal::Failed { detail } => ClusterError::Remote { node, detail },
        }
    }
}

impl LeaderOp {
    /// The RPC that carries this operation.
    pub(crate) fn rpc(&self) -> &'static str {
        match self {
            LeaderOp::Propose(_) => "Propose",
            LeaderOp::ReadIndex => "ReadIndex",
            LeaderOp::ChangeMembership(_) => "ChangeMembership",
        }
    }

    fn budget(&self) -> Duration {
        match self {
            LeaderOp::ChangeMembership(_) => MEMBERSHIP_BUDGET,
            LeaderOp::Propose(_) | LeaderOp::ReadIndex => PROPOSE_BUDGET,
        }
    }

    /// How long one forwarded attempt may wait for its reply.
    fn attempt(&self) -> Duration {
        match self {
            LeaderOp::ChangeMembership(_) => MEMBERSHIP_BUDGET,
            LeaderOp::Propose(_) | LeaderOp::ReadIndex => FORWARD_ATTEMPT,
        }
    }
}

/// A gRPC failure of the connection rather than an answer of the leader.
fn transport_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Cancelled
            | tonic::Code::Unknown
    )
}

/// Worth another attempt once the leader is known (again).
fn retryable(e: &ClusterError) -> bool {
    matches!(
        e,
        ClusterError::NotLeader { .. }
            | ClusterError::NoLeader { .. }
            | ClusterError::Unreachable { .. }
    )
}

impl Farm {
    /// Replicate one command through the leader (stamped with the leader's
    /// clock) and return the state machine's response once this node has
    /// applied it too (or the time budget ran out waiting for that).
    pub async fn propose(&self, command: Command) -> Result<Response, ClusterError> {
        let deadline = Instant::now() + PROPOSE_BUDGET;
        match self.on_leader(LeaderOp::Propose(command)).await? {
            LeaderDone::Applied { index, response } => {
                let left = deadline.saturating_duration_since(Instant::now());
                self.wait_applied(index, left)
                    .await
                    .map_err(|_| ClusterError::NotAppliedHere {
                        index,
                        waited_ms: millis(left),
                    })?;
                Ok(response)
            }
            other => Err(ClusterError::unexpected("propose", &other)),
        }
    }

    /// Read the state after every write committed before this call
    /// (confirmed with a quorum by the leader).
    pub async fn read_linearizable<T>(
        &self,
        f: impl FnOnce(&FarmState) -> T,
    ) -> Result<T, ClusterError> {
        match self.on_leader(LeaderOp::ReadIndex).await? {
            LeaderDone::ReadIndex(index) => {
                self.wait_applied(index, PROPOSE_BUDGET).await?;
                Ok(self.read(f))
            }
            other => Err(ClusterError::unexpected("read index", &other)),
        }
    }

    /// Add or remove a member, through the leader.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<(), ClusterError> {
        match self.on_leader(LeaderOp::ChangeMembership(change)).await? {
            LeaderDone::MembershipChanged => Ok(()),
            other => Err(ClusterError::unexpected("membership change", &other)),
        }
    }

    /// Run `op` on the leader: here if this node leads, else forwarded.
    async fn on_leader(&self, op: LeaderOp) -> Result<LeaderDone, ClusterError> {
        let budget = op.budget();
        let deadline = Instant::now() + budget;
        loop {
            let attempt = match self.known_leader() {
                Some((id, _)) if id == self.node_id() => self.run_as_leader(op.clone()).await,
                Some((id, address)) => self.forward(id, &address, &op, deadline).await,
                None => Err(ClusterError::NoLeader {
                    waited_ms: millis(budget),
                }),
            };
            match attempt {
                Err(e) if retryable(&e) && Instant::now() + RETRY_PAUSE < deadline => {
                    tracing::debug!(error = %e, "leader operation will be retried");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                done => return done,
            }
        }
    }

    /// The leader this node knows of, with its address.
    fn known_leader(&self) -> Option<(u64, String)> {
        let metrics = self.raft().metrics().borrow().clone();
        let leader = metrics.current_leader?;
        let address = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .addr
            .clone();
        Some((leader, address))
    }

    /// Do `op` here, as the leader (refused with `NotLeader` otherwise),
    /// within its time budget: a leader cut off from its quorum commits
    /// nothing, and openraft does not make it step down, so waiting for the
    /// commit unbounded would hang the caller (and a node's shutdown).
    pub(crate) async fn run_as_leader(&self, op: LeaderOp) -> Result<LeaderDone, ClusterError> {
        let budget = op.budget();
        tokio::time::timeout(budget, self.run_here(op))
            .await
            .unwrap_or_else(|_| {
                Err(ClusterError::NoQuorum {
                    detail: format!(
                        "nothing was committed within {} ms; is a majority of the members reachable?",
                        millis(budget)
                    ),
                })
            })
    }

    async fn run_here(&self, op: LeaderOp) -> Result<LeaderDone, ClusterError> {
        let raft = self.raft();
        match op {
            LeaderOp::Propose(command) => {
                let proposal = Proposal {
                    now: Timestamp(now_millis()),
                    command,
                };
                let written = raft
                    .client_write(proposal)
                    .await
                    .map_err(|e| write_error("propose", e))?;
                let index = written.log_id.index;
                let response = written.data.ok_or(ClusterError::NoResponse { index })?;
                Ok(LeaderDone::Applied { index, response })
            }
            LeaderOp::ReadIndex => {
                let read = raft.ensure_linearizable().await.map_err(|e| match e {
                    RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => {
                        ClusterError::NotLeader {
                            leader: f.leader_id,
                        }
                    }
                    RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
                        ClusterError::NoQuorum {
                            detail: q.to_string(),
                        }
                    }
                    RaftError::Fatal(f) => stopped("confirm leadership")(f),
                })?;
                Ok(LeaderDone::ReadIndex(read.map_or(0, |l| l.index)))
            }
            LeaderOp::ChangeMembership(change) => {
                self.change_membership_here(&change).await?;
                Ok(LeaderDone::MembershipChanged)
            }
        }
    }

    async fn change_membership_here(&self, change: &MembershipChange) -> Result<(), ClusterError> {
        let raft = self.raft();
        let action = change.to_string();
        match change {
            MembershipChange::AddVoter { id, address } => {
                let members = self.status().members;
                match members.get(id) {
                    Some(known) if known != address => {
                        return Err(ClusterError::raft(
                            &action,
                            format!("node {id} is already a member at {known}; remove it first"),
                        ))
                    }
                    Some(_) if self.status().voters.contains(id) => return Ok(()),
                    _ => {}
                }
                let added = raft
                    .add_learner(*id, BasicNode::new(address.clone()), false)
                    .await
                    .map_err(|e| write_error(&action, e))?;
                // Promote only a learner that really caught up: a vote that
                // cannot be reached would stall every later commit.
                if let Err(e) = self.wait_caught_up(*id, added.log_id.index).await {
                    let undo = ChangeMembers::RemoveNodes(BTreeSet::from([*id]));
                    if let Err(undo_error) = raft.change_membership(undo, false).await {
                        tracing::warn!(node = id, error = %undo_error, "cannot remove the learner that did not catch up");
                    }
                    return Err(ClusterError::raft(&action, e));
                }
                raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([*id])), false)
                    .await
                    .map_err(|e| write_error(&action, e))?;
            }
            MembershipChange::Remove { id } => {
                let voters: BTreeSet<u64> = self
                    .raft()
                    .metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .collect();
                if voters.contains(id) {
                    if voters.len() == 1 {
                        return Err(ClusterError::raft(
                            &action,
                            format!("node {id} is the farm's only voter"),
                        ));
                    }
                    raft.change_membership(
                        ChangeMembers::RemoveVoters(BTreeSet::from([*id])),
                        false,
                    )
                    .await
                    .map_err(|e| write_error(&action, e))?;
                } else {
                    raft.change_membership(
                        ChangeMembers::RemoveNodes(BTreeSet::from([*id])),
                        false,
                    )
                    .await
                    .map_err(|e| write_error(&action, e))?;
                }
            }
        }
        Ok(())
    }

    /// Wait until learner `id` has replicated the log up to `index`.
    async fn wait_caught_up(&self, id: u64, index: u64) -> Result<(), String> {
        let waited = self
            .raft()
            .wait(Some(CATCH_UP_WITHIN))
            .metrics(
                |m| {
                    m.replication
                        .as_ref()
                        .and_then(|r| r.get(&id).copied().flatten())
                        .is_some_and(|matched| matched.index >= index)
                },
                "learner caught up",
            )
            .await;
        waited.map(|_| ()).map_err(|_| {
            format!(
                "the new node did not catch up with the log within {} s (is it running and reachable at its address?); it was not added",
                CATCH_UP_WITHIN.as_secs()
            )
        })
    }

    /// Send `op` to the leader `id` at `address`.
    async fn forward(
        &self,
        id: u64,
        address: &str,
        op: &LeaderOp,
        deadline: Instant,
    ) -> Result<LeaderDone, ClusterError> {
        let unreachable = |detail: String| ClusterError::Unreachable {
            node: id,
            address: address.to_string(),
            detail,
        };
        let mut client = self.leader_client(id, address)?;
        let payload =
            serde_json::to_vec(op).map_err(|e| ClusterError::encode("leader operation", e))?;
        let request = tonic::Request::new(RaftRequest { payload });
        let call = async {
            match op {
                LeaderOp::Propose(_) => client.propose(request).await,
                LeaderOp::ReadIndex => client.read_index(request).await,
                LeaderOp::ChangeMembership(_) => client.change_membership(request).await,
            }
        };
        let attempt_deadline = deadline.min(Instant::now() + op.attempt());
        let reply = match tokio::time::timeout_at(attempt_deadline, call).await {
            Err(_) => return Err(unreachable("no reply in time".to_string())),
            Ok(Err(status)) if transport_failure(&status) => {
                return Err(unreachable(status.message().to_string()))
            }
            Ok(Err(status)) => {
                return Err(ClusterError::Remote {
                    node: id,
                    detail: format!("{:?}: {}", status.code(), status.message()),
                })
            }
            Ok(Ok(reply)) => reply.into_inner(),
        };
        let result: Result<LeaderDone, Refusal> = serde_json::from_slice(&reply.payload)
            .map_err(|e| ClusterError::decode(format!("reply of node {id}"), e))?;
        result.map_err(|r| r.into_error(id))
    }

    /// A (cached) client of node `id` at `address`.
    fn leader_client(&self, id: u64, address: &str) -> Result<PeerClient, ClusterError> {
        let mut clients = self.leader_clients();
        if let Some((addr, client)) = clients.get(&id) {
            if addr == address {
                return Ok(client.clone());
            }
        }
        let client = peer_client(address, self.local_ip(), self.peer_security())?;
        clients.insert(id, (address.to_string(), client.clone()));
        Ok(client)
    }
}

/// Clients of the nodes this node forwarded to, by node id.
pub(crate) type LeaderClients = BTreeMap<RaftNodeId, (String, PeerClient)>;

//! [`Farm`], the handle the binary uses: opens the sled storage, starts the
//! Raft node and forms or enters the farm ([`Formation`]), reads the applied
//! [`FarmState`], reports status and serves the Raft transport. Proposals,
//! linearizable reads and membership changes go through the leader
//! (`leader.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use postroom_core::cluster::Formation;
use postroom_core::units::millis;
use postroom_core::FarmState;
use tonic::service::interceptor::InterceptedService;

use crate::backend::{flush_durable, get_json, put_json, RaftBackend, SledBackend};
use crate::leader::LeaderClients;
use crate::log_store::LogStore;
use crate::network::Network;
use crate::proto::raft_server::RaftServer;
use crate::security::{PeerAuth, PeerSecurity};
use crate::service::RaftService;
use crate::state_machine::{Shared, StateMachineStore};
use crate::types::{FarmRaft, RaftNodeId};
use crate::ClusterError;

/// How long [`Farm::open`] waits for a leader of a single-member farm.
const OPEN_LEADER_WAIT: Duration = Duration::from_secs(10);
/// Metadata key of the node id that owns the directory.
const NODE_ID: &str = "node_id";
/// Most log entries kept behind the latest snapshot (for slow followers;
/// one further behind gets the snapshot). Entries carry whole batches of
/// claims, tens of kilobytes each.
const MAX_KEPT_LOGS: u64 = 200;

/// How to open a farm node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarmOptions {
    /// This node's id (1 or more), stable across restarts.
    pub node_id: u64,
    /// `host:port` of this node's gRPC endpoint, as peers reach it.
    pub advertise_addr: String,
    /// Directory of the node's sled database (Raft log, vote, snapshot); owned by the farm.
    pub dir: PathBuf,
    /// Take a snapshot (and compact the log) every this many log entries.
    pub snapshot_every: u64,
    /// How a pristine node forms or enters its farm (ignored once it has state).
    pub formation: Formation,
    /// Source address of connections to peers (the listen address's IP when
    /// it is a specific one), so a host with several addresses talks from
    /// the one its peers know.
    pub local_ip: Option<IpAddr>,
    /// The farm's secret and TLS towards peers; what incoming Raft calls must present.
    pub security: PeerSecurity,
}

/// This node's Raft role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

/// A point-in-time view of this node's Raft state, for status and health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarmStatus {
    pub node_id: u64,
    pub role: Role,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    pub term: u64,
    /// Index of the last entry applied to the state [`Farm::read`] sees.
    pub last_applied_index: Option<u64>,
    pub last_log_index: Option<u64>,
    /// Last log index covered by the latest snapshot.
    pub snapshot_index: Option<u64>,
    /// Log entries up to this index have been removed from storage.
    pub purged_index: Option<u64>,
    /// Voting members.
    pub voters: BTreeSet<u64>,
    /// Every member (voters and learners) with its gRPC address.
    pub members: BTreeMap<u64, String>,
    /// On the leader: the last log index known replicated to each member.
    pub matched: BTreeMap<u64, Option<u64>>,
    /// On the leader: time since a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
}

/// A running farm node. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct Farm {
    inner: Arc<Inner>,
}

struct Inner {
    node_id: RaftNodeId,
    raft: FarmRaft,
    shared: Arc<Shared>,
    backend: Arc<dyn RaftBackend>,
    leader_clients: std::sync::Mutex<LeaderClients>,
    local_ip: Option<IpAddr>,
    security: PeerSecurity,
    stopped: tokio::sync::Mutex<bool>,
}

fn raft_config(snapshot_every: u64) -> Result<Arc<Config>, ClusterError> {
    let invalid = |detail: String| ClusterError::Config {
        snapshot_every,
        detail,
    };
    if snapshot_every == 0 {
        return Err(invalid("must be 1 or more".to_string()));
    }
    let config = Config {
        cluster_name: "postroom".to_string(),
        // openraft 0.9 starts an election after the leader lease (the
        // maximum election timeout) plus a random timeout: 1.5–2 s after
        // the last heartbeat of a dead leader.
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1_000,
        install_snapshot_timeout: 5_000,
        max_payload_entries: crate::payload_limit::MAX_PAYLOAD_ENTRIES,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_every),
        snapshot_max_chunk_size: 1024 * 1024,
        max_in_snapshot_log_to_keep: snapshot_every.min(MAX_KEPT_LOGS),
        purge_batch_size: (snapshot_every / 2).clamp(1, 256),
        ..Config::default()
    };
    config
        .validate()
        .map(Arc::new)
        .map_err(|e| invalid(e.to_string()))
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

pub(crate) fn write_error(
    action: &str,
    e: RaftError<RaftNodeId, ClientWriteError<RaftNodeId, BasicNode>>,
) -> ClusterError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ClusterError::NotLeader {
            leader: f.leader_id,
        },
        RaftError::APIError(other) => ClusterError::raft(action, other),
        RaftError::Fatal(f) => ClusterError::Stopped {
            action: action.to_string(),
            detail: f.to_string(),
        },
    }
}

pub(crate) fn stopped(
    action: &str,
) -> impl FnOnce(openraft::error::Fatal<RaftNodeId>) -> ClusterError + '_ {
    move |f| ClusterError::Stopped {
        action: action.to_string(),
        detail: f.to_string(),
    }
}

/// A data directory belongs to one node id for life.
fn check_node_id(backend: &dyn RaftBackend, opts: &FarmOptions) -> Result<(), ClusterError> {
    match get_json::<u64>(backend, NODE_ID)? {
        Some(stored) if stored != opts.node_id => Err(ClusterError::NodeIdMismatch {
            dir: opts.dir.clone(),
            stored,
            given: opts.node_id,
        }),
        Some(_) => Ok(()),
        None => put_json(backend, NODE_ID, &opts.node_id),
    }
}

impl Farm {
    /// Open storage and start Raft. On first start (nothing stored) the node
    /// forms its farm as `opts.formation` says: alone; with static peers (the
    /// lowest id initialises, the others wait to hear from it); or not at all
    /// (it waits to be added). If this node is the only voter, wait (at most
    /// 10 s) until it is leader; a member of a larger farm returns at once,
    /// since peers can only reach it once [`Farm::raft_service`] is served.
    /// Restarts recover state from the latest snapshot plus the log.
    pub async fn open(opts: FarmOptions) -> Result<Farm, ClusterError> {
        let farm = Farm::open_member(opts.clone()).await?;
        match farm.become_ready(opts).await {
            Ok(()) => Ok(farm),
            Err(e) => {
                if let Err(stop) = farm.shutdown().await {
                    tracing::warn!(error = %stop, "stopping raft after a failed open");
                }
                Err(e)
            }
        }
    }

    /// Form the farm if this pristine node is the one to; wait for leadership
    /// if this node is the only voter.
    async fn become_ready(&self, opts: FarmOptions) -> Result<(), ClusterError> {
        let raft = &self.inner.raft;
        if !raft.is_initialized().await.map_err(stopped("open"))? {
            match opts.formation {
                Formation::Single => {
                    self.initialize_with(BTreeMap::from([(opts.node_id, opts.advertise_addr)]))
                        .await?
                }
                Formation::Static(peers) => {
                    if peers.keys().next() == Some(&opts.node_id) {
                        tracing::info!(node = opts.node_id, members = ?peers, "forming the farm");
                        self.initialize_with(peers).await?;
                    } else {
                        tracing::info!(
                            node = opts.node_id,
                            "waiting for the lowest-id peer to form the farm (a node added to cluster.peers after the farm formed must be added with `postroom cluster join`)"
                        );
                    }
                }
                Formation::Join => {
                    tracing::info!(
                        node = opts.node_id,
                        "waiting to be added with `postroom cluster join`"
                    );
                }
            }
        }
        // Ask the core, not the metrics: they may not reflect the membership yet.
        let voters: BTreeSet<u64> = raft
            .with_raft_state(|st| st.membership_state.effective().voter_ids().collect())
            .await
            .map_err(stopped("open"))?;
        if voters == BTreeSet::from([opts.node_id]) {
            self.wait_until_leader(OPEN_LEADER_WAIT).await?;
        }
        Ok(())
    }

    /// Open storage and start Raft without forming a farm and without waiting:
    /// for a node that an existing farm will add, or that
    /// [`Farm::initialize_with`] will join to others.
    pub async fn open_member(opts: FarmOptions) -> Result<Farm, ClusterError> {
        let config = raft_config(opts.snapshot_every)?;
        let dir = opts.dir.clone();
        let backend = tokio::task::spawn_blocking(move || SledBackend::open(&dir))
            .await
            .map_err(|e| ClusterError::OpenStorage {
                path: opts.dir.clone(),
                detail: e.to_string(),
            })??;
        let backend: Arc<dyn RaftBackend> = Arc::new(backend);
        check_node_id(backend.as_ref(), &opts)?;
        let log_store = LogStore::new(backend.clone());
        let (state_machine, shared) = StateMachineStore::open(backend.clone())?;
        let network = Network::new(opts.node_id, opts.local_ip, opts.security.clone());
        let raft = FarmRaft::new(opts.node_id, config, network, log_store, state_machine)
            .await
            .map_err(stopped("start"))?;
        tracing::info!(node = opts.node_id, dir = %opts.dir.display(), "raft node started");
        let inner = Inner {
            node_id: opts.node_id,
            raft,
            shared,
            backend,
            leader_clients: std::sync::Mutex::new(LeaderClients::new()),
            local_ip: opts.local_ip,
            security: opts.security,
            stopped: tokio::sync::Mutex::new(false),
        };
        Ok(Farm {
            inner: Arc::new(inner),
        })
    }

    /// Form a new farm of these members (id → `host:port`). Only for pristine
    /// nodes; every listed node must be started and serving the Raft service.
    pub async fn initialize_with(
        &self,
        members: BTreeMap<u64, String>,
    ) -> Result<(), ClusterError> {
        let nodes: BTreeMap<u64, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
        self.inner
            .raft
            .initialize(nodes.clone())
            .await
            .map_err(|e| match e {
                RaftError::APIError(e) => {
                    ClusterError::raft(format!("initialize with {:?}", nodes.keys()), e)
                }
                RaftError::Fatal(f) => stopped("initialize")(f),
            })
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.inner.node_id
    }

    pub(crate) fn local_ip(&self) -> Option<IpAddr> {
        self.inner.local_ip
    }

    pub(crate) fn peer_security(&self) -> &PeerSecurity {
        &self.inner.security
    }

    pub(crate) fn raft(&self) -> &FarmRaft {
        &self.inner.raft
    }

    pub(crate) fn leader_clients(&self) -> std::sync::MutexGuard<'_, LeaderClients> {
        self.inner
            .leader_clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read the locally applied state (may trail the leader; see
    /// [`Farm::read_linearizable`]).
    pub fn read<T>(&self, f: impl FnOnce(&FarmState) -> T) -> T {
        f(&self.inner.shared.read().state)
    }

    /// The tonic service to mount on the node's gRPC server (Raft
    /// transport), behind [`PeerAuth`]: calls without the farm's secret (or
    /// the required client certificate) are refused.
    pub fn raft_service(&self) -> InterceptedService<RaftServer<RaftService>, PeerAuth> {
        InterceptedService::new(
            RaftService::new(self.clone()).into_server(),
            self.inner.security.auth(),
        )
    }

    /// Leader, term, indexes and membership as this node sees them.
    pub fn status(&self) -> FarmStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let role = match metrics.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let membership = metrics.membership_config.membership();
        FarmStatus {
            node_id: self.inner.node_id,
            role,
            leader: metrics.current_leader,
            term: metrics.current_term,
            // From the state itself: metrics trail it, and `read` sees this index.
            last_applied_index: self.inner.shared.read().last_applied.map(|l| l.index),
            last_log_index: metrics.last_log_index,
            snapshot_index: metrics.snapshot.map(|l| l.index),
            purged_index: metrics.purged.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            members: membership
                .nodes()
                .map(|(id, node)| (*id, node.addr.clone()))
                .collect(),
            matched: metrics
                .replication
                .iter()
                .flatten()
                .map(|(id, log)| (*id, log.map(|l| l.index)))
                .collect(),
            millis_since_quorum_ack: metrics.millis_since_quorum_ack,
        }
    }

    /// Wait until a leader is known; returns its id.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, ClusterError> {
        let waited_ms = millis(timeout);
        let metrics = self
            .inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader known")
            .await
            .map_err(|_| ClusterError::NoLeader { waited_ms })?;
        metrics
            .current_leader
            .ok_or(ClusterError::NoLeader { waited_ms })
    }

    /// Wait until this node is the leader and has applied its own log, so
    /// proposals are accepted and reads see every earlier commit.
    async fn wait_until_leader(&self, timeout: Duration) -> Result<(), ClusterError> {
        let waited_ms = millis(timeout);
        let me = self.inner.node_id;
        self.inner
            .raft
            .wait(Some(timeout))
            .metrics(
                |m| {
                    m.current_leader == Some(me)
                        && m.last_applied.map(|l| l.index) >= m.last_log_index
                },
                "leader with everything applied",
            )
            .await
            .map_err(|_| ClusterError::NoLeader { waited_ms })?;
        Ok(())
    }

    /// Wait until this node has applied the log up to `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "applied")
            .await
            .map_err(|e| ClusterError::raft(format!("wait for applied index {index}"), e))?;
        Ok(())
    }

    /// Number of log entries currently in storage (scans the log; diagnostics).
    pub fn stored_log_entries(&self) -> Result<usize, ClusterError> {
        self.inner.backend.log_len()
    }

    /// Stop Raft (idempotent) and flush storage.
    pub async fn shutdown(&self) -> Result<(), ClusterError> {
        let mut stopped = self.inner.stopped.lock().await;
        if !*stopped {
            self.inner
                .raft
                .shutdown()
                .await
                .map_err(|e| ClusterError::Stopped {
                    action: "shutdown".to_string(),
                    detail: e.to_string(),
                })?;
            *stopped = true;
            tracing::info!(node = self.inner.node_id, "raft node stopped");
        }
        flush_durable(self.inner.backend.clone()).await
    }
}

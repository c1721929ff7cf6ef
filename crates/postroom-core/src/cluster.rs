//! The node's place in the farm (`[cluster]`) and its HTTP health endpoint
//! (`[http]`): node id, gRPC listen and advertised addresses, how the farm is
//! formed (single node, static peers, or joined later), lease and hand-off
//! timings; plus [`preferred_node`], the pure rule that spreads drop-folder
//! files over the members so nodes do not all read the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::security::Secret;
use crate::units::HumanDuration;
use crate::NodeId;

/// One member of a static farm: `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Peer {
    pub id: NodeId,
    /// `host:port` of the peer's gRPC endpoint.
    pub address: String,
}

impl FromStr for Peer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{s:?} is not id@host:port ({why})");
        let (id, address) = s.split_once('@').ok_or_else(|| bad("no '@'"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .map_err(|_| bad("the id is not a number"))?;
        if id == 0 {
            return Err(bad("ids start at 1"));
        }
        let address = address.trim();
        if address_problem(address).is_some() {
            return Err(bad("the address is not host:port"));
        }
        Ok(Peer {
            id,
            address: address.to_string(),
        })
    }
}

impl TryFrom<String> for Peer {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Peer> for String {
    fn from(p: Peer) -> String {
        p.to_string()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.address)
    }
}

/// Why `addr` is not a usable `host:port` to reach, if it is not.
pub fn address_problem(addr: &str) -> Option<&'static str> {
    listen_problem(addr).or_else(|| addr.ends_with(":0").then_some("the port is not 1-65535"))
}

/// Why `addr` is not a usable `host:port` to listen on (port 0: any free
/// port), if it is not.
fn listen_problem(addr: &str) -> Option<&'static str> {
    if addr.is_empty() {
        return Some("it is empty, expected host:port");
    }
    if addr.contains('/') || addr.chars().any(char::is_whitespace) {
        return Some("expected host:port without scheme, path or spaces");
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Some("no port, expected host:port");
    };
    if host.is_empty() {
        return Some("no host, expected host:port");
    }
    match port.parse::<u16>() {
        Ok(_) => None,
        Err(_) => Some("the port is not 1-65535"),
    }
}

/// `[cluster]`: this node's place in the farm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// Unique id of this node in the farm (1 or more), stable for its data directory.
    pub node_id: NodeId,
    /// Where the node's gRPC endpoint (Raft between nodes, health) listens.
    pub listen: String,
    /// `host:port` peers use to reach this node; by default this node's entry
    /// in `peers`, else `listen` (which must then not be `0.0.0.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    /// A static farm: every member as `id@host:port`, this node included. On
    /// first start the lowest id forms the farm and the others wait for it.
    /// Empty: a farm of one (or, with `join`, a node waiting to be added).
    pub peers: Vec<Peer>,
    /// Start without forming a farm and wait until `postroom cluster join`
    /// (run against any member) adds this node.
    pub join: bool,
    /// How long a claim on a message lasts before another node may take it.
    pub lease_ttl: HumanDuration,
    /// How long a node leaves a drop file to the member it is meant for before
    /// taking it itself (covers a member that is down or behind).
    pub handoff_after: HumanDuration,
    /// Take a snapshot (and compact the log) every this many log entries.
    pub snapshot_every: u64,
    /// The farm's shared secret: sent on every call to a peer, required on
    /// every Raft call from one (at most one of `secret` and `secret_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// A file holding the farm's shared secret (read at start, trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<std::path::PathBuf>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            node_id: 1,
            listen: "127.0.0.1:7700".to_string(),
            advertise: None,
            peers: Vec::new(),
            join: false,
            lease_ttl: HumanDuration::from_secs(30),
            handoff_after: HumanDuration::from_secs(5),
            snapshot_every: 1_000,
            secret: None,
            secret_file: None,
        }
    }
}

/// How a pristine node becomes part of a farm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formation {
    /// A farm of this node alone.
    Single,
    /// Static members (id → address); the lowest id initialises the farm.
    Static(BTreeMap<NodeId, String>),
    /// Wait until a member adds this node.
    Join,
}

impl ClusterSettings {
    /// The address peers reach this node at, given the address `listen` was bound to.
    pub fn advertised_address(&self, bound: SocketAddr) -> String {
        self.configured_address()
            .unwrap_or_else(|| bound.to_string())
    }

    /// `advertise`, else this node's entry in `peers`.
    fn configured_address(&self) -> Option<String> {
        self.advertise.clone().or_else(|| {
            self.peers
                .iter()
                .find(|p| p.id == self.node_id)
                .map(|p| p.address.clone())
        })
    }

    /// How this node forms or enters its farm.
    pub fn formation(&self) -> Formation {
        if self.join {
            Formation::Join
        } else if self.peers.is_empty() {
            Formation::Single
        } else {
            Formation::Static(
                self.peers
                    .iter()
                    .map(|p| (p.id, p.address.clone()))
                    .collect(),
            )
        }
    }

    /// Every rule broken, each naming its key and value.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.node_id == 0 {
            problems.push("cluster.node_id: 0 is not allowed (use 1 or more)".to_string());
        }
        if let Some(why) = listen_problem(&self.listen) {
            problems.push(format!("cluster.listen: {:?}: {why}", self.listen));
        }
        if let Some(a) = &self.advertise {
            if let Some(why) = address_problem(a) {
                problems.push(format!("cluster.advertise: {a:?}: {why}"));
            } else if is_unspecified(a) {
                problems.push(format!(
                    "cluster.advertise: {a:?} is not an address peers can reach"
                ));
            }
        }
        if self.lease_ttl.as_millis() < 1_000 {
            let ttl = self.lease_ttl;
            problems.push(format!("cluster.lease_ttl: \"{ttl}\" is shorter than 1s"));
        }
        if self.snapshot_every == 0 {
            problems.push("cluster.snapshot_every: 0 is not allowed".to_string());
        }
        problems.extend(self.peer_problems());
        problems
    }

    fn peer_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.join && !self.peers.is_empty() {
            problems.push(
                "cluster.join: a node that waits to be joined has no static peers (empty cluster.peers)"
                    .to_string(),
            );
        }
        let mut ids = BTreeSet::new();
        for p in &self.peers {
            if !ids.insert(p.id) {
                problems.push(format!("cluster.peers: node id {} is listed twice", p.id));
            }
        }
        if !self.peers.is_empty() && !ids.contains(&self.node_id) {
            problems.push(format!(
                "cluster.peers: this node ({}) is not listed; list every member, this one included",
                self.node_id
            ));
        }
        if self.configured_address().is_none()
            && (self.join || !self.peers.is_empty())
            && is_unspecified(&self.listen)
        {
            problems.push(format!(
                "cluster.advertise: required when cluster.listen is {:?} (peers cannot reach an unspecified address)",
                self.listen
            ));
        }
        problems
    }

    /// Whether other nodes take part in this farm (static peers or a join).
    pub fn is_multi_node(&self) -> bool {
        self.join || self.peers.len() > 1
    }
}

fn is_unspecified(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_unspecified())
}

/// `[http]`: the node's plain HTTP endpoint for load balancers and probes
/// (`/healthz`, `/readyz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub enabled: bool,
    /// Address and port, e.g. `127.0.0.1:7780`, or `0.0.0.0:7780` in deployments.
    pub listen: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            enabled: true,
            listen: "127.0.0.1:7780".to_string(),
        }
    }
}

impl HttpSettings {
    /// Every rule broken, each naming its key and value.
    pub fn problems(&self) -> Vec<String> {
        match (self.enabled, listen_problem(&self.listen)) {
            (true, Some(why)) => vec![format!("http.listen: {:?}: {why}", self.listen)],
            _ => Vec::new(),
        }
    }
}

/// The member a drop file is meant for: a file the SMTP listener of a member
/// wrote (`smtp-<node>-...`) belongs to that member; any other file to the
/// member with the highest rendezvous hash of its name, so files spread
/// evenly and a change of membership moves only the files of the members
/// that changed. `None` when `members` is empty.
pub fn preferred_node(file_name: &str, members: &BTreeSet<NodeId>) -> Option<NodeId> {
    if let Some(writer) = smtp_writer(file_name) {
        if members.contains(&writer) {
            return Some(writer);
        }
    }
    members
        .iter()
        .copied()
        .max_by_key(|node| (rendezvous_weight(file_name, *node), *node))
}

/// The node id in a spool file name `smtp-<node>-<id>.eml` (written by a
/// node's SMTP listener, or its admin API's Submit or replay).
pub fn smtp_writer(file_name: &str) -> Option<NodeId> {
    let rest = file_name.strip_prefix("smtp-")?;
    let (node, _) = rest.split_once('-')?;
    node.parse().ok()
}

/// FNV-1a 64 of the name and the node id, then a final avalanche (splitmix64).
fn rendezvous_weight(file_name: &str, node: NodeId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file_name.bytes().chain(node.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
#[path = "cluster_test.rs"]
mod tests;

//! The farm's replicated state machine: versioned farm configuration, claims
//! (leases with fencing tokens) and the ledger of finished message keys.
//!
//! Pure and deterministic (invariant 5): applying a [`Proposal`] depends only
//! on the proposal and the prior state. Time enters through `Proposal::now`,
//! stamped by the leader; the state keeps it monotonic so a new leader with a
//! slower clock cannot move time backwards.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::FarmConfig;
use crate::config_diff::config_diff;
use crate::MessageKey;

/// Identity of a node in the farm.
pub type NodeId = u64;

/// Milliseconds since the Unix epoch, as stamped by the proposing leader.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This timestamp plus `ms` milliseconds (saturating).
    pub fn plus_millis(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// A claim's fencing token: strictly increasing across the farm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FencingToken(pub u64);

/// One log entry: a command and the leader's time when it was proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub now: Timestamp,
    pub command: Command,
}

/// What a log entry asks of the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Replace the farm configuration (a new version if it differs). With
    /// `expected_version`, only if the current version is that one
    /// (compare-and-set: a late or concurrent write cannot undo a newer one).
    SetConfig {
        config: Box<FarmConfig>,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_version: Option<u64>,
        /// Set when the config comes from a node's config file: a digest of
        /// it, remembered so that other nodes with the same file keep later
        /// changes made through the admin API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_digest: Option<String>,
    },
    /// Claim message keys for `node` for `ttl_ms`; one result per key, in
    /// order. A key whose live lease `node` already holds keeps its token.
    Claim {
        keys: Vec<MessageKey>,
        node: NodeId,
        ttl_ms: u64,
    },
    /// Extend leases held by `node` with these tokens (not lapsed ones).
    Renew {
        leases: Vec<(MessageKey, FencingToken)>,
        node: NodeId,
        ttl_ms: u64,
    },
    /// Record outcomes in the ledger; each needs the current token of its key.
    Finish { items: Vec<Finished> },
    /// Forget quarantined keys in the ledger, so a replayed copy of the
    /// message can be claimed and filed again.
    Release { keys: Vec<MessageKey> },
}

/// The outcome of one claimed message, reported with the claim's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    pub key: MessageKey,
    pub token: FencingToken,
    pub outcome: Outcome,
    /// What the message was, for lookups and the activity list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<MessageAbout>,
}

/// A finished message's identity for people: its Message-ID, sender and
/// subject, cut to bounded lengths so the ledger stays small.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageAbout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub sender: String,
    #[serde(default)]
    pub subject: String,
}

impl MessageAbout {
    /// Longest Message-ID and sender kept (RFC 5322's line limit).
    const MAX_ID: usize = 998;
    /// Longest subject kept.
    const MAX_SUBJECT: usize = 200;

    /// The three fields, each cut at a character boundary to its limit.
    pub fn new(message_id: Option<&str>, sender: &str, subject: &str) -> MessageAbout {
        MessageAbout {
            message_id: message_id.map(|id| cut(id, Self::MAX_ID)),
            sender: cut(sender, Self::MAX_ID),
            subject: cut(subject, Self::MAX_SUBJECT),
        }
    }
}

fn cut(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// How a message ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Filed into these libraries (aliases).
    Delivered { libraries: Vec<String> },
    /// Moved to quarantine with this reason.
    Quarantined { reason: String },
    /// Refused (e.g. at the SMTP door) with this reason.
    Rejected { reason: String },
}

/// A live or lapsed claim on a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub node: NodeId,
    pub token: FencingToken,
    pub expires: Timestamp,
}

/// A finished key in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub outcome: Outcome,
    pub finished_at: Timestamp,
    pub node: NodeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<MessageAbout>,
}

/// One version of the farm configuration, for audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    pub version: u64,
    pub at: Timestamp,
    pub by: String,
    /// What changed, one line per setting (`config_diff`).
    #[serde(default)]
    pub changes: Vec<String>,
}

/// How many config versions the audit history keeps.
const HISTORY_LIMIT: usize = 1_000;
/// Retention used before any configuration has been set.
const DEFAULT_RETENTION_MS: u64 = 7 * 86_400_000;

/// The replicated state. Serialize it for snapshots; the time indexes are rebuilt on load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FarmState {
    now: Timestamp,
    next_token: u64,
    config: Option<FarmConfig>,
    history: Vec<ConfigChange>,
    leases: BTreeMap<MessageKey, Lease>,
    ledger: BTreeMap<MessageKey, LedgerEntry>,
    ledger_by_time: BTreeSet<(Timestamp, MessageKey)>,
    /// Digest of the last config file a node applied (`SetConfig::file_digest`).
    applied_file: Option<String>,
    leases_by_expiry: BTreeSet<(Timestamp, MessageKey)>,
}

impl FarmState {
    /// Apply one log entry.
    pub fn apply(&mut self, proposal: &Proposal) -> Response {
        self.now = self.now.max(proposal.now);
        let response = match &proposal.command {
            Command::SetConfig {
                config,
                by,
                expected_version,
                file_digest,
            } => {
                let response = self.set_config(config, by, *expected_version);
                if matches!(response, Response::ConfigSet { .. }) && file_digest.is_some() {
                    self.applied_file.clone_from(file_digest);
                }
                response
            }
            Command::Claim { keys, node, ttl_ms } => Response::Claims(
                keys.iter()
                    .map(|k| self.claim(*k, *node, *ttl_ms))
                    .collect(),
            ),
            Command::Renew {
                leases,
                node,
                ttl_ms,
            } => Response::Renewals(
                leases
                    .iter()
                    .map(|(k, t)| self.renew(*k, *t, *node, *ttl_ms))
                    .collect(),
            ),
            Command::Finish { items } => {
                Response::Finishes(items.iter().map(|f| self.finish(f)).collect())
            }
            Command::Release { keys } => {
                Response::Releases(keys.iter().map(|k| self.release(k)).collect())
            }
        };
        self.expire();
        response
    }

    fn set_config(&mut self, config: &FarmConfig, by: &str, expected: Option<u64>) -> Response {
        let version = self.config_version();
        if let Some(expected) = expected.filter(|e| *e != version) {
            return Response::ConfigConflict {
                expected,
                current: version,
            };
        }
        if let Err(crate::CoreError::InvalidConfig { problems }) = config.validate() {
            return Response::ConfigRefused { problems };
        }
        if self.config.as_ref() == Some(config) {
            return Response::ConfigSet {
                version,
                changed: false,
            };
        }
        let before = self.config.take().unwrap_or_default();
        let change = ConfigChange {
            version: version + 1,
            at: self.now,
            by: by.to_string(),
            changes: config_diff(&before, config),
        };
        self.config = Some(config.clone());
        self.history.push(change);
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
        Response::ConfigSet {
            version: version + 1,
            changed: true,
        }
    }

    fn claim(&mut self, key: MessageKey, node: NodeId, ttl_ms: u64) -> ClaimResult {
        if let Some(entry) = self.ledger.get(&key) {
            return ClaimResult::Finished {
                outcome: entry.outcome.clone(),
            };
        }
        let live = self.leases.get(&key).filter(|l| l.expires > self.now);
        let (token, until) = match live {
            Some(lease) if lease.node != node => {
                return ClaimResult::Held {
                    by: lease.node,
                    until: lease.expires,
                }
            }
            // The holder asks again (a re-sent proposal, a retried batch):
            // same token, extended, so the copy it already holds stays valid.
            Some(lease) => (lease.token, self.now.plus_millis(ttl_ms).max(lease.expires)),
            None => {
                self.next_token += 1;
                (FencingToken(self.next_token), self.now.plus_millis(ttl_ms))
            }
        };
        self.put_lease(
            key,
            Lease {
                node,
                token,
                expires: until,
            },
        );
        ClaimResult::Granted { token, until }
    }

    fn renew(&mut self, key: MessageKey, token: FencingToken, node: NodeId, ttl_ms: u64) -> bool {
        match self.leases.get(&key) {
            // A lapsed lease is not revived: its holder gave up on it.
            Some(lease)
                if lease.token == token && lease.node == node && lease.expires > self.now =>
            {
                let expires = self.now.plus_millis(ttl_ms);
                self.put_lease(
                    key,
                    Lease {
                        node,
                        token,
                        expires,
                    },
                );
                true
            }
            _ => false,
        }
    }

    fn finish(&mut self, item: &Finished) -> FinishResult {
        if self.ledger.contains_key(&item.key) {
            return FinishResult::AlreadyFinished;
        }
        let node = match self.leases.get(&item.key) {
            Some(lease) if lease.token == item.token => lease.node,
            other => {
                return FinishResult::Stale {
                    current: other.map(|l| l.token),
                }
            }
        };
        self.remove_lease(&item.key);
        let entry = LedgerEntry {
            outcome: item.outcome.clone(),
            finished_at: self.now,
            node,
            about: item.about.clone(),
        };
        self.ledger.insert(item.key, entry);
        self.ledger_by_time.insert((self.now, item.key));
        FinishResult::Recorded
    }

    fn release(&mut self, key: &MessageKey) -> ReleaseResult {
        if let Some(lease) = self.leases.get(key) {
            // Its holder may still finish it (even past the lease, with its token).
            return ReleaseResult::Claimed { node: lease.node };
        }
        match self.ledger.get(key) {
            None => ReleaseResult::Absent,
            Some(entry) if matches!(entry.outcome, Outcome::Quarantined { .. }) => {
                self.ledger_by_time.remove(&(entry.finished_at, *key));
                self.ledger.remove(key);
                ReleaseResult::Released
            }
            Some(entry) => ReleaseResult::Kept {
                outcome: entry.outcome.clone(),
            },
        }
    }

    fn put_lease(&mut self, key: MessageKey, lease: Lease) {
        self.remove_lease(&key);
        self.leases_by_expiry.insert((lease.expires, key));
        self.leases.insert(key, lease);
    }

    fn remove_lease(&mut self, key: &MessageKey) {
        if let Some(old) = self.leases.remove(key) {
            self.leases_by_expiry.remove(&(old.expires, *key));
        }
    }

    /// Forget ledger entries older than the retention window, and leases that
    /// lapsed that long ago without being finished.
    fn expire(&mut self) {
        let retention = self.retention_ms();
        let horizon = Timestamp(self.now.0.saturating_sub(retention));
        while let Some(&(at, key)) = self.ledger_by_time.first() {
            if at >= horizon {
                break;
            }
            self.ledger_by_time.pop_first();
            self.ledger.remove(&key);
        }
        while let Some(&(expires, key)) = self.leases_by_expiry.first() {
            if expires >= horizon {
                break;
            }
            self.remove_lease(&key);
        }
    }

    fn retention_ms(&self) -> u64 {
        self.config.as_ref().map_or(DEFAULT_RETENTION_MS, |c| {
            c.farm.ledger_retention.as_millis()
        })
    }

    /// The current farm configuration, if one was ever set.
    pub fn config(&self) -> Option<&FarmConfig> {
        self.config.as_ref()
    }

    /// The current config version (0 before the first).
    pub fn config_version(&self) -> u64 {
        self.history.last().map_or(0, |c| c.version)
    }

    /// Who changed the config and when, oldest first.
    pub fn config_history(&self) -> &[ConfigChange] {
        &self.history
    }

    /// The state's clock: the latest proposal time seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The ledger entry of a key, if finished within the retention window.
    pub fn ledger_entry(&self, key: &MessageKey) -> Option<&LedgerEntry> {
        self.ledger.get(key)
    }

    /// The lease on a key, live or lapsed, if not finished.
    pub fn lease(&self, key: &MessageKey) -> Option<&Lease> {
        self.leases.get(key)
    }

    /// Number of keys in the ledger.
    pub fn ledger_len(&self) -> usize {
        self.ledger.len()
    }

    /// Number of keys claimed and not finished.
    pub fn leases_len(&self) -> usize {
        self.leases.len()
    }

    /// Live leases (not lapsed at the state's clock) per holding node.
    pub fn live_leases_by_node(&self) -> BTreeMap<NodeId, usize> {
        let mut by_node = BTreeMap::new();
        for lease in self.leases.values().filter(|l| l.expires > self.now) {
            *by_node.entry(lease.node).or_insert(0) += 1;
        }
        by_node
    }
}

mod query;
mod response;
mod snapshot;

pub use query::bare_message_id;
pub use response::{ClaimResult, FinishResult, ReleaseResult, Response};

#[cfg(test)]
#[path = "state_test.rs"]
mod tests;

#[cfg(test)]
#[path = "state_admin_test.rs"]
mod admin_tests;

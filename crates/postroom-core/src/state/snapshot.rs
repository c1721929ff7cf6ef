//! How [`FarmState`] goes into a snapshot and comes back: the state without
//! its derivable time indexes, which are rebuilt on load.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigChange, FarmState, Lease, LedgerEntry, Timestamp};
use crate::config::FarmConfig;
use crate::MessageKey;

/// What a snapshot holds: the state without its derivable indexes.
#[derive(Serialize)]
struct StateRef<'a> {
    now: Timestamp,
    next_token: u64,
    config: &'a Option<FarmConfig>,
    history: &'a Vec<ConfigChange>,
    leases: &'a BTreeMap<MessageKey, Lease>,
    ledger: &'a BTreeMap<MessageKey, LedgerEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied_file: &'a Option<String>,
}

#[derive(Deserialize)]
struct StateOwned {
    now: Timestamp,
    next_token: u64,
    config: Option<FarmConfig>,
    history: Vec<ConfigChange>,
    leases: BTreeMap<MessageKey, Lease>,
    ledger: BTreeMap<MessageKey, LedgerEntry>,
    #[serde(default)]
    applied_file: Option<String>,
}

impl Serialize for FarmState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StateRef {
            now: self.now,
            next_token: self.next_token,
            config: &self.config,
            history: &self.history,
            leases: &self.leases,
            ledger: &self.ledger,
            applied_file: &self.applied_file,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FarmState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = StateOwned::deserialize(d)?;
        let by_time = o.ledger.iter().map(|(k, e)| (e.finished_at, *k)).collect();
        let leases_by_expiry = o.leases.iter().map(|(k, l)| (l.expires, *k)).collect();
        Ok(FarmState {
            now: o.now,
            next_token: o.next_token,
            config: o.config,
            history: o.history,
            leases: o.leases,
            ledger: o.ledger,
            ledger_by_time: by_time,
            applied_file: o.applied_file,
            leases_by_expiry,
        })
    }
}

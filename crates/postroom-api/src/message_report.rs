//! Where a message is, for `GetMessage` and `ListActivity`: its ledger
//! entry or lease (from the farm state; pure), then its items in the
//! libraries and its quarantine entries (read from the shared folders;
//! blocking), and the protocol's view of a quarantine entry.

use std::path::Path;

use postroom_core::config::FarmConfig;
use postroom_core::state::{bare_message_id, Lease, LedgerEntry};
use postroom_core::{FarmState, MessageKey, Outcome, Timestamp};
use postroom_library::{read_item, read_items, QuarantineEntry};

use crate::error::ApiError;
use crate::items_view::{item, Placement};
use crate::proto::{MessageState, QuarantinedEntry};

/// What the farm state knows about one key.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub key: MessageKey,
    pub ledger: Option<LedgerEntry>,
    pub lease: Option<Lease>,
    /// The state's clock, to tell a live claim from a lapsed one.
    pub now: Timestamp,
}

impl Known {
    pub(crate) fn of(state: &FarmState, key: MessageKey) -> Known {
        Known {
            key,
            ledger: state.ledger_entry(&key).cloned(),
            lease: state.lease(&key).cloned(),
            now: state.now(),
        }
    }
}

/// Pure: the protocol's view of what the state knows.
pub(crate) fn message_state(k: &Known) -> MessageState {
    let mut m = MessageState {
        message_key: k.key.to_string(),
        state: "unknown".to_string(),
        ..MessageState::default()
    };
    if let Some(entry) = &k.ledger {
        m.node = entry.node;
        m.finished_at_ms = entry.finished_at.0;
        if let Some(about) = &entry.about {
            m.message_id = about.message_id.clone().unwrap_or_default();
            m.sender = about.sender.clone();
            m.subject = about.subject.clone();
        }
        match &entry.outcome {
            Outcome::Delivered { libraries } => {
                m.state = "filed".to_string();
                m.libraries = libraries.clone();
            }
            Outcome::Quarantined { reason } => {
                m.state = "quarantined".to_string();
                m.reason = reason.clone();
            }
            Outcome::Rejected { reason } => {
                m.state = "rejected".to_string();
                m.reason = reason.clone();
            }
        }
    } else if let Some(lease) = &k.lease {
        m.node = lease.node;
        m.claim_expires_ms = lease.expires.0;
        m.state = if lease.expires > k.now {
            "filing"
        } else {
            "waiting"
        }
        .to_string();
    }
    m
}

/// The protocol's view of a quarantine entry (`size`: its message file's).
pub(crate) fn quarantined(entry: &QuarantineEntry, size: u64) -> QuarantinedEntry {
    QuarantinedEntry {
        id: entry.file.clone(),
        code: entry.code.clone(),
        reason: entry.reason.clone(),
        message_key: entry.message_key.map(|k| k.to_string()).unwrap_or_default(),
        quarantined_at: entry.quarantined_at.clone(),
        envelope_sender: entry.envelope_sender.clone().unwrap_or_default(),
        envelope_recipients: entry.envelope_recipients.clone(),
        refused_recipients: entry.refused_recipients.clone(),
        source: entry.source.clone().unwrap_or_default(),
        size_bytes: size,
    }
}

/// Blocking: add the message's items (in the libraries of `config`) and
/// quarantine entries (among `quarantine`, with their sizes).
pub(crate) fn attach_files(
    m: &mut MessageState,
    key: &MessageKey,
    config: &FarmConfig,
    data_dir: &Path,
    quarantine: &[(QuarantineEntry, u64)],
) -> Result<(), ApiError> {
    for lib in &config.libraries {
        let root = lib.resolved_path(data_dir);
        let found = read_item(&root, key).map_err(|e| ApiError::Storage {
            action: "read the item record in library".to_string(),
            path: lib.alias.clone(),
            detail: e.to_string(),
        })?;
        if let Some(record) = found {
            if m.subject.is_empty() && m.sender.is_empty() {
                let shown = item(&record, &Placement::default());
                m.subject = shown.subject.clone();
                m.sender = shown.sender.clone();
                m.message_id = shown.message_id.clone();
            }
            let mut shown = item(&record, &Placement::default());
            shown.files = shown
                .files
                .iter()
                .map(|f| format!("{}: {f}", lib.alias))
                .collect();
            m.items.push(shown);
        }
    }
    m.quarantine = quarantine
        .iter()
        .filter(|(e, _)| e.message_key.as_ref() == Some(key))
        .map(|(e, size)| quarantined(e, *size))
        .collect();
    Ok(())
}

/// Blocking: the keys of items in any library of `config` whose Message-ID
/// is `message_id` (angle brackets optional): the fallback when the ledger
/// no longer remembers the message.
pub(crate) fn keys_in_libraries(
    message_id: &str,
    config: &FarmConfig,
    data_dir: &Path,
) -> Result<Vec<MessageKey>, ApiError> {
    let wanted = bare_message_id(message_id);
    let mut keys = Vec::new();
    for lib in &config.libraries {
        let records = read_items(&lib.resolved_path(data_dir)).map_err(|e| ApiError::Storage {
            action: "read the items of library".to_string(),
            path: lib.alias.clone(),
            detail: e.to_string(),
        })?;
        for r in records {
            if r.meta.headers.message_id.as_deref().map(bare_message_id) == Some(wanted)
                && !keys.contains(&r.meta.message_key)
            {
                keys.push(r.meta.message_key);
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use postroom_core::{FencingToken, MessageAbout, NodeId};

    fn known(ledger: Option<Outcome>, lease: Option<(NodeId, u64)>, now: u64) -> Known {
        Known {
            key: MessageKey::from_bytes([7; 32]),
            ledger: ledger.map(|outcome| LedgerEntry {
                outcome,
                finished_at: Timestamp(1_000),
                node: 2,
                about: Some(MessageAbout::new(Some("<m@x>"), "bob@x", "Q3")),
            }),
            lease: lease.map(|(node, expires)| Lease {
                node,
                token: FencingToken(9),
                expires: Timestamp(expires),
            }),
            now: Timestamp(now),
        }
    }

    #[test]
    fn each_outcome_and_claim_has_its_state() {
        let filed = message_state(&known(
            Some(Outcome::Delivered {
                libraries: vec!["docs".into()],
            }),
            None,
            0,
        ));
        assert_eq!(
            (
                filed.state.as_str(),
                filed.node,
                filed.libraries.clone(),
                filed.subject.as_str()
            ),
            ("filed", 2, vec!["docs".to_string()], "Q3")
        );
        assert_eq!(filed.message_id, "<m@x>");
        let q = message_state(&known(
            Some(Outcome::Quarantined {
                reason: "no library".into(),
            }),
            None,
            0,
        ));
        assert_eq!(
            (q.state.as_str(), q.reason.as_str()),
            ("quarantined", "no library")
        );
        let filing = message_state(&known(None, Some((3, 5_000)), 4_000));
        assert_eq!(
            (filing.state.as_str(), filing.node, filing.claim_expires_ms),
            ("filing", 3, 5_000)
        );
        let waiting = message_state(&known(None, Some((3, 5_000)), 6_000));
        assert_eq!(waiting.state, "waiting");
        assert_eq!(message_state(&known(None, None, 0)).state, "unknown");
    }
}

//! openraft's state machine ([`RaftStateMachine`], [`RaftSnapshotBuilder`]):
//! keeps [`FarmState`] in memory behind a lock shared with the [`crate::Farm`]
//! handle, applies entries with `FarmState::apply`, and stores snapshots
//! through the [`RaftBackend`] so a restart starts from the latest one and
//! openraft replays the log after it.
//!
//! A stored snapshot is one metadata value: the length of the JSON-encoded
//! [`SnapshotMeta`] (8 bytes, big-endian), that JSON, then the snapshot data
//! (the JSON-encoded `FarmState`).

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use postroom_core::{FarmState, Response};

use crate::backend::{flush_durable, RaftBackend};
use crate::types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::ClusterError;

const SNAPSHOT: &str = "snapshot";

/// The applied state and where in the log it stands.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) state: FarmState,
    pub(crate) last_applied: Option<LogId>,
    pub(crate) last_membership: StoredMembership,
}

/// State shared between the state machine, its snapshot builders and the handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    applied: RwLock<Applied>,
    /// Serializes snapshot saves so an older snapshot never replaces a newer one.
    saving: Mutex<()>,
    snapshot_seq: AtomicU64,
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Applied> {
        self.applied
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.applied
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn encode_snapshot(meta: &SnapshotMeta, data: &[u8]) -> Result<Vec<u8>, ClusterError> {
    let meta_json =
        serde_json::to_vec(meta).map_err(|e| ClusterError::encode("snapshot meta", e))?;
    let mut out = Vec::with_capacity(8 + meta_json.len() + data.len());
    out.extend_from_slice(&(meta_json.len() as u64).to_be_bytes());
    out.extend_from_slice(&meta_json);
    out.extend_from_slice(data);
    Ok(out)
}

fn decode_snapshot(bytes: &[u8]) -> Result<(SnapshotMeta, Vec<u8>), ClusterError> {
    let short = || {
        ClusterError::decode(
            "stored snapshot",
            format!("{} bytes is too short", bytes.len()),
        )
    };
    let (len, rest) = bytes.split_first_chunk::<8>().ok_or_else(short)?;
    let len = usize::try_from(u64::from_be_bytes(*len)).map_err(|_| short())?;
    if rest.len() < len {
        return Err(short());
    }
    let (meta_json, data) = rest.split_at(len);
    let meta =
        serde_json::from_slice(meta_json).map_err(|e| ClusterError::decode("snapshot meta", e))?;
    Ok((meta, data.to_vec()))
}

fn decode_state(data: &[u8], meta: &SnapshotMeta) -> Result<FarmState, ClusterError> {
    serde_json::from_slice(data)
        .map_err(|e| ClusterError::decode(format!("snapshot {}", meta.snapshot_id), e))
}

/// Load the stored snapshot, if any.
fn load_snapshot(
    backend: &dyn RaftBackend,
) -> Result<Option<(SnapshotMeta, Vec<u8>)>, ClusterError> {
    backend
        .get_meta(SNAPSHOT)?
        .map(|bytes| decode_snapshot(&bytes))
        .transpose()
}

/// Save a snapshot durably unless a newer one is already stored.
async fn save_snapshot(
    backend: &Arc<dyn RaftBackend>,
    shared: &Shared,
    meta: &SnapshotMeta,
    data: &[u8],
) -> Result<(), ClusterError> {
    {
        let _saving = shared
            .saving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((stored, _)) = load_snapshot(backend.as_ref())? {
            if stored.last_log_id > meta.last_log_id {
                return Ok(());
            }
        }
        backend.put_meta(SNAPSHOT, encode_snapshot(meta, data)?)?;
    }
    flush_durable(backend.clone()).await
}

fn snapshot_err(meta: Option<&SnapshotMeta>, e: ClusterError) -> StorageError {
    StorageIOError::write_snapshot(meta.map(|m| m.signature()), AnyError::new(&e)).into()
}

/// The farm's state machine.
pub struct StateMachineStore {
    backend: Arc<dyn RaftBackend>,
    shared: Arc<Shared>,
}

impl StateMachineStore {
    /// A state machine starting from the latest stored snapshot (or empty).
    pub(crate) fn open(
        backend: Arc<dyn RaftBackend>,
    ) -> Result<(StateMachineStore, Arc<Shared>), ClusterError> {
        let shared = Arc::new(Shared::default());
        if let Some((meta, data)) = load_snapshot(backend.as_ref())? {
            let state = decode_state(&data, &meta)?;
            let mut applied = shared.write();
            applied.state = state;
            applied.last_applied = meta.last_log_id;
            applied.last_membership = meta.last_membership;
        }
        Ok((
            StateMachineStore {
                backend,
                shared: shared.clone(),
            },
            shared,
        ))
    }
}

/// Builds a snapshot of the state at the moment it was asked for.
pub struct SnapshotBuilder {
    backend: Arc<dyn RaftBackend>,
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (data, last_log_id, last_membership) = {
            let applied = self.shared.read();
            let data = serde_json::to_vec(&applied.state)
                .map_err(|e| snapshot_err(None, ClusterError::encode("farm state", e)))?;
            (data, applied.last_applied, applied.last_membership.clone())
        };
        let seq = self.shared.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match last_log_id {
            Some(id) => format!("{}-{}-{seq}", id.leader_id.term, id.index),
            None => format!("0-0-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        save_snapshot(&self.backend, &self.shared, &meta, &data)
            .await
            .map_err(|e| snapshot_err(Some(&meta), e))?;
        tracing::debug!(snapshot = %meta.snapshot_id, bytes = data.len(), "built raft snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.read();
        Ok((applied.last_applied, applied.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<Response>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut applied = self.shared.write();
        let mut responses = Vec::new();
        for entry in entries {
            applied.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(proposal) => Some(applied.state.apply(&proposal)),
                EntryPayload::Membership(membership) => {
                    applied.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                    None
                }
            };
            responses.push(response);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            backend: self.backend.clone(),
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let state = decode_state(&data, meta).map_err(|e| snapshot_err(Some(meta), e))?;
        save_snapshot(&self.backend, &self.shared, meta, &data)
            .await
            .map_err(|e| snapshot_err(Some(meta), e))?;
        let mut applied = self.shared.write();
        applied.state = state;
        applied.last_applied = meta.last_log_id;
        applied.last_membership = meta.last_membership.clone();
        tracing::info!(snapshot = %meta.snapshot_id, "installed raft snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let stored = load_snapshot(self.backend.as_ref()).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(None, AnyError::new(&e)))
        })?;
        Ok(stored.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_snapshot_round_trip() {
        let meta = SnapshotMeta {
            last_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(3, 1), 77)),
            last_membership: StoredMembership::default(),
            snapshot_id: "3-77-0".to_string(),
        };
        let bytes = encode_snapshot(&meta, b"{\"data\":1}").unwrap();
        let (decoded, data) = decode_snapshot(&bytes).unwrap();
        assert_eq!(decoded, meta);
        assert_eq!(data, b"{\"data\":1}");
        assert!(decode_snapshot(&bytes[..5]).is_err());
        assert!(decode_snapshot(&bytes[..12])
            .unwrap_err()
            .to_string()
            .contains("too short"));
    }
}

//! The narrow storage trait the Raft log store and state machine are written
//! against ([`RaftBackend`]), and its sled implementation ([`SledBackend`]).
//!
//! Layout of the sled database: tree `log` maps big-endian `u64` log indexes
//! to encoded entries; tree `meta` holds small named values (vote, committed
//! log id, last purged log id, the latest snapshot). Replacing sled means
//! implementing this trait; nothing else in the crate touches sled.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ClusterError;

/// Key/value and log storage for one Raft node.
///
/// All methods except [`RaftBackend::flush`] may return before the data is
/// durable, but writes become visible to reads immediately and are made
/// durable in the order they were issued by the next `flush`.
pub trait RaftBackend: Send + Sync + 'static {
    /// Read a metadata value.
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, ClusterError>;
    /// Write a metadata value.
    fn put_meta(&self, key: &str, value: Vec<u8>) -> Result<(), ClusterError>;
    /// Remove a metadata value (absent is fine).
    fn remove_meta(&self, key: &str) -> Result<(), ClusterError>;
    /// Store log entries (index, bytes) atomically, replacing any at the same index.
    fn append(&self, entries: Vec<(u64, Vec<u8>)>) -> Result<(), ClusterError>;
    /// Entries with `start <= index < end`, in index order.
    fn read_range(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, ClusterError>;
    /// The entry with the highest index, if any.
    fn last_entry(&self) -> Result<Option<(u64, Vec<u8>)>, ClusterError>;
    /// Remove every entry with `index >= from`.
    fn truncate_from(&self, from: u64) -> Result<(), ClusterError>;
    /// Remove every entry with `index <= upto`.
    fn purge_upto(&self, upto: u64) -> Result<(), ClusterError>;
    /// Number of stored log entries (may scan; for diagnostics and tests).
    fn log_len(&self) -> Result<usize, ClusterError>;
    /// Block until every earlier write is durable on disk.
    fn flush(&self) -> Result<(), ClusterError>;
}

/// Run [`RaftBackend::flush`] on the blocking pool and wait for it.
pub async fn flush_durable(backend: Arc<dyn RaftBackend>) -> Result<(), ClusterError> {
    match tokio::task::spawn_blocking(move || backend.flush()).await {
        Ok(result) => result,
        Err(e) => Err(ClusterError::storage("flushing", e)),
    }
}

/// sled's page cache (its default is 1 GiB, which a node's resident memory
/// would grow into as the log turns over).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How long [`SledBackend::open`] waits for a previous holder of the
/// directory lock (e.g. an instance being shut down in the same process).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// [`RaftBackend`] over one sled database.
#[derive(Clone)]
pub struct SledBackend {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    path: PathBuf,
}

impl SledBackend {
    /// Open (or create) the database in `dir`. Blocking.
    pub fn open(dir: &Path) -> Result<SledBackend, ClusterError> {
        let open_err = |e: &dyn std::fmt::Display| ClusterError::OpenStorage {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let started = Instant::now();
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(e) if is_lock_error(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(open_err(&e)),
            }
        };
        let log = db.open_tree("log").map_err(|e| open_err(&e))?;
        let meta = db.open_tree("meta").map_err(|e| open_err(&e))?;
        Ok(SledBackend {
            db,
            log,
            meta,
            path: dir.to_path_buf(),
        })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn index_of(key: &[u8]) -> Result<u64, ClusterError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| ClusterError::decode("log key", format!("{} bytes, want 8", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

fn entry_of(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(u64, Vec<u8>), ClusterError> {
    let (k, v) = item.map_err(|e| ClusterError::storage("reading log", e))?;
    Ok((index_of(&k)?, v.to_vec()))
}

fn remove_keys(
    tree: &sled::Tree,
    keys: impl Iterator<Item = sled::Result<sled::IVec>>,
    action: &str,
) -> Result<(), ClusterError> {
    let mut batch = sled::Batch::default();
    for key in keys {
        batch.remove(key.map_err(|e| ClusterError::storage(action, e))?);
    }
    tree.apply_batch(batch)
        .map_err(|e| ClusterError::storage(action, e))
}

impl RaftBackend for SledBackend {
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, ClusterError> {
        let value = self
            .meta
            .get(key)
            .map_err(|e| ClusterError::storage(format!("reading {key}"), e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn put_meta(&self, key: &str, value: Vec<u8>) -> Result<(), ClusterError> {
        self.meta
            .insert(key, value)
            .map_err(|e| ClusterError::storage(format!("writing {key}"), e))?;
        Ok(())
    }

    fn remove_meta(&self, key: &str) -> Result<(), ClusterError> {
        self.meta
            .remove(key)
            .map_err(|e| ClusterError::storage(format!("removing {key}"), e))?;
        Ok(())
    }

    fn append(&self, entries: Vec<(u64, Vec<u8>)>) -> Result<(), ClusterError> {
        let mut batch = sled::Batch::default();
        for (index, bytes) in entries {
            batch.insert(&index_key(index), bytes);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| ClusterError::storage("appending log entries", e))
    }

    fn read_range(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, ClusterError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.log
            .range(index_key(start)..index_key(end))
            .map(entry_of)
            .collect()
    }

    fn last_entry(&self) -> Result<Option<(u64, Vec<u8>)>, ClusterError> {
        self.log.iter().next_back().map(entry_of).transpose()
    }

    fn truncate_from(&self, from: u64) -> Result<(), ClusterError> {
        let keys = self.log.range(index_key(from)..).keys();
        remove_keys(&self.log, keys, &format!("truncating log from {from}"))
    }

    fn purge_upto(&self, upto: u64) -> Result<(), ClusterError> {
        let keys = self.log.range(..=index_key(upto)).keys();
        remove_keys(&self.log, keys, &format!("purging log up to {upto}"))
    }

    fn log_len(&self) -> Result<usize, ClusterError> {
        Ok(self.log.len())
    }

    fn flush(&self) -> Result<(), ClusterError> {
        self.db
            .flush()
            .map_err(|e| ClusterError::storage(format!("flushing {}", self.path.display()), e))?;
        Ok(())
    }
}

/// Read a JSON-encoded metadata value.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
    backend: &dyn RaftBackend,
    key: &str,
) -> Result<Option<T>, ClusterError> {
    match backend.get_meta(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClusterError::decode(key, e)),
        None => Ok(None),
    }
}

/// Write a JSON-encoded metadata value.
pub(crate) fn put_json<T: serde::Serialize>(
    backend: &dyn RaftBackend,
    key: &str,
    value: &T,
) -> Result<(), ClusterError> {
    let bytes = serde_json::to_vec(value).map_err(|e| ClusterError::encode(key, e))?;
    backend.put_meta(key, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, SledBackend) {
        let dir = tempfile::tempdir().unwrap();
        let backend = SledBackend::open(dir.path()).unwrap();
        (dir, backend)
    }

    fn indexes(entries: &[(u64, Vec<u8>)]) -> Vec<u64> {
        entries.iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn log_append_read_truncate_purge() {
        let (_dir, b) = open();
        // Big-endian keys keep numeric order past one byte.
        b.append((250..=260).map(|i| (i, vec![i as u8])).collect())
            .unwrap();
        assert_eq!(
            indexes(&b.read_range(255, 258).unwrap()),
            vec![255, 256, 257]
        );
        assert_eq!(b.last_entry().unwrap().map(|(i, _)| i), Some(260));
        b.truncate_from(258).unwrap();
        assert_eq!(b.last_entry().unwrap().map(|(i, _)| i), Some(257));
        b.purge_upto(252).unwrap();
        assert_eq!(
            indexes(&b.read_range(0, u64::MAX).unwrap()),
            (253..=257).collect::<Vec<_>>()
        );
        assert_eq!(b.log_len().unwrap(), 5);
        assert!(b.read_range(9, 3).unwrap().is_empty());
    }

    #[test]
    fn meta_round_trip_survives_reopen() {
        let (dir, b) = open();
        put_json(&b, "vote", &42u64).unwrap();
        b.put_meta("gone", vec![1]).unwrap();
        b.remove_meta("gone").unwrap();
        b.append(vec![(1, b"one".to_vec())]).unwrap();
        b.flush().unwrap();
        drop(b);
        let b = SledBackend::open(dir.path()).unwrap();
        assert_eq!(get_json::<u64>(&b, "vote").unwrap(), Some(42));
        assert_eq!(b.get_meta("gone").unwrap(), None);
        assert_eq!(b.read_range(1, 2).unwrap(), vec![(1, b"one".to_vec())]);
    }

    #[test]
    fn bad_meta_is_a_decode_error_naming_the_key() {
        let (_dir, b) = open();
        b.put_meta("vote", b"not json".to_vec()).unwrap();
        let err = get_json::<u64>(&b, "vote").unwrap_err();
        assert!(err.to_string().starts_with("cannot decode vote:"), "{err}");
    }
}

//! openraft's log storage ([`RaftLogStorage`], [`RaftLogReader`]) over a
//! [`RaftBackend`]: entries are serde_json-encoded under their index; vote,
//! committed and last-purged log ids live in the backend's metadata.
//!
//! Appends become readable at once and are acknowledged to openraft only after
//! a durable flush; a background task groups the flushes of appends that
//! queue up behind one another (group commit).

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, OptionalSend, RaftLogReader, StorageIOError};
use tokio::sync::mpsc;

use crate::backend::{flush_durable, get_json, put_json, RaftBackend};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};
use crate::ClusterError;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

fn read_err(e: ClusterError) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn write_err(e: ClusterError) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

/// Reads log entries; cloned for each replication stream.
#[derive(Clone)]
pub struct LogReader {
    backend: Arc<dyn RaftBackend>,
}

impl LogReader {
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, ClusterError> {
        self.backend
            .read_range(start, end)?
            .into_iter()
            .map(|(index, bytes)| {
                serde_json::from_slice(&bytes)
                    .map_err(|e| ClusterError::decode(format!("log entry {index}"), e))
            })
            .collect()
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => u64::MAX,
        };
        self.entries(start, end).map_err(read_err)
    }
}

/// The Raft log of this node.
pub struct LogStore {
    reader: LogReader,
    flusher: mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
}

impl LogStore {
    /// A log store over `backend`; spawns the flush task (needs a tokio runtime).
    pub fn new(backend: Arc<dyn RaftBackend>) -> LogStore {
        let (flusher, rx) = mpsc::unbounded_channel();
        tokio::spawn(flush_loop(backend.clone(), rx));
        LogStore {
            reader: LogReader { backend },
            flusher,
        }
    }

    fn backend(&self) -> &dyn RaftBackend {
        self.reader.backend.as_ref()
    }
}

/// Flush once for every group of appends waiting, then acknowledge them in order.
/// Ends when the log store (the only sender) is dropped.
async fn flush_loop(
    backend: Arc<dyn RaftBackend>,
    mut rx: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>,
) {
    while let Some(first) = rx.recv().await {
        let mut waiting = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiting.push(more);
        }
        let result = flush_durable(backend.clone())
            .await
            .map_err(|e| e.to_string());
        for callback in waiting {
            callback.log_io_completed(result.clone().map_err(io::Error::other));
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = get_json(self.backend(), LAST_PURGED).map_err(read_err)?;
        let last = match self.backend().last_entry().map_err(read_err)? {
            Some((index, bytes)) => {
                let entry: Entry = serde_json::from_slice(&bytes)
                    .map_err(|e| read_err(ClusterError::decode(format!("log entry {index}"), e)))?;
                Some(entry.log_id)
            }
            None => None,
        };
        // Entries at or below the purge point may survive a crash during purge; ignore them.
        let last_log_id = std::cmp::max(last, last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let backend = self.reader.backend.clone();
        let write =
            |e: ClusterError| StorageError::from(StorageIOError::write_vote(AnyError::new(&e)));
        put_json(backend.as_ref(), VOTE, vote).map_err(write)?;
        flush_durable(backend).await.map_err(write)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        get_json(self.backend(), VOTE)
            .map_err(|e| StorageIOError::read_vote(AnyError::new(&e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Made durable by the next flush; losing it only delays re-applying after a restart.
        put_json(self.backend(), COMMITTED, &committed).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed: Option<Option<LogId>> =
            get_json(self.backend(), COMMITTED).map_err(read_err)?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| write_err(ClusterError::encode(format!("log entry {index}"), e)))?;
            batch.push((index, bytes));
        }
        self.backend().append(batch).map_err(write_err)?;
        if let Err(mpsc::error::SendError(callback)) = self.flusher.send(callback) {
            let e = ClusterError::storage("appending log entries", "the flush task has stopped");
            callback.log_io_completed(Err(io::Error::other(e.to_string())));
            return Err(write_err(e));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.backend()
            .truncate_from(log_id.index)
            .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Record the purge point first: a crash in between leaves entries that are ignored.
        put_json(self.backend(), LAST_PURGED, &log_id).map_err(write_err)?;
        self.backend().purge_upto(log_id.index).map_err(write_err)
    }
}

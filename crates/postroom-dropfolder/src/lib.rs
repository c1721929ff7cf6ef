//! postroom-dropfolder: watches the drop folder an upstream MTA writes mail
//! files into and offers each finished ("stable") file to the pipeline once.
//!
//! This file owns the crate's public value types ([`WatchSettings`],
//! [`ReadyFile`], [`Disposition`], [`FolderStatus`]) and re-exports the
//! running handle [`DropFolder`] and the error type [`DropFolderError`].
//!
//! Layout:
//! - `names`: which file names are candidates (pure).
//! - `tracker`: the clock-free readiness/offer state machine (pure).
//! - `scan`: one blocking `read_dir` + metadata pass over the folder (IO edge).
//! - `events`: the notify watch that wakes the scan loop early.
//! - `watcher`: the tokio scan loop and the [`DropFolder`] handle.
//!
//! The folder may be a network share that sends no change events, so a full
//! rescan every `poll_interval` is the ground truth; notify events only make
//! a rescan happen sooner.

mod error;
mod events;
mod names;
mod scan;
mod tracker;
mod watcher;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use error::DropFolderError;
pub use watcher::DropFolder;

/// Capacity of the channel ready files are offered on; the watcher waits for
/// room, and offers at most this many files per scan.
pub const READY_CHANNEL_CAPACITY: usize = 1024;

/// How to watch one drop folder.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// The folder; created (with parents) by [`DropFolder::start`] if missing.
    /// Offered paths are `path.join(file_name)`, so they are relative when this is.
    pub path: PathBuf,
    /// Full rescan period (the fallback for network shares without change
    /// events), e.g. 2 s. Must not be zero.
    pub poll_interval: Duration,
    /// A file must be unchanged (size and mtime) this long before it is
    /// offered, e.g. 500 ms. On NFS, make this longer than the attribute
    /// cache timeout (`actimeo`) of the mount.
    pub stable_after: Duration,
}

/// A file that stopped changing and is offered to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFile {
    /// The folder path joined with the file name; pass it back to [`DropFolder::done`].
    pub path: PathBuf,
    /// Size in bytes when it was found stable.
    pub size: u64,
    /// Modification time when it was found stable.
    pub modified: SystemTime,
}

/// What the pipeline did with an offered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The file was removed (or moved away); forget it.
    Removed,
    /// The file is finished but could not be removed (e.g. permission denied): never offer it again
    /// unless its size or mtime changes (then it is a new file).
    Kept,
    /// Not done (claim held by another node, transient error): offer it again after `retry_after`.
    RetryLater {
        /// Earliest time after the call to offer the file again.
        retry_after: Duration,
    },
}

/// A snapshot of the watcher's state, for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderStatus {
    /// Candidate files present in the folder (settling, ready, offered or
    /// waiting for a retry), not counting `Kept` ones.
    pub backlog: usize,
    /// Files present that were reported [`Disposition::Kept`].
    pub kept: usize,
    /// The error of the latest scan if it failed; `None` once a scan succeeds again.
    pub last_error: Option<String>,
    /// Scans attempted so far (failed ones included), so it grows while the watcher is alive.
    pub scans: u64,
}

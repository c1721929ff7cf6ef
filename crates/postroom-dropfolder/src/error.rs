//! The crate's one error type, [`DropFolderError`]; every message names the
//! folder it is about.

use std::io;
use std::path::PathBuf;

/// Errors of starting or scanning a drop folder.
#[derive(Debug, thiserror::Error)]
pub enum DropFolderError {
    /// The settings cannot be used as given.
    #[error("invalid watch settings for drop folder {}: {reason}", path.display())]
    InvalidSettings {
        /// The drop folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `start` was called outside a tokio runtime.
    #[error("drop folder {} must be started inside a tokio runtime", path.display())]
    NoRuntime {
        /// The drop folder.
        path: PathBuf,
    },
    /// The folder was missing and could not be created.
    #[error("cannot create drop folder {}: {source}", path.display())]
    CreateFolder {
        /// The drop folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The folder could not be listed (missing, permission denied, stale handle).
    #[error("cannot read drop folder {}: {source}", path.display())]
    ReadFolder {
        /// The drop folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The path exists but is not a directory.
    #[error("drop folder {} is not a directory", path.display())]
    NotADirectory {
        /// The drop folder.
        path: PathBuf,
    },
    /// The blocking scan task did not complete (runtime shutting down).
    #[error("scan of drop folder {} did not complete: {reason}", path.display())]
    ScanAborted {
        /// The drop folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

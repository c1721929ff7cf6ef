//! The one error type of postroom-library. Every message is lower case and
//! names the path or value it is about.

use std::io;
use std::path::{Path, PathBuf};

/// Errors of filing into a library and of the quarantine.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A filesystem call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An item record could not be read as one.
    #[error("corrupt item record {}: {why}", path.display())]
    CorruptRecord { path: PathBuf, why: String },
    /// A quarantine reason file could not be read as one.
    #[error("corrupt quarantine reason file {}: {why}", path.display())]
    CorruptReason { path: PathBuf, why: String },
    /// A record in state `writing` plans a different number of files than the
    /// message has (the settings or the parser changed since it was written).
    #[error(
        "item record {} plans {planned} files but message {key} now has {actual}; \
         move the record aside to file the message again",
        path.display()
    )]
    PlanMismatch {
        path: PathBuf,
        key: String,
        planned: usize,
        actual: usize,
    },
    /// Every numbered variant of a name was taken.
    #[error("no free name for {name:?} in folder {}", folder.display())]
    NoFreeName { folder: PathBuf, name: String },
    /// The same message key came twice in one batch and its first copy failed.
    #[error(
        "message key {key} appears more than once in the batch and its first copy failed: {first}"
    )]
    DuplicateInBatch { key: String, first: String },
    /// A file could not be moved into quarantine; its reason file was written
    /// and points at the file where it still is.
    #[error(
        "could not move {} into quarantine (the reason was written to {}): {error}",
        source_path.display(),
        reason_file.display()
    )]
    NotMoved {
        source_path: PathBuf,
        reason_file: PathBuf,
        #[source]
        error: io::Error,
    },
    /// A file was copied into quarantine (across filesystems) but the source
    /// could not be removed afterwards; the copy and its reason are durable.
    #[error(
        "copied {} into quarantine as {} but could not remove the source: {error}",
        source_path.display(),
        copy.display()
    )]
    SourceNotRemoved {
        source_path: PathBuf,
        copy: PathBuf,
        #[source]
        error: io::Error,
    },
}

impl LibraryError {
    pub(crate) fn io(
        action: &'static str,
        path: impl AsRef<Path>,
        source: impl Into<io::Error>,
    ) -> Self {
        LibraryError::Io {
            action,
            path: path.as_ref().to_path_buf(),
            source: source.into(),
        }
    }

    /// A copy of this error for another item of the same batch (io errors are
    /// not `Clone`; the copy keeps kind, message, path and action).
    pub(crate) fn duplicate(&self) -> LibraryError {
        let copy_io = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        match self {
            LibraryError::Io {
                action,
                path,
                source,
            } => LibraryError::Io {
                action,
                path: path.clone(),
                source: copy_io(source),
            },
            LibraryError::CorruptRecord { path, why } => LibraryError::CorruptRecord {
                path: path.clone(),
                why: why.clone(),
            },
            LibraryError::CorruptReason { path, why } => LibraryError::CorruptReason {
                path: path.clone(),
                why: why.clone(),
            },
            LibraryError::PlanMismatch {
                path,
                key,
                planned,
                actual,
            } => LibraryError::PlanMismatch {
                path: path.clone(),
                key: key.clone(),
                planned: *planned,
                actual: *actual,
            },
            LibraryError::NoFreeName { folder, name } => LibraryError::NoFreeName {
                folder: folder.clone(),
                name: name.clone(),
            },
            LibraryError::DuplicateInBatch { key, first } => LibraryError::DuplicateInBatch {
                key: key.clone(),
                first: first.clone(),
            },
            LibraryError::NotMoved {
                source_path,
                reason_file,
                error,
            } => LibraryError::NotMoved {
                source_path: source_path.clone(),
                reason_file: reason_file.clone(),
                error: copy_io(error),
            },
            LibraryError::SourceNotRemoved {
                source_path,
                copy,
                error,
            } => LibraryError::SourceNotRemoved {
                source_path: source_path.clone(),
                copy: copy.clone(),
                error: copy_io(error),
            },
        }
    }
}

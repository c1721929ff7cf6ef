//! The embedded filesystem store: a [`Library`] is a folder on disk whose
//! visible content is the filed attachments (and `.eml` originals), plus a
//! hidden `.postroom/` folder with one record per message key
//! (`.postroom/items/<key>.json`) and a staging folder for temporary files
//! (`.postroom/tmp/`, on the same filesystem so a rename moves a file into
//! place atomically).
//!
//! Filing itself (the phases, the crash argument) is in `batch.rs`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use postroom_core::config::LibrarySettings;
use postroom_core::MessageKey;

use crate::item::{parse_record, read_record, FileOutcome, ItemRecord, ItemToFile};
use crate::{batch, clock, durable, LibraryError};

/// Hidden folder of postroom's own files inside a library.
pub(crate) const META_DIR: &str = ".postroom";
/// Item records, inside [`META_DIR`].
pub(crate) const ITEMS_DIR: &str = "items";
/// Temporary files, inside [`META_DIR`].
pub(crate) const TMP_DIR: &str = "tmp";
/// Temporary files older than this are left over from a crash and removed on open.
const STALE_TMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// One document library on disk.
#[derive(Debug, Clone)]
pub struct Library {
    root: PathBuf,
    settings: LibrarySettings,
}

/// Open handles on the library's folders for one call.
pub(crate) struct Dirs {
    pub(crate) root_path: PathBuf,
    pub(crate) root: OwnedFd,
    pub(crate) items: OwnedFd,
    pub(crate) tmp: OwnedFd,
}

impl Dirs {
    pub(crate) fn open(root_path: &Path) -> Result<Dirs, LibraryError> {
        let root = durable::open_dir_path(root_path)
            .map_err(|e| LibraryError::io("open library folder", root_path, e))?;
        let meta_path = root_path.join(META_DIR);
        let meta = durable::ensure_subdir(root.as_fd(), META_DIR)
            .map_err(|e| LibraryError::io("open folder", &meta_path, e))?;
        let items = durable::ensure_subdir(meta.as_fd(), ITEMS_DIR)
            .map_err(|e| LibraryError::io("open folder", meta_path.join(ITEMS_DIR), e))?;
        let tmp = durable::ensure_subdir(meta.as_fd(), TMP_DIR)
            .map_err(|e| LibraryError::io("open folder", meta_path.join(TMP_DIR), e))?;
        Ok(Dirs {
            root_path: root_path.to_path_buf(),
            root,
            items,
            tmp,
        })
    }

    pub(crate) fn items_path(&self) -> PathBuf {
        self.root_path.join(META_DIR).join(ITEMS_DIR)
    }

    pub(crate) fn tmp_path(&self) -> PathBuf {
        self.root_path.join(META_DIR).join(TMP_DIR)
    }
}

impl Library {
    /// Open (create if missing) the library folder `root` with these settings.
    pub fn open(root: PathBuf, settings: LibrarySettings) -> Result<Library, LibraryError> {
        std::fs::create_dir_all(&root)
            .map_err(|e| LibraryError::io("create library folder", &root, e))?;
        let dirs = Dirs::open(&root)?;
        remove_stale_temps(&dirs);
        durable::sync_filesystem(&dirs.root)
            .map_err(|e| LibraryError::io("flush to disk", &root, e))?;
        Ok(Library { root, settings })
    }

    /// The library folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The settings this library was opened with.
    pub fn settings(&self) -> &LibrarySettings {
        &self.settings
    }

    /// File a batch of messages; one result per item, in order. Idempotent on
    /// the message key, across calls, processes and crashes. An `Ok` result
    /// means the item's files and its `done` record are on disk.
    pub fn file_batch(&self, items: &[ItemToFile<'_>]) -> Vec<Result<FileOutcome, LibraryError>> {
        batch::file_batch(&self.root, &self.settings, items)
    }

    /// All items (done and in progress), sorted by `received`, then key.
    pub fn items(&self) -> Result<Vec<ItemRecord>, LibraryError> {
        read_items(&self.root)
    }

    /// The item of `key`, if there is one.
    pub fn item(&self, key: &MessageKey) -> Result<Option<ItemRecord>, LibraryError> {
        read_item(&self.root, key)
    }
}

/// The items of the library folder `root` (done and in progress),
/// sorted by `received`, then key; read only (nothing is created or
/// cleaned up, unlike [`Library::open`]).
pub fn read_items(root: &Path) -> Result<Vec<ItemRecord>, LibraryError> {
    let dir = root.join(META_DIR).join(ITEMS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LibraryError::io("list item records in", &dir, e)),
    };
    let mut records = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LibraryError::io("list item records in", &dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Gone between listing and reading: not an item any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LibraryError::io("read item record", &path, e)),
        };
        let expected = name.trim_end_matches(".json").parse::<MessageKey>().ok();
        let Some(expected) = expected else {
            return Err(LibraryError::CorruptRecord {
                path,
                why: "the file name is not a message key".to_string(),
            });
        };
        records.push(parse_record(&bytes, &path, Some(&expected))?);
    }
    // By time received (whatever offset or precision the caller wrote),
    // then by the text, then by key, so the order is total and stable.
    records.sort_by_cached_key(|r| {
        (
            clock::parse_rfc3339(&r.meta.received),
            r.meta.received.clone(),
            r.meta.message_key,
        )
    });
    Ok(records)
}

/// The item of `key` in the library folder `root`, if there is one.
pub fn read_item(root: &Path, key: &MessageKey) -> Result<Option<ItemRecord>, LibraryError> {
    let dir = root.join(META_DIR).join(ITEMS_DIR);
    let items = match durable::open_dir_path(&dir) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LibraryError::io("open folder", &dir, e)),
    };
    read_record(items.as_fd(), &dir, key)
}

/// Remove temporary files that a crashed process left long ago. Failures only
/// leave clutter, so they are logged, not returned.
fn remove_stale_temps(dirs: &Dirs) {
    let names = match durable::list_names(dirs.tmp.as_fd()) {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(folder = %dirs.tmp_path().display(), error = %e, "cannot list temporary files");
            return;
        }
    };
    let now = SystemTime::now();
    for name in names {
        let path = dirs.tmp_path().join(&name);
        let old = std::fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TMP_AGE));
        if old {
            if let Err(e) = durable::remove_at(dirs.tmp.as_fd(), &name) {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove stale temporary file");
            }
        }
    }
}

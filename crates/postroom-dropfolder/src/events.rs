//! The notify side of the watcher: a non-recursive watch on the folder whose
//! relevant events wake the scan loop early, re-created when the folder is
//! replaced. Failure to watch (e.g. some network shares) is logged and the
//! loop relies on polling.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::names::is_candidate_path;

/// The folder's notify watch, if any, and what it was set up for.
pub(crate) struct FolderWatch {
    path: PathBuf,
    wake: Arc<Notify>,
    watcher: Option<RecommendedWatcher>,
    /// Identity of the folder when the watch was made (learned from scans).
    watched_id: Option<(u64, u64)>,
    /// A scan failed since the watch was made: re-watch once one succeeds.
    stale: bool,
    /// A failure to watch was already logged as a warning.
    warned: bool,
}

impl FolderWatch {
    /// Watch `path`, waking `wake` on relevant events; a failure is logged
    /// and leaves polling only.
    pub(crate) fn start(path: &Path, wake: Arc<Notify>) -> Self {
        let mut watch = FolderWatch {
            path: path.to_path_buf(),
            wake,
            watcher: None,
            watched_id: None,
            stale: false,
            warned: false,
        };
        watch.rewatch();
        watch
    }

    /// Whether notify events are currently expected.
    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        self.watcher.is_some()
    }

    /// A scan failed: the folder may be gone, and with it the watch.
    pub(crate) fn scan_failed(&mut self) {
        self.stale = true;
    }

    /// A scan succeeded and saw the folder with identity `folder_id`:
    /// re-watch if the folder was replaced or unreadable meanwhile.
    pub(crate) fn scan_succeeded(&mut self, folder_id: Option<(u64, u64)>) {
        let replaced = self.watched_id.is_some() && self.watched_id != folder_id;
        if self.stale || replaced {
            debug!(folder = %self.path.display(), "re-creating the drop folder watch");
            self.rewatch();
        }
        self.stale = false;
        self.watched_id = folder_id;
    }

    fn rewatch(&mut self) {
        // Drop the old watch first so its thread and descriptors go away.
        self.watcher = None;
        match make_watcher(&self.path, self.wake.clone()) {
            Ok(w) => {
                if self.warned {
                    info!(folder = %self.path.display(), "drop folder change events available again");
                    self.warned = false;
                }
                self.watcher = Some(w);
            }
            Err(e) if !self.warned => {
                warn!(folder = %self.path.display(), error = %e,
                    "cannot watch the drop folder for changes; relying on polling");
                self.warned = true;
            }
            Err(e) => {
                debug!(folder = %self.path.display(), error = %e, "cannot watch the drop folder");
            }
        }
    }
}

fn make_watcher(path: &Path, wake: Arc<Notify>) -> notify::Result<RecommendedWatcher> {
    let root = path.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) => {
            if is_relevant(&event, &root) {
                wake.notify_one();
            }
        }
        Err(e) => {
            debug!(folder = %root.display(), error = %e, "drop folder watch error; rescanning");
            wake.notify_one();
        }
    })?;
    watcher.watch(path, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Whether an event may change what a scan finds: anything but plain
/// access, about a candidate file, the folder itself, or unspecified paths
/// (e.g. an overflow asking for a rescan).
pub(crate) fn is_relevant(event: &Event, root: &Path) -> bool {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write | AccessMode::Any)) => {}
        EventKind::Access(_) => return false,
        _ => {}
    }
    event.paths.is_empty()
        || event
            .paths
            .iter()
            .any(|p| p == root || is_candidate_path(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, ModifyKind, RenameMode};

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn relevant_events() {
        let root = Path::new("/drop");
        let create = EventKind::Create(CreateKind::File);
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let opened = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert!(is_relevant(&ev(create, &["/drop/a.eml"]), root));
        assert!(is_relevant(&ev(write, &["/drop/a.eml"]), root));
        assert!(is_relevant(&ev(closed, &["/drop/a.eml"]), root));
        assert!(is_relevant(
            &ev(rename, &["/drop/a.tmp", "/drop/a.eml"]),
            root
        ));
        assert!(is_relevant(&ev(EventKind::Other, &[]), root));
        assert!(is_relevant(&ev(EventKind::Any, &["/drop"]), root));
        assert!(!is_relevant(&ev(opened, &["/drop/a.eml"]), root));
        assert!(!is_relevant(&ev(write, &["/drop/a.eml.part"]), root));
        assert!(!is_relevant(&ev(create, &["/drop/.x"]), root));
    }

    #[tokio::test]
    async fn a_watch_on_a_local_folder_wakes() {
        let dir = tempfile::tempdir().unwrap();
        let wake = Arc::new(Notify::new());
        let watch = FolderWatch::start(dir.path(), wake.clone());
        assert!(watch.is_active());
        std::fs::write(dir.path().join("a.eml"), b"x").unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), wake.notified())
            .await
            .unwrap();
    }
}

//! The libraries a node files into, opened once and reopened when their
//! settings change, and the filing lock of each library folder (one batch
//! at a time per folder in this process).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use postroom_core::config::LibrarySettings;
use postroom_library::Library;

/// Open libraries by alias, reopened when their settings change.
#[derive(Default)]
pub struct Libraries {
    open: Mutex<HashMap<String, (LibrarySettings, Arc<Library>)>>,
    /// One batch at a time per library folder in this process: two batches
    /// planning names at once could both plan a free name and, their files
    /// being byte-identical, share it (`postroom-library` batch.rs, "The
    /// one ambiguity"). By folder, so a library reopened with new settings
    /// keeps its lock.
    filing: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
}

impl Libraries {
    pub fn get(&self, data_dir: &Path, settings: &LibrarySettings) -> anyhow::Result<Arc<Library>> {
        let mut open = self
            .open
            .lock()
            .map_err(|_| anyhow::anyhow!("library cache poisoned"))?;
        if let Some((s, lib)) = open.get(&settings.alias) {
            if s == settings {
                return Ok(lib.clone());
            }
        }
        let lib = Arc::new(Library::open(
            settings.resolved_path(data_dir),
            settings.clone(),
        )?);
        open.insert(settings.alias.clone(), (settings.clone(), lib.clone()));
        Ok(lib)
    }

    /// The filing lock of the library folder `root`.
    pub fn lock_of(&self, root: &Path) -> anyhow::Result<Arc<Mutex<()>>> {
        let mut locks = self
            .filing
            .lock()
            .map_err(|_| anyhow::anyhow!("library locks poisoned"))?;
        Ok(locks.entry(root.to_path_buf()).or_default().clone())
    }
}

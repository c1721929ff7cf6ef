//! The farm's shared folders: `[drop_folder]` (where an upstream MTA
//! writes `.eml` files, how it is watched) and `[quarantine]` (where
//! messages that cannot be filed are kept, and for how long). Part of the
//! replicated farm configuration (`config::FarmConfig`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// The drop folder where an upstream MTA writes `.eml` files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropFolderSettings {
    /// The folder; `<data_dir>/drop` when unset.
    pub path: Option<PathBuf>,
    /// Full rescan period; network shares send no change events, so this is their latency.
    pub poll_interval: HumanDuration,
    /// A file must be unchanged this long before it is picked up.
    pub stable_after: HumanDuration,
}

impl Default for DropFolderSettings {
    fn default() -> Self {
        DropFolderSettings {
            path: None,
            poll_interval: HumanDuration::from_secs(2),
            stable_after: HumanDuration::from_millis(500),
        }
    }
}

impl DropFolderSettings {
    /// The folder this node watches, given its data dir.
    pub fn resolved_path(&self, data_dir: &Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| data_dir.join("drop"))
    }
}

/// Where messages that cannot be filed are kept, each with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantineSettings {
    /// The folder; `<data_dir>/quarantine` when unset. A farm of several
    /// nodes needs an absolute path on shared storage, so that any node can
    /// list, show and replay what another quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Quarantined messages older than this are deleted (each logged);
    /// unset: they stay until an administrator replays or deletes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<HumanDuration>,
}

impl QuarantineSettings {
    /// The quarantine folder of this node, given its data dir.
    pub fn resolved_path(&self, data_dir: &Path) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| data_dir.join("quarantine"))
    }
}

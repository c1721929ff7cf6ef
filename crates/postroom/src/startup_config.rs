//! The node's config file at start-up, next to the farm's replicated
//! config that the admin API changes. The file's farm part is applied (as
//! one versioned change) when the farm has no config yet, or when the file
//! changed since this node last applied it and no node applied this same
//! file before; otherwise the farm keeps its config, so a restart (or a
//! rolling restart after a ConfigMap edit) never undoes a change made with
//! `postroom farm set`, `library add` or `apply`. The node remembers what it
//! last applied in `<data_dir>/config-applied.json`; the farm remembers the
//! digest of the last file applied.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use postroom_cluster::Farm;
use postroom_core::config::FarmConfig;
use postroom_core::config_diff::config_digest;
use postroom_core::{Command, Response};
use tracing::{info, warn};

use crate::settings::Loaded;

const RECORD: &str = "config-applied.json";

/// What to do with the file's farm config at start-up.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Propose it (for the farm's version `base`).
    Apply { base: u64 },
    /// Keep the farm's config; the reason is logged.
    Keep { why: &'static str },
}

/// What the farm knows when a node decides.
#[derive(Debug, Clone, Copy)]
pub struct FarmSide<'a> {
    pub version: u64,
    /// Digest of the last config file any node applied.
    pub applied_file: Option<&'a str>,
}

/// Pure: apply when the farm has none, or the file changed since this node
/// applied it and is not the file another node applied last (the first node
/// restarted with a new ConfigMap applies it; the others, restarted later,
/// keep what administrators changed in between). A node without a record (a
/// new member joining a farm with a config, or a node upgraded from a version
/// without records) keeps the farm's config and takes its file as the
/// baseline for later edits.
pub fn decide(
    farm: FarmSide<'_>,
    recorded: Option<&FarmConfig>,
    file: &FarmConfig,
    file_digest: &str,
) -> Decision {
    let farm_version = farm.version;
    match recorded {
        _ if farm_version == 0 => Decision::Apply { base: 0 },
        _ if farm.applied_file == Some(file_digest) => Decision::Keep {
            why: "the farm already applied this config file (from this or another node)",
        },
        Some(last) if last != file => Decision::Apply { base: farm_version },
        Some(_) => Decision::Keep {
            why: "the config file is unchanged since this node applied it",
        },
        None => Decision::Keep {
            why: "the farm already has a configuration and this node never applied its file",
        },
    }
}

fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join(RECORD)
}

/// The farm config this node last applied from its file (none if never, or
/// unreadable: then the file is taken as a new baseline).
fn read_record(data_dir: &Path) -> Option<FarmConfig> {
    let bytes = std::fs::read(record_path(data_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Remember `config` as applied (write to a temporary name, sync, rename).
fn write_record(data_dir: &Path, config: &FarmConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data_dir {}: cannot create it", data_dir.display()))?;
    let path = record_path(data_dir);
    let tmp = data_dir.join(format!(".{RECORD}.tmp"));
    let bytes = serde_json::to_vec_pretty(config)?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// Apply the config file's farm part if [`decide`] says so, waiting (and
/// saying so every few seconds) until the farm has a leader and a quorum:
/// members of a static farm start in any order.
pub async fn apply_config_file(farm: &Farm, loaded: &Loaded) -> anyhow::Result<()> {
    let data_dir = &loaded.config.data_dir;
    let by = format!("node {} ({})", loaded.config.cluster.node_id, loaded.source);
    let file_config = loaded.config.farm_config();
    let digest = config_digest(&file_config);
    let recorded = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || read_record(&dir)).await?
    };
    let started = Instant::now();
    let mut last_said = started;
    loop {
        let attempt = async {
            let (version, applied_file) = farm
                .read_linearizable(|s| (s.config_version(), s.applied_file().map(String::from)))
                .await?;
            let side = FarmSide {
                version,
                applied_file: applied_file.as_deref(),
            };
            let base = match decide(side, recorded.as_ref(), &file_config, &digest) {
                Decision::Keep { why } => {
                    info!(version, source = %loaded.source, why, "the farm keeps its configuration");
                    return Ok(None);
                }
                Decision::Apply { base } => base,
            };
            if let Some(refused) = file_config.unshared_folders(farm.status().members.len()) {
                return Ok(Some(Err(refused)));
            }
            let change = Command::SetConfig {
                config: Box::new(file_config.clone()),
                by: by.clone(),
                expected_version: Some(base),
                file_digest: Some(digest.clone()),
            };
            farm.propose(change).await.map(|r| Some(Ok(r)))
        };
        match attempt.await {
            Ok(None) => break,
            Ok(Some(Err(refused))) => bail!("{refused}"),
            Ok(Some(Ok(Response::ConfigSet { version, changed }))) => {
                info!(version, changed, source = %loaded.source, "farm configuration applied");
                break;
            }
            Ok(Some(Ok(Response::ConfigRefused { problems }))) => {
                bail!(
                    "the farm refused the configuration: {}",
                    problems.join("; ")
                )
            }
            // Changed meanwhile (another node's file, an administrator): decide again.
            Ok(Some(Ok(Response::ConfigConflict { .. }))) => continue,
            Ok(Some(Ok(other))) => {
                bail!("unexpected answer to the configuration change: {other:?}")
            }
            Err(e) => {
                if last_said.elapsed() >= Duration::from_secs(5) {
                    warn!(error = %e, waited_s = started.elapsed().as_secs(), "waiting for the farm (a leader and a quorum of members)");
                    last_said = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let dir = data_dir.clone();
    tokio::task::spawn_blocking(move || write_record(&dir, &file_config)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn farm(version: u64, applied_file: Option<&str>) -> FarmSide<'_> {
        FarmSide {
            version,
            applied_file,
        }
    }

    #[test]
    fn the_file_applies_when_the_farm_has_none_or_it_changed() {
        let file = FarmConfig::default();
        let mut older = file.clone();
        older.farm.max_recipients = 7;
        let d = "new";
        assert_eq!(
            decide(farm(0, None), None, &file, d),
            Decision::Apply { base: 0 }
        );
        assert_eq!(
            decide(farm(0, Some(d)), Some(&file), &file, d),
            Decision::Apply { base: 0 }
        );
        assert_eq!(
            decide(farm(5, Some("old")), Some(&older), &file, d),
            Decision::Apply { base: 5 }
        );
        assert!(matches!(
            decide(farm(5, None), Some(&file), &file, d),
            Decision::Keep { .. }
        ));
        assert!(matches!(
            decide(farm(5, None), None, &file, d),
            Decision::Keep { .. }
        ));
    }

    #[test]
    fn a_file_another_node_applied_does_not_undo_later_changes() {
        // Rolling restart after a ConfigMap edit: node 1 applied the new
        // file (digest "new"), an administrator changed the farm since;
        // node 2 comes back with the same new file and keeps the farm's.
        let file = FarmConfig::default();
        let mut older = file.clone();
        older.farm.max_recipients = 7;
        let kept = decide(farm(9, Some("new")), Some(&older), &file, "new");
        assert!(matches!(kept, Decision::Keep { .. }), "{kept:?}");
    }
}

//! Writing the farm configuration from the admin API: read it linearizably,
//! change it, check the result whole (the config's rules, and shared
//! folders in a farm of several nodes), and propose it as one new version
//! with compare-and-set, so that two administrators' changes never undo
//! each other. Also: who made a change (the `changed_by` of the history).

use postroom_cluster::Farm;
use postroom_core::config::FarmConfig;
use postroom_core::config_diff::config_diff;
use postroom_core::{Command, Response};
use tonic::Request;

use crate::error::ApiError;

/// Metadata key in which clients name who they are (e.g. `alice@admin-pc`).
pub const ACTOR_HEADER: &str = "x-postroom-actor";

/// How often a change without an expected version is re-read and retried
/// when another change got in first.
const CONFLICT_RETRIES: usize = 3;

/// A written (or unchanged) configuration.
#[derive(Debug)]
pub(crate) struct Written {
    pub config: FarmConfig,
    /// The version after the write (the read version when nothing changed).
    pub version: u64,
    /// What changed, one line per setting (empty: nothing).
    pub changes: Vec<String>,
}

/// Who asks: the client's own name for itself, its address, and this node.
pub(crate) fn actor<T>(request: &Request<T>, node: u64) -> String {
    let name: String = request
        .metadata()
        .get(ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unnamed client")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    match request.remote_addr() {
        Some(address) => format!("{name} ({}) via node {node}", address.ip()),
        None => format!("{name} via node {node}"),
    }
}

/// The current configuration and its version, read linearizably.
pub(crate) async fn read_current(farm: &Farm) -> Result<(FarmConfig, u64), ApiError> {
    Ok(farm
        .read_linearizable(|s| (s.config().cloned().unwrap_or_default(), s.config_version()))
        .await?)
}

/// Check `config` as a whole before proposing it: its rules, and in a farm
/// of several nodes, that its folders are shared.
pub(crate) fn check(farm: &Farm, config: &FarmConfig) -> Result<(), ApiError> {
    if let Err(postroom_core::CoreError::InvalidConfig { problems }) = config.validate() {
        return Err(ApiError::InvalidConfig { problems });
    }
    match config.unshared_folders(farm.status().members.len()) {
        Some(detail) => Err(ApiError::FailedPrecondition { detail }),
        None => Ok(()),
    }
}

/// Change the configuration with `edit` and write it as one version. With
/// `expected`, only if the farm is still at that version; without, a
/// change that lost a race is re-read and re-applied (a few times).
pub(crate) async fn write_config<F>(
    farm: &Farm,
    by: &str,
    expected: Option<u64>,
    edit: F,
) -> Result<Written, ApiError>
where
    F: Fn(&mut FarmConfig) -> Result<(), ApiError>,
{
    let mut last_conflict = None;
    for _ in 0..CONFLICT_RETRIES {
        let (before, version) = read_current(farm).await?;
        if let Some(expected) = expected.filter(|e| *e != version) {
            return Err(ApiError::Conflict {
                expected,
                current: version,
            });
        }
        let mut config = before.clone();
        edit(&mut config)?;
        let changes = config_diff(&before, &config);
        if changes.is_empty() {
            return Ok(Written {
                config,
                version,
                changes,
            });
        }
        check(farm, &config)?;
        let command = Command::SetConfig {
            config: Box::new(config.clone()),
            by: by.to_string(),
            expected_version: Some(version),
            file_digest: None,
        };
        match farm.propose(command).await? {
            Response::ConfigSet { version, .. } => {
                return Ok(Written {
                    config,
                    version,
                    changes,
                })
            }
            Response::ConfigRefused { problems } => {
                return Err(ApiError::InvalidConfig { problems })
            }
            Response::ConfigConflict { expected, current } => {
                // A forwarded proposal whose reply was lost is sent again;
                // the copy then conflicts with the first, which did apply.
                let (live, now) = read_current(farm).await?;
                let ours = farm.read(|s| {
                    s.config_history()
                        .last()
                        .is_some_and(|c| c.version == version + 1 && c.by == by)
                });
                if live == config && ours {
                    return Ok(Written {
                        config,
                        version: now,
                        changes,
                    });
                }
                last_conflict = Some(ApiError::Conflict { expected, current });
            }
            other => {
                return Err(ApiError::Internal {
                    detail: format!("unexpected answer to a config change: {other:?}"),
                })
            }
        }
        if expected.is_some() {
            break;
        }
    }
    Err(last_conflict.unwrap_or(ApiError::Unavailable {
        detail: "the configuration kept changing; try again".to_string(),
    }))
}

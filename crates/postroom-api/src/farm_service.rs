//! The `postroom.admin.v1.FarmAdmin` gRPC service: farm settings get and
//! update, applying a whole config document (with a dry run that shows the
//! diff), and the config history. Writes go through [`write_config`].

use postroom_cluster::Farm;
use postroom_core::config_diff::config_diff;
use postroom_core::FarmState;
use tonic::{Request, Response, Status};

use crate::config::parse_farm_config;
use crate::convert::{farm_settings, update_farm};
use crate::error::ApiError;
use crate::proto::farm_admin_server::{FarmAdmin, FarmAdminServer};
use crate::proto::{
    ApplyConfigReply, ApplyConfigRequest, ConfigHistory, ConfigVersion, FarmReply, GetFarmRequest,
    ListConfigHistoryRequest, UpdateFarmRequest,
};
use crate::write::{actor, check, read_current, write_config};

/// Serves the farm-settings RPCs of one node.
#[derive(Clone)]
pub struct FarmAdminService {
    farm: Farm,
}

/// The tonic service to mount next to the others.
pub fn farm_admin_service(farm: Farm) -> FarmAdminServer<FarmAdminService> {
    FarmAdminServer::new(FarmAdminService { farm })
}

/// Read `f` of the farm state: linearizably unless `local`.
pub(crate) async fn read_state<T>(
    farm: &Farm,
    local: bool,
    f: impl FnOnce(&FarmState) -> T,
) -> Result<T, ApiError> {
    if local {
        Ok(farm.read(f))
    } else {
        Ok(farm.read_linearizable(f).await?)
    }
}

fn farm_reply(state: &FarmState, linearizable: bool) -> FarmReply {
    let last = state.config_history().last();
    FarmReply {
        settings: Some(farm_settings(&state.config().cloned().unwrap_or_default())),
        version: state.config_version(),
        changed_by: last.map(|c| c.by.clone()).unwrap_or_default(),
        changed_at_ms: last.map_or(0, |c| c.at.0),
        changes: Vec::new(),
        linearizable,
    }
}

#[tonic::async_trait]
impl FarmAdmin for FarmAdminService {
    async fn get_farm(
        &self,
        request: Request<GetFarmRequest>,
    ) -> Result<Response<FarmReply>, Status> {
        let local = request.get_ref().local;
        let reply = read_state(&self.farm, local, |s| farm_reply(s, !local)).await?;
        Ok(Response::new(reply))
    }

    async fn update_farm(
        &self,
        request: Request<UpdateFarmRequest>,
    ) -> Result<Response<FarmReply>, Status> {
        let by = actor(&request, self.farm.node_id());
        let r = request.into_inner();
        let update = r.update.unwrap_or_default();
        let written = write_config(&self.farm, &by, r.expected_version, |config| {
            update_farm(config, &update)
        })
        .await?;
        let mut reply = self.farm.read(|s| farm_reply(s, true));
        reply.settings = Some(farm_settings(&written.config));
        reply.version = written.version;
        reply.changes = written.changes;
        Ok(Response::new(reply))
    }

    async fn apply_config(
        &self,
        request: Request<ApplyConfigRequest>,
    ) -> Result<Response<ApplyConfigReply>, Status> {
        let by = actor(&request, self.farm.node_id());
        let r = request.into_inner();
        let (wanted, ignored_sections) = parse_farm_config(&r.config_toml)?;
        if r.dry_run {
            let (current, base_version) = read_current(&self.farm).await?;
            if let Some(expected) = r.expected_version.filter(|e| *e != base_version) {
                return Err(ApiError::Conflict {
                    expected,
                    current: base_version,
                }
                .into());
            }
            let changes = config_diff(&current, &wanted);
            if !changes.is_empty() {
                check(&self.farm, &wanted)?;
            }
            return Ok(Response::new(ApplyConfigReply {
                base_version,
                version: base_version,
                changes,
                ignored_sections,
                dry_run: true,
            }));
        }
        let written = write_config(&self.farm, &by, r.expected_version, |config| {
            *config = wanted.clone();
            Ok(())
        })
        .await?;
        let base_version = if written.changes.is_empty() {
            written.version
        } else {
            written.version.saturating_sub(1)
        };
        Ok(Response::new(ApplyConfigReply {
            base_version,
            version: written.version,
            changes: written.changes,
            ignored_sections,
            dry_run: false,
        }))
    }

    async fn list_config_history(
        &self,
        request: Request<ListConfigHistoryRequest>,
    ) -> Result<Response<ConfigHistory>, Status> {
        let r = request.into_inner();
        let limit = if r.limit == 0 {
            usize::MAX
        } else {
            r.limit as usize
        };
        let versions = read_state(&self.farm, r.local, |s| {
            s.config_history()
                .iter()
                .rev()
                .take(limit)
                .map(|c| ConfigVersion {
                    version: c.version,
                    changed_at_ms: c.at.0,
                    changed_by: c.by.clone(),
                    changes: c.changes.clone(),
                })
                .collect()
        })
        .await?;
        Ok(Response::new(ConfigHistory { versions }))
    }
}

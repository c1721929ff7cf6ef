//! The `postroom.admin.v1.LibraryAdmin` gRPC service: mail-enabled
//! libraries created, changed, deleted, shown and listed (each write one
//! config version through [`write_config`]; a taken alias or name is
//! ALREADY_EXISTS naming its holder), and the items filed in a library:
//! newest first, paged, or a list's events or threads (`items_view`).

use std::path::PathBuf;

use postroom_cluster::Farm;
use postroom_core::config::{FarmConfig, LibraryKind, LibrarySettings};
use postroom_library::ItemRecord;
use tonic::{Request, Response, Status};

use crate::convert::{library, new_library, update_library};
use crate::error::ApiError;
use crate::farm_service::read_state;
use crate::items_view::{event_list, page, thread_list};
use crate::message_service::page_size;
use crate::proto::library_admin_server::{LibraryAdmin, LibraryAdminServer};
use crate::proto::{
    CreateLibraryRequest, DeleteLibraryRequest, EventList, GetLibraryRequest, ItemPage,
    LibraryList, LibraryReply, ListItemsRequest, ListLibrariesRequest, ListViewRequest, ThreadList,
    UpdateLibraryRequest,
};
use crate::write::{actor, write_config};

const DEFAULT_PAGE: usize = 100;

/// Serves the library RPCs of one node.
#[derive(Clone)]
pub struct LibraryAdminService {
    farm: Farm,
    /// This node's data dir: where libraries without an absolute path live.
    data_dir: PathBuf,
}

/// The tonic service to mount next to the others.
pub fn library_admin_service(
    farm: Farm,
    data_dir: PathBuf,
) -> LibraryAdminServer<LibraryAdminService> {
    LibraryAdminServer::new(LibraryAdminService { farm, data_dir })
}

fn no_library(alias: &str, config: &FarmConfig) -> ApiError {
    let known: Vec<&str> = config.libraries.iter().map(|l| l.alias.as_str()).collect();
    ApiError::NotFound {
        what: format!(
            "no library has the alias {alias:?} (aliases: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    }
}

/// Refuse `lib` if another library (not the one at `except`) holds its
/// alias or name.
fn refuse_taken(
    config: &FarmConfig,
    lib: &LibrarySettings,
    except: Option<usize>,
) -> Result<(), ApiError> {
    for (i, other) in config.libraries.iter().enumerate() {
        if Some(i) == except {
            continue;
        }
        if other.alias.eq_ignore_ascii_case(&lib.alias) {
            return Err(ApiError::AlreadyExists {
                what: format!("alias {:?}", lib.alias),
                holder: other.name.clone(),
            });
        }
        if other.name == lib.name {
            return Err(ApiError::AlreadyExists {
                what: format!("name {:?}", lib.name),
                holder: other.name.clone(),
            });
        }
    }
    Ok(())
}

fn position(config: &FarmConfig, alias: &str) -> Result<usize, ApiError> {
    config
        .libraries
        .iter()
        .position(|l| l.alias.eq_ignore_ascii_case(alias.trim()))
        .ok_or_else(|| no_library(alias, config))
}

fn reply(
    config: &FarmConfig,
    lib: &LibrarySettings,
    version: u64,
    changes: Vec<String>,
) -> LibraryReply {
    LibraryReply {
        library: Some(library(config, lib)),
        version,
        changes,
    }
}

#[tonic::async_trait]
impl LibraryAdmin for LibraryAdminService {
    async fn create_library(
        &self,
        request: Request<CreateLibraryRequest>,
    ) -> Result<Response<LibraryReply>, Status> {
        let by = actor(&request, self.farm.node_id());
        let r = request.into_inner();
        let given = r.library.ok_or_else(|| ApiError::InvalidArgument {
            field: "library".to_string(),
            detail: "is required".to_string(),
        })?;
        let mut lib = new_library(&given, r.disabled)?;
        lib.save_meeting_invitations = !r.skip_meeting_invitations;
        let written = write_config(&self.farm, &by, r.expected_version, |config| {
            refuse_taken(config, &lib, None)?;
            config.libraries.push(lib.clone());
            Ok(())
        })
        .await?;
        Ok(Response::new(reply(
            &written.config,
            &lib,
            written.version,
            written.changes,
        )))
    }

    async fn update_library(
        &self,
        request: Request<UpdateLibraryRequest>,
    ) -> Result<Response<LibraryReply>, Status> {
        let by = actor(&request, self.farm.node_id());
        let r = request.into_inner();
        let update = r.update.unwrap_or_default();
        let written = write_config(&self.farm, &by, r.expected_version, |config| {
            let at = position(config, &r.alias)?;
            let mut lib = config.libraries[at].clone();
            update_library(&mut lib, &update)?;
            refuse_taken(config, &lib, Some(at))?;
            config.libraries[at] = lib;
            Ok(())
        })
        .await?;
        let alias = update.alias.as_deref().unwrap_or(&r.alias);
        let at = position(&written.config, alias)?;
        let lib = &written.config.libraries[at];
        Ok(Response::new(reply(
            &written.config,
            lib,
            written.version,
            written.changes,
        )))
    }

    async fn delete_library(
        &self,
        request: Request<DeleteLibraryRequest>,
    ) -> Result<Response<LibraryReply>, Status> {
        let by = actor(&request, self.farm.node_id());
        let r = request.into_inner();
        let (config, _) = crate::write::read_current(&self.farm).await?;
        let removed = config.libraries[position(&config, &r.alias)?].clone();
        let written = write_config(&self.farm, &by, r.expected_version, |config| {
            let at = position(config, &r.alias)?;
            config.libraries.remove(at);
            Ok(())
        })
        .await?;
        Ok(Response::new(reply(
            &config,
            &removed,
            written.version,
            written.changes,
        )))
    }

    async fn get_library(
        &self,
        request: Request<GetLibraryRequest>,
    ) -> Result<Response<LibraryReply>, Status> {
        let r = request.into_inner();
        let found = read_state(&self.farm, r.local, |s| {
            let config = s.config().cloned().unwrap_or_default();
            let at = position(&config, &r.alias)?;
            Ok::<_, ApiError>(reply(
                &config,
                &config.libraries[at],
                s.config_version(),
                Vec::new(),
            ))
        })
        .await??;
        Ok(Response::new(found))
    }

    async fn list_libraries(
        &self,
        request: Request<ListLibrariesRequest>,
    ) -> Result<Response<LibraryList>, Status> {
        let local = request.get_ref().local;
        let list = read_state(&self.farm, local, |s| {
            let config = s.config().cloned().unwrap_or_default();
            LibraryList {
                libraries: config
                    .libraries
                    .iter()
                    .map(|l| library(&config, l))
                    .collect(),
                version: s.config_version(),
            }
        })
        .await?;
        Ok(Response::new(list))
    }

    async fn list_items(
        &self,
        request: Request<ListItemsRequest>,
    ) -> Result<Response<ItemPage>, Status> {
        let r = request.into_inner();
        let (_, records) = self.records(&r.alias, r.local).await?;
        let size = page_size(r.page_size, DEFAULT_PAGE);
        Ok(Response::new(page(&records, &r.page_token, size)?))
    }

    async fn list_events(
        &self,
        request: Request<ListViewRequest>,
    ) -> Result<Response<EventList>, Status> {
        let r = request.into_inner();
        let records = self.list_records(&r, LibraryKind::Calendar).await?;
        Ok(Response::new(event_list(&records)))
    }

    async fn list_threads(
        &self,
        request: Request<ListViewRequest>,
    ) -> Result<Response<ThreadList>, Status> {
        let r = request.into_inner();
        let records = self.list_records(&r, LibraryKind::DiscussionBoard).await?;
        Ok(Response::new(thread_list(&records)))
    }
}

impl LibraryAdminService {
    /// The library `alias` and every item record in it, oldest first.
    async fn records(
        &self,
        alias: &str,
        local: bool,
    ) -> Result<(LibrarySettings, Vec<ItemRecord>), ApiError> {
        let settings = read_state(&self.farm, local, |s| {
            let config = s.config().cloned().unwrap_or_default();
            position(&config, alias).map(|at| config.libraries[at].clone())
        })
        .await??;
        let root = settings.resolved_path(&self.data_dir);
        let records = tokio::task::spawn_blocking({
            let root = root.clone();
            move || postroom_library::read_items(&root)
        })
        .await
        .map_err(|e| ApiError::Internal {
            detail: format!("reading items failed: {e}"),
        })?
        .map_err(|e| ApiError::Storage {
            action: "read the items of library".to_string(),
            path: format!("{:?} at {}", settings.alias, root.display()),
            detail: e.to_string(),
        })?;
        Ok((settings, records))
    }

    /// The records of a list of kind `kind`; another kind is refused.
    async fn list_records(
        &self,
        r: &ListViewRequest,
        kind: LibraryKind,
    ) -> Result<Vec<ItemRecord>, ApiError> {
        let (settings, records) = self.records(&r.alias, r.local).await?;
        if settings.kind != kind {
            return Err(ApiError::FailedPrecondition {
                detail: format!(
                    "library {:?} is a {}, not a {}",
                    settings.alias,
                    crate::convert::enum_name(&settings.kind),
                    crate::convert::enum_name(&kind)
                ),
            });
        }
        Ok(records)
    }
}

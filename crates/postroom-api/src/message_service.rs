//! The `postroom.admin.v1.MessageAdmin` gRPC service: where a message is
//! (by message key or Message-ID), recent activity, the quarantine (list,
//! show, replay, delete) and `Submit`. Lookups read the farm state and the
//! shared folders; replay and Submit write through the node's spool
//! (`submit.rs`), available once the node has started its intake.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use postroom_cluster::Farm;
use postroom_core::config::FarmConfig;
use postroom_core::{MessageKey, Timestamp};
use postroom_library::QuarantineEntry;
use postroom_smtp::PeerInfo;
use tonic::{Request, Response, Status, Streaming};

use crate::error::ApiError;
use crate::farm_service::read_state;
use crate::message_report::{attach_files, keys_in_libraries, message_state, quarantined, Known};
use crate::proto::get_message_request::Lookup;
use crate::proto::message_admin_server::{MessageAdmin, MessageAdminServer};
use crate::proto::{
    ActivityPage, DeleteReply, GetMessageRequest, ListActivityRequest, ListQuarantineRequest,
    MessageReport, QuarantinePage, QuarantinedMessage, QuarantinedRequest, ReplayReply,
    SubmitChunk, SubmitReply,
};
use crate::submit::{replay, submit, NodeIntake};

const DEFAULT_ACTIVITY_PAGE: usize = 50;
const DEFAULT_QUARANTINE_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// How much of a quarantined message's head `GetQuarantined` returns.
const MAX_HEADERS: usize = 64 * 1024;

/// Serves the message RPCs of one node.
#[derive(Clone)]
pub struct MessageAdminService {
    farm: Farm,
    data_dir: PathBuf,
    intake: Arc<OnceLock<NodeIntake>>,
}

/// The tonic service to mount next to the others; `intake` is set by the
/// node once its spool and quarantine run (until then the calls that need
/// them answer UNAVAILABLE).
pub fn message_admin_service(
    farm: Farm,
    data_dir: PathBuf,
    intake: Arc<OnceLock<NodeIntake>>,
) -> MessageAdminServer<MessageAdminService> {
    MessageAdminServer::new(MessageAdminService {
        farm,
        data_dir,
        intake,
    })
}

/// A page size asked for: `default` for 0, at most 1,000.
pub(crate) fn page_size(asked: u32, default: usize) -> usize {
    match asked as usize {
        0 => default,
        n => n.min(MAX_PAGE),
    }
}

fn blocking_failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal {
        detail: format!("a blocking task failed: {e}"),
    }
}

fn storage(action: &str, path: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        action: action.to_string(),
        path: path.to_string(),
        detail: e.to_string(),
    }
}

impl MessageAdminService {
    fn intake(&self) -> Result<&NodeIntake, ApiError> {
        self.intake.get().ok_or_else(|| ApiError::Unavailable {
            detail: "this node is still starting (its drop folder and quarantine are not open yet); try again or ask another node".to_string(),
        })
    }

    /// Every quarantine entry, oldest first, with its message size.
    async fn quarantine_entries(&self) -> Result<Vec<(QuarantineEntry, u64)>, ApiError> {
        let quarantine = self.intake()?.quarantine.clone();
        tokio::task::spawn_blocking(move || {
            let entries = quarantine.list().map_err(|e| {
                storage(
                    "list quarantine",
                    &quarantine.dir().display().to_string(),
                    e,
                )
            })?;
            Ok(entries
                .into_iter()
                .map(|e| {
                    let size =
                        std::fs::metadata(quarantine.message_path(&e)).map_or(0, |m| m.len());
                    (e, size)
                })
                .collect())
        })
        .await
        .map_err(blocking_failed)?
    }

    async fn entry(&self, id: &str) -> Result<QuarantineEntry, ApiError> {
        let quarantine = self.intake()?.quarantine.clone();
        let id_owned = id.to_string();
        tokio::task::spawn_blocking(move || quarantine.entry(&id_owned))
            .await
            .map_err(blocking_failed)?
            .map_err(|e| storage("read quarantine entry", id, e))?
            .ok_or_else(|| ApiError::NotFound {
                what: format!(
                    "no quarantined message has the id {id:?}; see postroom quarantine list"
                ),
            })
    }
}

fn parse_cursor(token: &str) -> Result<Option<(Timestamp, MessageKey)>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::InvalidArgument {
        field: "page_token".to_string(),
        detail: format!("{token:?} is not a page token of this list"),
    };
    let (ms, key) = token.split_once('-').ok_or_else(bad)?;
    Ok(Some((
        Timestamp(ms.parse().map_err(|_| bad())?),
        key.parse().map_err(|_| bad())?,
    )))
}

#[tonic::async_trait]
impl MessageAdmin for MessageAdminService {
    async fn get_message(
        &self,
        request: Request<GetMessageRequest>,
    ) -> Result<Response<MessageReport>, Status> {
        let r = request.into_inner();
        let local = r.local;
        let lookup = r.lookup.ok_or_else(|| ApiError::InvalidArgument {
            field: "lookup".to_string(),
            detail: "give message_key or message_id".to_string(),
        })?;
        let (config, mut keys) = match &lookup {
            Lookup::MessageKey(hex) => {
                let key: MessageKey =
                    hex.trim().parse().map_err(|e| ApiError::InvalidArgument {
                        field: "message_key".to_string(),
                        detail: format!("{hex:?} is not a message key: {e}"),
                    })?;
                let config = read_state(&self.farm, local, |s| s.config().cloned()).await?;
                (config, vec![key])
            }
            Lookup::MessageId(id) => {
                read_state(&self.farm, local, |s| {
                    (s.config().cloned(), s.keys_with_message_id(id))
                })
                .await?
            }
        };
        let config: FarmConfig = config.unwrap_or_default();
        if keys.is_empty() {
            if let Lookup::MessageId(id) = &lookup {
                let (id, config, dir) = (id.clone(), config.clone(), self.data_dir.clone());
                keys = tokio::task::spawn_blocking(move || keys_in_libraries(&id, &config, &dir))
                    .await
                    .map_err(blocking_failed)??;
            }
        }
        if keys.is_empty() {
            return Err(ApiError::NotFound {
                what: format!(
                    "no message {lookup:?} in the ledger (it remembers messages for farm.ledger_retention) or in any library"
                ),
            }
            .into());
        }
        let known: Vec<Known> = self
            .farm
            .read(|s| keys.iter().map(|k| Known::of(s, *k)).collect());
        let quarantine = self.quarantine_entries().await?;
        let data_dir = self.data_dir.clone();
        let messages = tokio::task::spawn_blocking(move || {
            known
                .iter()
                .map(|k| {
                    let mut m = message_state(k);
                    attach_files(&mut m, &k.key, &config, &data_dir, &quarantine)?;
                    if m.state == "unknown" && !m.items.is_empty() {
                        m.state = "filed".to_string();
                    }
                    Ok(m)
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await
        .map_err(blocking_failed)??;
        Ok(Response::new(MessageReport { messages }))
    }

    async fn list_activity(
        &self,
        request: Request<ListActivityRequest>,
    ) -> Result<Response<ActivityPage>, Status> {
        let r = request.into_inner();
        let size = page_size(r.page_size, DEFAULT_ACTIVITY_PAGE);
        let before = parse_cursor(&r.page_token)?;
        let (messages, next) = read_state(&self.farm, r.local, |s| {
            let found = s.recent_activity(before, size + 1);
            let more = found.len() > size;
            let page: Vec<_> = found.into_iter().take(size).collect();
            let next = match (more, page.last()) {
                (true, Some((key, entry))) => format!("{}-{key}", entry.finished_at.0),
                _ => String::new(),
            };
            let messages = page
                .iter()
                .map(|(key, entry)| {
                    message_state(&Known {
                        key: *key,
                        ledger: Some((*entry).clone()),
                        lease: None,
                        now: s.now(),
                    })
                })
                .collect();
            (messages, next)
        })
        .await?;
        Ok(Response::new(ActivityPage {
            messages,
            next_page_token: next,
        }))
    }

    async fn list_quarantine(
        &self,
        request: Request<ListQuarantineRequest>,
    ) -> Result<Response<QuarantinePage>, Status> {
        let r = request.into_inner();
        let size = page_size(r.page_size, DEFAULT_QUARANTINE_PAGE);
        let mut all = self.quarantine_entries().await?;
        all.reverse();
        // The cursor is the last entry shown, `<quarantined_at> <id>`: the
        // next page starts strictly after it, whether it is still there or
        // was replayed or deleted meanwhile.
        let cursor = r.page_token.split_once(' ');
        if cursor.is_none() && !r.page_token.is_empty() {
            return Err(ApiError::InvalidArgument {
                field: "page_token".to_string(),
                detail: format!("{:?} is not a page token of this list", r.page_token),
            }
            .into());
        }
        let older = |(e, _): &&(QuarantineEntry, u64)| {
            cursor.is_none_or(|(at, id)| (e.quarantined_at.as_str(), e.file.as_str()) < (at, id))
        };
        let rest: Vec<_> = all.iter().filter(older).collect();
        let entries: Vec<_> = rest
            .iter()
            .take(size)
            .map(|(e, n)| quarantined(e, *n))
            .collect();
        let next_page_token = match entries.last() {
            Some(last) if entries.len() < rest.len() => {
                format!("{} {}", last.quarantined_at, last.id)
            }
            _ => String::new(),
        };
        Ok(Response::new(QuarantinePage {
            entries,
            next_page_token,
            total: all.len() as u64,
        }))
    }

    async fn get_quarantined(
        &self,
        request: Request<QuarantinedRequest>,
    ) -> Result<Response<QuarantinedMessage>, Status> {
        let id = request.into_inner().id;
        let entry = self.entry(&id).await?;
        let path = self.intake()?.quarantine.message_path(&entry);
        let shown = path.display().to_string();
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| storage("open quarantined message", &shown, e))?;
        let size = file.metadata().await.map_or(0, |m| m.len());
        let mut head = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(
            &mut tokio::io::AsyncReadExt::take(file, MAX_HEADERS as u64),
            &mut head,
        )
        .await
        .map_err(|e| storage("read quarantined message", &shown, e))?;
        let end = [&b"\r\n\r\n"[..], b"\n\n"]
            .iter()
            .filter_map(|sep| head.windows(sep.len()).position(|w| w == *sep))
            .min()
            .unwrap_or(head.len());
        Ok(Response::new(QuarantinedMessage {
            entry: Some(quarantined(&entry, size)),
            headers: String::from_utf8_lossy(&head[..end]).into_owned(),
        }))
    }

    async fn replay_quarantined(
        &self,
        request: Request<QuarantinedRequest>,
    ) -> Result<Response<ReplayReply>, Status> {
        let id = request.into_inner().id;
        let entry = self.entry(&id).await?;
        Ok(Response::new(
            replay(&self.farm, self.intake()?, &entry).await?,
        ))
    }

    async fn delete_quarantined(
        &self,
        request: Request<QuarantinedRequest>,
    ) -> Result<Response<DeleteReply>, Status> {
        let id = request.into_inner().id;
        let entry = self.entry(&id).await?;
        let quarantine = self.intake()?.quarantine.clone();
        let removed = tokio::task::spawn_blocking(move || quarantine.remove(&entry.file))
            .await
            .map_err(blocking_failed)?
            .map_err(|e| storage("remove quarantine entry", &id, e))?;
        if !removed {
            return Err(ApiError::NotFound {
                what: format!("no quarantined message has the id {id:?}"),
            }
            .into());
        }
        Ok(Response::new(DeleteReply {}))
    }

    async fn submit(
        &self,
        request: Request<Streaming<SubmitChunk>>,
    ) -> Result<Response<SubmitReply>, Status> {
        let peer = request.remote_addr().map_or(
            PeerInfo {
                ip: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                port: 0,
            },
            |a| PeerInfo {
                ip: a.ip(),
                port: a.port(),
            },
        );
        let intake = self.intake()?.clone();
        let reply = submit(&self.farm, &intake, peer, request.into_inner()).await?;
        Ok(Response::new(reply))
    }
}

//! The CLI's side of the admin service: connecting to a node (with its
//! bearer token, over TLS when asked), asking every member of the farm for
//! its status (concurrently, each bounded), and the membership changes.

use std::time::Duration;

use postroom_cluster::ClientTls;
use postroom_core::units::millis;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::error::{chain, closed_by_peer, ApiError, TLS_HINT};
use crate::proto::cluster_admin_client::ClusterAdminClient;
use crate::proto::{
    AddMemberRequest, ConfigReply, GetConfigRequest, Member, MembershipReply, NodeStatus,
    RemoveMemberRequest, StatusRequest,
};
use crate::write::ACTOR_HEADER;

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one node may take to answer a status request (connecting included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// The endpoint URI of `server` (`host:port`, `http://host:port` or
/// `https://host:port`); a plain `host:port` is `https://` when `tls`.
fn endpoint_uri(server: &str, tls: bool) -> Result<String, ApiError> {
    let invalid = |detail: &str| ApiError::InvalidServer {
        server: server.to_string(),
        detail: detail.to_string(),
    };
    let trimmed = server.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty, expected host:port"));
    }
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Ok(trimmed.to_string());
    }
    if trimmed.contains("://") {
        return Err(invalid(
            "only http:// and https:// are supported, or plain host:port",
        ));
    }
    let scheme = if tls { "https" } else { "http" };
    Ok(format!("{scheme}://{trimmed}"))
}

/// What a client presents to a node: the bearer token of its admin API,
/// and how to reach it over TLS (the CA to trust, a client certificate).
/// `Debug` does not show the token.
#[derive(Clone, Default)]
pub struct Credentials {
    /// Sent as `authorization: Bearer <token>` on every call.
    pub token: Option<String>,
    /// Who is asking (e.g. `alice@admin-pc`), sent as `x-postroom-actor`
    /// and recorded in the config history of the changes made.
    pub actor: Option<String>,
    /// TLS: plain `host:port` servers are dialled with `https://`.
    pub tls: Option<ClientTls>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("actor", &self.actor)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Adds the bearer token and the actor, if any, to every call. `Debug`
/// does not show the token.
#[derive(Clone)]
pub struct AddBearer {
    bearer: Option<MetadataValue<Ascii>>,
    actor: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for AddBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddBearer")
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("actor", &self.actor)
            .finish()
    }
}

impl tonic::service::Interceptor for AddBearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(value) = &self.actor {
            request.metadata_mut().insert(ACTOR_HEADER, value.clone());
        }
        Ok(request)
    }
}

/// A connection to a node that sends the credentials with every call; every
/// generated admin client (`XClient::new(channel)`) runs over it.
pub type AdminChannel = InterceptedService<Channel, AddBearer>;

/// Connect to the admin services of `server` (`host:port` or
/// `http://host:port`) with `credentials`, waiting at most 3 s.
pub async fn connect_channel(
    server: &str,
    credentials: &Credentials,
) -> Result<AdminChannel, ApiError> {
    let bearer = match &credentials.token {
        None => None,
        Some(token) => Some(format!("Bearer {}", token.trim()).parse().map_err(|_| {
            ApiError::InvalidToken {
                detail: "it contains characters not allowed in an HTTP header".to_string(),
            }
        })?),
    };
    let uri = endpoint_uri(server, credentials.tls.is_some())?;
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| ApiError::InvalidServer {
            server: server.to_string(),
            detail: chain(&e),
        })?
        .connect_timeout(CONNECT_TIMEOUT);
    if uri.starts_with("https://") {
        let Some(tls) = credentials.tls.as_ref().filter(|t| t.ca_pem.is_some()) else {
            return Err(ApiError::InvalidServer {
                server: server.to_string(),
                detail: "https:// needs --ca-file (the CA that signed the node's certificate)"
                    .to_string(),
            });
        };
        endpoint = endpoint
            .tls_config(tls.config())
            .map_err(|e| ApiError::Tls {
                server: server.to_string(),
                detail: chain(&e),
            })?;
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect()).await {
        Err(_) => Err(ApiError::Timeout {
            server: server.to_string(),
            waited_ms: millis(CONNECT_TIMEOUT),
        }),
        Ok(Err(e)) => Err(ApiError::Connect {
            server: server.to_string(),
            detail: connect_detail(&e, uri.starts_with("https://")),
        }),
        Ok(Ok(channel)) => {
            // An actor that is not plain ASCII is sent without its other characters.
            let actor = credentials.actor.as_ref().and_then(|a| {
                let ascii: String = a
                    .chars()
                    .filter(|c| c.is_ascii() && !c.is_ascii_control())
                    .collect();
                ascii.parse().ok()
            });
            Ok(InterceptedService::new(
                channel,
                AddBearer { bearer, actor },
            ))
        }
    }
}

/// Why a connection failed, with a hint when TLS is the likely cause.
fn connect_detail(e: &tonic::transport::Error, tls: bool) -> String {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    let handshake = ["certificate", "tls", "handshake", "issuer"]
        .iter()
        .any(|w| lower.contains(w));
    if tls && handshake {
        format!("{detail} (TLS: check --ca-file and --tls-server-name)")
    } else if closed_by_peer(&detail) {
        format!("{detail}{TLS_HINT}")
    } else {
        detail
    }
}

/// Connect to the cluster-admin service of `server` (see [`connect_channel`]).
pub async fn connect(
    server: &str,
    credentials: &Credentials,
) -> Result<ClusterAdminClient<AdminChannel>, ApiError> {
    Ok(ClusterAdminClient::new(
        connect_channel(server, credentials).await?,
    ))
}

/// One node's status, connecting included, within [`CALL_TIMEOUT`].
pub(crate) async fn status_of(
    server: &str,
    credentials: &Credentials,
) -> Result<NodeStatus, ApiError> {
    let ask = async {
        let mut client = connect(server, credentials).await?;
        client
            .status(StatusRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| ApiError::call(server, "status", &s))
    };
    tokio::time::timeout(CALL_TIMEOUT, ask)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Timeout {
                server: server.to_string(),
                waited_ms: millis(CALL_TIMEOUT),
            })
        })
}

/// The stand-in status of a member that did not answer.
pub(crate) fn unreachable(member: &Member, why: &str) -> NodeStatus {
    NodeStatus {
        node_id: member.node_id,
        address: member.address.clone(),
        role: "unreachable".to_string(),
        ready: false,
        not_ready_reasons: vec![why.to_string()],
        ..NodeStatus::default()
    }
}

/// The whole farm's status: ask `server` for its status, then every other
/// member in its membership for theirs (concurrently, 3 s each). One
/// status per member by node id (plus `server`'s own when it is not a
/// member); a member that does not answer gets role `unreachable`, its
/// address, and the error as its not-ready reason. Fails only when
/// `server` itself does not answer.
pub async fn farm_status(
    server: &str,
    credentials: &Credentials,
) -> Result<Vec<NodeStatus>, ApiError> {
    let first = status_of(server, credentials).await?;
    let asks: Vec<_> = first
        .members
        .iter()
        .filter(|m| m.node_id != first.node_id)
        .map(|m| {
            let address = m.address.clone();
            let credentials = credentials.clone();
            (
                m.clone(),
                tokio::spawn(async move { status_of(&address, &credentials).await }),
            )
        })
        .collect();
    let mut all = vec![first];
    for (member, ask) in asks {
        all.push(match ask.await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => unreachable(&member, &e.to_string()),
            Err(e) => unreachable(&member, &format!("the status request failed: {e}")),
        });
    }
    all.sort_by_key(|s| s.node_id);
    Ok(all)
}

/// Add node `node_id` at `address` through `server` (any member); answers
/// once the node caught up and votes, which can take a while.
pub async fn add_member(
    server: &str,
    credentials: &Credentials,
    node_id: u64,
    address: &str,
) -> Result<MembershipReply, ApiError> {
    let mut client = connect(server, credentials).await?;
    client
        .add_member(AddMemberRequest {
            node_id,
            address: address.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| ApiError::call(server, "add member", &s))
}

/// The farm configuration as `server` reads it: linearizably, or its own
/// applied state when `local`.
pub async fn farm_config(
    server: &str,
    credentials: &Credentials,
    local: bool,
) -> Result<ConfigReply, ApiError> {
    let mut client = connect(server, credentials).await?;
    client
        .get_config(GetConfigRequest { local })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| ApiError::call(server, "get config", &s))
}

/// Remove node `node_id` from the farm through `server` (any member).
pub async fn remove_member(
    server: &str,
    credentials: &Credentials,
    node_id: u64,
) -> Result<MembershipReply, ApiError> {
    let mut client = connect(server, credentials).await?;
    client
        .remove_member(RemoveMemberRequest { node_id })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| ApiError::call(server, "remove member", &s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn servers_are_host_port_or_http_urls() {
        assert_eq!(
            endpoint_uri("127.0.0.1:7700", false).unwrap(),
            "http://127.0.0.1:7700"
        );
        assert_eq!(
            endpoint_uri(" node-a:7700 ", false).unwrap(),
            "http://node-a:7700"
        );
        assert_eq!(
            endpoint_uri("http://node-a:7700", true).unwrap(),
            "http://node-a:7700"
        );
        // With TLS options a plain host:port is dialled with https.
        assert_eq!(
            endpoint_uri("node-a:7700", true).unwrap(),
            "https://node-a:7700"
        );
        assert_eq!(
            endpoint_uri("https://node-a:7700", false).unwrap(),
            "https://node-a:7700"
        );
        assert_eq!(
            endpoint_uri("", false).unwrap_err().to_string(),
            "invalid server address \"\": it is empty, expected host:port"
        );
        assert_eq!(
            endpoint_uri("grpc://node-a:7700", false).unwrap_err().to_string(),
            "invalid server address \"grpc://node-a:7700\": only http:// and https:// are supported, or plain host:port"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let none = Credentials::default();
        let e = connect(&addr, &none).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {addr}: ")),
            "{text}"
        );
        let e = farm_status(&addr, &none).await.unwrap_err();
        assert!(e.to_string().contains(&addr), "{e}");
    }

    #[test]
    fn an_unreachable_member_keeps_its_id_and_address() {
        let member = Member {
            node_id: 3,
            address: "h3:7700".to_string(),
            voter: true,
            matched_index: None,
        };
        let s = unreachable(&member, "cannot connect to h3:7700: refused");
        assert_eq!(
            (s.node_id, s.address.as_str(), s.role.as_str()),
            (3, "h3:7700", "unreachable")
        );
        assert!(!s.ready);
        assert_eq!(s.not_ready_reasons, ["cannot connect to h3:7700: refused"]);
    }
}

//! The CLI's side of the admin service: connecting to a node, asking every
//! member of the farm for its status (concurrently, each bounded), and the
//! membership changes.

use std::time::Duration;

use postroom_core::units::millis;
use tonic::transport::{Channel, Endpoint};

use crate::error::{chain, ApiError};
use crate::proto::cluster_admin_client::ClusterAdminClient;
use crate::proto::{
    AddMemberRequest, ConfigReply, GetConfigRequest, Member, MembershipReply, NodeStatus,
    RemoveMemberRequest, StatusRequest,
};

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one node may take to answer a status request (connecting included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// The endpoint URI of `server` (`host:port` or `http://host:port`).
fn endpoint_uri(server: &str) -> Result<String, ApiError> {
    let invalid = |detail: &str| ApiError::InvalidServer {
        server: server.to_string(),
        detail: detail.to_string(),
    };
    let trimmed = server.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty, expected host:port"));
    }
    if trimmed.starts_with("http://") {
        return Ok(trimmed.to_string());
    }
    if trimmed.contains("://") {
        return Err(invalid("only http:// is supported, or plain host:port"));
    }
    Ok(format!("http://{trimmed}"))
}

/// Connect to the admin service of `server` (`host:port` or
/// `http://host:port`), waiting at most 3 s.
pub async fn connect(server: &str) -> Result<ClusterAdminClient<Channel>, ApiError> {
    let endpoint = Endpoint::from_shared(endpoint_uri(server)?)
        .map_err(|e| ApiError::InvalidServer {
            server: server.to_string(),
            detail: chain(&e),
        })?
        .connect_timeout(CONNECT_TIMEOUT);
    match tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect()).await {
        Err(_) => Err(ApiError::Timeout {
            server: server.to_string(),
            waited_ms: millis(CONNECT_TIMEOUT),
        }),
        Ok(Err(e)) => Err(ApiError::Connect {
            server: server.to_string(),
            detail: chain(&e),
        }),
        Ok(Ok(channel)) => Ok(ClusterAdminClient::new(channel)),
    }
}

/// One node's status, connecting included, within [`CALL_TIMEOUT`].
pub(crate) async fn status_of(server: &str) -> Result<NodeStatus, ApiError> {
    let ask = async {
        let mut client = connect(server).await?;
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
pub async fn farm_status(server: &str) -> Result<Vec<NodeStatus>, ApiError> {
    let first = status_of(server).await?;
    let asks: Vec<_> = first
        .members
        .iter()
        .filter(|m| m.node_id != first.node_id)
        .map(|m| {
            let address = m.address.clone();
            (
                m.clone(),
                tokio::spawn(async move { status_of(&address).await }),
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
    node_id: u64,
    address: &str,
) -> Result<MembershipReply, ApiError> {
    let mut client = connect(server).await?;
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
pub async fn farm_config(server: &str, local: bool) -> Result<ConfigReply, ApiError> {
    let mut client = connect(server).await?;
    client
        .get_config(GetConfigRequest { local })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| ApiError::call(server, "get config", &s))
}

/// Remove node `node_id` from the farm through `server` (any member).
pub async fn remove_member(server: &str, node_id: u64) -> Result<MembershipReply, ApiError> {
    let mut client = connect(server).await?;
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
            endpoint_uri("127.0.0.1:7700").unwrap(),
            "http://127.0.0.1:7700"
        );
        assert_eq!(endpoint_uri(" node-a:7700 ").unwrap(), "http://node-a:7700");
        assert_eq!(
            endpoint_uri("http://node-a:7700").unwrap(),
            "http://node-a:7700"
        );
        assert_eq!(
            endpoint_uri("").unwrap_err().to_string(),
            "invalid server address \"\": it is empty, expected host:port"
        );
        assert_eq!(
            endpoint_uri("https://node-a:7700").unwrap_err().to_string(),
            "invalid server address \"https://node-a:7700\": only http:// is supported, or plain host:port"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let e = connect(&addr).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {addr}: ")),
            "{text}"
        );
        let e = farm_status(&addr).await.unwrap_err();
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

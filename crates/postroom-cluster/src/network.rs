//! The Raft transport's client side: an openraft [`RaftNetworkFactory`] that
//! reaches peers over tonic channels at `http://{node.addr}` (or `https://`
//! with TLS; connected lazily, the farm's secret on every call), sends each
//! request as one serde_json payload and maps transport failures to
//! openraft's `Unreachable` / `NetworkError` / `Timeout`. AppendEntries
//! are kept to what a peer can answer in time ([`PayloadLimit`]).

use std::error::Error;
use std::net::IpAddr;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::info;

use crate::payload_limit::{PayloadLimit, MAX_PAYLOAD_ENTRIES};
use crate::proto::raft_client::RaftClient;
use crate::proto::RaftRequest;
use crate::security::{endpoint, AddPeerSecret, PeerSecurity};
use crate::types::{RaftNodeId, TypeConfig};
use crate::ClusterError;

/// Largest gRPC message a node sends or accepts on the Raft transport.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// How long establishing a connection to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

type RpcResult<T, E> = Result<T, RPCError<RaftNodeId, BasicNode, E>>;

/// A Raft client of one peer that sends the farm's secret on every call.
pub(crate) type PeerClient = RaftClient<InterceptedService<Channel, AddPeerSecret>>;

/// Creates a [`Connection`] per peer; owned by openraft.
#[derive(Debug, Clone)]
pub struct Network {
    node_id: RaftNodeId,
    local_ip: Option<IpAddr>,
    security: PeerSecurity,
}

impl Network {
    /// The network of node `node_id`, connecting from `local_ip` when given,
    /// with `security` (secret, TLS) on every connection.
    pub fn new(node_id: RaftNodeId, local_ip: Option<IpAddr>, security: PeerSecurity) -> Network {
        Network {
            node_id,
            local_ip,
            security,
        }
    }
}

/// A lazily connected channel to a peer's gRPC endpoint at `addr`, from
/// `local_ip` when given, secured as `security` says.
pub(crate) fn peer_client(
    addr: &str,
    local_ip: Option<IpAddr>,
    security: &PeerSecurity,
) -> Result<PeerClient, ClusterError> {
    let channel = endpoint(addr, security.tls.as_ref())?
        .connect_timeout(CONNECT_TIMEOUT)
        .local_address(local_ip)
        .connect_lazy();
    let channel = InterceptedService::new(channel, security.sender()?);
    Ok(RaftClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: RaftNodeId, node: &BasicNode) -> Connection {
        let client = peer_client(&node.addr, self.local_ip, &self.security);
        Connection {
            local: self.node_id,
            target,
            node: node.clone(),
            client,
            limit: PayloadLimit::new(MAX_PAYLOAD_ENTRIES),
        }
    }
}

/// The Raft RPC client of one peer.
pub struct Connection {
    local: RaftNodeId,
    target: RaftNodeId,
    node: BasicNode,
    client: Result<PeerClient, ClusterError>,
    limit: PayloadLimit,
}

impl Connection {
    /// Send one request and decode the peer's `Result<Resp, E>`.
    async fn call<Req, Resp, E>(
        &mut self,
        rpc: RPCTypes,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let payload = encode(rpc, req).map_err(RPCError::Network)?;
        self.send(rpc, payload, option).await
    }

    /// Send one encoded request and decode the peer's `Result<Resp, E>`.
    async fn send<Resp, E>(
        &mut self,
        rpc: RPCTypes,
        payload: Vec<u8>,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let mut client = match &self.client {
            Ok(client) => client.clone(),
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(e))),
        };
        let request = tonic::Request::new(RaftRequest { payload });
        let ttl = option.hard_ttl();
        let sent = async {
            match rpc {
                RPCTypes::AppendEntries => client.append_entries(request).await,
                RPCTypes::Vote => client.vote(request).await,
                RPCTypes::InstallSnapshot => client.install_snapshot(request).await,
            }
        };
        let reply = match tokio::time::timeout(ttl, sent).await {
            Err(_) => {
                let timeout = Timeout {
                    action: rpc,
                    id: self.local,
                    target: self.target,
                    timeout: ttl,
                };
                return Err(RPCError::Timeout(timeout));
            }
            Ok(Err(status)) => return Err(status_error(status)),
            Ok(Ok(reply)) => reply.into_inner(),
        };
        let decoded: Result<Resp, E> = serde_json::from_slice(&reply.payload).map_err(|e| {
            let e = ClusterError::decode(format!("{rpc} reply from node {}", self.target), e);
            RPCError::Network(NetworkError::new(&e))
        })?;
        decoded.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }

    /// Say so when fewer log entries than `before` are sent to the peer at
    /// once now.
    fn report_lower_limit(&self, before: u64) {
        let limit = self.limit.entries();
        if limit < before {
            info!(
                target = self.target,
                limit, "log entries to a peer timed out or were too large; sending fewer at once"
            );
        }
    }
}

/// Transient failures are retried at once; anything else backs off first.
fn status_error<E: Error>(status: tonic::Status) -> RPCError<RaftNodeId, BasicNode, E> {
    match status.code() {
        tonic::Code::Cancelled | tonic::Code::Aborted | tonic::Code::ResourceExhausted => {
            RPCError::Network(NetworkError::new(&status))
        }
        _ => RPCError::Unreachable(Unreachable::new(&status)),
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<RaftNodeId>, RaftError<RaftNodeId>> {
        let entries = rpc.entries.len() as u64;
        let before = self.limit.entries();
        let payload = match self.limit.fewer(entries, None) {
            Some(n) => Err(n),
            None => {
                let payload = encode(RPCTypes::AppendEntries, &rpc).map_err(RPCError::Network)?;
                match self.limit.fewer(entries, Some(payload.len())) {
                    Some(n) => Err(n),
                    None => Ok(payload),
                }
            }
        };
        self.report_lower_limit(before);
        let payload =
            payload.map_err(|n| RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(n)))?;
        self.limit.sending(entries);
        let result = self.send(RPCTypes::AppendEntries, payload, &option).await;
        self.limit.answered(match &result {
            Ok(_) => Some(true),
            Err(RPCError::Timeout(_)) => Some(false),
            Err(_) => None,
        });
        self.report_lower_limit(entries);
        result
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<RaftNodeId>, RaftError<RaftNodeId, InstallSnapshotError>>
    {
        self.call(RPCTypes::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftNodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<RaftNodeId>, RaftError<RaftNodeId>> {
        self.call(RPCTypes::Vote, &rpc, &option).await
    }
}

/// A request as the peer's service reads it.
fn encode<Req: Serialize>(rpc: RPCTypes, req: &Req) -> Result<Vec<u8>, NetworkError> {
    serde_json::to_vec(req)
        .map_err(|e| NetworkError::new(&ClusterError::encode(format!("{rpc} request"), e)))
}

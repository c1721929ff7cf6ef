//! The Raft transport's server side: a tonic service that decodes a peer's
//! serde_json-encoded openraft request, hands it to the local Raft node and
//! returns the encoded `Result<response, error>`; and the leader-only
//! operations followers forward (`leader.rs`), answered with
//! `Result<LeaderDone, Refusal>`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Status};

use crate::farm::Farm;
use crate::leader::{LeaderOp, Refusal};
use crate::network::MAX_MESSAGE_BYTES;
use crate::proto::raft_server::{Raft as RaftRpc, RaftServer};
use crate::proto::{RaftReply, RaftRequest};

/// Serves the Raft RPCs of one node.
#[derive(Clone)]
pub struct RaftService {
    farm: Farm,
}

impl RaftService {
    /// The service of `farm`'s Raft node.
    pub fn new(farm: Farm) -> RaftService {
        RaftService { farm }
    }

    /// Run a forwarded leader operation here; refused unless this node
    /// leads, and unless it is the operation `rpc` carries.
    async fn leader_op(
        &self,
        rpc: &str,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        let op: LeaderOp = decode(request, "leader operation")?;
        if op.rpc() != rpc {
            return Err(Status::invalid_argument(format!(
                "{rpc} carries a {} operation",
                op.rpc()
            )));
        }
        let result = self
            .farm
            .run_as_leader(op)
            .await
            .map_err(|e| Refusal::from_error(&e));
        encode(&result, "leader operation")
    }

    /// Wrap into the generated tonic server, with message limits that fit the transport.
    pub fn into_server(self) -> RaftServer<RaftService> {
        RaftServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

fn decode<T: DeserializeOwned>(request: Request<RaftRequest>, what: &str) -> Result<T, Status> {
    let payload = request.into_inner().payload;
    serde_json::from_slice(&payload).map_err(|e| {
        Status::invalid_argument(format!(
            "cannot decode {what} ({} bytes): {e}",
            payload.len()
        ))
    })
}

fn encode<T: Serialize>(result: &T, what: &str) -> Result<tonic::Response<RaftReply>, Status> {
    let payload = serde_json::to_vec(result)
        .map_err(|e| Status::internal(format!("cannot encode {what} reply: {e}")))?;
    Ok(tonic::Response::new(RaftReply { payload }))
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        let req = decode(request, "append entries request")?;
        encode(
            &self.farm.raft().append_entries(req).await,
            "append entries",
        )
    }

    async fn vote(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        let req = decode(request, "vote request")?;
        encode(&self.farm.raft().vote(req).await, "vote")
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        let req = decode(request, "install snapshot request")?;
        encode(
            &self.farm.raft().install_snapshot(req).await,
            "install snapshot",
        )
    }

    async fn propose(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        self.leader_op("Propose", request).await
    }

    async fn read_index(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        self.leader_op("ReadIndex", request).await
    }

    async fn change_membership(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, Status> {
        self.leader_op("ChangeMembership", request).await
    }
}

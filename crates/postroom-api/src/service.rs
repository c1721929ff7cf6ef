//! The `postroom.admin.v1.ClusterAdmin` gRPC service: a node's status from
//! its own view, and membership changes (sent through the leader by the
//! farm), with request validation and errors mapped by [`status_from`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use postroom_cluster::{Farm, FarmStatus, MembershipChange};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::client::{status_of, Credentials};
use crate::config::get_config;
use crate::error::status_from;
use crate::join::join_problem;
use crate::proto::cluster_admin_server::{ClusterAdmin, ClusterAdminServer};
use crate::proto::{
    AddMemberRequest, ConfigReply, GetConfigRequest, Member, MembershipReply, NodeStatus,
    RemoveMemberRequest, StatusRequest,
};
use crate::readiness::{
    readiness, report_of, role_name, NodeProbe, NodeReport, Readiness, QUORUM_ACK_LIMIT_MS,
};
use postroom_core::cluster::address_problem;

/// The service's full gRPC name, also its `grpc.health.v1` service name.
pub const ADMIN_SERVICE_NAME: &str = "postroom.admin.v1.ClusterAdmin";

/// How long a membership reply waits for the change to show in this node's
/// status (which follows Raft metrics, a few milliseconds behind).
const CHANGE_SHOWS_WITHIN: Duration = Duration::from_secs(5);
const CHANGE_POLL: Duration = Duration::from_millis(20);

/// Serves the cluster-admin RPCs of one node.
#[derive(Clone)]
pub struct ClusterAdminService {
    farm: Farm,
    probe: Arc<dyn NodeProbe>,
    /// What this node presents when it calls another node (join checks).
    peer_credentials: Credentials,
}

/// The tonic service to mount next to the Raft service. `Status` evaluates
/// readiness afresh with the same rules as the monitor.
pub fn cluster_admin_service(
    farm: Farm,
    probe: Arc<dyn NodeProbe>,
    peer_credentials: Credentials,
) -> ClusterAdminServer<ClusterAdminService> {
    ClusterAdminServer::new(ClusterAdminService {
        farm,
        probe,
        peer_credentials,
    })
}

/// Every member with its address, voter flag and (on the leader) matched index.
pub(crate) fn members(status: &FarmStatus) -> Vec<Member> {
    status
        .members
        .iter()
        .map(|(id, address)| Member {
            node_id: *id,
            address: address.clone(),
            voter: status.voters.contains(id),
            matched_index: status.matched.get(id).copied().flatten(),
        })
        .collect()
}

/// Pure: the `Status` answer from the farm's view, the applied state's
/// config version and live leases per node, the binary's report and the
/// current readiness.
pub(crate) fn node_status(
    status: &FarmStatus,
    config_version: u64,
    leases_by_node: &BTreeMap<u64, usize>,
    report: &NodeReport,
    readiness: &Readiness,
) -> NodeStatus {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    NodeStatus {
        node_id: status.node_id,
        role: role_name(status.role).to_string(),
        leader: status.leader,
        term: status.term,
        last_applied_index: status.last_applied_index,
        last_log_index: status.last_log_index,
        snapshot_index: status.snapshot_index,
        purged_index: status.purged_index,
        members: members(status),
        claims_held: count(leases_by_node.get(&status.node_id).copied().unwrap_or(0)),
        claims_in_flight_total: count(leases_by_node.values().sum()),
        claims_by_node: leases_by_node
            .iter()
            .map(|(node, n)| (*node, count(*n)))
            .collect(),
        config_version,
        drop_folder: report.drop_folder.clone(),
        drop_folder_backlog: report.drop_folder_backlog,
        smtp_listen: report.smtp_listen.clone().unwrap_or_default(),
        ready: readiness.ready,
        not_ready_reasons: readiness.problems.clone(),
        millis_since_quorum_ack: status.millis_since_quorum_ack,
        address: status
            .members
            .get(&status.node_id)
            .cloned()
            .unwrap_or_default(),
    }
}

/// A node id in a request: 1 or more.
pub(crate) fn check_node_id(node_id: u64) -> Result<u64, Status> {
    if node_id == 0 {
        return Err(Status::invalid_argument("node_id: 0 is not allowed"));
    }
    Ok(node_id)
}

/// A member address in a request: `host:port`, no scheme, path or spaces.
pub(crate) fn check_address(address: &str) -> Result<(), Status> {
    match address_problem(address) {
        Some(why) => Err(Status::invalid_argument(format!(
            "address: {address:?}: {why}"
        ))),
        None => Ok(()),
    }
}

/// A node that is in no farm yet (waiting to be added) knows no leader to
/// send a membership change to: refuse at once instead of retrying for
/// minutes.
pub(crate) fn check_in_a_farm(status: &FarmStatus) -> Result<(), Status> {
    if status.members.is_empty() {
        return Err(Status::failed_precondition(format!(
            "node {} is not in a farm yet (it waits to be added); send membership changes to a member",
            status.node_id
        )));
    }
    Ok(())
}

impl ClusterAdminService {
    /// Wait (bounded) until this node's status satisfies `shows`, then
    /// answer the membership it sees.
    async fn membership_when(&self, shows: impl Fn(&FarmStatus) -> bool) -> MembershipReply {
        let deadline = Instant::now() + CHANGE_SHOWS_WITHIN;
        let mut status = self.farm.status();
        while !shows(&status) && Instant::now() < deadline {
            tokio::time::sleep(CHANGE_POLL).await;
            status = self.farm.status();
        }
        if !shows(&status) {
            tracing::debug!(members = ?status.members, "membership change committed, not yet in this node's status");
        }
        MembershipReply {
            members: members(&status),
        }
    }
}

#[tonic::async_trait]
impl ClusterAdmin for ClusterAdminService {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<NodeStatus>, Status> {
        let report = report_of(&self.probe).await;
        let status = self.farm.status();
        let (config_version, leases) = self
            .farm
            .read(|s| (s.config_version(), s.live_leases_by_node()));
        let readiness = readiness(&status, &report, QUORUM_ACK_LIMIT_MS);
        Ok(Response::new(node_status(
            &status,
            config_version,
            &leases,
            &report,
            &readiness,
        )))
    }

    async fn add_member(
        &self,
        request: Request<AddMemberRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let AddMemberRequest { node_id, address } = request.into_inner();
        let id = check_node_id(node_id)?;
        check_address(&address)?;
        let status = self.farm.status();
        check_in_a_farm(&status)?;
        // Adding a node again at the same address is a no-op; anything else is checked first.
        if status.members.get(&id) != Some(&address) {
            let config = self.farm.read(|s| s.config().cloned());
            let target = status_of(&address, &self.peer_credentials)
                .await
                .map_err(|e| e.to_string());
            if let Some(problem) = join_problem(
                id,
                &address,
                &status.members,
                config.as_ref(),
                target.as_ref().map_err(Clone::clone),
            ) {
                return Err(Status::failed_precondition(problem));
            }
            // Its Raft service must take ours (the farm's secret, our certificate).
            if let Err(e) = self.farm.check_peer(id, &address).await {
                return Err(Status::failed_precondition(format!(
                    "node {id} at {address} cannot be a member: {e}"
                )));
            }
        }
        tracing::info!(node = id, %address, "adding a member");
        self.farm
            .change_membership(MembershipChange::AddVoter {
                id,
                address: address.clone(),
            })
            .await
            .map_err(|e| status_from(&e))?;
        let reply = self
            .membership_when(|s| s.voters.contains(&id) && s.members.get(&id) == Some(&address))
            .await;
        tracing::info!(node = id, %address, "member added");
        Ok(Response::new(reply))
    }

    async fn remove_member(
        &self,
        request: Request<RemoveMemberRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let id = check_node_id(request.into_inner().node_id)?;
        check_in_a_farm(&self.farm.status())?;
        tracing::info!(node = id, "removing a member");
        self.farm
            .change_membership(MembershipChange::Remove { id })
            .await
            .map_err(|e| status_from(&e))?;
        let reply = self.membership_when(|s| !s.members.contains_key(&id)).await;
        tracing::info!(node = id, "member removed");
        Ok(Response::new(reply))
    }

    async fn get_config(
        &self,
        request: Request<GetConfigRequest>,
    ) -> Result<Response<ConfigReply>, Status> {
        let local = request.into_inner().local;
        get_config(&self.farm, local).await.map(Response::new)
    }
}

#[cfg(test)]
#[path = "service_test.rs"]
mod tests;

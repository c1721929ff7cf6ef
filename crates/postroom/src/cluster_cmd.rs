//! `postroom cluster ...` (the farm's status and membership changes), asked of any node
//! over its admin gRPC (`postroom_api`), printed for people or as JSON for
//! scripts.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::admin_args::{exit_found, runtime, ServerArgs};

#[derive(Subcommand)]
pub enum ClusterCmd {
    /// Show every member's status, as seen by each member itself.
    ///
    /// Asks --server for its status and membership, then every other member
    /// (3 s each); a member that does not answer is shown `unreachable`.
    /// LAG is the leader's last log index minus the member's applied index.
    #[command(
        after_help = "Exit status: 0 when every member is ready, 1 when any member is not \
                      ready or unreachable (the reasons follow the table), 2 when --server \
                      cannot be asked."
    )]
    Status {
        #[command(flatten)]
        server: ServerArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a node to the farm, then print the membership.
    ///
    /// The node must already run with `cluster.join = true` and be reachable
    /// at --address. It is added as a learner, catches up with the log, then
    /// becomes a voter; this may take a while for a large farm state.
    Join {
        #[command(flatten)]
        server: ServerArgs,
        /// The new node's `cluster.node_id`.
        #[arg(long)]
        node_id: u64,
        /// `host:port` of the new node's gRPC endpoint, as the members reach it.
        #[arg(long)]
        address: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a node from the farm, then print the membership.
    Leave {
        #[command(flatten)]
        server: ServerArgs,
        /// The node id to remove.
        #[arg(long)]
        node_id: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Run one `cluster` command on a small runtime of its own.
pub fn run(cmd: ClusterCmd) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_async(cmd))
}

async fn run_async(cmd: ClusterCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCmd::Status { server, json } => {
            let nodes = postroom_api::farm_status(&server.server, &server.credentials()?).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&postroom_api::status_json(&nodes))?
                );
            } else {
                print!("{}", postroom_api::status_table(&nodes));
            }
            Ok(exit_found(nodes.iter().all(|n| n.ready)))
        }
        ClusterCmd::Join {
            server,
            node_id,
            address,
            json,
        } => {
            let reply =
                postroom_api::add_member(&server.server, &server.credentials()?, node_id, &address)
                    .await
                    .with_context(|| format!("adding node {node_id} at {address}"))?;
            eprintln!("node {node_id} at {address} is a member");
            print_membership(json, &reply)?;
            Ok(ExitCode::SUCCESS)
        }
        ClusterCmd::Leave {
            server,
            node_id,
            json,
        } => {
            let reply =
                postroom_api::remove_member(&server.server, &server.credentials()?, node_id)
                    .await
                    .with_context(|| format!("removing node {node_id}"))?;
            eprintln!("node {node_id} is no longer a member");
            print_membership(json, &reply)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_membership(
    json: bool,
    reply: &postroom_api::proto::MembershipReply,
) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&postroom_api::membership_json(reply))?
        );
    } else {
        print!("{}", postroom_api::membership_table(reply));
    }
    Ok(())
}

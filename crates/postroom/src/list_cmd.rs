//! `postroom events` and `postroom threads`: a calendar's events (one per
//! UID at its latest SEQUENCE) and a discussion board's threads, through
//! any node's LibraryAdmin service.

use std::process::ExitCode;

use clap::Args;
use postroom_api::proto::library_admin_client::LibraryAdminClient;
use postroom_api::proto::{EventList, ListViewRequest, ThreadList};
use postroom_api::{render, ApiError};

use crate::admin_args::{print_json, runtime, ServerArgs};

#[derive(Args)]
pub struct ListViewArgs {
    /// The list's alias.
    alias: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Find the list in the node's applied config (no quorum needed).
    #[arg(long)]
    local: bool,
    #[arg(long)]
    json: bool,
}

impl ListViewArgs {
    fn request(&self) -> ListViewRequest {
        ListViewRequest {
            alias: self.alias.clone(),
            local: self.local,
        }
    }
}

/// `postroom events <calendar>`.
pub fn events(args: ListViewArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let mut client = LibraryAdminClient::new(args.server.channel().await?);
        let list = client
            .list_events(args.request())
            .await
            .map_err(|s| ApiError::call(&args.server.server, "list events", &s))?
            .into_inner();
        if args.json {
            print_json(&list)?;
        } else {
            print!("{}", events_table(&list));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `postroom threads <discussion board>`.
pub fn threads(args: ListViewArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let mut client = LibraryAdminClient::new(args.server.channel().await?);
        let list = client
            .list_threads(args.request())
            .await
            .map_err(|s| ApiError::call(&args.server.server, "list threads", &s))?
            .into_inner();
        if args.json {
            print_json(&list)?;
        } else {
            print!("{}", threads_table(&list));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Pure: events as a table.
pub fn events_table(list: &EventList) -> String {
    let mut rows = vec![["START", "SUMMARY", "STATUS", "SEQ", "REPEATS", "UID"]
        .map(String::from)
        .to_vec()];
    for e in &list.events {
        let status = if e.cancelled {
            "cancelled".to_string()
        } else if e.status.is_empty() {
            "confirmed".to_string()
        } else {
            e.status.to_lowercase()
        };
        let summary = if e.recurrence_id.is_empty() {
            e.summary.clone()
        } else {
            format!("{} (occurrence {})", e.summary, e.recurrence_id)
        };
        rows.push(vec![
            e.start.clone(),
            summary,
            status,
            e.sequence.to_string(),
            e.recurrence.join(" "),
            e.uid.clone(),
        ]);
    }
    render(&rows)
}

/// Pure: threads as a table, each thread's posts indented under it.
pub fn threads_table(list: &ThreadList) -> String {
    let mut rows = vec![["RECEIVED", "FROM", "TITLE", "KEY"]
        .map(String::from)
        .to_vec()];
    for t in &list.threads {
        for (n, p) in t.posts.iter().enumerate() {
            let title = if n == 0 {
                format!("{} ({} posts)", p.title, t.posts.len())
            } else {
                format!("  ↳ {}", p.title)
            };
            rows.push(vec![
                p.received.clone(),
                p.sender.clone(),
                title,
                p.message_key.chars().take(16).collect(),
            ]);
        }
    }
    render(&rows)
}

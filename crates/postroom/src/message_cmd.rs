//! `postroom message show`, `postroom activity`, `postroom quarantine
//! list|show|replay|rm` and `postroom send`: messages in the farm, through
//! any node's MessageAdmin service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use postroom_api::proto::get_message_request::Lookup;
use postroom_api::proto::message_admin_client::MessageAdminClient;
use postroom_api::proto::{
    Envelope, GetMessageRequest, ListActivityRequest, ListQuarantineRequest, MessageState,
    QuarantinedEntry, QuarantinedRequest, SubmitChunk,
};
use postroom_api::{render, AdminChannel, ApiError};

use crate::admin_args::{print_json, runtime, time_text, ServerArgs};

/// How much of a file one `Submit` chunk carries.
const CHUNK: usize = 256 * 1024;

#[derive(Subcommand)]
pub enum MessageCmd {
    /// Where a message is: filed (libraries, items, files), quarantined
    /// (why), being filed (by which node), or unknown.
    Show {
        /// The message key (64 hex digits, as in logs and SMTP replies).
        #[arg(required_unless_present = "message_id", conflicts_with = "message_id")]
        key: Option<String>,
        /// Look up by Message-ID header instead.
        #[arg(long)]
        message_id: Option<String>,
        /// Read the node's applied state (no quorum needed).
        #[arg(long)]
        local: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        json: bool,
    },
}

/// `postroom activity`: finished messages, newest first.
#[derive(Args)]
pub struct ActivityArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long, default_value_t = 50)]
    page_size: u32,
    #[arg(long, default_value = "")]
    page_token: String,
    /// Read the node's applied state (no quorum needed).
    #[arg(long)]
    local: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum QuarantineCmd {
    /// Quarantined messages with their reasons, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long, default_value = "")]
        page_token: String,
        #[arg(long)]
        json: bool,
    },
    /// One quarantined message: its reason and headers.
    Show {
        /// The entry's id (its file name, from `quarantine list`).
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        json: bool,
    },
    /// File a quarantined message again with the current configuration
    /// (e.g. after creating the missing library).
    Replay {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        json: bool,
    },
    /// Delete a quarantined message for good.
    Rm {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `postroom send FILE --from A --to B...`: submit a message (RFC 5322 file).
#[derive(Args)]
pub struct SendArgs {
    /// The message file (`-`: standard input).
    file: PathBuf,
    /// The envelope sender (empty for a null sender).
    #[arg(long, default_value = "")]
    from: String,
    /// Envelope recipients (repeat, or a comma list).
    #[arg(long, required = true, value_delimiter = ',')]
    to: Vec<String>,
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long)]
    json: bool,
}

async fn client(server: &ServerArgs) -> anyhow::Result<MessageAdminClient<AdminChannel>> {
    let channel = server.channel().await?;
    Ok(MessageAdminClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
}

fn refused<'a>(
    server: &'a ServerArgs,
    call: &'static str,
) -> impl Fn(tonic::Status) -> ApiError + 'a {
    move |s| ApiError::call(&server.server, call, &s)
}

/// Pure: one message's whereabouts, for people.
pub fn message_text(m: &MessageState) -> String {
    let mut rows = vec![
        vec!["message_key".to_string(), m.message_key.clone()],
        vec!["state".into(), m.state.clone()],
    ];
    let mut add = |k: &str, v: String| {
        if !v.is_empty() {
            rows.push(vec![k.to_string(), v]);
        }
    };
    add("message_id", m.message_id.clone());
    add("sender", m.sender.clone());
    add("subject", m.subject.clone());
    add("libraries", m.libraries.join(", "));
    add("reason", m.reason.clone());
    if m.node != 0 {
        add("node", m.node.to_string());
    }
    add(
        "finished_at",
        if m.finished_at_ms > 0 {
            time_text(m.finished_at_ms)
        } else {
            String::new()
        },
    );
    add(
        "claim_expires",
        if m.claim_expires_ms > 0 {
            time_text(m.claim_expires_ms)
        } else {
            String::new()
        },
    );
    for i in &m.items {
        add("files", i.files.join(", "));
    }
    for q in &m.quarantine {
        add(
            "quarantined",
            format!("{} ({}: {})", q.id, q.code, q.reason),
        );
    }
    render(&rows)
}

/// Pure: messages as a table.
pub fn activity_table(messages: &[MessageState]) -> String {
    let mut rows = vec![[
        "FINISHED", "KEY", "STATE", "NODE", "FROM", "SUBJECT", "WHERE",
    ]
    .map(String::from)
    .to_vec()];
    for m in messages {
        rows.push(vec![
            time_text(m.finished_at_ms),
            m.message_key.chars().take(16).collect(),
            m.state.clone(),
            m.node.to_string(),
            m.sender.clone(),
            m.subject.chars().take(40).collect(),
            if m.libraries.is_empty() {
                m.reason.chars().take(60).collect()
            } else {
                m.libraries.join(", ")
            },
        ]);
    }
    render(&rows)
}

/// Pure: quarantine entries as a table.
pub fn quarantine_table(entries: &[QuarantinedEntry]) -> String {
    let mut rows = vec![["QUARANTINED", "ID", "CODE", "SIZE", "REASON"]
        .map(String::from)
        .to_vec()];
    for e in entries {
        rows.push(vec![
            e.quarantined_at.clone(),
            e.id.clone(),
            e.code.clone(),
            e.size_bytes.to_string(),
            e.reason.clone(),
        ]);
    }
    render(&rows)
}

pub fn message(cmd: MessageCmd) -> anyhow::Result<ExitCode> {
    let MessageCmd::Show {
        key,
        message_id,
        local,
        server,
        json,
    } = cmd;
    runtime()?.block_on(async {
        let lookup = match (key, message_id) {
            (Some(key), _) => Lookup::MessageKey(key),
            (None, Some(id)) => Lookup::MessageId(id),
            (None, None) => anyhow::bail!("give a message key or --message-id"),
        };
        let reply = client(&server)
            .await?
            .get_message(GetMessageRequest {
                local,
                lookup: Some(lookup),
            })
            .await
            .map_err(refused(&server, "get message"))?
            .into_inner();
        if json {
            print_json(&reply)?;
        } else {
            let texts: Vec<String> = reply.messages.iter().map(message_text).collect();
            print!("{}", texts.join("\n"));
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn activity(args: ActivityArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let page = client(&args.server)
            .await?
            .list_activity(ListActivityRequest {
                page_size: args.page_size,
                page_token: args.page_token.clone(),
                local: args.local,
            })
            .await
            .map_err(refused(&args.server, "list activity"))?
            .into_inner();
        if args.json {
            print_json(&page)?;
        } else {
            print!("{}", activity_table(&page.messages));
            if !page.next_page_token.is_empty() {
                eprintln!("next page: --page-token {}", page.next_page_token);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn quarantine(cmd: QuarantineCmd) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        match cmd {
            QuarantineCmd::List {
                server,
                page_size,
                page_token,
                json,
            } => {
                let page = client(&server)
                    .await?
                    .list_quarantine(ListQuarantineRequest {
                        page_size,
                        page_token,
                    })
                    .await
                    .map_err(refused(&server, "list quarantine"))?
                    .into_inner();
                if json {
                    print_json(&page)?;
                } else {
                    print!("{}", quarantine_table(&page.entries));
                    if !page.next_page_token.is_empty() {
                        eprintln!(
                            "{} of {}; next page: --page-token {}",
                            page.entries.len(),
                            page.total,
                            page.next_page_token
                        );
                    }
                }
            }
            QuarantineCmd::Show { id, server, json } => {
                let reply = client(&server)
                    .await?
                    .get_quarantined(QuarantinedRequest { id })
                    .await
                    .map_err(refused(&server, "show quarantined message"))?
                    .into_inner();
                if json {
                    print_json(&reply)?;
                } else {
                    print!("{}", quarantine_table(reply.entry.as_slice()));
                    println!("\n{}", reply.headers);
                }
            }
            QuarantineCmd::Replay { id, server, json } => {
                let reply = client(&server)
                    .await?
                    .replay_quarantined(QuarantinedRequest { id: id.clone() })
                    .await
                    .map_err(refused(&server, "replay"))?
                    .into_inner();
                if json {
                    print_json(&reply)?;
                } else {
                    println!(
                        "{id} replayed for {} as {}",
                        reply.recipients.join(", "),
                        reply.drop_file
                    );
                }
            }
            QuarantineCmd::Rm { id, server } => {
                client(&server)
                    .await?
                    .delete_quarantined(QuarantinedRequest { id: id.clone() })
                    .await
                    .map_err(refused(&server, "delete quarantined message"))?;
                println!("{id} deleted");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The chunks of `reader`, read as the stream is consumed (a 50 MB file is
/// never in memory whole); the first carries the envelope, and an empty
/// input is one chunk with the envelope alone. A read error stops the
/// command without ending the stream, so the node discards what it got.
fn chunks<R>(reader: R, envelope: Envelope) -> impl tokio_stream::Stream<Item = SubmitChunk>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let mut reader = reader;
        let mut envelope = Some(envelope);
        loop {
            let mut data = vec![0u8; CHUNK];
            let n = match reader.read(&mut data).await {
                Ok(n) => n,
                Err(e) => {
                    // Ending the stream would hand the node a cut message:
                    // leave without ending it, so the node discards it.
                    eprintln!("postroom: error: reading the message: {e}; nothing was sent");
                    std::process::exit(i32::from(crate::admin_args::EXIT_ERROR));
                }
            };
            data.truncate(n);
            if n == 0 && envelope.is_none() {
                return;
            }
            let chunk = SubmitChunk {
                envelope: envelope.take(),
                data,
            };
            if tx.send(chunk).await.is_err() || n == 0 {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

pub fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let envelope = Envelope {
            sender: args.from.clone(),
            recipients: args.to.iter().map(|t| t.trim().to_string()).collect(),
        };
        let stream: std::pin::Pin<Box<dyn tokio_stream::Stream<Item = SubmitChunk> + Send>> =
            if args.file.as_os_str() == "-" {
                Box::pin(chunks(tokio::io::stdin(), envelope))
            } else {
                let file = tokio::fs::File::open(&args.file)
                    .await
                    .with_context(|| format!("{}: cannot read it", args.file.display()))?;
                Box::pin(chunks(file, envelope))
            };
        let reply = client(&args.server)
            .await?
            .submit(stream)
            .await
            .map_err(refused(&args.server, "submit"))?
            .into_inner();
        if args.json {
            print_json(&reply)?;
        } else {
            println!("accepted as {} ({})", reply.message_key, reply.drop_file);
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! `postroom library add|set|rm|show|list` and `postroom items`: a farm's
//! mail-enabled libraries and what was filed in them, through any node's
//! LibraryAdmin service.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use postroom_api::proto::library_admin_client::LibraryAdminClient;
use postroom_api::proto::{
    CreateLibraryRequest, DeleteLibraryRequest, GetLibraryRequest, ItemPage, Library, LibraryReply,
    LibraryUpdate, ListItemsRequest, ListLibrariesRequest, StringList, UpdateLibraryRequest,
};
use postroom_api::{render, AdminChannel, ApiError};

use crate::admin_args::{print_json, runtime, ServerArgs};

/// Settings of a library, as flags.
#[derive(Args, Default)]
pub struct LibraryFlags {
    /// Display name, e.g. "Shared Documents" (unique in the farm).
    #[arg(long)]
    name: Option<String>,
    /// The list kind: document_library, picture_library, form_library,
    /// announcements, calendar, discussion_board or blog.
    #[arg(long)]
    kind: Option<String>,
    /// Where attachments go: root, subject (a folder per subject) or sender.
    #[arg(long)]
    attachment_folders: Option<String>,
    /// Replace a file of the same name instead of adding " (1)".
    #[arg(long)]
    overwrite_existing: Option<bool>,
    /// Also save the whole message as an .eml file.
    #[arg(long)]
    save_original: Option<bool>,
    /// The library's folder (a farm of several nodes: an absolute path on
    /// shared storage); empty: `<data_dir>/libraries/<alias>`.
    #[arg(long)]
    path: Option<String>,
    /// Largest message it takes, e.g. 20MB (0: the farm's limit).
    #[arg(long, value_parser = parse_size)]
    max_message_size: Option<u64>,
    /// Largest attachment it takes, e.g. 5MB (0: any).
    #[arg(long, value_parser = parse_size)]
    max_attachment_size: Option<u64>,
    /// File meeting invitations (.ics) too (default true).
    #[arg(long)]
    save_meeting_invitations: Option<bool>,
    /// Also file the attachments inside attached messages (default false).
    #[arg(long)]
    expand_attached_messages: Option<bool>,
    /// Who may post: anyone, or members (authenticated senders in --members).
    #[arg(long)]
    accept_from: Option<String>,
    /// Addresses, @domains and group:<name> (farm groups) that may post with
    /// --accept-from members (comma list).
    #[arg(long, value_delimiter = ',')]
    members: Option<Vec<String>>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    text.parse::<postroom_core::units::ByteSize>()
        .map(|b| b.0)
        .map_err(|e| e.to_string())
}

#[derive(Subcommand)]
pub enum LibraryCmd {
    /// Mail-enable a new library: `postroom library add ALIAS --name NAME`.
    Add {
        /// The library's alias: the local part of its e-mail address.
        alias: String,
        #[command(flatten)]
        flags: LibraryFlags,
        /// Create it disabled (its mail is quarantined until enabled).
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        expected_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Change a library's settings (only the flags given).
    Set {
        /// The library's current alias.
        alias: String,
        #[command(flatten)]
        flags: LibraryFlags,
        /// A new alias (the library's address changes).
        #[arg(long)]
        new_alias: Option<String>,
        /// Enable or disable it.
        #[arg(long)]
        enabled: Option<bool>,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        expected_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Stop receiving mail for a library (its folder and items stay).
    Rm {
        alias: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        expected_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Show one library's settings.
    Show {
        alias: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the farm's libraries.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
}

/// `postroom items ALIAS`: a library's filed items, newest first.
#[derive(Args)]
pub struct ItemsArgs {
    /// The library's alias.
    alias: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Items per page (at most 1000).
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// Start after this item (a previous page's `next_page_token`).
    #[arg(long, default_value = "")]
    page_token: String,
    /// Every item, all pages.
    #[arg(long)]
    all: bool,
    /// Find the library in the node's applied config (no quorum needed).
    #[arg(long)]
    local: bool,
    #[arg(long)]
    json: bool,
}

async fn client(server: &ServerArgs) -> anyhow::Result<LibraryAdminClient<AdminChannel>> {
    let channel = server.channel().await?;
    Ok(LibraryAdminClient::new(channel))
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "yes"
    } else {
        "no"
    }
}

/// Pure: libraries as a table.
pub fn libraries_table(libraries: &[Library]) -> String {
    let mut rows = vec![[
        "ALIAS", "NAME", "KIND", "ENABLED", "FOLDERS", "ADDRESS", "PATH",
    ]
    .map(String::from)
    .to_vec()];
    for l in libraries {
        rows.push(vec![
            l.alias.clone(),
            l.name.clone(),
            l.kind.clone(),
            yes_no(l.enabled).to_string(),
            l.attachment_folders.clone(),
            l.address.clone(),
            if l.path.is_empty() {
                "(data_dir)".to_string()
            } else {
                l.path.clone()
            },
        ]);
    }
    render(&rows)
}

/// Pure: one library's settings, one per line.
pub fn library_text(reply: &LibraryReply) -> String {
    let Some(l) = &reply.library else {
        return String::new();
    };
    let mut rows = vec![
        vec!["name".to_string(), l.name.clone()],
        vec!["alias".into(), l.alias.clone()],
        vec!["address".into(), l.address.clone()],
        vec!["kind".into(), l.kind.clone()],
        vec!["enabled".into(), yes_no(l.enabled).into()],
        vec!["attachment_folders".into(), l.attachment_folders.clone()],
        vec![
            "overwrite_existing".into(),
            yes_no(l.overwrite_existing).into(),
        ],
        vec!["save_original".into(), yes_no(l.save_original).into()],
        vec![
            "path".into(),
            if l.path.is_empty() {
                "<data_dir>/libraries/<alias>".into()
            } else {
                l.path.clone()
            },
        ],
    ];
    let size = |bytes: u64, none: &str| match bytes {
        0 => none.to_string(),
        n => postroom_core::units::ByteSize(n).to_string(),
    };
    rows.push(vec![
        "max_message_size".into(),
        size(l.max_message_size_bytes, "(the farm's)"),
    ]);
    rows.push(vec![
        "max_attachment_size".into(),
        size(l.max_attachment_size_bytes, "any"),
    ]);
    rows.push(vec![
        "save_meeting_invitations".into(),
        yes_no(l.save_meeting_invitations).into(),
    ]);
    rows.push(vec![
        "expand_attached_messages".into(),
        yes_no(l.expand_attached_messages).into(),
    ]);
    rows.push(vec!["accept_from".into(), l.accept_from.clone()]);
    if !l.members.is_empty() {
        rows.push(vec!["members".into(), l.members.join(", ")]);
    }
    rows.push(vec!["config_version".into(), reply.version.to_string()]);
    render(&rows)
}

/// Pure: items as a table.
pub fn items_table(page: &ItemPage) -> String {
    let mut rows = vec![["RECEIVED", "KEY", "FROM", "SUBJECT", "FILES"]
        .map(String::from)
        .to_vec()];
    for i in &page.items {
        rows.push(vec![
            i.received.clone(),
            i.message_key.chars().take(16).collect(),
            clip(&i.sender, 30),
            clip(
                if i.subject.is_empty() {
                    "(no subject)"
                } else {
                    &i.subject
                },
                40,
            ),
            i.files.join(", "),
        ]);
    }
    render(&rows)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
    c.push('…');
    c
}

fn print_write(json: bool, reply: &LibraryReply, what: &str) -> anyhow::Result<()> {
    if json {
        return print_json(reply);
    }
    let alias = reply.library.as_ref().map_or("", |l| l.alias.as_str());
    if reply.changes.is_empty() {
        println!(
            "library {alias:?}: no change (config version {})",
            reply.version
        );
    } else {
        println!(
            "library {alias:?} {what} (config version {}):",
            reply.version
        );
        for c in &reply.changes {
            println!("  {c}");
        }
    }
    Ok(())
}

pub fn run(cmd: LibraryCmd) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_async(cmd))
}

async fn run_async(cmd: LibraryCmd) -> anyhow::Result<ExitCode> {
    let refused =
        |server: &ServerArgs, call, s: tonic::Status| ApiError::call(&server.server, call, &s);
    match cmd {
        LibraryCmd::Add {
            alias,
            flags,
            disabled,
            server,
            expected_version,
            json,
        } => {
            let skip_meeting_invitations = flags.save_meeting_invitations == Some(false);
            let library = Library {
                name: flags.name.clone().unwrap_or_else(|| alias.clone()),
                alias,
                kind: flags.kind.unwrap_or_default(),
                enabled: !disabled,
                attachment_folders: flags.attachment_folders.unwrap_or_default(),
                overwrite_existing: flags.overwrite_existing.unwrap_or(false),
                save_original: flags.save_original.unwrap_or(false),
                path: flags.path.unwrap_or_default(),
                address: String::new(),
                max_message_size_bytes: flags.max_message_size.unwrap_or(0),
                max_attachment_size_bytes: flags.max_attachment_size.unwrap_or(0),
                accept_from: flags.accept_from.unwrap_or_default(),
                members: flags.members.unwrap_or_default(),
                save_meeting_invitations: flags.save_meeting_invitations.unwrap_or(true),
                expand_attached_messages: flags.expand_attached_messages.unwrap_or(false),
            };
            let reply = client(&server)
                .await?
                .create_library(CreateLibraryRequest {
                    library: Some(library),
                    disabled,
                    expected_version,
                    skip_meeting_invitations,
                })
                .await
                .map_err(|s| refused(&server, "create library", s))?
                .into_inner();
            print_write(json, &reply, "created")?;
        }
        LibraryCmd::Set {
            alias,
            flags,
            new_alias,
            enabled,
            server,
            expected_version,
            json,
        } => {
            let update = LibraryUpdate {
                name: flags.name,
                alias: new_alias,
                kind: flags.kind,
                enabled,
                attachment_folders: flags.attachment_folders,
                overwrite_existing: flags.overwrite_existing,
                save_original: flags.save_original,
                path: flags.path,
                max_message_size_bytes: flags.max_message_size,
                max_attachment_size_bytes: flags.max_attachment_size,
                accept_from: flags.accept_from,
                members: flags.members.map(|values| StringList { values }),
                save_meeting_invitations: flags.save_meeting_invitations,
                expand_attached_messages: flags.expand_attached_messages,
            };
            let reply = client(&server)
                .await?
                .update_library(UpdateLibraryRequest {
                    alias,
                    update: Some(update),
                    expected_version,
                })
                .await
                .map_err(|s| refused(&server, "update library", s))?
                .into_inner();
            print_write(json, &reply, "changed")?;
        }
        LibraryCmd::Rm {
            alias,
            server,
            expected_version,
            json,
        } => {
            let reply = client(&server)
                .await?
                .delete_library(DeleteLibraryRequest {
                    alias,
                    expected_version,
                })
                .await
                .map_err(|s| refused(&server, "delete library", s))?
                .into_inner();
            print_write(json, &reply, "removed; its folder and items stay")?;
        }
        LibraryCmd::Show {
            alias,
            server,
            local,
            json,
        } => {
            let reply = client(&server)
                .await?
                .get_library(GetLibraryRequest { alias, local })
                .await
                .map_err(|s| refused(&server, "get library", s))?
                .into_inner();
            if json {
                print_json(&reply)?;
            } else {
                print!("{}", library_text(&reply));
            }
        }
        LibraryCmd::List {
            server,
            local,
            json,
        } => {
            let reply = client(&server)
                .await?
                .list_libraries(ListLibrariesRequest { local })
                .await
                .map_err(|s| refused(&server, "list libraries", s))?
                .into_inner();
            if json {
                print_json(&reply)?;
            } else {
                print!("{}", libraries_table(&reply.libraries));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `postroom items`: one page, or with `--all` every page.
pub fn items(args: ItemsArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let mut client = client(&args.server).await?;
        let mut token = args.page_token.clone();
        let mut all = ItemPage::default();
        loop {
            let page = client
                .list_items(ListItemsRequest {
                    local: args.local,
                    alias: args.alias.clone(),
                    page_size: args.page_size,
                    page_token: token,
                })
                .await
                .map_err(|s| ApiError::call(&args.server.server, "list items", &s))?
                .into_inner();
            all.total = page.total;
            all.items.extend(page.items);
            all.next_page_token = page.next_page_token.clone();
            if !args.all || page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if args.json {
            print_json(&all)?;
        } else {
            print!("{}", items_table(&all));
            if !all.next_page_token.is_empty() {
                eprintln!(
                    "{} of {} items; next page: --page-token {} (or --all)",
                    all.items.len(),
                    all.total,
                    all.next_page_token
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! `postroom farm show|set|history` and `postroom apply -f`: the farm
//! settings read and changed through any node's FarmAdmin service, and a
//! whole config document applied declaratively (diff first, then one
//! version; `--dry-run` only shows the diff).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use postroom_api::proto::farm_admin_client::FarmAdminClient;
use postroom_api::proto::{
    ApplyConfigRequest, FarmReply, FarmSettingsUpdate, GetFarmRequest, ListConfigHistoryRequest,
    StringList, UpdateFarmRequest,
};
use postroom_api::render;
use postroom_core::units::{ByteSize, HumanDuration};

use crate::admin_args::{print_json, runtime, ServerArgs};

#[derive(Subcommand)]
pub enum FarmCmd {
    /// Show the farm settings with their config version.
    ///
    /// The read is linearizable: it includes every change committed before
    /// it, and fails on a node that cannot reach a quorum. `--local` reads
    /// the node's own applied state instead (may trail; works without a quorum).
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// Read the node's applied state instead of a linearizable read.
        #[arg(long)]
        local: bool,
        /// Print JSON instead of a table.
        #[arg(long, conflicts_with = "toml")]
        json: bool,
        /// Print the whole farm configuration (settings, drop folder,
        /// quarantine, libraries) as TOML, ready for `postroom apply -f`.
        #[arg(long)]
        toml: bool,
    },
    /// Change farm settings: `postroom farm set KEY=VALUE...`.
    ///
    /// Keys: incoming_enabled (true|false), incoming_domains and
    /// domain_aliases (comma lists), display_address, drop_folder,
    /// quarantine_folder (empty: back to the default), quarantine_retention
    /// (e.g. 30d, or `keep`), safe_servers (comma
    /// list of addresses or CIDR ranges, or `all`), deny_servers (comma
    /// list), accept_authenticated_only (true|false), max_message_size (e.g. 20MB),
    /// max_recipients, ledger_retention (e.g. 7d). All changes are one new
    /// config version.
    Set {
        #[command(flatten)]
        server: ServerArgs,
        /// Settings as KEY=VALUE.
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Only if the farm config is still at this version (else exit 4).
        #[arg(long)]
        expected_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Every config version, newest first: who, when, what changed.
    History {
        #[command(flatten)]
        server: ServerArgs,
        /// At most this many versions.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
}

/// `postroom apply -f farm.toml`.
#[derive(clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The farm configuration in the config file's layout ([farm],
    /// [drop_folder], [quarantine], [[library]]); `-` reads standard input.
    /// Node settings in it ([cluster], [smtp], ...) are ignored.
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

const KEYS: &str = "incoming_enabled, incoming_domains, domain_aliases, display_address, \
    drop_folder, quarantine_folder, quarantine_retention, safe_servers, deny_servers, \
    accept_authenticated_only, trusted_authserv_ids, vouching_servers, notify_refused_senders, \
    smarthost, postmaster, \
    max_message_size, max_recipients, ledger_retention, groups.<name>";

fn list(value: &str) -> StringList {
    StringList {
        values: value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect(),
    }
}

fn boolean(key: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Ok(true),
        "false" | "off" | "no" => Ok(false),
        other => bail!("{key}={other}: expected true or false"),
    }
}

/// Pure: the update that `KEY=VALUE` settings ask for.
pub fn farm_update(settings: &[String]) -> anyhow::Result<FarmSettingsUpdate> {
    let mut u = FarmSettingsUpdate::default();
    for setting in settings {
        let Some((key, value)) = setting.split_once('=') else {
            bail!("{setting:?}: expected KEY=VALUE (keys: {KEYS})");
        };
        let key = key.trim();
        let text = value.trim().to_string();
        match key {
            "incoming_enabled" => u.incoming_enabled = Some(boolean(key, value)?),
            "incoming_domains" => u.incoming_domains = Some(list(value)),
            "domain_aliases" => u.domain_aliases = Some(list(value)),
            "trusted_authserv_ids" => u.trusted_authserv_ids = Some(list(value)),
            "vouching_servers" => u.vouching_servers = Some(list(value)),
            "notify_refused_senders" => {
                u.notify_refused_senders = Some(boolean(key, value)?);
            }
            "smarthost" => u.smarthost = Some(text),
            "postmaster" => u.postmaster = Some(text),
            "accept_authenticated_only" => {
                u.accept_authenticated_only = Some(boolean(key, value)?);
            }
            "display_address" => u.display_address = Some(text),
            "drop_folder" => u.drop_folder = Some(text),
            "quarantine_folder" => u.quarantine_folder = Some(text),
            "quarantine_retention" if text == "keep" => u.quarantine_retention_seconds = Some(0),
            "quarantine_retention" => {
                let d: HumanDuration = text
                    .parse()
                    .map_err(|e| anyhow::anyhow!("quarantine_retention={text}: {e}"))?;
                u.quarantine_retention_seconds = Some((d.as_millis() / 1000).max(1));
            }
            "safe_servers" if text == "all" => u.safe_servers_mode = Some(text),
            "safe_servers" => {
                u.safe_servers_mode = Some("listed".to_string());
                u.safe_servers = Some(list(value));
            }
            "deny_servers" => u.deny_servers = Some(list(value)),
            "max_message_size" => {
                let size: ByteSize = text
                    .parse()
                    .map_err(|e| anyhow::anyhow!("max_message_size={text}: {e}"))?;
                u.max_message_size_bytes = Some(size.0);
            }
            "max_recipients" => {
                u.max_recipients = Some(
                    text.parse()
                        .with_context(|| format!("max_recipients={text}: not a number"))?,
                );
            }
            "ledger_retention" => {
                let d: HumanDuration = text
                    .parse()
                    .map_err(|e| anyhow::anyhow!("ledger_retention={text}: {e}"))?;
                u.ledger_retention_seconds = Some(d.as_millis() / 1000);
            }
            group if group.starts_with("groups.") => {
                let name = group.trim_start_matches("groups.").to_string();
                u.groups.insert(name, list(value));
            }
            other => bail!("unknown farm setting {other:?} (keys: {KEYS})"),
        }
    }
    Ok(u)
}

/// Pure: the settings as a two-column table, with the version line.
pub fn farm_table(reply: &FarmReply) -> String {
    let s = reply.settings.clone().unwrap_or_default();
    let or_default = |v: &str, default: &str| {
        if v.is_empty() {
            default.to_string()
        } else {
            v.to_string()
        }
    };
    let mut rows = vec![
        vec!["SETTING".to_string(), "VALUE".to_string()],
        vec!["incoming_enabled".into(), s.incoming_enabled.to_string()],
        vec!["incoming_domains".into(), s.incoming_domains.join(", ")],
        vec![
            "domain_aliases".into(),
            or_default(&s.domain_aliases.join(", "), "-"),
        ],
        vec![
            "display_address".into(),
            or_default(&s.display_address, "(first incoming domain)"),
        ],
        vec![
            "drop_folder".into(),
            or_default(&s.drop_folder, "<data_dir>/drop"),
        ],
        vec![
            "quarantine_folder".into(),
            or_default(&s.quarantine_folder, "<data_dir>/quarantine"),
        ],
        vec![
            "quarantine_retention".into(),
            match s.quarantine_retention_seconds {
                0 => "keep".to_string(),
                n => HumanDuration::from_secs(n).to_string(),
            },
        ],
        vec!["safe_servers".into(), {
            if s.safe_servers_mode == "listed" {
                s.safe_servers.join(", ")
            } else {
                "all".to_string()
            }
        }],
        vec![
            "deny_servers".into(),
            or_default(&s.deny_servers.join(", "), "-"),
        ],
        vec![
            "accept_authenticated_only".into(),
            s.accept_authenticated_only.to_string(),
        ],
        vec![
            "trusted_authserv_ids".into(),
            or_default(&s.trusted_authserv_ids.join(", "), "-"),
        ],
        vec![
            "vouching_servers".into(),
            or_default(&s.vouching_servers.join(", "), "-"),
        ],
        vec![
            "max_message_size".into(),
            ByteSize(s.max_message_size_bytes).to_string(),
        ],
        vec!["max_recipients".into(), s.max_recipients.to_string()],
        vec![
            "ledger_retention".into(),
            HumanDuration::from_secs(s.ledger_retention_seconds).to_string(),
        ],
    ];
    let groups: std::collections::BTreeMap<_, _> = s.groups.iter().collect();
    for (name, entries) in groups {
        rows.push(vec![format!("groups.{name}"), entries.values.join(", ")]);
    }
    let mut out = format!(
        "farm configuration version {} ({}), made by {}\n",
        reply.version,
        if reply.linearizable {
            "linearizable read"
        } else {
            "local read"
        },
        or_default(&reply.changed_by, "-")
    );
    out.push_str(&render(&rows));
    out
}

/// The change lines of a write, or that nothing changed.
pub fn changes_text(version: u64, changes: &[String]) -> String {
    if changes.is_empty() {
        return format!("no change (the farm configuration stays at version {version})\n");
    }
    let mut out = format!("farm configuration version {version}:\n");
    for c in changes {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

pub fn run(cmd: FarmCmd) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_async(cmd))
}

async fn run_async(cmd: FarmCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        FarmCmd::Show {
            server,
            local,
            json,
            toml,
        } => {
            let credentials = server.credentials()?;
            if toml {
                let reply = postroom_api::farm_config(&server.server, &credentials, local).await?;
                println!(
                    "# farm configuration version {}, made by {}",
                    reply.version, reply.changed_by
                );
                print!("{}", reply.config_toml);
                return Ok(ExitCode::SUCCESS);
            }
            let channel = postroom_api::connect_channel(&server.server, &credentials).await?;
            let reply = FarmAdminClient::new(channel)
                .get_farm(GetFarmRequest { local })
                .await
                .map_err(|s| postroom_api::ApiError::call(&server.server, "get farm", &s))?
                .into_inner();
            if json {
                print_json(&reply)?;
            } else {
                print!("{}", farm_table(&reply));
            }
        }
        FarmCmd::Set {
            server,
            settings,
            expected_version,
            json,
        } => {
            let update = farm_update(&settings)?;
            let channel = server.channel().await?;
            let reply = FarmAdminClient::new(channel)
                .update_farm(UpdateFarmRequest {
                    update: Some(update),
                    expected_version,
                })
                .await
                .map_err(|s| postroom_api::ApiError::call(&server.server, "update farm", &s))?
                .into_inner();
            if json {
                print_json(&reply)?;
            } else {
                print!("{}", changes_text(reply.version, &reply.changes));
            }
        }
        FarmCmd::History {
            server,
            limit,
            local,
            json,
        } => {
            let channel = server.channel().await?;
            let reply = FarmAdminClient::new(channel)
                .list_config_history(ListConfigHistoryRequest { local, limit })
                .await
                .map_err(|s| postroom_api::ApiError::call(&server.server, "config history", &s))?
                .into_inner();
            if json {
                print_json(&reply)?;
            } else {
                for v in &reply.versions {
                    println!(
                        "version {}  {}  {}",
                        v.version,
                        crate::admin_args::time_text(v.changed_at_ms),
                        v.changed_by
                    );
                    for c in &v.changes {
                        println!("  {c}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `postroom apply -f FILE [--dry-run]`: the diff against the live config,
/// then (unless a dry run) the same diff applied as one version, refused if
/// the config changed in between.
pub fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("-f {}: cannot read it", args.file.display()))?
    };
    runtime()?.block_on(async {
        let channel = args.server.channel().await?;
        let mut client = FarmAdminClient::new(channel);
        let call =
            |s: tonic::Status| postroom_api::ApiError::call(&args.server.server, "apply", &s);
        let plan = client
            .apply_config(ApplyConfigRequest {
                config_toml: text.clone(),
                dry_run: true,
                expected_version: None,
            })
            .await
            .map_err(call)?
            .into_inner();
        if !plan.ignored_sections.is_empty() && !args.json {
            eprintln!(
                "note: node settings are not part of the farm config and were ignored: {}",
                plan.ignored_sections.join(", ")
            );
        }
        if args.dry_run || plan.changes.is_empty() {
            if args.json {
                print_json(&plan)?;
            } else if plan.changes.is_empty() {
                print!("{}", changes_text(plan.base_version, &[]));
            } else {
                println!(
                    "would change farm configuration version {} (dry run):",
                    plan.base_version
                );
                for c in &plan.changes {
                    println!("  {c}");
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let done = client
            .apply_config(ApplyConfigRequest {
                config_toml: text,
                dry_run: false,
                expected_version: Some(plan.base_version),
            })
            .await
            .map_err(call)?
            .into_inner();
        if args.json {
            print_json(&done)?;
        } else {
            print!("{}", changes_text(done.version, &done.changes));
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_parse_into_one_update() {
        let u = farm_update(&[
            "incoming_enabled=off".into(),
            "incoming_domains=contoso.com, mail.contoso.com".into(),
            "safe_servers=10.0.0.0/8".into(),
            "max_message_size=20MB".into(),
            "ledger_retention=2d".into(),
            "display_address=".into(),
        ])
        .unwrap();
        assert_eq!(u.incoming_enabled, Some(false));
        assert_eq!(
            u.incoming_domains.unwrap().values,
            ["contoso.com", "mail.contoso.com"]
        );
        assert_eq!(u.safe_servers_mode.as_deref(), Some("listed"));
        assert_eq!(u.max_message_size_bytes, Some(20 * 1024 * 1024));
        assert_eq!(u.ledger_retention_seconds, Some(2 * 86_400));
        assert_eq!(u.display_address.as_deref(), Some(""));
        let kept = farm_update(&["quarantine_retention=keep".into()]).unwrap();
        assert_eq!(kept.quarantine_retention_seconds, Some(0));
        let month = farm_update(&["quarantine_retention=30d".into()]).unwrap();
        assert_eq!(month.quarantine_retention_seconds, Some(30 * 86_400));
        let all = farm_update(&["safe_servers=all".into()]).unwrap();
        assert_eq!(
            (all.safe_servers_mode.as_deref(), all.safe_servers),
            (Some("all"), None)
        );
    }

    #[test]
    fn bad_settings_name_the_key_and_the_keys() {
        let e = farm_update(&["colour=blue".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("unknown farm setting \"colour\" (keys: incoming_enabled"),
            "{e}"
        );
        let e = farm_update(&["max_recipients=many".into()]).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "max_recipients=many: not a number: invalid digit found in string"
        );
        let e = farm_update(&["incoming_enabled=maybe".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "incoming_enabled=maybe: expected true or false"
        );
        let e = farm_update(&["max_message_size".into()]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("\"max_message_size\": expected KEY=VALUE"));
    }
}

//! `postroom`: the command line. `serve` runs a node; `items` and
//! `quarantine list` inspect a node's libraries and quarantine; `config`
//! checks a config file or prints the embedded defaults; `cluster` shows the
//! farm's status and changes its membership, and `farm show` prints the
//! replicated configuration, over a node's admin gRPC (`cluster_cmd.rs`).

mod admin_args;
mod authentication;
mod cluster_cmd;
mod counters;
mod farm_cmd;
mod filing;
mod front_door;
mod handoff;
mod intake;
mod lease;
mod libraries;
mod library_cmd;
mod list_cmd;
mod list_items;
mod message_cmd;
mod node;
mod notices;
mod paused;
mod pipeline;
mod probe;
mod quarantine_expiry;
mod security;
mod sender;
mod sender_waits;
mod settings;
mod startup_config;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "postroom",
    version,
    about = "Files incoming email into document libraries, exactly once."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Where to find the node's configuration.
#[derive(Args, Clone)]
struct ConfigArgs {
    /// TOML config file; without it the embedded defaults are used.
    #[arg(long, short = 'c', env = "POSTROOM_CONFIG")]
    config: Option<PathBuf>,
    /// Override `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a node.
    Serve(ConfigArgs),
    /// List the items filed in a library, newest first (asks a running node).
    Items(library_cmd::ItemsArgs),
    /// A calendar's events: one per UID, at its latest update (asks a running node).
    Events(list_cmd::ListViewArgs),
    /// A discussion board's threads, the latest active first (asks a running node).
    Threads(list_cmd::ListViewArgs),
    /// Mail-enabled libraries: add, change, remove, show, list (asks a running node).
    #[command(subcommand)]
    Library(library_cmd::LibraryCmd),
    /// Quarantined messages: list, show, replay, delete (asks a running node).
    #[command(subcommand)]
    Quarantine(message_cmd::QuarantineCmd),
    /// Where a message is (asks a running node).
    #[command(subcommand)]
    Message(message_cmd::MessageCmd),
    /// Finished messages, newest first (asks a running node).
    Activity(message_cmd::ActivityArgs),
    /// Submit a message file to the farm (asks a running node).
    Send(message_cmd::SendArgs),
    /// Check a configuration or print the embedded defaults.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Show the farm's status, add or remove members (asks a running node).
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCmd),
    /// Show and change the farm settings, and their history (asks a running node).
    #[command(subcommand)]
    Farm(farm_cmd::FarmCmd),
    /// Apply a farm configuration file: show the diff, then apply it as one version.
    Apply(farm_cmd::ApplyArgs),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate the configuration and print it as the node would run it.
    Check(ConfigArgs),
    /// Print the embedded defaults as TOML.
    Defaults,
}

fn main() -> ExitCode {
    // One crypto provider for every TLS user (gRPC, SMTP STARTTLS): ring.
    // Fails only if one is installed already, which is then the one used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postroom: error: {e:#}");
            let (code, hint) = admin_args::failure(&e);
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let load = |a: &ConfigArgs| settings::load(a.config.as_deref(), a.data_dir.clone());
    let done = match cli.command {
        Cmd::Cluster(cmd) => return cluster_cmd::run(cmd),
        Cmd::Farm(cmd) => return farm_cmd::run(cmd),
        Cmd::Apply(args) => return farm_cmd::apply(args),
        Cmd::Library(cmd) => return library_cmd::run(cmd),
        Cmd::Items(args) => return library_cmd::items(args),
        Cmd::Events(args) => return list_cmd::events(args),
        Cmd::Threads(args) => return list_cmd::threads(args),
        Cmd::Quarantine(cmd) => return message_cmd::quarantine(cmd),
        Cmd::Message(cmd) => return message_cmd::message(cmd),
        Cmd::Activity(args) => return message_cmd::activity(args),
        Cmd::Send(args) => return message_cmd::send(args),
        Cmd::Serve(args) => {
            let loaded = load(&args)?;
            telemetry::init(&loaded.config.log);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(node::serve(loaded))
        }
        Cmd::Config(ConfigCmd::Check(args)) => {
            let loaded = load(&args)?;
            eprintln!("configuration from {} is valid", loaded.source);
            print!("{}", toml::to_string_pretty(&loaded.config)?);
            Ok(())
        }
        Cmd::Config(ConfigCmd::Defaults) => {
            print!(
                "{}",
                toml::to_string_pretty(&postroom_core::config::ConfigFile::embedded_defaults())?
            );
            Ok(())
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

//! `postroom`: the command line. `serve` runs a node; `items` and
//! `quarantine list` inspect a node's libraries and quarantine; `config`
//! checks a config file or prints the embedded defaults; `cluster` shows the
//! farm's status and changes its membership, and `farm show` prints the
//! replicated configuration, over a node's admin gRPC (`cluster_cmd.rs`).

mod admin_args;
mod cluster_cmd;
mod counters;
mod filing;
mod front_door;
mod handoff;
mod intake;
mod lease;
mod listing;
mod node;
mod pipeline;
mod probe;
mod security;
mod settings;
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
    /// List the items filed in a library.
    Items {
        /// The library's alias, e.g. shared-documents.
        alias: String,
        #[command(flatten)]
        config: ConfigArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Inspect the quarantine.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Check a configuration or print the embedded defaults.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Show the farm's status, add or remove members (asks a running node).
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCmd),
    /// Show the farm's replicated configuration (asks a running node).
    #[command(subcommand)]
    Farm(cluster_cmd::FarmCmd),
}

#[derive(Subcommand)]
enum QuarantineCmd {
    /// List quarantined messages with their reasons.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        json: bool,
    },
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
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let load = |a: &ConfigArgs| settings::load(a.config.as_deref(), a.data_dir.clone());
    let done = match cli.command {
        Cmd::Cluster(cmd) => return cluster_cmd::run(cmd),
        Cmd::Farm(cmd) => return cluster_cmd::run_farm(cmd),
        Cmd::Serve(args) => {
            let loaded = load(&args)?;
            telemetry::init(&loaded.config.log);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(node::serve(loaded))
        }
        Cmd::Items {
            alias,
            config,
            json,
        } => {
            let items = listing::items(&load(&config)?.config, &alias)?;
            print(json, &items, listing::items_table)
        }
        Cmd::Quarantine(QuarantineCmd::List { config, json }) => {
            let entries = listing::quarantine(&load(&config)?.config)?;
            print(json, &entries, listing::quarantine_table)
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

fn print<T: serde::Serialize>(
    json: bool,
    rows: &[T],
    table: fn(&[T]) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
    } else {
        print!("{}", table(rows));
    }
    Ok(())
}

//! Wiring a node's SMTP front door: the farm's mail policy read from the
//! replicated configuration at every connection and `RCPT`, the spool in
//! the node's drop folder (the shared one when configured), STARTTLS, and
//! the hand-off of each committed message to the drop-folder watcher so the
//! pipeline files it at once.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use postroom_cluster::Farm;
use postroom_core::config::{ConfigFile, FarmSettings};
use postroom_core::net::Admission;
use postroom_core::route::{route_recipient, RecipientRoute, Refusal};
use postroom_dropfolder::{DropFolder, ReadyFile};
use postroom_smtp::spool::Spool;
use postroom_smtp::tls::{self, CertificateSource};
use postroom_smtp::{FarmPolicy, MessageLimits, RcptDecision, RecipientCheck, ServerSettings};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The farm's mail policy, from the replicated configuration.
struct ReplicatedPolicy {
    farm: Arc<Farm>,
}

impl RecipientCheck for ReplicatedPolicy {
    fn check(&self, address: &str) -> RcptDecision {
        self.farm.read(|state| match state.config() {
            None => RcptDecision::Unknown {
                reason: "the farm has no configuration yet".into(),
            },
            Some(config) if !config.farm.incoming_enabled => RcptDecision::Paused {
                reason: "incoming e-mail is turned off for this farm; try again later".into(),
            },
            Some(config) => match route_recipient(config, address) {
                RecipientRoute::Library(_) => RcptDecision::Accept,
                RecipientRoute::Foreign => RcptDecision::Relay,
                RecipientRoute::Refused(reason) => RcptDecision::Unknown {
                    reason: Refusal {
                        recipient: address.to_string(),
                        reason,
                    }
                    .to_string(),
                },
            },
        })
    }
}

impl FarmPolicy for ReplicatedPolicy {
    fn admit(&self, ip: IpAddr) -> Admission {
        self.farm.read(|state| match state.config() {
            Some(config) => config.farm.admit(ip),
            None => Admission::Refused {
                reason: "the farm has no configuration yet".into(),
            },
        })
    }

    fn message_limits(&self) -> MessageLimits {
        let limits = |farm: &FarmSettings| MessageLimits {
            max_message_size: farm.max_message_size.0,
            max_recipients: farm.max_recipients,
        };
        self.farm.read(|state| match state.config() {
            Some(config) => limits(&config.farm),
            None => limits(&FarmSettings::default()),
        })
    }
}

/// Start the node's spool in the drop folder (SMTP and gRPC `Submit` write
/// there); every message it commits is offered to the pipeline at once.
pub fn start_spool(drop_path: &Path, node: u64, drop_folder: DropFolder) -> anyhow::Result<Spool> {
    let (spool, mut committed) = Spool::start(drop_path, node)?;
    tokio::spawn(async move {
        while let Some(c) = committed.recv().await {
            let file = ReadyFile {
                path: c.path,
                size: c.size,
                modified: c.modified,
            };
            drop_folder.offer(file).await;
        }
    });
    Ok(spool)
}

/// A running SMTP listener.
pub struct FrontDoor {
    pub address: SocketAddr,
    pub task: JoinHandle<()>,
}

/// Bind `[smtp] listen` and serve until `shutdown`; `None` when the listener is disabled.
pub async fn start(
    cfg: &ConfigFile,
    farm: Arc<Farm>,
    spool: Spool,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<FrontDoor>> {
    let smtp = &cfg.smtp;
    if !smtp.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(&smtp.listen)
        .await
        .with_context(|| format!("smtp.listen {}: cannot bind", smtp.listen))?;
    let address = listener.local_addr()?;
    let hostname = smtp
        .hostname
        .clone()
        .unwrap_or_else(postroom_smtp::default_hostname);
    let source = match (&smtp.tls_certificate, &smtp.tls_key) {
        (Some(certificate), Some(key)) => CertificateSource::Files { certificate, key },
        _ => CertificateSource::SelfSigned {
            hostname: &hostname,
        },
    };
    let acceptor = tls::acceptor(source)?;
    let settings = ServerSettings {
        hostname,
        max_connections: smtp.max_connections,
        max_connections_per_ip: smtp.max_connections_per_ip,
        max_line_length: smtp.max_line_length,
        max_session_size: smtp.max_session_size.0,
        max_errors: smtp.max_errors,
        idle_timeout: smtp.idle_timeout.0,
        command_timeout: smtp.command_timeout.0,
        shutdown_grace: smtp.shutdown_grace.0,
        tls: Some(acceptor),
    };
    let policy = Arc::new(ReplicatedPolicy { farm });
    let task = tokio::spawn(postroom_smtp::serve(
        listener, settings, policy, spool, shutdown,
    ));
    Ok(Some(FrontDoor { address, task }))
}

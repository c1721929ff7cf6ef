//! The SMTP listener: accepts connections, applies the farm's safe-server
//! and deny lists (`554 5.7.1`) and the connection limits (`421 4.3.2`),
//! runs one session task per connection, and on shutdown drains: new
//! connections get `421 4.3.2`, transactions in flight get until
//! `shutdown_grace` to finish, then whatever is left is closed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use postroom_core::net::Admission;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use crate::connection::{self, Context};
use crate::gate::ConnectionGate;
use crate::spool::Spool;
use crate::{PeerInfo, RecipientCheck, SessionConfig};

/// The farm's current mail policy, as the listener needs it (the binary
/// reads it from the replicated configuration).
pub trait FarmPolicy: RecipientCheck + Send + Sync {
    /// Safe-server and deny lists.
    fn admit(&self, ip: IpAddr) -> Admission;
    /// Size and recipient limits for a new session.
    fn message_limits(&self) -> MessageLimits;
}

/// Farm-wide limits, fixed for one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    pub max_message_size: u64,
    pub max_recipients: usize,
}

/// The node's listener settings.
#[derive(Clone)]
pub struct ServerSettings {
    pub hostname: String,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_line_length: usize,
    pub max_session_size: u64,
    pub max_errors: u32,
    pub idle_timeout: Duration,
    pub command_timeout: Duration,
    pub shutdown_grace: Duration,
    /// STARTTLS is offered when set.
    pub tls: Option<TlsAcceptor>,
}

/// Serve SMTP on `listener` until `shutdown`, then drain (see the module doc).
pub async fn serve(
    listener: TcpListener,
    settings: ServerSettings,
    policy: Arc<dyn FarmPolicy>,
    spool: Spool,
    shutdown: CancellationToken,
) {
    let settings = Arc::new(settings);
    let gate = ConnectionGate::new(settings.max_connections, settings.max_connections_per_ip);
    let ctx = Arc::new(Context {
        settings: settings.clone(),
        policy,
        spool,
        draining: CancellationToken::new(),
    });
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => start(tcp, addr, &ctx, &gate, &mut sessions),
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    warn!(error = %e, "smtp: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    info!(sessions = sessions.len(), grace = ?settings.shutdown_grace,
        "smtp: shutting down; refusing new connections, finishing transactions in flight");
    ctx.draining.cancel();
    let grace = tokio::time::sleep(settings.shutdown_grace);
    tokio::pin!(grace);
    while !sessions.is_empty() {
        tokio::select! {
            () = &mut grace => {
                warn!(sessions = sessions.len(), "smtp: closing sessions still open at the end of smtp.shutdown_grace");
                sessions.abort_all();
                break;
            }
            _ = sessions.join_next() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let text = format!("421 4.3.2 {} shutting down, try again later\r\n", settings.hostname);
                    tokio::spawn(refuse(tcp, text));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    while sessions.join_next().await.is_some() {}
    info!("smtp: stopped");
}

fn start(
    tcp: TcpStream,
    addr: SocketAddr,
    ctx: &Arc<Context>,
    gate: &ConnectionGate,
    sessions: &mut JoinSet<()>,
) {
    let settings = &ctx.settings;
    let peer = PeerInfo {
        ip: addr.ip(),
        port: addr.port(),
    };
    if let Admission::Refused { reason } = ctx.policy.admit(peer.ip) {
        warn!(client_ip = %peer.ip, reason = %reason, "smtp: connection refused");
        let text = format!(
            "554 5.7.1 {} access denied for {}\r\n",
            settings.hostname, peer.ip
        );
        tokio::spawn(refuse(tcp, text));
        return;
    }
    let ticket = match gate.enter(peer.ip) {
        Ok(ticket) => ticket,
        Err(reason) => {
            warn!(client_ip = %peer.ip, reason = %reason, "smtp: connection refused");
            let text = format!(
                "421 4.3.2 {} {reason}, try again later\r\n",
                settings.hostname
            );
            tokio::spawn(refuse(tcp, text));
            return;
        }
    };
    let limits = ctx.policy.message_limits();
    let config = SessionConfig {
        hostname: settings.hostname.clone(),
        max_message_size: limits.max_message_size,
        max_recipients: limits.max_recipients,
        max_line_length: settings.max_line_length,
        max_session_size: settings.max_session_size,
        max_errors: settings.max_errors,
        starttls: settings.tls.is_some(),
    };
    let span = info_span!("smtp_session", client_ip = %peer.ip, client_port = peer.port);
    let ctx = ctx.clone();
    sessions.spawn(
        async move {
            let _ticket = ticket;
            connection::run(tcp, peer, ctx, config).await;
        }
        .instrument(span),
    );
}

/// Answer a connection we will not serve with one reply, then close it.
async fn refuse(mut tcp: TcpStream, reply: String) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = tcp.write_all(reply.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

/// The system's host name (for the greeting when `smtp.hostname` is unset).
pub fn default_hostname() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

//! One SMTP connection: moves bytes between the socket (plain, or TLS after
//! STARTTLS) and the sans-IO [`Session`], writes message drafts into the
//! spool and answers after they are durable, applies the idle and command
//! timeouts, and logs one line per transaction.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postroom_core::MessageKey;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::head::drop_file_head;
use crate::server::{FarmPolicy, ServerSettings};
use crate::spool::{Draft, Spool};
use crate::{Action, PeerInfo, Session, SessionConfig, StoreOutcome, TransactionLog};

/// Size of one socket read.
const READ_SIZE: usize = 64 * 1024;

/// What every connection of one listener shares.
pub(crate) struct Context {
    pub settings: Arc<ServerSettings>,
    pub policy: Arc<dyn FarmPolicy>,
    pub spool: Spool,
    /// Cancelled when the node starts shutting down.
    pub draining: CancellationToken,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    async fn upgrade(self, acceptor: &TlsAcceptor) -> io::Result<Stream> {
        match self {
            Stream::Plain(s) => Ok(Stream::Tls(Box::new(acceptor.accept(s).await?))),
            Stream::Tls(_) => Err(io::Error::other("already under tls")),
        }
    }

    async fn close(&mut self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        };
    }
}

/// Write and clear the queued replies; a client that does not read them
/// within `limit` is treated as gone.
async fn flush(stream: &mut Stream, out: &mut Vec<u8>, limit: Duration) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let result = within(limit, stream.write_all(out)).await;
    out.clear();
    result
}

/// `op`, or a timeout error after `limit`.
async fn within<T>(
    limit: Duration,
    op: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// The state of the transaction in progress, beside the session's own.
struct Transaction {
    draft: Option<Draft>,
    key: Option<MessageKey>,
    started: Instant,
}

/// Serve one connection until the session closes it.
pub(crate) async fn run(tcp: TcpStream, peer: PeerInfo, ctx: Arc<Context>, config: SessionConfig) {
    let settings = ctx.settings.clone();
    let mut session = Session::new(config, peer);
    let mut out = Vec::with_capacity(1024);
    session.greeting().write_to(&mut out);
    let mut stream = Stream::Plain(tcp);
    let mut buf = vec![0u8; READ_SIZE];
    let mut tx = Transaction {
        draft: None,
        key: None,
        started: Instant::now(),
    };
    let mut last_input = Instant::now();
    let mut line_started: Option<Instant> = None;
    let mut told_shutdown = false;
    let mut at_eof = false;
    // Writes, the TLS handshake and the close may take no longer than an idle wait.
    let limit = settings.idle_timeout;
    loop {
        while let Some(action) = session.next_action(ctx.policy.as_ref()) {
            match action {
                Action::Reply(reply) => reply.write_to(&mut out),
                Action::StartTls => {
                    let Some(acceptor) = settings.tls.clone() else {
                        return;
                    };
                    if flush(&mut stream, &mut out, limit).await.is_err() {
                        return;
                    }
                    stream = match stream.upgrade(&acceptor).await {
                        Ok(s) => s,
                        Err(e) => {
                            debug!(client_ip = %peer.ip, error = %e, "tls handshake failed");
                            return;
                        }
                    };
                    session.tls_established();
                }
                Action::BeginMessage(envelope) => {
                    let id = ctx.spool.next_id();
                    let now = OffsetDateTime::now_utc();
                    let head = drop_file_head(&envelope, &peer, &settings.hostname, &id, now);
                    let draft = ctx
                        .spool
                        .draft(&id, head, &envelope.sender, &envelope.recipients);
                    tx.draft = Some(draft);
                }
                Action::Content(bytes) => {
                    if let Some(draft) = tx.draft.as_mut() {
                        draft.write(&bytes).await;
                    }
                }
                Action::EndMessage => {
                    let committed = match tx.draft.take() {
                        Some(draft) => ctx.spool.commit(draft).await,
                        None => Err("the session ended a message it never began".into()),
                    };
                    let outcome = match committed {
                        Ok(committed) => {
                            tx.key = Some(committed.key);
                            StoreOutcome::Stored {
                                id: committed.key.short(),
                            }
                        }
                        Err(reason) => {
                            // The detail (paths, errno) is for the log, not the client.
                            warn!(client_ip = %peer.ip, reason = %reason, "cannot store a message; answering 451");
                            StoreOutcome::Failed {
                                reason: "cannot store the message now, try again later".into(),
                            }
                        }
                    };
                    session.stored(outcome);
                }
                Action::AbortMessage => {
                    if let Some(draft) = tx.draft.take() {
                        ctx.spool.discard(draft);
                    }
                }
                Action::Transaction(log) => {
                    log_transaction(&peer, &log, tx.key.take(), tx.started.elapsed());
                    tx.started = Instant::now();
                }
                Action::Close => {
                    let _ = flush(&mut stream, &mut out, limit).await;
                    let _ = tokio::time::timeout(limit, stream.close()).await;
                    return;
                }
            }
        }
        if at_eof {
            // The session had its eof and closed nothing: do not spin.
            return;
        }
        if flush(&mut stream, &mut out, limit).await.is_err() {
            session.eof();
            at_eof = true;
            continue;
        }
        let now = Instant::now();
        let mut deadline = last_input + settings.idle_timeout;
        if session.has_partial_input() {
            let started = *line_started.get_or_insert(now);
            deadline = deadline.min(started + settings.command_timeout);
        } else {
            line_started = None;
        }
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(n) if n > 0 => {
                    last_input = Instant::now();
                    if !session.in_transaction() {
                        tx.started = last_input;
                    }
                    session.receive(buf.get(..n).unwrap_or_default());
                }
                _ => {
                    session.eof();
                    at_eof = true;
                }
            },
            () = tokio::time::sleep_until(deadline.into()) => session.timed_out(),
            () = ctx.draining.cancelled(), if !told_shutdown => {
                told_shutdown = true;
                session.shutting_down();
            }
        }
    }
}

/// The per-transaction log line, like the IIS SMTP log administrators know.
fn log_transaction(peer: &PeerInfo, log: &TransactionLog, key: Option<MessageKey>, took: Duration) {
    let refused: Vec<String> = log
        .refused
        .iter()
        .map(|(rcpt, reply)| format!("{rcpt}: {reply}"))
        .collect();
    info!(
        client_ip = %peer.ip,
        helo = %log.helo,
        sender = %log.sender,
        recipients = %log.recipients.join(","),
        refused = %refused.join("; "),
        size = log.size,
        reply = %log.reply,
        message_key = %key.map(|k| k.to_string()).unwrap_or_default(),
        duration_ms = took.as_millis() as u64,
        tls = log.tls,
        "smtp transaction"
    );
}

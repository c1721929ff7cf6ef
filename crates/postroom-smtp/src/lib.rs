//! postroom-smtp: the SMTP front door of a node.
//!
//! This file owns the crate's public value types shared by the protocol
//! session (sans-IO) and the tokio server: [`SessionConfig`], [`Action`],
//! [`Reply`], [`Envelope`], [`RcptDecision`] / [`RecipientCheck`],
//! [`TransactionLog`] and [`StoreOutcome`].
//!
//! Layout:
//! - `session`: the RFC 5321 session as a state machine: bytes in, [`Action`]s out (pure).
//! - `command`: parsing one command line (pure).
//! - `content`: the DATA dot-decoder and BDAT chunk reader (pure).
//! - `head`: the drop-file head (envelope lines, our `Received:`) (pure).
//! - `gate`: connection limits in all and per client IP (pure).
//! - `spool`: drafts and the group-committing durable writer (IO).
//! - `tls`: the rustls acceptor from PEM files or a self-signed certificate.
//! - `connection`: one connection's IO loop around a session (tokio).
//! - `server`: the listener, admission, limits and draining shutdown (tokio).

pub mod client;
mod command;
mod connection;
mod content;
mod error;
mod gate;
pub mod head;
mod reply;
mod server;
mod session;
pub mod spool;
pub mod tls;

#[cfg(test)]
mod test_rng;

use std::net::IpAddr;

pub use error::SmtpError;
pub use reply::Reply;
pub use server::{default_hostname, serve, FarmPolicy, MessageLimits, ServerSettings};
pub use session::{Phase, Session};

/// Limits and identity one session runs with (node settings plus the
/// farm's replicated policy, fixed for the session's life).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our host name: greeting, EHLO reply and `Received:` header.
    pub hostname: String,
    /// Largest message accepted (advertised in `SIZE`); larger → `552 5.3.4`.
    pub max_message_size: u64,
    /// Most recipients accepted per transaction; more → `452 4.5.3`.
    pub max_recipients: usize,
    /// Longest command line in bytes, CRLF included; longer → `500 5.5.2`.
    pub max_line_length: usize,
    /// Most bytes a client may send in one session; more → `421 4.7.0` and close.
    pub max_session_size: u64,
    /// Bad commands tolerated before `421 4.7.0` and close.
    pub max_errors: u32,
    /// Whether `STARTTLS` is offered (a TLS acceptor is configured).
    pub starttls: bool,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    pub ip: IpAddr,
    pub port: u16,
}

/// What the IO layer must do next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue this reply. Replies may be written in batches (PIPELINING):
    /// the IO layer must flush what it queued before it waits for input,
    /// before [`Action::StartTls`], and before [`Action::Close`].
    Reply(Reply),
    /// The `220` for STARTTLS was queued; flush, run the TLS handshake and
    /// call [`Session::tls_established`] (or close on failure). Input
    /// received after the STARTTLS line was discarded (CVE-2011-0411).
    StartTls,
    /// A message's content starts (DATA accepted with 354, or the first BDAT chunk).
    BeginMessage(Envelope),
    /// Message bytes, in order: dot-unstuffed for DATA, verbatim for BDAT;
    /// line endings exactly as the client sent them.
    Content(Vec<u8>),
    /// The content is complete. Make it durable, then call
    /// [`Session::stored`]; the session produces nothing until then.
    EndMessage,
    /// Discard the message begun by [`Action::BeginMessage`] (too large,
    /// client gone, RSET); its reply, if any, follows as a `Reply`.
    AbortMessage,
    /// One transaction ended (stored, refused, aborted or reset): log it.
    Transaction(TransactionLog),
    /// Flush queued replies and close the connection.
    Close,
}

/// The envelope of one transaction, as accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM` address without brackets; empty for the null sender `<>`.
    pub sender: String,
    /// Accepted `RCPT TO` addresses, in order, without brackets.
    pub recipients: Vec<String>,
    /// The EHLO/HELO argument.
    pub helo: String,
    /// `SMTP` (HELO), `ESMTP` (EHLO), `ESMTPS` (EHLO over TLS); with `UTF8` prefixed when SMTPUTF8 was requested (`UTF8SMTP`, `UTF8SMTPS`), as RFC 3848/6531 name them for `Received: ... with`.
    pub protocol: String,
    /// `SIZE=` the client declared on MAIL, if any.
    pub declared_size: Option<u64>,
    /// `BODY=8BITMIME` (or `BINARYMIME`) was given.
    pub eight_bit: bool,
    /// `SMTPUTF8` was given on MAIL.
    pub smtputf8: bool,
}

/// The session's verdict on one `RCPT TO` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    /// One of ours: `250 2.1.5`.
    Accept,
    /// Not in the farm's incoming domains: `550 5.7.1` (never an open relay).
    Relay,
    /// In our domains, but no enabled library has the alias: `550 5.1.1` with this reason.
    Unknown { reason: String },
    /// The farm does not take mail now (incoming e-mail turned off):
    /// `450 4.3.2` with this reason, so the sender keeps it and retries.
    Paused { reason: String },
}

/// Decides recipients at `RCPT` time (the farm's routing; pure).
pub trait RecipientCheck {
    fn check(&self, address: &str) -> RcptDecision;
}

/// What the IO layer reports after [`Action::EndMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Durable (fsync'd); `id` names it in the `250 2.0.0` reply (e.g. the message key, short).
    Stored { id: String },
    /// Could not be stored: `451 4.3.0` with this reason; the client will retry.
    Failed { reason: String },
}

/// One transaction, for the per-transaction log line (the IO layer adds
/// client IP, message key and duration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionLog {
    pub helo: String,
    pub sender: String,
    /// Recipients accepted.
    pub recipients: Vec<String>,
    /// Recipients refused, with the reply each got (e.g. `550 5.1.1 ...`).
    pub refused: Vec<(String, String)>,
    /// Message bytes received (after dot-unstuffing); 0 if no content came.
    pub size: u64,
    /// The final reply line of the transaction (e.g. `250 2.0.0 queued as ...`, `552 5.3.4 ...`, or `RSET` / `QUIT` / `connection closed` when abandoned).
    pub reply: String,
    /// Whether the session was under TLS.
    pub tls: bool,
}

//! The RFC 5321 session as a sans-IO state machine: client bytes in
//! through [`Session::receive`], [`Action`]s out of [`Session::next_action`].
//! This file owns the input buffer, the session's modes (command lines,
//! DATA/BDAT content, waiting for the store or the TLS handshake) and its
//! ends (QUIT, EOF, timeout, shutdown, limits); the command handlers and
//! the transaction bookkeeping live in `session_transaction.rs`.
//! No IO, no clock.

use std::collections::VecDeque;

use crate::command;
use crate::content::{ChunkReader, DotDecoder};
use crate::{Action, PeerInfo, RecipientCheck, Reply, SessionConfig, StoreOutcome};

#[path = "session_transaction.rs"]
mod transaction;

use transaction::{Helo, Transaction};

/// What the session is doing, for the IO layer's timers and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading command lines (also while a STARTTLS handshake runs).
    Command,
    /// Reading message content (DATA, or a BDAT chunk).
    Content,
    /// [`Action::EndMessage`] was emitted; waiting for [`Session::stored`].
    AwaitingStore,
    /// [`Action::Close`] was emitted (or is queued); nothing more will happen.
    Closed,
}

/// Internal mode; finer than [`Phase`].
#[derive(Debug)]
enum Mode {
    Command,
    Data(DotDecoder),
    Chunk(Chunk),
    AwaitingStore,
    AwaitingTls,
    Closed,
}

/// A BDAT chunk being consumed; `refusal` is the reply of a refused BDAT
/// whose octets are still read so the stream stays in sync.
#[derive(Debug)]
struct Chunk {
    reader: ChunkReader,
    size: u64,
    last: bool,
    refusal: Option<Reply>,
}

/// One SMTP session (one connection). See the crate docs for the IO loop.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    peer: PeerInfo,
    /// Received, not yet processed input is `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    queue: VecDeque<Action>,
    mode: Mode,
    /// Inside a too-long command line: drop input up to the next LF.
    discarding_line: bool,
    helo: Option<Helo>,
    txn: Option<Transaction>,
    tls: bool,
    errors: u32,
    received: u64,
    over_session_limit: bool,
    eof: bool,
    timed_out: bool,
    shutting_down: bool,
}

impl Session {
    pub fn new(config: SessionConfig, peer: PeerInfo) -> Session {
        Session {
            config,
            peer,
            buf: Vec::new(),
            start: 0,
            queue: VecDeque::new(),
            mode: Mode::Command,
            discarding_line: false,
            helo: None,
            txn: None,
            tls: false,
            errors: 0,
            received: 0,
            over_session_limit: false,
            eof: false,
            timed_out: false,
            shutting_down: false,
        }
    }

    /// The `220` greeting to send when the connection opens.
    pub fn greeting(&self) -> Reply {
        Reply::bare(220, &format!("{} ESMTP postroom", self.config.hostname))
    }

    /// Appends client bytes (counted against `max_session_size`). Ignored
    /// after close and while a STARTTLS handshake is pending.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.mode, Mode::Closed) || self.over_session_limit {
            return;
        }
        self.received = self.received.saturating_add(bytes.len() as u64);
        if self.received > self.config.max_session_size {
            self.over_session_limit = true;
            self.clear_input();
            return;
        }
        if matches!(self.mode, Mode::AwaitingTls) {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The client closed its sending side: what is buffered is still
    /// processed, then the session ends (a partial line is dropped).
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// The IO timer fired: the next actions are `421 4.4.2` and Close
    /// (after the store answer, if one is awaited).
    pub fn timed_out(&mut self) {
        self.timed_out = true;
    }

    /// The node is stopping: `421 4.3.2` and Close as soon as no transaction is open.
    pub fn shutting_down(&mut self) {
        self.shutting_down = true;
    }

    /// The TLS handshake after [`Action::StartTls`] succeeded: everything
    /// learnt before is forgotten (RFC 3207 §4.2); the client must EHLO again.
    pub fn tls_established(&mut self) {
        if !matches!(self.mode, Mode::AwaitingTls) {
            return;
        }
        self.tls = true;
        self.helo = None;
        self.txn = None;
        self.clear_input();
        self.mode = Mode::Command;
    }

    /// The answer to [`Action::EndMessage`].
    pub fn stored(&mut self, outcome: StoreOutcome) {
        if !matches!(self.mode, Mode::AwaitingStore) {
            return;
        }
        self.mode = Mode::Command;
        let reply = match outcome {
            StoreOutcome::Stored { id } => Reply::new(250, "2.0.0", &format!("queued as {id}")),
            StoreOutcome::Failed { reason } => Reply::new(451, "4.3.0", &reason),
        };
        self.end_transaction(Some(reply), None);
    }

    pub fn phase(&self) -> Phase {
        match self.mode {
            Mode::Command | Mode::AwaitingTls => Phase::Command,
            Mode::Data(_) | Mode::Chunk(_) => Phase::Content,
            Mode::AwaitingStore => Phase::AwaitingStore,
            Mode::Closed => Phase::Closed,
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether a transaction is open (a `MAIL FROM` was accepted and has not
    /// ended yet).
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Whether unprocessed input is buffered: after `next_action` returned
    /// `None` in [`Phase::Command`], that is the start of a command line.
    pub fn has_partial_input(&self) -> bool {
        self.start < self.buf.len() || self.discarding_line
    }

    /// The next thing the IO layer must do; `None` when more input (or
    /// [`Session::stored`], or [`Session::tls_established`]) is needed,
    /// and forever after [`Action::Close`].
    pub fn next_action(&mut self, recipients: &dyn RecipientCheck) -> Option<Action> {
        loop {
            if let Some(action) = self.queue.pop_front() {
                return Some(action);
            }
            if !self.step(recipients) {
                return None;
            }
        }
    }

    /// Makes progress: queues actions, consumes input or changes mode.
    /// `false` when nothing can be done now.
    fn step(&mut self, recipients: &dyn RecipientCheck) -> bool {
        if matches!(self.mode, Mode::Closed | Mode::AwaitingStore) {
            return false;
        }
        if self.over_session_limit {
            self.close(
                Some(Reply::new(421, "4.7.0", "session size limit exceeded")),
                None,
            );
            return true;
        }
        if self.timed_out {
            let text = format!("{} timeout, closing connection", self.config.hostname);
            self.close(Some(Reply::new(421, "4.4.2", &text)), Some("timeout"));
            return true;
        }
        match self.mode {
            Mode::Command => self.step_command(recipients),
            Mode::Data(_) => self.step_data(),
            Mode::Chunk(_) => self.step_chunk(),
            Mode::AwaitingTls | Mode::AwaitingStore | Mode::Closed => self.at_eof(),
        }
    }

    /// No input to work on: at EOF the session ends, otherwise wait.
    fn at_eof(&mut self) -> bool {
        if self.eof {
            self.close(None, Some("connection closed"));
            true
        } else {
            false
        }
    }

    fn input(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.clear_input();
        }
    }

    fn clear_input(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    fn step_command(&mut self, recipients: &dyn RecipientCheck) -> bool {
        if self.shutting_down && self.txn.is_none() {
            let text = format!("{} shutting down", self.config.hostname);
            self.close(Some(Reply::new(421, "4.3.2", &text)), None);
            return true;
        }
        let input = self.input();
        let newline = input.iter().position(|&b| b == b'\n');
        let len = input.len();
        if self.discarding_line {
            if len == 0 {
                return self.at_eof();
            }
            self.discarding_line = newline.is_none();
            self.consume(newline.map_or(len, |i| i + 1));
            return true;
        }
        match newline {
            Some(i) if i + 1 > self.config.max_line_length => {
                self.consume(i + 1);
                self.error(Reply::new(500, "5.5.2", "line too long"));
            }
            Some(i) => {
                let parsed = command::parse_line(&self.input()[..i]);
                self.consume(i + 1);
                match parsed {
                    Ok(cmd) => self.execute(cmd, recipients),
                    Err(reply) => self.error(reply),
                }
            }
            None if len > 0 && len >= self.config.max_line_length => {
                self.consume(len);
                self.discarding_line = true;
                self.error(Reply::new(500, "5.5.2", "line too long"));
            }
            None => return self.at_eof(),
        }
        true
    }

    fn step_data(&mut self) -> bool {
        let Mode::Data(decoder) = &mut self.mode else {
            return false;
        };
        let input = self.buf.get(self.start..).unwrap_or_default();
        if input.is_empty() {
            return self.at_eof();
        }
        let mut content = Vec::new();
        let used = decoder.decode(input, &mut content);
        let done = decoder.is_done();
        self.consume(used);
        self.add_content(content);
        if done {
            self.mode = Mode::Command;
            self.finish_message();
        }
        true
    }

    fn step_chunk(&mut self) -> bool {
        let Mode::Chunk(chunk) = &mut self.mode else {
            return false;
        };
        if chunk.reader.is_complete() {
            let Mode::Chunk(chunk) = std::mem::replace(&mut self.mode, Mode::Command) else {
                return false;
            };
            match chunk.refusal {
                Some(reply) => self.queue.push_back(Action::Reply(reply)),
                None if chunk.last => self.finish_message(),
                None => self.chunk_done(chunk.size),
            }
            return true;
        }
        let input = self.buf.get(self.start..).unwrap_or_default();
        if input.is_empty() {
            return self.at_eof();
        }
        let taken = chunk.reader.take(input);
        let used = taken.len();
        let content = if chunk.refusal.is_none() {
            Some(taken.to_vec())
        } else {
            None
        };
        self.consume(used);
        if let Some(content) = content {
            self.add_content(content);
        }
        true
    }

    /// Queues an error reply and counts it; past `max_errors` the session ends.
    fn error(&mut self, reply: Reply) {
        self.queue.push_back(Action::Reply(reply));
        self.count_error();
    }

    /// Counts one error whose reply is already queued.
    fn count_error(&mut self) {
        self.errors = self.errors.saturating_add(1);
        if self.errors > self.config.max_errors {
            self.close(Some(Reply::new(421, "4.7.0", "too many errors")), None);
        }
    }

    /// Ends the session: AbortMessage if a message is open, `reply`, the
    /// transaction log if one is open (with `reason`, else the reply line), Close.
    fn close(&mut self, reply: Option<Reply>, reason: Option<&str>) {
        self.end_transaction(reply, reason);
        self.queue.push_back(Action::Close);
        self.mode = Mode::Closed;
        self.discarding_line = false;
        self.buf = Vec::new();
        self.start = 0;
    }

    /// Queues the STARTTLS go-ahead; input pipelined after the command is
    /// discarded so it can never run inside TLS (CVE-2011-0411).
    fn start_tls(&mut self) {
        self.queue.push_back(Action::Reply(Reply::new(
            220,
            "2.0.0",
            "ready to start TLS",
        )));
        self.clear_input();
        self.queue.push_back(Action::StartTls);
        self.mode = Mode::AwaitingTls;
    }

    fn start_data(&mut self) {
        self.mode = Mode::Data(DotDecoder::new());
    }

    fn start_chunk(&mut self, size: u64, last: bool, refusal: Option<Reply>) {
        self.mode = Mode::Chunk(Chunk {
            reader: ChunkReader::new(size),
            size,
            last,
            refusal,
        });
    }
}

#[cfg(test)]
#[path = "session_test_support.rs"]
mod test_support;

#[cfg(test)]
#[path = "session_test.rs"]
mod tests;

#[cfg(test)]
#[path = "session_data_test.rs"]
mod data_tests;

#[cfg(test)]
#[path = "session_bdat_test.rs"]
mod bdat_tests;

#[cfg(test)]
#[path = "session_limits_test.rs"]
mod limits_tests;

#[cfg(test)]
#[path = "session_fuzz_test.rs"]
mod fuzz_tests;

//! The command handlers of [`Session`] (EHLO/HELO, MAIL, RCPT, DATA, BDAT,
//! RSET, QUIT, STARTTLS, ...) and the mail transaction they build: its
//! [`Envelope`], content size accounting (the `552` limit), and the
//! [`TransactionLog`] emitted exactly once when a transaction ends.

use super::{Mode, Session};
use crate::command::{self, Body, Command, MailArgs};
use crate::{Action, Envelope, RcptDecision, RecipientCheck, Reply, TransactionLog};

/// Refused recipients kept for the log of one transaction (the rest are
/// still refused, just not listed).
const MAX_REFUSED_LOGGED: usize = 100;

const TOO_BIG: &str = "message size exceeds fixed maximum message size";

/// What the client said in EHLO/HELO.
#[derive(Debug)]
pub(super) struct Helo {
    name: String,
    extended: bool,
}

/// An open transaction: from an accepted MAIL to its end.
#[derive(Debug)]
pub(super) struct Transaction {
    sender: String,
    recipients: Vec<String>,
    refused: Vec<(String, String)>,
    declared_size: Option<u64>,
    body: Body,
    smtputf8: bool,
    /// Content octets received (after dot-unstuffing), discarded ones included.
    size: u64,
    /// BeginMessage was emitted.
    begun: bool,
    /// BeginMessage was emitted, and neither EndMessage nor AbortMessage yet.
    open: bool,
    /// The content went over `max_message_size`: it is being discarded.
    oversize: bool,
}

impl Transaction {
    fn new(mail: MailArgs) -> Transaction {
        Transaction {
            sender: mail.sender,
            recipients: Vec::new(),
            refused: Vec::new(),
            declared_size: mail.size,
            body: mail.body,
            smtputf8: mail.smtputf8,
            size: 0,
            begun: false,
            open: false,
            oversize: false,
        }
    }
}

impl Session {
    pub(super) fn execute(&mut self, cmd: Command, recipients: &dyn RecipientCheck) {
        match cmd {
            Command::Ehlo(name) => self.hello(name, true),
            Command::Helo(name) => self.hello(name, false),
            Command::Mail(args) => self.mail(&args),
            Command::Rcpt(args) => self.rcpt(&args, recipients),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.end_transaction(Some(Reply::new(250, "2.0.0", "ok")), Some("RSET"))
            }
            Command::Noop => self.reply(Reply::new(250, "2.0.0", "ok")),
            Command::Quit => self.close(Some(Reply::new(221, "2.0.0", "bye")), Some("QUIT")),
            Command::Vrfy => self.reply(Reply::new(
                252,
                "2.5.2",
                "cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Help => self.reply(Reply::new(
                214,
                "2.0.0",
                "commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS",
            )),
            Command::Expn => self.error(Reply::new(502, "5.5.1", "EXPN not supported")),
            Command::StartTls => self.starttls(),
        }
    }

    fn reply(&mut self, reply: Reply) {
        self.queue.push_back(Action::Reply(reply));
    }

    fn hello(&mut self, name: String, extended: bool) {
        let first = format!("{} hello [{}]", self.config.hostname, self.peer.ip);
        let reply = if extended {
            let mut lines = vec![
                first,
                "PIPELINING".to_string(),
                format!("SIZE {}", self.config.max_message_size),
                "8BITMIME".to_string(),
                "SMTPUTF8".to_string(),
                "ENHANCEDSTATUSCODES".to_string(),
            ];
            if self.config.starttls && !self.tls {
                lines.push("STARTTLS".to_string());
            }
            lines.extend(["CHUNKING", "BINARYMIME", "HELP"].map(String::from));
            Reply::multiline(250, None, lines)
        } else {
            Reply::bare(250, &first)
        };
        self.end_transaction(Some(reply), Some(if extended { "EHLO" } else { "HELO" }));
        self.helo = Some(Helo { name, extended });
    }

    fn mail(&mut self, args: &str) {
        if self.helo.is_none() {
            return self.error(Reply::new(503, "5.5.1", "send EHLO first"));
        }
        if self.txn.is_some() {
            return self.error(Reply::new(503, "5.5.1", "nested MAIL command"));
        }
        let mail = match command::parse_mail(args) {
            Ok(mail) => mail,
            Err(reply) => return self.error(reply),
        };
        if mail
            .size
            .is_some_and(|size| size > self.config.max_message_size)
        {
            return self.reply(Reply::new(552, "5.3.4", TOO_BIG));
        }
        self.txn = Some(Transaction::new(mail));
        self.reply(Reply::new(250, "2.1.0", "sender ok"));
    }

    fn rcpt(&mut self, args: &str, recipients: &dyn RecipientCheck) {
        let Some(txn) = &self.txn else {
            return self.error(Reply::new(503, "5.5.1", "need MAIL before RCPT"));
        };
        if txn.begun {
            return self.error(Reply::new(503, "5.5.1", "RCPT not allowed after BDAT"));
        }
        let smtputf8 = txn.smtputf8;
        let address = match command::parse_rcpt(args) {
            Ok(address) => address,
            Err(reply) => return self.error(reply),
        };
        if !smtputf8 && !address.is_ascii() {
            let text = format!("non-ASCII recipient address <{address}> requires SMTPUTF8");
            self.refuse(address, Reply::new(553, "5.6.7", &text));
            return self.count_error();
        }
        let Some(txn) = &self.txn else { return };
        if txn
            .recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&address))
        {
            return self.reply(Reply::new(250, "2.1.5", "recipient ok"));
        }
        if txn.recipients.len() >= self.config.max_recipients {
            return self.refuse(address, Reply::new(452, "4.5.3", "too many recipients"));
        }
        match recipients.check(&address) {
            RcptDecision::Accept => {
                if let Some(txn) = self.txn.as_mut() {
                    txn.recipients.push(address);
                }
                self.reply(Reply::new(250, "2.1.5", "recipient ok"));
            }
            RcptDecision::Relay => {
                let text =
                    format!("relaying denied: <{address}> is not in this farm's incoming domains");
                self.refuse(address, Reply::new(550, "5.7.1", &text));
            }
            RcptDecision::Unknown { reason } => {
                self.refuse(address, Reply::new(550, "5.1.1", &reason))
            }
            RcptDecision::Paused { reason } => {
                self.refuse(address, Reply::new(450, "4.3.2", &reason))
            }
        }
    }

    /// Refuses one recipient: the transaction goes on.
    fn refuse(&mut self, address: String, reply: Reply) {
        if let Some(txn) = self.txn.as_mut() {
            if txn.refused.len() < MAX_REFUSED_LOGGED {
                txn.refused.push((address, reply.to_string()));
            }
        }
        self.reply(reply);
    }

    fn data(&mut self) {
        let Some(txn) = &self.txn else {
            return self.error(Reply::new(503, "5.5.1", "need MAIL before DATA"));
        };
        if txn.begun {
            return self.error(Reply::new(503, "5.5.1", "DATA not allowed after BDAT"));
        }
        if txn.body == Body::BinaryMime {
            return self.error(Reply::new(
                503,
                "5.5.1",
                "BODY=BINARYMIME requires BDAT, not DATA",
            ));
        }
        if txn.recipients.is_empty() {
            return self.reply(Reply::new(554, "5.5.1", "no valid recipients"));
        }
        self.begin_message();
        self.reply(Reply::bare(354, "end data with <CR><LF>.<CR><LF>"));
        self.start_data();
    }

    /// `BDAT`: the chunk is always consumed; a refused one gets its reply after it.
    fn bdat(&mut self, size: u64, last: bool) {
        let max = self.config.max_message_size;
        let refusal = match self.txn.as_mut() {
            None => Some(Reply::new(503, "5.5.1", "need MAIL before BDAT")),
            Some(txn) if txn.recipients.is_empty() => {
                Some(Reply::new(554, "5.5.1", "no valid recipients"))
            }
            Some(txn) => {
                if !txn.oversize && txn.size.saturating_add(size) > max {
                    txn.oversize = true;
                    if txn.open {
                        txn.open = false;
                        self.queue.push_back(Action::AbortMessage);
                    }
                }
                if !txn.begun && !txn.oversize {
                    self.begin_message();
                }
                None
            }
        };
        self.start_chunk(size, last, refusal);
    }

    fn begin_message(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        txn.begun = true;
        txn.open = true;
        let (helo, extended) = self
            .helo
            .as_ref()
            .map_or((String::new(), false), |h| (h.name.clone(), h.extended));
        let esmtp = extended || txn.smtputf8;
        let mut protocol = String::from(if txn.smtputf8 {
            "UTF8SMTP"
        } else if extended {
            "ESMTP"
        } else {
            "SMTP"
        });
        if esmtp && self.tls {
            protocol.push('S');
        }
        let envelope = Envelope {
            sender: txn.sender.clone(),
            recipients: txn.recipients.clone(),
            helo,
            protocol,
            declared_size: txn.declared_size,
            eight_bit: txn.body != Body::SevenBit,
            smtputf8: txn.smtputf8,
        };
        self.queue.push_back(Action::BeginMessage(envelope));
    }

    /// Counts decoded content and passes it on, unless the message went
    /// over the size limit (then AbortMessage, once, and nothing more).
    pub(super) fn add_content(&mut self, content: Vec<u8>) {
        let Some(txn) = self.txn.as_mut() else { return };
        txn.size = txn.size.saturating_add(content.len() as u64);
        if !txn.oversize && txn.size > self.config.max_message_size {
            txn.oversize = true;
            if txn.open {
                txn.open = false;
                self.queue.push_back(Action::AbortMessage);
            }
        }
        if txn.open && !content.is_empty() {
            self.queue.push_back(Action::Content(content));
        }
    }

    /// The end of DATA, or of the LAST chunk: EndMessage and wait for the store, or `552`.
    pub(super) fn finish_message(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        if txn.oversize || !txn.open {
            return self.end_transaction(Some(Reply::new(552, "5.3.4", TOO_BIG)), None);
        }
        txn.open = false;
        self.queue.push_back(Action::EndMessage);
        self.mode = Mode::AwaitingStore;
    }

    /// A non-LAST chunk was read completely.
    pub(super) fn chunk_done(&mut self, size: u64) {
        if self.txn.as_ref().is_some_and(|t| t.oversize) {
            return self.end_transaction(Some(Reply::new(552, "5.3.4", TOO_BIG)), None);
        }
        self.reply(Reply::new(250, "2.0.0", &format!("{size} octets received")));
    }

    fn starttls(&mut self) {
        if !self.config.starttls {
            self.error(Reply::new(502, "5.5.1", "STARTTLS not available"));
        } else if self.tls {
            self.error(Reply::new(503, "5.5.1", "already in TLS"));
        } else if self.txn.is_some() {
            self.error(Reply::new(
                503,
                "5.5.1",
                "STARTTLS not allowed during a mail transaction",
            ));
        } else {
            self.start_tls();
        }
    }

    /// Ends the open transaction, if any: AbortMessage if a message is
    /// open, then `reply`, then the log (its `reply` is `reason` when
    /// given, else the reply line). Without a transaction only `reply` is queued.
    pub(super) fn end_transaction(&mut self, reply: Option<Reply>, reason: Option<&str>) {
        if let Some(txn) = self.txn.as_mut() {
            if txn.open {
                txn.open = false;
                self.queue.push_back(Action::AbortMessage);
            }
        }
        let line = reason
            .map(str::to_string)
            .or_else(|| reply.as_ref().map(Reply::to_string));
        if let Some(reply) = reply {
            self.queue.push_back(Action::Reply(reply));
        }
        if let Some(txn) = self.txn.take() {
            self.queue.push_back(Action::Transaction(TransactionLog {
                helo: self
                    .helo
                    .as_ref()
                    .map(|h| h.name.clone())
                    .unwrap_or_default(),
                sender: txn.sender,
                recipients: txn.recipients,
                refused: txn.refused,
                size: txn.size,
                reply: line.unwrap_or_else(|| "connection closed".to_string()),
                tls: self.tls,
            }));
        }
    }
}

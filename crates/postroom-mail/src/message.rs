//! Message metadata: [`parse_message`] reads ids, addresses, subject, date,
//! bodies, threading headers, the calendar part and attachments of an
//! RFC 5322 message with `mail-parser`; large base64 attachments stay in
//! the raw bytes until they are written (`lean.rs`).

use std::collections::HashMap;

use mail_parser::{Address, HeaderValue, Message, PartType};
use postroom_core::MessageHeaders;

use crate::attachment::{bare_id, collect_attachments, content_type, Attachment};
use crate::content::Content;
use crate::error::MailError;
use crate::lean;
use crate::unpack::{unpack, uuencoded, Unpacked};

/// Headers, bodies and attachments of a message (from mail-parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage<'m> {
    pub headers: MessageHeaders,
    /// The first `text/html` body part, decoded to text (`None` when the
    /// message has only a plain-text body: none is made up from it). A
    /// message without text or HTML body of its own (one S/MIME-signed as a
    /// whole) has those of the first opaque-signed entity in it.
    pub body_html: Option<String>,
    /// The first `text/plain` body part, decoded to text (`None` when the
    /// message has only an HTML body: none is made up from it); from the
    /// signed entity like `body_html`.
    pub body_text: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// The `Thread-Index` header (Outlook) as sent, unfolded and trimmed.
    pub thread_index: Option<String>,
    /// The first `text/calendar` part anywhere in the message (body
    /// alternative or attachment), transfer encoding removed and text
    /// decoded to UTF-8; nested messages are not searched.
    pub calendar: Option<Vec<u8>>,
    /// Attachments in MIME order, wrappers (TNEF `winmail.dat`, BinHex)
    /// replaced by the files inside, an opaque-signed S/MIME `.p7m` followed
    /// by the files of the entity it signs, then the files uuencoded in text
    /// bodies. A large base64 attachment's bytes are decoded from `bytes`
    /// (the message given to [`parse_message`]) when they are read; the
    /// files of a signed entity are in memory.
    pub attachments: Vec<Attachment<'m>>,
    /// Attachments that could not be decoded, one sentence each: the
    /// message should be quarantined with these rather than filed in part.
    pub problems: Vec<String>,
}

impl ParsedMessage<'_> {
    /// The same message, no longer tied to the bytes it was parsed from
    /// (attachments left in them are decoded now).
    pub fn into_owned(self) -> ParsedMessage<'static> {
        ParsedMessage {
            headers: self.headers,
            body_html: self.body_html,
            body_text: self.body_text,
            in_reply_to: self.in_reply_to,
            references: self.references,
            thread_index: self.thread_index,
            calendar: self.calendar,
            attachments: self
                .attachments
                .into_iter()
                .map(Attachment::into_owned)
                .collect(),
            problems: self.problems,
        }
    }
}

/// Parse a message's metadata and attachments.
///
/// Fails with [`MailError::Unparsable`] only when `mail-parser` returns
/// nothing; it is lenient, so most inputs parse.
pub fn parse_message(bytes: &[u8]) -> Result<ParsedMessage<'_>, MailError> {
    lean::parse(bytes, lean::MIN_CUT)
}

/// Everything [`ParsedMessage`] says, from mail-parser's parse; `cut`
/// holds the bytes of the top-level parts whose bodies were cut from the
/// parsed copy (see [`contents`]).
pub(crate) fn build<'m>(
    message: Message<'_>,
    cut: HashMap<usize, Content<'m>>,
) -> ParsedMessage<'m> {
    let (from, from_address) = match message.from() {
        Some(address) => display_first(address),
        None => (None, None),
    };
    let headers = MessageHeaders {
        message_id: message.message_id().and_then(non_empty),
        from,
        from_address,
        to: message.to().map(bare_addresses).unwrap_or_default(),
        cc: message.cc().map(bare_addresses).unwrap_or_default(),
        subject: message.subject().map(str::to_string),
        date: message
            .date()
            .filter(|date| date.is_valid())
            .map(|date| date.to_rfc3339()),
    };
    let in_reply_to = ids(message.in_reply_to());
    let references = ids(message.references());
    let thread_index = thread_index(&message);
    let Contents {
        bodies,
        attachments,
        problems,
    } = contents(message, cut, false);
    ParsedMessage {
        headers,
        body_html: bodies.html,
        body_text: bodies.text,
        in_reply_to,
        references,
        thread_index,
        calendar: bodies.calendar,
        attachments,
        problems,
    }
}

/// The bodies of a message or of a signed MIME entity.
#[derive(Debug, Default)]
pub(crate) struct Bodies {
    pub(crate) html: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) calendar: Option<Vec<u8>>,
}

/// What a message, or the MIME entity inside opaque signed data, holds
/// besides its headers.
#[derive(Debug, Default)]
pub(crate) struct Contents<'m> {
    pub(crate) bodies: Bodies,
    pub(crate) attachments: Vec<Attachment<'m>>,
    pub(crate) problems: Vec<String>,
}

/// The bodies and (unpacked) attachments of a parsed message; `cut` holds
/// the bytes of the top-level parts whose bodies were cut from the parsed
/// copy (by part id; those parts are attachments and nothing else, see
/// `lean.rs`). `nested` for the entity inside opaque signed data: signed
/// data in it is not opened again. A message without text or HTML body (or
/// calendar) of its own takes those of the first opaque-signed entity in
/// it: a message that is opaque-signed as a whole has its bodies there.
pub(crate) fn contents<'m>(
    message: Message<'_>,
    cut: HashMap<usize, Content<'m>>,
    nested: bool,
) -> Contents<'m> {
    // Text bodies (not attachments) may carry uuencoded files. A cut body
    // has no line starting with "begin" (checked), so none.
    let uu_bodies: Vec<Vec<u8>> = message
        .text_body
        .iter()
        .map(|&id| id as usize)
        .filter(|id| !cut.contains_key(id))
        .filter_map(|id| message.parts.get(id))
        .filter(|part| !part.is_message())
        .map(|part| part.contents().to_vec())
        .collect();
    let mut bodies = Bodies {
        html: message
            .html_bodies()
            .find(|part| part.is_text_html())
            .and_then(|part| part.text_contents())
            .map(str::to_string),
        text: message
            .text_bodies()
            .find(|part| matches!(part.body, PartType::Text(_)))
            .and_then(|part| part.text_contents())
            .map(str::to_string),
        calendar: message
            .parts
            .iter()
            .find(|part| content_type(part) == "text/calendar")
            .map(|part| part.contents().to_vec()),
    };
    let Unpacked {
        mut attachments,
        mut problems,
        signed_bodies,
    } = unpack(collect_attachments(message, cut), nested);
    let (uu_files, uu_problems) = uuencoded(&uu_bodies, attachments.len());
    attachments.extend(uu_files);
    problems.extend(uu_problems);
    if let Some(signed) = signed_bodies {
        if bodies.html.is_none() && bodies.text.is_none() {
            bodies.html = signed.html;
            bodies.text = signed.text;
        }
        bodies.calendar = bodies.calendar.or(signed.calendar);
    }
    Contents {
        bodies,
        attachments,
        problems,
    }
}

/// The ids of an `In-Reply-To` or `References` header, without angle
/// brackets.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    value
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .filter_map(|id| bare_id(id))
        .collect()
}

/// The `Thread-Index` header value, line breaks of folding removed.
fn thread_index(message: &Message<'_>) -> Option<String> {
    let raw = message.header_raw("Thread-Index")?;
    let unfolded: String = raw.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    non_empty(&unfolded)
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The first mailbox with an address (else the first one with a name):
/// `(display form, bare address)`.
fn display_first(address: &Address<'_>) -> (Option<String>, Option<String>) {
    let mailbox = address
        .iter()
        .find(|addr| addr.address().and_then(non_empty).is_some())
        .or_else(|| address.first());
    let Some(mailbox) = mailbox else {
        return (None, None);
    };
    let name = mailbox.name().and_then(non_empty);
    let bare = mailbox.address().and_then(non_empty);
    let display = match (&name, &bare) {
        (Some(name), Some(bare)) => Some(format!("{name} <{bare}>")),
        (None, Some(bare)) => Some(bare.clone()),
        (Some(name), None) => Some(name.clone()),
        (None, None) => None,
    };
    (display, bare)
}

/// Every non-empty bare address of an address header, in order.
fn bare_addresses(address: &Address<'_>) -> Vec<String> {
    address
        .iter()
        .filter_map(|addr| addr.address().and_then(non_empty))
        .collect()
}

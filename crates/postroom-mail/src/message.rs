//! Message metadata: [`parse_message`] reads ids, addresses, subject, date
//! and attachments of an RFC 5322 message with `mail-parser`.

use mail_parser::{Address, MessageParser};
use postroom_core::MessageHeaders;

use crate::attachment::{collect_attachments, Attachment};
use crate::error::MailError;
use crate::unpack::{unpack, uuencoded};

/// Headers and attachments of a message (from mail-parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub headers: MessageHeaders,
    /// Attachments in MIME order, wrappers (TNEF `winmail.dat`, BinHex)
    /// replaced by the files inside, then the files uuencoded in text bodies.
    pub attachments: Vec<Attachment>,
    /// Attachments that could not be decoded, one sentence each: the
    /// message should be quarantined with these rather than filed in part.
    pub problems: Vec<String>,
}

/// Parse a message's metadata and attachments.
///
/// Fails with [`MailError::Unparsable`] only when `mail-parser` returns
/// nothing; it is lenient, so most inputs parse.
pub fn parse_message(bytes: &[u8]) -> Result<ParsedMessage, MailError> {
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or(MailError::Unparsable { len: bytes.len() })?;

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
    // Text bodies (not attachments) may carry uuencoded files.
    let bodies: Vec<Vec<u8>> = message
        .text_bodies()
        .filter(|part| !part.is_message())
        .map(|part| part.contents().to_vec())
        .collect();
    let (mut attachments, mut problems) = unpack(collect_attachments(message));
    let (uu_files, uu_problems) = uuencoded(&bodies, attachments.len());
    attachments.extend(uu_files);
    problems.extend(uu_problems);
    Ok(ParsedMessage {
        headers,
        attachments,
        problems,
    })
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

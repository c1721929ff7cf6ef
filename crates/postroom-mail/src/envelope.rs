//! Drop-folder files: finds the SMTP envelope (`X-Sender` / `X-Receiver`
//! lines, Exchange's injected X-headers block, or the To/Cc/Bcc/From headers
//! as a fallback) and where the message itself starts.

use mail_parser::{Address, MessageParser};

use crate::address::{envelope_address, header_address, EnvelopeAddress};
use crate::error::{quoted, MailError};
use crate::lines::{is_blank, logical_line, split_header};

/// The SMTP envelope of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Envelope sender as a bare addr-spec (`alice@contoso.com`); empty string for the null sender `<>`.
    pub sender: String,
    /// Envelope recipients, bare addr-specs, in file order, duplicates (case-insensitive) removed.
    pub recipients: Vec<String>,
}

/// Where an [`Envelope`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeSource {
    /// `X-Sender` / `X-Receiver` lines at the top of the drop file.
    DropLines,
    /// No envelope lines: taken from the message's To/Cc/Bcc and From headers.
    Headers,
}

/// A parsed drop-folder file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropFile<'a> {
    /// The envelope.
    pub envelope: Envelope,
    /// Where the envelope came from.
    pub source: EnvelopeSource,
    /// The message itself: the bytes after the envelope lines (and after Exchange's injected X-headers block), unchanged.
    pub message: &'a [u8],
}

const X_SENDER: &[u8] = b"x-sender";
const X_RECEIVER: &[u8] = b"x-receiver";
const X_END_OF_INJECTED: &[u8] = b"x-endofinjectedxheaders";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Envelope lines collected while scanning, values not yet validated.
#[derive(Debug, Default)]
struct RawEnvelope {
    senders: Vec<String>,
    receivers: Vec<String>,
}

impl RawEnvelope {
    fn is_empty(&self) -> bool {
        self.senders.is_empty() && self.receivers.is_empty()
    }

    /// Records `value` when `name` is `X-Sender` / `X-Receiver`; returns
    /// whether it was one.
    fn take(&mut self, name: &[u8], value: String) -> bool {
        if name.eq_ignore_ascii_case(X_SENDER) {
            self.senders.push(value);
            true
        } else if name.eq_ignore_ascii_case(X_RECEIVER) {
            self.receivers.push(value);
            true
        } else {
            false
        }
    }

    fn append(&mut self, other: RawEnvelope) {
        self.senders.extend(other.senders);
        self.receivers.extend(other.receivers);
    }
}

/// Parse a drop-folder file.
///
/// Recognises the IIS SMTP (`x-sender:` / `x-receiver:`), System.Net.Mail
/// pickup (`X-Sender: "Name" <addr>`) and Exchange drop-directory formats
/// (`X-Receiver: <addr> ORCPT=...` with folded lines and an injected X-header
/// block ending at `X-EndOfInjectedXHeaders`). Without envelope lines the
/// envelope is taken from the message headers (To + Cc + Bcc, From).
///
/// With several `X-Sender` lines the first one is the sender (all are
/// validated).
pub fn parse_drop_file(bytes: &[u8]) -> Result<DropFile<'_>, MailError> {
    if is_blank(bytes) {
        return Err(MailError::Empty { len: bytes.len() });
    }
    let start = if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let (raw, message_start) = scan_envelope(bytes, start);
    if raw.is_empty() {
        return from_headers(bytes);
    }

    let mut sender = None;
    for value in &raw.senders {
        let address = parse_envelope_value("x-sender", value)?;
        if sender.is_none() {
            sender = Some(match address {
                EnvelopeAddress::Null => String::new(),
                EnvelopeAddress::Mailbox(mailbox) => mailbox,
            });
        }
    }
    let mut recipients = Vec::with_capacity(raw.receivers.len());
    for value in &raw.receivers {
        match parse_envelope_value("x-receiver", value)? {
            EnvelopeAddress::Mailbox(mailbox) => recipients.push(mailbox),
            EnvelopeAddress::Null => {
                return Err(MailError::InvalidAddress {
                    field: "x-receiver",
                    value: quoted(value.trim()),
                })
            }
        }
    }

    let message = bytes.get(message_start..).unwrap_or_default();
    if is_blank(message) {
        return Err(MailError::NoMessage {
            offset: message_start,
            len: bytes.len(),
        });
    }
    let sender = match sender {
        Some(sender) => sender,
        None => header_sender(message),
    };
    if recipients.is_empty() {
        return Err(MailError::NoReceiver { sender });
    }
    Ok(DropFile {
        envelope: Envelope {
            sender,
            recipients: dedup_case_insensitive(recipients),
        },
        source: EnvelopeSource::DropLines,
        message,
    })
}

/// Collects the envelope lines at the top of the file and finds where the
/// message starts. An empty [`RawEnvelope`] means there are no envelope lines.
fn scan_envelope(bytes: &[u8], start: usize) -> (RawEnvelope, usize) {
    let mut raw = RawEnvelope::default();
    let mut pos = start;
    while let Some(line) = logical_line(bytes, pos) {
        let Some((name, value)) = split_header(line.raw) else {
            break;
        };
        if !raw.take(name, value) {
            break;
        }
        pos = line.end;
    }
    if raw.is_empty() {
        return (raw, start);
    }

    // Exchange: an injected block of X-headers ending at X-EndOfInjectedXHeaders
    // belongs to the envelope. Only X- lines may precede the end marker;
    // anything else means there is no such block and the message starts here.
    let mut injected = RawEnvelope::default();
    let mut scan = pos;
    while let Some(line) = logical_line(bytes, scan) {
        let Some((name, value)) = split_header(line.raw) else {
            break;
        };
        if !name
            .get(..2)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"x-"))
        {
            break;
        }
        if name.eq_ignore_ascii_case(X_END_OF_INJECTED) {
            raw.append(injected);
            return (raw, line.end);
        }
        injected.take(name, value);
        scan = line.end;
    }
    (raw, pos)
}

fn parse_envelope_value(field: &'static str, value: &str) -> Result<EnvelopeAddress, MailError> {
    envelope_address(value).ok_or_else(|| MailError::InvalidAddress {
        field,
        value: quoted(value.trim()),
    })
}

/// The envelope from the message headers: To + Cc + Bcc, and From.
fn from_headers(bytes: &[u8]) -> Result<DropFile<'_>, MailError> {
    let parser = MessageParser::default();
    let Some(headers) = parser.parse_headers(bytes) else {
        return Err(MailError::NoEnvelope);
    };
    let mut recipients = Vec::new();
    for address in [headers.to(), headers.cc(), headers.bcc()]
        .into_iter()
        .flatten()
    {
        recipients.extend(addresses(address));
    }
    if recipients.is_empty() {
        return Err(MailError::NoEnvelope);
    }
    let sender = headers
        .from()
        .and_then(|from| addresses(from).into_iter().next())
        .unwrap_or_default();
    Ok(DropFile {
        envelope: Envelope {
            sender,
            recipients: dedup_case_insensitive(recipients),
        },
        source: EnvelopeSource::Headers,
        message: bytes,
    })
}

/// The sender from the message's From header, or "" when there is none.
fn header_sender(message: &[u8]) -> String {
    MessageParser::default()
        .parse_headers(message)
        .and_then(|headers| {
            headers
                .from()
                .and_then(|from| addresses(from).into_iter().next())
        })
        .unwrap_or_default()
}

/// The valid bare addresses of an address header, in order.
fn addresses(address: &Address<'_>) -> Vec<String> {
    address
        .iter()
        .filter_map(|addr| addr.address())
        .filter_map(header_address)
        .collect()
}

/// Removes later case-insensitive duplicates, keeping the first spelling.
fn dedup_case_insensitive(addresses: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    addresses
        .into_iter()
        .filter(|address| seen.insert(address.to_lowercase()))
        .collect()
}

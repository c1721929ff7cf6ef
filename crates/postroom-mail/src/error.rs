//! The crate's single error type, [`MailError`].

/// Longest offending value (in chars) quoted in an error message.
const MAX_QUOTED_CHARS: usize = 200;

/// Everything that can go wrong while parsing a drop file or a message.
///
/// Messages are lowercase and quote the offending value where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The drop file has no bytes (or only whitespace).
    #[error("empty drop file ({len} bytes, no content)")]
    Empty {
        /// Length of the input in bytes.
        len: usize,
    },
    /// Neither envelope lines nor To/Cc/Bcc recipients were found.
    #[error("no envelope: no x-receiver lines and no to/cc/bcc headers")]
    NoEnvelope,
    /// An `X-Sender` / `X-Receiver` value is not an address.
    #[error("invalid {field} value {value:?}: not an email address")]
    InvalidAddress {
        /// The envelope line's name, lowercase: `x-sender` or `x-receiver`.
        field: &'static str,
        /// The offending value (shortened when very long).
        value: String,
    },
    /// Envelope lines are present but no `X-Receiver` line.
    #[error("envelope has x-sender {sender:?} but no x-receiver lines")]
    NoReceiver {
        /// The envelope sender that was found.
        sender: String,
    },
    /// Envelope lines are present but nothing (or only whitespace) follows them.
    #[error("no message after the envelope lines (envelope ends at byte {offset} of {len})")]
    NoMessage {
        /// Offset where the message should have started.
        offset: usize,
        /// Total length of the drop file.
        len: usize,
    },
    /// `mail-parser` could not make a message out of the bytes.
    #[error("unparsable message ({len} bytes): mail-parser found no message")]
    Unparsable {
        /// Length of the input in bytes.
        len: usize,
    },
}

/// Shortens `value` for quoting in an error message.
pub(crate) fn quoted(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED_CHARS {
        value.to_string()
    } else {
        let mut short: String = value.chars().take(MAX_QUOTED_CHARS).collect();
        short.push('…');
        short
    }
}

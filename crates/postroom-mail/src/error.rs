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
    /// The calendar data has no `BEGIN:VCALENDAR` component.
    #[error("no VCALENDAR in the calendar data ({len} bytes)")]
    NoCalendar {
        /// Length of the calendar data in bytes.
        len: usize,
    },
    /// The calendar has no `VEVENT` (only to-dos, time zones ...).
    #[error("no VEVENT in the calendar")]
    NoEvent,
    /// A `VEVENT` lacks its `UID`.
    #[error("event {number} (summary {summary:?}) has no UID")]
    EventWithoutUid {
        /// The event's position among the calendar's events, from 1.
        number: usize,
        /// Its `SUMMARY` (shortened when very long), empty when absent.
        summary: String,
    },
    /// A `SEQUENCE` is not a number from 0 to 4294967295.
    #[error("invalid SEQUENCE {value:?} in event {uid:?}: not a number from 0 to 4294967295")]
    InvalidSequence {
        /// The event's `UID` (shortened when very long).
        uid: String,
        /// The offending value (shortened when very long).
        value: String,
    },
    /// Calendar components are nested deeper than the reader accepts.
    #[error("calendar components nested deeper than {max} levels (at {component:?}, line {line})")]
    CalendarTooDeep {
        /// The deepest nesting accepted.
        max: usize,
        /// The component that went too deep (shortened when very long).
        component: String,
        /// Its content line number, from 1.
        line: usize,
    },
    /// The calendar has more content lines than the reader accepts.
    #[error("calendar has more than {max} content lines")]
    CalendarTooLong {
        /// The most content lines accepted.
        max: usize,
    },
    /// PKCS#7 / CMS data (an S/MIME `.p7m`) ends inside an element.
    #[error("pkcs7 data ends inside an element at byte {offset} ({len} bytes in all): it may be cut short")]
    Pkcs7Truncated {
        /// Where the element that does not fit starts.
        offset: usize,
        /// Length of the data in bytes.
        len: usize,
    },
    /// PKCS#7 / CMS data that is not the BER of what it should hold.
    #[error("pkcs7 data malformed at byte {offset}: {what}")]
    Pkcs7Malformed {
        /// Where the offending element starts.
        offset: usize,
        /// What is wrong there.
        what: &'static str,
    },
    /// PKCS#7 / CMS elements nested deeper than the reader accepts.
    #[error("pkcs7 elements nested deeper than {max} levels (at byte {offset})")]
    Pkcs7TooDeep {
        /// The deepest nesting accepted.
        max: usize,
        /// Where the element that went too deep starts.
        offset: usize,
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

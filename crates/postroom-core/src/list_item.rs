//! What a list (announcements, calendar, discussion board, blog) keeps of a
//! message besides its files: the fields of its item ([`ListItem`]). Stored
//! in the item record and returned by `postroom items`; built by the filing
//! step from the parsed message (`postroom-mail` reads the iCalendar and
//! sanitises the HTML), aggregated by [`crate::calendar`] (events by UID)
//! and [`crate::discussion`] (threads) when items are listed.

use serde::{Deserialize, Serialize};

/// The fields of one list item, by list kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListItem {
    /// An announcements list's item: title = subject, the body.
    Announcement(Post),
    /// A blog post: title = subject, the body with inline images referenced
    /// by their files in the item's folder.
    BlogPost(Post),
    /// A discussion board post and what places it in its thread.
    Discussion(DiscussionPost),
    /// A calendar's invitation (one message may carry several events).
    Invitation(Invitation),
}

/// Title and body of an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub title: String,
    /// The HTML body, sanitised to safe markup; `None` when the message had
    /// no HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
    /// The plain-text body (the fallback when there is no HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

/// A discussion board post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscussionPost {
    #[serde(flatten)]
    pub post: Post,
    pub conversation: Conversation,
}

/// What a message says about the conversation it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Message-ID without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first, without angle brackets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Outlook's conversation id: the first 22 bytes of `Thread-Index`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_index: Option<String>,
    /// The subject without reply / forward prefixes, whitespace folded,
    /// lowercase: the last resort for placing a reply.
    pub topic: String,
    /// The subject had a reply prefix (`Re:`, `AW:`, `SV:` ...).
    pub is_reply: bool,
}

/// A `text/calendar` message: its method and the events it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// `METHOD`, uppercase (`REQUEST`, `CANCEL`, `PUBLISH`, `REPLY` ...);
    /// `PUBLISH` when absent (RFC 5546).
    pub method: String,
    pub events: Vec<CalendarEntry>,
}

/// One `VEVENT` as sent. Times are kept as written (value and `TZID`), not
/// converted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEntry {
    pub uid: String,
    /// `SEQUENCE`; 0 when absent.
    pub sequence: u32,
    /// `RECURRENCE-ID` of an occurrence this entry overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<CalendarTime>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The organizer's address, `mailto:` removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    /// Attendee addresses, `mailto:` removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<CalendarTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<CalendarTime>,
    /// `DURATION`, as written (`PT1H`), when there is no `DTEND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `STATUS`, uppercase (`CONFIRMED`, `TENTATIVE`, `CANCELLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The recurrence lines, as written: `RRULE:...`, `RDATE...`, `EXDATE...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    /// `DTSTAMP` value, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

/// A date or date-time as written in iCalendar: `20261201T090000Z`,
/// `20261201T100000` with a `TZID`, or a date `20261201`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CalendarTime {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tzid: Option<String>,
}

impl std::fmt::Display for CalendarTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tzid {
            Some(tz) => write!(f, "{} ({tz})", self.value),
            None => f.write_str(&self.value),
        }
    }
}

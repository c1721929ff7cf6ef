//! A list's item fields from a parsed message, by the library's kind
//! (`postroom_core::list_item`): announcements and blogs keep the title and
//! the body (HTML sanitised, its `cid:` images pointing at the item's files),
//! a discussion board also what places the post in its thread, a calendar
//! the invitation; and a calendar's refusal of mail that is not one.

use std::borrow::Cow;
use std::collections::HashMap;

use postroom_core::config::{LibraryKind, LibrarySettings};
use postroom_core::discussion::{conversation_id, topic};
use postroom_core::list_item::{Conversation, DiscussionPost, Invitation, ListItem, Post};
use postroom_core::MessageKey;
use postroom_library::{list_item_folder, list_item_names};
use postroom_mail::{read_invitation, sanitize_html, Attachment, ParsedMessage};

/// The message's invitation, for calendars: read from its first
/// `text/calendar` part, else its first `.ics` attachment (sent as
/// `application/ics` or `application/octet-stream`); `Err` says why there
/// is none. A large `.ics` left in the raw message is decoded here.
pub fn invitation(parsed: &ParsedMessage) -> Result<Invitation, String> {
    let ics = || {
        parsed
            .attachments
            .iter()
            .find(|a| a.file_name.to_ascii_lowercase().ends_with(".ics"))
            .map(|a| a.content.to_bytes())
    };
    let calendar = parsed.calendar.as_deref().map(Cow::Borrowed);
    let Some(bytes) = calendar.or_else(ics) else {
        return Err(
            "it carries no meeting invitation (no text/calendar part, no .ics file)".to_string(),
        );
    };
    read_invitation(&bytes).map_err(|e| format!("its meeting invitation cannot be read: {e}"))
}

/// Why calendar `lib` refuses the message: it is not an invitation.
pub fn refusal(
    lib: &LibrarySettings,
    invitation: Option<&Result<Invitation, String>>,
) -> Option<(&'static str, String)> {
    if lib.kind != LibraryKind::Calendar {
        return None;
    }
    let why = match invitation {
        Some(Ok(_)) => return None,
        Some(Err(why)) => why.clone(),
        None => "it was not read as an invitation".to_string(),
    };
    Some((
        "not_an_invitation",
        format!(
            "calendar {:?} files meeting invitations only: {why}",
            lib.alias
        ),
    ))
}

/// The item fields of message `key` in list `lib`, given the attachments
/// the list files (in order: their names in the item's folder are known
/// before filing, so the body can point at them); `None` for a library of
/// files.
pub fn list_item(
    lib: &LibrarySettings,
    key: &MessageKey,
    parsed: &ParsedMessage,
    filed: &[&Attachment],
    invitation: Option<&Result<Invitation, String>>,
) -> Option<ListItem> {
    let post = || post(key, parsed, filed);
    match lib.kind {
        LibraryKind::DocumentLibrary | LibraryKind::PictureLibrary | LibraryKind::FormLibrary => {
            None
        }
        LibraryKind::Announcements => Some(ListItem::Announcement(post())),
        LibraryKind::Blog => Some(ListItem::BlogPost(post())),
        LibraryKind::DiscussionBoard => Some(ListItem::Discussion(DiscussionPost {
            post: post(),
            conversation: conversation(parsed),
        })),
        LibraryKind::Calendar => invitation
            .and_then(|i| i.as_ref().ok())
            .map(|i| ListItem::Invitation(i.clone())),
    }
}

/// Title and body; inline images point at their files in the item folder.
fn post(key: &MessageKey, parsed: &ParsedMessage, filed: &[&Attachment]) -> Post {
    let folder = list_item_folder(key);
    let names = list_item_names(filed.iter().map(|a| a.file_name.as_str()));
    // The first part with a Content-ID wins (an attached message's parts
    // come after the message's own).
    let mut by_cid: HashMap<&str, String> = HashMap::new();
    for (a, name) in filed.iter().zip(names) {
        if let Some(cid) = a.content_id.as_deref() {
            by_cid
                .entry(cid)
                .or_insert_with(|| format!("{folder}/{name}"));
        }
    }
    let inline = |cid: &str| by_cid.get(cid).cloned();
    Post {
        title: parsed.headers.subject.clone().unwrap_or_default(),
        body_html: parsed
            .body_html
            .as_deref()
            .map(|html| sanitize_html(html, &inline)),
        // Line ends as in a text file, not as on the wire.
        body_text: parsed.body_text.as_ref().map(|t| t.replace("\r\n", "\n")),
    }
}

/// What places a post in its thread.
fn conversation(parsed: &ParsedMessage) -> Conversation {
    let (topic, is_reply) = topic(parsed.headers.subject.as_deref().unwrap_or(""));
    Conversation {
        message_id: parsed.headers.message_id.clone(),
        in_reply_to: parsed.in_reply_to.clone(),
        references: parsed.references.clone(),
        thread_index: parsed.thread_index.as_deref().and_then(conversation_id),
        topic,
        is_reply,
    }
}

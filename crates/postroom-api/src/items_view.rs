//! How a library's item records look through the API: one [`Item`] per
//! record (its metadata and, in a list, its fields), pages of them newest
//! first, and the lists' aggregate views built from every record with
//! core's pure rules: a calendar's events (`calendar::events`, by UID at
//! the latest SEQUENCE) and a discussion board's threads
//! (`discussion::threads`).

use std::collections::HashMap;

use postroom_core::calendar::{self, InvitationRef};
use postroom_core::discussion::{self, PostRef};
use postroom_core::list_item::{CalendarEntry, ListItem, Post};
use postroom_library::ItemRecord;

use crate::error::ApiError;
use crate::proto::{CalendarEvent, EventList, Item, ItemPage, Thread, ThreadList, ThreadPost};

/// An item record as the protocol shows it; `threads` places a discussion
/// post in its thread.
pub(crate) fn item(record: &ItemRecord, threads: &Placement) -> Item {
    let h = &record.meta.headers;
    let key = record.meta.message_key.to_string();
    let mut item = Item {
        message_key: key.clone(),
        state: match record.state {
            postroom_library::ItemState::Done => "done",
            postroom_library::ItemState::Writing => "writing",
        }
        .to_string(),
        subject: h.subject.clone().unwrap_or_default(),
        sender: sender(record),
        message_id: h.message_id.clone().unwrap_or_default(),
        received: record.meta.received.clone(),
        filed_at: record.filed_at.clone().unwrap_or_default(),
        files: record.files.clone(),
        envelope_recipients: record.meta.envelope_recipients.clone(),
        ..Item::default()
    };
    let post = |item: &mut Item, kind: &str, post: &Post| {
        item.item_kind = kind.to_string();
        item.title = post.title.clone();
        item.body_html = post.body_html.clone().unwrap_or_default();
        item.body_text = post.body_text.clone().unwrap_or_default();
    };
    match &record.meta.item {
        None => {}
        Some(ListItem::Announcement(p)) => post(&mut item, "announcement", p),
        Some(ListItem::BlogPost(p)) => post(&mut item, "blog_post", p),
        Some(ListItem::Discussion(d)) => {
            post(&mut item, "discussion", &d.post);
            if let Some((thread, reply_to)) = threads.get(&key) {
                item.thread_id = thread.clone();
                item.reply_to = reply_to.clone().unwrap_or_default();
            }
        }
        Some(ListItem::Invitation(i)) => {
            item.item_kind = "invitation".to_string();
            item.method = i.method.clone();
            item.events = i.events.iter().map(event).collect();
        }
    }
    item
}

fn sender(record: &ItemRecord) -> String {
    record
        .meta
        .headers
        .from_address
        .clone()
        .unwrap_or_else(|| record.meta.envelope_sender.clone())
}

/// Each discussion post's thread and the post it replies to, by message key.
pub(crate) type Placement = HashMap<String, (String, Option<String>)>;

/// One page of `records` (oldest first) newest first, after the item whose
/// key is `token` (empty: from the newest).
pub(crate) fn page(records: &[ItemRecord], token: &str, size: usize) -> Result<ItemPage, ApiError> {
    let newest_first: Vec<&ItemRecord> = records.iter().rev().collect();
    let start = if token.is_empty() {
        0
    } else {
        let at = newest_first
            .iter()
            .position(|r| r.meta.message_key.to_string() == token)
            .ok_or_else(|| ApiError::InvalidArgument {
                field: "page_token".to_string(),
                detail: format!("{token:?} is not an item of this library (any more); start from the first page"),
            })?;
        at + 1
    };
    let placement = placement(&thread_list(records));
    let items: Vec<Item> = newest_first
        .iter()
        .skip(start)
        .take(size)
        .map(|r| item(r, &placement))
        .collect();
    let more = start + items.len() < newest_first.len();
    let next_page_token = match (more, items.last()) {
        (true, Some(last)) => last.message_key.clone(),
        _ => String::new(),
    };
    Ok(ItemPage {
        items,
        next_page_token,
        total: newest_first.len() as u64,
    })
}

/// A calendar entry as the protocol shows it (not yet aggregated).
fn event(e: &CalendarEntry) -> CalendarEvent {
    let text = |t: &Option<postroom_core::list_item::CalendarTime>| {
        t.as_ref().map(ToString::to_string).unwrap_or_default()
    };
    CalendarEvent {
        uid: e.uid.clone(),
        sequence: e.sequence,
        recurrence_id: text(&e.recurrence_id),
        summary: e.summary.clone(),
        start: text(&e.start),
        end: text(&e.end),
        duration: e.duration.clone().unwrap_or_default(),
        location: e.location.clone().unwrap_or_default(),
        organizer: e.organizer.clone().unwrap_or_default(),
        attendees: e.attendees.clone(),
        recurrence: e.recurrence.clone(),
        status: e.status.clone().unwrap_or_default(),
        description: e.description.clone().unwrap_or_default(),
        ..CalendarEvent::default()
    }
}

/// A calendar's events from every record of the library.
pub(crate) fn event_list(records: &[ItemRecord]) -> EventList {
    let ids: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.meta.message_key.to_string(), sender(r)))
        .collect();
    let refs: Vec<InvitationRef<'_>> = records
        .iter()
        .zip(&ids)
        .filter_map(|(r, (key, sender))| match &r.meta.item {
            Some(ListItem::Invitation(invitation)) => Some(InvitationRef {
                key,
                received: &r.meta.received,
                sender,
                invitation,
            }),
            _ => None,
        })
        .collect();
    let events = calendar::events(&refs)
        .into_iter()
        .map(|e| CalendarEvent {
            cancelled: e.cancelled,
            current_item: e.current_key.clone(),
            items: e.versions.clone(),
            ignored_items: e.ignored.clone(),
            ..event(&e.entry)
        })
        .collect();
    EventList { events }
}

/// A discussion board's threads from every record of the library.
pub(crate) fn thread_list(records: &[ItemRecord]) -> ThreadList {
    let keys: Vec<String> = records
        .iter()
        .map(|r| r.meta.message_key.to_string())
        .collect();
    let mut by_key: HashMap<&str, &ItemRecord> = HashMap::new();
    let mut refs = Vec::new();
    for (r, key) in records.iter().zip(&keys) {
        if let Some(ListItem::Discussion(d)) = &r.meta.item {
            by_key.insert(key, r);
            refs.push(PostRef {
                key,
                received: &r.meta.received,
                conversation: &d.conversation,
            });
        }
    }
    let threads = discussion::threads(&refs)
        .into_iter()
        .map(|t| {
            let posts: Vec<ThreadPost> = t
                .posts
                .iter()
                .filter_map(|p| {
                    let r = by_key.get(p.key.as_str())?;
                    Some(ThreadPost {
                        message_key: p.key.clone(),
                        reply_to: p.parent.clone().unwrap_or_default(),
                        title: title(r),
                        sender: sender(r),
                        received: r.meta.received.clone(),
                    })
                })
                .collect();
            let title = posts.first().map(|p| p.title.clone()).unwrap_or_default();
            Thread {
                id: t.id,
                title,
                posts,
            }
        })
        .collect();
    ThreadList { threads }
}

fn title(r: &ItemRecord) -> String {
    match &r.meta.item {
        Some(ListItem::Discussion(d)) => d.post.title.clone(),
        _ => r.meta.headers.subject.clone().unwrap_or_default(),
    }
}

/// Where each post of `threads` sits: its thread and its parent.
pub(crate) fn placement(threads: &ThreadList) -> Placement {
    threads
        .threads
        .iter()
        .flat_map(|t| {
            t.posts.iter().map(|p| {
                let parent = (!p.reply_to.is_empty()).then(|| p.reply_to.clone());
                (p.message_key.clone(), (t.id.clone(), parent))
            })
        })
        .collect()
}

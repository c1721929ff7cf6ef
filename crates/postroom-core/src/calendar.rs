//! Events of a calendar list, from the invitations filed into it
//! ([`events`]): entries grouped by `UID` and `RECURRENCE-ID`, the current
//! version of each chosen by `SEQUENCE` (RFC 5546), cancellations applied;
//! once an event exists, only its first sender or its organizer may change
//! it. Pure and independent of the order the items are given in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::list_item::{CalendarEntry, CalendarTime, Invitation};

/// Whether an invitation with `method` creates or updates its events:
/// `PUBLISH` (also when empty), `REQUEST`; case-insensitive. (`ADD` only
/// adds instances to a recurring event: filed, not applied.)
pub fn method_updates(method: &str) -> bool {
    let m = method.trim();
    m.is_empty()
        || ["PUBLISH", "REQUEST"]
            .iter()
            .any(|u| m.eq_ignore_ascii_case(u))
}

/// Whether an invitation with `method` cancels its events (`CANCEL`).
/// `REPLY`, `COUNTER`, `DECLINECOUNTER`, `REFRESH` and unknown methods
/// neither update nor cancel.
pub fn method_cancels(method: &str) -> bool {
    method.trim().eq_ignore_ascii_case("CANCEL")
}

/// One item of a calendar list, as [`events`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationRef<'a> {
    /// The item's id (its message key); unique within a list.
    pub key: &'a str,
    /// When it was received, RFC 3339 (sortable as text).
    pub received: &'a str,
    /// Who sent it: the From address (else the envelope sender).
    pub sender: &'a str,
    pub invitation: &'a Invitation,
}

/// One event (or one overridden occurrence of a recurring event) as its
/// invitations leave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub uid: String,
    /// The occurrence this event overrides; `None` for the event itself
    /// (the master of a recurring one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<CalendarTime>,
    /// The current version; for a cancelled event, the latest update's
    /// (the `CANCEL`'s only when no update was seen).
    pub entry: CalendarEntry,
    pub cancelled: bool,
    /// The item that cancelled it: a `CANCEL`, an update with
    /// `STATUS:CANCELLED`, or the cancellation of its master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The item `entry` comes from.
    pub current_key: String,
    /// Every item that updated or cancelled it, oldest first.
    pub versions: Vec<String>,
    /// Items that tried to change it but came from neither its first
    /// sender nor its organizer (ignored), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// An entry as carried by one item.
struct Version<'a> {
    key: &'a str,
    received: &'a str,
    sender: &'a str,
    /// Position in its invitation (an item carrying one event twice).
    index: usize,
    entry: &'a CalendarEntry,
    cancel: bool,
}

impl Version<'_> {
    /// Arrival order: received, key, position.
    fn arrival(&self) -> (&str, &str, usize) {
        (self.received, self.key, self.index)
    }
}

/// What groups entries into one event: UID and RECURRENCE-ID; an entry
/// without UID is an event of its own (its item and position).
type GroupKey<'a> = (&'a str, Option<&'a CalendarTime>, Option<(&'a str, usize)>);

/// The events of a calendar list's items, by start, then UID, then
/// RECURRENCE-ID. Entries sharing UID and RECURRENCE-ID are one event.
///
/// The current version is the one with the highest `SEQUENCE`; among
/// equals a `CANCEL` beats an update, then the later `DTSTAMP` (when all are
/// UTC basic date-times of one length), then the later received, then the
/// larger key. An event is cancelled when its current version is a
/// `CANCEL` or says `STATUS:CANCELLED`, or when its master (same UID, no
/// RECURRENCE-ID) is cancelled; a `CANCEL` older than an update does not
/// count. Entries of `REPLY`, `COUNTER`, `DECLINECOUNTER`, `REFRESH` or
/// unknown methods change nothing, and an event only they carry is not
/// listed. The same items in any order give the same events.
pub fn events(items: &[InvitationRef<'_>]) -> Vec<Event> {
    let mut groups: BTreeMap<GroupKey<'_>, Vec<Version<'_>>> = BTreeMap::new();
    for item in items {
        let method = item.invitation.method.as_str();
        let cancel = method_cancels(method);
        if !cancel && !method_updates(method) {
            continue;
        }
        for (index, entry) in item.invitation.events.iter().enumerate() {
            let anonymous = entry.uid.is_empty().then_some((item.key, index));
            let key = (entry.uid.as_str(), entry.recurrence_id.as_ref(), anonymous);
            groups.entry(key).or_default().push(Version {
                key: item.key,
                received: item.received,
                sender: item.sender,
                index,
                entry,
                cancel,
            });
        }
    }

    let mut out: Vec<(GroupKey<'_>, Event)> = groups
        .into_iter()
        .filter_map(|(group, mut versions)| {
            versions.sort_by(|a, b| a.arrival().cmp(&b.arrival()));
            event(&versions).map(|e| (group, e))
        })
        .collect();

    // A cancelled master cancels its overrides.
    let masters: BTreeMap<String, Option<String>> = out
        .iter()
        .filter(|(_, e)| e.cancelled && e.recurrence_id.is_none() && !e.uid.is_empty())
        .map(|(_, e)| (e.uid.clone(), e.cancelled_by.clone()))
        .collect();
    for (_, e) in &mut out {
        if e.recurrence_id.is_some() && !e.cancelled {
            if let Some(by) = masters.get(&e.uid) {
                e.cancelled = true;
                e.cancelled_by.clone_from(by);
            }
        }
    }

    out.sort_by(|(ga, a), (gb, b)| start_value(a).cmp(start_value(b)).then_with(|| ga.cmp(gb)));
    out.into_iter().map(|(_, e)| e).collect()
}

/// Whether `v` may change an event whose first version is `first`: it
/// comes from the same sender, or from the organizer `first` names.
fn may_change(first: &Version<'_>, v: &Version<'_>) -> bool {
    let sender = v.sender.trim();
    sender.eq_ignore_ascii_case(first.sender.trim())
        || first
            .entry
            .organizer
            .as_deref()
            .is_some_and(|o| o.trim().eq_ignore_ascii_case(sender))
}

/// The event of one group's versions (in arrival order); `None` when empty.
fn event(all_versions: &[Version<'_>]) -> Option<Event> {
    let first = all_versions.first()?;
    let (versions, ignored): (Vec<&Version<'_>>, Vec<&Version<'_>>) =
        all_versions.iter().partition(|v| may_change(first, v));
    let current = current(&versions)?;
    let (shown, cancelled_by) = if current.cancel {
        let updates: Vec<&Version<'_>> = versions.iter().copied().filter(|v| !v.cancel).collect();
        (current_of_kind(&updates).unwrap_or(current), Some(current))
    } else {
        let by_status = current
            .entry
            .status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED"));
        (current, by_status.then_some(current))
    };
    let keys = |versions: &[&Version<'_>]| {
        let mut keys: Vec<String> = Vec::with_capacity(versions.len());
        for v in versions {
            if !keys.iter().any(|k| k == v.key) {
                keys.push(v.key.to_string());
            }
        }
        keys
    };
    Some(Event {
        uid: current.entry.uid.clone(),
        recurrence_id: current.entry.recurrence_id.clone(),
        entry: shown.entry.clone(),
        cancelled: cancelled_by.is_some(),
        cancelled_by: cancelled_by.map(|v| v.key.to_string()),
        current_key: shown.key.to_string(),
        versions: keys(&versions),
        ignored: keys(&ignored),
    })
}

/// The current version among `versions`: highest sequence, then a cancel.
fn current<'v, 'a>(versions: &[&'v Version<'a>]) -> Option<&'v Version<'a>> {
    let sequence = versions.iter().map(|v| v.entry.sequence).max()?;
    let cancels: Vec<&Version<'_>> = versions
        .iter()
        .copied()
        .filter(|v| v.cancel && v.entry.sequence == sequence)
        .collect();
    current_of_kind(if cancels.is_empty() {
        versions
    } else {
        &cancels
    })
}

/// The current version among versions of one kind (all updates or all
/// cancels): highest sequence, then latest stamp, received, key.
fn current_of_kind<'v, 'a>(versions: &[&'v Version<'a>]) -> Option<&'v Version<'a>> {
    let sequence = versions.iter().map(|v| v.entry.sequence).max()?;
    let top: Vec<&Version<'_>> = versions
        .iter()
        .copied()
        .filter(|v| v.entry.sequence == sequence)
        .collect();
    let stamps: Option<Vec<&str>> = top.iter().map(|v| utc_stamp(v.entry)).collect();
    let comparable = stamps.is_some_and(|s| s.windows(2).all(|w| w[0].len() == w[1].len()));
    top.into_iter().max_by(|a, b| {
        let by_stamp = if comparable {
            utc_stamp(a.entry).cmp(&utc_stamp(b.entry))
        } else {
            Ordering::Equal
        };
        by_stamp.then_with(|| a.arrival().cmp(&b.arrival()))
    })
}

/// `DTSTAMP` when it is a UTC date-time in basic format
/// (`20261201T090000Z`): digits, one `T`, a final `Z`.
fn utc_stamp(entry: &CalendarEntry) -> Option<&str> {
    let s = entry.stamp.as_deref()?.trim();
    let body = s.strip_suffix('Z')?;
    let (date, time) = body.split_once('T')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (digits(date) && digits(time)).then_some(s)
}

/// The start value an event sorts by (empty when it has none).
fn start_value(e: &Event) -> &str {
    e.entry.start.as_ref().map_or("", |t| t.value.as_str())
}

#[cfg(test)]
#[path = "calendar_test.rs"]
mod tests;

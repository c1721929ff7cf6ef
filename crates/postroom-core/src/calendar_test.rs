//! Tests of events built from invitations: versions, cancellations,
//! recurrences, order independence.

use super::*;

fn time(value: &str) -> CalendarTime {
    CalendarTime {
        value: value.to_string(),
        tzid: None,
    }
}

fn entry(uid: &str, sequence: u32, summary: &str, start: &str) -> CalendarEntry {
    CalendarEntry {
        uid: uid.to_string(),
        sequence,
        summary: summary.to_string(),
        start: Some(time(start)),
        ..CalendarEntry::default()
    }
}

fn stamped(mut e: CalendarEntry, stamp: &str) -> CalendarEntry {
    e.stamp = Some(stamp.to_string());
    e
}

struct Item {
    key: String,
    received: String,
    sender: String,
    invitation: Invitation,
}

fn item(key: &str, received: &str, method: &str, events: Vec<CalendarEntry>) -> Item {
    Item {
        key: key.to_string(),
        received: received.to_string(),
        sender: "organizer@contoso.example".to_string(),
        invitation: Invitation {
            method: method.to_string(),
            events,
        },
    }
}

fn refs(items: &[Item]) -> Vec<InvitationRef<'_>> {
    items
        .iter()
        .map(|i| InvitationRef {
            key: &i.key,
            received: &i.received,
            sender: &i.sender,
            invitation: &i.invitation,
        })
        .collect()
}

/// Events of `items`, checked to be the same for reversed and rotated input.
fn run(items: &[Item]) -> Vec<Event> {
    let forward = events(&refs(items));
    for shift in 1..items.len() {
        let mut other = refs(items);
        other.rotate_left(shift);
        assert_eq!(events(&other), forward, "rotated by {shift}");
    }
    let mut backward = refs(items);
    backward.reverse();
    assert_eq!(events(&backward), forward);
    forward
}

const T1: &str = "2026-03-01T10:00:00Z";
const T2: &str = "2026-03-01T11:00:00Z";
const T3: &str = "2026-03-01T12:00:00Z";
const T4: &str = "2026-03-01T13:00:00Z";

#[test]
fn methods() {
    for m in ["PUBLISH", "request", ""] {
        assert!(method_updates(m), "{m}");
        assert!(!method_cancels(m), "{m}");
    }
    for m in [
        "REPLY",
        "COUNTER",
        "DECLINECOUNTER",
        "REFRESH",
        "ADD",
        "X-OTHER",
    ] {
        assert!(!method_updates(m), "{m}");
        assert!(!method_cancels(m), "{m}");
    }
    assert!(method_cancels("cancel"));
    assert!(!method_updates("CANCEL"));
}

#[test]
fn request_then_update_with_higher_sequence() {
    let items = [
        item(
            "a",
            T1,
            "REQUEST",
            vec![entry("u1", 0, "Plan", "20261201T090000Z")],
        ),
        item(
            "b",
            T2,
            "REQUEST",
            vec![entry("u1", 1, "Plan (moved)", "20261202T090000Z")],
        ),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].uid, "u1");
    assert_eq!(e[0].entry.summary, "Plan (moved)");
    assert_eq!(e[0].current_key, "b");
    assert_eq!(e[0].versions, ["a", "b"]);
    assert!(!e[0].cancelled);
    assert_eq!(e[0].cancelled_by, None);
}

#[test]
fn update_arriving_before_the_original() {
    let items = [
        item(
            "b",
            T1,
            "REQUEST",
            vec![entry("u1", 2, "New", "20261202T090000Z")],
        ),
        item(
            "a",
            T2,
            "REQUEST",
            vec![entry("u1", 0, "Old", "20261201T090000Z")],
        ),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].entry.summary, "New");
    assert_eq!(e[0].current_key, "b");
    assert_eq!(e[0].versions, ["b", "a"]);
}

#[test]
fn equal_sequence_by_stamp_then_received_then_key() {
    let s = "20261201T090000Z";
    let by_stamp = [
        item(
            "a",
            T2,
            "REQUEST",
            vec![stamped(entry("u", 0, "A", s), "20260301T100000Z")],
        ),
        item(
            "b",
            T1,
            "REQUEST",
            vec![stamped(entry("u", 0, "B", s), "20260301T110000Z")],
        ),
    ];
    assert_eq!(run(&by_stamp)[0].entry.summary, "B");
    // A stamp that is not UTC is ignored: the later received wins.
    let local = [
        item(
            "a",
            T2,
            "REQUEST",
            vec![stamped(entry("u", 0, "A", s), "20260301T100000")],
        ),
        item(
            "b",
            T1,
            "REQUEST",
            vec![stamped(entry("u", 0, "B", s), "20260301T110000Z")],
        ),
    ];
    assert_eq!(run(&local)[0].entry.summary, "A");
    let same_time = [
        item("a", T1, "PUBLISH", vec![entry("u", 0, "A", s)]),
        item("b", T1, "PUBLISH", vec![entry("u", 0, "B", s)]),
    ];
    assert_eq!(run(&same_time)[0].entry.summary, "B");
}

#[test]
fn cancel_with_the_same_sequence() {
    let items = [
        item(
            "a",
            T1,
            "REQUEST",
            vec![entry("u1", 1, "Plan", "20261201T090000Z")],
        ),
        item("c", T2, "CANCEL", vec![entry("u1", 1, "", "")]),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 1);
    assert!(e[0].cancelled);
    assert_eq!(e[0].cancelled_by.as_deref(), Some("c"));
    // The update's entry stays visible.
    assert_eq!(e[0].entry.summary, "Plan");
    assert_eq!(e[0].current_key, "a");
    assert_eq!(e[0].versions, ["a", "c"]);
}

#[test]
fn cancel_beats_an_update_of_equal_sequence_received_later() {
    let items = [
        item("c", T1, "CANCEL", vec![entry("u1", 1, "", "")]),
        item(
            "a",
            T2,
            "REQUEST",
            vec![entry("u1", 1, "Plan", "20261201T090000Z")],
        ),
    ];
    let e = run(&items);
    assert!(e[0].cancelled);
    assert_eq!(e[0].entry.summary, "Plan");
}

#[test]
fn cancel_with_a_lower_sequence_is_ignored() {
    let items = [
        item(
            "a",
            T1,
            "REQUEST",
            vec![entry("u1", 0, "Plan", "20261201T090000Z")],
        ),
        item("c", T2, "CANCEL", vec![entry("u1", 0, "", "")]),
        item(
            "b",
            T3,
            "REQUEST",
            vec![entry("u1", 1, "Plan again", "20261201T090000Z")],
        ),
    ];
    let e = run(&items);
    assert!(!e[0].cancelled);
    assert_eq!(e[0].entry.summary, "Plan again");
    assert_eq!(e[0].current_key, "b");
    assert_eq!(e[0].versions, ["a", "c", "b"]);
}

#[test]
fn only_a_cancel_seen() {
    let items = [item(
        "c",
        T1,
        "CANCEL",
        vec![entry("u1", 3, "Gone", "20261201T090000Z")],
    )];
    let e = run(&items);
    assert_eq!(e.len(), 1);
    assert!(e[0].cancelled);
    assert_eq!(e[0].entry.summary, "Gone");
    assert_eq!(e[0].current_key, "c");
}

#[test]
fn replies_and_counters_change_nothing() {
    let items = [
        item(
            "a",
            T1,
            "REQUEST",
            vec![entry("u1", 0, "Plan", "20261201T090000Z")],
        ),
        item(
            "r",
            T2,
            "REPLY",
            vec![entry("u1", 5, "Accepted: Plan", "20261201T090000Z")],
        ),
        item(
            "k",
            T3,
            "COUNTER",
            vec![entry("u1", 6, "Plan", "20261203T090000Z")],
        ),
        item(
            "x",
            T4,
            "REPLY",
            vec![entry("only-replied", 0, "Ghost", "20261201T090000Z")],
        ),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].entry.summary, "Plan");
    assert_eq!(e[0].versions, ["a"]);
}

#[test]
fn recurring_event_and_its_override_are_separate() {
    let mut master = entry("u1", 0, "Weekly", "20261201T090000Z");
    master.recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=10".to_string()];
    let mut moved = entry("u1", 1, "Weekly (moved)", "20261208T100000Z");
    moved.recurrence_id = Some(time("20261208T090000Z"));
    let items = [
        item("a", T1, "REQUEST", vec![master]),
        item("b", T2, "REQUEST", vec![moved]),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].recurrence_id, None);
    assert_eq!(e[0].entry.recurrence, ["RRULE:FREQ=WEEKLY;COUNT=10"]);
    assert_eq!(e[0].versions, ["a"]);
    assert_eq!(e[1].recurrence_id, Some(time("20261208T090000Z")));
    assert_eq!(e[1].entry.summary, "Weekly (moved)");
    assert_eq!(e[1].versions, ["b"]);
}

#[test]
fn cancelling_one_occurrence_leaves_the_series() {
    let mut master = entry("u1", 0, "Weekly", "20261201T090000Z");
    master.recurrence = vec!["RRULE:FREQ=WEEKLY".to_string()];
    let mut gone = entry("u1", 1, "", "20261208T090000Z");
    gone.recurrence_id = Some(time("20261208T090000Z"));
    let items = [
        item("a", T1, "REQUEST", vec![master]),
        item("c", T2, "CANCEL", vec![gone]),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 2);
    assert!(!e[0].cancelled);
    assert!(e[1].cancelled);
    assert_eq!(e[1].current_key, "c");
}

#[test]
fn cancelling_the_master_cancels_its_overrides() {
    let mut master = entry("u1", 0, "Weekly", "20261201T090000Z");
    master.recurrence = vec!["RRULE:FREQ=WEEKLY".to_string()];
    let mut moved = entry("u1", 1, "Moved", "20261208T100000Z");
    moved.recurrence_id = Some(time("20261208T090000Z"));
    let mut cancel = entry("u1", 2, "Weekly", "20261201T090000Z");
    cancel.recurrence = master.recurrence.clone();
    let items = [
        item("a", T1, "REQUEST", vec![master]),
        item("b", T2, "REQUEST", vec![moved]),
        item("c", T3, "CANCEL", vec![cancel]),
        item(
            "o",
            T1,
            "REQUEST",
            vec![entry("u2", 0, "Other", "20261202T090000Z")],
        ),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 3);
    let by_uid = |uid: &str, recurring: bool| {
        e.iter()
            .find(|x| x.uid == uid && x.recurrence_id.is_some() == recurring)
            .cloned()
    };
    let master = by_uid("u1", false).unwrap();
    let moved = by_uid("u1", true).unwrap();
    assert!(master.cancelled);
    assert_eq!(master.entry.summary, "Weekly");
    assert!(moved.cancelled);
    assert_eq!(moved.cancelled_by.as_deref(), Some("c"));
    assert_eq!(moved.entry.summary, "Moved");
    assert!(!by_uid("u2", false).unwrap().cancelled);
}

#[test]
fn status_cancelled_cancels() {
    let mut e1 = entry("u1", 1, "Plan", "20261201T090000Z");
    e1.status = Some("CANCELLED".to_string());
    let items = [
        item(
            "a",
            T1,
            "REQUEST",
            vec![entry("u1", 0, "Plan", "20261201T090000Z")],
        ),
        item("b", T2, "REQUEST", vec![e1]),
    ];
    let e = run(&items);
    assert!(e[0].cancelled);
    assert_eq!(e[0].cancelled_by.as_deref(), Some("b"));
    assert_eq!(e[0].current_key, "b");
    // A later update with a higher sequence restores it.
    let mut again = items.into_iter().collect::<Vec<_>>();
    again.push(item(
        "c",
        T3,
        "REQUEST",
        vec![entry("u1", 2, "Plan", "20261201T090000Z")],
    ));
    let e = run(&again);
    assert!(!e[0].cancelled);
}

#[test]
fn one_invitation_with_two_events() {
    let items = [
        item(
            "a",
            T1,
            "PUBLISH",
            vec![
                entry("u2", 0, "Second", "20261202T090000Z"),
                entry("u1", 0, "First", "20261201T090000Z"),
            ],
        ),
        item("c", T2, "CANCEL", vec![entry("u2", 0, "", "")]),
    ];
    let e = run(&items);
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].uid, "u1");
    assert_eq!(e[0].entry.summary, "First");
    assert!(!e[0].cancelled);
    assert_eq!(e[1].uid, "u2");
    assert!(e[1].cancelled);
    assert_eq!(e[1].entry.summary, "Second");
    assert_eq!(e[1].versions, ["a", "c"]);
}

#[test]
fn ordered_by_start_then_uid() {
    let items = [item(
        "a",
        T1,
        "PUBLISH",
        vec![
            entry("b", 0, "B", "20261201T090000Z"),
            entry("a", 0, "A", "20261201T090000Z"),
            entry("c", 0, "C", "20261130"),
        ],
    )];
    let uids: Vec<String> = run(&items).into_iter().map(|e| e.uid).collect();
    assert_eq!(uids, ["c", "a", "b"]);
}

#[test]
fn entries_without_uid_stay_apart() {
    let items = [
        item(
            "a",
            T1,
            "PUBLISH",
            vec![entry("", 0, "One", "20261201T090000Z")],
        ),
        item(
            "b",
            T2,
            "PUBLISH",
            vec![entry("", 0, "Two", "20261202T090000Z")],
        ),
    ];
    assert_eq!(run(&items).len(), 2);
    assert!(events(&[]).is_empty());
}

#[test]
fn only_the_first_sender_or_the_organizer_may_change_an_event() {
    let mut organized = entry("u", 0, "Review", "20261201T100000");
    organized.organizer = Some("boss@contoso.example".into());
    let mut first = item("a", T1, "REQUEST", vec![organized.clone()]);
    first.sender = "assistant@contoso.example".into();
    // A stranger's cancel at a higher sequence is ignored.
    let mut cancel = item(
        "b",
        T2,
        "CANCEL",
        vec![entry("u", 5, "Review", "20261201T100000")],
    );
    cancel.sender = "mallory@evil.example".into();
    // The organizer named in the first version may update it.
    let mut moved = entry("u", 1, "Review (moved)", "20261202T100000");
    moved.organizer = Some("boss@contoso.example".into());
    let mut update = item("c", T3, "REQUEST", vec![moved]);
    update.sender = "BOSS@contoso.example".into();
    let got = run(&[first, cancel, update]);
    assert_eq!(got.len(), 1);
    assert!(!got[0].cancelled);
    assert_eq!(got[0].entry.summary, "Review (moved)");
    assert_eq!(got[0].versions, ["a", "c"]);
    assert_eq!(got[0].ignored, ["b"]);
}

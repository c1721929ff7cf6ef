//! Tests of the iCalendar reader on invitations as Outlook, Exchange and
//! Google send them, and on hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::test_rng::Rng;

/// A calendar written with `\n` line ends, sent with CRLF.
fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn time(value: &str, tzid: Option<&str>) -> Option<CalendarTime> {
    Some(CalendarTime {
        value: value.to_string(),
        tzid: tzid.map(str::to_string),
    })
}

const OUTLOOK_REQUEST: &str = r#"BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ORGANIZER;CN=Anna Berg:mailto:anna.berg@contoso.example
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Stone:
 MAILTO:bob@contoso.example
ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN="Carol; Fi
 nance":mailto:carol@contoso.example
UID:040000008200E00074C5B7101A82E00800000000D0C2A1B2C3D4DA0100000000000000
 0010000000B1C2D3E4F5
SUMMARY;LANGUAGE=en-US:Q4 review
DTSTART;TZID=W. Europe Standard Time:20261201T100000
DTEND;TZID="W. Europe Standard Time":20261201T113000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20261124T081500Z
TRANSP:OPAQUE
STATUS:confirmed
SEQUENCE:2
LOCATION;LANGUAGE=en-US:Room 4.12
X-MICROSOFT-CDO-APPT-SEQUENCE:2
BEGIN:VALARM
DESCRIPTION:REMINDER
TRIGGER;RELATED=START:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
END:VCALENDAR
"#;

#[test]
fn outlook_request_with_vtimezone_and_tzid_times() {
    let invitation = read_invitation(&crlf(OUTLOOK_REQUEST)).unwrap();
    assert_eq!(invitation.method, "REQUEST");
    assert_eq!(invitation.events.len(), 1);
    let event = &invitation.events[0];
    assert_eq!(
        event.uid,
        "040000008200E00074C5B7101A82E00800000000D0C2A1B2C3D4DA01000000000000000010000000B1C2D3E4F5"
    );
    assert_eq!(event.sequence, 2);
    assert_eq!(event.summary, "Q4 review");
    assert_eq!(event.location.as_deref(), Some("Room 4.12"));
    assert_eq!(
        event.organizer.as_deref(),
        Some("anna.berg@contoso.example")
    );
    assert_eq!(
        event.attendees,
        ["bob@contoso.example", "carol@contoso.example"]
    );
    let tz = Some("W. Europe Standard Time");
    assert_eq!(event.start, time("20261201T100000", tz));
    assert_eq!(event.end, time("20261201T113000", tz));
    assert_eq!(event.status.as_deref(), Some("CONFIRMED"));
    assert_eq!(event.stamp.as_deref(), Some("20261124T081500Z"));
    // Neither the time zone's rules nor the alarm's text leak into the event.
    assert!(event.recurrence.is_empty());
    assert_eq!(event.description, None);
    assert_eq!(event.duration, None);
    assert_eq!(event.recurrence_id, None);
}

#[test]
fn folded_long_description_with_escapes() {
    let ics = concat!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:fold-1\r\n",
        "DESCRIPTION;LANGUAGE=en-US:Agenda:\\n1. Budget\\, forecast\\; risks\\N2. Pl",
        "ans in C:\\\\share\\\\q4\r\n",
        " and a long tail that goes past the seventy-five octets where Outlook f\r\n",
        "\tolds the line\\, twice.\r\n",
        "SUMMARY:Caf\u{e9} \\\\ bar\\, r\\;oom \\x kept\r\n",
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let invitation = read_invitation(ics.as_bytes()).unwrap();
    assert_eq!(invitation.method, "PUBLISH");
    let event = &invitation.events[0];
    assert_eq!(
        event.description.as_deref(),
        Some(
            "Agenda:\n1. Budget, forecast; risks\n2. Plans in C:\\share\\q4and a long tail \
             that goes past the seventy-five octets where Outlook folds the line, twice."
        )
    );
    assert_eq!(event.summary, "Café \\ bar, r;oom \\x kept");
}

#[test]
fn a_fold_inside_a_utf8_sequence_is_joined_before_decoding() {
    let ics = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:Caf\xc3\r\n \xa9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let invitation = read_invitation(ics).unwrap();
    assert_eq!(invitation.events[0].summary, "Café");
}

#[test]
fn cancel() {
    let ics = r#"BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:cancel
BEGIN:VEVENT
UID:standup-2026@contoso.example
SEQUENCE:3
STATUS:CANCELLED
SUMMARY:Cancelled: Standup
DTSTART:20261202T090000Z
DTEND:20261202T091500Z
DTSTAMP:20261130T170000Z
ORGANIZER:MAILTO:lead@contoso.example
END:VEVENT
END:VCALENDAR
"#;
    let invitation = read_invitation(&crlf(ics)).unwrap();
    assert_eq!(invitation.method, "CANCEL");
    let event = &invitation.events[0];
    assert_eq!(event.uid, "standup-2026@contoso.example");
    assert_eq!(event.sequence, 3);
    assert_eq!(event.status.as_deref(), Some("CANCELLED"));
    assert_eq!(event.start, time("20261202T090000Z", None));
    assert_eq!(event.organizer.as_deref(), Some("lead@contoso.example"));
}

#[test]
fn recurring_event_with_exdate_and_an_override() {
    let ics = r#"BEGIN:VCALENDAR
METHOD:REQUEST
BEGIN:VEVENT
UID:weekly-1
DTSTART;TZID=Europe/Berlin:20261201T100000
DURATION:PT1H
RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10
EXDATE;TZID=Europe/Berlin:20261208T100000,20261222T100000
RDATE;VALUE=DATE:20261231
SUMMARY:Weekly sync
END:VEVENT
BEGIN:VEVENT
UID:weekly-1
RECURRENCE-ID;TZID=Europe/Berlin:20261215T100000
DTSTART;TZID=Europe/Berlin:20261215T140000
DTEND;TZID=Europe/Berlin:20261215T150000
SEQUENCE:1
SUMMARY:Weekly sync (moved)
END:VEVENT
END:VCALENDAR
"#;
    let invitation = read_invitation(&crlf(ics)).unwrap();
    let [master, moved] = invitation.events.as_slice() else {
        panic!("two events expected: {:?}", invitation.events);
    };
    assert_eq!(
        master.recurrence,
        [
            "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10",
            "EXDATE;TZID=Europe/Berlin:20261208T100000,20261222T100000",
            "RDATE;VALUE=DATE:20261231",
        ]
    );
    assert_eq!(master.duration.as_deref(), Some("PT1H"));
    assert_eq!(master.end, None);
    assert_eq!(master.recurrence_id, None);
    assert_eq!(moved.uid, "weekly-1");
    assert_eq!(moved.sequence, 1);
    assert_eq!(
        moved.recurrence_id,
        time("20261215T100000", Some("Europe/Berlin"))
    );
    assert_eq!(moved.start, time("20261215T140000", Some("Europe/Berlin")));
    assert!(moved.recurrence.is_empty());
}

#[test]
fn google_style_utf8_invite() {
    let ics = r#"BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VEVENT
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261225
DTSTAMP:20261120T101010Z
ORGANIZER;CN=Jürgen Müller:mailto:juergen@gmail.example
UID:7kukuqrfedlm2f9t0vd4g9e8ko@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Jürgen
  Müller;X-NUM-GUESTS=0:mailto:juergen@gmail.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=zoë@example.org;X-NUM-GUESTS=0:mailto:zoë@example.org
X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij
CREATED:20261120T101000Z
DESCRIPTION:Weihnachtsfeier 🎄 im Büro – bitte Glühwein mitbringen.\n\nJoin 
 with Google Meet: https://meet.google.com/abc-defg-hij
LAST-MODIFIED:20261120T101010Z
LOCATION:Café Zürich\, Bahnhofstraße 1
SEQUENCE:0
STATUS:TENTATIVE
SUMMARY:Weihnachtsfeier 🎄
TRANSP:TRANSPARENT
END:VEVENT
END:VCALENDAR
"#;
    let invitation = read_invitation(&crlf(ics)).unwrap();
    let event = &invitation.events[0];
    assert_eq!(event.uid, "7kukuqrfedlm2f9t0vd4g9e8ko@google.com");
    assert_eq!(event.summary, "Weihnachtsfeier 🎄");
    assert_eq!(
        event.description.as_deref(),
        Some(
            "Weihnachtsfeier 🎄 im Büro – bitte Glühwein mitbringen.\n\n\
             Join with Google Meet: https://meet.google.com/abc-defg-hij"
        )
    );
    assert_eq!(
        event.location.as_deref(),
        Some("Café Zürich, Bahnhofstraße 1")
    );
    assert_eq!(
        event.attendees,
        ["juergen@gmail.example", "zoë@example.org"]
    );
    assert_eq!(event.start, time("20261224", None));
    assert_eq!(event.end, time("20261225", None));
    assert_eq!(event.status.as_deref(), Some("TENTATIVE"));
}

#[test]
fn lf_only_line_endings() {
    let ics = "BEGIN:VCALENDAR\nMETHOD:PUBLISH\nBEGIN:VEVENT\nUID:lf-1\nSUMMARY:Folded\n  with LF\nDTSTART:20261201T080000Z\nEND:VEVENT\nEND:VCALENDAR";
    let invitation = read_invitation(ics.as_bytes()).unwrap();
    let event = &invitation.events[0];
    assert_eq!(event.uid, "lf-1");
    assert_eq!(event.summary, "Folded with LF");
    assert_eq!(event.start, time("20261201T080000Z", None));
}

#[test]
fn event_without_uid_is_named() {
    let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:first\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Lunch\nEND:VEVENT\nEND:VCALENDAR\n";
    let error = read_invitation(ics.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        MailError::EventWithoutUid {
            number: 2,
            summary: "Lunch".to_string()
        }
    );
    assert_eq!(error.to_string(), "event 2 (summary \"Lunch\") has no UID");
}

#[test]
fn bad_sequence_is_named() {
    for bad in ["-1", "two", "4294967296", ""] {
        let ics = format!(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:seq-1\nSEQUENCE:{bad}\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        let error = read_invitation(ics.as_bytes()).unwrap_err();
        assert_eq!(
            error,
            MailError::InvalidSequence {
                uid: "seq-1".to_string(),
                value: bad.to_string()
            }
        );
        assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
    }
}

#[test]
fn calendars_without_events_or_without_vcalendar() {
    let todo = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:t\nEND:VTODO\nEND:VCALENDAR\n";
    let tz = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nEND:VTIMEZONE\nEND:VCALENDAR\n";
    for ics in [todo, tz] {
        let error = read_invitation(ics.as_bytes()).unwrap_err();
        assert_eq!(error, MailError::NoEvent);
        assert_eq!(error.to_string(), "no VEVENT in the calendar");
    }
    let bare = "BEGIN:VEVENT\nUID:x\nEND:VEVENT\n";
    assert_eq!(
        read_invitation(bare.as_bytes()),
        Err(MailError::NoCalendar { len: bare.len() })
    );
    assert_eq!(read_invitation(b""), Err(MailError::NoCalendar { len: 0 }));
}

#[test]
fn content_lines_with_quoted_and_multiple_parameter_values() {
    let line = r#"ATTENDEE;DELEGATED-TO="mailto:a@x.example","mailto:b@x.example";CN="Smith; John: ^'Jr^'";ROLE=CHAIR:mailto:c@x.example"#;
    let p = parse_line(line.to_string()).unwrap();
    assert_eq!(p.name, "ATTENDEE");
    assert_eq!(p.value, "mailto:c@x.example");
    assert_eq!(p.params.len(), 3);
    assert_eq!(p.params[0].name, "DELEGATED-TO");
    assert_eq!(
        p.params[0].values,
        ["mailto:a@x.example", "mailto:b@x.example"]
    );
    assert_eq!(p.params[1].values, ["Smith; John: \"Jr\""]);
    assert_eq!(p.param("ROLE").as_deref(), Some("CHAIR"));
    assert_eq!(p.line, line);
    // Not content lines.
    assert!(parse_line("no colon here".to_string()).is_none());
    assert!(parse_line(":value without name".to_string()).is_none());
    assert!(parse_line("X;P=\"unterminated:v".to_string()).is_none());
    assert!(parse_line("X;P=\"q\"junk:v".to_string()).is_none());
}

#[test]
fn unbalanced_components_are_closed_leniently() {
    // A stray END, an END closing an alarm left open, no final END.
    let ics = "END:VEVENT\nBEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nBEGIN:VALARM\nDESCRIPTION:x\nEND:VEVENT\nEND:\nBEGIN:VEVENT\nUID:b\n";
    let invitation = read_invitation(ics.as_bytes()).unwrap();
    let uids: Vec<&str> = invitation.events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids, ["a", "b"]);
    assert_eq!(invitation.events[0].description, None);
}

#[test]
fn deep_nesting_is_refused() {
    let nested = |depth: usize| {
        let mut ics = String::from("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:deep\n");
        for _ in 2..depth {
            ics.push_str("BEGIN:X-LEVEL\n");
        }
        ics.push_str("END:VEVENT\nEND:VCALENDAR\n");
        ics
    };
    assert!(read_invitation(nested(MAX_DEPTH).as_bytes()).is_ok());
    let error = read_invitation(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err();
    assert_eq!(
        error,
        MailError::CalendarTooDeep {
            max: MAX_DEPTH,
            component: "X-LEVEL".to_string(),
            line: MAX_DEPTH + 2,
        }
    );
    let hostile = "BEGIN:VCALENDAR\n".repeat(100_000);
    assert!(matches!(
        read_invitation(hostile.as_bytes()),
        Err(MailError::CalendarTooDeep { .. })
    ));
}

#[test]
fn too_many_lines_are_refused() {
    let mut ics = String::from("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:long\n");
    ics.push_str(&"X-FILLER:1\n".repeat(MAX_LINES));
    assert_eq!(
        read_invitation(ics.as_bytes()),
        Err(MailError::CalendarTooLong { max: MAX_LINES })
    );
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x1c5_f00d);
    for _ in 0..2_000 {
        let _ = read_invitation(&rng.random_bytes(600));
    }
    // Valid calendars with bytes flipped, cut and duplicated.
    let valid = crlf(OUTLOOK_REQUEST);
    let alphabet = b"\r\n \t:;,=\"\\^BEGINDVAL\xc3\xff";
    for _ in 0..3_000 {
        let mut bytes = valid.clone();
        for _ in 0..=rng.below(8) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                1 => bytes.truncate(at),
                _ => {
                    let end = (at + rng.below(40)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        let _ = read_invitation(&bytes);
    }
}

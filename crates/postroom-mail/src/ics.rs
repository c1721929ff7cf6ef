//! iCalendar (RFC 5545): [`read_invitation`] reads the method and the events
//! of a `text/calendar` part into an [`Invitation`] for a calendar list.
//!
//! This module owns the reading of the format: unfolding lines, splitting a
//! content line into name, parameters and value, unescaping TEXT values and
//! nesting `BEGIN`/`END` components. Times are kept as written (value and
//! `TZID`), never converted; recurrence lines are kept whole. Work is
//! bounded: at most [`MAX_DEPTH`] nested components and [`MAX_LINES`]
//! content lines.

use postroom_core::list_item::{CalendarEntry, CalendarTime, Invitation};

use crate::error::{quoted, MailError};

/// Deepest component nesting accepted (`VCALENDAR` > `VEVENT` > `VALARM`
/// is 3).
const MAX_DEPTH: usize = 16;

/// Most content lines accepted (an invitation has a few hundred).
const MAX_LINES: usize = 200_000;

/// The recurrence properties kept as written.
const RECURRENCE: [&str; 4] = ["RRULE", "RDATE", "EXDATE", "EXRULE"];

/// One content line: `NAME;PARAM=value,value:value`.
#[derive(Debug)]
struct Property {
    /// Uppercase.
    name: String,
    params: Vec<Param>,
    /// As written (not unescaped).
    value: String,
    /// The whole unfolded line, as written.
    line: String,
}

/// A property parameter: uppercase name, values unquoted and RFC 6868
/// caret-decoded.
#[derive(Debug)]
struct Param {
    name: String,
    values: Vec<String>,
}

/// A `BEGIN:NAME` ... `END:NAME` block.
#[derive(Debug, Default)]
struct Component {
    /// Uppercase; empty for the root that holds the top-level components.
    name: String,
    properties: Vec<Property>,
    children: Vec<Component>,
}

impl Component {
    fn named(name: String) -> Self {
        Component {
            name,
            ..Component::default()
        }
    }

    /// The first property called `name` (uppercase).
    fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

impl Property {
    /// The first value of parameter `name` (uppercase), trimmed, if not
    /// empty.
    fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.values.first())
            .and_then(|v| non_empty(v))
    }
}

/// Read a `text/calendar` part: its `METHOD` (uppercase, `PUBLISH` when
/// absent) and one [`CalendarEntry`] per `VEVENT`, in order.
///
/// Bytes that are not UTF-8 are read lossily. Fails when there is no
/// `VCALENDAR` or no `VEVENT` in it, when an event has no `UID` or an
/// invalid `SEQUENCE`, or when the data is nested or long beyond the bounds.
pub fn read_invitation(bytes: &[u8]) -> Result<Invitation, MailError> {
    let root = components(unfold(bytes)?)?;
    let calendars: Vec<&Component> = root
        .children
        .iter()
        .filter(|c| c.name == "VCALENDAR")
        .collect();
    if calendars.is_empty() {
        return Err(MailError::NoCalendar { len: bytes.len() });
    }
    let method = calendars
        .iter()
        .find_map(|c| c.property("METHOD"))
        .and_then(|p| non_empty(&p.value))
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| "PUBLISH".to_string());
    let mut events = Vec::new();
    for event in calendars
        .iter()
        .flat_map(|c| c.children.iter())
        .filter(|c| c.name == "VEVENT")
    {
        events.push(entry(event, events.len() + 1)?);
    }
    if events.is_empty() {
        return Err(MailError::NoEvent);
    }
    Ok(Invitation { method, events })
}

/// One `VEVENT` (the `number`th, from 1) as a [`CalendarEntry`].
fn entry(event: &Component, number: usize) -> Result<CalendarEntry, MailError> {
    let text = |name: &str| {
        event
            .property(name)
            .and_then(|p| non_empty(&unescape(&p.value)))
    };
    let summary = text("SUMMARY").unwrap_or_default();
    let uid = text("UID").ok_or_else(|| MailError::EventWithoutUid {
        number,
        summary: quoted(&summary),
    })?;
    let sequence = match event.property("SEQUENCE") {
        None => 0,
        Some(p) => p
            .value
            .trim()
            .parse::<u32>()
            .map_err(|_| MailError::InvalidSequence {
                uid: quoted(&uid),
                value: quoted(p.value.trim()),
            })?,
    };
    let time = |name: &str| event.property(name).and_then(calendar_time);
    let raw = |name: &str| event.property(name).and_then(|p| non_empty(&p.value));
    Ok(CalendarEntry {
        recurrence_id: time("RECURRENCE-ID"),
        description: text("DESCRIPTION"),
        location: text("LOCATION"),
        organizer: event.property("ORGANIZER").and_then(address),
        attendees: event
            .properties
            .iter()
            .filter(|p| p.name == "ATTENDEE")
            .filter_map(address)
            .collect(),
        start: time("DTSTART"),
        end: time("DTEND"),
        duration: raw("DURATION"),
        status: raw("STATUS").map(|s| s.to_ascii_uppercase()),
        recurrence: event
            .properties
            .iter()
            .filter(|p| RECURRENCE.contains(&p.name.as_str()))
            .map(|p| p.line.trim_end().to_string())
            .collect(),
        stamp: raw("DTSTAMP"),
        uid,
        sequence,
        summary,
    })
}

/// A date or date-time property: its value and `TZID`, as written.
fn calendar_time(p: &Property) -> Option<CalendarTime> {
    Some(CalendarTime {
        value: non_empty(&p.value)?,
        tzid: p.param("TZID"),
    })
}

/// A `CAL-ADDRESS` without its (case-insensitive) `mailto:`.
fn address(p: &Property) -> Option<String> {
    let value = p.value.trim();
    let bare = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value.get(7..).unwrap_or(""),
        _ => value,
    };
    non_empty(bare)
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The content lines: physical lines (CRLF or LF) joined where the next
/// begins with a space or tab (that one character removed), decoded
/// lossily after joining (a fold may split a UTF-8 sequence). Empty lines
/// are skipped.
fn unfold(bytes: &[u8]) -> Result<Vec<String>, MailError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut lines = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for physical in bytes.split(|&b| b == b'\n') {
        let physical = physical.strip_suffix(b"\r").unwrap_or(physical);
        match (physical.split_first(), current.as_mut()) {
            (Some((b' ' | b'\t', rest)), Some(line)) => line.extend_from_slice(rest),
            (None, _) => {}
            _ => {
                if let Some(line) = current.replace(physical.to_vec()) {
                    push_line(&mut lines, &line)?;
                }
            }
        }
    }
    if let Some(line) = current {
        push_line(&mut lines, &line)?;
    }
    Ok(lines)
}

fn push_line(lines: &mut Vec<String>, line: &[u8]) -> Result<(), MailError> {
    if lines.len() >= MAX_LINES {
        return Err(MailError::CalendarTooLong { max: MAX_LINES });
    }
    lines.push(String::from_utf8_lossy(line).into_owned());
    Ok(())
}

/// Nest the content lines into components under a nameless root. An `END`
/// closes the innermost open component of its name (and any left open
/// inside it); an `END` matching nothing is ignored, and what is still open
/// at the end is closed. Lines that are not content lines are skipped.
fn components(lines: Vec<String>) -> Result<Component, MailError> {
    let mut stack = vec![Component::default()];
    for (index, line) in lines.into_iter().enumerate() {
        let Some(property) = parse_line(line) else {
            continue;
        };
        match property.name.as_str() {
            "BEGIN" => {
                let name = property.value.trim().to_ascii_uppercase();
                if stack.len() > MAX_DEPTH {
                    return Err(MailError::CalendarTooDeep {
                        max: MAX_DEPTH,
                        component: quoted(&name),
                        line: index + 1,
                    });
                }
                stack.push(Component::named(name));
            }
            "END" => {
                let name = property.value.trim().to_ascii_uppercase();
                let open = stack.iter().rposition(|c| c.name == name);
                if let Some(open) = open.filter(|&open| open > 0) {
                    while stack.len() > open {
                        close(&mut stack);
                    }
                }
            }
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.properties.push(property);
                }
            }
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    Ok(stack.pop().unwrap_or_default())
}

/// Pop the innermost open component into its parent.
fn close(stack: &mut Vec<Component>) {
    if let Some(child) = stack.pop() {
        if let Some(parent) = stack.last_mut() {
            parent.children.push(child);
        }
    }
}

/// Split a content line `name *(";" param) ":" value`. Parameter values may
/// be quoted (`"..."`, holding `;`, `:` and `,`) and several, comma-separated.
/// `None` when the line is not a content line (no name, no `:`, junk after
/// a quoted value).
fn parse_line(line: String) -> Option<Property> {
    let bytes = line.as_bytes();
    let name_end = bytes.iter().position(|&b| b == b';' || b == b':')?;
    let name = line.get(..name_end)?.trim().to_ascii_uppercase();
    if name.is_empty() {
        return None;
    }
    let mut pos = name_end;
    let mut params = Vec::new();
    let value = loop {
        match bytes.get(pos)? {
            b':' => break line.get(pos + 1..)?.to_string(),
            b';' => {
                pos += 1;
                let start = pos;
                while bytes
                    .get(pos)
                    .is_some_and(|b| !matches!(b, b'=' | b';' | b':'))
                {
                    pos += 1;
                }
                let param_name = line.get(start..pos)?.trim().to_ascii_uppercase();
                let mut values = Vec::new();
                if bytes.get(pos) == Some(&b'=') {
                    loop {
                        pos += 1; // past '=' or ','
                        let (value, end) = param_value(&line, pos)?;
                        values.push(value);
                        pos = end;
                        if bytes.get(pos) != Some(&b',') {
                            break;
                        }
                    }
                }
                params.push(Param {
                    name: param_name,
                    values,
                });
            }
            _ => return None,
        }
    };
    Some(Property {
        name,
        params,
        value,
        line,
    })
}

/// One parameter value starting at byte `pos`: the decoded value and the
/// byte position after it.
fn param_value(line: &str, pos: usize) -> Option<(String, usize)> {
    let bytes = line.as_bytes();
    if bytes.get(pos) == Some(&b'"') {
        let start = pos + 1;
        let len = bytes.get(start..)?.iter().position(|&b| b == b'"')?;
        Some((caret_decode(line.get(start..start + len)?), start + len + 1))
    } else {
        let mut end = pos;
        while bytes
            .get(end)
            .is_some_and(|b| !matches!(b, b',' | b';' | b':'))
        {
            end += 1;
        }
        Some((caret_decode(line.get(pos..end)?), end))
    }
}

/// RFC 6868 parameter value encoding: `^n` newline, `^'` quote, `^^` caret;
/// any other caret is kept.
fn caret_decode(value: &str) -> String {
    if !value.contains('^') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let decoded = match (c, chars.peek()) {
            ('^', Some('n')) => '\n',
            ('^', Some('\'')) => '"',
            ('^', Some('^')) => '^',
            _ => {
                out.push(c);
                continue;
            }
        };
        chars.next();
        out.push(decoded);
    }
    out
}

/// Unescape a TEXT value: `\n` and `\N` newline, `\\`, `\;`, `\,`; any
/// other backslash is kept as written.
fn unescape(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(escaped @ ('\\' | ';' | ',')) => out.push(escaped),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
#[path = "ics_test.rs"]
mod tests;

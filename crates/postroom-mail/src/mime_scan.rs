//! A small MIME scanner over the raw bytes of a message: walks headers,
//! multipart boundaries and nested messages the way mail-parser's parser
//! does (its control flow, copied: where a part's body starts, how each
//! transfer encoding finds the end of it, what happens after a boundary),
//! without decoding anything, and reports the base64 leaves
//! ([`base64_leaves`]): where each body starts and ends.
//!
//! Only a guide: the lean parse (`lean.rs`) checks every leaf against
//! mail-parser's own view before it trusts it, so a header this scanner reads
//! differently (an exotic `boundary` parameter, say) costs memory, never a
//! wrong byte. Sans-IO: bytes in, offsets out; never panics.

use std::ops::Range;

use crate::base64_body;

/// A base64 body outside any attached message: `start..end` as mail-parser
/// delimits it (`end` is its `offset_end`), holding only the base64
/// alphabet, `=` and whitespace.
pub(crate) type Leaf = Range<usize>;

/// What a part's `Content-Type` makes it, as far as structure goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A message (the top one, or `message/rfc822` / `message/global`).
    Message,
    /// `multipart/digest`: parts without a type are messages.
    Digest,
    /// Any other multipart.
    Multipart,
    /// Anything else: a leaf.
    Leaf,
}

/// `Content-Transfer-Encoding`, as mail-parser tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Base64,
    QuotedPrintable,
    None,
}

/// The headers of one part that shape the structure (the last of each wins,
/// as with mail-parser).
#[derive(Debug, Default)]
struct Headers {
    /// `(type, subtype)`, lowercase.
    content_type: Option<(String, String)>,
    boundary: Option<Vec<u8>>,
    encoding: Option<Encoding>,
}

/// Where the parser is: the kind of the enclosing entity and the boundary
/// its parts end at.
#[derive(Debug)]
struct State {
    kind: Kind,
    boundary: Option<Vec<u8>>,
}

/// Every base64 leaf of the message that is not inside an attached message,
/// in order.
pub(crate) fn base64_leaves(raw: &[u8]) -> Vec<Leaf> {
    let mut leaves = Vec::new();
    let mut pos = 0;
    let mut state = State {
        kind: Kind::Message,
        boundary: None,
    };
    // Entered entities; `true` for an attached message.
    let mut stack: Vec<(State, bool)> = Vec::new();
    // How many of the stack's entries are attached messages (kept as a
    // count: scanning the stack for each part would cost parts x depth).
    let mut open_messages: usize = 0;
    'outer: while let Some(headers) = read_headers(raw, &mut pos) {
        let (mut kind, is_multipart) = classify(headers.content_type.as_ref(), state.kind);
        if is_multipart {
            if let Some(boundary) = headers.boundary.filter(|b| !b.is_empty()) {
                if seek_next_part(raw, &mut pos, &boundary) {
                    stack.push((state, false));
                    state = State {
                        kind,
                        boundary: Some(boundary),
                    };
                    skip_crlf(raw, &mut pos);
                    continue;
                }
            }
            kind = Kind::Leaf;
        }
        let encoding = headers.encoding.unwrap_or(Encoding::None);
        if kind == Kind::Message && encoding == Encoding::None {
            let boundary = state.boundary.take();
            stack.push((state, true));
            open_messages += 1;
            state = State {
                kind: Kind::Message,
                boundary,
            };
            continue;
        }
        let boundary = state.boundary.clone().unwrap_or_default();
        let start = pos;
        let end = match encoding {
            Encoding::Base64 => base64_body::body_end(raw, start, &boundary),
            Encoding::QuotedPrintable => qp_end(raw, start, &boundary).map(|e| (e, false)),
            Encoding::None => plain_end(raw, start, &boundary).map(|e| (e, false)),
        };
        match end {
            Some((end, clean)) => {
                pos = skip_boundary(raw, end, &boundary);
                if clean && kind != Kind::Message && open_messages == 0 {
                    leaves.push(start..end);
                }
            }
            None => {
                pos = start;
                if !seek_part_end(raw, &mut pos, state.boundary.as_deref()) {
                    state.boundary = None;
                }
            }
        }
        if state.boundary.is_none() {
            if pos >= raw.len() {
                break;
            }
            continue;
        }
        loop {
            if state.kind == Kind::Message {
                // The attached message ends with its parent's part.
                match stack.pop() {
                    Some((mut parent, true)) => {
                        open_messages = open_messages.saturating_sub(1);
                        parent.boundary = state.boundary.take();
                        state = parent;
                    }
                    _ => break 'outer,
                }
            }
            if !is_multipart_end(raw, &mut pos) {
                break;
            }
            if let Some((parent, message)) = stack.pop() {
                open_messages = open_messages.saturating_sub(usize::from(message));
                state = parent;
                if let Some(boundary) = &state.boundary {
                    if seek_next_part(raw, &mut pos, boundary) {
                        continue;
                    }
                }
            }
            break 'outer;
        }
    }
    leaves
}

/// `(kind, is_multipart)` of a part, from its type and its parent's kind.
fn classify(content_type: Option<&(String, String)>, parent: Kind) -> (Kind, bool) {
    let Some((ctype, subtype)) = content_type else {
        return match parent {
            Kind::Digest => (Kind::Message, false),
            _ => (Kind::Leaf, false),
        };
    };
    match (ctype.as_str(), subtype.as_str()) {
        ("multipart", "digest") => (Kind::Digest, true),
        ("multipart", _) => (Kind::Multipart, true),
        ("message", "rfc822" | "global") => (Kind::Message, false),
        _ => (Kind::Leaf, false),
    }
}

/// Where the stream is after a body that ended at `end` with `boundary`:
/// just past the boundary (every body reader stops there), or at the end.
fn skip_boundary(raw: &[u8], end: usize, boundary: &[u8]) -> usize {
    if boundary.is_empty() {
        return raw.len();
    }
    let mut pos = end;
    while let Some(rest) = raw.get(pos..).filter(|r| !r.is_empty()) {
        if rest.starts_with(b"--") && rest.get(2..).is_some_and(|r| r.starts_with(boundary)) {
            return pos + 2 + boundary.len();
        }
        pos += 1;
    }
    raw.len()
}

/// mail-parser's `mime_part`: a body without transfer encoding ends at the
/// next `--boundary` (anywhere on a line); `None` when none follows.
fn plain_end(raw: &[u8], start: usize, boundary: &[u8]) -> Option<usize> {
    let mut pos = start;
    if boundary.is_empty() {
        return Some(raw.len());
    }
    seek_part_end(raw, &mut pos, Some(boundary)).then(|| part_end(raw, start, pos, boundary))
}

/// mail-parser's `decode_quoted_printable_mime`: like [`plain_end`], but
/// `=` while an escape is open is an encoding problem.
fn qp_end(raw: &[u8], start: usize, boundary: &[u8]) -> Option<usize> {
    #[derive(PartialEq)]
    enum Escape {
        None,
        Eq,
        Hex1,
    }
    let mut escape = Escape::None;
    let mut last = 0u8;
    let mut before_last = 0u8;
    let mut end_pos = start;
    let mut pos = start;
    while let Some(&ch) = raw.get(pos) {
        pos += 1;
        match ch {
            b'=' if escape == Escape::None => escape = Escape::Eq,
            b'=' => return None,
            b'\n' => {
                end_pos = if last == b'\r' { pos - 2 } else { pos - 1 };
                if escape == Escape::Eq {
                    escape = Escape::None;
                }
            }
            b'\r' => {}
            b'-' if !boundary.is_empty()
                && last == b'-'
                && raw.get(pos..).is_some_and(|r| r.starts_with(boundary)) =>
            {
                return Some(if before_last == b'\n' {
                    end_pos
                } else {
                    pos - 2
                });
            }
            _ => {
                escape = match escape {
                    Escape::None => Escape::None,
                    Escape::Eq if ch.is_ascii_hexdigit() => Escape::Hex1,
                    Escape::Eq if ch.is_ascii_whitespace() => Escape::Eq,
                    Escape::Eq | Escape::Hex1 => Escape::None,
                };
            }
        }
        before_last = last;
        last = ch;
    }
    boundary.is_empty().then_some(pos)
}

/// The end offset mail-parser gives a body from `start` whose boundary ends
/// at `after` (just past `--boundary`).
fn part_end(raw: &[u8], start: usize, after: usize, boundary: &[u8]) -> usize {
    let dashes = after.saturating_sub(boundary.len() + 2);
    let before = dashes.checked_sub(1).and_then(|i| raw.get(i).copied());
    if dashes > start && before == Some(b'\n') {
        let cr = dashes >= start + 2 && raw.get(dashes - 2) == Some(&b'\r');
        return if cr { dashes - 2 } else { dashes - 1 };
    }
    if dashes == start {
        return start;
    }
    dashes
}

/// mail-parser's `seek_part_end`: to just past the next `--boundary`
/// (`true`), or to the end (`false`). No boundary: to the end, `true`.
fn seek_part_end(raw: &[u8], pos: &mut usize, boundary: Option<&[u8]>) -> bool {
    let Some(boundary) = boundary else {
        *pos = raw.len();
        return true;
    };
    if seek_next_part(raw, pos, boundary) {
        return true;
    }
    *pos = raw.len();
    false
}

/// mail-parser's `seek_next_part`: to just past the next `--boundary`.
/// Unmoved when there is none.
fn seek_next_part(raw: &[u8], pos: &mut usize, boundary: &[u8]) -> bool {
    if boundary.is_empty() {
        return false;
    }
    let mut last = 0u8;
    let mut at = *pos;
    while let Some(&ch) = raw.get(at) {
        at += 1;
        if ch == b'-' && last == b'-' && raw.get(at..).is_some_and(|r| r.starts_with(boundary)) {
            *pos = at + boundary.len();
            return true;
        }
        last = ch;
    }
    false
}

/// mail-parser's `is_multipart_end`: `--` after a boundary closes the
/// multipart; a line break (or whitespace up to one) is stepped over.
fn is_multipart_end(raw: &[u8], pos: &mut usize) -> bool {
    match (raw.get(*pos), raw.get(*pos + 1)) {
        (Some(b'\r'), Some(b'\n')) => {
            *pos += 2;
            false
        }
        (Some(b'-'), Some(b'-')) => {
            *pos += 2;
            true
        }
        (Some(b'\n'), _) => {
            *pos += 1;
            false
        }
        (Some(a), _) if a.is_ascii_whitespace() => {
            *pos += 1;
            skip_crlf(raw, pos);
            false
        }
        _ => false,
    }
}

/// mail-parser's `skip_crlf`: whitespace up to and including one LF.
fn skip_crlf(raw: &[u8], pos: &mut usize) {
    while let Some(&ch) = raw.get(*pos) {
        match ch {
            b'\r' | b' ' | b'\t' => *pos += 1,
            b'\n' => {
                *pos += 1;
                break;
            }
            _ => break,
        }
    }
}

/// Read a header block from `pos` to just past its empty line. `None` when
/// the data ends first (mail-parser then stops parsing).
fn read_headers(raw: &[u8], pos: &mut usize) -> Option<Headers> {
    let mut headers = Headers::default();
    loop {
        // Whitespace before a field is skipped; a LF there ends the block.
        loop {
            match raw.get(*pos) {
                Some(b'\n') => {
                    *pos += 1;
                    return Some(headers);
                }
                None => return None,
                Some(ch) if !ch.is_ascii_whitespace() => break,
                Some(_) => *pos += 1,
            }
        }
        let Some(name) = header_name(raw, pos) else {
            if *pos >= raw.len() {
                return None;
            }
            continue;
        };
        let value = field_value(raw, pos);
        if name.eq_ignore_ascii_case(b"content-type") {
            let (content_type, boundary) = parse_content_type(value);
            headers.content_type = content_type;
            headers.boundary = boundary;
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            let value = String::from_utf8_lossy(value);
            let value = value.trim();
            headers.encoding = Some(if value.eq_ignore_ascii_case("base64") {
                Encoding::Base64
            } else if value.eq_ignore_ascii_case("quoted-printable") {
                Encoding::QuotedPrintable
            } else {
                Encoding::None
            });
        }
    }
}

/// A field's name (whitespace inside it dropped, as mail-parser does), up to
/// and past its colon. `None` for a line without one (skipped, LF included).
fn header_name(raw: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    // Only names up to this long matter (Content-Type and friends); a
    // longer one is kept cut, so a colon-less line never fills memory.
    const LONGEST_NAME: usize = 64;
    let mut name = Vec::new();
    let mut seen = false;
    while let Some(&ch) = raw.get(*pos) {
        *pos += 1;
        match ch {
            b':' if seen => return Some(name),
            b':' => {}
            b'\n' => return None,
            _ if ch.is_ascii_whitespace() => {}
            _ => {
                seen = true;
                if name.len() < LONGEST_NAME {
                    name.push(ch);
                }
            }
        }
    }
    seen.then_some(name)
}

/// A field's value, up to the LF that is not followed by a space or tab
/// (the stream moves past it); folding is left in.
fn field_value<'a>(raw: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = *pos;
    while let Some(&ch) = raw.get(*pos) {
        *pos += 1;
        if ch == b'\n' && !matches!(raw.get(*pos), Some(b' ' | b'\t')) {
            return raw.get(start..*pos - 1).unwrap_or_default();
        }
    }
    raw.get(start..).unwrap_or_default()
}

/// `(type, subtype)` lowercase and the `boundary` parameter of a
/// `Content-Type` value; quoted values unquoted, comments not understood.
fn parse_content_type(value: &[u8]) -> (Option<(String, String)>, Option<Vec<u8>>) {
    let mut params = split_params(value).into_iter();
    let Some(first) = params.next() else {
        return (None, None);
    };
    let first = String::from_utf8_lossy(&first).to_ascii_lowercase();
    let (ctype, subtype) = first.split_once('/').unwrap_or((first.as_str(), ""));
    let (ctype, subtype) = (ctype.trim(), subtype.trim());
    if ctype.is_empty() {
        return (None, None);
    }
    let mut boundary = None;
    for param in params {
        let Some(eq) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = param.split_at(eq);
        if !String::from_utf8_lossy(name)
            .trim()
            .eq_ignore_ascii_case("boundary")
        {
            continue;
        }
        boundary = Some(unquote(value.get(1..).unwrap_or_default()));
    }
    (Some((ctype.to_string(), subtype.to_string())), boundary)
}

/// The `;`-separated pieces of a header value (`;` inside quotes kept).
fn split_params(value: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = vec![Vec::new()];
    let mut quoted = false;
    let mut escaped = false;
    for &b in value {
        if let Some(piece) = pieces.last_mut() {
            if b == b';' && !quoted {
                pieces.push(Vec::new());
                continue;
            }
            if quoted && !escaped && b == b'\\' {
                escaped = true;
            } else {
                if b == b'"' && !escaped {
                    quoted = !quoted;
                }
                escaped = false;
            }
            piece.push(b);
        }
    }
    pieces
}

/// A parameter value without surrounding whitespace, quotes and escapes;
/// line breaks of folding dropped.
fn unquote(value: &[u8]) -> Vec<u8> {
    let value: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let trimmed = value.trim_ascii();
    let Some(inner) = trimmed
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
    else {
        return trimmed.to_vec();
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &b in inner {
        if b == b'\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(b);
    }
    out
}

#[cfg(test)]
#[path = "mime_scan_test.rs"]
mod tests;

//! The lean parse: a message whose large base64 bodies are left in the raw
//! bytes instead of being decoded into memory while parsing.
//!
//! 1. `mime_scan` finds the base64 leaves outside attached messages.
//! 2. Each one larger than the threshold is cut from a copy of the message:
//!    its whole lines, up to the last line break inside the body, become
//!    `AAAA` and the same line break. The cut holds only the base64
//!    alphabet, `=` and whitespace (no `-`, so no boundary can start, end or
//!    hide in it) and ends the way the placeholder ends, so mail-parser
//!    reads the copy exactly as the original up to the offsets after each
//!    cut (every body reader's decisions depend on the last two bytes read
//!    and on `-`; the decoded bytes of the cut part are the only other
//!    difference).
//! 3. mail-parser parses the small copy. Every cut is then checked against
//!    its view: a top-level part starts at the placeholder, base64 without
//!    an encoding problem, an attachment, ending where the scanner says
//!    (mapped back), outside any attached message; and nothing reads its
//!    bytes but the attachment list (not a body, not the calendar, no
//!    `begin` line for the uuencode search). A cut that fails is put back
//!    and the copy parsed again (at most [`MAX_ROUNDS`] times, then the
//!    whole message is parsed as before).
//! 4. The cut attachments become [`Content::Base64`] over the original
//!    bytes, decoded the way mail-parser would have decoded them.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use mail_parser::{Encoding, Message, MessageParser, PartType};

use crate::attachment::content_type;
use crate::base64_body::{self, Flavor};
use crate::content::{Base64Body, Content};
use crate::error::MailError;
use crate::message::{build, ParsedMessage};
use crate::mime_scan;

/// Bodies shorter than this are decoded while parsing, as before (cutting
/// them saves little memory).
pub(crate) const MIN_CUT: usize = 64 * 1024;

/// Parses of a copy before giving up and parsing the whole message.
const MAX_ROUNDS: usize = 3;

/// The placeholder's base64 (one group, three zero bytes).
const PLACEHOLDER: &[u8] = b"AAAA";

/// One body cut from the copy.
#[derive(Debug, Clone)]
struct Cut {
    /// The body in the original: `start..end`, as mail-parser delimits it.
    body: Range<usize>,
    /// The cut lines end here (just past a line break; `end` or before).
    cut_end: usize,
    /// The line break of the cut's last line, repeated in the placeholder.
    line_break: &'static [u8],
}

impl Cut {
    fn new(raw: &[u8], body: Range<usize>, min_len: usize) -> Option<Cut> {
        let text = raw.get(body.clone())?;
        let last_lf = text.iter().rposition(|&b| b == b'\n')?;
        let cut_end = body.start + last_lf + 1;
        let line_break: &'static [u8] = if last_lf >= 1 && text.get(last_lf - 1) == Some(&b'\r') {
            b"\r\n"
        } else {
            b"\n"
        };
        let len = cut_end - body.start;
        (len >= min_len.max(PLACEHOLDER.len() + 2)).then_some(Cut {
            body,
            cut_end,
            line_break,
        })
    }
}

/// The copy with its cuts, and where each placeholder sits in it.
struct Copy {
    bytes: Vec<u8>,
    /// Per cut: the placeholder's range in the copy.
    placeholders: Vec<Range<usize>>,
    /// Per cut: what to add to a copy offset after it to get the original's.
    shifts: Vec<usize>,
}

fn make_copy(raw: &[u8], cuts: &[Cut]) -> Copy {
    let removed: usize = cuts.iter().map(|c| c.cut_end - c.body.start).sum();
    let mut bytes = Vec::with_capacity(raw.len() - removed + cuts.len() * 6);
    let mut placeholders = Vec::with_capacity(cuts.len());
    let mut shifts = Vec::with_capacity(cuts.len());
    let mut from = 0;
    let mut shift = 0;
    for cut in cuts {
        bytes.extend_from_slice(raw.get(from..cut.body.start).unwrap_or_default());
        let at = bytes.len();
        bytes.extend_from_slice(PLACEHOLDER);
        bytes.extend_from_slice(cut.line_break);
        placeholders.push(at..bytes.len());
        shift += (cut.cut_end - cut.body.start) - (bytes.len() - at);
        shifts.push(shift);
        from = cut.cut_end;
    }
    bytes.extend_from_slice(raw.get(from..).unwrap_or_default());
    Copy {
        bytes,
        placeholders,
        shifts,
    }
}

/// Parse `raw` leaving base64 bodies of at least `min_len` bytes undecoded
/// (see the module documentation). The result is what parsing it whole
/// gives, attachments' bytes aside, which are the same once decoded.
pub(crate) fn parse(raw: &[u8], min_len: usize) -> Result<ParsedMessage<'_>, MailError> {
    let mut cuts: Vec<Cut> = mime_scan::base64_leaves(raw)
        .into_iter()
        .filter_map(|leaf| Cut::new(raw, leaf, min_len))
        .collect();
    for _ in 0..MAX_ROUNDS {
        if cuts.is_empty() {
            break;
        }
        let copy = make_copy(raw, &cuts);
        let Some(message) = MessageParser::default().parse(&copy.bytes) else {
            break;
        };
        let view = View::of(&message);
        let verdicts: Vec<Verdict> = (0..cuts.len())
            .map(|i| verify(&message, &view, &copy, i, &cuts, raw))
            .collect();
        if verdicts.iter().all(|v| matches!(v, Verdict::Cut { .. })) {
            let mut contents = HashMap::with_capacity(cuts.len());
            for (cut, verdict) in cuts.iter().zip(verdicts) {
                match (verdict, raw.get(cut.body.clone())) {
                    (Verdict::Cut { part, flavor }, Some(text)) => {
                        contents.insert(part, Content::Base64(Base64Body::new(text, flavor)));
                    }
                    // Never the placeholder's bytes: parse the whole message.
                    _ => return parse_whole(raw),
                }
            }
            return Ok(build(message, contents));
        }
        let mut verdicts = verdicts.into_iter();
        cuts.retain(|_| matches!(verdicts.next(), Some(Verdict::Cut { .. })));
    }
    parse_whole(raw)
}

/// Parse `raw` the plain way: every body decoded while parsing.
pub(crate) fn parse_whole(raw: &[u8]) -> Result<ParsedMessage<'_>, MailError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(MailError::Unparsable { len: raw.len() })?;
    Ok(build(message, HashMap::new()))
}

/// What the parse of the copy says about one cut.
#[derive(Debug)]
enum Verdict {
    /// Top-level part `part` is this body, an attachment nobody else reads:
    /// its bytes are the body decoded with `flavor`.
    Cut { part: usize, flavor: Flavor },
    /// Not what the scanner thought, or its bytes are needed while parsing.
    PutBack,
}

/// What [`verify`] looks up in a parse of the copy, indexed once per parse
/// (so checking every cut costs cuts + parts, not cuts x parts).
struct View {
    /// Part id by the offset its body starts at.
    by_body: HashMap<usize, usize>,
    attachments: HashSet<usize>,
    text_bodies: HashSet<usize>,
    html_bodies: HashSet<usize>,
    /// The bytes of each attached message (its part, and what its parse
    /// calls its raw message).
    attached: Vec<Range<usize>>,
}

impl View {
    fn of(message: &Message<'_>) -> View {
        let ids = |list: &[u32]| list.iter().map(|&x| x as usize).collect();
        let mut by_body = HashMap::new();
        let mut attached = Vec::new();
        for (id, part) in message.parts.iter().enumerate() {
            by_body.entry(part.offset_body as usize).or_insert(id);
            if let PartType::Message(nested) = &part.body {
                attached.push(part.offset_header as usize..part.offset_end as usize);
                if let Some(p) = nested.parts.first() {
                    attached.push(p.offset_header as usize..p.offset_end as usize);
                }
            }
        }
        View {
            by_body,
            attachments: ids(&message.attachments),
            text_bodies: ids(&message.text_body),
            html_bodies: ids(&message.html_body),
            attached,
        }
    }

    /// Whether `range` of the copy overlaps an attached message's bytes.
    fn inside_attached_message(&self, range: &Range<usize>) -> bool {
        self.attached
            .iter()
            .any(|m| m.start < range.end && range.start < m.end)
    }
}

/// Check cut `i` against mail-parser's view of the copy.
fn verify(
    message: &Message<'_>,
    view: &View,
    copy: &Copy,
    i: usize,
    cuts: &[Cut],
    raw: &[u8],
) -> Verdict {
    let (Some(cut), Some(placeholder), Some(&shift)) =
        (cuts.get(i), copy.placeholders.get(i), copy.shifts.get(i))
    else {
        return Verdict::PutBack;
    };
    let found = view
        .by_body
        .get(&placeholder.start)
        .and_then(|&id| Some((id, message.parts.get(id)?)));
    let Some((id, part)) = found else {
        return Verdict::PutBack;
    };
    let listed = |list: &HashSet<usize>| list.contains(&id);
    let flavor = match part.body {
        PartType::Binary(_) | PartType::InlineBinary(_) => Flavor::Mime,
        PartType::Text(_) | PartType::Html(_) => Flavor::Standard,
        PartType::Message(_) | PartType::Multipart(_) => return Verdict::PutBack,
    };
    let text = raw.get(cut.body.clone()).unwrap_or_default();
    let fits = part.encoding == Encoding::Base64
        && !part.is_encoding_problem
        && part.offset_end as usize + shift == cut.body.end
        && listed(&view.attachments)
        && content_type(part) != "text/calendar"
        && !view.inside_attached_message(placeholder)
        // A text body's text is read while parsing; a binary in the text
        // bodies is searched for uuencoded blocks, which start with "begin".
        && (flavor == Flavor::Mime || !listed(&view.text_bodies) && !listed(&view.html_bodies))
        && (flavor == Flavor::Standard
            || !listed(&view.text_bodies)
            || !base64_body::has_begin_line(text, flavor));
    if fits {
        Verdict::Cut { part: id, flavor }
    } else {
        Verdict::PutBack
    }
}

#[cfg(test)]
#[path = "lean_test.rs"]
mod tests;

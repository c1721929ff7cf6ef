//! Uuencoded blocks inside a text body: finding each `begin <mode> <name>` …
//! `end` block, decoding it, and reporting where it sits so the caller can
//! cut it out of the body.
//!
//! This module owns the uuencode format as mail carries it: backquote or
//! space for zero, LF or CRLF line ends, extra characters some encoders put
//! after a line's data, an empty line instead of (or after) the zero-length
//! line before `end`, and a missing zero-length line. `begin-base64` is not
//! handled. Pure: bytes in, blocks out, no panics.
//!
//! A `begin` line starts a block only when it has a 3–4 digit octal mode and
//! a name, and the line after it is uuencoded data (or the block is empty and
//! `end` follows). Prose that merely starts a line with "begin 644 …" is
//! therefore left alone; a block that starts like uuencode and then breaks is
//! reported as a [`UuError`].

use crate::error::quoted;

/// Most characters of a line quoted in an error.
const QUOTED_LINE_CHARS: usize = 60;

/// One decoded block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuBlock {
    /// The name on the `begin` line (rest of the line, trailing whitespace
    /// removed, invalid UTF-8 replaced). Not made safe for storage: pass it
    /// through `safe_file_name`.
    pub name: String,
    /// The octal mode on the `begin` line (e.g. `0o644`).
    pub mode: u32,
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// Offset of the `b` of `begin` in the text.
    pub start: usize,
    /// Offset just after the `end` line and its line break:
    /// `text[start..end]` is the whole block.
    pub end: usize,
}

/// A block that starts as uuencode but cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("uuencode: block {name:?} at byte {start}: {problem}")]
pub struct UuError {
    /// The name on the `begin` line.
    pub name: String,
    /// Offset of the `begin` line in the text.
    pub start: usize,
    /// What is wrong, and where.
    pub problem: UuProblem,
}

/// What is wrong with a block. Offsets are into the whole text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UuProblem {
    /// A line's first character is not a length (`space` to `` ` ``).
    #[error("bad length character {} on the line at byte {offset}", show(*byte))]
    BadLength {
        /// The first byte of the line.
        byte: u8,
        /// Offset of the line.
        offset: usize,
    },
    /// A data character outside `space` to `` ` ``.
    #[error("invalid character {} at byte {offset}", show(*byte))]
    BadChar {
        /// The offending byte.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// A line with fewer characters than its length character announces.
    #[error(
        "line at byte {offset} is too short: length {len} needs {needed} characters, found {found}"
    )]
    ShortLine {
        /// Offset of the line.
        offset: usize,
        /// Bytes the length character announces.
        len: usize,
        /// Characters that needs after the length character.
        needed: usize,
        /// Characters there are.
        found: usize,
    },
    /// The data stops but no `end` line follows.
    #[error("no \"end\" line: expected it at byte {offset}, found {found}")]
    MissingEnd {
        /// Where `end` was expected.
        offset: usize,
        /// What is there instead (quoted line, or the end of the text).
        found: String,
    },
}

/// Every uuencoded block in `text`, in order: decoded blocks as `Ok`, blocks
/// that start as uuencode but break as `Err` (the caller quarantines those).
/// Ok blocks never overlap, and an `Err` does not hide a later block.
pub fn find_uuencoded(text: &[u8]) -> Vec<Result<UuBlock, UuError>> {
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(line) = Line::at(text, pos) {
        pos = line.next;
        let Some((mode, name)) = parse_begin(line.content) else {
            continue;
        };
        match parse_block(text, line.next) {
            Body::NotABlock => {}
            Body::Data { data, end } => {
                found.push(Ok(UuBlock {
                    name,
                    mode,
                    data,
                    start: line.start,
                    end,
                }));
                pos = end;
            }
            Body::Corrupt { problem, resume } => {
                found.push(Err(UuError {
                    name: quoted(&name),
                    start: line.start,
                    problem,
                }));
                pos = resume.max(line.next);
            }
        }
    }
    found
}

/// One line of the text.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Offset of its first byte.
    start: usize,
    /// Its bytes without the line break (`\n` or `\r\n`).
    content: &'a [u8],
    /// Offset of the next line.
    next: usize,
}

impl<'a> Line<'a> {
    fn at(text: &'a [u8], start: usize) -> Option<Self> {
        let rest = text.get(start..).filter(|rest| !rest.is_empty())?;
        let (mut content, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (rest.get(..nl).unwrap_or(&[]), start + nl + 1),
            None => (rest, text.len()),
        };
        if let Some(stripped) = content.strip_suffix(b"\r") {
            content = stripped;
        }
        Some(Line {
            start,
            content,
            next,
        })
    }

    fn trimmed(&self) -> &'a [u8] {
        trim_end(self.content)
    }

    fn is_end(&self) -> bool {
        self.trimmed() == b"end"
    }

    /// Empty, blank, or starting with a zero length character (`` ` `` or
    /// space; anything after it is an encoder's extra).
    fn is_zero_length(&self) -> bool {
        matches!(self.content.first(), None | Some(b'`' | b' ' | b'\t'))
    }
}

/// What follows a `begin` line.
enum Body {
    NotABlock,
    Data { data: Vec<u8>, end: usize },
    Corrupt { problem: UuProblem, resume: usize },
}

/// `begin <mode> <name>`: the mode (3–4 octal digits) and the name (rest of
/// the line, at least one character).
fn parse_begin(line: &[u8]) -> Option<(u32, String)> {
    let rest = line.strip_prefix(b"begin")?;
    let rest = skip_blanks(rest, true)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (mode, rest) = rest.split_at_checked(digits)?;
    if !(3..=4).contains(&mode.len()) || mode.iter().any(|&d| d > b'7') {
        return None;
    }
    let mode = mode
        .iter()
        .fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
    let name = trim_end(skip_blanks(rest, true)?);
    if name.is_empty() {
        return None;
    }
    Some((mode, String::from_utf8_lossy(name).into_owned()))
}

/// `bytes` without its leading spaces and tabs; `None` when `required` and
/// there are none.
fn skip_blanks(bytes: &[u8], required: bool) -> Option<&[u8]> {
    let blanks = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if required && blanks == 0 {
        return None;
    }
    bytes.get(blanks..)
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let kept = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |last| last + 1);
    bytes.get(..kept).unwrap_or(&[])
}

/// The lines after a `begin` line starting at `pos`.
fn parse_block(text: &[u8], pos: usize) -> Body {
    let Some(first) = Line::at(text, pos) else {
        return Body::NotABlock;
    };
    // The first line decides whether this is uuencode at all.
    if first.is_end() {
        return Body::Data {
            data: Vec::new(),
            end: first.next,
        };
    }
    if first.is_zero_length() {
        return match expect_end(text, first.next) {
            Ok(end) => Body::Data {
                data: Vec::new(),
                end,
            },
            Err(_) => Body::NotABlock,
        };
    }
    let mut data = Vec::new();
    if decode_line(&first, &mut data).is_err() {
        return Body::NotABlock;
    }
    let mut pos = first.next;
    loop {
        let Some(line) = Line::at(text, pos) else {
            return Body::Corrupt {
                problem: missing_end(text.len(), None),
                resume: text.len(),
            };
        };
        if line.is_end() {
            return Body::Data {
                data,
                end: line.next,
            };
        }
        if line.is_zero_length() {
            return match expect_end(text, line.next) {
                Ok(end) => Body::Data { data, end },
                Err((problem, resume)) => Body::Corrupt { problem, resume },
            };
        }
        if let Err(problem) = decode_line(&line, &mut data) {
            return Body::Corrupt {
                problem,
                resume: line.start,
            };
        }
        pos = line.next;
    }
}

/// After the zero-length line: blank lines, then `end`. Returns the offset
/// after `end`, or the problem and where to resume looking for blocks.
fn expect_end(text: &[u8], mut pos: usize) -> Result<usize, (UuProblem, usize)> {
    loop {
        let Some(line) = Line::at(text, pos) else {
            return Err((missing_end(text.len(), None), text.len()));
        };
        if line.is_end() {
            return Ok(line.next);
        }
        if !matches!(line.trimmed(), [] | [b'`']) {
            return Err((missing_end(line.start, Some(line.content)), line.start));
        }
        pos = line.next;
    }
}

fn missing_end(offset: usize, found: Option<&[u8]>) -> UuProblem {
    let found = match found {
        Some(line) => {
            let line = String::from_utf8_lossy(line);
            let short: String = line.chars().take(QUOTED_LINE_CHARS).collect();
            if short.len() < line.len() {
                format!("{:?}", format!("{short}…"))
            } else {
                format!("{short:?}")
            }
        }
        None => "the end of the text".to_string(),
    };
    UuProblem::MissingEnd { offset, found }
}

/// Decodes one data line onto `out`. Characters after the line's last
/// 4-character group are ignored (some encoders add a checksum or padding);
/// a last group cut short (no padding written) counts its missing characters
/// as zero.
fn decode_line(line: &Line<'_>, out: &mut Vec<u8>) -> Result<(), UuProblem> {
    let Some((&first, chars)) = line.content.split_first() else {
        return Err(UuProblem::ShortLine {
            offset: line.start,
            len: 0,
            needed: 0,
            found: 0,
        });
    };
    let len = usize::from(value(first).ok_or(UuProblem::BadLength {
        byte: first,
        offset: line.start,
    })?);
    let needed = (len * 4).div_ceil(3);
    if chars.len() < needed {
        return Err(UuProblem::ShortLine {
            offset: line.start,
            len,
            needed,
            found: chars.len(),
        });
    }
    let group_chars = len.div_ceil(3) * 4;
    let used = chars.get(..group_chars.min(chars.len())).unwrap_or(&[]);
    let mut written = 0;
    for (index, group) in used.chunks(4).enumerate() {
        let mut n = 0u32;
        for k in 0..4 {
            let v = match group.get(k) {
                Some(&byte) => value(byte).ok_or(UuProblem::BadChar {
                    byte,
                    offset: line.start + 1 + index * 4 + k,
                })?,
                None => 0,
            };
            n = (n << 6) | u32::from(v);
        }
        for byte in n.to_be_bytes().into_iter().skip(1) {
            if written < len {
                out.push(byte);
                written += 1;
            }
        }
    }
    Ok(())
}

/// The 6-bit value of a uuencode character: space (or backquote) is 0.
fn value(byte: u8) -> Option<u8> {
    match byte {
        b'`' => Some(0),
        b' '..=b'_' => Some(byte - b' '),
        _ => None,
    }
}

/// A byte for an error message: `'x' (0x78)` or `byte 0x00`.
fn show(byte: u8) -> String {
    if byte.is_ascii_graphic() || byte == b' ' {
        format!("'{}' ({byte:#04x})", char::from(byte))
    } else {
        format!("byte {byte:#04x}")
    }
}

#[cfg(test)]
#[path = "uuencode_test.rs"]
mod tests;

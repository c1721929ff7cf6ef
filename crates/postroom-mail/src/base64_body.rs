//! Base64 bodies read the way mail-parser reads them, without holding them
//! decoded: where a body ends and whether mail-parser would accept it
//! ([`body_end`], a copy of `decode_base64_mime`'s control flow), how many
//! bytes it decodes to ([`decoded_len`]) and the decoded bytes in pieces
//! ([`decode_pieces`]), byte for byte what mail-parser's decoders give.
//!
//! mail-parser has two decoders and they differ at the edges, so each use
//! names its [`Flavor`]: binary parts are decoded while parsing
//! (`decode_base64_mime`), a text attachment's bytes as sent are decoded
//! again from the raw body (`base64_decode`, see `attachment::text_as_sent`).

use std::io;

/// Decoded bytes handed out at a time.
const PIECE: usize = 64 * 1024;

/// Marks a byte outside the base64 alphabet.
const INVALID: u8 = 0xff;

/// The value of each byte in the base64 alphabet, [`INVALID`] for the rest.
static VALUES: [u8; 256] = values();

const fn values() -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut value = 0u8;
    while value < 64 {
        let ch = match value {
            0..=25 => b'A' + value,
            26..=51 => b'a' + (value - 26),
            52..=61 => b'0' + (value - 52),
            62 => b'+',
            _ => b'/',
        };
        table[ch as usize] = value;
        value += 1;
    }
    table
}

/// Which of mail-parser's base64 decoders the bytes must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `decode_base64_mime` (binary parts): a `=` after one character of a
    /// group still yields a byte; a partial group at the end is dropped.
    Mime,
    /// `base64_decode` (a text part's bytes as sent): a `=` after one
    /// character yields nothing; a partial group of 2 or 3 characters at the
    /// end yields its bytes.
    Standard,
}

/// Where a base64 body that starts at `start` ends, as mail-parser's
/// `decode_base64_mime` delimits it with `boundary` (empty: the body runs to
/// the end of `raw`): `Some((end, clean))`, `end` being the part's
/// `offset_end`, `clean` that `raw[start..end]` holds nothing but the
/// alphabet, `=`, space, tab, CR and LF (no `-`). `None` when mail-parser
/// would call the body an encoding problem (and read it as text).
pub(crate) fn body_end(raw: &[u8], start: usize, boundary: &[u8]) -> Option<(usize, bool)> {
    let mut last = b'\n';
    let mut before_last = 0u8;
    let mut end_pos = start;
    let mut pos = start;
    while let Some(&ch) = raw.get(pos) {
        pos += 1;
        if VALUES[ch as usize] == INVALID {
            match ch {
                b'=' | b' ' | b'\t' | b'\r' => {}
                b'\n' => end_pos = if last == b'\r' { pos - 2 } else { pos - 1 },
                b'-' if last == b'-' => {
                    let rest = raw.get(pos..).unwrap_or_default();
                    if boundary.is_empty() || !rest.starts_with(boundary) {
                        return None;
                    }
                    let end = if before_last == b'\n' {
                        end_pos
                    } else {
                        pos - 2
                    };
                    return Some((end, is_clean(raw, start, end)));
                }
                b'-' => {}
                _ => return None,
            }
        }
        before_last = last;
        last = ch;
    }
    boundary
        .is_empty()
        .then(|| (pos, is_clean(raw, start, pos)))
}

/// Whether `raw[start..end]` has no `-` (the only byte besides the
/// alphabet, `=` and whitespace that an accepted body may hold).
fn is_clean(raw: &[u8], start: usize, end: usize) -> bool {
    raw.get(start..end)
        .is_some_and(|text| !text.contains(&b'-'))
}

/// The decoder's state between bytes: the values of the group so far.
#[derive(Default)]
struct Group {
    bits: u32,
    count: u8,
}

impl Group {
    /// Feed one byte; the bytes it completes go to `out` (at most 3).
    #[inline]
    fn push(&mut self, ch: u8, flavor: Flavor, out: &mut [u8; 3]) -> usize {
        let value = VALUES[ch as usize];
        if value != INVALID {
            self.bits = (self.bits << 6) | u32::from(value);
            self.count += 1;
            if self.count < 4 {
                return 0;
            }
            *out = [
                (self.bits >> 16) as u8,
                (self.bits >> 8) as u8,
                self.bits as u8,
            ];
            *self = Group::default();
            return 3;
        }
        if ch == b'=' {
            let n = self.flush(flavor, out);
            *self = Group::default();
            return n;
        }
        0
    }

    /// What a `=` (or, for [`Flavor::Standard`], the end) makes of a partial group.
    fn flush(&self, flavor: Flavor, out: &mut [u8; 3]) -> usize {
        let full = self.bits << (6 * u32::from(4 - self.count.min(4)));
        out[0] = (full >> 16) as u8;
        out[1] = (full >> 8) as u8;
        match (self.count, flavor) {
            (1, Flavor::Mime) | (2, _) => 1,
            (3, _) => 2,
            _ => 0,
        }
    }

    /// Bytes left over at the end of the text.
    fn finish(&self, flavor: Flavor, out: &mut [u8; 3]) -> usize {
        match flavor {
            Flavor::Mime => 0,
            Flavor::Standard => self.flush(flavor, out),
        }
    }
}

/// How many bytes `text` decodes to (what [`decode_pieces`] counts, without
/// producing them).
pub(crate) fn decoded_len(text: &[u8], flavor: Flavor) -> usize {
    let mut group = Group::default();
    let mut out = [0u8; 3];
    let mut len = 0;
    let mut rest = text;
    while !rest.is_empty() {
        if group.count == 0 {
            while let [a, b, c, d, tail @ ..] = rest {
                if [a, b, c, d].iter().any(|&&x| VALUES[x as usize] == INVALID) {
                    break;
                }
                len += 3;
                rest = tail;
            }
        }
        let Some((&ch, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        len += group.push(ch, flavor, &mut out);
    }
    len + group.finish(flavor, &mut out)
}

/// Decode `text` and hand the bytes to `sink` in pieces of at most 64 KiB.
pub(crate) fn decode_pieces(
    text: &[u8],
    flavor: Flavor,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut group = Group::default();
    let mut out = [0u8; 3];
    let mut piece = Vec::with_capacity(PIECE.min(text.len()) + 3);
    let mut rest = text;
    while !rest.is_empty() {
        // Whole groups of four alphabet characters at once (most of a line).
        if group.count == 0 {
            while let [a, b, c, d, tail @ ..] = rest {
                let [a, b, c, d] = [a, b, c, d].map(|&x| VALUES[x as usize]);
                if (a | b | c | d) >= 64 {
                    break;
                }
                let word =
                    u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
                piece.extend_from_slice(&[(word >> 16) as u8, (word >> 8) as u8, word as u8]);
                rest = tail;
                if piece.len() >= PIECE {
                    sink(&piece)?;
                    piece.clear();
                }
            }
        }
        let Some((&ch, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        let n = group.push(ch, flavor, &mut out);
        piece.extend_from_slice(out.get(..n).unwrap_or_default());
        if piece.len() >= PIECE {
            sink(&piece)?;
            piece.clear();
        }
    }
    let n = group.finish(flavor, &mut out);
    piece.extend_from_slice(out.get(..n).unwrap_or_default());
    if !piece.is_empty() {
        sink(&piece)?;
    }
    Ok(())
}

/// Decode `text` into memory (for the few uses that need it whole).
pub(crate) fn decode_all(text: &[u8], flavor: Flavor) -> Vec<u8> {
    let mut all = Vec::with_capacity(decoded_len(text, flavor));
    // Appending to a Vec cannot fail.
    let _ = decode_pieces(text, flavor, &mut |piece| {
        all.extend_from_slice(piece);
        Ok(())
    });
    all
}

/// Whether the decoded bytes of `text` have a line that starts with
/// `begin` (the only way a uuencoded block can start), looked for piece by
/// piece.
pub(crate) fn has_begin_line(text: &[u8], flavor: Flavor) -> bool {
    const WORD: &[u8] = b"begin";
    // How much of "begin" the current line has matched so far; None once
    // the line cannot start with it.
    let mut matched = Some(0usize);
    let mut found = false;
    let _ = decode_pieces(text, flavor, &mut |piece| {
        for &b in piece {
            if b == b'\n' {
                matched = Some(0);
                continue;
            }
            matched = match matched {
                Some(n) if WORD.get(n) == Some(&b) => Some(n + 1),
                _ => None,
            };
            if matched == Some(WORD.len()) {
                found = true;
                return Err(io::Error::other("found"));
            }
        }
        Ok(())
    });
    found
}

#[cfg(test)]
#[path = "base64_body_test.rs"]
mod tests;

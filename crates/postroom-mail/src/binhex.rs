//! BinHex 4.0 (`application/mac-binhex40`, RFC 1741): decoding the text of a
//! BinHex part into the file it carries.
//!
//! This module owns the whole format: finding the `(This file must be
//! converted with BinHex 4.0)` line and the `:`…`:` stream after it, the
//! 6-bit alphabet, the run-length encoding (`0x90`), the header (Mac Roman
//! name, type, creator, fork lengths) and the three CRCs. It keeps the data
//! fork (what a reader wants) and drops the resource fork, whose CRC is still
//! checked. Pure: bytes in, [`BinHexFile`] or [`BinHexError`] out, no panics.

/// The start of the line before the stream. The standard line ends in
/// `with BinHex 4.0)`; macutils' `binhex` writes `; you knew that already.)`,
/// so only this common start is required.
const MARKER: &[u8] = b"(This file must be converted";

/// The 64 characters of the 6-bit encoding, in value order.
const ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/// Character → value (`0xFF`: not in the alphabet).
const DECODE: [u8; 256] = decode_table();

/// The run-length marker byte.
const RUN_MARKER: u8 = 0x90;

/// Longest file name the header may declare (Mac HFS limit).
const MAX_NAME_LEN: usize = 63;

/// Header bytes after the name: version, type, creator, flags, two lengths.
const HEADER_TAIL_LEN: usize = 1 + 4 + 4 + 2 + 4 + 4;

/// Bytes reserved up front for the data fork; it grows past this as read.
const MAX_PREALLOC: usize = 1 << 20;

/// CRC-16/XMODEM table (poly 0x1021, init 0, no reflection).
const CRC_TABLE: [u16; 256] = crc_table();

/// Mac Roman bytes 0x80–0xFF as Unicode (0xF0, the Apple logo, is a
/// private-use character and becomes `_` in names instead).
const MAC_ROMAN_HIGH: [char; 128] = [
    '\u{00c4}', '\u{00c5}', '\u{00c7}', '\u{00c9}', '\u{00d1}', '\u{00d6}', '\u{00dc}', '\u{00e1}',
    '\u{00e0}', '\u{00e2}', '\u{00e4}', '\u{00e3}', '\u{00e5}', '\u{00e7}', '\u{00e9}', '\u{00e8}',
    '\u{00ea}', '\u{00eb}', '\u{00ed}', '\u{00ec}', '\u{00ee}', '\u{00ef}', '\u{00f1}', '\u{00f3}',
    '\u{00f2}', '\u{00f4}', '\u{00f6}', '\u{00f5}', '\u{00fa}', '\u{00f9}', '\u{00fb}', '\u{00fc}',
    '\u{2020}', '\u{00b0}', '\u{00a2}', '\u{00a3}', '\u{00a7}', '\u{2022}', '\u{00b6}', '\u{00df}',
    '\u{00ae}', '\u{00a9}', '\u{2122}', '\u{00b4}', '\u{00a8}', '\u{2260}', '\u{00c6}', '\u{00d8}',
    '\u{221e}', '\u{00b1}', '\u{2264}', '\u{2265}', '\u{00a5}', '\u{00b5}', '\u{2202}', '\u{2211}',
    '\u{220f}', '\u{03c0}', '\u{222b}', '\u{00aa}', '\u{00ba}', '\u{03a9}', '\u{00e6}', '\u{00f8}',
    '\u{00bf}', '\u{00a1}', '\u{00ac}', '\u{221a}', '\u{0192}', '\u{2248}', '\u{2206}', '\u{00ab}',
    '\u{00bb}', '\u{2026}', '\u{00a0}', '\u{00c0}', '\u{00c3}', '\u{00d5}', '\u{0152}', '\u{0153}',
    '\u{2013}', '\u{2014}', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{00f7}', '\u{25ca}',
    '\u{00ff}', '\u{0178}', '\u{2044}', '\u{20ac}', '\u{2039}', '\u{203a}', '\u{fb01}', '\u{fb02}',
    '\u{2021}', '\u{00b7}', '\u{201a}', '\u{201e}', '\u{2030}', '\u{00c2}', '\u{00ca}', '\u{00c1}',
    '\u{00cb}', '\u{00c8}', '\u{00cd}', '\u{00ce}', '\u{00cf}', '\u{00cc}', '\u{00d3}', '\u{00d4}',
    '_', '\u{00d2}', '\u{00da}', '\u{00db}', '\u{00d9}', '\u{0131}', '\u{02c6}', '\u{02dc}',
    '\u{00af}', '\u{02d8}', '\u{02d9}', '\u{02da}', '\u{00b8}', '\u{02dd}', '\u{02db}', '\u{02c7}',
];

/// The file a BinHex part carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinHexFile {
    /// The name from the header, Mac Roman converted to UTF-8 (control
    /// characters become `_`). Not made safe for storage: pass it through
    /// `safe_file_name`. May be empty.
    pub name: String,
    /// The data fork.
    pub data: Vec<u8>,
    /// Length of the resource fork, which was checked and dropped.
    pub resource_fork_len: usize,
}

/// Why a BinHex part could not be decoded. Messages are lowercase and name
/// the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinHexError {
    /// No line starting `(This file must be converted` anywhere.
    #[error("binhex: no \"(This file must be converted with BinHex 4.0)\" line")]
    NoMarker,
    /// The marker line is there but the stream does not start with `:`.
    #[error("binhex: expected ':' after the binhex 4.0 line, found {} at byte {offset}", show(*found))]
    NoStart {
        /// What was found instead (`None`: the text ends).
        found: Option<u8>,
        /// Its offset in the input.
        offset: usize,
    },
    /// A character outside the BinHex alphabet inside the stream.
    #[error("binhex: invalid character {} at byte {offset}", show(Some(*byte)))]
    BadChar {
        /// The offending byte.
        byte: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// The text ends before the closing `:` (a truncated part).
    #[error("binhex: no closing ':' before the end of the text at byte {len} (truncated?)")]
    Unterminated {
        /// Length of the input.
        len: usize,
    },
    /// The stream closes before a section is complete.
    #[error("binhex: stream ends in the {section}: {needed} bytes needed, {got} found")]
    Truncated {
        /// `header`, `data fork`, `resource fork` or one of their CRCs.
        section: &'static str,
        /// Bytes the section needs.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// A run-length marker with a count but no byte before it to repeat.
    #[error("binhex: run-length marker (0x90 {count:#04x}) at the start of the stream has nothing to repeat")]
    RunWithoutByte {
        /// The run count.
        count: u8,
    },
    /// The header declares a name longer than a Mac file name can be.
    #[error("binhex: file name length {len} is over the limit of 63")]
    NameTooLong {
        /// The declared length.
        len: usize,
    },
    /// The header declares forks larger than the caller allows.
    #[error(
        "binhex: decoded size of {len} bytes (data fork {data_len}, resource fork {resource_len}) \
         is over the limit of {max_len} bytes"
    )]
    TooLarge {
        /// Header, forks and CRCs together.
        len: u64,
        /// Declared data fork length.
        data_len: u32,
        /// Declared resource fork length.
        resource_len: u32,
        /// The caller's limit.
        max_len: usize,
    },
    /// A section's CRC does not match its bytes.
    #[error("binhex: {section} crc mismatch: expected {expected:#06x} (stored), found {found:#06x} (computed)")]
    CrcMismatch {
        /// `header`, `data fork` or `resource fork`.
        section: &'static str,
        /// The CRC stored in the stream.
        expected: u16,
        /// The CRC of the bytes read.
        found: u16,
    },
}

/// Decodes the text of a BinHex 4.0 part: any leading text, the marker line,
/// then the `:`…`:` stream. `max_len` bounds the decoded stream (header,
/// both forks, CRCs): run-length encoding lets a small part declare and
/// expand to a large file, so pass what the caller is willing to hold (the
/// part's size times 64 is ample for real files).
pub fn decode_binhex(text: &[u8], max_len: usize) -> Result<BinHexFile, BinHexError> {
    let start = stream_start(text)?;
    let mut stream = Stream::new(text, start);

    let name_len_byte = stream.byte()?.ok_or(BinHexError::Truncated {
        section: "header",
        needed: 1 + HEADER_TAIL_LEN,
        got: 0,
    })?;
    let name_len = usize::from(name_len_byte);
    if name_len > MAX_NAME_LEN {
        return Err(BinHexError::NameTooLong { len: name_len });
    }
    let mut header = vec![name_len_byte];
    header.extend(
        stream
            .section("header", name_len + HEADER_TAIL_LEN, true, 1)?
            .bytes,
    );
    check_crc(&mut stream, "header", crc16(&header))?;

    let name = header
        .get(1..1 + name_len)
        .map(mac_roman_name)
        .unwrap_or_default();
    let lengths = header.get(1 + name_len + 11..).unwrap_or(&[]);
    let data_len = be_u32(lengths.get(..4));
    let resource_len = be_u32(lengths.get(4..8));
    let total = header.len() as u64 + 2 + u64::from(data_len) + 2 + u64::from(resource_len) + 2;
    if total > max_len as u64 {
        return Err(BinHexError::TooLarge {
            len: total,
            data_len,
            resource_len,
            max_len,
        });
    }
    let data_len = data_len as usize;
    let resource_len = resource_len as usize;

    let data = stream.section("data fork", data_len, true, 0)?;
    check_crc(&mut stream, "data fork", data.crc)?;
    let resource = stream.section("resource fork", resource_len, false, 0)?;
    check_crc(&mut stream, "resource fork", resource.crc)?;
    stream.finish()?;

    Ok(BinHexFile {
        name,
        data: data.bytes,
        resource_fork_len: resource_len,
    })
}

/// Offset of the first character after the opening `:`.
fn stream_start(text: &[u8]) -> Result<usize, BinHexError> {
    let mut first_error = None;
    let mut from = 0;
    while let Some(found) = find(text.get(from..).unwrap_or(&[]), MARKER) {
        let at = from + found + MARKER.len();
        // The marker line runs to its `)`, which must be on the same line.
        // Later markers before that `)` or line break end the same way, so
        // the search goes on after it (linear however many markers there are).
        let rest = text.get(at..).unwrap_or(&[]);
        let Some(close) = rest.iter().position(|&b| matches!(b, b')' | b'\r' | b'\n')) else {
            break;
        };
        from = at + close + 1;
        if rest.get(close) != Some(&b')') {
            continue;
        }
        let mut pos = from;
        while matches!(text.get(pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            pos += 1;
        }
        match text.get(pos) {
            Some(b':') => return Ok(pos + 1),
            found => {
                first_error.get_or_insert(BinHexError::NoStart {
                    found: found.copied(),
                    offset: pos,
                });
            }
        }
    }
    Err(first_error.unwrap_or(BinHexError::NoMarker))
}

/// A section's bytes (when kept) and their CRC.
struct Section {
    bytes: Vec<u8>,
    crc: u16,
}

/// The decoded byte stream: characters → 6-bit values → octets → run-length
/// expansion.
struct Stream<'a> {
    text: &'a [u8],
    /// Next character to read.
    pos: usize,
    /// The closing `:` has been read.
    closed: bool,
    /// Bits not yet returned as an octet, and how many.
    acc: u32,
    bits: u32,
    /// The last byte produced (what a run repeats) and repeats still owed.
    last: Option<u8>,
    pending: u32,
}

impl<'a> Stream<'a> {
    fn new(text: &'a [u8], pos: usize) -> Self {
        Stream {
            text,
            pos,
            closed: false,
            acc: 0,
            bits: 0,
            last: None,
            pending: 0,
        }
    }

    /// The next 6-bit value; `None` at the closing `:`.
    fn sextet(&mut self) -> Result<Option<u8>, BinHexError> {
        if self.closed {
            return Ok(None);
        }
        while let Some(&byte) = self.text.get(self.pos) {
            let offset = self.pos;
            self.pos += 1;
            match byte {
                b':' => {
                    self.closed = true;
                    return Ok(None);
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => match DECODE.get(usize::from(byte)) {
                    Some(&value) if value < 64 => return Ok(Some(value)),
                    _ => return Err(BinHexError::BadChar { byte, offset }),
                },
            }
        }
        Err(BinHexError::Unterminated {
            len: self.text.len(),
        })
    }

    /// The next octet before run-length decoding; `None` at the end.
    fn octet(&mut self) -> Result<Option<u8>, BinHexError> {
        while self.bits < 8 {
            let Some(value) = self.sextet()? else {
                return Ok(None);
            };
            self.acc = (self.acc << 6) | u32::from(value);
            self.bits += 6;
        }
        self.bits -= 8;
        let octet = (self.acc >> self.bits) & 0xFF;
        self.acc &= (1 << self.bits) - 1;
        Ok(Some(octet as u8))
    }

    /// The next decoded byte; `None` at the end of the stream.
    fn byte(&mut self) -> Result<Option<u8>, BinHexError> {
        loop {
            if self.pending > 0 {
                if let Some(last) = self.last {
                    self.pending -= 1;
                    return Ok(Some(last));
                }
            }
            let Some(octet) = self.octet()? else {
                return Ok(None);
            };
            if octet != RUN_MARKER {
                self.last = Some(octet);
                return Ok(Some(octet));
            }
            // A marker the stream ends on is a cut-off stream.
            let Some(count) = self.octet()? else {
                return Ok(None);
            };
            match (count, self.last) {
                (0, _) => {
                    self.last = Some(RUN_MARKER);
                    return Ok(Some(RUN_MARKER));
                }
                (_, None) => return Err(BinHexError::RunWithoutByte { count }),
                // The count includes the byte already produced.
                (_, Some(_)) => self.pending = u32::from(count) - 1,
            }
        }
    }

    /// Reads `len` bytes of `section`, keeping them if `keep`; `already`
    /// bytes of the section were read by the caller (for the error only).
    fn section(
        &mut self,
        section: &'static str,
        len: usize,
        keep: bool,
        already: usize,
    ) -> Result<Section, BinHexError> {
        let mut bytes = Vec::with_capacity(if keep { len.min(MAX_PREALLOC) } else { 0 });
        let mut crc = 0u16;
        for got in 0..len {
            let Some(byte) = self.byte()? else {
                return Err(BinHexError::Truncated {
                    section,
                    needed: already + len,
                    got: already + got,
                });
            };
            crc = crc_step(crc, byte);
            if keep {
                bytes.push(byte);
            }
        }
        Ok(Section { bytes, crc })
    }

    /// Reads the characters after the last section up to the closing `:`.
    fn finish(&mut self) -> Result<(), BinHexError> {
        while self.sextet()?.is_some() {}
        Ok(())
    }
}

/// Reads the stored CRC of `section` and compares it with `found`.
fn check_crc(
    stream: &mut Stream<'_>,
    section: &'static str,
    found: u16,
) -> Result<(), BinHexError> {
    let crc_section = match section {
        "header" => "header crc",
        "data fork" => "data fork crc",
        _ => "resource fork crc",
    };
    let stored = stream.section(crc_section, 2, true, 0)?.bytes;
    let expected = u16::from_be_bytes([
        stored.first().copied().unwrap_or(0),
        stored.get(1).copied().unwrap_or(0),
    ]);
    if expected == found {
        Ok(())
    } else {
        Err(BinHexError::CrcMismatch {
            section,
            expected,
            found,
        })
    }
}

/// The BinHex CRC of `bytes`: CRC-16/XMODEM (CCITT polynomial 0x1021, init
/// 0). The spec's shift-register description feeds two extra zero bytes;
/// that augmented form equals this direct one, which needs none.
pub(crate) fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0, |crc, &byte| crc_step(crc, byte))
}

fn crc_step(crc: u16, byte: u8) -> u16 {
    let index = usize::from((crc >> 8) as u8 ^ byte);
    (crc << 8) ^ CRC_TABLE.get(index).copied().unwrap_or(0)
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

const fn decode_table() -> [u8; 256] {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
}

/// A Mac Roman file name as UTF-8; control characters become `_`.
fn mac_roman_name(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x00..=0x1F | 0x7F => '_',
            0x20..=0x7E => char::from(b),
            _ => MAC_ROMAN_HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .unwrap_or('_'),
        })
        .collect()
}

fn be_u32(bytes: Option<&[u8]>) -> u32 {
    match bytes {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A byte for an error message: `'x' (0x78)`, or `the end of the text`.
fn show(byte: Option<u8>) -> String {
    match byte {
        Some(b) if b.is_ascii_graphic() => format!("'{}' ({b:#04x})", char::from(b)),
        Some(b) => format!("byte {b:#04x}"),
        None => "the end of the text".to_string(),
    }
}

#[cfg(test)]
#[path = "binhex_test.rs"]
mod tests;

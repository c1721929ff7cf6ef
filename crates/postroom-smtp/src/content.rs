//! Message content decoding: the DATA dot-decoder (RFC 5321 §4.1.1.4,
//! §4.5.2) and the BDAT chunk reader (RFC 3030). Both are byte-level
//! state machines that hold no input: whatever they are given is decoded
//! at once, so feeding a message in any split gives the same content.
//!
//! Anti-smuggling rule: the ONLY end of DATA is CR LF "." CR LF, where
//! the first CR LF ends the previous line (or "." CR LF as the very first
//! line: an empty message). Bare LF, bare CR and every near miss
//! ("\n.\r\n", "\r\n.\n", "\n.\n", "\r.\r\n", ...) are content.

/// Where the decoder stands in the DATA stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of the data or right after CR LF.
    LineStart,
    /// Saw "." at a line start (held back: it is removed, or the end marker).
    Dot,
    /// Saw "." CR at a line start (the CR is held back).
    DotCr,
    /// Inside a line; the last byte was not CR.
    Text,
    /// Inside a line; the last byte was CR.
    Cr,
    /// The end marker was consumed.
    Done,
}

/// Decodes the DATA section: dot-unstuffing, end-marker detection, line
/// endings passed through exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DotDecoder {
    state: State,
}

impl DotDecoder {
    pub(crate) fn new() -> DotDecoder {
        DotDecoder {
            state: State::LineStart,
        }
    }

    /// Whether the end marker has been consumed.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, appending the content to `out`. Returns how many
    /// bytes of `input` were consumed: all of them, unless the end marker
    /// was found, in which case the bytes after it are left alone.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while let Some(rest) = input.get(i..).filter(|r| !r.is_empty()) {
            match self.state {
                State::Done => break,
                State::Text => {
                    // Fast path: copy up to and including the next CR.
                    match rest.iter().position(|&b| b == b'\r') {
                        Some(p) => {
                            out.extend_from_slice(&rest[..=p]);
                            i += p + 1;
                            self.state = State::Cr;
                        }
                        None => {
                            out.extend_from_slice(rest);
                            i += rest.len();
                        }
                    }
                }
                state => {
                    let b = rest[0];
                    i += 1;
                    self.state = match state {
                        State::LineStart if b == b'.' => State::Dot,
                        // Dot-unstuffing: the leading dot is dropped.
                        State::Dot if b == b'\r' => State::DotCr,
                        State::DotCr if b == b'\n' => State::Done,
                        State::DotCr => {
                            // "." CR then not LF: the dot goes, the CR stays.
                            out.push(b'\r');
                            after_cr(b, out)
                        }
                        State::Cr => after_cr(b, out),
                        _ => in_line(b, out),
                    };
                }
            }
        }
        i
    }
}

/// A byte inside a line.
fn in_line(b: u8, out: &mut Vec<u8>) -> State {
    out.push(b);
    if b == b'\r' {
        State::Cr
    } else {
        State::Text
    }
}

/// The byte after a CR: LF makes a line end, anything else stays in the line.
fn after_cr(b: u8, out: &mut Vec<u8>) -> State {
    out.push(b);
    match b {
        b'\n' => State::LineStart,
        b'\r' => State::Cr,
        _ => State::Text,
    }
}

/// Counts off the exact octets of one BDAT chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkReader {
    remaining: u64,
}

impl ChunkReader {
    pub(crate) fn new(size: u64) -> ChunkReader {
        ChunkReader { remaining: size }
    }

    /// Whether every octet of the chunk has been taken.
    pub(crate) fn is_complete(&self) -> bool {
        self.remaining == 0
    }

    /// The leading part of `input` that belongs to the chunk (possibly all of it, possibly nothing).
    pub(crate) fn take<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        self.remaining -= n as u64;
        &input[..n]
    }
}

#[cfg(test)]
#[path = "content_test.rs"]
mod tests;

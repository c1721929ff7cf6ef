//! Standard base64 (RFC 4648, with padding) for building test messages.
//! Shared by the integration tests and the crate's unit tests (by `#[path]`).
#![allow(dead_code)]

pub const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 of `bytes` on one line.
pub fn base64_unbroken(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |v, (i, &b)| v | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 76 characters, each ended with `eol`.
pub fn base64_lines(bytes: &[u8], eol: &str) -> String {
    let text = base64_unbroken(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 76 * eol.len() + eol.len());
    for line in text.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str(eol);
    }
    out
}

/// Base64 as MIME writes it: CRLF after every 76 characters (none at the end).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = base64_lines(bytes, "\r\n");
    out.truncate(out.trim_end_matches("\r\n").len());
    out
}

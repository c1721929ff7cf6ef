//! Header-line scanning over raw bytes: physical lines (CRLF or bare LF),
//! logical lines (with folded continuation lines) and `name: value` splitting.

/// One logical header line: a physical line plus its folded continuations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogicalLine<'a> {
    /// The line's bytes, continuations and line terminators included.
    pub raw: &'a [u8],
    /// Offset just past the line (and its continuations) in the scanned input.
    pub end: usize,
}

/// Offset just past the physical line that starts at `pos` (past its `\n`,
/// or the end of input when the last line has no terminator).
fn physical_line_end(bytes: &[u8], pos: usize) -> usize {
    let rest = bytes.get(pos..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => pos + i + 1,
        None => bytes.len(),
    }
}

/// The logical line starting at `pos`, or `None` at the end of input.
///
/// A following physical line that starts with a space or a tab is a folded
/// continuation of this one.
pub(crate) fn logical_line(bytes: &[u8], pos: usize) -> Option<LogicalLine<'_>> {
    if pos >= bytes.len() {
        return None;
    }
    let mut end = physical_line_end(bytes, pos);
    while matches!(bytes.get(end), Some(b' ' | b'\t')) {
        end = physical_line_end(bytes, end);
    }
    Some(LogicalLine {
        raw: bytes.get(pos..end).unwrap_or_default(),
        end,
    })
}

/// Whether a logical line is blank (only a line terminator or whitespace).
pub(crate) fn is_blank(raw: &[u8]) -> bool {
    raw.iter().all(u8::is_ascii_whitespace)
}

/// Splits a header line into its name (trimmed) and its unfolded value.
///
/// Returns `None` when the line is not a `name: value` header line (no colon
/// in the first physical line, or a name with characters a field name cannot
/// have). Line terminators are removed from the value; folding whitespace is
/// kept. The value is decoded as UTF-8, invalid sequences become U+FFFD.
pub(crate) fn split_header(raw: &[u8]) -> Option<(&[u8], String)> {
    let first_line_len = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let colon = raw.get(..first_line_len)?.iter().position(|&b| b == b':')?;
    let name = raw.get(..colon)?.trim_ascii_end();
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
        return None;
    }
    let value: Vec<u8> = raw
        .get(colon + 1..)?
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    Some((name, String::from_utf8_lossy(&value).into_owned()))
}

/// The unfolded values of every top-level header field called `name`
/// (case-insensitive) in a message, in order.
pub fn header_values(message: &[u8], name: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut pos = 0;
    while let Some(line) = logical_line(message, pos) {
        if is_blank(line.raw) {
            break;
        }
        if let Some((field, value)) = split_header(line.raw) {
            if field.eq_ignore_ascii_case(name.as_bytes()) {
                values.push(value.trim().to_string());
            }
        }
        pos = line.end;
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_unfolded_and_stop_at_the_body() {
        let m = b"Authentication-Results: mx.contoso.com;\r\n\tdmarc=pass header.from=contoso.com\r\n\
                  Subject: x\r\nauthentication-results: other; none\r\n\r\nAuthentication-Results: body\r\n";
        assert_eq!(
            header_values(m, "Authentication-Results"),
            [
                "mx.contoso.com;\tdmarc=pass header.from=contoso.com",
                "other; none"
            ]
        );
        assert!(header_values(b"", "x").is_empty());
    }

    #[test]
    fn folded_line_includes_continuations() {
        let bytes = b"A: 1\r\n\tcont\r\n more\r\nB: 2\r\n";
        let line = logical_line(bytes, 0).unwrap();
        assert_eq!(line.raw, b"A: 1\r\n\tcont\r\n more\r\n");
        let (name, value) = split_header(line.raw).unwrap();
        assert_eq!(name, b"A");
        assert_eq!(value, " 1\tcont more");
        let next = logical_line(bytes, line.end).unwrap();
        assert_eq!(next.raw, b"B: 2\r\n");
        assert!(logical_line(bytes, next.end).is_none());
    }

    #[test]
    fn last_line_without_terminator() {
        let bytes = b"A: 1\nB: 2";
        let line = logical_line(bytes, 0).unwrap();
        assert_eq!(line.raw, b"A: 1\n");
        let line = logical_line(bytes, line.end).unwrap();
        assert_eq!(line.raw, b"B: 2");
        assert_eq!(line.end, bytes.len());
    }

    #[test]
    fn non_header_lines() {
        assert!(split_header(b"no colon here\r\n").is_none());
        assert!(split_header(b": empty name\r\n").is_none());
        assert!(split_header(b"bad name: x\r\n").is_none());
        assert!(split_header(b"first\n: second\n").is_none());
        let (name, value) = split_header(b"X-Sender : a@b\r\n").unwrap();
        assert_eq!(name, b"X-Sender");
        assert_eq!(value, " a@b");
    }

    #[test]
    fn blank_lines() {
        assert!(is_blank(b"\r\n"));
        assert!(is_blank(b"\n"));
        assert!(!is_blank(b"x\n"));
    }
}

//! One SMTP reply: code, enhanced status code (RFC 2034/3463) and text
//! lines, with its wire form (`250-...` continuation lines, CRLF) and a
//! one-line form for logs. Text is sanitized here, so nothing a client
//! controls can put CR, LF or other control bytes on the wire.

use std::fmt;

/// Longest text kept per reply line: RFC 5321 §4.5.3.1.5 limits a reply
/// line to 512 octets including code, status and CRLF.
const MAX_TEXT: usize = 480;

/// A reply to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<String>,
    lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code, e.g. `(250, "2.1.0", "sender ok")`.
    pub fn new(code: u16, status: &str, text: &str) -> Reply {
        Reply::multiline(code, Some(status), [text])
    }

    /// A one-line reply without an enhanced status code: only the
    /// greeting, the HELO/EHLO replies (RFC 2034 §3) and `354`.
    pub fn bare(code: u16, text: &str) -> Reply {
        Reply::multiline(code, None, [text])
    }

    /// A reply of one or more lines (an empty list gives one empty line).
    pub fn multiline<I, S>(code: u16, status: Option<&str>, lines: I) -> Reply
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut lines: Vec<String> = lines.into_iter().map(|l| sanitize(l.as_ref())).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        Reply {
            code,
            status: status.map(sanitize),
            lines,
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code (`"5.1.1"`), if the reply carries one.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The text lines, sanitized.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Appends the wire form: every line but the last as `CODE-...`, the last as `CODE ...`, each ending in CRLF.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(format!("{:03}", self.code).as_bytes());
            out.push(if i == last { b' ' } else { b'-' });
            if let Some(status) = &self.status {
                out.extend_from_slice(status.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// One line for logs: `550 5.1.1 text`; the lines of a multi-line reply are joined with `; `.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.code)?;
        if let Some(status) = &self.status {
            write!(f, " {status}")?;
        }
        let text = self.lines.join("; ");
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// Printable ASCII only (anything else becomes `?`), at most [`MAX_TEXT`] characters.
fn sanitize(text: &str) -> String {
    text.chars()
        .take(MAX_TEXT)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_wire_and_display() {
        let r = Reply::new(250, "2.1.0", "sender ok");
        assert_eq!(r.to_bytes(), b"250 2.1.0 sender ok\r\n");
        assert_eq!(r.to_string(), "250 2.1.0 sender ok");
        assert_eq!(r.code(), 250);
        assert_eq!(r.status(), Some("2.1.0"));
    }

    #[test]
    fn multiline_wire_uses_dashes_until_the_last_line() {
        let r = Reply::multiline(250, None, ["mx.test", "PIPELINING", "HELP"]);
        assert_eq!(
            r.to_bytes(),
            b"250-mx.test\r\n250-PIPELINING\r\n250 HELP\r\n"
        );
        assert_eq!(r.to_string(), "250 mx.test; PIPELINING; HELP");
        let r = Reply::multiline(550, Some("5.7.1"), ["a", "b"]);
        assert_eq!(r.to_bytes(), b"550-5.7.1 a\r\n550 5.7.1 b\r\n");
    }

    #[test]
    fn bare_reply_has_no_status() {
        let r = Reply::bare(354, "go ahead");
        assert_eq!(r.to_bytes(), b"354 go ahead\r\n");
        assert_eq!(r.status(), None);
    }

    #[test]
    fn client_text_cannot_inject_lines() {
        let r = Reply::new(550, "5.1.1", "no\r\n250 2.0.0 ok\0 é");
        assert_eq!(r.to_bytes(), b"550 5.1.1 no??250 2.0.0 ok? ?\r\n");
        let long = "x".repeat(5000);
        assert!(Reply::new(550, "5.1.1", &long).to_bytes().len() <= 512);
    }

    #[test]
    fn empty_lists_and_texts() {
        let r = Reply::multiline(250, Some("2.0.0"), Vec::<String>::new());
        assert_eq!(r.to_bytes(), b"250 2.0.0\r\n");
        assert_eq!(r.to_string(), "250 2.0.0");
    }
}

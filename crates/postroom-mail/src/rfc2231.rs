//! RFC 2231 parameter continuations (`filename*0*=ISO-8859-1''Gr%FC%DFe;
//! filename*1*=M%FCnchen.pdf`), read from a part's raw header value. The
//! charset is named in the first segment only and applies to every encoded
//! segment; mail-parser decodes the later segments as UTF-8, which turns
//! `%FC` into U+FFFD, so names that use continuations are read here.
//! Segments without `*` are taken literally (no percent-decoding).

use mail_parser::decoders::charsets::map::charset_decoder;

/// The value of parameter `name` in a raw header value, when it is written
/// as RFC 2231 continuations (`name*0`, `name*0*`, ...); `None` otherwise
/// (then mail-parser's reading stands).
pub(crate) fn continued_param(raw: &str, name: &str) -> Option<String> {
    let mut segments: Vec<(u32, bool, String)> = Vec::new();
    for param in split_params(raw) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let Some(rest) = key.strip_prefix(&format!("{name}*")) else {
            continue;
        };
        let (number, encoded) = match rest.strip_suffix('*') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        let Ok(number) = number.parse::<u32>() else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        segments.push((number, encoded, value));
    }
    if segments.is_empty() {
        return None;
    }
    segments.sort_by_key(|(n, _, _)| *n);
    let mut charset = None;
    let mut bytes = Vec::new();
    for (n, encoded, value) in &segments {
        let mut value = value.as_str();
        if *n == 0 && *encoded {
            // charset'language'text
            let mut parts = value.splitn(3, '\'');
            if let (Some(cs), Some(_lang), Some(text)) = (parts.next(), parts.next(), parts.next())
            {
                charset = Some(cs.to_string()).filter(|c| !c.is_empty());
                value = text;
            }
        }
        if *encoded {
            bytes.extend(percent_decode(value));
        } else {
            bytes.extend_from_slice(value.as_bytes());
        }
    }
    let decoded = charset
        .as_deref()
        .and_then(|cs| charset_decoder(cs.as_bytes()))
        .map(|decode| decode(&bytes))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Some(decoded)
}

/// The `;`-separated parameters of a header value, quotes respected.
fn split_params(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in raw.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(raw.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(raw.get(start..).unwrap_or_default());
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b.get(i), hex(i + 1), hex(i + 2)) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(c), _, _) => {
                out.push(*c);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_share_the_first_segments_charset() {
        let raw = " attachment;\r\n filename*0*=ISO-8859-1''Gr%FC%DFe%20;\r\n filename*1*=aus%20;\r\n filename*2*=M%FCnchen.pdf";
        assert_eq!(
            continued_param(raw, "filename").as_deref(),
            Some("Grüße aus München.pdf")
        );
    }

    #[test]
    fn literal_segments_are_not_decoded_and_order_is_by_number() {
        let raw = "attachment; filename*1=\"b%20c.txt\"; filename*0=\"a \"";
        assert_eq!(
            continued_param(raw, "filename").as_deref(),
            Some("a b%20c.txt")
        );
    }

    #[test]
    fn names_without_continuations_are_left_to_mail_parser() {
        assert_eq!(
            continued_param("attachment; filename=\"a.pdf\"", "filename"),
            None
        );
        assert_eq!(
            continued_param("attachment; filename*=UTF-8''a.pdf", "filename"),
            None
        );
        assert_eq!(continued_param("", "filename"), None);
        // Broken escapes are kept as they are, never a panic.
        let broken = continued_param("x; name*0*=utf-8''%E2%8; name*1*=%", "name").unwrap();
        assert!(broken.ends_with("%8%"), "{broken}");
    }
}

//! Envelope address handling: pulls the bare addr-spec out of an
//! `X-Sender` / `X-Receiver` value (or a header mailbox) and checks that it
//! looks like an address.

/// Longest accepted address in bytes (64-byte local part, `@`, 255-byte domain).
const MAX_ADDRESS_BYTES: usize = 320;

/// Characters a dot-atom local part may contain besides letters and digits.
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

/// An address taken from an envelope line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvelopeAddress {
    /// The null reverse-path `<>`.
    Null,
    /// A bare addr-spec, case kept as given.
    Mailbox(String),
}

/// Extracts the address from an envelope line's value.
///
/// Accepted forms: `alice@contoso.com`, `<alice@contoso.com> PARAM=...`,
/// `"Display Name" <alice@contoso.com>`, `<>`. ESMTP parameters after the
/// address are ignored. Returns `None` when the value holds no valid address.
pub(crate) fn envelope_address(value: &str) -> Option<EnvelopeAddress> {
    let value = value.trim();
    let candidate = match first_unquoted(value, '<') {
        Some(open) => {
            let after = value.get(open + 1..)?;
            let close = first_unquoted(after, '>')?;
            let inner = after.get(..close)?.trim();
            if inner.is_empty() {
                return Some(EnvelopeAddress::Null);
            }
            strip_source_route(inner)
        }
        None => first_token(value),
    };
    if is_valid_address(candidate) {
        Some(EnvelopeAddress::Mailbox(candidate.to_string()))
    } else {
        None
    }
}

/// Normalises an address taken from a parsed header (`mail-parser` output):
/// trims it, removes angle brackets, and returns it when it is valid.
pub(crate) fn header_address(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let bare = trimmed
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim();
    is_valid_address(bare).then(|| bare.to_string())
}

/// Byte offset of the first `needle` outside a double-quoted string.
fn first_unquoted(value: &str, needle: char) -> Option<usize> {
    first_unquoted_matching(value, |c| c == needle)
}

/// Byte offset of the first character matching `pred` outside a double-quoted string.
fn first_unquoted_matching(value: &str, pred: impl Fn(char) -> bool) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if pred(c) && !in_quotes {
            return Some(i);
        }
    }
    None
}

/// The first whitespace-delimited token, with quoted strings kept whole.
fn first_token(value: &str) -> &str {
    let end = first_unquoted_matching(value, char::is_whitespace).unwrap_or(value.len());
    value.get(..end).unwrap_or(value)
}

/// Removes an obsolete source route: `@relay1,@relay2:user@host` → `user@host`.
fn strip_source_route(inner: &str) -> &str {
    if inner.starts_with('@') {
        if let Some(colon) = inner.find(':') {
            return inner.get(colon + 1..).unwrap_or(inner).trim();
        }
    }
    inner
}

/// Whether `address` is a plausible addr-spec: `local@domain`.
///
/// Lenient where real mail is (internationalised characters, odd dots in the
/// local part, quoted local parts) but rejects whitespace, control
/// characters, structural characters and replacement characters.
pub fn is_valid_address(address: &str) -> bool {
    if address.is_empty() || address.len() > MAX_ADDRESS_BYTES {
        return false;
    }
    let Some(at) = address.rfind('@') else {
        return false;
    };
    let (Some(local), Some(domain)) = (address.get(..at), address.get(at + 1..)) else {
        return false;
    };
    is_valid_local_part(local) && is_valid_domain(domain)
}

fn is_valid_local_part(local: &str) -> bool {
    if local.is_empty() {
        return false;
    }
    if let Some(inner) = local.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return !inner.is_empty()
            && inner
                .chars()
                .all(|c| !c.is_control() && c != '\u{FFFD}' && (c == ' ' || !c.is_whitespace()));
    }
    local
        .chars()
        .all(|c| c.is_alphanumeric() || ATEXT_SPECIALS.contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    if let Some(literal) = domain.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '\\'));
    }
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(s: &str) -> Option<EnvelopeAddress> {
        Some(EnvelopeAddress::Mailbox(s.to_string()))
    }

    #[test]
    fn bare_and_bracketed_forms() {
        assert_eq!(
            envelope_address(" alice@contoso.com "),
            mailbox("alice@contoso.com")
        );
        assert_eq!(
            envelope_address("<bob@contoso.com> BODY=8BITMIME"),
            mailbox("bob@contoso.com")
        );
        assert_eq!(
            envelope_address("\"Build Server\" <build@contoso.com>"),
            mailbox("build@contoso.com")
        );
        assert_eq!(
            envelope_address("\"a <b>\" <c@d.example>"),
            mailbox("c@d.example")
        );
        assert_eq!(
            envelope_address("alice@contoso.com SIZE=10"),
            mailbox("alice@contoso.com")
        );
        assert_eq!(
            envelope_address("<@relay.example:u@h.example>"),
            mailbox("u@h.example")
        );
        assert_eq!(
            envelope_address("Alice@Contoso.COM"),
            mailbox("Alice@Contoso.COM")
        );
    }

    #[test]
    fn null_sender() {
        assert_eq!(envelope_address("<>"), Some(EnvelopeAddress::Null));
        assert_eq!(
            envelope_address(" <> BODY=7BIT"),
            Some(EnvelopeAddress::Null)
        );
    }

    #[test]
    fn invalid_values() {
        for bad in [
            "",
            "   ",
            "not an address",
            "@contoso.com",
            "alice@",
            "alice",
            "<alice@contoso.com",
            "alice@contoso..com",
            "ali ce@contoso.com",
            "ali\u{FFFD}ce@contoso.com",
            "alice@con\u{0}toso.com",
            "a,b@contoso.com",
        ] {
            assert_eq!(envelope_address(bad), None, "{bad:?}");
        }
        let long = format!("{}@contoso.com", "a".repeat(400));
        assert_eq!(envelope_address(&long), None);
    }

    #[test]
    fn quoted_and_international() {
        assert!(is_valid_address("\"john doe\"@example.com"));
        assert!(is_valid_address("jürgen@müller.example"));
        assert!(is_valid_address("user@[10.0.0.1]"));
    }

    #[test]
    fn header_addresses() {
        assert_eq!(
            header_address(" <x@y.example> "),
            Some("x@y.example".to_string())
        );
        assert_eq!(header_address("undisclosed-recipients"), None);
    }
}

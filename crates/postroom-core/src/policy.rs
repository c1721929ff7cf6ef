//! Who may post to a library (SharePoint's e-mail security policy, done
//! better): `accept_from = "anyone"`, or `"members"`: addresses, domains
//! and groups (`group:<name>`, from `farm.groups`) listed in the library's
//! `members`, and only when the sender is
//! authenticated, not merely named in the forgeable `From:`. A sender is
//! authenticated when the message came through a safe e-mail server that
//! vouches for it or through the admin API (the caller knows), or when an
//! `Authentication-Results` field written by a trusted server
//! (`farm.trusted_authserv_ids`) says DMARC passed for the From domain, or
//! DKIM passed for a signing domain aligned with it. Pure.

use serde::{Deserialize, Serialize};

use crate::address::split_address;
use crate::groups::{expand, Groups};

/// Who may post to a library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AcceptFrom {
    /// Any sender (SharePoint's "accept e-mail messages from any sender").
    #[default]
    Anyone,
    /// Authenticated senders in the library's `members`.
    Members,
}

/// What is known of a message's sender.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sender {
    /// The `From:` address, if any.
    pub from: Option<String>,
    /// How the sender is authenticated (for the log), or `None`.
    pub authenticated: Option<String>,
}

/// Whether `address` is in `members` (addresses, `@domain` or `domain`
/// entries; case-insensitive).
pub fn is_member<S: AsRef<str>>(members: &[S], address: &str) -> bool {
    let domain = split_address(address).map(|(_, d)| d);
    members.iter().any(|m| {
        let m = m.as_ref().trim();
        if m.contains('@') && !m.starts_with('@') {
            m.eq_ignore_ascii_case(address)
        } else {
            let wanted = m.trim_start_matches('@');
            domain.is_some_and(|d| d.eq_ignore_ascii_case(wanted))
        }
    })
}

/// Why `sender` may not post to library `alias`, with a code; `None` when
/// it may.
pub fn refuses_sender(
    alias: &str,
    accept_from: AcceptFrom,
    (members, groups): (&[String], &Groups),
    sender: &Sender,
) -> Option<(&'static str, String)> {
    if accept_from == AcceptFrom::Anyone {
        return None;
    }
    let Some(from) = &sender.from else {
        return Some((
            "not_a_member",
            format!("library {alias:?} accepts mail from its members only, and the message has no From address"),
        ));
    };
    if !is_member(&expand(members, groups), from) {
        return Some((
            "not_a_member",
            format!("library {alias:?} accepts mail from its members only, and {from} is not one"),
        ));
    }
    if sender.authenticated.is_none() {
        return Some((
            "not_authenticated",
            format!(
                "{from} is a member of library {alias:?}, but nothing shows that the message is from them"
            ),
        ));
    }
    None
}

/// An `Authentication-Results` value with its comments (`(...)`, nested)
/// removed and every quoted string replaced by `""`, so that neither a
/// comment's `;` nor a quoted local part (`"x;dkim=pass header.d=..."@evil`)
/// can split or forge a result (RFC 8601 allows both).
fn without_comments_and_quotes(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                if !quoted {
                    out.push_str("\"\"");
                }
                quoted = !quoted;
            }
            _ if quoted => {}
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether a domain is `from_domain` or one of its parents/children
/// (relaxed alignment, as DMARC's default).
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// From the values of `Authentication-Results` fields: how the sender of
/// `from` is authenticated by a trusted server, if one says so.
pub fn authenticated_by_results(
    results: &[String],
    trusted: &[String],
    from: &str,
) -> Option<String> {
    let (_, from_domain) = split_address(from)?;
    for value in results {
        let value = without_comments_and_quotes(value);
        let mut parts = value.split(';');
        let authserv = parts.next()?.split_whitespace().next().unwrap_or_default();
        if !trusted.iter().any(|t| t.eq_ignore_ascii_case(authserv)) {
            continue;
        }
        for result in parts {
            let words: Vec<&str> = result.split_whitespace().collect();
            let Some(method) = words.first() else {
                continue;
            };
            let prop = |name: &str| {
                words.iter().find_map(|w| {
                    let (k, v) = w.split_once('=')?;
                    k.eq_ignore_ascii_case(name)
                        .then(|| v.trim_matches('"').trim_start_matches('@'))
                })
            };
            let passed = |m: &str| method.eq_ignore_ascii_case(&format!("{m}=pass"));
            if passed("dmarc")
                && prop("header.from").is_some_and(|d| d.eq_ignore_ascii_case(from_domain))
            {
                return Some(format!("dmarc=pass (by {authserv})"));
            }
            let signer =
                prop("header.d").or_else(|| prop("header.i").and_then(|i| i.rsplit('@').next()));
            if passed("dkim") && signer.is_some_and(|d| aligned(d, from_domain)) {
                return Some(format!("dkim=pass (by {authserv})"));
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "policy_test.rs"]
mod tests;

//! Email address syntax as postroom needs it: aliases (local parts), domain
//! names and splitting an envelope address into the two.

/// Longest alias a library may have (SharePoint's limit).
pub const MAX_ALIAS_LEN: usize = 128;

/// Why a string is not a valid alias (local part).
pub fn alias_problem(alias: &str) -> Option<&'static str> {
    if alias.is_empty() {
        return Some("is empty");
    }
    if alias.chars().count() > MAX_ALIAS_LEN {
        return Some("is longer than 128 characters");
    }
    if !alias.chars().all(is_atext_or_dot) {
        return Some("is not a valid local part");
    }
    if alias.starts_with('.') || alias.ends_with('.') || alias.contains("..") {
        return Some("is not a valid local part");
    }
    None
}

fn is_atext_or_dot(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

/// Why a string is not a valid domain name.
pub fn domain_problem(domain: &str) -> Option<&'static str> {
    if domain.is_empty() {
        return Some("is empty");
    }
    if domain.len() > 253 {
        return Some("is longer than 253 characters");
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Some("is not a valid domain name");
        }
    }
    None
}

/// Split `local@domain` at the last `@`; `None` if there is no `@` or a side is empty.
pub fn split_address(address: &str) -> Option<(&str, &str)> {
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(alias_problem("shared-documents"), None);
        assert_eq!(alias_problem("build.logs+x"), None);
        assert_eq!(alias_problem("a b"), Some("is not a valid local part"));
        assert_eq!(alias_problem(".a"), Some("is not a valid local part"));
        assert_eq!(alias_problem("a..b"), Some("is not a valid local part"));
        assert_eq!(alias_problem("a@b"), Some("is not a valid local part"));
        assert_eq!(alias_problem(""), Some("is empty"));
        assert_eq!(alias_problem(&"x".repeat(128)), None);
        assert_eq!(
            alias_problem(&"x".repeat(129)),
            Some("is longer than 128 characters")
        );
    }

    #[test]
    fn domains() {
        assert_eq!(domain_problem("sharepoint.contoso.local"), None);
        assert_eq!(domain_problem("localhost"), None);
        assert!(domain_problem("bad_domain.com").is_some());
        assert!(domain_problem("-x.com").is_some());
        assert!(domain_problem("a..b").is_some());
        assert!(domain_problem("").is_some());
    }

    #[test]
    fn split() {
        assert_eq!(split_address("a@b.c"), Some(("a", "b.c")));
        assert_eq!(split_address("\"x@y\"@b.c"), Some(("\"x@y\"", "b.c")));
        assert_eq!(split_address("nobody"), None);
        assert_eq!(split_address("@b"), None);
    }
}

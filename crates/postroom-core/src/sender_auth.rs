//! Whether the farm's own checks authenticate a message's `From:` domain
//! (pure): given what DKIM, SPF and DMARC said (evaluated at the edge with
//! mail-auth and the node's resolver), a [`Verdict`]. DMARC decides when
//! the domain publishes a policy; without one, a passing DKIM signature or
//! SPF check whose domain is aligned with the `From:` domain (the same
//! domain, or a parent of it) authenticates it. A lookup that failed for
//! now makes the verdict temporary, so the message is tried again rather
//! than refused.

/// What one check said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    Pass,
    /// Failed, or no usable result (none, neutral, softfail, permerror); the text says which.
    Fail(String),
    /// A lookup failed for now.
    TempError(String),
}

/// The results of a message's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChecks {
    /// `From:` domain, lowercase.
    pub from_domain: String,
    /// Each DKIM signature: its `d=` domain (lowercase) and result.
    pub dkim: Vec<(String, CheckResult)>,
    /// SPF of the envelope sender's domain, when the client is known.
    pub spf: Option<(String, CheckResult)>,
    /// DMARC: `None` when the domain publishes no policy.
    pub dmarc: Option<CheckResult>,
}

/// The farm's verdict on a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated: how.
    Pass(String),
    /// Not authenticated: why.
    Fail(String),
    /// Cannot tell now (DNS): why.
    TempError(String),
}

/// `domain` is `from` or a parent of it (relaxed alignment without a
/// public-suffix list: the parent must have a dot).
fn aligned(domain: &str, from: &str) -> bool {
    domain.eq_ignore_ascii_case(from)
        || (domain.contains('.')
            && from.len() > domain.len()
            && from
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", domain.to_ascii_lowercase())))
}

/// See the module documentation.
pub fn verdict(checks: &AuthChecks) -> Verdict {
    let from = &checks.from_domain;
    match &checks.dmarc {
        Some(CheckResult::Pass) => return Verdict::Pass(format!("DMARC passed for {from}")),
        Some(CheckResult::Fail(why)) => {
            return Verdict::Fail(format!("DMARC failed for {from} ({why})"))
        }
        Some(CheckResult::TempError(why)) => {
            return Verdict::TempError(format!(
                "the DMARC lookup for {from} failed for now ({why})"
            ))
        }
        None => {}
    }
    if let Some((d, _)) = checks
        .dkim
        .iter()
        .find(|(d, r)| *r == CheckResult::Pass && aligned(d, from))
    {
        return Verdict::Pass(format!("a DKIM signature of {d} passed"));
    }
    if let Some((d, CheckResult::Pass)) = &checks.spf {
        if aligned(d, from) {
            return Verdict::Pass(format!("SPF passed for {d}"));
        }
    }
    let temporary = checks
        .dkim
        .iter()
        .chain(checks.spf.iter())
        .find_map(|(d, r)| match r {
            CheckResult::TempError(why) => Some(format!("{d}: {why}")),
            _ => None,
        });
    if let Some(why) = temporary {
        return Verdict::TempError(format!("a DNS lookup failed for now ({why})"));
    }
    let mut said = Vec::new();
    if checks.dkim.is_empty() {
        said.push("no DKIM signature".to_string());
    }
    for (d, r) in &checks.dkim {
        said.push(match r {
            CheckResult::Pass => format!("DKIM of {d} passed but is not aligned with {from}"),
            CheckResult::Fail(why) | CheckResult::TempError(why) => format!("DKIM of {d}: {why}"),
        });
    }
    match &checks.spf {
        None => said.push("SPF not checked (the client is unknown)".to_string()),
        Some((d, CheckResult::Pass)) => {
            said.push(format!("SPF passed for {d}, not aligned with {from}"))
        }
        Some((d, CheckResult::Fail(why) | CheckResult::TempError(why))) => {
            said.push(format!("SPF for {d}: {why}"))
        }
    }
    said.push(format!("{from} publishes no DMARC policy"));
    Verdict::Fail(said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(dkim: &[(&str, CheckResult)], spf: Option<(&str, CheckResult)>) -> AuthChecks {
        AuthChecks {
            from_domain: "mail.contoso.example".into(),
            dkim: dkim
                .iter()
                .map(|(d, r)| (d.to_string(), r.clone()))
                .collect(),
            spf: spf.map(|(d, r)| (d.to_string(), r)),
            dmarc: None,
        }
    }

    #[test]
    fn dmarc_decides_when_published() {
        let mut c = checks(&[("contoso.example", CheckResult::Pass)], None);
        c.dmarc = Some(CheckResult::Fail("policy reject".into()));
        assert!(matches!(verdict(&c), Verdict::Fail(w) if w.contains("DMARC failed")));
        c.dmarc = Some(CheckResult::Pass);
        assert!(matches!(verdict(&c), Verdict::Pass(w) if w.contains("DMARC passed")));
        c.dmarc = Some(CheckResult::TempError("timeout".into()));
        assert!(matches!(verdict(&c), Verdict::TempError(_)));
    }

    #[test]
    fn without_dmarc_an_aligned_pass_authenticates() {
        let parent = checks(&[("contoso.example", CheckResult::Pass)], None);
        assert!(
            matches!(verdict(&parent), Verdict::Pass(w) if w.contains("DKIM signature of contoso.example"))
        );
        let other = checks(&[("mailer.example", CheckResult::Pass)], None);
        assert!(matches!(verdict(&other), Verdict::Fail(w) if w.contains("not aligned")));
        // A bare top-level domain is no parent to align with.
        let tld = checks(&[("example", CheckResult::Pass)], None);
        assert!(matches!(verdict(&tld), Verdict::Fail(_)));
        let spf = checks(&[], Some(("mail.contoso.example", CheckResult::Pass)));
        assert!(matches!(verdict(&spf), Verdict::Pass(w) if w.contains("SPF passed")));
        let lookalike = checks(&[("toso.example", CheckResult::Pass)], None);
        assert!(matches!(verdict(&lookalike), Verdict::Fail(_)));
    }

    #[test]
    fn failures_say_what_each_check_said_and_lookups_failing_for_now_are_temporary() {
        let bad = checks(
            &[(
                "contoso.example",
                CheckResult::Fail("body hash mismatch".into()),
            )],
            Some(("contoso.example", CheckResult::Fail("softfail".into()))),
        );
        let Verdict::Fail(why) = verdict(&bad) else {
            panic!()
        };
        assert!(
            why.contains("body hash mismatch") && why.contains("softfail"),
            "{why}"
        );
        assert!(why.contains("publishes no DMARC policy"), "{why}");
        let none = checks(&[], None);
        let Verdict::Fail(why) = verdict(&none) else {
            panic!()
        };
        assert!(
            why.starts_with("no DKIM signature; SPF not checked"),
            "{why}"
        );
        let temp = checks(
            &[("contoso.example", CheckResult::TempError("timeout".into()))],
            None,
        );
        assert!(matches!(verdict(&temp), Verdict::TempError(w) if w.contains("timeout")));
    }
}

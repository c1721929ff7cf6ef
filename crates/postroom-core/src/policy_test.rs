//! Tests of who may post: membership, authentication, forged From.

use super::*;

fn members() -> Vec<String> {
    vec![
        "alice@contoso.com".into(),
        "@fabrikam.com".into(),
        "tailspin.example".into(),
    ]
}

fn sender(from: &str, authenticated: bool) -> Sender {
    Sender {
        from: Some(from.to_string()),
        authenticated: authenticated.then(|| "dmarc=pass (by mx.contoso.com)".to_string()),
    }
}

#[test]
fn members_are_addresses_and_domains() {
    let m = members();
    assert!(is_member(&m, "ALICE@contoso.com"));
    assert!(!is_member(&m, "bob@contoso.com"));
    assert!(is_member(&m, "bob@fabrikam.com"));
    assert!(is_member(&m, "x@TAILSPIN.example"));
    assert!(!is_member(&m, "x@sub.tailspin.example"));
    assert!(!is_member(&m, "not an address"));
}

#[test]
fn anyone_may_post_unless_the_library_takes_members_only() {
    assert_eq!(
        refuses_sender(
            "docs",
            AcceptFrom::Anyone,
            (&[], &Groups::new()),
            &Sender::default()
        ),
        None
    );
    let m = members();
    assert_eq!(
        refuses_sender(
            "docs",
            AcceptFrom::Members,
            (&m, &Groups::new()),
            &sender("alice@contoso.com", true)
        ),
        None
    );
    let (code, why) = refuses_sender(
        "docs",
        AcceptFrom::Members,
        (&m, &Groups::new()),
        &sender("mallory@evil.example", true),
    )
    .unwrap();
    assert_eq!(code, "not_a_member");
    assert!(why.contains("mallory@evil.example is not one"), "{why}");
    // A forged From naming a member is not enough.
    let (code, why) = refuses_sender(
        "docs",
        AcceptFrom::Members,
        (&m, &Groups::new()),
        &sender("alice@contoso.com", false),
    )
    .unwrap();
    assert_eq!(code, "not_authenticated");
    assert!(
        why.contains("alice@contoso.com is a member of library \"docs\""),
        "{why}"
    );
    let (code, _) = refuses_sender(
        "docs",
        AcceptFrom::Members,
        (&m, &Groups::new()),
        &Sender::default(),
    )
    .unwrap();
    assert_eq!(code, "not_a_member");
    // A member through a group.
    let groups: Groups = [(
        "board".to_string(),
        vec!["carol@tailspin.example".to_string()],
    )]
    .into();
    let via_group = vec!["group:board".to_string()];
    let carol = sender("carol@tailspin.example", true);
    assert_eq!(
        refuses_sender("docs", AcceptFrom::Members, (&via_group, &groups), &carol),
        None
    );
    assert!(refuses_sender(
        "docs",
        AcceptFrom::Members,
        (&via_group, &Groups::new()),
        &carol
    )
    .is_some());
}

#[test]
fn trusted_authentication_results_authenticate_aligned_senders() {
    let trusted = vec!["mx.contoso.com".to_string()];
    let results = |v: &str| vec![v.to_string()];
    assert_eq!(
        authenticated_by_results(
            &results("mx.contoso.com; dmarc=pass header.from=contoso.com"),
            &trusted,
            "alice@contoso.com"
        ),
        Some("dmarc=pass (by mx.contoso.com)".to_string())
    );
    assert_eq!(
        authenticated_by_results(
            &results("MX.contoso.com 1; spf=fail smtp.mailfrom=x; dkim=pass header.d=mail.contoso.com header.s=s1"),
            &trusted,
            "alice@contoso.com"
        ),
        Some("dkim=pass (by MX.contoso.com)".to_string())
    );
    // OpenDKIM's comment with a `;` inside does not hide the result.
    assert_eq!(
        authenticated_by_results(
            &results("mx.contoso.com; dkim=pass (2048-bit key; unprotected) header.d=contoso.com header.s=s1"),
            &trusted,
            "alice@contoso.com"
        ),
        Some("dkim=pass (by mx.contoso.com)".to_string())
    );
    // A quoted local part echoed by the server cannot inject a result.
    assert_eq!(
        authenticated_by_results(
            &results("mx.contoso.com; spf=fail smtp.mailfrom=\"x;dkim=pass header.d=contoso.com x\"@evil.example"),
            &trusted,
            "alice@contoso.com"
        ),
        None
    );
    // Untrusted server, failed or unaligned results, a forged header: no.
    for v in [
        "attacker.example; dmarc=pass header.from=contoso.com",
        "mx.contoso.com; dmarc=fail header.from=contoso.com",
        "mx.contoso.com; dkim=pass header.d=evil.example",
        "mx.contoso.com; dmarc=pass header.from=evil.example",
        "mx.contoso.com",
        "",
    ] {
        assert_eq!(
            authenticated_by_results(&results(v), &trusted, "alice@contoso.com"),
            None,
            "{v}"
        );
    }
    assert_eq!(
        authenticated_by_results(
            &results("mx.contoso.com; dmarc=pass header.from=contoso.com"),
            &[],
            "alice@contoso.com"
        ),
        None
    );
}

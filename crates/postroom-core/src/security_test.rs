//! Tests of the security settings: secrets never shown, compared exactly,
//! and the rules tying tokens, secrets and TLS to the listen address.

use super::*;
use crate::config::ConfigFile;

const TOKEN: &str = "0123456789abcdef-token";

fn problems(toml_text: &str) -> Vec<String> {
    let cfg: ConfigFile = toml::from_str(toml_text).unwrap();
    security_problems(&cfg.cluster, &cfg.admin, &cfg.tls)
}

#[test]
fn a_secret_is_never_shown_and_matches_only_itself() {
    let s = Secret::new(&format!("  {TOKEN}\n"));
    assert_eq!(s.expose(), TOKEN);
    assert!(s.matches(TOKEN));
    assert!(!s.matches("0123456789abcdef-tokeN"));
    assert!(!s.matches(""));
    assert!(!s.matches(&format!("{TOKEN}x")));
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    let cfg: ConfigFile = toml::from_str(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[cluster]\nsecret = \"{TOKEN}\"\n"
    ))
    .unwrap();
    let shown = toml::to_string(&cfg).unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("token = \"<redacted>\""), "{shown}");
    assert!(!format!("{cfg:?}").contains(TOKEN));
}

#[test]
fn bad_secrets_are_named_without_their_value() {
    let cases = [
        (
            "x9y8z",
            "admin.token: 5 characters is too short (at least 16",
        ),
        (
            "has a space in it!!",
            "admin.token: must be printable ASCII",
        ),
        ("<redacted>", "is what `config check` prints"),
        ("   ", "admin.token: must not be empty"),
    ];
    for (value, needle) in cases {
        let found = problems(&format!("[admin]\ntoken = \"{value}\"\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains(needle), "{needle} missing in {found:?}");
        if value != REDACTED && !value.trim().is_empty() {
            assert!(!found[0].contains(value), "{found:?}");
        }
    }
    let both = problems(&format!(
        "[cluster]\nsecret = \"{TOKEN}\"\nsecret_file = \"/run/secret\"\n"
    ));
    assert_eq!(
        both,
        ["cluster.secret: give cluster.secret or cluster.secret_file, not both"]
    );
}

#[test]
fn loopback_binds_need_nothing_others_need_a_token() {
    assert!(
        problems("").is_empty(),
        "the embedded default listens on loopback"
    );
    for listen in ["127.0.0.3:7700", "localhost:7700", "[::1]:7700"] {
        assert!(
            problems(&format!(
                "[cluster]\nlisten = \"{listen}\"\npeers = [\"1@{listen}\", \"2@127.0.0.9:1\"]\n"
            ))
            .is_empty(),
            "{listen}"
        );
    }
    let open = problems("[cluster]\nlisten = \"0.0.0.0:7700\"\n");
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].starts_with(
            "admin.token or admin.token_file is required when cluster.listen \"0.0.0.0:7700\" is not a loopback address"
        ),
        "{open:?}"
    );
    assert!(problems(
        "[cluster]\nlisten = \"0.0.0.0:7700\"\n[admin]\ntoken_file = \"/run/token\"\n"
    )
    .is_empty());
}

#[test]
fn a_farm_beyond_loopback_needs_a_secret_or_mtls() {
    let farm = "[cluster]\nlisten = \"10.0.0.1:7700\"\npeers = [\"1@10.0.0.1:7700\", \"2@10.0.0.2:7700\"]\n";
    let found = problems(&format!("{farm}[admin]\ntoken = \"{TOKEN}\"\n"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("cluster.secret or cluster.secret_file is required in a farm of several nodes when cluster.listen \"10.0.0.1:7700\""),
        "{found:?}"
    );
    assert!(problems(&format!(
        "{farm}secret_file = \"/run/secret\"\n[admin]\ntoken = \"{TOKEN}\"\n"
    ))
    .is_empty());
    // Required client certificates authenticate peers and admins alike.
    let mtls = format!(
        "{farm}[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nca_file = \"/ca.pem\"\nclient_certs = \"required\"\n"
    );
    assert!(problems(&mtls).is_empty(), "{:?}", problems(&mtls));
}

#[test]
fn tls_settings_go_together() {
    let cases = [
        (
            "cert_file = \"/c.pem\"\n",
            "tls.key_file: required with tls.cert_file \"/c.pem\"",
        ),
        (
            "key_file = \"/k.pem\"\n",
            "tls.cert_file: required with tls.key_file \"/k.pem\"",
        ),
        (
            "ca_file = \"/ca.pem\"\n",
            "tls.ca_file: \"/ca.pem\" is set but TLS is off",
        ),
        (
            "cert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nclient_certs = \"optional\"\n",
            "tls.client_certs: \"optional\" needs tls.ca_file",
        ),
    ];
    for (tls, needle) in cases {
        let found = problems(&format!("[tls]\n{tls}"));
        assert!(
            found.iter().any(|p| p.starts_with(needle)),
            "{needle} missing in {found:?}"
        );
    }
    let found = problems(
        "[cluster]\njoin = true\nlisten = \"127.0.0.2:7700\"\n[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n",
    );
    assert_eq!(
        found,
        ["tls.ca_file: required with TLS in a farm of several nodes (nodes verify each other's certificates with it)"]
    );
    let err = toml::from_str::<ConfigFile>("[tls]\nclient_certs = \"always\"\n").unwrap_err();
    assert!(err.to_string().contains("always"), "{err}");
    let err = toml::from_str::<ConfigFile>("[admin]\npassword = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
}

//! Tests of the configuration model: defaults, strict parsing by serde, validation messages.

use super::*;

fn farm_with(libraries: Vec<LibrarySettings>) -> FarmConfig {
    FarmConfig {
        libraries,
        ..FarmConfig::default()
    }
}

fn problems(cfg: &FarmConfig) -> Vec<String> {
    match cfg.validate() {
        Err(CoreError::InvalidConfig { problems }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn embedded_defaults_are_valid() {
    let cfg = ConfigFile::embedded_defaults();
    cfg.validate().unwrap();
    assert_eq!(cfg.farm.incoming_domains, vec!["localhost"]);
    assert_eq!(cfg.libraries[0].alias, "documents");
    assert_eq!(
        cfg.drop_folder.resolved_path(&cfg.data_dir),
        PathBuf::from("postroom-data/drop")
    );
    assert_eq!(
        cfg.libraries[0].resolved_path(&cfg.data_dir),
        PathBuf::from("postroom-data/libraries/documents")
    );
}

#[test]
fn alias_errors_name_library_and_value() {
    let cfg = farm_with(vec![LibrarySettings::document_library(
        "Shared Documents",
        "a b",
    )]);
    assert_eq!(
        problems(&cfg),
        vec![r#"library "Shared Documents": alias "a b" is not a valid local part"#]
    );
}

#[test]
fn aliases_are_unique_case_insensitively() {
    let cfg = farm_with(vec![
        LibrarySettings::document_library("One", "docs"),
        LibrarySettings::document_library("Two", "DOCS"),
    ]);
    assert_eq!(
        problems(&cfg),
        vec![r#"library "Two": alias "DOCS" is already used by library "One""#]
    );
}

#[test]
fn alias_length_limit() {
    let long = "a".repeat(129);
    let cfg = farm_with(vec![LibrarySettings::document_library("L", &long)]);
    assert!(problems(&cfg)[0].contains("longer than 128"));
    let ok = farm_with(vec![LibrarySettings::document_library(
        "L",
        &"a".repeat(128),
    )]);
    ok.validate().unwrap();
}

#[test]
fn domain_and_display_address_rules() {
    let mut cfg = FarmConfig::default();
    cfg.farm.incoming_domains = vec![
        "bad_domain".into(),
        "ok.example".into(),
        "OK.example".into(),
    ];
    cfg.farm.display_address = Some("elsewhere.example".into());
    let p = problems(&cfg);
    assert!(p.contains(
        &r#"farm.incoming_domains: "bad_domain" is not a valid domain name"#.to_string()
    ));
    assert!(p.contains(&r#"farm.incoming_domains: "OK.example" is listed twice"#.to_string()));
    assert!(p
        .iter()
        .any(|m| m.contains("farm.display_address: \"elsewhere.example\"")));
}

#[test]
fn domain_aliases_are_accepted_but_not_displayed() {
    let mut cfg = FarmConfig::default();
    cfg.farm.incoming_domains = vec!["contoso.com".into()];
    cfg.farm.domain_aliases = vec!["contoso-old.com".into()];
    assert!(cfg.validate().is_ok());
    assert!(cfg.accepts_domain("CONTOSO-OLD.com") && cfg.accepts_domain("contoso.com"));
    cfg.farm.display_address = Some("contoso-old.com".into());
    cfg.farm.domain_aliases.push("Contoso.com".into());
    cfg.farm.domain_aliases.push("bad_alias".into());
    let p = problems(&cfg);
    assert!(
        p.iter()
            .any(|m| m.starts_with("farm.display_address: \"contoso-old.com\"")),
        "{p:?}"
    );
    assert!(p.contains(&r#"farm.domain_aliases: "Contoso.com" is listed twice (or is also an incoming domain)"#.to_string()), "{p:?}");
    assert!(
        p.contains(&r#"farm.domain_aliases: "bad_alias" is not a valid domain name"#.to_string()),
        "{p:?}"
    );
}

#[test]
fn strict_parsing_names_unknown_keys() {
    let err = toml::from_str::<ConfigFile>("data_dir = \"x\"\nbogus = 1\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
    let err = toml::from_str::<ConfigFile>(
        "[[library]]\nname = \"A\"\nalias = \"a\"\nsave_orignal = true\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("save_orignal"), "{err}");
}

#[test]
fn full_file_parses() {
    let text = r#"
data_dir = "/var/lib/postroom"
[cluster]
node_id = 2
lease_ttl = "10s"
[farm]
incoming_domains = ["sharepoint.contoso.local", "sp.contoso.com"]
display_address = "sharepoint.contoso.local"
ledger_retention = "3d"
[drop_folder]
path = "/mnt/drop"
poll_interval = "5s"
[[library]]
name = "Shared Documents"
alias = "shared-documents"
kind = "document_library"
attachment_folders = "subject"
overwrite_existing = true
save_original = true
path = "/srv/docs"
"#;
    let cfg: ConfigFile = toml::from_str(text).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.cluster.lease_ttl.as_millis(), 10_000);
    assert_eq!(cfg.drop_folder.poll_interval.as_millis(), 5_000);
    assert_eq!(
        cfg.libraries[0].attachment_folders,
        AttachmentFolders::Subject
    );
    assert_eq!(
        cfg.libraries[0].resolved_path(&cfg.data_dir),
        PathBuf::from("/srv/docs")
    );
    let err =
        toml::from_str::<ConfigFile>("[drop_folder]\npoll_interval = \"5 parsecs\"\n").unwrap_err();
    assert!(err.to_string().contains("\"5 parsecs\""), "{err}");
}

#[test]
fn smtp_settings_and_mail_policy_parse_and_validate() {
    let text = r#"
[farm]
incoming_domains = ["sp.contoso.local"]
max_message_size = "10MB"
max_recipients = 5
safe_servers = ["10.0.0.0/8", "192.0.2.7"]
deny_servers = ["10.6.6.6"]
[smtp]
listen = "0.0.0.0:25"
hostname = "mx1.contoso.local"
idle_timeout = "2m"
"#;
    let cfg: ConfigFile = toml::from_str(text).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.farm.max_message_size.0, 10 * 1024 * 1024);
    assert_eq!(cfg.farm.safe_servers.as_ref().unwrap().len(), 2);
    assert_eq!(cfg.smtp.listen, "0.0.0.0:25");
    assert_eq!(cfg.smtp.max_connections_per_ip, 50);

    let err = toml::from_str::<ConfigFile>("[smtp]\nlisten_on = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("listen_on"), "{err}");
    let err = toml::from_str::<ConfigFile>("[farm]\nsafe_servers = [\"10.0.0/8\"]\n").unwrap_err();
    assert!(err.to_string().contains("10.0.0/8"), "{err}");

    let mut bad = ConfigFile::embedded_defaults();
    bad.smtp.listen = "localhost".into();
    bad.smtp.tls_certificate = Some("/etc/cert.pem".into());
    bad.smtp.max_session_size = crate::units::ByteSize(1024);
    bad.farm.safe_servers = Some(Vec::new());
    let text = bad.validate().unwrap_err().to_string();
    for needle in [
        "smtp.listen: \"localhost\"",
        "smtp.tls_key: required",
        "smtp.max_session_size",
        "farm.safe_servers: an empty list",
    ] {
        assert!(text.contains(needle), "{needle} missing in {text}");
    }
}

#[test]
fn a_farm_of_several_nodes_needs_shared_library_paths() {
    let text = r#"
[cluster]
node_id = 2
listen = "0.0.0.0:7700"
peers = ["1@pr-0.postroom:7700", "2@pr-1.postroom:7700", "3@pr-2.postroom:7700"]
[http]
listen = "0.0.0.0:7780"
[[library]]
name = "Shared Documents"
alias = "shared-documents"
path = "/libraries/shared"
[[library]]
name = "Local"
alias = "local"
"#;
    let cfg: ConfigFile = toml::from_str(text).unwrap();
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains(
            "library \"Local\": path must be an absolute path on storage every node shares"
        ),
        "{err}"
    );
    assert!(!err.contains("Shared Documents"), "{err}");
    assert!(
        err.contains("drop_folder.path: must be an absolute path"),
        "{err}"
    );
    assert_eq!(
        cfg.cluster
            .advertised_address("0.0.0.0:7700".parse().unwrap()),
        "pr-1.postroom:7700"
    );

    let mut single = ConfigFile::embedded_defaults();
    single.cluster.peers = vec!["1@127.0.0.1:7700".parse().unwrap()];
    single.validate().unwrap();

    let err = toml::from_str::<ConfigFile>("[cluster]\npeers = [\"a:1\"]\n").unwrap_err();
    assert!(
        err.to_string().contains("\"a:1\" is not id@host:port"),
        "{err}"
    );
    let err = toml::from_str::<ConfigFile>("[http]\nport = 1\n").unwrap_err();
    assert!(err.to_string().contains("port"), "{err}");
}

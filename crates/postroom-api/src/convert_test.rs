//! Tests of the protocol ↔ config conversions and partial updates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::proto::StringList;
use postroom_core::config::{AttachmentFolders, LibraryKind};

fn list(values: &[&str]) -> Option<StringList> {
    Some(StringList {
        values: values.iter().map(|v| v.to_string()).collect(),
    })
}

#[test]
fn farm_settings_round_trip_through_an_update() {
    let mut config = FarmConfig::default();
    let update = FarmSettingsUpdate {
        incoming_enabled: Some(false),
        incoming_domains: list(&["contoso.com", " mail.contoso.com "]),
        display_address: Some("contoso.com".into()),
        drop_folder: Some("/srv/drop".into()),
        safe_servers: list(&["10.0.0.0/8", "192.0.2.7"]),
        deny_servers: list(&["203.0.113.0/24"]),
        max_message_size_bytes: Some(20 << 20),
        max_recipients: Some(10),
        ledger_retention_seconds: Some(3_600),
        ..Default::default()
    };
    update_farm(&mut config, &update).unwrap();
    let shown = farm_settings(&config);
    assert!(!shown.incoming_enabled);
    assert_eq!(shown.incoming_domains, ["contoso.com", "mail.contoso.com"]);
    assert_eq!(shown.drop_folder, "/srv/drop");
    assert_eq!(shown.quarantine_folder, "");
    assert_eq!(shown.safe_servers_mode, "listed");
    assert_eq!(shown.safe_servers, ["10.0.0.0/8", "192.0.2.7"]);
    assert_eq!(shown.deny_servers, ["203.0.113.0/24"]);
    assert_eq!(
        (
            shown.max_message_size_bytes,
            shown.max_recipients,
            shown.ledger_retention_seconds
        ),
        (20 << 20, 10, 3_600)
    );
    // Back to all servers, and empty strings back to defaults.
    let update = FarmSettingsUpdate {
        safe_servers_mode: Some("all".into()),
        drop_folder: Some(String::new()),
        display_address: Some(" ".into()),
        ..Default::default()
    };
    update_farm(&mut config, &update).unwrap();
    assert_eq!(config.farm.safe_servers, None);
    assert_eq!(config.drop_folder.path, None);
    assert_eq!(config.farm.display_address, None);
}

#[test]
fn bad_farm_values_name_the_field() {
    let mut config = FarmConfig::default();
    let cases = [
        (
            FarmSettingsUpdate {
                safe_servers: list(&["10.0.0.0/33"]),
                ..Default::default()
            },
            "safe_servers: \"10.0.0.0/33\" is not an address or CIDR range",
        ),
        (
            FarmSettingsUpdate {
                safe_servers_mode: Some("some".into()),
                ..Default::default()
            },
            "safe_servers_mode: \"some\" is not one of all, listed",
        ),
        (
            FarmSettingsUpdate {
                safe_servers_mode: Some("all".into()),
                safe_servers: list(&["10.0.0.1"]),
                ..Default::default()
            },
            "safe_servers: a list of safe servers is only used with safe_servers_mode \"listed\"",
        ),
    ];
    for (update, message) in cases {
        let e = update_farm(&mut config, &update).unwrap_err();
        assert!(e.to_string().starts_with(message), "{e}");
    }
}

#[test]
fn libraries_convert_with_defaults_and_updates() {
    let config = FarmConfig::default();
    let created = new_library(
        &Library {
            name: " Invoices ".into(),
            alias: "invoices".into(),
            ..Default::default()
        },
        false,
    )
    .unwrap();
    assert_eq!(created.kind, LibraryKind::DocumentLibrary);
    assert_eq!(created.attachment_folders, AttachmentFolders::Root);
    assert!(created.enabled);
    let shown = library(&config, &created);
    assert_eq!(shown.name, "Invoices");
    assert_eq!(shown.kind, "document_library");
    assert_eq!(shown.attachment_folders, "root");
    assert_eq!(shown.address, "invoices@localhost");

    let mut lib = created;
    let update = LibraryUpdate {
        attachment_folders: Some("sender".into()),
        enabled: Some(false),
        save_original: Some(true),
        path: Some("/srv/lib/invoices".into()),
        ..Default::default()
    };
    update_library(&mut lib, &update).unwrap();
    assert_eq!(lib.attachment_folders, AttachmentFolders::Sender);
    assert!(!lib.enabled && lib.save_original);
    assert_eq!(lib.path, Some(PathBuf::from("/srv/lib/invoices")));

    let bad = LibraryUpdate {
        kind: Some("wiki".into()),
        ..Default::default()
    };
    assert_eq!(
        update_library(&mut lib, &bad).unwrap_err().to_string(),
        "update.kind: \"wiki\" is not one of document_library, picture_library, form_library, announcements, calendar, discussion_board, blog"
    );
    let bad = Library {
        name: "X".into(),
        alias: "x".into(),
        attachment_folders: "everywhere".into(),
        ..Default::default()
    };
    assert_eq!(
        new_library(&bad, false).unwrap_err().to_string(),
        "library.attachment_folders: \"everywhere\" is not one of root, subject, sender"
    );
}

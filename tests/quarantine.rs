//! End-to-end: quarantine retention. With `[quarantine] retention`, a
//! quarantined message is deleted once older than it (and logged); without
//! one, it stays until an administrator replays or deletes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{wait_until, Farm, DOMAIN};

fn unknown_alias(n: usize) -> Vec<u8> {
    format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <nobody@{DOMAIN}>\r\nSubject: lost {n}\r\n\r\nhi\r\n"
    )
    .into_bytes()
}

#[test]
fn quarantined_messages_expire_after_the_retention_and_not_without_one() {
    let keeping = Farm::configured("", "", "");
    let expiring = Farm::configured("", "", "[quarantine]\nretention = \"2s\"\n");
    let (keep_node, expire_node) = (keeping.start(), expiring.start());
    keeping.drop_file("lost.eml", &unknown_alias(1));
    expiring.drop_file("lost.eml", &unknown_alias(1));
    wait_until(Duration::from_secs(20), "both quarantined", || {
        keeping.quarantine().len() == 1 && expiring.quarantine().len() == 1
    });
    wait_until(Duration::from_secs(20), "the expiring one deleted", || {
        expiring.quarantine().is_empty()
    });
    let quarantine = expiring.data_dir().join("quarantine");
    let left: Vec<_> = std::fs::read_dir(&quarantine)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        expire_node
            .log_text()
            .contains("quarantined message expired and deleted"),
        "{}",
        expire_node.log_text()
    );
    // Long after its retention would have run out, the kept one is still there.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(keeping.quarantine().len(), 1);
    drop((keep_node, expire_node));
}

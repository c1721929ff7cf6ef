//! End-to-end: SIGKILL the node in the middle of a 2,000-file backlog,
//! restart it, and check every message is filed exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{wait_until, Farm, DOMAIN};

const MESSAGES: usize = 2_000;

fn message(i: usize) -> String {
    format!(
        "x-sender: load@contoso.com\r\n\
         x-receiver: shared-documents@{DOMAIN}\r\n\
         From: load@contoso.com\r\n\
         To: shared-documents@{DOMAIN}\r\n\
         Subject: backlog {i}\r\n\
         Message-ID: <backlog-{i}@contoso.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nfile {i}\r\n\
         --b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"report-{i}.txt\"\r\n\r\n\
         contents of report {i}\r\n--b--\r\n"
    )
}

#[test]
fn sigkill_mid_backlog_then_restart_files_every_message_exactly_once() {
    let farm = Farm::new("");
    for i in 0..MESSAGES {
        std::fs::write(farm.drop_dir().join(format!("m{i:05}.eml")), message(i)).unwrap();
    }

    // Kill the node several times while it works through the backlog.
    let mut kills = 0;
    for round in 0..3 {
        let node = farm.start();
        let before = farm.record_count("shared-documents");
        let target = before + 150 * (round + 1);
        wait_until(Duration::from_secs(120), "progress before the kill", || {
            farm.record_count("shared-documents") >= target.min(MESSAGES)
                || farm.drop_backlog().is_empty()
        });
        if farm.drop_backlog().is_empty() {
            node.stop();
            break;
        }
        node.kill();
        kills += 1;
    }
    assert!(
        kills >= 1,
        "the node finished before it could be killed mid-backlog"
    );
    let left = farm.drop_backlog().len();

    let node = farm.start();
    wait_until(Duration::from_secs(180), "drop folder drained", || {
        farm.drop_backlog().is_empty()
    });
    node.stop();

    let items = farm.items("shared-documents");
    let mut ids = HashSet::new();
    for item in &items {
        assert_eq!(item["state"], "done", "{item}");
        assert_eq!(item["files"].as_array().unwrap().len(), 1, "{item}");
        ids.insert(item["message_id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        ids.len(),
        MESSAGES,
        "lost {} messages",
        MESSAGES - ids.len()
    );

    // Every attachment exactly once: no "report-7 (1).txt".
    let mut files = 0;
    for entry in std::fs::read_dir(farm.library_dir("shared-documents")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        assert!(!name.contains(" ("), "duplicate attachment {name}");
        files += 1;
    }
    assert_eq!(files, MESSAGES);
    assert!(farm.quarantine().is_empty(), "{:#?}", farm.quarantine());
    eprintln!("killed {kills} times mid-backlog ({left} files left after the last kill); {MESSAGES} filed once each");
}

//! The SMTP front door with real clients nobody here wrote: swaks
//! (pipelining, STARTTLS, attachments) and Python's smtplib (several
//! recipients, refusals, re-sends), each checked by finding the items in
//! the libraries through the `postroom items` command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::clients::{smtplib_send, swaks, text};
use support::{wait_until, Farm, DOMAIN};

fn addr(alias: &str) -> String {
    format!("{alias}@{DOMAIN}")
}

#[test]
fn swaks_with_pipelining_starttls_and_an_attachment_is_filed() {
    let farm = Farm::new("");
    let node = farm.start();
    let report = farm.dir.path().join("Quarterly report.pdf");
    std::fs::write(&report, b"%PDF-1.4 quarterly numbers").unwrap();
    let out = swaks(
        node.smtp_addr(),
        &[
            "--to",
            &addr("shared-documents"),
            "--from",
            "alice@contoso.com",
            "--pipeline",
            "--tls",
            "--header",
            "Subject: swaks quarterly report",
            "--attach-type",
            "application/pdf",
            "--attach",
            &format!("@{}", report.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let transcript = text(&out);
    assert!(transcript.contains("STARTTLS"), "{transcript}");
    assert!(transcript.contains("250 2.0.0"), "{transcript}");
    wait_until(Duration::from_secs(20), "the swaks item", || {
        farm.record_count("shared-documents") == 1
    });
    let items = farm.items("shared-documents");
    assert_eq!(items[0]["subject"], "swaks quarterly report");
    let files: Vec<&str> = items[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"Quarterly report.pdf"), "{files:?}");
    let stored = std::fs::read(
        farm.library_dir("shared-documents")
            .join("Quarterly report.pdf"),
    )
    .unwrap();
    assert_eq!(stored, b"%PDF-1.4 quarterly numbers");
    let log = node.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("smtp transaction"))
        .expect("a transaction log line");
    for field in [
        "client_ip=127.0.0.1",
        "helo=",
        "sender=alice@contoso.com",
        "size=",
        "tls=true",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    let key = items[0]["message_key"].as_str().unwrap();
    assert!(line.contains(&format!("message_key={key}")), "{line}");
    node.stop();
}

#[test]
fn smtplib_to_two_libraries_and_an_unknown_alias_files_for_the_two() {
    let farm = Farm::new("");
    let node = farm.start();
    let answer = smtplib_send(
        node.smtp_addr(),
        "bob@contoso.com",
        &[
            &addr("shared-documents"),
            &addr("announcements"),
            &addr("no-such-list"),
        ],
        "minutes of the meeting",
        Some(("minutes.bin", 70_000)),
    );
    let refused = &answer["refused"];
    assert_eq!(refused.as_object().map(|o| o.len()), Some(1), "{answer}");
    let unknown = &refused[addr("no-such-list")];
    assert_eq!(unknown[0], 550, "{answer}");
    assert!(
        unknown[1].as_str().unwrap().starts_with("5.1.1"),
        "{answer}"
    );
    for alias in ["shared-documents", "announcements"] {
        wait_until(Duration::from_secs(20), alias, || {
            farm.record_count(alias) == 1
        });
        let items = farm.items(alias);
        assert_eq!(items[0]["subject"], "minutes of the meeting");
        let stored = std::fs::read(farm.library_dir(alias).join("minutes.bin")).unwrap();
        assert!(stored.len() >= 70_000 && stored[..256] == (0..=255u8).collect::<Vec<u8>>()[..]);
    }
    assert_eq!(farm.record_count("build-logs"), 0);
    assert!(
        farm.quarantine().is_empty(),
        "refused at the door, not quarantined later"
    );
    node.stop();
}

#[test]
fn foreign_domains_and_oversized_messages_are_refused_at_the_door() {
    let farm = Farm::configured("max_message_size = \"64KB\"", "", "");
    let node = farm.start();
    let answer = smtplib_send(
        node.smtp_addr(),
        "bob@contoso.com",
        &["someone@elsewhere.example"],
        "relay attempt",
        None,
    );
    let error = &answer["error"];
    assert_eq!(error[0], "SMTPRecipientsRefused", "{answer}");
    assert!(
        error[2].as_str().unwrap().contains("550") && error[2].as_str().unwrap().contains("5.7.1"),
        "{answer}"
    );
    // smtplib declares SIZE on MAIL: refused there with 552 5.3.4.
    let answer = smtplib_send(
        node.smtp_addr(),
        "bob@contoso.com",
        &[&addr("shared-documents")],
        "too big",
        Some(("big.bin", 100_000)),
    );
    assert_eq!(answer["error"][1], 552, "{answer}");
    assert!(
        answer["error"][2].as_str().unwrap().starts_with("5.3.4"),
        "{answer}"
    );
    let ehlo = swaks(node.smtp_addr(), &["--quit-after", "EHLO"]);
    assert!(text(&ehlo).contains("250-SIZE 65536"), "{}", text(&ehlo));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(farm.record_count("shared-documents"), 0);
    assert!(farm.quarantine().is_empty());
    node.stop();
}

#[test]
fn a_message_resent_after_a_lost_reply_is_answered_250_and_filed_once() {
    let extra = "[[library]]\nname = \"originals\"\nalias = \"originals\"\nsave_original = true\n";
    let farm = Farm::new(extra);
    let node = farm.start();
    let send = || {
        smtplib_send(
            node.smtp_addr(),
            "carol@contoso.com",
            &[&addr("originals")],
            "sent twice",
            None,
        )
    };
    assert_eq!(send()["refused"], serde_json::json!({}));
    wait_until(Duration::from_secs(20), "the first copy", || {
        farm.record_count("originals") == 1
    });
    assert_eq!(
        send()["refused"],
        serde_json::json!({}),
        "the re-send is answered 250 too"
    );
    wait_until(
        Duration::from_secs(20),
        "the duplicate to be counted",
        || node.log_text().contains("duplicate"),
    );
    assert_eq!(farm.record_count("originals"), 1);
    let log = node.log_text();
    let keys: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("smtp transaction"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("message_key="))
        })
        .collect();
    assert_eq!(keys.len(), 2, "{log}");
    assert_eq!(
        keys[0], keys[1],
        "our Received: field is not part of the key"
    );
    // The stored copy carries our trace field.
    let item = &farm.items("originals")[0];
    let eml = item["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .find(|f| f.ends_with(".eml"))
        .expect("the original message is saved");
    let original = std::fs::read_to_string(farm.library_dir("originals").join(eml)).unwrap();
    assert!(original.starts_with("Received: from "), "{original}");
    assert!(
        original.contains("by node1.test (postroom) with ESMTP id "),
        "{original}"
    );
    node.stop();
}

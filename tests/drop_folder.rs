//! End-to-end: the real `postroom` binary files the shared drop-folder corpus
//! and the Python email corpus, quarantines what it cannot file with a reason,
//! and files a source file it cannot delete exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use postroom_core::MessageKey;
use support::{corpus, message_id, wait_until, Farm, DOMAIN, LIBRARIES};

const DRAIN: Duration = Duration::from_secs(60);

/// One row of `../shared/corpus/drop/EXPECTED.tsv`.
struct Expected {
    file: String,
    sender: String,
    recipients: Vec<String>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(corpus("drop/EXPECTED.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Expected {
                file: cols[0].to_string(),
                sender: cols[1].to_string(),
                recipients: cols[2].split(',').map(str::to_string).collect(),
            }
        })
        .collect()
}

#[test]
fn drop_corpus_lands_where_expected() {
    let farm = Farm::new("");
    let node = farm.start();
    let rows = expected();
    for row in &rows {
        farm.drop_file(
            &row.file,
            &std::fs::read(corpus("drop").join(&row.file)).unwrap(),
        );
    }
    wait_until(DRAIN, "drop folder drained", || {
        farm.drop_backlog().is_empty()
    });

    // Which Message-IDs each library must hold, from EXPECTED.tsv.
    let mut want: HashMap<&str, Vec<String>> = HashMap::new();
    let mut want_quarantined = Vec::new();
    for row in &rows {
        let id = message_id(&std::fs::read(corpus("drop").join(&row.file)).unwrap()).unwrap();
        let ours: Vec<&str> = row
            .recipients
            .iter()
            .filter_map(|r| r.strip_suffix(&format!("@{DOMAIN}")))
            .collect();
        for alias in &ours {
            match LIBRARIES.iter().find(|l| l == &alias) {
                Some(lib) => want.entry(lib).or_default().push(id.clone()),
                None => want_quarantined.push((row.file.clone(), alias.to_string())),
            }
        }
    }
    for alias in LIBRARIES {
        let items = farm.items(alias);
        let mut got: Vec<String> = items
            .iter()
            .map(|i| i["message_id"].as_str().unwrap().to_string())
            .collect();
        let mut expected = want.remove(alias).unwrap_or_default();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "items of {alias}");
        for item in &items {
            let id = item["message_id"].as_str().unwrap();
            let row = rows
                .iter()
                .find(|r| {
                    message_id(&std::fs::read(corpus("drop").join(&r.file)).unwrap()).as_deref()
                        == Some(id)
                })
                .unwrap();
            assert_eq!(item["envelope_sender"], row.sender.as_str(), "{}", row.file);
            let mut got: Vec<String> = item["envelope_recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_ascii_lowercase())
                .collect();
            let mut want = row.recipients.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "envelope of {}", row.file);
            assert_eq!(item["state"], "done");
            assert!(item["message_key"].as_str().unwrap().len() == 64);
            for f in item["files"].as_array().unwrap() {
                let rel = f.as_str().unwrap();
                assert!(!rel.contains(".."), "unsafe name {rel}");
                let path = farm.library_dir(alias).join(rel);
                assert!(path.is_file(), "{} missing", path.display());
            }
        }
    }

    // Five corpus messages carry "Quarterly report.pdf": each item has its own
    // copy under a unique name, and the bytes came through.
    let docs = farm.items("shared-documents");
    let mut names = HashSet::new();
    for item in &docs {
        for f in item["files"].as_array().unwrap() {
            assert!(
                names.insert(f.as_str().unwrap().to_string()),
                "two items share {f}"
            );
        }
    }
    let invoice = docs
        .iter()
        .find(|i| i["subject"] == "Invoice 4711")
        .unwrap();
    let pdf_name = invoice["files"][0].as_str().unwrap();
    assert!(
        pdf_name.starts_with("Quarterly report") && pdf_name.ends_with(".pdf"),
        "{pdf_name}"
    );
    let pdf = std::fs::read(farm.library_dir("shared-documents").join(pdf_name)).unwrap();
    assert!(pdf.starts_with(b"%PDF"));

    // The traversal attachment is filed inside the library under a safe name.
    let evil = docs.iter().find(|i| i["subject"] == "Evil name").unwrap();
    assert_eq!(evil["files"], serde_json::json!(["evil"]));
    assert!(!farm.dir.path().join("etc").exists());

    // The unknown alias is quarantined with a reason, never deleted.
    let quarantine = farm.quarantine();
    assert_eq!(quarantine.len(), want_quarantined.len(), "{quarantine:#?}");
    for (file, alias) in &want_quarantined {
        let q = quarantine
            .iter()
            .find(|q| q["source"].as_str().unwrap().ends_with(file.as_str()))
            .unwrap();
        assert_eq!(q["code"], "unknown_alias");
        assert!(
            q["reason"].as_str().unwrap().contains(alias.as_str()),
            "{q}"
        );
        let stored = farm
            .data_dir()
            .join("quarantine")
            .join(q["file"].as_str().unwrap());
        assert_eq!(
            std::fs::read(stored).unwrap(),
            std::fs::read(corpus("drop").join(file)).unwrap()
        );
    }
    node.stop();
}

#[test]
fn python_email_corpus_is_filed_or_quarantined_and_the_node_keeps_serving() {
    // Every file of the folder, the images and sounds too, addressed to a library.
    let farm = Farm::new("");
    let node = farm.start();
    let mut keys = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(corpus("python-email")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let message = std::fs::read(&path).unwrap();
        let envelope =
            format!("X-Sender: tester@contoso.com\r\nX-Receiver: shared-documents@{DOMAIN}\r\n");
        let mut bytes = envelope.into_bytes();
        bytes.extend_from_slice(&message);
        let rcpt = vec![format!("shared-documents@{DOMAIN}")];
        keys.push((
            MessageKey::compute("tester@contoso.com", &rcpt, &message).to_string(),
            name.clone(),
        ));
        farm.drop_file(&format!("{name}.eml"), &bytes);
        count += 1;
    }
    assert!(count >= 60, "only {count} corpus files found");
    wait_until(DRAIN, "drop folder drained", || {
        farm.drop_backlog().is_empty()
    });

    let filed: HashSet<String> = farm
        .items("shared-documents")
        .iter()
        .map(|i| i["message_key"].as_str().unwrap().to_string())
        .collect();
    let quarantine = farm.quarantine();
    let quarantined: HashSet<String> = quarantine
        .iter()
        .filter_map(|q| q["message_key"].as_str().map(str::to_string))
        .collect();
    for (key, name) in &keys {
        if name.starts_with("msg_") {
            assert!(
                filed.contains(key),
                "{name} is a real message and was not filed"
            );
        } else {
            assert!(
                filed.contains(key) || quarantined.contains(key),
                "{name} neither filed nor quarantined"
            );
        }
    }
    for q in &quarantine {
        assert!(
            !q["code"].as_str().unwrap().is_empty() && !q["reason"].as_str().unwrap().is_empty(),
            "{q}"
        );
        let name = q["source"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".eml")
            .to_string();
        let mut original =
            format!("X-Sender: tester@contoso.com\r\nX-Receiver: shared-documents@{DOMAIN}\r\n")
                .into_bytes();
        original.extend(std::fs::read(corpus("python-email").join(&name)).unwrap());
        let stored = std::fs::read(
            farm.data_dir()
                .join("quarantine")
                .join(q["file"].as_str().unwrap()),
        )
        .unwrap();
        assert_eq!(stored, original, "quarantined copy of {name} differs");
    }

    // Still serving: a new message is filed.
    assert!(!node.exited());
    let fresh = format!(
        "x-sender: a@contoso.com\r\nx-receiver: build-logs@{DOMAIN}\r\nSubject: still alive\r\nMessage-ID: <alive@x>\r\n\r\nok\r\n"
    );
    farm.drop_file("alive.eml", fresh.as_bytes());
    wait_until(DRAIN, "fresh message filed", || {
        farm.record_count("build-logs") == 1
    });
    node.stop();
}

/// Clears the immutable flag even when the test fails.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(path: std::path::PathBuf) -> Immutable {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "chattr +i {} failed (install e2fsprogs; needs root on ext4/xfs)",
            path.display()
        );
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn undeletable_source_is_filed_once_not_on_every_poll() {
    let farm = Farm::new("");
    let name = "readonly.eml";
    let message = format!(
        "x-sender: alice@contoso.com\r\nx-receiver: shared-documents@{DOMAIN}\r\nSubject: cannot delete me\r\nMessage-ID: <ro@x>\r\n\r\nbody\r\n"
    );
    std::fs::write(farm.drop_dir().join(name), &message).unwrap();
    // The classic SharePoint duplicate: the timer job can read the file but not delete it.
    let _guard = Immutable::set(farm.drop_dir().join(name));

    let node = farm.start();
    wait_until(DRAIN, "item filed", || {
        farm.record_count("shared-documents") == 1
    });
    wait_until(DRAIN, "removal refused and logged", || {
        node.log_text().contains("cannot be removed")
    });
    std::thread::sleep(Duration::from_secs(2)); // several polls (300 ms each)
    assert_eq!(farm.items("shared-documents").len(), 1);
    assert!(
        farm.drop_dir().join(name).exists(),
        "the source should still be there"
    );
    assert_eq!(
        node.log_text().matches("cannot be removed").count(),
        1,
        "logged more than once"
    );
    let log = node.log_text();
    assert!(
        !log.contains("already finished"),
        "claimed again within one run:\n{log}"
    );
    assert!(
        !log.contains("already filed"),
        "filed again within one run:\n{log}"
    );

    // After a restart the ledger still knows it: skipped as a duplicate, not filed again.
    node.stop();
    let node = farm.start();
    wait_until(DRAIN, "duplicate noticed", || {
        node.log_text().contains("already finished")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(farm.items("shared-documents").len(), 1);
    assert_eq!(node.log_text().matches("cannot be removed").count(), 1);
    assert!(
        !node.log_text().contains("already filed"),
        "the ledger, not the library, should stop it"
    );
    node.stop();
}

#[test]
fn undeletable_unparsable_file_is_quarantined_once_not_on_every_poll() {
    let farm = Farm::new("");
    let name = "junk.eml";
    std::fs::write(farm.drop_dir().join(name), b"\x00\x01 not a message at all").unwrap();
    let _guard = Immutable::set(farm.drop_dir().join(name));
    let node = farm.start();
    wait_until(DRAIN, "quarantine reason written", || {
        !farm.quarantine().is_empty()
    });
    std::thread::sleep(Duration::from_secs(2)); // several polls (300 ms each)
    let quarantine = farm.quarantine();
    assert_eq!(quarantine.len(), 1, "{quarantine:#?}");
    assert_eq!(quarantine[0]["code"], "no_envelope");
    assert!(farm.drop_dir().join(name).exists());
    assert_eq!(
        node.log_text()
            .matches("cannot move drop file to quarantine")
            .count(),
        1
    );
    node.stop();
}

#[test]
fn disabled_library_and_unknown_alias_are_quarantined_while_good_recipients_are_filed() {
    let farm = Farm::new("[[library]]\nname = \"Archive\"\nalias = \"archive\"\nenabled = false\n");
    let node = farm.start();
    let mixed = format!(
        "x-sender: alice@contoso.com\r\nx-receiver: shared-documents@{DOMAIN}\r\nx-receiver: announcements@{DOMAIN}\r\n\
         x-receiver: nobody@{DOMAIN}\r\nx-receiver: someone@contoso.com\r\nSubject: mixed\r\nMessage-ID: <mixed@x>\r\n\r\nbody\r\n"
    );
    let archived = format!(
        "x-sender: alice@contoso.com\r\nx-receiver: archive@{DOMAIN}\r\nSubject: old\r\nMessage-ID: <old@x>\r\n\r\nbody\r\n"
    );
    farm.drop_file("mixed.eml", mixed.as_bytes());
    farm.drop_file("archived.eml", archived.as_bytes());
    wait_until(DRAIN, "drop folder drained", || {
        farm.drop_backlog().is_empty()
    });

    for alias in ["shared-documents", "announcements"] {
        let items = farm.items(alias);
        assert_eq!(items.len(), 1, "{alias}: {items:#?}");
        assert_eq!(items[0]["message_id"], "mixed@x");
    }
    assert!(farm.items("build-logs").is_empty());
    assert!(
        !farm.library_dir("archive").join(".postroom/items").exists(),
        "a disabled library got mail"
    );

    let quarantine = farm.quarantine();
    assert_eq!(quarantine.len(), 2, "{quarantine:#?}");
    let by_source = |name: &str| {
        quarantine
            .iter()
            .find(|q| q["source"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    let q = by_source("mixed.eml");
    assert_eq!(q["code"], "unknown_alias");
    assert!(q["reason"].as_str().unwrap().contains("\"nobody\""), "{q}");
    assert!(
        !q["reason"]
            .as_str()
            .unwrap()
            .contains("someone@contoso.com"),
        "foreign recipients are not ours: {q}"
    );
    let q = by_source("archived.eml");
    assert_eq!(q["code"], "library_disabled");
    assert!(q["reason"].as_str().unwrap().contains("\"Archive\""), "{q}");
    assert_eq!(
        std::fs::read(
            farm.data_dir()
                .join("quarantine")
                .join(q["file"].as_str().unwrap())
        )
        .unwrap(),
        archived.as_bytes()
    );
    node.stop();
}

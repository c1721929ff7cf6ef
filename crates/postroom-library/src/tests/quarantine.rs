//! The quarantine folder: durable entries with reasons, idempotent per key,
//! files moved in by rename.

use std::os::unix::fs::PermissionsExt;

use crate::{LibraryError, Quarantine, QuarantineReason};

use super::key;

#[test]
fn put_bytes_keeps_one_entry_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let q = Quarantine::open(tmp.path().join("quarantine")).unwrap();
    let mut why = QuarantineReason::new("unknown_alias", "No library has the alias nobody.");
    why.message_key = Some(key("q1"));
    why.envelope_sender = Some("a@x".to_string());
    why.envelope_recipients = vec!["nobody@localhost".to_string()];
    why.source = Some("/drop/1.eml".to_string());
    let first = q.put_bytes(b"message one", why.clone()).unwrap();
    assert!(
        first.file.ends_with(&format!("-{}.eml", key("q1").short())),
        "{}",
        first.file
    );
    assert_eq!(std::fs::read(q.path_of(&first)).unwrap(), b"message one");
    let mut again = why.clone();
    again.reason = "A different sentence.".to_string();
    let second = q.put_bytes(b"message one", again).unwrap();
    assert_eq!(first, second);

    let unkeyed = QuarantineReason::new("no_envelope", "The file has no X-Sender line.");
    let a = q.put_bytes(b"x", unkeyed.clone()).unwrap();
    let b = q.put_bytes(b"x", unkeyed).unwrap();
    assert_ne!(a.file, b.file);

    let list = q.list().unwrap();
    assert_eq!(list, [first.clone(), a, b]);
    let reason: crate::QuarantineEntry = serde_json::from_slice(
        &std::fs::read(q.dir().join(first.file.replace(".eml", ".reason.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(reason, first);
    // A claim whose entry was never written (crash) is completed by a retry.
    let mut crashed = QuarantineReason::new("library_disabled", "Library off.");
    crashed.message_key = Some(key("q2"));
    let claim_name = format!("20260101T000000.000000Z-{}", key("q2").short());
    std::fs::write(
        q.dir().join(".keys").join(key("q2").to_string()),
        &claim_name,
    )
    .unwrap();
    let entry = q.put_bytes(b"two", crashed).unwrap();
    assert_eq!(entry.file, format!("{claim_name}.eml"));
    assert_eq!(q.list().unwrap().len(), 4);
}

#[test]
fn put_file_moves_even_an_unreadable_file() {
    let tmp = tempfile::tempdir().unwrap();
    let q = Quarantine::open(tmp.path().join("quarantine")).unwrap();
    let drop = tmp.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    let source = drop.join("broken.eml");
    std::fs::write(&source, b"garbage").unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o000)).unwrap();
    let entry = q
        .put_file(&source, "unreadable", "The file could not be read.")
        .unwrap();
    assert!(!source.exists());
    assert_eq!(entry.code, "unreadable");
    assert_eq!(entry.source.as_deref(), Some(source.to_str().unwrap()));
    let moved = q.path_of(&entry);
    std::fs::set_permissions(&moved, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::read(&moved).unwrap(), b"garbage");
    assert_eq!(q.list().unwrap(), [entry]);
}

#[test]
fn put_file_that_cannot_move_still_writes_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let q = Quarantine::open(tmp.path().join("quarantine")).unwrap();
    let missing = tmp.path().join("gone.eml");
    let err = q
        .put_file(&missing, "unparsable", "The message could not be parsed.")
        .unwrap_err();
    let LibraryError::NotMoved { reason_file, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason_file.exists());
    assert!(err.to_string().contains("gone.eml"), "{err}");
    let list = q.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].reason.contains("is still at") && list[0].reason.contains("gone.eml"));
    assert_eq!(list[0].still_at.as_deref(), Some(missing.to_str().unwrap()));
}

#[test]
fn list_reports_a_message_without_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let q = Quarantine::open(tmp.path().join("q")).unwrap();
    std::fs::write(q.dir().join("20260101T000000.000000Z-abc.eml"), b"x").unwrap();
    std::fs::write(q.dir().join(".tmp-1234"), b"x").unwrap();
    let list = q.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].code, "no_reason");
    std::fs::write(
        q.dir().join("20260101T000000.000000Z-bad.reason.json"),
        b"{",
    )
    .unwrap();
    let err = q.list().unwrap_err().to_string();
    assert!(
        err.starts_with("corrupt quarantine reason file") && err.contains("bad.reason.json"),
        "{err}"
    );
}

#[test]
fn put_file_across_filesystems_copies_then_removes() {
    use std::os::unix::fs::MetadataExt;
    let shm = std::path::Path::new("/dev/shm");
    let tmp = tempfile::tempdir().unwrap();
    let Ok(other) = tempfile::tempdir_in(shm) else {
        eprintln!("skipped: no /dev/shm");
        return;
    };
    let q = Quarantine::open(tmp.path().join("quarantine")).unwrap();
    let same_fs =
        std::fs::metadata(other.path()).unwrap().dev() == std::fs::metadata(q.dir()).unwrap().dev();
    if same_fs {
        eprintln!("skipped: /dev/shm is on the same filesystem");
        return;
    }
    let source = other.path().join("far.eml");
    std::fs::write(&source, b"from afar").unwrap();
    let entry = q.put_file(&source, "unparsable", "Not MIME.").unwrap();
    assert!(!source.exists());
    assert_eq!(std::fs::read(q.path_of(&entry)).unwrap(), b"from afar");
    assert_eq!(q.list().unwrap(), [entry]);
}

//! Tests on a real filesystem (temporary folders, no mocks): filing rules,
//! idempotency, concurrent filing, crash recovery, quarantine.

mod concurrency;
mod crash;
mod filing;
mod quarantine;

use postroom_core::MessageHeaders;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use postroom_core::config::{AttachmentFolders, LibrarySettings};
use postroom_core::MessageKey;

use crate::{FileContent, FileOutcome, FileToWrite, ItemMetadata, ItemRecord, ItemToFile, Library};

pub(super) fn settings(folders: AttachmentFolders) -> LibrarySettings {
    let mut s = LibrarySettings::document_library("Documents", "documents");
    s.attachment_folders = folders;
    s
}

pub(super) fn key(seed: &str) -> MessageKey {
    MessageKey::compute(
        "sender@example.com",
        &["documents@localhost".to_string()],
        seed.as_bytes(),
    )
}

pub(super) fn meta(seed: &str, subject: Option<&str>) -> ItemMetadata {
    ItemMetadata {
        message_key: key(seed),
        headers: MessageHeaders {
            message_id: Some(format!("<{seed}@example.com>")),
            from: Some("Bob <bob@example.com>".to_string()),
            from_address: Some("bob@example.com".to_string()),
            to: vec!["documents@localhost".to_string()],
            cc: Vec::new(),
            subject: subject.map(str::to_string),
            date: Some("2026-01-02T03:04:05Z".to_string()),
        },
        received: "2026-01-02T03:04:06.000000Z".to_string(),
        envelope_sender: "sender@example.com".to_string(),
        envelope_recipients: vec!["documents@localhost".to_string()],
        not_filed: Vec::new(),
        item: None,
    }
}

pub(super) fn item<'a>(meta: ItemMetadata, files: &[(&'a str, &'a [u8])]) -> ItemToFile<'a> {
    ItemToFile {
        meta,
        attachments: files
            .iter()
            .map(|(name, content)| FileToWrite {
                name,
                content: FileContent::Bytes(content),
            })
            .collect(),
        original: b"From: bob@example.com\r\nSubject: test\r\n\r\nbody\r\n",
    }
}

pub(super) fn open(root: &Path, settings: LibrarySettings) -> Library {
    Library::open(root.to_path_buf(), settings).unwrap()
}

pub(super) fn filed(outcome: &Result<FileOutcome, crate::LibraryError>) -> &ItemRecord {
    match outcome {
        Ok(FileOutcome::Filed(r)) => r,
        other => panic!("expected Filed, got {other:?}"),
    }
}

pub(super) fn already(outcome: &Result<FileOutcome, crate::LibraryError>) -> &ItemRecord {
    match outcome {
        Ok(FileOutcome::AlreadyFiled(r)) => r,
        other => panic!("expected AlreadyFiled, got {other:?}"),
    }
}

/// Every user-visible file under `root` (not `.postroom`), relative path → bytes.
pub(super) fn visible(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for path in walk(root) {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel.starts_with(".postroom") {
            continue;
        }
        out.insert(rel, std::fs::read(&path).unwrap());
    }
    out
}

/// Every file (not folder) under `dir`, recursively, without following links.
pub(super) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Names in `.postroom/tmp` (temporary files still there).
pub(super) fn temps(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(".postroom/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

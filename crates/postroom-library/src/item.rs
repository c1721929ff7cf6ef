//! What is filed and what is remembered about it: the input types
//! ([`ItemToFile`], [`ItemMetadata`], [`FileToWrite`] and its
//! [`FileContent`]), the result
//! ([`FileOutcome`]) and the item record ([`ItemRecord`]) — one JSON file per
//! message key under `<library>/.postroom/items/<key>.json`, which is at once
//! the per-key lock, the plan of file names and what `postroom items --json`
//! prints.

use std::os::fd::BorrowedFd;
use std::path::Path;

use postroom_core::content::FileBytes;
use postroom_core::MessageKey;
use serde::{Deserialize, Serialize};

use crate::durable;
use crate::LibraryError;
use postroom_core::list_item::ListItem;
use postroom_core::names::is_safe_component;
use postroom_core::MessageHeaders;

/// Metadata of a message to file (already parsed by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMetadata {
    pub message_key: MessageKey,
    #[serde(flatten)]
    pub headers: MessageHeaders,
    /// RFC 3339 UTC: when postroom received the message.
    pub received: String,
    pub envelope_sender: String,
    pub envelope_recipients: Vec<String>,
    /// Attachments this library does not file (a picture library's
    /// non-images, meeting invitations it does not save), each `name: why`,
    /// so that the record says what the message held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_filed: Vec<String>,
    /// A list's item fields (announcements, calendar, discussion board,
    /// blog); `None` in a library of files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ListItem>,
}

/// One file of a message: an attachment as sent (the name is made safe here).
#[derive(Debug, Clone, Copy)]
pub struct FileToWrite<'a> {
    pub name: &'a str,
    pub content: FileContent<'a>,
}

/// The bytes of a file to write: in memory, or produced piece by piece as
/// they are written (a large attachment decoded from the raw message), so
/// they need not be in memory at once. Either way the same bytes every time.
#[derive(Clone, Copy)]
pub enum FileContent<'a> {
    /// The bytes themselves.
    Bytes(&'a [u8]),
    /// Bytes handed out in pieces.
    Pieces(&'a dyn FileBytes),
}

impl FileContent<'_> {
    /// How many bytes there are.
    pub fn len(&self) -> u64 {
        match self {
            FileContent::Bytes(bytes) => bytes.len() as u64,
            FileContent::Pieces(pieces) => pieces.byte_len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hand the bytes to `sink`, in order; stop at its first error.
    pub(crate) fn pieces(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match self {
            FileContent::Bytes(bytes) => sink(bytes),
            FileContent::Pieces(pieces) => pieces.pieces(sink),
        }
    }
}

impl Default for FileContent<'_> {
    fn default() -> Self {
        FileContent::Bytes(&[])
    }
}

impl std::fmt::Debug for FileContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileContent::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            FileContent::Pieces(pieces) => write!(f, "Pieces({} bytes)", pieces.byte_len()),
        }
    }
}

/// One message to file.
#[derive(Debug, Clone)]
pub struct ItemToFile<'a> {
    pub meta: ItemMetadata,
    pub attachments: Vec<FileToWrite<'a>>,
    /// The whole message, saved as `.eml` when the library has `save_original`.
    pub original: &'a [u8],
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// The record exists and plans its files; some may not be in place yet.
    Writing,
    /// Every planned file is in place and durable.
    Done,
}

/// The record of one filed (or being filed) message. In JSON the metadata
/// fields sit at the top level beside `library`, `state` and `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Alias of the library.
    pub library: String,
    pub state: ItemState,
    #[serde(flatten)]
    pub meta: ItemMetadata,
    /// Paths relative to the library folder, `/`-separated, e.g.
    /// `Invoice 4711/Quarterly report.pdf`.
    pub files: Vec<String>,
    /// RFC 3339 UTC; set when the state becomes `done`.
    pub filed_at: Option<String>,
}

impl ItemRecord {
    /// A record in state `writing` that plans `files`.
    pub(crate) fn writing(meta: &ItemMetadata, library: &str, files: Vec<String>) -> Self {
        ItemRecord {
            library: library.to_string(),
            state: ItemState::Writing,
            meta: meta.clone(),
            files,
            filed_at: None,
        }
    }
}

/// What filing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// This call put the item's files in place (possibly finishing an
    /// attempt that had crashed or was running elsewhere).
    Filed(ItemRecord),
    /// The item was already complete; nothing was written.
    AlreadyFiled(ItemRecord),
}

impl FileOutcome {
    /// The item record, whichever the outcome.
    pub fn record(&self) -> &ItemRecord {
        match self {
            FileOutcome::Filed(r) | FileOutcome::AlreadyFiled(r) => r,
        }
    }
}

/// File name of the record of `key` inside the items folder.
pub(crate) fn record_name(key: &MessageKey) -> String {
    format!("{key}.json")
}

/// A planned relative path split into (folder, file name), both checked to
/// be single safe components; `None` when the path could lead anywhere else.
pub(crate) fn split_planned(rel: &str) -> Option<(Option<&str>, &str)> {
    let mut parts = rel.split('/');
    let first = parts.next()?;
    let (folder, name) = match (parts.next(), parts.next()) {
        (None, _) => (None, first),
        (Some(name), None) => (Some(first), name),
        (Some(_), Some(_)) => return None,
    };
    let folder_ok = folder.is_none_or(is_safe_component);
    (folder_ok && is_safe_component(name)).then_some((folder, name))
}

/// `folder/name`, or `name` in the root.
pub(crate) fn join_planned(folder: Option<&str>, name: &str) -> String {
    match folder {
        Some(f) => format!("{f}/{name}"),
        None => name.to_string(),
    }
}

/// Parse and check a record's bytes; `path` is only for the error message.
pub(crate) fn parse_record(
    bytes: &[u8],
    path: &Path,
    expected: Option<&MessageKey>,
) -> Result<ItemRecord, LibraryError> {
    let corrupt = |why: String| LibraryError::CorruptRecord {
        path: path.to_path_buf(),
        why,
    };
    let record: ItemRecord = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if let Some(key) = expected {
        if record.meta.message_key != *key {
            return Err(corrupt(format!(
                "it holds message key {}",
                record.meta.message_key
            )));
        }
    }
    if let Some(bad) = record.files.iter().find(|f| split_planned(f).is_none()) {
        return Err(corrupt(format!("unsafe file path {bad:?}")));
    }
    Ok(record)
}

/// Read the record of `key` from the items folder; `None` if there is none.
pub(crate) fn read_record(
    items: BorrowedFd<'_>,
    items_path: &Path,
    key: &MessageKey,
) -> Result<Option<ItemRecord>, LibraryError> {
    let name = record_name(key);
    let path = items_path.join(&name);
    match durable::read_at(items, &name) {
        Ok(Some(bytes)) => parse_record(&bytes, &path, Some(key)).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(LibraryError::io("read item record", &path, e)),
    }
}

/// The record as it is stored: pretty JSON and a final newline.
pub(crate) fn encode_record(record: &ItemRecord) -> std::io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_paths() {
        assert_eq!(split_planned("a.pdf"), Some((None, "a.pdf")));
        assert_eq!(
            split_planned("Invoice/a.pdf"),
            Some((Some("Invoice"), "a.pdf"))
        );
        for bad in [
            "../a",
            "a/../b",
            "/a",
            "a/b/c",
            "",
            ".postroom/items",
            "a//b",
            "x/",
        ] {
            assert_eq!(split_planned(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn record_json_shape() {
        let meta = ItemMetadata {
            message_key: MessageKey::compute("a@x", &["l@d".to_string()], b"m"),
            headers: MessageHeaders {
                message_id: Some("<m1@x>".into()),
                from: Some("A <a@x>".into()),
                from_address: Some("a@x".into()),
                to: vec!["l@d".into()],
                cc: vec![],
                subject: Some("Hello".into()),
                date: None,
            },
            received: "2026-01-01T00:00:00Z".into(),
            envelope_sender: "a@x".into(),
            envelope_recipients: vec!["l@d".into()],
            not_filed: Vec::new(),
            item: None,
        };
        let record = ItemRecord::writing(&meta, "docs", vec!["a.pdf".into()]);
        let value: serde_json::Value =
            serde_json::from_slice(&encode_record(&record).unwrap()).unwrap();
        assert_eq!(value["state"], "writing");
        assert_eq!(value["message_key"], meta.message_key.to_string());
        assert_eq!(value["subject"], "Hello");
        assert_eq!(value["files"][0], "a.pdf");
        assert_eq!(record.meta, meta);
        let path = Path::new("/x/k.json");
        let back = parse_record(
            &encode_record(&record).unwrap(),
            path,
            Some(&meta.message_key),
        )
        .unwrap();
        assert_eq!(back, record);
        let err = parse_record(b"{", path, None).unwrap_err().to_string();
        assert!(err.starts_with("corrupt item record /x/k.json"), "{err}");
    }
}

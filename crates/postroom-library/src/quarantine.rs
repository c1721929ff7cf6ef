//! The quarantine folder (`<data_dir>/quarantine`): messages that could not
//! be filed, each kept with a reason, for inspection and replay — never a
//! silent delete.
//!
//! Layout: `<dir>/<timestamp>-<short key or random>.eml` (the bytes as
//! received) and `<same>.reason.json` beside it (a [`QuarantineEntry`]).
//! `<dir>/.keys/<message key>` holds the entry name of a keyed message: it is
//! claimed (create-new, fsynced) before the entry is written, so quarantining
//! the same key twice, even concurrently or after a crash, keeps one entry.
//! Every entry is durable (file, reason, folder fsynced) before a put returns.
//! The reason is written before the message and removed after it, so a
//! listing never takes an entry being written for one a crash left without
//! its reason: a reason without its message is being written (or was left by
//! a crash while the message was still where it came from) and is not
//! listed, unless the message could not be moved at all ([`QuarantineEntry::still_at`]).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use postroom_core::MessageKey;
use serde::{Deserialize, Serialize};

use crate::clock::{self, now_compact, now_rfc3339};
use crate::durable;
use crate::LibraryError;

pub(crate) const KEYS_DIR: &str = ".keys";
pub(crate) const REASON_SUFFIX: &str = ".reason.json";
pub(crate) const MESSAGE_SUFFIX: &str = ".eml";

/// One quarantined message, as stored in its `.reason.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// File name of the message inside the quarantine folder.
    pub file: String,
    /// A sentence for people.
    pub reason: String,
    /// For machines: `unknown_alias`, `library_disabled`, `no_envelope`,
    /// `unreadable`, `unparsable`, `empty_file`, …
    pub code: String,
    pub message_key: Option<MessageKey>,
    /// Where the message came from (e.g. the drop file's path).
    pub source: Option<String>,
    /// RFC 3339 UTC.
    pub quarantined_at: String,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Vec<String>,
    /// The recipients that were not filed, when others were (empty: none
    /// of them was filed). A replay files only these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_recipients: Vec<String>,
    /// Where the message still is when it could not be moved into
    /// quarantine (the entry then has no message file here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_at: Option<String>,
}

/// Why and what to quarantine with [`Quarantine::put_bytes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineReason {
    pub code: String,
    pub reason: String,
    /// When set, quarantining the same key again returns the first entry.
    pub message_key: Option<MessageKey>,
    pub source: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Vec<String>,
    /// The recipients not filed when others were (empty: all refused).
    pub refused_recipients: Vec<String>,
}

impl QuarantineReason {
    /// A reason with a code and a sentence; the other fields are empty.
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Self {
        QuarantineReason {
            code: code.into(),
            reason: reason.into(),
            ..Default::default()
        }
    }
}

/// The quarantine folder.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

impl Quarantine {
    /// Open (create if missing) the quarantine folder.
    pub fn open(dir: PathBuf) -> Result<Quarantine, LibraryError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| LibraryError::io("create quarantine folder", &dir, e))?;
        let q = Quarantine { dir };
        let fd = q.open_dir()?;
        durable::ensure_subdir(fd.as_fd(), KEYS_DIR)
            .map_err(|e| LibraryError::io("create folder", q.dir.join(KEYS_DIR), e))?;
        durable::fsync_dir(&fd).map_err(|e| LibraryError::io("flush to disk", &q.dir, e))?;
        Ok(q)
    }

    /// The quarantine folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Full path of an entry's message file.
    pub fn path_of(&self, entry: &QuarantineEntry) -> PathBuf {
        self.dir.join(&entry.file)
    }

    /// Store `bytes` (a copy of the message as received) with the reason.
    /// Durable before returning. With a message key, a second put of the
    /// same key writes nothing and returns the first entry.
    pub fn put_bytes(
        &self,
        bytes: &[u8],
        why: QuarantineReason,
    ) -> Result<QuarantineEntry, LibraryError> {
        let dir = self.open_dir()?;
        let base = match &why.message_key {
            Some(key) => match self.claim(dir.as_fd(), key)? {
                Claim::Existing(entry) => return Ok(*entry),
                Claim::Base(base) => base,
            },
            None => format!("{}-{}", now_compact(), clock::nonce()),
        };
        let entry = QuarantineEntry {
            file: format!("{base}{MESSAGE_SUFFIX}"),
            reason: why.reason,
            code: why.code,
            message_key: why.message_key,
            source: why.source,
            quarantined_at: now_rfc3339(),
            envelope_sender: why.envelope_sender,
            envelope_recipients: why.envelope_recipients,
            refused_recipients: why.refused_recipients,
            still_at: None,
        };
        self.write_reason(dir.as_fd(), &base, &entry)?;
        self.write_synced(dir.as_fd(), &entry.file, bytes)?;
        durable::fsync_dir(dir.as_fd())
            .map_err(|e| LibraryError::io("flush to disk", &self.dir, e))?;
        Ok(entry)
    }

    /// Move a file that could not be read or parsed into quarantine (rename;
    /// copy + fsync + remove across filesystems) and write its reason. If the
    /// file cannot be moved at all, the reason file is still written (naming
    /// the file where it is) and [`LibraryError::NotMoved`] is returned.
    pub fn put_file(
        &self,
        source: &Path,
        code: &str,
        reason: &str,
    ) -> Result<QuarantineEntry, LibraryError> {
        let dir = self.open_dir()?;
        let base = format!("{}-{}", now_compact(), clock::nonce());
        let mut entry = QuarantineEntry {
            file: format!("{base}{MESSAGE_SUFFIX}"),
            reason: reason.to_string(),
            code: code.to_string(),
            message_key: None,
            source: Some(source.display().to_string()),
            quarantined_at: now_rfc3339(),
            envelope_sender: None,
            envelope_recipients: Vec::new(),
            refused_recipients: Vec::new(),
            still_at: None,
        };
        self.write_reason(dir.as_fd(), &base, &entry)?;
        let target = self.dir.join(&entry.file);
        let moved = move_file(source, dir.as_fd(), &entry.file, &target);
        if let Err(e) = &moved {
            entry.reason = format!(
                "{} The file could not be moved into quarantine ({e}) and is still at {}.",
                reason.trim_end(),
                source.display()
            );
            entry.still_at = Some(source.display().to_string());
            self.write_reason(dir.as_fd(), &base, &entry)?;
        }
        match moved {
            Ok(None) => Ok(entry),
            Ok(Some(error)) => Err(LibraryError::SourceNotRemoved {
                source_path: source.to_path_buf(),
                copy: target,
                error,
            }),
            Err(error) => Err(LibraryError::NotMoved {
                source_path: source.to_path_buf(),
                reason_file: self.dir.join(format!("{base}{REASON_SUFFIX}")),
                error,
            }),
        }
    }

    /// Every entry, oldest first. A message file without its reason (put
    /// there by hand, or left by an older version's crash) is listed with
    /// code `no_reason`.
    pub fn list(&self) -> Result<Vec<QuarantineEntry>, LibraryError> {
        Ok(self.scan()?.0)
    }

    /// The entries (as [`Quarantine::list`]) and the reasons without their
    /// message and not [`QuarantineEntry::still_at`]: being written now, or
    /// left by a crash.
    pub(crate) fn scan(
        &self,
    ) -> Result<(Vec<QuarantineEntry>, Vec<QuarantineEntry>), LibraryError> {
        let dir = self.open_dir()?;
        let names = durable::list_names(dir.as_fd())
            .map_err(|e| LibraryError::io("list quarantine folder", &self.dir, e))?;
        let bases: std::collections::BTreeSet<&str> = names
            .iter()
            .filter(|n| !n.starts_with('.'))
            .filter_map(|n| {
                n.strip_suffix(REASON_SUFFIX)
                    .or(n.strip_suffix(MESSAGE_SUFFIX))
            })
            .collect();
        let (mut entries, mut unfinished) = (Vec::new(), Vec::new());
        for base in bases {
            match self.look(dir.as_fd(), base)? {
                Found::Entry(entry) => entries.push(entry),
                Found::Unfinished(entry) => unfinished.push(entry),
                Found::Nothing => {}
            }
        }
        entries.sort_by(|a, b| (&a.quarantined_at, &a.file).cmp(&(&b.quarantined_at, &b.file)));
        Ok((entries, unfinished))
    }

    /// What is under `base` now. Exact while others write and remove
    /// entries (a folder listing is not a snapshot), because a reason is
    /// written before its message and removed after it.
    pub(crate) fn look(&self, dir: BorrowedFd<'_>, base: &str) -> Result<Found, LibraryError> {
        let message = format!("{base}{MESSAGE_SUFFIX}");
        let has_message = || {
            durable::exists_at(dir, &message)
                .map_err(|e| LibraryError::io("look up", self.dir.join(&message), e))
        };
        // Named by where it is, not by what its reason file says.
        let named = |entry: QuarantineEntry| QuarantineEntry {
            file: message.clone(),
            ..entry
        };
        if let Some(entry) = self.read_reason(dir, base)? {
            let entry = named(entry);
            return Ok(if entry.still_at.is_some() || has_message()? {
                Found::Entry(entry)
            } else {
                Found::Unfinished(entry)
            });
        }
        if !has_message()? {
            return Ok(Found::Nothing);
        }
        // Written since the first look (the reason comes first)?
        if let Some(entry) = self.read_reason(dir, base)? {
            return Ok(Found::Entry(named(entry)));
        }
        // Removed since (the message goes first)?
        if !has_message()? {
            return Ok(Found::Nothing);
        }
        Ok(Found::Entry(self.orphan(&message)))
    }

    pub(crate) fn open_dir(&self) -> Result<OwnedFd, LibraryError> {
        durable::open_dir_path(&self.dir)
            .map_err(|e| LibraryError::io("open quarantine folder", &self.dir, e))
    }

    /// Claim the entry name of `key`, or find the entry a first put made.
    fn claim(&self, dir: BorrowedFd<'_>, key: &MessageKey) -> Result<Claim, LibraryError> {
        let keys_path = self.dir.join(KEYS_DIR);
        let keys = durable::ensure_subdir(dir, KEYS_DIR)
            .map_err(|e| LibraryError::io("open folder", &keys_path, e))?;
        let name = key.to_string();
        let claim_path = keys_path.join(&name);
        for _ in 0..3 {
            let existing = durable::read_at(keys.as_fd(), &name)
                .map_err(|e| LibraryError::io("read quarantine claim", &claim_path, e))?;
            if let Some(bytes) = existing {
                let base = String::from_utf8_lossy(&bytes).trim().to_string();
                if !valid_base(&base) {
                    return Err(LibraryError::CorruptReason {
                        path: claim_path,
                        why: format!("it names {base:?}, not an entry"),
                    });
                }
                let complete = durable::exists_at(dir, &format!("{base}{MESSAGE_SUFFIX}"))
                    .map_err(|e| LibraryError::io("look up", self.dir.join(&base), e))?;
                return match self.read_reason(dir, &base)? {
                    Some(entry) if complete => Ok(Claim::Existing(Box::new(entry))),
                    // Claimed, then interrupted: (re)write the entry under the claimed name.
                    _ => Ok(Claim::Base(base)),
                };
            }
            let base = format!("{}-{}", now_compact(), key.short());
            let tmp = format!(".tmp-{}", clock::nonce());
            durable::write_new_synced(keys.as_fd(), &tmp, base.as_bytes())
                .map_err(|e| LibraryError::io("write quarantine claim", keys_path.join(&tmp), e))?;
            let won = durable::rename_noreplace(keys.as_fd(), &tmp, keys.as_fd(), &name);
            let won = match won {
                Ok(won) => won,
                Err(e) => {
                    let _ = durable::remove_at(keys.as_fd(), &tmp);
                    return Err(LibraryError::io("write quarantine claim", &claim_path, e));
                }
            };
            if won {
                durable::fsync_dir(&keys)
                    .map_err(|e| LibraryError::io("flush to disk", &keys_path, e))?;
                return Ok(Claim::Base(base));
            }
            // Someone claimed it at the same moment: read theirs.
            let _ = durable::remove_at(keys.as_fd(), &tmp);
        }
        Err(LibraryError::io(
            "claim quarantine entry",
            claim_path,
            io::Error::other("the claim kept changing"),
        ))
    }

    /// Write `name` via a temporary file, fsynced, replacing any torn copy.
    fn write_synced(
        &self,
        dir: BorrowedFd<'_>,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), LibraryError> {
        let tmp = format!(".tmp-{}", clock::nonce());
        let path = self.dir.join(name);
        let result = durable::write_new_synced(dir, &tmp, bytes)
            .and_then(|()| durable::rename_replace(dir, &tmp, dir, name));
        if let Err(e) = result {
            let _ = durable::remove_at(dir, &tmp);
            return Err(LibraryError::io("write quarantined file", path, e));
        }
        Ok(())
    }

    fn write_reason(
        &self,
        dir: BorrowedFd<'_>,
        base: &str,
        entry: &QuarantineEntry,
    ) -> Result<(), LibraryError> {
        let name = format!("{base}{REASON_SUFFIX}");
        let mut json = serde_json::to_vec_pretty(entry)
            .map_err(|e| LibraryError::io("encode", self.dir.join(&name), io::Error::other(e)))?;
        json.push(b'\n');
        self.write_synced(dir, &name, &json)?;
        durable::fsync_dir(dir).map_err(|e| LibraryError::io("flush to disk", &self.dir, e))
    }

    pub(crate) fn read_reason(
        &self,
        dir: BorrowedFd<'_>,
        base: &str,
    ) -> Result<Option<QuarantineEntry>, LibraryError> {
        let path = self.dir.join(format!("{base}{REASON_SUFFIX}"));
        let bytes = match durable::read_at(dir, &format!("{base}{REASON_SUFFIX}")) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(e) => return Err(LibraryError::io("read quarantine reason file", path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LibraryError::CorruptReason {
                path,
                why: e.to_string(),
            })
    }

    pub(crate) fn orphan(&self, name: &str) -> QuarantineEntry {
        let modified = std::fs::symlink_metadata(self.dir.join(name)).and_then(|m| m.modified());
        QuarantineEntry {
            file: name.to_string(),
            reason: "The message has no reason file: it was put here by hand, or by an older \
                     version that stopped while quarantining it."
                .to_string(),
            code: "no_reason".to_string(),
            message_key: None,
            source: None,
            quarantined_at: modified.map(clock::rfc3339).unwrap_or_default(),
            envelope_sender: None,
            envelope_recipients: Vec::new(),
            refused_recipients: Vec::new(),
            still_at: None,
        }
    }
}

/// What is under one entry name ([`Quarantine::look`]).
pub(crate) enum Found {
    /// A listed entry: its message with its reason, a message without a
    /// reason (`no_reason`), or a reason whose file could not be moved.
    Entry(QuarantineEntry),
    /// A reason whose message is being written, or never was (a crash).
    Unfinished(QuarantineEntry),
    Nothing,
}

enum Claim {
    /// The key was quarantined before: this is its entry.
    Existing(Box<QuarantineEntry>),
    /// Write the entry under this name.
    Base(String),
}

/// Entry names are ours: timestamp, dash, hex.
fn valid_base(base: &str) -> bool {
    !base.is_empty()
        && !base.starts_with('.')
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Move `source` to `name` in the quarantine folder and make it durable.
/// `Ok(None)`: moved. `Ok(Some(e))`: copied (durably) but the source could not
/// be removed. `Err`: nothing was moved.
fn move_file(
    source: &Path,
    dir: BorrowedFd<'_>,
    name: &str,
    target: &Path,
) -> io::Result<Option<io::Error>> {
    match std::fs::rename(source, target) {
        Ok(()) => {
            // The bytes may not have been flushed by whoever wrote them. We may
            // not be allowed to open the file (that may be why it is here):
            // then flush its whole filesystem instead.
            let synced = durable::read_only(dir, name).and_then(|f| f.sync_all());
            if synced.is_err() {
                durable::sync_filesystem(dir)?;
            }
            durable::fsync_dir(dir)?;
            sync_parent(source);
            Ok(None)
        }
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            copy_synced(source, dir, name)?;
            durable::fsync_dir(dir)?;
            match std::fs::remove_file(source) {
                Ok(()) => {
                    sync_parent(source);
                    Ok(None)
                }
                Err(e) => Ok(Some(e)),
            }
        }
        Err(e) => Err(e),
    }
}

fn copy_synced(source: &Path, dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let mut from = File::open(source)?;
    let tmp = format!(".tmp-{}", clock::nonce());
    let result = durable::write_new(dir, &tmp, b"").and_then(|mut to| {
        io::copy(&mut from, &mut to)?;
        to.sync_all()?;
        if durable::rename_noreplace(dir, &tmp, dir, name)? {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{name} exists"),
            ))
        }
    });
    if result.is_err() {
        let _ = durable::remove_at(dir, &tmp);
    }
    result
}

/// Make the removal from the source folder durable; failing leaves at worst
/// a second copy to quarantine again later, so it is only logged.
fn sync_parent(source: &Path) {
    let Some(parent) = source.parent() else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    if let Err(e) = durable::open_dir_path(parent).and_then(durable::fsync_dir) {
        tracing::warn!(folder = %parent.display(), error = %e, "cannot flush folder to disk");
    }
}

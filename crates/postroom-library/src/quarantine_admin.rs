//! What administrators do with one quarantined message (after `list`): look
//! it up by id (its file name), read it, and remove it for good (message,
//! reason and the key's claim, so that the same message quarantined again
//! later gets a new entry). Used by show, replay and delete. Replay lets go
//! of the key's claim *before* the message goes back to the drop folder
//! (so a second quarantine of it writes a new entry, not "already there"),
//! and removes the old entry's files after.

use std::os::fd::AsFd;
use std::path::PathBuf;

use crate::durable;
use crate::quarantine::{Found, KEYS_DIR, MESSAGE_SUFFIX, REASON_SUFFIX};
use crate::{LibraryError, Quarantine, QuarantineEntry};

/// The base name of an entry id (`<base>.eml`), if it is one of ours: no
/// path separators, no hidden names.
fn base_of(id: &str) -> Option<&str> {
    let base = id.strip_suffix(MESSAGE_SUFFIX)?;
    let plain = !base.is_empty()
        && !base.starts_with('.')
        && !base.contains(['/', '\\', '\0'])
        && base != "..";
    plain.then_some(base)
}

impl Quarantine {
    /// The entry with this id (its message file name), if there is one.
    pub fn entry(&self, id: &str) -> Result<Option<QuarantineEntry>, LibraryError> {
        let Some(base) = base_of(id) else {
            return Ok(None);
        };
        let dir = self.open_dir()?;
        Ok(match self.look(dir.as_fd(), base)? {
            // One that could not be moved has no message here to show or replay.
            Found::Entry(entry) if entry.still_at.is_none() => Some(entry),
            _ => None,
        })
    }

    /// The message file of an entry.
    pub fn message_path(&self, entry: &QuarantineEntry) -> PathBuf {
        self.dir().join(&entry.file)
    }

    /// Remove an entry for good: the key's claim first (a new quarantine of
    /// the key then makes a new entry), then its files. False if there was
    /// no such entry.
    pub fn remove(&self, id: &str) -> Result<bool, LibraryError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(false);
        };
        self.release_claim(&entry)?;
        self.remove_files(&entry)?;
        Ok(true)
    }

    /// Let go of the entry's claim on its message key (if it still names this
    /// entry): quarantining the key again then writes a new entry.
    pub fn release_claim(&self, entry: &QuarantineEntry) -> Result<(), LibraryError> {
        let (Some(key), Some(base)) = (&entry.message_key, base_of(&entry.file)) else {
            return Ok(());
        };
        let dir = self.open_dir()?;
        let keys_path = self.dir().join(KEYS_DIR);
        let keys = match durable::open_subdir(dir.as_fd(), KEYS_DIR) {
            Ok(keys) => keys,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LibraryError::io("open folder", keys_path, e)),
        };
        let name = key.to_string();
        let claimed = durable::read_at(keys.as_fd(), &name)
            .map_err(|e| LibraryError::io("read quarantine claim", keys_path.join(&name), e))?;
        // A claim naming another entry (quarantined again since) stays.
        if claimed.is_some_and(|b| String::from_utf8_lossy(&b).trim() == base) {
            durable::remove_at(keys.as_fd(), &name)
                .map_err(|e| LibraryError::io("remove", keys_path.join(&name), e))?;
            durable::fsync_dir(&keys)
                .map_err(|e| LibraryError::io("flush to disk", &keys_path, e))?;
        }
        Ok(())
    }

    /// Remove the entry's message, then its reason file, syncing the folder.
    pub fn remove_files(&self, entry: &QuarantineEntry) -> Result<(), LibraryError> {
        let Some(base) = base_of(&entry.file) else {
            return Ok(());
        };
        let dir = self.open_dir()?;
        let removing = |name: &str, e| LibraryError::io("remove", self.dir().join(name), e);
        let reason = format!("{base}{REASON_SUFFIX}");
        // The message first: a listing in between sees an unfinished entry,
        // not a message without its reason.
        durable::remove_at(dir.as_fd(), &entry.file).map_err(|e| removing(&entry.file, e))?;
        durable::fsync_dir(&dir).map_err(|e| LibraryError::io("flush to disk", self.dir(), e))?;
        durable::remove_at(dir.as_fd(), &reason).map_err(|e| removing(&reason, e))?;
        durable::fsync_dir(&dir).map_err(|e| LibraryError::io("flush to disk", self.dir(), e))
    }
}

impl Quarantine {
    /// Delete the entries quarantined before `cutoff` (the retention
    /// window's start): the deleted ones, oldest first, and the entries that
    /// could not be deleted with why. Several nodes may expire the same
    /// folder at once: what another removed is skipped. A message without
    /// its reason file is not expired (its age is not known); a reason
    /// without its message (left by a crash; the message was quarantined
    /// again or filed since) is removed an hour after the cutoff.
    #[allow(clippy::type_complexity)]
    pub fn expire(
        &self,
        cutoff: time::OffsetDateTime,
    ) -> Result<(Vec<QuarantineEntry>, Vec<(String, LibraryError)>), LibraryError> {
        let (mut expired, mut failed) = (Vec::new(), Vec::new());
        let older = |entry: &QuarantineEntry, cutoff| {
            entry.code != "no_reason"
                && crate::clock::parse_rfc3339(&entry.quarantined_at).is_some_and(|at| at < cutoff)
        };
        let (entries, unfinished) = self.scan()?;
        for entry in entries.into_iter().filter(|e| older(e, cutoff)) {
            match self
                .release_claim(&entry)
                .and_then(|()| self.remove_files(&entry))
            {
                Ok(()) => expired.push(entry),
                Err(e) => failed.push((entry.file, e)),
            }
        }
        // Its message may be being written: an hour more for it.
        let unfinished_cutoff = cutoff - time::Duration::HOUR;
        for entry in unfinished
            .into_iter()
            .filter(|e| older(e, unfinished_cutoff))
        {
            match self.remove_unfinished(&entry) {
                Ok(true) => expired.push(entry),
                Ok(false) => {}
                Err(e) => failed.push((entry.file, e)),
            }
        }
        expired.sort_by(|a, b| (&a.quarantined_at, &a.file).cmp(&(&b.quarantined_at, &b.file)));
        Ok((expired, failed))
    }

    /// Remove a reason whose message never came, and its key's claim,
    /// unless the message is there now (quarantined again under the same
    /// name). Never removes a message. False if nothing was removed.
    fn remove_unfinished(&self, entry: &QuarantineEntry) -> Result<bool, LibraryError> {
        let Some(base) = base_of(&entry.file) else {
            return Ok(false);
        };
        let dir = self.open_dir()?;
        let arrived = durable::exists_at(dir.as_fd(), &entry.file)
            .map_err(|e| LibraryError::io("look up", self.dir().join(&entry.file), e))?;
        if arrived {
            return Ok(false);
        }
        self.release_claim(entry)?;
        let reason = format!("{base}{REASON_SUFFIX}");
        durable::remove_at(dir.as_fd(), &reason)
            .map_err(|e| LibraryError::io("remove", self.dir().join(&reason), e))?;
        durable::fsync_dir(&dir).map_err(|e| LibraryError::io("flush to disk", self.dir(), e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::QuarantineReason;
    use postroom_core::MessageKey;

    fn keyed(n: u8) -> QuarantineReason {
        QuarantineReason {
            message_key: Some(MessageKey::from_bytes([n; 32])),
            ..QuarantineReason::new("unknown_alias", "no library has the alias \"sales\"")
        }
    }

    #[test]
    fn an_entry_is_found_by_id_and_removed_with_its_claim() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let first = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(1)).unwrap();
        assert_eq!(q.entry(&first.file).unwrap().as_ref(), Some(&first));
        assert_eq!(
            std::fs::read(q.message_path(&first)).unwrap(),
            b"Subject: a\r\n\r\nx"
        );
        assert!(q.remove(&first.file).unwrap());
        assert!(q.entry(&first.file).unwrap().is_none());
        assert!(q.list().unwrap().is_empty());
        assert!(!q.remove(&first.file).unwrap());
        // The same key quarantined again makes a new entry.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(1)).unwrap();
        assert_eq!(q.list().unwrap(), vec![again]);
    }

    #[test]
    fn a_replayed_message_quarantined_again_gets_a_new_entry() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let first = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(1)).unwrap();
        // Replay: the claim goes first; the message is quarantined again
        // (the library is still missing) before the old files are removed.
        q.release_claim(&first).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(1)).unwrap();
        assert_ne!(again.file, first.file);
        q.remove_files(&first).unwrap();
        assert_eq!(q.list().unwrap(), vec![again.clone()]);
        // The old entry's claim is gone, the new one's stays.
        q.release_claim(&first).unwrap();
        assert_eq!(
            q.put_bytes(b"Subject: a\r\n\r\nx", keyed(1)).unwrap(),
            again
        );
    }

    #[test]
    fn a_reason_file_cannot_point_outside_the_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let entry = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(2)).unwrap();
        let reason = dir
            .path()
            .join("q")
            .join(entry.file.replace(".eml", ".reason.json"));
        let text = std::fs::read_to_string(&reason).unwrap();
        std::fs::write(&reason, text.replace(&entry.file, "../../secret.eml")).unwrap();
        let found = q.entry(&entry.file).unwrap().unwrap();
        assert_eq!(found.file, entry.file);
        assert!(q.message_path(&found).starts_with(q.dir()));
    }

    #[test]
    fn entries_older_than_the_cutoff_expire() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let old = q.put_bytes(b"Subject: old\r\n\r\nx", keyed(3)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let cutoff = time::OffsetDateTime::now_utc();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let young = q.put_bytes(b"Subject: young\r\n\r\nx", keyed(4)).unwrap();
        assert_eq!(q.expire(cutoff).unwrap().0, vec![old.clone()]);
        assert_eq!(q.list().unwrap(), vec![young]);
        assert!(q.expire(cutoff).unwrap().0.is_empty());
        // Its key can be quarantined again, as a new entry.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = q.put_bytes(b"Subject: old\r\n\r\nx", keyed(3)).unwrap();
        assert_ne!(again.file, old.file);
    }

    #[test]
    fn a_reason_without_its_message_is_not_listed_and_expires_an_hour_later() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let entry = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(5)).unwrap();
        // As seen while the message is being written, or after a crash then.
        std::fs::remove_file(q.message_path(&entry)).unwrap();
        assert!(q.list().unwrap().is_empty());
        assert!(q.entry(&entry.file).unwrap().is_none());
        let now = time::OffsetDateTime::now_utc();
        assert!(q.expire(now + time::Duration::MINUTE).unwrap().0.is_empty());
        let expired = q.expire(now + time::Duration::minutes(61)).unwrap().0;
        assert_eq!(expired, vec![entry.clone()]);
        assert_eq!(
            std::fs::read_dir(q.dir()).unwrap().count(),
            1,
            "only .keys is left"
        );
        // Its claim went with it: the key makes a new entry.
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_ne!(
            q.put_bytes(b"Subject: a\r\n\r\nx", keyed(5)).unwrap().file,
            entry.file
        );
    }

    #[test]
    fn expiring_a_reason_never_removes_a_message_that_came_since() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let entry = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(6)).unwrap();
        let message = q.message_path(&entry);
        std::fs::remove_file(&message).unwrap();
        assert_eq!(q.scan().unwrap().1, vec![entry.clone()]);
        // Another node quarantines the key again under the claimed name
        // between this node's scan and its removal.
        std::fs::write(&message, b"Subject: a\r\n\r\nx").unwrap();
        assert!(!q.remove_unfinished(&entry).unwrap());
        assert!(message.exists());
        assert_eq!(q.list().unwrap(), vec![entry]);
    }

    #[test]
    fn look_tells_entries_unfinished_reasons_and_orphans_apart() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        let fd = q.open_dir().unwrap();
        let entry = q.put_bytes(b"Subject: a\r\n\r\nx", keyed(7)).unwrap();
        let base = entry.file.strip_suffix(".eml").unwrap();
        assert!(matches!(q.look(fd.as_fd(), base).unwrap(), Found::Entry(e) if e == entry));
        std::fs::remove_file(q.message_path(&entry)).unwrap();
        assert!(matches!(q.look(fd.as_fd(), base).unwrap(), Found::Unfinished(e) if e == entry));
        std::fs::remove_file(q.dir().join(format!("{base}.reason.json"))).unwrap();
        assert!(matches!(q.look(fd.as_fd(), base).unwrap(), Found::Nothing));
        std::fs::write(q.message_path(&entry), b"x").unwrap();
        assert!(
            matches!(q.look(fd.as_fd(), base).unwrap(), Found::Entry(e) if e.code == "no_reason")
        );
    }

    #[test]
    fn ids_that_are_not_entries_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("q")).unwrap();
        std::fs::write(dir.path().join("secret.eml"), b"x").unwrap();
        for id in [
            "../secret.eml",
            ".keys",
            "x.reason.json",
            "",
            ".eml",
            "nope.eml",
        ] {
            assert!(q.entry(id).unwrap().is_none(), "{id}");
            assert!(!q.remove(id).unwrap(), "{id}");
        }
        assert!(dir.path().join("secret.eml").exists());
    }
}

//! Filing a batch of messages, idempotently on the message key and durably,
//! with four filesystem barriers (`syncfs`) per batch instead of an fsync per
//! file.
//!
//! # The record is the lock and the plan
//!
//! `.postroom/items/<key>.json` is created with create-new semantics (written
//! in full to a temporary file, then renamed with `RENAME_NOREPLACE`, so it
//! appears complete or not at all) in state `writing`, listing the planned
//! file names, before any attachment is visible. Whoever finds it `done`
//! does nothing; whoever finds it `writing` finishes the same plan.
//!
//! # Phases
//!
//! 1. Read each key's record. New key: plan free names, write the record to
//!    a temporary file. For every item to (re)write: write each file's bytes
//!    to a temporary file in `.postroom/tmp`. **Barrier 1.**
//! 2. Rename each new record into place without replacing. If another process
//!    created it meanwhile, adopt its record (done → nothing to do; writing →
//!    its plan). **Barrier 2.**
//! 3. Move each temporary file to its planned name without replacing. If the
//!    name is taken and holds our bytes, it is ours (an earlier attempt or a
//!    concurrent process put it there): keep it. If it holds other bytes, another
//!    item took it: walk the name's ` (n)` sequence, skipping the item's
//!    own other names, to the first name that is free or holds our bytes.
//!    With `overwrite_existing`, replace instead. Then write the `done` record
//!    (with the final names) to a temporary file. **Barrier 3.**
//! 4. Rename each `done` record over the `writing` one. **Barrier 4.** Return.
//!
//! # Crash between any two steps
//!
//! - Before barrier 1: nothing visible; a retry plans afresh.
//! - Before barrier 2: a record name may exist or not, but its bytes were
//!   durable before the rename, so it is never torn; no file is visible yet.
//! - Before barrier 3: the record (durable) says `writing`; some files may be
//!   in place. A retry rewrites the temporary files and walks the same name
//!   sequences from the same plan: a name holding our bytes is adopted, so
//!   no file appears twice.
//! - Before barrier 4: every file is durable; the record is `writing` or
//!   `done` (its bytes were durable before the rename). A retry adopts all
//!   files and marks it `done`.
//!
//! All workers of one key start from the same plan and walk the same
//! sequence; postroom never removes a name, so the first name in a sequence
//! that ever holds the item's bytes is the one every worker stops at. Two
//! processes filing one key at once therefore converge on the same names.
//! The one ambiguity: if *another* item with byte-identical content takes a
//! planned name in the window between planning and placing, that file is
//! shared by both records instead of being written twice.
//!
//! A temporary file removed under a worker (the worker that finished the key
//! cleans up stale temporaries of it) makes that worker re-read the record:
//! `done` means another worker finished the item.
//!
//! A file's bytes may come in pieces ([`FileContent::Pieces`]: an attachment
//! decoded from the raw message as it is written). Nothing above changes:
//! the temporary file is complete before barrier 1, "holds our bytes"
//! compares the length, then the pieces against the file, and the pieces
//! are a pure function of the message, the same for every attempt.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsFd;
use std::path::Path;

use postroom_core::config::LibrarySettings;
use postroom_core::MessageKey;

use crate::clock::{self, now_rfc3339};
use crate::durable;
use crate::item::{
    encode_record, join_planned, read_record, record_name, split_planned, FileContent, FileOutcome,
    ItemRecord, ItemState, ItemToFile,
};
use crate::plan::{place, plan_new, Folders, Reserved, Spot};
use crate::store::Dirs;
use crate::LibraryError;

type Outcome = Result<FileOutcome, LibraryError>;

/// One item being written in this batch.
struct Work<'a> {
    index: usize,
    key: MessageKey,
    /// The `writing` record (ours or adopted); its `files` become the final names.
    record: ItemRecord,
    contents: Vec<FileContent<'a>>,
    /// Temporary file of each content in `.postroom/tmp`, until consumed.
    temps: Vec<Option<String>>,
    /// Our new record's temporary file, until renamed into place.
    record_tmp: Option<String>,
    /// The `done` record's temporary file, until renamed into place.
    done_tmp: Option<String>,
    outcome: Option<Outcome>,
}

impl Work<'_> {
    fn active(&self) -> bool {
        self.outcome.is_none()
    }
}

/// See the module documentation.
pub(crate) fn file_batch(
    root: &Path,
    settings: &LibrarySettings,
    items: &[ItemToFile<'_>],
) -> Vec<Outcome> {
    let dirs = match Dirs::open(root) {
        Ok(dirs) => dirs,
        Err(e) => return items.iter().map(|_| Err(e.duplicate())).collect(),
    };
    let mut folders = Folders {
        open: HashMap::new(),
    };
    let mut results: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
    let mut first_of: HashMap<MessageKey, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut works = Vec::new();
    let mut reserved = Reserved::default();
    let mut already = false;

    // Phase 1: read or plan records, write temporary files.
    for (index, item) in items.iter().enumerate() {
        let key = item.meta.message_key;
        if let Some(&first) = first_of.get(&key) {
            duplicates.push((index, first));
            continue;
        }
        first_of.insert(key, index);
        match start(&dirs, &mut folders, settings, &mut reserved, index, item) {
            Ok(Start::Done(record)) => {
                already = true;
                results[index] = Some(Ok(FileOutcome::AlreadyFiled(record)));
            }
            Ok(Start::Write(work)) => works.push(work),
            Err(e) => results[index] = Some(Err(e)),
        }
    }
    barrier(&dirs, &mut works);

    // Phase 2: create the records.
    let mut linked = false;
    for w in works.iter_mut().filter(|w| w.active()) {
        if let Some(tmp) = w.record_tmp.clone() {
            match link_record(&dirs, w, &tmp) {
                Ok(true) => linked = true,
                Ok(false) => {}
                Err(e) => w.outcome = Some(Err(e)),
            }
        }
    }
    if linked {
        barrier(&dirs, &mut works);
    }

    // Phase 3: move files into place, write the done records.
    for w in works.iter_mut().filter(|w| w.active()) {
        if let Err(e) = place_all(&dirs, &mut folders, settings, w) {
            w.outcome = Some(Err(e));
            continue;
        }
        if w.active() {
            if let Err(e) = write_done(&dirs, w) {
                w.outcome = Some(Err(e));
            }
        }
    }
    let pending = works.iter().any(|w| w.active());
    if pending {
        barrier(&dirs, &mut works);
    }

    // Phase 4: mark done.
    for w in works.iter_mut().filter(|w| w.active()) {
        let Some(tmp) = w.done_tmp.take() else {
            continue;
        };
        let name = record_name(&w.key);
        w.outcome = Some(
            match durable::rename_replace(dirs.tmp.as_fd(), &tmp, dirs.items.as_fd(), &name) {
                Ok(()) => Ok(FileOutcome::Filed(w.record.clone())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => vanished(&dirs, &w.key),
                Err(e) => Err(LibraryError::io(
                    "write item record",
                    dirs.items_path().join(name),
                    e,
                )),
            },
        );
    }
    if pending || already || works.iter().any(|w| matches!(w.outcome, Some(Ok(_)))) {
        // Makes the done records durable, and also any done record that this
        // batch only read (another process may not have flushed it yet).
        if let Err(e) = durable::sync_filesystem(&dirs.root) {
            let err = LibraryError::io("flush to disk", root, e);
            for slot in results.iter_mut() {
                if matches!(slot, Some(Ok(_))) {
                    *slot = Some(Err(err.duplicate()));
                }
            }
            for w in works
                .iter_mut()
                .filter(|w| matches!(w.outcome, Some(Ok(_))))
            {
                w.outcome = Some(Err(err.duplicate()));
            }
        }
    }

    cleanup(&dirs, &mut works);
    for w in works {
        results[w.index] = w.outcome;
    }
    for (index, first) in duplicates {
        results[index] = Some(match &results[first] {
            Some(Ok(outcome)) => Ok(FileOutcome::AlreadyFiled(outcome.record().clone())),
            Some(Err(e)) => Err(LibraryError::DuplicateInBatch {
                key: items[index].meta.message_key.to_string(),
                first: e.to_string(),
            }),
            None => Err(LibraryError::DuplicateInBatch {
                key: items[index].meta.message_key.to_string(),
                first: "it was not filed".to_string(),
            }),
        });
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(LibraryError::io(
                    "file an item into",
                    root,
                    std::io::Error::other("the item was skipped"),
                ))
            })
        })
        .collect()
}

// Short-lived: returned once per item and moved straight into a Vec.
#[allow(clippy::large_enum_variant)]
enum Start<'a> {
    Done(ItemRecord),
    Write(Work<'a>),
}

/// Phase 1 for one item.
fn start<'a>(
    dirs: &Dirs,
    folders: &mut Folders,
    settings: &LibrarySettings,
    reserved: &mut Reserved,
    index: usize,
    item: &ItemToFile<'a>,
) -> Result<Start<'a>, LibraryError> {
    let key = item.meta.message_key;
    let mut contents: Vec<FileContent<'a>> = item.attachments.iter().map(|a| a.content).collect();
    if settings.save_original {
        contents.push(FileContent::Bytes(item.original));
    }
    let existing = read_record(dirs.items.as_fd(), &dirs.items_path(), &key)?;
    let (record, record_tmp) = match existing {
        Some(record) if record.state == ItemState::Done => return Ok(Start::Done(record)),
        Some(record) => {
            check_plan(dirs, &record, contents.len())?;
            (record, None)
        }
        None => {
            let files = plan_new(dirs, folders, settings, reserved, item)?;
            let record = ItemRecord::writing(&item.meta, &settings.alias, files);
            let tmp = format!("{key}-{}.record", clock::nonce());
            encode_record(&record)
                .and_then(|bytes| durable::write_new(dirs.tmp.as_fd(), &tmp, &bytes))
                .map_err(|e| {
                    LibraryError::io("write temporary file", dirs.tmp_path().join(&tmp), e)
                })?;
            (record, Some(tmp))
        }
    };
    for rel in &record.files {
        if let Some((folder, name)) = split_planned(rel) {
            reserved
                .names
                .insert((folder.unwrap_or("").to_lowercase(), name.to_lowercase()));
        }
    }
    let mut work = Work {
        index,
        key,
        record,
        contents,
        temps: Vec::new(),
        record_tmp,
        done_tmp: None,
        outcome: None,
    };
    let nonce = clock::nonce();
    for (i, content) in work.contents.iter().enumerate() {
        let tmp = format!("{key}-{nonce}-{i}");
        if let Err(e) = durable::write_new_content(dirs.tmp.as_fd(), &tmp, *content) {
            // Remove what this item wrote so far before giving up on it.
            let _ = durable::remove_at(dirs.tmp.as_fd(), &tmp);
            cleanup(dirs, std::slice::from_mut(&mut work));
            return Err(LibraryError::io(
                "write temporary file",
                dirs.tmp_path().join(&tmp),
                e,
            ));
        }
        work.temps.push(Some(tmp));
    }
    Ok(Start::Write(work))
}

/// A `writing` record must plan one file per content.
fn check_plan(dirs: &Dirs, record: &ItemRecord, actual: usize) -> Result<(), LibraryError> {
    if record.files.len() == actual {
        return Ok(());
    }
    Err(LibraryError::PlanMismatch {
        path: dirs
            .items_path()
            .join(record_name(&record.meta.message_key)),
        key: record.meta.message_key.to_string(),
        planned: record.files.len(),
        actual,
    })
}

/// Phase 2 for one new record. `Ok(true)`: our record is in place.
fn link_record(dirs: &Dirs, w: &mut Work<'_>, tmp: &str) -> Result<bool, LibraryError> {
    let name = record_name(&w.key);
    let placed = durable::rename_noreplace(dirs.tmp.as_fd(), tmp, dirs.items.as_fd(), &name);
    match placed {
        Ok(true) => {
            w.record_tmp = None;
            return Ok(true);
        }
        Ok(false) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            w.outcome = Some(vanished(dirs, &w.key));
            return Ok(false);
        }
        Err(e) => {
            return Err(LibraryError::io(
                "create item record",
                dirs.items_path().join(name),
                e,
            ))
        }
    }
    // Another process created the record since phase 1: follow it.
    tracing::debug!(key = %w.key.short(), "item record created concurrently; adopting it");
    match read_record(dirs.items.as_fd(), &dirs.items_path(), &w.key)? {
        Some(record) if record.state == ItemState::Done => {
            w.outcome = Some(Ok(FileOutcome::AlreadyFiled(record)));
        }
        Some(record) => {
            check_plan(dirs, &record, w.contents.len())?;
            w.record = record;
        }
        None => {
            return Err(LibraryError::io(
                "read item record",
                dirs.items_path().join(name),
                std::io::Error::other("it disappeared while being created"),
            ))
        }
    }
    Ok(false)
}

/// Phase 3 for one item: every file to its final name.
fn place_all(
    dirs: &Dirs,
    folders: &mut Folders,
    settings: &LibrarySettings,
    w: &mut Work<'_>,
) -> Result<(), LibraryError> {
    let planned = w.record.files.clone();
    for (i, rel) in planned.iter().enumerate() {
        let Some((folder, name)) = split_planned(rel) else {
            return Err(LibraryError::CorruptRecord {
                path: dirs.items_path().join(record_name(&w.key)),
                why: format!("unsafe file path {rel:?}"),
            });
        };
        // The item's other names in the same folder: never taken for this file.
        let skip: HashSet<String> = planned
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, other)| split_planned(other))
            .filter(|(f, _)| *f == folder)
            .map(|(_, n)| n.to_lowercase())
            .collect();
        let Some(tmp) = w.temps.get(i).cloned().flatten() else {
            continue;
        };
        let folder_fd = folders.get(dirs, folder)?;
        let folder_path = folder.map_or(dirs.root_path.clone(), |f| dirs.root_path.join(f));
        let content = w.contents.get(i).copied().unwrap_or_default();
        let spot = Spot {
            tmp_dir: dirs.tmp.as_fd(),
            tmp: &tmp,
            dir: folder_fd,
            dir_path: &folder_path,
        };
        match place(&spot, name, &skip, content, settings.overwrite_existing)? {
            Some(final_name) => {
                if final_name != name {
                    tracing::info!(key = %w.key.short(), planned = %rel, name = %final_name,
                        "planned name was taken by another item; using the next free name");
                }
                w.record.files[i] = join_planned(folder, &final_name);
                w.temps[i] = None;
            }
            None => {
                w.outcome = Some(vanished(dirs, &w.key));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Phase 3, end: the `done` record to a temporary file.
fn write_done(dirs: &Dirs, w: &mut Work<'_>) -> Result<(), LibraryError> {
    w.record.state = ItemState::Done;
    w.record.filed_at = Some(now_rfc3339());
    let tmp = format!("{}-{}.done", w.key, clock::nonce());
    encode_record(&w.record)
        .and_then(|bytes| durable::write_new(dirs.tmp.as_fd(), &tmp, &bytes))
        .map_err(|e| LibraryError::io("write temporary file", dirs.tmp_path().join(&tmp), e))?;
    w.done_tmp = Some(tmp);
    Ok(())
}

/// Our temporary file is gone: only the worker that finished the item
/// removes them, so a `done` record means the item is filed.
fn vanished(dirs: &Dirs, key: &MessageKey) -> Outcome {
    match read_record(dirs.items.as_fd(), &dirs.items_path(), key)? {
        Some(record) if record.state == ItemState::Done => Ok(FileOutcome::AlreadyFiled(record)),
        _ => Err(LibraryError::io(
            "find temporary file of message",
            dirs.tmp_path().join(key.to_string()),
            std::io::Error::other("it was removed while the item was being filed; retry"),
        )),
    }
}

/// One barrier for every active item; if it fails, none of them is durable.
fn barrier(dirs: &Dirs, works: &mut [Work<'_>]) {
    if !works.iter().any(|w| w.active()) {
        return;
    }
    if let Err(e) = durable::sync_filesystem(&dirs.root) {
        let err = LibraryError::io("flush to disk", &dirs.root_path, e);
        for w in works.iter_mut().filter(|w| w.active()) {
            w.outcome = Some(Err(err.duplicate()));
        }
    }
}

/// Remove our unconsumed temporary files, and for every key finished here,
/// the temporary files earlier (crashed) attempts left behind.
fn cleanup(dirs: &Dirs, works: &mut [Work<'_>]) {
    let mut finished: HashSet<String> = HashSet::new();
    for w in works.iter_mut() {
        let leftovers = w
            .temps
            .iter_mut()
            .chain([&mut w.record_tmp, &mut w.done_tmp]);
        for tmp in leftovers.filter_map(Option::take) {
            if let Err(e) = durable::remove_at(dirs.tmp.as_fd(), &tmp) {
                tracing::warn!(file = %dirs.tmp_path().join(&tmp).display(), error = %e,
                    "cannot remove temporary file");
            }
        }
        if matches!(w.outcome, Some(Ok(_))) {
            finished.insert(w.key.to_string());
        }
    }
    if finished.is_empty() {
        return;
    }
    let Ok(names) = durable::list_names(dirs.tmp.as_fd()) else {
        return;
    };
    for name in names {
        let stale = name
            .split_once('-')
            .is_some_and(|(key, _)| finished.contains(key));
        if stale {
            tracing::debug!(file = %name, "removing a temporary file left by an earlier attempt");
            let _ = durable::remove_at(dirs.tmp.as_fd(), &name);
        }
    }
}

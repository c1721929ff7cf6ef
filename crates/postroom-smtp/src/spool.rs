//! "250 means durable": messages accepted over SMTP are written into the
//! drop folder (the farm's shared one, or the node's own) as IIS-format
//! drop files (`X-Sender` / `X-Receiver` lines, our `Received:` field, the
//! message) and made durable before the reply.
//!
//! A [`Draft`] collects one message: in memory while small, spilled to a
//! hidden temporary file in the folder once it passes [`SPILL_AT`], so a
//! 50 MB message never sits in memory whole. [`Spool::commit`] hands drafts
//! to one committer task that group-commits whatever is waiting: write the
//! in-memory ones, one `syncfs` on a descriptor the committer keeps open (so
//! every writeback error since its last barrier is reported to it, Linux ≥
//! 5.8), an `fdatasync` of spilled drafts only (their early pages may have
//! failed before that window), no-replace renames to the final names, one
//! directory fsync, then answer every session. Concurrent sessions share
//! the barriers instead of paying an fsync each.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use postroom_core::{MessageKey, MessageKeyBuilder};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::SmtpError;

/// A draft larger than this goes to its temporary file as it arrives.
pub const SPILL_AT: usize = 1024 * 1024;

/// Most drafts committed under one pair of barriers.
const MAX_GROUP: usize = 512;

/// A message written durably into the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Final path (a candidate name for the drop-folder watcher).
    pub path: PathBuf,
    /// File size and modification time after the rename.
    pub size: u64,
    pub modified: SystemTime,
    /// The message key (envelope + bytes as sent, without our head).
    pub key: MessageKey,
}

/// One message being received. Dropping a draft that was not committed
/// removes its temporary file.
pub struct Draft {
    /// Hidden temporary name (skipped by the watcher) and final name.
    temp: PathBuf,
    final_path: PathBuf,
    head: Vec<u8>,
    body: Vec<u8>,
    /// The temporary file, once created.
    file: Option<File>,
    /// The temporary file may exist and is ours to remove (until renamed).
    temp_exists: bool,
    /// Part of the message was written before the commit (see `sync_and_rename`).
    spilled: bool,
    key: MessageKeyBuilder,
    failed: Option<String>,
}

impl Draft {
    /// Message bytes received so far are hashed into the key; the head
    /// (envelope lines and our trace field) is not.
    pub async fn write(&mut self, chunk: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.key.update(chunk);
        self.body.extend_from_slice(chunk);
        if self.body.len() >= SPILL_AT {
            let file = self.file.take();
            let head = std::mem::take(&mut self.head);
            let mut body = std::mem::take(&mut self.body);
            let path = self.temp.clone();
            self.temp_exists = true;
            self.spilled = true;
            let written = tokio::task::spawn_blocking(move || {
                let file = write_out(file, &path, &head, &body)?;
                body.clear();
                Ok::<_, std::io::Error>((file, body))
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
            match written {
                Ok((file, body)) => {
                    self.file = file;
                    self.body = body;
                }
                Err(e) => {
                    let temp = self.temp.display();
                    self.failed = Some(format!("cannot write the message to {temp}: {e}"));
                }
            }
        }
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        if self.temp_exists {
            self.file = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Append `head` and `body` to `file`, creating it at `path` first if needed.
fn write_out(
    file: Option<File>,
    path: &Path,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<Option<File>> {
    let mut file = match file {
        Some(f) => f,
        None => File::options().write(true).create_new(true).open(path)?,
    };
    file.write_all(head)?;
    file.write_all(body)?;
    Ok(Some(file))
}

struct CommitRequest {
    draft: Draft,
    answer: oneshot::Sender<Result<Committed, String>>,
}

/// The spool of one node: where accepted messages are made durable.
#[derive(Clone)]
pub struct Spool {
    dir: Arc<PathBuf>,
    node: u64,
    next_id: Arc<AtomicU64>,
    requests: mpsc::Sender<CommitRequest>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Start the committer for `dir` (created if missing), writing file names
    /// that carry `node`. Every committed file is also sent on the returned
    /// receiver (to offer it to the pipeline at once). Temporary files a
    /// previous run left behind (never answered `250`) are removed.
    pub fn start(dir: &Path, node: u64) -> Result<(Spool, mpsc::Receiver<Committed>), SmtpError> {
        let spool_err = |source| SmtpError::Spool {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(spool_err)?;
        // A folder created just now must survive a crash along with what is written into it.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent, Barrier::Directory).map_err(|e| SmtpError::Spool {
                dir: dir.to_path_buf(),
                source: std::io::Error::other(e),
            })?;
        }
        remove_stale_temps(dir, node);
        let (requests, rx) = mpsc::channel(4 * MAX_GROUP);
        let (committed_tx, committed) = mpsc::channel(4 * MAX_GROUP);
        let dir = Arc::new(dir.to_path_buf());
        tokio::spawn(committer(dir.clone(), rx, committed_tx));
        let first_id = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let spool = Spool {
            dir,
            node,
            next_id: Arc::new(AtomicU64::new(first_id)),
            requests,
        };
        Ok((spool, committed))
    }

    /// A transaction id, unique on this node: it names the draft's files
    /// and goes into our `Received:` field.
    pub fn next_id(&self) -> String {
        format!(
            "{}-{}",
            self.node,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A new draft for transaction `id` with its drop-file head (see
    /// [`crate::head::drop_file_head`]) and the envelope its key covers.
    pub fn draft(&self, id: &str, head: Vec<u8>, sender: &str, recipients: &[String]) -> Draft {
        Draft {
            temp: self.dir.join(format!(".smtp-{id}.tmp")),
            final_path: self.dir.join(format!("smtp-{id}.eml")),
            head,
            body: Vec::new(),
            file: None,
            temp_exists: false,
            spilled: false,
            key: MessageKeyBuilder::new(sender, recipients),
            failed: None,
        }
    }

    /// Make the draft durable; `Err` carries the reason (for the log; the
    /// client gets `451 4.3.0`).
    pub async fn commit(&self, draft: Draft) -> Result<Committed, String> {
        if let Some(reason) = draft.failed.clone() {
            self.discard(draft);
            return Err(reason);
        }
        let (answer, rx) = oneshot::channel();
        self.requests
            .send(CommitRequest { draft, answer })
            .await
            .map_err(|_| "the spool is shutting down".to_string())?;
        rx.await
            .map_err(|_| "the spool committer stopped".to_string())?
    }

    /// Drop a draft that will not be committed (its temporary file, if
    /// any, is removed on a blocking thread).
    pub fn discard(&self, draft: Draft) {
        if draft.temp_exists {
            tokio::task::spawn_blocking(move || drop(draft));
        }
    }
}

async fn committer(
    dir: Arc<PathBuf>,
    mut requests: mpsc::Receiver<CommitRequest>,
    committed: mpsc::Sender<Committed>,
) {
    // One descriptor for the committer's life: `syncfs` reports each
    // writeback error on the filesystem to it once, whoever else syncs.
    let folder = Arc::new(Folder {
        path: dir.to_path_buf(),
        fd: File::open(dir.as_path()),
    });
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let folder = folder.clone();
        let (drafts, answers): (Vec<_>, Vec<_>) =
            group.into_iter().map(|r| (r.draft, r.answer)).unzip();
        let results = tokio::task::spawn_blocking(move || commit_group(&folder, drafts))
            .await
            .unwrap_or_else(|e| vec![Err(format!("the commit task failed: {e}")); answers.len()]);
        for (result, answer) in results.into_iter().zip(answers) {
            if let Ok(c) = &result {
                // When the pipeline is busy or gone, the folder scan finds the file instead.
                if committed.try_send(c.clone()).is_err() {
                    debug!(file = %c.path.display(), "offer queue full or closed; the folder scan will pick the file up");
                }
            }
            let _ = answer.send(result);
        }
    }
}

/// Write, sync, rename and sync a group of drafts (blocking); see the module
/// doc for which barrier covers which draft. An error in the shared barriers
/// fails the whole group (the clients retry); drafts that fail are dropped,
/// which removes their temporary files.
fn commit_group(folder: &Folder, mut drafts: Vec<Draft>) -> Vec<Result<Committed, String>> {
    let mut results: Vec<Result<(), String>> = drafts.iter_mut().map(stage).collect();
    let fail_all = |results: &mut Vec<Result<(), String>>, e: &str| {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(e.to_string());
        }
    };
    if let Err(e) = folder.sync(Barrier::FileSystem) {
        fail_all(&mut results, &e);
    }
    for (draft, result) in drafts.iter_mut().zip(results.iter_mut()) {
        if result.is_ok() {
            *result = sync_and_rename(draft);
        }
    }
    if let Err(e) = folder.sync(Barrier::Directory) {
        // The data is synced but the names may not be: the client must retry
        // (the files stay and are filed; a re-send is a duplicate).
        warn!(error = %e, "renamed spool files may not be durable; answering 451");
        fail_all(&mut results, &e);
    }
    drafts
        .iter()
        .zip(results)
        .map(|(draft, result)| {
            result?;
            let meta = draft
                .file
                .as_ref()
                .ok_or("the spool file was closed early")?
                .metadata()
                .map_err(|e| format!("cannot stat {}: {e}", draft.final_path.display()))?;
            let modified = meta
                .modified()
                .map_err(|e| format!("no mtime for {}: {e}", draft.final_path.display()))?;
            Ok(Committed {
                path: draft.final_path.clone(),
                size: meta.len(),
                modified,
                key: draft.key.clone().finish(),
            })
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Barrier {
    /// `syncfs`: every dirty page of the filesystem, all drafts at once.
    FileSystem,
    /// `fsync` of the folder: the new names.
    Directory,
}

/// The spool folder, opened once.
struct Folder {
    path: PathBuf,
    fd: std::io::Result<File>,
}

impl Folder {
    fn sync(&self, barrier: Barrier) -> Result<(), String> {
        let path = self.path.display();
        let fd = self
            .fd
            .as_ref()
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        match barrier {
            Barrier::FileSystem => rustix::fs::syncfs(fd.as_fd()),
            Barrier::Directory => rustix::fs::fsync(fd.as_fd()),
        }
        .map_err(|e| format!("cannot sync {path}: {e}"))
    }
}

fn sync_dir(dir: &Path, barrier: Barrier) -> Result<(), String> {
    let folder = Folder {
        path: dir.to_path_buf(),
        fd: File::open(dir),
    };
    folder.sync(barrier)
}

/// Write whatever of the draft is still in memory to its temp file.
fn stage(draft: &mut Draft) -> Result<(), String> {
    draft.temp_exists = true;
    let file = draft.file.take();
    match write_out(file, &draft.temp, &draft.head, &draft.body) {
        Ok(file) => {
            draft.file = file;
            Ok(())
        }
        Err(e) => Err(format!("cannot write {}: {e}", draft.temp.display())),
    }
}

/// Give the draft's file its final name without replacing anything there.
/// A spilled draft is `fdatasync`ed first: its early writes may have been
/// written back (and failed) before this group's `syncfs`, which would then
/// not report it; the file's own descriptor does. The rest of the group was
/// written after the committer's last `syncfs`, which reports any error.
fn sync_and_rename(draft: &mut Draft) -> Result<(), String> {
    let file = draft
        .file
        .as_ref()
        .ok_or("the spool file was closed early")?;
    if draft.spilled {
        file.sync_data()
            .map_err(|e| format!("cannot sync {}: {e}", draft.temp.display()))?;
    }
    rename_noreplace(&draft.temp, &draft.final_path).map_err(|e| {
        format!(
            "cannot rename {} to {}: {e}",
            draft.temp.display(),
            draft.final_path.display()
        )
    })?;
    draft.temp_exists = false;
    Ok(())
}

/// Rename without replacing an existing file (a message that already got
/// `250`); where the filesystem has no `RENAME_NOREPLACE` (NFS), link and
/// unlink instead, which also refuses an existing name.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP) => {
            std::fs::hard_link(from, to)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

/// Remove temporary files of this node that a previous run left (their
/// clients never got `250` and will send again).
fn remove_stale_temps(dir: &Path, node: u64) {
    let prefix = format!(".smtp-{node}-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
#[path = "spool_test.rs"]
mod tests;

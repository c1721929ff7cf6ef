//! "250 means durable": messages accepted over SMTP are written into the
//! drop folder (the farm's shared one, or the node's own) as IIS-format
//! drop files (`X-Sender` / `X-Receiver` lines, our `Received:` field, the
//! message) and made durable before the reply.
//!
//! A [`Draft`] collects one message: in memory while small, spilled to a
//! hidden temporary file in the folder once it passes [`SPILL_AT`], so a
//! 50 MB message never sits in memory whole. [`Spool::commit`] hands drafts
//! to one committer task that group-commits whatever is waiting: write the
//! in-memory ones, one `syncfs`, rename every temp file to its final name,
//! one directory fsync, then answer every session. Concurrent sessions share
//! two barriers instead of paying an fsync each.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use postroom_core::{MessageKey, MessageKeyBuilder};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

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

/// One message being received.
pub struct Draft {
    /// Hidden temporary name (skipped by the watcher) and final name.
    temp: PathBuf,
    final_path: PathBuf,
    head: Vec<u8>,
    body: Vec<u8>,
    spill: Option<File>,
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
            if let Err(e) = self.flush_spill().await {
                let temp = self.temp.display();
                self.failed = Some(format!("cannot write the message to {temp}: {e}"));
            }
        }
    }

    /// Write the buffered body (after the head, the first time) to the temp file.
    async fn flush_spill(&mut self) -> std::io::Result<()> {
        let file = self.spill.take();
        let path = self.temp.clone();
        let head = if file.is_none() {
            std::mem::take(&mut self.head)
        } else {
            Vec::new()
        };
        let mut body = std::mem::take(&mut self.body);
        let (file, body) = tokio::task::spawn_blocking(move || {
            let mut file = match file {
                Some(f) => f,
                None => File::options().write(true).create_new(true).open(&path)?,
            };
            file.write_all(&head)?;
            file.write_all(&body)?;
            body.clear();
            Ok::<_, std::io::Error>((file, body))
        })
        .await
        .map_err(std::io::Error::other)??;
        self.body = body;
        self.spill = Some(file);
        Ok(())
    }
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

    /// The folder messages are written into.
    pub fn dir(&self) -> &Path {
        &self.dir
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
            spill: None,
            key: MessageKeyBuilder::new(sender, recipients),
            failed: None,
        }
    }

    /// Make the draft durable; `Err` carries the reason for `451 4.3.0`.
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

    /// Drop a draft that will not be committed (its temporary file, if any).
    pub fn discard(&self, draft: Draft) {
        if let Some(file) = draft.spill {
            tokio::task::spawn_blocking(move || {
                drop(file);
                let _ = std::fs::remove_file(draft.temp);
            });
        }
    }
}

async fn committer(
    dir: Arc<PathBuf>,
    mut requests: mpsc::Receiver<CommitRequest>,
    committed: mpsc::Sender<Committed>,
) {
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let spool_dir = dir.clone();
        let (drafts, answers): (Vec<_>, Vec<_>) =
            group.into_iter().map(|r| (r.draft, r.answer)).unzip();
        let results = tokio::task::spawn_blocking(move || commit_group(&spool_dir, drafts))
            .await
            .unwrap_or_else(|e| vec![Err(format!("the commit task failed: {e}")); answers.len()]);
        for (result, answer) in results.into_iter().zip(answers) {
            if let Ok(c) = &result {
                // The pipeline may be gone (shutdown): the file stays and is filed at the next start.
                let _ = committed.try_send(c.clone());
            }
            let _ = answer.send(result);
        }
    }
}

/// Write, sync, rename and sync a group of drafts (blocking).
fn commit_group(dir: &Path, drafts: Vec<Draft>) -> Vec<Result<Committed, String>> {
    let staged: Vec<Staged> = drafts.into_iter().map(stage).collect();
    let barrier = |what: &str| -> Result<(), String> {
        let d = File::open(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
        let r = if what == "data" {
            rustix::fs::syncfs(d.as_fd())
        } else {
            rustix::fs::fsync(d.as_fd())
        };
        r.map_err(|e| format!("cannot sync {} ({what}): {e}", dir.display()))
    };
    if let Err(e) = barrier("data") {
        return staged
            .into_iter()
            .map(|s| {
                if let Ok((temp, _, _)) = s {
                    let _ = std::fs::remove_file(temp);
                }
                Err(e.clone())
            })
            .collect();
    }
    let renamed: Vec<_> = staged
        .into_iter()
        .map(|s| {
            let (temp, final_path, key) = s?;
            std::fs::rename(&temp, &final_path).map_err(|e| {
                let _ = std::fs::remove_file(&temp);
                format!(
                    "cannot rename {} to {}: {e}",
                    temp.display(),
                    final_path.display()
                )
            })?;
            Ok((final_path, key))
        })
        .collect();
    if let Err(e) = barrier("directory") {
        // The data is synced but the names may not be: the client must retry.
        warn!(error = %e, "renamed spool files may not be durable; answering 451");
        return renamed.into_iter().map(|r| r.and(Err(e.clone()))).collect();
    }
    renamed
        .into_iter()
        .map(|r| {
            let (path, key) = r?;
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
            let modified = meta.modified().map_err(|e| e.to_string())?;
            Ok(Committed {
                path,
                size: meta.len(),
                modified,
                key,
            })
        })
        .collect()
}

type Staged = Result<(PathBuf, PathBuf, MessageKey), String>;

/// Write whatever of the draft is still in memory to its temp file.
fn stage(draft: Draft) -> Staged {
    let Draft {
        temp,
        final_path,
        head,
        body,
        spill,
        key,
        ..
    } = draft;
    let file = match spill {
        Some(f) => Ok(f),
        None => File::options().write(true).create_new(true).open(&temp),
    };
    let written = file.and_then(|mut f| {
        f.write_all(&head)?;
        f.write_all(&body)
    });
    match written {
        Ok(()) => Ok((temp, final_path, key.finish())),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(format!("cannot write {}: {e}", temp.display()))
        }
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

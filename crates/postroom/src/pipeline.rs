//! The drop-folder pipeline of one node: ready files are read and keyed,
//! claimed in one Raft proposal per batch, filed (or quarantined), finished in
//! one proposal with their fencing tokens, and only then removed from the
//! drop folder. Batches form naturally under load; two run at once so reading
//! and parsing overlap the other batch's disk and Raft waits. Files meant for
//! another member wait for it first (`handoff.rs`); leases are renewed while
//! a batch is filed (`lease.rs`).

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postroom_cluster::Farm;
use postroom_core::config::ClusterSettings;
use postroom_core::units::millis;
use postroom_core::{
    ClaimResult, Command, FencingToken, FinishResult, Finished, MessageKey, NodeId, Outcome,
    Response,
};
use postroom_dropfolder::{Disposition, DropFolder, ReadyFile};
use postroom_library::Quarantine;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info_span, warn};

use crate::authentication::Authenticator;
use crate::counters::Counters;
use crate::filing::{self, FilingContext, Step};
use crate::handoff::Handoff;
use crate::intake::{self, Intake, Received};
use crate::lease::{local_deadline, LeaseKeeper};
use crate::libraries::Libraries;
use crate::paused::{Paused, PAUSED_RETRY};
use crate::sender_waits::{SenderWaits, Wait};

/// Largest number of files claimed and filed together.
const MAX_BATCH: usize = 512;
/// Batches in flight at once.
const CONCURRENT_BATCHES: usize = 2;
/// Filing attempts before a message is quarantined with its last error.
const MAX_FILING_ATTEMPTS: u32 = 5;
/// How long after a lease held elsewhere lapses to look at its file again.
const HELD_MARGIN: Duration = Duration::from_millis(250);
/// How soon to look again at a file whose processing failed.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Keys being worked on by a batch; released when the batch ends, even by a panic.
struct InFlight<'a> {
    pipeline: &'a Pipeline,
    keys: Vec<MessageKey>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut set = self.pipeline.lock_in_flight();
        for k in &self.keys {
            set.remove(k);
        }
    }
}

/// One node's intake pipeline for its drop folder.
pub struct Pipeline {
    pub node: NodeId,
    pub lease_ttl: Duration,
    pub data_dir: PathBuf,
    pub farm: Arc<Farm>,
    pub drop: DropFolder,
    pub quarantine: Arc<Quarantine>,
    pub libraries: Libraries,
    pub counters: Arc<Counters>,
    auth: Arc<Authenticator>,
    sender_waits: SenderWaits,
    handoff: Handoff,
    in_flight: Mutex<HashSet<MessageKey>>,
    /// Failed filing attempts per message, with the last error.
    attempts: Mutex<HashMap<MessageKey, (u32, String)>>,
    paused: Paused,
}

impl Pipeline {
    pub fn new(
        cluster: &ClusterSettings,
        data_dir: PathBuf,
        farm: Arc<Farm>,
        drop: DropFolder,
        quarantine: Arc<Quarantine>,
        counters: Arc<Counters>,
        (auth, give_up_after): (Arc<Authenticator>, Duration),
    ) -> Self {
        let node = cluster.node_id;
        Pipeline {
            node,
            lease_ttl: cluster.lease_ttl.0,
            data_dir,
            handoff: Handoff::new(node, cluster.handoff_after.0, {
                let farm = farm.clone();
                Box::new(move || farm.status().members.into_keys().collect())
            }),
            farm,
            drop,
            quarantine,
            libraries: Libraries::default(),
            counters,
            auth,
            sender_waits: SenderWaits::new(give_up_after),
            in_flight: Mutex::new(HashSet::new()),
            attempts: Mutex::new(HashMap::new()),
            paused: Paused::default(),
        }
    }

    /// Take ready files until `shutdown`, then let the batches in flight finish.
    pub async fn run(
        self: Arc<Self>,
        mut ready: mpsc::Receiver<ReadyFile>,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
        let mut batches = JoinSet::new();
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                file = ready.recv() => match file { Some(f) => f, None => break },
            };
            let mut files = Vec::new();
            self.take_or_leave(first, &mut files);
            while files.len() < MAX_BATCH {
                match ready.try_recv() {
                    Ok(f) => self.take_or_leave(f, &mut files),
                    Err(_) => break,
                }
            }
            if files.is_empty() {
                continue;
            }
            let this = self.clone();
            batches.spawn(async move {
                this.process(files).await;
                drop(slot);
            });
            while let Some(done) = batches.try_join_next() {
                log_batch_end(done);
            }
        }
        while let Some(done) = batches.join_next().await {
            log_batch_end(done);
        }
    }

    /// Add `file` to the batch, or leave it to the member it is meant for.
    fn take_or_leave(&self, file: ReadyFile, batch: &mut Vec<ReadyFile>) {
        match self.handoff.defer(&file.path, std::time::Instant::now()) {
            None => batch.push(file),
            Some(retry_after) => self
                .drop
                .done(&file.path, Disposition::RetryLater { retry_after }),
        }
    }

    /// True (and the files left for later) while incoming e-mail is off.
    fn leave_while_paused(&self, files: &[ReadyFile]) -> bool {
        let enabled = self
            .farm
            .read(|s| s.config().is_none_or(|c| c.farm.incoming_enabled));
        if !self.paused.check(enabled) {
            return false;
        }
        for f in files {
            let retry_after = PAUSED_RETRY;
            self.drop
                .done(&f.path, Disposition::RetryLater { retry_after });
        }
        true
    }

    async fn process(self: &Arc<Self>, files: Vec<ReadyFile>) {
        if self.leave_while_paused(&files) {
            return;
        }
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        let this = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|f| this.intake(&f.path))
                .collect::<Vec<_>>()
        });
        let received = match read.await {
            Ok(received) => received,
            Err(e) => {
                error!(error = %e, files = paths.len(), "intake task failed; the files stay in the drop folder");
                paths.iter().for_each(|p| self.retry(p));
                return;
            }
        };
        let mut batch = Vec::new();
        let mut in_flight = InFlight {
            pipeline: self,
            keys: Vec::new(),
        };
        for m in received.into_iter().flatten() {
            if self.lock_in_flight().insert(m.key) {
                in_flight.keys.push(m.key);
                batch.push(m);
            } else {
                // The same message in two files at once: look again when the first is done.
                let retry_after = Duration::from_millis(200);
                self.drop
                    .done(&m.path, Disposition::RetryLater { retry_after });
            }
        }
        if !batch.is_empty() {
            self.claim_file_finish(batch).await;
        }
        drop(in_flight);
    }

    fn lock_attempts(&self) -> std::sync::MutexGuard<'_, HashMap<MessageKey, (u32, String)>> {
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Messages that failed to file [`MAX_FILING_ATTEMPTS`] times, with their last error.
    fn failed_too_often(&self, sources: &[(PathBuf, MessageKey)]) -> HashMap<MessageKey, String> {
        let attempts = self.lock_attempts();
        sources
            .iter()
            .filter_map(|(_, key)| match attempts.get(key) {
                Some((n, last)) if *n >= MAX_FILING_ATTEMPTS => Some((*key, last.clone())),
                _ => None,
            })
            .collect()
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<MessageKey>> {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read one file; quarantine it here if it can never become a message.
    fn intake(&self, path: &Path) -> Option<Received> {
        match intake::read(path) {
            Intake::Ready(m) => Some(m),
            Intake::Vanished => {
                self.drop.done(path, Disposition::Removed);
                None
            }
            Intake::Quarantine { code, reason } => {
                match self.quarantine.put_file(path, code, &reason) {
                    Ok(entry) => {
                        warn!(source = %path.display(), code, reason = %reason, file = %entry.file, "quarantined");
                        Counters::add(&self.counters.quarantined, 1);
                        self.drop.done(path, Disposition::Removed);
                    }
                    Err(e) => {
                        // Not retried in a loop: a file that cannot be moved gets one reason
                        // file, and is offered again only if it changes.
                        error!(source = %path.display(), code, reason = %reason, error = %e, "cannot move drop file to quarantine; leaving it in place");
                        self.drop.done(path, Disposition::Kept);
                    }
                }
                None
            }
            Intake::Retry { reason } => {
                warn!(source = %path.display(), reason = %reason, "cannot read drop file now; will retry");
                self.retry(path);
                None
            }
        }
    }

    fn retry(&self, path: &Path) {
        Counters::add(&self.counters.retries, 1);
        self.drop.done(
            path,
            Disposition::RetryLater {
                retry_after: RETRY_AFTER,
            },
        );
    }

    async fn claim_file_finish(self: &Arc<Self>, batch: Vec<Received>) {
        let ttl_ms = millis(self.lease_ttl);
        let keys = batch.iter().map(|m| m.key).collect();
        let claim = Command::Claim {
            keys,
            node: self.node,
            ttl_ms,
        };
        let sent = tokio::time::Instant::now();
        let claims = match self.farm.propose(claim).await {
            Ok(Response::Claims(claims)) if claims.len() == batch.len() => claims,
            other => {
                error!(result = ?other, "claim failed; files stay in the drop folder");
                batch.iter().for_each(|m| self.retry(&m.path));
                return;
            }
        };
        let mut granted = Vec::new();
        let mut tokens = Vec::new();
        let mut finished_before = Vec::new();
        let farm_now = self.farm.read(|s| s.now());
        for (m, claim) in batch.into_iter().zip(claims) {
            match claim {
                ClaimResult::Granted { token, .. } => {
                    tokens.push(token);
                    granted.push(m);
                }
                ClaimResult::Held { by, until } => {
                    debug!(message_key = %m.key, by, "claimed by another node");
                    Counters::add(&self.counters.held_elsewhere, 1);
                    // Look again when the lease lapses (the holder usually finishes first).
                    let left = Duration::from_millis(until.0.saturating_sub(farm_now.0));
                    let retry_after = (left + HELD_MARGIN).min(self.lease_ttl);
                    self.drop
                        .done(&m.path, Disposition::RetryLater { retry_after });
                }
                ClaimResult::Finished { outcome } => {
                    let _span =
                        info_span!("message", message_key = %m.key, node = self.node).entered();
                    warn!(?outcome, source = %m.path.display(), "duplicate: this message was already finished; not filing it again");
                    Counters::add(&self.counters.duplicates, 1);
                    finished_before.push(m.path);
                }
            }
        }
        if !finished_before.is_empty() {
            self.remove_sources(finished_before).await;
        }
        if granted.is_empty() {
            return;
        }

        self.file_and_finish(granted, tokens, sent).await;
    }

    /// File the granted messages while their leases are kept, finish them
    /// with their tokens, then remove their sources.
    async fn file_and_finish(
        self: &Arc<Self>,
        granted: Vec<Received>,
        tokens: Vec<FencingToken>,
        sent: tokio::time::Instant,
    ) {
        let sources: Vec<(PathBuf, MessageKey)> =
            granted.iter().map(|m| (m.path.clone(), m.key)).collect();
        if tokio::time::Instant::now() >= local_deadline(sent, self.lease_ttl) {
            warn!(
                messages = sources.len(),
                "claims took longer than the lease; not filing with lapsed leases"
            );
            sources.iter().for_each(|(p, _)| self.retry(p));
            return;
        }
        let leases = sources
            .iter()
            .map(|(_, k)| *k)
            .zip(tokens.iter().copied())
            .collect();
        let keeper = LeaseKeeper::start(self.farm.clone(), self.node, leases, self.lease_ttl, sent);
        let Some(config) = self.farm.read(|s| s.config().cloned()) else {
            error!("the farm has no configuration yet; files stay in the drop folder");
            sources.iter().for_each(|(p, _)| self.retry(p));
            return;
        };
        let give_up = self.failed_too_often(&sources);
        let this = self.clone();
        let received_at = now_rfc3339();
        let filed = tokio::task::spawn_blocking(move || {
            let ctx = FilingContext {
                config: &config,
                data_dir: &this.data_dir,
                libraries: &this.libraries,
                quarantine: &this.quarantine,
                node: this.node,
                received_at,
                give_up: &give_up,
                auth: &this.auth,
            };
            filing::file_batch(&ctx, &granted)
        })
        .await;
        let steps = match filed {
            Ok(steps) if steps.len() == sources.len() => steps,
            other => {
                error!(result = ?other.map(|s| s.len()), "filing task failed; files stay in the drop folder");
                sources.iter().for_each(|(p, _)| self.retry(p));
                return;
            }
        };

        let mut items = Vec::new();
        let mut done = Vec::new();
        for (((path, key), step), token) in sources.into_iter().zip(steps).zip(tokens) {
            match step {
                Step::Done(outcome, about, notice) => {
                    self.lock_attempts().remove(&key);
                    self.sender_waits.forget(&key);
                    let delivered = matches!(outcome, Outcome::Delivered { .. });
                    done.push((path, delivered, notice));
                    items.push(Finished {
                        key,
                        token,
                        outcome,
                        about: Some(about),
                    });
                }
                Step::Wait(why) => {
                    warn!(message_key = %key, source = %path.display(), reason = %why, "who sent it cannot be told now; will try again");
                    let retry_after = match self.sender_waits.wait(key, &why, Instant::now()) {
                        Wait::Again(after) => after,
                        Wait::GiveUp(reason) => {
                            // The next try quarantines it with the reason.
                            self.lock_attempts()
                                .insert(key, (MAX_FILING_ATTEMPTS, reason));
                            Duration::ZERO
                        }
                    };
                    Counters::add(&self.counters.retries, 1);
                    self.drop
                        .done(&path, Disposition::RetryLater { retry_after });
                }
                Step::Retry(why) => {
                    warn!(message_key = %key, source = %path.display(), reason = %why, "not filed yet; will retry");
                    let mut attempts = self.lock_attempts();
                    let entry = attempts.entry(key).or_insert((0, String::new()));
                    *entry = (entry.0 + 1, why);
                    let retry_after = RETRY_AFTER * entry.0;
                    drop(attempts);
                    Counters::add(&self.counters.retries, 1);
                    self.drop
                        .done(&path, Disposition::RetryLater { retry_after });
                }
            }
        }
        if items.is_empty() {
            return;
        }
        // Finishing is fenced by the token, not by time: stop renewing.
        drop(keeper);
        let count = items.len();
        let results = match self.farm.propose(Command::Finish { items }).await {
            Ok(Response::Finishes(results)) if results.len() == count => results,
            other => {
                error!(result = ?other, "finish failed; files stay in the drop folder");
                done.iter().for_each(|(p, _, _)| self.retry(p));
                return;
            }
        };
        let config_now = self.farm.read(|s| s.config().cloned()).unwrap_or_default();
        let mut remove = Vec::new();
        for ((path, delivered, notice), result) in done.into_iter().zip(results) {
            match result {
                FinishResult::Recorded => {
                    if let Some(n) = notice {
                        crate::notices::send(&config_now, n);
                    }
                    let counter = if delivered {
                        &self.counters.filed
                    } else {
                        &self.counters.quarantined
                    };
                    Counters::add(counter, 1);
                    remove.push(path);
                }
                FinishResult::AlreadyFinished => {
                    warn!(source = %path.display(), "another node finished this message first (this node's lease had lapsed); it is filed once");
                    Counters::add(&self.counters.duplicates, 1);
                    remove.push(path);
                }
                FinishResult::Stale { current } => {
                    warn!(source = %path.display(), ?current, "lease lost to a newer claim before finishing; the new holder finishes it");
                    self.drop.done(
                        &path,
                        Disposition::RetryLater {
                            retry_after: self.lease_ttl,
                        },
                    );
                }
            }
        }
        self.remove_sources(remove).await;
    }

    /// Remove finished sources. A source that cannot be removed is left alone,
    /// logged once and counted; the ledger keeps it from being filed again.
    async fn remove_sources(self: &Arc<Self>, paths: Vec<PathBuf>) {
        let this = self.clone();
        let removed = tokio::task::spawn_blocking(move || {
            for path in paths {
                match std::fs::remove_file(&path) {
                    Ok(()) => this.drop.done(&path, Disposition::Removed),
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        this.drop.done(&path, Disposition::Removed)
                    }
                    Err(e) => {
                        warn!(source = %path.display(), error = %e, "finished message cannot be removed from the drop folder; it will not be filed again");
                        Counters::add(&this.counters.undeletable_sources, 1);
                        this.drop.done(&path, Disposition::Kept);
                    }
                }
            }
        });
        if removed.await.is_err() {
            error!("source removal task failed");
        }
    }
}

fn log_batch_end(result: Result<(), tokio::task::JoinError>) {
    if let Err(e) = result {
        error!(error = %e, "a batch failed; its files are offered again after a restart");
    }
}

/// The current UTC time as RFC 3339, for item metadata.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

//! The running watcher: the [`DropFolder`] handle (start, `done`, `status`)
//! and the tokio task that schedules scans (poll period, notify wake-ups,
//! stability and retry deadlines), runs them on blocking threads, feeds the
//! results to the tracker and sends the offers on the bounded channel.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::events::FolderWatch;
use crate::scan::{scan_folder, Listing};
use crate::tracker::Tracker;
use crate::{
    Disposition, DropFolderError, FolderStatus, ReadyFile, WatchSettings, READY_CHANNEL_CAPACITY,
};

/// Minimum time between the starts of two scans that were not due to the
/// poll period (notify events, deadlines), so bursts of events coalesce.
const MIN_SCAN_GAP: Duration = Duration::from_millis(20);

/// Handle to a running watcher (cheap to clone).
#[derive(Clone)]
pub struct DropFolder {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DropFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropFolder")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// State shared by the handle and the task.
struct Shared {
    path: PathBuf,
    state: Mutex<State>,
    /// Woken by `done` when a retry deadline may be earlier than planned.
    replan: Notify,
    /// The ready channel, for files offered directly ([`DropFolder::offer`]);
    /// weak, so the channel still closes when the scan loop ends.
    tx: mpsc::WeakSender<ReadyFile>,
}

struct State {
    tracker: Tracker,
    last_error: Option<String>,
    scans: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something ever did, the
        // state is still consistent enough to keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DropFolder {
    /// Create the folder if missing (create_dir_all), start the notify watcher (if notify fails, e.g. on a
    /// network share, log a warning and rely on polling) and the poll task. Ready files arrive on the receiver,
    /// oldest mtime first within a scan; the channel is bounded ([`READY_CHANNEL_CAPACITY`]) and the watcher
    /// awaits capacity. The tasks stop when `shutdown` is cancelled or the receiver is dropped.
    ///
    /// Must be called inside a tokio runtime.
    pub fn start(
        settings: WatchSettings,
        shutdown: CancellationToken,
    ) -> Result<(DropFolder, mpsc::Receiver<ReadyFile>), DropFolderError> {
        if settings.poll_interval.is_zero() {
            return Err(DropFolderError::InvalidSettings {
                path: settings.path,
                reason: "poll_interval must not be zero".into(),
            });
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| DropFolderError::NoRuntime {
                path: settings.path.clone(),
            })?;
        std::fs::create_dir_all(&settings.path).map_err(|source| {
            DropFolderError::CreateFolder {
                path: settings.path.clone(),
                source,
            }
        })?;
        let events = Arc::new(Notify::new());
        let watch = FolderWatch::start(&settings.path, events.clone());
        let (tx, rx) = mpsc::channel(READY_CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            path: settings.path.clone(),
            state: Mutex::new(State {
                tracker: Tracker::new(settings.stable_after),
                last_error: None,
                scans: 0,
            }),
            replan: Notify::new(),
            tx: tx.downgrade(),
        });
        let task = ScanLoop {
            shared: shared.clone(),
            settings,
            tx,
            shutdown,
            events,
            watch,
            logged_error: None,
        };
        runtime.spawn(task.run());
        Ok((DropFolder { shared }, rx))
    }

    /// Report what happened to an offered file (see [`Disposition`]); `path`
    /// is the [`ReadyFile::path`] as offered. Thread-safe, non-blocking.
    /// Reports for files that are not outstanding are ignored.
    pub fn done(&self, path: &Path, disposition: Disposition) {
        let accepted = self
            .shared
            .lock()
            .tracker
            .done(path, disposition, Instant::now());
        if !accepted {
            debug!(file = %path.display(), ?disposition, "done for a drop file that is not outstanding; ignored");
        } else if matches!(disposition, Disposition::RetryLater { .. }) {
            self.shared.replan.notify_one();
        }
    }

    /// Offer a file this process wrote complete into the folder (the SMTP
    /// listener, after fsync and rename) right away, without waiting for
    /// it to be stable or for the next scan. Waits for channel capacity.
    /// Returns `false` if it was already offered, or the pipeline is gone
    /// (then a later start picks the file up from the folder).
    pub async fn offer(&self, file: ReadyFile) -> bool {
        if !self.shared.lock().tracker.adopt(&file) {
            return false;
        }
        let path = file.path.clone();
        let sent = match self.shared.tx.upgrade() {
            Some(tx) => tx.send(file).await.is_ok(),
            None => false,
        };
        if !sent {
            // Nobody will report on it; let scans see it again.
            self.shared.lock().tracker.done(
                &path,
                Disposition::RetryLater {
                    retry_after: Duration::ZERO,
                },
                Instant::now(),
            );
            return false;
        }
        true
    }

    /// A snapshot of the backlog, kept files, latest scan error and scan count.
    pub fn status(&self) -> FolderStatus {
        let state = self.shared.lock();
        let (backlog, kept) = state.tracker.counts();
        FolderStatus {
            backlog,
            kept,
            last_error: state.last_error.clone(),
            scans: state.scans,
        }
    }
}

/// The watcher task.
struct ScanLoop {
    shared: Arc<Shared>,
    settings: WatchSettings,
    tx: mpsc::Sender<ReadyFile>,
    shutdown: CancellationToken,
    /// Woken by relevant notify events.
    events: Arc<Notify>,
    watch: FolderWatch,
    /// The scan error last logged, so a persisting error is logged once.
    logged_error: Option<String>,
}

/// Why the loop ends.
struct Stop;

impl ScanLoop {
    async fn run(mut self) {
        debug!(folder = %self.settings.path.display(), "drop folder watcher started");
        let mut last_start: Option<Instant> = None;
        let mut last_cost = Duration::ZERO;
        let mut event_pending = false;
        loop {
            let deadline = match last_start {
                None => Instant::now(),
                Some(last) => self.next_deadline(last, last_cost, event_pending),
            };
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                () = self.tx.closed() => break,
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = self.events.notified() => {
                    event_pending = true;
                    continue;
                }
                () = self.shared.replan.notified() => continue,
            }
            event_pending = false;
            let started = Instant::now();
            last_start = Some(started);
            let Ok(offers) = self.scan(started).await else {
                break;
            };
            last_cost = started.elapsed();
            if self.send(offers).await.is_err() {
                break;
            }
        }
        debug!(folder = %self.settings.path.display(), "drop folder watcher stopped");
    }

    /// When to start the next scan, given when the last one started and how
    /// long it took.
    fn next_deadline(&self, last: Instant, last_cost: Duration, event_pending: bool) -> Instant {
        let mut due = later(last, self.settings.poll_interval);
        if event_pending {
            due = due.min(Instant::now());
        }
        if let Some(wake) = self.shared.lock().tracker.next_wake() {
            due = due.min(wake);
        }
        // Early scans keep a gap (at least twice the last scan's cost, so a
        // huge folder is not rescanned back to back).
        let gap = MIN_SCAN_GAP.max(last_cost.saturating_mul(2));
        due.max(later(last, gap.min(self.settings.poll_interval)))
    }

    /// Scan once and apply the result; `Err` if shutdown came first.
    async fn scan(&mut self, started: Instant) -> Result<Vec<ReadyFile>, Stop> {
        let ticket = self.shared.lock().tracker.begin_scan();
        let wall = SystemTime::now();
        let dir = self.settings.path.clone();
        let job = tokio::task::spawn_blocking(move || scan_folder(&dir));
        let joined = tokio::select! {
            () = self.shutdown.cancelled() => return Err(Stop),
            joined = job => joined,
        };
        let result = joined.unwrap_or_else(|e| {
            Err(DropFolderError::ScanAborted {
                path: self.settings.path.clone(),
                reason: e.to_string(),
            })
        });
        match result {
            Ok(Listing {
                files,
                unreadable,
                folder_id,
            }) => {
                let offers = {
                    let mut state = self.shared.lock();
                    state.scans += 1;
                    state.last_error = None;
                    state.tracker.apply_scan(
                        ticket,
                        files,
                        &unreadable,
                        started,
                        wall,
                        READY_CHANNEL_CAPACITY,
                    )
                };
                if self.logged_error.take().is_some() {
                    info!(folder = %self.settings.path.display(), "drop folder readable again");
                }
                self.watch.scan_succeeded(folder_id);
                Ok(offers)
            }
            Err(e) => {
                let message = e.to_string();
                {
                    let mut state = self.shared.lock();
                    state.scans += 1;
                    state.last_error = Some(message.clone());
                }
                if self.logged_error.as_deref() != Some(message.as_str()) {
                    warn!(folder = %self.settings.path.display(), error = %message,
                        "cannot scan the drop folder; will keep polling");
                    self.logged_error = Some(message);
                }
                self.watch.scan_failed();
                Ok(Vec::new())
            }
        }
    }

    /// Send the offers, waiting for channel capacity; `Err` on shutdown or
    /// when the receiver is gone.
    async fn send(&self, offers: Vec<ReadyFile>) -> Result<(), Stop> {
        for file in offers {
            tokio::select! {
                () = self.shutdown.cancelled() => return Err(Stop),
                sent = self.tx.send(file) => sent.map_err(|_| Stop)?,
            }
        }
        Ok(())
    }
}

/// `t + d`, saturating at a far-future instant instead of overflowing.
fn later(t: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
    t.checked_add(d.min(FAR))
        .or_else(|| t.checked_add(Duration::from_secs(3600)))
        .unwrap_or(t)
}

//! The clock-free readiness and offer state machine: given what a scan saw
//! (and the time, passed in), it decides which files are stable, which to
//! offer (oldest mtime first), and when a rescan could make more ready. It
//! also applies the pipeline's [`Disposition`]s. No IO and no clock reads;
//! memory is one entry per file present (plus offered files not yet done).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::names::is_candidate_path;
use crate::{Disposition, ReadyFile};

/// One regular file as seen by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// Identifies the scan an observation came from; scans are numbered in the
/// order they started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanTicket(u64);

/// What makes a file "the same file": its size and mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Signature {
    size: u64,
    modified: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Seen with this signature since `since`; not yet stable.
    Settling { since: Instant },
    /// Stable, waiting for its turn to be offered.
    Ready,
    /// Offered; waiting for `done`.
    Outstanding,
    /// Done but left in place; not offered while the signature is the same.
    Kept,
    /// Offer again (if unchanged) at the first scan at or after the instant.
    RetryAt(Instant),
    /// Reported removed while scans up to `epoch` had started: such a scan
    /// may still list it, so ignore it until a later scan is applied.
    Removed { epoch: u64 },
}

#[derive(Debug, Clone)]
struct Entry {
    sig: Signature,
    phase: Phase,
    /// Ticket of the last scan that listed this path.
    seen: u64,
    /// Listed by the latest applied scan.
    present: bool,
}

/// The state of every known file in one folder.
#[derive(Debug)]
pub(crate) struct Tracker {
    stable_after: Duration,
    entries: HashMap<PathBuf, Entry>,
    scans_started: u64,
    next_wake: Option<Instant>,
}

impl Tracker {
    pub(crate) fn new(stable_after: Duration) -> Self {
        Tracker {
            stable_after,
            entries: HashMap::new(),
            scans_started: 0,
            next_wake: None,
        }
    }

    /// Number a scan that is about to read the folder.
    pub(crate) fn begin_scan(&mut self) -> ScanTicket {
        self.scans_started += 1;
        ScanTicket(self.scans_started)
    }

    /// Apply a complete listing: `observed` are the candidate files with
    /// their metadata, `unreadable` files that are present but could not be
    /// stat-ed this time (their state is kept as is). `now`/`wall` are the
    /// monotonic and wall-clock times the scan started. Files not listed are
    /// forgotten (unless offered and not yet done). Returns at most
    /// `max_offers` files to offer, oldest mtime first; they become
    /// outstanding.
    pub(crate) fn apply_scan(
        &mut self,
        ticket: ScanTicket,
        observed: impl IntoIterator<Item = Observed>,
        unreadable: &[PathBuf],
        now: Instant,
        wall: SystemTime,
        max_offers: usize,
    ) -> Vec<ReadyFile> {
        let ScanTicket(ticket) = ticket;
        for obs in observed {
            if !is_candidate_path(&obs.path) {
                continue;
            }
            let sig = Signature {
                size: obs.size,
                modified: obs.modified,
            };
            match self.entries.get_mut(&obs.path) {
                None => {
                    let entry = first_sight(sig, ticket, now, wall, self.stable_after);
                    self.entries.insert(obs.path, entry);
                }
                Some(entry) => {
                    if let Phase::Removed { epoch } = entry.phase {
                        if ticket <= epoch {
                            // A listing from before the removal; ignore.
                            continue;
                        }
                        // Listed by a scan that started after the removal: a new file.
                        *entry = first_sight(sig, ticket, now, wall, self.stable_after);
                        continue;
                    }
                    entry.seen = ticket;
                    entry.present = true;
                    update(entry, sig, now, self.stable_after);
                }
            }
        }
        for path in unreadable {
            if let Some(entry) = self.entries.get_mut(path) {
                if !matches!(entry.phase, Phase::Removed { .. }) {
                    entry.seen = ticket;
                    entry.present = true;
                }
            }
        }
        // Scans run one at a time, so every later scan starts after any
        // removal reported so far: tombstones have done their job.
        self.entries.retain(|_, e| match e.phase {
            Phase::Removed { .. } => false,
            Phase::Outstanding => {
                e.present = e.seen == ticket;
                true
            }
            _ => e.seen == ticket,
        });
        let offers = self.take_offers(max_offers);
        self.next_wake = self.compute_next_wake(now);
        offers
    }

    /// Apply the pipeline's verdict on an offered file at `now`. Returns
    /// `false` (and changes nothing) if the path is not outstanding.
    pub(crate) fn done(&mut self, path: &Path, disposition: Disposition, now: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(path) else {
            return false;
        };
        if entry.phase != Phase::Outstanding {
            return false;
        }
        match disposition {
            Disposition::Removed => {
                entry.phase = Phase::Removed {
                    epoch: self.scans_started,
                };
                entry.present = false;
            }
            Disposition::Kept => entry.phase = Phase::Kept,
            Disposition::RetryLater { retry_after } => match now.checked_add(retry_after) {
                Some(at) => {
                    entry.phase = Phase::RetryAt(at);
                    self.next_wake = Some(self.next_wake.map_or(at, |w| w.min(at)));
                }
                // A delay beyond the end of time: never again while unchanged.
                None => entry.phase = Phase::Kept,
            },
        }
        true
    }

    /// Take over a file written complete by this process (the SMTP
    /// listener): it becomes outstanding at once, without waiting to be
    /// stable. Returns `false` (and changes nothing) if the path is already
    /// outstanding or kept.
    pub(crate) fn adopt(&mut self, file: &ReadyFile) -> bool {
        if let Some(entry) = self.entries.get(&file.path) {
            if matches!(entry.phase, Phase::Outstanding | Phase::Kept) {
                return false;
            }
        }
        let entry = Entry {
            sig: Signature {
                size: file.size,
                modified: file.modified,
            },
            phase: Phase::Outstanding,
            seen: self.scans_started,
            present: true,
        };
        self.entries.insert(file.path.clone(), entry);
        true
    }

    /// The earliest instant a rescan could offer something that the last
    /// one could not (stability reached, retry due, or offers left over).
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.next_wake
    }

    /// `(backlog, kept)`: present files not kept, and present kept files.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let mut backlog = 0;
        let mut kept = 0;
        for e in self.entries.values().filter(|e| e.present) {
            match e.phase {
                Phase::Kept => kept += 1,
                Phase::Removed { .. } => {}
                _ => backlog += 1,
            }
        }
        (backlog, kept)
    }

    fn take_offers(&mut self, max_offers: usize) -> Vec<ReadyFile> {
        let mut ready: Vec<(SystemTime, PathBuf)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.phase == Phase::Ready)
            .map(|(p, e)| (e.sig.modified, p.clone()))
            .collect();
        ready.sort_unstable();
        ready.truncate(max_offers);
        let mut offers = Vec::with_capacity(ready.len());
        for (_, path) in ready {
            if let Some(entry) = self.entries.get_mut(&path) {
                entry.phase = Phase::Outstanding;
                offers.push(ReadyFile {
                    path,
                    size: entry.sig.size,
                    modified: entry.sig.modified,
                });
            }
        }
        offers
    }

    fn compute_next_wake(&self, now: Instant) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| match e.phase {
                Phase::Settling { since } => since.checked_add(self.stable_after),
                Phase::RetryAt(at) => Some(at),
                Phase::Ready => Some(now),
                Phase::Outstanding | Phase::Kept | Phase::Removed { .. } => None,
            })
            .min()
    }
}

/// A file not known before: ready at once if its mtime is already at
/// least `stable_after` old by the wall clock, otherwise start its timer.
fn first_sight(
    sig: Signature,
    ticket: u64,
    now: Instant,
    wall: SystemTime,
    stable_after: Duration,
) -> Entry {
    let old = wall
        .duration_since(sig.modified)
        .is_ok_and(|age| age >= stable_after);
    let phase = if old {
        Phase::Ready
    } else {
        Phase::Settling { since: now }
    };
    Entry {
        sig,
        phase,
        seen: ticket,
        present: true,
    }
}

/// Move a known (not removed) entry on after it was listed with `sig` at `now`.
fn update(entry: &mut Entry, sig: Signature, now: Instant, stable_after: Duration) {
    if entry.phase == Phase::Outstanding {
        // Keep the offered signature; a change shows up after `done`.
        return;
    }
    if entry.sig != sig {
        entry.sig = sig;
        entry.phase = Phase::Settling { since: now };
        return;
    }
    match entry.phase {
        Phase::Settling { since } if now.saturating_duration_since(since) >= stable_after => {
            entry.phase = Phase::Ready;
        }
        Phase::RetryAt(at) if now >= at => entry.phase = Phase::Ready,
        _ => {}
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;

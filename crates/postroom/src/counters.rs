//! Counters of what this node did with incoming mail, shared by the pipeline
//! and reported in logs (and, later, as metrics).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// Monotonic event counts since the node started.
#[derive(Debug, Default)]
pub struct Counters {
    pub filed: AtomicU64,
    pub quarantined: AtomicU64,
    pub duplicates: AtomicU64,
    pub undeletable_sources: AtomicU64,
    pub held_elsewhere: AtomicU64,
    pub retries: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CountersSnapshot {
    pub filed: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub undeletable_sources: u64,
    pub held_elsewhere: u64,
    pub retries: u64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            filed: self.filed.load(Relaxed),
            quarantined: self.quarantined.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            undeletable_sources: self.undeletable_sources.load(Relaxed),
            held_elsewhere: self.held_elsewhere.load(Relaxed),
            retries: self.retries.load(Relaxed),
        }
    }
}

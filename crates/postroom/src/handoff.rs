//! Sharing one drop folder between the farm's members without all of them
//! reading every file: each file is meant for one member
//! ([`postroom_core::cluster::preferred_node`]); a node takes its own files
//! at once and leaves the others' to them for `cluster.handoff_after`, after
//! which it takes them too (their member is down, cut off or behind). A node
//! that is not a member (it left the farm) takes none. The claim protocol
//! keeps this safe either way; the hand-off only saves work.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postroom_core::cluster::preferred_node;
use postroom_core::NodeId;

/// How often the member list is read from the Raft metrics.
const MEMBERS_REFRESH: Duration = Duration::from_secs(1);

/// Where the current member ids come from (the Raft membership).
pub type Members = Box<dyn Fn() -> BTreeSet<NodeId> + Send + Sync>;

/// Deferred files and the member list of one node.
pub struct Handoff {
    node: NodeId,
    after: Duration,
    members: Members,
    state: Mutex<State>,
}

struct State {
    members: BTreeSet<NodeId>,
    members_read: Option<Instant>,
    /// When this node first left each file to another member.
    first_left: HashMap<PathBuf, Instant>,
    last_prune: Option<Instant>,
}

impl Handoff {
    pub fn new(node: NodeId, after: Duration, members: Members) -> Self {
        Handoff {
            node,
            after,
            members,
            state: Mutex::new(State {
                members: BTreeSet::new(),
                members_read: None,
                first_left: HashMap::new(),
                last_prune: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `None`: take the file now. `Some(wait)`: it is another member's; look
    /// again after `wait`.
    pub fn defer(&self, path: &Path, now: Instant) -> Option<Duration> {
        let mut st = self.lock();
        if st
            .members_read
            .is_none_or(|at| now.duration_since(at) >= MEMBERS_REFRESH)
        {
            st.members = (self.members)();
            st.members_read = Some(now);
        }
        if !st.members.is_empty() && !st.members.contains(&self.node) {
            // Removed from the farm (or not yet added): leave every file to the members.
            return Some(self.after);
        }
        let name = path.file_name()?.to_str()?;
        let owner = preferred_node(name, &st.members)?;
        if owner == self.node {
            return None;
        }
        // Once its wait is over the file stays this node's to try (it may come
        // back, e.g. held by a lease that has to lapse first) until pruned.
        let first = *st.first_left.entry(path.to_path_buf()).or_insert(now);
        let waited = now.duration_since(first);
        let wait = self.after.checked_sub(waited).filter(|w| !w.is_zero());
        self.prune(&mut st, now);
        wait
    }

    /// Forget files another member took long ago (they were never offered again).
    fn prune(&self, st: &mut State, now: Instant) {
        let every = self.after.max(Duration::from_secs(10));
        if st
            .last_prune
            .is_some_and(|at| now.duration_since(at) < every)
        {
            return;
        }
        st.last_prune = Some(now);
        let keep = self.after * 3 + Duration::from_secs(60);
        st.first_left
            .retain(|_, first| now.duration_since(*first) < keep);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const AFTER: Duration = Duration::from_secs(5);

    fn handoff(node: NodeId, members: &[NodeId]) -> Handoff {
        let members: BTreeSet<NodeId> = members.iter().copied().collect();
        Handoff::new(node, AFTER, Box::new(move || members.clone()))
    }

    /// A file name meant for `owner` among 1, 2, 3.
    fn meant_for(owner: NodeId) -> PathBuf {
        let three = BTreeSet::from([1, 2, 3]);
        (0..)
            .map(|i| format!("m-{i}.eml"))
            .find(|n| preferred_node(n, &three) == Some(owner))
            .map(|n| PathBuf::from("/drop").join(n))
            .unwrap()
    }

    #[test]
    fn own_files_are_taken_at_once_and_others_after_the_hand_off_time() {
        let h = handoff(1, &[1, 2, 3]);
        let t0 = Instant::now();
        assert_eq!(h.defer(&meant_for(1), t0), None);
        let other = meant_for(2);
        assert_eq!(h.defer(&other, t0), Some(AFTER));
        assert_eq!(
            h.defer(&other, t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            h.defer(&other, t0 + AFTER),
            None,
            "its member did not take it: take it"
        );
        // Offered again (held by a lapsing lease, a retry): no second wait.
        assert_eq!(h.defer(&other, t0 + AFTER * 2), None);
    }

    #[test]
    fn smtp_spool_files_wait_for_the_node_that_accepted_them() {
        let h = handoff(1, &[1, 2, 3]);
        let t0 = Instant::now();
        assert_eq!(h.defer(Path::new("/drop/smtp-1-77.eml"), t0), None);
        assert_eq!(h.defer(Path::new("/drop/smtp-3-77.eml"), t0), Some(AFTER));
        // A writer that is not a member any more: the file is spread like any other.
        let h = handoff(1, &[1]);
        assert_eq!(h.defer(Path::new("/drop/smtp-3-77.eml"), t0), None);
    }

    #[test]
    fn a_node_alone_takes_everything_and_a_node_outside_the_farm_nothing() {
        let t0 = Instant::now();
        let alone = handoff(1, &[1]);
        assert_eq!(alone.defer(&meant_for(2), t0), None);
        let removed = handoff(4, &[1, 2, 3]);
        for owner in [1, 2, 3] {
            assert_eq!(
                removed.defer(&meant_for(owner), t0 + AFTER * 9),
                Some(AFTER)
            );
        }
    }

    #[test]
    fn files_another_member_took_are_forgotten() {
        let h = handoff(1, &[1, 2, 3]);
        let t0 = Instant::now();
        for i in 0..100 {
            let name = format!("x-{i}.eml");
            h.defer(&PathBuf::from("/drop").join(name), t0);
        }
        let remembered = h.lock().first_left.len();
        assert!(remembered > 0);
        // Long after, one more offer prunes the entries of files never offered again.
        h.defer(&meant_for(2), t0 + AFTER * 3 + Duration::from_secs(61));
        assert_eq!(h.lock().first_left.len(), 1);
    }
}

//! Sharing one drop folder between the farm's members without all of them
//! reading every file: each file is meant for one member
//! ([`postroom_core::cluster::preferred_node`]); a node takes its own files
//! at once and leaves the others' to them for `cluster.handoff_after`, after
//! which it takes them too (their member is down, cut off or behind). A node
//! that is not a member (it left the farm) takes none. The claim protocol
//! keeps this safe either way; the hand-off only saves work.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postroom_cluster::Farm;
use postroom_core::cluster::preferred_node;
use postroom_core::NodeId;

/// How often the member list is read from the Raft metrics.
const MEMBERS_REFRESH: Duration = Duration::from_secs(1);

/// Deferred files and the member list of one node.
pub struct Handoff {
    node: NodeId,
    after: Duration,
    farm: Arc<Farm>,
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
    pub fn new(node: NodeId, after: Duration, farm: Arc<Farm>) -> Self {
        Handoff {
            node,
            after,
            farm,
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
            st.members = self.farm.status().members.into_keys().collect();
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
        let first = *st.first_left.entry(path.to_path_buf()).or_insert(now);
        let waited = now.duration_since(first);
        let wait = self.after.checked_sub(waited).filter(|w| !w.is_zero());
        if wait.is_none() {
            st.first_left.remove(path);
        }
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

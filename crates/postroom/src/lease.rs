//! Keeping the leases of a batch while it is filed: a [`LeaseKeeper`] renews
//! them every third of the TTL until dropped, and tracks the local deadline
//! after which this node must treat them as lost: the moment the claim (or
//! the last renewal) was *sent*, on this node's monotonic clock, plus the TTL
//! minus a safety margin for clock drift. Filing is idempotent on the message
//! key and finishing is fenced, so a lease lost anyway costs only work.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use postroom_cluster::Farm;
use postroom_core::{Command, FencingToken, MessageKey, NodeId, Response};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The local deadline of a lease sent at `sent` for `ttl`: a tenth of the
/// TTL (at most 2 s) earlier than the farm's, for clock drift.
pub fn local_deadline(sent: Instant, ttl: Duration) -> Instant {
    let margin = (ttl / 10).min(Duration::from_secs(2));
    sent + ttl.saturating_sub(margin)
}

/// Renews a batch's leases in the background until dropped.
pub struct LeaseKeeper {
    deadline: Arc<Mutex<Instant>>,
    stop: CancellationToken,
}

impl LeaseKeeper {
    /// Start renewing `leases` (claimed by `node` at `sent`) every `ttl / 3`.
    pub fn start(
        farm: Arc<Farm>,
        node: NodeId,
        leases: Vec<(MessageKey, FencingToken)>,
        ttl: Duration,
        sent: Instant,
    ) -> LeaseKeeper {
        let deadline = Arc::new(Mutex::new(local_deadline(sent, ttl)));
        let stop = CancellationToken::new();
        let keeper = LeaseKeeper {
            deadline: deadline.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(async move {
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            let mut leases = leases;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(ttl / 3) => {}
                }
                let sent = Instant::now();
                let renew = Command::Renew {
                    leases: leases.clone(),
                    node,
                    ttl_ms,
                };
                let renewed = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = farm.propose(renew) => r,
                };
                match renewed {
                    Ok(Response::Renewals(kept)) if kept.len() == leases.len() => {
                        let lost = kept.iter().filter(|k| !**k).count();
                        if lost > 0 {
                            warn!(lost, "leases lost to newer claims while filing; their new holders finish them");
                        }
                        leases = leases
                            .into_iter()
                            .zip(kept)
                            .filter_map(|(lease, kept)| kept.then_some(lease))
                            .collect();
                        if let Ok(mut d) = deadline.lock() {
                            *d = local_deadline(sent, ttl);
                        }
                        debug!(leases = leases.len(), "leases renewed");
                        if leases.is_empty() {
                            return;
                        }
                    }
                    other => {
                        warn!(result = ?other, "cannot renew leases; they lapse at their deadline")
                    }
                }
            }
        });
        keeper
    }

    /// Whether the leases may still be held (the local deadline has not passed).
    pub fn held(&self) -> bool {
        self.deadline.lock().map_or(false, |d| Instant::now() < *d)
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

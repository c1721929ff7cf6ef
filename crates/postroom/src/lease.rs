//! Keeping the leases of a batch while it is filed: a [`LeaseKeeper`] renews
//! them a third of the TTL after the claim (or the last renewal) was sent,
//! until dropped. A lease counts as lost locally at its deadline: the moment
//! its claim or renewal was *sent*, on this node's monotonic clock, plus the
//! TTL minus a safety margin for clock differences between nodes
//! ([`local_deadline`]); a renewal that cannot land before it is given up,
//! and the pipeline files nothing whose claim came back past it. Filing is
//! idempotent on the message key and finishing is fenced by the token, so a
//! lease lost anyway costs only work.

use std::sync::Arc;
use std::time::Duration;

use postroom_cluster::Farm;
use postroom_core::units::millis;
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
        let stop = CancellationToken::new();
        let keeper = LeaseKeeper { stop: stop.clone() };
        tokio::spawn(async move {
            let ttl_ms = millis(ttl);
            let mut leases = leases;
            let mut last_sent = sent;
            let mut deadline = local_deadline(sent, ttl);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(last_sent + ttl / 3) => {}
                }
                let sending = Instant::now();
                let renew = Command::Renew {
                    leases: leases.clone(),
                    node,
                    ttl_ms,
                };
                // A renewal that cannot land before the local deadline is too late anyway.
                let renewed = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = tokio::time::timeout_at(deadline, farm.propose(renew)) => r,
                };
                last_sent = sending;
                match renewed {
                    Ok(Ok(Response::Renewals(kept))) if kept.len() == leases.len() => {
                        let lost = kept.iter().filter(|k| !**k).count();
                        if lost > 0 {
                            warn!(lost, "leases lost while filing (lapsed, or taken by a newer claim); idempotent filing and fencing keep the messages once");
                        }
                        leases = leases
                            .into_iter()
                            .zip(kept)
                            .filter_map(|(lease, kept)| kept.then_some(lease))
                            .collect();
                        if leases.is_empty() {
                            return;
                        }
                        deadline = local_deadline(sending, ttl);
                        debug!(leases = leases.len(), "leases renewed");
                    }
                    Ok(other) => {
                        warn!(result = ?other, "cannot renew leases; they lapse at their deadline")
                    }
                    Err(_) => warn!("no answer to the lease renewal before the leases' deadline"),
                }
            }
        });
        keeper
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use postroom_cluster::FarmOptions;
    use postroom_core::cluster::Formation;
    use postroom_core::{ClaimResult, FarmState};

    use super::*;

    async fn single_node_farm(dir: &std::path::Path) -> Arc<Farm> {
        let farm = Farm::open(FarmOptions {
            node_id: 1,
            advertise_addr: "127.0.0.1:1".to_string(),
            dir: dir.to_path_buf(),
            snapshot_every: 1_000,
            formation: Formation::Single,
            local_ip: None,
            security: postroom_cluster::PeerSecurity::default(),
        })
        .await
        .unwrap();
        Arc::new(farm)
    }

    async fn claim(farm: &Farm, node: NodeId, key: MessageKey, ttl: Duration) -> ClaimResult {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap();
        match farm
            .propose(Command::Claim {
                keys: vec![key],
                node,
                ttl_ms,
            })
            .await
            .unwrap()
        {
            Response::Claims(mut c) => c.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_local_deadline_is_earlier_than_the_farms_by_a_margin() {
        let sent = Instant::now();
        assert_eq!(
            local_deadline(sent, Duration::from_secs(3)),
            sent + Duration::from_millis(2_700)
        );
        assert_eq!(
            local_deadline(sent, Duration::from_secs(60)),
            sent + Duration::from_secs(58)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kept_lease_outlives_its_ttl_and_lapses_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let farm = single_node_farm(dir.path()).await;
        let key = MessageKey::from_bytes([7; 32]);
        let ttl = Duration::from_millis(1_000);
        let sent = Instant::now();
        let ClaimResult::Granted { token, .. } = claim(&farm, 1, key, ttl).await else {
            panic!("not granted");
        };
        let keeper = LeaseKeeper::start(farm.clone(), 1, vec![(key, token)], ttl, sent);

        // Three TTLs later the lease is still ours: another node is refused.
        tokio::time::sleep(ttl * 3).await;
        assert!(matches!(
            claim(&farm, 2, key, ttl).await,
            ClaimResult::Held { by: 1, .. }
        ));
        let holder = |s: &FarmState| s.lease(&key).map(|l| (l.node, l.token));
        assert_eq!(farm.read(holder), Some((1, token)));

        // Dropped (the batch ended or the node stalled): the lease lapses and moves on.
        drop(keeper);
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        match claim(&farm, 2, key, ttl).await {
            ClaimResult::Granted { token: newer, .. } => assert!(newer > token),
            other => panic!("lease did not lapse: {other:?}"),
        }
        farm.shutdown().await.unwrap();
    }
}

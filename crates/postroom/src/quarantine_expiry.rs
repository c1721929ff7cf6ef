//! Quarantine retention: every node deletes the quarantined messages older
//! than `[quarantine] retention` (when set), logging each one. Several nodes
//! on one shared folder may do this at once; a removal another node made
//! first is skipped.

use std::sync::Arc;
use std::time::Duration;

use postroom_cluster::Farm;
use postroom_library::Quarantine;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often to look, for a retention of `retention`: a tenth of it,
/// between 1 s and 1 min.
pub fn check_every(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Run until `shutdown`.
pub async fn run(farm: Arc<Farm>, quarantine: Arc<Quarantine>, shutdown: CancellationToken) {
    loop {
        let retention = farm.read(|s| s.config().and_then(|c| c.quarantine.retention));
        let wait = retention.map_or(Duration::from_secs(60), |r| check_every(r.0));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let Some(retention) = retention else { continue };
        let cutoff = time::OffsetDateTime::now_utc() - retention.0;
        let q = quarantine.clone();
        match tokio::task::spawn_blocking(move || q.expire(cutoff)).await {
            Ok(Ok((expired, failed))) => {
                for e in expired {
                    info!(file = %e.file, code = %e.code, reason = %e.reason, quarantined_at = %e.quarantined_at, retention = %retention, "quarantined message expired and deleted");
                }
                for (file, e) in failed {
                    warn!(%file, error = %e, "cannot delete an expired quarantined message");
                }
            }
            Ok(Err(e)) => warn!(error = %e, "cannot expire the quarantine"),
            Err(e) => warn!(error = %e, "the quarantine expiry task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_interval_follows_the_retention_within_bounds() {
        assert_eq!(check_every(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            check_every(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(
            check_every(Duration::from_secs(30 * 86_400)),
            Duration::from_secs(60)
        );
    }
}

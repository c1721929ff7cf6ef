//! Incoming e-mail turned off (`farm.incoming_enabled = false`): the
//! pipeline leaves drop files where they are and looks at them again a few
//! seconds later; the change is logged once each way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{info, warn};

/// How soon to look again at files while incoming e-mail is off.
pub const PAUSED_RETRY: Duration = Duration::from_secs(3);

/// Whether the last look found incoming e-mail off.
#[derive(Default)]
pub struct Paused(AtomicBool);

impl Paused {
    /// Record what the farm says now; true while incoming e-mail is off.
    pub fn check(&self, enabled: bool) -> bool {
        let was_paused = self.0.swap(!enabled, Ordering::Relaxed);
        match (enabled, was_paused) {
            (true, true) => info!("incoming e-mail is turned on again; filing the drop folder"),
            (false, false) => warn!(
                "incoming e-mail is turned off (farm.incoming_enabled = false); drop files wait in the drop folder"
            ),
            _ => {}
        }
        !enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_follows_the_setting() {
        let p = Paused::default();
        assert!(!p.check(true));
        assert!(p.check(false));
        assert!(p.check(false));
        assert!(!p.check(true));
    }
}

//! Messages waiting because who sent them cannot be told now (the DNS
//! lookups of the farm's own DKIM / SPF / DMARC checks fail for now): each
//! is tried again with a growing delay, apart from the filing attempts that
//! count towards quarantine, until `dns.give_up_after` has passed since it
//! first had to wait; then it is quarantined with the reason. Time comes in
//! as an argument.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use postroom_core::MessageKey;

/// The first delay; each further one doubles, up to [`LONGEST_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(2);
const LONGEST_DELAY: Duration = Duration::from_secs(120);

/// What to do with a message that has to wait once more.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Try again after this long.
    Again(Duration),
    /// It has waited long enough: quarantine it with this reason.
    GiveUp(String),
}

/// The waiting messages of one node.
pub struct SenderWaits {
    give_up_after: Duration,
    /// When each message first had to wait, and how often it has.
    waiting: Mutex<HashMap<MessageKey, (Instant, u32)>>,
}

impl SenderWaits {
    pub fn new(give_up_after: Duration) -> Self {
        SenderWaits {
            give_up_after,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// `key` has to wait (again) at `now`, because of `why`.
    pub fn wait(&self, key: MessageKey, why: &str, now: Instant) -> Wait {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let (since, times) = waiting.entry(key).or_insert((now, 0));
        *times += 1;
        let waited = now.saturating_duration_since(*since);
        if waited >= self.give_up_after {
            let times = *times;
            waiting.remove(&key);
            return Wait::GiveUp(format!(
                "{why} (tried {times} times over {}s; dns.give_up_after is {}s)",
                waited.as_secs(),
                self.give_up_after.as_secs()
            ));
        }
        let doubled = FIRST_DELAY.saturating_mul(1u32 << (*times - 1).min(16));
        Wait::Again(doubled.min(LONGEST_DELAY))
    }

    /// `key` is done (filed, quarantined) or no longer this node's.
    pub fn forget(&self, key: &MessageKey) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_a_limit_then_the_message_is_given_up() {
        let waits = SenderWaits::new(Duration::from_secs(600));
        let key = MessageKey::compute("a@x", &["b@y".to_string()], b"m");
        let t0 = Instant::now();
        let delays: Vec<Wait> = (0..8).map(|_| waits.wait(key, "dns", t0)).collect();
        let secs: Vec<u64> = delays
            .iter()
            .map(|w| match w {
                Wait::Again(d) => d.as_secs(),
                Wait::GiveUp(_) => 0,
            })
            .collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 120, 120]);
        let Wait::GiveUp(why) = waits.wait(key, "dns failed", t0 + Duration::from_secs(601)) else {
            panic!("not given up")
        };
        assert!(
            why.starts_with("dns failed (tried 9 times over 601s"),
            "{why}"
        );
        // Forgotten once given up: a new wait starts afresh.
        assert_eq!(waits.wait(key, "dns", t0), Wait::Again(FIRST_DELAY));
        waits.forget(&key);
        assert_eq!(waits.wait(key, "dns", t0), Wait::Again(FIRST_DELAY));
    }
}

//! How many log entries one AppendEntries to a peer may carry. openraft
//! 0.9 gives an AppendEntries the heartbeat interval (100 ms) to be sent,
//! written and fsynced by the follower, and answered, and after a timeout it
//! sends the same range again. A follower that fell behind (restarted,
//! paused) is sent up to 300 entries at once, each up to a claim or finish
//! of a whole batch: megabytes that a busy node cannot turn around in
//! 100 ms, again and again, while no heartbeat reaches the follower: the
//! farm could not commit for minutes. So a request is kept under a size in
//! bytes (the number that fitted is remembered), and the number of entries
//! is halved after a timeout and doubled back after a full request goes
//! through (answered with openraft's
//! `PayloadTooLarge`, which makes it send fewer at once). Pure: no IO.

/// Most entries one AppendEntries carries (openraft's `max_payload_entries`).
pub(crate) const MAX_PAYLOAD_ENTRIES: u64 = 300;

/// Most bytes of encoded request one AppendEntries carries (one entry is
/// always sent, however large).
pub(crate) const MAX_APPEND_BYTES: usize = 512 * 1024;

/// The entry limit of one peer's AppendEntries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PayloadLimit {
    entries: u64,
    max_entries: u64,
    /// Entries of the request being sent, until it is answered.
    in_flight: Option<u64>,
}

impl PayloadLimit {
    /// No limit below `max_entries` (openraft's `max_payload_entries`).
    pub(crate) fn new(max_entries: u64) -> PayloadLimit {
        let max_entries = max_entries.max(1);
        PayloadLimit {
            entries: max_entries,
            max_entries,
            in_flight: None,
        }
    }

    /// Before sending `entries` entries (encoded in `bytes` bytes, once
    /// known): `Some(n)` to send only the first `n` instead. A request
    /// still in flight was dropped unanswered (openraft stops waiting at its
    /// timeout, before ours): it timed out.
    pub(crate) fn fewer(&mut self, entries: u64, bytes: Option<usize>) -> Option<u64> {
        if let Some(dropped) = self.in_flight.take() {
            self.timed_out(dropped);
        }
        if entries <= 1 {
            return None;
        }
        if entries > self.entries {
            return Some(self.entries);
        }
        match bytes {
            // As many as fit if entries are of similar size; at least one.
            // Remembered, so the next requests are cut before encoding.
            Some(bytes) if bytes > MAX_APPEND_BYTES => {
                let fit = (entries as u128 * MAX_APPEND_BYTES as u128 / bytes as u128) as u64;
                self.entries = fit.clamp(1, entries - 1);
                Some(self.entries)
            }
            _ => None,
        }
    }

    /// The most entries sent at once now.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// A request of `entries` entries is being sent.
    pub(crate) fn sending(&mut self, entries: u64) {
        self.in_flight = Some(entries);
    }

    /// The request being sent was answered (`Some(true)`), timed out
    /// (`Some(false)`), or failed otherwise (`None`: says nothing about its size).
    pub(crate) fn answered(&mut self, went_through: Option<bool>) {
        if let Some(entries) = self.in_flight.take() {
            match went_through {
                Some(true) => self.went_through(entries),
                Some(false) => self.timed_out(entries),
                None => {}
            }
        }
    }

    /// Double the limit (up to the maximum) after a full request.
    fn went_through(&mut self, entries: u64) {
        if entries >= self.entries {
            self.entries = self.entries.saturating_mul(2).min(self.max_entries);
        }
    }

    /// Half of what timed out next time (a single entry is always sent).
    fn timed_out(&mut self, entries: u64) {
        if entries > 1 {
            self.entries = self.entries.min(entries / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Send `entries` entries and get an answer (or a timeout).
    fn send(limit: &mut PayloadLimit, entries: u64, timed_out: bool) {
        limit.sending(entries);
        limit.answered(Some(!timed_out));
    }

    #[test]
    fn small_requests_go_as_they_are() {
        let mut limit = PayloadLimit::new(300);
        assert_eq!(limit.fewer(0, Some(10)), None);
        assert_eq!(limit.fewer(300, None), None);
        assert_eq!(limit.fewer(300, Some(MAX_APPEND_BYTES)), None);
        // One entry is sent however large it is.
        assert_eq!(limit.fewer(1, Some(10 * MAX_APPEND_BYTES)), None);
    }

    #[test]
    fn a_large_request_is_cut_to_what_fits() {
        let mut limit = PayloadLimit::new(300);
        assert_eq!(limit.fewer(300, Some(4 * MAX_APPEND_BYTES)), Some(75));
        // Remembered: the next request is cut before it is encoded.
        assert_eq!(limit.fewer(300, None), Some(75));
        // Just over: one fewer at least.
        assert_eq!(limit.fewer(10, Some(MAX_APPEND_BYTES + 1)), Some(9));
        assert_eq!(limit.fewer(2, Some(10 * MAX_APPEND_BYTES)), Some(1));
        // Full requests going through raise it again.
        send(&mut limit, 1, false);
        send(&mut limit, 2, false);
        assert_eq!(limit.fewer(300, None), Some(4));
    }

    #[test]
    fn other_failures_say_nothing_about_the_size() {
        let mut limit = PayloadLimit::new(300);
        send(&mut limit, 300, true);
        limit.sending(150);
        limit.answered(None);
        assert_eq!(limit.fewer(300, None), Some(150));
    }

    #[test]
    fn timeouts_halve_the_limit_and_full_requests_double_it_back() {
        let mut limit = PayloadLimit::new(300);
        send(&mut limit, 300, true);
        assert_eq!(limit.fewer(300, None), Some(150));
        send(&mut limit, 150, true);
        send(&mut limit, 75, true);
        assert_eq!(limit.fewer(300, None), Some(37));
        // Fewer than the limit going through says nothing about the limit.
        send(&mut limit, 10, false);
        assert_eq!(limit.fewer(300, None), Some(37));
        send(&mut limit, 37, false);
        assert_eq!(limit.fewer(300, None), Some(74));
        for _ in 0..5 {
            send(&mut limit, 300, false);
        }
        assert_eq!(limit.fewer(300, None), None);
        assert_eq!(limit, PayloadLimit::new(300));
    }

    #[test]
    fn a_request_dropped_unanswered_counts_as_timed_out() {
        let mut limit = PayloadLimit::new(300);
        limit.sending(300);
        // openraft gave up on it and sends again.
        assert_eq!(limit.fewer(300, None), Some(150));
        // Only once.
        assert_eq!(limit.fewer(150, None), None);
        limit.answered(Some(true));
        assert_eq!(limit.fewer(300, None), Some(150));
    }

    #[test]
    fn the_limit_never_reaches_zero() {
        let mut limit = PayloadLimit::new(4);
        for _ in 0..10 {
            send(&mut limit, 2, true);
        }
        assert_eq!(limit.fewer(4, None), Some(1));
        // A heartbeat or a single entry timing out changes nothing.
        send(&mut limit, 1, true);
        send(&mut limit, 0, true);
        assert_eq!(limit.fewer(4, None), Some(1));
        assert_eq!(PayloadLimit::new(0).fewer(2, None), Some(1));
    }
}

//! Read-only questions the admin API asks of [`FarmState`]: recent activity
//! (the ledger, newest first, paged) and finding a message by Message-ID.

use super::{FarmState, LedgerEntry, Timestamp};
use crate::MessageKey;

/// Where a page of activity starts: strictly before this entry.
pub type ActivityCursor = (Timestamp, MessageKey);

impl FarmState {
    /// Up to `limit` ledger entries finished before `before` (or the newest
    /// when `None`), newest first. The last one's `(finished_at, key)` is the
    /// cursor of the next page.
    pub fn recent_activity(
        &self,
        before: Option<ActivityCursor>,
        limit: usize,
    ) -> Vec<(MessageKey, &LedgerEntry)> {
        self.ledger_by_time
            .iter()
            .rev()
            .filter(|position| before.is_none_or(|cursor| **position < cursor))
            .filter_map(|(at, key)| {
                // Skip positions of released keys (and of keys finished
                // again later, which appear at their newer position).
                let entry = self.ledger.get(key).filter(|e| e.finished_at == *at)?;
                Some((*key, entry))
            })
            .take(limit)
            .collect()
    }

    /// Keys in the ledger whose message has this Message-ID (angle brackets
    /// optional, compared without them), newest first. A linear scan: an
    /// admin lookup, not a hot path.
    pub fn keys_with_message_id(&self, message_id: &str) -> Vec<MessageKey> {
        let wanted = strip_angles(message_id);
        let mut found: Vec<(Timestamp, MessageKey)> = self
            .ledger
            .iter()
            .filter(|(_, e)| {
                e.about
                    .as_ref()
                    .and_then(|a| a.message_id.as_deref())
                    .is_some_and(|id| strip_angles(id) == wanted)
            })
            .map(|(k, e)| (e.finished_at, *k))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.into_iter().map(|(_, k)| k).collect()
    }
}

fn strip_angles(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
}

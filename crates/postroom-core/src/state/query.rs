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
        let older = match before {
            Some(cursor) => self.ledger_by_time.range(..cursor),
            None => self.ledger_by_time.range(..),
        };
        older
            .rev()
            .filter_map(|(_, key)| Some((*key, self.ledger.get(key)?)))
            .take(limit)
            .collect()
    }

    /// The digest of the last config file a node applied (`None` before any).
    pub fn applied_file(&self) -> Option<&str> {
        self.applied_file.as_deref()
    }

    /// Keys in the ledger whose message has this Message-ID (angle brackets
    /// optional, compared without them), newest first. A linear scan: an
    /// admin lookup, not a hot path.
    pub fn keys_with_message_id(&self, message_id: &str) -> Vec<MessageKey> {
        let wanted = bare_message_id(message_id);
        let mut found: Vec<(Timestamp, MessageKey)> = self
            .ledger
            .iter()
            .filter(|(_, e)| {
                e.about
                    .as_ref()
                    .and_then(|a| a.message_id.as_deref())
                    .is_some_and(|id| bare_message_id(id) == wanted)
            })
            .map(|(k, e)| (e.finished_at, *k))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.into_iter().map(|(_, k)| k).collect()
    }
}

/// A Message-ID without surrounding space and angle brackets.
pub fn bare_message_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
}

//! Wall-clock time and unique temporary names at the IO edge: `filed_at`,
//! `quarantined_at` and quarantine file names are stamped here, never in the
//! replicated state machine.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The current time as RFC 3339 UTC, e.g. `2026-01-02T03:04:05.123456Z`.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `at` as RFC 3339 UTC with exactly six fractional digits, so that these
/// strings sort in time order.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    utc(at, "-", ":")
}

/// `2026-01-02T03:04:05.123456Z` with the given date and time separators.
fn utc(at: SystemTime, date_sep: &str, time_sep: &str) -> String {
    let t = OffsetDateTime::from(at);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s, us) = (t.hour(), t.minute(), t.second(), t.microsecond());
    format!(
        "{y:04}{date_sep}{mo:02}{date_sep}{d:02}T{h:02}{time_sep}{mi:02}{time_sep}{s:02}.{us:06}Z"
    )
}

/// Parse an RFC 3339 time (any offset, any precision) for sorting.
pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The current time for file names that sort by age:
/// `20260102T030405.123456Z`.
pub(crate) fn now_compact() -> String {
    utc(SystemTime::now(), "", "")
}

/// 16 hex digits that no other call, thread or process on this machine (or,
/// with overwhelming probability, another machine sharing the folder) gets.
pub(crate) fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // RandomState is seeded from the OS once per process and differs per instance.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(count);
    h.write_u32(std::process::id());
    h.write_u128(nanos);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z') && now.contains('T'), "{now}");
        assert_eq!(now.len(), "2026-01-02T03:04:05.123456Z".len(), "{now}");
        assert!(parse_rfc3339(&now).is_some());
        assert!(parse_rfc3339("2026-01-02T03:04:05+02:00").is_some());
        assert!(parse_rfc3339("yesterday").is_none());
        let compact = now_compact();
        assert_eq!(compact.len(), "20260102T030405.123456Z".len(), "{compact}");
        let a = nonce();
        assert_eq!(a.len(), 16);
        assert_ne!(a, nonce());
    }
}

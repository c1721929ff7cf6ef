//! Pure tests of the readiness/offer state machine in `tracker.rs`: time is
//! simulated by passing instants; there is no IO.

use super::*;
use std::slice;

const STABLE: Duration = Duration::from_millis(500);
const MAX: usize = 1024;

/// A simulated clock: monotonic and wall time advance together.
struct Clock {
    t0: Instant,
    w0: SystemTime,
}

impl Clock {
    fn new() -> Self {
        Clock {
            t0: Instant::now(),
            w0: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }
    fn at(&self, ms: u64) -> (Instant, SystemTime) {
        let d = Duration::from_millis(ms);
        (self.t0 + d, self.w0 + d)
    }
    fn wall(&self, ms: u64) -> SystemTime {
        self.w0 + Duration::from_millis(ms)
    }
    /// A wall time one hour before the start.
    fn old(&self) -> SystemTime {
        self.w0 - Duration::from_secs(3600)
    }
}

fn file(name: &str, size: u64, modified: SystemTime) -> Observed {
    Observed {
        path: PathBuf::from("/drop").join(name),
        size,
        modified,
    }
}

fn scan(tr: &mut Tracker, clock: &Clock, ms: u64, files: &[Observed]) -> Vec<ReadyFile> {
    let (now, wall) = clock.at(ms);
    let ticket = tr.begin_scan();
    tr.apply_scan(ticket, files.to_vec(), &[], now, wall, MAX)
}

fn names(offers: &[ReadyFile]) -> Vec<String> {
    offers
        .iter()
        .filter_map(|f| f.path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

fn p(name: &str) -> PathBuf {
    PathBuf::from("/drop").join(name)
}

#[test]
fn new_file_becomes_ready_after_stable_after() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a.eml", 10, c.wall(0));
    assert!(scan(&mut tr, &c, 0, slice::from_ref(&f)).is_empty());
    assert_eq!(tr.next_wake(), Some(c.at(500).0));
    assert!(scan(&mut tr, &c, 200, slice::from_ref(&f)).is_empty());
    assert!(scan(&mut tr, &c, 499, slice::from_ref(&f)).is_empty());
    let offers = scan(&mut tr, &c, 500, slice::from_ref(&f));
    assert_eq!(
        offers,
        vec![ReadyFile {
            path: p("a.eml"),
            size: 10,
            modified: c.wall(0)
        }]
    );
    assert_eq!(tr.next_wake(), None);
}

#[test]
fn zero_stable_after_offers_on_first_sight() {
    let c = Clock::new();
    let mut tr = Tracker::new(Duration::ZERO);
    assert_eq!(
        names(&scan(&mut tr, &c, 0, &[file("a", 0, c.wall(0))])),
        ["a"]
    );
}

#[test]
fn a_change_resets_the_timer() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert!(scan(&mut tr, &c, 0, &[file("a", 10, c.wall(0))]).is_empty());
    let grown = file("a", 20, c.wall(400));
    assert!(scan(&mut tr, &c, 400, slice::from_ref(&grown)).is_empty());
    assert_eq!(tr.next_wake(), Some(c.at(900).0));
    assert!(scan(&mut tr, &c, 600, slice::from_ref(&grown)).is_empty());
    let offers = scan(&mut tr, &c, 900, &[grown]);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].size, 20);
}

#[test]
fn an_mtime_change_alone_resets_the_timer() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert!(scan(&mut tr, &c, 0, &[file("a", 10, c.wall(0))]).is_empty());
    assert!(scan(&mut tr, &c, 450, &[file("a", 10, c.wall(450))]).is_empty());
    assert!(scan(&mut tr, &c, 600, &[file("a", 10, c.wall(450))]).is_empty());
    assert_eq!(
        scan(&mut tr, &c, 950, &[file("a", 10, c.wall(450))]).len(),
        1
    );
}

#[test]
fn an_old_file_is_ready_at_once() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let offers = scan(&mut tr, &c, 0, &[file("a", 5, c.old())]);
    assert_eq!(names(&offers), ["a"]);
    // Just old enough counts too; a future mtime (clock skew) waits.
    let mut tr = Tracker::new(STABLE);
    let files = [
        file("b", 1, c.wall(0) - STABLE),
        file("c", 1, c.wall(60_000)),
    ];
    assert_eq!(names(&scan(&mut tr, &c, 0, &files)), ["b"]);
    assert!(scan(&mut tr, &c, 100, &files).is_empty());
    assert_eq!(names(&scan(&mut tr, &c, 500, &files)), ["c"]);
}

#[test]
fn empty_files_are_offered_once_stable() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert!(scan(&mut tr, &c, 0, &[file("e", 0, c.wall(0))]).is_empty());
    let offers = scan(&mut tr, &c, 500, &[file("e", 0, c.wall(0))]);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].size, 0);
}

#[test]
fn offers_are_oldest_first_and_capped() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let old = c.old();
    let files = [
        file("b", 1, old + Duration::from_secs(2)),
        file("a", 1, old + Duration::from_secs(3)),
        file("c", 1, old + Duration::from_secs(1)),
        file("d", 1, old + Duration::from_secs(2)),
    ];
    let (now, wall) = c.at(0);
    let t = tr.begin_scan();
    let offers = tr.apply_scan(t, files.to_vec(), &[], now, wall, 3);
    assert_eq!(names(&offers), ["c", "b", "d"]);
    // One is left over: rescan at once.
    assert_eq!(tr.next_wake(), Some(now));
    assert_eq!(names(&scan(&mut tr, &c, 20, &files)), ["a"]);
    assert_eq!(tr.next_wake(), None);
}

#[test]
fn an_outstanding_file_is_not_offered_again() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    for ms in [100, 1000, 5000] {
        assert!(scan(&mut tr, &c, ms, slice::from_ref(&f)).is_empty());
    }
    // Even a change while outstanding waits for `done`...
    let changed = file("a", 2, c.wall(5000));
    assert!(scan(&mut tr, &c, 6000, slice::from_ref(&changed)).is_empty());
    assert!(scan(&mut tr, &c, 9000, slice::from_ref(&changed)).is_empty());
    // ...and after `done(Kept)` it is a new file, offered once stable.
    assert!(tr.done(&p("a"), Disposition::Kept, c.at(9000).0));
    assert!(scan(&mut tr, &c, 9100, slice::from_ref(&changed)).is_empty());
    let offers = scan(&mut tr, &c, 9600, &[changed]);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].size, 2);
}

#[test]
fn a_kept_file_is_not_offered_again_until_it_changes() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    assert!(tr.done(&p("a"), Disposition::Kept, c.at(10).0));
    for ms in (100..10_000).step_by(700) {
        assert!(scan(&mut tr, &c, ms, slice::from_ref(&f)).is_empty());
    }
    assert_eq!(tr.counts(), (0, 1));
    assert_eq!(tr.next_wake(), None);
    let changed = file("a", 1, c.wall(10_000));
    assert!(scan(&mut tr, &c, 10_000, slice::from_ref(&changed)).is_empty());
    assert_eq!(tr.counts(), (1, 0));
    assert_eq!(scan(&mut tr, &c, 10_500, &[changed]).len(), 1);
}

#[test]
fn retry_later_offers_again_after_the_delay() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    let retry = Disposition::RetryLater {
        retry_after: Duration::from_secs(1),
    };
    assert!(tr.done(&p("a"), retry, c.at(100).0));
    assert_eq!(tr.next_wake(), Some(c.at(1100).0));
    assert!(scan(&mut tr, &c, 600, slice::from_ref(&f)).is_empty());
    assert!(scan(&mut tr, &c, 1099, slice::from_ref(&f)).is_empty());
    assert_eq!(names(&scan(&mut tr, &c, 1100, slice::from_ref(&f))), ["a"]);
    assert!(scan(&mut tr, &c, 3000, &[f]).is_empty());
}

#[test]
fn retry_later_of_a_changed_file_waits_for_it_to_settle() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert_eq!(scan(&mut tr, &c, 0, &[file("a", 1, c.old())]).len(), 1);
    let retry = Disposition::RetryLater {
        retry_after: Duration::from_millis(100),
    };
    assert!(tr.done(&p("a"), retry, c.at(0).0));
    let changed = file("a", 9, c.wall(150));
    assert!(scan(&mut tr, &c, 200, slice::from_ref(&changed)).is_empty());
    assert_eq!(scan(&mut tr, &c, 700, &[changed]).len(), 1);
}

#[test]
fn a_huge_retry_delay_means_kept() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    let retry = Disposition::RetryLater {
        retry_after: Duration::MAX,
    };
    assert!(tr.done(&p("a"), retry, c.at(0).0));
    assert!(scan(&mut tr, &c, 100, &[f]).is_empty());
    assert_eq!(tr.counts(), (0, 1));
}

#[test]
fn removed_files_are_forgotten_and_stale_listings_ignored() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    // A scan starts, then the pipeline removes the file, then the scan's
    // listing (taken before the removal) arrives.
    let (now, wall) = c.at(100);
    let stale = tr.begin_scan();
    assert!(tr.done(&p("a"), Disposition::Removed, now));
    assert_eq!(tr.counts(), (0, 0));
    assert!(tr
        .apply_scan(stale, vec![f.clone()], &[], now, wall, MAX)
        .is_empty());
    assert_eq!(tr.counts(), (0, 0));
    assert!(tr.entries.is_empty());
    // A file of the same name listed by a later scan is a new file.
    assert_eq!(names(&scan(&mut tr, &c, 200, &[f])), ["a"]);
}

#[test]
fn a_removed_file_listed_by_a_later_scan_is_new() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    assert!(tr.done(&p("a"), Disposition::Removed, c.at(50).0));
    assert_eq!(names(&scan(&mut tr, &c, 100, &[f])), ["a"]);
}

#[test]
fn disappeared_files_are_dropped_but_outstanding_ones_wait_for_done() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let files = [
        file("a", 1, c.old()),
        file("b", 1, c.wall(0)),
        file("k", 1, c.old()),
    ];
    assert_eq!(names(&scan(&mut tr, &c, 0, &files)), ["a", "k"]);
    assert!(tr.done(&p("k"), Disposition::Kept, c.at(0).0));
    assert_eq!(tr.counts(), (2, 1));
    assert!(scan(&mut tr, &c, 100, &[]).is_empty());
    // "a" is still outstanding (not present), "b" and "k" are gone.
    assert_eq!(tr.entries.len(), 1);
    assert_eq!(tr.counts(), (0, 0));
    assert_eq!(tr.next_wake(), None);
    assert!(!tr.done(&p("b"), Disposition::Removed, c.at(100).0));
    assert!(tr.done(&p("a"), Disposition::Kept, c.at(100).0));
    assert!(scan(&mut tr, &c, 200, &[]).is_empty());
    assert!(tr.entries.is_empty());
}

#[test]
fn unreadable_files_keep_their_state() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let f = file("a", 1, c.old());
    assert_eq!(scan(&mut tr, &c, 0, slice::from_ref(&f)).len(), 1);
    assert!(tr.done(&p("a"), Disposition::Kept, c.at(0).0));
    let (now, wall) = c.at(100);
    let t = tr.begin_scan();
    assert!(tr
        .apply_scan(t, Vec::new(), &[p("a")], now, wall, MAX)
        .is_empty());
    assert_eq!(tr.counts(), (0, 1));
    assert!(scan(&mut tr, &c, 200, &[f]).is_empty());
}

#[test]
fn done_is_ignored_unless_outstanding() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert!(!tr.done(&p("nope"), Disposition::Kept, c.at(0).0));
    assert!(scan(&mut tr, &c, 0, &[file("a", 1, c.wall(0))]).is_empty());
    assert!(!tr.done(&p("a"), Disposition::Removed, c.at(0).0));
    assert_eq!(tr.counts(), (1, 0));
    assert_eq!(scan(&mut tr, &c, 500, &[file("a", 1, c.wall(0))]).len(), 1);
    assert!(tr.done(&p("a"), Disposition::Kept, c.at(500).0));
    assert!(!tr.done(&p("a"), Disposition::Removed, c.at(500).0));
    assert_eq!(tr.counts(), (0, 1));
}

#[test]
fn temporary_and_hidden_names_are_never_offered() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    let files = [
        file(".hidden", 1, c.old()),
        file("x.tmp", 1, c.old()),
        file("x.PART", 1, c.old()),
        file("~x", 1, c.old()),
        file("x~", 1, c.old()),
        file("x.eml", 1, c.old()),
    ];
    assert_eq!(names(&scan(&mut tr, &c, 0, &files)), ["x.eml"]);
    assert!(scan(&mut tr, &c, 5000, &files).is_empty());
    assert_eq!(tr.entries.len(), 1);
}

#[test]
fn next_wake_is_the_earliest_settling_deadline() {
    let c = Clock::new();
    let mut tr = Tracker::new(STABLE);
    assert!(scan(&mut tr, &c, 0, &[file("a", 1, c.wall(0))]).is_empty());
    let files = [file("a", 1, c.wall(0)), file("b", 1, c.wall(300))];
    assert!(scan(&mut tr, &c, 300, &files).is_empty());
    assert_eq!(tr.next_wake(), Some(c.at(500).0));
    assert_eq!(names(&scan(&mut tr, &c, 500, &files)), ["a"]);
    assert_eq!(tr.next_wake(), Some(c.at(800).0));
}

#[test]
fn an_adopted_file_is_outstanding_at_once_and_not_offered_again_by_scans() {
    let clock = Clock::new();
    let mut tr = Tracker::new(STABLE);
    // A scan starts before the file is renamed into place and does not list it.
    let early = tr.begin_scan();
    let fresh = clock.wall(0);
    let ready = ReadyFile {
        path: p("smtp.eml"),
        size: 10,
        modified: fresh,
    };
    assert!(tr.adopt(&ready));
    assert!(!tr.adopt(&ready), "adopting twice is refused");
    let (now, wall) = clock.at(1);
    assert!(tr.apply_scan(early, [], &[], now, wall, MAX).is_empty());
    // Later scans list it, long after it became stable: still not offered.
    assert!(scan(&mut tr, &clock, 5_000, &[file("smtp.eml", 10, fresh)]).is_empty());
    assert!(tr.done(&p("smtp.eml"), Disposition::Removed, clock.at(5_001).0));
    assert!(scan(&mut tr, &clock, 6_000, &[]).is_empty());
    assert_eq!(tr.counts(), (0, 0));
}

//! Tests of what the admin API relies on in the state machine: versioned
//! config writes (compare-and-set, history with what changed), releasing
//! quarantined keys for replay, and the activity and Message-ID queries.

use super::*;
use crate::config::LibrarySettings;
use crate::units::HumanDuration;

fn key(n: u8) -> MessageKey {
    MessageKey::from_bytes([n; 32])
}

fn at(ms: u64, command: Command) -> Proposal {
    Proposal {
        now: Timestamp(ms),
        command,
    }
}

fn set(config: &FarmConfig, expected_version: Option<u64>) -> Command {
    Command::SetConfig {
        config: Box::new(config.clone()),
        by: "alice via node 1".into(),
        expected_version,
        file_digest: None,
    }
}

/// Claim and finish `k` at `ms` with `outcome` and a Message-ID.
fn file(s: &mut FarmState, ms: u64, k: MessageKey, outcome: Outcome, id: &str) {
    let claimed = s.apply(&at(
        ms,
        Command::Claim {
            keys: vec![k],
            node: 2,
            ttl_ms: 1_000,
        },
    ));
    let token = match claimed {
        Response::Claims(r) => match r[0] {
            ClaimResult::Granted { token, .. } => token,
            ref other => panic!("not granted: {other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let items = vec![Finished {
        key: k,
        token,
        outcome,
        about: Some(MessageAbout::new(Some(id), "bob@example.com", "Q3 report")),
    }];
    assert_eq!(
        s.apply(&at(ms, Command::Finish { items })),
        Response::Finishes(vec![FinishResult::Recorded])
    );
}

fn quarantined() -> Outcome {
    Outcome::Quarantined {
        reason: "no_library: no library has alias \"sales\"".into(),
    }
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        libraries: vec!["docs".into()],
    }
}

#[test]
fn a_write_for_an_older_version_is_refused_and_changes_nothing() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    assert!(matches!(
        s.apply(&at(1, set(&cfg, Some(0)))),
        Response::ConfigSet { version: 1, .. }
    ));
    cfg.farm.max_recipients = 10;
    assert_eq!(
        s.apply(&at(2, set(&cfg, Some(0)))),
        Response::ConfigConflict {
            expected: 0,
            current: 1
        }
    );
    assert_eq!(s.config().map(|c| c.farm.max_recipients), Some(100));
    assert!(matches!(
        s.apply(&at(3, set(&cfg, Some(1)))),
        Response::ConfigSet {
            version: 2,
            changed: true
        }
    ));
}

#[test]
fn history_says_who_when_and_what() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    s.apply(&at(1, set(&cfg, None)));
    cfg.farm.ledger_retention = HumanDuration::from_secs(3_600);
    cfg.libraries
        .push(LibrarySettings::document_library("Docs", "docs"));
    s.apply(&at(5, set(&cfg, None)));
    let last = &s.config_history()[1];
    assert_eq!(
        (last.version, last.at, last.by.as_str()),
        (2, Timestamp(5), "alice via node 1")
    );
    assert_eq!(
        last.changes,
        vec![
            "farm.ledger_retention: \"7d\" → \"1h\"".to_string(),
            "library \"docs\": added (name \"Docs\")".to_string(),
        ]
    );
}

#[test]
fn only_quarantined_keys_are_released_and_can_be_filed_again() {
    let mut s = FarmState::default();
    file(&mut s, 10, key(1), quarantined(), "<a@x>");
    file(&mut s, 11, key(2), delivered(), "<b@x>");
    assert_eq!(
        s.apply(&at(
            20,
            Command::Release {
                keys: vec![key(1), key(2), key(3)]
            }
        )),
        Response::Releases(vec![
            ReleaseResult::Released,
            ReleaseResult::Kept {
                outcome: delivered()
            },
            ReleaseResult::Absent,
        ])
    );
    assert!(s.ledger_entry(&key(1)).is_none());
    // The replayed copy is claimed and filed like a new message.
    file(&mut s, 30, key(1), delivered(), "<a@x>");
    let recent: Vec<_> = s
        .recent_activity(None, 10)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(recent, vec![key(1), key(2)]);
}

#[test]
fn a_released_key_filed_again_expires_on_its_own_time() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    cfg.farm.ledger_retention = HumanDuration::from_secs(60);
    s.apply(&at(0, set(&cfg, None)));
    file(&mut s, 1_000, key(1), quarantined(), "<a@x>");
    s.apply(&at(2_000, Command::Release { keys: vec![key(1)] }));
    file(&mut s, 30_000, key(1), delivered(), "<a@x>");
    // Past the first finish's retention, not the second's.
    s.apply(&at(62_000, Command::Release { keys: vec![] }));
    assert_eq!(
        s.ledger_entry(&key(1)).map(|e| e.finished_at),
        Some(Timestamp(30_000))
    );
    s.apply(&at(91_000, Command::Release { keys: vec![] }));
    assert!(s.ledger_entry(&key(1)).is_none());
}

#[test]
fn a_claimed_key_is_not_released_while_its_holder_may_finish_it() {
    let mut s = FarmState::default();
    s.apply(&at(
        10,
        Command::Claim {
            keys: vec![key(9)],
            node: 3,
            ttl_ms: 1_000,
        },
    ));
    // Past the lease too: the holder may still finish with its token.
    for now in [20, 5_000] {
        assert_eq!(
            s.apply(&at(now, Command::Release { keys: vec![key(9)] })),
            Response::Releases(vec![ReleaseResult::Claimed { node: 3 }])
        );
    }
}

#[test]
fn one_batch_finished_at_one_time_pages_without_gaps() {
    let mut s = FarmState::default();
    let keys = [key(3), key(1), key(2), key(5), key(4)];
    let claimed = s.apply(&at(
        10,
        Command::Claim {
            keys: keys.to_vec(),
            node: 1,
            ttl_ms: 1_000,
        },
    ));
    let Response::Claims(results) = claimed else {
        panic!("{claimed:?}")
    };
    let items = keys
        .iter()
        .zip(results)
        .map(|(k, r)| match r {
            ClaimResult::Granted { token, .. } => Finished {
                key: *k,
                token,
                outcome: delivered(),
                about: None,
            },
            other => panic!("{other:?}"),
        })
        .collect();
    s.apply(&at(10, Command::Finish { items }));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.recent_activity(cursor, 2);
        let Some((k, e)) = page.last() else { break };
        cursor = Some((e.finished_at, *k));
        seen.extend(page.iter().map(|(k, _)| *k));
    }
    seen.sort();
    let mut all = keys.to_vec();
    all.sort();
    assert_eq!(seen, all);
}

#[test]
fn activity_pages_newest_first_and_message_ids_are_found() {
    let mut s = FarmState::default();
    for n in 1..=5u8 {
        file(
            &mut s,
            u64::from(n) * 10,
            key(n),
            delivered(),
            &format!("<m{n}@x>"),
        );
    }
    file(&mut s, 60, key(6), delivered(), "<m2@x>");
    let page1 = s.recent_activity(None, 4);
    let keys1: Vec<_> = page1.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys1, vec![key(6), key(5), key(4), key(3)]);
    let (last_key, last) = page1[3];
    let page2 = s.recent_activity(Some((last.finished_at, last_key)), 4);
    let keys2: Vec<_> = page2.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys2, vec![key(2), key(1)]);
    assert_eq!(s.keys_with_message_id("m2@x"), vec![key(6), key(2)]);
    assert_eq!(s.keys_with_message_id(" <m3@x> "), vec![key(3)]);
    assert!(s.keys_with_message_id("<nope@x>").is_empty());
    assert_eq!(
        page1[0].1.about.as_ref().map(|a| a.subject.as_str()),
        Some("Q3 report")
    );
}

#[test]
fn message_about_is_cut_to_bounded_lengths() {
    let long = "é".repeat(5_000);
    let about = MessageAbout::new(Some(&long), &long, &long);
    assert_eq!(about.subject.chars().count(), 200);
    assert_eq!(about.sender.chars().count(), 998);
    assert_eq!(about.message_id.map(|m| m.chars().count()), Some(998));
}

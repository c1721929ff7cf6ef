//! Tests of the claim / lease / ledger state machine: proposals in, responses out.

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

fn claim(state: &mut FarmState, ms: u64, node: NodeId, keys: &[MessageKey]) -> Vec<ClaimResult> {
    match state.apply(&at(
        ms,
        Command::Claim {
            keys: keys.to_vec(),
            node,
            ttl_ms: 1_000,
        },
    )) {
        Response::Claims(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn finish(state: &mut FarmState, ms: u64, k: MessageKey, token: FencingToken) -> FinishResult {
    let outcome = Outcome::Delivered {
        libraries: vec!["docs".into()],
    };
    let items = vec![Finished {
        key: k,
        token,
        outcome,
        about: None,
    }];
    match state.apply(&at(ms, Command::Finish { items })) {
        Response::Finishes(mut r) => r.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

fn token_of(r: &ClaimResult) -> FencingToken {
    match r {
        ClaimResult::Granted { token, .. } => *token,
        other => panic!("not granted: {other:?}"),
    }
}

#[test]
fn batch_claim_grants_increasing_tokens() {
    let mut s = FarmState::default();
    let r = claim(&mut s, 100, 1, &[key(1), key(2), key(3)]);
    let tokens: Vec<_> = r.iter().map(token_of).collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        r[0],
        ClaimResult::Granted {
            token: tokens[0],
            until: Timestamp(1_100)
        }
    );
}

#[test]
fn live_lease_is_held_against_other_nodes() {
    let mut s = FarmState::default();
    claim(&mut s, 100, 1, &[key(1)]);
    assert_eq!(
        claim(&mut s, 500, 2, &[key(1)]),
        vec![ClaimResult::Held {
            by: 1,
            until: Timestamp(1_100)
        }]
    );
}

#[test]
fn expired_lease_goes_to_another_node_and_old_token_is_fenced() {
    let mut s = FarmState::default();
    let old = token_of(&claim(&mut s, 100, 1, &[key(1)])[0]);
    let new = token_of(&claim(&mut s, 1_100, 2, &[key(1)])[0]);
    assert!(new > old);
    assert_eq!(
        finish(&mut s, 1_200, key(1), old),
        FinishResult::Stale { current: Some(new) }
    );
    assert_eq!(finish(&mut s, 1_200, key(1), new), FinishResult::Recorded);
    assert_eq!(
        finish(&mut s, 1_300, key(1), old),
        FinishResult::AlreadyFinished
    );
    assert_eq!(s.ledger_entry(&key(1)).map(|e| e.node), Some(2));
}

#[test]
fn same_node_reclaim_keeps_a_live_token_and_renews_a_lapsed_one() {
    let mut s = FarmState::default();
    // A re-sent claim (or a retried batch) while the lease lives: same token, extended.
    let first = token_of(&claim(&mut s, 100, 1, &[key(1)])[0]);
    let again = claim(&mut s, 200, 1, &[key(1)]);
    assert_eq!(token_of(&again[0]), first);
    assert!(matches!(again[0], ClaimResult::Granted { until, .. } if until > Timestamp(1_100)));
    // After the lease lapsed (a restart after a crash), a new token; the old one is fenced.
    let later = token_of(&claim(&mut s, 5_000, 1, &[key(1)])[0]);
    assert!(later > first);
    assert!(matches!(
        finish(&mut s, 5_100, key(1), first),
        FinishResult::Stale { .. }
    ));
}

#[test]
fn finished_keys_report_their_outcome_to_later_claims() {
    let mut s = FarmState::default();
    let t = token_of(&claim(&mut s, 100, 1, &[key(1)])[0]);
    finish(&mut s, 150, key(1), t);
    assert_eq!(
        claim(&mut s, 5_000, 2, &[key(1)]),
        vec![ClaimResult::Finished {
            outcome: Outcome::Delivered {
                libraries: vec!["docs".into()]
            }
        }]
    );
    assert_eq!(s.leases_len(), 0);
}

#[test]
fn finish_without_any_claim_is_stale() {
    let mut s = FarmState::default();
    assert_eq!(
        finish(&mut s, 1, key(9), FencingToken(1)),
        FinishResult::Stale { current: None }
    );
}

#[test]
fn renew_extends_only_the_current_holder() {
    let mut s = FarmState::default();
    let t = token_of(&claim(&mut s, 100, 1, &[key(1)])[0]);
    let renew = |node, token| Command::Renew {
        leases: vec![(key(1), token)],
        node,
        ttl_ms: 1_000,
    };
    assert_eq!(
        s.apply(&at(900, renew(1, t))),
        Response::Renewals(vec![true])
    );
    assert_eq!(
        s.apply(&at(900, renew(2, t))),
        Response::Renewals(vec![false])
    );
    assert_eq!(
        s.apply(&at(900, renew(1, FencingToken(t.0 + 7)))),
        Response::Renewals(vec![false])
    );
    // renewed at 900 → held until 1900
    assert_eq!(
        claim(&mut s, 1_500, 2, &[key(1)]),
        vec![ClaimResult::Held {
            by: 1,
            until: Timestamp(1_900)
        }]
    );
    // A lapsed lease is not revived by a late renewal.
    assert_eq!(
        s.apply(&at(2_000, renew(1, t))),
        Response::Renewals(vec![false])
    );
}

#[test]
fn time_never_moves_backwards() {
    let mut s = FarmState::default();
    claim(&mut s, 10_000, 1, &[key(1)]);
    // a new leader with a slow clock stamps 5_000: the lease (until 11_000) is still live
    assert!(matches!(
        claim(&mut s, 5_000, 2, &[key(1)])[0],
        ClaimResult::Held { .. }
    ));
    assert_eq!(s.now(), Timestamp(10_000));
}

#[test]
fn ledger_and_lapsed_leases_expire_after_retention() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    cfg.farm.ledger_retention = HumanDuration::from_secs(60);
    s.apply(&at(
        0,
        Command::SetConfig {
            config: Box::new(cfg),
            by: "test".into(),
            expected_version: None,
            file_digest: None,
        },
    ));
    let t = token_of(&claim(&mut s, 1_000, 1, &[key(1), key(2)])[0]);
    finish(&mut s, 1_000, key(1), t);
    assert_eq!((s.ledger_len(), s.leases_len()), (1, 1));
    s.apply(&at(
        60_999,
        Command::Claim {
            keys: vec![],
            node: 1,
            ttl_ms: 1,
        },
    ));
    assert_eq!((s.ledger_len(), s.leases_len()), (1, 1));
    s.apply(&at(
        62_001,
        Command::Claim {
            keys: vec![],
            node: 1,
            ttl_ms: 1,
        },
    ));
    assert_eq!((s.ledger_len(), s.leases_len()), (0, 0));
}

#[test]
fn config_versions_only_on_change_and_invalid_is_refused() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    cfg.libraries
        .push(LibrarySettings::document_library("Docs", "docs"));
    let set = |c: &FarmConfig| Command::SetConfig {
        config: Box::new(c.clone()),
        by: "file".into(),
        expected_version: None,
        file_digest: None,
    };
    assert_eq!(
        s.apply(&at(1, set(&cfg))),
        Response::ConfigSet {
            version: 1,
            changed: true
        }
    );
    assert_eq!(
        s.apply(&at(2, set(&cfg))),
        Response::ConfigSet {
            version: 1,
            changed: false
        }
    );
    cfg.libraries
        .push(LibrarySettings::document_library("Bad", "a b"));
    match s.apply(&at(3, set(&cfg))) {
        Response::ConfigRefused { problems } => assert!(problems[0].contains("\"a b\"")),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.config_version(), 1);
    assert_eq!(
        s.config_history()[0],
        ConfigChange {
            version: 1,
            at: Timestamp(1),
            by: "file".into(),
            changes: vec!["library \"docs\": added (name \"Docs\")".into()],
        }
    );
}

#[test]
fn snapshot_round_trip_keeps_behaviour() {
    let mut s = FarmState::default();
    let mut cfg = FarmConfig::default();
    cfg.farm.ledger_retention = HumanDuration::from_secs(60);
    s.apply(&at(
        0,
        Command::SetConfig {
            config: Box::new(cfg),
            by: "t".into(),
            expected_version: None,
            file_digest: None,
        },
    ));
    for i in 0..20u8 {
        let t = token_of(&claim(&mut s, u64::from(i) * 1_000, 1, &[key(i)])[0]);
        if i % 2 == 0 {
            finish(&mut s, u64::from(i) * 1_000, key(i), t);
        }
    }
    let json = serde_json::to_vec(&s).unwrap();
    let mut restored: FarmState = serde_json::from_slice(&json).unwrap();
    assert_eq!(restored, s);
    let p = at(
        75_000,
        Command::Claim {
            keys: vec![key(200)],
            node: 3,
            ttl_ms: 10,
        },
    );
    assert_eq!(restored.apply(&p), s.apply(&p));
    assert_eq!(restored, s);
}

/// Many nodes race for the same keys at random times; whatever the interleaving,
/// each key is recorded at most once and only by its current token holder.
#[test]
fn racing_nodes_never_finish_a_key_twice() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut s = FarmState::default();
    let mut held: Vec<(NodeId, MessageKey, FencingToken)> = Vec::new();
    let mut recorded = std::collections::HashMap::new();
    let mut now = 0;
    for _ in 0..20_000 {
        now += rand(300);
        let node = rand(3) + 1;
        let k = key(u8::try_from(rand(40)).unwrap());
        if rand(2) == 0 {
            if let ClaimResult::Granted { token, .. } = claim(&mut s, now, node, &[k])[0] {
                held.push((node, k, token));
            }
        } else if !held.is_empty() {
            let i = usize::try_from(rand(held.len() as u64)).unwrap();
            let (_, k, token) = held.swap_remove(i);
            if finish(&mut s, now, k, token) == FinishResult::Recorded {
                assert!(
                    recorded.insert(k, token).is_none(),
                    "key {k:?} recorded twice"
                );
                let current = s.ledger_entry(&k).unwrap();
                assert_eq!(current.finished_at, Timestamp(now.max(s.now().0)));
            }
        }
    }
    assert!(!recorded.is_empty());
}

//! Test support for the session tests: a fake farm (`RecipientCheck`), a
//! test configuration, and a driver that feeds a script to a [`Session`]
//! in chosen pieces and records every action, answering `EndMessage`
//! with `stored()` the way the IO layer does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};

use super::{Phase, Session};
use crate::{Action, PeerInfo, RcptDecision, RecipientCheck, SessionConfig, StoreOutcome};

/// Domain `farm.test`: `docs` and `team` accepted, `closed` (and any other alias) unknown, `paused` a temporary refusal; other domains relay.
pub(crate) struct Farm;

impl RecipientCheck for Farm {
    fn check(&self, address: &str) -> RcptDecision {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return RcptDecision::Unknown {
                reason: format!("{address}: no such alias"),
            };
        };
        if !domain.eq_ignore_ascii_case("farm.test") {
            return RcptDecision::Relay;
        }
        match local.to_ascii_lowercase().as_str() {
            "docs" | "team" => RcptDecision::Accept,
            "closed" => RcptDecision::Unknown {
                reason: format!("{address}: library is disabled"),
            },
            "paused" => RcptDecision::Paused {
                reason: "incoming e-mail is turned off".to_string(),
            },
            _ => RcptDecision::Unknown {
                reason: format!("{address}: no such alias"),
            },
        }
    }
}

pub(crate) fn config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.farm.test".to_string(),
        max_message_size: 1000,
        max_recipients: 3,
        max_line_length: 100,
        max_session_size: 100_000,
        max_errors: 5,
        starttls: true,
    }
}

pub(crate) fn peer() -> PeerInfo {
    PeerInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        port: 40000,
    }
}

/// How the driver answers `EndMessage`.
#[derive(Clone, Copy)]
pub(crate) enum Store {
    Ok,
    Fail,
}

/// Everything a session produced.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub actions: Vec<Action>,
}

impl Run {
    /// The reply lines, one-line form (`250 2.1.0 sender ok`).
    pub fn replies(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply(r) => Some(r.to_string()),
                _ => None,
            })
            .collect()
    }

    /// `"250 2.1.0"`-style code + status of every reply.
    pub fn codes(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply(r) => Some(match r.status() {
                    Some(s) => format!("{} {s}", r.code()),
                    None => r.code().to_string(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The wire bytes of every reply, concatenated.
    pub fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for a in &self.actions {
            if let Action::Reply(r) = a {
                r.write_to(&mut out);
            }
        }
        out
    }

    /// All content, concatenated.
    pub fn content(&self) -> Vec<u8> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Content(c) => Some(c.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// The content of each message that reached EndMessage.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut current = Vec::new();
        for a in &self.actions {
            match a {
                Action::BeginMessage(_) => current.clear(),
                Action::Content(c) => current.extend_from_slice(c),
                Action::EndMessage => out.push(std::mem::take(&mut current)),
                _ => {}
            }
        }
        out
    }

    pub fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|a| pred(a)).count()
    }

    pub fn logs(&self) -> Vec<crate::TransactionLog> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Transaction(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn envelopes(&self) -> Vec<crate::Envelope> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::BeginMessage(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn closed(&self) -> bool {
        self.actions.last() == Some(&Action::Close)
    }

    /// The actions with consecutive Content merged (the split of content
    /// into chunks depends on how the input arrived; nothing else may).
    pub fn normalized(&self) -> Vec<Action> {
        let mut out: Vec<Action> = Vec::new();
        for a in &self.actions {
            if let (Action::Content(c), Some(Action::Content(prev))) = (a, out.last_mut()) {
                prev.extend_from_slice(c);
            } else {
                out.push(a.clone());
            }
        }
        out
    }
}

/// Drives `session` until it wants input, answering EndMessage with `store`.
pub(crate) fn drain(session: &mut Session, run: &mut Run, store: Store, stored_count: &mut usize) {
    loop {
        match session.next_action(&Farm) {
            Some(Action::EndMessage) => {
                run.actions.push(Action::EndMessage);
                assert_eq!(session.phase(), Phase::AwaitingStore);
                // Nothing at all until the store answers.
                assert_eq!(session.next_action(&Farm), None);
                assert_eq!(session.next_action(&Farm), None);
                *stored_count += 1;
                session.stored(match store {
                    Store::Ok => StoreOutcome::Stored {
                        id: format!("m{stored_count}"),
                    },
                    Store::Fail => StoreOutcome::Failed {
                        reason: "disk full".to_string(),
                    },
                });
            }
            Some(Action::StartTls) => {
                run.actions.push(Action::StartTls);
                session.tls_established();
            }
            Some(a) => {
                let close = a == Action::Close;
                run.actions.push(a);
                if close {
                    assert_eq!(session.next_action(&Farm), None);
                    assert_eq!(session.phase(), Phase::Closed);
                }
            }
            None => return,
        }
    }
}

/// Feeds `pieces` one `receive` each (draining after each), then EOF if asked.
pub(crate) fn drive_with(config: SessionConfig, pieces: &[&[u8]], eof: bool, store: Store) -> Run {
    let mut session = Session::new(config, peer());
    let mut run = Run::default();
    let mut stored = 0;
    for piece in pieces {
        session.receive(piece);
        drain(&mut session, &mut run, store, &mut stored);
    }
    if eof {
        session.eof();
        drain(&mut session, &mut run, store, &mut stored);
    }
    run
}

/// The whole script in one `receive`, no EOF.
pub(crate) fn run(script: &[u8]) -> Run {
    drive_with(config(), &[script], false, Store::Ok)
}

/// The script one byte per `receive`, no EOF.
pub(crate) fn run_bytewise(script: &[u8]) -> Run {
    let pieces: Vec<&[u8]> = script.chunks(1).collect();
    drive_with(config(), &pieces, false, Store::Ok)
}

/// Runs the script whole and byte by byte, asserts both give the same
/// actions (content merged), and returns the whole run.
pub(crate) fn run_both(script: &[u8]) -> Run {
    let whole = run(script);
    let bytes = run_bytewise(script);
    assert_eq!(
        whole.normalized(),
        bytes.normalized(),
        "whole vs byte-by-byte differ for {:?}",
        String::from_utf8_lossy(script)
    );
    whole
}

/// The usual opening: EHLO, MAIL, RCPT docs.
pub(crate) const OPEN: &str =
    "EHLO client.example\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<docs@farm.test>\r\n";

/// `OPEN` + DATA + `body` (which must contain the end marker itself) + QUIT.
pub(crate) fn data_script(body: &[u8]) -> Vec<u8> {
    let mut s = OPEN.as_bytes().to_vec();
    s.extend_from_slice(b"DATA\r\n");
    s.extend_from_slice(body);
    s.extend_from_slice(b"QUIT\r\n");
    s
}

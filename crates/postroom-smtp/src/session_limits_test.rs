//! Session tests of limits and endings: line length, bad bytes in
//! commands, max_errors, max_recipients, session size, EOF, timeout,
//! shutdown (idle and mid-transaction), and silence after Close.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_support::*;
use super::*;
use crate::{Action, StoreOutcome};

#[test]
fn line_too_long_is_refused_and_skipped() {
    let mut script = b"NOOP ".to_vec();
    script.extend_from_slice(&[b'x'; 300]);
    script.extend_from_slice(b"\r\nNOOP\r\n");
    let r = run_both(&script);
    assert_eq!(r.replies(), ["500 5.5.2 line too long", "250 2.0.0 ok"]);
    // Exactly max_line_length (100), CRLF included, is fine.
    let mut line = b"NOOP ".to_vec();
    line.extend_from_slice(&[b'y'; 93]);
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 100);
    assert_eq!(run_both(&line).codes(), ["250 2.0.0"]);
    line.insert(5, b'z');
    assert_eq!(run_both(&line).codes(), ["500 5.5.2"]);
}

#[test]
fn a_long_line_is_not_buffered() {
    let mut s = Session::new(config(), peer());
    let mut run = Run::default();
    let mut n = 0;
    for _ in 0..50 {
        s.receive(&[b'x'; 64]);
        drain(&mut s, &mut run, Store::Ok, &mut n);
        assert!(s.input().len() < 100);
        assert!(s.has_partial_input());
    }
    s.receive(b"\nNOOP\r\n");
    drain(&mut s, &mut run, Store::Ok, &mut n);
    assert_eq!(run.codes(), ["500 5.5.2", "250 2.0.0"]);
    assert!(!s.has_partial_input());
}

#[test]
fn bad_bytes_in_commands() {
    let r = run_both(b"NO\0OP\r\nNOOP\rNOOP\r\nNOOP \xc3\x28\r\nNOOP \xc3\xa9\r\n");
    assert_eq!(
        r.replies(),
        [
            "500 5.5.2 syntax error: NUL byte at offset 2 in command line",
            "500 5.5.2 syntax error: bare CR at offset 4 in command line",
            "500 5.5.2 syntax error: invalid UTF-8 at offset 5 in command line",
            "250 2.0.0 ok"
        ]
    );
}

#[test]
fn too_many_errors_closes() {
    let r = run_both(b"A\r\nB\r\nC\r\nD\r\nE\r\nEHLO c\r\nMAIL FROM:<a@b>\r\nF\r\nNOOP\r\n");
    assert_eq!(
        r.codes(),
        [
            "500 5.5.1",
            "500 5.5.1",
            "500 5.5.1",
            "500 5.5.1",
            "500 5.5.1",
            "250",
            "250 2.1.0",
            "500 5.5.1",
            "421 4.7.0"
        ]
    );
    assert_eq!(r.replies().last().unwrap(), "421 4.7.0 too many errors");
    assert_eq!(r.logs()[0].reply, "421 4.7.0 too many errors");
    assert!(r.closed());
}

#[test]
fn too_many_recipients() {
    let mut cfg = config();
    cfg.max_recipients = 1;
    let script = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<docs@farm.test>\r\nRCPT TO:<team@farm.test>\r\nRCPT TO:<docs@farm.test>\r\n";
    let r = drive_with(cfg, &[script], false, Store::Ok);
    assert_eq!(r.codes()[2..], ["250 2.1.5", "452 4.5.3", "250 2.1.5"]);
    assert_eq!(r.replies()[3], "452 4.5.3 too many recipients");
}

#[test]
fn session_size_limit() {
    let mut cfg = config();
    cfg.max_session_size = 300;
    let open = format!("{OPEN}DATA\r\n");
    let r = drive_with(
        cfg,
        &[open.as_bytes(), &[b'x'; 150], &[b'y'; 150], b"\r\n.\r\n"],
        false,
        Store::Ok,
    );
    let n = r.actions.len();
    assert_eq!(r.actions[n - 4], Action::AbortMessage);
    assert_eq!(
        r.actions[n - 3],
        Action::Reply(Reply::new(421, "4.7.0", "session size limit exceeded"))
    );
    assert!(
        matches!(&r.actions[n - 2], Action::Transaction(l) if l.reply == "421 4.7.0 session size limit exceeded")
    );
    assert_eq!(r.actions[n - 1], Action::Close);
    assert_eq!(r.count(|a| *a == Action::EndMessage), 0);
}

#[test]
fn eof_drops_a_partial_line_after_finishing_complete_ones() {
    let r = drive_with(
        config(),
        &[b"EHLO c\r\nMAIL FROM:<a@b>\r\nNOOP\r\nRCPT TO:<docs"],
        true,
        Store::Ok,
    );
    assert_eq!(r.codes(), ["250", "250 2.1.0", "250 2.0.0"]);
    assert!(matches!(&r.actions[3], Action::Transaction(l) if l.reply == "connection closed"));
    assert_eq!(r.actions[4], Action::Close);
    let r = drive_with(config(), &[b"NOOP\r\nQUI"], true, Store::Ok);
    assert_eq!(r.actions[1..], [Action::Close]);
}

#[test]
fn eof_while_storing_waits_for_the_store() {
    let mut s = Session::new(config(), peer());
    s.receive(
        data_script(b"x\r\n.\r\n")
            .strip_suffix(b"QUIT\r\n")
            .unwrap(),
    );
    while s.next_action(&Farm) != Some(Action::EndMessage) {}
    s.eof();
    s.timed_out();
    assert_eq!(s.next_action(&Farm), None);
    s.stored(StoreOutcome::Stored { id: "k".into() });
    assert_eq!(
        s.next_action(&Farm),
        Some(Action::Reply(Reply::new(250, "2.0.0", "queued as k")))
    );
    assert!(matches!(s.next_action(&Farm), Some(Action::Transaction(_))));
    assert!(matches!(s.next_action(&Farm), Some(Action::Reply(r)) if r.code() == 421));
    assert_eq!(s.next_action(&Farm), Some(Action::Close));
    assert_eq!(s.next_action(&Farm), None);
}

#[test]
fn timeout() {
    let mut s = Session::new(config(), peer());
    s.receive(format!("{OPEN}DATA\r\nsome").as_bytes());
    let mut run = Run::default();
    let mut n = 0;
    drain(&mut s, &mut run, Store::Ok, &mut n);
    s.timed_out();
    let before = run.actions.len();
    drain(&mut s, &mut run, Store::Ok, &mut n);
    let tail = &run.actions[before..];
    assert_eq!(tail[0], Action::AbortMessage);
    assert_eq!(
        tail[1],
        Action::Reply(Reply::new(
            421,
            "4.4.2",
            "mx.farm.test timeout, closing connection"
        ))
    );
    assert!(matches!(&tail[2], Action::Transaction(l) if l.reply == "timeout" && l.size == 4));
    assert_eq!(tail[3..], [Action::Close]);

    let mut s = Session::new(config(), peer());
    s.timed_out();
    assert_eq!(
        s.next_action(&Farm).unwrap(),
        Action::Reply(Reply::new(
            421,
            "4.4.2",
            "mx.farm.test timeout, closing connection"
        ))
    );
    assert_eq!(s.next_action(&Farm), Some(Action::Close));
}

#[test]
fn shutdown_when_idle_drops_pending_input() {
    let mut s = Session::new(config(), peer());
    s.shutting_down();
    s.receive(b"EHLO c\r\nNOOP\r\n");
    assert_eq!(
        s.next_action(&Farm),
        Some(Action::Reply(Reply::new(
            421,
            "4.3.2",
            "mx.farm.test shutting down"
        )))
    );
    assert_eq!(s.next_action(&Farm), Some(Action::Close));
    assert_eq!(s.next_action(&Farm), None);
}

#[test]
fn shutdown_mid_transaction_finishes_it_first() {
    let mut s = Session::new(config(), peer());
    let mut run = Run::default();
    let mut n = 0;
    s.receive(OPEN.as_bytes());
    drain(&mut s, &mut run, Store::Ok, &mut n);
    s.shutting_down();
    s.receive(b"RCPT TO:<team@farm.test>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n");
    drain(&mut s, &mut run, Store::Ok, &mut n);
    assert_eq!(
        run.codes()[3..],
        ["250 2.1.5", "354", "250 2.0.0", "421 4.3.2"]
    );
    assert_eq!(run.messages(), [b"body\r\n".to_vec()]);
    assert_eq!(run.logs().len(), 1);
    assert!(run.closed());
    // RSET ends the transaction too.
    let mut s = Session::new(config(), peer());
    s.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    while s.next_action(&Farm).is_some() {}
    s.shutting_down();
    s.receive(b"RSET\r\nNOOP\r\n");
    let mut run = Run::default();
    drain(&mut s, &mut run, Store::Ok, &mut n);
    assert_eq!(run.codes(), ["250 2.0.0", "421 4.3.2"]);
}

#[test]
fn nothing_after_close() {
    let mut s = Session::new(config(), peer());
    s.receive(b"QUIT\r\nNOOP\r\n");
    assert!(matches!(s.next_action(&Farm), Some(Action::Reply(_))));
    assert_eq!(s.next_action(&Farm), Some(Action::Close));
    s.receive(b"NOOP\r\n");
    s.eof();
    s.timed_out();
    s.shutting_down();
    s.stored(StoreOutcome::Stored { id: "x".into() });
    s.tls_established();
    assert_eq!(s.next_action(&Farm), None);
    assert_eq!(s.phase(), Phase::Closed);
    assert!(!s.has_partial_input());
}

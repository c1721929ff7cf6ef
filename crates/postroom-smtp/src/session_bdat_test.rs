//! Session tests of BDAT (RFC 3030): chunks, LAST, `BDAT 0 LAST`, refused
//! chunks still consumed, size limit, mixing with DATA/RCPT/RSET/QUIT, EOF.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_support::*;
use crate::Action;

#[test]
fn chunks_then_last() {
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 7\r\nhello\r\nBDAT 14 LAST\r\n.\r\nMAIL FROM:\nQUIT\r\n");
    let r = run_both(&script);
    assert_eq!(r.messages(), [b"hello\r\n.\r\nMAIL FROM:\n".to_vec()]);
    assert_eq!(
        r.replies()[3..],
        [
            "250 2.0.0 7 octets received",
            "250 2.0.0 queued as m1",
            "221 2.0.0 bye"
        ]
    );
    assert_eq!(r.logs()[0].size, 21);
    assert_eq!(r.envelopes()[0].protocol, "ESMTP");
    let whole = run(&script);
    assert_eq!(
        whole.actions[3..6],
        [
            Action::BeginMessage(whole.envelopes()[0].clone()),
            Action::Content(b"hello\r\n".to_vec()),
            Action::Reply(crate::Reply::new(250, "2.0.0", "7 octets received"))
        ]
    );
}

#[test]
fn bdat_zero_last() {
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 0 LAST\r\nMAIL FROM:<a@b>\r\nRCPT TO:<docs@farm.test>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\n");
    let r = run_both(&script);
    assert_eq!(r.messages(), [Vec::new(), b"abc".to_vec()]);
    assert_eq!(
        r.codes()[3..],
        [
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "250 2.0.0",
            "250 2.0.0"
        ]
    );
}

#[test]
fn refused_bdat_is_still_consumed() {
    let r = run_both(b"EHLO c\r\nBDAT 12\r\nRSET\r\nQUIT\r\nNOOP\r\nMAIL FROM:<a@b>\r\nBDAT 6 LAST\r\nQUIT\r\nRSET\r\n");
    assert_eq!(
        r.replies()[1..],
        [
            "503 5.5.1 need MAIL before BDAT",
            "250 2.0.0 ok",
            "250 2.1.0 sender ok",
            "554 5.5.1 no valid recipients",
            "250 2.0.0 ok"
        ]
    );
    assert!(!r.closed());
    assert_eq!(r.count(|a| matches!(a, Action::BeginMessage(_))), 0);
    assert_eq!(r.logs()[0].reply, "RSET");
}

#[test]
fn malformed_bdat_size_consumes_nothing() {
    let r = run_both(b"EHLO c\r\nBDAT ten\r\nNOOP\r\n");
    assert_eq!(r.codes(), ["250", "501 5.5.4", "250 2.0.0"]);
}

#[test]
fn bdat_over_the_size_limit() {
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 600\r\n");
    script.extend_from_slice(&[b'a'; 600]);
    script.extend_from_slice(b"BDAT 600 LAST\r\n");
    script.extend_from_slice(&[b'b'; 600]);
    script.extend_from_slice(b"NOOP\r\n");
    let r = run_both(&script);
    assert_eq!(
        r.replies()[3..],
        [
            "250 2.0.0 600 octets received",
            "552 5.3.4 message size exceeds fixed maximum message size",
            "250 2.0.0 ok"
        ]
    );
    assert_eq!(r.count(|a| *a == Action::AbortMessage), 1);
    assert_eq!(r.content(), vec![b'a'; 600]);
    let log = &r.logs()[0];
    assert_eq!(
        (log.size, log.reply.as_str()),
        (
            1200,
            "552 5.3.4 message size exceeds fixed maximum message size"
        )
    );

    // A first chunk too big never begins a message; later chunks find no transaction.
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 1001\r\n");
    script.extend_from_slice(&[b'c'; 1001]);
    script.extend_from_slice(b"BDAT 1 LAST\r\nx");
    let r = run_both(&script);
    assert_eq!(r.codes()[3..], ["552 5.3.4", "503 5.5.1"]);
    assert_eq!(
        r.count(|a| matches!(a, Action::BeginMessage(_) | Action::AbortMessage)),
        0
    );
    assert_eq!(r.logs()[0].size, 1001);
}

#[test]
fn no_data_or_rcpt_between_chunks_and_rset_aborts() {
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 2\r\nabDATA\r\nRCPT TO:<team@farm.test>\r\nRSET\r\nNOOP\r\n");
    let r = run_both(&script);
    assert_eq!(
        r.codes()[3..],
        [
            "250 2.0.0",
            "503 5.5.1",
            "503 5.5.1",
            "250 2.0.0",
            "250 2.0.0"
        ]
    );
    assert_eq!(r.replies()[4], "503 5.5.1 DATA not allowed after BDAT");
    let abort = r
        .actions
        .iter()
        .position(|a| *a == Action::AbortMessage)
        .unwrap();
    assert_eq!(
        r.actions[abort + 1],
        Action::Reply(crate::Reply::new(250, "2.0.0", "ok"))
    );
    assert!(
        matches!(&r.actions[abort + 2], Action::Transaction(l) if l.reply == "RSET" && l.size == 2)
    );
}

#[test]
fn quit_and_eof_between_or_inside_chunks() {
    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 2\r\nabQUIT\r\n");
    let r = run_both(&script);
    let n = r.actions.len();
    assert_eq!(r.actions[n - 4], Action::AbortMessage);
    assert_eq!(
        r.actions[n - 3],
        Action::Reply(crate::Reply::new(221, "2.0.0", "bye"))
    );
    assert!(matches!(&r.actions[n - 2], Action::Transaction(l) if l.reply == "QUIT"));

    let mut script = OPEN.as_bytes().to_vec();
    script.extend_from_slice(b"BDAT 20 LAST\r\nonly part");
    let r = drive_with(config(), &[&script], true, Store::Ok);
    let n = r.actions.len();
    assert_eq!(r.actions[n - 4], Action::Content(b"only part".to_vec()));
    assert_eq!(r.actions[n - 3], Action::AbortMessage);
    assert!(
        matches!(&r.actions[n - 2], Action::Transaction(l) if l.reply == "connection closed" && l.size == 9)
    );
    assert_eq!(r.actions[n - 1], Action::Close);
}

#[test]
fn binarymime_with_bdat() {
    let r = run_both(b"EHLO c\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\nRCPT TO:<docs@farm.test>\r\nBDAT 4 LAST\r\n\0\r\n\xff");
    assert_eq!(r.messages(), [b"\0\r\n\xff".to_vec()]);
    assert!(r.envelopes()[0].eight_bit);
}

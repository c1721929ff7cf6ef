//! Session tests of DATA: every smuggling near-miss (none may end DATA or
//! start a second message), dot-unstuffing, the empty message, size limit
//! during DATA, EOF mid-DATA, and bounded buffering of a large message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_support::*;
use super::*;
use crate::Action;

/// The commands a smuggler hides after a fake end marker.
const HIDDEN: &[u8] =
    b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<team@farm.test>\r\nDATA\r\nsmuggled\r\n";

#[test]
fn smuggling_near_misses_never_end_data() {
    // (fake end marker, how it must appear in the content)
    let cases: &[(&[u8], &[u8])] = &[
        (b"\n.\r\n", b"\n.\r\n"),
        (b"\r\n.\n", b"\r\n\n"), // a leading dot not followed by CR LF is unstuffed
        (b"\n.\n", b"\n.\n"),
        (b"\r.\r\n", b"\r.\r\n"),
        (b"\n", b"\n"),
        (b"\r", b"\r"),
        (b"\r\n.\r\r\n", b"\r\n\r\r\n"),
        (b"\r\n.\rX\r\n", b"\r\n\rX\r\n"),
        (b"\n.\r", b"\n.\r"),
        (b"\r\n \r\n.\n\r\n", b"\r\n \r\n\n\r\n"),
    ];
    for (fake, kept) in cases {
        let mut body = b"Subject: x\r\n\r\nbefore".to_vec();
        body.extend_from_slice(fake);
        body.extend_from_slice(HIDDEN);
        body.extend_from_slice(b".\r\n");
        let r = run_both(&data_script(&body));
        let shown = String::from_utf8_lossy(fake);
        assert_eq!(
            r.count(|a| matches!(a, Action::BeginMessage(_))),
            1,
            "{shown:?}"
        );
        let mut expected = b"Subject: x\r\n\r\nbefore".to_vec();
        expected.extend_from_slice(kept);
        expected.extend_from_slice(HIDDEN);
        assert_eq!(r.messages(), [expected], "{shown:?}");
        assert_eq!(
            r.codes(),
            [
                "250",
                "250 2.1.0",
                "250 2.1.5",
                "354",
                "250 2.0.0",
                "221 2.0.0"
            ],
            "{shown:?}"
        );
        assert_eq!(r.envelopes()[0].recipients, ["docs@farm.test"]);
        assert!(r.closed());
    }
}

#[test]
fn only_crlf_dot_crlf_ends_data_and_what_follows_is_commands() {
    let r = run_both(&data_script(b"a\r\n.\r\nNOOP\r\n"));
    assert_eq!(r.messages(), [b"a\r\n".to_vec()]);
    assert_eq!(r.codes()[4..], ["250 2.0.0", "250 2.0.0", "221 2.0.0"]);
}

#[test]
fn dot_unstuffing() {
    let r = run_both(&data_script(b"..\r\n...\r\n.x\r\nx.\r\n. \r\n.\r\n"));
    assert_eq!(r.messages(), [b".\r\n..\r\nx\r\nx.\r\n \r\n".to_vec()]);
    assert_eq!(r.logs()[0].size, 17);
}

#[test]
fn dot_line_first_is_an_empty_message() {
    let r = run_both(&data_script(b".\r\n"));
    assert_eq!(r.messages(), [Vec::<u8>::new()]);
    assert_eq!(r.count(|a| matches!(a, Action::Content(_))), 0);
    assert_eq!(r.logs()[0].size, 0);
}

#[test]
fn line_endings_and_binary_pass_through() {
    let body = b"a\nb\rc\r\n\0\xff\xfe\r\n\r\n".to_vec();
    let mut script = body.clone();
    script.extend_from_slice(b".\r\n");
    let r = run_both(&data_script(&script));
    assert_eq!(r.messages(), [body]);
}

#[test]
fn data_over_the_size_limit_is_consumed_then_refused() {
    let mut body = Vec::new();
    for i in 0..30 {
        body.extend_from_slice(
            format!("line {i:02} ......................................\r\n").as_bytes(),
        );
    }
    assert!(body.len() > 1000);
    body.extend_from_slice(b".\r\n");
    let mut script = data_script(&body);
    script.truncate(script.len() - 6);
    script.extend_from_slice(b"MAIL FROM:<a@b>\r\nQUIT\r\n");
    for r in [run(&script), run_bytewise(&script)] {
        assert_eq!(r.count(|a| *a == Action::AbortMessage), 1);
        assert_eq!(r.count(|a| *a == Action::EndMessage), 0);
        let abort = r
            .actions
            .iter()
            .position(|a| *a == Action::AbortMessage)
            .unwrap();
        assert!(!r.actions[abort..]
            .iter()
            .any(|a| matches!(a, Action::Content(_))));
        assert!(r.content().len() <= 1000);
        assert_eq!(
            r.replies()[4..],
            [
                "552 5.3.4 message size exceeds fixed maximum message size",
                "250 2.1.0 sender ok",
                "221 2.0.0 bye"
            ]
        );
        let logs = r.logs();
        assert_eq!(
            logs[0].reply,
            "552 5.3.4 message size exceeds fixed maximum message size"
        );
        assert_eq!(logs[0].size, body.len() as u64 - 3);
        assert_eq!(logs[1].reply, "QUIT");
    }
}

#[test]
fn eof_mid_data_aborts() {
    let r = drive_with(
        config(),
        &[&data_script(b"partial\r\n.")[..]],
        true,
        Store::Ok,
    );
    // data_script appended QUIT, which is content here.
    let n = r.actions.len();
    assert_eq!(r.actions[n - 3], Action::AbortMessage);
    let Action::Transaction(log) = &r.actions[n - 2] else {
        panic!("{:?}", r.actions)
    };
    assert_eq!(log.reply, "connection closed");
    assert_eq!(r.actions[n - 1], Action::Close);
    assert_eq!(r.codes().last().unwrap(), "354");
}

#[test]
fn large_message_is_streamed_with_bounded_buffering() {
    let mut cfg = config();
    cfg.max_message_size = 10_000_000;
    cfg.max_session_size = 20_000_000;
    let mut s = Session::new(cfg, peer());
    let mut run = Run::default();
    let mut stored = 0;
    s.receive(format!("{OPEN}DATA\r\n").as_bytes());
    drain(&mut s, &mut run, Store::Ok, &mut stored);
    let mut message = Vec::new();
    let mut i = 0u32;
    while message.len() < 3_000_000 {
        message.extend_from_slice(
            format!("{i:08} the quick brown fox jumps over the lazy dog\r\n").as_bytes(),
        );
        i += 1;
    }
    let mut wire = message.clone();
    wire.extend_from_slice(b".\r\nQUIT\r\n");
    let mut contents = 0;
    for read in wire.chunks(65_536) {
        s.receive(read);
        assert!(s.buf.len() <= 65_536, "buffer holds {} bytes", s.buf.len());
        let before = run.actions.len();
        drain(&mut s, &mut run, Store::Ok, &mut stored);
        contents += run.actions[before..]
            .iter()
            .filter(|a| matches!(a, Action::Content(_)))
            .count();
        assert!(s.input().is_empty() || s.phase() == Phase::Closed);
    }
    assert!(
        contents <= wire.len() / 65_536 + 1,
        "content is emitted per read, not per line"
    );
    assert_eq!(run.messages(), [message]);
    assert!(run.closed());
}

//! Randomized session tests with a deterministic xorshift PRNG: thousands
//! of byte strings mixing command words, CR/LF/dots/NUL/high bytes, fed
//! in random splits. Checks: no panic, the same actions whatever the
//! split, messages well bracketed, nothing after Close, bounded buffering,
//! one transaction log per accepted MAIL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_support::*;
use super::*;
use crate::test_rng::XorShift;
use crate::Action;

const TOKENS: &[&[u8]] = &[
    b"EHLO c\r\n",
    b"HELO h\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> SIZE=10 BODY=8BITMIME\r\n",
    b"MAIL FROM:<a@b> BODY=BINARYMIME\r\n",
    b"RCPT TO:<docs@farm.test>\r\n",
    b"RCPT TO:<team@farm.test>\r\n",
    b"RCPT TO:<closed@farm.test>\r\n",
    b"RCPT TO:<x@else.example>\r\n",
    b"DATA\r\n",
    b"BDAT 3\r\n",
    b"BDAT 5 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT 700\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"VRFY x\r\n",
    b"\r\n.\r\n",
    b".\r\n",
    b"..",
    b".",
    b"\r",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xc3\xa9",
    b"abc",
    b"MAIL",
    b" ",
    b"x",
];

fn random_script(rng: &mut XorShift, tokens: &[&[u8]], max_tokens: usize) -> Vec<u8> {
    let mut script = Vec::new();
    if rng.below(4) != 0 {
        script.extend_from_slice(OPEN.as_bytes());
    }
    for _ in 0..rng.below(max_tokens + 1) {
        match rng.below(20) {
            0 => script.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
            1 => script.extend(std::iter::repeat_n(b'y', rng.below(150))),
            2..=4 => script.extend_from_slice(MESSAGE_STARTS[rng.below(MESSAGE_STARTS.len())]),
            _ => script.extend_from_slice(tokens[rng.below(tokens.len())]),
        }
    }
    script
}

/// Starts of a message, so that many scripts get into content.
const MESSAGE_STARTS: &[&[u8]] = &[
    b"DATA\r\n",
    b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
    b"MAIL FROM:<a@b>\r\nRCPT TO:<team@farm.test>\r\nDATA\r\n",
    b"BDAT 4\r\nab\r\n",
    b"BDAT 3 LAST\r\n",
    b"MAIL FROM:<a@b>\r\nRCPT TO:<docs@farm.test>\r\nBDAT 2\r\n",
];

fn random_pieces<'a>(rng: &mut XorShift, script: &'a [u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut pos = 0;
    while pos < script.len() {
        let n = match rng.below(4) {
            0 => 1,
            1 => 1 + rng.below(4),
            2 => 1 + rng.below(40),
            _ => script.len(),
        };
        let end = (pos + n).min(script.len());
        pieces.push(&script[pos..end]);
        pos = end;
    }
    pieces
}

fn fuzz_config() -> SessionConfig {
    let mut cfg = config();
    cfg.max_errors = 40;
    cfg
}

/// Protocol invariants over one session's actions.
fn check(actions: &[Action], ended: bool) {
    let (mut open, mut closed, mut mails, mut logs) = (false, false, 0, 0);
    for a in actions {
        assert!(!closed, "action after Close: {a:?}");
        match a {
            Action::BeginMessage(env) => {
                assert!(!open, "nested BeginMessage");
                assert!(!env.recipients.is_empty());
                open = true;
            }
            Action::Content(c) => {
                assert!(open, "Content outside a message");
                assert!(!c.is_empty(), "empty Content");
            }
            Action::EndMessage | Action::AbortMessage => {
                assert!(open, "{a:?} without a message");
                open = false;
            }
            Action::Transaction(_) => {
                assert!(!open, "log while a message is open");
                logs += 1;
            }
            Action::Reply(r) => {
                assert!((200..600).contains(&r.code()));
                if r.code() == 250 && r.status() == Some("2.1.0") {
                    mails += 1;
                }
                let wire = r.to_bytes();
                assert!(wire.len() <= 512 || r.lines().len() > 1);
                assert_eq!(
                    wire.iter().filter(|&&b| b == b'\n').count(),
                    r.lines().len()
                );
            }
            Action::Close => closed = true,
            Action::StartTls => {}
        }
    }
    if ended {
        assert!(closed, "session did not close after EOF");
        assert!(!open);
        assert_eq!(mails, logs, "one transaction log per accepted MAIL");
    }
}

#[test]
fn any_split_gives_the_same_actions() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (mut ended, mut aborted, mut chunked) = (0, 0, 0);
    for round in 0..3000 {
        let script = random_script(&mut rng, TOKENS, 40);
        let whole = drive_with(fuzz_config(), &[&script], true, Store::Ok);
        let pieces = random_pieces(&mut rng, &script);
        let split = drive_with(fuzz_config(), &pieces, true, Store::Ok);
        assert_eq!(
            whole.normalized(),
            split.normalized(),
            "round {round}: {:?}",
            String::from_utf8_lossy(&script)
        );
        check(&whole.actions, true);
        ended += usize::from(whole.count(|a| *a == Action::EndMessage) > 0);
        aborted += usize::from(whole.count(|a| *a == Action::AbortMessage) > 0);
        chunked += usize::from(
            whole
                .replies()
                .iter()
                .any(|r| r.ends_with("octets received")),
        );
        if round % 10 == 0 {
            let pieces: Vec<&[u8]> = script.chunks(1).collect();
            let bytes = drive_with(fuzz_config(), &pieces, true, Store::Ok);
            assert_eq!(
                whole.normalized(),
                bytes.normalized(),
                "round {round} byte by byte"
            );
        }
    }
    // The scripts must reach the interesting states, not just error out.
    assert!(
        ended > 100 && aborted > 100 && chunked > 100,
        "{ended} ended, {aborted} aborted, {chunked} chunked"
    );
}

#[test]
fn random_sessions_with_interruptions_never_misbehave() {
    let mut tokens = TOKENS.to_vec();
    tokens.extend_from_slice(&[b"STARTTLS\r\n", b"BDAT 99999999999\r\n", b"BDAT x\r\n"]);
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for round in 0..3000 {
        let script = random_script(&mut rng, &tokens, 60);
        let mut cfg = fuzz_config();
        cfg.max_session_size = 200 + rng.below(3000) as u64;
        cfg.max_errors = rng.below(10) as u32;
        cfg.starttls = rng.below(2) == 0;
        let max_line = cfg.max_line_length;
        let store = if rng.below(3) == 0 {
            Store::Fail
        } else {
            Store::Ok
        };
        let mut s = Session::new(cfg, peer());
        let mut run = Run::default();
        let mut stored = 0;
        for piece in random_pieces(&mut rng, &script) {
            s.receive(piece);
            match rng.below(60) {
                0 => s.timed_out(),
                1 => s.shutting_down(),
                2 => s.eof(),
                _ => {}
            }
            drain(&mut s, &mut run, store, &mut stored);
            assert!(
                s.input().len() < max_line,
                "round {round}: {} bytes left buffered",
                s.input().len()
            );
            check(&run.actions, false);
        }
        s.eof();
        drain(&mut s, &mut run, store, &mut stored);
        check(&run.actions, true);
        s.receive(b"NOOP\r\n");
        assert_eq!(
            s.next_action(&Farm),
            None,
            "round {round}: action after Close"
        );
        assert_eq!(s.phase(), Phase::Closed);
    }
}

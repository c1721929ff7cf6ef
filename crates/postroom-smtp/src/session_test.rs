//! Session tests: whole transactions, pipelining, recipients, command
//! sequence, HELO/EHLO, SMTPUTF8, SIZE at MAIL, store failure, STARTTLS.
//! Most scripts run both in one piece and one byte at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_support::*;
use super::*;
use crate::{Action, StoreOutcome};

const EHLO_REPLY: &str =
    "250 mx.farm.test hello [192.0.2.7]; PIPELINING; SIZE 1000; 8BITMIME; SMTPUTF8; \
                          ENHANCEDSTATUSCODES; STARTTLS; CHUNKING; BINARYMIME; HELP";

#[test]
fn greeting() {
    let s = Session::new(config(), peer());
    assert_eq!(
        s.greeting().to_bytes(),
        b"220 mx.farm.test ESMTP postroom\r\n"
    );
    assert_eq!(s.phase(), Phase::Command);
    assert!(!s.is_tls());
}

#[test]
fn full_transaction_step_by_step() {
    let mut s = Session::new(config(), peer());
    let body = b"Subject: hi\r\n\r\nline one\r\nline two\r\n";
    s.receive(OPEN.as_bytes());
    let mut got = Vec::new();
    while let Some(a) = s.next_action(&Farm) {
        got.push(a);
    }
    assert_eq!(got.len(), 3);
    s.receive(b"DATA\r\n");
    assert!(matches!(
        s.next_action(&Farm),
        Some(Action::BeginMessage(_))
    ));
    assert_eq!(
        s.next_action(&Farm).unwrap(),
        Action::Reply(Reply::bare(354, "end data with <CR><LF>.<CR><LF>"))
    );
    assert_eq!(s.next_action(&Farm), None);
    assert_eq!(s.phase(), Phase::Content);
    s.receive(body);
    assert_eq!(s.next_action(&Farm), Some(Action::Content(body.to_vec())));
    assert_eq!(s.next_action(&Farm), None);
    s.receive(b".\r\nQUIT\r\n");
    assert_eq!(s.next_action(&Farm), Some(Action::EndMessage));
    assert_eq!(s.phase(), Phase::AwaitingStore);
    assert_eq!(s.next_action(&Farm), None, "no reply before stored()");
    assert_eq!(s.next_action(&Farm), None);
    s.stored(StoreOutcome::Stored { id: "abc".into() });
    assert_eq!(
        s.next_action(&Farm),
        Some(Action::Reply(Reply::new(250, "2.0.0", "queued as abc")))
    );
    let Some(Action::Transaction(log)) = s.next_action(&Farm) else {
        panic!("no log")
    };
    assert_eq!(log.reply, "250 2.0.0 queued as abc");
    assert_eq!(log.size, body.len() as u64);
    assert_eq!(
        s.next_action(&Farm),
        Some(Action::Reply(Reply::new(221, "2.0.0", "bye")))
    );
    assert_eq!(s.next_action(&Farm), Some(Action::Close));
    assert_eq!(s.next_action(&Farm), None);
    assert_eq!(s.phase(), Phase::Closed);
}

#[test]
fn pipelined_transaction_in_one_piece_and_byte_by_byte() {
    let body = b"Subject: hi\r\n\r\nhello\r\n";
    let mut script = data_script(b"");
    script.truncate(script.len() - b"QUIT\r\n".len());
    script.extend_from_slice(body);
    script.extend_from_slice(b".\r\nQUIT\r\n");
    let r = run_both(&script);
    assert_eq!(
        r.replies(),
        [
            EHLO_REPLY,
            "250 2.1.0 sender ok",
            "250 2.1.5 recipient ok",
            "354 end data with <CR><LF>.<CR><LF>",
            "250 2.0.0 queued as m1",
            "221 2.0.0 bye"
        ]
    );
    let kinds: Vec<&str> = r
        .actions
        .iter()
        .map(|a| match a {
            Action::Reply(_) => "reply",
            Action::BeginMessage(_) => "begin",
            Action::Content(_) => "content",
            Action::EndMessage => "end",
            Action::Transaction(_) => "log",
            Action::Close => "close",
            Action::AbortMessage => "abort",
            Action::StartTls => "tls",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "reply", "reply", "reply", "begin", "reply", "content", "end", "reply", "log", "reply",
            "close"
        ]
    );
    assert_eq!(r.content(), body);
    let env = &r.envelopes()[0];
    assert_eq!(env.sender, "a@sender.example");
    assert_eq!(env.recipients, ["docs@farm.test"]);
    assert_eq!(
        (env.helo.as_str(), env.protocol.as_str()),
        ("client.example", "ESMTP")
    );
    assert_eq!(
        (env.declared_size, env.eight_bit, env.smtputf8),
        (None, false, false)
    );
    let log = &r.logs()[0];
    assert_eq!(
        (log.helo.as_str(), log.sender.as_str(), log.size, log.tls),
        ("client.example", "a@sender.example", 22, false)
    );
    let wire = String::from_utf8(r.wire()).unwrap();
    assert!(wire
        .starts_with("250-mx.farm.test hello [192.0.2.7]\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"));
    assert!(wire.contains("250-CHUNKING\r\n250-BINARYMIME\r\n250 HELP\r\n250 2.1.0 sender ok\r\n"));
}

#[test]
fn a_paused_farm_refuses_recipients_for_now_so_the_sender_retries() {
    let r = run_both(
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<paused@farm.test>\r\nDATA\r\nQUIT\r\n",
    );
    assert_eq!(
        &r.replies()[2..4],
        [
            "450 4.3.2 incoming e-mail is turned off",
            "554 5.5.1 no valid recipients",
        ]
    );
    assert!(r.envelopes().is_empty());
}

#[test]
fn recipients_are_decided_one_by_one() {
    let r = run_both(
        b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<docs@farm.test>\r\nRCPT TO:<team@FARM.test>\r\n\
          RCPT TO:<closed@farm.test>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<DOCS@farm.test>\r\n\
          DATA\r\n.\r\nQUIT\r\n",
    );
    assert_eq!(
        &r.replies()[2..7],
        [
            "250 2.1.5 recipient ok",
            "250 2.1.5 recipient ok",
            "550 5.1.1 closed@farm.test: library is disabled",
            "550 5.7.1 relaying denied: <x@elsewhere.example> is not in this farm's incoming domains",
            "250 2.1.5 recipient ok",
        ]
    );
    let env = &r.envelopes()[0];
    assert_eq!(env.sender, "");
    assert_eq!(env.recipients, ["docs@farm.test", "team@FARM.test"]);
    let log = &r.logs()[0];
    assert_eq!(log.recipients, ["docs@farm.test", "team@FARM.test"]);
    assert_eq!(
        log.refused,
        [
            ("closed@farm.test".to_string(), "550 5.1.1 closed@farm.test: library is disabled".to_string()),
            (
                "x@elsewhere.example".to_string(),
                "550 5.7.1 relaying denied: <x@elsewhere.example> is not in this farm's incoming domains".to_string()
            ),
        ]
    );
    assert_eq!(r.messages(), [Vec::<u8>::new()]);
}

#[test]
fn commands_out_of_sequence() {
    let r = run_both(
        b"MAIL FROM:<a@b>\r\nEHLO c\r\nRCPT TO:<docs@farm.test>\r\nDATA\r\nBDAT 0 LAST\r\n\
          MAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\nRCPT TO:<nobody@farm.test>\r\nDATA\r\nQUIT\r\n",
    );
    assert_eq!(
        r.codes(),
        [
            "503 5.5.1",
            "250",
            "503 5.5.1",
            "503 5.5.1",
            "503 5.5.1",
            "250 2.1.0",
            "503 5.5.1",
            "554 5.5.1",
            "550 5.1.1",
            "554 5.5.1",
            "221 2.0.0"
        ]
    );
    assert_eq!(r.logs()[0].reply, "QUIT");
    assert_eq!(r.count(|a| matches!(a, Action::BeginMessage(_))), 0);
}

#[test]
fn small_commands() {
    let r = run_both(b"NOOP\r\nVRFY docs\r\nHELP\r\nEXPN list\r\nFROB\r\nrset\r\nQuit\r\n");
    assert_eq!(
        r.replies(),
        [
            "250 2.0.0 ok",
            "252 2.5.2 cannot VRFY user, but will accept message and attempt delivery",
            "214 2.0.0 commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS",
            "502 5.5.1 EXPN not supported",
            "500 5.5.1 command unrecognized: \"FROB\"",
            "250 2.0.0 ok",
            "221 2.0.0 bye"
        ]
    );
    assert!(r.logs().is_empty());
    assert!(r.closed());
}

#[test]
fn rset_and_ehlo_end_the_transaction_with_a_log() {
    let r = run_both(
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<docs@farm.test>\r\nRSET\r\nDATA\r\n\
          MAIL FROM:<a@b>\r\nHELO again\r\nDATA\r\nMAIL FROM:<a@b>\r\nRCPT TO:<team@farm.test>\r\nDATA\r\nx\r\n.\r\n",
    );
    let logs = r.logs();
    assert_eq!(logs.len(), 3);
    assert_eq!(
        (logs[0].reply.as_str(), logs[0].recipients.len()),
        ("RSET", 1)
    );
    assert_eq!(
        (logs[1].reply.as_str(), logs[1].helo.as_str()),
        ("HELO", "c")
    );
    assert_eq!(
        (logs[2].reply.as_str(), logs[2].helo.as_str()),
        ("250 2.0.0 queued as m1", "again")
    );
    assert_eq!(&r.codes()[3..6], ["250 2.0.0", "503 5.5.1", "250 2.1.0"]);
    assert_eq!(r.replies()[6], "250 mx.farm.test hello [192.0.2.7]");
    let env = &r.envelopes()[0];
    assert_eq!(
        (env.helo.as_str(), env.protocol.as_str()),
        ("again", "SMTP")
    );
}

#[test]
fn mail_parameters_and_size_at_mail() {
    let r = run_both(
        b"EHLO c\r\nMAIL FROM:<a@b> SIZE=1001\r\nMAIL FROM:<a@b> FOO=1\r\nMAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME\r\n\
          RCPT TO:<docs@farm.test> NOTIFY=NEVER\r\nRCPT TO:<docs@farm.test>\r\nDATA\r\n.\r\n\
          MAIL FROM: <@hop.example:a@b> BODY=BINARYMIME\r\nRCPT TO:<docs@farm.test>\r\nDATA\r\nRSET\r\n",
    );
    assert_eq!(
        r.replies()[1..4],
        [
            "552 5.3.4 message size exceeds fixed maximum message size",
            "555 5.5.4 unsupported parameter FOO",
            "250 2.1.0 sender ok"
        ]
    );
    assert_eq!(
        r.codes()[4..],
        [
            "555 5.5.4",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "503 5.5.1",
            "250 2.0.0"
        ]
    );
    let env = &r.envelopes()[0];
    assert_eq!((env.declared_size, env.eight_bit), (Some(1000), true));
    assert_eq!(r.logs()[1].sender, "a@b");
}

#[test]
fn smtputf8() {
    let r = run_both(
        "EHLO c\r\nMAIL FROM:<ü@b.example>\r\nMAIL FROM:<a@b>\r\nRCPT TO:<ü@farm.test>\r\nRSET\r\n\
         MAIL FROM:<ü@b.example> SMTPUTF8\r\nRCPT TO:<docs@farm.test>\r\nDATA\r\n.\r\n"
            .as_bytes(),
    );
    assert_eq!(
        r.codes(),
        [
            "250",
            "553 5.6.7",
            "250 2.1.0",
            "553 5.6.7",
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0"
        ]
    );
    assert_eq!(
        r.logs()[0].refused[0].1,
        "553 5.6.7 non-ASCII recipient address <?@farm.test> requires SMTPUTF8"
    );
    let env = &r.envelopes()[0];
    assert_eq!(
        (env.sender.as_str(), env.protocol.as_str(), env.smtputf8),
        ("ü@b.example", "UTF8SMTP", true)
    );
}

#[test]
fn store_failure_gives_451_and_a_log() {
    let script = data_script(b"x\r\n.\r\n");
    let r = drive_with(config(), &[&script], false, Store::Fail);
    assert!(r.replies().contains(&"451 4.3.0 disk full".to_string()));
    assert_eq!(r.logs()[0].reply, "451 4.3.0 disk full");
    assert!(r.closed());
}

#[test]
fn two_messages_in_one_session() {
    let mut script = data_script(b"one\r\n.\r\n");
    script.truncate(script.len() - 6);
    script.extend_from_slice(
        b"MAIL FROM:<b@c>\r\nRCPT TO:<team@farm.test>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n",
    );
    let r = run_both(&script);
    assert_eq!(r.messages(), [b"one\r\n".to_vec(), b"two\r\n".to_vec()]);
    assert_eq!(r.logs()[1].reply, "250 2.0.0 queued as m2");
}

#[test]
fn starttls_discards_pipelined_commands() {
    let r = run(
        b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<docs@farm.test>\r\nDATA\r\n",
    );
    assert_eq!(r.codes(), ["250", "220 2.0.0"]);
    assert_eq!(r.replies()[1], "220 2.0.0 ready to start TLS");
    assert!(r.actions.contains(&Action::StartTls));
    assert_eq!(r.count(|a| matches!(a, Action::BeginMessage(_))), 0);
}

#[test]
fn starttls_resets_the_session() {
    let mut s = Session::new(config(), peer());
    s.receive(b"EHLO c\r\nSTARTTLS\r\nNOOP\r\n");
    let mut replies = Vec::new();
    while let Some(a) = s.next_action(&Farm) {
        replies.push(a);
    }
    assert_eq!(replies.last(), Some(&Action::StartTls));
    assert!(
        !s.has_partial_input(),
        "input after STARTTLS must be discarded"
    );
    s.receive(b"NOOP\r\n"); // plaintext during the handshake: ignored
    assert_eq!(s.next_action(&Farm), None);
    s.tls_established();
    assert!(s.is_tls());
    let mut run = Run::default();
    let mut n = 0;
    s.receive(b"MAIL FROM:<a@b>\r\nEHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\nRCPT TO:<docs@farm.test>\r\nSTARTTLS\r\nDATA\r\nx\r\n.\r\n");
    drain(&mut s, &mut run, Store::Ok, &mut n);
    assert_eq!(
        run.codes(),
        [
            "503 5.5.1",
            "250",
            "503 5.5.1",
            "250 2.1.0",
            "250 2.1.5",
            "503 5.5.1",
            "354",
            "250 2.0.0"
        ]
    );
    assert!(!run.replies()[1].contains("STARTTLS"));
    assert_eq!(run.replies()[2], "503 5.5.1 already in TLS");
    assert_eq!(run.envelopes()[0].protocol, "ESMTPS");
    assert!(run.logs()[0].tls);
}

#[test]
fn starttls_refusals() {
    let mut cfg = config();
    cfg.starttls = false;
    let r = drive_with(cfg, &[b"EHLO c\r\nSTARTTLS\r\n"], false, Store::Ok);
    assert!(!r.replies()[0].contains("STARTTLS"));
    assert_eq!(r.replies()[1], "502 5.5.1 STARTTLS not available");
    let r = run_both(b"EHLO c\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\nSTARTTLS x\r\n");
    assert_eq!(
        r.replies()[2],
        "503 5.5.1 STARTTLS not allowed during a mail transaction"
    );
    assert_eq!(r.codes()[3], "501 5.5.4");
}

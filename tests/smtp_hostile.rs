//! The SMTP front door under hostile or unlucky conditions, over raw
//! sockets with exact bytes: smuggling attempts, NUL bytes, over-long and
//! invalid lines, half-closed connections, STARTTLS command injection,
//! oversized DATA, the deny / safe-server lists, connection limits, idle
//! timeouts and a SIGTERM in the middle of a transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::clients::{python, swaks, text, Raw};
use support::{wait_until, Farm, DOMAIN};

fn docs() -> String {
    format!("shared-documents@{DOMAIN}")
}

#[test]
fn smuggled_end_of_data_markers_never_end_data_or_split_a_message() {
    let farm = Farm::new("");
    let node = farm.start();
    let separators: [(&str, &[u8]); 6] = [
        ("bare-lf", b"\n.\n"),
        ("lf-dot-crlf", b"\n.\r\n"),
        ("crlf-dot-lf", b"\r\n.\n"),
        ("bare-cr", b"\r.\r"),
        ("cr-dot-crlf", b"\r.\r\n"),
        ("lf-lf", b"\n\n.\n\n"),
    ];
    for (name, sep) in separators {
        let mut raw = Raw::open_transaction(node.smtp_addr(), "mallory@contoso.com", &docs());
        assert!(raw.ask(b"DATA\r\n").starts_with("354"));
        let mut body = format!("Subject: smuggle {name}\r\n\r\nbefore").into_bytes();
        body.extend_from_slice(sep);
        body.extend_from_slice(
            format!(
                "MAIL FROM:<evil@contoso.com>\r\nRCPT TO:<build-logs@{DOMAIN}>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
            )
            .as_bytes(),
        );
        raw.send(&body);
        let reply = raw.reply();
        assert!(reply.starts_with("250 2.0.0"), "{name}: {reply}");
        let quit = raw.ask(b"QUIT\r\n");
        assert!(
            quit.starts_with("221"),
            "{name}: exactly one reply for the message, then QUIT: {quit}"
        );
    }
    wait_until(Duration::from_secs(20), "six items", || {
        farm.record_count("shared-documents") == 6
    });
    assert_eq!(farm.record_count("build-logs"), 0, "nothing was smuggled");
    let subjects: Vec<String> = farm
        .items("shared-documents")
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(
        subjects.iter().all(|s| s.starts_with("smuggle ")),
        "{subjects:?}"
    );
    node.stop();
}

#[test]
fn bad_command_lines_get_clear_replies_and_the_node_keeps_serving() {
    let farm = Farm::new("");
    let node = farm.start();
    let mut raw = Raw::connect(node.smtp_addr());
    assert!(raw.reply().starts_with("220 "));
    let nul = raw.ask(b"EHLO a\0b\r\n");
    assert!(nul.starts_with("500 5.5.2"), "{nul}");
    let utf8 = raw.ask(b"EHLO \xff\xfe\r\n");
    assert!(utf8.starts_with("500 5.5.2"), "{utf8}");
    let mut long = vec![b'X'; 100_000];
    long.extend_from_slice(b"\r\n");
    let too_long = raw.ask(&long);
    assert!(too_long.starts_with("500 5.5.2"), "{too_long}");
    let unknown = raw.ask(b"FROB\r\n");
    assert!(unknown.starts_with("500 5.5.1"), "{unknown}");
    let early = raw.ask(format!("RCPT TO:<{}>\r\n", docs()).as_bytes());
    assert!(early.starts_with("503 5.5.1"), "{early}");
    assert!(raw.ask(b"EHLO ok.test\r\n").starts_with("250"));
    assert!(raw.ask(b"VRFY someone\r\n").starts_with("252"));
    assert!(raw.ask(b"NOOP\r\n").starts_with("250"));
    assert!(raw.ask(b"HELP\r\n").starts_with("214"));
    assert!(raw.ask(b"QUIT\r\n").starts_with("221"));
    // Half-closed in the middle of DATA: no reply owed, nothing filed, clean close.
    let mut raw = Raw::open_transaction(node.smtp_addr(), "a@contoso.com", &docs());
    assert!(raw.ask(b"DATA\r\n").starts_with("354"));
    raw.send(b"Subject: cut off\r\n\r\nhalf a messa");
    raw.shutdown_write();
    assert_eq!(raw.rest(), "");
    // The node still serves.
    let out = swaks(
        node.smtp_addr(),
        &["--to", &docs(), "--from", "a@contoso.com"],
    );
    assert!(out.status.success(), "{}", text(&out));
    wait_until(Duration::from_secs(20), "one item", || {
        farm.record_count("shared-documents") == 1
    });
    assert_eq!(
        farm.items("shared-documents")[0]["subject"]
            .as_str()
            .map(|s| s.starts_with("test")),
        Some(true)
    );
    node.stop();
}

#[test]
fn oversized_data_without_a_declared_size_gets_552_and_nothing_is_filed() {
    let farm = Farm::configured("max_message_size = \"64KB\"", "", "");
    let node = farm.start();
    let mut raw = Raw::open_transaction(node.smtp_addr(), "a@contoso.com", &docs());
    assert!(raw.ask(b"DATA\r\n").starts_with("354"));
    let mut body = b"Subject: huge\r\n\r\n".to_vec();
    for _ in 0..2000 {
        body.extend_from_slice(&[b'y'; 98]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    raw.send(&body);
    let reply = raw.reply();
    assert!(reply.starts_with("552 5.3.4"), "{reply}");
    // The session goes on: a small message after it is accepted.
    assert!(raw.ask(b"MAIL FROM:<a@contoso.com>\r\n").starts_with("250"));
    assert!(raw
        .ask(format!("RCPT TO:<{}>\r\n", docs()).as_bytes())
        .starts_with("250"));
    assert!(raw.ask(b"DATA\r\n").starts_with("354"));
    assert!(raw
        .ask(b"Subject: small\r\n\r\nok\r\n.\r\n")
        .starts_with("250"));
    // The item is filed, then its source leaves the drop folder; nothing else is left there.
    wait_until(
        Duration::from_secs(20),
        "the small item, no spool debris",
        || farm.record_count("shared-documents") == 1 && farm.drop_backlog().is_empty(),
    );
    assert_eq!(farm.items("shared-documents")[0]["subject"], "small");
    node.stop();
}

/// STARTTLS with a command pipelined behind it, in Python's ssl module: the
/// injected command must not be executed (CVE-2011-0411).
const STARTTLS_INJECTION: &str = r#"
import socket, ssl, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)
assert reply().startswith("220")
s.sendall(b"EHLO inject.test\r\n")
assert "STARTTLS" in reply()
s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
assert reply().startswith("220")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="node1.test")
g = t.makefile("rb")
t.sendall(b"EHLO inject.test\r\n")
lines = []
while True:
    line = g.readline().decode()
    lines.append(line)
    if len(line) < 4 or line[3] != "-":
        break
ehlo = "".join(lines)
t.sendall(b"RCPT TO:<shared-documents@sharepoint.contoso.local>\r\n")
rcpt = g.readline().decode()
print(repr(ehlo)); print(repr(rcpt))
assert ehlo.startswith("250"), ehlo
assert "STARTTLS" not in ehlo, ehlo
assert rcpt.startswith("503"), "the injected MAIL FROM must have been discarded: " + rcpt
"#;

#[test]
fn commands_pipelined_behind_starttls_are_discarded() {
    let farm = Farm::new("");
    let node = farm.start();
    let out = python(STARTTLS_INJECTION, &["127.0.0.1", &node.smtp_port()]);
    assert!(out.status.success(), "{}", text(&out));
    node.stop();
}

#[test]
fn deny_list_safe_servers_and_connection_limits() {
    let farm = Farm::configured(
        "safe_servers = [\"127.0.0.1\", \"127.0.0.2\"]\ndeny_servers = [\"127.0.0.2\"]",
        "max_connections_per_ip = 2\nidle_timeout = \"2s\"",
        "",
    );
    let node = farm.start();
    let addr = node.smtp_addr();
    // 127.0.0.2 is denied; 127.0.0.3 is not a safe server.
    for (source, why) in [("127.0.0.2", "deny_servers"), ("127.0.0.3", "safe_servers")] {
        let out = swaks(
            addr,
            &[
                "--local-interface",
                source,
                "--to",
                &docs(),
                "--from",
                "a@contoso.com",
            ],
        );
        assert!(!out.status.success());
        assert!(text(&out).contains("554 5.7.1"), "{}", text(&out));
        assert!(node.log_text().contains(why), "{why} not logged");
    }
    // Two connections from 127.0.0.1 are fine; the third gets 421 4.3.2.
    let mut first = Raw::connect(addr);
    assert!(first.reply().starts_with("220"));
    let mut second = Raw::connect(addr);
    assert!(second.reply().starts_with("220"));
    let mut third = Raw::connect(addr);
    let full = third.reply();
    assert!(full.starts_with("421 4.3.2"), "{full}");
    // An idle session is closed with 421 4.4.2.
    let idle = first.rest();
    assert!(idle.starts_with("421 4.4.2"), "{idle}");
    drop(second);
    assert_eq!(farm.record_count("shared-documents"), 0);
    node.stop();
}

#[test]
fn sigterm_lets_the_transaction_in_flight_finish_and_refuses_new_ones() {
    let farm = Farm::new("");
    let node = farm.start();
    let addr = node.smtp_addr();
    let mut raw = Raw::open_transaction(addr, "a@contoso.com", &docs());
    assert!(raw.ask(b"DATA\r\n").starts_with("354"));
    raw.send(b"Subject: in flight at shutdown\r\n\r\nfirst half, ");
    std::process::Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .unwrap();
    wait_until(Duration::from_secs(10), "draining to start", || {
        node.log_text().contains("smtp: shutting down")
    });
    let mut late = Raw::connect(addr);
    let refused = late.reply();
    assert!(refused.starts_with("421 4.3.2"), "{refused}");
    let done = raw.ask(b"second half\r\n.\r\n");
    assert!(done.starts_with("250 2.0.0"), "{done}");
    let bye = raw.ask(b"MAIL FROM:<a@contoso.com>\r\n");
    assert!(bye.starts_with("421 4.3.2"), "{bye}");
    wait_until(Duration::from_secs(30), "the node to exit", || {
        node.exited()
    });
    // Nothing that got 250 is lost: filed before exit, or at the next start.
    let again = farm.start();
    wait_until(Duration::from_secs(20), "the item", || {
        farm.record_count("shared-documents") == 1
    });
    assert_eq!(
        farm.items("shared-documents")[0]["subject"],
        "in flight at shutdown"
    );
    again.stop();
}

#[test]
fn bdat_chunks_make_one_message_and_a_refused_chunk_is_still_consumed() {
    let farm = Farm::new("");
    let node = farm.start();
    let mut raw = Raw::connect(node.smtp_addr());
    assert!(raw.reply().starts_with("220"));
    let ehlo = raw.ask(b"EHLO chunker.test\r\n");
    assert!(ehlo.contains("CHUNKING"), "{ehlo}");
    // A BDAT before any recipient is refused, and its bytes are not read as commands.
    let refused = raw.ask(b"BDAT 14\r\nQUIT\r\nRSET\r\n\r\n");
    assert!(refused.starts_with("503 5.5.1"), "{refused}");
    assert!(raw
        .ask(b"MAIL FROM:<a@contoso.com> BODY=BINARYMIME\r\n")
        .starts_with("250"));
    assert!(raw
        .ask(format!("RCPT TO:<{}>\r\n", docs()).as_bytes())
        .starts_with("250"));
    let part1 = b"Subject: chunked\r\n\r\n.leading dot stays\r\n";
    let part2 = b"\r\n.\r\nnot the end\r\n";
    let first = raw.ask(&[format!("BDAT {}\r\n", part1.len()).as_bytes(), part1].concat());
    assert!(first.starts_with("250"), "{first}");
    let last = raw.ask(&[format!("BDAT {} LAST\r\n", part2.len()).as_bytes(), part2].concat());
    assert!(last.starts_with("250 2.0.0"), "{last}");
    assert!(raw.ask(b"QUIT\r\n").starts_with("221"));
    wait_until(Duration::from_secs(20), "the chunked item", || {
        farm.record_count("shared-documents") == 1
    });
    let item = &farm.items("shared-documents")[0];
    assert_eq!(item["subject"], "chunked");
    node.stop();
}

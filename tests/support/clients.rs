//! Real SMTP clients for the end-to-end tests: swaks and Python's smtplib
//! (run as child processes), and a raw line client for hostile input.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

/// Run swaks against the node with extra arguments.
pub fn swaks(addr: SocketAddr, args: &[&str]) -> Output {
    Command::new("swaks")
        .args([
            "--server",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(["--timeout", "20"])
        .args(args)
        .output()
        .expect("swaks is installed (apt-get install swaks)")
}

/// Run a Python 3 script with arguments; stdout is the script's answer.
pub fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is installed")
}

/// Text of an Output, both streams, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A raw SMTP connection that sends exact bytes and reads replies.
pub struct Raw {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// One whole reply (all continuation lines), e.g. `"250-a\r\n250 b\r\n"`;
    /// empty when the server closed the connection.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    /// Send `bytes`, then read one reply.
    pub fn ask(&mut self, bytes: &[u8]) -> String {
        self.send(bytes);
        self.reply()
    }

    /// Read until the server closes; what it still said.
    pub fn rest(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        rest
    }

    pub fn shutdown_write(&self) {
        self.stream.shutdown(std::net::Shutdown::Write).unwrap();
    }

    /// Greeting, EHLO, MAIL and one RCPT; panics unless each is accepted.
    pub fn open_transaction(addr: SocketAddr, from: &str, to: &str) -> Raw {
        let mut raw = Raw::connect(addr);
        assert!(raw.reply().starts_with("220 "));
        assert!(raw.ask(b"EHLO raw.test\r\n").starts_with("250"));
        let mail = raw.ask(format!("MAIL FROM:<{from}>\r\n").as_bytes());
        assert!(mail.starts_with("250"), "{mail}");
        let rcpt = raw.ask(format!("RCPT TO:<{to}>\r\n").as_bytes());
        assert!(rcpt.starts_with("250"), "{rcpt}");
        raw
    }
}

/// smtplib: send `message` (a path to an RFC 5322 file, or generated when
/// "-") from `sender` to the comma-separated `recipients`; prints a JSON
/// object: {"refused": {rcpt: [code, text]}} or {"error": [class, code, text]}.
pub const SMTPLIB_SEND: &str = r#"
import json, smtplib, sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
host, port, sender, rcpts, subject, attach = sys.argv[1:7]
msg = EmailMessage()
msg["From"] = sender
msg["To"] = rcpts
msg["Subject"] = subject
msg["Message-ID"] = "<" + subject.replace(" ", "-") + "@smtplib.test>"
msg.set_content("Hello from smtplib.\n")
if attach != "-":
    name, size = attach.split(":")
    msg.add_attachment(bytes(range(256)) * (int(size) // 256 + 1), maintype="application",
                       subtype="octet-stream", filename=name)
try:
    with smtplib.SMTP(host, int(port), timeout=20) as s:
        refused = s.send_message(msg, from_addr=sender, to_addrs=rcpts.split(","))
    print(json.dumps({"refused": {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({"error": ["SMTPRecipientsRefused", 0, str({k: [v[0], v[1].decode()] for k, v in e.recipients.items()})]}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({"error": [type(e).__name__, e.smtp_code, e.smtp_error.decode(errors="replace")]}))
"#;

/// Run [`SMTPLIB_SEND`]; the parsed JSON answer.
pub fn smtplib_send(
    addr: SocketAddr,
    sender: &str,
    recipients: &[&str],
    subject: &str,
    attachment: Option<(&str, usize)>,
) -> serde_json::Value {
    let attach = attachment.map_or("-".to_string(), |(n, s)| format!("{n}:{s}"));
    let out = python(
        SMTPLIB_SEND,
        &[
            &addr.ip().to_string(),
            &addr.port().to_string(),
            sender,
            &recipients.join(","),
            subject,
            &attach,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

/// smtplib: send the raw message in file `path` from `sender` to `rcpt`
/// (the bytes as they are; smtplib dot-stuffs them); panics unless accepted.
pub fn smtplib_send_file(addr: SocketAddr, sender: &str, rcpt: &str, path: &std::path::Path) {
    const SEND_FILE: &str = r#"
import smtplib, sys
host, port, sender, rcpt, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
with smtplib.SMTP(host, port, timeout=20) as s:
    s.sendmail(sender, [rcpt], open(path, "rb").read())
"#;
    let out = python(
        SEND_FILE,
        &[
            &addr.ip().to_string(),
            &addr.port().to_string(),
            sender,
            rcpt,
            path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

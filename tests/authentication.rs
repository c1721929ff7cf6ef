//! End-to-end: the farm's own DKIM, SPF and DMARC checks decide whether a
//! member of a members-only library really sent a message. Real parts: a
//! dnsmasq name server on loopback publishes the keys and policies (the
//! node's `[dns] servers` points at it), dkimpy (Python) signs messages
//! with a fresh RSA key, smtplib sends them through the node's SMTP door
//! from a client that vouches for nobody. A signed member is filed; the
//! same From forged, or signed and then altered, is quarantined with what
//! the checks said; an unsigned member whose domain's SPF and DMARC pass is
//! filed; a signature by another domain fails the From domain's DMARC. The
//! members are named through farm groups (`farm set groups.<name>=...`). A
//! member whose name server does not answer waits, then is quarantined.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::admin::{ask, ask_json, shared};
use support::clients::{python, smtplib_send_file, text};
use support::cluster::{Cluster, Membership};
use support::{wait_until, DOMAIN};

/// Python: make an RSA key, sign each message file given with dkimpy
/// (d=signed.test, s=sel) in place; print the DNS record of the key.
const SIGN: &str = r#"
import base64, sys, dkim
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption())
spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)
for path in sys.argv[1:]:
    msg = open(path, "rb").read()
    sig = dkim.sign(msg, b"sel", b"signed.test", pem,
                    include_headers=[b"from", b"to", b"subject", b"message-id"])
    open(path, "wb").write(sig + msg)
print("v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode())
"#;

/// dnsmasq answering only from its own records (NXDOMAIN for the rest).
struct NameServer {
    child: Child,
    port: u16,
}

impl NameServer {
    /// Start dnsmasq on a free port (UDP and TCP); another port if it cannot
    /// bind (a parallel test took it meanwhile).
    fn start(records: &[(&str, String)]) -> NameServer {
        for _ in 0..5 {
            let port = free_udp_and_tcp_port();
            let mut cmd = Command::new("dnsmasq");
            cmd.args([
                "--no-daemon",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local=/#/",
                "--user=root",
            ]);
            for (name, value) in records {
                // No shell: no quotes (dnsmasq would keep them); no commas in the values.
                cmd.arg(format!("--txt-record={name},{value}"));
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dnsmasq is installed (apt-get install dnsmasq-base)");
            let mut server = NameServer { child, port };
            let mut exited = false;
            wait_until(Duration::from_secs(30), "dnsmasq answering", || {
                exited = server.child.try_wait().unwrap().is_some();
                exited || answers(port)
            });
            if !exited {
                return server;
            }
        }
        panic!("dnsmasq did not start on any of 5 ports");
    }
}

fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn answers(port: u16) -> bool {
    Command::new("dig")
        .args(["+short", "+time=1", "+tries=1", "-p", &port.to_string()])
        .args(["@127.0.0.1", "spf.test", "TXT"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("spf1"))
}

impl Drop for NameServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: board@{DOMAIN}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nminutes of the {subject} meeting\r\n"
    )
}

/// A members-only library "board" with these members (comma list).
fn add_board(cluster: &Cluster, members: &str) {
    let board = shared(cluster, "board");
    ask_json(
        cluster,
        1,
        &[
            "library",
            "add",
            "board",
            "--name",
            "Board",
            "--path",
            &board,
            "--accept-from",
            "members",
            "--members",
            members,
            "--json",
        ],
    );
}

#[test]
fn the_farms_own_dkim_spf_and_dmarc_checks_authenticate_members() {
    let mut cluster = Cluster::prepare(1, "lease_ttl = \"3s\"", Membership::Static);
    let dir = cluster.dir.path().to_path_buf();
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let signed = write("signed.eml", message("Alice <alice@signed.test>", "signed"));
    let altered = write("altered.eml", message("alice@signed.test", "altered"));
    let strict = write("strict.eml", message("dave@strict.test", "strict"));
    // Signed by the parent domain (no DMARC policy): aligned, so it passes.
    let parent = write("parent.eml", message("eve@sub.signed.test", "parent"));
    // Two authors: DMARC cannot vouch for either.
    let two = write(
        "two.eml",
        message("alice@signed.test, bob@signed.test", "two"),
    );
    let out = python(
        SIGN,
        &[
            signed.to_str().unwrap(),
            altered.to_str().unwrap(),
            strict.to_str().unwrap(),
            parent.to_str().unwrap(),
            two.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // Altered after signing: the body no longer matches the signature.
    let tampered = std::fs::read_to_string(&altered)
        .unwrap()
        .replace("minutes of the", "MINUTES OF THE");
    std::fs::write(&altered, tampered).unwrap();
    let forged = write("forged.eml", message("alice@signed.test", "forged"));
    let spf_only = write("spf.eml", message("carol@spf.test", "spf"));

    let dns = NameServer::start(&[
        ("sel._domainkey.signed.test", key),
        ("spf.test", "v=spf1 ip4:127.0.0.0/8 -all".to_string()),
        ("_dmarc.spf.test", "v=DMARC1; p=reject".to_string()),
        (
            "_dmarc.strict.test",
            "v=DMARC1; p=reject; adkim=s".to_string(),
        ),
    ]);
    cluster.append_config(
        1,
        &format!(
            "[dns]\nservers = [\"127.0.0.1:{}\"]\ntimeout = \"2s\"\n",
            dns.port
        ),
    );
    cluster.spawn(1);
    cluster.wait_ready(1);
    // Members by group (SharePoint's groups with contribute rights): one
    // group naming two domains and another group.
    ask_json(
        &cluster,
        1,
        &[
            "farm",
            "set",
            "groups.partners=@signed.test,@sub.signed.test,@spf.test,group:strict",
            "groups.strict=@strict.test",
            "--json",
        ],
    );
    let board = shared(&cluster, "board");
    // A group that does not exist is refused, naming it and the groups there are.
    let (code, _, err) = ask(
        &cluster,
        1,
        &[
            "library",
            "add",
            "nope",
            "--name",
            "Nope",
            "--path",
            &board,
            "--accept-from",
            "members",
            "--members",
            "group:finance",
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("members entry \"group:finance\" names no group in farm.groups (groups: partners, strict)"),
        "{err}"
    );
    add_board(&cluster, "group:partners");
    let send = |mail_from: &str, path: &std::path::Path| {
        smtplib_send_file(
            cluster.smtp_addr(1),
            mail_from,
            &format!("board@{DOMAIN}"),
            path,
        );
    };
    send("bounces@elsewhere.test", &signed);
    send("alice@signed.test", &altered);
    send("mallory@evil.test", &forged);
    send("carol@spf.test", &spf_only);
    send("dave@strict.test", &strict);
    send("eve@sub.signed.test", &parent);
    send("bob@signed.test", &two);

    let mut quarantined = Vec::new();
    wait_until(Duration::from_secs(60), "seven messages handled", || {
        let filed = ask_json(&cluster, 1, &["items", "board", "--json"]);
        let list = ask_json(&cluster, 1, &["quarantine", "list", "--json"]);
        quarantined = list["entries"].as_array().cloned().unwrap_or_default();
        filed["total"].as_u64().unwrap() + quarantined.len() as u64 == 7
    });
    let filed = ask_json(&cluster, 1, &["items", "board", "--json"]);
    let mut subjects: Vec<&str> = filed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["parent", "signed", "spf"], "{quarantined:?}");
    let reason = |envelope_sender: &str| -> String {
        let entry: &Value = quarantined
            .iter()
            .find(|e| e["envelope_sender"] == envelope_sender)
            .unwrap_or_else(|| panic!("{envelope_sender} in {quarantined:?}"));
        assert_eq!(entry["code"], "not_authenticated", "{entry}");
        entry["reason"].as_str().unwrap().to_string()
    };
    // Nothing of signed.test's: refused without a lookup.
    let forged = reason("mallory@evil.test");
    assert!(
        forged.contains("nothing in the message can authenticate signed.test: no DKIM signature; the envelope sender's domain is evil.test"),
        "{forged}"
    );
    let two = reason("bob@signed.test");
    assert!(two.contains("the message has 2 From addresses"), "{two}");
    let altered = reason("alice@signed.test");
    assert!(
        altered.contains("DKIM of signed.test: Calculated body hash does not match"),
        "{altered}"
    );
    let strict = reason("dave@strict.test");
    assert!(strict.contains("DMARC failed for strict.test"), "{strict}");
    drop(dns);
}

#[test]
fn a_sender_the_farm_cannot_check_for_now_waits_then_is_quarantined_with_the_reason() {
    let mut cluster = Cluster::prepare(1, "lease_ttl = \"3s\"", Membership::Static);
    let dir = cluster.dir.path().to_path_buf();
    let signed = dir.join("signed.eml");
    std::fs::write(&signed, message("alice@signed.test", "unreachable")).unwrap();
    let out = python(SIGN, &[signed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // A name server that is not there: every lookup fails for now.
    let nobody = free_udp_and_tcp_port();
    cluster.append_config(
        1,
        &format!(
            "[dns]\nservers = [\"127.0.0.1:{nobody}\"]\ntimeout = \"500ms\"\ngive_up_after = \"8s\"\n"
        ),
    );
    cluster.spawn(1);
    cluster.wait_ready(1);
    add_board(&cluster, "@signed.test");
    let rcpt = format!("board@{DOMAIN}");
    smtplib_send_file(cluster.smtp_addr(1), "alice@signed.test", &rcpt, &signed);
    let mut entries = Vec::new();
    wait_until(Duration::from_secs(90), "quarantined after waiting", || {
        let list = ask_json(&cluster, 1, &["quarantine", "list", "--json"]);
        entries = list["entries"].as_array().cloned().unwrap_or_default();
        !entries.is_empty()
    });
    assert_eq!(entries[0]["code"], "filing_failed", "{entries:?}");
    let reason = entries[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("who sent it cannot be told now")
            && reason.contains("dns.give_up_after is 8s"),
        "{reason}"
    );
    // It waited (tried again after 2 s, 4 s, ...) before it was given up
    // on, and was never filed.
    let waits = cluster
        .node(1)
        .log_text()
        .matches("who sent it cannot be told now; will try again")
        .count();
    assert!(waits >= 3, "{waits} waits");
    let filed = ask_json(&cluster, 1, &["items", "board", "--json"]);
    assert_eq!(filed["total"], 0);
}

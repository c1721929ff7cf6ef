//! End-to-end: quarantine retention. With `[quarantine] retention`, a
//! quarantined message is deleted once older than it (and logged); without
//! one, it stays until an administrator replays or deletes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{wait_until, Farm, DOMAIN};

fn unknown_alias(n: usize) -> Vec<u8> {
    format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <nobody@{DOMAIN}>\r\nSubject: lost {n}\r\n\r\nhi\r\n"
    )
    .into_bytes()
}

#[test]
fn quarantined_messages_expire_after_the_retention_and_not_without_one() {
    let keeping = Farm::configured("", "", "");
    let expiring = Farm::configured("", "", "[quarantine]\nretention = \"2s\"\n");
    let (keep_node, expire_node) = (keeping.start(), expiring.start());
    keeping.drop_file("lost.eml", &unknown_alias(1));
    expiring.drop_file("lost.eml", &unknown_alias(1));
    wait_until(Duration::from_secs(20), "both quarantined", || {
        keeping.quarantine().len() == 1 && expiring.quarantine().len() == 1
    });
    wait_until(Duration::from_secs(20), "the expiring one deleted", || {
        expiring.quarantine().is_empty()
    });
    // The message and its reason file go (one after the other), then the log says so.
    let quarantine = expiring.data_dir().join("quarantine");
    let left = || -> Vec<String> {
        std::fs::read_dir(&quarantine)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    wait_until(
        Duration::from_secs(10),
        "expiry finished and logged",
        || {
            left().is_empty()
                && expire_node
                    .log_text()
                    .contains("quarantined message expired and deleted")
        },
    );
    // Long after its retention would have run out, the kept one is still there.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(keeping.quarantine().len(), 1);
    drop((keep_node, expire_node));
}

/// Postfix's smtp-sink as the farm's smarthost, keeping each message it
/// gets as a file in `dir`.
struct Sink {
    child: std::process::Child,
    port: u16,
}

impl Sink {
    fn start(dir: &std::path::Path) -> Sink {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("smtp-sink")
            .args(["-u", "nobody", "-d"])
            .arg(format!("{}/notice.", dir.display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("10")
            .spawn()
            .expect("smtp-sink is installed (Debian package postfix)");
        wait_until(Duration::from_secs(10), "smtp-sink listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Sink { child, port }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_sender_refused_by_policy_gets_a_notice_instead_of_silence() {
    let scratch = tempfile::Builder::new()
        .prefix("postroom-sink-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let sink = Sink::start(&scratch.path().join("sink"));
    let farm = Farm::configured(
        &format!(
            "notify_refused_senders = true\nsmarthost = \"127.0.0.1:{}\"\npostmaster = \"postmaster@{DOMAIN}\"",
            sink.port
        ),
        "",
        "[[library]]\nname = \"Board\"\nalias = \"board\"\naccept_from = \"members\"\nmembers = [\"@contoso.com\"]\n",
    );
    let node = farm.start();
    let message = format!(
        "X-Sender: <mallory@evil.example>\r\nX-Receiver: <board@{DOMAIN}>\r\n\
         From: mallory@evil.example\r\nSubject: let me in\r\n\r\nhi\r\n"
    );
    farm.drop_file("refused.eml", message.as_bytes());
    // A null sender is never answered (no notice loops).
    let bounce = format!(
        "X-Sender: <>\r\nX-Receiver: <board@{DOMAIN}>\r\nFrom: mailer-daemon@evil.example\r\nSubject: bounce\r\n\r\nhi\r\n"
    );
    farm.drop_file("bounce.eml", bounce.as_bytes());
    let notices = scratch.path().join("sink");
    let read = || -> Vec<String> {
        std::fs::read_dir(&notices)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    };
    wait_until(Duration::from_secs(30), "a notice at the smarthost", || {
        !read().is_empty()
    });
    wait_until(Duration::from_secs(30), "both quarantined", || {
        farm.quarantine().len() == 2
    });
    std::thread::sleep(Duration::from_secs(1));
    let got = read();
    assert_eq!(got.len(), 1, "{got:?}");
    let notice = &got[0];
    assert!(notice.contains("X-Mail-Args: <>"), "{notice}");
    assert!(
        notice.contains("X-Rcpt-Args: <mallory@evil.example>"),
        "{notice}"
    );
    assert!(notice.contains("report-type=delivery-status"), "{notice}");
    assert!(
        notice.contains(&format!("Final-Recipient: rfc822; board@{DOMAIN}")),
        "{notice}"
    );
    assert!(
        notice.contains("mallory@evil.example is not one"),
        "{notice}"
    );
    assert!(notice.contains("Subject: let me in"), "{notice}");
    assert!(node.log_text().contains("refusal notice sent"));
    drop(node);
}

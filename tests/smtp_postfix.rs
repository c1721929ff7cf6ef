//! Postfix as the upstream relay: a loopback Postfix whose transport sends
//! the farm's domain to the postroom node (over opportunistic STARTTLS), the
//! way an organisation's mail system hands mail to the farm. Mail submitted
//! to Postfix with swaks is checked by finding the items in the libraries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::clients::{swaks, text};
use support::postfix::Postfix;
use support::{wait_until, Farm, DOMAIN};

#[test]
fn postfix_relays_the_farm_domain_to_the_node_and_the_mail_is_filed() {
    let farm = Farm::new("");
    let node = farm.start();
    let relay = Postfix::start(&farm.dir.path().join("postfix"), DOMAIN, node.smtp_addr());
    let attachment = farm.dir.path().join("budget.xlsx");
    std::fs::write(&attachment, b"PK\x03\x04 budget sheet").unwrap();
    let to = format!("shared-documents@{DOMAIN},announcements@{DOMAIN}");
    let out = swaks(
        relay.addr(),
        &[
            "--to",
            &to,
            "--from",
            "dave@contoso.com",
            "--header",
            "Subject: via the relay",
            "--attach",
            &format!("@{}", attachment.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    relay
        .wait_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|q| panic!("the relay kept mail queued:\n{q}\n{}", relay.maillog()));
    for alias in ["shared-documents", "announcements"] {
        wait_until(Duration::from_secs(20), alias, || {
            farm.record_count(alias) == 1
        });
        let items = farm.items(alias);
        assert_eq!(items[0]["subject"], "via the relay");
        let stored = std::fs::read(farm.library_dir(alias).join("budget.xlsx")).unwrap();
        assert_eq!(stored, b"PK\x03\x04 budget sheet");
    }
    let deliveries = relay.delivery_log();
    assert!(deliveries.contains("status=sent"), "{deliveries}");
    assert!(deliveries.contains("250 2.0.0"), "{deliveries}");
    let log = node.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("smtp transaction"))
        .unwrap();
    assert!(line.contains("helo=relay.test"), "{line}");
    assert!(line.contains("tls=true"), "Postfix used STARTTLS: {line}");
    // The relay learns of refused recipients at RCPT and bounces them itself.
    let out = swaks(
        relay.addr(),
        &[
            "--to",
            &format!("no-such-list@{DOMAIN}"),
            "--from",
            "dave@contoso.com",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    relay
        .wait_for_log("status=bounced", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(relay.maillog().contains("550 5.1.1"), "{}", relay.maillog());
    assert!(farm.quarantine().is_empty());
    node.stop();
}

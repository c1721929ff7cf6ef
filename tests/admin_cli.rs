//! Central Administration from the command line, against a real farm of
//! three `postroom` processes: a library created through one node receives
//! mail sent through another and its items are listed by a third; an alias
//! in use is refused naming its holder; a message quarantined for a missing
//! library is replayed once the library exists; farm settings changed with
//! `farm set` survive a restart and are in the history; `apply -f` shows
//! its diff and applies it as one version. (grpcurl and tokens:
//! `admin_tools.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::admin::{ask, ask_json, shared};
use support::clients::swaks;
use support::cluster::{drop_into, Cluster};
use support::{wait_until, DOMAIN};

const TIMINGS: &str = "lease_ttl = \"3s\"\nhandoff_after = \"1s\"";

#[test]
fn a_library_made_on_one_node_files_mail_sent_through_another_seen_from_a_third() {
    let cluster = Cluster::start(3, TIMINGS);
    let invoices = shared(&cluster, "invoices");
    let made = ask_json(
        &cluster,
        1,
        &[
            "library",
            "add",
            "invoices",
            "--name",
            "Invoices",
            "--attachment-folders",
            "sender",
            "--path",
            &invoices,
            "--json",
        ],
    );
    assert_eq!(made["library"]["address"], format!("invoices@{DOMAIN}"));
    assert_eq!(
        made["changes"][0],
        "library \"invoices\": added (name \"Invoices\")"
    );

    // The alias is taken: refused, naming the library that holds it (exit 4).
    let (code, _, err) = ask(
        &cluster,
        2,
        &[
            "library",
            "add",
            "INVOICES",
            "--name",
            "Other",
            "--path",
            &shared(&cluster, "other"),
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("alias \"INVOICES\" is already used by library \"Invoices\"")
            && err.contains("AlreadyExists"),
        "{err}"
    );
    // A node-local folder in a farm of three is refused naming the key.
    let (code, _, err) = ask(&cluster, 3, &["library", "add", "local", "--name", "Local"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("path must be an absolute path on storage every node shares"),
        "{err}"
    );

    // Mail through node 2 (SMTP, swaks with an attachment) and `postroom send` through node 3.
    let attachment = cluster.dir.path().join("q3.pdf");
    std::fs::write(&attachment, b"%PDF-1.4 quarterly").unwrap();
    let out = swaks(
        cluster.smtp_addr(2),
        &[
            "--to",
            &format!("invoices@{DOMAIN}"),
            "--from",
            "bob@fabrikam.example",
            "--header",
            "Subject: Q3 invoice",
            "--attach",
            &format!("@{}", attachment.display()),
        ],
    );
    assert!(out.status.success(), "{}", support::clients::text(&out));
    let eml = cluster.dir.path().join("sent.eml");
    std::fs::write(&eml, "From: carol@fabrikam.example\r\nSubject: Q4 invoice\r\nMessage-ID: <q4@fabrikam.example>\r\n\r\nsee attached\r\n").unwrap();
    let sent = ask_json(
        &cluster,
        3,
        &[
            "send",
            eml.to_str().unwrap(),
            "--from",
            "carol@fabrikam.example",
            "--to",
            &format!("invoices@{DOMAIN}"),
            "--json",
        ],
    );
    let key = sent["message_key"].as_str().unwrap().to_string();

    // Node 1 lists both items, newest first.
    let mut page = Value::Null;
    wait_until(Duration::from_secs(30), "two invoices filed", || {
        page = ask_json(&cluster, 1, &["items", "invoices", "--json"]);
        page["total"] == 2
    });
    let subjects: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&"Q3 invoice") && subjects.contains(&"Q4 invoice"),
        "{page}"
    );
    let q3 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["subject"] == "Q3 invoice")
        .unwrap();
    assert_eq!(
        q3["files"],
        serde_json::json!(["bob@fabrikam.example/q3.pdf"])
    );
    // Paged: one at a time, the second page holds the other.
    let first = ask_json(
        &cluster,
        2,
        &["items", "invoices", "--page-size", "1", "--json"],
    );
    let token = first["next_page_token"].as_str().unwrap();
    let second = ask_json(
        &cluster,
        2,
        &[
            "items",
            "invoices",
            "--page-size",
            "1",
            "--page-token",
            token,
            "--json",
        ],
    );
    assert_ne!(
        first["items"][0]["message_key"],
        second["items"][0]["message_key"]
    );
    assert_eq!(second["next_page_token"], "");

    // Where is the submitted message? By key from node 2, by Message-ID from node 1.
    let by_key = ask_json(&cluster, 2, &["message", "show", &key, "--json"]);
    assert_eq!(by_key["messages"][0]["state"], "filed", "{by_key}");
    assert_eq!(
        by_key["messages"][0]["libraries"],
        serde_json::json!(["invoices"])
    );
    let by_id = ask_json(
        &cluster,
        1,
        &[
            "message",
            "show",
            "--message-id",
            "<q4@fabrikam.example>",
            "--json",
        ],
    );
    assert_eq!(by_id["messages"][0]["message_key"], key.as_str());
    let activity = ask_json(&cluster, 3, &["activity", "--json"]);
    assert!(
        activity["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["message_key"] == key.as_str()),
        "{activity}"
    );
    let (code, _, err) = ask(
        &cluster,
        1,
        &["message", "show", "--message-id", "<never@x>"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn a_message_for_a_missing_library_is_replayed_once_the_library_exists() {
    let cluster = Cluster::start(3, TIMINGS);
    // SMTP refuses an unknown alias at RCPT; the drop folder cannot, so it is quarantined.
    let message = format!(
        "X-Sender: <bob@fabrikam.example>\r\nX-Receiver: <sales@{DOMAIN}>\r\nX-Receiver: <shared-documents@{DOMAIN}>\r\n\
         From: bob@fabrikam.example\r\nSubject: leads\r\nMessage-ID: <leads@fabrikam.example>\r\n\r\nnew leads\r\n"
    );
    drop_into(&cluster.drop_dir(), "leads.eml", message.as_bytes());
    let mut list = Value::Null;
    wait_until(
        Duration::from_secs(30),
        "the sales copy quarantined",
        || {
            list = ask_json(&cluster, 3, &["quarantine", "list", "--json"]);
            list["total"] == 1
        },
    );
    let entry = &list["entries"][0];
    assert_eq!(entry["code"], "unknown_alias", "{list}");
    assert_eq!(
        entry["refused_recipients"],
        serde_json::json!([format!("sales@{DOMAIN}")])
    );
    let id = entry["id"].as_str().unwrap().to_string();
    let shown = ask_json(&cluster, 1, &["quarantine", "show", &id, "--json"]);
    assert!(
        shown["headers"]
            .as_str()
            .unwrap()
            .contains("Subject: leads"),
        "{shown}"
    );

    // Replaying before the library exists is refused and keeps the entry.
    let (code, _, err) = ask(&cluster, 2, &["quarantine", "replay", &id]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no library has the alias \"sales\""), "{err}");
    ask_json(
        &cluster,
        1,
        &[
            "library",
            "add",
            "sales",
            "--name",
            "Sales",
            "--path",
            &shared(&cluster, "sales"),
            "--json",
        ],
    );
    let replayed = ask_json(&cluster, 2, &["quarantine", "replay", &id, "--json"]);
    assert_eq!(
        replayed["recipients"],
        serde_json::json!([format!("sales@{DOMAIN}")])
    );
    let mut items = Value::Null;
    wait_until(
        Duration::from_secs(30),
        "the replayed copy filed in sales",
        || {
            items = ask_json(&cluster, 3, &["items", "sales", "--json"]);
            items["total"] == 1
        },
    );
    assert_eq!(items["items"][0]["subject"], "leads");
    assert_eq!(
        ask_json(&cluster, 1, &["quarantine", "list", "--json"])["total"],
        0
    );
    // The copy for shared-documents was filed once, before; not again.
    assert_eq!(
        ask_json(&cluster, 1, &["items", "shared-documents", "--json"])["total"],
        1
    );
    let (code, _, err) = ask(&cluster, 1, &["quarantine", "rm", &id]);
    assert_eq!(code, 4, "{err}");
}

#[test]
fn farm_settings_are_versioned_survive_restarts_and_apply_declaratively() {
    let mut cluster = Cluster::start(3, TIMINGS);
    let (code, out, err) = ask(
        &cluster,
        3,
        &[
            "farm",
            "set",
            "max_message_size=1MB",
            "display_address=",
            "ledger_retention=2d",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("farm.max_message_size: \"50MB\" → \"1MB\""),
        "{out}"
    );
    let (code, _, err) = ask(&cluster, 1, &["farm", "set", "max_recipients=none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("max_recipients=none: not a number"), "{err}");
    let (code, _, err) = ask(&cluster, 1, &["farm", "set", "ledger_retention=10s"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("farm.ledger_retention: \"10s\" is shorter than 1m"),
        "{err}"
    );
    let (code, _, err) = ask(
        &cluster,
        2,
        &["farm", "set", "max_recipients=5", "--expected-version", "1"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("Aborted") && err.contains("not 1"), "{err}");

    // A restart re-reads the node's unchanged config file: the change stays.
    cluster.stop(1);
    cluster.restart(1);
    let farm = ask_json(&cluster, 2, &["farm", "show", "--json"]);
    assert_eq!(
        farm["settings"]["max_message_size_bytes"],
        1024 * 1024,
        "{farm}"
    );
    let history = ask_json(&cluster, 1, &["farm", "history", "--json"]);
    let newest = &history["versions"][0];
    assert_eq!(newest["version"], farm["version"]);
    assert!(
        newest["changed_by"].as_str().unwrap().starts_with("alice@"),
        "{newest}"
    );
    assert!(
        newest["changed_by"]
            .as_str()
            .unwrap()
            .ends_with("via node 3"),
        "{newest}"
    );

    // SMTP follows the new limit at once on every node.
    let big = cluster.dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 1_100_000]).unwrap();
    let out = swaks(
        cluster.smtp_addr(2),
        &[
            "--to",
            &format!("shared-documents@{DOMAIN}"),
            "--attach",
            &format!("@{}", big.display()),
        ],
    );
    assert!(
        support::clients::text(&out).contains("552 5.3.4"),
        "{}",
        support::clients::text(&out)
    );

    // apply -f: the diff first (a dry run changes nothing), then one version.
    let (_, toml, _) = ask(&cluster, 1, &["farm", "show", "--toml"]);
    let edited = toml.replace("max_recipients = 100", "max_recipients = 25");
    let file = cluster.dir.path().join("farm.toml");
    std::fs::write(&file, format!("[smtp]\nlisten = \"0.0.0.0:25\"\n{edited}")).unwrap();
    let (code, out, err) = ask(
        &cluster,
        2,
        &["apply", "-f", file.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("farm.max_recipients: 100 → 25") && out.contains("dry run"),
        "{out}"
    );
    assert!(err.contains("ignored: smtp"), "{err}");
    let before = ask_json(&cluster, 3, &["farm", "show", "--json"]);
    assert_eq!(before["settings"]["max_recipients"], 100);
    let applied = ask_json(
        &cluster,
        2,
        &["apply", "-f", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        applied["version"],
        before["version"].as_u64().unwrap() + 1,
        "{applied}"
    );
    assert_eq!(
        applied["changes"],
        serde_json::json!(["farm.max_recipients: 100 → 25"])
    );
    let again = ask_json(
        &cluster,
        3,
        &["apply", "-f", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(again["changes"], serde_json::json!([]));
    std::fs::write(&file, "[farm]\nincoming_domains = []\nbogus = 1\n").unwrap();
    let (code, _, err) = ask(&cluster, 2, &["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("config_toml") && err.contains("bogus"),
        "{err}"
    );
}

#[test]
fn domain_aliases_and_authenticated_senders_only_apply_at_once() {
    let cluster = Cluster::start(3, TIMINGS);
    let filed = |n: u64| {
        wait_until(Duration::from_secs(30), &format!("{n} items filed"), || {
            ask_json(&cluster, 1, &["items", "shared-documents", "--json"])["total"] == n
        })
    };
    let to = |domain: &str| format!("shared-documents@{domain}");
    // A domain alias is accepted at once on every node.
    let out = swaks(cluster.smtp_addr(2), &["--to", &to("old.contoso.example")]);
    assert!(
        support::clients::text(&out).contains("550 5.7.1"),
        "{}",
        support::clients::text(&out)
    );
    let (code, _, err) = ask(
        &cluster,
        3,
        &["farm", "set", "domain_aliases=old.contoso.example"],
    );
    assert_eq!(code, 0, "{err}");
    let out = swaks(cluster.smtp_addr(2), &["--to", &to("old.contoso.example")]);
    assert!(out.status.success(), "{}", support::clients::text(&out));
    filed(1);

    // Authenticated senders only, with no safe server listed: SMTP clients
    // are refused at connect, a plain drop file is quarantined, the admin
    // API (an authenticated client) is still taken.
    let (code, _, err) = ask(
        &cluster,
        1,
        &["farm", "set", "accept_authenticated_only=true"],
    );
    assert_eq!(code, 0, "{err}");
    let out = swaks(cluster.smtp_addr(2), &["--to", &to(DOMAIN)]);
    let text = support::clients::text(&out);
    assert!(
        !out.status.success() && text.contains("554 5.7.1"),
        "{text}"
    );
    let dropped = format!(
        "X-Sender: <bob@fabrikam.example>\r\nX-Receiver: <{}>\r\nFrom: bob@fabrikam.example\r\nSubject: unvouched\r\n\r\nhi\r\n",
        to(DOMAIN)
    );
    drop_into(&cluster.drop_dir(), "unvouched.eml", dropped.as_bytes());
    let mut list = Value::Null;
    wait_until(Duration::from_secs(30), "the drop file quarantined", || {
        list = ask_json(&cluster, 2, &["quarantine", "list", "--json"]);
        list["total"] == 1
    });
    assert_eq!(list["entries"][0]["code"], "not_authenticated", "{list}");
    let eml = cluster.dir.path().join("app.eml");
    std::fs::write(
        &eml,
        "From: app@contoso.example\r\nSubject: from the app\r\n\r\nhi\r\n",
    )
    .unwrap();
    let (code, _, err) = ask(
        &cluster,
        3,
        &["send", eml.to_str().unwrap(), "--to", &to(DOMAIN)],
    );
    assert_eq!(code, 0, "{err}");
    filed(2);
    // A vouching server's senders are authenticated.
    let (code, _, err) = ask(&cluster, 1, &["farm", "set", "vouching_servers=127.0.0.1"]);
    assert_eq!(code, 0, "{err}");
    let out = swaks(cluster.smtp_addr(2), &["--to", &to(DOMAIN)]);
    assert!(out.status.success(), "{}", support::clients::text(&out));
    filed(3);
}

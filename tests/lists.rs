//! End-to-end: the list kinds, each made with `postroom library add --kind`
//! on a running node and fed by real clients (Python's `email` package and
//! smtplib; raw invitations as Outlook and Google write them). An
//! announcement keeps its title, its sanitised HTML with inline images
//! pointing at the item's files, its text and its attachments; a blog post
//! references its images; the Python email corpus files as announcements;
//! a calendar keeps one event per UID at its latest SEQUENCE, cancels on
//! METHOD:CANCEL, keeps recurrence rules and overrides, and quarantines mail
//! that is not an invitation; a discussion board threads replies by
//! In-Reply-To, References, Thread-Index and subject.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::admin::{ask, ask_json, shared};
use support::clients::{python, smtplib_send_file, text};
use support::cluster::{count_files, drop_into, Cluster};
use support::{corpus, wait_until, DOMAIN};

const TIMINGS: &str = "lease_ttl = \"3s\"\nhandoff_after = \"1s\"";

/// Python: build a message with the `email` package from a JSON spec and
/// send it with smtplib. Spec keys: from, to, subject, text, html, inline
/// [[cid, name, base64]], attachments [[name, mime type, base64]], headers
/// {name: value}. Prints the refused-recipients JSON.
const SEND_BUILT: &str = r#"
import base64, json, smtplib, sys
from email.message import EmailMessage
host, port, spec = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
msg = EmailMessage()
msg["From"] = spec["from"]
msg["To"] = spec["to"]
msg["Subject"] = spec["subject"]
for k, v in spec.get("headers", {}).items():
    msg[k] = v
msg.set_content(spec.get("text", ""))
if "html" in spec:
    msg.add_alternative(spec["html"], subtype="html")
    html = msg.get_payload()[1]
    for cid, name, data in spec.get("inline", []):
        main, sub = "image", name.rsplit(".", 1)[1]
        html.add_related(base64.b64decode(data), main, sub, cid="<" + cid + ">", filename=name)
for name, mime, data in spec.get("attachments", []):
    main, sub = mime.split("/")
    msg.add_attachment(base64.b64decode(data), maintype=main, subtype=sub, filename=name)
with smtplib.SMTP(host, port, timeout=20) as s:
    refused = s.send_message(msg)
print(json.dumps({"refused": {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
"#;

fn send_built(cluster: &Cluster, spec: &Value) {
    let addr = cluster.smtp_addr(1);
    let out = python(
        SEND_BUILT,
        &[
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &spec.to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn send_raw(cluster: &Cluster, rcpt: &str, message: &str) {
    let file = cluster.dir.path().join("raw.eml");
    std::fs::write(&file, message.replace('\n', "\r\n")).unwrap();
    smtplib_send_file(
        cluster.smtp_addr(1),
        "organizer@contoso.example",
        rcpt,
        &file,
    );
}

/// `library add <alias> --kind <kind>` on shared storage; its folder.
fn add_list(cluster: &Cluster, alias: &str, kind: &str) -> std::path::PathBuf {
    let path = shared(cluster, alias);
    ask_json(
        cluster,
        1,
        &[
            "library", "add", alias, "--name", alias, "--kind", kind, "--path", &path, "--json",
        ],
    );
    std::path::PathBuf::from(path)
}

fn items(cluster: &Cluster, alias: &str) -> Vec<Value> {
    let page = ask_json(cluster, 1, &["items", alias, "--all", "--json"]);
    page["items"].as_array().cloned().unwrap_or_default()
}

fn wait_items(cluster: &Cluster, alias: &str, n: usize) -> Vec<Value> {
    wait_until(
        Duration::from_secs(30),
        &format!("{n} items in {alias}"),
        || {
            items(cluster, alias)
                .iter()
                .filter(|i| i["state"] == "done")
                .count()
                >= n
        },
    );
    items(cluster, alias)
}

fn b64(bytes: &[u8]) -> String {
    support::base64(bytes).replace("\r\n", "")
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n fake image bytes";

#[test]
fn announcements_and_blog_posts_keep_title_safe_body_inline_images_and_attachments() {
    let cluster = Cluster::start(1, TIMINGS);
    let news = add_list(&cluster, "news", "announcements");
    let blog = add_list(&cluster, "blog", "blog");
    let html = "<p>Party on <b>Friday</b> <img src=\"cid:logo@x\" alt=logo></p>\
                <script>alert(1)</script><a href=\"javascript:alert(2)\" onclick=\"x()\">click</a>\
                <img src=\"https://tracker.example/p.gif\">";
    for (alias, subject) in [("news", "Summer party"), ("blog", "Our first post")] {
        send_built(
            &cluster,
            &serde_json::json!({
                "from": "alice@contoso.example",
                "to": format!("{alias}@{DOMAIN}"),
                "subject": subject,
                "text": "Party on Friday\n",
                "html": html,
                "inline": [["logo@x", "logo.png", b64(PNG)]],
                "attachments": [["agenda.pdf", "application/pdf", b64(b"%PDF-1.4 agenda")]],
            }),
        );
    }
    for (alias, folder, kind, subject) in [
        ("news", &news, "announcement", "Summer party"),
        ("blog", &blog, "blog_post", "Our first post"),
    ] {
        let got = wait_items(&cluster, alias, 1);
        let item = &got[0];
        assert_eq!(item["item_kind"], kind, "{item}");
        assert_eq!(item["title"], subject);
        assert_eq!(item["sender"], "alice@contoso.example");
        assert_eq!(item["body_text"], "Party on Friday\n");
        let body = item["body_html"].as_str().unwrap();
        for gone in [
            "<script",
            "alert(",
            "javascript:",
            "onclick",
            "tracker.example",
        ] {
            assert!(!body.contains(gone), "{gone} in {body}");
        }
        assert!(body.contains("<b>Friday</b>"), "{body}");
        let files: Vec<&str> = item["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let key = item["message_key"].as_str().unwrap();
        let id = &key[..16];
        assert_eq!(
            files,
            [format!("{id}/logo.png"), format!("{id}/agenda.pdf")]
        );
        // The inline image points at its file, relative to the list's folder.
        assert!(body.contains(&format!("src=\"{id}/logo.png\"")), "{body}");
        assert_eq!(std::fs::read(folder.join(files[0])).unwrap(), PNG);
        assert_eq!(
            std::fs::read(folder.join(files[1])).unwrap(),
            b"%PDF-1.4 agenda"
        );
    }
}

#[test]
fn the_python_email_corpus_files_as_announcements() {
    let cluster = Cluster::start(1, TIMINGS);
    add_list(&cluster, "news", "announcements");
    let mut sent = 0;
    for entry in std::fs::read_dir(corpus("python-email")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The folder also holds image and sound samples; the messages are msg_*.
        if !name.starts_with("msg_") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let mut file =
            format!("X-Sender: <corpus@contoso.example>\r\nX-Receiver: <news@{DOMAIN}>\r\n")
                .into_bytes();
        file.extend_from_slice(&bytes);
        drop_into(&cluster.drop_dir(), &format!("{name}.eml"), &file);
        sent += 1;
    }
    wait_until(
        Duration::from_secs(60),
        "the corpus filed or quarantined",
        || {
            let q = count_files(&cluster.dir.path().join("quarantine"), ".eml");
            items(&cluster, "news").len() + q == sent
        },
    );
    let filed = items(&cluster, "news");
    // Every corpus message parses into an item (its odd MIME and broken
    // headers included); nothing is quarantined.
    assert_eq!(filed.len(), sent, "{} of {sent} filed", filed.len());
    assert_eq!(sent, 48);
    let mut empty = 0;
    for item in &filed {
        assert_eq!(item["item_kind"], "announcement", "{item}");
        assert_eq!(item["title"], item["subject"], "{item}");
        let body = item["body_text"].as_str().unwrap().trim().is_empty()
            && item["body_html"].as_str().unwrap().trim().is_empty();
        if body && item["files"].as_array().unwrap().is_empty() {
            empty += 1;
        }
    }
    // Eight corpus messages have nothing in them on purpose (msg_08 and its
    // kin: empty text parts; msg_35: no blank line before the body; ...).
    assert!(
        empty <= 8,
        "{empty} of {} items have no body and no files",
        filed.len()
    );
    let plain = filed
        .iter()
        .find(|i| i["subject"] == "This is a test message")
        .unwrap();
    assert!(
        plain["body_text"]
            .as_str()
            .unwrap()
            .starts_with("\nHi,\n\nDo you like this message?"),
        "{plain}"
    );
    assert_eq!(plain["body_html"], "");
    // Outlook Express's message (msg_15): both bodies; the HTML keeps its
    // text, not its head.
    let xx = filed.iter().find(|i| i["subject"] == "XX").unwrap();
    assert_eq!(xx["body_text"], "Some removed test.\n");
    let html = xx["body_html"].as_str().unwrap();
    assert!(html.contains("Some removed text."), "{html}");
    assert!(!html.contains("Some removed HTML"), "{html}");
}

/// An invitation as Outlook writes it (a text/calendar alternative body).
fn invitation(
    method: &str,
    uid: &str,
    sequence: u32,
    summary: &str,
    start: &str,
    extra: &str,
) -> String {
    format!(
        "From: organizer@contoso.example\nTo: cal@{DOMAIN}\nSubject: {summary}\n\
Message-ID: <{uid}-{sequence}-{method}@contoso.example>\nMIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\nContent-Type: text/plain; charset=utf-8\n\n{summary}\n\
--alt\nContent-Type: text/calendar; charset=utf-8; method={method}\nContent-Transfer-Encoding: 7bit\n\n\
BEGIN:VCALENDAR\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\nVERSION:2.0\nMETHOD:{method}\n\
BEGIN:VTIMEZONE\nTZID:W. Europe Standard Time\nBEGIN:STANDARD\nDTSTART:16011028T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n\
BEGIN:VEVENT\nUID:{uid}\nSEQUENCE:{sequence}\nSUMMARY:{summary}\n\
DTSTART;TZID=W. Europe Standard Time:{start}\nDTEND;TZID=W. Europe Standard Time:{start}\n\
ORGANIZER;CN=Organizer:mailto:organizer@contoso.example\nLOCATION:Room 1\nDTSTAMP:20261101T0{sequence}0000Z\n{extra}END:VEVENT\nEND:VCALENDAR\n--alt--\n"
    )
}

#[test]
fn a_calendar_keeps_one_event_per_uid_at_its_latest_sequence() {
    let cluster = Cluster::start(1, TIMINGS);
    add_list(&cluster, "cal", "calendar");
    let to = format!("cal@{DOMAIN}");
    // The update arrives before the original: the higher SEQUENCE still wins.
    send_raw(
        &cluster,
        &to,
        &invitation(
            "REQUEST",
            "review-1",
            1,
            "Review (moved)",
            "20261202T140000",
            "",
        ),
    );
    send_raw(
        &cluster,
        &to,
        &invitation("REQUEST", "review-1", 0, "Review", "20261201T100000", ""),
    );
    // A weekly meeting with one occurrence moved, and one cancelled later.
    send_raw(
        &cluster,
        &to,
        &invitation("REQUEST", "weekly-1", 0, "Weekly", "20261207T090000", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\nEXDATE;TZID=W. Europe Standard Time:20261221T090000\n"),
    );
    send_raw(
        &cluster,
        &to,
        &invitation(
            "REQUEST",
            "weekly-1",
            1,
            "Weekly (late)",
            "20261214T110000",
            "RECURRENCE-ID;TZID=W. Europe Standard Time:20261214T090000\n",
        ),
    );
    send_raw(
        &cluster,
        &to,
        &invitation("REQUEST", "party-1", 0, "Party", "20261218T180000", ""),
    );
    send_raw(
        &cluster,
        &to,
        &invitation(
            "CANCEL",
            "party-1",
            1,
            "Party",
            "20261218T180000",
            "STATUS:CANCELLED\n",
        ),
    );
    // A stranger's cancel (neither the first sender nor the organizer) is ignored.
    send_raw(
        &cluster,
        &to,
        &invitation("REQUEST", "review-2", 0, "Budget", "20261203T090000", ""),
    );
    send_raw(
        &cluster,
        &to,
        &invitation("CANCEL", "review-2", 9, "Budget", "20261203T090000", "")
            .replace("From: organizer@", "From: mallory@"),
    );
    // Not an invitation: quarantined with the reason.
    send_raw(
        &cluster,
        &to,
        &format!("From: bob@contoso.example\nTo: {to}\nSubject: lunch?\nMessage-ID: <lunch@contoso.example>\n\nAnyone?\n"),
    );
    wait_items(&cluster, "cal", 8);
    let events = ask_json(&cluster, 1, &["events", "cal", "--json"]);
    let events = events["events"].as_array().unwrap();
    let find = |uid: &str, occurrence: bool| {
        events
            .iter()
            .find(|e| e["uid"] == uid && (e["recurrence_id"] != "") == occurrence)
            .unwrap_or_else(|| panic!("{uid} in {events:?}"))
    };
    assert_eq!(events.len(), 5, "{events:?}");
    let budget = find("review-2", false);
    assert_eq!(budget["cancelled"], false, "{budget}");
    assert_eq!(
        budget["ignored_items"].as_array().unwrap().len(),
        1,
        "{budget}"
    );
    let review = find("review-1", false);
    assert_eq!(review["summary"], "Review (moved)");
    assert_eq!(review["sequence"], 1);
    assert_eq!(review["start"], "20261202T140000 (W. Europe Standard Time)");
    assert_eq!(review["items"].as_array().unwrap().len(), 2);
    assert_eq!(review["cancelled"], false, "{review}");
    let weekly = find("weekly-1", false);
    assert_eq!(
        weekly["recurrence"],
        serde_json::json!([
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
            "EXDATE;TZID=W. Europe Standard Time:20261221T090000"
        ])
    );
    let moved = find("weekly-1", true);
    assert_eq!(moved["summary"], "Weekly (late)");
    assert_eq!(
        moved["recurrence_id"],
        "20261214T090000 (W. Europe Standard Time)"
    );
    let party = find("party-1", false);
    assert_eq!(party["cancelled"], true);
    assert_eq!(party["summary"], "Party");
    // The table says the same.
    let (code, table, _) = ask(&cluster, 1, &["events", "cal"]);
    assert_eq!(code, 0);
    assert!(
        table.contains("cancelled") && table.contains("Review (moved)"),
        "{table}"
    );
    // Every invitation is an item with its method and events.
    let filed = items(&cluster, "cal");
    assert!(
        filed.iter().all(|i| i["item_kind"] == "invitation"),
        "{filed:?}"
    );
    assert!(filed.iter().any(|i| i["method"] == "CANCEL"));
    // The lunch question is quarantined, not filed.
    wait_until(Duration::from_secs(20), "lunch quarantined", || {
        quarantine_codes(&cluster).contains(&"not_an_invitation".to_string())
    });
    // Asking a calendar's threads is refused, naming the kind.
    let (code, _, err) = ask(&cluster, 1, &["threads", "cal"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("is a calendar, not a discussion_board"),
        "{err}"
    );
}

fn quarantine_codes(cluster: &Cluster) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(cluster.dir.path().join("quarantine")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let path = e.ok()?.path();
        if !path.to_string_lossy().ends_with(".reason.json") {
            return None;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        Some(v["code"].as_str()?.to_string())
    })
    .collect()
}

/// Outlook's Thread-Index: 22 bytes (FILETIME + GUID), then 5 per reply.
fn thread_index(conversation: u8, replies: usize) -> String {
    let mut bytes: Vec<u8> = (0..22).map(|i| conversation.wrapping_add(i)).collect();
    bytes.extend(std::iter::repeat_n(7u8, 5 * replies));
    b64(&bytes)
}

#[test]
fn a_discussion_board_threads_replies_by_headers_then_subject() {
    let cluster = Cluster::start(1, TIMINGS);
    add_list(&cluster, "talk", "discussion_board");
    let to = format!("talk@{DOMAIN}");
    let post = |subject: &str, headers: Value| {
        send_built(
            &cluster,
            &serde_json::json!({
                "from": "carol@contoso.example", "to": to, "subject": subject,
                "text": format!("{subject}\n"), "headers": headers,
            }),
        );
    };
    post(
        "Budget 2027",
        serde_json::json!({"Message-ID": "<budget@x>"}),
    );
    post(
        "RE: Budget 2027",
        serde_json::json!({"Message-ID": "<r1@x>", "In-Reply-To": "<budget@x>"}),
    );
    post(
        "Re: Re: Budget 2027",
        serde_json::json!({"Message-ID": "<r2@x>", "References": "<budget@x> <r1@x>"}),
    );
    // Outlook: no In-Reply-To, only the Thread-Index of the conversation.
    post(
        "Offsite",
        serde_json::json!({"Message-ID": "<o@x>", "Thread-Index": thread_index(40, 0)}),
    );
    post(
        "AW: Offsite",
        serde_json::json!({"Message-ID": "<o1@x>", "Thread-Index": thread_index(40, 1)}),
    );
    // Only the subject says it is a reply.
    post(
        "Re: budget 2027",
        serde_json::json!({"Message-ID": "<r3@x>"}),
    );
    // The same subject, not a reply: a thread of its own.
    post("Offsite", serde_json::json!({"Message-ID": "<o2@x>"}));
    wait_items(&cluster, "talk", 7);
    let threads = ask_json(&cluster, 1, &["threads", "talk", "--json"]);
    let threads = threads["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 3, "{threads:?}");
    let sizes: Vec<usize> = threads
        .iter()
        .map(|t| t["posts"].as_array().unwrap().len())
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2, 4], "{threads:?}");
    let budget = threads
        .iter()
        .find(|t| t["title"] == "Budget 2027")
        .unwrap();
    let posts = budget["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 4);
    assert_eq!(posts[0]["title"], "Budget 2027");
    assert_eq!(posts[1]["reply_to"], posts[0]["message_key"], "{posts:?}");
    assert_eq!(posts[2]["reply_to"], posts[1]["message_key"], "{posts:?}");
    // Each item says its thread.
    let filed = items(&cluster, "talk");
    let root = posts[0]["message_key"].as_str().unwrap();
    assert_eq!(
        filed.iter().filter(|i| i["thread_id"] == root).count(),
        4,
        "{filed:?}"
    );
    let (code, table, _) = ask(&cluster, 1, &["threads", "talk"]);
    assert_eq!(code, 0);
    assert!(table.contains("Budget 2027 (4 posts)"), "{table}");
}

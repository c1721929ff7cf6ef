//! What list items take from a message besides its files: the HTML and
//! plain-text bodies (only those really sent), the threading headers, the
//! Content-IDs of inline images and the calendar part of an invitation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/base64.rs"]
mod b64;
use b64::base64;
use postroom_mail::{parse_message, read_invitation, sanitize_html, ParsedMessage};

fn parse(raw: &str) -> ParsedMessage<'static> {
    parse_message(raw.replace('\n', "\r\n").as_bytes())
        .unwrap()
        .into_owned()
}

#[test]
fn html_and_text_alternative_gives_both() {
    let m = parse(
        "From: a@contoso.example\nSubject: both\nMIME-Version: 1.0\n\
         Content-Type: multipart/alternative; boundary=b\n\n\
         --b\nContent-Type: text/plain; charset=utf-8\n\nHello in pl\u{e4}in\n\
         --b\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
         <p>Hello in <b>h=E4tml</b></p>\n--b--\n",
    );
    assert_eq!(m.body_text.as_deref(), Some("Hello in pläin"));
    assert_eq!(m.body_html.as_deref(), Some("<p>Hello in <b>hätml</b></p>"));
    assert!(m.attachments.is_empty());
    assert_eq!(m.calendar, None);
}

#[test]
fn text_only_gives_no_html_body() {
    let m = parse("From: a@contoso.example\nSubject: plain\n\nJust text.\n");
    assert_eq!(m.body_text.as_deref(), Some("Just text.\r\n"));
    assert_eq!(m.body_html, None);
    // Also inside an alternative with only a text part.
    let m = parse(
        "From: a@contoso.example\nContent-Type: multipart/alternative; boundary=b\n\n\
         --b\nContent-Type: text/plain\n\nonly text\n--b--\n",
    );
    assert_eq!(m.body_text.as_deref(), Some("only text"));
    assert_eq!(m.body_html, None);
}

#[test]
fn html_only_gives_no_text_body() {
    let m = parse(
        "From: a@contoso.example\nSubject: html\nContent-Type: text/html; charset=utf-8\n\n<p>Only <i>HTML</i></p>\n",
    );
    assert_eq!(m.body_html.as_deref(), Some("<p>Only <i>HTML</i></p>\r\n"));
    assert_eq!(m.body_text, None);
}

#[test]
fn threading_headers_are_read() {
    let m = parse(
        "From: a@contoso.example\nSubject: RE: plan\nMessage-ID: <c@contoso.example>\n\
         In-Reply-To: <b@contoso.example>\n\
         References: <a@contoso.example>\n <b@contoso.example>\n\
         Thread-Index: AdnXb3QwQmVnaW5uaW5nT2ZUaGVDb252\n ZXJzYXRpb24=\n\n\
         body\n",
    );
    assert_eq!(m.in_reply_to, ["b@contoso.example"]);
    assert_eq!(m.references, ["a@contoso.example", "b@contoso.example"]);
    assert_eq!(
        m.thread_index.as_deref(),
        Some("AdnXb3QwQmVnaW5uaW5nT2ZUaGVDb252 ZXJzYXRpb24=")
    );
    let m = parse("From: a@contoso.example\nSubject: new\n\nbody\n");
    assert!(m.in_reply_to.is_empty());
    assert!(m.references.is_empty());
    assert_eq!(m.thread_index, None);
}

#[test]
fn inline_image_has_its_content_id() {
    let m = parse(
        "From: a@contoso.example\nSubject: logo\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=m\n\n\
         --m\nContent-Type: multipart/related; boundary=r\n\n\
         --r\nContent-Type: text/html\n\n<p><img src=\"cid:logo@contoso.example\"></p>\n\
         --r\nContent-Type: image/png; name=\"logo.png\"\nContent-ID: <logo@contoso.example>\n\
         Content-Disposition: inline; filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n\n\
         iVBORw0KGgo=\n--r--\n\
         --m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"q4.pdf\"\n\n%PDF\n\
         --m--\n",
    );
    let files: Vec<(&str, Option<&str>)> = m
        .attachments
        .iter()
        .map(|a| (a.file_name.as_str(), a.content_id.as_deref()))
        .collect();
    assert_eq!(
        files,
        [("logo.png", Some("logo@contoso.example")), ("q4.pdf", None)]
    );
    // The body's cid: image points at the saved file once sanitised.
    let html = m.body_html.as_deref().unwrap();
    let saved = |cid: &str| {
        m.attachments
            .iter()
            .find(|a| a.content_id.as_deref() == Some(cid))
            .map(|a| format!("3f2a/{}", a.file_name))
    };
    assert_eq!(
        sanitize_html(html, &saved),
        "<p><img src=\"3f2a/logo.png\"></p>"
    );
}

const INVITATION: &str = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:q4@contoso.example\n\
SUMMARY:Q4 review\nDTSTART;TZID=W. Europe Standard Time:20261201T100000\nEND:VEVENT\nEND:VCALENDAR\n";

#[test]
fn calendar_body_alternative_is_found() {
    // Outlook: the invitation is the third alternative of the body.
    let raw = format!(
        "From: anna@contoso.example\nSubject: Q4 review\nMIME-Version: 1.0\n\
         Content-Type: multipart/alternative; boundary=b\n\n\
         --b\nContent-Type: text/plain; charset=utf-8\n\nWhen: 1 Dec 10:00\n\
         --b\nContent-Type: text/html; charset=utf-8\n\n<p>When: 1 Dec 10:00</p>\n\
         --b\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\n\
         Content-Transfer-Encoding: base64\n\n{}\n--b--\n",
        base64(INVITATION.replace('\n', "\r\n").as_bytes())
    );
    let m = parse(&raw);
    assert_eq!(m.body_text.as_deref(), Some("When: 1 Dec 10:00"));
    assert_eq!(m.body_html.as_deref(), Some("<p>When: 1 Dec 10:00</p>"));
    let calendar = m.calendar.as_deref().unwrap();
    assert_eq!(calendar, INVITATION.replace('\n', "\r\n").as_bytes());
    let invitation = read_invitation(calendar).unwrap();
    assert_eq!(invitation.method, "REQUEST");
    assert_eq!(invitation.events[0].uid, "q4@contoso.example");
}

#[test]
fn calendar_attachment_is_found() {
    let raw = format!(
        "From: anna@contoso.example\nSubject: invite\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=m\n\n\
         --m\nContent-Type: text/plain\n\nSee the invite.\n\
         --m\nContent-Type: text/calendar; name=\"invite.ics\"\n\
         Content-Disposition: attachment; filename=\"invite.ics\"\n\n{INVITATION}\
         --m--\n"
    );
    let m = parse(&raw);
    assert_eq!(m.body_text.as_deref(), Some("See the invite."));
    let invitation = read_invitation(m.calendar.as_deref().unwrap()).unwrap();
    assert_eq!(invitation.events[0].summary, "Q4 review");
    assert_eq!(m.attachments[0].file_name, "invite.ics");
}

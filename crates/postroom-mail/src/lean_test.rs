//! The lean parse gives what the whole parse gives: on every message of the
//! shared corpus (cutting every base64 body it can, however small), on TNEF
//! streams wrapped in messages, and on large synthetic messages where the
//! real threshold applies (S/MIME signed data among them, opened from the
//! raw message); and it cuts what it should.

use std::path::{Path, PathBuf};

use super::*;
use crate::test_rng::Rng;
use crate::{parse_drop_file, Attachment};

use crate::test_base64::{base64_lines as encode, ALPHABET as B64};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new(CORPUS).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    paths.sort();
    paths
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut last = 0u8;
    for &b in raw {
        if b == b'\n' && last != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        last = b;
    }
    out
}

fn bytes_of(a: &Attachment<'_>) -> Vec<u8> {
    a.content.to_bytes().into_owned()
}

/// Lean and whole parses agree on everything, attachments by their bytes.
/// Returns how many attachments the lean parse left in the raw message.
fn assert_same(raw: &[u8], min_len: usize, what: &str) -> usize {
    let whole = parse_whole(raw);
    let lean = parse(raw, min_len);
    let (whole, lean) = match (whole, lean) {
        (Ok(w), Ok(l)) => (w, l),
        (Err(w), Err(l)) => {
            assert_eq!(w, l, "{what}");
            return 0;
        }
        (w, l) => panic!("{what}: whole {:?} but lean {:?}", w.is_ok(), l.is_ok()),
    };
    assert_eq!(lean.headers, whole.headers, "{what}");
    assert_eq!(lean.body_html, whole.body_html, "{what}");
    assert_eq!(lean.body_text, whole.body_text, "{what}");
    assert_eq!(lean.in_reply_to, whole.in_reply_to, "{what}");
    assert_eq!(lean.references, whole.references, "{what}");
    assert_eq!(lean.thread_index, whole.thread_index, "{what}");
    assert_eq!(lean.calendar, whole.calendar, "{what}");
    assert_eq!(lean.problems, whole.problems, "{what}");
    assert_eq!(lean.attachments.len(), whole.attachments.len(), "{what}");
    let mut cut = 0;
    for (l, w) in lean.attachments.iter().zip(&whole.attachments) {
        assert_eq!(l.file_name, w.file_name, "{what}");
        assert_eq!(l.content_type, w.content_type, "{what}");
        assert_eq!(l.content_id, w.content_id, "{what}");
        assert_eq!(l.content.len(), w.content.len(), "{what}: {}", l.file_name);
        assert_eq!(bytes_of(l), bytes_of(w), "{what}: {}", l.file_name);
        assert!(matches!(w.content, Content::Bytes(_)));
        if matches!(l.content, Content::Base64(_)) {
            cut += 1;
        }
    }
    cut
}

#[test]
fn corpus_messages_parse_the_same_lean_and_whole() {
    let mut cut = 0;
    let mut messages = Vec::new();
    for path in files("python-email", ".txt") {
        messages.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    for path in files("drop", ".eml") {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(drop) = parse_drop_file(&bytes) {
            messages.push((path.display().to_string(), drop.message.to_vec()));
        }
    }
    // The sample files beside them (images, sounds) as attachments.
    for path in files("python-email", "") {
        if path.extension().is_some_and(|e| e == "txt") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let raw = format!(
            "From: a@x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\nhere\n--b\nContent-Type: application/octet-stream; name=\"{name}\"\n\
Content-Transfer-Encoding: base64\n\n{}--b--\n",
            encode(&data, "\n")
        );
        messages.push((name, raw.into_bytes()));
    }
    assert!(messages.len() > 70, "{}", messages.len());
    for (name, raw) in &messages {
        for variant in [raw.clone(), to_crlf(raw)] {
            for min_len in [1, 100, MIN_CUT] {
                cut += assert_same(&variant, min_len, name);
            }
        }
    }
    assert!(cut > 20, "only {cut} attachments were cut");
}

#[test]
fn tnef_in_messages_is_unpacked_the_same() {
    for path in files("tnef", ".tnef") {
        let tnef = std::fs::read(&path).unwrap();
        let raw = format!(
            "From: a@x\r\nSubject: tnef\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}--b\r\n\
Content-Type: application/octet-stream; name=\"winmail.dat\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
            encode(&tnef, "\r\n"),
            encode(&tnef, "\r\n")
        );
        let name = path.display().to_string();
        assert_same(raw.as_bytes(), 1, &name);
    }
}

/// A large message: text body, then the given parts, CRLF or LF.
fn big_message(parts: &[String], eol: &str) -> Vec<u8> {
    let mut raw = String::from(
        "From: a@x\nTo: l@y\nSubject: big\nContent-Type: multipart/mixed; boundary=\"=_b\"\n\n\
--=_b\nContent-Type: text/plain\n\nPlease file.\n",
    );
    for part in parts {
        raw.push_str("--=_b\n");
        raw.push_str(part);
    }
    raw.push_str("--=_b--\n");
    let raw = raw.replace('\n', eol);
    raw.into_bytes()
}

fn part(headers: &str, body: &[u8], eol: &str) -> String {
    format!(
        "{headers}\nContent-Transfer-Encoding: base64\n\n{}",
        encode(body, eol).replace(eol, "\n")
    )
}

#[test]
fn large_attachments_are_cut_and_give_the_same_bytes() {
    let mut rng = Rng(0xb16_b16);
    for eol in ["\r\n", "\n"] {
        let mut parts = Vec::new();
        for i in 0..6 {
            let data = rng.bytes(MIN_CUT + 1000 * i);
            parts.push(part(
                &format!("Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"f{i}.bin\""),
                &data,
                eol,
            ));
        }
        // A text attachment (decoded as sent, the other decoder).
        let text: Vec<u8> = (0..MIN_CUT + 7).map(|i| b"ab;c\xe9\n"[i % 6]).collect();
        parts.push(part(
            "Content-Type: text/csv; charset=iso-8859-1\nContent-Disposition: attachment; filename=\"t.csv\"",
            &text,
            eol,
        ));
        let raw = big_message(&parts, eol);
        assert_eq!(assert_same(&raw, MIN_CUT, "big"), 7);
        // Small ones stay as they were.
        assert_eq!(assert_same(&raw, 100 * MIN_CUT, "big"), 0);
    }
}

#[test]
fn large_signed_data_is_cut_and_still_opened() {
    let mut rng = Rng(0x9_7e);
    for eol in ["\r\n", "\n"] {
        let pdf = rng.bytes(MIN_CUT + 500);
        let entity = format!(
            "Content-Type: multipart/mixed; boundary=\"in\"\n\n--in\n\
Content-Type: text/plain\n\nsigned body\n--in\n{}--in--\n",
            part("Content-Type: application/pdf; name=\"q3.pdf\"", &pdf, "\n")
        )
        .replace('\n', eol);
        let p7m = crate::smime::tests::opaque_signed(entity.as_bytes());
        let headers =
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"";
        // Attached to a message with its own body.
        let raw = big_message(&[part(headers, &p7m, eol)], eol);
        assert_eq!(assert_same(&raw, MIN_CUT, "attached p7m"), 1);
        let lean = parse(&raw, MIN_CUT).unwrap();
        let names: Vec<&str> = lean
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        assert_eq!(names, ["smime.p7m", "q3.pdf"]);
        assert!(matches!(lean.attachments[0].content, Content::Base64(_)));
        assert!(lean.attachments[1].content.same_bytes(&pdf));
        assert_eq!(lean.body_text.as_deref(), Some("Please file."));
        // A message signed as a whole: its bodies are inside.
        let whole = format!(
            "From: a@x\nSubject: signed\n{headers}\nContent-Transfer-Encoding: base64\n\n{}",
            encode(&p7m, "\n")
        )
        .replace('\n', eol);
        assert_eq!(assert_same(whole.as_bytes(), MIN_CUT, "signed whole"), 1);
        let lean = parse(whole.as_bytes(), MIN_CUT).unwrap();
        assert_eq!(lean.body_text.as_deref(), Some("signed body"));
        assert!(lean.attachments[1].content.same_bytes(&pdf));
    }
}

#[test]
fn bodies_read_while_parsing_are_put_back() {
    let mut rng = Rng(3);
    let eol = "\r\n";
    let big_text: Vec<u8> = (0..MIN_CUT + 10)
        .map(|i| b"hello world\n"[i % 12])
        .collect();
    let mut with_begin = rng.bytes(MIN_CUT);
    with_begin.extend_from_slice(b"\nbegin 644 x.bin\n#0V%T\n`\nend\n");
    let parts = vec![
        // A text body in base64 (read as the message's text).
        part("Content-Type: text/plain; charset=utf-8", &big_text, eol),
        // A calendar.
        part(
            "Content-Type: text/calendar; method=REQUEST",
            &big_text,
            eol,
        ),
        // An inline image among the text bodies, with a "begin" line.
        part(
            "Content-Type: image/png\nContent-Disposition: inline",
            &with_begin,
            eol,
        ),
        // An inline image without one: cut.
        part(
            "Content-Type: image/jpeg\nContent-Disposition: inline",
            &rng.bytes(MIN_CUT),
            eol,
        ),
        // An attached message holding a large part: never cut.
        format!(
            "Content-Type: message/rfc822\n\nFrom: c@d\nContent-Type: application/pdf\n\
Content-Transfer-Encoding: base64\n\n{}",
            encode(&rng.bytes(MIN_CUT), "\n")
        ),
        // A large attachment after all that: cut.
        part(
            "Content-Type: application/pdf; name=\"after.pdf\"",
            &rng.bytes(MIN_CUT),
            eol,
        ),
    ];
    let raw = big_message(&parts, eol);
    assert_eq!(assert_same(&raw, MIN_CUT, "put back"), 2);
    let parsed = parse(&raw, MIN_CUT).unwrap();
    assert!(parsed.calendar.is_some());
    assert!(parsed.attachments.iter().any(|a| a.file_name == "x.bin"));
}

#[test]
fn odd_base64_decodes_like_mail_parser() {
    // '=' inside a body, a trailing partial group, spaces and tabs: each
    // decoder's quirks, on bodies large enough to be cut.
    let mut rng = Rng(11);
    let mut odd = Vec::new();
    while odd.len() < MIN_CUT + 100 {
        let line_len = 1 + rng.below(90);
        for _ in 0..line_len {
            odd.push(match rng.below(60) {
                0 => b'=',
                1 => b' ',
                2 => b'\t',
                _ => B64[rng.below(64)],
            });
        }
        odd.extend_from_slice(if rng.below(2) == 0 { b"\r\n" } else { b"\n" });
    }
    odd.extend_from_slice(b"QUI");
    let body = String::from_utf8(odd).unwrap();
    for ctype in [
        "application/x-odd",
        "text/plain; name=odd.txt\nContent-Disposition: attachment",
    ] {
        let raw = format!(
            "From: a@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: {ctype}\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b--\r\n"
        )
        .replace("\nContent-Disposition", "\r\nContent-Disposition");
        assert_eq!(assert_same(raw.as_bytes(), MIN_CUT, ctype), 1, "{ctype}");
    }
}

#[test]
fn the_copy_is_small() {
    let mut rng = Rng(5);
    let parts: Vec<String> = (0..3)
        .map(|i| {
            part(
                &format!("Content-Type: application/zip; name=\"{i}.zip\""),
                &rng.bytes(MIN_CUT * 2),
                "\r\n",
            )
        })
        .collect();
    let raw = big_message(&parts, "\r\n");
    let cuts: Vec<Cut> = mime_scan::base64_leaves(&raw)
        .into_iter()
        .filter_map(|leaf| Cut::new(&raw, leaf, MIN_CUT))
        .collect();
    assert_eq!(cuts.len(), 3);
    let copy = make_copy(&raw, &cuts);
    assert!(copy.bytes.len() < 2000, "{}", copy.bytes.len());
    for (cut, (placeholder, shift)) in cuts.iter().zip(copy.placeholders.iter().zip(&copy.shifts)) {
        assert_eq!(&copy.bytes[placeholder.clone()], b"AAAA\r\n");
        // What follows the placeholder is what followed the cut.
        let after = &raw[cut.cut_end..(cut.cut_end + 50).min(raw.len())];
        assert!(copy.bytes[placeholder.end..].starts_with(after));
        assert_eq!(placeholder.end + shift, cut.cut_end);
    }
}

#[test]
fn mangled_messages_parse_the_same_lean_and_whole() {
    // Lines of real structures shuffled, bytes flipped: whatever the scanner
    // makes of them, the lean parse must give what the whole parse gives.
    let template = "From: a@x\nContent-Type: multipart/mixed; boundary=\"o\"\n\n--o\n\
Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n--o\n\
Content-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/html\n\n<p>x</p>\n\
--i--\n--o\nContent-Type: message/rfc822\n\nFrom: b@y\nContent-Transfer-Encoding: base64\n\n\
QUJDREVGR0g=\n--o\nContent-Type: image/png\nContent-Disposition: inline\n\
Content-Transfer-Encoding: base64\n\niVBORw0KGgoAAAAN\nSUhEUgAAAAEAAAAB\n--o\n\
Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n\
JVBERi0xLjQKJcfs\nj6IKNSAwIG9iago=\n--o\nContent-Type: text/calendar\n\
Content-Transfer-Encoding: base64\n\nQkVHSU46VkNBTEVOREFS\n--o--\n";
    let lines: Vec<&str> = template.split_inclusive('\n').collect();
    let mut rng = Rng(0x1ea2);
    let mut cut = 0;
    for round in 0..4000 {
        let mut raw: Vec<u8> = if round % 2 == 0 {
            let mut out = String::new();
            for _ in 0..lines.len() {
                out.push_str(lines[rng.below(lines.len())]);
            }
            out.into_bytes()
        } else {
            template.as_bytes().to_vec()
        };
        for _ in 0..rng.below(4) {
            let at = rng.below(raw.len());
            raw[at] = b"-=\n\rA \t;\"x"[rng.below(10)];
        }
        if rng.below(2) == 0 {
            raw = to_crlf(&raw);
        }
        cut += assert_same(&raw, 1, &String::from_utf8_lossy(&raw));
    }
    assert!(cut > 1000, "only {cut} attachments were cut");
}

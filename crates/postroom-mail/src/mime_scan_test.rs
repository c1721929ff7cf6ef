//! The scanner against mail-parser's own view: for crafted messages (nested
//! multiparts, odd boundaries, a missing final boundary, CRLF and LF, base64
//! inside an attached message), every prefix of them, and garbage, the
//! leaves it reports are the top-level base64 parts mail-parser finds.

use mail_parser::{Encoding, MessageParser, PartType};

use super::*;
use crate::test_rng::Rng;

/// The top-level base64 leaves as mail-parser sees them: accepted base64
/// bodies, not attached messages, holding nothing but the alphabet, `=`
/// and whitespace.
fn oracle(raw: &[u8]) -> Vec<Leaf> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    message
        .parts
        .iter()
        .filter(|p| p.encoding == Encoding::Base64 && !p.is_encoding_problem)
        .filter(|p| !matches!(p.body, PartType::Message(_) | PartType::Multipart(_)))
        .map(|p| p.offset_body as usize..p.offset_end as usize)
        .filter(|r| {
            raw.get(r.clone()).is_some_and(|text| {
                text.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"+/= \t\r\n".contains(&b))
            })
        })
        .collect()
}

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn lf(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

const NESTED: &str = "From: a@x\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n\
preamble\n--outer\nContent-Type: text/plain\n\nhello\n--outer\n\
Content-Type: multipart/alternative; boundary=inner\n\n--inner\n\
Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--inner\n\
Content-Type: text/html\n\n<p>hi</p>\n--inner--\n\n--outer\n\
Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: BASE64\n\n\
JVBERi0xLjQK\nJVBERi0xLjQK\n--outer\n\
Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--outer--\n";

const ODD_BOUNDARY: &str = "From: a@x\nContent-Type: multipart/mixed;\n boundary=\"=_a+b/c'(d):e?f.g-h\"\n\n\
--=_a+b/c'(d):e?f.g-h\nContent-Transfer-Encoding: base64\nContent-Type: application/zip\n\n\
UEsDBA==\n--=_a+b/c'(d):e?f.g-h\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n\
UEsDBAo=\n--=_a+b/c'(d):e?f.g-h--\n";

const MISSING_END: &str = "From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n\
--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nREVG\n";

const IN_MESSAGE: &str = "From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: message/rfc822\n\nFrom: c@y\nSubject: inner\n\
Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n\
--b\nContent-Type: message/rfc822\n\nFrom: d@y\nContent-Type: multipart/mixed; boundary=c\n\n\
--c\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--c--\n\
--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nT1VU\n--b--\n";

const ENCODED_MESSAGE: &str = "From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
RnJvbTogY0B5DQoNCmhp\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n\
a=3Db --b\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\nQUJD--b--\n";

const DIGEST: &str = "From: a@x\nContent-Type: multipart/digest; boundary=d\n\n\
--d\n\nFrom: c@y\nContent-Transfer-Encoding: base64\n\nQUJD\n\
--d\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\nREVG\n--d--\n";

const SINGLE_PART: &str = "From: a@x\nContent-Type: application/pdf\n\
Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\nJVBERi0xLjQK\n";

const BAD_BASE64: &str = "From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\nQU*JD\n\
--b\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\nQU-JD\n\
--b\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\nREVG\n--b--\n";

const ALL: &[&str] = &[
    NESTED,
    ODD_BOUNDARY,
    MISSING_END,
    IN_MESSAGE,
    ENCODED_MESSAGE,
    DIGEST,
    SINGLE_PART,
    BAD_BASE64,
];

#[test]
fn crafted_messages_match_mail_parser() {
    for text in ALL {
        for raw in [crlf(text), lf(text)] {
            let ours = base64_leaves(&raw);
            assert_eq!(ours, oracle(&raw), "{}", String::from_utf8_lossy(&raw));
        }
    }
}

#[test]
fn the_leaves_are_the_expected_ones() {
    let raw = lf(NESTED);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(
        bodies,
        [
            &b"aGVsbG8="[..],
            b"JVBERi0xLjQK\nJVBERi0xLjQK",
            b"iVBORw0KGgo="
        ]
    );
    // Only the part after the attached messages counts.
    let raw = crlf(IN_MESSAGE);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"T1VU"[..]]);
    // Mid-line boundary after base64; a message/rfc822 in base64 is no leaf.
    let raw = lf(ENCODED_MESSAGE);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"QUJD"[..]]);
    // Without the final boundary the last part is an encoding problem.
    let raw = lf(MISSING_END);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"QUJD"[..]]);
    // Parts of a digest without a type are messages.
    let raw = lf(DIGEST);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"REVG"[..]]);
    let raw = crlf(SINGLE_PART);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"JVBERi0xLjQK\r\nJVBERi0xLjQK\r\n"[..]]);
    // A bad character is an encoding problem, a stray '-' is not clean.
    let raw = lf(BAD_BASE64);
    let bodies: Vec<&[u8]> = base64_leaves(&raw).into_iter().map(|r| &raw[r]).collect();
    assert_eq!(bodies, [&b"REVG"[..]]);
}

#[test]
fn every_prefix_matches_mail_parser() {
    for text in ALL {
        for raw in [crlf(text), lf(text)] {
            for len in 0..=raw.len() {
                let prefix = &raw[..len];
                assert_eq!(
                    base64_leaves(prefix),
                    oracle(prefix),
                    "{:?}",
                    String::from_utf8_lossy(prefix)
                );
            }
        }
    }
}

#[test]
fn garbage_never_panics_and_leaves_stay_in_bounds() {
    let mut rng = Rng(0x5ca1_ab1e);
    let pieces: &[&[u8]] = &[
        b"--b",
        b"--b--",
        b"\r\n",
        b"\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"QUJD",
        b"==",
        b"-",
        b": ",
        b" ",
        b"\"",
        b";",
    ];
    for _ in 0..20_000 {
        let mut raw = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(4) == 0 {
                raw.extend(rng.random_bytes(8));
            } else {
                raw.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
        }
        for leaf in base64_leaves(&raw) {
            assert!(leaf.start <= leaf.end && leaf.end <= raw.len());
        }
    }
}

#[test]
fn structured_mutations_mostly_match_mail_parser() {
    // Shuffle lines of the crafted messages around: the scanner must agree
    // with mail-parser on almost all of them (it copies mail-parser's control
    // flow; only exotic header syntax may differ, which the lean parse
    // catches).
    let mut rng = Rng(42);
    let mut total = 0;
    let mut agree = 0;
    for _ in 0..3000 {
        let text = ALL[rng.below(ALL.len())];
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut out = String::new();
        for _ in 0..lines.len() {
            out.push_str(lines[rng.below(lines.len())]);
        }
        let raw = if rng.below(2) == 0 {
            crlf(&out)
        } else {
            lf(&out)
        };
        total += 1;
        if base64_leaves(&raw) == oracle(&raw) {
            agree += 1;
        }
    }
    assert!(agree * 100 >= total * 99, "{agree} of {total}");
}

//! The base64 reader against mail-parser itself: for random bodies (line
//! breaks, whitespace, `=`, stray `-`, bad characters, a boundary in the
//! middle of a line) where the body ends, whether it is accepted, and every
//! decoded byte must be what mail-parser gives.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::{Encoding, MessageParser, PartType};

use super::*;
use crate::test_rng::Rng;

use crate::test_base64::{base64_unbroken, ALPHABET};

/// A body of mostly base64 with the odd surprise.
fn random_body(rng: &mut Rng, max_len: usize, weird: bool) -> Vec<u8> {
    let len = rng.below(max_len);
    let mut body = Vec::with_capacity(len);
    for _ in 0..len {
        let roll = rng.below(100);
        let b = match roll {
            0..=79 => ALPHABET[rng.below(ALPHABET.len())],
            80..=84 => b'=',
            85..=89 => b'\n',
            90..=92 => b'\r',
            93 => b' ',
            94 => b'\t',
            95 if weird => b'-',
            96 if weird => b'\xe9',
            97 if weird => b'.',
            _ => ALPHABET[rng.below(ALPHABET.len())],
        };
        body.push(b);
    }
    body
}

/// `(raw message, where the body starts)`: one base64 part in a multipart
/// with boundary `b` (or the whole message when `boundary` is empty).
fn message(body: &[u8], boundary: &str, mid_line: bool) -> (Vec<u8>, usize) {
    let mut raw = Vec::new();
    if boundary.is_empty() {
        raw.extend_from_slice(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        let start = raw.len();
        raw.extend_from_slice(body);
        return (raw, start);
    }
    raw.extend_from_slice(
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n")
            .as_bytes(),
    );
    raw.extend_from_slice(
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let start = raw.len();
    raw.extend_from_slice(body);
    if !mid_line {
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (raw, start)
}

/// Check one message: body end, acceptance and bytes as mail-parser has them.
fn check(raw: &[u8], start: usize, boundary: &str) {
    let Some(parsed) = MessageParser::default().parse(raw) else {
        return;
    };
    let index = if boundary.is_empty() { 0 } else { 1 };
    let Some(part) = parsed.parts.get(index) else {
        return;
    };
    assert_eq!(
        part.offset_body as usize,
        start,
        "{:?}",
        String::from_utf8_lossy(raw)
    );
    let ours = body_end(raw, start, boundary.as_bytes());
    if part.is_encoding_problem {
        assert_eq!(ours, None, "{:?}", String::from_utf8_lossy(raw));
        return;
    }
    assert_eq!(part.encoding, Encoding::Base64);
    let Some((end, clean)) = ours else {
        panic!(
            "mail-parser accepts what we refuse: {:?}",
            String::from_utf8_lossy(raw)
        );
    };
    assert_eq!(
        end,
        part.offset_end as usize,
        "{:?}",
        String::from_utf8_lossy(raw)
    );
    let text = &raw[start..end];
    assert_eq!(clean, !text.contains(&b'-'));
    let PartType::Binary(expected) = &part.body else {
        panic!("not binary: {:?}", part.body);
    };
    assert_eq!(decode_all(text, Flavor::Mime), expected.as_ref());
    assert_eq!(decoded_len(text, Flavor::Mime), expected.len());
    if let Some(standard) = base64_decode(text) {
        assert_eq!(decode_all(text, Flavor::Standard), standard);
        assert_eq!(decoded_len(text, Flavor::Standard), standard.len());
    } else {
        assert!(!clean, "the standard decoder refuses a clean body");
    }
}

#[test]
fn random_bodies_match_mail_parser() {
    let mut rng = Rng(0x0b64_0b64_5eed_0001);
    for round in 0..3000 {
        let weird = round % 3 == 0;
        let body = random_body(&mut rng, 300, weird);
        for boundary in ["b", "", "=_x-y'(z)"] {
            for mid_line in [false, true] {
                let (raw, start) = message(&body, boundary, mid_line);
                check(&raw, start, boundary);
            }
        }
    }
}

#[test]
fn edges_match_mail_parser() {
    let bodies: &[&[u8]] = &[
        b"",
        b"Q",
        b"Q=",
        b"QU=",
        b"QUI=",
        b"QUJD",
        b"QUJDRA",
        b"QUJDRA==",
        b"Q=U=J=D=",
        b"QUJD\r\n\r\nRA==\r\n",
        b"QUJD\n-\nRA==",
        b"QUJD--RA==",
        b"QUJD\xffRA",
        b"QU JD\tRA\r\r\n",
        b"\r\n\r\n",
    ];
    for body in bodies {
        for boundary in ["b", ""] {
            for mid_line in [false, true] {
                let (raw, start) = message(body, boundary, mid_line);
                check(&raw, start, boundary);
            }
        }
    }
}

#[test]
fn a_missing_final_boundary_is_an_encoding_problem() {
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n";
    let start = raw.len() - 6;
    assert_eq!(body_end(raw, start, b"b"), None);
    check(raw, start, "b");
}

#[test]
fn pieces_are_bounded_and_join_to_the_whole() {
    let mut rng = Rng(7);
    let text: Vec<u8> = (0..300_000)
        .map(|i| {
            if i % 77 == 76 {
                b'\n'
            } else {
                ALPHABET[rng.below(64)]
            }
        })
        .collect();
    let mut joined = Vec::new();
    let mut most = 0;
    decode_pieces(&text, Flavor::Mime, &mut |p| {
        most = most.max(p.len());
        joined.extend_from_slice(p);
        Ok(())
    })
    .unwrap();
    assert!(most <= PIECE + 3, "{most}");
    assert_eq!(joined, decode_all(&text, Flavor::Mime));
    assert_eq!(joined.len(), decoded_len(&text, Flavor::Mime));
}

#[test]
fn begin_lines_are_found_across_pieces() {
    let encode = |bytes: &[u8]| base64_unbroken(bytes).into_bytes();
    let mut data = vec![b'x'; PIECE - 2];
    data.extend_from_slice(b"\nbegin 644 a.bin\n");
    assert!(has_begin_line(&encode(&data), Flavor::Mime));
    assert!(has_begin_line(&encode(b"begin"), Flavor::Mime));
    assert!(!has_begin_line(&encode(b"xbegin 644 a\n"), Flavor::Mime));
    assert!(!has_begin_line(&encode(b"begi"), Flavor::Mime));
    assert!(!has_begin_line(b"", Flavor::Mime));
}

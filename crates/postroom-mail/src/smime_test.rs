//! The BER reader on hand-built blobs: definite and indefinite lengths,
//! segmented content, the kinds that are not opaque signed data, damaged
//! data with errors that say where, and garbage that never panics. Real
//! `openssl` output is tested in `tests/smime.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

use crate::test_base64::base64;
use crate::test_rng::Rng;

/// A definite-length element (DER length encoding).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An indefinite-length element holding `children`.
fn indefinite(tag: u8, children: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![tag, 0x80];
    for child in children {
        out.extend_from_slice(child);
    }
    out.extend([0, 0]);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn oid(content: &[u8]) -> Vec<u8> {
    tlv(0x06, content)
}

/// ContentInfo { id-signedData, [0] SignedData { 1, {sha256}, encap, {}, {} } }
/// in DER, the encapsulated content info given.
fn signed_der(encap: &[u8]) -> Vec<u8> {
    let digest = tlv(
        0x31,
        &tlv(
            0x30,
            &oid(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]),
        ),
    );
    let signed_data = tlv(
        0x30,
        &cat(&[&tlv(0x02, &[1]), &digest, encap, &tlv(0x31, &[])]),
    );
    tlv(
        0x30,
        &cat(&[&oid(OID_SIGNED_DATA), &tlv(0xA0, &signed_data)]),
    )
}

fn encap_der(content: &[u8]) -> Vec<u8> {
    tlv(
        0x30,
        &cat(&[&oid(OID_DATA), &tlv(0xA0, &tlv(0x04, content))]),
    )
}

/// Opaque signed data holding `content` (DER), for other modules' tests.
pub(crate) fn opaque_signed(content: &[u8]) -> Vec<u8> {
    signed_der(&encap_der(content))
}

/// The same as `openssl cms -sign -stream` writes it: indefinite lengths
/// everywhere, the content in segments of `segment` bytes.
fn signed_ber(content: &[u8], segment: usize) -> Vec<u8> {
    let segments: Vec<Vec<u8>> = content.chunks(segment).map(|c| tlv(0x04, c)).collect();
    let segments: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let octets = indefinite(0x24, &segments);
    let encap = indefinite(0x30, &[&oid(OID_DATA), &indefinite(0xA0, &[&octets])]);
    let digest = tlv(0x31, &[]);
    let signed_data = indefinite(0x30, &[&tlv(0x02, &[1]), &digest, &encap, &tlv(0x31, &[])]);
    indefinite(
        0x30,
        &[&oid(OID_SIGNED_DATA), &indefinite(0xA0, &[&signed_data])],
    )
}

const ENTITY: &[u8] = b"Content-Type: text/plain\r\n\r\nsigned\r\n";

#[test]
fn definite_lengths() {
    let blob = signed_der(&encap_der(ENTITY));
    assert_eq!(
        opaque_signed_content(&blob),
        Ok(SignedContent::Content(ENTITY.to_vec()))
    );
    // Long-form lengths (two length bytes).
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let blob = signed_der(&encap_der(&big));
    assert_eq!(
        opaque_signed_content(&blob),
        Ok(SignedContent::Content(big))
    );
}

#[test]
fn indefinite_lengths_and_segments() {
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    for segment in [1, 7, 1024, 5000] {
        let blob = signed_ber(&big, segment);
        assert_eq!(
            opaque_signed_content(&blob),
            Ok(SignedContent::Content(big.clone())),
            "segments of {segment}"
        );
    }
    // Segments inside segments, definite this time.
    let inner = tlv(0x24, &cat(&[&tlv(0x04, b"ab"), &tlv(0x04, b"cd")]));
    let octets = tlv(0x24, &cat(&[&inner, &tlv(0x04, b"ef")]));
    let encap = tlv(0x30, &cat(&[&oid(OID_DATA), &tlv(0xA0, &octets)]));
    assert_eq!(
        opaque_signed_content(&signed_der(&encap)),
        Ok(SignedContent::Content(b"abcdef".to_vec()))
    );
}

#[test]
fn base64_and_pem_text_are_decoded_first() {
    let blob = signed_der(&encap_der(ENTITY));
    let b64 = base64(&blob);
    let pem = format!("-----BEGIN PKCS7-----\r\n{b64}\r\n-----END PKCS7-----\r\n");
    for text in [b64.clone(), pem] {
        assert_eq!(
            opaque_signed_content(text.as_bytes()),
            Ok(SignedContent::Content(ENTITY.to_vec()))
        );
    }
}

#[test]
fn what_is_not_opaque_signed_data_says_what_it_is() {
    let enveloped = tlv(
        0x30,
        &cat(&[&oid(OID_ENVELOPED_DATA), &tlv(0xA0, &tlv(0x30, &[]))]),
    );
    assert_eq!(
        opaque_signed_content(&enveloped),
        Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Enveloped))
    );
    let auth = tlv(0x30, &oid(OID_AUTH_ENVELOPED_DATA));
    assert_eq!(
        opaque_signed_content(&auth),
        Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Enveloped))
    );
    let detached = signed_der(&tlv(0x30, &oid(OID_DATA)));
    assert_eq!(
        opaque_signed_content(&detached),
        Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Detached))
    );
    // id-ct-compressedData as the ContentInfo's type.
    let compressed = tlv(
        0x30,
        &oid(&[
            0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x09,
        ]),
    );
    assert_eq!(
        opaque_signed_content(&compressed),
        Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Other {
            content_type: "1.2.840.113549.1.9.16.1.9".to_string()
        }))
    );
    // Signed, but a time-stamp token rather than data (id-ct-TSTInfo).
    let tst = [
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04,
    ];
    let encap = tlv(0x30, &cat(&[&oid(&tst), &tlv(0xA0, &tlv(0x04, b"token"))]));
    assert_eq!(
        opaque_signed_content(&signed_der(&encap)),
        Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Other {
            content_type: "1.2.840.113549.1.9.16.1.4".to_string()
        }))
    );
}

#[test]
fn every_cut_is_an_error_that_says_where() {
    for blob in [signed_der(&encap_der(ENTITY)), signed_ber(ENTITY, 10)] {
        for len in 0..blob.len() {
            match opaque_signed_content(&blob[..len]) {
                Err(MailError::Pkcs7Truncated { len: l, offset }) => {
                    assert_eq!(l, len);
                    assert!(offset <= len);
                }
                other => panic!("cut at {len}: {other:?}"),
            }
        }
    }
    let message = opaque_signed_content(&signed_der(&encap_der(ENTITY))[..40])
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("pkcs7 data ends inside an element at byte 0 (40 bytes in all)"),
        "{message}"
    );
}

#[test]
fn damaged_structure_is_malformed() {
    let blob = signed_der(&encap_der(ENTITY));
    // Not a sequence at the top.
    let mut bad = blob.clone();
    bad[0] = 0x31;
    assert_eq!(
        opaque_signed_content(&bad),
        Err(MailError::Pkcs7Malformed {
            offset: 0,
            what: "a ContentInfo is not a sequence"
        })
    );
    // The content type's length too long: runs past the element holding
    // it (the encapsulated content info, which the signer infos follow).
    let mut bad = blob.clone();
    let at = bad
        .windows(3)
        .position(|w| w == [0x06, 0x09, 0x2A])
        .unwrap();
    let at = at
        + 1
        + bad[at + 1..]
            .windows(3)
            .position(|w| w == [0x06, 0x09, 0x2A])
            .unwrap();
    bad[at + 1] = 0x7F;
    assert!(matches!(
        opaque_signed_content(&bad),
        Err(MailError::Pkcs7Malformed {
            what: "an element runs past the end of the one holding it",
            ..
        })
    ));
    // The content's octet string replaced by an integer.
    let encap = tlv(0x30, &cat(&[&oid(OID_DATA), &tlv(0xA0, &tlv(0x02, b"x"))]));
    assert!(matches!(
        opaque_signed_content(&signed_der(&encap)),
        Err(MailError::Pkcs7Malformed {
            what: "the encapsulated content is not an octet string",
            ..
        })
    ));
    // Indefinite length on a primitive element; nine length bytes; 0xff.
    for header in [
        &[0x04, 0x80][..],
        &[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        &[0x30, 0xFF],
    ] {
        assert!(
            matches!(
                opaque_signed_content(header),
                Err(MailError::Pkcs7Malformed { offset: 0, .. })
            ),
            "{header:x?}"
        );
    }
    // An end-of-contents marker inside a definite element.
    let bad = tlv(0x30, &[0, 0]);
    assert!(matches!(
        opaque_signed_content(&bad),
        Err(MailError::Pkcs7Malformed { offset: 2, .. })
    ));
}

#[test]
fn nesting_is_bounded() {
    let mut blob = tlv(0x04, b"x");
    for _ in 0..100 {
        blob = indefinite(0x30, &[&blob]);
    }
    assert!(matches!(
        opaque_signed_content(&blob),
        Err(MailError::Pkcs7TooDeep { max: MAX_DEPTH, .. })
    ));
    // Segments in segments in ... beyond the segment bound.
    let mut octets = tlv(0x04, b"x");
    for _ in 0..MAX_SEGMENT_DEPTH + 1 {
        octets = tlv(0x24, &octets);
    }
    let encap = tlv(0x30, &cat(&[&oid(OID_DATA), &tlv(0xA0, &octets)]));
    assert!(matches!(
        opaque_signed_content(&signed_der(&encap)),
        Err(MailError::Pkcs7TooDeep {
            max: MAX_SEGMENT_DEPTH,
            ..
        })
    ));
}

#[test]
fn says_signed_data_reads_only_the_start() {
    let blob = signed_der(&encap_der(ENTITY));
    assert!(says_signed_data(&blob));
    assert!(says_signed_data(&blob[..20]));
    assert!(says_signed_data(&signed_ber(ENTITY, 4)[..15]));
    assert!(!says_signed_data(&blob[..10]));
    assert!(!says_signed_data(b""));
    assert!(!says_signed_data(&tlv(0x30, &oid(OID_ENVELOPED_DATA))));
    assert!(!says_signed_data(b"%PDF-1.4"));
}

#[test]
fn oids_as_dotted_decimal() {
    assert_eq!(dotted(OID_SIGNED_DATA), "1.2.840.113549.1.7.2");
    assert_eq!(dotted(&[0x88, 0x37, 0x03]), "2.999.3");
    assert_eq!(dotted(&[0xFF; 20]), "");
    assert_eq!(
        dotted(&[0x2A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        "1.2.?"
    );
    assert!(dotted(&[0x01; 100]).ends_with('…'));
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x5eed_0bad_cafe_f00d);
    let valid = [signed_der(&encap_der(ENTITY)), signed_ber(ENTITY, 5)];
    for round in 0..20_000 {
        let input = match round % 3 {
            0 => rng.random_bytes(200),
            // A valid blob with a few bytes changed.
            1 => {
                let mut blob = valid[round % 2].clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(blob.len());
                    blob[at] = rng.next() as u8;
                }
                blob
            }
            // Structure bytes at random: tags, lengths, markers.
            _ => (0..rng.below(64))
                .map(|_| [0x30, 0x80, 0x00, 0x24, 0x04, 0xA0, 0x06, 0x81, 0x01][rng.below(9)])
                .collect(),
        };
        let _ = opaque_signed_content(&input);
        let _ = says_signed_data(&input);
    }
}

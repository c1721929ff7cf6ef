//! Tests of the DATA dot-decoder and the BDAT chunk reader: every
//! smuggling near-miss, dot-unstuffing, and split-independence (byte by
//! byte, and random splits checked against a line-based reference).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::test_rng::XorShift;

/// Decodes `input` fed in pieces of the given sizes (cycled; the rest in
/// one piece when `sizes` is empty). Returns (content, consumed, done).
fn decode_split(input: &[u8], sizes: &[usize]) -> (Vec<u8>, usize, bool) {
    let mut decoder = DotDecoder::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < input.len() && !decoder.is_done() {
        let n = if sizes.is_empty() {
            input.len() - pos
        } else {
            sizes[i % sizes.len()].max(1)
        };
        i += 1;
        let end = (pos + n).min(input.len());
        let used = decoder.decode(&input[pos..end], &mut out);
        assert!(used <= end - pos);
        if used < end - pos {
            assert!(decoder.is_done(), "input left over but not done");
        }
        pos += used;
    }
    (out, pos, decoder.is_done())
}

/// A line-at-a-time reference decoder on the whole input: lines end
/// only at CR LF; a line ".\r\n" ends the data; a leading dot is removed.
fn reference(input: &[u8]) -> (Vec<u8>, usize, bool) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        if rest.starts_with(b".\r\n") {
            return (out, pos + 3, true);
        }
        let end = rest.windows(2).position(|w| w == b"\r\n").map(|i| i + 2);
        let line = &rest[..end.unwrap_or(rest.len())];
        match end {
            Some(e) => {
                out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
                pos += e;
            }
            None => {
                // An incomplete last line: "." and ".\r" may still become the end marker.
                if line != b"." && line != b".\r" {
                    out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
                }
                return (out, input.len(), false);
            }
        }
    }
}

/// (input, expected content, expected consumed, done)
fn cases() -> Vec<(&'static [u8], &'static [u8], usize, bool)> {
    vec![
        (b"hello\r\n.\r\n", b"hello\r\n", 10, true),
        (b".\r\n", b"", 3, true),
        (b".\r\nMAIL FROM:<x@y>\r\n", b"", 3, true),
        (b"a\r\n.\r\nMAIL FROM:<x@y>\r\n", b"a\r\n", 6, true),
        // Dot-unstuffing: exactly one leading dot goes.
        (b"..\r\n.\r\n", b".\r\n", 7, true),
        (b"...x\r\n.\r\n", b"..x\r\n", 9, true),
        (b".x\r\n.\r\n", b"x\r\n", 7, true),
        (b"a.\r\n.\r\n", b"a.\r\n", 7, true),
        (b".\rx\r\n.\r\n", b"\rx\r\n", 8, true),
        (b".\r\r\n.\r\n", b"\r\r\n", 7, true),
        // Smuggling near-misses are content.
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n", 11, true),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n", 11, true),
        (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n", 10, true),
        (b"a\r.\r\nb\r\n.\r\n", b"a\r.\r\nb\r\n", 11, true),
        (b"a\rb\nc\r\n.\r\n", b"a\rb\nc\r\n", 10, true),
        (b"a\r\n.\rMAIL\r\n.\r\n", b"a\r\n\rMAIL\r\n", 14, true),
        (b"a\r\r\n.\r\n", b"a\r\r\n", 7, true),
        (b"\n.\n", b"\n.\n", 3, false),
        (b"\r\n.\r", b"\r\n", 4, false),
        (b"abc", b"abc", 3, false),
        (b"abc\r\n.", b"abc\r\n", 6, false),
        (b"", b"", 0, false),
        (b"\0\xff\xfe\r\n.\r\n", b"\0\xff\xfe\r\n", 8, true),
    ]
}

#[test]
fn fixed_cases_whole_and_byte_by_byte() {
    for (input, content, consumed, done) in cases() {
        let shown = String::from_utf8_lossy(input);
        for sizes in [&[][..], &[1][..], &[2][..], &[3, 1][..]] {
            let (out, used, finished) = decode_split(input, sizes);
            assert_eq!(out, content, "content of {shown:?} split {sizes:?}");
            assert_eq!(used, consumed, "consumed of {shown:?} split {sizes:?}");
            assert_eq!(finished, done, "done of {shown:?} split {sizes:?}");
        }
        assert_eq!(
            reference(input),
            (content.to_vec(), consumed, done),
            "reference on {shown:?}"
        );
    }
}

#[test]
fn large_text_passes_in_one_piece() {
    let mut input = vec![b'x'; 100_000];
    input.extend_from_slice(b"\r\n.\r\n");
    let mut decoder = DotDecoder::new();
    let mut out = Vec::new();
    assert_eq!(decoder.decode(&input, &mut out), input.len());
    assert_eq!(out.len(), 100_002);
    assert!(decoder.is_done());
}

#[test]
fn done_decoder_consumes_nothing_more() {
    let mut decoder = DotDecoder::new();
    let mut out = Vec::new();
    assert_eq!(decoder.decode(b".\r\n", &mut out), 3);
    assert_eq!(decoder.decode(b"more", &mut out), 0);
    assert!(out.is_empty());
}

#[test]
fn random_inputs_and_splits_match_the_reference() {
    let alphabet: &[u8] = b"..\r\r\n\nab\0\xff";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5000 {
        let len = rng.below(40);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let expected = reference(&input);
        let sizes: Vec<usize> = (0..1 + rng.below(5)).map(|_| 1 + rng.below(6)).collect();
        assert_eq!(
            decode_split(&input, &sizes),
            expected,
            "input {input:?} split {sizes:?}"
        );
        assert_eq!(decode_split(&input, &[]), expected, "input {input:?} whole");
    }
}

#[test]
fn chunk_reader_takes_exactly_the_chunk() {
    let mut reader = ChunkReader::new(5);
    assert!(!reader.is_complete());
    assert_eq!(reader.take(b"abc"), b"abc");
    assert_eq!(reader.take(b"defgh"), b"de");
    assert!(reader.is_complete());
    assert_eq!(reader.take(b"xyz"), b"");
    let mut empty = ChunkReader::new(0);
    assert!(empty.is_complete());
    assert_eq!(empty.take(b"abc"), b"");
    let mut huge = ChunkReader::new(u64::MAX);
    assert_eq!(huge.take(b"abc"), b"abc");
    assert!(!huge.is_complete());
}

//! Tests of the BinHex 4.0 decoder: two vectors made by other encoders,
//! round trips through an encoder written here, corruption, and garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::test_rng::Rng;

const MARKER_LINE: &str = "(This file must be converted with BinHex 4.0)";
const BIG: usize = 1 << 24;

/// Written by CPython 3.10's `binhex` module (removed in 3.11):
/// `binhex.binhex('sample.bin', 'py.hqx')` where `sample.bin` is
/// [`python_sample_data`]. Mac line ends (`\r`), type and creator `????`, no
/// resource fork. macutils' `hexbin -d` decodes it to the same bytes, so the
/// CRCs agree across two independent implementations.
const PYTHON_VECTOR: &[u8] = b"(This file must be converted with BinHex 4.0)\r\r:#R0KEA\"XC5jLD@i!2j!)!*!&q`#3\"!Gq5'9XE'mX)%*TENKPH#%+!*!+N!#3!*!\r!!!%#!`3&\"JF)#3S,$!d1$j!!HT!'#c\"9HTr%k3ic@(fLaq`40PZ!TFV[&$PHJkM\r0mKFmBBDVd28D2f5*VY2i(8*RM,(@qb\"&DSqdfIiM5'f5Yp`\"*NY`PEVI\"#P1FjL\rpiJFX8ADE`18+,e4jRX2S$6*AI+('ka!e@RqNbHi61&f#Tmca&MYJKDV2p\"NqBiL\rYd[FF3@D,X0Ak(d4TMV2Br5*(E*'ff`!P5Qq8ZGi$+%ebPlcK\"LY3GCUrj!NZ8hL\rG`ZF--9ClS-AU$c4CIU2)l4)hA)'Qbr!91Pq%UFjCT!!!:\r";

/// Written by macutils 2.0b3 (Debian `macutils`):
/// `binhex -r -t rsrc -c RSED rsrc.bin` where `rsrc.bin` is the 19 bytes
/// `b"rsrc data\x90\x90AAAAAAAA"`, read as the resource fork. Note its own
/// marker line.
const MACUTILS_VECTOR: &[u8] = b"(This file must be converted; you knew that already.)\n\n:#(*cFQ-ZBQPZ!(*cFQ058d9%!*!*%mkk!!\"bFh*M)'4KG''3!*!!3C!)5bm:\n";

fn python_sample_data() -> Vec<u8> {
    let mut data = b"Hello, BinHex!\n".to_vec();
    data.extend([0u8; 10]);
    data.extend([0x90; 3]);
    data.extend(0u8..16);
    data.push(0x90);
    data.extend(b"zzzzzz");
    data.extend((0u32..200).map(|i| ((i * 37 + 11) % 256) as u8));
    data
}

// ---- a small encoder -------------------------------------------------------

/// The decoded stream: header, data fork, resource fork, each with its CRC.
fn raw_stream(name: &[u8], data: &[u8], resource: &[u8]) -> Vec<u8> {
    let mut header = vec![name.len() as u8];
    header.extend(name);
    header.push(0);
    header.extend(b"TEXTttxt");
    header.extend([0, 0]);
    header.extend((data.len() as u32).to_be_bytes());
    header.extend((resource.len() as u32).to_be_bytes());
    let mut out = Vec::new();
    for section in [&header[..], data, resource] {
        out.extend(section);
        out.extend(crc16(section).to_be_bytes());
    }
    out
}

/// Run-length encoding: runs of at least `min_run` bytes (0x90 runs of two or
/// more) become `X 0x90 n`; a 0x90 is `0x90 0x00`. `min_run == 0`: none.
fn rle(raw: &[u8], min_run: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let byte = raw[i];
        let mut run = 1;
        while i + run < raw.len() && raw[i + run] == byte && run < 255 {
            run += 1;
        }
        if byte == RUN_MARKER {
            out.extend([RUN_MARKER, 0]);
            if min_run > 0 && run >= 2 {
                out.extend([RUN_MARKER, run as u8]);
            } else {
                run = 1;
            }
        } else if min_run > 0 && run >= min_run {
            out.extend([byte, RUN_MARKER, run as u8]);
        } else {
            out.push(byte);
            run = 1;
        }
        i += run;
    }
    out
}

/// 6-bit encoding in 64-character lines between colons, after the marker.
fn armor(bytes: &[u8], eol: &str) -> String {
    let mut chars = String::from(":");
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for k in 0..=chunk.len() {
            chars.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
        }
    }
    chars.push(':');
    let mut text = format!("{MARKER_LINE}{eol}");
    let bytes = chars.as_bytes();
    for line in bytes.chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push_str(eol);
    }
    text
}

fn encode(name: &[u8], data: &[u8], resource: &[u8]) -> String {
    armor(&rle(&raw_stream(name, data, resource), 4), "\n")
}

fn decode(text: &str) -> Result<BinHexFile, BinHexError> {
    decode_binhex(text.as_bytes(), BIG)
}

// ---- known vectors ---------------------------------------------------------

#[test]
fn crc16_is_xmodem() {
    assert_eq!(crc16(b"123456789"), 0x31C3);
    assert_eq!(crc16(b""), 0);
}

#[test]
fn decodes_python_binhex_vector() {
    let file = decode_binhex(PYTHON_VECTOR, BIG).unwrap();
    assert_eq!(file.name, "sample.bin");
    assert_eq!(file.data, python_sample_data());
    assert_eq!(file.resource_fork_len, 0);
}

#[test]
fn decodes_macutils_resource_fork_vector() {
    let file = decode_binhex(MACUTILS_VECTOR, BIG).unwrap();
    assert_eq!(file.name, "rsrc.bin");
    assert!(file.data.is_empty());
    assert_eq!(file.resource_fork_len, 19);
}

#[test]
fn encoder_here_matches_python_vector() {
    // Same stream as PYTHON_VECTOR apart from type/creator, so compare the
    // decoded results of both, and our encoding of the python output bytes.
    let ours = encode(b"sample.bin", &python_sample_data(), b"");
    let file = decode(&ours).unwrap();
    assert_eq!(file, decode_binhex(PYTHON_VECTOR, BIG).unwrap());
}

// ---- round trips -----------------------------------------------------------

#[test]
fn round_trip_empty_data_fork() {
    let file = decode(&encode(b"empty.txt", b"", b"")).unwrap();
    assert_eq!(file.name, "empty.txt");
    assert!(file.data.is_empty());
    assert_eq!(file.resource_fork_len, 0);
}

#[test]
fn round_trip_runs_and_0x90_bytes() {
    let mut data = Vec::new();
    for (byte, len) in [(0x90, 1), (b'a', 1), (0x90, 2), (0, 3), (0x90, 3), (7, 4)] {
        data.extend(std::iter::repeat_n(byte, len));
    }
    for (byte, len) in [(0x90, 255), (0x90, 256), (0xFF, 600), (0, 1000), (0x90, 5)] {
        data.extend(std::iter::repeat_n(byte, len));
    }
    data.extend(Rng(7).bytes(3000));
    for min_run in [0, 2, 3, 4, 255] {
        let text = armor(&rle(&raw_stream(b"runs.bin", &data, b""), min_run), "\n");
        let file = decode(&text).unwrap();
        assert_eq!(file.data, data, "min_run {min_run}");
    }
    // The encoding really is shorter than the data.
    assert!(encode(b"runs.bin", &data, b"").len() < data.len());
}

#[test]
fn round_trip_every_length_up_to_70() {
    let mut rng = Rng(99);
    for len in 0..70 {
        let data = rng.bytes(len);
        assert_eq!(
            decode(&encode(b"n", &data, b"")).unwrap().data,
            data,
            "len {len}"
        );
    }
}

#[test]
fn round_trip_long_and_mac_roman_names() {
    let long = [b'x'; 63];
    let file = decode(&encode(&long, b"data", b"")).unwrap();
    assert_eq!(file.name, "x".repeat(63));

    let file = decode(&encode(b"Caf\x8e r\x8asum\x8e\x01/\xf0.txt", b"d", b"")).unwrap();
    assert_eq!(file.name, "Café räsumé_/_.txt");

    let file = decode(&encode(b"", b"no name", b"")).unwrap();
    assert_eq!(file.name, "");
}

#[test]
fn round_trip_with_resource_fork() {
    let data = b"the data fork".to_vec();
    let resource = Rng(3).bytes(5000);
    let file = decode(&encode(b"both.bin", &data, &resource)).unwrap();
    assert_eq!(file.data, data);
    assert_eq!(file.resource_fork_len, 5000);
}

#[test]
fn leading_text_crlf_and_inline_colon() {
    let body = encode(b"crlf.txt", b"hello", b"").replace('\n', "\r\n");
    let text = format!("Dear all,\r\nthe file is below.\r\n\r\n{body}\r\n-- \r\nsig\r\n");
    assert_eq!(decode(&text).unwrap().data, b"hello");

    // The stream may start right after the marker's ')'.
    let joined = encode(b"j", b"joined", b"").replacen(")\n:", "):", 1);
    assert!(joined.contains("4.0):"));
    assert_eq!(decode(&joined).unwrap().data, b"joined");
}

#[test]
fn explanatory_mention_before_the_real_marker() {
    let text = format!(
        "Note: (This file must be converted with BinHex 4.0) means a mac file.\n{}",
        encode(b"a", b"real", b"")
    );
    assert_eq!(decode(&text).unwrap().data, b"real");
}

// ---- errors ----------------------------------------------------------------

#[test]
fn no_marker() {
    let err = decode("just text\n:abc:\n").unwrap_err();
    assert_eq!(err, BinHexError::NoMarker);
    assert_eq!(
        err.to_string(),
        "binhex: no \"(This file must be converted with BinHex 4.0)\" line"
    );
    assert_eq!(decode("").unwrap_err(), BinHexError::NoMarker);
    // The marker's ')' must be on its line.
    assert_eq!(
        decode("(This file must be converted\nwith BinHex 4.0)\n:!!:").unwrap_err(),
        BinHexError::NoMarker
    );
}

#[test]
fn no_opening_colon() {
    let text = format!("{MARKER_LINE}\nxyz:");
    let err = decode(&text).unwrap_err();
    assert_eq!(
        err,
        BinHexError::NoStart {
            found: Some(b'x'),
            offset: 46
        }
    );
    assert_eq!(
        err.to_string(),
        "binhex: expected ':' after the binhex 4.0 line, found 'x' (0x78) at byte 46"
    );
    let err = decode(MARKER_LINE).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("found the end of the text at byte 45"),
        "{err}"
    );
}

#[test]
fn garbage_character_is_named_with_its_offset() {
    let text = encode(b"g.txt", b"some data here", b"");
    let at = text.find(':').unwrap() + 10;
    for bad in ['7', 'o', '~', '\u{7f}'] {
        let mut broken = text.clone();
        broken.insert(at, bad);
        let err = decode(&broken).unwrap_err();
        assert_eq!(
            err,
            BinHexError::BadChar {
                byte: bad as u8,
                offset: at
            }
        );
    }
    let mut broken = text.clone();
    broken.insert(at, '7');
    assert_eq!(
        decode(&broken).unwrap_err().to_string(),
        format!("binhex: invalid character '7' (0x37) at byte {at}")
    );
}

#[test]
fn flipped_bytes_name_the_section() {
    let data = b"0123456789abcdef".to_vec();
    let resource = b"resource bytes".to_vec();
    let raw = raw_stream(b"crc.bin", &data, &resource);
    let header_len = 1 + 7 + 1 + 18 + 2;
    for (at, section) in [
        (3, "header"),
        (header_len + 5, "data fork"),
        (header_len + data.len() + 2 + 4, "resource fork"),
    ] {
        let mut bad = raw.clone();
        bad[at] ^= 0x01;
        let err = decode(&armor(&rle(&bad, 4), "\n")).unwrap_err();
        let BinHexError::CrcMismatch {
            section: found_section,
            expected,
            found,
        } = err.clone()
        else {
            panic!("{section}: {err}");
        };
        assert_eq!(found_section, section);
        assert_ne!(expected, found);
        assert_eq!(
            err.to_string(),
            format!(
                "binhex: {section} crc mismatch: expected {expected:#06x} (stored), found {found:#06x} (computed)"
            )
        );
    }
}

#[test]
fn truncated_text_and_early_close() {
    let text = encode(b"t.bin", &Rng(5).bytes(500), b"rsrc");
    // Cut anywhere before the closing ':' → an error, never a panic.
    let close = text.rfind(':').unwrap();
    for cut in 0..close {
        assert!(decode(&text[..cut]).is_err(), "cut at {cut}");
    }
    let err = decode(&text[..close - 5]).unwrap_err();
    assert_eq!(err, BinHexError::Unterminated { len: close - 5 });
    // Closed early, inside the data fork.
    let start = text.find(':').unwrap();
    let early = format!("{}:", &text[..start + 100]);
    let err = decode(&early).unwrap_err();
    assert!(
        matches!(
            err,
            BinHexError::Truncated {
                section: "data fork",
                needed: 500,
                ..
            }
        ),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with("binhex: stream ends in the data fork: 500 bytes needed, "));
    // Closed right after the opening colon.
    let err = decode(&format!("{MARKER_LINE}\n::")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "binhex: stream ends in the header: 20 bytes needed, 0 found"
    );
}

#[test]
fn name_too_long() {
    let text = encode(&[b'n'; 64], b"", b"");
    let err = decode(&text).unwrap_err();
    assert_eq!(err, BinHexError::NameTooLong { len: 64 });
    assert_eq!(
        err.to_string(),
        "binhex: file name length 64 is over the limit of 63"
    );
}

#[test]
fn max_len_bounds_the_declared_size() {
    let data = vec![0u8; 10_000];
    let text = encode(b"big", &data, b"");
    let total = (1 + 3 + 19 + 2) + 10_000 + 2 + 2;
    assert_eq!(decode_binhex(text.as_bytes(), total).unwrap().data, data);
    let err = decode_binhex(text.as_bytes(), total - 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "binhex: decoded size of {total} bytes (data fork 10000, resource fork 0) is over the limit of {} bytes",
            total - 1
        )
    );
}

#[test]
fn decompression_bomb_is_refused_before_expanding() {
    // A header declaring a 4 GiB data fork, then a few runs.
    let mut raw = vec![1, b'b', 0];
    raw.extend(b"TEXTttxt\0\0");
    raw.extend(u32::MAX.to_be_bytes());
    raw.extend(0u32.to_be_bytes());
    let crc = crc16(&raw);
    raw.extend(crc.to_be_bytes());
    raw.extend([0; 255]);
    let text = armor(&rle(&raw, 4), "\n");
    assert!(text.len() < 200);
    let err = decode_binhex(text.as_bytes(), text.len() * 64).unwrap_err();
    assert!(
        matches!(
            err,
            BinHexError::TooLarge {
                data_len: u32::MAX,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn run_marker_at_start_has_nothing_to_repeat() {
    let text = armor(&[RUN_MARKER, 5, 0, 0], "\n");
    let err = decode(&text).unwrap_err();
    assert_eq!(err, BinHexError::RunWithoutByte { count: 5 });
    assert!(
        err.to_string()
            .starts_with("binhex: run-length marker (0x90 0x05)"),
        "{err}"
    );
}

#[test]
fn garbage_after_the_forks_before_the_colon_is_an_error() {
    let text = encode(b"a", b"x", b"");
    let close = text.rfind(':').unwrap();
    let mut broken = text.clone();
    broken.insert(close, '~');
    assert_eq!(
        decode(&broken).unwrap_err(),
        BinHexError::BadChar {
            byte: b'~',
            offset: close
        }
    );
}

#[test]
fn many_markers_on_one_line_are_searched_in_linear_time() {
    let mut text = "(This file must be converted ".repeat(200_000);
    text.push('\n');
    let started = std::time::Instant::now();
    assert_eq!(decode(&text).unwrap_err(), BinHexError::NoMarker);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

// ---- garbage never panics --------------------------------------------------

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let valid = encode(b"valid.bin", &rng.bytes(300), b"rsrc");
    for round in 0..2000 {
        let input: Vec<u8> = match round % 4 {
            // Plain random bytes.
            0 => rng.random_bytes(400),
            // Random bytes after a marker and colon.
            1 => {
                let mut v = format!("{MARKER_LINE}\n:").into_bytes();
                v.extend(rng.random_bytes(400));
                v
            }
            // Random alphabet characters, closed: exercises the header paths.
            2 => {
                let mut v = format!("{MARKER_LINE}\n:").into_bytes();
                let len = rng.below(600);
                v.extend((0..len).map(|_| ALPHABET[rng.below(64)]));
                v.push(b':');
                v
            }
            // A valid encoding with a few bytes changed.
            _ => {
                let mut v = valid.clone().into_bytes();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(v.len());
                    v[at] = if rng.below(2) == 0 {
                        ALPHABET[rng.below(64)]
                    } else {
                        rng.next() as u8
                    };
                }
                v
            }
        };
        let max_len = rng.below(1 << 16);
        let _ = decode_binhex(&input, max_len);
    }
}

//! Tests of finding and decoding uuencoded blocks: a vector made by GNU
//! sharutils, round trips through an encoder written here, blocks inside
//! prose, encoder variants, corrupt blocks, and garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::test_rng::Rng;

/// Written by GNU sharutils 4.15.2 (Debian `sharutils`):
/// `uuencode uu.bin 'report 2024.bin'` where `uu.bin` is [`sharutils_data`].
const SHARUTILS_VECTOR: &str = r##"begin 644 report 2024.bin
M``@2'BP\3F)XD*K&Y`0F2G"8PNX<3'ZRZ"!:EM045IK@*'*^#%RN`EBP"F;$
M)(;J4+@BCOQLWE+(0+HVM#2V.L!(TE[L?`ZB.-!J!J1$YHHPV((NW(P^\JA@
*&M:45!;:H&@R_@``
`
end
"##;

fn sharutils_data() -> Vec<u8> {
    (0u32..100).map(|i| ((i * i + 7 * i) % 256) as u8).collect()
}

// ---- a small encoder -------------------------------------------------------

/// Uuencodes `data` in 45-byte lines with `zero` for the value 0 and `eol`
/// line ends, ending with a zero-length line and `end`.
fn encode_with(name: &str, data: &[u8], zero: char, eol: &str) -> String {
    let ch = |v: u32| {
        let v = (v & 63) as u8;
        if v == 0 {
            zero
        } else {
            char::from(v + b' ')
        }
    };
    let mut out = format!("begin 644 {name}{eol}");
    for line in data.chunks(45) {
        out.push(ch(line.len() as u32));
        for group in line.chunks(3) {
            let mut g = [0u8; 3];
            g[..group.len()].copy_from_slice(group);
            let n = u32::from(g[0]) << 16 | u32::from(g[1]) << 8 | u32::from(g[2]);
            for shift in [18, 12, 6, 0] {
                out.push(ch(n >> shift));
            }
        }
        out.push_str(eol);
    }
    out.push(zero);
    out.push_str(eol);
    out.push_str("end");
    out.push_str(eol);
    out
}

fn encode(name: &str, data: &[u8]) -> String {
    encode_with(name, data, '`', "\n")
}

fn only_block(text: &str) -> UuBlock {
    let mut found = find_uuencoded(text.as_bytes());
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0).unwrap()
}

fn only_error(text: &str) -> UuError {
    let mut found = find_uuencoded(text.as_bytes());
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0).unwrap_err()
}

// ---- vectors and round trips -----------------------------------------------

#[test]
fn decodes_sharutils_vector() {
    let block = only_block(SHARUTILS_VECTOR);
    assert_eq!(block.name, "report 2024.bin");
    assert_eq!(block.mode, 0o644);
    assert_eq!(block.data, sharutils_data());
    assert_eq!((block.start, block.end), (0, SHARUTILS_VECTOR.len()));
    // Our encoder writes the same text.
    assert_eq!(
        encode("report 2024.bin", &sharutils_data()),
        SHARUTILS_VECTOR
    );
}

#[test]
fn round_trip_sizes() {
    let mut rng = Rng(11);
    for len in [0, 1, 2, 3, 44, 45, 46, 89, 90, 91, 1000] {
        let data = rng.bytes(len);
        for (zero, eol) in [('`', "\n"), (' ', "\n"), ('`', "\r\n"), (' ', "\r\n")] {
            let text = encode_with("file.bin", &data, zero, eol);
            let block = only_block(&text);
            assert_eq!(block.data, data, "len {len} zero {zero:?} eol {eol:?}");
            assert_eq!(block.name, "file.bin");
            assert_eq!((block.start, block.end), (0, text.len()));
        }
    }
}

#[test]
fn block_between_paragraphs_has_exact_offsets() {
    let data = b"attached bytes \x00\x01\xff".to_vec();
    let before = "Hello,\n\nthe file is below; begin when ready.\n\n";
    let block_text = encode("notes.txt", &data);
    let after = "\nRegards,\nthe sender\n";
    let text = format!("{before}{block_text}{after}");
    let block = only_block(&text);
    assert_eq!(block.data, data);
    assert_eq!(block.start, before.len());
    assert_eq!(block.end, before.len() + block_text.len());
    assert_eq!(&text[block.start..block.end], block_text);
    let mut rest = text.clone();
    rest.replace_range(block.start..block.end, "");
    assert_eq!(rest, format!("{before}{after}"));
}

#[test]
fn two_blocks_in_one_body() {
    let a = encode("a.bin", &Rng(1).bytes(100));
    let b = encode_with("b c.bin", &Rng(2).bytes(7), ' ', "\r\n");
    let text = format!("first:\n{a}\nsecond:\r\n{b}done\n");
    let found = find_uuencoded(text.as_bytes());
    assert_eq!(found.len(), 2);
    let first = found[0].as_ref().unwrap();
    let second = found[1].as_ref().unwrap();
    assert_eq!((first.name.as_str(), first.data.len()), ("a.bin", 100));
    assert_eq!(
        (second.name.as_str(), second.data.as_slice()),
        ("b c.bin", &Rng(2).bytes(7)[..])
    );
    assert_eq!(&text[first.start..first.end], a);
    assert_eq!(&text[second.start..second.end], b);
}

#[test]
fn encoder_variants() {
    let data = Rng(4).bytes(50);
    let standard = encode("v.bin", &data);
    // An empty line instead of the zero-length line, and one after it.
    for variant in [
        standard.replace("\n`\nend", "\n\nend"),
        standard.replace("\n`\nend", "\n`\n\nend"),
        // No zero-length line at all.
        standard.replace("\n`\nend", "\nend"),
        // Extra characters after each line's data, trailing blanks on `end`.
        standard
            .lines()
            .map(|l| match l {
                "`" | "end" => format!("{l}  \n"),
                _ if l.starts_with("begin") => format!("{l}\n"),
                _ => format!("{l}XY\n"),
            })
            .collect::<String>(),
        // Mode with four digits; name with spaces; trailing blanks on begin.
        standard.replace("begin 644 v.bin", "begin 0755 my file v1.bin   "),
        // No line break after `end`.
        standard.trim_end().to_string(),
    ] {
        let block = only_block(&variant);
        assert_eq!(block.data, data, "{variant}");
        assert_eq!(block.end, variant.len(), "{variant}");
    }
    assert_eq!(
        only_block(&standard.replace("644 v.bin", "0755 my file")).mode,
        0o755
    );
    assert_eq!(
        only_block(&standard.replace("v.bin", "my file v1.bin")).name,
        "my file v1.bin"
    );
    // Last group cut short (no padding characters written).
    let short = "begin 600 s\n!80\nend\n";
    assert_eq!(only_block(short).data, b"a");
}

#[test]
fn empty_file_blocks() {
    for text in [
        "begin 644 e\n`\nend\n",
        "begin 644 e\n \nend\n",
        "begin 644 e\nend\n",
    ] {
        let block = only_block(text);
        assert!(block.data.is_empty());
        assert_eq!(block.end, text.len());
    }
}

#[test]
fn prose_with_begin_is_not_a_block() {
    for text in [
        "We begin 644 days from now.\n",
        "begin\n",
        "begin 644\nM````\nend\n",
        "begin 64 x\nM````\nend\n",
        "begin 12345 x\nM````\nend\n",
        "begin 648 x\n!80``\nend\n",
        "begin-base64 644 x\nYQ==\n====\n",
        "beginning 644 x\n!80``\nend\n",
        "begin 1000 soldiers marched\nand then they stopped.\n",
        "begin 644 is the mode\n\nmore text follows\n",
        "  begin 644 x\n!80``\nend\n",
        "> begin 644 x\n!80``\nend\n",
        "begin 644 x",
    ] {
        assert!(find_uuencoded(text.as_bytes()).is_empty(), "{text:?}");
    }
}

// ---- corrupt blocks --------------------------------------------------------

#[test]
fn missing_end_at_end_of_text() {
    let text = encode("m.bin", &Rng(5).bytes(60)).replace("`\nend\n", "");
    let err = only_error(&text);
    assert_eq!(err.name, "m.bin");
    assert_eq!(err.start, 0);
    assert_eq!(
        err.to_string(),
        format!(
            "uuencode: block \"m.bin\" at byte 0: no \"end\" line: expected it at byte {}, found the end of the text",
            text.len()
        )
    );
}

#[test]
fn missing_end_after_zero_length_line() {
    let text = encode("m.bin", b"abc").replace("end\n", "Thanks!\n");
    let err = only_error(&text);
    let offset = text.find("Thanks").unwrap();
    assert_eq!(
        err.problem,
        UuProblem::MissingEnd {
            offset,
            found: "\"Thanks!\"".to_string()
        }
    );
}

#[test]
fn bad_length_character() {
    let text = encode("b.bin", &Rng(6).bytes(100));
    let second = text.find("\nM").unwrap() + 1 + 62;
    assert_eq!(&text[second..second + 1], "M");
    let mut broken = text.clone();
    broken.replace_range(second..second + 1, "~");
    let err = only_error(&broken);
    assert_eq!(
        err.problem,
        UuProblem::BadLength {
            byte: b'~',
            offset: second
        }
    );
    assert!(
        err.to_string().ends_with(&format!(
            "bad length character '~' (0x7e) on the line at byte {second}"
        )),
        "{err}"
    );
}

#[test]
fn bad_data_character_and_short_line() {
    let text = encode("c.bin", &Rng(7).bytes(100));
    let second = text.find("\nM").unwrap() + 1 + 62;
    let mut broken = text.clone();
    broken.replace_range(second + 5..second + 6, "a");
    assert_eq!(
        only_error(&broken).problem,
        UuProblem::BadChar {
            byte: b'a',
            offset: second + 5
        }
    );
    let mut cut = text.clone();
    cut.replace_range(second + 41..second + 61, "");
    assert_eq!(
        only_error(&cut).problem,
        UuProblem::ShortLine {
            offset: second,
            len: 45,
            needed: 60,
            found: 40
        }
    );
}

#[test]
fn corrupt_block_does_not_hide_the_next_one() {
    let broken = encode("x.bin", &Rng(8).bytes(60)).replace("`\nend\n", "");
    let good = encode("y.bin", b"fine");
    let text = format!("{broken}{good}");
    let found = find_uuencoded(text.as_bytes());
    assert_eq!(found.len(), 2, "{found:?}");
    let err = found[0].as_ref().unwrap_err();
    assert_eq!(err.name, "x.bin");
    assert!(
        matches!(err.problem, UuProblem::BadLength { byte: b'b', .. }),
        "{err}"
    );
    assert_eq!(found[1].as_ref().unwrap().data, b"fine");
}

// ---- garbage never panics --------------------------------------------------

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let valid = encode("r.bin", &rng.bytes(200));
    let alphabet: Vec<u8> = (b' '..=b'`').chain(*b"\n\r\nbegin 644 end\n").collect();
    for round in 0..2000 {
        let input: Vec<u8> = match round % 3 {
            0 => rng.random_bytes(400),
            1 => {
                let mut v = b"begin 644 f\n".to_vec();
                let len = rng.below(400);
                v.extend((0..len).map(|_| alphabet[rng.below(alphabet.len())]));
                v
            }
            _ => {
                let mut v = valid.clone().into_bytes();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(v.len());
                    v[at] = rng.next() as u8;
                }
                v.truncate(rng.below(v.len() + 1));
                v
            }
        };
        for block in find_uuencoded(&input).into_iter().flatten() {
            assert!(block.start < block.end && block.end <= input.len());
        }
    }
}

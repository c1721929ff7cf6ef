//! TNEF against the corpus (`../shared/corpus/tnef`, from the tnefparse test
//! suite): every file `EXPECTED.tsv` lists comes out with its name, and the
//! bytes are the ones the stream holds; corrupt streams give errors, never
//! panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/tnef");

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{name}")).unwrap()
}

#[test]
fn every_expected_attachment_comes_out_with_its_name() {
    let expected = std::fs::read_to_string(format!("{CORPUS}/EXPECTED.tsv")).unwrap();
    let mut checked = 0;
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split('\t');
        let file = fields.next().unwrap();
        let names: Vec<&str> = fields.filter(|n| !n.is_empty()).collect();
        let found = tnef_files(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let found_names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(found_names, names, "{file}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn the_bytes_are_the_files_contents() {
    let one = tnef_files(&sample("one-file.tnef")).unwrap();
    let text = String::from_utf8(one[0].data.clone()).unwrap();
    assert!(text.contains("Authors of tnef"), "{text}");
    assert_eq!(one[0].data.len(), 244);
    // The same AUTHORS file in two streams, byte for byte.
    let two = tnef_files(&sample("two-files.tnef")).unwrap();
    assert_eq!(two[0].data, one[0].data);
    assert_eq!(two[1].data.len(), 893);
    // Empty files are files (AUTOEXEC.BAT and CONFIG.SYS hold nothing).
    let dos = tnef_files(&sample("data-before-name.tnef")).unwrap();
    let sizes: Vec<usize> = dos.iter().map(|f| f.data.len()).collect();
    assert_eq!(sizes, [0, 0, 289]);
    let docs = tnef_files(&sample("missing-filenames.tnef")).unwrap();
    let sizes: Vec<usize> = docs.iter().map(|f| f.data.len()).collect();
    assert_eq!(sizes, [61_210, 33_792, 34_304, 33_792]);
    // Word documents: the OLE compound file signature.
    assert!(docs[1].data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]));
}

#[test]
fn corrupt_streams_are_errors_that_say_where() {
    assert!(matches!(
        tnef_files(b"not tnef at all"),
        Err(TnefError::Signature { .. })
    ));
    assert!(matches!(
        tnef_files(b"\x78"),
        Err(TnefError::Truncated { .. })
    ));
    let good = sample("two-files.tnef");
    let cut = &good[..good.len() - 500];
    let e = tnef_files(cut).unwrap_err();
    assert!(matches!(e, TnefError::Truncated { .. }), "{e}");
    let mut flipped = good.clone();
    let at = good.len() - 300;
    flipped[at] ^= 0x55;
    let e = tnef_files(&flipped).unwrap_err();
    assert!(e.to_string().starts_with("tnef: attribute 0x800f"), "{e}");
}

#[test]
fn a_lying_value_count_is_refused_at_once_not_looped() {
    // attAttachment with one multi-valued PT_NULL property claiming 2^32 - 1 values.
    let mut props = 1u32.to_le_bytes().to_vec();
    props.extend(0x1001u16.to_le_bytes());
    props.extend(0x3707u16.to_le_bytes());
    props.extend(u32::MAX.to_le_bytes());
    let mut stream = SIGNATURE.to_le_bytes().to_vec();
    stream.extend(0u16.to_le_bytes());
    for (tag, data) in [
        (0x9002u16, vec![0u8; 14]),
        (0x800F, b"data".to_vec()),
        (0x9005, props),
    ] {
        stream.push(2);
        stream.extend((u32::from(tag) | 0x0006_0000).to_le_bytes());
        stream.extend((data.len() as u32).to_le_bytes());
        let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
        stream.extend(&data);
        stream.extend(sum.to_le_bytes());
    }
    let started = std::time::Instant::now();
    let files = tnef_files(&stream).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(files[0].data, b"data");
}

#[test]
fn an_attachment_cut_off_before_its_data_is_an_error() {
    let good = sample("one-file.tnef");
    // Cut just before the attachment's data attribute (an attribute boundary).
    let at = find(&good, &[0x02, 0x0F, 0x80, 0x06, 0x00]).unwrap();
    let e = tnef_files(&good[..at]).unwrap_err();
    assert!(matches!(e, TnefError::NoData { number: 1, .. }), "{e}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = crate::test_rng::Rng(0x2545_F491_4F6C_DD1D);
    let mut next = || rng.next();
    let good = sample("missing-filenames.tnef");
    for round in 0..2_000 {
        let mut bytes = good[..(next() as usize % good.len())].to_vec();
        for _ in 0..(round % 8) {
            let i = next() as usize % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(i) {
                *b = next() as u8;
            }
        }
        let _ = tnef_files(&bytes);
        let noise: Vec<u8> = (0..(next() % 300)).map(|_| next() as u8).collect();
        let mut framed = SIGNATURE.to_le_bytes().to_vec();
        framed.extend_from_slice(&noise);
        let _ = tnef_files(&framed);
    }
}

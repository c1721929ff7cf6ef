//! Several `Library` instances (as separate processes would) filing the same
//! keys at the same time: one item per key, every attachment exactly once.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use postroom_core::config::AttachmentFolders;

use super::*;
use crate::ItemState;

const KEYS: usize = 50;
const WORKERS: usize = 4;

fn contents() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..KEYS)
        .map(|i| {
            (
                format!("report of {i}").into_bytes(),
                format!("notes of {i}").into_bytes(),
            )
        })
        .collect()
}

fn race(root: &Path, mode: AttachmentFolders, batch_size: usize) {
    let contents = Arc::new(contents());
    let start = Arc::new(Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let root = root.to_path_buf();
            let contents = Arc::clone(&contents);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let lib = Library::open(root, settings(mode)).unwrap();
                let mut order: Vec<usize> = (0..KEYS).collect();
                if w % 2 == 1 {
                    order.reverse();
                }
                let subject = |i: usize| format!("subject {}", i % 3);
                let items: Vec<_> = order
                    .iter()
                    .map(|&i| {
                        let (report, notes) = &contents[i];
                        let files: [(&str, &[u8]); 2] = [
                            ("report.pdf", report.as_slice()),
                            ("notes.txt", notes.as_slice()),
                        ];
                        item(meta(&format!("race{i}"), Some(&subject(i))), &files)
                    })
                    .collect();
                start.wait();
                let mut outcomes = Vec::new();
                for chunk in items.chunks(batch_size) {
                    outcomes.extend(lib.file_batch(chunk));
                }
                for o in &outcomes {
                    assert!(o.is_ok(), "{o:?}");
                }
                outcomes
                    .iter()
                    .filter(|o| matches!(o, Ok(crate::FileOutcome::Filed(_))))
                    .count()
            })
        })
        .collect();
    let filed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // More than KEYS means workers overlapped on a key and both finished it.
    eprintln!("{mode:?} batch {batch_size}: {filed} Filed outcomes for {KEYS} keys");

    let lib = open(root, settings(mode));
    let records = lib.items().unwrap();
    assert_eq!(records.len(), KEYS);
    let files = visible(root);
    assert_eq!(
        files.len(),
        2 * KEYS,
        "{:#?}",
        files.keys().collect::<Vec<_>>()
    );
    // Every content exactly once on disk...
    let mut seen: BTreeMap<&[u8], usize> = BTreeMap::new();
    for bytes in files.values() {
        *seen.entry(bytes.as_slice()).or_default() += 1;
    }
    assert!(seen.values().all(|&n| n == 1));
    // ...and each record points at its own bytes.
    for (i, (report, notes)) in contents.iter().enumerate() {
        let record = lib.item(&key(&format!("race{i}"))).unwrap().unwrap();
        assert_eq!(record.state, ItemState::Done);
        assert_eq!(&files[&record.files[0]], report);
        assert_eq!(&files[&record.files[1]], notes);
    }
    assert!(temps(root).is_empty(), "{:?}", temps(root));
}

#[test]
fn concurrent_filing_of_the_same_keys_files_each_once() {
    for round in 0..3 {
        let tmp = tempfile::tempdir().unwrap();
        race(tmp.path(), AttachmentFolders::Root, 1 + round * 7);
    }
    let tmp = tempfile::tempdir().unwrap();
    race(tmp.path(), AttachmentFolders::Subject, 10);
    let tmp = tempfile::tempdir().unwrap();
    race(tmp.path(), AttachmentFolders::Root, KEYS);
}

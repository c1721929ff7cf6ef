//! Filing rules: names, folders, originals, traversal, idempotency, errors.

use std::time::Instant;

use postroom_core::config::AttachmentFolders;

use super::*;
use crate::ItemState;

#[test]
fn root_mode_numbers_repeated_and_taken_names() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let first = item(
        meta("m1", Some("one")),
        &[("a.pdf", b"first A"), ("a.pdf", b"second A")],
    );
    let r = lib.file_batch(&[first]);
    let rec = filed(&r[0]);
    assert_eq!(rec.files, ["a.pdf", "a (1).pdf"]);
    assert_eq!(rec.state, ItemState::Done);
    assert!(rec.filed_at.is_some());
    assert_eq!(rec.library, "documents");

    // Same bytes as an earlier item's file: still a file of its own.
    let second = item(meta("m2", Some("two")), &[("a.pdf", b"first A")]);
    let r = lib.file_batch(&[second]);
    assert_eq!(filed(&r[0]).files, ["a (2).pdf"]);

    let files = visible(tmp.path());
    assert_eq!(files.len(), 3);
    assert_eq!(files["a.pdf"], b"first A");
    assert_eq!(files["a (1).pdf"], b"second A");
    assert_eq!(files["a (2).pdf"], b"first A");
    assert!(temps(tmp.path()).is_empty());

    let items = lib.items().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(lib.item(&key("m2")).unwrap().unwrap().files, ["a (2).pdf"]);
    assert_eq!(lib.item(&key("nope")).unwrap(), None);
}

#[test]
fn items_in_one_batch_do_not_plan_the_same_name() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let batch = [
        item(meta("b1", None), &[("report.pdf", b"one")]),
        item(meta("b2", None), &[("report.pdf", b"two")]),
        item(meta("b3", None), &[("Report.PDF", b"three")]),
    ];
    let r = lib.file_batch(&batch);
    assert_eq!(filed(&r[0]).files, ["report.pdf"]);
    assert_eq!(filed(&r[1]).files, ["report (1).pdf"]);
    assert_eq!(filed(&r[2]).files, ["Report (2).PDF"]);
    assert_eq!(visible(tmp.path()).len(), 3);
}

#[test]
fn overwrite_mode_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(AttachmentFolders::Root);
    s.overwrite_existing = true;
    let lib = open(tmp.path(), s);
    let r = lib.file_batch(&[item(
        meta("o1", None),
        &[("a.pdf", b"old"), ("a.pdf", b"old 2")],
    )]);
    assert_eq!(filed(&r[0]).files, ["a.pdf", "a (1).pdf"]);
    let r = lib.file_batch(&[item(meta("o2", None), &[("a.pdf", b"new")])]);
    assert_eq!(filed(&r[0]).files, ["a.pdf"]);
    let files = visible(tmp.path());
    assert_eq!(files.len(), 2);
    assert_eq!(files["a.pdf"], b"new");
}

#[test]
fn subject_and_sender_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Subject));
    let r = lib.file_batch(&[
        item(
            meta("s1", Some("Invoice 4711")),
            &[("Quarterly report.pdf", b"q")],
        ),
        item(meta("s2", None), &[("x.txt", b"x")]),
        item(meta("s3", Some("RE: Hello?")), &[("x.txt", b"y")]),
    ]);
    assert_eq!(filed(&r[0]).files, ["Invoice 4711/Quarterly report.pdf"]);
    assert_eq!(filed(&r[1]).files, ["(no subject)/x.txt"]);
    assert_eq!(filed(&r[2]).files, ["RE_ Hello_/x.txt"]);
    assert_eq!(
        visible(tmp.path())["Invoice 4711/Quarterly report.pdf"],
        b"q"
    );

    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Sender));
    let mut envelope_only = meta("e1", None);
    envelope_only.headers.from_address = None;
    let mut nobody = meta("e2", None);
    nobody.headers.from_address = Some(" ".to_string());
    nobody.envelope_sender = String::new();
    let r = lib.file_batch(&[
        item(meta("f1", None), &[("a.txt", b"1")]),
        item(envelope_only, &[("a.txt", b"2")]),
        item(nobody, &[("a.txt", b"3")]),
    ]);
    assert_eq!(filed(&r[0]).files, ["bob@example.com/a.txt"]);
    assert_eq!(filed(&r[1]).files, ["sender@example.com/a.txt"]);
    assert_eq!(filed(&r[2]).files, ["unknown sender/a.txt"]);
}

#[test]
fn save_original_writes_the_eml() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(AttachmentFolders::Subject);
    s.save_original = true;
    let lib = open(tmp.path(), s);
    let mut no_subject = meta("n1", None);
    no_subject.headers.message_id = None;
    let r = lib.file_batch(&[
        item(meta("o1", Some("Minutes")), &[("minutes.docx", b"doc")]),
        item(meta("o2", None), &[]),
        item(no_subject, &[]),
    ]);
    assert_eq!(
        filed(&r[0]).files,
        ["Minutes/minutes.docx", "Minutes/Minutes.eml"]
    );
    assert_eq!(filed(&r[1]).files, ["(no subject)/o2@example.com.eml"]);
    let short = key("n1").short();
    assert_eq!(filed(&r[2]).files, [format!("(no subject)/{short}.eml")]);
    let files = visible(tmp.path());
    assert!(files["Minutes/Minutes.eml"].starts_with(b"From: bob@example.com"));
}

#[test]
fn traversal_names_stay_inside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("lib");
    let mut s = settings(AttachmentFolders::Subject);
    s.save_original = true;
    let lib = open(&root, s);
    let nasty = [
        ("../../etc/passwd", b"p".as_slice()),
        ("..", b"dots"),
        ("/abs/path", b"abs"),
        ("..\\..\\win", b"win"),
        (".postroom", b"meta"),
        ("", b"empty"),
    ];
    let r = lib.file_batch(&[
        item(meta("t1", Some("../../x")), &nasty),
        item(meta("t2", Some("..")), &[("a", b"a")]),
        item(meta("t3", Some(".postroom")), &[("items", b"i")]),
    ]);
    for outcome in &r {
        for rel in &filed(outcome).files {
            assert!(
                !rel.split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty()),
                "{rel}"
            );
            assert!(!rel.starts_with(".postroom"), "{rel}");
        }
    }
    // Only the library folder exists beside; every file is under it.
    let top: Vec<_> = std::fs::read_dir(outer.path()).unwrap().collect();
    assert_eq!(top.len(), 1);
    let canon_root = root.canonicalize().unwrap();
    for path in walk(outer.path()) {
        assert!(
            path.canonicalize().unwrap().starts_with(&canon_root),
            "{}",
            path.display()
        );
    }
    assert_eq!(visible(&root).len(), 6 + 1 + 1 + 1 + 1 + 1);
}

#[test]
fn a_symlinked_folder_is_refused_and_only_that_item_fails() {
    let outer = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let root = outer.path().join("lib");
    let lib = open(&root, settings(AttachmentFolders::Subject));
    std::os::unix::fs::symlink(elsewhere.path(), root.join("Evil")).unwrap();
    std::fs::write(root.join("Blocked"), b"a file, not a folder").unwrap();
    let r = lib.file_batch(&[
        item(meta("y1", Some("Evil")), &[("a.txt", b"1")]),
        item(meta("y2", Some("Fine")), &[("a.txt", b"2")]),
        item(meta("y3", Some("Blocked")), &[("a.txt", b"3")]),
    ]);
    let err = r[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("Evil"), "{err}");
    assert_eq!(filed(&r[1]).files, ["Fine/a.txt"]);
    assert!(r[2].as_ref().unwrap_err().to_string().contains("Blocked"));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert!(temps(&root).is_empty());
    // The failed items left no record: a later attempt can still file them.
    assert_eq!(lib.items().unwrap().len(), 1);
}

#[test]
fn filing_the_same_batch_twice_files_once() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let batch: Vec<_> = (0..5)
        .map(|i| {
            item(
                meta(&format!("k{i}"), None),
                &[("same.pdf", b"bytes"), ("other.txt", b"o")],
            )
        })
        .collect();
    let first = lib.file_batch(&batch);
    let before = visible(tmp.path());
    assert_eq!(before.len(), 10);
    let second = lib.file_batch(&batch);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(filed(a), already(b));
    }
    assert_eq!(visible(tmp.path()), before);
    // The same key twice in one batch.
    let r = lib.file_batch(&[
        item(meta("d", None), &[("d.txt", b"d")]),
        item(meta("d", None), &[("d.txt", b"d")]),
    ]);
    assert_eq!(filed(&r[0]), already(&r[1]));
    assert_eq!(lib.items().unwrap().len(), 6);
}

#[test]
fn corrupt_record_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let bad = tmp
        .path()
        .join(".postroom/items")
        .join(format!("{}.json", key("bad")));
    std::fs::write(&bad, b"{ not json").unwrap();
    // Stray temporaries and foreign files are ignored by the listing.
    std::fs::write(tmp.path().join(".postroom/items/.tmp-x.json"), b"junk").unwrap();
    let err = lib.items().unwrap_err().to_string();
    assert!(err.contains(&bad.display().to_string()), "{err}");
    let r = lib.file_batch(&[
        item(meta("bad", None), &[("a", b"a")]),
        item(meta("good", None), &[("b", b"b")]),
    ]);
    assert!(r[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("corrupt item record"));
    assert_eq!(filed(&r[1]).files, ["b"]);
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(lib.items().unwrap().len(), 1);
}

#[test]
fn items_are_sorted_by_time_received() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let mut late = meta("late", None);
    late.received = "2026-01-02T05:00:00Z".to_string();
    let mut early = meta("early", None);
    early.received = "2026-01-02T06:00:00+02:00".to_string(); // 04:00 UTC
    lib.file_batch(&[item(late, &[]), item(early, &[])]);
    let keys: Vec<_> = lib
        .items()
        .unwrap()
        .into_iter()
        .map(|r| r.meta.message_key)
        .collect();
    assert_eq!(keys, [key("early"), key("late")]);
}

#[test]
fn a_batch_of_a_thousand_small_items() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let contents: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("content {i}").into_bytes())
        .collect();
    let batch: Vec<_> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| {
            item(
                meta(&format!("bulk{i}"), None),
                &[("scan.pdf", c.as_slice())],
            )
        })
        .collect();
    let start = Instant::now();
    let r = lib.file_batch(&batch);
    let elapsed = start.elapsed();
    assert!(r.iter().all(|o| matches!(o, Ok(FileOutcome::Filed(_)))));
    assert_eq!(visible(tmp.path()).len(), 1000);
    eprintln!(
        "filed 1000 items in one batch in {elapsed:?}: {:.0} items/s",
        1000.0 / elapsed.as_secs_f64()
    );
    let start = Instant::now();
    let again = lib.file_batch(&batch);
    assert!(again
        .iter()
        .all(|o| matches!(o, Ok(FileOutcome::AlreadyFiled(_)))));
    eprintln!("re-filed (all already filed) in {:?}", start.elapsed());
}

#[test]
fn a_list_item_files_into_its_own_folder_under_the_names_planned_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(AttachmentFolders::Subject);
    s.kind = postroom_core::config::LibraryKind::Announcements;
    s.save_original = true;
    let lib = open(tmp.path(), s);
    let mut m = meta("l1", Some("Party"));
    m.item = Some(postroom_core::list_item::ListItem::Announcement(
        postroom_core::list_item::Post {
            title: "Party".into(),
            body_html: Some("<p>Friday</p>".into()),
            body_text: None,
        },
    ));
    let attachments: &[(&str, &[u8])] = &[
        ("image001.png", b"one"),
        ("IMAGE001.PNG", b"two"),
        ("../x", b"three"),
    ];
    let r = lib.file_batch(&[item(m.clone(), attachments)]);
    let rec = filed(&r[0]);
    let folder = crate::list_item_folder(&key("l1"));
    let names = crate::list_item_names(attachments.iter().map(|(n, _)| *n));
    let expected: Vec<String> = names.iter().map(|n| format!("{folder}/{n}")).collect();
    assert_eq!(rec.files[..3], expected[..]);
    assert_eq!(names[1], "IMAGE001 (1).PNG");
    assert!(rec.files[3].starts_with(&format!("{folder}/Party")));
    assert_eq!(rec.meta.item, m.item);
    // A second list item with the same attachment names: its own folder, same names.
    let r = lib.file_batch(&[item(meta("l2", Some("Party")), attachments)]);
    let other = crate::list_item_folder(&key("l2"));
    assert_eq!(filed(&r[0]).files[0], format!("{other}/image001.png"));
}

/// Bytes handed out a few at a time, like an attachment decoded as it is
/// written.
struct Drip(Vec<u8>);

impl postroom_core::content::FileBytes for Drip {
    fn byte_len(&self) -> u64 {
        self.0.len() as u64
    }

    fn pieces(&self, sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        self.0.chunks(7_777).try_for_each(sink)
    }
}

#[test]
fn content_in_pieces_is_written_and_recognised_piece_by_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let drip = Drip(big.clone());
    let mut other = big.clone();
    *other.last_mut().unwrap() ^= 1;
    // Another item took the name with bytes of the same length.
    std::fs::write(tmp.path().join("big.bin"), &other).unwrap();
    // A crashed attempt planned "big.bin", and had already placed our bytes
    // one step on.
    let m = meta("pieces", None);
    let record = ItemRecord::writing(&m, "documents", vec!["big.bin".into()]);
    let path = tmp
        .path()
        .join(".postroom/items")
        .join(format!("{}.json", m.message_key));
    std::fs::write(path, crate::item::encode_record(&record).unwrap()).unwrap();
    std::fs::write(tmp.path().join("big (1).bin"), &big).unwrap();
    let to_file = |meta| ItemToFile {
        meta,
        attachments: vec![FileToWrite {
            name: "big.bin",
            content: FileContent::Pieces(&drip),
        }],
        original: b"",
    };
    let r = lib.file_batch(&[to_file(m.clone())]);
    assert_eq!(filed(&r[0]).files, ["big (1).bin"]);
    let files = visible(tmp.path());
    assert_eq!(files.len(), 2);
    assert_eq!(files["big (1).bin"], big);
    assert_eq!(files["big.bin"], other);
    // A new item writes its file from the pieces.
    let r = lib.file_batch(&[to_file(meta("pieces 2", None))]);
    assert_eq!(filed(&r[0]).files, ["big (2).bin"]);
    assert_eq!(visible(tmp.path())["big (2).bin"], big);
    assert!(temps(tmp.path()).is_empty());
}

//! Crash recovery: states a process can leave behind when it dies between
//! any two steps, built by hand, then completed by a retry.

use postroom_core::config::AttachmentFolders;

use super::*;
use crate::item::encode_record;
use crate::ItemState;

fn write_record(root: &Path, record: &ItemRecord) {
    let path = root
        .join(".postroom/items")
        .join(format!("{}.json", record.meta.message_key));
    std::fs::write(path, encode_record(record).unwrap()).unwrap();
}

#[test]
fn a_writing_record_is_completed_with_the_same_names() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let m = meta("crashed", Some("x"));
    // The crashed attempt planned "a (4).pdf" and "b.pdf", placed the first,
    // and left a temporary file behind.
    let planned = vec!["a (4).pdf".to_string(), "b.pdf".to_string()];
    write_record(
        tmp.path(),
        &ItemRecord::writing(&m, "documents", planned.clone()),
    );
    std::fs::write(tmp.path().join("a (4).pdf"), b"AAA").unwrap();
    let leftover = format!("{}-0123456789abcdef-1", m.message_key);
    std::fs::write(tmp.path().join(".postroom/tmp").join(&leftover), b"BB").unwrap();
    // A retry with different current disk state must not re-plan.
    let r = lib.file_batch(&[item(m.clone(), &[("a.pdf", b"AAA"), ("b.pdf", b"BBB")])]);
    let rec = filed(&r[0]);
    assert_eq!(rec.files, planned);
    assert_eq!(rec.state, ItemState::Done);
    let files = visible(tmp.path());
    assert_eq!(files.len(), 2);
    assert_eq!(files["a (4).pdf"], b"AAA");
    assert_eq!(files["b.pdf"], b"BBB");
    assert!(temps(tmp.path()).is_empty(), "{:?}", temps(tmp.path()));
    let r = lib.file_batch(&[item(m, &[("a.pdf", b"AAA"), ("b.pdf", b"BBB")])]);
    assert_eq!(already(&r[0]).files, planned);
}

#[test]
fn a_name_taken_meanwhile_moves_to_the_same_next_name_on_every_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let m = meta("taken", None);
    write_record(
        tmp.path(),
        &ItemRecord::writing(&m, "documents", vec!["r.pdf".into(), "r (1).pdf".into()]),
    );
    // Another item took r.pdf; the crashed attempt had already moved our
    // first file on to r (2).pdf (skipping r (1).pdf, planned for our second).
    std::fs::write(tmp.path().join("r.pdf"), b"someone else").unwrap();
    std::fs::write(tmp.path().join("r (2).pdf"), b"first").unwrap();
    let r = lib.file_batch(&[item(m, &[("r.pdf", b"first"), ("r.pdf", b"second")])]);
    assert_eq!(filed(&r[0]).files, ["r (2).pdf", "r (1).pdf"]);
    let files = visible(tmp.path());
    assert_eq!(files.len(), 3);
    assert_eq!(files["r.pdf"], b"someone else");
    assert_eq!(files["r (1).pdf"], b"second");
    assert_eq!(files["r (2).pdf"], b"first");
}

#[test]
fn a_crash_before_the_record_existed_leaves_nothing_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let m = meta("early", None);
    let tmpdir = tmp.path().join(".postroom/tmp");
    std::fs::write(
        tmpdir.join(format!("{}-00000000000000aa.record", m.message_key)),
        b"{",
    )
    .unwrap();
    std::fs::write(
        tmpdir.join(format!("{}-00000000000000aa-0", m.message_key)),
        b"par",
    )
    .unwrap();
    let r = lib.file_batch(&[item(m, &[("a.pdf", b"partial no more")])]);
    assert_eq!(filed(&r[0]).files, ["a.pdf"]);
    assert_eq!(visible(tmp.path())["a.pdf"], b"partial no more");
    assert!(temps(tmp.path()).is_empty());
}

#[test]
fn a_crash_after_all_files_were_placed_marks_done_without_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Subject));
    let m = meta("late", Some("Folder"));
    std::fs::create_dir(tmp.path().join("Folder")).unwrap();
    std::fs::write(tmp.path().join("Folder/x.txt"), b"x").unwrap();
    write_record(
        tmp.path(),
        &ItemRecord::writing(&m, "documents", vec!["Folder/x.txt".into()]),
    );
    let r = lib.file_batch(&[item(m, &[("x.txt", b"x")])]);
    assert_eq!(filed(&r[0]).files, ["Folder/x.txt"]);
    assert_eq!(visible(tmp.path()).len(), 1);
}

#[test]
fn a_plan_that_no_longer_fits_the_message_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let m = meta("changed", None);
    write_record(
        tmp.path(),
        &ItemRecord::writing(&m, "documents", vec!["a".into()]),
    );
    let r = lib.file_batch(&[item(m, &[("a", b"a"), ("b", b"b")])]);
    let err = r[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("plans 1 files") && err.contains("now has 2"),
        "{err}"
    );
    assert!(visible(tmp.path()).is_empty());
    assert!(temps(tmp.path()).is_empty());
}

#[test]
fn a_record_with_an_unsafe_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = open(tmp.path(), settings(AttachmentFolders::Root));
    let m = meta("evil", None);
    write_record(
        tmp.path(),
        &ItemRecord::writing(&m, "documents", vec!["../../escape".into()]),
    );
    let r = lib.file_batch(&[item(m, &[("a", b"a")])]);
    assert!(r[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("unsafe file path"));
    assert!(!tmp.path().parent().unwrap().join("escape").exists());
}

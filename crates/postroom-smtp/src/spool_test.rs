//! Tests of the spool on a real temporary folder: group commits, spilled
//! drafts, clean-up of drafts that are not committed, and no-replace renames.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn rcpts() -> Vec<String> {
    vec!["docs@farm.test".to_string()]
}

fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[tokio::test]
async fn concurrent_drafts_small_and_spilled_are_committed_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut offered) = Spool::start(dir.path(), 7).unwrap();
    let big: Vec<u8> = (0..3 * SPILL_AT).map(|i| (i % 251) as u8).collect();
    let mut tasks = Vec::new();
    for n in 0..20usize {
        let spool = spool.clone();
        let body = if n == 0 {
            big.clone()
        } else {
            format!("message {n}\r\n").into_bytes()
        };
        tasks.push(tokio::spawn(async move {
            let id = spool.next_id();
            let mut draft = spool.draft(&id, b"HEAD\r\n".to_vec(), "a@x.test", &rcpts());
            for chunk in body.chunks(64 * 1024) {
                draft.write(chunk).await;
            }
            (spool.commit(draft).await.unwrap(), body)
        }));
    }
    for task in tasks {
        let (committed, body) = task.await.unwrap();
        assert!(committed.path.starts_with(dir.path()));
        assert!(committed
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("smtp-7-"));
        let file = std::fs::read(&committed.path).unwrap();
        assert_eq!(&file[..6], b"HEAD\r\n");
        assert_eq!(&file[6..], &body[..]);
        assert_eq!(committed.size, file.len() as u64);
        assert_eq!(
            committed.key,
            MessageKey::compute("a@x.test", &rcpts(), &body)
        );
        assert_eq!(
            offered.recv().await.unwrap().path.parent(),
            Some(dir.path())
        );
    }
    assert!(temps(dir.path()).is_empty());
}

#[tokio::test]
async fn drafts_that_are_not_committed_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _offered) = Spool::start(dir.path(), 1).unwrap();
    let chunk = vec![b'x'; SPILL_AT + 10];
    let mut discarded = spool.draft(&spool.next_id(), Vec::new(), "a@x.test", &rcpts());
    discarded.write(&chunk).await;
    let mut dropped = spool.draft(&spool.next_id(), Vec::new(), "a@x.test", &rcpts());
    dropped.write(&chunk).await;
    assert_eq!(temps(dir.path()).len(), 2, "both spilled");
    spool.discard(discarded);
    drop(dropped);
    for _ in 0..100 {
        if temps(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
}

#[tokio::test]
async fn a_failed_spill_is_answered_with_an_error_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _offered) = Spool::start(&dir.path().join("drop"), 1).unwrap();
    let mut draft = spool.draft(&spool.next_id(), Vec::new(), "a@x.test", &rcpts());
    // The folder disappears under the draft: the spill cannot create its file.
    std::fs::remove_dir_all(dir.path().join("drop")).unwrap();
    draft.write(&vec![b'x'; SPILL_AT]).await;
    let err = spool.commit(draft).await.unwrap_err();
    assert!(err.contains(".smtp-1-"), "{err}");
}

#[test]
fn renames_never_replace_a_committed_message_and_stale_temps_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::write(&a, b"new").unwrap();
    std::fs::write(&b, b"accepted earlier").unwrap();
    assert!(rename_noreplace(&a, &b).is_err());
    assert_eq!(std::fs::read(&b).unwrap(), b"accepted earlier");
    std::fs::write(dir.path().join(".smtp-3-1.tmp"), b"mine").unwrap();
    std::fs::write(dir.path().join(".smtp-4-1.tmp"), b"another node's").unwrap();
    remove_stale_temps(dir.path(), 3);
    assert_eq!(temps(dir.path()), vec![".smtp-4-1.tmp".to_string()]);
}

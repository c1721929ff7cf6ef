//! End-to-end tests of `DropFolder` on real temporary directories: backlog,
//! stability of files written in steps, renames from temporary names, kept
//! and retried files, a folder that disappears, and notify latency. Timeouts
//! are generous so a loaded machine does not make them flaky.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use postroom_dropfolder::{Disposition, DropFolder, DropFolderError, ReadyFile, WatchSettings};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(10);

fn settings(path: &Path, poll_ms: u64, stable_ms: u64) -> WatchSettings {
    WatchSettings {
        path: path.to_path_buf(),
        poll_interval: Duration::from_millis(poll_ms),
        stable_after: Duration::from_millis(stable_ms),
    }
}

/// Start a watcher; the guard cancels it when dropped.
fn start(s: WatchSettings) -> (DropFolder, Receiver<ReadyFile>, tokio_util::sync::DropGuard) {
    let token = CancellationToken::new();
    let (folder, rx) = DropFolder::start(s, token.clone()).unwrap();
    (folder, rx, token.drop_guard())
}

async fn next(rx: &mut Receiver<ReadyFile>) -> ReadyFile {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(f)) => f,
        Ok(None) => panic!("watcher stopped"),
        Err(_) => panic!("no file offered within {PATIENCE:?}"),
    }
}

async fn expect_nothing(rx: &mut Receiver<ReadyFile>, wait: Duration) {
    if let Ok(Some(f)) = tokio::time::timeout(wait, rx.recv()).await {
        panic!("unexpected offer {f:?}");
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn write_aged(path: &Path, content: &[u8], age: Duration) {
    let mut f = File::create(path).unwrap();
    f.write_all(content).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn a_backlog_is_offered_exactly_once_each_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = HashSet::new();
    for i in 0..200u64 {
        let p = dir.path().join(format!("m{i:03}.eml"));
        // m000 is the newest, m199 the oldest.
        write_aged(&p, b"mail", Duration::from_secs(3600 + i));
        expected.insert(p);
    }
    fs::write(dir.path().join("skip.tmp"), b"x").unwrap();
    let (folder, mut rx, _guard) = start(settings(dir.path(), 100, 300));

    let mut got = Vec::new();
    for _ in 0..200 {
        got.push(next(&mut rx).await);
    }
    let paths: HashSet<PathBuf> = got.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, expected);
    assert!(got.windows(2).all(|w| w[0].modified <= w[1].modified));
    assert!(got.iter().all(|f| f.size == 4));
    expect_nothing(&mut rx, Duration::from_millis(600)).await;
    assert_eq!(folder.status().backlog, 200);

    for f in &got {
        fs::remove_file(&f.path).unwrap();
        folder.done(&f.path, Disposition::Removed);
    }
    wait_for("an empty backlog", || folder.status().backlog == 0).await;
    expect_nothing(&mut rx, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_file_written_in_two_steps_is_offered_once_it_stops_changing() {
    let dir = tempfile::tempdir().unwrap();
    let (_folder, mut rx, _guard) = start(settings(dir.path(), 200, 1000));
    let p = dir.path().join("slow.eml");
    let half = vec![b'a'; 4096];
    let mut f = File::create(&p).unwrap();
    f.write_all(&half).unwrap();
    f.sync_all().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut f = OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(&half).unwrap();
    f.sync_all().unwrap();
    drop(f);

    let offered = next(&mut rx).await;
    assert_eq!(offered.path, p);
    assert_eq!(offered.size, 8192);
    expect_nothing(&mut rx, Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_temporary_file_is_offered_after_its_rename() {
    let dir = tempfile::tempdir().unwrap();
    let (_folder, mut rx, _guard) = start(settings(dir.path(), 200, 300));
    let tmp = dir.path().join("incoming.tmp");
    fs::write(&tmp, b"From: a@b\r\n\r\nhi\r\n").unwrap();
    expect_nothing(&mut rx, Duration::from_millis(800)).await;
    let eml = dir.path().join("incoming.eml");
    fs::rename(&tmp, &eml).unwrap();
    let offered = next(&mut rx).await;
    assert_eq!(offered.path, eml);
    assert_eq!(offered.size, 17);
}

#[tokio::test]
async fn a_kept_file_is_not_offered_again_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, mut rx, _guard) = start(settings(dir.path(), 100, 200));
    let p = dir.path().join("stuck.eml");
    write_aged(&p, b"mail", Duration::from_secs(60));
    let offered = next(&mut rx).await;
    folder.done(&offered.path, Disposition::Kept);
    let scans = folder.status().scans;

    expect_nothing(&mut rx, Duration::from_millis(800)).await;
    let status = folder.status();
    assert!(status.scans >= scans + 3, "{status:?}");
    assert_eq!((status.backlog, status.kept), (0, 1));

    // A new signature makes it a new file.
    OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(b"!")
        .unwrap();
    let again = next(&mut rx).await;
    assert_eq!((again.path, again.size), (p, 5));
}

#[tokio::test]
async fn retry_later_offers_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, mut rx, _guard) = start(settings(dir.path(), 5000, 100));
    let p = dir.path().join("busy.eml");
    write_aged(&p, b"mail", Duration::from_secs(60));
    let first = next(&mut rx).await;
    let asked = Instant::now();
    folder.done(
        &first.path,
        Disposition::RetryLater {
            retry_after: Duration::from_millis(300),
        },
    );
    // The long poll interval shows the retry deadline schedules its own scan.
    let second = next(&mut rx).await;
    assert!(asked.elapsed() >= Duration::from_millis(300));
    assert_eq!(second, first);
}

#[tokio::test]
async fn a_deleted_and_recreated_folder_is_survived() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("drop");
    let (folder, mut rx, _guard) = start(settings(&dir, 100, 100));
    assert!(dir.is_dir(), "start creates the folder");
    wait_for("a first scan", || folder.status().scans >= 1).await;

    fs::remove_dir_all(&dir).unwrap();
    wait_for("the scan error", || folder.status().last_error.is_some()).await;
    let error = folder.status().last_error.unwrap();
    assert!(error.contains(&dir.display().to_string()), "{error}");
    let scans = folder.status().scans;
    wait_for("more scans", || folder.status().scans >= scans + 2).await;

    fs::create_dir(&dir).unwrap();
    let p = dir.join("after.eml");
    fs::write(&p, b"mail").unwrap();
    assert_eq!(next(&mut rx).await.path, p);
    assert_eq!(folder.status().last_error, None);

    // And it keeps working.
    let q = dir.join("later.eml");
    fs::write(&q, b"mail").unwrap();
    assert_eq!(next(&mut rx).await.path, q);
}

#[tokio::test]
async fn a_new_file_is_offered_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let (_folder, mut rx, _guard) = start(settings(dir.path(), 200, 100));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let p = dir.path().join("quick.eml");
    let begin = Instant::now();
    fs::write(&p, b"mail").unwrap();
    assert_eq!(next(&mut rx).await.path, p);
    // Nominally ~stable_after + tens of ms; generous for a loaded machine.
    assert!(
        begin.elapsed() < Duration::from_secs(3),
        "{:?}",
        begin.elapsed()
    );
}

#[tokio::test]
async fn notify_alone_offers_a_new_file_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, mut rx, _guard) = start(settings(dir.path(), 3_600_000, 100));
    wait_for("the first scan", || folder.status().scans >= 1).await;
    let p = dir.path().join("evented.eml");
    fs::write(&p, b"mail").unwrap();
    assert_eq!(next(&mut rx).await.path, p);
}

#[tokio::test]
async fn the_watcher_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let (_folder, mut rx) = DropFolder::start(settings(dir.path(), 50, 50), token.clone()).unwrap();
    token.cancel();
    let end = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(end, None);
}

#[test]
fn start_needs_a_runtime_and_a_poll_interval() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        DropFolder::start(settings(dir.path(), 100, 100), CancellationToken::new()).unwrap_err();
    assert!(matches!(err, DropFolderError::NoRuntime { .. }), "{err}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let err =
        DropFolder::start(settings(dir.path(), 0, 100), CancellationToken::new()).unwrap_err();
    assert!(
        matches!(err, DropFolderError::InvalidSettings { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[tokio::test]
async fn an_offered_file_arrives_at_once_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    // Stability takes an hour: only `offer` can deliver the file soon.
    let (folder, mut rx, _guard) = start(settings(dir.path(), 50, 3_600_000));
    let p = dir.path().join("smtp.eml");
    fs::write(&p, b"mail").unwrap();
    let meta = fs::metadata(&p).unwrap();
    let ready = postroom_dropfolder::ReadyFile {
        path: p.clone(),
        size: meta.len(),
        modified: meta.modified().unwrap(),
    };
    assert!(folder.offer(ready.clone()).await);
    assert_eq!(next(&mut rx).await, ready);
    assert!(!folder.offer(ready).await, "a second offer is refused");
    wait_for("a few scans", || folder.status().scans >= 5).await;
    assert!(rx.try_recv().is_err(), "scans must not offer it again");
    folder.done(&p, Disposition::Removed);
}

//! End-to-end: the command line itself — embedded defaults, config errors
//! that name the key and value, and listing commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::wait_until;

fn postroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postroom"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("postroom-cli-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

#[test]
fn serve_runs_on_embedded_defaults() {
    let dir = scratch();
    let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_postroom"))
        .current_dir(dir.path())
        .arg("serve")
        // the default ports may be taken on a CI machine
        .env("POSTROOM_CLUSTER_LISTEN", "127.0.0.1:0")
        .env("POSTROOM_HTTP_LISTEN", "127.0.0.1:0")
        .env("POSTROOM_SMTP_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let drop = dir.path().join("postroom-data/drop");
    wait_until(Duration::from_secs(30), "drop folder created", || {
        drop.is_dir()
    });
    std::fs::write(
        drop.join("hello.eml"),
        "x-sender: me@example.com\r\nx-receiver: documents@localhost\r\nSubject: hello\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename=hello.txt\r\n\r\nhi\r\n--b--\r\n",
    )
    .unwrap();
    let filed = dir
        .path()
        .join("postroom-data/libraries/documents/hello.txt");
    wait_until(Duration::from_secs(30), "hello.txt filed", || {
        filed.is_file()
    });
    // The admin commands ask the node at its gRPC address (port 0 here).
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    let grpc = log
        .lines()
        .find(|l| l.contains("node ready"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("grpc=")))
        .unwrap()
        .to_string();
    let ask = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", grpc.as_str()]);
        postroom(dir.path(), &all)
    };
    let out = ask(&["items", "documents", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"][0]["subject"], "hello");
    assert_eq!(page["items"][0]["files"], serde_json::json!(["hello.txt"]));
    let table = String::from_utf8(ask(&["items", "documents"]).stdout).unwrap();
    assert!(
        table.contains("hello") && table.contains("hello.txt"),
        "{table}"
    );
    // An unknown library is refused (exit 4) naming the aliases there are.
    let out = ask(&["items", "nope"]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"nope\"") && stderr.contains("documents"),
        "{stderr}"
    );
    let out = ask(&["quarantine", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["entries"], serde_json::json!([]));
    // `send` streams a file larger than one chunk; it is filed whole.
    let payload: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    let big = format!(
        "From: app@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbig\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        support::base64(&payload)
    );
    std::fs::write(dir.path().join("big.eml"), big).unwrap();
    let out = ask(&[
        "send",
        "big.eml",
        "--from",
        "app@example.com",
        "--to",
        "documents@localhost",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = dir.path().join("postroom-data/libraries/documents/big.bin");
    wait_until(Duration::from_secs(30), "big.bin filed", || {
        stored.is_file()
    });
    assert_eq!(std::fs::read(&stored).unwrap(), payload);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn config_errors_name_the_key_and_value() {
    let dir = scratch();
    let cases = [
        ("bogus_key = 1\n", "unknown field `bogus_key`"),
        (
            "[[library]]\nname = \"Shared Documents\"\nalias = \"a b\"\n",
            r#"library "Shared Documents": alias "a b" is not a valid local part"#,
        ),
        (
            "[[library]]\nname = \"A\"\nalias = \"x\"\n[[library]]\nname = \"B\"\nalias = \"X\"\n",
            r#"alias "X" is already used by library "A""#,
        ),
        (
            "[drop_folder]\npoll_interval = \"soon\"\n",
            "invalid duration \"soon\"",
        ),
        (
            "[[library]]\nname = \"A\"\nalias = \"a\"\nkind = \"wiki\"\n",
            "unknown variant `wiki`",
        ),
    ];
    for (text, expected) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = postroom(
            dir.path(),
            &["config", "check", "--config", file.to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            stderr.contains(expected),
            "for {text:?} expected {expected:?} in:\n{stderr}"
        );
        assert!(
            stderr.contains("bad.toml"),
            "the error should name the file:\n{stderr}"
        );
    }
    // serve refuses the same way, before touching anything
    let out = postroom(
        dir.path(),
        &[
            "serve",
            "--config",
            dir.path().join("bad.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("postroom-data").exists());
}

#[test]
fn shipped_example_checks_and_defaults_print() {
    let dir = scratch();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/single-node.toml");
    let out = postroom(
        dir.path(),
        &["config", "check", "--config", example.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = postroom(dir.path(), &["config", "defaults"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("alias = \"documents\"") && text.contains("localhost"),
        "{text}"
    );
}

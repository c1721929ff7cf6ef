//! Test harness: starts the real `postroom` binary in a scratch directory,
//! drops files the way an upstream MTA does, and reads results back through
//! the binary's own `items` / `quarantine list --json` commands.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod admin;
pub mod clients;
pub mod cluster;
pub mod pki;
pub mod postfix;

pub const DOMAIN: &str = "sharepoint.contoso.local";
pub const LIBRARIES: [&str; 3] = ["shared-documents", "announcements", "build-logs"];

/// The shared corpus, read in place.
pub fn corpus(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(sub)
}

/// A scratch farm directory with a config file; nodes are started from it.
pub struct Farm {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Farm {
    /// A one-node farm with the three example libraries; `extra` is appended to the TOML.
    pub fn new(extra: &str) -> Farm {
        Farm::configured("", "", extra)
    }

    /// Like [`Farm::new`], with `farm` and `smtp` appended to the `[farm]`
    /// and `[smtp]` tables (the SMTP listener binds a free loopback port).
    pub fn configured(farm: &str, smtp: &str, extra: &str) -> Farm {
        let dir = tempfile::Builder::new()
            .prefix("postroom-e2e-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let root = dir.path();
        let config = root.join("postroom.toml");
        let mut text = format!(
            r#"data_dir = "{data}"
[cluster]
listen = "127.0.0.1:0"
lease_ttl = "5s"
[http]
listen = "127.0.0.1:0"
[log]
level = "info,postroom_cluster=warn,openraft=warn,sled=warn"
[farm]
incoming_domains = ["{DOMAIN}"]
{farm}
[smtp]
listen = "127.0.0.1:0"
hostname = "node1.test"
{smtp}
[drop_folder]
path = "{drop}"
poll_interval = "300ms"
stable_after = "100ms"
"#,
            data = root.join("data").display(),
            drop = root.join("drop").display(),
        );
        for alias in LIBRARIES {
            text.push_str(&format!(
                "[[library]]\nname = \"{alias}\"\nalias = \"{alias}\"\n"
            ));
        }
        text.push_str(extra);
        std::fs::create_dir_all(root.join("drop")).unwrap();
        std::fs::write(&config, text).unwrap();
        Farm { dir, config }
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.dir.path().join("drop")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn library_dir(&self, alias: &str) -> PathBuf {
        self.data_dir().join("libraries").join(alias)
    }

    /// Start `postroom serve`; its log goes to `node-<n>.log` in the farm dir.
    pub fn start(&self) -> Node {
        let n = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("node-")
            })
            .count();
        let log = self.dir.path().join(format!("node-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let node = Node {
            child: Some(child),
            log,
        };
        wait_until(Duration::from_secs(30), "node ready", || {
            node.log_text().contains("node ready") || node.exited()
        });
        assert!(!node.exited(), "node exited at start:\n{}", node.log_text());
        node
    }

    /// Drop a file like an MTA: write a temporary name, then rename into place.
    pub fn drop_file(&self, name: &str, bytes: &[u8]) {
        let tmp = self.drop_dir().join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.drop_dir().join(name)).unwrap();
    }

    /// Names of the files still in the drop folder.
    pub fn drop_backlog(&self) -> Vec<String> {
        std::fs::read_dir(self.drop_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Number of items filed in a library: records in state `done` (their
    /// files are in place; a record in state `writing` plans files that may
    /// not be there yet).
    pub fn record_count(&self, alias: &str) -> usize {
        self.items(alias)
            .iter()
            .filter(|r| r["state"] == "done")
            .count()
    }

    /// The item records of a library (`<library>/.postroom/items/*.json`,
    /// as the store writes them), oldest first. Read from disk so that they
    /// can be checked while the node is down; the CLI's `items` is tested
    /// against a running farm in `tests/admin_cli.rs`.
    pub fn items(&self, alias: &str) -> Vec<Value> {
        let mut items = json_files(&self.library_dir(alias).join(".postroom/items"), ".json");
        items.sort_by_key(|v| (v["received"].to_string(), v["message_key"].to_string()));
        items
    }

    /// The quarantine's reason files (`<data_dir>/quarantine/*.reason.json`),
    /// oldest first.
    pub fn quarantine(&self) -> Vec<Value> {
        let mut entries = json_files(&self.data_dir().join("quarantine"), ".reason.json");
        entries.sort_by_key(|v| (v["quarantined_at"].to_string(), v["file"].to_string()));
        entries
    }
}

/// Every `*<suffix>` file in `dir` parsed as JSON (none if `dir` is
/// missing). A file removed between listing and reading (the node expired
/// or replayed it meanwhile) is skipped.
fn json_files(dir: &Path, suffix: &str) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(suffix) && !name.starts_with('.')
        })
        .filter_map(|p| match std::fs::read(&p) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("{}: {e}", p.display()),
        })
        .collect()
}

/// A running node process.
pub struct Node {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Node {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `name=value` field of the "node ready" log line.
    fn ready_field(&self, name: &str) -> String {
        let log = self.log_text();
        let ready = log
            .lines()
            .find(|l| l.contains("node ready"))
            .expect("node ready line");
        let prefix = format!("{name}=");
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{name}= field in {ready}"))
            .to_string()
    }

    /// The SMTP listener's address, from the "node ready" log line.
    pub fn smtp_addr(&self) -> std::net::SocketAddr {
        self.ready_field("smtp").parse().unwrap()
    }

    /// `GET path` on the node's HTTP endpoint: the whole answer, or "" if it cannot be reached.
    pub fn http_get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = self.ready_field("http").parse().unwrap();
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        else {
            return String::new();
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// The SMTP port, as a string for command lines.
    pub fn smtp_port(&self) -> String {
        self.smtp_addr().port().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// True once the process is gone (or a zombie waiting to be reaped).
    pub fn exited(&self) -> bool {
        let alive = Command::new("kill")
            .args(["-0", &self.pid().to_string()])
            .status();
        !alive.map(|s| s.success()).unwrap_or(false) || self.zombie()
    }

    fn zombie(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    }

    /// SIGKILL: the crash an operator fears.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "node exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Poll `cond` every 20 ms until it holds; fail with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Message-ID header of a message file, without angle brackets.
pub fn message_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| {
            l[11..]
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                .to_string()
        })
}

/// Base64 (RFC 2045: 76-character lines) of `bytes`, for building MIME
/// messages in tests.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (n, chunk) in bytes.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if n % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

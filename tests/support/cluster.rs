//! Multi-node harness: a static farm of real `postroom` processes, node `i`
//! listening on 127.0.0.(i+1) (gRPC, SMTP and HTTP each on one port that is
//! free on every address, so a restarted node is where clients left it), all watching one shared drop folder and filing into shared
//! library folders and quarantine, each with its own data dir (Raft log). Faults
//! are real: SIGKILL, SIGSTOP/SIGCONT, SIGTERM, and network cuts with
//! iptables rules on the loopback interface in a chain of the test's own.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{wait_until, Node, DOMAIN};

/// The library every test message goes to.
pub const ALIAS: &str = "shared-documents";

/// A farm of several node processes on 127.0.0.2, 127.0.0.3, ... (127.0.0.1
/// stays the clients' address, so cutting a node off never cuts the test's
/// own connections).
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub size: usize,
    nodes: Vec<Option<Node>>,
    starts: Vec<usize>,
}

/// The loopback address of node `i` (1-based).
pub fn node_ip(i: usize) -> String {
    format!("127.0.0.{}", i + 1)
}

/// A port free on every node address and not in `taken`, picked below the
/// kernel's ephemeral range: there no outgoing connection (a node's peer
/// connections leave from its own address, and other tests' farms run at
/// the same time) can take it between the pick and the node's bind.
fn free_port(size: usize, taken: &[u16]) -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (from, to) = (10_000u64, u64::from(ephemeral_low.max(12_000)));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ u64::from(std::process::id()) << 32
        | 1;
    for _ in 0..500 {
        // xorshift64
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = u16::try_from(from + seed % (to - from)).unwrap();
        let all_free =
            (1..=size).all(|i| TcpListener::bind(format!("{}:{port}", node_ip(i))).is_ok());
        if all_free && !taken.contains(&port) {
            return port;
        }
    }
    panic!("no port free on all node addresses");
}

/// How the nodes of a test farm become members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Every node lists every member in `cluster.peers`.
    Static,
    /// Node 1 starts a farm of its own; the others start with
    /// `cluster.join = true` and wait for `postroom cluster join`.
    Joined,
}

impl Cluster {
    /// Write the configs of a `size`-node static farm and start every node;
    /// `cluster` is appended to each `[cluster]` table.
    pub fn start(size: usize, cluster: &str) -> Cluster {
        let mut farm = Cluster::prepare(size, cluster, Membership::Static);
        for i in 1..=size {
            farm.spawn(i);
        }
        for i in 1..=size {
            farm.wait_ready(i);
        }
        farm
    }

    /// Write the configs of a `size`-node farm without starting any node.
    pub fn prepare(size: usize, cluster: &str, membership: Membership) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("postroom-farm-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        // Fixed ports per address, so a restarted node is where clients left it.
        let port = free_port(size, &[]);
        let smtp_port = free_port(size, &[port]);
        let http_port = free_port(size, &[port, smtp_port]);
        let peers: Vec<String> = (1..=size)
            .map(|i| format!("\"{i}@{}:{port}\"", node_ip(i)))
            .collect();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        for i in 1..=size {
            let members = match (membership, i) {
                (Membership::Static, _) => format!("peers = [{}]", peers.join(", ")),
                (Membership::Joined, 1) => String::new(),
                (Membership::Joined, _) => "join = true".to_string(),
            };
            let text = format!(
                r#"data_dir = "{data}"
[cluster]
node_id = {i}
listen = "{ip}:{port}"
{members}
{cluster}
[http]
listen = "{ip}:{http_port}"
[log]
level = "info,openraft=error,sled=warn"
[farm]
incoming_domains = ["{DOMAIN}"]
[smtp]
listen = "{ip}:{smtp_port}"
hostname = "node{i}.test"
[drop_folder]
path = "{drop}"
poll_interval = "300ms"
stable_after = "100ms"
[quarantine]
path = "{quarantine}"
[[library]]
name = "Shared Documents"
alias = "{ALIAS}"
path = "{library}"
"#,
                data = dir.path().join(format!("node{i}")).display(),
                ip = node_ip(i),
                drop = dir.path().join("drop").display(),
                library = dir.path().join("library").display(),
                quarantine = dir.path().join("quarantine").display(),
            );
            std::fs::write(dir.path().join(format!("node{i}.toml")), text).unwrap();
        }
        Cluster {
            dir,
            port,
            size,
            nodes: (0..size).map(|_| None).collect(),
            starts: vec![0; size],
        }
    }

    pub fn config(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.toml"))
    }

    /// Append `text` to node `i`'s config file (takes effect at its next start).
    pub fn append_config(&self, i: usize, text: &str) {
        let mut config = std::fs::read_to_string(self.config(i)).unwrap();
        config.push_str(text);
        std::fs::write(self.config(i), config).unwrap();
    }

    /// `postroom farm show --json` asked of node `i` (`--local` when `local`):
    /// the reply, or the error output.
    pub fn farm_config(&self, i: usize, local: bool) -> Result<Value, String> {
        let server = self.grpc_addr(i);
        let mut args = vec!["farm", "show", "--json", "--server", server.as_str()];
        if local {
            args.push("--local");
        }
        let (ok, out, err) = self.cli(&args);
        if ok {
            Ok(serde_json::from_str(&out).unwrap())
        } else {
            Err(err)
        }
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.dir.path().join("drop")
    }

    pub fn library_dir(&self) -> PathBuf {
        self.dir.path().join("library")
    }

    /// Start node `i` (1-based) without waiting; its log is `node<i>-<start>.log`.
    pub fn spawn(&mut self, i: usize) {
        assert!(self.nodes[i - 1].is_none(), "node {i} is running");
        self.starts[i - 1] += 1;
        let log = self
            .dir
            .path()
            .join(format!("node{i}-{}.log", self.starts[i - 1]));
        let child = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args(["serve", "--config"])
            .arg(self.config(i))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.nodes[i - 1] = Some(Node {
            child: Some(child),
            log,
        });
    }

    /// Wait until node `i` logged "node ready" (it has the farm's config).
    pub fn wait_ready(&self, i: usize) {
        let node = self.node(i);
        wait_until(Duration::from_secs(60), &format!("node {i} ready"), || {
            node.log_text().contains("node ready") || node.exited()
        });
        assert!(!node.exited(), "node {i} exited:\n{}", node.log_text());
    }

    /// Start node `i` again and wait until it is ready.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready(i);
    }

    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i - 1]
            .as_ref()
            .unwrap_or_else(|| panic!("node {i} is down"))
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i - 1].is_some()
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i - 1].take().unwrap().kill();
    }

    /// SIGTERM node `i` and wait for its clean exit.
    pub fn stop(&mut self, i: usize) {
        self.nodes[i - 1].take().unwrap().stop();
    }

    pub fn pause(&self, i: usize) {
        signal(self.node(i).pid(), "STOP");
    }

    pub fn resume(&self, i: usize) {
        signal(self.node(i).pid(), "CONT");
    }

    pub fn smtp_addr(&self, i: usize) -> SocketAddr {
        self.node(i).smtp_addr()
    }

    pub fn grpc_addr(&self, i: usize) -> String {
        format!("{}:{}", node_ip(i), self.port)
    }

    /// Run `postroom <args>`; returns (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `postroom cluster status --json` asked of node `i`.
    pub fn status(&self, i: usize) -> Option<Vec<Value>> {
        let out = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args([
                "cluster",
                "status",
                "--json",
                "--server",
                &self.grpc_addr(i),
            ])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        let nodes = v.get("nodes").unwrap_or(&v).as_array()?.clone();
        Some(nodes)
    }

    /// The leader, as the live nodes see it (waits up to 20 s for one).
    pub fn leader(&self) -> usize {
        let mut found = None;
        wait_until(Duration::from_secs(20), "a leader", || {
            found = (1..=self.size)
                .filter(|i| self.is_up(*i))
                .filter_map(|i| self.status(i))
                .flatten()
                .find(|n| n["role"] == "leader" && n["ready"] == true)
                .and_then(|n| n["node_id"].as_u64());
            found.is_some()
        });
        usize::try_from(found.unwrap()).unwrap()
    }

    /// Write drop messages `d-<n>` for `ns` into the shared folder from a
    /// thread, `per_second` of them a second.
    pub fn drop_in_background(
        &self,
        ns: std::ops::Range<usize>,
        per_second: usize,
    ) -> std::thread::JoinHandle<()> {
        let dir = self.drop_dir();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            for (k, n) in ns.enumerate() {
                drop_into(&dir, &format!("d-{n}.eml"), &drop_message(n));
                let due = Duration::from_secs_f64(k as f64 / per_second as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        })
    }

    /// Messages waiting in the shared drop folder (temporary files not counted).
    pub fn drop_backlog(&self) -> usize {
        count_files(&self.drop_dir(), ".eml")
    }

    /// Item records in the shared library.
    pub fn record_count(&self) -> usize {
        count_files(&self.library_dir().join(".postroom/items"), ".json")
    }

    /// Every filed copy of each test attachment (`d-<n>.txt`, `s-<n>.txt`,
    /// or a renamed second copy `d-<n> (1).txt`), by message id.
    pub fn filed(&self) -> BTreeMap<String, usize> {
        let mut filed = BTreeMap::new();
        for entry in std::fs::read_dir(self.library_dir()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".txt") else {
                continue;
            };
            let id = stem.split(" (").next().unwrap().to_string();
            *filed.entry(id).or_insert(0) += 1;
        }
        filed
    }

    /// Log lines of every start of every node containing `needle`.
    pub fn logs_containing(&self, needle: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                lines.extend(
                    text.lines()
                        .filter(|l| l.contains(needle))
                        .map(String::from),
                );
            }
        }
        lines
    }
}

/// Drop a file like an MTA: a temporary name, then a rename into place.
pub fn drop_into(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Files in `dir` whose names end with `suffix` (0 without the folder).
pub fn count_files(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(suffix)
            })
            .count()
        })
        .unwrap_or(0)
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// A drop-folder message `d-<n>` with one attachment `d-<n>.txt`.
pub fn drop_message(n: usize) -> Vec<u8> {
    format!(
        "x-sender: app@example.com\r\nx-receiver: {ALIAS}@{DOMAIN}\r\n\
         From: app@example.com\r\nTo: {ALIAS}@{DOMAIN}\r\nSubject: drop {n}\r\n\
         Message-ID: <d-{n}@drop.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nbody {n}\r\n--b\r\n\
         Content-Type: text/plain\r\nContent-Disposition: attachment; filename=d-{n}.txt\r\n\r\n\
         attachment {n}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Python smtplib traffic in the background (`smtp_load.py`).
pub struct SmtpLoad {
    child: std::process::Child,
}

impl SmtpLoad {
    /// Send `count` messages `s-<first>`.. spread over `targets`, `pause` apart per thread.
    pub fn start(targets: &[SocketAddr], first: usize, count: usize, pause: Duration) -> SmtpLoad {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/support/smtp_load.py");
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        let child = Command::new("python3")
            .arg(script)
            .args(["--targets", &targets.join(",")])
            .args(["--first", &first.to_string(), "--count", &count.to_string()])
            .args(["--domain", DOMAIN, "--alias", ALIAS])
            .args(["--pause", &pause.as_secs_f64().to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        SmtpLoad { child }
    }

    /// Wait for the sender; returns (accepted ids, ids it gave up on, re-sends).
    pub fn finish(self) -> (Vec<String>, Vec<String>, u64) {
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success(), "smtp_load.py failed");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        (
            ids("accepted"),
            ids("gave_up"),
            v["resent"].as_u64().unwrap(),
        )
    }
}

/// An iptables chain of this test that drops the gRPC traffic between node
/// addresses; removed when dropped.
pub struct NetworkCut {
    chain: String,
}

impl NetworkCut {
    /// Cut node `isolated` off from every other node: Raft and forwarding
    /// traffic in both directions (SMTP and the shared folders still work).
    pub fn isolate(cluster: &Cluster, isolated: usize) -> NetworkCut {
        let chain = format!("PR-{}-{}", std::process::id(), cluster.port);
        iptables(&["-N", &chain]);
        iptables(&["-I", "INPUT", "-j", &chain]);
        let me = node_ip(isolated);
        let port = cluster.port.to_string();
        for other in (1..=cluster.size).filter(|o| *o != isolated) {
            let other = node_ip(other);
            for (src, dst) in [(&me, &other), (&other, &me)] {
                for dir in ["--dport", "--sport"] {
                    iptables(&[
                        "-A", &chain, "-s", src, "-d", dst, "-p", "tcp", dir, &port, "-j", "DROP",
                    ]);
                }
            }
        }
        NetworkCut { chain }
    }
}

impl Drop for NetworkCut {
    fn drop(&mut self) {
        let _ = Command::new("iptables")
            .args(["-D", "INPUT", "-j", &self.chain])
            .status();
        let _ = Command::new("iptables").args(["-F", &self.chain]).status();
        let _ = Command::new("iptables").args(["-X", &self.chain]).status();
    }
}

fn iptables(args: &[&str]) {
    let out = Command::new("iptables")
        .args(args)
        .output()
        .expect("iptables (apt-get install iptables)");
    assert!(
        out.status.success(),
        "iptables {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Cluster {
    /// A failed test keeps the farm's directory (configs, logs, folders) to
    /// look at; every test does with `POSTROOM_TEST_KEEP_FARM=1`.
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("POSTROOM_TEST_KEEP_FARM").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("farm directory kept: {}", self.dir.path().display());
        }
    }
}

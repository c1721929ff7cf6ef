//! A private loopback Postfix instance for end-to-end tests: the upstream
//! relay whose transport sends the farm's domain to the postroom node.
//!
//! Each instance has its own `config_directory` (`<dir>/etc`),
//! `queue_directory` (`<dir>/queue`), `data_directory` and mail log
//! (`<dir>/maillog`, written by Postfix's own `postlogd`, so no syslog daemon
//! is needed), listens on `127.0.0.1:<free port>` and relays mail for one
//! domain to one next hop. The package's default instance (`/etc/postfix`,
//! `/var/spool/postfix`) is neither used nor touched, and any number of
//! instances may run at once.
//!
//! Needs: root (Postfix's master must start as root), the Debian `postfix`
//! package (the `postfix` user, the `postdrop` group, `/usr/sbin/postfix`,
//! `postqueue`), Postfix ≥ 3.4 for `maillog_file`. Tested with 3.7.
//!
//! Gotchas this module handles:
//! - The queue directory must exist before `postfix start` (it `chdir`s there
//!   first); `postfix start` then creates the queue subdirectories with the
//!   right owners itself (`post-install create-missing`).
//! - Test temp dirs are mode 0700 (tempfile's default), which the unprivileged
//!   `postfix` user cannot traverse: an absolute `data_directory` under it
//!   makes the master fail with "open lock file ...: Permission denied". So
//!   `data_directory` is the *relative* path `data`: every Postfix process
//!   runs with the queue directory as its working directory (entered while
//!   still root), so it resolves to `<dir>/queue/data`.
//! - `maillog_file` must start with one of `maillog_file_prefixes` (default
//!   `/var, /dev/stdout`), and needs the `postlog` service in master.cf.
//! - Postfix binds its listener with `SO_REUSEPORT`: a second Postfix (or
//!   `smtp-sink`) that picked the same port binds it too, silently, and the
//!   kernel splits connections between them. After start-up we count the
//!   listening sockets on our port in `/proc/net/tcp{,6}` and, if we are not
//!   alone, stop and start again on another port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `myhostname` of every test relay: its banner, HELO name and `Received:` line.
pub const RELAY_HOSTNAME: &str = "relay.test";

/// How long start-up may take (`postfix start` runs its integrity checks).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Start attempts before giving up when the chosen port turns out to be shared.
const START_ATTEMPTS: usize = 5;

/// A running private Postfix instance; stopped (never left running) on drop.
pub struct Postfix {
    dir: PathBuf,
    config_dir: PathBuf,
    queue_dir: PathBuf,
    port: u16,
    domain: String,
    /// Whether `stop` still has to run.
    running: bool,
}

impl Postfix {
    /// Start a private Postfix instance (its own config_directory,
    /// queue_directory, data_directory under `dir`) listening on
    /// 127.0.0.1:<free port>, relaying mail for `domain` to `next_hop` over
    /// SMTP, with opportunistic STARTTLS (`smtp_tls_security_level = may`).
    pub fn start(dir: &Path, domain: &str, next_hop: SocketAddr) -> Postfix {
        Postfix::start_with(dir, domain, next_hop, &[])
    }

    /// Like [`Postfix::start`], with `main.cf` settings replaced or added,
    /// e.g. `&[("smtp_tls_security_level", "none")]` or
    /// `&[("smtp_tls_security_level", "encrypt")]`.
    pub fn start_with(
        dir: &Path,
        domain: &str,
        next_hop: SocketAddr,
        overrides: &[(&str, &str)],
    ) -> Postfix {
        assert_root();
        let dir = absolute(dir);
        let config_dir = dir.join("etc");
        let queue_dir = dir.join("queue");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::create_dir_all(&queue_dir).unwrap();
        set_mode(&queue_dir, 0o755);
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let main_cf = main_cf(&dir, domain, next_hop, overrides);
            std::fs::write(config_dir.join("main.cf"), main_cf).unwrap();
            std::fs::write(config_dir.join("master.cf"), master_cf(port)).unwrap();
            let postfix = Postfix {
                dir: dir.clone(),
                config_dir: config_dir.clone(),
                queue_dir: queue_dir.clone(),
                port,
                domain: domain.to_string(),
                running: true,
            };
            let out = postfix.postfix(&["start"]);
            if !out.status.success() {
                let why = format!(
                    "`postfix -c {} start` failed: {}{}\nmaillog:\n{}",
                    config_dir.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    postfix.maillog()
                );
                if why.contains("in use") {
                    failures.push(why);
                    continue; // dropped: stopped if anything runs
                }
                panic!("{why}");
            }
            let listeners = listeners_on(port);
            if listeners != 1 {
                failures.push(format!(
                    "port {port} is shared by {listeners} listeners (SO_REUSEPORT)"
                ));
                continue;
            }
            postfix.wait_banner();
            return postfix;
        }
        panic!(
            "could not start Postfix in {}:\n{}",
            dir.display(),
            failures.join("\n")
        );
    }

    /// The SMTP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Wait until the queue is empty (`postqueue -c <dir> -j` lists nothing)
    /// or `timeout` passes; on timeout, the queue listing (`postqueue -p`)
    /// and the delivery log, for the assertion message.
    pub fn wait_queue_empty(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.postqueue(&["-j"]);
            if out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Postfix queue in {} not empty after {timeout:?}:\n{}\ndelivery log:\n{}",
                    self.queue_dir.display(),
                    self.queue_listing(),
                    self.delivery_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `postqueue -p`: the queue as `mailq` shows it (or why it could not be read).
    pub fn queue_listing(&self) -> String {
        let out = self.postqueue(&["-p"]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Lines of the mail log with a delivery status
    /// (`status=sent` / `deferred` / `bounced` / `expired`), in order.
    pub fn delivery_log(&self) -> String {
        self.maillog()
            .lines()
            .filter(|l| l.contains(" status="))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The whole mail log of this instance.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Wait until the mail log contains `needle` (log lines reach the file
    /// through `postlogd` a moment after the event); returns the log.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.maillog();
            if log.contains(needle) {
                return Ok(log);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{needle:?} not in the Postfix log after {timeout:?}:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The master's pid while it runs.
    pub fn master_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.queue_dir.join("pid/master.pid")).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }

    /// Stop the instance (`postfix stop`, then SIGKILL to the master's
    /// process group if it is still there after 10 s). Idempotent.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let pid = self.master_pid();
        let _ = self.postfix(&["stop"]);
        let Some(pid) = pid else { return };
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(pid) {
            // The master leads its own process group (it calls setsid).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }

    fn postfix(&self, args: &[&str]) -> Output {
        Command::new("postfix")
            .arg("-c")
            .arg(&self.config_dir)
            .args(args)
            .output()
            .unwrap()
    }

    fn postqueue(&self, args: &[&str]) -> Output {
        Command::new("postqueue")
            .arg("-c")
            .arg(&self.config_dir)
            .args(args)
            .output()
            .unwrap()
    }

    /// Wait until the port answers with our `220` greeting.
    fn wait_banner(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match TcpStream::connect(self.addr()) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut line = String::new();
                    let _ = BufReader::new(&stream).read_line(&mut line);
                    let _ = (&stream).write_all(b"QUIT\r\n");
                    if line.starts_with("220 ") {
                        return;
                    }
                    last = line;
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "Postfix on port {} never greeted ({last}); maillog:\n{}",
            self.port,
            self.maillog()
        );
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

fn main_cf(dir: &Path, domain: &str, next_hop: SocketAddr, overrides: &[(&str, &str)]) -> String {
    let (hop, protocols) = match next_hop {
        SocketAddr::V4(a) => (format!("[{}]:{}", a.ip(), a.port()), "ipv4"),
        SocketAddr::V6(a) => (format!("[ipv6:{}]:{}", a.ip(), a.port()), "all"),
    };
    let dir = dir.display();
    let mut settings: Vec<(String, String)> = [
        ("compatibility_level", "3.6".to_string()),
        ("queue_directory", format!("{dir}/queue")),
        // Relative to queue_directory: see the module doc.
        ("data_directory", "data".to_string()),
        ("maillog_file", format!("{dir}/maillog")),
        ("maillog_file_prefixes", dir.to_string()),
        ("myhostname", RELAY_HOSTNAME.to_string()),
        ("mydomain", RELAY_HOSTNAME.to_string()),
        ("myorigin", "$myhostname".to_string()),
        ("inet_interfaces", "127.0.0.1".to_string()),
        ("inet_protocols", protocols.to_string()),
        ("mynetworks", "127.0.0.0/8".to_string()),
        ("mydestination", String::new()),
        ("relay_domains", domain.to_string()),
        (
            "transport_maps",
            format!("inline:{{ {domain}=smtp:{hop} }}"),
        ),
        // Anything else (bounces included) fails at once: no DNS, no waiting.
        (
            "default_transport",
            format!("error:5.1.2 this test relay only relays {domain}"),
        ),
        (
            "smtpd_relay_restrictions",
            "permit_mynetworks, reject_unauth_destination".to_string(),
        ),
        ("smtp_tls_security_level", "may".to_string()),
        // Logs "... TLS connection established to ..." for assertions.
        ("smtp_tls_loglevel", "1".to_string()),
        // A transient failure is retried within about a second.
        ("minimal_backoff_time", "1s".to_string()),
        ("maximal_backoff_time", "2s".to_string()),
        ("queue_run_delay", "1s".to_string()),
        ("message_size_limit", "67108864".to_string()),
        ("alias_maps", String::new()),
        ("alias_database", String::new()),
        ("biff", "no".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in overrides {
        match settings.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => settings.push((k.to_string(), v.to_string())),
        }
    }
    settings
        .iter()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect()
}

/// Every service this instance needs, none chrooted.
fn master_cf(port: u16) -> String {
    format!(
        "\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
    )
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How many sockets listen on TCP `port` (any address, IPv4 or IPv6).
pub fn listeners_on(port: u16) -> usize {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|text| {
            text.lines()
                .skip(1)
                .filter(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
                })
                .count()
        })
        .sum()
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn assert_root() {
    let out = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "a private Postfix instance needs root (its master starts as root)"
    );
}

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().unwrap().join(dir)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

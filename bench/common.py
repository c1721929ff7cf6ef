"""Helpers shared by the benchmarks (Python 3.11, stdlib only).

- process memory from /proc (`vm_hwm`, `vm_rss`);
- a postroom node started from a generated config (`Node`), its item
  records (`records`, `count_records`) and its JSON log (`json_log`);
- a private loopback Postfix instance (`Postfix`), the same recipe as the
  Rust test harness `tests/support/postfix.rs`: its own config, queue and data
  directories and mail log, no chroot, no syslog, on a free 127.0.0.1 port;
- small things: `free_port`, `parse_time`, `percentile`, `wait_port`.
"""
import json, os, pwd, socket, subprocess, sys, time
from datetime import datetime, timezone

# ---------------------------------------------------------------- processes

def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as st:
            for line in st:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0

def vm_hwm(pid: int) -> int:
    """Peak resident set size of `pid` in bytes (0 once it is gone)."""
    return _status_kib(pid, "VmHWM")

def vm_rss(pid: int) -> int:
    """Current resident set size of `pid` in bytes."""
    return _status_kib(pid, "VmRSS")

def rss_anon(pid: int) -> int:
    """Anonymous (heap) part of the resident set of `pid` in bytes."""
    return _status_kib(pid, "RssAnon")

def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def listeners_on(port: int) -> int:
    """How many sockets listen on TCP `port` (Postfix and smtp-sink use
    SO_REUSEPORT, so two of them can silently share a port)."""
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as t:
                next(t)
                for line in t:
                    cols = line.split()
                    if cols[1].endswith(f":{port:04X}") and cols[3] == "0A":
                        n += 1
        except FileNotFoundError:
            pass
    return n

def wait_port(port: int, timeout: float, alive=lambda: True, banner: bool = True) -> str:
    """Wait until 127.0.0.1:`port` accepts a connection (and greets with 220
    when `banner`); returns the greeting. Raises on timeout or when `alive()`
    turns false."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"process exited before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if not banner:
                    return ""
                line = s.makefile("rb").readline().decode(errors="replace")
                s.sendall(b"QUIT\r\n")
                if line.startswith("220"):
                    return line.strip()
                last = line
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError(f"port {port} not ready after {timeout}s: {last}")

# ---------------------------------------------------------------- numbers

def parse_time(s: str) -> float:
    """RFC 3339 (`2026-01-02T03:04:05.123456789Z`, any offset, any
    fraction) to seconds since the epoch."""
    s = s.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    # datetime takes at most 6 fractional digits.
    if "." in s:
        head, rest = s.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        s = f"{head}.{(digits + '000000')[:6]}{tz}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()

def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]

def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"

# ---------------------------------------------------------------- postroom

def items_dir(data_dir: str, alias: str) -> str:
    return os.path.join(data_dir, "libraries", alias, ".postroom", "items")

def count_records(items: str) -> int:
    """Item records (`<key>.json`) in a library's items folder."""
    try:
        with os.scandir(items) as it:
            return sum(1 for e in it if e.name.endswith(".json"))
    except FileNotFoundError:
        return 0

def records(items: str) -> list[dict]:
    """Every item record (parsed) in a library's items folder; a record
    being replaced at that moment is read again."""
    out = []
    try:
        names = [n for n in os.listdir(items) if n.endswith(".json")]
    except FileNotFoundError:
        return out
    for name in names:
        for _ in range(5):
            try:
                with open(os.path.join(items, name), "rb") as f:
                    out.append(json.loads(f.read()))
                break
            except (json.JSONDecodeError, FileNotFoundError):
                time.sleep(0.01)
    return out

def json_log(path: str):
    """The JSON lines of a node log (other lines are skipped)."""
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    yield line, json.loads(line)
                except json.JSONDecodeError:
                    pass

class Node:
    """`postroom serve --config <root>/postroom.toml`, log in `<root>/node.log`."""

    def __init__(self, binary: str, root: str, config_text: str):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.config = os.path.join(root, "postroom.toml")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.log = os.path.join(root, "node.log")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", self.config],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_smtp(self, port: int, timeout: float = 60) -> str:
        try:
            return wait_port(port, timeout, self.alive)
        except RuntimeError as e:
            self.stop()
            sys.exit(f"postroom did not open SMTP port {port}: {e}\n--- {self.log} (tail):\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return ""

    def hwm(self) -> int:
        return vm_hwm(self.proc.pid)

    def rss(self) -> int:
        return vm_rss(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

# ---------------------------------------------------------------- Postfix

MASTER_CF = """\
{port} inet n - n - - smtpd
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
"""

def traversable_by_others(path: str) -> str | None:
    """The first ancestor of `path` that users other than root cannot
    enter (no o+x), or None."""
    p = os.path.abspath(path)
    while True:
        if not os.stat(p).st_mode & 0o001:
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent

class Postfix:
    """A private Postfix instance under `root` (etc/, queue/, maillog) on
    127.0.0.1:<free port>. `settings` are main.cf lines added to (and
    overriding) the base below. Needs root and the Debian postfix package."""

    def __init__(self, root: str, settings: dict[str, str], hostname: str = "reference.test"):
        if os.geteuid() != 0:
            sys.exit("a private Postfix instance needs root")
        self.root = os.path.abspath(root)
        self.etc = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        os.makedirs(self.etc, exist_ok=True)
        os.makedirs(self.queue, exist_ok=True)
        os.chmod(self.queue, 0o755)
        base = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            # Relative to queue_directory (every Postfix process runs there,
            # entered as root), so a 0700 ancestor does not lock out the
            # unprivileged postfix user.
            "data_directory": "data",
            "maillog_file": os.path.join(self.root, "maillog"),
            "maillog_file_prefixes": self.root,
            "myhostname": hostname,
            "mydomain": hostname,
            "myorigin": "$myhostname",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "default_transport": "error:5.1.2 this benchmark instance delivers nothing else",
            "message_size_limit": "67108864",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
        }
        base.update(settings)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.writelines(f"{k} = {v}\n" for k, v in base.items())
        for _ in range(5):
            self.port = free_port()
            with open(os.path.join(self.etc, "master.cf"), "w") as f:
                f.write(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))
            r = self.postfix("start")
            if r.returncode != 0:
                sys.exit(f"postfix -c {self.etc} start failed:\n{r.stdout}{r.stderr}\n{self.maillog()[-3000:]}")
            if listeners_on(self.port) == 1:
                wait_port(self.port, 30)
                return
            self.stop()  # port shared with another SO_REUSEPORT listener: again
        sys.exit("could not find a free port for Postfix")

    def postfix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["postfix", "-c", self.etc, *args], capture_output=True, text=True)

    def maillog(self) -> str:
        try:
            with open(os.path.join(self.root, "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def queue_empty(self) -> bool:
        r = subprocess.run(["postqueue", "-c", self.etc, "-j"], capture_output=True)
        return r.returncode == 0 and not r.stdout.strip()

    def master_pid(self) -> int | None:
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self):
        pid = self.master_pid()
        self.postfix("stop")
        if pid is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                        return
            except FileNotFoundError:
                return
            time.sleep(0.02)
        try:
            os.killpg(pid, 9)
        except OSError:
            pass

def nobody() -> tuple[int, int]:
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid

# ---------------------------------------------------------------- farms

def dir_usage(path: str) -> int:
    """Bytes allocated on disk (st_blocks) by every file under `path`,
    like `du -s`; 0 when it does not exist."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total

def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int:
    """Status code of `GET path` on host:port, 0 when it cannot be asked."""
    import http.client
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()

def _rendezvous_weight(file_name: str, node: int) -> int:
    """`postroom_core::cluster::rendezvous_weight`: FNV-1a 64 of the name
    and the node id (u64 little-endian), then splitmix64's finaliser."""
    m = 2**64 - 1
    h = 0xcbf29ce484222325
    for b in file_name.encode() + node.to_bytes(8, "little"):
        h ^= b
        h = (h * 0x100000001b3) & m
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & m
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & m
    return h ^ (h >> 31)

def preferred_node(file_name: str, members) -> int:
    """The member a drop file is meant for (`postroom_core::cluster::preferred_node`,
    for names that are not `smtp-<node>-...`)."""
    return max(members, key=lambda n: (_rendezvous_weight(file_name, n), n))

def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        cols = [int(c) for c in f.readline().split()[1:]]
    idle = cols[3] + cols[4]
    return sum(cols), idle

def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs (0..1) busy during the next `seconds`."""
    t0, i0 = _cpu_ticks()
    time.sleep(seconds)
    t1, i1 = _cpu_ticks()
    return 0.0 if t1 == t0 else 1.0 - (i1 - i0) / (t1 - t0)

def wait_quiet(limit: float = 0.15, patience: float = 300.0) -> float:
    """Wait (at most `patience` s) until the machine is quiet: less than
    `limit` of the CPUs busy over 2 s. Returns the last busy share (say so
    when the machine never got quiet)."""
    deadline = time.monotonic() + patience
    busy = cpu_busy(2.0)
    while busy > limit and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    if busy > limit:
        print(f"  (machine still {busy:.0%} busy after waiting {patience:.0f} s; measuring anyway)", flush=True)
    return busy

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            cols = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(cols[11]) + int(cols[12])) / os.sysconf("SC_CLK_TCK")

class CpuWatch:
    """CPU used on the machine by others while we measure: all busy CPU time
    minus our own (this process, its reaped children, and the live `pids()`).
    Kernel threads working for us (writeback, block IO) count as others',
    so a quiet machine shows a few percent."""

    def __init__(self, pids=lambda: []):
        self.pids = pids
        self.t0, self.ticks0, self.own0 = time.monotonic(), _cpu_ticks(), self._own()

    def _own(self) -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system + sum(cpu_seconds(p) for p in self.pids())

    def foreign(self) -> float:
        """Others' share (0..1) of all CPUs since the watch started."""
        ticks1, own1 = _cpu_ticks(), self._own()
        hz = os.sysconf("SC_CLK_TCK")
        busy = ((ticks1[0] - self.ticks0[0]) - (ticks1[1] - self.ticks0[1])) / hz
        wall = time.monotonic() - self.t0
        return max(0.0, busy - (own1 - self.own0)) / (wall * (os.cpu_count() or 1))

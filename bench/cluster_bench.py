#!/usr/bin/env python3
"""Benchmarks of the farm as a cluster (issue 4), on real `postroom serve`
processes: node i listens on 127.0.0.i (gRPC, HTTP), all nodes watch one
shared drop folder and file into one shared library, each has its own data
dir (Raft log in <data_dir>/raft). SMTP is off; mail arrives as drop files
(the 5 KB messages of drop_backlog.py).

Modes (`--mode`, default all; `--runs N` runs of each, medians reported):

- backlog:  10,000 drop files drained by 1 node and by 3 nodes, side by side
            in each run (same files, copied before the nodes start, os.sync()
            before each phase). files/s = files / (first "node ready" log line
            to the last item record's filed_at).
- failover: SIGKILL the leader of an idle 3-node farm; time until a survivor
            reports a new leader (`postroom cluster status --json`), and until
            a drop file dropped at the kill is filed (a probe meant for each
            survivor). Three kills per run (the killed node is restarted in
            between); target < 3 s.
- kill:     3 nodes (lease_ttl 5s, handoff_after 1s) draining 3,000 files;
            SIGKILL a follower while it holds claims; its claimed files are
            the keys the survivors were refused with `Held { by: victim }`
            (their `postroom::pipeline` debug lines); time from the kill until
            the last of those files is filed and removed; target TTL + 2 s.
- claims:   runs target/release/examples/claim_bench (3 in-process nodes over
            gRPC, Claim batches of 512 from the leader and the followers);
            target >= 20,000 claims/s.
- soak:     200,000 messages written into the drop folder at a steady rate
            (default 2,000/s) through a 3-node farm (ledger_retention 1m, the
            shortest allowed; snapshot_every as the product sets it, or
            --soak-snapshot-every); every 5 s: messages filed,
            each node's sled dir size and RSS, and its Raft log/snapshot/purged
            indexes; then node 3 is restarted to see how much of its RSS is
            live state. Runs once; samples in bench/out/cluster_soak-*.csv.

Usage:

    cargo build --release -p postroom
    cargo build --release -p postroom-cluster --example claim_bench
    python3 bench/cluster_bench.py --mode all --runs 3
"""
import argparse, csv, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, threading, time

from common import (_cpu_ticks, CpuWatch, count_records, cpu_seconds, dir_usage, http_status, json_log, mib, parse_time,
                    preferred_node, records, rss_anon, vm_hwm, vm_rss, wait_quiet)
from drop_backlog import make_backlog, message, raw_copy

HERE = os.path.dirname(os.path.abspath(__file__))
ALIAS = "shared-documents"
DOMAIN = "sharepoint.contoso.local"
LEVEL = "info,openraft=error,sled=warn"
# drop_folder.poll_interval and stable_after of every farm (--poll / --stable).
POLL = ["2s", "500ms"]

# ---------------------------------------------------------------- the farm

def free_port_all(size: int, taken: list[int]) -> int:
    """A port free on 127.0.0.1..=size and not in `taken`."""
    import socket
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        ok = port not in taken
        for i in range(1, size + 1):
            if not ok:
                break
            with socket.socket() as s:
                try:
                    s.bind((f"127.0.0.{i}", port))
                except OSError:
                    ok = False
        if ok:
            return port
    sys.exit("no port free on all node addresses")

CONFIG = """data_dir = "{data}"
[cluster]
node_id = {i}
listen = "127.0.0.{i}:{port}"
{peers}
{cluster}
[http]
listen = "127.0.0.{i}:{http}"
[smtp]
enabled = false
[log]
level = "{level}"
format = "json"
[farm]
incoming_domains = ["{domain}"]
{farm}
[drop_folder]
path = "{drop}"
poll_interval = "{poll}"
stable_after = "{stable}"
[quarantine]
path = "{quarantine}"
[[library]]
name = "Shared Documents"
alias = "{alias}"
path = "{library}"
"""

class Farm:
    """`size` postroom nodes under `root` sharing `root/drop` and `root/library`.
    `cluster` / `farm` are lines added to the [cluster] / [farm] tables."""

    def __init__(self, binary: str, root: str, size: int, cluster: str = "", farm: str = "",
                 level: str = LEVEL):
        self.binary, self.root, self.size = binary, root, size
        self.drop = os.path.join(root, "drop")
        self.library = os.path.join(root, "library")
        self.items = os.path.join(self.library, ".postroom", "items")
        os.makedirs(self.drop, exist_ok=True)
        os.makedirs(self.library, exist_ok=True)
        self.port = free_port_all(size, [])
        self.http = free_port_all(size, [self.port])
        peers = ""
        if size > 1:
            peers = "peers = [" + ", ".join(f'"{i}@127.0.0.{i}:{self.port}"' for i in range(1, size + 1)) + "]"
        for i in range(1, size + 1):
            with open(self.config(i), "w") as f:
                f.write(CONFIG.format(
                    data=self.data(i), i=i, port=self.port, peers=peers, cluster=cluster, http=self.http,
                    level=level, domain=DOMAIN, farm=farm, drop=self.drop, alias=ALIAS, library=self.library,
                    quarantine=os.path.join(os.path.dirname(self.drop), "quarantine"),
                    poll=POLL[0], stable=POLL[1]))
        self.procs: dict[int, subprocess.Popen] = {}
        self.logs: dict[int, str] = {}
        self.starts = {i: 0 for i in range(1, size + 1)}

    def config(self, i: int) -> str:
        return os.path.join(self.root, f"node{i}.toml")

    def data(self, i: int) -> str:
        return os.path.join(self.root, f"node{i}")

    def spawn(self, i: int):
        self.starts[i] += 1
        self.logs[i] = os.path.join(self.root, f"node{i}-{self.starts[i]}.log")
        self.procs[i] = subprocess.Popen(
            [self.binary, "serve", "--config", self.config(i)],
            stdout=subprocess.DEVNULL, stderr=open(self.logs[i], "wb"))

    def spawn_all(self):
        for i in range(1, self.size + 1):
            self.spawn(i)

    def up(self) -> list[int]:
        return [i for i, p in self.procs.items() if p.poll() is None]

    def check_alive(self):
        for i, p in self.procs.items():
            if p.poll() is not None:
                self.stop_all()
                sys.exit(f"node {i} exited (status {p.returncode}); {self.logs[i]}:\n{self.tail(i)}")

    def tail(self, i: int, n: int = 30) -> str:
        with open(self.logs[i], errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def ready_at(self, i: int) -> float | None:
        """Wall time of node i's first "node ready" line in its current log."""
        for _, rec in json_log(self.logs[i]):
            if rec.get("message") == "node ready":
                return parse_time(rec["timestamp"])
        return None

    def wait_ready(self, nodes=None, timeout: float = 60):
        deadline = time.monotonic() + timeout
        for i in nodes or range(1, self.size + 1):
            while self.ready_at(i) is None:
                self.check_alive()
                if time.monotonic() > deadline:
                    self.stop_all()
                    sys.exit(f"node {i} not ready after {timeout} s; {self.logs[i]}:\n{self.tail(i)}")
                time.sleep(0.05)

    def pid(self, i: int) -> int:
        return self.procs[i].pid

    def kill(self, i: int):
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop(self, i: int):
        p = self.procs.pop(i)
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print(f"  node {i} did not stop within 60 s of SIGTERM; killed", flush=True)
                p.kill()
                p.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.stop(i)

    def status(self, i: int, timeout: float = 10) -> list[dict] | None:
        """`postroom cluster status --json` asked of node i (None if it fails)."""
        try:
            out = subprocess.run(
                [self.binary, "cluster", "status", "--json", "--server", f"127.0.0.{i}:{self.port}"],
                capture_output=True, timeout=timeout)
            v = json.loads(out.stdout)
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            return None
        return v.get("nodes", v) if isinstance(v, dict) else v

    def leader(self, exclude=(), timeout: float = 30) -> int:
        """A ready leader as a live node reports it (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in self.up():
                for n in self.status(i) or []:
                    if n.get("role") == "leader" and n.get("ready") and n["node_id"] not in exclude:
                        return n["node_id"]
            time.sleep(0.1)
        self.stop_all()
        sys.exit("no leader reported by `postroom cluster status --json`")

    def readyz(self, i: int) -> int:
        return http_status(f"127.0.0.{i}", self.http, "/readyz")

    def raft_bytes(self, i: int) -> int:
        return dir_usage(os.path.join(self.data(i), "raft"))

    def counters(self, i: int, start: int | None = None) -> dict:
        """The counters of node i's "stopped" log line (after SIGTERM)."""
        path = os.path.join(self.root, f"node{i}-{start or self.starts[i]}.log")
        out = {}
        for _, rec in json_log(path):
            if rec.get("message") == "stopped":
                out = {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", str(rec.get("counters", "")))}
        return out

def drop_count(folder: str) -> int:
    with os.scandir(folder) as it:
        return sum(1 for e in it if e.name.endswith(".eml"))

def drop_atomically(folder: str, name: str, data: bytes):
    tmp = os.path.join(folder, "." + name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(folder, name))

def finished_records(items: str, n: int, timeout: float = 30) -> list[dict]:
    """The `n` item records once all are `done` (re-read while some are being written)."""
    deadline = time.monotonic() + timeout
    while True:
        recs = records(items)
        if len(recs) >= n and all(r.get("state") == "done" and r.get("filed_at") for r in recs):
            return recs
        if time.monotonic() > deadline:
            states = {}
            for r in recs:
                states[r.get("state")] = states.get(r.get("state"), 0) + 1
            sys.exit(f"expected {n} done records in {items}, found {len(recs)}: {states}")
        time.sleep(0.1)

def library_files(library: str) -> int:
    """Files users see in the library (everything outside .postroom)."""
    n = 0
    for dirpath, dirs, files in os.walk(library):
        if dirpath == library and ".postroom" in dirs:
            dirs.remove(".postroom")
        n += len(files)
    return n

def msg_index(rec: dict) -> int:
    """i of the message `<bench-i@contoso.com>` a record is of."""
    return int(re.search(r"bench-(\d+)@", rec["message_id"]).group(1))

def median(values):
    return statistics.median(values) if values else float("nan")

# ---------------------------------------------------------------- backlog

def backlog_phase(binary: str, src: str, root: str, size: int, n: int) -> dict:
    farm = Farm(binary, root, size)
    for name in os.listdir(src):
        shutil.copyfile(os.path.join(src, name), os.path.join(farm.drop, name))
    os.sync()
    wait_quiet()
    spawned = time.time()
    ticks0 = _cpu_ticks()
    watch = CpuWatch(lambda: [farm.pid(i) for i in farm.up()])
    farm.spawn_all()
    peak = {i: 0 for i in range(1, size + 1)}
    try:
        while True:
            farm.check_alive()
            for i in peak:
                peak[i] = max(peak[i], vm_hwm(farm.pid(i)))
            if drop_count(farm.drop) == 0 and count_records(farm.items) >= n:
                break
            time.sleep(0.05)
        recs = finished_records(farm.items, n)
        ticks1 = _cpu_ticks()
        cpu = sum(cpu_seconds(farm.pid(i)) for i in range(1, size + 1))
        foreign = watch.foreign()
        ready = [farm.ready_at(i) for i in range(1, size + 1)]
    finally:
        farm.stop_all()
    if len(recs) != n or None in ready:
        sys.exit(f"{size} nodes: {len(recs)} records for {n} files, ready at {ready}")
    visible = library_files(farm.library)
    last = max(parse_time(r["filed_at"]) for r in recs)
    start = min(ready)
    filed = [farm.counters(i).get("filed", -1) for i in range(1, size + 1)]
    return {
        "rate": n / (last - start), "secs": last - start, "from_spawn": last - spawned,
        "ready_spread": max(ready) - min(ready), "start_up": start - spawned,
        "filed_by": filed, "rss": max(peak.values()), "files": visible,
        "cpu": cpu, "foreign": foreign, "busy": 1 - (ticks1[1] - ticks0[1]) / max(1, ticks1[0] - ticks0[0]),
    }

def undisturbed(a, label: str, measure):
    """`measure(attempt)` again (at most 4 times) while other processes used
    more than --max-foreign of the CPUs during it."""
    for k in range(4):
        x = measure(k)
        if x["foreign"] <= a.max_foreign:
            return x
        print(f"  {label}: other processes used {x['foreign']:.0%} of the CPUs meanwhile; measuring again", flush=True)
    print(f"  {label}: kept a disturbed measurement ({x['foreign']:.0%} others)", flush=True)
    return x

def mode_backlog(a, base: str) -> dict:
    print(f"\n## backlog: {a.files} files, 1 node vs 3 nodes, {a.runs} runs", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="backlog-", dir=base) as root:
        src = make_backlog(root, a.files)
        size = sum(os.path.getsize(os.path.join(src, f)) for f in os.listdir(src)) / a.files
        for r in range(a.runs):
            os.sync()
            wait_quiet()
            raw = raw_copy(src, os.path.join(root, f"run{r}-raw"), True)
            print(f"run {r+1}: raw copy + fsync per file {raw:.0f} files/s", flush=True)
            phase = {}
            # Alternate which goes first, so a drift of the disk favours neither.
            for nodes in ((1, 3) if r % 2 == 0 else (3, 1)):
                phase[nodes] = undisturbed(a, f"run {r+1}, {nodes} node(s)", lambda k: backlog_phase(
                    a.bin, src, os.path.join(root, f"run{r}-{nodes}nodes-{k}"), nodes, a.files))
            one, three = phase[1], phase[3]
            one["raw"] = raw
            rows.append((one, three))
            for label, x in (("1 node", one), ("3 nodes", three)):
                print(f"run {r+1}, {label}: {x['rate']:.0f} files/s ({x['secs']:.2f} s from first ready; "
                      f"{x['from_spawn']:.2f} s from spawn, ready spread {x['ready_spread']:.2f} s), "
                      f"filed by node {x['filed_by']}, library files {x['files']}, "
                      f"peak RSS {mib(x['rss'])}, node CPU {x['cpu']:.1f} s ({x['cpu']/a.files*1e6:.0f} us/file), "
                      f"machine {x['busy']:.0%} busy, others {x['foreign']:.0%}", flush=True)
    print(f"\n{a.files} files of {size/1024:.1f} KB; files/s from the first node ready to the last record:\n")
    print("| run | raw copy + fsync per file | 1 node | 3 nodes | 3 / 1 | 3 nodes: filed by node 1/2/3 | 3 nodes: ready spread | node CPU per file 1 / 3 (all nodes) | peak RSS 1 / 3 (max node) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r, (one, three) in enumerate(rows):
        print(f"| {r+1} | {one['raw']:.0f} files/s | {one['rate']:.0f} files/s ({one['secs']:.2f} s) | {three['rate']:.0f} files/s ({three['secs']:.2f} s) "
              f"| {three['rate']/one['rate']:.2f}x | {' / '.join(map(str, three['filed_by']))} "
              f"| {three['ready_spread']:.2f} s | {one['cpu']/a.files*1e6:.0f} / {three['cpu']/a.files*1e6:.0f} us "
              f"| {mib(one['rss'])} / {mib(three['rss'])} |")
    m1 = median([o["rate"] for o, _ in rows])
    m3 = median([t["rate"] for _, t in rows])
    ratio = median([t["rate"] / o["rate"] for o, t in rows])
    print(f"| **median** | **{median([o['raw'] for o, _ in rows]):.0f} files/s** | **{m1:.0f} files/s** | **{m3:.0f} files/s** | **{ratio:.2f}x** | | | | |")
    print(f"\ntarget: 3 nodes at least as fast as 1 -> {'met' if ratio >= 1 else 'MISSED'} ({ratio:.2f}x)")
    return {"one": m1, "three": m3, "ratio": ratio}

# ---------------------------------------------------------------- failover

def probe_name(owner: int, tag: str) -> str:
    """A drop file name meant for `owner` among members 1..3."""
    for k in range(1000):
        name = f"probe-{tag}-{k}.eml"
        if preferred_node(name, [1, 2, 3]) == owner:
            return name
    raise RuntimeError("no probe name")

def wait_probes(farm: Farm, ids: dict[int, str], timeout: float) -> dict[int, float]:
    """filed_at of each probe message id (by i) once filed."""
    deadline = time.monotonic() + timeout
    found: dict[int, float] = {}
    while len(found) < len(ids) and time.monotonic() < deadline:
        for r in records(farm.items):
            i = msg_index(r)
            if i in ids and r.get("filed_at"):
                found[i] = parse_time(r["filed_at"])
        time.sleep(0.02)
    return found

def mode_failover(a, base: str) -> dict:
    print(f"\n## failover: SIGKILL the leader of an idle 3-node farm, {a.runs} runs x {a.kills} kills", flush=True)
    samples = []
    seq = 900_000
    with tempfile.TemporaryDirectory(prefix="failover-", dir=base) as root:
        for r in range(a.runs):
            farm = Farm(a.bin, os.path.join(root, f"run{r}"), 3, cluster='handoff_after = "1s"')
            farm.spawn_all()
            farm.wait_ready()
            try:
                k, attempts = 0, 0
                while k < a.kills and attempts < 3 * a.kills:
                    attempts += 1
                    leader = farm.leader()
                    survivors = [i for i in (1, 2, 3) if i != leader]
                    # A write on the healthy farm first (same path: drop file -> filed).
                    seq += 1
                    base_t = time.time()
                    drop_atomically(farm.drop, probe_name(survivors[0], f"b{seq}"), message(seq))
                    got = wait_probes(farm, {seq: ""}, 30)
                    healthy = got[seq] - base_t if seq in got else float("nan")
                    time.sleep(2)  # idle again
                    wait_quiet(patience=60)
                    probes = {}
                    for s in survivors:
                        seq += 1
                        probes[seq] = probe_name(s, f"k{seq}")
                    watch = CpuWatch(lambda: [farm.pid(i) for i in farm.up()])
                    t_kill = time.time()
                    farm.kill(leader)
                    for i, name in probes.items():
                        drop_atomically(farm.drop, name, message(i))
                    new_leader, t_leader = None, None
                    deadline = time.monotonic() + 30
                    while new_leader is None and time.monotonic() < deadline:
                        for n in farm.status(survivors[0], timeout=5) or []:
                            if n.get("role") == "leader" and n["node_id"] != leader:
                                new_leader, t_leader = n["node_id"], time.time()
                        if new_leader is None:
                            time.sleep(0.05)
                    t_readyz = None
                    while new_leader and t_readyz is None and time.monotonic() < deadline:
                        if farm.readyz(new_leader) == 200:
                            t_readyz = time.time()
                        else:
                            time.sleep(0.02)
                    filed = wait_probes(farm, probes, 30)
                    s = {
                        "run": r + 1, "kill": k + 1, "old": leader, "new": new_leader,
                        "leader_s": (t_leader - t_kill) if t_leader else float("nan"),
                        "readyz_s": (t_readyz - t_kill) if t_readyz else float("nan"),
                        "first_write_s": (min(filed.values()) - t_kill) if filed else float("nan"),
                        "all_writes_s": (max(filed.values()) - t_kill) if len(filed) == len(probes) else float("nan"),
                        "healthy_s": healthy, "foreign": watch.foreign(),
                    }
                    if s["foreign"] <= a.max_foreign or attempts >= 3 * a.kills:
                        samples.append(s)
                        k += 1
                    else:
                        print(f"  (others used {s['foreign']:.0%} of the CPUs: not counted, killing again)", flush=True)
                    print(f"run {r+1} kill {k}: leader {leader} killed; node {new_leader} leads after "
                          f"{s['leader_s']:.2f} s (its /readyz 200 after {s['readyz_s']:.2f} s); first drop file "
                          f"filed after {s['first_write_s']:.2f} s, both after {s['all_writes_s']:.2f} s "
                          f"(healthy farm: {healthy:.2f} s); others used {s['foreign']:.0%} of the CPUs", flush=True)
                    farm.spawn(leader)
                    farm.wait_ready([leader])
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        st = farm.status(leader) or []
                        if len(st) == 3 and all(n.get("ready") for n in st):
                            break
                        time.sleep(0.2)
            finally:
                farm.stop_all()
    print("\n| run | kill | old → new leader | new leader known (status) | new leader /readyz 200 | first drop file filed | both probes filed | healthy farm: drop → filed |")
    print("|---|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s['run']} | {s['kill']} | {s['old']} → {s['new']} | {s['leader_s']:.2f} s | {s['readyz_s']:.2f} s "
              f"| {s['first_write_s']:.2f} s | {s['all_writes_s']:.2f} s | {s['healthy_s']:.2f} s |")
    med = {k: median([s[k] for s in samples]) for k in ("leader_s", "readyz_s", "first_write_s", "all_writes_s", "healthy_s")}
    worst = max(s["first_write_s"] for s in samples)
    print(f"| **median** | | | **{med['leader_s']:.2f} s** | **{med['readyz_s']:.2f} s** | **{med['first_write_s']:.2f} s** "
          f"| **{med['all_writes_s']:.2f} s** | **{med['healthy_s']:.2f} s** |")
    print(f"\ntarget: leader failover (a new leader accepting writes) < 3 s -> median {med['first_write_s']:.2f} s, "
          f"worst {worst:.2f} s: {'met' if med['first_write_s'] < 3 else 'MISSED'}")
    med["worst_first_write_s"] = worst
    return med

# ---------------------------------------------------------------- kill

def mode_kill(a, base: str) -> dict:
    ttl = 5.0
    print(f"\n## kill: SIGKILL a follower holding claims while 3 nodes drain {a.kill_files} files "
          f"(lease_ttl {ttl:.0f}s, handoff_after 1s), {a.runs} runs", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="kill-", dir=base) as root:
        src = make_backlog(root, a.kill_files)
        def one(r, k):
            farm = Farm(a.bin, os.path.join(root, f"run{r}-{k}"), 3,
                        cluster=f'lease_ttl = "{ttl:.0f}s"\nhandoff_after = "1s"',
                        level=LEVEL + ",postroom::pipeline=debug,postroom::lease=debug")
            stage = os.path.join(farm.root, "stage")
            shutil.copytree(src, stage)
            farm.spawn_all()
            farm.wait_ready()
            try:
                leader = farm.leader()
                victim = min(i for i in (1, 2, 3) if i != leader)
                os.sync()
                wait_quiet(patience=60)
                names = sorted(os.listdir(stage))
                watch = CpuWatch(lambda: [farm.pid(i) for i in farm.up()])
                t_drop = time.time()
                for name in names:
                    os.rename(os.path.join(stage, name), os.path.join(farm.drop, name))
                while count_records(farm.items) < a.kill_files * 0.25:
                    farm.check_alive()
                    time.sleep(0.01)
                t_kill = time.time()
                farm.kill(victim)
                remaining = {e.name for e in os.scandir(farm.drop) if e.name.endswith(".eml")}
                gone_at: dict[str, float] = {}
                present = set(remaining)
                deadline = time.monotonic() + 120
                while present and time.monotonic() < deadline:
                    time.sleep(0.02)
                    now = {e.name for e in os.scandir(farm.drop) if e.name.endswith(".eml")}
                    t = time.time()
                    for name in present - now:
                        gone_at[name] = t
                    present &= now
                if present:
                    print(f"  {len(present)} files still in the drop folder 120 s after the kill", flush=True)
                recs = finished_records(farm.items, a.kill_files)
                foreign = watch.foreign()
            finally:
                farm.stop_all()
            held: dict[str, list[float]] = {}  # key -> times survivors were refused with Held
            for i in (1, 2, 3):
                if i == victim:
                    continue
                for _, rec in json_log(os.path.join(farm.root, f"node{i}-1.log")):
                    if rec.get("message") == "claimed by another node" and rec.get("by") == victim:
                        held.setdefault(rec["message_key"], []).append(parse_time(rec["timestamp"]) - t_kill)
            # The victim's last lease renewal before the kill (its leases lapse TTL after it).
            renewed = [parse_time(rec["timestamp"]) - t_kill
                       for _, rec in json_log(os.path.join(farm.root, f"node{victim}-1.log"))
                       if rec.get("message") == "leases renewed"]
            renewed = [t for t in renewed if t <= 0]
            by_key = {r["message_key"]: f"m{msg_index(r):05}.eml" for r in recs}
            claimed = {by_key[k] for k in held if k in by_key} & remaining
            refused = [t for k, ts in held.items() if by_key.get(k) in claimed for t in ts]
            own = sum(1 for n in claimed if preferred_node(n, [1, 2, 3]) == victim)
            visible = library_files(farm.library)
            res = {
                "run": r + 1, "victim": victim, "leader": leader,
                "at_kill_filed": a.kill_files - len(remaining), "remaining": len(remaining),
                "claimed": len(claimed), "claimed_own": own,
                "claimed_s": (max(gone_at[n] for n in claimed if n in gone_at) - t_kill) if claimed else float("nan"),
                "all_s": (max(gone_at.values()) - t_kill) if gone_at else float("nan"),
                "drain_to_kill_s": t_kill - t_drop,
                "last_renewal_s": max(renewed) if renewed else float("nan"),
                "last_refused_s": max(refused) if refused else float("nan"),
                "refusals": sorted({round(t, 1) for t in refused}),
                "records": len(recs), "files": visible, "foreign": foreign,
                "filed_by": [farm.counters(i).get("filed", -1) if i != victim else "killed" for i in (1, 2, 3)],
            }
            print(f"run {r+1}: killed node {victim} (leader {leader}) {res['drain_to_kill_s']:.2f} s into the drain, "
                  f"{res['remaining']} files left; {res['claimed']} of them claimed by it "
                  f"({res['claimed_own']} meant for it); last of those filed {res['claimed_s']:.2f} s after the kill, "
                  f"all filed after {res['all_s']:.2f} s; {res['records']} records, {res['files']} library files, "
                  f"survivors filed {res['filed_by']}", flush=True)
            renewal = ("did not renew leases before the kill (its claims lapse TTL after they were made, "
                       "at most +5 s)" if renewed == [] or res["last_renewal_s"] != res["last_renewal_s"] else
                       f"last renewed leases {res['last_renewal_s']:+.2f} s from the kill (so they lapse by "
                       f"{res['last_renewal_s'] + ttl:+.2f} s)")
            print(f"  the killed node {renewal}; survivors were refused (Held) at {res['refusals']} s, last at "
                  f"{res['last_refused_s']:+.2f} s; others used "
                  f"{foreign:.0%} of the CPUs", flush=True)
            return res

        for r in range(a.runs):
            results.append(undisturbed(a, f"run {r+1}", lambda k: one(r, k)))
    target = ttl + 2
    print(f"\n| run | files left at the kill | of them claimed by the killed node | its last renewal (leases lapse TTL later) | survivors' last Held refusal | its claims filed elsewhere after | all left filed after | vs TTL + 2 s ({target:.0f} s) | records / library files |")
    print("|---|---|---|---|---|---|---|---|---|")
    for x in results:
        renewal = "none" if x["last_renewal_s"] != x["last_renewal_s"] else f"{x['last_renewal_s']:+.2f} s"
        print(f"| {x['run']} | {x['remaining']} | {x['claimed']} | {renewal} | {x['last_refused_s']:+.2f} s "
              f"| {x['claimed_s']:.2f} s | {x['all_s']:.2f} s | {x['claimed_s']/target:.2f}x | {x['records']} / {x['files']} |")
    m = median([x["claimed_s"] for x in results])
    print(f"| **median** | | | | | **{m:.2f} s** | **{median([x['all_s'] for x in results]):.2f} s** | **{m/target:.2f}x** | |")
    worst = max(x["claimed_s"] for x in results)
    print(f"\ntarget: claimed files filed elsewhere within TTL + 2 s = {target:.0f} s -> median {m:.2f} s, worst {worst:.2f} s: "
          f"{'met' if worst <= target else ('met by the median' if m <= target else 'MISSED')}")
    return {"claimed_s": m, "worst": worst, "all_s": median([x["all_s"] for x in results])}

# ---------------------------------------------------------------- claims

def mode_claims(a, base: str) -> dict:
    print(f"\n## claims: raw claim throughput of 3 in-process nodes over gRPC, {a.runs} runs", flush=True)
    if not os.path.exists(a.example):
        sys.exit(f"{a.example} missing: cargo build --release -p postroom-cluster --example claim_bench")
    runs = []
    def measure(_k):
        os.sync()
        wait_quiet()
        watch = CpuWatch()
        out = subprocess.run([a.example, "--secs", str(a.claim_secs), "--dir", base],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"claim_bench failed:\n{out.stdout}\n{out.stderr}")
        line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
        res = json.loads(line[len("RESULT "):])
        res["foreign"] = watch.foreign()
        return res

    for r in range(a.runs):
        res = undisturbed(a, f"run {r+1}", measure)
        runs.append(res)
        print(f"run {r+1}: {res['claims_per_s_median']:,} claims/s (median 1-s window; overall "
              f"{res['claims_per_s_overall']:,.0f}), proposal p50 {res['p50_ms']:.1f} ms p99 {res['p99_ms']:.1f} ms "
              f"(leader {res['leader_p50_ms']:.1f}/{res['leader_p99_ms']:.1f}, followers "
              f"{res['follower_p50_ms']:.1f}/{res['follower_p99_ms']:.1f}), errors {res['errors']}", flush=True)
    print("\n| run | claims/s (median 1-s window) | overall | proposal p50 / p99 | from the leader p50 / p99 | forwarded by followers p50 / p99 |")
    print("|---|---|---|---|---|---|")
    for i, x in enumerate(runs):
        print(f"| {i+1} | {x['claims_per_s_median']:,} | {x['claims_per_s_overall']:,.0f} | {x['p50_ms']:.1f} / {x['p99_ms']:.1f} ms "
              f"| {x['leader_p50_ms']:.1f} / {x['leader_p99_ms']:.1f} ms | {x['follower_p50_ms']:.1f} / {x['follower_p99_ms']:.1f} ms |")
    m = {k: median([x[k] for x in runs]) for k in runs[0] if isinstance(runs[0][k], (int, float)) and not isinstance(runs[0][k], bool)}
    print(f"| **median** | **{m['claims_per_s_median']:,.0f}** | **{m['claims_per_s_overall']:,.0f}** | **{m['p50_ms']:.1f} / {m['p99_ms']:.1f} ms** "
          f"| **{m['leader_p50_ms']:.1f} / {m['leader_p99_ms']:.1f} ms** | **{m['follower_p50_ms']:.1f} / {m['follower_p99_ms']:.1f} ms** |")
    print(f"\ntarget: >= 20,000 claims/s -> {m['claims_per_s_median']/20000:.1f}x the target")
    return m

# ---------------------------------------------------------------- soak

def mode_soak(a, base: str) -> dict:
    total, rate = a.soak_messages, a.soak_rate
    every = a.soak_snapshot_every
    label = f"snapshot_every {every}" if every else "snapshot_every: the product default"
    print(f"\n## soak: {total:,} messages at {rate:,}/s through 3 nodes (ledger_retention 1m, {label})", flush=True)
    csv_path = os.path.join(base, f"cluster_soak-snapshot_every-{every or 'default'}.csv")
    rows = []
    with tempfile.TemporaryDirectory(prefix="soak-", dir=base) as root:
        farm = Farm(a.bin, root, 3, cluster=f"snapshot_every = {every}" if every else "", farm='ledger_retention = "1m"')
        farm.spawn_all()
        farm.wait_ready()
        written = [0]
        half = [0.0]
        stop = threading.Event()

        def writer():
            start = time.monotonic()
            for i in range(total):
                if i == total // 2:
                    half[0] = time.monotonic() - start
                if stop.is_set():
                    return
                drop_atomically(farm.drop, f"s{i:06}.eml", message(i))
                written[0] = i + 1
                ahead = (i + 1) / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)

        os.sync()
        wait_quiet(patience=60)
        watch = CpuWatch(lambda: [farm.pid(i) for i in farm.up()])
        t0 = time.monotonic()
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        done_at = None
        try:
            while True:
                farm.check_alive()
                t = time.monotonic() - t0
                filed = count_records(farm.items)
                backlog = drop_count(farm.drop)
                st = {n["node_id"]: n for n in (farm.status(1) or [])}
                row = {"t_s": round(t, 1), "written": written[0], "filed": filed, "drop_backlog": backlog}
                for i in (1, 2, 3):
                    n = st.get(i, {})
                    row[f"raft{i}_mib"] = round(farm.raft_bytes(i) / 2**20, 1)
                    row[f"rss{i}_mib"] = round(vm_rss(farm.pid(i)) / 2**20, 1)
                    row[f"anon{i}_mib"] = round(rss_anon(farm.pid(i)) / 2**20, 1)
                    row[f"log{i}"] = n.get("last_log_index")
                    row[f"snap{i}"] = n.get("snapshot_index")
                    row[f"purged{i}"] = n.get("purged_index")
                row["claims_held"] = st.get(1, {}).get("claims_held")
                rows.append(row)
                print("  " + " ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                if done_at is None and written[0] >= total and filed >= total and backlog == 0:
                    done_at = time.monotonic()
                if done_at is not None and time.monotonic() - done_at >= a.soak_tail:
                    break
                if t > total / rate * 4 + 600:
                    print("  soak: giving up (the farm is far behind the writer)", flush=True)
                    break
                time.sleep(max(0.0, a.sample_every - ((time.monotonic() - t0) - t)))
            foreign = watch.foreign()
            # Is the memory live state? Restart node 3: it reloads the state
            # from its snapshot and log.
            before = (vm_rss(farm.pid(3)), farm.raft_bytes(3))
            farm.stop(3)
            stopped_raft = farm.raft_bytes(3)
            farm.spawn(3)
            farm.wait_ready([3])
            time.sleep(5)
            after = (vm_rss(farm.pid(3)), rss_anon(farm.pid(3)), farm.raft_bytes(3))
            print(f"  node 3 restarted: RSS {mib(before[0])} before -> {mib(after[0])} after (anon {mib(after[1])}); "
                  f"sled dir {mib(before[1])} running, {mib(stopped_raft)} after a clean stop, {mib(after[2])} after the restart",
                  flush=True)
        finally:
            stop.set()
            th.join()
            farm.stop_all()
        filed_by = [farm.counters(i, 1).get("filed", -1) for i in (1, 2, 3)]
        elapsed = (done_at or time.monotonic()) - t0
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    wrote = next((r["t_s"] for r in rows if r["written"] >= total), float("nan"))
    print(f"\n{total:,} messages written in about {wrote:.0f} s (first half in {half[0]:.0f} s), all filed after "
          f"{elapsed:.0f} s ({total/elapsed:.0f}/s); filed by node {filed_by}; others used {foreign:.0%} of the CPUs; "
          f"samples in {csv_path}\n")
    print("| t | written | filed | drop backlog | sled MiB n1/n2/n3 | RSS MiB n1/n2/n3 | log / snapshot / purged index (node 1) |")
    print("|---|---|---|---|---|---|---|")
    step = a.soak_table_every
    next_mark = 0
    picked = []
    for i, row in enumerate(rows):
        if row["filed"] >= next_mark or i == len(rows) - 1:
            picked.append(row)
            while next_mark <= row["filed"]:
                next_mark += step
    for row in picked:
        print(f"| {row['t_s']:.0f} s | {row['written']:,} | {row['filed']:,} | {row['drop_backlog']:,} "
              f"| {row['raft1_mib']:.1f} / {row['raft2_mib']:.1f} / {row['raft3_mib']:.1f} "
              f"| {row['rss1_mib']:.1f} / {row['rss2_mib']:.1f} / {row['rss3_mib']:.1f} "
              f"| {row['log1']} / {row['snap1']} / {row['purged1']} |")
    mid = next((r for r in rows if r["filed"] >= total // 2), rows[-1])
    end = next((r for r in rows if r["filed"] >= total), rows[-1])
    for what, key in (("sled dir", "raft"), ("RSS", "rss")):
        m = max(mid[f"{key}{i}_mib"] for i in (1, 2, 3))
        e = max(end[f"{key}{i}_mib"] for i in (1, 2, 3))
        print(f"{what} (largest node): {m:.1f} MiB at {mid['filed']:,} filed, {e:.1f} MiB at {end['filed']:,} filed "
              f"({(e - m) / max(1, end['filed'] - mid['filed']) * 1000 * 1024:.0f} KiB more per 1,000 messages in the second half)")
    return {"rows": rows, "elapsed": elapsed, "filed_by": filed_by}

# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="all", choices=["backlog", "failover", "kill", "claims", "soak", "all"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default="target/release/postroom")
    ap.add_argument("--example", default="target/release/examples/claim_bench")
    ap.add_argument("--files", type=int, default=10_000, help="backlog size")
    ap.add_argument("--kills", type=int, default=3, help="leader kills per failover run")
    ap.add_argument("--kill-files", type=int, default=3_000)
    ap.add_argument("--claim-secs", type=int, default=10)
    ap.add_argument("--soak-messages", type=int, default=200_000)
    ap.add_argument("--soak-rate", type=int, default=2_000)
    ap.add_argument("--soak-snapshot-every", type=int, default=0,
                    help="cluster.snapshot_every of the soak farm (0: leave it to the product's default)")
    ap.add_argument("--soak-tail", type=float, default=70, help="seconds to keep sampling after the soak is filed")
    ap.add_argument("--sample-every", type=float, default=5)
    ap.add_argument("--soak-table-every", type=int, default=20_000)
    ap.add_argument("--max-foreign", type=float, default=0.10,
                    help="redo a throughput phase when other processes used more of the CPUs than this")
    ap.add_argument("--dir", default=None, help="scratch dir on the disk to measure (default: bench/out)")
    ap.add_argument("--poll", default="2s", help="drop_folder.poll_interval (the product's default: 2s)")
    ap.add_argument("--stable", default="500ms", help="drop_folder.stable_after (the product's default: 500ms)")
    a = ap.parse_args()
    POLL[:] = [a.poll, a.stable]
    a.bin = os.path.abspath(a.bin)
    a.example = os.path.abspath(a.example)
    base = os.path.abspath(a.dir or os.path.join(HERE, "out"))
    os.makedirs(base, exist_ok=True)
    modes = ["backlog", "failover", "kill", "claims", "soak"] if a.mode == "all" else [a.mode]
    for m in modes:
        {"backlog": mode_backlog, "failover": mode_failover, "kill": mode_kill,
         "claims": mode_claims, "soak": mode_soak}[m](a, base)

if __name__ == "__main__":
    main()

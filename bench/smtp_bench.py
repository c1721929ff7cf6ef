#!/usr/bin/env python3
"""Benchmark: SMTP intake. In one run, Postfix's `smtp-source` sends N messages
(default 20,000 of 5 KB over 10 sessions) to

  (c) sink     `smtp-sink`, which throws them away: the protocol's limit here;
  (b) postfix  a private loopback Postfix delivering into a Maildir (virtual(8),
               fsync per delivery): the durable reference;
  (a) postroom a one-node postroom farm, counted until every message is filed;

then, for postroom, a paced run at a fixed rate (default: half of the rate just
measured) for the end-of-DATA -> filed latency, and one 25 MB message for peak
RSS. Prints a markdown table for bench/RESULTS.md.

    cargo build --release -p postroom
    sudo python3 bench/smtp_bench.py --mode all            # the recorded run
    python3 bench/smtp_bench.py --mode sink --messages 2000
    python3 bench/smtp_bench.py --mode postfix --messages 2000
    python3 bench/smtp_bench.py --mode postroom [--rate 800] [--big]
    python3 bench/smtp_bench.py --mode postroom --messages 0 --rate 1000   # latency only
    python3 bench/smtp_bench.py --mode postroom --messages 0 --no-paced --big  # 25 MB only

Needs root (Postfix's master, smtp-sink's -u), the Debian packages `postfix`
(smtp-source, smtp-sink) and, for (a), a postroom binary with the [smtp] listener.

How things are measured:
- rates: from the wall-clock moment smtp-source starts to the last message
  done: (c) smtp-source exits; (b) the newest mtime among the Maildir's new/
  files once all N are there; (a) the latest `filed_at` among the N item
  records (`<library>/.postroom/items/<key>.json`, state `done`). Also
  reported: the acceptance rate (N / smtp-source's run time). Node start-up is
  not included (the node is ready and listening before the clock starts).
- latency under full load (a): per message, `filed_at` minus the timestamp of
  the node's first JSON log line carrying that `message_key` at top level (the
  SMTP transaction line; narrow with --txn-filter TEXT). Also `received` ->
  `filed_at` from the record itself.
- latency at a fixed rate: a paced sender (smtplib, --sessions threads, one
  connection each, message i due at t0 + i/R) records when the final ".\r\n"
  went out (end of DATA) and when the 250 came back; latency = `filed_at` of the
  record with that Message-ID minus the end-of-DATA time. Same machine, same
  clock.
- every phase starts after os.sync(): without it, a phase's syncfs barriers
  also write back what the previous phase left dirty; and the run dirs are
  deleted only at the end, since mass deletes (with the VM's ext4 online
  discard) slow later fsyncs.
- peak RSS: the node's VmHWM from /proc/<pid>/status, read before it stops;
  every phase runs a fresh node, so the 25 MB figure is that message's peak.

Unique messages: postroom keys a message by envelope + bytes and files a key
once. smtp-source's Message-Id is <pid.fd.counter@host>, unique within one run
(checked with -d: 2,000/2,000 unique), and every phase uses a fresh data dir.
"""
import argparse, base64, os, platform, shutil, smtplib, statistics, subprocess
import sys, tempfile, threading, time
from email.utils import formatdate

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing common
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Node, Postfix, count_records, free_port, items_dir, json_log,  # noqa: E402
                    listeners_on, mib, nobody, parse_time, percentile, records,
                    traversable_by_others, wait_port)

DOMAIN = "farm.test"
ALIAS = "documents"
RCPT = f"{ALIAS}@{DOMAIN}"
SENDER = "bench@client.test"
BIG = 25 * 2**20

# ---------------------------------------------------------------- senders

class Source:
    """smtp-source against 127.0.0.1:port, started now (one connection per
    session unless --reconnect); `t0` is its wall-clock start and `end` is
    stamped the moment it exits."""

    def __init__(self, port: int, a, what: str):
        cmd = ["smtp-source", "-s", str(a.sessions), "-m", str(a.messages),
               "-l", str(a.size), "-f", SENDER, "-t", RCPT, "-M", "client.test"]
        if not a.reconnect:
            cmd.insert(1, "-d")
        cmd.append(f"127.0.0.1:{port}")
        self.what = what
        self.end: float | None = None
        self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.waiter = threading.Thread(target=self._wait)
        self.waiter.start()

    def _wait(self):
        self.out, self.err = self.proc.communicate()
        self.end = time.time()

    def running(self) -> bool:
        return self.end is None

    def finish(self) -> float:
        """Wait for it to exit; its run time in seconds. Exits on failure."""
        self.waiter.join()
        if self.proc.returncode != 0:
            raise SystemExit(f"smtp-source against {self.what} failed ({self.proc.returncode}): "
                             f"{self.out}{self.err}")
        return self.end - self.t0

class TimedSMTP(smtplib.SMTP):
    """smtplib that notes when the end-of-DATA dot line went out."""
    t_dot = 0.0

    def send(self, s):
        super().send(s)
        if isinstance(s, (bytes, bytearray)) and s.endswith(b"\r\n.\r\n"):
            self.t_dot = time.time()

def message(mid: str, subject: str, size: int) -> bytes:
    """Headers like smtp-source's plus Subject, and `size` bytes of X lines."""
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nDate: {formatdate()}\r\n"
            f"Message-ID: <{mid}>\r\nSubject: {subject}\r\n\r\n").encode()
    line = b"X" * 78 + b"\r\n"
    body = line * (size // len(line))
    rest = size - len(body)
    if rest > 2:
        body += b"X" * (rest - 2) + b"\r\n"
    return head + body

def big_message(mid: str, size: int, parts: int = 1) -> bytes:
    """A multipart message of about `size` bytes: a short text part and
    `parts` base64 attachments of random bytes."""
    raw = int((size - 1024 * parts) * 3 / 4 * 76 / 78) // parts
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nDate: {formatdate()}\r\n"
            f"Message-ID: <{mid}>\r\nSubject: 25 MB attachment\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\nPlease file the attached archive.\r\n").encode()
    body = [head]
    for i in range(parts):
        name = "big.bin" if parts == 1 else f"part-{i + 1:02}.bin"
        body.append((f"--b\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
                     f"Content-Transfer-Encoding: base64\r\n\r\n").encode())
        body.append(base64.encodebytes(os.urandom(raw)).replace(b"\n", b"\r\n"))
    body.append(b"--b--\r\n")
    return b"".join(body)

def paced_send(port: int, msgs: list[tuple[str, bytes]], rate: float, sessions: int) -> list[dict]:
    """Send `msgs` over `sessions` connections, message i due at t0 + i/rate.
    Per message: mid, due, start, dot (end of DATA sent), ok (reply read), code."""
    n = len(msgs)
    results: list[dict | None] = [None] * n
    lock = threading.Lock()
    nxt = [0]
    t0 = time.time() + 0.5

    def worker():
        s = None
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            due = t0 + i / rate
            d = due - time.time()
            if d > 0:
                time.sleep(d)
            mid, data = msgs[i]
            start = time.time()
            try:
                if s is None:
                    s = TimedSMTP("127.0.0.1", port, local_hostname="client.test", timeout=120)
                    s.ehlo()
                code, resp = s.mail(SENDER)
                if code == 250:
                    code, resp = s.rcpt(RCPT)
                if code == 250:
                    code, resp = s.data(data)
                else:
                    s.rset()
                results[i] = dict(mid=mid, due=due, start=start, dot=s.t_dot, ok=time.time(),
                                  code=code, resp=resp.decode(errors="replace"))
            except (OSError, smtplib.SMTPException) as e:
                results[i] = dict(mid=mid, due=due, start=start, dot=0.0, ok=time.time(),
                                  code=0, resp=str(e))
                s = None
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]

# ---------------------------------------------------------------- (c) sink

def run_sink(a, root: str) -> dict:
    for _ in range(5):
        port = free_port()
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-m", "256", f"127.0.0.1:{port}", "256"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(port, 10, lambda: sink.poll() is None)
        except RuntimeError:
            sink.kill()
            continue
        if listeners_on(port) == 1:
            break
        sink.kill()
    else:
        raise SystemExit("could not start smtp-sink")
    try:
        secs = Source(port, a, "smtp-sink").finish()
    finally:
        sink.terminate()
        sink.wait()
    return dict(rate=a.messages / secs, secs=secs)

# ---------------------------------------------------------------- (b) Postfix

def run_postfix(a, root: str) -> dict:
    os.makedirs(root)
    os.chmod(root, 0o755)
    blocked = traversable_by_others(root)
    if blocked:
        raise SystemExit(f"{blocked} is not o+x: virtual(8) delivers as 'nobody' and cannot reach "
                         f"{root}; pick --dir elsewhere")
    uid, gid = nobody()
    mail = os.path.join(root, "mail")
    os.makedirs(mail)
    os.chown(mail, uid, gid)
    pf = Postfix(os.path.join(root, "postfix"), {
        "virtual_mailbox_domains": DOMAIN,
        "virtual_mailbox_base": mail,
        # A trailing slash: Maildir. One mailbox for the whole run.
        "virtual_mailbox_maps": f"inline:{{ {RCPT}={DOMAIN}/{ALIAS}/ }}",
        "virtual_uid_maps": f"static:{uid}",
        "virtual_gid_maps": f"static:{gid}",
        "virtual_minimum_uid": str(min(uid, 100)),
        "virtual_mailbox_limit": "0",
    })
    new = os.path.join(mail, DOMAIN, ALIAS, "new")
    try:
        src = Source(pf.port, a, "Postfix")
        t0 = src.t0
        last_n, last_change = -1, time.monotonic()
        while True:
            if not src.running():
                src.finish()  # exits if smtp-source failed
            try:
                with os.scandir(new) as it:
                    n = sum(1 for _ in it)
            except FileNotFoundError:
                n = 0
            if n >= a.messages:
                break
            if n != last_n:
                last_n, last_change = n, time.monotonic()
            elif not src.running() and time.monotonic() - last_change > a.stall:
                raise SystemExit(f"Postfix: {n}/{a.messages} delivered, no progress for {a.stall}s; "
                                 f"see {pf.root}/maillog")
            time.sleep(0.2)
        accepted = src.finish()
        with os.scandir(new) as it:
            last = max(e.stat().st_mtime for e in it)
        log = pf.maillog()
        return dict(rate=a.messages / (last - t0), secs=last - t0, accept_rate=a.messages / accepted,
                    deferred=log.count("status=deferred"), bounced=log.count("status=bounced"))
    finally:
        pf.stop()

# ---------------------------------------------------------------- (a) postroom

def postroom_config(root: str, port: int, a) -> str:
    return f"""data_dir = "{root}/data"
[cluster]
listen = "127.0.0.1:0"
[log]
level = "{a.log_level}"
format = "json"
[farm]
incoming_domains = ["{DOMAIN}"]
[smtp]
listen = "127.0.0.1:{port}"
hostname = "postroom.test"
[[library]]
name = "Documents"
alias = "{ALIAS}"
""" + (a.extra_toml or "")

def start_node(a, root: str) -> tuple[Node, int, str]:
    port = free_port()
    node = Node(a.bin, root, postroom_config(root, port, a))
    node.wait_smtp(port)
    return node, port, items_dir(os.path.join(root, "data"), ALIAS)

def quarantined(root: str) -> int:
    q = os.path.join(root, "data", "quarantine")
    return len([n for n in os.listdir(q) if not n.startswith(".")]) if os.path.isdir(q) else 0

def wait_filed(node: Node, items: str, want: int, a, busy=lambda: False,
               failed=lambda: False) -> list[dict]:
    """Poll until `want` records exist and are all done; returns them."""
    last_n, last_change = -1, time.monotonic()
    while True:
        if not node.alive():
            raise SystemExit(f"postroom exited; see {node.log}:\n{node.log_tail()}")
        if failed():
            return []
        n = count_records(items)
        if n >= want:
            recs = records(items)
            if sum(1 for r in recs if r.get("state") == "done" and r.get("filed_at")) >= want:
                return recs
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        elif not busy() and time.monotonic() - last_change > a.stall:
            raise SystemExit(
                f"postroom: {n}/{want} item records, no progress for {a.stall}s "
                f"({quarantined(node.root)} quarantined; a duplicate message key is filed once). "
                f"Log tail {node.log}:\n{node.log_tail()}")
        time.sleep(0.25)

def txn_times(log: str, filt: str | None) -> dict[str, float]:
    """message_key (first 16 hex digits) -> earliest timestamp of a JSON log
    line carrying it at top level."""
    first: dict[str, float] = {}
    for raw, obj in json_log(log):
        if filt and filt.encode() not in raw:
            continue
        key = obj.get("message_key") or (obj.get("fields") or {}).get("message_key")
        ts = obj.get("timestamp")
        if not key or not ts:
            continue
        k, t = str(key)[:16], parse_time(ts)
        if k not in first or t < first[k]:
            first[k] = t
    return first

def ms_stats(values: list[float]) -> dict:
    if not values:
        return dict(n=0)
    v = [x * 1000 for x in values]
    return dict(n=len(v), p50=percentile(v, 50), p99=percentile(v, 99), max=max(v))

def run_postroom(a, root: str) -> dict:
    node, port, items = start_node(a, root)
    try:
        rss_idle = node.rss()
        src = Source(port, a, "postroom")
        t0 = src.t0
        recs = wait_filed(node, items, a.messages, a, busy=src.running, failed=lambda: (
            not src.running() and src.proc.returncode != 0))
        accepted = src.finish()
        hwm = node.hwm()
    finally:
        node.stop()
    filed = {r["message_key"][:16]: parse_time(r["filed_at"]) for r in recs}
    last = max(filed.values())
    txn = txn_times(node.log, a.txn_filter)
    lat = [filed[k] - txn[k] for k in filed if k in txn]
    recv = [parse_time(r["filed_at"]) - parse_time(r["received"]) for r in recs if r.get("received")]
    return dict(rate=a.messages / (last - t0), secs=last - t0, accept_rate=a.messages / accepted,
                hwm=hwm, rss_idle=rss_idle, lat=ms_stats(lat), recv_lat=ms_stats(recv),
                records=len(recs), quarantined=quarantined(root))

def run_paced(a, root: str, rate: float) -> dict:
    n = a.paced_messages or max(1000, int(rate * 10))
    tag = os.urandom(4).hex()
    msgs = [(f"paced-{tag}-{i}@client.test", message(f"paced-{tag}-{i}@client.test", f"paced {i}", a.size))
            for i in range(n)]
    node, port, items = start_node(a, root)
    try:
        sent: list[dict] = []
        sender = threading.Thread(target=lambda: sent.extend(paced_send(port, msgs, rate, a.sessions)))
        sender.start()
        while sender.is_alive():
            if not node.alive():
                raise SystemExit(f"postroom exited; see {node.log}:\n{node.log_tail()}")
            time.sleep(0.2)
        ok = [s for s in sent if s["code"] == 250]
        if len(ok) != n:
            bad = [s for s in sent if s["code"] != 250][:5]
            raise SystemExit(f"paced run: {n - len(ok)} of {n} messages not accepted, e.g. {bad}")
        recs = wait_filed(node, items, n, a)
        hwm = node.hwm()
    finally:
        node.stop()
    filed = {r.get("message_id"): parse_time(r["filed_at"]) for r in recs}
    missing = [s["mid"] for s in ok if s["mid"] not in filed]
    if missing:
        raise SystemExit(f"paced run: {len(missing)} sent messages have no record by Message-ID, "
                         f"e.g. {missing[:3]}")
    lat = [filed[s["mid"]] - s["dot"] for s in ok]
    reply = [s["ok"] - s["dot"] for s in ok]
    lag = max(s["start"] - s["due"] for s in ok)
    span = max(s["ok"] for s in ok) - min(s["due"] for s in ok)
    return dict(rate=rate, achieved=n / span, n=n, lat=ms_stats(lat), reply=ms_stats(reply),
                lag_ms=lag * 1000, hwm=hwm)

def run_big(a, root: str) -> dict:
    mid = f"big-{os.urandom(4).hex()}@client.test"
    data = big_message(mid, BIG, a.big_parts)
    node, port, items = start_node(a, root)
    peak_sampled = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak_sampled[0] = max(peak_sampled[0], node.rss())
            time.sleep(0.005)

    try:
        rss_idle, hwm_idle = node.rss(), node.hwm()
        sampler = threading.Thread(target=sample)
        sampler.start()
        s = TimedSMTP("127.0.0.1", port, local_hostname="client.test", timeout=300)
        s.ehlo()
        t_start = time.time()
        s.mail(SENDER, [f"SIZE={len(data)}"] if s.has_extn("size") else [])
        s.rcpt(RCPT)
        code, resp = s.data(data)
        t_ok = time.time()
        s.quit()
        if code != 250:
            raise SystemExit(f"25 MB message refused: {code} {resp!r}")
        recs = wait_filed(node, items, 1, a)
        hwm = node.hwm()
        stop.set()
        sampler.join()
    finally:
        stop.set()
        node.stop()
    filed = parse_time(recs[0]["filed_at"])
    return dict(size=len(data), hwm=hwm, hwm_idle=hwm_idle, rss_idle=rss_idle, rss_sampled=peak_sampled[0],
                send_s=s.t_dot - t_start, reply_ms=(t_ok - s.t_dot) * 1000, filed_ms=(filed - s.t_dot) * 1000)

# ---------------------------------------------------------------- report

def fmt_lat(l: dict) -> str:
    if not l.get("n"):
        return "n/a"
    return f"p50 {l['p50']:.1f} ms / p99 {l['p99']:.1f} ms (max {l['max']:.0f} ms, n={l['n']})"

def med(runs: list[dict], key: str, sub: str | None = None) -> float:
    vals = [(r[key][sub] if sub else r[key]) for r in runs if r and (r[key].get(sub) if sub else key in r)]
    return statistics.median(vals) if vals else float("nan")

def report(a, res: dict[str, list[dict]]):
    pv = subprocess.run(["postconf", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()
    print(f"\n{a.messages} messages of {a.size} B body over {a.sessions} sessions (smtp-source"
          f"{'' if a.reconnect else ' -d'}), {a.runs} run(s), medians; {os.cpu_count()} CPUs, "
          f"kernel {platform.release()}, Postfix {pv}, {time.strftime('%Y-%m-%d')}\n")
    print("| measurement | result |")
    print("|---|---|")
    sink, pfx, pr = res.get("sink"), res.get("postfix"), res.get("postroom")
    if sink:
        print(f"| (c) smtp-sink, the protocol's limit | {med(sink, 'rate'):.0f} msg/s ({med(sink, 'secs'):.2f} s) |")
    if pfx:
        extra = ""
        if any(r["deferred"] or r["bounced"] for r in pfx):
            extra = f"; deferred {pfx[-1]['deferred']}, bounced {pfx[-1]['bounced']}"
        print(f"| (b) Postfix → Maildir, delivered (durable reference) | {med(pfx, 'rate'):.0f} msg/s "
              f"({med(pfx, 'secs'):.2f} s; accepted at {med(pfx, 'accept_rate'):.0f} msg/s{extra}) |")
    if pr:
        print(f"| (a) postroom, 1 node, filed | {med(pr, 'rate'):.0f} msg/s ({med(pr, 'secs'):.2f} s; "
              f"accepted at {med(pr, 'accept_rate'):.0f} msg/s) |")
        if pfx:
            per_run = [r["rate"] / p["rate"] for r, p in zip(pr, pfx)]
            ratio = statistics.median(per_run)
            runs = ", ".join(f"{x:.2f}x" for x in per_run)
            print(f"| postroom / Postfix (median of per-run ratios: {runs}) | **{ratio:.2f}x** "
                  f"(target ≥ 2x: {'met' if ratio >= 2 else 'NOT met'}) |")
        if sink:
            print(f"| postroom / smtp-sink | {statistics.median(r['rate'] / s['rate'] for r, s in zip(pr, sink)):.2f}x |")
        if pfx and sink:
            print(f"| Postfix / smtp-sink | {statistics.median(p['rate'] / s['rate'] for p, s in zip(pfx, sink)):.2f}x |")
        print(f"| postroom end of DATA → filed, at full load (log line → `filed_at`) | {fmt_lat(pr[-1]['lat'])} |")
        print(f"| postroom `received` → `filed_at`, at full load | {fmt_lat(pr[-1]['recv_lat'])} |")
        print(f"| postroom peak RSS, {a.messages}-message run | {mib(med(pr, 'hwm'))} "
              f"(idle before the run: {mib(med(pr, 'rss_idle'))}) |")
    for p in res.get("paced", []):
        p99 = p["lat"].get("p99", float("inf"))
        print(f"| postroom end of DATA → filed at {p['rate']:.0f} msg/s (paced, {p['n']} messages, "
              f"achieved {p['achieved']:.0f} msg/s, max sender lag {p['lag_ms']:.0f} ms) | "
              f"**{fmt_lat(p['lat'])}** (target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}) |")
        print(f"| postroom end of DATA → 250 reply at {p['rate']:.0f} msg/s | {fmt_lat(p['reply'])} |")
    for b in res.get("big", []):
        ratio = b["hwm"] / b["size"]
        print(f"| one {b['size'] / 2**20:.1f} MiB message: postroom peak RSS | **{mib(b['hwm'])} = {ratio:.2f}x "
              f"the message** (target well under 3x: {'met' if ratio < 3 else 'NOT met'}); "
              f"idle before: {mib(b['rss_idle'])}, growth {(b['hwm'] - b['rss_idle']) / b['size']:.2f}x |")
        print(f"| one {b['size'] / 2**20:.1f} MiB message: sent in / 250 after end of DATA / filed after end of DATA | "
              f"{b['send_s']:.2f} s / {b['reply_ms']:.0f} ms / {b['filed_ms']:.0f} ms |")

# ---------------------------------------------------------------- main

def settle() -> None:
    """Start every phase from a clean disk: write back what earlier phases
    (and their clean-up) left dirty, so no phase pays for another's I/O
    (postroom's syncfs barriers would otherwise flush it)."""
    os.sync()
    time.sleep(1)

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["all", "postroom", "postfix", "sink"], default="all")
    ap.add_argument("--bin", default="target/release/postroom")
    ap.add_argument("--messages", type=int, default=20_000, help="messages per smtp-source run (0: skip it)")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=5120, help="body bytes per message (smtp-source -l)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--rate", type=float, default=None,
                    help="paced run at R msg/s (default: half of postroom's measured rate)")
    ap.add_argument("--paced-messages", type=int, default=None, help="default: 10 s worth, at least 1,000")
    ap.add_argument("--no-paced", action="store_true", help="skip the paced latency run")
    ap.add_argument("--big", action="store_true", help="also the 25 MB message (implied by --mode all)")
    ap.add_argument("--big-parts", type=int, default=1, help="attachments in the 25 MB message (issue 6: 20)")
    ap.add_argument("--reconnect", action="store_true", help="smtp-source without -d: one connection per message")
    ap.add_argument("--log-level", default="info", help="postroom log.level (transaction lines are needed)")
    ap.add_argument("--txn-filter", default=None, help="only log lines containing this text mark end of DATA")
    ap.add_argument("--extra-toml", default=None, help="appended to the generated postroom config")
    ap.add_argument("--stall", type=float, default=60, help="give up after this long without progress")
    ap.add_argument("--dir", default=None, help="scratch dir on the disk to measure (default: bench/out)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (Postfix's master, smtp-sink -u)")
    modes = ["sink", "postfix", "postroom"] if a.mode == "all" else [a.mode]
    big = a.big or a.mode == "all"
    if "postroom" in modes and not os.access(a.bin, os.X_OK):
        sys.exit(f"no postroom binary at {a.bin}; cargo build --release -p postroom")
    base = a.dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(base, exist_ok=True)
    root = tempfile.mkdtemp(prefix="smtp-", dir=base)
    os.chmod(root, 0o755)
    res: dict[str, list[dict]] = {}
    keep = a.keep
    try:
        for r in range(a.runs):
            run = os.path.join(root, f"run{r}")
            os.makedirs(run)
            os.chmod(run, 0o755)
            if a.messages > 0:
                for m in modes:
                    settle()
                    out = {"sink": run_sink, "postfix": run_postfix, "postroom": run_postroom}[m](
                        a, os.path.join(run, m))
                    res.setdefault(m, []).append(out)
                    print(f"run {r + 1} {m}: " + ", ".join(
                        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in out.items()),
                        flush=True)
            if "postroom" in modes and not a.no_paced:
                rate = a.rate or (res["postroom"][-1]["rate"] / 2 if res.get("postroom") else None)
                if rate is None:
                    sys.exit("--rate is needed for a paced run without a bulk run (--messages 0)")
                settle()
                out = run_paced(a, os.path.join(run, "paced"), rate)
                res.setdefault("paced", []).append(out)
                print(f"run {r + 1} paced: {out}", flush=True)
            if big and "postroom" in modes:
                settle()
                out = run_big(a, os.path.join(run, "big"))
                res.setdefault("big", []).append(out)
                print(f"run {r + 1} big: {out}", flush=True)
            # Run dirs are removed only at the end: deleting ~100,000 files
            # between runs (ext4 online discard on this VM) slows the next
            # run's fsyncs for tens of seconds.
    except BaseException:
        keep = True
        print(f"(scratch dir kept: {root})", file=sys.stderr)
        raise
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    report(a, res)

if __name__ == "__main__":
    main()

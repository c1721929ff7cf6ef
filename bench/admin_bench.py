#!/usr/bin/env python3
"""Benchmark: the admin API's Submit next to SMTP. In each run, N messages
(default 5,000 of 5 KB, 10 at a time) go to a fresh one-node postroom farm
twice, from the same machine:

  smtp    Postfix's `smtp-source` over 10 SMTP sessions (the reference);
  submit  `submit_bench` (crates/postroom-api/examples) over 10 concurrent
          client-streaming `MessageAdmin/Submit` calls of one gRPC channel.

Both paths commit through the same spool (durable before the answer) and
then the same pipeline; each phase is counted from the moment its sender
starts to (1) the sender's exit (every message answered: accepted/s) and
(2) the last `filed_at` among the N item records (filed/s). Submit's
per-call latency (p50 / p99) comes from submit_bench. The order of the two
phases alternates between runs; every phase starts after os.sync().

    cargo build --release -p postroom && cargo build --release -p postroom-api --example submit_bench
    sudo python3 bench/admin_bench.py --runs 3

Needs the Debian package `postfix` (smtp-source).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Node, count_records, free_port, items_dir, parse_time, records  # noqa: E402

DOMAIN = "farm.test"
ALIAS = "documents"
RCPT = f"{ALIAS}@{DOMAIN}"


def config(root: str, smtp: int, grpc: int) -> str:
    return f"""data_dir = "{root}/data"
[cluster]
listen = "127.0.0.1:{grpc}"
[http]
enabled = false
[log]
level = "warn"
[farm]
incoming_domains = ["{DOMAIN}"]
[smtp]
listen = "127.0.0.1:{smtp}"
hostname = "postroom.test"
[[library]]
name = "Documents"
alias = "{ALIAS}"
"""


def wait_filed(node: Node, items: str, want: int, stall: float = 60) -> float:
    """Poll until `want` done records exist; the latest filed_at."""
    last_n, last_change = -1, time.monotonic()
    while True:
        if not node.alive():
            sys.exit(f"postroom exited; see {node.log}:\n{node.log_tail()}")
        n = count_records(items)
        if n >= want:
            recs = [r for r in records(items) if r.get("state") == "done" and r.get("filed_at")]
            if len(recs) >= want:
                return max(parse_time(r["filed_at"]) for r in recs)
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall:
            sys.exit(f"{n}/{want} filed, no progress for {stall}s; see {node.log}")
        time.sleep(0.2)


def phase(a, root: str, kind: str) -> dict:
    smtp, grpc = free_port(), free_port()
    node = Node(a.bin, root, config(root, smtp, grpc))
    try:
        node.wait_smtp(smtp)
        items = items_dir(os.path.join(root, "data"), ALIAS)
        os.sync()
        time.sleep(0.5)
        t0 = time.time()
        if kind == "smtp":
            cmd = ["smtp-source", "-d", "-s", str(a.concurrency), "-m", str(a.messages), "-l", str(a.size),
                   "-f", "bench@client.test", "-t", RCPT, "-M", "client.test", f"127.0.0.1:{smtp}"]
        else:
            cmd = [a.submit_bench, "--server", f"127.0.0.1:{grpc}", "--to", RCPT, "--count", str(a.messages),
                   "--concurrency", str(a.concurrency), "--size", str(a.size)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        answered = time.time() - t0
        if out.returncode != 0:
            sys.exit(f"{kind} sender failed: {out.stdout}{out.stderr}")
        last = wait_filed(node, items, a.messages)
        res = dict(accepted_per_s=a.messages / answered, filed_per_s=a.messages / (last - t0))
        if kind == "submit":
            stats = json.loads(out.stdout.strip().splitlines()[-1])
            res.update(p50_ms=stats["p50_ms"], p99_ms=stats["p99_ms"])
        return res
    finally:
        node.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/postroom")
    ap.add_argument("--submit-bench", default="target/release/examples/submit_bench")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--size", type=int, default=5120)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch dir (default: bench/out)")
    a = ap.parse_args()
    for path in (a.bin, a.submit_bench):
        if not os.access(path, os.X_OK):
            sys.exit(f"no executable {path}; see the build commands in this script's docstring")
    base = a.dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(base, exist_ok=True)
    root = tempfile.mkdtemp(prefix="admin-", dir=base)
    res: dict[str, list[dict]] = {"smtp": [], "submit": []}
    try:
        for r in range(a.runs):
            order = ["smtp", "submit"] if r % 2 == 0 else ["submit", "smtp"]
            for kind in order:
                out = phase(a, os.path.join(root, f"run{r}-{kind}"), kind)
                res[kind].append(out)
                print(f"run {r + 1} {kind}: " + ", ".join(f"{k} {v:.1f}" for k, v in out.items()), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = lambda kind, key: statistics.median(x[key] for x in res[kind])
    ratios = [s["filed_per_s"] / m["filed_per_s"] for s, m in zip(res["submit"], res["smtp"])]
    print(f"\n{a.messages} messages of {a.size} B, {a.concurrency} at a time, {a.runs} runs (medians)\n")
    print("| path | accepted/s | filed/s | per-call p50 / p99 |")
    print("|---|---|---|---|")
    print(f"| SMTP (smtp-source) | {med('smtp', 'accepted_per_s'):,.0f} | {med('smtp', 'filed_per_s'):,.0f} | - |")
    print(f"| gRPC Submit | {med('submit', 'accepted_per_s'):,.0f} | {med('submit', 'filed_per_s'):,.0f} | "
          f"{med('submit', 'p50_ms'):.1f} / {med('submit', 'p99_ms'):.1f} ms |")
    print(f"\nSubmit / SMTP filed/s per run: {', '.join(f'{x:.2f}' for x in ratios)} "
          f"(median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: drain a backlog of 10,000 drop files of ~5 KB with one node.

Beside it, in the same run, the machine's raw limit: copying the same files
with an fsync per file (no parsing), and copying them with one sync at the end.
Reports files/s (median of --runs), the ratio to the raw limits, and the node's
peak RSS (VmHWM). Usage:

    cargo build --release -p postroom
    python3 bench/drop_backlog.py --bin target/release/postroom [--files 10000] [--runs 3]
"""
import argparse, base64, os, shutil, statistics, subprocess, sys, tempfile, time

def message(i: int) -> bytes:
    attachment = base64.encodebytes(os.urandom(3400)).replace(b"\n", b"\r\n")
    return (
        f"x-sender: bench@contoso.com\r\n"
        f"x-receiver: shared-documents@sharepoint.contoso.local\r\n"
        f"From: Bench <bench@contoso.com>\r\nTo: shared-documents@sharepoint.contoso.local\r\n"
        f"Subject: backlog {i}\r\nMessage-ID: <bench-{i}@contoso.com>\r\n"
        f"Date: Tue, 3 Mar 2026 10:15:00 +0100\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        f"Please file report {i}.\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Disposition: attachment; filename=\"report-{i}.bin\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + attachment + b"--b--\r\n"

def make_backlog(root: str, n: int) -> str:
    src = os.path.join(root, "backlog")
    os.makedirs(src)
    for i in range(n):
        with open(os.path.join(src, f"m{i:05}.eml"), "wb") as f:
            f.write(message(i))
    return src

def raw_copy(src: str, dst: str, per_file_fsync: bool) -> float:
    os.makedirs(dst)
    names = sorted(os.listdir(src))
    start = time.monotonic()
    for name in names:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        fd = os.open(os.path.join(dst, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        if per_file_fsync:
            os.fsync(fd)
        os.close(fd)
    if not per_file_fsync:
        os.sync()
    else:
        dfd = os.open(dst, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    return len(names) / (time.monotonic() - start)

CONFIG = """data_dir = "{root}/data"
[cluster]
listen = "127.0.0.1:0"
[log]
level = "warn"
[farm]
incoming_domains = ["sharepoint.contoso.local"]
[drop_folder]
path = "{root}/drop"
[[library]]
name = "Shared Documents"
alias = "shared-documents"
"""

def postroom_run(binary: str, src: str, root: str, n: int) -> tuple[float, float, int]:
    os.makedirs(os.path.join(root, "drop"))
    for name in os.listdir(src):
        shutil.copyfile(os.path.join(src, name), os.path.join(root, "drop", name))
    os.sync()
    conf = os.path.join(root, "postroom.toml")
    with open(conf, "w") as f:
        f.write(CONFIG.format(root=root))
    items = os.path.join(root, "data/libraries/shared-documents/.postroom/items")
    log = open(os.path.join(root, "node.log"), "wb")
    start = time.monotonic()
    proc = subprocess.Popen([binary, "serve", "--config", conf], stderr=log, stdout=subprocess.DEVNULL)
    peak = 0
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"postroom exited early; see {root}/node.log")
            with open(f"/proc/{proc.pid}/status") as st:
                for line in st:
                    if line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) * 1024
            left = len(os.listdir(os.path.join(root, "drop")))
            filed = len(os.listdir(items)) if os.path.isdir(items) else 0
            if left == 0 and filed >= n:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    if filed != n:
        sys.exit(f"expected {n} items, found {filed}")
    return n / elapsed, elapsed, peak

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/postroom")
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch dir on the disk to measure (default: bench/out)")
    a = ap.parse_args()
    base = a.dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(base, exist_ok=True)
    results = {"fsync": [], "sync": [], "postroom": [], "rss": [], "secs": []}
    with tempfile.TemporaryDirectory(dir=base) as root:
        src = make_backlog(root, a.files)
        size = sum(os.path.getsize(os.path.join(src, f)) for f in os.listdir(src)) / a.files
        for r in range(a.runs):
            run = os.path.join(root, f"run{r}")
            os.makedirs(run)
            results["fsync"].append(raw_copy(src, os.path.join(run, "raw-fsync"), True))
            results["sync"].append(raw_copy(src, os.path.join(run, "raw-sync"), False))
            rate, secs, rss = postroom_run(a.bin, src, os.path.join(run, "node"), a.files)
            results["postroom"].append(rate)
            results["secs"].append(secs)
            results["rss"].append(rss)
            print(f"run {r+1}: raw fsync-per-file {results['fsync'][-1]:.0f}/s, raw one-sync {results['sync'][-1]:.0f}/s, "
                  f"postroom {rate:.0f}/s ({secs:.2f} s), peak RSS {rss/2**20:.1f} MiB", flush=True)
            shutil.rmtree(run)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{a.files} files of {size/1024:.1f} KB, {a.runs} runs, medians:")
    print(f"| raw copy + fsync per file | {med['fsync']:.0f} files/s |")
    print(f"| raw copy + one sync | {med['sync']:.0f} files/s |")
    print(f"| postroom, 1 node | {med['postroom']:.0f} files/s ({med['secs']:.2f} s incl. start-up) |")
    print(f"| postroom / raw fsync-per-file | {med['postroom']/med['fsync']:.2f}x |")
    print(f"| postroom / raw one-sync | {med['postroom']/med['sync']:.2f}x |")
    print(f"| postroom peak RSS | {med['rss']/2**20:.1f} MiB |")

if __name__ == "__main__":
    main()

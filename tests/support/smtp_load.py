#!/usr/bin/env python3
"""SMTP traffic for the multi-node tests, sent with Python's smtplib.

Sends messages s-<id> (each with one attachment s-<id>.txt; the bytes of a
message depend only on its id) to a farm's nodes, spread over the targets; a message that fails on one node (refused
connection, reset, 4xx, no 250 before the node died) is sent again, byte for
byte, to the next node until one answers 250 — what an upstream MTA does
after a lost 250. Prints one JSON object: {"accepted": [...], "gave_up": [...],
"resent": n}.
"""

import argparse
import json
import smtplib
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate


def build(ident, domain, alias):
    msg = EmailMessage()
    msg["From"] = "load@example.com"
    msg["To"] = f"{alias}@{domain}"
    msg["Subject"] = f"load message {ident}"
    msg["Message-ID"] = f"<{ident}@load.test>"
    msg["Date"] = formatdate(0)
    msg.set_content(f"body of {ident}\n")
    msg.add_attachment(f"attachment of {ident}\n".encode(), maintype="text",
                       subtype="plain", filename=f"{ident}.txt")
    # A fixed boundary: the same id gives the same bytes in every run, as an
    # upstream re-sending a queued message does.
    msg.set_boundary(f"==boundary-{ident}==")
    return msg.as_bytes()


def send_one(targets, start, raw, rcpt, give_up_after, stats):
    deadline = time.monotonic() + give_up_after
    attempt = 0
    while time.monotonic() < deadline:
        host, port = targets[(start + attempt) % len(targets)]
        attempt += 1
        try:
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                smtp.sendmail("load@example.com", [rcpt], raw)
            if attempt > 1:
                with stats["lock"]:
                    stats["resent"] += 1
            return True
        except (OSError, smtplib.SMTPException):
            time.sleep(0.2)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", required=True, help="host:port,host:port,...")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--alias", required=True)
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between messages per thread")
    ap.add_argument("--give-up-after", type=float, default=90.0)
    args = ap.parse_args()
    targets = []
    for t in args.targets.split(","):
        host, port = t.rsplit(":", 1)
        targets.append((host, int(port)))
    rcpt = f"{args.alias}@{args.domain}"
    ids = [f"s-{i}" for i in range(args.first, args.first + args.count)]
    accepted, gave_up = [], []
    stats = {"lock": threading.Lock(), "resent": 0}

    def worker(k):
        for n, ident in enumerate(ids[k::args.threads]):
            raw = build(ident, args.domain, args.alias)
            ok = send_one(targets, k + n, raw, rcpt, args.give_up_after, stats)
            with stats["lock"]:
                (accepted if ok else gave_up).append(ident)
            if args.pause:
                time.sleep(args.pause)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump({"accepted": sorted(accepted), "gave_up": sorted(gave_up),
               "resent": stats["resent"]}, sys.stdout)


if __name__ == "__main__":
    main()

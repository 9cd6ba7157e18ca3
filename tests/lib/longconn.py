#!/usr/bin/env python3
"""Keep ONE TCP connection to HOST:PORT and send an HTTP/1.1 GET every
--interval seconds, printing one line per answer: "<seq> <time> <answer>".

The test steers it with files in --ctl DIR:
  started  created by us after the first answer;
  idle     while it exists, send nothing (the connection sits idle);
  stop     send one last request, close, exit 0.
Any error (reset, timeout, bad answer) prints "error: ..." and exits 1, so a
connection moved to another real (which answers with RST) fails loudly.
--max-time bounds the whole run."""
import argparse
import http.client
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--max-time", type=float, default=120.0)
    a = ap.parse_args()
    ctl = lambda name: os.path.join(a.ctl, name)
    conn = http.client.HTTPConnection(a.host, a.port, timeout=5)
    t0 = time.time()
    seq = 0

    def ask():
        nonlocal seq
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read().decode().strip()
        if resp.status != 200 or not body:
            raise RuntimeError("bad answer %d %r" % (resp.status, body))
        print("%d %.1f %s" % (seq, time.time() - t0, body), flush=True)
        seq += 1

    ask()
    open(ctl("started"), "w").close()
    while time.time() - t0 < a.max_time:
        if os.path.exists(ctl("stop")):
            ask()
            conn.close()
            return 0
        if not os.path.exists(ctl("idle")):
            ask()
        time.sleep(a.interval)
    print("error: ran out of time (no stop file)", flush=True)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report, fail: the test prints this log
        print("error: %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)

#!/usr/bin/env python3
"""Continuous traffic through a VIP for the fault-injection tests.

  traffic.py run HOST --ctl DIR [--port 80] [--keepalive N] [--interval S]
                      [--new-workers W] [--new-interval S] [--timeout S]
                      [--ka-timeout S] [--max-time S]
      Holds N long-lived HTTP/1.1 keep-alive connections, each sending a GET
      every --interval seconds, and W workers each opening a NEW connection
      for one GET every --new-interval seconds. Every request is one line in
      DIR/events:
          <epoch> <kind> <id> ok <ms> <real>
          <epoch> <kind> <id> fail <ms> <reason>
      kind is "ka" (keep-alive) or "new"; <epoch> is when the request
      STARTED (so a test can count requests started after a point in time).
      A keep-alive connection whose request fails is BROKEN: the line is
          <epoch> ka <id> broken <ms> <reason>
      and the connection is replaced by a fresh one (id + 1000). An answer
      from a different real than the connection's first is "moved" (a
      break too: in DR another real would reset it).
      DIR/started appears after every keep-alive connection has answered
      once; touching DIR/stop ends the run (exit 0).

  traffic.py count DIR [--from EPOCH] [--to EPOCH]
      Summarises DIR/events for requests started in [from, to):
          ok=N fail=N broken=N ka_ok=N new_ok=N max_ms=N reals=a:N,b:N
      (failed requests are fail + broken)."""
import argparse
import http.client
import os
import socket
import sys
import threading
import time

lock = threading.Lock()


def log(out, line):
    with lock:
        out.write(line + "\n")
        out.flush()


def get(conn):
    conn.request("GET", "/")
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace").strip()
    if resp.status != 200 or not body:
        raise RuntimeError("status-%d" % resp.status)
    return body


def reason(e):
    return type(e).__name__ if not str(e) else \
        (type(e).__name__ + ":" + str(e)).replace(" ", "_")[:80]


def keepalive(a, out, cid, stop, ready):
    signalled = False
    while not stop.is_set():
        conn = http.client.HTTPConnection(a.host, a.port,
                                          timeout=a.ka_timeout or a.timeout)
        first = None
        try:
            while not stop.is_set():
                t0 = time.time()
                try:
                    real = get(conn)
                except Exception as e:  # the connection is broken
                    ms = (time.time() - t0) * 1000
                    log(out, "%.3f ka %d broken %d %s" % (t0, cid, ms, reason(e)))
                    break
                ms = (time.time() - t0) * 1000
                if first is None:
                    first = real
                    if not signalled:
                        signalled = True
                        ready.release()
                elif real != first:
                    log(out, "%.3f ka %d broken %d moved:%s->%s"
                        % (t0, cid, ms, first, real))
                    break
                log(out, "%.3f ka %d ok %d %s" % (t0, cid, ms, real))
                stop.wait(max(0.0, a.interval - (time.time() - t0)))
        finally:
            conn.close()
        cid += 1000
        stop.wait(0.1)


def newconns(a, out, wid, stop):
    n = 0
    while not stop.is_set():
        t0 = time.time()
        conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
        try:
            real = get(conn)
            log(out, "%.3f new %d ok %d %s" % (t0, wid * 1000000 + n,
                                                 (time.time() - t0) * 1000, real))
        except Exception as e:
            log(out, "%.3f new %d fail %d %s" % (t0, wid * 1000000 + n,
                                                   (time.time() - t0) * 1000, reason(e)))
        finally:
            conn.close()
        n += 1
        stop.wait(max(0.0, a.new_interval - (time.time() - t0)))


def run(a):
    out = open(os.path.join(a.ctl, "events"), "a")
    stop = threading.Event()
    ready = threading.Semaphore(0)
    threads = [threading.Thread(target=keepalive, args=(a, out, i, stop, ready))
               for i in range(a.keepalive)]
    threads += [threading.Thread(target=newconns, args=(a, out, i, stop))
                for i in range(a.new_workers)]
    for t in threads:
        t.daemon = True
        t.start()
    for _ in range(a.keepalive):
        ready.acquire()
    open(os.path.join(a.ctl, "started"), "w").close()
    t0 = time.time()
    while not os.path.exists(os.path.join(a.ctl, "stop")):
        if time.time() - t0 > a.max_time:
            log(out, "%.3f run 0 timeout 0 no-stop-file" % time.time())
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(a.timeout + 2)
    return 0


def count(a):
    ok = fail = broken = ka_ok = new_ok = max_ms = 0
    reals = {}
    kinds = {}
    for line in open(os.path.join(a.ctl, "events")):
        f = line.split()
        if len(f) < 6:
            continue
        t = float(f[0])
        if t < a.start or t >= a.end:
            continue
        kind, res, ms = f[1], f[3], int(f[4])
        if res == "ok":
            ok += 1
            max_ms = max(max_ms, ms)
            reals[f[5]] = reals.get(f[5], 0) + 1
            if kind == "ka":
                ka_ok += 1
            else:
                new_ok += 1
        elif res == "broken":
            broken += 1
            kinds[f[5].split(":")[0]] = 1
        else:
            fail += 1
            kinds[f[5].split(":")[0]] = 1
    print("ok=%d fail=%d broken=%d ka_ok=%d new_ok=%d max_ms=%d reals=%s why=%s"
          % (ok, fail, broken, ka_ok, new_ok, max_ms,
             ",".join("%s:%d" % kv for kv in sorted(reals.items())) or "-",
             ",".join(sorted(kinds)) or "-"))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("host")
    r.add_argument("--ctl", required=True)
    r.add_argument("--port", type=int, default=80)
    r.add_argument("--keepalive", type=int, default=4)
    r.add_argument("--interval", type=float, default=0.2)
    r.add_argument("--new-workers", type=int, default=2)
    r.add_argument("--new-interval", type=float, default=0.1)
    r.add_argument("--timeout", type=float, default=5.0)
    r.add_argument("--ka-timeout", type=float, default=0.0,
                   help="keep-alive requests' timeout (default --timeout)")
    r.add_argument("--max-time", type=float, default=300.0)
    c = sub.add_parser("count")
    c.add_argument("ctl")
    c.add_argument("--from", dest="start", type=float, default=0.0)
    c.add_argument("--to", dest="end", type=float, default=1e12)
    a = ap.parse_args()
    socket.setdefaulttimeout(None)
    return run(a) if a.cmd == "run" else count(a)


if __name__ == "__main__":
    sys.exit(main())

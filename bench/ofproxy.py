#!/usr/bin/env python3
"""ofproxy: a transparent OpenFlow proxy between flowlbd and a bridge's
unix socket that logs every message, for bench items 4 and 5 (messages and
bytes sent for one change, and the time to the barrier reply).

usage: ofproxy.py LISTEN_PATH TARGET_PATH LOG

One line per OpenFlow message, flushed at once:
    EPOCH_SECONDS DIR TYPE LENGTH XID [INNER_TYPE]
DIR is "c2s" (agent to switch) or "s2c"; TYPE is the OpenFlow type number
(OF1.5: 14 flow_mod, 15 group_mod, 18/19 multipart, 20/21 barrier,
33 bundle_control, 34 bundle_add); INNER_TYPE is the type of the message
inside a bundle_add. Only one agent connection at a time is expected.
"""
import os
import selectors
import socket
import struct
import sys
import time


def main():
    listen_path, target_path, log_path = sys.argv[1:4]
    try:
        os.unlink(listen_path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen_path)
    srv.listen(4)
    log = open(log_path, "a", buffering=1)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    # peer socket -> (other socket, direction, pending bytes)
    state = {}

    def close_pair(s):
        # Both ends may report the close in the same select() round.
        if s not in state:
            return
        other = state[s][0]
        for x in (s, other):
            if x in state:
                sel.unregister(x)
                x.close()
                del state[x]

    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is srv:
                agent, _ = srv.accept()
                switch = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    switch.connect(target_path)
                except OSError:
                    agent.close()
                    continue
                state[agent] = [switch, "c2s", b""]
                state[switch] = [agent, "s2c", b""]
                sel.register(agent, selectors.EVENT_READ, None)
                sel.register(switch, selectors.EVENT_READ, None)
                continue
            try:
                data = s.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                close_pair(s)
                continue
            other, direction, buf = state[s]
            try:
                other.sendall(data)
            except OSError:
                # The other side went away (an agent that reconnects):
                # drop this pair, keep serving new connections.
                log.write("%.6f %s closed\n" % (time.time(), direction))
                close_pair(s)
                continue
            now = time.time()
            buf += data
            lines = []
            while len(buf) >= 8:
                _, typ, length, xid = struct.unpack_from("!BBHI", buf, 0)
                if length < 8 or len(buf) < length:
                    break
                inner = ""
                if typ == 34 and length >= 24:
                    inner = " %d" % buf[17]
                lines.append("%.6f %s %d %d %d%s\n" % (now, direction, typ, length, xid, inner))
                buf = buf[length:]
            state[s][2] = buf
            if lines:
                log.write("".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A server that accepts TCP connections and never answers (nor closes):
a hung real for the health-check timeout tests. Prints nothing; holds every
accepted socket until it is killed. usage: silent.py PORT"""
import socket
import sys

s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(512)
held = []
while True:
    c, _ = s.accept()
    held.append(c)

#!/usr/bin/env python3
"""Exact datagram-boundary checks for tlsnc -u (tests/integration/udp.sh,
unix.sh).

  dgram.py connect TLSNC [-U] SIZE...
      A datagram server here; "tlsnc -u [-U] ADDR" (no -q: it quits at
      stdin EOF) runs with its stdin and stdout on pipes.  Each SIZE is
      written to tlsnc's stdin (after the previous one has arrived) and
      must arrive here as one datagram of SIZE bytes; the server answers
      each with a datagram of SIZE bytes, which must come out of tlsnc's
      stdout whole.
  dgram.py listen TLSNC [-U] SIZE...
      "tlsnc -v -u -l -q 0.2 ADDR" runs here; a client sends datagrams of
      each SIZE, which come out of tlsnc's stdout; each reply written to
      tlsnc's stdin must arrive here as one datagram of SIZE bytes.
  dgram.py peers PORT|PATH|@NAME N
      N clients each send two lines to 127.0.0.1:PORT or the Unix
      datagram socket (each client bound to a path of its own), whose
      listener answers each line with "re:LINE"; each client must get
      exactly its own two answers, whatever the datagrams' cuts.

Exit status 0 on success; 1 with the reason on stderr.
"""
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 20


def fail(msg):
    sys.stderr.write("dgram.py: %s\n" % msg)
    sys.exit(1)


def payload(size, seed):
    return bytes((seed * 7 + i * 13) % 251 for i in range(size))


def read_exact(f, n):
    buf = b""
    deadline = time.monotonic() + TIMEOUT
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([f], [], [], left)[0]:
            fail("timed out: %d of %d bytes from tlsnc's stdout"
                 % (len(buf), n))
        chunk = os.read(f.fileno(), n - len(buf))
        if not chunk:
            fail("tlsnc's stdout ended after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_one(sock):
    sock.settimeout(TIMEOUT)
    try:
        return sock.recvfrom(1 << 17)
    except socket.timeout:
        fail("timed out waiting for a datagram")


def make_socket(unix, tmp, name):
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(tmp, name)
        s.bind(path)
        return s, path
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, str(s.getsockname()[1])


def finish(proc):
    proc.stdin.close()
    try:
        rc = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("tlsnc did not end after stdin EOF and -q")
    if rc != 0:
        fail("tlsnc exited with status %d" % rc)


def run_connect(tlsnc, unix, sizes, tmp):
    server, addr = make_socket(unix, tmp, "server.sock")
    args = [tlsnc, "-u"] + (["-U", addr] if unix else
                                       ["127.0.0.1", addr])
    env = dict(os.environ, TMPDIR=tmp)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    for i, size in enumerate(sizes):
        data = payload(size, i)
        proc.stdin.write(data)
        proc.stdin.flush()
        got, peer = recv_one(server)
        if got != data:
            fail("sent %d bytes as one write, received a datagram of %d"
                 % (size, len(got)))
        reply = payload(size, i + 100)
        server.sendto(reply, peer)
        if read_exact(proc.stdout, size) != reply:
            fail("a reply of %d bytes came out changed" % size)
    finish(proc)


def listening_addr(proc, unix, path):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if not line:
            break
        if "Listening on" in line:
            if unix:
                return path
            return ("127.0.0.1", int(line.strip().rsplit(":", 1)[1]))
    fail("tlsnc never said 'Listening on'")


def run_listen(tlsnc, unix, sizes, tmp):
    path = os.path.join(tmp, "listener.sock")
    args = [tlsnc, "-v", "-u", "-l", "-q", "0.2"] + (
        ["-U", path] if unix else ["127.0.0.1", "0"])
    proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dest = listening_addr(proc, unix, path)
    client, _ = make_socket(unix, tmp, "client.sock")
    for i, size in enumerate(sizes):
        data = payload(size, i)
        client.sendto(data, dest)
        if read_exact(proc.stdout, size) != data:
            fail("a datagram of %d bytes came out changed" % size)
        reply = payload(size, i + 100)
        proc.stdin.write(reply)
        proc.stdin.flush()
        got, _ = recv_one(client)
        if got != reply:
            fail("wrote %d bytes as one write, received a datagram of %d"
                 % (size, len(got)))
    finish(proc)
    if unix and os.path.exists(path):
        fail("the listener left its socket file %s" % path)


def run_peers(addr, n, tmp):
    socks = []
    unix = "/" in addr or addr.startswith("@")
    if unix:
        dest = "\0" + addr[1:] if addr.startswith("@") else addr
    else:
        dest = ("127.0.0.1", int(addr))
    for i in range(n):
        if unix:
            s, _ = make_socket(True, tmp, "peer%d.sock" % i)
        else:
            s, _ = make_socket(False, tmp, "")
        s.settimeout(TIMEOUT)
        socks.append(s)
    for r in range(2):
        for i, s in enumerate(socks):
            s.sendto(b"peer%d-%d\n" % (i, r), dest)
    for i, s in enumerate(socks):
        want = b"re:peer%d-0\nre:peer%d-1\n" % (i, i)
        got = b""
        while len(got) < len(want):
            try:
                got += s.recv(1 << 16)
            except socket.timeout:
                fail("peer %d: got %r, wanted %r" % (i, got, want))
        if got != want:
            fail("peer %d: got %r, wanted %r" % (i, got, want))


def main():
    if len(sys.argv) < 3:
        fail("usage: see the top of dgram.py")
    mode = sys.argv[1]
    if mode == "peers":
        with tempfile.TemporaryDirectory() as tmp:
            run_peers(sys.argv[2], int(sys.argv[3]), tmp)
        return
    tlsnc = sys.argv[2]
    rest = sys.argv[3:]
    unix = bool(rest) and rest[0] == "-U"
    sizes = [int(x) for x in (rest[1:] if unix else rest)]
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "connect":
            run_connect(tlsnc, unix, sizes, tmp)
        elif mode == "listen":
            run_listen(tlsnc, unix, sizes, tmp)
        else:
            fail("unknown mode %s" % mode)
        if os.listdir(tmp) and any(f.startswith("tlsnc-dgram")
                                   for f in os.listdir(tmp)):
            fail("tlsnc left its reply socket in %s" % tmp)


main()

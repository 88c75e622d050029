#!/usr/bin/env python3
"""Clients for tests/integration/broker.sh: many connections in one process.

Usage: broker_client.py SCENARIO PORT PIN [ARGS...]
PIN is "-" for plain TCP, or the listener's SHA256:hex pin for TLS (the
certificate presented must be exactly that one).

Each scenario prints one line per check, "ok NAME" or "fail NAME: WHY",
which broker.sh turns into TAP cases, and exits 0.
"""
import hashlib
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"
TIMEOUT = 60


def connect(port, pin, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(TIMEOUT)
    s.connect((HOST, port))
    if pin == "-":
        return s
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE     # checked against the pin below
    t = ctx.wrap_socket(s)
    der = t.getpeercert(binary_form=True)
    got = "SHA256:" + hashlib.sha256(der).hexdigest()
    if got != pin:
        raise RuntimeError("certificate %s is not the pin %s" % (got, pin))
    return t


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(min(65536, n - len(buf)))
        if not b:
            break
        buf += b
    return bytes(buf)


class Lines:
    """Lines from a socket, one at a time."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise EOFError("EOF with %r pending" % self.buf[:80])
            self.buf += b
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def report(name, good, why=""):
    name = os.environ.get("BROKER_MODE", "") + name
    print("ok " + name if good else "fail %s: %s" % (name, why), flush=True)


def rounds(port, pin, n, size):
    """n clients; each in turn sends size random bytes, which every other
    client must receive byte for byte.  A final round from client 0 shows
    that the last sender got nothing of its own back."""
    clients = []
    for _ in range(n):
        clients.append(connect(port, pin))
    # Every client must be in the broker before the first byte goes.
    # The -v lines are the shell's business: it waits for them, then
    # creates the go file.
    go = os.environ["BROKER_GO"]
    start = time.monotonic()
    while not os.path.exists(go):
        if time.monotonic() - start > TIMEOUT:
            report("rounds: all connected", False, "no go file")
            return
        time.sleep(0.02)
    bad = []
    order = list(range(n)) + [0]
    for r, sender in enumerate(order):
        blob = os.urandom(size)
        clients[sender].sendall(blob)
        for i, c in enumerate(clients):
            if i == sender:
                continue
            got = recv_exact(c, size)
            if got != blob:
                bad.append("round %d: client %d got %d bytes, %s" % (
                    r, i, len(got), "wrong bytes" if len(got) == size
                    else "short"))
    report("broker: %d clients, each message once at every other client, "
           "byte-exact, none back to its sender" % n, not bad,
           "; ".join(bad[:5]))
    for c in clients:
        c.close()


def join(port, pin):
    """Connect and read our own join announcement; returns (sock, user)."""
    s = connect(port, pin)
    lines = Lines(s)
    first = lines.line().decode()
    m = re.match(r"<announce> 127\.0\.0\.1:\d+ is connected as <user(\d+)>\.$",
                 first)
    if not m:
        raise RuntimeError("unexpected first line %r" % first)
    second = lines.line().decode()
    if not second.startswith("<announce> already connected: "):
        raise RuntimeError("unexpected second line %r" % second)
    return s, lines, int(m.group(1))


def chat_many(port, pin, n, count):
    """n chat clients send count lines each at once, cut at odd places;
    each client must get every other client's lines once, prefixed with
    the sender's number, and none of its own."""
    joined = [join(port, pin) for _ in range(n)]
    users = [u for _, _, u in joined]
    report("chat: each client gets a number of its own",
           len(set(users)) == n, "users %s" % users)
    errors = []

    def run(i):
        s, lines, _ = joined[i]
        data = b"".join(b"c%d line %d\x07\n" % (i, j) for j in range(count))
        # Odd cuts: lines must be put back together by the broker.
        step = 7 + i
        for k in range(0, len(data), step):
            s.sendall(data[k:k + step])
        want = set()
        for o in range(n):
            if o != i:
                for j in range(count):
                    want.add(b"<user%d> c%d line %d\\007" % (users[o], o, j))
        got = []
        while len(got) < (n - 1) * count:
            line = lines.line()
            if line.startswith(b"<announce>"):
                continue
            got.append(line)
        if len(got) != len(set(got)) or set(got) != want:
            errors.append("client %d: %d lines, %d distinct, %d expected; "
                          "e.g. %r" % (i, len(got), len(set(got)), len(want),
                                       sorted(set(got) ^ want)[:2]))
            return
        # In order per sender.
        for o in range(n):
            if o == i:
                continue
            mine = [g for g in got if g.startswith(b"<user%d> " % users[o])]
            if mine != [b"<user%d> c%d line %d\\007" % (users[o], o, j)
                        for j in range(count)]:
                errors.append("client %d: lines of user %d out of order"
                              % (i, users[o]))
                return

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report("chat: %d clients at once, every line once at every other "
           "client, in order, escaped, none back" % n, not errors,
           "; ".join(errors[:3]))
    for s, _, _ in joined:
        s.close()


def expect(lines, want, name):
    try:
        got = lines.line()
    except (EOFError, OSError) as e:
        report(name, False, str(e))
        return False
    report(name, got == want, "got %r, want %r" % (got, want))
    return got == want


def chat_cases(port, pin):
    """Escaping, a long line, a partial line at leave, the announcements."""
    a, la, ua = join(port, pin)
    b, lb, ub = join(port, pin)
    expect(la, b"<announce> 127.0.0.1:%d is connected as <user%d>."
           % (b.getsockname()[1], ub), "chat: a join is announced to others")
    expect(la, b"<announce> already connected: 127.0.0.1:%d as <user%d>."
           % (a.getsockname()[1], ua), "chat: with who was there")
    a.sendall(b"\x1b[2Jred\x01\x7f tab\there\r\n")
    expect(lb, b"<user%d> \\033[2Jred\\001\\177 tab\there\r" % ua,
           "chat: control characters escaped as in Ncat")
    a.sendall(b"caf\xc3\xa9\n")
    expect(lb, b"<user%d> caf\\303\\251" % ua,
           "chat: bytes above ASCII escaped as in Ncat")
    long_line = b"x" * 5000
    a.sendall(long_line + b"\n")
    expect(lb, b"<user%d> " % ua + b"x" * 4096,
           "chat: a long line is cut at 4096 bytes")
    expect(lb, b"<user%d> " % ua + b"x" * 904,
           "chat: the rest of a long line follows")
    b.sendall(b"from b\n")
    expect(la, b"<user%d> from b" % ub, "chat: the other way")
    a.sendall(b"no newline at the end")
    a.close()
    expect(lb, b"<user%d> no newline at the end" % ua,
           "chat: a partial line goes out when its client leaves")
    expect(lb, b"<announce> <user%d> is disconnected." % ua,
           "chat: a leave is announced")
    b.close()


def ghost(port, pin):
    """A client that fails its TLS handshake is never announced."""
    a, la, _ = join(port, pin)
    g = socket.create_connection((HOST, port), timeout=TIMEOUT)
    g.sendall(b"this is not TLS\r\n\r\n")
    try:
        while g.recv(4096):
            pass
    except OSError:
        pass
    g.close()
    b, _, ub = join(port, pin)
    expect(la, b"<announce> 127.0.0.1:%d is connected as <user%d>."
           % (b.getsockname()[1], ub),
           "chat: a client that fails its TLS handshake is not announced")
    a.close()
    b.close()


def server_line(port, pin):
    """What the listener's standard input holds comes as <user0>."""
    s, lines, _ = join(port, pin)
    expect(lines, b"<user0> from the server", "chat: stdin is <user0>")
    s.close()


def reader(port, pin, nbytes, out):
    s = connect(port, pin)
    with open(out + ".tmp", "wb") as f:
        left = nbytes
        while left > 0:
            b = s.recv(min(left, 1 << 20))
            if not b:
                break
            f.write(b)
            left -= len(b)
    os.rename(out + ".tmp", out)
    s.close()


def slow(port, pin, ready):
    """Connect with a tiny receive buffer and never read."""
    s = connect(port, pin, rcvbuf=2048)
    open(ready, "w").close()
    signal.pause()


def hold(port, pin, ready):
    """Connect and stay until killed (for -m)."""
    s = connect(port, pin)
    open(ready, "w").close()
    try:
        s.recv(1)
    except OSError:
        pass
    s.close()


def main():
    scenario, port, pin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    args = sys.argv[4:]
    if scenario == "rounds":
        rounds(port, pin, int(args[0]), int(args[1]))
    elif scenario == "chat-many":
        chat_many(port, pin, int(args[0]), int(args[1]))
    elif scenario == "chat-cases":
        chat_cases(port, pin)
    elif scenario == "ghost":
        ghost(port, pin)
    elif scenario == "server-line":
        server_line(port, pin)
    elif scenario == "read":
        reader(port, pin, int(args[0]), args[1])
    elif scenario == "slow":
        slow(port, pin, args[0])
    elif scenario == "hold":
        hold(port, pin, args[0])
    else:
        sys.exit("unknown scenario " + scenario)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:          # one line the shell can show
        print("fail %s%s: %s: %s" % (os.environ.get("BROKER_MODE", ""),
                                     sys.argv[1], type(e).__name__, e),
              flush=True)

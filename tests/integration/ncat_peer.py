#!/usr/bin/env python3
"""A peer for tests/integration/ncat_compat.sh that needs exact control of
timing and of how a connection ends, which shell peers do not give.

It runs tlsnc itself (the command after "--"), plays the other end of the
connection, and prints one line: "ok ..." or "fail: why".  The exit status
is 0 for ok.

  idle MODE TLS SECS -- TLSNC...
      MODE is "connect" (tlsnc connects to us) or "listen" (we connect to
      tlsnc, which must print its -v readiness line).  TLS is 0 or 1.  The
      session first moves data only from tlsnc's stdin to us, then only
      from us to tlsnc's stdout, each phase lasting longer than SECS with
      gaps of a quarter of SECS; tlsnc must survive both, then give up
      with status 3 no sooner than SECS after the last byte.
  reset MODE -- TLSNC...
      The peer resets the connection (SO_LINGER 0) once it is up, after
      one line each way; tlsnc must exit 1 and say "reset".
"""

import os
import socket
import ssl
import struct
import subprocess
import sys
import time

LIMIT = 30.0


def fail(why):
    print("fail: " + why)
    sys.exit(1)


def read_exact(f, n, what):
    """n bytes from a file or a socket, or fail."""
    data = b""
    deadline = time.monotonic() + LIMIT
    while len(data) < n:
        if time.monotonic() > deadline:
            fail("timed out reading " + what)
        if isinstance(f, (socket.socket, ssl.SSLSocket)):
            chunk = f.recv(n - len(data))
        else:
            chunk = os.read(f.fileno(), n - len(data))
        if not chunk:
            fail("EOF while reading %s after %r" % (what, data))
        data += chunk
    return data


def server_context(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "server.pem"),
                        os.path.join(pki, "server.key"))
    return ctx


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start(mode, tls, cmd):
    """Start tlsnc and return (process, connected peer socket)."""
    if mode == "connect":
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.settimeout(LIMIT)
        port = str(lsock.getsockname()[1])
        cmd = [a.replace("PORT", port) for a in cmd]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        sock, _ = lsock.accept()
        lsock.close()
        if tls:
            sock = server_context(os.environ["PKI"]).wrap_socket(
                sock, server_side=True)
        return proc, sock
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = ""
    while "Listening on" not in line:
        line = proc.stderr.readline().decode()
        if not line:
            fail("no readiness line")
    port = int(line.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=LIMIT)
    if tls:
        sock = client_context().wrap_socket(sock)
    return proc, sock


def one_each_way(proc, sock):
    proc.stdin.write(b"out\n")
    proc.stdin.flush()
    got = read_exact(sock, 4, "from tlsnc's stdin")
    if got != b"out\n":
        fail("peer got %r" % got)
    sock.sendall(b"in\n")
    got = read_exact(proc.stdout, 3, "tlsnc's stdout")
    if got != b"in\n":
        fail("stdout got %r" % got)


def finish(proc, limit):
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("tlsnc still running after %.1f s" % limit)
    return proc.stderr.read().decode(errors="replace")


def idle(mode, tls, secs, cmd):
    proc, sock = start(mode, tls, cmd)
    gap = secs / 4
    began = time.monotonic()
    for i in range(6):                  # stdin -> peer only
        proc.stdin.write(b"w%d\n" % i)
        proc.stdin.flush()
        if read_exact(sock, 3, "a write") != b"w%d\n" % i:
            fail("a write was mangled")
        time.sleep(gap)
    for i in range(6):                  # peer -> stdout only
        time.sleep(gap)
        sock.sendall(b"r%d\n" % i)
        if read_exact(proc.stdout, 3, "a read") != b"r%d\n" % i:
            fail("a read was mangled")
    last = time.monotonic()
    if proc.poll() is not None:
        fail("tlsnc ended during the traffic, status %d" % proc.returncode)
    err = finish(proc, secs + LIMIT)
    idle_for = time.monotonic() - last
    if proc.returncode != 3:
        fail("status %d, not 3: %s" % (proc.returncode, err))
    if idle_for < secs * 0.75:
        fail("gave up after %.2f s idle, before %.2f s" % (idle_for, secs))
    if "idle" not in err:
        fail("stderr does not say idle: %r" % err)
    print("ok lived %.1f s with traffic, ended %.1f s after it" %
          (last - began, idle_for))


def reset(mode, cmd):
    proc, sock = start(mode, False, cmd)
    one_each_way(proc, sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()
    err = finish(proc, LIMIT)
    if proc.returncode != 1:
        fail("status %d, not 1: %r" % (proc.returncode, err))
    if "reset" not in err:
        fail("stderr does not say reset: %r" % err)
    print("ok status 1, and stderr says reset")


def main(argv):
    if "--" not in argv:
        fail("usage: see the top of this file")
    cut = argv.index("--")
    args, cmd = argv[1:cut], argv[cut + 1:]
    if args[0] == "idle":
        idle(args[1], args[2] == "1", float(args[3]), cmd)
    elif args[0] == "reset":
        reset(args[1], cmd)
    else:
        fail("unknown case " + args[0])


if __name__ == "__main__":
    main(sys.argv)

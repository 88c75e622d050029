#!/usr/bin/env python3
"""A scripted STARTTLS server for tests/integration/starttls.sh.

  starttls_peer.py PROTO SCENARIO PKI PORTFILE RESULTFILE

It listens on 127.0.0.1 port 0, writes the port to PORTFILE, takes one
connection and plays PROTO's preamble as SCENARIO says:

  ok          the usual dialogue, then TLS (the test PKI's server.pem); it
              sends "hello over tls" and writes what it received, up to
              the client's close_notify, to RESULTFILE
  notoffered  the capability reply lacks STARTTLS
  refused     the last reply refuses
  malformed   the first reply is not one of PROTO's
  oversized   the first reply never ends
  inject      the go-ahead and plaintext after it, in one write
  inject2     the same, in two writes
  silent      no answer to the STARTTLS command; wait for the client to go
  closed      close the connection instead of the last reply

It writes "ok" or "fail: why" as the last line of RESULTFILE.
"""

import os
import socket
import ssl
import sys

LIMIT = 30.0
BIG = 9000

TLS_NS = b"urn:ietf:params:xml:ns:xmpp-tls"
XMPP_HEAD = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
             b"xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' "
             b"id='x1' version='1.0' from='localhost'>")

# A step: (what ends the client's command: b"\n", b">" or a length, or None
# for no command; what it must start with; the reply).  The last reply is
# the go-ahead.  "no" is (step, reply) without STARTTLS; "refuse" replaces
# the go-ahead.
LDAP_OK = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00"
LDAP_NO = (b"\x30\x2a\x02\x01\x01\x78\x25\x0a\x01\x02\x04\x00\x04\x1e"
           b"unsupported extended operation")
LDAP_BUSY = (b"\x30\x24\x02\x01\x01\x78\x1f\x0a\x01\x34\x04\x00\x04\x18"
             b"Could not initialize TLS")
LDAP_REQ = (b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16"
            b"1.3.6.1.4.1.1466.20037")

PROTOS = {
    "smtp": {
        "steps": [(None, b"", b"220 mx.test ESMTP\r\n"),
                  (b"\n", b"EHLO ", b"250-mx.test\r\n250-STARTTLS\r\n"
                   b"250 8BITMIME\r\n"),
                  (b"\n", b"STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n")],
        "no": (1, b"250-mx.test\r\n250 8BITMIME\r\n"),
        "refuse": b"454 4.7.0 TLS not available\r\n",
    },
    "lmtp": {
        "steps": [(None, b"", b"220 lmtp.test ready\r\n"),
                  (b"\n", b"LHLO ", b"250-lmtp.test\r\n250-STARTTLS\r\n"
                   b"250 PIPELINING\r\n"),
                  (b"\n", b"STARTTLS\r\n", b"220 2.0.0 Begin TLS\r\n")],
        "no": (1, b"250-lmtp.test\r\n250 PIPELINING\r\n"),
        "refuse": b"454 4.7.0 Internal error\r\n",
    },
    "imap": {
        "steps": [(None, b"", b"* OK IMAP ready\r\n"),
                  (b"\n", b"A1 CAPABILITY\r\n",
                   b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
                   b"A1 OK done\r\n"),
                  (b"\n", b"A2 STARTTLS\r\n", b"A2 OK Begin TLS\r\n")],
        "no": (1, b"* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n"),
        "refuse": b"A2 NO TLS unavailable\r\n",
    },
    "pop3": {
        "steps": [(None, b"", b"+OK POP3 ready\r\n"),
                  (b"\n", b"CAPA\r\n", b"+OK\r\nUSER\r\nSTLS\r\n.\r\n"),
                  (b"\n", b"STLS\r\n", b"+OK Begin TLS\r\n")],
        "no": (1, b"+OK\r\nUSER\r\n.\r\n"),
        "refuse": b"-ERR TLS support isn't enabled.\r\n",
    },
    "ftp": {
        "steps": [(None, b"", b"220 (vsFTPd 3.0.3)\r\n"),
                  (b"\n", b"AUTH TLS\r\n", b"234 Proceed with negotiation.\r\n")],
        "no": (1, b"500 AUTH not understood\r\n"),
        "refuse": b"530 Please login with USER and PASS.\r\n",
    },
    "postgres": {
        "steps": [(8, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", b"S")],
        "no": (0, b"N"),
        "refuse": b"E\x00\x00\x00\x18SFATAL\x00C08P01\x00Mbad\x00\x00",
    },
    "ldap": {
        "steps": [(len(LDAP_REQ), LDAP_REQ, LDAP_OK)],
        "no": (0, LDAP_NO),
        "refuse": LDAP_BUSY,
    },
    "xmpp": {
        "steps": [(b"streams'>",
                   b"<?xml version='1.0'?><stream:stream to='localhost'",
                   XMPP_HEAD + b"<stream:features><starttls xmlns='" +
                   TLS_NS + b"'><required/></starttls></stream:features>"),
                  (b">", b"<starttls xmlns='" + TLS_NS + b"'/>",
                   b"<proceed xmlns='" + TLS_NS + b"'/>")],
        "no": (0, XMPP_HEAD + b"<stream:features/>"),
        "refuse": b"<failure xmlns='" + TLS_NS + b"'/></stream:stream>",
    },
    "nntp": {
        "steps": [(None, b"", b"200 news.test InterNetNews ready\r\n"),
                  (b"\n", b"CAPABILITIES\r\n",
                   b"101 Capability list:\r\nVERSION 2\r\nREADER\r\n"
                   b"STARTTLS\r\n.\r\n"),
                  (b"\n", b"STARTTLS\r\n", b"382 Begin TLS negotiation now\r\n")],
        "no": (1, b"101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n"),
        "refuse": b"580 Can not initiate TLS negotiation\r\n",
    },
    "sieve": {
        "steps": [(None, b"", b"\"IMPLEMENTATION\" \"test\"\r\n"
                   b"\"SASL\" \"PLAIN\"\r\n\"STARTTLS\"\r\n"
                   b"\"VERSION\" \"1.0\"\r\nOK \"ready\"\r\n"),
                  (b"\n", b"STARTTLS\r\n", b"OK \"Begin TLS\"\r\n")],
        "no": (0, b"\"IMPLEMENTATION\" \"test\"\r\nOK \"ready\"\r\n"),
        "refuse": b"NO \"TLS not available\"\r\n",
    },
    "irc": {
        "steps": [(b"\n", b"STARTTLS\r\n",
                   b":irc.test NOTICE * :*** Looking up your hostname\r\n"
                   b":irc.test 670 * :STARTTLS successful, go ahead\r\n")],
        "no": (0, b":irc.test 421 * STARTTLS :Unknown command\r\n"),
        "refuse": b":irc.test 691 * :STARTTLS failure\r\n",
    },
}
PROTOS["xmpp-server"] = {
    "steps": [(b"streams'>",
               b"<?xml version='1.0'?><stream:stream to='localhost'",
               PROTOS["xmpp"]["steps"][0][2].replace(b"jabber:client",
                                                     b"jabber:server")),
              PROTOS["xmpp"]["steps"][1]],
    "no": PROTOS["xmpp"]["no"],
    "refuse": PROTOS["xmpp"]["refuse"],
}


class Fail(Exception):
    pass


def read_command(conn, end):
    """The client's command: up to the end marker, or end bytes."""
    data = b""
    while True:
        if isinstance(end, int) and len(data) >= end:
            return data
        if isinstance(end, bytes) and data.endswith(end):
            return data
        chunk = conn.recv(1 if not isinstance(end, int) else end - len(data))
        if not chunk:
            raise Fail("EOF after %r" % data)
        data += chunk


def malformed(proto):
    if proto in ("postgres",):
        return b"H"
    if proto == "ldap":
        return b"\x31\x03\x02\x01\x01"
    return b"SSH-2.0-OpenSSH_9.2p1\r\n"


def oversized(proto):
    if proto == "postgres":
        return None
    if proto == "ldap":
        return b"\x30\x84\x00\x01\x00\x00" + b"\x00" * BIG
    if proto.startswith("xmpp"):
        return XMPP_HEAD + b"<stream:features>" + b"<x/>" * (BIG // 4)
    if proto == "imap":
        return b"* OK\r\n" + b"* CAPABILITY X\r\n" * (BIG // 16)
    if proto == "pop3":
        return b"+OK\r\n" + b"X\r\n" * (BIG // 3)
    if proto == "sieve":
        return b"\"X\" \"Y\"\r\n" * (BIG // 9)
    if proto == "irc":
        return b":irc NOTICE * :hi\r\n" * (BIG // 19)
    return b"220-" + b"a" * BIG


def tls_session(conn, pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "server.pem"),
                        os.path.join(pki, "server.key"))
    tls = ctx.wrap_socket(conn, server_side=True)
    tls.sendall(b"hello over tls\n")
    got = b""
    while True:
        try:
            chunk = tls.recv(4096)
        except ssl.SSLZeroReturnError:
            break
        if not chunk:
            break
        got += chunk
    try:
        tls.unwrap()
    except (ssl.SSLError, OSError):
        pass
    return got


def play(conn, proto, scenario, pki):
    """Run the scenario; returns what the TLS session received, or b""."""
    p = PROTOS[proto]
    steps = list(p["steps"])
    if scenario == "notoffered":
        i, reply = p["no"]
        steps[i] = steps[i][:2] + (reply,)
        steps = steps[:i + 1]
    first = steps[0]
    if scenario in ("malformed", "oversized"):
        bad = malformed(proto) if scenario == "malformed" else oversized(proto)
        if first[0] is not None:
            read_command(conn, first[0])
        conn.sendall(bad)
        return b""
    for n, (end, want, reply) in enumerate(steps):
        last = n == len(steps) - 1
        if end is not None:
            got = read_command(conn, end)
            if not got.startswith(want):
                raise Fail("expected %r, got %r" % (want, got))
        if last and scenario == "refused":
            reply = p["refuse"]
        if last and scenario == "silent":
            conn.recv(1)    # the client gives up and closes
            return b""
        if last and scenario == "closed":
            return b""
        if last and scenario == "inject":
            reply += b"250 injected\r\n"
        conn.sendall(reply)
        if last and scenario == "inject2":
            conn.sendall(b"250 injected\r\n")
    if scenario != "ok":
        conn.recv(1)        # the client closes
        return b""
    return tls_session(conn, pki)


def main():
    proto, scenario, pki, portfile, resultfile = sys.argv[1:6]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(LIMIT)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    result = "ok"
    got = b""
    try:
        conn, _ = ls.accept()
        conn.settimeout(LIMIT)
        got = play(conn, proto, scenario, pki)
        conn.close()
    except (Fail, OSError, ssl.SSLError) as e:
        result = "fail: %s" % e
    with open(resultfile, "wb") as f:
        f.write(got)
        f.write(b"\n" + result.encode() + b"\n")


if __name__ == "__main__":
    main()

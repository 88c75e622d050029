#!/bin/sh
# -u: UDP.  Datagrams of 1, 1400 and 65507 bytes arrive whole both ways, in
# connect and listen mode (dgram.py checks each boundary); socat and ncat
# as peers; -q and -i bound a session, which has no EOF; a client quits at
# stdin EOF as Ncat does; ICMP port unreachable is reported once with
# status 1; three peers under -k each get only their own replies; -z -u
# tells open|filtered from closed; and the usage errors.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

DGRAM="$TOP_SRCDIR/tests/integration/dgram.py"
TRY="Try 'tlsnc --help' for more information."

# udp_holder FILE: a UDP socket on 127.0.0.1 that reads and never answers,
# in the background; its port goes to FILE.  Sets HOLDPID.
udp_holder() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    s.recv(65536)
' > "$1" &
	HOLDPID=$!
	BG_PIDS="$BG_PIDS $HOLDPID"
	wait_for "$1" '^[0-9]'
}

# closed_port: a UDP port on 127.0.0.1 that nothing is bound to (one was,
# and has just closed).
closed_port() {
	python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# one_line FILE: FILE has exactly one line.
# shellcheck disable=SC2317  # called through check
one_line() {
	if [ "$(wc -l < "$1")" -eq 1 ]; then
		return 0
	fi
	diag "expected one line"
	diag_file "$1"
	return 1
}

# --- Datagram boundaries.

check "connect: 1, 1400 and 65507 bytes, each one datagram both ways" \
    python3 "$DGRAM" connect "$TLSNC" 1 1400 65507
check "listen: 1, 1400 and 65507 bytes, each one datagram both ways" \
    python3 "$DGRAM" listen "$TLSNC" 1 1400 65507

# --- Real peers; -q and -i bound a listener's session.

listen_tlsnc "$T/l1.out" "$T/l1.err" /dev/null -u -l -q 0.2 127.0.0.1 0
printf 'from socat\n' | socat -u - "UDP4-SENDTO:127.0.0.1:$LPORT"
listener_status 10
check "socat UDP4-SENDTO to -u -l -q 0.2: the listener ends by -q, status 0" \
    status_is 0 "$LST"
check "socat UDP4-SENDTO to -u -l: the datagram came out" \
    has_line "$T/l1.out" "from socat"
check "-u -l: the first peer is named" has_text "$T/l1.err" \
    "Connection from 127.0.0.1:"

listen_tlsnc "$T/l2.out" "$T/l2.err" /dev/null -u -l -q 0.2 127.0.0.1 0
printf 'from ncat\n' | run_limited 10 ncat -u 127.0.0.1 "$LPORT"
listener_status 10
check "ncat -u to -u -l: status 0" status_is 0 "$LST"
check "ncat -u to -u -l: the datagram came out" \
    has_line "$T/l2.out" "from ncat"

hold "$T/hold"
"$TLSNC" -v -u -l -i 0.5 127.0.0.1 0 < "$T/hold" > "$T/l3.out" \
    2> "$T/l3.err" &
LPID=$!
BG_PIDS="$BG_PIDS $LPID"
wait_for "$T/l3.err" "Listening on"
LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9]*\)$/\1/p' "$T/l3.err")
printf 'idle\n' | socat -u - "UDP4-SENDTO:127.0.0.1:$LPORT"
listener_status 10
unhold
check "-u -l -i 0.5 with stdin open: the idle timeout ends it, status 3" \
    status_is 3 "$LST"
check "-u -l -i: says why" has_text "$T/l3.err" "idle timeout"
check "-u -l -i: the datagram came out first" has_line "$T/l3.out" "idle"

# --- A client: stdin EOF, and a refusal.

udp_holder "$T/hold.port"
HPORT=$(cat "$T/hold.port")
printf 'x' > "$T/x"
client "$T/c1.out" "$T/c1.err" "$T/x" -u 127.0.0.1 "$HPORT"
check "-u client, no -q: quits at stdin EOF with status 0, as Ncat does" \
    status_is 0 "$CST"

CLOSED=$(closed_port)
START=$(date +%s)
client "$T/c2.out" "$T/c2.err" "$T/x" -u -q 20 127.0.0.1 "$CLOSED"
END=$(date +%s)
check "-u to a closed port: status 1" status_is 1 "$CST"
check "-u to a closed port: one line says the peer refused" \
    one_line "$T/c2.err"
check "-u to a closed port: it names the refusal" \
    has_text "$T/c2.err" "the peer refused a datagram"
check "-u to a closed port: ends at the refusal, not after -q 20" \
    test $((END - START)) -lt 15

# --- Several peers under -k.

# shellcheck disable=SC2016  # $l belongs to the inner shell
listen_tlsnc "$T/k.out" "$T/k.err" /dev/null -u -l -k \
    -c 'while read -r l; do echo "re:$l"; done' 127.0.0.1 0
check "-u -l -k -c: three peers each get only their own replies" \
    python3 "$DGRAM" peers "$LPORT" 3
wait_for "$T/k.err" "Connection from" >/dev/null
kill -TERM "$LPID"
listener_status 10
check "-u -l -k: SIGTERM ends it with status 0" status_is 0 "$LST"
check "-u -l -k: three peers were seen" \
    test "$(grep -c 'Connection from' "$T/k.err")" -eq 3

# The hub: stdin goes to every peer, every peer's datagrams to stdout.
hold "$T/hold2"
"$TLSNC" -v -u -l -k 127.0.0.1 0 < "$T/hold2" > "$T/h.out" \
    2> "$T/h.err" &
LPID=$!
BG_PIDS="$BG_PIDS $LPID"
wait_for "$T/h.err" "Listening on"
LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9]*\)$/\1/p' "$T/h.err")
printf 'one\n' | socat -u - "UDP4-SENDTO:127.0.0.1:$LPORT"
printf 'two\n' | socat -u - "UDP4-SENDTO:127.0.0.1:$LPORT"
wait_for "$T/h.out" "two"
kill -TERM "$LPID"
listener_status 10
unhold
check "-u -l -k: datagrams of two peers reach stdout" \
    test "$(sort "$T/h.out" | tr '\n' ' ')" = "one two "

# --- -z -u.

"$TLSNC" -v -z -u 127.0.0.1 "$HPORT" "$CLOSED" > "$T/z.out" 2> "$T/z.err"
ZST=$?
check "-z -u, one port open: status 0" status_is 0 "$ZST"
check "-z -u: the open port is open|filtered" has_line "$T/z.err" \
    "tlsnc: 127.0.0.1 port $HPORT (udp): open|filtered: no answer and no refusal"
check "-z -u: the closed port is refused" has_line "$T/z.err" \
    "tlsnc: connect to 127.0.0.1 port $CLOSED (udp) failed: Connection refused"
check "-z -u: nothing on stdout" test ! -s "$T/z.out"
"$TLSNC" -z -u 127.0.0.1 "$CLOSED" > "$T/z2.out" 2> "$T/z2.err"
check "-z -u, every port closed: status 1, silent without -v" \
    test $? -eq 1 -a ! -s "$T/z2.err"

# --- Usage errors.

usage_case() {
	_what=$1 _msg=$2
	shift 2
	"$TLSNC" "$@" < /dev/null > "$T/u.out" 2> "$T/u.err"
	_st=$?
	printf 'tlsnc: %s\n%s\n' "$_msg" "$TRY" > "$T/u.want"
	if [ "$_st" -eq 2 ] && cmp -s "$T/u.err" "$T/u.want"; then
		ok "usage: $_what"
	else
		not_ok "usage: $_what (status $_st)"
		diag_file "$T/u.err"
	fi
}
usage_case "--ssl with -u" \
    "--ssl with -u is not supported (DTLS is not implemented)" \
    --ssl -u 127.0.0.1 9
usage_case "--unlink without -U" "--unlink needs -l and -U" \
    -l -u --unlink 9

done_testing

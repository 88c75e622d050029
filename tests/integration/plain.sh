#!/bin/sh
# Plain TCP, tlsnc against tlsnc: bulk data both ways, the half-close rules,
# --recv-only, -q, --no-shutdown, the -v lines, addresses and ports, and a
# TLS client that meets a plain listener.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

A="$T/a.bin"
B="$T/b.bin"
random_file "$A" 64
random_file "$B" 64
SIZE=$((64 * 1048576))

# running PID: the process is still alive.
# shellcheck disable=SC2317  # called through check
running() {
	if kill -0 "$1" 2>/dev/null; then
		return 0
	fi
	diag "process $1 has ended"
	return 1
}

# not_grep TEXT FILE: FILE does not contain TEXT.
not_grep() {
	! grep -qF -- "$1" "$2"
}

ms() {
	date +%s%3N
}

# --- 64 MiB client -> listener; the listener's stdin is /dev/null, so it
# half-closes at once and must still receive everything.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 0; then
	client "$T/c.out" "$T/c.err" "$A" -v 127.0.0.1 "$LPORT"
	listener_status
	both_ok "client to listener (listener stdin /dev/null)"
	check "client to listener: sha256 equal" same_data "$A" "$T/l.out"
	check "client to listener: client received nothing" \
	    test ! -s "$T/c.out"
	check "-v: client Connected line" \
	    has_line "$T/c.err" "tlsnc: Connected to 127.0.0.1:$LPORT"
	check "-v: listener Connection from line" grep -qE \
	    "^tlsnc: Connection from (127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):[0-9]+\$" \
	    "$T/l.err"
	check "-v: client byte counts" has_line "$T/c.err" \
	    "tlsnc: $SIZE bytes sent, 0 bytes received"
	check "-v: listener byte counts" has_line "$T/l.err" \
	    "tlsnc: 0 bytes sent, $SIZE bytes received"
	check "random data: no TLS warning" not_grep "began a TLS" "$T/l.err"
	check "client to listener: client stderr has only -v lines" \
	    test "$(grep -vc -e '^tlsnc: Connected to' \
	    -e '^tlsnc: [0-9]* bytes sent' "$T/c.err")" = 0
else
	not_ok "client to listener: listener did not start"
fi

# --- 64 MiB listener -> client; the client's stdin is /dev/null.
if listen_tlsnc "$T/l.out" "$T/l.err" "$B" -l 0; then
	client "$T/c.out" "$T/c.err" /dev/null -v 127.0.0.1 "$LPORT"
	listener_status
	both_ok "listener to client (client stdin /dev/null)"
	check "listener to client: sha256 equal" same_data "$B" "$T/c.out"
	check "listener to client: listener received nothing" \
	    test ! -s "$T/l.out"
	check "-v: client byte counts (receiving)" has_line "$T/c.err" \
	    "tlsnc: 0 bytes sent, $SIZE bytes received"
	check "-v: listener byte counts (sending)" has_line "$T/l.err" \
	    "tlsnc: $SIZE bytes sent, 0 bytes received"
else
	not_ok "listener to client: listener did not start"
fi

# --- Both directions in one session.
if listen_tlsnc "$T/l.out" "$T/l.err" "$B" -l 0; then
	client "$T/c.out" "$T/c.err" "$A" -v 127.0.0.1 "$LPORT"
	listener_status
	both_ok "both ways"
	check "both ways: sha256 at the listener" same_data "$A" "$T/l.out"
	check "both ways: sha256 at the client" same_data "$B" "$T/c.out"
	check "both ways: client byte counts" has_line "$T/c.err" \
	    "tlsnc: $SIZE bytes sent, $SIZE bytes received"
	check "both ways: listener byte counts" has_line "$T/l.err" \
	    "tlsnc: $SIZE bytes sent, $SIZE bytes received"
else
	not_ok "both ways: listener did not start"
fi
rm -f "$T/l.out" "$T/c.out"

# --- A server that answers only after the client's EOF: the listener's
# stdout feeds a program that reads to EOF, then answers on its stdout, which
# is the listener's stdin.  Fifos connect them (opened in a non-blocking
# order: the helper opens toward the listener first, as the listener does).
mkfifo "$T/fromnet" "$T/tonet"
printf 'question\n' > "$T/q.txt"
sh -c 'cat > "$1"; echo answer' sh "$T/got" > "$T/tonet" < "$T/fromnet" &
HELPER=$!
BG_PIDS="$BG_PIDS $HELPER"
if listen_tlsnc "$T/fromnet" "$T/l.err" "$T/tonet" -l 0; then
	client "$T/c.out" "$T/c.err" "$T/q.txt" 127.0.0.1 "$LPORT"
	listener_status
	both_ok "answer after EOF"
	check "answer after EOF: the server read the question" \
	    same_data "$T/q.txt" "$T/got"
	check "answer after EOF: the answer arrived" \
	    test "$(cat "$T/c.out")" = answer
	check "answer after EOF: client stderr empty" test ! -s "$T/c.err"
else
	not_ok "answer after EOF: listener did not start"
fi
wait_pid "$HELPER" 10 >/dev/null
rm -f "$T/fromnet" "$T/tonet"

# --- The peer gone altogether while input is unsent: the listener's output
# goes to a reader that takes 10 bytes and exits, so the listener ends
# quietly, as a tool that SIGPIPE ended (status 141), and closes; the client
# still has most of 64 MiB to send.
mkfifo "$T/short"
head -c 10 < "$T/short" > "$T/got" &
HELPER=$!
BG_PIDS="$BG_PIDS $HELPER"
if listen_tlsnc "$T/short" "$T/l.err" /dev/null -l 0; then
	client "$T/c.out" "$T/c.err" "$A" 127.0.0.1 "$LPORT"
	listener_status
	check "peer gone: client exit status 1" status_is 1 "$CST"
	check "peer gone: client says what was not sent" \
	    has_text "$T/c.err" "not sent"
	check "peer gone: listener exit status 141" status_is 141 "$LST"
	check "peer gone: listener says nothing of its output" \
	    test "$(grep -c "writing output" "$T/l.err")" = 0
	check "peer gone: the reader got 10 bytes" \
	    test "$(wc -c < "$T/got")" -eq 10
else
	not_ok "peer gone: listener did not start"
fi
wait_pid "$HELPER" 10 >/dev/null
rm -f "$T/short"

# --- --recv-only: the client's stdin never ends, yet the session ends at the
# peer's EOF.
printf 'from the listener\n' > "$T/small"
hold "$T/forever"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/small" -l 0; then
	client "$T/c.out" "$T/c.err" "$T/forever" -v --recv-only \
	    127.0.0.1 "$LPORT"
	listener_status
	both_ok "--recv-only"
	check "--recv-only: data received" same_data "$T/small" "$T/c.out"
	check "--recv-only: nothing sent" has_line "$T/c.err" \
	    "tlsnc: 0 bytes sent, 18 bytes received"
else
	not_ok "--recv-only: listener did not start"
fi
unhold

# --- A name with several addresses falls back to the next one.  In a
# private mount namespace, /etc/hosts gives multi.test two addresses; only
# the second one listens.  Skipped where unshare(1) is not allowed.
printf '127.0.0.2 multi.test\n127.0.0.3 multi.test\n' > "$T/hosts"
# in_hosts_ns CMD...: run CMD with $T/hosts mounted on /etc/hosts.
in_hosts_ns() {
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
	    "$T/hosts" "$@"
}
FIRST=$(in_hosts_ns getent ahostsv4 multi.test 2>/dev/null |
    awk '/STREAM/ { print $1; exit }')
if [ "$FIRST" != "127.0.0.2" ]; then
	skip 3 "no private /etc/hosts here (unshare), or another order"
elif listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 127.0.0.3 0; then
	in_hosts_ns timeout -k 5 30 "$TLSNC" -v multi.test "$LPORT" \
	    < "$T/small" > "$T/c.out" 2> "$T/c.err"
	CST=$?
	listener_status
	both_ok "address fallback"
	check "address fallback: connected to the second address" has_line \
	    "$T/c.err" "tlsnc: Connected to 127.0.0.3:$LPORT"
else
	not_ok "address fallback: listener did not start"
fi

# --- localhost is loopback without the resolver (RFC 6761): with an empty
# /etc/hosts, which getent then fails on, tlsnc still connects to it.
: > "$T/nohosts"
in_empty_hosts() {
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
	    "$T/nohosts" "$@"
}
if ! in_empty_hosts true 2> /dev/null ||
    in_empty_hosts getent hosts localhost > /dev/null 2>&1; then
	skip 6 "no private /etc/hosts here (unshare)"
else
	for name in localhost LOCALHOST. app.localhost; do
		if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 127.0.0.1 0
		then
			in_empty_hosts timeout -k 5 30 "$TLSNC" -v "$name" \
			    "$LPORT" < "$T/small" > "$T/c.out" 2> "$T/c.err"
			CST=$?
			listener_status
			both_ok "$name without /etc/hosts"
		else
			not_ok "$name: listener did not start"
		fi
	done
fi

# --- A terminal on stdin: the session ends at the peer's EOF, as a person
# typing expects.  script(1) gives tlsnc a pty; script's own stdin is held
# open, so the terminal never reports EOF.
if command -v script > /dev/null 2>&1; then
	hold "$T/tty-in"
	if listen_tlsnc "$T/l.out" "$T/l.err" "$T/small" -l 0; then
		run_limited 30 script -qec "'$TLSNC' 127.0.0.1 $LPORT" /dev/null \
		    < "$T/tty-in" > "$T/c.out" 2> "$T/c.err"
		CST=$?
		listener_status
		both_ok "terminal stdin"
		check "terminal stdin: data received" has_text "$T/c.out" \
		    "from the listener"
	else
		not_ok "terminal stdin: listener did not start"
	fi
	unhold
else
	skip 3 "script(1) is not installed"
fi

# --- -q 1: stdin EOF, the listener never closes (its stdin stays open); the
# client quits by itself about a second after its stdin EOF.
hold "$T/lin"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/lin" -l 0; then
	t0=$(ms)
	client "$T/c.out" "$T/c.err" "$T/small" -q 1 127.0.0.1 "$LPORT"
	t1=$(ms)
	check "-q 1: client exit status 0" status_is 0 "$CST"
	check "-q 1: client waited about a second (took $((t1 - t0)) ms)" \
	    test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 10000
	check "-q 1: the listener received the data" \
	    same_data "$T/small" "$T/l.out"
	check "-q 1: client stderr empty" test ! -s "$T/c.err"
	# The peer's EOF alone does not end the listener: its stdin is open.
	check "-q 1: the listener still runs (its stdin is open)" \
	    running "$LPID"
	unhold
	listener_status
	check "-q 1: listener exit status 0 after its stdin EOF" \
	    status_is 0 "$LST"
else
	not_ok "-q 1: listener did not start"
	unhold
fi

# --- --no-shutdown: after its stdin EOF the client sends no FIN.  The
# listener's output goes to a program that notes when it sees EOF.  A round
# trip (listener -> client) after the data has arrived shows that no EOF came
# with it; then the listener's stdin EOF ends both sides.
mkfifo "$T/fromnet"
sh -c 'cat > "$1"; echo eof > "$2"' sh "$T/got" "$T/eofmark" \
    < "$T/fromnet" &
HELPER=$!
BG_PIDS="$BG_PIDS $HELPER"
rm -f "$T/eofmark"
: > "$T/got"
hold "$T/lin"
if listen_tlsnc "$T/fromnet" "$T/l.err" "$T/lin" -l 0; then
	# Not through bg: an asynchronous command's stdin is /dev/null
	# unless the command itself redirects it.
	"$TLSNC" --no-shutdown 127.0.0.1 "$LPORT" < "$T/small" \
	    > "$T/c.out" 2> "$T/c.err" &
	CPID=$!
	BG_PIDS="$BG_PIDS $CPID"
	wait_for "$T/got" "from the listener" 10
	echo ping > "$T/lin"
	wait_for "$T/c.out" "^ping\$" 10
	check "--no-shutdown: the listener got the data" \
	    same_data "$T/small" "$T/got"
	check "--no-shutdown: the listener saw no EOF" test ! -e "$T/eofmark"
	check "--no-shutdown: the client still runs" running "$CPID"
	check "--no-shutdown: the listener still runs" running "$LPID"
	unhold
	wait_pid "$CPID" 10
	CST=$?
	listener_status 10
	both_ok "--no-shutdown, after the listener's stdin EOF"
	check "--no-shutdown: client received ping" \
	    test "$(cat "$T/c.out")" = ping
else
	not_ok "--no-shutdown: listener did not start"
	unhold
fi
wait_pid "$HELPER" 10 >/dev/null
rm -f "$T/fromnet"

# --- No address: the listener accepts IPv4 and IPv6 alike.
have_v6=false
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	have_v6=true
fi
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/small" -l 0; then
	client "$T/c.out" "$T/c.err" /dev/null -v 127.0.0.1 "$LPORT"
	listener_status
	both_ok "any address, IPv4 client"
	check "any address, IPv4 client: data" same_data "$T/small" "$T/c.out"
else
	not_ok "any address, IPv4: listener did not start"
fi
if ! $have_v6; then
	skip 4 "no IPv6"
elif listen_tlsnc "$T/l.out" "$T/l.err" "$T/small" -l 0; then
	client "$T/c.out" "$T/c.err" /dev/null -v ::1 "$LPORT"
	listener_status
	both_ok "any address, IPv6 client"
	check "any address, IPv6 client: data" same_data "$T/small" "$T/c.out"
	check "IPv6: client Connected line" \
	    has_line "$T/c.err" "tlsnc: Connected to [::1]:$LPORT"
else
	not_ok "any address, IPv6: listener did not start"
fi

# --- -4 picks IPv4 for a name; -6 with ::1.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 0; then
	client "$T/c.out" "$T/c.err" "$T/small" -v -4 localhost "$LPORT"
	listener_status
	both_ok "-4 localhost"
	check "-4: connected over IPv4" \
	    has_line "$T/c.err" "tlsnc: Connected to 127.0.0.1:$LPORT"
else
	not_ok "-4: listener did not start"
fi
if ! $have_v6; then
	skip 4 "no IPv6"
elif listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 0; then
	client "$T/c.out" "$T/c.err" "$T/small" -v -6 ::1 "$LPORT"
	listener_status
	both_ok "-6 ::1"
	check "-6: connected over IPv6" \
	    has_line "$T/c.err" "tlsnc: Connected to [::1]:$LPORT"
	check "-6: data" same_data "$T/small" "$T/l.out"
else
	not_ok "-6: listener did not start"
fi

# --- The listening port given by -p.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l -p 0; then
	check "-l -p 0: readiness line with the real port" \
	    test "$LPORT" -gt 0
	kill "$LPID" 2>/dev/null
	listener_status 10
else
	not_ok "-l -p 0: listener did not start"
fi

# --- -s and -p on the client: the source address and port.  The source port
# is one the kernel just handed out (the listener above), now free again.
SPORT=$LPORT
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 127.0.0.1 0; then
	client "$T/c.out" "$T/c.err" "$T/small" -v -s 127.0.0.2 \
	    -p "$SPORT" 127.0.0.1 "$LPORT"
	listener_status
	both_ok "-s 127.0.0.2 -p $SPORT"
	check "-s -p: the listener saw the source address and port" has_line \
	    "$T/l.err" "tlsnc: Connection from 127.0.0.2:$SPORT"
	check "-s -p: data" same_data "$T/small" "$T/l.out"
else
	not_ok "-s -p: listener did not start"
fi

# --- A service name as the port: https is 443, where nothing listens.
if ss -ltnH 2>/dev/null | awk '{ print $4 }' | grep -q '^127\.0\.0\.1:443$\|^0\.0\.0\.0:443$\|^\*:443$\|^\[::\]:443$'; then
	skip 2 "something listens on port 443"
else
	if [ ! -r /etc/services ]; then
		diag "/etc/services is missing: the service name https cannot" \
		    "be looked up (on Debian, install netbase)"
	fi
	client "$T/c.out" "$T/c.err" /dev/null -w 5 127.0.0.1 https
	check "service name: exit status 1" status_is 1 "$CST"
	check "service name: https resolved to port 443" has_line "$T/c.err" \
	    "tlsnc: connect to 127.0.0.1 port 443: Connection refused"
fi

# --- A TLS client meets a plain listener: no hang, a handshake failure.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 0; then
	client "$T/c.out" "$T/c.err" /dev/null -w 5 --ssl --ssl-no-verify \
	    127.0.0.1 "$LPORT"
	listener_status
	check "TLS to plain: client exit status 4" status_is 4 "$CST"
	check "TLS to plain: client names the handshake problem" has_line \
	    "$T/c.err" "tlsnc: TLS handshake: the peer closed the connection (is it speaking TLS?)"
	check "TLS to plain: listener exit status 0" status_is 0 "$LST"
	check "TLS to plain: the listener got a ClientHello" \
	    test "$(head -c 1 "$T/l.out" | od -An -tx1 | tr -d ' ')" = 16
	check "TLS to plain: the listener (-v) suggests --ssl" has_line \
	    "$T/l.err" "tlsnc: warning: the peer began a TLS handshake; use --ssl to speak TLS"
else
	not_ok "TLS to plain: listener did not start"
fi

done_testing

#!/bin/sh
# -U: Unix sockets.  Stream sessions both ways with tlsnc and socat as
# peers; datagram boundaries (dgram.py) with the client's own reply path
# removed at exit and after SIGTERM; the abstract namespace; a stale socket
# file (named, kept, then removed with --unlink); a path that is not a
# socket, never removed; a live listener; the listener's own file removed
# at exit and on SIGTERM; TLS over -U with a pin; -U -k -e; three
# datagram peers under -k -u -U; usage errors.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

DGRAM="$TOP_SRCDIR/tests/integration/dgram.py"
TRY="Try 'tlsnc --help' for more information."
S="$T/sock"
ABS="@tlsnc-test-$$"

random_file "$T/in" 1

# listen_unix OUT ERR IN ARGS...: as listen_tlsnc, for a -U listener (no
# port to read).
listen_unix() {
	_out=$1 _err=$2 _in=$3
	shift 3
	: > "$_err"
	"$TLSNC" -v "$@" < "$_in" > "$_out" 2> "$_err" &
	LPID=$!
	BG_PIDS="$BG_PIDS $LPID"
	wait_for "$_err" "Listening on"
}

# wait_for_sock PATH: poll until a socket file is at PATH (at most 10 s).
wait_for_sock() {
	_i=0
	while [ ! -S "$1" ] && [ "$_i" -lt 500 ]; do
		sleep 0.02
		_i=$((_i + 1))
	done
	[ -S "$1" ]
}

# gone PATH: nothing is at PATH.
# shellcheck disable=SC2317  # called through check
gone() {
	if [ ! -e "$1" ] && [ ! -L "$1" ]; then
		return 0
	fi
	diag "$1 is still there"
	return 1
}

# --- Streams.

listen_unix "$T/s1.out" "$T/s1.err" /dev/null -l -U "$S"
check "-l -U: the readiness line names the whole path" \
    has_line "$T/s1.err" "tlsnc: Listening on $S"
client "$T/c1.out" "$T/c1.err" "$T/in" -U "$S"
listener_status
both_ok "-U stream, tlsnc to tlsnc"
check "-U stream: 1 MiB arrived" same_data "$T/in" "$T/s1.out"
check "-l -U: the listener removed its socket file at exit" gone "$S"

socat -u "UNIX-LISTEN:$S" "CREATE:$T/s2.out" &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
wait_for_sock "$S"
client "$T/c2.out" "$T/c2.err" "$T/in" -U "$S"
wait_pid "$SPID" 20
check "-U to socat UNIX-LISTEN: status 0" status_is 0 "$CST"
check "-U to socat UNIX-LISTEN: 1 MiB arrived" same_data "$T/in" "$T/s2.out"
rm -f "$S"

listen_unix "$T/s3.out" "$T/s3.err" /dev/null -l -U "$S"
run_limited 20 socat -u "OPEN:$T/in" "UNIX-CONNECT:$S"
listener_status
check "socat UNIX-CONNECT to -l -U: status 0" status_is 0 "$LST"
check "socat UNIX-CONNECT to -l -U: 1 MiB arrived" \
    same_data "$T/in" "$T/s3.out"

# --- Datagrams.

check "-U -u connect: 1, 1400 and 65507 bytes, one datagram each way" \
    python3 "$DGRAM" connect "$TLSNC" -U 1 1400 65507
check "-U -u listen: 1, 1400 and 65507 bytes, one datagram each way" \
    python3 "$DGRAM" listen "$TLSNC" -U 1 1400 65507

mkdir "$T/tmpd"
socat "UNIX-RECVFROM:$T/echo.sock,fork" EXEC:cat &
BG_PIDS="$BG_PIDS $!"
wait_for_sock "$T/echo.sock"
hold "$T/hold"
TMPDIR="$T/tmpd" "$TLSNC" -v -u -U "$T/echo.sock" < "$T/hold" \
    > "$T/d.out" 2> "$T/d.err" &
CPID=$!
BG_PIDS="$BG_PIDS $CPID"
wait_for "$T/d.err" "Connected to"
# The reply comes back to the client's own path, through socat's echo.
exec 3> "$T/hold"
printf 'ping\n' >&3
wait_for "$T/d.out" "ping"
check "-U -u client: its reply path is in TMPDIR while it runs" \
    test "$(find "$T/tmpd" -name 'tlsnc-dgram.*.sock' -type s | wc -l)" -eq 1
kill -TERM "$CPID"
wait_pid "$CPID" 10
CST=$?
exec 3>&-
unhold
check "-U -u client: SIGTERM ends it (status 143)" status_is 143 "$CST"
check "-U -u client: the reply path is gone after SIGTERM" \
    test -z "$(ls -A "$T/tmpd")"

# shellcheck disable=SC2016  # $l belongs to the inner shell
listen_unix "$T/dk.out" "$T/dk.err" /dev/null -l -k -u \
    -c 'while read -r l; do echo "re:$l"; done' -U "$T/dk.sock"
check "-l -k -u -U -c: three peers each get only their own replies" \
    python3 "$DGRAM" peers "$T/dk.sock" 3
kill -TERM "$LPID"
listener_status 10
check "-l -k -u -U: SIGTERM ends it with status 0" status_is 0 "$LST"
check "-l -k -u -U: its socket file is gone" gone "$T/dk.sock"

# --- The abstract namespace.

listen_unix "$T/a.out" "$T/a.err" /dev/null -l -U "$ABS"
check "-l -U @name: the readiness line names it" \
    has_line "$T/a.err" "tlsnc: Listening on $ABS"
client "$T/ca.out" "$T/ca.err" "$T/in" -U "$ABS"
listener_status
both_ok "-U @name"
check "-U @name: 1 MiB arrived" same_data "$T/in" "$T/a.out"
check "-U @name: no file was made" gone "./$ABS"

# --- Stale files, other files, live listeners.

python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])' "$S"
"$TLSNC" -l -U "$S" < /dev/null > "$T/st.out" 2> "$T/st.err"
check "a stale socket file: status 1" test $? -eq 1
check "a stale socket file: says so and names --unlink" has_line \
    "$T/st.err" "tlsnc: cannot listen on $S: a stale socket file is there (left by a listener that is gone: connecting is refused); add --unlink to remove it"
check "a stale socket file: it is not removed without --unlink" test -S "$S"
listen_unix "$T/su.out" "$T/su.err" /dev/null -l --unlink -U "$S"
check "--unlink: says it removed the stale file" \
    has_line "$T/su.err" "tlsnc: removed the stale socket file $S (--unlink)"
"$TLSNC" -l --unlink -U "$S" < /dev/null > "$T/live.out" 2> "$T/live.err"
check "a live listener's path: status 1, even with --unlink" test $? -eq 1
check "a live listener's path: says so" has_line "$T/live.err" \
    "tlsnc: cannot listen on $S: another listener is using it"
client "$T/cu.out" "$T/cu.err" "$T/in" -U "$S"
listener_status
both_ok "--unlink, then a session"

printf 'precious\n' > "$T/file"
"$TLSNC" -l --unlink -U "$T/file" < /dev/null > "$T/f.out" 2> "$T/f.err"
check "a path that is not a socket: status 1" test $? -eq 1
check "a path that is not a socket: says so" has_line "$T/f.err" \
    "tlsnc: cannot listen on $T/file: it exists and is not a socket (it is left alone)"
check "a path that is not a socket: never removed" has_line "$T/file" \
    "precious"

listen_unix "$T/t.out" "$T/t.err" /dev/null -l -U "$S"
kill -TERM "$LPID"
listener_status 10
check "-l -U waiting for a client: SIGTERM ends it (status 143)" \
    status_is 143 "$LST"
check "-l -U: SIGTERM removes its socket file" gone "$S"

# --- TLS over -U.

listen_unix "$T/tls.out" "$T/tls.err" /dev/null -l --ssl -U "$S"
PIN=$(pin_of "$T/tls.err")
check "--ssl -l -U: the hint names -U and the path" has_line "$T/tls.err" \
    "tlsnc: connect with: tlsnc --ssl --ssl-pin $PIN -U $S"
client "$T/ct.out" "$T/ct.err" "$T/in" --ssl --ssl-pin "$PIN" -U "$S"
listener_status
both_ok "--ssl -U with a pin"
check "--ssl -U: 1 MiB arrived" same_data "$T/in" "$T/tls.out"

# --- -k -e.

listen_unix "$T/k.out" "$T/k.err" /dev/null -l -k -e cat -U "$S"
printf 'one\n' > "$T/k1"
printf 'two\n' > "$T/k2"
client "$T/ck1.out" "$T/ck1.err" "$T/k1" -U "$S"
K1=$CST
client "$T/ck2.out" "$T/ck2.err" "$T/k2" -U "$S"
K2=$CST
kill -TERM "$LPID"
listener_status 10
check "-U -k -e cat: both clients exit 0" test "$K1$K2" = 00
check "-U -k -e cat: each got its own echo" \
    test "$(cat "$T/ck1.out")/$(cat "$T/ck2.out")" = one/two
check "-U -k: SIGTERM ends it with status 0" status_is 0 "$LST"
check "-U -k: its socket file is gone" gone "$S"

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
# --- --broker over a Unix stream socket: what one client sends reaches the
# other, whose stdin stays open until it has it.
B="$T/broker.sock"
if listen_unix "$T/b.out" "$T/b.err" /dev/null -l -U "$B" --broker; then
	hold "$T/r.in"
	"$TLSNC" -U "$B" < "$T/r.in" > "$T/r.out" 2> "$T/r.err" &
	RPID=$!
	BG_PIDS="$BG_PIDS $RPID"
	wait_for "$T/b.err" "Connection from" 10
	printf 'over the broker\n' > "$T/msg"
	run_limited 30 "$TLSNC" -U "$B" < "$T/msg" > /dev/null 2> "$T/s.err"
	check "--broker -U: the sender exits 0" status_is 0 $?
	wait_for "$T/r.out" "over the broker" 10
	check "--broker -U: the other client got the line" same_data \
	    "$T/msg" "$T/r.out"
	unhold
	wait_pid "$RPID" 30 > /dev/null
	kill -TERM "$LPID"
	wait_pid "$LPID" 30 > /dev/null
else
	not_ok "--broker -U: the listener did not start"
fi

LONG=$(printf '%0108d' 0)
usage_case "-U without a path" \
    "no socket path given (tlsnc -U [-l] path)" -U
usage_case "-U with two paths" \
    "too many arguments: 'b' (-U takes one path)" -U a b
usage_case "-U with a path of 108 bytes" \
    "-U: the path is 108 bytes long; a Unix socket path holds at most 107" \
    -U "$LONG"
usage_case "-U with an empty abstract name" \
    "-U: empty abstract socket name after '@'" -U @
usage_case "-U with -p" "cannot use -p and -U together: a Unix socket has a path, not a port" \
    -l -p 9 -U "$S"
usage_case "-U with -4" "cannot use -4 and -U together" -4 -U "$S"
usage_case "-U with -z" "cannot use -z and -U together" -z -U "$S"
usage_case "--ssl -U client without a name or pin" \
    "--ssl with -U needs --ssl-servername NAME or --ssl-pin: a socket path is no host name to verify the server against" \
    --ssl -U "$S"
usage_case "--unlink without -l" "--unlink needs -l and -U" --unlink -U "$S"

done_testing

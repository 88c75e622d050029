# Shared by the integration tests: TAP output, temp dirs, background
# processes, readiness waits and the test PKI.  Source it from a test script.
#
# Environment (set by the Makefile): TLSNC, TOP_SRCDIR, TOP_BUILDDIR.

set -u
: "${TLSNC:?TLSNC must name the tlsnc binary}"
: "${TOP_SRCDIR:?}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"

TAP_N=0
TAP_FAILED=0
BG_PIDS=""
T=$(mktemp -d "${TMPDIR:-/tmp}/tlsnc-test.XXXXXX")

cleanup() {
	for p in $BG_PIDS; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}

not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}

# diag TEXT...: a TAP comment; each line of a file with diag_file.
diag() {
	echo "# $*"
}

diag_file() {
	[ -f "$1" ] && sed 's/^/#   /' "$1" | head -n 40
	return 0
}

# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
	_desc=$1
	shift
	if "$@"; then
		ok "$_desc"
	else
		not_ok "$_desc"
	fi
}

done_testing() {
	echo "1..$TAP_N"
	exit 0
}

# wait_for FILE PATTERN [SECONDS]: poll until a line matches (default
# WAIT_FOR_SECS, or 10 s).
wait_for() {
	_f=$1 _pat=$2 _limit=$(( ${3:-${WAIT_FOR_SECS:-10}} * 50 ))
	_i=0
	while [ "$_i" -lt "$_limit" ]; do
		grep -q -- "$_pat" "$_f" 2>/dev/null && return 0
		sleep 0.02
		_i=$((_i + 1))
	done
	diag "timed out waiting for '$_pat' in $_f"
	diag_file "$_f"
	return 1
}

# listen_tlsnc OUT ERR IN ARGS...: start "tlsnc -v ARGS" in the background
# with stdin from IN, stdout to OUT, stderr to ERR; wait for its readiness
# line.  Sets LPID and LPORT.
listen_tlsnc() {
	_out=$1 _err=$2 _in=$3
	shift 3
	: > "$_err"
	"$TLSNC" -v "$@" < "$_in" > "$_out" 2> "$_err" &
	LPID=$!
	BG_PIDS="$BG_PIDS $LPID"
	LPORT=""
	wait_for "$_err" "Listening on" || return 1
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$_err" | head -n 1)
	[ -n "$LPORT" ]
}

# pin_of ERR: the SHA256 pin an ephemeral listener printed.
pin_of() {
	sed -n 's/^tlsnc: ephemeral certificate \(SHA256:[0-9a-f]*\)$/\1/p' \
	    "$1" | head -n 1
}

# bg COMMAND...: start a peer in the background; sets BGPID.  Under dash a
# redirection of stdin written on the call ("bg cmd < file") is not seen by
# the command, which reads /dev/null: start such commands with & directly.
bg() {
	"$@" &
	BGPID=$!
	BG_PIDS="$BG_PIDS $BGPID"
}

# port_of_pid PID [ADDR-PATTERN]: wait until PID listens on TCP and print the
# port (the first matching local address; default 0.0.0.0 or *).
port_of_pid() {
	_pid=$1 _pat=${2:-'^(0\.0\.0\.0|\*|\[::\]):'}
	_i=0
	while [ "$_i" -lt 500 ]; do
		_p=$(ss -ltnpH 2>/dev/null | awk -v pid="pid=$_pid," \
		    'index($0, pid) { print $4 }' | grep -E -- "$_pat" |
		    head -n 1 | sed 's/.*://')
		if [ -n "$_p" ]; then
			echo "$_p"
			return 0
		fi
		kill -0 "$_pid" 2>/dev/null || return 1
		sleep 0.02
		_i=$((_i + 1))
	done
	return 1
}

# wait_pid PID [SECONDS]: wait for a background process, at most SECONDS
# (default 60), killing it after that.  Returns its exit status (or 124).
wait_pid() {
	_pid=$1 _limit=$(( ${2:-60} * 50 ))
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		if [ "$_i" -ge "$_limit" ]; then
			diag "process $_pid did not end in ${2:-60} s; killing it"
			kill "$_pid" 2>/dev/null
			wait "$_pid" 2>/dev/null
			return 124
		fi
		sleep 0.02
		_i=$((_i + 1))
	done
	wait "$_pid"
}

# run_limited SECONDS COMMAND...: run in the foreground with a time limit.
run_limited() {
	_s=$1
	shift
	timeout -k 5 "$_s" "$@"
}

# random_file FILE MIB: MIB mebibytes of random data.
random_file() {
	head -c "$(( $2 * 1048576 ))" /dev/urandom > "$1"
}

sha() {
	sha256sum < "$1" | cut -d' ' -f1
}

# same_data A B: the two files have the same sha256 (diagnosed if not).
same_data() {
	if [ "$(sha "$1")" = "$(sha "$2")" ]; then
		return 0
	fi
	diag "$1: $(wc -c < "$1") bytes, $2: $(wc -c < "$2") bytes"
	return 1
}

# pki: make the test PKI once per build tree, and again whenever
# certs/mkpki.sh changes (its sha256 is kept in .done); sets PKI.
pki() {
	PKI="$TOP_BUILDDIR/tests/tmp/pki"
	_stamp=$(sha256sum < "$TOP_SRCDIR/certs/mkpki.sh" | cut -d' ' -f1)
	[ "$(cat "$PKI/.done" 2>/dev/null)" = "$_stamp" ] && return 0
	# Tests run in parallel: build aside, then rename into place.
	mkdir -p "$TOP_BUILDDIR/tests/tmp"
	_new=$(mktemp -d "$TOP_BUILDDIR/tests/tmp/pki.XXXXXX")
	sh "$TOP_SRCDIR/certs/mkpki.sh" "$_new" >&2 || return 1
	echo "$_stamp" > "$_new/.done"
	# A stale one goes aside first; a parallel test may have won the race.
	if [ -d "$PKI" ] && [ "$(cat "$PKI/.done" 2>/dev/null)" != "$_stamp" ]
	then
		mv -T "$PKI" "$PKI.old.$$" 2>/dev/null && rm -rf "$PKI.old.$$"
	fi
	mv -T "$_new" "$PKI" 2>/dev/null || rm -rf "$_new"
	[ "$(cat "$PKI/.done" 2>/dev/null)" = "$_stamp" ]
}

# has_line FILE TEXT: FILE has a line equal to TEXT.
has_line() {
	if grep -qxF -- "$2" "$1"; then
		return 0
	fi
	diag "expected the line: $2"
	diag_file "$1"
	return 1
}

# has_text FILE TEXT: FILE contains TEXT.
has_text() {
	if grep -qF -- "$2" "$1"; then
		return 0
	fi
	diag "expected text: $2"
	diag_file "$1"
	return 1
}

# not_has_text FILE TEXT: FILE does not contain TEXT.
not_has_text() {
	if ! grep -qF -- "$2" "$1"; then
		return 0
	fi
	diag "unexpected text: $2"
	diag_file "$1"
	return 1
}

# status_is WANT GOT: compare exit statuses.
status_is() {
	if [ "$1" = "$2" ]; then
		return 0
	fi
	diag "expected exit status $1, got $2"
	return 1
}

# client OUT ERR IN ARGS...: run "tlsnc ARGS" with a time limit; sets CST.
client() {
	_co=$1 _ce=$2 _ci=$3
	shift 3
	run_limited 60 "$TLSNC" "$@" < "$_ci" > "$_co" 2> "$_ce"
	CST=$?
}

# listener_status [SECONDS]: wait for the listener (LPID); sets LST.
listener_status() {
	wait_pid "$LPID" "${1:-30}"
	LST=$?
}

# both_ok WHAT: the client (CST) and the listener (LST) both exited 0.
both_ok() {
	check "$1: client exit status 0" status_is 0 "$CST"
	check "$1: listener exit status 0" status_is 0 "$LST"
}

# hold FIFO: make FIFO and keep a writer open on it until unhold, so that
# its reader never sees EOF; sets HPID.  The writer opens in the background
# (the open waits for a reader).
hold() {
	rm -f "$1"
	mkfifo "$1"
	sleep 600 > "$1" &
	HPID=$!
	BG_PIDS="$BG_PIDS $HPID"
}

unhold() {
	kill "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
	return 0
}

# skip N REASON: N skipped cases.
skip() {
	_n=$1
	while [ "$_n" -gt 0 ]; do
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N # SKIP $2"
		_n=$((_n - 1))
	done
}

# size_of FILE: its size in bytes (0 if missing).
size_of() {
	if [ -f "$1" ]; then
		wc -c < "$1" | tr -d ' '
	else
		echo 0
	fi
}

# feed HOLD IN [OUT BYTES]: copy IN to stdout, then keep stdout open while
# HOLD exists and, when OUT is given, until OUT holds BYTES bytes; at most
# 180 s.  It stands for a stdin that reaches EOF only once the other
# direction has been delivered.
feed() {
	cat "$2" 2>/dev/null
	_fi=0
	while [ -e "$1" ] && [ "$_fi" -lt 9000 ]; do
		if [ $# -ge 4 ] && [ "$(size_of "$3")" -ge "$4" ]; then
			break
		fi
		sleep 0.02
		_fi=$((_fi + 1))
	done
}

# feed_fifo FIFO HOLD IN [OUT BYTES]: make FIFO and start feed into it in
# the background, as a job of its own so that waiting for the reader does
# not wait for the feeder too.
feed_fifo() {
	_ff=$1
	shift
	rm -f "$_ff"
	mkfifo "$_ff" || return 1
	feed "$@" > "$_ff" &
	BG_PIDS="$BG_PIDS $!"
}

# fp_of_pem: the fingerprint of the first certificate on stdin, spelt as
# tlsnc prints it (SHA256:lowercase-hex).
fp_of_pem() {
	openssl x509 -noout -fingerprint -sha256 |
	    sed -n 's/^sha256 Fingerprint=//ip' | tr -d ':' | tr 'A-F' 'a-f' |
	    sed 's/^/SHA256:/'
}

# json_true FILE EXPR: FILE holds JSON objects, one per line, each of which
# must parse, and the python expression EXPR is true over objs (all of
# them), o (the first) and by_port (the objects by their "port" key, for
# a -z report).  The environment is in env.  On failure the objects are
# printed as TAP comments.
json_true() {
	python3 -c '
import json, os, sys
env = os.environ
objs = []
try:
    objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    o = objs[0] if objs else None
    by_port = {x["port"]: x for x in objs if "port" in x}
    ok = bool(eval("(" + sys.argv[2] + "\n)"))
except Exception as e:
    print("# " + repr(e))
    ok = False
if not ok:
    print("# expected: " + sys.argv[2])
    for x in objs:
        print("#   " + json.dumps(x)[:2000])
sys.exit(0 if ok else 1)' "$1" "$2"
}

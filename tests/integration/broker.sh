#!/bin/sh
# --broker and --chat: clients talk to each other through the listener.
# Plain and with --ssl (an ephemeral certificate the clients pin): fan-out
# to 20 clients, byte-exact and none back to the sender; 20 chat clients
# at once; chat prefixes, escaping, long and partial lines, joins and
# leaves (not of a client that fails its handshake); standard input as
# <user0>; standard output left alone; a client that never reads beside
# fast ones; -m; SIGTERM; usage errors.  The
# clients are tests/integration/broker_client.py (many sockets in one
# process), tlsnc itself and Python.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

HELPER="$TOP_SRCDIR/tests/integration/broker_client.py"
NFAN=20
MIB=1048576

# count_of FILE ERE: how many lines of FILE match ERE.
count_of() {
	_cc=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${_cc:-0}"
}

# wait_count FILE ERE N: poll until N lines of FILE match ERE (20 s).
wait_count() {
	_wi=0
	while [ "$(count_of "$1" "$2")" -lt "$3" ]; do
		if [ "$_wi" -ge 1000 ]; then
			diag "timed out waiting for $3 lines matching '$2'"
			diag_file "$1"
			return 1
		fi
		sleep 0.02
		_wi=$((_wi + 1))
	done
}

# results FILE N WHAT: the helper's "ok NAME" and "fail NAME: WHY" lines as
# TAP cases; fewer than N lines is a failure of its own.
results() {
	_rn=0
	while IFS= read -r _line; do
		case $_line in
		"ok "*) ok "${_line#ok }" ;;
		*) not_ok "${_line#fail }" ;;
		esac
		_rn=$((_rn + 1))
	done < "$1"
	if [ "$_rn" -lt "$2" ]; then
		not_ok "$3: $_rn of $2 results"
	fi
}

# broker NAME IN ARGS...: a listener "tlsnc -v -l ARGS 127.0.0.1 0" with
# stdin from IN, output in $T/NAME.out and .err; sets LPID, LPORT and PIN
# ("-" without --ssl).
broker() {
	_bn=$1 _bi=$2
	shift 2
	PIN=-
	case " $* " in
	*" --ssl "*) PIN=x ;;
	esac
	# -vv: a TLS client's handshake summary says it has joined.
	if [ "$PIN" = x ]; then
		set -- -v "$@"
	fi
	listen_tlsnc "$T/$_bn.out" "$T/$_bn.err" "$_bi" -l "$@" 127.0.0.1 0 ||
	    return 1
	if [ "$PIN" = x ]; then
		PIN=$(pin_of "$T/$_bn.err")
	fi
}

# joined ERR N: N clients have joined the broker: connected, and with TLS
# through their handshake (which -vv reports).
joined() {
	if [ "$PIN" = - ]; then
		wait_count "$1" '^tlsnc: Connection from' "$2"
	else
		# The summary's first line; "TLS session: ..." follows it.
		wait_count "$1" '^tlsnc: TLS .*, cipher ' "$2"
	fi
}

# stop NAME WHAT: SIGTERM ends the listener with status 0.
stop() {
	kill -TERM "$LPID" 2>/dev/null
	listener_status 30
	check "$2: SIGTERM ends the listener with status 0" status_is 0 "$LST"
}

# shellcheck disable=SC2317  # called through check
empty_file() {
	[ ! -s "$1" ] && return 0
	diag "$1 is not empty"
	diag_file "$1"
	return 1
}

fan_out() {
	_m=$1
	shift
	broker "fan$_m" /dev/null --broker "$@" || {
		not_ok "$_m: broker listens"
		return
	}
	BROKER_GO=$T/go.$_m
	export BROKER_GO
	python3 "$HELPER" rounds "$LPORT" "$PIN" "$NFAN" 32768 \
	    > "$T/fan$_m.res" 2>&1 &
	_py=$!
	BG_PIDS="$BG_PIDS $_py"
	joined "$T/fan$_m.err" "$NFAN" &&
	    : > "$BROKER_GO"
	wait_pid "$_py" 120
	results "$T/fan$_m.res" 1 "$_m: fan-out"
	check "$_m: the broker writes nothing to stdout" empty_file \
	    "$T/fan$_m.out"
	stop "fan$_m" "$_m: broker"
}

chat() {
	_m=$1
	shift
	broker "chat$_m" /dev/null --chat "$@" || {
		not_ok "$_m: chat listens"
		return
	}
	run_limited 120 python3 "$HELPER" chat-many "$LPORT" "$PIN" "$NFAN" \
	    50 > "$T/many$_m.res" 2>&1
	results "$T/many$_m.res" 2 "$_m: chat with $NFAN clients"
	run_limited 60 python3 "$HELPER" chat-cases "$LPORT" "$PIN" \
	    > "$T/cases$_m.res" 2>&1
	results "$T/cases$_m.res" 9 "$_m: chat cases"
	if [ "$PIN" != - ]; then
		run_limited 60 python3 "$HELPER" ghost "$LPORT" "$PIN" \
		    > "$T/ghost.res" 2>&1
		results "$T/ghost.res" 1 "$_m: chat and a failed handshake"
	fi
	check "$_m: chat: a join is logged with its number under -v" \
	    has_text "$T/chat$_m.err" "as <user1>"
	stop "chat$_m" "$_m: chat"

	printf 'from the server\n' > "$T/server$_m.in"
	broker "server$_m" "$T/server$_m.in" --chat "$@" || {
		not_ok "$_m: chat listens"
		return
	}
	run_limited 60 python3 "$HELPER" server-line "$LPORT" "$PIN" \
	    > "$T/server$_m.res" 2>&1
	results "$T/server$_m.res" 1 "$_m: stdin as <user0>"
	stop "server$_m" "$_m: chat with input"
}

# A client that never reads (a 2 KiB receive buffer) beside three that
# read all: the sender is never held up, the three get every byte, and the
# slow one is dropped with how much it missed.
slow_client() {
	_m=$1
	shift
	random_file "$T/big" 8
	broker "slow$_m" /dev/null --broker "$@" || {
		not_ok "$_m: broker listens"
		return
	}
	python3 "$HELPER" slow "$LPORT" "$PIN" "$T/slow$_m.ready" \
	    > "$T/slow$_m.res" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	joined "$T/slow$_m.err" 1
	_readers=""
	for _r in 1 2 3; do
		python3 "$HELPER" read "$LPORT" "$PIN" $((8 * MIB)) \
		    "$T/fast$_m.$_r" > "$T/fast$_m.$_r.res" 2>&1 &
		_readers="$_readers $!"
		BG_PIDS="$BG_PIDS $!"
	done
	joined "$T/slow$_m.err" 4
	if [ "$PIN" = - ]; then
		client "$T/sender.out" "$T/sender.err" "$T/big" 127.0.0.1 \
		    "$LPORT"
	else
		client "$T/sender.out" "$T/sender.err" "$T/big" --ssl \
		    --ssl-pin "$PIN" 127.0.0.1 "$LPORT"
	fi
	check "$_m: slow client: the sender ends with status 0" \
	    status_is 0 "$CST"
	for _p in $_readers; do
		wait_pid "$_p" 60
	done
	for _r in 1 2 3; do
		diag_file "$T/fast$_m.$_r.res"
		check "$_m: slow client: fast reader $_r got all 8 MiB" \
		    same_data "$T/big" "$T/fast$_m.$_r"
	done
	wait_for "$T/slow$_m.err" 'dropped: it fell' 10
	check "$_m: slow client: dropped with a warning of what it missed" \
	    grep -qE "^tlsnc: 127\.0\.0\.1:[0-9]+: dropped: it fell more than \
1024 KiB behind the others; [0-9]+ bytes were not sent to it$" \
	    "$T/slow$_m.err"
	_missed=$(sed -n 's/.*; \([0-9]*\) bytes were not sent to it$/\1/p' \
	    "$T/slow$_m.err" | head -n 1)
	check "$_m: slow client: it missed more than 1 MiB" \
	    test "${_missed:-0}" -gt "$MIB"
	check "$_m: slow client: only the slow one was dropped" \
	    test "$(count_of "$T/slow$_m.err" 'dropped')" -eq 1
	stop "slow$_m" "$_m: slow client"
}

max_conns() {
	broker maxc /dev/null --broker -m 2 || {
		not_ok "-m: broker listens"
		return
	}
	for _h in 1 2; do
		python3 "$HELPER" hold "$LPORT" - "$T/hold.$_h" \
		    > "$T/hold.$_h.res" 2>&1 &
		BG_PIDS="$BG_PIDS $!"
	done
	wait_count "$T/maxc.err" '^tlsnc: Connection from' 2
	client "$T/third.out" "$T/third.err" /dev/null 127.0.0.1 "$LPORT"
	wait_for "$T/maxc.err" 'refused' 10
	check "broker -m 2: a third client is refused" has_text \
	    "$T/maxc.err" "refused: 2 clients already connected (-m 2)"
	stop maxc "broker -m 2"
}

# usage STATUS MESSAGE ARGS...
usage() {
	_us=$1 _um=$2
	shift 2
	run_limited 10 "$TLSNC" "$@" < /dev/null > "$T/u.out" 2> "$T/u.err"
	_got=$?
	check "usage: tlsnc $*: status $_us" status_is "$_us" "$_got"
	check "usage: tlsnc $*: says so" has_line "$T/u.err" "tlsnc: $_um"
}

usage 2 "--broker needs -l" --broker 127.0.0.1 9
usage 2 "--chat needs -l" --chat 127.0.0.1 9
usage 2 "cannot use --broker and -e together" -l --broker -e cat 0
usage 2 "cannot use --chat and -c together" -l --chat -c cat 0
usage 2 "cannot use --broker and -u together" -l -u --broker 0
usage 2 "cannot use --chat and -u together" -l -u --chat 0
usage 2 "cannot use -z and --broker together" -z --broker 127.0.0.1 1

if ! command -v python3 >/dev/null 2>&1; then
	skip 1 "python3 is not installed"
	done_testing
fi

BROKER_MODE="plain: "
export BROKER_MODE
fan_out plain
BROKER_MODE="tls: "
fan_out tls --ssl
BROKER_MODE="plain: "
chat plain
BROKER_MODE="tls: "
chat tls --ssl
slow_client plain
slow_client tls --ssl
BROKER_MODE="plain: "
max_conns

done_testing

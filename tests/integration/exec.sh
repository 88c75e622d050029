#!/bin/sh
# -e PROG and -c CMD: a program on each connection, plain and with --ssl
# (an ephemeral certificate that the clients pin).  An echo of 1 MiB both
# ways, a child that answers after the peer's EOF, a child that exits
# early, connect mode, 20 clients at once under -k each with a child of
# its own, no zombies, SIGTERM and SIGKILL for a child that outlives its
# connection, and the usage errors.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

ST_USAGE=2
NCLIENTS=20
TRY="Try 'tlsnc --help' for more information."

random_file "$T/in" 1

# start_listener NAME MODE ARGS...: "tlsnc -v -l [--ssl] ARGS 127.0.0.1 0"
# with stdin from /dev/null; sets LPID, LPORT and CARGS (what a client of
# it adds: nothing, or --ssl and the pin).
start_listener() {
	_n=$1 _mode=$2
	shift 2
	CARGS=""
	if [ "$_mode" = ssl ]; then
		listen_tlsnc "$T/$_n.lout" "$T/$_n.lerr" /dev/null -l --ssl \
		    "$@" 127.0.0.1 0 || return 1
		CARGS="--ssl --ssl-pin $(pin_of "$T/$_n.lerr")"
	else
		listen_tlsnc "$T/$_n.lout" "$T/$_n.lerr" /dev/null -l "$@" \
		    127.0.0.1 0 || return 1
	fi
}

# no_children PID [SECONDS]: poll until PID has no child processes left,
# running or defunct (default 10 s).
no_children() {
	_i=0
	while [ "$_i" -lt $(( ${2:-10} * 50 )) ]; do
		if [ -z "$(ps --ppid "$1" -o pid= 2>/dev/null)" ]; then
			return 0
		fi
		sleep 0.02
		_i=$((_i + 1))
	done
	diag "children of $1 left:"
	ps --ppid "$1" -o pid=,stat=,args= | sed 's/^/#   /'
	return 1
}

# no_group PGID: poll until no process is left in the group (up to 10 s).
no_group() {
	_i=0
	while [ "$_i" -lt 500 ]; do
		if [ -z "$(ps -e -o pgid= | awk -v g="$1" '$1 == g')" ]; then
			return 0
		fi
		sleep 0.02
		_i=$((_i + 1))
	done
	diag "processes left in group $1:"
	ps -e -o pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g' |
	    sed 's/^/#   /'
	return 1
}

# same_line FILE TEXT: FILE is exactly the one line TEXT, blanks aside.
same_line() {
	if [ "$(tr -d ' \t' < "$1")" = "$2" ]; then
		return 0
	fi
	diag "expected '$2', got:"
	diag_file "$1"
	return 1
}

for mode in plain ssl; do
	# --- -l -e cat: 1 MiB goes to the child and comes back whole.
	n=echo-$mode
	if start_listener "$n" "$mode" -e cat; then
		# shellcheck disable=SC2086  # CARGS is a list of words
		client "$T/$n.out" "$T/$n.err" "$T/in" $CARGS 127.0.0.1 "$LPORT"
		listener_status
		both_ok "$mode -l -e cat"
		check "$mode -l -e cat: 1 MiB comes back whole" \
		    same_data "$T/in" "$T/$n.out"
		check "$mode -l -e cat: the child had all of it" has_line \
		    "$T/$n.lerr" "tlsnc: 1048576 bytes sent, 1048576 bytes received"
	else
		not_ok "$mode -l -e cat: the listener started"
	fi

	# --- -c 'wc -c': the child answers after the peer's EOF.
	n=wc-$mode
	if start_listener "$n" "$mode" -c 'wc -c'; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" "$T/in" $CARGS 127.0.0.1 "$LPORT"
		listener_status
		both_ok "$mode -l -c 'wc -c'"
		check "$mode -l -c 'wc -c': it counted 1 MiB after EOF" \
		    same_line "$T/$n.out" 1048576
	else
		not_ok "$mode -l -c 'wc -c': the listener started"
	fi

	# --- A child that exits early: its output still arrives; -v says
	# how it exited, and the listener's status is its own.
	n=early-$mode
	if start_listener "$n" "$mode" -c 'echo early; exit 3'; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" /dev/null $CARGS 127.0.0.1 \
		    "$LPORT"
		listener_status
		both_ok "$mode early exit"
		check "$mode early exit: its output arrived" \
		    same_line "$T/$n.out" early
		check "$mode early exit: -v reports the status" grep -qE \
		    '^tlsnc: the program \(pid [0-9]+\) exited with status 3$' \
		    "$T/$n.lerr"
	else
		not_ok "$mode early exit: the listener started"
	fi

	# --- Connect mode: tlsnc -e cat echoes what a listener sends.
	n=connect-$mode
	if [ "$mode" = ssl ]; then
		listen_tlsnc "$T/$n.lout" "$T/$n.lerr" "$T/in" -l --ssl \
		    127.0.0.1 0
		CARGS="--ssl --ssl-pin $(pin_of "$T/$n.lerr")"
	else
		listen_tlsnc "$T/$n.lout" "$T/$n.lerr" "$T/in" -l 127.0.0.1 0
		CARGS=""
	fi
	# shellcheck disable=SC2086
	client "$T/$n.out" "$T/$n.err" /dev/null -e cat $CARGS 127.0.0.1 \
	    "$LPORT"
	listener_status
	both_ok "$mode connect -e cat"
	check "$mode connect -e cat: 1 MiB comes back whole" \
	    same_data "$T/in" "$T/$n.lout"
	check "$mode connect -e cat: nothing on its stdout" test ! -s \
	    "$T/$n.out"

	# --- -k: 20 clients at once, each with its own echo child.
	n=keep-$mode
	if start_listener "$n" "$mode" -k -e cat; then
		pids=""
		i=1
		while [ "$i" -le $NCLIENTS ]; do
			head -c 262144 /dev/urandom > "$T/$n.in$i"
			# shellcheck disable=SC2086
			run_limited 60 "$TLSNC" $CARGS 127.0.0.1 "$LPORT" \
			    < "$T/$n.in$i" > "$T/$n.out$i" 2> "$T/$n.err$i" &
			pids="$pids $!"
			i=$((i + 1))
		done
		bad=0 i=1
		for p in $pids; do
			wait "$p" || bad=$((bad + 1))
			same_data "$T/$n.in$i" "$T/$n.out$i" || bad=$((bad + 1))
			i=$((i + 1))
		done
		check "$mode -k -e cat: $NCLIENTS clients get their own data back" \
		    status_is 0 "$bad"
		check "$mode -k -e cat: no child and no zombie left" \
		    no_children "$LPID"
		kill -TERM "$LPID"
		listener_status
		check "$mode -k -e cat: SIGTERM ends the listener" \
		    status_is 0 "$LST"
	else
		not_ok "$mode -k -e cat: the listener started"
	fi
done

# --- A child that outlives its connection gets SIGTERM; one that ignores
# it gets SIGKILL.  Each closes its stdout at once, so the session ends at
# the client's EOF while the child still runs.
n=kill
if start_listener "$n" plain -k -c \
    'trap "" TERM; exec >&-; echo started >&2; sleep 600'; then
	client "$T/$n.out" "$T/$n.err" /dev/null 127.0.0.1 "$LPORT"
	check "-k -c: the client of a child that ignores SIGTERM ends" \
	    status_is 0 "$CST"
	check "-k -c: the child ran" wait_for "$T/$n.lerr" started
	check "-k -c: SIGKILL ends it and it is reaped" no_children "$LPID"
	kill -TERM "$LPID"
	listener_status
	check "-k -c: SIGTERM ends the listener" status_is 0 "$LST"
else
	not_ok "-k -c: the listener started"
fi
# Without -k, tlsnc exits only once the child is gone.  This one starts a
# process of its own, then closes its stdout; SIGTERM must reach both.
n=term
if start_listener "$n" plain -c "trap 'echo terminated >&2; exit 0' TERM; \
    sleep 600 >&- & echo \$\$ > $T/term.pid; exec >&-; wait"
then
	client "$T/$n.out" "$T/$n.err" /dev/null 127.0.0.1 "$LPORT"
	listener_status 10
	both_ok "-l -c: a child that outlives its connection"
	check "-l -c: it got SIGTERM" has_line "$T/$n.lerr" terminated
	cpid=$(cat "$T/term.pid")
	check "-l -c: it was gone before tlsnc exited" \
	    test -n "$cpid" -a ! -d "/proc/$cpid"
	check "-l -c: and what it started is gone too" no_group "$cpid"
else
	not_ok "-l -c: the listener started"
fi

# --- Usage errors: status 2 and exactly these lines.
# usage_line DESC LINE ARGS...
usage_line() {
	_d=$1
	printf '%s\n%s\n' "$2" "$TRY" > "$T/want.err"
	shift 2
	run_limited 30 "$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_got=$?
	if status_is "$ST_USAGE" "$_got" && cmp -s "$T/want.err" "$T/err" &&
	    [ ! -s "$T/out" ]; then
		ok "$_d"
	else
		diag_file "$T/err"
		not_ok "$_d"
	fi
}
usage_line "-e with -c" "tlsnc: cannot use -e and -c together" \
    -e cat -c cat 127.0.0.1 9
usage_line "--exec with --sh-exec, listening" \
    "tlsnc: cannot use -e and -c together" -l --exec cat --sh-exec cat 0
usage_line "-e with --recv-only" \
    "tlsnc: cannot use -e and --recv-only together" \
    -e cat --recv-only 127.0.0.1 9
usage_line "-c with --recv-only" \
    "tlsnc: cannot use -c and --recv-only together" \
    -l -c cat --recv-only 0
usage_line "-e with no program" "tlsnc: -e needs a program" -e ' ' \
    127.0.0.1 9
usage_line "-e without its argument" \
    "tlsnc: option -e/--exec needs an argument" -l 0 -e

done_testing

#!/bin/sh
# -k with a program per connection, under load, over TLS:
#
# - 50 clients at once each send 1 MiB of random data to a program that
#   keeps a copy of what it receives (named by its TLSNC_REMOTE_PORT) and
#   echoes it: every byte is checked on the way in (the copies) and on the
#   way back (each client's output);
# - 200 connections, 25 at a time, to programs that answer, close their
#   stdout and stay behind, so that each must be killed when its session
#   ends: every answer arrives, and afterwards the listener has no child
#   left, running or zombie (read from /proc), and no descriptor more than
#   before.  These are plain TCP, since a TLS client process costs four
#   times as much on a loaded machine, and a program's life does not
#   depend on TLS once it has started; the 50 above are TLS.
#
# Nothing here waits on time: every wait is for a process or a file, with
# generous limits for a loaded machine.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

NECHO=50
NCONN=200
BATCH=25

# children_of PID: "pid state" of each process whose parent is PID, from
# /proc/*/stat: "pid (comm) state ppid ...", where comm may hold anything.
# A process may end while the list is read: its file is then skipped.
children_of() {
	_ppid=$1
	for _f in /proc/[0-9]*/stat; do
		{ read -r _line < "$_f"; } 2>/dev/null || continue
		# shellcheck disable=SC2086  # split the fields after comm
		set -- ${_line##*) }
		if [ "$2" = "$_ppid" ]; then
			_p=${_f#/proc/}
			echo "${_p%/stat} $1"
		fi
	done
}

# no_children_left PID: poll (up to 30 s) until PID has no child at all.
no_children_left() {
	_i=0
	while [ "$_i" -lt 1500 ]; do
		[ -z "$(children_of "$1")" ] && return 0
		sleep 0.02
		_i=$((_i + 1))
	done
	diag "children of $1 (pid state):"
	children_of "$1" | head -n 20 | sed 's/^/#   /'
	return 1
}

# eventually COMMAND...: poll (up to 30 s) until COMMAND succeeds; the
# listener may still be closing sessions whose clients have exited.
eventually() {
	_i=0
	while [ "$_i" -lt 1500 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.02
		_i=$((_i + 1))
	done
	"$@"
}

# count_is N PATTERN FILE: FILE has exactly N lines matching PATTERN.
count_is() {
	[ "$(grep -c -- "$2" "$3")" = "$1" ]
}

# same_count N FILE: FILE holds the number N.
same_count() {
	[ "$(cat "$2")" = "$1" ] && return 0
	diag "expected $1, got $(cat "$2")"
	return 1
}

# fds_of PID: how many descriptors PID has open.
fds_of() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l | tr -d ' '
}

# fds_are N PID: PID has N descriptors open (diagnosed if not).
fds_are() {
	_now=$(fds_of "$2")
	[ "$_now" = "$1" ] && return 0
	diag "$2 has $_now descriptors open, and had $1"
	return 1
}

# start_tls NAME ARGS...: a -k --ssl listener on 127.0.0.1; sets LPID,
# LPORT and CARGS.  -w gives each client's handshake time to spare.
start_tls() {
	_n=$1
	shift
	listen_tlsnc "$T/$_n.lout" "$T/$_n.lerr" /dev/null -l -k --ssl -w 120 \
	    "$@" 127.0.0.1 0 || return 1
	CARGS="--ssl --ssl-pin $(pin_of "$T/$_n.lerr") -w 120"
}

# --- 50 clients at once, 1 MiB each, through a program that echoes.
n=echo-tls
mkdir "$T/got"
if start_tls "$n" -c "tee '$T/got/'\"\$TLSNC_REMOTE_PORT\""; then
	i=1
	while [ "$i" -le "$NECHO" ]; do
		head -c 1048576 /dev/urandom > "$T/in$i"
		i=$((i + 1))
	done
	pids=""
	i=1
	while [ "$i" -le "$NECHO" ]; do
		# shellcheck disable=SC2086  # CARGS is a list of words
		run_limited 300 "$TLSNC" $CARGS 127.0.0.1 "$LPORT" \
		    < "$T/in$i" > "$T/out$i" 2> "$T/err$i" &
		pids="$pids $!"
		i=$((i + 1))
	done
	failed=0 i=1
	for p in $pids; do
		if ! wait "$p"; then
			failed=$((failed + 1))
			diag_file "$T/err$i"
		fi
		i=$((i + 1))
	done
	check "$NECHO TLS clients at once: every client exits 0" \
	    status_is 0 "$failed"
	# One sha256sum per set: client i's digests are on line i.
	i=1 ins="" outs=""
	while [ "$i" -le "$NECHO" ]; do
		ins="$ins $T/in$i" outs="$outs $T/out$i"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086  # lists of file names without blanks
	sha256sum $ins | cut -d' ' -f1 > "$T/in.sha"
	# shellcheck disable=SC2086
	sha256sum $outs | cut -d' ' -f1 > "$T/out.sha"
	check "$NECHO TLS clients at once: each gets its own 1 MiB back" \
	    cmp -s "$T/in.sha" "$T/out.sha"
	# The copies the programs kept are exactly what the clients sent.
	sort "$T/in.sha" > "$T/sent.sha"
	sha256sum "$T"/got/* | cut -d' ' -f1 | sort > "$T/got.sha"
	check "$NECHO TLS clients at once: the programs got every byte" \
	    cmp -s "$T/sent.sha" "$T/got.sha"
	check "$NECHO TLS clients at once: the listener counted every byte" \
	    eventually count_is "$NECHO" \
	    ': 1048576 bytes sent, 1048576 bytes received$' "$T/$n.lerr"
	check "$NECHO TLS clients at once: no child left" \
	    no_children_left "$LPID"
	kill -TERM "$LPID"
	listener_status
	check "$NECHO TLS clients at once: SIGTERM ends the listener" \
	    status_is 0 "$LST"
else
	not_ok "-k --ssl -c tee: the listener started"
fi

# --- 200 connections to programs that stay behind after their session.
n=many
printf 'hello\n' > "$T/hello"
if listen_tlsnc "$T/$n.lout" "$T/$n.lerr" /dev/null -l -k -c \
    'read l; echo "$l $TLSNC_REMOTE_PORT"; exec sleep 600 >&-' 127.0.0.1 0
then
	CARGS="-w 120"
	fds0=$(fds_of "$LPID")
	done_n=0 failed=0
	while [ "$done_n" -lt "$NCONN" ]; do
		pids="" i=0
		while [ "$i" -lt "$BATCH" ]; do
			k=$((done_n + i))
			# shellcheck disable=SC2086
			run_limited 300 "$TLSNC" $CARGS 127.0.0.1 "$LPORT" \
			    < "$T/hello" > "$T/m$k" 2> "$T/me$k" &
			pids="$pids $!"
			i=$((i + 1))
		done
		i=0
		for p in $pids; do
			k=$((done_n + i))
			wait "$p" || { failed=$((failed + 1));
			    diag_file "$T/me$k"; }
			i=$((i + 1))
		done
		done_n=$((done_n + BATCH))
	done
	check "$NCONN connections: every client exits 0" status_is 0 "$failed"
	# Each answer is one line: the client's line and its port.
	cat "$T"/m[0-9]* | grep -cxE 'hello [0-9]+' > "$T/answers"
	check "$NCONN connections: every program answered" \
	    same_count "$NCONN" "$T/answers"
	check "$NCONN connections: no child left, running or zombie" \
	    no_children_left "$LPID"
	check "$NCONN connections: the listener still runs" \
	    kill -0 "$LPID"
	check "$NCONN connections: every session closed" \
	    eventually count_is "$NCONN" '^tlsnc: Closed ' "$T/$n.lerr"
	check "$NCONN connections: no descriptor left open" \
	    eventually fds_are "$fds0" "$LPID"
	kill -TERM "$LPID"
	listener_status
	check "$NCONN connections: SIGTERM ends the listener" \
	    status_is 0 "$LST"
else
	not_ok "-k -c 'read; echo; sleep': the listener started"
fi

done_testing

#!/bin/sh
# -k (keep open): one listener serves many clients at once.  Every case runs
# twice, plain and with --ssl (an ephemeral certificate that the clients
# pin): 200 clients uploading at once, stdin broadcast to every client,
# stalled clients beside busy ones, a client that stops reading, -m, the
# TLS handshake deadline, the open-file limit, SIGTERM, a client that does
# not speak TLS, and -l without -k.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

MIB=1048576
NMANY=200
NBUSY=20

# Processes stopped with SIGSTOP are continued before cleanup kills them.
STOPPED=""
trap 'kill -CONT $STOPPED 2>/dev/null; cleanup' EXIT

ms() {
	date +%s%3N
}

# count_of FILE ERE: how many lines of FILE match ERE.
count_of() {
	_cc=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${_cc:-0}"
}

# starting FILE TEXT N: exactly N lines of FILE start with TEXT (a fixed
# string: an address may hold brackets).
# shellcheck disable=SC2317  # called through check
starting() {
	_sn=$(awk -v t="$2" 'index($0, t) == 1' "$1" | wc -l)
	if [ "$_sn" -eq "$3" ]; then
		return 0
	fi
	diag "expected $3 lines starting with '$2', found $_sn"
	diag_file "$1"
	return 1
}

# bre TEXT: TEXT quoted for a basic regular expression (for wait_for).
bre() {
	printf '%s\n' "$1" | sed 's/[][\\.*^$]/\\&/g'
}

# count_is FILE ERE N: exactly N lines of FILE match ERE.
# shellcheck disable=SC2317  # called through check
count_is() {
	_cn=$(count_of "$1" "$2")
	if [ "$_cn" -eq "$3" ]; then
		return 0
	fi
	diag "expected $3 lines matching '$2', found $_cn"
	diag_file "$1"
	return 1
}

# wait_count FILE ERE N [SECONDS]: poll until N lines of FILE match ERE
# (default 20 s).
wait_count() {
	_wf=$1 _we=$2 _wn=$3 _wl=$(( ${4:-20} * 20 ))
	_wi=0
	while [ "$(count_of "$_wf" "$_we")" -lt "$_wn" ]; do
		if [ "$_wi" -ge "$_wl" ]; then
			diag "timed out waiting for $_wn lines matching '$_we'" \
			    "($(count_of "$_wf" "$_we") so far)"
			diag_file "$_wf"
			return 1
		fi
		sleep 0.05
		_wi=$((_wi + 1))
	done
}

# wait_size FILE BYTES [SECONDS]: poll until FILE holds BYTES bytes.
wait_size() {
	_zl=$(( ${3:-20} * 20 ))
	_zi=0
	while [ "$(size_of "$1")" -lt "$2" ]; do
		if [ "$_zi" -ge "$_zl" ]; then
			diag "timed out waiting for $2 bytes in $1" \
			    "($(size_of "$1") so far)"
			return 1
		fi
		sleep 0.05
		_zi=$((_zi + 1))
	done
}

# wait_all SECONDS PID...: wait until every PID has ended, at most about
# SECONDS (then the rest are killed, and counted in NHUNG); NBAD counts
# those that did not exit 0.
wait_all() {
	_wl=$(( $1 * 20 ))
	shift
	_wi=0
	NHUNG=0
	while :; do
		_wa=""
		for _wp in "$@"; do
			if kill -0 "$_wp" 2>/dev/null; then
				_wa=$_wp
				break
			fi
		done
		[ -n "$_wa" ] || break
		if [ "$_wi" -ge "$_wl" ]; then
			for _wp in "$@"; do
				kill -0 "$_wp" 2>/dev/null &&
				    NHUNG=$((NHUNG + 1))
			done
			diag "$NHUNG clients still running after" \
			    "$(( _wl / 20 )) s: killing them"
			kill "$@" 2>/dev/null
			break
		fi
		sleep 0.05
		_wi=$((_wi + 1))
	done
	NBAD=0
	for _wp in "$@"; do
		wait "$_wp"
		_ws=$?
		if [ "$_ws" -ne 0 ]; then
			NBAD=$((NBAD + 1))
			[ "$NBAD" -le 5 ] && diag "client $_wp: exit status $_ws"
		fi
	done
	return 0
}

# none_failed: every client waited for by wait_all exited 0.
# shellcheck disable=SC2317  # called through check
none_failed() {
	[ "$NBAD" -eq 0 ] && return 0
	diag "$NBAD clients did not exit 0"
	return 1
}

# release PID: end a holder started by hold (its FIFO's reader sees EOF).
release() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# running PID...: every process is still alive.
# shellcheck disable=SC2317  # called through check
running() {
	for _rp in "$@"; do
		if ! kill -0 "$_rp" 2>/dev/null; then
			diag "process $_rp has ended"
			return 1
		fi
	done
}

# all_empty FILE...: every file is empty.
# shellcheck disable=SC2317  # called through check
all_empty() {
	for _ef in "$@"; do
		if [ -s "$_ef" ]; then
			diag "$_ef is not empty:"
			head -c 300 "$_ef" | tr -c '[:print:]\n' . |
			    sed 's/^/#   /'
			return 1
		fi
	done
}

# all_same WANT FILE...: every FILE has the data of WANT (one sha256sum for
# all of them).
# shellcheck disable=SC2317  # called through check
all_same() {
	_aw=$(sha "$1")
	shift
	_ab=$(sha256sum "$@" | awk -v w="$_aw" '$1 != w { print $2 }')
	[ -z "$_ab" ] && return 0
	for _af in $_ab; do
		diag "$_af: $(size_of "$_af") bytes, not the data sent"
	done
	return 1
}

# lacks FILE TEXT: no line of FILE contains TEXT.
# shellcheck disable=SC2317  # called through check
lacks() {
	if ! grep -qF -- "$2" "$1"; then
		return 0
	fi
	diag "unexpected text: $2"
	diag_file "$1"
	return 1
}

# nth_peer ERR N: ADDR:PORT of the Nth "Connection from" line.
nth_peer() {
	sed -n 's/^tlsnc: Connection from //p' "$1" | sed -n "$2p"
}

# byte_counts FILE: a line "VALUE COUNT" for each byte value in FILE.  The
# data comes in long runs of one value, so it is counted run by run (perl
# is part of every Debian system; od or xxd would take far too long here).
# shellcheck disable=SC2317  # called through check
byte_counts() {
	perl -e '
		binmode STDIN;
		local $/ = \1048576;
		my @n;
		while (my $buf = <STDIN>) {
			my $p = 0;
			while ($p < length $buf) {
				my $c = substr($buf, $p, 1);
				$buf =~ /\G\Q$c\E+/gc or die "no run at $p\n";
				$n[ord $c] += pos($buf) - $p;
				$p = pos $buf;
			}
		}
		defined $n[$_] and print "$_ $n[$_]\n" for 0 .. 255;
	' < "$1"
}

# counts_are FILE WANT [LOW HIGH]: byte_counts of FILE (only the values from
# LOW to HIGH, if given) is the text of WANT.
# shellcheck disable=SC2317  # called through check
counts_are() {
	byte_counts "$1" | awk -v lo="${3:-0}" -v hi="${4:-255}" \
	    '$1 >= lo && $1 <= hi' > "$1.counts"
	if cmp -s "$1.counts" "$2"; then
		return 0
	fi
	diag "$1: byte counts differ (value count, expected vs got):"
	diff "$2" "$1.counts" | head -n 10 | sed 's/^/#   /'
	return 1
}

# tagged_clients FIRST N: start N clients; client i sends 1 MiB of the byte
# value FIRST+i ($T/tag/FIRST+i), and its stdout and stderr go to $D/uI.out
# and $D/uI.err.  PIDS lists them.
tagged_clients() {
	PIDS=""
	_ti=0
	while [ "$_ti" -lt "$2" ]; do
		# shellcheck disable=SC2086
		"$TLSNC" $CARGS 127.0.0.1 "$LPORT" < "$T/tag/$(($1 + _ti))" \
		    > "$D/u$_ti.out" 2> "$D/u$_ti.err" &
		PIDS="$PIDS $!"
		_ti=$((_ti + 1))
	done
	BG_PIDS="$BG_PIDS $PIDS"
}

# want_counts FIRST N: the byte_counts of N tagged clients from FIRST.
want_counts() {
	seq "$1" $(($1 + $2 - 1)) | sed "s/\$/ $MIB/"
}

# set_cargs ERR: CARGS, the client options that reach the listener (in the
# --ssl run, the pin its ephemeral certificate printed on ERR).
set_cargs() {
	CARGS=""
	[ "$MODE" = plain ] && return 0
	PIN=$(pin_of "$1")
	CARGS="--ssl --ssl-pin $PIN"
	[ -n "$PIN" ]
}

# klisten OUT ERR IN ARGS...: start "tlsnc -v -l -k [--ssl] ARGS" in the
# background and wait until it listens (LPID, LPORT, CARGS).
klisten() {
	_ko=$1 _ke=$2 _ki=$3
	shift 3
	# shellcheck disable=SC2086
	listen_tlsnc "$_ko" "$_ke" "$_ki" -l -k $SSL "$@" &&
	    set_cargs "$_ke"
}

# kclient OUT ERR IN [ARGS...]: start "tlsnc CARGS ARGS 127.0.0.1 LPORT" in
# the background; sets CPID.
kclient() {
	_kco=$1 _kce=$2 _kci=$3
	shift 3
	# shellcheck disable=SC2086
	"$TLSNC" $CARGS "$@" 127.0.0.1 "$LPORT" \
	    < "$_kci" > "$_kco" 2> "$_kce" &
	CPID=$!
	BG_PIDS="$BG_PIDS $CPID"
}

# stop_listener WHAT: SIGTERM the listener, which must exit 0.
stop_listener() {
	kill -TERM "$LPID" 2>/dev/null
	listener_status 10
	check "$1: listener exit status 0 on SIGTERM" status_is 0 "$LST"
}

# into_fifo FILE FIFO: write FILE into FIFO (at most 60 s, even if the
# reader is gone and the open would wait for ever).
into_fifo() {
	# shellcheck disable=SC2016  # $1 and $2 belong to the inner shell
	run_limited 60 sh -c 'exec cat "$1" > "$2"' sh "$1" "$2"
}

# newdir NAME: a fresh directory D for one case.
newdir() {
	D="$T/$MODE-$1"
	rm -rf "$D"
	mkdir "$D"
}

# --- 200 clients at once, each sending 1 MiB of its own byte value; the
# listener's stdin is /dev/null, so every client gets EOF at once and its
# session ends when it has sent everything.
case_many() {
	W="$MODE: $NMANY clients"
	newdir many
	# All the handshakes start at once, and each is bounded by 10 s
	# unless -w says otherwise: a sanitizer build on a busy machine
	# needs longer for 200 of them, one after the other.
	if ! klisten "$D/l.out" "$D/l.err" /dev/null -w 120 127.0.0.1 0; then
		not_ok "$W: listener did not start"
		return
	fi
	tagged_clients 0 "$NMANY"
	# shellcheck disable=SC2086
	wait_all 60 $PIDS
	check "$W: every client exit status 0" none_failed
	wait_count "$D/l.err" '^tlsnc: Closed ' "$NMANY" 20
	check "$W: $NMANY Connection from lines" count_is "$D/l.err" \
	    '^tlsnc: Connection from 127\.0\.0\.1:[0-9]+$' "$NMANY"
	check "$W: $NMANY Closed lines with the byte counts" count_is \
	    "$D/l.err" "^tlsnc: Closed 127\\.0\\.0\\.1:[0-9]+: 0 bytes sent, $MIB bytes received\$" \
	    "$NMANY"
	want_counts 0 "$NMANY" > "$D/want"
	check "$W: 1 MiB of each client's byte value on stdout" \
	    counts_are "$D/l.out" "$D/want"
	check "$W: no client failed at the listener" count_is "$D/l.err" \
	    '^tlsnc: 127\.0\.0\.1:[0-9]+: ' 0
	check "$W: clients received nothing and printed nothing" \
	    all_empty "$D"/u*.out "$D"/u*.err
	stop_listener "$W"
	rm -rf "$D"
}

# --- The listener's stdin goes to every client.  Each client first sends a
# greeting; once all greetings have arrived every session is up, and 4 MiB
# go into the listener's stdin.
case_broadcast() {
	W="$MODE: stdin to $NBUSY clients"
	newdir bcast
	hold "$D/lin"
	if ! klisten "$D/l.out" "$D/l.err" "$D/lin" 127.0.0.1 0; then
		not_ok "$W: listener did not start"
		unhold
		return
	fi
	PIDS=""
	i=1
	while [ "$i" -le "$NBUSY" ]; do
		printf 'greeting from client %02d\n' "$i" > "$D/g$i"
		kclient "$D/c$i.out" "$D/c$i.err" "$D/g$i"
		PIDS="$PIDS $CPID"
		i=$((i + 1))
	done
	cat "$D"/g* | sort > "$D/greetings"
	glen=$(size_of "$D/g1")
	wait_size "$D/l.out" "$(size_of "$D/greetings")" 20
	check "$W: every greeting reached the listener's stdout" \
	    test "$(sort "$D/l.out")" = "$(cat "$D/greetings")"
	into_fifo "$T/r4" "$D/lin"
	unhold
	# shellcheck disable=SC2086
	wait_all 60 $PIDS
	check "$W: every client exit status 0" none_failed
	check "$W: every client received the 4 MiB intact" \
	    all_same "$T/r4" "$D"/c*.out
	check "$W: every client's stderr is empty" all_empty "$D"/c*.err
	wait_count "$D/l.err" '^tlsnc: Closed ' "$NBUSY" 20
	check "$W: Closed lines with the byte counts" count_is "$D/l.err" \
	    "^tlsnc: Closed 127\\.0\\.0\\.1:[0-9]+: $((4 * MIB)) bytes sent, $glen bytes received\$" \
	    "$NBUSY"
	stop_listener "$W"
	rm -rf "$D"
}

# --- Two stalled clients do not hold up 20 busy ones: S1 has connected
# (its greeting arrived) and is then stopped with SIGSTOP, so it never reads
# nor sends again; S2 is a plain TCP client that sends the first 9 bytes of
# a ClientHello (a record header announcing 512 bytes, and the start of the
# handshake header) and then nothing.  The 20 busy clients must finish
# while both are still connected: no Closed line for either yet.  -w 30
# keeps S2's handshake from timing out meanwhile.
case_stalled() {
	W="$MODE: stalled clients"
	newdir stall
	if ! klisten "$D/l.out" "$D/l.err" /dev/null -w 30 127.0.0.1 0; then
		not_ok "$W: listener did not start"
		return
	fi
	hold "$D/s1.in"
	S1H=$HPID
	kclient "$D/s1.out" "$D/s1.err" "$D/s1.in"
	S1=$CPID
	echo stalled > "$D/s1.in"
	wait_for "$D/l.out" stalled 10
	kill -STOP "$S1"
	STOPPED="$STOPPED $S1"
	P1=$(nth_peer "$D/l.err" 1)

	hold "$D/s2.in"
	S2H=$HPID
	"$TLSNC" 127.0.0.1 "$LPORT" < "$D/s2.in" > "$D/s2.out" \
	    2> "$D/s2.err" &
	S2=$!
	BG_PIDS="$BG_PIDS $S2"
	printf '\026\003\001\002\000\001\000\001\374' > "$D/s2.in"
	wait_count "$D/l.err" '^tlsnc: Connection from ' 2 10
	P2=$(nth_peer "$D/l.err" 2)
	[ "$MODE" = plain ] && wait_size "$D/l.out" 17 10

	tagged_clients "$NMANY" "$NBUSY"
	# shellcheck disable=SC2086
	wait_all 60 $PIDS
	check "$W: the busy clients exit 0" none_failed
	wait_count "$D/l.err" '^tlsnc: Closed ' "$NBUSY" 20
	check "$W: the busy sessions were closed" count_is "$D/l.err" \
	    "^tlsnc: Closed 127\\.0\\.0\\.1:[0-9]+: 0 bytes sent, $MIB bytes received\$" \
	    "$NBUSY"
	check "$W: the stopped client is still connected" \
	    lacks "$D/l.err" "$P1: "
	check "$W: the half ClientHello is still connected" \
	    lacks "$D/l.err" "$P2: "
	check "$W: both stalled clients still run" running "$S1" "$S2"
	want_counts "$NMANY" "$NBUSY" > "$D/want"
	check "$W: every busy client's 1 MiB arrived" counts_are "$D/l.out" \
	    "$D/want" "$NMANY" $((NMANY + NBUSY - 1))

	# S1 resumes and ends its input: a clean end.
	kill -CONT "$S1"
	STOPPED=""
	release "$S1H"
	wait_pid "$S1" 10
	check "$W: the resumed client exit status 0" status_is 0 $?
	wait_for "$D/l.err" "^tlsnc: Closed $(bre "$P1"): " 10
	check "$W: the resumed client's Closed line" has_line "$D/l.err" \
	    "tlsnc: Closed $P1: 0 bytes sent, 8 bytes received"
	# S2 closes: over TLS, a handshake cut short.
	release "$S2H"
	if [ "$MODE" = plain ]; then
		wait_for "$D/l.err" "^tlsnc: Closed $(bre "$P2"): " 10
		check "$W: the 9-byte client's Closed line" has_line \
		    "$D/l.err" "tlsnc: Closed $P2: 0 bytes sent, 9 bytes received"
	else
		wait_for "$D/l.err" "^tlsnc: $(bre "$P2"): " 10
		check "$W: the half ClientHello's warning" has_line \
		    "$D/l.err" "tlsnc: $P2: TLS handshake: the peer closed the connection (is it speaking TLS?)"
	fi
	wait_pid "$S2" 10 >/dev/null
	stop_listener "$W"
	rm -rf "$D"
}

# --- A client that stops reading while the listener's stdin has more is
# dropped after 2 s, with a warning even without -v; the other client gets
# everything.  Each client first sends a greeting, so that both sessions are
# up before "hello" goes to both; then one is stopped (SIGSTOP) and 64 MiB
# follow.
case_drop() {
	W="$MODE: a client that stops reading"
	newdir drop
	hold "$D/lin"
	# shellcheck disable=SC2086
	"$TLSNC" -l -k $SSL 127.0.0.1 0 < "$D/lin" > "$D/l.out" \
	    2> "$D/l.err" &
	LPID=$!
	BG_PIDS="$BG_PIDS $LPID"
	# No readiness line without -v: ss gives the port.  The pin is printed
	# in any case.
	LPORT=$(port_of_pid "$LPID" '^127\.0\.0\.1:') || LPORT=""
	if [ "$MODE" = ssl ] && [ -n "$LPORT" ]; then
		wait_for "$D/l.err" '^tlsnc: connect with: ' 10
	fi
	if [ -z "$LPORT" ] || ! set_cargs "$D/l.err"; then
		not_ok "$W: listener did not start"
		unhold
		return
	fi
	printf 'reader\n' > "$D/r.in"
	printf 'stopper\n' > "$D/s.in"
	kclient "$D/r.out" "$D/r.err" "$D/r.in"
	R=$CPID
	kclient "$D/s.out" "$D/s.err" "$D/s.in"
	S=$CPID
	wait_size "$D/l.out" 15 10
	SPORT=$(ss -tnpH "( dport = :$LPORT )" | awk -v p="pid=$S," \
	    'index($0, p) { sub(/.*:/, "", $4); print $4 }')
	echo hello > "$D/lin"
	wait_for "$D/r.out" hello 10
	wait_for "$D/s.out" hello 10
	kill -STOP "$S"
	STOPPED="$STOPPED $S"
	into_fifo "$T/r64" "$D/lin"
	wait_for "$D/l.err" ': dropped: ' 10
	unhold
	wait_pid "$R" 30
	check "$W: the reading client exit status 0" status_is 0 $?
	check "$W: the reading client received everything" \
	    same_data "$T/hello-r64" "$D/r.out"
	check "$W: one warning line, and only that on stderr" test \
	    "$(grep -vc -e '^tlsnc: ephemeral certificate ' \
	    -e '^tlsnc: connect with: ' "$D/l.err")" -eq 1
	check "$W: the warning names the client and what was not sent" \
	    count_is "$D/l.err" \
	    "^tlsnc: 127\\.0\\.0\\.1:$SPORT: dropped: .*[0-9]+ bytes.*not sent" 1
	kill -CONT "$S"
	STOPPED=""
	wait_pid "$S" 10
	SST=$?
	if [ "$MODE" = ssl ]; then
		check "$W: the dropped TLS client sees no clean end (1 or 6)" \
		    test "$SST" -eq 1 -o "$SST" -eq 6
	else
		diag "the dropped plain client exited $SST"
	fi
	check "$W: the dropped client got a true prefix of the data" \
	    cmp -s -n "$(size_of "$D/s.out")" "$D/s.out" "$T/hello-r64"
	check "$W: the dropped client did not get everything" test \
	    "$(size_of "$D/s.out")" -lt "$(size_of "$T/hello-r64")"
	stop_listener "$W"
	rm -rf "$D"
}

# --- -m 5: five clients hold their sessions open; five more are refused
# (accepted and closed at once); only the five get the listener's stdin.
# When those five have ended, five new clients are all served.
case_max() {
	W="$MODE: -m 5"
	newdir max
	hold "$D/lin"
	LH=$HPID
	if ! klisten "$D/l.out" "$D/l.err" "$D/lin" -m 5 -p 0 127.0.0.1; then
		not_ok "$W: listener did not start"
		release "$LH"
		return
	fi
	ready='^tlsnc: Connected to '
	[ "$MODE" = ssl ] && ready='^tlsnc: verification: ok'
	hold "$D/hin"
	HH=$HPID
	SERVED=""
	i=1
	while [ "$i" -le 5 ]; do
		kclient "$D/c$i.out" "$D/c$i.err" "$D/hin" -v
		SERVED="$SERVED $CPID"
		i=$((i + 1))
	done
	i=1
	while [ "$i" -le 5 ]; do
		wait_for "$D/c$i.err" "$ready" 10
		i=$((i + 1))
	done
	wait_count "$D/l.err" '^tlsnc: Connection from ' 5 10

	EXTRA=""
	while [ "$i" -le 10 ]; do
		kclient "$D/c$i.out" "$D/c$i.err" /dev/null
		EXTRA="$EXTRA $CPID"
		i=$((i + 1))
	done
	refused='^tlsnc: 127\.0\.0\.1:[0-9]+: refused: 5 clients already connected \(-m 5\)$'
	wait_count "$D/l.err" "$refused" 5 10
	if [ "$MODE" = plain ]; then
		# shellcheck disable=SC2086
		wait_all 10 $EXTRA
		check "$W: the refused clients exit 0 (plain EOF)" none_failed
	else
		for p in $EXTRA; do
			wait_pid "$p" 10
			check "$W: a refused client exit status 4" status_is 4 $?
		done
		check "$W: the refused clients name the handshake" test \
		    "$(cat "$D"/c6.err "$D"/c7.err "$D"/c8.err "$D"/c9.err \
		    "$D"/c10.err | grep -c '^tlsnc: TLS handshake: ')" -eq 5
	fi
	check "$W: five refused lines" count_is "$D/l.err" "$refused" 5

	echo "to the served" > "$D/lin"
	i=1
	while [ "$i" -le 5 ]; do
		wait_for "$D/c$i.out" "to the served" 10
		i=$((i + 1))
	done
	check "$W: the refused clients received nothing" all_empty \
	    "$D"/c6.out "$D"/c7.out "$D"/c8.out "$D"/c9.out "$D"/c10.out
	# shellcheck disable=SC2086
	check "$W: the five served clients are still running" \
	    running $SERVED

	release "$HH"
	release "$LH"
	# shellcheck disable=SC2086
	wait_all 10 $SERVED
	check "$W: the served clients exit 0" none_failed
	served_closed='^tlsnc: Closed 127\.0\.0\.1:[0-9]+: 14 bytes sent, 0 bytes received$'
	wait_count "$D/l.err" "$served_closed" 5 10
	check "$W: the served sessions' Closed lines" count_is "$D/l.err" \
	    "$served_closed" 5

	LATE=""
	i=1
	while [ "$i" -le 5 ]; do
		printf 'late client %d\n' "$i" > "$D/late$i"
		kclient "$D/late$i.out" "$D/late$i.err" "$D/late$i"
		LATE="$LATE $CPID"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	wait_all 10 $LATE
	check "$W: five later clients exit 0" none_failed
	late_closed='^tlsnc: Closed 127\.0\.0\.1:[0-9]+: 0 bytes sent, 14 bytes received$'
	wait_count "$D/l.err" "$late_closed" 5 10
	check "$W: the later sessions' Closed lines" count_is "$D/l.err" \
	    "$late_closed" 5
	check "$W: the later clients' data arrived" test \
	    "$(grep -c '^late client [1-5]$' "$D/l.out")" -eq 5
	check "$W: no further refusal" count_is "$D/l.err" "$refused" 5
	stop_listener "$W"
	rm -rf "$D"
}

# --- The TLS handshake deadline (-w 1): a TCP client that sends nothing is
# dropped after about a second, and the listener goes on.
case_deadline() {
	W="$MODE: handshake deadline"
	if [ "$MODE" = plain ]; then
		skip 6 "the handshake deadline needs --ssl"
		return
	fi
	newdir deadline
	if ! klisten "$D/l.out" "$D/l.err" /dev/null -w 1 127.0.0.1 0; then
		not_ok "$W: listener did not start"
		return
	fi
	hold "$D/idle.in"
	# The clock starts before the connection: the deadline cannot be
	# shorter than what is measured.
	t0=$(ms)
	"$TLSNC" 127.0.0.1 "$LPORT" < "$D/idle.in" > "$D/idle.out" \
	    2> "$D/idle.err" &
	IDLE=$!
	BG_PIDS="$BG_PIDS $IDLE"
	wait_count "$D/l.err" '^tlsnc: Connection from ' 1 10
	P=$(nth_peer "$D/l.err" 1)
	wait_for "$D/l.err" "^tlsnc: $(bre "$P"): " 10
	t1=$(ms)
	check "$W: the silent client timed out" has_line "$D/l.err" \
	    "tlsnc: $P: TLS handshake timed out"
	check "$W: one line for it" starting "$D/l.err" "tlsnc: $P: " 1
	check "$W: after about a second (took $((t1 - t0)) ms)" \
	    test $((t1 - t0)) -ge 950 -a $((t1 - t0)) -lt 5000
	unhold
	wait_pid "$IDLE" 10 >/dev/null
	# shellcheck disable=SC2086
	client "$D/c.out" "$D/c.err" "$T/small" $CARGS 127.0.0.1 "$LPORT"
	check "$W: a good client afterwards exits 0" status_is 0 "$CST"
	wait_for "$D/l.out" "a small message" 10
	check "$W: its data arrived" same_data "$T/small" "$D/l.out"
	stop_listener "$W"
	rm -rf "$D"
}

# cpu_ms PID: the CPU time PID has used, in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
	    "/proc/$1/stat"
}

# accepted_pids: the clients (their pids) whose connections the listener has
# accepted: it owns the other end of their sockets.
accepted_pids() {
	ss -tnpH "( sport = :$LPORT or dport = :$LPORT )" |
	    awk -v lp="$LPORT" -v owner="pid=$LPID," '
		{
			n = split($4, a, ":"); mine = a[n]
			n = split($5, b, ":"); theirs = b[n]
			if (index($0, owner)) {
				taken[theirs] = 1
			} else if (theirs == lp && match($0, /pid=[0-9]+/)) {
				pid[mine] = substr($0, RSTART + 4, RLENGTH - 4)
			}
		}
		END { for (p in taken) if (p in pid) print pid[p] }'
}

# half_closed: how many of the listener's own sockets (accepted ones, not
# those still waiting in the backlog) have received their client's FIN.
half_closed() {
	ss -tnpH state close-wait "( sport = :$LPORT )" | grep -c "pid=$LPID,"
}

# wait_half_closed N: poll until half_closed reaches N.
wait_half_closed() {
	_hi=0
	while [ "$(half_closed)" -lt "$1" ]; do
		if [ "$_hi" -ge 200 ]; then
			diag "only $(half_closed) of $1 clients half-closed"
			return 1
		fi
		sleep 0.05
		_hi=$((_hi + 1))
	done
}

# --- The open-file limit: under "ulimit -n 40", 40 idle clients exhaust
# the listener's descriptors.  It says so once and stops accepting, without
# spinning.  The K accepted clients then end their input (their sessions
# stay open, as the listener's stdin is open), and once the listener has
# their FINs its stdin ends, so that they all leave at once and it cannot
# hit the limit again.  What becomes of the clients that were waiting is not
# specified (served once there is room, or closed at once), but none may
# hang, and a new client is served.
case_fdlimit() {
	W="$MODE: open-file limit"
	NIDLE=40
	newdir fd
	printf '#!/bin/sh\nulimit -n 40 || exit 1\nexec "%s" "$@"\n' \
	    "$TLSNC" > "$D/limited"
	chmod +x "$D/limited"
	hold "$D/lin"
	LH=$HPID
	real=$TLSNC
	TLSNC=$D/limited
	klisten "$D/l.out" "$D/l.err" "$D/lin" 127.0.0.1 0
	st=$?
	TLSNC=$real
	if [ "$st" -ne 0 ]; then
		not_ok "$W: listener did not start"
		release "$LH"
		return
	fi
	hold "$D/hin"
	HH=$HPID
	PIDS=""
	i=1
	while [ "$i" -le "$NIDLE" ]; do
		kclient "$D/c$i.out" "$D/c$i.err" "$D/hin"
		PIDS="$PIDS $CPID"
		i=$((i + 1))
	done
	if ! wait_for "$D/l.err" 'out of file descriptors' 10; then
		not_ok "$W: no warning"
		release "$HH"
		release "$LH"
		stop_listener "$W"
		return
	fi
	K=$(count_of "$D/l.err" '^tlsnc: Connection from ')
	ACC=$(accepted_pids)
	diag "$K of $NIDLE clients accepted at the limit"
	c0=$(cpu_ms "$LPID")
	t0=$(ms)
	while [ $(( $(ms) - t0 )) -lt 500 ]; do
		sleep 0.05
	done
	used=$(( $(cpu_ms "$LPID") - c0 ))
	check "$W: the paused listener does not spin ($used ms CPU in 0.5 s)" \
	    test "$used" -lt 100
	check "$W: one warning line" count_is "$D/l.err" \
	    '^tlsnc: .*out of file descriptors' 1
	check "$W: some clients are waiting" test "$K" -lt "$NIDLE"
	nacc=$(echo "$ACC" | wc -w)
	check "$W: the accepted clients found ($nacc of $K)" \
	    test "$nacc" -eq "$K"

	release "$HH"
	wait_half_closed "$K"
	release "$LH"
	# shellcheck disable=SC2086
	wait_all 20 $ACC
	check "$W: the accepted clients exit 0" none_failed
	# shellcheck disable=SC2086
	wait_all 20 $PIDS
	check "$W: no waiting client hangs" test "$NHUNG" -eq 0
	wait_count "$D/l.err" '^tlsnc: Closed ' "$K" 20
	check "$W: the accepted clients' sessions ended" test "$(count_of \
	    "$D/l.err" '^tlsnc: Closed 127\.0\.0\.1:[0-9]+: 0 bytes sent, 0 bytes received$')" -ge "$K"
	# shellcheck disable=SC2086
	client "$D/n.out" "$D/n.err" "$T/small" $CARGS 127.0.0.1 "$LPORT"
	check "$W: a new client exit status 0" status_is 0 "$CST"
	wait_for "$D/l.out" "a small message" 10
	check "$W: the new client's data arrived" \
	    same_data "$T/small" "$D/l.out"
	check "$W: still one warning line" count_is "$D/l.err" \
	    'out of file descriptors' 1
	stop_listener "$W"
	rm -rf "$D"
}

# --- SIGTERM: the listener ends every session cleanly (close_notify and
# FIN) and exits 0; the clients, whose stdin is /dev/null, end at that EOF
# without reporting truncation.
case_sigterm() {
	W="$MODE: SIGTERM"
	newdir term
	hold "$D/lin"
	if ! klisten "$D/l.out" "$D/l.err" "$D/lin" -p 0 127.0.0.1; then
		not_ok "$W: listener did not start"
		unhold
		return
	fi
	printf 'client 1\n' > "$D/g1"
	printf 'client 2\n' > "$D/g2"
	kclient "$D/c1.out" "$D/c1.err" "$D/g1"
	C1=$CPID
	kclient "$D/c2.out" "$D/c2.err" "$D/g2"
	C2=$CPID
	# Both greetings arrived: both sessions are up.
	wait_size "$D/l.out" 18 10
	echo "before the signal" > "$D/lin"
	wait_for "$D/c1.out" "before the signal" 10
	wait_for "$D/c2.out" "before the signal" 10
	kill -TERM "$LPID"
	listener_status 10
	check "$W: listener exit status 0" status_is 0 "$LST"
	wait_pid "$C1" 10
	check "$W: first client exit status 0" status_is 0 $?
	wait_pid "$C2" 10
	check "$W: second client exit status 0" status_is 0 $?
	check "$W: the clients report nothing" all_empty "$D/c1.err" \
	    "$D/c2.err"
	check "$W: the clients got the data" test \
	    "$(cat "$D/c1.out" "$D/c2.out")" = "before the signal
before the signal"
	unhold
	rm -rf "$D"
}

# --- A client that sends an HTTP request: over TLS one warning line for
# it, plain its bytes are data.  The listener then serves a good client.
# The listener is given only a port, so peers may show as IPv4-mapped.
case_bad() {
	W="$MODE: a client that does not speak TLS"
	newdir bad
	if ! klisten "$D/l.out" "$D/l.err" /dev/null 0; then
		not_ok "$W: listener did not start"
		return
	fi
	client "$D/b.out" "$D/b.err" "$T/http" 127.0.0.1 "$LPORT"
	diag "the HTTP client exited $CST"
	wait_count "$D/l.err" '^tlsnc: Connection from ' 1 10
	P=$(nth_peer "$D/l.err" 1)
	if [ "$MODE" = plain ]; then
		wait_for "$D/l.err" "^tlsnc: Closed $(bre "$P"): " 10
		check "$W: plain, the request is data" \
		    same_data "$T/http" "$D/l.out"
		check "$W: plain, no warning" lacks "$D/l.err" "tlsnc: $P: "
		check "$W: plain, the client exit status 0" status_is 0 "$CST"
		cat "$T/http" "$T/small" > "$D/want"
	else
		wait_for "$D/l.err" "^tlsnc: $(bre "$P"): " 10
		check "$W: one warning line" has_line "$D/l.err" \
		    "tlsnc: $P: TLS handshake: http request (is the peer speaking TLS?)"
		check "$W: only one line for it" starting "$D/l.err" \
		    "tlsnc: $P: " 1
		check "$W: nothing on stdout" test ! -s "$D/l.out"
		cp "$T/small" "$D/want"
	fi
	# shellcheck disable=SC2086
	client "$D/c.out" "$D/c.err" "$T/small" $CARGS 127.0.0.1 "$LPORT"
	check "$W: a good client afterwards exits 0" status_is 0 "$CST"
	wait_for "$D/l.out" "a small message" 10
	check "$W: its data arrived" same_data "$D/want" "$D/l.out"
	stop_listener "$W"
	rm -rf "$D"
}

# --- Without -k, -l takes exactly one client: a second one is refused.
case_single() {
	W="$MODE: -l without -k"
	newdir single
	hold "$D/lin"
	# shellcheck disable=SC2086
	if ! listen_tlsnc "$D/l.out" "$D/l.err" "$D/lin" -l $SSL 127.0.0.1 0 ||
	    ! set_cargs "$D/l.err"; then
		not_ok "$W: listener did not start"
		unhold
		return
	fi
	kclient "$D/c1.out" "$D/c1.err" "$T/small"
	C1=$CPID
	wait_count "$D/l.err" '^tlsnc: Connection from ' 1 10
	# shellcheck disable=SC2086
	client "$D/c2.out" "$D/c2.err" /dev/null $CARGS 127.0.0.1 "$LPORT"
	check "$W: a second client exit status 1" status_is 1 "$CST"
	check "$W: the second client is refused" has_line "$D/c2.err" \
	    "tlsnc: connect to 127.0.0.1 port $LPORT: Connection refused"
	unhold
	listener_status 10
	wait_pid "$C1" 10
	CST=$?
	both_ok "$W: the first client"
	check "$W: the first client's data" same_data "$T/small" "$D/l.out"
	rm -rf "$D"
}

# Every case needs a -k listener: if none starts, stop here rather than wait
# for each in turn.
MODE=plain
SSL=""
if klisten "$T/first.out" "$T/first.err" /dev/null 127.0.0.1 0; then
	stop_listener "first -k listener"
else
	echo "Bail out! tlsnc -l -k did not start: $(head -n 1 "$T/first.err")"
	exit 1
fi

# $T/tag/V: 1 MiB of the byte value V, for every V a client sends (one
# process: starting processes is what costs here).
mkdir "$T/tag"
perl -e 'for my $v (0 .. $ARGV[1]) {
	open(my $f, ">", "$ARGV[0]/$v") or die "$ARGV[0]/$v: $!\n";
	print $f chr($v) x 1048576;
	close($f) or die "$ARGV[0]/$v: $!\n";
}' "$T/tag" $((NMANY + NBUSY - 1))
random_file "$T/r4" 4
random_file "$T/r64" 64
printf 'hello\n' > "$T/hello"
cat "$T/hello" "$T/r64" > "$T/hello-r64"
printf 'a small message\n' > "$T/small"
printf 'GET / HTTP/1.0\r\n\r\n' > "$T/http"

for MODE in plain ssl; do
	SSL=""
	[ "$MODE" = ssl ] && SSL=--ssl
	case_many
	case_broadcast
	case_stalled
	case_drop
	case_max
	case_deadline
	case_fdlimit
	case_sigterm
	case_bad
	case_single
done

done_testing

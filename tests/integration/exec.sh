#!/bin/sh
# -e PROG and -c CMD: a program on each connection, plain and with --ssl
# (an ephemeral certificate that the clients pin).  An echo of 1 MiB both
# ways, a child that answers after the peer's EOF, a child that exits
# early, connect mode, 20 clients at once under -k each with a child of
# its own, no zombies, SIGTERM and SIGKILL for a child that outlives its
# connection, the program's environment (TLSNC_*, NCAT_*, and with TLS the
# negotiation and the server's certificate), --exec-stderr, -c pipelines,
# a program that reads nothing, one that cannot start, the descriptors it
# inherits, and the usage errors.  The load tests are in exec_scale.sh.
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

# --- The program's environment, --exec-stderr, pipelines, a program that
# stops reading, one that cannot start, and what it inherits.
pki || { not_ok "make the test PKI"; done_testing; }
random_file "$T/big" 4
printf 'hello\nworld\n' > "$T/lines"
# Only the names tlsnc sets: others of its own (TLSNC_KTLS, TLSNC_NO_SPLICE,
# ...) may be in the caller's environment, and pass through as they are.
ENV_CMD='env | grep -E "^(TLSNC|NCAT)_(REMOTE_|LOCAL_|PROTO=|TLS_|PEER_)" |
    LC_ALL=C sort'

# peer_port_of ERR: the port of the listener's "Connection from" line.
peer_port_of() {
	sed -n 's/^tlsnc: Connection from .*:\([0-9][0-9]*\)$/\1/p' "$1" |
	    head -n 1
}

# tls_of ERR: "VERSION CIPHER" from the -v handshake summary in ERR.
tls_of() {
	sed -n 's/^tlsnc: TLS \([^,]*\), cipher \([^,]*\), group .*$/\1 \2/p' \
	    "$1" | head -n 1
}

# want_env FILE RADDR RPORT LADDR LPORT [VERSION CIPHER [SUBJECT SHA256]]:
# the environment a program must see, sorted, in FILE.
want_env() {
	_f=$1
	shift
	{
		for _p in TLSNC NCAT; do
			printf '%s_REMOTE_ADDR=%s\n%s_REMOTE_PORT=%s\n' \
			    "$_p" "$1" "$_p" "$2"
			printf '%s_LOCAL_ADDR=%s\n%s_LOCAL_PORT=%s\n' \
			    "$_p" "$3" "$_p" "$4"
			printf '%s_PROTO=TCP\n' "$_p"
		done
		if [ $# -ge 6 ]; then
			printf 'TLSNC_TLS_VERSION=%s\n' "$5"
			printf 'TLSNC_TLS_CIPHER=%s\n' "$6"
		fi
		if [ $# -ge 8 ]; then
			printf 'TLSNC_PEER_SUBJECT=%s\n' "$7"
			printf 'TLSNC_PEER_SHA256=%s\n' "$8"
		fi
	} | LC_ALL=C sort > "$_f"
}

# same_file WANT GOT: identical, with the difference shown if not.
same_file() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diag "expected (<) and got (>):"
	diff "$1" "$2" | sed 's/^/#   /' | head -n 40
	return 1
}

for mode in plain ssl; do
	# --- -l -c: the program sees both ends' addresses and, with TLS,
	# what was negotiated, but no peer certificate (a listener asks for
	# none, even of a client that has one).  Stale values of these names
	# in tlsnc's own environment do not reach it.
	n=env-$mode
	export TLSNC_PEER_SUBJECT=CN=stale NCAT_PROTO=SCTP TLSNC_TLS_VERSION=x
	start_listener "$n" "$mode" -c "$ENV_CMD"
	started=$?
	unset TLSNC_PEER_SUBJECT NCAT_PROTO TLSNC_TLS_VERSION
	if [ "$started" -eq 0 ]; then
		ccert=""
		[ "$mode" = ssl ] &&
		    ccert="--ssl-cert $PKI/client.pem --ssl-key $PKI/client.key"
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" /dev/null $CARGS $ccert \
		    127.0.0.1 "$LPORT"
		listener_status
		both_ok "$mode -l -c env"
		# shellcheck disable=SC2046  # the version and the cipher
		want_env "$T/$n.want" 127.0.0.1 "$(peer_port_of "$T/$n.lerr")" \
		    127.0.0.1 "$LPORT" $(tls_of "$T/$n.lerr")
		check "$mode -l -c: the environment names the connection" \
		    same_file "$T/$n.want" "$T/$n.out"
	else
		not_ok "$mode -l -c env: the listener started"
	fi

	# --- Connect mode: with TLS the program also gets the subject and
	# the fingerprint of the certificate the server presented.
	n=envc-$mode
	if [ "$mode" = ssl ]; then
		listen_tlsnc "$T/$n.lout" "$T/$n.lerr" /dev/null -l --ssl \
		    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
		    127.0.0.1 0
		CARGS="--ssl --ssl-trustfile $PKI/ca.pem"
	else
		listen_tlsnc "$T/$n.lout" "$T/$n.lerr" /dev/null -l 127.0.0.1 0
		CARGS=""
	fi
	# shellcheck disable=SC2086
	client "$T/$n.out" "$T/$n.err" /dev/null -c "$ENV_CMD" $CARGS \
	    127.0.0.1 "$LPORT"
	listener_status
	both_ok "$mode connect -c env"
	if [ "$mode" = ssl ]; then
		subj=$(openssl x509 -in "$PKI/server.pem" -noout -subject \
		    -nameopt RFC2253 | sed 's/^subject= *//')
		# shellcheck disable=SC2046
		want_env "$T/$n.want" 127.0.0.1 "$LPORT" 127.0.0.1 \
		    "$(peer_port_of "$T/$n.lerr")" $(tls_of "$T/$n.lerr") \
		    "$subj" "$(fp_of_pem < "$PKI/server.pem")"
	else
		want_env "$T/$n.want" 127.0.0.1 "$LPORT" 127.0.0.1 \
		    "$(peer_port_of "$T/$n.lerr")"
	fi
	check "$mode connect -c: the environment names the connection$(
	    [ "$mode" = ssl ] && echo " and the server's certificate")" \
	    same_file "$T/$n.want" "$T/$n.lout"

	# --- --exec-stderr: stderr goes to the peer, in order with stdout;
	# without it, to tlsnc's stderr.
	for opt in --exec-stderr ""; do
		n=stderr$opt-$mode
		# shellcheck disable=SC2086
		if start_listener "$n" "$mode" $opt \
		    -c 'echo out; echo err >&2; echo end'; then
			# shellcheck disable=SC2086
			client "$T/$n.out" "$T/$n.err" /dev/null $CARGS \
			    127.0.0.1 "$LPORT"
			listener_status
			both_ok "$mode -c ${opt:-(stderr local)}"
			if [ -n "$opt" ]; then
				printf 'out\nerr\nend\n' > "$T/$n.want"
				check "$mode $opt: the peer gets stderr too" \
				    same_file "$T/$n.want" "$T/$n.out"
				check "$mode $opt: not tlsnc's stderr" \
				    test "$(grep -cx err "$T/$n.lerr")" = 0
			else
				printf 'out\nend\n' > "$T/$n.want"
				check "$mode -c: the peer gets stdout only" \
				    same_file "$T/$n.want" "$T/$n.out"
				check "$mode -c: stderr stays on tlsnc's" \
				    has_line "$T/$n.lerr" err
			fi
		else
			not_ok "$mode ${opt:-stderr}: the listener started"
		fi
	done

	# --- -c with shell pipelines: line by line, and one that answers
	# only after the peer's EOF.
	n=pipe-$mode
	if start_listener "$n" "$mode" -c 'tr a-z A-Z | sed "s/^/> /"'; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" "$T/lines" $CARGS 127.0.0.1 \
		    "$LPORT"
		listener_status
		both_ok "$mode -c pipeline"
		printf '> HELLO\n> WORLD\n' > "$T/$n.want"
		check "$mode -c 'tr | sed': the pipeline's output" \
		    same_file "$T/$n.want" "$T/$n.out"
	else
		not_ok "$mode -c pipeline: the listener started"
	fi
	n=sum-$mode
	if start_listener "$n" "$mode" -c 'sha256sum | cut -c1-64'; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" "$T/in" $CARGS 127.0.0.1 \
		    "$LPORT"
		listener_status
		both_ok "$mode -c 'sha256sum | cut'"
		check "$mode -c 'sha256sum | cut': the digest of 1 MiB" \
		    same_line "$T/$n.out" "$(sha "$T/in")"
	else
		not_ok "$mode -c 'sha256sum | cut': the listener started"
	fi

	# --- A program that closes its stdin at once, then writes 1 MiB,
	# while the client sends 4 MiB: all of its output arrives.
	n=noread-$mode
	if start_listener "$n" "$mode" -c "exec <&-; cat '$T/in'"; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" "$T/big" $CARGS 127.0.0.1 \
		    "$LPORT"
		listener_status
		both_ok "$mode a program that reads nothing"
		check "$mode a program that reads nothing: its 1 MiB arrives" \
		    same_data "$T/in" "$T/$n.out"
	else
		not_ok "$mode a program that reads nothing: the listener started"
	fi

	# --- A program that cannot start: the session fails, and says why.
	n=missing-$mode
	if start_listener "$n" "$mode" -e "/nonexistent/tlsnc-prog arg"; then
		# shellcheck disable=SC2086
		client "$T/$n.out" "$T/$n.err" /dev/null $CARGS 127.0.0.1 \
		    "$LPORT"
		listener_status
		check "$mode missing program: listener exit status 1" \
		    status_is 1 "$LST"
		check "$mode missing program: the reason" has_line \
		    "$T/$n.lerr" "tlsnc: cannot run /nonexistent/tlsnc-prog: No such file or directory"
	else
		not_ok "$mode missing program: the listener started"
	fi
done

# --- With TLS a program starts only after a handshake that succeeded.  A
# plain client that sends nothing keeps its handshake pending while a
# client that refuses the certificate fails, and a good one is served;
# then the first gives up.  Only the good client's program ran.
n=hsfail
if start_listener "$n" ssl -k -c "echo ran >> '$T/$n.ran'; cat"; then
	hold "$T/$n.fifo"
	"$TLSNC" 127.0.0.1 "$LPORT" < "$T/$n.fifo" > "$T/$n.out1" 2>&1 &
	apid=$!
	BG_PIDS="$BG_PIDS $apid"
	wait_for "$T/$n.lerr" "Connection from" > /dev/null
	client "$T/$n.out2" "$T/$n.err2" /dev/null --ssl --ssl-pin \
	    "SHA256:$(printf '%064d' 0)" 127.0.0.1 "$LPORT"
	check "--ssl -k -c: a client that refuses the certificate fails" \
	    status_is 5 "$CST"
	# shellcheck disable=SC2086
	client "$T/$n.out3" "$T/$n.err3" "$T/lines" $CARGS 127.0.0.1 "$LPORT"
	check "--ssl -k -c: a good client is served" \
	    same_file "$T/lines" "$T/$n.out3"
	unhold
	wait_pid "$apid" 30
	# Every session is over once the listener has said Closed three times.
	i=0
	while [ "$(grep -c '^tlsnc: Closed ' "$T/$n.lerr")" -lt 3 ] &&
	    [ "$i" -lt 1500 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	check "--ssl -k -c: only the good client's program ran" \
	    same_line "$T/$n.ran" ran
	kill -TERM "$LPID"
	listener_status
	check "--ssl -k -c: SIGTERM ends the listener" status_is 0 "$LST"
else
	not_ok "--ssl -k -c: the listener started"
fi

# --- A listener on both IPv6 and IPv4 names an IPv4 client in IPv4 form.
n=env-dual
if listen_tlsnc "$T/$n.lout" "$T/$n.lerr" /dev/null -l -c "$ENV_CMD" 0; then
	client "$T/$n.out" "$T/$n.err" /dev/null 127.0.0.1 "$LPORT"
	listener_status
	both_ok "-l -c env on the wildcard address"
	want_env "$T/$n.want" 127.0.0.1 "$(peer_port_of "$T/$n.lerr")" \
	    127.0.0.1 "$LPORT"
	check "-l -c env on the wildcard address: IPv4 addresses" \
	    same_file "$T/$n.want" "$T/$n.out"
else
	not_ok "-l -c env on the wildcard address: the listener started"
fi

# --- A program inherits only its stdin, stdout and stderr: not the
# listening socket, nor another client's, nor what the shell left open.
n=fds
if start_listener "$n" plain -k -e 'ls /proc/self/fd'; then
	hold "$T/$n.fifo"
	"$TLSNC" 127.0.0.1 "$LPORT" < "$T/$n.fifo" > "$T/$n.out1" 2>&1 &
	apid=$!
	BG_PIDS="$BG_PIDS $apid"
	# The first client's session stays open: its stdin is held.
	wait_for "$T/$n.lerr" "Connection from" > /dev/null
	client "$T/$n.out" "$T/$n.err" /dev/null 127.0.0.1 "$LPORT"
	printf '0\n1\n2\n3\n' > "$T/$n.want"
	check "-e: the program has descriptors 0-2 only (3 is ls's own)" \
	    same_file "$T/$n.want" "$T/$n.out"
	unhold
	wait_pid "$apid" 30
	kill -TERM "$LPID"
	listener_status
	check "-k -e ls: SIGTERM ends the listener" status_is 0 "$LST"
else
	not_ok "-e ls /proc/self/fd: the listener started"
fi

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
usage_line "--exec-stderr without -e or -c" \
    "tlsnc: --exec-stderr needs -e or -c" --exec-stderr 127.0.0.1 9
usage_line "-e without its argument" \
    "tlsnc: option -e/--exec needs an argument" -l 0 -e

done_testing

#!/bin/sh
# tlsnc in the usual wrappers: as a child of socat EXEC: (its stdio is a
# socketpair that socat watches for EOF), with standard output closed, and
# writing into a pipe whose reader goes away.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

UP="$T/up.bin"
DOWN="$T/down.bin"
random_file "$UP" 32
random_file "$DOWN" 32

# --- socat EXEC: 32 MiB each way.  The listener's part ends first; tlsnc
# must not half-close its stdout (socat's end of the socketpair) while its
# own upload is still going, or socat takes the child for done and cuts the
# upload short.
socat_exec() {
	_mode=$1 _run=$2
	shift 2
	if ! listen_tlsnc "$T/l.out" "$T/l.err" "$DOWN" -l "$@" 127.0.0.1 0; then
		not_ok "socat EXEC ($_mode, run $_run): listener did not start"
		return
	fi
	_cl=""
	if [ "$_mode" = TLS ]; then
		# socat splits its addresses at colons: the pin goes bare.
		_cl="--ssl --ssl-pin $(pin_of "$T/l.err" | sed 's/^SHA256://')"
	fi
	rm -f "$T/got"
	run_limited 120 socat -t 5 "FILE:$UP!!CREATE:$T/got" \
	    "EXEC:$TLSNC $_cl 127.0.0.1 $LPORT" 2> "$T/s.err"
	_sst=$?
	[ "$_sst" = 0 ] || diag_file "$T/s.err"
	listener_status 60
	check "socat EXEC ($_mode, run $_run): socat exit status 0" \
	    status_is 0 "$_sst"
	check "socat EXEC ($_mode, run $_run): listener exit status 0" \
	    status_is 0 "$LST"
	check "socat EXEC ($_mode, run $_run): the whole upload arrived" \
	    same_data "$UP" "$T/l.out"
	check "socat EXEC ($_mode, run $_run): the whole download arrived" \
	    same_data "$DOWN" "$T/got"
	check "socat EXEC ($_mode, run $_run): listener reported nothing" \
	    test "$(grep -vc -e '^tlsnc: Listening on' -e '^tlsnc: Connection' \
	    -e '^tlsnc: [0-9]* bytes sent' -e '^tlsnc: ephemeral' \
	    -e '^tlsnc: connect with' -e '^tlsnc: TLS ' -e '^tlsnc: peer ' \
	    -e '^tlsnc: verification' -e '^tlsnc: SNI ' -e '^tlsnc: ALPN ' \
	    "$T/l.err")" = 0
}

for run in 1 2 3; do
	socat_exec plain "$run"
	socat_exec TLS "$run" --ssl
done

# --- Standard output closed: the data has nowhere to go, which is an error
# (status 1, one line), as it is for cat.
head -c 100000 /dev/urandom > "$T/small"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/small" -l 127.0.0.1 0; then
	run_limited 60 "$TLSNC" 127.0.0.1 "$LPORT" < /dev/null 2> "$T/c.err" >&-
	CST=$?
	listener_status
	check "stdout closed: client exit status 1" status_is 1 "$CST"
	check "stdout closed: says it cannot write" has_line "$T/c.err" \
	    "tlsnc: writing output: write: Bad file descriptor"
	check "stdout closed: one line" test "$(wc -l < "$T/c.err")" = 1
else
	not_ok "stdout closed: listener did not start"
fi

# --- The reader of our output goes away (tlsnc | head -c 10): no error
# line, status 141 as for a tool that SIGPIPE ended, and a clean close:
# the listener, whose stdin stays open until the client is gone, sees
# close_notify and no truncation.  The listener sends twice: once before
# head has gone, and once after, so that the client's write finds the pipe
# broken while nothing is left unread on its socket.
pipe_reader_gone() {
	_mode=$1
	shift
	hold "$T/hold"
	if ! listen_tlsnc "$T/l.out" "$T/l.err" "$T/hold" -l "$@" 127.0.0.1 0
	then
		unhold
		not_ok "reader gone ($_mode): listener did not start"
		return
	fi
	_cl=""
	if [ "$_mode" = TLS ]; then
		_cl="--ssl --ssl-pin $(pin_of "$T/l.err")"
	fi
	rm -f "$T/c.st"
	# shellcheck disable=SC2086
	( run_limited 60 "$TLSNC" $_cl 127.0.0.1 "$LPORT" < /dev/null \
	    2> "$T/c.err"; echo $? > "$T/c.st" ) | head -c 10 > "$T/c.out" &
	_head=$!
	BG_PIDS="$BG_PIDS $_head"
	printf 'first part, for head\n' > "$T/hold"
	# head is reaped only with the whole job: a zombie counts as gone.
	_i=0
	while [ "$_i" -lt 1500 ] && ps -o stat= -p "$_head" | grep -qv '^Z'
	do
		sleep 0.02
		_i=$((_i + 1))
	done
	printf 'second part, into a broken pipe\n' > "$T/hold"
	wait_for "$T/c.st" . 30
	unhold
	listener_status
	check "reader gone ($_mode): client exit status 141" \
	    status_is 141 "$(cat "$T/c.st")"
	check "reader gone ($_mode): no error line" test ! -s "$T/c.err"
	check "reader gone ($_mode): head got its 10 bytes" \
	    test "$(size_of "$T/c.out")" = 10
	check "reader gone ($_mode): listener exit status 0" \
	    status_is 0 "$LST"
	check "reader gone ($_mode): no truncation at the listener" \
	    test "$(grep -c close_notify "$T/l.err")" = 0
}

pipe_reader_gone plain
pipe_reader_gone TLS --ssl

done_testing

#!/bin/sh
# The data options against socat, plain and with --ssl: -C, -t against a
# Telnet negotiation given as bytes, --send-only, -o and -x (with
# --append-output) compared with known bytes and dumps, -d (a lower bound on
# the time, no fixed sleep), and --progress on a file and on a terminal.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

pki || { echo "Bail out! no test PKI"; exit 1; }
SRV_FP=$(fp_of_pem < "$PKI/server.pem")

# peer TAG MODE IN [SCRIPT]: socat as a one-connection listener on
# 127.0.0.1 (TLS with the PKI's server certificate when MODE is tls), with
# stdin from IN, or running "sh SCRIPT" on the connection; what it receives
# goes to $T/TAG.pout.  Sets PPORT and PPID_.
peer() {
	_tag=$1 _mode=$2 _in=$3
	if [ "$_mode" = tls ]; then
		_addr="OPENSSL-LISTEN:0,bind=127.0.0.1,cert=$PKI/server.pem"
		_addr="$_addr,key=$PKI/server.key,verify=0"
	else
		_addr="TCP4-LISTEN:0,bind=127.0.0.1"
	fi
	if [ $# -ge 4 ]; then
		_other="SYSTEM:sh $4"
	else
		_other=STDIO
	fi
	socat -t 30 "$_addr" "$_other" < "$_in" > "$T/$_tag.pout" \
	    2> "$T/$_tag.perr" &
	PPID_=$!
	BG_PIDS="$BG_PIDS $PPID_"
	PPORT=$(port_of_pid "$PPID_" '^127\.0\.0\.1:') || {
		diag "socat did not start listening"
		diag_file "$T/$_tag.perr"
		return 1
	}
}

# tls_args MODE: the client's options for MODE.
tls_args() {
	[ "$1" = tls ] && echo "--ssl --ssl-pin $SRV_FP"
}

# hex FILE: the bytes of FILE as one line of hex.
hex() {
	xxd -p < "$1" | tr -d '\n'
}

# same_hex FILE HEX: FILE holds exactly the bytes HEX.
same_hex() {
	if [ "$(hex "$1")" = "$2" ]; then
		return 0
	fi
	diag "want $2"
	diag "got  $(hex "$1")"
	return 1
}

# wait_size FILE BYTES: until FILE holds at least BYTES (at most 20 s).
wait_size() {
	_w=0
	while [ "$(size_of "$1")" -lt "$2" ] && [ "$_w" -lt 1000 ]; do
		sleep 0.02
		_w=$((_w + 1))
	done
	[ "$(size_of "$1")" -ge "$2" ]
}

# dump_line DIR OFFSET FILE: the expected -x line of FILE's (at most 16)
# bytes: hexdump -C's first line, offset replaced, after the direction.
dump_line() {
	hexdump -C < "$3" | head -n 1 | sed "s/^[0-9a-f]*/$1 $2/"
}

# unhex DIR DUMP: the bytes of direction DIR in a -x dump, on stdout; the
# offsets must run on without a gap.
unhex() {
	awk -v d="$1" '
	$1 == d {
		off = 0
		for (i = 1; i <= length($2); i++)
			off = off * 16 + index("0123456789abcdef",
			    substr($2, i, 1)) - 1
		if (off != next_off) {
			print "offset " $2 " where " next_off " was due" > "/dev/stderr"
			exit 1
		}
		line = substr($0, 13, 49)
		gsub(/ /, "", line)
		next_off += length(line) / 2
		printf "%s", line
	}' "$2" | xxd -r -p
}

printf 'question\n' > "$T/question"
# shellcheck disable=SC2016  # the script's own $l
printf 'read l\necho "answer to $l"\n' > "$T/answer.sh"
random_file "$T/a.bin" 1
head -c 200000 /dev/urandom > "$T/b.bin"

for MODE in plain tls; do
	# shellcheck disable=SC2046  # tls_args gives separate words
	set -- $(tls_args "$MODE")

	# --- -C: every LF gets a CR; a CR LF stays.
	printf 'a\nb\r\nc\n\n' > "$T/crlf.in"
	if peer crlf "$MODE" /dev/null; then
		client "$T/c.out" "$T/c.err" "$T/crlf.in" -C "$@" 127.0.0.1 \
		    "$PPORT"
		wait_pid "$PPID_" 30 >/dev/null
		check "$MODE -C: exit status 0" status_is 0 "$CST"
		check "$MODE -C: the peer got CR LF for each LF" \
		    same_hex "$T/crlf.pout" "610d0a620d0a630d0a0d0a"
	else
		not_ok "$MODE -C: set-up"
	fi

	# --- -C with the CR at the end of one read and the LF at the start
	# of the next: the second part is written once the first is there.
	rm -f "$T/split.fifo"
	mkfifo "$T/split.fifo"
	if peer split "$MODE" /dev/null; then
		{ printf 'x\r'; wait_size "$T/split.pout" 2; printf '\ny\n'; } \
		    > "$T/split.fifo" &
		BG_PIDS="$BG_PIDS $!"
		client "$T/c.out" "$T/c.err" "$T/split.fifo" -C "$@" \
		    127.0.0.1 "$PPORT"
		wait_pid "$PPID_" 30 >/dev/null
		check "$MODE -C: exit status 0 (CR LF split across reads)" \
		    status_is 0 "$CST"
		check "$MODE -C: a CR LF split across reads stays one CR LF" \
		    same_hex "$T/split.pout" "780d0a790d0a"
	else
		not_ok "$MODE -C split: set-up"
	fi

	# --- -t: a server's negotiation, captured as bytes: DO ECHO, WILL
	# SUPPRESS-GO-AHEAD, DONT 5, WONT 6, data with IAC IAC, a terminal-type
	# subnegotiation and a NOP.  Both stdins stay open until tlsnc has
	# written the data, so that the answers have time to go out.
	printf '\377\375\001\377\373\003\377\376\005\377\374\006hello\377\377' \
	    > "$T/tn.in"
	printf '\377\372\030\001\377\360 \377\361there\n' >> "$T/tn.in"
	WANT_OUT=68656c6c6fff2074686572650a
	: > "$T/tn.hold"
	rm -f "$T/c.out"
	feed_fifo "$T/tn.pfifo" "$T/tn.hold" "$T/tn.in" "$T/c.out" 13
	feed_fifo "$T/tn.cfifo" "$T/tn.hold" /dev/null "$T/c.out" 13
	if peer tn "$MODE" "$T/tn.pfifo"; then
		client "$T/c.out" "$T/c.err" "$T/tn.cfifo" -t "$@" 127.0.0.1 \
		    "$PPORT"
		wait_pid "$PPID_" 30 >/dev/null
		check "$MODE -t: exit status 0" status_is 0 "$CST"
		check "$MODE -t: refusals WONT 1, DONT 3, WONT 5, DONT 6" \
		    same_hex "$T/tn.pout" "fffc01fffe03fffc05fffe06"
		check "$MODE -t: the data without the commands" \
		    same_hex "$T/c.out" "$WANT_OUT"
	else
		not_ok "$MODE -t: set-up"
	fi
	rm -f "$T/tn.hold"

	# --- --send-only: the peer sends and never closes; the session ends
	# after stdin's EOF anyway, and nothing reaches stdout.
	printf 'ignored\n' > "$T/so.in"
	: > "$T/so.hold"
	feed_fifo "$T/so.pfifo" "$T/so.hold" "$T/so.in"
	if peer so "$MODE" "$T/so.pfifo"; then
		client "$T/c.out" "$T/c.err" "$T/question" --send-only "$@" \
		    127.0.0.1 "$PPORT"
		check "$MODE --send-only: exit status 0" status_is 0 "$CST"
		check "$MODE --send-only: nothing written to stdout" \
		    test ! -s "$T/c.out"
		check "$MODE --send-only: the peer got stdin" \
		    wait_size "$T/so.pout" 9
		check "$MODE --send-only: exactly stdin" \
		    same_data "$T/question" "$T/so.pout"
	else
		not_ok "$MODE --send-only: set-up"
	fi
	rm -f "$T/so.hold"
	kill "$PPID_" 2>/dev/null

	# --- -o and -x, twice with --append-output, then once more without.
	rm -f "$T/rec.raw" "$T/rec.hex"
	printf 'answer to question\n' > "$T/answer"
	cat "$T/question" "$T/answer" > "$T/rec.want"
	{
		dump_line '>' 00000000 "$T/question"
		head -c 16 "$T/answer" > "$T/answer.1"
		tail -c 3 "$T/answer" > "$T/answer.2"
		dump_line '<' 00000000 "$T/answer.1"
		dump_line '<' 00000010 "$T/answer.2"
	} > "$T/hex.want"
	for run in 1 2 3; do
		[ "$run" = 3 ] && app="" || app=--append-output
		if peer rec "$MODE" /dev/null "$T/answer.sh"; then
			# shellcheck disable=SC2086  # app is one word or none
			client "$T/c.out" "$T/c.err" "$T/question" \
			    -o "$T/rec.raw" -x "$T/rec.hex" $app "$@" \
			    127.0.0.1 "$PPORT"
			wait_pid "$PPID_" 30 >/dev/null
			check "$MODE -o -x run $run: exit status 0" \
			    status_is 0 "$CST"
		else
			not_ok "$MODE -o -x run $run: set-up"
		fi
		cp "$T/rec.raw" "$T/rec.raw$run"
		cp "$T/rec.hex" "$T/rec.hex$run"
	done
	check "$MODE -o: both directions, in order" \
	    same_data "$T/rec.want" "$T/rec.raw1"
	check "$MODE -x: the known dump" cmp "$T/hex.want" "$T/rec.hex1"
	cat "$T/rec.want" "$T/rec.want" > "$T/rec.want2"
	cat "$T/hex.want" "$T/hex.want" > "$T/hex.want2"
	check "$MODE --append-output: -o holds both sessions" \
	    same_data "$T/rec.want2" "$T/rec.raw2"
	check "$MODE --append-output: -x holds both sessions" \
	    cmp "$T/hex.want2" "$T/rec.hex2"
	check "$MODE without --append-output: -o starts again" \
	    same_data "$T/rec.want" "$T/rec.raw3"
	check "$MODE without --append-output: -x starts again" \
	    cmp "$T/hex.want" "$T/rec.hex3"

	# --- -x of 1 MiB one way and 200000 bytes the other: each direction
	# reassembles, with offsets that run on.
	if peer big "$MODE" "$T/b.bin"; then
		client "$T/c.out" "$T/c.err" "$T/a.bin" -o "$T/big.raw" \
		    -x "$T/big.hex" "$@" 127.0.0.1 "$PPORT"
		wait_pid "$PPID_" 30 >/dev/null
		check "$MODE -x bulk: exit status 0" status_is 0 "$CST"
		unhex '>' "$T/big.hex" > "$T/big.sent"
		unhex '<' "$T/big.hex" > "$T/big.recv"
		check "$MODE -x bulk: the sent bytes reassemble" \
		    same_data "$T/a.bin" "$T/big.sent"
		check "$MODE -x bulk: the received bytes reassemble" \
		    same_data "$T/b.bin" "$T/big.recv"
		check "$MODE -o bulk: every byte of both directions" test \
		    "$(size_of "$T/big.raw")" -eq $((1048576 + 200000))
		check "$MODE -o bulk: the peer got stdin" \
		    same_data "$T/a.bin" "$T/big.pout"
	else
		not_ok "$MODE -x bulk: set-up"
	fi

	# --- -d 0.2 over 1 MiB: at least 4 reads (of 256 KiB at most), each
	# followed by a rest, so at least 0.8 s; the data arrives whole.
	if peer delay "$MODE" /dev/null; then
		t0=$(date +%s%N)
		client "$T/c.out" "$T/c.err" "$T/a.bin" -d 0.2 "$@" \
		    127.0.0.1 "$PPORT"
		t1=$(date +%s%N)
		wait_pid "$PPID_" 30 >/dev/null
		ms=$(( (t1 - t0) / 1000000 ))
		diag "$MODE -d 0.2: 1 MiB in $ms ms"
		check "$MODE -d: exit status 0" status_is 0 "$CST"
		check "$MODE -d: data intact" same_data "$T/a.bin" \
		    "$T/delay.pout"
		check "$MODE -d 0.2: 1 MiB took at least 800 ms" \
		    test "$ms" -ge 800
	else
		not_ok "$MODE -d: set-up"
	fi
done

# --- -k: each client's session gets the options.  The listener's stdin
# goes to the first client (it is read only once one is there), with CRs.
printf 'to all\n' > "$T/k.in"
printf 'one\n' > "$T/k1.in"
if listen_tlsnc "$T/k.out" "$T/k.err" "$T/k.in" -l -k -C -o "$T/k.rec" \
    127.0.0.1 0; then
	run_limited 30 socat -t 30 - "TCP:127.0.0.1:$LPORT" < "$T/k1.in" \
	    > "$T/k1.out" 2> "$T/k1.err"
	kill -INT "$LPID"
	listener_status
	check "-k -C -o: listener exit status 0 after SIGINT" \
	    status_is 0 "$LST"
	check "-k -C: the client got CR LF" \
	    same_hex "$T/k1.out" "746f20616c6c0d0a"
	# The two directions run at once: either may come first.
	# shellcheck disable=SC2016  # eval expands it
	check "-k -o: the recording holds both directions" eval \
	    '[ "$(hex "$T/k.rec")" = 6f6e650a746f20616c6c0d0a ] ||
	    [ "$(hex "$T/k.rec")" = 746f20616c6c0d0a6f6e650a ]'
else
	not_ok "-k: listener did not start"
fi

# --- --progress with stderr on a file: a plain line every 3 seconds, then
# the summary.  -d 1 stretches 1 MiB over at least 4 s.
if peer prog plain /dev/null; then
	client "$T/c.out" "$T/p.err" "$T/a.bin" --progress -d 1 127.0.0.1 \
	    "$PPORT"
	wait_pid "$PPID_" 30 >/dev/null
	check "--progress (file): exit status 0" status_is 0 "$CST"
	check "--progress (file): a progress line with the percentage" \
	    grep -Eq '^tlsnc: progress: sent [0-9.]+ (B|KiB|MiB), received 0 B, .* [0-9]+%(, ETA [0-9hms]+)?$' \
	    "$T/p.err"
	check "--progress (file): the summary last" sh -c \
	    "tail -n 1 '$T/p.err' | grep -Eq '^tlsnc: sent 1.0 MiB, received 0 B in [0-9]+\\.[0-9] s, '"
	check "--progress (file): no carriage return" \
	    test "$(tr -cd '\r' < "$T/p.err" | wc -c)" -eq 0
else
	not_ok "--progress (file): set-up"
fi

# --- --progress on a terminal (script(1)): redrawn in place with CR and
# erase-to-end-of-line, then the summary.
if ! command -v script > /dev/null 2>&1; then
	skip 3 "script(1) is not installed"
elif peer tty plain /dev/null; then
	hold "$T/tty-in"
	run_limited 60 script -qec "'$TLSNC' --progress -d 0.3 127.0.0.1 \
	    $PPORT < '$T/a.bin' > /dev/null" "$T/typescript" \
	    < "$T/tty-in" > /dev/null 2>&1
	CST=$?
	unhold
	wait_pid "$PPID_" 30 >/dev/null
	check "--progress (tty): exit status 0" status_is 0 "$CST"
	check "--progress (tty): redrawn in place" \
	    grep -q "$(printf '\r')sent .*%.*$(printf '\033')\\[K" "$T/typescript"
	check "--progress (tty): the summary" \
	    grep -Eq 'tlsnc: sent 1.0 MiB, received 0 B in [0-9.]+ s' \
	    "$T/typescript"
else
	not_ok "--progress (tty): set-up"
fi

# --- Bad input: a recording that cannot be opened.
client "$T/c.out" "$T/c.err" /dev/null -o "$T/no/such/dir" 127.0.0.1 9
check "-o into a missing directory: status 2" status_is 2 "$CST"
check "-o into a missing directory: one line naming it" has_line \
    "$T/c.err" "tlsnc: -o: cannot open '$T/no/such/dir': No such file or directory"

done_testing

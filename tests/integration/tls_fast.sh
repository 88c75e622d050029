#!/bin/sh
# The TLS fast path gives exactly the bytes it was given: random data of
# sizes around the 16 KiB record (1, 16383, 16384, 16385 bytes) and of
# several MiB, each way, between tlsnc and tlsnc, openssl s_server and
# s_client, and gnutls-cli; a slow reader; and kernel TLS asked for where
# the kernel may not have it (TLSNC_KTLS=force), which must fall back to
# OpenSSL with the data intact and -v saying so.
#
# The peers' quirks, and how they are met (see openssl.sh and gnutls.sh):
# s_server drops the session at EOF on its stdin, so its stdin is held
# open; s_client and gnutls-cli end at tlsnc's close_notify, so a tlsnc
# listener's stdin is held open until their data has all arrived.

# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

SIZES="1 16383 16384 16385 3145733"
BIG=3145733		# 3 MiB + 5: not a multiple of any buffer

# data_file FILE BYTES: BYTES random bytes.
data_file() {
	head -c "$2" /dev/urandom > "$1"
}

# trusted ARGS: what a tlsnc client needs to verify the PKI server.
TRUST="--ssl-trustfile $PKI/ca.pem"
SERVER_CERT="--ssl-cert $PKI/server.pem --ssl-key $PKI/server.key"

# self_pair TAG BYTES DIR [ENV=VALUE [CLIENT ARGS]]: tlsnc to tlsnc; DIR
# "up" sends BYTES from the client to the listener, "down" from the
# listener to the client (whose stdin is /dev/null, so it half-closes at
# once).  ok when both exit 0 and the receiver's output is the data.
self_pair() {
	_d=$T/$1 _n=$2 _dir=$3 _env=${4:-TLSNC_FAST_TEST=1} _cargs=${5:-}
	data_file "$_d.data" "$_n"
	if [ "$_dir" = up ]; then
		_lin=/dev/null _cin=$_d.data _got=$_d.lout
	else
		_lin=$_d.data _cin=/dev/null _got=$_d.cout
	fi
	# shellcheck disable=SC2086
	env "$_env" "$TLSNC" -v -l --ssl $SERVER_CERT 127.0.0.1 0 \
	    < "$_lin" > "$_d.lout" 2> "$_d.lerr" &
	LPID=$!
	BG_PIDS="$BG_PIDS $LPID"
	if ! wait_for "$_d.lerr" "Listening on"; then
		not_ok "$1: listener did not start"
		return
	fi
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$_d.lerr" | head -n 1)
	# shellcheck disable=SC2086
	env "$_env" timeout -k 5 60 "$TLSNC" -v --ssl $TRUST $_cargs \
	    localhost "$LPORT" < "$_cin" > "$_d.cout" 2> "$_d.cerr"
	CST=$?
	listener_status
	if [ "$CST" = 0 ] && [ "$LST" = 0 ] && same_data "$_d.data" "$_got"
	then
		ok "$1: $_n bytes $_dir, intact"
	else
		diag "client $CST, listener $LST"
		diag_file "$_d.cerr"
		diag_file "$_d.lerr"
		not_ok "$1: $_n bytes $_dir, intact"
	fi
}

for n in $SIZES; do
	self_pair "self-up-$n" "$n" up
	self_pair "self-down-$n" "$n" down
done

# --- Kernel TLS asked for (TLSNC_KTLS=force) on both sides.  Where the
# kernel has no tls module, OpenSSL's attempt fails and it keeps the
# records itself; -v says "not in use".  Where it has one, -v names the
# directions the kernel took; either way the bytes are intact.
if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
	KTLS_WANT="kernel TLS: (send and receive|send|receive|not in use)"
else
	KTLS_WANT="kernel TLS: not in use"
fi
for dir in up down; do
	self_pair "ktls-force-$dir" "$BIG" "$dir" TLSNC_KTLS=force
	check "ktls-force-$dir: the client's -v says whether it is in use" \
	    grep -qxE "tlsnc: $KTLS_WANT" "$T/ktls-force-$dir.cerr"
	check "ktls-force-$dir: the listener's -v says so too" \
	    grep -qxE "tlsnc: $KTLS_WANT" "$T/ktls-force-$dir.lerr"
done
# TLS 1.2 takes another path through OpenSSL's kernel TLS set-up, and
# ChaCha20-Poly1305 is a cipher older kernels lack.
self_pair ktls-force-tls12 "$BIG" up TLSNC_KTLS=force \
    "--ssl-max-version tls1.2 --ssl-ciphers ECDHE+CHACHA20"
check "ktls-force-tls12: TLS 1.2 with ChaCha20-Poly1305" grep -qE \
    "^tlsnc: TLS TLSv1\.2, cipher ECDHE-[A-Z]+-CHACHA20-POLY1305," \
    "$T/ktls-force-tls12.cerr"
check "ktls-force-tls12: -v says whether it is in use" \
    grep -qxE "tlsnc: $KTLS_WANT" "$T/ktls-force-tls12.cerr"
# The flow's zero-copy decision: it may go around the TLS layer only when
# the kernel seals the records.  Without the module, the file is read and
# written through OpenSSL, and -vv says why.
self_pair ktls-force-path "$BIG" up TLSNC_KTLS=force -vv
if [ "$KTLS_WANT" = "kernel TLS: not in use" ]; then
	check "ktls-force-path: -vv: read/write through the tls layer" \
	    has_line "$T/ktls-force-path.cerr" \
	    "tlsnc: read/write (file -> tls): a layer sees the bytes"
else
	check "ktls-force-path: -vv names the path" grep -qE \
	    "^tlsnc: (read/write \(file -> tls\): a layer sees the bytes|zero-copy: sendfile \(file -> kernel TLS socket\))$" \
	    "$T/ktls-force-path.cerr"
fi
self_pair ktls-off "$BIG" up TLSNC_KTLS=off
check "ktls-off: no kernel TLS line" not_has_text "$T/ktls-off.cerr" \
    "kernel TLS"

# The handshake report names it too: "not in use" when asked for and not
# taken (on a kernel without the module), "off" when not asked for.
for mode in force off; do
	data_file "$T/rep-$mode.data" 16385
	: > "$T/rep-$mode.hold"
	feed_fifo "$T/rep-$mode.fifo" "$T/rep-$mode.hold" /dev/null
	openssl s_server -accept 0 -naccept 1 -quiet \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" < "$T/rep-$mode.fifo" \
	    > "$T/rep-$mode.sout" 2> "$T/rep-$mode.serr" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	if ! port=$(port_of_pid "$SPID"); then
		not_ok "report $mode: s_server did not start"
		rm -f "$T/rep-$mode.hold"
		continue
	fi
	# shellcheck disable=SC2086
	TLSNC_KTLS=$mode run_limited 60 "$TLSNC" --ssl $TRUST \
	    --ssl-info=json localhost "$port" < "$T/rep-$mode.data" \
	    > /dev/null 2> "$T/rep-$mode.cerr"
	CST=$?
	wait_pid "$SPID" 30
	rm -f "$T/rep-$mode.hold"
	if [ "$mode" = off ]; then
		want='"kernel_tls": *"off"'
	elif [ "$KTLS_WANT" = "kernel TLS: not in use" ]; then
		want='"kernel_tls": *"not in use"'
	else
		want='"kernel_tls": *"(send and receive|send|receive|not in use)"'
	fi
	if [ "$CST" = 0 ] && grep -qE "$want" "$T/rep-$mode.cerr" &&
	    same_data "$T/rep-$mode.data" "$T/rep-$mode.sout"; then
		ok "report $mode: kernel_tls key, data intact"
	else
		diag "client $CST; expected $want"
		diag_file "$T/rep-$mode.cerr"
		not_ok "report $mode: kernel_tls key, data intact"
	fi
done

# --- tlsnc client -> openssl s_server (whose stdin is held open).
for n in 1 16385 "$BIG"; do
	_d=$T/srv-$n
	data_file "$_d.data" "$n"
	: > "$_d.hold"
	feed_fifo "$_d.fifo" "$_d.hold" /dev/null
	openssl s_server -accept 0 -naccept 1 -quiet \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" < "$_d.fifo" > "$_d.sout" \
	    2> "$_d.serr" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	if ! port=$(port_of_pid "$SPID"); then
		not_ok "s_server $n: did not start"
		rm -f "$_d.hold"
		continue
	fi
	# shellcheck disable=SC2086
	run_limited 60 "$TLSNC" --ssl $TRUST localhost "$port" \
	    < "$_d.data" > /dev/null 2> "$_d.cerr"
	CST=$?
	wait_pid "$SPID" 30
	rm -f "$_d.hold"
	if [ "$CST" = 0 ] && same_data "$_d.data" "$_d.sout"; then
		ok "tlsnc -> s_server: $n bytes intact"
	else
		diag "client $CST"
		diag_file "$_d.cerr"
		not_ok "tlsnc -> s_server: $n bytes intact"
	fi
done

# pair_listener TAG BYTES_IN BYTES_OUT PEER: a tlsnc listener that sends
# BYTES_OUT and whose stdin is held until BYTES_IN have arrived; PEER
# (s_client or gnutls-cli) sends BYTES_IN and receives.  ok when
# both directions are intact and both exit 0.
pair_listener() {
	_tag=$1 _d=$T/$1 _pin=$2 _pout=$3
	shift 3
	data_file "$_d.cin" "$_pin"
	data_file "$_d.lin" "$_pout"
	: > "$_d.hold"
	feed_fifo "$_d.fifo" "$_d.hold" "$_d.lin" "$_d.lout" "$_pin"
	# shellcheck disable=SC2086
	if ! listen_tlsnc "$_d.lout" "$_d.lerr" "$_d.fifo" -l --ssl \
	    $SERVER_CERT 127.0.0.1 0; then
		rm -f "$_d.hold"
		not_ok "$_tag: listener did not start"
		return
	fi
	if [ "$1" = s_client ]; then
		run_limited 120 openssl s_client -quiet -CAfile "$PKI/ca.pem" \
		    -connect "127.0.0.1:$LPORT" < "$_d.cin" > "$_d.cout" \
		    2> "$_d.cerr"
	else
		run_limited 120 gnutls-cli --logfile="$_d.log" \
		    --x509cafile "$PKI/ca.pem" -p "$LPORT" localhost \
		    < "$_d.cin" > "$_d.cout" 2> "$_d.cerr"
	fi
	CST=$?
	listener_status
	rm -f "$_d.hold"
	if [ "$LST" = 0 ] && same_data "$_d.cin" "$_d.lout" &&
	    same_data "$_d.lin" "$_d.cout"; then
		ok "$_tag: $_pin bytes in, $_pout bytes out, intact"
	else
		diag "peer $CST, listener $LST"
		diag_file "$_d.lerr"
		not_ok "$_tag: $_pin bytes in, $_pout bytes out, intact"
	fi
}

pair_listener s_client-small 16383 16385 s_client
pair_listener s_client-big "$BIG" "$BIG" s_client
# gnutls-cli writes what it receives one byte per write(2): keep that
# direction small.
pair_listener gnutls-small 16384 1 gnutls-cli
pair_listener gnutls-big "$BIG" 16385 gnutls-cli

# --- A slow reader: the listener's stdout drains 4 KiB at a time with a
# pause, so the TLS read side fills, stops and resumes many times.
_d=$T/slow
data_file "$_d.data" "$BIG"
# shellcheck disable=SC2086
"$TLSNC" -v -l --ssl $SERVER_CERT 127.0.0.1 0 < /dev/null 2> "$_d.lerr" |
    python3 -c '
import sys, time
out = open(sys.argv[1], "wb")
while True:
    b = sys.stdin.buffer.read1(4096)
    if not b:
        break
    out.write(b)
    time.sleep(0.0005)
' "$_d.lout" &
SLOWPID=$!
BG_PIDS="$BG_PIDS $SLOWPID"
if wait_for "$_d.lerr" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$_d.lerr" | head -n 1)
	# shellcheck disable=SC2086
	run_limited 120 "$TLSNC" --ssl $TRUST localhost "$LPORT" \
	    < "$_d.data" > /dev/null 2> "$_d.cerr"
	CST=$?
	wait_pid "$SLOWPID" 120
	check "slow reader: client exit status 0" status_is 0 "$CST"
	check "slow reader: $BIG bytes intact" same_data "$_d.data" \
	    "$_d.lout"
else
	not_ok "slow reader: listener did not start"
fi

# --- Pipes at either end grow to a buffer's worth (256 KiB) on the TLS
# path too, so that each wake-up moves more than a default 64 KiB pipe
# holds.  The writer feeding the client's stdin and the reader of the
# listener's stdout ask their own pipe's size (F_GETPIPE_SZ) once the data
# has passed, and the bytes must still be intact.
_d=$T/pipes
data_file "$_d.data" "$BIG"
GETPIPE='import fcntl, sys; F_GETPIPE_SZ = 1032'
# shellcheck disable=SC2086
"$TLSNC" -v -l --ssl $SERVER_CERT 127.0.0.1 0 < /dev/null 2> "$_d.lerr" |
    python3 -c "$GETPIPE"'
out = open(sys.argv[1], "wb")
while True:
    b = sys.stdin.buffer.read1(65536)
    if not b:
        break
    out.write(b)
open(sys.argv[2], "w").write(str(fcntl.fcntl(0, F_GETPIPE_SZ)))
' "$_d.lout" "$_d.rsize" &
PIPEPID=$!
BG_PIDS="$BG_PIDS $PIPEPID"
if wait_for "$_d.lerr" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$_d.lerr" | head -n 1)
	python3 -c "$GETPIPE"'
sys.stdout.buffer.write(open(sys.argv[1], "rb").read())
sys.stdout.flush()
open(sys.argv[2], "w").write(str(fcntl.fcntl(1, F_GETPIPE_SZ)))
' "$_d.data" "$_d.wsize" |
	    run_limited 120 "$TLSNC" --ssl $TRUST localhost "$LPORT" \
	    > /dev/null 2> "$_d.cerr"
	CST=$?
	wait_pid "$PIPEPID" 120
	check "pipes: client exit status 0" status_is 0 "$CST"
	check "pipes: $BIG bytes intact" same_data "$_d.data" "$_d.lout"
	check "pipes: the client's stdin pipe grew to 256 KiB" \
	    test "$(cat "$_d.wsize" 2> /dev/null)" = 262144
	check "pipes: the listener's stdout pipe grew to 256 KiB" \
	    test "$(cat "$_d.rsize" 2> /dev/null)" = 262144
else
	not_ok "pipes: listener did not start"
fi

done_testing

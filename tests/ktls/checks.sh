#!/bin/sh
# The kernel TLS checks, run inside the VM that tests/ktls/run boots (as
# its /init's last step; see README).  Prints TAP-like lines, "ok N - ..."
# and "not ok N - ...", then "1..N" and "ktls-checks: done, N failed" (run
# parses the last).  Each peer runs under timeout(1) or is waited for with
# wait_pid's limit, and every wait is bounded.  The helpers are
# tests/integration/lib.sh's, which run puts next to this script.
#
# Environment: KTLS_SIZE_MIB (default 64), the size of the big transfers;
# KTLS_BENCH=1 also times the same transfer with and without kernel TLS.
set -u

SIZE_MIB=${KTLS_SIZE_MIB:-64}
# tests/integration/lib.sh, copied next to this script by run: ok/not_ok,
# check, wait_for, listen_tlsnc, pin_of, port_of_pid, wait_pid, hold, the
# has_*/status_is/same_data checks, T (the temp dir) and the cleanup trap.
# Its counters are TAP_N and TAP_FAILED, its background list BG_PIDS.
TLSNC=tlsnc
TOP_SRCDIR=/nonexistent	# for pki only, which the checks do not use
# Emulation is slow, and the machine shared: waits get 30 s, not 10.
WAIT_FOR_SECS=30
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/lib.sh"

# What lib.sh has no equivalent of: its listen_tlsnc runs "$TLSNC" as is,
# and the listeners here need an environment setting (KTLS_ENV) and a time
# limit (LWRAP, empty: then LPID is tlsnc's own pid, which the truncation
# check kills).  So "$TLSNC" is this function while they start; its exec
# keeps the background job's pid.
ktls_tlsnc() {
	# shellcheck disable=SC2086 # LWRAP is words or nothing
	exec env "$KTLS_ENV" $LWRAP tlsnc "$@"
}

# listen_env TAG IN: a tlsnc -vv listener (listen_tlsnc's -v and one more)
# under KTLS_ENV and LWRAP, with stdin from IN, stdout to $T/TAG.lout and
# stderr to $T/TAG.lerr; sets LPID, PORT and PIN.
listen_env() {
	TLSNC=ktls_tlsnc
	listen_tlsnc "$T/$1.lout" "$T/$1.lerr" "$2" -v -l --ssl 127.0.0.1 0
	_lst=$?
	TLSNC=tlsnc
	[ "$_lst" = 0 ] || return 1
	PORT=$LPORT
	PIN=$(pin_of "$T/$1.lerr")
	[ -n "$PIN" ]
}

# pair TAG DIR HOW [ENV]: DIR "up" sends big.data from the client to the
# listener, "down" the other way.  HOW is "file" (stdin is the file) or
# "pipe" (cat feeds stdin through a pipe).  Checks both exit 0 and the bytes;
# XFER is the seconds from the client's start to the listener's end.
pair() {
	_t=$1 _dir=$2 _how=$3 _env=${4:-KTLS_NONE=1}
	if [ "$_dir" = up ]; then _lin=/dev/null; else _lin=$T/big.data; fi
	KTLS_ENV=$_env
	if ! listen_env "$_t" "$_lin"; then
		not_ok "$_t: the listener did not start"
		return 1
	fi
	_t0=$(date +%s.%N)
	if [ "$_dir" = up ] && [ "$_how" = pipe ]; then
		# shellcheck disable=SC2002 # the source must be a pipe
		cat "$T/big.data" | env "$_env" timeout -k 5 120 tlsnc -vv \
		    --ssl --ssl-pin "$PIN" localhost "$PORT" \
		    > "$T/$_t.cout" 2> "$T/$_t.cerr"
	elif [ "$_dir" = up ]; then
		env "$_env" timeout -k 5 120 tlsnc -vv --ssl --ssl-pin "$PIN" \
		    localhost "$PORT" < "$T/big.data" > "$T/$_t.cout" \
		    2> "$T/$_t.cerr"
	else
		env "$_env" timeout -k 5 120 tlsnc -vv --ssl --ssl-pin "$PIN" \
		    localhost "$PORT" < /dev/null 2> "$T/$_t.cerr" |
		    cat > "$T/$_t.cout"
	fi
	_cst=$?
	wait "$LPID"
	_lst=$?
	XFER=$(echo "$_t0 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
	if [ "$_dir" = up ]; then _got=$T/$_t.lout; else _got=$T/$_t.cout; fi
	if [ "$_cst" = 0 ] && [ "$_lst" = 0 ] && same_data "$T/big.data" "$_got"
	then
		ok "$_t: $SIZE_MIB MiB $_dir, sha256 equal"
	else
		diag "client $_cst, listener $_lst"
		diag_file "$T/$_t.cerr"
		diag_file "$T/$_t.lerr"
		not_ok "$_t: $SIZE_MIB MiB $_dir, sha256 equal"
	fi
	# /tmp is memory: keep only the logs.
	rm -f "$T/$_t.lout" "$T/$_t.cout"
}

LWRAP="timeout -k 5 120"

# --- The kernel.
check "modprobe tls" modprobe tls
# What the kernel would load for the first key, loaded now.
modprobe -a gcm ghash-generic aesni-intel chacha20poly1305 2>/dev/null
check "the kernel lists the tls upper layer" \
    grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$T/big.data"

KT="tlsnc: kernel TLS: send and receive"
# --- tlsnc to tlsnc, up from a file (sendfile) and from a pipe (splice).
pair sendfile-up up file
check "sendfile-up: the client's -v says $KT" has_line "$T/sendfile-up.cerr" "$KT"
check "sendfile-up: the listener's -v says $KT" has_line "$T/sendfile-up.lerr" "$KT"
check "sendfile-up: -vv: sendfile into the kernel TLS socket" \
    has_text "$T/sendfile-up.cerr" "zero-copy: sendfile (file -> kernel TLS socket)"
check "sendfile-up: -vv: the listener splices out of the kernel TLS socket" \
    has_text "$T/sendfile-up.lerr" "zero-copy: splice through a pipe (kernel TLS socket -> file)"
pair splice-up up pipe
check "splice-up: -vv: splice from the pipe into the kernel TLS socket" \
    has_text "$T/splice-up.cerr" "zero-copy: splice (pipe -> kernel TLS socket)"
check "splice-up: the listener saw close_notify (no truncation warning)" \
    not_has_text "$T/splice-up.lerr" "without close_notify"
pair sendfile-down down file
check "sendfile-down: -vv: the listener sends with sendfile" \
    has_text "$T/sendfile-down.lerr" "zero-copy: sendfile (file -> kernel TLS socket)"
check "sendfile-down: -vv: the client splices out into its pipe" \
    has_text "$T/sendfile-down.cerr" "zero-copy: splice through a pipe (kernel TLS socket -> pipe)"

# --- The JSON report.
: > "$T/small"
KTLS_ENV=KTLS_NONE=1
if listen_env json /dev/null; then
	timeout -k 5 60 tlsnc --ssl --ssl-pin "$PIN" --ssl-info=json \
	    localhost "$PORT" < "$T/small" > /dev/null 2> "$T/json.cerr"
	wait "$LPID"
	check "--ssl-info=json: \"kernel_tls\": \"send and receive\"" \
	    grep -q '"kernel_tls": *"send and receive"' "$T/json.cerr"
else
	not_ok "--ssl-info=json: the listener did not start"
fi

# --- TLSNC_KTLS=off: OpenSSL does the records, and the flows read/write.
pair off-up up pipe TLSNC_KTLS=off
check "off-up: no kernel TLS line" \
    not_has_text "$T/off-up.cerr" "kernel TLS"
check "off-up: -vv: read/write under the tls layer" \
    has_text "$T/off-up.cerr" "read/write (pipe -> tls): a layer sees the bytes"

# --- Against openssl s_server -ktls and s_client -ktls.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2> /dev/null
hold "$T/shold"
openssl s_server -ktls -accept 0 -naccept 1 -quiet \
    -cert "$T/cert.pem" -key "$T/key.pem" < "$T/shold" \
    > "$T/ss.out" 2> "$T/ss.err" &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
if SPORT=$(port_of_pid "$SPID" .); then
	SPIN=SHA256:$(openssl x509 -noout -fingerprint -sha256 \
	    -in "$T/cert.pem" | sed 's/.*=//')
	timeout -k 5 120 tlsnc -vv --ssl --ssl-pin "$SPIN" \
	    localhost "$SPORT" < "$T/big.data" > /dev/null 2> "$T/ss.cerr"
	SCST=$?
	unhold
	wait_pid "$SPID" 120
	check "s_server -ktls: tlsnc sent $SIZE_MIB MiB, status 0" \
	    status_is 0 "$SCST"
	check "s_server -ktls: sha256 equal" \
	    same_data "$T/big.data" "$T/ss.out"
	rm -f "$T/ss.out"
	check "s_server -ktls: tlsnc's -v says $KT" has_line "$T/ss.cerr" "$KT"
	check "s_server -ktls: -vv: sendfile into the kernel TLS socket" \
	    has_text "$T/ss.cerr" "zero-copy: sendfile (file -> kernel TLS socket)"
else
	not_ok "s_server -ktls did not start"
fi
KTLS_ENV=KTLS_NONE=1
if listen_env sc "$T/big.data"; then
	printf '' | timeout -k 5 120 openssl s_client -ktls -quiet \
	    -connect "127.0.0.1:$PORT" > "$T/sc.out" 2> "$T/sc.err"
	wait "$LPID"
	LST=$?
	check "s_client -ktls: the tlsnc listener sent $SIZE_MIB MiB, status 0" \
	    status_is 0 "$LST"
	check "s_client -ktls: sha256 equal" \
	    same_data "$T/big.data" "$T/sc.out"
	rm -f "$T/sc.out"
	check "s_client -ktls: -vv: sendfile into the kernel TLS socket" \
	    has_text "$T/sc.lerr" "zero-copy: sendfile (file -> kernel TLS socket)"
else
	not_ok "s_client -ktls: the listener did not start"
fi

# --- Truncation: the sending listener is killed (SIGKILL) after the client
# has some bytes, so the client's kernel TLS socket ends in a FIN without
# close_notify.  The client reads by splice and must still say so (6).
mkfifo "$T/tin"
# Held open: the fifo's writer stays until it is killed.
( head -c 4194304 "$T/big.data"; exec sleep 300 ) > "$T/tin" &
FEED=$!
BG_PIDS="$BG_PIDS $FEED"
KTLS_ENV=KTLS_NONE=1 LWRAP=""
if listen_env trunc "$T/tin"; then
	timeout -k 5 120 tlsnc -vv --recv-only --ssl --ssl-pin "$PIN" \
	    localhost "$PORT" < /dev/null > "$T/trunc.cout" \
	    2> "$T/trunc.cerr" &
	CPID=$!
	BG_PIDS="$BG_PIDS $CPID"
	if wait_for "$T/trunc.cerr" "kernel TLS socket -> file"; then
		kill -KILL "$LPID"
		wait "$CPID"
		CST=$?
		check "truncation: the client's status is 6 (it was $CST)" \
		    status_is 6 "$CST"
		check "truncation: the client says so" has_text "$T/trunc.cerr" \
		    "without close_notify: the data may be truncated"
		check "truncation: the client's -vv: the layer reads the end" \
		    has_text "$T/trunc.cerr" "the layer reads the end of its stream"
	else
		not_ok "truncation: the client did not splice"
	fi
	kill "$FEED" 2>/dev/null
else
	not_ok "truncation: the listener did not start"
fi
LWRAP="timeout -k 5 120"

# --- Speed, under emulation: only the ratio means anything.
if [ "${KTLS_BENCH:-0}" = 1 ]; then
	n_before=$TAP_N f_before=$TAP_FAILED
	# Which implementation the kernel took for the records' AEAD.
	echo "# bench: kernel gcm(aes): $(awk '/^name/ { n = $3 }
	    /^driver/ && n ~ /^(rfc4106\()?gcm\(aes\)\)?$/ { print $3 }' \
	    /proc/crypto | sort -u | tr '\n' ' ')"
	# And OpenSSL's own speed of it, in user space, under the same emulation.
	echo "# bench: openssl speed aes-256-gcm, 16 KiB:" \
	    "$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 2 \
	    2> /dev/null | awk '/^AES-256-GCM/ { print $2 }') kB/s"
	# Interleaved rounds: the two modes share whatever the host does.
	for round in $(seq "${KTLS_BENCH_ROUNDS:-3}"); do
	for how in file pipe; do
		for mode in auto off; do
			pair "bench-$mode-$how" up "$how" "TLSNC_KTLS=$mode" \
			    > "$T/bench.tap"
			sed "s/^ok [0-9]*/# bench/;s/^not ok [0-9]*/# bench FAILED/" \
			    "$T/bench.tap"
			echo "# bench: round $round: TLSNC_KTLS=$mode," \
			    "a $how, $SIZE_MIB MiB: $XFER s"
		done
	done
	done
	TAP_N=$n_before TAP_FAILED=$f_before
fi

echo "1..$TAP_N"
echo "ktls-checks: done, $TAP_FAILED failed"

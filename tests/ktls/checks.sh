#!/bin/sh
# The kernel TLS checks, run inside the VM that tests/ktls/run boots (as
# its /init's last step; see README).  Prints TAP-like lines, "ok N - ..."
# and "not ok N - ...", then "ktls-checks: done".  Each peer runs under
# timeout(1), and every wait is bounded.
#
# Environment: KTLS_SIZE_MIB (default 64), the size of the big transfers;
# KTLS_BENCH=1 also times the same transfer with and without kernel TLS.
set -u

SIZE_MIB=${KTLS_SIZE_MIB:-64}
T=$(mktemp -d /tmp/ktls.XXXXXX)
N=0
FAILED=0
BG=""

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
diag() { echo "# $*"; }
diag_file() { sed 's/^/#   /' "$1" 2>/dev/null | head -n 20; }

# check DESC CMD...: ok when CMD succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}

# wait_for FILE PATTERN [SECS]: until grep finds PATTERN in FILE.
wait_for() {
	_i=0 _limit=$(( ${3:-30} * 20 ))
	while [ "$_i" -lt "$_limit" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	diag "timed out waiting for '$2' in $1"
	diag_file "$1"
	return 1
}

# listen_env TAG IN: a tlsnc -vv listener, under the environment setting
# in KTLS_ENV and the time limit in LWRAP (empty: then LPID is tlsnc's own
# pid), with stdin from IN, stdout to $T/TAG.lout and stderr to
# $T/TAG.lerr; sets LPID, PORT and PIN.
listen_env() {
	_tag=$1 _in=$2
	# shellcheck disable=SC2086
	env "$KTLS_ENV" $LWRAP tlsnc -vv -l --ssl 127.0.0.1 0 \
	    < "$_in" > "$T/$_tag.lout" 2> "$T/$_tag.lerr" &
	LPID=$!
	BG="$BG $LPID"
	wait_for "$T/$_tag.lerr" "Listening on" || return 1
	PORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/$_tag.lerr" | head -n 1)
	PIN=$(sed -n 's/^tlsnc: ephemeral certificate \(SHA256:[0-9a-f]*\)$/\1/p' \
	    "$T/$_tag.lerr" | head -n 1)
	[ -n "$PORT" ] && [ -n "$PIN" ]
}

# port_of NAME: the port that the one process called NAME listens on.
port_of() {
	_i=0
	while [ "$_i" -lt 600 ]; do
		_p=$(ss -ltnpH 2>/dev/null | grep "\"$1\"" | awk '{ print $4 }' |
		    head -n 1 | sed 's/.*://')
		[ -n "$_p" ] && { echo "$_p"; return 0; }
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

same() { [ "$(sha256sum < "$1")" = "$(sha256sum < "$2")" ]; }
# has FILE PATTERN: grep, showing FILE when it does not match.
has() {
	grep -q -- "$2" "$1" && return 0
	diag "no '$2' in $1:"
	diag_file "$1"
	return 1
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
	if [ "$_cst" = 0 ] && [ "$_lst" = 0 ] && same "$T/big.data" "$_got"
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

cleanup() {
	for p in $BG; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

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
check "sendfile-up: the client's -v says $KT" has "$T/sendfile-up.cerr" "^$KT\$"
check "sendfile-up: the listener's -v says $KT" has "$T/sendfile-up.lerr" "^$KT\$"
check "sendfile-up: -vv: sendfile into the kernel TLS socket" \
    has "$T/sendfile-up.cerr" "zero-copy: sendfile (file -> kernel TLS socket)"
check "sendfile-up: -vv: the listener splices out of the kernel TLS socket" \
    has "$T/sendfile-up.lerr" "zero-copy: splice through a pipe (kernel TLS socket -> file)"
pair splice-up up pipe
check "splice-up: -vv: splice from the pipe into the kernel TLS socket" \
    has "$T/splice-up.cerr" "zero-copy: splice (pipe -> kernel TLS socket)"
check "splice-up: the listener saw close_notify (no truncation warning)" \
    sh -c "! grep -q 'without close_notify' '$T/splice-up.lerr'"
pair sendfile-down down file
check "sendfile-down: -vv: the listener sends with sendfile" \
    has "$T/sendfile-down.lerr" "zero-copy: sendfile (file -> kernel TLS socket)"
check "sendfile-down: -vv: the client splices out into its pipe" \
    has "$T/sendfile-down.cerr" "zero-copy: splice through a pipe (kernel TLS socket -> pipe)"

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
check "off-up: no kernel TLS line" sh -c "! grep -q 'kernel TLS' '$T/off-up.cerr'"
check "off-up: -vv: read/write under the tls layer" \
    has "$T/off-up.cerr" "read/write (pipe -> tls): a layer sees the bytes"

# --- Against openssl s_server -ktls and s_client -ktls.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2> /dev/null
mkfifo "$T/shold"
sleep 300 > "$T/shold" &
HOLD=$!
BG="$BG $HOLD"
timeout -k 5 120 openssl s_server -ktls -accept 0 -naccept 1 -quiet \
    -cert "$T/cert.pem" -key "$T/key.pem" < "$T/shold" \
    > "$T/ss.out" 2> "$T/ss.err" &
SPID=$!
BG="$BG $SPID"
if SPORT=$(port_of openssl); then
	SPIN=SHA256:$(openssl x509 -noout -fingerprint -sha256 \
	    -in "$T/cert.pem" | sed 's/.*=//')
	timeout -k 5 120 tlsnc -vv --ssl --ssl-pin "$SPIN" \
	    localhost "$SPORT" < "$T/big.data" > /dev/null 2> "$T/ss.cerr"
	SCST=$?
	kill "$HOLD" 2>/dev/null
	wait "$SPID"
	check "s_server -ktls: tlsnc sent $SIZE_MIB MiB, status 0" \
	    test "$SCST" = 0
	check "s_server -ktls: sha256 equal" same "$T/big.data" "$T/ss.out"
	rm -f "$T/ss.out"
	check "s_server -ktls: tlsnc's -v says $KT" has "$T/ss.cerr" "^$KT\$"
	check "s_server -ktls: -vv: sendfile into the kernel TLS socket" \
	    has "$T/ss.cerr" "zero-copy: sendfile (file -> kernel TLS socket)"
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
	    test "$LST" = 0
	check "s_client -ktls: sha256 equal" same "$T/big.data" "$T/sc.out"
	rm -f "$T/sc.out"
	check "s_client -ktls: -vv: sendfile into the kernel TLS socket" \
	    has "$T/sc.lerr" "zero-copy: sendfile (file -> kernel TLS socket)"
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
BG="$BG $FEED"
KTLS_ENV=KTLS_NONE=1 LWRAP=""
if listen_env trunc "$T/tin"; then
	timeout -k 5 120 tlsnc -vv --recv-only --ssl --ssl-pin "$PIN" \
	    localhost "$PORT" < /dev/null > "$T/trunc.cout" \
	    2> "$T/trunc.cerr" &
	CPID=$!
	BG="$BG $CPID"
	if wait_for "$T/trunc.cerr" "kernel TLS socket -> file"; then
		kill -KILL "$LPID"
		wait "$CPID"
		CST=$?
		check "truncation: the client's status is 6 (it was $CST)" \
		    test "$CST" = 6
		check "truncation: the client says so" has "$T/trunc.cerr" \
		    "without close_notify: the data may be truncated"
		check "truncation: the client's -vv: the layer reads the end" \
		    has "$T/trunc.cerr" "the layer reads the end of its stream"
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
	n_before=$N f_before=$FAILED
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
	N=$n_before FAILED=$f_before
fi

echo "1..$N"
echo "ktls-checks: done, $FAILED failed"

#!/bin/sh
# TLS, tlsnc against tlsnc: the ephemeral certificate and its pin, bulk data,
# the half-close rules over TLS, the -v handshake summary with the test PKI,
# truncation, --ssl-no-verify and the handshake timeout.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

A="$T/a.bin"
B="$T/b.bin"
random_file "$A" 64
random_file "$B" 64
SIZE=$((64 * 1048576))
printf 'hello over TLS\n' > "$T/small"

NOVERIFY_WARNING="tlsnc: warning: --ssl-no-verify: the server is not \
verified; anyone in the path can read and change the data"

# matches FILE ERE: some line of FILE matches the whole ERE.
# shellcheck disable=SC2317  # called through check
matches() {
	if grep -qE -- "^$2\$" "$1"; then
		return 0
	fi
	diag "expected a line matching: $2"
	diag_file "$1"
	return 1
}

# first_byte FILE: the first byte of FILE in hex.
first_byte() {
	head -c 1 "$1" | od -An -tx1 | tr -d ' \n'
}

# --- The ephemeral listener prints its pin and a command; that command,
# run as printed, carries 64 MiB each way.
if listen_tlsnc "$T/l.out" "$T/l.err" "$B" -l --ssl 0; then
	PIN=$(pin_of "$T/l.err")
	check "ephemeral: fingerprint line" matches "$T/l.err" \
	    "tlsnc: ephemeral certificate SHA256:[0-9a-f]{64}"
	check "ephemeral: connect-with line" has_line "$T/l.err" \
	    "tlsnc: connect with: tlsnc --ssl --ssl-pin $PIN localhost $LPORT"
	CMD=$(sed -n 's/^tlsnc: connect with: tlsnc //p' "$T/l.err")
	# The printed arguments are plain words: split them as a shell would.
	# shellcheck disable=SC2086
	client "$T/c.out" "$T/c.err" "$A" $CMD
	listener_status
	both_ok "printed command, both ways"
	check "printed command: sha256 at the listener" \
	    same_data "$A" "$T/l.out"
	check "printed command: sha256 at the client" \
	    same_data "$B" "$T/c.out"
	check "printed command: client stderr empty" test ! -s "$T/c.err"
	check "ephemeral listener: byte counts" has_line "$T/l.err" \
	    "tlsnc: $SIZE bytes sent, $SIZE bytes received"
else
	not_ok "ephemeral: listener did not start"
fi
rm -f "$T/l.out" "$T/c.out"

# --- 64 MiB client -> listener, the listener's stdin /dev/null (so it
# sends close_notify at once); the pin in upper case with colons.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l --ssl 0; then
	PIN=$(pin_of "$T/l.err")
	UPIN="SHA256:$(echo "${PIN#SHA256:}" | tr a-f A-F |
	    sed 's/../&:/g; s/:$//')"
	diag "pin as given: $UPIN"
	client "$T/c.out" "$T/c.err" "$A" -v --ssl --ssl-pin "$UPIN" \
	    127.0.0.1 "$LPORT"
	listener_status
	both_ok "client to listener (listener stdin /dev/null)"
	check "client to listener: sha256 equal" same_data "$A" "$T/l.out"
	check "client to listener: client received nothing" \
	    test ! -s "$T/c.out"
	check "client to listener: TLS summary line" matches "$T/c.err" \
	    "tlsnc: TLS TLSv1\.3, cipher [A-Z0-9_]+, group [A-Za-z0-9_-]+"
	check "client to listener: pin accepted" has_line "$T/c.err" \
	    "tlsnc: verification: ok (pinned certificate)"
	check "client to listener: peer certificate is the pinned one" \
	    has_line "$T/c.err" "tlsnc: peer certificate $PIN"
	check "client to listener: client byte counts" has_line "$T/c.err" \
	    "tlsnc: $SIZE bytes sent, 0 bytes received"
	check "client to listener: listener byte counts" has_line \
	    "$T/l.err" "tlsnc: 0 bytes sent, $SIZE bytes received"
else
	not_ok "client to listener: listener did not start"
fi

# --- 64 MiB listener -> client, the client's stdin /dev/null.
if listen_tlsnc "$T/l.out" "$T/l.err" "$B" -l --ssl 0; then
	PIN=$(pin_of "$T/l.err")
	client "$T/c.out" "$T/c.err" /dev/null -v --ssl --ssl-pin "$PIN" \
	    localhost "$LPORT"
	listener_status
	both_ok "listener to client (client stdin /dev/null)"
	check "listener to client: sha256 equal" same_data "$B" "$T/c.out"
	check "listener to client: listener received nothing" \
	    test ! -s "$T/l.out"
	check "listener to client: client byte counts" has_line "$T/c.err" \
	    "tlsnc: 0 bytes sent, $SIZE bytes received"
else
	not_ok "listener to client: listener did not start"
fi
rm -f "$T/l.out" "$T/c.out"

# --- A server that answers only after the client's EOF (close_notify, then
# FIN): the listener's stdout feeds a program that reads to EOF and then
# answers on the listener's stdin.
mkfifo "$T/fromnet" "$T/tonet"
sh -c 'cat > "$1"; echo answer' sh "$T/got" > "$T/tonet" < "$T/fromnet" &
HELPER=$!
BG_PIDS="$BG_PIDS $HELPER"
if listen_tlsnc "$T/fromnet" "$T/l.err" "$T/tonet" -l --ssl 0; then
	PIN=$(pin_of "$T/l.err")
	client "$T/c.out" "$T/c.err" "$T/small" --ssl --ssl-pin "$PIN" \
	    localhost "$LPORT"
	listener_status
	both_ok "answer after EOF"
	check "answer after EOF: the server read the question" \
	    same_data "$T/small" "$T/got"
	check "answer after EOF: the answer arrived" \
	    test "$(cat "$T/c.out")" = answer
	check "answer after EOF: client stderr empty" test ! -s "$T/c.err"
else
	not_ok "answer after EOF: listener did not start"
fi
wait_pid "$HELPER" 10 >/dev/null
rm -f "$T/fromnet" "$T/tonet"

# --- The test PKI: a CA-issued server certificate, verified by name and by
# IP address.
have_v6=false
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	have_v6=true
fi
if pki; then
	SFP="SHA256:$(openssl x509 -in "$PKI/server.pem" -outform DER |
	    sha256sum | cut -d' ' -f1)"
	for host in localhost 127.0.0.1 ::1; do
		if [ "$host" = ::1 ] && ! $have_v6; then
			skip 11 "no IPv6"
			continue
		fi
		if ! listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l --ssl \
		    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" 0
		then
			not_ok "PKI $host: listener did not start"
			continue
		fi
		client "$T/c.out" "$T/c.err" "$T/small" -v --ssl \
		    --ssl-trustfile "$PKI/ca.pem" "$host" "$LPORT"
		listener_status
		both_ok "PKI $host"
		check "PKI $host: data" same_data "$T/small" "$T/l.out"
		check "PKI $host: TLS summary line" matches "$T/c.err" \
		    "tlsnc: TLS TLSv1\.3, cipher [A-Z0-9_]+, group [A-Za-z0-9_-]+"
		check "PKI $host: subject" has_line "$T/c.err" \
		    "tlsnc: peer certificate subject: CN=localhost"
		check "PKI $host: issuer" has_line "$T/c.err" \
		    "tlsnc: peer certificate issuer: CN=tlsnc test intermediate CA"
		check "PKI $host: fingerprint of server.pem" has_line \
		    "$T/c.err" "tlsnc: peer certificate $SFP"
		check "PKI $host: verification line" has_line "$T/c.err" \
		    "tlsnc: verification: ok (trusted chain, name $host)"
		check "PKI $host: the listener shows its certificate" has_line \
		    "$T/l.err" "tlsnc: certificate $SFP"
		check "PKI $host: no ephemeral certificate" \
		    test "$(grep -c ephemeral "$T/l.err")" = 0
		check "PKI $host: listener sees no client certificate" \
		    has_line "$T/l.err" "tlsnc: peer certificate: none"
	done
else
	not_ok "the test PKI could not be made"
fi

# --- Truncation: the listener is killed (SIGKILL) after sending some data,
# so the client sees a FIN without close_notify.  --recv-only lets the
# client end at that EOF.
hold "$T/lin"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/lin" -l --ssl 0; then
	PIN=$(pin_of "$T/l.err")
	"$TLSNC" --recv-only --ssl --ssl-pin "$PIN" localhost "$LPORT" \
	    < /dev/null > "$T/c.out" 2> "$T/c.err" &
	CPID=$!
	BG_PIDS="$BG_PIDS $CPID"
	cat "$T/small" > "$T/lin"
	if wait_for "$T/c.out" "hello over TLS" 10; then
		kill -KILL "$LPID"
		wait_pid "$CPID" 10
		CST=$?
		check "truncation: client exit status 6" status_is 6 "$CST"
		check "truncation: client message" has_line "$T/c.err" \
		    "tlsnc: the peer closed the connection without close_notify: the data may be truncated"
		check "truncation: the data before the cut arrived" \
		    same_data "$T/small" "$T/c.out"
	else
		not_ok "truncation: the first data did not arrive"
	fi
	listener_status 5 >/dev/null
else
	not_ok "truncation: listener did not start"
fi
unhold

# --- --ssl-no-verify: a warning, then the connection goes through.
if listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l --ssl 0; then
	client "$T/c.out" "$T/c.err" "$T/small" -v --ssl --ssl-no-verify \
	    localhost "$LPORT"
	listener_status
	both_ok "--ssl-no-verify"
	check "--ssl-no-verify: warning line" has_line "$T/c.err" \
	    "$NOVERIFY_WARNING"
	check "--ssl-no-verify: the warning comes first" \
	    test "$(head -n 1 "$T/c.err")" = "$NOVERIFY_WARNING"
	check "--ssl-no-verify: verification line" has_text "$T/c.err" \
	    "tlsnc: verification: disabled by --ssl-no-verify (it would fail: "
	check "--ssl-no-verify: data" same_data "$T/small" "$T/l.out"
else
	not_ok "--ssl-no-verify: listener did not start"
fi

# --- Handshake timeout: a plain listener that never sends nor closes.
hold "$T/lin"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/lin" -l 0; then
	client "$T/c.out" "$T/c.err" /dev/null --ssl --ssl-no-verify -w 1 \
	    127.0.0.1 "$LPORT"
	check "handshake timeout: client exit status 3" status_is 3 "$CST"
	check "handshake timeout: message" has_line "$T/c.err" \
	    "tlsnc: TLS handshake timed out"
	check "handshake timeout: the listener got a ClientHello" \
	    test "$(first_byte "$T/l.out")" = 16
	unhold
	listener_status 10
	check "handshake timeout: listener exit status 0" status_is 0 "$LST"
else
	not_ok "handshake timeout: listener did not start"
	unhold
fi

done_testing

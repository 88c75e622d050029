#!/bin/sh
# Interoperability with GnuTLS's peers: tlsnc as a client of
# "gnutls-serv --echo", and "gnutls-cli" as a client of tlsnc -l.
#
# What the peers can do, and so how these tests are arranged:
#  - gnutls-serv has no raw pipe mode.  Its --echo mode is line-based: it
#    echoes once a newline has arrived, stops at a NUL byte and reads lines
#    that start with "**" as commands.  So tlsnc sends 64 MiB of random data
#    encoded as base64 lines (no NUL, no CR, no "*"), gets the same 64 MiB
#    back, and the two are compared.  It answers close_notify with its own.
#  - gnutls-cli sends close_notify at EOF on stdin and reads on until the
#    peer closes.  At the peer's close_notify it exits at once, without
#    sending the rest of its input or a close_notify of its own, and it
#    reads stdin only when nothing is waiting from the network.  So tlsnc's
#    stdin is held open until all of gnutls-cli's data has arrived (see
#    feed below).
#  - gnutls-cli writes what it receives one byte per write(2), under
#    2 MB/s here: 64 MiB would take some 40 s of CPU, so tlsnc sends it
#    GNUTLS_CLI_RECV_MIB (default 8) mebibytes; it sends tlsnc 64 MiB.

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

MIB=1048576
CLI_RECV_MIB=${GNUTLS_CLI_RECV_MIB:-8}

# text_file FILE MIB: MIB mebibytes of random base64 text in lines of 63
# characters (so exactly MIB MiB, with no padding).
text_file() {
	head -c "$(($2 * 774144))" /dev/urandom | base64 -w 63 > "$1"
}

# start_serv TAG [GNUTLS-SERV ARGS...]: an echo server with the PKI server
# certificate; sets GPID and GPORT (its IPv4 port; -p 0 gives IPv6 another).
start_serv() {
	_d=$T/$1
	shift
	gnutls-serv --echo -q -p 0 --x509certfile "$PKI/server.pem" \
	    --x509keyfile "$PKI/server.key" "$@" \
	    > /dev/null 2> "$_d.gerr" &
	GPID=$!
	BG_PIDS="$BG_PIDS $GPID"
	if ! GPORT=$(port_of_pid "$GPID" '^0\.0\.0\.0:'); then
		diag "gnutls-serv did not start listening"
		diag_file "$_d.gerr"
		return 1
	fi
}

# stop_serv: the echo server must still be serving; stop it.
stop_serv() {
	if kill "$GPID" 2>/dev/null; then
		wait "$GPID" 2>/dev/null
		return 0
	fi
	diag "gnutls-serv had exited"
	return 1
}

# no_error FILE: gnutls-serv's stderr FILE reports no failed handshake.
# (It also logs what it echoes, so look only for its own error lines.)
no_error() {
	if grep -q '^Error in handshake' "$1"; then
		grep '^Error' "$1" | sed 's/^/#   /'
		return 1
	fi
}

# echo_run TAG MIB [TLSNC ARGS...]: send MIB MiB of text to the echo server
# with "tlsnc -v --ssl --ssl-trustfile ca.pem ARGS 127.0.0.1 GPORT".  Files
# $T/TAG.{in,out,err}; sets CST.
echo_run() {
	_d=$T/$1
	text_file "$_d.in" "$2"
	shift 2
	run_limited 120 "$TLSNC" -v --ssl --ssl-trustfile "$PKI/ca.pem" "$@" \
	    127.0.0.1 "$GPORT" < "$_d.in" > "$_d.out" 2> "$_d.err"
	CST=$?
}

# cli_pair TAG SEND_MIB RECV_MIB CERT [GNUTLS-CLI ARGS...]: gnutls-cli sends
# SEND_MIB MiB to "tlsnc -v -l --ssl 127.0.0.1 0" and receives RECV_MIB MiB.
# CERT names the listener's certificate: a PKI name (server, untrusted,
# wrongname) or "ephemeral".  Files: $T/TAG.{lin,lout,lerr} for tlsnc,
# $T/TAG.{cin,cout,cerr,log} for gnutls-cli.  Sets LST and CST.
cli_pair() {
	_d=$T/$1 _send=$2 _recv=$3 _cert=$4
	shift 4
	random_file "$_d.cin" "$_send"
	random_file "$_d.lin" "$_recv"
	: > "$_d.hold"
	LST=none CST=none
	# tlsnc's stdin ends once all of gnutls-cli's data has arrived.
	feed_fifo "$_d.fifo" "$_d.hold" "$_d.lin" "$_d.lout" \
	    "$((_send * MIB))"
	if [ "$_cert" = ephemeral ]; then
		listen_tlsnc "$_d.lout" "$_d.lerr" "$_d.fifo" -l --ssl \
		    127.0.0.1 0
	else
		listen_tlsnc "$_d.lout" "$_d.lerr" "$_d.fifo" -l --ssl \
		    --ssl-cert "$PKI/$_cert.pem" --ssl-key "$PKI/$_cert.key" \
		    127.0.0.1 0
	fi || {
		rm -f "$_d.hold"
		return 1
	}
	run_limited 120 gnutls-cli --logfile="$_d.log" -p "$LPORT" "$@" \
	    localhost < "$_d.cin" > "$_d.cout" 2> "$_d.cerr"
	CST=$?
	# A refused handshake leaves tlsnc nothing to wait for.
	rm -f "$_d.hold"
	wait_pid "$LPID" 30
	LST=$?
	return 0
}

diag "gnutls-serv --echo is line-based: the 64 MiB echoed are base64 text"
diag "gnutls-cli receives $CLI_RECV_MIB MiB: it writes one byte per write(2)"

# --- tlsnc client <-> gnutls-serv --echo, 64 MiB there and back ---------
if start_serv echo; then
	echo_run echo 64
	check "gnutls-serv: tlsnc exits 0" status_is 0 "$CST"
	check "gnutls-serv: 64 MiB echoed intact" \
	    same_data "$T/echo.in" "$T/echo.out"
	check "gnutls-serv: tlsnc verified the chain and the address" \
	    has_line "$T/echo.err" \
	    "tlsnc: verification: ok (trusted chain, name 127.0.0.1)"
	check "gnutls-serv: tlsnc counted both directions" has_line \
	    "$T/echo.err" "tlsnc: 67108864 bytes sent, 67108864 bytes received"
	check "gnutls-serv: still serving afterwards" stop_serv
	rm -f "$T"/echo.*
else
	not_ok "gnutls-serv: set-up"
fi

# --- TLS 1.2 only, and a required client certificate ---------------------
if start_serv t12 --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'; then
	echo_run t12 1
	check "TLS 1.2 gnutls-serv: tlsnc exits 0" status_is 0 "$CST"
	check "TLS 1.2 gnutls-serv: data echoed intact" \
	    same_data "$T/t12.in" "$T/t12.out"
	check "TLS 1.2 gnutls-serv: -v shows TLSv1.2" \
	    has_text "$T/t12.err" "tlsnc: TLS TLSv1.2, cipher "
	check "TLS 1.2 gnutls-serv: still serving afterwards" stop_serv
else
	not_ok "TLS 1.2 gnutls-serv: set-up"
fi

if start_serv mtls -r --verify-client-cert --x509cafile "$PKI/ca.pem"; then
	echo_run mtls 1 --ssl-cert "$PKI/client.pem" \
	    --ssl-key "$PKI/client.key"
	check "client cert: tlsnc exits 0" status_is 0 "$CST"
	check "client cert: data echoed intact" \
	    same_data "$T/mtls.in" "$T/mtls.out"
	check "client cert: gnutls-serv raised no error" no_error "$T/mtls.gerr"
	# The same server refuses a certificate from a CA it does not trust,
	# with an access_denied alert: a refused certificate, status 5.
	echo_run mtls-bad 1 --ssl-cert "$PKI/untrusted.pem" \
	    --ssl-key "$PKI/untrusted.key"
	check "untrusted client cert: tlsnc exits 5" status_is 5 "$CST"
	check "untrusted client cert: says it was refused" has_text \
	    "$T/mtls-bad.err" "the peer refused the certificate"
	check "untrusted client cert: nothing echoed" \
	    test ! -s "$T/mtls-bad.out"
	check "untrusted client cert: gnutls-serv refused it" has_text \
	    "$T/mtls.gerr" "Error in handshake: Error in the certificate."
	check "client cert: still serving afterwards" stop_serv
else
	not_ok "client cert: set-up"
fi

# --- gnutls-cli <-> tlsnc -l with the PKI certificate ---------------------
if cli_pair cli 64 "$CLI_RECV_MIB" server --x509cafile "$PKI/ca.pem"; then
	check "gnutls-cli: gnutls-cli exits 0" status_is 0 "$CST"
	check "gnutls-cli: tlsnc -l exits 0" status_is 0 "$LST"
	check "gnutls-cli: 64 MiB gnutls-cli -> tlsnc intact" \
	    same_data "$T/cli.cin" "$T/cli.lout"
	check "gnutls-cli: $CLI_RECV_MIB MiB tlsnc -> gnutls-cli intact" \
	    same_data "$T/cli.lin" "$T/cli.cout"
	check "gnutls-cli: it trusted tlsnc's chain" \
	    has_text "$T/cli.log" "Status: The certificate is trusted."
	check "gnutls-cli: tlsnc counted both directions" has_line \
	    "$T/cli.lerr" \
	    "tlsnc: $((CLI_RECV_MIB * MIB)) bytes sent, 67108864 bytes received"
	rm -f "$T"/cli.*
else
	not_ok "gnutls-cli: set-up"
fi

# --- gnutls-cli really checks what tlsnc presents -------------------------
# for CERT: the ephemeral certificate, one from a CA nobody trusts, and one
# for another name; each is refused, and tlsnc -l exits 5.
for cert in ephemeral untrusted wrongname; do
	case $cert in
	wrongname) why="The name in the certificate does not match" ;;
	*) why="The certificate issuer is unknown." ;;
	esac
	if cli_pair "bad-$cert" 1 1 "$cert" --x509cafile "$PKI/ca.pem"; then
		check "$cert certificate: gnutls-cli exits 1" \
		    status_is 1 "$CST"
		check "$cert certificate: gnutls-cli reports it" \
		    has_text "$T/bad-$cert.cerr" "Error in the certificate"
		check "$cert certificate: gnutls-cli says why" \
		    has_text "$T/bad-$cert.log" "$why"
		check "$cert certificate: tlsnc -l exits 5" \
		    status_is 5 "$LST"
		check "$cert certificate: tlsnc says the peer refused it" \
		    has_text "$T/bad-$cert.lerr" \
		    "the peer refused the certificate"
		check "$cert certificate: no data passed" eval \
		    'test ! -s "$T/bad-$cert.lout" &&
		    test ! -s "$T/bad-$cert.cout"'
	else
		not_ok "$cert certificate: set-up"
	fi
done

# gnutls-cli has no SHA-256 pin; with --insecure it takes the ephemeral
# certificate, and what it saved must be what tlsnc printed.
if cli_pair eph 1 1 ephemeral --insecure --save-cert="$T/eph.chain"; then
	check "ephemeral, --insecure: gnutls-cli exits 0" status_is 0 "$CST"
	check "ephemeral, --insecure: tlsnc -l exits 0" status_is 0 "$LST"
	check "ephemeral, --insecure: data intact both ways" eval \
	    'same_data "$T/eph.cin" "$T/eph.lout" &&
	    same_data "$T/eph.lin" "$T/eph.cout"'
	pin=$(pin_of "$T/eph.lerr")
	seen=$(fp_of_pem < "$T/eph.chain" 2>/dev/null)
	desc="ephemeral, --insecure: gnutls-cli saw tlsnc's fingerprint"
	if [ -n "$pin" ] && [ "$pin" = "$seen" ]; then
		ok "$desc"
	else
		diag "tlsnc printed '$pin', gnutls-cli saw '$seen'"
		not_ok "$desc"
	fi
else
	not_ok "ephemeral, --insecure: set-up"
fi

done_testing

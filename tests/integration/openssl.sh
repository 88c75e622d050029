#!/bin/sh
# Interoperability with OpenSSL's own peers: tlsnc as a client of
# "openssl s_server", and "openssl s_client" as a client of tlsnc -l.
#
# How the peers end a session, and so how these tests are arranged:
#  - s_server -quiet is a raw pipe, but it drops the connection (with a
#    close_notify) at the first close_notify it receives and also at EOF on
#    its own stdin, whatever is still in flight the other way.  It has no
#    option to ignore stdin EOF.
#  - s_client -quiet ignores EOF on its stdin, and ends at the peer's
#    close_notify, whatever it has not sent yet.  That is how it "loses"
#    piped input when the other side closes first.
# So tlsnc's stdin is held open until tlsnc has received everything the
# peer sends (see feed below), and s_server's stdin never reaches EOF.  Both
# directions then run at once and the session ends with one close_notify
# each way, deterministically.

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

MIB=1048576

# s_server_pair TAG MIB CLIENTCERT [S_SERVER ARGS...]
# "tlsnc -v --ssl --ssl-trustfile ca.pem localhost PORT" against
# "openssl s_server -quiet" presenting the PKI server certificate, MIB
# mebibytes each way at once.  With CLIENTCERT "client", tlsnc presents
# client.pem.  Files: $T/TAG.{cin,cout,cerr} for tlsnc and
# $T/TAG.{sin,sout,serr} for s_server.  Sets CST and SST, the exit statuses.
s_server_pair() {
	_d=$T/$1 _mib=$2 _cc=$3
	shift 3
	random_file "$_d.cin" "$_mib"
	random_file "$_d.sin" "$_mib"
	: > "$_d.hold"
	CST=none SST=none
	# s_server's stdin never ends before the session does.
	feed_fifo "$_d.sfifo" "$_d.hold" "$_d.sin"
	openssl s_server -accept 0 -naccept 1 -quiet \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" "$@" \
	    < "$_d.sfifo" > "$_d.sout" 2> "$_d.serr" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	if ! _port=$(port_of_pid "$SPID"); then
		diag "s_server did not start listening"
		diag_file "$_d.serr"
		rm -f "$_d.hold"
		return 1
	fi
	if [ "$_cc" = client ]; then
		set -- --ssl-cert "$PKI/client.pem" --ssl-key "$PKI/client.key"
	else
		set --
	fi
	feed_fifo "$_d.cfifo" "$_d.hold" "$_d.cin" "$_d.cout" \
	    "$((_mib * MIB))"
	"$TLSNC" -v --ssl --ssl-trustfile "$PKI/ca.pem" "$@" \
	    localhost "$_port" < "$_d.cfifo" > "$_d.cout" 2> "$_d.cerr" &
	_cpid=$!
	wait_pid "$_cpid" 120
	CST=$?
	wait_pid "$SPID" 30
	SST=$?
	rm -f "$_d.hold"
	return 0
}

# s_client_pair TAG MIB CERT [S_CLIENT ARGS...]
# "openssl s_client -quiet -connect 127.0.0.1:PORT ARGS" against
# "tlsnc -v -l --ssl 127.0.0.1 0", MIB mebibytes each way at once.  CERT is
# "pki" (the listener presents server.pem) or "ephemeral".  Files:
# $T/TAG.{lin,lout,lerr} for tlsnc and $T/TAG.{cin,cout,cerr} for
# s_client.  Sets LST and CST, the exit statuses.
s_client_pair() {
	_d=$T/$1 _mib=$2 _cert=$3
	shift 3
	random_file "$_d.cin" "$_mib"
	random_file "$_d.lin" "$_mib"
	: > "$_d.hold"
	LST=none CST=none
	# tlsnc's stdin ends once all of s_client's data has arrived.
	feed_fifo "$_d.fifo" "$_d.hold" "$_d.lin" "$_d.lout" "$((_mib * MIB))"
	if [ "$_cert" = pki ]; then
		listen_tlsnc "$_d.lout" "$_d.lerr" "$_d.fifo" -l --ssl \
		    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
		    127.0.0.1 0
	else
		listen_tlsnc "$_d.lout" "$_d.lerr" "$_d.fifo" -l --ssl \
		    127.0.0.1 0
	fi || {
		rm -f "$_d.hold"
		return 1
	}
	run_limited 120 openssl s_client -connect "127.0.0.1:$LPORT" -quiet \
	    "$@" < "$_d.cin" > "$_d.cout" 2> "$_d.cerr"
	CST=$?
	wait_pid "$LPID" 30
	LST=$?
	rm -f "$_d.hold"
	return 0
}

diag "tlsnc's stdin stays open until the peer's data has arrived, and"
diag "s_server's stdin never ends: s_server -quiet drops the session at"
diag "its stdin EOF and at the first close_notify, s_client -quiet at the"
diag "first close_notify, whatever is still in flight"

# --- tlsnc client <-> openssl s_server, 64 MiB each way -----------------
if s_server_pair srv 64 none; then
	check "s_server: tlsnc exits 0" status_is 0 "$CST"
	check "s_server: s_server exits 0" status_is 0 "$SST"
	check "s_server: 64 MiB tlsnc -> s_server intact" \
	    same_data "$T/srv.cin" "$T/srv.sout"
	check "s_server: 64 MiB s_server -> tlsnc intact" \
	    same_data "$T/srv.sin" "$T/srv.cout"
	check "s_server: tlsnc verified the chain" has_line "$T/srv.cerr" \
	    "tlsnc: verification: ok (trusted chain, name localhost)"
	check "s_server: tlsnc counted both directions" has_line \
	    "$T/srv.cerr" "tlsnc: 67108864 bytes sent, 67108864 bytes received"
	rm -f "$T"/srv.*
else
	not_ok "s_server: set-up"
fi

# --- TLS 1.2 forced on the peer -----------------------------------------
if s_server_pair tls12 1 none -tls1_2; then
	check "TLS 1.2 s_server: tlsnc exits 0" status_is 0 "$CST"
	check "TLS 1.2 s_server: s_server exits 0" status_is 0 "$SST"
	check "TLS 1.2 s_server: data intact both ways" eval \
	    'same_data "$T/tls12.cin" "$T/tls12.sout" &&
	    same_data "$T/tls12.sin" "$T/tls12.cout"'
	check "TLS 1.2 s_server: -v shows TLSv1.2" \
	    has_text "$T/tls12.cerr" "tlsnc: TLS TLSv1.2, cipher "
else
	not_ok "TLS 1.2 s_server: set-up"
fi

# --- a peer limited to TLS 1.1 --------------------------------------------
# A probe with s_client first shows that this OpenSSL will really speak
# TLS 1.1, so that tlsnc's failure is about the version and nothing else.
openssl s_server -accept 0 -naccept 2 -quiet -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -cert "$PKI/server.pem" \
    -key "$PKI/server.key" -cert_chain "$PKI/int.pem" \
    < /dev/null > "$T/tls11.sout" 2> "$T/tls11.serr" &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
if port=$(port_of_pid "$SPID"); then
	run_limited 20 openssl s_client -connect "127.0.0.1:$port" -tls1_1 \
	    -cipher 'DEFAULT:@SECLEVEL=0' -CAfile "$PKI/ca.pem" -brief \
	    -no_ign_eof < /dev/null > "$T/tls11.probe" 2>&1
	if grep -q '^Protocol version: TLSv1\.1$' "$T/tls11.probe"; then
		run_limited 20 "$TLSNC" -v --ssl --ssl-trustfile "$PKI/ca.pem" \
		    localhost "$port" < /dev/null > "$T/tls11.cout" \
		    2> "$T/tls11.cerr"
		st=$?
		check "TLS 1.1 s_server: tlsnc exits 4" status_is 4 "$st"
		check "TLS 1.1 s_server: tlsnc names the version alert" \
		    has_text "$T/tls11.cerr" "alert protocol version"
		check "TLS 1.1 s_server: nothing on stdout" \
		    test ! -s "$T/tls11.cout"
		wait_pid "$SPID" 20
		check "TLS 1.1 s_server: s_server exits 0" status_is 0 "$?"
	else
		diag_file "$T/tls11.probe"
		kill "$SPID" 2>/dev/null
		ok "TLS 1.1 s_server # SKIP this OpenSSL will not speak TLS 1.1"
	fi
else
	diag_file "$T/tls11.serr"
	ok "TLS 1.1 s_server # SKIP openssl s_server -tls1_1 will not start"
fi

# --- TLS 1.2 cipher suites ------------------------------------------------
# By default tlsnc offers and accepts only ECDHE with AEAD under TLS 1.2:
# a peer limited to a CBC suite or to static RSA key exchange gets no
# common suite, unless --ssl-ciphers turns that suite on.
# suite_client DESC WANT CERT SUITE [TLSNC ARGS...]: tlsnc -v as a client
# of "s_server -tls1_2 -cipher SUITE" presenting CERT; status WANT, and the
# suite named with -v when WANT is 0.
suite_client() {
	_d=$1 _want=$2 _cert=$3 _suite=$4
	shift 4
	openssl s_server -accept 0 -naccept 1 -quiet -tls1_2 -cipher "$_suite" \
	    -cert "$PKI/$_cert.pem" -key "$PKI/$_cert.key" \
	    -cert_chain "$PKI/int.pem" < /dev/null > "$T/suite.sout" \
	    2> "$T/suite.serr" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	if ! port=$(port_of_pid "$SPID"); then
		diag_file "$T/suite.serr"
		not_ok "$_d: s_server starts"
		return
	fi
	run_limited 20 "$TLSNC" -v --ssl --ssl-trustfile "$PKI/ca.pem" "$@" \
	    localhost "$port" < /dev/null > "$T/suite.cout" 2> "$T/suite.cerr"
	st=$?
	check "$_d: tlsnc exits $_want" status_is "$_want" "$st"
	if [ "$_want" = 0 ]; then
		check "$_d: -v names the suite" has_text "$T/suite.cerr" \
		    "tlsnc: TLS TLSv1.2, cipher $_suite,"
	else
		check "$_d: no shared suite" has_text "$T/suite.cerr" \
		    "handshake failure"
	fi
	wait_pid "$SPID" 20 > /dev/null
}

suite_client "CBC suite, by default" 4 server ECDHE-ECDSA-AES128-SHA
suite_client "CBC suite, with --ssl-ciphers" 0 server ECDHE-ECDSA-AES128-SHA \
    --ssl-ciphers ECDHE-ECDSA-AES128-SHA
suite_client "RSA key exchange, by default" 4 rsaserver AES128-GCM-SHA256
suite_client "RSA key exchange, with --ssl-ciphers" 0 rsaserver \
    AES128-GCM-SHA256 --ssl-ciphers AES128-GCM-SHA256
suite_client "ECDHE with AES-GCM, by default" 0 server \
    ECDHE-ECDSA-AES256-GCM-SHA384
suite_client "ECDHE with ChaCha20, by default" 0 rsaserver \
    ECDHE-RSA-CHACHA20-POLY1305

# The listener refuses such a suite too, unless told.
for args in none --ssl-ciphers; do
	if [ "$args" = none ]; then
		set --
		want=4
	else
		set -- --ssl-ciphers ECDHE-ECDSA-AES128-SHA
		want=0
	fi
	listen_tlsnc "$T/lsuite.out" "$T/lsuite.err" /dev/null -l --ssl \
	    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" "$@" \
	    127.0.0.1 0 || { not_ok "CBC suite, listener: set-up"; continue; }
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" -tls1_2 \
	    -cipher ECDHE-ECDSA-AES128-SHA -CAfile "$PKI/ca.pem" -no_ign_eof \
	    < /dev/null > "$T/lsuite.cout" 2> "$T/lsuite.cerr"
	wait_pid "$LPID" 20
	check "CBC suite, listener, $args: tlsnc -l exits $want" \
	    status_is "$want" "$?"
done

# --- TLS 1.2 renegotiation ---------------------------------------------
# tlsnc refuses it, and says that the peer tried it.  s_server's "R" line
# and s_client's "R" line renegotiate; data going through first shows that
# the session was up.  tlsnc's stdin is held open, so that only the
# renegotiation ends the session.
RENEGO="TLS read: the peer tried to renegotiate TLS 1.2, which tlsnc refuses"
rm -f "$T/rn.sin"
mkfifo "$T/rn.sin"
exec 8<> "$T/rn.sin"
openssl s_server -accept 0 -naccept 1 -tls1_2 -cert "$PKI/server.pem" \
    -key "$PKI/server.key" -cert_chain "$PKI/int.pem" <&8 \
    > "$T/rn.sout" 2> "$T/rn.serr" &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
if port=$(port_of_pid "$SPID"); then
	hold "$T/rn.cin"
	"$TLSNC" -v --ssl --ssl-trustfile "$PKI/ca.pem" localhost "$port" \
	    < "$T/rn.cin" > "$T/rn.cout" 2> "$T/rn.cerr" &
	CPID=$!
	BG_PIDS="$BG_PIDS $CPID"
	# s_server takes "R" as a command only once the session is up.
	wait_for "$T/rn.cerr" "tlsnc: TLS TLSv1.2, cipher" &&
	    printf 'before renegotiation\n' >&8
	if wait_for "$T/rn.cout" "before renegotiation"; then
		printf 'R\n' >&8
		wait_pid "$CPID" 20
		check "renegotiation by s_server: tlsnc exits 4" status_is 4 "$?"
		check "renegotiation by s_server: tlsnc says so" \
		    has_line "$T/rn.cerr" "tlsnc: receiving: $RENEGO: sslv3 alert \
handshake failure"
	else
		not_ok "renegotiation by s_server: the session is up"
	fi
	unhold
else
	diag_file "$T/rn.serr"
	not_ok "renegotiation by s_server: set-up"
fi
exec 8>&-
wait_pid "$SPID" 20 > /dev/null

hold "$T/rn.lin"
if listen_tlsnc "$T/rn.lout" "$T/rn.lerr" "$T/rn.lin" -l --ssl 127.0.0.1 0
then
	rm -f "$T/rn.scin"
	mkfifo "$T/rn.scin"
	exec 8<> "$T/rn.scin"
	openssl s_client -connect "127.0.0.1:$LPORT" -tls1_2 <&8 \
	    > "$T/rn.scout" 2> "$T/rn.scerr" &
	SCPID=$!
	BG_PIDS="$BG_PIDS $SCPID"
	if wait_for "$T/rn.lerr" "tlsnc: TLS TLSv1.2, cipher"; then
		printf 'R\n' >&8
		wait_pid "$LPID" 20
		check "renegotiation by s_client: tlsnc -l exits 4" status_is 4 "$?"
		check "renegotiation by s_client: tlsnc -l says so" \
		    has_text "$T/rn.lerr" "tlsnc: receiving: $RENEGO"
	else
		not_ok "renegotiation by s_client: the session is up"
	fi
	exec 8>&-
	wait_pid "$SCPID" 20 > /dev/null
else
	not_ok "renegotiation by s_client: set-up"
fi
unhold

# --- s_server requiring a client certificate -----------------------------
if s_server_pair mtls 4 client -Verify 1 -CAfile "$PKI/ca.pem"; then
	check "client cert: tlsnc exits 0" status_is 0 "$CST"
	check "client cert: s_server exits 0" status_is 0 "$SST"
	check "client cert: data intact both ways" eval \
	    'same_data "$T/mtls.cin" "$T/mtls.sout" &&
	    same_data "$T/mtls.sin" "$T/mtls.cout"'
	check "client cert: s_server verified tlsnc's certificate" eval \
	    'has_line "$T/mtls.serr" "depth=0 CN = tlsnc test client" &&
	    ! grep -q "verify error" "$T/mtls.serr"'
else
	not_ok "client cert: set-up"
fi

# Without the certificate, the same server refuses tlsnc (status 5).
openssl s_server -accept 0 -naccept 1 -quiet -Verify 1 \
    -CAfile "$PKI/ca.pem" -cert "$PKI/server.pem" -key "$PKI/server.key" \
    -cert_chain "$PKI/int.pem" < /dev/null > "$T/nocc.sout" \
    2> "$T/nocc.serr" &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
if port=$(port_of_pid "$SPID"); then
	run_limited 20 "$TLSNC" --ssl --ssl-trustfile "$PKI/ca.pem" \
	    localhost "$port" < /dev/null > "$T/nocc.cout" 2> "$T/nocc.cerr"
	st=$?
	check "no client cert: tlsnc exits 5" status_is 5 "$st"
	check "no client cert: tlsnc says a certificate is required" \
	    has_text "$T/nocc.cerr" "the peer requires a client certificate"
	check "no client cert: s_server saw no certificate" \
	    has_text "$T/nocc.serr" "peer did not return a certificate"
	wait_pid "$SPID" 20
	check "no client cert: s_server exits 0" status_is 0 "$?"
else
	not_ok "no client cert: set-up"
fi

# --- openssl s_client <-> tlsnc -l, 64 MiB each way --------------------
if s_client_pair cli 64 pki -CAfile "$PKI/ca.pem" -verify_return_error \
    -verify_hostname localhost -servername localhost; then
	check "s_client: s_client exits 0" status_is 0 "$CST"
	check "s_client: tlsnc -l exits 0" status_is 0 "$LST"
	check "s_client: 64 MiB s_client -> tlsnc intact" \
	    same_data "$T/cli.cin" "$T/cli.lout"
	check "s_client: 64 MiB tlsnc -> s_client intact" \
	    same_data "$T/cli.lin" "$T/cli.cout"
	check "s_client: s_client verified tlsnc's chain" eval \
	    '! grep -q "verify error" "$T/cli.cerr" &&
	    has_line "$T/cli.cerr" "depth=0 CN = localhost"'
	check "s_client: tlsnc counted both directions" has_line \
	    "$T/cli.lerr" "tlsnc: 67108864 bytes sent, 67108864 bytes received"
	rm -f "$T"/cli.*
else
	not_ok "s_client: set-up"
fi

# The ephemeral certificate: s_client cannot verify it (nothing to trust),
# so the data run has no verification, and a second session checks that
# s_client is shown the very certificate whose fingerprint tlsnc printed.
if s_client_pair eph 4 ephemeral; then
	check "ephemeral: s_client exits 0" status_is 0 "$CST"
	check "ephemeral: tlsnc -l exits 0" status_is 0 "$LST"
	check "ephemeral: data intact both ways" eval \
	    'same_data "$T/eph.cin" "$T/eph.lout" &&
	    same_data "$T/eph.lin" "$T/eph.cout"'
else
	not_ok "ephemeral: set-up"
fi

listen_tlsnc "$T/efp.lout" "$T/efp.lerr" /dev/null -l --ssl 127.0.0.1 0
run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" -no_ign_eof \
    < /dev/null > "$T/efp.cout" 2> "$T/efp.cerr"
check "ephemeral, shown: s_client exits 0" status_is 0 "$?"
wait_pid "$LPID" 20
check "ephemeral, shown: tlsnc -l exits 0" status_is 0 "$?"
pin=$(pin_of "$T/efp.lerr")
seen=$(fp_of_pem < "$T/efp.cout" 2>/dev/null)
if [ -n "$pin" ] && [ "$pin" = "$seen" ]; then
	ok "ephemeral, shown: s_client saw the printed fingerprint"
else
	diag "tlsnc printed '$pin', s_client saw '$seen'"
	not_ok "ephemeral, shown: s_client saw the printed fingerprint"
fi

# A verifying s_client refuses the ephemeral certificate: tlsnc's status 5.
listen_tlsnc "$T/evf.lout" "$T/evf.lerr" /dev/null -l --ssl 127.0.0.1 0
run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" -quiet \
    -CAfile "$PKI/ca.pem" -verify_return_error < /dev/null \
    > "$T/evf.cout" 2> "$T/evf.cerr"
check "ephemeral, verifying s_client: s_client exits 1" status_is 1 "$?"
wait_pid "$LPID" 20
check "ephemeral, verifying s_client: tlsnc -l exits 5" status_is 5 "$?"
check "ephemeral, verifying s_client: tlsnc says why" \
    has_text "$T/evf.lerr" "the peer refused the certificate"

done_testing

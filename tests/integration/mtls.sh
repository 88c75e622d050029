#!/bin/sh
# Mutual TLS: a listener that asks for client certificates
# (--ssl-client-ca), refuses clients without one (--ssl-require-client-cert)
# or pins one (--ssl-pin), against tlsnc, openssl s_client and gnutls-cli
# as clients: with a good certificate, with none, with one from a CA that
# is not trusted, and pinned.  The refused client must get the right alert
# and the listener must say why, with status 5, or under -k in one warning
# line, and go on.

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

: > "$T/empty"
echo hello > "$T/hello"
CLIENT_PIN=$(fp_of_pem < "$PKI/client.pem")
RSA_PIN=$(fp_of_pem < "$PKI/rsa.pem")

# mtls_listener TAG [TLSNC ARGS...]: tlsnc -l --ssl presenting server.pem;
# stdin empty, output in $T/TAG.lout and $T/TAG.lerr.
mtls_listener() {
	_t=$1
	shift
	listen_tlsnc "$T/$_t.lout" "$T/$_t.lerr" "$T/empty" -l --ssl \
	    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" "$@" \
	    127.0.0.1 0
}

# tlsnc_client TAG CERT: tlsnc sends "hello" to the listener, presenting
# CERT (a PKI name: client, rsa, otherclient) or none; sets CST and LST.
tlsnc_client() {
	_t=$1
	if [ "$2" = none ]; then
		set --
	else
		set -- --ssl-cert "$PKI/$2.pem" --ssl-key "$PKI/$2.key"
	fi
	client "$T/$_t.out" "$T/$_t.err" "$T/hello" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" "$@" localhost "$LPORT"
	listener_status 20
}

# s_client_to TAG [S_CLIENT ARGS...]: openssl s_client to the listener,
# reading until the listener closes; its output in $T/TAG.cout.
s_client_to() {
	_t=$1
	shift
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" -ign_eof "$@" < "$T/empty" \
	    > "$T/$_t.cout" 2>&1
	listener_status 20
}

REQUIRE="--ssl-client-ca $PKI/ca.pem --ssl-require-client-cert"

# ------------------------------------------------------ tlsnc clients --

# shellcheck disable=SC2086
if mtls_listener good $REQUIRE; then
	tlsnc_client good client
	both_ok "client certificate"
	check "client certificate: the data arrived" \
	    has_line "$T/good.lout" "hello"
	check "client certificate: the listener verified it" \
	    has_line "$T/good.lerr" \
	    "tlsnc: verification: ok (trusted client certificate)"
	check "client certificate: the listener names the client" \
	    has_line "$T/good.lerr" \
	    "tlsnc: peer certificate subject: CN=tlsnc test client"
else
	skip 5 "listener did not start"
fi

# shellcheck disable=SC2086
if mtls_listener none $REQUIRE; then
	tlsnc_client none none
	check "no client certificate: client status 5" status_is 5 "$CST"
	check "no client certificate: the client says it needs one" \
	    has_text "$T/none.err" \
	    "the peer requires a client certificate (--ssl-cert)"
	check "no client certificate: listener status 5" status_is 5 "$LST"
	check "no client certificate: the listener says why" \
	    has_line "$T/none.lerr" "tlsnc: TLS handshake: the client \
presented no certificate, and one is required"
	check "no client certificate: no data arrived" \
	    status_is 0 "$(size_of "$T/none.lout")"
else
	skip 5 "listener did not start"
fi

# shellcheck disable=SC2086
if mtls_listener other $REQUIRE; then
	tlsnc_client other otherclient
	check "untrusted CA: client status 5" status_is 5 "$CST"
	check "untrusted CA: the client was refused" has_text "$T/other.err" \
	    "the peer refused the certificate: tlsv1 alert unknown ca"
	check "untrusted CA: listener status 5" status_is 5 "$LST"
	check "untrusted CA: the listener says why" has_line "$T/other.lerr" \
	    "tlsnc: client certificate verification failed: unknown CA: the \
issuer CN=untrusted CA is not trusted; if it is an intermediate CA, the \
client did not send its intermediate certificate"
else
	skip 4 "listener did not start"
fi

# Without --ssl-require-client-cert a client without one is let in.
if mtls_listener optional --ssl-client-ca "$PKI/ca.pem"; then
	tlsnc_client optional none
	both_ok "optional client certificate, none given"
	check "optional client certificate: the listener says none" \
	    has_line "$T/optional.lerr" \
	    "tlsnc: verification: no client certificate"
else
	skip 3 "listener did not start"
fi

# ------------------------------------------------------------- pinned --

if mtls_listener pin --ssl-pin "$CLIENT_PIN"; then
	tlsnc_client pin client
	both_ok "pinned client certificate"
	check "pinned client certificate: the listener says so" \
	    has_line "$T/pin.lerr" \
	    "tlsnc: verification: ok (pinned client certificate)"
else
	skip 3 "listener did not start"
fi

# rsa.pem is from the trusted CA, but it is not the pinned certificate.
if mtls_listener pinbad --ssl-client-ca "$PKI/ca.pem" \
    --ssl-pin "$CLIENT_PIN"; then
	tlsnc_client pinbad rsa
	check "pin mismatch: client status 5" status_is 5 "$CST"
	check "pin mismatch: listener status 5" status_is 5 "$LST"
	check "pin mismatch: the listener names the certificate" \
	    has_line "$T/pinbad.lerr" "tlsnc: client certificate \
verification failed: pin mismatch: the client presented $RSA_PIN"
else
	skip 3 "listener did not start"
fi

if mtls_listener pinnone --ssl-pin "$CLIENT_PIN"; then
	tlsnc_client pinnone none
	check "pinned, no certificate: listener status 5" status_is 5 "$LST"
	check "pinned, no certificate: the listener says why" \
	    has_line "$T/pinnone.lerr" "tlsnc: TLS handshake: the client \
presented no certificate, and one is required"
else
	skip 2 "listener did not start"
fi

# -------------------------------------------- the alerts, by s_client --

# shellcheck disable=SC2086
if mtls_listener sc1 $REQUIRE; then
	s_client_to sc1
	check "s_client, TLS 1.3, no certificate: certificate_required" \
	    has_text "$T/sc1.cout" "alert certificate required"
	check "s_client, TLS 1.3, no certificate: listener status 5" \
	    status_is 5 "$LST"
else
	skip 2 "listener did not start"
fi

# shellcheck disable=SC2086
if mtls_listener sc2 $REQUIRE; then
	s_client_to sc2 -tls1_2
	check "s_client, TLS 1.2, no certificate: handshake_failure" \
	    has_text "$T/sc2.cout" "alert handshake failure"
	check "s_client, TLS 1.2, no certificate: listener status 5" \
	    status_is 5 "$LST"
else
	skip 2 "listener did not start"
fi

# shellcheck disable=SC2086
if mtls_listener sc3 $REQUIRE; then
	s_client_to sc3 -cert "$PKI/otherclient.pem" \
	    -key "$PKI/otherclient.key"
	check "s_client, untrusted CA: unknown_ca" \
	    has_text "$T/sc3.cout" "alert unknown ca"
	check "s_client, untrusted CA: listener status 5" status_is 5 "$LST"
else
	skip 2 "listener did not start"
fi

if mtls_listener sc4 --ssl-pin "$CLIENT_PIN"; then
	s_client_to sc4 -cert "$PKI/rsa.pem" -key "$PKI/rsa.key"
	check "s_client, pin mismatch: bad_certificate" \
	    has_text "$T/sc4.cout" "alert bad certificate"
	check "s_client, pin mismatch: listener status 5" status_is 5 "$LST"
else
	skip 2 "listener did not start"
fi

# The listener names the CAs it takes in its CertificateRequest.
# shellcheck disable=SC2086
if mtls_listener sc5 $REQUIRE; then
	s_client_to sc5 -cert "$PKI/client.pem" -key "$PKI/client.key" \
	    -cert_chain "$PKI/int.pem"
	check "s_client with a certificate: listener status 0" \
	    status_is 0 "$LST"
	sed -n '/^Acceptable client certificate CA names/{n;p;}' \
	    "$T/sc5.cout" > "$T/sc5.cas"
	check "s_client: the CertificateRequest names the CA" \
	    has_line "$T/sc5.cas" "CN = tlsnc test root CA"
else
	skip 2 "listener did not start"
fi

# A certificate chosen by SNI verifies clients as the default one does.
# shellcheck disable=SC2086
if mtls_listener sni $REQUIRE --ssl-cert "$PKI/sni.pem" \
    --ssl-key "$PKI/sni.key"; then
	s_client_to sni -servername other.example \
	    -cert "$PKI/client.pem" -key "$PKI/client.key" \
	    -cert_chain "$PKI/int.pem"
	check "SNI certificate with a client certificate: listener status 0" \
	    status_is 0 "$LST"
	check "SNI certificate with a client certificate: it was verified" \
	    has_line "$T/sni.lerr" \
	    "tlsnc: verification: ok (trusted client certificate)"
	check "SNI certificate with a client certificate: other.example" \
	    has_text "$T/sni.cout" "subject=CN = other.example"
else
	skip 3 "listener did not start"
fi
# shellcheck disable=SC2086
if mtls_listener sni2 $REQUIRE --ssl-cert "$PKI/sni.pem" \
    --ssl-key "$PKI/sni.key"; then
	s_client_to sni2 -servername other.example
	check "SNI certificate, no client certificate: listener status 5" \
	    status_is 5 "$LST"
else
	skip 1 "listener did not start"
fi

# ----------------------------------------------------------- gnutls-cli --

# shellcheck disable=SC2086
if mtls_listener gn $REQUIRE; then
	run_limited 20 gnutls-cli --x509cafile "$PKI/ca.pem" \
	    --x509certfile "$PKI/client.pem" --x509keyfile "$PKI/client.key" \
	    -p "$LPORT" localhost < "$T/hello" > "$T/gn.cout" 2>&1
	GST=$?
	listener_status 20
	check "gnutls-cli with a client certificate: gnutls-cli status 0" \
	    status_is 0 "$GST"
	check "gnutls-cli with a client certificate: listener status 0" \
	    status_is 0 "$LST"
	check "gnutls-cli with a client certificate: the listener verified it" \
	    has_line "$T/gn.lerr" \
	    "tlsnc: verification: ok (trusted client certificate)"
else
	skip 3 "listener did not start"
fi

# ---------------------------------------------------------------- -k --

# Under -k a refused client is one warning line (without -v), and the
# listener goes on to serve the next.
: > "$T/k.lerr"
# shellcheck disable=SC2086
"$TLSNC" -l -k --ssl --ssl-cert "$PKI/server.pem" \
    --ssl-key "$PKI/server.key" $REQUIRE -v 127.0.0.1 0 \
    < "$T/empty" > "$T/k.lout" 2> "$T/k.lerr0" &
KPID=$!
BG_PIDS="$BG_PIDS $KPID"
if wait_for "$T/k.lerr0" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/k.lerr0")
	client "$T/k1.out" "$T/k1.err" "$T/hello" --ssl \
	    --ssl-trustfile "$PKI/ca.pem" localhost "$LPORT"
	check "-k, no client certificate: client status 5" status_is 5 "$CST"
	client "$T/k2.out" "$T/k2.err" "$T/hello" --ssl \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-cert "$PKI/client.pem" \
	    --ssl-key "$PKI/client.key" localhost "$LPORT"
	check "-k, then a client with a certificate: status 0" \
	    status_is 0 "$CST"
	check "-k: the second client's data arrived" wait_for "$T/k.lout" \
	    hello
	check "-k: the listener is still running" kill -0 "$KPID"
	check "-k: the refusal is one warning line" status_is 1 \
	    "$(grep -c "client presented no certificate" "$T/k.lerr0")"
	kill "$KPID" 2>/dev/null
else
	skip 5 "listener did not start"
fi

# ------------------------------------------------------- usage errors --

client "$T/u1.out" "$T/u1.err" "$T/empty" -l --ssl \
    --ssl-client-ca "$T/missing.pem" 0
check "usage: a missing --ssl-client-ca file: status 2" status_is 2 "$CST"
check "usage: a missing --ssl-client-ca file: named" has_line "$T/u1.err" \
    "tlsnc: --ssl-client-ca $T/missing.pem: No such file or directory"
client "$T/u2.out" "$T/u2.err" "$T/empty" -l --ssl \
    --ssl-require-client-cert 0
check "usage: --ssl-require-client-cert alone" has_line "$T/u2.err" \
    "tlsnc: --ssl-require-client-cert needs --ssl-client-ca or --ssl-pin"
client "$T/u3.out" "$T/u3.err" "$T/empty" --ssl \
    --ssl-client-ca "$PKI/ca.pem" localhost 1
check "usage: --ssl-client-ca on a client" has_line "$T/u3.err" \
    "tlsnc: --ssl-client-ca is for a listener (-l)"

done_testing

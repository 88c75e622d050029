#!/bin/sh
# Negotiation control against real peers: ALPN on both sides, SNI (sent,
# received, --no-sni, and a listener's certificate chosen by it), protocol
# version bounds, and TLS 1.3 suites, groups and signature algorithms.
#
# What the peer saw is read from the peer: "openssl s_server -www" answers
# "GET /" with a page that lists the cipher, the shared groups and the
# signature algorithms of the session, and prints the SNI it received
# ("Hostname in TLS extension") when given -servername; s_client's summary
# names the ALPN protocol, the cipher, the temporary key and the server's
# certificate.

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

# The intermediate is trusted too: s_server -cert2 sends no chain.
cat "$PKI/ca.pem" "$PKI/int.pem" > "$T/cas.pem"
printf 'GET / HTTP/1.0\r\n\r\n' > "$T/get"
: > "$T/empty"

# www_server TAG [S_SERVER ARGS...]: "openssl s_server -www" for one
# connection, presenting server.pem; sets SPID and SPORT, output in
# $T/TAG.serr.
www_server() {
	_t=$1
	shift
	openssl s_server -accept 0 -naccept 1 -www \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" "$@" > "$T/$_t.serr" 2>&1 &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID") || {
		diag "s_server did not start"
		diag_file "$T/$_t.serr"
		return 1
	}
}

# www_get TAG [TLSNC ARGS...]: "GET /" from tlsnc -v to the s_server; the
# page in $T/TAG.out, stderr in $T/TAG.err, status in CST.
www_get() {
	_t=$1
	shift
	client "$T/$_t.out" "$T/$_t.err" "$T/get" -v --ssl \
	    --ssl-trustfile "$T/cas.pem" "$@" localhost "$SPORT"
	wait_pid "$SPID" 10 >/dev/null
}

# tls_listener TAG [TLSNC ARGS...]: tlsnc -l --ssl presenting server.pem,
# stdin empty; output in $T/TAG.lerr.
tls_listener() {
	_t=$1
	shift
	listen_tlsnc "$T/$_t.lout" "$T/$_t.lerr" "$T/empty" -l --ssl \
	    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" "$@" \
	    127.0.0.1 0
}

# s_client_to TAG [S_CLIENT ARGS...]: openssl s_client to the listener;
# its summary in $T/TAG.cout; then waits for the listener (LST).
s_client_to() {
	_t=$1
	shift
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" "$@" < "$T/empty" > "$T/$_t.cout" 2>&1
	listener_status 20
}

# ---------------------------------------------------------------- ALPN --

if tls_listener alpn1 --ssl-alpn h2,http/1.1; then
	s_client_to alpn1 -alpn foo,http/1.1,h2
	check "alpn: the listener picks its own first choice the client offered" \
	    has_line "$T/alpn1.cout" "ALPN protocol: h2"
	check "alpn: the listener reports it under -v" \
	    has_line "$T/alpn1.lerr" "tlsnc: ALPN protocol: h2"
	check "alpn: listener exit status 0" status_is 0 "$LST"
else
	skip 3 "listener did not start"
fi

if tls_listener alpn2 --ssl-alpn h2; then
	s_client_to alpn2 -alpn foo
	check "alpn: no overlap, not required: none negotiated" \
	    has_line "$T/alpn2.cout" "No ALPN negotiated"
	check "alpn: no overlap, not required: the listener says none" \
	    has_line "$T/alpn2.lerr" "tlsnc: ALPN protocol: none"
	check "alpn: no overlap, not required: listener exit status 0" \
	    status_is 0 "$LST"
else
	skip 3 "listener did not start"
fi

for offer in foo none; do
	if [ "$offer" = foo ]; then set -- -alpn foo; else set --; fi
	if tls_listener "alpn3$offer" --ssl-alpn h2,http/1.1 \
	    --ssl-alpn-required; then
		s_client_to "alpn3$offer" "$@"
		check "alpn required, client offers $offer: listener status 4" \
		    status_is 4 "$LST"
		check "alpn required, client offers $offer: the listener says why" \
		    has_line "$T/alpn3$offer.lerr" "tlsnc: TLS handshake: the \
client offered no protocol of --ssl-alpn h2,http/1.1 (--ssl-alpn-required)"
		check "alpn required, client offers $offer: no_application_protocol alert" \
		    has_text "$T/alpn3$offer.cout" "alert no application protocol"
	else
		skip 3 "listener did not start"
	fi
done

# Under -k, per connection: a refused client is one line, the next is served.
listen_tlsnc "$T/k.lout" "$T/k.lerr" "$T/empty" -l -k --ssl \
    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --ssl-alpn h2 --ssl-alpn-required 127.0.0.1 0
KPID=$LPID
if [ -n "$LPORT" ]; then
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" -alpn http/1.1 < "$T/empty" \
	    > "$T/k1.cout" 2>&1
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" -alpn http/1.1,h2 < "$T/empty" \
	    > "$T/k2.cout" 2>&1
	check "alpn required, -k: the first client is refused" \
	    has_text "$T/k1.cout" "alert no application protocol"
	check "alpn required, -k: the next one gets h2" \
	    has_line "$T/k2.cout" "ALPN protocol: h2"
	check "alpn required, -k: one line for the refusal" status_is 1 \
	    "$(grep -c "the client offered no protocol" "$T/k.lerr")"
	check "alpn required, -k: the listener goes on" kill -0 "$KPID"
	kill "$KPID" 2>/dev/null
else
	skip 4 "listener did not start"
fi

if www_server alpn4 -alpn h2; then
	www_get alpn4 --ssl-alpn foo,h2,http/1.1
	check "alpn client: exit status 0" status_is 0 "$CST"
	check "alpn client: reports the server's choice" \
	    has_line "$T/alpn4.err" "tlsnc: ALPN protocol: h2"
else
	skip 2 "s_server did not start"
fi

if www_server alpn5; then
	www_get alpn5 --ssl-alpn h2 --ssl-alpn-required
	check "alpn client required, server chose none: status 4" \
	    status_is 4 "$CST"
	check "alpn client required, server chose none: the message" \
	    has_line "$T/alpn5.err" "tlsnc: TLS handshake: the server chose \
no protocol of --ssl-alpn h2 (--ssl-alpn-required)"
	check "alpn client required: no data passed" \
	    status_is 0 "$(size_of "$T/alpn5.out")"
else
	skip 3 "s_server did not start"
fi

# gnutls-serv, which refuses a client with none of its protocols.
gnutls-serv -q -p 0 --echo --alpn=h2 --alpn-fatal \
    --x509certfile "$PKI/server.pem" --x509keyfile "$PKI/server.key" \
    > "$T/gs.out" 2>&1 &
GPID=$!
BG_PIDS="$BG_PIDS $GPID"
if GPORT=$(port_of_pid "$GPID"); then
	echo ping > "$T/ping"
	client "$T/gs1.out" "$T/gs1.err" "$T/ping" -v --ssl -q 1 \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-alpn h3,h2 localhost "$GPORT"
	check "alpn client vs gnutls-serv: h2 chosen" \
	    has_line "$T/gs1.err" "tlsnc: ALPN protocol: h2"
	client "$T/gs2.out" "$T/gs2.err" "$T/ping" -v --ssl -q 1 \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-alpn h3 localhost "$GPORT"
	check "alpn client vs gnutls-serv --alpn-fatal: status 4" \
	    status_is 4 "$CST"
	check "alpn client vs gnutls-serv --alpn-fatal: names the alert" \
	    has_text "$T/gs2.err" "no application protocol"
	kill "$GPID" 2>/dev/null
else
	skip 3 "gnutls-serv did not start"
fi

# ----------------------------------------------------------------- SNI --

if www_server sni1 -servername sni.example -cert2 "$PKI/server.pem" \
    -key2 "$PKI/server.key"; then
	www_get sni1 --ssl-servername sni.example --ssl-verify-name localhost
	check "sni: --ssl-servername with --ssl-verify-name: exit status 0" \
	    status_is 0 "$CST"
	check "sni: the server received --ssl-servername's name" \
	    has_line "$T/sni1.serr" 'Hostname in TLS extension: "sni.example"'
	check "sni: the client reports what it sent" \
	    has_line "$T/sni1.err" "tlsnc: SNI sent: sni.example"
else
	skip 3 "s_server did not start"
fi

if www_server sni2 -servername localhost -cert2 "$PKI/server.pem" \
    -key2 "$PKI/server.key"; then
	www_get sni2 --ssl-verify-name wrong.example
	check "sni: --ssl-verify-name alone: status 5" status_is 5 "$CST"
	check "sni: --ssl-verify-name alone: the name verified" \
	    has_line "$T/sni2.err" "tlsnc: certificate verification failed: \
name mismatch: the certificate is not valid for wrong.example"
	check "sni: --ssl-verify-name alone: SNI is still the host" \
	    has_line "$T/sni2.serr" 'Hostname in TLS extension: "localhost"'
else
	skip 3 "s_server did not start"
fi

if www_server sni3 -servername localhost -cert2 "$PKI/server.pem" \
    -key2 "$PKI/server.key"; then
	www_get sni3 --no-sni
	check "sni: --no-sni: exit status 0 (the name is still verified)" \
	    status_is 0 "$CST"
	check "sni: --no-sni: the server received none" \
	    not_has_text "$T/sni3.serr" "Hostname in TLS extension"
	check "sni: --no-sni: the client says none" \
	    has_line "$T/sni3.err" "tlsnc: SNI sent: none"
else
	skip 3 "s_server did not start"
fi

# A listener with two certificates picks one by the client's SNI.
for sni in other.example a.wild.example localhost nomatch.example none; do
	if [ "$sni" = none ]; then
		set -- -noservername
	else
		set -- -servername "$sni"
	fi
	case $sni in
	other.example|a.wild.example) want="CN = other.example" ;;
	*) want="CN = localhost" ;;
	esac
	if tls_listener "sel$sni" --ssl-cert "$PKI/sni.pem" \
	    --ssl-key "$PKI/sni.key"; then
		s_client_to "sel$sni" "$@"
		check "sni selection: $sni gets $want" \
		    has_text "$T/sel$sni.cout" "subject=$want"
		check "sni selection: $sni: listener exit status 0" \
		    status_is 0 "$LST"
		check "sni selection: $sni: the listener reports it" \
		    has_line "$T/sel$sni.lerr" "tlsnc: SNI received: ${sni}"
	else
		skip 3 "listener did not start"
	fi
done

# gnutls-cli verifies the certificate picked for its SNI.
if tls_listener gsel --ssl-cert "$PKI/sni.pem" --ssl-key "$PKI/sni.key"
then
	run_limited 20 gnutls-cli --x509cafile "$PKI/ca.pem" \
	    --sni-hostname x.wild.example --verify-hostname x.wild.example \
	    -p "$LPORT" 127.0.0.1 < "$T/empty" > "$T/gsel.cout" 2>&1
	GST=$?
	listener_status 20
	check "sni selection, gnutls-cli: it verified the certificate" \
	    status_is 0 "$GST"
	check "sni selection, gnutls-cli: the listener got its name" \
	    has_line "$T/gsel.lerr" "tlsnc: SNI received: x.wild.example"
else
	skip 2 "listener did not start"
fi

# ------------------------------------------------------------ versions --

if www_server v1 -tls1_3; then
	www_get v1 --ssl-max-version tls1.2
	check "versions: max tls1.2 client vs TLS 1.3-only s_server: status 4" \
	    status_is 4 "$CST"
else
	skip 1 "s_server did not start"
fi
if www_server v2 -tls1_2; then
	www_get v2 --ssl-min-version tls1.3
	check "versions: min tls1.3 client vs TLS 1.2-only s_server: status 4" \
	    status_is 4 "$CST"
else
	skip 1 "s_server did not start"
fi
if tls_listener v3 --ssl-max-version tls1.2; then
	s_client_to v3 -tls1_3
	check "versions: max tls1.2 listener vs TLS 1.3-only s_client: status 4" \
	    status_is 4 "$LST"
else
	skip 1 "listener did not start"
fi
if tls_listener v4 --ssl-min-version tls1.3; then
	s_client_to v4 -tls1_2
	check "versions: min tls1.3 listener vs TLS 1.2-only s_client: status 4" \
	    status_is 4 "$LST"
else
	skip 1 "listener did not start"
fi

# tlsnc on both sides: each of them fails with status 4.
for dir in 1 2; do
	if [ "$dir" = 1 ]; then
		set -- --ssl-max-version tls1.2
		ll="--ssl-min-version tls1.3"
	else
		set -- --ssl-min-version tls1.3
		ll="--ssl-max-version tls1.2"
	fi
	# shellcheck disable=SC2086
	if tls_listener "vv$dir" $ll; then
		client "$T/vv$dir.out" "$T/vv$dir.err" "$T/empty" --ssl \
		    --ssl-trustfile "$PKI/ca.pem" "$@" localhost "$LPORT"
		listener_status 20
		check "versions, tlsnc both sides ($*): client status 4" \
		    status_is 4 "$CST"
		check "versions, tlsnc both sides ($ll): listener status 4" \
		    status_is 4 "$LST"
	else
		skip 2 "listener did not start"
	fi
done

if www_server v5; then
	www_get v5 --ssl-max-version tls1.2
	check "versions: max tls1.2 negotiates TLS 1.2 (the server's view)" \
	    has_line "$T/v5.out" \
	    "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384"
else
	skip 1 "s_server did not start"
fi

# TLS 1.1 needs the security level lowered, knowingly.
client "$T/v6.out" "$T/v6.err" "$T/empty" --ssl --ssl-min-version tls1.1 \
    localhost 1
check "versions: tls1.1 without --ssl-seclevel 0: status 2" \
    status_is 2 "$CST"
check "versions: tls1.1 without --ssl-seclevel 0: the message" \
    has_line "$T/v6.err" "tlsnc: --ssl-min-version tls1.1: OpenSSL allows \
TLS 1.0 and 1.1 only at security level 0 (this is level 2); add \
--ssl-seclevel 0 to allow them knowingly"
if www_server v7 -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'; then
	www_get v7 --ssl-min-version tls1.1 --ssl-max-version tls1.1 \
	    --ssl-seclevel 0
	check "versions: tls1.1 with --ssl-seclevel 0: exit status 0" \
	    status_is 0 "$CST"
	check "versions: tls1.1 with --ssl-seclevel 0: TLS 1.1 negotiated" \
	    has_line "$T/v7.out" "    Protocol  : TLSv1.1"
else
	skip 2 "s_server did not start"
fi

# ----------------------------------------------- suites, groups, sigalgs --

if www_server alg1; then
	www_get alg1 --ssl-ciphersuites TLS_CHACHA20_POLY1305_SHA256 \
	    --ssl-groups P-521 --ssl-sigalgs ecdsa_secp256r1_sha256
	check "algorithms, client: exit status 0" status_is 0 "$CST"
	check "algorithms, client: the server saw the TLS 1.3 suite" \
	    has_line "$T/alg1.out" \
	    "New, TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256"
	check "algorithms, client: the server saw only the group offered" \
	    has_line "$T/alg1.out" "Shared groups: secp521r1"
	check "algorithms, client: the server saw only the sigalg offered" \
	    has_line "$T/alg1.out" "Signature Algorithms: ECDSA+SHA256"
	check "algorithms, client: tlsnc reports the group" \
	    has_line "$T/alg1.err" \
	    "tlsnc: TLS TLSv1.3, cipher TLS_CHACHA20_POLY1305_SHA256, group secp521r1"
else
	skip 5 "s_server did not start"
fi

if listen_tlsnc "$T/alg2.lout" "$T/alg2.lerr" "$T/empty" -l --ssl \
    --ssl-cert "$PKI/rsaserver.pem" --ssl-key "$PKI/rsaserver.key" \
    --ssl-ciphersuites TLS_AES_128_GCM_SHA256 --ssl-groups P-384 \
    --ssl-sigalgs rsa_pss_rsae_sha384 127.0.0.1 0; then
	s_client_to alg2
	check "algorithms, listener: s_client got the TLS 1.3 suite" \
	    has_text "$T/alg2.cout" "Cipher is TLS_AES_128_GCM_SHA256"
	check "algorithms, listener: s_client got the group" \
	    has_text "$T/alg2.cout" "Server Temp Key: ECDH, secp384r1"
	check "algorithms, listener: s_client got the signature algorithm" \
	    has_line "$T/alg2.cout" "Peer signing digest: SHA384"
	check "algorithms, listener: exit status 0" status_is 0 "$LST"
else
	skip 4 "listener did not start"
fi

# TLS 1.2 ciphers on the listener, checked by s_client.
if tls_listener alg3 --ssl-max-version tls1.2 \
    --ssl-ciphers ECDHE-ECDSA-CHACHA20-POLY1305; then
	s_client_to alg3
	check "algorithms, listener: the TLS 1.2 cipher" \
	    has_text "$T/alg3.cout" \
	    "New, TLSv1.2, Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"
else
	skip 1 "listener did not start"
fi

# ------------------------------------------------------- usage errors --

# usage_error WANT ARGS...: tlsnc ARGS exits 2 with the line WANT.
usage_error() {
	_want=$1
	shift
	client "$T/u.out" "$T/u.err" "$T/empty" "$@"
	status_is 2 "$CST" && has_line "$T/u.err" "tlsnc: $_want"
}

check "usage: an unknown group is named" usage_error \
    "--ssl-groups: 'P-999' is not a group that this OpenSSL knows" \
    --ssl --ssl-groups X25519:P-999 localhost 1
check "usage: an unknown TLS 1.3 suite is named" usage_error \
    "--ssl-ciphersuites: 'TLS_FOO' is not a TLS 1.3 cipher suite that \
this OpenSSL knows" --ssl --ssl-ciphersuites TLS_AES_128_GCM_SHA256:TLS_FOO \
    localhost 1
check "usage: an unknown signature algorithm is named" usage_error \
    "--ssl-sigalgs: 'RSA+MD2' is not a signature algorithm that this \
OpenSSL knows" -l --ssl --ssl-sigalgs RSA+MD2 0
check "usage: an unknown version is named" usage_error \
    "--ssl-max-version: unknown version 'tls2' (tls1, tls1.1, tls1.2 or \
tls1.3)" --ssl --ssl-max-version tls2 localhost 1
check "usage: an empty ALPN name" usage_error \
    "--ssl-alpn: empty protocol name in 'h2,,x'" --ssl --ssl-alpn h2,,x \
    localhost 1
check "usage: an ALPN name over 255 bytes" usage_error \
    "--ssl-alpn: the protocol name 'aaaaaaaaaaaaaaaaaaaa...' is longer \
than 255 bytes" --ssl --ssl-alpn "h2,$(head -c 256 /dev/zero | tr '\0' a)" \
    localhost 1
check "usage: min above max" usage_error \
    "--ssl-max-version tls1.2 is below the minimum version tls1.3" \
    -l --ssl --ssl-min-version tls1.3 --ssl-max-version tls1.2 0
check "usage: a second certificate's key is checked at start-up" \
    usage_error "--ssl-key $PKI/client.key: the key does not match the \
certificate in $PKI/sni.pem" -l --ssl --ssl-cert "$PKI/server.pem" \
    --ssl-key "$PKI/server.key" --ssl-cert "$PKI/sni.pem" \
    --ssl-key "$PKI/client.key" 0

done_testing

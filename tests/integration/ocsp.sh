#!/bin/sh
# OCSP stapling: responses made by "openssl ocsp" from the test PKI's
# intermediate CA (good, revoked), stapled by "openssl s_server
# -status_file" and by tlsnc --ssl-ocsp-response, or missing; a client
# with --ssl-ocsp reports the status, and with --ssl-ocsp=require refuses
# anything but good (status 5).

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

printf 'GET / HTTP/1.0\r\n\r\n' > "$T/get"
: > "$T/empty"

# The responses, from an index that lists server.pem's serial as valid,
# or as revoked; signed by its issuer, valid for a day.
serial=$(openssl x509 -in "$PKI/server.pem" -noout -serial | cut -d= -f2)
printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=localhost\n' "$serial" \
    > "$T/good.idx"
printf 'R\t301231235959Z\t200101000000Z\t%s\tunknown\t/CN=localhost\n' \
    "$serial" > "$T/revoked.idx"
if ! openssl ocsp -issuer "$PKI/int.pem" -cert "$PKI/server.pem" \
    -no_nonce -reqout "$T/req.der" > "$T/ocsp.log" 2>&1; then
	echo "Bail out! openssl ocsp cannot make a request"
	exit 1
fi
for k in good revoked; do
	if ! openssl ocsp -index "$T/$k.idx" -CA "$PKI/int.pem" \
	    -rsigner "$PKI/int.pem" -rkey "$PKI/int.key" -reqin "$T/req.der" \
	    -respout "$T/$k.der" -ndays 1 >> "$T/ocsp.log" 2>&1; then
		echo "Bail out! openssl ocsp cannot make the $k response"
		exit 1
	fi
done

# ocsp_server KIND N: s_server -www for N connections, stapling KIND.der
# (none: nothing); sets SPID and SPORT.
ocsp_server() {
	if [ "$1" = none ]; then
		set -- "$2"
	else
		set -- "$2" -status_file "$T/$1.der"
	fi
	_n=$1
	shift
	openssl s_server -accept 0 -naccept "$_n" -www \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" "$@" > "$T/s.err" 2>&1 &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID")
}


# ocsp_get TAG MODE: tlsnc -v with --ssl-ocsp or --ssl-ocsp=require.
ocsp_get() {
	if [ "$2" = require ]; then set -- "$1" --ssl-ocsp=require
	else set -- "$1" --ssl-ocsp; fi
	client "$T/$1.out" "$T/$1.err" "$T/get" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" "$2" localhost "$SPORT"
}

for kind in good revoked none; do
	case $kind in
	good)	said="good" ;;
	revoked) said="revoked" ;;
	none)	said="none (the server stapled no response)" ;;
	esac
	if ocsp_server "$kind" 2; then
		ocsp_get "$kind.ask" ask
		check "s_server stapling $kind, --ssl-ocsp: exit status 0" \
		    status_is 0 "$CST"
		check "s_server stapling $kind, --ssl-ocsp: reported" \
		    has_line "$T/$kind.ask.err" "tlsnc: OCSP status: $said"
		ocsp_get "$kind.req" require
		if [ "$kind" = good ]; then
			check "s_server stapling good, =require: status 0" \
			    status_is 0 "$CST"
		else
			check "s_server stapling $kind, =require: status 5" \
			    status_is 5 "$CST"
			check "s_server stapling $kind, =require: the message" \
			    has_line "$T/$kind.req.err" "tlsnc: certificate \
verification failed: OCSP status $said (--ssl-ocsp=require)"
			check "s_server stapling $kind, =require: no data" \
			    status_is 0 "$(size_of "$T/$kind.req.out")"
		fi
		wait_pid "$SPID" 10 >/dev/null
	else
		skip 5 "s_server did not start"
	fi
done

# A response about another certificate is no good.
openssl s_server -accept 0 -naccept 1 -www -cert "$PKI/rsaserver.pem" \
    -key "$PKI/rsaserver.key" -cert_chain "$PKI/int.pem" \
    -status_file "$T/good.der" > "$T/s.err" 2>&1 &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
if SPORT=$(port_of_pid "$SPID"); then
	ocsp_get other require
	check "a response about another certificate: status 5" \
	    status_is 5 "$CST"
	check "a response about another certificate: the message" has_line \
	    "$T/other.err" "tlsnc: certificate verification failed: OCSP \
status bad (it does not name the certificate) (--ssl-ocsp=require)"
	wait_pid "$SPID" 10 >/dev/null
else
	skip 2 "s_server did not start"
fi

# --------------------------------------------------- a tlsnc listener --

: > "$T/l.err"
"$TLSNC" -l -k -v --ssl --ssl-cert "$PKI/server.pem" \
    --ssl-key "$PKI/server.key" --ssl-ocsp-response "$T/good.der" \
    127.0.0.1 0 < "$T/empty" > "$T/l.out" 2> "$T/l.err" &
KPID=$!
BG_PIDS="$BG_PIDS $KPID"
if wait_for "$T/l.err" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/l.err")
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" -status \
	    -CAfile "$PKI/ca.pem" < "$T/empty" > "$T/sc.out" 2>&1
	check "tlsnc staples: s_client got a response" has_text "$T/sc.out" \
	    "OCSP Response Status: successful"
	check "tlsnc staples: s_client reads it as good" has_text \
	    "$T/sc.out" "Cert Status: good"
	client "$T/tc.out" "$T/tc.err" "$T/empty" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-ocsp=require \
	    localhost "$LPORT"
	check "tlsnc staples, tlsnc requires: status 0" status_is 0 "$CST"
	check "tlsnc staples, tlsnc requires: good" has_line "$T/tc.err" \
	    "tlsnc: OCSP status: good"
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" < "$T/empty" > "$T/sc2.out" 2>&1
	check "tlsnc staples: a client that does not ask is served" has_text \
	    "$T/sc2.out" "Verify return code: 0 (ok)"
	kill "$KPID" 2>/dev/null
else
	skip 5 "listener did not start"
fi

# ------------------------------------------------------- usage errors --

client "$T/u1.out" "$T/u1.err" "$T/empty" -l --ssl \
    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --ssl-ocsp-response "$T/req.der" 0
check "usage: a file that is no OCSP response: status 2" status_is 2 "$CST"
check "usage: a file that is no OCSP response: named" has_text "$T/u1.err" \
    "tlsnc: --ssl-ocsp-response $T/req.der: no DER OCSP response"
client "$T/u2.out" "$T/u2.err" "$T/empty" --ssl --ssl-ocsp=maybe \
    localhost 1
check "usage: an unknown --ssl-ocsp mode" has_line "$T/u2.err" \
    "tlsnc: --ssl-ocsp: unknown mode 'maybe' (give --ssl-ocsp or \
--ssl-ocsp=require)"
client "$T/u3.out" "$T/u3.err" "$T/empty" -l --ssl --ssl-ocsp 0
check "usage: --ssl-ocsp on a listener" has_line "$T/u3.err" \
    "tlsnc: --ssl-ocsp is for a client; a listener staples with \
--ssl-ocsp-response"

done_testing

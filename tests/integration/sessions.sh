#!/bin/sh
# TLS sessions: --ssl-sess-out saves a client's session and --ssl-sess-in
# resumes it, as openssl s_server sees ("Reused" on its -www page); a -k
# listener issues tickets and resumes sessions, as s_client and tlsnc see;
# a resumed session is checked again against this command line's pins and
# name, since the file may come from another.

. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi

printf 'GET / HTTP/1.0\r\n\r\n' > "$T/get"
: > "$T/empty"
echo hello > "$T/hello"

# www_server TAG N: "openssl s_server -www" for N connections; sets SPID
# and SPORT.
www_server() {
	openssl s_server -accept 0 -naccept "$2" -www \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" > "$T/$1.serr" 2>&1 &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID") || {
		diag "s_server did not start"
		return 1
	}
}

# www_get TAG [TLSNC ARGS...]: "GET /" from tlsnc -v; sets CST.
www_get() {
	_t=$1
	shift
	client "$T/$_t.out" "$T/$_t.err" "$T/get" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" "$@" localhost "$SPORT"
}

# ------------------------------------------- client against s_server --

if www_server w 5; then
	www_get w1 --ssl-sess-out "$T/sess.pem"
	check "sess-out: exit status 0" status_is 0 "$CST"
	check "sess-out: a new session" has_line "$T/w1.err" \
	    "tlsnc: TLS session: new"
	check "sess-out: saved, and says so" has_line "$T/w1.err" \
	    "tlsnc: TLS session saved to $T/sess.pem"
	check "sess-out: the file is PEM" has_line "$T/sess.pem" \
	    "-----BEGIN SSL SESSION PARAMETERS-----"
	check "sess-out: the file is private (0600)" status_is 600 \
	    "$(stat -c %a "$T/sess.pem")"

	www_get w2 --ssl-sess-in "$T/sess.pem"
	check "sess-in: exit status 0" status_is 0 "$CST"
	check "sess-in: tlsnc says it resumed" has_line "$T/w2.err" \
	    "tlsnc: TLS session: resumed"
	check "sess-in: s_server resumed it" has_text "$T/w2.out" \
	    "Reused, TLSv1.3"

	# The session was verified for localhost, with ca.pem.
	www_get w3 --ssl-sess-in "$T/sess.pem" --ssl-verify-name other.example
	check "sess-in, another name: status 5" status_is 5 "$CST"
	check "sess-in, another name: the message" has_line "$T/w3.err" \
	    "tlsnc: certificate verification failed: the resumed session \
(--ssl-sess-in) was not verified for other.example"
	PIN0=SHA256:$(printf '%064d' 0)
	www_get w4 --ssl-sess-in "$T/sess.pem" --ssl-pin "$PIN0"
	check "sess-in, another pin: status 5" status_is 5 "$CST"
	GOODPIN=$(fp_of_pem < "$PKI/server.pem")
	www_get w5 --ssl-sess-in "$T/sess.pem" --ssl-pin "$GOODPIN"
	check "sess-in, the server's pin: status 0" status_is 0 "$CST"
	check "sess-in, the server's pin: resumed" has_line "$T/w5.err" \
	    "tlsnc: TLS session: resumed"
	check "sess-in, the server's pin: verified by the pin" has_line \
	    "$T/w5.err" "tlsnc: verification: ok (pinned certificate)"
	wait_pid "$SPID" 10 >/dev/null
else
	skip 15 "s_server did not start"
fi

# Another server process has other ticket keys: a full handshake, fine.
if www_server x 1; then
	www_get x1 --ssl-sess-in "$T/sess.pem"
	check "sess-in, another server: exit status 0" status_is 0 "$CST"
	check "sess-in, another server: a new session" has_line "$T/x1.err" \
	    "tlsnc: TLS session: new"
	wait_pid "$SPID" 10 >/dev/null
else
	skip 2 "s_server did not start"
fi

# ------------------------------------------------------ --ssl-reconnect --

# reconnects TAG N [S_SERVER ARGS...]: a session, then N reconnects, to an
# s_server for N + 1 connections; sets CST.
reconnects() {
	_t=$1 _n=$2
	shift 2
	openssl s_server -accept 0 -naccept "$((_n + 1))" -www \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" "$@" > "$T/$_t.serr" 2>&1 &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID") || return 1
	www_get "$_t" --ssl-reconnect "$_n"
	wait_pid "$SPID" 10 >/dev/null
}

for v in tls1.3 tls1.2; do
	if [ $v = tls1.3 ]; then
		set --
		want=TLSv1.3
	else
		set -- -tls1_2
		want=TLSv1.2
	fi
	if reconnects "r$v" 3 "$@"; then
		check "reconnect, $v: exit status 0" status_is 0 "$CST"
		for i in 1 2 3; do
			check "reconnect $i, $v: resumed" has_text \
			    "$T/r$v.err" \
			    "tlsnc: reconnect $i: TLS session resumed ($want, "
		done
	else
		skip 4 "s_server did not start"
	fi
done

# A server that keeps no session: each reconnect is a new one, no error.
if reconnects rnone 2 -no_ticket -no_cache; then
	check "reconnect, no resumption: exit status 0" status_is 0 "$CST"
	check "reconnect, no resumption: reported as new" has_text \
	    "$T/rnone.err" "tlsnc: reconnect 2: TLS session new (TLSv1.3, "
else
	skip 2 "s_server did not start"
fi

# A reconnect that fails is named, and its status is the exit status.  The
# server leaves after one client; a reconnect that comes while it closes its
# listening socket is reset in the handshake (4) rather than refused (1).
# reconnect_failed ERR STATUS: ERR names reconnect 1's failure, and STATUS
# is the one that failure gives.
# shellcheck disable=SC2317  # called through check
reconnect_failed() {
	if grep -q '^tlsnc: reconnect 1: connect to localhost port' "$1"; then
		status_is 1 "$2"
	elif grep -q '^tlsnc: reconnect 1: TLS handshake' "$1"; then
		status_is 4 "$2"
	else
		diag "no line names reconnect 1's failure"
		diag_file "$1"
		return 1
	fi
}
if reconnects rfail 1 -naccept 1; then
	check "reconnect refused: the line and the status say which" \
	    reconnect_failed "$T/rfail.err" "$CST"
	check "reconnect refused: the first connection went through" \
	    has_text "$T/rfail.err" "tlsnc: TLS session: new"
else
	skip 2 "s_server did not start"
fi

# ------------------------------------------------- a -k listener --

: > "$T/k.err"
"$TLSNC" -l -k -vv --ssl --ssl-cert "$PKI/server.pem" \
    --ssl-key "$PKI/server.key" --ssl-client-ca "$PKI/ca.pem" \
    127.0.0.1 0 < "$T/empty" > "$T/k.out" 2> "$T/k.err" &
KPID=$!
BG_PIDS="$BG_PIDS $KPID"
if wait_for "$T/k.err" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/k.err")
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" -sess_out "$T/s.sess" -ign_eof \
	    < "$T/empty" > "$T/s1.out" 2>&1
	run_limited 20 openssl s_client -connect "127.0.0.1:$LPORT" \
	    -CAfile "$PKI/ca.pem" -sess_in "$T/s.sess" -ign_eof \
	    < "$T/empty" > "$T/s2.out" 2>&1
	check "-k: s_client's first session is new" has_text "$T/s1.out" \
	    "New, TLSv1.3"
	check "-k: s_client resumes its session" has_text "$T/s2.out" \
	    "Reused, TLSv1.3"

	client "$T/t1.out" "$T/t1.err" "$T/hello" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-cert "$PKI/client.pem" \
	    --ssl-key "$PKI/client.key" --ssl-sess-out "$T/t.sess" \
	    localhost "$LPORT"
	check "-k, tlsnc: first session exit status 0" status_is 0 "$CST"
	client "$T/t2.out" "$T/t2.err" "$T/hello" -v --ssl \
	    --ssl-trustfile "$PKI/ca.pem" --ssl-cert "$PKI/client.pem" \
	    --ssl-key "$PKI/client.key" --ssl-sess-in "$T/t.sess" \
	    localhost "$LPORT"
	check "-k, tlsnc: resumed session exit status 0" status_is 0 "$CST"
	check "-k, tlsnc: the client resumed" has_line "$T/t2.err" \
	    "tlsnc: TLS session: resumed"
	check "-k: the listener reports resumptions" \
	    status_is 2 "$(grep -c '^tlsnc: TLS session: resumed$' "$T/k.err")"
	check "-k: the resumed client certificate is reported" has_line \
	    "$T/k.err" "tlsnc: verification: ok (client certificate \
verified for the resumed session)"
	kill "$KPID" 2>/dev/null
else
	skip 7 "listener did not start"
fi

# ------------------------------------------------------- usage errors --

echo garbage > "$T/garbage"
client "$T/u1.out" "$T/u1.err" "$T/empty" --ssl --ssl-sess-in "$T/garbage" \
    localhost 1
check "usage: a garbled --ssl-sess-in: status 2" status_is 2 "$CST"
check "usage: a garbled --ssl-sess-in: named" has_text "$T/u1.err" \
    "tlsnc: --ssl-sess-in $T/garbage: no usable PEM TLS session"
client "$T/u2.out" "$T/u2.err" "$T/empty" --ssl \
    --ssl-sess-out "$T/nodir/s.pem" localhost 1
check "usage: an --ssl-sess-out that cannot be made: status 2" \
    status_is 2 "$CST"
check "usage: an --ssl-sess-out that cannot be made: named" has_line \
    "$T/u2.err" "tlsnc: --ssl-sess-out $T/nodir/s.pem: No such file or \
directory"
client "$T/u3.out" "$T/u3.err" "$T/empty" -l --ssl \
    --ssl-sess-out "$T/s.pem" 0
check "usage: --ssl-sess-out with -l" has_line "$T/u3.err" \
    "tlsnc: --ssl-sess-out is for a client, not with -l"
client "$T/u4.out" "$T/u4.err" "$T/empty" --ssl --ssl-reconnect 0 \
    localhost 1
check "usage: --ssl-reconnect 0" has_line "$T/u4.err" \
    "tlsnc: --ssl-reconnect: invalid number of connections '0'"

done_testing

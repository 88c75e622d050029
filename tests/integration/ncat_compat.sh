#!/bin/sh
# Behaviours that Ncat's own black-box suite (ncat/test/ncat-test.pl in the
# Nmap source) checks for options tlsnc shares, where no other script here
# covers them: the idle timeout reset by traffic either way, a reset
# connection's status on each side, a TLS listener that gives up on a
# client that does not speak TLS, a -k -e TLS listener that a stalled
# client does not block, and --recv-only on a listener.  Each runs plain
# and with --ssl where Ncat's does.
#
# Where the rest of Ncat's cases live (the deliberate differences in
# DESIGN.md aside: verification on by default, the end-of-session rule, no
# --lua-exec, and no proxies yet):
#   exit statuses, usage errors      cli.sh, connect.sh
#   -k, -m, a second client without -k, a client that does not speak TLS
#     to a -k listener, the handshake not blocking a -k listener
#                                    keepopen.sh
#   -e, -c, a program that quits at once, environment variables
#                                    exec.sh
#   --ssl verification by name, no trusted certificate
#                                    verify.sh, tls_self.sh
#   -z exit statuses                 scan.sh
#   --recv-only on a client, half-close
#                                    plain.sh
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

pki || { not_ok "make the test PKI"; done_testing; }
export PKI
PEER="$TOP_SRCDIR/tests/integration/ncat_peer.py"
IDLE=2
TRUST="--ssl-trustfile $PKI/ca.pem --ssl-servername localhost"

# peer WHAT ARGS...: run ncat_peer.py, which runs tlsnc and plays the other
# end; ok when it prints "ok".
peer() {
	_w=$1
	shift
	run_limited 90 python3 "$PEER" "$@" > "$T/peer.out" 2> "$T/peer.err"
	if [ $? -eq 0 ] && grep -q '^ok' "$T/peer.out"; then
		ok "$_w ($(cat "$T/peer.out"))"
	else
		not_ok "$_w"
		diag_file "$T/peer.out"
		diag_file "$T/peer.err"
	fi
}

# --- -i: writes alone, then reads alone, keep a session alive past the
# limit; then it ends with status 3 about that long after the last byte.
# shellcheck disable=SC2086  # TRUST is a list of arguments
peer "-i in connect mode, plain" idle connect 0 "$IDLE" -- \
    "$TLSNC" -i "$IDLE" 127.0.0.1 PORT
# shellcheck disable=SC2086
peer "-i in connect mode, --ssl" idle connect 1 "$IDLE" -- \
    "$TLSNC" --ssl $TRUST -i "$IDLE" 127.0.0.1 PORT
peer "-i in listen mode, plain" idle listen 0 "$IDLE" -- \
    "$TLSNC" -v -l -i "$IDLE" 127.0.0.1 0
peer "-i in listen mode, --ssl" idle listen 1 "$IDLE" -- \
    "$TLSNC" -v -l --ssl -i "$IDLE" 127.0.0.1 0

# --- A connection reset by the peer after data moved is status 1, on a
# client and on a listener.
peer "a reset from the server: the client exits 1" reset connect -- \
    "$TLSNC" 127.0.0.1 PORT
peer "a reset from the client: the listener exits 1" reset listen -- \
    "$TLSNC" -v -l 127.0.0.1 0

# --- Without -k, a TLS listener whose one client does not speak TLS gives
# up with status 4 instead of waiting for another.
hold "$T/lin"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/lin" -l --ssl 127.0.0.1 0; then
	printf 'abc\n' | run_limited 30 "$TLSNC" 127.0.0.1 "$LPORT" \
	    > "$T/c.out" 2> "$T/c.err"
	listener_status 30
	check "a TLS listener given a plain client exits 4" status_is 4 "$LST"
	check "it wrote nothing to stdout" test ! -s "$T/l.out"
	check "it names the handshake" has_text "$T/l.err" "handshake"
else
	not_ok "a TLS listener did not start"
fi
unhold

# --- -k -e --ssl: a client that connects and never starts the handshake
# does not keep a TLS client from its program.
hold "$T/stall"
if listen_tlsnc "$T/k.out" "$T/k.err" /dev/null -l -k --ssl \
    -e "tr a-z A-Z" 127.0.0.1 0; then
	PIN=$(pin_of "$T/k.err")
	"$TLSNC" 127.0.0.1 "$LPORT" < "$T/stall" > /dev/null 2>&1 &
	STALLED=$!
	BG_PIDS="$BG_PIDS $STALLED"
	wait_for "$T/k.err" "Connection from" 10
	printf 'abc\n' | run_limited 30 "$TLSNC" --ssl --ssl-pin "$PIN" \
	    127.0.0.1 "$LPORT" > "$T/e.out" 2> "$T/e.err"
	check "-k -e --ssl: served beside a stalled client" status_is 0 $?
	check "-k -e --ssl: the program's answer" has_line "$T/e.out" "ABC"
	kill "$STALLED" "$LPID" 2>/dev/null
else
	not_ok "a -k -e --ssl listener did not start"
fi
unhold

# --- --recv-only on a listener: the session ends at the client's EOF
# though the listener's stdin stays open, and what came is all there.
printf 'from the client\n' > "$T/msg"
for MODE in plain ssl; do
	SSL="" CARGS=""
	[ "$MODE" = ssl ] && SSL=--ssl
	hold "$T/rin"
	# shellcheck disable=SC2086
	if ! listen_tlsnc "$T/r.out" "$T/r.err" "$T/rin" -l --recv-only \
	    $SSL 127.0.0.1 0; then
		not_ok "$MODE: --recv-only listener did not start"
		unhold
		continue
	fi
	[ "$MODE" = ssl ] && CARGS="--ssl --ssl-pin $(pin_of "$T/r.err")"
	# shellcheck disable=SC2086
	client "$T/rc.out" "$T/rc.err" "$T/msg" $CARGS 127.0.0.1 "$LPORT"
	listener_status 30
	both_ok "$MODE: --recv-only listener"
	check "$MODE: --recv-only listener got the data" same_data "$T/msg" \
	    "$T/r.out"
	unhold
done

done_testing

#!/bin/sh
# --starttls against a scripted server (starttls_peer.py) for every
# protocol: the preamble, the upgrade, verification against the test CA,
# and data both ways over TLS, with the preamble on stderr under -v and
# never on stdout.  Then each failure with its status and message: not
# offered (7), refused (8), malformed or oversized (9), plaintext after the
# go-ahead (9, in the go-ahead's own write or after it), no reply within
# -w (3), and a server that closes (1).  Last, the command line: the
# default port, and the combinations that are refused.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

pki || { not_ok "make the test PKI"; done_testing; }
PEER="$TOP_SRCDIR/tests/integration/starttls_peer.py"
PROTOS="smtp lmtp imap pop3 ftp postgres ldap xmpp xmpp-server nntp sieve irc"

# serve PROTO SCENARIO: start the scripted server; sets SPORT and SPID.
serve() {
	rm -f "$T/port" "$T/result"
	python3 "$PEER" "$1" "$2" "$PKI" "$T/port" "$T/result" \
	    2> "$T/peer.err" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	wait_for "$T/port" '^[0-9]' || return 1
	SPORT=$(cat "$T/port")
}

# starttls PROTO ARGS...: run the client against the server; sets CST.
starttls() {
	_p=$1
	shift
	printf 'client data\n' > "$T/in"
	client "$T/out" "$T/err" "$T/in" --starttls "$_p" \
	    --ssl-trustfile "$PKI/ca.pem" "$@" localhost "$SPORT"
	wait_pid "$SPID" 40
}

# result_is TEXT: the server's last line.
result_is() {
	_r=$(tail -n 1 "$T/result" 2>/dev/null)
	[ "$_r" = "$1" ] && return 0
	diag "server: ${_r:-no result}"
	diag_file "$T/peer.err"
	return 1
}

for p in $PROTOS; do
	if ! serve "$p" ok; then
		not_ok "$p: the scripted server starts"
		continue
	fi
	starttls "$p" -v
	check "$p: upgrade, verify and relay: status 0" status_is 0 "$CST"
	check "$p: the server's TLS data on stdout, nothing else" \
	    has_line "$T/out" "hello over tls"
	check "$p: stdout has only that line" \
	    test "$(wc -l < "$T/out")" -eq 1
	check "$p: stdin reached the server over TLS" \
	    has_line "$T/result" "client data"
	check "$p: the scripted server saw the expected dialogue" \
	    result_is ok
	check "$p: -v shows the preamble on stderr" \
	    grep -q '^tlsnc: STARTTLS < ' "$T/err"
	check "$p: -v shows the verification" \
	    has_text "$T/err" "verification: ok (trusted chain, name localhost)"
done

# --- Failures: SCENARIO STATUS TEXT, for the protocols named.
# fails PROTO SCENARIO STATUS TEXT [ARGS...]
fails() {
	_p=$1 _s=$2 _st=$3 _txt=$4
	shift 4
	if ! serve "$_p" "$_s"; then
		not_ok "$_p $_s: the scripted server starts"
		return
	fi
	starttls "$_p" "$@"
	check "$_p $_s: status $_st" status_is "$_st" "$CST"
	check "$_p $_s: the message" has_text "$T/err" "$_txt"
	check "$_p $_s: nothing on stdout" test ! -s "$T/out"
}

fails smtp notoffered 7 "STARTTLS (smtp): the server does not offer \
STARTTLS (the reply to EHLO: '250-mx.test | 250 8BITMIME')"
fails smtp refused 8 "STARTTLS (smtp): the server refused (the reply to \
STARTTLS: '454 4.7.0 TLS not available')"
fails smtp malformed 9 "STARTTLS (smtp): the greeting is malformed: \
'SSH-2.0-OpenSSH_9.2p1'"
fails smtp oversized 9 "STARTTLS (smtp): the greeting is longer than 8192 \
bytes: '220-aaaa"
fails smtp inject 9 "STARTTLS (smtp): the server sent 14 bytes of \
plaintext after its go-ahead, before the TLS handshake (an injection \
attempt?): '250 injected'"
fails smtp inject2 9 "bytes of plaintext after its go-ahead"
fails smtp silent 3 "STARTTLS (smtp): timed out waiting for the reply to \
STARTTLS (received: '')" -w 1
fails smtp closed 1 "STARTTLS (smtp): the server closed the connection \
before the reply to STARTTLS"

fails imap notoffered 7 "the server does not offer STARTTLS (the reply to \
CAPABILITY: '* CAPABILITY IMAP4rev1 | A1 OK done')"
fails imap refused 8 "the server refused (the reply to STARTTLS: 'A2 NO \
TLS unavailable')"
fails imap inject 9 "plaintext after its go-ahead"
fails pop3 notoffered 7 "(the reply to CAPA: '+OK | USER | .')"
fails pop3 inject2 9 "plaintext after its go-ahead"
fails ftp notoffered 7 "(the reply to AUTH TLS: '500 AUTH not understood')"
fails ftp refused 8 "530 Please login with USER and PASS."
fails postgres notoffered 7 "(the reply to SSLRequest: 'N')"
fails postgres refused 8 "Mbad"
fails postgres inject 9 "plaintext after its go-ahead"
fails postgres malformed 9 "the reply to SSLRequest is malformed: 'H'"
fails ldap notoffered 7 "unsupported extended operation"
fails ldap refused 8 "Could not initialize TLS"
fails ldap oversized 9 "longer than 8192 bytes"
fails ldap inject 9 "plaintext after its go-ahead"
fails xmpp notoffered 7 "<stream:features/>"
fails xmpp refused 8 "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
fails xmpp oversized 9 "the reply to the stream header is longer than 8192 bytes"
fails nntp refused 8 "580 Can not initiate TLS negotiation"
fails sieve notoffered 7 "the greeting: '\"IMPLEMENTATION\" \"test\" | OK"
fails irc notoffered 7 "421 * STARTTLS :Unknown command"
fails irc refused 8 "691 * :STARTTLS failure"
fails irc silent 3 "timed out waiting for the reply to STARTTLS" -w 1

# --- The command line.
run_limited 20 "$TLSNC" -v -w 2 --starttls smtp 127.0.0.1 < /dev/null \
    > "$T/out" 2> "$T/err"
check "PORT defaults to the protocol's (smtp: 25)" \
    grep -Eq 'port 25: |Connected to 127\.0\.0\.1:25$' "$T/err"

# usage ARGS... -- TEXT: status 2 and the message.
usage() {
	_u=""
	while [ "$1" != "--" ]; do
		_u="$_u $1"
		shift
	done
	# shellcheck disable=SC2086  # the words are the arguments
	run_limited 20 "$TLSNC" $_u < /dev/null > "$T/out" 2> "$T/err"
	_st=$?
	check "usage:$_u: status 2" status_is 2 "$_st"
	check "usage:$_u: the message" has_text "$T/err" "$2"
}

usage --starttls gopher host -- "--starttls: unknown protocol 'gopher'"
usage -l --starttls smtp 9000 -- "--starttls is for a client, not with -l"
usage -z --starttls smtp host 25 -- "cannot use -z and --starttls together"
usage -u --starttls smtp host 25 -- "cannot use --starttls and -u together"
usage --starttls-name mx.test host 25 -- "--starttls-name needs --starttls"
usage --starttls smtp -- "no host given (tlsnc --starttls PROTO host [port])"
usage --starttls smtp --starttls-name bad!name host -- \
    "--starttls-name: 'bad!name' is not a host name"

# --starttls-name is the EHLO name.
if serve smtp ok; then
	starttls smtp -v --starttls-name client.test
	check "--starttls-name: EHLO client.test" \
	    has_text "$T/err" "STARTTLS > EHLO client.test"
	check "--starttls-name: status 0" status_is 0 "$CST"
fi

done_testing

#!/bin/sh
# The handshake report (--ssl-info, text and JSON, --ssl-info-file), the
# saved chain (--ssl-save-chain) and the key log (--ssl-keylog,
# SSLKEYLOGFILE), on both sides, against openssl and gnutls peers that are
# told what to negotiate: the report must say what they were told.  JSON is
# parsed with python3.
. "$TOP_SRCDIR/tests/integration/lib.sh"

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi
if ! command -v python3 > /dev/null; then
	skip 1 "python3 is not installed"
	done_testing
fi

# json_lines ERR OUT: the JSON lines of a stderr file (the others start
# with "tlsnc: ").
json_lines() {
	grep '^{' "$1" > "$2"
	if grep -v '^tlsnc: ' "$1" | grep -qv '^{'; then
		diag "a line of $1 is neither JSON nor a tlsnc: line"
		diag_file "$1"
		return 1
	fi
	return 0
}

# s_server_start TAG [S_SERVER ARGS...]: openssl s_server for one client,
# presenting server.pem with its intermediate, its stdin held open; sets
# SPID and SPORT.  s_server_stop waits for it.
s_server_start() {
	_d=$T/$1
	shift
	hold "$_d.fifo"
	openssl s_server -accept 0 -naccept 1 -quiet \
	    -cert "$PKI/server.pem" -key "$PKI/server.key" \
	    -cert_chain "$PKI/int.pem" "$@" \
	    < "$_d.fifo" > "$_d.sout" 2> "$_d.serr" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	if ! SPORT=$(port_of_pid "$SPID"); then
		diag "s_server did not start listening"
		diag_file "$_d.serr"
		return 1
	fi
	export SPORT
}

s_server_stop() {
	unhold
	wait_pid "$SPID" 30 > /dev/null
}

# to_s_server TAG TLSNC-ARGS...: run the tlsnc client (stdin /dev/null)
# against s_server on SPORT; sets CST.
to_s_server() {
	_d=$T/$1
	shift
	client "$_d.cout" "$_d.cerr" /dev/null --ssl "$@" localhost "$SPORT"
	s_server_stop
}

export T
LEAF_FP=$(fp_of_pem < "$PKI/server.pem")
INT_FP=$(fp_of_pem < "$PKI/int.pem")
export LEAF_FP INT_FP
LEAF_SERIAL=$(openssl x509 -noout -serial < "$PKI/server.pem" |
    sed 's/^serial=//')
LEAF_END=$(openssl x509 -noout -enddate < "$PKI/server.pem" |
    sed 's/^notAfter=//')
export LEAF_SERIAL LEAF_END

# --- The client's report.

# Text: TLS 1.2 and a cipher forced on the server.
s_server_start text -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 &&
to_s_server text --ssl-trustfile "$PKI/ca.pem" --ssl-info
check "text report: exit status 0" status_is 0 "$CST"
check "text report: the version the server was held to" \
    has_line "$T/text.cerr" "tlsnc:   version: TLSv1.2"
check "text report: the cipher the server was held to" \
    has_line "$T/text.cerr" "tlsnc:   cipher: ECDHE-ECDSA-AES128-GCM-SHA256"
check "text report: the leaf's fingerprint" \
    has_line "$T/text.cerr" "tlsnc:     sha256: $LEAF_FP"
check "text report: verification" \
    has_line "$T/text.cerr" "tlsnc:     result: ok"

# JSON: TLS 1.3 with a suite and a group forced on the server.
s_server_start json -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 \
    -groups secp384r1 &&
to_s_server json --ssl-trustfile "$PKI/ca.pem" --ssl-info=json
check "JSON report: exit status 0" status_is 0 "$CST"
check "JSON report: one object, valid JSON" eval \
    'json_lines "$T/json.cerr" "$T/json.j" &&
    json_true "$T/json.j" "len(objs) == 1 and o[\"result\"] == \"ok\""'
check "JSON report: side, peer and SNI" json_true "$T/json.j" \
    'o["side"] == "client" and o["sni"] == "localhost" and
    o["peer"] in ("127.0.0.1:" + env["SPORT"], "[::1]:" + env["SPORT"]) and
    o["status"] == 0 and
    o["error"] is None and o["handshake_ms"] > 0'
check "JSON report: version, suite and group the server was held to" \
    json_true "$T/json.j" 'o["version"] == "TLSv1.3" and
    o["cipher"] == "TLS_CHACHA20_POLY1305_SHA256" and
    o["group"] == "secp384r1" and o["peer_signature"] == "ECDSA+SHA256"'
check "JSON report: no ALPN, not resumed, no OCSP, nothing offered" \
    json_true "$T/json.j" 'o["alpn"] is None and o["resumed"] is False and
    o["ocsp"] == "none" and o["offered"] is None'
check "JSON report: verification" json_true "$T/json.j" \
    'o["verify"]["result"] == "ok" and o["verify"]["code"] == 0 and
    o["verify"]["reason"] is None'
check "JSON report: the chain as openssl x509 sees it" json_true \
    "$T/json.j" 'len(o["chain"]) == 2 and
    o["chain"][0]["sha256"] == env["LEAF_FP"] and
    o["chain"][1]["sha256"] == env["INT_FP"] and
    o["chain"][0]["serial"] == env["LEAF_SERIAL"] and
    o["chain"][0]["subject"] == "CN=localhost" and
    o["chain"][0]["issuer"] == "CN=tlsnc test intermediate CA" and
    o["chain"][1]["depth"] == 1'
check "JSON report: the leaf's dates, days left, SANs and key" \
    json_true "$T/json.j" 'o["chain"][0]["san"] == ["DNS:localhost",
    "IP:127.0.0.1", "IP:::1"] and o["chain"][0]["key_type"] == "EC" and
    o["chain"][0]["key_bits"] == 256 and
    o["chain"][0]["signature_algorithm"] == "ecdsa-with-SHA256" and
    __import__("calendar").timegm(__import__("time").strptime(
    env["LEAF_END"], "%b %d %H:%M:%S %Y GMT")) ==
    __import__("calendar").timegm(__import__("time").strptime(
    o["chain"][0]["not_after"], "%Y-%m-%dT%H:%M:%SZ")) and
    abs(o["chain"][0]["days_left"] * 86400 - (__import__("calendar").timegm(
    __import__("time").strptime(env["LEAF_END"], "%b %d %H:%M:%S %Y GMT"))
    - __import__("time").time())) < 86400 * 1.01'

# --ssl-info-file: the report goes there, not to stderr.
s_server_start file &&
to_s_server file --ssl-trustfile "$PKI/ca.pem" --ssl-info=json \
    --ssl-info-file "$T/file.report"
check "--ssl-info-file: exit status 0" status_is 0 "$CST"
check "--ssl-info-file: the object is in the file" json_true \
    "$T/file.report" 'len(objs) == 1 and o["version"] == "TLSv1.3"'
check "--ssl-info-file: none on stderr" eval '! grep -q "^{" "$T/file.cerr"'

# A refused certificate: status 5 as without the report, and an object
# with what was learnt.
s_server_start expired -cert "$PKI/expired.pem" -key "$PKI/expired.key" &&
to_s_server expired --ssl-trustfile "$PKI/ca.pem" --ssl-info=json \
    --ssl-save-chain "$T/expired.chain"
check "failed verification: exit status 5" status_is 5 "$CST"
check "failed verification: the object says why" eval \
    'json_lines "$T/expired.cerr" "$T/expired.j" &&
    json_true "$T/expired.j" "len(objs) == 1 and o[\"result\"] == \"failed\"
    and o[\"status\"] == 5 and \"expired\" in o[\"error\"] and
    o[\"verify\"][\"result\"] == \"failed\" and
    o[\"verify\"][\"code\"] == 10 and
    o[\"verify\"][\"reason\"] == \"certificate has expired\""'
check "failed verification: the refused certificate, with days left < 0" \
    json_true "$T/expired.j" 'o["chain"][0]["subject"] == "CN=localhost"
    and o["chain"][0]["days_left"] < -300'
check "failed verification: the error line is still printed" \
    has_text "$T/expired.cerr" "tlsnc: certificate verification failed"
check "failed verification: the refused chain is saved" eval \
    '[ "$(fp_of_pem < "$T/expired.chain")" = \
    "$(fp_of_pem < "$PKI/expired.pem")" ]'

# --ssl-no-verify lets the expired certificate through: the report says
# verification was disabled, and why it would have failed.
s_server_start noverify -cert "$PKI/expired.pem" -key "$PKI/expired.key" &&
to_s_server noverify --ssl-trustfile "$PKI/ca.pem" --ssl-no-verify \
    --ssl-info=json
check "--ssl-no-verify: exit status 0" status_is 0 "$CST"
check "--ssl-no-verify: disabled, and why it would have failed" eval \
    'json_lines "$T/noverify.cerr" "$T/noverify.j" &&
    json_true "$T/noverify.j" "o[\"result\"] == \"ok\" and
    o[\"verify\"][\"result\"] == \"disabled\" and
    o[\"verify\"][\"reason\"] == \"certificate has expired\""'

# A peer that does not speak TLS: status 4, and an object.
printf 'HTTP/1.0 400 Bad Request\r\n\r\n' > "$T/plain.in"
listen_tlsnc "$T/plain.lout" "$T/plain.lerr" "$T/plain.in" -l 127.0.0.1 0
client "$T/plain.cout" "$T/plain.cerr" /dev/null --ssl --ssl-info=json \
    --ssl-trustfile "$PKI/ca.pem" 127.0.0.1 "$LPORT"
listener_status
check "not TLS: exit status 4" status_is 4 "$CST"
check "not TLS: an object with the failure and nothing negotiated" eval \
    'json_lines "$T/plain.cerr" "$T/plain.j" &&
    json_true "$T/plain.j" "o[\"result\"] == \"failed\" and
    o[\"status\"] == 4 and o[\"version\"] is None and
    o[\"chain\"] == [] and o[\"verify\"][\"result\"] == \"none\""'

# --ssl-save-chain: the chain as sent, leaf first.
s_server_start save &&
to_s_server save --ssl-trustfile "$PKI/ca.pem" --ssl-save-chain \
    "$T/save.pem"
check "--ssl-save-chain: exit status 0" status_is 0 "$CST"
check "--ssl-save-chain: the leaf first" eval \
    '[ "$(fp_of_pem < "$T/save.pem")" = "$LEAF_FP" ]'
awk '/BEGIN CERT/ { n++ } n == 2' "$T/save.pem" > "$T/save.2.pem"
check "--ssl-save-chain: then the intermediate, and no more" eval \
    '[ "$(fp_of_pem < "$T/save.2.pem")" = "$INT_FP" ] &&
    [ "$(grep -c "BEGIN CERTIFICATE" "$T/save.pem")" = 2 ]'

# --- The key log, against s_server's own of the same connection.

# keylog_same TAG: tlsnc's key log holds exactly s_server's lines.
keylog_same() {
	sort "$T/$1.ckl" > "$T/$1.ckl.s"
	sort "$T/$1.skl" | grep -v '^#' > "$T/$1.skl.s"
	if [ -s "$T/$1.ckl.s" ] && cmp -s "$T/$1.ckl.s" "$T/$1.skl.s"; then
		return 0
	fi
	diag "tlsnc's key log against s_server's:"
	diff "$T/$1.ckl.s" "$T/$1.skl.s" | sed 's/^/#   /' | head -n 20
	return 1
}

s_server_start kl13 -keylogfile "$T/kl13.skl" &&
( umask 022; to_s_server kl13 --ssl-trustfile "$PKI/ca.pem" \
    --ssl-keylog "$T/kl13.ckl"; exit "$CST" )
CST=$?
check "key log TLS 1.3: exit status 0" status_is 0 "$CST"
check "key log TLS 1.3: the traffic secrets, for the client random" eval \
    'grep -q "^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]\{64\} " \
    "$T/kl13.ckl" && grep -q "^SERVER_TRAFFIC_SECRET_0 " "$T/kl13.ckl" &&
    [ "$(cut -d" " -f2 "$T/kl13.ckl" | sort -u | wc -l)" = 1 ]'
check "key log TLS 1.3: the same lines as s_server's" keylog_same kl13
check "key log: mode 0600" eval '[ "$(stat -c %a "$T/kl13.ckl")" = 600 ]'
check "key log: the warning that it is secret" has_line "$T/kl13.cerr" \
    "tlsnc: warning: --ssl-keylog $T/kl13.ckl holds the session secrets: whoever reads it can decrypt the traffic"

s_server_start kl12 -tls1_2 -keylogfile "$T/kl12.skl" &&
( umask 000; SSLKEYLOGFILE=$T/kl12.ckl; export SSLKEYLOGFILE;
    to_s_server kl12 --ssl-trustfile "$PKI/ca.pem"; exit "$CST" )
CST=$?
check "SSLKEYLOGFILE, TLS 1.2: exit status 0" status_is 0 "$CST"
check "SSLKEYLOGFILE, TLS 1.2: one CLIENT_RANDOM line" eval \
    '[ "$(grep -c "^CLIENT_RANDOM [0-9a-f]\{64\} [0-9a-f]\{96\}$" \
    "$T/kl12.ckl")" = 1 ]'
check "SSLKEYLOGFILE, TLS 1.2: the same line as s_server's" keylog_same kl12
check "SSLKEYLOGFILE: mode 0600 under umask 000" eval \
    '[ "$(stat -c %a "$T/kl12.ckl")" = 600 ]'
check "SSLKEYLOGFILE: the warning names it" has_text "$T/kl12.cerr" \
    "tlsnc: warning: SSLKEYLOGFILE $T/kl12.ckl holds the session secrets"

# A key log on a FIFO: the lines go through, and its mode is left alone.
mkfifo -m 644 "$T/kl.fifo"
cat "$T/kl.fifo" > "$T/kl.fifo.out" &
BG_PIDS="$BG_PIDS $!"
s_server_start fifo &&
to_s_server fifo --ssl-trustfile "$PKI/ca.pem" --ssl-keylog "$T/kl.fifo"
check "key log on a FIFO: exit status 0" status_is 0 "$CST"
check "key log on a FIFO: the lines went through" \
    grep -q "^CLIENT_TRAFFIC_SECRET_0 " "$T/kl.fifo.out"
fifo_ok=no
if [ "$(stat -c %a "$T/kl.fifo")" = 644 ]; then
	fifo_ok=yes
	ok "key log on a FIFO: its mode is left alone"
else
	not_ok "key log on a FIFO: its mode is left alone"
fi

# A key log that cannot be written: a warning at the end.  (Only once a
# device's mode is known to be left alone: /dev/full is the machine's.)
if [ "$fifo_ok" = yes ]; then
	s_server_start full &&
	to_s_server full --ssl-trustfile "$PKI/ca.pem" --ssl-keylog /dev/full
	check "key log on /dev/full: exit status 0" status_is 0 "$CST"
	check "key log on /dev/full: the warning that writing failed" \
	    has_line "$T/full.cerr" "tlsnc: warning: writing the key log failed (No space left on device): the sessions after that are not in it"
else
	skip 2 "a device's mode might be changed"
fi

# --- The listener's report: what the client offered.

# s_client_to TAG S_CLIENT-ARGS...: openssl s_client (not -quiet, so that it
# ends at EOF on its stdin) against the listener on LPORT.
s_client_to() {
	_d=$T/$1
	shift
	run_limited 30 openssl s_client -connect "127.0.0.1:$LPORT" "$@" \
	    < /dev/null > "$_d.scout" 2> "$_d.scerr"
}

listen_tlsnc "$T/offer.lout" "$T/offer.lerr" /dev/null -l --ssl \
    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --ssl-info=json 127.0.0.1 0
s_client_to offer -alpn x,y -servername z.example -groups X25519:P-384 \
    -ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256 \
    -sigalgs ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256
listener_status
check "offered (s_client): listener exit status 0" status_is 0 "$LST"
check "offered (s_client): one object, valid JSON" eval \
    'json_lines "$T/offer.lerr" "$T/offer.j" &&
    json_true "$T/offer.j" "len(objs) == 1 and o[\"side\"] == \"server\""'
check "offered (s_client): ALPN, SNI, groups and signature algorithms" \
    json_true "$T/offer.j" 'o["offered"]["alpn"] == ["x", "y"] and
    o["offered"]["sni"] == "z.example" and o["sni"] == "z.example" and
    o["offered"]["groups"] == ["x25519", "secp384r1"] and
    o["offered"]["signature_algorithms"] == ["ecdsa_secp256r1_sha256",
    "rsa_pss_rsae_sha256"] and o["offered"]["malformed"] is False and
    o["offered"]["truncated"] is False'
check "offered (s_client): versions and the TLS 1.3 suites asked for" \
    json_true "$T/offer.j" 'o["offered"]["versions"][0] == "TLSv1.3" and
    o["offered"]["ciphers"][:2] == ["TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256"] and
    "TLS_AES_256_GCM_SHA384" not in o["offered"]["ciphers"] and
    o["cipher"] == "TLS_AES_128_GCM_SHA256" and o["group"] == "x25519"'
check "offered (s_client): no ticket, no PSK, no certificate" json_true \
    "$T/offer.j" 'o["offered"]["session_ticket"] is False and
    o["offered"]["psk"] is False and o["chain"] == [] and
    o["verify"]["result"] == "none"'

# A client that offers only TLS 1.1: the handshake fails (status 4), and
# the object still says what it offered.
listen_tlsnc "$T/old.lout" "$T/old.lerr" /dev/null -l --ssl \
    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --ssl-info=json 127.0.0.1 0
s_client_to old -tls1_1 -cipher DEFAULT@SECLEVEL=0 -servername old.example
listener_status
check "offered TLS 1.1 only: listener exit status 4" status_is 4 "$LST"
check "offered TLS 1.1 only: a failed object with the offer" eval \
    'json_lines "$T/old.lerr" "$T/old.j" && json_true "$T/old.j" \
    "len(objs) == 1 and o[\"result\"] == \"failed\" and
    o[\"status\"] == 4 and o[\"version\"] is None and
    o[\"offered\"][\"versions\"] == [\"TLSv1.1\"] and
    o[\"offered\"][\"sni\"] == \"old.example\""'

# A client that never sends its ClientHello: the -w timeout (status 3),
# and an object that says so.
listen_tlsnc "$T/slow.lout" "$T/slow.lerr" /dev/null -l --ssl -w 0.5 \
    --ssl-info=json 127.0.0.1 0
hold "$T/slow.fifo"
"$TLSNC" 127.0.0.1 "$LPORT" < "$T/slow.fifo" > /dev/null 2>&1 &
BG_PIDS="$BG_PIDS $!"
listener_status
unhold
check "no ClientHello: listener exit status 3" status_is 3 "$LST"
check "no ClientHello: a failed object with the timeout" eval \
    'json_lines "$T/slow.lerr" "$T/slow.j" && json_true "$T/slow.j" \
    "o[\"result\"] == \"failed\" and o[\"status\"] == 3 and
    o[\"offered\"] is None and o[\"handshake_ms\"] >= 400"'

# -k: one object per line, per connection, failures included; a TLS 1.2
# session ticket is seen on the second connection.
listen_tlsnc "$T/keep.lout" "$T/keep.lerr" /dev/null -l -k --ssl \
    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --ssl-info=json --ssl-info-file "$T/keep.j" 127.0.0.1 0
s_client_to keep1 -tls1_2 -servername one.example -sess_out "$T/keep.sess"
s_client_to keep2 -tls1_2 -servername two.example -sess_in "$T/keep.sess"
printf 'GET / HTTP/1.0\r\n\r\n' | run_limited 30 "$TLSNC" 127.0.0.1 \
    "$LPORT" > /dev/null 2>&1
wait_for "$T/keep.lerr" "Closed 127.0.0.1" > /dev/null
i=0
while [ "$(grep -c '^{' "$T/keep.j" 2>/dev/null)" -lt 3 ] && [ "$i" -lt 500 ]
do
	sleep 0.02
	i=$((i + 1))
done
kill -TERM "$LPID"
listener_status
check "-k: the listener ends with status 0 at SIGTERM" status_is 0 "$LST"
check "-k: three objects, one per line, each valid JSON" json_true \
    "$T/keep.j" 'len(objs) == 3 and
    len(open(env["T"] + "/keep.j").read().splitlines()) == 3'
check "-k: each connection's SNI, in order" json_true "$T/keep.j" \
    'objs[0]["sni"] == "one.example" and objs[1]["sni"] == "two.example"
    and objs[0]["version"] == "TLSv1.2"'
check "-k: the second connection offered the ticket of the first" \
    json_true "$T/keep.j" 'objs[0]["offered"]["session_ticket"] is False
    and objs[1]["offered"]["session_ticket"] is True and
    objs[0]["resumed"] is False and objs[1]["resumed"] is True'
check "-k: a client that spoke no TLS gets a failed object" json_true \
    "$T/keep.j" 'objs[2]["result"] == "failed" and objs[2]["status"] == 4
    and objs[2]["version"] is None and objs[2]["offered"] is None'

# --- gnutls peers.

# only_aes128_gcm ERR: the offered suites of a text report are AES-128-GCM
# ones (and the renegotiation SCSV), and one of them was chosen.
only_aes128_gcm() {
	sed -n 's/^tlsnc:     ciphers: //p' "$1" | tr ',' '\n' |
	    tr -d ' ' > "$1.suites"
	if [ -s "$1.suites" ] && ! grep -v -e AES128-GCM \
	    -e TLS_EMPTY_RENEGOTIATION_INFO_SCSV "$1.suites" > /dev/null &&
	    has_line "$1" "tlsnc:   cipher: ECDHE-ECDSA-AES128-GCM-SHA256"; then
		return 0
	fi
	diag_file "$1.suites"
	return 1
}

if command -v gnutls-serv > /dev/null && command -v gnutls-cli > /dev/null
then
	# tlsnc's report of gnutls-serv held to TLS 1.2 and ChaCha20.
	gnutls-serv --echo -q -p 0 --x509certfile "$PKI/server.pem" \
	    --x509keyfile "$PKI/server.key" --priority \
	    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305" \
	    > /dev/null 2> "$T/gs.gerr" &
	GPID=$!
	BG_PIDS="$BG_PIDS $GPID"
	GPORT=$(port_of_pid "$GPID" '^0\.0\.0\.0:')
	client "$T/gs.cout" "$T/gs.cerr" /dev/null --ssl --ssl-trustfile \
	    "$PKI/ca.pem" --ssl-info=json localhost "$GPORT"
	kill "$GPID" 2> /dev/null
	check "gnutls-serv: exit status 0" status_is 0 "$CST"
	check "gnutls-serv: the version and cipher it was held to" eval \
	    'json_lines "$T/gs.cerr" "$T/gs.j" && json_true "$T/gs.j" \
	    "o[\"version\"] == \"TLSv1.2\" and
	    o[\"cipher\"] == \"ECDHE-ECDSA-CHACHA20-POLY1305\" and
	    o[\"chain\"][0][\"sha256\"] == env[\"LEAF_FP\"]"'

	# What gnutls-cli offered to the listener, told what to offer.
	GC_ALGS="-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:-CIPHER-ALL:+AES-128-GCM"
	listen_tlsnc "$T/gc.lout" "$T/gc.lerr" /dev/null -l --ssl \
	    --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
	    --ssl-info 127.0.0.1 0
	run_limited 30 gnutls-cli --x509cafile "$PKI/ca.pem" --alpn=h2 \
	    --alpn=http/1.1 --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:$GC_ALGS" \
	    -p "$LPORT" localhost < /dev/null > "$T/gc.out" 2> "$T/gc.err"
	# How the session then ends is a race between the two close_notify
	# (gnutls.sh arranges it); only the handshake matters here.
	listener_status
	check "gnutls-cli: the handshake completed" \
	    has_line "$T/gc.lerr" "tlsnc:   result: ok"
	check "gnutls-cli: the text report of what it offered" eval \
	    'has_line "$T/gc.lerr" "tlsnc:     alpn: h2, http/1.1" &&
	    has_line "$T/gc.lerr" "tlsnc:     versions: TLSv1.2" &&
	    has_line "$T/gc.lerr" "tlsnc:     sni: localhost" &&
	    has_line "$T/gc.lerr" "tlsnc:   side: server" &&
	    has_line "$T/gc.lerr" "tlsnc:   version: TLSv1.2" &&
	    has_line "$T/gc.lerr" "tlsnc:     groups: secp256r1, x25519" &&
	    has_line "$T/gc.lerr" "tlsnc:     ocsp_request: yes"'
	check "gnutls-cli: only the AES-128-GCM suites it was told to offer" \
	    only_aes128_gcm "$T/gc.lerr"
else
	skip 5 "gnutls-serv or gnutls-cli is not installed"
fi

# --- Bad values.

"$TLSNC" --ssl --ssl-info=xml localhost 1 > /dev/null 2> "$T/bad1.err"
check "--ssl-info=xml: status 2" status_is 2 $?
check "--ssl-info=xml: the message names it" has_line "$T/bad1.err" \
    "tlsnc: --ssl-info: unknown format 'xml' (text or json)"
"$TLSNC" --ssl-info localhost 1 > /dev/null 2> "$T/bad2.err"
check "--ssl-info without --ssl: status 2" status_is 2 $?
"$TLSNC" --ssl --ssl-keylog "$T/no/such/dir" localhost 1 > /dev/null \
    2> "$T/bad3.err"
check "--ssl-keylog in a missing directory: status 2" status_is 2 $?
check "--ssl-keylog in a missing directory: the message names it" \
    has_line "$T/bad3.err" \
    "tlsnc: --ssl-keylog $T/no/such/dir: No such file or directory"
"$TLSNC" --ssl --ssl-info-file "$T/no/such/dir" localhost 1 > /dev/null \
    2> "$T/bad4.err"
check "--ssl-info-file in a missing directory: status 2" status_is 2 $?

done_testing

#!/bin/sh
# -z --ssl: a handshake probe on each port of a list, against real peers on
# loopback: a tlsnc --ssl listener and an openssl s_server held to TLS 1.2
# (the good ports), a tlsnc listener with the test PKI's expired
# certificate, a plain tlsnc listener, a port whose listener has exited,
# and peers that accept but never answer.  Checked: the exit status of each
# mix (the worst wins), the -v summaries and the -vv lines in port order,
# the JSON objects (parsed with python3) against what each peer was set up
# with, the clean close the peers saw, the parallel probes, the options
# that apply to a probe, and the usage errors.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

H=127.0.0.1

if ! pki; then
	echo "Bail out! cannot make the test PKI"
	exit 1
fi
if ! command -v python3 > /dev/null; then
	skip 1 "python3 is not installed"
	done_testing
fi

# days_left PEM: whole days from now until the certificate's notAfter,
# rounded down (negative once it has passed).
days_left() {
	openssl x509 -noout -enddate < "$1" | sed 's/^notAfter=//' |
	    python3 -c 'import calendar, math, sys, time
t = calendar.timegm(time.strptime(sys.stdin.read().strip(),
    "%b %d %H:%M:%S %Y GMT"))
print(math.floor((t - time.time()) / 86400))'
}

# tls_port TAG CERT KEY [ARGS...]: a tlsnc --ssl -k listener; sets PORT.
tls_port() {
	_tag=$1 _cert=$2 _key=$3
	shift 3
	listen_tlsnc "$T/$_tag.lo" "$T/$_tag.le" /dev/null -k -l --ssl \
	    --ssl-cert "$_cert" --ssl-key "$_key" "$@" "$H" 0 || return 1
	PORT=$LPORT
}

# closed_port: a port a listener held and has given up; sets PORT.
closed_port() {
	listen_tlsnc "$T/closed.lo" "$T/closed.le" /dev/null -l "$H" 0 ||
	    return 1
	PORT=$LPORT
	kill "$LPID" 2>/dev/null
	wait "$LPID" 2>/dev/null
	return 0
}

# s_server on port 0 held to TLS 1.2, serving one client after another,
# its stdin held open (at EOF it would quit); sets SPORT.
s_server_start() {
	hold "$T/ss.fifo"
	openssl s_server -accept 0 -tls1_2 -cert "$PKI/server.pem" \
	    -key "$PKI/server.key" -cert_chain "$PKI/int.pem" -alpn h2 \
	    < "$T/ss.fifo" > "$T/ss.out" 2> "$T/ss.err" &
	SPID=$!
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID")
}

tls_port good "$PKI/server.pem" "$PKI/server.key" \
    --ssl-cert "$PKI/sni.pem" --ssl-key "$PKI/sni.key" && GOOD=$PORT
tls_port expired "$PKI/expired.pem" "$PKI/expired.key" && EXPIRED=$PORT
listen_tlsnc "$T/plain.lo" "$T/plain.le" /dev/null -k -l "$H" 0 &&
    PLAIN=$LPORT
closed_port && CLOSED=$PORT
s_server_start
if [ -z "${GOOD:-}" ] || [ -z "${EXPIRED:-}" ] || [ -z "${PLAIN:-}" ] ||
    [ -z "${CLOSED:-}" ] || [ -z "${SPORT:-}" ]; then
	not_ok "the peers for the probes"
	diag_file "$T/ss.err"
	done_testing
fi
GOOD_DAYS=$(days_left "$PKI/server.pem")
EXPIRED_DAYS=$(days_left "$PKI/expired.pem")
export GOOD EXPIRED PLAIN CLOSED SPORT GOOD_DAYS EXPIRED_DAYS
TRUST="--ssl-trustfile $PKI/ca.pem"

# probe NAME WANT-STATUS ARGS...: run "tlsnc -z --ssl ARGS" (stdin
# /dev/null); its status must be WANT-STATUS and stdout empty.  Its stderr
# is left in $T/err.
probe() {
	_name=$1 _st=$2
	shift 2
	# shellcheck disable=SC2086
	run_limited 60 "$TLSNC" -z --ssl $TRUST "$@" < /dev/null \
	    > "$T/out" 2> "$T/err"
	_rc=$?
	if [ "$_rc" -eq "$_st" ] && [ ! -s "$T/out" ]; then
		ok "$_name: exit status $_st"
		return
	fi
	not_ok "$_name: exit status $_st"
	diag "status $_rc; stderr:"
	diag_file "$T/err"
	diag "stdout:"
	diag_file "$T/out"
}

# Expected lines, tagged with their port for sorting.
svc() {
	_sv=$(getent services "$1/tcp" | awk '{ print $1 }')
	echo "${_sv:-*}"
}
good_line() {	# good_line PORT VERSION CIPHER
	echo "$1 tlsnc: $H port $1 [tcp/$(svc "$1")]: $2, $3, subject" \
	    "CN=localhost, $GOOD_DAYS days left, verification ok (trusted" \
	    "chain, name $H)"
}
expired_line() {
	echo "$EXPIRED tlsnc: $H port $EXPIRED [tcp/$(svc "$EXPIRED")]:" \
	    "TLSv1.3, TLS_AES_256_GCM_SHA384, subject CN=localhost," \
	    "$EXPIRED_DAYS days left, certificate verification failed:" \
	    "certificate has expired"
}
plain_line() {
	echo "$PLAIN tlsnc: $H port $PLAIN [tcp/$(svc "$PLAIN")]: TLS" \
	    "handshake: the peer closed the connection (is it speaking TLS?)"
}
closed_line() {
	echo "$CLOSED tlsnc: connect to $H port $CLOSED (tcp) failed:" \
	    "Connection refused"
}
S_CIPHER=ECDHE-ECDSA-AES256-GCM-SHA384

# same_lines WANT: $T/err is exactly these lines, sorted by their port tag.
same_lines() {
	sort -n "$1" | cut -d' ' -f2- > "$1.sorted"
	if cmp -s "$1.sorted" "$T/err"; then
		return 0
	fi
	diag "wanted:"
	diag_file "$1.sorted"
	diag "got:"
	diag_file "$T/err"
	return 1
}

# --- Exit statuses and the summaries.

probe "two good ports" 0 -v "$H" "$SPORT,$GOOD"
{
	good_line "$GOOD" TLSv1.3 TLS_AES_256_GCM_SHA384
	good_line "$SPORT" TLSv1.2 "$S_CIPHER"
} > "$T/want.good"
check "two good ports: one summary each under -v, in port order" \
    same_lines "$T/want.good"
probe "two good ports without -v" 0 "$H" "$GOOD,$SPORT"
check "two good ports without -v: nothing printed" test ! -s "$T/err"

probe "good and closed ports" 0 -vv "$H" "$CLOSED,$GOOD,$SPORT"
{ cat "$T/want.good"; closed_line; } > "$T/want.closed"
check "good and closed ports: -vv lines in port order" \
    same_lines "$T/want.closed"
probe "good and closed ports, one probe at a time" 0 -vv \
    --scan-concurrency 1 "$H" "$SPORT" "$GOOD" "$CLOSED"
check "one probe at a time: the same lines" same_lines "$T/want.closed"

probe "only a closed port" 1 -v "$H" "$CLOSED"
check "only a closed port: nothing under -v" test ! -s "$T/err"

probe "an expired certificate among good ports" 5 "$H" \
    "$GOOD,$EXPIRED,$SPORT"
expired_line > "$T/want.expired"
check "expired: its line is printed even without -v" \
    same_lines "$T/want.expired"

probe "a plain port among good ones" 4 "$H" "$GOOD,$PLAIN"
plain_line > "$T/want.plain"
check "plain: its line is printed even without -v" \
    same_lines "$T/want.plain"

probe "every kind of port: the worst (5) wins" 5 -vv "$H" \
    "$PLAIN,$CLOSED,$EXPIRED,$GOOD,$SPORT"
{
	cat "$T/want.closed"
	expired_line
	plain_line
} > "$T/want.all"
check "every kind of port: -vv lines in port order" same_lines "$T/want.all"
probe "plain and closed ports: 4" 4 "$H" "$PLAIN,$CLOSED"

# --- JSON: one object per port, checked against what each peer was given.

probe "JSON to a file" 5 --ssl-info=json --ssl-info-file "$T/all.json" \
    "$H" "$PLAIN,$CLOSED,$EXPIRED,$GOOD,$SPORT"
check "JSON: one object per port, in port order" json_true "$T/all.json" \
    '[o["port"] for o in objs] == sorted(int(env[k]) for k in
    ("PLAIN", "CLOSED", "EXPIRED", "GOOD", "SPORT"))'
check "JSON: the tlsnc port" json_true "$T/all.json" \
    'by_port[int(env["GOOD"])]["open"] is True and
    by_port[int(env["GOOD"])]["result"] == "ok" and
    by_port[int(env["GOOD"])]["status"] == 0 and
    by_port[int(env["GOOD"])]["version"] == "TLSv1.3" and
    by_port[int(env["GOOD"])]["peer"] == "127.0.0.1:" + env["GOOD"] and
    by_port[int(env["GOOD"])]["verify"]["result"] == "ok" and
    by_port[int(env["GOOD"])]["chain"][0]["subject"] == "CN=localhost" and
    by_port[int(env["GOOD"])]["chain"][0]["days_left"] ==
    int(env["GOOD_DAYS"])'
check "JSON: the s_server port, held to TLS 1.2" json_true "$T/all.json" \
    'by_port[int(env["SPORT"])]["result"] == "ok" and
    by_port[int(env["SPORT"])]["version"] == "TLSv1.2" and
    by_port[int(env["SPORT"])]["cipher"].startswith("ECDHE-ECDSA-") and
    by_port[int(env["SPORT"])]["chain"][1]["subject"] ==
    "CN=tlsnc test intermediate CA"'
check "JSON: the expired port" json_true "$T/all.json" \
    'by_port[int(env["EXPIRED"])]["open"] is True and
    by_port[int(env["EXPIRED"])]["result"] == "failed" and
    by_port[int(env["EXPIRED"])]["status"] == 5 and
    by_port[int(env["EXPIRED"])]["verify"]["code"] == 10 and
    by_port[int(env["EXPIRED"])]["verify"]["reason"] ==
    "certificate has expired" and
    by_port[int(env["EXPIRED"])]["chain"][0]["days_left"] ==
    int(env["EXPIRED_DAYS"]) < 0'
check "JSON: the plain port" json_true "$T/all.json" \
    'by_port[int(env["PLAIN"])]["open"] is True and
    by_port[int(env["PLAIN"])]["status"] == 4 and
    "speaking TLS" in by_port[int(env["PLAIN"])]["error"] and
    by_port[int(env["PLAIN"])]["chain"] == []'
check "JSON: the closed port" json_true "$T/all.json" \
    'by_port[int(env["CLOSED"])] == {"side": "client",
    "peer": "127.0.0.1:" + env["CLOSED"], "port": int(env["CLOSED"]),
    "open": False, "result": "closed", "status": 1,
    "error": "Connection refused"}'
{ expired_line; plain_line; } > "$T/want.ep"
check "JSON to a file: stderr has the failures' lines only" \
    same_lines "$T/want.ep"

probe "JSON on stderr" 0 -v --ssl-info=json "$H" "$GOOD,$SPORT"
check "JSON on stderr: each summary, then its object" eval \
    'grep -v "^{" "$T/err" > "$T/err.lines" &&
    grep "^{" "$T/err" > "$T/err.json" &&
    [ "$(grep -c . "$T/err")" -eq 4 ] &&
    json_true "$T/err.json" "len(objs) == 2 and
    all(o[\"result\"] == \"ok\" for o in objs)"'

probe "text reports on stderr" 0 --ssl-info "$H" "$CLOSED,$GOOD"
check "text reports: one per port, in port order" eval \
    '[ "$(grep "^tlsnc:   port: " "$T/err" | tr -d -c "0-9\n" |
    tr "\n" " ")" = "$(printf "%s\n" "$CLOSED" "$GOOD" | sort -n |
    tr "\n" " ")" ]'
check "text reports: the open port's handshake" has_line "$T/err" \
    "tlsnc:   version: TLSv1.3"
check "text reports: the closed port" has_line "$T/err" \
    "tlsnc:   result: closed"

# --- A probe closes cleanly: close_notify, and no reset.

check "the tlsnc peers saw no truncation" eval \
    '! grep -E "close_notify|reset" "$T/good.le" "$T/expired.le"'
check "the tlsnc peer saw the probes come and go" eval \
    '[ "$(grep -c "^tlsnc: Closed" "$T/good.le")" -ge 8 ]'
check "s_server: each probe that handshook sent close_notify" eval \
    '[ "$(grep -c "^DONE" "$T/ss.out")" -eq \
    "$(grep -c "^CIPHER is" "$T/ss.out")" ] &&
    [ "$(grep -c "^DONE" "$T/ss.out")" -ge 6 ]'

# --- The options of a connect apply to a probe.

probe "--ssl-servername picks the listener's other certificate" 0 -v \
    --ssl-servername other.example "$H" "$GOOD"
check "--ssl-servername: the other subject, verified for that name" \
    has_text "$T/err" "subject CN=other.example, "
probe "--ssl-verify-name with a name the certificate lacks" 5 \
    --ssl-verify-name wrong.example "$H" "$GOOD"
check "--ssl-verify-name: a name mismatch" has_text "$T/err" \
    "name mismatch: the certificate is not valid for wrong.example"
PIN=$(fp_of_pem < "$PKI/server.pem")
TRUST_SAVED=$TRUST
TRUST=""
probe "--ssl-pin of the certificate" 0 -v --ssl-pin "$PIN" "$H" "$GOOD"
check "--ssl-pin: pinned" has_text "$T/err" \
    "verification ok (pinned certificate)"
probe "no trust file: the test CA is unknown" 5 "$H" "$GOOD"
check "no trust file: unknown CA" has_text "$T/err" "unknown CA"
TRUST=$TRUST_SAVED
probe "--ssl-min-version tls1.3 against a TLS 1.2 server" 4 \
    --ssl-min-version tls1.3 "$H" "$SPORT,$GOOD"
probe "--ssl-max-version tls1.2" 0 -v --ssl-max-version tls1.2 "$H" "$GOOD"
check "--ssl-max-version: TLS 1.2" has_text "$T/err" "]: TLSv1.2, "
probe "--ssl-alpn h2" 0 --ssl-alpn h2 --ssl-info=json \
    --ssl-info-file "$T/alpn.json" "$H" "$SPORT"
check "--ssl-alpn: the server chose h2" json_true "$T/alpn.json" \
    'objs[0]["alpn"] == "h2"'
probe "--ssl-alpn-required with no overlap" 4 --ssl-alpn foo \
    --ssl-alpn-required "$H" "$SPORT"
probe "--no-sni" 0 --no-sni --ssl-info=json --ssl-info-file \
    "$T/nosni.json" localhost "$SPORT"
check "--no-sni: no SNI sent" json_true "$T/nosni.json" \
    'objs[0]["sni"] is None'
probe "SNI by default" 0 --ssl-info=json --ssl-info-file \
    "$T/sni.json" localhost "$SPORT"
check "SNI by default: localhost" json_true "$T/sni.json" \
    'objs[0]["sni"] == "localhost"'

# A listener that requires a client certificate refuses a TLS 1.3 client
# only after the client's side of the handshake is over: the probe hears
# of it while it closes, and fails all the same.
tls_port mtls "$PKI/server.pem" "$PKI/server.key" --ssl-client-ca \
    "$PKI/ca.pem" --ssl-require-client-cert && MTLS=$PORT
probe "a client certificate required, and none given" 5 "$H" "${MTLS:-1}"
check "no client certificate: the reason" has_text "$T/err" \
    "the peer requires a client certificate (--ssl-cert)"
probe "a client certificate given with --ssl-cert" 0 --ssl-cert \
    "$PKI/client.pem" --ssl-key "$PKI/client.key" "$H" "${MTLS:-1}"

# --- Parallel probes.

# 20 TLS listeners, probed at once: 20 objects, each a completed handshake.
i=0 PORTS=""
while [ "$i" -lt 20 ]; do
	tls_port "p$i" "$PKI/server.pem" "$PKI/server.key" &&
	    PORTS="$PORTS${PORTS:+,}$PORT"
	i=$((i + 1))
done
export PORTS
probe "20 TLS ports at once" 0 --ssl-info=json --ssl-info-file \
    "$T/twenty.json" "$H" "$PORTS"
check "20 TLS ports: 20 objects, one per port, all ok" json_true \
    "$T/twenty.json" 'len(objs) == 20 and sorted(by_port) ==
    sorted(int(p) for p in env["PORTS"].split(",")) and
    all(o["result"] == "ok" and o["version"] == "TLSv1.3" for o in objs)'

# Four peers that accept and never answer: each probe times out at -w, and
# they wait at the same time, so the scan takes about -w, not four times it.
python3 -c '
import socket, sys, time
socks = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    socks.append(s)
print(",".join(str(s.getsockname()[1]) for s in socks), flush=True)
time.sleep(120)
' > "$T/silent.ports" &
BG_PIDS="$BG_PIDS $!"
wait_for "$T/silent.ports" "[0-9]"
SILENT=$(cat "$T/silent.ports")
t0=$(date +%s)
probe "four silent peers: a handshake timeout" 3 -w 2 "$H" "$SILENT"
t1=$(date +%s)
check "four silent peers: each line says it timed out" eval \
    '[ "$(grep -c "]: TLS handshake timed out$" "$T/err")" -eq 4 ]'
check "four silent peers: probed in parallel ($((t1 - t0)) s for -w 2)" \
    test $((t1 - t0)) -lt 6
probe "a silent peer and an expired one: 5 over 3" 5 -w 2 "$H" \
    "${SILENT%%,*},$EXPIRED"

# --- Usage errors.

probe "-z --ssl with --ssl-save-chain" 2 --ssl-save-chain "$T/c.pem" \
    "$H" "$GOOD"
check "--ssl-save-chain: the message" has_line "$T/err" \
    "tlsnc: cannot use -z and --ssl-save-chain together: a scan makes a session per port"
probe "-z --ssl with --ssl-sess-out" 2 --ssl-sess-out "$T/s.pem" \
    "$H" "$GOOD"
probe "-z with --starttls" 2 --starttls smtp "$H" "$GOOD"
check "--starttls: the message" has_line "$T/err" \
    "tlsnc: cannot use -z and --starttls together"

done_testing

#!/bin/sh
# Certificate verification by the client, against the test PKI served by a
# tlsnc listener and by openssl s_server: chains, dates, names, IP
# addresses, SNI, pinning, --ssl-no-verify, and client certificates.

. "$TOP_SRCDIR/tests/integration/lib.sh"

# The "system store" case must really use the system store.
unset SSL_CERT_FILE SSL_CERT_DIR

pki || { not_ok "make the test PKI"; done_testing; }
P=$PKI
FAILED="tlsnc: certificate verification failed:"
UNKNOWN_CA="$FAILED unknown CA: the issuer is not trusted"

printf 'hello from the server\n' > "$T/hello"
head -c 262144 /dev/urandom > "$T/bulk"
printf 'hello from the client %s\n' "$$" > "$T/line"

# fp_of PEM: the first certificate's fingerprint, as openssl computes it.
fp_of() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/^[^=]*=//; s/://g' | tr 'A-F' 'a-f' | sed 's/^/SHA256:/'
}

# line_with FILE TEXT...: some line of FILE contains every TEXT.
line_with() {
	_f=$1
	shift
	cp "$_f" "$T/lw"
	for _t in "$@"; do
		grep -F -- "$_t" "$T/lw" > "$T/lw.next"
		mv "$T/lw.next" "$T/lw"
	done
	if [ -s "$T/lw" ]; then
		return 0
	fi
	diag "expected a line with: $*"
	diag_file "$_f"
	return 1
}

# matches FILE ERE: some line of FILE matches the extended regex.
matches() {
	if grep -qE -- "$2" "$1"; then
		return 0
	fi
	diag "expected a line matching: $2"
	diag_file "$1"
	return 1
}

# is_empty FILE
is_empty() {
	if [ ! -s "$1" ]; then
		return 0
	fi
	diag "$1 should be empty:"
	diag_file "$1"
	return 1
}

# not_in_file FILE TEXT: FILE does not contain TEXT.
not_in_file() {
	if ! grep -qF -- "$2" "$1"; then
		return 0
	fi
	diag "unexpected text: $2"
	diag_file "$1"
	return 1
}

# serve_tlsnc NAME: a tlsnc listener presenting NAME.pem that sends the
# hello and writes what it receives to $T/l.out.  Sets LPID, LPORT.
serve_tlsnc() {
	listen_tlsnc "$T/l.out" "$T/l.err" "$T/hello" -l --ssl \
	    --ssl-cert "$P/$1.pem" --ssl-key "$P/$1.key" 0
}

# serve_openssl NAME ARGS...: openssl s_server presenting NAME.key and the
# first certificate of NAME.pem, for one connection.  s_server sends only
# that certificate, so the intermediate goes in -cert_chain (the untrusted
# certificate has none).  Its stdin is a FIFO that it holds open itself:
# at EOF on stdin it would drop the connection, and it must not stop before
# the client does.  Output in $T/s.out and $T/s.err; sets SPID and SPORT.
SN=0
serve_openssl() {
	_name=$1
	shift
	if [ "$_name" != untrusted ]; then
		set -- -cert_chain "$P/int.pem" "$@"
	fi
	SN=$((SN + 1))
	mkfifo "$T/sin.$SN"
	exec 3<> "$T/sin.$SN"
	cat "$T/hello" >&3
	openssl s_server -cert "$P/$_name.pem" -key "$P/$_name.key" \
	    -accept 0 -naccept 1 "$@" <&3 > "$T/s.out" 2> "$T/s.err" &
	SPID=$!
	exec 3<&-
	BG_PIDS="$BG_PIDS $SPID"
	SPORT=$(port_of_pid "$SPID")
	if [ -z "$SPORT" ]; then
		diag "openssl s_server did not start"
		diag_file "$T/s.err"
		return 1
	fi
}

# connect INPUT ARGS...: "tlsnc ARGS" with stdin from INPUT; output in
# $T/c.out and $T/c.err, status in CST.
connect() {
	_in=$1
	shift
	run_limited 30 "$TLSNC" "$@" < "$_in" > "$T/c.out" 2> "$T/c.err"
	CST=$?
}

# Wait for the peers to end; the status of a listener is not the point
# here, but it must not hang.
end_tlsnc() {
	wait_pid "$LPID" 20
	LST=$?
}

end_openssl() {
	wait_pid "$SPID" 20 > /dev/null
	cat "$T/s.out" "$T/s.err" > "$T/s.all"
}

# verify_fails DESC CAUSE PEM: the client refused the peer's certificate:
# status 5, the cause line, the peer's fingerprint, the way through, and
# nothing on stdout.
verify_fails() {
	_fp=$(fp_of "$3")
	check "$1: status 5" status_is 5 "$CST"
	check "$1: says why" has_line "$T/c.err" "$2"
	grep -F -- "$_fp" "$T/c.err" | grep -vF -- "--ssl-pin" |
	    grep -q '^tlsnc: '
	check "$1: shows the peer's fingerprint" [ $? -eq 0 ]
	check "$1: suggests --ssl-pin and --ssl-no-verify" \
	    line_with "$T/c.err" "tlsnc: " "--ssl-pin $_fp" "--ssl-no-verify"
	check "$1: nothing on stdout" is_empty "$T/c.out"
}

# passes_tlsnc DESC: status 0, and the data went both ways whole.
passes_tlsnc() {
	check "$1: status 0" status_is 0 "$CST"
	check "$1: the server's data arrived" same_data "$T/hello" "$T/c.out"
	end_tlsnc
	check "$1: the client's data arrived" same_data "$T/bulk" "$T/l.out"
}

# passes_openssl DESC: status 0, and the data went both ways.
passes_openssl() {
	check "$1: status 0" status_is 0 "$CST"
	check "$1: the server's data arrived" same_data "$T/hello" "$T/c.out"
	end_openssl
	check "$1: the client's data arrived" has_line "$T/s.all" "$(cat "$T/line")"
}

TRUST="--ssl-trustfile $P/ca.pem"

# --- Chains and dates
if serve_tlsnc server; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	passes_tlsnc "server.pem via tlsnc"
fi

if serve_openssl server; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST localhost "$SPORT"
	passes_openssl "server.pem via s_server"
fi

if serve_tlsnc expired; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "expired.pem via tlsnc" \
	    "$FAILED certificate has expired" "$P/expired.pem"
	end_tlsnc
	check "expired.pem via tlsnc: the listener hears of it" status_is 5 "$LST"
fi

if serve_openssl expired; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST localhost "$SPORT"
	verify_fails "expired.pem via s_server" \
	    "$FAILED certificate has expired" "$P/expired.pem"
	end_openssl
fi

if serve_tlsnc future; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "future.pem" "$FAILED certificate is not yet valid" \
	    "$P/future.pem"
	end_tlsnc
fi

# s_server sends untrusted.pem alone: its issuer may be an untrusted CA or
# a missing intermediate, and the message names it and both causes.
if serve_openssl untrusted; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST localhost "$SPORT"
	verify_fails "untrusted.pem" "$FAILED unknown CA: the issuer \
CN=untrusted CA is not trusted; if it is an intermediate CA, the server did \
not send its intermediate certificate" "$P/untrusted.pem"
	end_openssl
fi

# A server that sends only its own certificate, without the intermediate,
# while the client trusts the root.
serve_leafonly() {
	listen_tlsnc "$T/l.out" "$T/l.err" "$T/hello" -l --ssl \
	    --ssl-cert "$P/leafonly.pem" --ssl-key "$P/server.key" 0
}
MISSING="$FAILED unknown CA: the issuer CN=tlsnc test intermediate CA is \
not trusted; if it is an intermediate CA, the server did not send its \
intermediate certificate"
if serve_leafonly; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "no intermediate sent" "$MISSING" "$P/server.pem"
	end_tlsnc
fi

# The same server passes once the intermediate is in the trust file, and a
# server that sends its intermediate, under a root that is not trusted,
# lacks nothing: its issuer is untrusted.
cat "$P/ca.pem" "$P/int.pem" > "$T/ca-int.pem"
if serve_leafonly; then
	connect "$T/bulk" --ssl --ssl-trustfile "$T/ca-int.pem" localhost "$LPORT"
	passes_tlsnc "no intermediate sent, but trusted"
fi
if serve_tlsnc server; then
	connect "$T/bulk" --ssl --ssl-trustfile "$P/other-ca.pem" localhost \
	    "$LPORT"
	verify_fails "intermediate sent, root not trusted" "$UNKNOWN_CA" \
	    "$P/server.pem"
	end_tlsnc
fi

# The system store has never heard of the test root.
if serve_tlsnc server; then
	connect "$T/bulk" --ssl localhost "$LPORT"
	verify_fails "system store" "$UNKNOWN_CA" "$P/server.pem"
	end_tlsnc
fi

# A CA certificate is no server's certificate, even for the right name
# under a trusted CA.
if serve_tlsnc caleaf; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "caleaf.pem (CA:TRUE)" "$FAILED the certificate is a CA \
certificate (CA:TRUE), not a server's" "$P/caleaf.pem"
	end_tlsnc
fi

# --- Names
# Only the subjectAltName names a host: a CN of localhost is not used.
if serve_tlsnc nosan; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "nosan.pem" "$FAILED name mismatch: the certificate is \
not valid for localhost: it has no subjectAltName, and its subject CN is \
not used" "$P/nosan.pem"
	end_tlsnc
fi

if serve_tlsnc wrongname; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	verify_fails "wrongname.pem" "$FAILED name mismatch: the certificate \
is not valid for localhost" "$P/wrongname.pem"
	end_tlsnc
fi

if serve_tlsnc wrongname; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST --ssl-servername wrong.example \
	    localhost "$LPORT"
	passes_tlsnc "wrongname.pem, --ssl-servername wrong.example"
fi

# The name verified is the servername, not the host.
if serve_tlsnc server; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST --ssl-servername other.example \
	    localhost "$LPORT"
	verify_fails "server.pem, --ssl-servername other.example" \
	    "$FAILED name mismatch: the certificate is not valid for \
other.example" "$P/server.pem"
	end_tlsnc
fi

# An IP literal is checked against the IP addresses in the SAN.
if serve_tlsnc server; then
	# shellcheck disable=SC2086
	connect "$T/bulk" -v --ssl $TRUST 127.0.0.1 "$LPORT"
	passes_tlsnc "server.pem at 127.0.0.1"
	check "server.pem at 127.0.0.1: verified" \
	    line_with "$T/c.err" "verification: ok" "127.0.0.1"
fi

if serve_tlsnc wrongname; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST 127.0.0.1 "$LPORT"
	verify_fails "wrongname.pem at 127.0.0.1" "$FAILED name mismatch: \
the certificate is not valid for 127.0.0.1" "$P/wrongname.pem"
	end_tlsnc
fi

# pin_fails DESC CAUSE PEM: the client refused the certificate for a pin
# mismatch: status 5, the cause line, the peer's fingerprint, and no advice
# to pin the certificate just presented, which may be an attacker's.
pin_fails() {
	_fp=$(fp_of "$3")
	check "$1: status 5" status_is 5 "$CST"
	check "$1: says why" has_line "$T/c.err" "$2"
	check "$1: shows the peer's fingerprint" line_with "$T/c.err" \
	    "tlsnc: the peer's certificate is $_fp"
	check "$1: does not suggest pinning it" \
	    not_in_file "$T/c.err" "--ssl-pin $_fp"
	check "$1: nothing on stdout" is_empty "$T/c.out"
}

# --- Pinning replaces CA verification (and the name check).
if serve_tlsnc server; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST --ssl-pin "$(fp_of "$P/expired.pem")" \
	    localhost "$LPORT"
	pin_fails "pin of another certificate" "$FAILED pin mismatch: the \
peer presented $(fp_of "$P/server.pem")" "$P/server.pem"
	check "pin of another certificate: a pin comes from a trusted channel" \
	    has_line "$T/c.err" "tlsnc: this is not the pinned certificate, \
and it may be an attacker's: take a new pin only from a channel you trust, \
never from this connection"
	end_tlsnc
fi

# A pin of the intermediate, which the server sends, or of the root, which
# the trust file adds, is not a pin of the server.
for ca in int ca; do
	serve_tlsnc server || continue
	subj=$(openssl x509 -in "$P/$ca.pem" -noout -subject -nameopt RFC2253 |
	    sed 's/^subject=//')
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST --ssl-pin "$(fp_of "$P/$ca.pem")" \
	    localhost "$LPORT"
	pin_fails "pin of $ca.pem" "$FAILED pin mismatch: the pin matches \
the issuer certificate $subj, not the server's own certificate" \
	    "$P/server.pem"
	check "pin of $ca.pem: points to --ssl-trustfile" has_line "$T/c.err" \
	    "tlsnc: --ssl-pin accepts only the server's own certificate; to \
verify the server against a CA, give the CA's certificate with --ssl-trustfile"
	end_tlsnc
done

# Several pins, for rotation: any one of them may match, wherever it is.
for order in first last; do
	serve_tlsnc server || continue
	if [ "$order" = first ]; then
		set -- "$(fp_of "$P/server.pem")" "$(fp_of "$P/expired.pem")"
	else
		set -- "$(fp_of "$P/expired.pem")" "$(fp_of "$P/future.pem")" \
		    "$(fp_of "$P/server.pem")"
	fi
	pins=""
	for p in "$@"; do
		pins="$pins --ssl-pin $p"
	done
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $pins localhost "$LPORT"
	passes_tlsnc "several pins, the right one $order"
done
if serve_tlsnc server; then
	connect "$T/bulk" --ssl --ssl-pin "$(fp_of "$P/expired.pem")" \
	    --ssl-pin "$(fp_of "$P/future.pem")" localhost "$LPORT"
	pin_fails "several pins, none right" "$FAILED pin mismatch: the \
peer presented $(fp_of "$P/server.pem")" "$P/server.pem"
	end_tlsnc
fi

if serve_tlsnc untrusted; then
	connect "$T/bulk" --ssl --ssl-pin "$(fp_of "$P/untrusted.pem")" \
	    localhost "$LPORT"
	passes_tlsnc "pin of untrusted.pem"
fi

if serve_openssl expired; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST --ssl-pin "$(fp_of "$P/expired.pem")" \
	    localhost "$SPORT"
	passes_openssl "pin of expired.pem"
fi

if serve_tlsnc wrongname; then
	# Colons and upper case are accepted in a pin.
	pin=$(openssl x509 -in "$P/wrongname.pem" -noout -fingerprint \
	    -sha256 | sed 's/^[^=]*=/SHA256:/')
	connect "$T/bulk" --ssl --ssl-pin "$pin" localhost "$LPORT"
	passes_tlsnc "pin of wrongname.pem, with colons"
fi

# --- --ssl-no-verify
if serve_tlsnc expired; then
	connect "$T/bulk" --ssl --ssl-no-verify localhost "$LPORT"
	passes_tlsnc "--ssl-no-verify with expired.pem"
	check "--ssl-no-verify: warns" \
	    line_with "$T/c.err" "tlsnc: warning: --ssl-no-verify"
fi

# --- SNI.  s_server's -servername_fatal aborts the handshake with an
# unrecognized_name alert when the client sends an SNI other than the one
# given (no SNI at all is accepted), and it prints 'Hostname in TLS
# extension: "NAME"' whenever an SNI arrives.  Both are deterministic.  On
# a match s_server switches to its -cert2 context, which has no chain, so
# the client trusts the intermediate too.
cat "$P/ca.pem" "$P/int.pem" > "$T/bundle.pem"
BUNDLE="--ssl-trustfile $T/bundle.pem"
sni_server() {	# sni_server CERT EXPECTED-SNI
	serve_openssl "$1" -servername "$2" -servername_fatal \
	    -cert2 "$P/$1.pem" -key2 "$P/$1.key"
}

if sni_server server localhost; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $BUNDLE localhost "$SPORT"
	passes_openssl "SNI for a name"
	check "SNI for a name: it is the host" \
	    has_line "$T/s.out" 'Hostname in TLS extension: "localhost"'
fi

if sni_server server nomatch.example; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $BUNDLE localhost "$SPORT"
	check "SNI mismatch: status 4" status_is 4 "$CST"
	check "SNI mismatch: says so" \
	    line_with "$T/c.err" "tlsnc: " "unrecognized name"
	end_openssl
fi

# Had tlsnc sent "127.0.0.1" as SNI, s_server would abort as just above.
if sni_server server nomatch.example; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $BUNDLE 127.0.0.1 "$SPORT"
	passes_openssl "no SNI for an IP literal"
	! grep -q 'Hostname in TLS extension' "$T/s.out"
	check "no SNI for an IP literal: none arrived" [ $? -eq 0 ]
fi

if sni_server server localhost; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $BUNDLE --ssl-servername localhost \
	    127.0.0.1 "$SPORT"
	passes_openssl "SNI for --ssl-servername with an IP literal"
	check "SNI for --ssl-servername: it is the servername" \
	    has_line "$T/s.out" 'Hostname in TLS extension: "localhost"'
fi

# An IP literal given as --ssl-servername is not sent as SNI either
# (RFC 6066), and is verified as an address: had "127.0.0.1" or "::1" gone
# out as SNI, s_server would abort as above.
for ip in 127.0.0.1 ::1; do
	sni_server server nomatch.example || continue
	# shellcheck disable=SC2086
	connect "$T/line" -v --ssl $BUNDLE --ssl-servername "$ip" localhost \
	    "$SPORT"
	passes_openssl "no SNI for --ssl-servername $ip"
	! grep -q 'Hostname in TLS extension' "$T/s.out"
	check "no SNI for --ssl-servername $ip: none arrived" [ $? -eq 0 ]
	check "--ssl-servername $ip: verified as an address" \
	    has_line "$T/c.err" "tlsnc: verification: ok (trusted chain, \
name $ip)"
done

if serve_tlsnc server; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST --ssl-servername 192.0.2.1 \
	    localhost "$LPORT"
	verify_fails "--ssl-servername 192.0.2.1" "$FAILED name mismatch: the \
certificate is not valid for 192.0.2.1" "$P/server.pem"
	end_tlsnc
fi

if sni_server wrongname wrong.example; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $BUNDLE --ssl-servername wrong.example \
	    localhost "$SPORT"
	passes_openssl "wrongname.pem via s_server, --ssl-servername"
	check "wrongname.pem via s_server: SNI is the servername" \
	    has_line "$T/s.out" 'Hostname in TLS extension: "wrong.example"'
fi

# --- Client certificates.  -Verify demands one; without
# -verify_return_error s_server would carry on after a failed verification.
MTLS="-Verify 1 -verify_return_error -CAfile $P/ca.pem"
# Either wording names the cause: the server refused what we sent or lacked.
REFUSED='^tlsnc: .*the peer (refused the certificate|requires a client cert)'
for c in client rsa ed25519; do
	# shellcheck disable=SC2086
	serve_openssl server $MTLS || continue
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST --ssl-cert "$P/$c.pem" \
	    --ssl-key "$P/$c.key" localhost "$SPORT"
	passes_openssl "client certificate $c.pem"
	subj=$(openssl x509 -in "$P/$c.pem" -noout -subject -nameopt oneline |
	    sed 's/^subject=//')
	check "client certificate $c.pem: the server saw it" \
	    line_with "$T/s.all" "depth=0 $subj"
done

# TLS 1.3: the server refuses after the client has finished its handshake,
# so the client hears of it on its first read.
# shellcheck disable=SC2086
if serve_openssl server $MTLS; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST localhost "$SPORT"
	check "no client certificate: status 5" status_is 5 "$CST"
	check "no client certificate: says so" matches "$T/c.err" "$REFUSED"
	check "no client certificate: nothing on stdout" is_empty "$T/c.out"
	# The hint is about the server's certificate, which was fine.
	check "no client certificate: no --ssl-pin hint" \
	    not_in_file "$T/c.err" "--ssl-pin"
	end_openssl
fi

# shellcheck disable=SC2086
if serve_openssl server $MTLS -tls1_2; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST localhost "$SPORT"
	check "no client certificate, TLS 1.2: status 5" status_is 5 "$CST"
	check "no client certificate, TLS 1.2: names --ssl-cert" \
	    has_text "$T/c.err" "the peer requires a client certificate (--ssl-cert)"
	check "no client certificate, TLS 1.2: nothing on stdout" \
	    is_empty "$T/c.out"
	end_openssl
fi

# shellcheck disable=SC2086
if serve_openssl server $MTLS; then
	# shellcheck disable=SC2086
	connect "$T/line" --ssl $TRUST --ssl-cert "$P/untrusted.pem" \
	    --ssl-key "$P/untrusted.key" localhost "$SPORT"
	check "untrusted client certificate: status 5" status_is 5 "$CST"
	check "untrusted client certificate: says so" \
	    matches "$T/c.err" "$REFUSED"
	check "untrusted client certificate: nothing on stdout" \
	    is_empty "$T/c.out"
	end_openssl
fi

# --- Certificates, keys and trust files from FIFOs and pipes, which can be
# read only once.  A FIFO's writer goes in the background; it ends once
# tlsnc has read everything.
fifo_of() {	# fifo_of FIFO FILE...
	_ff=$1
	shift
	rm -f "$_ff"
	mkfifo "$_ff"
	cat "$@" > "$_ff" &
	BG_PIDS="$BG_PIDS $!"
}

fifo_of "$T/cert.fifo" "$P/server.pem"
fifo_of "$T/key.fifo" "$P/server.key"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/hello" -l --ssl \
    --ssl-cert "$T/cert.fifo" --ssl-key "$T/key.fifo" 0; then
	fifo_of "$T/trust.fifo" "$P/ca.pem"
	connect "$T/bulk" --ssl --ssl-trustfile "$T/trust.fifo" \
	    localhost "$LPORT"
	passes_tlsnc "cert, key and trust file from FIFOs"
else
	not_ok "cert, key and trust file from FIFOs: the listener starts"
fi

# The certificate and its key in one FIFO, which is read once for both.
fifo_of "$T/both.fifo" "$P/server.pem" "$P/server.key"
if listen_tlsnc "$T/l.out" "$T/l.err" "$T/hello" -l --ssl \
    --ssl-cert "$T/both.fifo" 0; then
	# shellcheck disable=SC2086
	connect "$T/bulk" --ssl $TRUST localhost "$LPORT"
	passes_tlsnc "cert and key in one FIFO"
else
	not_ok "cert and key in one FIFO: the listener starts"
fi

# Pipes on descriptors 3, 4 and 5, as --ssl-cert <(...) gives in bash: the
# client certificate and key for a server that demands one, and the trust
# file.
# shellcheck disable=SC2086
if serve_openssl server $MTLS; then
	# shellcheck disable=SC2002  # a pipe is the point, not a file
	cat "$P/client.pem" | {
		exec 3<&0
		# shellcheck disable=SC2002
		cat "$P/client.key" | {
			exec 4<&0
			# shellcheck disable=SC2002
			cat "$P/ca.pem" | {
				exec 5<&0
				run_limited 30 "$TLSNC" --ssl \
				    --ssl-trustfile /dev/fd/5 --ssl-cert /dev/fd/3 \
				    --ssl-key /dev/fd/4 localhost "$SPORT" \
				    < "$T/line" > "$T/c.out" 2> "$T/c.err"
				echo $? > "$T/c.st"
			}
		}
	}
	CST=$(cat "$T/c.st")
	passes_openssl "cert, key and trust file from pipes"
	check "cert, key and trust file from pipes: the server saw the client" \
	    line_with "$T/s.all" "depth=0 CN = tlsnc test client"
fi

done_testing

#!/bin/sh
# Bad input: every invalid option, value, combination, certificate or key
# file, unresolvable name, refused connection or non-TLS peer ends with one
# clear "tlsnc: " line on stderr, nothing on stdout and a documented status,
# and never hangs.

. "$TOP_SRCDIR/tests/integration/lib.sh"

ST_RUNTIME=1
ST_USAGE=2
ST_HANDSHAKE=4
TRY="Try 'tlsnc --help' for more information."

# skip_case DESCRIPTION REASON: a TAP point that was not run.
skip_case() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# As root, "setpriv" to nobody makes an unreadable file possible, if nobody
# can reach the binary.
RUNAS=""
NOBODY=""
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null 2>&1; then
	_np="setpriv --reuid=65534 --regid=65534 --clear-groups"
	# shellcheck disable=SC2086
	if $_np "$TLSNC" --version > /dev/null 2>&1; then
		NOBODY=$_np
	fi
fi

# fails DESC STATUS TEXT... -- ARGS...: run "tlsnc ARGS" (stdin /dev/null,
# at most 30 s) and expect STATUS, an empty stdout, and a first stderr line
# that starts with "tlsnc: " and contains every TEXT.  Nothing else may be
# on stderr, except the "Try 'tlsnc --help'" line after a usage error.
fails() {
	_d=$1 _want=$2
	shift 2
	: > "$T/texts"
	while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
		printf '%s\n' "$1" >> "$T/texts"
		shift
	done
	shift
	# shellcheck disable=SC2086  # RUNAS is a command prefix, or nothing
	run_limited 30 $RUNAS "$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_got=$?
	_good=true
	status_is "$_want" "$_got" || _good=false
	if [ -s "$T/out" ]; then
		diag "stdout is not empty:"
		diag_file "$T/out"
		_good=false
	fi
	_first=$(head -n 1 "$T/err")
	case $_first in
	"tlsnc: "*) ;;
	*)	diag "stderr's first line lacks 'tlsnc: ': $_first"
		_good=false ;;
	esac
	while IFS= read -r _t; do
		case $_first in
		*"$_t"*) ;;
		*)	diag "stderr's first line lacks '$_t': $_first"
			_good=false ;;
		esac
	done < "$T/texts"
	_lines=$(wc -l < "$T/err")
	if [ "$_lines" -eq 2 ] && [ "$_want" = "$ST_USAGE" ] &&
	    [ "$(sed -n 2p "$T/err")" = "$TRY" ]; then
		:
	elif [ "$_lines" -ne 1 ]; then
		diag "expected one line on stderr, got $_lines:"
		diag_file "$T/err"
		_good=false
	fi
	if $_good; then
		ok "$_d"
	else
		not_ok "$_d"
	fi
}

pki || { not_ok "make the test PKI"; done_testing; }
P=$PKI

# A port that nothing listens on: one a listener was just given, then freed.
if listen_tlsnc "$T/dead.out" "$T/dead.err" /dev/null -l 0; then
	DEAD=$LPORT
	kill "$LPID"
	wait "$LPID" 2>/dev/null
else
	not_ok "find a free port"
	done_testing
fi

# Files that exist but are no certificates or keys.
head -c 4096 /dev/urandom > "$T/garbled.pem"
mkdir "$T/adir"

# --- Ports
fails "client port 0 is invalid" $ST_USAGE "invalid port '0'" -- \
    127.0.0.1 0
fails "client port 65536 is invalid" $ST_USAGE "invalid port '65536'" -- \
    127.0.0.1 65536
fails "listen port 65536 is invalid" $ST_USAGE "invalid port '65536'" -- \
    -l 65536
fails "port 99999999999999999999 is invalid" $ST_USAGE \
    "invalid port '99999999999999999999'" -- 127.0.0.1 99999999999999999999
# getopt permutes, so a bare -1 reads as an option; after -- it is a port.
fails "port -1 is an unknown option" $ST_USAGE "'-1'" -- 127.0.0.1 -1
fails "port -1 after -- is invalid" $ST_USAGE "invalid port '-1'" -- \
    -- 127.0.0.1 -1
fails "unknown service name" $ST_USAGE "invalid port 'nosuchservice'" -- \
    127.0.0.1 nosuchservice
fails "source port 70000 is invalid" $ST_USAGE "invalid port '70000'" -- \
    -p 70000 127.0.0.1 "$DEAD"

# --- Options and arguments
fails "unknown long option" $ST_USAGE "unknown option" "--no-such-option" -- \
    --no-such-option 127.0.0.1 "$DEAD"
fails "unknown short option" $ST_USAGE "unknown option" "-Z" -- \
    -Z 127.0.0.1 "$DEAD"
fails "-w without its argument" $ST_USAGE "-w" "needs an argument" -- -w
fails "--ssl-cert without its argument" $ST_USAGE "--ssl-cert" \
    "needs an argument" -- --ssl --ssl-cert
fails "--ssl-pin without its argument" $ST_USAGE "--ssl-pin" \
    "needs an argument" -- --ssl-pin
fails "no host and no port" $ST_USAGE "no host" --
fails "no port" $ST_USAGE "no port" -- 127.0.0.1
fails "too many arguments" $ST_USAGE "too many arguments" "'extra'" -- \
    127.0.0.1 "$DEAD" extra
fails "listener without a port" $ST_USAGE "no port" -- -l
# "-l -p PORT HOST" names the host, as in Ncat; a second port is too many.
fails "listener port given twice" $ST_USAGE "given twice" -- \
    -l -p 1 127.0.0.1 2
fails "empty --ssl-servername" $ST_USAGE "--ssl-servername" -- \
    --ssl --ssl-servername "" 127.0.0.1 "$DEAD"
# A --ssl-servername goes out as SNI: it must be a host name or an address.
fails "--ssl-servername with a space" $ST_USAGE \
    "--ssl-servername: 'a b.example' is not a host name: it has a space" -- \
    --ssl --ssl-servername "a b.example" 127.0.0.1 "$DEAD"
fails "--ssl-servername with a control character" $ST_USAGE \
    "--ssl-servername: 'a\\x1bb' is not a host name" -- \
    --ssl --ssl-servername "$(printf 'a\033b')" 127.0.0.1 "$DEAD"
fails "--ssl-servername not in ASCII" $ST_USAGE \
    "is not a host name: it has a non-ASCII character" -- \
    --ssl --ssl-servername "$(printf 'b\303\274cher.example')" 127.0.0.1 "$DEAD"
fails "--ssl-servername with an empty label" $ST_USAGE \
    "--ssl-servername: 'a..example' is not a host name: it has an empty label" \
    -- --ssl --ssl-servername a..example 127.0.0.1 "$DEAD"
label=$(printf '%064d' 0)
fails "--ssl-servername with a 64-character label" $ST_USAGE \
    "it has a label longer than 63 characters" -- \
    --ssl --ssl-servername "$label.example" 127.0.0.1 "$DEAD"
fails "--ssl-servername of 254 characters" $ST_USAGE \
    "it is longer than 253 characters" -- --ssl --ssl-servername \
    "$label.$label.$label.$(printf '%059d' 0)" 127.0.0.1 "$DEAD"

# --- Every forbidden combination (check_combinations in src/options.c)
PIN0=SHA256:$(printf '%064d' 0)
fails "-4 with -6" $ST_USAGE "-4 and -6" -- -4 -6 127.0.0.1 "$DEAD"
fails "a TLS option without --ssl" $ST_USAGE "need --ssl" -- \
    --ssl-trustfile "$P/ca.pem" 127.0.0.1 "$DEAD"
fails "--ssl-pin with --ssl-no-verify" $ST_USAGE "--ssl-pin" \
    "--ssl-no-verify" -- --ssl --ssl-pin "$PIN0" --ssl-no-verify \
    127.0.0.1 "$DEAD"
fails "--ssl-verify with --ssl-no-verify" $ST_USAGE "--ssl-verify" \
    "--ssl-no-verify" -- --ssl --ssl-verify --ssl-no-verify 127.0.0.1 "$DEAD"
# A listener's --ssl-pin pins the client's certificate (tests/mtls.sh).
fails "--ssl-client-ca without -l" $ST_USAGE \
    "--ssl-client-ca is for a listener (-l)" -- \
    --ssl --ssl-client-ca "$P/ca.pem" 127.0.0.1 "$DEAD"
fails "-l with --no-sni" $ST_USAGE "--no-sni is for a client, not with -l" \
    -- -l --ssl --no-sni 0
fails "-l with --ssl-trustfile" $ST_USAGE "--ssl-trustfile" -- \
    -l --ssl --ssl-trustfile "$P/ca.pem" 0
fails "-l with --ssl-servername" $ST_USAGE "--ssl-servername" -- \
    -l --ssl --ssl-servername localhost 0
fails "-l with --ssl-no-verify" $ST_USAGE "--ssl-no-verify" -- \
    -l --ssl --ssl-no-verify 0
fails "-l with --ssl-verify" $ST_USAGE \
    "--ssl-verify is for a client, not with -l" -- -l --ssl --ssl-verify 0
fails "-l with -s" $ST_USAGE "-s" -- -l -s 127.0.0.1 0
fails "client --ssl-key without --ssl-cert" $ST_USAGE "--ssl-key" \
    "--ssl-cert" -- --ssl --ssl-key "$P/client.key" 127.0.0.1 "$DEAD"

# --- Time values
for v in abc -1 "" nan inf 1e12 5sec 5d 5S ms; do
	fails "-w '$v' is invalid" $ST_USAGE "-w" "'$v'" -- \
	    -w "$v" 127.0.0.1 "$DEAD"
done
# Ncat's units are times, so these get as far as the refused connection.
for v in 2s 1500ms 0.5m 1h; do
	fails "-w '$v' is a time" 1 "Connection refused" -- \
	    -w "$v" 127.0.0.1 "$DEAD"
done
fails "-w 0 is invalid" $ST_USAGE "-w" "more than 0" -- -w 0 127.0.0.1 "$DEAD"
fails "-w 0.0001 rounds to 0" $ST_USAGE "-w" "less than the smallest unit" -- \
    -w 0.0001 127.0.0.1 "$DEAD"
fails "-i 0 is invalid" $ST_USAGE "-i" "more than 0" -- -i 0 127.0.0.1 "$DEAD"
fails "-i 'x' is invalid" $ST_USAGE "-i" "'x'" -- -i x 127.0.0.1 "$DEAD"
fails "-q 'abc' is invalid" $ST_USAGE "-q" "'abc'" -- -q abc 127.0.0.1 "$DEAD"
fails "-q '-1' is invalid" $ST_USAGE "-q" "'-1'" -- -q -1 127.0.0.1 "$DEAD"

# --- --ssl-pin values
for v in abc SHA256: "SHA256:$(printf '%062d' 0)" "SHA256:$(printf '%066d' 0)" \
    "SHA256:$(printf '%063d' 0)g" "MD5:$(printf '%064d' 0)"; do
	fails "--ssl-pin '$v' is invalid" $ST_USAGE "--ssl-pin" "'$v'" -- \
	    --ssl --ssl-pin "$v" 127.0.0.1 "$DEAD"
done

# --- -k/--keep-open and -m/--max-conns: status 2 and exactly these lines.
# usage_line DESC LINE ARGS...: "tlsnc ARGS" (stdin /dev/null, at most 30 s)
# exits with status 2, prints nothing on stdout, and its stderr is exactly
# LINE and the "Try 'tlsnc --help'" line.
usage_line() {
	_d=$1
	printf '%s\n%s\n' "$2" "$TRY" > "$T/want.err"
	shift 2
	run_limited 30 "$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_got=$?
	_good=true
	status_is "$ST_USAGE" "$_got" || _good=false
	if [ -s "$T/out" ]; then
		diag "stdout is not empty:"
		diag_file "$T/out"
		_good=false
	fi
	if ! cmp -s "$T/want.err" "$T/err"; then
		diag "stderr (<) is not what was expected (>):"
		diff "$T/err" "$T/want.err" | sed 's/^/#   /'
		_good=false
	fi
	if $_good; then
		ok "$_d"
	else
		not_ok "$_d"
	fi
}

# Long options are never abbreviated: a prefix is an unknown option.
usage_line "--ssl-no is not --ssl-no-verify" "tlsnc: unknown option '--ssl-no'" \
    --ssl --ssl-no 127.0.0.1 "$DEAD"
usage_line "--k is not --keep-open" "tlsnc: unknown option '--k'" -l --k 0

usage_line "-k without -l" "tlsnc: -k needs -l" -k 9000
usage_line "-z with -e" "tlsnc: cannot use -z and -e together" \
    -z -e cat 127.0.0.1 1
usage_line "-z with -c" "tlsnc: cannot use -z and -c together" \
    -z -c true 127.0.0.1 1
usage_line "--keep-open without -l, as a client" "tlsnc: -k needs -l" \
    --keep-open 127.0.0.1 "$DEAD"
usage_line "-m without -k, on a client" "tlsnc: -m needs -k" \
    -m 5 127.0.0.1 "$DEAD"
# A listener that wrongly accepted these would listen until run_limited
# stops it.
usage_line "-m without -k, on a listener" "tlsnc: -m needs -k" -l -m 5 0
usage_line "--max-conns without its argument" \
    "tlsnc: option -m/--max-conns needs an argument" -l -k 0 --max-conns
for v in 0 100001 "" +5 -5 " 5" 1.5 0x10 99999999999999999999; do
	usage_line "-m '$v' is invalid" \
	    "tlsnc: -m: invalid number of connections '$v'" -l -k -m "$v" 0
done
if listen_tlsnc "$T/k.out" "$T/k.err" /dev/null -l -k -m 100000 127.0.0.1 0
then
	ok "-l -k -m 100000 is accepted: the listener gets ready"
	kill "$LPID"
	wait "$LPID" 2>/dev/null
else
	not_ok "-l -k -m 100000 is accepted: the listener gets ready"
	diag_file "$T/k.err"
fi

# --- Certificate and key files, on a listener and on a client.  A listener
# that wrongly accepted them would listen until run_limited stops it.
for side in listener client; do
	if [ "$side" = listener ]; then
		set -- -l --ssl
		tail=0
	else
		set -- --ssl --ssl-trustfile "$P/ca.pem"
		tail="127.0.0.1 $DEAD"
	fi
	# shellcheck disable=SC2086
	{
	fails "$side: --ssl-cert missing file" $ST_USAGE "--ssl-cert" \
	    "$T/missing.pem" "No such file" -- \
	    "$@" --ssl-cert "$T/missing.pem" $tail
	fails "$side: --ssl-cert is a directory" $ST_USAGE "--ssl-cert" \
	    "$T/adir" -- "$@" --ssl-cert "$T/adir" $tail
	# Root reads any file: drop to nobody for this case when possible.
	if [ "$(id -u)" -ne 0 ] || [ -n "$NOBODY" ]; then
		cp "$P/server.pem" "$T/noread.pem"
		chmod 000 "$T/noread.pem"
		RUNAS=$NOBODY
		fails "$side: --ssl-cert unreadable file" $ST_USAGE \
		    "--ssl-cert" "$T/noread.pem" "Permission denied" -- \
		    "$@" --ssl-cert "$T/noread.pem" --ssl-key "$P/server.key" \
		    $tail
		RUNAS=""
	else
		skip_case "$side: --ssl-cert unreadable file" \
		    "running as root, and nobody cannot run $TLSNC"
	fi
	fails "$side: --ssl-cert garbled file" $ST_USAGE "--ssl-cert" \
	    "$T/garbled.pem" -- "$@" --ssl-cert "$T/garbled.pem" $tail
	fails "$side: --ssl-cert holds only a key" $ST_USAGE "--ssl-cert" \
	    "$P/server.key" -- "$@" --ssl-cert "$P/server.key" $tail
	fails "$side: --ssl-cert without a key in it" $ST_USAGE \
	    "$P/server.pem" -- "$@" --ssl-cert "$P/server.pem" $tail
	fails "$side: --ssl-key missing file" $ST_USAGE "--ssl-key" \
	    "$T/missing.key" "No such file" -- "$@" \
	    --ssl-cert "$P/server.pem" --ssl-key "$T/missing.key" $tail
	fails "$side: --ssl-key garbled file" $ST_USAGE "--ssl-key" \
	    "$T/garbled.pem" -- "$@" \
	    --ssl-cert "$P/server.pem" --ssl-key "$T/garbled.pem" $tail
	fails "$side: --ssl-key does not match --ssl-cert" $ST_USAGE \
	    "--ssl-key" "$P/client.key" "does not match" "$P/server.pem" -- \
	    "$@" \
	    --ssl-cert "$P/server.pem" --ssl-key "$P/client.key" $tail
	fails "$side: --ssl-key without --ssl-cert" $ST_USAGE "--ssl-key" \
	    "needs --ssl-cert" -- "$@" --ssl-key "$P/server.key" $tail
	}
done

fails "--ssl-trustfile missing file" $ST_USAGE "--ssl-trustfile" \
    "$T/missing.pem" "No such file" -- \
    --ssl --ssl-trustfile "$T/missing.pem" 127.0.0.1 "$DEAD"
fails "--ssl-trustfile garbled file" $ST_USAGE "--ssl-trustfile" \
    "$T/garbled.pem" -- --ssl --ssl-trustfile "$T/garbled.pem" 127.0.0.1 "$DEAD"
fails "--ssl-trustfile holds only a key" $ST_USAGE "--ssl-trustfile" \
    "$P/ca.key" -- --ssl --ssl-trustfile "$P/ca.key" 127.0.0.1 "$DEAD"
# A directory is named as one, for each of the three files.
fails "--ssl-trustfile is a directory" $ST_USAGE "--ssl-trustfile" \
    "$T/adir" "Is a directory" -- \
    --ssl --ssl-trustfile "$T/adir" 127.0.0.1 "$DEAD"
fails "--ssl-cert is a directory: says so" $ST_USAGE "--ssl-cert" \
    "$T/adir" "Is a directory" -- -l --ssl --ssl-cert "$T/adir" 0
fails "--ssl-key is a directory: says so" $ST_USAGE "--ssl-key" \
    "$T/adir" "Is a directory" -- \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/adir" 0

# --- Encrypted keys.  The passphrase comes from --ssl-key-pass or from a
# prompt on the terminal, never from standard input, which is the data.
# "setsid -w" runs tlsnc without a controlling terminal, as under cron.
PASS=tlsnc-test-passphrase
openssl pkey -in "$P/server.key" -aes256 -passout "pass:$PASS" \
    -out "$T/enc.key" 2> "$T/enc.err" || diag_file "$T/enc.err"
cat "$P/server.pem" "$T/enc.key" > "$T/enc-both.pem"
seq 1 5000 > "$T/lines"
printf '%s\n' "$PASS" > "$T/passfile"
ENCRYPTED="is encrypted: give its passphrase with --ssl-key-pass"

# no_tty_fails DESC LINE ARGS...: "setsid -w tlsnc ARGS" with the lines on
# stdin exits 2 with exactly LINE on stderr, and leaves all of stdin unread
# for the command after it.
no_tty_fails() {
	_d=$1
	printf '%s\n' "$2" > "$T/want.err"
	shift 2
	( run_limited 30 setsid -w "$TLSNC" "$@" > "$T/out" 2> "$T/err"
	  echo $? > "$T/st"
	  cat > "$T/rest" ) < "$T/lines"
	check "$_d: status 2" status_is $ST_USAGE "$(cat "$T/st")"
	if cmp -s "$T/want.err" "$T/err"; then
		ok "$_d: one line says why"
	else
		diff "$T/err" "$T/want.err" | sed 's/^/#   /'
		not_ok "$_d: one line says why"
	fi
	check "$_d: stdin is left unread" same_data "$T/lines" "$T/rest"
}

no_tty_fails "encrypted --ssl-key, no passphrase, no terminal" \
    "tlsnc: the key in $T/enc.key $ENCRYPTED" \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" 0
no_tty_fails "encrypted key in --ssl-cert, no passphrase, no terminal" \
    "tlsnc: the key in $T/enc-both.pem $ENCRYPTED" \
    --ssl --ssl-trustfile "$P/ca.pem" --ssl-cert "$T/enc-both.pem" \
    127.0.0.1 "$DEAD"
no_tty_fails "encrypted --ssl-key, wrong passphrase" \
    "tlsnc: --ssl-key $T/enc.key: the passphrase is wrong" \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" \
    --ssl-key-pass pass:wrong 0
no_tty_fails "encrypted key in --ssl-cert, wrong passphrase" \
    "tlsnc: --ssl-cert $T/enc-both.pem: the passphrase is wrong" \
    -l --ssl --ssl-cert "$T/enc-both.pem" --ssl-key-pass pass:wrong 0

# A listener whose key is unlocked by each form of --ssl-key-pass sends
# its whole standard input to a client that verifies it.
export TLSNC_TEST_PASS="$PASS"
exec 3< "$T/passfile"
for src in "pass:$PASS" env:TLSNC_TEST_PASS "file:$T/passfile" fd:3; do
	if listen_tlsnc "$T/k.out" "$T/k.err" "$T/lines" -l --ssl \
	    --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" \
	    --ssl-key-pass "$src" 127.0.0.1 0; then
		client "$T/c.out" "$T/c.err" /dev/null --ssl \
		    --ssl-trustfile "$P/ca.pem" localhost "$LPORT"
		listener_status
		both_ok "--ssl-key-pass ${src%%:*}:"
		check "--ssl-key-pass ${src%%:*}: all of stdin arrived" \
		    same_data "$T/lines" "$T/c.out"
	else
		not_ok "--ssl-key-pass ${src%%:*}: the listener starts"
	fi
done
exec 3<&-

# With a terminal and no --ssl-key-pass, the prompt is on /dev/tty (here a
# pseudo-terminal from script(1)), with echo off; stdin stays the data.
if command -v script > /dev/null 2>&1 &&
    run_limited 10 script -qec true /dev/null < /dev/null > /dev/null 2>&1
then
	rm -f "$T/tty.in"
	mkfifo "$T/tty.in"
	: > "$T/tty.out"
	: > "$T/k.err"
	script -qefc "'$TLSNC' -v -l --ssl --ssl-cert '$P/server.pem' \
	    --ssl-key '$T/enc.key' 127.0.0.1 0 < '$T/lines' > '$T/k.out' \
	    2> '$T/k.err'" /dev/null < "$T/tty.in" > "$T/tty.out" 2>&1 &
	SCPID=$!
	BG_PIDS="$BG_PIDS $SCPID"
	exec 7> "$T/tty.in"
	if wait_for "$T/tty.out" "Passphrase for $T/enc.key: "; then
		ok "terminal prompt: it names the key file"
		printf '%s\n' "$PASS" >&7
		if wait_for "$T/k.err" "Listening on"; then
			LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9]*\)$/\1/p' \
			    "$T/k.err")
			client "$T/c.out" "$T/c.err" /dev/null --ssl \
			    --ssl-trustfile "$P/ca.pem" localhost "$LPORT"
			check "terminal prompt: client status 0" status_is 0 "$CST"
			check "terminal prompt: all of stdin arrived" \
			    same_data "$T/lines" "$T/c.out"
		else
			skip 2 "the listener did not start"
		fi
	else
		not_ok "terminal prompt: it names the key file"
		skip 2 "no prompt"
	fi
	exec 7>&-
	wait_pid "$SCPID" 20
	check "terminal prompt: the listener exits 0" status_is 0 "$?"
	! grep -qF "$PASS" "$T/tty.out"
	check "terminal prompt: the passphrase was not echoed" [ $? -eq 0 ]
else
	skip 5 "no script(1), or no pseudo-terminal for it"
fi

# Sources that cannot give a passphrase.  A value without a form is not
# echoed: it may be the passphrase itself.
fails "--ssl-key-pass without a form" $ST_USAGE \
    "--ssl-key-pass: give the passphrase as pass:TEXT, env:VAR, file:PATH or fd:N" \
    -- -l --ssl --ssl-cert "$P/server.pem" --ssl-key-pass hunter2 0
! grep -q hunter2 "$T/err"
check "--ssl-key-pass without a form: the value is not echoed" [ $? -eq 0 ]
fails "--ssl-key-pass fd:x" $ST_USAGE "--ssl-key-pass: give the passphrase" \
    -- -l --ssl --ssl-cert "$P/server.pem" --ssl-key-pass fd:x 0
fails "--ssl-key-pass env: unset" $ST_USAGE \
    "--ssl-key-pass env:TLSNC_NO_SUCH_VAR: the variable is not set" -- \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" \
    --ssl-key-pass env:TLSNC_NO_SUCH_VAR 0
fails "--ssl-key-pass file: missing" $ST_USAGE \
    "--ssl-key-pass file:$T/missing: No such file" -- \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" \
    --ssl-key-pass "file:$T/missing" 0
fails "--ssl-key-pass fd: closed" $ST_USAGE \
    "--ssl-key-pass fd:9: Bad file descriptor" -- \
    -l --ssl --ssl-cert "$P/server.pem" --ssl-key "$T/enc.key" \
    --ssl-key-pass fd:9 0
fails "--ssl-key-pass without --ssl-cert" $ST_USAGE \
    "--ssl-key-pass needs --ssl-cert" -- \
    --ssl --ssl-key-pass "pass:$PASS" 127.0.0.1 "$DEAD"

# --- Output errors: --help and --version into a full device say so, once.
if [ -c /dev/full ]; then
	for a in -h --help --version; do
		run_limited 30 "$TLSNC" "$a" < /dev/null > /dev/full 2> "$T/err"
		st=$?
		check "$a >/dev/full: status 1" status_is $ST_RUNTIME "$st"
		printf '%s\n' "tlsnc: writing output: No space left on device" \
		    > "$T/want.err"
		if cmp -s "$T/want.err" "$T/err"; then
			ok "$a >/dev/full: one line names the write error"
		else
			diag_file "$T/err"
			not_ok "$a >/dev/full: one line names the write error"
		fi
	done
else
	skip 6 "no /dev/full"
fi

# --- Runtime failures
# .invalid never resolves (RFC 6761).
fails "unresolvable name" $ST_RUNTIME "cannot resolve" \
    "no-such-host.invalid" -- no-such-host.invalid 80
fails "-n with a name" $ST_USAGE "-n" "localhost" -- -n localhost "$DEAD"
fails "refused connection" $ST_RUNTIME "Connection refused" "$DEAD" -- \
    127.0.0.1 "$DEAD"
fails "refused TLS connection" $ST_RUNTIME "Connection refused" -- \
    --ssl --ssl-trustfile "$P/ca.pem" 127.0.0.1 "$DEAD"

# A plain listener that says "hello" to a TLS client: not a TLS record.
printf 'hello\n' > "$T/hello"
if listen_tlsnc "$T/plain.out" "$T/plain.err" "$T/hello" -l 127.0.0.1 0; then
	fails "TLS client, plain peer that talks" $ST_HANDSHAKE \
	    "TLS handshake" "TLS?" -- --ssl 127.0.0.1 "$LPORT"
	wait_pid "$LPID" 20 > /dev/null
	check "the plain listener ended" [ $? -ne 124 ]
else
	not_ok "start a plain listener"
fi

# A plain listener that closes without a word.
if listen_tlsnc "$T/mute.out" "$T/mute.err" /dev/null -l 127.0.0.1 0; then
	fails "TLS client, plain peer that closes" $ST_HANDSHAKE \
	    "TLS handshake" "closed" -- --ssl 127.0.0.1 "$LPORT"
	wait_pid "$LPID" 20 > /dev/null
	check "the mute listener ended" [ $? -ne 124 ]
else
	not_ok "start a mute listener"
fi

done_testing

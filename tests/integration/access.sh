#!/bin/sh
# --allow, --deny, --allowfile and --denyfile, plain and with --ssl (an
# ephemeral certificate that the clients pin): IPv4, IPv6 (::1), CIDR
# ranges, files with comments, host names, IPv4 clients of a dual-stack
# listener, -l alone (it waits on for an allowed client), -l -k with -c
# (a refused client runs no child), refusal before any TLS (openssl
# s_client sees no ServerHello), the warning for -e/-c on a non-loopback
# address, and the errors.
#
# Loopback has all of 127.0.0.0/8, so "-s 127.0.0.2" makes a second client
# address; the listener's "refused" line (-v) is what the tests wait for.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

ST_USAGE=2
TRY="Try 'tlsnc --help' for more information."

printf 'hello\n' > "$T/hello"

HAVE_IPV6=no
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	HAVE_IPV6=yes
fi

# start NAME MODE HOST ARGS...: "tlsnc -v -l [--ssl] ARGS [HOST] 0" with
# stdin from $LIN (default /dev/null); HOST "-" gives none (a dual-stack
# listener).  Sets LPID, LPORT, LERR (its stderr) and CARGS (what a client
# adds: nothing, or --ssl and the pin).
start() {
	_n=$1 _mode=$2 _host=$3
	shift 3
	LERR="$T/$_n.lerr"
	CARGS=""
	_ssl=""
	[ "$_mode" = ssl ] && _ssl=--ssl
	if [ "$_host" = - ]; then
		listen_tlsnc "$T/$_n.lout" "$LERR" "${LIN:-/dev/null}" -l \
		    $_ssl "$@" 0 || return 1
	else
		listen_tlsnc "$T/$_n.lout" "$LERR" "${LIN:-/dev/null}" -l \
		    $_ssl "$@" "$_host" 0 || return 1
	fi
	[ "$_mode" = ssl ] && CARGS="--ssl --ssl-pin $(pin_of "$LERR")"
	return 0
}

# connect_from SRC HOST OUT: a client of the listener from source address
# SRC (or "-" for the default), stdin from /dev/null; sets CST.
connect_from() {
	if [ "$1" = - ]; then
		# shellcheck disable=SC2086  # CARGS is a list of words
		client "$3" "$3.err" /dev/null $CARGS "$2" "$LPORT"
	else
		# shellcheck disable=SC2086
		client "$3" "$3.err" /dev/null $CARGS -s "$1" "$2" "$LPORT"
	fi
}

# refused ADDR WHY: the listener said it refused a client from ADDR (a
# pattern: brackets escaped).
refused() {
	wait_for "$LERR" "^tlsnc: $1:[0-9]*: refused: $2\$"
}

# only_refusals: since its readiness line, the listener said nothing but
# "refused": no "Connection from", no handshake, no TLS error.
only_refusals() {
	if sed '1,/Listening on/d' "$LERR" | grep -qv ': refused: '; then
		diag "the listener did more than refuse:"
		diag_file "$LERR"
		return 1
	fi
	return 0
}

# stop DESC: SIGTERM for a -k listener; it must exit 0.
stop() {
	kill -TERM "$LPID"
	listener_status
	check "$1: SIGTERM ends the listener" status_is 0 "$LST"
}

# allow_deny_case NAME MODE HOST REFUSED WHY ALLOWED ARGS...: a -k -c
# listener on HOST with ARGS; a client from REFUSED is refused for WHY
# before anything else happens, one from ALLOWED gets in, and only that
# one runs the command.
allow_deny_case() {
	_c=$1 _m=$2 _h=$3 _bad=$4 _why=$5 _good=$6
	shift 6
	_d="$_m $_c"
	: > "$T/ran"
	if ! start "$_c-$_m" "$_m" "$_h" -k -c "echo x >> $T/ran; echo hello" \
	    "$@"; then
		not_ok "$_d: the listener started"
		return
	fi
	connect_from "$_bad" "$_h" "$T/$_c-$_m.bad"
	check "$_d: $_bad is refused ($_why)" refused "$_bad" "$_why"
	check "$_d: nothing but the refusal, no TLS work" only_refusals
	check "$_d: the refused client got nothing" test ! -s "$T/$_c-$_m.bad"
	if [ "$_m" = ssl ]; then
		check "$_d: the refused TLS client fails" test "$CST" -ne 0
	fi
	connect_from "$_good" "$_h" "$T/$_c-$_m.good"
	check "$_d: the allowed client gets in" \
	    same_data "$T/hello" "$T/$_c-$_m.good"
	check "$_d: the allowed client's status is 0" status_is 0 "$CST"
	check "$_d: only the allowed client ran the command" \
	    test "$(wc -l < "$T/ran")" -eq 1
	stop "$_d"
}

for mode in plain ssl; do
	allow_deny_case allow-v4 "$mode" 127.0.0.1 127.0.0.2 \
	    "not in the allow list" 127.0.0.1 --allow 127.0.0.1
	allow_deny_case deny-v4 "$mode" 127.0.0.1 127.0.0.2 \
	    "in the deny list" 127.0.0.1 --deny 127.0.0.2
	allow_deny_case allow-cidr "$mode" 127.0.0.1 127.0.0.2 \
	    "not in the allow list" 127.0.0.1 --allow 127.0.0.0/31
	allow_deny_case deny-wins "$mode" 127.0.0.1 127.0.0.2 \
	    "in the deny list" 127.0.0.1 --allow 127.0.0.0/8 \
	    --deny 127.0.0.2/32
	allow_deny_case allow-name "$mode" 127.0.0.1 127.0.0.2 \
	    "not in the allow list" 127.0.0.1 --allow localhost
done

# --- Several specs in one argument, separated by commas and blanks.
allow_deny_case allow-list plain 127.0.0.1 127.0.0.3 \
    "not in the allow list" 127.0.0.2 --allow '192.0.2.1, 127.0.0.2,::1'

# --- As Ncat's own tests have it: the options add up, a name can be
# denied, and a client both allowed and denied is refused.
allow_deny_case allow-adds-up plain 127.0.0.1 127.0.0.2 \
    "not in the allow list" 127.0.0.1 --allow 192.0.2.1 --allow 127.0.0.1
allow_deny_case deny-adds-up plain 127.0.0.1 127.0.0.2 \
    "in the deny list" 127.0.0.1 --deny 192.0.2.1 --deny 127.0.0.2
allow_deny_case deny-name ssl 127.0.0.1 127.0.0.1 \
    "in the deny list" 127.0.0.2 --deny localhost
allow_deny_case allowed-and-denied plain 127.0.0.1 127.0.0.1 \
    "in the deny list" 127.0.0.2 --allow 127.0.0.1 --allow 127.0.0.2 \
    --deny 127.0.0.1
printf '192.0.2.4\n\nlocalhost' > "$T/deny-name.txt"
allow_deny_case denyfile-name plain 127.0.0.1 127.0.0.1 \
    "in the deny list" 127.0.0.2 --denyfile "$T/deny-name.txt"

# --- Files: comments, blank lines, CRLF, several specs a line.
printf '# who may connect\n\n   \n192.0.2.0/24 # a network\r\n' \
    > "$T/allow.txt"
printf '127.0.0.1, 2001:db8::/32\n#127.0.0.2\n' >> "$T/allow.txt"
printf '# nobody from .3\n127.0.0.3\n\n' > "$T/deny.txt"
for mode in plain ssl; do
	allow_deny_case allowfile "$mode" 127.0.0.1 127.0.0.2 \
	    "not in the allow list" 127.0.0.1 --allowfile "$T/allow.txt"
	allow_deny_case denyfile "$mode" 127.0.0.1 127.0.0.3 \
	    "in the deny list" 127.0.0.2 --denyfile "$T/deny.txt"
done

# --- IPv6: ::1 allowed, denied, and outside a range.
if [ "$HAVE_IPV6" = yes ]; then
	for mode in plain ssl; do
		n=v6-$mode
		if start "$n" "$mode" ::1 -k -c 'echo hello' --allow ::1/128 \
		    --allow fe80::/10; then
			connect_from - ::1 "$T/$n.out"
			check "$mode --allow ::1/128: ::1 gets in" \
			    same_data "$T/hello" "$T/$n.out"
			stop "$mode --allow ::1/128"
		else
			not_ok "$mode --allow ::1/128: the listener started"
		fi
		n=v6-deny-$mode
		if start "$n" "$mode" ::1 -k -c 'echo hello' --deny ::1; then
			connect_from - ::1 "$T/$n.out"
			check "$mode --deny ::1: ::1 is refused" \
			    refused '\[::1\]' "in the deny list"
			check "$mode --deny ::1: it got nothing" \
			    test ! -s "$T/$n.out"
			stop "$mode --deny ::1"
		else
			not_ok "$mode --deny ::1: the listener started"
		fi
		n=v6-range-$mode
		if start "$n" "$mode" ::1 -k -c 'echo hello' --allow fe80::/10
		then
			connect_from - ::1 "$T/$n.out"
			check "$mode --allow fe80::/10: ::1 is refused" \
			    refused '\[::1\]' "not in the allow list"
			check "$mode --allow fe80::/10: no TLS work" \
			    only_refusals
			stop "$mode --allow fe80::/10"
		else
			not_ok "$mode --allow fe80::/10: the listener started"
		fi
	done
else
	skip 18 "no IPv6 on the loopback interface"
fi

# --- A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: IPv4
# rules, and rules written as mapped addresses, match them.  (On a host
# without IPv6 it listens on IPv4 only, and the same must hold.)
for mode in plain ssl; do
	n=mapped-$mode
	if start "$n" "$mode" - -k -c 'echo hello' --allow 127.0.0.0/30 \
	    --deny ::ffff:127.0.0.2; then
		grep -q 'Listening on \[::\]:' "$LERR" ||
		    diag "not dual-stack here: $(grep Listening "$LERR")"
		connect_from 127.0.0.2 127.0.0.1 "$T/$n.two"
		check "$mode dual-stack: --deny ::ffff:127.0.0.2 refuses it" \
		    refused 127.0.0.2 "in the deny list"
		connect_from 127.0.0.5 127.0.0.1 "$T/$n.five"
		check "$mode dual-stack: 127.0.0.5 is outside 127.0.0.0/30" \
		    refused 127.0.0.5 "not in the allow list"
		connect_from 127.0.0.1 127.0.0.1 "$T/$n.one"
		check "$mode dual-stack: --allow 127.0.0.0/30 lets 127.0.0.1 in" \
		    same_data "$T/hello" "$T/$n.one"
		stop "$mode dual-stack"
	else
		not_ok "$mode dual-stack: the listener started"
	fi
done

# --- -l without -k: a refused client does not end the listener; it waits
# for one it allows, and serves that one its standard input.
for mode in plain ssl; do
	n=single-$mode
	if LIN="$T/hello" start "$n" "$mode" 127.0.0.1 --allow 127.0.0.1; then
		connect_from 127.0.0.2 127.0.0.1 "$T/$n.bad"
		check "$mode -l: 127.0.0.2 is refused" \
		    refused 127.0.0.2 "not in the allow list"
		check "$mode -l: the refused client got nothing" \
		    test ! -s "$T/$n.bad"
		connect_from 127.0.0.1 127.0.0.1 "$T/$n.good"
		listener_status
		both_ok "$mode -l after a refusal"
		check "$mode -l: the allowed client got the data" \
		    same_data "$T/hello" "$T/$n.good"
	else
		not_ok "$mode -l: the listener started"
	fi
done

# --- Refused before any TLS: openssl s_client reads no ServerHello and
# no certificate, and the listener logs the refusal and nothing else.
n=s_client
if start "$n" ssl 127.0.0.1 -k --deny 127.0.0.1; then
	run_limited 30 openssl s_client -connect "127.0.0.1:$LPORT" \
	    < /dev/null > "$T/$n.out" 2> "$T/$n.err"
	rc=$?
	check "s_client: it fails" test "$rc" -ne 0
	check "s_client: the handshake read 0 bytes" \
	    grep -q 'SSL handshake has read 0 bytes' "$T/$n.out"
	check "s_client: no certificate reached it" \
	    sh -c "! grep -q 'BEGIN CERTIFICATE' '$T/$n.out'"
	check "s_client: the listener refused it" \
	    refused 127.0.0.1 "in the deny list"
	check "s_client: and spent no TLS work on it" only_refusals
	stop "s_client"
else
	not_ok "s_client: the listener started"
fi

# --- An empty allow list: a warning, and every client refused.
printf '# nobody\n\n' > "$T/empty.txt"
n=empty
if start "$n" plain 127.0.0.1 -k --allowfile "$T/empty.txt"; then
	check "empty allow list: a warning" has_line "$LERR" \
	    "tlsnc: warning: the allow list is empty: every client will be refused"
	connect_from 127.0.0.1 127.0.0.1 "$T/$n.out"
	check "empty allow list: 127.0.0.1 is refused" \
	    refused 127.0.0.1 "not in the allow list"
	stop "empty allow list"
else
	not_ok "empty allow list: the listener started"
fi

# --- The -e/-c warning: on a non-loopback address without --allow.
# warn_case DESC yes|no ARGS...: start "tlsnc -v -l ARGS"; the warning is
# there (yes) or not (no), before the readiness line.
warn_case() {
	_d=$1 _want=$2
	shift 2
	if ! listen_tlsnc "$T/warn.out" "$T/warn.err" /dev/null -l "$@"; then
		not_ok "warning, $_d: the listener started"
		return
	fi
	_bound=$(sed -n 's/^tlsnc: Listening on //p' "$T/warn.err")
	_prog=program
	case " $* " in *" -c "*) _prog="command" ;; esac
	_opt=-e
	[ "$_prog" = command ] && _opt=-c
	if [ "$_want" = yes ]; then
		check "warning, $_d: present" has_line "$T/warn.err" \
		    "tlsnc: warning: $_opt: anyone who can connect to $_bound runs the $_prog; limit the clients with --allow"
	else
		check "warning, $_d: absent" \
		    sh -c "! grep -q 'anyone who can connect' '$T/warn.err'"
	fi
	kill -TERM "$LPID"
	wait_pid "$LPID" 30 > /dev/null
}
warn_case "-e on the wildcard" yes -e cat 0
warn_case "-k -c on the wildcard" yes -k -c cat 0
warn_case "-e on 0.0.0.0" yes -e cat 0.0.0.0 0
warn_case "--ssl -e on the wildcard" yes --ssl -e cat 0
warn_case "-c with --deny only" yes -c cat --deny 192.0.2.1 0
warn_case "-e on 127.0.0.1" no -e cat 127.0.0.1 0
warn_case "-k -c on 127.0.0.2" no -k -c cat 127.0.0.2 0
if [ "$HAVE_IPV6" = yes ]; then
	warn_case "-e on ::1" no -e cat ::1 0
else
	skip 1 "no IPv6 on the loopback interface"
fi
warn_case "-e on the wildcard with --allow" no -e cat --allow 127.0.0.1 0
warn_case "-k -c with --allowfile" no -k -c cat --allowfile "$T/allow.txt" 0
warn_case "no -e or -c" no 0
# A Unix socket's file permissions say who may connect: no warning.
"$TLSNC" -v -l -U "$T/warn.sock" -e cat < /dev/null > /dev/null \
    2> "$T/uwarn.err" &
UPID=$!
BG_PIDS="$BG_PIDS $UPID"
if wait_for "$T/uwarn.err" "Listening on"; then
	check "warning, -U -e: absent" \
	    sh -c "! grep -q 'anyone who can connect' '$T/uwarn.err'"
else
	not_ok "warning, -U -e: the listener started"
fi
kill -TERM "$UPID"
wait_pid "$UPID" 30 > /dev/null

# --- Errors.
# usage_line DESC LINE ARGS...: status 2, LINE and the --help hint.
usage_line() {
	_d=$1
	printf '%s\n%s\n' "$2" "$TRY" > "$T/want.err"
	shift 2
	run_limited 30 "$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_got=$?
	if status_is "$ST_USAGE" "$_got" && cmp -s "$T/want.err" "$T/err" &&
	    [ ! -s "$T/out" ]; then
		ok "$_d"
	else
		diag_file "$T/err"
		not_ok "$_d"
	fi
}
usage_line "--allow without -l" \
    "tlsnc: --allow is for a listener: it needs -l" \
    --allow 127.0.0.1 127.0.0.1 9
usage_line "--deny without -l, with --ssl" \
    "tlsnc: --deny is for a listener: it needs -l" \
    --ssl --deny 127.0.0.1 127.0.0.1 9
usage_line "--allowfile without -l" \
    "tlsnc: --allowfile is for a listener: it needs -l" \
    --allowfile "$T/allow.txt" 127.0.0.1 9
usage_line "--denyfile without -l" \
    "tlsnc: --denyfile is for a listener: it needs -l" \
    --denyfile "$T/deny.txt" 127.0.0.1 9
usage_line "-z with --allow" "tlsnc: cannot use -z and --allow together" \
    -z --allow 127.0.0.1 127.0.0.1 9
usage_line "-z with --denyfile" \
    "tlsnc: cannot use -z and --denyfile together" \
    -z --denyfile "$T/deny.txt" 127.0.0.1 9
usage_line "-U with --allow" "tlsnc: cannot use --allow and -U together" \
    -l -U "$T/never.sock" --allow 127.0.0.1
usage_line "-u with --deny" "tlsnc: cannot use --deny and -u together" \
    -l -u --deny 127.0.0.1 127.0.0.1 0
usage_line "IPv4 prefix /33" \
    "tlsnc: --allow: '10.0.0.0/33': an IPv4 prefix length is at most 32" \
    -l --allow 10.0.0.0/33 0
usage_line "IPv6 prefix /129, with --ssl" \
    "tlsnc: --deny: 'fe80::/129': an IPv6 prefix length is at most 128" \
    -l --ssl --deny fe80::/129 0
usage_line "a bad IPv4 address in a list" \
    "tlsnc: --allow: '300.1.2.3': it is not an IPv4 address" \
    -l -k --allow ::1,300.1.2.3 0
usage_line "an octet range" \
    "tlsnc: --deny: '10.0.0.1-9': octet ranges are not supported; give a CIDR range, as 10.0.0.0/24" \
    -l --deny 10.0.0.1-9 0
usage_line "an empty --allow" \
    "tlsnc: --allow: no address, range or host name given" -l --allow '' 0

# file_error DESC STATUS LINE ARGS...: exactly LINE on stderr (no hint:
# the command line itself was fine), and STATUS.
file_error() {
	_d=$1 _st=$2
	printf '%s\n' "$3" > "$T/want.err"
	shift 3
	run_limited 30 "$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_got=$?
	if status_is "$_st" "$_got" && cmp -s "$T/want.err" "$T/err" &&
	    [ ! -s "$T/out" ]; then
		ok "$_d"
	else
		diag_file "$T/err"
		not_ok "$_d"
	fi
}
printf '# line 1\n127.0.0.1\n\n10.0.0.1 127.0.0.0/33  # line 4\n' \
    > "$T/bad.txt"
file_error "a bad line in --allowfile names FILE:LINE" "$ST_USAGE" \
    "tlsnc: $T/bad.txt:4: '127.0.0.0/33': an IPv4 prefix length is at most 32" \
    -l --allowfile "$T/bad.txt" 0
file_error "a bad line in --denyfile, with --ssl" "$ST_USAGE" \
    "tlsnc: $T/bad.txt:4: '127.0.0.0/33': an IPv4 prefix length is at most 32" \
    -l -k --ssl --denyfile "$T/bad.txt" 0
file_error "a missing --allowfile" "$ST_USAGE" \
    "tlsnc: --allowfile: cannot open '$T/none.txt': No such file or directory" \
    -l --allowfile "$T/none.txt" 0
file_error "a directory as --denyfile" "$ST_USAGE" \
    "tlsnc: --denyfile: reading '$T': Is a directory" \
    -l --denyfile "$T" 0
file_error "a host name with -n" "$ST_USAGE" \
    "tlsnc: --allow: 'localhost' is a host name, and -n forbids resolving names" \
    -l -n --allow localhost 0
printf '127.0.0.1\nlocalhost\n' > "$T/names.txt"
file_error "a host name in a file with -n" "$ST_USAGE" \
    "tlsnc: $T/names.txt:2: 'localhost' is a host name, and -n forbids resolving names" \
    -l -n --allowfile "$T/names.txt" 0
run_limited 60 "$TLSNC" -l --deny nonexistent.invalid 0 < /dev/null \
    > "$T/out" 2> "$T/err"
rc=$?
check "a name that does not resolve: status 1" status_is 1 "$rc"
check "a name that does not resolve: one line naming it" sh -c \
    "[ \$(wc -l < '$T/err') -eq 1 ] && grep -q \"^tlsnc: --deny: cannot resolve 'nonexistent.invalid': \" '$T/err'"

done_testing

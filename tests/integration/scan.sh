#!/bin/sh
# -z: a parallel port scan of loopback.  Two -k listeners on ports the
# kernel chose are the open ports; two ports whose listeners have exited
# are the closed ones.  Checked: the exact -v and -vv lines in port order,
# nothing on stdout, the exit statuses, the concurrency, several lists,
# and the usage errors.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

ST_USAGE=2
H=127.0.0.1

# open_port: start a -k listener; sets PORT.
open_port() {
	listen_tlsnc "$T/lo.$1" "$T/le.$1" /dev/null -k -l "$H" 0 || return 1
	PORT=$LPORT
}

# closed_port: a port a listener held and has given up; sets PORT.
closed_port() {
	listen_tlsnc "$T/co.$1" "$T/ce.$1" /dev/null -l "$H" 0 || return 1
	PORT=$LPORT
	kill "$LPID" 2>/dev/null
	wait "$LPID" 2>/dev/null
	return 0
}

open_port 1 && O1=$PORT
open_port 2 && O2=$PORT
closed_port 1 && C1=$PORT
closed_port 2 && C2=$PORT
if [ -z "${O1:-}" ] || [ -z "${O2:-}" ] || [ -z "${C1:-}" ] ||
    [ -z "${C2:-}" ]; then
	not_ok "listeners for the scan"
	done_testing
fi

# The line OpenBSD nc prints for an open port, with its service name.
open_line() {
	_sv=$(getent services "$1/tcp" | awk '{ print $1 }')
	echo "Connection to $H $1 port [tcp/${_sv:-*}] succeeded!"
}

closed_line() {
	echo "tlsnc: connect to $H port $1 (tcp) failed: Connection refused"
}

# Expected output: -v lists the open ports, -vv all of them, in port order.
for p in $O1 $O2; do
	echo "$p $(open_line "$p")"
done | sort -n | cut -d' ' -f2- > "$T/want.v"
{
	for p in $O1 $O2; do
		echo "$p $(open_line "$p")"
	done
	for p in $C1 $C2; do
		echo "$p $(closed_line "$p")"
	done
} | sort -n | cut -d' ' -f2- > "$T/want.vv"

# scan NAME WANT-STATUS WANT-STDERR ARGS...: run tlsnc with ARGS; its status
# and stderr must be exactly these, and stdout empty.
scan() {
	_name=$1 _st=$2 _want=$3
	shift 3
	"$TLSNC" "$@" < /dev/null > "$T/out" 2> "$T/err"
	_rc=$?
	if [ "$_rc" -eq "$_st" ] && cmp -s "$T/err" "$_want" &&
	    [ ! -s "$T/out" ]; then
		ok "$_name"
		return
	fi
	not_ok "$_name"
	diag "status $_rc (want $_st); stderr:"
	diag_file "$T/err"
	diag "wanted:"
	diag_file "$_want"
	diag "stdout:"
	diag_file "$T/out"
}

: > "$T/none"
LIST="$C2,$O2,$C1-$C1,$O1"
scan "-v: the open ports in port order, status 0" 0 "$T/want.v" \
    -v -z "$H" "$LIST"
scan "-vv: closed ports too, in port order" 0 "$T/want.vv" \
    -vv -z "$H" "$LIST"
scan "no -v: nothing printed, status 0" 0 "$T/none" -z "$H" "$LIST"
scan "--scan-concurrency 1 gives the same result" 0 "$T/want.vv" \
    -vv -z --scan-concurrency 1 "$H" "$LIST"
scan "several port lists as arguments" 0 "$T/want.vv" \
    -vv -z "$H" "$O1" "$C1,$C2" "$O2-$O2"
scan "only closed ports: status 1, nothing under -v" 1 "$T/none" \
    -v -z "$H" "$C1,$C2"
for p in $C1 $C2; do
	echo "$p $(closed_line "$p")"
done | sort -n | cut -d' ' -f2- > "$T/want.closed"
scan "only closed ports under -vv" 1 "$T/want.closed" \
    -vv -z "$H" "$C2,$C1"
scan "a second scan of the -k listeners finds them again" 0 \
    "$T/want.v" -v -z "$H" "$O1,$O2"

# usage NAME MESSAGE ARGS...: status 2, the message, and the hint line.
usage() {
	_name=$1
	{
		echo "tlsnc: $2"
		echo "Try 'tlsnc --help' for more information."
	} > "$T/want.usage"
	shift 2
	scan "$_name" "$ST_USAGE" "$T/want.usage" "$@"
}

usage "-z with -l" "cannot use -z and -l together" -z -l "$H" 1
usage "-z --ssl with --ssl-reconnect" "cannot use -z and --ssl-reconnect \
together: a scan makes a session per port" -z --ssl --ssl-reconnect 1 "$H" 1
usage "-z with -p" "cannot use -z and -p together" -z -p 5000 "$H" 1
usage "-z with -s" "cannot use -z and -s together" -z -s "$H" "$H" 1
usage "--scan-concurrency without -z" "--scan-concurrency needs -z" \
    --scan-concurrency 4 "$H" 1
usage "--scan-concurrency 0" \
    "--scan-concurrency: invalid number of connections '0'" \
    -z --scan-concurrency 0 "$H" 1
usage "-z without ports" "no ports given (tlsnc -z host ports)" -z "$H"
usage "a reversed range" \
    "invalid port range '9-1': the first port is above the last" \
    -z "$H" 9-1
usage "an empty entry" "invalid port list '1,,2': an empty entry" \
    -z "$H" 1,,2
usage "a bad list among several" \
    "invalid port 'nosuchservice': not a number or a known service name" \
    -z "$H" 1-2 nosuchservice
usage "port 0" "invalid port '0': must be 1 to 65535" -z "$H" 0

done_testing

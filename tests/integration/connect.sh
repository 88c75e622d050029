#!/bin/sh
# Connecting: time values, host spellings, the source address's family, the
# listener's addresses and the connect-with hint, name resolution under -w,
# and racing several addresses (RFC 8305, Happy Eyeballs).
#
# The cases that need names or unreachable addresses run in namespaces of
# their own: a mount namespace with its own /etc/hosts and resolv.conf, and
# a network namespace whose addresses drop every packet.  They are skipped
# where unshare(1) or a veth pair is not allowed.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

ST_USAGE=2

ms() {
	date +%s%3N
}

# only_line FILE TEXT: FILE holds exactly the one line TEXT.
only_line() {
	if [ "$(wc -l < "$1")" -eq 1 ] && has_line "$1" "$2"; then
		return 0
	fi
	diag "expected only the line: $2"
	diag_file "$1"
	return 1
}

# usage_error DESC TEXT ARGS...: "tlsnc ARGS" exits 2 with the line
# "tlsnc: TEXT" (and the --help hint after an option error), nothing more.
usage_error() {
	_d=$1 _t=$2
	shift 2
	client "$T/c.out" "$T/c.err" /dev/null "$@"
	check "$_d: exit status 2" status_is $ST_USAGE "$CST"
	sed -i "/^Try 'tlsnc --help' for more information.\$/d" "$T/c.err"
	check "$_d: the message" only_line "$T/c.err" "tlsnc: $_t"
}

# --- Time values that round to 0 ms are refused, with the reason.
usage_error "-w 0.0001" "-w: 0.0001 seconds is less than the smallest unit, 1 ms" \
    -w 0.0001 127.0.0.1 1
usage_error "-i 0.0004" "-i: 0.0004 seconds is less than the smallest unit, 1 ms" \
    -i 0.0004 127.0.0.1 1
usage_error "-q 0.0001" "-q: 0.0001 seconds is less than the smallest unit, 1 ms" \
    -q 0.0001 127.0.0.1 1

# --- An IPv6 address in brackets, as a URL writes it: drop the brackets.
usage_error "client [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    '[::1]' 1
usage_error "listener [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    -l '[::1]' 0
usage_error "-s [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    -s '[::1]' ::1 1

done_testing

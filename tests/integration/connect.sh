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
# shellcheck disable=SC2317  # called through check
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
usage_error "-w 0.0001" "-w: 0.0001 is less than the smallest unit, 1 ms" \
    -w 0.0001 127.0.0.1 1
usage_error "-i 0.0004" "-i: 0.0004 is less than the smallest unit, 1 ms" \
    -i 0.0004 127.0.0.1 1
usage_error "-q 0.0001" "-q: 0.0001 is less than the smallest unit, 1 ms" \
    -q 0.0001 127.0.0.1 1

# --- An IPv6 address in brackets, as a URL writes it: drop the brackets.
usage_error "client [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    '[::1]' 1
usage_error "listener [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    -l '[::1]' 0
usage_error "-s [::1]" "'[::1]': give an IPv6 address without brackets: ::1" \
    -s '[::1]' ::1 1

# --- The dual-stack listener: another listener holds the IPv6 side of the
# port (-6), so a listener with no host fails and names the address and the
# port, rather than taking IPv4 alone.
have_v6=false
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	have_v6=true
fi
if ! $have_v6; then
	skip 3 "no IPv6"
elif listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -6 -l 0; then
	run_limited 10 "$TLSNC" -l "$LPORT" < /dev/null > "$T/c.out" \
	    2> "$T/c.err"
	CST=$?
	check "-l PORT, IPv6 side taken: exit status 1" status_is 1 "$CST"
	check "-l PORT, IPv6 side taken: the message" only_line "$T/c.err" \
	    "tlsnc: cannot listen on :: port $LPORT (IPv6 and IPv4): Address already in use"
	check "-6 -l: the holder still listens" kill -0 "$LPID"
	kill "$LPID" 2>/dev/null
	listener_status 10
else
	not_ok "-6 -l: listener did not start"
fi

# --- The "connect with" line of an ephemeral listener names an address the
# listener takes, and the command works as printed.
printf 'pinned\n' > "$T/small"
for args in "-6 -l --ssl 0" "-4 -l --ssl 0" "-l --ssl 0" \
    "-l --ssl 0.0.0.0 0"; do
	case $args in
	-6*)		want=::1 ;;
	-4*|*0.0.0.0*)	want=127.0.0.1 ;;
	*)		want=localhost ;;
	esac
	# shellcheck disable=SC2086  # $args: the options, split
	if [ "$want" = ::1 ] && ! $have_v6; then
		skip 3 "no IPv6"
	elif listen_tlsnc "$T/l.out" "$T/l.err" /dev/null $args; then
		PIN=$(pin_of "$T/l.err")
		check "$args: the connect-with line names $want" has_line \
		    "$T/l.err" "tlsnc: connect with: tlsnc --ssl --ssl-pin $PIN $want $LPORT"
		CMD=$(sed -n 's/^tlsnc: connect with: tlsnc //p' "$T/l.err")
		# shellcheck disable=SC2086  # the printed words, split
		client "$T/c.out" "$T/c.err" "$T/small" $CMD
		listener_status
		both_ok "$args: the printed command"
	else
		not_ok "$args: listener did not start"
	fi
done

# --- The namespaces.  A holder process keeps a network namespace and a
# mount namespace alive; commands enter both with nsenter.  In them:
# - loopback is up (127.0.0.1 and ::1);
# - 10.99.0.5, 2001:db8:99::5 and 2001:db8:99::6 are reached through a
#   veth pair, with neighbour entries that name a MAC address nobody has:
#   every packet to them is dropped, and a connect to them hangs;
# - the name server is 10.99.0.53, dropped in the same way, so a name that
#   is not in /etc/hosts gets no answer;
# - /etc/hosts names the cases below.
cat > "$T/hosts" <<'END'
127.0.0.1 localhost
::1 localhost
::1 dual.test
127.0.0.1 dual.test
127.0.0.1 v4only.test
2001:db8:99::5 he.test
127.0.0.1 he.test
2001:db8:99::5 dead.test
2001:db8:99::6 dead.test
10.99.0.5 dead.test
END
printf 'nameserver 10.99.0.53\noptions timeout:5 attempts:2\n' > "$T/resolv"

# The holder's setup; it writes "ready" to $3 and then waits for ever.
cat > "$T/ns-setup" <<'END'
set -e
mount --bind "$1" /etc/hosts
mount --bind "$2" /etc/resolv.conf
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip addr add 10.99.0.1/24 dev v0
ip -6 addr add 2001:db8:99::1/64 dev v0 nodad
for a in 10.99.0.5 10.99.0.53; do
	ip neigh replace "$a" lladdr 02:00:00:00:00:05 dev v0 nud permanent
done
for a in 2001:db8:99::5 2001:db8:99::6; do
	ip -6 neigh replace "$a" lladdr 02:00:00:00:00:05 dev v0 \
	    nud permanent
done
echo ready > "$3"
exec tail -f /dev/null
END
NSPID=""
: > "$T/ns-ready"
unshare -m -n sh "$T/ns-setup" "$T/hosts" "$T/resolv" "$T/ns-ready" \
    > "$T/ns.err" 2>&1 &
_holder=$!
BG_PIDS="$BG_PIDS $_holder"
if wait_for "$T/ns-ready" ready 10 > /dev/null; then
	NSPID=$_holder
else
	diag "no namespaces here (unshare -m -n, or a veth pair, refused):"
	diag_file "$T/ns.err"
fi

# Entering a mount namespace also resets the root directory to that
# namespace's root, which in a chroot (make check-fresh) is not ours: -r and
# -w keep the holder's root and working directory.
# A wrapper that runs tlsnc in the namespaces; ns FUNCTION ARGS... calls a
# function of lib.sh (listen_tlsnc, client) with TLSNC in them.
printf '#!/bin/sh\nexec nsenter -t "%s" -m -n -r -w "%s" "$@"\n' "$NSPID" \
    "$TLSNC" > "$T/ns-tlsnc"
chmod +x "$T/ns-tlsnc"
ns() {
	_real=$TLSNC
	TLSNC=$T/ns-tlsnc
	"$@"
	_st=$?
	TLSNC=$_real
	return $_st
}

# in_ns COMMAND...: any command in the namespaces.
in_ns() {
	nsenter -t "$NSPID" -m -n -r -w "$@"
}

# order_of NAME: the addresses NAME resolves to in the namespaces, in the
# resolver's order, on one line.
order_of() {
	in_ns getent ahosts "$1" |
	    awk '/STREAM/ { printf "%s%s", s, $1; s = " " }'
}

# --- -w covers name resolution: a name server that never answers, -w 1.
if [ -z "$NSPID" ]; then
	skip 3 "no namespaces here"
else
	t0=$(ms)
	ns client "$T/c.out" "$T/c.err" /dev/null -w 1 nowhere.test 80
	t1=$(ms)
	check "resolution under -w 1: exit status 3" status_is 3 "$CST"
	check "resolution under -w 1: the message" only_line "$T/c.err" \
	    "tlsnc: cannot resolve 'nowhere.test': timed out"
	check "resolution under -w 1: about 1 s (took $((t1 - t0)) ms)" \
	    test $((t1 - t0)) -ge 950 -a $((t1 - t0)) -lt 4000
fi

# --- -s picks the family: dual.test resolves to ::1 first, -s 127.0.0.1
# skips it and connects over IPv4.
printf 'over IPv4\n' > "$T/small"
if [ -z "$NSPID" ]; then
	skip 4 "no namespaces here"
elif [ "$(order_of dual.test)" != "::1 127.0.0.1" ]; then
	skip 4 "dual.test does not resolve to ::1 first here: $(order_of dual.test)"
elif ns listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 127.0.0.1 0; then
	ns client "$T/c.out" "$T/c.err" "$T/small" -v -s 127.0.0.1 \
	    dual.test "$LPORT"
	listener_status
	both_ok "-s 127.0.0.1 dual.test"
	check "-s 127.0.0.1 dual.test: connected over IPv4" has_line \
	    "$T/c.err" "tlsnc: Connected to 127.0.0.1:$LPORT"
	check "-s 127.0.0.1 dual.test: data" same_data "$T/small" "$T/l.out"
else
	not_ok "-s 127.0.0.1 dual.test: listener did not start"
fi

# --- -s of one family, and a host with none of that family.
if [ -z "$NSPID" ]; then
	skip 2 "no namespaces here"
else
	ns client "$T/c.out" "$T/c.err" /dev/null -s ::1 v4only.test 1
	check "-s ::1 v4only.test: exit status 1" status_is 1 "$CST"
	check "-s ::1 v4only.test: the message" only_line "$T/c.err" \
	    "tlsnc: -s '::1' is an IPv6 address, but 'v4only.test' has no IPv6 address"
fi
usage_error "-s 127.0.0.1 ::1" \
    "-s '127.0.0.1' is an IPv4 address, but '::1' is an IPv6 address" \
    -s 127.0.0.1 ::1 1

# --- Happy Eyeballs: he.test's first address drops every packet, its
# second (127.0.0.1) listens.  The second attempt starts 250 ms after the
# first, beside it, and wins, well within -w 5 and without -w at all.
HE_ORDER="2001:db8:99::5 127.0.0.1"
for w in "-w 5" ""; do
	what="he.test${w:+ $w}"
	if [ -z "$NSPID" ]; then
		skip 5 "no namespaces here"
	elif [ "$(order_of he.test)" != "$HE_ORDER" ]; then
		skip 5 "he.test resolves in another order here: $(order_of he.test)"
	elif ns listen_tlsnc "$T/l.out" "$T/l.err" /dev/null -l 127.0.0.1 0
	then
		t0=$(ms)
		# shellcheck disable=SC2086  # $w is an option and its value
		run_limited 20 "$T/ns-tlsnc" -v $w he.test "$LPORT" \
		    < "$T/small" > "$T/c.out" 2> "$T/c.err"
		CST=$?
		t1=$(ms)
		listener_status
		both_ok "$what"
		check "$what: connected to the second address" has_line \
		    "$T/c.err" "tlsnc: Connected to 127.0.0.1:$LPORT"
		check "$what: data" same_data "$T/small" "$T/l.out"
		check "$what: after 250 ms and soon (took $((t1 - t0)) ms)" \
		    test $((t1 - t0)) -ge 250 -a $((t1 - t0)) -lt 4000
	else
		not_ok "$what: listener did not start"
	fi
done

# --- Every address of dead.test drops every packet: within -w 1 all three
# are tried, the families taking turns (the resolver gives both IPv6
# addresses first), and the message names each.
DEAD_ORDER="2001:db8:99::5 2001:db8:99::6 10.99.0.5"
if [ -z "$NSPID" ]; then
	skip 3 "no namespaces here"
elif [ "$(order_of dead.test)" != "$DEAD_ORDER" ]; then
	skip 3 "dead.test resolves in another order here: $(order_of dead.test)"
else
	t0=$(ms)
	ns client "$T/c.out" "$T/c.err" /dev/null -w 1 dead.test 80
	t1=$(ms)
	check "dead.test -w 1: exit status 3" status_is 3 "$CST"
	check "dead.test -w 1: names each address, in turn by family" \
	    only_line "$T/c.err" "tlsnc: connect to dead.test port 80: timed out ([2001:db8:99::5]: no answer; 10.99.0.5: no answer; [2001:db8:99::6]: no answer)"
	check "dead.test -w 1: about 1 s (took $((t1 - t0)) ms)" \
	    test $((t1 - t0)) -ge 950 -a $((t1 - t0)) -lt 4000
fi

# --- Every address refuses: each is named with its error.
if [ -z "$NSPID" ]; then
	skip 2 "no namespaces here"
else
	ns client "$T/c.out" "$T/c.err" /dev/null -w 5 dual.test 1
	check "dual.test refused: exit status 1" status_is 1 "$CST"
	check "dual.test refused: names each address" only_line "$T/c.err" \
	    "tlsnc: connect to dual.test port 1: [::1]: Connection refused; 127.0.0.1: Connection refused"
fi

done_testing

#!/bin/sh
# make demo: an encrypted pipe on loopback.  A listener makes an ephemeral
# certificate, a client pinned to its fingerprint sends a random file, and
# the sha256 at both ends is compared.  Exits non-zero if anything fails.
set -u
: "${TLSNC:?TLSNC must name the tlsnc binary}"

MIB=4
LIMIT=30	# seconds for any one step

dir=$(mktemp -d "${TMPDIR:-/tmp}/tlsnc-demo.XXXXXX") || exit 1
lpid=""
cleanup() {
	if [ -n "$lpid" ]; then
		kill "$lpid" 2>/dev/null
		wait "$lpid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "demo: FAILED: $*" >&2
	for f in "$dir/listener.err" "$dir/client.err"; do
		if [ -s "$f" ]; then
			echo "--- ${f##*/}:" >&2
			cat "$f" >&2
		fi
	done
	exit 1
}

sha() {
	sha256sum < "$1" | cut -d' ' -f1
}

head -c $((MIB * 1048576)) /dev/urandom > "$dir/sent" ||
    fail "cannot make the test file"

# The listener: stdin is /dev/null, so it half-closes at once and still
# receives everything.
"$TLSNC" -v -l --ssl 0 < /dev/null > "$dir/received" 2> "$dir/listener.err" &
lpid=$!

# Wait for the readiness line: poll, with a time limit.
i=0
until grep -q '^tlsnc: Listening on ' "$dir/listener.err"; do
	kill -0 "$lpid" 2>/dev/null || fail "the listener exited early"
	i=$((i + 1))
	[ "$i" -le $((LIMIT * 20)) ] || fail "no 'Listening on' line"
	sleep 0.05
done
port=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
    "$dir/listener.err" | head -n 1)
pin=$(sed -n 's/^tlsnc: ephemeral certificate \(SHA256:[0-9a-f]\{64\}\)$/\1/p' \
    "$dir/listener.err" | head -n 1)
[ -n "$port" ] || fail "no port in the listener's output"
[ -n "$pin" ] || fail "no SHA256 fingerprint in the listener's output"

echo "listener: port $port, ephemeral certificate $pin"
echo "sending $MIB MiB of random data through:"
echo "  $TLSNC -v --ssl --ssl-pin $pin localhost $port < file"

timeout -k 5 "$LIMIT" "$TLSNC" -v --ssl --ssl-pin "$pin" localhost "$port" \
    < "$dir/sent" > "$dir/client.out" 2> "$dir/client.err"
crc=$?

# Wait for the listener, with a time limit.
i=0
while kill -0 "$lpid" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt $((LIMIT * 20)) ]; then
		fail "the listener did not finish"
	fi
	sleep 0.05
done
wait "$lpid"
lrc=$?
lpid=""

echo
echo "client's report (stderr):"
sed 's/^/  /' "$dir/client.err"
echo

[ "$crc" -eq 0 ] || fail "the client exited with status $crc"
[ "$lrc" -eq 0 ] || fail "the listener exited with status $lrc"
[ ! -s "$dir/client.out" ] || fail "the client received unexpected data"
grep -q '^tlsnc: verification: ok (pinned certificate)$' "$dir/client.err" ||
    fail "the client did not report a verified pin"

s1=$(sha "$dir/sent")
s2=$(sha "$dir/received")
echo "sha256 sent:     $s1 ($(wc -c < "$dir/sent") bytes)"
echo "sha256 received: $s2 ($(wc -c < "$dir/received") bytes)"
[ "$s1" = "$s2" ] || fail "the data differ"
echo "demo: OK: the file arrived whole over TLS, pinned to the ephemeral" \
    "certificate"

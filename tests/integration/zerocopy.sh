#!/bin/sh
# Zero-copy against read/write: the same random bytes (1, 4095, 65537 bytes
# and a few MiB) go through the splice/sendfile path and through the
# fallback forced with TLSNC_NO_SPLICE=1, both ways, from a pipe and from a
# file, into a pipe and into a file, and arrive exactly.  So do they to a
# slow reader, with tiny socket buffers at the peer, to a terminal (always
# read/write), with -o (read/write, and the recording is exact), into a file
# opened for appending (splice fails there at run time and the flow falls
# back), and over TLS.  The -vv line of each flow says which path it took,
# and strace, where it works, counts the splice calls.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

BIG=$((4 * 1048576 + 3))
for n in 1 4095 65537 "$BIG"; do
	head -c "$n" /dev/urandom > "$T/d.$n"
done
HAVE_PY=false
command -v python3 > /dev/null 2>&1 && HAVE_PY=true

# use MODE: splice (the default path) or rw (TLSNC_NO_SPLICE=1), for every
# tlsnc started from now on.
use() {
	if [ "$1" = rw ]; then
		TLSNC_NO_SPLICE=1
		export TLSNC_NO_SPLICE
	else
		unset TLSNC_NO_SPLICE
	fi
}

# source_of KIND DATA: set SRC to a path to read DATA from, as a file or
# as a pipe (a FIFO that a cat fills).
source_of() {
	SRC=$2
	[ "$1" = file ] && return
	SRC=$T/src.fifo
	rm -f "$SRC"
	mkfifo "$SRC"
	cat "$2" > "$SRC" &
	BG_PIDS="$BG_PIDS $!"
}

# sink_of KIND OUT: set SINK to a path to write OUT through, as a file or
# as a pipe (a FIFO that a cat empties into OUT; its pid in SINKPID).
sink_of() {
	SINK=$2 SINKPID=""
	rm -f "$2"
	[ "$1" = file ] && return
	SINK=$T/sink.fifo
	rm -f "$SINK"
	mkfifo "$SINK"
	cat "$SINK" > "$2" &
	SINKPID=$!
	BG_PIDS="$BG_PIDS $SINKPID"
}

# sink_done: wait for the sink's cat, if there is one.
sink_done() {
	[ -n "$SINKPID" ] && wait_pid "$SINKPID" 30
	return 0
}

# path_said ERR LINE [NOT]: ERR has the -vv line LINE (without "tlsnc: ")
# and no line containing NOT.
path_said() {
	has_line "$1" "tlsnc: $2" || return 1
	[ $# -lt 3 ] || not_has_text "$1" "$3"
}

# say_src KIND MODE / say_dst KIND MODE: the -vv line of the flow that
# reads a KIND into the socket, or writes from the socket into a KIND.
say_src() {
	if [ "$2" = rw ]; then
		echo "read/write ($1 -> socket): TLSNC_NO_SPLICE is set"
	elif [ "$1" = file ]; then
		echo "zero-copy: sendfile (file -> socket)"
	else
		echo "zero-copy: splice (pipe -> socket)"
	fi
}

say_dst() {
	if [ "$2" = rw ]; then
		echo "read/write (socket -> $1): TLSNC_NO_SPLICE is set"
	elif [ "$1" = file ]; then
		echo "zero-copy: splice through a pipe (socket -> file)"
	else
		echo "zero-copy: splice (socket -> pipe)"
	fi
}

# xfer WAY MODE SRC DST SIZE: SIZE random bytes from a SRC (pipe or file)
# into a DST (pipe or file), from the client to the listener (WAY send) or
# from the listener to the client (WAY recv); the other side's input is
# /dev/null.  Three cases: both exit 0, the bytes, the -vv lines.
xfer() {
	_name="$1 $2 $3->$4 $5"
	_data=$T/d.$5
	use "$2"
	if [ "$1" = send ]; then
		sink_of "$4" "$T/x.out"
		listen_tlsnc "$SINK" "$T/l.err" /dev/null -vv -l 127.0.0.1 0 ||
		    { not_ok "$_name: set-up"; return; }
		source_of "$3" "$_data"
		client /dev/null "$T/c.err" "$SRC" -vv 127.0.0.1 "$LPORT"
		listener_status
		_serr=$T/c.err _derr=$T/l.err
	else
		source_of "$3" "$_data"
		listen_tlsnc /dev/null "$T/l.err" "$SRC" -vv -l 127.0.0.1 0 ||
		    { not_ok "$_name: set-up"; return; }
		sink_of "$4" "$T/x.out"
		client "$SINK" "$T/c.err" /dev/null -vv 127.0.0.1 "$LPORT"
		listener_status
		_serr=$T/l.err _derr=$T/c.err
	fi
	sink_done
	check "$_name: exit statuses 0" status_is "0 0" "$CST $LST"
	check "$_name: the same bytes" same_data "$_data" "$T/x.out"
	check "$_name: the -vv paths" path_said "$_serr" \
	    "$(say_src "$3" "$2")" "from here"
	check "$_name: the -vv paths (receiver)" path_said "$_derr" \
	    "$(say_dst "$4" "$2")" "from here"
}

# --- Every size, both ways, both paths.
for mode in splice rw; do
	for way in send recv; do
		for combo in pipe:pipe file:file pipe:file file:pipe; do
			src=${combo%:*} dst=${combo#*:}
			xfer "$way" "$mode" "$src" "$dst" "$BIG"
		done
		for n in 1 4095 65537; do
			xfer "$way" "$mode" pipe pipe "$n"
			xfer "$way" "$mode" file file "$n"
		done
	done
done
use splice

# --- A slow reader and tiny socket buffers (python3).

# A reader that takes at most RATE bytes a second, in reads of uneven size
# (1 to 8192 bytes), from stdin into OUT.
SLOW_READER='
import os, random, sys, time
out = open(sys.argv[1], "wb")
rate = float(sys.argv[2])
start = time.monotonic()
total = 0
while True:
    b = os.read(0, random.randint(1, 8192))
    if not b:
        break
    out.write(b)
    total += len(b)
    ahead = total / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
'

# A peer with a tiny socket buffer: "recv PORT OUT BUF RATE" connects and
# reads slowly (SO_RCVBUF), "send PORT IN BUF" connects and sends in small
# writes (SO_SNDBUF), then half-closes and waits for EOF.
TINY_PEER='
import socket, sys, time
way, port, path, buf = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket()
opt = socket.SO_RCVBUF if way == "recv" else socket.SO_SNDBUF
s.setsockopt(socket.SOL_SOCKET, opt, buf)
s.connect(("127.0.0.1", port))
if way == "recv":
    rate = float(sys.argv[5])
    s.shutdown(socket.SHUT_WR)
    start = time.monotonic()
    total = 0
    with open(path, "wb") as out:
        while True:
            b = s.recv(1500)
            if not b:
                break
            out.write(b)
            total += len(b)
            ahead = total / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
else:
    with open(path, "rb") as f:
        while True:
            b = f.read(700)
            if not b:
                break
            s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
s.close()
'

# slow MODE: the client writes BIG bytes into a pipe read slowly.
slow() {
	use "$1"
	listen_tlsnc /dev/null "$T/l.err" "$T/d.$BIG" -l 127.0.0.1 0 ||
	    { not_ok "slow reader $1: set-up"; return; }
	{ run_limited 60 "$TLSNC" -vv 127.0.0.1 "$LPORT" < /dev/null \
	    2> "$T/c.err"; echo $? > "$T/c.st"; } |
	    python3 -c "$SLOW_READER" "$T/x.out" 16000000
	listener_status
	check "slow reader $1: exit statuses 0" status_is "0 0" \
	    "$(cat "$T/c.st") $LST"
	check "slow reader $1: the same bytes" same_data "$T/d.$BIG" "$T/x.out"
	check "slow reader $1: the -vv path" path_said "$T/c.err" \
	    "$(say_dst pipe "$1")" "from here"
}

# tiny WAY MODE SRC/DST: a peer with a 2 KiB socket buffer, reading
# slowly from the listener (WAY recv, listener input SRC) or sending to
# it (WAY send, listener output DST).
tiny() {
	_name="tiny buffers $1 $2 $3"
	use "$2"
	if [ "$1" = recv ]; then
		source_of "$3" "$T/d.$BIG"
		listen_tlsnc /dev/null "$T/l.err" "$SRC" -vv -l 127.0.0.1 0 ||
		    { not_ok "$_name: set-up"; return; }
		_line=$(say_src "$3" "$2")
	else
		sink_of "$3" "$T/x.out"
		listen_tlsnc "$SINK" "$T/l.err" /dev/null -vv -l 127.0.0.1 0 ||
		    { not_ok "$_name: set-up"; return; }
		_line=$(say_dst "$3" "$2")
	fi
	if [ "$1" = recv ]; then
		run_limited 60 python3 -c "$TINY_PEER" recv "$LPORT" \
		    "$T/x.out" 2048 8000000
	else
		run_limited 60 python3 -c "$TINY_PEER" send "$LPORT" \
		    "$T/d.$BIG" 2048
	fi
	_pst=$?
	listener_status
	[ "$1" = send ] && sink_done
	check "$_name: exit statuses 0" status_is "0 0" "$_pst $LST"
	check "$_name: the same bytes" same_data "$T/d.$BIG" "$T/x.out"
	check "$_name: the -vv path" path_said "$T/l.err" "$_line" "from here"
}

# A raw pty as the client's stdout: "OUT ERR PORT TLSNC ARGS..." runs
# tlsnc with its output on the terminal and copies what arrives into OUT.
ON_PTY='
import os, pty, subprocess, sys, tty
out, err, port = sys.argv[1], sys.argv[2], sys.argv[3]
master, slave = pty.openpty()
tty.setraw(slave)
p = subprocess.Popen(sys.argv[4:] + ["127.0.0.1", port],
                     stdin=subprocess.DEVNULL, stdout=slave,
                     stderr=open(err, "wb"))
os.close(slave)
with open(out, "wb") as f:
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        f.write(b)
sys.exit(p.wait())
'

if $HAVE_PY; then
	slow splice
	slow rw
	for mode in splice rw; do
		tiny recv "$mode" pipe
		tiny recv "$mode" file
		tiny send "$mode" pipe
		tiny send "$mode" file
	done
	use splice
	# --- A terminal: read/write, whatever the environment says.
	if listen_tlsnc /dev/null "$T/l.err" "$T/d.$BIG" -l 127.0.0.1 0; then
		run_limited 60 python3 -c "$ON_PTY" "$T/x.out" "$T/c.err" \
		    "$LPORT" "$TLSNC" -vv
		_cst=$?
		listener_status
		check "terminal: exit statuses 0" status_is "0 0" "$_cst $LST"
		check "terminal: the same bytes" same_data "$T/d.$BIG" \
		    "$T/x.out"
		check "terminal: read/write" path_said "$T/c.err" \
		    "read/write (socket -> terminal): a terminal" "zero-copy"
	else
		not_ok "terminal: set-up"
	fi
else
	skip 33 "python3 is not installed"
fi

# --- -o: the flows read and write, and the recording is exact.
if listen_tlsnc "$T/x.out" "$T/l.err" /dev/null -vv -l 127.0.0.1 0; then
	client /dev/null "$T/c.err" "$T/d.$BIG" -vv -o "$T/rec" 127.0.0.1 \
	    "$LPORT"
	listener_status
	check "-o: exit statuses 0" status_is "0 0" "$CST $LST"
	check "-o: the same bytes" same_data "$T/d.$BIG" "$T/x.out"
	check "-o: the recording is exact" same_data "$T/d.$BIG" "$T/rec"
	check "-o: read/write" path_said "$T/c.err" \
	    "read/write (file -> socket): a data option sees the bytes" \
	    "zero-copy"
	check "-o: the peer without -o splices" path_said "$T/l.err" \
	    "zero-copy: splice through a pipe (socket -> file)"
else
	not_ok "-o: set-up"
fi

# --- Appending: splice refuses such a file, and the flow falls back with
# the bytes already in its pipe.
printf 'before\n' > "$T/app.out"
cat "$T/app.out" "$T/d.$BIG" > "$T/app.want"
: > "$T/l.err"
"$TLSNC" -vv -l 127.0.0.1 0 < /dev/null >> "$T/app.out" 2> "$T/l.err" &
LPID=$!
BG_PIDS="$BG_PIDS $LPID"
if wait_for "$T/l.err" "Listening on"; then
	LPORT=$(sed -n 's/^tlsnc: Listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/l.err")
	client /dev/null "$T/c.err" "$T/d.$BIG" 127.0.0.1 "$LPORT"
	listener_status
	check "append: exit statuses 0" status_is "0 0" "$CST $LST"
	check "append: the same bytes" same_data "$T/app.want" "$T/app.out"
	check "append: falls back at run time" path_said "$T/l.err" \
	    "read/write from here (socket -> file): splice failed: Invalid argument"
else
	not_ok "append: set-up"
fi

# --- TLS: the layer sees the bytes, so read/write, both ways.
for way in send recv; do
	if [ "$way" = send ]; then
		listen_tlsnc "$T/x.out" "$T/l.err" /dev/null -vv -l --ssl \
		    127.0.0.1 0 || { not_ok "TLS $way: set-up"; continue; }
		source_of pipe "$T/d.$BIG"
		client /dev/null "$T/c.err" "$SRC" -vv --ssl --ssl-pin \
		    "$(pin_of "$T/l.err")" 127.0.0.1 "$LPORT"
		_line="read/write (tls -> file): a layer sees the bytes"
		_line2="read/write (pipe -> tls): a layer sees the bytes"
	else
		listen_tlsnc /dev/null "$T/l.err" "$T/d.$BIG" -vv -l --ssl \
		    127.0.0.1 0 || { not_ok "TLS $way: set-up"; continue; }
		sink_of pipe "$T/x.out"
		client "$SINK" "$T/c.err" /dev/null -vv --ssl --ssl-pin \
		    "$(pin_of "$T/l.err")" 127.0.0.1 "$LPORT"
		_line="read/write (file -> tls): a layer sees the bytes"
		_line2="read/write (tls -> pipe): a layer sees the bytes"
	fi
	listener_status
	[ "$way" = recv ] && sink_done
	check "TLS $way: exit statuses 0" status_is "0 0" "$CST $LST"
	check "TLS $way: the same bytes" same_data "$T/d.$BIG" "$T/x.out"
	check "TLS $way: read/write (listener)" path_said "$T/l.err" \
	    "$_line" "zero-copy"
	check "TLS $way: read/write (client)" path_said "$T/c.err" \
	    "$_line2" "zero-copy"
done

# --- strace: the splice path really calls splice, the fallback never.
if command -v strace > /dev/null 2>&1 &&
    strace -f -o /dev/null true > /dev/null 2>&1; then
	for mode in splice rw; do
		use "$mode"
		listen_tlsnc "$T/x.out" "$T/l.err" /dev/null -l 127.0.0.1 0 ||
		    { not_ok "strace $mode: set-up"; continue; }
		rm -f "$T/st.out"
		# LeakSanitizer cannot run under ptrace: leaks are checked
		# by every other case.
		_asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
		cat "$T/d.$BIG" | run_limited 60 env ASAN_OPTIONS="$_asan" \
		    strace -f -o "$T/st.out" -e trace=splice,sendfile,read \
		    "$TLSNC" 127.0.0.1 "$LPORT" > /dev/null 2> "$T/c.err"
		listener_status
		_n=$(grep -c '^[0-9]* *splice(' "$T/st.out")
		_r=$(grep -c '^[0-9]* *read(0,' "$T/st.out")
		check "strace $mode: the same bytes" same_data "$T/d.$BIG" \
		    "$T/x.out"
		if [ "$mode" = splice ]; then
			# A few reads: the first bytes, and EOF.
			check "strace splice: splice calls ($_n), few reads ($_r)" \
			    test "$_n" -gt 10 -a "$_r" -le 4
		else
			check "strace rw: no splice ($_n), reads ($_r)" \
			    test "$_n" -eq 0 -a "$_r" -gt 10
		fi
	done
	use splice
else
	skip 4 "strace is missing or cannot trace here"
fi

done_testing

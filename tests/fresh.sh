#!/bin/sh
# make check-fresh: the README's quick start on a brand-new minimal Debian 12.
#
# As root, it unpacks a debootstrapped minbase bookworm (what container
# images start from) into a new directory, copies the source tree into it,
# and runs there, one after the other, the README's two commands:
#
#	./bootstrap && make demo
#	./bootstrap && make check
#
# It reports each command's exit status and the test summary, and exits 0
# only when both succeeded.
#
# The base is debootstrapped once and kept as a tarball in FRESH_CACHE; each
# run unpacks a new copy of it, so the cache stays pristine.  The packages
# that ./bootstrap downloads are kept there too, so that a later run need not
# fetch them again; apt still installs every one of them in the new copy.
#
# The chroot gets what a machine or a container has and debootstrap does not
# make: the host's /etc/resolv.conf and an /etc/hosts that names localhost.
# /proc, /sys and /dev are mounted in a mount namespace of the script's own,
# so that they never show on the host and vanish with the script at the
# latest; a trap unmounts them before the chroot is removed.
#
# Usage: fresh.sh [--probe] [SRCDIR]
#   SRCDIR   the source tree (default: the one that holds this script).  In a
#            git checkout, the files git tracks are copied as they are in the
#            work tree (uncommitted changes included, untracked files not);
#            otherwise the whole tree, which must not have been configured.
#   --probe  only check that this machine can run it (installing debootstrap
#            if it is missing).
#
# Exit status: 0 both commands succeeded; 1 one of them failed, or the chroot
# could not be made; 77 this machine cannot run it: not root, no debootstrap,
# or the Debian archive out of reach.  Then one line says why:
# "check-fresh: cannot run here: REASON".
#
# Environment:
#   FRESH_CACHE    the cache (default /var/cache/tlsnc-fresh)
#   FRESH_WORK     where the chroot is unpacked (default /var/tmp)
#   FRESH_LOGS     where the logs go (default ./check-fresh-logs)
#   FRESH_MIRROR   the Debian archive (default: the one this machine's apt
#                  uses, from /etc/apt)
#   FRESH_MAX_AGE  make the base again when it is older than this many days
#                  (default 30)
#   FRESH_TIMEOUT  the time limit of each command, in seconds (default 2400)
#   FRESH_KEEP=1   keep the chroot afterwards, to look inside
set -u

SUITE=bookworm
VARIANT=minbase
CACHE=${FRESH_CACHE:-/var/cache/tlsnc-fresh}
WORK=${FRESH_WORK:-/var/tmp}
LOGS=${FRESH_LOGS:-$PWD/check-fresh-logs}
# The archive this machine's apt already uses: the first URIs of a deb822
# source, or the first "deb" line of sources.list.
apt_mirror() {
	{
		cat /etc/apt/sources.list.d/*.sources 2> /dev/null |
		    awk '$1 == "URIs:" { print $2 }'
		awk '$1 == "deb" { print ($2 ~ /^\[/ ? $3 : $2) }' \
		    /etc/apt/sources.list 2> /dev/null
	} | grep -v security | head -n 1
}
MIRROR=${FRESH_MIRROR:-$(apt_mirror)}
MAX_AGE=${FRESH_MAX_AGE:-30}
LIMIT=${FRESH_TIMEOUT:-2400}
# Where the source tree goes inside the chroot, and the PATH there.
INSIDE=/root/tlsnc
INSIDE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# What apt and wget print when the network fails them.
NET_ERRORS="Temporary failure resolving|Could not resolve|Failed to fetch|Could not connect to|Connection timed out|Network is unreachable|Couldn't download|Failed getting release file"

say() {
	echo "check-fresh: $*"
}

# cannot REASON: this machine cannot run the check; exit 77.
cannot() {
	say "cannot run here: $*"
	exit 77
}

# elapsed T0: the time since T0 (seconds since the epoch), as 3m07s.
elapsed() {
	_s=$(( $(date +%s) - $1 ))
	printf '%dm%02ds' $((_s / 60)) $((_s % 60))
}

# net_failed LOG: LOG shows a download that the network failed.
net_failed() {
	grep -Eq "$NET_ERRORS" "$1" 2>/dev/null
}

# probe: return if this machine can run the check, or exit 77 saying why.
# It installs debootstrap when it is missing.
probe() {
	[ "$(id -u)" -eq 0 ] || cannot "it needs root (for chroot and mount)"
	for _t in unshare chroot mount umount mountpoint flock tar timeout; do
		command -v "$_t" > /dev/null 2>&1 ||
		    cannot "$_t is not installed"
	done
	mkdir -p "$LOGS" || cannot "cannot make $LOGS"
	if ! command -v debootstrap > /dev/null 2>&1; then
		command -v apt-get > /dev/null 2>&1 ||
		    cannot "debootstrap is not installed"
		say "installing debootstrap on this machine"
		if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends debootstrap; } \
		    > "$LOGS/apt-debootstrap.log" 2>&1; then
			cannot "debootstrap is not installed, and apt-get" \
			    "could not install it (see $LOGS/apt-debootstrap.log)"
		fi
	fi
	# debootstrap downloads with wget, which it depends on.
	command -v wget > /dev/null 2>&1 || cannot "wget is not installed"
	[ -n "$MIRROR" ] ||
	    cannot "no Debian archive found in /etc/apt: set FRESH_MIRROR"
	wget -q -T 15 -t 2 -O /dev/null "$MIRROR/dists/$SUITE/InRelease" ||
	    cannot "the Debian archive $MIRROR cannot be reached"
}

# inside_mounts DIR: DIR or something under it is a mount point.
inside_mounts() {
	awk -v d="$1/" 'index($5 "/", d) == 1 { found = 1 }
	    END { exit !found }' /proc/self/mountinfo
}

# remove_tree DIR: delete a chroot tree, unless something is still mounted
# in it (then say so and leave it: rm must never walk into /dev or /sys).
remove_tree() {
	if inside_mounts "$1"; then
		say "not removing $1: something is still mounted in it" >&2
		return 1
	fi
	rm -rf --one-file-system "$1"
}

# make_base BASE: debootstrap a new base and keep it as the tarball BASE.
make_base() {
	say "debootstrap --variant=$VARIANT $SUITE from $MIRROR" \
	    "(kept in $1 for later runs)"
	_t0=$(date +%s)
	_new=$(mktemp -d "$WORK/tlsnc-base.XXXXXX") || return 1
	# The tree becomes "/": mktemp's mode 700 would lock out other users.
	chmod 755 "$_new"
	if ! debootstrap --variant="$VARIANT" "$SUITE" "$_new" "$MIRROR" \
	    > "$LOGS/debootstrap.log" 2>&1; then
		remove_tree "$_new"
		if net_failed "$LOGS/debootstrap.log"; then
			cannot "debootstrap could not download from $MIRROR" \
			    "(see $LOGS/debootstrap.log)"
		fi
		say "debootstrap failed; the end of $LOGS/debootstrap.log:"
		tail -n 30 "$LOGS/debootstrap.log"
		return 1
	fi
	if ! tar --numeric-owner -C "$_new" -czf "$1.new" . ||
	    ! mv -f "$1.new" "$1"; then
		rm -f "$1.new"
		remove_tree "$_new"
		say "cannot write $1"
		return 1
	fi
	remove_tree "$_new"
	say "base made in $(elapsed "$_t0")"
}

# copy_source SRC DEST: copy the source tree as a new clone would have it.
copy_source() {
	if command -v git > /dev/null 2>&1 &&
	    _top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) &&
	    [ "$_top" = "$(cd "$1" && pwd -P)" ]; then
		_what="HEAD $(git -C "$1" rev-parse --short HEAD)"
		if [ -n "$(git -C "$1" status --porcelain \
		    --untracked-files=no)" ]; then
			_what="$_what, with uncommitted changes"
		fi
		say "source: the files git tracks in $1 ($_what)"
		(cd "$1" && git ls-files -z |
		    tar --null -T - --ignore-failed-read -cf -) |
		    tar -C "$2" -xf -
	elif [ -e "$1/config.status" ] || [ -e "$1/Makefile" ]; then
		say "$1 is not a git checkout and has been configured;" \
		    "give a clean source tree"
		return 1
	else
		say "source: a copy of $1"
		tar -C "$1" -cf - . | tar -C "$2" -xf -
	fi
	[ -x "$2/bootstrap" ] || { say "no bootstrap script in the copy"; return 1; }
}

# mount_all: make the chroot a mount point of its own (as a container's
# root is, so that "unshare -m" works inside it), then mount /proc, /sys and
# /dev (with /dev/pts) in it, and the package cache when this run has it to
# itself.
mount_all() {
	mount --bind "$ROOT" "$ROOT" || return 1
	mount -t proc proc "$ROOT/proc" || return 1
	mount -t sysfs sysfs "$ROOT/sys" 2>/dev/null ||
	    mount --rbind /sys "$ROOT/sys" || return 1
	mount --rbind /dev "$ROOT/dev" || return 1
	if [ -n "$DEBS" ]; then
		mount --bind "$DEBS" "$ROOT/var/cache/apt/archives" || return 1
	fi
}

# umount_all: undo mount_all (lazily if something there is still busy).
umount_all() {
	inside_mounts "$ROOT" || return 0
	umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT"
}

# kill_inside: end what this run left running in the chroot (the processes
# whose root is the chroot).
kill_inside() {
	for _p in /proc/[0-9]*; do
		[ "$(readlink "$_p/root" 2>/dev/null)" = "$ROOT" ] || continue
		kill -KILL "${_p#/proc/}" 2>/dev/null
	done
}

cleanup() {
	[ -n "$ROOT" ] || return 0
	kill_inside
	umount_all
	if [ "${FRESH_KEEP:-0}" = 1 ]; then
		say "the chroot is kept in $ROOT"
	else
		remove_tree "$ROOT"
	fi
}

# run_inside NAME COMMAND: run COMMAND with sh in the source tree in the
# chroot, as root, with a minimal environment and no stdin, within the time
# limit; its output goes to $LOGS/NAME.log.  Returns its exit status.  The
# command runs in the background, so that a signal to this script is acted
# on at once (its trap then ends what runs in the chroot).
run_inside() {
	say "running: $2  (log: $LOGS/$1.log)"
	_t0=$(date +%s)
	timeout -k 10 "$LIMIT" chroot "$ROOT" /usr/bin/env -i HOME=/root \
	    PATH="$INSIDE_PATH" /bin/sh -c "cd $INSIDE && $2" \
	    < /dev/null > "$LOGS/$1.log" 2>&1 &
	wait "$!"
	_st=$?
	say "$2: exit status $_st ($(elapsed "$_t0"))"
	return "$_st"
}

# report_check LOG: the test summary of a make check log, the tests that
# were skipped and those that failed.
report_check() {
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR): ' "$1"
	grep -E '^SKIP: ' "$1" | sed 's/^/check-fresh: skipped: /'
	grep -E '^(FAIL|ERROR|XPASS): ' "$1" | sed 's/^/check-fresh: failed: /'
}

# failures LOG: from a test-suite.log, the name of each test that did not
# pass, and each failed case with the TAP comments around it (a script's
# diagnostics come before its "not ok", cmocka's after).
failures() {
	awk '/^==+$/ && prev ~ /^[A-Z]+: / { print "--- " prev }
	    { prev = $0 }
	    /^#/ { if (after) print; else held = held $0 "\n"; next }
	    /^not ok/ { printf "%s", held; print; held = ""; after = 1; next }
	    /^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): / { next }
	    { held = ""; after = 0 }' "$1" | head -n 150
}

# in_namespace SRC: the run proper, in a mount namespace of its own.
in_namespace() {
	_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
	_base="$CACHE/$SUITE-$VARIANT-$_arch.tar.gz"
	_start=$(date +%s)
	ROOT=""
	DEBS=""
	trap cleanup EXIT
	trap 'say "interrupted: cleaning up"; exit 1' INT TERM HUP

	# One run at a time makes the base; the others wait for it.
	exec 9> "$CACHE/base.lock"
	flock -w 3600 9 || { say "the base is locked by another run"; exit 1; }
	if [ ! -s "$_base" ] ||
	    [ -n "$(find "$_base" -mtime +"$MAX_AGE" 2>/dev/null)" ]; then
		make_base "$_base" || exit 1
	else
		say "base: $_base (made $(date -r "$_base" '+%F %R'))"
	fi
	exec 9>&-

	_t0=$(date +%s)
	ROOT=$(mktemp -d "$WORK/tlsnc-fresh.XXXXXX") || exit 1
	# The real path, as /proc/PID/root shows it (see kill_inside).
	ROOT=$(cd "$ROOT" && pwd -P) || exit 1
	chmod 755 "$ROOT"
	tar --numeric-owner -C "$ROOT" -xpzf "$_base" ||
	    { say "cannot unpack $_base"; exit 1; }
	mkdir -p "$ROOT$INSIDE"
	copy_source "$1" "$ROOT$INSIDE" || exit 1
	rm -f "$ROOT/etc/resolv.conf"
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" ||
	    { say "cannot copy /etc/resolv.conf"; exit 1; }
	if [ ! -e "$ROOT/etc/hosts" ]; then
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		    > "$ROOT/etc/hosts"
	fi
	# The package cache is shared by the runs, but used by one at a time;
	# the lock is held (fd 8) until the end of this run.
	mkdir -p "$CACHE/debs"
	exec 8> "$CACHE/debs.lock"
	if flock -n 8; then
		DEBS="$CACHE/debs"
	else
		exec 8>&-
		say "another run uses $CACHE/debs: downloading afresh"
	fi
	mount_all || { say "cannot mount /proc, /sys and /dev in $ROOT"; exit 1; }
	say "a fresh $SUITE $VARIANT in $ROOT, ready in $(elapsed "$_t0")"

	run_inside demo './bootstrap && make demo'
	_demo=$?
	if [ "$_demo" -eq 0 ]; then
		grep -E '^(sha256|demo: )' "$LOGS/demo.log"
	else
		say "the end of $LOGS/demo.log:"
		tail -n 40 "$LOGS/demo.log"
	fi

	run_inside check './bootstrap && make check'
	_check=$?
	cp "$ROOT$INSIDE/test-suite.log" "$LOGS/test-suite.log" 2>/dev/null
	report_check "$LOGS/check.log"
	if [ "$_check" -ne 0 ]; then
		if [ -f "$LOGS/test-suite.log" ]; then
			say "the failed cases in $LOGS/test-suite.log:"
			failures "$LOGS/test-suite.log"
		else
			say "the end of $LOGS/check.log:"
			tail -n 40 "$LOGS/check.log"
		fi
	fi
	[ -n "$DEBS" ] && chroot "$ROOT" apt-get -qq autoclean \
	    > /dev/null 2>&1

	if [ "$_demo" -eq 0 ] && [ "$_check" -eq 0 ]; then
		say "PASS: both commands succeeded in a fresh $SUITE" \
		    "$VARIANT ($(elapsed "$_start") in all)"
		exit 0
	fi
	# A download that the network failed is not the project's failure.
	for _log in "$LOGS/demo.log" "$LOGS/check.log"; do
		if net_failed "$_log" &&
		    ! grep -q '^# TOTAL: ' "$_log"; then
			cannot "apt-get in the chroot could not download" \
			    "(see $_log)"
		fi
	done
	say "FAIL: make demo exit status $_demo, make check exit status" \
	    "$_check ($(elapsed "$_start") in all)"
	exit 1
}

if [ "${1:-}" = --in-namespace ]; then
	in_namespace "$2"
fi
probe_only=false
if [ "${1:-}" = --probe ]; then
	probe_only=true
	shift
fi
src=${1:-$(dirname "$0")/..}
src=$(cd "$src" && pwd -P) || exit 1
probe
$probe_only && exit 0
mkdir -p "$CACHE" "$WORK" || exit 1
exec unshare --mount --propagation private sh "$0" --in-namespace "$src"

#!/bin/sh
# Real servers for the STARTTLS tests (tests/integration/starttls_servers.sh),
# each on a loopback port of its own under one temporary directory, with
# the test PKI's server certificate (localhost, 127.0.0.1).
#
#   setup.sh install           install the missing packages (root only)
#   setup.sh start DIR PKI     start what can start; DIR/servers.env says
#                              where (NAME_PORT=...) and DIR/status how:
#                              "NAME ok" or "NAME skip: why", one line each
#   setup.sh stop DIR          stop them all
#
# The servers run as the calling user, or as nobody when that is root
# (INN's nnrpd as news).  They are never reached from outside 127.0.0.1,
# and nothing outside DIR is changed (but install may give the system's
# /etc/news/inn.conf a domain, which inn2's package needs to configure).
# To try a server by hand:
#
#   d=$(mktemp -d); sh tests/servers/setup.sh start "$d" tests/tmp/pki
#   . "$d/servers.env"; echo 'a LOGOUT' |
#       ./tlsnc -v --starttls imap --ssl-trustfile tests/tmp/pki/ca.pem \
#       localhost "$IMAP_PORT"
#   sh tests/servers/setup.sh stop "$d"

set -u

# The Debian packages of the servers (not in ./bootstrap's base list: only
# these tests need them).
PACKAGES="postgresql dovecot-imapd dovecot-pop3d dovecot-lmtpd
dovecot-managesieved slapd vsftpd prosody exim4-daemon-light
inspircd inn2"

# The test password of the one mail user, "test".
MAIL_PASS=secret

# missing_packages: those of PACKAGES not (wholly) installed.
missing_packages() {
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || printf ' %s' "$p"
	done
}

# inn2's post-installation script stops when the host name has no domain
# (INN makes Message-IDs from the FQDN), which leaves it half-configured
# and every later apt-get failing.  Give the package's inn.conf a domain,
# only if it sets none, and configure it again.
configure_inn2() {
	dpkg-query -W -f='${Status}' inn2 2>/dev/null |
	    grep -q 'install ok installed' && return 0
	[ -f /etc/news/inn.conf ] || return 0
	echo "setup.sh: inn2 is not configured; configuring it again," \
	    "with a domain in /etc/news/inn.conf if it has none" >&2
	grep -q '^domain:' /etc/news/inn.conf ||
	    sed -i 's/^#domain:.*/domain: localdomain/' /etc/news/inn.conf
	dpkg --configure inn2 > /dev/null
}

install() {
	missing=$(missing_packages)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: not root; cannot install:$missing" >&2
		return 1
	fi
	echo "setup.sh: installing:$missing" >&2
	# Services are started here, by the tests, not by the packages.
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086  # a list of package names
	apt-get install -y --no-install-recommends $missing > /dev/null
	configure_inn2
	missing=$(missing_packages)
	if [ -n "$missing" ]; then
		# Perhaps the package lists were stale.
		apt-get update -q > /dev/null
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing > /dev/null
		configure_inn2
		missing=$(missing_packages)
	fi
	[ -z "$missing" ] && return 0
	echo "setup.sh: still not installed:$missing" >&2
	return 1
}

# free_port: a TCP port that nothing listens on just now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# run_as USER:GROUP CMD...: run as USER when root, else as the caller.
run_as() {
	_as=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="${_as%:*}" --regid="${_as#*:}" --clear-groups \
		    -- "$@"
	else
		"$@"
	fi
}

# as_user CMD...: run as the servers' user.
as_user() {
	run_as nobody:nogroup "$@"
}

# run_bg_as USER:GROUP NAME CMD...: run a server that stays in the
# foreground, in the background as USER (when root), with its output in
# DIR/NAME.log and its pid (its own, through exec) in DIR/NAME.pid.
run_bg_as() {
	_as=$1
	_name=$2
	shift 2
	(if [ "$(id -u)" -eq 0 ]; then
		exec setpriv --reuid="${_as%:*}" --regid="${_as#*:}" \
		    --clear-groups -- "$@"
	fi
	exec "$@") > "$D/$_name.log" 2>&1 &
	echo $! > "$D/$_name.pid"
}

# run_bg NAME CMD...: the same, as the servers' user.
run_bg() {
	run_bg_as nobody:nogroup "$@"
}

# wait_port PORT [SECONDS]: until something listens on 127.0.0.1:PORT.
wait_port() {
	_i=0
	while [ "$_i" -lt $(( ${2:-20} * 50 )) ]; do
		ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.02
		_i=$((_i + 1))
	done
	return 1
}

# result NAME PORTVAR PORT | result NAME skip WHY
ok() {
	echo "$1 ok" >> "$D/status"
	echo "$2=$3" >> "$D/servers.env"
}

skipped() {
	echo "$1 skip: $2" >> "$D/status"
}

# find_bin NAME DIR...: the first DIR/NAME that exists, or NAME on PATH.
find_bin() {
	_n=$1
	shift
	for _d in "$@"; do
		[ -x "$_d/$_n" ] && { echo "$_d/$_n"; return 0; }
	done
	command -v "$_n"
}

start_postgres() {
	initdb=$(find_bin initdb /usr/lib/postgresql/*/bin) ||
	    { skipped postgres "no initdb"; return; }
	pgctl=$(dirname "$initdb")/pg_ctl
	port=$(free_port)
	if ! as_user "$initdb" -D "$D/pg" -A trust -U postgres --no-sync \
	    > "$D/pg-init.log" 2>&1; then
		skipped postgres "initdb failed: $(tail -n 1 "$D/pg-init.log")"
		return
	fi
	if ! as_user "$pgctl" -D "$D/pg" -l "$D/pg.log" -w -t 30 -o \
	    "-p $port -k $D -c listen_addresses=127.0.0.1 -c ssl=on \
	    -c ssl_cert_file=$D/server.pem -c ssl_key_file=$D/server.key \
	    -c fsync=off" start > "$D/pg-start.log" 2>&1; then
		skipped postgres "pg_ctl start failed: $(tail -n 1 "$D/pg.log")"
		return
	fi
	ok postgres PG_PORT "$port"
}

stop_postgres() {
	pgctl=$(find_bin pg_ctl /usr/lib/postgresql/*/bin) || return 0
	[ -d "$D/pg" ] && as_user "$pgctl" -D "$D/pg" -m immediate stop \
	    > /dev/null 2>&1
	return 0
}

# Dovecot, rootless: IMAP, POP3, LMTP and ManageSieve, one user "test"
# whose mail is a Maildir under DIR/mail.
start_dovecot() {
	command -v dovecot > /dev/null || { skipped dovecot "not installed"; return; }
	user=$(as_user id -un)
	group=$(as_user id -gn)
	imap=$(free_port) pop3=$(free_port) lmtp=$(free_port) sieve=$(free_port)
	mkdir -p "$D/dovecot/run" "$D/mail"
	cat > "$D/dovecot/dovecot.conf" <<EOC
base_dir = $D/dovecot/run
state_dir = $D/dovecot/state
log_path = $D/dovecot/log
protocols = imap pop3 lmtp sieve
listen = 127.0.0.1
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
ssl = yes
ssl_cert = <$D/server.pem
ssl_key = <$D/server.key
auth_mechanisms = plain
passdb {
  driver = static
  args = password=$MAIL_PASS
}
userdb {
  driver = static
  args = uid=$user gid=$group home=$D/mail/%n
}
mail_location = maildir:~/Maildir
postmaster_address = postmaster@localhost
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = 0
  }
}
service managesieve-login {
  chroot =
  inet_listener sieve {
    port = $sieve
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
protocol lmtp {
  ssl = yes
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOC
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D/dovecot" "$D/mail"
	if ! as_user dovecot -c "$D/dovecot/dovecot.conf" \
	    > "$D/dovecot-start.log" 2>&1 || ! wait_port "$imap" ||
	    ! wait_port "$pop3" || ! wait_port "$lmtp" || ! wait_port "$sieve"
	then
		skipped dovecot "did not start: $(tail -n 1 "$D/dovecot/log" \
		    "$D/dovecot-start.log" 2>/dev/null | grep . | tail -n 1)"
		return
	fi
	ok dovecot IMAP_PORT "$imap"
	echo "POP3_PORT=$pop3" >> "$D/servers.env"
	echo "LMTP_PORT=$lmtp" >> "$D/servers.env"
	echo "SIEVE_PORT=$sieve" >> "$D/servers.env"
	echo "MAIL_DIR=$D/mail/test/Maildir" >> "$D/servers.env"
	echo "MAIL_PASS=$MAIL_PASS" >> "$D/servers.env"
}

# slapd with an empty mdb database for dc=test.
start_slapd() {
	slapd=$(find_bin slapd /usr/sbin) || { skipped slapd "not installed"; return; }
	port=$(free_port)
	mkdir -p "$D/ldap"
	cat > "$D/slapd.conf" <<EOC
include /etc/ldap/schema/core.schema
pidfile $D/slapd.pid
argsfile $D/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile $D/ca.pem
TLSCertificateFile $D/server.pem
TLSCertificateKeyFile $D/server.key
database mdb
suffix "dc=test"
rootdn "cn=admin,dc=test"
rootpw secret
directory $D/ldap
EOC
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D/ldap" "$D/slapd.conf"
	if ! as_user "$slapd" -f "$D/slapd.conf" -h "ldap://127.0.0.1:$port/" \
	    > "$D/slapd-start.log" 2>&1 || ! wait_port "$port"; then
		skipped slapd "did not start: $(tail -n 1 "$D/slapd-start.log")"
		return
	fi
	ok slapd LDAP_PORT "$port"
}

# vsftpd, anonymous and read-only, which must log in over TLS.
start_vsftpd() {
	vsftpd=$(find_bin vsftpd /usr/sbin) || { skipped vsftpd "not installed"; return; }
	port=$(free_port)
	mkdir -p "$D/ftp" "$D/ftp-empty"
	cat > "$D/vsftpd.conf" <<EOC
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
run_as_launching_user=YES
anonymous_enable=YES
anon_root=$D/ftp
local_enable=NO
write_enable=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=NO
require_ssl_reuse=NO
rsa_cert_file=$D/server.pem
rsa_private_key_file=$D/server.key
secure_chroot_dir=$D/ftp-empty
seccomp_sandbox=NO
xferlog_enable=NO
EOC
	# vsftpd reads only a configuration file of its own user's.
	[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$D/vsftpd.conf"
	run_bg vsftpd "$vsftpd" "$D/vsftpd.conf"
	if ! wait_port "$port"; then
		skipped vsftpd "did not start: $(tail -n 1 "$D/vsftpd.log")"
		return
	fi
	ok vsftpd FTP_PORT "$port"
}

# Prosody, for c2s on one port, which requires TLS before SASL, and for
# s2s on another, which requires TLS before dialback.
start_prosody() {
	command -v prosody > /dev/null || { skipped prosody "not installed"; return; }
	port=$(free_port)
	s2s=$(free_port)
	mkdir -p "$D/prosody"
	cat > "$D/prosody/prosody.cfg.lua" <<EOC
data_path = "$D/prosody"
daemonize = false
log = { { levels = { min = "info" }, to = "file",
  filename = "$D/prosody/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_ports = { }
s2s_ports = { $s2s }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "saslauth", "tls", "ping", "dialback" }
modules_disabled = { "posix" }
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_plain"
VirtualHost "localhost"
  ssl = { certificate = "$D/server.pem", key = "$D/server.key" }
EOC
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D/prosody"
	run_bg prosody prosody --config "$D/prosody/prosody.cfg.lua"
	if ! wait_port "$port" || ! wait_port "$s2s"; then
		skipped prosody "did not start: $(tail -n 1 \
		    "$D/prosody/prosody.log" 2>/dev/null)"
		return
	fi
	ok prosody XMPP_PORT "$port"
	echo "XMPP_S2S_PORT=$s2s" >> "$D/servers.env"
}

# Exim for SMTP, delivering mail for @localhost to one mbox file.  Given
# -C, it drops its privileges: it runs wholly as the servers' user.
start_exim() {
	exim=$(find_bin exim4 /usr/sbin) || { skipped exim "not installed"; return; }
	port=$(free_port)
	mkdir -p "$D/exim/spool"
	cat > "$D/exim/exim.conf" <<EOC
primary_hostname = mx.test
spool_directory = $D/exim/spool
log_file_path = $D/exim/%slog
pid_file_path = $D/exim/exim.pid
exim_user = $(as_user id -un)
exim_group = $(as_user id -gn)
never_users =
keep_environment =
local_interfaces = <; 127.0.0.1
daemon_smtp_ports = $port
tls_advertise_hosts = *
tls_certificate = $D/server.pem
tls_privatekey = $D/server.key
domainlist local_domains = localhost
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny
begin routers
local:
  driver = accept
  domains = +local_domains
  transport = mbox
begin transports
mbox:
  driver = appendfile
  file = $D/exim/mailbox
  user = $(as_user id -un)
begin retry
*  *  F,1h,15m
EOC
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D/exim"
	run_bg exim "$exim" -C "$D/exim/exim.conf" -bdf
	if ! wait_port "$port"; then
		skipped exim "did not start: $(tail -n 1 "$D/exim.log")"
		return
	fi
	ok exim SMTP_PORT "$port"
	echo "MBOX=$D/exim/mailbox" >> "$D/servers.env"
}

# InspIRCd with its starttls module (IRCv3 STARTTLS, numeric 670).
start_inspircd() {
	ircd=$(find_bin inspircd /usr/sbin) || { skipped inspircd "not installed"; return; }
	port=$(free_port)
	mkdir -p "$D/ircd"
	echo "tlsnc test" > "$D/ircd/motd"
	cat > "$D/ircd/inspircd.conf" <<EOC
<config format="xml">
<server name="irc.test" description="tlsnc test" network="Test">
<admin name="admin" nick="admin" email="admin@irc.test">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="120" sendq="262144"
  recvq="8192" threshold="10" commands="20" localmax="10" globalmax="10"
  useident="no" limit="100">
<pid file="$D/ircd/inspircd.pid">
<path configdir="$D/ircd" datadir="$D/ircd" logdir="$D/ircd"
  moduledir="/usr/lib/inspircd/modules" runtimedir="$D/ircd">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default"
  target="$D/ircd/ircd.log">
<files motd="$D/ircd/motd">
<dns server="127.0.0.1" timeout="1">
<module name="ssl_gnutls">
<module name="starttls">
<sslprofile name="Clients" provider="gnutls" certfile="$D/server.pem"
  keyfile="$D/server.key" hash="sha256" requestclientcert="no">
<starttls provider="Clients">
EOC
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D/ircd"
	run_bg inspircd "$ircd" --config="$D/ircd/inspircd.conf" --nofork
	if ! wait_port "$port"; then
		skipped inspircd "did not start: $(tail -n 1 "$D/inspircd.log")"
		return
	fi
	ok inspircd IRC_PORT "$port"
}

# INN's nnrpd, the NNTP reader server, as a standalone daemon (-D) in the
# foreground (-f), with its own inn.conf (INNCONF) and everything under
# DIR/inn: one group, local.test, holding one article in the spool, whose
# overview makehistory builds.  It runs as the news user, the only one
# that may run innbind, which binds nnrpd's port; it logs only to syslog.
start_inn() {
	nnrpd=$(find_bin nnrpd /usr/lib/news/bin) ||
	    { skipped inn2 "not installed"; return; }
	bin=$(dirname "$nnrpd")
	port=$(free_port)
	i=$D/inn
	mkdir -p "$i/etc" "$i/db" "$i/run" "$i/log" "$i/tmp" \
	    "$i/spool/articles/local/test" "$i/spool/overview"
	cp "$D/server.pem" "$i/etc/cert.pem"
	cp "$D/server.key" "$i/etc/key.pem"
	cp "$D/ca.pem" "$i/etc/ca.pem"
	cat > "$i/etc/inn.conf" <<EOC
domain: localdomain
pathhost: news.test
runasuser: news
runasgroup: news
mta: "/bin/false %s"
nnrpdloadlimit: 0
ovmethod: tradindexed
hismethod: hisv6
pathnews: $(dirname "$bin")
pathbin: $bin
pathetc: $i/etc
pathdb: $i/db
pathrun: $i/run
pathlog: $i/log
pathtmp: $i/tmp
pathspool: $i/spool
tlscertfile: $i/etc/cert.pem
tlskeyfile: $i/etc/key.pem
tlscafile: $i/etc/ca.pem
EOC
	cat > "$i/etc/readers.conf" <<EOC
auth "local" {
    hosts: "127.0.0.1"
    default: "<local>"
}
access "local" {
    users: "<local>"
    newsgroups: "*"
    access: R
}
EOC
	printf 'method tradspool {\n    newsgroups: *\n    class: 0\n}\n' \
	    > "$i/etc/storage.conf"
	printf 'local.test 0000000001 0000000001 y\n' > "$i/db/active"
	printf 'local.test\tThe tlsnc test group.\n' > "$i/db/newsgroups"
	cat > "$i/spool/articles/local/test/1" <<EOC
Path: news.test!not-for-mail
From: tester <tester@news.test>
Newsgroups: local.test
Subject: over nntp and tls
Date: Fri, 04 Dec 2026 00:00:00 +0000
Message-ID: <first@news.test>
Xref: news.test local.test:1

hello from the spool
EOC
	chmod 600 "$i/etc/key.pem"
	as_news=$(id -un):$(id -gn)
	if [ "$(id -u)" -eq 0 ]; then
		as_news=news:news
		chown -R news:news "$i"
	fi
	if ! run_as "$as_news" env INNCONF="$i/etc/inn.conf" \
	    "$bin/makehistory" -O -x > "$D/makehistory.log" 2>&1; then
		skipped inn2 "makehistory failed: $(tail -n 1 \
		    "$D/makehistory.log")"
		return
	fi
	run_bg_as "$as_news" inn2 env INNCONF="$i/etc/inn.conf" \
	    "$nnrpd" -D -f -n -b 127.0.0.1 -p "$port"
	if ! wait_port "$port"; then
		skipped inn2 "nnrpd did not start as $as_news (it logs only to \
syslog; innbind, which binds its port, runs only for the news user)"
		return
	fi
	ok inn2 NNTP_PORT "$port"
}

start() {
	D=$1
	PKI=$2
	mkdir -p "$D" || return 1
	: > "$D/status"
	: > "$D/servers.env"
	cp "$PKI/server.pem" "$PKI/server.key" "$PKI/ca.pem" "$D/" || return 1
	chmod 755 "$D"
	chmod 600 "$D/server.key"
	[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$D"
	start_postgres
	start_dovecot
	start_slapd
	start_vsftpd
	start_prosody
	start_exim
	start_inspircd
	start_inn
	return 0
}

stop() {
	D=$1
	stop_postgres
	for pidfile in "$D"/*.pid "$D"/dovecot/run/master.pid; do
		[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
	done
	return 0
}


case ${1:-} in
install)
	install ;;
start)
	[ $# -eq 3 ] || { echo "usage: setup.sh start DIR PKI" >&2; exit 2; }
	start "$2" "$3" ;;
stop)
	[ $# -eq 2 ] || { echo "usage: setup.sh stop DIR" >&2; exit 2; }
	stop "$2" ;;
*)
	echo "usage: setup.sh install | start DIR PKI | stop DIR" >&2
	exit 2 ;;
esac

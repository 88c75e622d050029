#!/bin/sh
# --starttls against real servers, started by tests/servers/setup.sh on
# loopback ports with the test PKI: PostgreSQL, Dovecot for IMAP, POP3,
# LMTP and ManageSieve, slapd, vsftpd, Prosody (c2s and s2s), Exim,
# InspIRCd and INN's nnrpd.  Each case upgrades, verifies the server
# against the test CA, and does one real exchange over TLS: SELECT 1; a
# mail delivered over LMTP that lands in the Maildir; IMAP LOGIN and LIST;
# POP3 STAT that finds that mail; ManageSieve AUTHENTICATE and LISTSCRIPTS;
# an LDAP search of the root DSE; an anonymous FTP login and SYST; an XMPP
# client stream whose features over TLS offer SASL PLAIN, and a server
# stream whose features offer dialback; a mail over SMTP that lands in
# Exim's mbox; an IRC registration; NNTP CAPABILITIES, GROUP and ARTICLE.
# A server that does not start is reported as skipped, with the reason.
# shellcheck source=tests/integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh"

pki || { not_ok "make the test PKI"; done_testing; }
SETUP="$TOP_SRCDIR/tests/servers/setup.sh"
D=$(mktemp -d "${TMPDIR:-/tmp}/tlsnc-servers.XXXXXX")
trap 'sh "$SETUP" stop "$D"; rm -rf "$D"; cleanup' EXIT
sh "$SETUP" start "$D" "$PKI" > "$D/setup.log" 2>&1
# shellcheck disable=SC1091
. "$D/servers.env"
diag_file "$D/status"

# up NAME: the server started (else the reason, for a skip).
up() {
	WHY=$(sed -n "s/^$1 skip: //p" "$D/status")
	grep -qx "$1 ok" "$D/status"
}

# exchange PROTO PORT INPUT PATTERN [ARGS...]: send INPUT after the
# upgrade, and keep stdin open until the output has a line matching
# PATTERN (the servers close at the first EOF), at most 20 s.  ARGS go to
# tlsnc.  Sets CST.
exchange() {
	rm -f "$T/out"
	(printf '%b' "$3"
	    i=0
	    while [ "$i" -lt 1000 ] && ! grep -aq -- "$4" "$T/out" 2>/dev/null
	    do
		sleep 0.02
		i=$((i + 1))
	    done) | (_p=$1 _port=$2; shift 4
	    run_limited 30 "$TLSNC" -v --starttls "$_p" "$@" \
	    --ssl-trustfile "$PKI/ca.pem" localhost "$_port") \
	    > "$T/out" 2> "$T/err"
	CST=$?
}

# verified: -v said the chain and the name were verified.
verified() {
	has_text "$T/err" "verification: ok (trusted chain, name localhost)"
}

if up postgres; then
	# StartupMessage (protocol 3.0, user and database postgres), Query
	# "SELECT 1", Terminate.
	exchange postgres "$PG_PORT" '\0\0\0\051\0\03\0\0user\0postgres\0database\0postgres\0\0Q\0\0\0\015SELECT 1\0X\0\0\0\04' 'SELECT 1'
	check "postgres: status 0" status_is 0 "$CST"
	check "postgres: verified against the test CA" verified
	check "postgres: SELECT 1 completed over TLS" \
	    grep -aq 'SELECT 1' "$T/out"
else
	skip 3 "postgres: $WHY"
fi

if up dovecot; then
	exchange lmtp "$LMTP_PORT" 'LHLO client.test\r\nMAIL FROM:<sender@localhost>\r\nRCPT TO:<test>\r\nDATA\r\nSubject: over lmtp and tls\r\n\r\nhello\r\n.\r\nQUIT\r\n' '^221'
	check "lmtp: status 0" status_is 0 "$CST"
	check "lmtp: verified against the test CA" verified
	check "lmtp: the mail was accepted" grep -aq '^250 2.0.0 <test>' "$T/out"
	check "lmtp: the mail landed in the Maildir" \
	    grep -rqs '^Subject: over lmtp and tls' "$MAIL_DIR/new"

	exchange imap "$IMAP_PORT" "a LOGIN test $MAIL_PASS\r\nb LIST \"\" \"*\"\r\nc LOGOUT\r\n" '^c OK'
	check "imap: status 0" status_is 0 "$CST"
	check "imap: verified against the test CA" verified
	check "imap: LOGIN over TLS" grep -aq '^a OK' "$T/out"
	check "imap: LIST shows INBOX" grep -aq '^\* LIST .* INBOX' "$T/out"

	exchange pop3 "$POP3_PORT" "USER test\r\nPASS $MAIL_PASS\r\nSTAT\r\nQUIT\r\n" '^+OK Logging out'
	check "pop3: status 0" status_is 0 "$CST"
	check "pop3: verified against the test CA" verified
	check "pop3: STAT finds the mail delivered over LMTP" \
	    grep -aq '^+OK 1 ' "$T/out"

	exchange sieve "$SIEVE_PORT" 'AUTHENTICATE "PLAIN" "AHRlc3QAc2VjcmV0"\r\nLISTSCRIPTS\r\nLOGOUT\r\n' '^OK "Logout'
	check "sieve: status 0" status_is 0 "$CST"
	check "sieve: verified against the test CA" verified
	check "sieve: logged in and listed over TLS" \
	    grep -aq '^OK "Listscripts' "$T/out"
else
	skip 13 "dovecot: $WHY"
fi

if up slapd; then
	# SearchRequest (message 2) of the root DSE for namingContexts.
	exchange ldap "$LDAP_PORT" '\060\065\002\001\002\143\060\004\000\012\001\000\012\001\000\002\001\000\002\001\000\001\001\000\207\013objectClass\060\020\004\016namingContexts' 'dc=test'
	check "ldap: status 0" status_is 0 "$CST"
	check "ldap: verified against the test CA" verified
	check "ldap: the search over TLS found dc=test" \
	    grep -aq 'namingContexts.*dc=test' "$T/out"
else
	skip 3 "slapd: $WHY"
fi

if up vsftpd; then
	# vsftpd ends a session without close_notify: status 6 says so.
	exchange ftp "$FTP_PORT" 'USER anonymous\r\nPASS x\r\nSYST\r\nQUIT\r\n' '^221'
	check "ftp: vsftpd closes without close_notify: status 6" \
	    status_is 6 "$CST"
	check "ftp: verified against the test CA" verified
	check "ftp: anonymous login, which vsftpd allows only over TLS" \
	    grep -aq '^230 Login successful' "$T/out"
	check "ftp: SYST over TLS" grep -aq '^215 ' "$T/out"
else
	skip 4 "vsftpd: $WHY"
fi

if up prosody; then
	# The stream again, over TLS: now SASL PLAIN is offered, which
	# Prosody keeps for encrypted streams.
	exchange xmpp "$XMPP_PORT" "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" '</stream:features>'
	check "xmpp: status 0" status_is 0 "$CST"
	check "xmpp: verified against the test CA" verified
	check "xmpp: over TLS the features offer SASL PLAIN" \
	    grep -aq '<mechanism>PLAIN</mechanism>' "$T/out"
else
	skip 3 "prosody: $WHY"
fi

if up prosody; then
	# Server to server: the new stream over TLS, from a server that
	# Prosody does not know; it offers dialback (no starttls again).
	exchange xmpp-server "$XMPP_S2S_PORT" "<?xml version='1.0'?><stream:stream to='localhost' from='peer.test' version='1.0' xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams'>" '</stream:features>' \
	    --starttls-name localhost
	check "xmpp-server: status 0" status_is 0 "$CST"
	check "xmpp-server: verified against the test CA" verified
	# Prosody orders the attributes anyhow.
	grep -ao '<stream:stream [^>]*>' "$T/out" > "$T/header"
	check "xmpp-server: over TLS Prosody answered with a server stream" \
	    has_text "$T/header" "xmlns='jabber:server'"
	check "xmpp-server: addressed to the peer that the stream named" \
	    has_text "$T/header" "to='peer.test'"
	check "xmpp-server: over TLS the features offer dialback only" \
	    grep -aq "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>" "$T/out"
else
	skip 5 "prosody (s2s): $WHY"
fi

# mail_landed: Exim's mbox got the mail, received over TLS.  Exim delivers
# after its reply, in a process of its own: wait for it, at most 20 s.
mail_landed() {
	wait_for "$MBOX" '^Subject: over smtp and tls' 20 &&
	    has_text "$MBOX" 'with esmtps'
}

if up exim; then
	# BDAT (CHUNKING) rather than DATA: it may be sent without waiting.
	body='Subject: over smtp and tls\r\n\r\nhello\r\n'
	n=$(printf '%b' "$body" | wc -c | tr -d ' ')
	exchange smtp "$SMTP_PORT" "EHLO client.test\r\nMAIL FROM:<sender@localhost>\r\nRCPT TO:<test@localhost>\r\nBDAT $n LAST\r\n$body""QUIT\r\n" '^221'
	check "smtp: status 0" status_is 0 "$CST"
	check "smtp: verified against the test CA" verified
	check "smtp: the mail was accepted" grep -aq '^250 OK id=' "$T/out"
	check "smtp: the mail landed in the mailbox, received over TLS" \
	    mail_landed
else
	skip 4 "exim: $WHY"
fi

if up inspircd; then
	exchange irc "$IRC_PORT" 'NICK tester\r\nUSER tester 0 * :tlsnc\r\n' ' 376 tester '
	check "irc: status 0" status_is 0 "$CST"
	check "irc: verified against the test CA" verified
	check "irc: registered over TLS (001 welcome)" \
	    grep -aq '^:irc.test 001 tester ' "$T/out"
else
	skip 3 "inspircd: $WHY"
fi

if up inn2; then
	exchange nntp "$NNTP_PORT" 'CAPABILITIES\r\nGROUP local.test\r\nARTICLE 1\r\nQUIT\r\n' '^205'
	check "nntp: status 0" status_is 0 "$CST"
	check "nntp: verified against the test CA" verified
	# INN offers AUTHINFO USER (plaintext passwords) only under TLS,
	# and STARTTLS only before it.
	check "nntp: over TLS the capabilities offer AUTHINFO USER" \
	    grep -aq '^AUTHINFO USER' "$T/out"
	check "nntp: over TLS the capabilities no longer offer STARTTLS" \
	    not_has_text "$T/out" STARTTLS
	check "nntp: GROUP over TLS" grep -aq '^211 1 1 1 local.test' "$T/out"
	check "nntp: ARTICLE over TLS read the spool's article" \
	    sh -c 'grep -aq "^220 1 <first@news.test>" "$1" &&
	    grep -aq "^Subject: over nntp and tls" "$1"' sh "$T/out"
else
	skip 6 "inn2: $WHY"
fi

done_testing

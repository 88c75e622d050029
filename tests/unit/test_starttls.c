/*
 * Unit tests for STARTTLS (src/starttls_parse.c, src/starttls.c).
 *
 * The reply parsers get replies written after the ones real servers send
 * (Postfix, Dovecot, vsftpd, slapd, Prosody, INN, ngIRCd), some recorded
 * from the servers of tests/servers/setup.sh (INN's nnrpd, Prosody's s2s
 * port), then every prefix of each (a split reply is not complete),
 * malformed and oversized ones, and random bytes.  The layer then runs whole dialogues against a
 * scripted server on a socketpair: success, each refusal with its status,
 * and plaintext after the go-ahead, in the same read or later.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cases.h"
#include "starttls.h"
#include "stream.h"

#define WATCHDOG_SECS	60

/* --- The parsers, on whole replies. */

struct pcase {
	const char	*name;
	starttls_parser	*parse;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	enum starttls_verdict want;
	size_t		 used;		/* ALL: the whole input */
};

#define ALL	((size_t)-1)

/* A reply that ends a step's judging, as opposed to a bad one. */
static bool
complete(enum starttls_verdict v)
{
	return v == STV_OK || v == STV_REFUSED || v == STV_NOT_OFFERED;
}

#define EHLO_POSTFIX "250-mx.example.org\r\n250-PIPELINING\r\n" \
	"250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n" \
	"250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define IMAP_CAPS "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID " \
	"ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN\r\n" \
	"A1 OK Pre-login capabilities listed, post-login capabilities " \
	"have more.\r\n"
#define POP3_CAPA "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n" \
	"PIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
#define NNTP_CAPS "101 Capability list:\r\nVERSION 2\r\n" \
	"IMPLEMENTATION INN 2.7.1\r\nAUTHINFO\r\nHDR\r\n" \
	"LIST ACTIVE ACTIVE.TIMES DISTRIB.PATS HEADERS NEWSGROUPS " \
	"OVERVIEW.FMT\r\nNEWNEWS\r\nOVER\r\nPOST\r\nREADER\r\nSTARTTLS\r\n.\r\n"
/* Recorded from INN 2.7.1's nnrpd (Debian 12), before and after TLS. */
#define NNTP_INN_CAPS_LIST "LIST ACTIVE ACTIVE.TIMES COUNTS DISTRIB.PATS " \
	"DISTRIBUTIONS HEADERS MODERATORS MOTD NEWSGROUPS OVERVIEW.FMT " \
	"SUBSCRIPTIONS\r\n"
#define NNTP_INN_SASL "SASL SCRAM-SHA-512 SCRAM-SHA-384 SCRAM-SHA-256 " \
	"SCRAM-SHA-224 SCRAM-SHA-1 DIGEST-MD5 CRAM-MD5 NTLM"
#define NNTP_INN_CAPS "101 Capability list:\r\nVERSION 2\r\n" \
	"IMPLEMENTATION INN 2.7.1\r\nAUTHINFO SASL\r\nCOMPRESS DEFLATE\r\n" \
	"HDR\r\n" NNTP_INN_CAPS_LIST "OVER\r\nREADER\r\n" NNTP_INN_SASL \
	"\r\nSTARTTLS\r\nXPAT\r\n.\r\n"
#define NNTP_INN_CAPS_TLS "101 Capability list:\r\nVERSION 2\r\n" \
	"IMPLEMENTATION INN 2.7.1\r\nAUTHINFO USER SASL\r\n" \
	"COMPRESS DEFLATE\r\nHDR\r\n" NNTP_INN_CAPS_LIST \
	"OVER\r\nREADER\r\n" NNTP_INN_SASL " PLAIN LOGIN\r\nXPAT\r\n.\r\n"
#define SIEVE_CAPS "\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n" \
	"\"SIEVE\" \"fileinto reject envelope encoded-character vacation " \
	"subaddress comparator-i;ascii-numeric relational regex imap4flags " \
	"copy include variables body\"\r\n\"NOTIFY\" \"mailto\"\r\n" \
	"\"SASL\" \"PLAIN\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\n" \
	"OK \"Dovecot (Debian) ready.\"\r\n"
#define XMPP_HEAD "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:client' xml:lang='en' " \
	"xmlns:stream='http://etherx.jabber.org/streams' id='4f1c' " \
	"version='1.0' from='example.org'>"
/* Recorded from Prosody 0.12.3's s2s port, before and after TLS. */
#define XMPP_S2S_HEAD "<?xml version='1.0'?><stream:stream " \
	"version='1.0' from='localhost' to='' " \
	"xmlns:stream='http://etherx.jabber.org/streams' " \
	"xmlns='jabber:server' id='b83c6cad-0005-499b-9846-35068eec0c05' " \
	"xml:lang='en' xmlns:db='jabber:server:dialback'>"
#define XMPP_DIALBACK "<dialback xmlns='urn:xmpp:features:dialback'/>"
#define XMPP_TLS "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>" \
	"<required/></starttls>"

/* slapd: success, with the responseName. */
static const char ldap_ok[] =
    "\x30\x24\x02\x01\x01\x78\x1f\x0a\x01\x00\x04\x00\x04\x00"
    "\x8a\x16" "1.3.6.1.4.1.1466.20037";
/* protocolError, "unsupported extended operation". */
static const char ldap_unsupported[] =
    "\x30\x2a\x02\x01\x01\x78\x25\x0a\x01\x02\x04\x00\x04\x1e"
    "unsupported extended operation";
/* unavailable (52), "Could not initialize TLS". */
static const char ldap_unavailable[] =
    "\x30\x24\x02\x01\x01\x78\x1f\x0a\x01\x34\x04\x00\x04\x18"
    "Could not initialize TLS";
/* A notice of disconnection: message ID 0, unavailable. */
static const char ldap_notice[] =
    "\x30\x0c\x02\x01\x00\x78\x07\x0a\x01\x34\x04\x00\x04\x00";
static const char ldap_wrong_id[] =
    "\x30\x0c\x02\x01\x02\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
static const char ldap_bind_response[] =
    "\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
static const char ldap_huge[] = "\x30\x84\x7f\xff\xff\xff\x02\x01\x01";
static const char ldap_indefinite[] = "\x30\x80\x02\x01\x01";
static const char ldap_inner_overrun[] =
    "\x30\x0c\x02\x09\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";

#define BIN(s)	s, sizeof(s) - 1

static const struct pcase parse_cases[] = {
	/* SMTP and LMTP (RFC 5321, 3207), as Postfix and Dovecot say it. */
	{ "smtp greeting", stp_smtp_greeting,
	  "220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n", 0, STV_OK, ALL },
	{ "smtp greeting multi-line", stp_smtp_greeting,
	  "220-mx.example.org ESMTP\r\n220 no UCE\r\n", 0, STV_OK, ALL },
	{ "smtp greeting bare LF", stp_smtp_greeting,
	  "220 mx ESMTP\n", 0, STV_OK, ALL },
	{ "smtp greeting code only", stp_smtp_greeting, "220\r\n", 0, STV_OK,
	  ALL },
	{ "smtp greeting rejects", stp_smtp_greeting,
	  "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected\r\n", 0,
	  STV_REFUSED, ALL },
	{ "smtp greeting busy", stp_smtp_greeting,
	  "421 4.3.2 Service shutting down\r\n", 0, STV_REFUSED, ALL },
	{ "smtp greeting ssh", stp_smtp_greeting,
	  "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 0, STV_MALFORMED, 0 },
	{ "smtp greeting ssh early", stp_smtp_greeting, "SSH-", 0,
	  STV_MALFORMED, 0 },
	{ "smtp greeting http", stp_smtp_greeting,
	  "HTTP/1.1 400 Bad Request\r\n", 0, STV_MALFORMED, 0 },
	{ "smtp greeting 2xx other", stp_smtp_greeting, "250 hello\r\n", 0,
	  STV_MALFORMED, 0 },
	{ "smtp greeting then more", stp_smtp_greeting,
	  "220 ready\r\nEXTRA", 0, STV_OK, 11 },
	{ "smtp ehlo postfix", stp_smtp_ehlo, EHLO_POSTFIX, 0, STV_OK, ALL },
	{ "smtp ehlo no starttls", stp_smtp_ehlo,
	  "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "smtp ehlo starttls only in text", stp_smtp_ehlo,
	  "250-mx says STARTTLS\r\n250 SIZE 1000\r\n", 0, STV_NOT_OFFERED,
	  ALL },
	{ "smtp ehlo starttls last", stp_smtp_ehlo,
	  "250-mx\r\n250 starttls\r\n", 0, STV_OK, ALL },
	{ "smtp ehlo unknown", stp_smtp_ehlo,
	  "502 5.5.2 Error: command not recognized\r\n", 0, STV_NOT_OFFERED,
	  ALL },
	{ "smtp ehlo refused", stp_smtp_ehlo,
	  "550 5.7.1 Access denied\r\n", 0, STV_REFUSED, ALL },
	{ "smtp ehlo garbage line", stp_smtp_ehlo,
	  "250-mx\r\n25x STARTTLS\r\n250 OK\r\n", 0, STV_NOT_OFFERED, ALL },
	{ "lmtp lhlo dovecot", stp_smtp_ehlo,
	  "250-host\r\n250-8BITMIME\r\n250-CHUNKING\r\n"
	  "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
	  "250 SMTPUTF8\r\n", 0, STV_OK, ALL },
	{ "smtp starttls go", stp_smtp_starttls,
	  "220 2.0.0 Ready to start TLS\r\n", 0, STV_OK, ALL },
	{ "smtp starttls injected", stp_smtp_starttls,
	  "220 2.0.0 Ready to start TLS\r\n250 injected\r\n", 0, STV_OK, 30 },
	{ "smtp starttls unavailable", stp_smtp_starttls,
	  "454 4.7.0 TLS not available due to local problem\r\n", 0,
	  STV_REFUSED, ALL },
	{ "smtp starttls unknown", stp_smtp_starttls,
	  "502 5.5.1 Error: command not implemented\r\n", 0, STV_NOT_OFFERED,
	  ALL },
	/* IMAP (RFC 3501), as Dovecot says it. */
	{ "imap greeting", stp_imap_greeting,
	  "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	  "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n", 0,
	  STV_OK, ALL },
	{ "imap greeting preauth", stp_imap_greeting,
	  "* PREAUTH IMAP4rev1 server logged in as smith\r\n", 0, STV_REFUSED,
	  ALL },
	{ "imap greeting bye", stp_imap_greeting,
	  "* BYE Autologout; idle for too long\r\n", 0, STV_REFUSED, ALL },
	{ "imap greeting smtp", stp_imap_greeting, "220 mx ESMTP\r\n", 0,
	  STV_MALFORMED, 0 },
	{ "imap greeting other", stp_imap_greeting, "* NO go away\r\n", 0,
	  STV_MALFORMED, 0 },
	{ "imap capability", stp_imap_capability, IMAP_CAPS, 0, STV_OK, ALL },
	{ "imap capability no starttls", stp_imap_capability,
	  "* CAPABILITY IMAP4rev1 LOGINDISABLED\r\nA1 OK done\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "imap capability starttls elsewhere", stp_imap_capability,
	  "* OK STARTTLS\r\n* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "imap capability bad", stp_imap_capability,
	  "A1 BAD Error in IMAP command\r\n", 0, STV_REFUSED, ALL },
	{ "imap capability other tag", stp_imap_capability,
	  "B7 OK done\r\n", 0, STV_MALFORMED, 0 },
	{ "imap capability odd result", stp_imap_capability,
	  "* CAPABILITY STARTTLS\r\nA1 MAYBE\r\n", 0, STV_MALFORMED, 0 },
	{ "imap starttls go", stp_imap_starttls,
	  "A2 OK Begin TLS negotiation now.\r\n", 0, STV_OK, ALL },
	{ "imap starttls no", stp_imap_starttls,
	  "A2 NO [ALERT] TLS unavailable\r\n", 0, STV_REFUSED, ALL },
	{ "imap starttls injected", stp_imap_starttls,
	  "A2 OK Begin\r\nA3 OK injected\r\n", 0, STV_OK, 13 },
	/* POP3 (RFC 2449, 2595), as Dovecot says it. */
	{ "pop3 greeting", stp_pop3_greeting,
	  "+OK Dovecot (Debian) ready.\r\n", 0, STV_OK, ALL },
	{ "pop3 greeting err", stp_pop3_greeting,
	  "-ERR [SYS/TEMP] too many connections\r\n", 0, STV_REFUSED, ALL },
	{ "pop3 greeting imap", stp_pop3_greeting, "* OK IMAP\r\n", 0,
	  STV_MALFORMED, 0 },
	{ "pop3 greeting early", stp_pop3_greeting, "220 ", 0,
	  STV_MALFORMED, 0 },
	{ "pop3 capa", stp_pop3_capa, POP3_CAPA, 0, STV_OK, ALL },
	{ "pop3 capa no stls", stp_pop3_capa,
	  "+OK\r\nCAPA\r\nTOP\r\nUSER\r\n.\r\n", 0, STV_NOT_OFFERED, ALL },
	{ "pop3 capa unknown", stp_pop3_capa,
	  "-ERR Unknown command.\r\n", 0, STV_NOT_OFFERED, ALL },
	{ "pop3 stls go", stp_pop3_stls,
	  "+OK Begin TLS negotiation now.\r\n", 0, STV_OK, ALL },
	{ "pop3 stls err", stp_pop3_stls,
	  "-ERR TLS support isn't enabled.\r\n", 0, STV_REFUSED, ALL },
	/* FTP (RFC 959, 4217), as vsftpd says it. */
	{ "ftp greeting", stp_ftp_greeting, "220 (vsFTPd 3.0.3)\r\n", 0,
	  STV_OK, ALL },
	{ "ftp greeting free lines", stp_ftp_greeting,
	  "220-Welcome\r\n  any text here\r\n220 ready\r\n", 0, STV_OK, ALL },
	{ "ftp greeting full", stp_ftp_greeting,
	  "421 There are too many connections from your internet address.\r\n",
	  0, STV_REFUSED, ALL },
	{ "ftp auth go", stp_ftp_auth, "234 Proceed with negotiation.\r\n", 0,
	  STV_OK, ALL },
	{ "ftp auth unknown", stp_ftp_auth,
	  "500 AUTH not understood\r\n", 0, STV_NOT_OFFERED, ALL },
	{ "ftp auth refused", stp_ftp_auth,
	  "530 Please login with USER and PASS.\r\n", 0, STV_REFUSED, ALL },
	/* PostgreSQL's answer to SSLRequest. */
	{ "postgres S", stp_postgres_ssl, "S", 0, STV_OK, 1 },
	{ "postgres N", stp_postgres_ssl, "N", 0, STV_NOT_OFFERED, 1 },
	{ "postgres S and more", stp_postgres_ssl, "SX", 0, STV_OK, 1 },
	{ "postgres E old", stp_postgres_ssl,
	  BIN("EFATAL: unsupported frontend protocol\0"), STV_REFUSED, ALL },
	{ "postgres E", stp_postgres_ssl,
	  BIN("E\0\0\0\x18SFATAL\0C08P01\0Mbad\0\0"), STV_REFUSED, ALL },
	{ "postgres other", stp_postgres_ssl, "HTTP/1.1", 0, STV_MALFORMED, 0 },
	/* LDAP (RFC 4511), as slapd says it. */
	{ "ldap success", stp_ldap_starttls, BIN(ldap_ok), STV_OK, ALL },
	{ "ldap unsupported", stp_ldap_starttls, BIN(ldap_unsupported),
	  STV_NOT_OFFERED, ALL },
	{ "ldap unavailable", stp_ldap_starttls, BIN(ldap_unavailable),
	  STV_REFUSED, ALL },
	{ "ldap notice", stp_ldap_starttls, BIN(ldap_notice), STV_REFUSED,
	  ALL },
	{ "ldap wrong id", stp_ldap_starttls, BIN(ldap_wrong_id),
	  STV_MALFORMED, 0 },
	{ "ldap bind response", stp_ldap_starttls, BIN(ldap_bind_response),
	  STV_MALFORMED, 0 },
	{ "ldap huge length", stp_ldap_starttls, BIN(ldap_huge),
	  STV_OVERSIZED, 0 },
	{ "ldap indefinite", stp_ldap_starttls, BIN(ldap_indefinite),
	  STV_MALFORMED, 0 },
	{ "ldap inner overrun", stp_ldap_starttls, BIN(ldap_inner_overrun),
	  STV_MALFORMED, 0 },
	{ "ldap text", stp_ldap_starttls, "220 mx\r\n", 0, STV_MALFORMED, 0 },
	/* XMPP (RFC 6120), as Prosody says it. */
	{ "xmpp features", stp_xmpp_features,
	  XMPP_HEAD "<stream:features>" XMPP_TLS "</stream:features>", 0,
	  STV_OK, ALL },
	{ "xmpp features no tls", stp_xmpp_features,
	  XMPP_HEAD "<stream:features><mechanisms xmlns='urn:ietf:params:"
	  "xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
	  "</stream:features>", 0, STV_NOT_OFFERED, ALL },
	{ "xmpp features empty", stp_xmpp_features,
	  XMPP_HEAD "<stream:features/>", 0, STV_NOT_OFFERED, ALL },
	{ "xmpp stream error", stp_xmpp_features,
	  XMPP_HEAD "<stream:error><host-unknown xmlns='urn:ietf:params:xml:"
	  "ns:xmpp-streams'/></stream:error></stream:stream>", 0, STV_REFUSED,
	  ALL - 16 },
	{ "xmpp features no header", stp_xmpp_features,
	  "<stream:features>" XMPP_TLS "</stream:features>", 0, STV_MALFORMED,
	  0 },
	{ "xmpp features http", stp_xmpp_features, "HTTP/1.0 400\r\n", 0,
	  STV_MALFORMED, 0 },
	{ "xmpp-server features prosody", stp_xmpp_features,
	  XMPP_S2S_HEAD "<stream:features>" XMPP_DIALBACK XMPP_TLS
	  "</stream:features>", 0, STV_OK, ALL },
	{ "xmpp-server features prosody over tls", stp_xmpp_features,
	  XMPP_S2S_HEAD "<stream:features>" XMPP_DIALBACK
	  "</stream:features>", 0, STV_NOT_OFFERED, ALL },
	{ "xmpp proceed", stp_xmpp_proceed,
	  "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 0, STV_OK,
	  ALL },
	{ "xmpp proceed after space", stp_xmpp_proceed,
	  " \n<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 0, STV_OK,
	  ALL },
	{ "xmpp failure", stp_xmpp_proceed,
	  "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
	  0, STV_REFUSED, 50 },
	{ "xmpp proceed wrong ns", stp_xmpp_proceed,
	  "<proceed xmlns='jabber:client'/>", 0, STV_MALFORMED, 0 },
	{ "xmpp message", stp_xmpp_proceed, "<message to='a'>", 0,
	  STV_MALFORMED, 0 },
	/* NNTP (RFC 3977, 4642), as INN says it. */
	{ "nntp greeting", stp_nntp_greeting,
	  "200 news.example.org InterNetNews server INN 2.7.1 ready "
	  "(transit mode)\r\n", 0, STV_OK, ALL },
	{ "nntp greeting no posting", stp_nntp_greeting,
	  "201 news.example.org ready (no posting)\r\n", 0, STV_OK, ALL },
	{ "nntp greeting goodbye", stp_nntp_greeting,
	  "502 You have no permission to talk.  Goodbye!\r\n", 0, STV_REFUSED,
	  ALL },
	{ "nntp greeting inn nnrpd", stp_nntp_greeting,
	  "201 news.test InterNetNews NNRP server INN 2.7.1 ready "
	  "(no posting)\r\n", 0, STV_OK, ALL },
	{ "nntp greeting inn unavailable", stp_nntp_greeting,
	  "400 NNTP server unavailable.  Try later!\r\n", 0, STV_REFUSED,
	  ALL },
	{ "nntp capabilities", stp_nntp_capabilities, NNTP_CAPS, 0, STV_OK,
	  ALL },
	{ "nntp capabilities inn nnrpd", stp_nntp_capabilities, NNTP_INN_CAPS,
	  0, STV_OK, ALL },
	{ "nntp capabilities inn over tls", stp_nntp_capabilities,
	  NNTP_INN_CAPS_TLS, 0, STV_NOT_OFFERED, ALL },
	{ "nntp capabilities no starttls", stp_nntp_capabilities,
	  "101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "nntp capabilities unknown", stp_nntp_capabilities,
	  "500 What?\r\n", 0, STV_NOT_OFFERED, ALL },
	{ "nntp starttls go", stp_nntp_starttls,
	  "382 Begin TLS negotiation now\r\n", 0, STV_OK, ALL },
	{ "nntp starttls refused", stp_nntp_starttls,
	  "580 Can not initiate TLS negotiation\r\n", 0, STV_REFUSED, ALL },
	/* ManageSieve (RFC 5804), as Dovecot says it. */
	{ "sieve capability", stp_sieve_capability, SIEVE_CAPS, 0, STV_OK,
	  ALL },
	{ "sieve capability no starttls", stp_sieve_capability,
	  "\"IMPLEMENTATION\" \"x\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "sieve capability bye", stp_sieve_capability,
	  "BYE \"Too many connections\"\r\n", 0, STV_REFUSED, ALL },
	{ "sieve capability garbage", stp_sieve_capability,
	  "\"STARTTLS\"\r\n220 smtp\r\n", 0, STV_MALFORMED, 0 },
	{ "sieve starttls go", stp_sieve_starttls,
	  "OK \"Begin TLS negotiation now.\"\r\n", 0, STV_OK, ALL },
	{ "sieve starttls no", stp_sieve_starttls,
	  "NO \"TLS not available\"\r\n", 0, STV_REFUSED, ALL },
	{ "sieve starttls capabilities", stp_sieve_starttls,
	  "\"STARTTLS\"\r\nOK\r\n", 0, STV_MALFORMED, 0 },
	/* IRC (the IRCv3 STARTTLS extension). */
	{ "irc 670", stp_irc_starttls,
	  ":irc.example.net 670 * :STARTTLS successful, proceed with TLS "
	  "handshake\r\n", 0, STV_OK, ALL },
	{ "irc notices then 670", stp_irc_starttls,
	  ":irc.example.net NOTICE * :*** Looking up your hostname...\r\n"
	  ":irc.example.net NOTICE * :*** Found your hostname\r\n"
	  ":irc.example.net 670 * :STARTTLS successful\r\n", 0, STV_OK, ALL },
	{ "irc 691", stp_irc_starttls,
	  ":irc.example.net 691 * :STARTTLS failure\r\n", 0, STV_REFUSED, ALL },
	{ "irc unknown command", stp_irc_starttls,
	  ":irc.example.net 421 * STARTTLS :Unknown command\r\n", 0,
	  STV_NOT_OFFERED, ALL },
	{ "irc error", stp_irc_starttls,
	  "ERROR :Closing connection\r\n", 0, STV_REFUSED, ALL },
	{ "irc binary", stp_irc_starttls, "\x16\x03\x01\x02\x01\r\n", 0,
	  STV_MALFORMED, 0 },
};

static size_t
case_len(const struct pcase *c)
{
	return c->len != 0 ? c->len : strlen(c->in);
}

static size_t
case_used(const struct pcase *c)
{
	/* ALL - k: all but the last k bytes. */
	return c->used >= ALL - 64 ? case_len(c) - (ALL - c->used) : c->used;
}

static int
setup(void **state)
{
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

/* The whole reply gives the verdict, and uses what it should. */
static void
parse_whole(void **state)
{
	const struct pcase *c = *state;
	size_t used = 12345;

	assert_int_equal(starttls_judge(c->parse, (const void *)c->in,
	    case_len(c), &used), c->want);
	assert_int_equal(used, case_used(c));
}

/*
 * Split: every prefix shorter than a complete reply is incomplete (or, for
 * a bad reply, already bad); the verdict never comes early.
 */
static void
parse_split(void **state)
{
	const struct pcase *c = *state;
	size_t k, used, end = complete(c->want) ? case_used(c) : case_len(c);
	enum starttls_verdict v;

	for (k = 0; k < end; k++) {
		v = starttls_judge(c->parse, (const void *)c->in, k, &used);
		if (v == STV_MORE || (!complete(c->want) && v == c->want))
			continue;
		print_error("prefix of %zu bytes: verdict %d\n", k, (int)v);
		fail();
	}
}

/* --- Oversized replies: a cap's worth of bytes that never ends. */

struct ocase {
	const char	*name;
	starttls_parser	*parse;
	const char	*head;		/* once */
	const char	*repeat;	/* until the cap */
};

static const struct ocase over_cases[] = {
	{ "smtp endless line", stp_smtp_greeting, "220 ", "a" },
	{ "smtp endless ehlo", stp_smtp_ehlo, "", "250-EXTENSION\r\n" },
	{ "ftp endless greeting", stp_ftp_greeting, "220-hi\r\n", "text\r\n" },
	{ "imap endless untagged", stp_imap_capability, "",
	  "* CAPABILITY IMAP4rev1\r\n" },
	{ "pop3 endless capa", stp_pop3_capa, "+OK\r\n", "TOP\r\n" },
	{ "nntp endless list", stp_nntp_capabilities, "101 list\r\n",
	  "READER\r\n" },
	{ "sieve endless capability", stp_sieve_capability, "",
	  "\"SIEVE\" \"x\"\r\n" },
	{ "xmpp endless features", stp_xmpp_features, XMPP_HEAD
	  "<stream:features>", "<x/>" },
	{ "xmpp endless proceed", stp_xmpp_proceed, "<proceed ", "a" },
	{ "irc endless notices", stp_irc_starttls, "",
	  ":irc NOTICE * :hello\r\n" },
};

static void
parse_oversized(void **state)
{
	const struct ocase *c = *state;
	size_t len = STARTTLS_REPLY_MAX + 100, n, r = strlen(c->repeat);
	unsigned char *buf = malloc(len);
	size_t used;

	assert_non_null(buf);
	n = strlen(c->head);
	memcpy(buf, c->head, n);
	for (; n < len; n += r > len - n ? len - n : r)
		memcpy(buf + n, c->repeat, r > len - n ? len - n : r);
	/* Just under the cap it is only incomplete. */
	assert_int_equal(starttls_judge(c->parse, buf,
	    STARTTLS_REPLY_MAX - 1, &used), STV_MORE);
	assert_int_equal(starttls_judge(c->parse, buf, STARTTLS_REPLY_MAX,
	    &used), STV_OVERSIZED);
	assert_int_equal(starttls_judge(c->parse, buf, len, &used),
	    STV_OVERSIZED);
	assert_int_equal(used, 0);
	free(buf);
}

/* Random bytes, and random mutations of real replies: no crash, in bounds. */
static void
parse_random(void **state)
{
	starttls_parser *all[] = { stp_smtp_greeting, stp_smtp_ehlo,
	    stp_smtp_starttls, stp_imap_greeting, stp_imap_capability,
	    stp_imap_starttls, stp_pop3_greeting, stp_pop3_capa, stp_pop3_stls,
	    stp_ftp_greeting, stp_ftp_auth, stp_postgres_ssl, stp_ldap_starttls,
	    stp_xmpp_features, stp_xmpp_proceed, stp_nntp_greeting,
	    stp_nntp_capabilities, stp_nntp_starttls, stp_sieve_capability,
	    stp_sieve_starttls, stp_irc_starttls };
	unsigned char *buf;
	size_t i, j, len, used;
	enum starttls_verdict v;

	(void)state;
	srand(9);
	for (i = 0; i < 20000; i++) {
		const struct pcase *c = &parse_cases[i % NELEM(parse_cases)];

		len = case_len(c);
		/* Exactly len bytes, so that ASan sees a read past them. */
		buf = malloc(len);
		assert_non_null(buf);
		memcpy(buf, c->in, len);
		for (j = 0; j < 1 + (size_t)rand() % 4; j++)
			buf[(size_t)rand() % len] = (unsigned char)rand();
		if (i % 3 == 0)
			for (j = 0; j < len; j++)
				buf[j] = (unsigned char)rand();
		v = starttls_judge(all[i % NELEM(all)], buf, len, &used);
		assert_true(v <= STV_OVERSIZED);
		assert_true(used <= len);
		assert_true(complete(v) || used == 0);
		free(buf);
	}
}

/* The quoting of replies in messages. */
static void
quote_reply(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(starttls_quote((const void *)"250-a\r\n250 b\r\n",
	    14, out, sizeof(out)), "250-a | 250 b");
	assert_string_equal(starttls_quote((const void *)"S\x01\xff", 3, out,
	    sizeof(out)), "S\\x01\\xff");
	memset(out, 'X', sizeof(out));
	starttls_quote((const void *)"0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789", 80, out, 20);
	assert_string_equal(out + strlen(out) - 3, "...");
	assert_true(strlen(out) < 20);
}

/* --- The layer, against a scripted server on a socketpair. */

struct fixture {
	int		 server;	/* our end, playing the server */
	struct stream	*client;	/* the STARTTLS layer over the other */
	char		 log[4096];
};

static void
log_line(void *arg, char dir, const char *line)
{
	struct fixture *f = arg;
	size_t n = strlen(f->log);

	snprintf(f->log + n, sizeof(f->log) - n, "%c: %s\n", dir, line);
}

static void
open_layer(struct fixture *f, const char *proto, const char *name)
{
	struct stream *fd;
	struct error e;
	int sv[2];

	memset(f, 0, sizeof(*f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->server = sv[0];
	fd = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	assert_non_null(fd);
	f->client = starttls_new(starttls_find(proto), fd, name, log_line, f,
	    &e);
	assert_non_null(f->client);
}

static void
close_layer(struct fixture *f)
{
	stream_close(f->client);
	close(f->server);
}

static void
server_says(struct fixture *f, const char *s, size_t len)
{
	assert_int_equal(write(f->server, s, len != 0 ? len : strlen(s)),
	    (ssize_t)(len != 0 ? len : strlen(s)));
}

/* What the client sent, which must be exactly want. */
static void
client_said(struct fixture *f, const char *want, size_t len)
{
	char buf[1024];
	ssize_t n;

	len = len != 0 ? len : strlen(want);
	n = recv(f->server, buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, want, len);
}

/* A whole SMTP dialogue; then TLS bytes pass, in both directions. */
static void
layer_smtp_dialogue(void **state)
{
	struct fixture f;
	unsigned char buf[16];
	size_t n;

	(void)state;
	open_layer(&f, "smtp", "client.example");
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	server_says(&f, "220 mx ESMTP\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	client_said(&f, "EHLO client.example\r\n", 0);
	server_says(&f, "250-mx\r\n", 0);	/* a split reply */
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	server_says(&f, "250-STARTTLS\r\n250 8BITMIME\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	client_said(&f, "STARTTLS\r\n", 0);
	server_says(&f, "220 go ahead\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_DONE);
	assert_int_equal(stream_handshake(f.client), IO_DONE);
	assert_int_equal(stream_fd(f.client), -1);
	server_says(&f, "\x16\x03\x03", 3);
	assert_int_equal(stream_read(f.client, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 3);
	assert_int_equal(stream_write(f.client, "\x16\x03\x01", 3, &n),
	    IO_DONE);
	client_said(&f, "\x16\x03\x01", 3);
	assert_string_equal(f.log, "S: 220 mx ESMTP\nC: EHLO client.example\n"
	    "S: 250-mx\nS: 250-STARTTLS\nS: 250 8BITMIME\nC: STARTTLS\n"
	    "S: 220 go ahead\n");
	close_layer(&f);
}

/* A dialogue that fails: the server's lines, the status, the message. */
struct lcase {
	const char	*name;
	const char	*proto;
	const char	*script[3];	/* the server's replies, in turn */
	size_t		 last_len;	/* the last one's length, or 0 */
	enum status	 status;
	const char	*msg;		/* a part of the message */
};

static const struct lcase layer_cases[] = {
	{ "smtp not offered", "smtp", { "220 mx\r\n", "250-mx\r\n250 SIZE\r\n" },
	  0, ST_STARTTLS_NOT_OFFERED, "STARTTLS (smtp): the server does not "
	  "offer STARTTLS (the reply to EHLO: '250-mx | 250 SIZE')" },
	{ "smtp refused", "smtp", { "220 mx\r\n", "250 STARTTLS\r\n",
	  "454 4.7.0 TLS not available\r\n" }, 0, ST_STARTTLS_REFUSED,
	  "STARTTLS (smtp): the server refused (the reply to STARTTLS: "
	  "'454 4.7.0 TLS not available')" },
	{ "smtp malformed", "smtp", { "SSH-2.0-OpenSSH\r\n" }, 0,
	  ST_STARTTLS_BAD_REPLY, "STARTTLS (smtp): the greeting is malformed: "
	  "'SSH-2.0-OpenSSH'" },
	{ "smtp injection", "smtp", { "220 mx\r\n", "250 STARTTLS\r\n",
	  "220 go\r\n250 fake\r\n" }, 0, ST_STARTTLS_BAD_REPLY,
	  "the server sent 10 bytes of plaintext after its go-ahead, before "
	  "the TLS handshake (an injection attempt?): '250 fake'" },
	{ "smtp two greetings", "smtp", { "220 mx\r\n220 again\r\n" }, 0,
	  ST_STARTTLS_BAD_REPLY, "the server sent more than the greeting: "
	  "'220 again'" },
	{ "smtp closed", "smtp", { "220 mx\r\n", "" }, 0, ST_RUNTIME,
	  "STARTTLS (smtp): the server closed the connection before the "
	  "reply to EHLO (it said: '')" },
	{ "postgres injection", "postgres", { "SN" }, 0, ST_STARTTLS_BAD_REPLY,
	  "STARTTLS (postgres): the server sent 1 bytes of plaintext after its "
	  "go-ahead" },
	{ "postgres not offered", "postgres", { "N" }, 0,
	  ST_STARTTLS_NOT_OFFERED, "the reply to SSLRequest: 'N'" },
	{ "ldap refused", "ldap", { ldap_unavailable }, sizeof(ldap_unavailable)
	  - 1, ST_STARTTLS_REFUSED, "Could not initialize TLS" },
	{ "imap preauth", "imap", { "* PREAUTH logged in\r\n" }, 0,
	  ST_STARTTLS_REFUSED, "the greeting: '* PREAUTH logged in'" },
};

/* Feed the script, one reply per wait; the end is the case's failure. */
static void
layer_fails(void **state)
{
	const struct lcase *c = *state;
	struct fixture f;
	enum io r = IO_WANT_READ;
	size_t i;
	char junk[1024];

	open_layer(&f, c->proto, "client.example");
	for (i = 0; i < 3 && c->script[i] != NULL && r == IO_WANT_READ; i++) {
		r = stream_handshake(f.client);
		if (r != IO_WANT_READ)
			break;
		(void)recv(f.server, junk, sizeof(junk), MSG_DONTWAIT);
		if (c->script[i][0] == '\0')
			shutdown(f.server, SHUT_WR);
		else
			server_says(&f, c->script[i], i + 1 < 3 &&
			    c->script[i + 1] != NULL ? 0 : c->last_len);
	}
	if (r == IO_WANT_READ)
		r = stream_handshake(f.client);
	assert_int_equal(r, IO_ERROR);
	assert_int_equal(f.client->err.status, c->status);
	if (strstr(f.client->err.msg, c->msg) == NULL) {
		print_error("message: %s\n", f.client->err.msg);
		fail();
	}
	close_layer(&f);
}

/* Plaintext that comes after the go-ahead in a read of its own. */
static void
layer_late_injection(void **state)
{
	struct fixture f;
	unsigned char buf[64];
	size_t n;

	(void)state;
	open_layer(&f, "pop3", NULL);
	server_says(&f, "+OK ready\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	server_says(&f, "+OK\r\nSTLS\r\n.\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	server_says(&f, "+OK go\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_DONE);
	server_says(&f, "+OK logged in\r\n", 0);
	assert_int_equal(stream_read(f.client, buf, sizeof(buf), &n),
	    IO_ERROR);
	assert_int_equal(f.client->err.status, ST_STARTTLS_BAD_REPLY);
	assert_non_null(strstr(f.client->err.msg, "after its go-ahead"));
	assert_non_null(strstr(f.client->err.msg, "'+OK logged in'"));
	close_layer(&f);
}

/* The XMPP header carries the name, and the client namespace. */
static void
layer_xmpp_header(void **state)
{
	struct fixture f;
	const char *want = "<?xml version='1.0'?><stream:stream "
	    "to='chat.example' version='1.0' xml:lang='en' "
	    "xmlns='jabber:server' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";

	(void)state;
	open_layer(&f, "xmpp-server", "chat.example");
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	client_said(&f, want, 0);
	close_layer(&f);
}

/* A timeout says which reply never came, and what came of it. */
static void
layer_timeout_message(void **state)
{
	struct fixture f;
	struct error e;

	(void)state;
	open_layer(&f, "imap", NULL);
	server_says(&f, "* OK ready\r\n", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	server_says(&f, "* CAPAB", 0);
	assert_int_equal(stream_handshake(f.client), IO_WANT_READ);
	err_set(&e, ST_TIMEOUT, "TLS handshake timed out");
	assert_int_equal(starttls_explain_timeout(f.client, &e), 1);
	assert_int_equal(e.status, ST_TIMEOUT);
	assert_string_equal(e.msg, "STARTTLS (imap): timed out waiting for "
	    "the reply to CAPABILITY (received: '* CAPAB')");
	close_layer(&f);
}

/* The protocol table: names and the usual ports. */
static void
protocols(void **state)
{
	(void)state;
	assert_int_equal(starttls_port(starttls_find("smtp")), 25);
	assert_int_equal(starttls_port(starttls_find("imap")), 143);
	assert_int_equal(starttls_port(starttls_find("postgres")), 5432);
	assert_int_equal(starttls_port(starttls_find("xmpp-server")), 5269);
	assert_int_equal(starttls_port(starttls_find("sieve")), 4190);
	assert_null(starttls_find("SMTP"));
	assert_null(starttls_find("http"));
	assert_true(starttls_name_is_target(starttls_find("xmpp")));
	assert_false(starttls_name_is_target(starttls_find("smtp")));
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(parse_random),
		CASE(quote_reply),
		CASE(layer_smtp_dialogue),
		CASE(layer_late_injection),
		CASE(layer_xmpp_header),
		CASE(layer_timeout_message),
		CASE(protocols),
	};
	struct CMUnitTest tests[NELEM(fixed) + 2 * NELEM(parse_cases) +
	    NELEM(over_cases) + NELEM(layer_cases)];
	static char split_names[NELEM(parse_cases)][96];
	size_t n = 0, i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(parse_cases, parse_whole);
	for (i = 0; i < NELEM(parse_cases); i++) {
		snprintf(split_names[i], sizeof(split_names[i]), "%s, split",
		    parse_cases[i].name);
		tests[n++] = (struct CMUnitTest){ split_names[i], parse_split,
		    setup, teardown, (void *)&parse_cases[i] };
	}
	ADD_TABLE(over_cases, parse_oversized);
	ADD_TABLE(layer_cases, layer_fails);
	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("starttls", tests, n, NULL, NULL);
}

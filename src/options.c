/* The option table and the parser built from it. */
#include "config.h"

#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "options.h"
#include "unixsock.h"

/*
 * The setters: one per kind of value.  Each entry of option_table names its
 * setter and the offset of the field that the setter fills in, so the field's
 * type must be the one the setter expects (noted before each).
 */
static opt_setter	set_flag, set_count, set_string, set_host_name, set_family,
			set_seconds, set_time_limit, set_conns, set_access,
			set_pin, set_pass_source, set_info_format, set_cert,
			set_key, set_alpn, set_version, set_seclevel, set_ocsp,
			set_starttls;

#define FIELD(member)	offsetof(struct options, member)

/* The order here is the order of --help, the man page and the completion. */
const struct optdef option_table[] = {
	{ NULL, '4', NULL, GROUP_GENERAL,
	  "Use IPv4 only",
	  set_family, FIELD(family) },
	{ NULL, '6', NULL, GROUP_GENERAL,
	  "Use IPv6 only",
	  set_family, FIELD(family) },
	{ "udp", 'u', NULL, GROUP_GENERAL,
	  "Use UDP, or Unix datagrams with -U",
	  set_flag, FIELD(udp) },
	{ "unixsock", 'U', NULL, GROUP_GENERAL,
	  "Use a Unix socket: the operand is its path, or @name",
	  set_flag, FIELD(unix_sock) },
	{ "unlink", 0, NULL, GROUP_GENERAL,
	  "With -l -U: remove a stale socket file (no one listens)",
	  set_flag, FIELD(unlink_stale) },
	{ "listen", 'l', NULL, GROUP_GENERAL,
	  "Listen for connections instead of connecting",
	  set_flag, FIELD(listen) },
	{ "keep-open", 'k', NULL, GROUP_GENERAL,
	  "Accept many connections at once in listen mode",
	  set_flag, FIELD(keep_open) },
	{ "max-conns", 'm', "N", GROUP_GENERAL,
	  "At most N clients at once with -k",
	  set_conns, FIELD(max_conns) },
	{ "allow", 0, "HOSTS", GROUP_GENERAL,
	  "Accept only these clients: addresses, CIDR ranges, names",
	  set_access, FIELD(access) },
	{ "allowfile", 0, "FILE", GROUP_GENERAL,
	  "Accept only the clients listed in FILE",
	  set_access, FIELD(access) },
	{ "deny", 0, "HOSTS", GROUP_GENERAL,
	  "Refuse these clients, even if allowed",
	  set_access, FIELD(access) },
	{ "denyfile", 0, "FILE", GROUP_GENERAL,
	  "Refuse the clients listed in FILE",
	  set_access, FIELD(access) },
	{ "broker", 0, NULL, GROUP_GENERAL,
	  "With -l: relay each client's data to the other clients",
	  set_flag, FIELD(broker) },
	{ "chat", 0, NULL, GROUP_GENERAL,
	  "With -l: a --broker that prefixes each line with <userN>",
	  set_flag, FIELD(chat) },
	{ NULL, 'z', NULL, GROUP_GENERAL,
	  "Scan for listening ports (--ssl: probe TLS); report with -v",
	  set_flag, FIELD(scan) },
	{ "scan-concurrency", 0, "N", GROUP_GENERAL,
	  "At most N connects at once with -z (default 256)",
	  set_conns, FIELD(scan_concurrency) },
	{ "source-port", 'p', "PORT", GROUP_GENERAL,
	  "Local port: the source port, or the port to listen on",
	  set_string, FIELD(src_port) },
	{ "source", 's', "ADDR", GROUP_GENERAL,
	  "Source address for a connection",
	  set_string, FIELD(src_addr) },
	{ "nodns", 'n', NULL, GROUP_GENERAL,
	  "Numeric addresses only; never resolve names",
	  set_flag, FIELD(numeric) },
	{ "wait", 'w', "SECS", GROUP_GENERAL,
	  "Time limit for the connect and the TLS handshake together",
	  set_time_limit, FIELD(wait_ms) },
	{ "idle-timeout", 'i', "SECS", GROUP_GENERAL,
	  "Quit when no data has moved for SECS",
	  set_time_limit, FIELD(idle_ms) },
	{ NULL, 'q', "SECS", GROUP_GENERAL,
	  "Quit SECS after EOF on stdin, even if the peer stays open",
	  set_seconds, FIELD(quit_ms) },
	{ "recv-only", 0, NULL, GROUP_GENERAL,
	  "Only receive; never read stdin",
	  set_flag, FIELD(recv_only) },
	{ "send-only", 0, NULL, GROUP_GENERAL,
	  "Only send; drop what arrives, and end after EOF on stdin",
	  set_flag, FIELD(send_only) },
	{ "no-shutdown", 0, NULL, GROUP_GENERAL,
	  "Keep the write side open at EOF on stdin",
	  set_flag, FIELD(no_shutdown) },
	{ "delay", 'd', "SECS", GROUP_GENERAL,
	  "Wait SECS after each read from stdin",
	  set_seconds, FIELD(delay_ms) },
	{ "crlf", 'C', NULL, GROUP_GENERAL,
	  "Send LF from stdin as CRLF",
	  set_flag, FIELD(crlf) },
	{ "telnet", 't', NULL, GROUP_GENERAL,
	  "Refuse Telnet option negotiation; strip Telnet commands",
	  set_flag, FIELD(telnet) },
	{ "output", 'o', "FILE", GROUP_GENERAL,
	  "Copy the session's bytes, both directions, to FILE",
	  set_string, FIELD(output) },
	{ "hex-dump", 'x', "FILE", GROUP_GENERAL,
	  "Write a hex dump of the session to FILE",
	  set_string, FIELD(hex_dump) },
	{ "append-output", 0, NULL, GROUP_GENERAL,
	  "Append to the -o and -x files instead of truncating",
	  set_flag, FIELD(append_output) },
	{ "progress", 0, NULL, GROUP_GENERAL,
	  "Show bytes moved and the rate on stderr",
	  set_flag, FIELD(progress) },
	{ "exec", 'e', "PROG", GROUP_GENERAL,
	  "Run PROG (split on blanks, no shell) on each connection",
	  set_string, FIELD(exec) },
	{ "sh-exec", 'c', "CMD", GROUP_GENERAL,
	  "Run /bin/sh -c CMD on each connection",
	  set_string, FIELD(sh_exec) },
	{ "exec-stderr", 0, NULL, GROUP_GENERAL,
	  "Send the program's stderr to the peer too",
	  set_flag, FIELD(exec_stderr) },
	{ "verbose", 'v', NULL, GROUP_GENERAL,
	  "Report progress on stderr; repeat for more",
	  set_count, FIELD(verbose) },
	{ "help", 'h', NULL, GROUP_GENERAL,
	  "Print this summary and exit",
	  set_flag, FIELD(help) },
	{ "version", 0, NULL, GROUP_GENERAL,
	  "Print the version and the OpenSSL version, and exit",
	  set_flag, FIELD(version) },
	{ "ssl", 0, NULL, GROUP_TLS,
	  "Use TLS (the client verifies the server by default)",
	  set_flag, FIELD(ssl) },
	{ "ssl-cert", 0, "FILE", GROUP_TLS,
	  "PEM certificate (and chain) to present; repeat with -l for SNI",
	  set_cert, FIELD(tls) },
	{ "ssl-key", 0, "FILE", GROUP_TLS,
	  "PEM private key for --ssl-cert (default: the same file)",
	  set_key, FIELD(tls) },
	{ "ssl-key-pass", 0, "SOURCE", GROUP_TLS,
	  "The key's passphrase: pass:TEXT, env:VAR, file:PATH or fd:N",
	  set_pass_source, FIELD(tls.key_pass) },
	{ "ssl-trustfile", 0, "FILE", GROUP_TLS,
	  "PEM CA certificates to trust instead of the system store",
	  set_string, FIELD(tls.trust_file) },
	{ "ssl-verify", 0, NULL, GROUP_TLS,
	  "Verify the server (the default; accepted for Ncat)",
	  set_flag, FIELD(ssl_verify) },
	{ "ssl-no-verify", 0, NULL, GROUP_TLS,
	  "Do not verify the server (insecure)",
	  set_flag, FIELD(tls.no_verify) },
	{ "ssl-pin", 0, "SHA256:HEX", GROUP_TLS,
	  "Accept exactly the peer certificate with this SHA-256 fingerprint",
	  set_pin, FIELD(tls) },
	{ "ssl-servername", 0, "NAME", GROUP_TLS,
	  "Name to send as SNI and to verify, instead of the host",
	  set_host_name, FIELD(tls.servername) },
	{ "ssl-verify-name", 0, "NAME", GROUP_TLS,
	  "Name to verify the certificate against, without changing SNI",
	  set_host_name, FIELD(tls.verify_name) },
	{ "no-sni", 0, NULL, GROUP_TLS,
	  "Send no server name indication",
	  set_flag, FIELD(tls.no_sni) },
	{ "ssl-alpn", 0, "LIST", GROUP_TLS,
	  "ALPN protocols to offer, or to choose from with -l (a,b,...)",
	  set_alpn, FIELD(tls.alpn) },
	{ "ssl-alpn-required", 0, NULL, GROUP_TLS,
	  "Fail the handshake when no ALPN protocol is in common",
	  set_flag, FIELD(tls.alpn_required) },
	{ "ssl-min-version", 0, "VERSION", GROUP_TLS,
	  "Lowest TLS version: tls1.2 (default), tls1.3, tls1.1, tls1",
	  set_version, FIELD(tls.min_version) },
	{ "ssl-max-version", 0, "VERSION", GROUP_TLS,
	  "Highest TLS version: tls1.2 or tls1.3 (default)",
	  set_version, FIELD(tls.max_version) },
	{ "ssl-seclevel", 0, "N", GROUP_TLS,
	  "OpenSSL security level, 0 to 5 (0 allows TLS 1.0 and 1.1)",
	  set_seclevel, FIELD(tls) },
	{ "ssl-ciphers", 0, "LIST", GROUP_TLS,
	  "TLS 1.2 cipher suites (default: ECDHE with AEAD only)",
	  set_string, FIELD(tls.ciphers) },
	/* An argument in brackets is optional, and given as --opt=ARG. */
	{ "ssl-info", 0, "[=FORMAT]", GROUP_TLS,
	  "Report each handshake on stderr, as text or json",
	  set_info_format, FIELD(ssl_info) },
	{ "ssl-info-file", 0, "FILE", GROUP_TLS,
	  "Write the --ssl-info report to FILE instead",
	  set_string, FIELD(ssl_info_file) },
	{ "ssl-save-chain", 0, "FILE", GROUP_TLS,
	  "Write the peer's certificate chain to FILE as PEM",
	  set_string, FIELD(ssl_save_chain) },
	{ "ssl-keylog", 0, "FILE", GROUP_TLS,
	  "Append the session secrets to FILE (NSS key log; secret)",
	  set_string, FIELD(ssl_keylog) },
	{ "ssl-ciphersuites", 0, "LIST", GROUP_TLS,
	  "TLS 1.3 cipher suites, colon-separated",
	  set_string, FIELD(tls.ciphersuites) },
	{ "ssl-groups", 0, "LIST", GROUP_TLS,
	  "Key-exchange groups, colon-separated (X25519:P-256)",
	  set_string, FIELD(tls.groups) },
	{ "ssl-sigalgs", 0, "LIST", GROUP_TLS,
	  "Signature algorithms, colon-separated (ECDSA+SHA256:...)",
	  set_string, FIELD(tls.sigalgs) },
	{ "ssl-sess-in", 0, "FILE", GROUP_TLS,
	  "Resume the TLS session saved in FILE (PEM)",
	  set_string, FIELD(tls.sess_in) },
	{ "ssl-sess-out", 0, "FILE", GROUP_TLS,
	  "Save the TLS session to FILE (PEM), to resume it later",
	  set_string, FIELD(tls.sess_out) },
	{ "ssl-reconnect", 0, "N", GROUP_TLS,
	  "Then connect N more times, resuming the session, and report",
	  set_conns, FIELD(tls.reconnect) },
	{ "ssl-ocsp", 0, "[=require]", GROUP_TLS,
	  "Ask for the OCSP status; =require: refuse without a good one",
	  set_ocsp, FIELD(tls.ocsp) },
	{ "ssl-ocsp-response", 0, "FILE", GROUP_TLS,
	  "With -l: staple this DER OCSP response",
	  set_string, FIELD(tls.ocsp_response) },
	{ "ssl-client-ca", 0, "FILE", GROUP_TLS,
	  "With -l: ask for client certificates and verify them with FILE",
	  set_string, FIELD(tls.client_ca) },
	{ "ssl-require-client-cert", 0, NULL, GROUP_TLS,
	  "With -l: refuse clients that present no certificate",
	  set_flag, FIELD(tls.require_client_cert) },
	{ "starttls", 0, "PROTO", GROUP_TLS,
	  "Speak PROTO's preamble, then TLS (smtp, imap, ...; implies --ssl)",
	  set_starttls, FIELD(starttls) },
	{ "starttls-name", 0, "NAME", GROUP_TLS,
	  "Name for EHLO/LHLO, or the XMPP domain (default: host)",
	  set_host_name, FIELD(starttls_name) },
};

#define OPTION_COUNT	(sizeof(option_table) / sizeof(option_table[0]))

const size_t option_count = OPTION_COUNT;

/*
 * getopt_long's tables, built from option_table.  A long option returns
 * LONG_VAL plus its index in the table; a short one returns its letter.
 */
#define LONG_VAL	256

struct getopt_tables {
	struct option	longopts[OPTION_COUNT + 1];
	char		shortopts[2 * OPTION_COUNT + 2];
};

/* Which entries of option_table one parse has met, for the checks after. */
struct given {
	bool	entry[OPTION_COUNT];
};

/* The entry that getopt_long's value (or optopt) stands for, or NULL. */
static const struct optdef *
find_by_val(int val)
{
	size_t i;

	if (val >= LONG_VAL && (size_t)(val - LONG_VAL) < OPTION_COUNT)
		return &option_table[val - LONG_VAL];
	if (val <= 0 || val >= LONG_VAL)
		return NULL;
	for (i = 0; i < OPTION_COUNT; i++)
		if (option_table[i].letter == val)
			return &option_table[i];
	return NULL;
}

/* "-p/--source-port" style, for messages about the option itself. */
static const char *
opt_label(const struct optdef *d, char *buf, size_t len)
{
	if (d == NULL)
		snprintf(buf, len, "?");
	else if (d->name != NULL && d->letter != 0)
		snprintf(buf, len, "-%c/--%s", d->letter, d->name);
	else if (d->name != NULL)
		snprintf(buf, len, "--%s", d->name);
	else
		snprintf(buf, len, "-%c", d->letter);
	return buf;
}

/* "-w" or "--ssl-pin": the shortest name, for messages about a value. */
static const char *
opt_short_label(const struct optdef *d, char *buf, size_t len)
{
	if (d->letter != 0)
		snprintf(buf, len, "-%c", d->letter);
	else
		snprintf(buf, len, "--%s", d->name);
	return buf;
}

/* The field that d's setter fills in. */
static void *
field_of(const struct optdef *d, struct options *o)
{
	return (char *)o + d->field;
}

/* bool: true. */
static enum status
set_flag(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	bool *flag = field_of(d, o);

	(void)arg;
	(void)e;
	*flag = true;
	return ST_OK;
}

/* int: one more each time, as -vvv. */
static enum status
set_count(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	int *count = field_of(d, o);

	(void)arg;
	(void)e;
	(*count)++;
	return ST_OK;
}

/* const char *: the argument as given, which outlives the parse. */
static enum status
set_string(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	const char **s = field_of(d, o);

	(void)e;
	*s = arg;
	return ST_OK;
}

/*
 * Why name cannot be sent as SNI and verified as a host name, or NULL when
 * it can: it is an IP address literal (never sent as SNI, but verified as
 * an address), or dot-separated labels of ASCII letters, digits, '-' and
 * '_' (which some names carry), each 1 to 63 characters long, 253 in all.
 * A name in another script must be given in its IDNA form.
 */
static const char *
bad_host_name(const char *name)
{
	const unsigned char *p;
	size_t label = 0;

	if (addr_is_literal(name))
		return NULL;
	if (strlen(name) > 253)
		return "it is longer than 253 characters";
	for (p = (const unsigned char *)name; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0)
				return "it has an empty label";
			if (*p == '\0')
				return NULL;
			label = 0;
			continue;
		}
		if (*p >= 0x80)
			return "it has a non-ASCII character (give the name "
			    "in its IDNA form, xn--...)";
		if (*p <= ' ' || *p == 0x7f)
			return "it has a space or a control character";
		if (!isalnum(*p) && *p != '-' && *p != '_')
			return "it has a character that no host name has";
		if (++label > 63)
			return "it has a label longer than 63 characters";
	}
}

/*
 * s as it may be printed: bytes that are not printable ASCII as \xNN, and
 * no more than fits in out, where "..." marks a cut.
 */
static const char *
printable(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (n + 8 >= len) {
			memcpy(out + n, "...", 4);
			return out;
		}
		if (c >= ' ' && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, len - n, "\\x%02x", c);
	}
	out[n] = '\0';
	return out;
}

/*
 * const char *: a name to send as SNI and to verify: a host name or an IP
 * address literal.  Anything else is refused, by the option's name.
 */
static enum status
set_host_name(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	const char *why;
	char label[64], shown[80];

	opt_short_label(d, label, sizeof(label));
	if (*arg == '\0')
		return err_set(e, ST_USAGE, "%s: empty name", label);
	if ((why = bad_host_name(arg)) != NULL)
		return err_set(e, ST_USAGE, "%s: '%s' is not a host name: %s",
		    label, printable(arg, shown, sizeof(shown)), why);
	return set_string(d, o, arg, e);
}

/* int: the family -4 or -6 names.  Both together are refused later. */
static enum status
set_family(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	int *family = field_of(d, o);

	(void)arg;
	(void)e;
	*family = d->letter == '4' ? AF_INET : AF_INET6;
	return ST_OK;
}

/* int64_t: milliseconds, from seconds that may have a fraction. */
static enum status
set_seconds(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	char label[64];

	return parse_seconds(opt_short_label(d, label, sizeof(label)), arg,
	    field_of(d, o), e);
}

/* int64_t: as set_seconds, but 0 is refused: it would leave no time. */
static enum status
set_time_limit(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	const int64_t *ms = field_of(d, o);
	char label[64];
	enum status st;

	if ((st = set_seconds(d, o, arg, e)) != ST_OK)
		return st;
	if (*ms == 0)
		return err_set(e, ST_USAGE, "%s: the time limit must be more "
		    "than 0", opt_short_label(d, label, sizeof(label)));
	return ST_OK;
}

/*
 * unsigned: a number of connections, 1 to OPTIONS_MAX_CONNS, in decimal
 * digits only: strtoul alone would also take spaces and signs.
 */
static enum status
set_conns(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	unsigned *conns = field_of(d, o);
	unsigned long v = 0;
	char label[64];
	bool good;

	good = *arg != '\0' && arg[strspn(arg, "0123456789")] == '\0';
	if (good) {
		errno = 0;
		v = strtoul(arg, NULL, 10);
		good = errno == 0 && v >= 1 && v <= OPTIONS_MAX_CONNS;
	}
	if (!good)
		return err_set(e, ST_USAGE, "%s: invalid number of "
		    "connections '%s'", opt_short_label(d, label,
		    sizeof(label)), arg);
	*conns = (unsigned)v;
	return ST_OK;
}

/*
 * struct access_sources: one more --allow, --deny (whose specs are checked
 * here, but names are resolved only at start-up), --allowfile or --denyfile
 * (read at start-up).
 */
static enum status
set_access(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	struct access_sources *as = field_of(d, o);
	struct access_source *src;
	size_t len = strlen(d->name);

	if (as->n >= OPTIONS_ACCESS_MAX)
		return err_set(e, ST_USAGE, "at most %d --allow, --allowfile, "
		    "--deny and --denyfile options may be given",
		    OPTIONS_ACCESS_MAX);
	src = &as->v[as->n];
	src->option = d->name;
	src->value = arg;
	src->deny = strncmp(d->name, "deny", 4) == 0;
	src->file = len > 4 && strcmp(d->name + len - 4, "file") == 0;
	if (src->file && *arg == '\0')
		return err_set(e, ST_USAGE, "--%s: empty file name", d->name);
	if (!src->file && access_check_list(d->name, arg, e) != ST_OK)
		return ST_USAGE;
	as->n++;
	return ST_OK;
}

/*
 * struct tls_opts: one more SHA-256 pin, up to TLS_PINS_MAX: the first in
 * pin (setting have_pin), the others in more_pins.
 */
static enum status
set_pin(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	struct tls_opts *t = field_of(d, o);
	unsigned char *slot;
	char label[64];

	opt_short_label(d, label, sizeof(label));
	if (!t->have_pin)
		slot = t->pin;
	else if (t->n_more_pins < TLS_PINS_MAX - 1)
		slot = t->more_pins[t->n_more_pins];
	else
		return err_set(e, ST_USAGE, "%s: at most %d pins may be "
		    "given", label, TLS_PINS_MAX);
	if (tls_parse_pin(arg, slot) == -1)
		return err_set(e, ST_USAGE, "%s: '%s' is not SHA256: and 64 "
		    "hex digits", label, arg);
	if (t->have_pin)
		t->n_more_pins++;
	t->have_pin = true;
	return ST_OK;
}

/*
 * struct tls_opts: one more certificate, up to TLS_CERTS_MAX: the first in
 * cert_file, the others in more_certs.
 */
static enum status
set_cert(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	struct tls_opts *t = field_of(d, o);

	if (t->cert_file == NULL)
		t->cert_file = arg;
	else if (t->n_more_certs < TLS_CERTS_MAX - 1)
		t->more_certs[t->n_more_certs++] = arg;
	else
		return err_set(e, ST_USAGE, "--ssl-cert: at most %d "
		    "certificates may be given", TLS_CERTS_MAX);
	return ST_OK;
}

/* struct tls_opts: the key of the next certificate, as set_cert. */
static enum status
set_key(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	struct tls_opts *t = field_of(d, o);

	if (t->key_file == NULL)
		t->key_file = arg;
	else if (t->n_more_keys < TLS_CERTS_MAX - 1)
		t->more_keys[t->n_more_keys++] = arg;
	else
		return err_set(e, ST_USAGE, "--ssl-key: at most %d keys may "
		    "be given", TLS_CERTS_MAX);
	return ST_OK;
}

/* const char *: an ALPN list, checked as it will be encoded. */
static enum status
set_alpn(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	unsigned char wire[TLS_ALPN_MAX];

	if (tls_alpn_encode(arg, wire, sizeof(wire), e) < 0)
		return ST_USAGE;
	return set_string(d, o, arg, e);
}

/* int: a TLS version by name, as tls1.2. */
static enum status
set_version(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	int *version = field_of(d, o);
	char label[64];

	if ((*version = tls_parse_version(arg)) == 0)
		return err_set(e, ST_USAGE, "%s: unknown version '%.100s' "
		    "(tls1, tls1.1, tls1.2 or tls1.3)",
		    opt_short_label(d, label, sizeof(label)), arg);
	return ST_OK;
}

/* struct tls_opts: an OpenSSL security level, 0 to 5. */
static enum status
set_seclevel(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	struct tls_opts *t = field_of(d, o);

	if (arg[0] < '0' || arg[0] > '5' || arg[1] != '\0')
		return err_set(e, ST_USAGE, "--ssl-seclevel: '%.100s' is not "
		    "a security level from 0 to 5", arg);
	t->seclevel = arg[0] - '0';
	t->have_seclevel = true;
	return ST_OK;
}

/* enum tls_ocsp: --ssl-ocsp asks, --ssl-ocsp=require insists. */
static enum status
set_ocsp(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	enum tls_ocsp *mode = field_of(d, o);

	if (arg == NULL)
		*mode = TLS_OCSP_ASK;
	else if (strcmp(arg, "require") == 0)
		*mode = TLS_OCSP_REQUIRE;
	else
		return err_set(e, ST_USAGE, "--ssl-ocsp: unknown mode "
		    "'%.100s' (give --ssl-ocsp or --ssl-ocsp=require)", arg);
	return ST_OK;
}

/*
 * const char *: where an encrypted key's passphrase comes from, in openssl's
 * forms.  It is read with the key (tls.c).  A refused value is not echoed:
 * it may be the passphrase itself, given without "pass:".
 */
static enum status
set_pass_source(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	if (!tls_pass_source_ok(arg))
		return err_set(e, ST_USAGE, TLS_PASS_FORMS);
	return set_string(d, o, arg, e);
}

/*
 * enum report_format: --ssl-info alone is text; --ssl-info=text or
 * --ssl-info=json name the form.
 */
static enum status
set_info_format(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	enum report_format *fmt = field_of(d, o);

	if (arg == NULL || strcmp(arg, "text") == 0)
		*fmt = REPORT_TEXT;
	else if (strcmp(arg, "json") == 0)
		*fmt = REPORT_JSON;
	else
		return err_set(e, ST_USAGE, "--%s: unknown format '%s' (text "
		    "or json)", d->name, arg);
	return ST_OK;
}

/* "--name ARG", or "--name[=ARG]" when the argument is optional. */
static const char *
arg_suffix(const struct optdef *d, char *buf, size_t len)
{
	if (d->arg == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%s%s", d->arg[0] == '[' ? "" : " ",
		    d->arg);
	return buf;
}

void
options_usage(FILE *f)
{
	static const char *const heading[] = { "Options", "TLS options" };
	char left[64], arg[32];
	size_t i;
	int g;

	fprintf(f, "Usage: tlsnc [options] host port\n"
	    "       tlsnc -l [options] [host] port\n"
	    "       tlsnc -z [options] host ports\n"
	    "       tlsnc -U [-l] [options] path\n");
	for (g = GROUP_GENERAL; g <= GROUP_TLS; g++) {
		fprintf(f, "\n%s:\n", heading[g]);
		for (i = 0; i < OPTION_COUNT; i++) {
			const struct optdef *d = &option_table[i];

			if ((int)d->group != g)
				continue;
			arg_suffix(d, arg, sizeof(arg));
			if (d->letter != 0 && d->name != NULL)
				snprintf(left, sizeof(left), "-%c, --%s%s",
				    d->letter, d->name, arg);
			else if (d->letter != 0)
				snprintf(left, sizeof(left), "-%c%s",
				    d->letter, arg);
			else
				snprintf(left, sizeof(left), "    --%s%s",
				    d->name, arg);
			fprintf(f, "  %-28s %s\n", left, d->help);
		}
	}
	fprintf(f, "\nExit status: 0 ok, 1 runtime error, 2 usage, 3 timeout, "
	    "4 TLS handshake,\n5 certificate verification, 6 TLS stream "
	    "truncated, 7 no STARTTLS offered,\n8 STARTTLS refused, 9 bad "
	    "STARTTLS reply.  See tlsnc(1).\n");
	fprintf(f, "STARTTLS protocols: %s.\n", starttls_names());
}

static void
defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->wait_ms = -1;
	o->idle_ms = 0;
	o->quit_ms = -1;
	o->max_conns = 0;
}

/* Whether the entry with this short letter was given. */
static bool
given_letter(const struct given *g, int letter)
{
	const struct optdef *d = find_by_val(letter);

	return d != NULL && g->entry[d - option_table];
}

/*
 * const struct starttls_proto *: a protocol by name.  STARTTLS ends in TLS,
 * so it implies --ssl, and the TLS options go with it.
 */
static enum status
set_starttls(const struct optdef *d, struct options *o, const char *arg,
    struct error *e)
{
	const struct starttls_proto **p = field_of(d, o);
	char shown[80];

	if ((*p = starttls_find(arg)) == NULL)
		return err_set(e, ST_USAGE, "--starttls: unknown protocol "
		    "'%s' (known: %s)", printable(arg, shown, sizeof(shown)),
		    starttls_names());
	o->ssl = true;
	return ST_OK;
}

/* Whether a TLS option other than --ssl itself was given. */
static bool
given_tls_option(const struct given *g)
{
	size_t i;

	for (i = 0; i < OPTION_COUNT; i++)
		if (g->entry[i] && option_table[i].group == GROUP_TLS &&
		    option_table[i].field != FIELD(ssl))
			return true;
	return false;
}

/*
 * The combinations that decide how the operands are read, checked before
 * them: "tlsnc -k 9000" lacks -l, it is not a client without a port.
 */
static enum status
check_mode(struct options *o, struct error *e)
{
	const char *fan = o->chat ? "--chat" : "--broker";

	if (o->starttls != NULL && o->listen)
		return err_set(e, ST_USAGE, "--starttls is for a client, not "
		    "with -l");
	if (o->starttls != NULL && o->scan)
		return err_set(e, ST_USAGE, "cannot use -z and --starttls "
		    "together");
	if (o->starttls_name != NULL && o->starttls == NULL)
		return err_set(e, ST_USAGE, "--starttls-name needs --starttls");
	if (o->starttls != NULL && o->udp)
		return err_set(e, ST_USAGE, "cannot use --starttls and -u "
		    "together");
	/* As in Ncat, --chat is a broker, and a broker keeps open. */
	if (o->chat)
		o->broker = true;
	if (o->broker && o->scan)
		return err_set(e, ST_USAGE, "cannot use -z and %s together",
		    fan);
	if (o->broker && !o->listen)
		return err_set(e, ST_USAGE, "%s needs -l", fan);
	if (o->broker)
		o->keep_open = true;
	if (o->keep_open && !o->listen)
		return err_set(e, ST_USAGE, "-k needs -l");
	if (o->max_conns != 0 && !o->keep_open)
		return err_set(e, ST_USAGE, "-m needs -k");
	if (o->scan && o->listen)
		return err_set(e, ST_USAGE, "cannot use -z and -l together");
	if (o->scan_concurrency != 0 && !o->scan)
		return err_set(e, ST_USAGE, "--scan-concurrency needs -z");
	if (o->access.n > 0 && o->scan)
		return err_set(e, ST_USAGE, "cannot use -z and --%s together",
		    o->access.v[0].option);
	if (o->access.n > 0 && !o->listen)
		return err_set(e, ST_USAGE, "--%s is for a listener: it needs "
		    "-l", o->access.v[0].option);
	if (o->unix_sock && o->scan)
		return err_set(e, ST_USAGE, "cannot use -z and -U together");
	if (o->unix_sock && o->src_port != NULL)
		return err_set(e, ST_USAGE, "cannot use -p and -U together: "
		    "a Unix socket has a path, not a port");
	return ST_OK;
}

/*
 * The transports: -u and -U, and what they cannot go with.  Access control
 * (--allow, --deny) names IP addresses, which a Unix socket has none of,
 * and is checked at accept(), which a datagram listener never calls.
 */
static enum status
check_transport(const struct options *o, const struct given *g,
    struct error *e)
{
	if (o->unlink_stale && (!o->unix_sock || !o->listen))
		return err_set(e, ST_USAGE, "--unlink needs -l and -U");
	if (o->udp && o->ssl)
		return err_set(e, ST_USAGE, "--ssl with -u is not supported "
		    "(DTLS is not implemented)");
	if (o->access.n > 0 && (o->unix_sock || o->udp))
		return err_set(e, ST_USAGE, "cannot use --%s and -%c together",
		    o->access.v[0].option, o->unix_sock ? 'U' : 'u');
	if (!o->unix_sock)
		return ST_OK;
	if (given_letter(g, '4') || given_letter(g, '6'))
		return err_set(e, ST_USAGE, "cannot use -%c and -U together",
		    given_letter(g, '4') ? '4' : '6');
	if (o->src_addr != NULL)
		return err_set(e, ST_USAGE, "cannot use -s and -U together");
	/* No host name to verify: the client must say what it trusts. */
	if (o->ssl && !o->listen && o->tls.servername == NULL &&
	    !o->tls.have_pin && !o->tls.no_verify)
		return err_set(e, ST_USAGE, "--ssl with -U needs "
		    "--ssl-servername NAME or --ssl-pin: a socket path is no "
		    "host name to verify the server against");
	return ST_OK;
}

/* The combinations of the negotiation and client-certificate options. */
static enum status
check_negotiation(const struct options *o, struct error *e)
{
	const struct tls_opts *t = &o->tls;

	if (o->listen && t->verify_name != NULL)
		return err_set(e, ST_USAGE, "--ssl-verify-name is for a "
		    "client, not with -l");
	if (o->listen && t->no_sni)
		return err_set(e, ST_USAGE, "--no-sni is for a client, not "
		    "with -l");
	if (t->no_sni && t->servername != NULL)
		return err_set(e, ST_USAGE, "cannot use --no-sni and "
		    "--ssl-servername together (--ssl-verify-name sets the "
		    "verified name alone)");
	if (t->alpn_required && t->alpn == NULL)
		return err_set(e, ST_USAGE, "--ssl-alpn-required needs "
		    "--ssl-alpn");
	if (o->listen && t->sess_in != NULL)
		return err_set(e, ST_USAGE, "--ssl-sess-in is for a client, "
		    "not with -l");
	if (o->listen && t->sess_out != NULL)
		return err_set(e, ST_USAGE, "--ssl-sess-out is for a client, "
		    "not with -l");
	if (o->listen && t->reconnect > 0)
		return err_set(e, ST_USAGE, "--ssl-reconnect is for a client, "
		    "not with -l");
	if (o->listen && t->ocsp != TLS_OCSP_OFF)
		return err_set(e, ST_USAGE, "--ssl-ocsp is for a client; a "
		    "listener staples with --ssl-ocsp-response");
	if (!o->listen && t->ocsp_response != NULL)
		return err_set(e, ST_USAGE, "--ssl-ocsp-response is for a "
		    "listener (-l)");
	if (t->ocsp_response != NULL && t->cert_file == NULL)
		return err_set(e, ST_USAGE, "--ssl-ocsp-response needs "
		    "--ssl-cert");
	if (!o->listen && t->client_ca != NULL)
		return err_set(e, ST_USAGE, "--ssl-client-ca is for a "
		    "listener (-l)");
	if (!o->listen && t->require_client_cert)
		return err_set(e, ST_USAGE, "--ssl-require-client-cert is for "
		    "a listener (-l)");
	if (t->require_client_cert && t->client_ca == NULL && !t->have_pin)
		return err_set(e, ST_USAGE, "--ssl-require-client-cert needs "
		    "--ssl-client-ca or --ssl-pin");
	return ST_OK;
}

/* One line per other forbidden combination, once the operands are read. */
static enum status
check_combinations(const struct options *o, const struct given *g,
    struct error *e)
{
	enum status st;

	if (given_letter(g, '4') && given_letter(g, '6'))
		return err_set(e, ST_USAGE, "cannot use -4 and -6 together");
	/* A probe scan makes a session per port: not one to keep. */
	if (o->scan && (o->ssl_save_chain != NULL || o->tls.sess_out != NULL ||
	    o->tls.reconnect > 0))
		return err_set(e, ST_USAGE, "cannot use -z and %s together: "
		    "a scan makes a session per port", o->ssl_save_chain !=
		    NULL ? "--ssl-save-chain" : o->tls.sess_out != NULL ?
		    "--ssl-sess-out" : "--ssl-reconnect");
	if (o->scan && o->src_addr != NULL)
		return err_set(e, ST_USAGE, "cannot use -z and -s together");
	if (o->scan && o->src_port != NULL)
		return err_set(e, ST_USAGE, "cannot use -z and -p together");
	if (o->exec != NULL && o->sh_exec != NULL)
		return err_set(e, ST_USAGE, "cannot use -e and -c together");
	if (o->exec_stderr && o->exec == NULL && o->sh_exec == NULL)
		return err_set(e, ST_USAGE, "--exec-stderr needs -e or -c");
	if (o->exec != NULL && strspn(o->exec, " \t\n") == strlen(o->exec))
		return err_set(e, ST_USAGE, "-e needs a program");
	if ((o->exec != NULL || o->sh_exec != NULL) && o->recv_only)
		return err_set(e, ST_USAGE, "cannot use %s and --recv-only "
		    "together", o->exec != NULL ? "-e" : "-c");
	if (o->broker && o->udp)
		return err_set(e, ST_USAGE, "cannot use %s and -u together",
		    o->chat ? "--chat" : "--broker");
	if (o->broker && (o->exec != NULL || o->sh_exec != NULL))
		return err_set(e, ST_USAGE, "cannot use %s and %s together",
		    o->chat ? "--chat" : "--broker",
		    o->exec != NULL ? "-e" : "-c");
	if (o->scan && (o->exec != NULL || o->sh_exec != NULL))
		return err_set(e, ST_USAGE, "cannot use -z and %s together",
		    o->exec != NULL ? "-e" : "-c");
	if (given_tls_option(g) && !o->ssl)
		return err_set(e, ST_USAGE, "TLS options need --ssl");
	if (o->tls.no_verify && o->tls.have_pin)
		return err_set(e, ST_USAGE,
		    "cannot use --ssl-pin and --ssl-no-verify together");
	if (o->tls.no_verify && o->ssl_verify)
		return err_set(e, ST_USAGE,
		    "cannot use --ssl-verify and --ssl-no-verify together");
	if (o->listen && o->tls.trust_file != NULL)
		return err_set(e, ST_USAGE, "--ssl-trustfile is for a "
		    "client, not with -l");
	if (o->listen && o->tls.servername != NULL)
		return err_set(e, ST_USAGE, "--ssl-servername is for a "
		    "client, not with -l");
	if ((st = check_negotiation(o, e)) != ST_OK)
		return st;
	if (o->listen && o->tls.no_verify)
		return err_set(e, ST_USAGE, "--ssl-no-verify is for a "
		    "client, not with -l");
	/* A listener does not verify clients: the option would promise it. */
	if (o->listen && o->ssl_verify)
		return err_set(e, ST_USAGE, "--ssl-verify is for a client, "
		    "not with -l");
	if (o->listen && o->src_addr != NULL)
		return err_set(e, ST_USAGE, "-s is for a client; give the "
		    "listen address as an argument");
	if (o->tls.key_file != NULL && o->tls.cert_file == NULL)
		return err_set(e, ST_USAGE, "--ssl-key needs --ssl-cert");
	if (o->tls.n_more_keys > o->tls.n_more_certs)
		return err_set(e, ST_USAGE, "--ssl-key is given more often "
		    "than --ssl-cert");
	if (o->tls.n_more_certs > 0 && !o->listen)
		return err_set(e, ST_USAGE, "--ssl-cert may be repeated only "
		    "with -l: a client presents one certificate");
	if (o->tls.key_pass != NULL && o->tls.cert_file == NULL)
		return err_set(e, ST_USAGE, "--ssl-key-pass needs --ssl-cert");
	if (o->ssl_info_file != NULL && *o->ssl_info_file == '\0')
		return err_set(e, ST_USAGE, "--ssl-info-file: empty file name");
	if (o->ssl_save_chain != NULL && *o->ssl_save_chain == '\0')
		return err_set(e, ST_USAGE, "--ssl-save-chain: empty file name");
	if (o->ssl_keylog != NULL && *o->ssl_keylog == '\0')
		return err_set(e, ST_USAGE, "--ssl-keylog: empty file name");
	return check_transport(o, g, e);
}

/* The data options: which of them go together. */
static enum status
check_data_options(const struct options *o, const struct given *g,
    struct error *e)
{
	static const char data_letters[] = "dCtox";
	const char *l;

	if (o->send_only && o->recv_only)
		return err_set(e, ST_USAGE, "cannot use --send-only and "
		    "--recv-only together");
	if ((o->exec != NULL || o->sh_exec != NULL) && o->send_only)
		return err_set(e, ST_USAGE, "cannot use %s and --send-only "
		    "together", o->exec != NULL ? "-e" : "-c");
	if (o->append_output && o->output == NULL && o->hex_dump == NULL)
		return err_set(e, ST_USAGE, "--append-output needs -o or -x");
	if (o->progress && (o->keep_open || o->scan))
		return err_set(e, ST_USAGE, "--progress is for one session: "
		    "not with %s", o->scan ? "-z" : "-k");
	for (l = data_letters; o->scan && *l != '\0'; l++)
		if (given_letter(g, *l))
			return err_set(e, ST_USAGE, "cannot use -z and -%c "
			    "together", *l);
	if (o->scan && (o->send_only || o->append_output))
		return err_set(e, ST_USAGE, "cannot use -z and %s together",
		    o->send_only ? "--send-only" : "--append-output");
	return ST_OK;
}

/* Fill in getopt_long's tables from option_table. */
static void
build_getopt_tables(struct getopt_tables *t)
{
	size_t i, nl = 0, ns = 0;

	t->shortopts[ns++] = ':';	/* report a missing argument as ':' */
	for (i = 0; i < OPTION_COUNT; i++) {
		const struct optdef *d = &option_table[i];

		if (d->letter != 0) {
			t->shortopts[ns++] = (char)d->letter;
			if (d->arg != NULL)
				t->shortopts[ns++] = ':';
		}
		if (d->name != NULL) {
			t->longopts[nl].name = d->name;
			t->longopts[nl].has_arg = d->arg == NULL ?
			    no_argument : d->arg[0] == '[' ?
			    optional_argument : required_argument;
			t->longopts[nl].flag = NULL;
			t->longopts[nl].val = LONG_VAL + (int)i;
			nl++;
		}
	}
	t->shortopts[ns] = '\0';
	memset(&t->longopts[nl], 0, sizeof(t->longopts[nl]));
}

/* The message for what getopt_long refused: c is its ':' or '?'. */
static enum status
refused_option(int c, char **argv, struct error *e)
{
	const struct optdef *d = find_by_val(optopt);
	char label[64];

	if (c == ':') {
		if (optopt != 0)
			return err_set(e, ST_USAGE, "option %s needs an "
			    "argument", opt_label(d, label, sizeof(label)));
		return err_set(e, ST_USAGE, "option %s needs an argument",
		    argv[optind - 1]);
	}
	/* A known entry here is a long flag given "=value". */
	if (optopt != 0 && d != NULL)
		return err_set(e, ST_USAGE, "option %s takes no argument",
		    opt_label(d, label, sizeof(label)));
	if (optopt != 0 && optopt < LONG_VAL)
		return err_set(e, ST_USAGE, "unknown option '-%c'", optopt);
	return err_set(e, ST_USAGE, "unknown option '%s'", argv[optind - 1]);
}

/*
 * The operands of a listener: "[host] port", or with -p only "[host]".
 * The port ends up in port_arg and port, never in src_port.
 */
static enum status
listen_operands(struct options *o, int nargs, char **args, struct error *e)
{
	enum status st;

	if (nargs > 2)
		return err_set(e, ST_USAGE, "too many arguments: '%s'",
		    args[2]);
	if (nargs == 2) {
		o->host = args[0];
		o->port_arg = args[1];
	} else if (nargs == 1) {
		/* As in Ncat, "-l -p PORT HOST" names the host. */
		if (o->src_port != NULL)
			o->host = args[0];
		else
			o->port_arg = args[0];
	}
	if (o->port_arg != NULL && o->src_port != NULL)
		return err_set(e, ST_USAGE, "the port is given twice: by -p "
		    "and as an argument");
	if (o->port_arg == NULL)
		o->port_arg = o->src_port;
	if (o->port_arg == NULL)
		return err_set(e, ST_USAGE, "no port to listen on "
		    "(tlsnc -l [host] port)");
	o->src_port = NULL;
	if ((st = parse_port(o->port_arg, true, &o->port, e)) != ST_OK)
		return st;
	o->tls.listen_name = o->host;
	return ST_OK;
}

/* The operands of a client: "host port".  A -p source port is checked too. */
static enum status
connect_operands(struct options *o, int nargs, char **args, struct error *e)
{
	struct error pe;
	enum status st;
	uint16_t sp;

	if (nargs == 0 && o->starttls != NULL)
		return err_set(e, ST_USAGE, "no host given (tlsnc --starttls "
		    "PROTO host [port])");
	if (nargs < 2 && !(nargs == 1 && o->starttls != NULL))
		return err_set(e, ST_USAGE, nargs == 0 ?
		    "no host and port given (tlsnc host port)" :
		    "no port given (tlsnc host port)");
	if (nargs > 2)
		return err_set(e, ST_USAGE, "too many arguments: '%s'",
		    args[2]);
	o->host = args[0];
	if (*o->host == '\0')
		return err_set(e, ST_USAGE, "empty host name");
	/* With --starttls, the port defaults to the protocol's own. */
	if (nargs == 1)
		o->port = starttls_port(o->starttls);
	else if ((st = parse_port(args[1], false, &o->port, e)) != ST_OK)
		return st;
	o->port_arg = nargs == 2 ? args[1] : NULL;
	if (o->src_port != NULL &&
	    parse_port(o->src_port, false, &sp, &pe) != ST_OK)
		return err_set(e, ST_USAGE, "-p: %.400s", pe.msg);
	return ST_OK;
}

/* The operand of -U, listening or not: one path, or "@name". */
static enum status
unix_operands(struct options *o, int nargs, char **args, struct error *e)
{
	struct sockaddr_un un;
	socklen_t len;

	if (nargs == 0)
		return err_set(e, ST_USAGE, "no socket path given (tlsnc -U "
		    "[-l] path)");
	if (nargs > 1)
		return err_set(e, ST_USAGE, "too many arguments: '%s' (-U "
		    "takes one path)", args[1]);
	o->unix_path = args[0];
	return unix_addr_parse(o->unix_path, &un, &len, e);
}

/* The operands of a scan: "host ports [ports ...]". */
static enum status
scan_operands(struct options *o, int nargs, char **args, struct error *e)
{
	enum status st;
	int i;

	if (nargs < 2)
		return err_set(e, ST_USAGE, nargs == 0 ?
		    "no host and ports given (tlsnc -z host ports)" :
		    "no ports given (tlsnc -z host ports)");
	o->host = args[0];
	if (*o->host == '\0')
		return err_set(e, ST_USAGE, "empty host name");
	for (i = 1; i < nargs; i++)
		if ((st = parse_port_list(args[i], &o->scan_ports, e)) !=
		    ST_OK)
			return st;
	return ST_OK;
}

/*
 * getopt_long takes any unique prefix of a long name: "--ssl-no" would mean
 * --ssl-no-verify.  An option that weakens security must never be reached
 * by a slip of the keyboard, so only the full name is accepted.  The name
 * given is in the argv element just consumed: the one before optind, or the
 * one before that when the argument came as a word of its own.
 */
static enum status
check_full_name(const struct optdef *d, char **argv, struct error *e)
{
	const char *given = argv[optind - 1];
	size_t len;

	if (d->arg != NULL && optarg == argv[optind - 1] && optind >= 2)
		given = argv[optind - 2];
	if (strncmp(given, "--", 2) != 0)
		return ST_OK;
	given += 2;
	len = strcspn(given, "=");
	if (strlen(d->name) == len && strncmp(given, d->name, len) == 0)
		return ST_OK;
	return err_set(e, ST_USAGE, "unknown option '--%.*s'", (int)len,
	    given);
}

enum status
options_parse(int argc, char **argv, struct options *o, struct error *e)
{
	struct getopt_tables t;
	struct given g;
	const struct optdef *d;
	enum status st;
	int c;

	defaults(o);
	err_clear(e);
	memset(&g, 0, sizeof(g));
	build_getopt_tables(&t);
	optind = 0;	/* full re-initialisation, so parsing can repeat */
	opterr = 0;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts,
	    NULL)) != -1) {
		if ((d = find_by_val(c)) == NULL)
			return refused_option(c, argv, e);
		if (c >= LONG_VAL && (st = check_full_name(d, argv, e)) != ST_OK)
			return st;
		g.entry[d - option_table] = true;
		if ((st = d->set(d, o, optarg, e)) != ST_OK)
			return st;
	}
	if (o->help || o->version)
		return ST_OK;
	if ((st = check_mode(o, e)) != ST_OK)
		return st;
	if (o->unix_sock)
		st = unix_operands(o, argc - optind, argv + optind, e);
	else if (o->scan)
		st = scan_operands(o, argc - optind, argv + optind, e);
	else if (o->listen)
		st = listen_operands(o, argc - optind, argv + optind, e);
	else
		st = connect_operands(o, argc - optind, argv + optind, e);
	if (st != ST_OK)
		return st;
	o->tls.server = o->listen;
	/* A file for the report asks for the report. */
	if (o->ssl_info_file != NULL && o->ssl_info == REPORT_NONE)
		o->ssl_info = REPORT_TEXT;
	if ((st = check_combinations(o, &g, e)) != ST_OK)
		return st;
	return check_data_options(o, &g, e);
}

/* The option table and the parser built from it. */
#include "config.h"

#include <sys/socket.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "options.h"

enum {
	OPT_RECV_ONLY = 256,
	OPT_NO_SHUTDOWN,
	OPT_VERSION,
	OPT_SSL,
	OPT_SSL_CERT,
	OPT_SSL_KEY,
	OPT_SSL_TRUSTFILE,
	OPT_SSL_VERIFY,
	OPT_SSL_NO_VERIFY,
	OPT_SSL_PIN,
	OPT_SSL_SERVERNAME,
};

/* The order here is the order of --help, the man page and the completion. */
const struct optdef option_table[] = {
	{ NULL, '4', NULL, GROUP_GENERAL,
	  "Use IPv4 only", '4' },
	{ NULL, '6', NULL, GROUP_GENERAL,
	  "Use IPv6 only", '6' },
	{ "listen", 'l', NULL, GROUP_GENERAL,
	  "Listen for one connection instead of connecting", 'l' },
	{ "keep-open", 'k', NULL, GROUP_GENERAL,
	  "Accept many connections at once in listen mode", 'k' },
	{ "max-conns", 'm', "N", GROUP_GENERAL,
	  "At most N clients at once with -k", 'm' },
	{ "source-port", 'p', "PORT", GROUP_GENERAL,
	  "Local port: the source port, or the port to listen on", 'p' },
	{ "source", 's', "ADDR", GROUP_GENERAL,
	  "Source address for a connection", 's' },
	{ "nodns", 'n', NULL, GROUP_GENERAL,
	  "Numeric addresses only; never resolve names", 'n' },
	{ "wait", 'w', "SECS", GROUP_GENERAL,
	  "Time limit for the connect and the TLS handshake together", 'w' },
	{ "idle-timeout", 'i', "SECS", GROUP_GENERAL,
	  "Quit when no data has moved for SECS", 'i' },
	{ NULL, 'q', "SECS", GROUP_GENERAL,
	  "Quit SECS after EOF on stdin, even if the peer stays open", 'q' },
	{ "recv-only", 0, NULL, GROUP_GENERAL,
	  "Only receive; never read stdin", OPT_RECV_ONLY },
	{ "no-shutdown", 0, NULL, GROUP_GENERAL,
	  "Keep the write side open at EOF on stdin", OPT_NO_SHUTDOWN },
	{ "verbose", 'v', NULL, GROUP_GENERAL,
	  "Report progress on stderr; repeat for more", 'v' },
	{ "help", 'h', NULL, GROUP_GENERAL,
	  "Print this summary and exit", 'h' },
	{ "version", 0, NULL, GROUP_GENERAL,
	  "Print the version and the OpenSSL version, and exit", OPT_VERSION },
	{ "ssl", 0, NULL, GROUP_TLS,
	  "Use TLS (the client verifies the server by default)", OPT_SSL },
	{ "ssl-cert", 0, "FILE", GROUP_TLS,
	  "PEM certificate (and chain) to present", OPT_SSL_CERT },
	{ "ssl-key", 0, "FILE", GROUP_TLS,
	  "PEM private key for --ssl-cert (default: the same file)",
	  OPT_SSL_KEY },
	{ "ssl-trustfile", 0, "FILE", GROUP_TLS,
	  "PEM CA certificates to trust instead of the system store",
	  OPT_SSL_TRUSTFILE },
	{ "ssl-verify", 0, NULL, GROUP_TLS,
	  "Verify the server (the default; accepted for Ncat)",
	  OPT_SSL_VERIFY },
	{ "ssl-no-verify", 0, NULL, GROUP_TLS,
	  "Do not verify the server (insecure)", OPT_SSL_NO_VERIFY },
	{ "ssl-pin", 0, "SHA256:HEX", GROUP_TLS,
	  "Accept exactly the certificate with this SHA-256 fingerprint",
	  OPT_SSL_PIN },
	{ "ssl-servername", 0, "NAME", GROUP_TLS,
	  "Name to send as SNI and to verify, instead of the host",
	  OPT_SSL_SERVERNAME },
};

const size_t option_count = sizeof(option_table) / sizeof(option_table[0]);

static const struct optdef *
find_by_id(int id)
{
	size_t i;

	for (i = 0; i < option_count; i++)
		if (option_table[i].id == id)
			return &option_table[i];
	return NULL;
}

/* "-p/--source-port" style, for messages. */
static const char *
opt_label(int id, char *buf, size_t len)
{
	const struct optdef *d = find_by_id(id);

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

void
options_usage(FILE *f)
{
	static const char *const heading[] = { "Options", "TLS options" };
	char left[64];
	size_t i;
	int g;

	fprintf(f, "Usage: tlsnc [options] host port\n"
	    "       tlsnc -l [options] [host] port\n");
	for (g = GROUP_GENERAL; g <= GROUP_TLS; g++) {
		fprintf(f, "\n%s:\n", heading[g]);
		for (i = 0; i < option_count; i++) {
			const struct optdef *d = &option_table[i];

			if ((int)d->group != g)
				continue;
			if (d->letter != 0 && d->name != NULL)
				snprintf(left, sizeof(left), "-%c, --%s%s%s",
				    d->letter, d->name, d->arg ? " " : "",
				    d->arg ? d->arg : "");
			else if (d->letter != 0)
				snprintf(left, sizeof(left), "-%c%s%s",
				    d->letter, d->arg ? " " : "",
				    d->arg ? d->arg : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s",
				    d->name, d->arg ? " " : "",
				    d->arg ? d->arg : "");
			fprintf(f, "  %-28s %s\n", left, d->help);
		}
	}
	fprintf(f, "\nExit status: 0 ok, 1 runtime error, 2 usage, 3 timeout, "
	    "4 TLS handshake,\n5 certificate verification, 6 TLS stream "
	    "truncated.  See tlsnc(1).\n");
}

static void
defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->wait_ms = -1;
	o->idle_ms = 0;
	o->quit_ms = -1;
}

/* One line per forbidden combination, right after parsing. */
static enum status
check_combinations(struct options *o, bool seen4, bool seen6, bool tls_used,
    struct error *e)
{
	if (seen4 && seen6)
		return err_set(e, ST_USAGE, "cannot use -4 and -6 together");
	if (tls_used && !o->ssl)
		return err_set(e, ST_USAGE, "TLS options need --ssl");
	if (o->tls.no_verify && o->tls.have_pin)
		return err_set(e, ST_USAGE,
		    "cannot use --ssl-pin and --ssl-no-verify together");
	if (o->tls.no_verify && o->ssl_verify)
		return err_set(e, ST_USAGE,
		    "cannot use --ssl-verify and --ssl-no-verify together");
	if (o->listen && o->tls.have_pin)
		return err_set(e, ST_USAGE, "--ssl-pin is for a client, "
		    "not with -l");
	if (o->listen && o->tls.trust_file != NULL)
		return err_set(e, ST_USAGE, "--ssl-trustfile is for a "
		    "client, not with -l");
	if (o->listen && o->tls.servername != NULL)
		return err_set(e, ST_USAGE, "--ssl-servername is for a "
		    "client, not with -l");
	if (o->listen && o->tls.no_verify)
		return err_set(e, ST_USAGE, "--ssl-no-verify is for a "
		    "client, not with -l");
	if (o->listen && o->src_addr != NULL)
		return err_set(e, ST_USAGE, "-s is for a client; give the "
		    "listen address as an argument");
	if (o->tls.key_file != NULL && o->tls.cert_file == NULL)
		return err_set(e, ST_USAGE, "--ssl-key needs --ssl-cert");
	return ST_OK;
}

enum status
options_parse(int argc, char **argv, struct options *o, struct error *e)
{
	struct option longopts[sizeof(option_table) /
	    sizeof(option_table[0]) + 1];
	char shortopts[2 * sizeof(option_table) / sizeof(option_table[0]) + 2];
	char label[64];
	size_t i, nl = 0, ns = 0;
	bool seen4 = false, seen6 = false, tls_used = false;
	enum status st;
	int c, nargs;

	defaults(o);
	err_clear(e);
	shortopts[ns++] = ':';
	for (i = 0; i < option_count; i++) {
		const struct optdef *d = &option_table[i];

		if (d->letter != 0) {
			shortopts[ns++] = (char)d->letter;
			if (d->arg != NULL)
				shortopts[ns++] = ':';
		}
		if (d->name != NULL) {
			longopts[nl].name = d->name;
			longopts[nl].has_arg = d->arg ? required_argument :
			    no_argument;
			longopts[nl].flag = NULL;
			longopts[nl].val = d->id;
			nl++;
		}
	}
	shortopts[ns] = '\0';
	memset(&longopts[nl], 0, sizeof(longopts[nl]));

	optind = 0;	/* full re-initialisation, so parsing can repeat */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case '4':
			seen4 = true;
			o->family = AF_INET;
			break;
		case '6':
			seen6 = true;
			o->family = AF_INET6;
			break;
		case 'l':
			o->listen = true;
			break;
		case 'k':
			o->keep_open = true;
			break;
		case 'm':
			o->max_conns = (unsigned)atoi(optarg);
			break;
		case 'p':
			o->src_port = optarg;
			break;
		case 's':
			o->src_addr = optarg;
			break;
		case 'n':
			o->numeric = true;
			break;
		case 'w':
			if ((st = parse_seconds("-w", optarg, &o->wait_ms,
			    e)) != ST_OK)
				return st;
			if (o->wait_ms == 0)
				return err_set(e, ST_USAGE, "-w: the time "
				    "limit must be more than 0");
			break;
		case 'i':
			if ((st = parse_seconds("-i", optarg, &o->idle_ms,
			    e)) != ST_OK)
				return st;
			if (o->idle_ms == 0)
				return err_set(e, ST_USAGE, "-i: the time "
				    "limit must be more than 0");
			break;
		case 'q':
			if ((st = parse_seconds("-q", optarg, &o->quit_ms,
			    e)) != ST_OK)
				return st;
			break;
		case OPT_RECV_ONLY:
			o->recv_only = true;
			break;
		case OPT_NO_SHUTDOWN:
			o->no_shutdown = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->help = true;
			break;
		case OPT_VERSION:
			o->version = true;
			break;
		case OPT_SSL:
			o->ssl = true;
			break;
		case OPT_SSL_CERT:
			tls_used = true;
			o->tls.cert_file = optarg;
			break;
		case OPT_SSL_KEY:
			tls_used = true;
			o->tls.key_file = optarg;
			break;
		case OPT_SSL_TRUSTFILE:
			tls_used = true;
			o->tls.trust_file = optarg;
			break;
		case OPT_SSL_VERIFY:
			tls_used = true;
			o->ssl_verify = true;
			break;
		case OPT_SSL_NO_VERIFY:
			tls_used = true;
			o->tls.no_verify = true;
			break;
		case OPT_SSL_PIN:
			tls_used = true;
			if (tls_parse_pin(optarg, o->tls.pin) == -1)
				return err_set(e, ST_USAGE, "--ssl-pin: '%s' "
				    "is not SHA256: and 64 hex digits", optarg);
			o->tls.have_pin = true;
			break;
		case OPT_SSL_SERVERNAME:
			tls_used = true;
			if (*optarg == '\0')
				return err_set(e, ST_USAGE,
				    "--ssl-servername: empty name");
			o->tls.servername = optarg;
			break;
		case ':':
			if (optopt != 0)
				return err_set(e, ST_USAGE, "option %s needs "
				    "an argument", opt_label(optopt, label,
				    sizeof(label)));
			return err_set(e, ST_USAGE, "option %s needs an "
			    "argument", argv[optind - 1]);
		case '?':
		default:
			/* A known id here is a long flag given "=value". */
			if (optopt != 0 && find_by_id(optopt) != NULL)
				return err_set(e, ST_USAGE, "option %s takes "
				    "no argument", opt_label(optopt, label,
				    sizeof(label)));
			if (optopt != 0 && optopt < 256)
				return err_set(e, ST_USAGE,
				    "unknown option '-%c'", optopt);
			return err_set(e, ST_USAGE, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (o->help || o->version)
		return ST_OK;

	nargs = argc - optind;
	if (o->listen) {
		if (nargs > 2)
			return err_set(e, ST_USAGE, "too many arguments: "
			    "'%s'", argv[optind + 2]);
		if (nargs == 2) {
			o->host = argv[optind];
			o->port_arg = argv[optind + 1];
		} else if (nargs == 1) {
			/* As in Ncat, "-l -p PORT HOST" names the host. */
			if (o->src_port != NULL)
				o->host = argv[optind];
			else
				o->port_arg = argv[optind];
		}
		if (o->port_arg != NULL && o->src_port != NULL)
			return err_set(e, ST_USAGE, "the port is given twice: "
			    "by -p and as an argument");
		if (o->port_arg == NULL)
			o->port_arg = o->src_port;
		if (o->port_arg == NULL)
			return err_set(e, ST_USAGE, "no port to listen on "
			    "(tlsnc -l [host] port)");
		o->src_port = NULL;
		if ((st = parse_port(o->port_arg, true, &o->port, e)) != ST_OK)
			return st;
		o->tls.listen_name = o->host;
	} else {
		if (nargs < 2)
			return err_set(e, ST_USAGE, nargs == 0 ?
			    "no host and port given (tlsnc host port)" :
			    "no port given (tlsnc host port)");
		if (nargs > 2)
			return err_set(e, ST_USAGE, "too many arguments: "
			    "'%s'", argv[optind + 2]);
		o->host = argv[optind];
		o->port_arg = argv[optind + 1];
		if (*o->host == '\0')
			return err_set(e, ST_USAGE, "empty host name");
		if ((st = parse_port(o->port_arg, false, &o->port, e)) != ST_OK)
			return st;
		if (o->src_port != NULL) {
			struct error pe;
			uint16_t sp;

			if (parse_port(o->src_port, false, &sp, &pe) != ST_OK)
				return err_set(e, ST_USAGE, "-p: %.400s",
				    pe.msg);
		}
	}
	o->tls.server = o->listen;
	return check_combinations(o, seen4, seen6, tls_used, e);
}

/*
 * Unit tests for the command line (src/options.c): every accepted form, every
 * error path with its message, and --help generated from the option table.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS	160	/* room for 64 --deny options and more */

static struct options	opts;
static struct error	err;

/*
 * Run options_parse over "tlsnc" and the NULL-terminated vector of arguments.
 * getopt_long permutes the pointer array, so it is rebuilt on every call; the
 * strings are literals and outlive the struct options that points into them.
 */
static enum status
parse_vec(const char *const *args)
{
	static char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"tlsnc";
	for (; *args != NULL; args++) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	/* Stale text must not make a later assertion pass. */
	memset(&err, 'X', sizeof(err));
	err.msg[sizeof(err.msg) - 1] = '\0';
	return options_parse(argc, argv, &opts, &err);
}

/* The same, over the NULL-terminated list of arguments. */
static enum status
parse_list(const char *first, ...)
{
	const char *args[MAX_ARGS + 2];
	const char *a;
	va_list ap;
	int n = 0;

	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(n <= MAX_ARGS);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	return parse_vec(args);
}

#define PARSE(...)	parse_list(__VA_ARGS__, (const char *)NULL)

/* The parse must fail with ST_USAGE and exactly this message. */
#define USAGE_ERROR(want_, ...) do {					\
	assert_int_equal(PARSE(__VA_ARGS__), ST_USAGE);			\
	assert_int_equal(err.status, ST_USAGE);				\
	assert_string_equal(err.msg, (want_));				\
} while (0)

#define PARSE_OK(...) do {						\
	enum status st_ = PARSE(__VA_ARGS__);				\
	if (st_ != ST_OK)						\
		fail_msg("status %d: %s", (int)st_, err.msg);		\
	assert_int_equal(err.status, ST_OK);				\
	assert_string_equal(err.msg, "");				\
} while (0)

static const char pin_hex[] =
    "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
static const unsigned char pin_bytes[32] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

/*
 * Service names (https, smtp, http) are looked up in /etc/services, which a
 * minimal system may lack: on Debian it comes with the netbase package.
 * When it is missing, say so in a TAP comment, so that the failures which
 * follow name their cause.
 */
static void
note_services_file(void)
{
	if (access("/etc/services", R_OK) != 0)
		print_message("# /etc/services: %s: service names such as "
		    "https cannot be looked up (on Debian, install netbase)\n",
		    strerror(errno));
}

/* ---- accepted forms ---- */

static void
client_host_port(void **state)
{
	(void)state;
	PARSE_OK("example.org", "8080");
	assert_false(opts.listen);
	assert_string_equal(opts.host, "example.org");
	assert_string_equal(opts.port_arg, "8080");
	assert_int_equal(opts.port, 8080);
	assert_int_equal(opts.family, AF_UNSPEC);
	assert_null(opts.src_port);
	assert_null(opts.src_addr);
	assert_false(opts.numeric);
	assert_true(opts.wait_ms == -1);
	assert_true(opts.idle_ms == 0);
	assert_true(opts.quit_ms == -1);
	assert_int_equal(opts.verbose, 0);
	assert_false(opts.ssl);
	assert_false(opts.tls.server);
	assert_false(opts.tls.have_pin);
	assert_false(opts.help);
	assert_false(opts.version);
}

static void
client_service_port(void **state)
{
	(void)state;
	note_services_file();
	PARSE_OK("example.org", "https");
	assert_int_equal(opts.port, 443);
	assert_string_equal(opts.port_arg, "https");
	PARSE_OK("mail.example.org", "smtp");
	assert_int_equal(opts.port, 25);
	PARSE_OK("-l", "https");
	assert_int_equal(opts.port, 443);
}

static void
client_flags(void **state)
{
	(void)state;
	note_services_file();
	/* GNU getopt also takes options after the operands. */
	PARSE_OK("-n", "-s", "127.0.0.1", "-p", "4000", "192.0.2.1", "80",
	    "--recv-only", "--no-shutdown");
	assert_true(opts.numeric);
	assert_string_equal(opts.src_addr, "127.0.0.1");
	assert_string_equal(opts.src_port, "4000");
	assert_string_equal(opts.host, "192.0.2.1");
	assert_int_equal(opts.port, 80);
	assert_true(opts.recv_only);
	assert_true(opts.no_shutdown);

	PARSE_OK("--nodns", "--source", "::1", "--source-port", "http",
	    "::1", "80");
	assert_true(opts.numeric);
	assert_string_equal(opts.src_addr, "::1");
	assert_string_equal(opts.src_port, "http");
}

static void
listen_port(void **state)
{
	(void)state;
	PARSE_OK("-l", "9000");
	assert_true(opts.listen);
	assert_null(opts.host);
	assert_int_equal(opts.port, 9000);
	assert_string_equal(opts.port_arg, "9000");
	assert_null(opts.src_port);
	assert_true(opts.tls.server);
	assert_null(opts.tls.listen_name);

	/* Port 0 asks for any port. */
	PARSE_OK("--listen", "0");
	assert_true(opts.listen);
	assert_int_equal(opts.port, 0);
}

static void
listen_host_port(void **state)
{
	(void)state;
	PARSE_OK("-l", "127.0.0.1", "9001");
	assert_true(opts.listen);
	assert_string_equal(opts.host, "127.0.0.1");
	assert_int_equal(opts.port, 9001);
	assert_true(opts.tls.server);
	assert_string_equal(opts.tls.listen_name, "127.0.0.1");
}

static void
listen_dash_p(void **state)
{
	(void)state;
	PARSE_OK("-l", "-p", "9002");
	assert_true(opts.listen);
	assert_null(opts.host);
	assert_int_equal(opts.port, 9002);
	assert_string_equal(opts.port_arg, "9002");
	/* The port moved over: it is no longer a source port. */
	assert_null(opts.src_port);

	PARSE_OK("-lp", "0");
	assert_true(opts.listen);
	assert_int_equal(opts.port, 0);
}

/* As in Ncat, "-l -p PORT HOST": the one operand names the host. */
static void
listen_dash_p_host(void **state)
{
	(void)state;
	note_services_file();
	PARSE_OK("-l", "-p", "9003", "127.0.0.1");
	assert_true(opts.listen);
	assert_string_equal(opts.host, "127.0.0.1");
	assert_string_equal(opts.port_arg, "9003");
	assert_int_equal(opts.port, 9003);
	assert_null(opts.src_port);
	assert_string_equal(opts.tls.listen_name, "127.0.0.1");

	PARSE_OK("localhost", "-l", "-p", "https");
	assert_string_equal(opts.host, "localhost");
	assert_int_equal(opts.port, 443);
}

static void
family_flags(void **state)
{
	(void)state;
	PARSE_OK("-4", "h", "1");
	assert_int_equal(opts.family, AF_INET);
	PARSE_OK("-6", "h", "1");
	assert_int_equal(opts.family, AF_INET6);
	PARSE_OK("-4", "-l", "1");
	assert_int_equal(opts.family, AF_INET);
}

static void
seconds_options(void **state)
{
	(void)state;
	PARSE_OK("-w", "1.5", "-i", "2", "-q", "0.25", "h", "1");
	assert_true(opts.wait_ms == 1500);
	assert_true(opts.idle_ms == 2000);
	assert_true(opts.quit_ms == 250);

	PARSE_OK("--wait", "0.001", "--idle-timeout", "3600", "h", "1");
	assert_true(opts.wait_ms == 1);
	assert_true(opts.idle_ms == 3600000);

	/* -q 0 quits at once after stdin EOF: that is allowed. */
	PARSE_OK("-q", "0", "h", "1");
	assert_true(opts.quit_ms == 0);

	PARSE_OK("-w10", "h", "1");
	assert_true(opts.wait_ms == 10000);
}

static void
seconds_errors(void **state)
{
	(void)state;
	USAGE_ERROR("-w: invalid time 'abc' (seconds, or a number with ms, "
	    "s, m or h)", "-w", "abc", "h", "1");
	USAGE_ERROR("-w: invalid time '1sec' (seconds, or a number with ms, "
	    "s, m or h)", "-w", "1sec", "h", "1");
	USAGE_ERROR("-w: invalid time '' (seconds, or a number with ms, "
	    "s, m or h)", "-w", "", "h", "1");
	USAGE_ERROR("-w: invalid time '-1' (seconds, or a number with ms, "
	    "s, m or h)", "-w", "-1", "h", "1");
	USAGE_ERROR("-i: invalid time 'nan' (seconds, or a number with ms, "
	    "s, m or h)", "-i", "nan", "h", "1");
	USAGE_ERROR("-q: invalid time 'inf' (seconds, or a number with ms, "
	    "s, m or h)", "-q", "inf", "h", "1");
	USAGE_ERROR("-q: invalid time '1e999' (seconds, or a number with ms, "
	    "s, m or h)", "-q", "1e999", "h", "1");
	/* Zero would mean "no time at all" for these two. */
	USAGE_ERROR("-w: the time limit must be more than 0", "-w", "0",
	    "h", "1");
	USAGE_ERROR("-w: 0.0001 is less than the smallest unit, 1 ms",
	    "-w", "0.0001", "h", "1");
	USAGE_ERROR("-i: the time limit must be more than 0", "-i", "0",
	    "h", "1");
}

static void
verbose_repeat(void **state)
{
	(void)state;
	PARSE_OK("-v", "h", "1");
	assert_int_equal(opts.verbose, 1);
	PARSE_OK("-vvv", "h", "1");
	assert_int_equal(opts.verbose, 3);
	PARSE_OK("-v", "--verbose", "-vv", "h", "1");
	assert_int_equal(opts.verbose, 4);
	/* A fresh parse starts from zero again. */
	PARSE_OK("h", "1");
	assert_int_equal(opts.verbose, 0);
}

static void
help_and_version(void **state)
{
	(void)state;
	/* No operands are needed with these. */
	PARSE_OK("-h");
	assert_true(opts.help);
	PARSE_OK("--help");
	assert_true(opts.help);
	PARSE_OK("--version");
	assert_true(opts.version);
	assert_false(opts.help);
}

/* ---- --ssl-pin ---- */

static void
pin_forms(void **state)
{
	static const char *const forms[] = {
		"SHA256:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		"sha256:00112233445566778899AABBCCDDEEFF"
		    "0123456789ABCDEFFEDCBA9876543210",
		"Sha256:00112233445566778899aAbBcCdDeEfF"
		    "0123456789aBcDeFfEdCbA9876543210",
		"00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		"SHA256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
		    "01:23:45:67:89:AB:CD:EF:FE:DC:BA:98:76:54:32:10",
		"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
		    "01:23:45:67:89:ab:cd:ef:fe:dc:ba:98:76:54:32:10",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		PARSE_OK("--ssl", "--ssl-pin", forms[i], "h", "443");
		assert_true(opts.ssl);
		assert_true(opts.tls.have_pin);
		assert_memory_equal(opts.tls.pin, pin_bytes,
		    sizeof(pin_bytes));
	}
	/* --opt=value works as well. */
	assert_int_equal(PARSE("--ssl", "--ssl-pin=SHA256:"
	    "00112233445566778899aabbccddeeff"
	    "0123456789abcdeffedcba9876543210", "h", "443"), ST_OK);
	assert_memory_equal(opts.tls.pin, pin_bytes, sizeof(pin_bytes));
	assert_int_equal((int)strlen(pin_hex), 64);
}

/* A repeated --ssl-pin adds a pin, up to TLS_PINS_MAX. */
static void
pin_several(void **state)
{
	const char *args[2 * TLS_PINS_MAX + 8];
	char pins[TLS_PINS_MAX + 1][80];
	char want[ERROR_MSG_MAX];
	size_t i, n = 0;

	(void)state;
	args[n++] = "--ssl";
	for (i = 0; i < TLS_PINS_MAX; i++) {
		snprintf(pins[i], sizeof(pins[i]), "SHA256:%02zx%s", i,
		    pin_hex + 2);
		args[n++] = "--ssl-pin";
		args[n++] = pins[i];
	}
	args[n++] = "h";
	args[n++] = "1";
	args[n] = NULL;
	if (parse_vec(args) != ST_OK)
		fail_msg("%d pins: %s", TLS_PINS_MAX, err.msg);
	assert_true(opts.tls.have_pin);
	assert_int_equal(opts.tls.pin[0], 0);
	assert_memory_equal(opts.tls.pin + 1, pin_bytes + 1, 31);
	assert_int_equal(opts.tls.n_more_pins, TLS_PINS_MAX - 1);
	for (i = 1; i < TLS_PINS_MAX; i++) {
		assert_int_equal(opts.tls.more_pins[i - 1][0], i);
		assert_memory_equal(opts.tls.more_pins[i - 1] + 1,
		    pin_bytes + 1, 31);
	}
	/* One more is a usage error. */
	n -= 2;
	snprintf(pins[TLS_PINS_MAX], sizeof(pins[0]), "SHA256:%s", pin_hex);
	args[n++] = "--ssl-pin";
	args[n++] = pins[TLS_PINS_MAX];
	args[n++] = "h";
	args[n++] = "1";
	args[n] = NULL;
	assert_int_equal(parse_vec(args), ST_USAGE);
	snprintf(want, sizeof(want), "--ssl-pin: at most %d pins may be given",
	    TLS_PINS_MAX);
	assert_string_equal(err.msg, want);
	/* A fresh parse starts with none. */
	PARSE_OK("--ssl", "h", "1");
	assert_false(opts.tls.have_pin);
	assert_int_equal(opts.tls.n_more_pins, 0);
	/* A bad second pin is named. */
	USAGE_ERROR("--ssl-pin: 'x' is not SHA256: and 64 hex digits", "--ssl",
	    "--ssl-pin", pin_hex, "--ssl-pin", "x", "h", "1");
}

static void
pin_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"SHA256:",
		/* 63 and 65 digits */
		"SHA256:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba987654321",
		"SHA256:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba98765432100",
		/* 66 digits: one byte too many */
		"00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba987654321000",
		/* a non-hex digit */
		"SHA256:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba987654321g",
		/* the wrong algorithm */
		"SHA1:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		"SHA-256:00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		/* a colon inside a byte, a leading and a trailing colon */
		"0:0112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		":00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		"00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210:",
		/* spaces */
		"SHA256: 00112233445566778899aabbccddeeff"
		    "0123456789abcdeffedcba9876543210",
		"not a pin",
	};
	char want[ERROR_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "--ssl-pin: '%s' is not SHA256: "
		    "and 64 hex digits", bad[i]);
		USAGE_ERROR(want, "--ssl", "--ssl-pin", bad[i], "h", "443");
	}
}

/* ---- --ssl-key-pass ---- */

static void
key_pass_forms(void **state)
{
	static const char *const good[] = {
		"pass:secret", "pass:", "pass:with:colons and spaces",
		"env:TLSNC_PASS", "file:/etc/tlsnc/pass", "file:relative",
		"fd:0", "fd:3", "fd:123456789",
	};
	static const char *const bad[] = {
		"", "secret", "pass", "PASS:x", "env:", "file:", "fd:", "fd:x",
		"fd:-1", "fd:3x", "fd:1234567890", "stdin", "env",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		PARSE_OK("--ssl", "--ssl-cert", "c.pem", "--ssl-key-pass",
		    good[i], "h", "1");
		assert_string_equal(opts.tls.key_pass, good[i]);
	}
	/* The refused value is not echoed: it may be the passphrase. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		USAGE_ERROR("--ssl-key-pass: give the passphrase as pass:TEXT, "
		    "env:VAR, file:PATH or fd:N", "--ssl", "--ssl-cert",
		    "c.pem", "--ssl-key-pass", bad[i], "h", "1");
	PARSE_OK("-l", "--ssl", "--ssl-cert", "c.pem", "--ssl-key", "k.pem",
	    "--ssl-key-pass=env:X", "0");
	assert_string_equal(opts.tls.key_pass, "env:X");
	PARSE_OK("--ssl", "h", "1");
	assert_null(opts.tls.key_pass);
	USAGE_ERROR("--ssl-key-pass needs --ssl-cert", "--ssl",
	    "--ssl-key-pass", "pass:x", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-cert", "c.pem",
	    "--ssl-key-pass", "pass:x", "h", "1");
}

/* ---- -k/--keep-open and -m/--max-conns ---- */

#define CASE_ARGS	10

/* "tlsnc" and these arguments parse, and set these two fields. */
struct keep_open_ok {
	const char	*args[CASE_ARGS];
	bool		 keep_open;
	unsigned	 max_conns;
};

static void
keep_open_accepted(void **state)
{
	static const struct keep_open_ok cases[] = {
		/* The defaults: one client, and no limit to speak of. */
		{ { "-l", "9000" }, false, 0 },
		{ { "h", "1" }, false, 0 },
		{ { "-l", "-k", "9000" }, true, 0 },
		{ { "--listen", "--keep-open", "127.0.0.1", "0" }, true, 0 },
		{ { "-k", "-l", "-p", "9000" }, true, 0 },
		{ { "-l", "-k", "-m", "1", "0" }, true, 1 },
		{ { "-l", "-k", "-m", "100000", "0" }, true, 100000 },
		{ { "-l", "-k", "--max-conns", "250", "0" }, true, 250 },
		{ { "-l", "-k", "--max-conns=007", "0" }, true, 7 },
		{ { "-lkm5", "0" }, true, 5 },
		{ { "-lkm", "64", "0" }, true, 64 },
		/* Options may follow the operands, as elsewhere. */
		{ { "-l", "0", "-m", "3", "-k" }, true, 3 },
		/* With --ssl as well. */
		{ { "-l", "-k", "-m", "2", "--ssl", "0" }, true, 2 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct keep_open_ok *c = &cases[i];
		enum status st = parse_vec(c->args);

		if (st != ST_OK)
			fail_msg("case %zu: status %d: %s", i, (int)st,
			    err.msg);
		assert_string_equal(err.msg, "");
		if (opts.keep_open != c->keep_open ||
		    opts.max_conns != c->max_conns)
			fail_msg("case %zu: keep_open %d max_conns %u, want "
			    "%d %u", i, opts.keep_open, opts.max_conns,
			    c->keep_open, c->max_conns);
	}
}

/* "tlsnc" and these arguments fail with ST_USAGE and exactly this message. */
struct usage_case {
	const char	*args[CASE_ARGS];
	const char	*msg;
};

static void
keep_open_errors(void **state)
{
	static const struct usage_case cases[] = {
		/* -k is for a listener, even when the operands look like one. */
		{ { "-k", "9000" }, "-k needs -l" },
		{ { "-k" }, "-k needs -l" },
		{ { "--keep-open", "h", "1" }, "-k needs -l" },
		{ { "-k", "-m", "5", "h", "1" }, "-k needs -l" },
		{ { "-m", "5", "h", "1" }, "-m needs -k" },
		{ { "-l", "-m", "5", "9000" }, "-m needs -k" },
		{ { "-l", "--max-conns", "5" }, "-m needs -k" },
		{ { "-l", "-k", "-m" },
		  "option -m/--max-conns needs an argument" },
		{ { "-l", "-k", "0", "--max-conns" },
		  "option -m/--max-conns needs an argument" },
		{ { "-l", "--keep-open=1", "0" },
		  "option -k/--keep-open takes no argument" },
		/* A bad value is named before a missing -k. */
		{ { "-m", "0", "h", "1" },
		  "-m: invalid number of connections '0'" },
		/* The other checks still run with -k. */
		{ { "-l", "-k", "-s", "127.0.0.1", "0" },
		  "-s is for a client; give the listen address as an "
		  "argument" },
		{ { "-l", "-k", "a", "1", "c" }, "too many arguments: 'c'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum status st = parse_vec(cases[i].args);

		if (st != ST_USAGE || err.status != ST_USAGE ||
		    strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("case %zu: status %d '%s', want 2 '%s'", i,
			    (int)st, err.msg, cases[i].msg);
	}
}

/* -u and -U: their operands and what they cannot go with. */
static void
transport_errors(void **state)
{
	static const struct usage_case cases[] = {
		{ { "--ssl", "-u", "h", "1" }, "--ssl with -u is not supported "
		  "(DTLS is not implemented)" },
		{ { "-U" }, "no socket path given (tlsnc -U [-l] path)" },
		{ { "-l", "-U", "a", "b" },
		  "too many arguments: 'b' (-U takes one path)" },
		{ { "-U", "@" }, "-U: empty abstract socket name after '@'" },
		{ { "-U", "-6", "p" }, "cannot use -6 and -U together" },
		{ { "-U", "-s", "127.0.0.1", "p" },
		  "cannot use -s and -U together" },
		{ { "-z", "-U", "p" }, "cannot use -z and -U together" },
		{ { "-l", "-U", "-p", "9", "p" }, "cannot use -p and -U "
		  "together: a Unix socket has a path, not a port" },
		{ { "--unlink", "-U", "p" }, "--unlink needs -l and -U" },
		{ { "-l", "--unlink", "9000" }, "--unlink needs -l and -U" },
		{ { "--ssl", "-U", "p" }, "--ssl with -U needs "
		  "--ssl-servername NAME or --ssl-pin: a socket path is no "
		  "host name to verify the server against" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum status st = parse_vec(cases[i].args);

		if (st != ST_USAGE || err.status != ST_USAGE ||
		    strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("case %zu: status %d '%s', want 2 '%s'", i,
			    (int)st, err.msg, cases[i].msg);
	}
}

/* What -u and -U accept, and where the operand goes. */
static void
transport_accepted(void **state)
{
	static const char *const ssl_u[] = { "--ssl", "--ssl-servername",
	    "localhost", "-U", "@svc", NULL };
	static const char *const lku[] = { "-l", "-k", "-u", "--unlink",
	    "-U", "/run/x.sock", NULL };
	static const char *const zu[] = { "-z", "-u", "h", "53", NULL };

	(void)state;
	assert_int_equal(parse_vec(ssl_u), ST_OK);
	assert_true(opts.unix_sock);
	assert_string_equal(opts.unix_path, "@svc");
	assert_null(opts.host);
	assert_int_equal(parse_vec(lku), ST_OK);
	assert_true(opts.udp && opts.keep_open && opts.unlink_stale);
	assert_string_equal(opts.unix_path, "/run/x.sock");
	assert_int_equal(parse_vec(zu), ST_OK);
	assert_true(opts.udp && opts.scan);
}

/* Every -m value but a plain decimal 1 to 100000 is refused, by name. */
static void
max_conns_bad_values(void **state)
{
	static const char *const bad[] = {
		"0", "00", "100001", "999999", "", " ", "+5", "-5", "-0",
		" 5", "5 ", "5\n", "1.5", "1e3", "0x10", "abc", "5k", "5,000",
		"4294967297",			/* 2^32 + 1: wraps in 32 bits */
		"18446744073709551617",		/* 2^64 + 1 */
		"99999999999999999999999",
	};
	char want[ERROR_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "-m: invalid number of "
		    "connections '%s'", bad[i]);
		USAGE_ERROR(want, "-l", "-k", "-m", bad[i], "0");
		USAGE_ERROR(want, "-l", "-k", "--max-conns", bad[i], "0");
	}
}

/* --allow and friends: kept in order, as given; the lists checked. */
static void
access_forms(void **state)
{
	(void)state;
	PARSE_OK("-l", "--allow", "10.0.0.0/8,::1", "--deny", "10.1.2.3",
	    "--allowfile", "a.txt", "--denyfile=d.txt", "--allow",
	    "localhost", "0");
	assert_int_equal(opts.access.n, 5);
	assert_string_equal(opts.access.v[0].option, "allow");
	assert_string_equal(opts.access.v[0].value, "10.0.0.0/8,::1");
	assert_false(opts.access.v[0].deny);
	assert_false(opts.access.v[0].file);
	assert_string_equal(opts.access.v[1].option, "deny");
	assert_true(opts.access.v[1].deny);
	assert_false(opts.access.v[1].file);
	assert_string_equal(opts.access.v[2].option, "allowfile");
	assert_false(opts.access.v[2].deny);
	assert_true(opts.access.v[2].file);
	assert_string_equal(opts.access.v[3].option, "denyfile");
	assert_string_equal(opts.access.v[3].value, "d.txt");
	assert_true(opts.access.v[3].deny);
	assert_true(opts.access.v[3].file);
	assert_string_equal(opts.access.v[4].value, "localhost");
	/* Under -k, and with -e, too. */
	PARSE_OK("-l", "-k", "-e", "cat", "--deny", "192.0.2.0/24", "0");
	assert_int_equal(opts.access.n, 1);
	PARSE_OK("-l", "0");
	assert_int_equal(opts.access.n, 0);
}

static void
access_errors(void **state)
{
	static const struct usage_case cases[] = {
		{ { "--allow", "127.0.0.1", "h", "1" },
		  "--allow is for a listener: it needs -l" },
		{ { "--denyfile", "f", "h", "1" },
		  "--denyfile is for a listener: it needs -l" },
		{ { "-z", "--deny", "10.0.0.1", "h", "1" },
		  "cannot use -z and --deny together" },
		{ { "-z", "--allowfile", "f", "h", "1" },
		  "cannot use -z and --allowfile together" },
		{ { "-l", "--allow", "10.0.0.0/33", "0" },
		  "--allow: '10.0.0.0/33': an IPv4 prefix length is at most "
		  "32" },
		{ { "-l", "--deny", "::1/129", "0" },
		  "--deny: '::1/129': an IPv6 prefix length is at most 128" },
		{ { "-l", "--deny", "::1,300.0.0.1", "0" },
		  "--deny: '300.0.0.1': it is not an IPv4 address" },
		{ { "-l", "--allow", "", "0" },
		  "--allow: no address, range or host name given" },
		{ { "-l", "--allowfile", "", "0" },
		  "--allowfile: empty file name" },
		{ { "-l", "--allow" }, "option --allow needs an argument" },
		/* A bad spec is named before a missing -l. */
		{ { "--allow", "1.2.3.4/40", "h", "1" },
		  "--allow: '1.2.3.4/40': an IPv4 prefix length is at most 32" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum status st = parse_vec(cases[i].args);

		if (st != ST_USAGE || err.status != ST_USAGE ||
		    strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("case %zu: status %d '%s', want 2 '%s'", i,
			    (int)st, err.msg, cases[i].msg);
	}
}

/* At most OPTIONS_ACCESS_MAX of them. */
static void
access_too_many(void **state)
{
	const char *args[2 * OPTIONS_ACCESS_MAX + 8];
	size_t n = 0, i;

	(void)state;
	args[n++] = "-l";
	for (i = 0; i < OPTIONS_ACCESS_MAX; i++) {
		args[n++] = "--deny";
		args[n++] = "192.0.2.1";
	}
	args[n++] = "0";
	args[n] = NULL;
	assert_true(n <= MAX_ARGS);
	assert_int_equal(parse_vec(args), ST_OK);
	assert_int_equal(opts.access.n, OPTIONS_ACCESS_MAX);
	args[n - 1] = "--allow";
	args[n++] = "::1";
	args[n++] = "0";
	args[n] = NULL;
	assert_int_equal(parse_vec(args), ST_USAGE);
	assert_string_equal(err.msg, "at most 64 --allow, --allowfile, "
	    "--deny and --denyfile options may be given");
}

/* ---- every error path in options.c ---- */

static void
err_unknown_short(void **state)
{
	(void)state;
	USAGE_ERROR("unknown option '-j'", "-j", "h", "1");
	/* Inside a cluster, and after a valid option. */
	USAGE_ERROR("unknown option '-Z'", "-vZ", "h", "1");
}

static void
err_unknown_long(void **state)
{
	(void)state;
	USAGE_ERROR("unknown option '--bogus'", "--bogus", "h", "1");
	USAGE_ERROR("unknown option '--bogus=1'", "--bogus=1", "h", "1");
	/* A flag given a value is named as such, not as a short option. */
	USAGE_ERROR("option -v/--verbose takes no argument", "--verbose=1",
	    "h", "1");
	USAGE_ERROR("option --ssl takes no argument", "--ssl=1", "h", "1");
}

/*
 * getopt_long's unique-prefix abbreviations are refused: "--ssl-no" must
 * not reach --ssl-no-verify by a slip.  The message names what was given,
 * up to any '=', as for any other unknown option.
 */
static void
err_abbreviated_long(void **state)
{
	(void)state;
	USAGE_ERROR("unknown option '--ssl-no'", "--ssl", "--ssl-no", "h",
	    "1");
	USAGE_ERROR("unknown option '--ssl-no-ver'", "--ssl",
	    "--ssl-no-ver", "h", "1");
	USAGE_ERROR("unknown option '--k'", "-l", "--k", "0");
	USAGE_ERROR("unknown option '--keep'", "-l", "--keep", "0");
	USAGE_ERROR("unknown option '--verb'", "--verb", "h", "1");
	USAGE_ERROR("unknown option '--vers'", "--vers");
	/* With an argument, as a word of its own or after '='. */
	USAGE_ERROR("unknown option '--ssl-pi'", "--ssl", "--ssl-pi", pin_hex,
	    "h", "1");
	USAGE_ERROR("unknown option '--ssl-pi'", "--ssl", "--ssl-pi=abc",
	    "h", "1");
	USAGE_ERROR("unknown option '--wai'", "--wai", "5", "h", "1");
	USAGE_ERROR("unknown option '--max'", "-l", "-k", "--max=5", "0");
	/* An ambiguous prefix, which getopt_long refuses itself. */
	USAGE_ERROR("unknown option '--ssl-'", "--ssl-", "h", "1");
	/* The full names still work, and a name that is a prefix of others. */
	PARSE_OK("--ssl", "--ssl-no-verify", "h", "1");
	assert_true(opts.tls.no_verify);
	PARSE_OK("--listen", "--keep-open", "--max-conns=5", "0");
	assert_true(opts.keep_open);
	assert_int_equal(opts.max_conns, 5);
	PARSE_OK("--ssl", "--ssl-pin", pin_hex, "--wait", "5", "h", "1");
	assert_true(opts.wait_ms == 5000);
	PARSE_OK("--ssl", "--ssl-cert", "--ssl-no", "h", "1");
	assert_string_equal(opts.tls.cert_file, "--ssl-no");
}

static void
err_missing_argument(void **state)
{
	(void)state;
	USAGE_ERROR("option -w/--wait needs an argument", "h", "1", "-w");
	USAGE_ERROR("option -w/--wait needs an argument", "h", "1", "--wait");
	USAGE_ERROR("option -q needs an argument", "h", "1", "-q");
	USAGE_ERROR("option -p/--source-port needs an argument", "-l", "-p");
	USAGE_ERROR("option --ssl-cert needs an argument", "--ssl", "h", "1",
	    "--ssl-cert");
	USAGE_ERROR("option --ssl-pin needs an argument", "--ssl", "h", "1",
	    "--ssl-pin");
}

static void
err_bad_port(void **state)
{
	(void)state;
	USAGE_ERROR("invalid port '0': must be 1 to 65535", "h", "0");
	USAGE_ERROR("invalid port '65536': must be 1 to 65535", "h", "65536");
	USAGE_ERROR("invalid port '65536': must be 0 to 65535", "-l",
	    "65536");
	USAGE_ERROR("invalid port '99999999999999999999999': must be 1 to "
	    "65535", "h", "99999999999999999999999");
	USAGE_ERROR("invalid port 'nosuchservice': not a number or a known "
	    "service name", "h", "nosuchservice");
	USAGE_ERROR("invalid port 'nosuchservice': not a number or a known "
	    "service name", "-l", "nosuchservice");
	USAGE_ERROR("invalid port '80x': not a number or a known service "
	    "name", "h", "80x");
	USAGE_ERROR("empty port", "h", "");
	/* A client's source port goes through the same check. */
	USAGE_ERROR("-p: invalid port '70000': must be 1 to 65535", "-p",
	    "70000", "h", "1");
}

static void
err_too_many_arguments(void **state)
{
	(void)state;
	USAGE_ERROR("too many arguments: 'c'", "a", "1", "c");
	USAGE_ERROR("too many arguments: 'c'", "-l", "a", "1", "c");
	USAGE_ERROR("too many arguments: 'c'", "-l", "a", "1", "c", "d");
}

static void
err_no_port(void **state)
{
	(void)state;
	USAGE_ERROR("no port given (tlsnc host port)", "example.org");
	USAGE_ERROR("no port to listen on (tlsnc -l [host] port)", "-l");
	USAGE_ERROR("no port to listen on (tlsnc -l [host] port)", "-l",
	    "-v");
}

static void
err_no_host(void **state)
{
	(void)state;
	assert_int_equal(parse_list(NULL), ST_USAGE);
	assert_string_equal(err.msg, "no host and port given "
	    "(tlsnc host port)");
	USAGE_ERROR("no host and port given (tlsnc host port)", "-v");
	USAGE_ERROR("empty host name", "", "80");
}

static void
err_4_and_6(void **state)
{
	(void)state;
	USAGE_ERROR("cannot use -4 and -6 together", "-4", "-6", "h", "1");
	USAGE_ERROR("cannot use -4 and -6 together", "-6", "-l", "-4", "1");
}

static void
err_tls_without_ssl(void **state)
{
	(void)state;
	USAGE_ERROR("TLS options need --ssl", "--ssl-cert", "c.pem", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-cert", "c.pem",
	    "--ssl-key", "k.pem", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-trustfile", "ca.pem",
	    "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-verify", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-no-verify", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-pin", pin_hex, "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-servername", "n",
	    "h", "1");
	USAGE_ERROR("TLS options need --ssl", "-l", "--ssl-cert", "c.pem",
	    "1");
}

static void
exec_forms(void **state)
{
	(void)state;
	PARSE_OK("-e", "cat -n", "h", "1");
	assert_string_equal(opts.exec, "cat -n");
	assert_null(opts.sh_exec);
	PARSE_OK("-l", "--sh-exec", "wc -c | tr -d ' '", "9000");
	assert_string_equal(opts.sh_exec, "wc -c | tr -d ' '");
	assert_null(opts.exec);
	PARSE_OK("-l", "-k", "-c", "cat", "9000");
	assert_true(opts.keep_open);
	USAGE_ERROR("cannot use -e and -c together", "-e", "cat", "-c", "cat",
	    "h", "1");
	USAGE_ERROR("cannot use -e and --recv-only together", "-l",
	    "--recv-only", "--exec", "cat", "1");
	USAGE_ERROR("cannot use -c and --recv-only together", "-c", "cat",
	    "--recv-only", "h", "1");
	USAGE_ERROR("-e needs a program", "-e", "", "h", "1");
	USAGE_ERROR("-e needs a program", "-e", " \t", "h", "1");
}

static void
data_options(void **state)
{
	(void)state;
	PARSE_OK("-d", "0.25", "-C", "-t", "-o", "out", "-x", "hex",
	    "--append-output", "--progress", "h", "1");
	assert_int_equal(opts.delay_ms, 250);
	assert_true(opts.crlf);
	assert_true(opts.telnet);
	assert_string_equal(opts.output, "out");
	assert_string_equal(opts.hex_dump, "hex");
	assert_true(opts.append_output);
	assert_true(opts.progress);
	PARSE_OK("--delay", "2", "--crlf", "--telnet", "--output", "o",
	    "--hex-dump", "x", "--send-only", "h", "1");
	assert_int_equal(opts.delay_ms, 2000);
	assert_true(opts.send_only);
	assert_false(opts.append_output);
	USAGE_ERROR("-d: invalid time 'soon' (seconds, or a number with ms, "
	    "s, m or h)", "-d", "soon",
	    "h", "1");
	USAGE_ERROR("cannot use --send-only and --recv-only together",
	    "--send-only", "--recv-only", "h", "1");
	USAGE_ERROR("cannot use -e and --send-only together", "-e", "cat",
	    "--send-only", "h", "1");
	USAGE_ERROR("--append-output needs -o or -x", "--append-output", "h",
	    "1");
	USAGE_ERROR("--progress is for one session: not with -k", "-l", "-k",
	    "--progress", "1");
	USAGE_ERROR("--progress is for one session: not with -z", "-z",
	    "--progress", "h", "1");
	USAGE_ERROR("cannot use -z and -C together", "-z", "-C", "h", "1");
	USAGE_ERROR("cannot use -z and -o together", "-z", "-o", "f", "h",
	    "1");
	USAGE_ERROR("cannot use -z and --send-only together", "-z",
	    "--send-only", "h", "1");
}

static void
err_pin_and_no_verify(void **state)
{
	(void)state;
	USAGE_ERROR("cannot use --ssl-pin and --ssl-no-verify together",
	    "--ssl", "--ssl-pin", pin_hex, "--ssl-no-verify", "h", "1");
}

static void
err_verify_and_no_verify(void **state)
{
	(void)state;
	USAGE_ERROR("cannot use --ssl-verify and --ssl-no-verify together",
	    "--ssl", "--ssl-verify", "--ssl-no-verify", "h", "1");
	/* --ssl-verify alone is accepted and changes nothing else. */
	PARSE_OK("--ssl", "--ssl-verify", "h", "1");
	assert_true(opts.ssl_verify);
	assert_false(opts.tls.no_verify);
}

/* --starttls: a protocol by name, ssl on, the port from the protocol. */
static void
starttls_options(void **state)
{
	(void)state;
	PARSE_OK("--starttls", "smtp", "mx.example");
	assert_ptr_equal(opts.starttls, starttls_find("smtp"));
	assert_true(opts.ssl);
	assert_int_equal(opts.port, 25);
	assert_null(opts.port_arg);
	PARSE_OK("--starttls", "imap", "--starttls-name", "me.example",
	    "--ssl-trustfile", "ca.pem", "h", "1143");
	assert_int_equal(opts.port, 1143);
	assert_string_equal(opts.starttls_name, "me.example");
	USAGE_ERROR("--starttls: unknown protocol 'imaps' (known: smtp, lmtp, "
	    "imap, pop3, ftp, postgres, ldap, xmpp, xmpp-server, nntp, sieve, "
	    "irc)", "--starttls", "imaps", "h");
	USAGE_ERROR("--starttls is for a client, not with -l", "-l",
	    "--starttls", "smtp", "25");
	USAGE_ERROR("cannot use -z and --starttls together", "-z",
	    "--starttls", "smtp", "h", "25");
	USAGE_ERROR("--starttls-name needs --starttls", "--ssl",
	    "--starttls-name", "n", "h", "1");
	USAGE_ERROR("no host given (tlsnc --starttls PROTO host [port])",
	    "--starttls", "smtp");
	USAGE_ERROR("too many arguments: 'x'", "--starttls", "smtp", "h",
	    "25", "x");
	USAGE_ERROR("--starttls-name: 'a b' is not a host name: it has a space "
	    "or a control character", "--starttls", "smtp",
	    "--starttls-name", "a b", "h");
}

static void
err_client_tls_with_listen(void **state)
{
	(void)state;
	USAGE_ERROR("--ssl-trustfile is for a client, not with -l", "-l",
	    "--ssl", "--ssl-trustfile", "ca.pem", "1");
	USAGE_ERROR("--ssl-servername is for a client, not with -l", "-l",
	    "--ssl", "--ssl-servername", "n", "1");
	USAGE_ERROR("--ssl-no-verify is for a client, not with -l", "-l",
	    "--ssl", "--ssl-no-verify", "1");
	USAGE_ERROR("--ssl-verify is for a client, not with -l", "-l",
	    "--ssl", "--ssl-verify", "1");
	/* Both sides may present a certificate. */
	PARSE_OK("-l", "--ssl", "--ssl-cert", "c.pem", "--ssl-key", "k.pem",
	    "1");
	assert_string_equal(opts.tls.cert_file, "c.pem");
	assert_string_equal(opts.tls.key_file, "k.pem");
	assert_true(opts.tls.server);
	PARSE_OK("--ssl", "--ssl-cert", "c.pem", "--ssl-trustfile", "ca.pem",
	    "--ssl-servername", "n.example", "h", "1");
	assert_false(opts.tls.server);
	assert_string_equal(opts.tls.trust_file, "ca.pem");
	assert_string_equal(opts.tls.servername, "n.example");
	assert_null(opts.tls.key_file);
}

/* The negotiation options: values and the combinations refused. */
static void
negotiation_options(void **state)
{
	(void)state;
	PARSE_OK("--ssl", "--ssl-alpn", "h2,http/1.1", "--ssl-alpn-required",
	    "--ssl-min-version", "TLS1.3", "--ssl-max-version", "tls1.3",
	    "--ssl-seclevel", "0", "--ssl-ciphersuites", "TLS_AES_128_GCM_SHA256",
	    "--ssl-groups", "X25519", "--ssl-sigalgs", "ECDSA+SHA256", "h", "1");
	assert_string_equal(opts.tls.alpn, "h2,http/1.1");
	assert_true(opts.tls.alpn_required);
	assert_int_equal(opts.tls.min_version, TLS1_3_VERSION);
	assert_int_equal(opts.tls.max_version, TLS1_3_VERSION);
	assert_true(opts.tls.have_seclevel);
	assert_int_equal(opts.tls.seclevel, 0);
	assert_string_equal(opts.tls.groups, "X25519");
	USAGE_ERROR("--ssl-alpn: empty protocol name in 'h2,'", "--ssl",
	    "--ssl-alpn", "h2,", "h", "1");
	USAGE_ERROR("--ssl-alpn-required needs --ssl-alpn", "--ssl",
	    "--ssl-alpn-required", "h", "1");
	USAGE_ERROR("--ssl-min-version: unknown version 'tls1.4' (tls1, "
	    "tls1.1, tls1.2 or tls1.3)", "--ssl", "--ssl-min-version",
	    "tls1.4", "h", "1");
	USAGE_ERROR("--ssl-max-version: unknown version 'ssl3' (tls1, "
	    "tls1.1, tls1.2 or tls1.3)", "--ssl", "--ssl-max-version", "ssl3",
	    "h", "1");
	USAGE_ERROR("--ssl-seclevel: '6' is not a security level from 0 to 5",
	    "--ssl", "--ssl-seclevel", "6", "h", "1");
	USAGE_ERROR("--ssl-seclevel: '' is not a security level from 0 to 5",
	    "--ssl", "--ssl-seclevel", "", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-alpn", "h2", "h", "1");
}

/* SNI and the verified name, and the certificates of a listener. */
static void
sni_options(void **state)
{
	(void)state;
	PARSE_OK("--ssl", "--no-sni", "--ssl-verify-name", "a.example", "h",
	    "1");
	assert_true(opts.tls.no_sni);
	assert_string_equal(opts.tls.verify_name, "a.example");
	USAGE_ERROR("cannot use --no-sni and --ssl-servername together "
	    "(--ssl-verify-name sets the verified name alone)", "--ssl",
	    "--no-sni", "--ssl-servername", "a.example", "h", "1");
	USAGE_ERROR("--ssl-verify-name: 'a b' is not a host name: it has a "
	    "space or a control character", "--ssl", "--ssl-verify-name",
	    "a b", "h", "1");
	USAGE_ERROR("--no-sni is for a client, not with -l", "-l", "--ssl",
	    "--no-sni", "1");
	USAGE_ERROR("--ssl-verify-name is for a client, not with -l", "-l",
	    "--ssl", "--ssl-verify-name", "a", "1");
	PARSE_OK("-l", "--ssl", "--ssl-cert", "a.pem", "--ssl-key", "a.key",
	    "--ssl-cert", "b.pem", "--ssl-cert", "c.pem", "--ssl-key", "b.key",
	    "1");
	assert_string_equal(opts.tls.cert_file, "a.pem");
	assert_string_equal(opts.tls.key_file, "a.key");
	assert_int_equal(opts.tls.n_more_certs, 2);
	assert_string_equal(opts.tls.more_certs[0], "b.pem");
	assert_string_equal(opts.tls.more_certs[1], "c.pem");
	assert_int_equal(opts.tls.n_more_keys, 1);
	assert_string_equal(opts.tls.more_keys[0], "b.key");
	USAGE_ERROR("--ssl-key is given more often than --ssl-cert", "-l",
	    "--ssl", "--ssl-cert", "a.pem", "--ssl-key", "a.key",
	    "--ssl-key", "b.key", "1");
	USAGE_ERROR("--ssl-cert may be repeated only with -l: a client "
	    "presents one certificate", "--ssl", "--ssl-cert", "a.pem",
	    "--ssl-cert", "b.pem", "h", "1");
}

/* --ssl-ocsp's argument is optional, and only given after '='. */
static void
ocsp_options(void **state)
{
	(void)state;
	PARSE_OK("--ssl", "--ssl-ocsp", "h", "1");
	assert_int_equal(opts.tls.ocsp, TLS_OCSP_ASK);
	PARSE_OK("--ssl", "--ssl-ocsp=require", "h", "1");
	assert_int_equal(opts.tls.ocsp, TLS_OCSP_REQUIRE);
	/* A word after it is an operand, not its argument. */
	USAGE_ERROR("too many arguments: '1'", "--ssl", "--ssl-ocsp",
	    "require", "h", "1");
	USAGE_ERROR("--ssl-ocsp: unknown mode '' (give --ssl-ocsp or "
	    "--ssl-ocsp=require)", "--ssl", "--ssl-ocsp=", "h", "1");
	PARSE_OK("-l", "--ssl", "--ssl-cert", "c.pem",
	    "--ssl-ocsp-response", "r.der", "1");
	assert_string_equal(opts.tls.ocsp_response, "r.der");
	USAGE_ERROR("--ssl-ocsp-response needs --ssl-cert", "-l", "--ssl",
	    "--ssl-ocsp-response", "r.der", "1");
	USAGE_ERROR("--ssl-ocsp-response is for a listener (-l)", "--ssl",
	    "--ssl-ocsp-response", "r.der", "h", "1");
}

/* Client certificates: a listener's options. */
static void
client_cert_options(void **state)
{
	(void)state;
	PARSE_OK("-l", "--ssl", "--ssl-client-ca", "ca.pem",
	    "--ssl-require-client-cert", "--ssl-pin", pin_hex, "1");
	assert_string_equal(opts.tls.client_ca, "ca.pem");
	assert_true(opts.tls.require_client_cert);
	assert_true(opts.tls.have_pin);
	USAGE_ERROR("--ssl-client-ca is for a listener (-l)", "--ssl",
	    "--ssl-client-ca", "ca.pem", "h", "1");
	USAGE_ERROR("--ssl-require-client-cert is for a listener (-l)",
	    "--ssl", "--ssl-require-client-cert", "h", "1");
	USAGE_ERROR("--ssl-require-client-cert needs --ssl-client-ca or "
	    "--ssl-pin", "-l", "--ssl", "--ssl-require-client-cert", "1");
}

static void
ssl_ciphers(void **state)
{
	(void)state;
	PARSE_OK("--ssl", "h", "1");
	assert_null(opts.tls.ciphers);
	PARSE_OK("--ssl", "--ssl-ciphers", "AES128-SHA:@SECLEVEL=0", "h", "1");
	assert_string_equal(opts.tls.ciphers, "AES128-SHA:@SECLEVEL=0");
	/* Both sides choose their suites. */
	PARSE_OK("-l", "--ssl", "--ssl-ciphers=ECDHE+AESGCM", "0");
	assert_string_equal(opts.tls.ciphers, "ECDHE+AESGCM");
	USAGE_ERROR("TLS options need --ssl", "--ssl-ciphers", "ALL", "h",
	    "1");
	USAGE_ERROR("option --ssl-ciphers needs an argument", "--ssl", "h",
	    "1", "--ssl-ciphers");
}

/* --ssl-info's argument is optional, and only ever attached. */
static void
ssl_report_options(void **state)
{
	(void)state;
	PARSE_OK("--ssl", "h", "1");
	assert_int_equal(opts.ssl_info, REPORT_NONE);
	assert_null(opts.ssl_keylog);
	PARSE_OK("--ssl", "--ssl-info", "h", "1");
	assert_int_equal(opts.ssl_info, REPORT_TEXT);
	PARSE_OK("-l", "--ssl", "--ssl-info=json", "0");
	assert_int_equal(opts.ssl_info, REPORT_JSON);
	PARSE_OK("--ssl", "--ssl-info=text", "h", "1");
	assert_int_equal(opts.ssl_info, REPORT_TEXT);
	/* A separate word is an operand, not the format. */
	PARSE_OK("--ssl", "--ssl-info", "json", "1");
	assert_int_equal(opts.ssl_info, REPORT_TEXT);
	assert_string_equal(opts.host, "json");
	/* A file for the report asks for the report. */
	PARSE_OK("--ssl", "--ssl-info-file", "r.txt", "h", "1");
	assert_int_equal(opts.ssl_info, REPORT_TEXT);
	assert_string_equal(opts.ssl_info_file, "r.txt");
	PARSE_OK("--ssl", "--ssl-info=json", "--ssl-info-file", "r", "h", "1");
	assert_int_equal(opts.ssl_info, REPORT_JSON);
	PARSE_OK("--ssl", "--ssl-save-chain", "c.pem", "--ssl-keylog", "k",
	    "h", "1");
	assert_string_equal(opts.ssl_save_chain, "c.pem");
	assert_string_equal(opts.ssl_keylog, "k");
	USAGE_ERROR("--ssl-info: unknown format 'xml' (text or json)",
	    "--ssl", "--ssl-info=xml", "h", "1");
	USAGE_ERROR("--ssl-info: unknown format '' (text or json)",
	    "--ssl", "--ssl-info=", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-info", "h", "1");
	USAGE_ERROR("TLS options need --ssl", "--ssl-keylog", "k", "h", "1");
	USAGE_ERROR("--ssl-keylog: empty file name", "--ssl", "--ssl-keylog",
	    "", "h", "1");
	USAGE_ERROR("--ssl-save-chain: empty file name", "--ssl",
	    "--ssl-save-chain=", "h", "1");
	USAGE_ERROR("--ssl-info-file: empty file name", "--ssl",
	    "--ssl-info-file", "", "h", "1");
	/* Not reached by a prefix. */
	USAGE_ERROR("unknown option '--ssl-inf'", "--ssl", "--ssl-inf", "h",
	    "1");
}

static void
err_source_with_listen(void **state)
{
	(void)state;
	USAGE_ERROR("-s is for a client; give the listen address as an "
	    "argument", "-l", "-s", "127.0.0.1", "1");
}

static void
err_port_twice(void **state)
{
	(void)state;
	/* With -p, one operand is the host; two would name a port again. */
	USAGE_ERROR("the port is given twice: by -p and as an argument",
	    "-l", "-p", "1", "127.0.0.1", "2");
	USAGE_ERROR("the port is given twice: by -p and as an argument",
	    "-l", "--source-port=1", "localhost", "https");
}

static void
err_key_without_cert(void **state)
{
	(void)state;
	USAGE_ERROR("--ssl-key needs --ssl-cert", "--ssl", "--ssl-key",
	    "k.pem", "h", "1");
	USAGE_ERROR("--ssl-key needs --ssl-cert", "-l", "--ssl", "--ssl-key",
	    "k.pem", "1");
}

static void
err_empty_servername(void **state)
{
	(void)state;
	USAGE_ERROR("--ssl-servername: empty name", "--ssl",
	    "--ssl-servername", "", "h", "1");
	USAGE_ERROR("--ssl-servername: empty name", "--ssl",
	    "--ssl-servername=", "h", "1");
}

/*
 * --ssl-servername is sent as SNI and verified: it must be a host name, or
 * an IP address (which is verified, but never sent as SNI).
 */
static void
servername_forms(void **state)
{
	static const char label63[] =
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";
	static const char *const good[] = {
		"localhost", "example.org", "EXAMPLE.org", "a", "a-b.c_d.e9",
		"xn--bcher-kva.example", "127.0.0.1", "::1", "2001:db8::5",
		label63,
	};
	char name[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		PARSE_OK("--ssl", "--ssl-servername", good[i], "h", "1");
		assert_string_equal(opts.tls.servername, good[i]);
	}
	/* 253 characters in labels of 63: the longest name. */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label63, label63,
	    label63, label63);
	assert_int_equal(strlen(name), 253);
	PARSE_OK("--ssl", "--ssl-servername", name, "h", "1");
}

static void
servername_bad(void **state)
{
	static const char label64[] =
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl";
	static const struct {
		const char	*name;
		const char	*msg;
	} bad[] = {
		{ "a b", "--ssl-servername: 'a b' is not a host name: it has a "
		  "space or a control character" },
		{ " example.org", "--ssl-servername: ' example.org' is not a "
		  "host name: it has a space or a control character" },
		{ "a\tb", "--ssl-servername: 'a\\x09b' is not a host name: it "
		  "has a space or a control character" },
		{ "a\033[2Jb", "--ssl-servername: 'a\\x1b[2Jb' is not a host "
		  "name: it has a space or a control character" },
		{ "a\x7f", "--ssl-servername: 'a\\x7f' is not a host name: it "
		  "has a space or a control character" },
		{ "b\xc3\xbc" "cher.example", "--ssl-servername: "
		  "'b\\xc3\\xbccher.example' is not a host name: it has a "
		  "non-ASCII character (give the name in its IDNA form, "
		  "xn--...)" },
		{ "a..b", "--ssl-servername: 'a..b' is not a host name: it has "
		  "an empty label" },
		{ ".a", "--ssl-servername: '.a' is not a host name: it has an "
		  "empty label" },
		{ "a.", "--ssl-servername: 'a.' is not a host name: it has an "
		  "empty label" },
		{ ".", "--ssl-servername: '.' is not a host name: it has an "
		  "empty label" },
		{ "*.example.org", "--ssl-servername: '*.example.org' is not a "
		  "host name: it has a character that no host name has" },
		{ "a/b", "--ssl-servername: 'a/b' is not a host name: it has a "
		  "character that no host name has" },
		{ "[::1]", "--ssl-servername: '[::1]' is not a host name: it "
		  "has a character that no host name has" },
		{ label64, "--ssl-servername: '"
		  "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
		  "' is not a host name: it has a label longer than 63 "
		  "characters" },
	};
	char name[300], want[ERROR_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		USAGE_ERROR(bad[i].msg, "--ssl", "--ssl-servername",
		    bad[i].name, "h", "1");
	/* 254 characters: one too many; the name is shown cut short. */
	memset(name, 'a', 254);
	for (i = 50; i < 254; i += 50)
		name[i] = '.';
	name[254] = '\0';
	snprintf(want, sizeof(want), "--ssl-servername: '%.72s...' is not a "
	    "host name: it is longer than 253 characters", name);
	USAGE_ERROR(want, "--ssl", "--ssl-servername", name, "h", "1");
}

/* ---- the table drives the parser and --help ---- */

/* Every table entry, long and short, is known to getopt. */
static void
table_drives_parser(void **state)
{
	char arg[80];
	size_t i;

	(void)state;
	for (i = 0; i < option_count; i++) {
		const struct optdef *d = &option_table[i];

		if (d->name != NULL) {
			snprintf(arg, sizeof(arg), "--%s", d->name);
			if (d->arg != NULL)
				PARSE(arg, "x", "h", "1");
			else
				PARSE(arg, "h", "1");
			if (strncmp(err.msg, "unknown option", 14) == 0 ||
			    strstr(err.msg, "needs an argument") != NULL)
				fail_msg("%s: %s", arg, err.msg);
		}
		if (d->letter != 0) {
			snprintf(arg, sizeof(arg), "-%c", d->letter);
			if (d->arg != NULL)
				PARSE(arg, "x", "h", "1");
			else
				PARSE(arg, "h", "1");
			if (strncmp(err.msg, "unknown option", 14) == 0 ||
			    strstr(err.msg, "needs an argument") != NULL)
				fail_msg("%s: %s", arg, err.msg);
		}
	}
}

static void
usage_follows_table(void **state)
{
	char *buf = NULL, *pos, *line, *help, *eol, *tls_heading;
	char want[80];
	size_t len = 0, i;
	FILE *f;

	(void)state;
	assert_non_null(f = open_memstream(&buf, &len));
	options_usage(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);

	assert_non_null(strstr(buf, "Usage: tlsnc"));
	assert_non_null(pos = strstr(buf, "\nOptions:\n"));
	assert_non_null(tls_heading = strstr(buf, "\nTLS options:\n"));
	assert_true(pos < tls_heading);
	for (i = 0; i < option_count; i++) {
		const struct optdef *d = &option_table[i];

		assert_non_null(d->help);
		/* Each help text comes after the previous entry's. */
		help = strstr(pos, d->help);
		if (help == NULL)
			fail_msg("entry %zu (%s) missing or out of order", i,
			    d->help);
		for (line = help; line > buf && line[-1] != '\n'; line--)
			;
		eol = strchr(help, '\n');
		assert_non_null(eol);
		*help = '\0';	/* the left column alone */
		if (d->name != NULL) {
			snprintf(want, sizeof(want), "--%s", d->name);
			if (strstr(line, want) == NULL)
				fail_msg("'%s' not on the line of %s", want,
				    d->help);
		}
		if (d->letter != 0) {
			snprintf(want, sizeof(want), "-%c", d->letter);
			if (strncmp(line + strspn(line, " "), want, 2) != 0)
				fail_msg("'%s' does not start the line of %s",
				    want, d->help);
		}
		if (d->arg != NULL && strstr(line, d->arg) == NULL)
			fail_msg("'%s' not on the line of %s", d->arg,
			    d->help);
		/* Each entry sits under its group's heading. */
		if (d->group == GROUP_TLS)
			assert_true(line > tls_heading);
		else
			assert_true(line < tls_heading);
		pos = eol;
	}
	assert_non_null(strstr(pos, "Exit status:"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_host_port),
		cmocka_unit_test(client_service_port),
		cmocka_unit_test(client_flags),
		cmocka_unit_test(listen_port),
		cmocka_unit_test(listen_host_port),
		cmocka_unit_test(listen_dash_p),
		cmocka_unit_test(listen_dash_p_host),
		cmocka_unit_test(family_flags),
		cmocka_unit_test(seconds_options),
		cmocka_unit_test(seconds_errors),
		cmocka_unit_test(verbose_repeat),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(pin_forms),
		cmocka_unit_test(pin_several),
		cmocka_unit_test(pin_bad),
		cmocka_unit_test(key_pass_forms),
		cmocka_unit_test(keep_open_accepted),
		cmocka_unit_test(keep_open_errors),
		cmocka_unit_test(transport_errors),
		cmocka_unit_test(transport_accepted),
		cmocka_unit_test(max_conns_bad_values),
		cmocka_unit_test(access_forms),
		cmocka_unit_test(access_errors),
		cmocka_unit_test(access_too_many),
		cmocka_unit_test(err_unknown_short),
		cmocka_unit_test(err_unknown_long),
		cmocka_unit_test(err_abbreviated_long),
		cmocka_unit_test(err_missing_argument),
		cmocka_unit_test(err_bad_port),
		cmocka_unit_test(err_too_many_arguments),
		cmocka_unit_test(err_no_port),
		cmocka_unit_test(err_no_host),
		cmocka_unit_test(err_4_and_6),
		cmocka_unit_test(err_tls_without_ssl),
		cmocka_unit_test(exec_forms),
		cmocka_unit_test(data_options),
		cmocka_unit_test(err_pin_and_no_verify),
		cmocka_unit_test(err_verify_and_no_verify),
		cmocka_unit_test(starttls_options),
		cmocka_unit_test(err_client_tls_with_listen),
		cmocka_unit_test(ssl_ciphers),
		cmocka_unit_test(ssl_report_options),
		cmocka_unit_test(negotiation_options),
		cmocka_unit_test(sni_options),
		cmocka_unit_test(client_cert_options),
		cmocka_unit_test(ocsp_options),
		cmocka_unit_test(err_source_with_listen),
		cmocka_unit_test(err_port_twice),
		cmocka_unit_test(err_key_without_cert),
		cmocka_unit_test(err_empty_servername),
		cmocka_unit_test(servername_forms),
		cmocka_unit_test(servername_bad),
		cmocka_unit_test(table_drives_parser),
		cmocka_unit_test(usage_follows_table),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}

/*
 * The command line.  One table (options.c) drives getopt_long, --help and,
 * through the docs test, the man page and the shell completion.
 */
#ifndef TLSNC_OPTIONS_H
#define TLSNC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "access.h"
#include "net.h"
#include "report.h"
#include "starttls.h"
#include "status.h"
#include "tls.h"

enum opt_group {
	GROUP_GENERAL,
	GROUP_TLS,
};

struct optdef;
struct options;

/*
 * A setter stores one option's value in a struct options.  arg is the
 * option's argument, or NULL for a flag.  Returns ST_OK, or ST_USAGE with a
 * one-line message in e that names the option (as "-w" or "--ssl-pin").
 */
typedef enum status opt_setter(const struct optdef *, struct options *,
		    const char *arg, struct error *);

struct optdef {
	const char	*name;		/* long name, or NULL */
	int		 letter;	/* short letter, or 0 */
	/*
	 * The argument's name, or NULL for a flag.  "[=NAME]" is an optional
	 * argument, given only as --option=NAME.
	 */
	const char	*arg;
	enum opt_group	 group;
	const char	*help;
	opt_setter	*set;		/* parses arg and stores it ... */
	size_t		 field;		/* ... at this offset in struct options */
};

/* The largest -m value. */
#define OPTIONS_MAX_CONNS	100000

/* How many --allow, --deny, --allowfile and --denyfile may be given. */
#define OPTIONS_ACCESS_MAX	64

extern const struct optdef	option_table[];
extern const size_t		option_count;

struct options {
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	bool		 udp;		/* -u: datagrams */
	bool		 unix_sock;	/* -U: the operand is a socket path */
	bool		 unlink_stale;	/* --unlink: remove a stale -U file */
	const char	*unix_path;	/* -U's operand: a path or @name */
	bool		 listen;
	bool		 keep_open;	/* -k: many clients at once with -l */
	unsigned	 max_conns;	/* -m: at most this many, or 0: no limit */
	struct access_sources {		/* --allow, --deny, ..., in order */
		struct access_source v[OPTIONS_ACCESS_MAX];
		size_t		 n;
	} access;
	bool		 broker;	/* clients talk to each other; implies -k */
	bool		 chat;		/* --broker, line by line as <userN> */
	bool		 scan;		/* -z: report which ports accept */
	unsigned	 scan_concurrency; /* probes in flight, or 0: default */
	struct port_set	 scan_ports;	/* -z's operands after the host */
	const char	*host;		/* client target, or listen address */
	const char	*port_arg;
	uint16_t	 port;
	const char	*src_addr;
	const char	*src_port;
	bool		 numeric;
	int64_t		 wait_ms;	/* -w, or -1 */
	int64_t		 idle_ms;	/* -i, or 0 */
	int64_t		 quit_ms;	/* -q, or -1 */
	bool		 recv_only;
	bool		 no_shutdown;
	bool		 send_only;	/* drop what arrives; end at EOF */
	int64_t		 delay_ms;	/* -d: after each read of stdin */
	bool		 crlf;		/* -C */
	bool		 telnet;	/* -t */
	const char	*output;	/* -o */
	const char	*hex_dump;	/* -x */
	bool		 append_output;
	bool		 progress;
	const char	*exec;		/* -e: a program, split on blanks */
	const char	*sh_exec;	/* -c: a /bin/sh command */
	bool		 exec_stderr;	/* the program's stderr to the peer */
	int		 verbose;
	bool		 help;
	bool		 version;
	bool		 ssl;
	bool		 ssl_verify;	/* accepted, no effect: on by default */
	struct tls_opts	 tls;
	enum report_format ssl_info;	/* --ssl-info[=FORMAT] */
	const char	*ssl_info_file;	/* --ssl-info-file: instead of stderr */
	const char	*ssl_save_chain; /* --ssl-save-chain FILE */
	const char	*ssl_keylog;	/* --ssl-keylog FILE */
	const struct starttls_proto *starttls;	/* --starttls, or NULL */
	const char	*starttls_name;	/* --starttls-name, or NULL */
};

/*
 * Parse argv into o.  Returns ST_OK, or ST_USAGE with a one-line message
 * in e.  --help and --version only set their flags.
 */
enum status	options_parse(int argc, char **argv, struct options *o,
		    struct error *e);
/* Print the option summary, generated from the table. */
void		options_usage(FILE *);

#endif

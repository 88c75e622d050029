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

#include "net.h"
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
	const char	*arg;		/* argument's name, or NULL for a flag */
	enum opt_group	 group;
	const char	*help;
	opt_setter	*set;		/* parses arg and stores it ... */
	size_t		 field;		/* ... at this offset in struct options */
};

/* The largest -m value. */
#define OPTIONS_MAX_CONNS	100000

extern const struct optdef	option_table[];
extern const size_t		option_count;

struct options {
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	bool		 listen;
	bool		 keep_open;	/* -k: many clients at once with -l */
	unsigned	 max_conns;	/* -m: at most this many, or 0: no limit */
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
	const char	*exec;		/* -e: a program, split on blanks */
	const char	*sh_exec;	/* -c: a /bin/sh command */
	int		 verbose;
	bool		 help;
	bool		 version;
	bool		 ssl;
	bool		 ssl_verify;	/* accepted, no effect: on by default */
	struct tls_opts	 tls;
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

/*
 * The STARTTLS layer: its handshake runs a protocol's plaintext dialogue
 * on the stream below, one step at a time, without ever blocking; the
 * replies are judged by the pure parsers of starttls_parse.c.  Once the
 * server has said "go ahead", the layer passes bytes through unchanged,
 * and the TLS layer above it does the rest.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starttls.h"

/* One step: send a command (or nothing), then judge one reply. */
struct step {
	const char		*reply;		/* "the reply to EHLO" */
	const char		*cmd;		/* text, "%s" is the name;
						   for bytes, what they are */
	const unsigned char	*bytes;		/* or a binary command */
	size_t			 nbytes;
	starttls_parser		*parse;
};

struct starttls_proto {
	const char		*name;
	uint16_t		 port;
	bool			 name_is_target;
	const char		*xmpp_ns;	/* jabber:client or server */
	const struct step	*steps;		/* ended by parse == NULL */
};

#define XMPP_HEADER "<?xml version='1.0'?><stream:stream to='%s' " \
	"version='1.0' xml:lang='en' xmlns='jabber:%s' " \
	"xmlns:stream='http://etherx.jabber.org/streams'>"
/* Both templates: the name first, and then the XMPP namespace. */
#define XMPP_STARTTLS "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"

static const struct step smtp_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_smtp_greeting },
	{ "the reply to EHLO", "EHLO %s\r\n", NULL, 0, stp_smtp_ehlo },
	{ "the reply to STARTTLS", "STARTTLS\r\n", NULL, 0,
	  stp_smtp_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, lmtp_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_smtp_greeting },
	{ "the reply to LHLO", "LHLO %s\r\n", NULL, 0, stp_smtp_ehlo },
	{ "the reply to STARTTLS", "STARTTLS\r\n", NULL, 0,
	  stp_smtp_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, imap_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_imap_greeting },
	{ "the reply to CAPABILITY", "A1 CAPABILITY\r\n", NULL, 0,
	  stp_imap_capability },
	{ "the reply to STARTTLS", "A2 STARTTLS\r\n", NULL, 0,
	  stp_imap_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, pop3_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_pop3_greeting },
	{ "the reply to CAPA", "CAPA\r\n", NULL, 0, stp_pop3_capa },
	{ "the reply to STLS", "STLS\r\n", NULL, 0, stp_pop3_stls },
	{ NULL, NULL, NULL, 0, NULL },
}, ftp_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_ftp_greeting },
	{ "the reply to AUTH TLS", "AUTH TLS\r\n", NULL, 0, stp_ftp_auth },
	{ NULL, NULL, NULL, 0, NULL },
}, postgres_steps[] = {
	{ "the reply to SSLRequest", "SSLRequest", starttls_postgres_request,
	  sizeof(starttls_postgres_request), stp_postgres_ssl },
	{ NULL, NULL, NULL, 0, NULL },
}, ldap_steps[] = {
	{ "the reply to the StartTLS request", "StartTLS extended request",
	  starttls_ldap_request,
	  31, stp_ldap_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, xmpp_steps[] = {
	{ "the reply to the stream header", XMPP_HEADER, NULL, 0, stp_xmpp_features },
	{ "the reply to <starttls/>", XMPP_STARTTLS, NULL, 0,
	  stp_xmpp_proceed },
	{ NULL, NULL, NULL, 0, NULL },
}, nntp_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_nntp_greeting },
	{ "the reply to CAPABILITIES", "CAPABILITIES\r\n", NULL, 0,
	  stp_nntp_capabilities },
	{ "the reply to STARTTLS", "STARTTLS\r\n", NULL, 0,
	  stp_nntp_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, sieve_steps[] = {
	{ "the greeting", NULL, NULL, 0, stp_sieve_capability },
	{ "the reply to STARTTLS", "STARTTLS\r\n", NULL, 0,
	  stp_sieve_starttls },
	{ NULL, NULL, NULL, 0, NULL },
}, irc_steps[] = {
	{ "the reply to STARTTLS", "STARTTLS\r\n", NULL, 0,
	  stp_irc_starttls },
	{ NULL, NULL, NULL, 0, NULL },
};

/* The order of the man page; xmpp-server differs from xmpp by the port. */
static const struct starttls_proto protos[] = {
	{ "smtp", 25, false, NULL, smtp_steps },
	{ "lmtp", 24, false, NULL, lmtp_steps },
	{ "imap", 143, false, NULL, imap_steps },
	{ "pop3", 110, false, NULL, pop3_steps },
	{ "ftp", 21, false, NULL, ftp_steps },
	{ "postgres", 5432, false, NULL, postgres_steps },
	{ "ldap", 389, false, NULL, ldap_steps },
	{ "xmpp", 5222, true, "client", xmpp_steps },
	{ "xmpp-server", 5269, true, "server", xmpp_steps },
	{ "nntp", 119, false, NULL, nntp_steps },
	{ "sieve", 4190, false, NULL, sieve_steps },
	{ "irc", 6667, false, NULL, irc_steps },
};

#define NPROTOS	(sizeof(protos) / sizeof(protos[0]))

const struct starttls_proto *
starttls_find(const char *name)
{
	size_t i;

	for (i = 0; i < NPROTOS; i++)
		if (strcmp(protos[i].name, name) == 0)
			return &protos[i];
	return NULL;
}

const char *
starttls_names(void)
{
	return "smtp, lmtp, imap, pop3, ftp, postgres, ldap, xmpp, "
	    "xmpp-server, nntp, sieve, irc";
}

uint16_t
starttls_port(const struct starttls_proto *p)
{
	return p->port;
}

int
starttls_name_is_target(const struct starttls_proto *p)
{
	return p->name_is_target;
}

const char *
starttls_quote(const unsigned char *buf, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = buf[i];

		if (n + 8 >= outlen) {
			memcpy(out + n, "...", 4);
			return out;
		}
		/* A line end is " | ", and nothing at the very end. */
		if ((c == '\r' && i + 1 < len && buf[i + 1] == '\n') ||
		    (c == '\n' && i + 1 == len))
			continue;
		if (c == '\n')
			n += (size_t)snprintf(out + n, outlen - n, " | ");
		else if (c >= ' ' && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", c);
	}
	out[n] = '\0';
	return out;
}

/* --- The layer. */

struct starttls {
	const struct starttls_proto *proto;
	const struct step *step;	/* the step under way */
	bool		 done;		/* the server said go ahead */
	bool		 checked;	/* the first bytes after it were TLS */
	char		 name[256];
	char		 out[512];	/* the command being sent */
	size_t		 out_len;
	size_t		 out_off;
	bool		 out_ready;	/* out holds the step's command */
	unsigned char	 in[STARTTLS_REPLY_MAX];
	size_t		 in_len;
	starttls_log_fn	*log;
	void		*log_arg;
};

/*
 * Tell the log each line of buf[0..len), as the server (or we) said it; a
 * binary protocol's message is one line.
 */
static void
log_lines(struct starttls *t, char dir, const unsigned char *buf, size_t len)
{
	const unsigned char *lf;
	char line[300];
	size_t n;

	if (t->log == NULL)
		return;
	while (len > 0) {
		lf = t->step->bytes == NULL ? memchr(buf, '\n', len) : NULL;
		n = lf != NULL ? (size_t)(lf - buf) + 1 : len;
		t->log(t->log_arg, dir, starttls_quote(buf, n, line,
		    sizeof(line)));
		buf += n;
		len -= n;
	}
}

/*
 * A step's command: its text with the first "%s" replaced by the name and
 * the second by the XMPP namespace.  Returns the length, or 0 if too long.
 */
static size_t
expand(const char *cmd, const char *name, const char *ns, char *out,
    size_t len)
{
	const char *args[2] = { name, ns != NULL ? ns : "" };
	size_t n = 0, k, i = 0;
	const char *a;

	for (; *cmd != '\0'; cmd++) {
		a = NULL;
		if (cmd[0] == '%' && cmd[1] == 's' && i < 2) {
			a = args[i++];
			cmd++;
		}
		k = a != NULL ? strlen(a) : 1;
		if (n + k >= len)
			return 0;
		memcpy(out + n, a != NULL ? a : cmd, k);
		n += k;
	}
	out[n] = '\0';
	return n;
}

/* Make the current step's command, and log it. */
static void
begin_step(struct starttls *t)
{
	const struct step *st = t->step;

	t->out_off = 0;
	t->out_ready = true;
	if (st->bytes != NULL) {
		memcpy(t->out, st->bytes, st->nbytes);
		t->out_len = st->nbytes;
		if (t->log != NULL)
			t->log(t->log_arg, 'C', st->cmd);
		return;
	}
	t->out_len = st->cmd == NULL ? 0 : expand(st->cmd, t->name,
	    t->proto->xmpp_ns, t->out, sizeof(t->out));
	log_lines(t, 'C', (const unsigned char *)t->out, t->out_len);
}

static enum io
pass_error(struct stream *s, enum io r)
{
	if (r == IO_ERROR) {
		s->err = s->lower->err;
		s->sys_errno = s->lower->sys_errno;
	}
	return r;
}

/* A failure below, during the dialogue: say that it happened there. */
static enum io
dialogue_error(struct stream *s, struct starttls *t, enum io r)
{
	if (r != IO_ERROR)
		return r;
	stream_fail(s, s->lower->err.status, 0, "STARTTLS (%s): %s",
	    t->proto->name, s->lower->err.msg);
	s->sys_errno = s->lower->sys_errno;
	return IO_ERROR;
}

static enum io
send_command(struct stream *s, struct starttls *t)
{
	size_t n;
	enum io r;

	while (t->out_off < t->out_len) {
		r = stream_write(s->lower, t->out + t->out_off,
		    t->out_len - t->out_off, &n);
		if (r != IO_DONE)
			return dialogue_error(s, t, r);
		t->out_off += n;
	}
	return IO_DONE;
}

/* The failure for a verdict, quoting the reply. */
static enum io
refuse(struct stream *s, struct starttls *t, enum starttls_verdict v)
{
	char q[300];
	const char *p = t->proto->name, *r = t->step->reply;

	starttls_quote(t->in, t->in_len, q, sizeof(q));
	switch (v) {
	case STV_NOT_OFFERED:
		return stream_fail(s, ST_STARTTLS_NOT_OFFERED, 0, "STARTTLS "
		    "(%s): the server does not offer STARTTLS (%s: '%s')", p,
		    r, q);
	case STV_REFUSED:
		return stream_fail(s, ST_STARTTLS_REFUSED, 0, "STARTTLS (%s): "
		    "the server refused (%s: '%s')", p, r, q);
	case STV_OVERSIZED:
		return stream_fail(s, ST_STARTTLS_BAD_REPLY, 0, "STARTTLS "
		    "(%s): %s is longer than %d bytes: '%s'", p, r,
		    STARTTLS_REPLY_MAX, q);
	default:
		return stream_fail(s, ST_STARTTLS_BAD_REPLY, 0, "STARTTLS "
		    "(%s): %s is malformed: '%s'", p, r, q);
	}
}

/*
 * Bytes after a reply: before the go-ahead, an answer to nothing; after
 * it, plaintext that would reach TLS or the user as if it were protected.
 */
static enum io
refuse_extra(struct stream *s, struct starttls *t, const unsigned char *p,
    size_t n)
{
	char q[300];

	starttls_quote(p, n, q, sizeof(q));
	if (t->step[1].parse == NULL || t->done)
		return stream_fail(s, ST_STARTTLS_BAD_REPLY, 0, "STARTTLS "
		    "(%s): the server sent %zu bytes of plaintext after its "
		    "go-ahead, before the TLS handshake (an injection attempt?"
		    "): '%s'", t->proto->name, n, q);
	return stream_fail(s, ST_STARTTLS_BAD_REPLY, 0, "STARTTLS (%s): the "
	    "server sent more than %s: '%s'", t->proto->name, t->step->reply,
	    q);
}

/* The reply is complete and says go on: the next step, or done. */
static enum io
next_step(struct stream *s, struct starttls *t, size_t used)
{
	log_lines(t, 'S', t->in, used);
	if (used < t->in_len)
		return refuse_extra(s, t, t->in + used, t->in_len - used);
	t->in_len = 0;
	t->step++;
	t->out_ready = false;
	if (t->step->parse == NULL)
		t->done = true;
	return IO_DONE;
}

/* Read until the step's reply is complete, and judge it. */
static enum io
read_reply(struct stream *s, struct starttls *t)
{
	enum starttls_verdict v;
	char q[300];
	size_t used, n;
	enum io r;

	for (;;) {
		v = starttls_judge(t->step->parse, t->in, t->in_len, &used);
		if (v == STV_OK)
			return next_step(s, t, used);
		if (v != STV_MORE) {
			log_lines(t, 'S', t->in, t->in_len);
			return refuse(s, t, v);
		}
		r = stream_read(s->lower, t->in + t->in_len,
		    sizeof(t->in) - t->in_len, &n);
		if (r == IO_EOF)
			return stream_fail(s, ST_RUNTIME, 0, "STARTTLS (%s): "
			    "the server closed the connection before %s (it "
			    "said: '%s')", t->proto->name, t->step->reply,
			    starttls_quote(t->in, t->in_len, q, sizeof(q)));
		if (r != IO_DONE)
			return dialogue_error(s, t, r);
		t->in_len += n;
	}
}

static enum io
starttls_handshake(struct stream *s)
{
	struct starttls *t = s->ctx;
	enum io r;

	while (!t->done) {
		if (!t->out_ready)
			begin_step(t);
		if ((r = send_command(s, t)) != IO_DONE ||
		    (r = read_reply(s, t)) != IO_DONE)
			return r;
	}
	return IO_DONE;
}

/*
 * After the go-ahead the server speaks first only in TLS records, which
 * begin with a handshake (22) or alert (21) content type.  Anything else
 * is plaintext that came after the go-ahead, however late.
 */
static enum io
starttls_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct starttls *t = s->ctx;
	const unsigned char *p = buf;
	enum io r = stream_read(s->lower, buf, len, n);

	if (r != IO_DONE)
		return pass_error(s, r);
	if (t->done && !t->checked) {
		t->checked = true;
		if (p[0] != 22 && p[0] != 21)
			return refuse_extra(s, t, p, *n);
	}
	return IO_DONE;
}

static enum io
starttls_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	return pass_error(s, stream_write(s->lower, buf, len, n));
}

/*
 * The TLS layer above must read through this one, so that the check above
 * sees the first bytes: never offer it the bare socket.
 */
static int
starttls_query(const struct stream *s, enum stream_query q, void *out)
{
	(void)s;
	if (q != STREAM_Q_FD)
		return -1;
	*(int *)out = -1;
	return 0;
}

static void
starttls_close(struct stream *s)
{
	free(s->ctx);
}

static const struct stream_ops starttls_ops = {
	.name = "starttls",
	.handshake = starttls_handshake,
	.read = starttls_read,
	.write = starttls_write,
	.query = starttls_query,
	.close = starttls_close,
};

struct stream *
starttls_new(const struct starttls_proto *p, struct stream *lower,
    const char *name, starttls_log_fn *log, void *log_arg, struct error *e)
{
	struct starttls *t;
	struct stream *s;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (s = stream_layer_new(&starttls_ops, t, lower)) == NULL) {
		free(t);
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	t->proto = p;
	t->step = p->steps;
	t->log = log;
	t->log_arg = log_arg;
	if (name != NULL)
		snprintf(t->name, sizeof(t->name), "%s", name);
	else if (gethostname(t->name, sizeof(t->name) - 1) != 0 ||
	    t->name[0] == '\0')
		snprintf(t->name, sizeof(t->name), "localhost");
	return s;
}

int
starttls_explain_timeout(const struct stream *s, struct error *e)
{
	const struct starttls *t;
	char q[300];

	for (; s != NULL; s = s->lower) {
		if (s->ops != &starttls_ops)
			continue;
		t = s->ctx;
		if (t->done)
			return 0;
		err_set(e, ST_TIMEOUT, "STARTTLS (%s): timed out waiting for "
		    "%s (received: '%s')", t->proto->name, t->step->reply,
		    starttls_quote(t->in, t->in_len, q, sizeof(q)));
		return 1;
	}
	return 0;
}

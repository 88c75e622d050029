/* --progress: a line on stderr while a session moves bytes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "net.h"
#include "progress.h"

struct progress {
	struct loop	*loop;
	struct relay	*relay;
	struct loop_timer timer;
	FILE		*f;
	bool		 tty;
	bool		 drawn;		/* a line is on the terminal */
	int64_t		 total;		/* the input's size, or -1 */
	int64_t		 start;		/* now_ms() times */
	int64_t		 last;
	uint64_t	 last_bytes;	/* sent + received at last */
};

const char *
progress_size(uint64_t n, char *out, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = -1;

	if (n < 1024) {
		snprintf(out, len, "%llu B", (unsigned long long)n);
		return out;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.1f %s", v, unit[i]);
	return out;
}

/* Bytes per second, for n bytes in ms milliseconds. */
static uint64_t
rate(uint64_t n, int64_t ms)
{
	return ms > 0 ? (uint64_t)((double)n * 1000 / (double)ms) : 0;
}

/* "42s", "3m07s" or "2h05m". */
static const char *
duration(uint64_t secs, char *out, size_t len)
{
	if (secs >= 3600)
		snprintf(out, len, "%lluh%02llum", (unsigned long long)(secs /
		    3600), (unsigned long long)(secs % 3600 / 60));
	else if (secs >= 60)
		snprintf(out, len, "%llum%02llus", (unsigned long long)(secs /
		    60), (unsigned long long)(secs % 60));
	else
		snprintf(out, len, "%llus", (unsigned long long)secs);
	return out;
}

/* The line: counts, rates and, with a known total, percent and ETA. */
static void
format_line(const struct progress *p, const struct relay_stats *s,
    int64_t now, char *line, size_t len)
{
	char a[32], b[32], c[32], d[32];
	uint64_t bytes = s->sent + s->received;
	uint64_t avg = rate(bytes, now - p->start);
	uint64_t in_rate = rate(s->taken, now - p->start);
	int n;

	n = snprintf(line, len, "sent %s, received %s, %s/s now, %s/s "
	    "average", progress_size(s->sent, a, sizeof(a)),
	    progress_size(s->received, b, sizeof(b)),
	    progress_size(rate(bytes - p->last_bytes, now - p->last), c,
	    sizeof(c)), progress_size(avg, d, sizeof(d)));
	if (p->total <= 0 || n < 0 || (size_t)n >= len)
		return;
	if ((int64_t)s->taken >= p->total || in_rate == 0)
		snprintf(line + n, len - (size_t)n, ", %d%%",
		    (int64_t)s->taken >= p->total ? 100 :
		    (int)(s->taken * 100 / (uint64_t)p->total));
	else
		snprintf(line + n, len - (size_t)n, ", %d%%, ETA %s",
		    (int)(s->taken * 100 / (uint64_t)p->total),
		    duration(((uint64_t)p->total - s->taken) / in_rate, d,
		    sizeof(d)));
}

static void
on_tick(struct loop_timer *t)
{
	struct progress *p = container_of(t, struct progress, timer);
	struct relay_stats s;
	char line[256];
	int64_t now = now_ms();

	relay_get_stats(p->relay, &s);
	format_line(p, &s, now, line, sizeof(line));
	if (p->tty)
		fprintf(p->f, "\r%s\033[K", line);
	else
		fprintf(p->f, "tlsnc: progress: %s\n", line);
	fflush(p->f);
	p->drawn = p->tty;
	p->last = now;
	p->last_bytes = s.sent + s.received;
	(void)loop_timer_set(p->loop, &p->timer, now + (p->tty ?
	    PROGRESS_TTY_MS : PROGRESS_LOG_MS));
}

struct progress *
progress_start(struct loop *loop, struct relay *r, FILE *f, bool tty,
    int64_t total)
{
	struct progress *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->loop = loop;
	p->relay = r;
	p->f = f;
	p->tty = tty;
	p->total = total;
	p->start = p->last = now_ms();
	loop_timer_init(&p->timer, on_tick);
	if (loop_timer_set(loop, &p->timer, p->start + (tty ?
	    PROGRESS_TTY_MS : PROGRESS_LOG_MS)) == -1) {
		free(p);
		return NULL;
	}
	return p;
}

void
progress_end(struct progress *p)
{
	struct relay_stats s;
	char a[32], b[32], c[32];
	int64_t ms;

	if (p == NULL)
		return;
	loop_timer_stop(p->loop, &p->timer);
	relay_get_stats(p->relay, &s);
	ms = now_ms() - p->start;
	fprintf(p->f, "%stlsnc: sent %s, received %s in %lld.%01lld s, %s/s "
	    "average\n", p->drawn ? "\r\033[K" : "",
	    progress_size(s.sent, a, sizeof(a)),
	    progress_size(s.received, b, sizeof(b)), (long long)(ms / 1000),
	    (long long)(ms % 1000 / 100),
	    progress_size(rate(s.sent + s.received, ms), c, sizeof(c)));
	fflush(p->f);
	free(p);
}

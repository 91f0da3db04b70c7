/*
 * The table is a chained hash of keys: a bucket prefix can hold millions of
 * objects, and each poll looks every listed key up once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "ledger.h"

#define COMPACT_MIN    256
#define LEDGER_LINE    (3 * S3_KEY_MAX + 3 * S3_ETAG_MAX + 8)

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct ledger_entry *
ledger_lookup(const struct ledger *lg, const char *key)
{
	struct ledger_entry *e;

	if (lg->nb == 0)
		return NULL;
	for (e = lg->b[hash(key) % lg->nb]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static int
grow(struct ledger *lg)
{
	size_t nb = lg->nb ? lg->nb * 2 : 1024, i;
	struct ledger_entry **b = calloc(nb, sizeof(struct ledger_entry *)), *e, *next;

	if (b == NULL)
		return -1;
	for (i = 0; i < lg->nb; i++)
		for (e = lg->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[hash(e->key) % nb];
			b[hash(e->key) % nb] = e;
		}
	free(lg->b);
	lg->b = b;
	lg->nb = nb;
	return 0;
}

void
ledger_close(struct ledger *lg)
{
	struct ledger_entry *e, *next;
	size_t i;

	for (i = 0; i < lg->nb; i++)
		for (e = lg->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	free(lg->b);
	if (lg->lfd >= 0)
		close(lg->lfd);
	lg->b = NULL;
	lg->nb = lg->n = 0;
	lg->lfd = -1;
}

static struct ledger_entry *
insert(struct ledger *lg, const char *key, const char *etag)
{
	struct ledger_entry *e = ledger_lookup(lg, key);

	if (e == NULL) {
		if (lg->n >= lg->nb && grow(lg) == -1)
			return NULL;
		if ((e = calloc(1, sizeof(*e))) == NULL || (e->key = strdup(key)) == NULL) {
			free(e);
			return NULL;
		}
		e->next = lg->b[hash(key) % lg->nb];
		lg->b[hash(key) % lg->nb] = e;
		lg->n++;
	}
	snprintf(e->etag, sizeof(e->etag), "%s", etag);
	e->when = clock_mono_ms();
	return e;
}

static void
remove_key(struct ledger *lg, const char *key)
{
	struct ledger_entry **pp, *e;

	if (lg->nb == 0)
		return;
	for (pp = &lg->b[hash(key) % lg->nb]; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			free(e->key);
			free(e);
			lg->n--;
			return;
		}
}

int
remote_dir(const struct spool *s)
{
	if (mkdirat(s->dirfd, REMOTE_DIR, 0750) == -1 && errno != EEXIST)
		return -1;
	return openat(s->dirfd, REMOTE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
ledger_name(const struct conf_source *src, char *out, size_t len)
{
	char id[17];

	if (s3_source_id(src, id) == -1)
		return -1;
	snprintf(out, len, "source-%s.ledger", id);
	return 0;
}

/* Append line (with its '\n') to src's ledger, as a worker. */
static int
append_line(const struct spool *s, const struct conf_source *src, const char *line)
{
	char name[64];
	int rfd, fd, rc;

	if (ledger_name(src, name, sizeof(name)) == -1)
		return -1;
	if ((rfd = remote_dir(s)) == -1)
		return -1;
	fd = openat(rfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	close(rfd);
	if (fd == -1)
		return -1;
	rc = write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? 0 : -1;
	close(fd);
	return rc;
}

int
ledger_forget(const struct spool *s, const struct conf_source *src, const char *key)
{
	char line[LEDGER_LINE];
	int n, rc;

	n = snprintf(line, sizeof(line), "- ");
	if ((rc = s3_encode(key, 0, line + n, sizeof(line) - (size_t)n - 1)) == -1)
		return -1;
	n += rc;
	line[n++] = '\n';
	line[n] = '\0';
	return append_line(s, src, line);
}

static int plus_line(char *line, const char *key, const char *etag);

int
ledger_fail(const struct spool *s, const struct conf_source *src, const char *key,
    const char *etag, unsigned long long begun_ms)
{
	char line[LEDGER_LINE + 32];
	int n;

	if ((n = plus_line(line, key, etag[0] ? etag : "-")) == -1)
		return -1;
	line[0] = '!';
	snprintf(line + n, sizeof(line) - (size_t)n, " %llu\n", begun_ms);
	return append_line(s, src, line);
}

static void
apply_line(struct ledger *lg, char *line)
{
	char key[S3_KEY_MAX + 1], etag[S3_ETAG_MAX + 1], *sp, *tp, *end;
	unsigned long long begun = ULLONG_MAX;	/* none: written by a source */
	struct ledger_entry *e;

	if ((line[0] == '+' || line[0] == '!') && line[1] == ' ' &&
	    (sp = strchr(line + 2, ' ')) != NULL) {
		*sp = '\0';
		if ((tp = strchr(sp + 1, ' ')) != NULL) {
			*tp = '\0';
			begun = strtoull(tp + 1, &end, 10);
			if (end == tp + 1 || *end != '\0')
				return;
		}
		if (s3_decode(line + 2, etag, sizeof(etag)) < 0 ||
		    s3_decode(sp + 1, key, sizeof(key)) <= 0)
			return;
		if (line[0] == '!' && (lg->starting || begun < lg->since_ms))
			remove_key(lg, key);
		else if ((e = insert(lg, key, etag)) != NULL)
			e->failed = line[0] == '!';
	} else if (line[0] == '-' && line[1] == ' ') {
		if (s3_decode(line + 2, key, sizeof(key)) > 0)
			remove_key(lg, key);
	}
}

void
ledger_read(struct ledger *lg)
{
	char buf[64 * 1024], *p, *nl;
	ssize_t n;
	size_t have = 0;

	for (;;) {
		n = pread(lg->lfd, buf + have, sizeof(buf) - 1 - have, lg->loff + (off_t)have);
		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		for (p = buf; (nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL; p = nl + 1) {
			*nl = '\0';
			apply_line(lg, p);
		}
		lg->loff += p - buf;
		have -= (size_t)(p - buf);
		if (have == sizeof(buf) - 1)
			have = 0, lg->loff += (off_t)(sizeof(buf) - 1);	/* a line too long: skip */
		memmove(buf, p, have);
	}
}

static int
reopen(struct ledger *lg)
{
	lg->lfd = openat(lg->rfd, lg->name, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (lg->lfd == -1)
		return -1;
	lg->loff = 0;
	ledger_read(lg);
	return 0;
}

int
ledger_open(struct ledger *lg, int rfd, const struct conf_source *src)
{
	int rc;

	memset(lg, 0, sizeof(*lg));
	lg->rfd = rfd;
	lg->lfd = -1;
	if (ledger_name(src, lg->name, sizeof(lg->name)) == -1)
		return -1;
	lg->since_ms = clock_mono_ms();
	lg->starting = 1;
	rc = reopen(lg);
	lg->starting = 0;
	return rc;
}

/* "+ ETAG KEY" into line (LEDGER_LINE bytes, no '\n'). Its length, or -1. */
static int
plus_line(char *line, const char *key, const char *etag)
{
	size_t n;

	memcpy(line, "+ ", 3);
	n = 2;
	if (s3_encode(etag, 0, line + n, LEDGER_LINE - n) == -1)
		return -1;
	n = strlen(line);
	line[n++] = ' ';
	if (s3_encode(key, 0, line + n, LEDGER_LINE - n - 1) == -1)
		return -1;
	return (int)strlen(line);
}

int
ledger_add(struct ledger *lg, const char *key, const char *etag)
{
	char line[LEDGER_LINE];
	struct ledger_entry *e;
	int n, rc = -1;

	if (etag[0] == '\0')
		etag = "-";
	if ((n = plus_line(line, key, etag)) != -1) {
		line[n++] = '\n';
		rc = write(lg->lfd, line, (size_t)n) == n ? 0 : -1;
	}
	if ((e = insert(lg, key, etag)) != NULL)
		e->failed = 0;	/* queued again: a new chance */
	return rc;
}

void
ledger_unsee(struct ledger *lg)
{
	struct ledger_entry *e;
	size_t i;

	for (i = 0; i < lg->nb; i++)
		for (e = lg->b[i]; e != NULL; e = e->next)
			e->seen = 0;
}

size_t
ledger_compact(struct ledger *lg)
{
	char tmp[80], line[LEDGER_LINE];
	struct ledger_entry *e, **pp;
	size_t i, stale = 0;
	FILE *fp;
	int fd, oldfd;

	for (i = 0; i < lg->nb; i++)
		for (e = lg->b[i]; e != NULL; e = e->next)
			stale += !e->seen;
	if (stale < COMPACT_MIN || stale * 2 < lg->n)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", lg->name);
	fd = openat(lg->rfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	for (i = 0; i < lg->nb; i++)
		for (pp = &lg->b[i]; (e = *pp) != NULL;) {
			if (!e->seen) {
				*pp = e->next;
				free(e->key);
				free(e);
				lg->n--;
				continue;
			}
			if (plus_line(line, e->key, e->etag[0] ? e->etag : "-") != -1) {
				if (e->failed)
					line[0] = '!';
				fprintf(fp, "%s\n", line);
			}
			pp = &e->next;
		}
	if (fclose(fp) != 0 || renameat(lg->rfd, tmp, lg->rfd, lg->name) == -1) {
		(void)unlinkat(lg->rfd, tmp, 0);
		return 0;
	}
	/* Lines workers appended to the old file meanwhile still count. */
	ledger_read(lg);
	oldfd = lg->lfd;
	if (reopen(lg) == -1) {
		lg->lfd = oldfd;
		return 0;
	}
	close(oldfd);
	return stale;
}

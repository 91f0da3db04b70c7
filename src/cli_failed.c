#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_failed.h"
#include "cli_spool.h"
#include "conf.h"
#include "failures.h"
#include "jline.h"
#include "journal.h"
#include "json.h"
#include "log.h"

/* How much of a packet's log `show` prints: its last lines. */
#define SHOW_LOG_LINES 20
#define SHOW_LOG_BYTES (64 * 1024)

/* What a person's terminal must never get raw from a spool file: control bytes. */
static void
put_safe(FILE *fp, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\t' || (c >= ' ' && c != 0x7f))
			fputc(c, fp);
		else
			fprintf(fp, "\\x%02x", c);
	}
}

static void
jkey_str(struct json *j, const char *key, const char *v, int comma)
{
	json_raw(j, "\"", 1);
	json_raw(j, key, strlen(key));
	json_raw(j, "\":", 2);
	if (v == NULL)
		json_raw(j, "null", 4);
	else
		json_string(j, v, strlen(v));
	if (comma)
		json_raw(j, ",", 1);
}

static int
print_json(const struct failures *fs)
{
	char num[32], path[NAME_MAX + 8], *out;
	struct json j;
	size_t i, len;

	json_init(&j);
	json_raw(&j, "[", 1);
	for (i = 0; i < fs->n; i++) {
		const struct failure *f = &fs->v[i];

		json_raw(&j, i ? ",{" : "{", i ? 2 : 1);
		jkey_str(&j, "name", f->stem, 1);
		jkey_str(&j, "packet", f->name, 1);
		snprintf(path, sizeof(path), "failed/%s", f->stem);
		jkey_str(&j, "filed", f->packet ? path : NULL, 1);
		jkey_str(&j, "job", f->job[0] ? f->job : NULL, 1);
		jkey_str(&j, "when", f->ts, 1);
		json_raw(&j, num, (size_t)snprintf(num, sizeof(num), "\"when_ms\":%lld,", f->when_ms));
		if (f->attempts >= 0)
			json_raw(&j, num, (size_t)snprintf(num, sizeof(num), "\"attempts\":%ld,",
			    f->attempts));
		else
			json_raw(&j, "\"attempts\":null,", 16);
		jkey_str(&j, "reason", f->from ? f->reason : NULL, 0);
		json_raw(&j, "}", 1);
	}
	json_raw(&j, "]\n", 2);
	if ((out = json_finish(&j, &len)) == NULL) {
		json_free(&j);
		return -1;
	}
	fwrite(out, 1, len, stdout);
	free(out);
	return 0;
}

static void
print_text(const struct failures *fs)
{
	size_t i;

	if (fs->n == 0)
		return;
	printf("%-32s %-24s %-8s %s\n", "NAME", "WHEN", "ATTEMPTS", "REASON");
	for (i = 0; i < fs->n; i++) {
		const struct failure *f = &fs->v[i];
		char att[24];

		snprintf(att, sizeof(att), "%ld", f->attempts);
		/* Quoted as in the journal, so that every packet stays one line. */
		printf("%-32s %-24s %-8s ", LQ(f->stem), f->ts, f->attempts >= 0 ? att : "-");
		put_safe(stdout, f->from ? f->reason : "-", strlen(f->from ? f->reason : "-"));
		if (!f->packet)
			fputs(" (packet gone)", stdout);
		fputc('\n', stdout);
	}
}

/* -c FILE, -d SPOOL and the long options of one command; -1 ends, '?' is a usage error. */
static int
common_opts(int argc, char *argv[], const char *usage, const struct option *longopts,
    const char **file, const char **dir)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*file = optarg;
			break;
		case 'd':
			*dir = optarg;
			break;
		case 'h':
			printf("%s", usage);
			exit(0);
		case 'V':
			printf("ingestd %s\n", INGESTD_VERSION);
			exit(0);
		default:
			return ch;
		}
	}
	return -1;
}

int
cli_failed_main(int argc, char *argv[])
{
	static const char usage[] =
	    "usage: ingestd failed [-c FILE | -d SPOOL] [--json]\n"
	    "List the packets in SPOOL/failed/, newest first: name, when, attempts, reason.\n"
	    "  -c FILE   the spool is spool: of FILE (default: /etc/ingestd/ingestd.yml)\n"
	    "  -d SPOOL  the spool directory\n"
	    "  --json    one JSON array of objects\n"
	    "  --help    this text\n";
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *dir = NULL, *spool;
	struct failures fs;
	struct conf c;
	int ch, json = 0, fd, rc;

	optind = 1;
	while ((ch = common_opts(argc, argv, usage, longopts, &file, &dir)) != -1) {
		if (ch != 'j') {
			fputs(usage, stderr);
			return EX_USAGE;
		}
		json = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "ingestd failed: unexpected argument: %s\n%s", argv[optind], usage);
		return EX_USAGE;
	}
	if ((rc = cli_spool_find(file, dir, &c, &spool)) != 0)
		return rc;
	if ((fd = cli_spool_open(spool, &rc)) == -1) {
		conf_free(&c);
		return rc;
	}
	if (failures_list(fd, &fs) == -1) {
		fprintf(stderr, "ingestd: cannot read %s/failed: %s\n", spool, strerror(errno));
		rc = cli_spool_status(errno);
	} else {
		if (json)
			rc = print_json(&fs) == 0 ? 0 : EX_OSERR;
		else
			print_text(&fs);
		failures_free(&fs);
	}
	close(fd);
	conf_free(&c);
	return rc;
}

/* DIR/STEM, relative to the spool, in buf. */
static const char *
rel(char *buf, size_t len, const char *dir, const char *stem, const char *suffix)
{
	snprintf(buf, len, "%s/%s%s", dir, stem, suffix);
	return buf;
}

/* The journal's lines about the packet: its name, or DIR/STEM in filed= or from=. */
static void
show_journal(int spoolfd, const char *name, const char *where, struct failure *done)
{
	struct jline *l;
	char *line = NULL;
	size_t cap = 0, skip;
	ssize_t len;
	FILE *fp;
	int fd, n = 0;

	fd = openat(spoolfd, JOURNAL_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (fp = fdopen(fd, "r")) == NULL) {
		if (fd >= 0)
			close(fd);
		printf("journal: %s\n", strerror(errno));
		return;
	}
	if ((l = malloc(sizeof(*l))) == NULL) {
		fclose(fp);
		return;
	}
	printf("journal:\n");
	while ((len = getline(&line, &cap, fp)) > 0) {
		enum jline_kind k = jline_parse(line, (size_t)len, l);

		if ((k != JLINE_JOB && k != JLINE_EVENT) || (strcmp(l->name, name) != 0 &&
		    strcmp(l->filed, where) != 0 && strcmp(l->from, where) != 0))
			continue;
		/* A packet of done/ has no .error: its line is the last that filed it there. */
		if (done != NULL && k == JLINE_JOB && strcmp(l->filed, where) == 0) {
			snprintf(done->job, sizeof(done->job), "%s", l->job);
			snprintf(done->ts, sizeof(done->ts), "%s", l->ts);
			snprintf(done->name, sizeof(done->name), "%s", l->name);
			done->attempts = l->attempts;
		}
		for (skip = 0; skip < (size_t)len && line[skip] == ' '; skip++)
			;
		fputs("  ", stdout);
		put_safe(stdout, line + skip, (size_t)len - skip);
		if (line[len - 1] != '\n')
			fputc('\n', stdout);
		n++;
	}
	if (n == 0)
		printf("  (no line)\n");
	free(line);
	free(l);
	fclose(fp);
}

/* The file DIR/STEM.SUFFIX: all of it (the manifest), or its last lines (the log). */
static void
show_file(int spoolfd, const char *title, const char *path, int tail)
{
	char *buf, *p;
	struct stat st;
	ssize_t n;
	off_t from = 0;
	int fd, lines = 0;

	fd = openat(spoolfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		printf("%s: %s: %s\n", title, path, fd == -1 ? strerror(errno) : "not a file");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_size > SHOW_LOG_BYTES)
		from = st.st_size - SHOW_LOG_BYTES;
	if ((buf = malloc(SHOW_LOG_BYTES + 1)) == NULL) {
		close(fd);
		return;
	}
	n = pread(fd, buf, SHOW_LOG_BYTES, from);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	p = buf;
	if (tail) {
		/* Back from the end over SHOW_LOG_LINES newlines (a last one unterminated counts). */
		p = buf + n;
		if (p > buf && p[-1] == '\n')
			p--;
		while (p > buf && lines < SHOW_LOG_LINES)
			if (*--p == '\n')
				lines++;
		if (*p == '\n')
			p++;
		printf("%s: %s (%lld bytes; the last %d lines)\n", title, path, (long long)st.st_size,
		    SHOW_LOG_LINES);
	} else {
		printf("%s: %s%s\n", title, path, from > 0 ? " (its end)" : "");
	}
	put_safe(stdout, p, (size_t)(buf + n - p));
	if (n > 0 && buf[n - 1] != '\n')
		fputc('\n', stdout);
	free(buf);
}

static int
show_one(int spoolfd, const char *spool, const char *stem)
{
	char where[NAME_MAX + 16], path[NAME_MAX + 24];
	const char *dir = "failed";
	struct failure f;
	struct stat st;

	if (failures_get(spoolfd, stem, &f) == -1) {
		if (errno != ENOENT) {
			fprintf(stderr, "ingestd: cannot read %s/failed: %s\n", spool, strerror(errno));
			return cli_spool_status(errno);
		}
		dir = "done";
		memset(&f, 0, sizeof(f));
		f.attempts = -1;
		snprintf(f.stem, sizeof(f.stem), "%s", stem);
		snprintf(f.name, sizeof(f.name), "%s", stem);
		f.packet = strchr(stem, '/') == NULL && fstatat(spoolfd,
		    rel(path, sizeof(path), dir, stem, ""), &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (strchr(stem, '/') != NULL || strcmp(stem, "..") == 0 || strcmp(stem, ".") == 0 ||
		    (!f.packet && fstatat(spoolfd, rel(path, sizeof(path), dir, stem, ".log"), &st,
		    AT_SYMLINK_NOFOLLOW) == -1 && fstatat(spoolfd, rel(path, sizeof(path), dir, stem,
		    ".json"), &st, AT_SYMLINK_NOFOLLOW) == -1)) {
			fprintf(stderr, "ingestd: no packet %s in %s/failed or %s/done\n", LQ(stem),
			    spool, spool);
			return EX_NOINPUT;
		}
	}
	rel(where, sizeof(where), dir, f.stem, "");
	if (strcmp(dir, "done") == 0) {
		/* Its line comes from the journal, read below: print the journal first. */
		show_journal(spoolfd, f.name, where, &f);
		printf("packet: %s%s\n", where, f.packet ? "" : " (gone)");
	} else {
		printf("packet: %s%s\n", where, f.packet ? "" : " (gone)");
	}
	printf("name: %s\njob: %s\nwhen: %s\n", LQ(f.name), f.job[0] ? f.job : "-",
	    f.ts[0] ? f.ts : "-");
	if (f.attempts >= 0)
		printf("attempts: %ld\n", f.attempts);
	else
		printf("attempts: -\n");
	if (strcmp(dir, "failed") == 0) {
		fputs("reason: ", stdout);
		put_safe(stdout, f.from ? f.reason : "-", strlen(f.from ? f.reason : "-"));
		fputc('\n', stdout);
		show_journal(spoolfd, f.name, where, NULL);
	}
	show_file(spoolfd, "manifest", rel(path, sizeof(path), dir, f.stem, ".json"), 0);
	show_file(spoolfd, "log", rel(path, sizeof(path), dir, f.stem, ".log"), 1);
	free(f.reason);
	return 0;
}

int
cli_show_main(int argc, char *argv[])
{
	static const char usage[] =
	    "usage: ingestd show [-c FILE | -d SPOOL] NAME\n"
	    "Show a packet of SPOOL/failed/ (or done/): its journal lines, its reason,\n"
	    "its manifest and the end of its log.\n"
	    "  -c FILE   the spool is spool: of FILE (default: /etc/ingestd/ingestd.yml)\n"
	    "  -d SPOOL  the spool directory\n"
	    "  --help    this text\n";
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *dir = NULL, *spool;
	struct conf c;
	int fd, rc;

	optind = 1;
	if (common_opts(argc, argv, usage, longopts, &file, &dir) != -1 || optind + 1 != argc) {
		fputs(usage, stderr);
		return EX_USAGE;
	}
	if ((rc = cli_spool_find(file, dir, &c, &spool)) != 0)
		return rc;
	if ((fd = cli_spool_open(spool, &rc)) == -1) {
		conf_free(&c);
		return rc;
	}
	rc = show_one(fd, spool, argv[optind]);
	close(fd);
	conf_free(&c);
	return rc;
}

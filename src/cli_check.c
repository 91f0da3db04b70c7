#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_check.h"
#include "conf.h"
#include "conf_keys.h"
#include "log.h"
#include "priv.h"
#include "template.h"

/* The subdirectories and files of a spool that the daemon writes. */
static const char *const spool_dirs[] = { "inbox", "work", "defer", "done", "failed", "remote" };
static const char *const spool_files[] = { "journal", "ingestd.lock", "scoreboard" };

struct check {
	const struct conf *c;
	const char        *file;	/* as given with -c, NULL: none */
	char               user[64];	/* who the daemon runs as, for messages */
	unsigned           errors;
};

void
cli_config_error(const char *file, const char *err)
{
	char line[4096];
	size_t flen = file != NULL ? strlen(file) : 0;
	unsigned long ln = 0;
	const char *p;
	char *end;
	int n, named = 0;

	if (isatty(STDERR_FILENO)) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	/* "FILE:LINE: reason" or "FILE: reason", file being the path we gave conf_load. */
	if (file != NULL && strncmp(err, file, flen) == 0 && err[flen] == ':') {
		named = 1;
		p = err + flen + 1;
		if (*p >= '0' && *p <= '9') {
			ln = strtoul(p, &end, 10);
			if (*end != ':')
				ln = 0;
		}
	}
	n = snprintf(line, sizeof(line), "level=fatal event=config");
	if (named)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " file=%s", LQ(file));
	if (ln > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " line=%lu", ln);
	if ((size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, " error=%s\n", LQ(err));
	fputs(line, stderr);
}

/* One error about key, "FILE:LINE: KEY: what" when the file set it. */
static void
fail(struct check *k, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail(struct check *k, const char *key, const char *fmt, ...)
{
	char what[2048], err[3072], at[PATH_MAX + 32] = "";
	int idx = conf_key_index(key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (k->file != NULL && idx >= 0 && k->c->key_line[idx] != 0)
		snprintf(at, sizeof(at), "%s:%u: ", k->file, k->c->key_line[idx]);
	else if (k->file != NULL)
		snprintf(at, sizeof(at), "%s: ", k->file);
	snprintf(err, sizeof(err), "%s%s: %s", at, key, what);
	cli_config_error(k->file, err);
	k->errors++;
}

/* A path in a message: quoted as a config value would be. */
#define P(s) LQ(s)

/*
 * Can the program at path be run? 0, else -1 with errno: ENOEXEC when it is
 * there but not a file this user may execute, else stat's (EACCES: a
 * directory on the way may not be searched).
 */
static int
runnable(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) == -1) {
		errno = ENOEXEC;
		return -1;
	}
	return 0;
}

/*
 * handler.command[0] as execvpe(3) finds it: a name with a slash as it is,
 * any other in each directory of PATH in turn (glibc's default when PATH is
 * unset). The handler runs in the packet's tree, so a relative path, or a
 * relative directory in PATH, is the packet's to provide: not checked.
 */
static void
check_handler(struct check *k)
{
	const struct strv *cmd = &k->c->handler.command;
	char *prog, *path, *dir, *save = NULL, cand[PATH_MAX], cs[PATH_MAX];
	const char *env;
	int found = 0, denied = 0, e;

	if (cmd->n == 0)
		return;
	/* A program named by a placeholder ({path}) is the packet's: nothing to check. */
	if ((prog = template_expand(cmd->v[0], NULL, NULL, NULL)) == NULL)
		return;
	if (strchr(prog, '/') != NULL) {
		if (prog[0] == '/' && runnable(prog) == -1) {
			e = errno;
			if (e == ENOEXEC)
				fail(k, "handler.command", "%s is not executable by user %s", P(prog),
				    k->user);
			else
				fail(k, "handler.command", "%s: %s", P(prog), strerror(e));
		}
		free(prog);
		return;
	}
	env = getenv("PATH");
	if (env == NULL) {
		size_t n = confstr(_CS_PATH, cs, sizeof(cs));

		env = n > 0 && n <= sizeof(cs) ? cs : "/bin:/usr/bin";
	}
	if ((path = strdup(env)) == NULL) {
		free(prog);
		return;
	}
	for (dir = strtok_r(path, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/' ||
		    snprintf(cand, sizeof(cand), "%s/%s", dir, prog) >= (int)sizeof(cand))
			continue;
		if (runnable(cand) == 0)
			found = 1;
		else if (errno == ENOEXEC)
			denied = 1;	/* there, but not for this user */
	}
	if (!found && denied)
		fail(k, "handler.command", "%s is in PATH (%s) but not executable by user %s",
		    P(prog), P(env), k->user);
	else if (!found)
		fail(k, "handler.command", "program %s not found in PATH (%s)", P(prog), P(env));
	free(path);
	free(prog);
}

/* The directory path (NUL-terminated in buf) can take new entries. 0, or -1 with a message. */
static int
writable_dir(struct check *k, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fail(k, key, "%s: %s", P(path), strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fail(k, key, "%s is not a directory", P(path));
		return -1;
	}
	if (access(path, W_OK | X_OK) == -1) {
		fail(k, key, "%s is not writable by user %s", P(path), k->user);
		return -1;
	}
	return 0;
}

/*
 * A directory the daemon will create if it must (the spool), or whose
 * entries it writes: without creating anything, the first part of path that
 * exists must let the user make the rest.
 */
static void
check_creatable(struct check *k, const char *key, const char *path)
{
	char up[PATH_MAX], *slash;
	struct stat st;

	if (stat(path, &st) == 0 || errno != ENOENT) {
		(void)writable_dir(k, key, path);
		return;
	}
	snprintf(up, sizeof(up), "%s", path);
	for (;;) {
		if ((slash = strrchr(up, '/')) == NULL)
			return;
		if (slash == up)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(up, &st) == 0 || errno != ENOENT)
			break;
		if (slash == up)
			return;
	}
	if (stat(up, &st) == -1)
		fail(k, key, "%s cannot be created: %s: %s", P(path), P(up), strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		fail(k, key, "%s cannot be created: %s is not a directory", P(path), P(up));
	else if (access(up, W_OK | X_OK) == -1)
		fail(k, key, "%s cannot be created: %s is not writable by user %s", P(path), P(up),
		    k->user);
}

static void
check_spool(struct check *k)
{
	const char *spool = k->c->spool;
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (stat(spool, &st) == -1) {
		check_creatable(k, "spool", spool);
		return;
	}
	if (writable_dir(k, "spool", spool) == -1)
		return;
	for (i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", spool, spool_dirs[i]);
		if (lstat(p, &st) == 0)
			(void)writable_dir(k, "spool", p);
	}
	for (i = 0; i < sizeof(spool_files) / sizeof(spool_files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", spool, spool_files[i]);
		if (lstat(p, &st) == 0 && access(p, W_OK) == -1)
			fail(k, "spool", "%s is not writable by user %s", P(p), k->user);
	}
}

/* metrics_file is written as FILE.tmp and renamed over FILE: its directory takes new files. */
static void
check_metrics(struct check *k)
{
	char dir[PATH_MAX], *slash;

	if (k->c->metrics_file == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s", k->c->metrics_file);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	slash[slash == dir] = '\0';
	(void)writable_dir(k, "metrics_file", dir);
}

/* The service user must read the .creds file. */
static void
check_cluster(struct check *k)
{
	const char *creds = k->c->cluster.credentials_file;

	if (k->c->cluster.nats.n == 0)
		return;
	if (creds != NULL && access(creds, R_OK) == -1)
		fail(k, "cluster.credentials_file", "%s: %s", creds, strerror(errno));
}

int
cli_check_main(const char *file, const struct conf_overrides *ov, int dump)
{
	char err[PATH_MAX + 512];
	const struct passwd *pw;
	struct check k;
	struct conf c;
	int rc;

	/* priv_drop's one info line (the user it switched to) is not the check's to say. */
	log_init("check", -1);
	if (conf_read(&c, file, ov, err, sizeof(err)) == -1) {
		cli_config_error(file, err);
		return EX_CONFIG;
	}
	/* The settings alone, for reading or for another machine: nothing of this one is checked. */
	if (dump) {
		conf_print(&c, stdout);
		conf_free(&c);
		return 0;
	}
	memset(&k, 0, sizeof(k));
	k.c = &c;
	k.file = file;
	/* As the daemon: the service user's view of the files, not root's. */
	rc = priv_drop(c.user, c.allow_root, c.handler.command.n > 0, err, sizeof(err));
	if (rc != 0) {
		fail(&k, "user", "%s", err);
	} else {
		pw = getpwuid(geteuid());
		if (pw != NULL)
			snprintf(k.user, sizeof(k.user), "%s", pw->pw_name);
		else
			snprintf(k.user, sizeof(k.user), "%lu", (unsigned long)geteuid());
		check_handler(&k);
		check_spool(&k);
		check_metrics(&k);
		check_cluster(&k);
	}
	if (k.errors == 0)
		printf("%s: configuration OK\n", file != NULL ? file : "(built-in defaults)");
	conf_free(&c);
	return k.errors == 0 ? 0 : EX_CONFIG;
}

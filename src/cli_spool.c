#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_spool.h"
#include "conf.h"

int
cli_spool_find(const char *file, const char *dir, struct conf *c, const char **spool)
{
	char err[PATH_MAX + 512];

	if (conf_defaults(c) == -1) {
		fprintf(stderr, "ingestd: out of memory\n");
		return EX_OSERR;
	}
	if (dir != NULL) {
		*spool = dir;
		return 0;
	}
	/* What the packaged service uses, so that a bare command finds its spool. */
	if (file == NULL && access(CONF_DEFAULT_PATH, R_OK) == 0)
		file = CONF_DEFAULT_PATH;
	if (file != NULL && conf_load(c, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(c);
		return EX_CONFIG;
	}
	*spool = c->spool;
	return 0;
}

int
cli_spool_status(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return EX_NOPERM;
	case ENOENT:
	case ENOTDIR:
		return EX_NOINPUT;
	default:
		return EX_OSERR;
	}
}

int
cli_spool_open(const char *spool, int *rc)
{
	int fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		fprintf(stderr, "ingestd: cannot open spool %s: %s\n", spool, strerror(errno));
		*rc = errno == EACCES ? EX_NOPERM : EX_NOINPUT;
	}
	return fd;
}

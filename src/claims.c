#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claims.h"
#include "ledger.h"

#define CLAIM_MAX (CLUSTER_REPLY_MAX + CLUSTER_ID_MAX + 16)

int
claims_open(const struct spool *s)
{
	int rfd, fd;

	if ((rfd = remote_dir(s)) == -1)
		return -1;
	if (mkdirat(rfd, CLAIMS_DIR, 0750) == -1 && errno != EEXIST) {
		close(rfd);
		return -1;
	}
	fd = openat(rfd, CLAIMS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(rfd);
	return fd;
}

int
claim_write(int cfd, const char *name, const char *reply, const char *id)
{
	char tmp[NAME_MAX + 16], body[CLAIM_MAX];
	int fd, n, e;

	n = snprintf(body, sizeof(body), "reply=%s\nid=%s\n", reply, id);
	if (n < 0 || (size_t)n >= sizeof(body) || strchr(reply, '\n') || strchr(id, '\n')) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(cfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (write(fd, body, (size_t)n) != n || close(fd) == -1 ||
	    renameat(cfd, tmp, cfd, name) == -1) {
		e = errno;
		(void)unlinkat(cfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

int
claim_read(int cfd, const char *name, char reply[CLUSTER_REPLY_MAX], char id[CLUSTER_ID_MAX])
{
	char buf[CLAIM_MAX + 1], *nl, *p;
	ssize_t n;
	int fd;

	reply[0] = id[0] = '\0';
	if ((fd = openat(cfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof(buf) - 1)
		goto bad;
	buf[n] = '\0';
	if (strncmp(buf, "reply=", 6) != 0 || (nl = strchr(buf, '\n')) == NULL ||
	    (size_t)(nl - buf - 6) >= CLUSTER_REPLY_MAX)
		goto bad;
	memcpy(reply, buf + 6, (size_t)(nl - buf - 6));
	reply[nl - buf - 6] = '\0';
	p = nl + 1;
	if (strncmp(p, "id=", 3) != 0 || (nl = strchr(p, '\n')) == NULL ||
	    (size_t)(nl - p - 3) >= CLUSTER_ID_MAX || nl[1] != '\0')
		goto bad;
	memcpy(id, p + 3, (size_t)(nl - p - 3));
	id[nl - p - 3] = '\0';
	if (reply[0] == '\0' || id[0] == '\0')
		goto bad;
	return 0;
bad:
	reply[0] = id[0] = '\0';
	errno = EINVAL;
	return -1;
}

int
claim_drop(int cfd, const char *name)
{
	return unlinkat(cfd, name, 0);
}

int
claims_list(int cfd, char ***names)
{
	struct dirent *de;
	char **v = NULL, **nv;
	int n = 0, fd;
	DIR *d;

	if ((fd = dup(cfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (names != NULL) {
			if ((nv = realloc(v, (size_t)(n + 1) * sizeof(*v))) == NULL ||
			    (nv[n] = strdup(de->d_name)) == NULL) {
				if (nv != NULL)
					v = nv;
				claims_free(v, n);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		n++;
	}
	closedir(d);
	if (names != NULL)
		*names = v;
	return n;
}

void
claims_free(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

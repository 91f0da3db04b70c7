/*
 * See folder.h. One walk does both the check and the copy: with a
 * destination, every decision is made on the descriptor that is then read,
 * so what the copy holds is what was checked, whatever the producer renames
 * or plants meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"
#include "folder.h"
#include "log.h"
#include "spool.h"

/* Copied per call of copy_file_range: bounds how far past a limit a file gets. */
#define COPY_CHUNK	(4 * 1024 * 1024)
/* Without packet.max_depth, the walk still bounds the descriptors it holds. */
#define DEPTH_MAX	256

struct walk {
	const struct conf_packet *p;
	uint64_t  entries;
	uint64_t  total;
	char     *reason;
	size_t    reasonlen;
};

static int
bad(struct walk *w, const char *kw, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
bad(struct walk *w, const char *kw, const char *entry, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = extract_vreason(w->reason, w->reasonlen, kw, entry, fmt, ap);
	va_end(ap);
	return rc;
}

static int
limits(struct walk *w, const char *path, uint64_t size)
{
	if (w->p->max_file_bytes && size > w->p->max_file_bytes)
		return bad(w, "limit max_file_bytes", path, NULL);
	if (w->p->max_bytes && w->total + size > w->p->max_bytes)
		return bad(w, "limit max_bytes", path, NULL);
	return 0;
}

static const char *
kind_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFIFO:	return "fifo";
	case S_IFCHR:	return "chardev";
	case S_IFBLK:	return "blockdev";
	case S_IFSOCK:	return "socket";
	case S_IFLNK:	return "symlink";
	default:	return "unknown";
	}
}

/* Copy what fd holds now into a new file name in dfd, counting what is copied. */
static int
copy_file(struct walk *w, int src, int dfd, const char *name, const char *path, mode_t mode)
{
	uint64_t done = 0;
	ssize_t n;
	int out, r = 0, e;

	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    (mode & 0111) ? 0755 : 0644);
	if (out == -1)
		return -1;
	for (;;) {
		n = copy_file_range(src, NULL, out, NULL, COPY_CHUNK, 0);
		if (n == -1 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[65536];

			/* A file system (or kernel) without it: the same with read and write. */
			if ((n = read(src, buf, sizeof(buf))) > 0 && write(out, buf, (size_t)n) != n)
				n = -1;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? 0 : -1;
			break;
		}
		done += (uint64_t)n;
		if ((r = limits(w, path, done)) != 0)
			break;
	}
	e = errno;
	if (close(out) == -1 && r == 0) {
		e = errno;
		r = -1;
	}
	if (r == 0)
		w->total += done;
	errno = e;
	return r;
}

/* One entry of the folder dirfd (path: its name below the packet). */
static int
entry(struct walk *w, int dirfd, int dstfd, const char *name, char *path, size_t plen,
    uint64_t depth);

static int
walk(struct walk *w, int dfd, int dstfd, char *path, size_t plen, uint64_t depth)
{
	struct dirent *de;
	size_t nlen;
	DIR *d;
	int r = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			r = errno ? -1 : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		nlen = strlen(de->d_name);
		if (plen + 1 + nlen + 1 > PATH_MAX) {
			path[plen] = '\0';
			r = bad(w, "path", path, "error=\"path longer than PATH_MAX\"");
			break;
		}
		if (plen)
			path[plen] = '/';
		memcpy(path + plen + (plen ? 1 : 0), de->d_name, nlen + 1);
		if ((r = entry(w, dirfd(d), dstfd, de->d_name, path,
		    plen + (plen ? 1 : 0) + nlen, depth)) != 0)
			break;
	}
	closedir(d);
	return r;
}

static int
entry(struct walk *w, int dirfd, int dstfd, const char *name, char *path, size_t plen,
    uint64_t depth)
{
	const struct conf_packet *p = w->p;
	uint64_t maxdepth = p->max_depth ? p->max_depth : DEPTH_MAX;
	char q[512], target[PATH_MAX];
	struct stat st;
	ssize_t tl;
	int fd, sub, r, e;

	if (p->max_entries && ++w->entries > p->max_entries)
		return bad(w, "limit max_entries", path, NULL);
	if (depth + 1 > maxdepth)
		return bad(w, "limit max_depth", path, NULL);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		tl = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (tl == -1)
			return -1;
		target[tl] = '\0';
		if (p->links != LINKS_INSIDE)
			return bad(w, "link", path, "target=%s kind=symlink",
			    log_quote(q, sizeof(q), target));
		if (!extract_symlink_inside(path, target))
			return bad(w, "link", path, "target=%s kind=symlink "
			    "error=\"may resolve outside the tree\"", log_quote(q, sizeof(q), target));
		/* The target read is the one copied: a link swapped since cannot get in. */
		return dstfd == -1 || symlinkat(target, dstfd, name) == 0 ? 0 : -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return bad(w, "type", path, "kind=%s", kind_name(st.st_mode));
	if (dstfd == -1 && S_ISREG(st.st_mode)) {
		if ((r = limits(w, path, (uint64_t)st.st_size)) == 0)
			w->total += (uint64_t)st.st_size;
		return r;
	}
	/*
	 * O_NOFOLLOW and O_NONBLOCK: whatever sits at the name by now (a symlink,
	 * a FIFO swapped in) fails here or below instead of being followed or
	 * waited on; fstat of this descriptor is what decides.
	 */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd == -1)
		return errno == ELOOP || errno == ENOTDIR || errno == ENXIO ?
		    bad(w, "type", path, "error=\"changed while it was read\"") : -1;
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		r = copy_file(w, fd, dstfd, name, path, st.st_mode);
		e = errno;
		close(fd);
		errno = e;
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return bad(w, "type", path, "kind=%s", kind_name(st.st_mode));
	}
	sub = -1;
	if (dstfd != -1 && (mkdirat(dstfd, name, 0755) == -1 ||
	    (sub = openat(dstfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	r = walk(w, fd, sub, path, plen, depth + 1);
	e = errno;
	if (sub != -1)
		close(sub);
	errno = e;
	return r;
}

static int
run(int dirfd, int dstfd, const struct conf_packet *p, struct extract_stats *st, char *reason,
    size_t reasonlen)
{
	struct walk w;
	char path[PATH_MAX];
	int fd, r, e;

	memset(&w, 0, sizeof(w));
	w.p = p;
	w.reason = reason;
	w.reasonlen = reasonlen;
	if (reasonlen)
		reason[0] = '\0';
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	path[0] = '\0';
	r = walk(&w, fd, dstfd, path, 0, 0);
	e = errno;
	if (st) {
		st->entries = w.entries;
		st->bytes = w.total;
	}
	errno = e;
	return r;
}

int
folder_check(int dirfd, const struct conf_packet *p, struct extract_stats *st, char *reason,
    size_t reasonlen)
{
	return run(dirfd, -1, p, st, reason, reasonlen);
}

int
folder_copy(int dirfd, const char *dest, const struct conf_packet *p, struct extract_stats *st,
    char *reason, size_t reasonlen)
{
	char q[512];
	int dfd, r, e;

	if (mkdir(dest, 0700) == -1)
		return -1;
	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dfd == -1 ? -1 : run(dirfd, dfd, p, st, reason, reasonlen);
	e = errno;
	if (dfd != -1)
		close(dfd);
	if (r != 0 && spool_rmtree(AT_FDCWD, dest) == -1) {
		log_warn("event=folder_cleanup dir=%s", log_quote(q, sizeof(q), dest));
		if (r != -1)
			e = errno;
		r = -1;
	}
	errno = e;
	return r;
}

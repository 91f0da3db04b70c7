#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "extract.h"
#include "filters.h"
#include "log.h"
#include "spool.h"

static const struct {
	const char *name;
	int (*enable)(struct archive *);
} formats[] = {
	{ "7zip",	archive_read_support_format_7zip },
	{ "ar",		archive_read_support_format_ar },
	{ "cab",	archive_read_support_format_cab },
	{ "cpio",	archive_read_support_format_cpio },
	{ "iso9660",	archive_read_support_format_iso9660 },
	{ "lha",	archive_read_support_format_lha },
	{ "rar",	archive_read_support_format_rar },
	{ "rar5",	archive_read_support_format_rar5 },
	{ "tar",	archive_read_support_format_tar },
	{ "warc",	archive_read_support_format_warc },
	{ "xar",	archive_read_support_format_xar },
	{ "zip",	archive_read_support_format_zip },
};


struct xstate {
	const struct conf_packet *p;
	struct archive *a;	/* reader */
	struct archive *w;	/* archive_write_disk */
	int       treefd;
	uint64_t  arcsize;
	uint64_t  entries;
	uint64_t  total;	/* bytes of finished entries */
	int       fd;		/* the archive, read through src_read() */
	void     *block;
	int       read_errno;	/* a failed read(2) of the packet: the system's fault, not the archive's */
	int       manifests;	/* entries named packet.manifest at the root */
	char     *reason;
	size_t    reasonlen;
};

int
extract_format_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i].name, name) == 0)
			return 1;
	return 0;
}

static int
format_enabled(const struct conf_packet *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->formats.n; i++)
		if (strcmp(p->formats.v[i], name) == 0)
			return 1;
	return 0;
}

/* Errors that are the system's, not the packet's: the worker retries these later. */
static int
sys_errno(int e)
{
	switch (e) {
	case ENOSPC: case EDQUOT: case EIO: case EMFILE: case ENFILE: case ENOMEM:
	case EROFS: case ENOBUFS: case EAGAIN: case EINTR: case EACCES: case ESTALE:
		return 1;
	default:
		return 0;
	}
}

/*
 * Reason: "KEYWORD [entry=NAME] [more]". Names and messages come from the
 * packet: quoted and cut so that a reason always fits a journal line.
 */
static int
bad(struct xstate *x, const char *kw, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

int
extract_vreason(char *reason, size_t len, const char *kw, const char *entry, const char *fmt,
    va_list ap)
{
	char q[512], more[1024] = "";

	/* clang-tidy 14 carries va_list state over from log.c when given several files. */
	if (fmt)
		vsnprintf(more, sizeof(more), fmt, ap);	/* NOLINT(clang-analyzer-valist.Uninitialized) */
	snprintf(reason, len, "%s%s%s%s%s", kw, entry ? " entry=" : "",
	    entry ? log_quote(q, sizeof(q), entry) : "", more[0] ? " " : "", more);
	return EXTRACT_BAD;
}

static int
bad(struct xstate *x, const char *kw, const char *entry, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = extract_vreason(x->reason, x->reasonlen, kw, entry, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *
quote(char *buf, size_t len, const char *s)
{
	return log_quote(buf, len, s ? s : "");
}

/*
 * libarchive's message for a failure of a; when it gave none (some readers
 * stop on a damaged header without one), which reader stopped, so that the
 * reason still names what was wrong.
 */
static const char *
errmsg(char *buf, size_t len, struct archive *a)
{
	char tmp[256];
	const char *s = archive_error_string(a), *f;

	if (s && *s)
		return log_quote(buf, len, s);
	f = archive_format(a) ? archive_format_name(a) : NULL;
	snprintf(tmp, sizeof(tmp), "damaged %s data (libarchive gave no message)",
	    f ? f : "archive");
	return log_quote(buf, len, tmp);
}

/*
 * Components of a relative path, or why it is not one. "." and empty
 * components do not count; ".." never passes.
 */
static const char *
path_problem(const char *s, uint64_t *depth)
{
	const char *c, *e;

	*depth = 0;
	if (*s == '\0')
		return "empty name";
	if (*s == '/')
		return "absolute path";
	if (strlen(s) >= PATH_MAX)
		return "name longer than PATH_MAX";
	for (c = s; *c; c = *e ? e + 1 : e) {
		e = strchrnul(c, '/');
		if (e - c == 0 || (e - c == 1 && c[0] == '.'))
			continue;
		if (e - c == 2 && c[0] == '.' && c[1] == '.')
			return "'..' in path";
		(*depth)++;
	}
	return NULL;
}

/*
 * A symlink target provably stays in the tree when it is relative and its
 * ".." components all come first, no more of them than there are directories
 * above the link. Later components may be links too, but each of those passed
 * this same test from where it lives, so no chain of them can climb out; a
 * lexical "a/../.." test would not do, since "a" may itself be a link.
 */
int
extract_symlink_inside(const char *entry, const char *target)
{
	uint64_t room, up = 0;
	const char *c, *e;
	int below = 0;

	if (*target == '\0' || *target == '/' || path_problem(entry, &room) || room == 0)
		return 0;
	room--;		/* directories above the link itself */
	for (c = target; *c; c = *e ? e + 1 : e) {
		e = strchrnul(c, '/');
		if (e - c == 0 || (e - c == 1 && c[0] == '.'))
			continue;
		if (e - c == 2 && c[0] == '.' && c[1] == '.') {
			if (below || ++up > room)
				return 0;
		} else
			below = 1;
	}
	return 1;
}

static const char *
kind_name(mode_t type)
{
	switch (type) {
	case AE_IFIFO:	return "fifo";
	case AE_IFCHR:	return "chardev";
	case AE_IFBLK:	return "blockdev";
	case AE_IFSOCK:	return "socket";
	case AE_IFLNK:	return "symlink";
	default:	return "unknown";
	}
}

static int
over(uint64_t v, uint64_t max)
{
	return max && v > max;
}

/* The limits, for an entry that has cost bytes so far. */
static int
check_bytes(struct xstate *x, const char *name, uint64_t cost)
{
	const struct conf_packet *p = x->p;
	uint64_t total = x->total + cost;

	if (over(cost, p->max_file_bytes))
		return bad(x, "limit max_file_bytes", name, NULL);
	if (over(total, p->max_bytes))
		return bad(x, "limit max_bytes", name, NULL);
	if (p->max_ratio && total > EXTRACT_RATIO_FLOOR && x->arcsize > 0 &&
	    x->arcsize <= UINT64_MAX / p->max_ratio && total > p->max_ratio * x->arcsize)
		return bad(x, "limit max_ratio", name, NULL);
	return 0;
}

/* A failed read: the system's fault (-1) or the archive's. */
static int
read_error(struct xstate *x, const char *name)
{
	char q[512];
	int e = x->read_errno ? x->read_errno : archive_errno(x->a);

	/*
	 * Memory is not on the list: a crafted header can ask for any amount, and
	 * a packet that always fails for memory must end in failed/, not loop.
	 * Under packet.max_memory it is that limit that was hit.
	 */
	if (x->read_errno || e == EIO || e == EMFILE || e == ENFILE || e == ENOBUFS || e == EINTR) {
		bad(x, "system", name, "error=%s", log_quote(q, sizeof(q), strerror(e)));
		errno = e;
		return -1;
	}
	if (e == ENOMEM && x->p->max_memory)
		return bad(x, "limit max_memory", name, "error=%s", errmsg(q, sizeof(q), x->a));
	return bad(x, "archive", name, "error=%s", errmsg(q, sizeof(q), x->a));
}

/*
 * A failed write of an entry. The system's errors retry; a name libarchive
 * will not create is the path's fault; anything else is the archive's, such
 * as an entry holding more data than its header says ("Too much data").
 */
static int
write_error(struct xstate *x, const char *name)
{
	char q[512];
	const char *m = archive_error_string(x->w);
	int e = archive_errno(x->w);

	if (sys_errno(e)) {
		bad(x, "system", name, "error=%s", quote(q, sizeof(q), strerror(e)));
		errno = e;
		return -1;
	}
	if (m && strstr(m, "Too much data"))
		return bad(x, "archive", name, "error=%s kind=size_mismatch", errmsg(q, sizeof(q), x->w));
	if (e == ENAMETOOLONG || e == ENOTDIR || e == EISDIR || e == ELOOP || e == EEXIST ||
	    (m && (strcasestr(m, "path") || strcasestr(m, "symlink") || strcasestr(m, "directory"))))
		return bad(x, "path", name, "error=%s", errmsg(q, sizeof(q), x->w));
	return bad(x, "archive", name, "error=%s", errmsg(q, sizeof(q), x->w));
}

/* Decide what may be written for this entry, and how. 0 or EXTRACT_BAD. */
static int
vet_entry(struct xstate *x, struct archive_entry *e, const char *name)
{
	const struct conf_packet *p = x->p;
	const char *hl = archive_entry_hardlink(e), *sl;
	mode_t type = archive_entry_filetype(e);
	char q[512];
	struct stat st;
	uint64_t d;

	if (hl) {
		if (p->links != LINKS_INSIDE)
			return bad(x, "link", name, "target=%s kind=hardlink", quote(q, sizeof(q), hl));
		/* A hard link to a symlink would carry its target to a new place: files only. */
		if (path_problem(hl, &d) || d == 0 ||
		    fstatat(x->treefd, hl, &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			return bad(x, "link", name, "target=%s kind=hardlink "
			    "error=\"not a file already in the tree\"", quote(q, sizeof(q), hl));
		return 0;
	}
	if (type == 0 && (archive_format(x->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR) {
		/* ar headers carry permission bits only ("644"): every member is a file. */
		type = AE_IFREG;
		archive_entry_set_filetype(e, AE_IFREG);
	}
	switch (type) {
	case AE_IFREG:
		archive_entry_set_perm(e, (archive_entry_perm(e) & 0111) ? 0755 : 0644);
		return 0;
	case AE_IFDIR:
		archive_entry_set_perm(e, 0755);
		return 0;
	case AE_IFLNK:
		sl = archive_entry_symlink(e);
		if (sl == NULL)
			return bad(x, "link", name, "kind=symlink error=\"no usable target\"");
		if (p->links != LINKS_INSIDE)
			return bad(x, "link", name, "target=%s kind=symlink", quote(q, sizeof(q), sl));
		if (!extract_symlink_inside(name, sl))
			return bad(x, "link", name, "target=%s kind=symlink "
			    "error=\"may resolve outside the tree\"", quote(q, sizeof(q), sl));
		return 0;
	case 0:
		/* No type at all: a damaged header (rar5 gives these), not a device or FIFO. */
		return bad(x, "archive", name, "error=\"no file type in the entry's header\"");
	default:
		return bad(x, "type", name, "kind=%s", kind_name(type));
	}
}

/* Copy one entry's data. 0, EXTRACT_BAD or -1. */
static int
copy_data(struct xstate *x, struct archive_entry *e, const char *name)
{
	uint64_t bytes = 0, extent = 0, cost = 0;
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(x->a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		/* A WARN here is a bad CRC: the data is not what the archive promised. */
		if (r != ARCHIVE_OK)
			return read_error(x, name);
		if (off < 0 || (uint64_t)off > UINT64_MAX - size)
			return bad(x, "archive", name, "error=\"bad data offset\"");
		bytes += size;
		if ((uint64_t)off + size > extent)
			extent = (uint64_t)off + size;
		cost = bytes > extent ? bytes : extent;
		if ((r = check_bytes(x, name, cost)) != 0)
			return r;
		if (size && archive_write_data_block(x->w, buf, size, off) != ARCHIVE_OK)
			return write_error(x, name);
	}
	/* archive_write_disk extends the file to the header's size (sparse tails): count that too. */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    (uint64_t)archive_entry_size(e) > cost) {
		cost = (uint64_t)archive_entry_size(e);
		if ((r = check_bytes(x, name, cost)) != 0)
			return r;
	}
	x->total += cost;
	return 0;
}

/*
 * GNU and SysV ar keep their symbol table in "/" (or "/SYM64/") and long
 * names in "//": the archive's own bookkeeping, not files.
 */
static int
ar_table(struct xstate *x, const char *name)
{
	return (archive_format(x->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR &&
	    (strcmp(name, "/") == 0 || strcmp(name, "//") == 0 || strcmp(name, "/SYM64/") == 0);
}

/* The manifest's name at the root, however the archive spells it ("./data_info.yml"). */
static int
is_manifest(const struct xstate *x, const char *name)
{
	const char *m = x->p->manifest;

	while (name[0] == '.' && name[1] == '/')
		for (name += 2; *name == '/'; name++)
			;
	return m && *m && strcmp(name, m) == 0;
}

static int
extract_entries(struct xstate *x)
{
	struct archive_entry *e;
	const char *name, *why;
	char q[512];
	uint64_t depth;
	mode_t type;
	int r;

	for (;;) {
		r = archive_read_next_header(x->a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		name = archive_entry_pathname(e);
		/* Any warning on a header (a name that does not convert, a damaged header) fails. */
		if (r != ARCHIVE_OK) {
			if (r == ARCHIVE_WARN && name == NULL && !x->read_errno)
				return bad(x, "path", NULL, "error=%s", errmsg(q, sizeof(q), x->a));
			return read_error(x, name);
		}
		if (name == NULL)
			return bad(x, "path", NULL, "error=\"entry without a usable name\"");
		if (ar_table(x, name))
			continue;
		if (is_manifest(x, name) && ++x->manifests > 1)
			return bad(x, "manifest", NULL, "error=\"duplicate entry %s\"",
			    x->p->manifest);
		if (over(++x->entries, x->p->max_entries))
			return bad(x, "limit max_entries", name, NULL);
		if ((why = path_problem(name, &depth)) != NULL)
			return bad(x, "path", name, "error=\"%s\"", why);
		if (over(depth, x->p->max_depth))
			return bad(x, "limit max_depth", name, NULL);
		if (depth == 0)
			continue;	/* "./": the tree itself, which is ours */
		if ((r = vet_entry(x, e, name)) != 0)
			return r;
		r = archive_write_header(x->w, e);
		if (r < ARCHIVE_WARN)
			return write_error(x, name);
		type = archive_entry_filetype(e);
		if (type == AE_IFREG || archive_entry_hardlink(e)) {
			if ((r = copy_data(x, e, name)) != 0)
				return r;
		}
		r = archive_write_finish_entry(x->w);
		if (r < ARCHIVE_WARN)
			return write_error(x, name);
	}
}

/*
 * The packet is read through these rather than archive_read_open_fd(), so
 * that a failed read(2) is remembered: a format reader reports it as its own
 * "Truncated ZIP file header" and the packet would fail for what is a disk
 * error. Seek and skip keep the zip reader on the central directory, as
 * archive_read_open_fd() would.
 */
static la_ssize_t
src_read(struct archive *a, void *arg, const void **buf)
{
	struct xstate *x = arg;
	ssize_t n;

	do
		n = read(x->fd, x->block, EXTRACT_BLOCK);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		x->read_errno = errno;
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	*buf = x->block;
	return n;
}

static la_int64_t
src_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct xstate *x = arg;
	off_t r = lseek(x->fd, (off_t)off, whence);

	if (r == -1) {
		x->read_errno = errno;
		archive_set_error(a, errno, "seek: %s", strerror(errno));
		return ARCHIVE_FATAL;
	}
	return r;
}

static la_int64_t
src_skip(struct archive *a, void *arg, la_int64_t req)
{
	struct xstate *x = arg;
	off_t cur, end;

	(void)a;
	/* Never past the end: libarchive then reads what is left and sees the EOF itself. */
	if (req <= 0 || (cur = lseek(x->fd, 0, SEEK_CUR)) == -1 ||
	    (end = lseek(x->fd, 0, SEEK_END)) == -1) {
		if (req > 0)
			x->read_errno = errno;
		return req > 0 ? -1 : 0;
	}
	if (req > end - cur)
		req = end - cur;
	if (lseek(x->fd, cur + req, SEEK_SET) == -1) {
		x->read_errno = errno;
		return -1;
	}
	return req;
}

static int
open_source(struct xstate *x, int fd)
{
	x->fd = fd;
	if ((x->block = malloc(EXTRACT_BLOCK)) == NULL)
		return ARCHIVE_FATAL;
	archive_read_set_callback_data(x->a, x);
	archive_read_set_read_callback(x->a, src_read);
	archive_read_set_seek_callback(x->a, src_seek);
	archive_read_set_skip_callback(x->a, src_skip);
	return archive_read_open1(x->a);
}

static int
enable_formats(struct archive *a, const struct conf_packet *p)
{
	size_t i, j;
	int n = 0;

	for (i = 0; i < p->formats.n; i++)
		for (j = 0; j < sizeof(formats) / sizeof(formats[0]); j++)
			if (strcmp(p->formats.v[i], formats[j].name) == 0 &&
			    formats[j].enable(a) == ARCHIVE_OK)
				n++;
	return n;
}

/* Not an archive we read: a known format we may not read, or a plain file. */
static int
not_archive(struct xstate *x, int fd)
{
	char q[512], msg[256];
	unsigned char *buf;
	const char *fmt;
	ssize_t n;

	if ((buf = malloc(FILTERS_SNIFF_LEN)) == NULL)
		return -1;
	n = pread(fd, buf, FILTERS_SNIFF_LEN, 0);
	if (n == -1) {
		x->read_errno = errno;
		free(buf);
		return bad(x, "system", NULL, "error=%s", log_quote(q, sizeof(q), strerror(errno)));
	}
	if (filters_refused(buf, (size_t)n, &x->p->filters, msg, sizeof(msg))) {
		free(buf);
		return bad(x, "archive", NULL, "error=\"%s\"", msg);
	}
	fmt = n > 0 ? filters_format((const unsigned char *)buf, (size_t)n) : NULL;
	free(buf);
	if (fmt && format_enabled(x->p, fmt))
		return bad(x, "archive", NULL, "format=%s error=\"Unrecognized archive format\"", fmt);
	if (fmt)
		return bad(x, "format", NULL, "name=%s error=\"not in packet.formats\"", fmt);
	bad(x, "plain", NULL, "error=\"%s\"", n == 0 ? "empty file" : "not an archive");
	return EXTRACT_PLAIN;
}

int
extract_archive(int fd, const char *dest, const struct conf_packet *p, struct extract_stats *st,
    char *reason, size_t reasonlen)
{
	struct xstate x;
	struct stat sb;
	locale_t loc, oldloc = (locale_t)0;
	int cwd = -1, r = -1, e, made = 0, moved = 0;
	char q[512];

	memset(&x, 0, sizeof(x));
	x.p = p;
	x.treefd = -1;
	x.reason = reason;
	x.reasonlen = reasonlen;
	if (reasonlen)
		reason[0] = '\0';
	if (st)
		memset(st, 0, sizeof(*st));
	if (fstat(fd, &sb) == -1)
		return -1;
	if (!S_ISREG(sb.st_mode)) {
		bad(&x, "type", NULL, "error=\"not a regular file\"");
		return EXTRACT_BAD;
	}
	x.arcsize = (uint64_t)sb.st_size;
	if (lseek(fd, 0, SEEK_SET) == -1)
		return -1;

	/*
	 * UTF-8 names need a UTF-8 LC_CTYPE, or libarchive hands out NULL names.
	 * A thread locale gives us one whatever the process runs under.
	 */
	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc != (locale_t)0)
		oldloc = uselocale(loc);

	x.a = archive_read_new();
	x.w = archive_write_disk_new();
	if (x.a == NULL || x.w == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if (enable_formats(x.a, p) == 0) {
		r = bad(&x, "format", NULL, "error=\"packet.formats enables no format\"");
		goto out;
	}
	filters_enable(x.a, &p->filters);
	/*
	 * The second line behind vet_entry(): libarchive cleans names its own way
	 * and checks each parent directory on disk as it writes.
	 */
	archive_write_disk_set_options(x.w, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);

	if (open_source(&x, fd) != ARCHIVE_OK) {
		e = archive_errno(x.a);
		/* "Unrecognized archive format": libarchive's ARCHIVE_ERRNO_FILE_FORMAT is EILSEQ here. */
		if (x.block == NULL)
			errno = ENOMEM;
		else if (e == EILSEQ && !x.read_errno)
			r = not_archive(&x, fd);
		else
			r = read_error(&x, NULL);
		goto out;
	}

	if (mkdir(dest, 0700) == -1)
		goto out;
	made = 1;
	x.treefd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (x.treefd == -1 || cwd == -1 || fchdir(x.treefd) == -1)
		goto out;
	moved = 1;
	r = extract_entries(&x);
	if (r == 0 && archive_write_close(x.w) < ARCHIVE_WARN)
		r = write_error(&x, NULL);
out:
	e = errno;
	if (x.w)
		archive_write_free(x.w);	/* also sets directory times, in the tree */
	if (x.a)
		archive_read_free(x.a);
	free(x.block);
	if (r > 0 && x.read_errno) {
		/* Whatever the reader made of it, the packet could not be read: retry later. */
		e = x.read_errno;
		bad(&x, "system", NULL, "error=%s", log_quote(q, sizeof(q), strerror(e)));
		r = -1;
	}
	if (moved && fchdir(cwd) == -1) {
		/* Cannot happen short of a kernel bug: the fd pins the directory. */
		fatal("event=extract_chdir");
	}
	if (cwd != -1)
		close(cwd);
	if (x.treefd != -1)
		close(x.treefd);
	if (loc != (locale_t)0) {
		uselocale(oldloc);
		freelocale(loc);
	}
	if (r != 0 && made && spool_rmtree(AT_FDCWD, dest) == -1) {
		log_warn("event=extract_cleanup dir=%s", log_quote(q, sizeof(q), dest));
		if (r != -1)
			e = errno;
		r = -1;
	}
	if (st) {
		st->entries = x.entries;
		st->bytes = x.total;
	}
	errno = e;
	return r;
}

/*
 * The forms a packet takes (see packet.h) and what each one becomes for the
 * handler. Everything is opened relative to the job directory, never through
 * a symlink: the packet, its NAME.zip and the manifest are all refused when
 * they are links.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "extract.h"
#include "log.h"
#include "manifest.h"
#include "packet.h"
#include "spool.h"

#define TREE_DIR	"tree"
#define MANIFEST_JSON	"manifest.json"
#define PREP_PLAIN	100	/* prepare_archive: not an archive */

static int
path_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
env_add(struct strv *v, const char *key, const char *val)
{
	char *s;
	int r;

	if (asprintf(&s, "%s=%s", key, val) == -1)
		return -1;
	r = strv_push(v, s);
	free(s);
	return r;
}

/* Open a file below dirfd without following a symlink at any step. */
static int
open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	if (fd == -1 && errno == ENOSYS) {
		/* Before Linux 5.6: O_NOFOLLOW guards the last component only. */
		if (strchr(path, '/')) {
			errno = ELOOP;
			return -1;
		}
		fd = openat(dirfd, path, (int)how.flags);
	}
	return (int)fd;
}

static const char *
type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFIFO:	return "fifo";
	case S_IFCHR:	return "chardev";
	case S_IFBLK:	return "blockdev";
	case S_IFSOCK:	return "socket";
	default:	return "unknown";
	}
}

/*
 * Look for the manifest at each base in turn; read it, write the JSON, fill
 * r. Returns PACKET_OK, PACKET_BAD or PACKET_TEMP (errno).
 */
static int
prepare_manifest(const struct conf_packet *p, const char *jobdir, int jfd,
    const int *basefds, const char *const *bases, int nbases, struct packet_result *r,
    char *reason, size_t reasonlen)
{
	char q[512], json[PATH_MAX];
	struct manifest m;
	int i, fd = -1, jsfd, rc, e;
	size_t off;
	ssize_t n;

	if (p->manifest == NULL || p->manifest[0] == '\0')
		return PACKET_OK;
	for (i = 0; i < nbases && fd == -1; i++) {
		fd = open_beneath(basefds[i], p->manifest);
		if (fd != -1) {
			if (path_join(r->manifest, sizeof(r->manifest), bases[i], p->manifest) == -1) {
				close(fd);
				return PACKET_TEMP;
			}
		} else if (errno == ELOOP) {
			snprintf(reason, reasonlen, "manifest file=%s error=\"a symlink\"",
			    log_quote(q, sizeof(q), p->manifest));
			return PACKET_BAD;
		} else if (errno != ENOENT && errno != ENOTDIR)
			return PACKET_TEMP;
	}
	if (fd == -1) {
		if (!p->manifest_required)
			return PACKET_OK;
		snprintf(reason, reasonlen, "manifest missing_file=%s",
		    log_quote(q, sizeof(q), p->manifest));
		return PACKET_BAD;
	}
	rc = manifest_read_fd(fd, p, &m, reason, reasonlen);
	e = errno;
	close(fd);
	if (rc != 0) {
		r->manifest[0] = '\0';
		errno = e;
		return rc == MANIFEST_BAD ? PACKET_BAD : PACKET_TEMP;
	}
	jsfd = openat(jfd, MANIFEST_JSON, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (jsfd == -1)
		goto temp;
	for (off = 0; off < m.jsonlen; off += (size_t)n) {
		n = write(jsfd, m.json + off, m.jsonlen - off);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n == -1) {
			e = errno;
			close(jsfd);
			errno = e;
			goto temp;
		}
	}
	if (close(jsfd) == -1)
		goto temp;
	if (path_join(json, sizeof(json), jobdir, MANIFEST_JSON) == -1 ||
	    env_add(&r->env, "INGEST_MANIFEST", r->manifest) == -1 ||
	    env_add(&r->env, "INGEST_MANIFEST_JSON", json) == -1)
		goto temp;
	/* Hand the INGEST_META_ strings over as they are. */
	for (off = 0; off < m.env.n; off++) {
		char **nv = realloc(r->env.v, (r->env.n + 2) * sizeof(*nv));

		if (nv == NULL)
			goto temp;
		r->env.v = nv;
		nv[r->env.n++] = m.env.v[off];
		nv[r->env.n] = NULL;
		m.env.v[off] = NULL;
	}
	manifest_free(&m);
	return PACKET_OK;
temp:
	e = errno;
	manifest_free(&m);
	errno = e;
	return PACKET_TEMP;
}

/* Extract fd into jobdir/tree. PACKET_OK, PACKET_BAD, PACKET_TEMP, or PREP_PLAIN. */
static int
prepare_archive(const struct conf_packet *p, const char *jobdir, int fd, const char *what,
    struct packet_result *r, char *reason, size_t reasonlen)
{
	struct extract_stats st;
	char tree[PATH_MAX], q[512];
	int rc;

	if (path_join(tree, sizeof(tree), jobdir, TREE_DIR) == -1)
		return PACKET_TEMP;
	rc = extract_archive(fd, tree, p, &st, reason, reasonlen);
	switch (rc) {
	case 0:
		log_debug("event=extracted name=%s entries=%llu bytes=%llu",
		    log_quote(q, sizeof(q), what), (unsigned long long)st.entries,
		    (unsigned long long)st.bytes);
		snprintf(r->dir, sizeof(r->dir), "%s", tree);
		return PACKET_OK;
	case EXTRACT_PLAIN:
		return PREP_PLAIN;
	case EXTRACT_BAD:
		return PACKET_BAD;
	default:
		return PACKET_TEMP;
	}
}

static int
prepare_file(const struct conf_packet *p, const char *jobdir, int jfd, const char *rel,
    const char *name, struct packet_result *r, char *reason, size_t reasonlen)
{
	char base[PATH_MAX];
	const char *bases[1];
	int fd, tfd, rc, e;

	fd = openat(jfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return PACKET_TEMP;
	rc = prepare_archive(p, jobdir, fd, name, r, reason, reasonlen);
	e = errno;
	close(fd);
	errno = e;
	if (rc == PREP_PLAIN) {
		if (p->plain != PLAIN_PASS)
			return PACKET_BAD;
		/* A plain file carries no manifest: it is handed over as it is. */
		reason[0] = '\0';
		if (path_join(r->dir, sizeof(r->dir), jobdir, "pkt") == -1)
			return PACKET_TEMP;
		return PACKET_OK;
	}
	if (rc != PACKET_OK)
		return rc;
	if ((tfd = openat(jfd, TREE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return PACKET_TEMP;
	snprintf(base, sizeof(base), "%s", r->dir);
	bases[0] = base;
	rc = prepare_manifest(p, jobdir, jfd, &tfd, bases, 1, r, reason, reasonlen);
	e = errno;
	close(tfd);
	errno = e;
	return rc;
}

static int
prepare_folder(const struct conf_packet *p, const char *jobdir, int jfd, const char *rel,
    const char *name, struct packet_result *r, char *reason, size_t reasonlen)
{
	char zipname[NAME_MAX + 1], folder[PATH_MAX], q[512];
	const char *bases[2];
	int fds[2] = { -1, -1 }, dfd, zfd, rc, e, n;
	struct extract_stats st;
	struct stat sb;

	if (path_join(folder, sizeof(folder), jobdir, rel) == -1)
		return PACKET_TEMP;
	dfd = openat(jfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return PACKET_TEMP;
	n = snprintf(zipname, sizeof(zipname), "%s.zip", name);
	if (n > 0 && (size_t)n < sizeof(zipname) &&
	    fstatat(dfd, zipname, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
		/* NAME/NAME.zip: extract beside, into the job's tree; the folder stays as dropped. */
		zfd = openat(dfd, zipname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (zfd == -1) {
			rc = PACKET_TEMP;
			goto out;
		}
		rc = prepare_archive(p, jobdir, zfd, zipname, r, reason, reasonlen);
		e = errno;
		close(zfd);
		errno = e;
		if (rc == PREP_PLAIN) {
			snprintf(reason, reasonlen, "archive entry=%s error=\"not an archive\"",
			    log_quote(q, sizeof(q), zipname));
			rc = PACKET_BAD;
		}
		if (rc != PACKET_OK)
			goto out;
		fds[0] = openat(jfd, TREE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fds[0] == -1) {
			rc = PACKET_TEMP;
			goto out;
		}
		/* The manifest may sit in the zip or beside it. */
		fds[1] = dfd;
		bases[0] = r->dir;
		bases[1] = folder;
		rc = prepare_manifest(p, jobdir, jfd, fds, bases, 2, r, reason, reasonlen);
		goto out;
	}
	/* Already unpacked: the same rules as for an archive, checked in place. */
	rc = extract_check_tree(dfd, p, &st, reason, reasonlen);
	if (rc != 0) {
		rc = rc == EXTRACT_BAD ? PACKET_BAD : PACKET_TEMP;
		goto out;
	}
	snprintf(r->dir, sizeof(r->dir), "%s", folder);
	fds[0] = dfd;
	bases[0] = folder;
	rc = prepare_manifest(p, jobdir, jfd, fds, bases, 1, r, reason, reasonlen);
out:
	e = errno;
	if (fds[0] != -1 && fds[0] != dfd)
		close(fds[0]);
	close(dfd);
	errno = e;
	return rc;
}

int
packet_prepare(const struct conf *c, const char *jobdir, const char *name,
    struct packet_result *r, char *reason, size_t reasonlen)
{
	const struct conf_packet *p = &c->packet;
	char rel[PATH_MAX], q[512];
	struct stat sb;
	int jfd, rc, e;

	memset(r, 0, sizeof(*r));
	if (reasonlen)
		reason[0] = '\0';
	if (path_join(rel, sizeof(rel), "pkt", name) == -1)
		return PACKET_TEMP;
	if ((jfd = open(jobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return PACKET_TEMP;
	/* An earlier attempt that crashed or hit a full disk may have left these. */
	if (spool_rmtree(jfd, TREE_DIR) == -1 ||
	    (unlinkat(jfd, MANIFEST_JSON, 0) == -1 && errno != ENOENT) ||
	    fstatat(jfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		rc = PACKET_TEMP;
		goto out;
	}
	if (S_ISREG(sb.st_mode))
		rc = prepare_file(p, jobdir, jfd, rel, name, r, reason, reasonlen);
	else if (S_ISDIR(sb.st_mode))
		rc = prepare_folder(p, jobdir, jfd, rel, name, r, reason, reasonlen);
	else if (S_ISLNK(sb.st_mode)) {
		snprintf(reason, reasonlen, "link entry=%s kind=symlink "
		    "error=\"the packet itself is a symlink\"", log_quote(q, sizeof(q), name));
		rc = PACKET_BAD;
	} else {
		snprintf(reason, reasonlen, "type entry=%s kind=%s",
		    log_quote(q, sizeof(q), name), type_name(sb.st_mode));
		rc = PACKET_BAD;
	}
out:
	e = errno;
	if (rc != PACKET_OK) {
		/* Nothing half-made stays behind: no tree, no JSON, no env. */
		if (spool_rmtree(jfd, TREE_DIR) == -1)
			log_warn("event=prepare_cleanup dir=%s/%s", jobdir, TREE_DIR);
		(void)unlinkat(jfd, MANIFEST_JSON, 0);
		strv_free(&r->env);
		r->dir[0] = r->manifest[0] = '\0';
		if (rc == PACKET_TEMP && reasonlen && reason[0] == '\0')
			snprintf(reason, reasonlen, "system error=%s",
			    log_quote(q, sizeof(q), strerror(e)));
	}
	close(jfd);
	errno = e;
	return rc;
}

void
packet_cleanup(const struct conf *c, const char *jobdir, struct packet_result *r)
{
	char tree[PATH_MAX];

	if (!c->packet.keep_extracted && path_join(tree, sizeof(tree), jobdir, TREE_DIR) == 0 &&
	    spool_rmtree(AT_FDCWD, tree) == -1)
		log_warn("event=cleanup dir=%s", tree);
	strv_free(&r->env);
}

/*
 * The forms a packet takes (see packet.h) and what each one becomes for the
 * handler. Everything is opened relative to the job directory, never through
 * a symlink: the packet, its NAME.zip and the manifest are all refused when
 * they are links.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "extract.h"
#include "folder.h"
#include "log.h"
#include "manifest.h"
#include "packet.h"
#include "sandbox.h"
#include "spool.h"

#define TREE_DIR	"tree"
#define MANIFEST_JSON	"manifest.json"
#define PREP_PLAIN	19	/* prepare_archive: not an archive (in packet_rc's range, never returned) */

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
	char zipname[NAME_MAX + 1], folder[PATH_MAX], tree[PATH_MAX], q[512];
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
	/*
	 * Already unpacked: copied into the job's tree by the same rules, each
	 * entry checked on the descriptor it is copied from. The folder stays
	 * writable by its producer; the copy is out of its reach.
	 */
	if (path_join(tree, sizeof(tree), jobdir, TREE_DIR) == -1) {
		rc = PACKET_TEMP;
		goto out;
	}
	rc = folder_copy(dfd, tree, p, &st, reason, reasonlen);
	if (rc != 0) {
		rc = rc == EXTRACT_BAD ? PACKET_BAD : PACKET_TEMP;
		goto out;
	}
	log_debug("event=copied name=%s entries=%llu bytes=%llu", log_quote(q, sizeof(q), name),
	    (unsigned long long)st.entries, (unsigned long long)st.bytes);
	snprintf(r->dir, sizeof(r->dir), "%s", tree);
	fds[0] = openat(jfd, TREE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fds[0] == -1) {
		rc = PACKET_TEMP;
		goto out;
	}
	bases[0] = tree;
	rc = prepare_manifest(p, jobdir, jfd, fds, bases, 1, r, reason, reasonlen);
out:
	e = errno;
	if (fds[0] != -1 && fds[0] != dfd)
		close(fds[0]);
	close(dfd);
	errno = e;
	return rc;
}

/* Bytes the helper may send back: the reason, two paths and INGEST_META_ (capped in manifest.h). */
#define PREP_OUT_MAX	(2 * MANIFEST_ENV_TOTAL_MAX + 4 * PATH_MAX + 64 * 1024)
#define PREP_REASON_MAX	2048

/* This worker's parse helper (sandbox.h), kept between packets. */
static struct sandbox helper = SANDBOX_INIT;

static int
ans_str(struct sandbox_buf *b, const char *s)
{
	return sandbox_append(b, s, strlen(s) + 1);
}

/*
 * The helper's half: one packet's parse, its answer
 * "RC ERRNO\0REASON\0DIR\0MANIFEST\0ENV\0..." to a request
 * "ISDIR\0JOBDIR\0REL\0NAME\0". The tree and manifest.json it leaves in the
 * job directory.
 */
static int
prep_helper(void *arg, const char *req, size_t len, struct sandbox_buf *ans)
{
	const struct conf_packet *p = arg;
	const char *f[4], *s = req, *end = req + len;
	char head[64], reason[PREP_REASON_MAX] = "";
	struct packet_result r;
	int i, rc, e, jfd;
	size_t k;

	for (i = 0; i < 4; i++) {
		if (s >= end)
			return 124;
		f[i] = s;
		s += strlen(s) + 1;
	}
	memset(&r, 0, sizeof(r));
	if ((jfd = open(f[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		rc = PACKET_TEMP;
	else if (f[0][0] == '1')
		rc = prepare_folder(p, f[1], jfd, f[2], f[3], &r, reason, sizeof(reason));
	else
		rc = prepare_file(p, f[1], jfd, f[2], f[3], &r, reason, sizeof(reason));
	e = errno;
	if (jfd != -1)
		close(jfd);
	if (rc == PACKET_TEMP && e == ENOMEM && p->max_memory) {
		/* Under RLIMIT_AS, running out is the limit, and a retry would run out again. */
		snprintf(reason, sizeof(reason), "limit max_memory error=\"out of memory\"");
		rc = PACKET_BAD;
	}
	snprintf(head, sizeof(head), "%d %d", rc, rc == PACKET_OK ? 0 : e);
	if (ans_str(ans, head) == -1 || ans_str(ans, reason) == -1 || ans_str(ans, r.dir) == -1 ||
	    ans_str(ans, r.manifest) == -1)
		return 1;
	for (k = 0; k < r.env.n; k++)
		if (ans_str(ans, r.env.v[k]) == -1)
			return 1;
	strv_free(&r.env);
	return 0;
}

/* The worker's half: the helper's answer, or what its end says. */
static int
prep_answer(const struct sandbox_limits *l, const struct sandbox_result *sr,
    struct packet_result *r, char *reason, size_t reasonlen)
{
	const char *s = sr->out, *end = sr->out + sr->outlen;
	int rc, e, field = 0;

	switch (sr->end) {
	case SANDBOX_TIME:
		snprintf(reason, reasonlen, "limit max_time kind=wall ms=%llu",
		    (unsigned long long)l->max_time_ms);
		return PACKET_BAD;
	case SANDBOX_CPU:
		snprintf(reason, reasonlen, "limit max_time kind=cpu ms=%llu",
		    (unsigned long long)l->max_time_ms);
		return PACKET_BAD;
	case SANDBOX_TOO_LONG:
		snprintf(reason, reasonlen, "manifest error=\"more than %d bytes of metadata\"",
		    PREP_OUT_MAX);
		return PACKET_BAD;
	case SANDBOX_SIGNALED:
		/*
		 * A SIGKILL we did not send: an operator, or the OOM killer short of
		 * memory for everyone (RLIMIT_AS makes this packet's own excess an
		 * ENOMEM first). Not the packet's fault: it is retried.
		 */
		if (sr->sig == SIGKILL) {
			snprintf(reason, reasonlen, "system error=\"parse helper killed (SIGKILL)\"");
			errno = EINTR;
			return PACKET_TEMP;
		}
			snprintf(reason, reasonlen, "archive error=\"the parser died of SIG%s\"",
			    sigabbrev_np(sr->sig) ? sigabbrev_np(sr->sig) : "?");
		return PACKET_BAD;
	case SANDBOX_EXITED:
		snprintf(reason, reasonlen, "system error=\"parse helper: exit status %d\"",
		    sr->status);
		errno = EIO;
		return PACKET_TEMP;
	case SANDBOX_ANSWERED:
		break;
	}
	if (sr->outlen == 0 || sscanf(s, "%d %d", &rc, &e) != 2 ||
	    (rc != PACKET_OK && rc != PACKET_BAD && rc != PACKET_TEMP)) {
		snprintf(reason, reasonlen, "system error=\"parse helper: a garbled answer\"");
		errno = EIO;
		return PACKET_TEMP;
	}
	for (s += strlen(s) + 1; s < end; s += strlen(s) + 1, field++) {
		if (field == 0)
			snprintf(reason, reasonlen, "%s", s);
		else if (field == 1)
			snprintf(r->dir, sizeof(r->dir), "%s", s);
		else if (field == 2)
			snprintf(r->manifest, sizeof(r->manifest), "%s", s);
		else if (strv_push(&r->env, s) == -1)
			return PACKET_TEMP;
	}
	errno = e;
	return rc;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 1099511628211ULL;
	return h;
}

static uint64_t
fnv_u64(uint64_t h, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 1099511628211ULL;
	return h;
}

static uint64_t
fnv_strv(uint64_t h, const struct strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		h = fnv(h, v->v[i], strlen(v->v[i]) + 1);
	return fnv(h, "\n", 1);
}

/* What a helper was made for: its packet rules and the tree it may write in. */
static uint64_t
helper_key(const struct conf_packet *p, const char *writable)
{
	uint64_t h = 14695981039346656037ULL;
	const uint64_t nums[] = {
		p->plain, p->links, p->max_bytes, p->max_entries, p->max_file_bytes, p->max_ratio,
		p->max_depth, (uint64_t)p->manifest_required, p->manifest_max_bytes,
		p->manifest_max_depth, p->manifest_max_nodes, p->max_time_ms, p->max_memory,
	};
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		h = fnv_u64(h, nums[i]);
	h = fnv_strv(h, &p->formats);
	h = fnv_strv(h, &p->filters);
	h = fnv_strv(h, &p->manifest_keys);
	h = fnv(h, p->manifest ? p->manifest : "", p->manifest ? strlen(p->manifest) + 1 : 1);
	return fnv(h, writable, strlen(writable) + 1);
}

/*
 * Extraction and the manifest parse in the helper, under packet.max_time and
 * max_memory. It may write only below the job's parent (work/): jobs are
 * renamed there at every claim, and one helper serves them all.
 */
static int
prepare_sandboxed(const struct conf *c, const char *jobdir, const char *rel, const char *name,
    int isdir, struct packet_result *r, char *reason, size_t reasonlen)
{
	const struct conf_packet *p = &c->packet;
	char writable[PATH_MAX], *slash, *req = NULL;
	struct sandbox_limits l = { p->max_memory, p->max_time_ms, writable };
	struct sandbox_result sr;
	static int said;
	int rc, e, n;

	snprintf(writable, sizeof(writable), "%s", jobdir);
	if ((slash = strrchr(writable, '/')) != NULL && slash != writable)
		*slash = '\0';
	else
		snprintf(writable, sizeof(writable), "%s", slash ? "/" : ".");
	if (!said++)
		log_debug("event=sandbox kind=%s max_time_ms=%llu max_memory=%llu", LQ(sandbox_kind()),
		    (unsigned long long)p->max_time_ms, (unsigned long long)p->max_memory);
	n = asprintf(&req, "%d%c%s%c%s%c%s%c", isdir, 0, jobdir, 0, rel, 0, name, 0);
	if (n == -1)
		return PACKET_TEMP;
	rc = sandbox_call(&helper, helper_key(p, writable), &l, prep_helper, (void *)p, req,
	    (size_t)n, PREP_OUT_MAX, &sr);
	e = errno;
	free(req);
	if (rc == -1) {
		errno = e;
		return PACKET_TEMP;
	}
	rc = prep_answer(&l, &sr, r, reason, reasonlen);
	e = errno;
	free(sr.out);
	/*
	 * A handler's clean-up kills every process left below the worker, the
	 * helper too, and a live one would make it walk /proc for each job:
	 * with a handler to run, the helper goes now.
	 */
	if (c->handler.command.n > 0)
		sandbox_stop(&helper);
	errno = e;
	return rc;
}

int
packet_prepare(const struct conf *c, const char *jobdir, const char *name,
    struct packet_result *r, char *reason, size_t reasonlen)
{
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
	if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
		rc = prepare_sandboxed(c, jobdir, rel, name, S_ISDIR(sb.st_mode), r, reason,
		    reasonlen);
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
			log_warn("event=prepare_cleanup job_dir=%s", LQ(jobdir));	/* its tree/ */
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
packet_helper_stop(void)
{
	sandbox_stop(&helper);
}

pid_t
packet_helper_pid(void)
{
	return helper.pid;
}

void
packet_cleanup(const struct conf *c, const char *jobdir, struct packet_result *r)
{
	char tree[PATH_MAX];

	if (!c->packet.keep_extracted && path_join(tree, sizeof(tree), jobdir, TREE_DIR) == 0 &&
	    spool_rmtree(AT_FDCWD, tree) == -1)
		log_warn("event=cleanup dir=%s", LQ(tree));
	strv_free(&r->env);
}

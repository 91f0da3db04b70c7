/*
 * extract_archive() and folder_check() against archives built here with
 * libarchive's writer, so every hostile shape (.., absolute names, links,
 * devices, sparse holes, bombs) is exact and needs no external tool. Each
 * test works in its own temp dir holding the archive, the tree and a canary
 * directory that nothing may touch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "extract.h"
#include "filters.h"
#include "folder.h"
#include "log.h"
#include "spool.h"

struct ent {
	const char *name;
	unsigned    type;	/* AE_IF*; 0: regular file */
	unsigned    perm;	/* 0: 0644 */
	const char *data;	/* NULL: size zero bytes */
	uint64_t    size;
	const char *link;	/* symlink target, or hard link target with hard */
	int         hard;
	int64_t     hole;	/* >0: sparse file of this size, data at its end */
	int         head;	/* with hole: the data at its start instead */
};

struct fx {
	char dir[512];		/* the test's temp dir */
	char arc[600];		/* dir/a */
	char tree[600];		/* dir/tree */
	char canary[600];	/* dir/canary */
	char reason[2048];
	char *fmts[8];
	struct conf_packet p;
	struct extract_stats st;
};

static void
build(const char *path, const char *format, const char *filter, const char *opts,
    const struct ent *e, size_t n)
{
	static char zeros[65536];
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t i;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
	if (filter)
		assert_int_equal(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
	if (opts) {
		assert_int_equal(archive_write_set_options(a, opts), ARCHIVE_OK);
		if (strstr(opts, "encryption"))
			assert_int_equal(archive_write_set_passphrase(a, "secret"), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		uint64_t size = e[i].data ? strlen(e[i].data) : e[i].size, left;

		ae = archive_entry_new();
		archive_entry_copy_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type ? e[i].type : AE_IFREG);
		archive_entry_set_perm(ae, e[i].perm ? e[i].perm : 0644);
		archive_entry_set_mtime(ae, 1700000000, 0);
		if (e[i].type == AE_IFLNK)
			archive_entry_copy_symlink(ae, e[i].link);
		if (e[i].hard)
			archive_entry_copy_hardlink(ae, e[i].link);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		if (e[i].hole > 0) {
			archive_entry_set_size(ae, e[i].hole);
			archive_entry_sparse_add_entry(ae, e[i].head ? 0 : e[i].hole - (int64_t)size,
			    (int64_t)size);
		} else if (!e[i].type || e[i].type == AE_IFREG)
			archive_entry_set_size(ae, (int64_t)size);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].data)
			assert_int_equal(archive_write_data(a, e[i].data, size), (ssize_t)size);
		else
			for (left = size; left > 0; ) {
				size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);

				assert_int_equal(archive_write_data(a, zeros, k), (ssize_t)k);
				left -= k;
			}
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static char *
read_file(const char *path, size_t *len)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static const char *filters_all[] = { "bzip2", "compress", "gzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz", "zstd" };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/test_extract.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->arc, sizeof(f->arc), "%s/a", f->dir);
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->dir);
	snprintf(f->canary, sizeof(f->canary), "%s/canary", f->dir);
	assert_int_equal(mkdir(f->canary, 0755), 0);
	f->fmts[0] = "zip";
	f->fmts[1] = "tar";
	f->p.formats.v = f->fmts;
	f->p.formats.n = 2;
	f->p.filters.v = (char **)filters_all;
	f->p.filters.n = sizeof(filters_all) / sizeof(filters_all[0]);
	f->p.max_bytes = 1ULL << 40;
	f->p.max_entries = 100000;
	f->p.max_file_bytes = 1ULL << 40;
	f->p.max_ratio = 1000;
	f->p.max_depth = 32;
	*state = f;
	return 0;
}

/* Nothing but a, tree and canary (empty) may be in the test dir. */
static void
assert_nothing_outside(const struct fx *f)
{
	struct dirent *de;
	DIR *d = opendir(f->dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, "a") && strcmp(de->d_name, "tree") &&
		    strcmp(de->d_name, "canary"))
			fail_msg("unexpected %s/%s", f->dir, de->d_name);
	}
	closedir(d);
	d = opendir(f->canary);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	assert_int_equal(n, 2);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_nothing_outside(f);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->dir), 0);
	free(f);
	return 0;
}

static int
run(struct fx *f)
{
	char before[PATH_MAX], after[PATH_MAX];
	int fd, r, e;

	assert_non_null(getcwd(before, sizeof(before)));
	fd = open(f->arc, O_RDONLY);
	assert_true(fd >= 0);
	r = extract_archive(fd, f->tree, &f->p, &f->st, f->reason, sizeof(f->reason));
	e = errno;
	close(fd);
	assert_non_null(getcwd(after, sizeof(after)));
	assert_string_equal(before, after);
	if (r != 0)	/* nothing half-made stays */
		assert_int_equal(access(f->tree, F_OK), -1);
	errno = e;
	return r;
}

/* Extraction fails with a reason that starts with prefix. */
static void
expect_bad(struct fx *f, const char *prefix)
{
	int r = run(f);

	if (r != EXTRACT_BAD || strncmp(f->reason, prefix, strlen(prefix)) != 0)
		fail_msg("want %d \"%s...\", got %d \"%s\"", EXTRACT_BAD, prefix, r, f->reason);
}

static void
expect_ok(struct fx *f)
{
	int r = run(f);

	if (r != 0)
		fail_msg("want 0, got %d \"%s\"", r, f->reason);
}

static mode_t
mode_of(struct fx *f, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->tree, rel);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

static const char *
content(struct fx *f, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->tree, rel);
	return read_file(path, NULL);
}

/* --- what passes ------------------------------------------------------------ */

static void
test_tar_files_dirs_modes(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "./", .type = AE_IFDIR, .perm = 0700 },
		{ .name = "data_info.yml", .data = "device_id: cam7\n" },
		{ .name = "d", .type = AE_IFDIR, .perm = 01777 },
		{ .name = "d/run.sh", .data = "#!/bin/sh\n", .perm = 04755 },
		{ .name = "d/sgid", .data = "x", .perm = 02711 },
		{ .name = "d/e/deep.txt", .data = "deep" },		/* parent made on the way */
		{ .name = "d/none", .data = "", .perm = 0 },
		{ .name = "./dot/./slash//f", .data = "f" },
	};
	mode_t um = umask(022);

	build(f->arc, "pax", NULL, NULL, e, sizeof(e) / sizeof(e[0]));
	expect_ok(f);
	umask(um);
	assert_string_equal(content(f, "data_info.yml"), "device_id: cam7\n");
	assert_string_equal(content(f, "d/e/deep.txt"), "deep");
	assert_string_equal(content(f, "dot/slash/f"), "f");
	assert_int_equal(mode_of(f, "d") & 07777, 0755);	/* sticky gone */
	assert_int_equal(mode_of(f, "d/run.sh") & 07777, 0755);	/* setuid gone */
	assert_int_equal(mode_of(f, "d/sgid") & 07777, 0755);
	assert_int_equal(mode_of(f, "d/none") & 07777, 0644);
	assert_int_equal(mode_of(f, ".") & 07777, 0700);	/* "./" left the root alone */
	assert_int_equal(f->st.entries, 8);
	assert_int_equal(f->st.bytes, 16 + 10 + 1 + 4 + 1);
}

static void
test_zip_and_every_filter(void **state)
{
	struct fx *f = *state;
	static const char *const filters[] = { "gzip", "bzip2", "xz", "zstd", "lz4" };
	const struct ent e[] = { { .name = "a/b.txt", .data = "hello" } };
	size_t i;

	build(f->arc, "zip", NULL, NULL, e, 1);
	expect_ok(f);
	assert_string_equal(content(f, "a/b.txt"), "hello");
	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		assert_int_equal(spool_rmtree(AT_FDCWD, f->tree), 0);
		build(f->arc, "gnutar", filters[i], NULL, e, 1);
		expect_ok(f);
		assert_string_equal(content(f, "a/b.txt"), "hello");
	}
}

static void
test_odd_names_kept(void **state)
{
	struct fx *f = *state;
	char n255[256];
	struct ent e[] = {
		{ .name = "caf\xe9.txt", .data = "latin1" },	/* not UTF-8 */
		{ .name = "new\nline", .data = "nl" },
		{ .name = "caf\xc3\xa9-utf8.txt", .data = "utf8" },
		{ .name = n255, .data = "long" },
	};

	memset(n255, 'n', 255);
	n255[255] = '\0';
	build(f->arc, "gnutar", NULL, NULL, e, sizeof(e) / sizeof(e[0]));
	expect_ok(f);
	assert_string_equal(content(f, "caf\xe9.txt"), "latin1");
	assert_string_equal(content(f, "new\nline"), "nl");
	assert_string_equal(content(f, "caf\xc3\xa9-utf8.txt"), "utf8");
	assert_string_equal(content(f, n255), "long");
}

/* Under runit the daemon runs in the C locale: UTF-8 names in a zip must still work. */
static void
test_utf8_zip_in_c_locale(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "\xc3\xbc" "ber/gr\xc3\xb6\xc3\x9f" "e.txt", .data = "u" } };

	build(f->arc, "zip", NULL, "zip:hdrcharset=UTF-8", e, 1);
	assert_non_null(setlocale(LC_CTYPE, "C"));
	expect_ok(f);
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	assert_string_equal(content(f, "\xc3\xbc" "ber/gr\xc3\xb6\xc3\x9f" "e.txt"), "u");
}

static void
test_many_small_entries(void **state)
{
	struct fx *f = *state;
	struct ent *e = calloc(10000, sizeof(*e));
	char (*names)[16] = calloc(10000, 16);
	size_t i;

	assert_non_null(e);
	assert_non_null(names);
	for (i = 0; i < 10000; i++) {
		snprintf(names[i], 16, "d%zu/f%zu", i % 10, i);
		e[i].name = names[i];
	}
	build(f->arc, "zip", NULL, NULL, e, 10000);
	f->p.max_entries = 10000;
	expect_ok(f);
	assert_int_equal(f->st.entries, 10000);
	assert_int_equal(mode_of(f, "d9/f9999") & S_IFMT, S_IFREG);
	free(e);
	free(names);
}

/* --- paths ------------------------------------------------------------------ */

static void
test_dotdot_refused(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "ok.txt", .data = "ok" },
		{ .name = "../canary/escaped", .data = "x" },
	};

	build(f->arc, "pax", NULL, NULL, e, 2);
	expect_bad(f, "path entry=../canary/escaped error=\"'..' in path\"");
}

static void
test_inner_dotdot_refused(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "a/../../canary/x", .data = "x" } };

	build(f->arc, "zip", NULL, NULL, e, 1);
	expect_bad(f, "path entry=a/../../canary/x");
}

static void
test_absolute_refused(void **state)
{
	struct fx *f = *state;
	char name[PATH_MAX];
	struct ent e[] = { { .name = name, .data = "x" } };

	snprintf(name, sizeof(name), "%s/abs", f->canary);
	build(f->arc, "pax", NULL, NULL, e, 1);
	expect_bad(f, "path entry=/");
	assert_non_null(strstr(f->reason, "absolute path"));
}

static void
test_name_too_long_refused(void **state)
{
	struct fx *f = *state;
	char n256[257];
	struct ent e[] = { { .name = n256, .data = "x" } };

	memset(n256, 'n', 256);
	n256[256] = '\0';
	build(f->arc, "pax", NULL, NULL, e, 1);
	expect_bad(f, "path entry=nnnn");
}

static void
test_bad_utf8_zip_name_refused(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "bad-X-name", .data = "x" } };
	size_t len, n = 0;
	char *buf, *p;

	/* The zip says "UTF-8" (bit 11), but the name is not: libarchive gives no name. */
	build(f->arc, "zip", NULL, "zip:hdrcharset=UTF-8", e, 1);
	buf = read_file(f->arc, &len);
	for (p = buf; (p = memmem(p, len - (size_t)(p - buf), "bad-X", 5)) != NULL; p++, n++)
		p[4] = '\xff';
	assert_int_equal(n, 2);	/* local and central header */
	/* Set bit 11, "the name is UTF-8", in both headers' flags. */
	assert_memory_equal(buf, "PK\003\004", 4);
	buf[7] |= 0x08;
	p = memmem(buf, len, "PK\001\002", 4);
	assert_non_null(p);
	p[9] |= 0x08;
	write_file(f->arc, buf, len);
	expect_bad(f, "path error=");
}

/* --- links and types ---------------------------------------------------------- */

static void
test_symlink_refused_by_default(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "root", .type = AE_IFLNK, .link = "/" } };

	build(f->arc, "pax", NULL, NULL, e, 1);
	expect_bad(f, "link entry=root target=/ kind=symlink");
}

static void
test_symlink_then_write_through(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "l", .type = AE_IFLNK, .link = "../canary" },
		{ .name = "l/pwned", .data = "x" },
	};

	build(f->arc, "pax", NULL, NULL, e, 2);
	expect_bad(f, "link entry=l target=../canary");
	f->p.links = LINKS_INSIDE;
	expect_bad(f, "link entry=l target=../canary kind=symlink error=\"may resolve outside");
}

static void
test_symlinks_inside(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "sub/file", .data = "data" },
		{ .name = "l1", .type = AE_IFLNK, .link = "sub/file" },
		{ .name = "sub/up", .type = AE_IFLNK, .link = "../sub/./file" },
		{ .name = "a/b/l", .type = AE_IFLNK, .link = "../../sub" },
		{ .name = "dot", .type = AE_IFLNK, .link = "." },
	};
	char path[PATH_MAX];

	f->p.links = LINKS_INSIDE;
	build(f->arc, "pax", NULL, NULL, e, sizeof(e) / sizeof(e[0]));
	expect_ok(f);
	assert_int_equal(mode_of(f, "l1") & S_IFMT, S_IFLNK);
	snprintf(path, sizeof(path), "%s/a/b/l/file", f->tree);
	assert_string_equal(read_file(path, NULL) ? "ok" : "missing", "ok");
}

static void
test_symlinks_that_may_escape(void **state)
{
	struct fx *f = *state;
	/* Each is refused although some look inside when read lexically. */
	static const char *const bad[][2] = {
		{ "a/l", "../../x" },
		{ "l", "/etc" },
		{ "l", "sub/../.." },		/* ".." after a name: sub may be a link */
		{ "a/b/l", "x/../../.." },
		{ "l", "" },
	};
	size_t i;

	f->p.links = LINKS_INSIDE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct ent e[] = { { .name = bad[i][0], .type = AE_IFLNK, .link = bad[i][1] } };

		build(f->arc, "pax", NULL, NULL, e, 1);
		expect_bad(f, "link entry=");
	}
}

/* A link inside that the next entry writes through: libarchive's own check stops it. */
static void
test_write_through_inside_link(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "sub", .type = AE_IFDIR },
		{ .name = "l", .type = AE_IFLNK, .link = "sub" },
		{ .name = "l/x", .data = "x" },
	};

	f->p.links = LINKS_INSIDE;
	build(f->arc, "pax", NULL, NULL, e, 3);
	expect_bad(f, "path entry=l/x");
}

static void
test_hardlinks(void **state)
{
	struct fx *f = *state;
	const struct ent passwd[] = {
		{ .name = "passwd", .link = "/etc/passwd", .hard = 1 },
	};
	const struct ent up[] = {
		{ .name = "p", .link = "../canary/x", .hard = 1 },
	};
	const struct ent inside[] = {
		{ .name = "f", .data = "same" },
		{ .name = "sub/h", .link = "f", .hard = 1 },
	};
	const struct ent tolink[] = {
		{ .name = "s", .type = AE_IFLNK, .link = "f" },
		{ .name = "h", .link = "s", .hard = 1 },
	};
	struct stat a, b;
	char pa[PATH_MAX], pb[PATH_MAX];

	build(f->arc, "pax", NULL, NULL, passwd, 1);
	expect_bad(f, "link entry=passwd target=/etc/passwd kind=hardlink");
	f->p.links = LINKS_INSIDE;
	expect_bad(f, "link entry=passwd target=/etc/passwd kind=hardlink error=");
	build(f->arc, "pax", NULL, NULL, up, 1);
	expect_bad(f, "link entry=p target=../canary/x");
	build(f->arc, "pax", NULL, NULL, tolink, 2);
	expect_bad(f, "link entry=h target=s kind=hardlink error=\"not a file");
	build(f->arc, "pax", NULL, NULL, inside, 2);
	expect_ok(f);
	snprintf(pa, sizeof(pa), "%s/f", f->tree);
	snprintf(pb, sizeof(pb), "%s/sub/h", f->tree);
	assert_int_equal(stat(pa, &a), 0);
	assert_int_equal(stat(pb, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
}

static void
test_devices_and_fifos_refused(void **state)
{
	struct fx *f = *state;
	const struct ent fifo[] = { { .name = "ok", .data = "x" }, { .name = "p", .type = AE_IFIFO } };
	const struct ent chr[] = { { .name = "null", .type = AE_IFCHR } };

	build(f->arc, "pax", NULL, NULL, fifo, 2);
	expect_bad(f, "type entry=p kind=fifo");
	build(f->arc, "pax", NULL, NULL, chr, 1);
	expect_bad(f, "type entry=null kind=chardev");
}

/* --- limits ----------------------------------------------------------------- */

static void
test_limit_entries_and_depth(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "1", .data = "" }, { .name = "2", .data = "" }, { .name = "3", .data = "" },
	};
	const struct ent deep[] = { { .name = "a/b/c/d/e", .data = "" } };

	build(f->arc, "zip", NULL, NULL, e, 3);
	f->p.max_entries = 2;
	expect_bad(f, "limit max_entries entry=3");
	f->p.max_entries = 3;
	expect_ok(f);
	build(f->arc, "pax", NULL, NULL, deep, 1);
	f->p.max_depth = 4;
	assert_int_equal(spool_rmtree(AT_FDCWD, f->tree), 0);
	expect_bad(f, "limit max_depth entry=a/b/c/d/e");
	f->p.max_depth = 5;
	expect_ok(f);
}

static void
test_limit_file_and_total_bytes(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "a", .size = 300000 }, { .name = "b", .size = 300000 },
	};

	build(f->arc, "pax", "gzip", NULL, e, 2);
	f->p.max_file_bytes = 299999;
	expect_bad(f, "limit max_file_bytes entry=a");
	f->p.max_file_bytes = 300000;
	f->p.max_bytes = 599999;
	expect_bad(f, "limit max_bytes entry=b");
	f->p.max_bytes = 600000;
	expect_ok(f);
	assert_int_equal(f->st.bytes, 600000);
}

/* 8 MiB of zeros in a few KiB: far past max_ratio, stopped at the floor. */
static void
test_limit_ratio(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "bomb/zeros.bin", .size = 8 << 20 } };
	struct stat st;

	build(f->arc, "pax", "xz", NULL, e, 1);
	assert_int_equal(stat(f->arc, &st), 0);
	assert_true(st.st_size < 8 << 10);
	expect_bad(f, "limit max_ratio entry=bomb/zeros.bin");
	assert_true(f->st.bytes <= (uint64_t)(EXTRACT_RATIO_FLOOR + EXTRACT_BLOCK));
}

/* Under the floor a small archive may compress as well as it likes. */
static void
test_ratio_floor(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "zeros.txt", .size = EXTRACT_RATIO_FLOOR } };

	build(f->arc, "pax", "xz", NULL, e, 1);
	f->p.max_ratio = 2;
	expect_ok(f);
}

/* The header says 1 TiB, the data is 4 KiB: the hole counts as bytes. */
static void
test_sparse_hole_counts(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "hole.bin", .size = 4096, .hole = 1LL << 40 } };

	const struct ent tail[] = {
		{ .name = "tail.bin", .size = 4096, .hole = 1LL << 40, .head = 1 },
	};

	build(f->arc, "pax", NULL, NULL, e, 1);
	f->p.max_file_bytes = 1ULL << 30;
	expect_bad(f, "limit max_file_bytes entry=hole.bin");
	/* Data first, hole last: only the header's size tells, and it counts too. */
	build(f->arc, "pax", NULL, NULL, tail, 1);
	expect_bad(f, "limit max_file_bytes entry=tail.bin");
	f->p.max_file_bytes = 1ULL << 40;
	f->p.max_bytes = (1ULL << 40) - 1;
	expect_bad(f, "limit max_bytes entry=tail.bin");
}

/* --- broken archives ------------------------------------------------------------ */

static void
test_corrupt_crc(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "t.txt", .data = "the quick brown fox" } };
	size_t len;
	char *buf, *p;

	build(f->arc, "zip", NULL, "zip:compression=store", e, 1);
	buf = read_file(f->arc, &len);
	p = memmem(buf, len, "quick", 5);
	assert_non_null(p);
	*p = 'Q';
	write_file(f->arc, buf, len);
	expect_bad(f, "archive entry=t.txt error=\"ZIP bad CRC");
}

static void
test_truncated(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "a", .data = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ .name = "b", .size = 20000 },
	};
	size_t len;
	char *buf;

	build(f->arc, "pax", NULL, NULL, e, 2);
	buf = read_file(f->arc, &len);
	write_file(f->arc, buf, 3000);
	expect_bad(f, "archive entry=b error=");
	build(f->arc, "zip", NULL, NULL, e, 2);
	buf = read_file(f->arc, &len);
	write_file(f->arc, buf, len / 2);
	expect_bad(f, "archive");
}

static void
test_encrypted_zip(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "secret.txt", .data = "hidden" } };

	build(f->arc, "zip", NULL, "zip:encryption=zipcrypt", e, 1);
	expect_bad(f, "archive entry=secret.txt error=\"Passphrase required");
}

/* --- not archives --------------------------------------------------------------- */

static void
test_plain_files(void **state)
{
	struct fx *f = *state;

	write_file(f->arc, "just some text\n", 15);
	assert_int_equal(run(f), EXTRACT_PLAIN);
	assert_string_equal(f->reason, "plain error=\"not an archive\"");
	write_file(f->arc, "", 0);
	assert_int_equal(run(f), EXTRACT_PLAIN);
	assert_string_equal(f->reason, "plain error=\"empty file\"");
}

static void
test_format_not_enabled(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "x", .data = "x" } };

	build(f->arc, "cpio", NULL, NULL, e, 1);
	expect_bad(f, "format name=cpio");
	build(f->arc, "zip", NULL, NULL, e, 1);
	f->p.formats.n = 1;
	f->fmts[0] = "tar";
	expect_bad(f, "format name=zip");
	f->fmts[0] = "cpio";
	expect_bad(f, "format name=zip");
	build(f->arc, "cpio", NULL, NULL, e, 1);
	expect_ok(f);
	assert_int_equal(extract_format_known("zip"), 1);
	assert_int_equal(extract_format_known("mtree"), 0);
	assert_int_equal(extract_format_known("raw"), 0);
}


/* --- issue 11: filters, ar, duplicate manifests, reasons -------------------------- */

static void
test_filters_off_and_external(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "a.txt", .data = "hello" } };
	static char *only_gzip[] = { "gzip" };
	const char *lzop = "\211LZO\000\r\n\032\nrest of a header";

	build(f->arc, "gnutar", "xz", NULL, e, 1);
	expect_ok(f);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->tree), 0);
	/* The same packet with xz left off: the reason names the filter and the key. */
	f->p.filters.v = only_gzip;
	f->p.filters.n = 1;
	expect_bad(f, "archive error=\"filter xz is off (packet.filters)\"");
	build(f->arc, "gnutar", "compress", NULL, e, 1);
	expect_bad(f, "archive error=\"filter compress is off (packet.filters)\"");
	build(f->arc, "gnutar", "gzip", NULL, e, 1);
	expect_ok(f);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->tree), 0);
	/* grzip and lrzip are never built in: libarchive would run a program. */
	assert_int_equal(filters_builtin("lrzip"), 0);
	assert_int_equal(filters_builtin("grzip"), 0);
	assert_int_equal(filters_builtin("gzip"), 1);
	assert_int_equal(filters_builtin("compress"), 1);
	write_file(f->arc, "LRZI\000\006 and what follows", 24);
	expect_bad(f, "archive error=\"filter lrzip needs an external program");
	if (!filters_builtin("lzop")) {
		write_file(f->arc, lzop, 25);
		expect_bad(f, "archive error=\"filter lzop needs an external program");
	}
}

static void
test_every_builtin_filter_read(void **state)
{
	struct fx *f = *state;
	static const char *const filters[] = { "compress", "lzip", "lzma", "uuencode" };
	const struct ent e[] = { { .name = "a.txt", .data = "hello" } };
	size_t i;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		build(f->arc, "gnutar", filters[i], NULL, e, 1);
		expect_ok(f);
		assert_string_equal(content(f, "a.txt"), "hello");
		assert_int_equal(spool_rmtree(AT_FDCWD, f->tree), 0);
	}
}

static void
test_ar_tables_are_not_entries(void **state)
{
	struct fx *f = *state;
	/* As GNU ar writes it: symbol table "/", long names "//", members with "644" modes. */
	static const char ar[] =
	    "!<arch>\n"
	    "/               0           0     0     0       8         `\n"
	    "\0\0\0\0\0\0\0\0"
	    "//                                              34        `\n"
	    "a-member-name-longer-than-16.txt/\n"
	    "short.txt/      0           0     0     644     6         `\n"
	    "short\n"
	    "/0              0           0     0     644     5         `\n"
	    "long\n\n";
	const char *fmts[] = { "ar" };

	write_file(f->arc, ar, sizeof(ar) - 1);
	f->p.formats.v = (char **)fmts;
	f->p.formats.n = 1;
	expect_ok(f);
	assert_string_equal(content(f, "short.txt"), "short\n");
	assert_string_equal(content(f, "a-member-name-longer-than-16.txt"), "long\n");
	assert_int_equal(f->st.entries, 2);
}

static void
test_duplicate_manifest_refused(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = {
		{ .name = "data_info.yml", .data = "device_id: first\n" },
		{ .name = "a.txt", .data = "a" },
		{ .name = "./data_info.yml", .data = "device_id: second\n" },
	};
	const struct ent once[] = {
		{ .name = "data_info.yml", .data = "device_id: first\n" },
		{ .name = "sub/data_info.yml", .data = "not the manifest\n" },
	};

	f->p.manifest = "data_info.yml";
	build(f->arc, "zip", NULL, NULL, e, 3);
	expect_bad(f, "manifest error=\"duplicate entry data_info.yml\"");
	build(f->arc, "zip", NULL, NULL, once, 2);
	expect_ok(f);
}

static void
test_size_mismatch_is_archive(void **state)
{
	struct fx *f = *state;
	/* A stored zip entry "first" whose sizes say 10 bytes and whose data holds 20 */
	/* (test/hostile/gen.py's too-much-data.zip without its manifest). */
	static const unsigned char zip[] = {
		0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x58, 0x47, 0x42, 
		0xad, 0x27, 0x14, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x66, 0x69, 
		0x72, 0x73, 0x74, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 
		0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 
		0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x58, 0x47, 0x42, 0xad, 0x27, 0x14, 0x00, 0x00, 0x00, 0x0a, 
		0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa4, 
		0x81, 0x00, 0x00, 0x00, 0x00, 0x66, 0x69, 0x72, 0x73, 0x74, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 
		0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x33, 0x00, 0x00, 0x00, 0x37, 0x00, 0x00, 0x00, 0x00, 0x00
	};

	write_file(f->arc, zip, sizeof(zip));
	expect_bad(f, "archive entry=first error=\"Too much data: Truncating file at 10 bytes\" "
	    "kind=size_mismatch");
	assert_null(strstr(f->reason, "unknown error"));
	assert_int_equal(strncmp(f->reason, "path", 4) != 0, 1);
}

/* --- the system's faults -------------------------------------------------------- */

static void
test_dest_exists(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "x", .data = "x" } };
	char keep[PATH_MAX];
	int fd;

	build(f->arc, "pax", NULL, NULL, e, 1);
	assert_int_equal(mkdir(f->tree, 0700), 0);
	snprintf(keep, sizeof(keep), "%s/keep", f->tree);
	write_file(keep, "k", 1);
	fd = open(f->arc, O_RDONLY);
	assert_int_equal(extract_archive(fd, f->tree, &f->p, NULL, f->reason, sizeof(f->reason)),
	    -1);
	assert_int_equal(errno, EEXIST);
	close(fd);
	assert_int_equal(access(keep, F_OK), 0);	/* not ours: left alone */
}

/* A full disk is the system's fault (-1, ENOSPC), and the partial tree goes. */
static void
test_disk_full(void **state)
{
	struct fx *f = *state;
	const struct ent e[] = { { .name = "big", .size = 4 << 20 } };
	char mnt[600];

	snprintf(mnt, sizeof(mnt), "%s/tree", f->dir);
	build(f->arc, "pax", NULL, NULL, e, 1);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == -1) {
		rmdir(mnt);
		skip();
	}
	snprintf(f->tree, sizeof(f->tree), "%s/tree/t", f->dir);
	assert_int_equal(run(f), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(umount(mnt), 0);
	assert_int_equal(rmdir(mnt), 0);
	snprintf(f->tree, sizeof(f->tree), "%s", mnt);
}

/* --- folders ------------------------------------------------------------------- */

static int
check_tree(struct fx *f)
{
	int fd = open(f->tree, O_RDONLY | O_DIRECTORY), r;

	assert_true(fd >= 0);
	r = folder_check(fd, &f->p, &f->st, f->reason, sizeof(f->reason));
	close(fd);
	return r;
}

static void
test_folder_rules(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	int fd;

	assert_int_equal(mkdir(f->tree, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", f->tree);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/f", f->tree);
	write_file(p, "12345", 5);
	assert_int_equal(check_tree(f), 0);
	assert_int_equal(f->st.entries, 2);
	assert_int_equal(f->st.bytes, 5);

	f->p.max_depth = 1;
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason, "limit max_depth entry=sub/f");
	f->p.max_depth = 32;
	f->p.max_file_bytes = 4;
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason, "limit max_file_bytes entry=sub/f");
	f->p.max_file_bytes = 1ULL << 40;

	/* A sparse file counts by its size, not its blocks. */
	snprintf(p, sizeof(p), "%s/sparse", f->tree);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 30), 0);
	close(fd);
	f->p.max_bytes = 1 << 29;
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason, "limit max_bytes entry=sparse");
	f->p.max_bytes = 1ULL << 40;
	assert_int_equal(unlink(p), 0);

	snprintf(p, sizeof(p), "%s/sub/l", f->tree);
	assert_int_equal(symlink("f", p), 0);
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason, "link entry=sub/l target=f kind=symlink");
	f->p.links = LINKS_INSIDE;
	assert_int_equal(check_tree(f), 0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("../../canary", p), 0);
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason,
	    "link entry=sub/l target=../../canary kind=symlink error=\"may resolve outside the tree\"");
	assert_int_equal(unlink(p), 0);

	snprintf(p, sizeof(p), "%s/fifo", f->tree);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(check_tree(f), EXTRACT_BAD);
	assert_string_equal(f->reason, "type entry=fifo kind=fifo");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tar_files_dirs_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zip_and_every_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_names_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8_zip_in_c_locale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_small_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inner_dotdot_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_too_long_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_utf8_zip_name_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_then_write_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_that_may_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_inside_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices_and_fifos_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_entries_and_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_file_and_total_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_ratio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratio_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_hole_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_crc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted_zip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_not_enabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters_off_and_external, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_builtin_filter_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ar_tables_are_not_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_manifest_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_mismatch_is_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dest_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_rules, setup, teardown),
	};

	/* As main() does in the daemon; extraction must not depend on it, see above. */
	setlocale(LC_CTYPE, "C.UTF-8");
	log_init("test", -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

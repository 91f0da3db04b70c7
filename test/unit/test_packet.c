/*
 * packet_prepare() and packet_cleanup() on real job directories: each packet
 * form, what the handler is given (dir, manifest, env, manifest.json), and
 * that a failure leaves nothing half-made behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "conf.h"
#include "log.h"
#include "packet.h"
#include "spool.h"

struct fx {
	char dir[256];		/* temp dir */
	char job[300];		/* dir/job, the job directory */
	char pkt[300];		/* dir/job/pkt */
	char reason[2048];
	struct conf c;
	struct packet_result r;
};

struct file {
	const char *name;
	const char *data;
};

static void
build(const char *path, const char *format, const struct file *f, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t i;

	assert_int_equal(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		ae = archive_entry_new();
		archive_entry_copy_pathname(ae, f[i].name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (int64_t)strlen(f[i].data));
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, f[i].data, strlen(f[i].data)),
		    (ssize_t)strlen(f[i].data));
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void
put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static const char *
slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static int
exists(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/test_packet.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->job, sizeof(f->job), "%s/job", f->dir);
	snprintf(f->pkt, sizeof(f->pkt), "%s/job/pkt", f->dir);
	assert_int_equal(mkdir(f->job, 0700), 0);
	assert_int_equal(mkdir(f->pkt, 0700), 0);
	assert_int_equal(conf_defaults(&f->c), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	packet_cleanup(&f->c, f->job, &f->r);
	conf_free(&f->c);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->dir), 0);
	free(f);
	return 0;
}

static int
prepare(struct fx *f, const char *name)
{
	return packet_prepare(&f->c, f->job, name, &f->r, f->reason, sizeof(f->reason));
}

static const char *
env(const struct fx *f, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < f->r.env.n; i++)
		if (strncmp(f->r.env.v[i], name, n) == 0 && f->r.env.v[i][n] == '=')
			return f->r.env.v[i] + n + 1;
	return NULL;
}

/* After a failure: no tree, no manifest.json, no env. */
static void
assert_clean(struct fx *f)
{
	assert_false(exists(f->job, "tree"));
	assert_false(exists(f->job, "manifest.json"));
	assert_int_equal(f->r.env.n, 0);
	assert_string_equal(f->r.dir, "");
	assert_string_equal(f->r.manifest, "");
}

static void
test_archive_packet(void **state)
{
	struct fx *f = *state;
	const struct file files[] = {
		{ "data_info.yml", "device_id: cam7\nclip: {fps: 30}\n" },
		{ "video/a.mp4", "not really a video" },
	};
	char p[PATH_MAX], want[PATH_MAX];

	/* Detected by content: the name says nothing. */
	snprintf(p, sizeof(p), "%s/upload.bin", f->pkt);
	build(p, "zip", files, 2);
	assert_int_equal(prepare(f, "upload.bin"), PACKET_OK);
	assert_string_equal(f->reason, "");
	snprintf(want, sizeof(want), "%s/tree", f->job);
	assert_string_equal(f->r.dir, want);
	assert_true(exists(f->r.dir, "video/a.mp4"));
	snprintf(want, sizeof(want), "%s/tree/data_info.yml", f->job);
	assert_string_equal(f->r.manifest, want);
	assert_string_equal(env(f, "INGEST_MANIFEST"), want);
	snprintf(want, sizeof(want), "%s/manifest.json", f->job);
	assert_string_equal(env(f, "INGEST_MANIFEST_JSON"), want);
	assert_string_equal(env(f, "INGEST_META_DEVICE_ID"), "cam7");
	assert_null(env(f, "INGEST_META_CLIP"));
	assert_null(f->r.env.v[f->r.env.n]);
	assert_string_equal(slurp(want), "{\"device_id\":\"cam7\",\"clip\":{\"fps\":\"30\"}}\n");

	packet_cleanup(&f->c, f->job, &f->r);
	assert_false(exists(f->job, "tree"));
	assert_int_equal(f->r.env.n, 0);
	packet_cleanup(&f->c, f->job, &f->r);	/* twice is fine */
	assert_true(exists(f->pkt, "upload.bin"));	/* the packet itself stays */
}

static void
test_keep_extracted(void **state)
{
	struct fx *f = *state;
	const struct file files[] = { { "data_info.yml", "a: b\n" } };
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/x.tar", f->pkt);
	build(p, "pax", files, 1);
	f->c.packet.keep_extracted = 1;
	assert_int_equal(prepare(f, "x.tar"), PACKET_OK);
	packet_cleanup(&f->c, f->job, &f->r);
	assert_true(exists(f->job, "tree/data_info.yml"));
}

/* NAME/NAME.zip, as the seeds' devices send: extracted into the job's tree, the folder untouched. */
static void
test_folder_with_zip(void **state)
{
	struct fx *f = *state;
	const struct file files[] = { { "clip.mp4", "v" } };
	char p[PATH_MAX], want[PATH_MAX];

	snprintf(p, sizeof(p), "%s/s01", f->pkt);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/s01/s01.zip", f->pkt);
	build(p, "zip", files, 1);
	/* The manifest beside the zip counts when the zip has none. */
	snprintf(p, sizeof(p), "%s/s01/data_info.yml", f->pkt);
	put(p, "device_id: beside\n");
	assert_int_equal(prepare(f, "s01"), PACKET_OK);
	snprintf(want, sizeof(want), "%s/tree", f->job);
	assert_string_equal(f->r.dir, want);
	assert_true(exists(f->r.dir, "clip.mp4"));
	assert_false(exists(f->pkt, "s01/clip.mp4"));
	snprintf(want, sizeof(want), "%s/s01/data_info.yml", f->pkt);
	assert_string_equal(f->r.manifest, want);
	assert_string_equal(env(f, "INGEST_META_DEVICE_ID"), "beside");
	packet_cleanup(&f->c, f->job, &f->r);

	/* A zip that is no zip is the packet's fault. */
	snprintf(p, sizeof(p), "%s/s01/s01.zip", f->pkt);
	put(p, "text\n");
	assert_int_equal(prepare(f, "s01"), PACKET_BAD);
	assert_string_equal(f->reason, "archive entry=s01.zip error=\"not an archive\"");
	assert_clean(f);
}

static void
test_plain_folder(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], want[PATH_MAX];

	snprintf(p, sizeof(p), "%s/done-already", f->pkt);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/done-already/data_info.yml", f->pkt);
	put(p, "device_id: 9\n");
	assert_int_equal(prepare(f, "done-already"), PACKET_OK);
	/* The handler gets a copy in the job's tree, out of the producer's reach. */
	snprintf(want, sizeof(want), "%s/tree", f->job);
	assert_string_equal(f->r.dir, want);
	assert_true(exists(f->job, "tree/data_info.yml"));
	assert_true(exists(f->job, "manifest.json"));
	packet_cleanup(&f->c, f->job, &f->r);
	assert_false(exists(f->job, "tree"));
	assert_true(exists(f->pkt, "done-already/data_info.yml"));

	/* The archive rules hold here too. */
	snprintf(p, sizeof(p), "%s/done-already/shadow", f->pkt);
	assert_int_equal(symlink("/etc/shadow", p), 0);
	assert_int_equal(prepare(f, "done-already"), PACKET_BAD);
	assert_string_equal(f->reason, "link entry=shadow target=/etc/shadow kind=symlink");
	assert_clean(f);
}

static void
test_plain_file(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], want[PATH_MAX];

	snprintf(p, sizeof(p), "%s/notes.zip", f->pkt);
	put(p, "a text file with an archive's name\n");
	assert_int_equal(prepare(f, "notes.zip"), PACKET_BAD);
	assert_string_equal(f->reason, "plain error=\"not an archive\"");
	assert_clean(f);

	f->c.packet.plain = PLAIN_PASS;
	assert_int_equal(prepare(f, "notes.zip"), PACKET_OK);
	snprintf(want, sizeof(want), "%s/pkt", f->job);
	assert_string_equal(f->r.dir, want);
	assert_string_equal(f->r.manifest, "");
	assert_int_equal(f->r.env.n, 0);
	assert_string_equal(f->reason, "");
}

static void
test_packet_types(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/fifo", f->pkt);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(prepare(f, "fifo"), PACKET_BAD);
	assert_string_equal(f->reason, "type entry=fifo kind=fifo");
	snprintf(p, sizeof(p), "%s/link", f->pkt);
	assert_int_equal(symlink("/etc", p), 0);
	assert_int_equal(prepare(f, "link"), PACKET_BAD);
	assert_string_equal(f->reason,
	    "link entry=link kind=symlink error=\"the packet itself is a symlink\"");
	assert_clean(f);
}

static void
test_manifest_cases(void **state)
{
	struct fx *f = *state;
	const struct file none[] = { { "a.txt", "a" } };
	const struct file bad[] = { { "data_info.yml", "a: 1\na: 2\n" } };
	const struct file nokey[] = { { "data_info.yml", "other: 1\n" } };
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/p.zip", f->pkt);
	build(p, "zip", none, 1);
	assert_int_equal(prepare(f, "p.zip"), PACKET_BAD);
	assert_string_equal(f->reason, "manifest missing_file=data_info.yml");
	assert_clean(f);

	f->c.packet.manifest_required = 0;
	assert_int_equal(prepare(f, "p.zip"), PACKET_OK);
	assert_string_equal(f->r.manifest, "");
	assert_int_equal(f->r.env.n, 0);
	assert_false(exists(f->job, "manifest.json"));
	packet_cleanup(&f->c, f->job, &f->r);

	build(p, "zip", bad, 1);
	assert_int_equal(prepare(f, "p.zip"), PACKET_BAD);
	assert_string_equal(f->reason, "manifest line=2 column=1 error=\"duplicate key a\"");
	assert_clean(f);

	build(p, "zip", nokey, 1);
	assert_int_equal(strv_push(&f->c.packet.manifest_keys, "device_id"), 0);
	assert_int_equal(prepare(f, "p.zip"), PACKET_BAD);
	assert_string_equal(f->reason, "manifest missing_key=device_id");
	assert_clean(f);
}

static void
test_manifest_symlink_refused(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/d", f->pkt);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/d/real.yml", f->pkt);
	put(p, "a: 1\n");
	snprintf(p, sizeof(p), "%s/d/data_info.yml", f->pkt);
	assert_int_equal(symlink("real.yml", p), 0);
	f->c.packet.links = LINKS_INSIDE;
	assert_int_equal(prepare(f, "d"), PACKET_BAD);
	assert_string_equal(f->reason, "manifest file=data_info.yml error=\"a symlink\"");
}

/* A crashed or retried attempt left a tree and a JSON: both are redone, not reused. */
static void
test_leftovers_replaced(void **state)
{
	struct fx *f = *state;
	const struct file files[] = { { "data_info.yml", "fresh: yes\n" } };
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/tree", f->job);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/tree/stale", f->job);
	put(p, "old");
	snprintf(p, sizeof(p), "%s/manifest.json", f->job);
	put(p, "{\"stale\":1}");
	snprintf(p, sizeof(p), "%s/x.zip", f->pkt);
	build(p, "zip", files, 1);
	assert_int_equal(prepare(f, "x.zip"), PACKET_OK);
	assert_false(exists(f->job, "tree/stale"));
	snprintf(p, sizeof(p), "%s/manifest.json", f->job);
	assert_string_equal(slurp(p), "{\"fresh\":\"yes\"}\n");
}

static void
test_failure_removes_partial_tree(void **state)
{
	struct fx *f = *state;
	const struct file files[] = {
		{ "data_info.yml", "a: b\n" }, { "ok.txt", "fine" }, { "../escape", "no" },
	};
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/x.tar", f->pkt);
	build(p, "pax", files, 3);
	assert_int_equal(prepare(f, "x.tar"), PACKET_BAD);
	assert_string_equal(f->reason, "path entry=../escape error=\"'..' in path\"");
	assert_clean(f);
	assert_false(exists(f->job, "escape"));
}

static void
test_system_errors_are_temporary(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	assert_int_equal(prepare(f, "gone"), PACKET_TEMP);
	assert_int_equal(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/nojob", f->dir);
	assert_int_equal(packet_prepare(&f->c, p, "x", &f->r, f->reason, sizeof(f->reason)),
	    PACKET_TEMP);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_archive_packet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_extracted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_with_zip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packet_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_removes_partial_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_errors_are_temporary, setup, teardown),
	};

	setlocale(LC_CTYPE, "C.UTF-8");
	log_init("test", -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The cluster's files and messages: claim records, the state file, work
 * message bodies and ids. The NATS side is proven by remote_cluster.bats
 * against real servers.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "claims.h"
#include "cluster.h"
#include "cluster_msg.h"
#include "cluster_state.h"

static int
tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/test_cluster.XXXXXX");
	assert_non_null(mkdtemp(buf));
	return open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
test_claims(void **state)
{
	char dir[64], reply[CLUSTER_REPLY_MAX], id[CLUSTER_ID_MAX], **names;
	int fd = tmpdir(dir, sizeof(dir)), n;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(claim_write(fd, "a.zip.url", "$JS.ACK.s.c.1.2.3.4.5", "b/a.zip@e"), 0);
	assert_int_equal(claim_read(fd, "a.zip.url", reply, id), 0);
	assert_string_equal(reply, "$JS.ACK.s.c.1.2.3.4.5");
	assert_string_equal(id, "b/a.zip@e");
	/* A redelivery replaces the subject. */
	assert_int_equal(claim_write(fd, "a.zip.url", "$JS.ACK.s.c.2.2.3.4.5", "b/a.zip@e"), 0);
	assert_int_equal(claim_read(fd, "a.zip.url", reply, id), 0);
	assert_string_equal(reply, "$JS.ACK.s.c.2.2.3.4.5");
	/* Newlines would forge a second field. */
	errno = 0;
	assert_int_equal(claim_write(fd, "b.url", "x\nid=forged", "b/b@e"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(claim_write(fd, "c.url", "r", "b/c@e"), 0);
	n = claims_list(fd, &names);
	assert_int_equal(n, 2);
	claims_free(names, n);
	assert_int_equal(claim_drop(fd, "c.url"), 0);
	assert_int_equal(claims_list(fd, NULL), 1);
	errno = 0;
	assert_int_equal(claim_read(fd, "c.url", reply, id), -1);
	assert_int_equal(errno, ENOENT);
	/* A damaged record is refused, not half read. */
	n = openat(fd, "d.url", O_WRONLY | O_CREAT, 0600);
	assert_true(n >= 0);
	assert_int_equal(write(n, "reply=x\n", 8), 8);
	close(n);
	errno = 0;
	assert_int_equal(claim_read(fd, "d.url", reply, id), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(reply, "");
	(void)unlinkat(fd, "d.url", 0);
	(void)claim_drop(fd, "a.zip.url");
	close(fd);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_state(void **state)
{
	struct cluster_state st, back;
	char dir[64];
	int fd = tmpdir(dir, sizeof(dir));

	(void)state;
	memset(&st, 0, sizeof(st));
	st.connected = 1;
	snprintf(st.server, sizeof(st.server), "nats://127.0.0.1:4222");
	snprintf(st.node, sizeof(st.node), "cam-ingest-3");
	snprintf(st.stream, sizeof(st.stream), "ingestd");
	st.pending = 12;
	st.unacked = 3;
	st.leases = 2;
	st.time_ms = 1796234461966;
	assert_int_equal(cluster_state_write(fd, &st), 0);
	assert_int_equal(cluster_state_read(fd, &back), 0);
	assert_int_equal(back.connected, 1);
	assert_string_equal(back.server, st.server);
	assert_string_equal(back.node, st.node);
	assert_int_equal(back.pending, 12);
	assert_int_equal(back.unacked, 3);
	assert_int_equal(back.leases, 2);
	assert_true(back.time_ms == st.time_ms);
	st.connected = 0;
	st.server[0] = '\0';
	assert_int_equal(cluster_state_write(fd, &st), 0);
	assert_int_equal(cluster_state_read(fd, &back), 0);
	assert_int_equal(back.connected, 0);
	assert_string_equal(back.server, "-");
	(void)unlinkat(fd, CLUSTER_STATE_FILE, 0);
	close(fd);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_msg(void **state)
{
	struct cluster_msg m;
	char body[CLUSTER_MSG_MAX], id[CLUSTER_ID_MAX];
	int n;

	(void)state;
	n = cluster_msg_format(body, sizeof(body), "uploads", "cam 1/clip\n.zip", "\"abc\"", 181);
	assert_true(n > 0);
	assert_non_null(strstr(body, "key=cam%201/clip%0A.zip\n"));
	assert_int_equal(cluster_msg_parse(body, (size_t)n, &m), 0);
	assert_string_equal(m.bucket, "uploads");
	assert_string_equal(m.key, "cam 1/clip\n.zip");
	assert_string_equal(m.etag, "\"abc\"");
	assert_int_equal(m.size, 181);
	/* Missing, repeated or unknown fields, or a control byte: refused. */
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=k\netag=e\n", 23, &m), -1);
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=k\netag=e\nsize=1\nsize=2\n", 37, &m), -1);
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=k\netag=e\nsize=1\nx=y\n", 34, &m), -1);
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=k\netag=e\tf\nsize=1\n", 32, &m), -1);
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=%00\netag=e\nsize=1\n", 32, &m), -1);
	assert_int_equal(cluster_msg_parse("bucket=b\nkey=k\netag=e\nsize=-1\n", 31, &m), -1);
	/* The id drops the ETag's quotes: every host lists the same one. */
	assert_int_equal(cluster_id("uploads", "a/b.zip", "\"abc\"", id, sizeof(id)), 0);
	assert_string_equal(id, "uploads/a/b.zip@abc");
	assert_int_equal(cluster_id("uploads", "a/b.zip", "", id, sizeof(id)), 0);
	assert_string_equal(id, "uploads/a/b.zip@");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_msg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * s3.c and digest.c: SigV4's encoding, canonical listing URLs, key to local
 * name mapping (safe, one-to-one, bounded), credentials files, and the
 * ListObjectsV2 parser on good and hostile input.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "names.h"
#include "digest.h"
#include "clock.h"
#include "ledger.h"
#include "s3.h"
#include "spool.h"

static void
test_sha256_vectors(void **state)
{
	char hex[DIGEST_SHA256_HEX], *big;
	struct digest ctx;
	size_t i;

	(void)state;
	assert_string_equal(digest_sha256_hex("", 0, hex), S3_EMPTY_SHA256);
	assert_string_equal(digest_sha256_hex("abc", 3, hex),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(digest_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, hex), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* A million 'a', fed in odd pieces: the buffering across calls. */
	big = malloc(1000000);
	assert_non_null(big);
	memset(big, 'a', 1000000);
	assert_int_equal(digest_sha256_init(&ctx), 0);
	for (i = 0; i < 1000000; i += 997)
		assert_int_equal(digest_update(&ctx, big + i, i + 997 > 1000000 ? 1000000 - i : 997),
		    0);
	assert_int_equal(digest_final_hex(&ctx, hex), 0);
	assert_null(ctx.ctx);
	assert_string_equal(hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(big);
}

static void
test_encode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(s3_encode("a b+c/é~", 0, out, sizeof(out)), 19);
	assert_string_equal(out, "a%20b%2Bc%2F%C3%A9~");
	s3_encode("dir/x y", 1, out, sizeof(out));
	assert_string_equal(out, "dir/x%20y");
	s3_encode("-._~AZaz09=%&", 0, out, sizeof(out));
	assert_string_equal(out, "-._~AZaz09%3D%25%26");
	errno = 0;
	assert_int_equal(s3_encode("a b c", 0, out, 5), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_true(s3_decode("a%20b%2Bc", out, sizeof(out)) == 5);
	assert_string_equal(out, "a b+c");
	assert_int_equal(s3_decode("bad%2", out, sizeof(out)), -1);
	assert_int_equal(s3_decode("nul%00", out, sizeof(out)), -1);
	assert_int_equal(s3_decode("%zz", out, sizeof(out)), -1);
}

static struct conf_source
source(const char *endpoint, const char *bucket, const char *prefix)
{
	struct conf_source s;

	memset(&s, 0, sizeof(s));
	s.endpoint = (char *)endpoint;
	s.bucket = (char *)bucket;
	s.prefix = (char *)prefix;
	s.region = (char *)"us-east-1";
	return s;
}

static void
test_urls(void **state)
{
	struct conf_source s = source("http://127.0.0.1:9000/", "uploads", "video_ a/");
	char url[S3_URL_MAX];

	(void)state;
	/* Sorted parameters, every value encoded: what SigV4 signs is what is sent. */
	assert_int_equal(s3_list_url(&s, NULL, 1000, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/uploads?list-type=2&max-keys=1000&"
	    "prefix=video_%20a%2F");
	assert_int_equal(s3_list_url(&s, "1ux6/tTx+w==", 7, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/uploads?continuation-token="
	    "1ux6%2FtTx%2Bw%3D%3D&list-type=2&max-keys=7&prefix=video_%20a%2F");
	s.prefix = NULL;
	assert_int_equal(s3_list_url(&s, NULL, 2, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/uploads?list-type=2&max-keys=2");
	assert_int_equal(s3_object_url(&s, "dir/a b+c=%é.zip", url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/uploads/dir/a%20b%2Bc%3D%25%C3%A9.zip");
	assert_int_equal(s3_object_url(&s, "x", url, 20), -1);
}

static void
local(const char *key, const char *want)
{
	char out[S3_LOCAL_NAME_MAX + 1];

	if (s3_local_name(key, out, sizeof(out)) != 0)
		fail_msg("s3_local_name(%s) failed", key);
	if (strcmp(out, want) != 0)
		fail_msg("s3_local_name(%s) = %s, want %s", key, out, want);
}

static void
test_local_names(void **state)
{
	char a[S3_LOCAL_NAME_MAX + 1], b[S3_LOCAL_NAME_MAX + 1], key[S3_KEY_MAX + 1];
	char back[S3_KEY_MAX + 1];
	size_t i;

	(void)state;
	local("video_1.zip", "video_1.zip");
	local("dir/a b.zip", "dir\xEF\xBC\x8F" "a%20b.zip");
	local("incoming/cam1/clip1.zip", "incoming／cam1／clip1.zip");
	local("c+d=e,f@g.zip", "c+d=e,f@g.zip");
	local("100%.zip", "100%25.zip");
	local("été.zip", "été.zip");
	local("日本/写真.zip", "日本／写真.zip");
	/* A literal U+FF0F is escaped: no other key gives the name of "a/b". */
	local("a／b", "a%EF%BC%8Fb");
	/* Invalid UTF-8, overlongs, surrogates, C1 controls, invisible and bidi marks. */
	local("\xC3(", "%C3%28");
	local("\xC0\xAF", "%C0%AF");
	local("\xED\xA0\x80", "%ED%A0%80");
	local("\xC2\x85", "%C2%85");
	local("a\xE2\x80\x8B" "b", "a%E2%80%8Bb");
	local("evil\xE2\x80\xAEpiz.exe", "evil%E2%80%AEpiz.exe");
	local("\xEF\xBB\xBF" "bom", "%EF%BB%BFbom");
	local("\xC3\xA9", "é");
	local("a\xC2\xA0" "b", "a%C2%A0b");	/* a no-break space is a space */
	/* A truncated sequence at the end. */
	local("x\xE6\x97", "x%E6%97");
	local("..", "%2E.");
	local(".hidden", "%2Ehidden");
	local("../../etc/passwd", "%2E.／..／etc／passwd");
	local("a~b", "a%7Eb");
	/* Never a URL packet, a partial download or an ignored name. */
	local("evil.url", "evil%2Eurl");
	local("x.part", "x%2Epart");
	local("x.zip-downloading", "x.zip%2Ddownloading");
	local("line\nbreak", "line%0Abreak");
	/* One-to-one: the name decodes back to the key. */
	assert_int_equal(s3_local_name("dir/a b+%.zip", a, sizeof(a)), 0);
	assert_true(s3_local_key(a, back, sizeof(back)) > 0);
	assert_string_equal(back, "dir/a b+%.zip");
	assert_int_equal(s3_local_name("日本/a／b/é\xE2\x80\x8B~.zip", a, sizeof(a)), 0);
	assert_true(s3_local_key(a, back, sizeof(back)) > 0);
	assert_string_equal(back, "日本/a／b/é\xE2\x80\x8B~.zip");
	/* Long keys: bounded, the extension kept, distinct when only the end differs. */
	memset(key, 'k', 1000);
	strcpy(key + 1000, "1.zip");
	assert_int_equal(s3_local_name(key, a, sizeof(a)), 0);
	key[1000] = '2';
	assert_int_equal(s3_local_name(key, b, sizeof(b)), 0);
	assert_true(strlen(a) <= S3_LOCAL_NAME_MAX);
	assert_string_not_equal(a, b);
	assert_non_null(strchr(a, '~'));
	assert_string_equal(a + strlen(a) - 4, ".zip");
	assert_true(name_is_valid(a));
	/* A cut never splits an escape. */
	memset(key, ' ', 300);
	key[300] = '\0';
	assert_int_equal(s3_local_name(key, a, sizeof(a)), 0);
	assert_true(strlen(a) <= S3_LOCAL_NAME_MAX);
	assert_int_equal(strspn(a, "%20"), strcspn(a, "~"));
	assert_int_equal(strcspn(a, "~") % 3, 0);
	errno = 0;
	assert_int_equal(s3_local_key(a, back, sizeof(back)), -1);
	assert_int_equal(errno, EINVAL);
	/* ... nor a character: 200 bytes of 3-byte characters. */
	for (i = 0; i < 100; i++)
		memcpy(key + 3 * i, "\xE6\x97\xA5", 3);
	key[300] = '\0';
	assert_int_equal(s3_local_name(key, a, sizeof(a)), 0);
	assert_true(strlen(a) <= S3_LOCAL_NAME_MAX);
	assert_int_equal(strcspn(a, "~") % 3, 0);
	assert_int_equal(memcmp(a, key, strcspn(a, "~")), 0);
	errno = 0;
	assert_int_equal(s3_local_name("", a, sizeof(a)), -1);
	assert_int_equal(errno, EINVAL);
}

static const char page[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>uploads</Name><Prefix>video_</Prefix><KeyCount>3</KeyCount>"
    "<MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ux6tT+w/==</NextContinuationToken>"
    "<Contents><Key>video_a b.zip</Key><LastModified>2026-11-22T02:16:33.000Z</LastModified>"
    "<ETag>&quot;f03f60e3&quot;</ETag><Size>15</Size><StorageClass>STANDARD</StorageClass>"
    "</Contents>\n  <Contents>\n<Key>video_&lt;&amp;&gt;&#233;&#x1F600;.zip</Key>"
    "<Size>0</Size><Owner><ID>x</ID></Owner></Contents>"
    "<Contents><Key><![CDATA[video_cdata&.zip]]></Key><Size>18446744073709551615</Size>"
    "</Contents><!-- a comment --></ListBucketResult>\n";

static void
test_listing(void **state)
{
	struct s3_listing l;
	char err[256];

	(void)state;
	assert_int_equal(s3_parse_listing(page, strlen(page), &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	assert_true(l.truncated);
	assert_string_equal(l.next_token, "1ux6tT+w/==");
	assert_string_equal(l.v[0].key, "video_a b.zip");
	assert_string_equal(l.v[0].etag, "\"f03f60e3\"");
	assert_int_equal(l.v[0].size, 15);
	assert_string_equal(l.v[1].key, "video_<&>\xc3\xa9\xf0\x9f\x98\x80.zip");
	assert_int_equal(l.v[1].size, 0);
	assert_string_equal(l.v[2].key, "video_cdata&.zip");
	assert_true(l.v[2].size == UINT64_MAX);
	s3_listing_free(&l);
	assert_null(l.v);
}

/* The example response of AWS's ListObjectsV2 API reference (Example 1, and
 * the continuation of Example 2). */
static const char aws_page[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "    <Name>bucket</Name>\n"
    "    <Prefix/>\n"
    "    <KeyCount>205</KeyCount>\n"
    "    <MaxKeys>1000</MaxKeys>\n"
    "    <IsTruncated>false</IsTruncated>\n"
    "    <Contents>\n"
    "        <Key>my-image.jpg</Key>\n"
    "        <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
    "        <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n"
    "        <Size>434234</Size>\n"
    "        <StorageClass>STANDARD</StorageClass>\n"
    "    </Contents>\n"
    "</ListBucketResult>\n";

static const char aws_page2[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "  <Name>bucket</Name>\n"
    "  <Prefix></Prefix>\n"
    "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
    "  <KeyCount>2</KeyCount>\n"
    "  <MaxKeys>2</MaxKeys>\n"
    "  <StartAfter>ExampleGuide.pdf</StartAfter>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <Contents>\n"
    "    <Key>ExampleObject.txt</Key>\n"
    "    <LastModified>2013-09-17T18:07:53.000Z</LastModified>\n"
    "    <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>\n"
    "    <Size>857</Size>\n"
    "    <StorageClass>REDUCED_REDUNDANCY</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>photos/2006/February/sample.jpg</Key>\n"
    "    <LastModified>2013-09-17T18:07:53.000Z</LastModified>\n"
    "    <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>\n"
    "    <Size>857</Size>\n"
    "    <StorageClass>REDUCED_REDUNDANCY</StorageClass>\n"
    "  </Contents>\n"
    "</ListBucketResult>\n";

static void
test_listing_aws(void **state)
{
	struct s3_listing l;
	char err[256];

	(void)state;
	assert_int_equal(s3_parse_listing(aws_page, strlen(aws_page), &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	assert_false(l.truncated);
	assert_null(l.next_token);
	assert_string_equal(l.v[0].key, "my-image.jpg");
	assert_string_equal(l.v[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
	assert_int_equal(l.v[0].size, 434234);
	s3_listing_free(&l);
	assert_int_equal(s3_parse_listing(aws_page2, strlen(aws_page2), &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_true(l.truncated);
	assert_string_equal(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_string_equal(l.v[1].key, "photos/2006/February/sample.jpg");
	assert_string_equal(l.v[1].etag, "\"599bab3ed2c697f1d26842727561fd94\"");
	s3_listing_free(&l);
}

static void
bad_listing(const char *xml, const char *want)
{
	struct s3_listing l;
	char err[256] = "";

	if (s3_parse_listing(xml, strlen(xml), &l, err, sizeof(err)) != -1)
		fail_msg("<<%s>> should be refused", xml);
	if (strstr(err, want) == NULL)
		fail_msg("<<%s>>: got \"%s\", want \"%s\"", xml, err, want);
	assert_null(l.v);
}

static void
test_listing_refused(void **state)
{
	char *big;
	size_t i;

	(void)state;
	bad_listing("", "truncated");
	bad_listing("<ListBucketResult><Contents><Key>a</Key>", "truncated");
	bad_listing("<ListBucketResult></Contents></ListBucketResult>", "mismatched");
	bad_listing("<Error><Code>AccessDenied</Code></Error>", "not a listing");
	bad_listing("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
	    "without a Key");
	bad_listing("<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>",
	    "key is empty");
	bad_listing("<ListBucketResult><Contents><Key>a&#0;b</Key></Contents></ListBucketResult>",
	    "invalid character");
	bad_listing("<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>",
	    "undefined entity");
	bad_listing("<ListBucketResult><Contents><Key>&#xD800;</Key></Contents></ListBucketResult>",
	    "invalid character");
	bad_listing("<ListBucketResult><Contents><Key>a\xff</Key></Contents></ListBucketResult>",
	    "invalid token");
	bad_listing("<ListBucketResult>junk</ListBucketResult>x", "text after it");
	bad_listing("<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><ListBucketResult/>", "DTD");
	bad_listing("<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>", "DTD");
	bad_listing("<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents>"
	    "</ListBucketResult>", "Size");
	bad_listing("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
	    "NextContinuationToken");
	bad_listing("<ListBucketResult/><ListBucketResult/>", "more than one root");
	bad_listing("<ListBucketResult><b><c><d><e><f><g><h><i></i></h></g></f></e></d></c></b>"
	    "</ListBucketResult>", "deep");
	/* A key longer than S3 allows. */
	big = malloc(3000);
	assert_non_null(big);
	strcpy(big, "<ListBucketResult><Contents><Key>");
	for (i = strlen(big); i < 2900; i++)
		big[i] = 'k';
	strcpy(big + 2900, "</Key></Contents></ListBucketResult>");
	bad_listing(big, "longer than");
	free(big);
}

static void
test_error_body(void **state)
{
	static const char body[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch"
	    "</Code><Message>The request\nsignature</Message></Error>";
	char code[64], msg[16];

	(void)state;
	s3_parse_error(body, strlen(body), code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_string_equal(msg, "The request sig");
	s3_parse_error("junk", 4, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
}

static void
test_credentials(void **state)
{
	struct conf_source s = source("http://h", "b", NULL);
	struct s3_creds cr;
	char path[] = "/tmp/test_s3_credsXXXXXX", err[512];
	FILE *fp;
	int fd;

	(void)state;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(s3_credentials(&s, &cr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "sec/ret", 1);
	assert_int_equal(s3_credentials(&s, &cr, err, sizeof(err)), 0);
	assert_string_equal(cr.id, "AKID");
	assert_string_equal(cr.secret, "sec/ret");
	assert_string_equal(cr.token, "");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("# shared credentials\n[other]\naws_access_key_id = NOPE\n"
	    "aws_secret_access_key = nope\n\n[default]\naws_access_key_id = FILEID \n"
	    "aws_secret_access_key=filesecret\r\naws_session_token = tok\n", fp);
	fclose(fp);
	s.credentials_file = path;
	assert_int_equal(s3_credentials(&s, &cr, err, sizeof(err)), 0);
	assert_string_equal(cr.id, "FILEID");
	assert_string_equal(cr.secret, "filesecret");
	assert_string_equal(cr.token, "tok");
	fp = fopen(path, "w");
	fputs("[a]\naws_access_key_id = X\n[b]\naws_access_key_id = Y\n", fp);
	fclose(fp);
	assert_int_equal(s3_credentials(&s, &cr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[default]"));
	unlink(path);
	assert_int_equal(s3_credentials(&s, &cr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_find_source(void **state)
{
	struct conf_source v[2];
	struct conf c;
	char id0[17], id1[17];

	(void)state;
	memset(&c, 0, sizeof(c));
	v[0] = source("http://a:1", "b", "video_");
	v[1] = source("http://a:1/", "b", "audio_");
	c.sources.v = v;
	c.sources.n = 2;
	assert_ptr_equal(s3_find_source(&c, NULL, "b", "audio_x"), &v[1]);
	assert_ptr_equal(s3_find_source(&c, "http://a:1", "b", "video_x"), &v[0]);
	assert_ptr_equal(s3_find_source(&c, "http://a:1/", "b", "audio_x"), &v[1]);
	assert_null(s3_find_source(&c, "http://other", "b", "video_x"));
	assert_null(s3_find_source(&c, NULL, "b", "other_x"));
	assert_null(s3_find_source(&c, NULL, "c", "video_x"));
	s3_source_id(&v[0], id0);
	s3_source_id(&v[1], id1);
	assert_int_equal(strlen(id0), 16);
	assert_string_not_equal(id0, id1);
}

static void
test_refused_codes(void **state)
{
	(void)state;
	assert_true(s3_credentials_refused("SignatureDoesNotMatch"));
	assert_true(s3_credentials_refused("InvalidAccessKeyId"));
	assert_true(s3_credentials_refused("ExpiredToken"));
	assert_true(s3_credentials_refused("AccessDenied"));
	assert_false(s3_credentials_refused("NoSuchKey"));
	assert_false(s3_credentials_refused(""));
}

/* A "!" line keeps an object from being queued while the source runs, not after. */
static void
test_ledger_failed(void **state)
{
	char dir[] = "/tmp/test_ledger.XXXXXX", cmd[64];
	struct conf_source src = source("http://a:1", "b", "video_");
	struct spool sp;
	struct ledger lg, lg2;
	struct ledger_entry *e;
	int rfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&sp, 0, sizeof(sp));
	sp.dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(sp.dirfd >= 0);
	assert_true((rfd = remote_dir(&sp)) >= 0);
	assert_int_equal(ledger_open(&lg, rfd, &src), 0);
	assert_int_equal(ledger_add(&lg, "video_1", "\"e1\""), 0);
	assert_int_equal(ledger_add(&lg, "video_2", "\"e2\""), 0);
	assert_int_equal(ledger_fail(&sp, &src, "video_1", "\"e1\"", clock_mono_ms() + 60000), 0);
	ledger_read(&lg);
	assert_non_null(e = ledger_lookup(&lg, "video_1"));
	assert_true(e->failed);
	assert_string_equal(e->etag, "\"e1\"");
	/*
	 * An attempt begun before this source started, with what its start may
	 * have mended, failing after it: forgotten at once, as at a start.
	 */
	assert_int_equal(ledger_fail(&sp, &src, "video_2", "\"e2\"", lg.since_ms - 1), 0);
	ledger_read(&lg);
	assert_null(ledger_lookup(&lg, "video_2"));
	assert_int_equal(ledger_add(&lg, "video_2", "\"e2\""), 0);
	/* The next start (a HUP): the failed one is new again, the other is not. */
	assert_int_equal(ledger_open(&lg2, rfd, &src), 0);
	assert_null(ledger_lookup(&lg2, "video_1"));
	assert_non_null(ledger_lookup(&lg2, "video_2"));
	/* Queued again, it is an ordinary entry. */
	assert_int_equal(ledger_add(&lg, "video_1", "\"e1\""), 0);
	assert_false(ledger_lookup(&lg, "video_1")->failed);
	ledger_close(&lg);
	ledger_close(&lg2);
	close(rfd);
	close(sp.dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_local_names),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_listing_aws),
		cmocka_unit_test(test_listing_refused),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_find_source),
		cmocka_unit_test(test_refused_codes),
		cmocka_unit_test(test_ledger_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * See filters.h. Whether a filter is built in is asked of libarchive itself:
 * its support call answers ARCHIVE_WARN when it would fall back to an
 * external program, so each is tried once on a throwaway reader.
 */
#include <stdio.h>
#include <string.h>

#include <archive.h>

#include "filters.h"

static const struct {
	const char *name;
	int (*enable)(struct archive *);
	const char *magic;	/* at offset 0 */
	size_t      len;
} filters[] = {
	{ "bzip2",	archive_read_support_filter_bzip2,	"BZh",				3 },
	{ "compress",	archive_read_support_filter_compress,	"\037\235",			2 },
	{ "grzip",	archive_read_support_filter_grzip,	"GRZipII",			7 },
	{ "gzip",	archive_read_support_filter_gzip,	"\037\213",			2 },
	{ "lrzip",	archive_read_support_filter_lrzip,	"LRZI",				4 },
	{ "lz4",	archive_read_support_filter_lz4,	"\004\042\115\030",		4 },
	{ "lzip",	archive_read_support_filter_lzip,	"LZIP",				4 },
	{ "lzma",	archive_read_support_filter_lzma,	"\135\000\000",			3 },
	{ "lzop",	archive_read_support_filter_lzop,	"\211LZO\000\r\n\032\n",	9 },
	{ "rpm",	archive_read_support_filter_rpm,	"\355\253\356\333",		4 },
	{ "uu",		archive_read_support_filter_uu,		"begin ",			6 },
	{ "xz",		archive_read_support_filter_xz,		"\3757zXZ\000",			6 },
	{ "zstd",	archive_read_support_filter_zstd,	"\050\265\057\375",		4 },
};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))

/* -1 not asked yet, else 0 or 1; a fork inherits the answers. */
static signed char builtin[NFILTERS] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };

static int
index_of(const char *name)
{
	size_t i;

	for (i = 0; i < NFILTERS; i++)
		if (strcmp(filters[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
is_builtin(size_t i)
{
	struct archive *a;

	if (builtin[i] < 0) {
		if ((a = archive_read_new()) == NULL)
			return 0;	/* asked again next time */
		builtin[i] = filters[i].enable(a) == ARCHIVE_OK;
		archive_read_free(a);
	}
	return builtin[i];
}

int
filters_builtin(const char *name)
{
	int i = index_of(name);

	return i >= 0 && is_builtin((size_t)i);
}

static int
listed(const struct strv *list, const char *name)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->v[i], name) == 0)
			return 1;
	return 0;
}

int
filters_enable(struct archive *a, const struct strv *list)
{
	size_t i;
	int n = 0;

	for (i = 0; i < NFILTERS; i++)
		if (listed(list, filters[i].name) && is_builtin(i) &&
		    filters[i].enable(a) == ARCHIVE_OK)
			n++;
	return n;
}

int
filters_refused(const unsigned char *buf, size_t len, const struct strv *list, char *why,
    size_t whylen)
{
	size_t i;

	for (i = 0; i < NFILTERS; i++) {
		if (len < filters[i].len || memcmp(buf, filters[i].magic, filters[i].len) != 0)
			continue;
		if (!is_builtin(i))
			snprintf(why, whylen, "filter %s needs an external program, "
			    "which ingestd never runs", filters[i].name);
		else if (!listed(list, filters[i].name))
			snprintf(why, whylen, "filter %s is off (packet.filters)", filters[i].name);
		else
			continue;	/* on, and still not readable: the data is at fault */
		return 1;
	}
	return 0;
}

/* Signatures of formats libarchive knows, to tell "not allowed" from "not an archive". */
static const struct {
	const char *name;
	size_t      off;
	const char *magic;
	size_t      len;
} magics[] = {
	{ "zip",	0,	"PK\003\004",			4 },
	{ "zip",	0,	"PK\005\006",			4 },
	{ "zip",	0,	"PK\007\010",			4 },
	{ "tar",	257,	"ustar",			5 },
	{ "7zip",	0,	"7z\274\257\047\034",		6 },
	{ "rar5",	0,	"Rar!\032\007\001\000",		8 },
	{ "rar",	0,	"Rar!\032\007\000",		7 },
	{ "cpio",	0,	"07070",			5 },
	{ "cpio",	0,	"\307\161",			2 },
	{ "cpio",	0,	"\161\307",			2 },
	{ "ar",		0,	"!<arch>\n",			8 },
	{ "xar",	0,	"xar!",				4 },
	{ "cab",	0,	"MSCF\0\0\0\0",			8 },
	{ "lha",	2,	"-lh",				3 },
	{ "warc",	0,	"WARC/",			5 },
	{ "iso9660",	32769,	"CD001",			5 },
};
const char *
filters_format(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].off + magics[i].len &&
		    memcmp(buf + magics[i].off, magics[i].magic, magics[i].len) == 0)
			return magics[i].name;
	return NULL;
}

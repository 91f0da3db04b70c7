/*
 * Configuration: built-in defaults, then one YAML file (conf_load.c), then
 * command-line overrides (main.c, conf_set), then conf_validate(). This
 * file holds the defaults and what works on a whole struct conf: checks,
 * ingestd -t's print-out, freeing. The keys are the rows of conf_keys[]
 * (conf_keys.c); what a value of each type accepts is conf_value.c; the
 * sources: list is conf_sources.c; libyaml's events are read through
 * conf_yaml.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_keys.h"
#include "conf_sources.h"
#include "conf_value.h"
#include "strv.h"
#include "units.h"

int
conf_defaults(struct conf *c)
{
	static const char *const ignore[] = { "*-downloading", "*.part", ".*" };
	/* Every filter libarchive may run without an external program (filters.h). */
	static const char *const filter_defaults[] = {
		"bzip2", "compress", "gzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz",
		"zstd", NULL
	};
	size_t i;

	memset(c, 0, sizeof(*c));
	c->workers = (unsigned)conf_online_cpus();
	c->settle_ms = 2 * SEC;
	c->shutdown_grace_ms = 5 * SEC;
	c->fsync = 1;
	c->metrics_interval_ms = 5 * SEC;
	c->journal_max = 64 * MiB;
	c->journal_keep = 10;
	c->handler.timeout_ms = HOUR;
	c->handler.retries = 3;
	c->handler.backoff_ms = 10 * SEC;
	c->handler.backoff_max_ms = 10 * MIN;
	c->handler.log_max = MiB;
	c->packet.plain = PLAIN_FAIL;
	c->packet.links = LINKS_REFUSE;
	c->packet.on_success = ON_SUCCESS_ARCHIVE;
	c->packet.max_bytes = TiB;
	c->packet.max_entries = 100000;
	c->packet.max_file_bytes = TiB;
	c->packet.max_ratio = 1000;
	c->packet.max_depth = 32;
	c->packet.max_time_ms = 5 * MIN;
	c->packet.max_memory = GiB;
	c->packet.manifest_required = 1;
	c->packet.manifest_max_bytes = MiB;
	c->packet.manifest_max_depth = 64;
	c->packet.manifest_max_nodes = 100000;
	c->fetch.segments = 4;
	c->fetch.segment_min = 16 * MiB;
	c->fetch.connect_timeout_ms = 10 * SEC;
	c->fetch.low_speed_limit = KiB;
	c->fetch.low_speed_time_ms = 30 * SEC;
	c->fetch.retries = 5;
	c->fetch.backoff_ms = SEC;
	c->fetch.max_bytes = TiB;
	c->fetch.max_time_ms = 0;
	c->fetch.request_timeout_ms = MIN;
	c->fetch.tls_verify = 1;
	c->notify.timeout_ms = 10 * SEC;
	c->notify.retries = 5;
	c->notify.backoff_ms = SEC;
	c->cluster.lease_ms = MIN;
	c->cluster.replicas = 1;
	c->cluster.max_deliver = 10;
	if ((c->cluster.name = strdup("ingestd")) == NULL ||
	    (c->spool = strdup("/var/spool/ingestd")) == NULL ||
	    (c->packet.manifest = strdup("data_info.yml")) == NULL ||
	    (c->metrics_mode = strdup("0640")) == NULL)
		goto fail;
	for (i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
		if (strv_push(&c->ignore, ignore[i]) == -1)
			goto fail;
	for (i = 0; filter_defaults[i]; i++)
		if (strv_push(&c->packet.filters, filter_defaults[i]) == -1)
			goto fail;
	if (strv_push(&c->packet.formats, "zip") == -1 ||
	    strv_push(&c->packet.formats, "tar") == -1 ||
	    strv_push(&c->fetch.protocols, "http") == -1 ||
	    strv_push(&c->fetch.protocols, "https") == -1)
		goto fail;
	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].type == K_LIST && strv_ready(field(c, &conf_keys[i])) == -1)
			goto fail;
	return 0;
fail:
	conf_free(c);
	errno = ENOMEM;
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].type == K_STR) {
			free(*(char **)field(c, &conf_keys[i]));
			*(char **)field(c, &conf_keys[i]) = NULL;
		} else if (conf_keys[i].type == K_LIST)
			strv_free(field(c, &conf_keys[i]));
		else if (conf_keys[i].type == K_SOURCES)
			sources_free(field(c, &conf_keys[i]));
	free(c->file);
	c->file = NULL;
}

/* "FILE:LINE: " when key idx came from the file, else nothing. */
static void
where(const struct conf *c, size_t idx, char *buf, size_t len)
{
	if (c->file != NULL && c->key_line[idx] != 0)
		snprintf(buf, len, "%s:%u: ", c->file, c->key_line[idx]);
	else
		buf[0] = '\0';
}

/*
 * The value held now for key k, checked as if it had just been read. For a
 * list, *item is the index of the bad item (SIZE_MAX: not an item).
 */
static int
check_current(const struct conf *c, const struct key *k, size_t *item, char *why,
    size_t len)
{
	const struct strv *sv;
	struct strv seen = { NULL, 0 };
	const char *s;
	size_t i;
	int rc = 0;

	*item = SIZE_MAX;
	switch (k->type) {
	case K_STR:
		s = *(char *const *)cfield(c, k);
		if (s == NULL && !(k->flags & KF_NULL)) {
			snprintf(why, len, "not set");
			return -1;
		}
		return s != NULL && k->check != NULL ? k->check(s, 0, why, len) : 0;
	case K_UINT:
	case K_DUR:
	case K_SIZE:
		return value_check_range(k, load_uint(c, k), why, len);
	case K_ENUM:
		if ((unsigned)load_int(c, k) < value_count_names(k->names))
			return 0;
		snprintf(why, len, "invalid value %d", load_int(c, k));
		return -1;
	case K_LIST:
		/* check_item wants the items before this one: show it a prefix. */
		sv = cfield(c, k);
		for (i = 0; i < sv->n && rc == 0; i++) {
			seen.v = sv->v;
			seen.n = i;
			if ((rc = value_check_item(k, &seen, sv->v[i], why, len)) == -1)
				*item = i;
		}
		return rc;
	case K_BOOL:
	case K_SECTION:
	case K_SOURCES:         /* sources_validate(): each entry has its own line */
		break;
	}
	return 0;
}

int
conf_validate(const struct conf *c, char *err, size_t errlen)
{
	char at[64 + PATH_MAX], why[512], a[32], b[32], idx[24];
	size_t n, item;
	int i, j;

	for (n = 0; n < conf_nkeys; n++)
		if (check_current(c, &conf_keys[n], &item, why, sizeof(why)) == -1) {
			where(c, n, at, sizeof(at));
			idx[0] = '\0';
			if (item != SIZE_MAX)
				snprintf(idx, sizeof(idx), "[%zu]", item);
			snprintf(err, errlen, "%s%s%s: %s", at, conf_keys[n].path, idx, why);
			errno = EINVAL;
			return -1;
		}
	if (c->handler.backoff_max_ms < c->handler.backoff_ms) {
		/* Point at whichever of the two the file set last. */
		i = conf_key_index("handler.backoff_max");
		j = conf_key_index("handler.backoff");
		where(c, (size_t)(c->key_line[j] > c->key_line[i] ? j : i), at, sizeof(at));
		snprintf(err, errlen, "%shandler.backoff_max: %s is less than handler.backoff (%s)",
		    at, units_fmt_duration(a, sizeof(a), c->handler.backoff_max_ms),
		    units_fmt_duration(b, sizeof(b), c->handler.backoff_ms));
		errno = EINVAL;
		return -1;
	}
	if (c->journal_max != 0 && c->journal_max < JOURNAL_MAX_MIN) {
		where(c, (size_t)conf_key_index("journal_max"), at, sizeof(at));
		snprintf(err, errlen, "%sjournal_max: %s is below %s (0 turns rotation off)", at,
		    units_fmt_size(a, sizeof(a), c->journal_max),
		    units_fmt_size(b, sizeof(b), JOURNAL_MAX_MIN));
		errno = EINVAL;
		return -1;
	}
	if (c->notify.url != NULL && !conf_scheme_allowed(c, c->notify.url, why, sizeof(why))) {
		where(c, (size_t)conf_key_index("notify.url"), at, sizeof(at));
		snprintf(err, errlen, "%snotify.url: %s", at, why);
		errno = EINVAL;
		return -1;
	}
	if (c->cluster.nats.n > 0 && c->sources.n == 0) {
		where(c, (size_t)conf_key_index("cluster.nats"), at, sizeof(at));
		snprintf(err, errlen, "%scluster.nats: is set, but no S3 source is: there is "
		    "nothing to share (add a sources: entry, or remove cluster:)", at);
		errno = EINVAL;
		return -1;
	}
	return sources_validate(c, err, errlen);
}

int
conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
	char why[512];
	int idx = conf_key_index(key);

	if (idx == -1 || conf_keys[idx].type == K_SECTION || conf_keys[idx].type == K_LIST ||
	    conf_keys[idx].type == K_SOURCES) {
		snprintf(err, errlen, "%s: %s", key, idx == -1 ? "unknown key" :
		    "cannot be set from the command line");
		errno = EINVAL;
		return -1;
	}
	if (value_set(c, &conf_keys[idx], value, strlen(value), 0, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", key, why);
		return -1;
	}
	c->key_line[idx] = 0;
	return 0;
}

/* The sources: list is not one value: its entries are printed by its own code. */
static void
print_key(const struct conf *c, const struct key *k, FILE *fp)
{
	if (k->type == K_SOURCES)
		sources_print(cfield(c, k), fp);
	else
		value_print(c, k, fp);
}

void
conf_print(const struct conf *c, FILE *fp)
{
	size_t i, j, plen;

	fputs("# ingestd effective settings: built-in defaults", fp);
	if (c->file != NULL) {
		fputs(", then ", fp);
		units_put_quoted(fp, c->file);
	}
	fputc('\n', fp);
	for (i = 0; i < conf_nkeys; i++) {
		if (strchr(conf_keys[i].path, '.') != NULL)
			continue;
		fprintf(fp, "%s:", conf_keys[i].path);
		if (conf_keys[i].type != K_SECTION) {
			fputc(' ', fp);
			print_key(c, &conf_keys[i], fp);
			fputc('\n', fp);
			continue;
		}
		fputc('\n', fp);
		plen = strlen(conf_keys[i].path);
		for (j = 0; j < conf_nkeys; j++)
			if (strncmp(conf_keys[j].path, conf_keys[i].path, plen) == 0 &&
			    conf_keys[j].path[plen] == '.') {
				fprintf(fp, "  %s: ", conf_keys[j].path + plen + 1);
				print_key(c, &conf_keys[j], fp);
				fputc('\n', fp);
			}
	}
}

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_state.h"
#include "ledger.h"
#include "log.h"
#include "request.h"
#include "source_cluster.h"

#define STATE_EVERY_MS 1000

struct miss {			/* a claim whose request was not seen */
	char     *name;
	unsigned  n;
};

struct scl {
	const struct conf        *c;
	const struct spool       *s;
	const struct conf_source *src;
	size_t                    idx;
	struct cluster           *cl;
	int                       cfd;		/* SPOOL/remote/claims */
	int                       rfd;		/* SPOOL/remote */
	int                       state;	/* -1 not known yet, 0 away, 1 connected */
	int                       setup;	/* the stream and consumer are bound */
	char                      server[256];
	char                      lasterr[512];
	uint64_t                  next_renew, next_state;
	struct miss              *miss;
	size_t                    nmiss;
	int                     (*held)(void *, const char *);	/* during scl_claim */
	void                     *held_arg;
};

struct scl *
scl_open(const struct conf *c, const struct spool *s, size_t idx, char *err, size_t errlen)
{
	struct scl *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sc->c = c;
	sc->s = s;
	sc->src = &c->sources.v[idx];
	sc->idx = idx;
	sc->state = -1;
	sc->cfd = sc->rfd = -1;
	if ((sc->rfd = remote_dir(s)) == -1 || (sc->cfd = claims_open(s)) == -1) {
		snprintf(err, errlen, "%s/%s/%s: %s", s->path, REMOTE_DIR, CLAIMS_DIR,
		    strerror(errno));
		goto fail;
	}
	if ((sc->cl = cluster_open(c, "source", err, errlen)) == NULL)
		goto fail;
	return sc;
fail:
	if (sc->cfd >= 0)
		close(sc->cfd);
	if (sc->rfd >= 0)
		close(sc->rfd);
	free(sc);
	return NULL;
}

/* Log err once until it changes (or the state does). */
static void
complain(struct scl *sc, const char *what, const char *err)
{
	char line[sizeof(sc->lasterr)];

	snprintf(line, sizeof(line), "%s: %s", what, err);
	if (strcmp(line, sc->lasterr) == 0)
		return;
	snprintf(sc->lasterr, sizeof(sc->lasterr), "%s", line);
	log_warnx("event=cluster source=%zu error=%s", sc->idx, LQ(line));
}

int
scl_ready(struct scl *sc)
{
	char url[256] = "", err[512];
	int now = cluster_connected(sc->cl, url, sizeof(url));

	if (now != sc->state) {
		/* Once per change: the local inbox goes on either way. */
		if (now)
			log_info("event=cluster state=connected source=%zu server=%s node=%s",
			    sc->idx, LQ(url), LQ(cluster_node(sc->cl)));
		else
			log_warnx("event=cluster state=disconnected source=%zu node=%s "
			    "note=\"S3 source paused; the inbox goes on\"", sc->idx,
			    LQ(cluster_node(sc->cl)));
		sc->state = now;
		sc->lasterr[0] = '\0';
	}
	snprintf(sc->server, sizeof(sc->server), "%s", now ? url : "");
	if (!now)
		return 0;
	if (!sc->setup) {
		if (cluster_setup_source(sc->cl, sc->src, err, sizeof(err)) == -1) {
			complain(sc, "setup", err);
			return 0;
		}
		sc->setup = 1;
		if (err[0] != '\0')
			log_warnx("event=cluster source=%zu warning=%s", sc->idx, LQ(err));
		log_info("event=cluster_ready source=%zu stream=%s lease_ms=%llu replicas=%u",
		    sc->idx, LQ(sc->c->cluster.name), (unsigned long long)sc->c->cluster.lease_ms,
		    sc->c->cluster.replicas);
	}
	return 1;
}

int
scl_offer(struct scl *sc, const struct s3_object *obj)
{
	char id[CLUSTER_ID_MAX], err[512];
	enum cluster_pub r;

	if (cluster_id(sc->src->bucket, obj->key, obj->etag, id, sizeof(id)) == -1) {
		log_warnx("event=publish source=%zu key=%s error=\"key too long\"", sc->idx,
		    LQ(obj->key));
		return -1;
	}
	r = cluster_publish(sc->cl, id, obj->key, obj->etag, obj->size, err, sizeof(err));
	if (r == CLUSTER_PUB_ERROR) {
		complain(sc, "publish", err);
		return -1;
	}
	log_info("event=published source=%zu key=%s size=%llu duplicate=%s", sc->idx,
	    LQ(obj->key), (unsigned long long)obj->size, r == CLUSTER_DUPLICATE ? "yes" : "no");
	return 0;
}

/* One delivery: check the marker, write the claim, then the request. */
static void
on_claim(void *arg, const struct cluster_claim *m)
{
	struct scl *sc = arg;
	char name[S3_LOCAL_NAME_MAX + 1], req[NAME_MAX + 1], owner[400];

	if (s3_local_name(m->key, name, sizeof(name)) == -1) {
		log_warnx("event=claim source=%zu key=%s error=\"no local name\"", sc->idx,
		    LQ(m->key));
		(void)cluster_reply(sc->cl, m->reply, "+TERM");
		return;
	}
	snprintf(req, sizeof(req), "%s.url", name);
	switch (cluster_marker_get(sc->cl, m->id, name, owner, sizeof(owner))) {
	case MARKER_OURS:
	case MARKER_THEIRS:
		/* Filed already (a redelivery, or a publish after the window). */
		log_info("event=duplicate source=%zu key=%s name=%s marker=%s delivered=%llu",
		    sc->idx, LQ(m->key), LQ(name), LQ(owner), (unsigned long long)m->delivered);
		(void)cluster_reply(sc->cl, m->reply, "+ACK");
		return;
	case MARKER_ERROR:
		(void)cluster_reply(sc->cl, m->reply, "+NAK");
		return;
	case MARKER_ABSENT:
		break;
	}
	/* Before the request: a worker that takes it must find the ack subject. */
	if (claim_write(sc->cfd, req, m->reply, m->id) == -1) {
		log_warn("event=claim source=%zu name=%s", sc->idx, LQ(req));
		(void)cluster_reply(sc->cl, m->reply, "+NAK");
		return;
	}
	if (sc->held != NULL && sc->held(sc->held_arg, name)) {
		/* Ours already, in a job: the claim now answers this delivery. */
		log_info("event=reclaimed source=%zu key=%s name=%s delivered=%llu", sc->idx,
		    LQ(m->key), LQ(req), (unsigned long long)m->delivered);
		return;
	}
	switch (request_write(sc->s->inboxfd, name, sc->src, m->key, m->etag, m->size)) {
	case REQUEST_WRITTEN:
		log_info("event=claimed source=%zu key=%s name=%s size=%llu delivered=%llu",
		    sc->idx, LQ(m->key), LQ(req), (unsigned long long)m->size,
		    (unsigned long long)m->delivered);
		break;
	case REQUEST_TAKEN:
		/* Ours already (a redelivery while we work on it): the claim now answers this delivery. */
		log_info("event=reclaimed source=%zu key=%s name=%s delivered=%llu", sc->idx,
		    LQ(m->key), LQ(req), (unsigned long long)m->delivered);
		break;
	case REQUEST_WRITE_ERROR:
		log_warn("event=claim source=%zu name=%s", sc->idx, LQ(req));
		(void)claim_drop(sc->cfd, req);
		(void)cluster_reply(sc->cl, m->reply, "+NAK");
		break;
	}
}

void
scl_claim(struct scl *sc, int64_t wait_ms, int (*is_held)(void *arg, const char *stem),
    void *arg)
{
	char err[512];
	int held = claims_list(sc->cfd, NULL), room;
	struct timespec ts;

	/* No more than the workers can start: the rest is other hosts' to take. */
	room = held < 0 ? 0 : (int)sc->c->workers - held;
	if (room <= 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 50 * 1000000L;	/* a slot frees when a download is filed */
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		return;
	}
	sc->held = is_held;
	sc->held_arg = arg;
	if (cluster_claim(sc->cl, room, wait_ms, on_claim, sc, err, sizeof(err)) == -1)
		complain(sc, "claim", err);
	sc->held = NULL;
	sc->held_arg = NULL;
}

static struct miss *
miss_find(struct scl *sc, const char *name)
{
	size_t i;

	for (i = 0; i < sc->nmiss; i++)
		if (strcmp(sc->miss[i].name, name) == 0)
			return &sc->miss[i];
	return NULL;
}

static void
miss_clear(struct scl *sc, const char *name)
{
	struct miss *m = miss_find(sc, name);

	if (m == NULL)
		return;
	free(m->name);
	*m = sc->miss[--sc->nmiss];
}

void
scl_renew(struct scl *sc, int (*pending)(void *arg, const char *stem), void *arg)
{
	char reply[CLUSTER_REPLY_MAX], id[CLUSTER_ID_MAX], stem[NAME_MAX + 1];
	char **names = NULL;
	uint64_t now = clock_mono_ms();
	struct miss *m, *nm;
	int i, n;

	if (now < sc->next_renew)
		return;
	sc->next_renew = now + sc->c->cluster.lease_ms / 3;
	if ((n = claims_list(sc->cfd, &names)) <= 0)
		return;
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len <= 4 || claim_read(sc->cfd, names[i], reply, id) == -1) {
			(void)claim_drop(sc->cfd, names[i]);
			continue;
		}
		snprintf(stem, sizeof(stem), "%.*s", (int)(len - 4), names[i]);
		if (pending(arg, stem)) {
			miss_clear(sc, names[i]);
			(void)cluster_reply(sc->cl, reply, "+WPI");
			continue;
		}
		/*
		 * Its request is gone and the worker did not drop the claim (it died
		 * between its ack and the unlink), or a worker is moving it right now:
		 * only twice unseen, a lease/3 apart, is it stale.
		 */
		if ((m = miss_find(sc, names[i])) == NULL) {
			nm = realloc(sc->miss, (sc->nmiss + 1) * sizeof(*sc->miss));
			if (nm == NULL)
				continue;
			sc->miss = nm;
			if ((sc->miss[sc->nmiss].name = strdup(names[i])) == NULL)
				continue;
			sc->miss[sc->nmiss++].n = 1;
		} else if (++m->n >= 2) {
			log_info("event=claim_stale source=%zu name=%s", sc->idx, LQ(names[i]));
			(void)claim_drop(sc->cfd, names[i]);
			miss_clear(sc, names[i]);
		}
	}
	claims_free(names, n);
}

uint64_t
scl_backlog(struct scl *sc)
{
	uint64_t pending = 0, unacked = 0;

	if (sc->state != 1 || !sc->setup || cluster_pending(sc->cl, &pending, &unacked) == -1)
		return 0;
	return pending;
}

void
scl_state(struct scl *sc)
{
	struct cluster_state st;
	uint64_t now = clock_mono_ms();
	int held;

	if (now < sc->next_state)
		return;
	sc->next_state = now + STATE_EVERY_MS;
	memset(&st, 0, sizeof(st));
	st.connected = sc->state == 1;
	snprintf(st.server, sizeof(st.server), "%s", sc->server);
	snprintf(st.node, sizeof(st.node), "%s", cluster_node(sc->cl));
	snprintf(st.stream, sizeof(st.stream), "%s", sc->c->cluster.name);
	if (st.connected && sc->setup)
		(void)cluster_pending(sc->cl, &st.pending, &st.unacked);
	held = claims_list(sc->cfd, NULL);
	st.leases = held > 0 ? (uint64_t)held : 0;
	st.time_ms = clock_real_ms();
	if (cluster_state_write(sc->rfd, &st) == -1)
		log_warn("event=cluster_state source=%zu", sc->idx);
}

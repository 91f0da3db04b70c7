#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "fetch_cluster.h"
#include "log.h"

void
fetch_cluster_begin(struct fetch *f)
{
	f->clustered = 0;
	f->cid[0] = f->owner[0] = '\0';
	if (f->c->cluster.nats.n == 0 || f->rq.src == NULL)
		return;
	if (cluster_id(f->rq.src->bucket, f->rq.key, f->rq.etag, f->cid, sizeof(f->cid)) == -1)
		return;
	f->clustered = 1;
}

enum fetch_result
fetch_cluster_mark(struct fetch *f)
{
	if (!f->clustered)
		return FETCH_OK;
	if (f->ctl == NULL || f->ctl->cl == NULL)
		return set_reason(f, FETCH_PAUSED, "fetch cluster error=\"no connection\"");
	switch (cluster_mark(f->ctl->cl, f->cid, f->stem, f->owner, sizeof(f->owner))) {
	case MARKER_OURS:
		return FETCH_OK;
	case MARKER_THEIRS:
		return set_reason(f, FETCH_DUPLICATE, "fetch duplicate marker=%s", LQ(f->owner));
	case MARKER_ABSENT:
	case MARKER_ERROR:
		break;
	}
	return set_reason(f, FETCH_PAUSED, "fetch cluster error=\"marker: NATS did not answer\"");
}

enum fetch_result
fetch_cluster_failed(struct fetch *f, enum fetch_result rc)
{
	char why[512];

	if (!f->clustered || f->ctl == NULL || f->ctl->cl == NULL)
		return rc;
	snprintf(why, sizeof(why), "%s", f->reason);
	switch (cluster_marker_get(f->ctl->cl, f->cid, f->stem, f->owner, sizeof(f->owner))) {
	case MARKER_THEIRS:
		break;
	case MARKER_ERROR:
		/* Another host may have filed and deleted it: only NATS can say. */
		return set_reason(f, FETCH_PAUSED, "fetch cluster error=\"marker: NATS did not "
		    "answer\" after=%s", LQ(why));
	case MARKER_ABSENT:
		/*
		 * Gone, and no host's marker: yet. Right after a failover the
		 * stream's new leader can answer before it has applied the
		 * winner's marker, so "gone" is only believed on the last attempt.
		 */
		if (rc == FETCH_BAD && f->gone && !f->ctl->last)
			return set_reason(f, FETCH_TEMP, "fetch gone marker=none after=%s", LQ(why));
		return rc;
	case MARKER_OURS:
		/*
		 * Gone, and ours: another job of this host won (a redelivery taken
		 * while the first was under way) and filed it; the object is deleted
		 * only once the packet is. Nothing was lost.
		 */
		if (f->gone)
			break;
		return rc;
	}
	return set_reason(f, FETCH_DUPLICATE, "fetch duplicate marker=%s after=%s",
	    LQ(f->owner), LQ(why));
}

void
fetch_cluster_end(struct fetch *f, enum fetch_result rc)
{
	char reply[CLUSTER_REPLY_MAX], id[CLUSTER_ID_MAX], req[NAME_MAX + 8];
	const char *what;
	int cfd;

	if (!f->clustered || rc == FETCH_INTERRUPTED || rc == FETCH_PAUSED ||
	    (rc == FETCH_TEMP && !(f->ctl != NULL && f->ctl->last)))
		return;		/* not over: the claim stays, and the source renews it */
	snprintf(req, sizeof(req), "%s.url", f->stem);
	if ((cfd = claims_open(f->s)) == -1)
		return;
	if (claim_read(cfd, req, reply, id) == 0 && strcmp(id, f->cid) == 0 &&
	    f->ctl != NULL && f->ctl->cl != NULL) {
		/* Filed (by us or another host): done. Failed here for good: no host should retry. */
		what = rc == FETCH_OK || rc == FETCH_DUPLICATE ? "+ACK" : "+TERM";
		if (cluster_reply(f->ctl->cl, reply, what) == -1)
			log_warnx("event=cluster_ack name=%s error=\"not sent\"", LQ(f->stem));
	}
	(void)claim_drop(cfd, req);
	close(cfd);
}

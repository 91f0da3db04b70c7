/*
 * The NATS side of cluster mode (cluster.h): options, the JetStream objects,
 * publishes, pulls, replies and markers. Nothing here touches the spool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "cluster.h"
#include "cluster_msg.h"
#include "digest.h"

#define API_WAIT_MS   5000	/* one JetStream API request */
#define NS_PER_MS     1000000LL

struct cluster {
	const struct conf  *c;
	natsOptions        *opts;
	natsConnection     *nc;
	jsCtx              *js;
	natsSubscription   *sub;	/* the source's pull subscription */
	kvStore            *kv;
	char                node[CLUSTER_NODE_MAX];
	char                stream[40];
	char                subject[64];
	char                durable[64];
	char                bucket[256];	/* of the source set up */
};

uint64_t
cluster_window_ms(const struct conf *c)
{
	uint64_t w = 2 * 60 * 1000;
	size_t i;

	for (i = 0; i < c->sources.n; i++)
		if (2 * c->sources.v[i].poll_ms > w)
			w = 2 * c->sources.v[i].poll_ms;
	return w;
}

int
cluster_keeps_objects(const struct conf *c)
{
	size_t i;

	for (i = 0; i < c->sources.n; i++)
		if (c->sources.v[i].del == SOURCE_DELETE_NEVER)
			return 1;
	return 0;
}

static void
nats_err(char *err, size_t len, const char *what, natsStatus s, jsErrCode jerr)
{
	const char *last = nats_GetLastError(NULL);

	if (jerr != 0)
		snprintf(err, len, "%s: %s (JetStream error %d)", what,
		    last != NULL && *last ? last : natsStatus_GetText(s), (int)jerr);
	else
		snprintf(err, len, "%s: %s", what, last != NULL && *last ? last :
		    natsStatus_GetText(s));
}

struct cluster *
cluster_open(const struct conf *c, const char *role, char *err, size_t errlen)
{
	struct cluster *cl;
	jsOptions jo;
	natsStatus s;
	char name[160];

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->c = c;
	if (c->cluster.node != NULL)
		snprintf(cl->node, sizeof(cl->node), "%s", c->cluster.node);
	else if (gethostname(cl->node, sizeof(cl->node) - 1) == -1 || cl->node[0] == '\0')
		snprintf(cl->node, sizeof(cl->node), "localhost");
	snprintf(cl->stream, sizeof(cl->stream), "%s", c->cluster.name);
	snprintf(name, sizeof(name), "ingestd %s %s", cl->node, role);
	if ((s = natsOptions_Create(&cl->opts)) != NATS_OK ||
	    (s = natsOptions_SetServers(cl->opts, (const char **)c->cluster.nats.v,
	    (int)c->cluster.nats.n)) != NATS_OK ||
	    (s = natsOptions_SetName(cl->opts, name)) != NATS_OK ||
	    (s = natsOptions_SetMaxReconnect(cl->opts, -1)) != NATS_OK ||
	    (s = natsOptions_SetReconnectWait(cl->opts, 500)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(cl->opts, 2000)) != NATS_OK ||
	    (s = natsOptions_SetRetryOnFailedConnect(cl->opts, true, NULL, NULL)) != NATS_OK)
		goto fail;
	if (c->cluster.credentials_file != NULL &&
	    (s = natsOptions_SetUserCredentialsFromFiles(cl->opts, c->cluster.credentials_file,
	    NULL)) != NATS_OK)
		goto fail;
	s = natsConnection_Connect(&cl->nc, cl->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
		goto fail;
	jsOptions_Init(&jo);
	jo.Wait = API_WAIT_MS;
	if ((s = natsConnection_JetStream(&cl->js, cl->nc, &jo)) != NATS_OK)
		goto fail;
	return cl;
fail:
	nats_err(err, errlen, "nats", s, 0);
	cluster_close(cl);
	errno = EINVAL;
	return NULL;
}

void
cluster_close(struct cluster *cl)
{
	if (cl == NULL)
		return;
	if (cl->sub != NULL)
		natsSubscription_Destroy(cl->sub);
	if (cl->kv != NULL)
		kvStore_Destroy(cl->kv);
	if (cl->js != NULL)
		jsCtx_Destroy(cl->js);
	if (cl->nc != NULL) {
		(void)natsConnection_FlushTimeout(cl->nc, 1000);
		natsConnection_Destroy(cl->nc);
	}
	if (cl->opts != NULL)
		natsOptions_Destroy(cl->opts);
	free(cl);
}

int
cluster_connected(struct cluster *cl, char *url, size_t len)
{
	if (natsConnection_Status(cl->nc) != NATS_CONN_STATUS_CONNECTED)
		return 0;
	if (url != NULL && natsConnection_GetConnectedUrl(cl->nc, url, len) != NATS_OK)
		snprintf(url, len, "-");
	return 1;
}

const char *
cluster_node(const struct cluster *cl)
{
	return cl->node;
}

int
cluster_id(const char *bucket, const char *key, const char *etag, char *out, size_t len)
{
	size_t el = strlen(etag);
	int n;

	if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"') {
		etag++;
		el -= 2;
	}
	n = snprintf(out, len, "%s/%s@%.*s", bucket, key, (int)el, etag);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The source's id: the same on every host that lists this bucket and prefix. */
static void
source_id(const struct conf_source *src, char out[17])
{
	char buf[1024], hex[DIGEST_SHA256_HEX];

	snprintf(buf, sizeof(buf), "%s\n%s", src->bucket, src->prefix ? src->prefix : "");
	if (digest_sha256_hex(buf, strlen(buf), hex) == NULL)
		snprintf(hex, sizeof(hex), "%s", "0000000000000000");
	snprintf(out, 17, "%.16s", hex);
}

int
cluster_setup_markers(struct cluster *cl, char *err, size_t errlen)
{
	const struct conf_cluster *cc = &cl->c->cluster;
	char bucket[64];
	kvConfig kc;
	natsStatus s;

	if (cl->kv != NULL)
		return 0;
	snprintf(bucket, sizeof(bucket), "%s-filed", cl->stream);
	s = js_KeyValue(&cl->kv, cl->js, bucket);
	if (s == NATS_OK)
		return 0;
	if (s != NATS_NOT_FOUND) {
		nats_err(err, errlen, "markers bucket", s, 0);
		return -1;
	}
	kvConfig_Init(&kc);
	kc.Bucket = bucket;
	kc.History = 1;
	kc.Replicas = (int)cc->replicas;
	kc.StorageType = js_FileStorage;
	/*
	 * A marker outlives every redelivery of its message and every publish the
	 * duplicates window would let through again, and a week besides: an
	 * object whose delete failed is still listed, and published again after
	 * an hour (source.c). With delete: never the objects stay listed for
	 * good, and so must the markers.
	 */
	kc.TTL = 0;
	if (!cluster_keeps_objects(cl->c))
		kc.TTL = (int64_t)(cluster_window_ms(cl->c) + cc->max_deliver * cc->lease_ms +
		    7ULL * 24 * 3600 * 1000) * NS_PER_MS;	/* nanoseconds, as MaxAge */
	if ((s = js_CreateKeyValue(&cl->kv, cl->js, &kc)) != NATS_OK) {
		nats_err(err, errlen, "markers bucket", s, 0);
		return -1;
	}
	return 0;
}

int
cluster_setup_source(struct cluster *cl, const struct conf_source *src, char *err,
    size_t errlen)
{
	const struct conf_cluster *cc = &cl->c->cluster;
	char sid[17], subjects[64];
	const char *subj[1] = { subjects };
	jsStreamConfig sc;
	jsConsumerConfig ccf;
	jsSubOptions so;
	jsStreamInfo *si = NULL;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	err[0] = '\0';
	if (cl->sub != NULL)
		return cluster_setup_markers(cl, err, errlen);
	source_id(src, sid);
	snprintf(cl->bucket, sizeof(cl->bucket), "%s", src->bucket);
	snprintf(subjects, sizeof(subjects), "%s.work.*", cl->stream);
	snprintf(cl->subject, sizeof(cl->subject), "%s.work.%s", cl->stream, sid);
	snprintf(cl->durable, sizeof(cl->durable), "%s-%s", cl->stream, sid);
	jsStreamConfig_Init(&sc);
	sc.Name = cl->stream;
	sc.Subjects = subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = (int64_t)cc->replicas;
	sc.Duplicates = (int64_t)cluster_window_ms(cl->c) * NS_PER_MS;
	s = js_AddStream(&si, cl->js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr == JSStreamNameExistErr) {
		/* Made by another host or an older config: take this config's settings. */
		jerr = 0;
		if ((s = js_UpdateStream(&si, cl->js, &sc, NULL, &jerr)) != NATS_OK) {
			/* It works as it is: say so, and go on with its settings. */
			nats_err(err, errlen, "stream kept as it is", s, jerr);
			s = NATS_OK;
		}
	}
	if (s != NATS_OK) {
		nats_err(err, errlen, "stream", s, jerr);
		return -1;
	}
	jsStreamInfo_Destroy(si);
	jsConsumerConfig_Init(&ccf);
	ccf.Durable = cl->durable;
	ccf.FilterSubject = cl->subject;
	ccf.AckPolicy = js_AckExplicit;
	ccf.AckWait = (int64_t)cc->lease_ms * NS_PER_MS;
	ccf.MaxDeliver = (int64_t)cc->max_deliver;
	ccf.DeliverPolicy = js_DeliverAll;
	jerr = 0;
	s = js_AddConsumer(&ci, cl->js, cl->stream, &ccf, NULL, &jerr);
	if (s != NATS_OK && jerr == JSConsumerNameExistErr) {
		jerr = 0;
		if ((s = js_UpdateConsumer(&ci, cl->js, cl->stream, &ccf, NULL, &jerr)) != NATS_OK) {
			nats_err(err, errlen, "consumer kept as it is", s, jerr);
			s = NATS_OK;
		}
	}
	if (s != NATS_OK) {
		nats_err(err, errlen, "consumer", s, jerr);
		return -1;
	}
	jsConsumerInfo_Destroy(ci);
	jsSubOptions_Init(&so);
	so.Stream = cl->stream;
	so.Consumer = cl->durable;
	jerr = 0;
	if ((s = js_PullSubscribe(&cl->sub, cl->js, cl->subject, cl->durable, NULL, &so,
	    &jerr)) != NATS_OK) {
		nats_err(err, errlen, "pull subscription", s, jerr);
		cl->sub = NULL;
		return -1;
	}
	return cluster_setup_markers(cl, err, errlen);
}

enum cluster_pub
cluster_publish(struct cluster *cl, const char *id, const char *key, const char *etag,
    uint64_t size, char *err, size_t errlen)
{
	char body[3 * 1024 + 512];
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int n, dup;

	if ((n = cluster_msg_format(body, sizeof(body), cl->bucket, key, etag, size)) < 0) {
		snprintf(err, errlen, "key too long");
		return CLUSTER_PUB_ERROR;
	}
	jsPubOptions_Init(&po);
	po.MsgId = id;
	s = js_Publish(&pa, cl->js, cl->subject, body, n, &po, &jerr);
	if (s != NATS_OK) {
		nats_err(err, errlen, "publish", s, jerr);
		return CLUSTER_PUB_ERROR;
	}
	dup = pa->Duplicate;
	jsPubAck_Destroy(pa);
	return dup ? CLUSTER_DUPLICATE : CLUSTER_PUBLISHED;
}

int
cluster_claim(struct cluster *cl, int max, int64_t wait_ms,
    void (*cb)(void *arg, const struct cluster_claim *m), void *arg, char *err, size_t errlen)
{
	natsMsgList list = { NULL, 0 };
	struct cluster_claim m;
	struct cluster_msg b;
	jsMsgMetaData *meta;
	jsErrCode jerr = 0;
	natsStatus s;
	int i, handed = 0;

	if (cl->sub == NULL || max <= 0)
		return 0;
	s = natsSubscription_Fetch(&list, cl->sub, max, wait_ms, &jerr);
	if (s == NATS_TIMEOUT)
		return 0;
	if (s != NATS_OK) {
		nats_err(err, errlen, "fetch", s, jerr);
		return -1;
	}
	for (i = 0; i < list.Count; i++) {
		natsMsg *msg = list.Msgs[i];
		const char *reply = natsMsg_GetReply(msg);

		memset(&m, 0, sizeof(m));
		if (reply == NULL || strlen(reply) >= sizeof(m.reply))
			continue;	/* not a JetStream delivery: nothing to answer */
		snprintf(m.reply, sizeof(m.reply), "%s", reply);
		if (cluster_msg_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
		    &b) == -1 || strcmp(b.bucket, cl->bucket) != 0 ||
		    cluster_id(b.bucket, b.key, b.etag, m.id, sizeof(m.id)) == -1) {
			(void)natsMsg_Term(msg, NULL);	/* never ours to fetch: do not redeliver */
			continue;
		}
		m.delivered = 1;
		if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
			m.delivered = meta->NumDelivered;
			jsMsgMetaData_Destroy(meta);
		}
		snprintf(m.key, sizeof(m.key), "%s", b.key);
		snprintf(m.etag, sizeof(m.etag), "%s", b.etag);
		m.size = b.size;
		cb(arg, &m);
		handed++;
	}
	natsMsgList_Destroy(&list);
	return handed;
}

int
cluster_reply(struct cluster *cl, const char *reply, const char *what)
{
	return natsConnection_PublishString(cl->nc, reply, what) == NATS_OK ? 0 : -1;
}

static void
marker_key(const char *id, char key[DIGEST_SHA256_HEX])
{
	if (digest_sha256_hex(id, strlen(id), key) == NULL)
		key[0] = '\0';
}

/*
 * Read from the stream's leader, not with kvStore_Get: the bucket allows
 * direct gets, which any replica answers, and a replica still applying the
 * write says "not found" for a marker another host has just committed. That
 * host then deletes the object, and we would file its 404 as a failure.
 */
static enum cluster_marker
marker_compare(struct cluster *cl, const char *key, const char *mine, char *owner, size_t olen,
    uint64_t *tombstone)
{
	char stream[80], subject[160];
	natsMsg *m = NULL;
	natsStatus s;
	const char *op = NULL;
	int n;
	enum cluster_marker r;

	snprintf(stream, sizeof(stream), "KV_%s-filed", cl->stream);
	snprintf(subject, sizeof(subject), "$KV.%s-filed.%s", cl->stream, key);
	s = js_GetLastMsg(&m, cl->js, stream, subject, NULL, NULL);
	if (s == NATS_NOT_FOUND)
		return MARKER_ABSENT;
	if (s != NATS_OK)
		return MARKER_ERROR;
	/* Markers are never deleted; a delete or purge put there by hand is no owner. */
	if (natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK && op != NULL) {
		if (tombstone != NULL)
			*tombstone = natsMsg_GetSequence(m);
		natsMsg_Destroy(m);
		return MARKER_ABSENT;
	}
	n = natsMsg_GetDataLength(m);
	snprintf(owner, olen, "%.*s", n, natsMsg_GetData(m) != NULL ? natsMsg_GetData(m) : "");
	r = strlen(mine) == (size_t)n && memcmp(natsMsg_GetData(m), mine, (size_t)n) == 0 ?
	    MARKER_OURS : MARKER_THEIRS;
	natsMsg_Destroy(m);
	return r;
}

enum cluster_marker
cluster_mark(struct cluster *cl, const char *id, const char *name, char *owner, size_t olen)
{
	char key[DIGEST_SHA256_HEX], mine[CLUSTER_NODE_MAX + 300];
	char err[256];
	enum cluster_marker r;
	uint64_t tomb = 0;

	if (olen > 0)
		owner[0] = '\0';
	if (cl->kv == NULL && cluster_setup_markers(cl, err, sizeof(err)) == -1)
		return MARKER_ERROR;
	marker_key(id, key);
	if (key[0] == '\0')
		return MARKER_ERROR;
	snprintf(mine, sizeof(mine), "node=%s name=%s", cl->node, name);
	/*
	 * Not kvStore_Create: after a refusal it reads with a direct get (see
	 * marker_compare). The stream's leader checks "no message yet" itself.
	 */
	if (kvStore_Update(NULL, cl->kv, key, mine, (int)strlen(mine), 0) == NATS_OK)
		goto ours;
	/* Refused: someone holds it (maybe we, before a crash), or NATS is away. */
	r = marker_compare(cl, key, mine, owner, olen, &tomb);
	if (r == MARKER_ABSENT && tomb != 0 &&
	    kvStore_Update(NULL, cl->kv, key, mine, (int)strlen(mine), tomb) == NATS_OK)
		goto ours;
	return r == MARKER_ABSENT ? MARKER_ERROR : r;
ours:
	snprintf(owner, olen, "%s", mine);
	return MARKER_OURS;
}

enum cluster_marker
cluster_marker_get(struct cluster *cl, const char *id, const char *name, char *owner,
    size_t olen)
{
	char key[DIGEST_SHA256_HEX], mine[CLUSTER_NODE_MAX + 300], err[256];

	if (olen > 0)
		owner[0] = '\0';
	if (cl->kv == NULL && cluster_setup_markers(cl, err, sizeof(err)) == -1)
		return MARKER_ERROR;
	marker_key(id, key);
	if (key[0] == '\0')
		return MARKER_ERROR;
	snprintf(mine, sizeof(mine), "node=%s name=%s", cl->node, name);
	return marker_compare(cl, key, mine, owner, olen, NULL);
}

int
cluster_pending(struct cluster *cl, uint64_t *pending, uint64_t *unacked)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;

	if (cl->durable[0] == '\0' ||
	    js_GetConsumerInfo(&ci, cl->js, cl->stream, cl->durable, NULL, &jerr) != NATS_OK)
		return -1;
	*pending = ci->NumPending;
	*unacked = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
	jsConsumerInfo_Destroy(ci);
	return 0;
}

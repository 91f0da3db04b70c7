/*
 * The ListObjectsV2 XML of an untrusted server, and its error documents,
 * read with expat. expat checks the XML itself (well-formedness, entities,
 * character references, UTF-8); what is checked here is what a listing may
 * hold: one ListBucketResult root, shallow nesting, plain ASCII element
 * names, and keys, ETags, sizes and tokens within bounds. DTDs are refused
 * outright: nothing in a listing needs one, and they are where entity
 * expansion attacks live.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3.h"

#define XML_DEPTH_MAX 8
#define XML_NAME_MAX  64
#define XML_TEXT_MAX  S3_TOKEN_MAX	/* longest value we keep: tokens, keys (1024 bytes) */

struct xml {
	XML_Parser         p;
	char               stack[XML_DEPTH_MAX][XML_NAME_MAX + 1];
	int                depth;
	char               text[XML_TEXT_MAX + 1];
	size_t             tlen;
	int                overflow;	/* text longer than XML_TEXT_MAX */
	int                failed;	/* err says why; the parser was stopped */
	int                roots;
	struct s3_listing *l;
	struct s3_object   cur;
	char              *err;
	size_t             errlen;
};

static int
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > XML_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == ':'))
			return 0;
	}
	return 1;
}

/* Stop the parse, err already written by the caller. */
static void
halt(struct xml *x)
{
	x->failed = 1;
	XML_StopParser(x->p, XML_FALSE);
}

/* Stop the parse with a reason of ours; expat's own errors are worded later. */
static void
stop(struct xml *x, const char *fmt, const char *what)
{
	if (x->failed)
		return;
	snprintf(x->err, x->errlen, fmt, what);
	halt(x);
}

static int
is(const struct xml *x, int d, const char *name)
{
	return x->depth > d && strcmp(x->stack[d], name) == 0;
}

static void
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
    int internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	stop(arg, "malformed listing: %s", "DTDs are not accepted");
}

static void
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xml *x = arg;

	(void)attrs;
	if (x->failed)
		return;
	/* S3 uses plain ASCII names; anything else is not a listing. */
	if (!name_ok(name)) {
		stop(x, "malformed listing: %s", "bad element name");
		return;
	}
	if (x->depth >= XML_DEPTH_MAX) {
		stop(x, "malformed listing: %s", "nested too deep");
		return;
	}
	if (x->depth == 0 && x->roots++ > 0) {
		stop(x, "malformed listing: %s", "more than one root element");
		return;
	}
	snprintf(x->stack[x->depth], sizeof(x->stack[x->depth]), "%s", name);
	if (x->depth == 0 && strcmp(name, "ListBucketResult") != 0) {
		stop(x, "not a listing: root element <%s>", name);
		return;
	}
	x->depth++;
	x->tlen = 0;
	x->text[0] = '\0';
	x->overflow = 0;
}

static void
on_text(void *arg, const XML_Char *s, int len)
{
	struct xml *x = arg;
	size_t n = (size_t)len;

	if (x->failed || len <= 0)
		return;
	if (x->tlen + n > XML_TEXT_MAX) {
		x->overflow = 1;
		return;
	}
	memcpy(x->text + x->tlen, s, n);
	x->tlen += n;
	x->text[x->tlen] = '\0';
}

/* A leaf element closed: take its text if it is one the listing needs. */
static void
leaf(struct xml *x)
{
	const char *name = x->stack[x->depth - 1];
	struct s3_listing *l = x->l;
	char *end;

	if (x->depth == 2 && strcmp(name, "IsTruncated") == 0) {
		l->truncated = strcmp(x->text, "true") == 0;
	} else if (x->depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
		if (x->overflow || x->tlen == 0 || memchr(x->text, '\0', x->tlen) != NULL) {
			stop(x, "malformed listing: %s", "bad NextContinuationToken");
			return;
		}
		free(l->next_token);
		if ((l->next_token = strdup(x->text)) == NULL)
			stop(x, "%s", "out of memory");
	} else if (x->depth == 3 && is(x, 1, "Contents")) {
		if (strcmp(name, "Key") == 0) {
			if (x->overflow || x->tlen == 0 || x->tlen > S3_KEY_MAX ||
			    memchr(x->text, '\0', x->tlen) != NULL) {
				snprintf(x->err, x->errlen, "malformed listing: a key is empty, longer "
				    "than %d bytes or holds a NUL", S3_KEY_MAX);
				halt(x);
				return;
			}
			free(x->cur.key);
			if ((x->cur.key = strdup(x->text)) == NULL)
				stop(x, "%s", "out of memory");
		} else if (strcmp(name, "ETag") == 0) {
			if (x->overflow || x->tlen > S3_ETAG_MAX) {
				stop(x, "malformed listing: %s", "ETag too long");
				return;
			}
			memcpy(x->cur.etag, x->text, x->tlen + 1);
		} else if (strcmp(name, "Size") == 0) {
			errno = 0;
			x->cur.size = strtoull(x->text, &end, 10);
			if (x->tlen == 0 || *end != '\0' || errno != 0 || x->text[0] == '-')
				stop(x, "malformed listing: %s", "bad Size");
		}
	}
}

/* </Contents>: the object is complete. */
static void
object_done(struct xml *x)
{
	struct s3_listing *l = x->l;
	struct s3_object *v;

	if (x->cur.key == NULL) {
		stop(x, "malformed listing: %s", "Contents without a Key");
		return;
	}
	if (l->n >= S3_PAGE_MAX) {
		snprintf(x->err, x->errlen, "listing page with more than %d objects", S3_PAGE_MAX);
		halt(x);
		return;
	}
	if ((v = reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL) {
		stop(x, "%s", "out of memory");
		return;
	}
	l->v = v;
	l->v[l->n++] = x->cur;
	memset(&x->cur, 0, sizeof(x->cur));
}

static void
on_end(void *arg, const XML_Char *name)
{
	struct xml *x = arg;

	(void)name;	/* expat has matched it with its start tag */
	if (x->failed)
		return;
	leaf(x);
	if (!x->failed && x->depth == 2 && is(x, 1, "Contents"))
		object_done(x);
	x->depth--;
	x->tlen = 0;
	x->text[0] = '\0';
	x->overflow = 0;
}

/* expat's verdict in our words: "truncated" for a document that stops short. */
static void
expat_reason(struct xml *x)
{
	enum XML_Error e = XML_GetErrorCode(x->p);

	if (e == XML_ERROR_NO_ELEMENTS || e == XML_ERROR_UNCLOSED_TOKEN ||
	    e == XML_ERROR_PARTIAL_CHAR || (e == XML_ERROR_NONE && x->depth > 0))
		snprintf(x->err, x->errlen, "malformed listing: truncated document at line %lu",
		    (unsigned long)XML_GetCurrentLineNumber(x->p));
	else if (e == XML_ERROR_JUNK_AFTER_DOC_ELEMENT)
		snprintf(x->err, x->errlen, "malformed listing: more than one root element or "
		    "text after it at line %lu", (unsigned long)XML_GetCurrentLineNumber(x->p));
	else
		snprintf(x->err, x->errlen, "malformed listing: %s at line %lu column %lu",
		    XML_ErrorString(e), (unsigned long)XML_GetCurrentLineNumber(x->p),
		    (unsigned long)XML_GetCurrentColumnNumber(x->p));
}

/* A parser for untrusted input: UTF-8 whatever the document says, no DTD. */
static XML_Parser
parser(void *arg)
{
	XML_Parser p = XML_ParserCreate("UTF-8");

	if (p == NULL)
		return NULL;
	XML_SetUserData(p, arg);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	return p;
}

int
s3_parse_listing(const char *xml, size_t len, struct s3_listing *l, char *err, size_t errlen)
{
	struct xml *x;
	enum XML_Status st;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (len > INT_MAX) {
		snprintf(err, errlen, "listing too large");
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL || (x->p = parser(x)) == NULL) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	x->l = l;
	x->err = err;
	x->errlen = errlen;
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	st = XML_Parse(x->p, xml, (int)len, XML_TRUE);
	if (x->failed)
		goto out;
	if (st != XML_STATUS_OK || x->roots == 0 || x->depth > 0) {
		expat_reason(x);
		goto out;
	}
	if (l->truncated && l->next_token == NULL) {
		snprintf(err, errlen, "malformed listing: IsTruncated without NextContinuationToken");
		goto out;
	}
	rc = 0;
out:
	free(x->cur.key);
	XML_ParserFree(x->p);
	free(x);
	if (rc == -1)
		s3_listing_free(l);
	return rc;
}

void
s3_listing_free(struct s3_listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

/* --- error documents --------------------------------------------------------------- */

struct errdoc {
	int     depth;
	int     in;		/* 1: in <Code>, 2: in <Message> (children of the root) */
	char   *out[3];
	size_t  len[3], n[3];
};

static void
on_err_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct errdoc *d = arg;

	(void)attrs;
	d->depth++;
	d->in = d->depth == 2 && strcmp(name, "Code") == 0 ? 1 :
	    d->depth == 2 && strcmp(name, "Message") == 0 ? 2 : 0;
}

static void
on_err_end(void *arg, const XML_Char *name)
{
	struct errdoc *d = arg;

	(void)name;
	if (d->in != 0)
		d->len[d->in] = 0;	/* the first one counts: later ones go nowhere */
	d->in = 0;
	d->depth--;
}

/* Cut to the buffer and made printable: this text goes into a log line. */
static void
on_err_text(void *arg, const XML_Char *s, int len)
{
	struct errdoc *d = arg;
	int i = d->in;
	size_t k;

	if (i == 0)
		return;
	for (k = 0; k < (size_t)len && d->n[i] + 1 < d->len[i]; k++) {
		unsigned char c = (unsigned char)s[k];

		d->out[i][d->n[i]++] = c < ' ' || c == 0x7f ? ' ' : (char)c;
	}
	if (d->len[i] > 0)
		d->out[i][d->n[i]] = '\0';
}

void
s3_parse_error(const char *xml, size_t len, char *code, size_t codelen, char *msg,
    size_t msglen)
{
	struct errdoc d;
	XML_Parser p;

	if (codelen > 0)
		code[0] = '\0';
	if (msglen > 0)
		msg[0] = '\0';
	memset(&d, 0, sizeof(d));
	d.out[1] = code;
	d.len[1] = codelen;
	d.out[2] = msg;
	d.len[2] = msglen;
	if (len > INT_MAX || (p = parser(&d)) == NULL)
		return;
	XML_SetElementHandler(p, on_err_start, on_err_end);
	XML_SetCharacterDataHandler(p, on_err_text);
	/* A cut or broken document still gives what came before the break. */
	(void)XML_Parse(p, xml, (int)len, XML_TRUE);
	XML_ParserFree(p);
}

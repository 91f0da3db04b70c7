#include <string.h>

#include "suggest.h"

unsigned
suggest_distance(const char *a, const char *b)
{
	/* Three rows of the optimal-string-alignment matrix: a swap looks two back. */
	unsigned r[3][SUGGEST_MAX + 1], *pp, *p, *c, d;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SUGGEST_MAX + 1;
	for (j = 0; j <= lb; j++)
		r[1][j] = (unsigned)j;
	pp = r[0];
	p = r[1];
	c = r[2];
	for (i = 1; i <= la; i++) {
		c[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			d = p[j - 1] + (a[i - 1] != b[j - 1]);
			if (p[j] + 1 < d)
				d = p[j] + 1;
			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
		}
		{
			unsigned *t = pp;

			pp = p;
			p = c;
			c = t;
		}
	}
	return p[lb];
}

void
suggest_init(struct suggest *s, const char *typed)
{
	s->typed = typed;
	s->best = NULL;
	s->dist = 0;
}

void
suggest_offer(struct suggest *s, const char *cand)
{
	size_t len = strlen(s->typed);
	/*
	 * One slip in a short name, two from 5 bytes on, three from 9: "wrokers"
	 * finds "workers", while "colour" finds nothing rather than "user".
	 */
	unsigned limit = len < 5 ? 1 : len < 9 ? 2 : 3, d;

	if (strcmp(s->typed, cand) == 0)
		return;
	d = suggest_distance(s->typed, cand);
	/* More slips than half the name is another word, not a misspelling. */
	if (d > limit || 2 * d > len)
		return;
	if (s->best == NULL || d < s->dist) {
		s->best = cand;
		s->dist = d;
	}
}

/*
 * "Did you mean ...?" for a misspelt name: the candidate nearest to what was
 * typed, by edit distance (insertions, deletions, substitutions and swaps of
 * two neighbours each cost 1), and only when it is near enough that the
 * guess is more likely right than noise.
 */
#ifndef INGESTD_SUGGEST_H
#define INGESTD_SUGGEST_H

/* Names longer than this are never matched: nobody misspells a paragraph. */
#define SUGGEST_MAX 64

struct suggest {
	const char *typed;
	const char *best;	/* NULL: nothing near enough (yet) */
	unsigned    dist;
};

void        suggest_init(struct suggest *s, const char *typed);

/* Consider cand; the first of several equally near ones is kept. */
void        suggest_offer(struct suggest *s, const char *cand);

/* The edit distance of a and b, or SUGGEST_MAX + 1 when either is longer. */
unsigned    suggest_distance(const char *a, const char *b);

#endif

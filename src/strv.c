#include <stdlib.h>
#include <string.h>

#include "strv.h"

/* conf's lists always have a terminator, even when empty, so v can be walked. */
int
strv_ready(struct strv *sv)
{
	if (sv->v == NULL && (sv->v = calloc(1, sizeof(*sv->v))) == NULL)
		return -1;
	return 0;
}

int
strv_push(struct strv *sv, const char *s)
{
	char **v, *copy;

	if ((copy = strdup(s)) == NULL)
		return -1;
	if ((v = reallocarray(sv->v, sv->n + 2, sizeof(*v))) == NULL) {
		free(copy);
		return -1;
	}
	v[sv->n++] = copy;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

void
strv_free(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

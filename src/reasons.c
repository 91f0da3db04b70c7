#include <string.h>

#include "reasons.h"

/* In the order ingestd(8) lists them; "other" last. */
static const char *const keywords[REASON_N] = {
	"symlink", "type", "exit", "signal", "timeout", "exec", "tempfail", "crashed",
	"archive", "format", "plain", "limit", "link", "path", "manifest", "fetch",
	"permission", "other",
};

const char *
reason_keyword(size_t i)
{
	return i < REASON_N ? keywords[i] : keywords[REASON_N - 1];
}

size_t
reason_class(const char *reason)
{
	size_t i, n;

	if (reason == NULL)
		return REASON_N - 1;
	if (*reason == '"')
		reason++;
	n = strcspn(reason, " \"\n");
	for (i = 0; i < REASON_N - 1; i++)
		if (strlen(keywords[i]) == n && strncmp(reason, keywords[i], n) == 0)
			return i;
	return REASON_N - 1;
}

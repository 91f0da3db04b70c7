#include <fnmatch.h>
#include <string.h>

#include "names.h"

/* NAME_MAX on Linux; spelled out so the limit does not depend on headers. */
#define NAME_BYTES_MAX 255

int
ignore_match(const struct strv *patterns, const char *name)
{
	size_t i;

	if (patterns == NULL)
		return 0;
	for (i = 0; i < patterns->n; i++)
		if (fnmatch(patterns->v[i], name, 0) == 0)
			return 1;
	return 0;
}

int
name_is_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return 0;
	len = strlen(name);
	if (len == 0 || len > NAME_BYTES_MAX)
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	return strchr(name, '/') == NULL;
}

int
name_is_internal(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' || (n > 5 && strcmp(name + n - 5, ".part") == 0);
}

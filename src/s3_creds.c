/*
 * S3 credentials: the AWS shared credentials file or the environment. The
 * secrets are wiped from every buffer that held them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"

#define CREDS_FILE_MAX (64 * 1024)

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
set_field(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* The value of key k in the chosen profile of an AWS shared credentials file. */
static int
creds_file(const char *path, struct s3_creds *cr, char *err, size_t errlen)
{
	char *buf = NULL, *copy = NULL, *line, *save = NULL, *k, *v, *eq;
	int fd, sections = 0, in = 1, got_default = 0, rc = -1;
	ssize_t n;
	size_t len = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "credentials_file %s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(CREDS_FILE_MAX + 1)) == NULL || (copy = malloc(CREDS_FILE_MAX + 1)) == NULL) {
		close(fd);
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (len < CREDS_FILE_MAX && (n = read(fd, buf + len, CREDS_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	memcpy(copy, buf, len + 1);
	/* The [default] profile, or the only one, or keys outside any section. */
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (line[0] == '[') {
			sections++;
			got_default |= strncmp(line, "[default]", 9) == 0;
		}
	}
	save = NULL;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (line[0] == '#' || line[0] == ';' || line[0] == '\0')
			continue;
		if (line[0] == '[') {
			in = got_default ? strncmp(line, "[default]", 9) == 0 : sections == 1;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		if ((strcmp(k, "aws_access_key_id") == 0 && set_field(cr->id, sizeof(cr->id), v)) ||
		    (strcmp(k, "aws_secret_access_key") == 0 &&
		    set_field(cr->secret, sizeof(cr->secret), v)) ||
		    (strcmp(k, "aws_session_token") == 0 &&
		    set_field(cr->token, sizeof(cr->token), v))) {
			snprintf(err, errlen, "credentials_file %s: %s is too long", path, k);
			goto out;
		}
	}
	if (cr->id[0] == '\0' || cr->secret[0] == '\0')
		snprintf(err, errlen, "credentials_file %s: no aws_access_key_id and "
		    "aws_secret_access_key in %s", path, got_default ? "[default]" :
		    sections == 1 ? "its profile" : "it (use a [default] profile)");
	else
		rc = 0;
out:
	explicit_bzero(buf, len);
	explicit_bzero(copy, len);
	free(buf);
	free(copy);
	return rc;
}

int
s3_credentials(const struct conf_source *src, struct s3_creds *cr, char *err, size_t errlen)
{
	const char *id, *secret, *token;

	memset(cr, 0, sizeof(*cr));
	if (src->credentials_file != NULL)
		return creds_file(src->credentials_file, cr, err, errlen);
	id = getenv("AWS_ACCESS_KEY_ID");
	secret = getenv("AWS_SECRET_ACCESS_KEY");
	token = getenv("AWS_SESSION_TOKEN");
	if (id == NULL || secret == NULL || id[0] == '\0' || secret[0] == '\0') {
		snprintf(err, errlen, "no credentials: set AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY, or credentials_file");
		return -1;
	}
	if (set_field(cr->id, sizeof(cr->id), id) == -1 ||
	    set_field(cr->secret, sizeof(cr->secret), secret) == -1 ||
	    (token != NULL && set_field(cr->token, sizeof(cr->token), token) == -1)) {
		snprintf(err, errlen, "credentials in the environment are too long");
		return -1;
	}
	return 0;
}


int
s3_credentials_refused(const char *code)
{
	/*
	 * AccessDenied too: it is what a key without the policy for this bucket
	 * gets, and the fix (a policy) is the operator's, like a new secret.
	 */
	static const char *const refused[] = {
		"SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken", "InvalidToken",
		"TokenRefreshRequired", "RequestTimeTooSkewed", "AccessDenied",
	};
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(code, refused[i]) == 0)
			return 1;
	return 0;
}

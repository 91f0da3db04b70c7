/*
 * libFuzzer target for the config reader. Beyond "no crash, no leak": an error
 * is one printable line naming the input, and whatever loads prints as YAML
 * that loads back to the same settings (the -t output is a valid config).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static char *
print(const struct conf *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL)
		abort();
	conf_print(c, fp);
	if (fclose(fp) != 0)
		abort();
	return text;
}

static void
check_message(const char *err)
{
	const unsigned char *p;

	if (strncmp(err, "fuzz", 4) != 0) {
		fprintf(stderr, "message does not name the file: %s\n", err);
		abort();
	}
	for (p = (const unsigned char *)err; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "control byte 0x%02x in message: %s\n", *p, err);
			abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c, back;
	char err[1024], *text, *again;

	if (conf_defaults(&c) == -1)
		return 0;
	err[0] = '\0';
	if (conf_load_buf(&c, "fuzz", (const char *)data, size, err, sizeof(err)) == -1) {
		check_message(err);
		conf_free(&c);
		return 0;
	}
	if (conf_validate(&c, err, sizeof(err)) == -1)
		check_message(err);
	text = print(&c);
	if (conf_defaults(&back) == -1)
		abort();
	if (conf_load_buf(&back, "fuzz", text, strlen(text), err, sizeof(err)) == -1) {
		fprintf(stderr, "printed config does not load: %s\n%s", err, text);
		abort();
	}
	again = print(&back);
	if (strcmp(text, again) != 0) {
		fprintf(stderr, "round trip differs:\n%s---\n%s", text, again);
		abort();
	}
	free(text);
	free(again);
	conf_free(&back);
	conf_free(&c);
	return 0;
}

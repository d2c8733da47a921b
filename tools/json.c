// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <math.h>

#include "json.h"

static void json_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
	if (key)
		fprintf(j->out, "\"%s\":", key);
}

static void json_open(struct json *j, const char *key, char open, char close)
{
	json_key(j, key);
	fputc(open, j->out);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
	j->closer[j->depth] = close;
}

void json_begin(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = true;
	fputc('{', out);
}

void json_end(struct json *j)
{
	fputs("}\n", j->out);
	fflush(j->out);
}

void json_object(struct json *j, const char *key)
{
	json_open(j, key, '{', '}');
}

void json_array(struct json *j, const char *key)
{
	json_open(j, key, '[', ']');
}

void json_close(struct json *j)
{
	if (j->depth == 0)
		return;
	fputc(j->closer[j->depth], j->out);
	j->depth--;
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->out, "%" PRId64, v);
}

void json_double(struct json *j, const char *key, double v)
{
	json_key(j, key);
	if (isfinite(v))
		fprintf(j->out, "%.6g", v);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->out);
}

void json_str(struct json *j, const char *key, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	json_key(j, key);
	fputc('"', j->out);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(j->out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(j->out, "\\u%04x", *p);
		else
			fputc(*p, j->out);
	}
	fputc('"', j->out);
}

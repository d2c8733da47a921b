/* SPDX-License-Identifier: MIT */
/*
 * A small JSON writer for the reports: one object, written as it goes, with
 * nesting and commas tracked here. Keys are plain identifiers; string
 * values are escaped.
 */
#ifndef DEVMEM_TOOL_JSON_H
#define DEVMEM_TOOL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 8

struct json {
	FILE *out;
	int depth;
	bool first[JSON_MAX_DEPTH]; /* nothing written yet at this level */
	char closer[JSON_MAX_DEPTH]; /* '}' or ']' */
};

void json_begin(struct json *j, FILE *out); /* the top-level object */
void json_end(struct json *j); /* closes it and ends the line */

/* @key is NULL inside an array. */
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_close(struct json *j); /* the innermost object or array */

void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_str(struct json *j, const char *key, const char *v);
void json_null(struct json *j, const char *key);

#endif

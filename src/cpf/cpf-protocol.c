/* prlkit-cpf — CPF framing and envelopes. MIT license. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cpf-log.h"
#include "cpf-protocol.h"

/* ---- errors ---- */

char *
cpf_sanitize(const char *text, gsize max_len)
{
	g_autofree char *valid = NULL, *redacted = NULL;
	GString *out;
	const char *p;

	if (!text)
		return g_strdup("");
	valid = g_utf8_make_valid(text, -1);
	redacted = cpf_redact(valid);
	out = g_string_sized_new(MIN(strlen(redacted), max_len) + 4);
	for (p = redacted; *p; p = g_utf8_next_char(p)) {
		gsize clen = (gsize)(g_utf8_next_char(p) - p);
		if (out->len + clen > max_len) {
			g_string_append(out, "...");
			break;
		}
		if ((guchar)*p < 0x20 || *p == 0x7f)
			g_string_append_c(out, ' ');
		else
			g_string_append_len(out, p, (gssize)clen);
	}
	/* Trailing white space left by a platform's "message\n" */
	while (out->len && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	return g_string_free(out, FALSE);
}

void
cpf_error_set(cpf_error *err, int code, PRL_RESULT r, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL, *clean = NULL;

	if (!err)
		return;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	clean = cpf_sanitize(text, 2000);
	g_free(err->message);
	err->code = code;
	err->message = g_strdup_printf("prlkit: %s (%s)", clean, prl_result_to_string(r));
}

void
cpf_error_clear(cpf_error *err)
{
	if (!err)
		return;
	g_clear_pointer(&err->message, g_free);
	err->code = 0;
}

/* ---- reading ---- */

#define CPF_READ_CHUNK (64 * 1024)

struct cpf_reader {
	int fd;                   /* main thread only, as every field */
	gsize max_line;
	char *in;                 /* bytes read, not yet consumed: in[pos..end) */
	gsize pos, end;
	GByteArray *line;         /* a line that spans reads */
	gboolean discarding;      /* consuming the rest of a too-large line */
	gboolean eof;
};

cpf_reader *
cpf_reader_new(int fd, gsize max_line)
{
	cpf_reader *r = g_new0(cpf_reader, 1);

	r->fd = fd;
	r->max_line = max_line;
	r->in = g_malloc(CPF_READ_CHUNK);
	r->line = g_byte_array_new();
	return r;
}

void
cpf_reader_free(cpf_reader *r)
{
	if (!r)
		return;
	g_free(r->in);
	g_byte_array_unref(r->line);
	g_free(r);
}

/* Starts discarding: the partial line is dropped and its memory given back. */
static void
reader_start_discard(cpf_reader *r)
{
	r->discarding = TRUE;
	g_byte_array_unref(r->line);
	r->line = g_byte_array_new();
}

static cpf_read_status
reader_next(cpf_reader *r, const char **line, gsize *len, gboolean may_read)
{
	for (;;) {
		if (r->pos < r->end) {
			char *start = r->in + r->pos;
			gsize avail = r->end - r->pos;
			char *nl = memchr(start, '\n', avail);

			if (nl) {
				gsize chunk = (gsize)(nl - start);
				r->pos += chunk + 1;
				if (r->discarding) {
					r->discarding = FALSE;
					return CPF_READ_TOO_LARGE;
				}
				if (r->line->len + chunk > r->max_line) {
					reader_start_discard(r);
					r->discarding = FALSE;
					return CPF_READ_TOO_LARGE;
				}
				if (r->line->len == 0) {
					/* The usual case: the whole line is in the buffer. */
					*line = start;
					*len = chunk;
					return CPF_READ_LINE;
				}
				g_byte_array_append(r->line, (const guint8 *)start, (guint)chunk);
				*line = (const char *)r->line->data;
				*len = r->line->len;
				/* Emptied on the next call (the caller still reads it now). */
				r->line->len = 0;
				return CPF_READ_LINE;
			}
			r->pos = r->end;
			if (!r->discarding) {
				if (r->line->len + avail > r->max_line)
					reader_start_discard(r);
				else
					g_byte_array_append(r->line, (const guint8 *)start, (guint)avail);
			}
		}
		if (r->eof) {
			if (r->discarding) {
				r->discarding = FALSE;
				return CPF_READ_TOO_LARGE;
			}
			if (r->line->len > 0) {
				/* A last line without '\n' is still a request. */
				*line = (const char *)r->line->data;
				*len = r->line->len;
				r->line->len = 0;
				return CPF_READ_LINE;
			}
			return CPF_READ_EOF;
		}
		if (!may_read)
			return CPF_READ_NONE;
		{
			ssize_t n = read(r->fd, r->in, CPF_READ_CHUNK);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r->eof = TRUE;
				if (r->line->len == 0 && !r->discarding)
					return CPF_READ_ERROR;
				continue;
			}
			r->pos = 0;
			r->end = (gsize)n;
			if (n == 0)
				r->eof = TRUE;
		}
	}
}

cpf_read_status
cpf_reader_next(cpf_reader *r, const char **line, gsize *len)
{
	return reader_next(r, line, len, TRUE);
}

cpf_read_status
cpf_reader_next_buffered(cpf_reader *r, const char **line, gsize *len)
{
	return reader_next(r, line, len, FALSE);
}

/* ---- requests ---- */

static gboolean
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Deepest nesting of arrays/objects, scanning no further than needed to exceed limit, so a
 * hostile line never reaches the (recursive) JSON parser. */
static gboolean
depth_exceeds(const char *p, gsize len, guint limit)
{
	guint depth = 0;
	gboolean in_string = FALSE;

	for (gsize i = 0; i < len; i++) {
		char c = p[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = FALSE;
		} else if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			if (++depth > limit)
				return TRUE;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return FALSE;
}

/* A string value holding U+0000 anywhere in v (valid JSON; jansson's C strings would end
 * at it, so "101\u0000x" would silently act on guest "101"). */
static gboolean has_nul_string(json_t *v)
{
	const char *key;
	json_t *item;
	gsize i;

	if (json_is_string(v))
		return strlen(json_string_value(v)) != json_string_length(v);
	if (json_is_object(v)) {
		json_object_foreach(v, key, item)
			if (has_nul_string(item))
				return TRUE;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			if (has_nul_string(item))
				return TRUE;
	}
	return FALSE;
}

gboolean
cpf_request_parse(const char *line, gsize len, guint max_depth, cpf_request *req,
                  cpf_error *err)
{
	json_error_t jerr;
	json_t *root, *method;
	g_autofree char *m = NULL;

	memset(req, 0, sizeof(*req));
	if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	while (len > 0 && is_blank(line[0])) {
		line++;
		len--;
	}
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	if (len == 0) {
		cpf_error_set(err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: empty request line");
		return FALSE;
	}
	if (!g_utf8_validate_len(line, len, NULL)) {
		cpf_error_set(err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: request is not valid UTF-8");
		return FALSE;
	}
	if (depth_exceeds(line, len, max_depth)) {
		cpf_error_set(err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: request nested too deeply (limit %u)", max_depth);
		return FALSE;
	}
	root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		cpf_error_set(err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: invalid JSON at column %d: %s", jerr.column, jerr.text);
		return FALSE;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: a request must be a JSON object");
		return FALSE;
	}
	method = json_object_get(root, "method");
	if (!method || json_is_null(method)) {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_METHOD, PRL_ERR_UNRECOGNIZED_REQUEST,
		              "missing method");
		return FALSE;
	}
	if (!json_is_string(method)) {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_METHOD, PRL_ERR_UNRECOGNIZED_REQUEST,
		              "method must be a string");
		return FALSE;
	}
	if (has_nul_string(method)) {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_METHOD, PRL_ERR_UNRECOGNIZED_REQUEST,
		              "unknown method: the name contains a NUL character (\\u0000)");
		return FALSE;
	}
	if (has_nul_string(json_object_get(root, "params"))) {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: a string contains a NUL character (\\u0000)");
		return FALSE;
	}
	m = g_strstrip(g_ascii_strdown(json_string_value(method), -1));
	if (*m == '\0') {
		json_decref(root);
		cpf_error_set(err, CPF_CODE_METHOD, PRL_ERR_UNRECOGNIZED_REQUEST,
		              "missing method");
		return FALSE;
	}
	req->method = g_steal_pointer(&m);
	req->params = json_incref(json_object_get(root, "params"));
	json_decref(root);
	return TRUE;
}

void
cpf_request_clear(cpf_request *req)
{
	g_clear_pointer(&req->method, g_free);
	g_clear_pointer(&req->prefetch_id, g_free);
	if (req->prefetch != PRL_INVALID_HANDLE) {
		PrlHandle_Free(req->prefetch);
		req->prefetch = PRL_INVALID_HANDLE;
	}
	if (req->params) {
		json_decref(req->params);
		req->params = NULL;
	}
}

/* ---- replies ---- */

struct cpf_writer {
	int fd;                   /* immutable */
	cpf_error_style style;    /* immutable */
	gboolean broken;          /* main thread: the reader went away */
};

cpf_writer *
cpf_writer_new(int fd, cpf_error_style style)
{
	cpf_writer *w = g_new0(cpf_writer, 1);

	w->fd = fd;
	w->style = style;
	return w;
}

void
cpf_writer_free(cpf_writer *w)
{
	g_free(w);
}

static gboolean
writer_emit(cpf_writer *w, json_t *envelope)
{
	char *text = json_dumps(envelope, JSON_COMPACT);
	gsize len;
	const char *p;

	json_decref(envelope);
	if (!text) {
		/* Only on out-of-memory; still one reply. */
		text = strdup("{\"error\":{\"code\":-32603,\"message\":\"prlkit: out of memory "
		              "(PRL_ERR_OUT_OF_MEMORY)\"}}");
		if (!text)
			return FALSE;
	}
	len = strlen(text);
	if (w->broken) {
		free(text);
		return FALSE;
	}
	{
		/* One write for line and newline keeps replies whole. */
		char *buf = g_malloc(len + 1);
		memcpy(buf, text, len);
		buf[len] = '\n';
		free(text);
		p = buf;
		len++;
		while (len > 0) {
			ssize_t n = write(w->fd, p, len);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				w->broken = TRUE;
				break;
			}
			p += n;
			len -= (gsize)n;
		}
		g_free(buf);
	}
	return !w->broken;
}

gboolean
cpf_write_result(cpf_writer *w, json_t *result)
{
	json_t *env = json_object();

	json_object_set_new(env, "result", result ? result : json_null());
	return writer_emit(w, env);
}

gboolean
cpf_write_error(cpf_writer *w, const cpf_error *err)
{
	json_t *env = json_object(), *e = json_object();
	int code = err->code ? err->code : CPF_CODE_INTERNAL;

	if (w->style == CPF_STYLE_DOC)
		code = 1;
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message",
	                    json_string(err->message ? err->message : "prlkit: internal error"));
	json_object_set_new(env, "error", e);
	return writer_emit(w, env);
}

/* prlkit-cpf — CPF framing: request lines in, reply envelopes out. MIT license.
 *
 * One reply per request line, in order. The reader never keeps more than the line limit in
 * memory: a longer line is consumed to its end and reported as too large. */
#ifndef PRLKIT_CPF_PROTOCOL_H
#define PRLKIT_CPF_PROTOCOL_H

#include <glib.h>
#include <jansson.h>
#include <prlkit/Parallels.h>

G_BEGIN_DECLS

/* Top-level error codes (CPF.md §2). */
#define CPF_CODE_PARSE     (-32700)
#define CPF_CODE_METHOD    (-32601)
#define CPF_CODE_PARAMS    (-32602)
#define CPF_CODE_INTERNAL  (-32603)
/* Code of a failed task's error (tasks/get). */
#define CPF_CODE_TASK      1

#define CPF_DEFAULT_MAX_LINE   (4u * 1024 * 1024)
#define CPF_DEFAULT_MAX_DEPTH  64

typedef struct cpf_error {
	int code;        /* CPF_CODE_*; 0 = no error */
	char *message;   /* "prlkit: ... (PRL_ERR_NAME)", one line, redacted */
} cpf_error;

/* Sets err (replacing what it held): message "prlkit: <text> (<name of r>)". */
void cpf_error_set(cpf_error *err, int code, PRL_RESULT r, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
void cpf_error_clear(cpf_error *err);
/* A one-line, redacted, length-bounded copy of text coming from outside (ids, platform
 * messages), safe to put into a message. */
char *cpf_sanitize(const char *text, gsize max_len);

/* ---- reading ---- */

typedef enum {
	CPF_READ_LINE,       /* *line / *len: a request line without its '\n' */
	CPF_READ_TOO_LARGE,  /* a line longer than the limit was consumed */
	CPF_READ_EOF,
	CPF_READ_ERROR,      /* read(2) failed (not EINTR); treated as EOF by the caller */
	CPF_READ_NONE,       /* cpf_reader_next_buffered: no complete line without reading */
} cpf_read_status;

typedef struct cpf_reader cpf_reader;

cpf_reader *cpf_reader_new(int fd, gsize max_line);
/* The returned line stays valid until the next call. */
cpf_read_status cpf_reader_next(cpf_reader *r, const char **line, gsize *len);
/* Like cpf_reader_next, but only what is already buffered (CPF_READ_NONE otherwise): lets
 * the caller see requests a client pipelined without waiting for more input. */
cpf_read_status cpf_reader_next_buffered(cpf_reader *r, const char **line, gsize *len);
void cpf_reader_free(cpf_reader *r);

/* ---- requests ---- */

typedef struct cpf_request {
	char *method;      /* trimmed, lower-case */
	json_t *params;    /* the "params" member as sent (new reference), or NULL */
	/* A read started ahead of its turn (cpf_prefetch), for prefetch_id; freed by
	 * cpf_request_clear. */
	PRL_HANDLE prefetch;
	char *prefetch_id;
} cpf_request;

/* Parses one line (BOM, CRLF and surrounding white space tolerated). On failure fills err
 * with -32700 (not JSON, not an object, blank, too deep, bad UTF-8) or -32601 (no method). */
gboolean cpf_request_parse(const char *line, gsize len, guint max_depth, cpf_request *req,
                           cpf_error *err);
void cpf_request_clear(cpf_request *req);

/* ---- replies ---- */

typedef enum {
	CPF_STYLE_JSONRPC,  /* -32700, -32601, -32602, -32603 */
	CPF_STYLE_DOC,      /* 1 for every top-level error, as the official examples */
} cpf_error_style;

typedef struct cpf_writer cpf_writer;

cpf_writer *cpf_writer_new(int fd, cpf_error_style style);
void cpf_writer_free(cpf_writer *w);
/* {"result": result} (steals result). FALSE when the reader of our output is gone. */
gboolean cpf_write_result(cpf_writer *w, json_t *result);
/* {"error": {"code": code, "message": message}}, code mapped by the style. */
gboolean cpf_write_error(cpf_writer *w, const cpf_error *err);

G_END_DECLS
#endif

/* Fuzz target: prlkit-cpf end to end on the sim driver (speed 0): the input is what RAS
 * would write to the provider's stdin; it goes through the same reader, parser, batching,
 * prefetch, dispatch and writer as src/cpf/cpf-main.c, against a fresh sim state.
 *
 * Invariants beyond "no crash, no leak, no hang": exactly one reply line per request line,
 * each a valid envelope ({"result":...} or {"error":{"code":int,"message":"prlkit: ..."}});
 * every task id a reply hands out resolves with tasks/get (never "bad task id"); no secret
 * sent in provider/connect settings shows in any error message; no handle is left once the
 * session ends.
 *
 * Safety: provider/connect settings are pinned to the sim driver, this target's own state
 * directory and speed 0 (a fuzzer must not reach real hypervisors or write elsewhere), and
 * the seed is kept small; every other setting goes through as sent. */
#define _GNU_SOURCE 1   /* memfd_create */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <prlkit/Parallels.h>

#include "cpf/cpf-log.h"
#include "cpf/cpf-methods.h"
#include "cpf/cpf-protocol.h"
#include "fuzz-common.h"

#define MAX_LINE 2048
#define BATCH 64
#define MAX_REQUESTS 200
/* Bounded waits: at speed 0 nothing should wait at all, so a wait this long is a hang. */
#define WAIT_MS 5000

static char *state_root;      /* this process's directory for sim states */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	state_root = g_dir_make_tmp("prlkit-fuzz-cpf-XXXXXX", NULL);
	if (!state_root)
		abort();
	/* The default connection (no driver in the settings) must stay in our directory too. */
	{
		g_autofree char *uri = g_strdup_printf("sim://%s/default?speed=0", state_root);
		g_setenv("PRLKIT_DEFAULT_URI", uri, TRUE);
	}
	return 0;
}

static void
remove_tree(const char *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			remove_tree(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

/* ---- the session ---- */

typedef struct session {
	cpf_ctx *ctx;
	cpf_writer *writer;
	int out_fd;
	guint requests;             /* lines answered */
	GPtrArray *secrets;         /* values sent under secret-named settings keys */
	GPtrArray *task_ids;        /* every task id handed out */
	char *state_dir;
} session;

/* Pins provider/connect to the sim in our directory (see the file comment). */
static void
pin_connect(session *s, cpf_request *req)
{
	json_t *settings = json_object_get(req->params, "settings");
	json_t *seed;

	if (!json_is_object(settings))
		return;
	json_object_set_new(settings, "driver", json_string("sim"));
	json_object_del(settings, "uri");
	json_object_set_new(settings, "state_dir", json_string(s->state_dir));
	json_object_set_new(settings, "speed", json_string("0"));
	json_object_del(settings, "fsync");
	seed = json_object_get(settings, "seed");
	if (json_is_string(seed) && strchr(json_string_value(seed), '+') &&
	    strlen(strchr(json_string_value(seed), '+')) > 3)
		json_object_set_new(settings, "seed", json_string("default+20"));
	/* Remember the secrets, as the provider will (CPF.md: secrets never shown). */
	{
		const char *k;
		json_t *v;
		json_object_foreach(settings, k, v)
			if (cpf_key_is_secret(k) && json_is_string(v) && strlen(json_string_value(v)) >= 8)
				g_ptr_array_add(s->secrets, g_strdup(json_string_value(v)));
	}
}

static void
check_error_text(session *s, const char *message)
{
	FUZZ_CHECK(g_str_has_prefix(message, "prlkit: "), "message '%s'", message);
	FUZZ_CHECK(strchr(message, '\n') == NULL, "multi-line message");
	for (guint i = 0; i < s->secrets->len; i++)
		FUZZ_CHECK(!fuzz_contains(message, s->secrets->pdata[i]), "secret in '%s'", message);
}

static void
remember_task_id(session *s, json_t *result)
{
	json_t *t = json_is_object(result) ? json_object_get(result, "task_id") : NULL;

	if (t) {
		FUZZ_CHECK(json_is_string(t) && g_str_has_prefix(json_string_value(t), "pk1."),
		           "task_id is not a prlkit id");
		g_ptr_array_add(s->task_ids, g_strdup(json_string_value(t)));
	}
}

/* tasks/get on an id we handed out: state running/completed/failed, or an error that is
 * the platform's (-32603), never "bad params". */
static void
check_task_id(session *s, const char *id)
{
	cpf_request req = { 0 };
	cpf_error err = { 0 };
	json_t *r;

	req.method = g_strdup("tasks/get");
	req.params = json_pack("{s:s}", "id", id);
	r = cpf_dispatch(s->ctx, &req, &err);
	if (r) {
		const char *st = json_string_value(json_object_get(r, "state"));
		FUZZ_CHECK(st && (strcmp(st, "running") == 0 || strcmp(st, "completed") == 0 ||
		                  strcmp(st, "failed") == 0), "tasks/get state '%s'", st ? st : "");
		if (strcmp(st, "completed") == 0)
			FUZZ_CHECK(json_is_object(json_object_get(r, "output")), "completed, no output");
		if (strcmp(st, "failed") == 0) {
			json_t *e = json_object_get(r, "error");
			FUZZ_CHECK(json_is_object(e) && json_is_string(json_object_get(e, "message")),
			           "failed, no error");
			check_error_text(s, json_string_value(json_object_get(e, "message")));
		}
		json_decref(r);
	} else {
		FUZZ_CHECK(err.code != CPF_CODE_PARAMS, "our own task id rejected: %s (%s)",
		           err.message, id);
		check_error_text(s, err.message);
	}
	cpf_error_clear(&err);
	cpf_request_clear(&req);
}

typedef struct entry {
	gboolean parsed;
	cpf_request req;
	cpf_error err;
} entry;

static void
answer(session *s, entry *e)
{
	json_t *result;

	s->requests++;
	if (!e->parsed) {
		check_error_text(s, e->err.message);
		cpf_write_error(s->writer, &e->err);
		return;
	}
	result = cpf_dispatch(s->ctx, &e->req, &e->err);
	if (result) {
		remember_task_id(s, result);
		cpf_write_result(s->writer, result);
	} else {
		FUZZ_CHECK(e->err.message != NULL, "%s failed without a message", e->req.method);
		check_error_text(s, e->err.message);
		cpf_write_error(s->writer, &e->err);
	}
}

/* The reply stream: one valid envelope per request, nothing else. */
static void
check_output(session *s)
{
	g_autofree char *out = NULL;
	off_t len = lseek(s->out_fd, 0, SEEK_END);
	gchar **lines;
	guint n = 0;

	FUZZ_CHECK(len >= 0, "lseek");
	out = g_malloc((gsize)len + 1);
	FUZZ_CHECK(pread(s->out_fd, out, (gsize)len, 0) == len, "pread");
	out[len] = '\0';
	FUZZ_CHECK(len == 0 || out[len - 1] == '\n', "reply stream does not end a line");
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] && lines[i][0]; i++, n++) {
		json_error_t jerr;
		json_t *o = json_loads(lines[i], 0, &jerr);
		json_t *e;

		FUZZ_CHECK(json_is_object(o), "reply %u is not a JSON object: %s", i, lines[i]);
		e = json_object_get(o, "error");
		if (json_object_get(o, "result")) {
			FUZZ_CHECK(json_object_size(o) == 1, "reply %u: extra members", i);
		} else {
			FUZZ_CHECK(json_object_size(o) == 1 && json_is_object(e) &&
			           json_object_size(e) == 2 &&
			           json_is_integer(json_object_get(e, "code")) &&
			           json_is_string(json_object_get(e, "message")),
			           "reply %u is no envelope: %s", i, lines[i]);
		}
		json_decref(o);
	}
	g_strfreev(lines);
	FUZZ_CHECK(n == s->requests, "%u replies for %u requests", n, s->requests);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cpf_options opts = { 0 };
	session s = { 0 };
	g_autoptr(GError) error = NULL;
	cpf_reader *reader;
	int in_fd;
	PRL_UINT32 handles = 0;
	gboolean more = TRUE;

	s.state_dir = g_build_filename(state_root, "state", NULL);
	remove_tree(s.state_dir);   /* every input starts from the seed inventory */
	s.secrets = g_ptr_array_new_with_free_func(g_free);
	s.task_ids = g_ptr_array_new_with_free_func(g_free);

	in_fd = memfd_create("fuzz-cpf-in", MFD_CLOEXEC);
	s.out_fd = memfd_create("fuzz-cpf-out", MFD_CLOEXEC);
	FUZZ_CHECK(in_fd >= 0 && s.out_fd >= 0, "memfd_create: %s", g_strerror(errno));
	FUZZ_CHECK(size == 0 || write(in_fd, data, size) == (ssize_t)size, "write");
	lseek(in_fd, 0, SEEK_SET);

	FUZZ_CHECK(PRL_SUCCEEDED(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0)), "init");
	opts.driver = (char *)"sim";
	opts.defaults = json_pack("{s:s,s:s}", "state_dir", s.state_dir, "speed", "0");
	opts.wait_ms = WAIT_MS;
	s.ctx = cpf_ctx_new(&opts, &error);
	FUZZ_CHECK(s.ctx != NULL, "cpf_ctx_new: %s", error ? error->message : "");
	s.writer = cpf_writer_new(s.out_fd, CPF_STYLE_JSONRPC);
	reader = cpf_reader_new(in_fd, MAX_LINE);

	/* As cpf-main.c's loop: a batch of buffered lines, prefetch, answers in order. */
	while (more && s.requests < MAX_REQUESTS) {
		entry batch[BATCH];
		cpf_request *reqs[BATCH];
		guint n = 0;
		const char *line = NULL;
		gsize len = 0;
		cpf_read_status st = cpf_reader_next(reader, &line, &len);

		while (st == CPF_READ_LINE || st == CPF_READ_TOO_LARGE) {
			entry *e = &batch[n];
			memset(e, 0, sizeof(*e));
			if (st == CPF_READ_TOO_LARGE)
				cpf_error_set(&e->err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
				              "parse error: request too large (limit %d bytes)", MAX_LINE);
			else if (cpf_request_parse(line, len, CPF_DEFAULT_MAX_DEPTH, &e->req, &e->err))
				e->parsed = TRUE;
			if (e->parsed && strcmp(e->req.method, "provider/connect") == 0)
				pin_connect(&s, &e->req);
			if (++n == BATCH)
				break;
			st = cpf_reader_next_buffered(reader, &line, &len);
		}
		if (n == 0)
			more = FALSE;
		for (guint i = 0; i < n; i++)
			reqs[i] = batch[i].parsed ? &batch[i].req : NULL;
		for (guint i = 0; i < n; i++) {
			if (reqs[i] && !reqs[i]->prefetch)
				cpf_prefetch(s.ctx, reqs + i, n - i);
			answer(&s, &batch[i]);
			if (batch[i].parsed)
				cpf_request_clear(&batch[i].req);
			cpf_error_clear(&batch[i].err);
		}
	}
	/* Every id handed out resolves, in this session (if still connected). */
	for (guint i = 0; i < s.task_ids->len; i++)
		check_task_id(&s, s.task_ids->pdata[i]);
	check_output(&s);

	cpf_reader_free(reader);
	cpf_writer_free(s.writer);
	cpf_ctx_free(s.ctx);
	json_decref(opts.defaults);
	PrlApi_Deinit();
	FUZZ_CHECK(PRL_SUCCEEDED(PrlDbg_GetHandlesNum(&handles, PHT_ERROR)) && handles == 0,
	           "%u handles left after the session", handles);
	close(in_fd);
	close(s.out_fd);
	g_ptr_array_unref(s.secrets);
	g_ptr_array_unref(s.task_ids);
	g_free(s.state_dir);
	return 0;
}

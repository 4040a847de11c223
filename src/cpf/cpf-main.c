/* prlkit-cpf — a Parallels RAS Custom Provider on top of prlkit. MIT license.
 *
 * RAS starts this program and talks to it in JSON lines over stdin/stdout (doc/cpf.md,
 * CPF.md). The main thread reads a line, answers it, and reads the next; nothing but
 * replies ever reaches stdout, and EOF ends the process at once with status 0. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <prlkit/Parallels.h>

#include "cpf-log.h"
#include "cpf-methods.h"
#include "cpf-protocol.h"

/* How long EOF may wait for the library to wind down before the process just leaves. */
#define CPF_EXIT_GRACE_MS 300

static char *opt_driver, *opt_uri, *opt_settings, *opt_log_file, *opt_log_level;
static char *opt_error_style, *opt_max_line, *opt_wait_timeout;
static gboolean opt_version;

static const GOptionEntry option_entries[] = {
	{ "driver", 'd', 0, G_OPTION_ARG_STRING, &opt_driver,
	  "Driver to use (sim, pve, libvirt, ...); provider/connect settings may choose another",
	  "NAME" },
	{ "uri", 'u', 0, G_OPTION_ARG_STRING, &opt_uri,
	  "Connection URI (sim:///dir?speed=0, pve://host:8006, libvirt+qemu:///system)", "URI" },
	{ "settings", 's', 0, G_OPTION_ARG_FILENAME, &opt_settings,
	  "JSON object of default settings, merged under what provider/connect sends", "FILE" },
	{ "log-file", 'l', 0, G_OPTION_ARG_FILENAME, &opt_log_file,
	  "Also append the log to FILE (stderr always gets it)", "FILE" },
	{ "log-level", 'v', 0, G_OPTION_ARG_STRING, &opt_log_level,
	  "error, warning, info (default) or debug", "LEVEL" },
	{ "error-code-style", 0, 0, G_OPTION_ARG_STRING, &opt_error_style,
	  "jsonrpc (default: -32700, -32601, -32602, -32603) or doc (1 for every error)",
	  "STYLE" },
	{ "max-line", 0, 0, G_OPTION_ARG_STRING, &opt_max_line,
	  "Longest request line in bytes; K/M/G suffixes allowed (default 4M)", "BYTES" },
	{ "wait-timeout", 'w', 0, G_OPTION_ARG_STRING, &opt_wait_timeout,
	  "Seconds to wait for the platform to accept an action (default 30)", "SECONDS" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
	G_OPTION_ENTRY_NULL
};

static void
die(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;

static void
die(int status, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL, *clean = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	clean = cpf_redact(msg);
	fprintf(stderr, "prlkit-cpf: %s\n", clean);
	fflush(stderr);
	/* Nothing to flush or clean up this early; leave without running exit handlers. */
	_exit(status);
}

/* "4194304", "4M", "4MiB", "512k" → bytes. */
static gboolean
parse_size(const char *text, gsize *out)
{
	g_autofree char *t = g_strstrip(g_ascii_strdown(text, -1));
	char *end = NULL;
	guint64 n;
	guint64 mult = 1;

	if (!*t || !g_ascii_isdigit(*t))
		return FALSE;
	n = g_ascii_strtoull(t, &end, 10);
	if (*end == 'k')
		mult = 1024, end++;
	else if (*end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'g')
		mult = 1024 * 1024 * 1024, end++;
	if (mult > 1 && (strcmp(end, "ib") == 0 || strcmp(end, "b") == 0))
		end += strlen(end);
	else if (mult == 1 && strcmp(end, "b") == 0)
		end++;
	if (*end || n == 0 || n > G_MAXUINT32 / mult)
		return FALSE;
	*out = (gsize)(n * mult);
	return TRUE;
}

static gboolean
parse_seconds(const char *text, guint *ms)
{
	g_autofree char *t = g_strstrip(g_strdup(text));
	char *end = NULL;
	double s = g_ascii_strtod(t, &end);

	if (!*t || *end || !(s > 0) || s > 3600)
		return FALSE;
	*ms = (guint)(s * 1000 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return TRUE;
}

static json_t *
load_settings_file(const char *path)
{
	json_error_t jerr;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!o)
		die(2, "cannot read settings file '%s': %s (line %d)", path, jerr.text, jerr.line);
	if (!json_is_object(o))
		die(2, "settings file '%s' must hold a JSON object", path);
	return o;
}

/* Keeps the reply channel for replies only: our fd is a private copy of stdout, and fd 1
 * becomes stderr, so a stray printf anywhere in the process cannot corrupt the protocol. */
static int
claim_stdout(void)
{
	int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		die(1, "cannot duplicate stdout: %s", g_strerror(errno));
	if (fcntl(STDERR_FILENO, F_GETFD) < 0) {
		/* Started with stderr closed: /dev/null takes its place, so no file opened later
		 * becomes fd 2 and receives the log. */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0 && null != STDERR_FILENO) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		die(1, "cannot redirect stdout: %s", g_strerror(errno));
	return fd;
}

typedef struct {
	GMutex lock;
	GCond cond;
	gboolean done;     /* lock */
	cpf_ctx *ctx;      /* the cleanup thread's */
} exit_state;

static gpointer
cleanup_thread(gpointer data)
{
	exit_state *es = data;
	PRL_UINT32 n = 0;

	cpf_ctx_free(es->ctx);
	if (PRL_SUCCEEDED(PrlDbg_GetHandlesNum(&n, PHT_ERROR)))
		g_debug("%u handles open at exit", n);
	PrlApi_Deinit();
	g_mutex_lock(&es->lock);
	es->done = TRUE;
	g_cond_signal(&es->cond);
	g_mutex_unlock(&es->lock);
	return NULL;
}

/* Closes the connection and the library, but never waits for the platform longer than the
 * grace period: RAS expects the process gone promptly after EOF (CPF.md §1). */
static void G_GNUC_NORETURN
finish(cpf_ctx *ctx)
{
	static exit_state es;
	gint64 deadline;
	gboolean done;

	g_mutex_init(&es.lock);
	g_cond_init(&es.cond);
	es.ctx = ctx;
	g_thread_unref(g_thread_new("cpf-exit", cleanup_thread, &es));
	deadline = g_get_monotonic_time() + CPF_EXIT_GRACE_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&es.lock);
	while (!es.done)
		if (!g_cond_wait_until(&es.cond, &es.lock, deadline))
			break;
	done = es.done;
	g_mutex_unlock(&es.lock);
	if (!done)
		g_info("exit: work still in flight in the library; leaving it to the platform");
	else
		g_debug("exit");
	cpf_log_shutdown();
	_exit(0);
}

/* Requests handled per look at the input; see the main loop. */
#define CPF_BATCH 64

/* One request line: parsed, or the error to answer it with. */
typedef struct {
	gboolean parsed;
	cpf_request req;
	cpf_error err;
} cpf_entry;

static void
entry_init(cpf_entry *e, cpf_read_status st, const char *line, gsize len, gsize max_line,
           guint64 number)
{
	memset(e, 0, sizeof(*e));
	if (st == CPF_READ_TOO_LARGE) {
		cpf_error_set(&e->err, CPF_CODE_PARSE, PRL_ERR_INVALID_ARG,
		              "parse error: request too large (limit %" G_GSIZE_FORMAT " bytes)",
		              max_line);
		g_warning("request %" G_GUINT64_FORMAT ": %s", number, e->err.message);
	} else if (cpf_request_parse(line, len, CPF_DEFAULT_MAX_DEPTH, &e->req, &e->err)) {
		e->parsed = TRUE;
	} else {
		g_info("request %" G_GUINT64_FORMAT ": %s", number, e->err.message);
	}
}

/* Answers the entry; FALSE when stdout is gone. */
static gboolean
entry_answer(cpf_entry *e, cpf_ctx *ctx, cpf_writer *w)
{
	json_t *result;

	if (!e->parsed)
		return cpf_write_error(w, &e->err);
	result = cpf_dispatch(ctx, &e->req, &e->err);
	if (result)
		return cpf_write_result(w, result);
	/* Failed connects matter most when RAS shows a provider as down. */
	if (e->err.code == CPF_CODE_INTERNAL || strcmp(e->req.method, "provider/connect") == 0)
		g_warning("%s: %s", e->req.method, e->err.message);
	else
		g_info("%s: %s", e->req.method, e->err.message);
	return cpf_write_error(w, &e->err);
}

static void
entry_clear(cpf_entry *e)
{
	if (e->parsed)
		cpf_request_clear(&e->req);
	cpf_error_clear(&e->err);
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) octx = NULL;
	g_autoptr(GError) error = NULL;
	cpf_options opts = { 0 };
	cpf_log_level level = CPF_LOG_INFO;
	cpf_error_style style = CPF_STYLE_JSONRPC;
	gsize max_line = CPF_DEFAULT_MAX_LINE;
	cpf_reader *reader;
	cpf_writer *writer;
	cpf_ctx *ctx;
	int reply_fd;
	PRL_RESULT r;
	guint64 n_requests = 0;
	gboolean stop = FALSE;

	octx = g_option_context_new("- Parallels RAS Custom Provider for prlkit");
	g_option_context_set_summary(octx,
		"Speaks the RAS Custom Provider protocol (one JSON request per line on stdin, one\n"
		"reply per line on stdout) and drives the hypervisor through prlkit.");
	g_option_context_set_description(octx,
		"Logs go to stderr and, with --log-file, to a file; never to stdout. Settings whose\n"
		"names contain secret, password, token or key are never logged.\n"
		"See prlkit-cpf(1).");
	g_option_context_add_main_entries(octx, option_entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &error))
		die(2, "%s (try --help)", error->message);
	/* main never returns (finish() leaves with _exit): free what is not needed now. */
	g_clear_pointer(&octx, g_option_context_free);
	if (argc > 1)
		die(2, "unexpected argument '%s' (try --help)", argv[1]);
	if (opt_version) {
		printf("prlkit-cpf %s (CPF protocol 1.0.0)\n", PACKAGE_VERSION);
		return 0;
	}
	if (opt_log_level && !cpf_log_level_parse(opt_log_level, &level))
		die(2, "--log-level: '%s' is not one of error, warning, info, debug", opt_log_level);
	if (opt_error_style) {
		if (g_ascii_strcasecmp(opt_error_style, "jsonrpc") == 0)
			style = CPF_STYLE_JSONRPC;
		else if (g_ascii_strcasecmp(opt_error_style, "doc") == 0)
			style = CPF_STYLE_DOC;
		else
			die(2, "--error-code-style: '%s' is not jsonrpc or doc", opt_error_style);
	}
	if (opt_max_line && (!parse_size(opt_max_line, &max_line) || max_line < 64))
		die(2, "--max-line: '%s' is not a size of at least 64 bytes", opt_max_line);
	opts.wait_ms = CPF_DEFAULT_WAIT_MS;
	if (opt_wait_timeout) {
		if (!parse_seconds(opt_wait_timeout, &opts.wait_ms))
			die(2, "--wait-timeout: '%s' is not a number of seconds (0-3600]",
			    opt_wait_timeout);
		opts.wait_from_cli = TRUE;
	}
	opts.log_level_from_cli = opt_log_level != NULL;
	opts.driver = opt_driver;
	opts.uri = opt_uri;

	signal(SIGPIPE, SIG_IGN);
#ifdef M_ARENA_MAX
	/* Replies are built on this thread from data the library's workers allocate; one malloc
	 * arena keeps the freed memory reusable instead of stranded per worker (measured: about
	 * a fifth less peak RSS on a 10,000-guest poll cycle, same speed). */
	if (!g_getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 1);
#endif
	reply_fd = claim_stdout();
	cpf_log_init(level, opt_log_file, TRUE);
	/* The library's own debug output follows ours. */
	if (opt_log_level)
		g_setenv("PRLKIT_DEBUG", level == CPF_LOG_DEBUG ? "debug" :
		         level == CPF_LOG_INFO ? "info" : level == CPF_LOG_WARNING ? "warning" : "error",
		         TRUE);

	opts.defaults = opt_settings ? load_settings_file(opt_settings) : json_object();
	cpf_log_add_secrets_from_json(opts.defaults);
	if (!opt_wait_timeout && json_object_get(opts.defaults, "wait_timeout")) {
		json_t *v = json_object_get(opts.defaults, "wait_timeout");
		g_autofree char *text = json_is_string(v) ? g_strdup(json_string_value(v))
		                                          : json_dumps(v, JSON_ENCODE_ANY);
		if (!text || !parse_seconds(text, &opts.wait_ms))
			die(2, "settings file: 'wait_timeout' is not a number of seconds (0-3600]");
	}
	if (!opt_log_level && json_is_string(json_object_get(opts.defaults, "log_level"))) {
		cpf_log_level l;
		if (cpf_log_level_parse(json_string_value(json_object_get(opts.defaults, "log_level")),
		                        &l))
			cpf_log_set_level(l);
	}

	r = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(r))
		die(1, "cannot initialize prlkit (%s)", prl_result_to_string(r));
	ctx = cpf_ctx_new(&opts, &error);
	if (!ctx)
		die(2, "%s", error->message);
	g_info("prlkit-cpf %s started (pid %d)", PACKAGE_VERSION, (int)getpid());

	reader = cpf_reader_new(STDIN_FILENO, max_line);
	writer = cpf_writer_new(reply_fd, style);
	while (!stop) {
		/* Every complete line already received (up to a batch): pipelined reads can then
		 * overlap on the platform, while replies still go out one by one, in order. */
		cpf_entry batch[CPF_BATCH];
		cpf_request *reqs[CPF_BATCH];
		guint n = 0;
		const char *line = NULL;
		gsize len = 0;
		cpf_read_status st = cpf_reader_next(reader, &line, &len);

		while (st == CPF_READ_LINE || st == CPF_READ_TOO_LARGE) {
			entry_init(&batch[n], st, line, len, max_line, ++n_requests);
			n++;
			if (n == CPF_BATCH)
				break;
			st = cpf_reader_next_buffered(reader, &line, &len);
		}
		if (n == 0)
			break;   /* EOF */
		for (guint i = 0; i < n; i++)
			reqs[i] = batch[i].parsed ? &batch[i].req : NULL;
		for (guint i = 0; i < n; i++) {
			if (reqs[i] && !reqs[i]->prefetch)
				cpf_prefetch(ctx, reqs + i, n - i);
			if (!stop && !entry_answer(&batch[i], ctx, writer)) {
				g_info("stdout closed; stopping");
				stop = TRUE;
			}
			entry_clear(&batch[i]);
		}
	}
	g_info("end of input after %" G_GUINT64_FORMAT " requests", n_requests);
	cpf_reader_free(reader);
	cpf_writer_free(writer);
	close(reply_fd);
	finish(ctx);
}

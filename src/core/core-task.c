/* Task ids: encode / decode (see core-task.h) and the jobs that resolve them. */
#include "config.h"

#include <string.h>
#include <jansson.h>
#include "core-task.h"
#include "core-conn.h"
#include "core-drv.h"
#include "core-error.h"
#include "core-info.h"
#include "core-job.h"
#include "core-ops.h"
#include "core-server.h"
#include "core-vm.h"
#include "util-log.h"

#define PK_TASK_FIELD_MAX 2048

pk_task_info *pk_task_info_new(void)
{
	return g_new0(pk_task_info, 1);
}

void pk_task_info_free(pk_task_info *t)
{
	if (t == NULL)
		return;
	g_free(t->driver);
	g_free(t->conn);
	g_free(t->vm_id);
	g_free(t->task_ref);
	g_free(t->target_vm_id);
	g_free(t->message);
	g_free(t);
}

/* ---------------------------------------------------------------- encode ---- */

static void set_string(json_t *o, const char *key, const char *value)
{
	if (value == NULL)
		return;
	char *valid = g_utf8_make_valid(value, -1);
	json_object_set_new(o, key, json_string(valid));
	g_free(valid);
}

static char *base64url_encode(const char *data, gsize len)
{
	char *b64 = g_base64_encode((const guchar *)data, len);
	gsize n = 0;
	for (char *p = b64; *p != '\0'; p++) {
		if (*p == '=')
			break;
		b64[n++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	}
	b64[n] = '\0';
	return b64;
}

/* A platform's message as the decoder accepts it (one line, bounded, no secrets): an id
 * must always resolve, whatever the platform said. */
static char *message_for_id(const char *message)
{
	char *redacted = pk_redact(message);
	char *m = g_utf8_make_valid(redacted, -1);
	g_free(redacted);
	for (char *p = m; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (strlen(m) > PK_TASK_FIELD_MAX) {
		/* Cut at a character boundary. */
		gsize n = PK_TASK_FIELD_MAX;
		while (n > 0 && ((guchar)m[n] & 0xC0) == 0x80)
			n--;
		m[n] = '\0';
	}
	return m;
}

char *pk_task_id_encode(const pk_task_info *t)
{
	json_t *o = json_object();
	set_string(o, "d", t->driver != NULL ? t->driver : "");
	set_string(o, "c", t->conn);
	json_object_set_new(o, "o", json_integer((json_int_t)t->op));
	set_string(o, "v", t->vm_id);
	set_string(o, "r", t->task_ref);
	set_string(o, "t", t->target_vm_id);
	if (t->finished) {
		json_t *x = json_object();
		json_object_set_new(x, "c", json_integer((json_int_t)t->code));
		if (t->message != NULL) {
			char *m = message_for_id(t->message);
			set_string(x, "m", m);
			g_free(m);
		}
		json_object_set_new(o, "x", x);
	}
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	char *b64 = base64url_encode(text, strlen(text));
	char *id = g_strconcat(PK_TASK_ID_PREFIX, b64, NULL);
	free(text);
	g_free(b64);
	return id;
}

/* ---------------------------------------------------------------- decode ---- */

static gboolean bad(GError **error, const char *why)
{
	g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG, "invalid task id: %s", why);
	return FALSE;
}

static gboolean get_string(json_t *o, const char *key, gboolean required, char **out,
                           GError **error)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL) {
		if (required)
			return bad(error, "a required member is missing");
		return TRUE;
	}
	if (!json_is_string(v))
		return bad(error, "a member has the wrong type");
	const char *s = json_string_value(v);
	gsize len = json_string_length(v);
	if (len > PK_TASK_FIELD_MAX || strlen(s) != len)
		return bad(error, "a member is too long or holds a NUL");
	for (gsize i = 0; i < len; i++)
		if ((guchar)s[i] < 0x20 || s[i] == 0x7f)
			return bad(error, "a member holds control characters");
	*out = g_strdup(s);
	return TRUE;
}

static gboolean get_int(json_t *o, const char *key, gint64 min, gint64 max, gint64 *out,
                        GError **error)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL)
		return bad(error, "a required member is missing");
	if (!json_is_integer(v))
		return bad(error, "a member has the wrong type");
	json_int_t n = json_integer_value(v);
	if (n < min || n > max)
		return bad(error, "a number is out of range");
	*out = n;
	return TRUE;
}

static gboolean only_keys(json_t *o, const char *const *keys, GError **error)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		gboolean known = FALSE;
		for (const char *const *p = keys; *p != NULL && !known; p++)
			known = strcmp(*p, k) == 0;
		if (!known)
			return bad(error, "unknown member");
	}
	return TRUE;
}

/* base64url without padding → bytes (NUL-terminated); NULL if not base64url. */
static char *base64url_decode(const char *s, gsize *len)
{
	gsize n = strlen(s);
	if (n == 0 || n % 4 == 1)
		return NULL;
	GString *std = g_string_sized_new(n + 3);
	for (gsize i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (!g_ascii_isalnum(ch)) {
			g_string_free(std, TRUE);
			return NULL;
		}
		g_string_append_c(std, ch);
	}
	while (std->len % 4 != 0)
		g_string_append_c(std, '=');
	guchar *raw = g_base64_decode(std->str, len);
	g_string_free(std, TRUE);
	char *out = g_malloc(*len + 1);
	memcpy(out, raw, *len);
	out[*len] = '\0';
	g_free(raw);
	return out;
}

gboolean pk_task_id_decode(const char *id, pk_task_info **out, GError **error)
{
	static const char *const top_keys[] = { "d", "c", "o", "v", "r", "t", "x", NULL };
	static const char *const outcome_keys[] = { "c", "m", NULL };
	*out = NULL;
	if (id == NULL || *id == '\0')
		return bad(error, "it is empty");
	gsize id_len = strnlen(id, PK_TASK_ID_MAX_LEN + 1);
	if (id_len > PK_TASK_ID_MAX_LEN)
		return bad(error, "it is too long");
	if (!g_str_has_prefix(id, PK_TASK_ID_PREFIX)) {
		if (g_str_has_prefix(id, "pk") && g_ascii_isdigit(id[2]))
			return bad(error, "it was made by a newer prlkit (unsupported version)");
		return bad(error, "it is not a prlkit task id");
	}
	gsize len = 0;
	char *json_text = base64url_decode(id + strlen(PK_TASK_ID_PREFIX), &len);
	if (json_text == NULL)
		return bad(error, "it is not base64url");
	json_error_t jerr;
	json_t *o = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
	g_free(json_text);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return bad(error, "its payload is not a JSON object");
	}

	pk_task_info *t = pk_task_info_new();
	gint64 op = 0;
	gboolean ok = only_keys(o, top_keys, error) &&
	              get_string(o, "d", TRUE, &t->driver, error) &&
	              get_string(o, "c", FALSE, &t->conn, error) &&
	              get_int(o, "o", 0, G_MAXINT32, &op, error) &&
	              get_string(o, "v", FALSE, &t->vm_id, error) &&
	              get_string(o, "r", FALSE, &t->task_ref, error) &&
	              get_string(o, "t", FALSE, &t->target_vm_id, error);
	t->op = (PRL_JOB_OPERATION_CODE)op;
	json_t *x = json_object_get(o, "x");
	if (ok && x != NULL) {
		gint64 code = 0;
		ok = (json_is_object(x) || bad(error, "the outcome is not an object")) &&
		     only_keys(x, outcome_keys, error) &&
		     get_int(x, "c", G_MININT32, G_MAXINT32, &code, error) &&
		     get_string(x, "m", FALSE, &t->message, error);
		t->finished = TRUE;
		t->code = (PRL_RESULT)code;
	}
	if (ok && x == NULL && (t->task_ref == NULL || *t->task_ref == '\0'))
		ok = bad(error, "it names neither a platform task nor an outcome");
	json_decref(o);
	if (!ok) {
		pk_task_info_free(t);
		return FALSE;
	}
	*out = t;
	return TRUE;
}

/* ------------------------------------------------------------------ jobs ---- */

typedef struct {
	pk_task_info *t;
	char *id;
} task_args;

static void task_args_free(gpointer p)
{
	task_args *a = p;
	pk_task_info_free(a->t);
	g_free(a->id);
	g_free(a);
}

static gboolean is_clone(PRL_JOB_OPERATION_CODE op)
{
	return op == PJOC_VM_CLONE || op == PJOC_VM_CLONE_FROM_SNAPSHOT;
}

/* A task of another driver cannot be resolved on this connection. */
static gboolean check_driver(pk_conn *c, const pk_task_info *t, GError **error)
{
	const char *mine = pk_conn_get_driver(c)->name;
	if (*t->driver != '\0' && g_ascii_strcasecmp(t->driver, mine) != 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND,
		            "the task belongs to the %s driver; this connection uses the %s driver",
		            t->driver, mine);
		return FALSE;
	}
	return TRUE;
}

static gboolean info_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	task_args *a = data;
	pk_task_info *t = a->t;
	pk_conn *c = pk_job_get_conn(job);
	if (!check_driver(c, t, error))
		return FALSE;

	gboolean finished = t->finished;
	PRL_RESULT code = t->code;
	char *message = g_strdup(t->message);
	char *target = g_strdup(t->target_vm_id);
	if (!finished) {
		pk_task_status st = { 0 };
		if (!pk_drv_task_status(c, t->task_ref, &st, cancel, error)) {
			pk_task_status_clear(&st);
			g_free(message);
			g_free(target);
			return FALSE;
		}
		finished = st.finished;
		code = st.finished ? st.code : PRL_ERR_OPERATION_PENDING;
		if (st.message != NULL) {
			g_free(message);
			message = pk_redact(st.message);
		}
		if (st.result_vm_id != NULL && *st.result_vm_id != '\0') {
			g_free(target);
			target = g_strdup(st.result_vm_id);
		}
		pk_task_status_clear(&st);
	}

	pk_result *res = NULL;
	if (finished && PRL_SUCCEEDED(code)) {
		res = pk_result_new();
		pk_vm_data *d = NULL;
		GError *local = NULL;
		if (is_clone(t->op) && target != NULL) {
			/* The clone may be gone since: the task still completed, and it still made
			 * that VM (a handle with just its id). */
			pk_vm *vm = NULL;
			if (pk_drv_vm_get(c, target, 0, &d, cancel, &local)) {
				vm = pk_vm_from_data(c, pk_job_get_server(job), d);
			} else {
				PK_DEBUG("task result VM %s: %s", target, local->message);
				if (g_error_matches(local, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND)) {
					vm = pk_conn_lookup_vm(c, target);
					if (vm == NULL)
						vm = pk_vm_from_data(c, pk_job_get_server(job),
						                     pk_vm_data_new_identity(target, NULL, FALSE,
						                                             VMS_UNKNOWN, NULL));
				}
				g_error_free(local);
			}
			if (vm != NULL) {
				pk_result_add_object(res, vm);
				pk_object_unref(vm);
			}
		}
	}
	pk_running_task *rt = pk_running_task_new(a->id, finished, code, message, res,
	                                          target != NULL ? target : t->vm_id);
	pk_result_add_object(pk_job_get_result(job), rt);
	pk_object_unref(rt);
	pk_object_unref_ptr(res);
	g_free(message);
	g_free(target);
	return TRUE;
}

/* The checks both resolving jobs share; NULL job handle means "submit it". */
static PRL_HANDLE task_job(pk_server *srv, PRL_JOB_OPERATION_CODE op, const char *task_id,
                           task_args **args, pk_job **job)
{
	GError *error = NULL;
	pk_task_info *t = NULL;
	*job = pk_job_new(op, srv, NULL);
	if (!pk_task_id_decode(task_id, &t, &error)) {
		PRL_HANDLE h = pk_job_fail(*job, error->code, "%s", error->message);
		g_error_free(error);
		return h;
	}
	if (pk_job_get_conn(*job) == NULL) {
		pk_task_info_free(t);
		return pk_job_fail(*job, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER,
		                   "the server handle is not connected (PrlSrv_Login first)");
	}
	*args = g_new0(task_args, 1);
	(*args)->t = t;
	(*args)->id = g_strdup(task_id);
	return PRL_INVALID_HANDLE;
}

PRL_HANDLE pk_task_get_info(pk_server *srv, const char *task_id)
{
	task_args *a = NULL;
	pk_job *job = NULL;
	PRL_HANDLE h = task_job(srv, PJOC_SRV_GET_TASK_INFO, task_id, &a, &job);
	if (h != PRL_INVALID_HANDLE)
		return h;
	return pk_job_submit(job, info_step, a, task_args_free);
}

static gboolean attach_done(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	task_args *a = data;
	return pk_ops_complete(job, a->t->op, a->t->vm_id, cancel, error);
}

static gboolean attach_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	task_args *a = data;
	pk_task_info *t = a->t;
	if (!check_driver(pk_job_get_conn(job), t, error))
		return FALSE;
	if (t->target_vm_id != NULL)
		pk_job_accepted(job, NULL, t->target_vm_id);
	if (!t->finished) {
		pk_job_await_task(job, t->task_ref, attach_done);
		return TRUE;
	}
	if (PRL_FAILED(t->code)) {
		g_set_error_literal(error, PK_ERROR, t->code,
		                    t->message != NULL ? t->message
		                    : pk_result_description(t->code) != NULL
		                    ? pk_result_description(t->code) : "the task failed");
		return FALSE;
	}
	pk_job_then(job, attach_done);
	return TRUE;
}

PRL_HANDLE pk_task_attach(pk_server *srv, const char *task_id)
{
	task_args *a = NULL;
	pk_job *job = NULL;
	PRL_HANDLE h = task_job(srv, PJOC_SRV_ATTACH_TO_LOST_TASK, task_id, &a, &job);
	if (h != PRL_INVALID_HANDLE)
		return h;
	pk_job_set_task_origin(job, a->t->op, a->t->vm_id);
	return pk_job_submit(job, attach_step, a, task_args_free);
}

/* Helpers for the Proxmox VE tests (see test-pve-fake.h). */
#include "config.h"

#include <signal.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-pve-fake.h"
#include "core-conn.h"
#include "util-settings.h"

static const char *fake_script(void)
{
	static char *path;
	if (path == NULL) {
		const char *top = g_getenv("top_srcdir");
		path = g_build_filename(top != NULL && *top ? top : PK_TOP_SRCDIR, "tests", "fakes", "pve",
		                        "fake-pve.py", NULL);
	}
	return path;
}

guint tp_scale(void)
{
	const char *pre = g_getenv("LD_PRELOAD");
	return pre != NULL && strstr(pre, "vgpreload") != NULL ? 5 : 1;
}

gboolean tp_fake_available(void)
{
	g_autofree char *py = g_find_program_in_path("python3");
	g_autofree char *ossl = g_find_program_in_path("openssl");
	return py != NULL && ossl != NULL && g_file_test(fake_script(), G_FILE_TEST_EXISTS);
}

/* The fake must not outlive a test that crashes (it would hold the TAP pipe open). */
static void child_setup(gpointer data)
{
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
}

static char *dup_member(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	g_assert_nonnull(v);
	return g_strdup(v);
}

tp_fake *tp_fake_start(const char *first_arg, ...)
{
	tp_fake *f = g_new0(tp_fake, 1);
	const char *base = g_getenv("PRLKIT_TEST_TMPDIR");
	f->dir = g_build_filename(base != NULL && *base ? base : g_get_tmp_dir(), "fake-pve-XXXXXX",
	                          NULL);
	g_assert_nonnull(g_mkdtemp(f->dir));
	g_autofree char *ready = g_build_filename(f->dir, "ready.json", NULL);

	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *ppid = g_strdup_printf("%d", (int)getpid());
	g_ptr_array_add(argv, (gpointer) "python3");
	g_ptr_array_add(argv, (gpointer)fake_script());
	g_ptr_array_add(argv, (gpointer) "--parent-pid");
	g_ptr_array_add(argv, ppid);
	g_ptr_array_add(argv, (gpointer) "--ready-file");
	g_ptr_array_add(argv, ready);
	g_ptr_array_add(argv, (gpointer) "--cert-dir");
	g_ptr_array_add(argv, f->dir);
	g_ptr_array_add(argv, (gpointer) "--auth-delay-ms");
	g_ptr_array_add(argv, (gpointer) "0");
	g_ptr_array_add(argv, (gpointer) "--task-ms");
	g_ptr_array_add(argv, (gpointer) "10");
	g_ptr_array_add(argv, (gpointer) "--clone-ms");
	g_ptr_array_add(argv, (gpointer) "20");
	va_list ap;
	va_start(ap, first_arg);
	for (const char *a = first_arg; a != NULL; a = va_arg(ap, const char *))
		g_ptr_array_add(argv, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(argv, NULL);

	g_autoptr(GError) error = NULL;
	gboolean ok = g_spawn_async(NULL, (char **)argv->pdata, NULL,
	                            G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                            G_SPAWN_STDOUT_TO_DEV_NULL, child_setup, NULL, &f->pid, &error);
	g_assert_no_error(error);
	g_assert_true(ok);

	for (int i = 0; i < 1500 && !g_file_test(ready, G_FILE_TEST_EXISTS); i++) {
		int status;
		if (waitpid(f->pid, &status, WNOHANG) == f->pid)
			g_error("fake-pve.py exited during start-up (status %d)", status);
		g_usleep(10000);
	}
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(ready, &text, NULL, NULL));
	json_t *facts = json_loads(text, 0, NULL);
	g_assert_nonnull(facts);
	f->port = (int)json_integer_value(json_object_get(facts, "port"));
	f->host = g_strdup_printf("127.0.0.1:%d", f->port);
	f->ca_file = dup_member(facts, "ca_file");
	f->cert_file = dup_member(facts, "cert_file");
	f->fingerprint = dup_member(facts, "fingerprint");
	f->token_id = dup_member(facts, "token_id");
	f->token_secret = dup_member(facts, "token_secret");
	f->user = dup_member(facts, "user");
	f->password = dup_member(facts, "password");
	f->token_name = g_strdup(strchr(f->token_id, '!') + 1);
	json_decref(facts);

	g_autofree char *url = g_strdup_printf("https://%s", f->host);
	pk_http_options o = { .base_url = url, .tls_fingerprint = f->fingerprint,
	                      .timeout_ms = 20000, .max_parallel = 2, .max_retries = 0 };
	f->admin = pk_http_new(&o, &error);
	g_assert_no_error(error);
	return f;
}

static void rm_rf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		g_remove(p);
	}
	if (d != NULL)
		g_dir_close(d);
	g_rmdir(dir);
}

void tp_fake_stop(tp_fake *f)
{
	if (f == NULL)
		return;
	pk_http_free(f->admin);
	kill(f->pid, SIGTERM);
	int status;
	for (int i = 0; i < 300; i++) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid)
			break;
		if (i == 299) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, &status, 0);
		}
		g_usleep(10000);
	}
	g_spawn_close_pid(f->pid);
	rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->host);
	g_free(f->ca_file);
	g_free(f->cert_file);
	g_free(f->fingerprint);
	g_free(f->token_id);
	g_free(f->token_name);
	g_free(f->token_secret);
	g_free(f->user);
	g_free(f->password);
	g_free(f);
}

json_t *tp_admin(tp_fake *f, const char *method, const char *path, const char *body)
{
	g_autofree char *full = g_strconcat("/_fake", path, NULL);
	pk_http_request req = { .method = method, .path = full, .content_type = "application/json",
	                        .body = body, .body_len = body ? strlen(body) : 0 };
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pk_http_send(f->admin, &req, &resp, NULL, &error));
	g_assert_no_error(error);
	if (resp->status != 200)
		g_error("fake control %s %s failed: %u %s %s", method, path, resp->status, resp->reason,
		        resp->body);
	json_t *root = json_loads(resp->body, JSON_DECODE_ANY, NULL);
	g_assert_nonnull(root);
	json_t *data = json_incref(json_object_get(root, "data"));
	json_decref(root);
	return data != NULL ? data : json_null();
}

void tp_admin_printf(tp_fake *f, const char *method, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *body = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	json_decref(tp_admin(f, method, path, body));
}

gint64 tp_counter(tp_fake *f, const char *key)
{
	json_t *c = tp_admin(f, "GET", "/counters", NULL);
	json_t *v = json_object_get(c, key);
	gint64 n = json_is_integer(v) ? json_integer_value(v) : 0;
	json_decref(c);
	return n;
}

void tp_counters_reset(tp_fake *f)
{
	json_decref(tp_admin(f, "POST", "/counters/reset", NULL));
}

void tp_fault(tp_fake *f, const char *rule_json)
{
	json_decref(tp_admin(f, "POST", "/faults", rule_json));
}

void tp_faults_clear(tp_fake *f)
{
	json_decref(tp_admin(f, "DELETE", "/faults", NULL));
}

json_t *tp_vm(tp_fake *f, guint vmid)
{
	g_autofree char *p = g_strdup_printf("/vms/%u", vmid);
	return tp_admin(f, "GET", p, NULL);
}

/* Fast test defaults, unless extra sets them itself. */
static void add_defaults(GString *s, const char *extra)
{
	static const struct { const char *key; guint value; } defaults[] = {
		{ "task_poll_ms", 10 }, { "lock_wait", 5 }, { "request_timeout", 10 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(defaults); i++) {
		g_autofree char *key = g_strdup_printf("\"%s\"", defaults[i].key);
		guint v = defaults[i].value * (strcmp(defaults[i].key, "task_poll_ms") ? tp_scale() : 1);
		if (extra == NULL || strstr(extra, key) == NULL)
			g_string_append_printf(s, ",%s:\"%u\"", key, v);
	}
	if (extra != NULL)
		g_string_append_printf(s, ",%s", extra);
	g_string_append_c(s, '}');
}

char *tp_settings(tp_fake *f, const char *extra)
{
	GString *s = g_string_new(NULL);
	g_string_printf(s, "{\"host\":\"%s\",\"tls_fingerprint\":\"%s\",\"username\":\"%s\","
	                "\"token_name\":\"%s\",\"token_secret\":\"%s\"",
	                f->host, f->fingerprint, f->user, f->token_name, f->token_secret);
	add_defaults(s, extra);
	return g_string_free(s, FALSE);
}

char *tp_settings_ticket(tp_fake *f, const char *extra)
{
	GString *s = g_string_new(NULL);
	g_string_printf(s, "{\"host\":\"%s\",\"tls_fingerprint\":\"%s\",\"username\":\"%s\","
	                "\"password\":\"%s\"", f->host, f->fingerprint, f->user, f->password);
	add_defaults(s, extra);
	return g_string_free(s, FALSE);
}

pk_conn *tp_open_full(const char *uri_text, const char *settings_json, pk_open_status *status,
                      GError **error)
{
	g_autoptr(GHashTable) settings = pk_settings_new();
	g_autoptr(GUri) uri = NULL;
	*status = PK_OPEN_ERROR;
	if (uri_text != NULL) {
		uri = g_uri_parse(uri_text, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS, error);
		if (uri == NULL)
			return NULL;
		if (g_uri_get_query(uri) != NULL &&
		    !pk_settings_merge_uri_query(settings, g_uri_get_query(uri), error))
			return NULL;
	}
	if (!pk_settings_merge_json(settings, settings_json, error))
		return NULL;
	pk_conn *c = pk_conn_new(&pve_driver, uri, settings);
	*status = pve_driver.open(c, uri, settings, NULL, error);
	if (*status != PK_OPEN_OK) {
		pk_conn_unref(c);
		return NULL;
	}
	return c;
}

pk_conn *tp_open(tp_fake *f, const char *extra)
{
	g_autofree char *s = tp_settings(f, extra);
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	pk_conn *c = tp_open_full(NULL, s, &st, &error);
	g_assert_no_error(error);
	g_assert_cmpint(st, ==, PK_OPEN_OK);
	return c;
}

void tp_close(pk_conn *c)
{
	if (c == NULL)
		return;
	pve_driver.close(c);
	pk_conn_unref(c);
}

PRL_RESULT tp_task_wait(pk_conn *c, const char *ref, char **message, char **result_vm)
{
	g_assert_nonnull(ref);
	for (int i = 0; i < 3000; i++) {
		pk_task_status st = { 0 };
		g_autoptr(GError) error = NULL;
		g_assert_true(pve_driver.task->status(c, ref, &st, NULL, &error));
		g_assert_no_error(error);
		if (st.finished) {
			PRL_RESULT code = st.code;
			if (message != NULL)
				*message = g_steal_pointer(&st.message);
			if (result_vm != NULL)
				*result_vm = g_steal_pointer(&st.result_vm_id);
			pk_task_status_clear(&st);
			return code;
		}
		pk_task_status_clear(&st);
		g_usleep(1000 * pve_driver.task->poll_interval_ms(c, ref));
	}
	g_error("task %s did not finish", ref);
	return PRL_ERR_UNEXPECTED;
}

pk_vm_data *tp_get(pk_conn *c, const char *id)
{
	pk_vm_data *d = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.vm->get(c, id, 0, &d, NULL, &error));
	g_assert_no_error(error);
	return d;
}

char *tp_find(pk_conn *c, const char *name)
{
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	char *id = NULL;
	for (guint i = 0; i < list->len && id == NULL; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		if (g_strcmp0(d->name, name) == 0)
			id = g_strdup(d->id);
	}
	g_ptr_array_unref(list);
	return id;
}

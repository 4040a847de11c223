/* util-http against the fake Proxmox server (real HTTPS): TLS verification (system CAs,
 * ca_file, fingerprint pinning checked before any request is sent, insecure opt-in),
 * keep-alive, reason phrases, retries of idempotent requests only, every injected fault
 * (5xx, slow, dropped, reset, truncated, hung) ending in a clean error within the deadline,
 * cancellation, bounded parallelism, gzip. "Within the deadline" is checked with a wide
 * margin: these tests look for hangs, not for speed. */
#include "config.h"

#include <string.h>

#include "test-pve-fake.h"

static tp_fake *fake;

/* Warnings logged by the library, captured (GTest cannot expect structured log messages). */
static GMutex warn_lock;
static GString *warnings;

static GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields,
                                       gsize n_fields, gpointer data)
{
	if (level & G_LOG_LEVEL_WARNING) {
		for (gsize i = 0; i < n_fields; i++)
			if (strcmp(fields[i].key, "MESSAGE") == 0) {
				g_mutex_lock(&warn_lock);
				g_string_append_printf(warnings, "%s\n", (const char *)fields[i].value);
				g_mutex_unlock(&warn_lock);
			}
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, data);
}

static const char *token_header(void)
{
	static char *h;
	if (h == NULL)
		h = g_strdup_printf("Authorization: PVEAPIToken=%s=%s", fake->token_id, fake->token_secret);
	return h;
}

static pk_http *client(const char *ca_file, const char *fingerprint, gboolean insecure,
                       guint timeout_ms, guint max_parallel, GError **error)
{
	g_autofree char *url = g_strdup_printf("https://%s", fake->host);
	/* Timeouts here are for a normal run; valgrind gets more (tp_scale). */
	pk_http_options o = { .base_url = url, .ca_file = ca_file, .tls_fingerprint = fingerprint,
	                      .insecure_skip_verify = insecure, .timeout_ms = timeout_ms * tp_scale(),
	                      .max_parallel = max_parallel, .max_retries = -1 };
	return pk_http_new(&o, error);
}

static pk_http *pinned(guint timeout_ms)
{
	g_autoptr(GError) error = NULL;
	pk_http *h = client(NULL, fake->fingerprint, FALSE, timeout_ms, 4, &error);
	g_assert_no_error(error);
	return h;
}

static gboolean get(pk_http *h, const char *path, pk_http_response **resp, GError **error)
{
	const char *headers[] = { token_header(), NULL };
	pk_http_request req = { .method = "GET", .path = path, .headers = headers,
	                        .flags = PK_HTTP_IDEMPOTENT };
	return pk_http_send(h, &req, resp, NULL, error);
}

static gboolean post(pk_http *h, const char *path, const char *form, pk_http_response **resp,
                     GError **error)
{
	const char *headers[] = { token_header(), NULL };
	pk_http_request req = { .method = "POST", .path = path, .headers = headers,
	                        .content_type = "application/x-www-form-urlencoded",
	                        .body = form, .body_len = form ? strlen(form) : 0 };
	return pk_http_send(h, &req, resp, NULL, error);
}

static void get_ok(pk_http *h, const char *path)
{
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok = get(h, path, &resp, &error);
	g_assert_no_error(error);
	g_assert_true(ok);
	g_assert_cmpuint(resp->status, ==, 200);
}

static void setup(void)
{
	tp_faults_clear(fake);
	tp_counters_reset(fake);
}

/* ---------- TLS ---------- */

static void test_tls_unknown_refused(void)
{
	setup();
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_http) h = client(NULL, NULL, FALSE, 5000, 1, &error);
	g_assert_no_error(error);
	g_autoptr(pk_http_response) resp = NULL;
	g_assert_false(get(h, "/api2/json/version", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL);
	/* The message tells what to pin, and the server never saw a request. */
	g_assert_nonnull(strstr(error->message, fake->fingerprint));
	g_assert_nonnull(strstr(error->message, "ca_file"));
	g_assert_cmpint(tp_counter(fake, "_total"), ==, 0);
	g_assert_null(strstr(error->message, fake->token_secret));
}

static void test_tls_ca_file(void)
{
	setup();
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_http) h = client(fake->ca_file, NULL, FALSE, 5000, 1, &error);
	g_assert_no_error(error);
	get_ok(h, "/api2/json/version");
	/* A CA that did not sign the server's certificate: refused. */
	g_autofree char *other = g_build_filename(fake->dir, "other-ca.pem", NULL);
	g_autofree char *other_key = g_build_filename(fake->dir, "other-ca.key", NULL);
	const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
	                       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", other_key,
	                       "-out", other, "-days", "1", "-subj", "/CN=Some Other CA", NULL };
	gint status = -1;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
	                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
	                           G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL));
	g_assert_cmpint(status, ==, 0);
	g_autoptr(pk_http) h2 = client(other, NULL, FALSE, 5000, 1, &error);
	g_assert_no_error(error);
	g_autoptr(pk_http_response) resp = NULL;
	g_assert_false(get(h2, "/api2/json/version", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL);
	g_clear_error(&error);
	g_assert_null(client("/nonexistent/ca.pem", NULL, FALSE, 5000, 1, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_nonnull(strstr(error->message, "ca_file"));
}

static void test_tls_fingerprint(void)
{
	setup();
	g_autoptr(pk_http) good = pinned(5000);
	get_ok(good, "/api2/json/version");
	g_assert_cmpint(tp_counter(fake, "GET /version"), ==, 1);

	/* Lower case, no colons: the same pin. */
	g_autofree char *bare = g_ascii_strdown(fake->fingerprint, -1);
	g_strdelimit(bare, ":", ' ');
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_http) good2 = client(NULL, bare, FALSE, 5000, 1, &error);
	g_assert_no_error(error);
	get_ok(good2, "/api2/json/version");

	/* One byte off: refused during the handshake, before any request (or credential). */
	g_autofree char *wrong = g_strdup(fake->fingerprint);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	g_autoptr(pk_http) bad = client(NULL, wrong, FALSE, 5000, 1, &error);
	g_assert_no_error(error);
	tp_counters_reset(fake);
	g_autoptr(pk_http_response) resp = NULL;
	g_assert_false(get(bad, "/api2/json/version", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL);
	g_assert_nonnull(strstr(error->message, fake->fingerprint));
	g_assert_nonnull(strstr(error->message, "pinned"));
	g_assert_cmpint(tp_counter(fake, "_total"), ==, 0);
	/* A pin beats insecure_skip_verify. */
	g_clear_error(&error);
	g_autoptr(pk_http) bad2 = client(NULL, wrong, TRUE, 5000, 1, &error);
	g_assert_no_error(error);
	g_assert_false(get(bad2, "/api2/json/version", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL);
}

static void test_tls_insecure(void)
{
	setup();
	g_autoptr(GError) error = NULL;
	g_string_truncate(warnings, 0);
	g_autoptr(pk_http) h = client(NULL, NULL, TRUE, 5000, 1, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(warnings->str, "insecure_skip_verify"));
	get_ok(h, "/api2/json/version");
}

/* ---------- connections ---------- */

static void test_keepalive(void)
{
	setup();
	g_autoptr(pk_http) h = pinned(5000);
	for (int i = 0; i < 10; i++)
		get_ok(h, "/api2/json/cluster/resources?type=vm");
	pk_http_stats st;
	pk_http_get_stats(h, &st);
	g_assert_cmpuint(st.requests, ==, 10);
	g_assert_cmpuint(st.connects, ==, 1);
	g_assert_cmpint(tp_counter(fake, "_connections"), ==, 1);
	g_assert_cmpint(tp_counter(fake, "GET /cluster/resources"), ==, 10);
}

static void test_reason_phrase(void)
{
	setup();
	g_autoptr(pk_http) h = pinned(5000);
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(get(h, "/api2/json/nodes/pve1/qemu/999/config", &resp, &error));
	g_assert_cmpuint(resp->status, ==, 500);
	g_assert_cmpstr(resp->reason, ==, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
	g_assert_cmpstr(resp->body, ==, "{\"data\":null}");
	pk_http_status_error(resp->status, PK_HTTP_VM, resp->reason, &error);
	g_assert_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED);
	g_assert_cmpstr(error->message, ==, resp->reason);
	/* pveproxy closed the connection after the error; the next request reconnects,
	 * resuming the TLS session. */
	get_ok(h, "/api2/json/version");
	pk_http_stats st;
	pk_http_get_stats(h, &st);
	g_assert_cmpuint(st.connects, ==, 2);
	g_assert_cmpint(tp_counter(fake, "_tls_resumed"), ==, 1);
}

static void test_gzip(void)
{
	setup();
	g_autoptr(pk_http) h = pinned(5000);
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(get(h, "/api2/json/cluster/resources", &resp, &error));
	g_assert_cmpuint(resp->status, ==, 200);
	g_assert_cmpuint(resp->body_len, >, 1024);   /* the fake gzips answers this large */
	g_autoptr(json_t) j = json_loadb(resp->body, resp->body_len, 0, NULL);
	g_assert_true(json_is_array(json_object_get(j, "data")));
}

/* ---------- faults ---------- */

static void test_retry_idempotent_only(void)
{
	setup();
	g_autoptr(pk_http) h = pinned(10000);
	tp_fault(fake, "{\"match\":\"GET /version\",\"kind\":\"status\",\"status\":503,"
	               "\"reason\":\"Service Unavailable\",\"count\":2}");
	get_ok(h, "/api2/json/version");
	pk_http_stats st;
	pk_http_get_stats(h, &st);
	g_assert_cmpuint(st.retries, ==, 2);
	g_assert_cmpint(tp_counter(fake, "GET /version"), ==, 3);

	/* A POST is never sent twice. */
	tp_fault(fake, "{\"match\":\"POST /nodes/pve1/qemu/102/status/start\",\"kind\":\"status\","
	               "\"status\":503,\"reason\":\"Service Unavailable\",\"count\":1}");
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(post(h, "/api2/json/nodes/pve1/qemu/102/status/start", "", &resp, &error));
	g_assert_cmpuint(resp->status, ==, 503);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/start"), ==, 1);

	tp_fault(fake, "{\"match\":\"POST /nodes/pve1/qemu/102/status/start\",\"kind\":\"drop\"}");
	g_clear_pointer(&resp, pk_http_response_free);
	g_assert_false(post(h, "/api2/json/nodes/pve1/qemu/102/status/start", "", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_IO_NO_CONNECTION);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/start"), ==, 2);
}

typedef struct {
	const char *rule;
	PRL_RESULT transient;        /* outcome when the fault hits once (GET retried) */
	PRL_RESULT persistent;       /* outcome when it hits every time */
} fault_case;

static void run_fault(const fault_case *fc)
{
	setup();
	const guint timeout = 1500;
	g_autoptr(pk_http) h = pinned(timeout);
	/* "DELAY" in a rule: a delay well past the (scaled) timeout. */
	g_autofree char *delay = g_strdup_printf("%u", 4000 * tp_scale());
	g_auto(GStrv) parts = g_strsplit(fc->rule, "DELAY", -1);
	g_autofree char *rule = g_strjoinv(delay, parts);

	/* Once: a GET recovers through its retry (or reports the timeout). */
	g_autofree char *once = g_strdup_printf("{\"match\":\"GET /version\",%s,\"count\":1}", rule);
	tp_fault(fake, once);
	g_autoptr(pk_http_response) resp = NULL;
	g_autoptr(GError) error = NULL;
	gint64 t0 = g_get_monotonic_time();
	gboolean ok = get(h, "/api2/json/version", &resp, &error);
	if (fc->transient == PRL_ERR_SUCCESS) {
		g_assert_no_error(error);
		g_assert_true(ok);
		g_assert_cmpuint(resp->status, ==, 200);
	} else {
		g_assert_false(ok);
		g_assert_error(error, PK_ERROR, fc->transient);
	}
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * timeout * tp_scale() * 1000);
	g_clear_error(&error);
	g_clear_pointer(&resp, pk_http_response_free);
	tp_faults_clear(fake);

	/* Always: a clean error, within the deadline (with a wide margin). */
	g_autofree char *always = g_strdup_printf("{\"match\":\"GET /version\",%s,\"count\":-1}",
	                                          rule);
	tp_fault(fake, always);
	t0 = g_get_monotonic_time();
	ok = get(h, "/api2/json/version", &resp, &error);
	if (fc->persistent == PRL_ERR_SUCCESS) {
		g_assert_true(ok);
		g_assert_cmpuint(resp->status, !=, 200);
	} else {
		g_assert_false(ok);
		g_assert_error(error, PK_ERROR, fc->persistent);
		g_assert_cmpuint(strlen(error->message), >, 0);
	}
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * timeout * tp_scale() * 1000);
	tp_faults_clear(fake);

	/* The client keeps working afterwards. */
	get_ok(h, "/api2/json/version");
}

static void test_fault_5xx(void)
{
	fault_case fc = { "\"kind\":\"status\",\"status\":503,\"reason\":\"busy\"", PRL_ERR_SUCCESS,
	                  PRL_ERR_SUCCESS };
	run_fault(&fc);
}

static void test_fault_drop(void)
{
	fault_case fc = { "\"kind\":\"drop\"", PRL_ERR_SUCCESS, PRL_ERR_IO_NO_CONNECTION };
	run_fault(&fc);
}

static void test_fault_reset(void)
{
	fault_case fc = { "\"kind\":\"reset\"", PRL_ERR_SUCCESS, PRL_ERR_IO_NO_CONNECTION };
	run_fault(&fc);
}

static void test_fault_truncate(void)
{
	fault_case fc = { "\"kind\":\"truncate\"", PRL_ERR_SUCCESS, PRL_ERR_IO_NO_CONNECTION };
	run_fault(&fc);
}

static void test_fault_slow(void)
{
	fault_case fc = { "\"kind\":\"slow\",\"delay_ms\":DELAY", PRL_ERR_IO_CONNECTION_TIMEOUT,
	                  PRL_ERR_IO_CONNECTION_TIMEOUT };
	run_fault(&fc);
}

static void test_fault_hang(void)
{
	fault_case fc = { "\"kind\":\"hang\",\"delay_ms\":DELAY", PRL_ERR_IO_CONNECTION_TIMEOUT,
	                  PRL_ERR_IO_CONNECTION_TIMEOUT };
	run_fault(&fc);
}

static void test_refused(void)
{
	/* Bind a port, close it: nothing listens there any more. */
	g_autoptr(GSocket) s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
	                                    G_SOCKET_PROTOCOL_TCP, NULL);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
	g_assert_true(g_socket_bind(s, any, TRUE, NULL));
	g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, NULL);
	guint port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	g_socket_close(s, NULL);

	g_autofree char *url = g_strdup_printf("https://127.0.0.1:%u", port);
	pk_http_options o = { .base_url = url, .timeout_ms = 3000, .max_retries = 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_http) h = pk_http_new(&o, &error);
	g_autoptr(pk_http_response) resp = NULL;
	g_assert_false(get(h, "/api2/json/version", &resp, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
}

typedef struct {
	pk_http *h;
	GCancellable *cancel;
	GError *error;
	gboolean ok;
} cancel_run;

static gpointer cancel_worker(gpointer data)
{
	cancel_run *r = data;
	const char *headers[] = { token_header(), NULL };
	pk_http_request req = { .method = "GET", .path = "/api2/json/version", .headers = headers,
	                        .flags = PK_HTTP_IDEMPOTENT };
	pk_http_response *resp = NULL;
	r->ok = pk_http_send(r->h, &req, &resp, r->cancel, &r->error);
	pk_http_response_free(resp);
	return NULL;
}

static void test_cancel(void)
{
	setup();
	g_autoptr(pk_http) h = pinned(20000);
	tp_fault(fake, "{\"match\":\"GET /version\",\"kind\":\"hang\",\"delay_ms\":10000}");
	cancel_run r = { .h = h, .cancel = g_cancellable_new() };
	GThread *t = g_thread_new("cancel", cancel_worker, &r);
	g_usleep(200000);
	gint64 t0 = g_get_monotonic_time();
	g_cancellable_cancel(r.cancel);
	g_thread_join(t);
	g_assert_false(r.ok);
	g_assert_error(r.error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	g_error_free(r.error);
	g_object_unref(r.cancel);
	tp_faults_clear(fake);
	get_ok(h, "/api2/json/version");
}

static gpointer parallel_worker(gpointer data)
{
	pk_http *h = data;
	get_ok(h, "/api2/json/version");
	return NULL;
}

static void test_bounded_parallel(void)
{
	setup();
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_http) h = client(NULL, fake->fingerprint, FALSE, 20000, 2, &error);
	tp_fault(fake, "{\"match\":\"GET /version\",\"kind\":\"slow\",\"delay_ms\":150,\"count\":8}");
	GThread *t[8];
	for (int i = 0; i < 8; i++)
		t[i] = g_thread_new("par", parallel_worker, h);
	for (int i = 0; i < 8; i++)
		g_thread_join(t[i]);
	pk_http_stats st;
	pk_http_get_stats(h, &st);
	g_assert_cmpuint(st.requests, ==, 8);
	g_assert_cmpuint(st.connects, <=, 2);
	g_assert_cmpint(tp_counter(fake, "_connections"), <=, 2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	warnings = g_string_new(NULL);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	if (!tp_fake_available()) {
		g_print("1..0 # SKIP python3 and openssl are needed for the fake Proxmox server\n");
		return 0;
	}
	fake = tp_fake_start(NULL, NULL);
	g_test_add_func("/pve/http/tls/unknown-refused", test_tls_unknown_refused);
	g_test_add_func("/pve/http/tls/ca-file", test_tls_ca_file);
	g_test_add_func("/pve/http/tls/fingerprint", test_tls_fingerprint);
	g_test_add_func("/pve/http/tls/insecure", test_tls_insecure);
	g_test_add_func("/pve/http/keepalive", test_keepalive);
	g_test_add_func("/pve/http/reason-phrase", test_reason_phrase);
	g_test_add_func("/pve/http/gzip", test_gzip);
	g_test_add_func("/pve/http/retry-idempotent-only", test_retry_idempotent_only);
	g_test_add_func("/pve/http/fault/5xx", test_fault_5xx);
	g_test_add_func("/pve/http/fault/drop", test_fault_drop);
	g_test_add_func("/pve/http/fault/reset", test_fault_reset);
	g_test_add_func("/pve/http/fault/truncate", test_fault_truncate);
	g_test_add_func("/pve/http/fault/slow", test_fault_slow);
	g_test_add_func("/pve/http/fault/hang", test_fault_hang);
	g_test_add_func("/pve/http/refused", test_refused);
	g_test_add_func("/pve/http/cancel", test_cancel);
	g_test_add_func("/pve/http/bounded-parallel", test_bounded_parallel);
	int rc = g_test_run();
	tp_fake_stop(fake);
	return rc;
}

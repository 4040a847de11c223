/* The Proxmox VE driver through its vtable, against the fake Proxmox server: auth (token,
 * tickets with CSRF, expiry and renewal, failures without secrets), TLS at connect, list and
 * get (LXC skipped, agent absent/present, multi-node, state mapping), power, delete, edit
 * with digest, both template modes, clone (full, linked, from snapshot, nextid races,
 * cancel), snapshots (name mapping, replace, missing, current, subtree), task references
 * (stateless, garbage, WARNINGS, lock retries), VMs vanishing, injected faults, and the
 * request counts of a RAS poll cycle. */
#include "config.h"

#include <string.h>

#include "test-pve-fake.h"
#include "util-time.h"

static tp_fake *fake;

/* ---------- helpers ---------- */

static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields,
                                     gsize n_fields, gpointer data)
{
	/* Warnings are expected in some tests (insecure opt-in); everything else as usual. */
	if (level & G_LOG_LEVEL_WARNING)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_default(level, fields, n_fields, data);
}

static void vm_create(guint vmid, const char *extra)
{
	tp_admin_printf(fake, "POST", "/vms", "{\"vmid\":%u,\"name\":\"t%u\"%s%s}", vmid, vmid,
	                extra ? "," : "", extra ? extra : "");
}

static void vm_patch(guint vmid, const char *json)
{
	g_autofree char *p = g_strdup_printf("/vms/%u", vmid);
	json_decref(tp_admin(fake, "POST", p, json));
}

static void vm_vanish(guint vmid)
{
	g_autofree char *p = g_strdup_printf("/vms/%u", vmid);
	json_decref(tp_admin(fake, "DELETE", p, NULL));
}

static const char *fake_conf(json_t *vm, const char *key)
{
	return json_string_value(json_object_get(json_object_get(vm, "config"), key));
}

static char *power(pk_conn *c, const char *id, pk_power_op op)
{
	g_autoptr(GError) error = NULL;
	char *ref = NULL;
	g_assert_true(pve_driver.vm->power(c, id, op, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_nonnull(ref);
	return ref;
}

static PRL_RESULT power_wait(pk_conn *c, const char *id, pk_power_op op, char **message)
{
	g_autofree char *ref = power(c, id, op);
	return tp_task_wait(c, ref, message, NULL);
}

static void power_refused(pk_conn *c, const char *id, pk_power_op op, PRL_RESULT code)
{
	g_autoptr(GError) error = NULL;
	char *ref = NULL;
	g_assert_false(pve_driver.vm->power(c, id, op, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, code);
	g_assert_null(ref);
}

static gboolean is_template_of(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = tp_get(c, id);
	return d->is_template;
}

static VIRTUAL_MACHINE_STATE state_of(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = tp_get(c, id);
	return d->state;
}

static GPtrArray *snap_names(pk_conn *c, const char *id)
{
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.snap->list(c, id, &list, NULL, &error));
	g_assert_no_error(error);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < list->len; i++)
		g_ptr_array_add(names, g_strdup(((pk_snapshot_data *)g_ptr_array_index(list, i))->name));
	g_ptr_array_unref(list);
	return names;
}

static gboolean has_name(GPtrArray *names, const char *n)
{
	for (guint i = 0; i < names->len; i++)
		if (g_strcmp0(g_ptr_array_index(names, i), n) == 0)
			return TRUE;
	return FALSE;
}

static PRL_RESULT snap_create_wait(pk_conn *c, const char *id, const char *name, guint flags)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(pve_driver.snap->create(c, id, name, "", flags, &ref, NULL, &error));
	g_assert_no_error(error);
	return tp_task_wait(c, ref, NULL, NULL);
}

static pk_conn *conn_uncached(void)
{
	return tp_open(fake, "\"inventory_cache_ms\":\"0\",\"config_cache_ttl\":\"0\","
	                     "\"ip_cache_ttl\":\"0\",\"ip_retry\":\"0\"");
}

static void reset_fake(void)
{
	tp_faults_clear(fake);
	tp_counters_reset(fake);
	json_decref(tp_admin(fake, "POST", "/privileges", "{\"privs\":null}"));
}

/* ---------- connect and auth ---------- */

static void test_open_token(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, NULL);
	g_assert_cmpint(tp_counter(fake, "GET /version"), ==, 1);
	g_assert_cmpint(tp_counter(fake, "POST /access/ticket"), ==, 0);
	tp_close(c);
}

static void test_open_bad_credentials(void)
{
	reset_fake();
	g_autofree char *extra = g_strdup_printf("\"token_secret\":\"wrong-%s\"", "s3cr3t-guess");
	g_autofree char *s = g_strdup_printf("{\"host\":\"%s\",\"tls_fingerprint\":\"%s\","
	                                     "\"username\":\"%s\",\"token_name\":\"%s\",%s}",
	                                     fake->host, fake->fingerprint, fake->user,
	                                     fake->token_name, extra);
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	g_assert_null(tp_open_full(NULL, s, &st, &error));
	g_assert_cmpint(st, ==, PK_OPEN_ERROR);
	g_assert_error(error, PK_ERROR, PRL_ERR_AUTHENTICATION_FAILED);
	/* The token's user; its name is redacted like every value of a *token* setting. */
	g_assert_nonnull(strstr(error->message, "API token root@pam!"));
	g_assert_nonnull(strstr(error->message, "invalid token value"));
	g_assert_null(strstr(error->message, "s3cr3t-guess"));
	g_clear_error(&error);

	g_autofree char *s2 = g_strdup_printf("{\"host\":\"%s\",\"tls_fingerprint\":\"%s\","
	                                      "\"username\":\"root@pam\",\"password\":\"hunter2-pw\"}",
	                                      fake->host, fake->fingerprint);
	g_assert_null(tp_open_full(NULL, s2, &st, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_AUTHENTICATION_FAILED);
	g_assert_nonnull(strstr(error->message, "root@pam"));
	g_assert_null(strstr(error->message, "hunter2"));
}

static void test_ticket_auth(void)
{
	reset_fake();
	g_autofree char *s = tp_settings_ticket(fake, NULL);
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	pk_conn *c = tp_open_full(NULL, s, &st, &error);
	g_assert_no_error(error);
	g_assert_cmpint(tp_counter(fake, "POST /access/ticket"), ==, 1);

	/* Writes carry the CSRF token (the fake refuses them otherwise). */
	vm_create(300, NULL);
	g_assert_cmpint(power_wait(c, "300", PK_POWER_START, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "POST /access/ticket"), ==, 1);

	/* Expired/revoked ticket: one 401, a new login, the request goes through. */
	json_decref(tp_admin(fake, "POST", "/tickets/expire", NULL));
	g_usleep(5000);
	g_assert_cmpint(power_wait(c, "300", PK_POWER_STOP_HARD, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "POST /access/ticket"), >=, 2);

	/* Renewal before expiry: an hour later the ticket is renewed before use. */
	gint64 logins = tp_counter(fake, "POST /access/ticket");
	g_setenv("PRLKIT_FAKE_TIME_OFFSET_MS", "3700000", TRUE);
	g_autoptr(pk_vm_data) d = NULL;
	g_assert_true(pve_driver.vm->get(c, "101", 0, &d, NULL, &error));
	g_unsetenv("PRLKIT_FAKE_TIME_OFFSET_MS");
	g_assert_cmpint(tp_counter(fake, "POST /access/ticket"), ==, logins + 1);
	tp_close(c);
	vm_vanish(300);
}

static void test_open_tls(void)
{
	reset_fake();
	/* No pin, no CA: the self-signed certificate is refused at connect. */
	g_autofree char *s = g_strdup_printf("{\"host\":\"%s\",\"username\":\"%s\",\"token_name\":\"%s\","
	                                     "\"token_secret\":\"%s\"}", fake->host, fake->user,
	                                     fake->token_name, fake->token_secret);
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	g_assert_null(tp_open_full(NULL, s, &st, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL);
	g_assert_null(strstr(error->message, fake->token_secret));
	g_assert_cmpint(tp_counter(fake, "_total"), ==, 0);
	g_clear_error(&error);

	/* The CA file, and the URI form of the host. */
	g_autofree char *s2 = g_strdup_printf("{\"ca_file\":\"%s\",\"username\":\"%s\",\"token_name\":\"%s\","
	                                      "\"token_secret\":\"%s\"}", fake->ca_file, fake->user,
	                                      fake->token_name, fake->token_secret);
	g_autofree char *uri = g_strdup_printf("pve://%s?node=pve2", fake->host);
	pk_conn *c = tp_open_full(uri, s2, &st, &error);
	g_assert_no_error(error);
	GPtrArray *list = NULL;
	g_assert_true(pve_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		g_assert_true(strcmp(d->id, "103") == 0 || strcmp(d->id, "105") == 0);
	}
	g_assert_cmpuint(list->len, ==, 2);
	g_ptr_array_unref(list);
	/* Outside the node filter: not found. */
	pk_vm_data *d = NULL;
	g_assert_false(pve_driver.vm->get(c, "101", 0, &d, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	tp_close(c);
	g_clear_error(&error);

	/* Insecure opt-in works (and warns). */
	g_autofree char *s3 = g_strdup_printf("{\"host\":\"%s\",\"insecure_skip_verify\":\"true\","
	                                      "\"username\":\"%s\",\"token_name\":\"%s\","
	                                      "\"token_secret\":\"%s\"}", fake->host, fake->user,
	                                      fake->token_name, fake->token_secret);
	c = tp_open_full(NULL, s3, &st, &error);
	g_assert_no_error(error);
	tp_close(c);

	/* An unknown node, a closed port. */
	g_autofree char *s4 = tp_settings(fake, "\"node\":\"pve9\"");
	g_assert_null(tp_open_full(NULL, s4, &st, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_nonnull(strstr(error->message, "'node'"));
	g_clear_error(&error);
	g_autofree char *s5 = g_strdup_printf("{\"host\":\"127.0.0.1:1\",\"username\":\"u@pam\","
	                                      "\"password\":\"pw-secret\",\"request_timeout\":\"5\"}");
	g_assert_null(tp_open_full(NULL, s5, &st, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	g_assert_null(strstr(error->message, "pw-secret"));
	g_clear_error(&error);
	/* Another driver's URI is declined. */
	g_assert_null(tp_open_full("sim:///tmp/x", s4, &st, &error));
	g_assert_cmpint(st, ==, PK_OPEN_DECLINED);
}

static void test_access_denied(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, NULL);
	json_decref(tp_admin(fake, "POST", "/privileges",
	                     "{\"privs\":[\"VM.Audit\",\"Sys.Audit\",\"VM.Monitor\"]}"));
	g_autoptr(GError) error = NULL;
	char *ref = NULL;
	g_assert_false(pve_driver.vm->power(c, "102", PK_POWER_START, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "VM.PowerMgmt"));
	reset_fake();
	tp_close(c);
}

/* ---------- list and get ---------- */

static void test_list(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, NULL);
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.vm->list(c, 0, &list, NULL, &error));
	gboolean seen[6] = { 0 };
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		guint v = (guint)g_ascii_strtoull(d->id, NULL, 10);
		g_assert_cmpuint(v, !=, 200);   /* LXC containers are not VMs */
		g_assert_cmpuint(v, !=, 201);
		if (v >= 100 && v <= 105)
			seen[v - 100] = TRUE;
		if (v == 100 || v == 104)
			g_assert_true(d->is_template);
		if (v == 101) {
			g_assert_cmpint(d->state, ==, VMS_RUNNING);
			g_assert_cmpuint(d->ips->len, >, 0);
		}
		if (v == 102)
			g_assert_cmpint(d->state, ==, VMS_STOPPED);
	}
	for (int i = 0; i < 6; i++)
		g_assert_true(seen[i]);
	g_ptr_array_unref(list);
	tp_close(c);
}

/* An identity list is one cluster/resources request: no configs, no guest agents. */
static void test_list_identity(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, "\"inventory_cache_ms\":\"60000\"");
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	tp_counters_reset(fake);
	g_assert_true(pve_driver.vm->list(c, PK_LIST_IDENTITY_ONLY | PK_GET_NO_GUEST_INFO, &list,
	                                  NULL, &error));
	g_assert_cmpint(tp_counter(fake, "GET /cluster/resources"), ==, 1);
	g_assert_cmpint(tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/config"), ==, 0);
	g_assert_cmpint(tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
	                ==, 0);
	guint found = 0;
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		guint v = (guint)g_ascii_strtoull(d->id, NULL, 10);
		g_assert_true(d->identity_only);
		g_assert_nonnull(d->name);
		g_assert_cmpuint(d->ips->len, ==, 0);
		if (v == 100 || v == 104) {
			g_assert_true(d->is_template);
			found++;
		}
		if (v == 101) {
			g_assert_cmpint(d->state, ==, VMS_RUNNING);
			found++;
		}
	}
	g_assert_cmpuint(found, ==, 3);
	g_ptr_array_unref(list);
	tp_close(c);
}

static void test_get(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, NULL);
	g_autoptr(pk_vm_data) d = tp_get(c, "101");
	g_assert_cmpstr(d->name, ==, "app01");
	g_assert_cmpstr(d->power_state, ==, "running");
	g_assert_cmpint(d->state, ==, VMS_RUNNING);
	g_assert_cmpuint(d->ips->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(d->ips, 0), ==, "10.0.0.102");
	g_assert_cmpstr(g_ptr_array_index(d->ips, 1), ==, "fd00::65");
	g_assert_cmpuint(d->macs->len, ==, 1);
	const char *mac = g_ptr_array_index(d->macs, 0);
	g_autofree char *up = g_ascii_strup(mac, -1);
	g_assert_cmpstr(mac, ==, up);
	g_assert_cmpuint(d->os_type, ==, PVS_GUEST_TYPE_LINUX);
	g_assert_cmpstr(d->os_type_name, ==, "l26");
	g_assert_cmpuint(d->ram_mb, ==, 2048);
	g_assert_cmpuint(d->cpus, ==, 2);
	g_assert_nonnull(d->digest);
	g_assert_cmpuint(d->disks->len, ==, 2);

	/* The template on node 1, a VM on node 2 whose agent is not running, one without an
	 * agent at all (no agent request is even sent). */
	g_autoptr(pk_vm_data) t = tp_get(c, "100");
	g_assert_true(t->is_template);
	g_assert_cmpuint(t->os_type, ==, PVS_GUEST_TYPE_WINDOWS);
	g_autoptr(pk_vm_data) n2 = tp_get(c, "103");
	g_assert_cmpint(n2->state, ==, VMS_RUNNING);
	g_assert_cmpuint(n2->ips->len, ==, 0);
	gint64 agent_calls = tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces");
	g_autoptr(pk_vm_data) noagent = tp_get(c, "105");
	g_assert_cmpuint(noagent->ips->len, ==, 0);
	g_assert_cmpint(tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
	                ==, agent_calls);

	/* Not VMs: an LXC container (no /qemu/ request for it), garbage, a missing id. */
	gint64 configs = tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/config");
	const char *bad[] = { "200", "abc", "999", "", "101; DROP", NULL };
	for (int i = 0; bad[i]; i++) {
		g_autoptr(GError) error = NULL;
		pk_vm_data *x = NULL;
		g_assert_false(pve_driver.vm->get(c, bad[i], 0, &x, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	}
	g_assert_cmpint(tp_counter(fake, "GET /nodes/{node}/qemu/{vmid}/config"), ==, configs);
	tp_close(c);
}

static void test_vanishing_vm(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(310, NULL);
	g_autoptr(pk_vm_data) d = tp_get(c, "310");
	/* Between the inventory and the config request: a clean not-found. */
	tp_fault(fake, "{\"match\":\"GET /cluster/resources\",\"kind\":\"slow\",\"delay_ms\":1}");
	vm_vanish(310);
	g_autoptr(GError) error = NULL;
	pk_vm_data *x = NULL;
	g_assert_false(pve_driver.vm->get(c, "310", 0, &x, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	tp_close(c);

	/* Cached inventory still lists it: the operation itself reports not found. */
	vm_create(311, NULL);
	c = tp_open(fake, NULL);
	g_autoptr(pk_vm_data) e = tp_get(c, "311");
	vm_vanish(311);
	g_clear_error(&error);
	char *ref = NULL;
	g_assert_false(pve_driver.vm->power(c, "311", PK_POWER_START, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "does not exist"));
	tp_close(c);
}

/* ---------- power ---------- */

static void test_power_cycle(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(320, NULL);
	g_assert_cmpint(power_wait(c, "320", PK_POWER_START, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(state_of(c, "320"), ==, VMS_RUNNING);
	g_autoptr(pk_vm_data) d = tp_get(c, "320");
	g_assert_cmpuint(d->ips->len, >, 0);
	g_assert_cmpint(power_wait(c, "320", PK_POWER_RESTART, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, "320", PK_POWER_RESET, NULL), ==, PRL_ERR_SUCCESS);
	/* Graceful stop = guest shutdown with a server-side forced stop. */
	g_assert_cmpint(power_wait(c, "320", PK_POWER_STOP_GRACEFUL, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/shutdown"), ==, 1);
	g_assert_cmpint(state_of(c, "320"), ==, VMS_STOPPED);
	/* Refusals Proxmox gives at once or in the task. */
	power_refused(c, "320", PK_POWER_STOP_GRACEFUL, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_refused(c, "320", PK_POWER_PAUSE, PRL_ERR_VM_REQUEST_NOT_SUPPORTED);
	g_assert_cmpint(power_wait(c, "320", PK_POWER_START, NULL), ==, PRL_ERR_SUCCESS);
	g_autofree char *msg = NULL;
	g_assert_cmpint(power_wait(c, "320", PK_POWER_START, &msg), ==, PRL_ERR_VM_ALREADY_RUNNING);
	g_assert_nonnull(strstr(msg, "already running"));
	g_assert_cmpint(power_wait(c, "320", PK_POWER_STOP_HARD, NULL), ==, PRL_ERR_SUCCESS);
	/* Templates never start, in either form. */
	power_refused(c, "100", PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	power_refused(c, "104", PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	tp_close(c);

	/* stop_mode=stop: a graceful stop is a hard one. */
	c = tp_open(fake, "\"stop_mode\":\"stop\"");
	g_assert_cmpint(power_wait(c, "320", PK_POWER_START, NULL), ==, PRL_ERR_SUCCESS);
	tp_counters_reset(fake);
	g_assert_cmpint(power_wait(c, "320", PK_POWER_STOP_GRACEFUL, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/stop"), ==, 1);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/shutdown"), ==, 0);
	tp_close(c);
}

static void test_forced_shutdown_warnings(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, "\"force_stop_after\":\"1\"");
	vm_create(321, "\"status\":\"running\",\"ignores_shutdown\":true");
	/* The guest ignores ACPI: Proxmox stops it after the timeout; "WARNINGS: 1" = success. */
	g_assert_cmpint(power_wait(c, "321", PK_POWER_STOP_GRACEFUL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) vm = tp_vm(fake, 321);
	g_assert_cmpstr(json_string_value(json_object_get(vm, "status")), ==, "stopped");
	g_autoptr(json_t) tasks = tp_admin(fake, "GET", "/tasks", NULL);
	gboolean warned = FALSE;
	for (size_t i = 0; i < json_array_size(tasks); i++)
		warned = warned || g_strcmp0(json_string_value(json_object_get(json_array_get(tasks, i),
		                                                               "exitstatus")),
		                             "WARNINGS: 1") == 0;
	g_assert_true(warned);
	tp_close(c);
}

static void test_suspend_resume(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(322, "\"status\":\"running\"");
	/* Hibernation (the default): visible in cluster/resources through the lock. */
	g_assert_cmpint(power_wait(c, "322", PK_POWER_SUSPEND, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(pk_vm_data) d = tp_get(c, "322");
	g_assert_cmpint(d->state, ==, VMS_SUSPENDED);
	g_assert_cmpstr(d->power_state, ==, "suspended");
	g_assert_cmpint(power_wait(c, "322", PK_POWER_RESUME, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(state_of(c, "322"), ==, VMS_RUNNING);
	tp_close(c);

	/* Pause mode: qmpstatus tells. */
	c = tp_open(fake, "\"suspend_mode\":\"pause\",\"inventory_cache_ms\":\"0\"");
	g_assert_cmpint(power_wait(c, "322", PK_POWER_PAUSE, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(pk_vm_data) p = tp_get(c, "322");
	g_assert_cmpint(p->state, ==, VMS_PAUSED);
	g_assert_cmpstr(p->power_state, ==, "paused");
	g_assert_cmpint(power_wait(c, "322", PK_POWER_RESUME, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(state_of(c, "322"), ==, VMS_RUNNING);
	tp_close(c);
}

static void test_lock_retry(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(323, NULL);
	/* Locked for a while: the start task fails with "VM is locked"; resolving the reference
	 * starts it again once the lock is gone. */
	vm_patch(323, "{\"lock\":\"backup\",\"lock_ms\":300}");
	g_assert_cmpint(power_wait(c, "323", PK_POWER_START, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/status/start"), >=, 2);
	g_assert_cmpint(state_of(c, "323"), ==, VMS_RUNNING);
	g_assert_cmpint(power_wait(c, "323", PK_POWER_STOP_HARD, NULL), ==, PRL_ERR_SUCCESS);

	/* Config edits refused at once with "VM is locked" are retried with backoff. */
	vm_patch(323, "{\"lock\":\"backup\",\"lock_ms\":300}");
	g_autoptr(pk_vm_data) old = tp_get(c, "323");
	g_autoptr(pk_vm_data) nw = pk_vm_data_copy(old);
	g_free(nw->description);
	nw->description = g_strdup("edited while locked");
	g_autoptr(GError) error = NULL;
	char *ref = NULL;
	g_assert_true(pve_driver.vm->commit(c, "323", old, nw, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);
	tp_close(c);

	/* A lock that outlasts lock_wait: a clean "locked" failure with Proxmox's words. */
	c = tp_open(fake, "\"lock_wait\":\"0.3\",\"inventory_cache_ms\":\"0\"");
	vm_patch(323, "{\"lock\":\"backup\"}");
	g_autofree char *msg = NULL;
	g_assert_cmpint(power_wait(c, "323", PK_POWER_START, &msg), ==, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED);
	g_assert_nonnull(strstr(msg, "VM is locked (backup)"));
	vm_patch(323, "{\"lock\":null}");
	tp_close(c);
}

/* ---------- delete, edit ---------- */

static void test_delete(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(330, NULL);
	vm_create(331, "\"status\":\"running\"");
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(pve_driver.vm->remove(c, "330", 0, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	pk_vm_data *x = NULL;
	g_assert_false(pve_driver.vm->get(c, "330", 0, &x, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	g_clear_error(&error);
	char *r2 = NULL;
	g_assert_false(pve_driver.vm->remove(c, "331", 0, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_CANT_DELETE_RUNNING);
	tp_close(c);
}

static void test_edit(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(340, "\"memory\":1024,\"cores\":1");
	g_autoptr(pk_vm_data) old = tp_get(c, "340");
	g_autoptr(pk_vm_data) nw = pk_vm_data_copy(old);
	g_free(nw->name);
	nw->name = g_strdup("renamed-340");
	nw->ram_mb = 4096;
	nw->cpus = 4;
	nw->description = g_strdup("line one\nline two = with & signs");
	g_autoptr(GError) error = NULL;
	char *ref = NULL;
	g_assert_true(pve_driver.vm->commit(c, "340", old, nw, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);
	g_autoptr(pk_vm_data) now = tp_get(c, "340");
	g_assert_cmpstr(now->name, ==, "renamed-340");
	g_assert_cmpuint(now->ram_mb, ==, 4096);
	g_assert_cmpuint(now->cpus, ==, 4);
	g_assert_cmpstr(now->description, ==, "line one\nline two = with & signs");
	g_assert_cmpstr(now->digest, !=, old->digest);

	/* The old digest: someone else changed the config meanwhile. */
	g_autoptr(pk_vm_data) again = pk_vm_data_copy(old);
	again->ram_mb = 8192;
	g_assert_false(pve_driver.vm->commit(c, "340", old, again, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_CONFIG_WAS_CHANGED);
	g_clear_error(&error);

	/* Names Proxmox would refuse are refused before any request is sent; what only
	 * Proxmox checks comes back as its 400 + errors. */
	static const char *const bad_names[] = { "not a dns name", "under_score", "-lead",
	                                         "trail-", "a..b", ".dot", "dot.", "ümlaut" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		g_autoptr(pk_vm_data) bad = pk_vm_data_copy(now);
		g_free(bad->name);
		bad->name = g_strdup(bad_names[i]);
		tp_counters_reset(fake);
		g_assert_false(pve_driver.vm->commit(c, "340", now, bad, 0, &ref, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
		g_assert_nonnull(strstr(error->message, "is not a valid Proxmox VE VM name"));
		g_assert_cmpint(tp_counter(fake, "PUT /nodes/{node}/qemu/{vmid}/config"), ==, 0);
		g_clear_error(&error);
	}
	g_autoptr(pk_vm_data) long_name = pk_vm_data_copy(now);
	g_free(long_name->name);
	long_name->name = g_strnfill(70, 'a');
	g_assert_false(pve_driver.vm->commit(c, "340", now, long_name, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_nonnull(strstr(error->message, "name: value does not look like a valid DNS name"));
	g_clear_error(&error);
	g_autoptr(pk_vm_data) tiny = pk_vm_data_copy(now);
	tiny->ram_mb = 8;
	g_assert_false(pve_driver.vm->commit(c, "340", now, tiny, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_MEMORY_SIZE);
	g_clear_error(&error);
	g_autoptr(pk_vm_data) dotted = pk_vm_data_copy(now);
	g_free(dotted->name);
	dotted->name = g_strdup("web-01.example");
	g_assert_true(pve_driver.vm->commit(c, "340", now, dotted, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);
	tp_close(c);
}

/* ---------- templates ---------- */

static PRL_RESULT set_template(pk_conn *c, const char *id, gboolean on, GError **error)
{
	g_autoptr(pk_vm_data) old = tp_get(c, id);
	g_autoptr(pk_vm_data) nw = pk_vm_data_copy(old);
	nw->is_template = on;
	g_autofree char *ref = NULL;
	if (!pve_driver.vm->commit(c, id, old, nw, 0, &ref, NULL, error))
		return (*error)->code;
	return ref != NULL ? tp_task_wait(c, ref, NULL, NULL) : PRL_ERR_SUCCESS;
}

static void test_template_tag_mode(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(350, "\"tags\":\"prod\"");
	g_assert_cmpint(snap_create_wait(c, "350", "RAS_TEMPLATE_VERSION_1", 0), ==, PRL_ERR_SUCCESS);
	g_autoptr(GError) error = NULL;
	g_assert_cmpint(set_template(c, "350", TRUE, &error), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) vm = tp_vm(fake, 350);
	g_assert_cmpstr(fake_conf(vm, "tags"), ==, "prod;prlkit-template");
	g_assert_null(json_object_get(json_object_get(vm, "config"), "template"));
	g_assert_true(is_template_of(c, "350"));
	power_refused(c, "350", PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	/* Reversible, snapshots kept. */
	g_assert_cmpint(set_template(c, "350", FALSE, &error), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) vm2 = tp_vm(fake, 350);
	g_assert_cmpstr(fake_conf(vm2, "tags"), ==, "prod");
	g_autoptr(GPtrArray) names = snap_names(c, "350");
	g_assert_true(has_name(names, "RAS_TEMPLATE_VERSION_1"));
	/* A running VM does not become a template. */
	vm_create(351, "\"status\":\"running\"");
	g_assert_cmpint(set_template(c, "351", TRUE, &error), ==,
	                PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE);
	g_clear_error(&error);
	/* A native template cannot go back. */
	g_assert_cmpint(set_template(c, "104", FALSE, &error), ==, PRL_ERR_INVALID_ACTION_REQUESTED);
	tp_close(c);
}

static void test_template_native_mode(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, "\"template_mode\":\"native\",\"inventory_cache_ms\":\"0\"");
	vm_create(360, NULL);
	/* RAS's link-clone flow: "RAS Template Snapshot", then convert. Proxmox refuses
	 * templates with snapshots; that one snapshot is folded into the template. */
	g_assert_cmpint(snap_create_wait(c, "360", "RAS Template Snapshot", 0), ==, PRL_ERR_SUCCESS);
	g_autoptr(GError) error = NULL;
	g_assert_cmpint(set_template(c, "360", TRUE, &error), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) vm = tp_vm(fake, 360);
	g_assert_cmpint(json_integer_value(json_object_get(json_object_get(vm, "config"), "template")),
	                ==, 1);
	g_assert_true(json_is_true(json_object_get(vm, "base")));
	g_assert_cmpuint(json_object_size(json_object_get(vm, "snapshots")), ==, 0);
	/* Linked clone "from" the folded snapshot = of the template. */
	g_autofree char *new_id = NULL, *ref = NULL;
	g_assert_true(pve_driver.vm->clone(c, "360", "linked-1", "RAS Template Snapshot",
	                                   PK_CLONE_LINKED, &new_id, &ref, NULL, &error));
	g_assert_no_error(error);
	g_autofree char *result = NULL;
	g_assert_cmpint(tp_task_wait(c, ref, NULL, &result), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(result, ==, new_id);
	g_autoptr(json_t) clone = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_cmpint(json_integer_value(json_object_get(clone, "linked_from")), ==, 360);
	g_assert_false(is_template_of(c, new_id));
	/* No way back. */
	g_assert_cmpint(set_template(c, "360", FALSE, &error), ==, PRL_ERR_INVALID_ACTION_REQUESTED);
	g_clear_error(&error);
	/* Other snapshots: refused with Proxmox's reason. */
	vm_create(361, "\"snapshots\":[\"keepme\"]");
	g_assert_cmpint(set_template(c, "361", TRUE, &error), ==,
	                PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE);
	g_assert_nonnull(strstr(error->message, "keepme"));
	g_clear_error(&error);
	/* No snapshots: a plain POST /template. */
	vm_create(362, NULL);
	g_assert_cmpint(set_template(c, "362", TRUE, &error), ==, PRL_ERR_SUCCESS);
	/* Snapshots of a template are refused by Proxmox. */
	g_autofree char *sref = NULL;
	g_assert_false(pve_driver.snap->create(c, "362", "v1", "", 0, &sref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_REQUEST_NOT_SUPPORTED);
	tp_close(c);
}

/* ---------- clone ---------- */

static void test_clone_tag_mode(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	g_autoptr(GError) error = NULL;
	g_autofree char *new_id = NULL, *ref = NULL, *result = NULL;
	/* From the template's version snapshot: a full clone that is not a template. */
	g_assert_true(pve_driver.vm->clone(c, "100", "RAS-Host-01", "RAS_TEMPLATE_VERSION_1", 0,
	                                   &new_id, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_nonnull(new_id);
	g_assert_cmpint(tp_task_wait(c, ref, NULL, &result), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(result, ==, new_id);
	g_autoptr(pk_vm_data) d = tp_get(c, new_id);
	g_assert_cmpstr(d->name, ==, "RAS-Host-01");
	g_assert_false(d->is_template);
	g_autoptr(pk_vm_data) src = tp_get(c, "100");
	g_assert_cmpstr(g_ptr_array_index(d->macs, 0), !=, g_ptr_array_index(src->macs, 0));
	g_autoptr(json_t) fv = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_true(json_is_null(json_object_get(fv, "linked_from")));
	/* Deleted later, the clone's task still completed and still names it. */
	g_autofree char *del_ref = NULL;
	g_assert_true(pve_driver.vm->remove(c, new_id, 0, &del_ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, del_ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_clear_pointer(&result, g_free);
	g_assert_cmpint(tp_task_wait(c, ref, NULL, &result), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(result, ==, new_id);

	/* To a template: the clone keeps the tag. */
	g_clear_pointer(&new_id, g_free);
	g_clear_pointer(&ref, g_free);
	g_assert_true(pve_driver.vm->clone(c, "102", "tmpl-copy", NULL, PK_CLONE_TO_TEMPLATE,
	                                   &new_id, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_true(is_template_of(c, new_id));

	/* Linked clones need a native template; missing snapshot; bad names. */
	char *n2 = NULL, *r2 = NULL;
	g_assert_false(pve_driver.vm->clone(c, "100", "x1", NULL, PK_CLONE_LINKED, &n2, &r2, NULL,
	                                    &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_REQUEST_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(pve_driver.vm->clone(c, "100", "x2", "nope", 0, &n2, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(pve_driver.vm->clone(c, "100", "", NULL, 0, &n2, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_EMPTY_NAME_OF_CLONE);
	g_clear_error(&error);
	tp_counters_reset(fake);
	g_assert_false(pve_driver.vm->clone(c, "102", "bad name!", NULL, 0, &n2, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_nonnull(strstr(error->message, "'bad name!' is not a valid Proxmox VE VM name"));
	g_assert_cmpint(tp_counter(fake, "_total"), ==, 0);   /* refused before any request */
	g_assert_null(n2);
	tp_close(c);
}

static void test_clone_nextid_race(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	json_decref(tp_admin(fake, "POST", "/nextid-race", "{\"count\":2}"));
	g_autoptr(GError) error = NULL;
	g_autofree char *new_id = NULL, *ref = NULL;
	g_assert_true(pve_driver.vm->clone(c, "102", "raced", NULL, 0, &new_id, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(tp_counter(fake, "GET /cluster/nextid"), ==, 3);
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(pk_vm_data) d = tp_get(c, new_id);
	g_assert_cmpstr(d->name, ==, "raced");
	tp_close(c);
}

static void test_clone_native_linked(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, "\"template_mode\":\"native\",\"inventory_cache_ms\":\"0\"");
	g_autoptr(GError) error = NULL;
	g_autofree char *new_id = NULL, *ref = NULL;
	g_assert_true(pve_driver.vm->clone(c, "104", "linked-104", NULL, PK_CLONE_LINKED, &new_id,
	                                   &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) fv = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_cmpint(json_integer_value(json_object_get(fv, "linked_from")), ==, 104);
	/* ... and a native template made by cloning. */
	g_clear_pointer(&new_id, g_free);
	g_clear_pointer(&ref, g_free);
	g_assert_true(pve_driver.vm->clone(c, "102", "native-copy", NULL, PK_CLONE_TO_TEMPLATE,
	                                   &new_id, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) tv = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_true(json_is_true(json_object_get(tv, "base")));
	tp_close(c);

	/* full_clone=true: linked requests become full clones. */
	c = tp_open(fake, "\"template_mode\":\"native\",\"full_clone\":\"true\"");
	g_clear_pointer(&new_id, g_free);
	g_clear_pointer(&ref, g_free);
	g_assert_true(pve_driver.vm->clone(c, "104", "full-104", NULL, PK_CLONE_LINKED, &new_id,
	                                   &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) ff = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_true(json_is_null(json_object_get(ff, "linked_from")));
	tp_close(c);
}

static void test_clone_cancel(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	json_decref(tp_admin(fake, "POST", "/settings", "{\"clone_ms\":5000}"));
	g_autoptr(GError) error = NULL;
	g_autofree char *new_id = NULL, *ref = NULL;
	g_assert_true(pve_driver.vm->clone(c, "102", "cancelled", NULL, 0, &new_id, &ref, NULL,
	                                   &error));
	/* While the clone runs the new VM is locked. */
	g_autoptr(json_t) during = tp_vm(fake, (guint)g_ascii_strtoull(new_id, NULL, 10));
	g_assert_cmpstr(fake_conf(during, "lock"), ==, "clone");
	g_assert_true(pve_driver.task->cancel(c, ref, NULL, &error));
	g_assert_no_error(error);
	g_autofree char *msg = NULL;
	g_assert_cmpint(tp_task_wait(c, ref, &msg, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	json_decref(tp_admin(fake, "POST", "/settings", "{\"clone_ms\":20}"));
	pk_vm_data *x = NULL;
	g_assert_false(pve_driver.vm->get(c, new_id, 0, &x, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	tp_close(c);
}

/* ---------- snapshots ---------- */

static void test_snapshots(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(370, NULL);
	const char *ras = "RAS Template Snapshot";
	g_assert_cmpint(snap_create_wait(c, "370", ras, 0), ==, PRL_ERR_SUCCESS);
	g_autoptr(json_t) vm = tp_vm(fake, 370);
	json_t *fs = json_object_get(vm, "snapshots");
	g_assert_nonnull(json_object_get(fs, "x-RAS-20Template-20Snapshot"));
	g_assert_cmpstr(json_string_value(json_object_get(json_object_get(fs,
	                "x-RAS-20Template-20Snapshot"), "description")), ==, ras);

	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.snap->list(c, "370", &list, NULL, &error));
	g_assert_cmpuint(list->len, ==, 1);   /* "current" is never reported */
	pk_snapshot_data *s = g_ptr_array_index(list, 0);
	g_assert_cmpstr(s->name, ==, ras);
	g_assert_cmpstr(s->description, ==, "");
	g_assert_true(s->current);
	g_assert_cmpint(s->created, >, 0);
	g_ptr_array_unref(list);

	/* Duplicate without replace: Proxmox's task error. With replace: delete + create. */
	g_assert_cmpint(snap_create_wait(c, "370", ras, 0), ==, PRL_ERR_ENTRY_ALREADY_EXISTS);
	tp_counters_reset(fake);
	g_assert_cmpint(snap_create_wait(c, "370", ras, PK_SNAP_REPLACE), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(tp_counter(fake, "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}"), ==, 1);
	g_assert_cmpint(tp_counter(fake, "POST /nodes/{node}/qemu/{vmid}/snapshot"), ==, 1);
	g_autoptr(GPtrArray) names = snap_names(c, "370");
	g_assert_cmpuint(names->len, ==, 1);
	/* Replace of a missing one is a plain create. */
	g_assert_cmpint(snap_create_wait(c, "370", "RAS_TEMPLATE_VERSION_2", PK_SNAP_REPLACE), ==,
	                PRL_ERR_SUCCESS);

	/* Revert; revert to / delete of missing; "current" is not a snapshot. */
	g_autofree char *ref = NULL;
	g_assert_true(pve_driver.snap->revert(c, "370", ras, 0, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	char *r2 = NULL;
	g_assert_false(pve_driver.snap->revert(c, "370", "missing", 0, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(pve_driver.snap->remove(c, "370", "missing", 0, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(pve_driver.snap->remove(c, "370", "current", 0, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_clear_error(&error);
	tp_counters_reset(fake);
	g_assert_true(pve_driver.snap->remove(c, "370", "missing", PK_SNAP_MISSING_OK, &r2, NULL,
	                                      &error));
	g_assert_null(r2);
	g_assert_cmpint(tp_counter(fake, "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}"), ==, 0);
	g_clear_pointer(&ref, g_free);
	g_assert_true(pve_driver.snap->remove(c, "370", ras, PK_SNAP_MISSING_OK, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(GPtrArray) after = snap_names(c, "370");
	g_assert_false(has_name(after, ras));
	g_assert_true(has_name(after, "RAS_TEMPLATE_VERSION_2"));

	/* Names Proxmox cannot hold are refused clearly. */
	g_assert_false(pve_driver.snap->create(c, "370", "a name with far too many spaces to fit",
	                                       "", 0, &r2, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	tp_close(c);
}

static void test_snapshot_subtree(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(371, "\"snapshots\":[\"sa\",\"sb\",\"sc\"]");
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(pve_driver.snap->remove(c, "371", "sa", PK_SNAP_WITH_CHILDREN, &ref, NULL, &error));
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	g_autoptr(GPtrArray) names = snap_names(c, "371");
	g_assert_cmpuint(names->len, ==, 0);
	g_assert_cmpint(tp_counter(fake, "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}"), ==, 3);
	tp_close(c);
}

/* ---------- task references ---------- */

static void test_task_refs(void)
{
	reset_fake();
	pk_conn *c = conn_uncached();
	vm_create(380, NULL);
	g_autofree char *ref = power(c, "380", PK_POWER_START);
	g_assert_null(strstr(ref, fake->token_secret));
	g_assert_null(strstr(ref, fake->password));
	/* Not even the token's name (the user part of a UPID) travels in a reference. */
	g_assert_null(strstr(ref, fake->token_name));
	g_assert_nonnull(strstr(ref, "task="));
	/* Resolved by another connection (another process would do the same). */
	pk_conn *other = tp_open(fake, NULL);
	g_assert_cmpint(tp_task_wait(other, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	tp_close(other);

	g_autofree char *wrong_node = g_strdup(ref);
	char *p = strstr(wrong_node, "node=pve1");
	g_assert_nonnull(p);
	p[8] = '2';
	g_autofree char *no_task = g_strdup(ref);
	p = strstr(no_task, "task=");
	g_assert_nonnull(p);
	p[5] = p[5] == '9' ? '8' : '9';   /* another pid */
	const char *garbage[] = { "", "nonsense", "v=1", "v=2&op=start&node=pve1&vm=380",
	                          "v=1&op=explode&node=pve1&vm=380&task=1%3A1%3A1%3Aqmstart%3A380",
	                          "v=1&op=start&node=pve1&vm=12&task=1%3A1%3A1%3Aqmstart%3A12",
	                          "v=1&op=start&node=pve1&vm=380&task=garbage",
	                          "v=1&op=start&node=pve%3A1&vm=380&task=1%3A1%3A1%3Aqmstart%3A380",
	                          NULL };
	for (int i = 0; garbage[i]; i++) {
		pk_task_status st = { 0 };
		g_autoptr(GError) error = NULL;
		g_assert_false(pve_driver.task->status(c, garbage[i], &st, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
		pk_task_status_clear(&st);
	}
	/* Well-formed references to tasks Proxmox does not have there. */
	const char *unknown[] = { wrong_node, no_task, NULL };
	for (int i = 0; unknown[i]; i++) {
		pk_task_status st = { 0 };
		g_autoptr(GError) error = NULL;
		g_assert_false(pve_driver.task->status(c, unknown[i], &st, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
	}
	g_assert_cmpint(power_wait(c, "380", PK_POWER_STOP_HARD, NULL), ==, PRL_ERR_SUCCESS);
	tp_close(c);
}

/* ---------- faults through the driver ---------- */

static void test_faults(void)
{
	static const char *rules[] = {
		"\"kind\":\"status\",\"status\":500,\"reason\":\"internal trouble\"",
		"\"kind\":\"status\",\"status\":503,\"reason\":\"Service Unavailable\"",
		"\"kind\":\"slow\",\"delay_ms\":DELAY",
		"\"kind\":\"drop\"",
		"\"kind\":\"reset\"",
		"\"kind\":\"truncate\"",
		"\"kind\":\"garbage\"",
		"\"kind\":\"hang\",\"delay_ms\":DELAY",
		NULL,
	};
	reset_fake();
	g_autofree char *extra = g_strdup_printf("\"request_timeout\":\"%u\",\"inventory_cache_ms\":\"0\","
	                                         "\"config_cache_ttl\":\"0\"", tp_scale());
	pk_conn *c = tp_open(fake, extra);
	vm_create(390, NULL);
	g_autofree char *ref = power(c, "390", PK_POWER_START);
	g_assert_cmpint(tp_task_wait(c, ref, NULL, NULL), ==, PRL_ERR_SUCCESS);
	for (int i = 0; rules[i]; i++) {
		g_autofree char *delay = g_strdup_printf("%u", 3000 * tp_scale());
		g_auto(GStrv) parts = g_strsplit(rules[i], "DELAY", -1);
		g_autofree char *body = g_strjoinv(delay, parts);
		g_autofree char *rule = g_strdup_printf("{\"match\":\".*\",%s,\"count\":-1}", body);
		tp_fault(fake, rule);
		gint64 t0 = g_get_monotonic_time();
		GPtrArray *list = NULL;
		pk_vm_data *d = NULL;
		pk_task_status st = { 0 };
		char *r = NULL;
		GError *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
		g_assert_false(pve_driver.vm->list(c, 0, &list, NULL, &e1));
		g_assert_false(pve_driver.vm->get(c, "390", 0, &d, NULL, &e2));
		g_assert_false(pve_driver.task->status(c, ref, &st, NULL, &e3));
		g_assert_false(pve_driver.vm->power(c, "390", PK_POWER_RESET, 0, &r, NULL, &e4));
		GError *errs[] = { e1, e2, e3, e4 };
		for (int k = 0; k < 4; k++) {
			g_assert_nonnull(errs[k]);
			g_assert_true(errs[k]->domain == PK_ERROR);
			g_assert_cmpint(errs[k]->code, !=, PRL_ERR_SUCCESS);
			g_assert_cmpuint(strlen(errs[k]->message), >, 0);
			g_error_free(errs[k]);
		}
		/* Four operations, each within its 1 s deadline (a wide margin: no hang). */
		g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * tp_scale() * G_USEC_PER_SEC);
		tp_faults_clear(fake);
		/* The provider keeps answering. */
		g_autoptr(pk_vm_data) ok = tp_get(c, "390");
		g_assert_cmpstr(ok->id, ==, "390");
	}
	/* Garbage JSON has its own clear message. */
	tp_fault(fake, "{\"match\":\"GET /cluster/resources\",\"kind\":\"garbage\"}");
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_false(pve_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED);
	g_assert_nonnull(strstr(error->message, "not JSON"));
	/* A 500's reason phrase is the message. */
	g_clear_error(&error);
	tp_fault(fake, "{\"match\":\"GET /cluster/resources\",\"kind\":\"status\",\"status\":500,"
	               "\"reason\":\"cfs lock timeout\"}");
	g_assert_false(pve_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_cmpstr(error->message, ==, "cfs lock timeout");
	g_assert_cmpint(power_wait(c, "390", PK_POWER_STOP_HARD, NULL), ==, PRL_ERR_SUCCESS);
	tp_close(c);
}

typedef struct {
	pk_conn *c;
	GCancellable *cancel;
	GError *error;
} cancel_run;

static gpointer cancel_worker(gpointer data)
{
	cancel_run *r = data;
	GPtrArray *list = NULL;
	if (pve_driver.vm->list(r->c, 0, &list, r->cancel, &r->error))
		g_ptr_array_unref(list);
	return NULL;
}

static void test_cancel_op(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, "\"inventory_cache_ms\":\"0\"");
	tp_fault(fake, "{\"match\":\"GET /cluster/resources\",\"kind\":\"hang\",\"delay_ms\":8000}");
	cancel_run r = { c, g_cancellable_new(), NULL };
	GThread *t = g_thread_new("cancel", cancel_worker, &r);
	g_usleep(200000);
	g_cancellable_cancel(r.cancel);
	g_thread_join(t);
	g_assert_error(r.error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED);
	g_error_free(r.error);
	g_object_unref(r.cancel);
	tp_faults_clear(fake);
	tp_close(c);
}

/* ---------- host ---------- */

static void test_host(void)
{
	reset_fake();
	pk_conn *c = tp_open(fake, NULL);
	pk_host_data *h = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.host->info(c, &h, NULL, &error));
	g_assert_cmpstr(h->hostname, ==, "pve1");
	g_assert_cmpuint(h->cpu_count, ==, 16);
	g_assert_cmpuint(h->ram_mb, ==, 65536);
	g_assert_cmpstr(h->product_version, ==, "Proxmox VE 8.2.4");
	pk_host_data_free(h);
	pk_stats_data *s = NULL;
	g_assert_true(pve_driver.host->statistics(c, &s, NULL, &error));
	g_assert_cmpuint(s->ram_total, ==, 68719476736ull);
	g_assert_cmpuint(s->cpu_usage->len, ==, 16);
	pk_stats_data_free(s);
	g_assert_true(pve_driver.vm->statistics(c, "101", &s, NULL, &error));
	g_assert_cmpuint(s->ram_total, ==, 2048ull << 20);
	g_assert_cmpuint(s->cpu_usage->len, ==, 2);
	pk_stats_data_free(s);
	tp_close(c);
}

/* ---------- request counts of a poll cycle ---------- */

static void poll_cycle(pk_conn *c)
{
	GPtrArray *list = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = NULL;
		g_assert_true(pve_driver.vm->get(c, ((pk_vm_data *)g_ptr_array_index(list, i))->id, 0,
		                                 &d, NULL, &error));
		pk_vm_data_free(d);
	}
	g_ptr_array_unref(list);
}

static void test_poll_cycle_requests(void)
{
	const guint n = 40;
	tp_fake *big = tp_fake_start("--vms", "40", "--nodes", "pve1,pve2", NULL);
	/* A long inventory cache: the counts must not depend on how fast this machine is. */
	pk_conn *c = tp_open(big, "\"inventory_cache_ms\":\"60000\"");
	tp_counters_reset(big);
	poll_cycle(c);
	gint64 cold = tp_counter(big, "_total");
	g_assert_cmpint(cold, <=, 2 * n + 3);
	g_assert_cmpint(tp_counter(big, "GET /cluster/resources"), ==, 1);
	g_assert_cmpint(tp_counter(big, "GET /nodes/{node}/qemu/{vmid}/config"), ==, n);
	/* Only running VMs (half of them) are asked for their IPs. */
	g_assert_cmpint(tp_counter(big, "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
	                ==, n / 2);
	g_assert_cmpint(tp_counter(big, "_connections"), <=, 4);

	tp_counters_reset(big);
	poll_cycle(c);
	g_assert_cmpint(tp_counter(big, "_total"), <=, 3);
	tp_close(c);
	tp_fake_stop(big);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_writer_func(quiet_writer, NULL, NULL);
	if (!tp_fake_available()) {
		g_print("1..0 # SKIP python3 and openssl are needed for the fake Proxmox server\n");
		return 0;
	}
	fake = tp_fake_start(NULL, NULL);
	g_test_add_func("/pve/driver/open/token", test_open_token);
	g_test_add_func("/pve/driver/open/bad-credentials", test_open_bad_credentials);
	g_test_add_func("/pve/driver/open/ticket", test_ticket_auth);
	g_test_add_func("/pve/driver/open/tls", test_open_tls);
	g_test_add_func("/pve/driver/access-denied", test_access_denied);
	g_test_add_func("/pve/driver/list", test_list);
	g_test_add_func("/pve/driver/list/identity", test_list_identity);
	g_test_add_func("/pve/driver/get", test_get);
	g_test_add_func("/pve/driver/vanishing-vm", test_vanishing_vm);
	g_test_add_func("/pve/driver/power/cycle", test_power_cycle);
	g_test_add_func("/pve/driver/power/forced-shutdown", test_forced_shutdown_warnings);
	g_test_add_func("/pve/driver/power/suspend-resume", test_suspend_resume);
	g_test_add_func("/pve/driver/power/lock-retry", test_lock_retry);
	g_test_add_func("/pve/driver/delete", test_delete);
	g_test_add_func("/pve/driver/edit", test_edit);
	g_test_add_func("/pve/driver/template/tag", test_template_tag_mode);
	g_test_add_func("/pve/driver/template/native", test_template_native_mode);
	g_test_add_func("/pve/driver/clone/tag", test_clone_tag_mode);
	g_test_add_func("/pve/driver/clone/nextid-race", test_clone_nextid_race);
	g_test_add_func("/pve/driver/clone/native-linked", test_clone_native_linked);
	g_test_add_func("/pve/driver/clone/cancel", test_clone_cancel);
	g_test_add_func("/pve/driver/snapshots", test_snapshots);
	g_test_add_func("/pve/driver/snapshots/subtree", test_snapshot_subtree);
	g_test_add_func("/pve/driver/tasks/refs", test_task_refs);
	g_test_add_func("/pve/driver/faults", test_faults);
	g_test_add_func("/pve/driver/cancel", test_cancel_op);
	g_test_add_func("/pve/driver/host", test_host);
	g_test_add_func("/pve/driver/poll-cycle-requests", test_poll_cycle_requests);
	int rc = g_test_run();
	tp_fake_stop(fake);
	return rc;
}

/* Helpers for the sim driver tests (see test-sim-util.h). */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "test-sim-util.h"
#include "core-conn.h"
#include "util-settings.h"
#include "util-time.h"

static gint64 ts_offset;

char *
ts_new_dir(const char *tag)
{
	static gint counter;
	const char *base = g_getenv("PRLKIT_TEST_TMPDIR");
	g_autofree char *tmp = NULL;
	char *dir;

	if (!base || !*base) {
		tmp = g_dir_make_tmp("prlkit-sim-test-XXXXXX", NULL);
		g_assert_nonnull(tmp);
		base = tmp;
	}
	dir = g_strdup_printf("%s/sim-%s-%d-%d", base, tag, (int)getpid(),
	                      g_atomic_int_add(&counter, 1));
	return dir;
}

char *
ts_uri(const char *dir, const char *query)
{
	return g_strdup_printf("sim://%s%s%s", dir, query ? "?" : "", query ? query : "");
}

pk_conn *
ts_open_full(const char *uri_text, const char *settings_json, pk_open_status *status,
             GError **error)
{
	g_autoptr(GHashTable) settings = pk_settings_new();
	g_autoptr(GUri) uri = NULL;
	pk_conn *c;

	*status = PK_OPEN_ERROR;
	if (uri_text) {
		uri = g_uri_parse(uri_text, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY |
		                  G_URI_FLAGS_NON_DNS, error);
		if (!uri)
			return NULL;
		if (g_uri_get_query(uri) &&
		    !pk_settings_merge_uri_query(settings, g_uri_get_query(uri), error))
			return NULL;
	}
	if (!pk_settings_merge_json(settings, settings_json, error))
		return NULL;
	c = pk_conn_new(&sim_driver, uri, settings);
	*status = sim_driver.open(c, uri, settings, NULL, error);
	if (*status != PK_OPEN_OK) {
		pk_conn_unref(c);
		return NULL;
	}
	return c;
}

pk_conn *
ts_open(const char *uri, const char *settings_json)
{
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	pk_conn *c = ts_open_full(uri, settings_json, &st, &error);

	g_assert_no_error(error);
	g_assert_cmpint(st, ==, PK_OPEN_OK);
	g_assert_nonnull(c);
	return c;
}

void
ts_close(pk_conn *c)
{
	if (!c)
		return;
	sim_driver.close(c);
	pk_conn_unref(c);
}

pk_task_status
ts_task_status(pk_conn *c, const char *ref)
{
	g_autoptr(GError) error = NULL;
	pk_task_status st = { 0 };

	g_assert_true(sim_driver.task->status(c, ref, &st, NULL, &error));
	g_assert_no_error(error);
	return st;
}

PRL_RESULT
ts_task_wait(pk_conn *c, const char *ref, char **message)
{
	for (;;) {
		pk_task_status st = ts_task_status(c, ref);
		if (st.finished) {
			PRL_RESULT code = st.code;
			if (message)
				*message = g_steal_pointer(&st.message);
			pk_task_status_clear(&st);
			return code;
		}
		pk_task_status_clear(&st);
		g_usleep(1000 * sim_driver.task->poll_interval_ms(c, ref));
	}
}

static void
ts_clock_set(void)
{
	char buf[32];
	g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, ts_offset);
	g_setenv("PRLKIT_FAKE_TIME_OFFSET_MS", buf, TRUE);
}

void
ts_clock_reset(void)
{
	ts_offset = 0;
	g_unsetenv("PRLKIT_FAKE_TIME_OFFSET_MS");
}

void
ts_clock_advance(gint64 ms)
{
	ts_offset += ms;
	ts_clock_set();
}

pk_vm_data *
ts_vm_get(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	pk_vm_data *d = NULL;

	g_assert_true(sim_driver.vm->get(c, id, 0, &d, NULL, &error));
	g_assert_no_error(error);
	return d;
}

pk_vm_data *
ts_vm_by_name(pk_conn *c, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = NULL;
	guint i;

	g_assert_true(sim_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_no_error(error);
	for (i = 0; i < list->len; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		if (g_strcmp0(d->name, name) == 0)
			return pk_vm_data_copy(d);
	}
	g_error("no VM named '%s'", name);
	return NULL;
}

guint
ts_vm_count(pk_conn *c)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = NULL;

	g_assert_true(sim_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	g_assert_no_error(error);
	return list->len;
}

guint
ts_check_state_file(const char *dir)
{
	g_autofree char *path = g_build_filename(dir, SIM_STATE_FILE, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) macs = g_hash_table_new(g_str_hash, g_str_equal);
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	json_t *vm;
	gsize i;
	guint n;

	if (!doc)
		g_error("%s does not parse: %s", path, jerr.text);
	g_assert_true(sim_doc_validate(doc, &error));  /* also: ids unique */
	g_assert_no_error(error);
	json_array_foreach(json_object_get(doc, "vms"), i, vm) {
		const char *mac = sim_jstr(vm, "mac");
		g_assert_true(g_hash_table_add(names, (gpointer)sim_jstr(vm, "name")));
		g_assert_nonnull(mac);
		g_assert_true(g_hash_table_add(macs, (gpointer)mac));
	}
	n = (guint)json_array_size(json_object_get(doc, "vms"));
	json_decref(doc);
	return n;
}

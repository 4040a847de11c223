/* The libvirt driver through its vtable, against libvirt's test:// hypervisor: URIs and
 * settings, list/get, power, edit, templates, snapshots as qcow2 layers, clones, deletion
 * with layer garbage collection, task references, events and the config cache. */
#include "config.h"

#include <string.h>

#include "test-libvirt-util.h"
#include "util-log.h"
#include "util-time.h"

extern const pk_driver libvirt_driver;
#define VMO (libvirt_driver.vm)
#define SNO (libvirt_driver.snap)

/* ------------------------------------------------------------------ helpers ---- */

static void power_ok(pk_conn *c, const char *id, pk_power_op op)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(VMO->power(c, id, op, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);   /* test:// does everything at once */
}

static void power_fails(pk_conn *c, const char *id, pk_power_op op, PRL_RESULT code)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	gboolean ok = VMO->power(c, id, op, 0, &ref, NULL, &error);
	tl_assert_error(ok, &error, code);
	g_assert_null(ref);
}

static VIRTUAL_MACHINE_STATE state_of(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = tl_get(c, id);
	return d->state;
}

static void snap_create(pk_conn *c, const char *id, const char *name, guint flags)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(SNO->create(c, id, name, "about it", flags, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);
}

static void snap_delete(pk_conn *c, const char *id, const char *name, guint flags)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(SNO->remove(c, id, name, flags, &ref, NULL, &error));
	g_assert_no_error(error);
}

static void snap_revert(pk_conn *c, const char *id, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(SNO->revert(c, id, name, 0, &ref, NULL, &error));
	g_assert_no_error(error);
}

/* "A,B*" : names oldest first, '*' marks the current one. */
static char *snap_summary(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	g_assert_true(SNO->list(c, id, &list, NULL, &error));
	g_assert_no_error(error);
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		pk_snapshot_data *sd = list->pdata[i];
		g_string_append_printf(s, "%s%s%s", i ? "," : "", sd->name, sd->current ? "*" : "");
	}
	g_ptr_array_unref(list);
	return g_string_free(s, FALSE);
}

static char *clone_ok(pk_conn *c, const char *id, const char *name, const char *snap,
                      guint flags)
{
	g_autoptr(GError) error = NULL;
	char *new_id = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(VMO->clone(c, id, name, snap, flags, &new_id, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(ref);
	g_assert_true(g_uuid_string_is_valid(new_id));
	return new_id;
}

static void delete_ok(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(VMO->remove(c, id, 0, &ref, NULL, &error));
	g_assert_no_error(error);
}

static void commit_ok(pk_conn *c, const char *id, pk_vm_data *old, pk_vm_data *new_)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	g_assert_true(VMO->commit(c, id, old, new_, 0, &ref, NULL, &error));
	g_assert_no_error(error);
}

static void set_template(pk_conn *c, const char *id, gboolean on)
{
	g_autoptr(pk_vm_data) old = tl_get(c, id);
	g_autoptr(pk_vm_data) edit = pk_vm_data_copy(old);
	edit->is_template = on;
	commit_ok(c, id, old, edit);
}

/* ------------------------------------------------------------------- open ---- */

static char *uri_for_libvirt(const char *prlkit_uri)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GUri) u = g_uri_parse(prlkit_uri, G_URI_FLAGS_ENCODED_QUERY, &error);
	g_assert_no_error(error);
	char *out = NULL;
	g_assert_true(lv_uri_from(u, &out, &error));
	g_assert_no_error(error);
	return out;
}

static void test_uri(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "qemu:///system", "qemu:///system" },
		{ "test:///default?storage_pool=p", "test:///default" },
		{ "libvirt+qemu+ssh://root@kvm1/system?storage_pool=p&keyfile=/k",
		  "qemu+ssh://root@kvm1/system?keyfile=/k&no_tty=1" },
		{ "qemu+ssh://kvm1:2222/system", "qemu+ssh://kvm1:2222/system?no_tty=1" },
		{ "qemu+ssh://kvm1/system?no_tty=0", "qemu+ssh://kvm1/system?no_tty=0" },
		{ "qemu+libssh://kvm1/system?known_hosts=/h", "qemu+libssh://kvm1/system?known_hosts=/h" },
		{ "qemu+tls://kvm1/system", "qemu+tls://kvm1/system" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = uri_for_libvirt(cases[i].in);
		g_assert_cmpstr(got, ==, cases[i].out);
	}
	g_autofree char *none = uri_for_libvirt("libvirt:");
	g_assert_null(none);
}

static void test_open(void)
{
	g_autofree char *uri = tl_node_uri();
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	const char *file = uri + strlen("test://");

	/* prlkit's settings in the query are not passed to libvirt */
	g_autofree char *q = g_strdup_printf("%s?storage_pool=" TL_POOL "&stop_mode=destroy"
	                                     "&force_stop_after=5", uri);
	pk_conn *c = tl_open(q, NULL);
	g_assert_cmpstr(lv_conn_of(c)->s.uri, ==, uri);
	g_assert_true(lv_conn_of(c)->s.stop_hard);
	g_assert_cmpuint(lv_conn_of(c)->s.force_stop_after_s, ==, 5);
	tl_close(c);

	g_autofree char *plus = g_strdup_printf("libvirt+test://%s", file);
	c = tl_open(plus, NULL);
	g_assert_cmpstr(lv_conn_of(c)->s.uri, ==, uri);
	g_assert_false(lv_conn_of(c)->s.stop_hard);
	tl_close(c);

	/* by driver name, the URI in the settings; a pool named by its directory */
	g_autofree char *json = g_strdup_printf("{\"uri\":\"%s\",\"storage_pool\":\"/pk-pool/\","
	                                        "\"network\":\"isolated\"}", uri);
	c = tl_open(NULL, json);
	g_assert_cmpstr(lv_conn_of(c)->s.uri, ==, uri);
	g_assert_cmpstr(lv_conn_of(c)->s.pool, ==, TL_POOL);
	tl_close(c);

	/* the uri setting is cleaned of prlkit's parameters too */
	g_autofree char *json2 = g_strdup_printf("{\"uri\":\"libvirt+%s?ip_source=lease\"}", uri);
	c = tl_open(NULL, json2);
	g_assert_cmpstr(lv_conn_of(c)->s.uri, ==, uri);
	tl_close(c);
	g_assert_null(tl_open_full(NULL, "{\"uri\":\"::not a uri\"}", &st, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_clear_error(&error);

	/* not ours */
	g_assert_null(tl_open_full("sim:///x", NULL, &st, &error));
	g_assert_cmpint(st, ==, PK_OPEN_DECLINED);
	g_assert_no_error(error);

	/* bad settings name the key */
	static const struct { const char *json; const char *key; } bad[] = {
		{ "{\"storage_pool\":\"nope\"}", "'storage_pool'" },
		{ "{\"storage_pool\":\"/no/such/dir\"}", "'storage_pool'" },
		{ "{\"network\":\"nope\"}", "'network'" },
		{ "{\"stop_mode\":\"sometimes\"}", "'stop_mode'" },
		{ "{\"force_stop_after\":\"0\"}", "'force_stop_after'" },
		{ "{\"suspend_mode\":\"hibernate\"}", "'suspend_mode'" },
		{ "{\"ip_source\":\"arp\"}", "'ip_source'" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_null(tl_open_full(uri, bad[i].json, &st, &error));
		g_assert_cmpint(st, ==, PK_OPEN_ERROR);
		g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
		if (strstr(error->message, bad[i].key) == NULL)
			g_error("'%s' does not name %s", error->message, bad[i].key);
		g_clear_error(&error);
	}

	/* nothing listens there */
	g_assert_null(tl_open_full("qemu+unix:///system?socket=/nonexistent/sock", NULL, &st,
	                           &error));
	g_assert_cmpint(st, ==, PK_OPEN_ERROR);
	g_assert_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	g_assert_nonnull(strstr(error->message, "qemu+unix:///system?socket=/nonexistent/sock"));
	g_clear_error(&error);
}

/* -------------------------------------------------------------- list, get ---- */

static void test_list_get(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;

	for (int pass = 0; pass < 2; pass++) {   /* the second one from the cache */
		g_assert_true(VMO->list(c, 0, &list, NULL, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(list->len, ==, 3);
		for (guint i = 0; i < list->len; i++) {
			pk_vm_data *d = list->pdata[i];
			if (strcmp(d->id, TL_BLK) == 0) {
				g_assert_cmpint(d->state, ==, VMS_RUNNING);
			} else if (strcmp(d->id, TL_GOLD) == 0) {
				g_assert_cmpstr(d->name, ==, "gold");
				g_assert_cmpint(d->state, ==, VMS_STOPPED);
				g_assert_cmpstr(d->power_state, ==, "shutoff");
				g_assert_cmpuint(d->ips->len, ==, 0);
			} else {
				g_assert_cmpstr(d->id, ==, TL_RUN1);
				g_assert_cmpint(d->state, ==, VMS_RUNNING);
				g_assert_cmpuint(d->ips->len, >, 0);   /* test:// invents one */
				g_assert_cmpstr(d->macs->pdata[0], ==, "52:54:00:AB:CD:EF");
			}
		}
		g_ptr_array_unref(list);
	}
	g_assert_true(VMO->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	for (guint i = 0; i < list->len; i++)
		g_assert_cmpuint(((pk_vm_data *)list->pdata[i])->ips->len, ==, 0);
	g_ptr_array_unref(list);

	g_autoptr(pk_vm_data) gold = tl_get(c, TL_GOLD);
	g_assert_cmpstr(gold->name, ==, "gold");
	g_assert_cmpuint(gold->ram_mb, ==, 256);
	g_assert_cmpuint(gold->cpus, ==, 1);
	g_assert_false(gold->is_template);
	g_assert_cmpstr(gold->description, ==, "");
	g_assert_cmpuint(gold->macs->len, ==, 1);
	g_assert_cmpstr(gold->macs->pdata[0], ==, "52:54:00:12:34:56");
	g_assert_cmpuint(gold->nets->len, ==, 1);
	g_assert_cmpstr(((pk_net_data *)gold->nets->pdata[0])->network, ==, "default");
	g_assert_cmpuint(gold->disks->len, ==, 2);
	pk_disk_data *hd = gold->disks->pdata[0], *cd = gold->disks->pdata[1];
	g_assert_cmpstr(hd->image_path, ==, "/pk-pool/gold.qcow2");
	g_assert_cmpuint(hd->size_mb, ==, 64);
	g_assert_cmpint(hd->type, ==, PDE_HARD_DISK);
	g_assert_cmpint(cd->type, ==, PDE_OPTICAL_DISK);
	g_assert_nonnull(gold->digest);

	g_autoptr(pk_vm_data) run1 = tl_get(c, TL_RUN1);
	g_assert_cmpint(run1->state, ==, VMS_RUNNING);
	g_assert_cmpstr(run1->power_state, ==, "running");
	g_assert_cmpuint(run1->ips->len, >, 0);

	pk_vm_data *d = NULL;
	tl_assert_error(VMO->get(c, "22222222-2222-3333-4444-555555555555", 0, &d, NULL, &error),
	                &error, PRL_ERR_VM_UUID_NOT_FOUND);
	tl_assert_error(VMO->get(c, "gold", 0, &d, NULL, &error), &error,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_null(d);
	tl_close(c);
}

/* States the same by domain statistics and by filtered lists; identity lists read no
 * configuration but know templates. */
static int strcmp_p(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *states_summary(pk_conn *c, guint flags)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	g_assert_true(VMO->list(c, flags, &list, NULL, &error));
	g_assert_no_error(error);
	GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = list->pdata[i];
		g_assert_cmpint(d->identity_only, ==, (flags & PK_LIST_IDENTITY_ONLY) != 0);
		if (d->identity_only) {
			g_assert_cmpuint(d->disks->len + d->nets->len + d->macs->len + d->ips->len, ==, 0);
			g_assert_null(d->description);
		}
		g_ptr_array_add(words, g_strdup_printf("%s=%s/%d/%s%s", d->id, d->name, (int)d->state,
		                                       d->power_state, d->is_template ? "/T" : ""));
	}
	g_ptr_array_sort(words, strcmp_p);
	g_ptr_array_add(words, NULL);
	char *s = g_strjoinv(" ", (char **)words->pdata);
	g_ptr_array_unref(words);
	g_ptr_array_unref(list);
	return s;
}

static void test_list_paths(void)
{
	pk_conn *c = tl_open_node();
	power_ok(c, TL_GOLD, PK_POWER_START);
	power_ok(c, TL_GOLD, PK_POWER_SUSPEND);      /* managed save */
	power_ok(c, TL_RUN1, PK_POWER_PAUSE);
	g_autofree char *by_stats = states_summary(c, PK_GET_NO_GUEST_INFO);
	g_assert_nonnull(strstr(by_stats, "=gold/"));
	g_assert_nonnull(strstr(by_stats, "/saved"));
	g_assert_nonnull(strstr(by_stats, "/paused"));
	lv_test_no_domain_stats = TRUE;
	g_autofree char *by_filters = states_summary(c, PK_GET_NO_GUEST_INFO);
	lv_test_no_domain_stats = FALSE;
	g_assert_cmpstr(by_stats, ==, by_filters);

	/* identity: with an empty cache, then from the cache */
	const char *ids[] = { TL_GOLD, TL_RUN1, TL_BLK };
	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		lv_cache_invalidate(lv_conn_of(c)->ev, ids[i]);
	g_autofree char *id_cold = states_summary(c, PK_LIST_IDENTITY_ONLY | PK_GET_NO_GUEST_INFO);
	g_autofree char *id_warm = states_summary(c, PK_LIST_IDENTITY_ONLY | PK_GET_NO_GUEST_INFO);
	g_assert_cmpstr(id_cold, ==, by_stats);
	g_assert_cmpstr(id_warm, ==, by_stats);
	power_ok(c, TL_GOLD, PK_POWER_STOP_HARD);
	power_ok(c, TL_RUN1, PK_POWER_RESUME);
	set_template(c, TL_GOLD, TRUE);
	g_autofree char *id_tpl = states_summary(c, PK_LIST_IDENTITY_ONLY);
	g_assert_nonnull(strstr(id_tpl, "=gold/"));
	g_assert_nonnull(strstr(id_tpl, "/T"));
	set_template(c, TL_GOLD, FALSE);
	tl_close(c);
}

/* ------------------------------------------------------------------ power ---- */

static void test_power(void)
{
	pk_conn *c = tl_open_node();
	power_fails(c, TL_GOLD, PK_POWER_STOP_GRACEFUL, PRL_ERR_DISP_VM_IS_NOT_STARTED);
	power_fails(c, TL_GOLD, PK_POWER_STOP_HARD, PRL_ERR_DISP_VM_IS_NOT_STARTED);
	power_fails(c, TL_GOLD, PK_POWER_RESUME, PRL_ERR_VM_IS_NOT_SUSPENDED);
	power_fails(c, TL_GOLD, PK_POWER_RESET, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_fails(c, TL_GOLD, PK_POWER_PAUSE, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_fails(c, TL_GOLD, PK_POWER_SUSPEND, PRL_ERR_DISP_VM_IS_NOT_RUNNING);

	power_ok(c, TL_GOLD, PK_POWER_START);
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_RUNNING);
	power_fails(c, TL_GOLD, PK_POWER_START, PRL_ERR_VM_ALREADY_RUNNING);
	power_ok(c, TL_GOLD, PK_POWER_RESET);
	power_ok(c, TL_GOLD, PK_POWER_RESTART);
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_RUNNING);

	power_ok(c, TL_GOLD, PK_POWER_PAUSE);
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_PAUSED);
	power_ok(c, TL_GOLD, PK_POWER_START);   /* start of a paused VM continues it */
	power_ok(c, TL_GOLD, PK_POWER_PAUSE);
	power_ok(c, TL_GOLD, PK_POWER_RESUME);
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_RUNNING);

	/* suspend = managed save: shut off with the memory saved */
	power_ok(c, TL_GOLD, PK_POWER_SUSPEND);
	g_autoptr(pk_vm_data) d = tl_get(c, TL_GOLD);
	g_assert_cmpint(d->state, ==, VMS_SUSPENDED);
	g_assert_cmpstr(d->power_state, ==, "saved");
	power_fails(c, TL_GOLD, PK_POWER_SUSPEND, PRL_ERR_VM_ALREADY_SUSPENDED);
	power_fails(c, TL_GOLD, PK_POWER_STOP_GRACEFUL, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_ok(c, TL_GOLD, PK_POWER_RESUME);
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_RUNNING);
	power_ok(c, TL_GOLD, PK_POWER_SUSPEND);
	power_ok(c, TL_GOLD, PK_POWER_STOP_HARD);   /* drops the saved state */
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_STOPPED);

	power_ok(c, TL_GOLD, PK_POWER_START);
	power_ok(c, TL_GOLD, PK_POWER_STOP_GRACEFUL);   /* test:// shuts down at once */
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_STOPPED);

	/* the list sees the same states */
	power_ok(c, TL_GOLD, PK_POWER_START);
	power_ok(c, TL_GOLD, PK_POWER_SUSPEND);
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	g_assert_true(VMO->list(c, 0, &list, NULL, &error));
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *x = list->pdata[i];
		if (strcmp(x->id, TL_GOLD) == 0)
			g_assert_cmpint(x->state, ==, VMS_SUSPENDED);
	}
	g_ptr_array_unref(list);
	power_ok(c, TL_GOLD, PK_POWER_STOP_HARD);

	/* suspend_mode=pause */
	tl_close(c);
	g_autofree char *uri = tl_node_uri();
	c = tl_open(uri, "{\"suspend_mode\":\"pause\",\"stop_mode\":\"destroy\"}");
	power_ok(c, TL_RUN1, PK_POWER_SUSPEND);
	g_assert_cmpint(state_of(c, TL_RUN1), ==, VMS_PAUSED);
	power_fails(c, TL_RUN1, PK_POWER_SUSPEND, PRL_ERR_VM_ALREADY_SUSPENDED);
	power_ok(c, TL_RUN1, PK_POWER_RESUME);
	power_ok(c, TL_RUN1, PK_POWER_STOP_GRACEFUL);   /* stop_mode=destroy */
	g_assert_cmpint(state_of(c, TL_RUN1), ==, VMS_STOPPED);
	power_fails(c, "33333333-2222-3333-4444-555555555555", PK_POWER_START,
	            PRL_ERR_VM_UUID_NOT_FOUND);
	tl_close(c);
}

/* ------------------------------------------------------------------- edit ---- */

static void test_edit(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;

	g_autoptr(pk_vm_data) old = tl_get(c, TL_GOLD);
	g_autoptr(pk_vm_data) edit = pk_vm_data_copy(old);
	g_free(edit->name);
	edit->name = g_strdup("gold-2");
	edit->ram_mb = 512;
	edit->cpus = 2;
	g_free(edit->description);
	edit->description = g_strdup("a <golden> & \"shiny\" image");
	commit_ok(c, TL_GOLD, old, edit);
	g_autoptr(pk_vm_data) now = tl_get(c, TL_GOLD);
	g_assert_cmpstr(now->name, ==, "gold-2");
	g_assert_cmpuint(now->ram_mb, ==, 512);
	g_assert_cmpuint(now->cpus, ==, 2);
	g_assert_cmpstr(now->description, ==, "a <golden> & \"shiny\" image");
	g_assert_cmpstr(now->digest, !=, old->digest);
	/* the rest of the definition is untouched */
	g_assert_cmpstr(now->macs->pdata[0], ==, "52:54:00:12:34:56");
	g_assert_cmpuint(now->disks->len, ==, 2);

	/* an edit based on what was read before the change is refused */
	g_autoptr(pk_vm_data) stale = pk_vm_data_copy(old);
	stale->ram_mb = 1024;
	tl_assert_error(VMO->commit(c, TL_GOLD, old, stale, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_CONFIG_WAS_CHANGED);

	/* names */
	g_autoptr(pk_vm_data) ren = pk_vm_data_copy(now);
	g_free(ren->name);
	ren->name = g_strdup("run1");
	tl_assert_error(VMO->commit(c, TL_GOLD, now, ren, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME);
	g_free(ren->name);
	ren->name = g_strdup("a/b");
	tl_assert_error(VMO->commit(c, TL_GOLD, now, ren, 0, &ref, NULL, &error), &error,
	                PRL_ERR_INVALID_ARG);
	g_free(ren->name);
	ren->name = g_strdup("  ");
	tl_assert_error(VMO->commit(c, TL_GOLD, now, ren, 0, &ref, NULL, &error), &error,
	                PRL_ERR_INVALID_PARAM);
	g_autoptr(pk_vm_data) ram = pk_vm_data_copy(now);
	ram->ram_mb = 0;
	tl_assert_error(VMO->commit(c, TL_GOLD, now, ram, 0, &ref, NULL, &error), &error,
	                PRL_ERR_INVALID_MEMORY_SIZE);

	/* templates: a marker in the metadata, reversible; a template cannot start */
	set_template(c, TL_GOLD, TRUE);
	g_autoptr(pk_vm_data) tpl = tl_get(c, TL_GOLD);
	g_assert_true(tpl->is_template);
	power_fails(c, TL_GOLD, PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	set_template(c, TL_GOLD, FALSE);
	g_autoptr(pk_vm_data) vm = tl_get(c, TL_GOLD);
	g_assert_false(vm->is_template);
	g_assert_cmpstr(vm->description, ==, "a <golden> & \"shiny\" image");

	/* running: description yes; memory, CPUs, name, template no */
	g_autoptr(pk_vm_data) r = tl_get(c, TL_RUN1);
	g_autoptr(pk_vm_data) re = pk_vm_data_copy(r);
	g_free(re->description);
	re->description = g_strdup("busy");
	commit_ok(c, TL_RUN1, r, re);
	g_autoptr(pk_vm_data) r2 = tl_get(c, TL_RUN1);
	g_assert_cmpstr(r2->description, ==, "busy");
	g_autoptr(pk_vm_data) rr = pk_vm_data_copy(r2);
	rr->ram_mb = 1024;
	tl_assert_error(VMO->commit(c, TL_RUN1, r2, rr, 0, &ref, NULL, &error), &error,
	                PRL_ERR_DISP_VM_IS_NOT_STOPPED);
	g_autoptr(pk_vm_data) rt = pk_vm_data_copy(r2);
	rt->is_template = TRUE;
	tl_assert_error(VMO->commit(c, TL_RUN1, r2, rt, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE);
	/* nothing to change is success */
	commit_ok(c, TL_RUN1, r2, r2);
	tl_close(c);
}

/* -------------------------------------------------------------- snapshots ---- */

static void test_snapshots(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;

	g_assert_cmpuint(tl_count_ours(c), ==, 0);
	snap_create(c, TL_GOLD, "v1", 0);
	/* the disk now is an overlay of ours on the frozen original */
	g_autofree char *a1 = tl_disk_path(c, TL_GOLD, "vda");
	g_assert_true(g_str_has_prefix(a1, "/pk-pool/" LV_VOL_PREFIX TL_GOLD "-"));
	g_autofree char *b1 = tl_backing_of(c, a1);
	g_assert_cmpstr(b1, ==, "/pk-pool/gold.qcow2");
	g_autofree char *cdrom = tl_disk_path(c, TL_GOLD, "hdc");   /* read-only: untouched */
	g_assert_cmpstr(cdrom, ==, "/iso/install.iso");
	g_autofree char *s1 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s1, ==, "v1*");
	tl_assert_error(SNO->create(c, TL_GOLD, "v1", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_ENTRY_ALREADY_EXISTS);
	tl_assert_error(SNO->create(c, TL_GOLD, "", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_INVALID_ARG);
	tl_assert_error(SNO->create(c, TL_GOLD, "bad\nname", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_INVALID_ARG);

	/* v2 freezes v1's overlay: base ← a1 ← a2 */
	snap_create(c, TL_GOLD, "v2", 0);
	g_autofree char *a2 = tl_disk_path(c, TL_GOLD, "vda");
	g_autofree char *b2 = tl_backing_of(c, a2);
	g_assert_cmpstr(b2, ==, a1);
	g_autofree char *s2 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s2, ==, "v1,v2*");
	GPtrArray *list = NULL;
	g_assert_true(SNO->list(c, TL_GOLD, &list, NULL, &error));
	pk_snapshot_data *sv2 = list->pdata[1];
	g_assert_cmpstr(sv2->parent, ==, "v1");
	g_assert_cmpstr(sv2->description, ==, "about it");
	g_assert_cmpint(sv2->created, >, 1600000000);
	g_ptr_array_unref(list);

	/* memory is part of a snapshot */
	g_autoptr(pk_vm_data) old = tl_get(c, TL_GOLD);
	g_autoptr(pk_vm_data) big = pk_vm_data_copy(old);
	big->ram_mb = 1024;
	commit_ok(c, TL_GOLD, old, big);

	/* revert to v1: a new overlay on the original; a2 is gone, a1 (v2's layer) stays */
	snap_revert(c, TL_GOLD, "v1");
	g_autofree char *a3 = tl_disk_path(c, TL_GOLD, "vda");
	g_autofree char *b3 = tl_backing_of(c, a3);
	g_assert_cmpstr(b3, ==, "/pk-pool/gold.qcow2");
	g_assert_false(tl_vol_exists(c, a2));
	g_assert_true(tl_vol_exists(c, a1));
	g_autoptr(pk_vm_data) back = tl_get(c, TL_GOLD);
	g_assert_cmpuint(back->ram_mb, ==, 256);
	g_autofree char *s3 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s3, ==, "v1*,v2");

	/* deleting v1 deletes nothing (its layer is the original disk, not ours) */
	snap_delete(c, TL_GOLD, "v1", 0);
	g_autofree char *s4 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s4, ==, "v2");
	g_assert_true(tl_vol_exists(c, "/pk-pool/gold.qcow2"));
	/* deleting v2: nothing sits on a1 any more, so it goes */
	snap_delete(c, TL_GOLD, "v2", 0);
	g_assert_false(tl_vol_exists(c, a1));
	g_assert_cmpuint(tl_count_ours(c), ==, 1);   /* the active overlay a3 */

	/* missing */
	tl_assert_error(SNO->remove(c, TL_GOLD, "v2", 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	snap_delete(c, TL_GOLD, "v2", PK_SNAP_MISSING_OK);
	tl_assert_error(SNO->revert(c, TL_GOLD, "v2", 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_SNAPSHOT_NOT_FOUND);

	/* replace keeps one snapshot of the name, the newest */
	snap_create(c, TL_GOLD, "RAS Template Snapshot", 0);
	snap_create(c, TL_GOLD, "RAS Template Snapshot", PK_SNAP_REPLACE);
	g_autofree char *s5 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s5, ==, "RAS Template Snapshot*");

	/* with children; a child of a deleted snapshot moves up */
	snap_create(c, TL_GOLD, "a", 0);
	snap_create(c, TL_GOLD, "b", 0);
	snap_create(c, TL_GOLD, "c", 0);
	snap_delete(c, TL_GOLD, "b", 0);
	g_assert_true(SNO->list(c, TL_GOLD, &list, NULL, &error));
	g_assert_cmpuint(list->len, ==, 3);
	g_assert_cmpstr(((pk_snapshot_data *)list->pdata[2])->name, ==, "c");
	g_assert_cmpstr(((pk_snapshot_data *)list->pdata[2])->parent, ==, "a");
	g_ptr_array_unref(list);
	snap_delete(c, TL_GOLD, "RAS Template Snapshot", PK_SNAP_WITH_CHILDREN);
	g_autofree char *s6 = snap_summary(c, TL_GOLD);
	g_assert_cmpstr(s6, ==, "");
	g_assert_cmpuint(tl_count_ours(c), ==, 6);   /* the chain under the active overlay */

	/* a suspended VM is not snapshotted (its saved memory matches its disks) */
	power_ok(c, TL_GOLD, PK_POWER_START);
	power_ok(c, TL_GOLD, PK_POWER_SUSPEND);
	tl_assert_error(SNO->create(c, TL_GOLD, "x", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_DISP_VM_IS_NOT_STOPPED);
	power_ok(c, TL_GOLD, PK_POWER_STOP_HARD);

	/* only file disks can be layered */
	tl_assert_error(SNO->create(c, TL_BLK, "x", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_REQUEST_NOT_SUPPORTED);

	/* test:// cannot switch a running VM to new files: clean refusal, nothing left */
	guint before = tl_count_ours(c);
	tl_assert_error(SNO->create(c, TL_RUN1, "live", NULL, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_REQUEST_NOT_SUPPORTED);
	g_assert_cmpuint(tl_count_ours(c), ==, before);
	g_autofree char *s7 = snap_summary(c, TL_RUN1);
	g_assert_cmpstr(s7, ==, "");

	/* reverting a running VM stops it: a snapshot holds disks only */
	snap_create(c, TL_GOLD, "off", 0);
	power_ok(c, TL_GOLD, PK_POWER_START);
	snap_revert(c, TL_GOLD, "off");
	g_assert_cmpint(state_of(c, TL_GOLD), ==, VMS_STOPPED);
	tl_close(c);
}

/* ----------------------------------------------------------------- clones ---- */

static void test_clones(void)
{
	g_autofree char *uri = tl_node_uri();
	pk_conn *c = tl_open(uri, "{\"storage_pool\":\"" TL_POOL "\",\"network\":\"isolated\"}");
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	char *nid = NULL;

	snap_create(c, TL_GOLD, "RAS_TEMPLATE_VERSION_1", 0);
	set_template(c, TL_GOLD, TRUE);

	/* linked clone of a version: an overlay on the version's frozen layer */
	g_autofree char *c1 = clone_ok(c, TL_GOLD, "host-1", "RAS_TEMPLATE_VERSION_1",
	                               PK_CLONE_LINKED);
	g_autoptr(pk_vm_data) d1 = tl_get(c, c1);
	g_assert_cmpstr(d1->name, ==, "host-1");
	g_assert_false(d1->is_template);
	g_assert_cmpint(d1->state, ==, VMS_STOPPED);
	g_assert_cmpuint(d1->macs->len, ==, 1);
	g_assert_cmpstr(d1->macs->pdata[0], !=, "52:54:00:12:34:56");
	g_assert_cmpstr(((pk_net_data *)d1->nets->pdata[0])->network, ==, "isolated");
	g_autofree char *p1 = tl_disk_path(c, c1, "vda");
	g_assert_true(g_str_has_prefix(p1, "/pk-pool/" LV_VOL_PREFIX));
	g_assert_nonnull(strstr(p1, c1));
	g_autofree char *bk1 = tl_backing_of(c, p1);
	g_assert_cmpstr(bk1, ==, "/pk-pool/gold.qcow2");
	g_autofree char *cd1 = tl_disk_path(c, c1, "hdc");
	g_assert_cmpstr(cd1, ==, "/iso/install.iso");
	power_ok(c, c1, PK_POWER_START);

	/* full clone of a version: an independent copy */
	g_autofree char *c2 = clone_ok(c, TL_GOLD, "host-2", "RAS_TEMPLATE_VERSION_1", 0);
	g_autofree char *p2 = tl_disk_path(c, c2, "vda");
	g_assert_true(tl_vol_exists(c, p2));

	/* clone to a template */
	g_autofree char *c3 = clone_ok(c, TL_GOLD, "tpl-copy", NULL, PK_CLONE_TO_TEMPLATE);
	g_autoptr(pk_vm_data) d3 = tl_get(c, c3);
	g_assert_true(d3->is_template);

	/* linked clone of the current state freezes the source's current files first */
	g_autofree char *before = tl_disk_path(c, TL_GOLD, "vda");
	g_autofree char *c4 = clone_ok(c, TL_GOLD, "host-4", NULL, PK_CLONE_LINKED);
	g_autofree char *after = tl_disk_path(c, TL_GOLD, "vda");
	g_assert_cmpstr(before, !=, after);
	g_autofree char *bk_after = tl_backing_of(c, after);
	g_assert_cmpstr(bk_after, ==, before);
	g_autofree char *p4 = tl_disk_path(c, c4, "vda");
	g_autofree char *bk4 = tl_backing_of(c, p4);
	g_assert_cmpstr(bk4, ==, before);

	/* refusals */
	tl_assert_error(VMO->clone(c, TL_GOLD, "host-1", NULL, 0, &nid, &ref, NULL, &error),
	                &error, PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME);
	tl_assert_error(VMO->clone(c, TL_GOLD, " ", NULL, 0, &nid, &ref, NULL, &error), &error,
	                PRL_ERR_VM_EMPTY_NAME_OF_CLONE);
	tl_assert_error(VMO->clone(c, TL_GOLD, "x", "nope", PK_CLONE_LINKED, &nid, &ref, NULL,
	                           &error), &error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	tl_assert_error(VMO->clone(c, c1, "x", NULL, 0, &nid, &ref, NULL, &error), &error,
	                PRL_ERR_VM_CANT_CLONE_RUNNING);
	tl_assert_error(VMO->clone(c, "44444444-2222-3333-4444-555555555555", "x", NULL, 0, &nid,
	                           &ref, NULL, &error), &error, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_null(nid);
	g_autofree char *gone = tl_id_by_name(c, "x");
	g_assert_null(gone);

	/* a running VM's snapshot can be cloned: its layers are frozen */
	g_autofree char *c5 = clone_ok(c, c2, "host-5", NULL, PK_CLONE_LINKED);
	power_ok(c, c2, PK_POWER_START);
	power_ok(c, c1, PK_POWER_STOP_HARD);
	snap_create(c, c1, "s", 0);
	power_ok(c, c1, PK_POWER_START);
	g_autofree char *c6 = clone_ok(c, c1, "host-6", "s", PK_CLONE_LINKED);

	const char *all[] = { c6, c5, c4, c3, c2, c1 };
	for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
		if (state_of(c, all[i]) != VMS_STOPPED)
			power_ok(c, all[i], PK_POWER_STOP_HARD);
		delete_ok(c, all[i]);
	}
	set_template(c, TL_GOLD, FALSE);
	/* left: gold's active overlay and the frozen layer host-4 sat on (gold's chain) */
	g_assert_cmpuint(tl_count_ours(c), ==, 2);
	tl_close(c);
}

/* ------------------------------------------------------------------- delete ---- */

static void test_delete(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;

	tl_assert_error(VMO->remove(c, TL_RUN1, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_CANT_DELETE_RUNNING);

	/* A template with two versions and a linked clone of the second. */
	snap_create(c, TL_GOLD, "v1", 0);
	snap_create(c, TL_GOLD, "v2", 0);
	g_autoptr(pk_vm_data) g = tl_get(c, TL_GOLD);
	g_autofree char *v2_layer = tl_backing_of(c, ((pk_disk_data *)g->disks->pdata[0])->image_path);
	set_template(c, TL_GOLD, TRUE);
	g_autofree char *cl = clone_ok(c, TL_GOLD, "host", "v2", PK_CLONE_LINKED);

	/* Deleting the template keeps what the clone sits on. */
	delete_ok(c, TL_GOLD);
	pk_vm_data *d = NULL;
	tl_assert_error(VMO->get(c, TL_GOLD, 0, &d, NULL, &error), &error,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_true(tl_vol_exists(c, v2_layer));
	g_assert_true(tl_vol_exists(c, "/pk-pool/gold.qcow2"));   /* never ours to delete */
	g_assert_cmpuint(tl_count_ours(c), ==, 2);                 /* v2's layer, clone's disk */
	power_ok(c, cl, PK_POWER_START);
	power_ok(c, cl, PK_POWER_STOP_HARD);

	/* Deleting the clone takes the orphaned layer with it. */
	delete_ok(c, cl);
	g_assert_false(tl_vol_exists(c, v2_layer));
	g_assert_cmpuint(tl_count_ours(c), ==, 0);
	g_autofree char *none = tl_id_by_name(c, "host");
	g_assert_null(none);

	/* A suspended VM can be deleted: its saved state goes with it. */
	power_ok(c, TL_RUN1, PK_POWER_SUSPEND);
	delete_ok(c, TL_RUN1);
	tl_assert_error(VMO->remove(c, TL_RUN1, 0, &ref, NULL, &error), &error,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	tl_close(c);
}

/* ------------------------------------------------------------------ tasks ---- */

static void test_tasks(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	pk_task_status st = { 0 };
	const char *garbage[] = { "", "x", "lv1:stop:", "lv1:stop:" TL_RUN1,
	                          "lv1:stop:" TL_RUN1 ":1:x", "lv1:stop:not-a-uuid:1:2",
	                          "lv1:stop:" TL_RUN1 ":5:4", "lv1:clone:" TL_RUN1 ":1:2",
	                          "lv1:stop:" TL_RUN1 ":1:2:3" };
	for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++)
		tl_assert_error(libvirt_driver.task->status(c, garbage[i], &st, NULL, &error), &error,
		                PRL_ERR_TASK_NOT_FOUND);

	/* a stop that is not due yet is running; the VM stays up */
	g_autofree char *later = lv_task_ref_stop(TL_RUN1, pk_time_wall_ms() + 3600 * 1000);
	g_assert_true(libvirt_driver.task->status(c, later, &st, NULL, &error));
	g_assert_false(st.finished);
	g_assert_cmpuint(st.progress, <, 100);
	pk_task_status_clear(&st);
	g_assert_cmpint(state_of(c, TL_RUN1), ==, VMS_RUNNING);
	/* past its deadline, the check forces it */
	g_autofree char *due = lv_task_ref_stop(TL_RUN1, pk_time_wall_ms() - 1);
	g_assert_true(libvirt_driver.task->status(c, due, &st, NULL, &error));
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
	pk_task_status_clear(&st);
	g_assert_cmpint(state_of(c, TL_RUN1), ==, VMS_STOPPED);
	/* a stopped VM: done */
	g_assert_true(libvirt_driver.task->status(c, later, &st, NULL, &error));
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
	pk_task_status_clear(&st);
	/* a VM that is gone: failed */
	g_autofree char *lost = lv_task_ref_stop("55555555-2222-3333-4444-555555555555",
	                                         pk_time_wall_ms());
	g_assert_true(libvirt_driver.task->status(c, lost, &st, NULL, &error));
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_VM_UUID_NOT_FOUND);
	pk_task_status_clear(&st);
	g_assert_cmpuint(libvirt_driver.task->poll_interval_ms(c, later), >, 0);
	tl_close(c);
}

/* ------------------------------------------------------------ events, cache ---- */

static gboolean listed_as_template(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	g_assert_true(VMO->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	gboolean tpl = FALSE;
	for (guint i = 0; i < list->len; i++) {
		pk_vm_data *d = list->pdata[i];
		if (strcmp(d->id, id) == 0)
			tpl = d->is_template;
	}
	g_ptr_array_unref(list);
	return tpl;
}

static void test_cache_events(void)
{
	pk_conn *c = tl_open_node();
	g_assert_false(listed_as_template(c, TL_GOLD));
	guint64 epoch = 0;
	lv_cached *e = lv_cache_lookup(lv_conn_of(c)->ev, TL_GOLD, &epoch);
	g_assert_nonnull(e);   /* the list cached its configuration */
	g_assert_false(e->d->is_template);
	lv_cached_free(e);
	/* Someone else marks it (same hypervisor, not through the driver). */
	virDomainPtr dom = virDomainLookupByUUIDString(tl_raw(c), TL_GOLD);
	g_assert_nonnull(dom);
	g_autoptr(lv_meta) m = lv_meta_new();
	m->is_template = TRUE;
	g_autofree char *xml = lv_meta_format(m);
	g_assert_cmpint(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, "other",
	                                     LV_NS_URI, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
	virDomainFree(dom);
	/* libvirt's event reaches the cache shortly (the event loop thread). */
	gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (!listed_as_template(c, TL_GOLD) && g_get_monotonic_time() < until)
		g_usleep(5000);
	g_assert_true(listed_as_template(c, TL_GOLD));
	g_autoptr(pk_vm_data) d = tl_get(c, TL_GOLD);
	g_assert_true(d->is_template);
	tl_close(c);
}

/* ------------------------------------------------------------------- host ---- */

static void test_host(void)
{
	pk_conn *c = tl_open_node();
	g_autoptr(GError) error = NULL;
	pk_host_data *h = NULL;
	g_assert_true(libvirt_driver.host->info(c, &h, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(h->cpu_count, ==, 2);
	g_assert_cmpstr(h->cpu_model, ==, "prlkit test CPU");
	g_assert_cmpuint(h->ram_mb, ==, 8192);
	g_assert_true(g_str_has_prefix(h->product_version, "libvirt "));
	pk_host_data_free(h);
	pk_stats_data *s = NULL;
	g_assert_true(libvirt_driver.host->statistics(c, &s, NULL, &error));
	g_assert_cmpuint(s->ram_total, ==, 8192ull * 1024 * 1024);
	g_assert_cmpuint(s->ram_used + s->ram_free, ==, s->ram_total);
	pk_stats_data_free(s);
	g_assert_true(libvirt_driver.vm->statistics(c, TL_RUN1, &s, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(s->ram_total, ==, 128ull * 1024 * 1024);
	pk_stats_data_free(s);
	tl_close(c);
}

/* ---------------------------------------------------------------- XML tree ---- */

static void test_xml(void)
{
	g_autoptr(GError) error = NULL;
	const char *text = "<?xml version='1.0'?>\n<domain type='kvm'>\n  <!-- keep me -->\n"
	                   "  <name>a &amp; b</name>\n  <description>x &lt; y</description>\n"
	                   "  <metadata><other:thing xmlns:other='urn:x'>v</other:thing>"
	                   "</metadata>\n</domain>\n";
	g_autoptr(lv_node) root = lv_xml_parse(text, &error);
	g_assert_no_error(error);
	g_autofree char *name = lv_xml_text(lv_xml_child(root, "name"));
	g_assert_cmpstr(name, ==, "a & b");
	g_autoptr(lv_meta) m = lv_meta_new();
	m->is_template = TRUE;
	lv_meta_apply(root, m);
	lv_domxml_set_description(root, "quote \" and <tag>");
	g_autofree char *out = lv_xml_format(root);
	g_assert_nonnull(strstr(out, "<!-- keep me -->"));
	g_assert_nonnull(strstr(out, "<other:thing xmlns:other=\"urn:x\">v</other:thing>"));
	g_assert_nonnull(strstr(out, "a &amp; b"));
	g_autoptr(lv_node) again = lv_xml_parse(out, &error);
	g_assert_no_error(error);
	g_autoptr(lv_meta) m2 = lv_meta_from_domain(again);
	g_assert_true(m2->is_template);
	g_autofree char *desc = lv_xml_text(lv_xml_child(again, "description"));
	g_assert_cmpstr(desc, ==, "quote \" and <tag>");
	lv_meta_apply(again, NULL);
	g_autoptr(lv_meta) m3 = lv_meta_from_domain(again);
	g_assert_false(m3->is_template);

	const char *bad[] = { "", "<a>", "<a></b>", "<a/><b/>", "text", "<a x='1' x='2'/>" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		lv_node *n = lv_xml_parse(bad[i], &error);
		g_assert_null(n);
		g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION);
		g_clear_error(&error);
	}
	/* what get reports from a domain's XML */
	g_autoptr(lv_node) dom = lv_xml_parse(
		"<domain type='kvm'><name>w</name><uuid>11111111-2222-3333-4444-777777777777</uuid>"
		"<metadata><libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/"
		"domain/1.0'><libosinfo:os id='http://microsoft.com/win/11'/></libosinfo:libosinfo>"
		"</metadata><memory unit='GiB'>4</memory><vcpu current='2'>8</vcpu><devices>"
		"<disk type='block' device='disk'><source dev='/dev/vg/w'/><target dev='sda'/></disk>"
		"<interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/>"
		"</interface><channel type='unix'><target type='virtio' "
		"name='org.qemu.guest_agent.0' state='connected'/></channel></devices></domain>",
		&error);
	g_assert_no_error(error);
	g_autoptr(pk_vm_data) d = pk_vm_data_new();
	lv_xmlinfo info;
	g_assert_true(lv_domxml_read(dom, d, &info, &error));
	g_assert_cmpstr(d->id, ==, "11111111-2222-3333-4444-777777777777");
	g_assert_cmpuint(d->ram_mb, ==, 4096);
	g_assert_cmpuint(d->cpus, ==, 2);
	g_assert_cmpuint(d->os_type, ==, PVS_GUEST_TYPE_WINDOWS);
	g_assert_cmpuint(d->os_version, ==, PVS_GUEST_VER_WIN_WINDOWS11);
	g_assert_cmpstr(d->os_type_name, ==, "win11");
	g_assert_cmpstr(d->macs->pdata[0], ==, "52:54:00:AA:BB:CC");
	g_assert_cmpstr(((pk_net_data *)d->nets->pdata[0])->network, ==, "br0");
	g_assert_cmpstr(((pk_disk_data *)d->disks->pdata[0])->image_path, ==, "/dev/vg/w");
	g_assert_true(info.agent && info.agent_connected);
	g_autoptr(GPtrArray) writable = lv_domxml_disks(dom, TRUE);
	g_assert_cmpuint(writable->len, ==, 1);
	g_assert_cmpstr(((lv_disk *)writable->pdata[0])->type, ==, "block");
	g_autoptr(lv_node) other = lv_xml_parse("<network/>", &error);
	g_autoptr(pk_vm_data) od = pk_vm_data_new();
	g_assert_false(lv_domxml_read(other, od, &info, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION);
	g_clear_error(&error);

	/* prlkit's element with garbage inside reads as "no metadata", never a crash */
	g_autoptr(lv_node) junk = lv_xml_parse(
		"<domain><metadata><p:vm xmlns:p='" LV_NS_URI "'><p:snapshot/><p:snapshot name=''/>"
		"<p:current name='nope'/><p:snapshot name='s'><p:layer/></p:snapshot></p:vm>"
		"</metadata></domain>", &error);
	g_assert_no_error(error);
	g_autoptr(lv_meta) mj = lv_meta_from_domain(junk);
	g_assert_cmpuint(mj->snaps->len, ==, 1);
	g_assert_null(mj->current);
	g_assert_cmpuint(((lv_snap *)mj->snaps->pdata[0])->layers->len, ==, 0);
}

int main(int argc, char **argv)
{
	pk_log_init();   /* before any thread, as PrlApi_InitEx does */
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/libvirt/xml", test_xml);
	g_test_add_func("/libvirt/uri", test_uri);
	g_test_add_func("/libvirt/open", test_open);
	g_test_add_func("/libvirt/list-get", test_list_get);
	g_test_add_func("/libvirt/list-paths", test_list_paths);
	g_test_add_func("/libvirt/power", test_power);
	g_test_add_func("/libvirt/edit", test_edit);
	g_test_add_func("/libvirt/snapshots", test_snapshots);
	g_test_add_func("/libvirt/clones", test_clones);
	g_test_add_func("/libvirt/delete", test_delete);
	g_test_add_func("/libvirt/tasks", test_tasks);
	g_test_add_func("/libvirt/cache-events", test_cache_events);
	g_test_add_func("/libvirt/host", test_host);
	return g_test_run();
}

/* The sim driver through its vtable: URI and settings, seeded inventory, every op and its
 * errors, timing (fake clock), tasks across connections, persistence, failure injection,
 * several processes at once, SIGKILL in the middle of writes, and 10,000 VMs.
 *
 * The binary re-executes itself as a worker for the multi-process tests:
 *   test-sim --child clone DIR PREFIX N     N clones of the template, names PREFIX-i
 *   test-sim --child churn DIR PREFIX       clones, edits, snapshots, deletes until killed */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"
#include "test-sim-util.h"
#include "core-conn.h"

#define GOLD "win11-gold"

static char *self_exe;

/* ---- small wrappers ---- */

static char *
power(pk_conn *c, const char *id, pk_power_op op)
{
	g_autoptr(GError) error = NULL;
	char *ref = NULL;

	g_assert_true(sim_driver.vm->power(c, id, op, 0, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_nonnull(ref);
	return ref;
}

static PRL_RESULT
power_wait(pk_conn *c, const char *id, pk_power_op op)
{
	g_autofree char *ref = power(c, id, op);
	return ts_task_wait(c, ref, NULL);
}

static void
power_refused(pk_conn *c, const char *id, pk_power_op op, PRL_RESULT code)
{
	g_autoptr(GError) error = NULL;
	char *ref = NULL;

	g_assert_false(sim_driver.vm->power(c, id, op, 0, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, code);
	g_assert_null(ref);
	g_assert_true(g_str_has_prefix(error->message, "sim: "));
}

static VIRTUAL_MACHINE_STATE
vm_state(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
	return d->state;
}

static guint
vm_ip_count(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
	return d->ips->len;
}

static char *
vm_word(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
	return g_strdup(d->power_state);
}

static gboolean
vm_is_template(pk_conn *c, const char *id)
{
	g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
	return d->is_template;
}

static char *
clone_vm(pk_conn *c, const char *id, const char *name, const char *snap, guint flags,
         char **task_ref)
{
	g_autoptr(GError) error = NULL;
	char *new_id = NULL, *ref = NULL;

	g_assert_true(sim_driver.vm->clone(c, id, name, snap, flags, &new_id, &ref, NULL, &error));
	g_assert_no_error(error);
	g_assert_nonnull(new_id);
	g_assert_nonnull(ref);
	if (task_ref)
		*task_ref = ref;
	else
		g_free(ref);
	return new_id;
}

static void
clone_refused(pk_conn *c, const char *id, const char *name, const char *snap, guint flags,
              PRL_RESULT code)
{
	g_autoptr(GError) error = NULL;
	char *new_id = NULL, *ref = NULL;

	g_assert_false(sim_driver.vm->clone(c, id, name, snap, flags, &new_id, &ref, NULL, &error));
	g_assert_error(error, PK_ERROR, code);
	g_assert_null(new_id);
	g_assert_null(ref);
}

static PRL_RESULT
snap_op(pk_conn *c, const char *op, const char *id, const char *name, guint flags,
        gboolean *had_task)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;
	gboolean ok;

	if (strcmp(op, "create") == 0)
		ok = sim_driver.snap->create(c, id, name, "desc", flags, &ref, NULL, &error);
	else if (strcmp(op, "delete") == 0)
		ok = sim_driver.snap->remove(c, id, name, flags, &ref, NULL, &error);
	else
		ok = sim_driver.snap->revert(c, id, name, flags, &ref, NULL, &error);
	if (had_task)
		*had_task = ref != NULL;
	if (!ok) {
		g_assert_null(ref);
		return error->code;
	}
	return ref ? ts_task_wait(c, ref, NULL) : PRL_ERR_SUCCESS;
}

static GPtrArray *
snapshots(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *out = NULL;

	g_assert_true(sim_driver.snap->list(c, id, &out, NULL, &error));
	g_assert_no_error(error);
	return out;
}

static guint
snap_count(pk_conn *c, const char *id)
{
	g_autoptr(GPtrArray) s = snapshots(c, id);
	return s->len;
}

#define assert_word(c, id, w) do { \
		g_autofree char *w_ = vm_word((c), (id)); \
		g_assert_cmpstr(w_, ==, (w)); \
	} while (0)

static const pk_snapshot_data *
snap_at(GPtrArray *s, guint i)
{
	g_assert_cmpuint(i, <, s->len);
	return g_ptr_array_index(s, i);
}

static PRL_RESULT
commit(pk_conn *c, const char *id, const pk_vm_data *old, const pk_vm_data *new_,
       gboolean *had_task)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;

	if (!sim_driver.vm->commit(c, id, old, new_, 0, &ref, NULL, &error))
		return error->code;
	if (had_task)
		*had_task = ref != NULL;
	return ref ? ts_task_wait(c, ref, NULL) : PRL_ERR_SUCCESS;
}

static PRL_RESULT
delete_vm(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ref = NULL;

	if (!sim_driver.vm->remove(c, id, 0, &ref, NULL, &error))
		return error->code;
	g_assert_nonnull(ref);
	return ts_task_wait(c, ref, NULL);
}

static pk_conn *
open_fresh(const char *tag, const char *query, char **dir_out)
{
	g_autofree char *dir = ts_new_dir(tag);
	g_autofree char *uri = ts_uri(dir, query);
	pk_conn *c = ts_open(uri, NULL);

	if (dir_out)
		*dir_out = g_steal_pointer(&dir);
	return c;
}

/* ---- URI, settings, seed ---- */

static void
test_seed_default(void)
{
	g_autofree char *dir = NULL;
	pk_conn *c = open_fresh("seed", "speed=0", &dir);
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *state = g_build_filename(dir, "state.json", NULL);
	guint i, running = 0, stopped = 0, templates = 0;

	g_assert_true(g_file_test(state, G_FILE_TEST_IS_REGULAR));
	g_assert_true(sim_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 6);
	for (i = 0; i < list->len; i++) {
		pk_vm_data *d = g_ptr_array_index(list, i);
		g_assert_nonnull(d->id);
		g_assert_true(g_uuid_string_is_valid(d->id));
		g_assert_cmpuint(d->macs->len, ==, 1);
		g_assert_true(g_str_has_prefix(g_ptr_array_index(d->macs, 0), "52:54:00:"));
		{
			g_autofree char *up = g_ascii_strup(g_ptr_array_index(d->macs, 0), -1);
			g_assert_cmpstr(g_ptr_array_index(d->macs, 0), ==, up);
		}
		g_assert_cmpuint(d->disks->len, ==, 1);
		g_assert_cmpuint(d->nets->len, ==, 1);
		g_assert_nonnull(d->digest);
		g_assert_nonnull(d->os_type_name);
		g_assert_cmpuint(d->ram_mb, >, 0);
		g_assert_cmpuint(d->cpus, >, 0);
		if (d->is_template)
			templates++;
		if (d->state == VMS_RUNNING) {
			running++;
			g_assert_cmpstr(d->power_state, ==, "running");
			g_assert_cmpuint(d->ips->len, ==, 2);
			g_assert_true(g_str_has_prefix(g_ptr_array_index(d->ips, 0), "10."));
			g_assert_true(g_str_has_prefix(g_ptr_array_index(d->ips, 1), "fd00:"));
		} else {
			g_assert_cmpint(d->state, ==, VMS_STOPPED);
			g_assert_cmpuint(d->ips->len, ==, 0);
			stopped++;
		}
	}
	g_assert_cmpuint(running, ==, 3);
	g_assert_cmpuint(stopped, ==, 3);
	g_assert_cmpuint(templates, ==, 1);

	{
		g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
		g_autoptr(GPtrArray) snaps = snapshots(c, gold->id);
		g_assert_true(gold->is_template);
		g_assert_cmpstr(gold->os_type_name, ==, "win11");
		g_assert_cmpuint(gold->os_type, ==, PVS_GUEST_TYPE_WINDOWS);
		g_assert_cmpuint(gold->os_version, ==, PVS_GUEST_VER_WIN_WINDOWS11);
		g_assert_cmpuint(snaps->len, ==, 1);
		g_assert_cmpstr(snap_at(snaps, 0)->name, ==, "RAS_TEMPLATE_VERSION_1");
		g_assert_true(snap_at(snaps, 0)->current);
		g_assert_null(snap_at(snaps, 0)->parent);
	}
	/* Listing without guest info leaves the IPs out. */
	{
		g_autoptr(GPtrArray) bare = NULL;
		g_assert_true(sim_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &bare, NULL, &error));
		for (i = 0; i < bare->len; i++)
			g_assert_cmpuint(((pk_vm_data *)g_ptr_array_index(bare, i))->ips->len, ==, 0);
	}
	ts_close(c);
	g_assert_cmpuint(ts_check_state_file(dir), ==, 6);
}

static void
test_seed_variants(void)
{
	g_autofree char *dir = ts_new_dir("seedvar");
	g_autofree char *uri_empty = ts_uri(dir, "speed=0&seed=empty");
	g_autofree char *uri_default = ts_uri(dir, "speed=0&seed=default%2B3");
	pk_conn *c;

	c = ts_open(uri_empty, NULL);
	g_assert_cmpuint(ts_vm_count(c), ==, 0);
	ts_close(c);
	/* Seeding happens once: the existing state wins over a later seed. */
	c = ts_open(uri_default, NULL);
	g_assert_cmpuint(ts_vm_count(c), ==, 0);
	ts_close(c);

	g_free(dir);
	dir = ts_new_dir("seedvar2");
	g_free(uri_default);
	uri_default = ts_uri(dir, "speed=0");
	c = ts_open(uri_default, "{\"seed\":\"default+3\"}");
	g_assert_cmpuint(ts_vm_count(c), ==, 9);
	{
		g_autoptr(pk_vm_data) gen = ts_vm_by_name(c, "sim-vm-00001");
		g_assert_cmpint(gen->state, ==, VMS_RUNNING);  /* every fourth generated VM runs */
	}
	ts_close(c);

	g_free(dir);
	dir = ts_new_dir("seedvar3");
	g_free(uri_default);
	uri_default = ts_uri(dir, "speed=0&seed=%2B2");
	c = ts_open(uri_default, NULL);
	g_assert_cmpuint(ts_vm_count(c), ==, 2);
	ts_close(c);
}

static void
test_seed_ids_deterministic(void)
{
	pk_conn *a = open_fresh("ids-a", "speed=0", NULL);
	pk_conn *b = open_fresh("ids-b", "speed=0", NULL);
	g_autoptr(pk_vm_data) ga = ts_vm_by_name(a, GOLD);
	g_autoptr(pk_vm_data) gb = ts_vm_by_name(b, GOLD);

	g_assert_cmpstr(ga->id, ==, gb->id);
	g_assert_cmpstr(g_ptr_array_index(ga->macs, 0), ==, g_ptr_array_index(gb->macs, 0));
	ts_close(a);
	ts_close(b);
}

static void
test_named_instance_and_state_dir(void)
{
	g_autofree char *dir = ts_new_dir("statedir");
	g_autofree char *settings = g_strdup_printf("{\"state_dir\":\"%s\",\"speed\":\"0\"}", dir);
	g_autofree char *expected = g_build_filename(g_get_user_state_dir(), "prlkit", "sim",
	                                             "unit-instance", "state.json", NULL);
	g_autofree char *state = g_build_filename(dir, "state.json", NULL);
	pk_conn *c;

	/* Driver chosen by name: the settings say where. */
	c = ts_open(NULL, settings);
	g_assert_true(g_file_test(state, G_FILE_TEST_IS_REGULAR));
	ts_close(c);
	/* The same directory in the URI and in state_dir is fine. */
	{
		g_autofree char *uri = ts_uri(dir, NULL);
		c = ts_open(uri, settings);
		ts_close(c);
	}
	/* A single path component is an instance under the user's state directory. */
	c = ts_open("sim:///unit-instance?speed=0", NULL);
	g_assert_true(g_file_test(expected, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpuint(ts_vm_count(c), ==, 6);
	{
		g_autoptr(GError) error = NULL;
		pk_host_data *h = NULL;
		g_assert_true(sim_driver.host->info(c, &h, NULL, &error));
		g_assert_cmpstr(h->hostname, ==, "sim-unit-instance");
		pk_host_data_free(h);
	}
	ts_close(c);
	/* localhost is accepted as "no host". */
	c = ts_open("sim://localhost/unit-instance?speed=0", NULL);
	ts_close(c);
}

static void
open_fails(const char *uri, const char *settings, PRL_RESULT code, const char *needle)
{
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	pk_conn *c = ts_open_full(uri, settings, &st, &error);

	g_assert_null(c);
	g_assert_cmpint(st, ==, PK_OPEN_ERROR);
	g_assert_error(error, PK_ERROR, code);
	if (needle && !strstr(error->message, needle))
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void
test_settings_errors(void)
{
	g_autofree char *dir = ts_new_dir("badsettings");
	g_autofree char *base = ts_uri(dir, NULL);
	g_autofree char *other = g_strdup_printf("{\"state_dir\":\"%s-other\"}", dir);
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	g_autofree char *u1 = g_strconcat(base, "?speed=fast", NULL);
	g_autofree char *u2 = g_strconcat(base, "?speed=-1", NULL);
	g_autofree char *u3 = g_strconcat(base, "?seed=bogus", NULL);
	g_autofree char *u4 = g_strconcat(base, "?seed=default%2Bx", NULL);
	g_autofree char *u5 = g_strconcat(base, "?fail=explode", NULL);
	g_autofree char *u6 = g_strconcat(base, "?fail=start:sometimes", NULL);
	g_autofree char *u7 = g_strconcat(base, "?fail=start:PRL_ERR_NOPE", NULL);
	g_autofree char *u8 = g_strconcat(base, "?fail=start:150%25", NULL);
	g_autofree char *u9 = g_strconcat(base, "?fsync=maybe", NULL);
	g_autofree char *u10 = g_strconcat(base, "?fail=start:PRL_ERR_SUCCESS", NULL);

	open_fails(u1, NULL, PRL_ERR_INVALID_PARAM, "'speed'");
	open_fails(u2, NULL, PRL_ERR_INVALID_PARAM, "'speed'");
	open_fails(u3, NULL, PRL_ERR_INVALID_PARAM, "'seed'");
	open_fails(u4, NULL, PRL_ERR_INVALID_PARAM, "'seed'");
	open_fails(u5, NULL, PRL_ERR_INVALID_PARAM, "'fail'");
	open_fails(u6, NULL, PRL_ERR_INVALID_PARAM, "'fail'");
	{
		/* The error names the key, not the value. */
		g_autoptr(GError) e = NULL;
		pk_open_status s6;
		g_assert_null(ts_open_full(u6, NULL, &s6, &e));
		g_assert_null(strstr(e->message, "sometimes"));
	}
	open_fails(u7, NULL, PRL_ERR_INVALID_PARAM, "'fail'");
	open_fails(u8, NULL, PRL_ERR_INVALID_PARAM, "'fail'");
	open_fails(u9, NULL, PRL_ERR_INVALID_PARAM, "'fsync'");
	open_fails(u10, NULL, PRL_ERR_INVALID_PARAM, "'fail'");
	open_fails(NULL, "{\"state_dir\":\"relative/dir\"}", PRL_ERR_INVALID_PARAM, "'state_dir'");
	open_fails(base, other, PRL_ERR_INVALID_PARAM, "'state_dir'");
	open_fails("sim://somehost/default", NULL, PRL_ERR_INVALID_PARAM, "host");
	open_fails("sim:///bad%20name", NULL, PRL_ERR_INVALID_PARAM, "instance");
	/* None of them created anything. */
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));

	/* Another scheme is not ours. */
	{
		g_autoptr(GUri) uri = g_uri_parse("pve://host:8006", G_URI_FLAGS_NONE, NULL);
		g_autoptr(GHashTable) s = g_hash_table_new(g_str_hash, g_str_equal);
		pk_conn *c = pk_conn_new(&sim_driver, uri, s);
		st = sim_driver.open(c, uri, s, NULL, &error);
		g_assert_cmpint(st, ==, PK_OPEN_DECLINED);
		g_assert_no_error(error);
		pk_conn_unref(c);
	}
}

static void
test_corrupt_state(void)
{
	g_autofree char *dir = ts_new_dir("corrupt");
	g_autofree char *uri = ts_uri(dir, "speed=0");
	g_autofree char *state = g_build_filename(dir, "state.json", NULL);
	pk_conn *c = ts_open(uri, NULL);

	ts_close(c);
	g_assert_true(g_file_set_contents(state, "{\"format\":\"prlkit-sim\",\"vms\":", -1, NULL));
	open_fails(uri, NULL, PRL_ERR_INVALID_CONFIGURATION, "not valid JSON");
	g_assert_true(g_file_set_contents(state, "{\"format\":\"other\"}", -1, NULL));
	open_fails(uri, NULL, PRL_ERR_INVALID_CONFIGURATION, "not a prlkit-sim");
	g_assert_true(g_file_set_contents(state,
	              "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
	              "\"st\":\"flying\"}]}", -1, NULL));
	open_fails(uri, NULL, PRL_ERR_INVALID_CONFIGURATION, "malformed");

	/* The state file removed under a live connection: clean errors, no crash. */
	g_assert_cmpint(g_unlink(state), ==, 0);
	c = ts_open(uri, NULL);  /* seeds a new state */
	{
		g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
		g_autoptr(GError) error = NULL;
		GPtrArray *list = NULL;
		g_assert_cmpint(g_unlink(state), ==, 0);
		g_assert_false(sim_driver.vm->list(c, 0, &list, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_FILE_NOT_FOUND);
		power_refused(c, vm->id, PK_POWER_START, PRL_ERR_FILE_NOT_FOUND);
		g_clear_error(&error);
		g_assert_false(sim_driver.task->cancel(c, "sim-task-00000000-0000-4000-8000-000000000000",
		                                       NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
	}
	ts_close(c);
}

/* ---- power ---- */

static void
test_power_instant(void)
{
	pk_conn *c = open_fresh("power", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "rds-host-01");
	const char *id = vm->id;

	power_refused(c, gold->id, PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	power_refused(c, "no-such-vm", PK_POWER_START, PRL_ERR_VM_UUID_NOT_FOUND);
	power_refused(c, run->id, PK_POWER_START, PRL_ERR_VM_ALREADY_RUNNING);
	power_refused(c, id, PK_POWER_STOP_GRACEFUL, PRL_ERR_DISP_VM_IS_NOT_STARTED);
	power_refused(c, id, PK_POWER_STOP_HARD, PRL_ERR_DISP_VM_IS_NOT_STARTED);
	power_refused(c, id, PK_POWER_SUSPEND, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_refused(c, id, PK_POWER_PAUSE, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_refused(c, id, PK_POWER_RESET, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_refused(c, id, PK_POWER_RESTART, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	power_refused(c, id, PK_POWER_RESUME, PRL_ERR_VM_IS_NOT_SUSPENDED);

	g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpint(d->state, ==, VMS_RUNNING);
		g_assert_cmpstr(d->power_state, ==, "running");
		g_assert_cmpuint(d->ips->len, ==, 2);  /* speed 0: booted at once */
	}
	g_assert_cmpint(power_wait(c, id, PK_POWER_PAUSE), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_PAUSED);
	power_refused(c, id, PK_POWER_STOP_GRACEFUL, PRL_ERR_DISP_VM_IS_NOT_RUNNING);
	g_assert_cmpint(power_wait(c, id, PK_POWER_RESUME), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_RUNNING);
	g_assert_cmpint(power_wait(c, id, PK_POWER_SUSPEND), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpint(d->state, ==, VMS_SUSPENDED);
		g_assert_cmpuint(d->ips->len, ==, 0);
	}
	power_refused(c, id, PK_POWER_SUSPEND, PRL_ERR_VM_ALREADY_SUSPENDED);
	/* Starting a suspended VM resumes it, as Parallels does. */
	g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_RUNNING);
	g_assert_cmpint(power_wait(c, id, PK_POWER_RESET), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_RESTART), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_RUNNING);
	g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_GRACEFUL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPED);
	g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_SUSPEND), ==, PRL_ERR_SUCCESS);
	/* A suspended VM can be powered off (its saved state is dropped). */
	g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_HARD), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPED);
	{
		g_autoptr(GError) error = NULL;
		pk_vm_data *d = NULL;
		g_assert_false(sim_driver.vm->get(c, "no-such-vm", 0, &d, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	}
	ts_close(c);
}

/* Speed 1 with a fake clock: every intermediate state is seen deterministically. */
static void
test_power_timing(void)
{
	pk_conn *c;
	g_autoptr(pk_vm_data) vm = NULL;
	g_autofree char *ref = NULL;
	g_autofree char *ref2 = NULL;
	const char *id;

	ts_clock_reset();
	c = open_fresh("timing", "speed=1", NULL);
	vm = ts_vm_by_name(c, "debian-build");
	id = vm->id;

	ref = power(c, id, PK_POWER_START);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		pk_task_status st = ts_task_status(c, ref);
		g_assert_cmpint(d->state, ==, VMS_STARTING);
		g_assert_cmpstr(d->power_state, ==, "starting");
		g_assert_cmpuint(d->ips->len, ==, 0);
		g_assert_false(st.finished);
		g_assert_cmpuint(st.progress, <, 100);
		pk_task_status_clear(&st);
	}
	/* Busy: a second operation is refused while the first one runs. */
	power_refused(c, id, PK_POWER_STOP_HARD, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED);
	g_assert_cmpuint(sim_driver.task->poll_interval_ms(c, ref), ==, 200);

	ts_clock_advance(3100);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		pk_task_status st = ts_task_status(c, ref);
		g_assert_cmpint(d->state, ==, VMS_RUNNING);
		g_assert_cmpuint(d->ips->len, ==, 0);   /* the guest is still booting */
		g_assert_true(st.finished);
		g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
		g_assert_cmpuint(st.progress, ==, 100);
		pk_task_status_clear(&st);
	}
	ts_clock_advance(5000);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpuint(d->ips->len, ==, 2);
	}

	/* Graceful stop, overtaken by a hard stop (the usual "force after timeout"). */
	g_clear_pointer(&ref, g_free);
	ref = power(c, id, PK_POWER_STOP_GRACEFUL);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPING);
	ts_clock_advance(1000);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPING);
	ref2 = power(c, id, PK_POWER_STOP_HARD);
	{
		pk_task_status st = ts_task_status(c, ref);
		g_assert_true(st.finished);
		g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
		pk_task_status_clear(&st);
	}
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPING);
	ts_clock_advance(600);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPED);

	/* Suspend and resume pass through their phases. */
	g_clear_pointer(&ref, g_free);
	ref = power(c, id, PK_POWER_START);
	ts_clock_advance(3000 + 5000);
	g_clear_pointer(&ref, g_free);
	ref = power(c, id, PK_POWER_SUSPEND);
	g_assert_cmpint(vm_state(c, id), ==, VMS_SUSPENDING);
	ts_clock_advance(2000);
	g_assert_cmpint(vm_state(c, id), ==, VMS_SUSPENDED);
	g_clear_pointer(&ref, g_free);
	ref = power(c, id, PK_POWER_RESUME);
	g_assert_cmpint(vm_state(c, id), ==, VMS_RESUMING);
	ts_clock_advance(2000);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpint(d->state, ==, VMS_RUNNING);
		g_assert_cmpuint(d->ips->len, ==, 0);
	}
	ts_clock_advance(1000);
	g_assert_cmpuint(vm_ip_count(c, id), ==, 2);
	ts_close(c);
	ts_clock_reset();
}

/* A small real speed: the work finishes on its own, seen only by polling. */
static void
test_power_small_speed(void)
{
	pk_conn *c = open_fresh("smallspeed", "speed=0.01", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "win10-legacy");
	g_autofree char *ref = power(c, vm->id, PK_POWER_START);
	VIRTUAL_MACHINE_STATE first = vm_state(c, vm->id);

	g_assert_true(first == VMS_STARTING || first == VMS_RUNNING);
	g_assert_cmpuint(sim_driver.task->poll_interval_ms(c, ref), ==, 2);
	g_assert_cmpint(ts_task_wait(c, ref, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_RUNNING);
	/* IPs appear 50 ms after boot at this speed. */
	for (;;) {
		g_autoptr(pk_vm_data) d = ts_vm_get(c, vm->id);
		if (d->ips->len == 2)
			break;
		g_usleep(5000);
	}
	g_assert_cmpint(power_wait(c, vm->id, PK_POWER_STOP_GRACEFUL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_STOPPED);
	ts_close(c);
}

/* ---- clones, deletes, templates, edits ---- */

static void
test_clone(void)
{
	pk_conn *c = open_fresh("clone", "speed=0", NULL);
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "rds-host-01");
	g_autofree char *ref = NULL;
	g_autofree char *id = clone_vm(c, gold->id, "host-1", NULL, 0, &ref);
	pk_task_status st;

	st = ts_task_status(c, ref);
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(st.result_vm_id, ==, id);
	pk_task_status_clear(&st);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpstr(d->name, ==, "host-1");
		g_assert_false(d->is_template);
		g_assert_cmpint(d->state, ==, VMS_STOPPED);
		g_assert_cmpuint(d->ram_mb, ==, gold->ram_mb);
		g_assert_cmpuint(d->cpus, ==, gold->cpus);
		g_assert_cmpstr(d->os_type_name, ==, gold->os_type_name);
		g_assert_cmpstr(g_ptr_array_index(d->macs, 0), !=, g_ptr_array_index(gold->macs, 0));
		g_assert_cmpuint(snap_count(c, id), ==, 0);
		g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	}

	clone_refused(c, gold->id, "", NULL, 0, PRL_ERR_VM_EMPTY_NAME_OF_CLONE);
	clone_refused(c, gold->id, "   ", NULL, 0, PRL_ERR_VM_EMPTY_NAME_OF_CLONE);
	clone_refused(c, gold->id, "host-1", NULL, 0, PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME);
	clone_refused(c, gold->id, "bad\nname", NULL, 0, PRL_ERR_INVALID_ARG);
	clone_refused(c, "nope", "x", NULL, 0, PRL_ERR_VM_UUID_NOT_FOUND);
	clone_refused(c, gold->id, "x", "NO_SUCH_SNAPSHOT", 0, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	/* A running VM cannot be cloned as it is, only from one of its snapshots. */
	clone_refused(c, run->id, "x", NULL, 0, PRL_ERR_VM_CANT_CLONE_RUNNING);
	g_assert_cmpint(snap_op(c, "create", run->id, "live", 0, NULL), ==, PRL_ERR_SUCCESS);
	{
		g_autofree char *from_live = clone_vm(c, run->id, "from-live", "live", 0, NULL);
		g_assert_cmpint(vm_state(c, from_live), ==, VMS_STOPPED);
	}
	/* Clone to a template. */
	{
		g_autofree char *tpl = clone_vm(c, gold->id, "gold-copy", "RAS_TEMPLATE_VERSION_1",
		                                PK_CLONE_TO_TEMPLATE, NULL);
		g_autoptr(pk_vm_data) d = ts_vm_get(c, tpl);
		g_assert_true(d->is_template);
	}
	g_assert_cmpuint(ts_vm_count(c), ==, 6 + 3);
	ts_close(c);
}

static void
test_clone_from_snapshot_config(void)
{
	pk_conn *c = open_fresh("clonesnap", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	g_autoptr(pk_vm_data) edited = NULL;
	g_autofree char *id = NULL;
	guint32 ram = vm->ram_mb;

	g_assert_cmpint(snap_op(c, "create", vm->id, "before", 0, NULL), ==, PRL_ERR_SUCCESS);
	edited = pk_vm_data_copy(vm);
	edited->ram_mb = ram * 2;
	g_assert_cmpint(commit(c, vm->id, vm, edited, NULL), ==, PRL_ERR_SUCCESS);
	id = clone_vm(c, vm->id, "from-before", "before", 0, NULL);
	{
		g_autoptr(pk_vm_data) clone = ts_vm_get(c, id);
		g_autoptr(pk_vm_data) now = ts_vm_get(c, vm->id);
		g_assert_cmpuint(clone->ram_mb, ==, ram);       /* the snapshot's config */
		g_assert_cmpuint(now->ram_mb, ==, ram * 2);
	}
	ts_close(c);
}

static void
test_linked_clone_and_delete(void)
{
	pk_conn *c = open_fresh("linked", "speed=0", NULL);
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "rds-host-02");
	g_autofree char *linked = clone_vm(c, gold->id, "linked-1", "RAS_TEMPLATE_VERSION_1",
	                                   PK_CLONE_LINKED, NULL);
	g_autofree char *state = NULL;

	g_assert_cmpint(delete_vm(c, run->id), ==, PRL_ERR_VM_CANT_DELETE_RUNNING);
	/* The base of a linked clone stays while the clone exists. */
	g_assert_cmpint(delete_vm(c, gold->id), ==, PRL_ERR_OPERATION_FAILED);
	g_assert_cmpint(power_wait(c, linked, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(delete_vm(c, linked), ==, PRL_ERR_VM_CANT_DELETE_RUNNING);
	g_assert_cmpint(power_wait(c, linked, PK_POWER_STOP_HARD), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(delete_vm(c, linked), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(delete_vm(c, linked), ==, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_cmpint(delete_vm(c, gold->id), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(ts_vm_count(c), ==, 5);
	{
		g_autoptr(GError) error = NULL;
		pk_vm_data *d = NULL;
		g_assert_false(sim_driver.vm->get(c, gold->id, 0, &d, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	}
	ts_close(c);
}

static void
test_templates_and_edit(void)
{
	pk_conn *c = open_fresh("edit", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "win10-legacy");
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "ubuntu-app-01");
	g_autoptr(pk_vm_data) n = NULL;
	g_autoptr(pk_vm_data) stale = pk_vm_data_copy(vm);
	gboolean had_task = TRUE;

	/* Nothing changed: success without a task. */
	g_assert_cmpint(commit(c, vm->id, vm, vm, &had_task), ==, PRL_ERR_SUCCESS);
	g_assert_false(had_task);

	n = pk_vm_data_copy(vm);
	g_free(n->name);
	n->name = g_strdup("win10-renamed");
	g_free(n->description);
	n->description = g_strdup("edited");
	n->ram_mb = 6144;
	n->cpus = 3;
	g_assert_cmpint(commit(c, vm->id, vm, n, &had_task), ==, PRL_ERR_SUCCESS);
	g_assert_true(had_task);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, vm->id);
		g_assert_cmpstr(d->name, ==, "win10-renamed");
		g_assert_cmpstr(d->description, ==, "edited");
		g_assert_cmpuint(d->ram_mb, ==, 6144);
		g_assert_cmpuint(d->cpus, ==, 3);
		g_assert_cmpstr(d->digest, !=, vm->digest);
	}
	/* The old digest is stale now. */
	g_assert_cmpint(commit(c, vm->id, stale, stale, NULL), ==, PRL_ERR_VM_CONFIG_WAS_CHANGED);
	{
		g_autoptr(pk_vm_data) n2 = pk_vm_data_copy(stale);
		n2->cpus = 2;
		g_assert_cmpint(commit(c, vm->id, stale, n2, NULL), ==, PRL_ERR_VM_CONFIG_WAS_CHANGED);
	}
	/* Validation. */
	{
		g_autoptr(pk_vm_data) cur = ts_vm_get(c, vm->id);
		g_autoptr(pk_vm_data) bad = pk_vm_data_copy(cur);
		bad->ram_mb = 3;
		g_assert_cmpint(commit(c, vm->id, cur, bad, NULL), ==, PRL_ERR_INVALID_MEMORY_SIZE);
		bad->ram_mb = cur->ram_mb;
		bad->cpus = 0;
		g_assert_cmpint(commit(c, vm->id, cur, bad, NULL), ==, PRL_ERR_INVALID_PARAM);
		bad->cpus = cur->cpus;
		g_free(bad->name);
		bad->name = g_strdup(GOLD);
		g_assert_cmpint(commit(c, vm->id, cur, bad, NULL), ==,
		                PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME);
		g_free(bad->name);
		bad->name = g_strdup(" ");
		g_assert_cmpint(commit(c, vm->id, cur, bad, NULL), ==, PRL_ERR_INVALID_PARAM);
	}
	/* A running VM: no template, no hardware change; renaming is fine. */
	{
		g_autoptr(pk_vm_data) t = pk_vm_data_copy(run);
		t->is_template = TRUE;
		g_assert_cmpint(commit(c, run->id, run, t, NULL), ==,
		                PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE);
		t->is_template = FALSE;
		t->ram_mb += 1024;
		g_assert_cmpint(commit(c, run->id, run, t, NULL), ==, PRL_ERR_DISP_VM_IS_NOT_STOPPED);
		t->ram_mb = run->ram_mb;
		g_free(t->description);
		t->description = g_strdup("renamed while running");
		g_assert_cmpint(commit(c, run->id, run, t, NULL), ==, PRL_ERR_SUCCESS);
	}
	/* Templates are reversible. Without an old copy the stored config is the base. */
	{
		g_autoptr(pk_vm_data) cur = ts_vm_get(c, vm->id);
		g_autoptr(pk_vm_data) t = pk_vm_data_copy(cur);
		t->is_template = TRUE;
		g_assert_cmpint(commit(c, vm->id, NULL, t, NULL), ==, PRL_ERR_SUCCESS);
		g_assert_true(vm_is_template(c, vm->id));
		power_refused(c, vm->id, PK_POWER_START, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
		t->is_template = FALSE;
		g_assert_cmpint(commit(c, vm->id, NULL, t, NULL), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(power_wait(c, vm->id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	}
	ts_close(c);
}

/* ---- snapshots ---- */

static void
test_snapshots(void)
{
	pk_conn *c = open_fresh("snaps", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	const char *id = vm->id;
	gboolean had_task = TRUE;

	g_assert_cmpint(snap_op(c, "create", id, "A", 0, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "create", id, "B", 0, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "create", id, "A", 0, NULL), ==, PRL_ERR_ENTRY_ALREADY_EXISTS);
	g_assert_cmpint(snap_op(c, "create", id, "", 0, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(snap_op(c, "create", "nope", "A", 0, NULL), ==, PRL_ERR_VM_UUID_NOT_FOUND);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpuint(s->len, ==, 2);
		g_assert_cmpstr(snap_at(s, 0)->name, ==, "A");
		g_assert_null(snap_at(s, 0)->parent);
		g_assert_false(snap_at(s, 0)->current);
		g_assert_cmpstr(snap_at(s, 1)->name, ==, "B");
		g_assert_cmpstr(snap_at(s, 1)->parent, ==, "A");
		g_assert_true(snap_at(s, 1)->current);
		g_assert_cmpstr(snap_at(s, 1)->description, ==, "desc");
		g_assert_cmpint(snap_at(s, 1)->created, >, 0);
	}
	/* Replace: one task; B moves up to the root, the new A hangs below B. */
	g_assert_cmpint(snap_op(c, "create", id, "A", PK_SNAP_REPLACE, &had_task), ==,
	                PRL_ERR_SUCCESS);
	g_assert_true(had_task);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpuint(s->len, ==, 2);
		g_assert_cmpstr(snap_at(s, 0)->name, ==, "B");
		g_assert_null(snap_at(s, 0)->parent);
		g_assert_cmpstr(snap_at(s, 1)->name, ==, "A");
		g_assert_cmpstr(snap_at(s, 1)->parent, ==, "B");
		g_assert_true(snap_at(s, 1)->current);
	}
	g_assert_cmpint(snap_op(c, "revert", id, "B", 0, NULL), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_true(snap_at(s, 0)->current);
		g_assert_false(snap_at(s, 1)->current);
	}
	g_assert_cmpint(snap_op(c, "revert", id, "ZZZ", 0, NULL), ==, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_assert_cmpint(snap_op(c, "delete", id, "ZZZ", 0, NULL), ==, PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_assert_cmpint(snap_op(c, "delete", id, "ZZZ", PK_SNAP_MISSING_OK, &had_task), ==,
	                PRL_ERR_SUCCESS);
	g_assert_false(had_task);
	/* Delete a parent alone: its child moves up. */
	g_assert_cmpint(snap_op(c, "create", id, "C", 0, NULL), ==, PRL_ERR_SUCCESS);  /* below B */
	g_assert_cmpint(snap_op(c, "delete", id, "B", 0, NULL), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpuint(s->len, ==, 2);
		g_assert_cmpstr(snap_at(s, 0)->name, ==, "A");
		g_assert_null(snap_at(s, 0)->parent);
		g_assert_cmpstr(snap_at(s, 1)->name, ==, "C");
		g_assert_null(snap_at(s, 1)->parent);
		g_assert_true(snap_at(s, 1)->current);
	}
	/* With children: the whole subtree goes, the marker moves to the survivor above. */
	g_assert_cmpint(snap_op(c, "create", id, "D", 0, NULL), ==, PRL_ERR_SUCCESS);  /* below C */
	g_assert_cmpint(snap_op(c, "delete", id, "C", PK_SNAP_WITH_CHILDREN, NULL), ==,
	                PRL_ERR_SUCCESS);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpuint(s->len, ==, 1);
		g_assert_cmpstr(snap_at(s, 0)->name, ==, "A");
		g_assert_false(snap_at(s, 0)->current);
	}
	ts_close(c);
}

static void
test_revert_restores_state(void)
{
	pk_conn *c = open_fresh("revert", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "ubuntu-app-01");
	g_autoptr(pk_vm_data) n = pk_vm_data_copy(vm);
	const char *id = vm->id;

	/* A snapshot of a running VM holds its memory: reverting brings it back running. */
	g_assert_cmpint(snap_op(c, "create", id, "live", 0, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_HARD), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "create", id, "cold", 0, NULL), ==, PRL_ERR_SUCCESS);
	n->cpus = vm->cpus + 2;
	g_assert_cmpint(commit(c, id, NULL, n, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "revert", id, "live", 0, NULL), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_assert_cmpint(d->state, ==, VMS_RUNNING);
		g_assert_cmpuint(d->cpus, ==, vm->cpus);
	}
	g_assert_cmpint(snap_op(c, "revert", id, "cold", 0, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, id), ==, VMS_STOPPED);
	ts_close(c);
}

/* The RAS template workflow of CPF.md §7, end to end at speed 0. */
static void
test_ras_workflow(void)
{
	pk_conn *c = open_fresh("ras", "speed=0", NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "rds-host-01");
	g_autoptr(pk_vm_data) t = NULL;
	const char *id = vm->id;
	g_autofree char *host = NULL;

	/* Create template: stop, snapshot version 1, convert. */
	g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_GRACEFUL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "create", id, "RAS_TEMPLATE_VERSION_1", PK_SNAP_REPLACE, NULL),
	                ==, PRL_ERR_SUCCESS);
	t = ts_vm_get(c, id);
	t->is_template = TRUE;
	g_assert_cmpint(commit(c, id, NULL, t, NULL), ==, PRL_ERR_SUCCESS);
	/* Create host: clone from the version, start. */
	host = clone_vm(c, id, "ras-host-1", "RAS_TEMPLATE_VERSION_1", PK_CLONE_LINKED, NULL);
	g_assert_cmpint(power_wait(c, host, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(vm_ip_count(c, host), ==, 2);
	/* Maintenance: back to a VM, revert, start, stop, new version, template again. */
	t->is_template = FALSE;
	g_assert_cmpint(commit(c, id, NULL, t, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "revert", id, "RAS_TEMPLATE_VERSION_1", 0, NULL), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_GRACEFUL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "delete", id, "RAS_TEMPLATE_VERSION_2", PK_SNAP_MISSING_OK, NULL),
	                ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(snap_op(c, "create", id, "RAS_TEMPLATE_VERSION_2", 0, NULL), ==,
	                PRL_ERR_SUCCESS);
	t->is_template = TRUE;
	g_assert_cmpint(commit(c, id, NULL, t, NULL), ==, PRL_ERR_SUCCESS);
	{
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpuint(s->len, ==, 2);
		g_assert_cmpstr(snap_at(s, 1)->parent, ==, "RAS_TEMPLATE_VERSION_1");
	}
	ts_close(c);
}

/* ---- tasks ---- */

static void
test_tasks(void)
{
	g_autofree char *dir = NULL;
	pk_conn *c, *other;
	g_autoptr(pk_vm_data) vm = NULL;
	g_autoptr(pk_vm_data) gold = NULL;
	g_autofree char *ref = NULL;
	g_autofree char *cref = NULL;
	g_autofree char *clone_id = NULL;
	g_autofree char *uri = NULL;
	g_autoptr(GError) error = NULL;
	pk_task_status st = { 0 };

	ts_clock_reset();
	c = open_fresh("tasks", "speed=1", &dir);
	uri = ts_uri(dir, "speed=0");
	other = ts_open(uri, NULL);
	vm = ts_vm_by_name(c, "debian-build");
	gold = ts_vm_by_name(c, GOLD);

	/* Garbage and unknown refs. */
	g_assert_false(sim_driver.task->status(c, "garbage", &st, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(sim_driver.task->status(c, "sim-task-00000000-0000-4000-8000-000000000000",
	                                       &st, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(sim_driver.task->cancel(c, "x", NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
	g_clear_error(&error);

	/* Any connection to the directory resolves a task. */
	ref = power(c, vm->id, PK_POWER_START);
	st = ts_task_status(other, ref);
	g_assert_false(st.finished);
	pk_task_status_clear(&st);
	g_assert_cmpint(vm_state(other, vm->id), ==, VMS_STARTING);

	/* Cancel: the VM goes back to where it was. */
	g_assert_true(sim_driver.task->cancel(other, ref, NULL, &error));
	g_assert_no_error(error);
	st = ts_task_status(c, ref);
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_OPERATION_WAS_CANCELED);
	g_assert_nonnull(st.message);
	pk_task_status_clear(&st);
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_STOPPED);
	g_assert_true(sim_driver.task->cancel(c, ref, NULL, &error));  /* over: no-op */

	/* A clone's id is known at once; the clone is locked and shows "cloning". */
	clone_id = clone_vm(c, gold->id, "slow-clone", NULL, 0, &cref);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(other, clone_id);
		g_assert_cmpint(d->state, ==, VMS_STOPPED);
		g_assert_cmpstr(d->power_state, ==, "cloning");
	}
	power_refused(c, clone_id, PK_POWER_START, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED);
	/* The source is read by the clone: others may clone it too, nobody may change it. */
	g_assert_cmpint(delete_vm(c, gold->id), ==, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED);
	{
		g_autofree char *second = clone_vm(c, gold->id, "parallel-clone", NULL,
		                                   PK_CLONE_LINKED, NULL);
		g_autoptr(pk_vm_data) t = ts_vm_get(c, gold->id);
		t->is_template = FALSE;
		g_assert_cmpint(commit(c, gold->id, NULL, t, NULL), ==,
		                PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED);
	}
	st = ts_task_status(other, cref);
	g_assert_false(st.finished);
	g_assert_cmpstr(st.result_vm_id, ==, clone_id);
	pk_task_status_clear(&st);
	ts_clock_advance(8000);
	st = ts_task_status(other, cref);
	g_assert_true(st.finished);
	g_assert_cmpint(st.code, ==, PRL_ERR_SUCCESS);
	pk_task_status_clear(&st);
	assert_word(c, clone_id, "stopped");

	/* Cancelling a clone removes it; snapshot tasks cannot be cancelled. */
	g_clear_pointer(&cref, g_free);
	g_clear_pointer(&clone_id, g_free);
	clone_id = clone_vm(c, gold->id, "cancelled-clone", NULL, 0, &cref);
	g_assert_true(sim_driver.task->cancel(c, cref, NULL, &error));
	g_assert_no_error(error);
	{
		pk_vm_data *d = NULL;
		g_assert_false(sim_driver.vm->get(c, clone_id, 0, &d, NULL, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
		g_clear_error(&error);
	}
	g_clear_pointer(&ref, g_free);
	g_assert_true(sim_driver.snap->create(c, vm->id, "s", NULL, 0, &ref, NULL, &error));
	g_assert_false(sim_driver.task->cancel(c, ref, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_ACTION_REQUESTED);
	g_clear_error(&error);

	/* Deleting takes a while: the VM shows "deleting", then is gone. */
	ts_clock_advance(10000);
	{
		g_autofree char *dref = NULL;
		g_assert_true(sim_driver.vm->remove(c, vm->id, 0, &dref, NULL, &error));
		assert_word(other, vm->id, "deleting");
		ts_clock_advance(1000);
		g_assert_cmpint(ts_task_wait(other, dref, NULL), ==, PRL_ERR_SUCCESS);
		g_assert_cmpuint(ts_vm_count(other), ==, 6 + 2 - 1);
	}
	ts_close(other);
	ts_close(c);
	ts_clock_reset();
}

/* ---- persistence ---- */

static void
test_persistence(void)
{
	g_autofree char *dir = NULL;
	g_autofree char *uri = NULL;
	pk_conn *c = open_fresh("persist", "speed=0", &dir);
	pk_conn *watcher;
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	g_autofree char *id = NULL;
	g_autofree char *mac = NULL;

	uri = ts_uri(dir, "speed=0");
	watcher = ts_open(uri, NULL);  /* shares this process's cache */
	g_assert_cmpuint(ts_vm_count(watcher), ==, 6);
	id = clone_vm(c, gold->id, "kept", NULL, 0, NULL);
	g_assert_cmpint(snap_op(c, "create", id, "s1", 0, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(ts_vm_count(watcher), ==, 7);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		mac = g_strdup(g_ptr_array_index(d->macs, 0));
	}
	ts_close(c);
	ts_close(watcher);

	c = ts_open(uri, NULL);
	{
		g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
		g_autoptr(GPtrArray) s = snapshots(c, id);
		g_assert_cmpstr(d->name, ==, "kept");
		g_assert_cmpint(d->state, ==, VMS_RUNNING);
		g_assert_cmpstr(g_ptr_array_index(d->macs, 0), ==, mac);
		g_assert_cmpuint(s->len, ==, 1);
	}
	/* A change made behind the cache's back (another process) is seen. */
	{
		g_autofree char *path = g_build_filename(dir, "state.json", NULL);
		g_autofree char *text = NULL;
		json_t *doc;
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		doc = json_loads(text, 0, NULL);
		json_array_clear(json_object_get(doc, "vms"));
		g_assert_cmpint(json_dump_file(doc, path, JSON_COMPACT), ==, 0);
		json_decref(doc);
		g_assert_cmpuint(ts_vm_count(c), ==, 0);
	}
	ts_close(c);
}

/* ---- failure injection ---- */

static void
test_failure_injection(void)
{
	g_autofree char *dir = ts_new_dir("fail");
	g_autofree char *uri = ts_uri(dir, "speed=0&fail=start:once");
	pk_conn *c = ts_open(uri, NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	g_autofree char *ref = NULL;
	g_autofree char *msg = NULL;

	/* Accepted, then the task fails with the kind of error a real start failure has. */
	ref = power(c, vm->id, PK_POWER_START);
	g_assert_cmpint(ts_task_wait(c, ref, &msg), ==, PRL_ERR_VM_START_FAILED);
	g_assert_nonnull(strstr(msg, "injected"));
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_STOPPED);
	/* Once: the next start works. */
	g_clear_pointer(&ref, g_free);
	ref = power(c, vm->id, PK_POWER_START);
	g_assert_cmpint(ts_task_wait(c, ref, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_RUNNING);
	ts_close(c);
}

static void
test_failure_injection_tasks(void)
{
	g_autofree char *dir = ts_new_dir("failtasks");
	g_autofree char *uri = ts_uri(dir,
	        "speed=0&fail=clone:PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE;snapshot-create:once,"
	        "stop:after=1");
	pk_conn *c = ts_open(uri, NULL);
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "rds-host-01");
	g_autofree char *cref = NULL;
	g_autofree char *clone_id = clone_vm(c, gold->id, "doomed", NULL, 0, &cref);
	g_autofree char *msg = NULL;

	g_assert_cmpint(ts_task_wait(c, cref, &msg), ==, PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE);
	g_assert_cmpstr(msg, ==, "sim: injected clone failure");
	g_assert_cmpuint(ts_vm_count(c), ==, 6);
	{
		pk_task_status st = ts_task_status(c, cref);
		g_assert_null(st.result_vm_id);
		pk_task_status_clear(&st);
	}
	/* snapshot-create once: nothing is created the first time. */
	g_assert_cmpint(snap_op(c, "create", run->id, "s", 0, NULL), ==, PRL_ERR_OPERATION_FAILED);
	g_assert_cmpuint(snap_count(c, run->id), ==, 0);
	g_assert_cmpint(snap_op(c, "create", run->id, "s", 0, NULL), ==, PRL_ERR_SUCCESS);
	/* stop:after=1 — the first stop passes, then every stop (hard ones too) fails. */
	g_assert_cmpint(power_wait(c, run->id, PK_POWER_STOP_HARD), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, run->id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, run->id, PK_POWER_STOP_GRACEFUL), ==,
	                PRL_ERR_VM_POWER_OFF_FAILED);
	g_assert_cmpint(vm_state(c, run->id), ==, VMS_RUNNING);
	g_assert_cmpint(power_wait(c, run->id, PK_POWER_STOP_HARD), ==, PRL_ERR_VM_POWER_OFF_FAILED);
	ts_close(c);
}

/* '*' counts every operation that starts a task; reads do not consume it. */
static void
test_failure_injection_any(void)
{
	g_autofree char *dir = ts_new_dir("failany");
	g_autofree char *uri = ts_uri(dir, "speed=0&fail=*:after=2:PRL_ERR_ACCESS_DENIED");
	pk_conn *c = ts_open(uri, NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	g_autofree char *msg = NULL;

	g_assert_cmpuint(ts_vm_count(c), ==, 6);
	g_assert_cmpint(snap_op(c, "create", vm->id, "one", 0, NULL), ==, PRL_ERR_SUCCESS);
	/* A refused request is not accepted work: it does not count either. */
	power_refused(c, vm->id, PK_POWER_STOP_HARD, PRL_ERR_DISP_VM_IS_NOT_STARTED);
	g_assert_cmpint(power_wait(c, vm->id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(power_wait(c, vm->id, PK_POWER_PAUSE), ==, PRL_ERR_ACCESS_DENIED);
	g_assert_cmpint(vm_state(c, vm->id), ==, VMS_RUNNING);
	g_assert_cmpint(delete_vm(c, vm->id), ==, PRL_ERR_VM_CANT_DELETE_RUNNING);
	{
		g_autofree char *ref = power(c, vm->id, PK_POWER_STOP_HARD);
		g_assert_cmpint(ts_task_wait(c, ref, &msg), ==, PRL_ERR_ACCESS_DENIED);
		g_assert_nonnull(strstr(msg, "kill"));
	}
	ts_close(c);
}

static void
test_failure_injection_reads(void)
{
	g_autofree char *dir = ts_new_dir("failreads");
	g_autofree char *ok_uri = ts_uri(dir, "speed=0");
	g_autofree char *uri = ts_uri(dir, "speed=0&fail=get:50%25;list:once:PRL_ERR_TIMEOUT");
	g_autofree char *conn_uri = ts_uri(dir, "speed=0&fail=connect");
	pk_conn *c0 = ts_open(ok_uri, NULL);
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c0, GOLD);
	pk_conn *c = ts_open(uri, NULL);
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	guint i, failed = 0;

	ts_close(c0);
	g_assert_false(sim_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_TIMEOUT);
	g_clear_error(&error);
	g_assert_cmpuint(ts_vm_count(c), ==, 6);
	/* 50%: exactly every second call fails. */
	for (i = 0; i < 10; i++) {
		pk_vm_data *d = NULL;
		if (!sim_driver.vm->get(c, gold->id, 0, &d, NULL, &error)) {
			g_assert_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED);
			g_clear_error(&error);
			g_assert_true(i % 2 == 1);
			failed++;
		} else {
			pk_vm_data_free(d);
		}
	}
	g_assert_cmpuint(failed, ==, 5);
	ts_close(c);
	open_fails(conn_uri, NULL, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "injected");
}

/* ---- statistics and host ---- */

static void
test_statistics(void)
{
	pk_conn *c = open_fresh("stats", "speed=0", NULL);
	g_autoptr(pk_vm_data) run = ts_vm_by_name(c, "rds-host-01");
	g_autoptr(pk_vm_data) off = ts_vm_by_name(c, "debian-build");
	g_autoptr(GError) error = NULL;
	pk_stats_data *a = NULL, *b = NULL, *z = NULL, *h = NULL;
	pk_host_data *info = NULL;
	guint i;

	g_assert_true(sim_driver.vm->statistics(c, run->id, &a, NULL, &error));
	g_assert_true(sim_driver.vm->statistics(c, run->id, &b, NULL, &error));
	g_assert_true(sim_driver.vm->statistics(c, off->id, &z, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(a->ram_total, ==, (guint64)run->ram_mb << 20);
	g_assert_cmpuint(a->ram_used, >, 0);
	g_assert_cmpuint(a->ram_used + a->ram_free, ==, a->ram_total);
	g_assert_cmpuint(a->cpu_usage->len, ==, run->cpus);
	g_assert_cmpuint(b->ram_used, ==, a->ram_used);  /* deterministic */
	for (i = 0; i < a->cpu_usage->len; i++) {
		g_assert_cmpuint(g_array_index(a->cpu_usage, guint32, i), <=, 100);
		g_assert_cmpuint(g_array_index(a->cpu_usage, guint32, i), ==,
		                 g_array_index(b->cpu_usage, guint32, i));
	}
	g_assert_cmpuint(z->ram_used, ==, 0);
	g_assert_cmpuint(g_array_index(z->cpu_usage, guint32, 0), ==, 0);
	g_assert_false(sim_driver.vm->statistics(c, "nope", &h, NULL, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND);
	g_clear_error(&error);

	g_assert_true(sim_driver.host->info(c, &info, NULL, &error));
	g_assert_cmpuint(info->cpu_count, ==, 16);
	g_assert_cmpuint(info->ram_mb, ==, 131072);
	g_assert_true(g_str_has_prefix(info->product_version, "prlkit-sim "));
	g_assert_true(sim_driver.host->statistics(c, &h, NULL, &error));
	g_assert_cmpuint(h->cpu_usage->len, ==, 16);
	g_assert_cmpuint(h->ram_used + h->ram_free, ==, h->ram_total);
	g_assert_cmpuint(h->ram_used, >, (guint64)run->ram_mb << 20);
	pk_stats_data_free(a);
	pk_stats_data_free(b);
	pk_stats_data_free(z);
	pk_stats_data_free(h);
	pk_host_data_free(info);
	ts_close(c);
}

/* ---- several processes ---- */

static GPid
spawn_child(const char *mode, const char *dir, const char *prefix, const char *count)
{
	const char *argv[] = { self_exe, "--child", mode, dir, prefix, count, NULL };
	g_autoptr(GError) error = NULL;
	GPid pid = 0;

	g_assert_true(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
	                            &pid, &error));
	g_assert_no_error(error);
	return pid;
}

static int
wait_child(GPid pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		g_assert_cmpint(errno, ==, EINTR);
	g_spawn_close_pid(pid);
	return status;
}

#define N_CHILDREN 4
#define N_CLONES 25

static void
test_processes_lose_nothing(void)
{
	g_autofree char *dir = NULL;
	pk_conn *c = open_fresh("procs", "speed=0", &dir);
	GPid pids[N_CHILDREN];
	guint i;

	for (i = 0; i < N_CHILDREN; i++) {
		g_autofree char *prefix = g_strdup_printf("p%u", i);
		g_autofree char *count = g_strdup_printf("%d", N_CLONES);
		pids[i] = spawn_child("clone", dir, prefix, count);
	}
	/* This process writes too, at the same time. */
	{
		g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
		for (i = 0; i < N_CLONES; i++) {
			g_autofree char *name = g_strdup_printf("parent-%u", i);
			g_autofree char *id = clone_vm(c, gold->id, name, "RAS_TEMPLATE_VERSION_1", 0,
			                               NULL);
		}
	}
	for (i = 0; i < N_CHILDREN; i++) {
		int status = wait_child(pids[i]);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	}
	g_assert_cmpuint(ts_vm_count(c), ==, 6 + (N_CHILDREN + 1) * N_CLONES);
	for (i = 0; i < N_CHILDREN; i++) {
		g_autofree char *name = g_strdup_printf("p%u-%d", i, N_CLONES - 1);
		g_autoptr(pk_vm_data) d = ts_vm_by_name(c, name);
		g_autoptr(GPtrArray) s = snapshots(c, d->id);
		g_assert_cmpuint(s->len, ==, 1);
	}
	ts_close(c);
	g_assert_cmpuint(ts_check_state_file(dir), ==, 6 + (N_CHILDREN + 1) * N_CLONES);
}

/* VMs whose name starts with prefix, read straight from the file. */
static guint
count_named(const char *dir, const char *prefix)
{
	g_autofree char *path = g_build_filename(dir, SIM_STATE_FILE, NULL);
	json_t *doc = json_load_file(path, 0, NULL);
	json_t *vm;
	gsize i;
	guint n = 0;

	g_assert_nonnull(doc);  /* never a half-written file */
	json_array_foreach(json_object_get(doc, "vms"), i, vm)
		if (g_str_has_prefix(sim_jstr(vm, "name"), prefix))
			n++;
	json_decref(doc);
	return n;
}

static void
test_sigkill_mid_write(void)
{
	g_autofree char *dir = NULL;
	pk_conn *c = open_fresh("sigkill", "speed=0", &dir);
	guint round;

	ts_close(c);
	for (round = 0; round < 3; round++) {
		g_autofree char *prefix = g_strdup_printf("r%u", round);
		GPid pid = spawn_child("churn", dir, prefix, "0");
		int status;

		/* Let it write for a while (the state file changes under our feet), then kill it
		 * at an arbitrary moment of its write loop. */
		while (count_named(dir, prefix) < 3)
			g_usleep(2000);
		g_usleep(g_random_int_range(0, 20000));
		g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
		status = wait_child(pid);
		g_assert_true(WIFSIGNALED(status));
		g_assert_cmpuint(ts_check_state_file(dir), >=, 6);
		/* The lock died with it: writers go on. */
		{
			g_autofree char *uri = ts_uri(dir, "speed=0");
			c = ts_open(uri, NULL);
		}
		{
			g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
			g_autofree char *name = g_strdup_printf("after-%u", round);
			g_autofree char *id = clone_vm(c, gold->id, name, NULL, 0, NULL);
		}
		ts_close(c);
	}
}

static int
child_main(int argc, char **argv)
{
	const char *mode = argv[2], *dir = argv[3], *prefix = argv[4];
	int count = atoi(argv[5]);
	g_autofree char *uri = ts_uri(dir, "speed=0");
	pk_conn *c = ts_open(uri, NULL);
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	int i;

	if (strcmp(mode, "clone") == 0) {
		for (i = 0; i < count; i++) {
			g_autofree char *name = g_strdup_printf("%s-%d", prefix, i);
			g_autofree char *id = clone_vm(c, gold->id, name, NULL, i % 2 ? PK_CLONE_LINKED : 0,
			                               NULL);
			g_assert_cmpint(snap_op(c, "create", id, "v1", 0, NULL), ==, PRL_ERR_SUCCESS);
		}
	} else {
		for (i = 0; ; i++) {
			g_autofree char *name = g_strdup_printf("%s-%d", prefix, i);
			g_autofree char *id = clone_vm(c, gold->id, name, NULL, 0, NULL);
			g_autoptr(pk_vm_data) d = ts_vm_get(c, id);
			g_autoptr(pk_vm_data) n = pk_vm_data_copy(d);
			n->ram_mb += 4;
			g_assert_cmpint(commit(c, id, d, n, NULL), ==, PRL_ERR_SUCCESS);
			g_assert_cmpint(power_wait(c, id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
			if (i % 3 == 0) {
				g_assert_cmpint(power_wait(c, id, PK_POWER_STOP_HARD), ==, PRL_ERR_SUCCESS);
				g_assert_cmpint(delete_vm(c, id), ==, PRL_ERR_SUCCESS);
			}
		}
	}
	ts_close(c);
	return 0;
}

typedef struct {
	pk_conn *c;
	const char *gold;
	guint index;
} thread_arg;

static gpointer
clone_thread(gpointer data)
{
	thread_arg *a = data;
	guint i;

	for (i = 0; i < N_CLONES; i++) {
		g_autofree char *name = g_strdup_printf("t%u-%u", a->index, i);
		g_autofree char *id = clone_vm(a->c, a->gold, name, NULL, 0, NULL);
	}
	return NULL;
}

/* Threads of one process, on one connection and on two: nothing lost either. */
static void
test_threads_lose_nothing(void)
{
	g_autofree char *dir = NULL;
	g_autofree char *uri = NULL;
	pk_conn *c = open_fresh("threads", "speed=0", &dir);
	pk_conn *c2;
	g_autoptr(pk_vm_data) gold = ts_vm_by_name(c, GOLD);
	thread_arg args[N_CHILDREN];
	GThread *threads[N_CHILDREN];
	guint i;

	uri = ts_uri(dir, "speed=0");
	c2 = ts_open(uri, NULL);
	for (i = 0; i < N_CHILDREN; i++) {
		args[i] = (thread_arg){ i % 2 ? c2 : c, gold->id, i };
		threads[i] = g_thread_new("clone", clone_thread, &args[i]);
	}
	for (i = 0; i < N_CHILDREN; i++)
		g_thread_join(threads[i]);
	g_assert_cmpuint(ts_vm_count(c), ==, 6 + N_CHILDREN * N_CLONES);
	g_assert_cmpuint(ts_vm_count(c2), ==, 6 + N_CHILDREN * N_CLONES);
	ts_close(c2);
	ts_close(c);
}

/* Every write gives the file a strictly later mtime, even within one tick of a filesystem
 * with coarse timestamps: with a reused inode and an equal size, caches in other processes
 * would otherwise take a new document for the one they hold. */
static void
test_file_identity_changes(void)
{
	g_autofree char *dir = NULL;
	pk_conn *c = open_fresh("identity", "speed=0", &dir);
	g_autofree char *path = g_build_filename(dir, SIM_STATE_FILE, NULL);
	g_autoptr(pk_vm_data) vm = ts_vm_by_name(c, "debian-build");
	gint64 last_mtime = 0;
	guint i;

	for (i = 0; i < 40; i++) {
		g_autoptr(pk_vm_data) cur = ts_vm_get(c, vm->id);
		g_autoptr(pk_vm_data) n = pk_vm_data_copy(cur);
		GStatBuf sb;
		gint64 mt;

		n->ram_mb = cur->ram_mb == 2048 ? 2052 : 2048;
		g_assert_cmpint(commit(c, vm->id, cur, n, NULL), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(g_stat(path, &sb), ==, 0);
		mt = (gint64)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
		g_assert_cmpint(mt, >, last_mtime);
		last_mtime = mt;
	}
	ts_close(c);
}

/* ---- scale ---- */

static void
test_scale_10000(void)
{
	g_autofree char *dir = ts_new_dir("scale");
	g_autofree char *uri = ts_uri(dir, "speed=0&seed=default%2B10000");
	pk_conn *c = ts_open(uri, NULL);
	pk_conn *c2;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_vm_data) one = NULL;
	g_autofree char *id = NULL;
	guint i, running = 0;

	g_assert_true(sim_driver.vm->list(c, 0, &list, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 10006);
	for (i = 0; i < list->len; i++)
		if (((pk_vm_data *)g_ptr_array_index(list, i))->state == VMS_RUNNING)
			running++;
	g_assert_cmpuint(running, ==, 3 + 2500);
	one = ts_vm_get(c, ((pk_vm_data *)g_ptr_array_index(list, 9000))->id);
	id = clone_vm(c, one->id, "scale-clone", NULL, 0, NULL);
	/* A second connection (same process) and a fresh reader both see the write. */
	c2 = ts_open(uri, NULL);
	g_assert_cmpuint(ts_vm_count(c2), ==, 10007);
	ts_close(c2);
	ts_close(c);
	g_assert_cmpuint(ts_check_state_file(dir), ==, 10007);
}

/* ---- through the public API ---- */

static PRL_HANDLE
job_done(PRL_HANDLE job, PRL_RESULT expect)
{
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	PRL_HANDLE res = PRL_INVALID_HANDLE;

	g_assert_true(job != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_Wait(job, 60000), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, expect);
	if (rc == PRL_ERR_SUCCESS)
		g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(job);
	return res;
}

static void
api_begin(void)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
}

static void
api_end(void)
{
	/* Count after Deinit: it waits for workers and deliveries still holding finished jobs. */
	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

static PRL_HANDLE
api_connect(const char *uri)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(job_done(PrlSrv_Connect(srv, uri, NULL, 0), PRL_ERR_SUCCESS));
	return srv;
}

static void
api_disconnect(PRL_HANDLE srv)
{
	PrlHandle_Free(job_done(PrlSrv_Logoff(srv), PRL_ERR_SUCCESS));
	PrlHandle_Free(srv);
}

/* PrlSrv_LoginLocal reaches PRLKIT_DEFAULT_URI (make check: a sim directory at speed 0),
 * else sim:///default; either way a seeded sim. */
static void
test_api_login_local(void)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE, res, vm = PRL_INVALID_HANDLE;
	PRL_UINT32 n = 0, i;
	PRL_UINT64 features = 0;
	char name[256];
	PRL_UINT32 len = sizeof(name);
	gboolean found = FALSE;

	api_begin();
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(job_done(PrlSrv_LoginLocal(srv, NULL, 0, PSL_NORMAL_SECURITY),
	                        PRL_ERR_SUCCESS));
	g_assert_cmpint(PrlSrv_GetDriverInfo(srv, name, &len, &features), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(name, ==, "sim");
	g_assert_cmpuint(features, ==, sim_driver.features);
	res = job_done(PrlSrv_GetVmList(srv), PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamsCount(res, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, >=, 6);
	for (i = 0; i < n; i++) {
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &vm), ==, PRL_ERR_SUCCESS);
		len = sizeof(name);
		g_assert_cmpint(PrlVmCfg_GetName(vm, name, &len), ==, PRL_ERR_SUCCESS);
		found = found || strcmp(name, GOLD) == 0;
		PrlHandle_Free(vm);
	}
	g_assert_true(found);
	PrlHandle_Free(res);
	api_disconnect(srv);
	api_end();
}

typedef struct {
	GMutex lock;
	GCond cond;
	GPtrArray *seen;  /* lock: "TYPE ISSUER STATE" strings */
} event_log;

static PRL_RESULT
on_event(PRL_HANDLE ev, PRL_VOID_PTR data)
{
	event_log *log = data;
	PRL_HANDLE_TYPE type = PHT_ERROR;
	PRL_EVENT_TYPE et = 0;
	PRL_HANDLE prm = PRL_INVALID_HANDLE;
	PRL_INT32 state = 0;
	char issuer[128] = "";
	PRL_UINT32 len = sizeof(issuer);

	PrlHandle_GetType(ev, &type);
	if (type == PHT_EVENT) {
		PrlEvent_GetType(ev, &et);
		PrlEvent_GetIssuerId(ev, issuer, &len);
		if (PrlEvent_GetParamByName(ev, EVT_PARAM_VMINFO_VM_STATE, &prm) == PRL_ERR_SUCCESS) {
			PrlEvtPrm_ToInt32(prm, &state);
			PrlHandle_Free(prm);
		}
		g_mutex_lock(&log->lock);
		g_ptr_array_add(log->seen, g_strdup_printf("%d %s %x", (int)et, issuer, (guint)state));
		g_cond_broadcast(&log->cond);
		g_mutex_unlock(&log->lock);
	}
	PrlHandle_Free(ev);
	return PRL_ERR_SUCCESS;
}

/* Waits (bounded, generously) until an event line appears; FALSE if it never does. */
static gboolean
event_seen(event_log *log, const char *line)
{
	gint64 end = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
	gboolean found = FALSE;

	g_mutex_lock(&log->lock);
	while (!found) {
		guint i;
		for (i = 0; i < log->seen->len && !found; i++)
			found = strcmp(g_ptr_array_index(log->seen, i), line) == 0;
		if (!found && !g_cond_wait_until(&log->cond, &log->lock, end))
			break;
	}
	g_mutex_unlock(&log->lock);
	return found;
}

/* The watcher reports what other connections (other processes alike) change, including
 * the time-driven end of a phase. */
static void
test_api_events(void)
{
	g_autofree char *dir = ts_new_dir("events");
	g_autofree char *uri = ts_uri(dir, "speed=0.01");
	event_log log = { .seen = g_ptr_array_new_with_free_func(g_free) };
	PRL_HANDLE srv;
	pk_conn *c;
	g_autoptr(pk_vm_data) vm = NULL;
	g_autoptr(pk_vm_data) gold = NULL;
	g_autofree char *line = NULL;
	g_autofree char *clone_id = NULL;
	g_autofree char *ref = NULL;

	g_mutex_init(&log.lock);
	g_cond_init(&log.cond);
	api_begin();
	srv = api_connect(uri);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, on_event, &log), ==, PRL_ERR_SUCCESS);

	c = ts_open(uri, NULL);
	vm = ts_vm_by_name(c, "debian-build");
	gold = ts_vm_by_name(c, GOLD);
	g_assert_cmpint(power_wait(c, vm->id, PK_POWER_START), ==, PRL_ERR_SUCCESS);
	line = g_strdup_printf("%d %s %x", PET_DSP_EVT_VM_STATE_CHANGED, vm->id, VMS_RUNNING);
	g_assert_true(event_seen(&log, line));
	g_clear_pointer(&line, g_free);
	line = g_strdup_printf("%d %s 0", PET_DSP_EVT_VM_STARTED, vm->id);
	g_assert_true(event_seen(&log, line));

	clone_id = clone_vm(c, gold->id, "evented", NULL, PK_CLONE_LINKED, &ref);
	g_clear_pointer(&line, g_free);
	line = g_strdup_printf("%d %s 0", PET_DSP_EVT_VM_ADDED, clone_id);
	g_assert_true(event_seen(&log, line));
	g_assert_cmpint(ts_task_wait(c, ref, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(delete_vm(c, clone_id), ==, PRL_ERR_SUCCESS);
	g_clear_pointer(&line, g_free);
	line = g_strdup_printf("%d %s 0", PET_DSP_EVT_VM_DELETED, clone_id);
	g_assert_true(event_seen(&log, line));
	ts_close(c);

	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, on_event, &log), ==, PRL_ERR_SUCCESS);
	api_disconnect(srv);
	api_end();
	g_ptr_array_unref(log.seen);
	g_cond_clear(&log.cond);
	g_mutex_clear(&log.lock);
}

static guint
event_count(event_log *log, const char *line)
{
	guint n = 0;

	g_mutex_lock(&log->lock);
	for (guint i = 0; i < log->seen->len; i++)
		n += strcmp(g_ptr_array_index(log->seen, i), line) == 0;
	g_mutex_unlock(&log->lock);
	return n;
}

/* A clone and a delete made through the same connection are heard of twice inside prlkit
 * (the finished job, the watcher): handlers get one VM_ADDED and one VM_DELETED. */
static void
test_api_events_once(void)
{
	g_autofree char *dir = ts_new_dir("events-once");
	g_autofree char *uri = ts_uri(dir, "speed=0.01");
	event_log log = { .seen = g_ptr_array_new_with_free_func(g_free) };
	PRL_HANDLE srv, res, gold = PRL_INVALID_HANDLE, clone;
	PRL_UINT32 n = 0, len;
	char name[256], id[256];

	g_mutex_init(&log.lock);
	g_cond_init(&log.cond);
	api_begin();
	srv = api_connect(uri);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, on_event, &log), ==, PRL_ERR_SUCCESS);
	res = job_done(PrlSrv_GetVmList(srv), PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamsCount(res, &n), ==, PRL_ERR_SUCCESS);
	for (PRL_UINT32 i = 0; i < n && gold == PRL_INVALID_HANDLE; i++) {
		PRL_HANDLE h;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &h), ==, PRL_ERR_SUCCESS);
		len = sizeof(name);
		g_assert_cmpint(PrlVmCfg_GetName(h, name, &len), ==, PRL_ERR_SUCCESS);
		if (strcmp(name, GOLD) == 0)
			gold = h;
		else
			PrlHandle_Free(h);
	}
	PrlHandle_Free(res);
	g_assert_true(gold != PRL_INVALID_HANDLE);

	res = job_done(PrlVm_CloneEx(gold, "evented-once", NULL, PCVF_LINKED_CLONE), PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(res, &clone), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	len = sizeof(id);
	g_assert_cmpint(PrlVmCfg_GetUuid(clone, id, &len), ==, PRL_ERR_SUCCESS);
	g_autofree char *added = g_strdup_printf("%d %s 0", PET_DSP_EVT_VM_ADDED, id);
	g_autofree char *deleted = g_strdup_printf("%d %s 0", PET_DSP_EVT_VM_DELETED, id);
	g_assert_true(event_seen(&log, added));
	res = job_done(PrlVm_Delete(clone, PRL_INVALID_HANDLE), PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	g_assert_true(event_seen(&log, deleted));
	/* Long enough for the watcher (every few ms at this speed) to have looked many times. */
	g_usleep(300 * 1000);
	g_assert_cmpuint(event_count(&log, added), ==, 1);
	g_assert_cmpuint(event_count(&log, deleted), ==, 1);

	PrlHandle_Free(clone);
	PrlHandle_Free(gold);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, on_event, &log), ==, PRL_ERR_SUCCESS);
	api_disconnect(srv);
	api_end();
	g_ptr_array_unref(log.seen);
	g_cond_clear(&log.cond);
	g_mutex_clear(&log.lock);
}

/* A job's task id resolves through PrlSrv_GetTaskInfo on another connection. */
static void
test_api_task_id(void)
{
	g_autofree char *dir = ts_new_dir("apitask");
	g_autofree char *uri = ts_uri(dir, "speed=0");
	PRL_HANDLE srv, srv2, res, vm = PRL_INVALID_HANDLE, job, info, task = PRL_INVALID_HANDLE;
	char task_id[1024];
	PRL_UINT32 len = sizeof(task_id), n = 0, i;
	PRL_JOB_STATUS st = PJS_UNKNOWN;
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	char name[256];

	api_begin();
	srv = api_connect(uri);
	srv2 = api_connect(uri);
	res = job_done(PrlSrv_GetVmList(srv), PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamsCount(res, &n), ==, PRL_ERR_SUCCESS);
	for (i = 0; i < n && vm == PRL_INVALID_HANDLE; i++) {
		PRL_HANDLE h;
		PRL_UINT32 l = sizeof(name);
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &h), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlVmCfg_GetName(h, name, &l), ==, PRL_ERR_SUCCESS);
		if (strcmp(name, "debian-build") == 0)
			vm = h;
		else
			PrlHandle_Free(h);
	}
	PrlHandle_Free(res);
	g_assert_true(vm != PRL_INVALID_HANDLE);

	job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_GetTaskId(job, 60000, task_id, &len), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(job_done(job, PRL_ERR_SUCCESS));
	info = job_done(PrlSrv_GetTaskInfo(srv2, task_id), PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(info, &task), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlRunningTask_GetState(task, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, PJS_FINISHED);
	g_assert_cmpint(PrlRunningTask_GetRetCode(task, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(task);
	PrlHandle_Free(info);
	/* The template cannot start: the SDK's error comes through. */
	PrlHandle_Free(vm);
	api_disconnect(srv2);
	api_disconnect(srv);
	api_end();
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);

	self_exe = g_file_read_link("/proc/self/exe", NULL);
	{
		/* Named instances go under the user's state dir: keep them in the test dir. */
		const char *tmp = g_getenv("PRLKIT_TEST_TMPDIR");
		g_autofree char *xdg = g_build_filename(tmp && *tmp ? tmp : g_get_tmp_dir(),
		                                        "xdg-state", NULL);
		g_setenv("XDG_STATE_HOME", xdg, TRUE);
	}
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/sim/seed/default", test_seed_default);
	g_test_add_func("/sim/seed/variants", test_seed_variants);
	g_test_add_func("/sim/seed/deterministic-ids", test_seed_ids_deterministic);
	g_test_add_func("/sim/open/instance-and-state-dir", test_named_instance_and_state_dir);
	g_test_add_func("/sim/open/settings-errors", test_settings_errors);
	g_test_add_func("/sim/open/corrupt-state", test_corrupt_state);
	g_test_add_func("/sim/power/instant", test_power_instant);
	g_test_add_func("/sim/power/timing", test_power_timing);
	g_test_add_func("/sim/power/small-speed", test_power_small_speed);
	g_test_add_func("/sim/clone/basic", test_clone);
	g_test_add_func("/sim/clone/from-snapshot-config", test_clone_from_snapshot_config);
	g_test_add_func("/sim/clone/linked-and-delete", test_linked_clone_and_delete);
	g_test_add_func("/sim/edit/templates-and-edit", test_templates_and_edit);
	g_test_add_func("/sim/snapshots/tree", test_snapshots);
	g_test_add_func("/sim/snapshots/revert-state", test_revert_restores_state);
	g_test_add_func("/sim/workflow/ras", test_ras_workflow);
	g_test_add_func("/sim/tasks/cross-connection-and-cancel", test_tasks);
	g_test_add_func("/sim/state/persistence", test_persistence);
	g_test_add_func("/sim/fail/start-once", test_failure_injection);
	g_test_add_func("/sim/fail/tasks", test_failure_injection_tasks);
	g_test_add_func("/sim/fail/any-after", test_failure_injection_any);
	g_test_add_func("/sim/fail/reads-and-connect", test_failure_injection_reads);
	g_test_add_func("/sim/statistics", test_statistics);
	g_test_add_func("/sim/state/processes-lose-nothing", test_processes_lose_nothing);
	g_test_add_func("/sim/state/sigkill-mid-write", test_sigkill_mid_write);
	g_test_add_func("/sim/state/threads-lose-nothing", test_threads_lose_nothing);
	g_test_add_func("/sim/state/file-identity", test_file_identity_changes);
	g_test_add_func("/sim/scale/10000", test_scale_10000);
	g_test_add_func("/sim/api/login-local", test_api_login_local);
	g_test_add_func("/sim/api/events", test_api_events);
	g_test_add_func("/sim/api/events-once", test_api_events_once);
	g_test_add_func("/sim/api/task-id", test_api_task_id);
	return g_test_run();
}

/* The "fake" driver of the runtime's unit tests (see fake-driver.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include "fake-driver.h"
#include "core-registry.h"

typedef struct {
	pk_vm_data *data;
	GPtrArray *snaps;    /* pk_snapshot_data* oldest first */
} fake_vm;

static struct {
	GMutex lock;
	GCond cond;
	GPtrArray *vms;            /* lock: fake_vm*, in creation order */
	GHashTable *by_id;         /* lock: id → fake_vm* */
	guint next_clone;          /* lock */
	guint digest;              /* lock */
	gint task_mode;            /* lock */
	gboolean block;            /* lock */
	PRL_RESULT fail_next;      /* lock */
	PRL_RESULT fail_next_get;  /* lock */
	PRL_RESULT fail_status;    /* lock: task status reads fail with it ... */
	guint fail_status_n;       /* lock: ... this many more times */
	gboolean refuse_cancel;    /* lock: task cancels fail (the task goes on) */
	guint next_task;           /* lock */
	char *last_task;           /* lock */
	guint status_calls;        /* atomic */
	guint cancel_calls;        /* atomic */
	gint open;                 /* atomic */
	GAsyncQueue *emits;        /* state changes for the watch threads */
} fk;

typedef struct {
	char *dir;                 /* immutable */
} fake_conn;

typedef struct {
	char *vm_id;
	VIRTUAL_MACHINE_STATE state;
} fake_emit;

/* ---- inventory ---- */

static void fake_vm_free(gpointer p)
{
	fake_vm *v = p;
	pk_vm_data_free(v->data);
	g_ptr_array_unref(v->snaps);
	g_free(v);
}

static fake_vm *add_vm(const char *id, const char *name, gboolean tpl)
{
	fake_vm *v = g_new0(fake_vm, 1);
	v->data = pk_vm_data_new();
	v->data->id = g_strdup(id);
	v->data->name = g_strdup(name);
	v->data->description = g_strdup("");
	v->data->os_type_name = g_strdup("l26");
	v->data->ram_mb = 1024;
	v->data->cpus = 2;
	v->data->is_template = tpl;
	v->data->state = VMS_STOPPED;
	v->data->power_state = g_strdup("stopped");
	v->data->digest = g_strdup_printf("d%u", ++fk.digest);
	pk_disk_data *disk = g_new0(pk_disk_data, 1);
	disk->image_path = g_strdup_printf("/images/%s.qcow2", id);
	disk->size_mb = 10240;
	disk->type = PDE_HARD_DISK;
	g_ptr_array_add(v->data->disks, disk);
	pk_net_data *net = g_new0(pk_net_data, 1);
	net->mac = g_strdup("BC:24:11:00:00:01");
	net->network = g_strdup("vmbr0");
	g_ptr_array_add(v->data->nets, net);
	g_ptr_array_add(v->data->macs, g_strdup("BC:24:11:00:00:01"));
	v->snaps = g_ptr_array_new_with_free_func((GDestroyNotify)pk_snapshot_data_free);
	g_ptr_array_add(fk.vms, v);
	g_hash_table_insert(fk.by_id, v->data->id, v);
	return v;
}

static void add_snap(fake_vm *v, const char *name, const char *parent, gint64 when)
{
	pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
	s->name = g_strdup(name);
	s->description = g_strdup_printf("snapshot %s", name);
	s->parent = g_strdup(parent);
	s->created = when;
	for (guint i = 0; i < v->snaps->len; i++)
		((pk_snapshot_data *)v->snaps->pdata[i])->current = FALSE;
	s->current = TRUE;
	g_ptr_array_add(v->snaps, s);
}

void fake_reset(guint n_vms)
{
	pk_driver_register_for_tests(&fake_driver);
	pk_driver_register_for_tests(&fake_min_driver);
	g_mutex_lock(&fk.lock);
	if (fk.vms != NULL) {
		g_hash_table_unref(fk.by_id);
		g_ptr_array_unref(fk.vms);
	}
	if (fk.emits == NULL)
		fk.emits = g_async_queue_new();
	fk.vms = g_ptr_array_new_with_free_func(fake_vm_free);
	fk.by_id = g_hash_table_new(g_str_hash, g_str_equal);
	fk.next_clone = 0;
	fk.task_mode = 0;
	fk.block = FALSE;
	fk.fail_next = 0;
	fk.fail_next_get = 0;
	fk.fail_status = 0;
	fk.fail_status_n = 0;
	fk.refuse_cancel = FALSE;
	for (guint i = 0; i < n_vms; i++) {
		char *id = g_strdup_printf("vm-%u", i);
		char *name = g_strdup_printf("VM %u", i);
		add_vm(id, name, FALSE);
		g_free(id);
		g_free(name);
	}
	fake_vm *tpl = add_vm("tpl", "Template", TRUE);
	add_snap(tpl, "base", NULL, 1700000000);
	add_snap(tpl, "v1", "base", 1700000100);
	add_snap(tpl, "v2", "v1", 1700000200);
	add_snap(tpl, "other", "base", 1700000300);
	g_mutex_unlock(&fk.lock);
}

void fake_set_task_mode(gint mode)
{
	g_mutex_lock(&fk.lock);
	fk.task_mode = mode;
	g_mutex_unlock(&fk.lock);
}

void fake_set_block(gboolean block)
{
	g_mutex_lock(&fk.lock);
	fk.block = block;
	g_mutex_unlock(&fk.lock);
}

void fake_fail_next(PRL_RESULT code)
{
	g_mutex_lock(&fk.lock);
	fk.fail_next = code;
	g_mutex_unlock(&fk.lock);
}

void fake_fail_next_get(PRL_RESULT code)
{
	g_mutex_lock(&fk.lock);
	fk.fail_next_get = code;
	g_mutex_unlock(&fk.lock);
}

void fake_fail_status(guint n, PRL_RESULT code)
{
	g_mutex_lock(&fk.lock);
	fk.fail_status = code;
	fk.fail_status_n = n;
	g_mutex_unlock(&fk.lock);
}

void fake_refuse_cancel(gboolean refuse)
{
	g_mutex_lock(&fk.lock);
	fk.refuse_cancel = refuse;
	g_mutex_unlock(&fk.lock);
}

char *fake_last_task(void)
{
	g_mutex_lock(&fk.lock);
	char *t = g_strdup(fk.last_task);
	g_mutex_unlock(&fk.lock);
	return t;
}

guint fake_status_calls(void)
{
	return g_atomic_int_get(&fk.status_calls);
}

guint fake_cancel_calls(void)
{
	return g_atomic_int_get(&fk.cancel_calls);
}

guint fake_open_count(void)
{
	return g_atomic_int_get(&fk.open);
}

void fake_emit_state(const char *vm_id, VIRTUAL_MACHINE_STATE state)
{
	fake_emit *e = g_new0(fake_emit, 1);
	e->vm_id = g_strdup(vm_id);
	e->state = state;
	g_async_queue_push(fk.emits, e);
}

/* ---- tasks: one file per task: "<remaining polls> <code> <result vm id|-> <message>" ---- */

static char *task_path(const char *dir, const char *ref)
{
	return g_build_filename(dir, ref, NULL);
}

static void task_write(const char *dir, const char *ref, gint remaining, PRL_RESULT code,
                       const char *vm_id, const char *message)
{
	char *path = task_path(dir, ref);
	char *text = g_strdup_printf("%d %d %s %s", remaining, code,
	                             vm_id != NULL ? vm_id : "-", message != NULL ? message : "");
	g_file_set_contents(path, text, -1, NULL);
	g_free(text);
	g_free(path);
}

/* A new task (its reference), or NULL in synchronous mode. */
static char *task_new(pk_conn *c, const char *vm_id)
{
	fake_conn *fc = pk_conn_get_private(c);
	g_mutex_lock(&fk.lock);
	gint mode = fk.task_mode;
	char *ref = mode != 0 ? g_strdup_printf("fake-task-%d-%u", (int)getpid(), ++fk.next_task)
	                      : NULL;
	if (ref != NULL) {
		g_free(fk.last_task);
		fk.last_task = g_strdup(ref);
	}
	g_mutex_unlock(&fk.lock);
	if (ref != NULL)
		task_write(fc->dir, ref, mode, PRL_ERR_SUCCESS, vm_id, NULL);
	return ref;
}

void fake_task_finish(const char *dir, const char *task_ref, PRL_RESULT code,
                      const char *message)
{
	char *path = task_path(dir, task_ref), *text = NULL;
	char vm[256] = "-";
	if (g_file_get_contents(path, &text, NULL, NULL)) {
		int remaining, old;
		if (sscanf(text, "%d %d %255s", &remaining, &old, vm) != 3)
			strcpy(vm, "-");
	}
	g_free(text);
	g_free(path);
	task_write(dir, task_ref, 0, code, strcmp(vm, "-") == 0 ? NULL : vm, message);
}

static gboolean fake_task_status(pk_conn *c, const char *ref, pk_task_status *out,
                                 GCancellable *cancel, GError **error)
{
	fake_conn *fc = pk_conn_get_private(c);
	g_atomic_int_inc(&fk.status_calls);
	g_mutex_lock(&fk.lock);
	PRL_RESULT fail = fk.fail_status_n > 0 ? fk.fail_status : 0;
	if (fail != 0)
		fk.fail_status_n--;
	g_mutex_unlock(&fk.lock);
	if (fail != 0) {
		g_set_error(error, PK_ERROR, fail, "fake: task status read failed");
		return FALSE;
	}
	if (ref == NULL || strchr(ref, '/') != NULL || strncmp(ref, "fake-task-", 10) != 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND, "no task '%s'", ref);
		return FALSE;
	}
	char *path = task_path(fc->dir, ref), *text = NULL;
	gboolean ok = g_file_get_contents(path, &text, NULL, NULL);
	if (!ok) {
		g_free(path);
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND, "no task '%s'", ref);
		return FALSE;
	}
	int remaining = 0, code = 0, consumed = 0;
	char vm[256] = "-";
	sscanf(text, "%d %d %255s %n", &remaining, &code, vm, &consumed);
	const char *message = consumed > 0 ? text + consumed : "";
	if (remaining > 1) {
		/* counting down: one poll less */
		task_write(fc->dir, ref, remaining - 1, code, strcmp(vm, "-") == 0 ? NULL : vm, message);
	}
	out->finished = remaining == 0 || remaining == 1;
	out->code = out->finished ? code : PRL_ERR_SUCCESS;
	out->progress = out->finished ? 100 : 50;
	out->message = *message != '\0' ? g_strdup(message) : NULL;
	out->result_vm_id = strcmp(vm, "-") != 0 ? g_strdup(vm) : NULL;
	if (remaining == 1)
		task_write(fc->dir, ref, 0, code, strcmp(vm, "-") == 0 ? NULL : vm, message);
	g_free(text);
	g_free(path);
	return TRUE;
}

static gboolean fake_task_cancel(pk_conn *c, const char *ref, GCancellable *cancel,
                                 GError **error)
{
	fake_conn *fc = pk_conn_get_private(c);
	g_atomic_int_inc(&fk.cancel_calls);
	g_mutex_lock(&fk.lock);
	gboolean refuse = fk.refuse_cancel;
	g_mutex_unlock(&fk.lock);
	if (refuse) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ACTION_REQUESTED,
		            "fake: this task cannot be cancelled");
		return FALSE;
	}
	fake_task_finish(fc->dir, ref, PRL_ERR_OPERATION_WAS_CANCELED, "cancelled");
	return TRUE;
}

static guint fake_poll_interval(pk_conn *c, const char *ref)
{
	return 2;
}

static const pk_task_ops fake_task_ops = {
	.status = fake_task_status,
	.cancel = fake_task_cancel,
	.poll_interval_ms = fake_poll_interval,
};

/* ---- VMs ---- */

static fake_vm *find(const char *id, GError **error)
{
	fake_vm *v = id != NULL ? g_hash_table_lookup(fk.by_id, id) : NULL;
	if (v == NULL)
		g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND, "VM '%s' not found", id);
	return v;
}

static gboolean fake_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                          GError **error)
{
	g_mutex_lock(&fk.lock);
	*out = g_ptr_array_new_full(fk.vms->len, (GDestroyNotify)pk_vm_data_free);
	for (guint i = 0; i < fk.vms->len; i++) {
		const pk_vm_data *src = ((fake_vm *)fk.vms->pdata[i])->data;
		pk_vm_data *d;
		if (flags & PK_LIST_IDENTITY_ONLY)
			d = pk_vm_data_new_identity(src->id, src->name, src->is_template, src->state,
			                            src->power_state);
		else
			d = pk_vm_data_copy(src);
		g_ptr_array_add(*out, d);
	}
	g_mutex_unlock(&fk.lock);
	return TRUE;
}

static gboolean fake_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                         GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	PRL_RESULT fail = fk.fail_next_get;
	fk.fail_next_get = 0;
	fake_vm *v = fail == 0 ? find(id, error) : NULL;
	if (fail != 0)
		g_set_error(error, PK_ERROR, fail, "injected get failure");
	if (v != NULL)
		*out = pk_vm_data_copy(v->data);
	g_mutex_unlock(&fk.lock);
	return v != NULL;
}

static gboolean wait_cancelled(GCancellable *cancel, GError **error)
{
	/* Block like a slow platform call until the job is cancelled. */
	while (!g_cancellable_is_cancelled(cancel))
		g_usleep(1000);
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled while blocked");
	return FALSE;
}

static gboolean fake_power(pk_conn *c, const char *id, pk_power_op op, guint flags,
                           char **task_ref, GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	gboolean block = fk.block;
	PRL_RESULT fail = fk.fail_next;
	fk.fail_next = 0;
	g_mutex_unlock(&fk.lock);
	if (block)
		return wait_cancelled(cancel, error);
	if (fail != 0) {
		/* Like a careless platform that echoes a credential back. */
		g_set_error(error, PK_ERROR, fail, "injected failure (password=%s)",
		            pk_conn_get_setting(c, "password") != NULL
		            ? pk_conn_get_setting(c, "password") : "none");
		return FALSE;
	}
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(id, error);
	gboolean ok = v != NULL;
	if (ok && op == PK_POWER_START && v->data->is_template) {
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_TO_START_VM_TEMPLATE, "template");
		ok = FALSE;
	}
	if (ok && op == PK_POWER_START && v->data->state == VMS_RUNNING) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_ALREADY_RUNNING, "VM '%s' is already running", id);
		ok = FALSE;
	}
	if (ok) {
		VIRTUAL_MACHINE_STATE st = VMS_RUNNING;
		const char *word = "running";
		switch (op) {
		case PK_POWER_STOP_GRACEFUL:
		case PK_POWER_STOP_HARD:
			st = VMS_STOPPED, word = "stopped";
			break;
		case PK_POWER_PAUSE:
			st = VMS_PAUSED, word = "paused";
			break;
		case PK_POWER_SUSPEND:
			st = VMS_SUSPENDED, word = "suspended";
			break;
		default:
			break;
		}
		v->data->state = st;
		g_free(v->data->power_state);
		v->data->power_state = g_strdup(word);
		g_ptr_array_set_size(v->data->ips, 0);
		if (st == VMS_RUNNING)
			g_ptr_array_add(v->data->ips, g_strdup("10.0.0.5"));
	}
	g_mutex_unlock(&fk.lock);
	if (ok)
		*task_ref = task_new(c, NULL);
	return ok;
}

static gboolean fake_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
                            GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(id, error);
	if (v != NULL) {
		g_hash_table_remove(fk.by_id, id);
		g_ptr_array_remove(fk.vms, v);
	}
	g_mutex_unlock(&fk.lock);
	if (v != NULL)
		*task_ref = task_new(c, NULL);
	return v != NULL;
}

static gboolean fake_commit(pk_conn *c, const char *id, const pk_vm_data *old,
                            const pk_vm_data *new_, guint flags, char **task_ref,
                            GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(id, error);
	gboolean ok = v != NULL;
	if (ok && g_strcmp0(old->digest, v->data->digest) != 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_CONFIG_WAS_CHANGED, "edited meanwhile");
		ok = FALSE;
	}
	if (ok && new_->is_template && v->data->state != VMS_STOPPED) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE, "running");
		ok = FALSE;
	}
	if (ok) {
		g_free(v->data->name);
		v->data->name = g_strdup(new_->name);
		g_free(v->data->description);
		v->data->description = g_strdup(new_->description);
		v->data->ram_mb = new_->ram_mb;
		v->data->cpus = new_->cpus;
		v->data->is_template = new_->is_template;
		g_free(v->data->digest);
		v->data->digest = g_strdup_printf("d%u", ++fk.digest);
	}
	g_mutex_unlock(&fk.lock);
	if (ok)
		*task_ref = task_new(c, NULL);
	return ok;
}

static gboolean fake_clone(pk_conn *c, const char *id, const char *new_name,
                           const char *snapshot, guint flags, char **new_id, char **task_ref,
                           GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(id, error);
	gboolean ok = v != NULL;
	if (ok && snapshot != NULL) {
		ok = FALSE;
		for (guint i = 0; i < v->snaps->len; i++)
			ok = ok || g_strcmp0(((pk_snapshot_data *)v->snaps->pdata[i])->name, snapshot) == 0;
		if (!ok)
			g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "no snapshot '%s'",
			            snapshot);
	}
	char *cid = NULL;
	if (ok) {
		cid = g_strdup_printf("clone-%u", ++fk.next_clone);
		fake_vm *n = add_vm(cid, new_name, (flags & PK_CLONE_TO_TEMPLATE) != 0);
		g_free(n->data->description);
		n->data->description = g_strdup((flags & PK_CLONE_LINKED) ? "linked" : "full");
	}
	g_mutex_unlock(&fk.lock);
	if (ok) {
		*new_id = g_strdup(cid);
		*task_ref = task_new(c, cid);
	}
	g_free(cid);
	return ok;
}

static gboolean fake_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out,
                                   GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(id, error);
	g_mutex_unlock(&fk.lock);
	if (v == NULL)
		return FALSE;
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	s->ram_total = 1024ull << 20;
	s->ram_used = 256ull << 20;
	s->ram_free = 768ull << 20;
	s->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint32 u[2] = { 10, 20 };
	g_array_append_vals(s->cpu_usage, u, 2);
	*out = s;
	return TRUE;
}

static const pk_vm_ops fake_vm_ops = {
	.list = fake_list,
	.get = fake_get,
	.power = fake_power,
	.remove = fake_remove,
	.commit = fake_commit,
	.clone = fake_clone,
	.statistics = fake_vm_statistics,
};

/* ---- snapshots ---- */

static gint snap_index(fake_vm *v, const char *name)
{
	for (guint i = 0; i < v->snaps->len; i++)
		if (g_strcmp0(((pk_snapshot_data *)v->snaps->pdata[i])->name, name) == 0)
			return (gint)i;
	return -1;
}

/* Remove one snapshot; its children move up to its parent. */
static void remove_one(fake_vm *v, const char *name)
{
	pk_snapshot_data *s = v->snaps->pdata[snap_index(v, name)];
	char *parent = g_strdup(s->parent);
	for (guint i = 0; i < v->snaps->len; i++) {
		pk_snapshot_data *k = v->snaps->pdata[i];
		if (g_strcmp0(k->parent, name) == 0) {
			g_free(k->parent);
			k->parent = g_strdup(parent);
		}
	}
	g_ptr_array_remove_index(v->snaps, (guint)snap_index(v, name));
	g_free(parent);
}

static gboolean fake_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out,
                               GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(vm_id, error);
	if (v != NULL) {
		*out = g_ptr_array_new_with_free_func((GDestroyNotify)pk_snapshot_data_free);
		for (guint i = 0; i < v->snaps->len; i++) {
			pk_snapshot_data *s = v->snaps->pdata[i], *copy = g_new0(pk_snapshot_data, 1);
			copy->name = g_strdup(s->name);
			copy->description = g_strdup(s->description);
			copy->parent = g_strdup(s->parent);
			copy->created = s->created;
			copy->current = s->current;
			g_ptr_array_add(*out, copy);
		}
	}
	g_mutex_unlock(&fk.lock);
	return v != NULL;
}

static gboolean fake_snap_create(pk_conn *c, const char *vm_id, const char *name,
                                 const char *description, guint flags, char **task_ref,
                                 GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(vm_id, error);
	gboolean ok = v != NULL;
	if (ok) {
		gint i = snap_index(v, name);
		if (i >= 0 && !(flags & PK_SNAP_REPLACE)) {
			g_set_error(error, PK_ERROR, PRL_ERR_ENTRY_ALREADY_EXISTS, "exists");
			ok = FALSE;
		} else {
			if (i >= 0)
				remove_one(v, name);
			char *parent = NULL;
			for (guint k = 0; k < v->snaps->len; k++)
				if (((pk_snapshot_data *)v->snaps->pdata[k])->current)
					parent = g_strdup(((pk_snapshot_data *)v->snaps->pdata[k])->name);
			add_snap(v, name, parent, g_get_real_time() / G_USEC_PER_SEC);
			pk_snapshot_data *s = v->snaps->pdata[v->snaps->len - 1];
			g_free(s->description);
			s->description = g_strdup(description);
			g_free(parent);
		}
	}
	g_mutex_unlock(&fk.lock);
	if (ok)
		*task_ref = task_new(c, NULL);
	return ok;
}

static void remove_with_children(fake_vm *v, const char *name)
{
	for (guint i = 0; i < v->snaps->len;) {
		pk_snapshot_data *s = v->snaps->pdata[i];
		if (g_strcmp0(s->parent, name) == 0) {
			char *child = g_strdup(s->name);
			remove_with_children(v, child);
			g_free(child);
			i = 0;
		} else {
			i++;
		}
	}
	gint i = snap_index(v, name);
	if (i >= 0)
		g_ptr_array_remove_index(v->snaps, (guint)i);
}

static gboolean fake_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                                 char **task_ref, GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(vm_id, error);
	gboolean ok = v != NULL;
	if (ok && snap_index(v, name) < 0) {
		if (!(flags & PK_SNAP_MISSING_OK)) {
			g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "no snapshot '%s'", name);
			ok = FALSE;
		}
	} else if (ok && (flags & PK_SNAP_WITH_CHILDREN)) {
		remove_with_children(v, name);
	} else if (ok) {
		remove_one(v, name);
	}
	g_mutex_unlock(&fk.lock);
	if (ok)
		*task_ref = task_new(c, NULL);
	return ok;
}

static gboolean fake_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                                 char **task_ref, GCancellable *cancel, GError **error)
{
	g_mutex_lock(&fk.lock);
	fake_vm *v = find(vm_id, error);
	gboolean ok = v != NULL;
	if (ok && snap_index(v, name) < 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "no snapshot '%s'", name);
		ok = FALSE;
	}
	if (ok)
		for (guint i = 0; i < v->snaps->len; i++) {
			pk_snapshot_data *s = v->snaps->pdata[i];
			s->current = g_strcmp0(s->name, name) == 0;
		}
	g_mutex_unlock(&fk.lock);
	if (ok)
		*task_ref = task_new(c, NULL);
	return ok;
}

static const pk_snap_ops fake_snap_ops = {
	.list = fake_snap_list,
	.create = fake_snap_create,
	.remove = fake_snap_remove,
	.revert = fake_snap_revert,
};

/* ---- host ---- */

static gboolean fake_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                               GError **error)
{
	pk_host_data *h = g_new0(pk_host_data, 1);
	h->hostname = g_strdup("fakehost");
	h->cpu_model = g_strdup("Fake CPU");
	h->cpu_count = 8;
	h->ram_mb = 32768;
	h->product_version = g_strdup("fake 1.0");
	*out = h;
	return TRUE;
}

static gboolean fake_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                     GError **error)
{
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	s->ram_total = 32768ull << 20;
	s->ram_used = 1024ull << 20;
	s->ram_free = s->ram_total - s->ram_used;
	s->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint32 i = 0; i < 8; i++)
		g_array_append_val(s->cpu_usage, i);
	*out = s;
	return TRUE;
}

static const pk_host_ops fake_host_ops = {
	.info = fake_host_info,
	.statistics = fake_host_statistics,
};

/* ---- connection ---- */

static pk_open_status fake_open(pk_conn *c, GUri *uri, GHashTable *settings,
                                GCancellable *cancel, GError **error)
{
	if (g_hash_table_contains(settings, "decline"))
		return PK_OPEN_DECLINED;
	if (g_hash_table_contains(settings, "fail_open")) {
		g_set_error_literal(error, PK_ERROR, PRL_ERR_AUTHENTICATION_FAILED, "bad credentials");
		return PK_OPEN_ERROR;
	}
	const char *dir = uri != NULL ? g_uri_get_path(uri) : g_hash_table_lookup(settings, "dir");
	if (dir == NULL || *dir == '\0' || strcmp(dir, "/") == 0)
		dir = g_get_tmp_dir();
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "cannot create %s: %s",
		            dir, g_strerror(errno));
		return PK_OPEN_ERROR;
	}
	fake_conn *fc = g_new0(fake_conn, 1);
	fc->dir = g_strdup(dir);
	pk_conn_set_private(c, fc);
	g_atomic_int_inc(&fk.open);
	return PK_OPEN_OK;
}

static void fake_close(pk_conn *c)
{
	fake_conn *fc = pk_conn_get_private(c);
	g_free(fc->dir);
	g_free(fc);
	g_atomic_int_add(&fk.open, -1);
}

static void fake_watch(pk_conn *c, GCancellable *cancel)
{
	while (!g_cancellable_is_cancelled(cancel)) {
		fake_emit *e = g_async_queue_timeout_pop(fk.emits, 5000);   /* µs */
		if (e == NULL)
			continue;
		pk_conn_emit_vm_state(c, e->vm_id, e->state);
		g_free(e->vm_id);
		g_free(e);
	}
}

static guint64 fake_features_for(GHashTable *settings)
{
	guint64 f = fake_driver.features;
	if (g_strcmp0(g_hash_table_lookup(settings, "no_suspend"), "true") == 0)
		f &= ~PRLK_FEAT_SUSPEND;
	return f;
}

static const char *const fake_schemes[] = { "fake", NULL };

const pk_driver fake_driver = {
	.name = "fake",
	.display_name = "prlkit test fake",
	.uri_schemes = fake_schemes,
	.features = PRLK_FEAT_SUSPEND | PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE |
	            PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_LINKED_CLONE | PRLK_FEAT_TEMPLATES |
	            PRLK_FEAT_EVENTS | PRLK_FEAT_TASK_IDS | PRLK_FEAT_EDIT | PRLK_FEAT_DELETE,
	.features_for = fake_features_for,
	.open = fake_open,
	.close = fake_close,
	.watch = fake_watch,
	.vm = &fake_vm_ops,
	.snap = &fake_snap_ops,
	.task = &fake_task_ops,
	.host = &fake_host_ops,
};

/* ---- "fakemin": only list and get; every other op is missing (NULL) ---- */

static const pk_vm_ops fake_min_vm_ops = {
	.list = fake_list,
	.get = fake_get,
};

static const char *const fake_min_schemes[] = { "fakemin", NULL };

const pk_driver fake_min_driver = {
	.name = "fakemin",
	.display_name = "prlkit minimal test fake",
	.uri_schemes = fake_min_schemes,
	.features = 0,
	.open = fake_open,
	.close = fake_close,
	.vm = &fake_min_vm_ops,
};

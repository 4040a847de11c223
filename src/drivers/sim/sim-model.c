/* The sim state in memory: a compact C form of state.json (sim-private.h), copy-on-write
 * drafts for writers, folding of finished work, and the conversion from and to JSON.
 *
 * Why not keep the jansson tree: at 10,000 VMs it took about 30 MB (a hash table per VM
 * and per snapshot, a value per member), where these structs take about 4 MB, and writing
 * them is ten times faster. The loader never holds more than one VM's tree: it scans the
 * document's outer object and its "vms" array itself and lets jansson decode (and check)
 * one element at a time. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sim-private.h"

/* ---- small helpers ---- */

void
sim_str_set(char **slot, const char *v)
{
	char *old = *slot;
	*slot = g_strdup(v);
	g_free(old);
}

/* An owned copy of a JSON string member's value, or NULL; empty is NULL when empty_null. */
static char *
member_dup(json_t *v, gboolean empty_null)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (!s || (empty_null && !*s))
		return NULL;
	return g_strdup(s);
}

static gint64
member_int(json_t *v)
{
	return json_is_integer(v) ? (gint64)json_integer_value(v) : 0;
}

static const char *
member_intern(json_t *v)
{
	return json_is_string(v) ? g_intern_string(json_string_value(v)) : NULL;
}

/* Keep an unknown member (a hand edit) so that it is written back unchanged. */
static void
extra_keep(json_t **extra, const char *key, json_t *value)
{
	if (!*extra)
		*extra = json_object();
	json_object_set(*extra, key, value);
}

/* ---- snapshots, VMs, tasks ---- */

sim_snap *
sim_snap_new(void)
{
	return g_new0(sim_snap, 1);
}

void
sim_snap_free(sim_snap *s)
{
	if (!s)
		return;
	g_free(s->name);
	g_free(s->desc);
	g_free(s->parent);
	g_free(s->vdesc);
	if (s->extra)
		json_decref(s->extra);
	g_free(s);
}

static sim_snap *
snap_copy(const sim_snap *s)
{
	sim_snap *c = g_new(sim_snap, 1);

	*c = *s;
	c->name = g_strdup(s->name);
	c->desc = g_strdup(s->desc);
	c->parent = g_strdup(s->parent);
	c->vdesc = g_strdup(s->vdesc);
	c->extra = s->extra ? json_deep_copy(s->extra) : NULL;
	return c;
}

sim_vm *
sim_vm_new(void)
{
	sim_vm *vm = g_new0(sim_vm, 1);

	vm->refcount = 1;
	vm->st = "stopped";
	return vm;
}

static sim_vm *
vm_ref(sim_vm *vm)
{
	g_atomic_int_inc(&vm->refcount);
	return vm;
}

void
sim_vm_unref(sim_vm *vm)
{
	if (!vm || !g_atomic_int_dec_and_test(&vm->refcount))
		return;
	g_free(vm->id);
	g_free(vm->name);
	g_free(vm->desc);
	g_free(vm->mac);
	g_free(vm->busy);
	g_free(vm->cur);
	g_free(vm->base_vm);
	g_free(vm->base_snap);
	if (vm->snaps)
		g_ptr_array_unref(vm->snaps);
	if (vm->extra)
		json_decref(vm->extra);
	g_free(vm);
}

static sim_vm *
vm_copy(const sim_vm *vm)
{
	sim_vm *c = g_new(sim_vm, 1);
	guint i;

	*c = *vm;
	c->refcount = 1;
	c->id = g_strdup(vm->id);
	c->name = g_strdup(vm->name);
	c->desc = g_strdup(vm->desc);
	c->mac = g_strdup(vm->mac);
	c->busy = g_strdup(vm->busy);
	c->cur = g_strdup(vm->cur);
	c->base_vm = g_strdup(vm->base_vm);
	c->base_snap = g_strdup(vm->base_snap);
	c->extra = vm->extra ? json_deep_copy(vm->extra) : NULL;
	c->snaps = NULL;
	if (vm->snaps) {
		c->snaps = g_ptr_array_new_full(vm->snaps->len, (GDestroyNotify)sim_snap_free);
		for (i = 0; i < vm->snaps->len; i++)
			g_ptr_array_add(c->snaps, snap_copy(g_ptr_array_index(vm->snaps, i)));
	}
	return c;
}

sim_snap *
sim_vm_find_snap(const sim_vm *vm, const char *name, guint *index)
{
	guint i;

	for (i = 0; name && vm->snaps && i < vm->snaps->len; i++) {
		sim_snap *s = g_ptr_array_index(vm->snaps, i);
		if (strcmp(s->name, name) == 0) {
			if (index)
				*index = i;
			return s;
		}
	}
	return NULL;
}

sim_task *
sim_task_new(void)
{
	sim_task *t = g_new0(sim_task, 1);

	t->refcount = 1;
	return t;
}

static sim_task *
task_ref(sim_task *t)
{
	g_atomic_int_inc(&t->refcount);
	return t;
}

void
sim_task_unref(sim_task *t)
{
	if (!t || !g_atomic_int_dec_and_test(&t->refcount))
		return;
	g_free(t->id);
	g_free(t->vm);
	g_free(t->src);
	g_free(t->msg);
	if (t->extra)
		json_decref(t->extra);
	g_free(t);
}

static sim_task *
task_copy(const sim_task *t)
{
	sim_task *c = g_new(sim_task, 1);

	*c = *t;
	c->refcount = 1;
	c->id = g_strdup(t->id);
	c->vm = g_strdup(t->vm);
	c->src = g_strdup(t->src);
	c->msg = g_strdup(t->msg);
	c->extra = t->extra ? json_deep_copy(t->extra) : NULL;
	return c;
}

/* ---- models and drafts ---- */

static GHashTable *
tasks_table_new(void)
{
	/* Keys are the tasks' own ids. */
	return g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                             (GDestroyNotify)sim_task_unref);
}

sim_model *
sim_model_new(void)
{
	sim_model *m = g_new0(sim_model, 1);

	m->refcount = 1;
	m->next_mac = 1;
	m->next_ip = 1;
	m->vms = g_ptr_array_new_with_free_func((GDestroyNotify)sim_vm_unref);
	m->tasks = tasks_table_new();
	return m;
}

sim_model *
sim_model_ref(sim_model *m)
{
	g_atomic_int_inc(&m->refcount);
	return m;
}

void
sim_model_unref(sim_model *m)
{
	if (!m || !g_atomic_int_dec_and_test(&m->refcount))
		return;
	g_free(m->index);
	g_hash_table_unref(m->tasks);
	g_ptr_array_unref(m->vms);
	if (m->extra)
		json_decref(m->extra);
	g_free(m->instance);
	g_free(m->seed);
	g_free(m);
}

sim_model *
sim_model_draft(sim_model *base)
{
	sim_model *d = g_new0(sim_model, 1);
	GHashTableIter it;
	gpointer key, value;
	guint i;

	d->refcount = 1;
	d->instance = g_strdup(base->instance);
	d->seed = g_strdup(base->seed);
	d->created = base->created;
	d->next_mac = base->next_mac;
	d->next_ip = base->next_ip;
	d->extra = base->extra ? json_deep_copy(base->extra) : NULL;
	d->vms = g_ptr_array_new_full(base->vms->len + 1, (GDestroyNotify)sim_vm_unref);
	for (i = 0; i < base->vms->len; i++)
		g_ptr_array_add(d->vms, vm_ref(g_ptr_array_index(base->vms, i)));
	d->tasks = tasks_table_new();
	g_hash_table_iter_init(&it, base->tasks);
	while (g_hash_table_iter_next(&it, &key, &value))
		g_hash_table_insert(d->tasks, key, task_ref(value));
	return d;
}

guint
sim_id_hash(const char *id)
{
	guint h = 2166136261u;  /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (guchar)*id) * 16777619u;
	return h;
}

/* A table of VMs by id with hashes kept in the VMs: building it after a write costs a
 * pass over the pointers, not a hash of every id (it is rebuilt on every write). */
void
sim_model_index(sim_model *m)
{
	guint i, slots = 16;

	if (m->index)
		return;
	while (slots < m->vms->len * 2)
		slots *= 2;
	m->index = g_new0(sim_vm *, slots);
	m->index_mask = slots - 1;
	m->running_count = 0;
	m->running_ram_mb = 0;
	for (i = 0; i < m->vms->len; i++) {
		sim_vm *vm = g_ptr_array_index(m->vms, i);
		guint k = vm->id_hash & m->index_mask;

		while (m->index[k])
			k = (k + 1) & m->index_mask;
		m->index[k] = vm;
		if (strcmp(vm->st, "running") == 0) {
			m->running_count++;
			m->running_ram_mb += (guint)vm->ram;
		}
	}
}

sim_vm *
sim_model_lookup(sim_model *m, const char *id)
{
	guint h, k;

	g_return_val_if_fail(m->index != NULL, NULL);
	if (!id)
		return NULL;
	h = sim_id_hash(id);
	for (k = h & m->index_mask; m->index[k]; k = (k + 1) & m->index_mask) {
		sim_vm *vm = m->index[k];
		if (vm->id_hash == h && strcmp(vm->id, id) == 0)
			return vm;
	}
	return NULL;
}

gint
sim_model_find(sim_model *d, const char *id)
{
	guint i, h;

	if (!id)
		return -1;
	h = sim_id_hash(id);
	for (i = 0; i < d->vms->len; i++) {
		const sim_vm *vm = g_ptr_array_index(d->vms, i);
		if (vm->id_hash == h && strcmp(vm->id, id) == 0)
			return (gint)i;
	}
	return -1;
}

sim_vm *
sim_model_vm_mut(sim_model *d, guint i)
{
	sim_vm *vm = g_ptr_array_index(d->vms, i);

	if (g_atomic_int_get(&vm->refcount) == 1)
		return vm;  /* already private to this draft */
	vm = vm_copy(vm);
	sim_vm_unref(g_ptr_array_index(d->vms, i));
	g_ptr_array_index(d->vms, i) = vm;
	return vm;
}

sim_vm *
sim_model_vm_mut_by_id(sim_model *d, const char *id, guint *index)
{
	gint i = sim_model_find(d, id);

	if (i < 0)
		return NULL;
	if (index)
		*index = (guint)i;
	return sim_model_vm_mut(d, (guint)i);
}

void
sim_model_add_vm(sim_model *d, sim_vm *vm)
{
	g_ptr_array_add(d->vms, vm);
}

void
sim_model_remove_vm(sim_model *d, guint i)
{
	g_ptr_array_remove_index(d->vms, i);
}

sim_task *
sim_model_task_mut(sim_model *d, const char *id)
{
	sim_task *t = id ? g_hash_table_lookup(d->tasks, id) : NULL;

	if (!t || g_atomic_int_get(&t->refcount) == 1)
		return t;
	t = task_copy(t);
	g_hash_table_replace(d->tasks, t->id, t);
	return t;
}

void
sim_model_add_task(sim_model *d, sim_task *t)
{
	g_hash_table_replace(d->tasks, t->id, t);
}

/* ---- folding finished work ---- */

static int
cmp_gint64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static void
fold_tasks(GHashTable *tasks, gint64 now)
{
	g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(gint64));
	gint64 cutoff = now - SIM_TASK_KEEP_MS;
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, tasks);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		gint64 t1 = ((sim_task *)value)->t1;
		if (t1 <= now && t1 < cutoff)
			g_hash_table_iter_remove(&it);
		else if (t1 <= now)
			g_array_append_val(ends, t1);
	}
	if (ends->len <= SIM_TASK_KEEP_MAX)
		return;
	/* Too many finished tasks: drop the oldest ones (ties may drop a few more). */
	g_array_sort(ends, cmp_gint64);
	cutoff = g_array_index(ends, gint64, ends->len - SIM_TASK_KEEP_MAX);
	g_hash_table_iter_init(&it, tasks);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		gint64 t1 = ((sim_task *)value)->t1;
		if (t1 <= now && t1 < cutoff)
			g_hash_table_iter_remove(&it);
	}
}

static gboolean
vm_needs_fold(const sim_vm *vm, gint64 now)
{
	return (vm->via && vm->until <= now) || (vm->busy && vm->busy_until <= now) ||
	       (vm->src_until && vm->src_until <= now) ||
	       (vm->has_ip_at && vm->ip_at <= now && strcmp(vm->st, "running") != 0);
}

void
sim_model_fold(sim_model *d, gint64 now)
{
	guint i = 0;

	while (i < d->vms->len) {
		sim_vm *vm = g_ptr_array_index(d->vms, i);

		if (vm->gone_at && vm->gone_at <= now) {
			sim_model_remove_vm(d, i);
			continue;
		}
		if (vm_needs_fold(vm, now)) {
			vm = sim_model_vm_mut(d, i);
			if (vm->via && vm->until <= now) {
				vm->via = NULL;
				vm->until = 0;
			}
			if (vm->busy && vm->busy_until <= now) {
				g_clear_pointer(&vm->busy, g_free);
				vm->busy_until = 0;
				vm->busy_op = NULL;
			}
			if (vm->src_until && vm->src_until <= now)
				vm->src_until = 0;
			if (vm->has_ip_at && vm->ip_at <= now && strcmp(vm->st, "running") != 0) {
				vm->has_ip_at = FALSE;
				vm->ip_at = 0;
			}
		}
		i++;
	}
	fold_tasks(d->tasks, now);
}

/* ---- structural checks (the same for a loaded file and a jansson document) ---- */

static gboolean
invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
invalid(GError **error, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION, msg);
	return FALSE;
}

static gboolean
check_header(json_t *format, json_t *version, GError **error)
{
	if (!json_is_string(format) || strcmp(json_string_value(format), SIM_FORMAT) != 0)
		return invalid(error, "sim: the state file is not a prlkit-sim document");
	if (member_int(version) != SIM_FORMAT_VERSION)
		return invalid(error, "sim: unsupported state file version %" G_GINT64_FORMAT,
		               member_int(version));
	return TRUE;
}

/* VM #i of the document; ids: the ids seen so far (borrowed from their documents). */
static gboolean
check_vm(json_t *vm, gsize i, GHashTable *ids, GError **error)
{
	const char *id = sim_jstr(vm, "id");
	const char *via = sim_jstr(vm, "via");
	json_t *snaps = json_object_get(vm, "snaps");
	json_t *snap;
	gsize j;

	if (!json_is_object(vm) || !id || !*id || !sim_jstr(vm, "name") ||
	    !sim_word_intern(sim_jstr(vm, "st")) || (via && !sim_word_intern(via)) ||
	    (snaps && !json_is_array(snaps)))
		return invalid(error, "sim: VM #%zu of the state file is malformed", i);
	if (ids && !g_hash_table_add(ids, (gpointer)id))
		return invalid(error, "sim: VM id '%s' appears twice in the state file", id);
	json_array_foreach(snaps, j, snap) {
		if (!json_is_object(snap) || !sim_jstr(snap, "name"))
			return invalid(error, "sim: a snapshot of VM '%s' is malformed", id);
	}
	return TRUE;
}

static gboolean
check_task(const char *key, json_t *task, GError **error)
{
	if (!json_is_object(task) || sim_op_from_name(sim_jstr(task, "op")) == SIM_OP_COUNT_)
		return invalid(error, "sim: task '%s' of the state file is malformed", key);
	return TRUE;
}

gboolean
sim_doc_validate(json_t *doc, GError **error)
{
	json_t *vms, *tasks, *vm, *task;
	g_autoptr(GHashTable) ids = NULL;
	const char *key;
	gsize i;

	if (!json_is_object(doc))
		return invalid(error, "sim: the state file is not a prlkit-sim document");
	if (!check_header(json_object_get(doc, "format"), json_object_get(doc, "version"), error))
		return FALSE;
	vms = json_object_get(doc, "vms");
	tasks = json_object_get(doc, "tasks");
	if (!json_is_array(vms) || (tasks && !json_is_object(tasks)))
		return invalid(error, "sim: the state file lacks its 'vms' array or has a bad 'tasks'");
	ids = g_hash_table_new(g_str_hash, g_str_equal);
	json_array_foreach(vms, i, vm) {
		if (!check_vm(vm, i, ids, error))
			return FALSE;
	}
	json_object_foreach(tasks, key, task) {
		if (!check_task(key, task, error))
			return FALSE;
	}
	return TRUE;
}

/* ---- from JSON ---- */

static sim_snap *
snap_from_json(json_t *o)
{
	sim_snap *s = sim_snap_new();
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") == 0)
			s->name = member_dup(v, FALSE);
		else if (strcmp(key, "desc") == 0)
			s->desc = member_dup(v, TRUE);
		else if (strcmp(key, "parent") == 0)
			s->parent = member_dup(v, FALSE);
		else if (strcmp(key, "vdesc") == 0)
			s->vdesc = member_dup(v, TRUE);
		else if (strcmp(key, "st") == 0 && sim_word_intern(json_string_value(v)))
			s->st = sim_word_intern(json_string_value(v));
		else if (strcmp(key, "created") == 0)
			s->created = member_int(v);
		else if (strcmp(key, "ram") == 0)
			s->ram = member_int(v);
		else if (strcmp(key, "cpus") == 0)
			s->cpus = member_int(v);
		else
			extra_keep(&s->extra, key, v);
	}
	return s;
}

/* A VM object that passed check_vm. */
static sim_vm *
vm_from_json(json_t *o)
{
	sim_vm *vm = sim_vm_new();
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		switch (key[0]) {
		case 'b':
			if (strcmp(key, "busy") == 0 && json_is_string(v)) {
				vm->busy = member_dup(v, FALSE);
				continue;
			} else if (strcmp(key, "busy_until") == 0) {
				vm->busy_until = member_int(v);
				continue;
			} else if (strcmp(key, "busy_op") == 0) {
				vm->busy_op = member_intern(v);
				continue;
			} else if (strcmp(key, "base") == 0 && json_is_object(v)) {
				vm->base_vm = member_dup(json_object_get(v, "vm"), FALSE);
				vm->base_snap = member_dup(json_object_get(v, "snapshot"), FALSE);
				continue;
			}
			break;
		case 'c':
			if (strcmp(key, "cpus") == 0) {
				vm->cpus = member_int(v);
				continue;
			} else if (strcmp(key, "created") == 0) {
				vm->created = member_int(v);
				continue;
			} else if (strcmp(key, "cur") == 0) {
				vm->cur = member_dup(v, FALSE);
				continue;
			}
			break;
		case 'd':
			if (strcmp(key, "desc") == 0) {
				vm->desc = member_dup(v, TRUE);
				continue;
			} else if (strcmp(key, "disk_mb") == 0) {
				vm->disk_mb = member_int(v);
				continue;
			}
			break;
		case 'g':
			if (strcmp(key, "gen") == 0) {
				vm->gen = member_int(v);
				continue;
			} else if (strcmp(key, "gone_at") == 0) {
				vm->gone_at = member_int(v);
				continue;
			}
			break;
		case 'i':
			if (strcmp(key, "id") == 0) {
				vm->id = member_dup(v, FALSE);
				continue;
			} else if (strcmp(key, "ipn") == 0) {
				vm->has_ipn = TRUE;
				vm->ipn = member_int(v);
				continue;
			} else if (strcmp(key, "ip_at") == 0) {
				vm->has_ip_at = TRUE;
				vm->ip_at = member_int(v);
				continue;
			}
			break;
		case 'm':
			if (strcmp(key, "mac") == 0) {
				vm->mac = member_dup(v, FALSE);
				continue;
			}
			break;
		case 'n':
			if (strcmp(key, "name") == 0) {
				vm->name = member_dup(v, FALSE);
				continue;
			} else if (strcmp(key, "net") == 0) {
				vm->net = member_intern(v);
				continue;
			}
			break;
		case 'o':
			if (strcmp(key, "os") == 0) {
				vm->os = member_intern(v);
				continue;
			} else if (strcmp(key, "ost") == 0) {
				vm->ost = member_int(v);
				continue;
			} else if (strcmp(key, "osv") == 0) {
				vm->osv = member_int(v);
				continue;
			}
			break;
		case 'r':
			if (strcmp(key, "ram") == 0) {
				vm->ram = member_int(v);
				continue;
			}
			break;
		case 's':
			if (strcmp(key, "st") == 0) {
				vm->st = sim_word_intern(json_string_value(v));
				continue;
			} else if (strcmp(key, "src_until") == 0) {
				vm->src_until = member_int(v);
				continue;
			} else if (strcmp(key, "snaps") == 0) {
				gsize i;
				json_t *snap;
				if (json_array_size(v) > 0)
					vm->snaps = g_ptr_array_new_full(json_array_size(v),
					                                 (GDestroyNotify)sim_snap_free);
				json_array_foreach(v, i, snap)
					g_ptr_array_add(vm->snaps, snap_from_json(snap));
				continue;
			}
			break;
		case 't':
			if (strcmp(key, "tpl") == 0) {
				vm->tpl = json_is_true(v);
				continue;
			}
			break;
		case 'u':
			if (strcmp(key, "until") == 0) {
				vm->until = member_int(v);
				continue;
			}
			break;
		case 'v':
			if (strcmp(key, "via") == 0) {
				vm->via = sim_word_intern(json_string_value(v));
				continue;
			}
			break;
		}
		extra_keep(&vm->extra, key, v);
	}
	vm->id_hash = vm->id ? sim_id_hash(vm->id) : 0;
	if (!vm->via)
		vm->until = 0;
	if (!vm->busy) {
		vm->busy_until = 0;
		vm->busy_op = NULL;
	}
	return vm;
}

static sim_task *
task_from_json(const char *id, json_t *o)
{
	sim_task *t = sim_task_new();
	const char *key;
	json_t *v;

	t->id = g_strdup(id);
	json_object_foreach(o, key, v) {
		if (strcmp(key, "op") == 0)
			t->op = sim_op_from_name(json_string_value(v));
		else if (strcmp(key, "vm") == 0)
			t->vm = member_dup(v, FALSE);
		else if (strcmp(key, "src") == 0)
			t->src = member_dup(v, FALSE);
		else if (strcmp(key, "msg") == 0)
			t->msg = member_dup(v, FALSE);
		else if (strcmp(key, "from") == 0 && sim_word_intern(json_string_value(v)))
			t->from = sim_word_intern(json_string_value(v));
		else if (strcmp(key, "ip_from") == 0) {
			t->has_ip_from = TRUE;
			t->ip_from = member_int(v);
		} else if (strcmp(key, "t0") == 0)
			t->t0 = member_int(v);
		else if (strcmp(key, "t1") == 0)
			t->t1 = member_int(v);
		else if (strcmp(key, "code") == 0)
			t->code = (PRL_RESULT)member_int(v);
		else
			extra_keep(&t->extra, key, v);
	}
	return t;
}

/* A cursor over the document text. The scanner only finds where values begin and end;
 * jansson decodes (and so checks) every value. */
typedef struct {
	const char *start;
	const char *p;
	const char *end;
	const char *path;
	GError **error;
	gboolean failed;        /* a syntax error was reported */
} scanner;

static gboolean
syntax_error(scanner *s, const char *at, int extra_lines, const char *what)
{
	int line = 1 + extra_lines;
	const char *q;

	for (q = s->start; q < at && q < s->end; q++)
		if (*q == '\n')
			line++;
	if (!s->failed)
		invalid(s->error, "sim: the state file '%s' is not valid JSON (line %d: %s)", s->path,
		        line, what);
	s->failed = TRUE;
	return FALSE;
}

static void
skip_ws(scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* At '"': past the closing quote. */
static gboolean
skip_string(scanner *s)
{
	const char *q = s->p + 1;

	while (q < s->end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	if (q >= s->end)
		return syntax_error(s, s->p, 0, "unterminated string");
	s->p = q + 1;
	return TRUE;
}

/* Past one value of any kind (its extent only; it is decoded later). */
static gboolean
skip_value(scanner *s)
{
	int depth = 0;

	if (s->p >= s->end)
		return syntax_error(s, s->p, 0, "unexpected end of input");
	do {
		if (s->p >= s->end)
			return syntax_error(s, s->p, 0, "unexpected end of input");
		switch (*s->p) {
		case '"':
			if (!skip_string(s))
				return FALSE;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth < 0)
				return syntax_error(s, s->p, 0, "unexpected bracket");
			break;
		default:
			if (depth == 0) {
				/* A scalar: up to the next delimiter. */
				while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
					s->p++;
				return TRUE;
			}
		}
		s->p++;
	} while (depth > 0);
	return TRUE;
}

/* Decode text[from, s->p) with jansson; NULL after reporting a syntax error. */
static json_t *
decode(scanner *s, const char *from)
{
	json_error_t jerr;
	json_t *v = json_loadb(from, s->p - from, JSON_DECODE_ANY, &jerr);

	if (!v)
		syntax_error(s, from, jerr.line - 1, jerr.text);
	return v;
}

/* Expect c (after white space). */
static gboolean
expect(scanner *s, char c, const char *what)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != c)
		return syntax_error(s, s->p, 0, what);
	s->p++;
	return TRUE;
}

/* After the opening bracket of an array or object: FALSE at its end (consumed), TRUE when
 * another element follows (its separator consumed). */
static gboolean
next_element(scanner *s, gboolean first, char close, gboolean *more)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == close && first) {
		s->p++;
		*more = FALSE;
		return TRUE;
	}
	if (!first) {
		if (s->p < s->end && *s->p == close) {
			s->p++;
			*more = FALSE;
			return TRUE;
		}
		if (!expect(s, ',', close == ']' ? "',' or ']' expected" : "',' or '}' expected"))
			return FALSE;
		skip_ws(s);
	}
	*more = TRUE;
	return TRUE;
}

/* A member's key (decoded) and the ':' after it. */
static char *
read_key(scanner *s)
{
	const char *from = s->p;
	json_t *k;
	char *key;

	if (s->p >= s->end || *s->p != '"') {
		syntax_error(s, s->p, 0, "string or '}' expected");
		return NULL;
	}
	if (!skip_string(s) || !(k = decode(s, from)))
		return NULL;
	key = g_strdup(json_string_value(k));
	json_decref(k);
	if (!expect(s, ':', "':' expected")) {
		g_free(key);
		return NULL;
	}
	skip_ws(s);
	return key;
}

/* What the loader found; checks run in the order the messages have always come in. */
typedef struct {
	sim_model *m;
	json_t *format, *version;
	gboolean vms_seen, vms_bad, tasks_bad;
	GError *vm_error;       /* the first malformed VM */
	GError *task_error;     /* the first malformed task */
	GHashTable *ids;        /* ids seen (borrowed from m's VMs) */
	gsize n_vm;             /* VMs seen, the malformed ones included */
} load_state;

static gboolean
load_vms(scanner *s, load_state *ls)
{
	gboolean first = TRUE, more;

	/* "vms" twice: the last one counts, as with any JSON object. */
	g_hash_table_remove_all(ls->ids);
	g_ptr_array_set_size(ls->m->vms, 0);
	ls->n_vm = 0;
	s->p++;  /* '[' */
	for (;;) {
		const char *from;
		json_t *v;

		if (!next_element(s, first, ']', &more))
			return FALSE;
		if (!more)
			return TRUE;
		first = FALSE;
		from = s->p;
		if (!skip_value(s) || !(v = decode(s, from)))
			return FALSE;
		if (!ls->vm_error && check_vm(v, ls->n_vm, NULL, &ls->vm_error)) {
			sim_vm *vm = vm_from_json(v);
			if (!g_hash_table_add(ls->ids, vm->id)) {
				invalid(&ls->vm_error, "sim: VM id '%s' appears twice in the state file",
				        vm->id);
				sim_vm_unref(vm);
			} else {
				sim_model_add_vm(ls->m, vm);
			}
		}
		json_decref(v);
		ls->n_vm++;
	}
}

static gboolean
load_tasks(scanner *s, load_state *ls)
{
	gboolean first = TRUE, more;

	g_hash_table_remove_all(ls->m->tasks);
	s->p++;  /* '{' */
	for (;;) {
		g_autofree char *key = NULL;
		const char *from;
		json_t *v;

		if (!next_element(s, first, '}', &more))
			return FALSE;
		if (!more)
			return TRUE;
		first = FALSE;
		if (!(key = read_key(s)))
			return FALSE;
		from = s->p;
		if (!skip_value(s) || !(v = decode(s, from)))
			return FALSE;
		if (!ls->task_error && check_task(key, v, &ls->task_error))
			sim_model_add_task(ls->m, task_from_json(key, v));
		json_decref(v);
	}
}

/* One top-level member other than an array "vms" or an object "tasks". */
static void
load_member(load_state *ls, const char *key, json_t *v)
{
	sim_model *m = ls->m;

	if (strcmp(key, "vms") == 0) {
		ls->vms_seen = ls->vms_bad = TRUE;
		g_hash_table_remove_all(ls->ids);
		g_ptr_array_set_size(m->vms, 0);
	} else if (strcmp(key, "tasks") == 0) {
		ls->tasks_bad = TRUE;
		g_hash_table_remove_all(m->tasks);
	} else if (strcmp(key, "format") == 0) {
		json_decref(ls->format);
		ls->format = json_incref(v);
	} else if (strcmp(key, "version") == 0) {
		json_decref(ls->version);
		ls->version = json_incref(v);
	} else if (strcmp(key, "instance") == 0 && json_is_string(v)) {
		sim_str_set(&m->instance, json_string_value(v));
	} else if (strcmp(key, "seed") == 0 && json_is_string(v)) {
		sim_str_set(&m->seed, json_string_value(v));
	} else if (strcmp(key, "created") == 0) {
		m->created = member_int(v);
	} else if (strcmp(key, "next_mac") == 0) {
		m->next_mac = member_int(v);
	} else if (strcmp(key, "next_ip") == 0) {
		m->next_ip = member_int(v);
	} else {
		extra_keep(&m->extra, key, v);
	}
}

static gboolean
load_document(scanner *s, load_state *ls)
{
	gboolean first = TRUE, more;

	skip_ws(s);
	if (s->p < s->end && *s->p == '[') {
		/* Valid JSON, but not ours. */
		const char *from = s->p;
		json_t *v;
		if (!skip_value(s) || !(v = decode(s, from)))
			return FALSE;
		json_decref(v);
		ls->format = json_null();
		return TRUE;
	}
	if (!expect(s, '{', "'[' or '{' expected"))
		return FALSE;
	for (;;) {
		g_autofree char *key = NULL;
		const char *from;
		json_t *v;

		if (!next_element(s, first, '}', &more))
			return FALSE;
		if (!more)
			return TRUE;
		first = FALSE;
		if (!(key = read_key(s)))
			return FALSE;
		if (strcmp(key, "vms") == 0 && s->p < s->end && *s->p == '[') {
			ls->vms_seen = TRUE;
			ls->vms_bad = FALSE;
			g_clear_error(&ls->vm_error);
			if (!load_vms(s, ls))
				return FALSE;
			continue;
		}
		if (strcmp(key, "tasks") == 0 && s->p < s->end && *s->p == '{') {
			ls->tasks_bad = FALSE;
			g_clear_error(&ls->task_error);
			if (!load_tasks(s, ls))
				return FALSE;
			continue;
		}
		from = s->p;
		if (!skip_value(s) || !(v = decode(s, from)))
			return FALSE;
		load_member(ls, key, v);
		json_decref(v);
	}
}

sim_model *
sim_model_from_json(const char *text, gsize len, const char *path, GError **error)
{
	scanner s = { text, text, text + len, path, error, FALSE };
	load_state ls = { 0 };
	gboolean ok;

	ls.m = sim_model_new();
	ls.ids = g_hash_table_new(g_str_hash, g_str_equal);
	ok = load_document(&s, &ls);
	if (ok) {
		skip_ws(&s);
		if (s.p < s.end)
			ok = syntax_error(&s, s.p, 0, "end of file expected");
	}
	ok = ok && check_header(ls.format, ls.version, error);
	if (ok && (!ls.vms_seen || ls.vms_bad || ls.tasks_bad))
		ok = invalid(error, "sim: the state file lacks its 'vms' array or has a bad 'tasks'");
	if (ok && ls.vm_error) {
		g_propagate_error(error, g_steal_pointer(&ls.vm_error));
		ok = FALSE;
	}
	if (ok && ls.task_error) {
		g_propagate_error(error, g_steal_pointer(&ls.task_error));
		ok = FALSE;
	}
	g_clear_error(&ls.vm_error);
	g_clear_error(&ls.task_error);
	g_hash_table_unref(ls.ids);
	if (ls.format)
		json_decref(ls.format);
	if (ls.version)
		json_decref(ls.version);
	if (!ok)
		g_clear_pointer(&ls.m, sim_model_unref);
	return ls.m;
}

/* ---- to JSON ----
 * A writer straight into a buffer that is flushed to the file as it fills: a write of
 * 10,000 VMs (2.5 MB) costs a few milliseconds and never holds the whole text. */

#define OUT_CHUNK (64 * 1024)

typedef struct {
	char *buf;
	gsize len;
	gsize cap;
	int fd;
	gboolean failed;        /* a write failed; errno tells why */
} out_buf;

static void
out_flush(out_buf *o)
{
	const char *p = o->buf;
	gsize len = o->len;

	while (len > 0 && !o->failed) {
		ssize_t n = write(o->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			o->failed = TRUE;
			break;
		}
		p += n;
		len -= (gsize)n;
	}
	o->len = 0;
}

/* Room for n more bytes. */
static inline char *
out_room(out_buf *o, gsize n)
{
	if (o->len + n > o->cap) {
		out_flush(o);
		if (n > o->cap) {
			o->cap = n;
			o->buf = g_realloc(o->buf, n);
		}
	}
	return o->buf + o->len;
}

static inline void
out_put(out_buf *o, const char *p, gsize n)
{
	memcpy(out_room(o, n), p, n);
	o->len += n;
}

#define PUT_LIT(o, lit) out_put((o), (lit), sizeof(lit) - 1)
/* ,"key": before a member; key is a literal. */
#define PUT_KEY(o, key) PUT_LIT((o), ",\"" key "\":")

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Two digits a step: every VM has a dozen numbers, timestamps with 13 digits. */
static void
put_int(out_buf *o, gint64 v)
{
	char tmp[24];
	char *end = tmp + sizeof(tmp), *p = end;
	guint64 u = v < 0 ? -(guint64)v : (guint64)v;

	while (u >= 100) {
		guint r = (guint)(u % 100);
		u /= 100;
		p -= 2;
		p[0] = digit_pairs[2 * r];
		p[1] = digit_pairs[2 * r + 1];
	}
	if (u >= 10) {
		p -= 2;
		p[0] = digit_pairs[2 * u];
		p[1] = digit_pairs[2 * u + 1];
	} else {
		*--p = (char)('0' + u);
	}
	if (v < 0)
		*--p = '-';
	out_put(o, p, end - p);
}

/* Bytes that need an escape in a JSON string. */
static const guint8 needs_escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,  /* '\\' */
};

/* Length of the prefix of v (n bytes) that needs no escape: eight bytes a step (any byte
 * below 0x20, '"' or '\\' in the word sends it to the byte loop). */
static gsize
plain_run(const char *v, gsize n)
{
	const guint64 ones = G_GUINT64_CONSTANT(0x0101010101010101);
	const guint64 high = G_GUINT64_CONSTANT(0x8080808080808080);
	gsize i = 0;

	for (; i + 8 <= n; i += 8) {
		guint64 x, q, b;
		memcpy(&x, v + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if (((x - ones * 0x20) | (q - ones) | (b - ones)) & ~x & high)
			break;
	}
	while (i < n && !needs_escape[(guchar)v[i]])
		i++;
	return i;
}

/* A JSON string; the text is valid UTF-8 (checked where it came in). */
static void
put_str(out_buf *o, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	gsize n = strlen(v), i = plain_run(v, n);

	if (i == n) {
		/* Nothing to escape (nearly always): one copy. */
		char *p = out_room(o, n + 2);
		p[0] = '"';
		memcpy(p + 1, v, n);
		p[n + 1] = '"';
		o->len += n + 2;
		return;
	}
	out_put(o, "\"", 1);
	out_put(o, v, i);
	while (i < n) {
		gsize run = plain_run(v + i, n - i);
		guchar c;

		out_put(o, v + i, run);
		i += run;
		if (i == n)
			break;
		c = (guchar)v[i++];
		switch (c) {
		case '"': PUT_LIT(o, "\\\""); break;
		case '\\': PUT_LIT(o, "\\\\"); break;
		case '\n': PUT_LIT(o, "\\n"); break;
		case '\t': PUT_LIT(o, "\\t"); break;
		case '\r': PUT_LIT(o, "\\r"); break;
		case '\b': PUT_LIT(o, "\\b"); break;
		case '\f': PUT_LIT(o, "\\f"); break;
		default: {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			out_put(o, esc, 6);
		}
		}
	}
	out_put(o, "\"", 1);
}

static void
put_extra(out_buf *o, json_t *extra)
{
	const char *key;
	json_t *v;

	json_object_foreach(extra, key, v) {
		g_autofree char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text)
			continue;
		out_put(o, ",", 1);
		put_str(o, key);
		out_put(o, ":", 1);
		out_put(o, text, strlen(text));
	}
}

static void
put_snap(out_buf *o, const sim_snap *sn)
{
	PUT_LIT(o, "{\"name\":");
	put_str(o, sn->name);
	PUT_KEY(o, "desc");
	put_str(o, sn->desc ? sn->desc : "");
	if (sn->parent) {
		PUT_KEY(o, "parent");
		put_str(o, sn->parent);
	}
	PUT_KEY(o, "created");
	put_int(o, sn->created);
	if (sn->st) {
		PUT_KEY(o, "st");
		put_str(o, sn->st);
	}
	PUT_KEY(o, "ram");
	put_int(o, sn->ram);
	PUT_KEY(o, "cpus");
	put_int(o, sn->cpus);
	PUT_KEY(o, "vdesc");
	put_str(o, sn->vdesc ? sn->vdesc : "");
	if (sn->extra)
		put_extra(o, sn->extra);
	out_put(o, "}", 1);
}

static void
put_vm(out_buf *o, const sim_vm *vm)
{
	PUT_LIT(o, "{\"id\":");
	put_str(o, vm->id);
	PUT_KEY(o, "name");
	put_str(o, vm->name);
	PUT_KEY(o, "desc");
	put_str(o, vm->desc ? vm->desc : "");
	if (vm->os) {
		PUT_KEY(o, "os");
		put_str(o, vm->os);
	}
	PUT_KEY(o, "ost");
	put_int(o, vm->ost);
	PUT_KEY(o, "osv");
	put_int(o, vm->osv);
	PUT_KEY(o, "ram");
	put_int(o, vm->ram);
	PUT_KEY(o, "cpus");
	put_int(o, vm->cpus);
	PUT_KEY(o, "disk_mb");
	put_int(o, vm->disk_mb);
	if (vm->mac) {
		PUT_KEY(o, "mac");
		put_str(o, vm->mac);
	}
	if (vm->net) {
		PUT_KEY(o, "net");
		put_str(o, vm->net);
	}
	if (vm->has_ipn) {
		PUT_KEY(o, "ipn");
		put_int(o, vm->ipn);
	}
	PUT_KEY(o, "st");
	put_str(o, vm->st);
	PUT_KEY(o, "gen");
	put_int(o, vm->gen);
	PUT_KEY(o, "created");
	put_int(o, vm->created);
	if (vm->tpl)
		PUT_LIT(o, ",\"tpl\":true");
	if (vm->has_ip_at) {
		PUT_KEY(o, "ip_at");
		put_int(o, vm->ip_at);
	}
	if (vm->via) {
		PUT_KEY(o, "via");
		put_str(o, vm->via);
		PUT_KEY(o, "until");
		put_int(o, vm->until);
	}
	if (vm->busy) {
		PUT_KEY(o, "busy");
		put_str(o, vm->busy);
		PUT_KEY(o, "busy_until");
		put_int(o, vm->busy_until);
		if (vm->busy_op) {
			PUT_KEY(o, "busy_op");
			put_str(o, vm->busy_op);
		}
	}
	if (vm->src_until) {
		PUT_KEY(o, "src_until");
		put_int(o, vm->src_until);
	}
	if (vm->gone_at) {
		PUT_KEY(o, "gone_at");
		put_int(o, vm->gone_at);
	}
	if (vm->base_vm || vm->base_snap) {
		PUT_LIT(o, ",\"base\":{");
		if (vm->base_vm) {
			PUT_LIT(o, "\"vm\":");
			put_str(o, vm->base_vm);
		}
		if (vm->base_snap) {
			if (vm->base_vm)
				out_put(o, ",", 1);
			PUT_LIT(o, "\"snapshot\":");
			put_str(o, vm->base_snap);
		}
		out_put(o, "}", 1);
	}
	if (vm->cur) {
		PUT_KEY(o, "cur");
		put_str(o, vm->cur);
	}
	if (vm->snaps && vm->snaps->len > 0) {
		guint i;
		PUT_LIT(o, ",\"snaps\":[");
		for (i = 0; i < vm->snaps->len; i++) {
			if (i)
				out_put(o, ",", 1);
			put_snap(o, g_ptr_array_index(vm->snaps, i));
		}
		out_put(o, "]", 1);
	}
	if (vm->extra)
		put_extra(o, vm->extra);
	out_put(o, "}", 1);
}

static void
put_task(out_buf *o, const sim_task *t)
{
	put_str(o, t->id);
	PUT_LIT(o, ":{\"op\":");
	put_str(o, sim_op_name(t->op));
	if (t->vm) {
		PUT_KEY(o, "vm");
		put_str(o, t->vm);
	}
	if (t->src) {
		PUT_KEY(o, "src");
		put_str(o, t->src);
	}
	PUT_KEY(o, "t0");
	put_int(o, t->t0);
	PUT_KEY(o, "t1");
	put_int(o, t->t1);
	PUT_KEY(o, "code");
	put_int(o, (gint64)t->code);
	if (t->msg) {
		PUT_KEY(o, "msg");
		put_str(o, t->msg);
	}
	if (t->from) {
		PUT_KEY(o, "from");
		put_str(o, t->from);
	}
	if (t->has_ip_from) {
		PUT_KEY(o, "ip_from");
		put_int(o, t->ip_from);
	}
	if (t->extra)
		put_extra(o, t->extra);
	out_put(o, "}", 1);
}

gboolean
sim_model_write(const sim_model *m, int fd)
{
	out_buf o = { g_malloc(OUT_CHUNK), 0, OUT_CHUNK, fd, FALSE };
	GHashTableIter it;
	gpointer value;
	gboolean first = TRUE;
	int err;
	guint i;

	PUT_LIT(&o, "{\"format\":\"" SIM_FORMAT "\",\"version\":");
	put_int(&o, SIM_FORMAT_VERSION);
	if (m->instance) {
		PUT_KEY(&o, "instance");
		put_str(&o, m->instance);
	}
	if (m->seed) {
		PUT_KEY(&o, "seed");
		put_str(&o, m->seed);
	}
	PUT_KEY(&o, "created");
	put_int(&o, m->created);
	PUT_KEY(&o, "next_mac");
	put_int(&o, m->next_mac);
	PUT_KEY(&o, "next_ip");
	put_int(&o, m->next_ip);
	if (m->extra)
		put_extra(&o, m->extra);
	/* One VM (and task) per line: still one JSON document, and readable with line tools. */
	PUT_LIT(&o, ",\"vms\":[");
	for (i = 0; i < m->vms->len && !o.failed; i++) {
		out_put(&o, i ? ",\n" : "\n", i ? 2 : 1);
		put_vm(&o, g_ptr_array_index(m->vms, i));
	}
	PUT_LIT(&o, "],\n\"tasks\":{");
	g_hash_table_iter_init(&it, m->tasks);
	while (!o.failed && g_hash_table_iter_next(&it, NULL, &value)) {
		out_put(&o, first ? "\n" : ",\n", first ? 1 : 2);
		first = FALSE;
		put_task(&o, value);
	}
	PUT_LIT(&o, "}}\n");
	out_flush(&o);
	err = errno;
	g_free(o.buf);
	errno = err;
	return !o.failed;
}

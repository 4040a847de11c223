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
#include <stddef.h>
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

/* ---- members: where the document's members live in the structs ----
 * One table per struct lists its known members in the order they are written: the reader,
 * the writer, copies and frees all follow it, so a member is added in one place. A value
 * of the wrong type reads as absent (NULL, 0) unless the member says KEEP_BAD. */

typedef enum {
	MEMBER_STR,     /* char *, owned */
	MEMBER_TEXT,    /* char *, owned, NULL = "": "" reads as NULL, NULL is written as "" */
	MEMBER_INTERN,  /* const char *, g_intern_string() */
	MEMBER_WORD,    /* const char *, a static sim word (sim_word_intern), NULL if unknown */
	MEMBER_OP,      /* sim_op, by name */
	MEMBER_INT,     /* gint64 */
	MEMBER_U32,     /* guint32 */
	MEMBER_I32,     /* gint32 */
	MEMBER_FLAG,    /* guint8: a JSON true; with IF_SET, written (as true) only when set */
	MEMBER_CUSTOM,  /* read and written by the member's own functions; never the first */
} member_type;

enum {
	IF_SET = 1 << 0,        /* written only when set (not NULL, not 0) */
	KEEP_BAD = 1 << 1,      /* strings, words: a value of the wrong type (or an unknown
	                         * word) is kept as an unknown member */
	HAS = 1 << 2,           /* the field "with" is the member's presence flag: set when the
	                         * member is read */
};

typedef struct out_buf out_buf;
typedef struct member member;

struct member {
	const char *key;
	char lit[16];           /* ,"key": (padded: put_key copies a fixed size) */
	gsize lit_len;
	member_type type;
	guint flags;
	gsize offset, size;     /* the field in its struct */
	gsize with, with_size;  /* a field that must be set as well for the member to be
	                         * written (a pointer or a flag), or size 0 */
	gboolean (*read)(void *obj, json_t *v);        /* FALSE keeps v as unknown */
	void (*put)(out_buf *o, const member *m, const void *obj);
};

#define FIELD(st, f) offsetof(st, f), sizeof(((st *)0)->f)
/* The length of ,"key": (the key is at most 11 bytes: a longer one does not compile). */
#define LIT_LEN(key) (sizeof(key) + 3 + 0 * sizeof(char[sizeof(key) <= 12 ? 1 : -1]))
#define MEMBER_WITH(st, key, type, f, flags, with) \
	{ key, ",\"" key "\":", LIT_LEN(key), MEMBER_##type, flags, FIELD(st, f), with, NULL, NULL }
#define NO_FIELD 0, 0
#define MEMBER(st, key, type, f, flags) MEMBER_WITH(st, key, type, f, flags, NO_FIELD)
#define CUSTOM(key, read, put) \
	{ key, ",\"" key "\":", LIT_LEN(key), MEMBER_CUSTOM, 0, 0, 0, 0, 0, read, put }

typedef struct {
	const member *members;
	gsize n;
	gsize extra;            /* the struct's json_t *extra: members this version does not know */
} schema;

#define SCHEMA(st, members) { members, G_N_ELEMENTS(members), offsetof(st, extra) }

static gboolean vm_base_read(void *obj, json_t *v);
static void vm_base_put(out_buf *o, const member *m, const void *obj);
static gboolean vm_snaps_read(void *obj, json_t *v);
static void vm_snaps_put(out_buf *o, const member *m, const void *obj);

static const member snap_members[] = {
	MEMBER(sim_snap, "name", STR, name, 0),
	MEMBER(sim_snap, "desc", TEXT, desc, 0),
	MEMBER(sim_snap, "parent", STR, parent, IF_SET),
	MEMBER(sim_snap, "created", INT, created, 0),
	MEMBER(sim_snap, "st", WORD, st, IF_SET | KEEP_BAD),
	MEMBER(sim_snap, "ram", U32, ram, 0),
	MEMBER(sim_snap, "cpus", U32, cpus, 0),
	MEMBER(sim_snap, "vdesc", TEXT, vdesc, 0),
};

/* After reading, vm_from_json drops until without via, and busy_* without busy. */
static const member vm_members[] = {
	MEMBER(sim_vm, "id", STR, id, 0),
	MEMBER(sim_vm, "name", STR, name, 0),
	MEMBER(sim_vm, "desc", TEXT, desc, 0),
	MEMBER(sim_vm, "os", INTERN, os, IF_SET),
	MEMBER(sim_vm, "ost", U32, ost, 0),
	MEMBER(sim_vm, "osv", U32, osv, 0),
	MEMBER(sim_vm, "ram", U32, ram, 0),
	MEMBER(sim_vm, "cpus", U32, cpus, 0),
	MEMBER(sim_vm, "disk_mb", INT, disk_mb, 0),
	MEMBER(sim_vm, "mac", STR, mac, IF_SET),
	MEMBER(sim_vm, "net", INTERN, net, IF_SET),
	MEMBER_WITH(sim_vm, "ipn", INT, ipn, HAS, FIELD(sim_vm, has_ipn)),
	MEMBER(sim_vm, "st", WORD, st, 0),
	MEMBER(sim_vm, "gen", INT, gen, 0),
	MEMBER(sim_vm, "created", INT, created, 0),
	MEMBER(sim_vm, "tpl", FLAG, tpl, IF_SET),
	MEMBER_WITH(sim_vm, "ip_at", INT, ip_at, HAS, FIELD(sim_vm, has_ip_at)),
	MEMBER(sim_vm, "via", WORD, via, IF_SET),
	MEMBER_WITH(sim_vm, "until", INT, until, 0, FIELD(sim_vm, via)),
	MEMBER(sim_vm, "busy", STR, busy, IF_SET | KEEP_BAD),
	MEMBER_WITH(sim_vm, "busy_until", INT, busy_until, 0, FIELD(sim_vm, busy)),
	MEMBER_WITH(sim_vm, "busy_op", INTERN, busy_op, IF_SET, FIELD(sim_vm, busy)),
	MEMBER(sim_vm, "src_until", INT, src_until, IF_SET),
	MEMBER(sim_vm, "gone_at", INT, gone_at, IF_SET),
	CUSTOM("base", vm_base_read, vm_base_put),      /* base_vm, base_snap */
	MEMBER(sim_vm, "cur", STR, cur, IF_SET),
	CUSTOM("snaps", vm_snaps_read, vm_snaps_put),
};

/* The task's id is its key in "tasks". */
static const member task_members[] = {
	MEMBER(sim_task, "op", OP, op, 0),
	MEMBER(sim_task, "vm", STR, vm, IF_SET),
	MEMBER(sim_task, "src", STR, src, IF_SET),
	MEMBER(sim_task, "t0", INT, t0, 0),
	MEMBER(sim_task, "t1", INT, t1, 0),
	MEMBER(sim_task, "code", I32, code, 0),
	MEMBER(sim_task, "msg", STR, msg, IF_SET),
	MEMBER(sim_task, "from", WORD, from, IF_SET | KEEP_BAD),
	MEMBER_WITH(sim_task, "ip_from", INT, ip_from, HAS, FIELD(sim_task, has_ip_from)),
};

/* After "format" and "version"; "vms" and "tasks" come last. */
static const member model_members[] = {
	MEMBER(sim_model, "instance", STR, instance, IF_SET | KEEP_BAD),
	MEMBER(sim_model, "seed", STR, seed, IF_SET | KEEP_BAD),
	MEMBER(sim_model, "created", INT, created, 0),
	MEMBER(sim_model, "next_mac", INT, next_mac, 0),
	MEMBER(sim_model, "next_ip", INT, next_ip, 0),
};

static const schema snap_schema = SCHEMA(sim_snap, snap_members);
static const schema vm_schema = SCHEMA(sim_vm, vm_members);
static const schema task_schema = SCHEMA(sim_task, task_members);
static const schema model_schema = SCHEMA(sim_model, model_members);

G_STATIC_ASSERT(sizeof(PRL_RESULT) == sizeof(gint32));

/* The field at offset off of a struct. */
#define FIELD_AT(obj, off) ((char *)(obj) + (off))
#define CONST_FIELD_AT(obj, off) ((const char *)(obj) + (off))
#define EXTRA(sc, obj) (*(json_t **)FIELD_AT(obj, (sc)->extra))

static gboolean
owns_string(const member *m)
{
	return m->type == MEMBER_STR || m->type == MEMBER_TEXT;
}

/* After a copy of its struct: obj's own copies of its strings and unknown members.
 * Custom members are the caller's. */
static void
members_own(const schema *sc, void *obj)
{
	gsize i;

	for (i = 0; i < sc->n; i++) {
		if (owns_string(&sc->members[i])) {
			char **field = (char **)FIELD_AT(obj, sc->members[i].offset);
			*field = g_strdup(*field);
		}
	}
	if (EXTRA(sc, obj))
		EXTRA(sc, obj) = json_deep_copy(EXTRA(sc, obj));
}

/* obj's members (not custom ones) and unknown members, copied from src. */
static void
members_copy(const schema *sc, void *obj, const void *src)
{
	gsize i;

	for (i = 0; i < sc->n; i++) {
		const member *m = &sc->members[i];

		if (m->type != MEMBER_CUSTOM)
			memcpy(FIELD_AT(obj, m->offset), CONST_FIELD_AT(src, m->offset), m->size);
	}
	EXTRA(sc, obj) = *(json_t *const *)CONST_FIELD_AT(src, sc->extra);
	members_own(sc, obj);
}

/* Free obj's strings and unknown members (not obj). Custom members are the caller's. */
static void
members_free(const schema *sc, void *obj)
{
	gsize i;

	for (i = 0; i < sc->n; i++)
		if (owns_string(&sc->members[i]))
			g_free(*(char **)FIELD_AT(obj, sc->members[i].offset));
	if (EXTRA(sc, obj))
		json_decref(EXTRA(sc, obj));
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
	members_free(&snap_schema, s);
	g_free(s);
}

static sim_snap *
snap_copy(const sim_snap *s)
{
	sim_snap *c = g_new(sim_snap, 1);

	*c = *s;
	members_own(&snap_schema, c);
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
	members_free(&vm_schema, vm);
	g_free(vm->base_vm);
	g_free(vm->base_snap);
	if (vm->snaps)
		g_ptr_array_unref(vm->snaps);
	g_free(vm);
}

static sim_vm *
vm_copy(const sim_vm *vm)
{
	sim_vm *c = g_new(sim_vm, 1);
	guint i;

	*c = *vm;
	c->refcount = 1;
	members_own(&vm_schema, c);
	c->base_vm = g_strdup(vm->base_vm);
	c->base_snap = g_strdup(vm->base_snap);
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
	members_free(&task_schema, t);
	g_free(t->id);
	g_free(t);
}

static sim_task *
task_copy(const sim_task *t)
{
	sim_task *c = g_new(sim_task, 1);

	*c = *t;
	c->refcount = 1;
	members_own(&task_schema, c);
	c->id = g_strdup(t->id);
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
	members_free(&model_schema, m);
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
	members_copy(&model_schema, d, base);
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

/* A presence flag: a guint8 or a gboolean. */
static void
flag_set(void *flag, gsize size)
{
	if (size == sizeof(guint8))
		*(guint8 *)flag = TRUE;
	else
		*(gboolean *)flag = TRUE;
}

/* v into m's field of obj; FALSE if v is to be kept as an unknown member instead. */
static gboolean
member_read(const member *m, void *obj, json_t *v)
{
	char *field = FIELD_AT(obj, m->offset);
	const char *word;

	switch (m->type) {
	case MEMBER_STR:
	case MEMBER_TEXT:
		if ((m->flags & KEEP_BAD) && !json_is_string(v))
			return FALSE;
		g_free(*(char **)field);  /* a repeated top-level member: the last counts */
		*(char **)field = member_dup(v, m->type == MEMBER_TEXT);
		break;
	case MEMBER_INTERN:
		*(const char **)field = member_intern(v);
		break;
	case MEMBER_WORD:
		word = sim_word_intern(json_string_value(v));
		if (!word && (m->flags & KEEP_BAD))
			return FALSE;
		*(const char **)field = word;
		break;
	case MEMBER_OP:
		*(sim_op *)field = sim_op_from_name(json_string_value(v));
		break;
	case MEMBER_INT:
		*(gint64 *)field = member_int(v);
		break;
	case MEMBER_U32:
		*(guint32 *)field = (guint32)member_int(v);
		break;
	case MEMBER_I32:
		*(gint32 *)field = (gint32)member_int(v);
		break;
	case MEMBER_FLAG:
		*(guint8 *)field = json_is_true(v);
		break;
	case MEMBER_CUSTOM:
		return m->read(obj, v);
	}
	if (m->flags & HAS)
		flag_set(FIELD_AT(obj, m->with), m->with_size);
	return TRUE;
}

/* Member key = v of obj: a known one into its field, any other kept as it is. *next is
 * where to look first: documents list members in the writer's order, so the next key is
 * nearly always the next member (one comparison a member where a file has 10,000 VMs). */
static void
read_member(const schema *sc, void *obj, const char *key, json_t *v, gsize *next)
{
	gsize i, k;

	for (i = 0; i < sc->n; i++) {
		k = (*next + i) % sc->n;
		if (strcmp(key, sc->members[k].key) == 0) {
			*next = k + 1;
			if (member_read(&sc->members[k], obj, v))
				return;
			break;
		}
	}
	extra_keep(&EXTRA(sc, obj), key, v);
}

static void
read_object(const schema *sc, void *obj, json_t *o)
{
	const char *key;
	json_t *v;
	gsize next = 0;

	json_object_foreach(o, key, v)
		read_member(sc, obj, key, v, &next);
}

static sim_snap *
snap_from_json(json_t *o)
{
	sim_snap *s = sim_snap_new();

	read_object(&snap_schema, s, o);
	return s;
}

static gboolean
vm_base_read(void *obj, json_t *v)
{
	sim_vm *vm = obj;

	if (!json_is_object(v))
		return FALSE;
	vm->base_vm = member_dup(json_object_get(v, "vm"), FALSE);
	vm->base_snap = member_dup(json_object_get(v, "snapshot"), FALSE);
	return TRUE;
}

/* check_vm saw an array. */
static gboolean
vm_snaps_read(void *obj, json_t *v)
{
	sim_vm *vm = obj;
	json_t *snap;
	gsize i;

	if (json_array_size(v) > 0)
		vm->snaps = g_ptr_array_new_full(json_array_size(v), (GDestroyNotify)sim_snap_free);
	json_array_foreach(v, i, snap)
		g_ptr_array_add(vm->snaps, snap_from_json(snap));
	return TRUE;
}

/* A VM object that passed check_vm. */
static sim_vm *
vm_from_json(json_t *o)
{
	sim_vm *vm = sim_vm_new();

	read_object(&vm_schema, vm, o);
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

	t->id = g_strdup(id);
	read_object(&task_schema, t, o);
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
/* The value at s->p, decoded; NULL after reporting a syntax error. */
static json_t *
read_value(scanner *s)
{
	const char *from = s->p;

	return skip_value(s) ? decode(s, from) : NULL;
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
	gsize next;             /* read_member's guess for the next top-level member */
} load_state;

/* Reads one element of an array (key NULL) or object, its value at s->p. */
typedef gboolean (*element_fn)(scanner *s, const char *key, load_state *ls);

/* Every element of the array or object that opens at s->p, up to its end. */
static gboolean
load_elements(scanner *s, char close, element_fn load, load_state *ls)
{
	gboolean first = TRUE, more;

	s->p++;  /* '[' or '{' */
	for (;;) {
		g_autofree char *key = NULL;

		if (!next_element(s, first, close, &more))
			return FALSE;
		if (!more)
			return TRUE;
		first = FALSE;
		if (close == '}' && !(key = read_key(s)))
			return FALSE;
		if (!load(s, key, ls))
			return FALSE;
	}
}

static gboolean
load_vm(scanner *s, const char *key, load_state *ls)
{
	json_t *v = read_value(s);

	if (!v)
		return FALSE;
	if (!ls->vm_error && check_vm(v, ls->n_vm, NULL, &ls->vm_error)) {
		sim_vm *vm = vm_from_json(v);
		if (!g_hash_table_add(ls->ids, vm->id)) {
			invalid(&ls->vm_error, "sim: VM id '%s' appears twice in the state file", vm->id);
			sim_vm_unref(vm);
		} else {
			sim_model_add_vm(ls->m, vm);
		}
	}
	json_decref(v);
	ls->n_vm++;
	return TRUE;
}

static gboolean
load_task(scanner *s, const char *key, load_state *ls)
{
	json_t *v = read_value(s);

	if (!v)
		return FALSE;
	if (!ls->task_error && check_task(key, v, &ls->task_error))
		sim_model_add_task(ls->m, task_from_json(key, v));
	json_decref(v);
	return TRUE;
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
	} else {
		read_member(&model_schema, m, key, v, &ls->next);
	}
}

static gboolean
load_top(scanner *s, const char *key, load_state *ls)
{
	json_t *v;

	/* "vms" or "tasks" twice: the last one counts, as with any JSON object. */
	if (strcmp(key, "vms") == 0 && s->p < s->end && *s->p == '[') {
		ls->vms_seen = TRUE;
		ls->vms_bad = FALSE;
		g_clear_error(&ls->vm_error);
		g_hash_table_remove_all(ls->ids);
		g_ptr_array_set_size(ls->m->vms, 0);
		ls->n_vm = 0;
		return load_elements(s, ']', load_vm, ls);
	}
	if (strcmp(key, "tasks") == 0 && s->p < s->end && *s->p == '{') {
		ls->tasks_bad = FALSE;
		g_clear_error(&ls->task_error);
		g_hash_table_remove_all(ls->m->tasks);
		return load_elements(s, '}', load_task, ls);
	}
	if (!(v = read_value(s)))
		return FALSE;
	load_member(ls, key, v);
	json_decref(v);
	return TRUE;
}

static gboolean
load_document(scanner *s, load_state *ls)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == '[') {
		/* Valid JSON, but not ours. */
		json_t *v = read_value(s);
		if (!v)
			return FALSE;
		json_decref(v);
		ls->format = json_null();
		return TRUE;
	}
	if (s->p >= s->end || *s->p != '{')
		return syntax_error(s, s->p, 0, "'[' or '{' expected");
	return load_elements(s, '}', load_top, ls);
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

struct out_buf {
	char *buf;
	gsize len;
	gsize cap;
	int fd;
	gboolean failed;        /* a write failed; errno tells why */
};

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

/* A pointer, number or flag of size bytes is set: not NULL, not 0. */
static inline gboolean
field_is_set(const char *field, gsize size)
{
	switch (size) {
	case 1:
		return *(const guint8 *)field != 0;
	case 4:
		return *(const guint32 *)field != 0;
	default:
		g_assert(size == 8);
		return *(const guint64 *)field != 0;
	}
}

/* ,"key": or, for the first member, "key": -- copied with a constant size: a few moves,
 * where a copy of the key's length is a call (that made writes a third slower). The bytes
 * past the key are written over next. */
static inline void
put_key(out_buf *o, const member *m, gboolean first)
{
	gsize skip = first ? 1 : 0;

	memcpy(out_room(o, sizeof(m->lit)), m->lit + skip, sizeof(m->lit) - 1);
	o->len += m->lit_len - skip;
}

static inline void
put_value(out_buf *o, const member *m, const char *field)
{
	const char *s;

	switch (m->type) {
	case MEMBER_STR:
	case MEMBER_INTERN:
	case MEMBER_WORD:
		put_str(o, *(const char *const *)field);
		break;
	case MEMBER_TEXT:
		s = *(const char *const *)field;
		put_str(o, s ? s : "");
		break;
	case MEMBER_OP:
		put_str(o, sim_op_name(*(const sim_op *)field));
		break;
	case MEMBER_INT:
		put_int(o, *(const gint64 *)field);
		break;
	case MEMBER_U32:
		put_int(o, *(const guint32 *)field);
		break;
	case MEMBER_I32:
		put_int(o, *(const gint32 *)field);
		break;
	case MEMBER_FLAG:
		PUT_LIT(o, "true");
		break;
	case MEMBER_CUSTOM:
		g_assert_not_reached();
	}
}

/* obj's members, then its unknown ones; each after a comma but for the first when first. */
static void
put_members(out_buf *o, const schema *sc, const void *obj, gboolean first)
{
	json_t *extra = *(json_t *const *)CONST_FIELD_AT(obj, sc->extra);
	gsize i;

	for (i = 0; i < sc->n; i++) {
		const member *m = &sc->members[i];
		const char *field = CONST_FIELD_AT(obj, m->offset);

		if (m->type == MEMBER_CUSTOM) {
			m->put(o, m, obj);
			continue;
		}
		if ((m->flags & IF_SET) && !field_is_set(field, m->size))
			continue;
		if (m->with_size && !field_is_set(CONST_FIELD_AT(obj, m->with), m->with_size))
			continue;
		put_key(o, m, first);
		first = FALSE;
		put_value(o, m, field);
	}
	if (extra)
		put_extra(o, extra);
}

static void
put_object(out_buf *o, const schema *sc, const void *obj)
{
	out_put(o, "{", 1);
	put_members(o, sc, obj, TRUE);
	out_put(o, "}", 1);
}

static void
vm_base_put(out_buf *o, const member *m, const void *obj)
{
	const sim_vm *vm = obj;

	if (!vm->base_vm && !vm->base_snap)
		return;
	out_put(o, m->lit, m->lit_len);
	out_put(o, "{", 1);
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

static void
vm_snaps_put(out_buf *o, const member *m, const void *obj)
{
	const sim_vm *vm = obj;
	guint i;

	if (!vm->snaps || vm->snaps->len == 0)
		return;
	out_put(o, m->lit, m->lit_len);
	out_put(o, "[", 1);
	for (i = 0; i < vm->snaps->len; i++) {
		if (i)
			out_put(o, ",", 1);
		put_object(o, &snap_schema, g_ptr_array_index(vm->snaps, i));
	}
	out_put(o, "]", 1);
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
	put_members(&o, &model_schema, m, FALSE);
	/* One VM (and task) per line: still one JSON document, and readable with line tools. */
	PUT_LIT(&o, ",\"vms\":[");
	for (i = 0; i < m->vms->len && !o.failed; i++) {
		out_put(&o, i ? ",\n" : "\n", i ? 2 : 1);
		put_object(&o, &vm_schema, g_ptr_array_index(m->vms, i));
	}
	PUT_LIT(&o, "],\n\"tasks\":{");
	g_hash_table_iter_init(&it, m->tasks);
	while (!o.failed && g_hash_table_iter_next(&it, NULL, &value)) {
		const sim_task *t = value;

		out_put(&o, first ? "\n" : ",\n", first ? 1 : 2);
		first = FALSE;
		put_str(&o, t->id);
		out_put(&o, ":", 1);
		put_object(&o, &task_schema, t);
	}
	PUT_LIT(&o, "}}\n");
	out_flush(&o);
	err = errno;
	g_free(o.buf);
	errno = err;
	return !o.failed;
}

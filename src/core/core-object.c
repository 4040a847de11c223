/* Objects and the handle table.
 *
 * Handle values are ids from a 64-bit counter that starts at 1 and is never reset, so an id
 * is never reused and a stale handle can always be told apart from a live one. The table is
 * a weak map id → object split into shards (by the low bits of the id) so that threads
 * creating, resolving and freeing handles rarely meet on one mutex; every operation is O(1).
 *
 * Resurrection is impossible: pk_handle_get takes its reference with pk_object_try_ref
 * (0 stays 0) while holding the shard lock, and the last pk_object_unref removes the id
 * under that same lock before the memory is freed. So an object found in the table is never
 * freed while the lookup reads it. */
#include "config.h"

#include "core-object.h"
#include "core-error.h"

#define PK_SHARD_BITS 4
#define PK_SHARDS (1u << PK_SHARD_BITS)

/* Counters per handle type: every PHT_* but PHT_ERROR is 0x10000000 + a small suffix.
 * Slot 0 counts any other value (none exists today). */
#define PK_TYPE_BASE 0x10000000u
#define PK_TYPE_SLOTS 64u

typedef struct {
	GMutex lock;
	GHashTable *map;  /* lock: id (as gpointer) → pk_object*; created on first use */
} pk_shard;

static pk_shard shards[PK_SHARDS];       /* zero-initialized GMutex is valid */
static guint64 next_id = 1;              /* atomic */
static gint live_total;                  /* atomic: objects in the table */
static gint live_by_type[PK_TYPE_SLOTS]; /* atomic */

G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(PRL_HANDLE));

static inline pk_shard *shard_of(guint64 id)
{
	return &shards[id & (PK_SHARDS - 1)];
}

static inline gpointer id_key(guint64 id)
{
	return GSIZE_TO_POINTER((gsize)id);
}

static inline guint type_slot(PRL_HANDLE_TYPE type)
{
	guint suffix = (guint)type - PK_TYPE_BASE;
	return suffix < PK_TYPE_SLOTS ? suffix : 0;
}

static guint64 id_allocate(void)
{
	guint64 id;
#if GLIB_SIZEOF_VOID_P >= 8
	id = (guint64)__atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
#else
	/* A handle is pointer-sized: on 32-bit hosts skip ids that do not fit (after 2^32 handles
	 * the counter wraps; a still-live id is skipped by the table insert below). */
	do {
		id = (guint64)__atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	} while ((guint32)id == 0);
	id = (guint32)id;
#endif
	return id;
}

gpointer pk_object_new(const pk_class *klass)
{
	g_return_val_if_fail(klass != NULL && klass->size >= sizeof(pk_object), NULL);

	pk_object *obj = g_malloc0(klass->size);
	obj->magic = PK_OBJECT_MAGIC;
	obj->refcount = 1;
	obj->klass = klass;

	for (;;) {
		guint64 id = id_allocate();
		pk_shard *sh = shard_of(id);
		g_mutex_lock(&sh->lock);
		if (G_UNLIKELY(sh->map == NULL))
			sh->map = g_hash_table_new(g_direct_hash, g_direct_equal);
		if (G_LIKELY(!g_hash_table_contains(sh->map, id_key(id)))) {
			obj->id = id;
			g_hash_table_insert(sh->map, id_key(id), obj);
			g_mutex_unlock(&sh->lock);
			break;
		}
		g_mutex_unlock(&sh->lock);
	}
	g_atomic_int_inc(&live_total);
	g_atomic_int_inc(&live_by_type[type_slot(klass->type)]);
	return obj;
}

/* Drops id → obj from the table if it still maps there. */
static gboolean table_remove_locked(pk_shard *sh, pk_object *obj)
{
	if (sh->map == NULL || g_hash_table_lookup(sh->map, id_key(obj->id)) != obj)
		return FALSE;
	return g_hash_table_remove(sh->map, id_key(obj->id));
}

/* The last reference is gone and no lookup can find obj any more: free it, no lock held. */
static void object_finalize(pk_object *obj, gboolean was_in_table)
{
	if (was_in_table) {
		g_atomic_int_add(&live_total, -1);
		g_atomic_int_add(&live_by_type[type_slot(obj->klass->type)], -1);
	}
	if (obj->klass->dispose != NULL)
		obj->klass->dispose(obj);
	obj->magic = 0;
	g_free(obj);
}

gpointer pk_object_ref(gpointer p)
{
	pk_object *obj = p;
	g_return_val_if_fail(obj != NULL && obj->magic == PK_OBJECT_MAGIC, NULL);
	int old = g_atomic_int_add(&obj->refcount, 1);
	g_return_val_if_fail(old > 0, obj);
	return obj;
}

gpointer pk_object_try_ref(gpointer p)
{
	pk_object *obj = p;
	if (obj == NULL)
		return NULL;
	int n = g_atomic_int_get(&obj->refcount);
	while (n > 0) {
		/* On failure n receives the current value and the loop retries. */
		if (__atomic_compare_exchange_n(&obj->refcount, &n, n + 1, TRUE, __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			return obj;
	}
	return NULL;
}

void pk_object_unref(gpointer p)
{
	pk_object *obj = p;
	g_return_if_fail(obj != NULL && obj->magic == PK_OBJECT_MAGIC);
	g_return_if_fail(g_atomic_int_get(&obj->refcount) > 0);

	if (!g_atomic_int_dec_and_test(&obj->refcount))
		return;

	pk_shard *sh = shard_of(obj->id);
	g_mutex_lock(&sh->lock);
	gboolean removed = table_remove_locked(sh, obj);
	g_mutex_unlock(&sh->lock);
	object_finalize(obj, removed);
}

PRL_RESULT pk_handle_free(PRL_HANDLE h)
{
	if (h == PRL_INVALID_HANDLE)
		return PRL_ERR_INVALID_ARG;

	guint64 id = (guint64)GPOINTER_TO_SIZE(h);
	pk_shard *sh = shard_of(id);
	g_mutex_lock(&sh->lock);
	pk_object *obj = sh->map != NULL ? g_hash_table_lookup(sh->map, id_key(id)) : NULL;
	if (obj == NULL || obj->magic != PK_OBJECT_MAGIC) {
		g_mutex_unlock(&sh->lock);
		return PRL_ERR_INVALID_HANDLE;
	}
	int n = g_atomic_int_get(&obj->refcount);
	do {
		if (n <= 0) {
			/* Its last reference is being dropped by another thread right now. */
			g_mutex_unlock(&sh->lock);
			return PRL_ERR_INVALID_HANDLE;
		}
	} while (!__atomic_compare_exchange_n(&obj->refcount, &n, n - 1, TRUE, __ATOMIC_ACQ_REL,
	                                      __ATOMIC_ACQUIRE));
	gboolean last = n == 1;
	gboolean removed = last && table_remove_locked(sh, obj);
	g_mutex_unlock(&sh->lock);
	if (last)
		object_finalize(obj, removed);
	return PRL_ERR_SUCCESS;
}

PRL_HANDLE_TYPE pk_object_type(gconstpointer p)
{
	const pk_object *obj = p;
	g_return_val_if_fail(obj != NULL, PHT_ERROR);
	return obj->klass->type;
}

char *pk_object_to_string(gpointer p)
{
	pk_object *obj = p;
	g_return_val_if_fail(obj != NULL, NULL);
	return obj->klass->to_string != NULL ? obj->klass->to_string(obj) : NULL;
}

PRL_HANDLE pk_object_handle(gconstpointer p)
{
	const pk_object *obj = p;
	if (obj == NULL)
		return PRL_INVALID_HANDLE;
	return (PRL_HANDLE)GSIZE_TO_POINTER((gsize)obj->id);
}

PRL_HANDLE pk_object_give(gpointer obj)
{
	return pk_object_handle(obj);
}

PRL_HANDLE pk_object_give_ref(gpointer obj)
{
	if (obj == NULL)
		return PRL_INVALID_HANDLE;
	return pk_object_handle(pk_object_ref(obj));
}

PRL_RESULT pk_handle_get(PRL_HANDLE h, PRL_HANDLE_TYPE type, gpointer *out)
{
	if (h == PRL_INVALID_HANDLE || out == NULL)
		return PRL_ERR_INVALID_ARG;

	guint64 id = (guint64)GPOINTER_TO_SIZE(h);
	pk_shard *sh = shard_of(id);
	PRL_RESULT r;

	g_mutex_lock(&sh->lock);
	pk_object *obj = sh->map != NULL ? g_hash_table_lookup(sh->map, id_key(id)) : NULL;
	if (obj == NULL || obj->magic != PK_OBJECT_MAGIC)
		r = PRL_ERR_INVALID_HANDLE;
	else if (type != PHT_ERROR && obj->klass->type != type)
		r = PRL_ERR_INVALID_ARG;
	else if (pk_object_try_ref(obj) == NULL)
		r = PRL_ERR_INVALID_HANDLE;   /* its last reference is being dropped right now */
	else {
		*out = obj;
		r = PRL_ERR_SUCCESS;
	}
	g_mutex_unlock(&sh->lock);
	return r;
}

guint pk_handle_count(PRL_HANDLE_TYPE type)
{
	int n;
	if (type == PHT_ERROR)
		n = g_atomic_int_get(&live_total);
	else if (type_slot(type) == 0)
		n = 0;
	else
		n = g_atomic_int_get(&live_by_type[type_slot(type)]);
	return n > 0 ? (guint)n : 0;
}

/* The sim driver's internals, shared by the files of src/drivers/sim only.
 *
 * Model (doc/drivers/sim.md): one JSON document per state directory holds every VM, its
 * snapshots and the recent tasks. Work that takes time is stored as timestamps (a VM's
 * transitional phase and when it ends, when its guest IP shows up, when a task finishes),
 * and what a VM looks like *now* is computed from the clock at read time. So no process
 * keeps background threads, and every process sharing the directory sees the same
 * progression.
 *
 * Writers: exclusive flock on <dir>/lock, read-modify-write, atomic rename of a temp file.
 * Readers: lock-free; a per-process cache keyed by the file's identity (dev, inode, size,
 * mtime) keeps the parsed document and a prebuilt read-only view. */
#ifndef PRLKIT_SIM_PRIVATE_H
#define PRLKIT_SIM_PRIVATE_H

#include <jansson.h>
#include <sys/types.h>
#include "core/driver.h"

G_BEGIN_DECLS

#define SIM_FORMAT "prlkit-sim"
#define SIM_FORMAT_VERSION 1
#define SIM_STATE_FILE "state.json"
#define SIM_LOCK_FILE "lock"
#define SIM_TASK_PREFIX "sim-task-"
/* Finished tasks stay resolvable this long (wall clock), and at most this many. */
#define SIM_TASK_KEEP_MS (24 * 3600 * 1000LL)
#define SIM_TASK_KEEP_MAX 4096
#define SIM_SEED_MAX_EXTRA 100000

/* ---- operations (failure injection names, task ops, durations) ---- */

typedef enum {
	SIM_OP_START,
	SIM_OP_STOP,            /* graceful */
	SIM_OP_KILL,            /* hard stop; "stop" rules match it too */
	SIM_OP_RESET,
	SIM_OP_RESTART,
	SIM_OP_PAUSE,
	SIM_OP_SUSPEND,
	SIM_OP_RESUME,
	SIM_OP_CLONE,
	SIM_OP_DELETE,
	SIM_OP_EDIT,
	SIM_OP_SNAP_CREATE,
	SIM_OP_SNAP_DELETE,
	SIM_OP_SNAP_REVERT,
	/* reads: fail at once, no task */
	SIM_OP_LIST,
	SIM_OP_GET,
	SIM_OP_STATISTICS,
	SIM_OP_HOST,
	SIM_OP_TASK,
	SIM_OP_CONNECT,
	SIM_OP_COUNT_
} sim_op;

/* The word stored in tasks and used by the `fail` grammar ("snapshot-create", ...). */
const char *sim_op_name(sim_op op);
/* SIM_OP_COUNT_ if unknown. */
sim_op sim_op_from_name(const char *name);
/* What a real failure of that op looks like (PRL_ERR_VM_START_FAILED for start, ...). */
PRL_RESULT sim_op_default_error(sim_op op);

/* ---- failure injection (sim-driver.c) ---- */

typedef struct sim_fail_rule {
	gboolean any_task_op;   /* immutable: "*" */
	sim_op op;              /* immutable */
	gboolean once;          /* immutable */
	guint percent;          /* immutable: 1..100 (100 = always) */
	guint64 after;          /* immutable: the first `after` matching calls pass */
	PRL_RESULT code;        /* immutable */
	guint64 calls;          /* sim_conn.fail_lock: matching calls seen */
	guint64 fired;          /* sim_conn.fail_lock */
} sim_fail_rule;

/* Parse the `fail` setting; error names the key. *out: sim_fail_rule* (may be empty). */
gboolean sim_fail_parse(const char *spec, GPtrArray **out, GError **error);
/* PRL_RESULT name → value (any code of PRLK_ERROR_LIST); FALSE if unknown. */
gboolean sim_result_from_name(const char *name, PRL_RESULT *out);

/* ---- the store: one per state directory and process (sim-state.c) ---- */

typedef struct sim_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	gint64 mtime_ns;
} sim_file_id;

/* A VM as read-only prebuilt data, with the timestamps needed to evaluate it at any time. */
typedef struct sim_vm_view {
	pk_vm_data *data;       /* state, power_state, ips left unset */
	char *ip4;              /* the guest's addresses, shown while booted */
	char *ip6;
	const char *stable;     /* "stopped", "running", "paused", "suspended" (static) */
	const char *via;        /* transitional phase word (static) or NULL */
	gint64 until;           /* via shown while now < until */
	gint64 ip_at;           /* IPs shown from then on, while running */
	gint64 gone_at;         /* 0 or when the VM disappears (delete, failed clone) */
	GPtrArray *snapshots;   /* pk_snapshot_data*, oldest first */
} sim_vm_view;

typedef struct sim_task_view {
	char *id;
	sim_op op;
	char *vm;               /* target VM (the clone for clones) */
	char *src;              /* clone source, or NULL */
	gint64 t0, t1;          /* started, finishes (wall ms) */
	PRL_RESULT code;        /* outcome once t1 has passed */
	char *message;          /* failure message or NULL */
} sim_task_view;

/* Immutable once built; shared by reference between threads. */
typedef struct sim_view {
	gint refcount;          /* atomic */
	GPtrArray *vms;         /* sim_vm_view*, in creation order */
	GHashTable *by_id;      /* id → sim_vm_view* (borrowed) */
	GHashTable *tasks;      /* id → sim_task_view* */
	guint running_ram_mb;   /* sum over VMs stored as running (host statistics) */
	guint running_count;
} sim_view;

sim_view *sim_view_ref(sim_view *v);
void sim_view_unref(sim_view *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sim_view, sim_view_unref)

typedef struct sim_store sim_store;

/* What an update callback did: nothing to write, a change to write, or an error (the
 * callback validates before it mutates, so on error the document is unchanged). */
typedef enum {
	SIM_UPDATE_ERROR,
	SIM_UPDATE_NONE,
	SIM_UPDATE_WRITE,
} sim_update_result;

/* doc is NULL when the state file does not exist yet: the callback may create it
 * (*doc = new) or fail. The document has been folded to `now` already. */
typedef sim_update_result (*sim_update_fn)(json_t **doc, gint64 now, gpointer user_data,
                                           GError **error);

/* The process-wide store of an absolute directory (created lazily, reference counted). */
sim_store *sim_store_get(const char *dir);
void sim_store_unref(sim_store *st);
const char *sim_store_dir(sim_store *st);
void sim_store_set_fsync(sim_store *st, gboolean on);
gboolean sim_store_exists(sim_store *st);
/* Current view (cheap while the file is unchanged). */
sim_view *sim_store_view(sim_store *st, GError **error);
/* Identity of the state file right now (FALSE if missing); for cheap change polling. */
gboolean sim_store_stat(sim_store *st, sim_file_id *out);
gboolean sim_file_id_equal(const sim_file_id *a, const sim_file_id *b);
/* Read-modify-write under the exclusive file lock. */
gboolean sim_store_update(sim_store *st, sim_update_fn fn, gpointer user_data, GError **error);

/* Drop finished work: gone VMs, elapsed phases and locks, old tasks. */
void sim_doc_fold(json_t *doc, gint64 now);
/* Structural check of a loaded document; error says what is wrong. */
gboolean sim_doc_validate(json_t *doc, GError **error);
json_t *sim_doc_find_vm(json_t *doc, const char *id, gsize *index);

/* ---- evaluation at a point in time (sim-ops.c) ---- */

/* The VM's VMS_* and raw word at `now`; FALSE if it is gone. */
gboolean sim_vm_eval(const sim_vm_view *v, gint64 now, VIRTUAL_MACHINE_STATE *state,
                     const char **word);
/* A full copy for the caller, evaluated at now. */
pk_vm_data *sim_vm_output(const sim_vm_view *v, gint64 now, guint flags);
VIRTUAL_MACHINE_STATE sim_word_state(const char *word);
/* The static string for a phase/stable word, or NULL if unknown. */
const char *sim_word_intern(const char *word);

/* ---- the connection ---- */

typedef struct sim_conn {
	char *dir;              /* immutable: absolute state directory */
	char *instance;         /* immutable: basename of dir */
	double speed;           /* immutable */
	gboolean fsync;         /* immutable */
	sim_store *store;       /* immutable (reference) */
	GMutex fail_lock;
	GPtrArray *fail_rules;  /* sim_fail_rule*; counters under fail_lock */
} sim_conn;

/* Failure injection: FALSE (with the injected error) if a rule fires for this call.
 * Counters advance once per call. */
gboolean sim_conn_fail_check(sim_conn *sc, sim_op op, const char *what, GError **error);
/* The injected code/message for a task op, without a GError: TRUE if it fires. */
gboolean sim_conn_fail_task(sim_conn *sc, sim_op op, PRL_RESULT *code, char **message);
/* A duration at this connection's speed (ms). */
gint64 sim_conn_duration(const sim_conn *sc, gint64 base_ms);

/* ---- seed inventory (sim-seed.c) ---- */

typedef struct sim_seed {
	char *base;             /* "default" or "empty" */
	guint extra;            /* generated VMs */
} sim_seed;

gboolean sim_seed_parse(const char *spec, sim_seed *out, GError **error);
void sim_seed_clear(sim_seed *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sim_seed, sim_seed_clear)
/* A new state document for this seed (timestamps from now). */
json_t *sim_seed_build(const sim_seed *seed, const char *instance, gint64 now);
/* Allocations from the document's counters (they only grow, so values stay unique). */
char *sim_doc_alloc_mac(json_t *doc);
gint64 sim_doc_alloc_ip(json_t *doc);
/* Guest addresses of an IP index (10.x.y.z, fd00 ULA). */
char *sim_ip4_format(gint64 n);
char *sim_ip6_format(gint64 n);
/* A new VM object with defaults, config from os; state stopped. */
json_t *sim_vm_json_new(json_t *doc, const char *id, const char *name, const char *os,
                        gint64 now);
/* Add a snapshot of vm's current config and power state as the child of its current
 * snapshot, and make it current. */
void sim_vm_snapshot_add(json_t *vm, const char *name, const char *description, gint64 now);
/* Stable id for seeded VMs (name-based UUID), random for new ones. */
char *sim_uuid_for_name(const char *seed_name, const char *vm_name);

/* OS words the sim knows; NULL-terminated table lookups. */
typedef struct sim_os {
	const char *word;
	const char *label;
	guint32 type;
	guint32 version;
	guint32 ram_mb;
	guint32 cpus;
	guint32 disk_mb;
} sim_os;
const sim_os *sim_os_lookup(const char *word);

/* ---- ops (sim-ops.c): the vtable's bodies ---- */

extern const pk_driver sim_driver;

extern const pk_vm_ops sim_vm_ops;
extern const pk_snap_ops sim_snap_ops;
extern const pk_task_ops sim_task_ops;
extern const pk_host_ops sim_host_ops;

sim_conn *sim_conn_of(pk_conn *c);

/* JSON accessors that tolerate absent members (0 / NULL / FALSE). */
static inline const char *
sim_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}
static inline gint64
sim_jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (gint64)json_integer_value(v) : 0;
}
static inline gboolean
sim_jbool(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* Errors in PK_ERROR with the sim's wording. */
#define sim_set_error(error, code, ...) g_set_error((error), PK_ERROR, (code), __VA_ARGS__)

G_END_DECLS
#endif

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
 * mtime) keeps the document as an immutable compact model (sim-model.c). */
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

/* ---- the model: the state document in memory (sim-model.c) ----
 *
 * A compact C form of state.json. Published models (the per-process cache, what readers
 * get) are immutable and shared by reference between threads; a writer works on a draft
 * that shares every VM and task with its base and copies one only before changing it, so a
 * write costs what it changes, not the size of the inventory. */

typedef struct sim_snap {
	char *name;             /* unique per VM: the snapshot's id */
	char *desc;             /* NULL = "" */
	char *parent;           /* NULL for a root */
	char *vdesc;            /* the VM's description when taken; NULL = "" */
	const char *st;         /* the VM's stable word when taken (static), NULL if unknown */
	gint64 created;         /* unix seconds */
	guint32 ram, cpus;      /* the VM's configuration when taken */
	json_t *extra;          /* members this version does not know (hand edits), or NULL */
} sim_snap;

/* Strings are owned unless said otherwise; "interned" ones are g_intern_string()s. Laid out
 * small: 10,000 of them stay in memory. */
typedef struct sim_vm {
	gint refcount;          /* atomic; a VM reachable from a published model is immutable */
	guint id_hash;          /* sim_id_hash(id); set with id */
	guint32 ost, osv;       /* PVS_GUEST_TYPE_*, PVS_GUEST_VER_* */
	guint32 ram, cpus;      /* MB, count */
	guint8 tpl;
	guint8 has_ipn;
	guint8 has_ip_at;
	char *id;
	char *name;
	char *desc;             /* NULL = "" */
	const char *os;         /* interned OS word, or NULL */
	char *mac;              /* NULL: no NIC */
	const char *net;        /* interned network name, or NULL */
	const char *st;         /* static stable word: what the VM is, or will be once via ends */
	const char *via;        /* static phase word shown while now < until, or NULL */
	char *busy;             /* task holding the VM's lock until busy_until, or NULL */
	const char *busy_op;    /* interned op word of that task, or NULL */
	char *cur;              /* current snapshot, or NULL */
	char *base_vm;          /* linked clones: the base VM ... */
	char *base_snap;        /* ... and snapshot; NULL when none */
	GPtrArray *snaps;       /* sim_snap*, oldest first; NULL when none */
	json_t *extra;          /* members this version does not know, or NULL */
	gint64 disk_mb;
	gint64 ipn;             /* guest address index (when has_ipn) */
	gint64 gen;             /* configuration generation: the digest */
	gint64 created;         /* unix seconds */
	gint64 until;           /* with via */
	gint64 ip_at;           /* IPs shown from then on while running (when has_ip_at) */
	gint64 gone_at;         /* 0 or when the VM disappears (delete, failed clone) */
	gint64 busy_until;      /* with busy */
	gint64 src_until;       /* 0 or until when it is the source of a clone in progress */
} sim_vm;

typedef struct sim_task {
	gint refcount;          /* atomic; immutable once published */
	sim_op op;
	gboolean has_ip_from;
	char *id;
	char *vm;               /* target VM (the clone for clones), or NULL */
	char *src;              /* clone source, or NULL */
	char *msg;              /* failure message, or NULL */
	const char *from;       /* static stable word the VM had before (power ops), or NULL */
	gint64 ip_from;         /* the VM's ip_at before (when has_ip_from) */
	gint64 t0, t1;          /* started, finishes (wall ms) */
	PRL_RESULT code;        /* outcome once t1 has passed */
	json_t *extra;          /* members this version does not know, or NULL */
} sim_task;

typedef struct sim_model {
	gint refcount;          /* atomic */
	char *instance;         /* NULL if absent */
	char *seed;             /* NULL if absent */
	gint64 created;
	gint64 next_mac;        /* allocation counters: they only grow */
	gint64 next_ip;
	json_t *extra;          /* top-level members this version does not know, or NULL */
	GPtrArray *vms;         /* sim_vm* (references), in creation order */
	GHashTable *tasks;      /* id → sim_task* (reference) */
	/* Built by sim_model_index() once published (under the store's lock), then immutable: */
	sim_vm **index;         /* open addressing by id_hash (borrowed VMs), or NULL */
	guint index_mask;       /* slots - 1 */
	guint running_ram_mb;   /* sum over VMs stored as running (host statistics) */
	guint running_count;
} sim_model;

sim_model *sim_model_new(void);
sim_model *sim_model_ref(sim_model *m);
void sim_model_unref(sim_model *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sim_model, sim_model_unref)
/* A private, mutable model sharing base's VMs and tasks. */
sim_model *sim_model_draft(sim_model *base);
/* Readers' lookups and totals: sim_store_view builds them under the store's lock before
 * it hands the model out; a no-op once built. */
void sim_model_index(sim_model *m);
/* A published model's VM by id (needs sim_model_index), or NULL. */
sim_vm *sim_model_lookup(sim_model *m, const char *id);

/* Drafts only. The index of a VM (linear), or -1. */
gint sim_model_find(sim_model *d, const char *id);
/* vms[i], made private to the draft so it can be changed. */
sim_vm *sim_model_vm_mut(sim_model *d, guint i);
/* The VM of that id made private, or NULL; *index gets its position when not NULL. */
sim_vm *sim_model_vm_mut_by_id(sim_model *d, const char *id, guint *index);
void sim_model_add_vm(sim_model *d, sim_vm *vm);          /* consumed */
void sim_model_remove_vm(sim_model *d, guint i);
/* The task made private to the draft, or NULL if there is none of that id. */
sim_task *sim_model_task_mut(sim_model *d, const char *id);
void sim_model_add_task(sim_model *d, sim_task *t);       /* consumed */
/* Drop finished work: gone VMs, elapsed phases and locks, old tasks. */
void sim_model_fold(sim_model *d, gint64 now);

sim_vm *sim_vm_new(void);
/* The hash of a VM id (what sim_vm.id_hash holds). */
guint sim_id_hash(const char *id);
void sim_vm_unref(sim_vm *vm);
sim_task *sim_task_new(void);
void sim_task_unref(sim_task *t);
sim_snap *sim_snap_new(void);
void sim_snap_free(sim_snap *s);
/* Replace an owned string member: *slot = g_strdup(v). */
void sim_str_set(char **slot, const char *v);
/* The snapshot of that name, or NULL; *index gets its position when not NULL. */
sim_snap *sim_vm_find_snap(const sim_vm *vm, const char *name, guint *index);

/* Write the document (JSON) to fd; FALSE with errno set on a write error. */
gboolean sim_model_write(const sim_model *m, int fd);
/* Parse and check a state document; path is for messages. Never holds more than one VM's
 * JSON tree at a time. Errors are PRL_ERR_INVALID_CONFIGURATION. */
sim_model *sim_model_from_json(const char *text, gsize len, const char *path, GError **error);
/* Structural check of a whole document parsed with jansson (what the loader checks);
 * error says what is wrong. */
gboolean sim_doc_validate(json_t *doc, GError **error);

/* ---- the store: one per state directory and process (sim-state.c) ---- */

typedef struct sim_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	gint64 mtime_ns;
} sim_file_id;

typedef struct sim_store sim_store;

/* What an update callback did: nothing to write, a change to write, or an error (the
 * callback validates before it mutates, so on error the document is unchanged). */
typedef enum {
	SIM_UPDATE_ERROR,
	SIM_UPDATE_NONE,
	SIM_UPDATE_WRITE,
} sim_update_result;

/* *m is a draft, NULL when the state file does not exist yet: the callback may create one
 * (*m = sim_model_new()) or fail. The draft has been folded to `now` already. */
typedef sim_update_result (*sim_update_fn)(sim_model **m, gint64 now, gpointer user_data,
                                           GError **error);

/* The process-wide store of an absolute directory (created lazily, reference counted). */
sim_store *sim_store_get(const char *dir);
void sim_store_unref(sim_store *st);
const char *sim_store_dir(sim_store *st);
void sim_store_set_fsync(sim_store *st, gboolean on);
gboolean sim_store_exists(sim_store *st);
/* The current model, indexed (cheap while the file is unchanged). */
sim_model *sim_store_view(sim_store *st, GError **error);
/* Identity of the state file right now (FALSE if missing); for cheap change polling. */
gboolean sim_store_stat(sim_store *st, sim_file_id *out);
gboolean sim_file_id_equal(const sim_file_id *a, const sim_file_id *b);
/* Read-modify-write under the exclusive file lock. */
gboolean sim_store_update(sim_store *st, sim_update_fn fn, gpointer user_data, GError **error);

/* ---- evaluation at a point in time (sim-ops.c) ---- */

/* The VM's VMS_* and raw word at `now`; FALSE if it is gone. */
gboolean sim_vm_eval(const sim_vm *v, gint64 now, VIRTUAL_MACHINE_STATE *state,
                     const char **word);
/* A full copy for the caller, evaluated at now; dir: the state directory (disk paths). */
pk_vm_data *sim_vm_output(const sim_vm *v, const char *dir, gint64 now, guint flags);
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
/* A new state for this seed (timestamps from now). */
sim_model *sim_seed_build(const sim_seed *seed, const char *instance, gint64 now);
/* Allocations from the model's counters (they only grow, so values stay unique). */
char *sim_model_alloc_mac(sim_model *d);
gint64 sim_model_alloc_ip(sim_model *d);
/* Guest addresses of an IP index (10.x.y.z, fd00 ULA). */
char *sim_ip4_format(gint64 n);
char *sim_ip6_format(gint64 n);
/* A new VM with defaults, config from os; state stopped. */
sim_vm *sim_vm_create(sim_model *d, const char *id, const char *name, const char *os,
                      gint64 now);
/* Add a snapshot of vm's current config and power state as the child of its current
 * snapshot, and make it current. */
void sim_vm_snapshot_add(sim_vm *vm, const char *name, const char *description, gint64 now);
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

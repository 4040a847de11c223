/* The driver vtable. One folder per platform under src/drivers/<name>/; its <name>-driver.c
 * defines `const pk_driver <name>_driver`. Drivers include this header (and src/util) only.
 *
 * Rules (DESIGN.md §6):
 * - Every op is synchronous and blocking; the core calls it on a worker thread.
 * - Every op returns TRUE, or FALSE with a GError in PK_ERROR whose code is a PRL_RESULT
 *   and whose message is the platform's own words (never a secret).
 * - A NULL op means unsupported; the core reports PRL_ERR_UNIMPLEMENTED.
 * - Ops that start backend work return a task reference (*task_ref, owned by the caller):
 *   an opaque string, free of secrets, that task->status can resolve from ANY process
 *   connected to the same platform. *task_ref = NULL means the work is already complete.
 * - Multi-step work (e.g. snapshot replace) is resolved by looking at the platform's
 *   observable state, never from memory of the process that started it.
 * - The connection's private data is the driver's; ops may run concurrently on one
 *   connection, so the driver locks what it shares. */
#ifndef PRLKIT_CORE_DRIVER_H
#define PRLKIT_CORE_DRIVER_H

#include <glib.h>
#include <gio/gio.h>
#include "prlkit/PrlTypes.h"
#include "prlkit/PrlErrors.h"
#include "prlkit/PrlEnums.h"
#include "prlkit/PrlOses.h"
#include "prlkit/PrlApiExt.h"
#include "core-error.h"

G_BEGIN_DECLS

typedef struct pk_conn pk_conn;
typedef struct pk_driver pk_driver;

/* ---- plain data exchanged with drivers (all strings owned by the struct) ---- */

typedef struct pk_disk_data {
	char *image_path;
	guint64 size_mb;
	PRL_DEVICE_TYPE type;          /* PDE_HARD_DISK or PDE_OPTICAL_DISK */
} pk_disk_data;

typedef struct pk_net_data {
	char *mac;                     /* upper-case, colon-separated */
	char *network;                 /* bridge / network name, may be NULL */
} pk_net_data;

typedef struct pk_vm_data {
	char *id;                      /* the platform's stable id */
	char *name;
	char *description;
	char *os_type_name;            /* platform word: "win11", "l26", ... may be NULL */
	guint32 os_type;               /* PVS_GUEST_TYPE_* */
	guint32 os_version;            /* PVS_GUEST_VER_* */
	guint32 ram_mb;
	guint32 cpus;
	gboolean is_template;
	VIRTUAL_MACHINE_STATE state;
	char *power_state;             /* the platform's raw state word */
	GPtrArray *ips;                /* char*: IPv4 first then IPv6; no loopback/link-local */
	GPtrArray *macs;               /* char*: upper-case */
	GPtrArray *disks;              /* pk_disk_data* */
	GPtrArray *nets;               /* pk_net_data* */
	char *digest;                  /* edit token for optimistic concurrency; may be NULL */
	gboolean identity_only;        /* only id, name, is_template, state and power_state are
	                                  to be trusted; the rest may be missing or stale (a
	                                  PK_LIST_IDENTITY_ONLY list) */
} pk_vm_data;

pk_vm_data *pk_vm_data_new(void);          /* arrays allocated, empty */
/* Data for a PK_LIST_IDENTITY_ONLY list: identity_only set, strings copied. */
pk_vm_data *pk_vm_data_new_identity(const char *id, const char *name, gboolean is_template,
                                    VIRTUAL_MACHINE_STATE state, const char *power_state);
pk_vm_data *pk_vm_data_copy(const pk_vm_data *d);
void pk_vm_data_free(pk_vm_data *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pk_vm_data, pk_vm_data_free)
/* Normalizers for drivers: "bc:24:11:aa:bb:cc" → "BC:24:11:AA:BB:CC" (NULL if not a MAC). */
char *pk_mac_normalize(const char *mac);
/* Sort ips IPv4 first, then IPv6; drop loopback, link-local and duplicates. */
void pk_ips_normalize(GPtrArray *ips);

typedef struct pk_snapshot_data {
	char *name;                    /* the snapshot id in prlkit */
	char *description;
	char *parent;                  /* name of the parent, NULL for a root */
	gint64 created;                /* unix seconds, 0 if unknown */
	gboolean current;              /* the VM currently runs from this snapshot */
} pk_snapshot_data;
void pk_snapshot_data_free(pk_snapshot_data *s);

typedef struct pk_task_status {
	gboolean finished;
	PRL_RESULT code;               /* when finished: PRL_ERR_SUCCESS or the failure */
	char *message;                 /* when failed: the platform's message */
	guint progress;                /* 0..100 */
	char *result_vm_id;            /* e.g. the clone's id, when known */
} pk_task_status;
void pk_task_status_clear(pk_task_status *st);

typedef struct pk_host_data {
	char *hostname;
	char *cpu_model;
	guint32 cpu_count;
	guint64 ram_mb;
	char *product_version;         /* platform version string */
} pk_host_data;
void pk_host_data_free(pk_host_data *h);

typedef struct pk_stats_data {
	guint64 ram_total;             /* bytes */
	guint64 ram_used;
	guint64 ram_free;
	GArray *cpu_usage;             /* guint32 percent per CPU */
} pk_stats_data;
void pk_stats_data_free(pk_stats_data *s);

/* ---- operations ---- */

typedef enum {
	PK_POWER_START,
	PK_POWER_STOP_GRACEFUL,        /* guest shutdown; the driver may force after its timeout */
	PK_POWER_STOP_HARD,
	PK_POWER_RESET,
	PK_POWER_RESTART,
	PK_POWER_PAUSE,
	PK_POWER_SUSPEND,
	PK_POWER_RESUME,               /* from paused or suspended */
} pk_power_op;

/* list/get flags */
#define PK_GET_NO_GUEST_INFO   (1u << 0)  /* IPs not needed (cheaper) */
/* list: only id, name, is_template, state and power_state are needed. A driver that can
 * skip the rest sets pk_vm_data.identity_only; one that cannot returns full data. */
#define PK_LIST_IDENTITY_ONLY  (1u << 1)
/* clone flags */
#define PK_CLONE_LINKED        (1u << 0)
#define PK_CLONE_TO_TEMPLATE   (1u << 1)
/* snapshot flags */
#define PK_SNAP_REPLACE        (1u << 0)  /* create: replace a snapshot of the same name */
#define PK_SNAP_MISSING_OK     (1u << 1)  /* delete: a missing snapshot is success */
#define PK_SNAP_WITH_CHILDREN  (1u << 2)  /* delete: children too */

typedef struct pk_vm_ops {
	/* Every VM and template (helper VMs excluded), with state. *out: pk_vm_data* */
	gboolean (*list)(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel, GError **error);
	/* Not found → PRL_ERR_VM_UUID_NOT_FOUND. */
	gboolean (*get)(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
	                GCancellable *cancel, GError **error);
	gboolean (*power)(pk_conn *c, const char *id, pk_power_op op, guint flags, char **task_ref,
	                  GCancellable *cancel, GError **error);
	gboolean (*remove)(pk_conn *c, const char *id, guint flags, char **task_ref,
	                   GCancellable *cancel, GError **error);
	/* Apply what differs between old and new (name, description, ram_mb, cpus, is_template).
	 * old->digest lets the platform refuse a concurrent edit (PRL_ERR_VM_CONFIG_WAS_CHANGED). */
	gboolean (*commit)(pk_conn *c, const char *id, const pk_vm_data *old, const pk_vm_data *new_,
	                   guint flags, char **task_ref, GCancellable *cancel, GError **error);
	/* snapshot NULL = current state. *new_id set as soon as the platform assigned it. */
	gboolean (*clone)(pk_conn *c, const char *id, const char *new_name, const char *snapshot,
	                  guint flags, char **new_id, char **task_ref, GCancellable *cancel,
	                  GError **error);
	gboolean (*statistics)(pk_conn *c, const char *id, pk_stats_data **out,
	                       GCancellable *cancel, GError **error);
} pk_vm_ops;

typedef struct pk_snap_ops {
	/* *out: pk_snapshot_data*, oldest first; platform pseudo-snapshots never included. */
	gboolean (*list)(pk_conn *c, const char *vm_id, GPtrArray **out, GCancellable *cancel,
	                 GError **error);
	gboolean (*create)(pk_conn *c, const char *vm_id, const char *name, const char *description,
	                   guint flags, char **task_ref, GCancellable *cancel, GError **error);
	/* Missing → PRL_ERR_VM_SNAPSHOT_NOT_FOUND unless PK_SNAP_MISSING_OK. */
	gboolean (*remove)(pk_conn *c, const char *vm_id, const char *name, guint flags,
	                   char **task_ref, GCancellable *cancel, GError **error);
	gboolean (*revert)(pk_conn *c, const char *vm_id, const char *name, guint flags,
	                   char **task_ref, GCancellable *cancel, GError **error);
} pk_snap_ops;

typedef struct pk_task_ops {
	/* One status check. Unknown/garbage ref → PRL_ERR_TASK_NOT_FOUND. */
	gboolean (*status)(pk_conn *c, const char *task_ref, pk_task_status *out,
	                   GCancellable *cancel, GError **error);
	gboolean (*cancel)(pk_conn *c, const char *task_ref, GCancellable *cancel, GError **error);
	/* How long the core sleeps between status checks of this ref (ms). NULL → 200. */
	guint (*poll_interval_ms)(pk_conn *c, const char *task_ref);
} pk_task_ops;

typedef struct pk_host_ops {
	gboolean (*info)(pk_conn *c, pk_host_data **out, GCancellable *cancel, GError **error);
	gboolean (*statistics)(pk_conn *c, pk_stats_data **out, GCancellable *cancel, GError **error);
} pk_host_ops;

typedef enum {
	PK_OPEN_OK,
	PK_OPEN_DECLINED,              /* the URI is not for this driver; try the next */
	PK_OPEN_ERROR,
} pk_open_status;

struct pk_driver {
	const char *name;                     /* "sim", "pve", "libvirt" */
	const char *display_name;             /* "prlkit simulator", "Proxmox VE", ... */
	const char *const *uri_schemes;       /* { "sim", NULL } */
	guint64 features;                     /* PRLK_FEAT_* this driver can have */
	/* Every setting the driver reads (NULL-terminated), besides the common ones (driver,
	 * uri, username, password, request_timeout, ca_file, tls_fingerprint,
	 * insecure_skip_verify, log_level): others are logged as ignored. NULL: no check. */
	const char *const *settings_keys;
	/* Features with these settings (e.g. a template mode); NULL → features. */
	guint64 (*features_for)(GHashTable *settings);
	/* uri may be NULL (driver chosen by name; settings say the rest). Settings: string → string,
	 * including the URI's query parameters. Set private data with pk_conn_set_private. */
	pk_open_status (*open)(pk_conn *c, GUri *uri, GHashTable *settings, GCancellable *cancel,
	                       GError **error);
	void (*close)(pk_conn *c);
	/* Optional: run until cancel is triggered, reporting platform events with
	 * pk_conn_emit_vm_state / pk_conn_emit_vm_event. Runs on its own thread. */
	void (*watch)(pk_conn *c, GCancellable *cancel);
	const pk_vm_ops *vm;
	const pk_snap_ops *snap;
	const pk_task_ops *task;
	const pk_host_ops *host;
};

/* ---- what the core offers drivers ---- */
void pk_conn_set_private(pk_conn *c, gpointer priv);
gpointer pk_conn_get_private(pk_conn *c);
const pk_driver *pk_conn_get_driver(pk_conn *c);
/* Settings given at connect (merged URI query + JSON settings); NULL if absent. */
const char *pk_conn_get_setting(pk_conn *c, const char *key);
GHashTable *pk_conn_get_settings(pk_conn *c);
/* Platform events (any thread). */
void pk_conn_emit_vm_state(pk_conn *c, const char *vm_id, VIRTUAL_MACHINE_STATE state);
void pk_conn_emit_vm_event(pk_conn *c, const char *vm_id, PRL_EVENT_TYPE type);

/* Registry */
const pk_driver *pk_driver_lookup(const char *name);
const pk_driver *const *pk_driver_list(void);   /* NULL-terminated */

G_END_DECLS
#endif

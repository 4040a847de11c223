/* Proxmox VE driver internals; included only inside src/drivers/pve/.
 *
 * Files: pve-settings.c (settings → pve_settings, features), pve-api.c (wire client: auth,
 * requests, Proxmox errors → PRL_RESULT), pve-types.c (pure JSON mapping and codecs: state,
 * config, agent IPs, snapshot names, tags, UPIDs), pve-cache.c (inventory, config and IP
 * caches, parallel prefetch), pve-tasks.c (stateless task references and their
 * resolution), pve-driver.c (the vtable). */
#ifndef PRLKIT_PVE_PRIVATE_H
#define PRLKIT_PVE_PRIVATE_H

#include <jansson.h>
#include "driver.h"
#include "util-http.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

#define PVE_DEFAULT_PORT 8006

/* ---------- settings (pve-settings.c) ---------- */

typedef enum { PVE_TEMPLATE_TAG, PVE_TEMPLATE_NATIVE } pve_template_mode;
typedef enum { PVE_SUSPEND_HIBERNATE, PVE_SUSPEND_PAUSE } pve_suspend_mode;

/* Parsed once at open; immutable afterwards. */
typedef struct pve_settings {
	char *base_url;               /* https://host:port */
	char *username;               /* user@realm */
	char *token_id;               /* user@realm!name; NULL with ticket auth */
	char *token_secret;           /* secret */
	char *password;               /* secret; NULL with token auth */
	char *node;                   /* only this node's VMs; NULL = whole cluster */
	pve_template_mode template_mode;
	char *template_tag;           /* tag that marks templates (tag mode) */
	char *base_snapshot;          /* native mode: snapshot folded into the template */
	gboolean full_clone;          /* never make linked clones */
	gboolean stop_hard;           /* stop_mode=stop: graceful stop is a hard stop */
	guint force_stop_after_s;     /* shutdown: hard stop by the server after this */
	pve_suspend_mode suspend_mode;
	char *storage;                /* full clones go there; NULL = the source's */
	char *ca_file;
	char *tls_fingerprint;
	gboolean insecure_skip_verify;
	guint connect_timeout_ms;
	guint request_timeout_ms;
	guint max_parallel;
	guint inventory_ttl_ms;       /* cluster/resources answers reused this long */
	guint config_ttl_ms;          /* VM configs reused this long when nothing changed */
	guint ip_ttl_ms;              /* guest agent answers reused this long */
	guint ip_retry_ms;            /* ... and "no agent answer" this long */
	guint lock_wait_ms;           /* how long "VM is locked" is retried */
	guint task_poll_ms;
	guint ticket_renew_s;
} pve_settings;

gboolean pve_settings_parse(GHashTable *settings, GUri *uri, pve_settings *out, GError **error);
void pve_settings_clear(pve_settings *s);
guint64 pve_features_for(GHashTable *settings);

/* ---------- wire client (pve-api.c) ---------- */

typedef struct pve_api pve_api;

#define PVE_CALL_VM (1u << 0)     /* the path names a VM: "does not exist" → VM not found */

pve_api *pve_api_new(const pve_settings *s, GError **error);
void pve_api_free(pve_api *api);
/* One API call. form: url-encoded parameters (query for GET/DELETE, body otherwise), may
 * be NULL. *data: the answer's "data" member (new reference, json null when absent).
 * Errors carry Proxmox's own message (reason phrase + "errors" object) with the matching
 * PRL_RESULT. A ticket is obtained/renewed as needed; a 401 on a ticket re-logs in once. */
gboolean pve_api_call(pve_api *api, const char *method, const char *path, const char *form,
                      guint flags, json_t **data, GCancellable *cancel, GError **error);
/* Like pve_api_call, but "VM is locked" answers are retried with backoff for up to
 * lock_wait_ms: only for requests that Proxmox refused before doing anything. */
gboolean pve_api_call_retry_locked(pve_api *api, const char *method, const char *path,
                                   const char *form, guint flags, json_t **data,
                                   GCancellable *cancel, GError **error);
void pve_api_get_stats(pve_api *api, pk_http_stats *out);
/* Classify a Proxmox message (reason phrase or task exitstatus); fallback if unknown. */
PRL_RESULT pve_error_code_for_message(const char *message, PRL_RESULT fallback);
gboolean pve_error_is_locked(const GError *error);

/* ---------- pure mapping (pve-types.c) ---------- */

typedef struct pve_resource {
	guint vmid;
	gboolean is_qemu;             /* FALSE: an LXC container (never treated as a VM) */
	char *node;
	char *name;
	char *status;                 /* running | stopped | unknown */
	char *lock;                   /* NULL when none */
	char *tags;                   /* ";"-separated as Proxmox sends them; NULL when none */
	gboolean template;            /* a native Proxmox template */
	guint64 maxmem;               /* bytes */
	guint maxcpu;
	gint64 uptime;                /* s */
} pve_resource;

/* One cluster/resources answer; immutable once built, shared by reference. */
typedef struct pve_inventory {
	GPtrArray *vms;               /* pve_resource*: qemu guests only, by vmid */
	GHashTable *by_id;            /* GUINT_TO_POINTER(vmid) → pve_resource* (qemu + lxc) */
	gint64 fetched_us;            /* monotonic time the request was sent */
	gint64 fetched_wall_s;        /* wall clock then (for boot-time estimates) */
} pve_inventory;

pve_inventory *pve_inventory_parse(json_t *data, GError **error);
pve_inventory *pve_inventory_ref(pve_inventory *inv);
void pve_inventory_unref(pve_inventory *inv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pve_inventory, pve_inventory_unref)
const pve_resource *pve_inventory_find(const pve_inventory *inv, guint vmid);

/* What a VM's config says that cluster/resources does not; immutable, shared. */
typedef struct pve_vmconf {
	char *digest;
	char *name;
	char *description;
	char *ostype;
	char *tags;
	gboolean template;
	gboolean agent;               /* guest agent enabled in the config */
	guint cores, sockets;
	guint64 memory_mb;
	GPtrArray *nets;              /* pk_net_data* */
	GPtrArray *disks;             /* pk_disk_data* */
} pve_vmconf;

pve_vmconf *pve_vmconf_parse(json_t *data, GError **error);
pve_vmconf *pve_vmconf_ref(pve_vmconf *c);
void pve_vmconf_unref(pve_vmconf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pve_vmconf, pve_vmconf_unref)

/* "101" → 101; FALSE unless a plain decimal Proxmox vmid (100..999999999). */
gboolean pve_vmid_parse(const char *id, guint *vmid);
/* State: see doc/backends/proxmox.md. raw: the word reported as power_state. */
VIRTUAL_MACHINE_STATE pve_state_map(const char *status, const char *qmpstatus, const char *lock,
                                    const char **raw);
void pve_os_map(const char *ostype, guint32 *type, guint32 *version);
/* Guest agent network-get-interfaces "data" → addresses worth reporting (normalized). */
GPtrArray *pve_agent_ips_parse(json_t *data);
/* Tags: Proxmox separates with ';' (accepts ',' and ' ' too). */
gboolean pve_tags_has(const char *tags, const char *tag);
char *pve_tags_with(const char *tags, const char *tag, gboolean present);
/* Snapshot names: a valid Proxmox name maps to itself; anything else to "x-" + an escaped
 * form. Reversible both ways. encode → NULL (error) when the result would exceed 40. */
char *pve_snapname_encode(const char *name, GError **error);
char *pve_snapname_decode(const char *pve_name);
gboolean pve_snapname_valid(const char *pve_name);
/* A VM's description: Proxmox's limit, in characters. */
#define PVE_DESCRIPTION_MAX 8192
/* A VM name Proxmox accepts (its "dns-name" format); checked before any request. */
gboolean pve_vm_name_check(const char *name, GError **error);
/* The description stored with a snapshot whose name needed encoding starts with the
 * original name on its own line; these add / remove that line. */
char *pve_snapdesc_wrap(const char *name, const char *pve_name, const char *description);
char *pve_snapdesc_unwrap(const char *name, const char *pve_name, const char *description);

/* UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: */
typedef struct pve_upid {
	char *node;
	char *type;
	char *id;
	gint64 starttime;
	guint64 pid;
} pve_upid;
gboolean pve_upid_parse(const char *upid, pve_upid *out);
void pve_upid_clear(pve_upid *u);
/* Task exitstatus: "OK" and "WARNINGS: n" are success. */
gboolean pve_exitstatus_ok(const char *exitstatus);

/* ---------- connection, caches (pve-cache.c) ---------- */

typedef struct pve_conn {
	pve_settings s;               /* immutable after open */
	pve_api *api;                 /* immutable; thread-safe */

	GMutex lock;
	GCond inv_cond;               /* broadcast (under lock) when an inventory fetch ends */
	pve_inventory *inv;           /* lock: the newest cluster/resources answer */
	gboolean inv_fetching;        /* lock */
	gint64 inv_valid_after;       /* lock: answers to requests sent before this are stale */
	GHashTable *configs;          /* lock: vmid → pve_conf_entry */
	GHashTable *ips;              /* lock: vmid → pve_ip_entry */
	gint64 last_list_us;          /* lock: when list last ran (prefetch hint for get) */
} pve_conn;

pve_conn *pve_conn_get(pk_conn *c);
void pve_conn_init_caches(pve_conn *pc);
void pve_conn_clear_caches(pve_conn *pc);

/* The inventory, from cache when younger than inventory_ttl_ms (force: fetched after now). */
pve_inventory *pve_inventory_get(pve_conn *pc, gboolean force, GCancellable *cancel,
                                 GError **error);
void pve_inventory_invalidate(pve_conn *pc);
/* Find a VM by id (refreshing once when the cache does not know it). Not found, an LXC
 * id, or outside the node filter → PRL_ERR_VM_UUID_NOT_FOUND. *r_out points into *inv_out. */
gboolean pve_vm_locate(pve_conn *pc, const char *id, pve_inventory **inv_out,
                       const pve_resource **r_out, GCancellable *cancel, GError **error);
gboolean pve_resource_in_scope(const pve_conn *pc, const pve_resource *r);
/* The VM's config: cached while cluster/resources shows no change (and config_ttl_ms). */
pve_vmconf *pve_config_get(pve_conn *pc, const pve_resource *r, gboolean fresh,
                           GCancellable *cancel, GError **error);
/* The cached config, if valid (no request); NULL otherwise. */
pve_vmconf *pve_config_peek(pve_conn *pc, const pve_resource *r);
void pve_vm_forget(pve_conn *pc, guint vmid);
/* Guest IPs (new array, possibly empty; never an error: no agent = no IPs). */
GPtrArray *pve_ips_get(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                       const pve_vmconf *conf, GCancellable *cancel);
/* Fill the config (and IP) caches of these VMs with bounded parallelism. */
void pve_prefetch(pve_conn *pc, const pve_inventory *inv, GPtrArray *resources,
                  gboolean want_ips, GCancellable *cancel);
/* qmpstatus from status/current (for suspend_mode=pause); NULL on failure. */
char *pve_qmpstatus_get(pve_conn *pc, const pve_resource *r, GCancellable *cancel);

/* ---------- tasks (pve-tasks.c) ---------- */

/* A task reference under construction: op + node + vmid + first UPID + step parameters. */
typedef struct pve_ref pve_ref;
pve_ref *pve_ref_new(const char *op, const char *node, guint vmid, const char *upid);
void pve_ref_set(pve_ref *ref, const char *key, const char *value);
void pve_ref_set_int(pve_ref *ref, const char *key, gint64 value);
char *pve_ref_finish(pve_ref *ref);       /* frees ref; returns the opaque string */

gboolean pve_task_status(pk_conn *c, const char *task_ref, pk_task_status *out,
                         GCancellable *cancel, GError **error);
gboolean pve_task_cancel(pk_conn *c, const char *task_ref, GCancellable *cancel,
                         GError **error);
guint pve_task_poll_interval(pk_conn *c, const char *task_ref);

/* Shared by ops and task resolution (pve-driver.c). */
char *pve_vm_path(const char *node, guint vmid, const char *suffix);
gboolean pve_snapshot_list(pve_conn *pc, const char *node, guint vmid, json_t **list,
                           GCancellable *cancel, GError **error);
gboolean pve_snapshot_exists(json_t *list, const char *pve_name);

G_END_DECLS
#endif

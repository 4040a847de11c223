/* libvirt driver internals; included only inside src/drivers/libvirt/ (doc/drivers/libvirt.md).
 *
 * Files: libvirt-driver.c (vtable, open/close, reconnecting, settings, errors, host, tasks),
 * libvirt-xml.c (a small XML tree on GMarkup; domain XML ↔ pk_vm_data; prlkit metadata),
 * libvirt-domain.c (list, get, power, delete, edit, statistics; the config cache),
 * libvirt-storage.c (volumes: overlays, copies, garbage collection of layers),
 * libvirt-snapshots.c (snapshots as frozen qcow2 layers; clones),
 * libvirt-events.c (the process-wide event loop, cache invalidation, watch, the report of
 * what changed while disconnected). */
#ifndef PRLKIT_LIBVIRT_PRIVATE_H
#define PRLKIT_LIBVIRT_PRIVATE_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "libvirt-dl.h"
#include "driver.h"

G_BEGIN_DECLS

/* The XML namespace of prlkit's element in a domain's <metadata>. */
#define LV_NS_URI "http://prlkit.org/xmlns/libvirt/1"
#define LV_NS_PREFIX "prlkit"
/* Every volume the driver creates is named LV_VOL_PREFIX<owner uuid>-<random>.qcow2. */
#define LV_VOL_PREFIX "prlkit-"

/* ---------- settings and connection (libvirt-driver.c) ---------- */

typedef enum { LV_IP_AUTO, LV_IP_LEASE, LV_IP_AGENT, LV_IP_NONE } lv_ip_source;

/* Parsed once at open; immutable afterwards. */
typedef struct lv_settings {
	char *uri;                    /* the libvirt URI (query: libvirt's own parameters only) */
	char *username;               /* for SASL/password authentication; may be NULL */
	char *password;               /* secret; may be NULL */
	char *pool;                   /* storage_pool: where new volumes go; NULL = see lv_pool_for */
	char *network;                /* clones are attached to it; NULL = keep the source's */
	gboolean stop_hard;           /* stop_mode=destroy: a graceful stop is a hard one */
	guint force_stop_after_s;     /* graceful stop: destroy after this many seconds */
	gboolean suspend_pause;       /* suspend_mode=pause instead of managed save */
	lv_ip_source ip_source;
} lv_settings;

typedef struct lv_events lv_events;

/* A prlkit connection. The libvirt connection behind it is replaced when libvirt closes it
 * (libvirtd restarted, keep-alive timeout, network gone): requests take a reference to the
 * current one with lv_conn_acquire or lv_call_next, which reopen a lost connection, at most
 * one attempt per LV_RECONNECT_INTERVAL_MS (requests in between fail at once), and the
 * watcher reopens it without waiting for a request (libvirt-driver.c). */
typedef struct lv_conn {
	lv_settings s;                /* immutable after lv_open */
	lv_events *ev;                /* immutable pointer; the object locks itself */
	GMutex conn_lock;             /* a leaf lock, taken by libvirt's close callback: held
	                               * around no libvirt call but virConnectRef (atomic) */
	GCond conn_cond;              /* conn_lock: a reconnect ended, the connection was lost,
	                               * or the watcher is cancelled */
	virConnectPtr conn;           /* conn_lock: the current connection (a reference of
	                               * ours); NULL after a failed reconnect */
	gboolean lost;                /* conn_lock: libvirt closed conn */
	gboolean reconnecting;        /* conn_lock: one thread is replacing conn; it alone
	                               * (un)registers the connection's callbacks meanwhile */
	gint64 lost_at_us;            /* conn_lock: when the outage began (monotonic) */
	gint64 attempt_at_us;         /* conn_lock: when the last reconnect failed (monotonic) */
	guint attempts;               /* conn_lock: failed reconnects in this outage */
	char *lost_why;               /* conn_lock: why requests fail meanwhile (redacted) */
	GMutex busy_lock;
	GCond busy_cond;              /* a domain left `busy` */
	GHashTable *busy;             /* busy_lock: UUIDs whose definition is being rewritten */
} lv_conn;

/* After a failed reconnect, the next attempt waits this long. */
#define LV_RECONNECT_INTERVAL_MS 1000
/* How long a request waits for a reconnect another thread has under way. */
#define LV_RECONNECT_WAIT_MS 5000

static inline lv_conn *lv_conn_of(pk_conn *c)
{
	return (lv_conn *)pk_conn_get_private(c);
}

/* The current libvirt connection, referenced: release it with lv_conn_release. A lost
 * connection is reopened first (same URI, credentials, keep-alives; domain callbacks
 * registered again, the configuration cache emptied since events were missed, what changed
 * meanwhile reported as events by lv_events_resync), unless the last attempt was less than
 * LV_RECONNECT_INTERVAL_MS ago: then, and when reopening fails,
 * PRL_ERR_CANT_CONNECT_TO_DISPATCHER "libvirt: connection lost: <why>". Costs a mutex and a
 * reference while the connection is up (virConnectIsAlive reads local state only). */
virConnectPtr lv_conn_acquire(lv_conn *lc, GError **error);
void lv_conn_release(virConnectPtr conn);

/* One driver operation on the libvirt connection:
 *
 *	lv_call call = { LV_READ };
 *	while (lv_call_next(lc, &call, error))
 *		call.ok = do_it(lc, call.conn, ..., &call.error);
 *	return call.ok;
 *
 * The first lv_call_next acquires the connection; the next one releases it and ends the
 * loop, except after a read that failed because the connection dropped while it ran: that
 * runs once more, on a new connection. A write is never repeated (it may have taken
 * effect); its error then says that the connection was lost. */
typedef enum { LV_READ, LV_WRITE } lv_call_kind;
typedef struct lv_call {
	lv_call_kind kind;
	virConnectPtr conn;           /* referenced while the operation runs */
	gboolean ok;                  /* the operation's outcome */
	GError *error;                /* the operation's error when it failed */
	guint runs;
} lv_call;
gboolean lv_call_next(lv_conn *lc, lv_call *call, GError **error);

/* A prlkit URI → the libvirt URI (newly allocated): "libvirt+qemu+ssh://h/system?
 * storage_pool=p" → "qemu+ssh://h/system?no_tty=1" (prlkit's settings dropped; ssh never
 * prompts); "qemu:///system" and "test:///default" as they are; "libvirt:" → NULL. */
gboolean lv_uri_from(GUri *uri, char **out, GError **error);

/* Errors. lv_fail reads libvirt's last error of this thread, so it is called right after
 * the failing libvirt call: "<what>: <libvirt's message>" with the PRL_RESULT that fits
 * libvirt's code, else def. Always returns FALSE. */
gboolean lv_fail(GError **error, PRL_RESULT def, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
gboolean lv_set_error(GError **error, PRL_RESULT code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* libvirt's last error code in this thread (VIR_ERR_OK if none). */
int lv_last_error_code(void);
/* Clears libvirt's last error of this thread (after an expected failure). */
void lv_reset_error(void);

/* A domain's UUID as text (buf: VIR_UUID_STRING_BUFLEN). Formats the raw bytes itself:
 * virDomainGetUUIDString's printf per byte dominates listing thousands of domains. */
gboolean lv_dom_uuid(virDomainPtr dom, char *buf);

/* Domain by id (UUID string). Not found → PRL_ERR_VM_UUID_NOT_FOUND. */
virDomainPtr lv_dom_lookup(virConnectPtr conn, const char *id, GError **error);

/* Operations that read, change and redefine a domain's configuration run one at a time
 * per domain within the process (other processes are not coordinated). */
void lv_dom_busy_enter(lv_conn *lc, const char *uuid);
void lv_dom_busy_leave(lv_conn *lc, const char *uuid);

/* Task references (libvirt-driver.c): a graceful stop forced after a deadline. */
char *lv_task_ref_stop(const char *uuid, gint64 deadline_ms);

/* ---------- XML tree (libvirt-xml.c) ---------- */

typedef struct lv_node lv_node;

lv_node *lv_xml_parse(const char *text, GError **error);
char *lv_xml_format(const lv_node *n);
void lv_xml_free(lv_node *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lv_node, lv_xml_free)
const char *lv_xml_name(const lv_node *n);               /* NULL for text */
const char *lv_xml_local(const lv_node *n);              /* name without its prefix */
lv_node *lv_xml_child(const lv_node *n, const char *name);
lv_node *lv_xml_path(const lv_node *n, const char *path); /* "devices/disk": first match */
GPtrArray *lv_xml_children(const lv_node *n, const char *name); /* borrowed; NULL name = all */
const char *lv_xml_attr(const lv_node *n, const char *name);
void lv_xml_set_attr(lv_node *n, const char *name, const char *value); /* NULL removes */
char *lv_xml_text(const lv_node *n);                     /* concatenated text, never NULL */
void lv_xml_set_text(lv_node *n, const char *text);      /* replaces the children */
lv_node *lv_xml_add(lv_node *parent, const char *name);  /* appended element */
void lv_xml_remove(lv_node *n);                          /* detached and freed */

/* ---------- domain XML (libvirt-xml.c) ---------- */

typedef struct lv_disk {
	lv_node *node;                /* borrowed from the tree it was read from */
	char *target;                 /* "vda" */
	char *device;                 /* disk, cdrom, floppy, lun */
	char *type;                   /* file, block, volume, network, dir */
	char *path;                   /* the file (type file); NULL otherwise */
	char *format;                 /* the driver type ("qcow2", "raw"); NULL if not said */
	gboolean readonly;
	gboolean shareable;
} lv_disk;
void lv_disk_free(lv_disk *d);
/* The writable disks of a domain (the ones snapshots and clones layer), in XML order;
 * read-only, shareable and removable media are left out. */
GPtrArray *lv_domxml_disks(lv_node *root, gboolean writable_only);
/* Points the disk at a file with that format (type='file'; any <backingStore> dropped). */
void lv_disk_set_source(lv_disk *d, const char *path, const char *format);

/* What get/list report from a domain's XML (state and IPs are filled elsewhere). */
typedef struct lv_xmlinfo {
	gboolean agent;               /* a qemu guest agent channel is configured */
	gboolean agent_connected;     /* ... and the agent is connected (live XML) */
	guint64 memory_kib;
	guint vcpus;
} lv_xmlinfo;
gboolean lv_domxml_read(const lv_node *root, pk_vm_data *d, lv_xmlinfo *info, GError **error);
/* The edit token: changes when what commit edits changes. */
char *lv_vm_digest(const pk_vm_data *d);

/* Cloning: a new name, UUID and MAC addresses (libvirt makes new ones), no NVRAM path;
 * interfaces of type network moved to `network` when set. */
void lv_domxml_prepare_clone(lv_node *root, const char *name, const char *uuid,
                             const char *network);
void lv_domxml_set_memory(lv_node *root, guint64 kib);
void lv_domxml_set_vcpus(lv_node *root, guint vcpus);
void lv_domxml_set_description(lv_node *root, const char *text);

/* ---------- prlkit metadata (libvirt-xml.c) ---------- */

typedef struct lv_layer {
	char *disk;                   /* target, "vda" */
	char *path;                   /* the frozen file */
	char *format;                 /* its format */
} lv_layer;

typedef struct lv_snap {
	char *name;
	char *parent;                 /* NULL for a root */
	char *description;
	gint64 created;               /* unix seconds */
	guint64 memory_kib;           /* the configuration at the snapshot */
	guint vcpus;
	GPtrArray *layers;            /* lv_layer* */
} lv_snap;

typedef struct lv_meta {
	gboolean is_template;
	char *current;                /* the snapshot the active layers sit on; NULL = none */
	char *origin_vm;              /* clones: the source's UUID (informational) */
	char *origin_snapshot;
	gboolean origin_linked;
	GPtrArray *snaps;             /* lv_snap*, oldest first */
} lv_meta;

lv_meta *lv_meta_new(void);
void lv_meta_free(lv_meta *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lv_meta, lv_meta_free)
/* prlkit's element in the domain's <metadata> (empty metadata when there is none). */
lv_meta *lv_meta_from_domain(const lv_node *root);
/* prlkit's element as virDomainGetMetadata returns it (any namespace or none). */
lv_meta *lv_meta_from_element(const lv_node *el);
/* The element as virDomainSetMetadata takes it: no prefix (libvirt adds its namespace). */
char *lv_meta_format(const lv_meta *m);
/* Replaces prlkit's element inside the domain's <metadata> (created when missing). */
void lv_meta_apply(lv_node *root, const lv_meta *m);
lv_snap *lv_meta_find(const lv_meta *m, const char *name);
void lv_snap_free(lv_snap *s);
void lv_layer_free(lv_layer *l);

/* ---------- domains (libvirt-domain.c) ---------- */

extern const pk_vm_ops lv_vm_ops;
/* The state of a domain: VMS_* and libvirt's word ("running", "saved", ...). */
gboolean lv_dom_state(virDomainPtr dom, VIRTUAL_MACHINE_STATE *state, const char **word,
                      GError **error);
VIRTUAL_MACHINE_STATE lv_state_map(int state, int reason, gboolean managed_save,
                                   const char **word);
/* Every domain's state, UUID → VIRTUAL_MACHINE_STATE (GINT_TO_POINTER), as lists read them
 * (one call, plus one for managed saves); NULL on error. */
GHashTable *lv_dom_list_states(virConnectPtr conn, GError **error);
/* The domain's inactive XML (with secrets, for redefining it), parsed. */
lv_node *lv_dom_inactive_xml(virDomainPtr dom, GError **error);
/* Redefines the domain from a tree (the persistent configuration). */
gboolean lv_dom_define(virConnectPtr conn, const lv_node *root, GError **error);
/* Stores prlkit's metadata (persistent configuration, and the live one when running). */
gboolean lv_dom_set_meta(virDomainPtr dom, const lv_meta *m, GError **error);
gboolean lv_dom_is_active(virDomainPtr dom);
/* A name for a new or renamed VM: not blank (blank_code), valid, not taken. */
gboolean lv_check_new_name(virConnectPtr conn, const char *name, PRL_RESULT blank_code,
                           GError **error);

/* ---------- storage (libvirt-storage.c) ---------- */

/* The pool new volumes for disk `near` go to: the storage_pool setting, else the pool that
 * holds `near`, else "default". */
virStoragePoolPtr lv_pool_for(lv_conn *lc, virConnectPtr conn, const char *near,
                              GError **error);
/* A new qcow2 volume on top of backing (format backing_format) in pool, named for owner.
 * Its size is the backing volume's, else size_hint (bytes; 0: let libvirt read it).
 * *path: the new file. */
gboolean lv_vol_overlay(virConnectPtr conn, virStoragePoolPtr pool, const char *owner_uuid,
                        const char *backing, const char *backing_format, guint64 size_hint,
                        char **path, GError **error);
/* The virtual size of a domain's disk (bytes), 0 if libvirt cannot tell. */
guint64 lv_disk_capacity(virDomainPtr dom, const char *target);
/* A full, independent qcow2 copy of the disk chain that ends in `source`. */
gboolean lv_vol_copy(virConnectPtr conn, virStoragePoolPtr pool, const char *owner_uuid,
                     const char *source, char **path, GError **error);
/* Deletes volumes the driver created, if nothing needs them any more, and then whatever
 * layers below them became unneeded. Never fails the caller: problems are logged. */
void lv_vol_release(virConnectPtr conn, GPtrArray *paths);
/* Deletes the given files the driver just created (rollback of a failed operation). */
void lv_vol_discard(virConnectPtr conn, GPtrArray *paths);
/* Every volume path the driver created for owner (by name). */
GPtrArray *lv_vol_owned_by(virConnectPtr conn, const char *owner_uuid);
/* Random part of new volume names / UUIDs. */
char *lv_vol_name(const char *owner_uuid);

/* ---------- snapshots and clones (libvirt-snapshots.c) ---------- */

extern const pk_snap_ops lv_snap_ops;
gboolean lv_vm_clone(pk_conn *c, const char *id, const char *new_name, const char *snapshot,
                     guint flags, char **new_id, char **task_ref, GCancellable *cancel,
                     GError **error);

/* ---------- events and the config cache (libvirt-events.c) ---------- */

/* Loads libvirt (lv_dl_load), registers libvirt's default event loop and starts its
 * thread, once per process. Must run before the first virConnectOpen of the process. */
gboolean lv_event_loop_ensure(GError **error);
lv_events *lv_events_new(pk_conn *c);
/* Registers the domain callbacks on a new connection and starts the cache afresh (what
 * happened before went unreported); without every callback the cache stays off. */
void lv_events_attach(lv_events *ev, virConnectPtr conn);
/* Stops the cache and deregisters the callbacks (before virConnectClose). */
void lv_events_detach(lv_events *ev, virConnectPtr conn);
/* After lv_events_attach: on libvirt's event loop thread, so that it is ordered with the
 * callbacks (a change after the listing is reported after what the listing found), lists
 * every domain's state on conn and remembers them (kept up to date by the lifecycle
 * events); with `report`, after a reconnect, tells the core what changed since the previous
 * connection's events stopped (pk_conn_resync_vm_states). Never waits; a failure is logged
 * (the next list shows the truth). */
void lv_events_resync(lv_events *ev, virConnectPtr conn, gboolean report);
void lv_events_unref(lv_events *ev);
/* Between begin and end, callbacks report to the core; end waits for reports in flight,
 * so that the core's connection is not used afterwards. */
void lv_events_watch_begin(lv_events *ev);
void lv_events_watch_end(lv_events *ev);

/* Cached configuration of a domain, valid until libvirt reports a change of it. */
typedef struct lv_cached {
	pk_vm_data *d;                /* no state, no IPs */
	lv_xmlinfo info;
} lv_cached;
void lv_cached_free(lv_cached *e);
/* A copy of the entry, or NULL. *epoch: pass it back to lv_cache_store. */
lv_cached *lv_cache_lookup(lv_events *ev, const char *uuid, guint64 *epoch);
/* Tests: list states as for a platform without domain statistics (libvirt-domain.c). */
extern gboolean lv_test_no_domain_stats;

/* The template flags of n domains from the cache, under one lock (no copies):
 * tpl[i] = 1 or 0, or -1 when uuids[i] is not cached. */
void lv_cache_peek_templates(lv_events *ev, const char *const *uuids, guint n, gint8 *tpl);
guint64 lv_cache_epoch(lv_events *ev);
/* Stores a copy, unless something changed since epoch was read. */
void lv_cache_store(lv_events *ev, const char *uuid, const pk_vm_data *d,
                    const lv_xmlinfo *info, guint64 epoch);
void lv_cache_invalidate(lv_events *ev, const char *uuid);

G_END_DECLS
#endif

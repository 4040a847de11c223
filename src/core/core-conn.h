/* pk_conn: one open connection to a platform through a driver (the driver-facing side is
 * declared in driver.h). A PHT_SERVER owns at most one; VMs and jobs keep references.
 *
 * Life cycle: pk_conn_new → driver open (by the connect job) → pk_conn_activate (attach to
 * the server, start the driver's watch thread) → ... → pk_conn_shutdown (refuse new driver
 * ops, wait for those in flight, stop the watch thread, driver close). The memory lives
 * until the last reference goes. */
#ifndef PRLKIT_CORE_CONN_H
#define PRLKIT_CORE_CONN_H

#include "driver.h"
#include "core-object.h"

G_BEGIN_DECLS

typedef struct pk_server pk_server;
typedef struct pk_vm pk_vm;

/* settings: a reference is taken; uri may be NULL. */
pk_conn *pk_conn_new(const pk_driver *drv, GUri *uri, GHashTable *settings);
pk_conn *pk_conn_ref(pk_conn *c);
void pk_conn_unref(pk_conn *c);

/* The URI used when nothing else says where to connect: PRLKIT_DEFAULT_URI, else this. */
#define PK_BUILTIN_DEFAULT_URI "sim:///default"
const char *pk_conn_default_uri(void);

/* Which drivers to try, in order (NULL-terminated, g_free the array), for target: a URI
 * ("sim:///dir?speed=0", "pve://host:8006"), a driver name, or NULL (then the settings'
 * "uri" / "driver" decide; a "driver" setting with a "uri" setting uses that driver with
 * that URI; neither: the default URI). The URI's query parameters and user info fill settings not set otherwise
 * (username, password). *uri: the parsed URI or NULL. PRL_ERR_INVALID_ARG on bad input. */
gboolean pk_conn_select(const char *target, GHashTable *settings, const pk_driver ***drivers,
                        GUri **uri, GError **error);

/* After a successful open: remember srv (weakly) and start the driver's watch thread. */
void pk_conn_activate(pk_conn *c, pk_server *srv);
/* Forget the server now (it is being disposed). */
void pk_conn_detach_server(pk_conn *c);
/* Blocking (call it on a worker): see above. Idempotent; the driver's close runs once,
 * and only for a connection that was activated. */
void pk_conn_shutdown(pk_conn *c);
/* Shut down on a worker thread and drop the reference given. */
void pk_conn_shutdown_async(pk_conn *c);

/* Bracket every driver op: FALSE (PRL_ERR_NOT_CONNECTED_TO_DISPATCHER) once the connection
 * is shutting down. */
gboolean pk_conn_op_begin(pk_conn *c, GError **error);
void pk_conn_op_end(pk_conn *c);
gboolean pk_conn_is_open(pk_conn *c);

/* Immutable facts. identity: the URI without user info, query and fragment, or the driver
 * name (never a secret). */
const char *pk_conn_get_identity(pk_conn *c);
const char *pk_conn_get_session_uuid(pk_conn *c);
gboolean pk_conn_is_local(pk_conn *c);
guint64 pk_conn_get_features(pk_conn *c);
/* A new reference to the server, or NULL once it is gone or logged off. */
pk_server *pk_conn_get_server(pk_conn *c);

/* VM identity map (weak: VMs remove themselves when disposed). */
pk_vm *pk_conn_lookup_vm(pk_conn *c, const char *id);        /* new reference or NULL */
/* The live VM of that id, or else make(data) (a new VM of that id), which is stored: a new
 * reference either way. make runs under the connection's lock. */
pk_vm *pk_conn_intern_vm(pk_conn *c, const char *id, pk_vm *(*make)(gpointer), gpointer data);
void pk_conn_forget_vm(pk_conn *c, pk_vm *vm);

/* Forget what the connection knows about a VM id (after a delete). */
void pk_conn_drop_vm_state(pk_conn *c, const char *vm_id);

/* For a driver that missed platform events (it lost its connection and got a new one):
 * report what changed meanwhile, as the events would have (any thread; no lock held).
 * current: every VM there is now, id → VIRTUAL_MACHINE_STATE (GINT_TO_POINTER). before:
 * every VM there was when events stopped, id → its state then (VMS_UNKNOWN: not known), if
 * the driver knows (kept up to date by its own events); else NULL.
 * - A VM there before and now whose state differs from the one the connection reported
 *   (else from `before`'s, else from its VM object's): the state change, as
 *   pk_conn_emit_vm_state reports it (the object's cached state follows).
 * - A VM gone: PET_DSP_EVT_VM_DELETED; its reported state and its object are forgotten.
 *   With `before`, a VM known here but not in `before` is forgotten quietly (the driver
 *   reported its deletion when it happened).
 * - With `before`, a VM in current only: PET_DSP_EVT_VM_ADDED and its state. Without it, a
 *   VM the connection never reported a state for nor holds an object of gets nothing (a
 *   new VM cannot be told from one nobody asked about).
 * In the order of the ids. */
void pk_conn_resync_vm_states(pk_conn *c, GHashTable *current, GHashTable *before);

/* Features the driver has with this connection's settings. */
guint64 pk_driver_features_for(const pk_driver *drv, GHashTable *settings);

G_END_DECLS
#endif

/* PHT_SERVER: a session with one platform (at most one open pk_conn at a time), its event
 * handlers and its event thread.
 *
 * Event delivery: finished jobs and platform events are queued (GAsyncQueue) to the server's
 * event thread, created on first use, which calls the handlers in order with no lock held,
 * each with its own new handle reference (the callback frees it). Server handlers are
 * called first, then the handlers of the VM the item concerns. Nothing is queued while
 * neither has a handler. */
#ifndef PRLKIT_CORE_SERVER_H
#define PRLKIT_CORE_SERVER_H

#include "core-object.h"
#include "core-job.h"
#include "driver.h"

G_BEGIN_DECLS

/* A list of (handler, user data), protected by its owner's lock; count is readable without. */
typedef struct pk_handler_list {
	GArray *items;     /* owner's lock: pk_handler */
	gint count;        /* atomic: items->len */
} pk_handler_list;

typedef struct pk_handler {
	PRL_EVENT_HANDLER_PTR fn;
	gpointer data;
} pk_handler;

void pk_handlers_init(pk_handler_list *l);
void pk_handlers_clear(pk_handler_list *l);
/* The caller holds the owner's lock for these three. Adding a pair already there is a no-op;
 * removing a pair that is not there is PRL_ERR_INVALID_ARG. */
PRL_RESULT pk_handlers_add(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data);
PRL_RESULT pk_handlers_remove(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data);
gboolean pk_handlers_contains(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data);
/* A copy of the items (pk_handler), or NULL when empty. */
GArray *pk_handlers_copy(pk_handler_list *l);

pk_server *pk_server_new(void);
/* The open connection: a new reference, or NULL when not connected. */
pk_conn *pk_server_ref_conn(pk_server *srv);

/* Connect with a URI or driver name (target may be NULL: the settings' "uri" / "driver"
 * decide) and settings (a reference is taken). The job's result param is a
 * PHT_LOGIN_RESPONSE. */
PRL_HANDLE pk_server_connect(pk_server *srv, PRL_JOB_OPERATION_CODE op, const char *target,
                             GHashTable *settings);
PRL_HANDLE pk_server_logoff(pk_server *srv);

PRL_RESULT pk_server_add_handler(pk_server *srv, PRL_EVENT_HANDLER_PTR fn, gpointer data);
PRL_RESULT pk_server_remove_handler(pk_server *srv, PRL_EVENT_HANDLER_PTR fn, gpointer data);

/* Someone listens: a server handler, or a handler of vm (nullable). */
gboolean pk_server_wants(pk_server *srv, pk_vm *vm);
/* Queue a finished job (its VM's handlers too). */
void pk_server_deliver_job(pk_server *srv, pk_job *job);
/* Queue an event object (a reference is taken) concerning vm (nullable). */
void pk_server_deliver_event(pk_server *srv, gpointer event, pk_vm *vm);
/* Join the event threads of servers that are gone (PrlApi_Deinit). */
void pk_server_join_retired(void);

G_END_DECLS
#endif

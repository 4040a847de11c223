/* PHT_SERVER: connect/logoff, event handlers and the event thread (see core-server.h).
 *
 * The event thread belongs to the server; when the server is disposed (possibly on that very
 * thread, when a delivered item held its last reference) it queues a "quit" item and retires
 * the thread: retired threads are joined once done, and all of them by PrlApi_Deinit. Queue
 * items hold references to what they deliver, including the server, so a server with queued
 * items stays alive. */
#include "config.h"

#include "core-server.h"
#include "core-api.h"
#include "core-conn.h"
#include "core-drv.h"
#include "core-info.h"
#include "core-result.h"
#include "core-vm.h"
#include "util-log.h"

struct pk_server {
	pk_object base;
	GMutex lock;
	pk_conn *conn;               /* lock: reference; NULL when not connected */
	gboolean busy;               /* lock: a connect job is in progress */
	pk_handler_list handlers;    /* lock */
	struct event_thread *ev;     /* lock: created on first delivery */
};

/* ---------------------------------------------------------------- handlers ---- */

void pk_handlers_init(pk_handler_list *l)
{
	l->items = NULL;
	l->count = 0;
}

void pk_handlers_clear(pk_handler_list *l)
{
	if (l->items != NULL)
		g_array_unref(l->items);
	l->items = NULL;
	g_atomic_int_set(&l->count, 0);
}

static gint handlers_find(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	for (guint i = 0; l->items != NULL && i < l->items->len; i++) {
		pk_handler *h = &g_array_index(l->items, pk_handler, i);
		if (h->fn == fn && h->data == data)
			return (gint)i;
	}
	return -1;
}

PRL_RESULT pk_handlers_add(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	if (fn == NULL)
		return PRL_ERR_INVALID_ARG;
	if (handlers_find(l, fn, data) >= 0)
		return PRL_ERR_SUCCESS;
	if (l->items == NULL)
		l->items = g_array_new(FALSE, FALSE, sizeof(pk_handler));
	pk_handler h = { fn, data };
	g_array_append_val(l->items, h);
	g_atomic_int_set(&l->count, (gint)l->items->len);
	return PRL_ERR_SUCCESS;
}

PRL_RESULT pk_handlers_remove(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	gint i = fn != NULL ? handlers_find(l, fn, data) : -1;
	if (i < 0)
		return PRL_ERR_INVALID_ARG;
	g_array_remove_index(l->items, (guint)i);
	g_atomic_int_set(&l->count, (gint)l->items->len);
	return PRL_ERR_SUCCESS;
}

gboolean pk_handlers_contains(pk_handler_list *l, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	return handlers_find(l, fn, data) >= 0;
}

GArray *pk_handlers_copy(pk_handler_list *l)
{
	if (l->items == NULL || l->items->len == 0)
		return NULL;
	GArray *copy = g_array_sized_new(FALSE, FALSE, sizeof(pk_handler), l->items->len);
	g_array_append_vals(copy, l->items->data, l->items->len);
	return copy;
}

/* ---------------------------------------------------------- event thread ---- */

typedef struct {
	gpointer obj;      /* job or event (reference); NULL = quit */
	pk_server *srv;    /* reference */
	pk_vm *vm;         /* reference or NULL */
} dispatch_item;

/* An event thread. Owned by its server until the server goes, then by the retired list
 * (joined by pk_server_join_retired, or earlier once it is done). */
typedef struct event_thread {
	GAsyncQueue *queue;   /* dispatch_item*; the thread holds its own reference */
	GThread *thread;      /* immutable after start */
	gint done;            /* atomic: the thread's last act */
} event_thread;

static GMutex retired_lock;
static GSList *retired;   /* retired_lock: event_thread* told to quit */

static void join_or_detach(event_thread *ev)
{
	if (ev->thread == g_thread_self())
		g_thread_unref(ev->thread);   /* cannot join itself: its struct stays (tiny) */
	else {
		g_thread_join(ev->thread);
		g_free(ev);
	}
}

/* Join the retired threads: all of them, or only those already done (never blocks long). */
static void reap(gboolean all)
{
	g_mutex_lock(&retired_lock);
	GSList *take = NULL, *keep = NULL;
	for (GSList *l = retired; l != NULL; l = l->next) {
		event_thread *ev = l->data;
		if (all || g_atomic_int_get(&ev->done))
			take = g_slist_prepend(take, ev);
		else
			keep = g_slist_prepend(keep, ev);
	}
	g_slist_free(retired);
	retired = keep;
	g_mutex_unlock(&retired_lock);
	for (GSList *l = take; l != NULL; l = l->next)
		join_or_detach(l->data);
	g_slist_free(take);
}

void pk_server_join_retired(void)
{
	reap(TRUE);
}

static gboolean server_has_handler(pk_server *srv, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&srv->lock);
	gboolean has = pk_handlers_contains(&srv->handlers, fn, data);
	g_mutex_unlock(&srv->lock);
	return has;
}

static GArray *server_copy_handlers(pk_server *srv)
{
	g_mutex_lock(&srv->lock);
	GArray *copy = pk_handlers_copy(&srv->handlers);
	g_mutex_unlock(&srv->lock);
	return copy;
}

/* Call each handler still registered when its turn comes, with its own new reference. */
static void call_handlers(GArray *hs, gpointer obj, pk_server *srv, pk_vm *vm)
{
	for (guint i = 0; hs != NULL && i < hs->len; i++) {
		pk_handler *h = &g_array_index(hs, pk_handler, i);
		gboolean still = vm != NULL ? pk_vm_has_handler(vm, h->fn, h->data)
		                            : server_has_handler(srv, h->fn, h->data);
		if (!still)
			continue;
		h->fn(pk_object_give_ref(obj), h->data);
	}
	if (hs != NULL)
		g_array_unref(hs);
}

static gpointer event_thread_main(gpointer data)
{
	event_thread *ev = data;
	GAsyncQueue *queue = ev->queue;   /* the thread's own reference */
	pk_runtime_mark_event_thread();
	for (;;) {
		dispatch_item *it = g_async_queue_pop(queue);
		if (it->obj == NULL) {
			g_free(it);
			break;
		}
		call_handlers(server_copy_handlers(it->srv), it->obj, it->srv, NULL);
		if (it->vm != NULL)
			call_handlers(pk_vm_copy_handlers(it->vm), it->obj, it->srv, it->vm);
		pk_object_unref(it->obj);
		pk_object_unref_ptr(it->vm);
		pk_object_unref(it->srv);   /* may dispose the server: it queues our quit item */
		g_free(it);
		pk_runtime_delivery_end();
	}
	g_async_queue_unref(queue);
	g_atomic_int_set(&ev->done, 1);   /* ev belongs to the reaper from here on */
	return NULL;
}

gboolean pk_server_wants(pk_server *srv, pk_vm *vm)
{
	return g_atomic_int_get(&srv->handlers.count) > 0 || (vm != NULL && pk_vm_has_handlers(vm));
}

static void server_queue(pk_server *srv, gpointer obj, pk_vm *vm)
{
	dispatch_item *it = g_new(dispatch_item, 1);
	it->obj = pk_object_ref(obj);
	it->srv = pk_object_ref(srv);
	it->vm = vm != NULL ? pk_object_ref(vm) : NULL;

	pk_runtime_delivery_begin();
	g_mutex_lock(&srv->lock);
	if (srv->ev == NULL) {
		GError *error = NULL;
		event_thread *ev = g_new0(event_thread, 1);
		ev->queue = g_async_queue_new();
		g_async_queue_ref(ev->queue);   /* the thread's */
		ev->thread = g_thread_try_new("prlkit-events", event_thread_main, ev, &error);
		if (ev->thread == NULL) {
			g_mutex_unlock(&srv->lock);
			g_warning("cannot start an event thread: %s", error->message);
			g_error_free(error);
			g_async_queue_unref(ev->queue);
			g_async_queue_unref(ev->queue);
			g_free(ev);
			pk_object_unref(it->obj);
			pk_object_unref_ptr(it->vm);
			pk_object_unref(it->srv);
			g_free(it);
			pk_runtime_delivery_end();
			return;
		}
		srv->ev = ev;
	}
	g_async_queue_push(srv->ev->queue, it);
	g_mutex_unlock(&srv->lock);
}

void pk_server_deliver_job(pk_server *srv, pk_job *job)
{
	pk_vm *vm = pk_job_get_vm(job);
	if (pk_server_wants(srv, vm))
		server_queue(srv, job, vm);
}

void pk_server_deliver_event(pk_server *srv, gpointer event, pk_vm *vm)
{
	if (pk_server_wants(srv, vm))
		server_queue(srv, event, vm);
}

PRL_RESULT pk_server_add_handler(pk_server *srv, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&srv->lock);
	PRL_RESULT r = pk_handlers_add(&srv->handlers, fn, data);
	g_mutex_unlock(&srv->lock);
	return r;
}

PRL_RESULT pk_server_remove_handler(pk_server *srv, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&srv->lock);
	PRL_RESULT r = pk_handlers_remove(&srv->handlers, fn, data);
	g_mutex_unlock(&srv->lock);
	return r;
}

/* ---------------------------------------------------------------- object ---- */

static void server_dispose(pk_object *obj)
{
	pk_server *srv = (pk_server *)obj;
	if (srv->conn != NULL) {
		/* Nothing else uses the connection (VMs and jobs hold the server): only its watch
		 * thread may still look for us, so forget us now and close it on a worker. */
		pk_conn_detach_server(srv->conn);
		pk_conn_shutdown_async(srv->conn);
		srv->conn = NULL;
	}
	if (srv->ev != NULL) {
		/* It may be the calling thread: never join here; the reaper does. */
		event_thread *ev = srv->ev;
		g_async_queue_push(ev->queue, g_new0(dispatch_item, 1));   /* quit */
		g_async_queue_unref(ev->queue);
		ev->queue = NULL;
		g_mutex_lock(&retired_lock);
		retired = g_slist_prepend(retired, ev);
		g_mutex_unlock(&retired_lock);
		reap(FALSE);
	}
	pk_handlers_clear(&srv->handlers);
	g_mutex_clear(&srv->lock);
}

static const pk_class server_class = {
	.name = "server",
	.type = PHT_SERVER,
	.size = sizeof(pk_server),
	.dispose = server_dispose,
};

pk_server *pk_server_new(void)
{
	pk_server *srv = pk_object_new(&server_class);
	g_mutex_init(&srv->lock);
	pk_handlers_init(&srv->handlers);
	return srv;
}

pk_conn *pk_server_ref_conn(pk_server *srv)
{
	g_mutex_lock(&srv->lock);
	pk_conn *c = srv->conn != NULL ? pk_conn_ref(srv->conn) : NULL;
	g_mutex_unlock(&srv->lock);
	return c;
}

/* --------------------------------------------------------------- connect ---- */

typedef struct {
	pk_server *srv;        /* reference */
	char *target;          /* URI or driver name, nullable */
	GHashTable *settings;  /* reference */
} connect_args;

static void connect_args_free(gpointer p)
{
	connect_args *a = p;
	g_mutex_lock(&a->srv->lock);
	a->srv->busy = FALSE;
	g_mutex_unlock(&a->srv->lock);
	pk_object_unref(a->srv);
	g_free(a->target);
	g_hash_table_unref(a->settings);
	g_free(a);
}

/* Try the candidate drivers in order until one opens (a driver may decline a URI). */
static pk_conn *open_first(const pk_driver *const *drivers, GUri *uri, GHashTable *settings,
                           GCancellable *cancel, GError **error)
{
	for (const pk_driver *const *d = drivers; *d != NULL; d++) {
		pk_conn *c = pk_conn_new(*d, uri, settings);
		GError *local = NULL;
		pk_open_status st = (*d)->open(c, uri, settings, cancel, &local);
		if (st == PK_OPEN_OK) {
			g_clear_error(&local);
			return c;
		}
		pk_conn_shutdown(c);   /* never opened: only marks it closed */
		pk_conn_unref(c);
		if (st == PK_OPEN_DECLINED) {
			g_clear_error(&local);
			continue;
		}
		if (local == NULL)
			local = g_error_new(PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
			                    "the %s driver could not connect", (*d)->name);
		pk_drv_normalize_error(&local);
		g_propagate_error(error, local);
		return NULL;
	}
	g_set_error_literal(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
	                    "no driver accepted the connection");
	return NULL;
}

static gboolean connect_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	connect_args *a = data;
	const pk_driver **drivers = NULL;
	GUri *uri = NULL;
	if (!pk_conn_select(a->target, a->settings, &drivers, &uri, error))
		return FALSE;
	pk_log_add_secrets_from_settings(a->settings);
	pk_conn *c = open_first(drivers, uri, a->settings, cancel, error);
	g_free(drivers);
	if (uri != NULL)
		g_uri_unref(uri);
	if (c == NULL)
		return FALSE;

	pk_server *srv = a->srv;
	g_mutex_lock(&srv->lock);
	gboolean taken = srv->conn != NULL;
	if (!taken)
		srv->conn = pk_conn_ref(c);
	g_mutex_unlock(&srv->lock);
	pk_conn_activate(c, srv);
	if (taken) {
		pk_conn_shutdown(c);
		pk_conn_unref(c);
		g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_ACTION_REQUESTED,
		                    "the server handle is already connected");
		return FALSE;
	}

	/* The platform's version for the login response; a failure here is not a failed login. */
	pk_host_data *host = NULL;
	GError *local = NULL;
	char *version = NULL;
	if (pk_drv_host_info(c, &host, cancel, &local) && host->product_version != NULL)
		version = g_strdup(host->product_version);
	g_clear_error(&local);
	if (host != NULL)
		pk_host_data_free(host);
	if (version == NULL) {
		const pk_driver *d = pk_conn_get_driver(c);
		version = g_strdup(d->display_name != NULL ? d->display_name : d->name);
	}
	pk_login_response *lr = pk_login_response_new(pk_conn_get_session_uuid(c), version);
	pk_result_add_object(pk_job_get_result(job), lr);
	pk_object_unref(lr);
	g_free(version);
	pk_conn_unref(c);
	return TRUE;
}

PRL_HANDLE pk_server_connect(pk_server *srv, PRL_JOB_OPERATION_CODE op, const char *target,
                             GHashTable *settings)
{
	g_mutex_lock(&srv->lock);
	gboolean connected = srv->conn != NULL;
	gboolean busy = srv->busy;
	if (!connected && !busy)
		srv->busy = TRUE;
	g_mutex_unlock(&srv->lock);

	pk_job *job = pk_job_new(op, srv, NULL);
	if (connected)
		return pk_job_fail(job, PRL_ERR_INVALID_ACTION_REQUESTED,
		                   "the server handle is already connected; call PrlSrv_Logoff first");
	if (busy)
		return pk_job_fail(job, PRL_ERR_INVALID_ACTION_REQUESTED,
		                   "a login on this server handle is already in progress");
	/* Before anything can echo them (URI credentials are added when the URI is parsed). */
	pk_log_add_secrets_from_settings(settings);
	connect_args *a = g_new0(connect_args, 1);
	a->srv = pk_object_ref(srv);
	a->target = g_strdup(target);
	a->settings = g_hash_table_ref(settings);
	return pk_job_submit(job, connect_step, a, connect_args_free);
}

static gboolean logoff_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	pk_conn_shutdown(data);
	return TRUE;
}

/* Also when the job was cancelled before it ran: the connection is closed either way. */
static void logoff_free(gpointer data)
{
	pk_conn_shutdown_async(data);
}

PRL_HANDLE pk_server_logoff(pk_server *srv)
{
	g_mutex_lock(&srv->lock);
	pk_conn *c = srv->conn;
	srv->conn = NULL;
	g_mutex_unlock(&srv->lock);

	pk_job *job = pk_job_new(PJOC_SRV_LOGOFF, srv, NULL);
	if (c == NULL)
		return pk_job_fail(job, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER,
		                   "the server handle is not connected");
	pk_conn_detach_server(c);   /* no platform events after logoff */
	pk_job_set_conn(job, c);
	return pk_job_submit(job, logoff_step, c, logoff_free);
}

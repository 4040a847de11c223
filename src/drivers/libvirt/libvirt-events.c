/* Events for the libvirt driver: one process-wide thread runs libvirt's default event
 * loop; each connection registers domain callbacks that (1) invalidate its cache of
 * parsed domain configurations and (2) while the core's watcher runs, report state changes
 * with pk_conn_emit_vm_state and additions/removals with pk_conn_emit_vm_event.
 *
 * The cache is what keeps listing cheap: a list reads states for all domains in one call
 * and re-reads a domain's XML only after libvirt said that domain changed. It is emptied
 * whenever the libvirt connection is lost or replaced: events sent meanwhile are missed.
 * What they would have said is reported after a reconnect instead (resync, below). */
#include "config.h"

#include "libvirt-private.h"
#include "core-conn.h"
#include "util-log.h"

enum { CB_LIFECYCLE, CB_METADATA, CB_DEV_ADDED, CB_DEV_REMOVED, CB_AGENT, CB_COUNT };

struct lv_events {
	gint refs;                    /* atomic; libvirt holds one per registered callback */
	GMutex lock;
	GCond idle;                   /* in_emit dropped to 0 */
	pk_conn *pk;                  /* immutable; used only while `watching` */
	GHashTable *cache;            /* lock: uuid → lv_cached* */
	guint64 epoch;                /* lock: bumped by every invalidation */
	gboolean live;                /* lock: every callback registered; the cache is usable */
	gboolean watching;            /* lock */
	guint in_emit;                /* lock: callbacks reporting to the core right now */
	int ids[CB_COUNT];            /* the thread that opens, reconnects or closes the
	                               * connection (one at a time: lv_conn.reconnecting) */
	gboolean tracking;            /* lock: the lifecycle callback is registered */
	GHashTable *domains;          /* lock: the domains there are, UUID → state (VMS_UNKNOWN:
	                               * not known): the last resync's listing, kept up to date
	                               * by lifecycle events; NULL while unknown. Kept across
	                               * an outage: it is what the next resync compares with. */
};

/* ------------------------------------------------------------ event loop ---- */

static gpointer loop_main(gpointer data)
{
	for (;;) {
		if (virEventRunDefaultImpl() < 0) {
			virResetLastError();
			g_usleep(100 * 1000);
		}
	}
	return NULL;
}

static void no_timeout(int timer, void *opaque)
{
}

gboolean lv_event_loop_ensure(GError **error)
{
	static gsize done;
	static gboolean ok;
	static char *why;

	if (!lv_dl_load(error))
		return FALSE;
	if (g_once_init_enter(&done)) {
		/* A program that runs its own libvirt event loop keeps it (adding a timer works
		 * only when an implementation is registered); else libvirt's default one runs on
		 * a thread of ours, registered before our first connection is opened. */
		int probe = virEventAddTimeout(-1, no_timeout, NULL, NULL);
		if (probe >= 0) {
			virEventRemoveTimeout(probe);
			g_info("libvirt: using the program's own libvirt event loop");
			ok = TRUE;
		} else if (virEventRegisterDefaultImpl() < 0) {
			virErrorPtr e = virGetLastError();
			why = g_strdup(e != NULL && e->message ? e->message : "unknown error");
			virResetLastError();
		} else {
			virResetLastError();
			g_thread_unref(g_thread_new("prlkit-libvirt-events", loop_main, NULL));
			ok = TRUE;
		}
		g_once_init_leave(&done, 1);
	}
	if (!ok)
		return lv_set_error(error, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
		                    "cannot start libvirt's event loop: %s", why);
	return TRUE;
}

/* ----------------------------------------------------------------- cache ---- */

void lv_cached_free(lv_cached *e)
{
	if (e == NULL)
		return;
	pk_vm_data_free(e->d);
	g_free(e);
}

lv_events *lv_events_new(pk_conn *c)
{
	lv_events *ev = g_new0(lv_events, 1);
	ev->refs = 1;
	g_mutex_init(&ev->lock);
	g_cond_init(&ev->idle);
	ev->pk = c;
	ev->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                  (GDestroyNotify)lv_cached_free);
	for (int i = 0; i < CB_COUNT; i++)
		ev->ids[i] = -1;
	return ev;
}

static lv_events *events_ref(lv_events *ev)
{
	g_atomic_int_inc(&ev->refs);
	return ev;
}

void lv_events_unref(lv_events *ev)
{
	if (ev == NULL || !g_atomic_int_dec_and_test(&ev->refs))
		return;
	g_hash_table_unref(ev->cache);
	if (ev->domains != NULL)
		g_hash_table_unref(ev->domains);
	g_cond_clear(&ev->idle);
	g_mutex_clear(&ev->lock);
	g_free(ev);
}

static void events_unref_cb(void *data)
{
	lv_events_unref(data);
}

lv_cached *lv_cache_lookup(lv_events *ev, const char *uuid, guint64 *epoch)
{
	lv_cached *copy = NULL;
	g_mutex_lock(&ev->lock);
	*epoch = ev->epoch;
	lv_cached *e = ev->live ? g_hash_table_lookup(ev->cache, uuid) : NULL;
	if (e != NULL) {
		copy = g_new0(lv_cached, 1);
		copy->d = pk_vm_data_copy(e->d);
		copy->info = e->info;
	}
	g_mutex_unlock(&ev->lock);
	return copy;
}

void lv_cache_peek_templates(lv_events *ev, const char *const *uuids, guint n, gint8 *tpl)
{
	g_mutex_lock(&ev->lock);
	for (guint i = 0; i < n; i++) {
		lv_cached *e = ev->live ? g_hash_table_lookup(ev->cache, uuids[i]) : NULL;
		tpl[i] = e == NULL ? -1 : e->d->is_template ? 1 : 0;
	}
	g_mutex_unlock(&ev->lock);
}

guint64 lv_cache_epoch(lv_events *ev)
{
	g_mutex_lock(&ev->lock);
	guint64 e = ev->epoch;
	g_mutex_unlock(&ev->lock);
	return e;
}

void lv_cache_store(lv_events *ev, const char *uuid, const pk_vm_data *d,
                    const lv_xmlinfo *info, guint64 epoch)
{
	g_mutex_lock(&ev->lock);
	if (ev->live && ev->epoch == epoch) {
		lv_cached *e = g_new0(lv_cached, 1);
		e->d = pk_vm_data_copy(d);
		/* configuration only: the state and guest IPs are read fresh every time */
		g_ptr_array_set_size(e->d->ips, 0);
		g_clear_pointer(&e->d->power_state, g_free);
		g_clear_pointer(&e->d->digest, g_free);
		e->info = *info;
		g_hash_table_replace(ev->cache, g_strdup(uuid), e);
	}
	g_mutex_unlock(&ev->lock);
}

void lv_cache_invalidate(lv_events *ev, const char *uuid)
{
	g_mutex_lock(&ev->lock);
	ev->epoch++;
	if (uuid != NULL)
		g_hash_table_remove(ev->cache, uuid);
	else
		g_hash_table_remove_all(ev->cache);
	g_mutex_unlock(&ev->lock);
}

/* ------------------------------------------------------------- callbacks ---- */

/* Reports to the core only while the watcher runs; lv_events_watch waits for reports in
 * flight before it returns, so the core's connection is never used after that. */
static gboolean emit_begin(lv_events *ev)
{
	g_mutex_lock(&ev->lock);
	gboolean on = ev->watching;
	if (on)
		ev->in_emit++;
	g_mutex_unlock(&ev->lock);
	return on;
}

static void emit_end(lv_events *ev)
{
	g_mutex_lock(&ev->lock);
	if (--ev->in_emit == 0)
		g_cond_broadcast(&ev->idle);
	g_mutex_unlock(&ev->lock);
}

static void dom_uuid(virDomainPtr dom, char *buf)
{
	lv_dom_uuid(dom, buf);
}

/* The state a lifecycle event says a domain is in, or VMS_UNKNOWN. */
static VIRTUAL_MACHINE_STATE event_state(int event, int detail)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		return detail == VIR_DOMAIN_EVENT_DEFINED_ADDED ? VMS_STOPPED : VMS_UNKNOWN;
	case VIR_DOMAIN_EVENT_STARTED:
	case VIR_DOMAIN_EVENT_RESUMED:
		return VMS_RUNNING;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		return VMS_PAUSED;
	case VIR_DOMAIN_EVENT_STOPPED:
		return detail == VIR_DOMAIN_EVENT_STOPPED_SAVED ? VMS_SUSPENDED : VMS_STOPPED;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		return VMS_STOPPING;
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		return VMS_SUSPENDED;
	case VIR_DOMAIN_EVENT_CRASHED:
		return VMS_STOPPED;
	default:
		return VMS_UNKNOWN;
	}
}

/* Keeps `domains` up to date: any event but an undefinition says the domain is there, most
 * say its state (a transient domain's end is not told apart: it stays until the next
 * listing). */
static void track_domain(lv_events *ev, const char *uuid, int event, int detail,
                         VIRTUAL_MACHINE_STATE st)
{
	g_mutex_lock(&ev->lock);
	if (ev->domains != NULL) {
		if (event == VIR_DOMAIN_EVENT_UNDEFINED) {
			if (detail == VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)
				g_hash_table_remove(ev->domains, uuid);
		} else if (st != VMS_UNKNOWN || !g_hash_table_contains(ev->domains, uuid)) {
			g_hash_table_insert(ev->domains, g_strdup(uuid), GINT_TO_POINTER((gint)st));
		}
	}
	g_mutex_unlock(&ev->lock);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                        void *opaque)
{
	lv_events *ev = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];
	dom_uuid(dom, uuid);
	if (uuid[0] == '\0')
		return 0;
	VIRTUAL_MACHINE_STATE st = event_state(event, detail);
	lv_cache_invalidate(ev, uuid);
	track_domain(ev, uuid, event, detail, st);
	if (!emit_begin(ev))
		return 0;
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		pk_conn_emit_vm_event(ev->pk, uuid, detail == VIR_DOMAIN_EVENT_DEFINED_ADDED
		                                    ? PET_DSP_EVT_VM_ADDED
		                                    : PET_DSP_EVT_VM_CONFIG_CHANGED);
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		if (detail == VIR_DOMAIN_EVENT_UNDEFINED_REMOVED) {
			pk_conn_emit_vm_event(ev->pk, uuid, PET_DSP_EVT_VM_DELETED);
			/* A domain defined again with that UUID has its state reported afresh, and
			 * a resync does not report this deletion once more. */
			pk_conn_drop_vm_state(ev->pk, uuid);
		}
		break;
	default:
		break;
	}
	if (st != VMS_UNKNOWN)
		pk_conn_emit_vm_state(ev->pk, uuid, st);
	emit_end(ev);
	return 0;
}

static void invalidate_dom(lv_events *ev, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	dom_uuid(dom, uuid);
	if (uuid[0] != '\0')
		lv_cache_invalidate(ev, uuid);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                        void *opaque)
{
	lv_events *ev = opaque;
	invalidate_dom(ev, dom);
	if (!emit_begin(ev))
		return;
	char uuid[VIR_UUID_STRING_BUFLEN];
	dom_uuid(dom, uuid);
	if (uuid[0] != '\0')
		pk_conn_emit_vm_event(ev->pk, uuid, PET_DSP_EVT_VM_CONFIG_CHANGED);
	emit_end(ev);
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	invalidate_dom(opaque, dom);
}

static void on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
	invalidate_dom(opaque, dom);   /* the XML says whether the agent is connected */
}

void lv_events_attach(lv_events *ev, virConnectPtr conn)
{
	static const struct { int id; virConnectDomainEventGenericCallback cb; } cbs[CB_COUNT] = {
		[CB_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle) },
		[CB_METADATA] = { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata) },
		[CB_DEV_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(on_device) },
		[CB_DEV_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(on_device) },
		[CB_AGENT] = { VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_agent) },
	};
	gboolean all = TRUE;
	for (int i = 0; i < CB_COUNT; i++) {
		ev->ids[i] = virConnectDomainEventRegisterAny(conn, NULL, cbs[i].id, cbs[i].cb,
		                                              events_ref(ev), events_unref_cb);
		if (ev->ids[i] < 0) {
			virErrorPtr e = virGetLastError();
			g_info("libvirt: no domain events of kind %d (%s); listing re-reads every "
			       "domain", cbs[i].id, e != NULL && e->message ? e->message : "unknown");
			virResetLastError();
			lv_events_unref(ev);   /* libvirt did not take it */
			all = FALSE;
		}
	}
	/* Whatever was cached (or read before now) may predate unreported changes. */
	g_mutex_lock(&ev->lock);
	ev->epoch++;
	g_hash_table_remove_all(ev->cache);
	ev->live = all;
	ev->tracking = ev->ids[CB_LIFECYCLE] >= 0;
	g_mutex_unlock(&ev->lock);
}

void lv_events_detach(lv_events *ev, virConnectPtr conn)
{
	g_mutex_lock(&ev->lock);
	ev->live = FALSE;
	ev->epoch++;
	g_hash_table_remove_all(ev->cache);
	g_mutex_unlock(&ev->lock);
	for (int i = 0; i < CB_COUNT; i++) {
		if (ev->ids[i] >= 0 && virConnectDomainEventDeregisterAny(conn, ev->ids[i]) < 0)
			virResetLastError();
		ev->ids[i] = -1;
	}
}

/* ---------------------------------------------------------------- resync ---- */

/* On libvirt's event loop thread, like the callbacks: whatever the order in which the
 * listing and the events of the new connection come, the last report of a domain is the
 * newest (an event after the listing is dispatched after it; one before it is followed by
 * the listing's state or by a later event). Nor does the request that reconnected wait for
 * it. */
typedef struct {
	lv_events *ev;                /* a reference */
	virConnectPtr conn;           /* a reference until the listing ran */
	gboolean report;
} resync_job;

static void resync_job_free(void *data)
{
	resync_job *job = data;
	lv_conn_release(job->conn);
	lv_events_unref(job->ev);
	g_free(job);
}

static void resync_run(int timer, void *data)
{
	resync_job *job = data;
	lv_events *ev = job->ev;
	virEventRemoveTimeout(timer);
	if (job->conn == NULL)
		return;   /* ran already (a loop that fires again before the removal) */
	virConnectPtr conn = g_steal_pointer(&job->conn);
	GError *error = NULL;
	GHashTable *now = lv_dom_list_states(conn, &error);
	lv_conn_release(conn);
	if (now == NULL) {
		/* Likely lost again; the next reconnect tries again, with `domains` as it was. */
		g_info("libvirt: cannot read the domains' states after connecting (%s); changes "
		       "made while disconnected are not reported", error->message);
		g_error_free(error);
		return;
	}
	/* From now on, the domains there are: these (unless no lifecycle event keeps them up
	 * to date); before now, the previous listing and the events since. */
	g_mutex_lock(&ev->lock);
	GHashTable *before = g_steal_pointer(&ev->domains);
	if (ev->tracking) {
		ev->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		GHashTableIter it;
		gpointer uuid, st;
		g_hash_table_iter_init(&it, now);
		while (g_hash_table_iter_next(&it, &uuid, &st))
			g_hash_table_insert(ev->domains, g_strdup(uuid), st);
	}
	g_mutex_unlock(&ev->lock);
	if (job->report && emit_begin(ev)) {
		pk_conn_resync_vm_states(ev->pk, now, before);
		emit_end(ev);
	}
	if (before != NULL)
		g_hash_table_unref(before);
	g_hash_table_unref(now);
}

void lv_events_resync(lv_events *ev, virConnectPtr conn, gboolean report)
{
	g_mutex_lock(&ev->lock);
	gboolean useless = !report && !ev->tracking;   /* nothing to remember */
	g_mutex_unlock(&ev->lock);
	if (useless)
		return;
	resync_job *job = g_new0(resync_job, 1);
	job->ev = events_ref(ev);
	job->conn = conn;
	virConnectRef(conn);
	job->report = report;
	if (virEventAddTimeout(0, resync_run, job, resync_job_free) < 0) {
		virErrorPtr e = virGetLastError();
		g_info("libvirt: cannot schedule reading the domains' states (%s); changes made "
		       "while disconnected are not reported",
		       e != NULL && e->message ? e->message : "unknown error");
		virResetLastError();
		resync_job_free(job);
	}
}

void lv_events_watch_begin(lv_events *ev)
{
	g_mutex_lock(&ev->lock);
	ev->watching = TRUE;
	g_mutex_unlock(&ev->lock);
}

void lv_events_watch_end(lv_events *ev)
{
	g_mutex_lock(&ev->lock);
	ev->watching = FALSE;
	while (ev->in_emit > 0)
		g_cond_wait(&ev->idle, &ev->lock);
	g_mutex_unlock(&ev->lock);
}

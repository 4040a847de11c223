/* pk_conn: an open connection to a platform (see core-conn.h), the functions driver.h offers
 * drivers, and platform events.
 *
 * Lock order: handle table → connection → VM → job. The connection lock is never held across
 * a driver op, a wait for a thread, or while creating or freeing an object. */
#include "config.h"

#include <string.h>
#include "core-conn.h"
#include "core-job.h"
#include "core-registry.h"
#include "core-result.h"
#include "core-server.h"
#include "core-vm.h"
#include "util-log.h"
#include "util-settings.h"

typedef enum {
	CONN_NEW,        /* the driver's open runs (or failed) */
	CONN_OPEN,
	CONN_CLOSING,    /* no new driver ops; waiting for those in flight */
	CONN_CLOSED,
} conn_state;

struct pk_conn {
	gint refcount;                  /* atomic */
	const pk_driver *driver;        /* immutable */
	GUri *uri;                      /* immutable, nullable */
	GHashTable *settings;           /* immutable (the driver reads it from any thread) */
	char *identity;                 /* immutable */
	char *session_uuid;             /* immutable */
	gboolean local;                 /* immutable */
	gpointer priv;                  /* the driver's: set during open, then immutable */
	GCancellable *watch_cancel;     /* immutable */

	GMutex lock;
	GCond idle;                     /* lock: broadcast when ops drops to 0 */
	conn_state state;               /* lock */
	guint ops;                      /* lock: driver ops in flight */
	pk_server *server;              /* lock: weak; cleared before the server is freed */
	GHashTable *vms;                /* lock: id → pk_vm* (weak; keys owned by the VMs) */
	GHashTable *states;             /* lock: id → last VIRTUAL_MACHINE_STATE reported */
	GHashTable *lifecycle;          /* lock: id → last lifecycle_mark reported */
	GThread *watch;                 /* lock: the driver's watch thread, or NULL */
};

/* ------------------------------------------------------------ selection ---- */

const char *pk_conn_default_uri(void)
{
	const char *uri = g_getenv("PRLKIT_DEFAULT_URI");
	return uri != NULL && *uri != '\0' ? uri : PK_BUILTIN_DEFAULT_URI;
}

static gboolean looks_like_uri(const char *s)
{
	return strchr(s, ':') != NULL;   /* driver names never contain ':' */
}

static void set_if_absent(GHashTable *settings, const char *key, const char *value)
{
	if (value != NULL && *value != '\0' && !g_hash_table_contains(settings, key))
		g_hash_table_insert(settings, g_strdup(key), g_strdup(value));
}

static char *known_drivers(void)
{
	GString *s = g_string_new(NULL);
	for (const pk_driver *const *d = pk_driver_list(); *d != NULL; d++)
		g_string_append_printf(s, "%s%s", s->len > 0 ? ", " : "", (*d)->name);
	return g_string_free(s, FALSE);
}

/* A URI that does not parse, as an error message may show it: its user info masked
 * whole. A malformed URI's password ("pve://root:my pass@host") is found by no rule of
 * pk_redact, which stops at the space. */
static char *uri_for_message(const char *text)
{
	const char *sep = strstr(text, "://");
	const char *at = NULL;
	char *shown = NULL, *valid;
	if (sep != NULL) {
		const char *auth = sep + 3;
		const char *end = auth + strcspn(auth, "/?#");
		for (const char *p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		if (at != NULL) {
			shown = g_strdup_printf("%.*s***%s", (int)(auth - text), text, at);
			/* The password may stand elsewhere in an invalid URI too (host, path). */
			const char *colon = memchr(auth, ':', (gsize)(at - auth));
			if (colon != NULL && at - colon - 1 >= 4) {
				char *pw = g_strndup(colon + 1, (gsize)(at - colon - 1));
				GString *g = g_string_new(shown);
				g_string_replace(g, pw, "***", 0);
				g_free(shown);
				shown = g_string_free(g, FALSE);
				g_free(pw);
			}
		}
	}
	if (shown == NULL)
		shown = g_strdup(text);
	valid = g_utf8_make_valid(shown, -1);
	g_free(shown);
	shown = pk_redact(valid);
	g_free(valid);
	return shown;
}

gboolean pk_conn_select(const char *target, GHashTable *settings, const pk_driver ***drivers,
                        GUri **uri, GError **error)
{
	*drivers = NULL;
	*uri = NULL;
	const char *drv_name = g_hash_table_lookup(settings, "driver");
	const char *uri_text = g_hash_table_lookup(settings, "uri");
	if (drv_name != NULL && *drv_name == '\0')
		drv_name = NULL;
	if (uri_text != NULL && *uri_text == '\0')
		uri_text = NULL;
	if (target != NULL && *target != '\0') {
		if (looks_like_uri(target))
			uri_text = target;
		else
			drv_name = target;
	}
	if (uri_text == NULL && drv_name == NULL)
		uri_text = pk_conn_default_uri();

	GUri *u = NULL;
	if (uri_text != NULL) {
		GError *e = NULL;
		u = g_uri_parse(uri_text, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY |
		                G_URI_FLAGS_NON_DNS, &e);
		/* "sim:/.//x" parses to no host and a path "//x", which GLib cannot write back
		 * (g_uri_to_string asserts): as invalid as anything that does not parse. */
		if (u != NULL && g_uri_get_host(u) == NULL &&
		    g_str_has_prefix(g_uri_get_path(u), "//")) {
			g_clear_pointer(&u, g_uri_unref);
			g_set_error_literal(&e, G_URI_ERROR, G_URI_ERROR_BAD_PATH, "path without host");
		}
		if (u == NULL) {
			char *shown = uri_for_message(uri_text);
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG, "invalid URI '%s'", shown);
			g_free(shown);
			g_error_free(e);
			return FALSE;
		}
		if (g_uri_get_password(u) != NULL)
			pk_log_add_secret(g_uri_get_password(u));
		if (g_uri_get_query(u) != NULL) {
			GHashTable *q = pk_settings_new();
			if (!pk_settings_merge_uri_query(q, g_uri_get_query(u), error)) {
				g_hash_table_unref(q);
				g_uri_unref(u);
				return FALSE;
			}
			GHashTableIter it;
			gpointer k, v;
			g_hash_table_iter_init(&it, q);
			while (g_hash_table_iter_next(&it, &k, &v))
				set_if_absent(settings, k, v);
			g_hash_table_unref(q);
		}
		set_if_absent(settings, "username", g_uri_get_user(u));
		set_if_absent(settings, "password", g_uri_get_password(u));
	}

	GPtrArray *list = g_ptr_array_new();
	if (drv_name != NULL) {
		const pk_driver *d = pk_driver_lookup(drv_name);
		if (d == NULL) {
			char *known = known_drivers();
			char *shown = g_utf8_make_valid(drv_name, -1);
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG,
			            "unknown driver '%s' (this build has: %s)", shown, known);
			g_free(shown);
			g_free(known);
		} else {
			g_ptr_array_add(list, (gpointer)d);
		}
	} else {
		for (const pk_driver *const *d = pk_driver_list(); *d != NULL; d++)
			if (pk_driver_handles_scheme(*d, g_uri_get_scheme(u)))
				g_ptr_array_add(list, (gpointer)*d);
		if (list->len == 0) {
			char *known = known_drivers();
			char *shown = g_utf8_make_valid(g_uri_get_scheme(u), -1);
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG,
			            "no driver handles URIs of scheme '%s' (this build has: %s)",
			            shown, known);
			g_free(shown);
			g_free(known);
		}
	}
	if (list->len == 0) {
		g_ptr_array_unref(list);
		if (u != NULL)
			g_uri_unref(u);
		return FALSE;
	}
	g_ptr_array_add(list, NULL);
	*drivers = (const pk_driver **)g_ptr_array_free(list, FALSE);
	*uri = u;
	return TRUE;
}

guint64 pk_driver_features_for(const pk_driver *drv, GHashTable *settings)
{
	if (drv->features_for != NULL && settings != NULL)
		return drv->features_for(settings);
	return drv->features;
}

/* ------------------------------------------------------------ life cycle ---- */

static gboolean host_is_local(const char *host)
{
	return host == NULL || *host == '\0' || g_ascii_strcasecmp(host, "localhost") == 0 ||
	       strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0;
}

/* Settings every driver accepts (see pk_driver.settings_keys). */
static const char *const common_settings_keys[] = {
	"driver", "uri", "username", "password", "request_timeout", "ca_file", "tls_fingerprint",
	"insecure_skip_verify", "log_level", NULL,
};

/* A misspelt setting must not go unnoticed: name every one the driver will not read. */
static void warn_unknown_settings(const pk_driver *drv, GHashTable *settings)
{
	if (drv->settings_keys == NULL || settings == NULL)
		return;
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, settings);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!g_strv_contains(common_settings_keys, key) &&
		    !g_strv_contains(drv->settings_keys, key)) {
			g_autofree char *shown = g_strescape(key, NULL);
			g_warning("setting '%s' is not one the %s driver knows; ignored", shown, drv->name);
		}
}

pk_conn *pk_conn_new(const pk_driver *drv, GUri *uri, GHashTable *settings)
{
	warn_unknown_settings(drv, settings);
	pk_conn *c = g_new0(pk_conn, 1);
	c->refcount = 1;
	c->driver = drv;
	c->uri = uri != NULL ? g_uri_ref(uri) : NULL;
	c->settings = settings != NULL ? g_hash_table_ref(settings) : pk_settings_new();
	if (uri != NULL) {
		char *shown = g_uri_to_string_partial(uri, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY |
		                                      G_URI_HIDE_FRAGMENT | G_URI_HIDE_AUTH_PARAMS);
		c->identity = pk_redact(shown);   /* a path could still hold a registered secret */
		g_free(shown);
	} else {
		c->identity = g_strdup(drv->name);
	}
	c->session_uuid = g_uuid_string_random();
	c->local = uri != NULL ? host_is_local(g_uri_get_host(uri))
	                       : host_is_local(g_hash_table_lookup(c->settings, "host"));
	c->watch_cancel = g_cancellable_new();
	g_mutex_init(&c->lock);
	g_cond_init(&c->idle);
	c->state = CONN_NEW;
	c->vms = g_hash_table_new(g_str_hash, g_str_equal);
	c->states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	c->lifecycle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return c;
}

pk_conn *pk_conn_ref(pk_conn *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

void pk_conn_unref(pk_conn *c)
{
	if (!g_atomic_int_dec_and_test(&c->refcount))
		return;
	/* Every owner that opened it shut it down first (the server, at logoff or dispose). */
	g_warn_if_fail(c->state != CONN_OPEN && c->state != CONN_CLOSING);
	g_warn_if_fail(c->watch == NULL);
	if (c->uri != NULL)
		g_uri_unref(c->uri);
	g_hash_table_unref(c->settings);
	g_hash_table_unref(c->vms);
	g_hash_table_unref(c->states);
	g_hash_table_unref(c->lifecycle);
	g_object_unref(c->watch_cancel);
	g_free(c->identity);
	g_free(c->session_uuid);
	g_cond_clear(&c->idle);
	g_mutex_clear(&c->lock);
	g_free(c);
}

static gpointer watch_main(gpointer data)
{
	pk_conn *c = data;   /* alive: pk_conn_shutdown joins this thread first */
	c->driver->watch(c, c->watch_cancel);
	return NULL;
}

void pk_conn_activate(pk_conn *c, pk_server *srv)
{
	g_mutex_lock(&c->lock);
	c->state = CONN_OPEN;
	c->server = srv;
	g_mutex_unlock(&c->lock);

	if (c->driver->watch == NULL)
		return;
	GError *error = NULL;
	char *name = g_strdup_printf("prlkit-watch-%s", c->driver->name);
	GThread *t = g_thread_try_new(name, watch_main, c, &error);
	g_free(name);
	if (t == NULL) {
		g_warning("cannot start the %s driver's event watcher: %s", c->driver->name,
		          error->message);
		g_error_free(error);
		return;
	}
	g_mutex_lock(&c->lock);
	c->watch = t;
	g_mutex_unlock(&c->lock);
}

void pk_conn_detach_server(pk_conn *c)
{
	g_mutex_lock(&c->lock);
	c->server = NULL;
	g_mutex_unlock(&c->lock);
}

void pk_conn_shutdown(pk_conn *c)
{
	g_mutex_lock(&c->lock);
	if (c->state != CONN_OPEN) {
		if (c->state == CONN_NEW)
			c->state = CONN_CLOSED;
		g_mutex_unlock(&c->lock);
		return;
	}
	c->state = CONN_CLOSING;
	c->server = NULL;
	while (c->ops > 0)
		g_cond_wait(&c->idle, &c->lock);
	GThread *watch = c->watch;
	c->watch = NULL;
	g_mutex_unlock(&c->lock);

	if (watch != NULL) {
		g_cancellable_cancel(c->watch_cancel);
		g_thread_join(watch);
	}
	if (c->driver->close != NULL)
		c->driver->close(c);

	g_mutex_lock(&c->lock);
	c->state = CONN_CLOSED;
	g_mutex_unlock(&c->lock);
}

typedef struct {
	pk_work work;
	pk_conn *conn;
} shutdown_work;

static void shutdown_run(pk_work *w)
{
	shutdown_work *sw = (shutdown_work *)w;
	pk_conn_shutdown(sw->conn);
	pk_conn_unref(sw->conn);
	g_free(sw);
}

void pk_conn_shutdown_async(pk_conn *c)
{
	shutdown_work *sw = g_new0(shutdown_work, 1);
	sw->work.run = shutdown_run;
	sw->conn = c;
	pk_runtime_push(&sw->work);
}

gboolean pk_conn_op_begin(pk_conn *c, GError **error)
{
	g_mutex_lock(&c->lock);
	gboolean ok = c->state == CONN_OPEN;
	if (ok)
		c->ops++;
	g_mutex_unlock(&c->lock);
	if (!ok)
		g_set_error_literal(error, PK_ERROR, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER,
		                    "the connection to the platform was closed");
	return ok;
}

void pk_conn_op_end(pk_conn *c)
{
	g_mutex_lock(&c->lock);
	g_warn_if_fail(c->ops > 0);
	if (--c->ops == 0)
		g_cond_broadcast(&c->idle);
	g_mutex_unlock(&c->lock);
}

gboolean pk_conn_is_open(pk_conn *c)
{
	g_mutex_lock(&c->lock);
	gboolean open = c->state == CONN_OPEN;
	g_mutex_unlock(&c->lock);
	return open;
}

const char *pk_conn_get_identity(pk_conn *c)
{
	return c->identity;
}

const char *pk_conn_get_session_uuid(pk_conn *c)
{
	return c->session_uuid;
}

gboolean pk_conn_is_local(pk_conn *c)
{
	return c->local;
}

guint64 pk_conn_get_features(pk_conn *c)
{
	return pk_driver_features_for(c->driver, c->settings);
}

pk_server *pk_conn_get_server(pk_conn *c)
{
	g_mutex_lock(&c->lock);
	pk_server *srv = pk_object_try_ref(c->server);
	g_mutex_unlock(&c->lock);
	return srv;
}

/* ------------------------------------------------------- driver.h offers ---- */

void pk_conn_set_private(pk_conn *c, gpointer priv)
{
	c->priv = priv;
}

gpointer pk_conn_get_private(pk_conn *c)
{
	return c->priv;
}

const pk_driver *pk_conn_get_driver(pk_conn *c)
{
	return c->driver;
}

const char *pk_conn_get_setting(pk_conn *c, const char *key)
{
	return key != NULL ? g_hash_table_lookup(c->settings, key) : NULL;
}

GHashTable *pk_conn_get_settings(pk_conn *c)
{
	return c->settings;
}

/* -------------------------------------------------------- identity map ---- */

pk_vm *pk_conn_lookup_vm(pk_conn *c, const char *id)
{
	if (id == NULL)
		return NULL;
	g_mutex_lock(&c->lock);
	pk_vm *vm = pk_object_try_ref(g_hash_table_lookup(c->vms, id));
	g_mutex_unlock(&c->lock);
	return vm;
}

pk_vm *pk_conn_intern_vm(pk_conn *c, const char *id, pk_vm *(*make)(gpointer), gpointer data)
{
	/* One lookup and one insert under one lock: listing thousands of new VMs pays for
	 * little else. make() takes object-table locks, which never wait for this one. */
	g_mutex_lock(&c->lock);
	pk_vm *known = pk_object_try_ref(g_hash_table_lookup(c->vms, id));
	if (known == NULL) {
		known = make(data);
		/* replace, not insert: the key must be the live VM's own id string (a dying VM
		 * of the same id may still be in the map) */
		g_hash_table_replace(c->vms, (gpointer)pk_vm_get_id(known), known);
	}
	g_mutex_unlock(&c->lock);
	return known;
}

void pk_conn_forget_vm(pk_conn *c, pk_vm *vm)
{
	gpointer key = NULL, value = NULL;
	g_mutex_lock(&c->lock);
	/* Usually the entry is vm's own: steal it in one lookup, put back another's. */
	if (g_hash_table_steal_extended(c->vms, pk_vm_get_id(vm), &key, &value) && value != vm)
		g_hash_table_insert(c->vms, key, value);
	g_mutex_unlock(&c->lock);
}

void pk_conn_drop_vm_state(pk_conn *c, const char *vm_id)
{
	g_mutex_lock(&c->lock);
	g_hash_table_remove(c->states, vm_id);
	g_mutex_unlock(&c->lock);
}

/* -------------------------------------------------------------- events ---- */

/* The specific event of a state change, or 0. */
static PRL_EVENT_TYPE state_event(VIRTUAL_MACHINE_STATE prev, VIRTUAL_MACHINE_STATE state)
{
	switch (state) {
	case VMS_RUNNING:
		if (prev == VMS_PAUSED || prev == VMS_CONTINUING)
			return PET_DSP_EVT_VM_CONTINUED;
		if (prev == VMS_SUSPENDED || prev == VMS_RESUMING)
			return PET_DSP_EVT_VM_RESUMED;
		return PET_DSP_EVT_VM_STARTED;
	case VMS_STOPPED:
		return PET_DSP_EVT_VM_STOPPED;
	case VMS_PAUSED:
		return PET_DSP_EVT_VM_PAUSED;
	case VMS_SUSPENDED:
		return PET_DSP_EVT_VM_SUSPENDED;
	case VMS_SUSPENDING:
		return PET_DSP_EVT_VM_SUSPENDING;
	case VMS_RESUMING:
		return PET_DSP_EVT_VM_RESUMING;
	default:
		return (PRL_EVENT_TYPE)0;
	}
}

/* The server and live VM an event of vm_id goes to; FALSE when the connection is closing. */
static gboolean event_targets(pk_conn *c, const char *vm_id, pk_server **srv, pk_vm **vm)
{
	g_mutex_lock(&c->lock);
	gboolean open = c->state == CONN_OPEN;
	*srv = open ? pk_object_try_ref(c->server) : NULL;
	*vm = open ? pk_object_try_ref(g_hash_table_lookup(c->vms, vm_id)) : NULL;
	g_mutex_unlock(&c->lock);
	return open;
}

static void deliver_vm_event(pk_server *srv, pk_vm *vm, const char *vm_id, PRL_EVENT_TYPE type,
                             gboolean with_state, VIRTUAL_MACHINE_STATE state)
{
	pk_event *ev = pk_event_new(type, PIE_VIRTUAL_MACHINE, vm_id, srv, vm, NULL);
	if (with_state)
		pk_event_add_param_int32(ev, EVT_PARAM_VMINFO_VM_STATE, (gint32)state);
	pk_server_deliver_event(srv, ev, vm);
	pk_object_unref(ev);
}

/* Records state as vm_id's and reports it if it changed. prev_unknown: the state it changes
 * from when none was reported yet (it picks the specific event). */
static void emit_state(pk_conn *c, const char *vm_id, VIRTUAL_MACHINE_STATE state,
                       VIRTUAL_MACHINE_STATE prev_unknown)
{
	g_mutex_lock(&c->lock);
	gpointer prev_p = NULL;
	gboolean known = g_hash_table_lookup_extended(c->states, vm_id, NULL, &prev_p);
	VIRTUAL_MACHINE_STATE prev = known ? (VIRTUAL_MACHINE_STATE)GPOINTER_TO_INT(prev_p)
	                                   : prev_unknown;
	gboolean changed = c->state == CONN_OPEN && (!known || prev != state);
	if (changed)
		g_hash_table_replace(c->states, g_strdup(vm_id), GINT_TO_POINTER((gint)state));
	g_mutex_unlock(&c->lock);
	if (!changed)
		return;

	pk_server *srv;
	pk_vm *vm;
	if (!event_targets(c, vm_id, &srv, &vm))
		return;
	if (vm != NULL)
		pk_vm_set_state(vm, state);
	if (srv != NULL && pk_server_wants(srv, vm)) {
		deliver_vm_event(srv, vm, vm_id, PET_DSP_EVT_VM_STATE_CHANGED, TRUE, state);
		PRL_EVENT_TYPE specific = state_event(prev, state);
		if (specific != 0)
			deliver_vm_event(srv, vm, vm_id, specific, FALSE, state);
	}
	pk_object_unref_ptr(vm);
	pk_object_unref_ptr(srv);
}

void pk_conn_emit_vm_state(pk_conn *c, const char *vm_id, VIRTUAL_MACHINE_STATE state)
{
	if (c == NULL || vm_id == NULL || *vm_id == '\0')
		return;
	emit_state(c, vm_id, state, VMS_UNKNOWN);
}

/* A VM's creation or deletion reported to handlers, and when. */
typedef struct {
	PRL_EVENT_TYPE type;
	gint64 at_us;
} lifecycle_mark;

#define LIFECYCLE_KEEP 1024                        /* marks kept before old ones go */
#define LIFECYCLE_AGE_US (10 * G_TIME_SPAN_MINUTE)  /* "old" */

static gboolean mark_is_old(gpointer key, gpointer value, gpointer now)
{
	return *(gint64 *)now - ((lifecycle_mark *)value)->at_us > LIFECYCLE_AGE_US;
}

/* Whether this added/deleted event is news. Both the driver's event source and the job that
 * did the work report a clone or a delete: handlers hear of it once. */
static gboolean lifecycle_news(pk_conn *c, const char *vm_id, PRL_EVENT_TYPE type)
{
	gint64 now = g_get_monotonic_time();
	g_mutex_lock(&c->lock);
	lifecycle_mark *m = g_hash_table_lookup(c->lifecycle, vm_id);
	gboolean news = m == NULL || m->type != type;
	if (m == NULL) {
		if (g_hash_table_size(c->lifecycle) >= LIFECYCLE_KEEP)
			g_hash_table_foreach_remove(c->lifecycle, mark_is_old, &now);
		m = g_new(lifecycle_mark, 1);
		g_hash_table_insert(c->lifecycle, g_strdup(vm_id), m);
	}
	m->type = type;
	m->at_us = now;
	g_mutex_unlock(&c->lock);
	return news;
}

void pk_conn_emit_vm_event(pk_conn *c, const char *vm_id, PRL_EVENT_TYPE type)
{
	if (c == NULL || vm_id == NULL || *vm_id == '\0')
		return;
	if ((type == PET_DSP_EVT_VM_ADDED || type == PET_DSP_EVT_VM_DELETED) &&
	    !lifecycle_news(c, vm_id, type))
		return;
	pk_server *srv;
	pk_vm *vm;
	if (!event_targets(c, vm_id, &srv, &vm))
		return;
	if (srv != NULL && pk_server_wants(srv, vm))
		deliver_vm_event(srv, vm, vm_id, type, FALSE, VMS_UNKNOWN);
	pk_object_unref_ptr(vm);
	pk_object_unref_ptr(srv);
}

/* What the connection knows of a VM id: the last state it reported, its live VM. */
typedef struct {
	gboolean reported;
	VIRTUAL_MACHINE_STATE state;    /* reported: the last state reported */
	pk_vm *vm;                      /* a reference, or NULL */
} known_vm;

static void known_vm_free(gpointer p)
{
	known_vm *k = p;
	pk_object_unref_ptr(k->vm);
	g_free(k);
}

static known_vm *known_vm_at(GHashTable *known, const char *id)
{
	known_vm *k = g_hash_table_lookup(known, id);
	if (k == NULL) {
		k = g_new0(known_vm, 1);
		g_hash_table_insert(known, g_strdup(id), k);
	}
	return k;
}

static gint compare_ids(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void pk_conn_resync_vm_states(pk_conn *c, GHashTable *current, GHashTable *before)
{
	if (c == NULL || current == NULL)
		return;
	GHashTable *known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, known_vm_free);
	GHashTableIter it;
	gpointer key, value;
	g_mutex_lock(&c->lock);
	g_hash_table_iter_init(&it, c->states);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		known_vm *k = known_vm_at(known, key);
		k->reported = TRUE;
		k->state = (VIRTUAL_MACHINE_STATE)GPOINTER_TO_INT(value);
	}
	g_hash_table_iter_init(&it, c->vms);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		pk_vm *vm = pk_object_try_ref(value);   /* NULL: being disposed */
		if (vm != NULL)
			known_vm_at(known, key)->vm = vm;
	}
	g_mutex_unlock(&c->lock);

	/* Every id concerned, once each, in a stable order. */
	GHashTable *all = g_hash_table_new(g_str_hash, g_str_equal);
	GPtrArray *ids = g_ptr_array_new();
	GHashTable *sources[] = { known, before, before != NULL ? current : NULL };
	for (gsize s = 0; s < G_N_ELEMENTS(sources); s++) {
		if (sources[s] == NULL)
			continue;
		g_hash_table_iter_init(&it, sources[s]);
		while (g_hash_table_iter_next(&it, &key, NULL))
			if (g_hash_table_add(all, key))
				g_ptr_array_add(ids, key);
	}
	g_ptr_array_sort(ids, compare_ids);

	for (guint i = 0; i < ids->len; i++) {
		const char *id = ids->pdata[i];
		known_vm *k = g_hash_table_lookup(known, id);
		gpointer now_p = NULL, then_p = NULL;
		gboolean there = g_hash_table_lookup_extended(current, id, NULL, &now_p);
		VIRTUAL_MACHINE_STATE now = (VIRTUAL_MACHINE_STATE)GPOINTER_TO_INT(now_p);
		/* Whether it existed when events stopped: the driver's word, else what we know. */
		gboolean was = before != NULL
		             ? g_hash_table_lookup_extended(before, id, NULL, &then_p) : k != NULL;
		VIRTUAL_MACHINE_STATE then = (VIRTUAL_MACHINE_STATE)GPOINTER_TO_INT(then_p);
		if (!there) {
			/* Known here but not in `before`: its deletion was reported when it
			 * happened. */
			if (was)
				pk_conn_emit_vm_event(c, id, PET_DSP_EVT_VM_DELETED);
			if (k != NULL) {
				/* As after a delete: a VM later created with that id is a new object. */
				if (k->vm != NULL)
					pk_conn_forget_vm(c, k->vm);
				pk_conn_drop_vm_state(c, id);
			}
		} else if (!was) {
			/* New (only the driver can tell: before != NULL); a state reported for a VM
			 * of that id that went away is no base to compare with. */
			pk_conn_drop_vm_state(c, id);
			pk_conn_emit_vm_event(c, id, PET_DSP_EVT_VM_ADDED);
			emit_state(c, id, now, VMS_UNKNOWN);
		} else {
			/* The state to compare with: what handlers were told, else what the driver
			 * knew, else what the VM's object holds (from a list or get), else none. */
			VIRTUAL_MACHINE_STATE prev = k != NULL && k->reported ? k->state
			                           : then != VMS_UNKNOWN ? then
			                           : k != NULL && k->vm != NULL ? pk_vm_get_state(k->vm)
			                           : now;
			if (prev != now)
				emit_state(c, id, now, prev);
		}
	}
	g_ptr_array_unref(ids);
	g_hash_table_unref(all);
	g_hash_table_unref(known);
}

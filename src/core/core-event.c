/* PHT_EVENT and PHT_EVENT_PARAMETER.
 *
 * An event holds references on its server, VM and job: never store an event inside one of
 * those objects (that would be a reference cycle); build it when it is asked for. */
#include "config.h"

#include <string.h>

#include "core-result.h"

/* ---- PHT_EVENT_PARAMETER ---- */

struct pk_evtprm {
	pk_object parent;
	/* all immutable after creation */
	char *name;
	PRL_PARAM_FIELD_DATA_TYPE type;
	union {
		gint64 i;       /* PFD_INT32, PFD_INT64, PFD_BOOLEAN (0/1) */
		guint64 u;      /* PFD_UINT32, PFD_UINT64 */
		char *s;        /* PFD_STRING */
		gpointer obj;   /* PFD_ENTITY: a reference */
	} v;
};

static void evtprm_dispose(pk_object *obj)
{
	pk_evtprm *p = (pk_evtprm *)obj;
	if (p->type == PFD_STRING)
		g_free(p->v.s);
	else if (p->type == PFD_ENTITY)
		pk_object_unref_ptr(p->v.obj);
	g_free(p->name);
}

static char *evtprm_to_string_cb(pk_object *obj)
{
	return pk_evtprm_to_string((pk_evtprm *)obj);
}

static const pk_class evtprm_class = {
	.name = "event parameter",
	.type = PHT_EVENT_PARAMETER,
	.size = sizeof(pk_evtprm),
	.dispose = evtprm_dispose,
	.to_string = evtprm_to_string_cb,
};

static pk_evtprm *evtprm_new(const char *name, PRL_PARAM_FIELD_DATA_TYPE type)
{
	pk_evtprm *p = pk_object_new(&evtprm_class);
	p->name = g_strdup(name != NULL ? name : "");
	p->type = type;
	return p;
}

const char *pk_evtprm_get_name(pk_evtprm *p)
{
	g_return_val_if_fail(p != NULL, "");
	return p->name;
}

PRL_PARAM_FIELD_DATA_TYPE pk_evtprm_get_type(pk_evtprm *p)
{
	g_return_val_if_fail(p != NULL, PFD_UNKNOWN);
	return p->type;
}

char *pk_evtprm_to_string(pk_evtprm *p)
{
	g_return_val_if_fail(p != NULL, NULL);
	switch (p->type) {
	case PFD_INT32:
	case PFD_INT64:
		return g_strdup_printf("%" G_GINT64_FORMAT, p->v.i);
	case PFD_UINT32:
	case PFD_UINT64:
		return g_strdup_printf("%" G_GUINT64_FORMAT, p->v.u);
	case PFD_BOOLEAN:
		return g_strdup(p->v.i ? "true" : "false");
	case PFD_STRING:
		return g_strdup(p->v.s);
	case PFD_ENTITY: {
		char *s = pk_object_to_string(p->v.obj);
		return s != NULL ? s : g_strdup(((pk_object *)p->v.obj)->klass->name);
	}
	default:
		return g_strdup("");
	}
}

/* A whole trimmed decimal number; the sign decides which parser applies. */
static gboolean parse_signed(const char *text, gint64 min, gint64 max, gint64 *out)
{
	g_autofree char *t = g_strstrip(g_strdup(text));
	return *t != '\0' && g_ascii_string_to_signed(t, 10, min, max, out, NULL);
}

static gboolean parse_unsigned(const char *text, guint64 max, guint64 *out)
{
	g_autofree char *t = g_strstrip(g_strdup(text));
	/* g_ascii_string_to_unsigned rejects any sign, so "-1" is not a huge number. */
	return *t != '\0' && g_ascii_string_to_unsigned(t, 10, 0, max, out, NULL);
}

gboolean pk_evtprm_to_int64(pk_evtprm *p, gint64 min, gint64 max, gint64 *out)
{
	g_return_val_if_fail(p != NULL && out != NULL, FALSE);
	gint64 v;
	switch (p->type) {
	case PFD_INT32:
	case PFD_INT64:
	case PFD_BOOLEAN:
		v = p->v.i;
		break;
	case PFD_UINT32:
	case PFD_UINT64:
		if (p->v.u > (guint64)G_MAXINT64)
			return FALSE;
		v = (gint64)p->v.u;
		break;
	case PFD_STRING:
		return parse_signed(p->v.s, min, max, out);
	default:
		return FALSE;
	}
	if (v < min || v > max)
		return FALSE;
	*out = v;
	return TRUE;
}

gboolean pk_evtprm_to_uint64(pk_evtprm *p, guint64 max, guint64 *out)
{
	g_return_val_if_fail(p != NULL && out != NULL, FALSE);
	guint64 v;
	switch (p->type) {
	case PFD_INT32:
	case PFD_INT64:
	case PFD_BOOLEAN:
		if (p->v.i < 0)
			return FALSE;
		v = (guint64)p->v.i;
		break;
	case PFD_UINT32:
	case PFD_UINT64:
		v = p->v.u;
		break;
	case PFD_STRING:
		return parse_unsigned(p->v.s, max, out);
	default:
		return FALSE;
	}
	if (v > max)
		return FALSE;
	*out = v;
	return TRUE;
}

gboolean pk_evtprm_to_boolean(pk_evtprm *p, gboolean *out)
{
	g_return_val_if_fail(p != NULL && out != NULL, FALSE);
	switch (p->type) {
	case PFD_INT32:
	case PFD_INT64:
	case PFD_BOOLEAN:
		*out = p->v.i != 0;
		return TRUE;
	case PFD_UINT32:
	case PFD_UINT64:
		*out = p->v.u != 0;
		return TRUE;
	case PFD_STRING: {
		static const char *const yes[] = { "true", "yes", "on", NULL };
		static const char *const no[] = { "false", "no", "off", NULL };
		g_autofree char *t = g_strstrip(g_strdup(p->v.s));
		for (guint i = 0; yes[i] != NULL; i++) {
			if (g_ascii_strcasecmp(t, yes[i]) == 0) {
				*out = TRUE;
				return TRUE;
			}
			if (g_ascii_strcasecmp(t, no[i]) == 0) {
				*out = FALSE;
				return TRUE;
			}
		}
		gint64 n;
		if (parse_signed(t, G_MININT64, G_MAXINT64, &n)) {
			*out = n != 0;
			return TRUE;
		}
		return FALSE;
	}
	default:
		return FALSE;
	}
}

gpointer pk_evtprm_get_object(pk_evtprm *p)
{
	g_return_val_if_fail(p != NULL, NULL);
	if (p->type != PFD_ENTITY || p->v.obj == NULL)
		return NULL;
	return pk_object_ref(p->v.obj);
}

/* ---- PHT_EVENT ---- */

struct pk_event {
	pk_object parent;
	PRL_EVENT_TYPE type;           /* immutable */
	PRL_EVENT_ISSUER_TYPE issuer;  /* immutable */
	char *issuer_id;               /* immutable */
	gpointer server, vm, job;      /* immutable references, each may be NULL */
	GMutex lock;
	PRL_RESULT error_code;         /* lock */
	char *error_message;           /* lock */
	GPtrArray *params;             /* lock: pk_evtprm* references */
};

static void event_dispose(pk_object *obj)
{
	pk_event *ev = (pk_event *)obj;
	g_ptr_array_unref(ev->params);
	pk_object_unref_ptr(ev->server);
	pk_object_unref_ptr(ev->vm);
	pk_object_unref_ptr(ev->job);
	g_free(ev->issuer_id);
	g_free(ev->error_message);
	g_mutex_clear(&ev->lock);
}

static const pk_class event_class = {
	.name = "event",
	.type = PHT_EVENT,
	.size = sizeof(pk_event),
	.dispose = event_dispose,
};

pk_event *pk_event_new(PRL_EVENT_TYPE type, PRL_EVENT_ISSUER_TYPE issuer, const char *issuer_id,
                       gpointer server, gpointer vm, gpointer job)
{
	pk_event *ev = pk_object_new(&event_class);
	ev->type = type;
	ev->issuer = issuer;
	ev->issuer_id = g_strdup(issuer_id != NULL ? issuer_id : "");
	ev->server = server != NULL ? pk_object_ref(server) : NULL;
	ev->vm = vm != NULL ? pk_object_ref(vm) : NULL;
	ev->job = job != NULL ? pk_object_ref(job) : NULL;
	g_mutex_init(&ev->lock);
	ev->error_code = PRL_ERR_SUCCESS;
	ev->params = g_ptr_array_new_with_free_func(pk_object_unref_ptr);
	return ev;
}

void pk_event_set_error(pk_event *ev, PRL_RESULT code, const char *message)
{
	g_return_if_fail(ev != NULL);
	char *copy = g_strdup(message);
	g_mutex_lock(&ev->lock);
	ev->error_code = code;
	char *old = ev->error_message;
	ev->error_message = copy;
	g_mutex_unlock(&ev->lock);
	g_free(old);
}

static void event_add(pk_event *ev, pk_evtprm *p)
{
	g_mutex_lock(&ev->lock);
	g_ptr_array_add(ev->params, p);
	g_mutex_unlock(&ev->lock);
}

void pk_event_add_param_int32(pk_event *ev, const char *name, gint32 v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_INT32);
	p->v.i = v;
	event_add(ev, p);
}

void pk_event_add_param_uint32(pk_event *ev, const char *name, guint32 v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_UINT32);
	p->v.u = v;
	event_add(ev, p);
}

void pk_event_add_param_int64(pk_event *ev, const char *name, gint64 v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_INT64);
	p->v.i = v;
	event_add(ev, p);
}

void pk_event_add_param_uint64(pk_event *ev, const char *name, guint64 v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_UINT64);
	p->v.u = v;
	event_add(ev, p);
}

void pk_event_add_param_string(pk_event *ev, const char *name, const char *v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_STRING);
	p->v.s = g_strdup(v != NULL ? v : "");
	event_add(ev, p);
}

void pk_event_add_param_boolean(pk_event *ev, const char *name, gboolean v)
{
	g_return_if_fail(ev != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_BOOLEAN);
	p->v.i = v ? 1 : 0;
	event_add(ev, p);
}

void pk_event_add_param_handle(pk_event *ev, const char *name, gpointer obj)
{
	g_return_if_fail(ev != NULL && obj != NULL);
	pk_evtprm *p = evtprm_new(name, PFD_ENTITY);
	p->v.obj = pk_object_ref(obj);
	event_add(ev, p);
}

PRL_EVENT_TYPE pk_event_get_type(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, PET_VM_INF_UNINITIALIZED_EVENT_CODE);
	return ev->type;
}

PRL_EVENT_ISSUER_TYPE pk_event_get_issuer_type(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, PIE_DISPATCHER);
	return ev->issuer;
}

const char *pk_event_get_issuer_id(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, "");
	return ev->issuer_id;
}

static gpointer ref_or_null(gpointer obj)
{
	return obj != NULL ? pk_object_ref(obj) : NULL;
}

gpointer pk_event_get_server(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, NULL);
	return ref_or_null(ev->server);
}

gpointer pk_event_get_vm(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, NULL);
	return ref_or_null(ev->vm);
}

gpointer pk_event_get_job(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, NULL);
	return ref_or_null(ev->job);
}

PRL_RESULT pk_event_get_error(pk_event *ev, char **message)
{
	g_return_val_if_fail(ev != NULL, PRL_ERR_INVALID_ARG);
	g_mutex_lock(&ev->lock);
	PRL_RESULT code = ev->error_code;
	if (message != NULL)
		*message = g_strdup(ev->error_message);
	g_mutex_unlock(&ev->lock);
	return code;
}

guint pk_event_param_count(pk_event *ev)
{
	g_return_val_if_fail(ev != NULL, 0);
	g_mutex_lock(&ev->lock);
	guint n = ev->params->len;
	g_mutex_unlock(&ev->lock);
	return n;
}

pk_evtprm *pk_event_get_param(pk_event *ev, guint i)
{
	g_return_val_if_fail(ev != NULL, NULL);
	pk_evtprm *p = NULL;
	g_mutex_lock(&ev->lock);
	if (i < ev->params->len)
		p = pk_object_ref(g_ptr_array_index(ev->params, i));
	g_mutex_unlock(&ev->lock);
	return p;
}

pk_evtprm *pk_event_find_param(pk_event *ev, const char *name)
{
	g_return_val_if_fail(ev != NULL && name != NULL, NULL);
	pk_evtprm *p = NULL;
	g_mutex_lock(&ev->lock);
	for (guint i = 0; i < ev->params->len && p == NULL; i++) {
		pk_evtprm *cand = g_ptr_array_index(ev->params, i);
		if (strcmp(cand->name, name) == 0)
			p = pk_object_ref(cand);
	}
	g_mutex_unlock(&ev->lock);
	return p;
}

/* PHT_RESULT: an ordered list of params, each an object (handed out as a new handle) or a
 * string. Also PHT_STRINGS_LIST and PHT_HANDLES_LIST, and PHT_EVENT / PHT_EVENT_PARAMETER. */
#ifndef PRLKIT_CORE_RESULT_H
#define PRLKIT_CORE_RESULT_H

#include "core-object.h"
#include "prlkit/PrlErrors.h"

G_BEGIN_DECLS

typedef struct pk_result pk_result;
pk_result *pk_result_new(void);
void pk_result_add_object(pk_result *res, gpointer obj);   /* takes a new reference */
/* Appends every object of objs (emptied: its references move into the result). */
void pk_result_take_objects(pk_result *res, GPtrArray *objs);
void pk_result_add_string(pk_result *res, const char *s);  /* copies */
guint pk_result_count(pk_result *res);
/* Param i: *obj = a new reference (NULL for a string param) and/or *str = a copy of its
 * string form (the string, or the object's pk_object_to_string; NULL if none). Either out
 * pointer may be NULL. FALSE if i is out of range. */
gboolean pk_result_get(pk_result *res, guint i, gpointer *obj, char **str);

typedef struct pk_strlist pk_strlist;
pk_strlist *pk_strlist_new(void);
void pk_strlist_add(pk_strlist *l, const char *s);
pk_strlist *pk_strlist_new_from(GPtrArray *strings /* char*, may be NULL */);
guint pk_strlist_count(pk_strlist *l);
char *pk_strlist_get(pk_strlist *l, guint i);               /* a copy; NULL if out of range */
gboolean pk_strlist_remove(pk_strlist *l, guint i);         /* FALSE if out of range */
GPtrArray *pk_strlist_dup(pk_strlist *l);                   /* copies, g_free'd by the array */

typedef struct pk_hndlist pk_hndlist;
pk_hndlist *pk_hndlist_new(void);
void pk_hndlist_add(pk_hndlist *l, gpointer obj);           /* takes a new reference */
guint pk_hndlist_count(pk_hndlist *l);
gpointer pk_hndlist_get(pk_hndlist *l, guint i);            /* new reference; NULL if out of range */
gboolean pk_hndlist_remove(pk_hndlist *l, guint i);         /* FALSE if out of range */
/* TRUE if target is from itself or a handles list nested anywhere inside it. */
gboolean pk_hndlist_reaches(pk_hndlist *from, gpointer target);

/* Events. Params are typed (PRL_PARAM_FIELD_DATA_TYPE) and named. */
typedef struct pk_event pk_event;
/* server, vm, job: nullable; a reference is taken on each. issuer_id: VM id or "" */
pk_event *pk_event_new(PRL_EVENT_TYPE type, PRL_EVENT_ISSUER_TYPE issuer, const char *issuer_id,
                       gpointer server, gpointer vm, gpointer job);
void pk_event_set_error(pk_event *ev, PRL_RESULT code, const char *message);
void pk_event_add_param_int32(pk_event *ev, const char *name, gint32 v);
void pk_event_add_param_uint32(pk_event *ev, const char *name, guint32 v);
void pk_event_add_param_string(pk_event *ev, const char *name, const char *v);
void pk_event_add_param_boolean(pk_event *ev, const char *name, gboolean v);
void pk_event_add_param_handle(pk_event *ev, const char *name, gpointer obj);
void pk_event_add_param_int64(pk_event *ev, const char *name, gint64 v);
void pk_event_add_param_uint64(pk_event *ev, const char *name, guint64 v);

PRL_EVENT_TYPE pk_event_get_type(pk_event *ev);
PRL_EVENT_ISSUER_TYPE pk_event_get_issuer_type(pk_event *ev);
const char *pk_event_get_issuer_id(pk_event *ev);           /* immutable, never NULL */
/* New references, or NULL when the event has none. */
gpointer pk_event_get_server(pk_event *ev);
gpointer pk_event_get_vm(pk_event *ev);
gpointer pk_event_get_job(pk_event *ev);
/* The error code (PRL_ERR_SUCCESS if none) and, if message != NULL, a copy of its message
 * (NULL if none). */
PRL_RESULT pk_event_get_error(pk_event *ev, char **message);
guint pk_event_param_count(pk_event *ev);

/* PHT_EVENT_PARAMETER: immutable once created. */
typedef struct pk_evtprm pk_evtprm;
/* New references; NULL if out of range / no param of that name (first match wins). */
pk_evtprm *pk_event_get_param(pk_event *ev, guint i);
pk_evtprm *pk_event_find_param(pk_event *ev, const char *name);
const char *pk_evtprm_get_name(pk_evtprm *p);
PRL_PARAM_FIELD_DATA_TYPE pk_evtprm_get_type(pk_evtprm *p);
/* Every type has a string form: numbers in decimal, booleans "true"/"false", handles the
 * object's string form or else its class name. Newly allocated. */
char *pk_evtprm_to_string(pk_evtprm *p);
/* Numeric conversions: integer params when the value fits; string params when the whole
 * string (trimmed) is a number that fits; booleans as 0/1. FALSE otherwise. */
gboolean pk_evtprm_to_int64(pk_evtprm *p, gint64 min, gint64 max, gint64 *out);
gboolean pk_evtprm_to_uint64(pk_evtprm *p, guint64 max, guint64 *out);
/* Boolean params; integers (0 = FALSE); strings "true"/"false"/"yes"/"no"/"on"/"off"/number. */
gboolean pk_evtprm_to_boolean(pk_evtprm *p, gboolean *out);
/* Handle params only: a new reference. NULL otherwise. */
gpointer pk_evtprm_get_object(pk_evtprm *p);

G_END_DECLS
#endif

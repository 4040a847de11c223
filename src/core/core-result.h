/* PHT_RESULT: an ordered list of params, each an object (handed out as a new handle) or a
 * string. Also PHT_STRINGS_LIST and PHT_HANDLES_LIST, and PHT_EVENT / PHT_EVENT_PARAMETER. */
#ifndef PRLKIT_CORE_RESULT_H
#define PRLKIT_CORE_RESULT_H

#include "core-object.h"

G_BEGIN_DECLS

typedef struct pk_result pk_result;
pk_result *pk_result_new(void);
void pk_result_add_object(pk_result *res, gpointer obj);   /* takes a new reference */
void pk_result_add_string(pk_result *res, const char *s);  /* copies */
guint pk_result_count(pk_result *res);

typedef struct pk_strlist pk_strlist;
pk_strlist *pk_strlist_new(void);
void pk_strlist_add(pk_strlist *l, const char *s);
pk_strlist *pk_strlist_new_from(GPtrArray *strings /* char*, may be NULL */);

typedef struct pk_hndlist pk_hndlist;
pk_hndlist *pk_hndlist_new(void);
void pk_hndlist_add(pk_hndlist *l, gpointer obj);           /* takes a new reference */

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

G_END_DECLS
#endif

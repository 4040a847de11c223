/* Objects behind handles: a common header, atomic refcount, and the handle table.
 *
 * A PRL_HANDLE is an id looked up in a global table (never a pointer). Ids are never
 * reused, so a stale handle is always detected. The object's one refcount counts every
 * reference, internal or handed out; the table holds none (it is a weak map). */
#ifndef PRLKIT_CORE_OBJECT_H
#define PRLKIT_CORE_OBJECT_H

#include <glib.h>
#include "prlkit/PrlTypes.h"
#include "prlkit/PrlEnums.h"

G_BEGIN_DECLS

#define PK_OBJECT_MAGIC 0x504b4f42u /* "PKOB" */

typedef struct pk_object pk_object;

typedef struct pk_class {
	const char *name;      /* for debugging */
	PRL_HANDLE_TYPE type;
	gsize size;            /* of the whole instance struct */
	void (*dispose)(pk_object *obj); /* free members; NULL if none. Runs with no lock held. */
	/* Optional string form (newly allocated), e.g. for PrlResult_GetParamAsString on an
	 * object param; NULL = the object has none. */
	char *(*to_string)(pk_object *obj);
} pk_class;

struct pk_object {
	guint32 magic;          /* immutable; cleared on free */
	gint refcount;          /* atomic */
	const pk_class *klass;  /* immutable */
	guint64 id;             /* immutable: the handle value */
};

/* A new object (zero-filled, klass->size bytes) with refcount 1, registered in the table. */
gpointer pk_object_new(const pk_class *klass);
gpointer pk_object_ref(gpointer obj);
void pk_object_unref(gpointer obj);
/* For weak maps: a new reference, or NULL if the object is already being disposed. */
gpointer pk_object_try_ref(gpointer obj);
PRL_HANDLE_TYPE pk_object_type(gconstpointer obj);
/* The class's string form of obj (newly allocated), or NULL if its class has none. */
char *pk_object_to_string(gpointer obj);
/* The handle value of obj; no reference change. */
PRL_HANDLE pk_object_handle(gconstpointer obj);
/* Hand out a handle for a reference the caller owns (the reference moves to the caller of
 * the public API). Returns PRL_INVALID_HANDLE for NULL. */
PRL_HANDLE pk_object_give(gpointer obj);
/* Take one more reference and hand it out as a handle. */
PRL_HANDLE pk_object_give_ref(gpointer obj);

/* Resolve a handle to a new reference. type PHT_ERROR accepts any type.
 * PRL_INVALID_HANDLE or wrong type → PRL_ERR_INVALID_ARG; unknown/stale/garbage →
 * PRL_ERR_INVALID_HANDLE. *out is set only on success. */
PRL_RESULT pk_handle_get(PRL_HANDLE h, PRL_HANDLE_TYPE type, gpointer *out);
/* Drop one reference through its handle (PrlHandle_Free): atomic with the lookup, so two
 * threads freeing the same last reference cannot both succeed. Errors as pk_handle_get. */
PRL_RESULT pk_handle_free(PRL_HANDLE h);
/* Live objects of a type (PHT_ERROR = all). */
guint pk_handle_count(PRL_HANDLE_TYPE type);

static inline void pk_object_unref_ptr(gpointer p) { if (p) pk_object_unref(p); }
/* g_autoptr-style cleanup for any object pointer: `PK_AUTO pk_vm *vm = NULL;` */
#define PK_AUTO __attribute__((cleanup(pk_object_autounref)))
static inline void pk_object_autounref(void *pp) { pk_object_unref_ptr(*(gpointer *)pp); }

G_END_DECLS
#endif

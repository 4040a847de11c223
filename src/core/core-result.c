/* PHT_RESULT, PHT_STRINGS_LIST and PHT_HANDLES_LIST: small containers behind handles.
 * Each has its own mutex because a program may share a handle between threads. */
#include "config.h"

#include "core-result.h"

/* ---- PHT_RESULT ---- */

typedef struct {
	gpointer obj;   /* a reference, or NULL for a string param */
	char *str;      /* the string param, or NULL for an object param */
} pk_param;

struct pk_result {
	pk_object parent;
	GMutex lock;
	GArray *params;  /* lock: pk_param */
};

static void param_clear(gpointer p)
{
	pk_param *param = p;
	pk_object_unref_ptr(param->obj);
	g_free(param->str);
}

static void result_dispose(pk_object *obj)
{
	pk_result *res = (pk_result *)obj;
	g_array_unref(res->params);
	g_mutex_clear(&res->lock);
}

static const pk_class result_class = {
	.name = "result",
	.type = PHT_RESULT,
	.size = sizeof(pk_result),
	.dispose = result_dispose,
};

pk_result *pk_result_new(void)
{
	pk_result *res = pk_object_new(&result_class);
	g_mutex_init(&res->lock);
	res->params = g_array_new(FALSE, FALSE, sizeof(pk_param));
	g_array_set_clear_func(res->params, param_clear);
	return res;
}

void pk_result_add_object(pk_result *res, gpointer obj)
{
	g_return_if_fail(res != NULL && obj != NULL);
	pk_param p = { pk_object_ref(obj), NULL };
	g_mutex_lock(&res->lock);
	g_array_append_val(res->params, p);
	g_mutex_unlock(&res->lock);
}

void pk_result_take_objects(pk_result *res, GPtrArray *objs)
{
	g_return_if_fail(res != NULL && objs != NULL);
	g_mutex_lock(&res->lock);
	for (guint i = 0; i < objs->len; i++) {
		pk_param p = { objs->pdata[i], NULL };
		if (p.obj != NULL)
			g_array_append_val(res->params, p);
	}
	g_mutex_unlock(&res->lock);
	g_free(g_ptr_array_steal(objs, NULL));
}

void pk_result_add_string(pk_result *res, const char *s)
{
	g_return_if_fail(res != NULL);
	pk_param p = { NULL, g_strdup(s != NULL ? s : "") };
	g_mutex_lock(&res->lock);
	g_array_append_val(res->params, p);
	g_mutex_unlock(&res->lock);
}

guint pk_result_count(pk_result *res)
{
	g_return_val_if_fail(res != NULL, 0);
	g_mutex_lock(&res->lock);
	guint n = res->params->len;
	g_mutex_unlock(&res->lock);
	return n;
}

gboolean pk_result_get(pk_result *res, guint i, gpointer *obj, char **str)
{
	g_return_val_if_fail(res != NULL, FALSE);
	gpointer o = NULL;
	char *s = NULL;

	g_mutex_lock(&res->lock);
	if (i >= res->params->len) {
		g_mutex_unlock(&res->lock);
		return FALSE;
	}
	pk_param *p = &g_array_index(res->params, pk_param, i);
	if (p->obj != NULL)
		o = pk_object_ref(p->obj);
	else if (str != NULL)
		s = g_strdup(p->str);
	g_mutex_unlock(&res->lock);

	/* The object's string form is computed outside our lock: the class may lock the object. */
	if (o != NULL && str != NULL)
		s = pk_object_to_string(o);
	if (obj != NULL)
		*obj = o;
	else
		pk_object_unref_ptr(o);
	if (str != NULL)
		*str = s;
	return TRUE;
}

/* ---- PHT_STRINGS_LIST ---- */

struct pk_strlist {
	pk_object parent;
	GMutex lock;
	GPtrArray *items;  /* lock: char* */
};

static void strlist_dispose(pk_object *obj)
{
	pk_strlist *l = (pk_strlist *)obj;
	g_ptr_array_unref(l->items);
	g_mutex_clear(&l->lock);
}

static const pk_class strlist_class = {
	.name = "strings list",
	.type = PHT_STRINGS_LIST,
	.size = sizeof(pk_strlist),
	.dispose = strlist_dispose,
};

pk_strlist *pk_strlist_new(void)
{
	pk_strlist *l = pk_object_new(&strlist_class);
	g_mutex_init(&l->lock);
	l->items = g_ptr_array_new_with_free_func(g_free);
	return l;
}

pk_strlist *pk_strlist_new_from(GPtrArray *strings)
{
	pk_strlist *l = pk_strlist_new();
	if (strings != NULL) {
		for (guint i = 0; i < strings->len; i++) {
			const char *s = g_ptr_array_index(strings, i);
			g_ptr_array_add(l->items, g_strdup(s != NULL ? s : ""));
		}
	}
	return l;
}

void pk_strlist_add(pk_strlist *l, const char *s)
{
	g_return_if_fail(l != NULL);
	char *copy = g_strdup(s != NULL ? s : "");
	g_mutex_lock(&l->lock);
	g_ptr_array_add(l->items, copy);
	g_mutex_unlock(&l->lock);
}

guint pk_strlist_count(pk_strlist *l)
{
	g_return_val_if_fail(l != NULL, 0);
	g_mutex_lock(&l->lock);
	guint n = l->items->len;
	g_mutex_unlock(&l->lock);
	return n;
}

char *pk_strlist_get(pk_strlist *l, guint i)
{
	g_return_val_if_fail(l != NULL, NULL);
	char *s = NULL;
	g_mutex_lock(&l->lock);
	if (i < l->items->len)
		s = g_strdup(g_ptr_array_index(l->items, i));
	g_mutex_unlock(&l->lock);
	return s;
}

gboolean pk_strlist_remove(pk_strlist *l, guint i)
{
	g_return_val_if_fail(l != NULL, FALSE);
	gboolean ok = FALSE;
	g_mutex_lock(&l->lock);
	if (i < l->items->len) {
		g_ptr_array_remove_index(l->items, i);
		ok = TRUE;
	}
	g_mutex_unlock(&l->lock);
	return ok;
}

GPtrArray *pk_strlist_dup(pk_strlist *l)
{
	g_return_val_if_fail(l != NULL, NULL);
	g_mutex_lock(&l->lock);
	GPtrArray *copy = g_ptr_array_new_full(l->items->len, g_free);
	for (guint i = 0; i < l->items->len; i++)
		g_ptr_array_add(copy, g_strdup(g_ptr_array_index(l->items, i)));
	g_mutex_unlock(&l->lock);
	return copy;
}

/* ---- PHT_HANDLES_LIST ---- */

struct pk_hndlist {
	pk_object parent;
	GMutex lock;
	GPtrArray *items;  /* lock: pk_object* references */
};

static void hndlist_dispose(pk_object *obj)
{
	pk_hndlist *l = (pk_hndlist *)obj;
	/* Unreffing items may dispose them: that takes only their own locks, never ours. */
	g_ptr_array_unref(l->items);
	g_mutex_clear(&l->lock);
}

static const pk_class hndlist_class = {
	.name = "handles list",
	.type = PHT_HANDLES_LIST,
	.size = sizeof(pk_hndlist),
	.dispose = hndlist_dispose,
};

pk_hndlist *pk_hndlist_new(void)
{
	pk_hndlist *l = pk_object_new(&hndlist_class);
	g_mutex_init(&l->lock);
	l->items = g_ptr_array_new_with_free_func(pk_object_unref_ptr);
	return l;
}

void pk_hndlist_add(pk_hndlist *l, gpointer obj)
{
	g_return_if_fail(l != NULL && obj != NULL);
	pk_object_ref(obj);
	g_mutex_lock(&l->lock);
	g_ptr_array_add(l->items, obj);
	g_mutex_unlock(&l->lock);
}

guint pk_hndlist_count(pk_hndlist *l)
{
	g_return_val_if_fail(l != NULL, 0);
	g_mutex_lock(&l->lock);
	guint n = l->items->len;
	g_mutex_unlock(&l->lock);
	return n;
}

gpointer pk_hndlist_get(pk_hndlist *l, guint i)
{
	g_return_val_if_fail(l != NULL, NULL);
	gpointer obj = NULL;
	g_mutex_lock(&l->lock);
	if (i < l->items->len)
		obj = pk_object_ref(g_ptr_array_index(l->items, i));
	g_mutex_unlock(&l->lock);
	return obj;
}

gboolean pk_hndlist_remove(pk_hndlist *l, guint i)
{
	g_return_val_if_fail(l != NULL, FALSE);
	gpointer obj = NULL;
	g_mutex_lock(&l->lock);
	if (i < l->items->len)
		obj = g_ptr_array_steal_index(l->items, i);
	g_mutex_unlock(&l->lock);
	if (obj == NULL)
		return FALSE;
	/* Dropped outside the lock: the item may be disposed here. */
	pk_object_unref(obj);
	return TRUE;
}

gboolean pk_hndlist_reaches(pk_hndlist *from, gpointer target)
{
	g_return_val_if_fail(from != NULL, FALSE);
	if ((gpointer)from == target)
		return TRUE;
	/* Copy the nested lists out under our lock, then descend with no lock held: two lists
	 * are never locked at once. */
	g_autoptr(GPtrArray) nested = g_ptr_array_new_with_free_func(pk_object_unref_ptr);
	g_mutex_lock(&from->lock);
	for (guint i = 0; i < from->items->len; i++) {
		gpointer item = g_ptr_array_index(from->items, i);
		if (pk_object_type(item) == PHT_HANDLES_LIST)
			g_ptr_array_add(nested, pk_object_ref(item));
	}
	g_mutex_unlock(&from->lock);
	for (guint i = 0; i < nested->len; i++)
		if (pk_hndlist_reaches(g_ptr_array_index(nested, i), target))
			return TRUE;
	return FALSE;
}

/* PHT_VIRTUAL_MACHINE objects (see core-vm.h). */
#include "config.h"

#include "core-vm.h"
#include "core-conn.h"

struct pk_vm {
	pk_object base;
	pk_conn *conn;              /* immutable; reference */
	pk_server *server;          /* immutable; reference */
	char *id;                   /* immutable; also the key of the connection's map */

	GMutex lock;
	pk_vm_data *data;           /* lock; never NULL */
	pk_vm_data *edit;           /* lock: the edit copy between BeginEdit and Commit */
	pk_vm_data *edit_base;      /* lock: the data at BeginEdit (its digest guards Commit) */
	pk_handler_list handlers;   /* lock */
};

static void vm_dispose(pk_object *obj)
{
	pk_vm *vm = (pk_vm *)obj;
	pk_conn_forget_vm(vm->conn, vm);
	pk_vm_data_free(vm->data);
	if (vm->edit != NULL)
		pk_vm_data_free(vm->edit);
	if (vm->edit_base != NULL)
		pk_vm_data_free(vm->edit_base);
	pk_handlers_clear(&vm->handlers);
	g_mutex_clear(&vm->lock);
	g_free(vm->id);
	pk_object_unref(vm->server);
	pk_conn_unref(vm->conn);
}

static char *vm_to_string(pk_object *obj)
{
	return g_strdup(((pk_vm *)obj)->id);
}

static const pk_class vm_class = {
	.name = "vm",
	.type = PHT_VIRTUAL_MACHINE,
	.size = sizeof(pk_vm),
	.dispose = vm_dispose,
	.to_string = vm_to_string,
};

static pk_vm *vm_new(pk_conn *c, pk_server *srv, pk_vm_data *data)
{
	pk_vm *vm = pk_object_new(&vm_class);
	vm->conn = pk_conn_ref(c);
	vm->server = pk_object_ref(srv);
	vm->id = g_strdup(data->id);
	g_mutex_init(&vm->lock);
	vm->data = data;
	pk_handlers_init(&vm->handlers);
	return vm;
}

typedef struct {
	pk_conn *conn;
	pk_server *server;
	pk_vm_data *data;          /* taken by make_vm */
} vm_make_args;

static pk_vm *make_vm(gpointer p)
{
	vm_make_args *a = p;
	return vm_new(a->conn, a->server, g_steal_pointer(&a->data));
}

pk_vm *pk_vm_from_data(pk_conn *c, pk_server *srv, pk_vm_data *data)
{
	g_return_val_if_fail(data != NULL && data->id != NULL, NULL);
	vm_make_args a = { c, srv, data };
	pk_vm *vm = pk_conn_intern_vm(c, data->id, make_vm, &a);
	if (a.data != NULL)   /* known already: refresh it */
		pk_vm_update(vm, a.data);
	return vm;
}

GPtrArray *pk_vm_from_list(pk_conn *c, pk_server *srv, GPtrArray *datas)
{
	GPtrArray *out = g_ptr_array_new_full(datas != NULL ? datas->len : 0, pk_object_unref);
	if (datas == NULL)
		return out;
	gsize n = 0;
	gpointer *items = g_ptr_array_steal(datas, &n);
	for (gsize i = 0; i < n; i++) {
		pk_vm_data *d = items[i];
		if (d == NULL || d->id == NULL || *d->id == '\0') {
			if (d != NULL)
				pk_vm_data_free(d);
			continue;   /* a driver bug; never a crash */
		}
		g_ptr_array_add(out, pk_vm_from_data(c, srv, d));
	}
	g_free(items);
	return out;
}

const char *pk_vm_get_id(pk_vm *vm)
{
	return vm->id;
}

pk_conn *pk_vm_get_conn(pk_vm *vm)
{
	return vm->conn;
}

pk_server *pk_vm_get_server(pk_vm *vm)
{
	return vm->server;
}

void pk_vm_update(pk_vm *vm, pk_vm_data *data)
{
	g_mutex_lock(&vm->lock);
	pk_vm_data *old = vm->data;
	if (data->identity_only && !old->identity_only) {
		/* An identity list says nothing about the configuration: keep it. */
		old->is_template = data->is_template;
		old->state = data->state;
		g_free(old->name);
		old->name = g_steal_pointer(&data->name);
		g_free(old->power_state);
		old->power_state = g_steal_pointer(&data->power_state);
		g_mutex_unlock(&vm->lock);
		pk_vm_data_free(data);
		return;
	}
	vm->data = data;
	g_mutex_unlock(&vm->lock);
	pk_vm_data_free(old);
}

void pk_vm_set_state(pk_vm *vm, VIRTUAL_MACHINE_STATE state)
{
	g_mutex_lock(&vm->lock);
	if (vm->data->state != state) {
		vm->data->state = state;
		/* The platform's word described the old state. */
		g_clear_pointer(&vm->data->power_state, g_free);
	}
	g_mutex_unlock(&vm->lock);
}

VIRTUAL_MACHINE_STATE pk_vm_get_state(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	VIRTUAL_MACHINE_STATE s = vm->data->state;
	g_mutex_unlock(&vm->lock);
	return s;
}

gboolean pk_vm_is_template(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	gboolean t = vm->data->is_template;
	g_mutex_unlock(&vm->lock);
	return t;
}

pk_vm_data *pk_vm_dup_data(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	pk_vm_data *d = pk_vm_data_copy(vm->data);
	g_mutex_unlock(&vm->lock);
	return d;
}

const pk_vm_data *pk_vm_lock_config(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	return vm->edit != NULL ? vm->edit : vm->data;
}

pk_vm_data *pk_vm_lock_edit(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	if (vm->edit != NULL)
		return vm->edit;
	g_mutex_unlock(&vm->lock);
	return NULL;
}

void pk_vm_unlock(pk_vm *vm)
{
	g_mutex_unlock(&vm->lock);
}

void pk_vm_begin_edit(pk_vm *vm, pk_vm_data *data)
{
	g_mutex_lock(&vm->lock);
	pk_vm_data *old_data = NULL;
	if (data != NULL) {
		old_data = vm->data;
		vm->data = data;
	}
	pk_vm_data *old_edit = vm->edit, *old_base = vm->edit_base;
	vm->edit_base = pk_vm_data_copy(vm->data);
	vm->edit = pk_vm_data_copy(vm->data);
	g_mutex_unlock(&vm->lock);
	if (old_data != NULL)
		pk_vm_data_free(old_data);
	if (old_edit != NULL)
		pk_vm_data_free(old_edit);
	if (old_base != NULL)
		pk_vm_data_free(old_base);
}

gboolean pk_vm_take_edit(pk_vm *vm, pk_vm_data **base, pk_vm_data **edited)
{
	g_mutex_lock(&vm->lock);
	gboolean editing = vm->edit != NULL;
	*base = vm->edit_base;
	*edited = vm->edit;
	vm->edit_base = NULL;
	vm->edit = NULL;
	g_mutex_unlock(&vm->lock);
	return editing;
}

void pk_vm_restore_edit(pk_vm *vm, pk_vm_data *base, pk_vm_data *edited)
{
	g_mutex_lock(&vm->lock);
	gboolean free_them = vm->edit != NULL;   /* a new BeginEdit came meanwhile */
	if (!free_them) {
		vm->edit_base = base;
		vm->edit = edited;
	}
	g_mutex_unlock(&vm->lock);
	if (free_them) {
		pk_vm_data_free(base);
		pk_vm_data_free(edited);
	}
}

PRL_RESULT pk_vm_add_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&vm->lock);
	PRL_RESULT r = pk_handlers_add(&vm->handlers, fn, data);
	g_mutex_unlock(&vm->lock);
	return r;
}

PRL_RESULT pk_vm_remove_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&vm->lock);
	PRL_RESULT r = pk_handlers_remove(&vm->handlers, fn, data);
	g_mutex_unlock(&vm->lock);
	return r;
}

gboolean pk_vm_has_handlers(pk_vm *vm)
{
	return g_atomic_int_get(&vm->handlers.count) > 0;
}

gboolean pk_vm_has_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data)
{
	g_mutex_lock(&vm->lock);
	gboolean has = pk_handlers_contains(&vm->handlers, fn, data);
	g_mutex_unlock(&vm->lock);
	return has;
}

GArray *pk_vm_copy_handlers(pk_vm *vm)
{
	g_mutex_lock(&vm->lock);
	GArray *copy = pk_handlers_copy(&vm->handlers);
	g_mutex_unlock(&vm->lock);
	return copy;
}

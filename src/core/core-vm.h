/* PHT_VIRTUAL_MACHINE (= PHT_VM_CONFIGURATION): a VM of one connection, identity-mapped by
 * VM id (one live object per id and connection), with its cached configuration and, between
 * BeginEdit and Commit, an edit copy that the PrlVmCfg_* getters and setters work on. */
#ifndef PRLKIT_CORE_VM_H
#define PRLKIT_CORE_VM_H

#include "core-object.h"
#include "core-server.h"
#include "driver.h"

G_BEGIN_DECLS

/* The VM object of data->id on c: the live one (its cached data replaced by data) or a new
 * one. data is consumed. A new reference. */
pk_vm *pk_vm_from_data(pk_conn *c, pk_server *srv, pk_vm_data *data);
/* The same for a whole list (a driver's list result; its elements are consumed, the array
 * is left empty). Returns pk_vm* references, in order (the array unrefs them). */
GPtrArray *pk_vm_from_list(pk_conn *c, pk_server *srv, GPtrArray *datas);

/* Immutable. */
const char *pk_vm_get_id(pk_vm *vm);
pk_conn *pk_vm_get_conn(pk_vm *vm);
pk_server *pk_vm_get_server(pk_vm *vm);

/* Replace the cached data (consumed); an edit in progress is kept. Identity-only data
 * (pk_vm_data.identity_only) over full data updates only name, template flag and state. */
void pk_vm_update(pk_vm *vm, pk_vm_data *data);
void pk_vm_set_state(pk_vm *vm, VIRTUAL_MACHINE_STATE state);
VIRTUAL_MACHINE_STATE pk_vm_get_state(pk_vm *vm);
gboolean pk_vm_is_template(pk_vm *vm);
/* A copy of the cached data (not the edit copy). */
pk_vm_data *pk_vm_dup_data(pk_vm *vm);

/* Configuration access for PrlVmCfg_*: the edit copy while editing, else the cached data.
 * The VM lock is held until pk_vm_unlock. */
const pk_vm_data *pk_vm_lock_config(pk_vm *vm);
/* The edit copy with the lock held, or NULL (no lock held) when no edit is in progress. */
pk_vm_data *pk_vm_lock_edit(pk_vm *vm);
void pk_vm_unlock(pk_vm *vm);

/* BeginEdit: data (consumed, nullable = the cached data) becomes the cached data, the base of
 * the edit and the edit copy. A previous edit is discarded. */
void pk_vm_begin_edit(pk_vm *vm, pk_vm_data *data);
/* Commit takes the edit: *base (the data at BeginEdit, with its digest) and *edited.
 * FALSE when no edit is in progress. */
gboolean pk_vm_take_edit(pk_vm *vm, pk_vm_data **base, pk_vm_data **edited);
/* Give a taken edit back (the commit failed) unless a new edit began meanwhile; consumed. */
void pk_vm_restore_edit(pk_vm *vm, pk_vm_data *base, pk_vm_data *edited);

/* Event handlers of this VM. */
PRL_RESULT pk_vm_add_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data);
PRL_RESULT pk_vm_remove_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data);
gboolean pk_vm_has_handlers(pk_vm *vm);
gboolean pk_vm_has_handler(pk_vm *vm, PRL_EVENT_HANDLER_PTR fn, gpointer data);
GArray *pk_vm_copy_handlers(pk_vm *vm);   /* pk_handler items, or NULL */

G_END_DECLS
#endif

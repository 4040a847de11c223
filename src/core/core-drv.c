/* Calls into drivers (see core-drv.h for the rules every call follows). */
#include "config.h"

#include <string.h>
#include "core-drv.h"
#include "core-conn.h"

void pk_drv_normalize_error(GError **error)
{
	if (error == NULL || *error == NULL || (*error)->domain == PK_ERROR)
		return;
	GError *e = *error;
	*error = g_error_new_literal(PK_ERROR, pk_error_result(e), e->message);
	g_error_free(e);
}

static gboolean unimplemented(pk_conn *c, const char *what, GError **error)
{
	g_set_error(error, PK_ERROR, PRL_ERR_UNIMPLEMENTED, "the %s driver does not support %s",
	            pk_conn_get_driver(c)->name, what);
	return FALSE;
}

static gboolean enter(pk_conn *c, GCancellable *cancel, GError **error)
{
	if (g_cancellable_is_cancelled(cancel)) {
		g_set_error_literal(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED,
		                    "the operation was cancelled");
		return FALSE;
	}
	return pk_conn_op_begin(c, error);
}

/* Ends the op; makes sure a failure has an error in PK_ERROR. */
static gboolean leave(pk_conn *c, const char *what, gboolean ok, GError *local, GError **error)
{
	pk_conn_op_end(c);
	if (ok) {
		if (local != NULL) /* a driver bug: success with an error; keep the success */
			g_error_free(local);
		return TRUE;
	}
	if (local == NULL)
		local = g_error_new(PK_ERROR, PRL_ERR_UNEXPECTED, "the %s driver failed to %s without "
		                    "saying why", pk_conn_get_driver(c)->name, what);
	pk_drv_normalize_error(&local);
	g_propagate_error(error, local);
	return FALSE;
}

/* The shape of every wrapper: ops table, op, a short description, the call. */
#define PK_DRV_CALL(table, fn, what, ...)                                               \
	do {                                                                              \
		const pk_driver *drv_ = pk_conn_get_driver(c);                                \
		if (drv_->table == NULL || drv_->table->fn == NULL)                           \
			return unimplemented(c, what, error);                                     \
		if (!enter(c, cancel, error))                                                 \
			return FALSE;                                                             \
		GError *local_ = NULL;                                                        \
		gboolean ok_ = drv_->table->fn(c, __VA_ARGS__, cancel, &local_);              \
		return leave(c, what, ok_, local_, error);                                    \
	} while (0)

/* A driver that succeeds without its out value: report it, never crash. */
static gboolean missing_out(pk_conn *c, const char *what, GError **error)
{
	g_set_error(error, PK_ERROR, PRL_ERR_UNEXPECTED, "the %s driver returned no %s",
	            pk_conn_get_driver(c)->name, what);
	return FALSE;
}

static gboolean vm_list_raw(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                            GError **error)
{
	PK_DRV_CALL(vm, list, "list VMs", flags, out);
}

gboolean pk_drv_vm_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                        GError **error)
{
	*out = NULL;
	if (!vm_list_raw(c, flags, out, cancel, error))
		return FALSE;
	if (*out == NULL)
		*out = g_ptr_array_new();
	return TRUE;
}

static gboolean vm_get_raw(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                           GCancellable *cancel, GError **error)
{
	PK_DRV_CALL(vm, get, "read a VM", id, flags, out);
}

gboolean pk_drv_vm_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                       GCancellable *cancel, GError **error)
{
	*out = NULL;
	if (!vm_get_raw(c, id, flags, out, cancel, error))
		return FALSE;
	if (*out == NULL)
		return missing_out(c, "VM data", error);
	if ((*out)->id == NULL || *(*out)->id == '\0') {
		g_free((*out)->id);
		(*out)->id = g_strdup(id);
	}
	return TRUE;
}

gboolean pk_drv_vm_power(pk_conn *c, const char *id, pk_power_op op, guint flags,
                         char **task_ref, GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(vm, power, "change the power state of VMs", id, op, flags, task_ref);
}

gboolean pk_drv_vm_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
                          GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(vm, remove, "delete VMs", id, flags, task_ref);
}

gboolean pk_drv_vm_commit(pk_conn *c, const char *id, const pk_vm_data *old,
                          const pk_vm_data *new_, guint flags, char **task_ref,
                          GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(vm, commit, "edit VM configurations", id, old, new_, flags, task_ref);
}

gboolean pk_drv_vm_clone(pk_conn *c, const char *id, const char *new_name,
                         const char *snapshot, guint flags, char **new_id, char **task_ref,
                         GCancellable *cancel, GError **error)
{
	*new_id = NULL;
	*task_ref = NULL;
	PK_DRV_CALL(vm, clone, "clone VMs", id, new_name, snapshot, flags, new_id, task_ref);
}

static gboolean vm_statistics_raw(pk_conn *c, const char *id, pk_stats_data **out,
                                  GCancellable *cancel, GError **error)
{
	PK_DRV_CALL(vm, statistics, "VM statistics", id, out);
}

gboolean pk_drv_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out,
                              GCancellable *cancel, GError **error)
{
	*out = NULL;
	if (!vm_statistics_raw(c, id, out, cancel, error))
		return FALSE;
	return *out != NULL || missing_out(c, "statistics", error);
}

static gboolean snap_list_raw(pk_conn *c, const char *vm_id, GPtrArray **out,
                              GCancellable *cancel, GError **error)
{
	PK_DRV_CALL(snap, list, "snapshots", vm_id, out);
}

gboolean pk_drv_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out,
                          GCancellable *cancel, GError **error)
{
	*out = NULL;
	if (!snap_list_raw(c, vm_id, out, cancel, error))
		return FALSE;
	if (*out == NULL)
		*out = g_ptr_array_new();
	return TRUE;
}

gboolean pk_drv_snap_create(pk_conn *c, const char *vm_id, const char *name,
                            const char *description, guint flags, char **task_ref,
                            GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(snap, create, "creating snapshots", vm_id, name, description, flags, task_ref);
}

gboolean pk_drv_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                            char **task_ref, GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(snap, remove, "deleting snapshots", vm_id, name, flags, task_ref);
}

gboolean pk_drv_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                            char **task_ref, GCancellable *cancel, GError **error)
{
	*task_ref = NULL;
	PK_DRV_CALL(snap, revert, "reverting to snapshots", vm_id, name, flags, task_ref);
}

gboolean pk_drv_task_status(pk_conn *c, const char *task_ref, pk_task_status *out,
                            GCancellable *cancel, GError **error)
{
	memset(out, 0, sizeof(*out));
	PK_DRV_CALL(task, status, "task status", task_ref, out);
}

gboolean pk_drv_task_cancel(pk_conn *c, const char *task_ref, GCancellable *cancel,
                            GError **error)
{
	PK_DRV_CALL(task, cancel, "cancelling tasks", task_ref);
}

gboolean pk_drv_has_task_cancel(pk_conn *c)
{
	const pk_driver *drv = pk_conn_get_driver(c);
	return drv->task != NULL && drv->task->cancel != NULL;
}

guint pk_drv_task_poll_interval(pk_conn *c, const char *task_ref)
{
	const pk_driver *drv = pk_conn_get_driver(c);
	guint ms = 200;
	if (drv->task != NULL && drv->task->poll_interval_ms != NULL)
		ms = drv->task->poll_interval_ms(c, task_ref);
	return MAX(ms, 1u);
}


static gboolean host_info_raw(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                              GError **error)
{
	PK_DRV_CALL(host, info, "host information", out);
}

gboolean pk_drv_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                          GError **error)
{
	*out = NULL;
	if (!host_info_raw(c, out, cancel, error))
		return FALSE;
	return *out != NULL || missing_out(c, "host information", error);
}

static gboolean host_statistics_raw(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                    GError **error)
{
	PK_DRV_CALL(host, statistics, "host statistics", out);
}

gboolean pk_drv_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                GError **error)
{
	*out = NULL;
	if (!host_statistics_raw(c, out, cancel, error))
		return FALSE;
	return *out != NULL || missing_out(c, "host statistics", error);
}

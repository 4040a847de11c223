/* Calls into drivers. Every driver op goes through these wrappers, which:
 * - report a NULL op as PRL_ERR_UNIMPLEMENTED (the core's job, never the driver's),
 * - bracket the call with pk_conn_op_begin/end (no driver op after shutdown),
 * - refuse to start when cancel is already triggered,
 * - normalize errors: always set on FALSE, always in PK_ERROR (a G_IO_ERROR_CANCELLED
 *   becomes PRL_ERR_OPERATION_WAS_CANCELED).
 * They hold no lock across the call. */
#ifndef PRLKIT_CORE_DRV_H
#define PRLKIT_CORE_DRV_H

#include "driver.h"

G_BEGIN_DECLS

gboolean pk_drv_vm_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                        GError **error);
gboolean pk_drv_vm_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                       GCancellable *cancel, GError **error);
gboolean pk_drv_vm_power(pk_conn *c, const char *id, pk_power_op op, guint flags,
                         char **task_ref, GCancellable *cancel, GError **error);
gboolean pk_drv_vm_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
                          GCancellable *cancel, GError **error);
gboolean pk_drv_vm_commit(pk_conn *c, const char *id, const pk_vm_data *old,
                          const pk_vm_data *new_, guint flags, char **task_ref,
                          GCancellable *cancel, GError **error);
gboolean pk_drv_vm_clone(pk_conn *c, const char *id, const char *new_name,
                         const char *snapshot, guint flags, char **new_id, char **task_ref,
                         GCancellable *cancel, GError **error);
gboolean pk_drv_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out,
                              GCancellable *cancel, GError **error);

gboolean pk_drv_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out,
                          GCancellable *cancel, GError **error);
gboolean pk_drv_snap_create(pk_conn *c, const char *vm_id, const char *name,
                            const char *description, guint flags, char **task_ref,
                            GCancellable *cancel, GError **error);
gboolean pk_drv_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                            char **task_ref, GCancellable *cancel, GError **error);
gboolean pk_drv_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                            char **task_ref, GCancellable *cancel, GError **error);

gboolean pk_drv_task_status(pk_conn *c, const char *task_ref, pk_task_status *out,
                            GCancellable *cancel, GError **error);
gboolean pk_drv_task_cancel(pk_conn *c, const char *task_ref, GCancellable *cancel,
                            GError **error);
gboolean pk_drv_has_task_cancel(pk_conn *c);
/* ms between status checks of task_ref (driver's choice, default 200, at least 1). */
guint pk_drv_task_poll_interval(pk_conn *c, const char *task_ref);

gboolean pk_drv_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                          GError **error);
gboolean pk_drv_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                GError **error);

/* Any error → PK_ERROR with a PRL_RESULT code (message kept). */
void pk_drv_normalize_error(GError **error);

G_END_DECLS
#endif

/* The operations behind the asynchronous public functions: each builds a job on a
 * validated server or VM and submits its steps (driver op → follow the backend task →
 * complete: refresh what changed, emit events, fill the result). */
#ifndef PRLKIT_CORE_OPS_H
#define PRLKIT_CORE_OPS_H

#include "core-job.h"
#include "driver.h"

G_BEGIN_DECLS

/* Server: these fail with PRL_ERR_NOT_CONNECTED_TO_DISPATCHER when not connected. */
/* Result: VM handles. flags: PK_GET_* for the driver. */
PRL_HANDLE pk_ops_srv_vm_list(pk_server *srv, guint flags);
/* Result: the VM handle. search_flags: PGVC_SEARCH_BY_UUID / _NAME (0 = id, then name). */
PRL_HANDLE pk_ops_srv_vm_config(pk_server *srv, const char *search, guint search_flags);
PRL_HANDLE pk_ops_srv_config(pk_server *srv);          /* result: PHT_SERVER_CONFIG */
PRL_HANDLE pk_ops_srv_statistics(pk_server *srv);      /* result: PHT_SYSTEM_STATISTICS */

/* VM. */
PRL_HANDLE pk_ops_vm_power(pk_vm *vm, PRL_JOB_OPERATION_CODE op, pk_power_op power);
PRL_HANDLE pk_ops_vm_delete(pk_vm *vm);
/* snapshot NULL = the current state. Result: the new VM handle. */
PRL_HANDLE pk_ops_vm_clone(pk_vm *vm, PRL_JOB_OPERATION_CODE op, const char *name,
                           const char *snapshot, guint flags);
/* PJOC_VM_GET_STATE (result: PHT_VM_INFO) or PJOC_VM_REFRESH_CONFIG (result: the VM). */
PRL_HANDLE pk_ops_vm_refresh(pk_vm *vm, PRL_JOB_OPERATION_CODE op);
PRL_HANDLE pk_ops_vm_begin_edit(pk_vm *vm);
PRL_HANDLE pk_ops_vm_commit(pk_vm *vm);
PRL_HANDLE pk_ops_vm_statistics(pk_vm *vm);            /* result: PHT_SYSTEM_STATISTICS */
/* Result: the snapshot id (its name) as a string. */
PRL_HANDLE pk_ops_snap_create(pk_vm *vm, const char *name, const char *description, guint flags);
PRL_HANDLE pk_ops_snap_remove(pk_vm *vm, const char *name, guint flags);
PRL_HANDLE pk_ops_snap_revert(pk_vm *vm, const char *name);
PRL_HANDLE pk_ops_snap_tree(pk_vm *vm);                /* result: XML string */
PRL_HANDLE pk_ops_snap_list(pk_vm *vm);                /* result: id strings, oldest first */

/* The SDK-shaped snapshot tree (snapshots: pk_snapshot_data*, oldest first). */
char *pk_ops_snapshots_xml(GPtrArray *snapshots);

/* After the backend work of op on vm_id succeeded (in this job, or a task attached from
 * elsewhere): refresh the VM's cached data, emit events, and for clones put the new VM
 * (the job's target VM id) in the result. */
gboolean pk_ops_complete(pk_job *job, PRL_JOB_OPERATION_CODE op, const char *vm_id,
                         GCancellable *cancel, GError **error);

G_END_DECLS
#endif

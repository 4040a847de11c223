/* PrlVm_*: operations on a virtual machine (asynchronous unless noted). */
#include "config.h"

#include "api-async.h"
#include "core-ops.h"
#include "core-vm.h"

#define PK_VM_ASYNC(hVm, op, vm)                                    \
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(op);                         \
	PK_AUTO pk_vm *vm = NULL;                                       \
	PK_ASYNC_GET(hVm, PHT_VIRTUAL_MACHINE, vm, op, "VM")

static PRL_HANDLE vm_fail(pk_vm *vm, PRL_JOB_OPERATION_CODE op, PRL_RESULT code,
                          const char *message)
{
	return pk_job_fail(pk_job_new(op, NULL, vm), code, "%s", message);
}

PRL_ASYNC_METHOD(PrlVm_Start)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_START, vm);
	return pk_ops_vm_power(vm, PJOC_VM_START, PK_POWER_START);
}

/* nStartMode: 0 or PSM_VM_START (other SDK start modes are not supported). */
PRL_ASYNC_METHOD(PrlVm_StartEx)(PRL_HANDLE hVm, PRL_UINT32 nStartMode, PRL_UINT32 nReserved)
{
	PK_VM_ASYNC(hVm, PJOC_VM_START_EX, vm);
	if (nStartMode != 0 && nStartMode != PSM_VM_START)
		return vm_fail(vm, PJOC_VM_START_EX, PRL_ERR_UNIMPLEMENTED,
		               "this start mode is not supported (use PSM_VM_START)");
	return pk_ops_vm_power(vm, PJOC_VM_START_EX, PK_POWER_START);
}

PRL_ASYNC_METHOD(PrlVm_Stop)(PRL_HANDLE hVm, PRL_BOOL bGraceful)
{
	PK_VM_ASYNC(hVm, PJOC_VM_STOP, vm);
	return pk_ops_vm_power(vm, PJOC_VM_STOP,
	                       bGraceful ? PK_POWER_STOP_GRACEFUL : PK_POWER_STOP_HARD);
}

/* PSM_KILL = power off; PSM_SHUTDOWN and PSM_ACPI = guest shutdown. */
PRL_ASYNC_METHOD(PrlVm_StopEx)(PRL_HANDLE hVm, PRL_UINT32 nStopMode, PRL_UINT32 nFlags)
{
	PK_VM_ASYNC(hVm, PJOC_VM_STOP, vm);
	switch (nStopMode) {
	case PSM_KILL:
		return pk_ops_vm_power(vm, PJOC_VM_STOP, PK_POWER_STOP_HARD);
	case PSM_SHUTDOWN:
	case PSM_ACPI:
		return pk_ops_vm_power(vm, PJOC_VM_STOP, PK_POWER_STOP_GRACEFUL);
	default:
		return vm_fail(vm, PJOC_VM_STOP, PRL_ERR_INVALID_ARG,
		               "unknown stop mode (use PSM_KILL, PSM_SHUTDOWN or PSM_ACPI)");
	}
}

PRL_ASYNC_METHOD(PrlVm_Pause)(PRL_HANDLE hVm, PRL_BOOL bAcpi)
{
	PK_VM_ASYNC(hVm, PJOC_VM_PAUSE, vm);
	return pk_ops_vm_power(vm, PJOC_VM_PAUSE, PK_POWER_PAUSE);
}

PRL_ASYNC_METHOD(PrlVm_Suspend)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_SUSPEND, vm);
	return pk_ops_vm_power(vm, PJOC_VM_SUSPEND, PK_POWER_SUSPEND);
}

/* From paused or suspended (the SDK reports it as a start). */
PRL_ASYNC_METHOD(PrlVm_Resume)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_START, vm);
	return pk_ops_vm_power(vm, PJOC_VM_START, PK_POWER_RESUME);
}

PRL_ASYNC_METHOD(PrlVm_Reset)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_RESET, vm);
	return pk_ops_vm_power(vm, PJOC_VM_RESET, PK_POWER_RESET);
}

PRL_ASYNC_METHOD(PrlVm_Restart)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_RESTART, vm);
	return pk_ops_vm_power(vm, PJOC_VM_RESTART, PK_POWER_RESTART);
}

PRL_ASYNC_METHOD(PrlVm_GetState)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_GET_STATE, vm);
	return pk_ops_vm_refresh(vm, PJOC_VM_GET_STATE);
}

PRL_ASYNC_METHOD(PrlVm_RefreshConfig)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_REFRESH_CONFIG, vm);
	return pk_ops_vm_refresh(vm, PJOC_VM_REFRESH_CONFIG);
}

/* Synchronous: the configuration is the VM object itself, with one more reference. */
PRL_METHOD(PrlVm_GetConfig)(PRL_HANDLE hVm, PRL_HANDLE_PTR phVmCfg)
{
	if (phVmCfg == NULL)
		return PRL_ERR_INVALID_ARG;
	pk_vm *vm = NULL;
	PK_SYNC_GET(hVm, PHT_VIRTUAL_MACHINE, vm);
	*phVmCfg = pk_object_give(vm);
	return PRL_ERR_SUCCESS;
}

PRL_ASYNC_METHOD(PrlVm_BeginEdit)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_BEGIN_EDIT, vm);
	return pk_ops_vm_begin_edit(vm);
}

PRL_ASYNC_METHOD(PrlVm_Commit)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_COMMIT, vm);
	return pk_ops_vm_commit(vm);
}

/* hDevicesList: PRL_INVALID_HANDLE or a strings list; the platform deletes the VM's disks
 * in any case. */
PRL_ASYNC_METHOD(PrlVm_Delete)(PRL_HANDLE hVm, PRL_HANDLE hDevicesList)
{
	PK_VM_ASYNC(hVm, PJOC_VM_DELETE, vm);
	if (hDevicesList != PRL_INVALID_HANDLE) {
		PK_AUTO pk_object *list = NULL;
		PRL_RESULT r = pk_handle_get(hDevicesList, PHT_STRINGS_LIST, (gpointer *)&list);
		if (PRL_FAILED(r))
			return vm_fail(vm, PJOC_VM_DELETE, r, "hDevicesList is not a strings list");
	}
	return pk_ops_vm_delete(vm);
}

static PRL_HANDLE clone(pk_vm *vm, PRL_JOB_OPERATION_CODE op, const char *name,
                        const char *snapshot, PRL_UINT32 sdk_flags)
{
	if (name == NULL || *name == '\0')
		return vm_fail(vm, op, PRL_ERR_VM_EMPTY_NAME_OF_CLONE, "the name of the clone is empty");
	guint flags = 0;
	if (sdk_flags & PCVF_LINKED_CLONE)
		flags |= PK_CLONE_LINKED;
	if (sdk_flags & PCVF_CLONE_TO_TEMPLATE)
		flags |= PK_CLONE_TO_TEMPLATE;
	return pk_ops_vm_clone(vm, op, name, snapshot, flags);
}

/* new_vm_root_path is ignored: the platform places the clone. */
PRL_ASYNC_METHOD(PrlVm_Clone)(PRL_HANDLE hVm, PRL_CONST_STR new_vm_name,
                              PRL_CONST_STR new_vm_root_path, PRL_BOOL bCreateTemplate)
{
	PK_VM_ASYNC(hVm, PJOC_VM_CLONE, vm);
	return clone(vm, PJOC_VM_CLONE, new_vm_name, NULL,
	             bCreateTemplate ? PCVF_CLONE_TO_TEMPLATE : 0);
}

PRL_ASYNC_METHOD(PrlVm_CloneEx)(PRL_HANDLE hVm, PRL_CONST_STR new_vm_name,
                                PRL_CONST_STR new_vm_root_path, PRL_UINT32 nFlags)
{
	PK_VM_ASYNC(hVm, PJOC_VM_CLONE, vm);
	return clone(vm, PJOC_VM_CLONE, new_vm_name, NULL, nFlags);
}

PRL_ASYNC_METHOD(PrlVm_CloneFromSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sNewName,
                                          PRL_CONST_STR sSnapshotId, PRL_UINT32 nFlags)
{
	PK_VM_ASYNC(hVm, PJOC_VM_CLONE_FROM_SNAPSHOT, vm);
	return clone(vm, PJOC_VM_CLONE_FROM_SNAPSHOT, sNewName, sSnapshotId, nFlags);
}

/* ---- snapshots (ids are names) ---- */

static gboolean empty(const char *s)
{
	return s == NULL || *s == '\0';
}

PRL_ASYNC_METHOD(PrlVm_CreateSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sName,
                                       PRL_CONST_STR sDescription)
{
	PK_VM_ASYNC(hVm, PJOC_VM_CREATE_SNAPSHOT, vm);
	if (empty(sName))
		return vm_fail(vm, PJOC_VM_CREATE_SNAPSHOT, PRL_ERR_INVALID_ARG,
		               "a snapshot needs a name (its id in prlkit)");
	return pk_ops_snap_create(vm, sName, sDescription, 0);
}

PRL_ASYNC_METHOD(PrlVm_ReplaceSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sName,
                                        PRL_CONST_STR sDescription)
{
	PK_VM_ASYNC(hVm, PJOC_VM_CREATE_SNAPSHOT, vm);
	if (empty(sName))
		return vm_fail(vm, PJOC_VM_CREATE_SNAPSHOT, PRL_ERR_INVALID_ARG,
		               "a snapshot needs a name (its id in prlkit)");
	return pk_ops_snap_create(vm, sName, sDescription, PK_SNAP_REPLACE);
}

PRL_ASYNC_METHOD(PrlVm_SwitchToSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotUuid)
{
	PK_VM_ASYNC(hVm, PJOC_VM_SWITCH_TO_SNAPSHOT, vm);
	if (empty(sSnapshotUuid))
		return vm_fail(vm, PJOC_VM_SWITCH_TO_SNAPSHOT, PRL_ERR_INVALID_ARG,
		               "empty snapshot id");
	return pk_ops_snap_revert(vm, sSnapshotUuid);
}

PRL_ASYNC_METHOD(PrlVm_DeleteSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotUuid,
                                       PRL_BOOL bChild)
{
	PK_VM_ASYNC(hVm, PJOC_VM_DELETE_SNAPSHOT, vm);
	if (empty(sSnapshotUuid))
		return vm_fail(vm, PJOC_VM_DELETE_SNAPSHOT, PRL_ERR_INVALID_ARG, "empty snapshot id");
	return pk_ops_snap_remove(vm, sSnapshotUuid, bChild ? PK_SNAP_WITH_CHILDREN : 0);
}

PRL_ASYNC_METHOD(PrlVm_DeleteSnapshotIfExists)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotId)
{
	PK_VM_ASYNC(hVm, PJOC_VM_DELETE_SNAPSHOT, vm);
	if (empty(sSnapshotId))
		return vm_fail(vm, PJOC_VM_DELETE_SNAPSHOT, PRL_ERR_INVALID_ARG, "empty snapshot id");
	return pk_ops_snap_remove(vm, sSnapshotId, PK_SNAP_MISSING_OK);
}

PRL_ASYNC_METHOD(PrlVm_GetSnapshotsTree)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_GET_SNAPSHOTS_TREE, vm);
	return pk_ops_snap_tree(vm);
}

PRL_ASYNC_METHOD(PrlVm_GetSnapshotsList)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_GET_SNAPSHOTS_LIST, vm);
	return pk_ops_snap_list(vm);
}

PRL_ASYNC_METHOD(PrlVm_GetStatistics)(PRL_HANDLE hVm)
{
	PK_VM_ASYNC(hVm, PJOC_VM_GET_STATISTICS, vm);
	return pk_ops_vm_statistics(vm);
}

PRL_METHOD(PrlVm_RegEventHandler)(PRL_HANDLE hVm, PRL_EVENT_HANDLER_PTR handler,
                                  PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hVm, PHT_VIRTUAL_MACHINE, handler, userData, TRUE);
}

PRL_METHOD(PrlVm_UnregEventHandler)(PRL_HANDLE hVm, PRL_EVENT_HANDLER_PTR handler,
                                    PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hVm, PHT_VIRTUAL_MACHINE, handler, userData, FALSE);
}

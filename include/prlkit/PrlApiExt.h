/* prlkit — extensions: things the Parallels SDK has no way to say. MIT license.
 * Every function here is a prlkit extension; portable SDK programs do not need them. */
#ifndef PRLKIT_PRLAPIEXT_H
#define PRLKIT_PRLAPIEXT_H

#include "PrlApiCore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Driver feature bits (PrlSrv_GetDriverInfo, PrlApi_GetDriverFeatures). */
#define PRLK_FEAT_SUSPEND              (1ULL << 0)  /* suspend/resume a running VM */
#define PRLK_FEAT_SNAPSHOTS            (1ULL << 1)  /* create/list/revert/delete */
#define PRLK_FEAT_CLONE                (1ULL << 2)  /* full clones */
#define PRLK_FEAT_CLONE_FROM_SNAPSHOT  (1ULL << 3)  /* clone the state of a named snapshot */
#define PRLK_FEAT_LINKED_CLONE         (1ULL << 4)  /* PCVF_LINKED_CLONE honoured */
#define PRLK_FEAT_TEMPLATES            (1ULL << 5)  /* VM <-> template conversion */
#define PRLK_FEAT_REVERSIBLE_TEMPLATES (1ULL << 6)  /* a template can become a VM again */
#define PRLK_FEAT_GUEST_IPS            (1ULL << 7)  /* guest IP addresses reported */
#define PRLK_FEAT_EVENTS               (1ULL << 8)  /* platform state-change events */
#define PRLK_FEAT_PAUSE                (1ULL << 9)  /* pause/continue */
#define PRLK_FEAT_RESET                (1ULL << 10) /* hard reset */
#define PRLK_FEAT_RESTART              (1ULL << 11) /* guest reboot */
#define PRLK_FEAT_EDIT                 (1ULL << 12) /* BeginEdit/Commit of name, RAM, CPUs, description */
#define PRLK_FEAT_STATISTICS           (1ULL << 13) /* host and VM statistics */
#define PRLK_FEAT_TASK_IDS             (1ULL << 14) /* task ids resolvable from another process */
#define PRLK_FEAT_DELETE               (1ULL << 15) /* delete VMs */

/* Connect with a driver name or URI and a JSON settings object (what CPF provider/connect
 * carries). Either argument may be NULL: the settings' "driver"/"uri" keys then decide. */
PRL_ASYNC_METHOD(PrlSrv_Connect)(PRL_HANDLE hServer, PRL_CONST_STR sUriOrDriver,
                                 PRL_CONST_STR sSettingsJson, PRL_UINT32 nFlags);
/* Name and feature bits of the driver behind a connected server. */
PRL_METHOD(PrlSrv_GetDriverInfo)(PRL_HANDLE hServer, PRL_STR sName, PRL_UINT32_PTR pnNameBufLength,
                                 PRL_UINT64_PTR pnFeatures);
/* Feature bits a driver would have with these settings, without connecting. */
PRL_METHOD(PrlApi_GetDriverFeatures)(PRL_CONST_STR sUriOrDriver, PRL_CONST_STR sSettingsJson,
                                     PRL_UINT64_PTR pnFeatures);

/* Snapshots (ids are names in prlkit). */
PRL_ASYNC_METHOD(PrlVm_CloneFromSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sNewName,
                                          PRL_CONST_STR sSnapshotId, PRL_UINT32 nFlags);
/* Result params: snapshot ids as strings, oldest first. */
PRL_ASYNC_METHOD(PrlVm_GetSnapshotsList)(PRL_HANDLE hVm);
/* Create sName, replacing an existing snapshot of that name, as one task. */
PRL_ASYNC_METHOD(PrlVm_ReplaceSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sName,
                                        PRL_CONST_STR sDescription);
/* Delete a snapshot; a snapshot that does not exist is success. */
PRL_ASYNC_METHOD(PrlVm_DeleteSnapshotIfExists)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotId);

/* What the platform reports, as new PHT_STRINGS_LIST handles. */
PRL_METHOD(PrlVmCfg_GetIpAddresses)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phStrList);
PRL_METHOD(PrlVmCfg_GetMacAddresses)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phStrList);
/* The platform's own guest OS word (e.g. "win11", "l26"); "" when unknown. */
PRL_METHOD(PrlVmCfg_GetOsTypeName)(PRL_HANDLE hVmCfg, PRL_STR sName, PRL_UINT32_PTR pnNameBufLength);
/* The platform's raw state word (e.g. "running", "paused"). */
PRL_METHOD(PrlVmInfo_GetPowerStateName)(PRL_HANDLE hVmInfo, PRL_STR sName,
                                        PRL_UINT32_PTR pnNameBufLength);

/* Task ids: see DESIGN "Task ids". Waits up to nTimeoutMs until the platform accepted the
 * work (or the job finished) and returns an opaque id any process can resolve. */
PRL_METHOD(PrlJob_GetTaskId)(PRL_HANDLE hJob, PRL_UINT32 nTimeoutMs, PRL_STR sTaskId,
                             PRL_UINT32_PTR pnTaskIdBufLength);
/* Id of the VM the job acts on or creates (a clone's id as soon as the platform accepted
 * it); PRL_ERR_NO_DATA while not yet known. */
PRL_METHOD(PrlJob_GetVmId)(PRL_HANDLE hJob, PRL_STR sVmId, PRL_UINT32_PTR pnVmIdBufLength);
/* One status check of a task id; result param: a PHT_RUNNING_TASK handle. */
PRL_ASYNC_METHOD(PrlSrv_GetTaskInfo)(PRL_HANDLE hServer, PRL_CONST_STR sTaskId);

PRL_METHOD(PrlRunningTask_GetTaskUuid)(PRL_HANDLE hTask, PRL_STR sTaskUuid,
                                       PRL_UINT32_PTR pnTaskUuidBufLength);
/* PJS_RUNNING or PJS_FINISHED. */
PRL_METHOD(PrlRunningTask_GetState)(PRL_HANDLE hTask, PRL_JOB_STATUS_PTR pnState);
/* PRL_ERR_OPERATION_PENDING while running. */
PRL_METHOD(PrlRunningTask_GetRetCode)(PRL_HANDLE hTask, PRL_RESULT_PTR pnRetCode);
PRL_METHOD(PrlRunningTask_GetMessage)(PRL_HANDLE hTask, PRL_STR sMessage,
                                      PRL_UINT32_PTR pnMessageBufLength);
/* A PHT_RESULT (e.g. holding the cloned VM); PRL_ERR_OPERATION_PENDING while running. */
PRL_METHOD(PrlRunningTask_GetResult)(PRL_HANDLE hTask, PRL_HANDLE_PTR phResult);
/* Id of the VM the task acts on or creates. */
PRL_METHOD(PrlRunningTask_GetVmId)(PRL_HANDLE hTask, PRL_STR sVmId, PRL_UINT32_PTR pnVmIdBufLength);

#ifdef __cplusplus
}
#endif
#endif

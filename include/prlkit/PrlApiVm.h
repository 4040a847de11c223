/* prlkit — virtual machine, configuration and device functions. MIT license. */
#ifndef PRLKIT_PRLAPIVM_H
#define PRLKIT_PRLAPIVM_H

#include "PrlApiCore.h"

#ifdef __cplusplus
extern "C" {
#endif

PRL_ASYNC_METHOD(PrlVm_Start)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_StartEx)(PRL_HANDLE hVm, PRL_UINT32 nStartMode, PRL_UINT32 nReserved);
PRL_ASYNC_METHOD(PrlVm_Stop)(PRL_HANDLE hVm, PRL_BOOL bGraceful);
PRL_ASYNC_METHOD(PrlVm_StopEx)(PRL_HANDLE hVm, PRL_UINT32 nStopMode, PRL_UINT32 nFlags);
PRL_ASYNC_METHOD(PrlVm_Pause)(PRL_HANDLE hVm, PRL_BOOL bAcpi);
PRL_ASYNC_METHOD(PrlVm_Suspend)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_Resume)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_Reset)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_Restart)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_GetState)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_RefreshConfig)(PRL_HANDLE hVm);
PRL_METHOD(PrlVm_GetConfig)(PRL_HANDLE hVm, PRL_HANDLE_PTR phVmCfg);
PRL_ASYNC_METHOD(PrlVm_BeginEdit)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_Commit)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_Delete)(PRL_HANDLE hVm, PRL_HANDLE hDevicesList);
PRL_ASYNC_METHOD(PrlVm_Clone)(PRL_HANDLE hVm, PRL_CONST_STR new_vm_name,
                              PRL_CONST_STR new_vm_root_path, PRL_BOOL bCreateTemplate);
PRL_ASYNC_METHOD(PrlVm_CloneEx)(PRL_HANDLE hVm, PRL_CONST_STR new_vm_name,
                                PRL_CONST_STR new_vm_root_path, PRL_UINT32 nFlags);
PRL_ASYNC_METHOD(PrlVm_CreateSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sName,
                                       PRL_CONST_STR sDescription);
PRL_ASYNC_METHOD(PrlVm_SwitchToSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotUuid);
PRL_ASYNC_METHOD(PrlVm_DeleteSnapshot)(PRL_HANDLE hVm, PRL_CONST_STR sSnapshotUuid,
                                       PRL_BOOL bChild);
PRL_ASYNC_METHOD(PrlVm_GetSnapshotsTree)(PRL_HANDLE hVm);
PRL_ASYNC_METHOD(PrlVm_GetStatistics)(PRL_HANDLE hVm);
PRL_METHOD(PrlVm_RegEventHandler)(PRL_HANDLE hVm, PRL_EVENT_HANDLER_PTR handler,
                                  PRL_VOID_PTR userData);
PRL_METHOD(PrlVm_UnregEventHandler)(PRL_HANDLE hVm, PRL_EVENT_HANDLER_PTR handler,
                                    PRL_VOID_PTR userData);

/* Configuration: synchronous, on the VM handle's cached configuration. */
PRL_METHOD(PrlVmCfg_GetName)(PRL_HANDLE hVmCfg, PRL_STR sVmName, PRL_UINT32_PTR pnVmNameBufLength);
PRL_METHOD(PrlVmCfg_SetName)(PRL_HANDLE hVmCfg, PRL_CONST_STR sNewVmName);
PRL_METHOD(PrlVmCfg_GetUuid)(PRL_HANDLE hVmCfg, PRL_STR sVmUuid, PRL_UINT32_PTR pnVmUuidBufLength);
PRL_METHOD(PrlVmCfg_GetDescription)(PRL_HANDLE hVmCfg, PRL_STR sVmDescription,
                                    PRL_UINT32_PTR pnVmDescriptionBufLength);
PRL_METHOD(PrlVmCfg_SetDescription)(PRL_HANDLE hVmCfg, PRL_CONST_STR sNewVmDescription);
PRL_METHOD(PrlVmCfg_GetOsType)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmOsType);
PRL_METHOD(PrlVmCfg_GetOsVersion)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmOsVersion);
PRL_METHOD(PrlVmCfg_GetRamSize)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmRamSize);
PRL_METHOD(PrlVmCfg_SetRamSize)(PRL_HANDLE hVmCfg, PRL_UINT32 nVmRamSize);
PRL_METHOD(PrlVmCfg_GetCpuCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmCpuCount);
PRL_METHOD(PrlVmCfg_SetCpuCount)(PRL_HANDLE hVmCfg, PRL_UINT32 nVmCpuCount);
PRL_METHOD(PrlVmCfg_IsTemplate)(PRL_HANDLE hVmCfg, PRL_BOOL_PTR pbVmIsTemplate);
PRL_METHOD(PrlVmCfg_SetTemplateSign)(PRL_HANDLE hVmCfg, PRL_BOOL bVmIsTemplate);
PRL_METHOD(PrlVmCfg_GetVmInfo)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phVmInfo);
PRL_METHOD(PrlVmCfg_GetHardDisksCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnHardDisksCount);
PRL_METHOD(PrlVmCfg_GetHardDisk)(PRL_HANDLE hVmCfg, PRL_UINT32 nIndex, PRL_HANDLE_PTR phDevice);
PRL_METHOD(PrlVmCfg_GetNetAdaptersCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnNetAdaptersCount);
PRL_METHOD(PrlVmCfg_GetNetAdapter)(PRL_HANDLE hVmCfg, PRL_UINT32 nIndex, PRL_HANDLE_PTR phDevice);

PRL_METHOD(PrlVmDev_GetType)(PRL_HANDLE hVmDev, PRL_DEVICE_TYPE_PTR pnType);
PRL_METHOD(PrlVmDev_GetImagePath)(PRL_HANDLE hVmDev, PRL_STR sImagePath,
                                  PRL_UINT32_PTR pnImagePathBufLength);
PRL_METHOD(PrlVmDevHd_GetDiskSize)(PRL_HANDLE hVmDev, PRL_UINT32_PTR pnDiskSize);
PRL_METHOD(PrlVmDevNet_GetMacAddress)(PRL_HANDLE hVmDev, PRL_STR sMacAddress,
                                      PRL_UINT32_PTR pnMacAddressBufLength);

PRL_METHOD(PrlVmInfo_GetState)(PRL_HANDLE hVmInfo, VIRTUAL_MACHINE_STATE_PTR pVmState);

#ifdef __cplusplus
}
#endif
#endif

/* prlkit — server (connection) functions. MIT license. */
#ifndef PRLKIT_PRLAPIDISP_H
#define PRLKIT_PRLAPIDISP_H

#include "PrlApiCore.h"

#ifdef __cplusplus
extern "C" {
#endif

PRL_METHOD(PrlSrv_Create)(PRL_HANDLE_PTR handle);
/* host: a host name or a prlkit URI (pve://host:8006, libvirt+qemu:///system, sim:///dir). */
PRL_ASYNC_METHOD(PrlSrv_Login)(PRL_HANDLE hServer, PRL_CONST_STR host, PRL_CONST_STR user,
                               PRL_CONST_STR passwd, PRL_CONST_STR sPrevSessionUuid,
                               PRL_UINT32 port_cmd, PRL_UINT32 timeout,
                               PRL_SECURITY_LEVEL security_level);
PRL_ASYNC_METHOD(PrlSrv_LoginEx)(PRL_HANDLE hServer, PRL_CONST_STR host, PRL_CONST_STR user,
                                 PRL_CONST_STR passwd, PRL_CONST_STR sPrevSessionUuid,
                                 PRL_UINT32 port_cmd, PRL_UINT32 timeout,
                                 PRL_SECURITY_LEVEL security_level, PRL_UINT32 flags);
PRL_ASYNC_METHOD(PrlSrv_LoginLocal)(PRL_HANDLE hServer, PRL_CONST_STR sPrevSessionUuid,
                                    PRL_UINT32 port, PRL_SECURITY_LEVEL security_level);
PRL_ASYNC_METHOD(PrlSrv_LoginLocalEx)(PRL_HANDLE hServer, PRL_CONST_STR sPrevSessionUuid,
                                      PRL_UINT32 port, PRL_SECURITY_LEVEL security_level,
                                      PRL_UINT32 flags);
PRL_ASYNC_METHOD(PrlSrv_Logoff)(PRL_HANDLE hServer);
PRL_METHOD(PrlSrv_IsConnected)(PRL_HANDLE hServer, PRL_BOOL_PTR pbConnected,
                               PRL_BOOL_PTR pbIsConnectionLocal);
PRL_METHOD(PrlSrv_RegEventHandler)(PRL_HANDLE hServer, PRL_EVENT_HANDLER_PTR handler,
                                   PRL_VOID_PTR userData);
PRL_METHOD(PrlSrv_UnregEventHandler)(PRL_HANDLE hServer, PRL_EVENT_HANDLER_PTR handler,
                                     PRL_VOID_PTR userData);
PRL_ASYNC_METHOD(PrlSrv_GetSrvConfig)(PRL_HANDLE hServer);
PRL_ASYNC_METHOD(PrlSrv_GetVmList)(PRL_HANDLE hServer);
PRL_ASYNC_METHOD(PrlSrv_GetVmListEx)(PRL_HANDLE hServer, PRL_UINT32 nFlags);
PRL_ASYNC_METHOD(PrlSrv_GetVmConfig)(PRL_HANDLE hServer, PRL_CONST_STR sSearchId,
                                     PRL_UINT32 nFlags);
PRL_ASYNC_METHOD(PrlSrv_GetStatistics)(PRL_HANDLE hServer);
PRL_ASYNC_METHOD(PrlSrv_AttachToLostTask)(PRL_HANDLE hServer, PRL_CONST_STR sTaskId);

PRL_METHOD(PrlLoginResponse_GetSessionUuid)(PRL_HANDLE hLoginResp, PRL_STR sSessionUuid,
                                            PRL_UINT32_PTR pnSessionUuidBufLength);
PRL_METHOD(PrlLoginResponse_GetProductVersion)(PRL_HANDLE hLoginResp, PRL_STR sProductVersion,
                                               PRL_UINT32_PTR pnProductVersionBufLength);

PRL_METHOD(PrlSrvCfg_GetCpuCount)(PRL_HANDLE hSrvConfig, PRL_UINT32_PTR pnCpuCount);
PRL_METHOD(PrlSrvCfg_GetHostRamSize)(PRL_HANDLE hSrvConfig, PRL_UINT32_PTR pnHostRamSize);
PRL_METHOD(PrlSrvCfg_GetHostname)(PRL_HANDLE hSrvConfig, PRL_STR sHostname,
                                  PRL_UINT32_PTR pnHostnameBufLength);
PRL_METHOD(PrlSrvCfg_GetCpuModel)(PRL_HANDLE hSrvConfig, PRL_STR sCpuModel,
                                  PRL_UINT32_PTR pnCpuModelBufLength);

#ifdef __cplusplus
}
#endif
#endif

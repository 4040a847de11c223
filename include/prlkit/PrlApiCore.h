/* prlkit — handles, lists, jobs, results, events. MIT license. */
#ifndef PRLKIT_PRLAPICORE_H
#define PRLKIT_PRLAPICORE_H

#include "PrlApi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Handles */
PRL_METHOD(PrlHandle_AddRef)(PRL_HANDLE handle);
PRL_METHOD(PrlHandle_Free)(PRL_HANDLE handle);
PRL_METHOD(PrlHandle_GetType)(PRL_HANDLE handle, PRL_HANDLE_TYPE_PTR type);
PRL_METHOD(PrlHandle_RegEventHandler)(PRL_HANDLE hObj, PRL_EVENT_HANDLER_PTR handler,
                                      PRL_VOID_PTR userData);
PRL_METHOD(PrlHandle_UnregEventHandler)(PRL_HANDLE hObj, PRL_EVENT_HANDLER_PTR handler,
                                        PRL_VOID_PTR userData);

/* String lists */
PRL_METHOD(PrlStrList_GetItemsCount)(PRL_HANDLE hStringsList, PRL_UINT32_PTR pnItemsCount);
PRL_METHOD(PrlStrList_AddItem)(PRL_HANDLE hStringsList, PRL_CONST_STR sItem);
PRL_METHOD(PrlStrList_GetItem)(PRL_HANDLE hStringsList, PRL_UINT32 nItemIndex, PRL_STR sItem,
                               PRL_UINT32_PTR pnItemBufLength);
PRL_METHOD(PrlStrList_RemoveItem)(PRL_HANDLE hStringsList, PRL_UINT32 nItemIndex);

/* Handle lists */
PRL_METHOD(PrlHndlList_GetItemsCount)(PRL_HANDLE hHandlesList, PRL_UINT32_PTR pnItemsCount);
PRL_METHOD(PrlHndlList_AddItem)(PRL_HANDLE hHandlesList, PRL_HANDLE hItem);
PRL_METHOD(PrlHndlList_GetItem)(PRL_HANDLE hHandlesList, PRL_UINT32 nItemIndex,
                                PRL_HANDLE_PTR phItem);
PRL_METHOD(PrlHndlList_RemoveItem)(PRL_HANDLE hHandlesList, PRL_UINT32 nItemIndex);

/* Jobs */
PRL_METHOD(PrlJob_Wait)(PRL_HANDLE hJob, PRL_UINT32 msecs);
PRL_ASYNC_METHOD(PrlJob_Cancel)(PRL_HANDLE hJob);
PRL_METHOD(PrlJob_GetStatus)(PRL_HANDLE hJob, PRL_JOB_STATUS_PTR pnStatus);
PRL_METHOD(PrlJob_GetProgress)(PRL_HANDLE hJob, PRL_UINT32_PTR pnPercentage);
PRL_METHOD(PrlJob_GetRetCode)(PRL_HANDLE hJob, PRL_RESULT_PTR pnRetCode);
PRL_METHOD(PrlJob_GetResult)(PRL_HANDLE hJob, PRL_HANDLE_PTR phJobResult);
PRL_METHOD(PrlJob_GetError)(PRL_HANDLE hJob, PRL_HANDLE_PTR phError);
PRL_METHOD(PrlJob_GetOpCode)(PRL_HANDLE hJob, PRL_JOB_OPERATION_CODE_PTR pnOpCode);

/* Results */
PRL_METHOD(PrlResult_GetParamsCount)(PRL_HANDLE hResult, PRL_UINT32_PTR pnCount);
PRL_METHOD(PrlResult_GetParamByIndex)(PRL_HANDLE hResult, PRL_UINT32 nIndex,
                                      PRL_HANDLE_PTR phParam);
PRL_METHOD(PrlResult_GetParam)(PRL_HANDLE hResult, PRL_HANDLE_PTR phParam);
PRL_METHOD(PrlResult_GetParamByIndexAsString)(PRL_HANDLE hResult, PRL_UINT32 nIndex,
                                              PRL_STR sParamBuf, PRL_UINT32_PTR pnParamBufLength);
PRL_METHOD(PrlResult_GetParamAsString)(PRL_HANDLE hResult, PRL_STR sParamBuf,
                                       PRL_UINT32_PTR pnParamBufLength);

/* Events */
PRL_METHOD(PrlEvent_GetType)(PRL_HANDLE hEvent, PRL_EVENT_TYPE_PTR pnEventType);
PRL_METHOD(PrlEvent_GetServer)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phServer);
PRL_METHOD(PrlEvent_GetVm)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phVm);
PRL_METHOD(PrlEvent_GetJob)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phJob);
PRL_METHOD(PrlEvent_GetParamsCount)(PRL_HANDLE hEvent, PRL_UINT32_PTR pnParamsCount);
PRL_METHOD(PrlEvent_GetParam)(PRL_HANDLE hEvent, PRL_UINT32 nIndex, PRL_HANDLE_PTR phEventParam);
PRL_METHOD(PrlEvent_GetParamByName)(PRL_HANDLE hEvent, PRL_CONST_STR sParamName,
                                    PRL_HANDLE_PTR phEventParam);
PRL_METHOD(PrlEvent_GetErrCode)(PRL_HANDLE hEvent, PRL_RESULT_PTR pnErrCode);
PRL_METHOD(PrlEvent_GetErrString)(PRL_HANDLE hEvent, PRL_BOOL bIsBriefMessage, PRL_BOOL bFormated,
                                  PRL_STR sErrString, PRL_UINT32_PTR pnErrStringBufLength);
PRL_METHOD(PrlEvent_GetIssuerType)(PRL_HANDLE hEvent, PRL_EVENT_ISSUER_TYPE_PTR pnIssuerType);
PRL_METHOD(PrlEvent_GetIssuerId)(PRL_HANDLE hEvent, PRL_STR sIssuerId,
                                 PRL_UINT32_PTR pnIssuerIdBufLength);

/* Event parameters */
PRL_METHOD(PrlEvtPrm_GetName)(PRL_HANDLE hEvtParam, PRL_STR sParamName,
                              PRL_UINT32_PTR pnParamNameBufLength);
PRL_METHOD(PrlEvtPrm_GetType)(PRL_HANDLE hEvtParam, PRL_PARAM_FIELD_DATA_TYPE_PTR pnParamType);
PRL_METHOD(PrlEvtPrm_ToString)(PRL_HANDLE hEvtParam, PRL_STR sParamValue,
                               PRL_UINT32_PTR pnParamValueBufLength);
PRL_METHOD(PrlEvtPrm_ToUint32)(PRL_HANDLE hEvtParam, PRL_UINT32_PTR pnParamValue);
PRL_METHOD(PrlEvtPrm_ToInt32)(PRL_HANDLE hEvtParam, PRL_INT32_PTR pnParamValue);
PRL_METHOD(PrlEvtPrm_ToUint64)(PRL_HANDLE hEvtParam, PRL_UINT64_PTR pnParamValue);
PRL_METHOD(PrlEvtPrm_ToInt64)(PRL_HANDLE hEvtParam, PRL_INT64_PTR pnParamValue);
PRL_METHOD(PrlEvtPrm_ToBoolean)(PRL_HANDLE hEvtParam, PRL_BOOL_PTR pbParamValue);
PRL_METHOD(PrlEvtPrm_ToHandle)(PRL_HANDLE hEvtParam, PRL_HANDLE_PTR phParamValue);

#ifdef __cplusplus
}
#endif
#endif

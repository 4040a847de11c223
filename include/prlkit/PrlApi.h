/* prlkit — library-level functions. MIT license. */
#ifndef PRLKIT_PRLAPI_H
#define PRLKIT_PRLAPI_H

#include "PrlTypes.h"
#include "PrlErrors.h"
#include "PrlEnums.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PARALLELS_API_VER 0x00090000
#ifndef VIRTUOZZO_API_VER
#define VIRTUOZZO_API_VER PARALLELS_API_VER
#endif
/* Oldest API version a program may ask PrlApi_InitEx for. */
#define PRLK_API_VER_MIN 0x00010000

PRL_METHOD(PrlApi_Init)(PRL_UINT32 version);
PRL_METHOD(PrlApi_InitEx)(PRL_UINT32 version, PRL_APPLICATION_MODE nAppMode, PRL_UINT32 nFlags,
                          PRL_UINT32 nReserved);
PRL_METHOD(PrlApi_Deinit)(void);
PRL_METHOD(PrlApi_GetVersion)(PRL_UINT32_PTR version);
PRL_METHOD(PrlApi_GetResultDescription)(PRL_RESULT nErrCode, PRL_BOOL bIsBriefMessage,
                                        PRL_BOOL bFormated, PRL_STR sErrString,
                                        PRL_UINT32_PTR pnErrStringBufLength);
PRL_METHOD(PrlApi_CreateStringsList)(PRL_HANDLE_PTR phStringsList);
PRL_METHOD(PrlApi_CreateHandlesList)(PRL_HANDLE_PTR phHandlesList);

PRL_METHOD(PrlDbg_PrlResultToString)(PRL_RESULT value, PRL_CONST_STR_PTR pResult);
PRL_METHOD(PrlDbg_HandleTypeToString)(PRL_HANDLE_TYPE value, PRL_CONST_STR_PTR pResult);
PRL_METHOD(PrlDbg_EventTypeToString)(PRL_EVENT_TYPE value, PRL_CONST_STR_PTR pResult);
/* Live handles of a type; PHT_ERROR counts every type. */
PRL_METHOD(PrlDbg_GetHandlesNum)(PRL_UINT32_PTR pNum, PRL_HANDLE_TYPE type);

static inline PRL_CONST_STR prl_result_to_string(PRL_RESULT value)
{
	PRL_CONST_STR s = "";
	PrlDbg_PrlResultToString(value, &s);
	return s;
}

static inline PRL_CONST_STR handle_type_to_string(PRL_HANDLE_TYPE value)
{
	PRL_CONST_STR s = "";
	PrlDbg_HandleTypeToString(value, &s);
	return s;
}

static inline PRL_CONST_STR event_type_to_string(PRL_EVENT_TYPE value)
{
	PRL_CONST_STR s = "";
	PrlDbg_EventTypeToString(value, &s);
	return s;
}

#ifdef __cplusplus
}
#endif

/* As in the SDK, PrlApi.h declares the whole API (a program may include it alone). */
#include "PrlApiCore.h"
#include "PrlApiDisp.h"
#include "PrlApiVm.h"
#include "PrlApiStat.h"

#endif

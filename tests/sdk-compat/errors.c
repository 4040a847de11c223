/* SDK compatibility: error handling.
 *
 * What an SDK program does when things go wrong, and what it relies on: calls before
 * PrlApi_InitEx fail cleanly; a stale, garbage or wrong-type handle is an error, never a
 * crash (sync calls return it, async calls return a finished job carrying it); the
 * two-call string convention reports PRL_ERR_BUFFER_OVERRUN with the required size;
 * PrlApi_GetResultDescription describes every code (two calls, brief and long);
 * prl_result_to_string names it; a failed job's PrlJob_GetError is a PHT_EVENT whose
 * PrlEvent_GetErrCode / PrlEvent_GetErrString tell what happened; calls on a server that is
 * not logged in fail. The SDK's error values are checked at compile time. Exits non-zero
 * on anything unexpected.
 *
 * It includes the SDK's individual headers instead of the umbrella: in the SDK, PrlApi.h
 * declares the whole API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "PrlTypes.h"
#include "PrlErrors.h"
#include "PrlEnums.h"
#include "PrlOses.h"
#include "PrlApi.h"

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "errors: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

/* The SDK's values: failure bit + the decimal ordinal written as hex digits. */
typedef char CheckValues[(PRL_ERR_SUCCESS == 0 &&
                          PRL_ERR_INVALID_ARG == (PRL_RESULT)0x80000003 &&
                          PRL_ERR_BUFFER_OVERRUN == (PRL_RESULT)0x80000006 &&
                          PRL_ERR_TIMEOUT == (PRL_RESULT)0x80000015 &&
                          PRL_ERR_VM_UUID_NOT_FOUND == (PRL_RESULT)0x80000105 &&
                          PRL_ERR_VM_ALREADY_RUNNING == (PRL_RESULT)0x80000402 &&
                          PHT_VIRTUAL_MACHINE == 0x10000005 && PHT_JOB == 0x10000011 &&
                          VMS_RUNNING == 0x30000004 &&
                          PET_DSP_EVT_VM_STATE_CHANGED == 100001 &&
                          PJOC_VM_START == 42 && PJOC_SRV_GET_VM_CONFIG == 180 &&
                          PJOC_VM_RESUME == PJOC_VM_START && PIE_UNKNOWN == 0xFF &&
                          PSF_FORCE == 0x800 && PSM_VM_SAFE_START == 0x1000 &&
                          PCVF_CLONE_TO_TEMPLATE == 0x800 && PGVC_SEARCH_BY_NAME == 0x1000 &&
                          PGVLF_GET_STATE_INFO == 0x4000 && PACF_NON_INTERACTIVE_MODE == 4 &&
                          PVS_GUEST_TYPE_WINDOWS == 0x08 &&
                          PVS_GUEST_VER_WIN_WINDOWS_10 == 0x080F &&
                          PVS_GUEST_VER_WIN_WINDOWS7 == 0x080B &&
                          PVS_GUEST_VER_LIN_UBUNTU == 0x090A &&
                          PVS_GUEST_VER_LIN_DEBIAN == 0x0906 &&
                          PVS_GUEST_VER_OTH_OTHER == 0xFFFF) ? 1 : -1];

static int IsHandleError(PRL_RESULT ret)
{
	return ret == PRL_ERR_INVALID_ARG || ret == PRL_ERR_INVALID_HANDLE;
}

/* The job's return code (the job must come back, already finished or not). */
static PRL_RESULT JobResult(PRL_HANDLE hJob)
{
	PRL_RESULT ret, nRetCode = PRL_ERR_UNINITIALIZED;

	CHECK(hJob != PRL_INVALID_HANDLE, "an async call returned PRL_INVALID_HANDLE");
	ret = PrlJob_Wait(hJob, 10000);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_Wait: %s", prl_result_to_string(ret));
	ret = PrlJob_GetRetCode(hJob, &nRetCode);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_GetRetCode: %s", prl_result_to_string(ret));
	PrlHandle_Free(hJob);
	return nRetCode;
}

/* PrlApi_GetResultDescription with the two-call convention; a malloc'ed string. */
static char *Describe(PRL_RESULT nCode, PRL_BOOL bBrief)
{
	PRL_UINT32 nLen = 0;
	PRL_RESULT ret;
	char *s;

	ret = PrlApi_GetResultDescription(nCode, bBrief, PRL_FALSE, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen > 1, "PrlApi_GetResultDescription(%s, size): %s, %u",
	      prl_result_to_string(nCode), prl_result_to_string(ret), nLen);
	s = malloc(nLen);
	CHECK(s != NULL, "out of memory");
	ret = PrlApi_GetResultDescription(nCode, bBrief, PRL_FALSE, s, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_GetResultDescription(%s): %s",
	      prl_result_to_string(nCode), prl_result_to_string(ret));
	CHECK(strlen(s) + 1 == nLen && s[0] != '\0', "description of %s: \"%s\", length %u",
	      prl_result_to_string(nCode), s, nLen);
	return s;
}

static void CheckDescriptions(void)
{
	static const PRL_RESULT codes[] = {
		PRL_ERR_SUCCESS, PRL_ERR_FAILURE, PRL_ERR_INVALID_ARG, PRL_ERR_BUFFER_OVERRUN,
		PRL_ERR_TIMEOUT, PRL_ERR_VM_UUID_NOT_FOUND, PRL_ERR_CANT_TO_START_VM_TEMPLATE,
		PRL_ERR_VM_ALREADY_RUNNING, PRL_ERR_DISP_VM_IS_NOT_RUNNING,
		PRL_ERR_AUTHENTICATION_FAILED, PRL_ERR_OPERATION_WAS_CANCELED,
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char *szBrief = Describe(codes[i], PRL_TRUE);
		char *szLong = Describe(codes[i], PRL_FALSE);
		printf("  %-36s %s\n", prl_result_to_string(codes[i]), szLong);
		free(szLong);
		free(szBrief);
	}
	CHECK(strcmp(prl_result_to_string(PRL_ERR_TIMEOUT), "PRL_ERR_TIMEOUT") == 0,
	      "prl_result_to_string(PRL_ERR_TIMEOUT) is \"%s\"",
	      prl_result_to_string(PRL_ERR_TIMEOUT));
	CHECK(strcmp(handle_type_to_string(PHT_VIRTUAL_MACHINE), "PHT_VIRTUAL_MACHINE") == 0,
	      "handle_type_to_string(PHT_VIRTUAL_MACHINE) is \"%s\"",
	      handle_type_to_string(PHT_VIRTUAL_MACHINE));
	CHECK(strcmp(event_type_to_string(PET_DSP_EVT_VM_STATE_CHANGED),
	             "PET_DSP_EVT_VM_STATE_CHANGED") == 0,
	      "event_type_to_string(PET_DSP_EVT_VM_STATE_CHANGED) is \"%s\"",
	      event_type_to_string(PET_DSP_EVT_VM_STATE_CHANGED));
	CHECK(strcmp(event_type_to_string(PET_DSP_EVT_VM_QUESTION), "PET_DSP_EVT_VM_QUESTION") == 0,
	      "event_type_to_string(PET_DSP_EVT_VM_QUESTION) is \"%s\"",
	      event_type_to_string(PET_DSP_EVT_VM_QUESTION));

	/* The two-call convention with a buffer that is too small. */
	{
		char szSmall[4];
		PRL_UINT32 nLen = sizeof(szSmall), nNeeded = 0;
		PRL_RESULT ret;

		PrlApi_GetResultDescription(PRL_ERR_VM_UUID_NOT_FOUND, PRL_FALSE, PRL_FALSE, NULL,
		                            &nNeeded);
		ret = PrlApi_GetResultDescription(PRL_ERR_VM_UUID_NOT_FOUND, PRL_FALSE, PRL_FALSE,
		                                  szSmall, &nLen);
		CHECK(ret == PRL_ERR_BUFFER_OVERRUN, "small buffer: %s", prl_result_to_string(ret));
		CHECK(nLen == nNeeded, "small buffer: size %u, expected %u", nLen, nNeeded);
		ret = PrlApi_GetResultDescription(PRL_ERR_VM_UUID_NOT_FOUND, PRL_FALSE, PRL_FALSE,
		                                  szSmall, NULL);
		CHECK(PRL_FAILED(ret), "a NULL length was accepted");
	}
}

static void CheckBadHandles(PRL_HANDLE hServer, PRL_HANDLE hVm)
{
	PRL_HANDLE hGarbage = (PRL_HANDLE)(unsigned long)0x7fff1234UL;
	PRL_HANDLE hFreed = PRL_INVALID_HANDLE, hCopy;
	PRL_HANDLE_TYPE nType;
	char szName[64];
	PRL_UINT32 nLen = sizeof(szName), nCount;
	PRL_RESULT ret;

	/* Invalid, garbage, freed: errors from sync calls, finished jobs from async ones. */
	ret = PrlHandle_Free(PRL_INVALID_HANDLE);
	CHECK(IsHandleError(ret), "PrlHandle_Free(PRL_INVALID_HANDLE): %s", prl_result_to_string(ret));
	ret = PrlHandle_GetType(hGarbage, &nType);
	CHECK(IsHandleError(ret), "PrlHandle_GetType(garbage): %s", prl_result_to_string(ret));
	ret = PrlVmCfg_GetName(hGarbage, szName, &nLen);
	CHECK(IsHandleError(ret), "PrlVmCfg_GetName(garbage): %s", prl_result_to_string(ret));
	ret = JobResult(PrlVm_Start(PRL_INVALID_HANDLE));
	CHECK(IsHandleError(ret), "PrlVm_Start(PRL_INVALID_HANDLE): %s", prl_result_to_string(ret));
	ret = JobResult(PrlVm_Start(hGarbage));
	CHECK(IsHandleError(ret), "PrlVm_Start(garbage): %s", prl_result_to_string(ret));

	CHECK(PRL_SUCCEEDED(PrlApi_CreateStringsList(&hFreed)), "PrlApi_CreateStringsList");
	CHECK(PRL_SUCCEEDED(PrlHandle_Free(hFreed)), "PrlHandle_Free");
	ret = PrlStrList_GetItemsCount(hFreed, &nCount);
	CHECK(IsHandleError(ret), "a freed handle: %s", prl_result_to_string(ret));
	ret = PrlHandle_Free(hFreed);
	CHECK(IsHandleError(ret), "a second PrlHandle_Free: %s", prl_result_to_string(ret));

	/* The wrong type of handle. */
	nLen = sizeof(szName);
	ret = PrlVmCfg_GetName(hServer, szName, &nLen);
	CHECK(IsHandleError(ret), "PrlVmCfg_GetName(server): %s", prl_result_to_string(ret));
	ret = PrlSrvCfg_GetCpuCount(hVm, &nCount);
	CHECK(IsHandleError(ret), "PrlSrvCfg_GetCpuCount(vm): %s", prl_result_to_string(ret));
	ret = JobResult(PrlVm_Start(hServer));
	CHECK(IsHandleError(ret), "PrlVm_Start(server): %s", prl_result_to_string(ret));
	ret = JobResult(PrlSrv_GetVmList(hVm));
	CHECK(IsHandleError(ret), "PrlSrv_GetVmList(vm): %s", prl_result_to_string(ret));
	ret = PrlJob_Wait(hVm, 10);
	CHECK(IsHandleError(ret), "PrlJob_Wait(vm): %s", prl_result_to_string(ret));

	/* NULL out-pointers. */
	ret = PrlVmCfg_GetRamSize(hVm, NULL);
	CHECK(PRL_FAILED(ret), "PrlVmCfg_GetRamSize(NULL) succeeded");
	ret = PrlVmCfg_GetName(hVm, szName, NULL);
	CHECK(PRL_FAILED(ret), "PrlVmCfg_GetName(NULL length) succeeded");

	/* AddRef gives one more reference to the same object. */
	hCopy = hVm;
	CHECK(PRL_SUCCEEDED(PrlHandle_AddRef(hCopy)), "PrlHandle_AddRef");
	CHECK(PRL_SUCCEEDED(PrlHandle_Free(hCopy)), "PrlHandle_Free after AddRef");
	CHECK(PRL_SUCCEEDED(PrlHandle_GetType(hVm, &nType)) && nType == PHT_VIRTUAL_MACHINE,
	      "the VM handle died with its extra reference");
}

static void CheckStrings(PRL_HANDLE hVm)
{
	char szSmall[3], szBig[512];
	PRL_UINT32 nLen = sizeof(szSmall), nNeeded = 0, nZero = 0;
	PRL_RESULT ret;

	ret = PrlVmCfg_GetName(hVm, NULL, &nNeeded);
	CHECK(PRL_SUCCEEDED(ret) && nNeeded > sizeof(szSmall), "size query: %s, %u",
	      prl_result_to_string(ret), nNeeded);
	ret = PrlVmCfg_GetName(hVm, szSmall, &nLen);
	CHECK(ret == PRL_ERR_BUFFER_OVERRUN, "small buffer: %s", prl_result_to_string(ret));
	CHECK(nLen == nNeeded, "small buffer: %u, expected %u", nLen, nNeeded);
	CHECK(memchr(szSmall, '\0', sizeof(szSmall)) != NULL, "not NUL-terminated");
	/* A zero length with a buffer is a size query too. */
	ret = PrlVmCfg_GetName(hVm, szBig, &nZero);
	CHECK(PRL_SUCCEEDED(ret) && nZero == nNeeded, "zero length: %s, %u",
	      prl_result_to_string(ret), nZero);
	nLen = sizeof(szBig);
	ret = PrlVmCfg_GetName(hVm, szBig, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen == strlen(szBig) + 1 && nLen == nNeeded,
	      "big buffer: %s, %u for \"%s\"", prl_result_to_string(ret), nLen, szBig);
	nLen = nNeeded;
	ret = PrlVmCfg_GetName(hVm, szBig, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "exact buffer: %s", prl_result_to_string(ret));
}

/* A failed job explains itself through PrlJob_GetError. */
static void CheckJobError(PRL_HANDLE hServer)
{
	PRL_HANDLE hJob, hError = PRL_INVALID_HANDLE;
	PRL_HANDLE_TYPE nType = PHT_ERROR;
	PRL_RESULT ret, nRetCode = PRL_ERR_SUCCESS, nErrCode = PRL_ERR_SUCCESS;
	PRL_UINT32 nLen = 0;
	char *szMessage;

	hJob = PrlSrv_GetVmConfig(hServer, "sdk-compat: no such VM", PGVC_SEARCH_BY_NAME);
	ret = PrlJob_Wait(hJob, 10000);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_Wait: %s", prl_result_to_string(ret));
	PrlJob_GetRetCode(hJob, &nRetCode);
	CHECK(PRL_FAILED(nRetCode), "a VM that does not exist was found");
	ret = PrlJob_GetError(hJob, &hError);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_GetError: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hError, &nType);
	CHECK(nType == PHT_EVENT, "the job error is a %s", handle_type_to_string(nType));
	ret = PrlEvent_GetErrCode(hError, &nErrCode);
	CHECK(PRL_SUCCEEDED(ret) && nErrCode == nRetCode, "PrlEvent_GetErrCode: %s, %s",
	      prl_result_to_string(ret), prl_result_to_string(nErrCode));
	ret = PrlEvent_GetErrString(hError, PRL_FALSE, PRL_FALSE, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen > 1, "PrlEvent_GetErrString(size): %s",
	      prl_result_to_string(ret));
	szMessage = malloc(nLen);
	CHECK(szMessage != NULL, "out of memory");
	ret = PrlEvent_GetErrString(hError, PRL_FALSE, PRL_FALSE, szMessage, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlEvent_GetErrString: %s", prl_result_to_string(ret));
	printf("failed job: %s: %s\n", prl_result_to_string(nRetCode), szMessage);
	free(szMessage);
	PrlHandle_Free(hError);
	PrlHandle_Free(hJob);
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hOffline = PRL_INVALID_HANDLE;
	PRL_HANDLE hJob, hResult = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE;
	PRL_UINT32 nHandles = 1;
	PRL_RESULT ret;

	/* Before PrlApi_InitEx. */
	ret = PrlSrv_Create(&hServer);
	CHECK(PRL_FAILED(ret), "PrlSrv_Create before PrlApi_InitEx succeeded");
	printf("before PrlApi_InitEx: %s\n", prl_result_to_string(ret));

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	CheckDescriptions();

	/* A server that is not logged in. */
	PrlSrv_Create(&hOffline);
	ret = JobResult(PrlSrv_GetVmList(hOffline));
	CHECK(PRL_FAILED(ret), "PrlSrv_GetVmList without a login succeeded");
	printf("not logged in: %s\n", prl_result_to_string(ret));
	PrlHandle_Free(hOffline);

	PrlSrv_Create(&hServer);
	hJob = PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY);
	CHECK(JobResult(hJob) == PRL_ERR_SUCCESS, "PrlSrv_LoginLocal failed");
	hJob = PrlSrv_GetVmConfig(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME);
	CHECK(PRL_SUCCEEDED(PrlJob_Wait(hJob, 10000)), "PrlJob_Wait");
	CHECK(PRL_SUCCEEDED(PrlJob_GetResult(hJob, &hResult)), "PrlJob_GetResult");
	CHECK(PRL_SUCCEEDED(PrlResult_GetParam(hResult, &hVm)), "PrlResult_GetParam");
	PrlHandle_Free(hResult);
	PrlHandle_Free(hJob);

	CheckBadHandles(hServer, hVm);
	CheckStrings(hVm);
	CheckJobError(hServer);

	PrlHandle_Free(hVm);
	CHECK(JobResult(PrlSrv_Logoff(hServer)) == PRL_ERR_SUCCESS, "PrlSrv_Logoff failed");
	ret = JobResult(PrlSrv_GetVmList(hServer));
	CHECK(PRL_FAILED(ret), "PrlSrv_GetVmList after PrlSrv_Logoff succeeded");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	printf("errors: ok\n");
	return 0;
}

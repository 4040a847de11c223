/* SDK compatibility: log in to the local service and list its virtual machines.
 *
 * Written the way the Parallels Virtualization SDK C Programmer's Guide writes it:
 * PrlApi_InitEx, PrlSrv_Create, PrlSrv_LoginLocal, PrlJob_Wait + PrlJob_GetRetCode,
 * the login response from the job result, PrlSrv_GetVmList and a loop over
 * PrlResult_GetParamsCount / PrlResult_GetParamByIndex, strings read with the two-call
 * convention into malloc'ed buffers. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Parallels.h"

#define JOB_TIMEOUT 10000

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "list-vms: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

/* Waits for a job, checks its return code; hands back its result when asked. */
static PRL_RESULT WaitJob(PRL_HANDLE hJob, PRL_HANDLE_PTR phResult)
{
	PRL_RESULT ret, nJobRetCode = PRL_ERR_UNINITIALIZED;

	CHECK(hJob != PRL_INVALID_HANDLE, "an async call returned PRL_INVALID_HANDLE");
	ret = PrlJob_Wait(hJob, JOB_TIMEOUT);
	if (PRL_FAILED(ret)) {
		PrlHandle_Free(hJob);
		return ret;
	}
	ret = PrlJob_GetRetCode(hJob, &nJobRetCode);
	if (PRL_SUCCEEDED(ret))
		ret = nJobRetCode;
	if (PRL_SUCCEEDED(ret) && phResult != NULL)
		ret = PrlJob_GetResult(hJob, phResult);
	PrlHandle_Free(hJob);
	return ret;
}

/* The two-call convention: ask for the size, allocate, fetch. */
static char *GetVmString(PRL_HANDLE hVm, PRL_RESULT (*get)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR))
{
	PRL_UINT32 nLen = 0;
	PRL_RESULT ret;
	char *s;

	ret = get(hVm, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "size query failed: %s", prl_result_to_string(ret));
	CHECK(nLen >= 1, "size query returned %u", nLen);
	s = malloc(nLen);
	CHECK(s != NULL, "out of memory");
	ret = get(hVm, s, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "string query failed: %s", prl_result_to_string(ret));
	CHECK(strlen(s) + 1 == nLen, "length %u does not match \"%s\"", nLen, s);
	return s;
}

static int IsKnownState(VIRTUAL_MACHINE_STATE state)
{
	switch (state) {
	case VMS_STOPPED: case VMS_STARTING: case VMS_RESTORING: case VMS_RUNNING:
	case VMS_PAUSED: case VMS_SUSPENDING: case VMS_STOPPING: case VMS_COMPACTING:
	case VMS_SUSPENDED: case VMS_SNAPSHOTING: case VMS_RESETTING: case VMS_PAUSING:
	case VMS_CONTINUING: case VMS_MIGRATING: case VMS_DELETING_STATE: case VMS_RESUMING:
		return 1;
	default:
		return 0;
	}
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE;
	PRL_HANDLE hJob, hResult = PRL_INVALID_HANDLE, hLoginResp = PRL_INVALID_HANDLE;
	PRL_HANDLE_TYPE nType;
	PRL_RESULT ret;
	PRL_UINT32 nCount = 0, nCountEx = 0, i, j, nHandles = 1, nVersion = 0;
	PRL_BOOL bConnected = PRL_FALSE, bLocal = PRL_FALSE;
	char **ids;
	char szSession[256];
	PRL_UINT32 nSessionLen = sizeof(szSession);
	char *szVersion;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	ret = PrlApi_GetVersion(&nVersion);
	CHECK(PRL_SUCCEEDED(ret) && nVersion >= PARALLELS_API_VER, "PrlApi_GetVersion: %s, 0x%x",
	      prl_result_to_string(ret), nVersion);

	ret = PrlSrv_Create(&hServer);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Create: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hServer, &nType);
	CHECK(nType == PHT_SERVER, "server handle has type %s", handle_type_to_string(nType));

	/* Log in; the result holds a PHT_LOGIN_RESPONSE. */
	hJob = PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY);
	ret = WaitJob(hJob, &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_LoginLocal: %s", prl_result_to_string(ret));
	ret = PrlResult_GetParam(hResult, &hLoginResp);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParam(login): %s", prl_result_to_string(ret));
	PrlHandle_GetType(hLoginResp, &nType);
	CHECK(nType == PHT_LOGIN_RESPONSE, "login result has type %s", handle_type_to_string(nType));
	ret = PrlLoginResponse_GetSessionUuid(hLoginResp, szSession, &nSessionLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlLoginResponse_GetSessionUuid: %s", prl_result_to_string(ret));
	szVersion = GetVmString(hLoginResp, PrlLoginResponse_GetProductVersion);
	printf("Logged in: session %s, product %s\n", szSession, szVersion);
	free(szVersion);
	PrlHandle_Free(hLoginResp);
	PrlHandle_Free(hResult);

	ret = PrlSrv_IsConnected(hServer, &bConnected, &bLocal);
	CHECK(PRL_SUCCEEDED(ret) && bConnected && bLocal,
	      "PrlSrv_IsConnected: %s, connected %u, local %u", prl_result_to_string(ret),
	      bConnected, bLocal);

	/* The VM list. */
	hJob = PrlSrv_GetVmList(hServer);
	ret = WaitJob(hJob, &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmList: %s", prl_result_to_string(ret));
	ret = PrlResult_GetParamsCount(hResult, &nCount);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParamsCount: %s", prl_result_to_string(ret));
	CHECK(nCount > 0, "the local service has no virtual machines");
	ids = calloc(nCount, sizeof(*ids));
	CHECK(ids != NULL, "out of memory");

	for (i = 0; i < nCount; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
		VIRTUAL_MACHINE_STATE nState = VMS_UNKNOWN;
		PRL_BOOL bTemplate = PRL_FALSE;
		char *szName;

		ret = PrlResult_GetParamByIndex(hResult, i, &hVm);
		CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParamByIndex(%u): %s", i,
		      prl_result_to_string(ret));
		PrlHandle_GetType(hVm, &nType);
		CHECK(nType == PHT_VIRTUAL_MACHINE, "VM %u has type %s", i, handle_type_to_string(nType));

		szName = GetVmString(hVm, PrlVmCfg_GetName);
		ids[i] = GetVmString(hVm, PrlVmCfg_GetUuid);
		CHECK(szName[0] != '\0', "VM %u has an empty name", i);
		CHECK(ids[i][0] != '\0', "VM '%s' has an empty id", szName);
		for (j = 0; j < i; j++)
			CHECK(strcmp(ids[i], ids[j]) != 0, "two VMs share the id %s", ids[i]);

		ret = PrlVmCfg_GetVmInfo(hVm, &hVmInfo);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetVmInfo: %s", prl_result_to_string(ret));
		PrlHandle_GetType(hVmInfo, &nType);
		CHECK(nType == PHT_VM_INFO, "VM info has type %s", handle_type_to_string(nType));
		ret = PrlVmInfo_GetState(hVmInfo, &nState);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmInfo_GetState: %s", prl_result_to_string(ret));
		CHECK(IsKnownState(nState), "VM '%s' has state 0x%x", szName, (unsigned)nState);
		PrlHandle_Free(hVmInfo);

		ret = PrlVmCfg_IsTemplate(hVm, &bTemplate);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_IsTemplate: %s", prl_result_to_string(ret));

		printf("  %-20s %-40s state 0x%08x%s\n", szName, ids[i], (unsigned)nState,
		       bTemplate ? " (template)" : "");
		free(szName);
		PrlHandle_Free(hVm);
	}

	/* Past the end: an error, not a crash. */
	{
		PRL_HANDLE hNone = PRL_INVALID_HANDLE;
		ret = PrlResult_GetParamByIndex(hResult, nCount, &hNone);
		CHECK(PRL_FAILED(ret) && hNone == PRL_INVALID_HANDLE,
		      "index past the end gave %s", prl_result_to_string(ret));
	}
	PrlHandle_Free(hResult);

	/* PrlSrv_GetVmListEx with flags lists the same VMs. */
	hJob = PrlSrv_GetVmListEx(hServer, PGVLF_GET_STATE_INFO);
	ret = WaitJob(hJob, &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmListEx: %s", prl_result_to_string(ret));
	PrlResult_GetParamsCount(hResult, &nCountEx);
	CHECK(nCountEx == nCount, "PrlSrv_GetVmListEx: %u VMs, PrlSrv_GetVmList: %u", nCountEx,
	      nCount);
	PrlHandle_Free(hResult);
	printf("%u virtual machines\n", nCount);

	for (i = 0; i < nCount; i++)
		free(ids[i]);
	free(ids);

	hJob = PrlSrv_Logoff(hServer);
	ret = WaitJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Logoff: %s", prl_result_to_string(ret));
	PrlHandle_Free(hServer);

	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

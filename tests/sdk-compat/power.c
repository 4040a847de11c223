/* SDK compatibility: start a virtual machine, wait until it runs, stop it.
 *
 * Picks a stopped VM, starts it with PrlVm_Start, and polls PrlVm_GetState (result:
 * PHT_VM_INFO, read with PrlVmInfo_GetState) until it is VMS_RUNNING, as a program does
 * on a platform where a VM takes a while to boot. Then checks that a second start fails
 * with PRL_ERR_VM_ALREADY_RUNNING, resets and restarts it, stops it gracefully with
 * PrlVm_Stop(PRL_TRUE), starts it again with PrlVm_StartEx and powers it off with
 * PrlVm_StopEx(PSM_KILL), reading the state from the refreshed configuration
 * (PrlVm_RefreshConfig + PrlVmCfg_GetVmInfo). Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "Parallels.h"

/* The SDK's headers tell the platform (_WIN_, _LIN_ or _MAC_) when the build does not. */
#ifdef _WIN_
#include <windows.h>
#define SleepMs(ms) Sleep(ms)
#elif defined(_LIN_) || defined(_MAC_)
#include <unistd.h>
#define SleepMs(ms) usleep((ms) * 1000)
#else
#error "Parallels.h did not define _WIN_, _LIN_ or _MAC_"
#endif

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "power: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

/* How long a state may take to appear (a real platform may be slow; the test's
 * simulator is fast). */
#define STATE_TIMEOUT_SECONDS 60

static PRL_RESULT WaitForJob(PRL_HANDLE hJob, PRL_HANDLE_PTR phResult)
{
	PRL_RESULT ret, nRetCode = PRL_ERR_UNINITIALIZED;

	ret = PrlJob_Wait(hJob, 10000);
	if (PRL_SUCCEEDED(ret))
		ret = PrlJob_GetRetCode(hJob, &nRetCode);
	if (PRL_SUCCEEDED(ret))
		ret = nRetCode;
	if (PRL_SUCCEEDED(ret) && phResult)
		ret = PrlJob_GetResult(hJob, phResult);
	PrlHandle_Free(hJob);
	return ret;
}

/* Runs one VM operation and checks it succeeded. */
static void Run(PRL_HANDLE hJob, const char *szWhat)
{
	PRL_RESULT ret = WaitForJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "%s: %s", szWhat, prl_result_to_string(ret));
	printf("%s: done\n", szWhat);
}

static VIRTUAL_MACHINE_STATE GetVmState(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE nState = VMS_UNKNOWN;
	PRL_RESULT ret;

	ret = WaitForJob(PrlVm_GetState(hVm), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_GetState: %s", prl_result_to_string(ret));
	ret = PrlResult_GetParam(hResult, &hVmInfo);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParam(state): %s", prl_result_to_string(ret));
	ret = PrlVmInfo_GetState(hVmInfo, &nState);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmInfo_GetState: %s", prl_result_to_string(ret));
	PrlHandle_Free(hVmInfo);
	PrlHandle_Free(hResult);
	return nState;
}

/* The state as the (refreshed) configuration sees it. */
static VIRTUAL_MACHINE_STATE GetConfigState(PRL_HANDLE hVm)
{
	PRL_HANDLE hVmCfg = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE nState = VMS_UNKNOWN;
	PRL_RESULT ret;

	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	ret = PrlVm_GetConfig(hVm, &hVmCfg);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_GetConfig: %s", prl_result_to_string(ret));
	ret = PrlVmCfg_GetVmInfo(hVmCfg, &hVmInfo);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetVmInfo: %s", prl_result_to_string(ret));
	PrlVmInfo_GetState(hVmInfo, &nState);
	PrlHandle_Free(hVmInfo);
	PrlHandle_Free(hVmCfg);
	return nState;
}

/* Polls until the VM reaches nWanted; transitional states on the way are fine. */
static void WaitForState(PRL_HANDLE hVm, VIRTUAL_MACHINE_STATE nWanted)
{
	time_t tEnd = time(NULL) + STATE_TIMEOUT_SECONDS;
	VIRTUAL_MACHINE_STATE nState;

	while ((nState = GetVmState(hVm)) != nWanted) {
		CHECK(time(NULL) < tEnd, "state 0x%x after %d s, expected 0x%x", (unsigned)nState,
		      STATE_TIMEOUT_SECONDS, (unsigned)nWanted);
		SleepMs(20);
	}
}

static PRL_HANDLE FindStoppedVm(PRL_HANDLE hServer)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hFound = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;

	ret = WaitForJob(PrlSrv_GetVmList(hServer), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmList: %s", prl_result_to_string(ret));
	PrlResult_GetParamsCount(hResult, &nCount);
	for (i = 0; i < nCount && hFound == PRL_INVALID_HANDLE; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
		VIRTUAL_MACHINE_STATE nState = VMS_UNKNOWN;
		PRL_BOOL bTemplate = PRL_TRUE;

		PrlResult_GetParamByIndex(hResult, i, &hVm);
		PrlVmCfg_IsTemplate(hVm, &bTemplate);
		PrlVmCfg_GetVmInfo(hVm, &hVmInfo);
		PrlVmInfo_GetState(hVmInfo, &nState);
		PrlHandle_Free(hVmInfo);
		if (!bTemplate && nState == VMS_STOPPED)
			hFound = hVm;
		else
			PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	CHECK(hFound != PRL_INVALID_HANDLE, "no stopped virtual machine");
	return hFound;
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hVm, hJob;
	PRL_RESULT ret, nRetCode = PRL_ERR_UNINITIALIZED;
	PRL_JOB_OPERATION_CODE nOpCode = PJOC_UNKNOWN;
	PRL_UINT32 nLen, nHandles = 1;
	char szName[256];

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	Run(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), "PrlSrv_LoginLocal");

	hVm = FindStoppedVm(hServer);
	nLen = sizeof(szName);
	PrlVmCfg_GetName(hVm, szName, &nLen);
	printf("Using '%s'\n", szName);

	/* Start, waiting in short slices and showing progress meanwhile: a timed-out wait
	 * leaves the job running. */
	hJob = PrlVm_Start(hVm);
	PrlJob_GetOpCode(hJob, &nOpCode);
	CHECK(nOpCode == PJOC_VM_START, "PrlVm_Start job has operation code %d", (int)nOpCode);
	while ((ret = PrlJob_Wait(hJob, 5)) == PRL_ERR_TIMEOUT) {
		PRL_JOB_STATUS nStatus = PJS_UNKNOWN;
		PRL_UINT32 nPercent = 0;

		PrlJob_GetStatus(hJob, &nStatus);
		CHECK(nStatus == PJS_RUNNING, "status %d after a timed-out wait", (int)nStatus);
		ret = PrlJob_GetRetCode(hJob, &nRetCode);
		CHECK(PRL_SUCCEEDED(ret), "PrlJob_GetRetCode while running: %s",
		      prl_result_to_string(ret));
		ret = PrlJob_GetProgress(hJob, &nPercent);
		CHECK(PRL_SUCCEEDED(ret) && nPercent <= 100, "PrlJob_GetProgress: %s, %u%%",
		      prl_result_to_string(ret), nPercent);
	}
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_Wait(start): %s", prl_result_to_string(ret));
	PrlJob_GetRetCode(hJob, &nRetCode);
	CHECK(PRL_SUCCEEDED(nRetCode), "PrlVm_Start: %s", prl_result_to_string(nRetCode));
	PrlHandle_Free(hJob);
	WaitForState(hVm, VMS_RUNNING);
	printf("'%s' is running\n", szName);

	/* Starting a running VM fails with the SDK's code. */
	ret = WaitForJob(PrlVm_Start(hVm), NULL);
	CHECK(ret == PRL_ERR_VM_ALREADY_RUNNING, "second start: %s", prl_result_to_string(ret));

	Run(PrlVm_Reset(hVm), "PrlVm_Reset");
	WaitForState(hVm, VMS_RUNNING);
	Run(PrlVm_Restart(hVm), "PrlVm_Restart");
	WaitForState(hVm, VMS_RUNNING);

	/* Graceful stop (guest shutdown). */
	Run(PrlVm_Stop(hVm, PRL_TRUE), "PrlVm_Stop(graceful)");
	WaitForState(hVm, VMS_STOPPED);
	CHECK(GetConfigState(hVm) == VMS_STOPPED, "the refreshed configuration is not stopped");

	/* Stopping a stopped VM fails. */
	ret = WaitForJob(PrlVm_Stop(hVm, PRL_FALSE), NULL);
	CHECK(PRL_FAILED(ret), "stopping a stopped VM succeeded");

	/* Again with the Ex variants. */
	Run(PrlVm_StartEx(hVm, PSM_VM_START, 0), "PrlVm_StartEx");
	WaitForState(hVm, VMS_RUNNING);
	CHECK(GetConfigState(hVm) == VMS_RUNNING, "the refreshed configuration is not running");
	Run(PrlVm_StopEx(hVm, PSM_KILL, 0), "PrlVm_StopEx(PSM_KILL)");
	WaitForState(hVm, VMS_STOPPED);

	PrlHandle_Free(hVm);
	Run(PrlSrv_Logoff(hServer), "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

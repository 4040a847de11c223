/* SDK compatibility: suspend and resume, pause and resume a running virtual machine.
 *
 * Looks up a stopped VM by name with PrlSrv_GetVmConfig, starts it, then: PrlVm_Suspend
 * → VMS_SUSPENDED, PrlVm_Resume → VMS_RUNNING, PrlVm_Pause → VMS_PAUSED, PrlVm_Resume →
 * VMS_RUNNING, PrlVm_Pause again and PrlVm_Start (which continues a paused VM, as in
 * Parallels), and the refusals the SDK documents (resume of a running VM, suspend of a
 * stopped one). Each job is checked for its operation code. Exits non-zero on anything
 * unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prlkit/Parallels.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "suspend-pause: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

/* Waits for the job and returns its return code; checks its operation code on the way. */
static PRL_RESULT RunJob(PRL_HANDLE hJob, PRL_JOB_OPERATION_CODE nExpectedOp,
                         PRL_HANDLE_PTR phResult)
{
	PRL_RESULT ret, nJobResult = PRL_ERR_UNINITIALIZED;
	PRL_JOB_OPERATION_CODE nOp = PJOC_UNKNOWN;
	PRL_JOB_STATUS nStatus = PJS_UNKNOWN;

	CHECK(hJob != PRL_INVALID_HANDLE, "no job handle");
	ret = PrlJob_GetOpCode(hJob, &nOp);
	CHECK(PRL_SUCCEEDED(ret) && nOp == nExpectedOp, "operation code %d, expected %d",
	      (int)nOp, (int)nExpectedOp);
	ret = PrlJob_Wait(hJob, 10000);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_Wait: %s", prl_result_to_string(ret));
	PrlJob_GetStatus(hJob, &nStatus);
	CHECK(nStatus == PJS_FINISHED, "job status %d after PrlJob_Wait", (int)nStatus);
	ret = PrlJob_GetRetCode(hJob, &nJobResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlJob_GetRetCode: %s", prl_result_to_string(ret));
	if (PRL_SUCCEEDED(nJobResult) && phResult != NULL) {
		ret = PrlJob_GetResult(hJob, phResult);
		CHECK(PRL_SUCCEEDED(ret), "PrlJob_GetResult: %s", prl_result_to_string(ret));
	}
	PrlHandle_Free(hJob);
	return nJobResult;
}

static void Expect(PRL_RESULT nGot, PRL_RESULT nExpected, const char *szWhat)
{
	CHECK(nGot == nExpected, "%s: %s, expected %s", szWhat, prl_result_to_string(nGot),
	      prl_result_to_string(nExpected));
	printf("%-36s %s\n", szWhat, prl_result_to_string(nGot));
}

static VIRTUAL_MACHINE_STATE GetState(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE vm_state = VMS_UNKNOWN;

	Expect(RunJob(PrlVm_GetState(hVm), PJOC_VM_GET_STATE, &hResult), PRL_ERR_SUCCESS,
	       "PrlVm_GetState");
	PrlResult_GetParam(hResult, &hVmInfo);
	PrlVmInfo_GetState(hVmInfo, &vm_state);
	PrlHandle_Free(hVmInfo);
	PrlHandle_Free(hResult);
	return vm_state;
}

static void ExpectState(PRL_HANDLE hVm, VIRTUAL_MACHINE_STATE nExpected)
{
	VIRTUAL_MACHINE_STATE nState = GetState(hVm);
	CHECK(nState == nExpected, "state 0x%x, expected 0x%x", (unsigned)nState,
	      (unsigned)nExpected);
}

int main(int argc, char *argv[])
{
	const char *szVmName = argc > 1 ? argv[1] : "debian-build";
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hResult = PRL_INVALID_HANDLE;
	PRL_HANDLE hVm = PRL_INVALID_HANDLE;
	PRL_UINT32 nHandles = 1;
	PRL_RESULT ret;

	/* Parallels Desktop programs ask for the desktop mode and no questions. */
	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_DESKTOP_MAC, PACF_NON_INTERACTIVE_MODE, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	ret = PrlSrv_Create(&hServer);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Create: %s", prl_result_to_string(ret));
	Expect(RunJob(PrlSrv_LoginLocalEx(hServer, NULL, 0, PSL_HIGH_SECURITY,
	                                  PACF_NON_INTERACTIVE_MODE), PJOC_SRV_LOGIN_LOCAL, NULL),
	       PRL_ERR_SUCCESS, "PrlSrv_LoginLocalEx");

	Expect(RunJob(PrlSrv_GetVmConfig(hServer, szVmName, PGVC_SEARCH_BY_NAME),
	              PJOC_SRV_GET_VM_CONFIG, &hResult), PRL_ERR_SUCCESS, "PrlSrv_GetVmConfig");
	ret = PrlResult_GetParam(hResult, &hVm);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParam: %s", prl_result_to_string(ret));
	PrlHandle_Free(hResult);
	ExpectState(hVm, VMS_STOPPED);

	/* Refusals on a stopped VM. */
	Expect(RunJob(PrlVm_Suspend(hVm), PJOC_VM_SUSPEND, NULL), PRL_ERR_DISP_VM_IS_NOT_RUNNING,
	       "PrlVm_Suspend (stopped)");
	Expect(RunJob(PrlVm_Pause(hVm, PRL_FALSE), PJOC_VM_PAUSE, NULL),
	       PRL_ERR_DISP_VM_IS_NOT_RUNNING, "PrlVm_Pause (stopped)");

	Expect(RunJob(PrlVm_Start(hVm), PJOC_VM_START, NULL), PRL_ERR_SUCCESS, "PrlVm_Start");
	ExpectState(hVm, VMS_RUNNING);
	Expect(RunJob(PrlVm_Resume(hVm), PJOC_VM_START, NULL), PRL_ERR_VM_IS_NOT_SUSPENDED,
	       "PrlVm_Resume (running)");

	/* Suspend and resume. */
	Expect(RunJob(PrlVm_Suspend(hVm), PJOC_VM_SUSPEND, NULL), PRL_ERR_SUCCESS, "PrlVm_Suspend");
	ExpectState(hVm, VMS_SUSPENDED);
	Expect(RunJob(PrlVm_Suspend(hVm), PJOC_VM_SUSPEND, NULL), PRL_ERR_VM_ALREADY_SUSPENDED,
	       "PrlVm_Suspend (suspended)");
	Expect(RunJob(PrlVm_Resume(hVm), PJOC_VM_START, NULL), PRL_ERR_SUCCESS, "PrlVm_Resume");
	ExpectState(hVm, VMS_RUNNING);

	/* Pause and resume. */
	Expect(RunJob(PrlVm_Pause(hVm, PRL_FALSE), PJOC_VM_PAUSE, NULL), PRL_ERR_SUCCESS,
	       "PrlVm_Pause");
	ExpectState(hVm, VMS_PAUSED);
	Expect(RunJob(PrlVm_Resume(hVm), PJOC_VM_START, NULL), PRL_ERR_SUCCESS,
	       "PrlVm_Resume (paused)");
	ExpectState(hVm, VMS_RUNNING);

	/* PrlVm_Start continues a paused VM. */
	Expect(RunJob(PrlVm_Pause(hVm, PRL_FALSE), PJOC_VM_PAUSE, NULL), PRL_ERR_SUCCESS,
	       "PrlVm_Pause (again)");
	Expect(RunJob(PrlVm_Start(hVm), PJOC_VM_START, NULL), PRL_ERR_SUCCESS,
	       "PrlVm_Start (paused)");
	ExpectState(hVm, VMS_RUNNING);

	Expect(RunJob(PrlVm_StopEx(hVm, PSM_KILL, PSF_FORCE), PJOC_VM_STOP, NULL), PRL_ERR_SUCCESS,
	       "PrlVm_StopEx");
	ExpectState(hVm, VMS_STOPPED);

	PrlHandle_Free(hVm);
	Expect(RunJob(PrlSrv_Logoff(hServer), PJOC_SRV_LOGOFF, NULL), PRL_ERR_SUCCESS,
	       "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

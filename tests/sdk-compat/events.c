/* SDK compatibility: receive events while the main thread starts and stops a VM.
 *
 * An event handler in the guide's shape — static PRL_RESULT OnEvent(PRL_HANDLE hEvent,
 * PRL_VOID_PTR pUserData) — registered with PrlSrv_RegEventHandler (and a second one with
 * PrlVm_RegEventHandler). It looks at PrlHandle_GetType: PHT_EVENT handles are platform
 * events (PrlEvent_GetType; for PET_DSP_EVT_VM_STATE_CHANGED the new state is the INT32
 * parameter "vminfo_vm_state", read with PrlEvent_GetParamByName + PrlEvtPrm_ToInt32),
 * PHT_JOB handles are finished jobs (PrlJob_GetOpCode, PrlJob_GetRetCode). The handler frees
 * the handle it receives; it also keeps one event with PrlHandle_AddRef for the main thread,
 * which must stay valid after the callback returned. It also runs a job the guide's
 * asynchronous way: PrlSrv_GetVmList with the job handle freed at once, its result read in
 * the handler when the job arrives there. Exits non-zero on anything unexpected. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <prlkit/Parallels.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "events: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

#define EVENT_TIMEOUT_SECONDS 30

typedef struct {
	pthread_mutex_t lock;
	char szVmId[256];              /* lock: the VM we watch ("" until known) */
	int nRunningEvents;            /* lock: state changes of our VM to VMS_RUNNING */
	int nStoppedEvents;            /* lock: ... to VMS_STOPPED */
	int nStartJobs;                /* lock: successful PJOC_VM_START jobs delivered */
	int nStopJobs;                 /* lock */
	int nListJobs;                 /* lock: PJOC_SRV_GET_VM_LIST jobs delivered with a result */
	PRL_UINT32 nListedVms;         /* lock: the VM count the last of them reported */
	int nVmHandlerEvents;          /* lock: calls of the VM-level handler */
	int nErrors;                   /* lock: anything the handler did not like */
	PRL_HANDLE hKeptEvent;         /* lock: a state change kept with PrlHandle_AddRef */
} EventLog;

static EventLog g_log = { .lock = PTHREAD_MUTEX_INITIALIZER, .hKeptEvent = PRL_INVALID_HANDLE };

static void NoteError(EventLog *log, const char *szWhat, PRL_RESULT ret)
{
	fprintf(stderr, "events: in the handler: %s: %s\n", szWhat, prl_result_to_string(ret));
	pthread_mutex_lock(&log->lock);
	log->nErrors++;
	pthread_mutex_unlock(&log->lock);
}

static void OnStateChanged(PRL_HANDLE hEvent, EventLog *log)
{
	PRL_HANDLE hParam = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE;
	PRL_PARAM_FIELD_DATA_TYPE nParamType = PFD_UNKNOWN;
	PRL_INT32 nVmState = 0;
	char szId[256], szIssuer[256], szParamName[64];
	PRL_UINT32 nLen;
	PRL_RESULT ret;

	ret = PrlEvent_GetParamByName(hEvent, "vminfo_vm_state", &hParam);
	if (PRL_FAILED(ret)) {
		NoteError(log, "PrlEvent_GetParamByName(vminfo_vm_state)", ret);
		return;
	}
	PrlEvtPrm_GetType(hParam, &nParamType);
	nLen = sizeof(szParamName);
	PrlEvtPrm_GetName(hParam, szParamName, &nLen);
	ret = PrlEvtPrm_ToInt32(hParam, &nVmState);
	PrlHandle_Free(hParam);
	if (PRL_FAILED(ret) || nParamType != PFD_INT32 || strcmp(szParamName, "vminfo_vm_state")) {
		NoteError(log, "the vminfo_vm_state parameter", ret);
		return;
	}

	/* The guide reads it by position too: the state change's only parameter. */
	{
		PRL_UINT32 nParams = 0;
		PRL_INT32 nFirst = -1;

		PrlEvent_GetParamsCount(hEvent, &nParams);
		ret = PrlEvent_GetParam(hEvent, 0, &hParam);
		if (PRL_SUCCEEDED(ret)) {
			ret = PrlEvtPrm_ToInt32(hParam, &nFirst);
			PrlHandle_Free(hParam);
		}
		if (nParams < 1 || PRL_FAILED(ret) || nFirst != nVmState) {
			NoteError(log, "PrlEvent_GetParam(0)", ret);
			return;
		}
	}

	ret = PrlEvent_GetVm(hEvent, &hVm);
	if (PRL_FAILED(ret)) {
		NoteError(log, "PrlEvent_GetVm", ret);
		return;
	}
	nLen = sizeof(szId);
	ret = PrlVmCfg_GetUuid(hVm, szId, &nLen);
	PrlHandle_Free(hVm);
	if (PRL_FAILED(ret)) {
		NoteError(log, "PrlVmCfg_GetUuid", ret);
		return;
	}
	nLen = sizeof(szIssuer);
	ret = PrlEvent_GetIssuerId(hEvent, szIssuer, &nLen);
	if (PRL_FAILED(ret) || strcmp(szIssuer, szId) != 0) {
		NoteError(log, "PrlEvent_GetIssuerId", ret);
		return;
	}
	pthread_mutex_lock(&log->lock);
	if (strcmp(szId, log->szVmId) != 0) {
		pthread_mutex_unlock(&log->lock);
		return;   /* another VM */
	}
	printf("  event: our VM is now 0x%x\n", (unsigned)nVmState);
	if (nVmState == VMS_RUNNING) {
		log->nRunningEvents++;
		if (log->hKeptEvent == PRL_INVALID_HANDLE) {
			/* Keep it past the callback: a reference of our own. */
			PrlHandle_AddRef(hEvent);
			log->hKeptEvent = hEvent;
		}
	} else if (nVmState == VMS_STOPPED) {
		log->nStoppedEvents++;
	}
	pthread_mutex_unlock(&log->lock);
}

static void OnJob(PRL_HANDLE hJob, EventLog *log)
{
	PRL_JOB_OPERATION_CODE nOpCode = PJOC_UNKNOWN;
	PRL_JOB_STATUS nStatus = PJS_UNKNOWN;
	PRL_RESULT nRetCode = PRL_ERR_UNINITIALIZED;

	PrlJob_GetOpCode(hJob, &nOpCode);
	PrlJob_GetStatus(hJob, &nStatus);
	PrlJob_GetRetCode(hJob, &nRetCode);
	if (nStatus != PJS_FINISHED) {
		NoteError(log, "a job delivered before it finished", nRetCode);
		return;
	}
	if (nOpCode == PJOC_SRV_GET_VM_LIST && PRL_SUCCEEDED(nRetCode)) {
		/* The guide's asynchronous style: the result is read in the callback. */
		PRL_HANDLE hResult = PRL_INVALID_HANDLE;
		PRL_UINT32 nCount = 0;
		PRL_RESULT ret = PrlJob_GetResult(hJob, &hResult);

		if (PRL_FAILED(ret)) {
			NoteError(log, "PrlJob_GetResult in the handler", ret);
			return;
		}
		PrlResult_GetParamsCount(hResult, &nCount);
		PrlHandle_Free(hResult);
		pthread_mutex_lock(&log->lock);
		log->nListJobs++;
		log->nListedVms = nCount;
		pthread_mutex_unlock(&log->lock);
		return;
	}
	pthread_mutex_lock(&log->lock);
	if (nOpCode == PJOC_VM_START && PRL_SUCCEEDED(nRetCode))
		log->nStartJobs++;
	else if (nOpCode == PJOC_VM_STOP && PRL_SUCCEEDED(nRetCode))
		log->nStopJobs++;
	pthread_mutex_unlock(&log->lock);
}

static PRL_RESULT OnEvent(PRL_HANDLE hEvent, PRL_VOID_PTR pUserData)
{
	EventLog *log = (EventLog *)pUserData;
	PRL_HANDLE_TYPE nHandleType = PHT_ERROR;
	PRL_EVENT_TYPE nEventType = PET_VM_INF_UNINITIALIZED_EVENT_CODE;
	PRL_RESULT ret;

	ret = PrlHandle_GetType(hEvent, &nHandleType);
	if (PRL_FAILED(ret)) {
		NoteError(log, "PrlHandle_GetType", ret);
		return ret;   /* not a live handle: nothing to free */
	}
	if (nHandleType == PHT_EVENT) {
		ret = PrlEvent_GetType(hEvent, &nEventType);
		if (PRL_FAILED(ret))
			NoteError(log, "PrlEvent_GetType", ret);
		else if (event_type_to_string(nEventType)[0] == '\0')
			NoteError(log, "event_type_to_string of a delivered event", PRL_ERR_UNEXPECTED);
		else if (nEventType == PET_DSP_EVT_VM_STATE_CHANGED)
			OnStateChanged(hEvent, log);
	} else if (nHandleType == PHT_JOB) {
		OnJob(hEvent, log);
	}
	/* The handler owns the handle it was given. */
	PrlHandle_Free(hEvent);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT OnVmEvent(PRL_HANDLE hEvent, PRL_VOID_PTR pUserData)
{
	PRL_UNUSED_PARAM(pUserData);
	pthread_mutex_lock(&g_log.lock);
	g_log.nVmHandlerEvents++;
	pthread_mutex_unlock(&g_log.lock);
	PrlHandle_Free(hEvent);
	return PRL_ERR_SUCCESS;
}

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

static void Run(PRL_HANDLE hJob, const char *szWhat)
{
	PRL_RESULT ret = WaitForJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "%s: %s", szWhat, prl_result_to_string(ret));
}

/* Waits until *pCounter (under the log's lock) reaches nAtLeast. Events arrive
 * asynchronously, so they may trail the job a little. */
static void WaitForCount(int *pCounter, int nAtLeast, const char *szWhat)
{
	time_t tEnd = time(NULL) + EVENT_TIMEOUT_SECONDS;
	struct timespec ts = { 0, 10 * 1000000L };
	int n;

	for (;;) {
		pthread_mutex_lock(&g_log.lock);
		n = *pCounter;
		pthread_mutex_unlock(&g_log.lock);
		if (n >= nAtLeast)
			return;
		CHECK(time(NULL) < tEnd, "%s: %d after %d s, expected %d", szWhat, n,
		      EVENT_TIMEOUT_SECONDS, nAtLeast);
		nanosleep(&ts, NULL);
	}
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hResult = PRL_INVALID_HANDLE;
	PRL_HANDLE hVm = PRL_INVALID_HANDLE, hKept, hKeptServer = PRL_INVALID_HANDLE;
	PRL_EVENT_TYPE nKeptType = PET_VM_INF_UNINITIALIZED_EVENT_CODE;
	PRL_HANDLE_TYPE nType = PHT_ERROR;
	char szVmId[256];
	PRL_UINT32 nLen = sizeof(szVmId), nHandles = 1;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	/* Registered before the login: the handler is the server handle's, not the session's. */
	ret = PrlSrv_RegEventHandler(hServer, OnEvent, &g_log);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_RegEventHandler: %s", prl_result_to_string(ret));
	Run(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), "PrlSrv_LoginLocal");
	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hVm);
	PrlHandle_Free(hResult);
	PrlVmCfg_GetUuid(hVm, szVmId, &nLen);
	pthread_mutex_lock(&g_log.lock);
	snprintf(g_log.szVmId, sizeof(g_log.szVmId), "%s", szVmId);
	pthread_mutex_unlock(&g_log.lock);
	ret = PrlVm_RegEventHandler(hVm, OnVmEvent, PRL_NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_RegEventHandler: %s", prl_result_to_string(ret));

	/* Fire and forget: the job handle is freed at once, the handler gets the job when it
	 * finishes and reads the VM list there. */
	PrlHandle_Free(PrlSrv_GetVmList(hServer));
	WaitForCount(&g_log.nListJobs, 1, "PJOC_SRV_GET_VM_LIST jobs delivered");
	pthread_mutex_lock(&g_log.lock);
	CHECK(g_log.nListedVms > 0, "the handler saw an empty VM list");
	pthread_mutex_unlock(&g_log.lock);

	/* The main thread works; the handler watches. */
	Run(PrlVm_Start(hVm), "PrlVm_Start");
	WaitForCount(&g_log.nStartJobs, 1, "PJOC_VM_START jobs delivered");
	WaitForCount(&g_log.nRunningEvents, 1, "state changes to VMS_RUNNING");
	Run(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop");
	WaitForCount(&g_log.nStopJobs, 1, "PJOC_VM_STOP jobs delivered");
	WaitForCount(&g_log.nStoppedEvents, 1, "state changes to VMS_STOPPED");
	WaitForCount(&g_log.nVmHandlerEvents, 1, "calls of the VM handler");

	ret = PrlVm_UnregEventHandler(hVm, OnVmEvent, PRL_NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_UnregEventHandler: %s", prl_result_to_string(ret));
	ret = PrlSrv_UnregEventHandler(hServer, OnEvent, &g_log);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_UnregEventHandler: %s", prl_result_to_string(ret));
	ret = PrlSrv_UnregEventHandler(hServer, OnEvent, &g_log);
	CHECK(PRL_FAILED(ret), "a second unregistration succeeded");

	pthread_mutex_lock(&g_log.lock);
	CHECK(g_log.nErrors == 0, "the handler saw %d errors", g_log.nErrors);
	hKept = g_log.hKeptEvent;
	g_log.hKeptEvent = PRL_INVALID_HANDLE;
	printf("handler: %d running, %d stopped events, %d start and %d stop jobs, "
	       "%d VM handler calls\n", g_log.nRunningEvents, g_log.nStoppedEvents,
	       g_log.nStartJobs, g_log.nStopJobs, g_log.nVmHandlerEvents);
	pthread_mutex_unlock(&g_log.lock);

	/* The event kept by the handler is still a valid event. */
	ret = PrlEvent_GetType(hKept, &nKeptType);
	CHECK(PRL_SUCCEEDED(ret) && nKeptType == PET_DSP_EVT_VM_STATE_CHANGED,
	      "kept event: %s, type %d", prl_result_to_string(ret), (int)nKeptType);
	ret = PrlEvent_GetServer(hKept, &hKeptServer);
	CHECK(PRL_SUCCEEDED(ret), "PrlEvent_GetServer: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hKeptServer, &nType);
	CHECK(nType == PHT_SERVER, "the event's server is a %s", handle_type_to_string(nType));
	PrlHandle_Free(hKeptServer);
	PrlHandle_Free(hKept);

	PrlHandle_Free(hVm);
	Run(PrlSrv_Logoff(hServer), "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

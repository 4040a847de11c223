/* prlkit samples — the few steps every sample repeats. MIT license. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample-util.h"

static int step_number;

void sample_step(const char *fmt, ...)
{
	va_list ap;

	printf("[%d] ", ++step_number);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void sample_info(const char *fmt, ...)
{
	va_list ap;

	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* PrlEvent_GetErrString has two more arguments than the string helpers take. */
static PRL_RESULT get_error_string(PRL_HANDLE hError, PRL_STR buf, PRL_UINT32_PTR pnLen)
{
	return PrlEvent_GetErrString(hError, PRL_FALSE, PRL_FALSE, buf, pnLen);
}

/* Like sample_get_string but silent: used while reporting another error. */
static char *get_string_quiet(PRL_HANDLE h, sample_string_getter get)
{
	PRL_UINT32 len = 0;
	char *buf;

	if (PRL_FAILED(get(h, NULL, &len)) || len == 0)
		return NULL;
	buf = malloc(len);
	if (buf == NULL)
		return NULL;
	if (PRL_FAILED(get(h, buf, &len))) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The English text of a result code, with the two-call convention spelled out. */
static char *result_description(PRL_RESULT rc)
{
	PRL_UINT32 len = 0;
	char *buf;

	if (PRL_FAILED(PrlApi_GetResultDescription(rc, PRL_TRUE, PRL_FALSE, NULL, &len)) ||
	    len == 0)
		return NULL;
	buf = malloc(len);
	if (buf == NULL)
		return NULL;
	if (PRL_FAILED(PrlApi_GetResultDescription(rc, PRL_TRUE, PRL_FALSE, buf, &len))) {
		free(buf);
		return NULL;
	}
	return buf;
}

void sample_print_error(const char *what, PRL_RESULT rc)
{
	char *desc = result_description(rc);

	fprintf(stderr, "ERROR: %s failed: %s (%s, 0x%08x)\n", what,
	        desc ? desc : "unknown error", prl_result_to_string(rc), (unsigned)rc);
	free(desc);
}

/* The job's own message (what the platform said), when it has one. */
static void print_job_error(PRL_HANDLE hJob)
{
	PRL_HANDLE hError = PRL_INVALID_HANDLE;
	char *msg;

	if (PRL_FAILED(PrlJob_GetError(hJob, &hError)))
		return;
	msg = get_string_quiet(hError, get_error_string);
	if (msg != NULL && msg[0] != '\0')
		fprintf(stderr, "       details: %s\n", msg);
	free(msg);
	PrlHandle_Free(hError);
}

PRL_RESULT sample_wait(PRL_HANDLE hJob, const char *what, PRL_HANDLE_PTR phResult)
{
	PRL_RESULT ret, nJobRetCode;

	if (phResult != NULL)
		*phResult = PRL_INVALID_HANDLE;
	if (hJob == PRL_INVALID_HANDLE) {
		sample_print_error(what, PRL_ERR_OUT_OF_MEMORY);
		return PRL_ERR_OUT_OF_MEMORY;
	}

	ret = PrlJob_Wait(hJob, SAMPLE_JOB_TIMEOUT_MS);
	if (PRL_FAILED(ret)) {
		/* Timed out (or a bad job handle): the operation may still go on. */
		sample_print_error(what, ret);
		PrlHandle_Free(hJob);
		return ret;
	}
	ret = PrlJob_GetRetCode(hJob, &nJobRetCode);
	if (PRL_FAILED(ret)) {
		sample_print_error(what, ret);
		PrlHandle_Free(hJob);
		return ret;
	}
	if (PRL_FAILED(nJobRetCode)) {
		sample_print_error(what, nJobRetCode);
		print_job_error(hJob);
		PrlHandle_Free(hJob);
		return nJobRetCode;
	}
	if (phResult != NULL) {
		ret = PrlJob_GetResult(hJob, phResult);
		if (PRL_FAILED(ret)) {
			sample_print_error(what, ret);
			PrlHandle_Free(hJob);
			return ret;
		}
	}
	PrlHandle_Free(hJob);
	return PRL_ERR_SUCCESS;
}

char *sample_get_string(PRL_HANDLE h, sample_string_getter get, const char *what)
{
	PRL_UINT32 len = 0;
	PRL_RESULT ret;
	char *buf;

	/* First call: no buffer, the library says how many bytes (with the NUL) it needs. */
	ret = get(h, NULL, &len);
	if (PRL_FAILED(ret)) {
		sample_print_error(what, ret);
		return NULL;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL) {
		sample_print_error(what, PRL_ERR_OUT_OF_MEMORY);
		return NULL;
	}
	buf[0] = '\0';
	if (len == 0)
		return buf;
	/* Second call: fill the buffer. */
	ret = get(h, buf, &len);
	if (PRL_FAILED(ret)) {
		sample_print_error(what, ret);
		free(buf);
		return NULL;
	}
	return buf;
}

static PRL_RESULT get_product_version(PRL_HANDLE hResult)
{
	PRL_HANDLE hLoginResp = PRL_INVALID_HANDLE;
	PRL_RESULT ret;
	char *version;

	ret = PrlResult_GetParam(hResult, &hLoginResp);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlResult_GetParam (login response)", ret);
		return ret;
	}
	version = sample_get_string(hLoginResp, PrlLoginResponse_GetProductVersion,
	                            "PrlLoginResponse_GetProductVersion");
	if (version != NULL)
		sample_info("product version: %s", version);
	free(version);
	PrlHandle_Free(hLoginResp);
	return version != NULL ? PRL_ERR_SUCCESS : PRL_ERR_FAILURE;
}

PRL_RESULT sample_login_local(PRL_HANDLE_PTR phServer)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hJob, hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nameLen = 0;
	PRL_UINT64 features = 0;
	char driver[256];
	PRL_RESULT ret;

	*phServer = PRL_INVALID_HANDLE;
	sample_step("Initialise the API (PrlApi_InitEx) and log in to the local server "
	            "(PrlSrv_LoginLocal)");
	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlApi_InitEx", ret);
		return ret;
	}
	ret = PrlSrv_Create(&hServer);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlSrv_Create", ret);
		PrlApi_Deinit();
		return ret;
	}
	hJob = PrlSrv_LoginLocal(hServer, "", 0, PSL_NORMAL_SECURITY);
	ret = sample_wait(hJob, "PrlSrv_LoginLocal", &hResult);
	if (PRL_SUCCEEDED(ret)) {
		ret = get_product_version(hResult);
		PrlHandle_Free(hResult);
	}
	if (PRL_FAILED(ret)) {
		PrlHandle_Free(hServer);
		PrlApi_Deinit();
		return ret;
	}

	/* Which hypervisor answers (a prlkit extension; SDK programs do not need it). */
	nameLen = sizeof(driver);
	if (PRL_SUCCEEDED(PrlSrv_GetDriverInfo(hServer, driver, &nameLen, &features)))
		sample_info("logged in: driver '%s', features 0x%llx", driver,
		            (unsigned long long)features);
	*phServer = hServer;
	return PRL_ERR_SUCCESS;
}

int sample_logoff(PRL_HANDLE hServer)
{
	PRL_UINT32 nHandles = 0;
	int leaked = 0;

	sample_step("Log off (PrlSrv_Logoff), free the server handle and deinitialise");
	sample_wait(PrlSrv_Logoff(hServer), "PrlSrv_Logoff", NULL);
	PrlHandle_Free(hServer);

	/* Deinit first: it waits for the library's threads to let go of finished jobs. Then
	 * every handle this program was given must be gone. */
	PrlApi_Deinit();
	if (PRL_SUCCEEDED(PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR)) && nHandles != 0) {
		fprintf(stderr, "ERROR: %u handle(s) were not freed\n", nHandles);
		leaked = 1;
	} else {
		sample_info("all handles freed");
	}
	return leaked;
}

const char *sample_state_name(VIRTUAL_MACHINE_STATE state)
{
	switch (state) {
	case VMS_STOPPED: return "stopped";
	case VMS_STARTING: return "starting";
	case VMS_RESTORING: return "restoring";
	case VMS_RUNNING: return "running";
	case VMS_PAUSED: return "paused";
	case VMS_SUSPENDING: return "suspending";
	case VMS_STOPPING: return "stopping";
	case VMS_COMPACTING: return "compacting";
	case VMS_SUSPENDED: return "suspended";
	case VMS_SNAPSHOTING: return "snapshotting";
	case VMS_RESETTING: return "resetting";
	case VMS_PAUSING: return "pausing";
	case VMS_CONTINUING: return "continuing";
	case VMS_MIGRATING: return "migrating";
	case VMS_DELETING_STATE: return "deleting state";
	case VMS_RESUMING: return "resuming";
	case VMS_UNKNOWN: break;
	}
	return "unknown";
}

VIRTUAL_MACHINE_STATE sample_get_state(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE state = VMS_UNKNOWN;
	PRL_RESULT ret;

	if (PRL_FAILED(sample_wait(PrlVm_GetState(hVm), "PrlVm_GetState", &hResult)))
		return VMS_UNKNOWN;
	ret = PrlResult_GetParam(hResult, &hVmInfo);
	if (PRL_SUCCEEDED(ret))
		ret = PrlVmInfo_GetState(hVmInfo, &state);
	if (PRL_FAILED(ret)) {
		sample_print_error("reading the VM state", ret);
		state = VMS_UNKNOWN;
	}
	PrlHandle_Free(hVmInfo);
	PrlHandle_Free(hResult);
	return state;
}

PRL_UINT64 sample_driver_features(PRL_HANDLE hServer)
{
	PRL_UINT64 features = 0;
	PRL_UINT32 len = 0;
	PRL_RESULT ret;

	/* Only the feature bits are wanted: a NULL name buffer just reports its size. */
	ret = PrlSrv_GetDriverInfo(hServer, NULL, &len, &features);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlSrv_GetDriverInfo", ret);
		return 0;
	}
	return features;
}

/* Does hVm match what the sample asked for? */
static int vm_matches(PRL_HANDLE hVm, const char *nameOrId, sample_pick how)
{
	PRL_HANDLE hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE state = VMS_UNKNOWN;
	PRL_BOOL isTemplate = PRL_FALSE;
	char *name, *uuid;
	int match;

	if (nameOrId != NULL) {
		name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
		uuid = sample_get_string(hVm, PrlVmCfg_GetUuid, "PrlVmCfg_GetUuid");
		match = (name && strcmp(name, nameOrId) == 0) || (uuid && strcmp(uuid, nameOrId) == 0);
		free(name);
		free(uuid);
		return match;
	}

	if (PRL_FAILED(PrlVmCfg_IsTemplate(hVm, &isTemplate)))
		return 0;
	if (how == SAMPLE_PICK_TEMPLATE)
		return isTemplate;
	if (isTemplate)
		return 0;
	/* The list carries each VM's state as it was when the list was taken. */
	if (PRL_SUCCEEDED(PrlVmCfg_GetVmInfo(hVm, &hVmInfo))) {
		PrlVmInfo_GetState(hVmInfo, &state);
		PrlHandle_Free(hVmInfo);
	}
	return state == VMS_STOPPED;
}

PRL_RESULT sample_find_vm(PRL_HANDLE hServer, const char *nameOrId, sample_pick how,
                          PRL_HANDLE_PTR phVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVm;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;

	*phVm = PRL_INVALID_HANDLE;
	ret = sample_wait(PrlSrv_GetVmList(hServer), "PrlSrv_GetVmList", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	ret = PrlResult_GetParamsCount(hResult, &nCount);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlResult_GetParamsCount", ret);
		PrlHandle_Free(hResult);
		return ret;
	}
	for (i = 0; i < nCount && *phVm == PRL_INVALID_HANDLE; i++) {
		hVm = PRL_INVALID_HANDLE;
		ret = PrlResult_GetParamByIndex(hResult, i, &hVm);
		if (PRL_FAILED(ret)) {
			sample_print_error("PrlResult_GetParamByIndex", ret);
			break;
		}
		if (vm_matches(hVm, nameOrId, how))
			*phVm = hVm; /* keep this reference: the caller frees it */
		else
			PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	if (*phVm != PRL_INVALID_HANDLE)
		return PRL_ERR_SUCCESS;
	if (PRL_FAILED(ret))
		return ret;

	if (nameOrId != NULL)
		fprintf(stderr, "ERROR: no virtual machine named '%s' (or with that id)\n", nameOrId);
	else if (how == SAMPLE_PICK_TEMPLATE)
		fprintf(stderr, "ERROR: no template found; name one on the command line\n");
	else
		fprintf(stderr, "ERROR: no stopped virtual machine found; name one on the command line\n");
	return PRL_ERR_VM_UUID_NOT_FOUND;
}

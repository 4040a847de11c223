/* SDK compatibility: clone a virtual machine into a VM and into a template, then delete.
 *
 * PrlVm_Clone(hVm, name, "", PRL_FALSE) and (..., PRL_TRUE), PrlVm_CloneEx with
 * PCVF_CLONE_TO_TEMPLATE; the clone's handle comes back as the job's result param
 * (PrlResult_GetParam). Checks the clones' names, ids and template flags, that they appear
 * in the VM list, that a template refuses to start, that an empty name is refused, and
 * that PrlVm_Delete removes them. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Parallels.h"

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "clone: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

static PRL_HANDLE hServer = PRL_INVALID_HANDLE;

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

/* Malloc'ed string via the two-call convention. */
static char *GetString(PRL_HANDLE h, PRL_RESULT (*get)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR))
{
	PRL_UINT32 nLen = 0;
	char *s;

	CHECK(PRL_SUCCEEDED(get(h, NULL, &nLen)) && nLen > 0, "size query failed");
	s = malloc(nLen);
	CHECK(s != NULL, "out of memory");
	CHECK(PRL_SUCCEEDED(get(h, s, &nLen)), "string query failed");
	return s;
}

/* Clones and returns the new VM's handle (the job's result param). */
static PRL_HANDLE CloneVm(PRL_HANDLE hJob, const char *szNewName)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hClone = PRL_INVALID_HANDLE;
	PRL_HANDLE_TYPE nType = PHT_ERROR;
	PRL_UINT32 nCount = 0;
	PRL_RESULT ret;
	char *szName;

	ret = WaitForJob(hJob, &hResult);
	CHECK(PRL_SUCCEEDED(ret), "clone to '%s': %s", szNewName, prl_result_to_string(ret));
	PrlResult_GetParamsCount(hResult, &nCount);
	CHECK(nCount >= 1, "the clone job's result has no params");
	ret = PrlResult_GetParam(hResult, &hClone);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParam: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hClone, &nType);
	CHECK(nType == PHT_VIRTUAL_MACHINE, "the clone result is a %s", handle_type_to_string(nType));
	PrlHandle_Free(hResult);

	szName = GetString(hClone, PrlVmCfg_GetName);
	CHECK(strcmp(szName, szNewName) == 0, "the clone is called '%s', expected '%s'", szName,
	      szNewName);
	free(szName);
	return hClone;
}

static int IsInVmList(const char *szId)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	int found = 0;

	CHECK(PRL_SUCCEEDED(WaitForJob(PrlSrv_GetVmList(hServer), &hResult)), "PrlSrv_GetVmList");
	PrlResult_GetParamsCount(hResult, &nCount);
	for (i = 0; i < nCount; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE;
		char *szVmId;

		PrlResult_GetParamByIndex(hResult, i, &hVm);
		szVmId = GetString(hVm, PrlVmCfg_GetUuid);
		found |= strcmp(szVmId, szId) == 0;
		free(szVmId);
		PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	return found;
}

static void ExpectTemplate(PRL_HANDLE hVm, PRL_BOOL bExpected)
{
	PRL_BOOL bTemplate = !bExpected;
	PRL_RESULT ret = PrlVmCfg_IsTemplate(hVm, &bTemplate);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_IsTemplate: %s", prl_result_to_string(ret));
	CHECK(!bTemplate == !bExpected, "template flag %u, expected %u", bTemplate, bExpected);
}

static void DeleteVm(PRL_HANDLE hVm, const char *szId)
{
	PRL_RESULT ret = WaitForJob(PrlVm_Delete(hVm, PRL_INVALID_HANDLE), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_Delete: %s", prl_result_to_string(ret));
	CHECK(!IsInVmList(szId), "deleted VM %s still listed", szId);
	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, szId, PGVC_SEARCH_BY_UUID), NULL);
	CHECK(PRL_FAILED(ret), "PrlSrv_GetVmConfig found deleted VM %s", szId);
}

int main(void)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hSource = PRL_INVALID_HANDLE;
	PRL_HANDLE hClone, hTemplate, hTemplate2;
	char *szSourceId, *szCloneId, *szTemplateId, *szTemplate2Id;
	PRL_UINT32 nHandles = 1;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	ret = WaitForJob(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_LoginLocal: %s", prl_result_to_string(ret));

	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hSource);
	PrlHandle_Free(hResult);
	szSourceId = GetString(hSource, PrlVmCfg_GetUuid);

	/* A plain clone; "" for the root path means the default location. */
	hClone = CloneVm(PrlVm_Clone(hSource, "sdk-compat clone", "", PRL_FALSE), "sdk-compat clone");
	szCloneId = GetString(hClone, PrlVmCfg_GetUuid);
	CHECK(strcmp(szCloneId, szSourceId) != 0, "the clone has its source's id");
	ExpectTemplate(hClone, PRL_FALSE);
	CHECK(IsInVmList(szCloneId), "the clone is not listed");
	printf("cloned to a VM: %s\n", szCloneId);

	/* A clone that is a template. */
	hTemplate = CloneVm(PrlVm_Clone(hSource, "sdk-compat template", "", PRL_TRUE),
	                    "sdk-compat template");
	szTemplateId = GetString(hTemplate, PrlVmCfg_GetUuid);
	ExpectTemplate(hTemplate, PRL_TRUE);
	ExpectTemplate(hSource, PRL_FALSE);
	ret = WaitForJob(PrlVm_Start(hTemplate), NULL);
	CHECK(ret == PRL_ERR_CANT_TO_START_VM_TEMPLATE, "starting a template: %s",
	      prl_result_to_string(ret));
	printf("cloned to a template: %s\n", szTemplateId);

	/* A VM cloned from that template, with the Ex call and the template flag. */
	hTemplate2 = CloneVm(PrlVm_CloneEx(hTemplate, "sdk-compat template 2", NULL,
	                                   PCVF_CLONE_TO_TEMPLATE), "sdk-compat template 2");
	szTemplate2Id = GetString(hTemplate2, PrlVmCfg_GetUuid);
	ExpectTemplate(hTemplate2, PRL_TRUE);

	/* Refusals: an empty name, a name in use. */
	ret = WaitForJob(PrlVm_Clone(hSource, "", "", PRL_FALSE), NULL);
	CHECK(ret == PRL_ERR_VM_EMPTY_NAME_OF_CLONE, "empty clone name: %s",
	      prl_result_to_string(ret));
	ret = WaitForJob(PrlVm_Clone(hSource, "sdk-compat clone", "", PRL_FALSE), NULL);
	CHECK(PRL_FAILED(ret), "a second VM with the same name was created");

	DeleteVm(hTemplate2, szTemplate2Id);
	DeleteVm(hTemplate, szTemplateId);
	DeleteVm(hClone, szCloneId);
	CHECK(IsInVmList(szSourceId), "the source VM went away");
	printf("clones deleted\n");

	free(szTemplate2Id);
	free(szTemplateId);
	free(szCloneId);
	free(szSourceId);
	PrlHandle_Free(hTemplate2);
	PrlHandle_Free(hTemplate);
	PrlHandle_Free(hClone);
	PrlHandle_Free(hSource);
	ret = WaitForJob(PrlSrv_Logoff(hServer), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Logoff: %s", prl_result_to_string(ret));
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

/* SDK compatibility: convert a virtual machine into a template and back.
 *
 * The SDK converts in place inside an edit transaction: PrlVm_BeginEdit,
 * PrlVmCfg_SetTemplateSign(PRL_TRUE), PrlVm_Commit. Checks PrlVmCfg_IsTemplate before and
 * after (also from a fresh PrlSrv_GetVmList), that the template refuses PrlVm_Start with
 * PRL_ERR_CANT_TO_START_VM_TEMPLATE, that a template can be cloned into a VM that starts,
 * that a running VM cannot become a template, and converts back. Exits non-zero on
 * anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Parallels.h"

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "template: line %d: ", __LINE__); \
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

static void Run(PRL_HANDLE hJob, const char *szWhat)
{
	PRL_RESULT ret = WaitForJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "%s: %s", szWhat, prl_result_to_string(ret));
}

static PRL_RESULT SetTemplate(PRL_HANDLE hVm, PRL_BOOL bTemplate)
{
	PRL_RESULT ret;

	Run(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit");
	ret = PrlVmCfg_SetTemplateSign(hVm, bTemplate);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_SetTemplateSign: %s", prl_result_to_string(ret));
	return WaitForJob(PrlVm_Commit(hVm), NULL);
}

static PRL_BOOL IsTemplate(PRL_HANDLE hVm)
{
	PRL_BOOL bTemplate = PRL_FALSE;
	PRL_RESULT ret = PrlVmCfg_IsTemplate(hVm, &bTemplate);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_IsTemplate: %s", prl_result_to_string(ret));
	return bTemplate;
}

/* The template flag of the VM called szName as a fresh VM list reports it. */
static PRL_BOOL IsTemplateInList(const char *szName)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	PRL_BOOL bTemplate = PRL_FALSE;
	int found = 0;

	CHECK(PRL_SUCCEEDED(WaitForJob(PrlSrv_GetVmList(hServer), &hResult)), "PrlSrv_GetVmList");
	PrlResult_GetParamsCount(hResult, &nCount);
	for (i = 0; i < nCount; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE;
		char szVmName[512];
		PRL_UINT32 nLen = sizeof(szVmName);

		PrlResult_GetParamByIndex(hResult, i, &hVm);
		PrlVmCfg_GetName(hVm, szVmName, &nLen);
		if (strcmp(szVmName, szName) == 0) {
			found = 1;
			bTemplate = IsTemplate(hVm);
		}
		PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	CHECK(found, "'%s' is not listed", szName);
	return bTemplate;
}

int main(void)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE, hClone = PRL_INVALID_HANDLE;
	PRL_UINT32 nHandles = 1;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	Run(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), "PrlSrv_LoginLocal");
	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, "debian-build", PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hVm);
	PrlHandle_Free(hResult);
	CHECK(!IsTemplate(hVm), "debian-build is a template already");

	/* A running VM cannot become a template. */
	Run(PrlVm_Start(hVm), "PrlVm_Start");
	ret = SetTemplate(hVm, PRL_TRUE);
	CHECK(PRL_FAILED(ret), "a running VM became a template");
	printf("running VM to template: %s\n", prl_result_to_string(ret));
	Run(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop");
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	CHECK(!IsTemplate(hVm), "the refused conversion left the template flag set");

	/* Stopped: it works. */
	ret = SetTemplate(hVm, PRL_TRUE);
	CHECK(PRL_SUCCEEDED(ret), "converting to a template: %s", prl_result_to_string(ret));
	CHECK(IsTemplate(hVm), "not a template after the commit");
	CHECK(IsTemplateInList("debian-build"), "the VM list does not show a template");
	ret = WaitForJob(PrlVm_Start(hVm), NULL);
	CHECK(ret == PRL_ERR_CANT_TO_START_VM_TEMPLATE, "starting the template: %s",
	      prl_result_to_string(ret));
	printf("template start: %s\n", prl_result_to_string(ret));

	/* A VM made from the template starts. */
	ret = WaitForJob(PrlVm_Clone(hVm, "sdk-compat from template", "", PRL_FALSE), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_Clone: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hClone);
	PrlHandle_Free(hResult);
	CHECK(!IsTemplate(hClone), "the clone of a template is a template");
	Run(PrlVm_Start(hClone), "PrlVm_Start(clone)");
	Run(PrlVm_Stop(hClone, PRL_FALSE), "PrlVm_Stop(clone)");
	Run(PrlVm_Delete(hClone, PRL_INVALID_HANDLE), "PrlVm_Delete(clone)");

	/* And back to a VM. */
	ret = SetTemplate(hVm, PRL_FALSE);
	CHECK(PRL_SUCCEEDED(ret), "converting back: %s", prl_result_to_string(ret));
	CHECK(!IsTemplate(hVm), "still a template");
	CHECK(!IsTemplateInList("debian-build"), "the VM list still shows a template");
	Run(PrlVm_Start(hVm), "PrlVm_Start(after conversion back)");
	Run(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop");

	PrlHandle_Free(hClone);
	PrlHandle_Free(hVm);
	Run(PrlSrv_Logoff(hServer), "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	printf("template: ok\n");
	return 0;
}

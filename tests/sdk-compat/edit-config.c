/* SDK compatibility: edit a virtual machine's configuration.
 *
 * The SDK's edit transaction: PrlVm_BeginEdit, setters on the configuration handle from
 * PrlVm_GetConfig (PrlVmCfg_SetName, SetRamSize, SetCpuCount, SetDescription), PrlVm_Commit;
 * then PrlVm_RefreshConfig and the getters, and a second connection that must see the
 * committed values. Also: two connections editing the same VM (the later commit is
 * refused), a commit without BeginEdit, an invalid RAM size, and a name already in use.
 * Restores the original configuration at the end. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Parallels.h"

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "edit-config: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

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

static PRL_HANDLE Login(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE;
	CHECK(PRL_SUCCEEDED(PrlSrv_Create(&hServer)), "PrlSrv_Create");
	Run(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), "PrlSrv_LoginLocal");
	return hServer;
}

static void Logoff(PRL_HANDLE hServer)
{
	Run(PrlSrv_Logoff(hServer), "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
}

static PRL_HANDLE GetVm(PRL_HANDLE hServer, const char *szId, PRL_UINT32 nFlags)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE;
	PRL_RESULT ret = WaitForJob(PrlSrv_GetVmConfig(hServer, szId, nFlags), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig(%s): %s", szId, prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hVm);
	PrlHandle_Free(hResult);
	return hVm;
}

typedef struct {
	char szName[256];
	char szDescription[1024];
	PRL_UINT32 nRam;
	PRL_UINT32 nCpus;
} VmSettings;

static void ReadSettings(PRL_HANDLE hVm, VmSettings *s)
{
	PRL_HANDLE hVmCfg = PRL_INVALID_HANDLE;
	PRL_UINT32 nLen;

	CHECK(PRL_SUCCEEDED(PrlVm_GetConfig(hVm, &hVmCfg)), "PrlVm_GetConfig");
	nLen = sizeof(s->szName);
	CHECK(PRL_SUCCEEDED(PrlVmCfg_GetName(hVmCfg, s->szName, &nLen)), "PrlVmCfg_GetName");
	nLen = sizeof(s->szDescription);
	CHECK(PRL_SUCCEEDED(PrlVmCfg_GetDescription(hVmCfg, s->szDescription, &nLen)),
	      "PrlVmCfg_GetDescription");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_GetRamSize(hVmCfg, &s->nRam)), "PrlVmCfg_GetRamSize");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_GetCpuCount(hVmCfg, &s->nCpus)), "PrlVmCfg_GetCpuCount");
	PrlHandle_Free(hVmCfg);
}

static void ExpectSettings(PRL_HANDLE hVm, const VmSettings *want, const char *szWhere)
{
	VmSettings got;
	ReadSettings(hVm, &got);
	CHECK(strcmp(got.szName, want->szName) == 0, "%s: name '%s', expected '%s'", szWhere,
	      got.szName, want->szName);
	CHECK(strcmp(got.szDescription, want->szDescription) == 0,
	      "%s: description '%s', expected '%s'", szWhere, got.szDescription,
	      want->szDescription);
	CHECK(got.nRam == want->nRam, "%s: RAM %u, expected %u", szWhere, got.nRam, want->nRam);
	CHECK(got.nCpus == want->nCpus, "%s: CPUs %u, expected %u", szWhere, got.nCpus,
	      want->nCpus);
}

/* One edit transaction through the configuration handle. */
static PRL_RESULT Edit(PRL_HANDLE hVm, const VmSettings *s)
{
	PRL_HANDLE hVmCfg = PRL_INVALID_HANDLE;

	Run(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit");
	CHECK(PRL_SUCCEEDED(PrlVm_GetConfig(hVm, &hVmCfg)), "PrlVm_GetConfig");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetName(hVmCfg, s->szName)), "PrlVmCfg_SetName");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetDescription(hVmCfg, s->szDescription)),
	      "PrlVmCfg_SetDescription");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetRamSize(hVmCfg, s->nRam)), "PrlVmCfg_SetRamSize");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetCpuCount(hVmCfg, s->nCpus)), "PrlVmCfg_SetCpuCount");
	PrlHandle_Free(hVmCfg);
	return WaitForJob(PrlVm_Commit(hVm), NULL);
}

int main(void)
{
	PRL_HANDLE hServer, hServer2, hVm, hVm2;
	VmSettings orig, edited, other;
	char szId[256];
	PRL_UINT32 nLen = sizeof(szId), nHandles = 1;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	hServer = Login();
	hVm = GetVm(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME);
	PrlVmCfg_GetUuid(hVm, szId, &nLen);
	ReadSettings(hVm, &orig);
	printf("before: '%s', %u MB, %u CPUs, '%s'\n", orig.szName, orig.nRam, orig.nCpus,
	       orig.szDescription);

	/* Edit and commit. */
	edited = orig;
	snprintf(edited.szName, sizeof(edited.szName), "%s", "sdk-compat edited");
	snprintf(edited.szDescription, sizeof(edited.szDescription), "%s",
	         "Edited by the SDK compatibility test");
	edited.nRam = orig.nRam + 512;
	edited.nCpus = orig.nCpus + 1;
	ret = Edit(hVm, &edited);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_Commit: %s", prl_result_to_string(ret));
	ExpectSettings(hVm, &edited, "after commit");
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	ExpectSettings(hVm, &edited, "after refresh");
	printf("after:  '%s', %u MB, %u CPUs, '%s'\n", edited.szName, edited.nRam, edited.nCpus,
	       edited.szDescription);

	/* Another connection sees the new configuration, by id and by new name. */
	hServer2 = Login();
	hVm2 = GetVm(hServer2, szId, PGVC_SEARCH_BY_UUID);
	ExpectSettings(hVm2, &edited, "second connection");
	PrlHandle_Free(hVm2);
	hVm2 = GetVm(hServer2, edited.szName, PGVC_SEARCH_BY_NAME);

	/* Both connections begin an edit; the first commit wins, the second is refused. */
	Run(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit(1)");
	Run(PrlVm_BeginEdit(hVm2), "PrlVm_BeginEdit(2)");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetDescription(hVm, "first writer")), "SetDescription(1)");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetDescription(hVm2, "second writer")), "SetDescription(2)");
	Run(PrlVm_Commit(hVm), "PrlVm_Commit(1)");
	ret = WaitForJob(PrlVm_Commit(hVm2), NULL);
	CHECK(PRL_FAILED(ret), "the second, stale commit succeeded");
	printf("stale commit: %s\n", prl_result_to_string(ret));
	Run(PrlVm_RefreshConfig(hVm2), "PrlVm_RefreshConfig(2)");
	ReadSettings(hVm2, &other);
	CHECK(strcmp(other.szDescription, "first writer") == 0, "description '%s'",
	      other.szDescription);
	PrlHandle_Free(hVm2);
	Logoff(hServer2);

	/* Invalid values are refused and change nothing. */
	Run(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit");
	PrlVmCfg_SetRamSize(hVm, 3);
	ret = WaitForJob(PrlVm_Commit(hVm), NULL);
	CHECK(PRL_FAILED(ret), "a 3 MB RAM size was accepted");
	printf("3 MB RAM: %s\n", prl_result_to_string(ret));
	other = edited;
	snprintf(other.szDescription, sizeof(other.szDescription), "%s", "first writer");
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	ExpectSettings(hVm, &other, "after a refused commit");

	other.nRam = edited.nRam;
	snprintf(other.szName, sizeof(other.szName), "%s", "debian-build");
	ret = Edit(hVm, &other);
	CHECK(PRL_FAILED(ret), "renaming to a name in use succeeded");
	printf("name in use: %s\n", prl_result_to_string(ret));
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");

	/* Put everything back. */
	ret = Edit(hVm, &orig);
	CHECK(PRL_SUCCEEDED(ret), "restoring: %s", prl_result_to_string(ret));
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	ExpectSettings(hVm, &orig, "restored");

	PrlHandle_Free(hVm);
	Logoff(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

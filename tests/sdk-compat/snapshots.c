/* SDK compatibility: snapshots — create, read the tree, switch, delete.
 *
 * PrlVm_CreateSnapshot(name, description); PrlVm_GetSnapshotsTree, whose result is an XML
 * string (PrlResult_GetParamAsString, two calls) in the SDK's shape: <ParallelsSavedStates>
 * with nested <SavedStateItem guid="..."> elements holding <Name> and <Description>. The
 * program finds its snapshots' ids (the guid attribute) by name, as an SDK program does,
 * and passes them to PrlVm_SwitchToSnapshot and PrlVm_DeleteSnapshot. Switching back must
 * restore the configuration (RAM size) and the power state recorded in the snapshot.
 * Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prlkit/Parallels.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "snapshots: line %d: ", __LINE__); \
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

/* The snapshots tree as a malloc'ed XML string. */
static char *GetSnapshotsTree(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nLen = 0;
	PRL_RESULT ret;
	char *szXml;

	ret = WaitForJob(PrlVm_GetSnapshotsTree(hVm), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_GetSnapshotsTree: %s", prl_result_to_string(ret));
	ret = PrlResult_GetParamAsString(hResult, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen > 0, "PrlResult_GetParamAsString(size): %s",
	      prl_result_to_string(ret));
	szXml = malloc(nLen);
	CHECK(szXml != NULL, "out of memory");
	ret = PrlResult_GetParamAsString(hResult, szXml, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParamAsString: %s", prl_result_to_string(ret));
	PrlHandle_Free(hResult);
	CHECK(strstr(szXml, "<ParallelsSavedStates") != NULL, "not a snapshots tree:\n%s", szXml);
	return szXml;
}

/* Copies the text between szOpen and szClose found after p into out; returns the position
 * after szClose or NULL. */
static const char *Extract(const char *p, const char *szOpen, const char *szClose, char *out,
                           size_t nOut)
{
	const char *b = strstr(p, szOpen), *e;
	size_t n;

	if (b == NULL)
		return NULL;
	b += strlen(szOpen);
	e = strstr(b, szClose);
	if (e == NULL)
		return NULL;
	n = (size_t)(e - b) < nOut - 1 ? (size_t)(e - b) : nOut - 1;
	memcpy(out, b, n);
	out[n] = '\0';
	return e + strlen(szClose);
}

/* The guid of the snapshot called szName ("" when there is none), and its description. */
static void FindSnapshot(const char *szXml, const char *szName, char *szGuid, size_t nGuid,
                         char *szDescription, size_t nDescription)
{
	const char *p = szXml;
	char szItemGuid[256], szItemName[256], szItemDesc[1024];

	szGuid[0] = '\0';
	while ((p = strstr(p, "<SavedStateItem")) != NULL) {
		const char *q = Extract(p, "guid=\"", "\"", szItemGuid, sizeof(szItemGuid));
		CHECK(q != NULL, "a SavedStateItem without a guid");
		q = Extract(q, "<Name>", "</Name>", szItemName, sizeof(szItemName));
		CHECK(q != NULL, "a SavedStateItem without a Name");
		szItemDesc[0] = '\0';
		Extract(q, "<Description>", "</Description>", szItemDesc, sizeof(szItemDesc));
		if (strcmp(szItemName, szName) == 0) {
			snprintf(szGuid, nGuid, "%s", szItemGuid);
			snprintf(szDescription, nDescription, "%s", szItemDesc);
			return;
		}
		p = q;
	}
}

static PRL_UINT32 GetRam(PRL_HANDLE hVm)
{
	PRL_UINT32 nRam = 0;
	Run(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_GetRamSize(hVm, &nRam)), "PrlVmCfg_GetRamSize");
	return nRam;
}

static VIRTUAL_MACHINE_STATE GetState(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE nState = VMS_UNKNOWN;

	CHECK(PRL_SUCCEEDED(WaitForJob(PrlVm_GetState(hVm), &hResult)), "PrlVm_GetState");
	PrlResult_GetParam(hResult, &hInfo);
	PrlVmInfo_GetState(hInfo, &nState);
	PrlHandle_Free(hInfo);
	PrlHandle_Free(hResult);
	return nState;
}

static void SetRam(PRL_HANDLE hVm, PRL_UINT32 nRam)
{
	Run(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit");
	CHECK(PRL_SUCCEEDED(PrlVmCfg_SetRamSize(hVm, nRam)), "PrlVmCfg_SetRamSize");
	Run(PrlVm_Commit(hVm), "PrlVm_Commit");
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hResult = PRL_INVALID_HANDLE;
	PRL_HANDLE hVm = PRL_INVALID_HANDLE;
	PRL_UINT32 nRam, nHandles = 1;
	PRL_RESULT ret;
	char szGuid1[256], szGuid2[256], szGuid3[256], szDesc[1024];
	char *szXml;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	Run(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), "PrlSrv_LoginLocal");
	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, "debian-build", PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hVm);
	PrlHandle_Free(hResult);
	CHECK(GetState(hVm) == VMS_STOPPED, "debian-build is not stopped");
	nRam = GetRam(hVm);

	/* Snapshot 1 of the stopped VM. */
	Run(PrlVm_CreateSnapshot(hVm, "sdk-compat-1", "first snapshot"), "PrlVm_CreateSnapshot(1)");
	szXml = GetSnapshotsTree(hVm);
	FindSnapshot(szXml, "sdk-compat-1", szGuid1, sizeof(szGuid1), szDesc, sizeof(szDesc));
	CHECK(szGuid1[0] != '\0', "snapshot sdk-compat-1 not in the tree:\n%s", szXml);
	CHECK(strcmp(szDesc, "first snapshot") == 0, "description \"%s\"", szDesc);
	free(szXml);
	printf("snapshot 1: guid %s\n", szGuid1);

	/* Change the VM, start it, snapshot 2 of the running VM. */
	SetRam(hVm, nRam + 1024);
	CHECK(GetRam(hVm) == nRam + 1024, "RAM not changed");
	Run(PrlVm_Start(hVm), "PrlVm_Start");
	Run(PrlVm_CreateSnapshot(hVm, "sdk-compat-2", ""), "PrlVm_CreateSnapshot(2)");
	Run(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop");
	szXml = GetSnapshotsTree(hVm);
	FindSnapshot(szXml, "sdk-compat-2", szGuid2, sizeof(szGuid2), szDesc, sizeof(szDesc));
	CHECK(szGuid2[0] != '\0', "snapshot sdk-compat-2 not in the tree:\n%s", szXml);
	CHECK(strcmp(szGuid1, szGuid2) != 0, "two snapshots share guid %s", szGuid1);
	free(szXml);
	printf("snapshot 2: guid %s\n", szGuid2);

	/* Back to 1: stopped, old RAM. */
	Run(PrlVm_SwitchToSnapshot(hVm, szGuid1), "PrlVm_SwitchToSnapshot(1)");
	CHECK(GetRam(hVm) == nRam, "RAM %u after switching to snapshot 1, expected %u",
	      GetRam(hVm), nRam);
	CHECK(GetState(hVm) == VMS_STOPPED, "not stopped after switching to snapshot 1");

	/* Forward to 2: running, new RAM. */
	Run(PrlVm_SwitchToSnapshot(hVm, szGuid2), "PrlVm_SwitchToSnapshot(2)");
	CHECK(GetRam(hVm) == nRam + 1024, "RAM not restored by snapshot 2");
	CHECK(GetState(hVm) == VMS_RUNNING, "not running after switching to snapshot 2");
	Run(PrlVm_StopEx(hVm, PSM_KILL, 0), "PrlVm_StopEx");

	/* An unknown snapshot id is refused. */
	ret = WaitForJob(PrlVm_SwitchToSnapshot(hVm, "no-such-snapshot"), NULL);
	CHECK(ret == PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "switch to an unknown snapshot: %s",
	      prl_result_to_string(ret));

	/* Delete 2, then 1. */
	Run(PrlVm_DeleteSnapshot(hVm, szGuid2, PRL_FALSE), "PrlVm_DeleteSnapshot(2)");
	szXml = GetSnapshotsTree(hVm);
	FindSnapshot(szXml, "sdk-compat-2", szGuid3, sizeof(szGuid3), szDesc, sizeof(szDesc));
	CHECK(szGuid3[0] == '\0', "deleted snapshot still in the tree:\n%s", szXml);
	FindSnapshot(szXml, "sdk-compat-1", szGuid3, sizeof(szGuid3), szDesc, sizeof(szDesc));
	CHECK(strcmp(szGuid3, szGuid1) == 0, "snapshot 1 gone with snapshot 2:\n%s", szXml);
	free(szXml);
	Run(PrlVm_DeleteSnapshot(hVm, szGuid1, PRL_FALSE), "PrlVm_DeleteSnapshot(1)");
	szXml = GetSnapshotsTree(hVm);
	CHECK(strstr(szXml, "<SavedStateItem") == NULL, "snapshots left:\n%s", szXml);
	free(szXml);
	ret = WaitForJob(PrlVm_DeleteSnapshot(hVm, szGuid1, PRL_FALSE), NULL);
	CHECK(ret == PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "deleting a deleted snapshot: %s",
	      prl_result_to_string(ret));

	SetRam(hVm, nRam);
	PrlHandle_Free(hVm);
	Run(PrlSrv_Logoff(hServer), "PrlSrv_Logoff");
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	printf("snapshots: ok\n");
	return 0;
}

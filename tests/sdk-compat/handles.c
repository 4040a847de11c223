/* SDK compatibility: handle ownership, lists and the handle counters.
 *
 * Every handle an SDK program receives is its own reference: PrlDbg_GetHandlesNum (per
 * type, and PHT_ERROR for all) goes up by exactly what the program was handed and back
 * down when it frees them — the way SDK users hunt leaks. Also the SDK's list objects:
 * PrlApi_CreateStringsList (PrlStrList_AddItem / GetItemsCount / GetItem with two calls /
 * RemoveItem) and PrlApi_CreateHandlesList holding VM handles (PrlHndlList_*), string
 * result params (PrlResult_GetParamByIndexAsString), and PrlHandle_AddRef for a handle
 * used after the list that held it is gone. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prlkit/Parallels.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "handles: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

static PRL_UINT32 Count(PRL_HANDLE_TYPE nType)
{
	PRL_UINT32 n = 0;
	PRL_RESULT ret = PrlDbg_GetHandlesNum(&n, nType);
	CHECK(PRL_SUCCEEDED(ret), "PrlDbg_GetHandlesNum(%s): %s", handle_type_to_string(nType),
	      prl_result_to_string(ret));
	return n;
}

static void ExpectCount(PRL_HANDLE_TYPE nType, PRL_UINT32 nExpected, const char *szWhen)
{
	PRL_UINT32 n = Count(nType);
	CHECK(n == nExpected, "%s: %u handles of type %s, expected %u", szWhen, n,
	      nType == PHT_ERROR ? "(any)" : handle_type_to_string(nType), nExpected);
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

static void CheckStringsList(void)
{
	PRL_HANDLE hList = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, nLen;
	PRL_HANDLE_TYPE nType = PHT_ERROR;
	char szItem[64], *szLong;
	PRL_RESULT ret;

	ret = PrlApi_CreateStringsList(&hList);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_CreateStringsList: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hList, &nType);
	CHECK(nType == PHT_STRINGS_LIST, "strings list is a %s", handle_type_to_string(nType));
	ExpectCount(PHT_STRINGS_LIST, 1, "after PrlApi_CreateStringsList");

	CHECK(PRL_SUCCEEDED(PrlStrList_AddItem(hList, "alpha")), "PrlStrList_AddItem");
	CHECK(PRL_SUCCEEDED(PrlStrList_AddItem(hList, "")), "PrlStrList_AddItem(empty)");
	CHECK(PRL_SUCCEEDED(PrlStrList_AddItem(hList, "a somewhat longer third item")),
	      "PrlStrList_AddItem");
	PrlStrList_GetItemsCount(hList, &nCount);
	CHECK(nCount == 3, "%u items", nCount);

	nLen = sizeof(szItem);
	ret = PrlStrList_GetItem(hList, 0, szItem, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && strcmp(szItem, "alpha") == 0, "item 0: %s, \"%s\"",
	      prl_result_to_string(ret), szItem);
	nLen = sizeof(szItem);
	ret = PrlStrList_GetItem(hList, 1, szItem, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && szItem[0] == '\0' && nLen == 1, "item 1: %s, %u",
	      prl_result_to_string(ret), nLen);
	nLen = 0;
	ret = PrlStrList_GetItem(hList, 2, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen == sizeof("a somewhat longer third item"), "size %u",
	      nLen);
	szLong = malloc(nLen);
	CHECK(szLong != NULL, "out of memory");
	ret = PrlStrList_GetItem(hList, 2, szLong, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && strcmp(szLong, "a somewhat longer third item") == 0,
	      "item 2: \"%s\"", szLong);
	free(szLong);
	nLen = sizeof(szItem);
	ret = PrlStrList_GetItem(hList, 3, szItem, &nLen);
	CHECK(PRL_FAILED(ret), "item 3 of 3 was returned");

	CHECK(PRL_SUCCEEDED(PrlStrList_RemoveItem(hList, 0)), "PrlStrList_RemoveItem");
	PrlStrList_GetItemsCount(hList, &nCount);
	CHECK(nCount == 2, "%u items after removing one", nCount);
	nLen = sizeof(szItem);
	PrlStrList_GetItem(hList, 0, szItem, &nLen);
	CHECK(szItem[0] == '\0', "the items did not move up");
	CHECK(PRL_FAILED(PrlStrList_RemoveItem(hList, 5)), "removing item 5 of 2 succeeded");

	PrlHandle_Free(hList);
	ExpectCount(PHT_STRINGS_LIST, 0, "after freeing the strings list");
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hJob, hResult = PRL_INVALID_HANDLE;
	PRL_HANDLE hList = PRL_INVALID_HANDLE, hVm, hKept = PRL_INVALID_HANDLE;
	PRL_UINT32 nVms = 0, nItems = 0, i, nBase, nLen;
	PRL_HANDLE_TYPE nType;
	char szName[256], szKeptName[256];
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	ExpectCount(PHT_ERROR, 0, "after PrlApi_InitEx");

	CheckStringsList();

	PrlSrv_Create(&hServer);
	ExpectCount(PHT_SERVER, 1, "after PrlSrv_Create");
	hJob = PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY);
	ExpectCount(PHT_JOB, 1, "with the login job");
	ret = WaitForJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_LoginLocal: %s", prl_result_to_string(ret));
	ExpectCount(PHT_JOB, 0, "after freeing the login job");
	ExpectCount(PHT_ERROR, 1, "logged in");
	nBase = Count(PHT_ERROR);

	/* The VM list: the result, then one VM handle per GetParamByIndex. */
	ret = WaitForJob(PrlSrv_GetVmList(hServer), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmList: %s", prl_result_to_string(ret));
	ExpectCount(PHT_RESULT, 1, "holding the list result");
	PrlResult_GetParamsCount(hResult, &nVms);
	CHECK(nVms > 1, "%u VMs", nVms);

	ret = PrlApi_CreateHandlesList(&hList);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_CreateHandlesList: %s", prl_result_to_string(ret));
	for (i = 0; i < nVms; i++) {
		ret = PrlResult_GetParamByIndex(hResult, i, &hVm);
		CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParamByIndex: %s", prl_result_to_string(ret));
		ret = PrlHndlList_AddItem(hList, hVm);
		CHECK(PRL_SUCCEEDED(ret), "PrlHndlList_AddItem: %s", prl_result_to_string(ret));
		/* The list keeps its own reference. */
		PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	ExpectCount(PHT_RESULT, 0, "after freeing the list result");
	ExpectCount(PHT_HANDLES_LIST, 1, "with the handles list");

	PrlHndlList_GetItemsCount(hList, &nItems);
	CHECK(nItems == nVms, "%u items, %u VMs", nItems, nVms);
	ret = PrlHndlList_GetItem(hList, nItems - 1, &hKept);
	CHECK(PRL_SUCCEEDED(ret), "PrlHndlList_GetItem: %s", prl_result_to_string(ret));
	PrlHandle_GetType(hKept, &nType);
	CHECK(nType == PHT_VIRTUAL_MACHINE, "list item is a %s", handle_type_to_string(nType));
	nLen = sizeof(szKeptName);
	PrlVmCfg_GetName(hKept, szKeptName, &nLen);
	CHECK(PRL_SUCCEEDED(PrlHndlList_RemoveItem(hList, 0)), "PrlHndlList_RemoveItem");
	PrlHndlList_GetItemsCount(hList, &nItems);
	CHECK(nItems == nVms - 1, "%u items after removing one", nItems);
	CHECK(PRL_FAILED(PrlHndlList_GetItem(hList, nItems, &hVm)), "item past the end");

	/* The kept VM outlives the list. */
	PrlHandle_Free(hList);
	ExpectCount(PHT_HANDLES_LIST, 0, "after freeing the handles list");
	nLen = sizeof(szName);
	ret = PrlVmCfg_GetName(hKept, szName, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && strcmp(szName, szKeptName) == 0,
	      "the kept VM after its list went: %s", prl_result_to_string(ret));
	PrlHandle_Free(hKept);
	ExpectCount(PHT_ERROR, nBase, "after freeing everything but the server");

	/* A snapshot's id comes back as a string param. */
	ret = WaitForJob(PrlSrv_GetVmConfig(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig: %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hVm);
	PrlHandle_Free(hResult);
	ret = WaitForJob(PrlVm_GetSnapshotsTree(hVm), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_GetSnapshotsTree: %s", prl_result_to_string(ret));
	nLen = 0;
	ret = PrlResult_GetParamByIndexAsString(hResult, 0, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen > 0, "PrlResult_GetParamByIndexAsString: %s",
	      prl_result_to_string(ret));
	PrlHandle_Free(hResult);
	PrlHandle_Free(hVm);
	ExpectCount(PHT_ERROR, nBase, "after the snapshots tree");

	ret = WaitForJob(PrlSrv_Logoff(hServer), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Logoff: %s", prl_result_to_string(ret));
	PrlHandle_Free(hServer);
	ExpectCount(PHT_ERROR, 0, "at the end");
	PrlApi_Deinit();
	ExpectCount(PHT_ERROR, 0, "after PrlApi_Deinit");
	printf("handles: ok (%u VMs)\n", nVms);
	return 0;
}

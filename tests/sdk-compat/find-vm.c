/* SDK compatibility: search for a virtual machine by name and read its configuration.
 *
 * The guide's "searching for a virtual machine" pattern (walk PrlSrv_GetVmList comparing
 * PrlVmCfg_GetName into a fixed buffer), then the direct way, PrlSrv_GetVmConfig by name
 * and by id, and the configuration getters: OS, RAM, CPUs, description, hard disks and
 * network adapters. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prlkit/Parallels.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "find-vm: line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			exit(1); \
		} \
	} while (0)

static PRL_HANDLE g_hServer = PRL_INVALID_HANDLE;

/* PrlJob_Wait, then the job's own return code. */
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

/* The guide's way: walk the list and compare names. Returns a new VM handle or
 * PRL_INVALID_HANDLE. */
static PRL_HANDLE FindVmByName(const char *szWanted)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hFound = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;

	ret = WaitForJob(PrlSrv_GetVmList(g_hServer), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmList: %s", prl_result_to_string(ret));
	PrlResult_GetParamsCount(hResult, &nCount);
	for (i = 0; i < nCount && hFound == PRL_INVALID_HANDLE; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE;
		char szName[1024];
		PRL_UINT32 nBufSize = sizeof(szName);

		ret = PrlResult_GetParamByIndex(hResult, i, &hVm);
		CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParamByIndex: %s", prl_result_to_string(ret));
		ret = PrlVmCfg_GetName(hVm, szName, &nBufSize);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetName: %s", prl_result_to_string(ret));
		if (strcmp(szName, szWanted) == 0)
			hFound = hVm;
		else
			PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	return hFound;
}

/* Picks the name of a stopped VM that is not a template (into szName). */
static void PickStoppedVm(char *szName, PRL_UINT32 nSize)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;

	szName[0] = '\0';
	ret = WaitForJob(PrlSrv_GetVmListEx(g_hServer, PGVLF_GET_ONLY_VM), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmListEx: %s", prl_result_to_string(ret));
	PrlResult_GetParamsCount(hResult, &nCount);
	for (i = 0; i < nCount && szName[0] == '\0'; i++) {
		PRL_HANDLE hVm = PRL_INVALID_HANDLE, hInfo = PRL_INVALID_HANDLE;
		VIRTUAL_MACHINE_STATE state = VMS_UNKNOWN;
		PRL_BOOL bTemplate = PRL_TRUE;
		PRL_UINT32 nLen = nSize;

		PrlResult_GetParamByIndex(hResult, i, &hVm);
		PrlVmCfg_IsTemplate(hVm, &bTemplate);
		PrlVmCfg_GetVmInfo(hVm, &hInfo);
		PrlVmInfo_GetState(hInfo, &state);
		if (!bTemplate && state == VMS_STOPPED)
			PrlVmCfg_GetName(hVm, szName, &nLen);
		PrlHandle_Free(hInfo);
		PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	CHECK(szName[0] != '\0', "no stopped VM to look at");
}

static void PrintConfig(PRL_HANDLE hVm)
{
	PRL_UINT32 nOsType = 0, nOsVersion = 0, nRam = 0, nCpus = 0, nDisks = 0, nNics = 0, i;
	char szDescription[4096];
	PRL_UINT32 nLen = sizeof(szDescription);
	PRL_RESULT ret;

	ret = PrlVmCfg_GetOsType(hVm, &nOsType);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetOsType: %s", prl_result_to_string(ret));
	ret = PrlVmCfg_GetOsVersion(hVm, &nOsVersion);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetOsVersion: %s", prl_result_to_string(ret));
	switch (nOsType) {
	case PVS_GUEST_TYPE_WINDOWS: printf("  OS: Windows"); break;
	case PVS_GUEST_TYPE_LINUX: printf("  OS: Linux"); break;
	case PVS_GUEST_TYPE_MACOS: printf("  OS: macOS"); break;
	default: printf("  OS: type %u", nOsType); break;
	}
	printf(" (version 0x%04x, %s)\n", nOsVersion, PVS_GUEST_TO_STRING(nOsVersion));
	/* The version carries its type in the high byte. */
	CHECK(PVS_GET_GUEST_TYPE(nOsVersion) == nOsType, "OS version 0x%04x is not of type 0x%02x",
	      nOsVersion, nOsType);

	ret = PrlVmCfg_GetRamSize(hVm, &nRam);
	CHECK(PRL_SUCCEEDED(ret) && nRam > 0, "PrlVmCfg_GetRamSize: %s, %u MB",
	      prl_result_to_string(ret), nRam);
	ret = PrlVmCfg_GetCpuCount(hVm, &nCpus);
	CHECK(PRL_SUCCEEDED(ret) && nCpus > 0, "PrlVmCfg_GetCpuCount: %s, %u",
	      prl_result_to_string(ret), nCpus);
	ret = PrlVmCfg_GetDescription(hVm, szDescription, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetDescription: %s", prl_result_to_string(ret));
	printf("  RAM %u MB, %u CPUs, description \"%s\"\n", nRam, nCpus, szDescription);

	ret = PrlVmCfg_GetHardDisksCount(hVm, &nDisks);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetHardDisksCount: %s", prl_result_to_string(ret));
	for (i = 0; i < nDisks; i++) {
		PRL_HANDLE hDisk = PRL_INVALID_HANDLE;
		PRL_DEVICE_TYPE nDevType = PDE_GENERIC_DEVICE;
		PRL_HANDLE_TYPE nHandleType = PHT_ERROR;
		PRL_UINT32 nSizeMb = 0, nPathLen = 0;
		char *szPath;

		ret = PrlVmCfg_GetHardDisk(hVm, i, &hDisk);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetHardDisk: %s", prl_result_to_string(ret));
		PrlHandle_GetType(hDisk, &nHandleType);
		CHECK(nHandleType == PHT_VIRTUAL_DEV_HARD_DISK, "disk handle type %s",
		      handle_type_to_string(nHandleType));
		PrlVmDev_GetType(hDisk, &nDevType);
		CHECK(nDevType == PDE_HARD_DISK, "device type %d", (int)nDevType);
		PrlVmDevHd_GetDiskSize(hDisk, &nSizeMb);
		ret = PrlVmDev_GetImagePath(hDisk, NULL, &nPathLen);
		CHECK(PRL_SUCCEEDED(ret) && nPathLen > 0, "PrlVmDev_GetImagePath size: %s",
		      prl_result_to_string(ret));
		szPath = malloc(nPathLen);
		CHECK(szPath != NULL, "out of memory");
		ret = PrlVmDev_GetImagePath(hDisk, szPath, &nPathLen);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmDev_GetImagePath: %s", prl_result_to_string(ret));
		printf("  disk %u: %s, %u MB\n", i, szPath, nSizeMb);
		free(szPath);
		PrlHandle_Free(hDisk);
	}
	/* Past the last disk. */
	{
		PRL_HANDLE hNone = PRL_INVALID_HANDLE;
		ret = PrlVmCfg_GetHardDisk(hVm, nDisks, &hNone);
		CHECK(PRL_FAILED(ret), "PrlVmCfg_GetHardDisk past the end succeeded");
	}

	ret = PrlVmCfg_GetNetAdaptersCount(hVm, &nNics);
	CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetNetAdaptersCount: %s", prl_result_to_string(ret));
	for (i = 0; i < nNics; i++) {
		PRL_HANDLE hNic = PRL_INVALID_HANDLE;
		PRL_DEVICE_TYPE nDevType = PDE_GENERIC_DEVICE;
		char szMac[64];
		PRL_UINT32 nMacLen = sizeof(szMac);

		ret = PrlVmCfg_GetNetAdapter(hVm, i, &hNic);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmCfg_GetNetAdapter: %s", prl_result_to_string(ret));
		PrlVmDev_GetType(hNic, &nDevType);
		CHECK(nDevType == PDE_GENERIC_NETWORK_ADAPTER, "device type %d", (int)nDevType);
		ret = PrlVmDevNet_GetMacAddress(hNic, szMac, &nMacLen);
		CHECK(PRL_SUCCEEDED(ret), "PrlVmDevNet_GetMacAddress: %s", prl_result_to_string(ret));
		printf("  network adapter %u: MAC %s\n", i, szMac);
		PrlHandle_Free(hNic);
	}
}

int main(void)
{
	PRL_HANDLE hJob, hResult = PRL_INVALID_HANDLE, hVm;
	PRL_HANDLE hByName = PRL_INVALID_HANDLE, hById = PRL_INVALID_HANDLE;
	PRL_HANDLE hDefault = PRL_INVALID_HANDLE;
	PRL_RESULT ret;
	char szName[256], szId[256], szId2[256];
	PRL_UINT32 nLen, nHandles = 1;

	/* The short form of initialization. */
	ret = PrlApi_Init(PARALLELS_API_VER);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_Init: %s", prl_result_to_string(ret));
	PrlSrv_Create(&g_hServer);
	hJob = PrlSrv_LoginLocal(g_hServer, "", 0, PSL_NORMAL_SECURITY);
	ret = WaitForJob(hJob, NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_LoginLocal: %s", prl_result_to_string(ret));

	PickStoppedVm(szName, sizeof(szName));
	printf("Looking for '%s'\n", szName);

	hVm = FindVmByName(szName);
	CHECK(hVm != PRL_INVALID_HANDLE, "'%s' not found in the list", szName);
	nLen = sizeof(szId);
	PrlVmCfg_GetUuid(hVm, szId, &nLen);
	printf("Found '%s' with id %s\n", szName, szId);
	PrintConfig(hVm);

	/* PrlSrv_GetVmConfig by name, by id, and without flags (id or name). */
	ret = WaitForJob(PrlSrv_GetVmConfig(g_hServer, szName, PGVC_SEARCH_BY_NAME), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig(by name): %s", prl_result_to_string(ret));
	ret = PrlResult_GetParam(hResult, &hByName);
	CHECK(PRL_SUCCEEDED(ret), "PrlResult_GetParam: %s", prl_result_to_string(ret));
	PrlHandle_Free(hResult);
	nLen = sizeof(szId2);
	PrlVmCfg_GetUuid(hByName, szId2, &nLen);
	CHECK(strcmp(szId, szId2) == 0, "by name: id %s, expected %s", szId2, szId);

	ret = WaitForJob(PrlSrv_GetVmConfig(g_hServer, szId, PGVC_SEARCH_BY_UUID), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig(by id): %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hById);
	PrlHandle_Free(hResult);
	nLen = sizeof(szId2);
	PrlVmCfg_GetName(hById, szId2, &nLen);
	CHECK(strcmp(szName, szId2) == 0, "by id: name %s, expected %s", szId2, szName);

	ret = WaitForJob(PrlSrv_GetVmConfig(g_hServer, szId, 0), &hResult);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_GetVmConfig(no flags): %s", prl_result_to_string(ret));
	PrlResult_GetParam(hResult, &hDefault);
	PrlHandle_Free(hResult);

	/* A VM that does not exist: the job fails and says why. */
	ret = WaitForJob(PrlSrv_GetVmConfig(g_hServer, "no such vm (sdk-compat)",
	                                    PGVC_SEARCH_BY_NAME), NULL);
	CHECK(PRL_FAILED(ret), "PrlSrv_GetVmConfig found a VM that does not exist");
	printf("Unknown VM: %s\n", prl_result_to_string(ret));

	PrlHandle_Free(hDefault);
	PrlHandle_Free(hById);
	PrlHandle_Free(hByName);
	PrlHandle_Free(hVm);
	ret = WaitForJob(PrlSrv_Logoff(g_hServer), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Logoff: %s", prl_result_to_string(ret));
	PrlHandle_Free(g_hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

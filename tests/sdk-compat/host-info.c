/* SDK compatibility: host configuration and statistics.
 *
 * PrlSrv_GetSrvConfig → PHT_SERVER_CONFIG (PrlSrvCfg_GetHostname, GetCpuModel, GetCpuCount,
 * GetHostRamSize); PrlSrv_GetStatistics and PrlVm_GetStatistics → PHT_SYSTEM_STATISTICS
 * (PrlStat_GetTotalRamSize / GetUsageRamSize / GetFreeRamSize as PRL_UINT64 bytes, printed
 * with %llu as SDK programs do, PrlStat_GetCpusStatsCount, PrlStat_GetCpuStat,
 * PrlStatCpu_GetCpuUsage). Checks the numbers are consistent with each other and with the
 * host configuration. Exits non-zero on anything unexpected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Parallels.h"

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "host-info: line %d: ", __LINE__); \
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

/* The first param of a job's result (freeing the result). */
static PRL_HANDLE GetResultParam(PRL_HANDLE hJob, PRL_HANDLE_TYPE nExpectedType,
                                 const char *szWhat)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hParam = PRL_INVALID_HANDLE;
	PRL_HANDLE_TYPE nType = PHT_ERROR;
	PRL_RESULT ret;

	ret = WaitForJob(hJob, &hResult);
	CHECK(PRL_SUCCEEDED(ret), "%s: %s", szWhat, prl_result_to_string(ret));
	ret = PrlResult_GetParam(hResult, &hParam);
	CHECK(PRL_SUCCEEDED(ret), "%s: PrlResult_GetParam: %s", szWhat, prl_result_to_string(ret));
	PrlHandle_Free(hResult);
	PrlHandle_GetType(hParam, &nType);
	CHECK(nType == nExpectedType, "%s: result is a %s, expected a %s", szWhat,
	      handle_type_to_string(nType), handle_type_to_string(nExpectedType));
	return hParam;
}

/* Prints and checks a statistics handle; returns the used RAM. */
static PRL_UINT64 CheckStatistics(PRL_HANDLE hStat, const char *szWhat)
{
	PRL_UINT64 nTotal = 0, nUsage = 0, nFree = 0;
	PRL_UINT32 nCpus = 0, i;
	PRL_RESULT ret;

	ret = PrlStat_GetTotalRamSize(hStat, &nTotal);
	CHECK(PRL_SUCCEEDED(ret), "PrlStat_GetTotalRamSize: %s", prl_result_to_string(ret));
	ret = PrlStat_GetUsageRamSize(hStat, &nUsage);
	CHECK(PRL_SUCCEEDED(ret), "PrlStat_GetUsageRamSize: %s", prl_result_to_string(ret));
	ret = PrlStat_GetFreeRamSize(hStat, &nFree);
	CHECK(PRL_SUCCEEDED(ret), "PrlStat_GetFreeRamSize: %s", prl_result_to_string(ret));
	printf("%s: RAM total %llu, used %llu, free %llu bytes\n", szWhat, nTotal, nUsage, nFree);
	CHECK(nTotal > 0, "%s: no RAM", szWhat);
	CHECK(nUsage <= nTotal && nUsage + nFree == nTotal, "%s: used + free != total", szWhat);

	ret = PrlStat_GetCpusStatsCount(hStat, &nCpus);
	CHECK(PRL_SUCCEEDED(ret) && nCpus > 0, "PrlStat_GetCpusStatsCount: %s, %u",
	      prl_result_to_string(ret), nCpus);
	for (i = 0; i < nCpus; i++) {
		PRL_HANDLE hCpu = PRL_INVALID_HANDLE;
		PRL_HANDLE_TYPE nType = PHT_ERROR;
		PRL_UINT32 nPercent = 101;

		ret = PrlStat_GetCpuStat(hStat, i, &hCpu);
		CHECK(PRL_SUCCEEDED(ret), "PrlStat_GetCpuStat(%u): %s", i, prl_result_to_string(ret));
		PrlHandle_GetType(hCpu, &nType);
		CHECK(nType == PHT_SYSTEM_STATISTICS_CPU, "CPU statistics handle is a %s",
		      handle_type_to_string(nType));
		ret = PrlStatCpu_GetCpuUsage(hCpu, &nPercent);
		CHECK(PRL_SUCCEEDED(ret) && nPercent <= 100, "PrlStatCpu_GetCpuUsage: %s, %u%%",
		      prl_result_to_string(ret), nPercent);
		PrlHandle_Free(hCpu);
	}
	printf("%s: %u CPUs\n", szWhat, nCpus);
	return nUsage;
}

int main(void)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hSrvCfg, hStat, hVm;
	PRL_UINT32 nCpuCount = 0, nRamMb = 0, nLen, nHandles = 1;
	PRL_UINT64 nUsedBefore, nUsedAfter;
	char szHostname[256], *szCpuModel;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	CHECK(PRL_SUCCEEDED(ret), "PrlApi_InitEx: %s", prl_result_to_string(ret));
	PrlSrv_Create(&hServer);
	ret = WaitForJob(PrlSrv_LoginLocal(hServer, NULL, 0, PSL_LOW_SECURITY), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_LoginLocal: %s", prl_result_to_string(ret));

	/* Host configuration. */
	hSrvCfg = GetResultParam(PrlSrv_GetSrvConfig(hServer), PHT_SERVER_CONFIG,
	                         "PrlSrv_GetSrvConfig");
	nLen = sizeof(szHostname);
	ret = PrlSrvCfg_GetHostname(hSrvCfg, szHostname, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && szHostname[0], "PrlSrvCfg_GetHostname: %s",
	      prl_result_to_string(ret));
	nLen = 0;
	ret = PrlSrvCfg_GetCpuModel(hSrvCfg, NULL, &nLen);
	CHECK(PRL_SUCCEEDED(ret) && nLen > 1, "PrlSrvCfg_GetCpuModel(size): %s",
	      prl_result_to_string(ret));
	szCpuModel = malloc(nLen);
	CHECK(szCpuModel != NULL, "out of memory");
	ret = PrlSrvCfg_GetCpuModel(hSrvCfg, szCpuModel, &nLen);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrvCfg_GetCpuModel: %s", prl_result_to_string(ret));
	ret = PrlSrvCfg_GetCpuCount(hSrvCfg, &nCpuCount);
	CHECK(PRL_SUCCEEDED(ret) && nCpuCount > 0, "PrlSrvCfg_GetCpuCount: %s",
	      prl_result_to_string(ret));
	ret = PrlSrvCfg_GetHostRamSize(hSrvCfg, &nRamMb);
	CHECK(PRL_SUCCEEDED(ret) && nRamMb > 0, "PrlSrvCfg_GetHostRamSize: %s",
	      prl_result_to_string(ret));
	printf("host %s: %u x %s, %u MB RAM\n", szHostname, nCpuCount, szCpuModel, nRamMb);
	free(szCpuModel);
	PrlHandle_Free(hSrvCfg);

	/* Host statistics, before and after starting a VM. */
	hStat = GetResultParam(PrlSrv_GetStatistics(hServer), PHT_SYSTEM_STATISTICS,
	                       "PrlSrv_GetStatistics");
	nUsedBefore = CheckStatistics(hStat, "host");
	{
		PRL_UINT64 nTotal = 0;
		PrlStat_GetTotalRamSize(hStat, &nTotal);
		CHECK(nTotal / (1024 * 1024) == nRamMb, "statistics say %llu MB, configuration %u MB",
		      nTotal / (1024 * 1024), nRamMb);
	}
	PrlHandle_Free(hStat);

	hVm = GetResultParam(PrlSrv_GetVmConfig(hServer, "win10-legacy", PGVC_SEARCH_BY_NAME),
	                     PHT_VIRTUAL_MACHINE, "PrlSrv_GetVmConfig");
	ret = WaitForJob(PrlVm_Start(hVm), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_Start: %s", prl_result_to_string(ret));
	hStat = GetResultParam(PrlVm_GetStatistics(hVm), PHT_SYSTEM_STATISTICS,
	                       "PrlVm_GetStatistics");
	CheckStatistics(hStat, "VM");
	PrlHandle_Free(hStat);
	hStat = GetResultParam(PrlSrv_GetStatistics(hServer), PHT_SYSTEM_STATISTICS,
	                       "PrlSrv_GetStatistics");
	nUsedAfter = CheckStatistics(hStat, "host with the VM running");
	CHECK(nUsedAfter > nUsedBefore, "starting a VM did not use host RAM");
	PrlHandle_Free(hStat);
	ret = WaitForJob(PrlVm_Stop(hVm, PRL_FALSE), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlVm_Stop: %s", prl_result_to_string(ret));
	PrlHandle_Free(hVm);

	ret = WaitForJob(PrlSrv_Logoff(hServer), NULL);
	CHECK(PRL_SUCCEEDED(ret), "PrlSrv_Logoff: %s", prl_result_to_string(ret));
	PrlHandle_Free(hServer);
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	CHECK(nHandles == 0, "%u handles leaked", nHandles);
	return 0;
}

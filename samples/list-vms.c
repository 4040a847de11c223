/* prlkit sample: log in, describe the host, list every VM with its state and IPs.
 *
 *   list-vms                          log in to the local (default) server
 *   list-vms URI [USER [PASSWORD]]    log in to another one, e.g. pve://pve1:8006
 *
 * MIT license. */
#include <stdio.h>
#include <stdlib.h>

#include "sample-util.h"

static PRL_RESULT login(PRL_HANDLE hServer, int argc, char **argv)
{
	PRL_HANDLE hJob;

	if (argc < 2) {
		sample_step("Log in to the local server (PrlSrv_LoginLocal)");
		hJob = PrlSrv_LoginLocal(hServer, "", 0, PSL_NORMAL_SECURITY);
		return sample_wait(hJob, "PrlSrv_LoginLocal", NULL);
	}
	sample_step("Log in to %s (PrlSrv_Login)", argv[1]);
	hJob = PrlSrv_Login(hServer, argv[1], argc > 2 ? argv[2] : "", argc > 3 ? argv[3] : "",
	                    "", 0, 0, PSL_NORMAL_SECURITY);
	return sample_wait(hJob, "PrlSrv_Login", NULL);
}

static void print_host(PRL_HANDLE hServer)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hSrvCfg = PRL_INVALID_HANDLE;
	PRL_UINT32 nCpus = 0, nRamMb = 0;
	char *hostname, *cpuModel;

	sample_step("Describe the host (PrlSrv_GetSrvConfig)");
	if (PRL_FAILED(sample_wait(PrlSrv_GetSrvConfig(hServer), "PrlSrv_GetSrvConfig", &hResult)))
		return;
	if (PRL_SUCCEEDED(PrlResult_GetParam(hResult, &hSrvCfg))) {
		hostname = sample_get_string(hSrvCfg, PrlSrvCfg_GetHostname, "PrlSrvCfg_GetHostname");
		cpuModel = sample_get_string(hSrvCfg, PrlSrvCfg_GetCpuModel, "PrlSrvCfg_GetCpuModel");
		PrlSrvCfg_GetCpuCount(hSrvCfg, &nCpus);
		PrlSrvCfg_GetHostRamSize(hSrvCfg, &nRamMb);
		sample_info("host %s: %u CPU(s) (%s), %u MB RAM", hostname ? hostname : "?", nCpus,
		            cpuModel ? cpuModel : "?", nRamMb);
		free(hostname);
		free(cpuModel);
		PrlHandle_Free(hSrvCfg);
	}
	PrlHandle_Free(hResult);
}

/* "10.0.0.5, fd00::5" or "-" */
static void print_ip_addresses(PRL_HANDLE hVm)
{
	PRL_HANDLE hList = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	char *ip;

	if (PRL_FAILED(PrlVmCfg_GetIpAddresses(hVm, &hList)) ||
	    PRL_FAILED(PrlStrList_GetItemsCount(hList, &nCount)) || nCount == 0) {
		printf("-");
	}
	for (i = 0; i < nCount; i++) {
		PRL_UINT32 len = 0;

		/* The two-call convention: ask the size, then fetch. */
		if (PRL_FAILED(PrlStrList_GetItem(hList, i, NULL, &len)))
			continue;
		ip = malloc(len);
		if (ip != NULL && PRL_SUCCEEDED(PrlStrList_GetItem(hList, i, ip, &len)))
			printf("%s%s", i ? ", " : "", ip);
		free(ip);
	}
	PrlHandle_Free(hList);
}

static void print_vm(PRL_HANDLE hVm)
{
	PRL_HANDLE hVmInfo = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE state = VMS_UNKNOWN;
	PRL_BOOL isTemplate = PRL_FALSE;
	PRL_UINT32 nRamMb = 0, nCpus = 0;
	char *name, *uuid;

	name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
	uuid = sample_get_string(hVm, PrlVmCfg_GetUuid, "PrlVmCfg_GetUuid");
	PrlVmCfg_IsTemplate(hVm, &isTemplate);
	PrlVmCfg_GetRamSize(hVm, &nRamMb);
	PrlVmCfg_GetCpuCount(hVm, &nCpus);
	/* The list already carries each VM's state: no extra request per VM. */
	if (PRL_SUCCEEDED(PrlVmCfg_GetVmInfo(hVm, &hVmInfo))) {
		PrlVmInfo_GetState(hVmInfo, &state);
		PrlHandle_Free(hVmInfo);
	}

	printf("    - %s  id=%s  %s  state=%s  cpus=%u  ram=%uMB  ips=", name ? name : "?",
	       uuid ? uuid : "?", isTemplate ? "template" : "vm", sample_state_name(state), nCpus,
	       nRamMb);
	print_ip_addresses(hVm);
	printf("\n");
	free(name);
	free(uuid);
}

static PRL_RESULT list_vms(PRL_HANDLE hServer)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE, hVm;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;

	sample_step("List the virtual machines (PrlSrv_GetVmList)");
	ret = sample_wait(PrlSrv_GetVmList(hServer), "PrlSrv_GetVmList", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	PrlResult_GetParamsCount(hResult, &nCount);
	sample_info("%u virtual machine(s):", nCount);
	for (i = 0; i < nCount; i++) {
		/* Each parameter is a new VM handle: free it when done. */
		ret = PrlResult_GetParamByIndex(hResult, i, &hVm);
		if (PRL_FAILED(ret)) {
			sample_print_error("PrlResult_GetParamByIndex", ret);
			break;
		}
		print_vm(hVm);
		PrlHandle_Free(hVm);
	}
	PrlHandle_Free(hResult);
	return ret;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE;
	PRL_RESULT ret;
	int status = 0;

	if (argc > 4 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [URI [USER [PASSWORD]]]\n", argv[0]);
		return 2;
	}

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlApi_InitEx", ret);
		return 1;
	}
	ret = PrlSrv_Create(&hServer);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlSrv_Create", ret);
		PrlApi_Deinit();
		return 1;
	}
	ret = login(hServer, argc, argv);
	if (PRL_FAILED(ret)) {
		PrlHandle_Free(hServer);
		PrlApi_Deinit();
		return 1;
	}

	print_host(hServer);
	if (PRL_FAILED(list_vms(hServer)))
		status = 1;

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("list-vms: done\n");
	return status;
}

/* prlkit sample: clone a template twice (a full and a linked clone), then delete both.
 *
 *   clone [TEMPLATE]     TEMPLATE = name or id; default: the first template
 *
 * MIT license. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sample-util.h"

/* Wait for a clone job and take the new VM out of its result. */
static PRL_RESULT wait_for_clone(PRL_HANDLE hJob, const char *call, PRL_HANDLE_PTR phClone)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_BOOL isTemplate = PRL_FALSE;
	char *name, *uuid;
	PRL_RESULT ret;

	*phClone = PRL_INVALID_HANDLE;
	ret = sample_wait(hJob, call, &hResult);
	if (PRL_FAILED(ret))
		return ret;
	/* The result's parameter is the new VM (a new handle to free). */
	ret = PrlResult_GetParam(hResult, phClone);
	PrlHandle_Free(hResult);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlResult_GetParam (the clone)", ret);
		return ret;
	}
	name = sample_get_string(*phClone, PrlVmCfg_GetName, "PrlVmCfg_GetName");
	uuid = sample_get_string(*phClone, PrlVmCfg_GetUuid, "PrlVmCfg_GetUuid");
	PrlVmCfg_IsTemplate(*phClone, &isTemplate);
	sample_info("created '%s' (id %s, %s)", name ? name : "?", uuid ? uuid : "?",
	            isTemplate ? "a template" : "a VM");
	free(name);
	free(uuid);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT delete_vm(PRL_HANDLE hVm)
{
	char *name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
	PRL_RESULT ret;

	sample_step("Delete '%s' (PrlVm_Delete)", name ? name : "?");
	/* No device list: delete the VM with all its disks. */
	ret = sample_wait(PrlVm_Delete(hVm, PRL_INVALID_HANDLE), "PrlVm_Delete", NULL);
	if (PRL_SUCCEEDED(ret))
		sample_info("deleted");
	free(name);
	return ret;
}

/* Is a VM with this name still there? (Looked up by name with PrlSrv_GetVmConfig.) */
static int vm_exists(PRL_HANDLE hServer, const char *name)
{
	PRL_HANDLE hJob = PrlSrv_GetVmConfig(hServer, name, PGVC_SEARCH_BY_NAME);
	PRL_RESULT ret = PRL_ERR_FAILURE;

	if (PRL_SUCCEEDED(PrlJob_Wait(hJob, SAMPLE_JOB_TIMEOUT_MS)))
		PrlJob_GetRetCode(hJob, &ret);
	PrlHandle_Free(hJob);
	return PRL_SUCCEEDED(ret);
}

static PRL_RESULT clone_template(PRL_HANDLE hServer, PRL_HANDLE hTemplate)
{
	PRL_HANDLE hFull = PRL_INVALID_HANDLE, hLinked = PRL_INVALID_HANDLE;
	PRL_UINT64 features = sample_driver_features(hServer);
	char fullName[64], linkedName[64];
	PRL_RESULT ret, del;

	snprintf(fullName, sizeof(fullName), "sample-full-clone-%ld", (long)getpid());
	snprintf(linkedName, sizeof(linkedName), "sample-linked-clone-%ld", (long)getpid());

	/* An empty root path lets the platform choose where the clone's files go. */
	sample_step("Full clone '%s' (PrlVm_Clone)", fullName);
	ret = wait_for_clone(PrlVm_Clone(hTemplate, fullName, "", PRL_FALSE), "PrlVm_Clone",
	                     &hFull);

	if (PRL_SUCCEEDED(ret) && (features & PRLK_FEAT_LINKED_CLONE)) {
		/* A linked clone shares the template's disks: quick, and small on disk. */
		sample_step("Linked clone '%s' (PrlVm_CloneEx with PCVF_LINKED_CLONE)", linkedName);
		ret = wait_for_clone(PrlVm_CloneEx(hTemplate, linkedName, "", PCVF_LINKED_CLONE),
		                     "PrlVm_CloneEx", &hLinked);
	} else if (PRL_SUCCEEDED(ret)) {
		sample_step("Linked clone: skipped, the driver cannot make linked clones");
	}

	/* Clean up whatever was created, even after a failure. */
	if (hLinked != PRL_INVALID_HANDLE) {
		del = delete_vm(hLinked);
		if (PRL_SUCCEEDED(ret))
			ret = del;
		PrlHandle_Free(hLinked);
	}
	if (hFull != PRL_INVALID_HANDLE) {
		del = delete_vm(hFull);
		if (PRL_SUCCEEDED(ret))
			ret = del;
		PrlHandle_Free(hFull);
	}
	if (PRL_SUCCEEDED(ret)) {
		sample_step("Check the clones are gone (PrlSrv_GetVmConfig by name)");
		if (vm_exists(hServer, fullName) || vm_exists(hServer, linkedName)) {
			fprintf(stderr, "ERROR: a deleted clone is still listed\n");
			return PRL_ERR_FAILURE;
		}
		sample_info("no clone left");
	}
	return ret;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer, hTemplate = PRL_INVALID_HANDLE;
	int status = 1;
	char *name;

	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [TEMPLATE-NAME-OR-ID]\n", argv[0]);
		return 2;
	}
	if (PRL_FAILED(sample_login_local(&hServer)))
		return 1;

	sample_step("Find the template (PrlSrv_GetVmList)");
	if (PRL_SUCCEEDED(sample_find_vm(hServer, argc > 1 ? argv[1] : NULL, SAMPLE_PICK_TEMPLATE,
	                                 &hTemplate))) {
		name = sample_get_string(hTemplate, PrlVmCfg_GetName, "PrlVmCfg_GetName");
		sample_info("using template '%s'", name ? name : "?");
		free(name);
		if (PRL_SUCCEEDED(clone_template(hServer, hTemplate)))
			status = 0;
		PrlHandle_Free(hTemplate);
	}

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("clone: done\n");
	return status;
}

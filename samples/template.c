/* prlkit sample: turn a VM into a template and back.
 *
 *   template [VM]     VM = name or id; default: the first stopped VM
 *
 * The SDK way: PrlVm_BeginEdit, change the configuration (PrlVmCfg_SetTemplateSign),
 * PrlVm_Commit. A template cannot be started; the sample shows the refusal.
 * MIT license. */
#include <stdio.h>
#include <stdlib.h>

#include "sample-util.h"

static PRL_RESULT set_template_sign(PRL_HANDLE hVm, PRL_BOOL isTemplate)
{
	PRL_HANDLE hVmCfg = PRL_INVALID_HANDLE;
	PRL_RESULT ret;

	sample_step("Make it %s (PrlVm_BeginEdit, PrlVmCfg_SetTemplateSign(%s), PrlVm_Commit)",
	            isTemplate ? "a template" : "a VM again", isTemplate ? "PRL_TRUE" : "PRL_FALSE");
	/* BeginEdit fetches the current configuration and marks the start of the edit;
	 * Commit fails with PRL_ERR_VM_CONFIG_WAS_CHANGED if someone else changed it since. */
	ret = sample_wait(PrlVm_BeginEdit(hVm), "PrlVm_BeginEdit", NULL);
	if (PRL_FAILED(ret))
		return ret;
	/* The configuration is the VM handle itself; GetConfig hands out one more reference. */
	ret = PrlVm_GetConfig(hVm, &hVmCfg);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlVm_GetConfig", ret);
		return ret;
	}
	ret = PrlVmCfg_SetTemplateSign(hVmCfg, isTemplate);
	PrlHandle_Free(hVmCfg);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlVmCfg_SetTemplateSign", ret);
		return ret;
	}
	ret = sample_wait(PrlVm_Commit(hVm), "PrlVm_Commit", NULL);
	if (PRL_SUCCEEDED(ret))
		sample_info("committed");
	return ret;
}

/* Re-read the configuration from the platform and check the template sign. */
static PRL_RESULT check_template_sign(PRL_HANDLE hVm, PRL_BOOL expected)
{
	PRL_BOOL isTemplate = PRL_FALSE;
	PRL_RESULT ret;

	sample_step("Read the configuration again (PrlVm_RefreshConfig, PrlVmCfg_IsTemplate)");
	ret = sample_wait(PrlVm_RefreshConfig(hVm), "PrlVm_RefreshConfig", NULL);
	if (PRL_FAILED(ret))
		return ret;
	ret = PrlVmCfg_IsTemplate(hVm, &isTemplate);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlVmCfg_IsTemplate", ret);
		return ret;
	}
	sample_info("is a template: %s", isTemplate ? "yes" : "no");
	if (!isTemplate != !expected) {
		fprintf(stderr, "ERROR: the template sign did not change\n");
		return PRL_ERR_FAILURE;
	}
	return PRL_ERR_SUCCESS;
}

/* Starting a template must fail with PRL_ERR_CANT_TO_START_VM_TEMPLATE. */
static PRL_RESULT try_to_start(PRL_HANDLE hVm)
{
	PRL_HANDLE hJob;
	PRL_RESULT ret, rc = PRL_ERR_SUCCESS;

	sample_step("Try to start the template (PrlVm_Start): the platform must refuse");
	hJob = PrlVm_Start(hVm);
	ret = PrlJob_Wait(hJob, SAMPLE_JOB_TIMEOUT_MS);
	if (PRL_SUCCEEDED(ret))
		ret = PrlJob_GetRetCode(hJob, &rc);
	PrlHandle_Free(hJob);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlVm_Start", ret);
		return ret;
	}
	if (rc == PRL_ERR_CANT_TO_START_VM_TEMPLATE) {
		sample_info("refused as expected: %s", prl_result_to_string(rc));
		return PRL_ERR_SUCCESS;
	}
	if (PRL_SUCCEEDED(rc)) {
		fprintf(stderr, "ERROR: a template was started\n");
		sample_wait(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop (clean-up)", NULL);
		return PRL_ERR_FAILURE;
	}
	sample_print_error("PrlVm_Start (expected PRL_ERR_CANT_TO_START_VM_TEMPLATE)", rc);
	return rc;
}

static PRL_RESULT round_trip(PRL_HANDLE hServer, PRL_HANDLE hVm)
{
	PRL_UINT64 features = sample_driver_features(hServer);
	PRL_RESULT ret, back;

	if (!(features & PRLK_FEAT_TEMPLATES) || !(features & PRLK_FEAT_REVERSIBLE_TEMPLATES)) {
		/* Not an error: this sample only runs where it can undo what it does. */
		sample_step("Skipped: the driver cannot turn a template back into a VM");
		return PRL_ERR_SUCCESS;
	}

	ret = set_template_sign(hVm, PRL_TRUE);
	if (PRL_FAILED(ret))
		return ret;
	ret = check_template_sign(hVm, PRL_TRUE);
	if (PRL_SUCCEEDED(ret))
		ret = try_to_start(hVm);

	/* Always convert back, even when a check above failed. */
	back = set_template_sign(hVm, PRL_FALSE);
	if (PRL_SUCCEEDED(back))
		back = check_template_sign(hVm, PRL_FALSE);
	return PRL_FAILED(ret) ? ret : back;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer, hVm = PRL_INVALID_HANDLE;
	PRL_BOOL isTemplate = PRL_FALSE;
	int status = 1;
	char *name;

	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [VM-NAME-OR-ID]\n", argv[0]);
		return 2;
	}
	if (PRL_FAILED(sample_login_local(&hServer)))
		return 1;

	sample_step("Find the VM (PrlSrv_GetVmList)");
	if (PRL_SUCCEEDED(sample_find_vm(hServer, argc > 1 ? argv[1] : NULL,
	                                 SAMPLE_PICK_STOPPED_VM, &hVm))) {
		name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
		PrlVmCfg_IsTemplate(hVm, &isTemplate);
		sample_info("using VM '%s'", name ? name : "?");
		free(name);
		if (isTemplate)
			fprintf(stderr, "ERROR: it is a template already; name a VM\n");
		else if (PRL_SUCCEEDED(round_trip(hServer, hVm)))
			status = 0;
		PrlHandle_Free(hVm);
	}

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("template: done\n");
	return status;
}

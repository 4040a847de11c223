/* prlkit sample: take a VM through its power states.
 *
 *   power-cycle [VM]     VM = name or id; default: the first stopped VM
 *
 * start → pause → resume → suspend → resume → stop, printing the state after each step.
 * Steps the driver cannot do (its feature bits say so) are skipped with a note.
 * MIT license. */
#include <stdio.h>
#include <stdlib.h>

#include "sample-util.h"

/* Run one power operation and show the state it leaves the VM in. */
static PRL_RESULT power_step(PRL_HANDLE hVm, PRL_HANDLE hJob, const char *call)
{
	VIRTUAL_MACHINE_STATE state;
	PRL_RESULT ret;

	ret = sample_wait(hJob, call, NULL);
	if (PRL_FAILED(ret))
		return ret;
	state = sample_get_state(hVm);
	sample_info("state: %s", sample_state_name(state));
	return state == VMS_UNKNOWN ? PRL_ERR_FAILURE : PRL_ERR_SUCCESS;
}

static PRL_RESULT power_cycle(PRL_HANDLE hServer, PRL_HANDLE hVm, int *pStarted)
{
	PRL_UINT64 features = sample_driver_features(hServer);
	VIRTUAL_MACHINE_STATE state;
	PRL_RESULT ret;

	sample_step("Read the current state (PrlVm_GetState)");
	state = sample_get_state(hVm);
	sample_info("state: %s", sample_state_name(state));
	if (state != VMS_STOPPED) {
		fprintf(stderr, "ERROR: the VM must be stopped to start this sample (it is %s)\n",
		        sample_state_name(state));
		return PRL_ERR_DISP_VM_IS_NOT_STOPPED;
	}

	sample_step("Start the VM (PrlVm_Start)");
	*pStarted = 1;
	ret = power_step(hVm, PrlVm_Start(hVm), "PrlVm_Start");
	if (PRL_FAILED(ret))
		return ret;

	if (features & PRLK_FEAT_PAUSE) {
		sample_step("Pause the VM (PrlVm_Pause)");
		ret = power_step(hVm, PrlVm_Pause(hVm, PRL_FALSE), "PrlVm_Pause");
		if (PRL_SUCCEEDED(ret)) {
			sample_step("Resume the paused VM (PrlVm_Resume)");
			ret = power_step(hVm, PrlVm_Resume(hVm), "PrlVm_Resume");
		}
		if (PRL_FAILED(ret))
			return ret;
	} else {
		sample_step("Pause/resume: skipped, the driver cannot pause VMs");
	}

	if (features & PRLK_FEAT_SUSPEND) {
		sample_step("Suspend the VM to disk (PrlVm_Suspend)");
		ret = power_step(hVm, PrlVm_Suspend(hVm), "PrlVm_Suspend");
		if (PRL_SUCCEEDED(ret)) {
			sample_step("Resume the suspended VM (PrlVm_Resume)");
			ret = power_step(hVm, PrlVm_Resume(hVm), "PrlVm_Resume");
		}
		if (PRL_FAILED(ret))
			return ret;
	} else {
		sample_step("Suspend/resume: skipped, the driver cannot suspend VMs");
	}

	/* PRL_FALSE: power off at once; PRL_TRUE would ask the guest OS to shut down. */
	sample_step("Stop the VM (PrlVm_Stop)");
	return power_step(hVm, PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop");
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer, hVm = PRL_INVALID_HANDLE;
	int status = 1, started = 0;
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
		sample_info("using VM '%s'", name ? name : "?");
		free(name);
		if (PRL_SUCCEEDED(power_cycle(hServer, hVm, &started)))
			status = 0;
		else if (started && sample_get_state(hVm) != VMS_STOPPED)
			/* Leave the VM as we found it, even after a failed step. */
			sample_wait(PrlVm_Stop(hVm, PRL_FALSE), "PrlVm_Stop (clean-up)", NULL);
		PrlHandle_Free(hVm);
	}

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("power-cycle: done\n");
	return status;
}

/* prlkit sample: start a task in one process and follow it from another.
 *
 *   task-id start [TEMPLATE]      clone TEMPLATE (default: the first template), print the
 *                                 task's id on a line "TASK_ID=<id>" and exit without
 *                                 waiting for the clone
 *   task-id status TASK_ID        one status check (PrlSrv_GetTaskInfo)
 *   task-id resolve TASK_ID [--keep]
 *                                 wait for the task (PrlSrv_AttachToLostTask), show its
 *                                 outcome and delete the clone (unless --keep)
 *
 * A task id (PrlJob_GetTaskId, a prlkit extension) is a self-describing string: any
 * process connected to the same platform can resolve it, long after the process that
 * started the work has exited. That is how a Parallels RAS provider follows a clone it
 * started in an earlier invocation. MIT license. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample-util.h"

/* How long PrlJob_GetTaskId may wait for the platform to accept the work. */
#define ACCEPT_TIMEOUT_MS 60000u

static PRL_RESULT start_clone(PRL_HANDLE hServer, const char *templateName)
{
	PRL_HANDLE hTemplate = PRL_INVALID_HANDLE, hJob;
	PRL_UINT32 len = 0;
	PRL_RESULT ret;
	char cloneName[64], *taskId, *vmId, *name;

	sample_step("Find the template (PrlSrv_GetVmList)");
	ret = sample_find_vm(hServer, templateName, SAMPLE_PICK_TEMPLATE, &hTemplate);
	if (PRL_FAILED(ret))
		return ret;
	name = sample_get_string(hTemplate, PrlVmCfg_GetName, "PrlVmCfg_GetName");
	sample_info("using template '%s'", name ? name : "?");
	free(name);

	snprintf(cloneName, sizeof(cloneName), "task-id-clone-%ld", (long)getpid());
	sample_step("Start cloning it to '%s' (PrlVm_Clone)", cloneName);
	hJob = PrlVm_Clone(hTemplate, cloneName, "", PRL_FALSE);
	PrlHandle_Free(hTemplate);
	if (hJob == PRL_INVALID_HANDLE) {
		sample_print_error("PrlVm_Clone", PRL_ERR_OUT_OF_MEMORY);
		return PRL_ERR_OUT_OF_MEMORY;
	}

	/* The first call waits until the platform has accepted the clone (or the job has
	 * finished) and reports the id's size; the second one fetches it. */
	sample_step("Get the task id (PrlJob_GetTaskId)");
	ret = PrlJob_GetTaskId(hJob, ACCEPT_TIMEOUT_MS, NULL, &len);
	taskId = PRL_SUCCEEDED(ret) ? malloc(len) : NULL;
	if (PRL_SUCCEEDED(ret) && taskId == NULL)
		ret = PRL_ERR_OUT_OF_MEMORY;
	if (PRL_SUCCEEDED(ret))
		ret = PrlJob_GetTaskId(hJob, ACCEPT_TIMEOUT_MS, taskId, &len);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlJob_GetTaskId", ret);
		free(taskId);
		PrlHandle_Free(hJob);
		return ret;
	}

	/* The new VM's id is known as soon as the platform accepted the clone (some
	 * platforms only name it later: PRL_ERR_NO_DATA). */
	len = 0;
	vmId = NULL;
	ret = PrlJob_GetVmId(hJob, NULL, &len);
	if (PRL_SUCCEEDED(ret)) {
		vmId = malloc(len);
		ret = vmId != NULL ? PrlJob_GetVmId(hJob, vmId, &len) : PRL_ERR_OUT_OF_MEMORY;
	}
	if (PRL_SUCCEEDED(ret))
		sample_info("the clone's id: %s", vmId);
	else if (ret != PRL_ERR_NO_DATA)
		sample_print_error("PrlJob_GetVmId", ret);
	free(vmId);

	/* Freeing the job does not cancel the clone: the platform goes on with it. */
	PrlHandle_Free(hJob);
	sample_info("resolve it from any process with: task-id resolve '<id>'");
	printf("TASK_ID=%s\n", taskId);
	free(taskId);
	return PRL_ERR_SUCCESS;
}

/* One status check; *phTask gets the PHT_RUNNING_TASK handle. */
static PRL_RESULT get_task_info(PRL_HANDLE hServer, const char *taskId, PRL_HANDLE_PTR phTask)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_JOB_STATUS state = PJS_UNKNOWN;
	PRL_RESULT ret, rc = PRL_ERR_SUCCESS;
	char *message, *vmId;

	*phTask = PRL_INVALID_HANDLE;
	ret = sample_wait(PrlSrv_GetTaskInfo(hServer, taskId), "PrlSrv_GetTaskInfo", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	ret = PrlResult_GetParam(hResult, phTask);
	PrlHandle_Free(hResult);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlResult_GetParam (the task)", ret);
		return ret;
	}

	PrlRunningTask_GetState(*phTask, &state);
	if (state == PJS_FINISHED) {
		PrlRunningTask_GetRetCode(*phTask, &rc);
		sample_info("state: finished, result: %s", prl_result_to_string(rc));
	} else {
		sample_info("state: running");
	}
	message = sample_get_string(*phTask, PrlRunningTask_GetMessage, "PrlRunningTask_GetMessage");
	if (message != NULL && message[0] != '\0')
		sample_info("message: %s", message);
	free(message);
	vmId = sample_get_string(*phTask, PrlRunningTask_GetVmId, "PrlRunningTask_GetVmId");
	if (vmId != NULL)
		sample_info("VM id: %s", vmId);
	free(vmId);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT show_status(PRL_HANDLE hServer, const char *taskId)
{
	PRL_HANDLE hTask;
	PRL_RESULT ret;

	sample_step("Check the task once (PrlSrv_GetTaskInfo)");
	ret = get_task_info(hServer, taskId, &hTask);
	PrlHandle_Free(hTask);
	return ret;
}

/* The finished task's result holds the clone. */
static PRL_RESULT take_clone(PRL_HANDLE hTask, PRL_HANDLE_PTR phClone)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_RESULT ret;
	char *name;

	*phClone = PRL_INVALID_HANDLE;
	ret = PrlRunningTask_GetResult(hTask, &hResult);
	if (PRL_SUCCEEDED(ret)) {
		ret = PrlResult_GetParam(hResult, phClone);
		PrlHandle_Free(hResult);
	}
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlRunningTask_GetResult (the clone)", ret);
		return ret;
	}
	name = sample_get_string(*phClone, PrlVmCfg_GetName, "PrlVmCfg_GetName");
	sample_info("the clone is '%s', state %s", name ? name : "?",
	            sample_state_name(sample_get_state(*phClone)));
	free(name);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT resolve(PRL_HANDLE hServer, const char *taskId, int keep)
{
	PRL_HANDLE hTask = PRL_INVALID_HANDLE, hClone = PRL_INVALID_HANDLE;
	PRL_RESULT ret, rc = PRL_ERR_SUCCESS;

	sample_step("Check the task once (PrlSrv_GetTaskInfo)");
	ret = get_task_info(hServer, taskId, &hTask);
	PrlHandle_Free(hTask);
	if (PRL_FAILED(ret))
		return ret;

	/* A job of this process that finishes when the task does, whoever started it. */
	sample_step("Wait for it to finish (PrlSrv_AttachToLostTask)");
	ret = sample_wait(PrlSrv_AttachToLostTask(hServer, taskId), "PrlSrv_AttachToLostTask", NULL);
	if (PRL_FAILED(ret))
		return ret;
	sample_info("finished");

	sample_step("Read the outcome (PrlSrv_GetTaskInfo, PrlRunningTask_GetResult)");
	ret = get_task_info(hServer, taskId, &hTask);
	if (PRL_SUCCEEDED(ret))
		ret = PrlRunningTask_GetRetCode(hTask, &rc);
	if (PRL_SUCCEEDED(ret) && PRL_FAILED(rc)) {
		sample_print_error("the cloning task", rc);
		ret = rc;
	}
	if (PRL_SUCCEEDED(ret))
		ret = take_clone(hTask, &hClone);
	PrlHandle_Free(hTask);

	if (PRL_SUCCEEDED(ret) && !keep) {
		sample_step("Delete the clone (PrlVm_Delete)");
		ret = sample_wait(PrlVm_Delete(hClone, PRL_INVALID_HANDLE), "PrlVm_Delete", NULL);
		if (PRL_SUCCEEDED(ret))
			sample_info("deleted");
	}
	PrlHandle_Free(hClone);
	return ret;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s start [TEMPLATE-NAME-OR-ID]\n"
	        "       %s status TASK_ID\n"
	        "       %s resolve TASK_ID [--keep]\n",
	        argv0, argv0, argv0);
	return 2;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer;
	PRL_RESULT ret;
	int status, keep = 0;

	if (argc >= 2 && strcmp(argv[1], "start") == 0 && argc <= 3) {
		/* fine */
	} else if (argc == 3 && strcmp(argv[1], "status") == 0) {
		/* fine */
	} else if (argc >= 3 && argc <= 4 && strcmp(argv[1], "resolve") == 0) {
		if (argc == 4) {
			if (strcmp(argv[3], "--keep") != 0)
				return usage(argv[0]);
			keep = 1;
		}
	} else {
		return usage(argv[0]);
	}

	if (PRL_FAILED(sample_login_local(&hServer)))
		return 1;
	if (strcmp(argv[1], "start") == 0)
		ret = start_clone(hServer, argc > 2 ? argv[2] : NULL);
	else if (strcmp(argv[1], "status") == 0)
		ret = show_status(hServer, argv[2]);
	else
		ret = resolve(hServer, argv[2], keep);
	status = PRL_FAILED(ret) ? 1 : 0;

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("task-id %s: done\n", argv[1]);
	return status;
}

/* PrlJob_*: waiting for, cancelling and reading jobs. */
#include "config.h"

#include "api-async.h"
#include "core-server.h"
#include "core-vm.h"

PRL_METHOD(PrlJob_Wait)(PRL_HANDLE hJob, PRL_UINT32 msecs)
{
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	return pk_job_wait(job, msecs);
}

PRL_ASYNC_METHOD(PrlJob_Cancel)(PRL_HANDLE hJob)
{
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(PJOC_JOB_CANCEL);
	PK_AUTO pk_job *job = NULL;
	PK_ASYNC_GET(hJob, PHT_JOB, job, PJOC_JOB_CANCEL, "job");
	/* Cancelling is immediate (the target job finishes with PRL_ERR_OPERATION_WAS_CANCELED
	 * as soon as its driver op returns); the cancel job itself is finished already. */
	pk_job_cancel(job);
	return pk_job_succeed(pk_job_new(PJOC_JOB_CANCEL, pk_job_get_server(job), NULL));
}

PRL_METHOD(PrlJob_GetStatus)(PRL_HANDLE hJob, PRL_JOB_STATUS_PTR pnStatus)
{
	if (pnStatus == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	*pnStatus = pk_job_is_finished(job) ? PJS_FINISHED : PJS_RUNNING;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlJob_GetProgress)(PRL_HANDLE hJob, PRL_UINT32_PTR pnPercentage)
{
	if (pnPercentage == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	*pnPercentage = pk_job_get_progress(job);
	return PRL_ERR_SUCCESS;
}

/* While the job runs, *pnRetCode is PRL_ERR_OPERATION_PENDING (and the call succeeds). */
PRL_METHOD(PrlJob_GetRetCode)(PRL_HANDLE hJob, PRL_RESULT_PTR pnRetCode)
{
	if (pnRetCode == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	PRL_RESULT code;
	*pnRetCode = pk_job_get_outcome(job, &code, NULL) ? code : PRL_ERR_OPERATION_PENDING;
	return PRL_ERR_SUCCESS;
}

/* PRL_ERR_OPERATION_PENDING while running; a failed job returns its own error code. */
PRL_METHOD(PrlJob_GetResult)(PRL_HANDLE hJob, PRL_HANDLE_PTR phJobResult)
{
	if (phJobResult == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	PRL_RESULT code;
	if (!pk_job_get_outcome(job, &code, NULL))
		return PRL_ERR_OPERATION_PENDING;
	if (PRL_FAILED(code))
		return code;
	pk_result *res = pk_job_ref_result(job);
	if (res == NULL)
		return PRL_ERR_UNEXPECTED;
	*phJobResult = pk_object_give(res);
	return PRL_ERR_SUCCESS;
}

/* A PHT_EVENT carrying the job's code and message; PRL_ERR_NO_DATA when it succeeded,
 * PRL_ERR_OPERATION_PENDING while it runs. */
PRL_METHOD(PrlJob_GetError)(PRL_HANDLE hJob, PRL_HANDLE_PTR phError)
{
	if (phError == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	PRL_RESULT code;
	char *message = NULL;
	if (!pk_job_get_outcome(job, &code, &message))
		return PRL_ERR_OPERATION_PENDING;
	if (PRL_SUCCEEDED(code)) {
		g_free(message);
		return PRL_ERR_NO_DATA;
	}
	pk_vm *vm = pk_job_get_vm(job);
	pk_event *ev = pk_event_new(PET_DSP_EVT_ERROR_MESSAGE,
	                            vm != NULL ? PIE_VIRTUAL_MACHINE : PIE_DISPATCHER,
	                            vm != NULL ? pk_vm_get_id(vm) : "", pk_job_get_server(job), vm,
	                            job);
	pk_event_set_error(ev, code, message);
	if (message != NULL)
		pk_event_add_param_string(ev, EVT_PARAM_MESSAGE_PARAM_0, message);
	g_free(message);
	*phError = pk_object_give(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlJob_GetOpCode)(PRL_HANDLE hJob, PRL_JOB_OPERATION_CODE_PTR pnOpCode)
{
	if (pnOpCode == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	*pnOpCode = pk_job_get_op(job);
	return PRL_ERR_SUCCESS;
}

/* prlkit sample: an event handler prints what happens while another thread works.
 *
 *   events [VM]     VM = name or id; default: the first stopped VM
 *
 * PrlSrv_RegEventHandler registers a callback for the connection. It receives PHT_EVENT
 * handles (platform events such as PET_DSP_EVT_VM_STATE_CHANGED) and PHT_JOB handles
 * (every job of the connection as it finishes), one at a time, on the library's event
 * thread. The callback owns the handle it receives and must free it. Meanwhile a worker
 * thread starts, suspends, resumes and stops the VM. MIT license. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample-util.h"

/* How long the main thread waits, after the work is done, for the last state change to
 * arrive. Events are delivered asynchronously, so they may trail the jobs a little. */
#define LAST_EVENT_TIMEOUT_S 30

/* What the handler saw. Static: a callback already under way when the handler is
 * unregistered may still touch it, so it must outlive watch_vm(). */
static struct watch {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char *vmId;                      /* set before the handler is registered, then read-only */
	VIRTUAL_MACHINE_STATE lastState; /* lock: last state of our VM */
	unsigned nStateEvents;           /* lock */
	unsigned nJobs;                  /* lock */
} watch = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
	.lastState = VMS_UNKNOWN,
};

struct worker {
	PRL_HANDLE hVm;      /* immutable; the worker's own reference */
	PRL_UINT64 features; /* immutable */
	PRL_RESULT result;   /* written by the worker, read after pthread_join */
};

static const char *event_name(PRL_EVENT_TYPE type)
{
	switch (type) {
	case PET_DSP_EVT_VM_STATE_CHANGED: return "VM state changed";
	case PET_DSP_EVT_VM_CONFIG_CHANGED: return "VM configuration changed";
	case PET_DSP_EVT_VM_STARTED: return "VM started";
	case PET_DSP_EVT_VM_STOPPED: return "VM stopped";
	case PET_DSP_EVT_VM_SUSPENDED: return "VM suspended";
	case PET_DSP_EVT_VM_RESUMED: return "VM resumed";
	case PET_DSP_EVT_VM_PAUSED: return "VM paused";
	case PET_DSP_EVT_VM_CONTINUED: return "VM continued";
	case PET_DSP_EVT_VM_ADDED: return "VM added";
	case PET_DSP_EVT_VM_DELETED: return "VM deleted";
	case PET_DSP_EVT_VM_SNAPSHOTS_TREE_CHANGED: return "snapshots changed";
	case PET_DSP_EVT_JOB_PROGRESS_CHANGED: return "job progress";
	default: return NULL;
	}
}

static const char *job_name(PRL_JOB_OPERATION_CODE op)
{
	switch (op) {
	case PJOC_SRV_LOGIN_LOCAL: return "PrlSrv_LoginLocal";
	case PJOC_SRV_GET_VM_LIST: return "PrlSrv_GetVmList";
	case PJOC_VM_START: return "PrlVm_Start/Resume";
	case PJOC_VM_STOP: return "PrlVm_Stop";
	case PJOC_VM_PAUSE: return "PrlVm_Pause";
	case PJOC_VM_SUSPEND: return "PrlVm_Suspend";
	case PJOC_VM_GET_STATE: return "PrlVm_GetState";
	default: return NULL;
	}
}

static void on_state_changed(PRL_HANDLE hEvent, struct watch *w)
{
	PRL_HANDLE hParam = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE;
	PRL_INT32 state = VMS_UNKNOWN;
	char *name = NULL, *id = NULL;
	int ours;

	/* The new state is an INT32 parameter holding a VMS_* value. */
	if (PRL_SUCCEEDED(PrlEvent_GetParamByName(hEvent, EVT_PARAM_VMINFO_VM_STATE, &hParam))) {
		PrlEvtPrm_ToInt32(hParam, &state);
		PrlHandle_Free(hParam);
	}
	if (PRL_SUCCEEDED(PrlEvent_GetVm(hEvent, &hVm))) {
		name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
		id = sample_get_string(hVm, PrlVmCfg_GetUuid, "PrlVmCfg_GetUuid");
		PrlHandle_Free(hVm);
	}
	printf("    event: VM '%s' is now %s\n", name ? name : "?",
	       sample_state_name((VIRTUAL_MACHINE_STATE)state));
	fflush(stdout);
	ours = id != NULL && w->vmId != NULL && strcmp(id, w->vmId) == 0;
	free(name);
	free(id);

	pthread_mutex_lock(&w->lock);
	if (ours) {
		w->lastState = (VIRTUAL_MACHINE_STATE)state;
		w->nStateEvents++;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
}

static void on_job_finished(PRL_HANDLE hJob, struct watch *w)
{
	PRL_JOB_OPERATION_CODE op = PJOC_UNKNOWN;
	PRL_RESULT rc = PRL_ERR_SUCCESS;
	const char *name;

	PrlJob_GetOpCode(hJob, &op);
	PrlJob_GetRetCode(hJob, &rc);
	name = job_name(op);
	if (name != NULL)
		printf("    event: job %s finished: %s\n", name, prl_result_to_string(rc));
	else
		printf("    event: job (operation %d) finished: %s\n", (int)op,
		       prl_result_to_string(rc));
	fflush(stdout);

	pthread_mutex_lock(&w->lock);
	w->nJobs++;
	pthread_mutex_unlock(&w->lock);
}

/* Runs on the library's event thread; must return quickly and free hEvent. */
static PRL_RESULT on_event(PRL_HANDLE hEvent, PRL_VOID_PTR data)
{
	struct watch *w = data;
	PRL_HANDLE_TYPE type = PHT_ERROR;
	PRL_EVENT_TYPE evType = PET_VM_INF_UNINITIALIZED_EVENT_CODE;
	const char *name;

	PrlHandle_GetType(hEvent, &type);
	if (type == PHT_JOB) {
		on_job_finished(hEvent, w);
	} else if (type == PHT_EVENT && PRL_SUCCEEDED(PrlEvent_GetType(hEvent, &evType))) {
		if (evType == PET_DSP_EVT_VM_STATE_CHANGED) {
			on_state_changed(hEvent, w);
		} else {
			name = event_name(evType);
			if (name != NULL)
				printf("    event: %s\n", name);
			else
				printf("    event: type %d\n", (int)evType);
			fflush(stdout);
		}
	}
	PrlHandle_Free(hEvent);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT worker_step(PRL_HANDLE hJob, const char *call)
{
	PRL_RESULT ret;

	printf("    worker: %s ...\n", call);
	fflush(stdout);
	ret = sample_wait(hJob, call, NULL);
	if (PRL_SUCCEEDED(ret)) {
		printf("    worker: %s done\n", call);
		fflush(stdout);
	}
	return ret;
}

static void *worker_main(void *data)
{
	struct worker *wk = data;
	PRL_RESULT ret;

	ret = worker_step(PrlVm_Start(wk->hVm), "PrlVm_Start");
	if (PRL_SUCCEEDED(ret) && (wk->features & PRLK_FEAT_SUSPEND)) {
		ret = worker_step(PrlVm_Suspend(wk->hVm), "PrlVm_Suspend");
		if (PRL_SUCCEEDED(ret))
			ret = worker_step(PrlVm_Resume(wk->hVm), "PrlVm_Resume");
	}
	/* Stop even if a step in between failed, so the VM ends as it started. */
	if (sample_get_state(wk->hVm) != VMS_STOPPED) {
		PRL_RESULT stop = worker_step(PrlVm_Stop(wk->hVm, PRL_FALSE), "PrlVm_Stop");
		if (PRL_SUCCEEDED(ret))
			ret = stop;
	}
	wk->result = ret;
	PrlHandle_Free(wk->hVm);
	return NULL;
}

/* Wait until the handler has seen the VM stop (or give up after a while). */
static int wait_for_stopped(struct watch *w)
{
	struct timespec deadline;
	int seen, err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LAST_EVENT_TIMEOUT_S;
	pthread_mutex_lock(&w->lock);
	while (w->lastState != VMS_STOPPED && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&w->changed, &w->lock, &deadline);
	seen = w->lastState == VMS_STOPPED;
	pthread_mutex_unlock(&w->lock);
	return seen;
}

static PRL_RESULT watch_vm(PRL_HANDLE hServer, PRL_HANDLE hVm)
{
	struct watch *w = &watch;
	struct worker wk = { .hVm = hVm, .result = PRL_ERR_SUCCESS };
	PRL_RESULT ret;
	pthread_t thread;
	int hasEvents;

	if (sample_get_state(hVm) != VMS_STOPPED) {
		fprintf(stderr, "ERROR: the VM must be stopped to start this sample\n");
		return PRL_ERR_DISP_VM_IS_NOT_STOPPED;
	}
	w->vmId = sample_get_string(hVm, PrlVmCfg_GetUuid, "PrlVmCfg_GetUuid");
	if (w->vmId == NULL)
		return PRL_ERR_FAILURE;
	wk.features = sample_driver_features(hServer);
	hasEvents = (wk.features & PRLK_FEAT_EVENTS) != 0;

	sample_step("Register an event handler (PrlSrv_RegEventHandler)");
	ret = PrlSrv_RegEventHandler(hServer, on_event, w);
	if (PRL_FAILED(ret)) {
		sample_print_error("PrlSrv_RegEventHandler", ret);
		return ret;
	}
	if (!hasEvents)
		sample_info("note: the driver reports no platform events; only finished jobs show");

	sample_step("Let a worker thread start%s and stop the VM",
	            (wk.features & PRLK_FEAT_SUSPEND) ? ", suspend, resume" : "");
	/* A handle handed to another thread gets its own reference. */
	PrlHandle_AddRef(hVm);
	if (pthread_create(&thread, NULL, worker_main, &wk) != 0) {
		fprintf(stderr, "ERROR: cannot create a thread\n");
		PrlHandle_Free(hVm);
		ret = PRL_ERR_FAILURE;
	} else {
		pthread_join(thread, NULL);
		ret = wk.result;
	}

	if (PRL_SUCCEEDED(ret) && hasEvents) {
		sample_step("Wait for the event saying the VM is stopped");
		if (wait_for_stopped(w)) {
			sample_info("seen");
		} else {
			fprintf(stderr, "ERROR: no 'stopped' event within %d s\n", LAST_EVENT_TIMEOUT_S);
			ret = PRL_ERR_TIMEOUT;
		}
	}

	sample_step("Unregister the handler (PrlSrv_UnregEventHandler)");
	PrlSrv_UnregEventHandler(hServer, on_event, w);
	pthread_mutex_lock(&w->lock);
	sample_info("the handler saw %u state change(s) of the VM and %u finished job(s)",
	            w->nStateEvents, w->nJobs);
	if (PRL_SUCCEEDED(ret) && w->nJobs == 0) {
		fprintf(stderr, "ERROR: the handler saw no finished job\n");
		ret = PRL_ERR_FAILURE;
	}
	pthread_mutex_unlock(&w->lock);
	/* w->vmId stays until main() has deinitialised: a late callback may read it. */
	return ret;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer, hVm = PRL_INVALID_HANDLE;
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
		sample_info("using VM '%s'", name ? name : "?");
		free(name);
		if (PRL_SUCCEEDED(watch_vm(hServer, hVm)))
			status = 0;
		PrlHandle_Free(hVm);
	}

	if (sample_logoff(hServer) != 0)
		status = 1;
	/* After PrlApi_Deinit no callback can run any more. */
	free(watch.vmId);
	if (status == 0)
		printf("events: done\n");
	return status;
}

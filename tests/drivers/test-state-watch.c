/* See test-state-watch.h. */
#include "config.h"

#include <string.h>
#include "test-state-watch.h"

static struct {
	GMutex lock;                       /* a zeroed static GMutex needs no init */
	GCond changed;
	char *vm_id;                       /* lock */
	VIRTUAL_MACHINE_STATE last;        /* lock */
} sw;

void sw_follow(const char *vm_id)
{
	g_mutex_lock(&sw.lock);
	g_free(sw.vm_id);
	sw.vm_id = g_strdup(vm_id);
	sw.last = VMS_UNKNOWN;
	g_mutex_unlock(&sw.lock);
}

PRL_RESULT sw_on_event(PRL_HANDLE h, PRL_VOID_PTR data)
{
	PRL_HANDLE_TYPE type = PHT_ERROR;
	PRL_EVENT_TYPE et = PET_VM_INF_UNINITIALIZED_EVENT_CODE;
	PrlHandle_GetType(h, &type);
	if (type == PHT_EVENT && PRL_SUCCEEDED(PrlEvent_GetType(h, &et)) &&
	    et == PET_DSP_EVT_VM_STATE_CHANGED) {
		char id[64] = "";
		PRL_UINT32 len = sizeof(id);
		PRL_HANDLE p = PRL_INVALID_HANDLE;
		PRL_INT32 st = VMS_UNKNOWN;
		PrlEvent_GetIssuerId(h, id, &len);
		if (PRL_SUCCEEDED(PrlEvent_GetParamByName(h, EVT_PARAM_VMINFO_VM_STATE, &p))) {
			PrlEvtPrm_ToInt32(p, &st);
			PrlHandle_Free(p);
		}
		g_mutex_lock(&sw.lock);
		if (g_strcmp0(id, sw.vm_id) == 0) {
			sw.last = (VIRTUAL_MACHINE_STATE)st;
			g_cond_broadcast(&sw.changed);
		}
		g_mutex_unlock(&sw.lock);
	}
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

gboolean sw_wait(VIRTUAL_MACHINE_STATE want, int seconds)
{
	gint64 until = g_get_monotonic_time() + seconds * G_TIME_SPAN_SECOND;
	g_mutex_lock(&sw.lock);
	while (sw.last != want)
		if (!g_cond_wait_until(&sw.changed, &sw.lock, until))
			break;
	gboolean ok = sw.last == want;
	g_mutex_unlock(&sw.lock);
	return ok;
}

/* Event handlers: finished jobs (PHT_JOB) and platform events (PHT_EVENT) reach server and
 * VM handlers, in order, on one event thread; unregistering stops delivery. A driver that
 * missed events has what changed meanwhile reported (pk_conn_resync_vm_states). */
#include "config.h"

#include <string.h>
#include "rt-test.h"
#include "core-conn.h"
#include "core-server.h"

static char *dir;

typedef struct {
	PRL_HANDLE_TYPE type;
	PRL_HANDLE handle;          /* value only (already freed) */
	PRL_EVENT_TYPE event;       /* PHT_EVENT */
	PRL_INT32 state;            /* PET_DSP_EVT_VM_STATE_CHANGED: "vminfo_vm_state" */
	char *issuer;               /* PHT_EVENT */
	PRL_HANDLE vm;              /* PHT_EVENT: PrlEvent_GetVm's value, or 0 */
	PRL_JOB_OPERATION_CODE op;  /* PHT_JOB */
	GThread *thread;
} record;

typedef struct {
	GMutex lock;
	GCond cond;
	GArray *records;            /* lock */
} recorder;

static void recorder_init(recorder *r)
{
	g_mutex_init(&r->lock);
	g_cond_init(&r->cond);
	r->records = g_array_new(FALSE, TRUE, sizeof(record));
}

static void recorder_clear(recorder *r)
{
	for (guint i = 0; i < r->records->len; i++)
		g_free(g_array_index(r->records, record, i).issuer);
	g_array_unref(r->records);
	g_cond_clear(&r->cond);
	g_mutex_clear(&r->lock);
}

static PRL_RESULT record_handler(PRL_HANDLE h, PRL_VOID_PTR data)
{
	recorder *r = data;
	record rec = { .handle = h, .thread = g_thread_self() };
	g_assert_cmpint(PrlHandle_GetType(h, &rec.type), ==, PRL_ERR_SUCCESS);
	if (rec.type == PHT_EVENT) {
		g_assert_cmpint(PrlEvent_GetType(h, &rec.event), ==, PRL_ERR_SUCCESS);
		PRL_HANDLE p = PRL_INVALID_HANDLE;
		if (PrlEvent_GetParamByName(h, EVT_PARAM_VMINFO_VM_STATE, &p) == PRL_ERR_SUCCESS) {
			PRL_PARAM_FIELD_DATA_TYPE t = PFD_UNKNOWN;
			g_assert_cmpint(PrlEvtPrm_GetType(p, &t), ==, PRL_ERR_SUCCESS);
			g_assert_cmpint(t, ==, PFD_INT32);
			g_assert_cmpint(PrlEvtPrm_ToInt32(p, &rec.state), ==, PRL_ERR_SUCCESS);
			PrlHandle_Free(p);
		}
		rec.issuer = rt_string(PrlEvent_GetIssuerId, h);
		PRL_HANDLE vm = PRL_INVALID_HANDLE;
		if (PrlEvent_GetVm(h, &vm) == PRL_ERR_SUCCESS && vm != PRL_INVALID_HANDLE) {
			rec.vm = vm;
			PrlHandle_Free(vm);
		}
	} else if (rec.type == PHT_JOB) {
		g_assert_cmpint(PrlJob_GetOpCode(h, &rec.op), ==, PRL_ERR_SUCCESS);
		PRL_JOB_STATUS st = PJS_UNKNOWN;
		g_assert_cmpint(PrlJob_GetStatus(h, &st), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(st, ==, PJS_FINISHED);   /* completion comes before delivery */
	}
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);   /* our own reference */
	g_mutex_lock(&r->lock);
	g_array_append_val(r->records, rec);
	g_cond_broadcast(&r->cond);
	g_mutex_unlock(&r->lock);
	return PRL_ERR_SUCCESS;
}

/* Wait (bounded, generously) until pred holds for the records. */
static void wait_until(recorder *r, gboolean (*pred)(recorder *, gpointer), gpointer arg)
{
	gint64 end = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;
	g_mutex_lock(&r->lock);
	while (!pred(r, arg))
		if (!g_cond_wait_until(&r->cond, &r->lock, end))
			break;
	gboolean ok = pred(r, arg);
	g_mutex_unlock(&r->lock);
	g_assert_true(ok);
}

static gboolean has_job(recorder *r, gpointer job)
{
	for (guint i = 0; i < r->records->len; i++)
		if (g_array_index(r->records, record, i).handle == job)
			return TRUE;
	return FALSE;
}

static gboolean has_count(recorder *r, gpointer n)
{
	return r->records->len >= GPOINTER_TO_UINT(n);
}

static record *rec_at(recorder *r, guint i)
{
	return &g_array_index(r->records, record, i);
}

static void test_jobs_in_order(void)
{
	rt_init();
	fake_reset(3);
	recorder r;
	recorder_init(&r);
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	/* registered before connecting: the connect job is delivered too */
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);
	char *uri = g_strdup_printf("fake://%s", dir);
	PRL_HANDLE jobs[21];
	jobs[0] = PrlSrv_Connect(srv, uri, NULL, 0);
	g_assert_cmpint(PrlJob_Wait(jobs[0], 20000), ==, PRL_ERR_SUCCESS);
	g_free(uri);
	for (guint i = 1; i < G_N_ELEMENTS(jobs); i++) {
		jobs[i] = i % 2 ? PrlSrv_GetVmList(srv) : PrlSrv_GetSrvConfig(srv);
		g_assert_cmpint(PrlJob_Wait(jobs[i], 20000), ==, PRL_ERR_SUCCESS);
	}
	wait_until(&r, has_job, jobs[G_N_ELEMENTS(jobs) - 1]);

	g_mutex_lock(&r.lock);
	g_assert_cmpuint(r.records->len, ==, G_N_ELEMENTS(jobs));   /* registered once */
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		record *rec = rec_at(&r, i);
		g_assert_cmpint(rec->type, ==, PHT_JOB);
		g_assert_true(rec->handle == jobs[i]);   /* in completion order = submission order */
		g_assert_true(rec->thread == rec_at(&r, 0)->thread);
		g_assert_true(rec->thread != g_thread_self());
	}
	g_assert_cmpint(rec_at(&r, 0)->op, ==, PJOC_SRV_CONNECT);
	g_mutex_unlock(&r.lock);

	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++)
		PrlHandle_Free(jobs[i]);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	recorder_clear(&r);
}

static void test_vm_state_events(void)
{
	rt_init();
	fake_reset(3);
	recorder rs, rv, other;
	recorder_init(&rs);
	recorder_init(&rv);
	recorder_init(&other);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE vm1 = rt_vm(srv, "vm-1");
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &rs), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVm_RegEventHandler(vm, record_handler, &rv), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_RegEventHandler(vm1, record_handler, &other), ==, PRL_ERR_SUCCESS);

	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	wait_until(&rv, has_job, job);
	wait_until(&rs, has_job, job);

	recorder *both[] = { &rs, &rv };
	for (guint k = 0; k < G_N_ELEMENTS(both); k++) {
		recorder *r = both[k];
		g_mutex_lock(&r->lock);
		g_assert_cmpuint(r->records->len, ==, 3);
		record *changed = rec_at(r, 0), *started = rec_at(r, 1), *done = rec_at(r, 2);
		g_assert_cmpint(changed->type, ==, PHT_EVENT);
		g_assert_cmpint(changed->event, ==, PET_DSP_EVT_VM_STATE_CHANGED);
		g_assert_cmpint(changed->state, ==, VMS_RUNNING);
		g_assert_cmpstr(changed->issuer, ==, "vm-0");
		g_assert_true(changed->vm == vm);   /* the VM object, identity-mapped */
		g_assert_cmpint(started->event, ==, PET_DSP_EVT_VM_STARTED);
		g_assert_cmpint(done->type, ==, PHT_JOB);
		g_assert_cmpint(done->op, ==, PJOC_VM_START);
		g_assert_true(done->handle == job);
		g_mutex_unlock(&r->lock);
	}
	PrlHandle_Free(job);

	/* The cached state followed. */
	PRL_HANDLE info = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_RUNNING);
	PrlHandle_Free(info);

	/* Suspend then resume: the specific events follow the states. */
	g_assert_cmpint(rt_wait(PrlVm_Suspend(vm), NULL), ==, PRL_ERR_SUCCESS);
	job = PrlVm_Resume(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	wait_until(&rv, has_job, job);
	g_mutex_lock(&rv.lock);
	g_assert_cmpuint(rv.records->len, ==, 9);
	g_assert_cmpint(rec_at(&rv, 3)->state, ==, VMS_SUSPENDED);
	g_assert_cmpint(rec_at(&rv, 4)->event, ==, PET_DSP_EVT_VM_SUSPENDED);
	g_assert_cmpint(rec_at(&rv, 6)->state, ==, VMS_RUNNING);
	g_assert_cmpint(rec_at(&rv, 7)->event, ==, PET_DSP_EVT_VM_RESUMED);
	g_mutex_unlock(&rv.lock);
	PrlHandle_Free(job);

	/* vm-1's handler saw nothing of vm-0 */
	g_mutex_lock(&other.lock);
	g_assert_cmpuint(other.records->len, ==, 0);
	g_mutex_unlock(&other.lock);

	g_assert_cmpint(PrlVm_UnregEventHandler(vm, record_handler, &rv), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_UnregEventHandler(vm1, record_handler, &other), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(vm);
	PrlHandle_Free(vm1);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	recorder_clear(&rs);
	recorder_clear(&rv);
	recorder_clear(&other);
}

static void test_platform_events(void)
{
	rt_init();
	fake_reset(3);
	recorder r;
	recorder_init(&r);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-1");
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);

	/* Reported by the driver's watch thread; a repeated state is reported once. */
	fake_emit_state("vm-1", VMS_PAUSED);
	fake_emit_state("vm-1", VMS_PAUSED);
	fake_emit_state("vm-1", VMS_RUNNING);
	fake_emit_state("vm-2", VMS_STOPPED);
	wait_until(&r, has_count, GUINT_TO_POINTER(6));
	g_mutex_lock(&r.lock);
	g_assert_cmpint(rec_at(&r, 0)->event, ==, PET_DSP_EVT_VM_STATE_CHANGED);
	g_assert_cmpint(rec_at(&r, 0)->state, ==, VMS_PAUSED);
	g_assert_true(rec_at(&r, 0)->vm == vm);
	g_assert_cmpint(rec_at(&r, 1)->event, ==, PET_DSP_EVT_VM_PAUSED);
	g_assert_cmpint(rec_at(&r, 2)->state, ==, VMS_RUNNING);
	g_assert_cmpint(rec_at(&r, 3)->event, ==, PET_DSP_EVT_VM_CONTINUED);
	g_assert_cmpint(rec_at(&r, 4)->state, ==, VMS_STOPPED);
	g_assert_cmpstr(rec_at(&r, 4)->issuer, ==, "vm-2");
	g_assert_true(rec_at(&r, 4)->vm == PRL_INVALID_HANDLE);   /* no live object for vm-2 */
	g_assert_cmpint(rec_at(&r, 5)->event, ==, PET_DSP_EVT_VM_STOPPED);
	g_mutex_unlock(&r.lock);

	PRL_HANDLE info = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_RUNNING);
	PrlHandle_Free(info);

	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	g_mutex_lock(&r.lock);
	g_assert_cmpuint(r.records->len, ==, 6 + 1);   /* + the logoff job */
	g_mutex_unlock(&r.lock);
	recorder_clear(&r);
}

static void test_unregister(void)
{
	rt_init();
	fake_reset(2);
	recorder a, b;
	recorder_init(&a);
	recorder_init(&b);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &a), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &b), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE j1 = PrlSrv_GetSrvConfig(srv);
	g_assert_cmpint(PrlJob_Wait(j1, 20000), ==, PRL_ERR_SUCCESS);
	wait_until(&b, has_job, j1);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, record_handler, &a), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE j2 = PrlSrv_GetSrvConfig(srv);
	g_assert_cmpint(PrlJob_Wait(j2, 20000), ==, PRL_ERR_SUCCESS);
	/* a comes before b for every item: once b saw j2, a would have seen it */
	wait_until(&b, has_job, j2);
	g_mutex_lock(&a.lock);
	g_assert_true(has_job(&a, j1));
	g_assert_false(has_job(&a, j2));
	g_mutex_unlock(&a.lock);
	PrlHandle_Free(j1);
	PrlHandle_Free(j2);

	/* bad registrations */
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, NULL, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, record_handler, &a), ==, PRL_ERR_INVALID_ARG);
	PRL_HANDLE list = PRL_INVALID_HANDLE;
	PrlApi_CreateStringsList(&list);
	g_assert_cmpint(PrlHandle_RegEventHandler(list, record_handler, &a), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlSrv_RegEventHandler(list, record_handler, &a), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlVm_RegEventHandler(srv, record_handler, &a), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(list);

	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, record_handler, &b), ==, PRL_ERR_SUCCESS);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	recorder_clear(&a);
	recorder_clear(&b);
}

/* A handler may drop the last reference to the server (the event thread then retires). */
static PRL_RESULT free_server_handler(PRL_HANDLE h, PRL_VOID_PTR data)
{
	PRL_HANDLE *srv = data;
	PRL_HANDLE_TYPE t = PHT_ERROR;
	PrlHandle_GetType(h, &t);
	if (t == PHT_JOB && *srv != PRL_INVALID_HANDLE) {
		PrlHandle_Free(*srv);
		*srv = PRL_INVALID_HANDLE;
	}
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

static void test_handler_frees_server(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL), keep = srv;
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, free_server_handler, &keep), ==,
	                PRL_ERR_SUCCESS);
	PRL_HANDLE job = PrlSrv_GetSrvConfig(srv);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
	rt_deinit_and_check_leaks();   /* waits for the delivery; the server is gone */
	g_assert_true(keep == PRL_INVALID_HANDLE);
	g_assert_cmpuint(fake_open_count(), ==, 0);   /* its connection was closed */
}

/* ------------------------------------------------ resync after missed events ---- */

static pk_conn *conn_of(PRL_HANDLE srv)
{
	pk_server *s = NULL;
	g_assert_cmpint(pk_handle_get(srv, PHT_SERVER, (gpointer *)&s), ==, PRL_ERR_SUCCESS);
	pk_conn *c = pk_server_ref_conn(s);
	pk_object_unref(s);
	g_assert_nonnull(c);
	return c;
}

/* id → state from "id", state, ..., NULL. */
static GHashTable *vm_states(const char *id, ...)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	va_list ap;
	va_start(ap, id);
	for (const char *k = id; k != NULL; k = va_arg(ap, const char *))
		g_hash_table_insert(t, g_strdup(k), GINT_TO_POINTER(va_arg(ap, int)));
	va_end(ap);
	return t;
}

static const char *event_word(PRL_EVENT_TYPE t)
{
	switch (t) {
	case PET_DSP_EVT_VM_STATE_CHANGED: return "changed";
	case PET_DSP_EVT_VM_STARTED: return "started";
	case PET_DSP_EVT_VM_STOPPED: return "stopped";
	case PET_DSP_EVT_VM_PAUSED: return "paused";
	case PET_DSP_EVT_VM_CONTINUED: return "continued";
	case PET_DSP_EVT_VM_SUSPENDED: return "suspended";
	case PET_DSP_EVT_VM_ADDED: return "added";
	case PET_DSP_EVT_VM_DELETED: return "deleted";
	default: return "other";
	}
}

static const char *state_word(PRL_INT32 st)
{
	switch (st) {
	case VMS_RUNNING: return "running";
	case VMS_STOPPED: return "stopped";
	case VMS_PAUSED: return "paused";
	case VMS_SUSPENDED: return "suspended";
	default: return "other";
	}
}

/* Every event the handler got since record `from` up to a job that finished after the
 * resync (the barrier: deliveries keep their order), as "vm-1 changed(paused), vm-1
 * paused"; *from moves past the barrier. */
static char *events_since(recorder *r, PRL_HANDLE srv, guint *from)
{
	PRL_HANDLE job = PrlSrv_GetSrvConfig(srv);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	wait_until(r, has_job, job);
	GString *s = g_string_new(NULL);
	g_mutex_lock(&r->lock);
	guint i = *from;
	for (; rec_at(r, i)->handle != job; i++) {
		record *rec = rec_at(r, i);
		g_assert_cmpint(rec->type, ==, PHT_EVENT);
		g_string_append_printf(s, "%s%s %s", s->len > 0 ? ", " : "", rec->issuer,
		                       event_word(rec->event));
		if (rec->event == PET_DSP_EVT_VM_STATE_CHANGED)
			g_string_append_printf(s, "(%s)", state_word(rec->state));
	}
	*from = i + 1;
	g_mutex_unlock(&r->lock);
	PrlHandle_Free(job);
	return g_string_free(s, FALSE);
}

static VIRTUAL_MACHINE_STATE cached_state(PRL_HANDLE vm)
{
	PRL_HANDLE info = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(info);
	return st;
}

static void test_resync(void)
{
	rt_init();
	fake_reset(4);
	recorder r;
	recorder_init(&r);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm0 = rt_vm(srv, "vm-0");   /* an object, stopped; no state reported */
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);
	fake_emit_state("vm-1", VMS_RUNNING);
	fake_emit_state("vm-2", VMS_PAUSED);
	fake_emit_state("vm-3", VMS_STOPPED);
	wait_until(&r, has_count, GUINT_TO_POINTER(6));
	guint from = 6;
	pk_conn *c = conn_of(srv);

	/* Without the driver's list of VMs before: what the connection knows is compared;
	 * vm-9, never seen, gets nothing; vm-3 is gone. */
	GHashTable *now = vm_states("vm-0", VMS_RUNNING, "vm-1", VMS_PAUSED, "vm-2", VMS_PAUSED,
	                            "vm-9", VMS_RUNNING, NULL);
	pk_conn_resync_vm_states(c, now, NULL);
	g_autofree char *a = events_since(&r, srv, &from);
	g_assert_cmpstr(a, ==, "vm-0 changed(running), vm-0 started, "
	                       "vm-1 changed(paused), vm-1 paused, vm-3 deleted");
	g_mutex_lock(&r.lock);
	g_assert_true(rec_at(&r, 6)->vm == vm0);
	g_mutex_unlock(&r.lock);
	g_assert_cmpint(cached_state(vm0), ==, VMS_RUNNING);
	/* Nothing changed since: nothing reported (vm-3's state was forgotten). */
	pk_conn_resync_vm_states(c, now, NULL);
	g_autofree char *b = events_since(&r, srv, &from);
	g_assert_cmpstr(b, ==, "");
	g_hash_table_unref(now);

	/* vm-3 is new again; then a resync with the driver's account of the VMs before: new
	 * VMs are added, gone ones deleted (vm-5 too, never reported); vm-6, never reported,
	 * changed since the driver saw it; vm-8's state then is not known; vm-0's reported
	 * state is what handlers know (the driver's differs); vm-3, gone before the events
	 * stopped (its deletion was reported then), is forgotten quietly. */
	fake_emit_state("vm-3", VMS_STOPPED);   /* by the watch thread: wait for it */
	wait_until(&r, has_count, GUINT_TO_POINTER(from + 2));
	g_autofree char *c3 = events_since(&r, srv, &from);
	g_assert_cmpstr(c3, ==, "vm-3 changed(stopped), vm-3 stopped");
	GHashTable *before = vm_states("vm-0", VMS_STOPPED, "vm-1", VMS_PAUSED, "vm-2", VMS_PAUSED,
	                               "vm-5", VMS_STOPPED, "vm-6", VMS_STOPPED, "vm-8", VMS_UNKNOWN,
	                               NULL);
	now = vm_states("vm-0", VMS_RUNNING, "vm-1", VMS_RUNNING, "vm-6", VMS_RUNNING,
	                "vm-7", VMS_SUSPENDED, "vm-8", VMS_RUNNING, "vm-9", VMS_RUNNING, NULL);
	pk_conn_resync_vm_states(c, now, before);
	g_autofree char *d = events_since(&r, srv, &from);
	g_assert_cmpstr(d, ==, "vm-1 changed(running), vm-1 continued, vm-2 deleted, "
	                       "vm-5 deleted, vm-6 changed(running), vm-6 started, "
	                       "vm-7 added, vm-7 changed(suspended), vm-7 suspended, "
	                       "vm-9 added, vm-9 changed(running), vm-9 started");
	pk_conn_resync_vm_states(c, now, NULL);   /* vm-3 is not known any more */
	g_autofree char *e = events_since(&r, srv, &from);
	g_assert_cmpstr(e, ==, "");
	g_hash_table_unref(now);
	g_hash_table_unref(before);

	/* A deleted VM's object is forgotten: a VM later made with its id is a new one. */
	now = vm_states("vm-1", VMS_RUNNING, "vm-6", VMS_RUNNING, "vm-7", VMS_SUSPENDED,
	                "vm-9", VMS_RUNNING, NULL);
	pk_conn_resync_vm_states(c, now, NULL);
	g_autofree char *f = events_since(&r, srv, &from);
	g_assert_cmpstr(f, ==, "vm-0 deleted");
	g_mutex_lock(&r.lock);
	g_assert_true(rec_at(&r, from - 2)->vm == vm0);
	g_mutex_unlock(&r.lock);
	g_assert_null(pk_conn_lookup_vm(c, "vm-0"));

	pk_conn_resync_vm_states(NULL, now, NULL);
	pk_conn_resync_vm_states(c, NULL, NULL);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, record_handler, &r), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(vm0);
	rt_logoff_free(srv);
	pk_conn_resync_vm_states(c, now, NULL);   /* closed: nothing to report to */
	g_hash_table_unref(now);
	pk_conn_unref(c);
	rt_deinit_and_check_leaks();
	recorder_clear(&r);
}

static PRL_RESULT slow_handler(PRL_HANDLE h, PRL_VOID_PTR data)
{
	g_usleep(2000);
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

/* A program that frees every handle it holds counts 0, though events for its (slow) handler
 * were still queued, each holding a reference, when it freed them. */
static void test_count_after_free(void)
{
	rt_init();
	fake_reset(20);
	for (int round = 0; round < 3; round++) {
		PRL_HANDLE srv = rt_connect_fake(dir, NULL);
		g_assert_cmpint(PrlSrv_RegEventHandler(srv, slow_handler, NULL), ==, PRL_ERR_SUCCESS);
		for (int i = 0; i < 5; i++) {
			PRL_HANDLE res = PRL_INVALID_HANDLE;
			g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
			PrlHandle_Free(res);
		}
		rt_logoff_free(srv);   /* the handler stays registered: deliveries still queued */
		PRL_UINT32 n = 1;
		g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
		g_assert_cmpuint(n, ==, 0);
	}
	rt_deinit_and_check_leaks();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = rt_tmpdir("test-events");
	g_test_add_func("/events/jobs-in-order", test_jobs_in_order);
	g_test_add_func("/events/vm-state", test_vm_state_events);
	g_test_add_func("/events/platform-events", test_platform_events);
	g_test_add_func("/events/unregister", test_unregister);
	g_test_add_func("/events/handler-frees-server", test_handler_frees_server);
	g_test_add_func("/events/resync", test_resync);
	g_test_add_func("/events/count-after-free", test_count_after_free);
	int r = g_test_run();
	g_free(dir);
	return r;
}

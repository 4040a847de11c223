/* Jobs: waiting, cancelling, results and errors, finished error jobs for bad arguments, calls
 * before PrlApi_InitEx, exactly-once completion, Deinit with jobs in flight. */
#include "config.h"

#include <string.h>
#include "rt-test.h"

static char *dir;

static void test_before_init(void)
{
	/* Creating needs init (a code); starting work too (a finished job carrying the code). */
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_API_WASNT_INITIALIZED);
	g_assert_true(srv == PRL_INVALID_HANDLE);
	PRL_HANDLE jobs[] = {
		PrlVm_Start(PRL_INVALID_HANDLE),
		PrlSrv_LoginLocal(PRL_INVALID_HANDLE, NULL, 0, PSL_NORMAL_SECURITY),
		PrlSrv_Connect(PRL_INVALID_HANDLE, "fake:///x", NULL, 0),
		PrlSrv_GetVmList(PRL_INVALID_HANDLE),
		PrlJob_Cancel(PRL_INVALID_HANDLE),
		PrlSrv_GetTaskInfo(PRL_INVALID_HANDLE, "x"),
	};
	/* Those jobs can be read and freed without init (calls on held handles work anytime). */
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		g_assert_true(jobs[i] != PRL_INVALID_HANDLE);
		PRL_JOB_STATUS st = PJS_UNKNOWN;
		g_assert_cmpint(PrlJob_GetStatus(jobs[i], &st), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(st, ==, PJS_FINISHED);
		PRL_HANDLE err = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlJob_GetError(jobs[i], &err), ==, PRL_ERR_SUCCESS);
		PrlHandle_Free(err);
		if (i % 2 == 0)
			g_assert_cmpint(rt_wait(jobs[i], NULL), ==, PRL_ERR_API_WASNT_INITIALIZED);
	}
	rt_init();
	for (guint i = 1; i < G_N_ELEMENTS(jobs); i += 2)
		g_assert_cmpint(rt_wait(jobs[i], NULL), ==, PRL_ERR_API_WASNT_INITIALIZED);
	rt_deinit_and_check_leaks();
}

/* Every async function, given a bad handle, returns a finished job with the right code. */
static void check_bad(PRL_HANDLE job, PRL_RESULT expect, PRL_JOB_OPERATION_CODE op)
{
	PRL_JOB_OPERATION_CODE got = PJOC_UNKNOWN;
	g_assert_true(job != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_GetOpCode(job, &got), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(got, ==, op);
	g_assert_cmpint(PrlJob_Wait(job, 0), ==, PRL_ERR_SUCCESS);   /* finished already */
	g_assert_cmpint(rt_wait(job, NULL), ==, expect);
}

static void check_all_async(PRL_HANDLE h, PRL_RESULT expect)
{
	check_bad(PrlJob_Cancel(h), expect, PJOC_JOB_CANCEL);
	check_bad(PrlSrv_Login(h, "fake:///x", "u", "p", NULL, 0, 0, PSL_NORMAL_SECURITY), expect,
	          PJOC_SRV_LOGIN);
	check_bad(PrlSrv_LoginEx(h, "fake:///x", "u", "p", NULL, 0, 0, PSL_NORMAL_SECURITY, 0),
	          expect, PJOC_SRV_LOGIN);
	check_bad(PrlSrv_LoginLocal(h, NULL, 0, PSL_NORMAL_SECURITY), expect, PJOC_SRV_LOGIN_LOCAL);
	check_bad(PrlSrv_LoginLocalEx(h, NULL, 0, PSL_NORMAL_SECURITY, 0), expect,
	          PJOC_SRV_LOGIN_LOCAL);
	check_bad(PrlSrv_Connect(h, "fake:///x", NULL, 0), expect, PJOC_SRV_CONNECT);
	check_bad(PrlSrv_Logoff(h), expect, PJOC_SRV_LOGOFF);
	check_bad(PrlSrv_GetSrvConfig(h), expect, PJOC_SRV_GET_SRV_CONFIG);
	check_bad(PrlSrv_GetVmList(h), expect, PJOC_SRV_GET_VM_LIST);
	check_bad(PrlSrv_GetVmListEx(h, 0), expect, PJOC_SRV_GET_VM_LIST);
	check_bad(PrlSrv_GetVmConfig(h, "vm-0", 0), expect, PJOC_SRV_GET_VM_CONFIG);
	check_bad(PrlSrv_GetStatistics(h), expect, PJOC_SRV_GET_STATISTICS);
	check_bad(PrlSrv_AttachToLostTask(h, "pk1.x"), expect, PJOC_SRV_ATTACH_TO_LOST_TASK);
	check_bad(PrlSrv_GetTaskInfo(h, "pk1.x"), expect, PJOC_SRV_GET_TASK_INFO);
	check_bad(PrlVm_Start(h), expect, PJOC_VM_START);
	check_bad(PrlVm_StartEx(h, PSM_VM_START, 0), expect, PJOC_VM_START_EX);
	check_bad(PrlVm_Stop(h, PRL_TRUE), expect, PJOC_VM_STOP);
	check_bad(PrlVm_StopEx(h, PSM_KILL, 0), expect, PJOC_VM_STOP);
	check_bad(PrlVm_Pause(h, PRL_FALSE), expect, PJOC_VM_PAUSE);
	check_bad(PrlVm_Suspend(h), expect, PJOC_VM_SUSPEND);
	check_bad(PrlVm_Resume(h), expect, PJOC_VM_START);
	check_bad(PrlVm_Reset(h), expect, PJOC_VM_RESET);
	check_bad(PrlVm_Restart(h), expect, PJOC_VM_RESTART);
	check_bad(PrlVm_GetState(h), expect, PJOC_VM_GET_STATE);
	check_bad(PrlVm_RefreshConfig(h), expect, PJOC_VM_REFRESH_CONFIG);
	check_bad(PrlVm_BeginEdit(h), expect, PJOC_VM_BEGIN_EDIT);
	check_bad(PrlVm_Commit(h), expect, PJOC_VM_COMMIT);
	check_bad(PrlVm_Delete(h, PRL_INVALID_HANDLE), expect, PJOC_VM_DELETE);
	check_bad(PrlVm_Clone(h, "c", "", PRL_FALSE), expect, PJOC_VM_CLONE);
	check_bad(PrlVm_CloneEx(h, "c", "", 0), expect, PJOC_VM_CLONE);
	check_bad(PrlVm_CloneFromSnapshot(h, "c", "s", 0), expect, PJOC_VM_CLONE_FROM_SNAPSHOT);
	check_bad(PrlVm_CreateSnapshot(h, "s", ""), expect, PJOC_VM_CREATE_SNAPSHOT);
	check_bad(PrlVm_ReplaceSnapshot(h, "s", ""), expect, PJOC_VM_CREATE_SNAPSHOT);
	check_bad(PrlVm_SwitchToSnapshot(h, "s"), expect, PJOC_VM_SWITCH_TO_SNAPSHOT);
	check_bad(PrlVm_DeleteSnapshot(h, "s", PRL_FALSE), expect, PJOC_VM_DELETE_SNAPSHOT);
	check_bad(PrlVm_DeleteSnapshotIfExists(h, "s"), expect, PJOC_VM_DELETE_SNAPSHOT);
	check_bad(PrlVm_GetSnapshotsTree(h), expect, PJOC_VM_GET_SNAPSHOTS_TREE);
	check_bad(PrlVm_GetSnapshotsList(h), expect, PJOC_VM_GET_SNAPSHOTS_LIST);
	check_bad(PrlVm_GetStatistics(h), expect, PJOC_VM_GET_STATISTICS);
}

static void test_bad_handles(void)
{
	rt_init();
	check_all_async(PRL_INVALID_HANDLE, PRL_ERR_INVALID_ARG);
	/* a live handle of a type no async function takes */
	PRL_HANDLE list = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlApi_CreateStringsList(&list), ==, PRL_ERR_SUCCESS);
	check_all_async(list, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(list);
	/* a stale handle */
	check_all_async(list, PRL_ERR_INVALID_HANDLE);
	/* garbage */
	check_all_async((PRL_HANDLE)(gsize)0x7fffffff, PRL_ERR_INVALID_HANDLE);
	rt_deinit_and_check_leaks();
}

static void test_bad_arguments(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	/* not connected yet */
	check_bad(PrlSrv_GetVmList(srv), PRL_ERR_NOT_CONNECTED_TO_DISPATCHER, PJOC_SRV_GET_VM_LIST);
	check_bad(PrlSrv_Logoff(srv), PRL_ERR_NOT_CONNECTED_TO_DISPATCHER, PJOC_SRV_LOGOFF);
	check_bad(PrlSrv_GetTaskInfo(srv, "garbage"), PRL_ERR_INVALID_ARG, PJOC_SRV_GET_TASK_INFO);
	check_bad(PrlSrv_Login(srv, "bare-host-name", "u", "p", NULL, 0, 0, PSL_NORMAL_SECURITY),
	          PRL_ERR_INVALID_ARG, PJOC_SRV_LOGIN);
	check_bad(PrlSrv_Connect(srv, NULL, "{\"nested\":{}}", 0), PRL_ERR_INVALID_ARG,
	          PJOC_SRV_CONNECT);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, "nosuchscheme:///x", NULL, 0), NULL), ==,
	                PRL_ERR_INVALID_ARG);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, "nosuchdriver", NULL, 0), NULL), ==,
	                PRL_ERR_INVALID_ARG);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, "fake:///x", "{\"driver\":\"nosuch\"}", 0),
	                        NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, "fake:///x", "{\"fail_open\":true}", 0), NULL),
	                ==, PRL_ERR_AUTHENTICATION_FAILED);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, "fake:///x", "{\"decline\":1}", 0), NULL), ==,
	                PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	PrlHandle_Free(srv);

	srv = rt_connect_fake(dir, NULL);
	/* connected twice */
	char *uri = g_strdup_printf("fake://%s", dir);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, uri, NULL, 0), NULL), ==,
	                PRL_ERR_INVALID_ACTION_REQUESTED);
	g_free(uri);
	check_bad(PrlSrv_GetVmConfig(srv, "", 0), PRL_ERR_INVALID_ARG, PJOC_SRV_GET_VM_CONFIG);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmConfig(srv, "no-such-vm", 0), NULL), ==,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	check_bad(PrlVm_Clone(vm, "", "", PRL_FALSE), PRL_ERR_VM_EMPTY_NAME_OF_CLONE, PJOC_VM_CLONE);
	check_bad(PrlVm_CloneEx(vm, NULL, "", 0), PRL_ERR_VM_EMPTY_NAME_OF_CLONE, PJOC_VM_CLONE);
	check_bad(PrlVm_CreateSnapshot(vm, "", ""), PRL_ERR_INVALID_ARG, PJOC_VM_CREATE_SNAPSHOT);
	check_bad(PrlVm_SwitchToSnapshot(vm, NULL), PRL_ERR_INVALID_ARG, PJOC_VM_SWITCH_TO_SNAPSHOT);
	check_bad(PrlVm_StopEx(vm, 77, 0), PRL_ERR_INVALID_ARG, PJOC_VM_STOP);
	check_bad(PrlVm_StartEx(vm, 0x12345, 0), PRL_ERR_UNIMPLEMENTED, PJOC_VM_START_EX);
	check_bad(PrlVm_Delete(vm, srv), PRL_ERR_INVALID_ARG, PJOC_VM_DELETE);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_wait_timeout_does_not_cancel(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);   /* tasks stay running until we finish them */
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);

	g_assert_cmpint(PrlJob_Wait(job, 20), ==, PRL_ERR_TIMEOUT);
	PRL_JOB_STATUS st = PJS_UNKNOWN;
	g_assert_cmpint(PrlJob_GetStatus(job, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, PJS_RUNNING);
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_OPERATION_PENDING);
	PRL_HANDLE err = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetError(job, &err), ==, PRL_ERR_OPERATION_PENDING);
	PRL_RESULT rc = 0;
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_OPERATION_PENDING);
	g_assert_cmpint(PrlJob_Wait(job, 0), ==, PRL_ERR_TIMEOUT);
	g_assert_cmpuint(fake_cancel_calls(), ==, 0);

	/* the task id is there while the job runs; finishing the task finishes the job */
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlJob_GetTaskId(job, 5000, NULL, &len), ==, PRL_ERR_SUCCESS);
	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_SUCCESS);
	PRL_UINT32 progress = 0;
	g_assert_cmpint(PrlJob_GetProgress(job, &progress), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(progress, ==, 100);
	g_assert_cmpint(PrlJob_GetError(job, &err), ==, PRL_ERR_NO_DATA);
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	PrlHandle_Free(job);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_cancel_blocked_op(void)
{
	rt_init();
	fake_reset(2);
	fake_set_block(TRUE);   /* the driver op blocks until its GCancellable fires */
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_Wait(job, 10), ==, PRL_ERR_TIMEOUT);

	PRL_HANDLE cj = PrlJob_Cancel(job);
	PRL_JOB_OPERATION_CODE op = PJOC_UNKNOWN;
	g_assert_cmpint(PrlJob_GetOpCode(cj, &op), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(op, ==, PJOC_JOB_CANCEL);
	g_assert_cmpint(rt_wait(cj, NULL), ==, PRL_ERR_SUCCESS);

	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE err = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetError(job, &err), ==, PRL_ERR_SUCCESS);
	PRL_RESULT code = 0;
	g_assert_cmpint(PrlEvent_GetErrCode(err, &code), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(code, ==, PRL_ERR_OPERATION_WAS_CANCELED);
	PrlHandle_Free(err);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	/* cancelling a finished job is harmless */
	fake_set_block(FALSE);
	job = PrlVm_GetState(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlJob_Cancel(job), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_cancel_backend_task(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	PRL_UINT32 len = 0;
	/* wait until the platform accepted it: the job now polls its task */
	g_assert_cmpint(PrlJob_GetTaskId(job, 20000, NULL, &len), ==, PRL_ERR_SUCCESS);
	guint before = fake_cancel_calls();
	g_assert_cmpint(rt_wait(PrlJob_Cancel(job), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	g_assert_cmpuint(fake_cancel_calls(), ==, before + 1);   /* reached the platform */
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* A task the platform will not cancel goes on: the job follows it and reports how it really
 * ended, not "cancelled". */
static void test_cancel_refused(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	fake_refuse_cancel(TRUE);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlJob_GetTaskId(job, 20000, NULL, &len), ==, PRL_ERR_SUCCESS);
	guint before = fake_cancel_calls();
	g_assert_cmpint(rt_wait(PrlJob_Cancel(job), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlJob_Wait(job, 100), ==, PRL_ERR_TIMEOUT);   /* still following */
	g_assert_cmpuint(fake_cancel_calls(), ==, before + 1);
	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
	fake_refuse_cancel(FALSE);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* Runs in a child process started with PRLKIT_WORKERS=1 (see main). */
static void cancel_queued_child(void)
{
	/* One worker: a blocked job holds it, the next one waits in the queue. */
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm0 = rt_vm(srv, "vm-0");
	PRL_HANDLE vm1 = rt_vm(srv, "vm-1");
	fake_set_block(TRUE);
	PRL_HANDLE blocked = PrlVm_Start(vm0);
	g_assert_cmpint(PrlJob_Wait(blocked, 20), ==, PRL_ERR_TIMEOUT);
	PRL_HANDLE queued = PrlVm_Start(vm1);
	g_assert_cmpint(rt_wait(PrlJob_Cancel(queued), NULL), ==, PRL_ERR_SUCCESS);
	/* finished at once although the only worker is still busy */
	g_assert_cmpint(PrlJob_Wait(queued, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(queued, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	g_assert_cmpint(PrlJob_Wait(blocked, 0), ==, PRL_ERR_TIMEOUT);
	g_assert_cmpint(rt_wait(PrlJob_Cancel(blocked), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(blocked, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	fake_set_block(FALSE);
	PrlHandle_Free(vm0);
	PrlHandle_Free(vm1);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static const char *self_path;

static void test_cancel_queued(void)
{
	/* g_spawn_sync: no GLib helper thread is left behind (leak checkers stay quiet). */
	const char *argv[] = { self_path, "--child-cancel-queued", NULL };
	char **envp = g_environ_setenv(g_get_environ(), "PRLKIT_WORKERS", "1", TRUE);
	int status = -1;
	GError *error = NULL;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_CHILD_INHERITS_STDIN, NULL,
	                           NULL, NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_strfreev(envp);
}

static void test_failure_error_event(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	fake_fail_next(PRL_ERR_VM_START_FAILED);
	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_VM_START_FAILED);
	PRL_HANDLE err = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetError(job, &err), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE_TYPE type = PHT_ERROR;
	g_assert_cmpint(PrlHandle_GetType(err, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(type, ==, PHT_EVENT);
	PRL_RESULT code = 0;
	g_assert_cmpint(PrlEvent_GetErrCode(err, &code), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(code, ==, PRL_ERR_VM_START_FAILED);
	char buf[256];
	PRL_UINT32 len = sizeof(buf);
	g_assert_cmpint(PrlEvent_GetErrString(err, PRL_FALSE, PRL_FALSE, buf, &len), ==,
	                PRL_ERR_SUCCESS);
	g_assert_nonnull(strstr(buf, "injected failure"));
	PrlHandle_Free(err);
	/* the same outcome on every read */
	for (int i = 0; i < 3; i++) {
		PRL_RESULT rc = 0;
		g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(rc, ==, PRL_ERR_VM_START_FAILED);
	}
	PrlHandle_Free(job);
	/* NULL out-pointers */
	g_assert_cmpint(PrlJob_GetRetCode(vm, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlJob_Wait(vm, 0), ==, PRL_ERR_INVALID_ARG);   /* not a job */
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* Exactly once: every finished job reaches the handler once, and its outcome never changes. */
typedef struct {
	GMutex lock;
	GHashTable *seen;   /* handle value → count */
	guint total;
} once_state;

static PRL_RESULT once_handler(PRL_HANDLE h, PRL_VOID_PTR data)
{
	once_state *s = data;
	PRL_HANDLE_TYPE type = PHT_ERROR;
	PrlHandle_GetType(h, &type);
	if (type == PHT_JOB) {
		g_mutex_lock(&s->lock);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(s->seen, h));
		g_hash_table_insert(s->seen, h, GUINT_TO_POINTER(n + 1));
		s->total++;
		g_mutex_unlock(&s->lock);
	}
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

static void test_exactly_once(void)
{
	rt_init();
	fake_reset(4);
	fake_set_task_mode(2);
	once_state s = { .seen = g_hash_table_new(g_direct_hash, g_direct_equal) };
	g_mutex_init(&s.lock);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, once_handler, &s), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm = rt_vm(srv, "vm-1");
	enum { N = 40 };
	PRL_HANDLE jobs[N];
	for (int i = 0; i < N; i++)
		jobs[i] = i % 2 == 0 ? PrlVm_Start(vm) : PrlVm_Stop(vm, PRL_FALSE);
	for (int i = 0; i < N; i++)
		g_assert_cmpint(PrlJob_Wait(jobs[i], 20000), ==, PRL_ERR_SUCCESS);
	/* The handler's copy arrives after completion; wait for the last ones. */
	for (int tries = 0; tries < 2000; tries++) {
		g_mutex_lock(&s.lock);
		guint total = s.total;
		g_mutex_unlock(&s.lock);
		if (total >= N + 1)   /* + the GetVmConfig job */
			break;
		g_usleep(1000);
	}
	g_mutex_lock(&s.lock);
	for (int i = 0; i < N; i++)
		g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(s.seen, jobs[i])), ==, 1);
	g_mutex_unlock(&s.lock);
	for (int i = 0; i < N; i++)
		PrlHandle_Free(jobs[i]);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, once_handler, &s), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, once_handler, &s), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	g_hash_table_unref(s.seen);
	g_mutex_clear(&s.lock);
}

static void test_deinit_with_job_in_flight(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlJob_GetTaskId(job, 20000, NULL, &len), ==, PRL_ERR_SUCCESS);
	guint cancels = fake_cancel_calls();
	/* Deinit does not wait for a platform task: the job ends, the task goes on. */
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_SUCCESS);
	rt_init();
	g_assert_cmpint(PrlJob_Wait(job, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	g_assert_cmpuint(fake_cancel_calls(), ==, cancels);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc == 2 && g_strcmp0(argv[1], "--child-cancel-queued") == 0) {
		dir = rt_tmpdir("test-jobs-child");
		cancel_queued_child();
		g_free(dir);
		return 0;
	}
	g_test_init(&argc, &argv, NULL);
	dir = rt_tmpdir("test-jobs");
	g_test_add_func("/jobs/before-init", test_before_init);
	g_test_add_func("/jobs/bad-handles", test_bad_handles);
	g_test_add_func("/jobs/bad-arguments", test_bad_arguments);
	g_test_add_func("/jobs/wait-timeout-does-not-cancel", test_wait_timeout_does_not_cancel);
	g_test_add_func("/jobs/cancel-blocked-op", test_cancel_blocked_op);
	g_test_add_func("/jobs/cancel-backend-task", test_cancel_backend_task);
	g_test_add_func("/jobs/cancel-refused", test_cancel_refused);
	g_test_add_func("/jobs/cancel-queued", test_cancel_queued);
	g_test_add_func("/jobs/failure-error-event", test_failure_error_event);
	g_test_add_func("/jobs/exactly-once", test_exactly_once);
	g_test_add_func("/jobs/deinit-with-job-in-flight", test_deinit_with_job_in_flight);
	int r = g_test_run();
	g_free(dir);
	return r;
}

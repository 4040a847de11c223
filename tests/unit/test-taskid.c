/* Task ids: encode/decode, rejection of garbage, no secrets inside, and resolution from
 * another process (this binary started again as a child). */
#include "config.h"

#include <string.h>
#include "rt-test.h"
#include "core-error.h"
#include "core-task.h"
#include "driver.h"

static char *dir;
static char *fake_uri;
static const char *self_path;

/* ---------------------------------------------------------------- child ---- */

/* --child-info URI ID  → "<state> <retcode> <vm id|-> <result params>"
 * --child-attach URI ID → "<retcode>" */
static int child_main(const char *mode, const char *uri, const char *id)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, uri, NULL, 0), NULL), ==, PRL_ERR_SUCCESS);
	if (strcmp(mode, "--child-attach") == 0) {
		PRL_RESULT rc = rt_wait(PrlSrv_AttachToLostTask(srv, id), NULL);
		g_print("%d\n", rc);
	} else {
		PRL_HANDLE task = rt_wait_param(PrlSrv_GetTaskInfo(srv, id));
		PRL_JOB_STATUS st = PJS_UNKNOWN;
		PRL_RESULT rc = 0;
		g_assert_cmpint(PrlRunningTask_GetState(task, &st), ==, PRL_ERR_SUCCESS);
		PRL_RESULT r = PrlRunningTask_GetRetCode(task, &rc);
		if (st == PJS_RUNNING)
			g_assert_cmpint(r, ==, PRL_ERR_OPERATION_PENDING);
		char vm[128] = "-";
		PRL_UINT32 len = sizeof(vm);
		if (PrlRunningTask_GetVmId(task, vm, &len) != PRL_ERR_SUCCESS)
			strcpy(vm, "-");
		PRL_UINT32 n = 0;
		PRL_HANDLE res = PRL_INVALID_HANDLE;
		if (PrlRunningTask_GetResult(task, &res) == PRL_ERR_SUCCESS) {
			PrlResult_GetParamsCount(res, &n);
			PrlHandle_Free(res);
		}
		char *tid = rt_string(PrlRunningTask_GetTaskUuid, task);
		g_assert_cmpstr(tid, ==, id);
		g_free(tid);
		g_print("%s %d %s %u\n", st == PJS_FINISHED ? "finished" : "running",
		        st == PJS_FINISHED ? rc : 0, vm, n);
		PrlHandle_Free(task);
	}
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	return 0;
}

/* Run this binary as a child; its stdout (trimmed). */
static char *run_child(const char *mode, const char *uri, const char *id)
{
	const char *argv[] = { self_path, mode, uri, id, NULL };
	char *out = NULL;
	int status = -1;
	GError *error = NULL;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
	                           NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	return g_strstrip(out);
}

/* ------------------------------------------------------------- encoding ---- */

static pk_task_info *full_info(void)
{
	pk_task_info *t = pk_task_info_new();
	t->driver = g_strdup("fake");
	t->conn = g_strdup("fake:///tmp/x");
	t->op = PJOC_VM_CLONE;
	t->vm_id = g_strdup("vm-0");
	t->task_ref = g_strdup("UPID:pve1:0000A1B2:00C0FFEE:65000000:qmclone:101:root@pam:");
	t->target_vm_id = g_strdup("clone-7");
	t->finished = TRUE;
	t->code = PRL_ERR_VM_CANT_CLONE_RUNNING;
	t->message = g_strdup("a \"quoted\" message with ünïcödé");
	return t;
}

static void test_round_trip(void)
{
	pk_task_info *t = full_info();
	char *id = pk_task_id_encode(t);
	g_assert_true(g_str_has_prefix(id, "pk1."));
	for (const char *p = id + 4; *p; p++)
		g_assert_true(g_ascii_isalnum(*p) || *p == '-' || *p == '_');
	pk_task_info *back = NULL;
	GError *error = NULL;
	g_assert_true(pk_task_id_decode(id, &back, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(back->driver, ==, t->driver);
	g_assert_cmpstr(back->conn, ==, t->conn);
	g_assert_cmpint(back->op, ==, t->op);
	g_assert_cmpstr(back->vm_id, ==, t->vm_id);
	g_assert_cmpstr(back->task_ref, ==, t->task_ref);
	g_assert_cmpstr(back->target_vm_id, ==, t->target_vm_id);
	g_assert_true(back->finished);
	g_assert_cmpint(back->code, ==, t->code);
	g_assert_cmpstr(back->message, ==, t->message);
	pk_task_info_free(back);
	g_free(id);

	/* minimal: a running task */
	pk_task_info *m = pk_task_info_new();
	m->driver = g_strdup("sim");
	m->op = PJOC_VM_START;
	m->task_ref = g_strdup("sim-task-1");
	id = pk_task_id_encode(m);
	g_assert_true(pk_task_id_decode(id, &back, NULL));
	g_assert_false(back->finished);
	g_assert_null(back->vm_id);
	g_assert_null(back->conn);
	g_assert_cmpstr(back->task_ref, ==, "sim-task-1");
	pk_task_info_free(back);
	g_free(id);
	pk_task_info_free(m);
	pk_task_info_free(t);
	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

static char *b64url(const char *json)
{
	char *b = g_base64_encode((const guchar *)json, strlen(json));
	for (char *p = b; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	char *eq = strchr(b, '=');
	if (eq != NULL)
		*eq = '\0';
	char *id = g_strconcat("pk1.", b, NULL);
	g_free(b);
	return id;
}

static void assert_rejected(const char *id)
{
	pk_task_info *t = NULL;
	GError *error = NULL;
	g_assert_false(pk_task_id_decode(id, &t, &error));
	g_assert_null(t);
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_ARG);
	g_error_free(error);
}

static void test_garbage(void)
{
	static const char *const bad[] = {
		"", "pk1.", "pk1", "pk2.eyJkIjoic2ltIn0", "PK1.eyJ9", "pk1.!!!!", "pk1.a", "pk1.====",
		"pk1.eyJkIjoic2ltIiwibyI6NDIsInIiOiJ4In0=", /* padding is not base64url */
		"hello", "pk1.eyJkIjoic2ltIiwi\nbyI6NDJ9", "pk1.%2F%2F",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_rejected(bad[i]);
	assert_rejected(NULL);

	static const char *const bad_json[] = {
		"[]", "{}", "\"x\"", "42", "null", "{\"d\":1,\"o\":1,\"r\":\"x\"}",
		"{\"d\":\"sim\",\"o\":\"42\",\"r\":\"x\"}", "{\"d\":\"sim\",\"o\":42}",
		"{\"d\":\"sim\",\"o\":-1,\"r\":\"x\"}", "{\"d\":\"sim\",\"o\":42,\"r\":\"x\",\"zz\":1}",
		"{\"d\":\"sim\",\"o\":42,\"r\":\"a\\u0001b\"}", "{\"d\":\"sim\",\"o\":42,\"x\":[]}",
		"{\"d\":\"sim\",\"o\":42,\"x\":{\"c\":\"1\"}}", "{\"d\":\"sim\",\"o\":42,\"x\":{\"c\":1,\"q\":2}}",
		"{\"d\":\"sim\",\"o\":42,\"x\":{\"c\":99999999999}}", "{\"d\":\"sim\",\"o\":42,\"r\":\"\"}",
		"{\"d\":\"sim\",\"o\":42,\"r\":\"x\",\"r\":\"y\"}", "{\"d\":\"sim\",\"o\":1.5,\"r\":\"x\"}",
		"{\"d\":\"sim\",\"o\":42,\"r\":\"a\\u0000b\"}", "{\"d\":\"sim\",\"o\":42,\"r\":\"x\"} trailing",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad_json); i++) {
		char *id = b64url(bad_json[i]);
		assert_rejected(id);
		g_free(id);
	}

	/* every proper prefix of a valid id is rejected */
	pk_task_info *t = full_info();
	char *id = pk_task_id_encode(t);
	pk_task_info_free(t);
	for (gsize n = 0; n < strlen(id); n++) {
		char *cut = g_strndup(id, n);
		assert_rejected(cut);
		g_free(cut);
	}
	g_free(id);

	/* too long */
	char *big = g_strnfill(PK_TASK_ID_MAX_LEN + 10, 'A');
	memcpy(big, "pk1.", 4);
	assert_rejected(big);
	g_free(big);

	/* random strings never crash (and never decode: no valid JSON by chance) */
	GRand *rnd = g_rand_new_with_seed(42);
	for (int i = 0; i < 3000; i++) {
		gsize n = (gsize)g_rand_int_range(rnd, 0, 200);
		char *s = g_malloc(n + 5);
		memcpy(s, "pk1.", 4);
		for (gsize k = 4; k < n + 4; k++)
			s[k] = (char)g_rand_int_range(rnd, 1, 256);
		s[n + 4] = '\0';
		pk_task_info *out = NULL;
		GError *error = NULL;
		if (pk_task_id_decode(i % 2 ? s : s + 4, &out, &error))
			pk_task_info_free(out);
		else
			g_error_free(error);
		g_free(s);
	}
	g_rand_free(rnd);
	PRL_UINT32 live = 1;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&live, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live, ==, 0);
}

/* ---------------------------------------------------------------- API ---- */

static char *job_task_id(PRL_HANDLE job, guint32 timeout)
{
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlJob_GetTaskId(job, timeout, NULL, &len), ==, PRL_ERR_SUCCESS);
	char *id = g_malloc(len);
	g_assert_cmpint(PrlJob_GetTaskId(job, 0, id, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(strlen(id) + 1, ==, len);
	return id;
}

static char *decoded_json(const char *id)
{
	GString *s = g_string_new(id + 4);
	for (gsize i = 0; i < s->len; i++)
		s->str[i] = s->str[i] == '-' ? '+' : s->str[i] == '_' ? '/' : s->str[i];
	while (s->len % 4)
		g_string_append_c(s, '=');
	gsize n = 0;
	guchar *raw = g_base64_decode(s->str, &n);
	g_string_free(s, TRUE);
	char *text = g_strndup((char *)raw, n);
	g_free(raw);
	return text;
}

static void test_api_garbage(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	const char *garbage[] = { "", "garbage", "pk1.", "pk1.e30", "pk9.abc" };
	for (guint i = 0; i < G_N_ELEMENTS(garbage); i++) {
		g_assert_cmpint(rt_wait(PrlSrv_GetTaskInfo(srv, garbage[i]), NULL), ==,
		                PRL_ERR_INVALID_ARG);
		g_assert_cmpint(rt_wait(PrlSrv_AttachToLostTask(srv, garbage[i]), NULL), ==,
		                PRL_ERR_INVALID_ARG);
	}
	g_assert_cmpint(rt_wait(PrlSrv_GetTaskInfo(srv, NULL), NULL), ==, PRL_ERR_INVALID_ARG);

	/* well-formed, but not ours: another driver, or a task the platform does not know */
	pk_task_info *t = pk_task_info_new();
	t->driver = g_strdup("pve");
	t->task_ref = g_strdup("UPID:x");
	char *id = pk_task_id_encode(t);
	g_assert_cmpint(rt_wait(PrlSrv_GetTaskInfo(srv, id), NULL), ==, PRL_ERR_TASK_NOT_FOUND);
	g_free(id);
	g_free(t->driver);
	t->driver = g_strdup("fake");
	g_free(t->task_ref);
	t->task_ref = g_strdup("fake-task-does-not-exist");
	id = pk_task_id_encode(t);
	g_assert_cmpint(rt_wait(PrlSrv_GetTaskInfo(srv, id), NULL), ==, PRL_ERR_TASK_NOT_FOUND);
	g_assert_cmpint(rt_wait(PrlSrv_AttachToLostTask(srv, id), NULL), ==, PRL_ERR_TASK_NOT_FOUND);
	g_free(id);
	pk_task_info_free(t);

	/* not accepted in time: PRL_ERR_TIMEOUT, the job goes on */
	fake_set_block(TRUE);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlJob_GetTaskId(job, 10, NULL, &len), ==, PRL_ERR_TIMEOUT);
	g_assert_cmpint(PrlJob_GetTaskId(job, 10, NULL, NULL), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(PrlJob_Cancel(job));
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);
	fake_set_block(FALSE);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_no_secrets(void)
{
	rt_init();
	fake_reset(2);
	static const char pw_json[] = "Sup3r-S3cret-json";
	static const char token[] = "t0k3n-s3cr3t-value";
	static const char pw_uri[] = "Pa55w0rd-in-uri";
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	char *uri = g_strdup_printf("fake://admin:%s@%s", pw_uri, dir);
	char *settings = g_strdup_printf("{\"password\":\"%s\",\"token_secret\":\"%s\"}", pw_json,
	                                 token);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, uri, settings, 0), NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");

	/* a failure whose platform message echoes the password */
	fake_fail_next(PRL_ERR_VM_START_FAILED);
	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	char *id = job_task_id(job, 0);
	char *json = decoded_json(id);
	g_assert_null(strstr(json, pw_json));
	g_assert_null(strstr(json, pw_uri));
	g_assert_null(strstr(json, token));
	g_assert_null(strstr(json, "admin"));
	g_assert_nonnull(strstr(json, "injected failure"));   /* the rest of the message stays */
	PRL_HANDLE err = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetError(job, &err), ==, PRL_ERR_SUCCESS);
	char msg[512];
	PRL_UINT32 len = sizeof(msg);
	g_assert_cmpint(PrlEvent_GetErrString(err, PRL_FALSE, PRL_FALSE, msg, &len), ==,
	                PRL_ERR_SUCCESS);
	g_assert_null(strstr(msg, pw_json));
	PrlHandle_Free(err);
	g_free(json);
	g_free(id);
	PrlHandle_Free(job);

	/* a running task: the connection identity has no credentials */
	fake_set_task_mode(-1);
	job = PrlVm_Start(vm);
	id = job_task_id(job, 20000);
	json = decoded_json(id);
	g_assert_null(strstr(json, pw_uri));
	g_assert_null(strstr(json, "admin"));
	g_assert_nonnull(strstr(json, "fake-task-"));
	g_free(json);
	g_free(id);
	PrlHandle_Free(PrlJob_Cancel(job));
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_OPERATION_WAS_CANCELED);

	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	g_free(uri);
	g_free(settings);
	rt_deinit_and_check_leaks();
}

static void test_cross_process_running_then_finished(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	char *id = job_task_id(job, 20000);
	char *again = job_task_id(job, 0);
	g_assert_cmpstr(id, ==, again);   /* one id per job */
	g_free(again);

	char *out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, "running 0 vm-0 0");
	g_free(out);

	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, "finished 0 vm-0 0");
	g_free(out);
	out = run_child("--child-attach", fake_uri, id);
	g_assert_cmpstr(out, ==, "0");
	g_free(out);

	/* here too, the same id even after the job finished */
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	again = job_task_id(job, 0);
	g_assert_cmpstr(id, ==, again);
	g_free(again);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
	g_free(id);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_cross_process_clone(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "tpl");
	PRL_HANDLE job = PrlVm_CloneFromSnapshot(vm, "host-1", "v1", PCVF_LINKED_CLONE);
	char *id = job_task_id(job, 20000);
	char *clone_id = rt_string(PrlJob_GetVmId, job);
	g_assert_cmpstr(clone_id, ==, "clone-1");

	char *out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, "running 0 clone-1 0");
	g_free(out);
	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	/* The child's fake inventory has no clone-1 (it lives in our memory), as if it had been
	 * deleted since: the task still completed and still names it (a handle with its id). */
	out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, "finished 0 clone-1 1");
	g_free(out);

	/* here the clone exists: the result param is its handle */
	PRL_HANDLE res = PRL_INVALID_HANDLE, clone = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(job, &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(res, &clone), ==, PRL_ERR_SUCCESS);
	char *name = rt_string(PrlVmCfg_GetName, clone);
	g_assert_cmpstr(name, ==, "host-1");
	g_free(name);
	PrlHandle_Free(clone);
	PrlHandle_Free(res);

	/* GetTaskInfo here also gives the clone */
	PRL_HANDLE task = rt_wait_param(PrlSrv_GetTaskInfo(srv, id));
	PRL_HANDLE tres = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlRunningTask_GetResult(task, &tres), ==, PRL_ERR_SUCCESS);
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlResult_GetParamsCount(tres, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1);
	PrlHandle_Free(tres);
	PrlHandle_Free(task);
	g_free(clone_id);
	g_free(id);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

static void test_cross_process_finished_outcome(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	fake_fail_next(PRL_ERR_VM_START_FAILED);
	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	char *id = job_task_id(job, 0);
	pk_task_info *t = NULL;
	g_assert_true(pk_task_id_decode(id, &t, NULL));
	g_assert_true(t->finished);
	g_assert_cmpint(t->code, ==, PRL_ERR_VM_START_FAILED);
	g_assert_cmpstr(t->driver, ==, "fake");
	g_assert_cmpint(t->op, ==, PJOC_VM_START);
	g_assert_cmpstr(t->vm_id, ==, "vm-0");
	pk_task_info_free(t);

	char *expect = g_strdup_printf("finished %d vm-0 0", PRL_ERR_VM_START_FAILED);
	char *out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, expect);
	g_free(out);
	g_free(expect);
	expect = g_strdup_printf("%d", PRL_ERR_VM_START_FAILED);
	out = run_child("--child-attach", fake_uri, id);
	g_assert_cmpstr(out, ==, expect);
	g_free(out);
	g_free(expect);

	/* an argument error job (no driver involved) resolves on any connection */
	PRL_HANDLE bad = PrlVm_Start(PRL_INVALID_HANDLE);
	char *bad_id = job_task_id(bad, 0);
	PrlHandle_Free(bad);
	expect = g_strdup_printf("finished %d - 0", PRL_ERR_INVALID_ARG);
	out = run_child("--child-info", fake_uri, bad_id);
	g_assert_cmpstr(out, ==, expect);
	g_free(out);
	g_free(expect);
	g_free(bad_id);

	g_free(id);
	PrlHandle_Free(job);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* Reading a task's status can fail without the task failing: the job reads again; when it
 * gives up, its task id carries no outcome and still resolves from the platform. */
/* Waits for job (kept) and returns its code. */
static PRL_RESULT job_code(PRL_HANDLE job)
{
	PRL_RESULT rc = PRL_ERR_UNINITIALIZED;
	g_assert_cmpint(PrlJob_Wait(job, 30000), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	return rc;
}

static void test_status_read_failures(void)
{
	rt_init();
	fake_reset(2);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");

	/* Two failed reads, then the task is seen finishing: the job succeeds. */
	fake_set_task_mode(3);
	fake_fail_status(2, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	PRL_HANDLE job = PrlVm_Start(vm);
	g_assert_cmpint(job_code(job), ==, PRL_ERR_SUCCESS);
	char *id = job_task_id(job, 0);
	pk_task_info *t = NULL;
	g_assert_true(pk_task_id_decode(id, &t, NULL));
	g_assert_true(t->finished);
	g_assert_cmpint(t->code, ==, PRL_ERR_SUCCESS);
	pk_task_info_free(t);
	g_free(id);
	PrlHandle_Free(job);

	/* Reads keep failing: the job gives up, the id does not claim the task failed. */
	fake_set_task_mode(-1);
	fake_fail_status(1000, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	guint before = fake_status_calls();
	job = PrlVm_Stop(vm, PRL_FALSE);
	g_assert_cmpint(job_code(job), ==, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	g_assert_cmpuint(fake_status_calls() - before, >, 1);
	id = job_task_id(job, 0);
	g_assert_true(pk_task_id_decode(id, &t, NULL));
	g_assert_false(t->finished);
	pk_task_info_free(t);
	fake_fail_status(0, 0);
	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	char *out = run_child("--child-info", fake_uri, id);
	g_assert_cmpstr(out, ==, "finished 0 vm-0 0");
	g_free(out);
	g_free(id);
	PrlHandle_Free(job);

	/* A task the platform does not know ends the job at once. */
	fake_set_task_mode(-1);
	fake_fail_status(1000, PRL_ERR_TASK_NOT_FOUND);
	before = fake_status_calls();
	job = PrlVm_Start(vm);
	g_assert_cmpint(job_code(job), ==, PRL_ERR_TASK_NOT_FOUND);
	g_assert_cmpuint(fake_status_calls() - before, ==, 1);
	fake_fail_status(0, 0);
	PrlHandle_Free(job);

	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* Logging off while a job follows a platform task: the job ends (not connected), its task
 * id carries no outcome, and a new connection learns how the task really ended. */
static void test_logoff_while_following(void)
{
	rt_init();
	fake_reset(2);
	fake_set_task_mode(-1);
	PRL_HANDLE srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	PRL_HANDLE job = PrlVm_Start(vm);
	char *id = job_task_id(job, 20000);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	g_assert_cmpint(job_code(job), ==, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER);
	char *again = job_task_id(job, 0);
	g_assert_cmpstr(again, ==, id);
	g_free(again);
	pk_task_info *t = NULL;
	g_assert_true(pk_task_id_decode(id, &t, NULL));
	g_assert_false(t->finished);
	pk_task_info_free(t);
	PrlHandle_Free(job);

	char *ref = fake_last_task();
	fake_task_finish(dir, ref, PRL_ERR_SUCCESS, NULL);
	g_free(ref);
	srv = rt_connect_fake(dir, NULL);
	PRL_HANDLE task = rt_wait_param(PrlSrv_GetTaskInfo(srv, id));
	PRL_JOB_STATUS st = PJS_UNKNOWN;
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	g_assert_cmpint(PrlRunningTask_GetState(task, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, PJS_FINISHED);
	g_assert_cmpint(PrlRunningTask_GetRetCode(task, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(task);
	g_free(id);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
}

/* The sim driver keeps its tasks in its state directory: resolve one in a child. */
static void test_sim_cross_process(void)
{
	if (pk_driver_lookup("sim") == NULL) {
		g_test_skip("the sim driver is not built in");
		return;
	}
	char *state = rt_tmpdir("test-taskid-sim");
	char *uri = g_strdup_printf("sim://%s?speed=0", state);
	rt_init();
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, uri, NULL, 0), NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlResult_GetParamsCount(res, &n), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm = PRL_INVALID_HANDLE;
	for (PRL_UINT32 i = 0; i < n && vm == PRL_INVALID_HANDLE; i++) {
		PRL_HANDLE v = PRL_INVALID_HANDLE, info = PRL_INVALID_HANDLE;
		PRL_BOOL tpl = PRL_TRUE;
		VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &v), ==, PRL_ERR_SUCCESS);
		PrlVmCfg_IsTemplate(v, &tpl);
		PrlVmCfg_GetVmInfo(v, &info);
		PrlVmInfo_GetState(info, &st);
		PrlHandle_Free(info);
		if (!tpl && st == VMS_STOPPED)
			vm = v;
		else
			PrlHandle_Free(v);
	}
	PrlHandle_Free(res);
	g_assert_true(vm != PRL_INVALID_HANDLE);
	char *vm_id = rt_string(PrlVmCfg_GetUuid, vm);

	PRL_HANDLE job = PrlVm_Start(vm);
	char *id = job_task_id(job, 20000);
	g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
	char *out = run_child("--child-info", uri, id);
	char *expect = g_strdup_printf("finished 0 %s 0", vm_id);
	g_assert_cmpstr(out, ==, expect);
	g_free(expect);
	g_free(out);

	g_assert_cmpint(rt_wait(PrlVm_Stop(vm, PRL_FALSE), NULL), ==, PRL_ERR_SUCCESS);
	g_free(id);
	g_free(vm_id);
	PrlHandle_Free(vm);
	rt_logoff_free(srv);
	rt_deinit_and_check_leaks();
	g_free(uri);
	g_free(state);
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc == 4 && g_str_has_prefix(argv[1], "--child-"))
		return child_main(argv[1], argv[2], argv[3]);
	g_test_init(&argc, &argv, NULL);
	dir = rt_tmpdir("test-taskid");
	fake_uri = g_strdup_printf("fake://%s", dir);
	g_test_add_func("/taskid/round-trip", test_round_trip);
	g_test_add_func("/taskid/garbage", test_garbage);
	g_test_add_func("/taskid/api-garbage", test_api_garbage);
	g_test_add_func("/taskid/no-secrets", test_no_secrets);
	g_test_add_func("/taskid/cross-process/running-then-finished",
	                test_cross_process_running_then_finished);
	g_test_add_func("/taskid/cross-process/clone", test_cross_process_clone);
	g_test_add_func("/taskid/cross-process/finished-outcome",
	                test_cross_process_finished_outcome);
	g_test_add_func("/taskid/cross-process/sim", test_sim_cross_process);
	g_test_add_func("/taskid/status-read-failures", test_status_read_failures);
	g_test_add_func("/taskid/logoff-while-following", test_logoff_while_following);
	int r = g_test_run();
	g_free(fake_uri);
	g_free(dir);
	return r;
}

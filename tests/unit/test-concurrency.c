/* Many threads × many jobs on shared handles: every job finishes, nothing leaks, nothing
 * deadlocks (run it in a loop to hunt races: `for i in $(seq 20); do ...; done`). */
#include "config.h"

#include "rt-test.h"

#define THREADS 8
#define JOBS 150

static char *dir;

typedef struct {
	PRL_HANDLE srv;
	PRL_HANDLE vms[4];
	guint seed;
	gint events;      /* atomic: handler calls */
} shared;

static PRL_RESULT count_handler(PRL_HANDLE h, PRL_VOID_PTR data)
{
	shared *s = data;
	g_atomic_int_inc(&s->events);
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

static gpointer worker(gpointer data)
{
	shared *s = data;
	GRand *rnd = g_rand_new_with_seed(g_atomic_int_add(&s->seed, 1));
	PRL_HANDLE pending[8] = { 0 };
	for (int i = 0; i < JOBS; i++) {
		PRL_HANDLE vm = s->vms[g_rand_int_range(rnd, 0, 4)];
		PRL_HANDLE job;
		switch (g_rand_int_range(rnd, 0, 9)) {
		case 0: job = PrlVm_Start(vm); break;
		case 1: job = PrlVm_Stop(vm, PRL_FALSE); break;
		case 2: job = PrlVm_GetState(vm); break;
		case 3: job = PrlSrv_GetVmList(s->srv); break;
		case 4: job = PrlVm_GetSnapshotsList(vm); break;
		case 5: job = PrlVm_RefreshConfig(vm); break;
		case 6: job = PrlSrv_GetVmConfig(s->srv, "vm-2", 0); break;
		case 7: job = PrlVm_Pause(vm, PRL_FALSE); break;
		default: job = PrlSrv_GetSrvConfig(s->srv); break;
		}
		g_assert_true(job != PRL_INVALID_HANDLE);
		/* Some are cancelled, some waited at once, some later, some freed unwaited. */
		int slot = i % G_N_ELEMENTS(pending);
		switch (g_rand_int_range(rnd, 0, 4)) {
		case 0:
			PrlHandle_Free(PrlJob_Cancel(job));
			/* fall through */
		case 1:
			g_assert_cmpint(PrlJob_Wait(job, 60000), ==, PRL_ERR_SUCCESS);
			PrlHandle_Free(job);
			break;
		case 2:
			if (pending[slot] != PRL_INVALID_HANDLE) {
				g_assert_cmpint(PrlJob_Wait(pending[slot], 60000), ==, PRL_ERR_SUCCESS);
				PrlHandle_Free(pending[slot]);
			}
			pending[slot] = job;
			break;
		default:
			PrlHandle_Free(job);   /* the job goes on without us */
			break;
		}
		/* Config reads and edits race with the refreshes above. */
		char name[64];
		PRL_UINT32 len = sizeof(name);
		g_assert_cmpint(PrlVmCfg_GetName(vm, name, &len), ==, PRL_ERR_SUCCESS);
	}
	for (guint i = 0; i < G_N_ELEMENTS(pending); i++)
		if (pending[i] != PRL_INVALID_HANDLE) {
			g_assert_cmpint(PrlJob_Wait(pending[i], 60000), ==, PRL_ERR_SUCCESS);
			PrlHandle_Free(pending[i]);
		}
	g_rand_free(rnd);
	return NULL;
}

static void run_threads(shared *s)
{
	GThread *t[THREADS];
	for (int i = 0; i < THREADS; i++)
		t[i] = g_thread_new("test-worker", worker, s);
	for (int i = 0; i < THREADS; i++)
		g_thread_join(t[i]);
}

static void test_many_jobs(gconstpointer task_mode)
{
	rt_init();
	fake_reset(4);
	fake_set_task_mode(GPOINTER_TO_INT(task_mode));
	shared s = { .seed = 1 };
	s.srv = rt_connect_fake(dir, NULL);
	g_assert_cmpint(PrlSrv_RegEventHandler(s.srv, count_handler, &s), ==, PRL_ERR_SUCCESS);
	for (int i = 0; i < 4; i++) {
		char id[16];
		g_snprintf(id, sizeof(id), "vm-%d", i);
		s.vms[i] = rt_vm(s.srv, id);
		g_assert_cmpint(PrlVm_RegEventHandler(s.vms[i], count_handler, &s), ==, PRL_ERR_SUCCESS);
	}
	run_threads(&s);
	for (int i = 0; i < 4; i++)
		PrlHandle_Free(s.vms[i]);
	rt_logoff_free(s.srv);
	rt_deinit_and_check_leaks();   /* also: jobs freed unwaited have finished */
	g_assert_cmpint(g_atomic_int_get(&s.events), >, 0);
}

/* Servers created, connected, used and dropped from many threads at once. */
static gpointer churn(gpointer data)
{
	for (int i = 0; i < 20; i++) {
		PRL_HANDLE srv = rt_connect_fake(dir, NULL);
		PRL_HANDLE job = PrlSrv_GetVmList(srv);
		if (i % 2 == 0)
			g_assert_cmpint(rt_wait(job, NULL), ==, PRL_ERR_SUCCESS);
		else
			PrlHandle_Free(job);
		if (i % 3 == 0)
			rt_logoff_free(srv);
		else
			PrlHandle_Free(srv);   /* closed on a worker once its jobs are done */
	}
	return NULL;
}

static void test_server_churn(void)
{
	rt_init();
	fake_reset(4);
	GThread *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = g_thread_new("test-churn", churn, NULL);
	for (int i = 0; i < 4; i++)
		g_thread_join(t[i]);
	rt_deinit_and_check_leaks();
	g_assert_cmpuint(fake_open_count(), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = rt_tmpdir("test-concurrency");
	g_test_add_data_func("/concurrency/many-jobs/sync", GINT_TO_POINTER(0), test_many_jobs);
	g_test_add_data_func("/concurrency/many-jobs/tasks", GINT_TO_POINTER(2), test_many_jobs);
	g_test_add_func("/concurrency/server-churn", test_server_churn);
	int r = g_test_run();
	g_free(dir);
	return r;
}

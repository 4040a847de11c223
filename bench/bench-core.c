/* prlkit core benchmarks: the cost of the handle table, of a job round trip, of listing a
 * large inventory and of changing one VM in it, on the simulator at speed 0 (no simulated
 * delays).
 *
 *   bench-core [--quick] [--only NAME] [--vms N] [--seed SPEC]
 *
 * Prints one JSON object per benchmark on stdout:
 *   {"name":"job_round_trip","n":20000,"median":4.1,"p99":9.7,"unit":"us"}
 * Progress and errors go to stderr. It measures, it never judges: targets live in
 * doc/performance.md. Uses only the public API. MIT license. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <prlkit/Parallels.h>

#define JOB_TIMEOUT_MS 600000u

struct options {
	int quick;
	const char *only;      /* run just this benchmark, or all */
	unsigned vms;          /* inventory size for the list benchmarks */
	const char *seed;      /* sim seed spec; NULL = "empty+<vms>" */
};

struct samples {
	double *v;
	size_t n;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts the samples, prints one JSON line; scale converts nanoseconds to unit. */
static void report(const char *name, struct samples *s, double scale, const char *unit)
{
	double median, p99;
	size_t i99;

	qsort(s->v, s->n, sizeof(double), cmp_double);
	median = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	i99 = (size_t)((double)s->n * 0.99 + 0.999999);
	if (i99 > 0)
		i99--;
	if (i99 >= s->n)
		i99 = s->n - 1;
	p99 = s->v[i99];
	printf("{\"name\":\"%s\",\"n\":%zu,\"median\":%.3f,\"p99\":%.3f,\"unit\":\"%s\"}\n", name,
	       s->n, median / scale, p99 / scale, unit);
	fflush(stdout);
}

static int samples_init(struct samples *s, size_t n)
{
	s->n = n;
	s->v = calloc(n, sizeof(double));
	if (s->v == NULL) {
		fprintf(stderr, "bench-core: out of memory\n");
		return -1;
	}
	return 0;
}

static void fail(const char *what, PRL_RESULT rc)
{
	fprintf(stderr, "bench-core: %s failed: %s (0x%08x)\n", what, prl_result_to_string(rc),
	        (unsigned)rc);
}

/* Wait for a job; returns its result code (and frees it unless phJob keeps it). */
static PRL_RESULT wait_job(PRL_HANDLE hJob, const char *what, PRL_HANDLE_PTR phResult)
{
	PRL_RESULT ret, rc = PRL_ERR_FAILURE;

	ret = PrlJob_Wait(hJob, JOB_TIMEOUT_MS);
	if (PRL_SUCCEEDED(ret))
		ret = PrlJob_GetRetCode(hJob, &rc);
	if (PRL_SUCCEEDED(ret))
		ret = rc;
	if (PRL_SUCCEEDED(ret) && phResult != NULL)
		ret = PrlJob_GetResult(hJob, phResult);
	PrlHandle_Free(hJob);
	if (PRL_FAILED(ret))
		fail(what, ret);
	return ret;
}

/* ---- handles ---- */

/* Handle operations take tens of nanoseconds: time batches and report per operation. */
#define HANDLE_BATCH 100

static int bench_handle_create_free(const struct options *o)
{
	struct samples s;
	size_t i, j, n = o->quick ? 200 : 5000;
	PRL_HANDLE h[HANDLE_BATCH];
	double t0;

	if (samples_init(&s, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		for (j = 0; j < HANDLE_BATCH; j++)
			if (PRL_FAILED(PrlApi_CreateStringsList(&h[j])))
				h[j] = PRL_INVALID_HANDLE;
		for (j = 0; j < HANDLE_BATCH; j++)
			PrlHandle_Free(h[j]);
		s.v[i] = (now_ns() - t0) / HANDLE_BATCH;
		if (h[0] == PRL_INVALID_HANDLE) {
			fail("PrlApi_CreateStringsList", PRL_ERR_FAILURE);
			free(s.v);
			return -1;
		}
	}
	report("handle_create_free", &s, 1.0, "ns");
	free(s.v);
	return 0;
}

static int bench_handle_addref_free(const struct options *o)
{
	struct samples s;
	size_t i, j, n = o->quick ? 200 : 5000;
	PRL_HANDLE h;
	double t0;

	if (PRL_FAILED(PrlApi_CreateStringsList(&h)) || samples_init(&s, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		for (j = 0; j < HANDLE_BATCH; j++) {
			PrlHandle_AddRef(h);
			PrlHandle_Free(h);
		}
		s.v[i] = (now_ns() - t0) / HANDLE_BATCH;
	}
	PrlHandle_Free(h);
	report("handle_addref_free", &s, 1.0, "ns");
	free(s.v);
	return 0;
}

/* ---- the simulator ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* A fresh sim state directory under $TMPDIR; removed by remove_state(). */
static char *make_state_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	dir = malloc(strlen(tmp) + 32);
	if (dir == NULL)
		return NULL;
	sprintf(dir, "%s/prlkit-bench.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("bench-core: mkdtemp");
		free(dir);
		return NULL;
	}
	return dir;
}

static void remove_state(char *dir)
{
	if (dir != NULL)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Log in to sim://<dir>/<name>?speed=0[&seed=...]. */
static PRL_RESULT sim_login(const char *dir, const char *name, const char *seed,
                            PRL_HANDLE_PTR phServer)
{
	char uri[1024];
	PRL_RESULT ret;

	snprintf(uri, sizeof(uri), "sim://%s/%s?speed=0%s%s", dir, name, seed ? "&seed=" : "",
	         seed ? seed : "");
	ret = PrlSrv_Create(phServer);
	if (PRL_FAILED(ret)) {
		fail("PrlSrv_Create", ret);
		return ret;
	}
	ret = wait_job(PrlSrv_Login(*phServer, uri, "", "", "", 0, 0, PSL_NORMAL_SECURITY),
	               "PrlSrv_Login", NULL);
	if (PRL_FAILED(ret)) {
		fprintf(stderr, "bench-core: could not log in to %s\n", uri);
		PrlHandle_Free(*phServer);
		*phServer = PRL_INVALID_HANDLE;
	}
	return ret;
}

static void sim_logoff(PRL_HANDLE hServer)
{
	wait_job(PrlSrv_Logoff(hServer), "PrlSrv_Logoff", NULL);
	PrlHandle_Free(hServer);
}

/* The first VM of the list (a new handle). */
static PRL_RESULT first_vm(PRL_HANDLE hServer, PRL_HANDLE_PTR phVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_RESULT ret;

	ret = wait_job(PrlSrv_GetVmList(hServer), "PrlSrv_GetVmList", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	ret = PrlResult_GetParamByIndex(hResult, 0, phVm);
	PrlHandle_Free(hResult);
	if (PRL_FAILED(ret))
		fail("PrlResult_GetParamByIndex (no VM in the default seed?)", ret);
	return ret;
}

/* Start a cheap job, wait for it, read its code, free it: the fixed cost of every
 * asynchronous call. */
static int bench_job_round_trip(const struct options *o)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hVm = PRL_INVALID_HANDLE, hJob;
	size_t i, n = o->quick ? 200 : 20000, warmup = n / 10;
	PRL_RESULT rc = PRL_ERR_SUCCESS;
	struct samples s;
	char *dir;
	double t0;
	int status = -1;

	dir = make_state_dir();
	if (dir == NULL || samples_init(&s, n) < 0) {
		remove_state(dir);
		return -1;
	}
	if (PRL_FAILED(sim_login(dir, "jobs", NULL, &hServer)))
		goto out;
	if (PRL_FAILED(first_vm(hServer, &hVm)))
		goto out_logoff;

	for (i = 0; i < warmup + n; i++) {
		t0 = now_ns();
		hJob = PrlVm_GetState(hVm);
		PrlJob_Wait(hJob, JOB_TIMEOUT_MS);
		PrlJob_GetRetCode(hJob, &rc);
		PrlHandle_Free(hJob);
		if (i >= warmup)
			s.v[i - warmup] = now_ns() - t0;
		if (PRL_FAILED(rc)) {
			fail("PrlVm_GetState", rc);
			goto out_vm;
		}
	}
	report("job_round_trip", &s, 1e3, "us");
	status = 0;
out_vm:
	PrlHandle_Free(hVm);
out_logoff:
	sim_logoff(hServer);
out:
	free(s.v);
	remove_state(dir);
	return status;
}

/* PrlSrv_GetVmListEx of a large inventory: the job, and then (walk) what a program does
 * with the result, reading every VM's name. flags 0: every VM's configuration;
 * PGVLF_GET_ONLY_IDENTITY_INFO: ids, names and states only. */
static int vm_list_run(const struct options *o, PRL_UINT32 flags, const char *label)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hResult, hVm;
	size_t i, n = o->quick ? 5 : 30;
	PRL_UINT32 nCount, j, len;
	struct samples list, walk;
	char seed[64], name[64], buf[256];
	char *dir;
	double t0, t1;
	int status = -1;

	if (o->seed == NULL)
		snprintf(seed, sizeof(seed), "empty+%u", o->vms);
	else
		snprintf(seed, sizeof(seed), "%s", o->seed);

	dir = make_state_dir();
	list.v = walk.v = NULL;
	if (dir == NULL || samples_init(&list, n) < 0 || samples_init(&walk, n) < 0)
		goto out;
	fprintf(stderr, "bench-core: seeding the simulator with '%s'\n", seed);
	if (PRL_FAILED(sim_login(dir, "list", seed, &hServer)))
		goto out;

	for (i = 0; i < n + 1; i++) {
		hResult = PRL_INVALID_HANDLE;
		nCount = 0;
		t0 = now_ns();
		if (PRL_FAILED(wait_job(PrlSrv_GetVmListEx(hServer, flags), "PrlSrv_GetVmListEx",
		                        &hResult)))
			goto out_logoff;
		PrlResult_GetParamsCount(hResult, &nCount);
		t1 = now_ns();
		for (j = 0; j < nCount; j++) {
			hVm = PRL_INVALID_HANDLE;
			len = sizeof(buf);
			if (PRL_FAILED(PrlResult_GetParamByIndex(hResult, j, &hVm)) ||
			    PRL_FAILED(PrlVmCfg_GetName(hVm, buf, &len))) {
				fail("reading a VM of the list", PRL_ERR_FAILURE);
				PrlHandle_Free(hVm);
				PrlHandle_Free(hResult);
				goto out_logoff;
			}
			PrlHandle_Free(hVm);
		}
		PrlHandle_Free(hResult);
		if (nCount < o->vms) {
			fprintf(stderr, "bench-core: the list has %u VMs, expected at least %u\n",
			        nCount, o->vms);
			goto out_logoff;
		}
		if (i == 0)
			continue; /* warm-up: the first list also fills the driver's caches */
		list.v[i - 1] = t1 - t0;
		walk.v[i - 1] = now_ns() - t0;
	}
	snprintf(name, sizeof(name), "%s_%u", label, o->vms);
	report(name, &list, 1e6, "ms");
	snprintf(name, sizeof(name), "%s_%u_walk", label, o->vms);
	report(name, &walk, 1e6, "ms");
	status = 0;
out_logoff:
	sim_logoff(hServer);
out:
	free(list.v);
	free(walk.v);
	remove_state(dir);
	return status;
}

static int bench_vm_list(const struct options *o)
{
	return vm_list_run(o, 0, "vm_list");
}

static int bench_vm_list_identity(const struct options *o)
{
	return vm_list_run(o, PGVLF_GET_ONLY_IDENTITY_INFO, "vm_list_identity");
}

/* A state change of one VM in a large inventory (PrlVm_StartEx, then a hard
 * PrlVm_StopEx, each waited for): on sim every such job writes the whole state file. */
static int bench_vm_write(const struct options *o)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hResult = PRL_INVALID_HANDLE, hVm;
	size_t i, n = o->quick ? 10 : 100;
	struct samples s;
	char seed[64], name[64];
	char *dir;
	double t0;
	int status = -1;

	if (o->seed == NULL)
		snprintf(seed, sizeof(seed), "empty+%u", o->vms);
	else
		snprintf(seed, sizeof(seed), "%s", o->seed);

	dir = make_state_dir();
	s.v = NULL;
	if (dir == NULL || samples_init(&s, n) < 0)
		goto out;
	fprintf(stderr, "bench-core: seeding the simulator with '%s'\n", seed);
	if (PRL_FAILED(sim_login(dir, "write", seed, &hServer)))
		goto out;
	/* The second VM: generated inventories start every fourth one, from the first. */
	if (PRL_FAILED(wait_job(PrlSrv_GetVmList(hServer), "PrlSrv_GetVmList", &hResult)))
		goto out_logoff;
	hVm = PRL_INVALID_HANDLE;
	if (PRL_FAILED(PrlResult_GetParamByIndex(hResult, 1, &hVm))) {
		fail("PrlResult_GetParamByIndex (fewer than 2 VMs?)", PRL_ERR_INVALID_ARG);
		PrlHandle_Free(hResult);
		goto out_logoff;
	}
	PrlHandle_Free(hResult);
	for (i = 0; i < n; i += 2) {
		t0 = now_ns();
		if (PRL_FAILED(wait_job(PrlVm_StartEx(hVm, PSM_VM_START, 0), "PrlVm_StartEx", NULL)))
			break;
		s.v[i] = now_ns() - t0;
		t0 = now_ns();
		if (PRL_FAILED(wait_job(PrlVm_StopEx(hVm, PSM_KILL, 0), "PrlVm_StopEx", NULL)))
			break;
		s.v[i + 1] = now_ns() - t0;
	}
	PrlHandle_Free(hVm);
	if (i >= n) {
		snprintf(name, sizeof(name), "vm_write_%u", o->vms);
		report(name, &s, 1e6, "ms");
		status = 0;
	}
out_logoff:
	sim_logoff(hServer);
out:
	free(s.v);
	remove_state(dir);
	return status;
}

static const struct bench {
	const char *name;
	int (*run)(const struct options *o);
} benches[] = {
	{ "handle_create_free", bench_handle_create_free },
	{ "handle_addref_free", bench_handle_addref_free },
	{ "job_round_trip", bench_job_round_trip },
	{ "vm_list", bench_vm_list },
	{ "vm_list_identity", bench_vm_list_identity },
	{ "vm_write", bench_vm_write },
};

static int usage(const char *argv0)
{
	size_t i;

	fprintf(stderr, "usage: %s [--quick] [--only NAME] [--vms N] [--seed SPEC]\nNAME:", argv0);
	for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		fprintf(stderr, " %s", benches[i].name);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct options o = { .vms = 0 };
	PRL_UINT32 nHandles = 0;
	PRL_RESULT ret;
	int i, status = 0, ran = 0;
	size_t b;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			o.quick = 1;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			o.only = argv[++i];
		else if (strcmp(argv[i], "--vms") == 0 && i + 1 < argc)
			o.vms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			o.seed = argv[++i];
		else
			return usage(argv[0]);
	}
	if (o.vms == 0)
		o.vms = o.quick ? 100 : 10000;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(ret)) {
		fail("PrlApi_InitEx", ret);
		return 1;
	}
	for (b = 0; b < sizeof(benches) / sizeof(benches[0]); b++) {
		if (o.only != NULL && strcmp(o.only, benches[b].name) != 0)
			continue;
		ran++;
		if (benches[b].run(&o) < 0) {
			fprintf(stderr, "bench-core: %s failed\n", benches[b].name);
			status = 1;
		}
	}
	/* Deinit waits for the library's threads; then no handle may be left. */
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	if (nHandles != 0) {
		fprintf(stderr, "bench-core: %u handle(s) leaked\n", nHandles);
		status = 1;
	}
	if (ran == 0)
		return usage(argv[0]);
	return status;
}

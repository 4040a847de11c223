/* Benchmarks of the libvirt driver. Prints one JSON line per measurement:
 *   {"name":"libvirt_list_1000_prlkit","n":30,"median":4.2,"p99":5.0,"unit":"ms"}
 *
 *   bench-libvirt [--quick] [--domains N]
 *       Listing with states on libvirt's test:///default: prlkit (PrlSrv_GetVmListEx with
 *       PGVLF_GET_ONLY_IDENTITY_INFO, then id, name and state of every VM) against the same
 *       through raw libvirt calls (virConnectListAllDomains, then UUID, name and
 *       virDomainGetState of each); and prlkit's full list (every VM's configuration too).
 *       The ratios prlkit/raw (wall clock and process CPU time) go to stderr.
 *   bench-libvirt --lifecycle URI --pool POOL [--quick] [--samples K]
 *       Latencies on a real hypervisor (QEMU, TCG, 64 MiB guest without an OS, 64 MiB
 *       qcow2 disk): start, hard stop, snapshot (new qcow2 layer), linked clone of the
 *       snapshot, delete of the clone, snapshot delete, full clone. Makes its own domain
 *       and volume and removes them.
 *
 * Timings are never judged here (targets: doc/performance.md). Public API + libvirt. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"

typedef struct {
	GArray *v;   /* double, microseconds */
} samples;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_of(samples *s)
{
	g_array_sort(s->v, cmp_double);
	guint n = s->v->len;
	double *d = (double *)s->v->data;
	return n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
}

static double report(const char *name, samples *s, double scale, const char *unit)
{
	double med = median_of(s);
	guint n = s->v->len;
	guint i99 = (guint)((n - 1) * 0.99 + 0.5);
	double p99 = ((double *)s->v->data)[MIN(i99, n - 1)];
	printf("{\"name\":\"%s\",\"n\":%u,\"median\":%.3f,\"p99\":%.3f,\"unit\":\"%s\"}\n", name, n,
	       med / scale, p99 / scale, unit);
	fflush(stdout);
	return med;
}

static void add(samples *s, gint64 t0)
{
	double us = (double)(g_get_monotonic_time() - t0);
	g_array_append_val(s->v, us);
}

/* CPU time of the whole process (every thread: prlkit's workers, libvirt's event loop),
 * in microseconds: on a busy machine it shows the work done, not the waiting. */
static gint64 cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void add_cpu(samples *s, gint64 c0)
{
	double us = (double)(cpu_us() - c0);
	g_array_append_val(s->v, us);
}

static samples *samples_new(void)
{
	samples *s = g_new0(samples, 1);
	s->v = g_array_new(FALSE, FALSE, sizeof(double));
	return s;
}

static void samples_free(samples *s)
{
	g_array_unref(s->v);
	g_free(s);
}

static void die(const char *what, PRL_RESULT rc)
{
	fprintf(stderr, "bench-libvirt: %s: %s\n", what, prl_result_to_string(rc));
	exit(1);
}

static void virt_die(const char *what)
{
	virErrorPtr e = virGetLastError();
	fprintf(stderr, "bench-libvirt: %s: %s\n", what, e && e->message ? e->message : "failed");
	exit(1);
}

/* Waits for a job; its first result parameter if want_param (else freed). */
static PRL_HANDLE wait_job(PRL_HANDLE job, const char *what, gboolean want_param)
{
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	PRL_HANDLE res = PRL_INVALID_HANDLE, p = PRL_INVALID_HANDLE;
	if (PRL_FAILED(PrlJob_Wait(job, 600000)) || PRL_FAILED(PrlJob_GetRetCode(job, &rc)) ||
	    PRL_FAILED(rc))
		die(what, rc);
	if (want_param) {
		if (PRL_FAILED(PrlJob_GetResult(job, &res)) || PRL_FAILED(PrlResult_GetParam(res, &p)))
			die(what, PRL_ERR_NO_DATA);
		PrlHandle_Free(res);
	}
	PrlHandle_Free(job);
	return p;
}

static PRL_HANDLE connect_to(const char *uri, const char *settings)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	PRL_RESULT rc = PrlSrv_Create(&srv);
	if (PRL_FAILED(rc))
		die("PrlSrv_Create", rc);
	wait_job(PrlSrv_Connect(srv, uri, settings, 0), "PrlSrv_Connect", FALSE);
	return srv;
}

static void disconnect(PRL_HANDLE srv)
{
	wait_job(PrlSrv_Logoff(srv), "PrlSrv_Logoff", FALSE);
	PrlHandle_Free(srv);
}

/* ---------------------------------------------------------------- listing ---- */

static guint raw_list(virConnectPtr conn)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(conn, &doms, 0);
	if (n < 0)
		virt_die("virConnectListAllDomains");
	guint running = 0;
	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		int st = 0, reason = 0;
		if (virDomainGetUUIDString(doms[i], uuid) < 0 || virDomainGetName(doms[i]) == NULL ||
		    virDomainGetState(doms[i], &st, &reason, 0) < 0)
			virt_die("domain");
		running += st == VIR_DOMAIN_RUNNING;
		virDomainFree(doms[i]);
	}
	free(doms);
	return running;
}

/* flags: PGVLF_GET_ONLY_IDENTITY_INFO (what the raw side reads: id, name, state) or 0
 * (every VM's whole configuration too, no guest IPs). */
static guint prlkit_list(PRL_HANDLE srv, PRL_UINT32 flags)
{
	PRL_HANDLE job = PrlSrv_GetVmListEx(srv, flags);
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	PRL_UINT32 count = 0;
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	if (PRL_FAILED(PrlJob_Wait(job, 60000)) || PRL_FAILED(PrlJob_GetRetCode(job, &rc)) ||
	    PRL_FAILED(rc) || PRL_FAILED(PrlJob_GetResult(job, &res)) ||
	    PRL_FAILED(PrlResult_GetParamsCount(res, &count)))
		die("PrlSrv_GetVmListEx", rc);
	guint running = 0;
	for (PRL_UINT32 i = 0; i < count; i++) {
		PRL_HANDLE vm = PRL_INVALID_HANDLE, info = PRL_INVALID_HANDLE;
		char id[64], name[256];
		PRL_UINT32 il = sizeof(id), nl = sizeof(name);
		VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
		if (PRL_FAILED(PrlResult_GetParamByIndex(res, i, &vm)) ||
		    PRL_FAILED(PrlVmCfg_GetUuid(vm, id, &il)) ||
		    PRL_FAILED(PrlVmCfg_GetName(vm, name, &nl)) ||
		    PRL_FAILED(PrlVmCfg_GetVmInfo(vm, &info)) ||
		    PRL_FAILED(PrlVmInfo_GetState(info, &st)))
			die("walk the list", PRL_ERR_UNEXPECTED);
		running += st == VMS_RUNNING;
		PrlHandle_Free(info);
		PrlHandle_Free(vm);
	}
	PrlHandle_Free(res);
	PrlHandle_Free(job);
	return running;
}

static void bench_list(guint domains, gboolean quick)
{
	/* test:///default is one hypervisor per process: both sides see the same domains. */
	virConnectPtr raw = virConnectOpen("test:///default");
	if (raw == NULL)
		virt_die("open test:///default");
	for (guint i = 0; i < domains; i++) {
		char xml[1024];
		g_snprintf(xml, sizeof(xml),
		           "<domain type='test'><name>bench-%05u</name><memory unit='MiB'>128</memory>"
		           "<vcpu>1</vcpu><os><type>hvm</type></os><devices>"
		           "<disk type='file' device='disk'><source file='/bench/%05u.qcow2'/>"
		           "<target dev='vda'/></disk><interface type='network'>"
		           "<source network='default'/></interface></devices></domain>", i, i);
		virDomainPtr d = virDomainDefineXML(raw, xml);
		if (d == NULL)
			virt_die("define");
		if (i % 2 == 0 && virDomainCreate(d) < 0)
			virt_die("start");
		virDomainFree(d);
	}
	guint total = domains + 1;   /* and the stock "test" domain */
	guint rounds = quick ? 5 : 100;
	PRL_HANDLE srv = connect_to("test:///default", NULL);
	samples *s_raw = samples_new(), *s_id = samples_new(), *s_full = samples_new();
	samples *s_cold = samples_new();
	samples *c_raw = samples_new(), *c_id = samples_new(), *c_full = samples_new();
	guint r_raw = raw_list(raw);   /* and warm-up */
	guint r_id = prlkit_list(srv, PGVLF_GET_ONLY_IDENTITY_INFO), r_full = prlkit_list(srv, 0);
	if (r_raw != r_id || r_raw != r_full) {
		fprintf(stderr, "bench-libvirt: raw sees %u running, prlkit %u and %u\n", r_raw, r_id,
		        r_full);
		exit(1);
	}
	/* Interleaved, so all see the same machine; the ratios are taken per round (a slow
	 * moment of a shared host slows both sides of a round) and their median reported. */
	samples *q_id = samples_new(), *q_full = samples_new();
	for (guint i = 0; i < rounds; i++) {
		gint64 c0 = cpu_us(), t0 = g_get_monotonic_time();
		raw_list(raw);
		add(s_raw, t0);
		add_cpu(c_raw, c0);
		c0 = cpu_us();
		t0 = g_get_monotonic_time();
		prlkit_list(srv, PGVLF_GET_ONLY_IDENTITY_INFO);
		add(s_id, t0);
		add_cpu(c_id, c0);
		c0 = cpu_us();
		t0 = g_get_monotonic_time();
		prlkit_list(srv, 0);
		add(s_full, t0);
		add_cpu(c_full, c0);
		double raw_us = g_array_index(s_raw->v, double, i);
		double ratio = g_array_index(s_id->v, double, i) / raw_us;
		g_array_append_val(q_id->v, ratio);
		ratio = g_array_index(s_full->v, double, i) / raw_us;
		g_array_append_val(q_full->v, ratio);
	}
	disconnect(srv);
	/* The first full list of a connection reads every domain's XML (then events keep it). */
	for (guint i = 0; i < (quick ? 2 : 10); i++) {
		PRL_HANDLE c = connect_to("test:///default", NULL);
		gint64 t0 = g_get_monotonic_time();
		prlkit_list(c, 0);
		add(s_cold, t0);
		disconnect(c);
	}
	char name[64];
	g_snprintf(name, sizeof(name), "libvirt_list_%u_raw", total);
	double raw_med = report(name, s_raw, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_prlkit", total);
	double id_med = report(name, s_id, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_prlkit_config", total);
	double full_med = report(name, s_full, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_prlkit_config_first", total);
	report(name, s_cold, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_raw_cpu", total);
	double raw_cpu = report(name, c_raw, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_prlkit_cpu", total);
	double id_cpu = report(name, c_id, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_prlkit_config_cpu", total);
	double full_cpu = report(name, c_full, 1000.0, "ms");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_ratio", total);
	double id_ratio = report(name, q_id, 1.0, "x");
	g_snprintf(name, sizeof(name), "libvirt_list_%u_config_ratio", total);
	double full_ratio = report(name, q_full, 1.0, "x");
	fprintf(stderr, "bench-libvirt: list of %u domains with states: prlkit/raw = %.2f per round "
	        "(%.2f wall, %.2f CPU of the medians; target <= 1.3); with every configuration: "
	        "%.2f per round (%.2f wall, %.2f CPU)\n", total, id_ratio, id_med / raw_med,
	        id_cpu / raw_cpu, full_ratio, full_med / raw_med, full_cpu / raw_cpu);
	samples_free(q_id);
	samples_free(q_full);
	samples_free(s_raw);
	samples_free(s_id);
	samples_free(s_full);
	samples_free(s_cold);
	samples_free(c_raw);
	samples_free(c_id);
	samples_free(c_full);
	virConnectClose(raw);
}

/* -------------------------------------------------------------- lifecycle ---- */

static void bench_lifecycle(const char *uri, const char *pool, guint rounds)
{
	virConnectPtr raw = virConnectOpen(uri);
	if (raw == NULL)
		virt_die("open the hypervisor");
	virStoragePoolPtr p = virStoragePoolLookupByName(raw, pool);
	if (p == NULL)
		virt_die("storage pool");
	char name[64];
	g_snprintf(name, sizeof(name), "prlkit-bench-%d", (int)getpid());
	char vxml[256];
	g_snprintf(vxml, sizeof(vxml), "<volume><name>%s.qcow2</name><capacity unit='M'>64"
	           "</capacity><target><format type='qcow2'/></target></volume>", name);
	virStorageVolPtr vol = virStorageVolCreateXML(p, vxml, 0);
	if (vol == NULL)
		virt_die("create the disk");
	char *path = virStorageVolGetPath(vol);
	char dxml[1024];
	g_snprintf(dxml, sizeof(dxml),
	           "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
	           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
	           "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
	           "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
	           "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices></domain>",
	           name, path);
	virDomainPtr dom = virDomainDefineXML(raw, dxml);
	if (dom == NULL)
		virt_die("define the domain");
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainGetUUIDString(dom, uuid);
	virDomainFree(dom);

	g_autofree char *settings = g_strdup_printf("{\"storage_pool\":\"%s\",\"stop_mode\":"
	                                            "\"destroy\"}", pool);
	PRL_HANDLE srv = connect_to(uri, settings);
	PRL_HANDLE vm = wait_job(PrlSrv_GetVmConfig(srv, uuid, PGVC_SEARCH_BY_UUID), "get", TRUE);
	samples *st = samples_new(), *sp = samples_new(), *ss = samples_new(), *sl = samples_new(),
	        *sd = samples_new(), *sx = samples_new(), *sf = samples_new();
	for (guint i = 0; i < rounds; i++) {
		gint64 t0 = g_get_monotonic_time();
		wait_job(PrlVm_Start(vm), "start", FALSE);
		add(st, t0);
		t0 = g_get_monotonic_time();
		wait_job(PrlVm_Stop(vm, PRL_FALSE), "stop", FALSE);
		add(sp, t0);
		t0 = g_get_monotonic_time();
		wait_job(PrlVm_CreateSnapshot(vm, "bench", ""), "snapshot", FALSE);
		add(ss, t0);
		char cname[96];
		g_snprintf(cname, sizeof(cname), "%s-clone-%u", name, i);
		t0 = g_get_monotonic_time();
		PRL_HANDLE clone = wait_job(PrlVm_CloneFromSnapshot(vm, cname, "bench",
		                                                    PCVF_LINKED_CLONE),
		                            "linked clone", TRUE);
		add(sl, t0);
		t0 = g_get_monotonic_time();
		wait_job(PrlVm_Delete(clone, PRL_INVALID_HANDLE), "delete", FALSE);
		add(sd, t0);
		PrlHandle_Free(clone);
		g_snprintf(cname, sizeof(cname), "%s-full-%u", name, i);
		t0 = g_get_monotonic_time();
		clone = wait_job(PrlVm_CloneFromSnapshot(vm, cname, "bench", 0), "full clone", TRUE);
		add(sf, t0);
		wait_job(PrlVm_Delete(clone, PRL_INVALID_HANDLE), "delete", FALSE);
		PrlHandle_Free(clone);
		t0 = g_get_monotonic_time();
		wait_job(PrlVm_DeleteSnapshot(vm, "bench", PRL_FALSE), "delete snapshot", FALSE);
		add(sx, t0);
	}
	report("libvirt_qemu_start", st, 1000.0, "ms");
	report("libvirt_qemu_stop_hard", sp, 1000.0, "ms");
	report("libvirt_qemu_snapshot_create", ss, 1000.0, "ms");
	report("libvirt_qemu_linked_clone", sl, 1000.0, "ms");
	report("libvirt_qemu_delete", sd, 1000.0, "ms");
	report("libvirt_qemu_full_clone_64m", sf, 1000.0, "ms");
	report("libvirt_qemu_snapshot_delete", sx, 1000.0, "ms");
	samples *all[] = { st, sp, ss, sl, sd, sx, sf };
	for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
		samples_free(all[i]);
	wait_job(PrlVm_Delete(vm, PRL_INVALID_HANDLE), "delete the bench domain", FALSE);
	PrlHandle_Free(vm);
	disconnect(srv);
	if (virStorageVolDelete(vol, 0) < 0)
		virt_die("delete the disk");
	virStorageVolFree(vol);
	virStoragePoolFree(p);
	free(path);
	virConnectClose(raw);
}

static void silent(void *data, virErrorPtr e)
{
}

int main(int argc, char **argv)
{
	gboolean quick = FALSE;
	guint domains = 0, samples_n = 0;
	const char *lifecycle = NULL, *pool = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = TRUE;
		else if (strcmp(argv[i], "--domains") == 0 && i + 1 < argc)
			domains = (guint)atoi(argv[++i]);
		else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
			samples_n = (guint)atoi(argv[++i]);
		else if (strcmp(argv[i], "--lifecycle") == 0 && i + 1 < argc)
			lifecycle = argv[++i];
		else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
			pool = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--domains N] | --lifecycle URI --pool POOL "
			        "[--quick] [--samples K]\n", argv[0]);
			return 2;
		}
	}
	virSetErrorFunc(NULL, silent);
	PRL_RESULT rc = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(rc))
		die("PrlApi_InitEx", rc);
	if (lifecycle != NULL) {
		if (pool == NULL) {
			fprintf(stderr, "bench-libvirt: --lifecycle needs --pool\n");
			return 2;
		}
		bench_lifecycle(lifecycle, pool, samples_n ? samples_n : (quick ? 2 : 10));
	} else {
		bench_list(domains ? domains : (quick ? 100 : 1000), quick);
	}
	PrlApi_Deinit();
	return 0;
}

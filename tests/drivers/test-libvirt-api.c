/* The libvirt driver through the public API (test:// hypervisor): connect, list, snapshot,
 * linked clone, delete, and platform events reaching an event handler through the driver's
 * watcher; no handle is leaked. */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"
#include "test-state-watch.h"

#define GOLD "11111111-2222-3333-4444-555555555555"

static char *node_uri(void)
{
	const char *top = g_getenv("top_srcdir");
	g_autofree char *file = g_build_filename(top != NULL && *top ? top : PK_TOP_SRCDIR,
	                                         "tests", "drivers", "libvirt-node.xml", NULL);
	g_autofree char *abs = g_canonicalize_filename(file, NULL);
	return g_strdup_printf("test://%s", abs);
}

static void wait_ok(PRL_HANDLE job)
{
	g_assert_true(job != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_Wait(job, 30000), ==, PRL_ERR_SUCCESS);
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	if (PRL_FAILED(rc)) {
		PRL_HANDLE err = PRL_INVALID_HANDLE;
		char buf[512] = "";
		PRL_UINT32 len = sizeof(buf);
		if (PRL_SUCCEEDED(PrlJob_GetError(job, &err))) {
			PrlEvent_GetErrString(err, PRL_FALSE, PRL_FALSE, buf, &len);
			PrlHandle_Free(err);
		}
		g_error("job failed: %s: %s", prl_result_to_string(rc), buf);
	}
}

/* The job's first result parameter (a new handle). */
static PRL_HANDLE wait_param(PRL_HANDLE job)
{
	wait_ok(job);
	PRL_HANDLE res = PRL_INVALID_HANDLE, p = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(res, &p), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	PrlHandle_Free(job);
	return p;
}

static void wait_free(PRL_HANDLE job)
{
	wait_ok(job);
	PrlHandle_Free(job);
}

static PRL_HANDLE connect_to(const char *uri, const char *settings)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	wait_free(PrlSrv_Connect(srv, uri, settings, 0));
	return srv;
}

static void disconnect(PRL_HANDLE srv)
{
	wait_free(PrlSrv_Logoff(srv));
	PrlHandle_Free(srv);
}

static char *get_str(PRL_HANDLE h, PRL_RESULT (*fn)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR))
{
	char buf[256];
	PRL_UINT32 len = sizeof(buf);
	g_assert_cmpint(fn(h, buf, &len), ==, PRL_ERR_SUCCESS);
	return g_strdup(buf);
}

static void assert_no_handles(void)
{
	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

static void test_api_workflow(void)
{
	g_autofree char *uri = node_uri();
	PRL_HANDLE srv = connect_to(uri, "{\"storage_pool\":\"pk-pool\"}");

	char name[64];
	PRL_UINT32 len = sizeof(name);
	PRL_UINT64 features = 0;
	g_assert_cmpint(PrlSrv_GetDriverInfo(srv, name, &len, &features), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(name, ==, "libvirt");
	g_assert_true(features & PRLK_FEAT_LINKED_CLONE);
	g_assert_true(features & PRLK_FEAT_CLONE_FROM_SNAPSHOT);

	PRL_HANDLE job = PrlSrv_GetVmList(srv);
	wait_ok(job);
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	PRL_UINT32 count = 0;
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamsCount(res, &count), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(count, ==, 3);
	PRL_HANDLE gold = PRL_INVALID_HANDLE;
	for (PRL_UINT32 i = 0; i < count; i++) {
		PRL_HANDLE vm = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &vm), ==, PRL_ERR_SUCCESS);
		g_autofree char *id = get_str(vm, PrlVmCfg_GetUuid);
		if (strcmp(id, GOLD) == 0)
			gold = vm;
		else
			PrlHandle_Free(vm);
	}
	PrlHandle_Free(res);
	PrlHandle_Free(job);
	g_assert_true(gold != PRL_INVALID_HANDLE);
	g_autofree char *gname = get_str(gold, PrlVmCfg_GetName);
	g_assert_cmpstr(gname, ==, "gold");

	/* version, template, linked clone of the version */
	wait_free(PrlVm_CreateSnapshot(gold, "RAS_TEMPLATE_VERSION_1", "first"));
	wait_free(PrlVm_BeginEdit(gold));
	g_assert_cmpint(PrlVmCfg_SetTemplateSign(gold, PRL_TRUE), ==, PRL_ERR_SUCCESS);
	wait_free(PrlVm_Commit(gold));
	PRL_BOOL tpl = PRL_FALSE;
	g_assert_cmpint(PrlVmCfg_IsTemplate(gold, &tpl), ==, PRL_ERR_SUCCESS);
	g_assert_true(tpl);

	PRL_HANDLE start = PrlVm_Start(gold);
	g_assert_cmpint(PrlJob_Wait(start, 30000), ==, PRL_ERR_SUCCESS);
	PRL_RESULT rc = PRL_ERR_SUCCESS;
	PrlJob_GetRetCode(start, &rc);
	g_assert_cmpint(rc, ==, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	PrlHandle_Free(start);

	PRL_HANDLE clone = wait_param(PrlVm_CloneFromSnapshot(gold, "host-1",
	                                                      "RAS_TEMPLATE_VERSION_1",
	                                                      PCVF_LINKED_CLONE));
	g_autofree char *cname = get_str(clone, PrlVmCfg_GetName);
	g_assert_cmpstr(cname, ==, "host-1");
	wait_free(PrlVm_Start(clone));
	wait_free(PrlVm_Stop(clone, PRL_FALSE));
	wait_free(PrlVm_Delete(clone, PRL_INVALID_HANDLE));
	PrlHandle_Free(clone);

	PRL_HANDLE snaps = PrlVm_GetSnapshotsTree(gold);
	wait_ok(snaps);
	PRL_HANDLE sres = PRL_INVALID_HANDLE;
	char xml[2048];
	PRL_UINT32 xlen = sizeof(xml);
	g_assert_cmpint(PrlJob_GetResult(snaps, &sres), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamAsString(sres, xml, &xlen), ==, PRL_ERR_SUCCESS);
	g_assert_nonnull(strstr(xml, "RAS_TEMPLATE_VERSION_1"));
	PrlHandle_Free(sres);
	PrlHandle_Free(snaps);

	PrlHandle_Free(gold);
	disconnect(srv);
	assert_no_handles();
}

/* ------------------------------------------------------------------ events ---- */

static gboolean wait_state(VIRTUAL_MACHINE_STATE want)
{
	return sw_wait(want, 15);
}

/* test:///default is one hypervisor per process: a second, raw libvirt connection changes
 * it behind prlkit's back, and the driver's watcher reports what libvirt announces. */
static void test_api_events(void)
{
	virConnectPtr raw = virConnectOpen("test:///default");
	g_assert_nonnull(raw);
	virDomainPtr dom = virDomainLookupByName(raw, "test");
	g_assert_nonnull(dom);
	char uuid[VIR_UUID_STRING_BUFLEN];
	g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
	sw_follow(uuid);

	PRL_HANDLE srv = connect_to("test:///default", NULL);
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, sw_on_event, NULL), ==, PRL_ERR_SUCCESS);
	/* A list makes the VM known (and its state the baseline). */
	PRL_HANDLE job = PrlSrv_GetVmList(srv);
	wait_free(job);

	/* The watcher starts on its own thread: pause and continue until it reports. */
	gboolean seen = FALSE;
	for (int i = 0; i < 30 && !seen; i++) {
		g_assert_cmpint(virDomainSuspend(dom), ==, 0);
		seen = sw_wait(VMS_PAUSED, 1);
		if (!seen)
			g_assert_cmpint(virDomainResume(dom), ==, 0);
	}
	g_assert_true(seen);
	g_assert_cmpint(virDomainResume(dom), ==, 0);
	g_assert_true(wait_state(VMS_RUNNING));
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	g_assert_true(wait_state(VMS_STOPPED));
	g_assert_cmpint(virDomainCreate(dom), ==, 0);
	g_assert_true(wait_state(VMS_RUNNING));

	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, sw_on_event, NULL), ==, PRL_ERR_SUCCESS);
	disconnect(srv);
	virDomainFree(dom);
	virConnectClose(raw);
	assert_no_handles();
}

int main(int argc, char **argv)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/libvirt-api/workflow", test_api_workflow);
	g_test_add_func("/libvirt-api/events", test_api_events);
	int rc = g_test_run();
	PrlApi_Deinit();
	return rc;
}

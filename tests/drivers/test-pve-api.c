/* The Proxmox VE driver through the public API (the SDK programming model) against the
 * fake Proxmox server: connect with settings and with PrlSrv_Login (tickets), list, config,
 * power with a task id resolved through another server handle, clone from a snapshot,
 * snapshots, edit; no handle leaks. */
#include "config.h"

#include <string.h>

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"
#include "test-pve-fake.h"

static tp_fake *fake;

#define OK(expr) g_assert_cmphex((guint)(expr), ==, PRL_ERR_SUCCESS)

static PRL_RESULT wait_job(PRL_HANDLE job, PRL_HANDLE *result)
{
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	OK(PrlJob_Wait(job, 60000 * tp_scale()));
	OK(PrlJob_GetRetCode(job, &rc));
	if (result != NULL) {
		*result = PRL_INVALID_HANDLE;
		if (rc == PRL_ERR_SUCCESS)
			OK(PrlJob_GetResult(job, result));
	}
	PrlHandle_Free(job);
	return rc;
}

static PRL_HANDLE connect_token(void)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	OK(PrlSrv_Create(&srv));
	g_autofree char *settings = tp_settings(fake, NULL);
	g_assert_cmphex(wait_job(PrlSrv_Connect(srv, "pve", settings, 0), NULL), ==, PRL_ERR_SUCCESS);
	return srv;
}

static PRL_HANDLE vm_by_id(PRL_HANDLE srv, const char *id)
{
	PRL_HANDLE res, vm = PRL_INVALID_HANDLE;
	g_assert_cmphex(wait_job(PrlSrv_GetVmConfig(srv, id, 0), &res), ==,
	                PRL_ERR_SUCCESS);
	OK(PrlResult_GetParam(res, &vm));
	PrlHandle_Free(res);
	return vm;
}

static void test_connect_and_list(void)
{
	PRL_HANDLE srv = connect_token();
	char name[64];
	PRL_UINT32 len = sizeof name;
	PRL_UINT64 features = 0;
	OK(PrlSrv_GetDriverInfo(srv, name, &len, &features));
	g_assert_cmpstr(name, ==, "pve");
	g_assert_true(features & PRLK_FEAT_REVERSIBLE_TEMPLATES);

	PRL_HANDLE res;
	g_assert_cmphex(wait_job(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	PRL_UINT32 n = 0;
	OK(PrlResult_GetParamsCount(res, &n));
	g_assert_cmpuint(n, >=, 6);
	PrlHandle_Free(res);

	PRL_HANDLE vm = vm_by_id(srv, "101");
	len = sizeof name;
	OK(PrlVmCfg_GetName(vm, name, &len));
	g_assert_cmpstr(name, ==, "app01");
	PRL_HANDLE ips = PRL_INVALID_HANDLE;
	OK(PrlVmCfg_GetIpAddresses(vm, &ips));
	PRL_UINT32 n_ips = 0;
	OK(PrlStrList_GetItemsCount(ips, &n_ips));
	g_assert_cmpuint(n_ips, ==, 2);
	PrlHandle_Free(ips);
	PrlHandle_Free(vm);

	/* An LXC container is not a VM. */
	g_assert_cmphex(wait_job(PrlSrv_GetVmConfig(srv, "200", PGVC_SEARCH_BY_UUID), NULL), ==,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	wait_job(PrlSrv_Logoff(srv), NULL);
	PrlHandle_Free(srv);
}

static void test_login_ticket(void)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	OK(PrlSrv_Create(&srv));
	g_autofree char *fp = g_uri_escape_string(fake->fingerprint, NULL, FALSE);
	g_autofree char *uri = g_strdup_printf("pve://%s?tls_fingerprint=%s&request_timeout=%u",
	                                       fake->host, fp, 10 * tp_scale());
	g_assert_cmphex(wait_job(PrlSrv_Login(srv, uri, fake->user, fake->password, NULL, 0, 0,
	                                      PSL_NORMAL_SECURITY), NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm = vm_by_id(srv, "102");
	PRL_HANDLE res;
	g_assert_cmphex(wait_job(PrlVm_GetState(vm), &res), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	PrlHandle_Free(vm);
	wait_job(PrlSrv_Logoff(srv), NULL);
	PrlHandle_Free(srv);

	/* A wrong password: a clean error. */
	OK(PrlSrv_Create(&srv));
	g_assert_cmphex(wait_job(PrlSrv_Login(srv, uri, fake->user, "not-the-password", NULL, 0, 0,
	                                      PSL_NORMAL_SECURITY), NULL), ==,
	                PRL_ERR_AUTHENTICATION_FAILED);
	PrlHandle_Free(srv);
}

static void test_power_and_task_id(void)
{
	tp_admin_printf(fake, "POST", "/vms", "{\"vmid\":400,\"name\":\"api400\"}");
	PRL_HANDLE srv = connect_token();
	PRL_HANDLE other = connect_token();
	PRL_HANDLE vm = vm_by_id(srv, "400");

	PRL_HANDLE job = PrlVm_Start(vm);
	char task_id[2048];
	PRL_UINT32 len = sizeof task_id;
	OK(PrlJob_GetTaskId(job, 30000 * tp_scale(), task_id, &len));
	g_assert_null(strstr(task_id, fake->token_secret));
	g_assert_cmphex(wait_job(job, NULL), ==, PRL_ERR_SUCCESS);

	/* The other connection (another process would do the same) sees it finished. */
	PRL_HANDLE res, task;
	g_assert_cmphex(wait_job(PrlSrv_GetTaskInfo(other, task_id), &res), ==, PRL_ERR_SUCCESS);
	OK(PrlResult_GetParam(res, &task));
	PRL_JOB_STATUS st = PJS_UNKNOWN;
	OK(PrlRunningTask_GetState(task, &st));
	g_assert_cmpint(st, ==, PJS_FINISHED);
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	OK(PrlRunningTask_GetRetCode(task, &rc));
	g_assert_cmphex(rc, ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(task);
	PrlHandle_Free(res);

	g_assert_cmphex(wait_job(PrlVm_StopEx(vm, PSM_KILL, 0), NULL), ==, PRL_ERR_SUCCESS);
	/* Garbage task ids are refused, never "finished". */
	g_assert_cmphex(wait_job(PrlSrv_GetTaskInfo(other, "pk1.garbage"), NULL), !=,
	                PRL_ERR_SUCCESS);
	PrlHandle_Free(vm);
	wait_job(PrlSrv_Logoff(srv), NULL);
	wait_job(PrlSrv_Logoff(other), NULL);
	PrlHandle_Free(srv);
	PrlHandle_Free(other);
}

static void test_clone_snapshots_edit(void)
{
	PRL_HANDLE srv = connect_token();
	PRL_HANDLE tmpl = vm_by_id(srv, "100");
	PRL_HANDLE res, clone = PRL_INVALID_HANDLE;
	g_assert_cmphex(wait_job(PrlVm_CloneFromSnapshot(tmpl, "api-clone", "RAS_TEMPLATE_VERSION_1", 0),
	                         &res), ==, PRL_ERR_SUCCESS);
	OK(PrlResult_GetParam(res, &clone));
	PrlHandle_Free(res);
	PRL_BOOL is_tmpl = PRL_TRUE;
	OK(PrlVmCfg_IsTemplate(clone, &is_tmpl));
	g_assert_false(is_tmpl);

	g_assert_cmphex(wait_job(PrlVm_ReplaceSnapshot(clone, "RAS Template Snapshot", ""), NULL), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmphex(wait_job(PrlVm_ReplaceSnapshot(clone, "RAS Template Snapshot", ""), NULL), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmphex(wait_job(PrlVm_GetSnapshotsList(clone), &res), ==, PRL_ERR_SUCCESS);
	PRL_UINT32 n = 0;
	OK(PrlResult_GetParamsCount(res, &n));
	g_assert_cmpuint(n, ==, 1);
	char sname[64];
	PRL_UINT32 len = sizeof sname;
	OK(PrlResult_GetParamByIndexAsString(res, 0, sname, &len));
	g_assert_cmpstr(sname, ==, "RAS Template Snapshot");
	PrlHandle_Free(res);
	g_assert_cmphex(wait_job(PrlVm_DeleteSnapshotIfExists(clone, "never-there"), NULL), ==,
	                PRL_ERR_SUCCESS);

	/* Edit: rename + RAM, then make it a template and back (tag mode). */
	g_assert_cmphex(wait_job(PrlVm_BeginEdit(clone), NULL), ==, PRL_ERR_SUCCESS);
	OK(PrlVmCfg_SetName(clone, "api-renamed"));
	OK(PrlVmCfg_SetRamSize(clone, 3072));
	OK(PrlVmCfg_SetTemplateSign(clone, PRL_TRUE));
	g_assert_cmphex(wait_job(PrlVm_Commit(clone), NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE again = vm_by_id(srv, "api-renamed");
	PRL_UINT32 ram = 0;
	OK(PrlVmCfg_GetRamSize(again, &ram));
	g_assert_cmpuint(ram, ==, 3072);
	OK(PrlVmCfg_IsTemplate(again, &is_tmpl));
	g_assert_true(is_tmpl);
	g_assert_cmphex(wait_job(PrlVm_Start(again), NULL), ==, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	g_assert_cmphex(wait_job(PrlVm_BeginEdit(again), NULL), ==, PRL_ERR_SUCCESS);
	OK(PrlVmCfg_SetTemplateSign(again, PRL_FALSE));
	g_assert_cmphex(wait_job(PrlVm_Commit(again), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmphex(wait_job(PrlVm_Delete(again, PRL_INVALID_HANDLE), NULL), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(again);
	PrlHandle_Free(clone);
	PrlHandle_Free(tmpl);
	wait_job(PrlSrv_Logoff(srv), NULL);
	PrlHandle_Free(srv);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!tp_fake_available()) {
		g_print("1..0 # SKIP python3 and openssl are needed for the fake Proxmox server\n");
		return 0;
	}
	OK(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0));
	fake = tp_fake_start(NULL, NULL);
	g_test_add_func("/pve/api/connect-and-list", test_connect_and_list);
	g_test_add_func("/pve/api/login-ticket", test_login_ticket);
	g_test_add_func("/pve/api/power-and-task-id", test_power_and_task_id);
	g_test_add_func("/pve/api/clone-snapshots-edit", test_clone_snapshots_edit);
	int rc = g_test_run();
	PRL_UINT32 left = 0;
	PrlDbg_GetHandlesNum(&left, PHT_ERROR);
	tp_fake_stop(fake);
	PrlApi_Deinit();
	if (left != 0) {
		g_printerr("%u handles leaked\n", left);
		return 1;
	}
	return rc;
}

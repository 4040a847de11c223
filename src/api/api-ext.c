/* prlkit extensions (PrlApiExt.h) that are not VM operations: connecting with settings,
 * driver information, guest addresses, raw platform words, task ids. */
#include "config.h"

#include "api-async.h"
#include "core-conn.h"
#include "core-info.h"
#include "core-server.h"
#include "core-task.h"
#include "core-vm.h"
#include "util-settings.h"

PRL_ASYNC_METHOD(PrlSrv_Connect)(PRL_HANDLE hServer, PRL_CONST_STR sUriOrDriver,
                                 PRL_CONST_STR sSettingsJson, PRL_UINT32 nFlags)
{
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(PJOC_SRV_CONNECT);
	PK_AUTO pk_server *srv = NULL;
	PK_ASYNC_GET(hServer, PHT_SERVER, srv, PJOC_SRV_CONNECT, "server");
	GHashTable *settings = pk_settings_new();
	GError *error = NULL;
	if (!pk_settings_merge_json(settings, sSettingsJson, &error)) {
		g_hash_table_unref(settings);
		PRL_HANDLE h = pk_job_fail(pk_job_new(PJOC_SRV_CONNECT, srv, NULL),
		                           PRL_ERR_INVALID_ARG, "invalid settings: %s", error->message);
		g_error_free(error);
		return h;
	}
	PRL_HANDLE h = pk_server_connect(srv, PJOC_SRV_CONNECT, sUriOrDriver, settings);
	g_hash_table_unref(settings);
	return h;
}

PRL_METHOD(PrlSrv_GetDriverInfo)(PRL_HANDLE hServer, PRL_STR sName, PRL_UINT32_PTR pnNameBufLength,
                                 PRL_UINT64_PTR pnFeatures)
{
	if (pnNameBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_server *srv = NULL;
	PK_SYNC_GET(hServer, PHT_SERVER, srv);
	pk_conn *c = pk_server_ref_conn(srv);
	if (c == NULL)
		return PRL_ERR_NOT_CONNECTED_TO_DISPATCHER;
	if (pnFeatures != NULL)
		*pnFeatures = pk_conn_get_features(c);
	PRL_RESULT r = pk_string_out(pk_conn_get_driver(c)->name, sName, pnNameBufLength);
	pk_conn_unref(c);
	return r;
}

PRL_METHOD(PrlApi_GetDriverFeatures)(PRL_CONST_STR sUriOrDriver, PRL_CONST_STR sSettingsJson,
                                     PRL_UINT64_PTR pnFeatures)
{
	if (pnFeatures == NULL)
		return PRL_ERR_INVALID_ARG;
	GHashTable *settings = pk_settings_new();
	GError *error = NULL;
	const pk_driver **drivers = NULL;
	GUri *uri = NULL;
	PRL_RESULT r = PRL_ERR_SUCCESS;
	if (!pk_settings_merge_json(settings, sSettingsJson, &error) ||
	    !pk_conn_select(sUriOrDriver, settings, &drivers, &uri, &error)) {
		r = PRL_ERR_INVALID_ARG;
		g_error_free(error);
	} else {
		*pnFeatures = pk_driver_features_for(drivers[0], settings);
	}
	g_free(drivers);
	if (uri != NULL)
		g_uri_unref(uri);
	g_hash_table_unref(settings);
	return r;
}

/* ---- VM configuration extras ---- */

static PRL_RESULT string_list(PRL_HANDLE hVmCfg, gboolean ips, PRL_HANDLE_PTR phStrList)
{
	if (phStrList == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_vm *vm = NULL;
	PK_SYNC_GET(hVmCfg, PHT_VM_CONFIGURATION, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	pk_strlist *l = pk_strlist_new_from(ips ? d->ips : d->macs);
	pk_vm_unlock(vm);
	*phStrList = pk_object_give(l);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlVmCfg_GetIpAddresses)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phStrList)
{
	return string_list(hVmCfg, TRUE, phStrList);
}

PRL_METHOD(PrlVmCfg_GetMacAddresses)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phStrList)
{
	return string_list(hVmCfg, FALSE, phStrList);
}

PRL_METHOD(PrlVmCfg_GetOsTypeName)(PRL_HANDLE hVmCfg, PRL_STR sName, PRL_UINT32_PTR pnNameBufLength)
{
	PK_AUTO pk_vm *vm = NULL;
	PK_SYNC_GET(hVmCfg, PHT_VM_CONFIGURATION, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	PRL_RESULT r = pk_string_out(d->os_type_name, sName, pnNameBufLength);
	pk_vm_unlock(vm);
	return r;
}

PRL_METHOD(PrlVmInfo_GetPowerStateName)(PRL_HANDLE hVmInfo, PRL_STR sName,
                                        PRL_UINT32_PTR pnNameBufLength)
{
	PK_AUTO pk_vm_info *info = NULL;
	PK_SYNC_GET(hVmInfo, PHT_VM_INFO, info);
	return pk_string_out(info->power_state, sName, pnNameBufLength);
}

/* ---- task ids ---- */

PRL_METHOD(PrlJob_GetTaskId)(PRL_HANDLE hJob, PRL_UINT32 nTimeoutMs, PRL_STR sTaskId,
                             PRL_UINT32_PTR pnTaskIdBufLength)
{
	if (pnTaskIdBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	char *id = NULL;
	PK_RETURN_IF_FAILED(pk_job_get_task_id(job, nTimeoutMs, &id));
	PRL_RESULT r = pk_string_out(id, sTaskId, pnTaskIdBufLength);
	g_free(id);
	return r;
}

/* A clone's id once the platform gave it; for other jobs the VM they act on. */
PRL_METHOD(PrlJob_GetVmId)(PRL_HANDLE hJob, PRL_STR sVmId, PRL_UINT32_PTR pnVmIdBufLength)
{
	if (pnVmIdBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_job *job = NULL;
	PK_SYNC_GET(hJob, PHT_JOB, job);
	char *id = pk_job_dup_vm_id(job);
	PRL_JOB_OPERATION_CODE op = pk_job_get_op(job);
	gboolean creates = op == PJOC_VM_CLONE || op == PJOC_VM_CLONE_FROM_SNAPSHOT;
	if (id == NULL && !creates && pk_job_get_vm(job) != NULL)
		id = g_strdup(pk_vm_get_id(pk_job_get_vm(job)));
	if (id == NULL)
		return PRL_ERR_NO_DATA;
	PRL_RESULT r = pk_string_out(id, sVmId, pnVmIdBufLength);
	g_free(id);
	return r;
}

PRL_ASYNC_METHOD(PrlSrv_GetTaskInfo)(PRL_HANDLE hServer, PRL_CONST_STR sTaskId)
{
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(PJOC_SRV_GET_TASK_INFO);
	PK_AUTO pk_server *srv = NULL;
	PK_ASYNC_GET(hServer, PHT_SERVER, srv, PJOC_SRV_GET_TASK_INFO, "server");
	return pk_task_get_info(srv, sTaskId);
}

/* ---- PHT_RUNNING_TASK ---- */

#define PK_TASK_GET(hTask, t)                           \
	PK_AUTO pk_running_task *t = NULL;                  \
	PK_SYNC_GET(hTask, PHT_RUNNING_TASK, t)

PRL_METHOD(PrlRunningTask_GetTaskUuid)(PRL_HANDLE hTask, PRL_STR sTaskUuid,
                                       PRL_UINT32_PTR pnTaskUuidBufLength)
{
	PK_TASK_GET(hTask, t);
	return pk_string_out(t->task_id, sTaskUuid, pnTaskUuidBufLength);
}

PRL_METHOD(PrlRunningTask_GetState)(PRL_HANDLE hTask, PRL_JOB_STATUS_PTR pnState)
{
	if (pnState == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_TASK_GET(hTask, t);
	*pnState = t->state;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlRunningTask_GetRetCode)(PRL_HANDLE hTask, PRL_RESULT_PTR pnRetCode)
{
	if (pnRetCode == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_TASK_GET(hTask, t);
	if (t->state != PJS_FINISHED)
		return PRL_ERR_OPERATION_PENDING;
	*pnRetCode = t->code;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlRunningTask_GetMessage)(PRL_HANDLE hTask, PRL_STR sMessage,
                                      PRL_UINT32_PTR pnMessageBufLength)
{
	PK_TASK_GET(hTask, t);
	return pk_string_out(t->message, sMessage, pnMessageBufLength);
}

/* PRL_ERR_OPERATION_PENDING while running; a failed task returns its error code. */
PRL_METHOD(PrlRunningTask_GetResult)(PRL_HANDLE hTask, PRL_HANDLE_PTR phResult)
{
	if (phResult == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_TASK_GET(hTask, t);
	if (t->state != PJS_FINISHED)
		return PRL_ERR_OPERATION_PENDING;
	if (PRL_FAILED(t->code))
		return t->code;
	*phResult = t->result != NULL ? pk_object_give_ref(t->result) : pk_object_give(pk_result_new());
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlRunningTask_GetVmId)(PRL_HANDLE hTask, PRL_STR sVmId, PRL_UINT32_PTR pnVmIdBufLength)
{
	PK_TASK_GET(hTask, t);
	if (t->vm_id == NULL)
		return PRL_ERR_NO_DATA;
	return pk_string_out(t->vm_id, sVmId, pnVmIdBufLength);
}

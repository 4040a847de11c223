/* PrlSrv_*, PrlLoginResponse_*, PrlSrvCfg_* and event handler registration. */
#include "config.h"

#include <string.h>
#include "api-async.h"
#include "core-conn.h"
#include "core-info.h"
#include "core-ops.h"
#include "core-server.h"
#include "core-task.h"
#include "core-vm.h"
#include "util-settings.h"

PRL_METHOD(PrlSrv_Create)(PRL_HANDLE_PTR handle)
{
	PK_RETURN_IF_NOT_INITIALIZED();
	if (handle == NULL)
		return PRL_ERR_INVALID_ARG;
	*handle = pk_object_give(pk_server_new());
	return PRL_ERR_SUCCESS;
}

/* host: a URI; a bare host name (driver from PRLKIT_DEFAULT_DRIVER, setting "host"); or
 * empty/NULL: the default URI. SDK programs say "localhost" for this machine: without
 * PRLKIT_DEFAULT_DRIVER that is the default (local) connection too. */
static gboolean is_loopback_name(const char *host)
{
	return g_ascii_strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
	       strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

static PRL_HANDLE login(PRL_HANDLE hServer, PRL_JOB_OPERATION_CODE op, const char *host,
                        const char *user, const char *passwd)
{
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(op);
	PK_AUTO pk_server *srv = NULL;
	PK_ASYNC_GET(hServer, PHT_SERVER, srv, op, "server");

	GHashTable *settings = pk_settings_new();
	if (user != NULL && *user != '\0')
		g_hash_table_insert(settings, g_strdup("username"), g_strdup(user));
	if (passwd != NULL && *passwd != '\0')
		g_hash_table_insert(settings, g_strdup("password"), g_strdup(passwd));
	const char *target;
	const char *default_driver = g_getenv("PRLKIT_DEFAULT_DRIVER");
	if (host == NULL || *host == '\0' ||
	    (is_loopback_name(host) && (default_driver == NULL || *default_driver == '\0'))) {
		target = pk_conn_default_uri();
	} else if (strchr(host, ':') != NULL) {
		target = host;
	} else {
		target = default_driver;
		if (target == NULL || *target == '\0') {
			g_hash_table_unref(settings);
			return pk_job_fail(pk_job_new(op, srv, NULL), PRL_ERR_INVALID_ARG,
			                   "'%s' is a host name, not a prlkit URI: pass e.g. "
			                   "pve://%s:8006, or set PRLKIT_DEFAULT_DRIVER", host, host);
		}
		g_hash_table_insert(settings, g_strdup("host"), g_strdup(host));
	}
	PRL_HANDLE h = pk_server_connect(srv, op, target, settings);
	g_hash_table_unref(settings);
	return h;
}

PRL_ASYNC_METHOD(PrlSrv_Login)(PRL_HANDLE hServer, PRL_CONST_STR host, PRL_CONST_STR user,
                               PRL_CONST_STR passwd, PRL_CONST_STR sPrevSessionUuid,
                               PRL_UINT32 port_cmd, PRL_UINT32 timeout,
                               PRL_SECURITY_LEVEL security_level)
{
	return login(hServer, PJOC_SRV_LOGIN, host, user, passwd);
}

PRL_ASYNC_METHOD(PrlSrv_LoginEx)(PRL_HANDLE hServer, PRL_CONST_STR host, PRL_CONST_STR user,
                                 PRL_CONST_STR passwd, PRL_CONST_STR sPrevSessionUuid,
                                 PRL_UINT32 port_cmd, PRL_UINT32 timeout,
                                 PRL_SECURITY_LEVEL security_level, PRL_UINT32 flags)
{
	return login(hServer, PJOC_SRV_LOGIN, host, user, passwd);
}

PRL_ASYNC_METHOD(PrlSrv_LoginLocal)(PRL_HANDLE hServer, PRL_CONST_STR sPrevSessionUuid,
                                    PRL_UINT32 port, PRL_SECURITY_LEVEL security_level)
{
	return login(hServer, PJOC_SRV_LOGIN_LOCAL, NULL, NULL, NULL);
}

PRL_ASYNC_METHOD(PrlSrv_LoginLocalEx)(PRL_HANDLE hServer, PRL_CONST_STR sPrevSessionUuid,
                                      PRL_UINT32 port, PRL_SECURITY_LEVEL security_level,
                                      PRL_UINT32 flags)
{
	return login(hServer, PJOC_SRV_LOGIN_LOCAL, NULL, NULL, NULL);
}

PRL_ASYNC_METHOD(PrlSrv_Logoff)(PRL_HANDLE hServer)
{
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(PJOC_SRV_LOGOFF);
	PK_AUTO pk_server *srv = NULL;
	PK_ASYNC_GET(hServer, PHT_SERVER, srv, PJOC_SRV_LOGOFF, "server");
	return pk_server_logoff(srv);
}

PRL_METHOD(PrlSrv_IsConnected)(PRL_HANDLE hServer, PRL_BOOL_PTR pbConnected,
                               PRL_BOOL_PTR pbIsConnectionLocal)
{
	if (pbConnected == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_server *srv = NULL;
	PK_SYNC_GET(hServer, PHT_SERVER, srv);
	pk_conn *c = pk_server_ref_conn(srv);
	*pbConnected = c != NULL && pk_conn_is_open(c) ? PRL_TRUE : PRL_FALSE;
	if (pbIsConnectionLocal != NULL)
		*pbIsConnectionLocal = c != NULL && pk_conn_is_local(c) ? PRL_TRUE : PRL_FALSE;
	if (c != NULL)
		pk_conn_unref(c);
	return PRL_ERR_SUCCESS;
}

/* ---- event handlers (server and VM handles) ---- */

PRL_RESULT pk_api_reg_handler(PRL_HANDLE h, PRL_HANDLE_TYPE want, PRL_EVENT_HANDLER_PTR fn,
                              PRL_VOID_PTR data, gboolean add)
{
	if (fn == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_object *obj = NULL;
	PK_SYNC_GET(h, want, obj);
	switch (pk_object_type(obj)) {
	case PHT_SERVER:
		return add ? pk_server_add_handler((pk_server *)obj, fn, data)
		           : pk_server_remove_handler((pk_server *)obj, fn, data);
	case PHT_VIRTUAL_MACHINE:
		return add ? pk_vm_add_handler((pk_vm *)obj, fn, data)
		           : pk_vm_remove_handler((pk_vm *)obj, fn, data);
	default:
		return PRL_ERR_INVALID_ARG;
	}
}

PRL_METHOD(PrlSrv_RegEventHandler)(PRL_HANDLE hServer, PRL_EVENT_HANDLER_PTR handler,
                                   PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hServer, PHT_SERVER, handler, userData, TRUE);
}

PRL_METHOD(PrlSrv_UnregEventHandler)(PRL_HANDLE hServer, PRL_EVENT_HANDLER_PTR handler,
                                     PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hServer, PHT_SERVER, handler, userData, FALSE);
}

PRL_METHOD(PrlHandle_RegEventHandler)(PRL_HANDLE hObj, PRL_EVENT_HANDLER_PTR handler,
                                      PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hObj, PHT_ERROR, handler, userData, TRUE);
}

PRL_METHOD(PrlHandle_UnregEventHandler)(PRL_HANDLE hObj, PRL_EVENT_HANDLER_PTR handler,
                                        PRL_VOID_PTR userData)
{
	return pk_api_reg_handler(hObj, PHT_ERROR, handler, userData, FALSE);
}

/* ---- server jobs ---- */

#define PK_SRV_ASYNC(hServer, op, srv)                          \
	PK_ASYNC_RETURN_IF_NOT_INITIALIZED(op);                     \
	PK_AUTO pk_server *srv = NULL;                              \
	PK_ASYNC_GET(hServer, PHT_SERVER, srv, op, "server")

PRL_ASYNC_METHOD(PrlSrv_GetSrvConfig)(PRL_HANDLE hServer)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_GET_SRV_CONFIG, srv);
	return pk_ops_srv_config(srv);
}

PRL_ASYNC_METHOD(PrlSrv_GetVmList)(PRL_HANDLE hServer)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_GET_VM_LIST, srv);
	return pk_ops_srv_vm_list(srv, 0);
}

/* Without PGVLF_GET_STATE_INFO the guest information (IP addresses) is skipped, which is
 * much cheaper on platforms that ask a guest agent; the power state is always there.
 * PGVLF_GET_ONLY_IDENTITY_INFO skips the configuration too (id, name, template flag and
 * state only): the cheapest way to list, and the SDK's. */
PRL_ASYNC_METHOD(PrlSrv_GetVmListEx)(PRL_HANDLE hServer, PRL_UINT32 nFlags)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_GET_VM_LIST, srv);
	guint flags = (nFlags & PGVLF_GET_STATE_INFO) ? 0 : PK_GET_NO_GUEST_INFO;
	if (nFlags & PGVLF_GET_ONLY_IDENTITY_INFO)
		flags = PK_LIST_IDENTITY_ONLY | PK_GET_NO_GUEST_INFO;
	return pk_ops_srv_vm_list(srv, flags);
}

PRL_ASYNC_METHOD(PrlSrv_GetVmConfig)(PRL_HANDLE hServer, PRL_CONST_STR sSearchId,
                                     PRL_UINT32 nFlags)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_GET_VM_CONFIG, srv);
	if (sSearchId == NULL || *sSearchId == '\0')
		return pk_job_fail(pk_job_new(PJOC_SRV_GET_VM_CONFIG, srv, NULL), PRL_ERR_INVALID_ARG,
		                   "empty VM id or name");
	return pk_ops_srv_vm_config(srv, sSearchId, nFlags);
}

PRL_ASYNC_METHOD(PrlSrv_GetStatistics)(PRL_HANDLE hServer)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_GET_STATISTICS, srv);
	return pk_ops_srv_statistics(srv);
}

PRL_ASYNC_METHOD(PrlSrv_AttachToLostTask)(PRL_HANDLE hServer, PRL_CONST_STR sTaskId)
{
	PK_SRV_ASYNC(hServer, PJOC_SRV_ATTACH_TO_LOST_TASK, srv);
	return pk_task_attach(srv, sTaskId);
}

/* ---- PHT_LOGIN_RESPONSE ---- */

PRL_METHOD(PrlLoginResponse_GetSessionUuid)(PRL_HANDLE hLoginResp, PRL_STR sSessionUuid,
                                            PRL_UINT32_PTR pnSessionUuidBufLength)
{
	PK_AUTO pk_login_response *lr = NULL;
	PK_SYNC_GET(hLoginResp, PHT_LOGIN_RESPONSE, lr);
	return pk_string_out(lr->session_uuid, sSessionUuid, pnSessionUuidBufLength);
}

PRL_METHOD(PrlLoginResponse_GetProductVersion)(PRL_HANDLE hLoginResp, PRL_STR sProductVersion,
                                               PRL_UINT32_PTR pnProductVersionBufLength)
{
	PK_AUTO pk_login_response *lr = NULL;
	PK_SYNC_GET(hLoginResp, PHT_LOGIN_RESPONSE, lr);
	return pk_string_out(lr->product_version, sProductVersion, pnProductVersionBufLength);
}

/* ---- PHT_SERVER_CONFIG ---- */

PRL_METHOD(PrlSrvCfg_GetCpuCount)(PRL_HANDLE hSrvConfig, PRL_UINT32_PTR pnCpuCount)
{
	if (pnCpuCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_server_config *cfg = NULL;
	PK_SYNC_GET(hSrvConfig, PHT_SERVER_CONFIG, cfg);
	*pnCpuCount = cfg->cpu_count;
	return PRL_ERR_SUCCESS;
}

/* MB (saturates at 4 PB). */
PRL_METHOD(PrlSrvCfg_GetHostRamSize)(PRL_HANDLE hSrvConfig, PRL_UINT32_PTR pnHostRamSize)
{
	if (pnHostRamSize == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_server_config *cfg = NULL;
	PK_SYNC_GET(hSrvConfig, PHT_SERVER_CONFIG, cfg);
	*pnHostRamSize = (PRL_UINT32)MIN(cfg->ram_mb, (guint64)G_MAXUINT32);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlSrvCfg_GetHostname)(PRL_HANDLE hSrvConfig, PRL_STR sHostname,
                                  PRL_UINT32_PTR pnHostnameBufLength)
{
	PK_AUTO pk_server_config *cfg = NULL;
	PK_SYNC_GET(hSrvConfig, PHT_SERVER_CONFIG, cfg);
	return pk_string_out(cfg->hostname, sHostname, pnHostnameBufLength);
}

PRL_METHOD(PrlSrvCfg_GetCpuModel)(PRL_HANDLE hSrvConfig, PRL_STR sCpuModel,
                                  PRL_UINT32_PTR pnCpuModelBufLength)
{
	PK_AUTO pk_server_config *cfg = NULL;
	PK_SYNC_GET(hSrvConfig, PHT_SERVER_CONFIG, cfg);
	return pk_string_out(cfg->cpu_model, sCpuModel, pnCpuModelBufLength);
}

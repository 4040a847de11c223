/* Library-level entry points: init/deinit, version, error descriptions, debug helpers.
 *
 * Which calls need PrlApi_InitEx: calls that create something from nothing
 * (PrlApi_CreateStringsList, ...) and every operation of the runtime. Calls on a handle the
 * caller already holds work at any time, because a call made before init still returns a
 * handle (a finished job carrying PRL_ERR_API_WASNT_INITIALIZED) that must be inspectable
 * and freeable. Pure lookups (version, descriptions, PrlDbg_*) work at any time too. */
#include "config.h"

#include "prlkit/PrlApi.h"
#include "core-api.h"
#include "core-error.h"
#include "core-job.h"
#include "core-object.h"
#include "core-result.h"
#include "util-log.h"

static GMutex init_lock;      /* serializes InitEx/Deinit, held across runtime start/stop */
static guint init_count;      /* init_lock */
static gint initialized;      /* atomic mirror of init_count > 0, for the fast check */

gboolean pk_api_initialized(void)
{
	return g_atomic_int_get(&initialized) != 0;
}

#define PK_HANDLE_TYPE_LIST(X) \
	X(PHT_ERROR) \
	X(PHT_SERVER) \
	X(PHT_SERVER_CONFIG) \
	X(PHT_VIRTUAL_MACHINE) \
	X(PHT_VIRTUAL_DEV_HARD_DISK) \
	X(PHT_VIRTUAL_DEV_NET_ADAPTER) \
	X(PHT_VIRTUAL_DEV_OPTICAL_DISK) \
	X(PHT_JOB) \
	X(PHT_EVENT) \
	X(PHT_RESULT) \
	X(PHT_VM_INFO) \
	X(PHT_EVENT_PARAMETER) \
	X(PHT_SYSTEM_STATISTICS) \
	X(PHT_SYSTEM_STATISTICS_CPU) \
	X(PHT_SERVER_INFO) \
	X(PHT_STRINGS_LIST) \
	X(PHT_LOGIN_RESPONSE) \
	X(PHT_RUNNING_TASK) \
	X(PHT_HANDLES_LIST)

static const struct {
	PRL_HANDLE_TYPE type;
	const char *name;
} handle_types[] = {
#define PK_HT_ENTRY_(t) { t, #t },
	PK_HANDLE_TYPE_LIST(PK_HT_ENTRY_)
#undef PK_HT_ENTRY_
};

static void log_leaked_handles(void)
{
	guint total = pk_handle_count(PHT_ERROR);
	if (total == 0)
		return;
	GString *s = g_string_new(NULL);
	for (gsize i = 1; i < G_N_ELEMENTS(handle_types); i++) {
		guint n = pk_handle_count(handle_types[i].type);
		if (n > 0)
			g_string_append_printf(s, "%s%s=%u", s->len > 0 ? ", " : "", handle_types[i].name, n);
	}
	/* A message, not a warning: GTest makes warnings fatal, and a leak report is advice. */
	g_message("PrlApi_Deinit: %u handle(s) still alive: %s", total, s->str);
	g_string_free(s, TRUE);
}

PRL_METHOD(PrlApi_InitEx)(PRL_UINT32 version, PRL_APPLICATION_MODE nAppMode, PRL_UINT32 nFlags,
                          PRL_UINT32 nReserved)
{
	if (version > PARALLELS_API_VER || version < PRLK_API_VER_MIN)
		return PRL_ERR_API_INCOMPATIBLE;
	/* PAM_DESKTOP and PAM_WORKSTATION are aliases of PAM_SERVER. Flags are hints about the
	 * SDK's own dispatcher (PACF_*), none of which changes prlkit's behaviour. */
	if (nAppMode != PAM_SERVER)
		return PRL_ERR_INVALID_ARG;

	g_mutex_lock(&init_lock);
	if (init_count++ == 0) {
		pk_log_init();
		pk_runtime_init();
		g_atomic_int_set(&initialized, 1);
	}
	g_mutex_unlock(&init_lock);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlApi_Init)(PRL_UINT32 version)
{
	return PrlApi_InitEx(version, PAM_SERVER, 0, 0);
}

PRL_METHOD(PrlApi_Deinit)(void)
{
	g_mutex_lock(&init_lock);
	if (init_count == 0) {
		g_mutex_unlock(&init_lock);
		return PRL_ERR_API_WASNT_INITIALIZED;
	}
	if (--init_count == 0) {
		/* New calls are refused from here on; the runtime then waits for jobs in flight. */
		g_atomic_int_set(&initialized, 0);
		pk_runtime_shutdown();
		if (g_getenv("PRLKIT_DEBUG") != NULL)
			log_leaked_handles();
	}
	g_mutex_unlock(&init_lock);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlApi_GetVersion)(PRL_UINT32_PTR version)
{
	if (version == NULL)
		return PRL_ERR_INVALID_ARG;
	*version = PARALLELS_API_VER;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlApi_GetResultDescription)(PRL_RESULT nErrCode, PRL_BOOL bIsBriefMessage,
                                        PRL_BOOL bFormated, PRL_STR sErrString,
                                        PRL_UINT32_PTR pnErrStringBufLength)
{
	if (pnErrStringBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	/* prlkit has one English text per code: the brief message is that text, the full one
	 * adds the code's name. bFormated has nothing to substitute. */
	const char *desc = pk_result_description(nErrCode);
	const char *name = pk_result_name(nErrCode);
	g_autofree char *unknown = NULL;
	if (desc == NULL)
		desc = unknown = g_strdup_printf("Unknown result code 0x%08X.", (guint)nErrCode);
	g_autofree char *text = bIsBriefMessage || name == NULL
	                            ? g_strdup(desc)
	                            : g_strdup_printf("%s (%s)", desc, name);
	return pk_string_out(text, sErrString, pnErrStringBufLength);
}

PRL_METHOD(PrlApi_CreateStringsList)(PRL_HANDLE_PTR phStringsList)
{
	PK_RETURN_IF_NOT_INITIALIZED();
	if (phStringsList == NULL)
		return PRL_ERR_INVALID_ARG;
	*phStringsList = pk_object_give(pk_strlist_new());
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlApi_CreateHandlesList)(PRL_HANDLE_PTR phHandlesList)
{
	PK_RETURN_IF_NOT_INITIALIZED();
	if (phHandlesList == NULL)
		return PRL_ERR_INVALID_ARG;
	*phHandlesList = pk_object_give(pk_hndlist_new());
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlDbg_PrlResultToString)(PRL_RESULT value, PRL_CONST_STR_PTR pResult)
{
	if (pResult == NULL)
		return PRL_ERR_INVALID_ARG;
	const char *name = pk_result_name(value);
	if (name == NULL)
		return PRL_ERR_INVALID_ARG;  /* *pResult untouched: prl_result_to_string gives "" */
	*pResult = name;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlDbg_HandleTypeToString)(PRL_HANDLE_TYPE value, PRL_CONST_STR_PTR pResult)
{
	if (pResult == NULL)
		return PRL_ERR_INVALID_ARG;
	for (gsize i = 0; i < G_N_ELEMENTS(handle_types); i++) {
		if (handle_types[i].type == value) {
			*pResult = handle_types[i].name;
			return PRL_ERR_SUCCESS;
		}
	}
	return PRL_ERR_INVALID_ARG;
}

PRL_METHOD(PrlDbg_EventTypeToString)(PRL_EVENT_TYPE value, PRL_CONST_STR_PTR pResult)
{
	if (pResult == NULL)
		return PRL_ERR_INVALID_ARG;
	switch ((int)value) {
#define PK_EVENT_NAME_CASE_(name, code) case code: *pResult = #name; return PRL_ERR_SUCCESS;
	PRLK_EVENT_LIST(PK_EVENT_NAME_CASE_)
#undef PK_EVENT_NAME_CASE_
	default:
		return PRL_ERR_INVALID_ARG;
	}
}

PRL_METHOD(PrlDbg_GetHandlesNum)(PRL_UINT32_PTR pNum, PRL_HANDLE_TYPE type)
{
	if (pNum == NULL)
		return PRL_ERR_INVALID_ARG;
	/* Events queued for handlers, and workers letting go of jobs they finished, hold
	 * references for a moment: a program that freed everything counts what it still holds,
	 * not what the library is about to drop. */
	pk_runtime_wait_quiet(2000);
	*pNum = pk_handle_count(type);
	return PRL_ERR_SUCCESS;
}

/* Helpers for the runtime's unit tests (public API + the fake driver). */
#ifndef PRLKIT_TEST_RT_TEST_H
#define PRLKIT_TEST_RT_TEST_H

#include <glib.h>
#include <glib/gstdio.h>
#include "prlkit/Parallels.h"
#include "fake-driver.h"

static inline void rt_init(void)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
}

static inline void rt_deinit_and_check_leaks(void)
{
	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

/* Wait for hJob, free it, return its code (the result handle in *res if asked). */
static inline PRL_RESULT rt_wait(PRL_HANDLE hJob, PRL_HANDLE *res)
{
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	g_assert_true(hJob != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_Wait(hJob, 20000), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlJob_GetRetCode(hJob, &rc), ==, PRL_ERR_SUCCESS);
	if (res != NULL) {
		*res = PRL_INVALID_HANDLE;
		if (PRL_SUCCEEDED(rc))
			g_assert_cmpint(PrlJob_GetResult(hJob, res), ==, PRL_ERR_SUCCESS);
	}
	g_assert_cmpint(PrlHandle_Free(hJob), ==, PRL_ERR_SUCCESS);
	return rc;
}

/* The first param of a job's result (a new handle), asserting success. */
static inline PRL_HANDLE rt_wait_param(PRL_HANDLE hJob)
{
	PRL_HANDLE res = PRL_INVALID_HANDLE, p = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(hJob, &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(res, &p), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(res);
	return p;
}

/* A fresh directory for the fake driver's tasks (g_free it; removed by the test env). */
static inline char *rt_tmpdir(const char *name)
{
	const char *base = g_getenv("PRLKIT_TEST_TMPDIR");
	char *dir = g_build_filename(base != NULL ? base : g_get_tmp_dir(), name, NULL);
	if (base == NULL) {
		g_free(dir);
		char *tmpl = g_strdup_printf("prlkit-%s-XXXXXX", name);
		dir = g_dir_make_tmp(tmpl, NULL);
		g_free(tmpl);
	}
	g_mkdir_with_parents(dir, 0700);
	return dir;
}

/* A server connected to the fake driver (tasks under dir). */
static inline PRL_HANDLE rt_connect_fake(const char *dir, const char *settings_json)
{
	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	char *uri = g_strdup_printf("fake://%s", dir);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(srv, uri, settings_json, 0), NULL), ==,
	                PRL_ERR_SUCCESS);
	g_free(uri);
	return srv;
}

static inline void rt_logoff_free(PRL_HANDLE srv)
{
	g_assert_cmpint(rt_wait(PrlSrv_Logoff(srv), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(srv), ==, PRL_ERR_SUCCESS);
}

/* The VM handle of id (asserting success). */
static inline PRL_HANDLE rt_vm(PRL_HANDLE srv, const char *id)
{
	return rt_wait_param(PrlSrv_GetVmConfig(srv, id, PGVC_SEARCH_BY_UUID));
}

static inline char *rt_string(PRL_RESULT (*get)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR), PRL_HANDLE h)
{
	PRL_UINT32 len = 0;
	g_assert_cmpint(get(h, NULL, &len), ==, PRL_ERR_SUCCESS);
	char *s = g_malloc(len);
	g_assert_cmpint(get(h, s, &len), ==, PRL_ERR_SUCCESS);
	return s;
}

#endif

/* The handle table and the handle entry points: validation of bad handles, reference
 * counting, per-type counters, PrlApi_InitEx/Deinit reference counting and version checks,
 * and concurrent use of one handle. */
#include "config.h"

#include <string.h>

#include "prlkit/Parallels.h"
#include "core-api.h"
#include "core-object.h"
#include "core-result.h"

static guint32 live(PRL_HANDLE_TYPE type)
{
	PRL_UINT32 n = G_MAXUINT32;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, type), ==, PRL_ERR_SUCCESS);
	return n;
}

static void assert_no_leaks(void)
{
	g_assert_cmpuint(live(PHT_ERROR), ==, 0);
}

static void init(void)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
}

static void deinit(void)
{
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_SUCCESS);
}

/* Runs first: nothing has initialized the library yet. */
static void test_before_init(void)
{
	PRL_HANDLE h = PRL_INVALID_HANDLE;
	g_assert_false(pk_api_initialized());
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_API_WASNT_INITIALIZED);
	g_assert_true(h == PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlApi_CreateHandlesList(&h), ==, PRL_ERR_API_WASNT_INITIALIZED);
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_API_WASNT_INITIALIZED);

	/* The table works before init: calls made before init still hand out handles (finished
	 * error jobs) that must be inspectable and freeable. */
	h = pk_object_give(pk_strlist_new());
	PRL_HANDLE_TYPE type = PHT_ERROR;
	g_assert_cmpint(PrlHandle_GetType(h, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(type, ==, PHT_STRINGS_LIST);
	g_assert_cmpint(PrlStrList_AddItem(h, "x"), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 1);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	PRL_UINT32 ver = 0;
	g_assert_cmpint(PrlApi_GetVersion(&ver), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(ver, ==, PARALLELS_API_VER);
	g_assert_cmpint(PrlApi_GetVersion(NULL), ==, PRL_ERR_INVALID_ARG);
	assert_no_leaks();
}

static void test_init_refcount(void)
{
	init();
	init();
	g_assert_cmpint(PrlApi_Init(PARALLELS_API_VER), ==, PRL_ERR_SUCCESS);
	g_assert_true(pk_api_initialized());

	deinit();
	deinit();
	/* Still initialized: one InitEx is left. */
	g_assert_true(pk_api_initialized());
	PRL_HANDLE h = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	deinit();
	g_assert_false(pk_api_initialized());
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_API_WASNT_INITIALIZED);
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_API_WASNT_INITIALIZED);

	/* And again from scratch. */
	init();
	g_assert_cmpint(PrlApi_CreateHandlesList(&h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	deinit();
	assert_no_leaks();
}

static void test_init_checks(void)
{
	static const PRL_UINT32 bad_versions[] = {
		0, 1, PRLK_API_VER_MIN - 1, PARALLELS_API_VER + 1, 0x00100000, G_MAXUINT32,
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad_versions); i++) {
		g_assert_cmpint(PrlApi_InitEx(bad_versions[i], PAM_SERVER, 0, 0), ==,
		                PRL_ERR_API_INCOMPATIBLE);
		g_assert_cmpint(PrlApi_Init(bad_versions[i]), ==, PRL_ERR_API_INCOMPATIBLE);
	}
	g_assert_false(pk_api_initialized());

	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_UNKNOWN, 0, 0), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, (PRL_APPLICATION_MODE)7, 0, 0), ==,
	                PRL_ERR_INVALID_ARG);
	g_assert_false(pk_api_initialized());
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_API_WASNT_INITIALIZED);

	/* The oldest accepted version, the SDK's mode aliases and its flags. */
	g_assert_cmpint(PrlApi_InitEx(PRLK_API_VER_MIN, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlApi_InitEx(VIRTUOZZO_API_VER, PAM_DESKTOP, PACF_NON_INTERACTIVE_MODE, 0),
	                ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_WORKSTATION, 0, 0), ==,
	                PRL_ERR_SUCCESS);
	deinit();
	deinit();
	deinit();
	g_assert_false(pk_api_initialized());
	assert_no_leaks();
}

static void test_bad_handles(void)
{
	init();
	PRL_HANDLE_TYPE type;
	PRL_UINT32 n;
	PRL_HANDLE h;
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlApi_CreateStringsList(NULL), ==, PRL_ERR_INVALID_ARG);

	/* PRL_INVALID_HANDLE → INVALID_ARG. */
	g_assert_cmpint(PrlHandle_GetType(PRL_INVALID_HANDLE, &type), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_AddRef(PRL_INVALID_HANDLE), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(PRL_INVALID_HANDLE), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlStrList_GetItemsCount(PRL_INVALID_HANDLE, &n), ==, PRL_ERR_INVALID_ARG);
	/* NULL out-pointer → INVALID_ARG. */
	g_assert_cmpint(PrlHandle_GetType(h, NULL), ==, PRL_ERR_INVALID_ARG);

	/* Wrong type → INVALID_ARG, and the handle is unharmed. */
	g_assert_cmpint(PrlHndlList_GetItemsCount(h, &n), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlResult_GetParamsCount(h, &n), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvent_GetParamsCount(h, &n), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvtPrm_ToString(h, NULL, &n), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlStrList_GetItemsCount(h, &n), ==, PRL_ERR_SUCCESS);

	/* Garbage → INVALID_HANDLE, never a crash. */
	static const guintptr garbage[] = {
		1, 2, 0x7f, 0xdeadbeef, 0x41414141, G_MAXUINT32, (guintptr)-1, (guintptr)-2,
		(guintptr)0x7fffffffffffULL, (guintptr)0xffff800000000000ULL,
	};
	for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++) {
		PRL_HANDLE g = (PRL_HANDLE)garbage[i];
		if (g == h)
			continue;
		g_assert_cmpint(PrlHandle_GetType(g, &type), ==, PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlHandle_AddRef(g), ==, PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlHandle_Free(g), ==, PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlStrList_GetItemsCount(g, &n), ==, PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlHndlList_AddItem(g, h), ==, PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlResult_GetParamsCount(g, &n), ==, PRL_ERR_INVALID_HANDLE);
	}
	/* A pointer to real memory is no handle either. */
	int local = 0;
	g_assert_cmpint(PrlHandle_GetType((PRL_HANDLE)&local, &type), ==, PRL_ERR_INVALID_HANDLE);

	/* Freed → stale → INVALID_HANDLE; the id is never handed out again. */
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_GetType(h, &type), ==, PRL_ERR_INVALID_HANDLE);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_INVALID_HANDLE);
	g_assert_cmpint(PrlHandle_AddRef(h), ==, PRL_ERR_INVALID_HANDLE);
	g_assert_cmpint(PrlStrList_AddItem(h, "x"), ==, PRL_ERR_INVALID_HANDLE);
	for (int i = 0; i < 100; i++) {
		PRL_HANDLE h2;
		g_assert_cmpint(PrlApi_CreateStringsList(&h2), ==, PRL_ERR_SUCCESS);
		g_assert_true(h2 != h);
		g_assert_cmpint(PrlHandle_Free(h2), ==, PRL_ERR_SUCCESS);
	}
	deinit();
	assert_no_leaks();
}

static void test_refcount(void)
{
	init();
	PRL_HANDLE h;
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_AddRef(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_AddRef(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 1);
	g_assert_cmpint(PrlStrList_AddItem(h, "still alive"), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 0);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_INVALID_HANDLE);

	/* An internal reference keeps the object (and its handle) alive after the caller's
	 * Free; the handle dies with the last reference. */
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	gpointer obj = NULL;
	g_assert_cmpint(pk_handle_get(h, PHT_STRINGS_LIST, &obj), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(pk_handle_get(h, PHT_HANDLES_LIST, &obj), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE_TYPE type;
	g_assert_cmpint(PrlHandle_GetType(h, &type), ==, PRL_ERR_SUCCESS);
	g_assert_true(pk_object_handle(obj) == h);
	pk_object_unref(obj);
	g_assert_cmpint(PrlHandle_GetType(h, &type), ==, PRL_ERR_INVALID_HANDLE);

	/* A dying object (refcount 0) is never resurrected by a weak lookup. */
	pk_object dead = { PK_OBJECT_MAGIC, 0, NULL, 0 };
	g_assert_null(pk_object_try_ref(&dead));
	g_assert_null(pk_object_try_ref(NULL));
	deinit();
	assert_no_leaks();
}

static void test_counts(void)
{
	init();
	PRL_HANDLE s[3], l[2];
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(PrlApi_CreateStringsList(&s[i]), ==, PRL_ERR_SUCCESS);
	for (int i = 0; i < 2; i++)
		g_assert_cmpint(PrlApi_CreateHandlesList(&l[i]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 3);
	g_assert_cmpuint(live(PHT_HANDLES_LIST), ==, 2);
	g_assert_cmpuint(live(PHT_RESULT), ==, 0);
	g_assert_cmpuint(live(PHT_ERROR), ==, 5);
	g_assert_cmpuint(live((PRL_HANDLE_TYPE)0x1234), ==, 0);
	g_assert_cmpint(PrlDbg_GetHandlesNum(NULL, PHT_ERROR), ==, PRL_ERR_INVALID_ARG);

	/* A list holds a reference: the item outlives the caller's handle. */
	g_assert_cmpint(PrlHndlList_AddItem(l[0], s[0]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(s[0]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 3);
	g_assert_cmpint(PrlHandle_Free(l[0]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 2);
	g_assert_cmpuint(live(PHT_HANDLES_LIST), ==, 1);

	g_assert_cmpint(PrlHandle_Free(s[1]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(s[2]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(l[1]), ==, PRL_ERR_SUCCESS);
	deinit();
	assert_no_leaks();
}

#define N_THREADS 8
#define N_ROUNDS 20000

static gpointer addref_free_loop(gpointer data)
{
	PRL_HANDLE h = data;
	for (int i = 0; i < N_ROUNDS; i++) {
		PRL_HANDLE_TYPE type;
		g_assert_cmpint(PrlHandle_AddRef(h), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlHandle_GetType(h, &type), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(type, ==, PHT_STRINGS_LIST);
		g_assert_cmpint(PrlStrList_AddItem(h, "x"), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	}
	return NULL;
}

static gpointer free_once(gpointer data)
{
	return GINT_TO_POINTER(PrlHandle_Free((PRL_HANDLE)data));
}

/* Creates and frees its own handles while poking at stale ones of other threads. */
static gpointer churn(gpointer data)
{
	gpointer *shared = data;  /* atomic: the latest handle any thread made */
	for (int i = 0; i < N_ROUNDS; i++) {
		PRL_HANDLE mine;
		g_assert_cmpint(PrlApi_CreateHandlesList(&mine), ==, PRL_ERR_SUCCESS);
		g_atomic_pointer_set(shared, mine);
		PRL_HANDLE other = g_atomic_pointer_get(shared);
		PRL_UINT32 n;
		PRL_RESULT r = PrlHndlList_GetItemsCount(other, &n);
		g_assert_true(r == PRL_ERR_SUCCESS || r == PRL_ERR_INVALID_HANDLE);
		g_assert_cmpint(PrlHandle_Free(mine), ==, PRL_ERR_SUCCESS);
	}
	return NULL;
}

static void test_threads(void)
{
	init();
	GThread *t[N_THREADS];

	/* Many threads AddRef/Free one handle: the count ends where it started. */
	PRL_HANDLE h;
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	for (int i = 0; i < N_THREADS; i++)
		t[i] = g_thread_new("addref", addref_free_loop, h);
	for (int i = 0; i < N_THREADS; i++)
		g_thread_join(t[i]);
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlStrList_GetItemsCount(h, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, N_THREADS * N_ROUNDS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, 0);

	/* Every thread drops one of N references at once: exactly N frees succeed. */
	for (int round = 0; round < 200; round++) {
		g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
		for (int i = 1; i < N_THREADS; i++)
			g_assert_cmpint(PrlHandle_AddRef(h), ==, PRL_ERR_SUCCESS);
		for (int i = 0; i < N_THREADS; i++)
			t[i] = g_thread_new("free", free_once, h);
		for (int i = 0; i < N_THREADS; i++)
			g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t[i])), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_INVALID_HANDLE);
	}

	/* Concurrent create/lookup/free with stale handles flying around. */
	gpointer shared = NULL;
	for (int i = 0; i < N_THREADS; i++)
		t[i] = g_thread_new("churn", churn, &shared);
	for (int i = 0; i < N_THREADS; i++)
		g_thread_join(t[i]);

	deinit();
	assert_no_leaks();
}

static void test_many_handles(void)
{
	/* The VM list case: many live handles at once, each resolvable, all freed. */
	enum { N = 20000 };
	init();
	PRL_HANDLE *h = g_new(PRL_HANDLE, N);
	for (int i = 0; i < N; i++)
		g_assert_cmpint(PrlApi_CreateStringsList(&h[i]), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(live(PHT_STRINGS_LIST), ==, N);
	for (int i = 0; i < N; i++) {
		PRL_HANDLE_TYPE type;
		g_assert_cmpint(PrlHandle_GetType(h[i], &type), ==, PRL_ERR_SUCCESS);
	}
	for (int i = N - 1; i >= 0; i--)
		g_assert_cmpint(PrlHandle_Free(h[i]), ==, PRL_ERR_SUCCESS);
	g_free(h);
	deinit();
	assert_no_leaks();
}

/* Every message logged, for the leak report test (the writer passes everything on). */
static GMutex captured_lock;
static GString *captured;  /* captured_lock */

static GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields,
                                       gsize n_fields, gpointer data)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0) {
			g_mutex_lock(&captured_lock);
			g_string_append_printf(captured, "%s\n", (const char *)fields[i].value);
			g_mutex_unlock(&captured_lock);
		}
	}
	return g_log_writer_default(level, fields, n_fields, data);
}

/* With PRLKIT_DEBUG set, the last PrlApi_Deinit reports what is still alive. */
static void test_deinit_reports_leaks(void)
{
	g_setenv("PRLKIT_DEBUG", "warning", TRUE);
	init();
	PRL_HANDLE h;
	g_assert_cmpint(PrlApi_CreateStringsList(&h), ==, PRL_ERR_SUCCESS);
	deinit();
	g_unsetenv("PRLKIT_DEBUG");
	g_mutex_lock(&captured_lock);
	g_assert_nonnull(strstr(captured->str, "1 handle(s) still alive: PHT_STRINGS_LIST=1"));
	g_mutex_unlock(&captured_lock);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	/* Nothing alive: nothing to report. */
	g_mutex_lock(&captured_lock);
	g_string_truncate(captured, 0);
	g_mutex_unlock(&captured_lock);
	g_setenv("PRLKIT_DEBUG", "warning", TRUE);
	init();
	deinit();
	g_unsetenv("PRLKIT_DEBUG");
	g_mutex_lock(&captured_lock);
	g_assert_null(strstr(captured->str, "still alive"));
	g_mutex_unlock(&captured_lock);
	assert_no_leaks();
}

int main(int argc, char **argv)
{
	captured = g_string_new(NULL);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/handles/before-init", test_before_init);
	g_test_add_func("/handles/init-refcount", test_init_refcount);
	g_test_add_func("/handles/init-checks", test_init_checks);
	g_test_add_func("/handles/bad-handles", test_bad_handles);
	g_test_add_func("/handles/refcount", test_refcount);
	g_test_add_func("/handles/counts", test_counts);
	g_test_add_func("/handles/threads", test_threads);
	g_test_add_func("/handles/many", test_many_handles);
	g_test_add_func("/handles/deinit-reports-leaks", test_deinit_reports_leaks);
	int r = g_test_run();
	g_string_free(captured, TRUE);
	return r;
}

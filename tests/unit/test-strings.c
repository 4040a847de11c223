/* The string-buffer convention of API.md §4, and strings / handles lists. */
#include "config.h"

#include <string.h>

#include "prlkit/Parallels.h"
#include "core-error.h"
#include "core-result.h"

static void assert_no_leaks(void)
{
	PRL_UINT32 n = G_MAXUINT32;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

static void setup(void)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
}

static void teardown(void)
{
	g_assert_cmpint(PrlApi_Deinit(), ==, PRL_ERR_SUCCESS);
	assert_no_leaks();
}

/* The rule itself, on the internal helper every string getter uses. */
static void test_string_out(void)
{
	char buf[16];
	PRL_UINT32 len;

	/* NULL buffer or zero length: the required size, including the NUL. */
	len = 99;
	g_assert_cmpint(pk_string_out("hello", NULL, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(len, ==, 6);
	memset(buf, 'Z', sizeof buf);
	len = 0;
	g_assert_cmpint(pk_string_out("hello", buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(len, ==, 6);
	g_assert_cmpint(buf[0], ==, 'Z');  /* untouched */

	/* Exact fit and room to spare: the bytes used, including the NUL. */
	len = 6;
	g_assert_cmpint(pk_string_out("hello", buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "hello");
	g_assert_cmpuint(len, ==, 6);
	len = sizeof buf;
	g_assert_cmpint(pk_string_out("hello", buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "hello");
	g_assert_cmpuint(len, ==, 6);

	/* Too small: BUFFER_OVERRUN, the required size, and a NUL-terminated prefix. */
	memset(buf, 'Z', sizeof buf);
	len = 5;
	g_assert_cmpint(pk_string_out("hello", buf, &len), ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 6);
	g_assert_cmpstr(buf, ==, "hell");
	g_assert_cmpint(buf[5], ==, 'Z');  /* nothing written past the given size */
	len = 1;
	g_assert_cmpint(pk_string_out("hello", buf, &len), ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 6);
	g_assert_cmpstr(buf, ==, "");

	/* A cut never splits a UTF-8 character. */
	len = 3;  /* "é" is two bytes: "aé" needs 4 */
	g_assert_cmpint(pk_string_out("a\xc3\xa9", buf, &len), ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 4);
	g_assert_cmpstr(buf, ==, "a");

	/* NULL length pointer: INVALID_ARG. NULL value counts as "". */
	g_assert_cmpint(pk_string_out("x", buf, NULL), ==, PRL_ERR_INVALID_ARG);
	len = sizeof buf;
	g_assert_cmpint(pk_string_out(NULL, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "");
	g_assert_cmpuint(len, ==, 1);
}

/* The same rule through public getters. */
static void test_public_getters(void)
{
	setup();
	char buf[8];
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlApi_GetResultDescription(PRL_ERR_TIMEOUT, PRL_TRUE, PRL_FALSE, NULL, &len),
	                ==, PRL_ERR_SUCCESS);
	PRL_UINT32 need = len;
	g_assert_cmpuint(need, ==, strlen(pk_result_description(PRL_ERR_TIMEOUT)) + 1);
	len = sizeof buf;
	g_assert_cmpint(PrlApi_GetResultDescription(PRL_ERR_TIMEOUT, PRL_TRUE, PRL_FALSE, buf, &len),
	                ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, need);
	g_assert_cmpuint(strlen(buf), ==, sizeof buf - 1);
	g_assert_cmpint(PrlApi_GetResultDescription(PRL_ERR_TIMEOUT, PRL_TRUE, PRL_FALSE, buf, NULL),
	                ==, PRL_ERR_INVALID_ARG);

	g_autofree char *big = g_malloc(need);
	len = need;
	g_assert_cmpint(PrlApi_GetResultDescription(PRL_ERR_TIMEOUT, PRL_TRUE, PRL_FALSE, big, &len),
	                ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(big, ==, pk_result_description(PRL_ERR_TIMEOUT));
	teardown();
}

static void test_strlist(void)
{
	setup();
	PRL_HANDLE l;
	PRL_UINT32 n = 99, len;
	char buf[32];
	g_assert_cmpint(PrlApi_CreateStringsList(&l), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_GetItemsCount(l, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
	g_assert_cmpint(PrlStrList_GetItemsCount(l, NULL), ==, PRL_ERR_INVALID_ARG);

	g_assert_cmpint(PrlStrList_AddItem(l, "alpha"), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_AddItem(l, ""), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_AddItem(l, "gamma"), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_AddItem(l, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlStrList_GetItemsCount(l, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 3);

	len = sizeof buf;
	g_assert_cmpint(PrlStrList_GetItem(l, 0, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "alpha");
	g_assert_cmpuint(len, ==, 6);
	len = sizeof buf;
	g_assert_cmpint(PrlStrList_GetItem(l, 1, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "");
	g_assert_cmpuint(len, ==, 1);
	len = 0;
	g_assert_cmpint(PrlStrList_GetItem(l, 2, NULL, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(len, ==, 6);
	len = 3;
	g_assert_cmpint(PrlStrList_GetItem(l, 2, buf, &len), ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 6);
	g_assert_cmpstr(buf, ==, "ga");
	g_assert_cmpint(PrlStrList_GetItem(l, 0, buf, NULL), ==, PRL_ERR_INVALID_ARG);

	/* Out of range. */
	len = sizeof buf;
	g_assert_cmpint(PrlStrList_GetItem(l, 3, buf, &len), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlStrList_GetItem(l, G_MAXUINT32, buf, &len), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlStrList_RemoveItem(l, 3), ==, PRL_ERR_INVALID_ARG);

	g_assert_cmpint(PrlStrList_RemoveItem(l, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_GetItemsCount(l, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 2);
	len = sizeof buf;
	g_assert_cmpint(PrlStrList_GetItem(l, 1, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "gamma");

	/* Internal helpers used by other modules. */
	pk_strlist *sl = NULL;
	g_assert_cmpint(pk_handle_get(l, PHT_STRINGS_LIST, (gpointer *)&sl), ==, PRL_ERR_SUCCESS);
	g_autoptr(GPtrArray) copy = pk_strlist_dup(sl);
	g_assert_cmpuint(copy->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(copy, 1), ==, "gamma");
	pk_object_unref(sl);

	g_assert_cmpint(PrlHandle_Free(l), ==, PRL_ERR_SUCCESS);

	g_autoptr(GPtrArray) src = g_ptr_array_new();
	g_ptr_array_add(src, "one");
	g_ptr_array_add(src, NULL);
	pk_strlist *from = pk_strlist_new_from(src);
	g_assert_cmpuint(pk_strlist_count(from), ==, 2);
	g_autofree char *second = pk_strlist_get(from, 1);
	g_assert_cmpstr(second, ==, "");
	g_assert_null(pk_strlist_get(from, 2));
	pk_object_unref(from);
	teardown();
}

static void test_hndlist(void)
{
	setup();
	PRL_HANDLE l, inner, s, item;
	PRL_UINT32 n;
	PRL_HANDLE_TYPE type;
	g_assert_cmpint(PrlApi_CreateHandlesList(&l), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlApi_CreateHandlesList(&inner), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlApi_CreateStringsList(&s), ==, PRL_ERR_SUCCESS);

	g_assert_cmpint(PrlHndlList_AddItem(l, s), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHndlList_AddItem(l, inner), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHndlList_AddItem(l, PRL_INVALID_HANDLE), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHndlList_AddItem(l, (PRL_HANDLE)0x7777777), ==, PRL_ERR_INVALID_HANDLE);
	/* Cycles would never be freed: refused. */
	g_assert_cmpint(PrlHndlList_AddItem(l, l), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHndlList_AddItem(inner, l), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHndlList_GetItemsCount(l, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpint(PrlHndlList_GetItemsCount(l, NULL), ==, PRL_ERR_INVALID_ARG);

	/* Items come out as new references. */
	g_assert_cmpint(PrlHndlList_GetItem(l, 0, &item), ==, PRL_ERR_SUCCESS);
	g_assert_true(item == s);
	g_assert_cmpint(PrlHandle_GetType(item, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(type, ==, PHT_STRINGS_LIST);
	g_assert_cmpint(PrlHandle_Free(item), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHndlList_GetItem(l, 1, &item), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_GetType(item, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(type, ==, PHT_HANDLES_LIST);
	g_assert_cmpint(PrlHandle_Free(item), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHndlList_GetItem(l, 2, &item), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHndlList_GetItem(l, 0, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHndlList_RemoveItem(l, 2), ==, PRL_ERR_INVALID_ARG);

	/* Our handle to s goes; the list's reference keeps it; removing drops it. */
	g_assert_cmpint(PrlHandle_Free(s), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_GetType(s, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHndlList_RemoveItem(l, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_GetType(s, &type), ==, PRL_ERR_INVALID_HANDLE);
	g_assert_cmpint(PrlHndlList_GetItemsCount(l, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1);

	/* The same item twice is fine (two references). */
	g_assert_cmpint(PrlHndlList_AddItem(l, inner), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(inner), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(l), ==, PRL_ERR_SUCCESS);
	teardown();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/strings/string-out", test_string_out);
	g_test_add_func("/strings/public-getters", test_public_getters);
	g_test_add_func("/strings/strlist", test_strlist);
	g_test_add_func("/strings/hndlist", test_hndlist);
	return g_test_run();
}

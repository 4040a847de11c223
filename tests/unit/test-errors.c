/* The error table: every code has a name and a description, values follow the SDK's rule,
 * unknown codes are handled, and GErrors map to PRL_RESULTs. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "prlkit/Parallels.h"
#include "core-error.h"

typedef struct {
	PRL_RESULT code;
	const char *name;
	const char *description;
} entry;

#define ENTRY_(name, value, desc) { (PRL_RESULT)(value), #name, desc },
static const entry table[] = { PRLK_ERROR_LIST(ENTRY_) };
#undef ENTRY_

static char *description(PRL_RESULT code, PRL_BOOL brief)
{
	PRL_UINT32 len = 0;
	g_assert_cmpint(PrlApi_GetResultDescription(code, brief, PRL_FALSE, NULL, &len), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpuint(len, >, 1);
	char *buf = g_malloc(len);
	g_assert_cmpint(PrlApi_GetResultDescription(code, brief, PRL_FALSE, buf, &len), ==,
	                PRL_ERR_SUCCESS);
	return buf;
}

static void test_every_code(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
		const entry *e = &table[i];
		g_test_message("%s", e->name);
		g_assert_cmpstr(prl_result_to_string(e->code), ==, e->name);
		g_assert_cmpstr(pk_result_name(e->code), ==, e->name);
		g_assert_cmpstr(pk_result_description(e->code), ==, e->description);
		g_assert_cmpuint(strlen(e->description), >, 0);

		g_autofree char *brief = description(e->code, PRL_TRUE);
		g_assert_cmpstr(brief, ==, e->description);
		g_autofree char *full = description(e->code, PRL_FALSE);
		g_autofree char *expect = g_strdup_printf("%s (%s)", e->description, e->name);
		g_assert_cmpstr(full, ==, expect);

		/* Only PRL_ERR_SUCCESS succeeds. */
		g_assert_cmpint(PRL_SUCCEEDED(e->code), ==, e->code == PRL_ERR_SUCCESS);
	}
}

static void test_values(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
		/* A failure is 0x80000000 + the SDK's decimal ordinal written as hex digits. */
		guint32 v = (guint32)table[i].code;
		if (v != 0) {
			g_assert_cmphex(v & 0xF0000000u, ==, 0x80000000u);
			for (guint32 rest = v & 0x0FFFFFFFu; rest != 0; rest >>= 4)
				g_assert_cmpuint(rest & 0xF, <=, 9);
		}
		for (gsize j = i + 1; j < G_N_ELEMENTS(table); j++) {
			g_assert_cmpint(table[i].code, !=, table[j].code);
			g_assert_cmpstr(table[i].name, !=, table[j].name);
		}
	}
	g_assert_cmphex((guint32)PRL_ERR_TIMEOUT, ==, 0x80000015u);
	g_assert_cmphex((guint32)PRL_ERR_INVALID_ARG, ==, 0x80000003u);
}

static void test_unknown(void)
{
	static const PRL_RESULT unknown[] = { 1, -1, (PRL_RESULT)0x80009999, (PRL_RESULT)0x8000000A,
	                                      G_MAXINT32, G_MININT32 };
	for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
		g_assert_null(pk_result_name(unknown[i]));
		g_assert_null(pk_result_description(unknown[i]));
		g_assert_cmpstr(prl_result_to_string(unknown[i]), ==, "");
		PRL_CONST_STR s = "untouched";
		g_assert_cmpint(PrlDbg_PrlResultToString(unknown[i], &s), ==, PRL_ERR_INVALID_ARG);
		g_assert_cmpstr(s, ==, "untouched");

		g_autofree char *expect = g_strdup_printf("Unknown result code 0x%08X.",
		                                          (guint)unknown[i]);
		g_autofree char *brief = description(unknown[i], PRL_TRUE);
		g_assert_cmpstr(brief, ==, expect);
		g_autofree char *full = description(unknown[i], PRL_FALSE);
		g_assert_cmpstr(full, ==, expect);
	}
	g_assert_cmpint(PrlDbg_PrlResultToString(PRL_ERR_TIMEOUT, NULL), ==, PRL_ERR_INVALID_ARG);
}

static void test_handle_types(void)
{
	static const struct {
		PRL_HANDLE_TYPE t;
		const char *name;
	} types[] = {
		{ PHT_ERROR, "PHT_ERROR" },
		{ PHT_SERVER, "PHT_SERVER" },
		{ PHT_VIRTUAL_MACHINE, "PHT_VIRTUAL_MACHINE" },
		{ PHT_VM_CONFIGURATION, "PHT_VIRTUAL_MACHINE" },
		{ PHT_JOB, "PHT_JOB" },
		{ PHT_EVENT, "PHT_EVENT" },
		{ PHT_RESULT, "PHT_RESULT" },
		{ PHT_EVENT_PARAMETER, "PHT_EVENT_PARAMETER" },
		{ PHT_STRINGS_LIST, "PHT_STRINGS_LIST" },
		{ PHT_HANDLES_LIST, "PHT_HANDLES_LIST" },
		{ PHT_RUNNING_TASK, "PHT_RUNNING_TASK" },
		{ PHT_VIRTUAL_DEV_NET_ADAPTER, "PHT_VIRTUAL_DEV_NET_ADAPTER" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++)
		g_assert_cmpstr(handle_type_to_string(types[i].t), ==, types[i].name);
	g_assert_cmpstr(handle_type_to_string((PRL_HANDLE_TYPE)0x10000099), ==, "");
	g_assert_cmpint(PrlDbg_HandleTypeToString(PHT_JOB, NULL), ==, PRL_ERR_INVALID_ARG);
}

static void test_gerror(void)
{
	g_assert_cmpint(pk_error_result(NULL), ==, PRL_ERR_SUCCESS);

	g_autoptr(GError) e1 = g_error_new(PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND, "VM %d", 7);
	g_assert_cmpint(pk_error_result(e1), ==, PRL_ERR_VM_UUID_NOT_FOUND);

	g_autoptr(GError) e2 = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
	g_assert_cmpint(pk_error_result(e2), ==, PRL_ERR_OPERATION_WAS_CANCELED);

	g_autoptr(GError) e3 = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "gone");
	g_assert_cmpint(pk_error_result(e3), ==, PRL_ERR_OPERATION_FAILED);

	/* A PK_ERROR with a non-failure code must still read as a failure. */
	g_autoptr(GError) e4 = g_error_new_literal(PK_ERROR, 0, "odd");
	g_assert_cmpint(pk_error_result(e4), ==, PRL_ERR_OPERATION_FAILED);

	g_assert_cmpuint(PK_ERROR, !=, 0);
	g_assert_cmpuint(PK_ERROR, ==, pk_error_quark());
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/errors/every-code", test_every_code);
	g_test_add_func("/errors/values", test_values);
	g_test_add_func("/errors/unknown", test_unknown);
	g_test_add_func("/errors/handle-types", test_handle_types);
	g_test_add_func("/errors/gerror", test_gerror);
	return g_test_run();
}

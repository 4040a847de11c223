/* PHT_RESULT, PHT_EVENT and PHT_EVENT_PARAMETER through the public API. */
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

/* A string getter's value, for assertions (the size query first, as programs do). */
typedef PRL_RESULT (*str_getter)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR);
static char *get_str(str_getter fn, PRL_HANDLE h)
{
	PRL_UINT32 len = 0;
	g_assert_cmpint(fn(h, NULL, &len), ==, PRL_ERR_SUCCESS);
	char *buf = g_malloc(len);
	PRL_UINT32 len2 = len;
	g_assert_cmpint(fn(h, buf, &len2), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(len2, ==, len);
	return buf;
}

static void test_result(void)
{
	setup();
	pk_result *res = pk_result_new();
	pk_strlist *sl = pk_strlist_new();
	pk_strlist_add(sl, "inside");
	pk_result_add_object(res, sl);
	pk_result_add_string(res, "snap-1");
	pk_result_add_string(res, NULL);
	pk_object_unref(sl);
	PRL_HANDLE h = pk_object_give(res);

	PRL_UINT32 n = 0, len;
	char buf[32];
	g_assert_cmpint(PrlResult_GetParamsCount(h, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpint(PrlResult_GetParamsCount(h, NULL), ==, PRL_ERR_INVALID_ARG);

	/* Object param: a new reference each time. */
	PRL_HANDLE p1, p2;
	g_assert_cmpint(PrlResult_GetParam(h, &p1), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamByIndex(h, 0, &p2), ==, PRL_ERR_SUCCESS);
	g_assert_true(p1 == p2);
	PRL_UINT32 items = 0;
	g_assert_cmpint(PrlStrList_GetItemsCount(p1, &items), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(items, ==, 1);
	g_assert_cmpint(PrlHandle_Free(p1), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(p2), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParam(h, NULL), ==, PRL_ERR_INVALID_ARG);

	/* An object without a string form has none. */
	len = sizeof buf;
	g_assert_cmpint(PrlResult_GetParamAsString(h, buf, &len), ==, PRL_ERR_INVALID_ARG);

	/* String params: as strings only. */
	len = sizeof buf;
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, 1, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "snap-1");
	g_assert_cmpuint(len, ==, 7);
	len = 2;
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, 1, buf, &len), ==,
	                PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 7);
	len = sizeof buf;
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, 2, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "");
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, 1, buf, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlResult_GetParamByIndex(h, 1, &p1), ==, PRL_ERR_INVALID_ARG);

	/* Out of range. */
	g_assert_cmpint(PrlResult_GetParamByIndex(h, 3, &p1), ==, PRL_ERR_INVALID_ARG);
	len = sizeof buf;
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, 3, buf, &len), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(h, G_MAXUINT32, buf, &len), ==,
	                PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	/* An empty result: index 0 is out of range. */
	h = pk_object_give(pk_result_new());
	g_assert_cmpint(PrlResult_GetParam(h, &p1), ==, PRL_ERR_INVALID_ARG);
	len = sizeof buf;
	g_assert_cmpint(PrlResult_GetParamAsString(h, buf, &len), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	teardown();
}

static void test_result_object_string(void)
{
	setup();
	/* An object whose class has a string form (an event parameter). */
	pk_event *ev = pk_event_new(PET_DSP_EVT_VM_STATE_CHANGED, PIE_VIRTUAL_MACHINE, "vm-1", NULL,
	                            NULL, NULL);
	pk_event_add_param_int32(ev, EVT_PARAM_VMINFO_VM_STATE, VMS_RUNNING);
	pk_evtprm *p = pk_event_get_param(ev, 0);
	pk_result *res = pk_result_new();
	pk_result_add_object(res, p);
	pk_object_unref(p);
	pk_object_unref(ev);
	PRL_HANDLE h = pk_object_give(res);

	g_autofree char *s = get_str(PrlResult_GetParamAsString, h);
	g_assert_cmpstr(s, ==, "805306372");  /* VMS_RUNNING = 0x30000004 */
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	teardown();
}

static void test_event(void)
{
	setup();
	pk_strlist *job = pk_strlist_new();  /* any object stands in for the job */
	pk_event *ev = pk_event_new(PET_DSP_EVT_VM_STATE_CHANGED, PIE_VIRTUAL_MACHINE, "vm-42", NULL,
	                            NULL, job);
	pk_event_add_param_int32(ev, EVT_PARAM_VMINFO_VM_STATE, VMS_STOPPED);
	pk_event_add_param_string(ev, "count", " 17 ");
	pk_event_add_param_string(ev, "word", "abc");
	pk_event_add_param_uint32(ev, "big", G_MAXUINT32);
	pk_event_add_param_int64(ev, "neg", -5);
	pk_event_add_param_uint64(ev, "huge", G_MAXUINT64);
	pk_event_add_param_boolean(ev, "flag", TRUE);
	pk_event_add_param_handle(ev, "obj", job);
	pk_event_add_param_string(ev, "yes", "Yes");
	pk_object_unref(job);
	PRL_HANDLE h = pk_object_give(ev);

	PRL_EVENT_TYPE type;
	g_assert_cmpint(PrlEvent_GetType(h, &type), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(type, ==, PET_DSP_EVT_VM_STATE_CHANGED);
	g_assert_cmpint(PrlEvent_GetType(h, NULL), ==, PRL_ERR_INVALID_ARG);
	PRL_EVENT_ISSUER_TYPE issuer;
	g_assert_cmpint(PrlEvent_GetIssuerType(h, &issuer), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(issuer, ==, PIE_VIRTUAL_MACHINE);
	g_autofree char *id = get_str(PrlEvent_GetIssuerId, h);
	g_assert_cmpstr(id, ==, "vm-42");

	/* Present and absent objects. */
	PRL_HANDLE o = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlEvent_GetServer(h, &o), ==, PRL_ERR_NO_DATA);
	g_assert_cmpint(PrlEvent_GetVm(h, &o), ==, PRL_ERR_NO_DATA);
	g_assert_true(o == PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlEvent_GetJob(h, &o), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(o), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetJob(h, NULL), ==, PRL_ERR_INVALID_ARG);

	/* No error set: success, and the description as the text. */
	PRL_RESULT code = -1;
	g_assert_cmpint(PrlEvent_GetErrCode(h, &code), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(code, ==, PRL_ERR_SUCCESS);

	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlEvent_GetParamsCount(h, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 9);

	PRL_HANDLE p;
	PRL_INT32 i32;
	PRL_UINT32 u32;
	PRL_INT64 i64;
	PRL_UINT64 u64;
	PRL_BOOL b;
	PRL_PARAM_FIELD_DATA_TYPE ptype;

	/* INT32 by index and by name. */
	g_assert_cmpint(PrlEvent_GetParam(h, 0, &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_GetType(p, &ptype), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(ptype, ==, PFD_INT32);
	g_autofree char *name = get_str(PrlEvtPrm_GetName, p);
	g_assert_cmpstr(name, ==, EVT_PARAM_VMINFO_VM_STATE);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(i32, ==, VMS_STOPPED);
	g_assert_cmpint(PrlEvtPrm_ToHandle(p, &o), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, NULL), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, EVT_PARAM_VMINFO_VM_STATE, &p), ==,
	                PRL_ERR_SUCCESS);
	g_autofree char *state = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(state, ==, "805306369");
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, "nope", &p), ==, PRL_ERR_PARAM_NOT_FOUND);
	g_assert_cmpint(PrlEvent_GetParamByName(h, NULL, &p), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvent_GetParam(h, 9, &p), ==, PRL_ERR_INVALID_ARG);

	/* A numeric string converts; a word does not. */
	g_assert_cmpint(PrlEvent_GetParamByName(h, "count", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(i32, ==, 17);
	g_assert_cmpint(PrlEvtPrm_ToUint64(p, &u64), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(u64, ==, 17);
	g_assert_cmpint(PrlEvtPrm_ToBoolean(p, &b), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(b, ==, PRL_TRUE);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, "word", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvtPrm_ToBoolean(p, &b), ==, PRL_ERR_INVALID_ARG);
	g_autofree char *word = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(word, ==, "abc");
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);

	/* Ranges: G_MAXUINT32 is no INT32; -5 is no unsigned. */
	g_assert_cmpint(PrlEvent_GetParamByName(h, "big", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToUint32(p, &u32), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(u32, ==, G_MAXUINT32);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvtPrm_ToInt64(p, &i64), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(i64, ==, G_MAXUINT32);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, "neg", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToInt64(p, &i64), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(i64, ==, -5);
	g_assert_cmpint(PrlEvtPrm_ToUint32(p, &u32), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlEvtPrm_ToUint64(p, &u64), ==, PRL_ERR_INVALID_ARG);
	g_autofree char *neg = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(neg, ==, "-5");
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, "huge", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToUint64(p, &u64), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(u64, ==, G_MAXUINT64);
	g_assert_cmpint(PrlEvtPrm_ToInt64(p, &i64), ==, PRL_ERR_INVALID_ARG);
	g_autofree char *huge = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(huge, ==, "18446744073709551615");
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);

	/* Booleans. */
	g_assert_cmpint(PrlEvent_GetParamByName(h, "flag", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToBoolean(p, &b), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(b, ==, PRL_TRUE);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(i32, ==, 1);
	g_autofree char *flag = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(flag, ==, "true");
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvent_GetParamByName(h, "yes", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToBoolean(p, &b), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(b, ==, PRL_TRUE);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);

	/* Handle params: ToHandle gives a new reference; ToString still works. */
	g_assert_cmpint(PrlEvent_GetParamByName(h, "obj", &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_GetType(p, &ptype), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(ptype, ==, PFD_ENTITY);
	g_assert_cmpint(PrlEvtPrm_ToHandle(p, &o), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE_TYPE ht;
	g_assert_cmpint(PrlHandle_GetType(o, &ht), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(ht, ==, PHT_STRINGS_LIST);
	g_assert_cmpint(PrlHandle_Free(o), ==, PRL_ERR_SUCCESS);
	g_autofree char *objs = get_str(PrlEvtPrm_ToString, p);
	g_assert_cmpstr(objs, !=, "");
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);

	/* A param handle outlives its event. */
	g_assert_cmpint(PrlEvent_GetParam(h, 0, &p), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlEvtPrm_ToInt32(p, &i32), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlHandle_Free(p), ==, PRL_ERR_SUCCESS);
	teardown();
}

static void test_event_error(void)
{
	setup();
	pk_event *ev = pk_event_new(PET_DSP_EVT_ERROR_MESSAGE, PIE_DISPATCHER, NULL, NULL, NULL, NULL);
	pk_event_set_error(ev, PRL_ERR_VM_UUID_NOT_FOUND, "VM 101 does not exist");
	PRL_HANDLE h = pk_object_give(ev);

	PRL_RESULT code = 0;
	g_assert_cmpint(PrlEvent_GetErrCode(h, &code), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(code, ==, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_cmpint(PrlEvent_GetErrCode(h, NULL), ==, PRL_ERR_INVALID_ARG);

	char buf[128];
	PRL_UINT32 len = sizeof buf;
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_TRUE, PRL_FALSE, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "VM 101 does not exist");
	len = sizeof buf;
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_FALSE, PRL_TRUE, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "VM 101 does not exist (PRL_ERR_VM_UUID_NOT_FOUND)");
	len = 4;
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_TRUE, PRL_FALSE, buf, &len), ==,
	                PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, strlen("VM 101 does not exist") + 1);
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_TRUE, PRL_FALSE, buf, NULL), ==,
	                PRL_ERR_INVALID_ARG);
	len = sizeof buf;
	g_assert_cmpint(PrlEvent_GetIssuerId(h, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "");
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	/* Without a message: the code's description. */
	ev = pk_event_new(PET_DSP_EVT_ERROR_MESSAGE, PIE_DISPATCHER, "", NULL, NULL, NULL);
	pk_event_set_error(ev, PRL_ERR_TIMEOUT, NULL);
	h = pk_object_give(ev);
	len = sizeof buf;
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_TRUE, PRL_FALSE, buf, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, pk_result_description(PRL_ERR_TIMEOUT));
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);

	/* An unknown code is named by its value. */
	ev = pk_event_new(PET_DSP_EVT_ERROR_MESSAGE, PIE_DISPATCHER, "", NULL, NULL, NULL);
	pk_event_set_error(ev, (PRL_RESULT)0x80012345, "odd");
	h = pk_object_give(ev);
	len = sizeof buf;
	g_assert_cmpint(PrlEvent_GetErrString(h, PRL_FALSE, PRL_FALSE, buf, &len), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpstr(buf, ==, "odd (0x80012345)");
	g_assert_cmpint(PrlHandle_Free(h), ==, PRL_ERR_SUCCESS);
	teardown();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/results/result", test_result);
	g_test_add_func("/results/object-string", test_result_object_string);
	g_test_add_func("/results/event", test_event);
	g_test_add_func("/results/event-error", test_event_error);
	return g_test_run();
}

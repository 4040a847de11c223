/* The VM API over the fake driver (and the sim driver where built): lists and identity,
 * configuration, edit/commit, templates, snapshots (tree XML in the SDK's shape), clones,
 * delete, statistics, driver information, connection life cycle. */
#include "config.h"

#include <string.h>
#include "rt-test.h"

static char *dir;

static PRL_HANDLE srv;

static void setup(guint n_vms)
{
	rt_init();
	fake_reset(n_vms);
	srv = rt_connect_fake(dir, NULL);
}

static void teardown(void)
{
	rt_logoff_free(srv);
	srv = PRL_INVALID_HANDLE;
	rt_deinit_and_check_leaks();
}

static PRL_UINT32 count_params(PRL_HANDLE res)
{
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlResult_GetParamsCount(res, &n), ==, PRL_ERR_SUCCESS);
	return n;
}

static void test_list_and_identity(void)
{
	setup(3);
	PRL_HANDLE res = PRL_INVALID_HANDLE, res2 = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res), ==, 4);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmListEx(srv, PGVLF_GET_ONLY_VM), &res2), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res2), ==, 4);
	for (PRL_UINT32 i = 0; i < 4; i++) {
		PRL_HANDLE a = PRL_INVALID_HANDLE, b = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &a), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlResult_GetParamByIndex(res2, i, &b), ==, PRL_ERR_SUCCESS);
		g_assert_true(a == b);   /* one object per VM id and connection */
		PRL_HANDLE_TYPE t = PHT_ERROR;
		g_assert_cmpint(PrlHandle_GetType(a, &t), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(t, ==, PHT_VIRTUAL_MACHINE);
		PRL_HANDLE cfg = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlVm_GetConfig(a, &cfg), ==, PRL_ERR_SUCCESS);
		g_assert_true(cfg == a);   /* the SDK's PHT_VM_CONFIGURATION is the VM */
		PrlHandle_Free(cfg);
		PrlHandle_Free(a);
		PrlHandle_Free(b);
	}
	/* the result's string form of a VM param is its id */
	char id[64];
	PRL_UINT32 len = sizeof(id);
	g_assert_cmpint(PrlResult_GetParamByIndexAsString(res, 0, id, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(id, ==, "vm-0");
	PrlHandle_Free(res);
	PrlHandle_Free(res2);

	/* by id, by name, flags, not found */
	PRL_HANDLE by_id = rt_vm(srv, "vm-2");
	PRL_HANDLE by_name = rt_wait_param(PrlSrv_GetVmConfig(srv, "VM 2", 0));
	g_assert_true(by_id == by_name);
	PrlHandle_Free(by_name);
	by_name = rt_wait_param(PrlSrv_GetVmConfig(srv, "VM 2", PGVC_SEARCH_BY_NAME));
	g_assert_true(by_id == by_name);
	PrlHandle_Free(by_name);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmConfig(srv, "VM 2", PGVC_SEARCH_BY_UUID), NULL), ==,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmConfig(srv, "vm-2", PGVC_SEARCH_BY_NAME), NULL), ==,
	                PRL_ERR_VM_UUID_NOT_FOUND);
	PrlHandle_Free(by_id);
	teardown();
}

/* PGVLF_GET_ONLY_IDENTITY_INFO: id, name, template flag and state, no configuration; a VM
 * whose configuration is known keeps it; BeginEdit reads the configuration first. */
static PRL_UINT32 ram_of(PRL_HANDLE vm)
{
	PRL_UINT32 ram = 12345;
	g_assert_cmpint(PrlVmCfg_GetRamSize(vm, &ram), ==, PRL_ERR_SUCCESS);
	return ram;
}

static PRL_HANDLE param_of(PRL_HANDLE res, PRL_UINT32 i)
{
	PRL_HANDLE vm = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &vm), ==, PRL_ERR_SUCCESS);
	return vm;
}

static void test_identity_list(void)
{
	setup(3);
	PRL_HANDLE full = rt_vm(srv, "vm-1");   /* configuration known */
	g_assert_cmpuint(ram_of(full), ==, 1024);

	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmListEx(srv, PGVLF_GET_ONLY_IDENTITY_INFO), &res), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res), ==, 4);
	PRL_HANDLE v0 = param_of(res, 0), v1 = param_of(res, 1), tpl = param_of(res, 3);
	char name[32];
	PRL_UINT32 len = sizeof(name);
	g_assert_cmpint(PrlVmCfg_GetName(v0, name, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(name, ==, "VM 0");
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	PRL_HANDLE info = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlVmCfg_GetVmInfo(v0, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_STOPPED);
	PrlHandle_Free(info);
	PRL_BOOL is_tpl = PRL_FALSE;
	g_assert_cmpint(PrlVmCfg_IsTemplate(tpl, &is_tpl), ==, PRL_ERR_SUCCESS);
	g_assert_true(is_tpl);
	g_assert_cmpuint(ram_of(v0), ==, 0);      /* not read */
	g_assert_true(v1 == full);
	g_assert_cmpuint(ram_of(full), ==, 1024);  /* kept */
	PrlHandle_Free(res);

	/* Editing starts from the platform's configuration, not from the identity. */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(v0), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(ram_of(v0), ==, 1024);
	PrlHandle_Free(v0);
	PrlHandle_Free(full);
	PrlHandle_Free(v1);

	/* ... and refuses when it cannot read it. */
	g_assert_cmpint(rt_wait(PrlSrv_GetVmListEx(srv, PGVLF_GET_ONLY_IDENTITY_INFO), &res), ==,
	                PRL_ERR_SUCCESS);
	PRL_HANDLE v2 = param_of(res, 2);
	fake_fail_next_get(PRL_ERR_UNIMPLEMENTED);
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(v2), NULL), ==, PRL_ERR_VM_GET_CONFIG_FAILED);
	PrlHandle_Free(res);

	/* A full list fills the configuration in. */
	g_assert_cmpint(rt_wait(PrlSrv_GetVmListEx(srv, 0), &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(ram_of(v2), ==, 1024);
	PrlHandle_Free(res);
	PrlHandle_Free(v2);
	PrlHandle_Free(tpl);
	teardown();
}

static void test_config(void)
{
	setup(2);
	PRL_HANDLE vm = rt_vm(srv, "vm-1");
	char *s = rt_string(PrlVmCfg_GetName, vm);
	g_assert_cmpstr(s, ==, "VM 1");
	g_free(s);
	s = rt_string(PrlVmCfg_GetUuid, vm);
	g_assert_cmpstr(s, ==, "vm-1");
	g_free(s);
	s = rt_string(PrlVmCfg_GetOsTypeName, vm);
	g_assert_cmpstr(s, ==, "l26");
	g_free(s);
	/* buffer convention */
	char small[3];
	PRL_UINT32 len = sizeof(small);
	g_assert_cmpint(PrlVmCfg_GetName(vm, small, &len), ==, PRL_ERR_BUFFER_OVERRUN);
	g_assert_cmpuint(len, ==, 5);
	g_assert_cmpint(PrlVmCfg_GetName(vm, small, NULL), ==, PRL_ERR_INVALID_ARG);

	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlVmCfg_GetRamSize(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1024);
	g_assert_cmpint(PrlVmCfg_GetCpuCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpint(PrlVmCfg_GetHardDisksCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1);
	PRL_HANDLE hd = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlVmCfg_GetHardDisk(vm, 0, &hd), ==, PRL_ERR_SUCCESS);
	PRL_DEVICE_TYPE dt = PDE_GENERIC_DEVICE;
	g_assert_cmpint(PrlVmDev_GetType(hd, &dt), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(dt, ==, PDE_HARD_DISK);
	g_assert_cmpint(PrlVmDevHd_GetDiskSize(hd, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 10240);
	s = rt_string(PrlVmDev_GetImagePath, hd);
	g_assert_cmpstr(s, ==, "/images/vm-1.qcow2");
	g_free(s);
	g_assert_cmpint(PrlVmDevNet_GetMacAddress(hd, NULL, &n), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(hd);
	g_assert_cmpint(PrlVmCfg_GetHardDisk(vm, 1, &hd), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlVmCfg_GetNetAdaptersCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1);
	PRL_HANDLE net = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlVmCfg_GetNetAdapter(vm, 0, &net), ==, PRL_ERR_SUCCESS);
	s = rt_string(PrlVmDevNet_GetMacAddress, net);
	g_assert_cmpstr(s, ==, "BC:24:11:00:00:01");
	g_free(s);
	g_assert_cmpint(PrlVmDev_GetType(net, &dt), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(dt, ==, PDE_GENERIC_NETWORK_ADAPTER);
	PrlHandle_Free(net);

	/* IPs appear after a start and a refresh */
	PRL_HANDLE ips = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlVmCfg_GetIpAddresses(vm, &ips), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_GetItemsCount(ips, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
	PrlHandle_Free(ips);
	g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==, PRL_ERR_VM_ALREADY_RUNNING);
	PRL_HANDLE again = rt_wait_param(PrlVm_RefreshConfig(vm));
	g_assert_true(again == vm);
	PrlHandle_Free(again);
	g_assert_cmpint(PrlVmCfg_GetIpAddresses(vm, &ips), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStrList_GetItemsCount(ips, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 1);
	PrlHandle_Free(ips);
	PRL_HANDLE macs = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlVmCfg_GetMacAddresses(vm, &macs), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(macs);

	/* GetState: a PHT_VM_INFO */
	PRL_HANDLE info = rt_wait_param(PrlVm_GetState(vm));
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_RUNNING);
	s = rt_string(PrlVmInfo_GetPowerStateName, info);
	g_assert_cmpstr(s, ==, "running");
	g_free(s);
	PrlHandle_Free(info);

	/* power ops and the state they leave */
	struct { PRL_HANDLE (*op)(PRL_HANDLE); VIRTUAL_MACHINE_STATE want; } seq[] = {
		{ PrlVm_Suspend, VMS_SUSPENDED }, { PrlVm_Resume, VMS_RUNNING },
		{ PrlVm_Reset, VMS_RUNNING }, { PrlVm_Restart, VMS_RUNNING },
	};
	for (guint i = 0; i < G_N_ELEMENTS(seq); i++) {
		g_assert_cmpint(rt_wait(seq[i].op(vm), NULL), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(st, ==, seq[i].want);
		PrlHandle_Free(info);
	}
	g_assert_cmpint(rt_wait(PrlVm_Pause(vm, PRL_FALSE), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_StopEx(vm, PSM_KILL, 0), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_StartEx(vm, PSM_VM_START, 0), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_StopEx(vm, PSM_ACPI, 0), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_STOPPED);
	PrlHandle_Free(info);

	/* statistics */
	PRL_HANDLE stat = rt_wait_param(PrlVm_GetStatistics(vm));
	PRL_UINT64 total = 0;
	g_assert_cmpint(PrlStat_GetTotalRamSize(stat, &total), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(total, ==, 1024ull << 20);
	g_assert_cmpint(PrlStat_GetCpusStatsCount(stat, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 2);
	PRL_HANDLE cpu = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlStat_GetCpuStat(stat, 1, &cpu), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStatCpu_GetCpuUsage(cpu, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 20);
	PrlHandle_Free(cpu);
	g_assert_cmpint(PrlStat_GetCpuStat(stat, 2, &cpu), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(stat);
	PrlHandle_Free(vm);
	teardown();
}

static void test_edit_commit(void)
{
	setup(2);
	PRL_HANDLE vm = rt_vm(srv, "vm-0");
	/* no edit yet */
	g_assert_cmpint(PrlVmCfg_SetName(vm, "x"), ==, PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==,
	                PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID);

	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetName(vm, ""), ==, PRL_ERR_INVALID_ARG);
	g_assert_cmpint(PrlVmCfg_SetRamSize(vm, 0), ==, PRL_ERR_INVALID_MEMORY_SIZE);
	g_assert_cmpint(PrlVmCfg_SetName(vm, "renamed"), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetRamSize(vm, 4096), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm, 4), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetDescription(vm, "edited"), ==, PRL_ERR_SUCCESS);
	char *s = rt_string(PrlVmCfg_GetName, vm);   /* the edit copy is what getters show */
	g_assert_cmpstr(s, ==, "renamed");
	g_free(s);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_SUCCESS);
	/* what the platform has now, seen through another lookup */
	PRL_HANDLE same = rt_wait_param(PrlSrv_GetVmConfig(srv, "renamed", PGVC_SEARCH_BY_NAME));
	g_assert_true(same == vm);
	PrlHandle_Free(same);
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlVmCfg_GetRamSize(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 4096);
	s = rt_string(PrlVmCfg_GetDescription, vm);
	g_assert_cmpstr(s, ==, "edited");
	g_free(s);
	/* the edit is spent */
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm, 1), ==,
	                PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID);

	/* a concurrent edit through another connection wins; ours is refused and kept */
	PRL_HANDLE srv2 = rt_connect_fake(dir, NULL);
	PRL_HANDLE vm2 = rt_vm(srv2, "vm-0");
	g_assert_true(vm2 != vm);   /* identity is per connection */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm2), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm2, 8), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm2), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm, 3), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_VM_CONFIG_WAS_CHANGED);
	g_assert_cmpint(PrlVmCfg_GetCpuCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 3);   /* still our edit */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_GetCpuCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 8);   /* a new edit starts from the platform's state */
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm, 3), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(vm2);
	rt_logoff_free(srv2);
	PrlHandle_Free(vm);
	teardown();
}

static void test_template(void)
{
	setup(2);
	PRL_HANDLE vm = rt_vm(srv, "vm-1");
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetTemplateSign(vm, PRL_TRUE), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_SUCCESS);
	PRL_BOOL tpl = PRL_FALSE;
	g_assert_cmpint(PrlVmCfg_IsTemplate(vm, &tpl), ==, PRL_ERR_SUCCESS);
	g_assert_true(tpl);
	g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	g_assert_cmpint(rt_wait(PrlVm_StartEx(vm, PSM_VM_START, 0), NULL), ==,
	                PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	PRL_HANDLE t = rt_vm(srv, "tpl");
	g_assert_cmpint(rt_wait(PrlVm_Start(t), NULL), ==, PRL_ERR_CANT_TO_START_VM_TEMPLATE);
	PrlHandle_Free(t);
	/* and back (reversible on this driver) */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetTemplateSign(vm, PRL_FALSE), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==, PRL_ERR_SUCCESS);
	/* a running VM cannot become a template: a clean error, the VM keeps running */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetTemplateSign(vm, PRL_TRUE), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE);
	PrlHandle_Free(vm);
	teardown();
}

/* ---- snapshots ---- */

typedef struct {
	GPtrArray *stack;      /* guid of the open SavedStateItems */
	GHashTable *parent;    /* guid → parent guid ("" for roots) */
	GString *text;
	char *element;
	guint names, dates, descriptions;
	gboolean root;
} tree_parse;

static void tree_start(GMarkupParseContext *ctx, const char *element, const char **names,
                       const char **values, gpointer data, GError **error)
{
	tree_parse *p = data;
	g_free(p->element);
	p->element = g_strdup(element);
	g_string_truncate(p->text, 0);
	if (strcmp(element, "ParallelsSavedStates") == 0) {
		p->root = TRUE;
	} else if (strcmp(element, "SavedStateItem") == 0) {
		const char *guid = NULL;
		for (int i = 0; names[i]; i++)
			if (strcmp(names[i], "guid") == 0)
				guid = values[i];
		g_assert_nonnull(guid);
		g_hash_table_insert(p->parent, g_strdup(guid),
		                    g_strdup(p->stack->len ? p->stack->pdata[p->stack->len - 1] : ""));
		g_ptr_array_add(p->stack, g_strdup(guid));
	}
}

static void tree_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                      GError **error)
{
	tree_parse *p = data;
	g_string_append_len(p->text, text, (gssize)len);
}

static void tree_end(GMarkupParseContext *ctx, const char *element, gpointer data,
                     GError **error)
{
	tree_parse *p = data;
	if (strcmp(element, "SavedStateItem") == 0)
		g_ptr_array_remove_index(p->stack, p->stack->len - 1);
	else if (strcmp(element, "Name") == 0) {
		g_assert_cmpstr(p->text->str, ==, p->stack->pdata[p->stack->len - 1]);
		p->names++;
	} else if (strcmp(element, "DateTime") == 0) {
		g_assert_cmpuint(p->text->len, ==, strlen("2023-11-14 22:13:20"));
		p->dates++;
	} else if (strcmp(element, "Description") == 0) {
		char *want = g_strdup_printf("snapshot %s", (char *)p->stack->pdata[p->stack->len - 1]);
		g_assert_cmpstr(p->text->str, ==, want);
		g_free(want);
		p->descriptions++;
	}
}

static void check_tree(const char *xml)
{
	static const GMarkupParser parser = { tree_start, tree_end, tree_text, NULL, NULL };
	tree_parse p = {
		.stack = g_ptr_array_new_with_free_func(g_free),
		.parent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
		.text = g_string_new(NULL),
	};
	GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
	GError *error = NULL;
	/* GMarkup does not take the XML declaration: skip it */
	const char *body = strstr(xml, "<ParallelsSavedStates>");
	g_assert_nonnull(body);
	g_assert_true(g_str_has_prefix(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
	g_assert_true(g_markup_parse_context_parse(ctx, body, -1, &error));
	g_assert_true(g_markup_parse_context_end_parse(ctx, &error));
	g_assert_no_error(error);
	g_assert_true(p.root);
	g_assert_cmpuint(g_hash_table_size(p.parent), ==, 4);
	g_assert_cmpstr(g_hash_table_lookup(p.parent, "base"), ==, "");
	g_assert_cmpstr(g_hash_table_lookup(p.parent, "v1"), ==, "base");
	g_assert_cmpstr(g_hash_table_lookup(p.parent, "v2"), ==, "v1");
	g_assert_cmpstr(g_hash_table_lookup(p.parent, "other"), ==, "base");
	g_assert_cmpuint(p.names, ==, 4);
	g_assert_cmpuint(p.dates, ==, 4);
	g_assert_cmpuint(p.descriptions, ==, 4);
	g_markup_parse_context_free(ctx);
	g_ptr_array_unref(p.stack);
	g_hash_table_unref(p.parent);
	g_string_free(p.text, TRUE);
	g_free(p.element);
}

static char *snapshot_ids(PRL_HANDLE vm)
{
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlVm_GetSnapshotsList(vm), &res), ==, PRL_ERR_SUCCESS);
	GString *s = g_string_new(NULL);
	for (PRL_UINT32 i = 0; i < count_params(res); i++) {
		char buf[64];
		PRL_UINT32 len = sizeof(buf);
		g_assert_cmpint(PrlResult_GetParamByIndexAsString(res, i, buf, &len), ==,
		                PRL_ERR_SUCCESS);
		g_string_append_printf(s, "%s%s", s->len ? "," : "", buf);
	}
	PrlHandle_Free(res);
	return g_string_free(s, FALSE);
}

static void test_snapshots(void)
{
	setup(1);
	PRL_HANDLE vm = rt_vm(srv, "tpl");
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlVm_GetSnapshotsTree(vm), &res), ==, PRL_ERR_SUCCESS);
	char xml[4096];
	PRL_UINT32 len = sizeof(xml);
	g_assert_cmpint(PrlResult_GetParamAsString(res, xml, &len), ==, PRL_ERR_SUCCESS);
	check_tree(xml);
	PrlHandle_Free(res);

	char *ids = snapshot_ids(vm);
	g_assert_cmpstr(ids, ==, "base,v1,v2,other");
	g_free(ids);

	/* create (result: its id), replace, delete, delete-if-exists, switch */
	char id[64];
	g_assert_cmpint(rt_wait(PrlVm_CreateSnapshot(vm, "v3", "third"), &res), ==, PRL_ERR_SUCCESS);
	len = sizeof(id);
	g_assert_cmpint(PrlResult_GetParamAsString(res, id, &len), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(id, ==, "v3");
	PrlHandle_Free(res);
	g_assert_cmpint(rt_wait(PrlVm_CreateSnapshot(vm, "v3", ""), NULL), ==,
	                PRL_ERR_ENTRY_ALREADY_EXISTS);
	g_assert_cmpint(rt_wait(PrlVm_ReplaceSnapshot(vm, "v1", "again"), NULL), ==, PRL_ERR_SUCCESS);
	ids = snapshot_ids(vm);
	g_assert_cmpstr(ids, ==, "base,v2,other,v3,v1");
	g_free(ids);
	g_assert_cmpint(rt_wait(PrlVm_DeleteSnapshot(vm, "nope", PRL_FALSE), NULL), ==,
	                PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_assert_cmpint(rt_wait(PrlVm_DeleteSnapshotIfExists(vm, "nope"), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_DeleteSnapshot(vm, "v3", PRL_TRUE), NULL), ==, PRL_ERR_SUCCESS);
	ids = snapshot_ids(vm);
	g_assert_cmpstr(ids, ==, "base,v2,other");   /* v1 was v3's child */
	g_free(ids);
	g_assert_cmpint(rt_wait(PrlVm_SwitchToSnapshot(vm, "other"), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_SwitchToSnapshot(vm, "nope"), NULL), ==,
	                PRL_ERR_VM_SNAPSHOT_NOT_FOUND);
	g_assert_cmpint(rt_wait(PrlVm_GetSnapshotsTree(vm), &res), ==, PRL_ERR_SUCCESS);
	len = sizeof(xml);
	g_assert_cmpint(PrlResult_GetParamAsString(res, xml, &len), ==, PRL_ERR_SUCCESS);
	g_assert_nonnull(strstr(xml, "<SavedStateItem guid=\"other\" CurrentSnapshot=\"1\">"));
	PrlHandle_Free(res);
	PrlHandle_Free(vm);
	teardown();
}

/* ---- clones, delete ---- */

static void check_clone(PRL_HANDLE clone, const char *name, const char *kind, gboolean tpl)
{
	PRL_HANDLE_TYPE t = PHT_ERROR;
	g_assert_cmpint(PrlHandle_GetType(clone, &t), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(t, ==, PHT_VIRTUAL_MACHINE);
	char *s = rt_string(PrlVmCfg_GetName, clone);
	g_assert_cmpstr(s, ==, name);
	g_free(s);
	s = rt_string(PrlVmCfg_GetDescription, clone);   /* the fake records the clone kind */
	g_assert_cmpstr(s, ==, kind);
	g_free(s);
	PRL_BOOL is_tpl = !tpl;
	g_assert_cmpint(PrlVmCfg_IsTemplate(clone, &is_tpl), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(is_tpl, ==, tpl);
}

static void test_clone_and_delete(gconstpointer task_mode)
{
	setup(1);
	fake_set_task_mode(GPOINTER_TO_INT(task_mode));
	PRL_HANDLE tpl = rt_vm(srv, "tpl");
	PRL_HANDLE job = PrlVm_Clone(tpl, "full-1", "", PRL_FALSE);
	PRL_HANDLE c1 = rt_wait_param(job);
	check_clone(c1, "full-1", "full", FALSE);
	PRL_HANDLE c2 = rt_wait_param(PrlVm_CloneEx(tpl, "linked-1", NULL, PCVF_LINKED_CLONE));
	check_clone(c2, "linked-1", "linked", FALSE);
	PRL_HANDLE c3 = rt_wait_param(PrlVm_CloneEx(tpl, "tpl-2", NULL, PCVF_CLONE_TO_TEMPLATE));
	check_clone(c3, "tpl-2", "full", TRUE);
	PRL_HANDLE c4 = rt_wait_param(PrlVm_CloneFromSnapshot(tpl, "from-v1", "v1", PCVF_LINKED_CLONE));
	check_clone(c4, "from-v1", "linked", FALSE);
	PRL_HANDLE c5 = rt_wait_param(PrlVm_CloneFromSnapshot(tpl, "from-now", "", 0));
	check_clone(c5, "from-now", "full", FALSE);
	g_assert_cmpint(rt_wait(PrlVm_CloneFromSnapshot(tpl, "x", "nope", 0), NULL), ==,
	                PRL_ERR_VM_SNAPSHOT_NOT_FOUND);

	/* the clone's id as soon as the platform gave it */
	job = PrlVm_Clone(tpl, "full-2", "", PRL_FALSE);
	g_assert_cmpint(PrlJob_Wait(job, 20000), ==, PRL_ERR_SUCCESS);
	char *cid = rt_string(PrlJob_GetVmId, job);
	g_assert_cmpstr(cid, ==, "clone-6");
	g_free(cid);
	PrlHandle_Free(job);

	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res), ==, 2 + 6);
	PrlHandle_Free(res);

	/* delete: gone from the platform, the handle stays valid, its ops report not found */
	g_assert_cmpint(rt_wait(PrlVm_Delete(c1, PRL_INVALID_HANDLE), NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE devs = PRL_INVALID_HANDLE;
	PrlApi_CreateStringsList(&devs);
	g_assert_cmpint(rt_wait(PrlVm_Delete(c2, devs), NULL), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(devs);
	g_assert_cmpint(rt_wait(PrlVm_GetState(c1), NULL), ==, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res), ==, 2 + 4);
	PrlHandle_Free(res);
	PRL_HANDLE all[] = { c1, c2, c3, c4, c5, tpl };
	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		PrlHandle_Free(all[i]);
	teardown();
}

/* ---- server-level ---- */

static void test_server_info(void)
{
	setup(1);
	PRL_HANDLE cfg = rt_wait_param(PrlSrv_GetSrvConfig(srv));
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlSrvCfg_GetCpuCount(cfg, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 8);
	g_assert_cmpint(PrlSrvCfg_GetHostRamSize(cfg, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 32768);
	char *s = rt_string(PrlSrvCfg_GetHostname, cfg);
	g_assert_cmpstr(s, ==, "fakehost");
	g_free(s);
	s = rt_string(PrlSrvCfg_GetCpuModel, cfg);
	g_assert_cmpstr(s, ==, "Fake CPU");
	g_free(s);
	PrlHandle_Free(cfg);

	PRL_HANDLE st = rt_wait_param(PrlSrv_GetStatistics(srv));
	PRL_UINT64 total = 0, used = 0, avail = 0;
	g_assert_cmpint(PrlStat_GetTotalRamSize(st, &total), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStat_GetUsageRamSize(st, &used), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlStat_GetFreeRamSize(st, &avail), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(total, ==, used + avail);
	PrlHandle_Free(st);

	char name[32];
	PRL_UINT32 len = sizeof(name);
	PRL_UINT64 features = 0;
	g_assert_cmpint(PrlSrv_GetDriverInfo(srv, name, &len, &features), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(name, ==, "fake");
	g_assert_true(features & PRLK_FEAT_SUSPEND);
	g_assert_cmpint(PrlApi_GetDriverFeatures("fake", "{\"no_suspend\":\"true\"}", &features), ==,
	                PRL_ERR_SUCCESS);
	g_assert_false(features & PRLK_FEAT_SUSPEND);
	g_assert_true(features & PRLK_FEAT_SNAPSHOTS);
	g_assert_cmpint(PrlApi_GetDriverFeatures("fake:///x?no_suspend=true", NULL, &features), ==,
	                PRL_ERR_SUCCESS);
	g_assert_false(features & PRLK_FEAT_SUSPEND);
	g_assert_cmpint(PrlApi_GetDriverFeatures("nosuch", NULL, &features), ==, PRL_ERR_INVALID_ARG);

	PRL_BOOL connected = PRL_FALSE, local = PRL_FALSE;
	g_assert_cmpint(PrlSrv_IsConnected(srv, &connected, &local), ==, PRL_ERR_SUCCESS);
	g_assert_true(connected);
	g_assert_true(local);
	teardown();
}

/* SDK programs say PrlSrv_Login(h, "localhost", ...) for this machine: the default URI. */
static void test_login_localhost(void)
{
	rt_init();
	fake_reset(1);
	char *uri = g_strdup_printf("fake://%s", dir);
	char *old = g_strdup(g_getenv("PRLKIT_DEFAULT_URI"));
	g_setenv("PRLKIT_DEFAULT_URI", uri, TRUE);
	g_unsetenv("PRLKIT_DEFAULT_DRIVER");
	const char *names[] = { "localhost", "LOCALHOST", "127.0.0.1", "::1" };
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		PRL_HANDLE s = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(rt_wait(PrlSrv_Login(s, names[i], "u", "p", NULL, 0, 0,
		                                     PSL_NORMAL_SECURITY), NULL), ==, PRL_ERR_SUCCESS);
		g_assert_cmpuint(fake_open_count(), ==, 1);
		rt_logoff_free(s);
	}
	/* any other bare host name still needs PRLKIT_DEFAULT_DRIVER */
	PRL_HANDLE s = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlSrv_Login(s, "pve1.example", "u", "p", NULL, 0, 0,
	                                     PSL_NORMAL_SECURITY), NULL), ==, PRL_ERR_INVALID_ARG);
	PrlHandle_Free(s);
	if (old != NULL)
		g_setenv("PRLKIT_DEFAULT_URI", old, TRUE);
	else
		g_unsetenv("PRLKIT_DEFAULT_URI");
	g_free(old);
	g_free(uri);
	rt_deinit_and_check_leaks();
}

static void test_login_and_logoff(void)
{
	rt_init();
	fake_reset(1);
	PRL_HANDLE s = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
	char *uri = g_strdup_printf("fake://%s", dir);
	/* the login response */
	PRL_HANDLE lr = rt_wait_param(PrlSrv_Login(s, uri, "root@pam", "pw-xyz-secret", NULL, 0, 0,
	                                           PSL_NORMAL_SECURITY));
	char *v = rt_string(PrlLoginResponse_GetProductVersion, lr);
	g_assert_cmpstr(v, ==, "fake 1.0");
	g_free(v);
	v = rt_string(PrlLoginResponse_GetSessionUuid, lr);
	g_assert_cmpuint(strlen(v), ==, 36);
	g_free(v);
	PrlHandle_Free(lr);
	g_assert_cmpuint(fake_open_count(), ==, 1);

	/* after logoff: a VM of the old connection reports it, the server can log in again */
	PRL_HANDLE vm = rt_vm(s, "vm-0");
	g_assert_cmpint(rt_wait(PrlSrv_Logoff(s), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(fake_open_count(), ==, 0);
	PRL_BOOL connected = PRL_TRUE;
	g_assert_cmpint(PrlSrv_IsConnected(s, &connected, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_false(connected);
	g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER);
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(s), NULL), ==, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER);
	g_assert_cmpint(rt_wait(PrlSrv_Login(s, uri, NULL, NULL, NULL, 0, 0, PSL_HIGH_SECURITY), NULL),
	                ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm_new = rt_vm(s, "vm-0");
	g_assert_true(vm_new != vm);   /* a new connection, new objects */
	PrlHandle_Free(vm_new);
	PrlHandle_Free(vm);
	/* the driver chosen by name with settings (what CPF sends) */
	rt_logoff_free(s);
	g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
	char *settings = g_strdup_printf("{\"dir\":\"%s\",\"speed\":0}", dir);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(s, "fake", settings, 0), NULL), ==, PRL_ERR_SUCCESS);
	g_free(settings);
	settings = g_strdup_printf("{\"driver\":\"fake\",\"uri\":\"%s\"}", uri);
	PRL_HANDLE s2 = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s2), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(s2, NULL, settings, 0), NULL), ==, PRL_ERR_SUCCESS);
	g_free(settings);
	g_assert_cmpuint(fake_open_count(), ==, 2);
	/* freed without logoff: closed on a worker */
	PrlHandle_Free(s2);
	rt_logoff_free(s);
	g_free(uri);
	rt_deinit_and_check_leaks();
	g_assert_cmpuint(fake_open_count(), ==, 0);
}

/* A driver without an op: the core reports PRL_ERR_UNIMPLEMENTED. */
static void test_unimplemented(void)
{
	rt_init();
	fake_reset(1);
	PRL_HANDLE s = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
	char *uri = g_strdup_printf("fakemin://%s", dir);
	PRL_HANDLE lr = rt_wait_param(PrlSrv_Connect(s, uri, NULL, 0));
	char *v = rt_string(PrlLoginResponse_GetProductVersion, lr);
	g_assert_cmpstr(v, ==, "prlkit minimal test fake");   /* no host->info: the driver's name */
	g_free(v);
	PrlHandle_Free(lr);
	g_free(uri);
	PRL_HANDLE vm = rt_vm(s, "vm-0");
	PRL_HANDLE jobs[] = {
		PrlVm_Start(vm), PrlVm_Delete(vm, PRL_INVALID_HANDLE), PrlVm_Clone(vm, "c", "", 0),
		PrlVm_GetSnapshotsList(vm), PrlVm_CreateSnapshot(vm, "s", ""), PrlVm_GetStatistics(vm),
		PrlSrv_GetSrvConfig(s), PrlSrv_GetStatistics(s),
	};
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++)
		g_assert_cmpint(rt_wait(jobs[i], NULL), ==, PRL_ERR_UNIMPLEMENTED);
	/* commit without the op: refused, and the edit is still there */
	g_assert_cmpint(rt_wait(PrlVm_BeginEdit(vm), NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmCfg_SetCpuCount(vm, 7), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlVm_Commit(vm), NULL), ==, PRL_ERR_UNIMPLEMENTED);
	PRL_UINT32 n = 0;
	g_assert_cmpint(PrlVmCfg_GetCpuCount(vm, &n), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 7);
	/* the id of a finished job carries its outcome: no task op is needed to resolve it */
	PRL_HANDLE job = PrlVm_Start(vm);
	char id[512];
	PRL_UINT32 len = sizeof(id);
	g_assert_cmpint(PrlJob_GetTaskId(job, 20000, id, &len), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(job);
	PRL_HANDLE task = rt_wait_param(PrlSrv_GetTaskInfo(s, id));
	PRL_RESULT rc = 0;
	g_assert_cmpint(PrlRunningTask_GetRetCode(task, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_UNIMPLEMENTED);
	PrlHandle_Free(task);
	PrlHandle_Free(vm);
	rt_logoff_free(s);
	rt_deinit_and_check_leaks();
}

static void test_large_list(void)
{
	setup(10000);
	gint64 t0 = g_get_monotonic_time();
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(srv), &res), ==, PRL_ERR_SUCCESS);
	gint64 t1 = g_get_monotonic_time();
	g_assert_cmpuint(count_params(res), ==, 10001);
	/* a diagnostic only: timings are asserted by the benchmarks, never here */
	g_test_message("GetVmList of 10001 VMs: %.1f ms", (t1 - t0) / 1000.0);
	PrlHandle_Free(res);
	teardown();
}

/* The default connection (PRLKIT_DEFAULT_URI from the test environment, a sim state dir). */
static void test_sim(void)
{
	const char *uri = g_getenv("PRLKIT_DEFAULT_URI");
	if (uri == NULL || !g_str_has_prefix(uri, "sim:")) {
		g_test_skip("no sim default URI in the environment");
		return;
	}
	rt_init();
	PRL_HANDLE s = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s), ==, PRL_ERR_SUCCESS);
	PRL_RESULT rc = rt_wait(PrlSrv_LoginLocal(s, NULL, 0, PSL_NORMAL_SECURITY), NULL);
	if (rc == PRL_ERR_INVALID_ARG) {   /* this build has no sim driver yet */
		PrlHandle_Free(s);
		rt_deinit_and_check_leaks();
		g_test_skip("the sim driver is not built in");
		return;
	}
	g_assert_cmpint(rc, ==, PRL_ERR_SUCCESS);
	/* nothing said where: the default URI too */
	PRL_UINT64 features = 0;
	g_assert_cmpint(PrlApi_GetDriverFeatures(NULL, NULL, &features), ==, PRL_ERR_SUCCESS);
	g_assert_true(features & PRLK_FEAT_SNAPSHOTS);
	PRL_HANDLE s2 = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&s2), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rt_wait(PrlSrv_Connect(s2, NULL, NULL, 0), NULL), ==, PRL_ERR_SUCCESS);
	char name[16];
	PRL_UINT32 len = sizeof(name);
	g_assert_cmpint(PrlSrv_GetDriverInfo(s2, name, &len, NULL), ==, PRL_ERR_SUCCESS);
	g_assert_cmpstr(name, ==, "sim");
	rt_logoff_free(s2);

	PRL_HANDLE res = PRL_INVALID_HANDLE;
	g_assert_cmpint(rt_wait(PrlSrv_GetVmList(s), &res), ==, PRL_ERR_SUCCESS);
	PRL_UINT32 n = count_params(res);
	g_assert_cmpuint(n, >, 0);
	gboolean saw_template = FALSE;
	for (PRL_UINT32 i = 0; i < n; i++) {
		PRL_HANDLE vm = PRL_INVALID_HANDLE;
		PRL_BOOL tpl = PRL_FALSE;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &vm), ==, PRL_ERR_SUCCESS);
		g_assert_cmpint(PrlVmCfg_IsTemplate(vm, &tpl), ==, PRL_ERR_SUCCESS);
		if (tpl && !saw_template) {
			saw_template = TRUE;
			g_assert_cmpint(rt_wait(PrlVm_Start(vm), NULL), ==,
			                PRL_ERR_CANT_TO_START_VM_TEMPLATE);
			PRL_HANDLE tree = PRL_INVALID_HANDLE;
			g_assert_cmpint(rt_wait(PrlVm_GetSnapshotsTree(vm), &tree), ==, PRL_ERR_SUCCESS);
			PRL_UINT32 xml_len = 0;
			g_assert_cmpint(PrlResult_GetParamAsString(tree, NULL, &xml_len), ==,
			                PRL_ERR_SUCCESS);
			char *xml = g_malloc(xml_len);
			g_assert_cmpint(PrlResult_GetParamAsString(tree, xml, &xml_len), ==,
			                PRL_ERR_SUCCESS);
			g_assert_nonnull(strstr(xml, "<ParallelsSavedStates>"));
			g_free(xml);
			PrlHandle_Free(tree);
		}
		PrlHandle_Free(vm);
	}
	PrlHandle_Free(res);
	/* The sim driver skips the configuration of an identity list. */
	g_assert_cmpint(rt_wait(PrlSrv_GetVmListEx(s, PGVLF_GET_ONLY_IDENTITY_INFO), &res), ==,
	                PRL_ERR_SUCCESS);
	g_assert_cmpuint(count_params(res), ==, n);
	for (PRL_UINT32 i = 0; i < n; i++) {
		PRL_HANDLE vm = param_of(res, i);
		char vm_name[256];
		PRL_UINT32 name_len = sizeof(vm_name);
		g_assert_cmpint(PrlVmCfg_GetName(vm, vm_name, &name_len), ==, PRL_ERR_SUCCESS);
		g_assert_cmpuint(strlen(vm_name), >, 0);
		g_assert_cmpuint(ram_of(vm), ==, 0);
		PrlHandle_Free(vm);
	}
	PrlHandle_Free(res);
	rt_logoff_free(s);
	rt_deinit_and_check_leaks();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	dir = rt_tmpdir("test-vm");
	g_test_add_func("/vm/list-and-identity", test_list_and_identity);
	g_test_add_func("/vm/identity-list", test_identity_list);
	g_test_add_func("/vm/config", test_config);
	g_test_add_func("/vm/edit-commit", test_edit_commit);
	g_test_add_func("/vm/template", test_template);
	g_test_add_func("/vm/snapshots", test_snapshots);
	g_test_add_data_func("/vm/clone-and-delete/sync", GINT_TO_POINTER(0), test_clone_and_delete);
	g_test_add_data_func("/vm/clone-and-delete/tasks", GINT_TO_POINTER(3), test_clone_and_delete);
	g_test_add_func("/vm/server-info", test_server_info);
	g_test_add_func("/vm/login-and-logoff", test_login_and_logoff);
	g_test_add_func("/vm/login-localhost", test_login_localhost);
	g_test_add_func("/vm/unimplemented", test_unimplemented);
	g_test_add_func("/vm/large-list", test_large_list);
	g_test_add_func("/vm/sim", test_sim);
	int r = g_test_run();
	g_free(dir);
	return r;
}

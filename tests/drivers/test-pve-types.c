/* Proxmox VE driver: the pure parts (no server): snapshot-name codec, tags, UPIDs, task exit
 * status, state and OS mapping, cluster/resources / config / agent parsing, settings and
 * features, host and fingerprint parsing, error classification. */
#include "config.h"

#include <string.h>

#include "test-pve-fake.h"
#include "util-settings.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (j == NULL)
		g_error("bad test JSON: %s", e.text);
	return j;
}

/* ---------- snapshot names ---------- */

static void check_roundtrip(const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *enc = pve_snapname_encode(name, &error);
	g_assert_no_error(error);
	g_assert_true(pve_snapname_valid(enc));
	g_autofree char *dec = pve_snapname_decode(enc);
	g_assert_cmpstr(dec, ==, name);
}

static void test_snapname_ras(void)
{
	g_autofree char *v = pve_snapname_encode("RAS_TEMPLATE_VERSION_1", NULL);
	g_assert_cmpstr(v, ==, "RAS_TEMPLATE_VERSION_1");
	g_autofree char *t = pve_snapname_encode("RAS Template Snapshot", NULL);
	g_assert_cmpstr(t, ==, "x-RAS-20Template-20Snapshot");
	g_assert_true(pve_snapname_valid(t));
	g_autofree char *back = pve_snapname_decode(t);
	g_assert_cmpstr(back, ==, "RAS Template Snapshot");
	/* Names made in the Proxmox GUI come back unchanged. */
	const char *gui[] = { "pre-upgrade", "before_update", "x-mas", "daily-2024-01-01", "Ab", "cuRrent", NULL };
	for (int i = 0; gui[i]; i++) {
		g_autofree char *d = pve_snapname_decode(gui[i]);
		g_assert_cmpstr(d, ==, gui[i]);
		g_autofree char *e = pve_snapname_encode(d, NULL);
		g_assert_cmpstr(e, ==, gui[i]);
	}
}

static void test_snapname_reversible(void)
{
	const char *names[] = { "RAS Template Snapshot", "current", "x-20", "x-x-2D20", "1st",
	                        "_under", "-dash", "with space", "ümlaut", "a/b", "a%b", "x-",
	                        "x-RAS-20Template-20Snapshot", "Z", "v1.2", NULL };
	for (int i = 0; names[i]; i++)
		check_roundtrip(names[i]);
	/* The pseudo-snapshot name is never sent as is. */
	g_autofree char *cur = pve_snapname_encode("current", NULL);
	g_assert_cmpstr(cur, !=, "current");
	/* Random printable names: decode(encode(n)) == n whenever encoding succeeds. */
	GRand *rand = g_rand_new_with_seed(42);
	for (int i = 0; i < 2000; i++) {
		char buf[16];
		int n = g_rand_int_range(rand, 1, 12);
		for (int k = 0; k < n; k++)
			buf[k] = (char)g_rand_int_range(rand, 32, 127);
		buf[n] = '\0';
		g_autoptr(GError) error = NULL;
		g_autofree char *e = pve_snapname_encode(buf, &error);
		if (e == NULL) {
			g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
			continue;
		}
		g_autofree char *d = pve_snapname_decode(e);
		g_assert_cmpstr(d, ==, buf);
	}
	g_rand_free(rand);
}

static void test_snapname_limits(void)
{
	g_autoptr(GError) error = NULL;
	g_assert_null(pve_snapname_encode("", &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_clear_error(&error);
	g_assert_null(pve_snapname_encode("this name has far too many spaces in it to fit", &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_nonnull(strstr(error->message, "too long"));
	g_clear_error(&error);
	g_autofree char *forty = g_strnfill(40, 'a');
	g_autofree char *e = pve_snapname_encode(forty, &error);
	g_assert_cmpstr(e, ==, forty);
	g_assert_false(pve_snapname_valid("1abc"));
	g_assert_false(pve_snapname_valid("a b"));
	g_assert_true(pve_snapname_valid("a-b_c"));
	/* Proxmox's pve-configid wants two characters at least; it reserves "current" and,
	 * in any case, "pending": such names are escaped, and still come back. */
	g_assert_false(pve_snapname_valid("a"));
	g_assert_true(pve_snapname_valid("ab"));
	const char *escaped[] = { "a", "Z", "current", "pending", "PENDING", "Pending" };
	for (gsize i = 0; i < G_N_ELEMENTS(escaped); i++) {
		g_autofree char *x = pve_snapname_encode(escaped[i], NULL);
		g_assert_nonnull(x);
		g_assert_cmpstr(x, !=, escaped[i]);
		g_assert_true(pve_snapname_valid(x));
		g_autofree char *back = pve_snapname_decode(x);
		g_assert_cmpstr(back, ==, escaped[i]);
	}
}

static void test_snapdesc(void)
{
	g_autofree char *w1 = pve_snapdesc_wrap("RAS Template Snapshot", "x-RAS-20Template-20Snapshot",
	                                        "");
	g_assert_cmpstr(w1, ==, "RAS Template Snapshot");
	g_autofree char *w2 = pve_snapdesc_wrap("a b", "x-a-20b", "hello");
	g_assert_cmpstr(w2, ==, "a b\nhello");
	g_autofree char *u2 = pve_snapdesc_unwrap("a b", "x-a-20b", w2);
	g_assert_cmpstr(u2, ==, "hello");
	g_autofree char *u1 = pve_snapdesc_unwrap("RAS Template Snapshot", "x-RAS-20Template-20Snapshot",
	                                          w1);
	g_assert_cmpstr(u1, ==, "");
	g_autofree char *same = pve_snapdesc_wrap("v1", "v1", "desc");
	g_assert_cmpstr(same, ==, "desc");
	g_autofree char *keep = pve_snapdesc_unwrap("a b", "x-a-20b", "other text");
	g_assert_cmpstr(keep, ==, "other text");
}

/* ---------- tags, UPIDs, exit status ---------- */

static void test_tags(void)
{
	g_assert_true(pve_tags_has("prod;prlkit-template", "prlkit-template"));
	g_assert_true(pve_tags_has("prod,PRLKIT-TEMPLATE", "prlkit-template"));
	g_assert_false(pve_tags_has("prlkit-templates", "prlkit-template"));
	g_assert_false(pve_tags_has(NULL, "x"));
	g_autofree char *a = pve_tags_with("prod", "tmpl", TRUE);
	g_assert_cmpstr(a, ==, "prod;tmpl");
	g_autofree char *b = pve_tags_with("tmpl;prod;tmpl", "tmpl", FALSE);
	g_assert_cmpstr(b, ==, "prod");
	g_autofree char *c = pve_tags_with("tmpl", "tmpl", FALSE);
	g_assert_cmpstr(c, ==, "");
	g_autofree char *d = pve_tags_with(NULL, "tmpl", TRUE);
	g_assert_cmpstr(d, ==, "tmpl");
}

static void test_upid(void)
{
	pve_upid u;
	g_assert_true(pve_upid_parse("UPID:pve2:0000A1B2:0012C3D4:65A0B1C2:qmclone:100:root@pam!automation:",
	                             &u));
	g_assert_cmpstr(u.node, ==, "pve2");
	g_assert_cmpstr(u.type, ==, "qmclone");
	g_assert_cmpstr(u.id, ==, "100");
	g_assert_cmpint(u.starttime, ==, 0x65A0B1C2);
	g_assert_cmpuint(u.pid, ==, 0xA1B2);
	pve_upid_clear(&u);
	const char *bad[] = { "", "UPID:", "UPID:pve1:zz:00:00:qmstart:100:root@pam:",
	                      "UPID:pve1:0001:0002:0003:qmstart:100:root@pam",
	                      "UPID:pve 1:0001:0002:0003:qmstart:100:root@pam:",
	                      "XPID:pve1:0001:0002:0003:qmstart:100:root@pam:",
	                      "UPID:pve1:0001:0002:0003:qmstart:100:root@pam:extra:", NULL };
	for (int i = 0; bad[i]; i++)
		g_assert_false(pve_upid_parse(bad[i], &u));
	g_assert_false(pve_upid_parse(NULL, &u));
}

static void test_exitstatus(void)
{
	g_assert_true(pve_exitstatus_ok("OK"));
	g_assert_true(pve_exitstatus_ok("WARNINGS: 1"));
	g_assert_true(pve_exitstatus_ok("WARNINGS: 12"));
	g_assert_false(pve_exitstatus_ok("VM is locked (clone)"));
	g_assert_false(pve_exitstatus_ok("ok"));
	g_assert_false(pve_exitstatus_ok(NULL));
}

static void test_classify(void)
{
	struct { const char *msg; PRL_RESULT code; } t[] = {
		{ "Configuration file 'nodes/pve1/qemu-server/103.conf' does not exist", PRL_ERR_VM_UUID_NOT_FOUND },
		{ "VM is locked (clone)", PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED },
		{ "snapshot 'x' does not exist", PRL_ERR_VM_SNAPSHOT_NOT_FOUND },
		{ "snapshot name 'x' already used", PRL_ERR_ENTRY_ALREADY_EXISTS },
		{ "you can't start a vm if it's a template", PRL_ERR_CANT_TO_START_VM_TEMPLATE },
		{ "unable to create template, because VM contains snapshots", PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE },
		{ "detected modified configuration - file changed by other user? Try again.", PRL_ERR_VM_CONFIG_WAS_CHANGED },
		{ "checksum mismatch (file change by other user?)", PRL_ERR_VM_CONFIG_WAS_CHANGED },
		{ "checksum missmatch (file change by other user?)", PRL_ERR_VM_CONFIG_WAS_CHANGED },
		{ "balloon value too large (must be smaller than assigned memory)", PRL_ERR_INVALID_MEMORY_SIZE },
		{ "Full clone feature is not supported for a snapshot of 'local:100/vm-100-disk-0.raw' (raw)", PRL_ERR_VM_REQUEST_NOT_SUPPORTED },
		{ "VM 105 already exists", PRL_ERR_VM_ALREADY_REGISTERED_VM_UUID },
		{ "VM 101 already running", PRL_ERR_VM_ALREADY_RUNNING },
		{ "VM 101 not running", PRL_ERR_DISP_VM_IS_NOT_RUNNING },
		{ "VM 101 is running - destroy failed", PRL_ERR_VM_CANT_DELETE_RUNNING },
		{ "Permission check failed (/vms/101, VM.PowerMgmt)", PRL_ERR_ACCESS_DENIED },
		{ "interrupted by signal", PRL_ERR_OPERATION_WAS_CANCELED },
		{ "something else", PRL_ERR_FAILURE },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(t); i++)
		g_assert_cmphex(pve_error_code_for_message(t[i].msg, PRL_ERR_FAILURE), ==, t[i].code);
}

/* ---------- state, OS ---------- */

static void test_state(void)
{
	const char *raw;
	g_assert_cmphex(pve_state_map("running", NULL, NULL, &raw), ==, VMS_RUNNING);
	g_assert_cmpstr(raw, ==, "running");
	g_assert_cmphex(pve_state_map("stopped", NULL, NULL, NULL), ==, VMS_STOPPED);
	g_assert_cmphex(pve_state_map("running", "paused", NULL, &raw), ==, VMS_PAUSED);
	g_assert_cmpstr(raw, ==, "paused");
	g_assert_cmphex(pve_state_map("running", "suspended", NULL, NULL), ==, VMS_SUSPENDED);
	g_assert_cmphex(pve_state_map("running", "prelaunch", NULL, NULL), ==, VMS_STARTING);
	g_assert_cmphex(pve_state_map("running", "shutdown", NULL, NULL), ==, VMS_STOPPING);
	g_assert_cmphex(pve_state_map("running", NULL, "suspending", NULL), ==, VMS_SUSPENDING);
	g_assert_cmphex(pve_state_map("stopped", NULL, "suspended", &raw), ==, VMS_SUSPENDED);
	g_assert_cmpstr(raw, ==, "suspended");
	g_assert_cmphex(pve_state_map("stopped", NULL, "backup", NULL), ==, VMS_STOPPED);
	g_assert_cmphex(pve_state_map("unknown", NULL, NULL, &raw), ==, VMS_STOPPED);
	g_assert_cmpstr(raw, ==, "unknown");
	g_assert_cmphex(pve_state_map(NULL, NULL, NULL, NULL), ==, VMS_STOPPED);
}

static void test_os(void)
{
	guint32 t, v;
	pve_os_map("win11", &t, &v);
	g_assert_cmpuint(t, ==, PVS_GUEST_TYPE_WINDOWS);
	g_assert_cmpuint(v, ==, PVS_GUEST_VER_WIN_WINDOWS11);
	pve_os_map("l26", &t, &v);
	g_assert_cmpuint(t, ==, PVS_GUEST_TYPE_LINUX);
	pve_os_map("other", &t, &v);
	g_assert_cmpuint(t, ==, PVS_GUEST_TYPE_OTHER);
	pve_os_map(NULL, &t, &v);
	g_assert_cmpuint(t, ==, PVS_GUEST_TYPE_OTHER);
}

static void test_vmid(void)
{
	guint v;
	g_assert_true(pve_vmid_parse("101", &v));
	g_assert_cmpuint(v, ==, 101);
	g_assert_true(pve_vmid_parse("999999999", &v));
	const char *bad[] = { "", "99", "1e3", "+101", " 101", "101 ", "0x65", "1000000000", "abc",
	                      "-101", NULL };
	for (int i = 0; bad[i]; i++)
		g_assert_false(pve_vmid_parse(bad[i], &v));
	g_assert_false(pve_vmid_parse(NULL, &v));
}

/* ---------- parsing answers ---------- */

static void test_inventory(void)
{
	g_autoptr(json_t) data = J(
		"[{\"type\":\"qemu\",\"vmid\":103,\"node\":\"pve2\",\"name\":\"b\",\"status\":\"running\","
		"\"maxmem\":2147483648,\"maxcpu\":2,\"uptime\":50,\"lock\":\"clone\"},"
		" {\"type\":\"lxc\",\"vmid\":200,\"node\":\"pve1\",\"name\":\"ct\",\"status\":\"running\"},"
		" {\"type\":\"node\",\"node\":\"pve1\"},"
		" {\"type\":\"qemu\",\"vmid\":\"101\",\"node\":\"pve1\",\"name\":\"a\",\"status\":\"stopped\","
		"\"template\":1,\"tags\":\"x;y\"},"
		" {\"type\":\"qemu\",\"vmid\":5,\"node\":\"pve1\"}, {\"type\":\"qemu\"}, 17]");
	g_autoptr(GError) error = NULL;
	g_autoptr(pve_inventory) inv = pve_inventory_parse(data, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(inv->vms->len, ==, 2);
	const pve_resource *a = g_ptr_array_index(inv->vms, 0);
	g_assert_cmpuint(a->vmid, ==, 101);
	g_assert_true(a->template);
	g_assert_cmpstr(a->tags, ==, "x;y");
	const pve_resource *b = pve_inventory_find(inv, 103);
	g_assert_cmpstr(b->node, ==, "pve2");
	g_assert_cmpstr(b->lock, ==, "clone");
	g_assert_cmpuint(b->maxmem, ==, 2147483648u);
	const pve_resource *ct = pve_inventory_find(inv, 200);
	g_assert_nonnull(ct);
	g_assert_false(ct->is_qemu);
	g_assert_null(pve_inventory_find(inv, 5));

	g_autoptr(json_t) notlist = J("{\"data\":1}");
	g_assert_null(pve_inventory_parse(notlist, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED);
}

static void test_vmconf(void)
{
	g_autoptr(json_t) data = J(
		"{\"digest\":\"abc\",\"name\":\"x\",\"memory\":\"current=4096\",\"cores\":2,\"sockets\":2,"
		"\"ostype\":\"win11\",\"agent\":\"enabled=1,fstrim_cloned_disks=1\","
		"\"net1\":\"e1000=bc:24:11:00:00:02,bridge=vmbr1\","
		"\"net0\":\"virtio=BC:24:11:8A:3C:FF,bridge=vmbr0,firewall=1\","
		"\"scsi0\":\"local-lvm:vm-100-disk-0,size=32G\",\"ide2\":\"none,media=cdrom\","
		"\"ide0\":\"local:iso/win.iso,media=cdrom,size=5G\",\"virtio1\":\"ceph:vm-100-disk-1,size=1T\","
		"\"tags\":\"a;b\",\"description\":\"hello\\nworld\",\"netx\":\"garbage\",\"net9\":17}");
	g_autoptr(GError) error = NULL;
	g_autoptr(pve_vmconf) c = pve_vmconf_parse(data, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->digest, ==, "abc");
	g_assert_cmpuint(c->memory_mb, ==, 4096);
	g_assert_cmpuint(c->cores * c->sockets, ==, 4);
	g_assert_true(c->agent);
	g_assert_cmpuint(c->nets->len, ==, 2);
	pk_net_data *n0 = g_ptr_array_index(c->nets, 0);
	pk_net_data *n1 = g_ptr_array_index(c->nets, 1);
	g_assert_cmpstr(n0->mac, ==, "BC:24:11:8A:3C:FF");
	g_assert_cmpstr(n0->network, ==, "vmbr0");
	g_assert_cmpstr(n1->mac, ==, "BC:24:11:00:00:02");
	g_assert_cmpuint(c->disks->len, ==, 4);
	pk_disk_data *d0 = g_ptr_array_index(c->disks, 0);   /* ide0 first */
	g_assert_cmpint(d0->type, ==, PDE_OPTICAL_DISK);
	g_assert_cmpstr(d0->image_path, ==, "local:iso/win.iso");
	pk_disk_data *empty = g_ptr_array_index(c->disks, 1);   /* ide2: an empty CD drive */
	g_assert_cmpint(empty->type, ==, PDE_OPTICAL_DISK);
	g_assert_null(empty->image_path);
	pk_disk_data *d1 = g_ptr_array_index(c->disks, 2);
	g_assert_cmpstr(d1->image_path, ==, "local-lvm:vm-100-disk-0");
	g_assert_cmpuint(d1->size_mb, ==, 32768);
	pk_disk_data *d2 = g_ptr_array_index(c->disks, 3);
	g_assert_cmpuint(d2->size_mb, ==, 1024 * 1024);

	const char *agents[][2] = { { "1", "1" }, { "0", "0" }, { "enabled=0", "0" },
	                            { "1,type=virtio", "1" } };
	for (gsize i = 0; i < G_N_ELEMENTS(agents); i++) {
		g_autofree char *t = g_strdup_printf("{\"agent\":\"%s\",\"memory\":512}", agents[i][0]);
		g_autoptr(json_t) j = J(t);
		g_autoptr(pve_vmconf) a = pve_vmconf_parse(j, NULL);
		g_assert_cmpint(a->agent, ==, agents[i][1][0] == '1');
		g_assert_cmpuint(a->memory_mb, ==, 512);
	}
	g_autoptr(json_t) bad = J("[1]");
	g_assert_null(pve_vmconf_parse(bad, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_VM_GET_CONFIG_FAILED);
}

static void test_agent_ips(void)
{
	g_autoptr(json_t) data = J(
		"{\"result\":[{\"name\":\"lo\",\"ip-addresses\":[{\"ip-address\":\"127.0.0.1\"}]},"
		"{\"name\":\"eth0\",\"ip-addresses\":[{\"ip-address\":\"fe80::1\",\"ip-address-type\":\"ipv6\"},"
		"{\"ip-address\":\"fd00::5\",\"ip-address-type\":\"ipv6\"},"
		"{\"ip-address\":\"10.0.0.5\",\"ip-address-type\":\"ipv4\"},"
		"{\"ip-address\":\"169.254.1.1\",\"ip-address-type\":\"ipv4\"}]},"
		"{\"name\":\"eth1\",\"ip-addresses\":[{\"ip-address\":\"10.0.0.5\"},{\"ip-address\":\"::1\"}]},"
		"{\"name\":\"weird\",\"ip-addresses\":17}]}");
	g_autoptr(GPtrArray) ips = pve_agent_ips_parse(data);
	g_assert_cmpuint(ips->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(ips, 0), ==, "10.0.0.5");
	g_assert_cmpstr(g_ptr_array_index(ips, 1), ==, "fd00::5");
	g_autoptr(json_t) junk = J("\"nothing\"");
	g_autoptr(GPtrArray) none = pve_agent_ips_parse(junk);
	g_assert_cmpuint(none->len, ==, 0);
}

/* ---------- settings, features, transport helpers ---------- */

static gboolean parse(const char *json, pve_settings *s, GError **error)
{
	g_autoptr(GHashTable) h = pk_settings_new();
	g_assert_true(pk_settings_merge_json(h, json, NULL));
	return pve_settings_parse(h, NULL, s, error);
}

static void test_settings(void)
{
	pve_settings s;
	g_autoptr(GError) error = NULL;
	g_assert_true(parse("{\"host\":\"pve1\",\"username\":\"root@pam\",\"token_name\":\"auto\","
	                    "\"token_secret\":\"s3cr3t-value\"}", &s, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(s.base_url, ==, "https://pve1:8006");
	g_assert_cmpstr(s.token_id, ==, "root@pam!auto");
	g_assert_null(s.password);
	g_assert_cmpint(s.template_mode, ==, PVE_TEMPLATE_TAG);
	g_assert_false(s.stop_hard);
	g_assert_cmpuint(s.request_timeout_ms, ==, 30000);
	pve_settings_clear(&s);

	g_assert_true(parse("{\"host\":\"https://10.0.0.1:8443/\",\"username\":\"admin\","
	                    "\"realm\":\"pve\",\"password\":\"pw-secret\",\"template_mode\":\"NATIVE\","
	                    "\"stop_mode\":\"stop\",\"request_timeout\":\"2.5\",\"full_clone\":\"true\"}",
	                    &s, &error));
	g_assert_cmpstr(s.base_url, ==, "https://10.0.0.1:8443");
	g_assert_cmpstr(s.username, ==, "admin@pve");
	g_assert_null(s.token_id);
	g_assert_cmpint(s.template_mode, ==, PVE_TEMPLATE_NATIVE);
	g_assert_true(s.stop_hard);
	g_assert_true(s.full_clone);
	g_assert_cmpuint(s.request_timeout_ms, ==, 2500);
	pve_settings_clear(&s);

	g_assert_true(parse("{\"host\":\"fe80::1\",\"token_name\":\"root@pam!x\",\"token_secret\":\"abcd\"}",
	                    &s, &error));
	g_assert_cmpstr(s.base_url, ==, "https://[fe80::1]:8006");
	g_assert_cmpstr(s.token_id, ==, "root@pam!x");
	g_assert_cmpstr(s.username, ==, "root@pam");
	pve_settings_clear(&s);

	g_assert_true(parse("{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"pw\","
	                    "\"storage\":\"ceph.pool_1-a\"}", &s, &error));
	g_assert_cmpstr(s.storage, ==, "ceph.pool_1-a");
	pve_settings_clear(&s);

	/* Errors name the key and never echo a secret. */
	struct { const char *json; const char *key; } bad[] = {
		{ "{\"username\":\"root@pam\",\"password\":\"hunter2-secret\"}", "'host'" },
		{ "{\"host\":\"http://pve1\",\"username\":\"root@pam\",\"password\":\"hunter2-secret\"}", "'host'" },
		{ "{\"host\":\"pve1/path\",\"username\":\"root@pam\",\"password\":\"hunter2-secret\"}", "'host'" },
		{ "{\"host\":\"pve1\",\"username\":\"root@pam\"}", "'token_secret'" },
		{ "{\"host\":\"pve1\",\"password\":\"hunter2-secret\"}", "'username'" },
		{ "{\"host\":\"pve1\",\"username\":\"root@pam\",\"token_secret\":\"hunter2-secret\"}", "'token_name'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"template_mode\":\"x\"}", "'template_mode'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"tls_fingerprint\":\"AB:CD\"}", "'tls_fingerprint'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"request_timeout\":\"soon\"}", "'request_timeout'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"node\":\"a b\"}", "'node'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"template_tag\":\"A B\"}", "'template_tag'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"insecure_skip_verify\":\"maybe\"}", "'insecure_skip_verify'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"storage\":\"local lvm\"}", "'storage'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"storage\":\"1local\"}", "'storage'" },
		{ "{\"host\":\"pve1\",\"username\":\"r@pam\",\"password\":\"hunter2-secret\",\"storage\":\"local-\"}", "'storage'" },
		{ "{\"host\":\"pve1\",\"username\":\"a-user-name-far-longer-than-sixty-four-characters-for-a-ticket@pve\",\"password\":\"hunter2-secret\"}", "'username'" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&error);
		g_assert_false(parse(bad[i].json, &s, &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
		if (strstr(error->message, bad[i].key) == NULL)
			g_error("'%s' does not name %s", error->message, bad[i].key);
		g_assert_null(strstr(error->message, "hunter2"));
	}
}

static void test_settings_uri(void)
{
	g_autoptr(GHashTable) h = pk_settings_new();
	g_assert_true(pk_settings_merge_json(h, "{\"username\":\"root@pam\",\"password\":\"pw12\"}",
	                                     NULL));
	g_autoptr(GUri) uri = g_uri_parse("pve://pve3.example:9006?node=pve3", G_URI_FLAGS_NONE, NULL);
	pve_settings s;
	g_autoptr(GError) error = NULL;
	g_assert_true(pve_settings_parse(h, uri, &s, &error));
	g_assert_cmpstr(s.base_url, ==, "https://pve3.example:9006");
	pve_settings_clear(&s);
}

static guint64 features(const char *json)
{
	g_autoptr(GHashTable) h = pk_settings_new();
	g_assert_true(pk_settings_merge_json(h, json, NULL));
	return pve_driver.features_for(h);
}

static void test_features(void)
{
	guint64 tag = features("{}");
	g_assert_true(tag & PRLK_FEAT_REVERSIBLE_TEMPLATES);
	g_assert_true(tag & PRLK_FEAT_CLONE_FROM_SNAPSHOT);
	g_assert_false(tag & PRLK_FEAT_LINKED_CLONE);
	g_assert_true(tag & PRLK_FEAT_SUSPEND);
	g_assert_true(tag & PRLK_FEAT_TASK_IDS);
	g_assert_false(tag & PRLK_FEAT_PAUSE);
	g_assert_false(tag & PRLK_FEAT_EVENTS);

	guint64 native = features("{\"template_mode\":\"native\"}");
	g_assert_true(native & PRLK_FEAT_LINKED_CLONE);
	g_assert_false(native & PRLK_FEAT_REVERSIBLE_TEMPLATES);
	g_assert_true(native & PRLK_FEAT_TEMPLATES);
	g_assert_true(native & PRLK_FEAT_CLONE_FROM_SNAPSHOT);

	guint64 full = features("{\"template_mode\":\"native\",\"full_clone\":\"1\"}");
	g_assert_false(full & PRLK_FEAT_LINKED_CLONE);
	g_assert_true(features("{\"suspend_mode\":\"pause\"}") & PRLK_FEAT_PAUSE);
	/* Every feature a setting can give is within the driver's static set. */
	g_assert_cmphex(tag & ~pve_driver.features, ==, 0);
	g_assert_cmphex(native & ~pve_driver.features, ==, 0);
}

static void test_host_url(void)
{
	struct { const char *in, *out; } ok[] = {
		{ "pve1", "https://pve1:8006" },
		{ " pve1.example.com:8443 ", "https://pve1.example.com:8443" },
		{ "https://pve1", "https://pve1:8006" },
		{ "HTTPS://pve1:1/", "https://pve1:1" },
		{ "10.1.2.3", "https://10.1.2.3:8006" },
		{ "[::1]:8006", "https://[::1]:8006" },
		{ "2001:db8::5", "https://[2001:db8::5]:8006" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *u = pk_http_base_url_from_host(ok[i].in, 8006, "host", &error);
		g_assert_no_error(error);
		g_assert_cmpstr(u, ==, ok[i].out);
	}
	const char *bad[] = { "", "http://pve1", "ftp://pve1", "https://u:p@pve1", "pve1/api2/json",
	                      "https://pve1:8006/?x=1", "https://pve1:99999", NULL };
	for (int i = 0; bad[i]; i++) {
		g_autoptr(GError) error = NULL;
		g_assert_null(pk_http_base_url_from_host(bad[i], 8006, "host", &error));
		g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
		g_assert_null(strstr(error->message, ":p@"));
	}
}

static void test_fingerprint(void)
{
	guint8 a[32], b[32];
	const char *hex = "C6:68:70:3A:0A:58:93:EF:B1:C4:D5:76:D2:38:5F:AC:D3:66:C3:A5:F3:C8:40:84:"
	                  "D4:7B:93:9D:FB:61:DD:68";
	g_assert_true(pk_http_parse_fingerprint(hex, a, NULL));
	g_autofree char *bare = g_strdelimit(g_ascii_strdown(hex, -1), ":", ' ');
	g_assert_true(pk_http_parse_fingerprint(bare, b, NULL));
	g_assert_cmpmem(a, 32, b, 32);
	g_autofree char *openssl = g_strconcat("sha256 Fingerprint=", hex, NULL);
	g_assert_true(pk_http_parse_fingerprint(openssl, b, NULL));
	g_assert_cmpmem(a, 32, b, 32);
	g_assert_cmphex(a[0], ==, 0xC6);
	g_assert_cmphex(a[31], ==, 0x68);
	g_autoptr(GError) error = NULL;
	g_assert_false(pk_http_parse_fingerprint("C6:68", a, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_clear_error(&error);
	g_autofree char *longer = g_strconcat(hex, ":00", NULL);
	g_assert_false(pk_http_parse_fingerprint(longer, a, &error));
	g_clear_error(&error);
	g_autofree char *bad = g_strdup(hex);
	bad[0] = 'G';
	g_assert_false(pk_http_parse_fingerprint(bad, a, &error));
}

static void test_status_mapping(void)
{
	g_assert_cmphex(pk_http_status_result(200, 0), ==, PRL_ERR_SUCCESS);
	g_assert_cmphex(pk_http_status_result(400, 0), ==, PRL_ERR_INVALID_PARAM);
	g_assert_cmphex(pk_http_status_result(401, 0), ==, PRL_ERR_AUTHENTICATION_FAILED);
	g_assert_cmphex(pk_http_status_result(403, 0), ==, PRL_ERR_ACCESS_DENIED);
	g_assert_cmphex(pk_http_status_result(404, PK_HTTP_VM), ==, PRL_ERR_VM_UUID_NOT_FOUND);
	g_assert_cmphex(pk_http_status_result(404, 0), ==, PRL_ERR_OBJECT_NOT_FOUND);
	g_assert_cmphex(pk_http_status_result(504, 0), ==, PRL_ERR_IO_CONNECTION_TIMEOUT);
	g_assert_cmphex(pk_http_status_result(503, 0), ==, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	g_assert_cmphex(pk_http_status_result(500, 0), ==, PRL_ERR_OPERATION_FAILED);
	g_autoptr(GError) error = NULL;
	pk_http_status_error(500, 0, "  ", &error);
	g_assert_cmpstr(error->message, ==, "HTTP 500");
}

static void test_escape(void)
{
	g_autofree char *e = pk_http_escape("UPID:pve1:0001:a=b&c d/é");
	g_assert_cmpstr(e, ==, "UPID%3Apve1%3A0001%3Aa%3Db%26c%20d%2F%C3%A9");
	g_autoptr(GString) f = g_string_new(NULL);
	pk_http_form_add(f, "description", "x=y&z");
	pk_http_form_add_int(f, "memory", 2048);
	g_assert_cmpstr(f->str, ==, "description=x%3Dy%26z&memory=2048");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pve/types/snapname/ras", test_snapname_ras);
	g_test_add_func("/pve/types/snapname/reversible", test_snapname_reversible);
	g_test_add_func("/pve/types/snapname/limits", test_snapname_limits);
	g_test_add_func("/pve/types/snapdesc", test_snapdesc);
	g_test_add_func("/pve/types/tags", test_tags);
	g_test_add_func("/pve/types/upid", test_upid);
	g_test_add_func("/pve/types/exitstatus", test_exitstatus);
	g_test_add_func("/pve/types/classify", test_classify);
	g_test_add_func("/pve/types/state", test_state);
	g_test_add_func("/pve/types/os", test_os);
	g_test_add_func("/pve/types/vmid", test_vmid);
	g_test_add_func("/pve/types/inventory", test_inventory);
	g_test_add_func("/pve/types/vmconf", test_vmconf);
	g_test_add_func("/pve/types/agent-ips", test_agent_ips);
	g_test_add_func("/pve/types/settings", test_settings);
	g_test_add_func("/pve/types/settings-uri", test_settings_uri);
	g_test_add_func("/pve/types/features", test_features);
	g_test_add_func("/pve/http/host-url", test_host_url);
	g_test_add_func("/pve/http/fingerprint", test_fingerprint);
	g_test_add_func("/pve/http/status-mapping", test_status_mapping);
	g_test_add_func("/pve/http/escape", test_escape);
	return g_test_run();
}

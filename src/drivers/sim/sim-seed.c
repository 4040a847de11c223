/* The sim's inventory: the guest OS table, ids, MAC and IP allocation, and the seeded
 * first state of a new directory (`seed` setting: "default" or "empty", "+N" adds N
 * generated VMs). Everything here is deterministic except random ids of new clones. */
#include "config.h"

#include <string.h>

#include "sim-private.h"

static const sim_os sim_oses[] = {
	{ "win11",   "Windows 11",          PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS11, 8192, 4, 65536 },
	{ "win10",   "Windows 10",          PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS10, 4096, 2, 65536 },
	{ "win2022", "Windows Server 2022", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_2022, 16384, 8, 131072 },
	{ "win2019", "Windows Server 2019", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_2019, 8192, 4, 131072 },
	{ "ubuntu",  "Ubuntu Linux",        PVS_GUEST_TYPE_LINUX,   PVS_GUEST_VER_LIN_UBUNTU, 4096, 2, 32768 },
	{ "debian",  "Debian GNU/Linux",    PVS_GUEST_TYPE_LINUX,   PVS_GUEST_VER_LIN_DEBIAN, 2048, 2, 20480 },
	{ "rhel",    "Red Hat Enterprise Linux", PVS_GUEST_TYPE_LINUX, PVS_GUEST_VER_LIN_REDHAT, 4096, 2, 40960 },
	{ "other",   "Other",               PVS_GUEST_TYPE_OTHER,   PVS_GUEST_VER_OTH_OTHER, 1024, 1, 16384 },
	{ NULL, NULL, 0, 0, 0, 0, 0 }
};

const sim_os *
sim_os_lookup(const char *word)
{
	const sim_os *os;

	for (os = sim_oses; os->word; os++)
		if (word && strcmp(os->word, word) == 0)
			return os;
	return &sim_oses[G_N_ELEMENTS(sim_oses) - 2];  /* "other" */
}

/* ---- seed grammar ---- */

gboolean
sim_seed_parse(const char *spec, sim_seed *out, GError **error)
{
	g_autofree char *s = g_strstrip(g_strdup(spec ? spec : "default"));
	char *plus = strchr(s, '+');
	const char *base = s;
	guint64 extra = 0;

	memset(out, 0, sizeof(*out));
	if (plus) {
		char *end = NULL;
		*plus = '\0';
		if (!g_ascii_isdigit(plus[1]) ||
		    (extra = g_ascii_strtoull(plus + 1, &end, 10), *end != '\0') ||
		    extra > SIM_SEED_MAX_EXTRA) {
			sim_set_error(error, PRL_ERR_INVALID_PARAM,
			              "invalid value for setting 'seed': after '+' comes a number of "
			              "generated VMs from 0 to %u", SIM_SEED_MAX_EXTRA);
			return FALSE;
		}
		if (*s == '\0')
			base = "empty";  /* "+N" alone: just the generated VMs */
	}
	if (g_ascii_strcasecmp(base, "default") != 0 && g_ascii_strcasecmp(base, "empty") != 0) {
		sim_set_error(error, PRL_ERR_INVALID_PARAM,
		              "invalid value for setting 'seed': expected 'default' or 'empty', "
		              "optionally followed by '+N' (e.g. 'default+10000')");
		return FALSE;
	}
	out->base = g_ascii_strdown(base, -1);
	out->extra = (guint)extra;
	return TRUE;
}

void
sim_seed_clear(sim_seed *s)
{
	g_clear_pointer(&s->base, g_free);
}

/* ---- ids and addresses ---- */

char *
sim_uuid_for_name(const char *seed_name, const char *vm_name)
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA1);
	guint8 h[20];
	gsize len = sizeof(h);

	g_checksum_update(ck, (const guchar *)"prlkit-sim/", -1);
	g_checksum_update(ck, (const guchar *)seed_name, -1);
	g_checksum_update(ck, (const guchar *)"/", -1);
	g_checksum_update(ck, (const guchar *)vm_name, -1);
	g_checksum_get_digest(ck, h, &len);
	h[6] = (h[6] & 0x0f) | 0x50;  /* version 5 (name-based, SHA-1) */
	h[8] = (h[8] & 0x3f) | 0x80;  /* RFC 4122 variant */
	return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	                       "%02x%02x%02x%02x%02x%02x",
	                       h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
	                       h[10], h[11], h[12], h[13], h[14], h[15]);
}

static gint64
doc_counter_next(json_t *doc, const char *key)
{
	gint64 n = sim_jint(doc, key);
	if (n < 1)
		n = 1;
	json_object_set_new(doc, key, json_integer(n + 1));
	return n;
}

char *
sim_doc_alloc_mac(json_t *doc)
{
	gint64 n = doc_counter_next(doc, "next_mac") & 0xffffff;
	return g_strdup_printf("52:54:00:%02X:%02X:%02X", (guint)(n >> 16) & 0xff,
	                       (guint)(n >> 8) & 0xff, (guint)n & 0xff);
}

gint64
sim_doc_alloc_ip(json_t *doc)
{
	return doc_counter_next(doc, "next_ip");
}

char *
sim_ip4_format(gint64 n)
{
	/* 10.64.0.1 upwards, never .0 or .255 in the last octet. */
	guint64 u = (guint64)n;
	return g_strdup_printf("10.%u.%u.%u", (guint)(64 + (u / (254 * 256)) % 64),
	                       (guint)((u / 254) % 256), (guint)(u % 254 + 1));
}

char *
sim_ip6_format(gint64 n)
{
	guint64 u = (guint64)n;
	if (u >> 16)
		return g_strdup_printf("fd00:5107::%x:%x", (guint)(u >> 16) & 0xffff,
		                       (guint)u & 0xffff);
	return g_strdup_printf("fd00:5107::%x", (guint)u);
}

/* ---- VMs ---- */

json_t *
sim_vm_json_new(json_t *doc, const char *id, const char *name, const char *os_word,
                gint64 now)
{
	const sim_os *os = sim_os_lookup(os_word);
	json_t *vm = json_object();
	g_autofree char *mac = sim_doc_alloc_mac(doc);

	json_object_set_new(vm, "id", json_string(id));
	json_object_set_new(vm, "name", json_string(name));
	json_object_set_new(vm, "desc", json_string(""));
	json_object_set_new(vm, "os", json_string(os->word));
	json_object_set_new(vm, "ost", json_integer(os->type));
	json_object_set_new(vm, "osv", json_integer(os->version));
	json_object_set_new(vm, "ram", json_integer(os->ram_mb));
	json_object_set_new(vm, "cpus", json_integer(os->cpus));
	json_object_set_new(vm, "disk_mb", json_integer(os->disk_mb));
	json_object_set_new(vm, "mac", json_string(mac));
	json_object_set_new(vm, "net", json_string("sim-shared"));
	json_object_set_new(vm, "ipn", json_integer(sim_doc_alloc_ip(doc)));
	json_object_set_new(vm, "st", json_string("stopped"));
	json_object_set_new(vm, "gen", json_integer(1));
	json_object_set_new(vm, "created", json_integer(now / 1000));
	return vm;
}

static json_t *
seed_vm(json_t *doc, const char *seed_name, const char *name, const char *os,
        const char *desc, const char *state, gint64 now)
{
	g_autofree char *id = sim_uuid_for_name(seed_name, name);
	json_t *vm = sim_vm_json_new(doc, id, name, os, now);

	json_object_set_new(vm, "desc", json_string(desc));
	json_object_set_new(vm, "st", json_string(state));
	if (strcmp(state, "running") == 0)
		json_object_set_new(vm, "ip_at", json_integer(now));
	json_array_append_new(json_object_get(doc, "vms"), vm);
	return vm;
}

static void
seed_default(json_t *doc, gint64 now)
{
	json_t *gold;

	gold = seed_vm(doc, "default", "win11-gold", "win11",
	               "Windows 11 golden image for RAS hosts", "stopped", now);
	json_object_set_new(gold, "tpl", json_true());
	sim_vm_snapshot_add(gold, "RAS_TEMPLATE_VERSION_1", "RAS template version 1", now);

	seed_vm(doc, "default", "rds-host-01", "win2022", "RDS session host", "running", now);
	seed_vm(doc, "default", "rds-host-02", "win2022", "RDS session host", "running", now);
	seed_vm(doc, "default", "ubuntu-app-01", "ubuntu", "Line-of-business web app", "running",
	        now);
	seed_vm(doc, "default", "win10-legacy", "win10", "Legacy desktop", "stopped", now);
	seed_vm(doc, "default", "debian-build", "debian", "Build machine", "stopped", now);
}

static void
seed_generated(json_t *doc, const char *seed_name, guint count, gint64 now)
{
	static const char *const oses[] = { "win11", "win2022", "ubuntu", "debian" };
	guint i;

	for (i = 1; i <= count; i++) {
		char name[32];
		g_snprintf(name, sizeof(name), "sim-vm-%05u", i);
		seed_vm(doc, seed_name, name, oses[i % G_N_ELEMENTS(oses)], "",
		        i % 4 == 1 ? "running" : "stopped", now);
	}
}

json_t *
sim_seed_build(const sim_seed *seed, const char *instance, gint64 now)
{
	json_t *doc = json_object();
	g_autofree char *spec = g_strdup_printf("%s+%u", seed->base, seed->extra);

	json_object_set_new(doc, "format", json_string(SIM_FORMAT));
	json_object_set_new(doc, "version", json_integer(SIM_FORMAT_VERSION));
	json_object_set_new(doc, "instance", json_string(instance));
	json_object_set_new(doc, "seed", json_string(spec));
	json_object_set_new(doc, "created", json_integer(now));
	json_object_set_new(doc, "next_mac", json_integer(1));
	json_object_set_new(doc, "next_ip", json_integer(1));
	json_object_set_new(doc, "vms", json_array());
	json_object_set_new(doc, "tasks", json_object());
	if (strcmp(seed->base, "default") == 0)
		seed_default(doc, now);
	seed_generated(doc, seed->base, seed->extra, now);
	return doc;
}

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
counter_next(gint64 *counter)
{
	gint64 n = *counter < 1 ? 1 : *counter;
	*counter = n + 1;
	return n;
}

char *
sim_model_alloc_mac(sim_model *d)
{
	gint64 n = counter_next(&d->next_mac) & 0xffffff;
	return g_strdup_printf("52:54:00:%02X:%02X:%02X", (guint)(n >> 16) & 0xff,
	                       (guint)(n >> 8) & 0xff, (guint)n & 0xff);
}

gint64
sim_model_alloc_ip(sim_model *d)
{
	return counter_next(&d->next_ip);
}

/* Appends v in base 10 or 16; the address formats run for every running VM of a list. */
static char *
put_num(char *p, guint v, guint base)
{
	char tmp[12];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

char *
sim_ip4_format(gint64 n)
{
	/* 10.64.0.1 upwards, never .0 or .255 in the last octet. */
	guint64 u = (guint64)n;
	char buf[16], *p = buf;

	*p++ = '1';
	*p++ = '0';
	*p++ = '.';
	p = put_num(p, (guint)(64 + (u / (254 * 256)) % 64), 10);
	*p++ = '.';
	p = put_num(p, (guint)((u / 254) % 256), 10);
	*p++ = '.';
	p = put_num(p, (guint)(u % 254 + 1), 10);
	*p = '\0';
	return g_strdup(buf);
}

char *
sim_ip6_format(gint64 n)
{
	guint64 u = (guint64)n;
	char buf[32], *p = buf;

	memcpy(p, "fd00:5107::", 11);
	p += 11;
	if (u >> 16) {
		p = put_num(p, (guint)(u >> 16) & 0xffff, 16);
		*p++ = ':';
	}
	p = put_num(p, (guint)u & 0xffff, 16);
	*p = '\0';
	return g_strdup(buf);
}

/* ---- VMs ---- */

sim_vm *
sim_vm_create(sim_model *d, const char *id, const char *name, const char *os_word,
              gint64 now)
{
	const sim_os *os = sim_os_lookup(os_word);
	sim_vm *vm = sim_vm_new();

	vm->id = g_strdup(id);
	vm->id_hash = sim_id_hash(id);
	vm->name = g_strdup(name);
	vm->os = g_intern_static_string(os->word);
	vm->ost = os->type;
	vm->osv = os->version;
	vm->ram = os->ram_mb;
	vm->cpus = os->cpus;
	vm->disk_mb = os->disk_mb;
	vm->mac = sim_model_alloc_mac(d);
	vm->net = g_intern_static_string("sim-shared");
	vm->has_ipn = TRUE;
	vm->ipn = sim_model_alloc_ip(d);
	vm->st = "stopped";
	vm->gen = 1;
	vm->created = now / 1000;
	return vm;
}

static sim_vm *
seed_vm(sim_model *d, const char *seed_name, const char *name, const char *os,
        const char *desc, const char *state, gint64 now)
{
	g_autofree char *id = sim_uuid_for_name(seed_name, name);
	sim_vm *vm = sim_vm_create(d, id, name, os, now);

	vm->desc = *desc ? g_strdup(desc) : NULL;
	vm->st = sim_word_intern(state);
	if (strcmp(state, "running") == 0) {
		vm->has_ip_at = TRUE;
		vm->ip_at = now;
	}
	sim_model_add_vm(d, vm);
	return vm;
}

static void
seed_default(sim_model *d, gint64 now)
{
	sim_vm *gold;

	gold = seed_vm(d, "default", "win11-gold", "win11",
	               "Windows 11 golden image for RAS hosts", "stopped", now);
	gold->tpl = TRUE;
	sim_vm_snapshot_add(gold, "RAS_TEMPLATE_VERSION_1", "RAS template version 1", now);

	seed_vm(d, "default", "rds-host-01", "win2022", "RDS session host", "running", now);
	seed_vm(d, "default", "rds-host-02", "win2022", "RDS session host", "running", now);
	seed_vm(d, "default", "ubuntu-app-01", "ubuntu", "Line-of-business web app", "running",
	        now);
	seed_vm(d, "default", "win10-legacy", "win10", "Legacy desktop", "stopped", now);
	seed_vm(d, "default", "debian-build", "debian", "Build machine", "stopped", now);
}

static void
seed_generated(sim_model *d, const char *seed_name, guint count, gint64 now)
{
	static const char *const oses[] = { "win11", "win2022", "ubuntu", "debian" };
	guint i;

	for (i = 1; i <= count; i++) {
		char name[32];
		g_snprintf(name, sizeof(name), "sim-vm-%05u", i);
		seed_vm(d, seed_name, name, oses[i % G_N_ELEMENTS(oses)], "",
		        i % 4 == 1 ? "running" : "stopped", now);
	}
}

sim_model *
sim_seed_build(const sim_seed *seed, const char *instance, gint64 now)
{
	sim_model *d = sim_model_new();

	d->instance = g_strdup(instance);
	d->seed = g_strdup_printf("%s+%u", seed->base, seed->extra);
	d->created = now;
	d->next_mac = 1;
	d->next_ip = 1;
	if (strcmp(seed->base, "default") == 0)
		seed_default(d, now);
	seed_generated(d, seed->base, seed->extra, now);
	return d;
}

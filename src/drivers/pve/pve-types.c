/* Proxmox VE: pure mapping between Proxmox's JSON and prlkit's data, and the small codecs
 * the driver needs (snapshot names, tags, UPIDs). No I/O here. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pve-private.h"

/* ---------- JSON helpers: Proxmox sends numbers as strings and vice versa ---------- */

static char *json_dup_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return g_strdup(json_string_value(v));
	if (json_is_integer(v))
		return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return NULL;
}

static gint64 json_get_int(json_t *o, const char *key, gint64 def)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		/* Converting a double outside gint64's range is undefined. */
		double d = json_real_value(v);
		return d > -9.2e18 && d < 9.2e18 ? (gint64)d : def;
	}
	if (json_is_string(v)) {
		gint64 n;
		if (g_ascii_string_to_signed(json_string_value(v), 10, G_MININT64, G_MAXINT64, &n, NULL))
			return n;
	}
	return def;
}

static gboolean json_get_bool01(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_boolean(v))
		return json_is_true(v);
	return json_get_int(o, key, 0) != 0;
}

/* ---------- ids ---------- */

gboolean pve_vmid_parse(const char *id, guint *vmid)
{
	guint64 n;
	if (id == NULL || *id == '\0' || strlen(id) > 9 || strspn(id, "0123456789") != strlen(id))
		return FALSE;
	if (!g_ascii_string_to_unsigned(id, 10, 100, 999999999, &n, NULL))
		return FALSE;
	*vmid = (guint)n;
	return TRUE;
}

/* ---------- inventory ---------- */

static void resource_free(gpointer p)
{
	pve_resource *r = p;
	g_free(r->node);
	g_free(r->name);
	g_free(r->status);
	g_free(r->lock);
	g_free(r->tags);
	g_free(r);
}

static gint resource_cmp(gconstpointer a, gconstpointer b)
{
	const pve_resource *x = *(pve_resource *const *)a, *y = *(pve_resource *const *)b;
	return x->vmid < y->vmid ? -1 : x->vmid > y->vmid;
}

static void inventory_dispose(gpointer p)
{
	pve_inventory *inv = p;
	g_hash_table_unref(inv->by_id);
	g_ptr_array_unref(inv->vms);
}

pve_inventory *pve_inventory_parse(json_t *data, GError **error)
{
	if (!json_is_array(data)) {
		g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED,
		            "unexpected cluster/resources answer (not a list)");
		return NULL;
	}
	pve_inventory *inv = g_atomic_rc_box_new0(pve_inventory);
	inv->vms = g_ptr_array_new();
	inv->by_id = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, resource_free);
	size_t i;
	json_t *e;
	json_array_foreach(data, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		if (type == NULL || (strcmp(type, "qemu") != 0 && strcmp(type, "lxc") != 0))
			continue;
		gint64 vmid = json_get_int(e, "vmid", -1);
		char *node = json_dup_string(e, "node");
		if (vmid < 100 || vmid > 999999999 || node == NULL) {
			g_free(node);
			continue;
		}
		pve_resource *r = g_new0(pve_resource, 1);
		r->vmid = (guint)vmid;
		r->is_qemu = strcmp(type, "qemu") == 0;
		r->node = node;
		r->name = json_dup_string(e, "name");
		r->status = json_dup_string(e, "status");
		r->lock = json_dup_string(e, "lock");
		r->tags = json_dup_string(e, "tags");
		if (r->lock != NULL && *r->lock == '\0')
			g_clear_pointer(&r->lock, g_free);
		if (r->tags != NULL && *r->tags == '\0')
			g_clear_pointer(&r->tags, g_free);
		r->template = json_get_bool01(e, "template");
		r->maxmem = (guint64)MAX(json_get_int(e, "maxmem", 0), 0);
		r->maxcpu = (guint)CLAMP(json_get_int(e, "maxcpu", 0), 0, G_MAXINT32);
		r->uptime = MAX(json_get_int(e, "uptime", 0), 0);
		/* The first entry wins: inserting a second would free the first, which vms
		 * may already hold. */
		if (g_hash_table_contains(inv->by_id, GUINT_TO_POINTER(r->vmid))) {
			g_warning("cluster/resources lists guest %u twice", r->vmid);
			resource_free(r);
			continue;
		}
		g_hash_table_insert(inv->by_id, GUINT_TO_POINTER(r->vmid), r);
		if (r->is_qemu)
			g_ptr_array_add(inv->vms, r);
	}
	g_ptr_array_sort(inv->vms, resource_cmp);
	return inv;
}

pve_inventory *pve_inventory_ref(pve_inventory *inv)
{
	return g_atomic_rc_box_acquire(inv);
}

void pve_inventory_unref(pve_inventory *inv)
{
	if (inv != NULL)
		g_atomic_rc_box_release_full(inv, inventory_dispose);
}

const pve_resource *pve_inventory_find(const pve_inventory *inv, guint vmid)
{
	return inv != NULL ? g_hash_table_lookup(inv->by_id, GUINT_TO_POINTER(vmid)) : NULL;
}

/* ---------- config ---------- */

static void net_free(gpointer p)
{
	pk_net_data *n = p;
	g_free(n->mac);
	g_free(n->network);
	g_free(n);
}

static void disk_free(gpointer p)
{
	pk_disk_data *d = p;
	g_free(d->image_path);
	g_free(d);
}

static void vmconf_dispose(gpointer p)
{
	pve_vmconf *c = p;
	g_free(c->digest);
	g_free(c->name);
	g_free(c->description);
	g_free(c->ostype);
	g_free(c->tags);
	g_ptr_array_unref(c->nets);
	g_ptr_array_unref(c->disks);
}

pve_vmconf *pve_vmconf_ref(pve_vmconf *c)
{
	return g_atomic_rc_box_acquire(c);
}

void pve_vmconf_unref(pve_vmconf *c)
{
	if (c != NULL)
		g_atomic_rc_box_release_full(c, vmconf_dispose);
}

/* "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1" */
static pk_net_data *net_parse(const char *value)
{
	g_auto(GStrv) parts = g_strsplit(value, ",", -1);
	pk_net_data *n = g_new0(pk_net_data, 1);
	for (int i = 0; parts[i] != NULL; i++) {
		char *eq = strchr(parts[i], '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		const char *k = parts[i], *v = eq + 1;
		if (strcmp(k, "bridge") == 0) {
			g_free(n->network);
			n->network = g_strdup(v);
		} else if (strcmp(k, "macaddr") == 0 || n->mac == NULL) {
			/* The model key carries the MAC ("virtio=..."); "macaddr=" is the LXC form. */
			char *mac = pk_mac_normalize(v);
			if (mac != NULL) {
				g_free(n->mac);
				n->mac = mac;
			}
		}
	}
	return n;
}

/* "32G", "512M", "1T", "1048576K" → MB */
static guint64 size_mb_parse(const char *s)
{
	char *end = NULL;
	double v = g_ascii_strtod(s, &end), mb;
	if (end == s || !(v >= 0))
		return 0;
	switch (g_ascii_toupper(*end)) {
	case 'T': mb = v * 1024 * 1024; break;
	case 'G': mb = v * 1024; break;
	case 'M': mb = v; break;
	case 'K': mb = v / 1024; break;
	case '\0': mb = v / (1024 * 1024); break;   /* bytes */
	default: return 0;
	}
	/* "1e300G" and "inf" are no sizes; converting them would be undefined. */
	return mb < 1.8e19 ? (guint64)mb : 0;
}

static pk_disk_data *disk_parse(const char *value)
{
	g_auto(GStrv) parts = g_strsplit(value, ",", -1);
	if (parts[0] == NULL || strchr(parts[0], '=') != NULL)
		return NULL;
	gboolean cdrom = g_strv_contains((const char *const *)parts, "media=cdrom");
	/* "none": an empty drive; an empty CD drive is still a device. */
	if (strcmp(parts[0], "none") == 0 && !cdrom)
		return NULL;
	pk_disk_data *d = g_new0(pk_disk_data, 1);
	d->image_path = strcmp(parts[0], "none") != 0 ? g_strdup(parts[0]) : NULL;
	d->type = PDE_HARD_DISK;
	for (int i = 1; parts[i] != NULL; i++) {
		if (g_str_has_prefix(parts[i], "size="))
			d->size_mb = size_mb_parse(parts[i] + 5);
		else if (strcmp(parts[i], "media=cdrom") == 0)
			d->type = PDE_OPTICAL_DISK;
	}
	return d;
}

static gboolean key_with_index(const char *key, const char *const *prefixes, guint *index)
{
	for (int i = 0; prefixes[i] != NULL; i++) {
		gsize n = strlen(prefixes[i]);
		guint64 idx;
		if (strncmp(key, prefixes[i], n) == 0 && key[n] != '\0' &&
		    strspn(key + n, "0123456789") == strlen(key + n) &&
		    g_ascii_string_to_unsigned(key + n, 10, 0, 255, &idx, NULL)) {
			*index = (guint)(i * 1000 + idx);
			return TRUE;
		}
	}
	return FALSE;
}

typedef struct {
	guint order;
	gpointer item;
} ordered_item;

static gint ordered_cmp(gconstpointer a, gconstpointer b)
{
	const ordered_item *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

pve_vmconf *pve_vmconf_parse(json_t *data, GError **error)
{
	if (!json_is_object(data)) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_GET_CONFIG_FAILED,
		            "unexpected VM config answer (not an object)");
		return NULL;
	}
	pve_vmconf *c = g_atomic_rc_box_new0(pve_vmconf);
	c->nets = g_ptr_array_new_with_free_func(net_free);
	c->disks = g_ptr_array_new_with_free_func(disk_free);
	c->digest = json_dup_string(data, "digest");
	c->name = json_dup_string(data, "name");
	c->description = json_dup_string(data, "description");
	c->ostype = json_dup_string(data, "ostype");
	c->tags = json_dup_string(data, "tags");
	c->template = json_get_bool01(data, "template");
	c->cores = (guint)CLAMP(json_get_int(data, "cores", 1), 1, 4096);
	c->sockets = (guint)CLAMP(json_get_int(data, "sockets", 1), 1, 64);

	/* memory: "2048" or (PVE 8.1+) "current=2048[,...]" */
	g_autofree char *mem = json_dup_string(data, "memory");
	if (mem != NULL) {
		const char *m = g_str_has_prefix(mem, "current=") ? mem + 8 : mem;
		c->memory_mb = g_ascii_strtoull(m, NULL, 10);
	}
	/* agent: "1", "0", "enabled=1,fstrim_cloned_disks=1", "1,type=virtio" */
	g_autofree char *agent = json_dup_string(data, "agent");
	if (agent != NULL) {
		g_auto(GStrv) parts = g_strsplit(agent, ",", -1);
		for (int i = 0; parts[i] != NULL; i++)
			if (strcmp(parts[i], "1") == 0 || strcmp(parts[i], "enabled=1") == 0)
				c->agent = TRUE;
	}

	static const char *const net_keys[] = { "net", NULL };
	static const char *const disk_keys[] = { "ide", "sata", "scsi", "virtio", NULL };
	g_autoptr(GArray) nets = g_array_new(FALSE, FALSE, sizeof(ordered_item));
	g_autoptr(GArray) disks = g_array_new(FALSE, FALSE, sizeof(ordered_item));
	const char *key;
	json_t *v;
	json_object_foreach(data, key, v) {
		guint idx;
		if (!json_is_string(v))
			continue;
		if (key_with_index(key, net_keys, &idx)) {
			ordered_item it = { idx, net_parse(json_string_value(v)) };
			g_array_append_val(nets, it);
		} else if (key_with_index(key, disk_keys, &idx)) {
			pk_disk_data *d = disk_parse(json_string_value(v));
			if (d != NULL) {
				ordered_item it = { idx, d };
				g_array_append_val(disks, it);
			}
		}
	}
	g_array_sort(nets, ordered_cmp);
	g_array_sort(disks, ordered_cmp);
	for (guint i = 0; i < nets->len; i++)
		g_ptr_array_add(c->nets, g_array_index(nets, ordered_item, i).item);
	for (guint i = 0; i < disks->len; i++)
		g_ptr_array_add(c->disks, g_array_index(disks, ordered_item, i).item);
	return c;
}

/* ---------- state, OS ---------- */

VIRTUAL_MACHINE_STATE pve_state_map(const char *status, const char *qmpstatus, const char *lock,
                                    const char **raw)
{
	const char *word = qmpstatus != NULL && *qmpstatus != '\0' ? qmpstatus : status;
	if (word == NULL)
		word = "unknown";
	if (raw != NULL)
		*raw = word;
	/* Hibernation shows in the lock: "suspending" while RAM is written, then a stopped VM
	 * locked "suspended" until it is resumed. */
	if (lock != NULL && strcmp(lock, "suspending") == 0)
		return VMS_SUSPENDING;
	if (lock != NULL && strcmp(lock, "suspended") == 0) {
		if (raw != NULL)
			*raw = "suspended";
		return VMS_SUSPENDED;
	}
	if (strcmp(word, "running") == 0)
		return VMS_RUNNING;
	if (strcmp(word, "stopped") == 0)
		return VMS_STOPPED;
	if (strcmp(word, "paused") == 0)
		return VMS_PAUSED;
	if (strcmp(word, "suspended") == 0)
		return VMS_SUSPENDED;
	if (strcmp(word, "prelaunch") == 0)
		return VMS_STARTING;
	if (strcmp(word, "shutdown") == 0 || strcmp(word, "halting") == 0)
		return VMS_STOPPING;
	g_info("Proxmox VM state '%s' is not known to prlkit; reporting it as stopped", word);
	return VMS_STOPPED;
}

void pve_os_map(const char *ostype, guint32 *type, guint32 *version)
{
	static const struct { const char *word; guint32 type, version; } map[] = {
		{ "win11", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS11 },
		{ "win10", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS10 },
		{ "win8", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS8 },
		{ "win7", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_WINDOWS7 },
		{ "w2k8", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_2008 },
		{ "wvista", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_VISTA },
		{ "w2k3", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_2003 },
		{ "w2k", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_OTHER },
		{ "wxp", PVS_GUEST_TYPE_WINDOWS, PVS_GUEST_VER_WIN_XP },
		{ "l26", PVS_GUEST_TYPE_LINUX, PVS_GUEST_VER_LIN_KRNL_26 },
		{ "l24", PVS_GUEST_TYPE_LINUX, PVS_GUEST_VER_LIN_OTHER },
		{ "solaris", PVS_GUEST_TYPE_SOLARIS, PVS_GUEST_VER_SOL_OTHER },
	};
	*type = PVS_GUEST_TYPE_OTHER;
	*version = PVS_GUEST_VER_OTH_OTHER;
	for (gsize i = 0; ostype != NULL && i < G_N_ELEMENTS(map); i++)
		if (strcmp(ostype, map[i].word) == 0) {
			*type = map[i].type;
			*version = map[i].version;
			return;
		}
}

GPtrArray *pve_agent_ips_parse(json_t *data)
{
	GPtrArray *ips = g_ptr_array_new_with_free_func(g_free);
	json_t *result = json_is_object(data) ? json_object_get(data, "result") : data;
	size_t i, j;
	json_t *iface, *addr;
	if (!json_is_array(result))
		return ips;
	json_array_foreach(result, i, iface) {
		const char *name = json_string_value(json_object_get(iface, "name"));
		if (name != NULL && strcmp(name, "lo") == 0)
			continue;
		json_t *addrs = json_object_get(iface, "ip-addresses");
		json_array_foreach(addrs, j, addr) {
			const char *ip = json_string_value(json_object_get(addr, "ip-address"));
			if (ip != NULL)
				g_ptr_array_add(ips, g_strdup(ip));
		}
	}
	pk_ips_normalize(ips);
	return ips;
}

/* ---------- tags ---------- */

static GStrv tags_split(const char *tags)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	if (tags != NULL) {
		g_auto(GStrv) parts = g_strsplit_set(tags, ";, ", -1);
		for (int i = 0; parts[i] != NULL; i++)
			if (*parts[i] != '\0')
				g_strv_builder_add(b, parts[i]);
	}
	return g_strv_builder_end(b);
}

gboolean pve_tags_has(const char *tags, const char *tag)
{
	g_auto(GStrv) v = tags_split(tags);
	for (int i = 0; v[i] != NULL; i++)
		if (g_ascii_strcasecmp(v[i], tag) == 0)
			return TRUE;
	return FALSE;
}

char *pve_tags_with(const char *tags, const char *tag, gboolean present)
{
	g_auto(GStrv) v = tags_split(tags);
	GString *s = g_string_new(NULL);
	for (int i = 0; v[i] != NULL; i++) {
		if (g_ascii_strcasecmp(v[i], tag) == 0)
			continue;
		g_string_append_printf(s, "%s%s", s->len ? ";" : "", v[i]);
	}
	if (present)
		g_string_append_printf(s, "%s%s", s->len ? ";" : "", tag);
	return g_string_free(s, FALSE);
}

/* ---------- snapshot names ---------- */

#define PVE_SNAPNAME_MAX 40

gboolean pve_snapname_valid(const char *p)
{
	/* Proxmox's "pve-configid": a letter, then at least one more character; "pending" is
	 * reserved in any case. */
	gsize n = p != NULL ? strlen(p) : 0;
	if (n < 2 || n > PVE_SNAPNAME_MAX || !g_ascii_isalpha(p[0]) ||
	    g_ascii_strcasecmp(p, "pending") == 0)
		return FALSE;
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static char *snap_escape(const char *name)
{
	GString *s = g_string_new("x-");
	for (const guchar *p = (const guchar *)name; *p != '\0'; p++) {
		if (g_ascii_isalnum(*p) || *p == '_')
			g_string_append_c(s, (char)*p);
		else
			g_string_append_printf(s, "-%02X", *p);
	}
	return g_string_free(s, FALSE);
}

/* The inverse of snap_escape's body; NULL unless well-formed and valid UTF-8. */
static char *snap_unescape(const char *body)
{
	GString *s = g_string_new(NULL);
	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '-') {
			if (!g_ascii_isxdigit(p[1]) || !g_ascii_isxdigit(p[2]) || g_ascii_islower(p[1]) ||
			    g_ascii_islower(p[2]))
				goto bad;
			char c = (char)(g_ascii_xdigit_value(p[1]) << 4 | g_ascii_xdigit_value(p[2]));
			if (c == '\0')
				goto bad;
			g_string_append_c(s, c);
			p += 2;
		} else if (g_ascii_isalnum(*p) || *p == '_') {
			g_string_append_c(s, *p);
		} else {
			goto bad;
		}
	}
	if (s->len == 0 || !g_utf8_validate(s->str, (gssize)s->len, NULL))
		goto bad;
	return g_string_free(s, FALSE);
bad:
	g_string_free(s, TRUE);
	return NULL;
}

static char *snap_encode_nolimit(const char *name);

char *pve_snapname_decode(const char *p)
{
	if (p == NULL)
		return NULL;
	if (!g_str_has_prefix(p, "x-"))
		return g_strdup(p);
	g_autofree char *c = snap_unescape(p + 2);
	if (c == NULL)
		return g_strdup(p);
	g_autofree char *again = snap_encode_nolimit(c);
	if (strcmp(again, p) == 0)
		return g_steal_pointer(&c);
	return g_strdup(p);
}

static char *snap_encode_nolimit(const char *name)
{
	/* "current" is the live state's pseudo-snapshot: escaped ("pending" is not valid). */
	if (pve_snapname_valid(name) && strcmp(name, "current") != 0) {
		/* Identity unless the name reads as an encoding of another name. */
		g_autofree char *d = pve_snapname_decode(name);
		if (strcmp(d, name) == 0)
			return g_strdup(name);
	}
	return snap_escape(name);
}

char *pve_snapname_encode(const char *name, GError **error)
{
	if (name == NULL || *name == '\0') {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "the snapshot name is empty");
		return NULL;
	}
	if (!g_utf8_validate(name, -1, NULL) || strlen(name) > 4 * PVE_SNAPNAME_MAX) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "snapshot name is not valid UTF-8 or far too long");
		return NULL;
	}
	char *e = snap_encode_nolimit(name);
	if (strlen(e) > PVE_SNAPNAME_MAX) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "snapshot name '%s' is too long for Proxmox VE: it becomes '%s' (%zu "
		            "characters, at most %d; letters, digits, '_' and '-' count once, other "
		            "characters three times)", name, e, strlen(e), PVE_SNAPNAME_MAX);
		g_free(e);
		return NULL;
	}
	return e;
}

/* ---------- VM names ---------- */

/* Proxmox's "dns-name" format: dot-separated labels of letters, digits and '-', a label
 * neither starting nor ending with '-'. */
gboolean pve_vm_name_check(const char *name, GError **error)
{
	if (name == NULL || *name == '\0') {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG, "the VM name is empty");
		return FALSE;
	}
	gboolean ok = TRUE;
	const char *label = name;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			gsize n = (gsize)(p - label);
			if (n == 0 || label[0] == '-' || p[-1] == '-')
				ok = FALSE;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!g_ascii_isalnum(*p) && *p != '-') {
			ok = FALSE;
		}
	}
	if (!ok) {
		g_autofree char *shown = g_utf8_make_valid(name, -1);
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "'%s' is not a valid Proxmox VE VM name: a name is a DNS name (letters, "
		            "digits and '-', not first or last, in labels separated by '.')", shown);
	}
	return ok;
}

char *pve_snapdesc_wrap(const char *name, const char *pve_name, const char *description)
{
	const char *d = description != NULL ? description : "";
	if (strcmp(name, pve_name) == 0)
		return g_strdup(d);
	return *d != '\0' ? g_strdup_printf("%s\n%s", name, d) : g_strdup(name);
}

char *pve_snapdesc_unwrap(const char *name, const char *pve_name, const char *description)
{
	const char *d = description != NULL ? description : "";
	gsize n = strlen(name);
	if (strcmp(name, pve_name) != 0 && strncmp(d, name, n) == 0 &&
	    (d[n] == '\0' || d[n] == '\n'))
		return g_strdup(d[n] == '\n' ? d + n + 1 : d + n);
	return g_strdup(d);
}

/* ---------- UPIDs ---------- */

static gboolean all_hex(const char *s, gsize max)
{
	gsize n = strlen(s);
	return n > 0 && n <= max && strspn(s, "0123456789abcdefABCDEF") == n;
}

gboolean pve_upid_parse(const char *upid, pve_upid *out)
{
	memset(out, 0, sizeof *out);
	if (upid == NULL || !g_str_has_prefix(upid, "UPID:") || strlen(upid) > 512 ||
	    !g_str_has_suffix(upid, ":"))
		return FALSE;
	g_auto(GStrv) f = g_strsplit(upid, ":", -1);
	/* UPID node pid pstart starttime type id user "" */
	if (g_strv_length(f) != 9 || *f[8] != '\0')
		return FALSE;
	const char *node = f[1];
	if (*node == '\0' || strspn(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                  "0123456789.-") != strlen(node))
		return FALSE;
	if (!all_hex(f[2], 16) || !all_hex(f[3], 16) || !all_hex(f[4], 16))
		return FALSE;
	if (*f[5] == '\0' || *f[7] == '\0')
		return FALSE;
	out->node = g_strdup(node);
	out->type = g_strdup(f[5]);
	out->id = g_strdup(f[6]);
	out->starttime = (gint64)g_ascii_strtoull(f[4], NULL, 16);
	out->pid = g_ascii_strtoull(f[2], NULL, 16);
	return TRUE;
}

void pve_upid_clear(pve_upid *u)
{
	g_clear_pointer(&u->node, g_free);
	g_clear_pointer(&u->type, g_free);
	g_clear_pointer(&u->id, g_free);
}

gboolean pve_exitstatus_ok(const char *s)
{
	if (s == NULL)
		return FALSE;
	if (strcmp(s, "OK") == 0)
		return TRUE;
	/* "WARNINGS: 3": the task did its work and logged warnings. */
	return g_str_has_prefix(s, "WARNINGS:");
}

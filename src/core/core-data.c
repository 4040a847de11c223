/* Plain data exchanged with drivers (driver.h): constructors, copies, destructors and the
 * normalizers drivers use so every platform reports MACs and IPs the same way. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "driver.h"

static void disk_data_free(gpointer p)
{
	pk_disk_data *d = p;
	if (d == NULL)
		return;
	g_free(d->image_path);
	g_free(d);
}

static void net_data_free(gpointer p)
{
	pk_net_data *n = p;
	if (n == NULL)
		return;
	g_free(n->mac);
	g_free(n->network);
	g_free(n);
}

pk_vm_data *pk_vm_data_new(void)
{
	pk_vm_data *d = g_new0(pk_vm_data, 1);
	d->state = VMS_UNKNOWN;
	d->ips = g_ptr_array_new_with_free_func(g_free);
	d->macs = g_ptr_array_new_with_free_func(g_free);
	d->disks = g_ptr_array_new_with_free_func(disk_data_free);
	d->nets = g_ptr_array_new_with_free_func(net_data_free);
	return d;
}

pk_vm_data *pk_vm_data_new_identity(const char *id, const char *name, gboolean is_template,
                                    VIRTUAL_MACHINE_STATE state, const char *power_state)
{
	pk_vm_data *d = pk_vm_data_new();
	d->id = g_strdup(id);
	d->name = g_strdup(name);
	d->is_template = is_template;
	d->state = state;
	d->power_state = g_strdup(power_state);
	d->identity_only = TRUE;
	return d;
}

static void copy_strings(GPtrArray *to, const GPtrArray *from)
{
	if (from == NULL)
		return;
	for (guint i = 0; i < from->len; i++)
		g_ptr_array_add(to, g_strdup(g_ptr_array_index(from, i)));
}

pk_vm_data *pk_vm_data_copy(const pk_vm_data *d)
{
	if (d == NULL)
		return NULL;
	pk_vm_data *c = pk_vm_data_new();
	c->id = g_strdup(d->id);
	c->name = g_strdup(d->name);
	c->description = g_strdup(d->description);
	c->os_type_name = g_strdup(d->os_type_name);
	c->os_type = d->os_type;
	c->os_version = d->os_version;
	c->ram_mb = d->ram_mb;
	c->cpus = d->cpus;
	c->is_template = d->is_template;
	c->state = d->state;
	c->power_state = g_strdup(d->power_state);
	copy_strings(c->ips, d->ips);
	copy_strings(c->macs, d->macs);
	for (guint i = 0; d->disks != NULL && i < d->disks->len; i++) {
		const pk_disk_data *src = g_ptr_array_index(d->disks, i);
		pk_disk_data *dst = g_new0(pk_disk_data, 1);
		dst->image_path = g_strdup(src->image_path);
		dst->size_mb = src->size_mb;
		dst->type = src->type;
		g_ptr_array_add(c->disks, dst);
	}
	for (guint i = 0; d->nets != NULL && i < d->nets->len; i++) {
		const pk_net_data *src = g_ptr_array_index(d->nets, i);
		pk_net_data *dst = g_new0(pk_net_data, 1);
		dst->mac = g_strdup(src->mac);
		dst->network = g_strdup(src->network);
		g_ptr_array_add(c->nets, dst);
	}
	c->digest = g_strdup(d->digest);
	c->identity_only = d->identity_only;
	return c;
}

void pk_vm_data_free(pk_vm_data *d)
{
	if (d == NULL)
		return;
	g_free(d->id);
	g_free(d->name);
	g_free(d->description);
	g_free(d->os_type_name);
	g_free(d->power_state);
	g_clear_pointer(&d->ips, g_ptr_array_unref);
	g_clear_pointer(&d->macs, g_ptr_array_unref);
	g_clear_pointer(&d->disks, g_ptr_array_unref);
	g_clear_pointer(&d->nets, g_ptr_array_unref);
	g_free(d->digest);
	g_free(d);
}

void pk_snapshot_data_free(pk_snapshot_data *s)
{
	if (s == NULL)
		return;
	g_free(s->name);
	g_free(s->description);
	g_free(s->parent);
	g_free(s);
}

void pk_task_status_clear(pk_task_status *st)
{
	if (st == NULL)
		return;
	g_free(st->message);
	g_free(st->result_vm_id);
	memset(st, 0, sizeof(*st));
}

void pk_host_data_free(pk_host_data *h)
{
	if (h == NULL)
		return;
	g_free(h->hostname);
	g_free(h->cpu_model);
	g_free(h->product_version);
	g_free(h);
}

void pk_stats_data_free(pk_stats_data *s)
{
	if (s == NULL)
		return;
	if (s->cpu_usage != NULL)
		g_array_unref(s->cpu_usage);
	g_free(s);
}

/* Accepts the forms platforms print: six groups of 1-2 hex digits separated by ':' or '-'
 * ("bc:24:11:aa:bb:cc", "0:1a:2b:3c:4d:5e"), three dot-separated groups of four
 * ("bc24.11aa.bbcc"), or twelve bare hex digits. Surrounding spaces are ignored. */
char *pk_mac_normalize(const char *mac)
{
	if (mac == NULL)
		return NULL;
	g_autofree char *t = g_strstrip(g_strdup(mac));
	guint8 bytes[6];
	gsize len = strlen(t);

	if (len == 12 && strspn(t, "0123456789abcdefABCDEF") == 12) {
		for (int i = 0; i < 6; i++)
			bytes[i] = (guint8)(g_ascii_xdigit_value(t[2 * i]) << 4 |
			                    g_ascii_xdigit_value(t[2 * i + 1]));
	} else if (len == 14 && t[4] == '.' && t[9] == '.') {
		char digits[13];
		memcpy(digits, t, 4);
		memcpy(digits + 4, t + 5, 4);
		memcpy(digits + 8, t + 10, 4);
		digits[12] = '\0';
		if (strspn(digits, "0123456789abcdefABCDEF") != 12)
			return NULL;
		for (int i = 0; i < 6; i++)
			bytes[i] = (guint8)(g_ascii_xdigit_value(digits[2 * i]) << 4 |
			                    g_ascii_xdigit_value(digits[2 * i + 1]));
	} else {
		char sep = strchr(t, ':') != NULL ? ':' : '-';
		const char *p = t;
		for (int i = 0; i < 6; i++) {
			int n = 0, v = 0;
			while (n < 2 && g_ascii_isxdigit(*p)) {
				v = v << 4 | g_ascii_xdigit_value(*p);
				p++;
				n++;
			}
			if (n == 0)
				return NULL;
			bytes[i] = (guint8)v;
			if (i < 5) {
				if (*p != sep)
					return NULL;
				p++;
			}
		}
		if (*p != '\0')
			return NULL;
	}
	return g_strdup_printf("%02X:%02X:%02X:%02X:%02X:%02X", bytes[0], bytes[1], bytes[2],
	                       bytes[3], bytes[4], bytes[5]);
}

/* The canonical text of an address worth reporting, or NULL: accepts "addr", "addr/prefix"
 * and IPv6 "addr%zone"; drops loopback, link-local, unspecified and multicast. */
static char *ip_canonical(const char *text, GSocketFamily *family)
{
	if (text == NULL)
		return NULL;
	g_autofree char *t = g_strstrip(g_strdup(text));
	char *cut = strpbrk(t, "/%");
	if (cut != NULL)
		*cut = '\0';
	g_autoptr(GInetAddress) a = g_inet_address_new_from_string(t);
	if (a == NULL || g_inet_address_get_is_loopback(a) || g_inet_address_get_is_link_local(a) ||
	    g_inet_address_get_is_any(a) || g_inet_address_get_is_multicast(a))
		return NULL;
	*family = g_inet_address_get_family(a);
	return g_inet_address_to_string(a);
}

void pk_ips_normalize(GPtrArray *ips)
{
	if (ips == NULL)
		return;
	g_autoptr(GPtrArray) v4 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) v6 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < ips->len; i++) {
		GSocketFamily family = G_SOCKET_FAMILY_INVALID;
		char *c = ip_canonical(g_ptr_array_index(ips, i), &family);
		if (c == NULL)
			continue;
		/* Not g_hash_table_add's answer: on a duplicate it keeps the new key, which is
		 * freed here, leaving the set a dangling key. */
		if (g_hash_table_contains(seen, c)) {
			g_free(c);
			continue;
		}
		g_hash_table_add(seen, c);
		g_ptr_array_add(family == G_SOCKET_FAMILY_IPV4 ? v4 : v6, c);
	}
	/* The array owns its strings (g_free), per pk_vm_data; order within a family is kept. */
	g_ptr_array_set_size(ips, 0);
	for (guint i = 0; i < v4->len; i++)
		g_ptr_array_add(ips, g_steal_pointer(&g_ptr_array_index(v4, i)));
	for (guint i = 0; i < v6->len; i++)
		g_ptr_array_add(ips, g_steal_pointer(&g_ptr_array_index(v6, i)));
}

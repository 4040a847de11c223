/* Domains for the libvirt driver: list, get, power, delete, edit, statistics.
 *
 * A VM's id is its domain UUID. Templates are a marker in prlkit's element of the domain's
 * <metadata> (reversible; starting a template is refused). Suspend is a managed save
 * (memory to disk, QEMU exits, host RAM freed; start restores it), pause is
 * virDomainSuspend. Every operation here is quick and synchronous except the graceful
 * stop, whose task reference lets any process force it after force_stop_after seconds. */
#include "config.h"

#include <string.h>
#include "libvirt-private.h"
#include "util-log.h"
#include "util-time.h"

/* ----------------------------------------------------------------- state ---- */

VIRTUAL_MACHINE_STATE lv_state_map(int state, int reason, gboolean managed_save,
                                   const char **word)
{
	const char *w;
	VIRTUAL_MACHINE_STATE st;
	switch (state) {
	case VIR_DOMAIN_RUNNING:
		w = "running";
		st = VMS_RUNNING;
		break;
	case VIR_DOMAIN_BLOCKED:
		w = "blocked";
		st = VMS_RUNNING;
		break;
	case VIR_DOMAIN_PAUSED:
		switch (reason) {
		case VIR_DOMAIN_PAUSED_STARTING_UP:
			w = "starting";
			st = VMS_STARTING;
			break;
		case VIR_DOMAIN_PAUSED_SAVE:
			w = "saving";
			st = VMS_SUSPENDING;
			break;
		case VIR_DOMAIN_PAUSED_SNAPSHOT:
			w = "snapshotting";
			st = VMS_SNAPSHOTING;
			break;
		case VIR_DOMAIN_PAUSED_MIGRATION:
		case VIR_DOMAIN_PAUSED_POSTCOPY:
			w = "migrating";
			st = VMS_MIGRATING;
			break;
		default:
			w = "paused";
			st = VMS_PAUSED;
			break;
		}
		break;
	case VIR_DOMAIN_SHUTDOWN:
		w = "shutdown";
		st = VMS_STOPPING;
		break;
	case VIR_DOMAIN_SHUTOFF:
		w = managed_save ? "saved" : "shutoff";
		st = managed_save ? VMS_SUSPENDED : VMS_STOPPED;
		break;
	case VIR_DOMAIN_CRASHED:
		w = "crashed";
		st = VMS_STOPPED;
		break;
	case VIR_DOMAIN_PMSUSPENDED:
		w = "pmsuspended";
		st = VMS_SUSPENDED;
		break;
	default:
		w = "nostate";
		st = VMS_UNKNOWN;
		break;
	}
	if (word != NULL)
		*word = w;
	return st;
}

gboolean lv_dom_state(virDomainPtr dom, VIRTUAL_MACHINE_STATE *state, const char **word,
                      GError **error)
{
	int st = 0, reason = 0;
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "state of VM '%s'",
		               virDomainGetName(dom));
	gboolean saved = FALSE;
	if (st == VIR_DOMAIN_SHUTOFF) {
		int r = virDomainHasManagedSaveImage(dom, 0);
		if (r < 0)
			virResetLastError();
		saved = r > 0;
	}
	*state = lv_state_map(st, reason, saved, word);
	return TRUE;
}

gboolean lv_dom_is_active(virDomainPtr dom)
{
	int r = virDomainIsActive(dom);
	if (r < 0)
		virResetLastError();
	return r == 1;
}

lv_node *lv_dom_inactive_xml(virDomainPtr dom, GError **error)
{
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (xml == NULL) {
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "configuration of VM '%s'",
		        virDomainGetName(dom));
		return NULL;
	}
	lv_node *root = lv_xml_parse(xml, error);
	free(xml);
	return root;
}

gboolean lv_dom_define(virConnectPtr conn, const lv_node *root, GError **error)
{
	g_autofree char *xml = lv_xml_format(root);
	virDomainPtr d = virDomainDefineXML(conn, xml);
	if (d == NULL)
		return lv_fail(error, PRL_ERR_INVALID_CONFIGURATION, "cannot define the VM");
	virDomainFree(d);
	return TRUE;
}

gboolean lv_dom_set_meta(virDomainPtr dom, const lv_meta *m, GError **error)
{
	gboolean empty = !m->is_template && m->current == NULL && m->origin_vm == NULL &&
	                 m->snaps->len == 0;
	g_autofree char *xml = empty ? NULL : lv_meta_format(m);
	unsigned int flags = VIR_DOMAIN_AFFECT_CONFIG;
	if (lv_dom_is_active(dom))
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, LV_NS_PREFIX, LV_NS_URI,
	                         flags) < 0)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot store prlkit's metadata of VM "
		               "'%s'", virDomainGetName(dom));
	return TRUE;
}

/* ------------------------------------------------------------------- IPs ---- */

static void add_iface_addrs(GPtrArray *ips, virDomainInterfacePtr *ifaces, int n)
{
	for (int i = 0; i < n; i++) {
		if (ifaces[i]->name != NULL && strcmp(ifaces[i]->name, "lo") == 0)
			continue;
		for (unsigned int j = 0; j < ifaces[i]->naddrs; j++)
			if (ifaces[i]->addrs[j].addr != NULL)
				g_ptr_array_add(ips, g_strdup(ifaces[i]->addrs[j].addr));
	}
}

static void dom_addresses(virDomainPtr dom, unsigned int source, GPtrArray *ips)
{
	virDomainInterfacePtr *ifaces = NULL;
	int n = virDomainInterfaceAddresses(dom, &ifaces, source, 0);
	if (n < 0) {
		virErrorPtr e = virGetLastError();
		PK_DEBUG("libvirt: %s addresses of %s: %s",
		         source == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT ? "agent" : "lease",
		         virDomainGetName(dom), e != NULL && e->message ? e->message : "");
		virResetLastError();
		return;
	}
	add_iface_addrs(ips, ifaces, n);
	for (int i = 0; i < n; i++)
		virDomainInterfaceFree(ifaces[i]);
	free(ifaces);
}

/* MAC (upper case) → GPtrArray of IPs from every active network's DHCP leases; NULL when
 * the hypervisor cannot list leases (then each domain is asked). */
static GHashTable *network_leases(virConnectPtr conn)
{
	virNetworkPtr *nets = NULL;
	int n = virConnectListAllNetworks(conn, &nets, VIR_CONNECT_LIST_NETWORKS_ACTIVE);
	if (n < 0) {
		virResetLastError();
		return NULL;
	}
	GHashTable *map = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                        (GDestroyNotify)g_ptr_array_unref);
	gboolean ok = TRUE;
	for (int i = 0; i < n; i++) {
		virNetworkDHCPLeasePtr *leases = NULL;
		int k = ok ? virNetworkGetDHCPLeases(nets[i], NULL, &leases, 0) : 0;
		if (k < 0) {
			virResetLastError();
			ok = FALSE;
		}
		for (int j = 0; j < k; j++) {
			char *mac = pk_mac_normalize(leases[j]->mac);
			if (mac != NULL && leases[j]->ipaddr != NULL) {
				GPtrArray *ips = g_hash_table_lookup(map, mac);
				if (ips == NULL) {
					ips = g_ptr_array_new_with_free_func(g_free);
					g_hash_table_insert(map, g_strdup(mac), ips);
				}
				g_ptr_array_add(ips, g_strdup(leases[j]->ipaddr));
			}
			g_free(mac);
			virNetworkDHCPLeaseFree(leases[j]);
		}
		free(leases);
		virNetworkFree(nets[i]);
	}
	free(nets);
	if (!ok) {
		g_hash_table_unref(map);
		return NULL;
	}
	return map;
}

/* IPs of a running domain, by the ip_source setting: the guest agent when it is connected
 * (or asked for), else DHCP leases. leases: from network_leases, or NULL. A list asks
 * agents only when ip_source=agent: one round trip into every guest is too slow there. */
static void dom_ips(lv_conn *lc, virDomainPtr dom, const lv_xmlinfo *info, GHashTable *leases,
                    gboolean listing, pk_vm_data *d)
{
	lv_ip_source src = lc->s.ip_source;
	if (src == LV_IP_NONE)
		return;
	if (src == LV_IP_AGENT || (src == LV_IP_AUTO && info->agent_connected && !listing))
		dom_addresses(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, d->ips);
	if (d->ips->len == 0 && (src == LV_IP_AUTO || src == LV_IP_LEASE)) {
		if (leases != NULL) {
			for (guint i = 0; i < d->macs->len; i++) {
				GPtrArray *ips = g_hash_table_lookup(leases, d->macs->pdata[i]);
				for (guint j = 0; ips != NULL && j < ips->len; j++)
					g_ptr_array_add(d->ips, g_strdup(ips->pdata[j]));
			}
		} else {
			dom_addresses(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, d->ips);
		}
	}
	pk_ips_normalize(d->ips);
}

/* ------------------------------------------------------------- list, get ---- */

/* The configuration part of a domain: cached, or read from its XML (and cached). */
static lv_cached *dom_config(lv_conn *lc, virDomainPtr dom, const char *uuid, GError **error)
{
	guint64 epoch = 0;
	lv_cached *e = lv_cache_lookup(lc->ev, uuid, &epoch);
	if (e != NULL)
		return e;
	char *xml = virDomainGetXMLDesc(dom, 0);
	if (xml == NULL) {
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "configuration of VM '%s'", uuid);
		return NULL;
	}
	g_autoptr(lv_node) root = lv_xml_parse(xml, error);
	free(xml);
	if (root == NULL)
		return NULL;
	e = g_new0(lv_cached, 1);
	e->d = pk_vm_data_new();
	e->d->id = g_strdup(uuid);
	if (!lv_domxml_read(root, e->d, &e->info, error)) {
		lv_cached_free(e);
		return NULL;
	}
	lv_cache_store(lc->ev, uuid, e->d, &e->info, epoch);
	return e;
}

typedef struct {
	virDomainPtr dom;             /* owned unless `borrowed` */
	gboolean borrowed;            /* dom belongs to the statistics records of the listing */
	char uuid[VIR_UUID_STRING_BUFLEN];
	int state;
	int reason;
	gboolean saved;               /* managed save */
} dom_entry;

static void dom_entry_clear(gpointer p)
{
	dom_entry *e = p;
	if (e->dom != NULL && !e->borrowed)
		virDomainFree(e->dom);
}

/* Domains with their states (list_states): entries, and the statistics records the
 * borrowed domains belong to. */
typedef struct {
	GArray *entries;              /* dom_entry */
	virDomainStatsRecordPtr *recs;
} dom_listing;

static void dom_listing_clear(dom_listing *l)
{
	g_clear_pointer(&l->entries, g_array_unref);   /* before the records: borrowed doms */
	if (l->recs != NULL)
		virDomainStatsRecordListFree(g_steal_pointer(&l->recs));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(dom_listing, dom_listing_clear)

/* Every domain with its state, by state filters: a few calls whatever the number of
 * domains (running, shut off with and without a managed save, paused, other); only paused
 * and "other" ones are asked for their exact state and reason. A domain that changes state
 * between the calls is kept once (first seen). For platforms without domain statistics. */
static gboolean list_states_filtered(virConnectPtr conn, GArray *out, GError **error)
{
	static const struct { unsigned int flags; int state; gboolean saved; gboolean ask; } parts[] = {
		{ VIR_CONNECT_LIST_DOMAINS_RUNNING, VIR_DOMAIN_RUNNING, FALSE, FALSE },
		{ VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
		  VIR_DOMAIN_SHUTOFF, FALSE, FALSE },
		{ VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE,
		  VIR_DOMAIN_SHUTOFF, TRUE, FALSE },
		{ VIR_CONNECT_LIST_DOMAINS_PAUSED, VIR_DOMAIN_PAUSED, FALSE, TRUE },
		{ VIR_CONNECT_LIST_DOMAINS_OTHER, VIR_DOMAIN_NOSTATE, FALSE, TRUE },
	};
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (gsize k = 0; k < G_N_ELEMENTS(parts); k++) {
		virDomainPtr *doms = NULL;
		int n = virConnectListAllDomains(conn, &doms, parts[k].flags);
		if (n < 0)
			return lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot list domains");
		for (int i = 0; i < n; i++) {
			dom_entry e = { doms[i], FALSE, "", parts[k].state, 0, parts[k].saved };
			gboolean keep = lv_dom_uuid(doms[i], e.uuid) && !g_hash_table_contains(seen, e.uuid);
			if (keep && parts[k].ask && virDomainGetState(doms[i], &e.state, &e.reason, 0) < 0) {
				virResetLastError();   /* undefined meanwhile */
				keep = FALSE;
			}
			if (!keep) {
				virDomainFree(doms[i]);
				continue;
			}
			g_array_append_val(out, e);
			g_hash_table_add(seen, g_strdup(e.uuid));
		}
		free(doms);
	}
	return TRUE;
}

/* The UUIDs (as text) of the domains with a managed save image. */
static GHashTable *managed_saves(virConnectPtr conn, GError **error)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE);
	if (n < 0) {
		lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot list domains");
		return NULL;
	}
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		if (lv_dom_uuid(doms[i], uuid))
			g_hash_table_add(set, g_strdup(uuid));
		virDomainFree(doms[i]);
	}
	free(doms);
	return set;
}

static int typed_int(const virTypedParameter *params, int n, const char *field, int def)
{
	for (int i = 0; i < n; i++)
		if (strcmp(params[i].field, field) == 0 && params[i].type == VIR_TYPED_PARAM_INT)
			return params[i].value.i;
	return def;
}

gboolean lv_test_no_domain_stats;

/* Every domain with its state and reason in one call (domain statistics, state group);
 * plus one filtered list for managed saves when a domain is shut off. Platforms without
 * domain statistics: list_states_filtered. */
static gboolean list_states(virConnectPtr conn, dom_listing *l, GError **error)
{
	GArray *out = l->entries = g_array_new(FALSE, TRUE, sizeof(dom_entry));
	g_array_set_clear_func(out, dom_entry_clear);
	if (G_UNLIKELY(lv_test_no_domain_stats))
		return list_states_filtered(conn, out, error);
	int n = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_STATE, &l->recs, 0);
	if (n < 0) {
		int code = lv_last_error_code();
		if (code != VIR_ERR_NO_SUPPORT && code != VIR_ERR_ARGUMENT_UNSUPPORTED)
			return lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot list domains");
		lv_reset_error();
		return list_states_filtered(conn, out, error);
	}
	gboolean any_shutoff = FALSE;
	for (int i = 0; i < n; i++) {
		/* Borrowed: a reference of our own would cost a libvirt call per domain. */
		const virDomainStatsRecord *r = l->recs[i];
		dom_entry e = { r->dom, TRUE, "", VIR_DOMAIN_NOSTATE, 0, FALSE };
		if (r->dom == NULL || !lv_dom_uuid(r->dom, e.uuid))
			continue;
		e.state = typed_int(r->params, r->nparams, "state.state", VIR_DOMAIN_NOSTATE);
		e.reason = typed_int(r->params, r->nparams, "state.reason", 0);
		any_shutoff |= e.state == VIR_DOMAIN_SHUTOFF;
		g_array_append_val(out, e);
	}
	if (any_shutoff) {
		g_autoptr(GHashTable) saved = managed_saves(conn, error);
		if (saved == NULL)
			return FALSE;
		for (guint i = 0; i < out->len && g_hash_table_size(saved) > 0; i++) {
			dom_entry *e = &g_array_index(out, dom_entry, i);
			e->saved = e->state == VIR_DOMAIN_SHUTOFF && g_hash_table_contains(saved, e->uuid);
		}
	}
	return TRUE;
}

GHashTable *lv_dom_list_states(virConnectPtr conn, GError **error)
{
	g_auto(dom_listing) listing = { NULL, NULL };
	if (!list_states(conn, &listing, error))
		return NULL;
	GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < listing.entries->len; i++) {
		const dom_entry *e = &g_array_index(listing.entries, dom_entry, i);
		VIRTUAL_MACHINE_STATE st = lv_state_map(e->state, e->reason, e->saved, NULL);
		g_hash_table_insert(out, g_strdup(e->uuid), GINT_TO_POINTER((gint)st));
	}
	return out;
}

/* What an identity list needs of a domain: no configuration but the template marker
 * (tpl: 1, 0, or -1 when not cached: then read once, which fills the cache). */
static pk_vm_data *identity_data(lv_conn *lc, const dom_entry *e, gint8 tpl, GError **error)
{
	if (tpl < 0) {
		lv_cached *cfg = dom_config(lc, e->dom, e->uuid, error);
		if (cfg == NULL)
			return NULL;
		tpl = cfg->d->is_template ? 1 : 0;
		lv_cached_free(cfg);
	}
	const char *word = NULL;
	VIRTUAL_MACHINE_STATE st = lv_state_map(e->state, e->reason, e->saved, &word);
	return pk_vm_data_new_identity(e->uuid, virDomainGetName(e->dom), tpl > 0, st, word);
}

/* Template flags of every entry from the cache (an identity list). */
static gint8 *cached_templates(lv_conn *lc, GArray *entries)
{
	g_autofree const char **uuids = g_new(const char *, entries->len + 1);
	for (guint i = 0; i < entries->len; i++)
		uuids[i] = g_array_index(entries, dom_entry, i).uuid;
	gint8 *tpl = g_new(gint8, entries->len + 1);
	lv_cache_peek_templates(lc->ev, uuids, entries->len, tpl);
	return tpl;
}

static gboolean vm_list(lv_conn *lc, virConnectPtr conn, guint flags, GPtrArray **out,
                        GError **error)
{
	gboolean want_ips = !(flags & (PK_GET_NO_GUEST_INFO | PK_LIST_IDENTITY_ONLY)) &&
	                    lc->s.ip_source != LV_IP_NONE;
	g_auto(dom_listing) listing = { NULL, NULL };
	if (!list_states(conn, &listing, error))
		return FALSE;
	GArray *entries = listing.entries;

	g_autoptr(GHashTable) leases = NULL;
	if (want_ips && lc->s.ip_source != LV_IP_AGENT)
		leases = network_leases(conn);

	g_autofree gint8 *tpl = (flags & PK_LIST_IDENTITY_ONLY) ? cached_templates(lc, entries) : NULL;
	GPtrArray *list = g_ptr_array_new_full(entries->len, (GDestroyNotify)pk_vm_data_free);
	for (guint i = 0; i < entries->len; i++) {
		dom_entry *e = &g_array_index(entries, dom_entry, i);
		GError *local = NULL;
		if (tpl != NULL) {
			pk_vm_data *d = identity_data(lc, e, tpl[i], &local);
			if (d != NULL) {
				g_ptr_array_add(list, d);
				continue;
			}
		}
		lv_cached *cfg = local == NULL ? dom_config(lc, e->dom, e->uuid, &local) : NULL;
		if (cfg == NULL) {
			if (local->code == PRL_ERR_VM_UUID_NOT_FOUND) {   /* undefined meanwhile */
				g_error_free(local);
				continue;
			}
			g_propagate_error(error, local);
			g_ptr_array_unref(list);
			return FALSE;
		}
		pk_vm_data *d = g_steal_pointer(&cfg->d);
		lv_xmlinfo info = cfg->info;
		lv_cached_free(cfg);
		const char *name = virDomainGetName(e->dom);
		if (name != NULL) {
			g_free(d->name);
			d->name = g_strdup(name);
		}
		const char *word = NULL;
		d->state = lv_state_map(e->state, e->reason, e->saved, &word);
		g_free(d->power_state);
		d->power_state = g_strdup(word);
		if (want_ips && (d->state == VMS_RUNNING || d->state == VMS_PAUSED))
			dom_ips(lc, e->dom, &info, leases, TRUE, d);
		g_ptr_array_add(list, d);
	}
	*out = list;
	return TRUE;
}

static gboolean lv_vm_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                           GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_list(lc, call.conn, flags, out, &call.error);
	return call.ok;
}

/* Disk sizes where the disk is a storage volume (one lookup each). */
static void disk_sizes(virConnectPtr conn, pk_vm_data *d)
{
	for (guint i = 0; i < d->disks->len; i++) {
		pk_disk_data *dd = d->disks->pdata[i];
		if (dd->image_path == NULL || dd->image_path[0] != '/')
			continue;
		virStorageVolPtr v = virStorageVolLookupByPath(conn, dd->image_path);
		virStorageVolInfo vi;
		if (v != NULL && virStorageVolGetInfo(v, &vi) == 0)
			dd->size_mb = vi.capacity / (1024 * 1024);
		else
			virResetLastError();
		if (v != NULL)
			virStorageVolFree(v);
	}
}

static gboolean vm_get(lv_conn *lc, virConnectPtr conn, const char *id, guint flags,
                       pk_vm_data **out, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	guint64 epoch = lv_cache_epoch(lc->ev);
	char *xml = virDomainGetXMLDesc(dom, 0);
	g_autoptr(lv_node) root = NULL;
	g_autoptr(pk_vm_data) d = pk_vm_data_new();
	lv_xmlinfo info;
	gboolean ok = FALSE;
	if (xml == NULL) {
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "configuration of VM '%s'", id);
		goto out;
	}
	root = lv_xml_parse(xml, error);
	free(xml);
	if (root == NULL)
		goto out;
	d->id = g_strdup(id);
	if (!lv_domxml_read(root, d, &info, error))
		goto out;
	g_free(d->name);
	d->name = g_strdup(virDomainGetName(dom));
	const char *word = NULL;
	if (!lv_dom_state(dom, &d->state, &word, error))
		goto out;
	d->power_state = g_strdup(word);
	lv_cache_store(lc->ev, id, d, &info, epoch);
	disk_sizes(conn, d);
	if (!(flags & PK_GET_NO_GUEST_INFO) && (d->state == VMS_RUNNING || d->state == VMS_PAUSED))
		dom_ips(lc, dom, &info, NULL, FALSE, d);
	d->digest = lv_vm_digest(d);
	*out = g_steal_pointer(&d);
	ok = TRUE;
out:
	virDomainFree(dom);
	return ok;
}

static gboolean lv_vm_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                          GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_get(lc, call.conn, id, flags, out, &call.error);
	return call.ok;
}

/* ----------------------------------------------------------------- power ---- */

static gboolean is_template(virDomainPtr dom, GError **error, gboolean *tpl)
{
	char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_NS_URI, 0);
	*tpl = FALSE;
	if (xml == NULL) {
		if (lv_last_error_code() == VIR_ERR_NO_DOMAIN_METADATA) {
			virResetLastError();
			return TRUE;
		}
		return lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "metadata of VM '%s'",
		               virDomainGetName(dom));
	}
	g_autoptr(lv_node) el = lv_xml_parse(xml, error);
	free(xml);
	if (el == NULL)
		return FALSE;
	g_autoptr(lv_meta) m = lv_meta_from_element(el);
	*tpl = m->is_template;
	return TRUE;
}

static gboolean power_call(int rc, GError **error, PRL_RESULT code, const char *what,
                           virDomainPtr dom)
{
	if (rc < 0)
		return lv_fail(error, code, "%s VM '%s'", what, virDomainGetName(dom));
	return TRUE;
}

/* Start (or restore a managed save, or wake from PM suspend). */
static gboolean do_start(virDomainPtr dom, VIRTUAL_MACHINE_STATE st, const char *word,
                         GError **error)
{
	if (st == VMS_PAUSED)
		return power_call(virDomainResume(dom), error, PRL_ERR_VM_START_FAILED, "resume", dom);
	if (g_strcmp0(word, "pmsuspended") == 0)
		return power_call(virDomainPMWakeup(dom, 0), error, PRL_ERR_VM_START_FAILED, "wake up",
		                  dom);
	return power_call(virDomainCreate(dom), error, PRL_ERR_VM_START_FAILED, "start", dom);
}

static gboolean vm_power(lv_conn *lc, virConnectPtr conn, const char *id, pk_power_op op,
                         char **task_ref, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	const char *name = virDomainGetName(dom);
	VIRTUAL_MACHINE_STATE st;
	const char *word = NULL;
	gboolean ok = FALSE, tpl = FALSE;
	if (!lv_dom_state(dom, &st, &word, error))
		goto out;
	gboolean running = st == VMS_RUNNING || st == VMS_STOPPING;
	gboolean stopped = st == VMS_STOPPED || st == VMS_UNKNOWN;
	gboolean saved = g_strcmp0(word, "saved") == 0;

	if (op == PK_POWER_STOP_GRACEFUL && lc->s.stop_hard)
		op = PK_POWER_STOP_HARD;
	switch (op) {
	case PK_POWER_START:
	case PK_POWER_RESUME:
		if (op == PK_POWER_RESUME && st != VMS_PAUSED && st != VMS_SUSPENDED) {
			lv_set_error(error, PRL_ERR_VM_IS_NOT_SUSPENDED, "VM '%s' is not paused or "
			             "suspended (%s)", name, word);
			goto out;
		}
		if (running) {
			lv_set_error(error, PRL_ERR_VM_ALREADY_RUNNING, "VM '%s' is already running",
			             name);
			goto out;
		}
		if (!is_template(dom, error, &tpl))
			goto out;
		if (tpl) {
			lv_set_error(error, PRL_ERR_CANT_TO_START_VM_TEMPLATE, "VM '%s' is a template "
			             "and cannot be started", name);
			goto out;
		}
		ok = do_start(dom, st, word, error);
		break;
	case PK_POWER_STOP_GRACEFUL:
		if (stopped) {
			lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STARTED, "VM '%s' is not started",
			             name);
			goto out;
		}
		if (!running) {
			lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_RUNNING, "VM '%s' is %s: its guest "
			             "cannot shut down", name, word);
			goto out;
		}
		if (!power_call(virDomainShutdown(dom), error, PRL_ERR_VM_POWER_OFF_FAILED,
		                "shut down", dom))
			goto out;
		if (lv_dom_is_active(dom))
			*task_ref = lv_task_ref_stop(id, pk_time_wall_ms() +
			                                 (gint64)lc->s.force_stop_after_s * 1000);
		ok = TRUE;
		break;
	case PK_POWER_STOP_HARD:
		if (stopped) {
			lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STARTED, "VM '%s' is not started",
			             name);
			goto out;
		}
		if (saved)   /* a managed save is dropped: the VM is then stopped */
			ok = power_call(virDomainManagedSaveRemove(dom, 0), error,
			                PRL_ERR_VM_POWER_OFF_FAILED, "discard the saved state of", dom);
		else
			ok = power_call(virDomainDestroy(dom), error, PRL_ERR_VM_POWER_OFF_FAILED,
			                "stop", dom);
		break;
	case PK_POWER_RESET:
	case PK_POWER_RESTART:
	case PK_POWER_PAUSE:
		if (st != VMS_RUNNING) {
			lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_RUNNING, "VM '%s' is not running (%s)",
			             name, word);
			goto out;
		}
		if (op == PK_POWER_RESET)
			ok = power_call(virDomainReset(dom, 0), error, PRL_ERR_OPERATION_FAILED, "reset",
			                dom);
		else if (op == PK_POWER_RESTART)
			ok = power_call(virDomainReboot(dom, 0), error, PRL_ERR_OPERATION_FAILED,
			                "restart", dom);
		else
			ok = power_call(virDomainSuspend(dom), error, PRL_ERR_OPERATION_FAILED, "pause",
			                dom);
		break;
	case PK_POWER_SUSPEND:
		if (st == VMS_SUSPENDED || (lc->s.suspend_pause && st == VMS_PAUSED)) {
			lv_set_error(error, PRL_ERR_VM_ALREADY_SUSPENDED, "VM '%s' is already suspended",
			             name);
			goto out;
		}
		if (st != VMS_RUNNING && st != VMS_PAUSED) {
			lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_RUNNING, "VM '%s' is not running (%s)",
			             name, word);
			goto out;
		}
		if (lc->s.suspend_pause)
			ok = power_call(virDomainSuspend(dom), error, PRL_ERR_OPERATION_FAILED, "pause",
			                dom);
		else   /* comes back running on start, even when it was paused */
			ok = power_call(virDomainManagedSave(dom, VIR_DOMAIN_SAVE_RUNNING), error,
			                PRL_ERR_OPERATION_FAILED, "suspend", dom);
		break;
	default:
		lv_set_error(error, PRL_ERR_INVALID_ARG, "unknown power operation %d", op);
		break;
	}
out:
	virDomainFree(dom);
	return ok;
}

static gboolean lv_vm_power(pk_conn *c, const char *id, pk_power_op op, guint flags,
                            char **task_ref, GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_power(lc, call.conn, id, op, task_ref, &call.error);
	return call.ok;
}

/* ---------------------------------------------------------------- delete ---- */

static gboolean vm_remove(lv_conn *lc, virConnectPtr conn, const char *id, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, id);
	g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) disks = NULL;
	g_autoptr(GPtrArray) owned = NULL;
	g_autoptr(lv_node) root = NULL;
	g_autoptr(lv_meta) meta = NULL;
	gboolean ok = FALSE;
	VIRTUAL_MACHINE_STATE st;
	const char *word = NULL;
	if (!lv_dom_state(dom, &st, &word, error))
		goto out;
	if (lv_dom_is_active(dom)) {
		lv_set_error(error, PRL_ERR_VM_CANT_DELETE_RUNNING, "VM '%s' is %s; stop it before "
		             "deleting it", virDomainGetName(dom), word);
		goto out;
	}
	root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		goto out;
	/* What may go with it: its disks and layers, when the driver made them and nothing
	 * else (a linked clone) still needs them. */
	disks = lv_domxml_disks(root, TRUE);
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		if (d->path != NULL)
			g_ptr_array_add(candidates, g_strdup(d->path));
	}
	meta = lv_meta_from_domain(root);
	for (guint i = 0; i < meta->snaps->len; i++) {
		lv_snap *s = meta->snaps->pdata[i];
		for (guint j = 0; j < s->layers->len; j++)
			g_ptr_array_add(candidates, g_strdup(((lv_layer *)s->layers->pdata[j])->path));
	}
	owned = lv_vol_owned_by(conn, id);
	for (guint i = 0; i < owned->len; i++)
		g_ptr_array_add(candidates, g_strdup(owned->pdata[i]));

	unsigned int uflags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
	                      VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
	                      VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
	int rc = virDomainUndefineFlags(dom, uflags);
	if (rc < 0 && (lv_last_error_code() == VIR_ERR_INVALID_ARG ||
	               lv_last_error_code() == VIR_ERR_NO_SUPPORT)) {
		/* Older or simpler drivers (test://) know fewer flags. */
		virResetLastError();
		rc = virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
		                                 VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
	}
	if (rc < 0) {
		lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot delete VM '%s'",
		        virDomainGetName(dom));
		goto out;
	}
	lv_cache_invalidate(lc->ev, id);
	lv_vol_release(conn, candidates);
	ok = TRUE;
out:
	lv_dom_busy_leave(lc, id);
	virDomainFree(dom);
	return ok;
}

static gboolean lv_vm_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
                             GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_remove(lc, call.conn, id, &call.error);
	return call.ok;
}

/* ------------------------------------------------------------------ edit ---- */

static gboolean name_valid(const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > 200 ||
	    !g_utf8_validate(name, -1, NULL) || strchr(name, '/') != NULL)
		return FALSE;
	for (const char *p = name; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			return FALSE;
	return TRUE;
}

gboolean lv_check_new_name(virConnectPtr conn, const char *name, PRL_RESULT blank_code,
                           GError **error)
{
	g_autofree char *t = name != NULL ? g_strstrip(g_strdup(name)) : NULL;
	if (t == NULL || *t == '\0')
		return lv_set_error(error, blank_code, "the VM name is empty");
	if (!name_valid(name))
		return lv_set_error(error, PRL_ERR_INVALID_ARG, "invalid VM name (control "
		                    "characters, '/', bad UTF-8, or longer than 200 bytes)");
	virDomainPtr other = virDomainLookupByName(conn, name);
	if (other != NULL) {
		virDomainFree(other);
		return lv_set_error(error, PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME,
		                    "a VM named '%s' already exists", name);
	}
	virResetLastError();
	return TRUE;
}

static gboolean vm_commit(lv_conn *lc, virConnectPtr conn, const char *id, const pk_vm_data *o,
                          const pk_vm_data *n, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, id);
	gboolean ok = FALSE, renamed = FALSE;
	g_autofree char *old_name = g_strdup(virDomainGetName(dom));
	g_autoptr(lv_node) root = NULL;
	g_autoptr(pk_vm_data) cur = pk_vm_data_new();
	g_autofree char *digest = NULL;
	VIRTUAL_MACHINE_STATE st;
	const char *word = NULL;
	lv_xmlinfo info;

	/* The current values, read as get reads them, for the edit token. */
	char *xml = virDomainGetXMLDesc(dom, 0);
	if (xml == NULL) {
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "configuration of VM '%s'", id);
		goto out;
	}
	{
		g_autoptr(lv_node) live = lv_xml_parse(xml, error);
		free(xml);
		if (live == NULL || !lv_domxml_read(live, cur, &info, error))
			goto out;
	}
	g_free(cur->name);
	cur->name = g_strdup(old_name);
	digest = lv_vm_digest(cur);
	if (o != NULL && o->digest != NULL && *o->digest != '\0' && strcmp(o->digest, digest) != 0) {
		lv_set_error(error, PRL_ERR_VM_CONFIG_WAS_CHANGED, "VM '%s' was changed since its "
		             "configuration was read", old_name);
		goto out;
	}
	const pk_vm_data *base = o != NULL ? o : cur;
	gboolean ch_name = n->name != NULL && g_strcmp0(n->name, base->name) != 0;
	gboolean ch_desc = g_strcmp0(n->description ? n->description : "",
	                             base->description ? base->description : "") != 0;
	gboolean ch_ram = n->ram_mb != base->ram_mb;
	gboolean ch_cpus = n->cpus != base->cpus;
	gboolean ch_tpl = !n->is_template != !base->is_template;
	if (!ch_name && !ch_desc && !ch_ram && !ch_cpus && !ch_tpl) {
		ok = TRUE;
		goto out;
	}
	if (!lv_dom_state(dom, &st, &word, error))
		goto out;
	gboolean off = st == VMS_STOPPED;
	if (ch_desc && n->description != NULL && !g_utf8_validate(n->description, -1, NULL)) {
		lv_set_error(error, PRL_ERR_INVALID_ARG, "the description is not UTF-8");
		goto out;
	}
	if (ch_ram && (n->ram_mb < 4 || n->ram_mb > 16 * 1024 * 1024)) {
		lv_set_error(error, PRL_ERR_INVALID_MEMORY_SIZE, "%u MB is not a valid memory size",
		             n->ram_mb);
		goto out;
	}
	if (ch_cpus && (n->cpus < 1 || n->cpus > 4096)) {
		lv_set_error(error, PRL_ERR_INVALID_PARAM, "%u is not a valid CPU count", n->cpus);
		goto out;
	}
	if ((ch_ram || ch_cpus || ch_name) && !off) {
		lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STOPPED, "VM '%s' is %s; its name, memory "
		             "and CPUs change only while it is stopped", old_name, word);
		goto out;
	}
	if (ch_tpl && n->is_template && !off) {
		lv_set_error(error, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE, "VM '%s' is %s; only "
		             "a stopped VM can become a template", old_name, word);
		goto out;
	}
	if (ch_name) {
		if (!lv_check_new_name(conn, n->name, PRL_ERR_INVALID_PARAM, error))
			goto out;
		if (virDomainRename(dom, n->name, 0) < 0) {
			lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot rename VM '%s'", old_name);
			goto out;
		}
		renamed = TRUE;
	}
	if (ch_ram || ch_cpus || (off && (ch_desc || ch_tpl))) {
		/* Stopped: one redefinition with everything. */
		root = lv_dom_inactive_xml(dom, error);
		if (root == NULL)
			goto undo;
		if (ch_ram)
			lv_domxml_set_memory(root, (guint64)n->ram_mb * 1024);
		if (ch_cpus)
			lv_domxml_set_vcpus(root, n->cpus);
		if (ch_desc)
			lv_domxml_set_description(root, n->description);
		if (ch_tpl) {
			g_autoptr(lv_meta) m = lv_meta_from_domain(root);
			m->is_template = n->is_template;
			lv_meta_apply(root, m);
		}
		if (!lv_dom_define(conn, root, error))
			goto undo;
	} else {
		/* Running: description and "no longer a template" apply live and persistently. */
		unsigned int aff = VIR_DOMAIN_AFFECT_CONFIG | (off ? 0 : VIR_DOMAIN_AFFECT_LIVE);
		if (ch_desc && virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_DESCRIPTION,
		                                    n->description && *n->description ? n->description
		                                                                      : NULL,
		                                    NULL, NULL, aff) < 0) {
			lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot set the description of VM '%s'",
			        old_name);
			goto undo;
		}
		if (ch_tpl) {
			g_autoptr(lv_node) cfg = lv_dom_inactive_xml(dom, error);
			if (cfg == NULL)
				goto undo;
			g_autoptr(lv_meta) m = lv_meta_from_domain(cfg);
			m->is_template = n->is_template;
			if (!lv_dom_set_meta(dom, m, error))
				goto undo;
		}
	}
	ok = TRUE;
	goto out;
undo:
	if (renamed && virDomainRename(dom, old_name, 0) < 0)
		virResetLastError();
out:
	lv_cache_invalidate(lc->ev, id);
	lv_dom_busy_leave(lc, id);
	virDomainFree(dom);
	return ok;
}

static gboolean lv_vm_commit(pk_conn *c, const char *id, const pk_vm_data *o,
                             const pk_vm_data *n, guint flags, char **task_ref,
                             GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_commit(lc, call.conn, id, o, n, &call.error);
	return call.ok;
}

/* ------------------------------------------------------------ statistics ---- */

static gboolean vm_statistics(virConnectPtr conn, const char *id, pk_stats_data **out,
                              GCancellable *cancel, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	virDomainInfo di;
	if (virDomainGetInfo(dom, &di) < 0) {
		virDomainFree(dom);
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "statistics of VM '%s'", id);
	}
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	s->cpu_usage = g_array_new(FALSE, TRUE, sizeof(guint32));
	s->ram_total = (guint64)di.maxMem * 1024;
	s->ram_used = MIN((guint64)di.memory * 1024, s->ram_total);
	if (lv_dom_is_active(dom)) {
		virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
		int k = virDomainMemoryStats(dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0);
		for (int i = 0; i < k; i++)
			if (ms[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS)
				s->ram_used = MIN(ms[i].val * 1024, s->ram_total);
		if (k < 0)
			virResetLastError();
		/* Per-vCPU usage from two samples of their CPU time. */
		int nv = (int)di.nrVirtCpu;
		g_autofree virVcpuInfoPtr a = g_new0(virVcpuInfo, MAX(nv, 1));
		g_autofree virVcpuInfoPtr b = g_new0(virVcpuInfo, MAX(nv, 1));
		gint64 t0 = pk_time_mono_us();
		int na = virDomainGetVcpus(dom, a, nv, NULL, 0);
		if (na > 0 && pk_time_sleep_ms(100, cancel)) {
			gint64 dt = (pk_time_mono_us() - t0) * 1000;   /* ns */
			int nb = virDomainGetVcpus(dom, b, nv, NULL, 0);
			for (int i = 0; i < MIN(na, nb); i++) {
				guint64 used = b[i].cpuTime - a[i].cpuTime;
				guint32 pct = dt > 0 ? (guint32)MIN(100, used * 100 / (guint64)dt) : 0;
				g_array_append_val(s->cpu_usage, pct);
			}
			if (nb < 0)
				virResetLastError();
		} else if (na < 0) {
			virResetLastError();
		}
	} else {
		s->ram_used = 0;
	}
	s->ram_free = s->ram_total - s->ram_used;
	virDomainFree(dom);
	*out = s;
	return TRUE;
}

static gboolean lv_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out,
                                 GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_statistics(call.conn, id, out, cancel, &call.error);
	return call.ok;
}

const pk_vm_ops lv_vm_ops = {
	.list = lv_vm_list,
	.get = lv_vm_get,
	.power = lv_vm_power,
	.remove = lv_vm_remove,
	.commit = lv_vm_commit,
	.clone = lv_vm_clone,
	.statistics = lv_vm_statistics,
};

/* Proxmox VE: what the driver remembers between calls, to keep a RAS poll cycle (list, then
 * get for every guest) cheap:
 * - one cluster/resources answer serves list and the state/name/template/tags of every get
 *   for inventory_ttl_ms (and concurrent callers share one request);
 * - a VM's config is reused while cluster/resources shows the VM unchanged (node, name,
 *   memory, CPUs, template flag, tags, lock) and for at most config_ttl_ms; the driver's
 *   own edits drop it;
 * - guest agent answers are reused while the VM runs the same boot, for ip_ttl_ms
 *   (ip_retry_ms when the agent did not answer);
 * - list fetches what is missing for every VM with bounded parallelism, so the gets that
 *   follow are answered from memory.
 * None of this is needed for correctness across processes: it only saves requests. */
#include "config.h"

#include <string.h>

#include "pve-private.h"
#include "util-log.h"
#include "util-time.h"

/* get() after a list within this window prefetches every listed VM's IPs at once. */
#define PVE_CYCLE_WINDOW_US (30 * G_USEC_PER_SEC)
/* uptime in cluster/resources lags (pvestatd updates every ~10 s): same boot within this. */
#define PVE_BOOT_SLACK_S 30

typedef struct {
	pve_vmconf *conf;
	char *sig;
	gint64 fetched_us;
} conf_entry;

typedef struct {
	GPtrArray *ips;               /* char*; never modified once stored */
	gint64 boot_s;
	gint64 fetched_us;
	gboolean answered;
} ip_entry;

static void conf_entry_free(gpointer p)
{
	conf_entry *e = p;
	pve_vmconf_unref(e->conf);
	g_free(e->sig);
	g_free(e);
}

static void ip_entry_free(gpointer p)
{
	ip_entry *e = p;
	g_ptr_array_unref(e->ips);
	g_free(e);
}

pve_conn *pve_conn_get(pk_conn *c)
{
	return pk_conn_get_private(c);
}

void pve_conn_init_caches(pve_conn *pc)
{
	g_mutex_init(&pc->lock);
	g_cond_init(&pc->inv_cond);
	pc->configs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, conf_entry_free);
	pc->ips = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, ip_entry_free);
}

void pve_conn_clear_caches(pve_conn *pc)
{
	g_clear_pointer(&pc->inv, pve_inventory_unref);
	g_clear_pointer(&pc->configs, g_hash_table_unref);
	g_clear_pointer(&pc->ips, g_hash_table_unref);
	g_mutex_clear(&pc->lock);
	g_cond_clear(&pc->inv_cond);
}

gboolean pve_resource_in_scope(const pve_conn *pc, const pve_resource *r)
{
	return r->is_qemu && (pc->s.node == NULL || strcmp(pc->s.node, r->node) == 0);
}

/* ---------- inventory ---------- */

static gboolean cancelled_error(GCancellable *cancel, GError **error)
{
	if (!g_cancellable_is_cancelled(cancel))
		return FALSE;
	g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
	return TRUE;
}

pve_inventory *pve_inventory_get(pve_conn *pc, gboolean force, GCancellable *cancel,
                                 GError **error)
{
	gint64 now = pk_time_mono_us();
	gint64 min_time = force ? now : now - (gint64)pc->s.inventory_ttl_ms * 1000;

	g_mutex_lock(&pc->lock);
	for (;;) {
		if (pc->inv != NULL && pc->inv->fetched_us >= min_time) {
			pve_inventory *inv = pve_inventory_ref(pc->inv);
			g_mutex_unlock(&pc->lock);
			return inv;
		}
		if (!pc->inv_fetching)
			break;
		/* Someone is fetching: share the answer if it is recent enough. */
		g_cond_wait_until(&pc->inv_cond, &pc->lock, pk_time_mono_us() + 50000);
		if (cancelled_error(cancel, error)) {
			g_mutex_unlock(&pc->lock);
			return NULL;
		}
	}
	pc->inv_fetching = TRUE;
	g_mutex_unlock(&pc->lock);

	gint64 sent = pk_time_mono_us();
	gint64 wall_s = pk_time_wall_ms() / 1000;
	g_autoptr(json_t) data = NULL;
	pve_inventory *inv = NULL;
	if (pve_api_call(pc->api, "GET", "/cluster/resources", "type=vm", 0, &data, cancel, error)) {
		inv = pve_inventory_parse(data, error);
		if (inv != NULL) {
			inv->fetched_us = sent;
			inv->fetched_wall_s = wall_s;
		}
	}

	g_mutex_lock(&pc->lock);
	pc->inv_fetching = FALSE;
	if (inv != NULL && sent >= pc->inv_valid_after &&
	    (pc->inv == NULL || pc->inv->fetched_us <= sent)) {
		g_clear_pointer(&pc->inv, pve_inventory_unref);
		pc->inv = pve_inventory_ref(inv);
	}
	g_cond_broadcast(&pc->inv_cond);
	g_mutex_unlock(&pc->lock);
	return inv;
}

void pve_inventory_invalidate(pve_conn *pc)
{
	g_mutex_lock(&pc->lock);
	g_clear_pointer(&pc->inv, pve_inventory_unref);
	pc->inv_valid_after = pk_time_mono_us();
	g_mutex_unlock(&pc->lock);
}

gboolean pve_vm_locate(pve_conn *pc, const char *id, pve_inventory **inv_out,
                       const pve_resource **r_out, GCancellable *cancel, GError **error)
{
	guint vmid;
	if (!pve_vmid_parse(id, &vmid)) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND,
		            "'%s' is not a Proxmox VE VM id (a number from 100 up)", id ? id : "");
		return FALSE;
	}
	gint64 start = pk_time_mono_us();
	pve_inventory *inv = pve_inventory_get(pc, FALSE, cancel, error);
	if (inv == NULL)
		return FALSE;
	const pve_resource *r = pve_inventory_find(inv, vmid);
	if (r == NULL && inv->fetched_us < start) {
		/* Created since the cached answer? Ask again once. */
		pve_inventory_unref(inv);
		inv = pve_inventory_get(pc, TRUE, cancel, error);
		if (inv == NULL)
			return FALSE;
		r = pve_inventory_find(inv, vmid);
	}
	if (r == NULL || !pve_resource_in_scope(pc, r)) {
		if (r == NULL)
			g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND,
			            "VM %u does not exist on the Proxmox VE cluster", vmid);
		else if (!r->is_qemu)
			g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND,
			            "guest %u is an LXC container, not a VM", vmid);
		else
			g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND,
			            "VM %u is on node '%s', outside this connection's node '%s'", vmid,
			            r->node, pc->s.node);
		pve_inventory_unref(inv);
		return FALSE;
	}
	*inv_out = inv;
	*r_out = r;
	return TRUE;
}

/* ---------- configs ---------- */

static char *resource_sig(const pve_resource *r)
{
	return g_strdup_printf("%s|%s|%" G_GUINT64_FORMAT "|%u|%d|%s|%s", r->node,
	                       r->name ? r->name : "", r->maxmem, r->maxcpu, r->template,
	                       r->tags ? r->tags : "", r->lock ? r->lock : "");
}

char *pve_vm_path(const char *node, guint vmid, const char *suffix)
{
	g_autofree char *n = pk_http_escape(node);
	return g_strdup_printf("/nodes/%s/qemu/%u%s", n, vmid, suffix ? suffix : "");
}

void pve_vm_forget(pve_conn *pc, guint vmid)
{
	g_mutex_lock(&pc->lock);
	g_hash_table_remove(pc->configs, GUINT_TO_POINTER(vmid));
	g_hash_table_remove(pc->ips, GUINT_TO_POINTER(vmid));
	g_mutex_unlock(&pc->lock);
}

static pve_vmconf *config_cached(pve_conn *pc, const pve_resource *r, const char *sig)
{
	pve_vmconf *conf = NULL;
	gint64 now = pk_time_mono_us();
	g_mutex_lock(&pc->lock);
	conf_entry *e = g_hash_table_lookup(pc->configs, GUINT_TO_POINTER(r->vmid));
	if (e != NULL && strcmp(e->sig, sig) == 0 &&
	    now - e->fetched_us < (gint64)pc->s.config_ttl_ms * 1000)
		conf = pve_vmconf_ref(e->conf);
	g_mutex_unlock(&pc->lock);
	return conf;
}

pve_vmconf *pve_config_get(pve_conn *pc, const pve_resource *r, gboolean fresh,
                           GCancellable *cancel, GError **error)
{
	g_autofree char *sig = resource_sig(r);
	if (!fresh) {
		pve_vmconf *conf = config_cached(pc, r, sig);
		if (conf != NULL)
			return conf;
	}
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/config");
	g_autoptr(json_t) data = NULL;
	gint64 sent = pk_time_mono_us();
	GError *err = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &data, cancel, &err)) {
		if (err->code == PRL_ERR_VM_UUID_NOT_FOUND) {
			/* Gone since the inventory was fetched. */
			pve_vm_forget(pc, r->vmid);
			pve_inventory_invalidate(pc);
		}
		g_propagate_error(error, err);
		return NULL;
	}
	pve_vmconf *conf = pve_vmconf_parse(data, error);
	if (conf == NULL)
		return NULL;
	conf_entry *e = g_new0(conf_entry, 1);
	e->conf = pve_vmconf_ref(conf);
	e->sig = g_steal_pointer(&sig);
	e->fetched_us = sent;
	g_mutex_lock(&pc->lock);
	g_hash_table_replace(pc->configs, GUINT_TO_POINTER(r->vmid), e);
	g_mutex_unlock(&pc->lock);
	return conf;
}

/* ---------- guest IPs ---------- */

static gint64 boot_estimate(const pve_inventory *inv, const pve_resource *r)
{
	return inv->fetched_wall_s - r->uptime;
}

static GPtrArray *strv_copy(GPtrArray *a)
{
	GPtrArray *c = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; a != NULL && i < a->len; i++)
		g_ptr_array_add(c, g_strdup(g_ptr_array_index(a, i)));
	return c;
}

/* A copy of the cached answer, or NULL when there is none worth using. */
static GPtrArray *ips_cached(pve_conn *pc, const pve_inventory *inv, const pve_resource *r)
{
	GPtrArray *out = NULL;
	gint64 now = pk_time_mono_us();
	g_mutex_lock(&pc->lock);
	ip_entry *e = g_hash_table_lookup(pc->ips, GUINT_TO_POINTER(r->vmid));
	if (e != NULL) {
		gint64 ttl = (gint64)(e->answered ? pc->s.ip_ttl_ms : pc->s.ip_retry_ms) * 1000;
		gint64 drift = boot_estimate(inv, r) - e->boot_s;
		if (now - e->fetched_us < ttl && drift <= PVE_BOOT_SLACK_S && drift >= -PVE_BOOT_SLACK_S)
			out = strv_copy(e->ips);
	}
	g_mutex_unlock(&pc->lock);
	return out;
}

static gboolean wants_agent(const pve_resource *r, const pve_vmconf *conf)
{
	return r->status != NULL && strcmp(r->status, "running") == 0 && conf != NULL && conf->agent &&
	       (r->lock == NULL || strcmp(r->lock, "suspending") != 0);
}

static GPtrArray *ips_fetch(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                            GCancellable *cancel)
{
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/agent/network-get-interfaces");
	g_autoptr(json_t) data = NULL;
	g_autoptr(GError) err = NULL;
	gint64 sent = pk_time_mono_us();
	ip_entry *e = g_new0(ip_entry, 1);

	if (pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &data, cancel, &err)) {
		e->ips = pve_agent_ips_parse(data);
		e->answered = TRUE;
	} else {
		/* "QEMU guest agent is not running", "No QEMU guest agent configured", ...: not an
		 * error for a get, just no IPs yet. */
		PK_DEBUG("VM %u: no guest agent answer (%s)", r->vmid, err->message);
		e->ips = g_ptr_array_new_with_free_func(g_free);
		if (err->code == PRL_ERR_OPERATION_WAS_CANCELED) {
			GPtrArray *none = e->ips;
			g_free(e);
			return none;
		}
	}
	e->boot_s = boot_estimate(inv, r);
	e->fetched_us = sent;
	GPtrArray *out = strv_copy(e->ips);
	g_mutex_lock(&pc->lock);
	g_hash_table_replace(pc->ips, GUINT_TO_POINTER(r->vmid), e);
	g_mutex_unlock(&pc->lock);
	return out;
}

/* ---------- bounded parallel prefetch ---------- */

typedef void (*prefetch_fn)(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                            GCancellable *cancel);

typedef struct {
	pve_conn *pc;
	const pve_inventory *inv;
	GPtrArray *items;             /* const pve_resource* */
	prefetch_fn fn;
	GCancellable *cancel;
	gint next;                    /* atomic */
} prefetch_run;

static gpointer prefetch_worker(gpointer data)
{
	prefetch_run *run = data;
	for (;;) {
		gint i = g_atomic_int_add(&run->next, 1);
		if (i >= (gint)run->items->len || g_cancellable_is_cancelled(run->cancel))
			break;
		run->fn(run->pc, run->inv, g_ptr_array_index(run->items, i), run->cancel);
	}
	return NULL;
}

static void run_parallel(pve_conn *pc, const pve_inventory *inv, GPtrArray *items, prefetch_fn fn,
                         GCancellable *cancel)
{
	if (items->len == 0)
		return;
	prefetch_run run = { pc, inv, items, fn, cancel, 0 };
	guint workers = MIN(pc->s.max_parallel, items->len);
	g_autoptr(GPtrArray) threads = g_ptr_array_new();
	for (guint i = 1; i < workers; i++) {
		GThread *t = g_thread_try_new("pve-prefetch", prefetch_worker, &run, NULL);
		if (t != NULL)
			g_ptr_array_add(threads, t);
	}
	prefetch_worker(&run);
	for (guint i = 0; i < threads->len; i++)
		g_thread_join(g_ptr_array_index(threads, i));
}

static void prefetch_config(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                            GCancellable *cancel)
{
	g_autoptr(GError) err = NULL;
	pve_vmconf *conf = pve_config_get(pc, r, FALSE, cancel, &err);
	if (conf == NULL)
		PK_DEBUG("VM %u: config not prefetched (%s)", r->vmid, err ? err->message : "?");
	pve_vmconf_unref(conf);
}

static void prefetch_ips(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                         GCancellable *cancel)
{
	GPtrArray *ips = ips_fetch(pc, inv, r, cancel);
	g_ptr_array_unref(ips);
}

pve_vmconf *pve_config_peek(pve_conn *pc, const pve_resource *r)
{
	g_autofree char *sig = resource_sig(r);
	return config_cached(pc, r, sig);
}

static void prefetch_ips_of(pve_conn *pc, const pve_inventory *inv, GPtrArray *resources,
                            GCancellable *cancel)
{
	g_autoptr(GPtrArray) need = g_ptr_array_new();
	for (guint i = 0; i < resources->len; i++) {
		const pve_resource *r = g_ptr_array_index(resources, i);
		g_autoptr(pve_vmconf) conf = pve_config_peek(pc, r);
		if (!wants_agent(r, conf))
			continue;
		GPtrArray *cached = ips_cached(pc, inv, r);
		if (cached != NULL)
			g_ptr_array_unref(cached);
		else
			g_ptr_array_add(need, (gpointer)r);
	}
	run_parallel(pc, inv, need, prefetch_ips, cancel);
}

void pve_prefetch(pve_conn *pc, const pve_inventory *inv, GPtrArray *resources, gboolean want_ips,
                  GCancellable *cancel)
{
	g_autoptr(GPtrArray) need = g_ptr_array_new();
	for (guint i = 0; i < resources->len; i++) {
		const pve_resource *r = g_ptr_array_index(resources, i);
		pve_vmconf *conf = pve_config_peek(pc, r);
		if (conf == NULL)
			g_ptr_array_add(need, (gpointer)r);
		pve_vmconf_unref(conf);
	}
	run_parallel(pc, inv, need, prefetch_config, cancel);
	if (want_ips)
		prefetch_ips_of(pc, inv, resources, cancel);
	g_mutex_lock(&pc->lock);
	pc->last_list_us = pk_time_mono_us();
	g_mutex_unlock(&pc->lock);
}

GPtrArray *pve_ips_get(pve_conn *pc, const pve_inventory *inv, const pve_resource *r,
                       const pve_vmconf *conf, GCancellable *cancel)
{
	if (!wants_agent(r, conf))
		return g_ptr_array_new_with_free_func(g_free);
	GPtrArray *ips = ips_cached(pc, inv, r);
	if (ips != NULL)
		return ips;

	/* Part of a poll cycle (a list just ran)? Then the other gets will want their IPs too:
	 * fetch them all now, in parallel. */
	g_mutex_lock(&pc->lock);
	gboolean in_cycle = pc->last_list_us != 0 &&
	                    pk_time_mono_us() - pc->last_list_us < PVE_CYCLE_WINDOW_US;
	g_mutex_unlock(&pc->lock);
	if (in_cycle) {
		g_autoptr(GPtrArray) scope = g_ptr_array_new();
		for (guint i = 0; i < inv->vms->len; i++) {
			const pve_resource *o = g_ptr_array_index(inv->vms, i);
			if (pve_resource_in_scope(pc, o))
				g_ptr_array_add(scope, (gpointer)o);
		}
		prefetch_ips_of(pc, inv, scope, cancel);
		ips = ips_cached(pc, inv, r);
		if (ips != NULL)
			return ips;
	}
	return ips_fetch(pc, inv, r, cancel);
}

char *pve_qmpstatus_get(pve_conn *pc, const pve_resource *r, GCancellable *cancel)
{
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/status/current");
	g_autoptr(json_t) data = NULL;
	g_autoptr(GError) err = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &data, cancel, &err)) {
		PK_DEBUG("VM %u: status/current failed (%s)", r->vmid, err->message);
		return NULL;
	}
	const char *q = json_string_value(json_object_get(data, "qmpstatus"));
	return q != NULL ? g_strdup(q) : NULL;
}

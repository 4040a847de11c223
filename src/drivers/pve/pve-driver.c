/* Proxmox VE driver: the vtable (driver.h). Facts: doc/backends/proxmox.md; settings and
 * behaviour: doc/drivers/pve.md.
 *
 * VM ids are Proxmox vmids ("101"). The node of a VM always comes from cluster/resources,
 * never from an assumption; LXC containers are never treated as VMs. Operations that start
 * a Proxmox task return a stateless reference (pve-tasks.c). */
#include "config.h"

#include <string.h>

#include "pve-private.h"
#include "util-log.h"
#include "util-time.h"

#define MIB (1024ull * 1024ull)

/* ---------- helpers ---------- */

static gboolean native_base_virtual(pve_conn *pc, const pve_resource *r, json_t *list);

static gboolean res_is_template(const pve_conn *pc, const pve_resource *r, const pve_vmconf *conf)
{
	const char *tags = conf != NULL ? conf->tags : r->tags;
	return r->template || (conf != NULL && conf->template) ||
	       pve_tags_has(tags, pc->s.template_tag);
}

static gboolean res_is_running(const pve_resource *r)
{
	return g_strcmp0(r->status, "running") == 0;
}

static pk_vm_data *vm_data_build(pve_conn *pc, const pve_resource *r, const pve_vmconf *conf,
                                 GPtrArray *ips, const char *qmpstatus)
{
	pk_vm_data *d = pk_vm_data_new();
	d->id = g_strdup_printf("%u", r->vmid);
	/* cluster/resources lags a few seconds behind config edits: the config wins. */
	d->name = g_strdup(r->name != NULL ? r->name : "");
	d->ram_mb = (guint32)(r->maxmem / MIB);
	d->cpus = r->maxcpu;
	if (conf != NULL) {
		if (conf->memory_mb > 0)
			d->ram_mb = (guint32)conf->memory_mb;
		d->cpus = conf->cores * conf->sockets;
		d->description = g_strdup(conf->description);
		d->os_type_name = g_strdup(conf->ostype);
		d->digest = g_strdup(conf->digest);
		for (guint i = 0; i < conf->nets->len; i++) {
			const pk_net_data *n = g_ptr_array_index(conf->nets, i);
			pk_net_data *copy = g_new0(pk_net_data, 1);
			copy->mac = g_strdup(n->mac);
			copy->network = g_strdup(n->network);
			g_ptr_array_add(d->nets, copy);
			if (n->mac != NULL)
				g_ptr_array_add(d->macs, g_strdup(n->mac));
		}
		for (guint i = 0; i < conf->disks->len; i++) {
			const pk_disk_data *k = g_ptr_array_index(conf->disks, i);
			pk_disk_data *copy = g_new0(pk_disk_data, 1);
			copy->image_path = g_strdup(k->image_path);
			copy->size_mb = k->size_mb;
			copy->type = k->type;
			g_ptr_array_add(d->disks, copy);
		}
	}
	pve_os_map(d->os_type_name, &d->os_type, &d->os_version);
	d->is_template = res_is_template(pc, r, conf);
	const char *raw = NULL;
	d->state = pve_state_map(r->status, qmpstatus, r->lock, &raw);
	d->power_state = g_strdup(raw);
	for (guint i = 0; ips != NULL && i < ips->len; i++)
		g_ptr_array_add(d->ips, g_strdup(g_ptr_array_index(ips, i)));
	return d;
}

gboolean pve_snapshot_list(pve_conn *pc, const char *node, guint vmid, json_t **list,
                           GCancellable *cancel, GError **error)
{
	g_autofree char *path = pve_vm_path(node, vmid, "/snapshot");
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, list, cancel, error))
		return FALSE;
	if (!json_is_array(*list)) {
		g_clear_pointer(list, json_decref);
		g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED, "unexpected snapshot list answer");
		return FALSE;
	}
	return TRUE;
}

gboolean pve_snapshot_exists(json_t *list, const char *pve_name)
{
	size_t i;
	json_t *e;
	if (strcmp(pve_name, "current") == 0)
		return FALSE;   /* the live state, never a snapshot */
	json_array_foreach(list, i, e)
		if (g_strcmp0(json_string_value(json_object_get(e, "name")), pve_name) == 0)
			return TRUE;
	return FALSE;
}

/* Start an asynchronous Proxmox call and check it handed back a UPID. */
static gboolean start_task(pve_conn *pc, const char *method, const char *path, const char *form,
                           char **upid, GCancellable *cancel, GError **error)
{
	g_autoptr(json_t) data = NULL;
	if (!pve_api_call_retry_locked(pc->api, method, path, form, PVE_CALL_VM, &data, cancel, error))
		return FALSE;
	pve_upid u;
	const char *s = json_string_value(data);
	if (!pve_upid_parse(s, &u)) {
		g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED,
		            "Proxmox did not answer %s %s with a task id", method, path);
		return FALSE;
	}
	pve_upid_clear(&u);
	*upid = g_strdup(s);
	return TRUE;
}

static char *ref_simple(pve_conn *pc, const char *op, const pve_resource *r, const char *upid)
{
	pve_ref *ref = pve_ref_new(op, r->node, r->vmid, upid);
	pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
	return pve_ref_finish(ref);
}

/* ---------- open / close ---------- */

static void pve_conn_free(pve_conn *pc)
{
	if (pc == NULL)
		return;
	pve_api_free(pc->api);
	if (pc->configs != NULL)
		pve_conn_clear_caches(pc);
	pve_settings_clear(&pc->s);
	g_free(pc);
}

static pk_open_status pve_open(pk_conn *c, GUri *uri, GHashTable *settings, GCancellable *cancel,
                               GError **error)
{
	if (uri != NULL && g_ascii_strcasecmp(g_uri_get_scheme(uri), "pve") != 0)
		return PK_OPEN_DECLINED;
	pk_log_add_secrets_from_settings(settings);

	pve_conn *pc = g_new0(pve_conn, 1);
	if (!pve_settings_parse(settings, uri, &pc->s, error)) {
		g_free(pc);
		return PK_OPEN_ERROR;
	}
	pc->api = pve_api_new(&pc->s, error);
	if (pc->api == NULL) {
		pve_conn_free(pc);
		return PK_OPEN_ERROR;
	}
	pve_conn_init_caches(pc);

	/* Reach the API and prove the credentials now, so connect reports what is wrong. */
	g_autoptr(json_t) version = NULL;
	if (!pve_api_call(pc->api, "GET", "/version", NULL, 0, &version, cancel, error)) {
		pve_conn_free(pc);
		return PK_OPEN_ERROR;
	}
	if (pc->s.node != NULL) {
		g_autoptr(json_t) nodes = NULL;
		gboolean found = FALSE;
		if (!pve_api_call(pc->api, "GET", "/nodes", NULL, 0, &nodes, cancel, error)) {
			pve_conn_free(pc);
			return PK_OPEN_ERROR;
		}
		for (size_t i = 0; i < json_array_size(nodes); i++)
			found = found || g_strcmp0(json_string_value(json_object_get(
			                               json_array_get(nodes, i), "node")), pc->s.node) == 0;
		if (!found) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "invalid setting 'node': '%s' is not a node of this cluster", pc->s.node);
			pve_conn_free(pc);
			return PK_OPEN_ERROR;
		}
	}
	g_info("connected to Proxmox VE %s at %s as %s (template_mode=%s)",
	       json_string_value(json_object_get(version, "version")) ?: "?", pc->s.base_url,
	       pc->s.token_id != NULL ? pc->s.token_id : pc->s.username,
	       pc->s.template_mode == PVE_TEMPLATE_NATIVE ? "native" : "tag");
	pk_conn_set_private(c, pc);
	return PK_OPEN_OK;
}

static void pve_close(pk_conn *c)
{
	pve_conn *pc = pk_conn_get_private(c);
	pk_conn_set_private(c, NULL);
	pve_conn_free(pc);
}

/* ---------- VMs ---------- */

static gboolean pve_vm_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel,
                            GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = pve_inventory_get(pc, FALSE, cancel, error);
	if (inv == NULL)
		return FALSE;
	g_autoptr(GPtrArray) scope = g_ptr_array_new();
	for (guint i = 0; i < inv->vms->len; i++) {
		const pve_resource *r = g_ptr_array_index(inv->vms, i);
		if (pve_resource_in_scope(pc, r))
			g_ptr_array_add(scope, (gpointer)r);
	}
	/* Identity only: what cluster/resources says (plus a cached config, no request). */
	gboolean identity = (flags & PK_LIST_IDENTITY_ONLY) != 0;
	gboolean want_ips = !identity && !(flags & PK_GET_NO_GUEST_INFO);
	if (!identity)
		pve_prefetch(pc, inv, scope, want_ips, cancel);
	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;

	GPtrArray *vms = g_ptr_array_new_with_free_func((GDestroyNotify)pk_vm_data_free);
	for (guint i = 0; i < scope->len; i++) {
		const pve_resource *r = g_ptr_array_index(scope, i);
		/* A config that could not be fetched leaves the VM listed with what
		 * cluster/resources says; get reports the error. */
		g_autoptr(pve_vmconf) conf = pve_config_peek(pc, r);
		g_autoptr(GPtrArray) ips = want_ips ? pve_ips_get(pc, inv, r, conf, cancel) : NULL;
		g_autofree char *qmp = NULL;
		if (pc->s.suspend_mode == PVE_SUSPEND_PAUSE && res_is_running(r))
			qmp = pve_qmpstatus_get(pc, r, cancel);
		pk_vm_data *d = vm_data_build(pc, r, conf, ips, qmp);
		d->identity_only = identity;
		g_ptr_array_add(vms, d);
	}
	*out = vms;
	return TRUE;
}

static gboolean pve_vm_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out,
                           GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;
	g_autoptr(pve_vmconf) conf = pve_config_get(pc, r, FALSE, cancel, error);
	if (conf == NULL)
		return FALSE;
	g_autoptr(GPtrArray) ips = NULL;
	if (!(flags & PK_GET_NO_GUEST_INFO))
		ips = pve_ips_get(pc, inv, r, conf, cancel);
	g_autofree char *qmp = NULL;
	if (pc->s.suspend_mode == PVE_SUSPEND_PAUSE && res_is_running(r))
		qmp = pve_qmpstatus_get(pc, r, cancel);
	*out = vm_data_build(pc, r, conf, ips, qmp);
	return TRUE;
}

static gboolean pve_vm_power(pk_conn *c, const char *id, pk_power_op op, guint flags,
                             char **task_ref, GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;

	g_autoptr(GString) form = g_string_new(NULL);
	const char *suffix = NULL, *opname = NULL;
	gboolean todisk = FALSE;
	switch (op) {
	case PK_POWER_START: {
		g_autoptr(pve_vmconf) conf = pve_config_peek(pc, r);
		if (res_is_template(pc, r, conf)) {
			g_set_error(error, PK_ERROR, PRL_ERR_CANT_TO_START_VM_TEMPLATE,
			            "VM %u is a template and cannot be started%s", r->vmid,
			            r->template ? "" : " (convert it back to a VM first)");
			return FALSE;
		}
		suffix = "/status/start";
		opname = "start";
		break;
	}
	case PK_POWER_STOP_GRACEFUL:
		if (!pc->s.stop_hard) {
			/* Guest shutdown; Proxmox itself powers off after the timeout. */
			suffix = "/status/shutdown";
			opname = "shutdown";
			pk_http_form_add_int(form, "timeout", pc->s.force_stop_after_s);
			pk_http_form_add(form, "forceStop", "1");
			break;
		}
		/* stop_mode=stop */
		G_GNUC_FALLTHROUGH;
	case PK_POWER_STOP_HARD:
		suffix = "/status/stop";
		opname = "stop";
		break;
	case PK_POWER_RESET:
		suffix = "/status/reset";
		opname = "reset";
		break;
	case PK_POWER_RESTART:
		suffix = "/status/reboot";
		opname = "reboot";
		break;
	case PK_POWER_PAUSE:
		if (pc->s.suspend_mode != PVE_SUSPEND_PAUSE) {
			g_set_error(error, PK_ERROR, PRL_ERR_VM_REQUEST_NOT_SUPPORTED,
			            "pausing VMs needs suspend_mode=pause (cluster/resources does not show "
			            "paused VMs, so prlkit then asks each running VM)");
			return FALSE;
		}
		suffix = "/status/suspend";
		opname = "suspend";
		break;
	case PK_POWER_SUSPEND:
		suffix = "/status/suspend";
		opname = "suspend";
		if (pc->s.suspend_mode == PVE_SUSPEND_HIBERNATE) {
			todisk = TRUE;
			pk_http_form_add(form, "todisk", "1");
		}
		break;
	case PK_POWER_RESUME:
		/* From pause, or from hibernation (Proxmox then starts the VM from its saved state). */
		suffix = "/status/resume";
		opname = "resume";
		break;
	default:
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ARG, "unknown power operation %d", op);
		return FALSE;
	}

	g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
	g_autofree char *upid = NULL;
	gboolean ok = start_task(pc, "POST", path, form->str, &upid, cancel, error);
	pve_vm_forget(pc, r->vmid);
	pve_inventory_invalidate(pc);
	if (!ok)
		return FALSE;
	pve_ref *ref = pve_ref_new(opname, r->node, r->vmid, upid);
	pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
	if (op == PK_POWER_STOP_GRACEFUL && !pc->s.stop_hard)
		pve_ref_set_int(ref, "t", pc->s.force_stop_after_s);
	if (todisk)
		pve_ref_set_int(ref, "todisk", 1);
	*task_ref = pve_ref_finish(ref);
	return TRUE;
}

static gboolean pve_vm_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
                              GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;
	if (res_is_running(r)) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_CANT_DELETE_RUNNING,
		            "VM %u is running: stop it before deleting it", r->vmid);
		return FALSE;
	}
	g_autofree char *path = pve_vm_path(r->node, r->vmid, NULL);
	g_autofree char *upid = NULL;
	gboolean ok = start_task(pc, "DELETE", path, "purge=1&destroy-unreferenced-disks=1", &upid,
	                         cancel, error);
	pve_vm_forget(pc, r->vmid);
	pve_inventory_invalidate(pc);
	if (!ok)
		return FALSE;
	*task_ref = ref_simple(pc, "delete", r, upid);
	return TRUE;
}

/* Native template conversion: Proxmox refuses VMs with snapshots, except that the RAS
 * link-clone base snapshot (native_base_snapshot) is folded into the template: the template
 * holds exactly that state, and clones "from" it clone the template. */
static gboolean native_template_start(pve_conn *pc, const pve_resource *r, char **task_ref,
                                      GCancellable *cancel, GError **error)
{
	g_autoptr(json_t) snaps = NULL;
	if (!pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	g_autofree char *base = pve_snapname_encode(pc->s.base_snapshot, NULL);
	GString *others = g_string_new(NULL);
	gboolean has_base = FALSE;
	for (size_t i = 0; i < json_array_size(snaps); i++) {
		const char *n = json_string_value(json_object_get(json_array_get(snaps, i), "name"));
		if (n == NULL || strcmp(n, "current") == 0)
			continue;
		if (base != NULL && strcmp(n, base) == 0) {
			has_base = TRUE;
			continue;
		}
		g_autofree char *d = pve_snapname_decode(n);
		g_string_append_printf(others, "%s'%s'", others->len ? ", " : "", d);
	}
	if (others->len > 0) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE,
		            "unable to create template, because VM contains snapshots (%s): Proxmox "
		            "templates cannot keep snapshots; delete them, or use template_mode=tag",
		            others->str);
		g_string_free(others, TRUE);
		return FALSE;
	}
	g_string_free(others, TRUE);

	g_autofree char *upid = NULL;
	if (has_base) {
		g_autofree char *esc = pk_http_escape(base);
		g_autofree char *suffix = g_strdup_printf("/snapshot/%s", esc);
		g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
		if (!start_task(pc, "DELETE", path, NULL, &upid, cancel, error))
			return FALSE;
		pve_ref *ref = pve_ref_new("native-template", r->node, r->vmid, upid);
		pve_ref_set(ref, "snap", base);
		pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
		*task_ref = pve_ref_finish(ref);
		return TRUE;
	}
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/template");
	if (!start_task(pc, "POST", path, NULL, &upid, cancel, error))
		return FALSE;
	*task_ref = ref_simple(pc, "template", r, upid);
	return TRUE;
}

static gboolean config_put(pve_conn *pc, const char *path, const char *form, const char *digest,
                           GCancellable *cancel, GError **error)
{
	g_autoptr(GString) f = g_string_new(form);
	if (digest != NULL)
		pk_http_form_add(f, "digest", digest);
	g_autoptr(json_t) data = NULL;
	return pve_api_call_retry_locked(pc->api, "PUT", path, f->str, PVE_CALL_VM, &data, cancel,
	                                 error);
}

/* Did someone change what the caller saw (old) in the fields an edit can touch? */
static gboolean edit_conflicts(pve_conn *pc, const pk_vm_data *old, const pve_vmconf *now)
{
	gboolean now_tagged = pve_tags_has(now->tags, pc->s.template_tag) || now->template;
	return g_strcmp0(old->name, now->name) != 0 ||
	       g_strcmp0(old->description ? old->description : "",
	                 now->description ? now->description : "") != 0 ||
	       old->ram_mb != now->memory_mb || old->cpus != now->cores * now->sockets ||
	       old->is_template != now_tagged;
}

static gboolean pve_vm_commit(pk_conn *c, const char *id, const pk_vm_data *old,
                              const pk_vm_data *new_, guint flags, char **task_ref,
                              GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;
	g_autoptr(pve_vmconf) conf = pve_config_get(pc, r, FALSE, cancel, error);
	if (conf == NULL)
		return FALSE;

	gboolean was_template = res_is_template(pc, r, conf);
	gboolean native_template = r->template || conf->template;
	gboolean to_template = new_->is_template && !was_template;
	gboolean from_template = !new_->is_template && was_template &&
	                         (old == NULL || old->is_template);
	g_autoptr(GString) form = g_string_new(NULL);
	g_autoptr(GPtrArray) deletes = g_ptr_array_new();   /* keys to remove, one "delete" */

	if (new_->name != NULL && g_strcmp0(new_->name, old ? old->name : NULL) != 0) {
		if (!pve_vm_name_check(new_->name, error))
			return FALSE;
		pk_http_form_add(form, "name", new_->name);
	}
	if (g_strcmp0(new_->description ? new_->description : "",
	              old && old->description ? old->description : "") != 0) {
		if (new_->description != NULL &&
		    g_utf8_strlen(new_->description, -1) > PVE_DESCRIPTION_MAX) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "the description is longer than Proxmox VE's %d characters",
			            PVE_DESCRIPTION_MAX);
			return FALSE;
		}
		if (new_->description != NULL && *new_->description != '\0')
			pk_http_form_add(form, "description", new_->description);
		else
			g_ptr_array_add(deletes, "description");
	}
	if (old == NULL || new_->ram_mb != old->ram_mb) {
		if (new_->ram_mb < 16) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_MEMORY_SIZE,
			            "memory must be at least 16 MB (got %u)", new_->ram_mb);
			return FALSE;
		}
		if (new_->ram_mb != conf->memory_mb)
			pk_http_form_add_int(form, "memory", new_->ram_mb);
	}
	if (old == NULL || new_->cpus != old->cpus) {
		if (new_->cpus < 1 || new_->cpus > 4096) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "the CPU count must be between 1 and 4096 (got %u)", new_->cpus);
			return FALSE;
		}
		guint sockets = conf->sockets > 0 && new_->cpus % conf->sockets == 0 ? conf->sockets : 1;
		if (new_->cpus != conf->cores * conf->sockets) {
			if (sockets != conf->sockets)
				pk_http_form_add_int(form, "sockets", sockets);
			pk_http_form_add_int(form, "cores", new_->cpus / sockets);
		}
	}
	if (to_template && res_is_running(r)) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE,
		            "VM %u is running: stop it before converting it to a template", r->vmid);
		return FALSE;
	}
	if (from_template && native_template) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_ACTION_REQUESTED,
		            "VM %u is a native Proxmox template, which Proxmox VE cannot turn back "
		            "into a VM (use template_mode=tag for reversible templates)", r->vmid);
		return FALSE;
	}
	/* Templates as tags (tag mode), and untagging in either mode. */
	if ((to_template && pc->s.template_mode == PVE_TEMPLATE_TAG) ||
	    (from_template && pve_tags_has(conf->tags, pc->s.template_tag))) {
		g_autofree char *tags = pve_tags_with(conf->tags, pc->s.template_tag, to_template);
		if (*tags != '\0')
			pk_http_form_add(form, "tags", tags);
		else
			g_ptr_array_add(deletes, "tags");
	}
	if (deletes->len > 0) {
		g_ptr_array_add(deletes, NULL);
		g_autofree char *keys = g_strjoinv(",", (char **)deletes->pdata);
		pk_http_form_add(form, "delete", keys);
	}

	if (form->len > 0) {
		const char *digest = old != NULL && old->digest != NULL ? old->digest : conf->digest;
		g_autofree char *path = pve_vm_path(r->node, r->vmid, "/config");
		GError *err = NULL;
		gboolean ok = config_put(pc, path, form->str, digest, cancel, &err);
		if (!ok && err->code == PRL_ERR_VM_CONFIG_WAS_CHANGED && old != NULL) {
			/* The digest covers the whole file, lock lines included: a VM read while
			 * locked "changes" when the lock goes. Only a change to what this edit
			 * touches is a conflict. */
			g_autoptr(pve_vmconf) now = pve_config_get(pc, r, TRUE, cancel, NULL);
			if (now != NULL && !edit_conflicts(pc, old, now)) {
				g_clear_error(&err);
				ok = config_put(pc, path, form->str, now->digest, cancel, &err);
			}
		}
		pve_vm_forget(pc, r->vmid);
		pve_inventory_invalidate(pc);
		if (!ok) {
			g_propagate_error(error, err);
			return FALSE;
		}
	}
	*task_ref = NULL;
	if (to_template && pc->s.template_mode == PVE_TEMPLATE_NATIVE) {
		gboolean ok = native_template_start(pc, r, task_ref, cancel, error);
		pve_vm_forget(pc, r->vmid);
		pve_inventory_invalidate(pc);
		return ok;
	}
	return TRUE;
}

static gboolean pve_vm_clone(pk_conn *c, const char *id, const char *new_name,
                             const char *snapshot, guint flags, char **new_id, char **task_ref,
                             GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	if (new_name == NULL || *new_name == '\0') {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_EMPTY_NAME_OF_CLONE, "the clone needs a name");
		return FALSE;
	}
	if (!pve_vm_name_check(new_name, error))
		return FALSE;
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;

	/* Which snapshot, and can the clone be linked? */
	g_autofree char *snap = NULL;
	gboolean folded_base = FALSE;
	if (snapshot != NULL && *snapshot != '\0') {
		snap = pve_snapname_encode(snapshot, error);
		if (snap == NULL)
			return FALSE;
		g_autoptr(json_t) snaps = NULL;
		if (!pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
			return FALSE;
		if (!pve_snapshot_exists(snaps, snap)) {
			folded_base = native_base_virtual(pc, r, snaps) &&
			              strcmp(snapshot, pc->s.base_snapshot) == 0;
			if (!folded_base) {
				g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
				            "snapshot '%s' does not exist on VM %u", snapshot, r->vmid);
				return FALSE;
			}
			/* The base snapshot was folded into this native template: clone the template. */
			g_clear_pointer(&snap, g_free);
		}
	}
	gboolean full = TRUE;
	if ((flags & PK_CLONE_LINKED) && !pc->s.full_clone) {
		if (!r->template || snap != NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_VM_REQUEST_NOT_SUPPORTED,
			            "Proxmox VE makes linked clones only of native templates, not from a "
			            "snapshot; VM %u %s (template_mode=native makes native templates)",
			            r->vmid, snap != NULL ? "was asked from a snapshot" : "is not one");
			return FALSE;
		}
		full = FALSE;
	}

	g_autoptr(GString) form = g_string_new(NULL);
	pk_http_form_add(form, "name", new_name);
	pk_http_form_add(form, "full", full ? "1" : "0");
	if (snap != NULL)
		pk_http_form_add(form, "snapname", snap);
	if (full && pc->s.storage != NULL)
		pk_http_form_add(form, "storage", pc->s.storage);
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/clone");

	/* /cluster/nextid reserves nothing: another client may take the id first. */
	g_autofree char *upid = NULL;
	guint newid = 0;
	for (int attempt = 0;; attempt++) {
		g_autoptr(json_t) idj = NULL;
		if (!pve_api_call(pc->api, "GET", "/cluster/nextid", NULL, 0, &idj, cancel, error))
			return FALSE;
		const char *ids = json_string_value(idj);
		g_autofree char *idbuf = json_is_integer(idj) ? g_strdup_printf("%" JSON_INTEGER_FORMAT,
		                                                               json_integer_value(idj))
		                                              : NULL;
		if (!pve_vmid_parse(idbuf != NULL ? idbuf : ids, &newid)) {
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED,
			            "Proxmox answered /cluster/nextid with no usable id");
			return FALSE;
		}
		g_autoptr(GString) f = g_string_new(form->str);
		pk_http_form_add_int(f, "newid", newid);
		GError *err = NULL;
		if (start_task(pc, "POST", path, f->str, &upid, cancel, &err))
			break;
		if (err->code != PRL_ERR_VM_ALREADY_REGISTERED_VM_UUID || attempt >= 5) {
			g_propagate_error(error, err);
			return FALSE;
		}
		PK_DEBUG("clone of VM %u: id %u was taken meanwhile (%s); trying the next", r->vmid,
		         newid, err->message);
		g_error_free(err);
	}
	pve_inventory_invalidate(pc);

	gboolean to_template = (flags & PK_CLONE_TO_TEMPLATE) != 0;
	pve_ref *ref = pve_ref_new("clone", r->node, r->vmid, upid);
	pve_ref_set_int(ref, "new", newid);
	pve_ref_set(ref, "tag", pc->s.template_tag);
	if (to_template && pc->s.template_mode == PVE_TEMPLATE_TAG)
		pve_ref_set_int(ref, "tmpl", 1);
	if (to_template && pc->s.template_mode == PVE_TEMPLATE_NATIVE)
		pve_ref_set_int(ref, "native", 1);
	*task_ref = pve_ref_finish(ref);
	*new_id = g_strdup_printf("%u", newid);
	return TRUE;
}

static gboolean pve_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out,
                                  GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, id, &inv, &r, cancel, error))
		return FALSE;
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/status/current");
	g_autoptr(json_t) d = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &d, cancel, error))
		return FALSE;
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	json_t *v;
	s->ram_total = (v = json_object_get(d, "maxmem")) && json_is_integer(v) ? (guint64)json_integer_value(v) : 0;
	s->ram_used = (v = json_object_get(d, "mem")) && json_is_integer(v) ? (guint64)json_integer_value(v) : 0;
	s->ram_free = s->ram_total > s->ram_used ? s->ram_total - s->ram_used : 0;
	/* Proxmox reports one CPU figure for the whole VM: each vCPU gets it. */
	json_t *cpus = json_object_get(d, "cpus");
	guint n = json_is_integer(cpus) ? (guint)CLAMP(json_integer_value(cpus), 1, 4096) : 1;
	guint32 pct = (guint32)CLAMP(json_number_value(json_object_get(d, "cpu")) * 100.0 + 0.5, 0, 100);
	s->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < n; i++)
		g_array_append_val(s->cpu_usage, pct);
	*out = s;
	return TRUE;
}

/* ---------- snapshots ---------- */

/* Native mode: a native template that has no real snapshot of the base name shows one. */
static gboolean native_base_virtual(pve_conn *pc, const pve_resource *r, json_t *list)
{
	if (pc->s.template_mode != PVE_TEMPLATE_NATIVE || !r->template)
		return FALSE;
	g_autofree char *base = pve_snapname_encode(pc->s.base_snapshot, NULL);
	return base != NULL && !pve_snapshot_exists(list, base);
}

static gboolean refuse_virtual(pve_conn *pc, const pve_resource *r, const char *name,
                               json_t *list, GError **error)
{
	if (g_strcmp0(name, pc->s.base_snapshot) != 0 || !native_base_virtual(pc, r, list))
		return FALSE;
	g_set_error(error, PK_ERROR, PRL_ERR_VM_REQUEST_NOT_SUPPORTED,
	            "'%s' of template %u is the template itself (Proxmox templates cannot have "
	            "snapshots); it cannot be deleted or reverted to", name, r->vmid);
	return TRUE;
}

static gint snapshot_cmp(gconstpointer a, gconstpointer b)
{
	const pk_snapshot_data *x = *(pk_snapshot_data *const *)a;
	const pk_snapshot_data *y = *(pk_snapshot_data *const *)b;
	return x->created < y->created ? -1 : x->created > y->created;
}

static gboolean pve_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out,
                              GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, vm_id, &inv, &r, cancel, error))
		return FALSE;
	g_autoptr(json_t) list = NULL;
	if (!pve_snapshot_list(pc, r->node, r->vmid, &list, cancel, error))
		return FALSE;
	const char *current_parent = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
		if (g_strcmp0(json_string_value(json_object_get(e, "name")), "current") == 0)
			current_parent = json_string_value(json_object_get(e, "parent"));

	GPtrArray *snaps = g_ptr_array_new_with_free_func((GDestroyNotify)pk_snapshot_data_free);
	json_array_foreach(list, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n == NULL || strcmp(n, "current") == 0)
			continue;   /* Proxmox's pseudo-entry for the live state */
		pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
		s->name = pve_snapname_decode(n);
		s->description = pve_snapdesc_unwrap(s->name, n,
		                                     json_string_value(json_object_get(e, "description")));
		const char *parent = json_string_value(json_object_get(e, "parent"));
		s->parent = parent != NULL ? pve_snapname_decode(parent) : NULL;
		json_t *t = json_object_get(e, "snaptime");
		s->created = json_is_integer(t) ? json_integer_value(t) : 0;
		s->current = current_parent != NULL && strcmp(current_parent, n) == 0;
		g_ptr_array_add(snaps, s);
	}
	g_ptr_array_sort(snaps, snapshot_cmp);
	if (native_base_virtual(pc, r, list)) {
		/* A native template is its own frozen state: in native mode it shows as the RAS
		 * base snapshot, which was folded into it at conversion. */
		pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
		s->name = g_strdup(pc->s.base_snapshot);
		s->description = g_strdup("the state of this Proxmox template (templates cannot have "
		                          "snapshots; clones of it are clones of the template)");
		s->current = TRUE;
		g_ptr_array_add(snaps, s);
	}
	*out = snaps;
	return TRUE;
}

static gboolean snap_post_create(pve_conn *pc, const pve_resource *r, const char *pve_name,
                                 const char *desc, char **upid, GCancellable *cancel,
                                 GError **error)
{
	g_autoptr(GString) form = g_string_new(NULL);
	pk_http_form_add(form, "snapname", pve_name);
	if (desc != NULL && *desc != '\0')
		pk_http_form_add(form, "description", desc);
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/snapshot");
	return start_task(pc, "POST", path, form->str, upid, cancel, error);
}

static gboolean pve_snap_create(pk_conn *c, const char *vm_id, const char *name,
                                const char *description, guint flags, char **task_ref,
                                GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, vm_id, &inv, &r, cancel, error))
		return FALSE;
	g_autofree char *pve_name = pve_snapname_encode(name, error);
	if (pve_name == NULL)
		return FALSE;
	g_autofree char *desc = pve_snapdesc_wrap(name, pve_name, description);
	g_autofree char *upid = NULL;
	pve_ref *ref = NULL;

	if (flags & PK_SNAP_REPLACE) {
		g_autoptr(json_t) snaps = NULL;
		if (!pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
			return FALSE;
		if (pve_snapshot_exists(snaps, pve_name)) {
			/* Delete then create, as one task resolved from what Proxmox shows. */
			g_autofree char *esc = pk_http_escape(pve_name);
			g_autofree char *suffix = g_strdup_printf("/snapshot/%s", esc);
			g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
			if (!start_task(pc, "DELETE", path, NULL, &upid, cancel, error))
				return FALSE;
			ref = pve_ref_new("snap-replace", r->node, r->vmid, upid);
		}
	}
	if (ref == NULL) {
		if (!snap_post_create(pc, r, pve_name, desc, &upid, cancel, error))
			return FALSE;
		ref = pve_ref_new("snap-create", r->node, r->vmid, upid);
	}
	pve_ref_set(ref, "snap", pve_name);
	pve_ref_set(ref, "desc", desc);
	pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
	*task_ref = pve_ref_finish(ref);
	pve_vm_forget(pc, r->vmid);
	return TRUE;
}

/* name and its descendants, deepest first. */
static void snap_subtree(json_t *list, const char *name, GPtrArray *out, guint depth)
{
	size_t i;
	json_t *e;
	if (depth > 1000)
		return;
	json_array_foreach(list, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n != NULL && strcmp(n, "current") != 0 &&
		    g_strcmp0(json_string_value(json_object_get(e, "parent")), name) == 0)
			snap_subtree(list, n, out, depth + 1);
	}
	g_ptr_array_add(out, g_strdup(name));
}

static gboolean pve_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                                char **task_ref, GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, vm_id, &inv, &r, cancel, error))
		return FALSE;
	gboolean missing_ok = (flags & PK_SNAP_MISSING_OK) != 0;
	g_autoptr(GError) enc_err = NULL;
	g_autofree char *pve_name = pve_snapname_encode(name, &enc_err);
	g_autoptr(json_t) snaps = NULL;
	if (pve_name != NULL && !pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	if (pve_name != NULL && refuse_virtual(pc, r, name, snaps, error))
		return FALSE;
	if (pve_name == NULL || !pve_snapshot_exists(snaps, pve_name)) {
		/* A name Proxmox cannot even hold cannot exist there. */
		*task_ref = NULL;
		if (missing_ok)
			return TRUE;
		g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
		            "snapshot '%s' does not exist on VM %u", name ? name : "", r->vmid);
		return FALSE;
	}
	g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func(g_free);
	if (flags & PK_SNAP_WITH_CHILDREN)
		snap_subtree(snaps, pve_name, doomed, 0);
	else
		g_ptr_array_add(doomed, g_strdup(pve_name));

	const char *first = g_ptr_array_index(doomed, 0);
	g_autofree char *esc = pk_http_escape(first);
	g_autofree char *suffix = g_strdup_printf("/snapshot/%s", esc);
	g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
	g_autofree char *upid = NULL;
	if (!start_task(pc, "DELETE", path, NULL, &upid, cancel, error))
		return FALSE;
	pve_ref *ref;
	if (doomed->len > 1) {
		g_ptr_array_add(doomed, NULL);
		g_autofree char *names = g_strjoinv(",", (char **)doomed->pdata);
		ref = pve_ref_new("snap-delete-tree", r->node, r->vmid, upid);
		pve_ref_set(ref, "names", names);
	} else {
		ref = pve_ref_new("snap-delete", r->node, r->vmid, upid);
		pve_ref_set(ref, "snap", pve_name);
		if (missing_ok)
			pve_ref_set_int(ref, "missing", 1);
	}
	pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
	*task_ref = pve_ref_finish(ref);
	pve_vm_forget(pc, r->vmid);
	return TRUE;
}

static gboolean pve_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                                char **task_ref, GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autoptr(pve_inventory) inv = NULL;
	const pve_resource *r = NULL;
	if (!pve_vm_locate(pc, vm_id, &inv, &r, cancel, error))
		return FALSE;
	g_autoptr(GError) enc_err = NULL;
	g_autofree char *pve_name = pve_snapname_encode(name, &enc_err);
	g_autoptr(json_t) snaps = NULL;
	if (pve_name != NULL && !pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	if (pve_name != NULL && refuse_virtual(pc, r, name, snaps, error))
		return FALSE;
	if (pve_name == NULL || !pve_snapshot_exists(snaps, pve_name)) {
		g_set_error(error, PK_ERROR, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
		            "snapshot '%s' does not exist on VM %u", name ? name : "", r->vmid);
		return FALSE;
	}
	g_autofree char *esc = pk_http_escape(pve_name);
	g_autofree char *suffix = g_strdup_printf("/snapshot/%s/rollback", esc);
	g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
	g_autofree char *upid = NULL;
	gboolean ok = start_task(pc, "POST", path, NULL, &upid, cancel, error);
	pve_vm_forget(pc, r->vmid);
	pve_inventory_invalidate(pc);
	if (!ok)
		return FALSE;
	pve_ref *ref = pve_ref_new("rollback", r->node, r->vmid, upid);
	pve_ref_set(ref, "snap", pve_name);
	pve_ref_set_int(ref, "until", pk_time_wall_ms() + pc->s.lock_wait_ms);
	*task_ref = pve_ref_finish(ref);
	return TRUE;
}

/* ---------- host ---------- */

static gboolean host_node(pve_conn *pc, char **node, GCancellable *cancel, GError **error)
{
	if (pc->s.node != NULL) {
		*node = g_strdup(pc->s.node);
		return TRUE;
	}
	g_autoptr(json_t) nodes = NULL;
	if (!pve_api_call(pc->api, "GET", "/nodes", NULL, 0, &nodes, cancel, error))
		return FALSE;
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		const char *name = json_string_value(json_object_get(n, "node"));
		if (name != NULL && g_strcmp0(json_string_value(json_object_get(n, "status")),
		                              "online") == 0) {
			*node = g_strdup(name);
			return TRUE;
		}
	}
	g_set_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
	            "no Proxmox VE node of the cluster is online");
	return FALSE;
}

static gboolean node_status(pve_conn *pc, char **node, json_t **status, GCancellable *cancel,
                            GError **error)
{
	if (!host_node(pc, node, cancel, error))
		return FALSE;
	g_autofree char *esc = pk_http_escape(*node);
	g_autofree char *path = g_strdup_printf("/nodes/%s/status", esc);
	if (!pve_api_call(pc->api, "GET", path, NULL, 0, status, cancel, error)) {
		g_clear_pointer(node, g_free);
		return FALSE;
	}
	return TRUE;
}

static guint64 json_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (guint64)json_integer_value(v) : 0;
}

static gboolean pve_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                              GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autofree char *node = NULL;
	g_autoptr(json_t) st = NULL;
	if (!node_status(pc, &node, &st, cancel, error))
		return FALSE;
	json_t *cpu = json_object_get(st, "cpuinfo");
	pk_host_data *h = g_new0(pk_host_data, 1);
	h->hostname = g_steal_pointer(&node);
	h->cpu_model = g_strdup(json_string_value(json_object_get(cpu, "model")));
	h->cpu_count = (guint32)json_u64(cpu, "cpus");
	h->ram_mb = json_u64(json_object_get(st, "memory"), "total") / MIB;
	/* "pve-manager/8.2.4/faa83925c9641325" → "Proxmox VE 8.2.4" */
	const char *pv = json_string_value(json_object_get(st, "pveversion"));
	g_auto(GStrv) parts = g_strsplit(pv != NULL ? pv : "", "/", -1);
	h->product_version = g_strdup_printf("Proxmox VE %s",
	                                     parts[0] && parts[1] ? parts[1] : (pv ? pv : "?"));
	*out = h;
	return TRUE;
}

static gboolean pve_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                    GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	g_autofree char *node = NULL;
	g_autoptr(json_t) st = NULL;
	if (!node_status(pc, &node, &st, cancel, error))
		return FALSE;
	json_t *mem = json_object_get(st, "memory");
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	s->ram_total = json_u64(mem, "total");
	s->ram_used = json_u64(mem, "used");
	s->ram_free = json_u64(mem, "free");
	guint n = (guint)CLAMP(json_u64(json_object_get(st, "cpuinfo"), "cpus"), 1, 8192);
	guint32 pct = (guint32)CLAMP(json_number_value(json_object_get(st, "cpu")) * 100.0 + 0.5, 0,
	                             100);
	s->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < n; i++)
		g_array_append_val(s->cpu_usage, pct);
	*out = s;
	return TRUE;
}

/* ---------- the vtable ---------- */

static guint64 pve_driver_features_for(GHashTable *settings)
{
	return pve_features_for(settings);
}

static const pk_vm_ops pve_vm_ops = {
	.list = pve_vm_list,
	.get = pve_vm_get,
	.power = pve_vm_power,
	.remove = pve_vm_remove,
	.commit = pve_vm_commit,
	.clone = pve_vm_clone,
	.statistics = pve_vm_statistics,
};

static const pk_snap_ops pve_snap_ops = {
	.list = pve_snap_list,
	.create = pve_snap_create,
	.remove = pve_snap_remove,
	.revert = pve_snap_revert,
};

static const pk_task_ops pve_task_ops = {
	.status = pve_task_status,
	.cancel = pve_task_cancel,
	.poll_interval_ms = pve_task_poll_interval,
};

static const pk_host_ops pve_host_ops = {
	.info = pve_host_info,
	.statistics = pve_host_statistics,
};

static const char *const pve_schemes[] = { "pve", NULL };

static const char *const pve_settings_keys[] = {
	"host", "user", "realm", "token_name", "token_secret", "node", "template_mode",
	"template_tag", "native_base_snapshot", "full_clone", "stop_mode", "force_stop_after",
	"suspend_mode", "storage", "connect_timeout", "max_parallel", "inventory_cache_ms",
	"config_cache_ttl", "ip_cache_ttl", "ip_retry", "lock_wait", "task_poll_ms",
	"ticket_renew", NULL,
};

const pk_driver pve_driver = {
	.settings_keys = pve_settings_keys,
	.name = "pve",
	.display_name = "Proxmox VE",
	.uri_schemes = pve_schemes,
	.features = PRLK_FEAT_SUSPEND | PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE |
	            PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_LINKED_CLONE | PRLK_FEAT_TEMPLATES |
	            PRLK_FEAT_REVERSIBLE_TEMPLATES | PRLK_FEAT_GUEST_IPS | PRLK_FEAT_PAUSE |
	            PRLK_FEAT_RESET | PRLK_FEAT_RESTART | PRLK_FEAT_EDIT | PRLK_FEAT_STATISTICS |
	            PRLK_FEAT_TASK_IDS | PRLK_FEAT_DELETE,
	.features_for = pve_driver_features_for,
	.open = pve_open,
	.close = pve_close,
	.watch = NULL,
	.vm = &pve_vm_ops,
	.snap = &pve_snap_ops,
	.task = &pve_task_ops,
	.host = &pve_host_ops,
};

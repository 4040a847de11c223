/* Snapshots and clones for the libvirt driver (design: doc/drivers/libvirt.md).
 *
 * A snapshot is a set of frozen qcow2 layers, one per writable disk: creating one freezes
 * the files the disks use now and puts a new, empty overlay on top of each
 * (base ← v1 ← v2 ← active). Reverting discards the active overlays and starts new ones on
 * the snapshot's layers. A linked clone is an overlay on a snapshot's frozen layer, so RAS
 * template versions and linked clones work together; a full clone is a flattened copy.
 * prlkit's element in the domain's <metadata> records the snapshots (name, parent, time,
 * memory, vCPUs, layers) and which one the VM runs on.
 *
 * Snapshots of running VMs are disk-only (crash-consistent): libvirt switches QEMU to the
 * new overlays live. Reverting a running VM stops it first: layers hold no memory. */
#include "config.h"

#include <string.h>
#include "libvirt-private.h"
#include "util-log.h"
#include "util-time.h"

static gboolean check_snap_name(const char *name, GError **error)
{
	gboolean ok = name != NULL && *name != '\0' && strlen(name) <= 255 &&
	              g_utf8_validate(name, -1, NULL);
	for (const char *p = name; ok && *p; p++)
		ok = (guchar)*p >= 0x20 && *p != 0x7f;
	if (ok) {
		g_autofree char *t = g_strstrip(g_strdup(name));
		ok = *t != '\0';
	}
	if (!ok)
		return lv_set_error(error, PRL_ERR_INVALID_ARG, "invalid snapshot name (empty, "
		                    "control characters, bad UTF-8, or longer than 255 bytes)");
	return TRUE;
}

static const char *fmt_of(const lv_disk *d)
{
	return d->format != NULL ? d->format : "raw";
}

/* The disks snapshots and clones layer: every writable disk, which must be a file. */
static GPtrArray *layered_disks(lv_node *root, const char *vm, GError **error)
{
	GPtrArray *disks = lv_domxml_disks(root, TRUE);
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		if (strcmp(d->type, "file") != 0 || d->path == NULL || d->target == NULL) {
			lv_set_error(error, PRL_ERR_VM_REQUEST_NOT_SUPPORTED, "disk %s of VM '%s' is "
			             "not a file (type %s): snapshots and clones need file disks",
			             d->target != NULL ? d->target : "?", vm, d->type);
			g_ptr_array_unref(disks);
			return NULL;
		}
	}
	return disks;
}

static lv_disk *disk_by_target(GPtrArray *disks, const char *target)
{
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		if (g_strcmp0(d->target, target) == 0)
			return d;
	}
	return NULL;
}

static lv_layer *layer_of(const lv_snap *s, const char *target)
{
	for (guint i = 0; i < s->layers->len; i++) {
		lv_layer *l = s->layers->pdata[i];
		if (g_strcmp0(l->disk, target) == 0)
			return l;
	}
	return NULL;
}

/* The domain state words callers need. */
typedef struct {
	VIRTUAL_MACHINE_STATE st;
	const char *word;
	gboolean active;              /* running or paused: QEMU holds the disks */
	gboolean saved;               /* managed save */
} dom_status;

static gboolean status_of(virDomainPtr dom, dom_status *s, GError **error)
{
	if (!lv_dom_state(dom, &s->st, &s->word, error))
		return FALSE;
	s->active = lv_dom_is_active(dom);
	s->saved = g_strcmp0(s->word, "saved") == 0;
	return TRUE;
}

/* ----------------------------------------------------------------- delete ---- */

static gboolean in_set(GHashTable *set, const char *name)
{
	return name != NULL && g_hash_table_contains(set, name);
}

/* Nearest ancestor of name that survives. */
static const char *surviving(const lv_meta *m, GHashTable *gone, const char *name)
{
	guint guard = 0;
	while (name != NULL && in_set(gone, name) && guard++ <= m->snaps->len) {
		lv_snap *s = lv_meta_find(m, name);
		name = s != NULL ? s->parent : NULL;
	}
	return in_set(gone, name) ? NULL : name;
}

/* Removes name (and with children, its descendants) from the metadata; their layers go
 * to *released. Children of a removed snapshot move up to its parent. */
static void meta_remove(lv_meta *m, const char *name, gboolean with_children,
                        GPtrArray *released)
{
	g_autoptr(GHashTable) gone = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_add(gone, (gpointer)lv_meta_find(m, name)->name);
	for (gboolean grew = with_children; grew;) {
		grew = FALSE;
		for (guint i = 0; i < m->snaps->len; i++) {
			lv_snap *s = m->snaps->pdata[i];
			if (!in_set(gone, s->name) && in_set(gone, s->parent)) {
				g_hash_table_add(gone, s->name);
				grew = TRUE;
			}
		}
	}
	for (guint i = 0; i < m->snaps->len; i++) {
		lv_snap *s = m->snaps->pdata[i];
		if (!in_set(gone, s->name) && in_set(gone, s->parent)) {
			char *p = g_strdup(surviving(m, gone, s->parent));
			g_free(s->parent);
			s->parent = p;
		}
	}
	if (in_set(gone, m->current)) {
		char *p = g_strdup(surviving(m, gone, m->current));
		g_free(m->current);
		m->current = p;
	}
	for (guint i = m->snaps->len; i > 0; i--) {
		lv_snap *s = m->snaps->pdata[i - 1];
		if (!in_set(gone, s->name))
			continue;
		for (guint j = 0; j < s->layers->len; j++)
			g_ptr_array_add(released, g_strdup(((lv_layer *)s->layers->pdata[j])->path));
		g_hash_table_remove(gone, s->name);
		g_ptr_array_remove_index(m->snaps, i - 1);
	}
}

/* Deletes a snapshot whose existence was checked; the domain is busy. */
static gboolean delete_snapshot(virConnectPtr conn, virDomainPtr dom, const char *name,
                                gboolean with_children, GError **error)
{
	g_autoptr(lv_node) root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		return FALSE;
	g_autoptr(lv_meta) m = lv_meta_from_domain(root);
	if (lv_meta_find(m, name) == NULL)
		return TRUE;
	g_autoptr(GPtrArray) released = g_ptr_array_new_with_free_func(g_free);
	meta_remove(m, name, with_children, released);
	if (!lv_dom_set_meta(dom, m, error))
		return FALSE;
	/* Layers that later layers, the active disks or linked clones sit on stay. */
	lv_vol_release(conn, released);
	return TRUE;
}

static gboolean snap_remove(lv_conn *lc, virConnectPtr conn, const char *vm_id,
                            const char *name, guint flags, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, vm_id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, vm_id);
	gboolean ok = FALSE;
	g_autoptr(lv_meta) m = NULL;
	g_autoptr(lv_node) root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		goto out;
	m = lv_meta_from_domain(root);
	if (lv_meta_find(m, name) == NULL) {
		if (flags & PK_SNAP_MISSING_OK)
			ok = TRUE;
		else
			lv_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "VM '%s' has no snapshot '%s'",
			             virDomainGetName(dom), name);
		goto out;
	}
	ok = delete_snapshot(conn, dom, name, (flags & PK_SNAP_WITH_CHILDREN) != 0, error);
	lv_cache_invalidate(lc->ev, vm_id);
out:
	lv_dom_busy_leave(lc, vm_id);
	virDomainFree(dom);
	return ok;
}

static gboolean lv_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                               char **task_ref, GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	if (name == NULL || *name == '\0')
		return lv_set_error(error, PRL_ERR_INVALID_ARG, "empty snapshot name");
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = snap_remove(lc, call.conn, vm_id, name, flags, &call.error);
	return call.ok;
}

/* ----------------------------------------------------------------- create ---- */

/* Switches a running domain's disks to the new overlays (disk-only, no libvirt snapshot
 * metadata: prlkit keeps its own). */
static gboolean live_switch(virDomainPtr dom, lv_node *root, GPtrArray *disks,
                            GPtrArray *overlays, GError **error)
{
	GString *x = g_string_new("<domainsnapshot><description>prlkit layer</description><disks>");
	g_autoptr(GPtrArray) all = lv_domxml_disks(root, FALSE);
	for (guint i = 0; i < all->len; i++) {
		lv_disk *a = all->pdata[i];
		if (a->target == NULL)
			continue;
		g_autofree char *t = g_markup_escape_text(a->target, -1);
		lv_disk *d = disk_by_target(disks, a->target);
		guint k = 0;
		for (; d != NULL && k < disks->len && disks->pdata[k] != d; k++)
			;
		if (d == NULL) {
			g_string_append_printf(x, "<disk name='%s' snapshot='no'/>", t);
			continue;
		}
		g_autofree char *p = g_markup_escape_text(overlays->pdata[k], -1);
		g_string_append_printf(x, "<disk name='%s' snapshot='external' type='file'>"
		                       "<driver type='qcow2'/><source file='%s'/></disk>", t, p);
	}
	g_string_append(x, "</disks></domainsnapshot>");
	virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(
		dom, x->str, VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
		             VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
		             VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
	g_string_free(x, TRUE);
	if (snap == NULL)
		return lv_fail(error, PRL_ERR_VM_REQUEST_NOT_SUPPORTED, "cannot snapshot running VM "
		               "'%s' (disk-only external snapshot)", virDomainGetName(dom));
	virDomainSnapshotFree(snap);
	return TRUE;
}

static gboolean snap_create(lv_conn *lc, virConnectPtr conn, const char *vm_id,
                            const char *name, const char *description, guint flags,
                            GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, vm_id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, vm_id);
	const char *vm = virDomainGetName(dom);
	gboolean ok = FALSE, switched = FALSE;
	g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) disks = NULL;
	g_autoptr(lv_node) root = NULL;
	g_autoptr(lv_meta) m = NULL;
	g_autoptr(pk_vm_data) cfg = pk_vm_data_new();
	virStoragePoolPtr pool = NULL;
	lv_xmlinfo info;
	dom_status ds;

	root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		goto out;
	m = lv_meta_from_domain(root);
	if (lv_meta_find(m, name) != NULL) {
		if (!(flags & PK_SNAP_REPLACE)) {
			lv_set_error(error, PRL_ERR_ENTRY_ALREADY_EXISTS, "VM '%s' already has a "
			             "snapshot '%s'", vm, name);
			goto out;
		}
		if (!delete_snapshot(conn, dom, name, FALSE, error))
			goto out;
		lv_xml_free(g_steal_pointer(&root));
		lv_meta_free(g_steal_pointer(&m));
		root = lv_dom_inactive_xml(dom, error);
		if (root == NULL)
			goto out;
		m = lv_meta_from_domain(root);
	}
	if (!status_of(dom, &ds, error))
		goto out;
	if (ds.saved) {
		lv_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STOPPED, "VM '%s' is suspended (its memory "
		             "is saved with its disks as they are); resume or stop it first", vm);
		goto out;
	}
	disks = layered_disks(root, vm, error);
	if (disks == NULL)
		goto out;

	if (!lv_domxml_read(root, cfg, &info, error))
		goto out;
	lv_snap *s = g_new0(lv_snap, 1);
	s->layers = g_ptr_array_new_with_free_func((GDestroyNotify)lv_layer_free);
	s->name = g_strdup(name);
	s->parent = g_strdup(m->current);
	s->description = g_strdup(description);
	s->created = pk_time_wall_ms() / 1000;
	s->memory_kib = info.memory_kib;
	s->vcpus = info.vcpus;
	g_ptr_array_add(m->snaps, s);
	g_free(m->current);
	m->current = g_strdup(name);

	if (disks->len > 0) {
		pool = lv_pool_for(lc, conn, ((lv_disk *)disks->pdata[0])->path, error);
		if (pool == NULL)
			goto out;
	}
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		char *path = NULL;
		if (!lv_vol_overlay(conn, pool, vm_id, d->path, fmt_of(d),
		                    lv_disk_capacity(dom, d->target), &path, error))
			goto fail;
		g_ptr_array_add(created, path);
		lv_layer *l = g_new0(lv_layer, 1);
		l->disk = g_strdup(d->target);
		l->path = g_strdup(d->path);
		l->format = g_strdup(fmt_of(d));
		g_ptr_array_add(s->layers, l);
	}
	if (ds.active && disks->len > 0) {
		if (!live_switch(dom, root, disks, created, error))
			goto fail;
		switched = TRUE;
	}
	for (guint i = 0; i < disks->len; i++)
		lv_disk_set_source(disks->pdata[i], created->pdata[i], "qcow2");
	lv_meta_apply(root, m);
	if (!lv_dom_define(conn, root, error))
		goto fail;
	if (ds.active) {
		g_autofree char *xml = lv_meta_format(m);
		if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, LV_NS_PREFIX,
		                         LV_NS_URI, VIR_DOMAIN_AFFECT_LIVE) < 0)
			virResetLastError();   /* the persistent definition has it */
	}
	ok = TRUE;
	goto out;
fail:
	if (switched)   /* QEMU writes to the new files now: keep them, say so */
		g_warning("libvirt: VM %s runs on new overlays but its definition could not be "
		          "updated", vm);
	else
		lv_vol_discard(conn, created);
out:
	if (pool != NULL)
		virStoragePoolFree(pool);
	lv_cache_invalidate(lc->ev, vm_id);
	lv_dom_busy_leave(lc, vm_id);
	virDomainFree(dom);
	return ok;
}

static gboolean lv_snap_create(pk_conn *c, const char *vm_id, const char *name,
                               const char *description, guint flags, char **task_ref,
                               GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	if (!check_snap_name(name, error))
		return FALSE;
	if (description != NULL && !g_utf8_validate(description, -1, NULL))
		return lv_set_error(error, PRL_ERR_INVALID_ARG, "the description is not UTF-8");
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = snap_create(lc, call.conn, vm_id, name, description, flags, &call.error);
	return call.ok;
}

/* ----------------------------------------------------------------- revert ---- */

static gboolean snap_revert(lv_conn *lc, virConnectPtr conn, const char *vm_id,
                            const char *name, GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, vm_id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, vm_id);
	const char *vm = virDomainGetName(dom);
	gboolean ok = FALSE;
	g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) old = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) disks = NULL;
	g_autoptr(lv_node) root = NULL;
	g_autoptr(lv_meta) m = NULL;
	virStoragePoolPtr pool = NULL;
	dom_status ds;

	root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		goto out;
	m = lv_meta_from_domain(root);
	lv_snap *s = lv_meta_find(m, name);
	if (s == NULL) {
		lv_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "VM '%s' has no snapshot '%s'", vm,
		             name);
		goto out;
	}
	if (!status_of(dom, &ds, error))
		goto out;
	/* The snapshot holds disks only: what runs now is discarded with the active layers. */
	if (ds.active && virDomainDestroy(dom) < 0 && lv_dom_is_active(dom)) {
		lv_fail(error, PRL_ERR_VM_POWER_OFF_FAILED, "cannot stop VM '%s' to revert it", vm);
		goto out;
	}
	if (ds.saved && virDomainManagedSaveRemove(dom, 0) < 0) {
		lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot discard the saved state of VM '%s'",
		        vm);
		goto out;
	}
	disks = lv_domxml_disks(root, TRUE);
	if (s->layers->len > 0) {
		pool = lv_pool_for(lc, conn, ((lv_layer *)s->layers->pdata[0])->path, error);
		if (pool == NULL)
			goto out;
	}
	for (guint i = 0; i < s->layers->len; i++) {
		lv_layer *l = s->layers->pdata[i];
		lv_disk *d = disk_by_target(disks, l->disk);
		char *path = NULL;
		if (d == NULL) {
			g_info("libvirt: VM %s no longer has disk %s of snapshot '%s'", vm, l->disk, name);
			continue;
		}
		if (!lv_vol_overlay(conn, pool, vm_id, l->path, l->format,
		                    lv_disk_capacity(dom, l->disk), &path, error))
			goto fail;
		g_ptr_array_add(created, path);
		if (d->path != NULL)
			g_ptr_array_add(old, g_strdup(d->path));
		lv_disk_set_source(d, path, "qcow2");
	}
	if (s->memory_kib > 0)
		lv_domxml_set_memory(root, s->memory_kib);
	if (s->vcpus > 0)
		lv_domxml_set_vcpus(root, s->vcpus);
	g_free(m->current);
	m->current = g_strdup(name);
	lv_meta_apply(root, m);
	if (!lv_dom_define(conn, root, error))
		goto fail;
	lv_vol_release(conn, old);
	ok = TRUE;
	goto out;
fail:
	lv_vol_discard(conn, created);
out:
	if (pool != NULL)
		virStoragePoolFree(pool);
	lv_cache_invalidate(lc->ev, vm_id);
	lv_dom_busy_leave(lc, vm_id);
	virDomainFree(dom);
	return ok;
}

static gboolean lv_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                               char **task_ref, GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	if (name == NULL || *name == '\0')
		return lv_set_error(error, PRL_ERR_INVALID_ARG, "empty snapshot name");
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = snap_revert(lc, call.conn, vm_id, name, &call.error);
	return call.ok;
}

/* ------------------------------------------------------------------- list ---- */

static gboolean snap_list(virConnectPtr conn, const char *vm_id, GPtrArray **out,
                          GError **error)
{
	virDomainPtr dom = lv_dom_lookup(conn, vm_id, error);
	if (dom == NULL)
		return FALSE;
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	if (xml == NULL) {
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "configuration of VM '%s'", vm_id);
		virDomainFree(dom);
		return FALSE;
	}
	virDomainFree(dom);
	g_autoptr(lv_node) root = lv_xml_parse(xml, error);
	free(xml);
	if (root == NULL)
		return FALSE;
	g_autoptr(lv_meta) m = lv_meta_from_domain(root);
	GPtrArray *list = g_ptr_array_new_full(m->snaps->len,
	                                       (GDestroyNotify)pk_snapshot_data_free);
	for (guint i = 0; i < m->snaps->len; i++) {
		lv_snap *s = m->snaps->pdata[i];
		pk_snapshot_data *sd = g_new0(pk_snapshot_data, 1);
		sd->name = g_strdup(s->name);
		sd->description = g_strdup(s->description != NULL ? s->description : "");
		sd->parent = g_strdup(s->parent);
		sd->created = s->created;
		sd->current = g_strcmp0(m->current, s->name) == 0;
		g_ptr_array_add(list, sd);
	}
	*out = list;
	return TRUE;
}

static gboolean lv_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out,
                             GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = snap_list(call.conn, vm_id, out, &call.error);
	return call.ok;
}

const pk_snap_ops lv_snap_ops = {
	.list = lv_snap_list,
	.create = lv_snap_create,
	.remove = lv_snap_remove,
	.revert = lv_snap_revert,
};

/* ------------------------------------------------------------------ clone ---- */

static gboolean vm_clone(lv_conn *lc, virConnectPtr conn, const char *id,
                         const char *new_name, const char *snapshot, guint flags,
                         char **new_id, GError **error)
{
	gboolean linked = (flags & PK_CLONE_LINKED) != 0;
	if (!lv_check_new_name(conn, new_name, PRL_ERR_VM_EMPTY_NAME_OF_CLONE, error))
		return FALSE;
	virDomainPtr dom = lv_dom_lookup(conn, id, error);
	if (dom == NULL)
		return FALSE;
	lv_dom_busy_enter(lc, id);
	const char *vm = virDomainGetName(dom);
	gboolean ok = FALSE, defined = FALSE;
	g_autofree char *uuid = g_uuid_string_random();
	g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);   /* clone's */
	g_autoptr(GPtrArray) frozen = g_ptr_array_new_with_free_func(g_free);    /* source's */
	g_autoptr(GPtrArray) disks = NULL;
	g_autoptr(GPtrArray) cdisks = NULL;
	g_autoptr(lv_node) root = NULL;
	g_autoptr(lv_node) croot = NULL;
	g_autoptr(lv_meta) m = NULL;
	virStoragePoolPtr pool = NULL;
	lv_snap *s = NULL;
	dom_status ds;

	root = lv_dom_inactive_xml(dom, error);
	if (root == NULL)
		goto out;
	m = lv_meta_from_domain(root);
	if (snapshot != NULL && (s = lv_meta_find(m, snapshot)) == NULL) {
		lv_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND, "VM '%s' has no snapshot '%s'", vm,
		             snapshot);
		goto out;
	}
	if (!status_of(dom, &ds, error))
		goto out;
	/* A snapshot's layers are frozen; the current disks are only while the VM is off. */
	if (s == NULL && (ds.active || ds.saved)) {
		lv_set_error(error, PRL_ERR_VM_CANT_CLONE_RUNNING, "VM '%s' is %s; stop it or clone "
		             "one of its snapshots", vm, ds.word);
		goto out;
	}
	disks = layered_disks(root, vm, error);
	if (disks == NULL)
		goto out;
	{
		g_autofree char *text = lv_xml_format(root);
		croot = lv_xml_parse(text, error);
		if (croot == NULL)
			goto out;
	}
	cdisks = lv_domxml_disks(croot, TRUE);
	if (disks->len > 0) {
		pool = lv_pool_for(lc, conn, ((lv_disk *)disks->pdata[0])->path, error);
		if (pool == NULL)
			goto out;
	}
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		lv_disk *cd = disk_by_target(cdisks, d->target);
		const char *base = d->path, *base_fmt = fmt_of(d);
		guint64 size = lv_disk_capacity(dom, d->target);
		char *path = NULL;
		if (cd == NULL) {
			lv_set_error(error, PRL_ERR_UNEXPECTED, "disk %s vanished from the copy", d->target);
			goto fail;
		}
		if (s != NULL) {
			lv_layer *l = layer_of(s, d->target);
			if (l == NULL) {   /* added after the snapshot: not part of its state */
				lv_xml_remove(cd->node);
				continue;
			}
			base = l->path;
			base_fmt = l->format;
		} else if (linked) {
			/* The source's current files become a frozen layer under a new overlay, so
			 * that the source cannot change what the clone sits on. */
			if (!lv_vol_overlay(conn, pool, id, d->path, fmt_of(d), size, &path, error))
				goto fail;
			g_ptr_array_add(frozen, path);
			path = NULL;
		}
		if (linked ? !lv_vol_overlay(conn, pool, uuid, base, base_fmt, size, &path, error)
		           : !lv_vol_copy(conn, pool, uuid, base, &path, error))
			goto fail;
		g_ptr_array_add(created, path);
		lv_disk_set_source(cd, path, "qcow2");
	}
	lv_domxml_prepare_clone(croot, new_name, uuid, lc->s.network);
	if (s != NULL && s->memory_kib > 0)
		lv_domxml_set_memory(croot, s->memory_kib);
	if (s != NULL && s->vcpus > 0)
		lv_domxml_set_vcpus(croot, s->vcpus);
	{
		g_autoptr(lv_meta) cm = lv_meta_new();
		cm->is_template = (flags & PK_CLONE_TO_TEMPLATE) != 0;
		cm->origin_vm = g_strdup(id);
		cm->origin_snapshot = g_strdup(snapshot);
		cm->origin_linked = linked;
		lv_meta_apply(croot, cm);
	}
	if (!lv_dom_define(conn, croot, error))
		goto fail;
	defined = TRUE;
	if (frozen->len > 0) {
		guint k = 0;
		for (guint i = 0; i < disks->len; i++)
			lv_disk_set_source(disks->pdata[i], frozen->pdata[k++], "qcow2");
		if (!lv_dom_define(conn, root, error))
			goto fail;
	}
	*new_id = g_steal_pointer(&uuid);
	ok = TRUE;
	goto out;
fail:
	if (defined) {
		virDomainPtr cl = virDomainLookupByUUIDString(conn, uuid);
		if (cl == NULL || virDomainUndefineFlags(cl, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) < 0)
			virResetLastError();
		if (cl != NULL)
			virDomainFree(cl);
	}
	lv_vol_discard(conn, created);
	lv_vol_discard(conn, frozen);
out:
	if (pool != NULL)
		virStoragePoolFree(pool);
	lv_cache_invalidate(lc->ev, id);
	lv_dom_busy_leave(lc, id);
	virDomainFree(dom);
	return ok;
}

gboolean lv_vm_clone(pk_conn *c, const char *id, const char *new_name, const char *snapshot,
                     guint flags, char **new_id, char **task_ref, GCancellable *cancel,
                     GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	if (snapshot != NULL && *snapshot == '\0')
		snapshot = NULL;
	lv_call call = { LV_WRITE };
	while (lv_call_next(lc, &call, error))
		call.ok = vm_clone(lc, call.conn, id, new_name, snapshot, flags, new_id, &call.error);
	return call.ok;
}

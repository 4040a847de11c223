/* Storage for the libvirt driver: the qcow2 volumes behind snapshots and clones, made and
 * removed through libvirt's storage pool API only (so it works the same over qemu+ssh://).
 *
 * Naming is the bookkeeping: every volume the driver creates is called
 * "prlkit-<owner domain UUID>-<random>.qcow2". A volume of ours is deleted when nothing
 * needs it any more: no other volume of ours has it as its backing file, and its owner
 * (if the owner still exists) neither uses it as a disk nor keeps it as a snapshot layer.
 * Disks the driver did not create are never deleted. */
#include "config.h"

#include <string.h>
#include "libvirt-private.h"
#include "util-log.h"

char *lv_vol_name(const char *owner_uuid)
{
	return g_strdup_printf(LV_VOL_PREFIX "%s-%08x.qcow2", owner_uuid, g_random_int());
}

/* The owner UUID in one of our volume names, or FALSE when the name is not ours. */
static gboolean owner_of(const char *name, char uuid[VIR_UUID_STRING_BUFLEN])
{
	gsize pre = strlen(LV_VOL_PREFIX);
	if (name == NULL || strncmp(name, LV_VOL_PREFIX, pre) != 0 ||
	    strlen(name) < pre + VIR_UUID_STRING_BUFLEN || name[pre + VIR_UUID_STRING_BUFLEN - 1] != '-')
		return FALSE;
	memcpy(uuid, name + pre, VIR_UUID_STRING_BUFLEN - 1);
	uuid[VIR_UUID_STRING_BUFLEN - 1] = '\0';
	return g_uuid_string_is_valid(uuid);
}

static virStoragePoolPtr pool_active(virStoragePoolPtr p, GError **error)
{
	if (virStoragePoolIsActive(p) != 1) {
		lv_set_error(error, PRL_ERR_OPERATION_FAILED, "storage pool '%s' is not active",
		             virStoragePoolGetName(p));
		virStoragePoolFree(p);
		return NULL;
	}
	return p;
}

virStoragePoolPtr lv_pool_for(lv_conn *lc, virConnectPtr conn, const char *near,
                              GError **error)
{
	virStoragePoolPtr p = NULL;
	if (lc->s.pool != NULL) {
		p = virStoragePoolLookupByName(conn, lc->s.pool);
		if (p == NULL) {
			lv_fail(error, PRL_ERR_OPERATION_FAILED, "storage pool '%s'", lc->s.pool);
			return NULL;
		}
		return pool_active(p, error);
	}
	if (near != NULL) {
		virStorageVolPtr v = virStorageVolLookupByPath(conn, near);
		if (v != NULL) {
			p = virStoragePoolLookupByVolume(v);
			virStorageVolFree(v);
		}
		if (p == NULL)
			virResetLastError();
		else
			return pool_active(p, error);
	}
	p = virStoragePoolLookupByName(conn, "default");
	if (p == NULL) {
		virResetLastError();
		lv_set_error(error, PRL_ERR_OPERATION_FAILED, "no storage pool for new disks: set "
		             "'storage_pool', or keep the VM's disks in a storage pool");
		return NULL;
	}
	return pool_active(p, error);
}

static guint64 vol_capacity(virConnectPtr conn, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(conn, path);
	virStorageVolInfo vi;
	guint64 cap = 0;
	if (v != NULL && virStorageVolGetInfo(v, &vi) == 0)
		cap = vi.capacity;
	else
		virResetLastError();
	if (v != NULL)
		virStorageVolFree(v);
	return cap;
}

static char *vol_path(virStorageVolPtr v)
{
	char *p = virStorageVolGetPath(v);
	char *out = g_strdup(p);
	free(p);
	return out;
}

guint64 lv_disk_capacity(virDomainPtr dom, const char *target)
{
	virDomainBlockInfo bi;
	if (target == NULL || virDomainGetBlockInfo(dom, target, &bi, 0) < 0) {
		virResetLastError();
		return 0;
	}
	return bi.capacity;
}

gboolean lv_vol_overlay(virConnectPtr conn, virStoragePoolPtr pool, const char *owner_uuid,
                        const char *backing, const char *backing_format, guint64 size_hint,
                        char **path, GError **error)
{
	g_autofree char *name = lv_vol_name(owner_uuid);
	g_autofree char *bpath = g_markup_escape_text(backing, -1);
	g_autofree char *bfmt = g_markup_escape_text(backing_format ? backing_format : "raw", -1);
	guint64 cap = vol_capacity(conn, backing);
	if (cap == 0)
		cap = size_hint;
	GString *xml = g_string_new("<volume>");
	g_string_append_printf(xml, "<name>%s</name>", name);
	/* Without a capacity libvirt takes the backing file's size. */
	if (cap > 0)
		g_string_append_printf(xml, "<capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>",
		                       cap);
	g_string_append_printf(xml, "<target><format type='qcow2'/></target>"
	                       "<backingStore><path>%s</path><format type='%s'/></backingStore>"
	                       "</volume>", bpath, bfmt);
	virStorageVolPtr v = virStorageVolCreateXML(pool, xml->str, 0);
	g_string_free(xml, TRUE);
	if (v == NULL)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot create a qcow2 overlay on "
		               "'%s'", backing);
	*path = vol_path(v);
	PK_DEBUG("libvirt: new overlay %s on %s", *path, backing);
	virStorageVolFree(v);
	return TRUE;
}

static void refresh_pools(virConnectPtr conn)
{
	virStoragePoolPtr *pools = NULL;
	int n = virConnectListAllStoragePools(conn, &pools,
	                                      VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
	for (int i = 0; i < n; i++) {
		if (virStoragePoolRefresh(pools[i], 0) < 0)
			virResetLastError();
		virStoragePoolFree(pools[i]);
	}
	if (n < 0)
		virResetLastError();
	free(pools);
}

gboolean lv_vol_copy(virConnectPtr conn, virStoragePoolPtr pool, const char *owner_uuid,
                     const char *source, char **path, GError **error)
{
	virStorageVolPtr src = virStorageVolLookupByPath(conn, source);
	if (src == NULL) {
		/* A file put there behind libvirt's back shows up after a refresh. */
		virResetLastError();
		refresh_pools(conn);
		src = virStorageVolLookupByPath(conn, source);
	}
	if (src == NULL)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "full copies need the disk '%s' to "
		               "be a volume of a storage pool", source);
	virStorageVolInfo vi;
	if (virStorageVolGetInfo(src, &vi) < 0) {
		virStorageVolFree(src);
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "size of '%s'", source);
	}
	g_autofree char *name = lv_vol_name(owner_uuid);
	g_autofree char *xml = g_strdup_printf("<volume><name>%s</name>"
	                                       "<capacity unit='bytes'>%llu</capacity>"
	                                       "<target><format type='qcow2'/></target></volume>",
	                                       name, vi.capacity);
	/* libvirt copies with qemu-img convert: the whole backing chain, flattened. */
	virStorageVolPtr v = virStorageVolCreateXMLFrom(pool, xml, src, 0);
	virStorageVolFree(src);
	if (v == NULL)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "cannot copy '%s'", source);
	*path = vol_path(v);
	PK_DEBUG("libvirt: full copy %s of %s", *path, source);
	virStorageVolFree(v);
	return TRUE;
}

static gboolean vol_delete(virConnectPtr conn, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(conn, path);
	if (v == NULL) {
		virResetLastError();
		return FALSE;
	}
	gboolean ok = virStorageVolDelete(v, 0) == 0;
	if (!ok) {
		virErrorPtr e = virGetLastError();
		g_warning("libvirt: cannot delete volume %s: %s", path,
		          e != NULL && e->message ? e->message : "unknown error");
		virResetLastError();
	} else {
		PK_DEBUG("libvirt: deleted volume %s", path);
	}
	virStorageVolFree(v);
	return ok;
}

void lv_vol_discard(virConnectPtr conn, GPtrArray *paths)
{
	/* Newest first: an overlay goes before what it sits on. */
	for (guint i = paths != NULL ? paths->len : 0; i > 0; i--)
		vol_delete(conn, paths->pdata[i - 1]);
}

/* Calls fn for every volume of ours in every active pool. */
typedef void (*vol_fn)(virStorageVolPtr v, const char *name, const char *owner, gpointer data);

static void for_each_ours(virConnectPtr conn, vol_fn fn, gpointer data)
{
	virStoragePoolPtr *pools = NULL;
	int n = virConnectListAllStoragePools(conn, &pools,
	                                      VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
	if (n < 0)
		virResetLastError();
	for (int i = 0; i < n; i++) {
		virStorageVolPtr *vols = NULL;
		int k = virStoragePoolListAllVolumes(pools[i], &vols, 0);
		if (k < 0)
			virResetLastError();
		for (int j = 0; j < k; j++) {
			char owner[VIR_UUID_STRING_BUFLEN];
			const char *name = virStorageVolGetName(vols[j]);
			if (owner_of(name, owner))
				fn(vols[j], name, owner, data);
			virStorageVolFree(vols[j]);
		}
		free(vols);
		virStoragePoolFree(pools[i]);
	}
	free(pools);
}

typedef struct {
	const char *owner;
	GPtrArray *out;
} owned_req;

static void collect_owned(virStorageVolPtr v, const char *name, const char *owner,
                          gpointer data)
{
	owned_req *r = data;
	if (strcmp(owner, r->owner) == 0)
		g_ptr_array_add(r->out, vol_path(v));
}

GPtrArray *lv_vol_owned_by(virConnectPtr conn, const char *owner_uuid)
{
	owned_req r = { owner_uuid, g_ptr_array_new_with_free_func(g_free) };
	for_each_ours(conn, collect_owned, &r);
	return r.out;
}

/* ------------------------------------------------------- garbage collector ---- */

typedef struct {
	char *owner;
	char *backing;                /* NULL for a base */
} vol_rec;

static void vol_rec_free(vol_rec *r)
{
	g_free(r->owner);
	g_free(r->backing);
	g_free(r);
}

static void collect_rec(virStorageVolPtr v, const char *name, const char *owner, gpointer data)
{
	GHashTable *ours = data;
	char *xml = virStorageVolGetXMLDesc(v, 0);
	if (xml == NULL) {
		virResetLastError();
		return;
	}
	g_autoptr(lv_node) root = lv_xml_parse(xml, NULL);
	free(xml);
	vol_rec *r = g_new0(vol_rec, 1);
	r->owner = g_strdup(owner);
	lv_node *b = lv_xml_path(root, "backingStore/path");
	if (b != NULL) {
		r->backing = lv_xml_text(b);
		g_strstrip(r->backing);
	}
	g_hash_table_replace(ours, vol_path(v), r);
}

/* Paths the owner still uses: its disks (persistent and live) and its snapshot layers.
 * NULL when the owner no longer exists; a set holding "*" when it cannot be read (then
 * nothing of it is deleted). */
static GHashTable *owner_refs(virConnectPtr conn, const char *owner)
{
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	virDomainPtr dom = virDomainLookupByUUIDString(conn, owner);
	if (dom == NULL) {
		gboolean gone = lv_last_error_code() == VIR_ERR_NO_DOMAIN;
		virResetLastError();
		if (gone) {
			g_hash_table_unref(set);
			return NULL;
		}
		g_hash_table_add(set, g_strdup("*"));
		return set;
	}
	const unsigned int flags[] = { VIR_DOMAIN_XML_INACTIVE, 0 };
	for (gsize f = 0; f < G_N_ELEMENTS(flags); f++) {
		char *xml = virDomainGetXMLDesc(dom, flags[f]);
		if (xml == NULL) {
			virResetLastError();
			g_hash_table_add(set, g_strdup("*"));
			break;
		}
		g_autoptr(lv_node) root = lv_xml_parse(xml, NULL);
		free(xml);
		if (root == NULL) {
			g_hash_table_add(set, g_strdup("*"));
			break;
		}
		g_autoptr(GPtrArray) disks = lv_domxml_disks(root, FALSE);
		for (guint i = 0; i < disks->len; i++) {
			lv_disk *d = disks->pdata[i];
			if (d->path != NULL)
				g_hash_table_add(set, g_strdup(d->path));
		}
		g_autoptr(lv_meta) m = lv_meta_from_domain(root);
		for (guint i = 0; i < m->snaps->len; i++) {
			lv_snap *s = m->snaps->pdata[i];
			for (guint j = 0; j < s->layers->len; j++)
				g_hash_table_add(set, g_strdup(((lv_layer *)s->layers->pdata[j])->path));
		}
	}
	virDomainFree(dom);
	return set;
}

static void refs_free(gpointer p)
{
	if (p != NULL)
		g_hash_table_unref(p);
}

void lv_vol_release(virConnectPtr conn, GPtrArray *paths)
{
	if (paths == NULL || paths->len == 0)
		return;
	g_autoptr(GHashTable) ours = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                                   (GDestroyNotify)vol_rec_free);
	for_each_ours(conn, collect_rec, ours);
	/* path → how many of our volumes sit on it */
	g_autoptr(GHashTable) users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, ours);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		vol_rec *r = v;
		if (r->backing != NULL) {
			guint n = GPOINTER_TO_UINT(g_hash_table_lookup(users, r->backing));
			g_hash_table_insert(users, g_strdup(r->backing), GUINT_TO_POINTER(n + 1));
		}
	}
	/* owner UUID → owner_refs (NULL value: the owner is gone) */
	g_autoptr(GHashTable) owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                                     refs_free);
	GQueue work = G_QUEUE_INIT;
	for (guint i = 0; i < paths->len; i++)
		g_queue_push_tail(&work, g_strdup(paths->pdata[i]));
	char *p;
	while ((p = g_queue_pop_head(&work)) != NULL) {
		vol_rec *r = g_hash_table_lookup(ours, p);
		GHashTable *refs = NULL;
		if (r == NULL || GPOINTER_TO_UINT(g_hash_table_lookup(users, p)) > 0)
			goto next;
		if (!g_hash_table_lookup_extended(owners, r->owner, NULL, (gpointer *)&refs)) {
			refs = owner_refs(conn, r->owner);
			g_hash_table_insert(owners, g_strdup(r->owner), refs);
		}
		if (refs != NULL && (g_hash_table_contains(refs, p) || g_hash_table_contains(refs, "*")))
			goto next;
		if (!vol_delete(conn, p))
			goto next;
		if (r->backing != NULL) {
			guint n = GPOINTER_TO_UINT(g_hash_table_lookup(users, r->backing));
			g_hash_table_insert(users, g_strdup(r->backing), GUINT_TO_POINTER(n > 0 ? n - 1 : 0));
			g_queue_push_tail(&work, g_strdup(r->backing));
		}
		g_hash_table_remove(ours, p);
next:
		g_free(p);
	}
}

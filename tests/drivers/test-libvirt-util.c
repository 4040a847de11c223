/* Helpers for the libvirt driver tests (see test-libvirt-util.h). */
#include "config.h"

#include <string.h>

#include "test-libvirt-util.h"
#include "core-conn.h"
#include "util-settings.h"

extern const pk_driver libvirt_driver;

char *tl_node_uri(void)
{
	const char *top = g_getenv("top_srcdir");
	g_autofree char *file = g_build_filename(top != NULL && *top ? top : PK_TOP_SRCDIR,
	                                         "tests", "drivers", "libvirt-node.xml", NULL);
	g_autofree char *abs = g_canonicalize_filename(file, NULL);
	g_assert_true(g_file_test(abs, G_FILE_TEST_IS_REGULAR));
	return g_strdup_printf("test://%s", abs);
}

pk_conn *tl_open_full(const char *uri_text, const char *settings_json, pk_open_status *status,
                      GError **error)
{
	g_autoptr(GHashTable) settings = pk_settings_new();
	g_autoptr(GUri) uri = NULL;
	*status = PK_OPEN_ERROR;
	if (uri_text != NULL) {
		uri = g_uri_parse(uri_text, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY |
		                  G_URI_FLAGS_NON_DNS, error);
		if (uri == NULL)
			return NULL;
		if (g_uri_get_query(uri) != NULL &&
		    !pk_settings_merge_uri_query(settings, g_uri_get_query(uri), error))
			return NULL;
	}
	if (!pk_settings_merge_json(settings, settings_json, error))
		return NULL;
	pk_conn *c = pk_conn_new(&libvirt_driver, uri, settings);
	*status = libvirt_driver.open(c, uri, settings, NULL, error);
	if (*status != PK_OPEN_OK) {
		pk_conn_unref(c);
		return NULL;
	}
	return c;
}

pk_conn *tl_open(const char *uri, const char *settings_json)
{
	g_autoptr(GError) error = NULL;
	pk_open_status st;
	pk_conn *c = tl_open_full(uri, settings_json, &st, &error);
	g_assert_no_error(error);
	g_assert_cmpint(st, ==, PK_OPEN_OK);
	return c;
}

pk_conn *tl_open_node(void)
{
	g_autofree char *uri = tl_node_uri();
	return tl_open(uri, "{\"storage_pool\":\"" TL_POOL "\"}");
}

void tl_close(pk_conn *c)
{
	if (c == NULL)
		return;
	libvirt_driver.close(c);
	pk_conn_unref(c);
}

virConnectPtr tl_raw(pk_conn *c)
{
	return lv_conn_of(c)->conn;
}

pk_vm_data *tl_get(pk_conn *c, const char *id)
{
	g_autoptr(GError) error = NULL;
	pk_vm_data *d = NULL;
	g_assert_true(libvirt_driver.vm->get(c, id, 0, &d, NULL, &error));
	g_assert_no_error(error);
	g_assert_nonnull(d);
	return d;
}

char *tl_id_by_name(pk_conn *c, const char *name)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *list = NULL;
	g_assert_true(libvirt_driver.vm->list(c, PK_GET_NO_GUEST_INFO, &list, NULL, &error));
	g_assert_no_error(error);
	char *id = NULL;
	for (guint i = 0; i < list->len && id == NULL; i++) {
		pk_vm_data *d = list->pdata[i];
		if (g_strcmp0(d->name, name) == 0)
			id = g_strdup(d->id);
	}
	g_ptr_array_unref(list);
	return id;
}

char *tl_disk_path(pk_conn *c, const char *id, const char *target)
{
	virDomainPtr dom = virDomainLookupByUUIDString(tl_raw(c), id);
	g_assert_nonnull(dom);
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	virDomainFree(dom);
	g_assert_nonnull(xml);
	g_autoptr(lv_node) root = lv_xml_parse(xml, NULL);
	free(xml);
	g_assert_nonnull(root);
	g_autoptr(GPtrArray) disks = lv_domxml_disks(root, FALSE);
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *d = disks->pdata[i];
		if (g_strcmp0(d->target, target) == 0)
			return g_strdup(d->path);
	}
	return NULL;
}

gboolean tl_vol_exists(pk_conn *c, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(tl_raw(c), path);
	if (v == NULL) {
		virResetLastError();
		return FALSE;
	}
	virStorageVolFree(v);
	return TRUE;
}

char *tl_backing_of(pk_conn *c, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(tl_raw(c), path);
	g_assert_nonnull(v);
	char *xml = virStorageVolGetXMLDesc(v, 0);
	virStorageVolFree(v);
	g_autoptr(lv_node) root = lv_xml_parse(xml, NULL);
	free(xml);
	lv_node *b = lv_xml_path(root, "backingStore/path");
	return b != NULL ? g_strstrip(lv_xml_text(b)) : NULL;
}

guint tl_count_ours(pk_conn *c)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(tl_raw(c), TL_POOL);
	g_assert_nonnull(p);
	virStorageVolPtr *vols = NULL;
	int n = virStoragePoolListAllVolumes(p, &vols, 0);
	g_assert_cmpint(n, >=, 0);
	guint ours = 0;
	for (int i = 0; i < n; i++) {
		if (g_str_has_prefix(virStorageVolGetName(vols[i]), LV_VOL_PREFIX))
			ours++;
		virStorageVolFree(vols[i]);
	}
	free(vols);
	virStoragePoolFree(p);
	return ours;
}

void tl_assert_error_at(const char *file, int line, gboolean ok, GError **error,
                        PRL_RESULT code)
{
	if (ok || *error == NULL)
		g_error("%s:%d: expected %s, got success", file, line, pk_result_name(code));
	if ((*error)->code != code)
		g_error("%s:%d: expected %s, got %s: %s", file, line, pk_result_name(code),
		        pk_result_name((*error)->code), (*error)->message);
	g_assert_true(g_str_has_prefix((*error)->message, "libvirt: "));
	g_clear_error(error);
}

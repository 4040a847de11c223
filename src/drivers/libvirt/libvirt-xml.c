/* Domain XML for the libvirt driver: a small element tree built with GMarkup (enough to
 * read a domain, edit a few elements and write everything else back untouched), the
 * mapping of a domain's XML onto pk_vm_data, and prlkit's own element in <metadata>.
 *
 * Why not libxml2: libvirt's XML is plain (no DTD, no entities beyond the predefined
 * ones), and GMarkup, already a dependency, parses it; the tree keeps text and comments
 * so a redefined domain differs only where the driver meant to change it. */
#include "config.h"

#include <string.h>
#include "libvirt-private.h"

/* ------------------------------------------------------------------ tree ---- */

struct lv_node {
	char *name;                   /* element name; NULL for text and verbatim nodes */
	char *text;                   /* decoded text, or verbatim markup (comments) */
	gboolean verbatim;
	GPtrArray *attrs;             /* elements: char* name, value, name, value, ... */
	GPtrArray *children;          /* elements: lv_node* */
	lv_node *parent;
};

static lv_node *node_new_element(const char *name)
{
	lv_node *n = g_new0(lv_node, 1);
	n->name = g_strdup(name);
	n->attrs = g_ptr_array_new_with_free_func(g_free);
	n->children = g_ptr_array_new_with_free_func((GDestroyNotify)lv_xml_free);
	return n;
}

static lv_node *node_new_text(const char *text, gsize len, gboolean verbatim)
{
	lv_node *n = g_new0(lv_node, 1);
	n->text = g_strndup(text, len);
	n->verbatim = verbatim;
	return n;
}

void lv_xml_free(lv_node *n)
{
	if (n == NULL)
		return;
	g_free(n->name);
	g_free(n->text);
	if (n->attrs != NULL)
		g_ptr_array_unref(n->attrs);
	if (n->children != NULL)
		g_ptr_array_unref(n->children);
	g_free(n);
}

static void node_append(lv_node *parent, lv_node *child)
{
	child->parent = parent;
	g_ptr_array_add(parent->children, child);
}

typedef struct {
	lv_node *root;
	lv_node *cur;
} parse_state;

static void on_start(GMarkupParseContext *ctx, const char *name, const char **names,
                     const char **values, gpointer data, GError **error)
{
	parse_state *ps = data;
	if (ps->cur == NULL && ps->root != NULL) {
		g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
		            "more than one top-level element");
		return;
	}
	lv_node *n = node_new_element(name);
	for (guint i = 0; names[i] != NULL; i++) {
		if (lv_xml_attr(n, names[i]) != NULL) {   /* not well-formed XML */
			g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
			            "attribute '%s' given twice", names[i]);
			lv_xml_free(n);
			return;
		}
		g_ptr_array_add(n->attrs, g_strdup(names[i]));
		g_ptr_array_add(n->attrs, g_strdup(values[i]));
	}
	if (ps->cur == NULL)
		ps->root = n;
	else
		node_append(ps->cur, n);
	ps->cur = n;
}

static void on_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
	parse_state *ps = data;
	ps->cur = ps->cur != NULL ? ps->cur->parent : NULL;
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                    GError **error)
{
	parse_state *ps = data;
	if (ps->cur == NULL || len == 0)
		return;   /* white space around the top element */
	guint n = ps->cur->children->len;
	lv_node *last = n > 0 ? g_ptr_array_index(ps->cur->children, n - 1) : NULL;
	if (last != NULL && last->name == NULL && !last->verbatim) {
		char *joined = g_strdup_printf("%s%.*s", last->text, (int)len, text);
		g_free(last->text);
		last->text = joined;
		return;
	}
	node_append(ps->cur, node_new_text(text, len, FALSE));
}

static void on_passthrough(GMarkupParseContext *ctx, const char *text, gsize len,
                           gpointer data, GError **error)
{
	parse_state *ps = data;
	if (ps->cur != NULL)   /* comments inside the document; the <?xml?> line is dropped */
		node_append(ps->cur, node_new_text(text, len, TRUE));
}

lv_node *lv_xml_parse(const char *text, GError **error)
{
	static const GMarkupParser parser = { on_start, on_end, on_text, on_passthrough, NULL };
	parse_state ps = { NULL, NULL };
	if (text == NULL) {
		g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION,
		                    "libvirt: no XML");
		return NULL;
	}
	GMarkupParseContext *ctx = g_markup_parse_context_new(
		&parser, G_MARKUP_TREAT_CDATA_AS_TEXT | G_MARKUP_PREFIX_ERROR_POSITION, &ps, NULL);
	GError *local = NULL;
	gboolean ok = g_markup_parse_context_parse(ctx, text, -1, &local) &&
	              g_markup_parse_context_end_parse(ctx, &local);
	g_markup_parse_context_free(ctx);
	if (ok && ps.root == NULL)
		g_set_error_literal(&local, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "no element");
	if (!ok || ps.root == NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION,
		            "libvirt: cannot parse XML: %s", local->message);
		g_error_free(local);
		lv_xml_free(ps.root);
		return NULL;
	}
	return ps.root;
}

static void format_node(GString *out, const lv_node *n)
{
	if (n->name == NULL) {
		if (n->verbatim) {
			g_string_append(out, n->text);
		} else {
			char *esc = g_markup_escape_text(n->text, -1);
			g_string_append(out, esc);
			g_free(esc);
		}
		return;
	}
	g_string_append_c(out, '<');
	g_string_append(out, n->name);
	for (guint i = 0; i + 1 < n->attrs->len; i += 2) {
		char *esc = g_markup_escape_text(g_ptr_array_index(n->attrs, i + 1), -1);
		g_string_append_printf(out, " %s=\"%s\"", (const char *)g_ptr_array_index(n->attrs, i),
		                       esc);
		g_free(esc);
	}
	if (n->children->len == 0) {
		g_string_append(out, "/>");
		return;
	}
	g_string_append_c(out, '>');
	for (guint i = 0; i < n->children->len; i++)
		format_node(out, g_ptr_array_index(n->children, i));
	g_string_append_printf(out, "</%s>", n->name);
}

char *lv_xml_format(const lv_node *n)
{
	GString *out = g_string_sized_new(4096);
	if (n != NULL)
		format_node(out, n);
	return g_string_free(out, FALSE);
}

const char *lv_xml_name(const lv_node *n)
{
	return n != NULL ? n->name : NULL;
}

const char *lv_xml_local(const lv_node *n)
{
	if (n == NULL || n->name == NULL)
		return NULL;
	const char *colon = strchr(n->name, ':');
	return colon != NULL ? colon + 1 : n->name;
}

lv_node *lv_xml_child(const lv_node *n, const char *name)
{
	if (n == NULL || n->name == NULL)
		return NULL;
	for (guint i = 0; i < n->children->len; i++) {
		lv_node *k = g_ptr_array_index(n->children, i);
		if (k->name != NULL && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

lv_node *lv_xml_path(const lv_node *n, const char *path)
{
	char **parts = g_strsplit(path, "/", -1);
	lv_node *cur = (lv_node *)n;
	for (guint i = 0; parts[i] != NULL && cur != NULL; i++)
		cur = lv_xml_child(cur, parts[i]);
	g_strfreev(parts);
	return cur;
}

GPtrArray *lv_xml_children(const lv_node *n, const char *name)
{
	GPtrArray *out = g_ptr_array_new();
	if (n == NULL || n->name == NULL)
		return out;
	for (guint i = 0; i < n->children->len; i++) {
		lv_node *k = g_ptr_array_index(n->children, i);
		if (k->name != NULL && (name == NULL || strcmp(k->name, name) == 0))
			g_ptr_array_add(out, k);
	}
	return out;
}

const char *lv_xml_attr(const lv_node *n, const char *name)
{
	if (n == NULL || n->attrs == NULL)
		return NULL;
	for (guint i = 0; i + 1 < n->attrs->len; i += 2)
		if (strcmp(g_ptr_array_index(n->attrs, i), name) == 0)
			return g_ptr_array_index(n->attrs, i + 1);
	return NULL;
}

void lv_xml_set_attr(lv_node *n, const char *name, const char *value)
{
	if (n == NULL || n->attrs == NULL)
		return;
	for (guint i = 0; i + 1 < n->attrs->len; i += 2) {
		if (strcmp(g_ptr_array_index(n->attrs, i), name) != 0)
			continue;
		if (value == NULL) {
			g_ptr_array_remove_range(n->attrs, i, 2);
		} else {
			g_free(n->attrs->pdata[i + 1]);
			n->attrs->pdata[i + 1] = g_strdup(value);
		}
		return;
	}
	if (value != NULL) {
		g_ptr_array_add(n->attrs, g_strdup(name));
		g_ptr_array_add(n->attrs, g_strdup(value));
	}
}

char *lv_xml_text(const lv_node *n)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; n != NULL && n->children != NULL && i < n->children->len; i++) {
		lv_node *k = g_ptr_array_index(n->children, i);
		if (k->name == NULL && !k->verbatim)
			g_string_append(out, k->text);
	}
	return g_string_free(out, FALSE);
}

void lv_xml_set_text(lv_node *n, const char *text)
{
	if (n == NULL || n->children == NULL)
		return;
	g_ptr_array_set_size(n->children, 0);
	if (text != NULL && *text != '\0')
		node_append(n, node_new_text(text, strlen(text), FALSE));
}

lv_node *lv_xml_add(lv_node *parent, const char *name)
{
	lv_node *n = node_new_element(name);
	node_append(parent, n);
	return n;
}

void lv_xml_remove(lv_node *n)
{
	if (n == NULL)
		return;
	if (n->parent == NULL) {
		lv_xml_free(n);
		return;
	}
	g_ptr_array_remove(n->parent->children, n);   /* frees it */
}

/* The child named name, created (appended) when missing. */
static lv_node *child_or_add(lv_node *n, const char *name)
{
	lv_node *k = lv_xml_child(n, name);
	return k != NULL ? k : lv_xml_add(n, name);
}

static char *child_text(const lv_node *n, const char *name)
{
	lv_node *k = lv_xml_child(n, name);
	if (k == NULL)
		return NULL;
	char *t = lv_xml_text(k);
	return g_strstrip(t);
}

/* ------------------------------------------------------------ domain XML ---- */

void lv_disk_free(lv_disk *d)
{
	if (d == NULL)
		return;
	g_free(d->target);
	g_free(d->device);
	g_free(d->type);
	g_free(d->path);
	g_free(d->format);
	g_free(d);
}

GPtrArray *lv_domxml_disks(lv_node *root, gboolean writable_only)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)lv_disk_free);
	g_autoptr(GPtrArray) disks = lv_xml_children(lv_xml_child(root, "devices"), "disk");
	for (guint i = 0; i < disks->len; i++) {
		lv_node *n = disks->pdata[i];
		lv_node *src = lv_xml_child(n, "source");
		lv_disk *d = g_new0(lv_disk, 1);
		d->node = n;
		d->device = g_strdup(lv_xml_attr(n, "device") ? lv_xml_attr(n, "device") : "disk");
		d->type = g_strdup(lv_xml_attr(n, "type") ? lv_xml_attr(n, "type") : "file");
		d->target = g_strdup(lv_xml_attr(lv_xml_child(n, "target"), "dev"));
		d->format = g_strdup(lv_xml_attr(lv_xml_child(n, "driver"), "type"));
		d->readonly = lv_xml_child(n, "readonly") != NULL;
		d->shareable = lv_xml_child(n, "shareable") != NULL;
		if (strcmp(d->type, "file") == 0)
			d->path = g_strdup(lv_xml_attr(src, "file"));
		else if (strcmp(d->type, "block") == 0)
			d->path = g_strdup(lv_xml_attr(src, "dev"));
		gboolean writable = (strcmp(d->device, "disk") == 0 || strcmp(d->device, "lun") == 0)
		                    && !d->readonly && !d->shareable;
		if (writable_only && !writable) {
			lv_disk_free(d);
			continue;
		}
		g_ptr_array_add(out, d);
	}
	return out;
}

void lv_disk_set_source(lv_disk *d, const char *path, const char *format)
{
	lv_node *n = d->node;
	lv_xml_set_attr(n, "type", "file");
	/* A new source in place of the old one (whose attributes named a device, a volume or
	 * a network image). */
	lv_node *src = child_or_add(n, "source");
	g_ptr_array_set_size(src->attrs, 0);
	g_ptr_array_set_size(src->children, 0);
	lv_xml_set_attr(src, "file", path);
	lv_node *drv = lv_xml_child(n, "driver");
	if (drv == NULL) {
		drv = lv_xml_add(n, "driver");
		lv_xml_set_attr(drv, "name", "qemu");
	}
	lv_xml_set_attr(drv, "type", format);
	for (lv_node *b; (b = lv_xml_child(n, "backingStore")) != NULL;)
		lv_xml_remove(b);
	g_free(d->path);
	d->path = g_strdup(path);
	g_free(d->format);
	d->format = g_strdup(format);
	g_free(d->type);
	d->type = g_strdup("file");
}

/* A size element in KiB (libvirt writes unit='KiB'; other units are converted). */
static guint64 size_kib(const lv_node *n)
{
	if (n == NULL)
		return 0;
	g_autofree char *t = lv_xml_text(n);
	guint64 v = g_ascii_strtoull(g_strstrip(t), NULL, 10);
	const char *u = lv_xml_attr(n, "unit");
	if (u == NULL || g_ascii_strcasecmp(u, "KiB") == 0 || g_ascii_strcasecmp(u, "k") == 0)
		return v;
	static const struct { const char *unit; double factor; } units[] = {
		{ "b", 1.0 / 1024 }, { "bytes", 1.0 / 1024 }, { "KB", 1000.0 / 1024 },
		{ "M", 1024 }, { "MiB", 1024 }, { "MB", 1e6 / 1024 },
		{ "G", 1024.0 * 1024 }, { "GiB", 1024.0 * 1024 }, { "GB", 1e9 / 1024 },
		{ "T", 1024.0 * 1024 * 1024 }, { "TiB", 1024.0 * 1024 * 1024 }, { "TB", 1e12 / 1024 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(units); i++)
		if (strcmp(u, units[i].unit) == 0)
			return (guint64)(v * units[i].factor);
	return v;
}

/* libosinfo's OS id ("http://microsoft.com/win/11") → platform word and PVS_* values. */
static void read_os(const lv_node *root, pk_vm_data *d)
{
	g_autoptr(GPtrArray) items = lv_xml_children(lv_xml_child(root, "metadata"), NULL);
	const char *id = NULL;
	for (guint i = 0; i < items->len && id == NULL; i++) {
		lv_node *m = items->pdata[i];
		if (g_strcmp0(lv_xml_local(m), "libosinfo") != 0)
			continue;
		g_autoptr(GPtrArray) kids = lv_xml_children(m, NULL);
		for (guint k = 0; k < kids->len && id == NULL; k++)
			if (g_strcmp0(lv_xml_local(kids->pdata[k]), "os") == 0)
				id = lv_xml_attr(kids->pdata[k], "id");
	}
	d->os_type = PVS_GUEST_TYPE_OTHER;
	d->os_version = PVS_GUEST_VER_OTH_OTHER;
	if (id == NULL)
		return;
	g_autoptr(GUri) u = g_uri_parse(id, G_URI_FLAGS_NONE, NULL);
	const char *host = u != NULL ? g_uri_get_host(u) : NULL;
	const char *path = u != NULL ? g_uri_get_path(u) : NULL;
	if (path != NULL) {
		g_auto(GStrv) parts = g_strsplit(path, "/", -1);
		g_autofree char *word = g_strjoinv("", parts);
		d->os_type_name = *word != '\0' ? g_steal_pointer(&word) : NULL;
	}
	const char *w = d->os_type_name != NULL ? d->os_type_name : "";
	if (host == NULL) {
		return;
	} else if (strcmp(host, "microsoft.com") == 0) {
		d->os_type = PVS_GUEST_TYPE_WINDOWS;
		d->os_version = strcmp(w, "win11") == 0 ? PVS_GUEST_VER_WIN_WINDOWS11
		              : strcmp(w, "win10") == 0 ? PVS_GUEST_VER_WIN_WINDOWS10
		              : strcmp(w, "win2k22") == 0 ? PVS_GUEST_VER_WIN_2022
		              : PVS_GUEST_VER_WIN_OTHER;
	} else if (strcmp(host, "freebsd.org") == 0) {
		d->os_type = PVS_GUEST_TYPE_FREEBSD;
	} else if (strcmp(host, "debian.org") == 0) {
		d->os_type = PVS_GUEST_TYPE_LINUX;
		d->os_version = PVS_GUEST_VER_LIN_DEBIAN;
	} else if (strcmp(host, "ubuntu.com") == 0) {
		d->os_type = PVS_GUEST_TYPE_LINUX;
		d->os_version = PVS_GUEST_VER_LIN_UBUNTU;
	} else if (strstr(host, "redhat") || strstr(host, "fedora") || strstr(host, "centos") ||
	           strstr(host, "suse") || strstr(host, "archlinux") || strstr(host, "alpine") ||
	           strstr(host, "rocky") || strstr(host, "almalinux") || strstr(host, "linux")) {
		d->os_type = PVS_GUEST_TYPE_LINUX;
		d->os_version = PVS_GUEST_VER_LIN_OTHER;
	}
}

gboolean lv_domxml_read(const lv_node *root, pk_vm_data *d, lv_xmlinfo *info, GError **error)
{
	if (g_strcmp0(lv_xml_name(root), "domain") != 0) {
		g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION,
		                    "libvirt: the domain XML has no <domain> element");
		return FALSE;
	}
	memset(info, 0, sizeof(*info));
	if (d->id == NULL)
		d->id = child_text(root, "uuid");
	if (d->name == NULL)
		d->name = child_text(root, "name");
	lv_node *desc = lv_xml_child(root, "description");
	g_free(d->description);
	d->description = desc != NULL ? lv_xml_text(desc) : g_strdup("");
	info->memory_kib = size_kib(lv_xml_child(root, "memory"));
	d->ram_mb = (guint32)(info->memory_kib / 1024);
	lv_node *vcpu = lv_xml_child(root, "vcpu");
	g_autofree char *vt = child_text(root, "vcpu");
	const char *cur = lv_xml_attr(vcpu, "current");
	info->vcpus = (guint)g_ascii_strtoull(cur != NULL ? cur : (vt != NULL ? vt : "1"), NULL, 10);
	if (info->vcpus == 0)
		info->vcpus = 1;
	d->cpus = info->vcpus;
	read_os(root, d);

	g_autoptr(lv_meta) meta = lv_meta_from_domain(root);
	d->is_template = meta->is_template;

	lv_node *devices = lv_xml_child(root, "devices");
	g_autoptr(GPtrArray) disks = lv_domxml_disks((lv_node *)root, FALSE);
	for (guint i = 0; i < disks->len; i++) {
		lv_disk *x = disks->pdata[i];
		gboolean optical = strcmp(x->device, "cdrom") == 0;
		if (!optical && strcmp(x->device, "disk") != 0 && strcmp(x->device, "lun") != 0)
			continue;   /* floppies: nothing the SDK can show */
		pk_disk_data *dd = g_new0(pk_disk_data, 1);
		dd->type = optical ? PDE_OPTICAL_DISK : PDE_HARD_DISK;
		lv_node *src = lv_xml_child(x->node, "source");
		if (x->path != NULL)
			dd->image_path = g_strdup(x->path);
		else if (lv_xml_attr(src, "volume") != NULL)
			dd->image_path = g_strdup_printf("%s/%s", lv_xml_attr(src, "pool"),
			                                 lv_xml_attr(src, "volume"));
		else if (lv_xml_attr(src, "name") != NULL)
			dd->image_path = g_strdup(lv_xml_attr(src, "name"));
		else
			dd->image_path = g_strdup("");
		g_ptr_array_add(d->disks, dd);
	}
	g_autoptr(GPtrArray) nics = lv_xml_children(devices, "interface");
	for (guint i = 0; i < nics->len; i++) {
		lv_node *n = nics->pdata[i];
		lv_node *src = lv_xml_child(n, "source");
		char *mac = pk_mac_normalize(lv_xml_attr(lv_xml_child(n, "mac"), "address"));
		pk_net_data *nd = g_new0(pk_net_data, 1);
		nd->mac = mac != NULL ? g_strdup(mac) : NULL;
		const char *net = lv_xml_attr(src, "network");
		if (net == NULL)
			net = lv_xml_attr(src, "bridge");
		if (net == NULL)
			net = lv_xml_attr(src, "dev");
		nd->network = g_strdup(net);
		g_ptr_array_add(d->nets, nd);
		if (mac != NULL)
			g_ptr_array_add(d->macs, mac);
	}
	g_autoptr(GPtrArray) chans = lv_xml_children(devices, "channel");
	for (guint i = 0; i < chans->len; i++) {
		lv_node *t = lv_xml_child(chans->pdata[i], "target");
		if (g_strcmp0(lv_xml_attr(t, "name"), "org.qemu.guest_agent.0") == 0) {
			info->agent = TRUE;
			info->agent_connected = g_strcmp0(lv_xml_attr(t, "state"), "connected") == 0;
		}
	}
	return TRUE;
}

char *lv_vm_digest(const pk_vm_data *d)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	char buf[64];
	g_checksum_update(sum, (const guchar *)(d->name ? d->name : ""), -1);
	g_checksum_update(sum, (const guchar *)"\n", 1);
	g_checksum_update(sum, (const guchar *)(d->description ? d->description : ""), -1);
	g_snprintf(buf, sizeof(buf), "\n%u\n%u\n%d", d->ram_mb, d->cpus, d->is_template ? 1 : 0);
	g_checksum_update(sum, (const guchar *)buf, -1);
	char *hex = g_strndup(g_checksum_get_string(sum), 16);
	g_checksum_free(sum);
	return hex;
}

void lv_domxml_prepare_clone(lv_node *root, const char *name, const char *uuid,
                             const char *network)
{
	lv_xml_set_attr(root, "id", NULL);
	lv_xml_set_text(child_or_add(root, "name"), name);
	lv_xml_set_text(child_or_add(root, "uuid"), uuid);
	lv_node *os = lv_xml_child(root, "os");
	lv_node *nvram;
	/* libvirt makes a fresh NVRAM file from the firmware's template for the clone. */
	while ((nvram = lv_xml_child(os, "nvram")) != NULL)
		lv_xml_remove(nvram);
	lv_node *devices = lv_xml_child(root, "devices");
	g_autoptr(GPtrArray) nics = lv_xml_children(devices, "interface");
	for (guint i = 0; i < nics->len; i++) {
		lv_node *n = nics->pdata[i];
		lv_node *k;
		while ((k = lv_xml_child(n, "mac")) != NULL)   /* libvirt generates new ones */
			lv_xml_remove(k);
		while ((k = lv_xml_child(n, "target")) != NULL)
			lv_xml_remove(k);
		if (network != NULL && g_strcmp0(lv_xml_attr(n, "type"), "network") == 0)
			lv_xml_set_attr(child_or_add(n, "source"), "network", network);
	}
	g_autoptr(GPtrArray) gfx = lv_xml_children(devices, "graphics");
	for (guint i = 0; i < gfx->len; i++) {
		lv_node *g = gfx->pdata[i];
		if (g_strcmp0(lv_xml_attr(g, "autoport"), "no") == 0 || lv_xml_attr(g, "port")) {
			lv_xml_set_attr(g, "port", NULL);
			lv_xml_set_attr(g, "autoport", "yes");
		}
	}
	lv_meta_apply(root, NULL);
}

void lv_domxml_set_memory(lv_node *root, guint64 kib)
{
	char buf[32];
	g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, kib);
	const char *names[] = { "memory", "currentMemory" };
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		lv_node *m = lv_xml_child(root, names[i]);
		if (m == NULL && i == 1)
			continue;
		if (m == NULL)
			m = lv_xml_add(root, names[i]);
		lv_xml_set_attr(m, "unit", "KiB");
		lv_xml_set_text(m, buf);
	}
}

void lv_domxml_set_vcpus(lv_node *root, guint vcpus)
{
	char buf[16];
	g_snprintf(buf, sizeof(buf), "%u", vcpus);
	lv_node *v = child_or_add(root, "vcpu");
	lv_xml_set_attr(v, "current", NULL);
	lv_xml_set_text(v, buf);
}

void lv_domxml_set_description(lv_node *root, const char *text)
{
	lv_node *d = lv_xml_child(root, "description");
	if (text == NULL || *text == '\0') {
		lv_xml_remove(d);
		return;
	}
	if (d == NULL)
		d = lv_xml_add(root, "description");
	lv_xml_set_text(d, text);
}

/* -------------------------------------------------------------- metadata ---- */

void lv_layer_free(lv_layer *l)
{
	if (l == NULL)
		return;
	g_free(l->disk);
	g_free(l->path);
	g_free(l->format);
	g_free(l);
}

void lv_snap_free(lv_snap *s)
{
	if (s == NULL)
		return;
	g_free(s->name);
	g_free(s->parent);
	g_free(s->description);
	g_ptr_array_unref(s->layers);
	g_free(s);
}

lv_meta *lv_meta_new(void)
{
	lv_meta *m = g_new0(lv_meta, 1);
	m->snaps = g_ptr_array_new_with_free_func((GDestroyNotify)lv_snap_free);
	return m;
}

void lv_meta_free(lv_meta *m)
{
	if (m == NULL)
		return;
	g_free(m->current);
	g_free(m->origin_vm);
	g_free(m->origin_snapshot);
	g_ptr_array_unref(m->snaps);
	g_free(m);
}

lv_snap *lv_meta_find(const lv_meta *m, const char *name)
{
	for (guint i = 0; name != NULL && i < m->snaps->len; i++) {
		lv_snap *s = m->snaps->pdata[i];
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

/* Ours: local name "vm" and our namespace declared on it (any prefix). */
static gboolean is_our_element(const lv_node *n)
{
	if (g_strcmp0(lv_xml_local(n), "vm") != 0)
		return FALSE;
	for (guint i = 0; i + 1 < n->attrs->len; i += 2) {
		const char *a = g_ptr_array_index(n->attrs, i);
		if ((strcmp(a, "xmlns") == 0 || g_str_has_prefix(a, "xmlns:")) &&
		    strcmp(g_ptr_array_index(n->attrs, i + 1), LV_NS_URI) == 0)
			return TRUE;
	}
	return FALSE;
}

static lv_node *find_our_element(const lv_node *root)
{
	g_autoptr(GPtrArray) items = lv_xml_children(lv_xml_child(root, "metadata"), NULL);
	for (guint i = 0; i < items->len; i++)
		if (is_our_element(items->pdata[i]))
			return items->pdata[i];
	return NULL;
}

static char *dup_nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? g_strdup(s) : NULL;
}

lv_meta *lv_meta_from_domain(const lv_node *root)
{
	return lv_meta_from_element(find_our_element(root));
}

lv_meta *lv_meta_from_element(const lv_node *el)
{
	lv_meta *m = lv_meta_new();
	g_autoptr(GPtrArray) kids = lv_xml_children(el, NULL);
	for (guint i = 0; i < kids->len; i++) {
		lv_node *k = kids->pdata[i];
		const char *what = lv_xml_local(k);
		if (strcmp(what, "template") == 0) {
			m->is_template = TRUE;
		} else if (strcmp(what, "current") == 0) {
			g_free(m->current);
			m->current = dup_nonempty(lv_xml_attr(k, "name"));
		} else if (strcmp(what, "origin") == 0) {
			g_free(m->origin_vm);
			g_free(m->origin_snapshot);
			m->origin_vm = dup_nonempty(lv_xml_attr(k, "vm"));
			m->origin_snapshot = dup_nonempty(lv_xml_attr(k, "snapshot"));
			m->origin_linked = g_strcmp0(lv_xml_attr(k, "linked"), "yes") == 0;
		} else if (strcmp(what, "snapshot") == 0) {
			const char *name = lv_xml_attr(k, "name");
			if (name == NULL || *name == '\0' || lv_meta_find(m, name) != NULL)
				continue;   /* not ours to repair; never a crash */
			lv_snap *s = g_new0(lv_snap, 1);
			s->layers = g_ptr_array_new_with_free_func((GDestroyNotify)lv_layer_free);
			s->name = g_strdup(name);
			s->parent = dup_nonempty(lv_xml_attr(k, "parent"));
			const char *v = lv_xml_attr(k, "created");
			s->created = v != NULL ? g_ascii_strtoll(v, NULL, 10) : 0;
			v = lv_xml_attr(k, "memory");
			s->memory_kib = v != NULL ? g_ascii_strtoull(v, NULL, 10) : 0;
			v = lv_xml_attr(k, "vcpus");
			s->vcpus = v != NULL ? (guint)g_ascii_strtoull(v, NULL, 10) : 0;
			g_autoptr(GPtrArray) parts = lv_xml_children(k, NULL);
			for (guint j = 0; j < parts->len; j++) {
				lv_node *p = parts->pdata[j];
				if (strcmp(lv_xml_local(p), "description") == 0) {
					g_free(s->description);
					s->description = lv_xml_text(p);
				} else if (strcmp(lv_xml_local(p), "layer") == 0 && lv_xml_attr(p, "disk") &&
				           lv_xml_attr(p, "path")) {
					lv_layer *l = g_new0(lv_layer, 1);
					l->disk = g_strdup(lv_xml_attr(p, "disk"));
					l->path = g_strdup(lv_xml_attr(p, "path"));
					l->format = g_strdup(lv_xml_attr(p, "format") ? lv_xml_attr(p, "format")
					                                              : "raw");
					g_ptr_array_add(s->layers, l);
				}
			}
			g_ptr_array_add(m->snaps, s);
		}
	}
	if (m->current != NULL && lv_meta_find(m, m->current) == NULL)
		g_clear_pointer(&m->current, g_free);
	return m;
}

/* An element named prefix:local, or local without a prefix. */
static lv_node *add_ns(lv_node *parent, const char *local, gboolean prefixed)
{
	char *name = g_strconcat(prefixed ? LV_NS_PREFIX ":" : "", local, NULL);
	lv_node *n = lv_xml_add(parent, name);
	g_free(name);
	return n;
}

/* Builds the element under parent; prefixed: as it appears in a domain's <metadata>,
 * else bare (virDomainSetMetadata puts the namespace on it and its children). */
static lv_node *meta_build(lv_node *parent, const lv_meta *m, gboolean prefixed)
{
#define add_ns(p, l) add_ns(p, l, prefixed)
	lv_node *el = add_ns(parent, "vm");
	if (prefixed)
		lv_xml_set_attr(el, "xmlns:" LV_NS_PREFIX, LV_NS_URI);
	if (m->is_template)
		add_ns(el, "template");
	if (m->current != NULL)
		lv_xml_set_attr(add_ns(el, "current"), "name", m->current);
	if (m->origin_vm != NULL) {
		lv_node *o = add_ns(el, "origin");
		lv_xml_set_attr(o, "vm", m->origin_vm);
		lv_xml_set_attr(o, "snapshot", m->origin_snapshot);
		lv_xml_set_attr(o, "linked", m->origin_linked ? "yes" : "no");
	}
	for (guint i = 0; i < m->snaps->len; i++) {
		const lv_snap *s = m->snaps->pdata[i];
		lv_node *n = add_ns(el, "snapshot");
		char buf[32];
		lv_xml_set_attr(n, "name", s->name);
		lv_xml_set_attr(n, "parent", s->parent);
		g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, s->created);
		lv_xml_set_attr(n, "created", buf);
		g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, s->memory_kib);
		lv_xml_set_attr(n, "memory", buf);
		g_snprintf(buf, sizeof(buf), "%u", s->vcpus);
		lv_xml_set_attr(n, "vcpus", buf);
		if (s->description != NULL && *s->description != '\0')
			lv_xml_set_text(add_ns(n, "description"), s->description);
		for (guint j = 0; j < s->layers->len; j++) {
			const lv_layer *l = s->layers->pdata[j];
			lv_node *ln = add_ns(n, "layer");
			lv_xml_set_attr(ln, "disk", l->disk);
			lv_xml_set_attr(ln, "path", l->path);
			lv_xml_set_attr(ln, "format", l->format);
		}
	}
	return el;
#undef add_ns
}

char *lv_meta_format(const lv_meta *m)
{
	lv_node *holder = node_new_element("holder");
	lv_node *el = meta_build(holder, m, FALSE);
	char *text = lv_xml_format(el);
	lv_xml_free(holder);
	return text;
}

void lv_meta_apply(lv_node *root, const lv_meta *m)
{
	lv_node *old;
	while ((old = find_our_element(root)) != NULL)
		lv_xml_remove(old);
	gboolean empty = m == NULL || (!m->is_template && m->current == NULL &&
	                               m->origin_vm == NULL && m->snaps->len == 0);
	lv_node *md = lv_xml_child(root, "metadata");
	if (empty) {
		if (md != NULL) {
			g_autoptr(GPtrArray) rest = lv_xml_children(md, NULL);
			if (rest->len == 0)
				lv_xml_remove(md);
		}
		return;
	}
	if (md == NULL)
		md = lv_xml_add(root, "metadata");
	meta_build(md, m, TRUE);
}

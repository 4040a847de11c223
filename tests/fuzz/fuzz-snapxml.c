/* Fuzz target: the SDK-shaped snapshot tree (pk_ops_snapshots_xml, src/core/core-ops.h),
 * read back with a GMarkup reader, as a program calling PrlVm_GetSnapshotsTree would.
 *
 * Input: records, each a flags byte (1 current, 2 has a parent, 4 has a name), a parent
 * index byte, 4 bytes of creation time, then name 0xFF description 0xFF. Names and
 * descriptions are any bytes (platforms and API callers may hand over anything).
 * Invariants: the XML is well-formed (GMarkup accepts it); every snapshot appears exactly
 * once; guid and Name carry the name, Description the description, CurrentSnapshot the
 * flag, exactly as given (valid UTF-8) or as g_utf8_make_valid gives them; a snapshot whose
 * parent is listed is nested in an item of the parent's name, unless a cycle forbids it. */
#include "config.h"

#include <string.h>
#include "core-ops.h"
#include "fuzz-common.h"

#define MAX_SNAPSHOTS 512

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	/* Dates are local time: fix the zone so runs are reproducible. */
	g_setenv("TZ", "UTC", TRUE);
	return 0;
}

/* ---- reader ---- */

typedef struct read_item {
	char *guid;
	char *name;
	char *description;
	char *date;
	gboolean current;
	int parent;                 /* index in items of the enclosing item, -1 at the top */
} read_item;

typedef struct reader {
	GPtrArray *items;           /* read_item* in document order */
	GArray *stack;              /* int: indexes of the open items */
	GString *text;
	const char *field;          /* element whose text is being collected */
	gboolean seen_root;
} reader;

static void
read_item_free(gpointer p)
{
	read_item *it = p;
	g_free(it->guid);
	g_free(it->name);
	g_free(it->description);
	g_free(it->date);
	g_free(it);
}

static int
top(reader *r)
{
	return r->stack->len ? g_array_index(r->stack, int, r->stack->len - 1) : -1;
}

static void
on_start(GMarkupParseContext *ctx, const char *element, const char **names,
         const char **values, gpointer data, GError **error)
{
	reader *r = data;

	if (strcmp(element, "ParallelsSavedStates") == 0) {
		FUZZ_CHECK(!r->seen_root && r->stack->len == 0, "root element twice or nested");
		r->seen_root = TRUE;
	} else if (strcmp(element, "SavedStateItem") == 0) {
		read_item *it = g_new0(read_item, 1);
		const char *guid = NULL, *cur = NULL;
		int index;

		FUZZ_CHECK(r->seen_root, "item outside the root");
		FUZZ_CHECK(g_markup_collect_attributes(element, names, values, error,
		                                       G_MARKUP_COLLECT_STRING, "guid", &guid,
		                                       G_MARKUP_COLLECT_STRING, "CurrentSnapshot", &cur,
		                                       G_MARKUP_COLLECT_INVALID),
		           "item attributes: %s", (*error)->message);
		FUZZ_CHECK(strcmp(cur, "0") == 0 || strcmp(cur, "1") == 0, "CurrentSnapshot '%s'", cur);
		it->guid = g_strdup(guid);
		it->current = cur[0] == '1';
		it->parent = top(r);
		index = (int)r->items->len;
		g_ptr_array_add(r->items, it);
		g_array_append_val(r->stack, index);
	} else if (strcmp(element, "Name") == 0 || strcmp(element, "DateTime") == 0 ||
	           strcmp(element, "Description") == 0) {
		FUZZ_CHECK(top(r) >= 0 && r->field == NULL, "<%s> outside an item", element);
		r->field = strcmp(element, "Name") == 0 ? "Name"
		           : strcmp(element, "DateTime") == 0 ? "DateTime" : "Description";
		g_string_truncate(r->text, 0);
	} else {
		fuzz_fail(__FILE__, __LINE__, "known element", "unexpected <%s>", element);
	}
}

static void
on_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error)
{
	reader *r = data;

	if (strcmp(element, "SavedStateItem") == 0) {
		g_array_set_size(r->stack, r->stack->len - 1);
	} else if (r->field && strcmp(element, r->field) == 0) {
		read_item *it = g_ptr_array_index(r->items, top(r));
		char **slot = strcmp(r->field, "Name") == 0 ? &it->name
		              : strcmp(r->field, "DateTime") == 0 ? &it->date : &it->description;
		FUZZ_CHECK(*slot == NULL, "<%s> twice in one item", r->field);
		*slot = g_strdup(r->text->str);
		r->field = NULL;
	}
}

static void
on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
	reader *r = data;

	if (r->field)
		g_string_append_len(r->text, text, (gssize)len);
}

/* ---- the check ---- */

/* What a reader may see for text the writer was given. */
static char *
expected_text(const char *s)
{
	return g_utf8_make_valid(s ? s : "", -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
	fuzz_input in = { data, size };
	g_autoptr(GPtrArray) snaps =
		g_ptr_array_new_with_free_func((GDestroyNotify)pk_snapshot_data_free);
	g_autofree char *xml = NULL;
	g_autoptr(GError) error = NULL;
	GMarkupParseContext *ctx;
	reader r = { 0 };

	while (in.n > 0 && snaps->len < MAX_SNAPSHOTS) {
		guint8 flags = fuzz_byte(&in);
		guint8 parent = fuzz_byte(&in);
		guint32 created = fuzz_u32(&in);
		pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
		char *name = fuzz_field(&in, 256);
		char *desc = fuzz_field(&in, 1024);
		int p = (flags & 2) && snaps->len > 0 ? parent % (int)snaps->len : -1;

		s->name = (flags & 4) ? name : (g_free(name), NULL);
		s->description = desc;
		s->created = created;
		s->current = (flags & 1) != 0;
		/* A parent by name; sometimes a name nobody has, or (flags 8) a later one. */
		if (flags & 8)
			s->parent = g_strdup_printf("later-%u", parent);
		else if (p >= 0 && ((pk_snapshot_data *)snaps->pdata[p])->name)
			s->parent = g_strdup(((pk_snapshot_data *)snaps->pdata[p])->name);
		g_ptr_array_add(snaps, s);
	}

	xml = pk_ops_snapshots_xml(snaps);
	FUZZ_CHECK(xml != NULL && g_utf8_validate(xml, -1, NULL), "XML is not UTF-8");

	r.items = g_ptr_array_new_with_free_func(read_item_free);
	r.stack = g_array_new(FALSE, FALSE, sizeof(int));
	r.text = g_string_new(NULL);
	ctx = g_markup_parse_context_new(&parser, 0, &r, NULL);
	FUZZ_CHECK(g_markup_parse_context_parse(ctx, xml, -1, &error) &&
	           g_markup_parse_context_end_parse(ctx, &error),
	           "the tree is not well-formed XML: %s\n%s", error->message, xml);
	g_markup_parse_context_free(ctx);
	FUZZ_CHECK(r.seen_root && r.stack->len == 0, "unbalanced tree");
	FUZZ_CHECK(r.items->len == snaps->len, "%u items for %u snapshots", r.items->len,
	           snaps->len);

	/* Every snapshot has an item of its own: same guid (= Name), description, current
	 * flag and presence of a date, either at the top or nested in an item named as its
	 * parent. Snapshots that must nest (their parent is listed) are matched first, so
	 * one of two look-alikes at different places never takes the other's item; two
	 * look-alikes differing only in a date of their own are told apart by it. */
	{
		g_autofree int *item_of = g_new(int, snaps->len + 1);
		g_autofree gboolean *used = g_new0(gboolean, r.items->len + 1);
		g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);

		for (guint i = 0; i < snaps->len; i++) {
			pk_snapshot_data *s = snaps->pdata[i];
			item_of[i] = -1;
			if (s->name)
				g_hash_table_add(names, s->name);
		}
		for (int pass = 0; pass < 2; pass++) {
			for (guint i = 0; i < snaps->len; i++) {
				pk_snapshot_data *s = snaps->pdata[i];
				g_autofree char *want_name = expected_text(s->name);
				g_autofree char *want_desc = expected_text(s->description);
				g_autofree char *want_parent = s->parent ? expected_text(s->parent) : NULL;
				gboolean nests = s->parent && g_hash_table_contains(names, s->parent);

				if (item_of[i] >= 0 || (pass == 0 && !nests))
					continue;
				for (guint j = 0; j < r.items->len && item_of[i] < 0; j++) {
					read_item *it = g_ptr_array_index(r.items, j);
					read_item *up = it->parent >= 0 ? g_ptr_array_index(r.items, it->parent)
					                                 : NULL;
					if (used[j] || strcmp(it->guid, want_name) != 0 ||
					    g_strcmp0(it->description, want_desc) != 0 ||
					    it->current != s->current ||
					    (it->date != NULL && (s->created == 0) != (*it->date == '\0')))
						continue;
					/* Pass 0: nested where it belongs; pass 1: top level or, after a
					 * parent cycle, under its parent's name all the same. */
					if (pass == 0 ? !(up && strcmp(up->guid, want_parent) == 0)
					              : !(up == NULL || (want_parent &&
					                                 strcmp(up->guid, want_parent) == 0)))
						continue;
					item_of[i] = (int)j;
					used[j] = TRUE;
				}
			}
		}
		for (guint i = 0; i < snaps->len; i++) {
			pk_snapshot_data *s = snaps->pdata[i];
			read_item *it;
			FUZZ_CHECK(item_of[i] >= 0, "snapshot %u ('%s', parent '%s') missing, changed or "
			           "misplaced in\n%s", i, s->name ? s->name : "(null)",
			           s->parent ? s->parent : "(none)", xml);
			it = g_ptr_array_index(r.items, item_of[i]);
			FUZZ_CHECK(g_strcmp0(it->name, it->guid) == 0, "Name '%s' vs guid '%s'", it->name,
			           it->guid);
			FUZZ_CHECK(it->date != NULL && (s->created == 0) == (*it->date == '\0'),
			           "DateTime '%s' for %" G_GINT64_FORMAT, it->date, s->created);
		}
	}
	g_ptr_array_unref(r.items);
	g_array_unref(r.stack);
	g_string_free(r.text, TRUE);
	return 0;
}

/* Fuzz target: settings (src/util/util-settings.h) and the drivers' settings grammars.
 *
 * The first byte picks the source: even, a JSON object as provider/connect sends it; odd, a
 * URI query. The map then goes through every typed getter, the redacted log form, the pve
 * driver's settings parser and the sim driver's seed and failure-injection grammars.
 * Invariants: no crash or leak; a failed merge leaves the map untouched; errors name the
 * key and are valid UTF-8; no secret value (of a key naming a secret) ever shows in an
 * error or in the redacted form. */
#include "config.h"

#include <string.h>
#include <jansson.h>
#include "core-error.h"
#include "util-log.h"
#include "util-settings.h"
#include "drivers/pve/pve-private.h"
#include "drivers/sim/sim-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

/* Every secret value is replaced by one of a few fixed markers that no message template
 * contains, so finding one in a message means a value leaked, not that the fuzzer chose
 * words of the template. (Few and fixed: the process-wide list of registered secrets,
 * which redaction scans, must not grow with every input.) Returns the markers to look
 * for. */
#define SECRET_MARKS 8

static GPtrArray *
mark_secrets(GHashTable *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) keys = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, s);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (pk_settings_key_is_secret(k))
			g_ptr_array_add(keys, k);
	for (guint i = 0; i < keys->len; i++) {
		const char *old = g_hash_table_lookup(s, keys->pdata[i]);
		guint n = g_str_hash(old) % SECRET_MARKS;
		char *mark = g_strdup_printf("Zq9-secret-%u", n);

		g_hash_table_replace(s, g_strdup(keys->pdata[i]), g_strdup(mark));
		g_ptr_array_add(out, mark);
	}
	/* A key may hold a marker too (the fuzzer learns them): keys are no secrets. */
	g_hash_table_iter_init(&it, s);
	while (g_hash_table_iter_next(&it, &k, NULL))
		for (guint i = out->len; i-- > 0;)
			if (strstr(k, out->pdata[i]))
				g_ptr_array_remove_index(out, i);
	return out;
}

static void
check_text(const char *what, const char *text, GPtrArray *secrets)
{
	if (!g_utf8_validate(text, -1, NULL)) {
		g_autofree char *esc = g_strescape(text, NULL);
		fuzz_fail(__FILE__, __LINE__, "valid UTF-8", "%s is not UTF-8: %s", what, esc);
	}
	for (guint i = 0; i < secrets->len; i++)
		FUZZ_CHECK(!fuzz_contains(text, secrets->pdata[i]), "%s shows a secret: %s", what, text);
}

static void
check_error(GError *error, const char *key, GPtrArray *secrets)
{
	FUZZ_CHECK(error != NULL, "failure without an error (%s)", key ? key : "");
	FUZZ_CHECK(error->domain == PK_ERROR, "error domain");
	if (key)
		FUZZ_CHECK(fuzz_contains(error->message, key) ||
		           !g_utf8_validate(key, -1, NULL), "error does not name '%s': %s", key,
		           error->message);
	check_text("error", error->message, secrets);
}

/* Every getter on every key present, and on a few the drivers use. */
static void
getters(GHashTable *s, GPtrArray *secrets)
{
	static const char *const fixed[] = { "speed", "password", "token_secret", "timeout", NULL };
	static const char *const choices[] = { "tag", "native", NULL };
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer k;

	g_hash_table_iter_init(&it, s);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(keys, g_strdup(k));
	for (int i = 0; fixed[i]; i++)
		g_ptr_array_add(keys, g_strdup(fixed[i]));
	for (guint i = 0; i < keys->len; i++) {
		const char *key = keys->pdata[i];
		gboolean b;
		gint64 n;
		double d;
		const char *c;
		GError *e = NULL;

		if (!pk_settings_get_bool(s, key, FALSE, &b, &e))
			check_error(e, key, secrets);
		g_clear_error(&e);
		if (!pk_settings_get_int(s, key, 5, -100, 100000, &n, &e))
			check_error(e, key, secrets);
		else
			FUZZ_CHECK(n >= -100 && n <= 100000, "int out of range");
		g_clear_error(&e);
		if (!pk_settings_get_double(s, key, 1.0, 0.0, 1000.0, &d, &e))
			check_error(e, key, secrets);
		else
			FUZZ_CHECK(d >= 0.0 && d <= 1000.0, "double out of range");
		g_clear_error(&e);
		if (!pk_settings_get_choice(s, key, "tag", choices, &c, &e))
			check_error(e, key, secrets);
		else
			FUZZ_CHECK(c == choices[0] || c == choices[1], "choice not from the list");
		g_clear_error(&e);
	}
	/* Last: require trims values in place. Its keys are the caller's (constants): valid
	 * UTF-8 only. */
	for (guint i = 0; i < keys->len; i++) {
		const char *v;
		GError *e = NULL;

		if (!g_utf8_validate(keys->pdata[i], -1, NULL))
			continue;
		if (!pk_settings_require(s, keys->pdata[i], &v, &e))
			check_error(e, keys->pdata[i], secrets);
		else
			FUZZ_CHECK(*v != '\0', "required value blank");
		g_clear_error(&e);
	}
}

/* The redacted JSON of the map: valid JSON, every secret-named value "***". */
static void
redacted_form(GHashTable *s, GPtrArray *secrets)
{
	g_autofree char *text = pk_settings_to_redacted_json(s);
	json_error_t jerr;
	json_t *o;
	const char *key;
	json_t *v;

	check_text("redacted settings", text, secrets);
	o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	FUZZ_CHECK(json_is_object(o), "redacted settings are not a JSON object: %s", text);
	json_object_foreach(o, key, v) {
		if (pk_settings_key_is_secret(key) && json_is_string(v) &&
		    g_hash_table_contains(s, key))
			FUZZ_CHECK(strcmp(json_string_value(v), "***") == 0 ||
			           *json_string_value(v) == '\0',
			           "secret '%s' not redacted", key);
	}
	json_decref(o);
}

static void
driver_grammars(GHashTable *s, GPtrArray *secrets)
{
	pve_settings ps;
	g_auto(sim_seed) seed = { 0 };
	g_autoptr(GPtrArray) rules = NULL;
	GError *e = NULL;

	if (!pve_settings_parse(s, NULL, &ps, &e))
		check_error(e, NULL, secrets);
	else
		pve_settings_clear(&ps);
	g_clear_error(&e);
	(void)pve_features_for(s);
	if (!sim_seed_parse(g_hash_table_lookup(s, "seed"), &seed, &e))
		check_error(e, "seed", secrets);
	else
		FUZZ_CHECK(seed.extra <= SIM_SEED_MAX_EXTRA, "seed extra %u", seed.extra);
	g_clear_error(&e);
	if (!sim_fail_parse(g_hash_table_lookup(s, "fail"), &rules, &e))
		check_error(e, NULL, secrets);
	g_clear_error(&e);
}

/* Same keys and values. */
static gboolean
maps_equal(GHashTable *a, GHashTable *b)
{
	GHashTableIter it;
	gpointer k, v;

	if (g_hash_table_size(a) != g_hash_table_size(b))
		return FALSE;
	g_hash_table_iter_init(&it, a);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (g_strcmp0(v, g_hash_table_lookup(b, k)) != 0)
			return FALSE;
	return TRUE;
}

static GHashTable *
map_copy(GHashTable *s)
{
	GHashTable *c = pk_settings_new();
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, s);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_insert(c, g_strdup(k), g_strdup(v));
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = { data, size };
	gboolean query = fuzz_byte(&in) & 1;
	g_autofree char *text = fuzz_rest(&in);
	g_autoptr(GHashTable) s = pk_settings_new();
	g_autoptr(GHashTable) before = NULL;
	g_autoptr(GPtrArray) secrets = NULL;
	GError *e = NULL;
	gboolean ok;

	/* Something already there: a failed merge must leave it as it was. */
	g_hash_table_insert(s, g_strdup("driver"), g_strdup("sim"));
	before = map_copy(s);
	ok = query ? pk_settings_merge_uri_query(s, text, &e)
	           : pk_settings_merge_json(s, text, &e);
	if (!ok) {
		g_autoptr(GPtrArray) none = g_ptr_array_new();
		FUZZ_CHECK(maps_equal(s, before), "failed merge changed the map");
		check_error(e, NULL, none);
		/* jansson quotes the text near a JSON error: it must not reach the message. */
		FUZZ_CHECK(query || !fuzz_contains(e->message, "near"), "%s", e->message);
		g_clear_error(&e);
		return 0;
	}
	secrets = mark_secrets(s);
	/* As the drivers do before anything can echo a value. */
	pk_log_add_secrets_from_settings(s);
	redacted_form(s, secrets);
	driver_grammars(s, secrets);
	getters(s, secrets);
	return 0;
}

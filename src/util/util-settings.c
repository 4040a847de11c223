/* Settings maps: lenient parsing, strict validation, errors that name the key.
 *
 * A blank value (empty or only spaces) counts as missing for the typed getters: settings
 * forms (RAS among them) send "" for a field the user left empty. Error messages quote a
 * bad value only when the key is not secret, and then through pk_redact. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "util-settings.h"
#include "util-log.h"
#include "core-error.h"

GHashTable *pk_settings_new(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

gboolean pk_settings_key_is_secret(const char *key)
{
	static const char *const words[] = { "secret", "password", "token", "key", NULL };
	if (key == NULL)
		return FALSE;
	g_autofree char *low = g_ascii_strdown(key, -1);
	for (guint i = 0; words[i] != NULL; i++)
		if (strstr(low, words[i]) != NULL)
			return TRUE;
	return FALSE;
}

G_GNUC_PRINTF(3, 4)
static gboolean fail(GError **error, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* Keys of a URI query are any bytes; messages are UTF-8. */
	g_autofree char *shown = g_utf8_make_valid(key, -1);
	g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "invalid setting '%s': %s", shown, what);
	return FALSE;
}

/* " (got 'x')" for a non-secret key, "" otherwise; the value is redacted and shortened. */
static char *quote_value(const char *key, const char *value)
{
	if (pk_settings_key_is_secret(key) || value == NULL)
		return g_strdup("");
	g_autofree char *r = pk_redact(value);
	g_autofree char *valid = g_utf8_make_valid(r, -1);
	if (g_utf8_strlen(valid, -1) > 64) {
		g_autofree char *cut = g_utf8_substring(valid, 0, 64);
		return g_strdup_printf(" (got '%s...')", cut);
	}
	return g_strdup_printf(" (got '%s')", valid);
}

gboolean pk_settings_merge_json(GHashTable *s, const char *json, GError **error)
{
	g_return_val_if_fail(s != NULL, FALSE);
	if (json == NULL)
		return TRUE;
	g_autofree char *trimmed = g_strstrip(g_strdup(json));
	if (*trimmed == '\0')
		return TRUE;

	json_error_t jerr;
	json_t *root = json_loads(trimmed, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson's text may quote the input near the error, which may be a secret. */
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "settings are not valid JSON (line %d, column %d)", jerr.line, jerr.column);
		return FALSE;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		                    "settings must be a JSON object");
		return FALSE;
	}

	/* Validate everything first so a bad object leaves s untouched. */
	const char *key;
	json_t *value;
	json_object_foreach(root, key, value) {
		if (json_is_object(value) || json_is_array(value)) {
			fail(error, key, "must be a string, number or boolean, not %s",
			     json_is_object(value) ? "an object" : "an array");
			json_decref(root);  /* key and value belong to root */
			return FALSE;
		}
	}
	json_object_foreach(root, key, value) {
		char *text;
		if (json_is_null(value))
			continue;
		if (json_is_string(value))
			text = g_strndup(json_string_value(value), json_string_length(value));
		else if (json_is_integer(value))
			text = g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(value));
		else {
			char *dump = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
			text = g_strdup(dump != NULL ? dump : "");
			free(dump);
		}
		g_hash_table_replace(s, g_strdup(key), text);
	}
	json_decref(root);
	return TRUE;
}

gboolean pk_settings_merge_uri_query(GHashTable *s, const char *query, GError **error)
{
	g_return_val_if_fail(s != NULL, FALSE);
	if (query == NULL)
		return TRUE;
	if (*query == '?')
		query++;

	g_autoptr(GHashTable) parsed = pk_settings_new();
	g_auto(GStrv) parts = g_strsplit(query, "&", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (*parts[i] == '\0')
			continue;
		char *eq = strchr(parts[i], '=');
		if (eq != NULL)
			*eq = '\0';
		/* '+' stays '+': these are URIs, not HTML forms, and tokens may contain '+'. */
		g_autofree char *k = g_uri_unescape_string(parts[i], NULL);
		if (k == NULL || *k == '\0') {
			g_set_error_literal(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			                    "invalid URI query: a parameter has a malformed or empty name");
			return FALSE;
		}
		/* A bare flag ("?verbose") means "true". */
		char *v = eq != NULL ? g_uri_unescape_string(eq + 1, NULL) : g_strdup("true");
		if (v == NULL)
			return fail(error, k, "malformed percent-encoding in the URI query");
		g_hash_table_replace(parsed, g_steal_pointer(&k), v);
	}

	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, parsed);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_hash_table_iter_steal(&it);
		g_hash_table_replace(s, k, v);
	}
	return TRUE;
}

/* The trimmed value of key, or NULL when missing or blank. */
static char *lookup_trimmed(GHashTable *s, const char *key)
{
	const char *v = s != NULL ? g_hash_table_lookup(s, key) : NULL;
	if (v == NULL)
		return NULL;
	char *t = g_strstrip(g_strdup(v));
	if (*t == '\0') {
		g_free(t);
		return NULL;
	}
	return t;
}

gboolean pk_settings_get_bool(GHashTable *s, const char *key, gboolean def, gboolean *out,
                              GError **error)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "y", NULL };
	static const char *const no[] = { "false", "0", "no", "off", "n", NULL };
	g_return_val_if_fail(key != NULL && out != NULL, FALSE);

	g_autofree char *v = lookup_trimmed(s, key);
	if (v == NULL) {
		*out = def;
		return TRUE;
	}
	g_autofree char *low = g_ascii_strdown(v, -1);
	if (g_strv_contains(yes, low)) {
		*out = TRUE;
		return TRUE;
	}
	if (g_strv_contains(no, low)) {
		*out = FALSE;
		return TRUE;
	}
	g_autofree char *got = quote_value(key, v);
	return fail(error, key, "expected true or false%s", got);
}

gboolean pk_settings_get_int(GHashTable *s, const char *key, gint64 def, gint64 min, gint64 max,
                             gint64 *out, GError **error)
{
	g_return_val_if_fail(key != NULL && out != NULL, FALSE);
	g_autofree char *v = lookup_trimmed(s, key);
	if (v == NULL) {
		*out = def;
		return TRUE;
	}

	gint64 n;
	gboolean ok = g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL);
	if (!ok) {
		/* JSON writers may send 30 as 30.0 or 3e1: accept integral values only. */
		char *end = NULL;
		double d = g_ascii_strtod(v, &end);
		if (end != NULL && *end == '\0' && isfinite(d) && d == floor(d) && d >= -9.0e18 &&
		    d <= 9.0e18) {
			n = (gint64)d;
			ok = TRUE;
		}
	}
	if (!ok || n < min || n > max) {
		g_autofree char *got = quote_value(key, v);
		return fail(error, key,
		            "expected an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT "%s",
		            min, max, got);
	}
	*out = n;
	return TRUE;
}

gboolean pk_settings_get_double(GHashTable *s, const char *key, double def, double min,
                                double max, double *out, GError **error)
{
	g_return_val_if_fail(key != NULL && out != NULL, FALSE);
	g_autofree char *v = lookup_trimmed(s, key);
	if (v == NULL) {
		*out = def;
		return TRUE;
	}
	char *end = NULL;
	double d = g_ascii_strtod(v, &end);
	if (end == v || end == NULL || *end != '\0' || !isfinite(d) || d < min || d > max) {
		g_autofree char *got = quote_value(key, v);
		return fail(error, key, "expected a number from %g to %g%s", min, max, got);
	}
	*out = d;
	return TRUE;
}

gboolean pk_settings_get_choice(GHashTable *s, const char *key, const char *def,
                                const char *const *choices, const char **out, GError **error)
{
	g_return_val_if_fail(key != NULL && choices != NULL && out != NULL, FALSE);
	g_autofree char *v = lookup_trimmed(s, key);
	if (v == NULL) {
		*out = def;
		return TRUE;
	}
	for (guint i = 0; choices[i] != NULL; i++) {
		if (g_ascii_strcasecmp(v, choices[i]) == 0) {
			*out = choices[i];
			return TRUE;
		}
	}
	g_autofree char *list = g_strjoinv(", ", (char **)choices);
	g_autofree char *got = quote_value(key, v);
	return fail(error, key, "expected one of: %s%s", list, got);
}

gboolean pk_settings_require(GHashTable *s, const char *key, const char **out, GError **error)
{
	g_return_val_if_fail(key != NULL && out != NULL, FALSE);
	char *v = s != NULL ? g_hash_table_lookup(s, key) : NULL;
	/* Trimmed in place: the stored string keeps its allocation, so the map still owns it. */
	if (v != NULL)
		g_strstrip(v);
	if (v == NULL || *v == '\0') {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "missing required setting '%s'",
		            key);
		return FALSE;
	}
	*out = v;
	return TRUE;
}

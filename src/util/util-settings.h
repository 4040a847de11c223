/* Settings: a string → string map (GHashTable) filled from a JSON object and/or a URI's
 * query. Values may arrive as JSON strings ("true", "30"): parse leniently, validate
 * strictly, and name the offending key in the error (PK_ERROR / PRL_ERR_INVALID_PARAM). */
#ifndef PRLKIT_UTIL_SETTINGS_H
#define PRLKIT_UTIL_SETTINGS_H

#include <glib.h>

G_BEGIN_DECLS

/* New empty map (g_str_hash, keys and values g_free'd). */
GHashTable *pk_settings_new(void);
/* Merge a JSON object text into s: strings as they are, numbers and booleans as their JSON
 * text, null skipped; nested objects/arrays are an error naming the key. json may be NULL. */
gboolean pk_settings_merge_json(GHashTable *s, const char *json, GError **error);
/* Merge a URI's query parameters (percent-decoded; '+' is kept, a bare "?flag" is "true";
 * a leading '?' is skipped). query may be NULL. On error s is untouched. */
gboolean pk_settings_merge_uri_query(GHashTable *s, const char *query, GError **error);

/* Typed getters: missing or blank (only spaces) → *out = def, TRUE. Values are trimmed;
 * booleans: true/1/yes/on/y and false/0/no/off/n (any case); integers also as "30.0".
 * Bad value → FALSE with an error naming the key (and the value, unless the key is secret). */
gboolean pk_settings_get_bool(GHashTable *s, const char *key, gboolean def, gboolean *out,
                              GError **error);
gboolean pk_settings_get_int(GHashTable *s, const char *key, gint64 def, gint64 min, gint64 max,
                             gint64 *out, GError **error);
gboolean pk_settings_get_double(GHashTable *s, const char *key, double def, double min,
                                double max, double *out, GError **error);
/* One of choices (NULL-terminated), case-insensitive; *out points into choices. */
gboolean pk_settings_get_choice(GHashTable *s, const char *key, const char *def,
                                const char *const *choices, const char **out, GError **error);
/* Required non-blank string (trimmed in place in the map); missing → error
 * "missing required setting 'key'". *out points into the map. */
gboolean pk_settings_require(GHashTable *s, const char *key, const char **out, GError **error);

/* TRUE when the key names a secret (contains secret, password, token or key,
 * case-insensitive). */
gboolean pk_settings_key_is_secret(const char *key);

G_END_DECLS
#endif

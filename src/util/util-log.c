/* Log level threshold and secret redaction. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "util-log.h"
#include "util-settings.h"

#define REDACTED "***"
#define SECRET_MIN_LEN 4

/* ---- level ---- */

static gint enabled_mask;            /* atomic: GLogLevelFlags that pass; 0 = not set yet */
static gboolean we_enabled_debug;    /* level_lock */
static GMutex level_lock;

static gint mask_for(const char *level)
{
	const gint error = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL;
	const gint warning = error | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE;
	const gint info = warning | G_LOG_LEVEL_INFO;
	const gint debug = info | G_LOG_LEVEL_DEBUG;
	static const char *const off[] = { "", "0", "false", "no", "off", "warning", "warn", NULL };

	if (level == NULL)
		return warning;
	g_autofree char *t = g_strstrip(g_ascii_strdown(level, -1));
	if (g_strv_contains(off, t))
		return warning;
	if (strcmp(t, "error") == 0 || strcmp(t, "critical") == 0)
		return error;
	if (strcmp(t, "info") == 0 || strcmp(t, "message") == 0)
		return info;
	return debug;
}

static void apply_mask_locked(gint mask)
{
	g_atomic_int_set(&enabled_mask, mask);
	gboolean want = (mask & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) != 0;
	/* GLib drops info/debug unless told otherwise; undo only what we did ourselves. */
	if (want && !we_enabled_debug) {
		g_log_set_debug_enabled(TRUE);
		we_enabled_debug = TRUE;
	} else if (!want && we_enabled_debug) {
		g_log_set_debug_enabled(FALSE);
		we_enabled_debug = FALSE;
	}
}

void pk_log_set_level(const char *level)
{
	pk_log_init();
	gint mask = mask_for(level != NULL ? level : g_getenv("PRLKIT_DEBUG"));
	g_mutex_lock(&level_lock);
	apply_mask_locked(mask);
	g_mutex_unlock(&level_lock);
}

void pk_log_init(void)
{
	static gsize once;
	if (g_once_init_enter(&once)) {
		/* The default writer sends info/debug to stdout unless told not to: stdout belongs
		 * to the program (prlkit-cpf speaks its protocol there). */
		g_log_writer_default_set_use_stderr(TRUE);
		g_once_init_leave(&once, 1);
	}
	if (g_atomic_int_get(&enabled_mask) == 0) {
		/* First use: the environment decides, unless pk_log_set_level got there first. */
		gint mask = mask_for(g_getenv("PRLKIT_DEBUG"));
		g_mutex_lock(&level_lock);
		if (g_atomic_int_get(&enabled_mask) == 0)
			apply_mask_locked(mask);
		g_mutex_unlock(&level_lock);
	}
}

gboolean pk_log_level_enabled(GLogLevelFlags level)
{
	gint mask = g_atomic_int_get(&enabled_mask);
	if (G_UNLIKELY(mask == 0)) {
		pk_log_init();
		mask = g_atomic_int_get(&enabled_mask);
	}
	return (level & G_LOG_LEVEL_MASK & (GLogLevelFlags)mask) != 0;
}

/* ---- registered secrets ---- */

static GMutex secrets_lock;
static GPtrArray *secrets;  /* secrets_lock: char*, longest first, no duplicates */

static gint longer_first(gconstpointer a, gconstpointer b)
{
	gsize la = strlen(*(const char *const *)a), lb = strlen(*(const char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

static void secret_add_one(const char *value)
{
	if (value == NULL || strlen(value) < SECRET_MIN_LEN)
		return;
	g_mutex_lock(&secrets_lock);
	if (secrets == NULL)
		secrets = g_ptr_array_new_with_free_func(g_free);
	gboolean known = FALSE;
	for (guint i = 0; i < secrets->len && !known; i++)
		known = strcmp(g_ptr_array_index(secrets, i), value) == 0;
	if (!known) {
		g_ptr_array_add(secrets, g_strdup(value));
		/* Longest first, so a secret that contains another is replaced whole. */
		g_ptr_array_sort(secrets, longer_first);
	}
	g_mutex_unlock(&secrets_lock);
}

static char *json_escape(const char *value)
{
	GString *s = g_string_sized_new(strlen(value) + 8);
	for (const char *p = value; *p != '\0'; p++) {
		switch (*p) {
		case '"': g_string_append(s, "\\\""); break;
		case '\\': g_string_append(s, "\\\\"); break;
		case '\n': g_string_append(s, "\\n"); break;
		case '\r': g_string_append(s, "\\r"); break;
		case '\t': g_string_append(s, "\\t"); break;
		default:
			if ((guchar)*p < 0x20)
				g_string_append_printf(s, "\\u%04x", (guchar)*p);
			else
				g_string_append_c(s, *p);
		}
	}
	return g_string_free(s, FALSE);
}

void pk_log_add_secret(const char *value)
{
	if (value == NULL || strlen(value) < SECRET_MIN_LEN)
		return;
	secret_add_one(value);
	/* The same secret as it appears inside JSON text and inside URIs. */
	g_autofree char *json = json_escape(value);
	g_autofree char *uri = g_uri_escape_string(value, NULL, FALSE);
	secret_add_one(json);
	secret_add_one(uri);
}

void pk_log_add_secrets_from_settings(GHashTable *settings)
{
	static const char *const not_secret[] = { "true", "false", "yes", "no", "on", "off", NULL };
	if (settings == NULL)
		return;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, settings);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (v == NULL || !pk_settings_key_is_secret(k))
			continue;
		g_autofree char *low = g_strstrip(g_ascii_strdown(v, -1));
		if (!g_strv_contains(not_secret, low))
			pk_log_add_secret(v);
	}
}

static void replace_registered(GString *s)
{
	g_mutex_lock(&secrets_lock);
	for (guint i = 0; secrets != NULL && i < secrets->len; i++) {
		const char *secret = g_ptr_array_index(secrets, i);
		gsize len = strlen(secret);
		gsize from = 0;
		const char *hit;
		while (from < s->len && (hit = strstr(s->str + from, secret)) != NULL) {
			gsize pos = (gsize)(hit - s->str);
			g_string_erase(s, (gssize)pos, (gssize)len);
			g_string_insert(s, (gssize)pos, REDACTED);
			from = pos + strlen(REDACTED);
		}
	}
	g_mutex_unlock(&secrets_lock);
}

/* ---- pattern redaction ---- */

/* Words that make a key name a secret in free text: the settings rule plus the spellings
 * platforms use in headers and cookies. */
static const char *const secret_words[] = {
	"secret", "password", "passwd", "token", "key", "ticket", "cookie", "authorization",
	"credential", NULL
};

static gsize secret_word_at(const char *p)
{
	for (guint i = 0; secret_words[i] != NULL; i++) {
		gsize n = strlen(secret_words[i]);
		if (g_ascii_strncasecmp(p, secret_words[i], n) == 0)
			return n;
	}
	return 0;
}

static gboolean is_key_char(char c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

static gboolean is_value_end(char c)
{
	return c == '\0' || strchr(" \t\r\n&;,}])<>\"'", c) != NULL;
}

static const char *line_end(const char *p)
{
	while (*p != '\0' && *p != '\r' && *p != '\n')
		p++;
	return p;
}

/* If the secret-named key ending at key_end starts a pair, the span of its value. */
static gboolean find_pair_value(const char *key_end, const char **vstart, const char **vend)
{
	const char *p = key_end;
	gboolean key_quoted = FALSE;
	/* The key's closing quote, possibly escaped (JSON inside a JSON string). */
	while (*p == '\\' || *p == '"' || *p == '\'') {
		key_quoted |= *p != '\\';
		p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	char sep = *p;
	if (sep != '=' && sep != ':')
		return FALSE;
	if (sep == ':' && p[1] == '/' && p[2] == '/')
		return FALSE;  /* a URI scheme, handled elsewhere */
	p++;
	while (*p == ' ' || *p == '\t')
		p++;

	const char *q = p;
	while (*q == '\\')
		q++;
	if (*q == '"' || *q == '\'') {
		char quote = *q;
		gsize escapes = (gsize)(q - p);
		const char *s = q + 1, *e = s;
		if (escapes == 0) {
			while (*e != '\0' && *e != quote) {
				if (*e == '\\' && e[1] != '\0')
					e++;
				e++;
			}
		} else {
			/* Escaped quotes: the value ends at the next quote, minus its escapes. */
			while (*e != '\0' && *e != quote)
				e++;
			if (*e == quote) {
				gsize k = 0;
				while (k < escapes && e - k > s && e[-1 - (gssize)k] == '\\')
					k++;
				e -= k;
			}
		}
		if (*e == '\0')
			e = line_end(s);
		*vstart = s;
		*vend = e;
		return e > s;
	}
	if (sep == ':' && !key_quoted) {
		/* "Authorization: Bearer ..." — a header-like line: the rest of it. */
		*vstart = p;
		*vend = line_end(p);
		return *vend > p;
	}
	const char *e = p;
	while (!is_value_end(*e))
		e++;
	*vstart = p;
	*vend = e;
	return e > p;
}

/* The password span of "scheme://user:password@host" starting at "://". */
static gboolean find_uri_password(const char *sep, const char **vstart, const char **vend)
{
	const char *auth = sep + 3;
	const char *end = auth;
	while (*end != '\0' && *end != '/' && *end != '?' && *end != '#' &&
	       !g_ascii_isspace(*end) && *end != '"' && *end != '\'')
		end++;
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;  /* the last '@' ends the userinfo */
	if (at == NULL)
		return FALSE;
	const char *colon = memchr(auth, ':', (gsize)(at - auth));
	if (colon == NULL || colon + 1 >= at)
		return FALSE;
	*vstart = colon + 1;
	*vend = at;
	return TRUE;
}

static char *redact_patterns(const char *text)
{
	GString *out = g_string_sized_new(strlen(text) + 16);
	const char *last = text;  /* copied up to here */
	const char *p = text;

	while (*p != '\0') {
		const char *vs = NULL, *ve = NULL;
		gsize wlen;

		if (p[0] == ':' && p[1] == '/' && p[2] == '/' && find_uri_password(p, &vs, &ve)) {
			/* handled below */
		} else if (g_ascii_strncasecmp(p, "bearer ", 7) == 0 &&
		           (p == text || !is_key_char(p[-1]))) {
			vs = p + 7;
			while (*vs == ' ')
				vs++;
			ve = vs;
			while (!is_value_end(*ve))
				ve++;
			if (ve == vs)
				vs = ve = NULL;
		} else if ((wlen = secret_word_at(p)) > 0) {
			const char *ke = p + wlen;
			while (is_key_char(*ke))
				ke++;
			if (!find_pair_value(ke, &vs, &ve)) {
				vs = ve = NULL;
				p = ke;
				continue;
			}
		}

		if (vs != NULL && ve > vs) {
			g_string_append_len(out, last, vs - last);
			g_string_append(out, REDACTED);
			last = p = ve;
			continue;
		}
		p++;
	}
	g_string_append(out, last);
	return g_string_free(out, FALSE);
}

char *pk_redact(const char *text)
{
	if (text == NULL)
		return NULL;
	GString *s = g_string_new(text);
	replace_registered(s);
	char *r = redact_patterns(s->str);
	g_string_free(s, TRUE);
	return r;
}

char *pk_settings_to_redacted_json(GHashTable *settings)
{
	json_t *obj = json_object();
	if (settings != NULL) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, settings);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			g_autofree char *key = g_utf8_make_valid(k, -1);
			g_autofree char *redacted = pk_redact(v != NULL ? v : "");
			g_autofree char *value = pk_settings_key_is_secret(k)
			                             ? g_strdup(REDACTED)
			                             : g_utf8_make_valid(redacted, -1);
			json_object_set_new(obj, key, json_string(value));
		}
	}
	char *dump = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	char *r = g_strdup(dump != NULL ? dump : "{}");
	free(dump);
	return r;
}

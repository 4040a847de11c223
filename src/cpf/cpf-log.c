/* prlkit-cpf — logging and secret redaction. MIT license. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cpf-log.h"

/* Threshold, read by the writer on any thread. */
static gint log_level = CPF_LOG_INFO;                   /* atomic */
static gboolean log_to_stderr = TRUE;                   /* immutable after init */
static int log_fd = -1;                                 /* sink_lock */
static GMutex sink_lock;                                /* one line at a time */

/* Registered secret values, longest first so a secret containing another is redacted
 * whole. */
static GPtrArray *secrets;                              /* secrets_lock */
static GMutex secrets_lock;

gboolean
cpf_log_level_parse(const char *text, cpf_log_level *out)
{
	static const struct { const char *name; cpf_log_level level; } names[] = {
		{ "error", CPF_LOG_ERROR }, { "critical", CPF_LOG_ERROR },
		{ "warning", CPF_LOG_WARNING }, { "warn", CPF_LOG_WARNING },
		{ "info", CPF_LOG_INFO }, { "message", CPF_LOG_INFO },
		{ "debug", CPF_LOG_DEBUG }, { "trace", CPF_LOG_DEBUG },
	};
	g_autofree char *t = NULL;

	if (!text)
		return FALSE;
	t = g_strstrip(g_ascii_strdown(text, -1));
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strcmp(t, names[i].name) == 0) {
			*out = names[i].level;
			return TRUE;
		}
	}
	return FALSE;
}

void
cpf_log_set_level(cpf_log_level level)
{
	g_atomic_int_set(&log_level, (gint)level);
}

gboolean
cpf_log_enabled(cpf_log_level level)
{
	return (gint)level <= g_atomic_int_get(&log_level);
}

/* ---- redaction ---- */

gboolean
cpf_key_is_secret(const char *key)
{
	static const char *const words[] = { "secret", "password", "token", "key" };
	g_autofree char *k = NULL;

	if (!key)
		return FALSE;
	k = g_ascii_strdown(key, -1);
	for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
		if (strstr(k, words[i]))
			return TRUE;
	return FALSE;
}

/* Words that make the value after them secret in free text: the settings rule plus the
 * credentials HTTP clients print (cookies, tickets, authorization headers). */
static gboolean
redact_word_is_secret(const char *word, gsize len)
{
	static const char *const words[] = {
		"secret", "password", "passwd", "token", "key", "cookie", "ticket", "authorization",
	};
	g_autofree char *w = g_ascii_strdown(word, (gssize)len);

	for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
		if (strstr(w, words[i]))
			return TRUE;
	return FALSE;
}

static gint
secret_longer_first(gconstpointer a, gconstpointer b)
{
	gsize la = strlen(*(const char *const *)a), lb = strlen(*(const char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

void
cpf_log_add_secret(const char *value)
{
	if (!value || strlen(value) < 4)
		return;
	g_mutex_lock(&secrets_lock);
	if (!secrets)
		secrets = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < secrets->len; i++) {
		if (strcmp(secrets->pdata[i], value) == 0) {
			g_mutex_unlock(&secrets_lock);
			return;
		}
	}
	g_ptr_array_add(secrets, g_strdup(value));
	g_ptr_array_sort(secrets, secret_longer_first);
	g_mutex_unlock(&secrets_lock);
}

static void
add_secret_json_value(json_t *v)
{
	if (json_is_string(v)) {
		cpf_log_add_secret(json_string_value(v));
	} else if (json_is_integer(v) || json_is_real(v)) {
		g_autofree char *s = json_dumps(v, JSON_ENCODE_ANY);
		cpf_log_add_secret(s);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
			add_secret_json_value(item);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *item;
		json_object_foreach(v, k, item)
			add_secret_json_value(item);
	}
}

void
cpf_log_add_secrets_from_json(json_t *settings)
{
	const char *key;
	json_t *value;

	if (json_is_array(settings)) {
		size_t i;
		json_array_foreach(settings, i, value)
			cpf_log_add_secrets_from_json(value);
		return;
	}
	if (!json_is_object(settings))
		return;
	json_object_foreach(settings, key, value) {
		if (cpf_key_is_secret(key))
			add_secret_json_value(value);
		else
			cpf_log_add_secrets_from_json(value);
	}
}

static gboolean
is_word_char(char c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* Length of the value starting at p (after "key=" etc.): a quoted string, or a run up to
 * a delimiter. For authorization-like keys a scheme word ("Basic x", "Bearer x") is taken
 * with its credential. */
static gsize
secret_value_len(const char *p, gboolean with_scheme)
{
	const char *q = p;

	if (*q == '"' || *q == '\'') {
		char quote = *q++;
		while (*q && *q != quote) {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		return (gsize)(q - p) + (*q ? 1 : 0);
	}
	while (*q && !g_ascii_isspace(*q) && !strchr(",;&}])\"'", *q))
		q++;
	if (with_scheme && *q == ' ' && q > p) {
		q++;
		while (*q && !g_ascii_isspace(*q) && !strchr(",;&}])\"'", *q))
			q++;
	}
	return (gsize)(q - p);
}

/* Replaces the value of every secret-named "key=value", "key: value" and "\"key\":\"value\""
 * and the password of "scheme://user:password@host". */
static char *
redact_patterns(const char *text)
{
	GString *out = g_string_sized_new(strlen(text) + 8);
	const char *p = text;

	while (*p) {
		/* URI userinfo password */
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			const char *u = p + 3, *colon = NULL, *at = NULL;
			for (const char *q = u; *q && !g_ascii_isspace(*q) && *q != '/'; q++) {
				if (*q == ':' && !colon)
					colon = q;
				if (*q == '@') {
					at = q;
					break;
				}
			}
			if (colon && at && colon < at) {
				g_string_append_len(out, p, colon + 1 - p);
				g_string_append(out, "***");
				p = at;
				continue;
			}
		}
		if (is_word_char(*p) && (p == text || !is_word_char(p[-1]))) {
			const char *w = p, *q;
			gsize wlen;

			while (is_word_char(*p))
				p++;
			wlen = (gsize)(p - w);
			g_string_append_len(out, w, wlen);
			if (!redact_word_is_secret(w, wlen))
				continue;
			q = p;
			if (*q == '"' || *q == '\'')
				q++;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q != '=' && *q != ':')
				continue;
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			{
				gboolean scheme = g_ascii_strncasecmp(w, "authorization", wlen) == 0 ||
				                  g_ascii_strncasecmp(w, "proxy-authorization", wlen) == 0;
				gsize vlen = secret_value_len(q, scheme);
				if (vlen == 0)
					continue;
				g_string_append_len(out, p, q - p);
				if (*q == '"' || *q == '\'')
					g_string_append_printf(out, "%c***%c", *q, *q);
				else
					g_string_append(out, "***");
				p = q + vlen;
			}
			continue;
		}
		g_string_append_c(out, *p++);
	}
	return g_string_free(out, FALSE);
}

char *
cpf_redact(const char *text)
{
	g_autofree char *known = NULL;

	if (!text)
		return g_strdup("");
	g_mutex_lock(&secrets_lock);
	if (secrets && secrets->len) {
		GString *s = g_string_new(text);
		for (guint i = 0; i < secrets->len; i++)
			g_string_replace(s, secrets->pdata[i], "***", 0);
		known = g_string_free(s, FALSE);
	} else {
		known = g_strdup(text);
	}
	g_mutex_unlock(&secrets_lock);
	return redact_patterns(known);
}

static json_t *
redacted_copy(json_t *v)
{
	if (json_is_object(v)) {
		json_t *o = json_object();
		const char *k;
		json_t *item;
		json_object_foreach(v, k, item) {
			if (cpf_key_is_secret(k))
				json_object_set_new(o, k, json_string("***"));
			else
				json_object_set_new(o, k, redacted_copy(item));
		}
		return o;
	}
	if (json_is_array(v)) {
		json_t *a = json_array();
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
			json_array_append_new(a, redacted_copy(item));
		return a;
	}
	return json_incref(v);
}

char *
cpf_settings_redacted_json(json_t *settings)
{
	json_t *copy = redacted_copy(settings);
	char *text = json_dumps(copy, JSON_COMPACT | JSON_ENCODE_ANY);
	char *out;

	json_decref(copy);
	/* Values registered as secrets may also sit under innocent keys. */
	out = cpf_redact(text ? text : "null");
	free(text);
	return out;
}

/* ---- the writer ---- */

static void
write_all(int fd, const char *buf, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (gsize)n;
	}
}

static const char *
level_name(GLogLevelFlags level, cpf_log_level *out)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		*out = CPF_LOG_ERROR;
		return level & G_LOG_LEVEL_ERROR ? "ERROR" : "CRITICAL";
	}
	if (level & G_LOG_LEVEL_WARNING) {
		*out = CPF_LOG_WARNING;
		return "WARNING";
	}
	if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
		*out = CPF_LOG_INFO;
		return "INFO";
	}
	*out = CPF_LOG_DEBUG;
	return "DEBUG";
}

static GLogWriterOutput
cpf_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	const char *message = NULL, *domain = NULL;
	cpf_log_level lvl;
	const char *lname = level_name(level, &lvl);
	g_autofree char *clean = NULL, *line = NULL, *stamp = NULL;
	g_autoptr(GDateTime) now = NULL;

	if (!cpf_log_enabled(lvl))
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
			message = fields[i].value;
		else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
			domain = fields[i].value;
	}
	clean = cpf_redact(message ? message : "");
	/* One record per line, whatever the message holds. */
	for (char *c = clean; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	now = g_date_time_new_now_utc();
	stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
	/* %f gives microseconds; milliseconds are enough. */
	if (stamp && strlen(stamp) == 27)
		memmove(stamp + 23, stamp + 26, 2);
	line = g_strdup_printf("%s prlkit-cpf[%d]: %s %s: %s\n", stamp ? stamp : "-", (int)getpid(),
	                       lname, domain ? domain : "prlkit", clean);
	g_mutex_lock(&sink_lock);
	if (log_to_stderr || log_fd < 0)
		write_all(STDERR_FILENO, line, strlen(line));
	if (log_fd >= 0)
		write_all(log_fd, line, strlen(line));
	g_mutex_unlock(&sink_lock);
	return G_LOG_WRITER_HANDLED;
}

void
cpf_log_init(cpf_log_level level, const char *log_file, gboolean to_stderr)
{
	cpf_log_set_level(level);
	log_to_stderr = to_stderr;
	if (log_file && *log_file) {
		int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			g_autofree char *msg = g_strdup_printf(
				"prlkit-cpf: cannot open log file '%s': %s; logging to stderr only\n",
				log_file, g_strerror(errno));
			write_all(STDERR_FILENO, msg, strlen(msg));
			log_to_stderr = TRUE;
		} else {
			log_fd = fd;
		}
	}
	g_log_set_writer_func(cpf_log_writer, NULL, NULL);
}

void
cpf_log_shutdown(void)
{
	g_mutex_lock(&sink_lock);
	if (log_fd >= 0) {
		close(log_fd);
		log_fd = -1;
	}
	g_mutex_unlock(&sink_lock);
}

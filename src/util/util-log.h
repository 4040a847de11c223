/* Logging with secret redaction. Secrets never reach logs, stderr, error messages or task
 * ids: register every secret value with pk_log_add_secret and pass free text through
 * pk_redact before it leaves the process. Log domain per folder (G_LOG_DOMAIN).
 *
 * The library logs with GLib's structured logging (g_debug, g_info, g_warning, ...) and
 * installs no writer of its own; pk_log_init makes GLib's default writer send every level
 * to stderr, so nothing the library logs ever reaches stdout (prlkit-cpf owns stdout). */
#ifndef PRLKIT_UTIL_LOG_H
#define PRLKIT_UTIL_LOG_H

#include <glib.h>

G_BEGIN_DECLS

/* Idempotent; called by PrlApi_InitEx and by programs before they log. Sets the threshold
 * from PRLKIT_DEBUG (once) and routes GLib's default writer to stderr. */
void pk_log_init(void);

/* Remember a secret value (process-wide; values shorter than 4 bytes are ignored). Its
 * JSON-escaped and percent-encoded spellings are remembered too. */
void pk_log_add_secret(const char *value);
/* Register every secret-named value of a settings map (boolean words are skipped). */
void pk_log_add_secrets_from_settings(GHashTable *settings);
/* A copy of text with every registered secret, and the value of any "key=value" /
 * "\"key\":\"value\"" / "key: value" (to the end of the line) pair whose key names a secret,
 * and the password of a URI's "user:password@", replaced by "***". NULL → NULL. */
char *pk_redact(const char *text);
/* Redacted copy of a settings map as JSON text (sorted keys), for logging. */
char *pk_settings_to_redacted_json(GHashTable *settings);

/* Threshold: "error", "warning" (the default; includes messages), "info", "debug". NULL
 * means "from PRLKIT_DEBUG". "", "0", "false", "no", "off" mean the default; any other
 * unknown word (e.g. PRLKIT_DEBUG=1) means "debug". Info and debug also enable GLib's
 * output of those levels. */
void pk_log_set_level(const char *level);
gboolean pk_log_level_enabled(GLogLevelFlags level);

/* Log at debug level only when enabled (skips formatting otherwise). */
#define PK_DEBUG(...) \
	do { if (pk_log_level_enabled(G_LOG_LEVEL_DEBUG)) g_debug(__VA_ARGS__); } while (0)

G_END_DECLS
#endif

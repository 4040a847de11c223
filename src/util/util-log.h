/* Logging with secret redaction. Secrets never reach logs, stderr, error messages or task
 * ids: register every secret value with pk_log_add_secret and pass free text through
 * pk_redact before it leaves the process. Log domain per folder (G_LOG_DOMAIN). */
#ifndef PRLKIT_UTIL_LOG_H
#define PRLKIT_UTIL_LOG_H

#include <glib.h>

G_BEGIN_DECLS

/* Remember a secret value (process-wide; values shorter than 4 bytes are ignored). */
void pk_log_add_secret(const char *value);
/* Register every secret-named value of a settings map. */
void pk_log_add_secrets_from_settings(GHashTable *settings);
/* A copy of text with every registered secret, and the value of any "key=value" /
 * "\"key\":\"value\"" pair whose key names a secret, replaced by "***". */
char *pk_redact(const char *text);
/* Redacted copy of a settings map as JSON text, for logging. */
char *pk_settings_to_redacted_json(GHashTable *settings);

/* Threshold from PRLKIT_DEBUG / explicit level: "error", "warning", "info", "debug". */
void pk_log_set_level(const char *level);
gboolean pk_log_level_enabled(GLogLevelFlags level);

G_END_DECLS
#endif

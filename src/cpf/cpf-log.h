/* prlkit-cpf — logging to stderr and/or a file (never stdout), with secret redaction.
 * MIT license.
 *
 * Every GLib log message of the process (ours and the library's) goes through one writer
 * installed by cpf_log_init: filtered by level, redacted, one line each. */
#ifndef PRLKIT_CPF_LOG_H
#define PRLKIT_CPF_LOG_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef enum {
	CPF_LOG_ERROR,
	CPF_LOG_WARNING,
	CPF_LOG_INFO,
	CPF_LOG_DEBUG,
} cpf_log_level;

/* "error", "warning", "info", "debug" (any case; "warn" too). FALSE if unknown. */
gboolean cpf_log_level_parse(const char *text, cpf_log_level *out);

/* Installs the process-wide GLib writer. log_file may be NULL (stderr only). A log file
 * that cannot be opened is reported on stderr and logging continues there. */
void cpf_log_init(cpf_log_level level, const char *log_file, gboolean to_stderr);
void cpf_log_set_level(cpf_log_level level);
gboolean cpf_log_enabled(cpf_log_level level);
/* Flushes and closes the log file (the writer keeps working on stderr). */
void cpf_log_shutdown(void);

/* TRUE when a settings key names a secret: contains secret, password, token or key
 * (case-insensitive). */
gboolean cpf_key_is_secret(const char *key);
/* Remembers a secret value; values shorter than 4 bytes are not registered (they would
 * blank out ordinary words) — such secrets are still never logged by key. */
void cpf_log_add_secret(const char *value);
/* Registers the value of every secret-named key of a settings object (any depth). */
void cpf_log_add_secrets_from_json(json_t *settings);

/* A copy of text with every registered secret, and the value of any key=value,
 * key: value or "key":"value" pair whose key names a secret, replaced by "***". */
char *cpf_redact(const char *text);
/* Compact JSON of a settings object with every secret-named value replaced by "***". */
char *cpf_settings_redacted_json(json_t *settings);

G_END_DECLS
#endif

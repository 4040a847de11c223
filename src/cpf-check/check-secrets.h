/* prlkit-cpf-check: secrets taken from the provider settings, and redaction of every text
 * the checker prints (TAP diagnostics, --verbose logs). */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct cc_secrets cc_secrets;

/* TRUE when a settings key names a secret: it contains "secret", "password", "token" or
 * "key" (any case). */
gboolean cc_secrets_key_is_secret(const char *key);

/* Collects the values of the secret-named members of a settings object (strings and
 * numbers; values shorter than CC_SECRET_MIN_LEN bytes are too common to redact). */
#define CC_SECRET_MIN_LEN 4
cc_secrets *cc_secrets_new(json_t *settings);
void cc_secrets_free(cc_secrets *secrets);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cc_secrets, cc_secrets_free)

/* TRUE when the settings held at least one secret value. */
gboolean cc_secrets_any(const cc_secrets *secrets);

/* A copy of text with every secret value (raw or JSON-escaped) replaced by "***". NULL
 * secrets copies the text. */
char *cc_secrets_redact(const cc_secrets *secrets, const char *text);

/* TRUE when text contains a secret value (raw or JSON-escaped). */
gboolean cc_secrets_found_in(const cc_secrets *secrets, const char *text);

/* A copy of a settings object with secret-named members replaced by "***", for logs. */
json_t *cc_secrets_redact_settings(json_t *settings);

/* prlkit-cpf-check: secret values and redaction. */
#include "config.h"

#include <string.h>

#include "check-secrets.h"

struct cc_secrets {
    /* Every form a secret may take in a line of text, longest first so that a secret that
     * contains another one is replaced whole. Immutable after cc_secrets_new. */
    GPtrArray *forms;
};

static const char *const secret_words[] = { "secret", "password", "token", "key" };

gboolean
cc_secrets_key_is_secret(const char *key)
{
    g_autofree char *lower = g_ascii_strdown(key, -1);

    for (gsize i = 0; i < G_N_ELEMENTS(secret_words); i++) {
        if (strstr(lower, secret_words[i]))
            return TRUE;
    }
    return FALSE;
}

static void
secrets_add_form(cc_secrets *secrets, const char *form)
{
    if (strlen(form) < CC_SECRET_MIN_LEN)
        return;
    for (guint i = 0; i < secrets->forms->len; i++) {
        if (strcmp(g_ptr_array_index(secrets->forms, i), form) == 0)
            return;
    }
    g_ptr_array_add(secrets->forms, g_strdup(form));
}

/* The text between the quotes of a JSON string encoding of value. */
static void
secrets_add_json_form(cc_secrets *secrets, const char *value, size_t flags)
{
    json_t *str = json_string(value);
    char *dumped = str ? json_dumps(str, JSON_ENCODE_ANY | flags) : NULL;

    if (dumped && strlen(dumped) >= 2) {
        dumped[strlen(dumped) - 1] = '\0';
        secrets_add_form(secrets, dumped + 1);
    }
    free(dumped);
    json_decref(str);
}

static gint
compare_longest_first(gconstpointer a, gconstpointer b)
{
    const char *sa = *(const char *const *)a;
    const char *sb = *(const char *const *)b;
    size_t la = strlen(sa), lb = strlen(sb);

    return la == lb ? 0 : (la > lb ? -1 : 1);
}

cc_secrets *
cc_secrets_new(json_t *settings)
{
    cc_secrets *secrets = g_new0(cc_secrets, 1);
    const char *key;
    json_t *value;

    secrets->forms = g_ptr_array_new_with_free_func(g_free);
    if (!json_is_object(settings))
        return secrets;

    json_object_foreach(settings, key, value) {
        g_autofree char *text = NULL;

        if (!cc_secrets_key_is_secret(key))
            continue;
        if (json_is_string(value))
            text = g_strdup(json_string_value(value));
        else if (json_is_number(value))
            text = json_dumps(value, JSON_ENCODE_ANY);
        if (!text || !g_utf8_validate(text, -1, NULL))
            continue;
        secrets_add_form(secrets, text);
        secrets_add_json_form(secrets, text, 0);
        secrets_add_json_form(secrets, text, JSON_ENSURE_ASCII);
    }
    g_ptr_array_sort(secrets->forms, compare_longest_first);
    return secrets;
}

void
cc_secrets_free(cc_secrets *secrets)
{
    if (!secrets)
        return;
    g_ptr_array_unref(secrets->forms);
    g_free(secrets);
}

gboolean
cc_secrets_any(const cc_secrets *secrets)
{
    return secrets && secrets->forms->len > 0;
}

char *
cc_secrets_redact(const cc_secrets *secrets, const char *text)
{
    GString *out;

    if (!text)
        return NULL;
    if (!cc_secrets_any(secrets))
        return g_strdup(text);

    out = g_string_new(text);
    for (guint i = 0; i < secrets->forms->len; i++)
        g_string_replace(out, g_ptr_array_index(secrets->forms, i), "***", 0);
    return g_string_free(out, FALSE);
}

gboolean
cc_secrets_found_in(const cc_secrets *secrets, const char *text)
{
    if (!text || !cc_secrets_any(secrets))
        return FALSE;
    for (guint i = 0; i < secrets->forms->len; i++) {
        if (strstr(text, g_ptr_array_index(secrets->forms, i)))
            return TRUE;
    }
    return FALSE;
}

json_t *
cc_secrets_redact_settings(json_t *settings)
{
    json_t *copy = json_deep_copy(settings);
    const char *key;
    json_t *value;

    if (!json_is_object(copy))
        return copy;
    json_object_foreach(copy, key, value) {
        if (cc_secrets_key_is_secret(key) && !json_is_null(value))
            json_object_set_new(copy, key, json_string("***"));
    }
    return copy;
}

/* prlkit-cpf-check: TAP output. Single-threaded: only the main thread prints. */
#include "config.h"

#include <string.h>

#include "check-tap.h"

struct cc_tap {
    FILE *out;                  /* borrowed */
    const cc_secrets *secrets;  /* borrowed, may be NULL */
    GStrv user_skips;           /* owned, may be NULL */
    guint number;               /* tests printed so far */
    guint passed, failed, skipped;
    gboolean in_test;           /* a cc_test is open */
};

struct cc_test {
    cc_tap *tap;
    char *name;
    char *description;
    GPtrArray *lines;           /* diagnostics in the order they were recorded */
    guint failures;
    char *skip_reason;          /* NULL unless skipped */
};

cc_tap *
cc_tap_new(FILE *out, const cc_secrets *secrets)
{
    cc_tap *tap = g_new0(cc_tap, 1);

    tap->out = out;
    tap->secrets = secrets;
    return tap;
}

void
cc_tap_free(cc_tap *tap)
{
    if (!tap)
        return;
    g_strfreev(tap->user_skips);
    g_free(tap);
}

void
cc_tap_set_user_skips(cc_tap *tap, const char *const *names)
{
    g_strfreev(tap->user_skips);
    tap->user_skips = names ? g_strdupv((char **)names) : NULL;
}

gboolean
cc_tap_user_skips(const cc_tap *tap, const char *name)
{
    return tap->user_skips && g_strv_contains((const char *const *)tap->user_skips, name);
}

/* Prints one line, redacted, with any embedded line break turned into a new "#" line so
 * that a provider message can never forge a TAP line. */
static void
tap_print_diag(cc_tap *tap, const char *prefix, const char *text)
{
    g_autofree char *redacted = cc_secrets_redact(tap->secrets, text);
    g_auto(GStrv) parts = g_strsplit_set(redacted, "\r\n", -1);

    for (guint i = 0; parts[i]; i++) {
        if (i > 0 && parts[i][0] == '\0')
            continue;
        fprintf(tap->out, "# %s%s\n", prefix, parts[i]);
    }
}

/* Keeps a name or reason on one line. */
static char *
tap_one_line(const cc_tap *tap, const char *text)
{
    char *line = cc_secrets_redact(tap->secrets, text);

    g_strdelimit(line, "\r\n#", ' ');
    return line;
}

cc_test *
cc_tap_begin(cc_tap *tap, const char *name, const char *description)
{
    cc_test *test = g_new0(cc_test, 1);

    g_return_val_if_fail(!tap->in_test, NULL);
    tap->in_test = TRUE;
    test->tap = tap;
    test->name = g_strdup(name);
    test->description = g_strdup(description);
    test->lines = g_ptr_array_new_with_free_func(g_free);
    return test;
}

void
cc_test_fail(cc_test *test, const char *format, ...)
{
    va_list args;
    g_autofree char *text = NULL;

    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    g_ptr_array_add(test->lines, g_strconcat("FAIL: ", text, NULL));
    test->failures++;
}

void
cc_test_note(cc_test *test, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_ptr_array_add(test->lines, g_strdup_vprintf(format, args));
    va_end(args);
}

void
cc_test_skip(cc_test *test, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_free(test->skip_reason);
    test->skip_reason = g_strdup_vprintf(format, args);
    va_end(args);
}

gboolean
cc_test_failed(const cc_test *test)
{
    return test->failures > 0;
}

gboolean
cc_test_end(cc_test *test)
{
    cc_tap *tap = test->tap;
    gboolean ok = test->failures == 0;
    g_autofree char *description = tap_one_line(tap, test->description);

    tap->number++;
    if (!ok) {
        tap->failed++;
        fprintf(tap->out, "not ok %u - %s: %s\n", tap->number, test->name, description);
    } else if (test->skip_reason) {
        g_autofree char *reason = tap_one_line(tap, test->skip_reason);

        tap->skipped++;
        fprintf(tap->out, "ok %u - %s: %s # SKIP %s\n", tap->number, test->name, description,
                reason);
    } else {
        tap->passed++;
        fprintf(tap->out, "ok %u - %s: %s\n", tap->number, test->name, description);
    }
    for (guint i = 0; i < test->lines->len; i++)
        tap_print_diag(tap, "  ", g_ptr_array_index(test->lines, i));
    fflush(tap->out);

    tap->in_test = FALSE;
    g_ptr_array_unref(test->lines);
    g_free(test->skip_reason);
    g_free(test->description);
    g_free(test->name);
    g_free(test);
    return ok;
}

char *
cc_test_discard(cc_test *test)
{
    GString *failures = g_string_new(NULL);

    for (guint i = 0; i < test->lines->len; i++) {
        const char *line = g_ptr_array_index(test->lines, i);

        if (!g_str_has_prefix(line, "FAIL: "))
            continue;
        if (failures->len)
            g_string_append(failures, "; ");
        g_string_append(failures, line + strlen("FAIL: "));
    }
    test->tap->in_test = FALSE;
    g_ptr_array_unref(test->lines);
    g_free(test->skip_reason);
    g_free(test->description);
    g_free(test->name);
    g_free(test);
    return g_string_free(failures, failures->len == 0);
}

void
cc_tap_skip(cc_tap *tap, const char *name, const char *description, const char *format, ...)
{
    cc_test *test = cc_tap_begin(tap, name, description);
    g_autofree char *reason = NULL;
    va_list args;

    va_start(args, format);
    reason = g_strdup_vprintf(format, args);
    va_end(args);
    cc_test_skip(test, "%s", reason);
    cc_test_end(test);
}

void
cc_tap_diag(cc_tap *tap, const char *format, ...)
{
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    tap_print_diag(tap, "", text);
    fflush(tap->out);
}

void
cc_tap_bail_out(cc_tap *tap, const char *format, ...)
{
    g_autofree char *text = NULL;
    g_autofree char *line = NULL;
    va_list args;

    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    line = tap_one_line(tap, text);
    fprintf(tap->out, "Bail out! %s\n", line);
    fflush(tap->out);
}

guint
cc_tap_finish(cc_tap *tap)
{
    fprintf(tap->out, "1..%u\n", tap->number);
    fprintf(tap->out, "%u passed, %u failed", tap->passed, tap->failed);
    if (tap->skipped)
        fprintf(tap->out, " (%u skipped)", tap->skipped);
    fputc('\n', tap->out);
    fflush(tap->out);
    return tap->failed;
}

/* prlkit-cpf-check: TAP output. A test collects its failures and notes while it runs and
 * is printed as one "ok"/"not ok" line followed by "#" diagnostics when it ends, so that
 * output stays readable whatever the test does in between. Every printed text goes
 * through secret redaction. */
#pragma once

#include <stdio.h>
#include <glib.h>

#include "check-secrets.h"

typedef struct cc_tap cc_tap;
typedef struct cc_test cc_test;

/* out: where TAP goes (stdout). secrets: borrowed, may be NULL. */
cc_tap *cc_tap_new(FILE *out, const cc_secrets *secrets);
void cc_tap_free(cc_tap *tap);

/* Names the user asked to skip (--skip); skipping is decided by the suites through
 * cc_tap_user_skips. */
void cc_tap_set_user_skips(cc_tap *tap, const char *const *names);
gboolean cc_tap_user_skips(const cc_tap *tap, const char *name);

/* Starts a test. Tests do not nest. */
cc_test *cc_tap_begin(cc_tap *tap, const char *name, const char *description);
/* Records a failure (the test will print "not ok"); several may be recorded. */
void cc_test_fail(cc_test *test, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Records a diagnostic line printed under the test whatever its outcome. */
void cc_test_note(cc_test *test, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Marks the test skipped (unless it already failed). */
void cc_test_skip(cc_test *test, const char *format, ...) G_GNUC_PRINTF(2, 3);
gboolean cc_test_failed(const cc_test *test);
/* Prints the test and frees it; returns TRUE when it passed or was skipped. */
gboolean cc_test_end(cc_test *test);

/* Frees a test without printing or counting it; returns its failures joined by "; "
 * (NULL when it had none). For work that is not a test of its own, such as discovery. */
char *cc_test_discard(cc_test *test);

/* A test that is skipped without running. */
void cc_tap_skip(cc_tap *tap, const char *name, const char *description,
                 const char *format, ...) G_GNUC_PRINTF(4, 5);
/* A "#" diagnostic line outside any test. */
void cc_tap_diag(cc_tap *tap, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* "Bail out!" line, for when nothing can be checked at all. */
void cc_tap_bail_out(cc_tap *tap, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Prints the plan and the "N passed, M failed" line; returns the number of failures. */
guint cc_tap_finish(cc_tap *tap);

/* A test a suite can run: its name (for --skip and the TAP line) and what it checks. */
typedef struct {
    const char *name;
    const char *description;
} cc_test_info;

/* prlkit-cpf-check: protocol probes (framing, envelopes, capabilities, guest objects,
 * error handling) and the checks that cover every session (exit on EOF, stdout purity,
 * secrets). */
#pragma once

#include "check-session.h"
#include "check-tap.h"

typedef struct {
    guint max_guests;            /* guests checked by guest-objects; 0 = all */
} cc_protocol_options;

/* NULL-terminated tables, in running order. */
extern const cc_test_info cc_protocol_tests[];
extern const cc_test_info cc_final_tests[];

/* Runs the protocol tests on session (a fresh one, not started yet). */
void cc_protocol_run(cc_session *session, cc_tap *tap, const cc_protocol_options *options);

/* Closes every session (NULL entries are ignored) and reports exit-on-eof, stdout-purity
 * and no-secrets-in-replies over all of them. */
void cc_final_run(cc_session *const *sessions, guint n_sessions, double grace,
                  gboolean have_secrets, cc_tap *tap);

/* prlkit-cpf-check: the RAS workflows of CPF.md §7 (Create template, Enter maintenance,
 * Exit maintenance, Create host), run as RAS runs them: tasks polled at
 * tasks_polling_rate up to tasks_polling_retries times, guests polled at
 * guests_polling_rate, both scaled by --poll-scale. Everything they change is restored at
 * the end (the "cleanup" test). */
#pragma once

#include "check-session.h"
#include "check-tap.h"

typedef struct {
    const char *guest_id;        /* --guest: Create template's guest, NULL = discover */
    const char *template_id;     /* --template: template for the others, NULL = discover */
    const char *clone_name;      /* name of Create host's clone */
    double poll_scale;           /* multiplies the advertised polling rates */
    guint max_guests;            /* guests examined by discovery; 0 = all */
} cc_workflow_options;

/* Guest state polls allowed when tasks_polling_retries is smaller. */
#define CC_MIN_GUEST_POLLS 20

#define CC_TEMPLATE_SNAPSHOT "RAS Template Snapshot"
#define CC_VERSION_PREFIX "RAS_TEMPLATE_VERSION_"

/* NULL-terminated, in running order. */
extern const cc_test_info cc_workflow_tests[];

/* Runs the workflows on session (a fresh one, not started yet). */
void cc_workflows_run(cc_session *session, cc_tap *tap, const cc_workflow_options *options);

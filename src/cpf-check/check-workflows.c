/* prlkit-cpf-check: the RAS workflows. */
#include "config.h"

#include <string.h>

#include "check-workflows.h"

const cc_test_info cc_workflow_tests[] = {
    { "create-template", "stop, snapshot for the level, convert to a template" },
    { "enter-maintenance", "version 1: convert to a VM, revert, start, "
      "wait for powered_on" },
    { "exit-maintenance-v1", "version 1: stop, replace the snapshot, convert "
      "to a template" },
    { "exit-maintenance-v2", "version 2: stop, new version snapshot, convert "
      "to a template" },
    { "create-host", "clone from the level's snapshot, start, wait for powered_on, "
      "delete, wait until it is gone" },
    { "cleanup", "every guest used is restored and nothing created is left behind" },
    { NULL, NULL },
};

/* The functionality level RAS derives from the capabilities (CPF.md §4). */
typedef enum {
    LEVEL_BASIC,                 /* template_method none */
    LEVEL_FULL_CLONES,           /* basic, no linked clones: no snapshots */
    LEVEL_LINK_CLONES,           /* basic + can_link_clones: "RAS Template Snapshot" */
    LEVEL_VERSIONS,              /* versioning: RAS_TEMPLATE_VERSION_<n> */
} wf_level;

/* A guest the checker may change, with what it has to put back. */
typedef struct {
    char *id;
    gboolean was_template;       /* as found */
    gboolean was_running;        /* as found: powered_on or powering_on */
    gboolean touched;            /* the checker changed it */
    GPtrArray *new_snapshots;    /* char*: created by the checker, did not exist before */
} wf_guest;

/* What discovery saw of a guest before anything was changed. */
typedef struct {
    char *id;
    char *state;
    gboolean is_template;
} wf_summary;

typedef struct {
    cc_session *session;
    cc_tap *tap;
    const cc_workflow_options *options;
    cc_capabilities caps;
    wf_level level;
    char *setup_error;           /* why the workflows cannot run, or NULL */
    GPtrArray *initial_ids;      /* char*: guests/list before any workflow */
    GPtrArray *summaries;        /* wf_summary*: the first max_guests guests */
    GPtrArray *guests;           /* wf_guest*: every guest the checker may change */
    wf_guest *vm;                /* Create template's guest (in guests), or NULL */
    wf_guest *template;          /* the other workflows' template (in guests), or NULL */
    gboolean in_maintenance;     /* template is a started VM after Enter maintenance */
    guint version;               /* versioning: newest version snapshot known good */
    GPtrArray *clones;           /* char*: clones not deleted yet */
} wf_run;

static void
wf_guest_free(gpointer data)
{
    wf_guest *guest = data;

    g_free(guest->id);
    g_ptr_array_unref(guest->new_snapshots);
    g_free(guest);
}

static void
wf_summary_free(gpointer data)
{
    wf_summary *summary = data;

    g_free(summary->id);
    g_free(summary->state);
    g_free(summary);
}

static gboolean
state_is_running(const char *state)
{
    return strcmp(state, "powered_on") == 0 || strcmp(state, "powering_on") == 0;
}

static void
wf_sleep(double seconds)
{
    if (seconds > 0)
        g_usleep((gulong)(seconds * G_USEC_PER_SEC));
}

static double
wf_task_interval(const wf_run *run)
{
    return run->caps.tasks_polling_rate * run->options->poll_scale;
}

static double
wf_guest_interval(const wf_run *run)
{
    return run->caps.guests_polling_rate * run->options->poll_scale;
}

/* The snapshot the level uses for version n, or NULL when it uses none. */
static char *
wf_snapshot_name(const wf_run *run, guint version)
{
    switch (run->level) {
    case LEVEL_VERSIONS:
        return g_strdup_printf(CC_VERSION_PREFIX "%u", version);
    case LEVEL_LINK_CLONES:
        return g_strdup(CC_TEMPLATE_SNAPSHOT);
    case LEVEL_BASIC:
    case LEVEL_FULL_CLONES:
        break;
    }
    return NULL;
}

/* ---- requests ---- */

/* A request that must succeed; a failure is recorded on test. params is stolen. */
static json_t *
wf_call(wf_run *run, cc_test *test, const char *method, json_t *params, const char *what)
{
    g_autoptr(GError) error = NULL;
    json_t *result;

    if (!cc_session_ensure(run->session, CC_STAGE_CONNECTED, &error)) {
        json_decref(params);
        cc_test_fail(test, "%s: no connected provider: %s", what, error->message);
        return NULL;
    }
    result = cc_session_call_result(run->session, method, params, &error);
    if (!result)
        cc_test_fail(test, "%s: %s", what, error->message);
    return result;
}

static gboolean
wf_get(wf_run *run, cc_test *test, const char *id, char **state, gboolean *is_template)
{
    g_autofree char *what = g_strdup_printf("guests/get %s", id);
    json_t *guest = wf_call(run, test, "guests/get", json_pack("{ss}", "id", id), what);
    json_t *state_value, *template_value;

    if (!guest)
        return FALSE;
    state_value = json_object_get(guest, "state");
    template_value = json_object_get(guest, "is_template");
    if (!json_is_string(state_value) || !cc_guest_state_is_valid(json_string_value(state_value)) ||
        !json_is_boolean(template_value)) {
        cc_test_fail(test, "%s: the guest object has no valid \"state\" and \"is_template\"",
                     what);
        json_decref(guest);
        return FALSE;
    }
    if (state)
        *state = g_strdup(json_string_value(state_value));
    if (is_template)
        *is_template = json_is_true(template_value);
    json_decref(guest);
    return TRUE;
}

static gboolean
wf_list(wf_run *run, cc_test *test, GPtrArray **ids)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    json_t *result = wf_call(run, test, "guests/list", NULL, "guests/list");

    *ids = NULL;
    if (!result)
        return FALSE;
    cc_guest_list_validate(result, ids, problems);
    json_decref(result);
    for (guint i = 0; i < problems->len; i++)
        cc_test_fail(test, "guests/list: %s", (const char *)g_ptr_array_index(problems, i));
    return problems->len == 0;
}

static gboolean
ids_contain(GPtrArray *ids, const char *id)
{
    for (guint i = 0; ids && i < ids->len; i++) {
        if (strcmp(g_ptr_array_index(ids, i), id) == 0)
            return TRUE;
    }
    return FALSE;
}

/* Polls guests/get at the guests polling rate until the guest is in state want. */
static gboolean
wf_wait_state(wf_run *run, cc_test *test, const char *id, const char *want)
{
    guint polls = MAX((guint)run->caps.tasks_polling_retries, CC_MIN_GUEST_POLLS) + 1;
    g_autofree char *state = NULL;

    for (guint i = 0; i < polls; i++) {
        if (i > 0)
            wf_sleep(wf_guest_interval(run));
        g_clear_pointer(&state, g_free);
        if (!wf_get(run, test, id, &state, NULL))
            return FALSE;
        if (strcmp(state, want) == 0)
            return TRUE;
    }
    cc_test_fail(test, "guest %s is still %s after %u polls every %.3g s (waiting for %s)", id,
                 state, polls, wf_guest_interval(run), want);
    return FALSE;
}

/* Polls guests/list at the guests polling rate until id is no longer listed. */
static gboolean
wf_wait_gone(wf_run *run, cc_test *test, const char *id)
{
    guint polls = MAX((guint)run->caps.tasks_polling_retries, CC_MIN_GUEST_POLLS) + 1;

    for (guint i = 0; i < polls; i++) {
        g_autoptr(GPtrArray) ids = NULL;

        if (i > 0)
            wf_sleep(wf_guest_interval(run));
        if (!wf_list(run, test, &ids))
            return FALSE;
        if (!ids_contain(ids, id))
            return TRUE;
    }
    cc_test_fail(test, "guest %s is still listed after %u polls every %.3g s", id, polls,
                 wf_guest_interval(run));
    return FALSE;
}

static gboolean
wf_control(wf_run *run, cc_test *test, const char *id, const char *control)
{
    g_autofree char *what = g_strdup_printf("guests/control %s %s", control, id);
    json_t *result = wf_call(run, test, "guests/control",
                             json_pack("{ssss}", "id", id, "control", control), what);

    json_decref(result);
    return result != NULL;
}

/* Stop if needed, then poll until powered_off. */
static gboolean
wf_stop(wf_run *run, cc_test *test, const char *id)
{
    g_autofree char *state = NULL;

    if (!wf_get(run, test, id, &state, NULL))
        return FALSE;
    if (strcmp(state, "powered_off") == 0)
        return TRUE;
    if (strcmp(state, "powering_off") != 0 && !wf_control(run, test, id, "stop"))
        return FALSE;
    return wf_wait_state(run, test, id, "powered_off");
}

static gboolean
wf_start(wf_run *run, cc_test *test, const char *id)
{
    return wf_control(run, test, id, "start") && wf_wait_state(run, test, id, "powered_on");
}

/* Starts a task and polls tasks/get as RAS does: every tasks_polling_rate (scaled), at
 * most tasks_polling_retries + 1 times. TRUE when the task completed (reply problems such
 * as a missing "output" are still recorded as failures). For a clone, *clone_id gets the
 * clone's id from output.clone_id or, failing that, from the clone reply. */
static gboolean
wf_task(wf_run *run, cc_test *test, const char *method, json_t *params, const char *what,
        char **clone_id)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *task_id = NULL;
    g_autofree char *reply_clone = NULL;
    g_autofree char *poll_what = g_strdup_printf("tasks/get for %s", what);
    guint polls = run->caps.tasks_polling_retries + 1;
    json_t *result = wf_call(run, test, method, params, what);
    json_t *value;

    if (clone_id)
        *clone_id = NULL;
    if (!result)
        return FALSE;
    task_id = g_strdup(cc_task_start_check(result, problems));
    if (!task_id) {
        cc_test_fail(test, "%s: %s", what, (const char *)g_ptr_array_index(problems, 0));
        json_decref(result);
        return FALSE;
    }
    value = json_object_get(result, "clone_id");
    if (clone_id && value && !json_is_null(value)) {
        if (!json_is_string(value) || !*json_string_value(value))
            cc_test_fail(test, "%s: \"clone_id\" in the reply is not a non-empty string", what);
        else
            reply_clone = g_strdup(json_string_value(value));
    }
    json_decref(result);

    for (guint i = 0; i < polls; i++) {
        const char *done_clone = NULL;
        cc_task_state state;
        json_t *reply;

        wf_sleep(wf_task_interval(run));
        reply = wf_call(run, test, "tasks/get", json_pack("{ss}", "id", task_id), poll_what);
        if (!reply)
            return FALSE;
        state = cc_task_reply_check(reply, clone_id != NULL, &done_clone, problems);
        if (state == CC_TASK_RUNNING) {
            json_decref(reply);
            continue;
        }
        for (guint j = 0; j < problems->len; j++)
            cc_test_fail(test, "%s: %s", what, (const char *)g_ptr_array_index(problems, j));
        if (state == CC_TASK_FAILED) {
            json_t *message = json_object_get(json_object_get(reply, "error"), "message");

            cc_test_fail(test, "%s: the task failed: %s", what,
                         json_is_string(message) ? json_string_value(message) : "(no message)");
        }
        if (state == CC_TASK_COMPLETED && clone_id) {
            if (done_clone && reply_clone && strcmp(done_clone, reply_clone) != 0)
                cc_test_fail(test, "%s: output.clone_id '%s' differs from the reply's clone_id "
                             "'%s'", what, done_clone, reply_clone);
            *clone_id = g_strdup(done_clone ? done_clone : reply_clone);
        }
        json_decref(reply);
        return state == CC_TASK_COMPLETED;
    }
    cc_test_fail(test, "%s: task still running after %u polls every %.3g s "
                 "(tasks_polling_retries=%" G_GINT64_FORMAT "): RAS gives up here", what, polls,
                 wf_task_interval(run), run->caps.tasks_polling_retries);
    /* The clone may still appear: the clean-up must know its id. */
    if (clone_id)
        *clone_id = g_steal_pointer(&reply_clone);
    return FALSE;
}

static gboolean
wf_snapshot_exists(wf_run *run, cc_test *test, const char *id, const char *name,
                   gboolean *exists)
{
    g_autofree char *what = g_strdup_printf("guests/snapshots/exists '%s' on %s", name, id);
    json_t *result = wf_call(run, test, "guests/snapshots/exists",
                             json_pack("{ssss}", "id", id, "name", name), what);

    if (!result)
        return FALSE;
    if (!json_is_boolean(result)) {
        cc_test_fail(test, "%s: the result must be a bare boolean", what);
        json_decref(result);
        return FALSE;
    }
    *exists = json_is_true(result);
    json_decref(result);
    return TRUE;
}

static gboolean
wf_snapshot_task(wf_run *run, cc_test *test, wf_guest *guest, const char *method,
                 const char *name)
{
    g_autofree char *what = g_strdup_printf("%s '%s' on %s", method, name, guest->id);

    guest->touched = TRUE;
    return wf_task(run, test, method, json_pack("{ssss}", "id", guest->id, "name", name), what,
                   NULL);
}

static gboolean
snapshot_is_new(const wf_guest *guest, const char *name)
{
    return g_ptr_array_find_with_equal_func(guest->new_snapshots, name, g_str_equal, NULL);
}

/* Exit maintenance's snapshot step: exists, delete if it does, create. */
static gboolean
wf_snapshot_replace(wf_run *run, cc_test *test, wf_guest *guest, const char *name)
{
    gboolean exists;

    if (!wf_snapshot_exists(run, test, guest->id, name, &exists))
        return FALSE;
    if (exists && !wf_snapshot_task(run, test, guest, "guests/snapshots/delete", name))
        return FALSE;
    /* Tracked before the task: one that times out may still complete on the platform. */
    if (!exists && !snapshot_is_new(guest, name))
        g_ptr_array_add(guest->new_snapshots, g_strdup(name));
    return wf_snapshot_task(run, test, guest, "guests/snapshots/create", name);
}

/* guests/convert, then guests/get must show the new is_template. */
static gboolean
wf_convert(wf_run *run, cc_test *test, wf_guest *guest, gboolean to_template)
{
    g_autofree char *what = g_strdup_printf("guests/convert is_template=%s %s",
                                            to_template ? "true" : "false", guest->id);
    gboolean is_template;

    guest->touched = TRUE;
    if (!wf_task(run, test, "guests/convert",
                 json_pack("{sssb}", "id", guest->id, "is_template", to_template), what, NULL))
        return FALSE;
    if (!wf_get(run, test, guest->id, NULL, &is_template))
        return FALSE;
    if (is_template != to_template) {
        cc_test_fail(test, "after %s completed, guests/get shows is_template=%s", what,
                     is_template ? "true" : "false");
        return FALSE;
    }
    return TRUE;
}

/* ---- guests and discovery ---- */

static wf_guest *
wf_guest_record(wf_run *run, const char *id, gboolean is_template, const char *state)
{
    wf_guest *guest;

    for (guint i = 0; i < run->guests->len; i++) {
        guest = g_ptr_array_index(run->guests, i);
        if (strcmp(guest->id, id) == 0)
            return guest;
    }
    guest = g_new0(wf_guest, 1);
    guest->id = g_strdup(id);
    guest->was_template = is_template;
    guest->was_running = state_is_running(state);
    guest->new_snapshots = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(run->guests, guest);
    return guest;
}

static void
wf_setup(wf_run *run)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    cc_test *probe;
    guint n;

    if (!cc_session_ensure(run->session, CC_STAGE_CONNECTED, &error)) {
        run->setup_error = g_strdup_printf("cannot get a connected provider: %s", error->message);
        return;
    }
    /* Out-of-range values are reported by the capabilities test; use them clamped. */
    cc_capabilities_parse(cc_session_capabilities(run->session), &run->caps, problems);
    switch (run->caps.template_method) {
    case CC_TEMPLATE_NONE:
        run->level = LEVEL_BASIC;
        break;
    case CC_TEMPLATE_BASIC:
        run->level = run->caps.can_link_clones ? LEVEL_LINK_CLONES : LEVEL_FULL_CLONES;
        break;
    case CC_TEMPLATE_VERSIONING:
        run->level = LEVEL_VERSIONS;
        break;
    }

    /* Discovery is not a test of its own: its failures stop the workflows. */
    probe = cc_tap_begin(run->tap, "setup", "");
    if (wf_list(run, probe, &run->initial_ids)) {
        n = run->initial_ids->len;
        if (run->options->max_guests)
            n = MIN(n, run->options->max_guests);
        for (guint i = 0; i < n; i++) {
            wf_summary *summary = g_new0(wf_summary, 1);

            summary->id = g_strdup(g_ptr_array_index(run->initial_ids, i));
            if (!wf_get(run, probe, summary->id, &summary->state, &summary->is_template)) {
                wf_summary_free(summary);
                break;
            }
            g_ptr_array_add(run->summaries, summary);
        }
    }
    run->setup_error = cc_test_discard(probe);
    if (run->setup_error)
        g_clear_pointer(&run->initial_ids, g_ptr_array_unref);
}

/* Starts a workflow test unless it is skipped by the user, cannot run, or has nothing to
 * work on at this level. */
static cc_test *
wf_begin(wf_run *run, const char *name)
{
    const char *description = NULL;
    cc_test *test;

    for (const cc_test_info *info = cc_workflow_tests; info->name; info++) {
        if (strcmp(info->name, name) == 0)
            description = info->description;
    }
    if (cc_tap_user_skips(run->tap, name)) {
        cc_tap_skip(run->tap, name, description, "skipped with --skip");
        return NULL;
    }
    test = cc_tap_begin(run->tap, name, description);
    if (run->setup_error) {
        cc_test_fail(test, "%s", run->setup_error);
        cc_test_end(test);
        return NULL;
    }
    if (run->level == LEVEL_BASIC) {
        cc_test_skip(test, "template_method is none: RAS uses the Basic level (no templates)");
        cc_test_end(test);
        return NULL;
    }
    return test;
}

/* ---- Create template ---- */

static char *
wf_discover_vm(wf_run *run, cc_test *test, const char *snapshot)
{
    for (guint i = 0; i < run->summaries->len; i++) {
        wf_summary *summary = g_ptr_array_index(run->summaries, i);
        gboolean exists = FALSE;

        if (summary->is_template || strcmp(summary->state, "powered_off") != 0)
            continue;
        if (snapshot && !wf_snapshot_exists(run, test, summary->id, snapshot, &exists))
            return NULL;
        if (!exists)
            return g_strdup(summary->id);
    }
    return NULL;
}

static void
wf_create_template(wf_run *run)
{
    cc_test *test = wf_begin(run, "create-template");
    g_autofree char *snapshot = NULL;
    g_autofree char *id = NULL;
    g_autofree char *state = NULL;
    gboolean is_template;
    wf_guest *guest;

    if (!test)
        return;
    snapshot = wf_snapshot_name(run, 1);
    id = g_strdup(run->options->guest_id);
    if (!id) {
        id = wf_discover_vm(run, test, snapshot);
        if (!id) {
            if (!cc_test_failed(test))
                cc_test_skip(test, "no powered-off guest that is not a template%s%s%s; pass "
                             "--guest ID", snapshot ? " and has no '" : "",
                             snapshot ? snapshot : "", snapshot ? "' snapshot" : "");
            cc_test_end(test);
            return;
        }
    }
    cc_test_note(test, "guest %s%s%s", id, snapshot ? ", snapshot " : "",
                 snapshot ? snapshot : "");

    if (!wf_get(run, test, id, &state, &is_template)) {
        cc_test_end(test);
        return;
    }
    if (is_template) {
        cc_test_fail(test, "guest %s is already a template", id);
        cc_test_end(test);
        return;
    }
    guest = run->vm = wf_guest_record(run, id, is_template, state);
    if (strcmp(state, "powered_off") != 0) {
        guest->touched = TRUE;
        if (!wf_stop(run, test, id)) {
            cc_test_end(test);
            return;
        }
    }
    if (snapshot && !wf_snapshot_replace(run, test, guest, snapshot)) {
        cc_test_end(test);
        return;
    }
    if (!wf_convert(run, test, guest, TRUE)) {
        cc_test_end(test);
        return;
    }
    if (!cc_test_failed(test) && !run->options->template_id) {
        run->template = guest;
        run->version = 1;
    }
    cc_test_end(test);
}

/* ---- the template ---- */

/* The template of the other workflows: --template, the one Create template made, or the
 * first template that has the level's first snapshot. Skips the test when there is none. */
static gboolean
wf_pick_template(wf_run *run, cc_test *test)
{
    g_autofree char *snapshot = NULL;
    g_autofree char *id = NULL;
    g_autofree char *state = NULL;
    gboolean is_template;

    if (run->template)
        return TRUE;
    snapshot = wf_snapshot_name(run, 1);
    id = g_strdup(run->options->template_id);
    for (guint i = 0; !id && i < run->summaries->len; i++) {
        wf_summary *summary = g_ptr_array_index(run->summaries, i);
        gboolean exists = TRUE;

        if (!summary->is_template)
            continue;
        if (snapshot && !wf_snapshot_exists(run, test, summary->id, snapshot, &exists))
            return FALSE;
        if (exists)
            id = g_strdup(summary->id);
    }
    if (!id) {
        if (!cc_test_failed(test))
            cc_test_skip(test, "no template%s%s%s to use; pass --template ID, or let "
                         "create-template make one", snapshot ? " with a '" : "",
                         snapshot ? snapshot : "", snapshot ? "' snapshot" : "");
        return FALSE;
    }
    if (!wf_get(run, test, id, &state, &is_template))
        return FALSE;
    run->template = wf_guest_record(run, id, is_template, state);
    run->version = 1;
    return TRUE;
}

/* Enter maintenance (version 1): convert to a VM, revert (versioning), start. */
static gboolean
wf_enter(wf_run *run, cc_test *test)
{
    wf_guest *guest = run->template;
    gboolean is_template;

    if (!wf_get(run, test, guest->id, NULL, &is_template))
        return FALSE;
    if (!is_template) {
        cc_test_fail(test, "guest %s is not a template", guest->id);
        return FALSE;
    }
    if (run->level == LEVEL_VERSIONS) {
        gboolean exists;

        if (!wf_snapshot_exists(run, test, guest->id, CC_VERSION_PREFIX "1", &exists))
            return FALSE;
        if (!exists) {
            cc_test_fail(test, "template %s has no " CC_VERSION_PREFIX "1 snapshot", guest->id);
            return FALSE;
        }
    }
    if (!wf_convert(run, test, guest, FALSE))
        return FALSE;
    if (run->level == LEVEL_VERSIONS &&
        !wf_snapshot_task(run, test, guest, "guests/snapshots/revert", CC_VERSION_PREFIX "1"))
        return FALSE;
    if (!wf_start(run, test, guest->id))
        return FALSE;
    run->in_maintenance = TRUE;
    return TRUE;
}

static void
wf_enter_maintenance(wf_run *run)
{
    cc_test *test = wf_begin(run, "enter-maintenance");

    if (!test)
        return;
    if (wf_pick_template(run, test)) {
        cc_test_note(test, "template %s", run->template->id);
        wf_enter(run, test);
    }
    cc_test_end(test);
}

/* Exit maintenance (version n): stop, replace the level's snapshot, convert. */
static void
wf_exit_maintenance(wf_run *run, const char *name, guint version)
{
    cc_test *test = wf_begin(run, name);
    g_autofree char *snapshot = NULL;
    wf_guest *guest;

    if (!test)
        return;
    if (version > 1 && run->level != LEVEL_VERSIONS) {
        cc_test_skip(test, "template versions need template_method versioning");
        cc_test_end(test);
        return;
    }
    if (!run->template || (version == 1 && !run->in_maintenance)) {
        cc_test_skip(test, "needs enter-maintenance, which failed or was skipped");
        cc_test_end(test);
        return;
    }
    guest = run->template;
    snapshot = wf_snapshot_name(run, version);
    cc_test_note(test, "template %s%s%s", guest->id, snapshot ? ", snapshot " : "",
                 snapshot ? snapshot : "");
    if (version > 1 && !snapshot_is_new(guest, snapshot)) {
        gboolean exists;

        /* Exit maintenance replaces the snapshot: never one the checker did not make. */
        if (!wf_snapshot_exists(run, test, guest->id, snapshot, &exists)) {
            cc_test_end(test);
            return;
        }
        if (exists) {
            cc_test_skip(test, "template %s already has a '%s' snapshot, which the checker "
                         "does not overwrite", guest->id, snapshot);
            cc_test_end(test);
            return;
        }
    }
    if (!run->in_maintenance) {
        cc_test_note(test, "entering maintenance (version 1) first");
        if (!wf_enter(run, test)) {
            cc_test_end(test);
            return;
        }
    }

    if (wf_stop(run, test, guest->id) &&
        (!snapshot || wf_snapshot_replace(run, test, guest, snapshot)) &&
        wf_convert(run, test, guest, TRUE)) {
        run->in_maintenance = FALSE;
        if (!cc_test_failed(test))
            run->version = version;
    }
    cc_test_end(test);
}

/* ---- Create host ---- */

/* New guests named name since before (a clone whose task did not say its id). */
static void
wf_find_clones(wf_run *run, cc_test *test, GPtrArray *before, const char *name)
{
    g_autoptr(GPtrArray) now = NULL;

    if (!before || !wf_list(run, test, &now))
        return;
    for (guint i = 0; i < now->len; i++) {
        const char *id = g_ptr_array_index(now, i);
        g_autofree char *what = g_strdup_printf("guests/get %s", id);
        json_t *guest, *guest_name;

        if (ids_contain(before, id))
            continue;
        guest = wf_call(run, test, "guests/get", json_pack("{ss}", "id", id), what);
        guest_name = json_object_get(guest, "name");
        if (json_is_string(guest_name) && strcmp(json_string_value(guest_name), name) == 0) {
            cc_test_note(test, "guest %s looks like the clone; it will be deleted", id);
            g_ptr_array_add(run->clones, g_strdup(id));
        }
        json_decref(guest);
    }
}

/* Stop, delete, wait until guests/list no longer has it. */
static gboolean
wf_delete_clone(wf_run *run, cc_test *test, const char *id)
{
    if (!wf_stop(run, test, id) || !wf_control(run, test, id, "delete") ||
        !wf_wait_gone(run, test, id))
        return FALSE;
    g_ptr_array_remove_fast(run->clones, (gpointer)id);
    return TRUE;
}

static void
wf_create_host(wf_run *run)
{
    cc_test *test = wf_begin(run, "create-host");
    g_autoptr(GPtrArray) before = NULL;
    g_autoptr(GPtrArray) after = NULL;
    g_autofree char *snapshot = NULL;
    g_autofree char *clone_id = NULL;
    g_autofree char *what = NULL;
    gboolean is_template;
    const char *name = run->options->clone_name;
    char *tracked;

    if (!test)
        return;
    if (!wf_pick_template(run, test)) {
        cc_test_end(test);
        return;
    }
    if (!wf_get(run, test, run->template->id, NULL, &is_template)) {
        cc_test_end(test);
        return;
    }
    if (!is_template) {
        cc_test_skip(test, "guest %s is not a template now (an earlier workflow did not finish)",
                     run->template->id);
        cc_test_end(test);
        return;
    }
    snapshot = wf_snapshot_name(run, MAX(run->version, 1));
    what = g_strdup_printf("guests/clone %s as '%s' from snapshot '%s'", run->template->id,
                           name, snapshot ? snapshot : "");
    cc_test_note(test, "%s, is_link_clone=%s", what, run->caps.can_link_clones ? "true" : "false");

    if (!wf_list(run, test, &before)) {
        cc_test_end(test);
        return;
    }
    if (!wf_task(run, test, "guests/clone",
                 json_pack("{sssssssb}", "id", run->template->id, "name", name,
                           "snapshot", snapshot ? snapshot : "",
                           "is_link_clone", run->caps.can_link_clones),
                 what, &clone_id) || !clone_id) {
        if (clone_id)
            g_ptr_array_add(run->clones, g_strdup(clone_id));
        else
            wf_find_clones(run, test, before, name);
        cc_test_end(test);
        return;
    }
    g_ptr_array_add(run->clones, g_strdup(clone_id));
    cc_test_note(test, "clone %s", clone_id);

    if (wf_list(run, test, &after) && !ids_contain(after, clone_id))
        cc_test_fail(test, "clone %s is not in guests/list", clone_id);
    if (wf_get(run, test, clone_id, NULL, &is_template) && is_template)
        cc_test_fail(test, "clone %s is a template", clone_id);
    wf_start(run, test, clone_id);

    /* Delete it whatever happened: nothing the checker makes may stay behind. */
    tracked = g_ptr_array_index(run->clones, run->clones->len - 1);
    wf_delete_clone(run, test, tracked);
    cc_test_end(test);
}

/* ---- cleanup ---- */

static void
wf_restore_guest(wf_run *run, cc_test *test, wf_guest *guest)
{
    g_autoptr(GPtrArray) made = g_ptr_array_new();
    g_autofree char *state = NULL;
    gboolean is_template;
    gboolean changes;

    if (!guest->touched || !wf_get(run, test, guest->id, &state, &is_template))
        return;
    for (guint i = 0; i < guest->new_snapshots->len; i++) {
        const char *name = g_ptr_array_index(guest->new_snapshots, i);
        gboolean exists;

        if (!wf_snapshot_exists(run, test, guest->id, name, &exists))
            return;
        if (exists)
            g_ptr_array_add(made, (gpointer)name);
    }
    changes = made->len > 0 || is_template != guest->was_template;
    if (changes && !is_template && strcmp(state, "powered_off") != 0 &&
        !wf_stop(run, test, guest->id))
        return;
    if (made->len > 0 && is_template) {
        if (!wf_convert(run, test, guest, FALSE))
            return;
        is_template = FALSE;
    }
    for (guint i = 0; i < made->len; i++) {
        if (!wf_snapshot_task(run, test, guest, "guests/snapshots/delete",
                              g_ptr_array_index(made, i)))
            return;
    }
    if (is_template != guest->was_template && !wf_convert(run, test, guest, guest->was_template))
        return;
    g_clear_pointer(&state, g_free);
    if (!wf_get(run, test, guest->id, &state, NULL))
        return;
    if (guest->was_running && !state_is_running(state) && !wf_start(run, test, guest->id))
        return;
    if (!guest->was_running && strcmp(state, "powered_off") != 0 && !wf_stop(run, test, guest->id))
        return;
    cc_test_note(test, "guest %s restored (%s, %s)", guest->id,
                 guest->was_template ? "template" : "not a template",
                 guest->was_running ? "running" : "powered off");
}

static void
wf_cleanup(wf_run *run)
{
    g_autoptr(GPtrArray) ids = NULL;
    gboolean changed = run->clones->len > 0;
    cc_test *test;

    for (guint i = 0; i < run->guests->len; i++)
        changed |= ((wf_guest *)g_ptr_array_index(run->guests, i))->touched;

    if (cc_tap_user_skips(run->tap, "cleanup")) {
        cc_tap_skip(run->tap, "cleanup", "every guest used is restored and nothing created is "
                    "left behind", "skipped with --skip: the platform is left as the workflows "
                    "left it");
        return;
    }
    test = cc_tap_begin(run->tap, "cleanup", "every guest used is restored and nothing created "
                        "is left behind");
    if (run->clones->len > 0 && !wf_list(run, test, &ids)) {
        cc_test_end(test);
        return;
    }
    while (run->clones->len > 0) {
        char *id = g_ptr_array_index(run->clones, 0);

        if (!ids_contain(ids, id)) {
            cc_test_note(test, "clone %s is not listed: nothing to delete", id);
            g_ptr_array_remove_index(run->clones, 0);
            continue;
        }
        cc_test_note(test, "deleting clone %s", id);
        if (!wf_delete_clone(run, test, id))
            g_ptr_array_remove_index(run->clones, 0);
    }
    g_clear_pointer(&ids, g_ptr_array_unref);
    for (guint i = 0; i < run->guests->len; i++)
        wf_restore_guest(run, test, g_ptr_array_index(run->guests, i));

    if (run->initial_ids && wf_list(run, test, &ids)) {
        for (guint i = 0; i < ids->len; i++) {
            if (!ids_contain(run->initial_ids, g_ptr_array_index(ids, i)))
                cc_test_fail(test, "guest %s was not there before the workflows",
                             (const char *)g_ptr_array_index(ids, i));
        }
        for (guint i = 0; i < run->initial_ids->len; i++) {
            if (!ids_contain(ids, g_ptr_array_index(run->initial_ids, i)))
                cc_test_fail(test, "guest %s is gone since the workflows started",
                             (const char *)g_ptr_array_index(run->initial_ids, i));
        }
    }
    if (!changed)
        cc_test_note(test, "nothing to restore");
    cc_test_end(test);
}

void
cc_workflows_run(cc_session *session, cc_tap *tap, const cc_workflow_options *options)
{
    wf_run run = { 0 };

    run.session = session;
    run.tap = tap;
    run.options = options;
    run.summaries = g_ptr_array_new_with_free_func(wf_summary_free);
    run.guests = g_ptr_array_new_with_free_func(wf_guest_free);
    run.clones = g_ptr_array_new_with_free_func(g_free);

    wf_setup(&run);
    wf_create_template(&run);
    wf_enter_maintenance(&run);
    wf_exit_maintenance(&run, "exit-maintenance-v1", 1);
    wf_exit_maintenance(&run, "exit-maintenance-v2", 2);
    wf_create_host(&run);
    if (!run.setup_error)
        wf_cleanup(&run);
    else
        cc_tap_skip(tap, "cleanup", "every guest used is restored and nothing created is left "
                    "behind", "the workflows could not start");

    g_clear_pointer(&run.initial_ids, g_ptr_array_unref);
    g_ptr_array_unref(run.summaries);
    g_ptr_array_unref(run.guests);
    g_ptr_array_unref(run.clones);
    g_free(run.setup_error);
}

/* prlkit-cpf-check: protocol probes. */
#include "config.h"

#include <string.h>

#include "check-protocol.h"

const cc_test_info cc_protocol_tests[] = {
    { "initialize", "provider/initialize answers with a version and capabilities" },
    { "capabilities", "all six capabilities are present, typed and within range" },
    { "unknown-method", "an unknown method gets an error reply and the provider goes on" },
    { "malformed-line", "a malformed request line gets an error reply and the provider goes on" },
    { "connect", "provider/connect with the given settings succeeds" },
    { "guests-list", "guests/list returns unique guest id strings" },
    { "guest-objects", "guests/get returns a valid guest object for every listed guest" },
    { "guests-get-unknown", "guests/get of a guest that does not exist is an error" },
    { "tasks-get-garbage", "tasks/get of a garbage task id is an error, never completed" },
    { NULL, NULL },
};

const cc_test_info cc_final_tests[] = {
    { "exit-on-eof", "the provider exits promptly with status 0 when its stdin is closed" },
    { "stdout-purity", "stdout carries exactly one reply line per request and nothing else" },
    { "no-secrets-in-replies", "no reply repeats a secret value from the settings" },
    { NULL, NULL },
};

/* Problems shown per test; a provider wrong on every guest would flood the output. */
#define CC_MAX_SHOWN 20

typedef struct {
    cc_session *session;
    cc_tap *tap;
    const cc_protocol_options *options;
    gboolean initialized;        /* the initialize test got capabilities */
    gboolean connected;          /* the connect test succeeded */
    GPtrArray *guest_ids;        /* from guests-list, NULL if it failed */
} protocol_run;

static const char *
test_description(const cc_test_info *table, const char *name)
{
    for (; table->name; table++) {
        if (strcmp(table->name, name) == 0)
            return table->description;
    }
    g_return_val_if_reached("");
}

/* Starts a test unless the user skipped it. */
static cc_test *
protocol_begin(protocol_run *run, const char *name)
{
    const char *description = test_description(cc_protocol_tests, name);

    if (cc_tap_user_skips(run->tap, name)) {
        cc_tap_skip(run->tap, name, description, "skipped with --skip");
        return NULL;
    }
    return cc_tap_begin(run->tap, name, description);
}

static void
test_fail_problems(cc_test *test, GPtrArray *problems)
{
    for (guint i = 0; i < problems->len && i < CC_MAX_SHOWN; i++)
        cc_test_fail(test, "%s", (const char *)g_ptr_array_index(problems, i));
    if (problems->len > CC_MAX_SHOWN)
        cc_test_fail(test, "... and %u more problems", problems->len - CC_MAX_SHOWN);
}

static char *
random_suffix(void)
{
    return g_strdup_printf("%08x", g_random_int());
}

/* After a probe the provider must still answer a normal request. */
static void
expect_still_answering(protocol_run *run, cc_test *test, const char *after)
{
    g_autoptr(GError) error = NULL;
    json_t *result = cc_session_call_result(run->session, "provider/initialize", NULL, &error);

    if (!result)
        cc_test_fail(test, "after %s, provider/initialize no longer works: %s", after,
                     error->message);
    json_decref(result);
}

static void
test_initialize(protocol_run *run)
{
    cc_test *test = protocol_begin(run, "initialize");
    g_autoptr(GError) error = NULL;
    cc_envelope reply;
    json_t *version, *capabilities;

    if (!test)
        return;
    if (!cc_session_start(run->session, &error) ||
        !cc_session_call(run->session, "provider/initialize", NULL, &reply, &error)) {
        cc_test_fail(test, "%s", error->message);
        cc_test_end(test);
        return;
    }
    if (reply.error) {
        cc_test_fail(test, "error reply %" JSON_INTEGER_FORMAT ": %s", reply.code, reply.message);
    } else if (!json_is_object(reply.result)) {
        cc_test_fail(test, "the result is not an object");
    } else {
        version = json_object_get(reply.result, "version");
        capabilities = json_object_get(reply.result, "capabilities");
        if (!json_is_string(version))
            cc_test_fail(test, "\"version\" is missing or not a string");
        else
            cc_test_note(test, "version %s", json_string_value(version));
        if (!json_is_object(capabilities)) {
            cc_test_fail(test, "\"capabilities\" is missing or not an object");
        } else {
            cc_session_set_capabilities(run->session, capabilities);
            cc_session_set_stage(run->session, CC_STAGE_INITIALIZED);
            run->initialized = TRUE;
        }
    }
    cc_envelope_clear(&reply);
    cc_test_end(test);
}

static const char *
level_name(const cc_capabilities *caps)
{
    switch (caps->template_method) {
    case CC_TEMPLATE_NONE:
        return "Basic (list, get, control)";
    case CC_TEMPLATE_BASIC:
        return caps->can_link_clones ? "Link clones" : "Full clones";
    case CC_TEMPLATE_VERSIONING:
        return "Template versions";
    }
    return "?";
}

static void
test_capabilities(protocol_run *run)
{
    cc_test *test = protocol_begin(run, "capabilities");
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    cc_capabilities caps;

    if (!test)
        return;
    if (!run->initialized) {
        cc_test_skip(test, "provider/initialize gave no capabilities");
        cc_test_end(test);
        return;
    }
    cc_capabilities_parse(cc_session_capabilities(run->session), &caps, problems);
    test_fail_problems(test, problems);
    cc_test_note(test, "can_suspend_guests=%s guests_polling_rate=%" G_GINT64_FORMAT
                 " tasks_polling_rate=%" G_GINT64_FORMAT " tasks_polling_retries=%"
                 G_GINT64_FORMAT " template_method=%s can_link_clones=%s",
                 caps.can_suspend_guests ? "true" : "false", caps.guests_polling_rate,
                 caps.tasks_polling_rate, caps.tasks_polling_retries,
                 cc_template_method_name(caps.template_method),
                 caps.can_link_clones ? "true" : "false");
    cc_test_note(test, "functionality level: %s", level_name(&caps));
    cc_test_end(test);
}

/* Sends a request that must get an error reply, then checks the provider goes on. */
static void
test_error_probe(protocol_run *run, const char *name, const char *line, const char *what)
{
    cc_test *test = protocol_begin(run, name);
    g_autoptr(GError) error = NULL;
    cc_envelope reply;

    if (!test)
        return;
    /* A restarted provider is initialized first, as RAS would do. */
    if (!cc_session_ensure(run->session, run->initialized ? CC_STAGE_INITIALIZED
                                                          : CC_STAGE_STARTED, &error) ||
        !cc_session_call_raw(run->session, line, what, &reply, &error)) {
        cc_test_fail(test, "%s", error->message);
        cc_test_end(test);
        return;
    }
    if (reply.error) {
        /* Any integer is accepted: -32601/-32700 (JSON-RPC style) or 1 (the doc style). */
        cc_test_note(test, "error %" JSON_INTEGER_FORMAT ": %s", reply.code, reply.message);
    } else {
        g_autofree char *shown = json_dumps(reply.result, JSON_COMPACT | JSON_ENCODE_ANY);

        cc_test_fail(test, "got a success reply %s instead of an error", shown ? shown : "");
    }
    cc_envelope_clear(&reply);
    expect_still_answering(run, test, what);
    cc_test_end(test);
}

static void
test_connect(protocol_run *run)
{
    cc_test *test = protocol_begin(run, "connect");
    g_autoptr(GError) error = NULL;
    json_t *result;

    if (!test)
        return;
    if (!cc_session_ensure(run->session, CC_STAGE_STARTED, &error)) {
        cc_test_fail(test, "%s", error->message);
        cc_test_end(test);
        return;
    }
    result = cc_session_call_result(run->session, "provider/connect",
                                    json_pack("{sO}", "settings",
                                              cc_session_settings(run->session)),
                                    &error);
    if (!result) {
        cc_test_fail(test, "%s", error->message);
    } else {
        if (!json_is_object(result))
            cc_test_note(test, "the result is not an object (CPF.md says {})");
        cc_session_set_stage(run->session, CC_STAGE_CONNECTED);
        run->connected = TRUE;
    }
    json_decref(result);
    cc_test_end(test);
}

/* Starts a test that needs a connected provider. */
static cc_test *
protocol_begin_connected(protocol_run *run, const char *name)
{
    g_autoptr(GError) error = NULL;
    cc_test *test = protocol_begin(run, name);

    if (!test)
        return NULL;
    if (!run->connected) {
        cc_test_skip(test, "needs provider/connect, which failed");
        cc_test_end(test);
        return NULL;
    }
    if (!cc_session_ensure(run->session, CC_STAGE_CONNECTED, &error)) {
        cc_test_fail(test, "cannot get a connected provider: %s", error->message);
        cc_test_end(test);
        return NULL;
    }
    return test;
}

static void
test_guests_list(protocol_run *run)
{
    cc_test *test = protocol_begin_connected(run, "guests-list");
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    json_t *result;

    if (!test)
        return;
    result = cc_session_call_result(run->session, "guests/list", NULL, &error);
    if (!result) {
        cc_test_fail(test, "%s", error->message);
        cc_test_end(test);
        return;
    }
    cc_guest_list_validate(result, &run->guest_ids, problems);
    test_fail_problems(test, problems);
    cc_test_note(test, "%u guests", run->guest_ids->len);
    json_decref(result);
    cc_test_end(test);
}

static void
test_guest_objects(protocol_run *run)
{
    cc_test *test = protocol_begin(run, "guest-objects");
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    guint n;

    if (!test)
        return;
    if (!run->guest_ids) {
        cc_test_skip(test, "needs guests/list, which failed or was skipped");
        cc_test_end(test);
        return;
    }
    if (run->guest_ids->len == 0) {
        cc_test_skip(test, "the provider lists no guests");
        cc_test_end(test);
        return;
    }
    n = run->guest_ids->len;
    if (run->options->max_guests && n > run->options->max_guests) {
        cc_test_note(test, "checking the first %u of %u guests (--max-guests)",
                     run->options->max_guests, n);
        n = run->options->max_guests;
    }
    for (guint i = 0; i < n; i++) {
        const char *id = g_ptr_array_index(run->guest_ids, i);
        g_autoptr(GError) error = NULL;
        json_t *guest;

        if (!cc_session_ensure(run->session, CC_STAGE_CONNECTED, &error)) {
            g_ptr_array_add(problems, g_strdup_printf("stopped at guest %s: %s", id,
                                                      error->message));
            break;
        }
        guest = cc_session_call_result(run->session, "guests/get",
                                       json_pack("{ss}", "id", id), &error);
        if (!guest) {
            g_ptr_array_add(problems, g_strdup_printf("guest %s: %s", id, error->message));
            continue;
        }
        cc_guest_validate(guest, id, problems);
        json_decref(guest);
    }
    test_fail_problems(test, problems);
    if (!problems->len)
        cc_test_note(test, "%u guest objects are valid", n);
    cc_test_end(test);
}

static void
test_guests_get_unknown(protocol_run *run)
{
    cc_test *test = protocol_begin_connected(run, "guests-get-unknown");
    g_autoptr(GError) error = NULL;
    g_autofree char *suffix = random_suffix();
    g_autofree char *id = g_strconcat("cpf-check-no-such-guest-", suffix, NULL);
    cc_envelope reply;

    if (!test)
        return;
    if (!cc_session_call(run->session, "guests/get", json_pack("{ss}", "id", id), &reply,
                         &error)) {
        cc_test_fail(test, "%s", error->message);
    } else {
        if (reply.error)
            cc_test_note(test, "error %" JSON_INTEGER_FORMAT ": %s", reply.code, reply.message);
        else
            cc_test_fail(test, "guests/get '%s' returned a result instead of an error", id);
        cc_envelope_clear(&reply);
    }
    cc_test_end(test);
}

static void
test_tasks_get_garbage(protocol_run *run)
{
    cc_test *test = protocol_begin_connected(run, "tasks-get-garbage");
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *suffix = random_suffix();
    g_autofree char *id = g_strconcat("cpf-check-garbage-task-", suffix, NULL);
    cc_envelope reply;

    if (!test)
        return;
    if (!cc_session_call(run->session, "tasks/get", json_pack("{ss}", "id", id), &reply,
                         &error)) {
        cc_test_fail(test, "%s", error->message);
        cc_test_end(test);
        return;
    }
    if (reply.error) {
        cc_test_note(test, "error %" JSON_INTEGER_FORMAT ": %s", reply.code, reply.message);
    } else {
        switch (cc_task_reply_check(reply.result, FALSE, NULL, problems)) {
        case CC_TASK_FAILED:
            test_fail_problems(test, problems);
            cc_test_note(test, "reported as a failed task rather than an error reply");
            break;
        case CC_TASK_RUNNING:
            cc_test_fail(test, "a garbage task id is reported as running (RAS would poll it "
                         "until it gives up)");
            break;
        case CC_TASK_COMPLETED:
            cc_test_fail(test, "a garbage task id is reported as completed");
            break;
        case CC_TASK_INVALID:
            test_fail_problems(test, problems);
            break;
        }
    }
    cc_envelope_clear(&reply);
    cc_test_end(test);
}

void
cc_protocol_run(cc_session *session, cc_tap *tap, const cc_protocol_options *options)
{
    protocol_run run = { session, tap, options, FALSE, FALSE, NULL };

    test_initialize(&run);
    test_capabilities(&run);
    test_error_probe(&run, "unknown-method",
                     "{\"method\":\"cpf-check/no-such-method\",\"params\":{}}",
                     "an unknown method");
    test_error_probe(&run, "malformed-line",
                     "{\"method\": \"guests/list\", \"params\": {",
                     "a malformed request line");
    test_connect(&run);
    test_guests_list(&run);
    test_guest_objects(&run);
    test_guests_get_unknown(&run);
    test_tasks_get_garbage(&run);
    g_clear_pointer(&run.guest_ids, g_ptr_array_unref);
}

/* ---- checks over every session ---- */

static cc_test *
final_begin(cc_tap *tap, const char *name)
{
    const char *description = test_description(cc_final_tests, name);

    if (cc_tap_user_skips(tap, name)) {
        cc_tap_skip(tap, name, description, "skipped with --skip");
        return NULL;
    }
    return cc_tap_begin(tap, name, description);
}

void
cc_final_run(cc_session *const *sessions, guint n_sessions, double grace,
             gboolean have_secrets, cc_tap *tap)
{
    cc_test *test;
    guint shown;

    /* exit-on-eof closes every session, so stray output written on exit counts too. */
    test = final_begin(tap, "exit-on-eof");
    for (guint i = 0; i < n_sessions; i++) {
        g_autofree char *description = NULL;
        g_autoptr(GError) error = NULL;
        gboolean clean;

        if (!sessions[i])
            continue;
        /* A session whose provider was killed gets a fresh one to close. */
        if (cc_session_stage(sessions[i]) == CC_STAGE_NONE &&
            !cc_session_ensure(sessions[i], CC_STAGE_STARTED, &error)) {
            if (test)
                cc_test_note(test, "%s session: %s", cc_session_label(sessions[i]),
                             error->message);
            continue;
        }
        clean = cc_session_close(sessions[i], grace, &description);
        if (test && clean)
            cc_test_note(test, "%s session: provider %s", cc_session_label(sessions[i]),
                         description);
        else if (test)
            cc_test_fail(test, "%s session: provider %s", cc_session_label(sessions[i]),
                         description);
    }
    if (test)
        cc_test_end(test);

    test = final_begin(tap, "stdout-purity");
    shown = 0;
    for (guint i = 0; test && i < n_sessions; i++) {
        GPtrArray *stray;

        if (!sessions[i])
            continue;
        stray = cc_session_stray_lines(sessions[i]);
        for (guint j = 0; j < stray->len; j++, shown++) {
            if (shown < CC_MAX_SHOWN)
                cc_test_fail(test, "%s session: stray line %s", cc_session_label(sessions[i]),
                             (const char *)g_ptr_array_index(stray, j));
        }
    }
    if (test) {
        if (shown > CC_MAX_SHOWN)
            cc_test_fail(test, "... and %u more stray lines", shown - CC_MAX_SHOWN);
        cc_test_end(test);
    }

    test = final_begin(tap, "no-secrets-in-replies");
    if (!test)
        return;
    if (!have_secrets)
        cc_test_skip(test, "the settings hold no secret values (keys with secret, password, "
                     "token or key)");
    for (guint i = 0; i < n_sessions; i++) {
        GPtrArray *leaks = sessions[i] ? cc_session_secret_leaks(sessions[i]) : NULL;

        for (guint j = 0; leaks && j < leaks->len; j++)
            cc_test_fail(test, "%s session: the reply to %s contains a secret value",
                         cc_session_label(sessions[i]),
                         (const char *)g_ptr_array_index(leaks, j));
    }
    cc_test_end(test);
}

/* prlkit-cpf-check: the conversation with the provider. Main thread only. */
#include "config.h"

#include <string.h>

#include "check-session.h"

/* A provider that keeps failing is not restarted forever. */
#define CC_MAX_STARTS 4

struct cc_session {
    const cc_session_config *config;  /* borrowed */
    char *label;
    cc_provider *provider;            /* NULL when no process runs */
    cc_stage stage;
    json_t *capabilities;             /* last provider/initialize result's capabilities */
    guint starts;                     /* processes started */
    guint requests;                   /* requests sent, for logs */
    char *last_method;                /* the last request, for stray-line context */
    gint64 last_reply_at;             /* monotonic time of the last reply */
    GPtrArray *stray;                 /* char*: "<context>: <line>" */
    GPtrArray *leaks;                 /* char*: method names */
};

G_DEFINE_QUARK(cc-session-error-quark, cc_session_error)

cc_session *
cc_session_new(const cc_session_config *config, const char *label)
{
    cc_session *session = g_new0(cc_session, 1);

    session->config = config;
    session->label = g_strdup(label);
    session->stray = g_ptr_array_new_with_free_func(g_free);
    session->leaks = g_ptr_array_new_with_free_func(g_free);
    return session;
}

static void
session_drop_provider(cc_session *session)
{
    g_clear_pointer(&session->provider, cc_provider_free);
    session->stage = CC_STAGE_NONE;
}

void
cc_session_free(cc_session *session)
{
    if (!session)
        return;
    session_drop_provider(session);
    json_decref(session->capabilities);
    g_ptr_array_unref(session->stray);
    g_ptr_array_unref(session->leaks);
    g_free(session->last_method);
    g_free(session->label);
    g_free(session);
}

static void
session_log(cc_session *session, const char *direction, const char *text)
{
    g_autofree char *redacted = NULL;
    g_autofree char *shown = NULL;

    if (!session->config->verbose)
        return;
    redacted = cc_secrets_redact(session->config->secrets, text);
    shown = cc_excerpt(redacted, 4000);
    g_printerr("cpf-check[%s] %s %s\n", session->label, direction, shown);
}

gboolean
cc_session_start(cc_session *session, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *command = NULL;

    if (session->provider)
        return TRUE;
    if (session->starts >= CC_MAX_STARTS) {
        g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_START,
                    "the provider was started %u times already; not restarting it again",
                    session->starts);
        return FALSE;
    }
    session->starts++;
    command = g_strjoinv(" ", (char **)session->config->argv);
    session_log(session, "**", session->starts == 1 ? "starting provider" :
                "restarting provider");
    session->provider = cc_provider_spawn(session->config->argv,
                                          &session->config->stderr_target, &local);
    if (!session->provider) {
        g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_START,
                    "cannot start '%s': %s", command, local->message);
        return FALSE;
    }
    session->stage = CC_STAGE_STARTED;
    return TRUE;
}

cc_stage
cc_session_stage(const cc_session *session)
{
    return session->stage;
}

void
cc_session_set_stage(cc_session *session, cc_stage stage)
{
    if (session->provider)
        session->stage = stage;
}

json_t *
cc_session_capabilities(const cc_session *session)
{
    return session->capabilities;
}

void
cc_session_set_capabilities(cc_session *session, json_t *capabilities)
{
    json_decref(session->capabilities);
    session->capabilities = capabilities ? json_deep_copy(capabilities) : NULL;
}

static void
session_add_stray(cc_session *session, const char *context, const char *line)
{
    g_autofree char *shown = cc_excerpt(line, 200);

    session_log(session, "<- (stray)", line);
    g_ptr_array_add(session->stray, g_strdup_printf("%s: '%s'", context, shown));
}

/* Files as stray output every line received until the deadline (monotonic time). */
static void
session_drain(cc_session *session, gint64 deadline, const char *context)
{
    char *line;

    while (session->provider) {
        double wait_s = MAX(deadline - g_get_monotonic_time(), 0) / (double)G_USEC_PER_SEC;

        if (cc_provider_read_line(session->provider, wait_s, &line) != CC_READ_LINE)
            break;
        session_add_stray(session, context, line);
        g_free(line);
    }
}

/* The process stopped talking: say why, and forget it. */
static void
session_fail_closed(cc_session *session, const char *what, GError **error)
{
    g_autofree char *exit = NULL;

    cc_provider_wait(session->provider, MIN(session->config->exit_timeout, 1.0));
    exit = cc_provider_describe_exit(session->provider);
    g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_CLOSED,
                "provider closed its stdout instead of answering %s (process %s)", what, exit);
    session_log(session, "**", "provider closed its stdout");
    session_drop_provider(session);
}

/* A line that parses as JSON is the reply; a UTF-8 BOM in front of it is reported. */
static json_t *
session_parse_reply(const char *line, gboolean *had_bom)
{
    static const char bom[] = "\xEF\xBB\xBF";

    *had_bom = FALSE;
    if (g_str_has_prefix(line, bom)) {
        *had_bom = TRUE;
        line += strlen(bom);
    }
    return json_loads(line, JSON_DECODE_ANY, NULL);
}

/* log_request: what --verbose shows of the request (NULL: the request itself). */
static gboolean
session_exchange(cc_session *session, const char *request, const char *log_request,
                 const char *what, cc_envelope *reply, GError **error)
{
    g_autofree char *before = NULL;
    g_autofree char *waiting = NULL;
    g_autoptr(GError) local = NULL;
    gint64 deadline;

    memset(reply, 0, sizeof *reply);
    if (!session->provider) {
        g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_CLOSED,
                    "no provider process is running");
        return FALSE;
    }

    before = session->last_method ? g_strdup_printf("after the reply to %s",
                                                    session->last_method)
                                  : g_strdup("before the first request");
    session_drain(session, session->last_reply_at +
                  (gint64)(session->config->settle * G_USEC_PER_SEC), before);
    g_free(session->last_method);
    session->last_method = g_strdup(what);

    session->requests++;
    session_log(session, "->", log_request ? log_request : request);
    if (!cc_provider_write_line(session->provider, request, &local)) {
        g_autofree char *why = g_strdup_printf("%s (writing its stdin failed: %s)", what,
                                               local->message);

        session_fail_closed(session, why, error);
        return FALSE;
    }

    waiting = g_strdup_printf("while waiting for the reply to %s", what);
    deadline = g_get_monotonic_time() + (gint64)(session->config->reply_timeout * G_USEC_PER_SEC);
    for (;;) {
        double remaining = (deadline - g_get_monotonic_time()) / (double)G_USEC_PER_SEC;
        g_autofree char *line = NULL;
        gboolean had_bom;
        json_t *root;

        switch (cc_provider_read_line(session->provider, MAX(remaining, 0.001), &line)) {
        case CC_READ_TIMEOUT: {
            g_autofree char *partial = cc_provider_partial_line(session->provider);
            g_autofree char *shown = cc_excerpt(partial, 200);

            g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_TIMEOUT,
                        "no reply to %s within %.3g s%s%s%s; the provider was killed", what,
                        session->config->reply_timeout,
                        *partial ? " (received without a newline: '" : "", shown,
                        *partial ? "')" : "");
            session_log(session, "**", "reply timeout: killing the provider");
            session_drop_provider(session);
            return FALSE;
        }
        case CC_READ_EOF:
            session_fail_closed(session, what, error);
            return FALSE;
        case CC_READ_LINE:
            break;
        }

        if (cc_secrets_found_in(session->config->secrets, line))
            g_ptr_array_add(session->leaks, g_strdup(what));
        root = session_parse_reply(line, &had_bom);
        if (!root) {
            session_add_stray(session, waiting, line);
            continue;
        }
        session_log(session, "<-", line);
        session->last_reply_at = g_get_monotonic_time();
        if (had_bom) {
            json_decref(root);
            g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_ENVELOPE,
                        "the reply to %s starts with a UTF-8 byte order mark", what);
            return FALSE;
        }
        if (!cc_envelope_parse(root, reply, &local)) {
            g_autofree char *shown = cc_excerpt(line, 200);

            g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_ENVELOPE,
                        "invalid reply to %s: %s: '%s'", what, local->message, shown);
            return FALSE;
        }
        return TRUE;
    }
}

gboolean
cc_session_call_raw(cc_session *session, const char *line, const char *what,
                    cc_envelope *reply, GError **error)
{
    return session_exchange(session, line, NULL, what, reply, error);
}

gboolean
cc_session_call(cc_session *session, const char *method, json_t *params, cc_envelope *reply,
                GError **error)
{
    json_t *request = json_object();
    g_autofree char *line = NULL;
    g_autofree char *log_line = NULL;
    json_t *settings;

    if (!params)
        params = json_object();
    json_object_set_new(request, "method", json_string(method));
    json_object_set_new(request, "params", params);
    line = json_dumps(request, JSON_COMPACT);
    settings = json_object_get(params, "settings");
    if (session->config->verbose && settings) {
        /* Secret-named settings are hidden whatever their length. */
        json_object_set_new(params, "settings", cc_secrets_redact_settings(settings));
        log_line = json_dumps(request, JSON_COMPACT);
    }
    json_decref(request);
    if (!line) {
        memset(reply, 0, sizeof *reply);
        g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_CLOSED,
                    "cannot encode the %s request", method);
        return FALSE;
    }
    return session_exchange(session, line, log_line, method, reply, error);
}

json_t *
cc_session_call_result(cc_session *session, const char *method, json_t *params,
                       GError **error)
{
    cc_envelope reply;
    json_t *result;

    if (!cc_session_call(session, method, params, &reply, error))
        return NULL;
    if (reply.error) {
        g_autofree char *shown = cc_excerpt(reply.message, 300);

        g_set_error(error, CC_SESSION_ERROR, CC_SESSION_ERROR_FAILED,
                    "%s failed: error %" JSON_INTEGER_FORMAT ": %s", method, reply.code, shown);
        cc_envelope_clear(&reply);
        return NULL;
    }
    result = json_incref(reply.result);
    cc_envelope_clear(&reply);
    return result;
}

gboolean
cc_session_ensure(cc_session *session, cc_stage stage, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (session->provider && session->stage >= stage)
        return TRUE;
    if (!cc_session_start(session, error))
        return FALSE;

    if (stage >= CC_STAGE_INITIALIZED && session->stage < CC_STAGE_INITIALIZED) {
        json_t *result = cc_session_call_result(session, "provider/initialize", NULL, &local);
        json_t *capabilities = json_object_get(result, "capabilities");

        if (!result || !json_is_object(capabilities)) {
            g_set_error(error, CC_SESSION_ERROR, local ? local->code : CC_SESSION_ERROR_FAILED,
                        "provider/initialize: %s",
                        local ? local->message : "the result has no capabilities object");
            json_decref(result);
            return FALSE;
        }
        cc_session_set_capabilities(session, capabilities);
        json_decref(result);
        session->stage = CC_STAGE_INITIALIZED;
    }

    if (stage >= CC_STAGE_CONNECTED && session->stage < CC_STAGE_CONNECTED) {
        json_t *params = json_pack("{sO}", "settings", session->config->settings);
        json_t *result = cc_session_call_result(session, "provider/connect", params, &local);

        if (!result) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        json_decref(result);
        session->stage = CC_STAGE_CONNECTED;
    }
    return TRUE;
}

gboolean
cc_session_close(cc_session *session, double grace, char **description)
{
    g_autofree char *context = NULL;
    gboolean clean;
    char *line;

    if (description)
        *description = NULL;
    if (!session->provider) {
        if (description)
            *description = g_strdup("no provider process was running");
        return FALSE;
    }
    context = session->last_method ? g_strdup_printf("after the reply to %s",
                                                     session->last_method)
                                   : g_strdup("before the first request");
    session_drain(session, g_get_monotonic_time() + (gint64)(grace * G_USEC_PER_SEC), context);
    session_log(session, "**", "closing the provider's stdin");
    cc_provider_close_input(session->provider);
    if (!cc_provider_wait(session->provider, session->config->exit_timeout)) {
        if (description)
            *description = g_strdup_printf("still running %.3g s after its stdin was closed; "
                                           "killed", session->config->exit_timeout);
        cc_provider_kill(session->provider);
        clean = FALSE;
    } else {
        clean = cc_provider_exited_cleanly(session->provider);
        if (description)
            *description = cc_provider_describe_exit(session->provider);
    }
    /* Whatever it wrote on its way out is stray too. Its stdout must then end: a process
     * it left behind that still holds it can keep a reader such as RAS waiting. */
    while (cc_provider_read_line(session->provider, MIN(session->config->exit_timeout, 0.5),
                                 &line) == CC_READ_LINE) {
        session_add_stray(session, "after stdin was closed", line);
        g_free(line);
    }
    if (!cc_provider_output_ended(session->provider) &&
        cc_provider_kill_leftovers(session->provider)) {
        if (description) {
            char *more = g_strdup_printf("%s, but its stdout stayed open: processes it "
                                         "started were still running and were killed",
                                         *description);

            g_free(*description);
            *description = more;
        }
        clean = FALSE;
    }
    session_drop_provider(session);
    return clean;
}

GPtrArray *
cc_session_stray_lines(const cc_session *session)
{
    return session->stray;
}

GPtrArray *
cc_session_secret_leaks(const cc_session *session)
{
    return session->leaks;
}

guint
cc_session_start_count(const cc_session *session)
{
    return session->starts;
}

const char *
cc_session_label(const cc_session *session)
{
    return session->label;
}

json_t *
cc_session_settings(const cc_session *session)
{
    return session->config->settings;
}

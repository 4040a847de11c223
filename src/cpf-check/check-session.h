/* prlkit-cpf-check: a conversation with the provider command. It sends one request line,
 * takes the first JSON line that follows as the reply, and files every other line as stray
 * output ("stdout purity"); lines written just after a reply are caught by holding the next
 * request back until stdout has been quiet for the settle time since that reply. A provider that stops answering or dies is killed; the next
 * cc_session_ensure starts a fresh process and brings it back to the same stage
 * (initialized, connected), as RAS would restart it. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "check-provider.h"
#include "check-secrets.h"
#include "check-validate.h"

#define CC_SESSION_ERROR (cc_session_error_quark())
GQuark cc_session_error_quark(void);

typedef enum {
    CC_SESSION_ERROR_START,      /* the provider could not be started (again) */
    CC_SESSION_ERROR_TIMEOUT,    /* no reply within the reply timeout */
    CC_SESSION_ERROR_CLOSED,     /* the provider closed stdout, exited or stopped reading */
    CC_SESSION_ERROR_ENVELOPE,   /* a reply arrived that is not a valid envelope */
    CC_SESSION_ERROR_FAILED,     /* a valid error reply where success was required */
} cc_session_error;

typedef struct {
    const char *const *argv;        /* the provider command */
    json_t *settings;               /* params.settings of provider/connect */
    const cc_secrets *secrets;      /* for --verbose and leak detection */
    cc_stderr_target stderr_target;
    double reply_timeout;           /* seconds per reply */
    double exit_timeout;            /* seconds to exit after EOF on stdin */
    double settle;                  /* seconds stdout must stay quiet after a reply */
    gboolean verbose;               /* log every line to stderr */
} cc_session_config;

typedef enum {
    CC_STAGE_NONE,                  /* no provider process */
    CC_STAGE_STARTED,
    CC_STAGE_INITIALIZED,           /* provider/initialize succeeded */
    CC_STAGE_CONNECTED,             /* provider/connect succeeded */
} cc_stage;

typedef struct cc_session cc_session;

/* config must outlive the session. label names the session in logs ("protocol"). */
cc_session *cc_session_new(const cc_session_config *config, const char *label);
void cc_session_free(cc_session *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cc_session, cc_session_free)

/* Starts a provider process unless one runs. */
gboolean cc_session_start(cc_session *session, GError **error);

/* Makes sure a provider runs and has reached stage, restarting it and sending
 * provider/initialize and provider/connect as needed (a few restarts at most). */
gboolean cc_session_ensure(cc_session *session, cc_stage stage, GError **error);
cc_stage cc_session_stage(const cc_session *session);
/* Records a stage reached by a request the caller sent itself. */
void cc_session_set_stage(cc_session *session, cc_stage stage);

/* Capabilities object of the last successful provider/initialize (borrowed), or NULL. */
json_t *cc_session_capabilities(const cc_session *session);
void cc_session_set_capabilities(cc_session *session, json_t *capabilities);

/* Sends {"method": method, "params": params} (params stolen; NULL = {}) and waits for the
 * reply. TRUE with *reply filled when a valid envelope arrived (success or error reply). */
gboolean cc_session_call(cc_session *session, const char *method, json_t *params,
                         cc_envelope *reply, GError **error);
/* Same with a raw request line; what names it in diagnostics. */
gboolean cc_session_call_raw(cc_session *session, const char *line, const char *what,
                             cc_envelope *reply, GError **error);
/* cc_session_call that also requires a success reply; returns the result (a new
 * reference) or NULL with CC_SESSION_ERROR_FAILED for an error reply. */
json_t *cc_session_call_result(cc_session *session, const char *method, json_t *params,
                               GError **error);

/* Reads whatever the provider still writes within grace seconds (stray output), closes its
 * stdin and waits up to the exit timeout. TRUE when it exited with status 0 in time; a
 * provider still running is killed. *description (optional) says what happened. */
gboolean cc_session_close(cc_session *session, double grace, char **description);

/* Every line that was not a reply to a request, with where it was seen (borrowed). */
GPtrArray *cc_session_stray_lines(const cc_session *session);
/* Methods whose reply contained a secret value from the settings (borrowed). */
GPtrArray *cc_session_secret_leaks(const cc_session *session);
/* The session's label and the settings sent on connect (borrowed). */
const char *cc_session_label(const cc_session *session);
json_t *cc_session_settings(const cc_session *session);
/* How many provider processes were started. */
guint cc_session_start_count(const cc_session *session);

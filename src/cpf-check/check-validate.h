/* prlkit-cpf-check: what RAS and the official harness require of each reply (CPF.md §1,
 * §4, §5 and §3 tasks/get). Pure functions: they read JSON and append one readable line
 * per problem to a GPtrArray of strings. */
#pragma once

#include <glib.h>
#include <jansson.h>

/* A reply line split into its envelope. */
typedef struct {
    json_t *root;            /* owned */
    json_t *result;          /* borrowed from root; NULL for an error reply */
    json_t *error;           /* borrowed from root; NULL for a success reply */
    json_int_t code;         /* error replies */
    const char *message;     /* error replies; borrowed from root */
} cc_envelope;

/* Takes ownership of root. FALSE (and error set) when it is not {"result":...} or
 * {"error":{"code":<int>,"message":<string>}}; env is then left cleared. */
gboolean cc_envelope_parse(json_t *root, cc_envelope *env, GError **error);
void cc_envelope_clear(cc_envelope *env);

typedef enum {
    CC_TEMPLATE_NONE,        /* Basic level: list/get/control */
    CC_TEMPLATE_BASIC,       /* Full clones, or Link clones with can_link_clones */
    CC_TEMPLATE_VERSIONING,  /* Template versions */
} cc_template_method;

typedef struct {
    gboolean can_suspend_guests;
    gboolean can_link_clones;
    gint64 guests_polling_rate;     /* seconds, 3..900 */
    gint64 tasks_polling_rate;      /* seconds, 1..60 */
    gint64 tasks_polling_retries;   /* 0..180 */
    cc_template_method template_method;
} cc_capabilities;

#define CC_GUESTS_POLLING_RATE_MIN 3
#define CC_GUESTS_POLLING_RATE_MAX 900
#define CC_TASKS_POLLING_RATE_MIN 1
#define CC_TASKS_POLLING_RATE_MAX 60
#define CC_TASKS_POLLING_RETRIES_MAX 180

/* Reads the six keys. Missing, mistyped or out-of-range values are problems and are
 * replaced by the nearest valid value (RAS's defaults for missing ones), so the
 * workflows can still run. */
void cc_capabilities_parse(json_t *capabilities, cc_capabilities *out, GPtrArray *problems);
const char *cc_template_method_name(cc_template_method method);

/* The six guest states. */
gboolean cc_guest_state_is_valid(const char *state);

/* Checks one guest object field by field; expected_id may be NULL. */
void cc_guest_validate(json_t *guest, const char *expected_id, GPtrArray *problems);

/* Checks a guests/list result; on return *ids (never NULL) holds the valid ids. */
void cc_guest_list_validate(json_t *result, GPtrArray **ids, GPtrArray *problems);

/* TRUE for "XX:XX:XX:XX:XX:XX" in upper-case hex. */
gboolean cc_mac_is_valid(const char *mac);

typedef enum {
    CC_TASK_RUNNING,
    CC_TASK_COMPLETED,
    CC_TASK_FAILED,
    CC_TASK_INVALID,         /* no usable state: RAS cannot go on */
} cc_task_state;

/* Checks a tasks/get result. The harness treats every state but "running" as final and
 * requires "output" on completion (with "clone_id" for a clone) and "error" on failure.
 * A completed clone task's clone id is returned in *clone_id (borrowed) when present. */
cc_task_state cc_task_reply_check(json_t *result, gboolean is_clone, const char **clone_id,
                                  GPtrArray *problems);

/* A task-starting reply: {"task_id": "<non-empty string>", ...}. Returns the borrowed id
 * or NULL (problem recorded). */
const char *cc_task_start_check(json_t *result, GPtrArray *problems);

/* Shortens a line for diagnostics and makes it valid UTF-8. */
char *cc_excerpt(const char *text, gsize max_chars);

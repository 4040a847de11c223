/* prlkit-cpf-check: reply validation. */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "check-validate.h"

#define problem(problems, ...) g_ptr_array_add((problems), g_strdup_printf(__VA_ARGS__))

static const char *const guest_states[] = {
    "powered_off", "powering_off", "powered_on", "powering_on", "suspended", "suspending",
};

static const char *
json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

char *
cc_excerpt(const char *text, gsize max_chars)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);
    g_autofree char *head = NULL;

    if (g_utf8_strlen(valid, -1) <= (glong)max_chars)
        return g_steal_pointer(&valid);
    head = g_utf8_substring(valid, 0, max_chars);
    return g_strconcat(head, "...", NULL);
}

/* ---- envelopes ---- */

void
cc_envelope_clear(cc_envelope *env)
{
    json_decref(env->root);
    memset(env, 0, sizeof *env);
}

gboolean
cc_envelope_parse(json_t *root, cc_envelope *env, GError **error)
{
    json_t *result, *err, *code, *message;

    memset(env, 0, sizeof *env);
    if (!json_is_object(root)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "reply is %s, not a JSON object", json_type_name(root));
        json_decref(root);
        return FALSE;
    }
    result = json_object_get(root, "result");
    err = json_object_get(root, "error");
    if (result && err) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            "reply has both \"result\" and \"error\"");
        json_decref(root);
        return FALSE;
    }
    if (!result && !err) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            "reply has neither \"result\" nor \"error\"");
        json_decref(root);
        return FALSE;
    }
    if (err) {
        code = json_object_get(err, "code");
        message = json_object_get(err, "message");
        if (!json_is_object(err) || !json_is_integer(code) || !json_is_string(message)) {
            g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                "\"error\" must be {\"code\": <integer>, \"message\": <string>}");
            json_decref(root);
            return FALSE;
        }
        env->code = json_integer_value(code);
        env->message = json_string_value(message);
    }
    env->root = root;
    env->result = result;
    env->error = err;
    return TRUE;
}

/* ---- capabilities ---- */

const char *
cc_template_method_name(cc_template_method method)
{
    switch (method) {
    case CC_TEMPLATE_NONE: return "none";
    case CC_TEMPLATE_BASIC: return "basic";
    case CC_TEMPLATE_VERSIONING: return "versioning";
    }
    return "?";
}

static gboolean
caps_bool(json_t *caps, const char *key, gboolean fallback, GPtrArray *problems)
{
    json_t *value = json_object_get(caps, key);

    if (!value) {
        problem(problems, "capability \"%s\" is missing", key);
        return fallback;
    }
    if (!json_is_boolean(value)) {
        problem(problems, "capability \"%s\" is %s, not a boolean", key, json_type_name(value));
        return fallback;
    }
    return json_is_true(value);
}

static gint64
caps_int(json_t *caps, const char *key, gint64 min, gint64 max, gint64 fallback,
         GPtrArray *problems)
{
    json_t *value = json_object_get(caps, key);
    gint64 n;

    if (!value) {
        problem(problems, "capability \"%s\" is missing", key);
        return fallback;
    }
    if (!json_is_integer(value)) {
        problem(problems, "capability \"%s\" is %s, not an integer", key, json_type_name(value));
        return fallback;
    }
    n = json_integer_value(value);
    if (n < min || n > max) {
        problem(problems, "capability \"%s\" is %" G_GINT64_FORMAT ", outside %" G_GINT64_FORMAT
                "..%" G_GINT64_FORMAT, key, n, min, max);
        return CLAMP(n, min, max);
    }
    return n;
}

void
cc_capabilities_parse(json_t *caps, cc_capabilities *out, GPtrArray *problems)
{
    json_t *method;

    if (!json_is_object(caps)) {
        problem(problems, "\"capabilities\" is %s, not an object",
                caps ? json_type_name(caps) : "missing");
        caps = NULL;
    }
    /* Fallbacks are what RAS assumes for a provider that says nothing. */
    out->can_suspend_guests = caps_bool(caps, "can_suspend_guests", FALSE, problems);
    out->guests_polling_rate = caps_int(caps, "guests_polling_rate", CC_GUESTS_POLLING_RATE_MIN,
                                        CC_GUESTS_POLLING_RATE_MAX, 15, problems);
    out->tasks_polling_rate = caps_int(caps, "tasks_polling_rate", CC_TASKS_POLLING_RATE_MIN,
                                       CC_TASKS_POLLING_RATE_MAX, 3, problems);
    out->tasks_polling_retries = caps_int(caps, "tasks_polling_retries", 0,
                                          CC_TASKS_POLLING_RETRIES_MAX, 180, problems);
    out->can_link_clones = caps_bool(caps, "can_link_clones", FALSE, problems);

    out->template_method = CC_TEMPLATE_NONE;
    method = json_object_get(caps, "template_method");
    if (!method) {
        problem(problems, "capability \"template_method\" is missing");
    } else if (!json_is_string(method)) {
        problem(problems, "capability \"template_method\" is %s, not a string",
                json_type_name(method));
    } else if (strcmp(json_string_value(method), "none") == 0) {
        out->template_method = CC_TEMPLATE_NONE;
    } else if (strcmp(json_string_value(method), "basic") == 0) {
        out->template_method = CC_TEMPLATE_BASIC;
    } else if (strcmp(json_string_value(method), "versioning") == 0) {
        out->template_method = CC_TEMPLATE_VERSIONING;
    } else {
        g_autofree char *shown = cc_excerpt(json_string_value(method), 40);

        problem(problems, "capability \"template_method\" is \"%s\", not none, basic or "
                "versioning", shown);
    }
}

/* ---- guest objects ---- */

gboolean
cc_guest_state_is_valid(const char *state)
{
    for (gsize i = 0; state && i < G_N_ELEMENTS(guest_states); i++) {
        if (strcmp(state, guest_states[i]) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean
cc_mac_is_valid(const char *mac)
{
    if (strlen(mac) != 17)
        return FALSE;
    for (int i = 0; i < 17; i++) {
        char c = mac[i];

        if (i % 3 == 2 ? c != ':' : !(g_ascii_isdigit(c) || (c >= 'A' && c <= 'F')))
            return FALSE;
    }
    return TRUE;
}

static gboolean
ip_is_valid(const char *text)
{
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(text);

    return address != NULL;
}

static void
guest_check_strings(json_t *guest, const char *id, const char *key,
                    gboolean (*valid)(const char *), const char *what, GPtrArray *problems)
{
    json_t *array = json_object_get(guest, key);
    size_t i;
    json_t *item;

    if (!array) {
        problem(problems, "guest %s: \"%s\" is missing (an empty array is fine)", id, key);
        return;
    }
    if (!json_is_array(array)) {
        problem(problems, "guest %s: \"%s\" is %s, not an array of strings", id, key,
                json_type_name(array));
        return;
    }
    json_array_foreach(array, i, item) {
        g_autofree char *shown = NULL;

        if (!json_is_string(item)) {
            problem(problems, "guest %s: %s[%zu] is %s, not a string", id, key, i,
                    json_type_name(item));
            continue;
        }
        if (!valid(json_string_value(item))) {
            shown = cc_excerpt(json_string_value(item), 60);
            problem(problems, "guest %s: %s[%zu] \"%s\" is not %s", id, key, i, shown, what);
        }
    }
}

static void
guest_check_string(json_t *guest, const char *id, const char *key, gboolean required,
                   GPtrArray *problems)
{
    json_t *value = json_object_get(guest, key);

    if (!value) {
        if (required)
            problem(problems, "guest %s: \"%s\" is missing", id, key);
        return;
    }
    if (!json_is_string(value))
        problem(problems, "guest %s: \"%s\" is %s, not a string", id, key, json_type_name(value));
}

void
cc_guest_validate(json_t *guest, const char *expected_id, GPtrArray *problems)
{
    g_autofree char *id = g_strdup(expected_id ? expected_id : "?");
    json_t *value;

    if (!json_is_object(guest)) {
        problem(problems, "guest %s: the result is %s, not a guest object", id,
                guest ? json_type_name(guest) : "missing");
        return;
    }

    value = json_object_get(guest, "id");
    if (!json_is_string(value)) {
        problem(problems, "guest %s: \"id\" is %s, not a string", id,
                value ? json_type_name(value) : "missing");
    } else if (expected_id && strcmp(json_string_value(value), expected_id) != 0) {
        g_autofree char *shown = cc_excerpt(json_string_value(value), 60);

        problem(problems, "guest %s: \"id\" is \"%s\", not the id asked for", id, shown);
    }

    guest_check_string(guest, id, "name", TRUE, problems);

    value = json_object_get(guest, "state");
    if (!json_is_string(value)) {
        problem(problems, "guest %s: \"state\" is %s, not a string", id,
                value ? json_type_name(value) : "missing");
    } else if (!cc_guest_state_is_valid(json_string_value(value))) {
        g_autofree char *shown = cc_excerpt(json_string_value(value), 40);

        problem(problems, "guest %s: \"state\" is \"%s\", not one of powered_off, "
                "powering_off, powered_on, powering_on, suspended, suspending", id, shown);
    }

    guest_check_strings(guest, id, "ip_addresses", ip_is_valid, "an IP address", problems);
    guest_check_strings(guest, id, "mac_addresses", cc_mac_is_valid,
                        "an upper-case colon-separated MAC address", problems);

    value = json_object_get(guest, "is_template");
    if (!json_is_boolean(value))
        problem(problems, "guest %s: \"is_template\" is %s, not a boolean", id,
                value ? json_type_name(value) : "missing");

    /* Informational members: optional, but strings when present. */
    guest_check_string(guest, id, "power_state", FALSE, problems);
    guest_check_string(guest, id, "host_os", FALSE, problems);
    guest_check_string(guest, id, "provider", FALSE, problems);
    guest_check_string(guest, id, "type", FALSE, problems);
}

void
cc_guest_list_validate(json_t *result, GPtrArray **ids, GPtrArray *problems)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    json_t *guests, *item;
    size_t i;

    *ids = g_ptr_array_new_with_free_func(g_free);
    guests = json_is_object(result) ? json_object_get(result, "guests") : NULL;
    if (!json_is_array(guests)) {
        problem(problems, "the result must be {\"guests\": [<id strings>]}");
        return;
    }
    json_array_foreach(guests, i, item) {
        const char *id;

        if (!json_is_string(item)) {
            problem(problems, "guests[%zu] is %s, not a string", i, json_type_name(item));
            continue;
        }
        id = json_string_value(item);
        if (!*id) {
            problem(problems, "guests[%zu] is an empty string", i);
            continue;
        }
        if (g_hash_table_contains(seen, id)) {
            g_autofree char *shown = cc_excerpt(id, 60);

            problem(problems, "guest id \"%s\" is listed twice", shown);
            continue;
        }
        g_hash_table_add(seen, (gpointer)id);
        g_ptr_array_add(*ids, g_strdup(id));
    }
}

/* ---- tasks ---- */

const char *
cc_task_start_check(json_t *result, GPtrArray *problems)
{
    json_t *task_id = json_is_object(result) ? json_object_get(result, "task_id") : NULL;

    if (!json_is_string(task_id) || !*json_string_value(task_id)) {
        problem(problems, "the result must be {\"task_id\": <non-empty string>}");
        return NULL;
    }
    return json_string_value(task_id);
}

cc_task_state
cc_task_reply_check(json_t *result, gboolean is_clone, const char **clone_id,
                    GPtrArray *problems)
{
    json_t *state, *output, *error, *id, *code, *message;
    const char *name;

    if (clone_id)
        *clone_id = NULL;
    state = json_is_object(result) ? json_object_get(result, "state") : NULL;
    if (!json_is_string(state)) {
        problem(problems, "tasks/get result must be an object with a string \"state\"");
        return CC_TASK_INVALID;
    }
    name = json_string_value(state);
    if (strcmp(name, "running") == 0)
        return CC_TASK_RUNNING;

    if (strcmp(name, "completed") == 0) {
        output = json_object_get(result, "output");
        if (!json_is_object(output)) {
            problem(problems, "completed task: \"output\" is %s (the harness requires an object)",
                    output ? json_type_name(output) : "missing");
            return CC_TASK_COMPLETED;
        }
        if (is_clone) {
            id = json_object_get(output, "clone_id");
            if (!json_is_string(id) || !*json_string_value(id))
                problem(problems, "completed clone task: \"output.clone_id\" is %s, not a "
                        "non-empty string", id ? json_type_name(id) : "missing");
            else if (clone_id)
                *clone_id = json_string_value(id);
        }
        return CC_TASK_COMPLETED;
    }

    if (strcmp(name, "failed") == 0) {
        error = json_object_get(result, "error");
        code = json_object_get(error, "code");
        message = json_object_get(error, "message");
        if (!json_is_object(error) || !json_is_integer(code) || !json_is_string(message))
            problem(problems, "failed task: \"error\" must be {\"code\": <integer>, "
                    "\"message\": <string>}");
        return CC_TASK_FAILED;
    }

    {
        g_autofree char *shown = cc_excerpt(name, 40);

        problem(problems, "task state \"%s\" is not running, completed or failed (the harness "
                "treats it as final without output)", shown);
    }
    return CC_TASK_INVALID;
}

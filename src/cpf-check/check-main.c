/* prlkit-cpf-check: checks any Custom Provider command the way Parallels RAS and the
 * official PowerShell test harness would. See prlkit-cpf-check(1). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <jansson.h>

#include "check-protocol.h"
#include "check-secrets.h"
#include "check-session.h"
#include "check-tap.h"
#include "check-workflows.h"

#define EXIT_USAGE 2

typedef struct {
    char *settings_file;
    char **set;
    char *guest;
    char *template_id;
    char *clone_name;
    double reply_timeout;
    double exit_timeout;
    double settle;
    double poll_scale;
    char *only;
    char **skip;
    gint max_guests;
    char *provider_stderr;
    gboolean verbose;
    gboolean list_tests;
    gboolean version;
} options;

static int G_GNUC_PRINTF(1, 2)
usage_error(const char *format, ...)
{
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    g_printerr("prlkit-cpf-check: %s\nTry 'prlkit-cpf-check --help'.\n", text);
    return EXIT_USAGE;
}

static gboolean
test_name_known(const char *name)
{
    const cc_test_info *tables[] = { cc_protocol_tests, cc_workflow_tests, cc_final_tests };

    for (gsize i = 0; i < G_N_ELEMENTS(tables); i++) {
        for (const cc_test_info *info = tables[i]; info->name; info++) {
            if (strcmp(info->name, name) == 0)
                return TRUE;
        }
    }
    return FALSE;
}

static void
list_tests(void)
{
    const struct {
        const char *group;
        const cc_test_info *table;
    } groups[] = {
        { "protocol", cc_protocol_tests },
        { "workflows", cc_workflow_tests },
        { "every session", cc_final_tests },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(groups); i++) {
        for (const cc_test_info *info = groups[i].table; info->name; info++)
            g_print("%-22s %-14s %s\n", info->name, groups[i].group, info->description);
    }
}

/* The settings object: --settings FILE, then every --set KEY=VALUE over it. */
static json_t *
load_settings(const options *opts, char **error_text)
{
    json_t *settings;

    if (opts->settings_file) {
        json_error_t error;

        settings = json_load_file(opts->settings_file, 0, &error);
        if (!settings) {
            *error_text = g_strdup_printf("--settings %s: %s (line %d)", opts->settings_file,
                                          error.text, error.line);
            return NULL;
        }
        if (!json_is_object(settings)) {
            *error_text = g_strdup_printf("--settings %s: the file must hold a JSON object",
                                          opts->settings_file);
            json_decref(settings);
            return NULL;
        }
    } else {
        settings = json_object();
    }
    for (guint i = 0; opts->set && opts->set[i]; i++) {
        const char *eq = strchr(opts->set[i], '=');
        g_autofree char *key = NULL;

        if (!eq || eq == opts->set[i]) {
            *error_text = g_strdup("--set needs KEY=VALUE");
            json_decref(settings);
            return NULL;
        }
        key = g_strndup(opts->set[i], eq - opts->set[i]);
        json_object_set_new(settings, key, json_string(eq + 1));
    }
    return settings;
}

/* --provider-stderr: inherit, discard, or a file appended to. */
static gboolean
open_stderr_target(const char *where, cc_stderr_target *target, char **error_text)
{
    target->fd = -1;
    if (!where || strcmp(where, "inherit") == 0) {
        target->mode = CC_STDERR_INHERIT;
        return TRUE;
    }
    if (strcmp(where, "discard") == 0) {
        target->mode = CC_STDERR_DISCARD;
        return TRUE;
    }
    target->mode = CC_STDERR_FD;
    target->fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (target->fd < 0) {
        *error_text = g_strdup_printf("--provider-stderr %s: %s", where, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static char *
describe_command(const char *const *argv)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; argv[i]; i++) {
        g_autofree char *quoted = g_shell_quote(argv[i]);

        if (i)
            g_string_append_c(text, ' ');
        g_string_append(text, strpbrk(argv[i], " \t\"'\\$`") ? quoted : argv[i]);
    }
    return g_string_free(text, FALSE);
}

static void
options_clear(options *opts)
{
    g_free(opts->settings_file);
    g_strfreev(opts->set);
    g_free(opts->guest);
    g_free(opts->template_id);
    g_free(opts->clone_name);
    g_free(opts->only);
    g_strfreev(opts->skip);
    g_free(opts->provider_stderr);
}

int
main(int argc, char **argv)
{
    options opts = { .reply_timeout = 60, .exit_timeout = 2, .settle = 0.05, .poll_scale = 1,
                     .max_guests = 100 };
    const GOptionEntry entries[] = {
        { "settings", 0, 0, G_OPTION_ARG_FILENAME, &opts.settings_file,
          "JSON object sent as params.settings of provider/connect", "FILE" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.set,
          "Add or replace one setting (a string; repeatable)", "KEY=VALUE" },
        { "guest", 0, 0, G_OPTION_ARG_STRING, &opts.guest,
          "Guest that Create template turns into a template (default: discover)", "ID" },
        { "template", 0, 0, G_OPTION_ARG_STRING, &opts.template_id,
          "Template for maintenance and Create host (default: the one Create template made, "
          "else discover)", "ID" },
        { "clone-name", 0, 0, G_OPTION_ARG_STRING, &opts.clone_name,
          "Name of Create host's clone (default: cpf-check-PID)", "NAME" },
        { "reply-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opts.reply_timeout,
          "Seconds to wait for each reply (default: 60)", "SEC" },
        { "exit-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opts.exit_timeout,
          "Seconds the provider has to exit after EOF on stdin (default: 2)", "SEC" },
        { "settle", 0, 0, G_OPTION_ARG_DOUBLE, &opts.settle,
          "Seconds stdout must stay quiet after a reply before the next request (default: "
          "0.05)", "SEC" },
        { "poll-scale", 0, 0, G_OPTION_ARG_DOUBLE, &opts.poll_scale,
          "Multiply the advertised polling rates (e.g. 0.01 for a fast simulator; default: 1)",
          "F" },
        { "only", 0, 0, G_OPTION_ARG_STRING, &opts.only,
          "Run only the protocol tests or only the workflows", "protocol|workflows" },
        { "skip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.skip,
          "Skip a test (repeatable; see --list-tests)", "NAME" },
        { "max-guests", 0, 0, G_OPTION_ARG_INT, &opts.max_guests,
          "Guests examined by guest-objects and discovery (0: all; default: 100)", "N" },
        { "provider-stderr", 0, 0, G_OPTION_ARG_FILENAME, &opts.provider_stderr,
          "Where the provider's stderr goes: inherit (default), discard, or a file to append "
          "to", "WHERE" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opts.verbose,
          "Log every line exchanged to stderr (secrets redacted)", NULL },
        { "list-tests", 0, 0, G_OPTION_ARG_NONE, &opts.list_tests,
          "List the tests and exit", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &opts.version, "Print the version and exit", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) context = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(cc_secrets) secrets = NULL;
    g_autoptr(cc_session) protocol = NULL;
    g_autoptr(cc_session) workflows = NULL;
    g_autofree char *error_text = NULL;
    g_autofree char *clone_name = NULL;
    g_autofree char *command = NULL;
    g_autofree char *shown_command = NULL;
    cc_session_config config = { 0 };
    cc_stderr_target stderr_target;
    json_t *settings;
    cc_tap *tap;
    char **option_argv;
    int option_argc = argc;
    int status;
    guint failed;

    signal(SIGPIPE, SIG_IGN);
    g_set_prgname("prlkit-cpf-check");

    /* Everything after "--" is the provider command, options included. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            option_argc = i;
            break;
        }
    }
    option_argv = g_new0(char *, option_argc + 1);
    for (int i = 0; i < option_argc; i++)
        option_argv[i] = argv[i];

    context = g_option_context_new("-- COMMAND [ARGUMENT...]");
    g_option_context_set_summary(context,
        "Starts a Parallels RAS Custom Provider command and checks it the way RAS and the\n"
        "official PowerShell test harness would: the line protocol, capabilities, guest\n"
        "objects and task replies, then the Create template, Enter/Exit maintenance and\n"
        "Create host workflows. Prints TAP; exits 0 when everything passed, 1 when a test\n"
        "failed, 2 on usage errors.");
    g_option_context_add_main_entries(context, entries, NULL);
    {
        char **parse_argv = option_argv;
        int parse_argc = option_argc;

        if (!g_option_context_parse(context, &parse_argc, &parse_argv, &error)) {
            g_free(option_argv);
            options_clear(&opts);
            return usage_error("%s", error->message);
        }
        if (parse_argc > 1) {
            status = usage_error("unexpected argument '%s' (the provider command goes after "
                                 "'--')", parse_argv[1]);
            g_free(option_argv);
            options_clear(&opts);
            return status;
        }
    }
    g_free(option_argv);

    if (opts.version) {
        g_print("prlkit-cpf-check %s\n", PACKAGE_VERSION);
        options_clear(&opts);
        return 0;
    }
    if (opts.list_tests) {
        list_tests();
        options_clear(&opts);
        return 0;
    }

    if (option_argc >= argc - 1)
        error_text = g_strdup("no provider command: give it after '--', e.g. "
                              "prlkit-cpf-check -- pwsh -File Provider.ps1");
    else if (!(opts.reply_timeout > 0))
        error_text = g_strdup("--reply-timeout must be more than 0");
    else if (!(opts.exit_timeout > 0))
        error_text = g_strdup("--exit-timeout must be more than 0");
    else if (!(opts.settle >= 0))
        error_text = g_strdup("--settle must be 0 or more");
    else if (!(opts.poll_scale >= 0))
        error_text = g_strdup("--poll-scale must be 0 or more");
    else if (opts.max_guests < 0)
        error_text = g_strdup("--max-guests must be 0 or more");
    else if (opts.only && strcmp(opts.only, "protocol") != 0 &&
             strcmp(opts.only, "workflows") != 0)
        error_text = g_strdup_printf("--only must be protocol or workflows, not '%s'", opts.only);
    for (guint i = 0; !error_text && opts.skip && opts.skip[i]; i++) {
        if (!test_name_known(opts.skip[i]))
            error_text = g_strdup_printf("--skip %s: no such test (see --list-tests)",
                                         opts.skip[i]);
    }
    if (error_text) {
        options_clear(&opts);
        return usage_error("%s", error_text);
    }
    settings = load_settings(&opts, &error_text);
    if (!settings || !open_stderr_target(opts.provider_stderr, &stderr_target, &error_text)) {
        json_decref(settings);
        options_clear(&opts);
        return usage_error("%s", error_text);
    }

    secrets = cc_secrets_new(settings);
    clone_name = opts.clone_name ? g_strdup(opts.clone_name)
                                 : g_strdup_printf("cpf-check-%d", (int)getpid());
    config.argv = (const char *const *)&argv[option_argc + 1];
    config.settings = settings;
    config.secrets = secrets;
    config.stderr_target = stderr_target;
    config.reply_timeout = opts.reply_timeout;
    config.exit_timeout = opts.exit_timeout;
    config.settle = opts.settle;
    config.verbose = opts.verbose;

    tap = cc_tap_new(stdout, secrets);
    cc_tap_set_user_skips(tap, (const char *const *)opts.skip);
    command = describe_command(config.argv);
    shown_command = cc_secrets_redact(secrets, command);
    g_print("TAP version 13\n");
    cc_tap_diag(tap, "prlkit-cpf-check %s: %s", PACKAGE_VERSION, shown_command);

    status = 0;
    if (!opts.only || strcmp(opts.only, "protocol") == 0)
        protocol = cc_session_new(&config, "protocol");
    if (!opts.only || strcmp(opts.only, "workflows") == 0)
        workflows = cc_session_new(&config, "workflows");

    /* A command that cannot start at all is a usage error, not a failing provider. */
    if (!cc_session_start(protocol ? protocol : workflows, &error)) {
        cc_tap_bail_out(tap, "%s", error->message);
        g_printerr("prlkit-cpf-check: %s\n", error->message);
        status = EXIT_USAGE;
    } else {
        cc_session *sessions[] = { protocol, workflows };
        cc_protocol_options protocol_options = { (guint)opts.max_guests };
        cc_workflow_options workflow_options = {
            opts.guest, opts.template_id, clone_name, opts.poll_scale, (guint)opts.max_guests,
        };

        if (protocol)
            cc_protocol_run(protocol, tap, &protocol_options);
        if (workflows)
            cc_workflows_run(workflows, tap, &workflow_options);
        cc_final_run(sessions, G_N_ELEMENTS(sessions), MIN(0.2, opts.reply_timeout),
                     cc_secrets_any(secrets), tap);
        failed = cc_tap_finish(tap);
        status = failed ? 1 : 0;
    }

    cc_tap_free(tap);
    g_clear_pointer(&protocol, cc_session_free);
    g_clear_pointer(&workflows, cc_session_free);
    json_decref(settings);
    if (stderr_target.mode == CC_STDERR_FD)
        close(stderr_target.fd);
    options_clear(&opts);
    return status;
}

/* prlkit-cpf-check: one provider process. Its stdout is read line by line by a reader
 * thread into a queue, so the main thread can wait for a reply with a timeout and can see
 * lines nobody asked for; its stdin takes one request line at a time. */
#pragma once

#include <glib.h>

typedef enum {
    CC_STDERR_INHERIT,   /* the provider writes to the checker's stderr */
    CC_STDERR_DISCARD,   /* /dev/null */
    CC_STDERR_FD,        /* an already open file (appended to by every provider process) */
} cc_stderr_mode;

typedef struct {
    cc_stderr_mode mode;
    int fd;              /* CC_STDERR_FD only; borrowed, duplicated for each process */
} cc_stderr_target;

typedef enum {
    CC_READ_LINE,        /* *line is set (without its "\n" and a "\r" before it) */
    CC_READ_TIMEOUT,     /* nothing complete arrived in time */
    CC_READ_EOF,         /* stdout was closed (or could not be read any more) */
} cc_read_status;

/* Longest stdout line kept whole; a longer one is cut and marked, never parsed. */
#define CC_MAX_LINE (16u * 1024 * 1024)

typedef struct cc_provider cc_provider;

/* Starts argv[0] (looked up in PATH) in its own process group with piped stdin/stdout. */
cc_provider *cc_provider_spawn(const char *const *argv, const cc_stderr_target *stderr_target,
                               GError **error);

/* Writes line plus "\n" to the provider's stdin. */
gboolean cc_provider_write_line(cc_provider *provider, const char *line, GError **error);

/* Waits up to timeout_s seconds (0: do not wait) for the next complete stdout line. */
cc_read_status cc_provider_read_line(cc_provider *provider, double timeout_s, char **line);

/* Bytes received after the last complete line (for diagnostics); never NULL. */
char *cc_provider_partial_line(cc_provider *provider);

/* Closes the provider's stdin (it sees EOF). */
void cc_provider_close_input(cc_provider *provider);

/* Waits up to timeout_s seconds for the process to exit; TRUE once it has. */
gboolean cc_provider_wait(cc_provider *provider, double timeout_s);

/* "exited with status 0", "killed by signal 9", "still running". */
char *cc_provider_describe_exit(cc_provider *provider);

/* TRUE when the process has exited with status 0. */
gboolean cc_provider_exited_cleanly(cc_provider *provider);

/* TRUE once the end of the provider's stdout has been read. */
gboolean cc_provider_output_ended(cc_provider *provider);

/* Kills what is left of the provider's process group after the provider itself has exited
 * (processes it started that did not exit with it); TRUE when there was something. */
gboolean cc_provider_kill_leftovers(cc_provider *provider);

/* Kills the provider's process group (SIGKILL) and reaps the provider. */
void cc_provider_kill(cc_provider *provider);

/* Kills the provider if it still runs, stops the reader, frees everything. */
void cc_provider_free(cc_provider *provider);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cc_provider, cc_provider_free)

/* prlkit-cpf-check: one provider process. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "check-provider.h"

typedef struct {
    char *text;          /* a complete line, or NULL for the end of stdout */
} cc_line;

struct cc_provider {
    GSubprocess *process;    /* immutable */
    GOutputStream *input;    /* immutable, borrowed from process; main thread only */
    GInputStream *output;    /* immutable, borrowed from process; reader thread only */
    GPid pid;                /* immutable; also the process group id */
    GCancellable *cancel;    /* immutable; stops the reader */
    GThread *reader;         /* immutable */
    GAsyncQueue *lines;      /* cc_line*: reader pushes, main thread pops */
    GMutex lock;
    GString *partial;        /* lock: the line being received */
    gboolean saw_end;        /* main thread: the end item was popped */
    gboolean input_closed;   /* main thread */
    gboolean reaped;         /* main thread: wait finished */
};

static void
line_free(gpointer data)
{
    cc_line *line = data;

    g_free(line->text);
    g_free(line);
}

static cc_line *
line_new(char *text)
{
    cc_line *line = g_new0(cc_line, 1);

    line->text = text;
    return line;
}

/* Moves the complete lines at the start of partial to the queue, all at once: lines that
 * arrived together (a reply and a stray line after it) are seen together by the main
 * thread. Called with lock held. */
static void
reader_split_locked(cc_provider *provider, gsize *dropped)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new();
    char *newline;

    while ((newline = memchr(provider->partial->str, '\n', provider->partial->len))) {
        gsize len = newline - provider->partial->str;

        if (*dropped) {
            g_ptr_array_add(lines, line_new(g_strdup_printf("%.*s... [line cut: %"
                                                            G_GSIZE_FORMAT " bytes]", 200,
                                                            provider->partial->str,
                                                            *dropped + len)));
            *dropped = 0;
        } else {
            if (len > 0 && provider->partial->str[len - 1] == '\r')
                len--;
            g_ptr_array_add(lines, line_new(g_strndup(provider->partial->str, len)));
        }
        g_string_erase(provider->partial, 0, newline - provider->partial->str + 1);
    }
    if (lines->len > 0) {
        g_async_queue_lock(provider->lines);
        for (guint i = 0; i < lines->len; i++)
            g_async_queue_push_unlocked(provider->lines, g_ptr_array_index(lines, i));
        g_async_queue_unlock(provider->lines);
    }
    if (provider->partial->len > CC_MAX_LINE) {
        /* Keep the start for the diagnostic, count the rest. */
        *dropped += provider->partial->len - 256;
        g_string_truncate(provider->partial, 256);
    }
}

static gpointer
reader_main(gpointer data)
{
    cc_provider *provider = data;
    char chunk[64 * 1024];
    gsize dropped = 0;

    for (;;) {
        g_autoptr(GError) error = NULL;
        gssize n = g_input_stream_read(provider->output, chunk, sizeof chunk, provider->cancel,
                                       &error);

        if (n <= 0)
            break;
        g_mutex_lock(&provider->lock);
        g_string_append_len(provider->partial, chunk, n);
        reader_split_locked(provider, &dropped);
        g_mutex_unlock(&provider->lock);
    }
    /* A last line without "\n" is still a line (marked, so it can be reported). */
    g_mutex_lock(&provider->lock);
    if (provider->partial->len > 0 || dropped) {
        g_string_append(provider->partial, "\n");
        reader_split_locked(provider, &dropped);
    }
    g_mutex_unlock(&provider->lock);
    g_async_queue_push(provider->lines, line_new(NULL));
    return NULL;
}

static void
child_setup(gpointer user_data)
{
    /* Own process group, so a hung provider and whatever it started can be killed. */
    setpgid(0, 0);
}

cc_provider *
cc_provider_spawn(const char *const *argv, const cc_stderr_target *stderr_target,
                  GError **error)
{
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE;
    cc_provider *provider;
    GSubprocess *process;
    const char *identifier;

    if (stderr_target->mode == CC_STDERR_DISCARD)
        flags |= G_SUBPROCESS_FLAGS_STDERR_SILENCE;
    launcher = g_subprocess_launcher_new(flags);
    if (stderr_target->mode == CC_STDERR_FD) {
        int fd = dup(stderr_target->fd);

        if (fd < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "cannot duplicate the provider log descriptor: %s", g_strerror(errno));
            return NULL;
        }
        g_subprocess_launcher_take_stderr_fd(launcher, fd);
    }
    g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);

    process = g_subprocess_launcher_spawnv(launcher, argv, error);
    if (!process)
        return NULL;

    provider = g_new0(cc_provider, 1);
    provider->process = process;
    provider->input = g_subprocess_get_stdin_pipe(process);
    provider->output = g_subprocess_get_stdout_pipe(process);
    identifier = g_subprocess_get_identifier(process);
    provider->pid = identifier ? (GPid)g_ascii_strtoll(identifier, NULL, 10) : 0;
    provider->cancel = g_cancellable_new();
    provider->lines = g_async_queue_new_full(line_free);
    provider->partial = g_string_new(NULL);
    g_mutex_init(&provider->lock);
    provider->reader = g_thread_new("provider-stdout", reader_main, provider);
    return provider;
}

gboolean
cc_provider_write_line(cc_provider *provider, const char *line, GError **error)
{
    g_autofree char *data = g_strconcat(line, "\n", NULL);

    if (provider->input_closed) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "provider stdin is closed");
        return FALSE;
    }
    return g_output_stream_write_all(provider->input, data, strlen(data), NULL, NULL, error);
}

cc_read_status
cc_provider_read_line(cc_provider *provider, double timeout_s, char **line)
{
    cc_line *item;

    *line = NULL;
    if (provider->saw_end)
        return CC_READ_EOF;
    if (timeout_s <= 0)
        item = g_async_queue_try_pop(provider->lines);
    else
        item = g_async_queue_timeout_pop(provider->lines, (guint64)(timeout_s * G_USEC_PER_SEC));
    if (!item)
        return CC_READ_TIMEOUT;
    if (!item->text) {
        provider->saw_end = TRUE;
        line_free(item);
        return CC_READ_EOF;
    }
    *line = g_steal_pointer(&item->text);
    line_free(item);
    return CC_READ_LINE;
}

char *
cc_provider_partial_line(cc_provider *provider)
{
    char *copy;

    g_mutex_lock(&provider->lock);
    copy = g_strndup(provider->partial->str, MIN(provider->partial->len, 200));
    g_mutex_unlock(&provider->lock);
    return copy;
}

void
cc_provider_close_input(cc_provider *provider)
{
    if (provider->input_closed)
        return;
    provider->input_closed = TRUE;
    /* An error here only means the provider already closed its end. */
    g_output_stream_close(provider->input, NULL, NULL);
}

typedef struct {
    gboolean done;       /* the wait callback ran */
    gboolean exited;     /* ... and the process had exited */
} wait_state;

static void
wait_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    wait_state *state = user_data;

    state->exited = g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    state->done = TRUE;
}

static gboolean
wait_timed_out(gpointer user_data)
{
    gboolean *timed_out = user_data;

    *timed_out = TRUE;
    return G_SOURCE_REMOVE;
}

/* Waits for the process in a private main context (GSubprocess reports the exit to the
 * context that asked). At the deadline it either kills the process group and waits for the
 * exit, or cancels the wait; either way the callback has run before this returns, because
 * it points into this frame. */
static gboolean
provider_wait(cc_provider *provider, double timeout_s, gboolean kill_at_deadline)
{
    g_autoptr(GMainContext) context = NULL;
    g_autoptr(GCancellable) cancel = NULL;
    wait_state state = { FALSE, FALSE };
    gboolean timed_out = FALSE;
    GSource *timer;

    if (provider->reaped)
        return TRUE;
    context = g_main_context_new();
    cancel = g_cancellable_new();
    g_main_context_push_thread_default(context);
    g_subprocess_wait_async(provider->process, cancel, wait_done, &state);
    timer = g_timeout_source_new((guint)MAX(timeout_s * 1000, 0));
    g_source_set_callback(timer, wait_timed_out, &timed_out, NULL);
    g_source_attach(timer, context);
    while (!state.done && !timed_out)
        g_main_context_iteration(context, TRUE);
    g_source_destroy(timer);
    g_source_unref(timer);
    if (!state.done) {
        if (kill_at_deadline) {
            if (provider->pid > 0)
                kill(-provider->pid, SIGKILL);
            g_subprocess_force_exit(provider->process);
        } else {
            g_cancellable_cancel(cancel);
        }
        while (!state.done)
            g_main_context_iteration(context, TRUE);
    }
    g_main_context_pop_thread_default(context);
    provider->reaped = state.exited;
    return state.exited;
}

gboolean
cc_provider_wait(cc_provider *provider, double timeout_s)
{
    return provider_wait(provider, timeout_s, FALSE);
}

char *
cc_provider_describe_exit(cc_provider *provider)
{
    if (!provider->reaped)
        return g_strdup("still running");
    if (g_subprocess_get_if_exited(provider->process))
        return g_strdup_printf("exited with status %d",
                               g_subprocess_get_exit_status(provider->process));
    if (g_subprocess_get_if_signaled(provider->process))
        return g_strdup_printf("killed by signal %d (%s)",
                               g_subprocess_get_term_sig(provider->process),
                               g_strsignal(g_subprocess_get_term_sig(provider->process)));
    return g_strdup("ended");
}

gboolean
cc_provider_exited_cleanly(cc_provider *provider)
{
    return provider->reaped && g_subprocess_get_if_exited(provider->process) &&
           g_subprocess_get_exit_status(provider->process) == 0;
}

gboolean
cc_provider_output_ended(cc_provider *provider)
{
    return provider->saw_end;
}

gboolean
cc_provider_kill_leftovers(cc_provider *provider)
{
    /* While the group has members its id cannot be reused, so this reaches only processes
     * the provider started. */
    if (provider->pid <= 0 || kill(-provider->pid, 0) != 0)
        return FALSE;
    kill(-provider->pid, SIGKILL);
    return TRUE;
}

void
cc_provider_kill(cc_provider *provider)
{
    provider_wait(provider, 0, TRUE);
}

void
cc_provider_free(cc_provider *provider)
{
    if (!provider)
        return;
    cc_provider_close_input(provider);
    if (!provider->reaped)
        cc_provider_kill(provider);
    g_cancellable_cancel(provider->cancel);
    g_thread_join(provider->reader);
    g_async_queue_unref(provider->lines);
    g_string_free(provider->partial, TRUE);
    g_mutex_clear(&provider->lock);
    g_object_unref(provider->cancel);
    g_object_unref(provider->process);
    g_free(provider);
}

/* Jobs (PHT_JOB) and the library's worker pool (DESIGN §5).
 *
 * A job runs steps on the worker pool. A step is a pk_job_func; it returns TRUE (the job
 * succeeds, unless the step queued more work with pk_job_then / pk_job_await_task) or FALSE
 * with an error (the job fails with the error's PRL_RESULT and message). A step that got a
 * backend task reference hands it to pk_job_await_task: the job then polls the driver's
 * task->status between pool runs (no worker is held while it waits) and runs the next
 * step when the task succeeded.
 *
 * A job finishes exactly once. Completion wakes PrlJob_Wait-ers, then hands the job to the
 * event handlers of its server (and of its VM) on the server's event thread.
 * Cancel triggers the job's GCancellable (driver ops see it), wakes a job waiting between
 * polls (the backend task is cancelled where the driver can), and finishes a job that has
 * not started yet at once. */
#ifndef PRLKIT_CORE_JOB_H
#define PRLKIT_CORE_JOB_H

#include <gio/gio.h>
#include "core-object.h"
#include "core-result.h"
#include "core-pool.h"

G_BEGIN_DECLS

typedef struct pk_job pk_job;
typedef struct pk_server pk_server;
typedef struct pk_vm pk_vm;
typedef struct pk_conn pk_conn;

/* ---- runtime: the worker pool ---- */

/* Run w->run (pk_work: core-pool.h; embed it in your own struct) on a worker; inline on the calling thread when the runtime is not running. */
void pk_runtime_push(pk_work *w);
/* Deliveries to event handlers in flight (Deinit waits until none is left). */
void pk_runtime_delivery_begin(void);
void pk_runtime_delivery_end(void);
/* Wait (at most timeout_ms) until no delivery is queued or running and no worker is still
 * letting go of a job it finished; FALSE if one still is. On an event thread it does not
 * wait. */
gboolean pk_runtime_wait_quiet(guint timeout_ms);
/* The calling thread is an event thread (Deinit must not wait for itself). */
void pk_runtime_mark_event_thread(void);

/* ---- creating jobs ---- */

typedef gboolean (*pk_job_func)(pk_job *job, gpointer data, GCancellable *cancel,
                                GError **error);

/* A new job (one reference) of this operation. srv and vm may be NULL; references are taken.
 * The job's connection is the VM's, else the server's current one (or NULL). */
pk_job *pk_job_new(PRL_JOB_OPERATION_CODE op, pk_server *srv, pk_vm *vm);
/* Use this connection instead (before submit); a reference is taken. */
void pk_job_set_conn(pk_job *job, pk_conn *c);
/* What the job's task id reports: the operation (default: the job's op) and the VM it acts
 * on (default: the job's VM). For jobs that stand for another job's work
 * (PrlSrv_AttachToLostTask). Before submit. */
void pk_job_set_task_origin(pk_job *job, PRL_JOB_OPERATION_CODE op, const char *vm_id);

/* Queue the job's first step. Consumes the caller's reference to job and returns the job's
 * handle (a new reference for the API caller). data is destroyed (destroy may be NULL)
 * once the job has finished. When the runtime is not running the job finishes at once with
 * PRL_ERR_API_WASNT_INITIALIZED. */
PRL_HANDLE pk_job_submit(pk_job *job, pk_job_func func, gpointer data, GDestroyNotify destroy);
/* Finish a job that was never submitted with an error and return its handle (consumes the
 * reference). fmt NULL → the code's description. */
PRL_HANDLE pk_job_fail(pk_job *job, PRL_RESULT code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Finish a job that was never submitted successfully (its result, if any, set before). */
PRL_HANDLE pk_job_succeed(pk_job *job);
/* An already-finished job without server carrying this error (PRL_INVALID_HANDLE only on
 * out-of-memory). fmt NULL → the code's description. */
PRL_HANDLE pk_job_return_error(PRL_JOB_OPERATION_CODE op, PRL_RESULT code, const char *fmt,
                               ...) G_GNUC_PRINTF(3, 4);

/* ---- inside steps (worker only) ---- */

/* Borrowed; immutable for the job's life. */
PRL_JOB_OPERATION_CODE pk_job_get_op(pk_job *job);
pk_server *pk_job_get_server(pk_job *job);
pk_vm *pk_job_get_vm(pk_job *job);
pk_conn *pk_job_get_conn(pk_job *job);
GCancellable *pk_job_get_cancellable(pk_job *job);
/* The job's result, created on first use (borrowed). Params added here are what
 * PrlJob_GetResult shows once the job succeeded; dropped if it fails. */
pk_result *pk_job_get_result(pk_job *job);
void pk_job_set_progress(pk_job *job, guint percent);
/* The backend accepted the work: task_ref (nullable) identifies it; vm_id (nullable) is the
 * VM the work acts on or creates (e.g. the clone's id). Wakes PrlJob_GetTaskId. */
void pk_job_accepted(pk_job *job, const char *task_ref, const char *vm_id);
/* Set / read the target VM id (a copy; NULL if unknown). */
void pk_job_set_vm_id(pk_job *job, const char *vm_id);
char *pk_job_dup_vm_id(pk_job *job);
/* Run next as the job's next step (after the current one returns TRUE). */
void pk_job_then(pk_job *job, pk_job_func next);
/* Follow a backend task: task_ref NULL → run next at once (the work is complete); else mark
 * the job accepted and poll the task until it finishes; if it succeeds, run next (NULL →
 * the job succeeds). A task result_vm_id becomes the job's target VM id. */
void pk_job_await_task(pk_job *job, const char *task_ref, pk_job_func next);

/* ---- the public side ---- */

/* PRL_ERR_SUCCESS once finished, PRL_ERR_TIMEOUT (the job goes on); G_MAXUINT32 = forever. */
PRL_RESULT pk_job_wait(pk_job *job, guint32 timeout_ms);
gboolean pk_job_is_finished(pk_job *job);
/* Finished: its code (and a copy of its message, NULL on success); FALSE while running. */
gboolean pk_job_get_outcome(pk_job *job, PRL_RESULT *code, char **message);
/* Finished successfully: a new reference to the result; NULL otherwise. */
pk_result *pk_job_ref_result(pk_job *job);
guint pk_job_get_progress(pk_job *job);
void pk_job_cancel(pk_job *job);
/* Wait until the backend accepted the work or the job finished (PRL_ERR_TIMEOUT otherwise),
 * then the job's task id (newly allocated; the same string on every later call). */
PRL_RESULT pk_job_get_task_id(pk_job *job, guint32 timeout_ms, char **out);

G_END_DECLS
#endif

/* Jobs and the worker pool (see core-job.h).
 *
 * Runtime: one worker pool (core-pool.c; bounded: PRLKIT_WORKERS, default 16) runs job steps
 * and other pk_work items; one timer thread (a GMainContext) wakes jobs that wait between status
 * checks of a backend task, so waiting never holds a worker.
 *
 * Job states: NEW → QUEUED (in the pool) → RUNNING (a worker runs steps) → WAITING (poll
 * timer armed) → QUEUED … → FINISHED. Only the worker running a step touches the step
 * fields; a job is in the pool at most once at any time.
 *
 * Lock order (DESIGN §8): job lock → runtime state_lock, and job lock → server lock (a
 * finished job is queued for the event thread under its lock). The handle table is never
 * entered with a job lock held (objects are created and released outside it). */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include "core-job.h"
#include "core-api.h"
#include "core-conn.h"
#include "core-drv.h"
#include "core-error.h"
#include "core-server.h"
#include "core-task.h"
#include "core-vm.h"
#include "util-log.h"

#define PK_DEFAULT_WORKERS 16
#define PK_MAX_WORKERS 256
/* Status reads of a followed task that may fail in a row before the job gives up. */
#define PK_JOB_POLL_READ_TRIES 5

/* ---------------------------------------------------------------- runtime ---- */

static struct {
	GMutex state_lock;
	gboolean running;          /* state_lock: between init and the end of shutdown */
	gboolean stopping;         /* state_lock: shutdown started; no new poll timers */
	GHashTable *waiting;       /* state_lock: pk_job* whose poll timer is armed (weak) */
	GMainContext *timer_ctx;   /* immutable while running */
	GMainLoop *timer_loop;     /* immutable while running */
	GThread *timer_thread;     /* init/shutdown only */

	GRWLock push_lock;
	gboolean accepting;        /* push_lock: pushes go to the pool */
	pk_pool *pool;             /* push_lock */

	GMutex idle_lock;
	GCond idle;                /* idle_lock: broadcast when deliveries or finishing drops to 0 */
	gint deliveries;           /* atomic */
	gint finishing;            /* atomic: workers between finishing a job and dropping it */
} rt;

static GPrivate event_thread_mark;   /* non-NULL on event threads */

static gpointer timer_main(gpointer data)
{
	g_main_context_push_thread_default(rt.timer_ctx);
	g_main_loop_run(rt.timer_loop);
	g_main_context_pop_thread_default(rt.timer_ctx);
	return NULL;
}

static gboolean timer_quit(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static guint workers_from_env(void)
{
	const char *s = g_getenv("PRLKIT_WORKERS");
	if (s == NULL || *s == '\0')
		return PK_DEFAULT_WORKERS;
	char *end = NULL;
	guint64 n = g_ascii_strtoull(s, &end, 10);
	if (end == s || *end != '\0' || n < 1 || n > PK_MAX_WORKERS) {
		g_warning("PRLKIT_WORKERS='%s' is not a number from 1 to %d; using %d", s,
		          PK_MAX_WORKERS, PK_DEFAULT_WORKERS);
		return PK_DEFAULT_WORKERS;
	}
	return (guint)n;
}

void pk_runtime_init(void)
{
	g_mutex_lock(&rt.state_lock);
	if (rt.running) {
		g_mutex_unlock(&rt.state_lock);
		return;
	}
	rt.timer_ctx = g_main_context_new();
	rt.timer_loop = g_main_loop_new(rt.timer_ctx, FALSE);
	rt.timer_thread = g_thread_new("prlkit-timer", timer_main, NULL);
	rt.waiting = g_hash_table_new(g_direct_hash, g_direct_equal);
	rt.stopping = FALSE;
	rt.running = TRUE;
	g_mutex_unlock(&rt.state_lock);

	guint workers = workers_from_env();
	pk_pool *pool = pk_pool_new("prlkit-worker", workers);

	g_rw_lock_writer_lock(&rt.push_lock);
	rt.pool = pool;
	rt.accepting = TRUE;
	g_rw_lock_writer_unlock(&rt.push_lock);
}

static void job_wake(pk_job *job);

void pk_runtime_shutdown(void)
{
	g_mutex_lock(&rt.state_lock);
	if (!rt.running || rt.stopping) {
		g_mutex_unlock(&rt.state_lock);
		return;
	}
	rt.stopping = TRUE;
	/* Jobs waiting between polls: run them now; they see `stopping` and finish. */
	GPtrArray *woken = g_ptr_array_new_with_free_func(pk_object_unref);
	GHashTableIter it;
	gpointer job;
	g_hash_table_iter_init(&it, rt.waiting);
	while (g_hash_table_iter_next(&it, &job, NULL))
		g_ptr_array_add(woken, pk_object_ref(job));   /* alive: its timer holds a ref */
	g_mutex_unlock(&rt.state_lock);
	for (guint i = 0; i < woken->len; i++)
		job_wake(woken->pdata[i]);
	g_ptr_array_unref(woken);

	/* Wait for every queued and running step; later pushes run inline. */
	g_rw_lock_writer_lock(&rt.push_lock);
	pk_pool *pool = rt.pool;
	rt.pool = NULL;
	rt.accepting = FALSE;
	g_rw_lock_writer_unlock(&rt.push_lock);
	pk_pool_free(pool);

	/* Quit from inside the loop: a quit before g_main_loop_run started would be lost. */
	GSource *quit = g_idle_source_new();
	g_source_set_callback(quit, timer_quit, rt.timer_loop, NULL);
	g_source_attach(quit, rt.timer_ctx);
	g_source_unref(quit);
	g_thread_join(rt.timer_thread);

	/* Deliveries to event handlers still queued (not from an event thread: it would wait
	 * for itself). */
	if (g_private_get(&event_thread_mark) == NULL) {
		g_mutex_lock(&rt.idle_lock);
		while (g_atomic_int_get(&rt.deliveries) > 0)
			g_cond_wait(&rt.idle, &rt.idle_lock);
		g_mutex_unlock(&rt.idle_lock);
	}
	pk_server_join_retired();

	g_mutex_lock(&rt.state_lock);
	g_main_loop_unref(rt.timer_loop);
	g_main_context_unref(rt.timer_ctx);
	rt.timer_loop = NULL;
	rt.timer_ctx = NULL;
	rt.timer_thread = NULL;
	g_hash_table_unref(rt.waiting);
	rt.waiting = NULL;
	rt.running = FALSE;
	rt.stopping = FALSE;
	g_mutex_unlock(&rt.state_lock);
}

void pk_runtime_push(pk_work *w)
{
	g_rw_lock_reader_lock(&rt.push_lock);
	if (rt.accepting) {
		pk_pool_push(rt.pool, w);
		g_rw_lock_reader_unlock(&rt.push_lock);
		return;
	}
	g_rw_lock_reader_unlock(&rt.push_lock);
	w->run(w);
}

static gboolean runtime_stopping(void)
{
	g_mutex_lock(&rt.state_lock);
	gboolean stopping = !rt.running || rt.stopping;
	g_mutex_unlock(&rt.state_lock);
	return stopping;
}

void pk_runtime_delivery_begin(void)
{
	g_atomic_int_inc(&rt.deliveries);
}

static gboolean runtime_quiet(void)
{
	return g_atomic_int_get(&rt.deliveries) == 0 && g_atomic_int_get(&rt.finishing) == 0;
}

gboolean pk_runtime_wait_quiet(guint timeout_ms)
{
	if (g_private_get(&event_thread_mark) != NULL)
		return runtime_quiet();   /* it would wait for itself */
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&rt.idle_lock);
	while (!runtime_quiet() && g_cond_wait_until(&rt.idle, &rt.idle_lock, end))
		;
	gboolean idle = runtime_quiet();
	g_mutex_unlock(&rt.idle_lock);
	return idle;
}

/* A worker that finished a job has dropped its reference. */
static void finishing_end(void)
{
	if (g_atomic_int_dec_and_test(&rt.finishing)) {
		g_mutex_lock(&rt.idle_lock);
		g_cond_broadcast(&rt.idle);
		g_mutex_unlock(&rt.idle_lock);
	}
}

void pk_runtime_delivery_end(void)
{
	if (g_atomic_int_dec_and_test(&rt.deliveries)) {
		g_mutex_lock(&rt.idle_lock);
		g_cond_broadcast(&rt.idle);
		g_mutex_unlock(&rt.idle_lock);
	}
}

void pk_runtime_mark_event_thread(void)
{
	g_private_set(&event_thread_mark, GINT_TO_POINTER(1));
}

/* -------------------------------------------------------------------- jobs ---- */

typedef enum {
	JOB_NEW,
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_WAITING,
	JOB_FINISHED,
} job_state;

struct pk_job {
	pk_object base;
	pk_work work;                     /* pool item; the queued item holds a reference */
	PRL_JOB_OPERATION_CODE op;        /* immutable */
	PRL_JOB_OPERATION_CODE task_op;   /* immutable after submit */
	char *task_vm;                    /* immutable after submit: VM id the task acts on */
	pk_server *server;                /* immutable after submit; reference or NULL */
	pk_vm *vm;                        /* immutable after submit; reference or NULL */
	pk_conn *conn;                    /* immutable after submit; reference or NULL */
	GCancellable *cancel;             /* immutable */

	GMutex lock;
	GCond cond;                       /* lock: broadcast on accept and on finish */
	job_state state;                  /* lock */
	gint finished;                    /* atomic, set with state = FINISHED: seen without lock */
	gboolean started;                 /* lock: a worker ran (or cancel claimed) the job */
	gboolean accepted;                /* lock */
	char *task_ref;                   /* lock (written by the running step only) */
	char *vm_id;                      /* lock: target VM id */
	guint progress;                   /* lock */
	PRL_RESULT code;                  /* lock: set when finished */
	char *message;                    /* lock: set when a failure finished the job */
	GSource *timer;                   /* lock: the armed poll timer while WAITING */
	char *task_id;                    /* lock: the first task id handed out */
	gpointer data;                    /* lock to take it away; the running step reads it */
	GDestroyNotify destroy;           /* like data */

	/* Owned by the worker running the job's step (one at a time). */
	pk_result *result;                /* …until finished; then immutable (read under lock) */
	pk_job_func func;                 /* the next step */
	gboolean polling;                 /* task_ref is being followed */
	gboolean cancel_sent;
	guint poll_failures;              /* status reads that failed in a row */
	gboolean cancel_refused;          /* the platform would not cancel the followed task:
	                                   * the job follows it to its real end */
	gboolean outcome_unknown;         /* lock: ended because the task could not be read */
};

static void job_dispose(pk_object *obj)
{
	pk_job *job = (pk_job *)obj;
	if (job->destroy != NULL && job->data != NULL)
		job->destroy(job->data);
	pk_object_unref_ptr(job->result);
	g_free(job->message);
	g_free(job->task_ref);
	g_free(job->vm_id);
	g_free(job->task_vm);
	g_free(job->task_id);
	pk_object_unref_ptr(job->vm);
	pk_object_unref_ptr(job->server);
	if (job->conn != NULL)
		pk_conn_unref(job->conn);
	g_object_unref(job->cancel);
	g_cond_clear(&job->cond);
	g_mutex_clear(&job->lock);
}

static char *job_to_string(pk_object *obj)
{
	pk_job *job = (pk_job *)obj;
	return g_strdup_printf("job %d", (int)job->op);
}

static const pk_class job_class = {
	.name = "job",
	.type = PHT_JOB,
	.size = sizeof(pk_job),
	.dispose = job_dispose,
	.to_string = job_to_string,
};

static void job_run(pk_work *w);

pk_job *pk_job_new(PRL_JOB_OPERATION_CODE op, pk_server *srv, pk_vm *vm)
{
	pk_job *job = pk_object_new(&job_class);
	g_mutex_init(&job->lock);
	g_cond_init(&job->cond);
	job->work.run = job_run;
	job->op = op;
	job->task_op = op;
	job->cancel = g_cancellable_new();
	job->state = JOB_NEW;
	if (vm != NULL) {
		job->vm = pk_object_ref(vm);
		job->conn = pk_conn_ref(pk_vm_get_conn(vm));
		job->task_vm = g_strdup(pk_vm_get_id(vm));
		if (srv == NULL)
			srv = pk_vm_get_server(vm);
	}
	if (srv != NULL) {
		job->server = pk_object_ref(srv);
		if (job->conn == NULL)
			job->conn = pk_server_ref_conn(srv);
	}
	return job;
}

void pk_job_set_conn(pk_job *job, pk_conn *c)
{
	g_return_if_fail(job->state == JOB_NEW);
	if (c != NULL)
		pk_conn_ref(c);
	if (job->conn != NULL)
		pk_conn_unref(job->conn);
	job->conn = c;
}

void pk_job_set_task_origin(pk_job *job, PRL_JOB_OPERATION_CODE op, const char *vm_id)
{
	g_return_if_fail(job->state == JOB_NEW);
	job->task_op = op;
	g_free(job->task_vm);
	job->task_vm = g_strdup(vm_id);
}

/* Take the step data away (under the lock, so a cancel and a worker never both do it). */
static void job_release_data(pk_job *job)
{
	g_mutex_lock(&job->lock);
	gpointer data = job->data;
	GDestroyNotify destroy = job->destroy;
	job->data = NULL;
	job->destroy = NULL;
	g_mutex_unlock(&job->lock);
	if (destroy != NULL && data != NULL)
		destroy(data);
}

/* The job a worker is running on this thread (its pool reference is the runner's). */
static __thread pk_job *running_job;

/* Exactly once: FALSE if the job had finished already.
 *
 * On the job's worker this also drops the worker's (pool) reference, after unlocking: an
 * event delivery may hold the only other one and free the job at once. Until then the
 * worker counts as finishing, and PrlDbg_GetHandlesNum waits for it, so a program that
 * frees every handle after PrlJob_Wait counts none left. The worker must not touch the job
 * after that. */
static gboolean job_finish(pk_job *job, PRL_RESULT code, const char *message)
{
	gboolean runner = running_job == job;
	if (runner) {
		running_job = NULL;   /* tells job_run the reference is taken care of */
		g_atomic_int_inc(&rt.finishing);
	}

	/* Objects are created and messages redacted before taking the job lock. */
	pk_result *fresh = NULL;
	char *text = NULL;
	if (PRL_SUCCEEDED(code)) {
		if (job->result == NULL)
			fresh = pk_result_new();
	} else {
		const char *m = message != NULL && *message != '\0' ? message : pk_result_description(code);
		text = pk_redact(m != NULL ? m : "the operation failed");
	}

	pk_result *drop = NULL;
	g_mutex_lock(&job->lock);
	gboolean first = job->state != JOB_FINISHED;
	if (first) {
		job->state = JOB_FINISHED;
		g_atomic_int_set(&job->finished, 1);
		job->code = code;
		if (PRL_SUCCEEDED(code)) {
			job->progress = 100;
			if (job->result == NULL) {
				job->result = fresh;
				fresh = NULL;
			}
		} else {
			job->message = text;
			text = NULL;
			drop = job->result;
			job->result = NULL;
		}
		/* Queued under the job lock: whoever sees the job finished (a PrlJob_Wait-er who
		 * then starts the next job) sees it queued, so handlers get jobs in completion
		 * order. */
		if (job->server != NULL)
			pk_server_deliver_job(job->server, job);
		g_cond_broadcast(&job->cond);
	}
	g_mutex_unlock(&job->lock);

	g_free(text);
	pk_object_unref_ptr(fresh);
	pk_object_unref_ptr(drop);
	if (runner) {
		pk_object_unref(job);
		finishing_end();
	}
	return first;
}

/* A step ends the job: its data goes first (so a waiter woken by the finish sees every side
 * effect of the data's destroy, e.g. a server no longer busy). On the job's worker the job
 * may be gone when this returns. */
static void job_end(pk_job *job, PRL_RESULT code, const char *message)
{
	job_release_data(job);
	job_finish(job, code, message);
}

static void job_end_error(pk_job *job, GError *error)
{
	pk_drv_normalize_error(&error);
	if (error == NULL)
		error = g_error_new_literal(PK_ERROR, PRL_ERR_UNEXPECTED,
		                            "an operation step failed without saying why");
	PRL_RESULT code = PRL_SUCCEEDED(error->code) ? PRL_ERR_UNEXPECTED : error->code;
	job_end(job, code, error->message);
	g_error_free(error);
}

/* A cancel the job still has to act on (not one the platform refused). */
static gboolean job_cancel_pending(pk_job *job)
{
	return !job->cancel_refused && g_cancellable_is_cancelled(job->cancel);
}

/* What the job's driver calls may be interrupted by: nothing once a cancel was refused. */
static GCancellable *job_cancellable(pk_job *job)
{
	return job->cancel_refused ? NULL : job->cancel;
}

/* The job was asked to stop. A followed platform task is cancelled there first; a task the
 * platform will not cancel (or could not be reached about) goes on, and so does the job,
 * to report what really happened: FALSE then, else the job ended (TRUE). */
static gboolean job_cancelled(pk_job *job)
{
	if (job->polling && !job->cancel_sent && job->conn != NULL &&
	    pk_drv_has_task_cancel(job->conn)) {
		GError *error = NULL;
		job->cancel_sent = TRUE;
		if (!pk_drv_task_cancel(job->conn, job->task_ref, NULL, &error)) {
			PK_DEBUG("cancelling task %s: %s; following it to its end", job->task_ref,
			         error->message);
			g_error_free(error);
			job->cancel_refused = TRUE;
			return FALSE;
		}
	}
	job_end(job, PRL_ERR_OPERATION_WAS_CANCELED, "the operation was cancelled");
	return TRUE;
}

static gboolean timer_fired(gpointer data)
{
	job_wake(data);
	return G_SOURCE_REMOVE;
}

/* Arm the poll timer: FALSE when the runtime is stopping (the caller goes on at once). */
static gboolean job_schedule_poll(pk_job *job, guint ms)
{
	gboolean armed = FALSE;
	g_mutex_lock(&job->lock);
	g_mutex_lock(&rt.state_lock);
	if (rt.running && !rt.stopping) {
		GSource *src = g_timeout_source_new(ms);
		g_source_set_callback(src, timer_fired, pk_object_ref(job), pk_object_unref);
		job->timer = src;
		job->state = JOB_WAITING;
		g_hash_table_add(rt.waiting, job);
		g_source_attach(src, rt.timer_ctx);
		armed = TRUE;
	}
	g_mutex_unlock(&rt.state_lock);
	g_mutex_unlock(&job->lock);
	/* A cancel that came before the timer was armed found nothing to wake. */
	if (armed && job_cancel_pending(job))
		job_wake(job);
	return armed;
}

/* Back to the pool now if the job waits on its poll timer. */
static void job_wake(pk_job *job)
{
	g_mutex_lock(&job->lock);
	if (job->state != JOB_WAITING) {
		g_mutex_unlock(&job->lock);
		return;
	}
	job->state = JOB_QUEUED;
	GSource *src = job->timer;
	job->timer = NULL;
	g_mutex_lock(&rt.state_lock);
	if (rt.waiting != NULL)
		g_hash_table_remove(rt.waiting, job);
	g_mutex_unlock(&rt.state_lock);
	g_mutex_unlock(&job->lock);

	pk_object_ref(job);   /* for the pool item; before the timer drops its own */
	g_source_destroy(src);
	g_source_unref(src);
	pk_runtime_push(&job->work);
}

/* One status check of the followed task. TRUE: go on with the next step; FALSE: the job
 * ended (it may be gone) or waits for its poll timer. */
static gboolean job_poll(pk_job *job)
{
	if (runtime_stopping()) {
		job_end(job, PRL_ERR_OPERATION_WAS_CANCELED,
		        "the library was deinitialized before the platform task finished "
		        "(the task goes on; its task id stays valid)");
		return FALSE;
	}
	GError *error = NULL;
	pk_task_status st = { 0 };
	if (!pk_drv_task_status(job->conn, job->task_ref, &st, job_cancellable(job), &error)) {
		pk_task_status_clear(&st);
		if (job_cancel_pending(job)) {
			g_error_free(error);
			if (job_cancelled(job))
				return FALSE;
			return job_poll(job);   /* refused: read again, uninterrupted */
		}
		/* A failed read says nothing about the platform's task: read again a few times
		 * (a dropped connection, a busy API), then give up on the job but not on the
		 * task: its task id still resolves it from the platform. */
		gboolean unknown_task = g_error_matches(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND);
		/* Logged off: nobody will read for this job again. */
		gboolean closed = g_error_matches(error, PK_ERROR, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER);
		if (!unknown_task && !closed && ++job->poll_failures < PK_JOB_POLL_READ_TRIES) {
			PK_DEBUG("task %s: status read %u failed (%s); reading again", job->task_ref,
			         job->poll_failures, error->message);
			g_error_free(error);
			guint ms = pk_drv_task_poll_interval(job->conn, job->task_ref) * job->poll_failures;
			if (job_schedule_poll(job, MIN(ms, 5000u)))
				return FALSE;
			return job_poll(job);   /* stopping: finishes the job */
		}
		if (!unknown_task) {
			g_mutex_lock(&job->lock);
			job->outcome_unknown = TRUE;
			g_mutex_unlock(&job->lock);
		}
		job_end_error(job, error);
		return FALSE;
	}
	job->poll_failures = 0;
	if (st.result_vm_id != NULL && *st.result_vm_id != '\0')
		pk_job_set_vm_id(job, st.result_vm_id);
	if (!st.finished) {
		pk_job_set_progress(job, MIN(st.progress, 99u));
		pk_task_status_clear(&st);
		if (job_schedule_poll(job, pk_drv_task_poll_interval(job->conn, job->task_ref)))
			return FALSE;
		return job_poll(job);   /* stopping: finishes the job */
	}
	if (PRL_FAILED(st.code)) {
		job_end(job, st.code, st.message);
		pk_task_status_clear(&st);
		return FALSE;
	}
	pk_task_status_clear(&st);
	job->polling = FALSE;
	return TRUE;
}

/* Run steps until the job ends or waits for its poll timer. On the job's worker, the job
 * may be gone once it ended: nothing here touches it after job_end. */
static void job_steps(pk_job *job)
{
	for (;;) {
		if (job_cancel_pending(job) && job_cancelled(job))
			return;
		if (job->polling && !job_poll(job))
			return;
		pk_job_func fn = job->func;
		job->func = NULL;
		if (fn == NULL) {
			job_end(job, PRL_ERR_SUCCESS, NULL);
			return;
		}
		GError *error = NULL;
		if (!fn(job, job->data, job_cancellable(job), &error)) {
			if (job->polling && job_cancel_pending(job)) {
				/* The interrupted step cannot be redone: the job ends even if the
				 * platform refused to cancel its task. */
				g_clear_error(&error);
				if (!job_cancelled(job))
					job_end(job, PRL_ERR_OPERATION_WAS_CANCELED, "the operation was cancelled");
			} else {
				job_end_error(job, error);
			}
			return;
		}
		if (!job->polling && job->func == NULL) {
			job_end(job, PRL_ERR_SUCCESS, NULL);
			return;
		}
	}
}

static void job_run(pk_work *w)
{
	pk_job *job = (pk_job *)((char *)w - G_STRUCT_OFFSET(pk_job, work));
	g_mutex_lock(&job->lock);
	gboolean run = job->state == JOB_QUEUED;
	if (run) {
		job->state = JOB_RUNNING;
		job->started = TRUE;
	}
	g_mutex_unlock(&job->lock);
	if (!run) {
		pk_object_unref(job);
		return;
	}
	pk_job *outer = running_job;   /* an inline run inside another (runtime stopping) */
	running_job = job;
	job_steps(job);
	/* Finishing consumed our reference (and cleared running_job); waiting did not. */
	if (running_job == job)
		pk_object_unref(job);
	running_job = outer;
}

PRL_HANDLE pk_job_submit(pk_job *job, pk_job_func func, gpointer data, GDestroyNotify destroy)
{
	g_return_val_if_fail(job != NULL && job->state == JOB_NEW && func != NULL,
	                     PRL_INVALID_HANDLE);
	job->func = func;
	job->data = data;
	job->destroy = destroy;
	job->state = JOB_QUEUED;
	PRL_HANDLE h = pk_object_give_ref(job);

	g_rw_lock_reader_lock(&rt.push_lock);
	if (rt.accepting) {
		pk_pool_push(rt.pool, &job->work);   /* takes the caller's reference */
		g_rw_lock_reader_unlock(&rt.push_lock);
		return h;
	}
	g_rw_lock_reader_unlock(&rt.push_lock);
	job_end(job, PRL_ERR_API_WASNT_INITIALIZED, NULL);
	pk_object_unref(job);
	return h;
}

static PRL_HANDLE job_fail_va(pk_job *job, PRL_RESULT code, const char *fmt, va_list ap)
	G_GNUC_PRINTF(3, 0);

static PRL_HANDLE job_fail_va(pk_job *job, PRL_RESULT code, const char *fmt, va_list ap)
{
	char *message = fmt != NULL ? g_strdup_vprintf(fmt, ap) : NULL;
	job->state = JOB_QUEUED;   /* from NEW: finishing needs no worker */
	job_end(job, PRL_SUCCEEDED(code) ? PRL_ERR_UNEXPECTED : code, message);
	g_free(message);
	return pk_object_give(job);
}

PRL_HANDLE pk_job_fail(pk_job *job, PRL_RESULT code, const char *fmt, ...)
{
	g_return_val_if_fail(job != NULL && job->state == JOB_NEW, PRL_INVALID_HANDLE);
	va_list ap;
	va_start(ap, fmt);
	PRL_HANDLE h = job_fail_va(job, code, fmt, ap);
	va_end(ap);
	return h;
}

PRL_HANDLE pk_job_succeed(pk_job *job)
{
	g_return_val_if_fail(job != NULL && job->state == JOB_NEW, PRL_INVALID_HANDLE);
	job->state = JOB_QUEUED;
	job_end(job, PRL_ERR_SUCCESS, NULL);
	return pk_object_give(job);
}

PRL_HANDLE pk_job_return_error(PRL_JOB_OPERATION_CODE op, PRL_RESULT code, const char *fmt, ...)
{
	pk_job *job = pk_job_new(op, NULL, NULL);
	va_list ap;
	va_start(ap, fmt);
	PRL_HANDLE h = job_fail_va(job, code, fmt, ap);
	va_end(ap);
	return h;
}

/* --------------------------------------------------------- inside steps ---- */

PRL_JOB_OPERATION_CODE pk_job_get_op(pk_job *job)
{
	return job->op;
}

pk_server *pk_job_get_server(pk_job *job)
{
	return job->server;
}

pk_vm *pk_job_get_vm(pk_job *job)
{
	return job->vm;
}

pk_conn *pk_job_get_conn(pk_job *job)
{
	return job->conn;
}

GCancellable *pk_job_get_cancellable(pk_job *job)
{
	return job_cancellable(job);
}

pk_result *pk_job_get_result(pk_job *job)
{
	if (job->result == NULL)
		job->result = pk_result_new();
	return job->result;
}

void pk_job_set_progress(pk_job *job, guint percent)
{
	g_mutex_lock(&job->lock);
	if (job->state != JOB_FINISHED)
		job->progress = MIN(percent, 100u);
	g_mutex_unlock(&job->lock);
}

void pk_job_accepted(pk_job *job, const char *task_ref, const char *vm_id)
{
	g_mutex_lock(&job->lock);
	job->accepted = TRUE;
	if (task_ref != NULL) {
		g_free(job->task_ref);
		job->task_ref = g_strdup(task_ref);
	}
	if (vm_id != NULL && *vm_id != '\0') {
		g_free(job->vm_id);
		job->vm_id = g_strdup(vm_id);
	}
	g_cond_broadcast(&job->cond);
	g_mutex_unlock(&job->lock);
}

void pk_job_set_vm_id(pk_job *job, const char *vm_id)
{
	g_mutex_lock(&job->lock);
	if (g_strcmp0(job->vm_id, vm_id) != 0) {
		g_free(job->vm_id);
		job->vm_id = g_strdup(vm_id);
	}
	g_mutex_unlock(&job->lock);
}

char *pk_job_dup_vm_id(pk_job *job)
{
	g_mutex_lock(&job->lock);
	char *id = g_strdup(job->vm_id);
	g_mutex_unlock(&job->lock);
	return id;
}

void pk_job_then(pk_job *job, pk_job_func next)
{
	job->func = next;
}

void pk_job_await_task(pk_job *job, const char *task_ref, pk_job_func next)
{
	job->func = next;
	if (task_ref == NULL)
		return;
	pk_job_accepted(job, task_ref, NULL);
	job->polling = TRUE;
}

/* ------------------------------------------------------------ public side ---- */

PRL_RESULT pk_job_wait(pk_job *job, guint32 timeout_ms)
{
	gint64 now = g_get_monotonic_time();
	gint64 deadline = now + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	/* Many jobs end within microseconds (in-memory drivers, cached answers). A waiter that
	 * sleeps must then be woken from the other CPU, which on a virtual machine costs more
	 * than the job; a short wait that yields between looks costs nothing when the worker
	 * needs this CPU. */
	gint64 spin_end = MIN(deadline, now + PK_SPIN_US);
	while (!g_atomic_int_get(&job->finished) && g_get_monotonic_time() < spin_end)
		pk_spin_pause();
	g_mutex_lock(&job->lock);
	while (job->state != JOB_FINISHED) {
		if (timeout_ms == G_MAXUINT32)
			g_cond_wait(&job->cond, &job->lock);
		else if (!g_cond_wait_until(&job->cond, &job->lock, deadline))
			break;
	}
	gboolean finished = job->state == JOB_FINISHED;
	g_mutex_unlock(&job->lock);
	return finished ? PRL_ERR_SUCCESS : PRL_ERR_TIMEOUT;
}

gboolean pk_job_is_finished(pk_job *job)
{
	g_mutex_lock(&job->lock);
	gboolean finished = job->state == JOB_FINISHED;
	g_mutex_unlock(&job->lock);
	return finished;
}

gboolean pk_job_get_outcome(pk_job *job, PRL_RESULT *code, char **message)
{
	g_mutex_lock(&job->lock);
	gboolean finished = job->state == JOB_FINISHED;
	if (finished) {
		if (code != NULL)
			*code = job->code;
		if (message != NULL)
			*message = g_strdup(job->message);
	}
	g_mutex_unlock(&job->lock);
	return finished;
}

pk_result *pk_job_ref_result(pk_job *job)
{
	g_mutex_lock(&job->lock);
	pk_result *res = NULL;
	if (job->state == JOB_FINISHED && job->result != NULL)
		res = pk_object_ref(job->result);   /* atomic; no table lock */
	g_mutex_unlock(&job->lock);
	return res;
}

guint pk_job_get_progress(pk_job *job)
{
	g_mutex_lock(&job->lock);
	guint p = job->progress;
	g_mutex_unlock(&job->lock);
	return p;
}

void pk_job_cancel(pk_job *job)
{
	g_cancellable_cancel(job->cancel);

	/* Not picked up by a worker yet: claim it and finish it now (the pool item finds it
	 * claimed and does nothing). */
	g_mutex_lock(&job->lock);
	gboolean claim = job->state == JOB_QUEUED && !job->started;
	if (claim) {
		job->state = JOB_RUNNING;
		job->started = TRUE;
	}
	g_mutex_unlock(&job->lock);
	if (claim) {
		job_end(job, PRL_ERR_OPERATION_WAS_CANCELED, "the operation was cancelled");
		return;
	}
	job_wake(job);
}

PRL_RESULT pk_job_get_task_id(pk_job *job, guint32 timeout_ms, char **out)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	*out = NULL;
	g_mutex_lock(&job->lock);
	/* Accepted with a task reference, or finished: anything else is not yet resolvable. */
	while (job->task_id == NULL && job->state != JOB_FINISHED &&
	       !(job->accepted && job->task_ref != NULL)) {
		if (timeout_ms == G_MAXUINT32)
			g_cond_wait(&job->cond, &job->lock);
		else if (!g_cond_wait_until(&job->cond, &job->lock, deadline))
			break;
	}
	if (job->task_id != NULL) {
		*out = g_strdup(job->task_id);
		g_mutex_unlock(&job->lock);
		return PRL_ERR_SUCCESS;
	}
	gboolean finished = job->state == JOB_FINISHED;
	if (!finished && !(job->accepted && job->task_ref != NULL)) {
		g_mutex_unlock(&job->lock);
		return PRL_ERR_TIMEOUT;
	}
	pk_task_info *t = pk_task_info_new();
	t->task_ref = g_strdup(job->task_ref);
	t->target_vm_id = g_strdup(job->vm_id);
	/* A job that could not read its task carries no outcome: the id asks the platform. */
	finished = finished && !job->outcome_unknown;
	t->finished = finished;
	if (finished) {
		t->code = job->code;
		t->message = g_strdup(job->message);
	}
	g_mutex_unlock(&job->lock);

	t->driver = g_strdup(job->conn != NULL ? pk_conn_get_driver(job->conn)->name : "");
	t->conn = job->conn != NULL ? g_strdup(pk_conn_get_identity(job->conn)) : NULL;
	t->op = job->task_op;
	t->vm_id = g_strdup(job->task_vm);
	char *id = pk_task_id_encode(t);
	pk_task_info_free(t);

	/* The first id handed out is the job's id for good (a caller may ask twice: size, then
	 * text), even if the job finishes in between. */
	g_mutex_lock(&job->lock);
	if (job->task_id == NULL)
		job->task_id = g_strdup(id);
	*out = g_strdup(job->task_id);
	g_mutex_unlock(&job->lock);
	g_free(id);
	return PRL_ERR_SUCCESS;
}

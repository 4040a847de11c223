/* The worker pool (see core-pool.h). */
#include "config.h"

#include "core-pool.h"

#include <sched.h>

struct pk_pool {
	char *name;             /* immutable */
	guint max;              /* immutable */
	GAsyncQueue *queue;     /* pk_work*; &quit_work stops one thread */
	gint spinning;          /* atomic: idle workers still looking before they sleep */
	GMutex lock;
	GPtrArray *threads;     /* lock: GThread* */
	gboolean closing;       /* lock: pk_pool_free started; no new threads */
};

static void quit_run(pk_work *w)
{
}

static pk_work quit_work = { quit_run };

static void grow_if_needed(pk_pool *pool);

void pk_spin_pause(void)
{
	sched_yield();
}

/* The next item: looked for a little while before sleeping (see PK_SPIN_US). */
static pk_work *next_work(pk_pool *pool)
{
	pk_work *w = g_async_queue_try_pop(pool->queue);
	if (w != NULL)
		return w;
	g_atomic_int_inc(&pool->spinning);
	gint64 end = g_get_monotonic_time() + PK_SPIN_US;
	do {
		pk_spin_pause();
		w = g_async_queue_try_pop(pool->queue);
	} while (w == NULL && g_get_monotonic_time() < end);
	g_atomic_int_dec_and_test(&pool->spinning);
	if (w == NULL)
		return g_async_queue_pop(pool->queue);
	/* A push between our pop and the decrement counted on us for its item. */
	grow_if_needed(pool);
	return w;
}

static gpointer worker_main(gpointer data)
{
	pk_pool *pool = data;
	for (;;) {
		pk_work *w = next_work(pool);
		if (w == &quit_work)
			break;
		w->run(w);
	}
	return NULL;
}

pk_pool *pk_pool_new(const char *name, guint max_threads)
{
	pk_pool *pool = g_new0(pk_pool, 1);
	pool->name = g_strdup(name);
	pool->max = MAX(max_threads, 1u);
	pool->queue = g_async_queue_new();
	g_mutex_init(&pool->lock);
	pool->threads = g_ptr_array_new();
	return pool;
}

/* Items beyond the idle workers (length = items − sleeping threads, less those still
 * looking): one more thread, while below the maximum. */
static gboolean items_unclaimed(pk_pool *pool)
{
	return g_async_queue_length(pool->queue) - g_atomic_int_get(&pool->spinning) > 0;
}

static void grow_if_needed(pk_pool *pool)
{
	if (!items_unclaimed(pool))
		return;
	g_mutex_lock(&pool->lock);
	if (!pool->closing && pool->threads->len < pool->max && items_unclaimed(pool)) {
		GError *error = NULL;
		GThread *t = g_thread_try_new(pool->name, worker_main, pool, &error);
		if (t != NULL) {
			g_ptr_array_add(pool->threads, t);
		} else {
			/* The items wait for the threads there are; there is at least one unless
			 * the system refused the very first, which leaves the work undone. */
			g_warning("cannot start a worker thread: %s", error->message);
			g_error_free(error);
		}
	}
	g_mutex_unlock(&pool->lock);
}

void pk_pool_push(pk_pool *pool, pk_work *w)
{
	g_async_queue_push(pool->queue, w);
	grow_if_needed(pool);
}

void pk_pool_free(pk_pool *pool)
{
	/* FIFO: every item queued before the quit items runs first. */
	g_mutex_lock(&pool->lock);
	pool->closing = TRUE;
	guint n = pool->threads->len;
	g_mutex_unlock(&pool->lock);
	for (guint i = 0; i < n; i++)
		g_async_queue_push(pool->queue, &quit_work);
	for (guint i = 0; i < n; i++)
		g_thread_join(pool->threads->pdata[i]);
	/* Items pushed by the last items, after the quit items, still run (here). */
	pk_work *w;
	while ((w = g_async_queue_try_pop(pool->queue)) != NULL)
		if (w != &quit_work)
			w->run(w);
	g_ptr_array_unref(pool->threads);
	g_async_queue_unref(pool->queue);
	g_mutex_clear(&pool->lock);
	g_free(pool->name);
	g_free(pool);
}

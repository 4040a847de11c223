/* The worker pool: every item runs, in order, before pk_pool_free returns; threads start on
 * demand up to the maximum; an item that waits for a later one gets it a thread even when
 * it was pushed while the only worker was still looking for work before sleeping. */
#include "config.h"

#include "core-pool.h"

typedef struct {
	pk_work work;
	GMutex *lock;
	GCond *cond;
	GArray *order;      /* lock: indexes in the order the items ran */
	guint index;
	gint *flag;         /* when set: the item sets it (lock) ... */
	const gint *wait;   /* ... or waits for it to be set (lock, at most 10 s) */
	gboolean waited;    /* the wait ended with the flag set */
	gint *done;         /* set (lock) when the item ends, if not NULL */
	GThread *thread;    /* the worker that ran it */
} item;

static void item_run(pk_work *w)
{
	item *it = (item *)w;
	g_mutex_lock(it->lock);
	it->thread = g_thread_self();
	if (it->order != NULL)
		g_array_append_val(it->order, it->index);
	if (it->flag != NULL) {
		*it->flag = 1;
		g_cond_broadcast(it->cond);
	}
	if (it->wait != NULL) {
		gint64 end = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
		while (!*it->wait && g_cond_wait_until(it->cond, it->lock, end))
			;
		it->waited = *it->wait != 0;
	}
	if (it->done != NULL) {
		*it->done = 1;
		g_cond_broadcast(it->cond);
	}
	g_mutex_unlock(it->lock);
}

static void test_fifo(void)
{
	GMutex lock;
	GCond cond;
	g_mutex_init(&lock);
	g_cond_init(&cond);
	GArray *order = g_array_new(FALSE, FALSE, sizeof(guint));
	item items[500];
	pk_pool *pool = pk_pool_new("test-fifo", 1);
	for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
		items[i] = (item){ .work.run = item_run, .lock = &lock, .cond = &cond,
		                   .order = order, .index = i };
		pk_pool_push(pool, &items[i].work);
	}
	pk_pool_free(pool);   /* runs what is still queued */
	g_assert_cmpuint(order->len, ==, G_N_ELEMENTS(items));
	for (guint i = 0; i < order->len; i++)
		g_assert_cmpuint(g_array_index(order, guint, i), ==, i);
	g_array_unref(order);
	g_cond_clear(&cond);
	g_mutex_clear(&lock);
}

/* An item that waits for a later one: the pool must start a second worker. Rounds with a
 * fresh pool whose only worker has just finished an item, so the pushes land while it is
 * still looking for work, some between its pop and the end of its looking. (While the
 * pool is being freed no thread starts: this holds only before pk_pool_free.) */
static void test_dependency(void)
{
	GMutex lock;
	GCond cond;
	g_mutex_init(&lock);
	g_cond_init(&cond);
	guint rounds = g_test_slow() ? 5000 : 500;
	for (guint r = 0; r < rounds; r++) {
		gint warm = 0, b_done = 0, a_done = 0;
		item first = { .work.run = item_run, .lock = &lock, .cond = &cond, .flag = &warm };
		item a = { .work.run = item_run, .lock = &lock, .cond = &cond, .wait = &b_done,
		           .done = &a_done };
		item b = { .work.run = item_run, .lock = &lock, .cond = &cond, .flag = &b_done };
		pk_pool *pool = pk_pool_new("test-dependency", 2);
		pk_pool_push(pool, &first.work);
		g_mutex_lock(&lock);
		while (!warm)
			g_cond_wait(&cond, &lock);
		g_mutex_unlock(&lock);
		if (r % 3 != 0)
			g_usleep(r % 3 == 1 ? 1 : PK_SPIN_US / 2);
		pk_pool_push(pool, &a.work);
		pk_pool_push(pool, &b.work);
		g_mutex_lock(&lock);
		while (!a_done)
			g_cond_wait(&cond, &lock);
		g_mutex_unlock(&lock);
		pk_pool_free(pool);
		if (!a.waited)
			g_error("round %u: the item pushed second never ran while the first waited", r);
		g_assert_true(a.thread != b.thread);
	}
	g_cond_clear(&cond);
	g_mutex_clear(&lock);
}

/* A burst beyond the maximum never starts more threads than the maximum. */
static void test_bounded(void)
{
	GMutex lock;
	GCond cond;
	g_mutex_init(&lock);
	g_cond_init(&cond);
	gint go = 0;
	item items[64];
	pk_pool *pool = pk_pool_new("test-bounded", 3);
	for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
		items[i] = (item){ .work.run = item_run, .lock = &lock, .cond = &cond, .wait = &go };
		pk_pool_push(pool, &items[i].work);
	}
	g_usleep(20000);
	g_mutex_lock(&lock);
	go = 1;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
	pk_pool_free(pool);
	GHashTable *threads = g_hash_table_new(NULL, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
		g_assert_true(items[i].waited);
		g_hash_table_add(threads, items[i].thread);
	}
	g_assert_cmpuint(g_hash_table_size(threads), <=, 3);
	g_assert_cmpuint(g_hash_table_size(threads), >=, 2);   /* the burst did start more */
	g_hash_table_unref(threads);
	g_cond_clear(&cond);
	g_mutex_clear(&lock);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pool/fifo", test_fifo);
	g_test_add_func("/pool/dependency", test_dependency);
	g_test_add_func("/pool/bounded", test_bounded);
	return g_test_run();
}

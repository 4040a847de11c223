/* The worker pool: a bounded set of threads running pk_work items in FIFO order.
 *
 * Like GThreadPool, but every thread is joined when the pool is freed, so no library thread
 * outlives PrlApi_Deinit (and leak checkers see a clean exit). Threads start on demand (an
 * item waits and no worker is idle) up to the maximum and then stay until the pool is
 * freed, so a burst of jobs never creates a thread per job. */
#ifndef PRLKIT_CORE_POOL_H
#define PRLKIT_CORE_POOL_H

#include <glib.h>

G_BEGIN_DECLS

/* How long a thread about to sleep keeps looking for what it waits for (µs), yielding its
 * CPU between looks (pk_spin_pause): waking a sleeping thread from another CPU costs tens
 * of µs on a virtual machine, more than most of prlkit's in-memory work. */
#define PK_SPIN_US 50
void pk_spin_pause(void);

typedef struct pk_work pk_work;
struct pk_work {
	void (*run)(pk_work *w);
};

typedef struct pk_pool pk_pool;

pk_pool *pk_pool_new(const char *name, guint max_threads);
void pk_pool_push(pk_pool *pool, pk_work *w);
/* Run every queued item, then stop and join the threads. No push may come after (or during)
 * this call except from the items themselves, before they return. No thread starts from
 * here on: an item must not wait for one queued after it. */
void pk_pool_free(pk_pool *pool);

G_END_DECLS
#endif

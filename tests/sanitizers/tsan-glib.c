/* ThreadSanitizer and GLib: GLib's GMutex, GCond, GRWLock, GAsyncQueue and g_once are
 * built on futexes and atomics inside libglib, which is not instrumented, so TSan sees
 * none of the synchronization prlkit does through them and reports every field they
 * protect as a race. This preloaded shim stands between prlkit and those GLib calls: it
 * calls the real function and tells TSan what it means (lock = acquire, unlock = release,
 * queue push = release, pop = acquire, ...). Nothing in prlkit changes; GLib's internals
 * stay invisible (tests/sanitizers/tsan.supp covers those).
 *
 * Built (not instrumented itself, linked to nothing but libdl: only GLib's declarations
 * are used) and preloaded into every test process by tests/sanitizers/tsan.sh, with
 * G_SLICE=always-malloc, as GSlice hands memory from thread to thread behind TSan's back
 * too. In a process without TSan (make, the shell, python) the __tsan_* symbols are absent
 * and every call just passes through; a process without GLib never calls in. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));

static inline void
acquire(const volatile void *addr)
{
	if (__tsan_acquire)
		__tsan_acquire((void *)addr);
}

static inline void
release(const volatile void *addr)
{
	if (__tsan_release)
		__tsan_release((void *)addr);
}

static void *
real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn) {
		fprintf(stderr, "tsan-glib: %s not found\n", name);
		abort();
	}
	return fn;
}

/* REAL(ret, name, args): real_<name>, the next definition of name, looked up once (an
 * atomic pointer: threads racing on the first lookup store the same value). */
#define REAL(ret, name, ...) \
	static ret (*real_##name##_)(__VA_ARGS__); \
	ret (*real_##name)(__VA_ARGS__) = __atomic_load_n(&real_##name##_, __ATOMIC_ACQUIRE); \
	if (!real_##name) { \
		real_##name = (ret (*)(__VA_ARGS__))real(#name); \
		__atomic_store_n(&real_##name##_, real_##name, __ATOMIC_RELEASE); \
	}

/* ---- GMutex, GRecMutex ---- */

void
g_mutex_lock(GMutex *m)
{
	REAL(void, g_mutex_lock, GMutex *);
	real_g_mutex_lock(m);
	acquire(m);
}

gboolean
g_mutex_trylock(GMutex *m)
{
	REAL(gboolean, g_mutex_trylock, GMutex *);
	gboolean ok = real_g_mutex_trylock(m);
	if (ok)
		acquire(m);
	return ok;
}

void
g_mutex_unlock(GMutex *m)
{
	REAL(void, g_mutex_unlock, GMutex *);
	release(m);
	real_g_mutex_unlock(m);
}

void
g_rec_mutex_lock(GRecMutex *m)
{
	REAL(void, g_rec_mutex_lock, GRecMutex *);
	real_g_rec_mutex_lock(m);
	acquire(m);
}

gboolean
g_rec_mutex_trylock(GRecMutex *m)
{
	REAL(gboolean, g_rec_mutex_trylock, GRecMutex *);
	gboolean ok = real_g_rec_mutex_trylock(m);
	if (ok)
		acquire(m);
	return ok;
}

void
g_rec_mutex_unlock(GRecMutex *m)
{
	REAL(void, g_rec_mutex_unlock, GRecMutex *);
	release(m);
	real_g_rec_mutex_unlock(m);
}

/* ---- GRWLock: readers release too, so a writer sees what readers did before ---- */

void
g_rw_lock_writer_lock(GRWLock *l)
{
	REAL(void, g_rw_lock_writer_lock, GRWLock *);
	real_g_rw_lock_writer_lock(l);
	acquire(l);
}

gboolean
g_rw_lock_writer_trylock(GRWLock *l)
{
	REAL(gboolean, g_rw_lock_writer_trylock, GRWLock *);
	gboolean ok = real_g_rw_lock_writer_trylock(l);
	if (ok)
		acquire(l);
	return ok;
}

void
g_rw_lock_writer_unlock(GRWLock *l)
{
	REAL(void, g_rw_lock_writer_unlock, GRWLock *);
	release(l);
	real_g_rw_lock_writer_unlock(l);
}

void
g_rw_lock_reader_lock(GRWLock *l)
{
	REAL(void, g_rw_lock_reader_lock, GRWLock *);
	real_g_rw_lock_reader_lock(l);
	acquire(l);
}

gboolean
g_rw_lock_reader_trylock(GRWLock *l)
{
	REAL(gboolean, g_rw_lock_reader_trylock, GRWLock *);
	gboolean ok = real_g_rw_lock_reader_trylock(l);
	if (ok)
		acquire(l);
	return ok;
}

void
g_rw_lock_reader_unlock(GRWLock *l)
{
	REAL(void, g_rw_lock_reader_unlock, GRWLock *);
	release(l);
	real_g_rw_lock_reader_unlock(l);
}

/* ---- GCond: the wait unlocks and relocks the mutex ---- */

void
g_cond_wait(GCond *c, GMutex *m)
{
	REAL(void, g_cond_wait, GCond *, GMutex *);
	release(m);
	real_g_cond_wait(c, m);
	acquire(m);
}

gboolean
g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time)
{
	REAL(gboolean, g_cond_wait_until, GCond *, GMutex *, gint64);
	gboolean ok;
	release(m);
	ok = real_g_cond_wait_until(c, m, end_time);
	acquire(m);
	return ok;
}

/* ---- GAsyncQueue: what is pushed was written before; the popper reads it after ---- */

void
g_async_queue_push(GAsyncQueue *q, gpointer data)
{
	REAL(void, g_async_queue_push, GAsyncQueue *, gpointer);
	release(q);
	real_g_async_queue_push(q, data);
}

void
g_async_queue_push_unlocked(GAsyncQueue *q, gpointer data)
{
	REAL(void, g_async_queue_push_unlocked, GAsyncQueue *, gpointer);
	release(q);
	real_g_async_queue_push_unlocked(q, data);
}

void
g_async_queue_push_front(GAsyncQueue *q, gpointer data)
{
	REAL(void, g_async_queue_push_front, GAsyncQueue *, gpointer);
	release(q);
	real_g_async_queue_push_front(q, data);
}

gpointer
g_async_queue_pop(GAsyncQueue *q)
{
	REAL(gpointer, g_async_queue_pop, GAsyncQueue *);
	gpointer d = real_g_async_queue_pop(q);
	acquire(q);
	return d;
}

gpointer
g_async_queue_pop_unlocked(GAsyncQueue *q)
{
	REAL(gpointer, g_async_queue_pop_unlocked, GAsyncQueue *);
	gpointer d = real_g_async_queue_pop_unlocked(q);
	acquire(q);
	return d;
}

gpointer
g_async_queue_try_pop(GAsyncQueue *q)
{
	REAL(gpointer, g_async_queue_try_pop, GAsyncQueue *);
	gpointer d = real_g_async_queue_try_pop(q);
	acquire(q);
	return d;
}

gpointer
g_async_queue_try_pop_unlocked(GAsyncQueue *q)
{
	REAL(gpointer, g_async_queue_try_pop_unlocked, GAsyncQueue *);
	gpointer d = real_g_async_queue_try_pop_unlocked(q);
	acquire(q);
	return d;
}

gpointer
g_async_queue_timeout_pop(GAsyncQueue *q, guint64 timeout)
{
	REAL(gpointer, g_async_queue_timeout_pop, GAsyncQueue *, guint64);
	gpointer d = real_g_async_queue_timeout_pop(q, timeout);
	acquire(q);
	return d;
}

gpointer
g_async_queue_timeout_pop_unlocked(GAsyncQueue *q, guint64 timeout)
{
	REAL(gpointer, g_async_queue_timeout_pop_unlocked, GAsyncQueue *, guint64);
	gpointer d = real_g_async_queue_timeout_pop_unlocked(q, timeout);
	acquire(q);
	return d;
}

/* The queue's own lock (g_async_queue_lock) orders the *_unlocked calls. */
void
g_async_queue_lock(GAsyncQueue *q)
{
	REAL(void, g_async_queue_lock, GAsyncQueue *);
	real_g_async_queue_lock(q);
	acquire(q);
}

void
g_async_queue_unlock(GAsyncQueue *q)
{
	REAL(void, g_async_queue_unlock, GAsyncQueue *);
	release(q);
	real_g_async_queue_unlock(q);
}

/* ---- g_once: the value stored by leave is read by the (instrumented) fast path ---- */

gboolean
(g_once_init_enter)(volatile void *location)
{
	REAL(gboolean, g_once_init_enter, volatile void *);
	gboolean first = real_g_once_init_enter(location);
	acquire(location);
	return first;
}

void
(g_once_init_leave)(volatile void *location, gsize result)
{
	REAL(void, g_once_init_leave, volatile void *, gsize);
	release(location);
	real_g_once_init_leave(location, result);
}

/* ---- reference-counted boxes: the last owner frees what others wrote ----
 * Every release publishes; the clear function (called by the last one, before the free)
 * acquires them all. */

static __thread GDestroyNotify box_clear;     /* the caller's clear function, this call */

static void
box_clear_annotated(gpointer mem)
{
	acquire(mem);
	if (box_clear)
		box_clear(mem);
}

void
g_atomic_rc_box_release_full(gpointer mem, GDestroyNotify clear_func)
{
	REAL(void, g_atomic_rc_box_release_full, gpointer, GDestroyNotify);
	GDestroyNotify saved = box_clear;
	release(mem);
	box_clear = clear_func;
	real_g_atomic_rc_box_release_full(mem, box_clear_annotated);
	box_clear = saved;
}

void
g_atomic_rc_box_release(gpointer mem)
{
	g_atomic_rc_box_release_full(mem, NULL);
}

/* ---- GSource: data handed to a callback that another thread's main loop runs ---- */

typedef struct {
	GSourceFunc func;
	gpointer data;
	GDestroyNotify notify;
	GSource *source;
} source_call;

static gboolean
source_trampoline(gpointer p)
{
	source_call *sc = p;
	acquire(sc->source);
	return sc->func(sc->data);
}

static void
source_call_free(gpointer p)
{
	source_call *sc = p;
	acquire(sc->source);
	if (sc->notify)
		sc->notify(sc->data);
	free(sc);
}

void
g_source_set_callback(GSource *source, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
	REAL(void, g_source_set_callback, GSource *, GSourceFunc, gpointer, GDestroyNotify);
	source_call *sc;

	/* Only timeout and idle sources call a GSourceFunc; a child watch, say, calls its
	 * callback with other arguments, so it is left alone. (Looked up at run time: a data
	 * reference would tie the shim to processes that have GLib.) */
	if (!func || !__tsan_acquire ||
	    (source->source_funcs != dlsym(RTLD_DEFAULT, "g_timeout_funcs") &&
	     source->source_funcs != dlsym(RTLD_DEFAULT, "g_idle_funcs"))) {
		real_g_source_set_callback(source, func, data, notify);
		return;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		abort();
	sc->func = func;
	sc->data = data;
	sc->notify = notify;
	sc->source = source;
	release(source);
	real_g_source_set_callback(source, source_trampoline, sc, source_call_free);
}

guint
g_source_attach(GSource *source, GMainContext *context)
{
	REAL(guint, g_source_attach, GSource *, GMainContext *);
	release(source);
	return real_g_source_attach(source, context);
}

void
g_source_destroy(GSource *source)
{
	REAL(void, g_source_destroy, GSource *);
	release(source);
	real_g_source_destroy(source);
}

/* ---- reference-counted GLib objects shared between threads ----
 * The count lives in libglib; whoever drops the last reference frees what other threads
 * read. Each unref publishes this thread's accesses and takes everyone's published so far,
 * so the freeing thread is ordered after the others (but for a window of a few
 * instructions between two threads' unrefs). */

#define UNREF(type, name) \
	void name(type p) \
	{ \
		REAL(void, name, type); \
		if (p) { \
			release(p); \
			acquire(p); \
		} \
		real_##name(p); \
	}

UNREF(GHashTable *, g_hash_table_unref)
UNREF(GPtrArray *, g_ptr_array_unref)
UNREF(GArray *, g_array_unref)
UNREF(GByteArray *, g_byte_array_unref)
UNREF(GBytes *, g_bytes_unref)
UNREF(GUri *, g_uri_unref)
UNREF(gpointer, g_object_unref)
UNREF(GAsyncQueue *, g_async_queue_unref)
UNREF(GMainContext *, g_main_context_unref)
UNREF(GMainLoop *, g_main_loop_unref)
UNREF(GSource *, g_source_unref)
UNREF(GDateTime *, g_date_time_unref)
UNREF(GThread *, g_thread_unref)

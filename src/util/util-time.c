/* Clocks and a cancellable sleep. */
#include "config.h"

#include "util-time.h"

static gint64 fake_offset_ms(void)
{
	const char *s = g_getenv("PRLKIT_FAKE_TIME_OFFSET_MS");
	gint64 v;
	if (s == NULL || !g_ascii_string_to_signed(s, 10, G_MININT64 / 2000, G_MAXINT64 / 2000, &v,
	                                           NULL))
		return 0;
	return v;
}

gint64 pk_time_wall_ms(void)
{
	return g_get_real_time() / 1000 + fake_offset_ms();
}

gint64 pk_time_mono_us(void)
{
	return g_get_monotonic_time();
}

typedef struct {
	GMutex lock;
	GCond cond;
	gboolean cancelled;  /* lock */
} sleeper;

static void sleeper_wake(GCancellable *cancel, gpointer data)
{
	sleeper *s = data;
	g_mutex_lock(&s->lock);
	s->cancelled = TRUE;
	g_cond_signal(&s->cond);
	g_mutex_unlock(&s->lock);
}

gboolean pk_time_sleep_ms(guint ms, GCancellable *cancel)
{
	if (cancel == NULL) {
		g_usleep((gulong)ms * 1000);
		return TRUE;
	}
	if (g_cancellable_is_cancelled(cancel))
		return FALSE;

	sleeper s = { 0 };
	g_mutex_init(&s.lock);
	g_cond_init(&s.cond);
	/* Runs sleeper_wake at once if already cancelled; disconnect waits for a running
	 * callback, so s on our stack outlives every use. */
	gulong id = g_cancellable_connect(cancel, G_CALLBACK(sleeper_wake), &s, NULL);

	gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
	g_mutex_lock(&s.lock);
	while (!s.cancelled && g_cond_wait_until(&s.cond, &s.lock, deadline))
		;
	gboolean cancelled = s.cancelled;
	g_mutex_unlock(&s.lock);

	g_cancellable_disconnect(cancel, id);
	g_cond_clear(&s.cond);
	g_mutex_clear(&s.lock);
	return !cancelled;
}

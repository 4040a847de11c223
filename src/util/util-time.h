/* Time, fakeable for tests: PRLKIT_FAKE_TIME_OFFSET_MS shifts the clock the sim driver
 * sees. Monotonic for durations, wall clock for anything stored. */
#ifndef PRLKIT_UTIL_TIME_H
#define PRLKIT_UTIL_TIME_H

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS
/* Unix time in ms, plus PRLKIT_FAKE_TIME_OFFSET_MS (read on every call, so a test may
 * change it between steps; a value that is not an integer counts as 0). */
gint64 pk_time_wall_ms(void);
/* Monotonic µs; never shifted. */
gint64 pk_time_mono_us(void);
/* Sleep up to ms; FALSE if cancelled first (also when already cancelled on entry). */
gboolean pk_time_sleep_ms(guint ms, GCancellable *cancel);
G_END_DECLS
#endif

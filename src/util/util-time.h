/* Time, fakeable for tests: PRLKIT_FAKE_TIME_OFFSET_MS shifts the clock the sim driver
 * sees. Monotonic for durations, wall clock for anything stored. */
#ifndef PRLKIT_UTIL_TIME_H
#define PRLKIT_UTIL_TIME_H

#include <glib.h>

G_BEGIN_DECLS
gint64 pk_time_wall_ms(void);
gint64 pk_time_mono_us(void);
/* Sleep up to ms; FALSE if cancelled first. */
gboolean pk_time_sleep_ms(guint ms, GCancellable *cancel);
G_END_DECLS
#endif

/* Helpers for the sim driver tests: connections through the vtable, task waits, a fake
 * clock, and state-file checks. */
#ifndef PRLKIT_TEST_SIM_UTIL_H
#define PRLKIT_TEST_SIM_UTIL_H

#include "sim-private.h"

G_BEGIN_DECLS

/* A fresh directory under $PRLKIT_TEST_TMPDIR (or a temp dir); g_free it. */
char *ts_new_dir(const char *tag);
/* "sim://<dir>?<query>" for a directory (query may be NULL). */
char *ts_uri(const char *dir, const char *query);

/* Open through sim_driver.open like the core does (URI query merged into settings, then
 * the JSON settings). NULL with *error on failure; *status gets the open status. */
pk_conn *ts_open_full(const char *uri, const char *settings_json, pk_open_status *status,
                      GError **error);
/* Open or fail the test. */
pk_conn *ts_open(const char *uri, const char *settings_json);
void ts_close(pk_conn *c);

/* Run a task to its end (polling, real clock) and return its code; message optional. */
PRL_RESULT ts_task_wait(pk_conn *c, const char *ref, char **message);
/* One status check. */
pk_task_status ts_task_status(pk_conn *c, const char *ref);

/* The fake clock: PRLKIT_FAKE_TIME_OFFSET_MS. Only while no other thread reads it. */
void ts_clock_reset(void);
void ts_clock_advance(gint64 ms);

/* The VM of that name (fails the test if absent); free with pk_vm_data_free. */
pk_vm_data *ts_vm_by_name(pk_conn *c, const char *name);
pk_vm_data *ts_vm_get(pk_conn *c, const char *id);
guint ts_vm_count(pk_conn *c);

/* Check a state directory's file: it parses, validates, ids/names/MACs are unique.
 * Returns the number of VMs. */
guint ts_check_state_file(const char *dir);

G_END_DECLS
#endif

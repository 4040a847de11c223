/* A small in-test driver ("fake", URIs fake:///<dir>) for the runtime's unit tests: VMs live in
 * this process's memory, tasks in files under <dir> so another process can resolve them.
 * Knobs let a test make ops return backend tasks, block until cancelled, or fail. */
#ifndef PRLKIT_TEST_FAKE_DRIVER_H
#define PRLKIT_TEST_FAKE_DRIVER_H

#include "driver.h"

G_BEGIN_DECLS

extern const pk_driver fake_driver;
/* The same VMs through a driver that has only vm->list and vm->get (URIs fakemin:///<dir>). */
extern const pk_driver fake_min_driver;

/* Register the fake driver with the registry and reset its inventory: n_vms stopped VMs
 * "vm-0".. "vm-<n-1>" named "VM <i>", plus the template "tpl" (named "Template") that has
 * the snapshots "base" → "v1" → "v2" and "base" → "other". */
void fake_reset(guint n_vms);

/* How ops that change something behave:
 * 0  → complete at once (no task reference);
 * n>0 → return a task that finishes (successfully) after n status checks;
 * -1 → return a task that stays running until fake_task_finish. */
void fake_set_task_mode(gint mode);
/* Power ops block until their GCancellable fires (then fail as cancelled). */
void fake_set_block(gboolean block);
/* The next power op fails with code (once); 0 = none. */
void fake_fail_next(PRL_RESULT code);
/* The next vm->get fails with code (once); 0 = none. */
void fake_fail_next_get(PRL_RESULT code);
/* The next n task status reads fail with code (not the task: reading it). */
void fake_fail_status(guint n, PRL_RESULT code);
/* Task cancels fail with PRL_ERR_INVALID_ACTION_REQUESTED; the task goes on. */
void fake_refuse_cancel(gboolean refuse);
/* Finish a manual task (in its file; any process). */
void fake_task_finish(const char *dir, const char *task_ref, PRL_RESULT code,
                      const char *message);
/* The last task reference handed out (a copy), or NULL. */
char *fake_last_task(void);

/* Queue a state change for the watch thread of the open connection(s) to report. */
void fake_emit_state(const char *vm_id, VIRTUAL_MACHINE_STATE state);

/* Counters. */
guint fake_status_calls(void);
guint fake_cancel_calls(void);
guint fake_open_count(void);    /* connections open now */

G_END_DECLS
#endif

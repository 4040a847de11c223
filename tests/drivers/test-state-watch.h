/* Tests: follow the state-change events of one VM through the public API (a server event
 * handler), and wait for a state. */
#ifndef PRLKIT_TEST_STATE_WATCH_H
#define PRLKIT_TEST_STATE_WATCH_H

#include <glib.h>
#include "prlkit/Parallels.h"

G_BEGIN_DECLS

/* From now on, follow vm_id (copied); the last state seen is VMS_UNKNOWN. */
void sw_follow(const char *vm_id);
/* The handler to register with PrlSrv_RegEventHandler (data unused). */
PRL_RESULT sw_on_event(PRL_HANDLE h, PRL_VOID_PTR data);
/* Whether the followed VM's last reported state is (or becomes) want within seconds. */
gboolean sw_wait(VIRTUAL_MACHINE_STATE want, int seconds);

G_END_DECLS
#endif

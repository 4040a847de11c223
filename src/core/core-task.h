/* Task ids (DESIGN "Task ids"): a self-describing, versioned, opaque string that any process
 * connected to the same platform can resolve.
 *
 * Format: "pk1." + base64url (no padding) of a compact JSON object:
 *   "d": driver name ("" for a job that never reached a driver)
 *   "c": connection identity (URI without user info/query/fragment; never secret), optional
 *   "o": PRL_JOB_OPERATION_CODE of the work
 *   "v": VM id the work acts on, optional
 *   "r": the driver's task reference, optional
 *   "t": target VM id (e.g. the clone), optional
 *   "x": outcome, present when the job had finished when the id was made:
 *        {"c": PRL_RESULT, "m": message (optional)}
 * An id always has "r" or "x". Parsing rejects anything else: wrong prefix or version, bad
 * base64, not a JSON object, wrong member types, control characters, oversize members. */
#ifndef PRLKIT_CORE_TASK_H
#define PRLKIT_CORE_TASK_H

#include <glib.h>
#include "prlkit/PrlTypes.h"
#include "prlkit/PrlEnums.h"

G_BEGIN_DECLS

#define PK_TASK_ID_PREFIX "pk1."
#define PK_TASK_ID_MAX_LEN 8192

typedef struct pk_task_info {
	char *driver;                  /* never NULL after decode */
	char *conn;                    /* nullable */
	PRL_JOB_OPERATION_CODE op;
	char *vm_id;                   /* nullable */
	char *task_ref;                /* nullable */
	char *target_vm_id;            /* nullable */
	gboolean finished;             /* the outcome below is known */
	PRL_RESULT code;
	char *message;                 /* nullable */
} pk_task_info;

pk_task_info *pk_task_info_new(void);
void pk_task_info_free(pk_task_info *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pk_task_info, pk_task_info_free)

/* The id (newly allocated). Messages are redacted. */
char *pk_task_id_encode(const pk_task_info *t);
/* FALSE with PRL_ERR_INVALID_ARG (in PK_ERROR) naming what is wrong for anything that is not
 * a well-formed id. */
gboolean pk_task_id_decode(const char *id, pk_task_info **out, GError **error);

typedef struct pk_server pk_server;
/* PrlSrv_GetTaskInfo / PrlSrv_AttachToLostTask: jobs on srv (references taken). */
PRL_HANDLE pk_task_get_info(pk_server *srv, const char *task_id);
PRL_HANDLE pk_task_attach(pk_server *srv, const char *task_id);

G_END_DECLS
#endif

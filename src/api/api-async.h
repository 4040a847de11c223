/* Helpers shared by the public entry points of src/api (runtime side).
 *
 * As in api-lib.c: calls that start work (every asynchronous call) or create something from
 * nothing (PrlSrv_Create) need PrlApi_InitEx; calls on a handle the caller already holds
 * (reading a job, a VM's configuration, a result, registering a handler) work at any time,
 * so a job made before init, or delivered to a handler while PrlApi_Deinit drains, can be
 * read and freed. */
#ifndef PRLKIT_API_ASYNC_H
#define PRLKIT_API_ASYNC_H

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"
#include "core-api.h"
#include "core-error.h"
#include "core-job.h"
#include "core-object.h"

/* Async entry points: a finished job instead of a return code. */
#define PK_ASYNC_RETURN_IF_NOT_INITIALIZED(op) \
	do { \
		if (!pk_api_initialized()) \
			return pk_job_return_error((op), PRL_ERR_API_WASNT_INITIALIZED, NULL); \
	} while (0)

/* Resolve handle h of type into obj (a new reference, released at scope exit when obj is
 * declared PK_AUTO), or return a finished job carrying the error. */
#define PK_ASYNC_GET(h, type, obj, op, what) \
	do { \
		PRL_RESULT pk_r_ = pk_handle_get((h), (type), (gpointer *)&(obj)); \
		if (PRL_FAILED(pk_r_)) \
			return pk_job_return_error((op), pk_r_, "invalid %s handle", (what)); \
	} while (0)

/* Same for synchronous entry points: return the code. */
#define PK_SYNC_GET(h, type, obj) PK_RETURN_IF_FAILED(pk_handle_get((h), (type), (gpointer *)&(obj)))

/* PrlSrv_/PrlVm_/PrlHandle_(Un)RegEventHandler: h must be of type want (PHT_ERROR: a server
 * or a VM). */
PRL_RESULT pk_api_reg_handler(PRL_HANDLE h, PRL_HANDLE_TYPE want, PRL_EVENT_HANDLER_PTR fn,
                              PRL_VOID_PTR data, gboolean add);

#endif

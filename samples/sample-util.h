/* prlkit samples — the few steps every sample repeats. MIT license.
 *
 * Everything here is plain Parallels SDK code: initialise the API, log in, wait for a
 * job and look at its return code, read a string with the two-call convention, free
 * every handle. Each sample's main() shows its own workflow step by step; only the
 * boilerplate lives here. */
#ifndef PRLKIT_SAMPLE_UTIL_H
#define PRLKIT_SAMPLE_UTIL_H

#include "Parallels.h"

/* How long a sample waits for one job. Cloning a large VM on a real hypervisor takes
 * minutes; the simulator at speed 0 finishes at once. */
#define SAMPLE_JOB_TIMEOUT_MS (15u * 60u * 1000u)

/* Print a numbered step ("[3] Start the VM (PrlVm_Start)"); the outcome follows on the
 * next lines, indented. */
void sample_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print an indented detail line under the current step. */
void sample_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "what failed: <description> (<PRL_ERR_NAME>)" on stderr, using
 * PrlApi_GetResultDescription for the text. */
void sample_print_error(const char *what, PRL_RESULT rc);

/* Wait for hJob (PrlJob_Wait), check PrlJob_GetRetCode and free the job. On success
 * returns PRL_ERR_SUCCESS and, when phResult is not NULL, hands over the job's result
 * (PrlJob_GetResult; the caller frees it). On failure prints the code's description and
 * the platform's own message (PrlJob_GetError) and returns the code. */
PRL_RESULT sample_wait(PRL_HANDLE hJob, const char *what, PRL_HANDLE_PTR phResult);

/* PrlApi_InitEx + PrlSrv_Create + PrlSrv_LoginLocal (the default server:
 * PRLKIT_DEFAULT_URI, else the configured default, else the built-in simulator). */
PRL_RESULT sample_login_local(PRL_HANDLE_PTR phServer);
/* PrlSrv_Logoff, PrlHandle_Free(hServer), PrlApi_Deinit, then check that no handle is
 * left (PrlDbg_GetHandlesNum). Returns 0, or 1 if something leaked. */
int sample_logoff(PRL_HANDLE hServer);

/* Any "get a string" call of the SDK: (handle, buffer, length in/out). */
typedef PRL_RESULT (*sample_string_getter)(PRL_HANDLE h, PRL_STR buf, PRL_UINT32_PTR pnLen);
/* The two-call convention: ask for the size, allocate, ask again. Returns a malloc'ed
 * string (free it) or NULL after printing the error. */
char *sample_get_string(PRL_HANDLE h, sample_string_getter get, const char *what);

/* Which VM a sample should use when the user names none. */
typedef enum {
	SAMPLE_PICK_STOPPED_VM, /* the first stopped VM that is not a template */
	SAMPLE_PICK_TEMPLATE,   /* the first template */
} sample_pick;

/* Find a VM by name or id (when nameOrId is not NULL) or pick one as described by how.
 * On success *phVm is a new VM handle. */
PRL_RESULT sample_find_vm(PRL_HANDLE hServer, const char *nameOrId, sample_pick how,
                          PRL_HANDLE_PTR phVm);

/* PrlVm_GetState job → PrlVmInfo_GetState; VMS_UNKNOWN after printing an error. */
VIRTUAL_MACHINE_STATE sample_get_state(PRL_HANDLE hVm);
/* "running", "stopped", ... for a VMS_* value. */
const char *sample_state_name(VIRTUAL_MACHINE_STATE state);

/* Feature bits of the driver behind hServer (PrlSrv_GetDriverInfo, a prlkit extension);
 * 0 after printing an error. */
PRL_UINT64 sample_driver_features(PRL_HANDLE hServer);

#endif

/* Library state shared by the public entry points. */
#ifndef PRLKIT_CORE_API_H
#define PRLKIT_CORE_API_H

#include <glib.h>
#include "prlkit/PrlErrors.h"

G_BEGIN_DECLS

/* TRUE between the first successful PrlApi_InitEx and the matching last PrlApi_Deinit. */
gboolean pk_api_initialized(void);

/* Runtime services (worker pool, ...), implemented by the job code: started by the first
 * PrlApi_InitEx, stopped (after waiting for jobs in flight) by the last PrlApi_Deinit. */
void pk_runtime_init(void);
void pk_runtime_shutdown(void);

#define PK_RETURN_IF_NOT_INITIALIZED() \
	do { if (!pk_api_initialized()) return PRL_ERR_API_WASNT_INITIALIZED; } while (0)
#define PK_RETURN_IF_FAILED(expr) \
	do { PRL_RESULT pk_r_ = (expr); if (PRL_FAILED(pk_r_)) return pk_r_; } while (0)

G_END_DECLS
#endif

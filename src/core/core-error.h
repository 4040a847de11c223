/* Errors: one GError domain whose codes are PRL_RESULTs; names and descriptions come from
 * PRLK_ERROR_LIST (include/prlkit/PrlErrorsValues.h). */
#ifndef PRLKIT_CORE_ERROR_H
#define PRLKIT_CORE_ERROR_H

#include <glib.h>
#include "prlkit/PrlErrors.h"

G_BEGIN_DECLS

#define PK_ERROR (pk_error_quark())
GQuark pk_error_quark(void);

/* "PRL_ERR_TIMEOUT"; NULL for an unknown code. */
const char *pk_result_name(PRL_RESULT r);
/* English description; NULL for an unknown code. */
const char *pk_result_description(PRL_RESULT r);
/* The PRL_RESULT of an error: its code in PK_ERROR, G_IO_ERROR_CANCELLED →
 * PRL_ERR_OPERATION_WAS_CANCELED, anything else → PRL_ERR_OPERATION_FAILED. */
PRL_RESULT pk_error_result(const GError *error);

/* The string-buffer convention of API.md §4 (NULL value counts as ""). */
PRL_RESULT pk_string_out(const char *value, PRL_STR buf, PRL_UINT32_PTR len);

G_END_DECLS
#endif

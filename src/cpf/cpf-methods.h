/* prlkit-cpf — CPF methods mapped onto the public prlkit API. MIT license. */
#ifndef PRLKIT_CPF_METHODS_H
#define PRLKIT_CPF_METHODS_H

#include <glib.h>
#include <jansson.h>

#include "cpf-protocol.h"

G_BEGIN_DECLS

#define CPF_DEFAULT_WAIT_MS (30u * 1000)

/* What the command line fixed; immutable once the loop runs. */
typedef struct cpf_options {
	char *driver;               /* --driver, may be NULL */
	char *uri;                  /* --uri, may be NULL */
	json_t *defaults;           /* --settings FILE: an object (empty without the option) */
	guint wait_ms;              /* --wait-timeout, or from the settings file, or 30 s */
	gboolean wait_from_cli;
	gboolean log_level_from_cli;
} cpf_options;

typedef struct cpf_ctx cpf_ctx;

/* Checks the driver selection of the command line (a bad one is reported in *err);
 * the context is used from the main thread only. */
cpf_ctx *cpf_ctx_new(const cpf_options *opts, GError **err);
/* Closes the connection without waiting for work in flight. */
void cpf_ctx_free(cpf_ctx *ctx);

/* Handles one parsed request: a new result reference, or NULL with err filled. */
json_t *cpf_dispatch(cpf_ctx *ctx, cpf_request *req, cpf_error *err);
/* Starts the platform reads of the run of guests/get at the head of reqs (requests a client
 * pipelined) so they overlap; each is still answered in its turn by cpf_dispatch. Reads
 * have no side effects, and the run stops at the first other method, so the order of
 * effects is unchanged. */
void cpf_prefetch(cpf_ctx *ctx, cpf_request *const *reqs, guint n);

/* Display name of a driver for the guest object's "provider". */
const char *cpf_driver_display_name(const char *driver);

G_END_DECLS
#endif

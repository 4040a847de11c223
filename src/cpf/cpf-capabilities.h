/* prlkit-cpf — the capabilities of provider/initialize, derived from driver features.
 * MIT license. */
#ifndef PRLKIT_CPF_CAPABILITIES_H
#define PRLKIT_CPF_CAPABILITIES_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct cpf_caps {
	gboolean can_suspend_guests;
	gint64 guests_polling_rate;     /* seconds, 3..900 */
	gint64 tasks_polling_rate;      /* seconds, 1..60 */
	gint64 tasks_polling_retries;   /* 0..180 */
	const char *template_method;    /* static: "none", "basic" or "versioning" */
	gboolean can_link_clones;
} cpf_caps;

/* "versioning" with snapshots + clone-from-snapshot + reversible templates (maintenance
 * turns a template back into a VM), "basic" with templates + clones,
 * else "none" — and "none" without task ids, which every template workflow polls. */
const char *cpf_template_method_for(guint64 features);

/* Capabilities from feature bits and the (merged) settings object, which may be NULL.
 * Out-of-range values are clamped with a warning; a value that is not a number keeps the
 * default and its key is added to *bad_keys (comma-separated; NULL if none). */
void cpf_caps_compute(guint64 features, json_t *settings, cpf_caps *out, char **bad_keys);
json_t *cpf_caps_to_json(const cpf_caps *caps);
/* What the advertised capabilities promise that a driver with these features cannot
 * deliver, as text ("suspend, linked clones"); NULL when nothing is missing. */
char *cpf_caps_missing(const cpf_caps *advertised, guint64 features);

G_END_DECLS
#endif

/* prlkit-cpf — capabilities. MIT license. */
#include "config.h"

#include <string.h>
#include <prlkit/Parallels.h>

#include "cpf-capabilities.h"

const char *
cpf_template_method_for(guint64 features)
{
	/* Every template workflow runs on tasks RAS polls, maybe from another process. */
	if (!(features & PRLK_FEAT_TASK_IDS))
		return "none";
	/* Versions need maintenance, which turns the template back into a VM. */
	if ((features & PRLK_FEAT_SNAPSHOTS) && (features & PRLK_FEAT_CLONE_FROM_SNAPSHOT) &&
	    (features & PRLK_FEAT_REVERSIBLE_TEMPLATES))
		return "versioning";
	if ((features & PRLK_FEAT_TEMPLATES) && (features & PRLK_FEAT_CLONE))
		return "basic";
	return "none";
}

static int
template_method_rank(const char *m)
{
	if (strcmp(m, "versioning") == 0)
		return 2;
	if (strcmp(m, "basic") == 0)
		return 1;
	return 0;
}

/* Integer value of a setting sent as a number or a string ("30"). */
static gboolean
setting_int(json_t *v, gint64 *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return TRUE;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != (double)(gint64)d)
			return FALSE;
		*out = (gint64)d;
		return TRUE;
	}
	if (json_is_string(v)) {
		g_autofree char *s = g_strstrip(g_strdup(json_string_value(v)));
		return g_ascii_string_to_signed(s, 10, G_MININT64, G_MAXINT64, out, NULL);
	}
	return FALSE;
}

static void
clamp_setting(json_t *settings, const char *key, gint64 def, gint64 min, gint64 max,
              gint64 *out, GString *bad)
{
	json_t *v = settings ? json_object_get(settings, key) : NULL;
	gint64 n;

	*out = def;
	if (!v || json_is_null(v))
		return;
	if (!setting_int(v, &n)) {
		g_warning("setting '%s' is not a whole number; using %" G_GINT64_FORMAT, key, def);
		if (bad)
			g_string_append_printf(bad, "%s%s", bad->len ? ", " : "", key);
		return;
	}
	if (n < min || n > max) {
		gint64 c = CLAMP(n, min, max);
		g_warning("setting '%s' = %" G_GINT64_FORMAT " is out of range %" G_GINT64_FORMAT
		          "..%" G_GINT64_FORMAT "; using %" G_GINT64_FORMAT, key, n, min, max, c);
		n = c;
	}
	*out = n;
}

void
cpf_caps_compute(guint64 features, json_t *settings, cpf_caps *out, char **bad_keys)
{
	GString *bad = g_string_new(NULL);

	out->can_suspend_guests = (features & PRLK_FEAT_SUSPEND) != 0;
	out->can_link_clones = (features & PRLK_FEAT_LINKED_CLONE) &&
	                       (features & PRLK_FEAT_TASK_IDS);
	out->template_method = cpf_template_method_for(features);
	clamp_setting(settings, "guests_polling_rate", 15, 3, 900, &out->guests_polling_rate, bad);
	clamp_setting(settings, "tasks_polling_rate", 3, 1, 60, &out->tasks_polling_rate, bad);
	clamp_setting(settings, "tasks_polling_retries", 180, 0, 180, &out->tasks_polling_retries,
	              bad);
	if (bad_keys)
		*bad_keys = bad->len ? g_string_free(bad, FALSE) : (g_string_free(bad, TRUE), NULL);
	else
		g_string_free(bad, TRUE);
}

json_t *
cpf_caps_to_json(const cpf_caps *caps)
{
	json_t *o = json_object();

	json_object_set_new(o, "can_suspend_guests", json_boolean(caps->can_suspend_guests));
	json_object_set_new(o, "guests_polling_rate", json_integer(caps->guests_polling_rate));
	json_object_set_new(o, "tasks_polling_rate", json_integer(caps->tasks_polling_rate));
	json_object_set_new(o, "tasks_polling_retries", json_integer(caps->tasks_polling_retries));
	json_object_set_new(o, "template_method", json_string(caps->template_method));
	json_object_set_new(o, "can_link_clones", json_boolean(caps->can_link_clones));
	return o;
}

char *
cpf_caps_missing(const cpf_caps *advertised, guint64 features)
{
	GString *s = g_string_new(NULL);

	if (advertised->can_suspend_guests && !(features & PRLK_FEAT_SUSPEND))
		g_string_append(s, "suspend");
	if (advertised->can_link_clones && !(features & PRLK_FEAT_LINKED_CLONE))
		g_string_append_printf(s, "%slinked clones", s->len ? ", " : "");
	if (template_method_rank(advertised->template_method) >
	    template_method_rank(cpf_template_method_for(features)))
		g_string_append_printf(s, "%stemplate method '%s'", s->len ? ", " : "",
		                       advertised->template_method);
	if (s->len == 0) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

/* Fuzz target: connection selection (pk_conn_select in src/core/core-conn.h), the parser
 * behind every PrlSrv_Connect / provider/connect: a URI or driver name, plus settings.
 *
 * Input: the target (URI or driver name), 0xFF, then a settings JSON object (optional).
 * Invariants: no crash or leak; success names at least one driver, which must handle the
 * URI's scheme; a connection made from the result has an identity (it goes into task ids)
 * that is valid UTF-8 without control characters and without the URI's password; a
 * failure's message never shows the URI's password. */
#define _GNU_SOURCE 1   /* memmem */
#include "config.h"

#include <string.h>
#include <prlkit/Parallels.h>
#include "core-conn.h"
#include "core-error.h"
#include "core-registry.h"
#include "util-log.h"
#include "util-settings.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	/* pk_conn_select falls back to the default URI: make it independent of the caller. */
	g_setenv("PRLKIT_DEFAULT_URI", "sim:///nonexistent/prlkit-fuzz?speed=0", TRUE);
	return 0;
}

/* The password of "scheme://user:password@host...", found without GUri; NULL if none. */
static char *
password_of(const char *text)
{
	const char *auth = strstr(text, "://");
	const char *end, *at, *colon;

	if (!auth)
		return NULL;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return NULL;
	colon = memchr(auth, ':', (gsize)(at - auth));
	if (!colon || at - colon - 1 < 4)
		return NULL;
	{
		char *pw = g_strndup(colon + 1, (gsize)(at - colon - 1));
		/* The same text elsewhere in the URI (its path, say) may show. */
		if (strstr(end, pw) || memmem(text, (gsize)(auth - text), pw, strlen(pw))) {
			g_free(pw);
			return NULL;
		}
		return pw;
	}
}

static gboolean
has_control(const char *s)
{
	for (; *s; s++)
		if ((guchar)*s < 0x20 || *s == 0x7f)
			return TRUE;
	return FALSE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = { data, size };
	g_autofree char *target = fuzz_field(&in, 4096);
	g_autofree char *json = fuzz_rest(&in);
	g_autofree char *password = NULL;
	g_autoptr(GHashTable) settings = pk_settings_new();
	g_autoptr(GError) error = NULL;
	g_autofree const pk_driver **drivers = NULL;
	GUri *uri = NULL;
	PRL_UINT64 features = 0;

	if (!target)
		return 0;
	password = password_of(target);
	if (!pk_settings_merge_json(settings, json, NULL))
		g_hash_table_remove_all(settings);
	pk_log_add_secrets_from_settings(settings);
	/* The public entry prlkit-cpf uses, on its own copy of the settings. */
	(void)PrlApi_GetDriverFeatures(target, *json ? json : NULL, &features);

	if (!pk_conn_select(*target ? target : NULL, settings, &drivers, &uri, &error)) {
		FUZZ_CHECK(error != NULL && drivers == NULL && uri == NULL, "failure shape");
		FUZZ_CHECK(error->domain == PK_ERROR, "error domain");
		FUZZ_CHECK(g_utf8_validate(error->message, -1, NULL), "error not UTF-8");
		FUZZ_CHECK(!fuzz_contains(error->message, password), "password in the error: %s",
		           error->message);
		return 0;
	}
	FUZZ_CHECK(drivers != NULL && drivers[0] != NULL, "success without a driver");
	for (guint i = 0; drivers[i]; i++) {
		pk_conn *c;
		const char *id;

		if (uri && !g_hash_table_lookup(settings, "driver") && strchr(target, ':'))
			FUZZ_CHECK(pk_driver_handles_scheme(drivers[i], g_uri_get_scheme(uri)),
			           "driver %s does not handle scheme %s", drivers[i]->name,
			           g_uri_get_scheme(uri));
		(void)pk_driver_features_for(drivers[i], settings);
		c = pk_conn_new(drivers[i], uri, settings);
		id = pk_conn_get_identity(c);
		FUZZ_CHECK(id != NULL && g_utf8_validate(id, -1, NULL), "identity not UTF-8");
		FUZZ_CHECK(!has_control(id), "identity has control characters: %s", id);
		FUZZ_CHECK(!fuzz_contains(id, password), "password in the identity: %s", id);
		pk_conn_unref(c);
	}
	if (uri)
		g_uri_unref(uri);
	return 0;
}

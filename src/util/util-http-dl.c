/* Loads libcurl and OpenSSL on the first HTTP client of the process (util-http-dl.h). */
#include "config.h"

#include <dlfcn.h>
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define PK_HTTP_DL_NO_REDIRECT
#include "core-error.h"
#include "util-http-dl.h"

pk_http_dl_table pk_http_dl;

/* Opens soname for good (libcurl keeps its threads and state); NULL and *why on failure. */
static void *dl_open(const char *soname, char **why)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
	if (lib == NULL)
		*why = g_strdup_printf("cannot load %s: %s", soname, dlerror());
	return lib;
}

#define DL_RESOLVE(name) \
	if (why == NULL && (pk_http_dl.name = (__typeof__(&name))dlsym(lib, #name)) == NULL) \
		why = g_strdup_printf("cannot load %s: missing symbol %s", soname, #name);

static void dl_load_all(char **out_why)
{
	char *why = NULL;
	const char *soname = CURL_SONAME;
	void *lib = dl_open(soname, &why);
	PK_HTTP_DL_CURL_FUNCS(DL_RESOLVE)
	if (why != NULL) {
		*out_why = why;
		return;
	}
	/* OpenSSL only matters (and is only sure to be installed) as libcurl's TLS backend;
	 * libcurl has it loaded already then, so this costs nothing more. */
	const curl_version_info_data *v = pk_http_dl.curl_version_info(CURLVERSION_NOW);
	if (v == NULL || v->ssl_version == NULL || g_ascii_strncasecmp(v->ssl_version, "OpenSSL/", 8) != 0)
		return;
	soname = SSL_SONAME;
	lib = dl_open(soname, &why);
	PK_HTTP_DL_SSL_FUNCS(DL_RESOLVE)
	soname = CRYPTO_SONAME;
	if (why == NULL)
		lib = dl_open(soname, &why);
	PK_HTTP_DL_CRYPTO_FUNCS(DL_RESOLVE)
	pk_http_dl.openssl = why == NULL;
	*out_why = why;
}

#undef DL_RESOLVE

gboolean pk_http_dl_load(GError **error)
{
	static gsize done;
	static char *why;             /* written once under g_once: NULL when loaded */

	if (g_once_init_enter(&done)) {
		dl_load_all(&why);
		g_once_init_leave(&done, 1);
	}
	if (why != NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "HTTP client: %s", why);
		return FALSE;
	}
	return TRUE;
}

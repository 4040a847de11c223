/* libcurl and OpenSSL, loaded on first use: libprlkit does not link them (relocating them
 * costs every process milliseconds at start-up, also those that never speak HTTP), so
 * util-http.c calls them through a table of pointers filled by pk_http_dl_load.
 *
 * Include after <curl/curl.h> (with CURL_DISABLE_TYPECHECK: curl_easy_setopt and
 * curl_easy_getinfo become plain calls through a pointer) and OpenSSL's headers. A function
 * used but missing from the lists fails to link, so they cannot silently fall behind. */
#ifndef PRLKIT_UTIL_HTTP_DL_H
#define PRLKIT_UTIL_HTTP_DL_H

#include <glib.h>

G_BEGIN_DECLS

#define PK_HTTP_DL_CURL_FUNCS(X) \
	X(curl_global_init) \
	X(curl_version_info) \
	X(curl_easy_init) \
	X(curl_easy_cleanup) \
	X(curl_easy_setopt) \
	X(curl_easy_getinfo) \
	X(curl_easy_strerror) \
	X(curl_multi_init) \
	X(curl_multi_cleanup) \
	X(curl_multi_add_handle) \
	X(curl_multi_remove_handle) \
	X(curl_multi_perform) \
	X(curl_multi_poll) \
	X(curl_multi_info_read) \
	X(curl_share_init) \
	X(curl_share_cleanup) \
	X(curl_share_setopt) \
	X(curl_slist_append) \
	X(curl_slist_free_all)

#define PK_HTTP_DL_SSL_FUNCS(X) \
	X(SSL_CTX_set_cert_verify_callback) \
	X(SSL_CTX_set_verify)

#define PK_HTTP_DL_CRYPTO_FUNCS(X) \
	X(EVP_sha256) \
	X(X509_STORE_CTX_get0_cert) \
	X(X509_STORE_CTX_set_error) \
	X(X509_digest) \
	X(X509_verify_cert) \
	X(CRYPTO_memcmp)

/* Written once by pk_http_dl_load (under g_once), read-only afterwards. The OpenSSL
 * pointers are set only when libcurl's TLS backend is OpenSSL. */
typedef struct pk_http_dl_table {
#define PK_HTTP_DL_FIELD(name) __typeof__(&name) name;
	PK_HTTP_DL_CURL_FUNCS(PK_HTTP_DL_FIELD)
	PK_HTTP_DL_SSL_FUNCS(PK_HTTP_DL_FIELD)
	PK_HTTP_DL_CRYPTO_FUNCS(PK_HTTP_DL_FIELD)
#undef PK_HTTP_DL_FIELD
	gboolean openssl;             /* libcurl's TLS backend is OpenSSL, and it is loaded */
} pk_http_dl_table;

extern pk_http_dl_table pk_http_dl;

/* Loads libcurl, and OpenSSL when it is libcurl's TLS backend, once per process; later
 * calls return the first outcome. A missing library or symbol is PRL_ERR_CANT_CONNECT_TO_DISPATCHER. */
gboolean pk_http_dl_load(GError **error);

G_END_DECLS

/* The redirections (curl.h may define some as macros already); util-http-dl.c, which fills
 * the table, goes without them. */
#ifndef PK_HTTP_DL_NO_REDIRECT
#undef curl_global_init
#define curl_global_init (pk_http_dl.curl_global_init)
#undef curl_version_info
#define curl_version_info (pk_http_dl.curl_version_info)
#undef curl_easy_init
#define curl_easy_init (pk_http_dl.curl_easy_init)
#undef curl_easy_cleanup
#define curl_easy_cleanup (pk_http_dl.curl_easy_cleanup)
#undef curl_easy_setopt
#define curl_easy_setopt (pk_http_dl.curl_easy_setopt)
#undef curl_easy_getinfo
#define curl_easy_getinfo (pk_http_dl.curl_easy_getinfo)
#undef curl_easy_strerror
#define curl_easy_strerror (pk_http_dl.curl_easy_strerror)
#undef curl_multi_init
#define curl_multi_init (pk_http_dl.curl_multi_init)
#undef curl_multi_cleanup
#define curl_multi_cleanup (pk_http_dl.curl_multi_cleanup)
#undef curl_multi_add_handle
#define curl_multi_add_handle (pk_http_dl.curl_multi_add_handle)
#undef curl_multi_remove_handle
#define curl_multi_remove_handle (pk_http_dl.curl_multi_remove_handle)
#undef curl_multi_perform
#define curl_multi_perform (pk_http_dl.curl_multi_perform)
#undef curl_multi_poll
#define curl_multi_poll (pk_http_dl.curl_multi_poll)
#undef curl_multi_info_read
#define curl_multi_info_read (pk_http_dl.curl_multi_info_read)
#undef curl_share_init
#define curl_share_init (pk_http_dl.curl_share_init)
#undef curl_share_cleanup
#define curl_share_cleanup (pk_http_dl.curl_share_cleanup)
#undef curl_share_setopt
#define curl_share_setopt (pk_http_dl.curl_share_setopt)
#undef curl_slist_append
#define curl_slist_append (pk_http_dl.curl_slist_append)
#undef curl_slist_free_all
#define curl_slist_free_all (pk_http_dl.curl_slist_free_all)
#undef SSL_CTX_set_cert_verify_callback
#define SSL_CTX_set_cert_verify_callback (pk_http_dl.SSL_CTX_set_cert_verify_callback)
#undef SSL_CTX_set_verify
#define SSL_CTX_set_verify (pk_http_dl.SSL_CTX_set_verify)
#undef EVP_sha256
#define EVP_sha256 (pk_http_dl.EVP_sha256)
#undef X509_STORE_CTX_get0_cert
#define X509_STORE_CTX_get0_cert (pk_http_dl.X509_STORE_CTX_get0_cert)
#undef X509_STORE_CTX_set_error
#define X509_STORE_CTX_set_error (pk_http_dl.X509_STORE_CTX_set_error)
#undef X509_digest
#define X509_digest (pk_http_dl.X509_digest)
#undef X509_verify_cert
#define X509_verify_cert (pk_http_dl.X509_verify_cert)
#undef CRYPTO_memcmp
#define CRYPTO_memcmp (pk_http_dl.CRYPTO_memcmp)
#endif

#endif

/* HTTP(S) client for drivers that talk to a platform's REST API. The only code in prlkit
 * that includes curl.h (DESIGN.md §9).
 *
 * One pk_http serves one platform endpoint (a base URL) for the life of a connection:
 * - connections are kept alive and reused: each of at most max_parallel transfer slots keeps
 *   its own connection, and an idle slot is reused most-recent-first, so sequential callers
 *   share ONE connection; TLS sessions and DNS answers are shared between slots;
 * - at most max_parallel requests run at once (callers beyond wait for a slot);
 * - every request has a connect timeout and a total deadline that includes its retries;
 * - only requests flagged PK_HTTP_IDEMPOTENT are retried, with exponential backoff, after a
 *   transport failure or a 502/503/504 answer;
 * - a GCancellable aborts a request at once (its fd is polled alongside the sockets; curl's
 *   progress callback checks it too);
 * - TLS is verified against the system CAs by default. Opt-ins: ca_file (trust these CAs
 *   instead), tls_fingerprint (trust exactly the server certificate with this SHA-256,
 *   whatever signed it and whatever name it carries), insecure_skip_verify (no check at
 *   all; a warning is logged).
 * - HTTP/1.1 is used on purpose: some platforms (Proxmox VE) put their error message in the
 *   reason phrase, which HTTP/2 does not carry.
 *
 * Fingerprint pinning is checked inside the TLS handshake (an OpenSSL certificate-verify
 * callback installed through CURLOPT_SSL_CTX_FUNCTION), so a wrong server never receives a
 * request, let alone a credential. CURLOPT_PINNEDPUBLICKEY is not used because it pins the
 * public key, not the certificate fingerprint users copy from the platform's UI.
 *
 * Status codes are turned into PRL_RESULTs in one place, pk_http_status_error. Secrets
 * passed in headers or bodies are never logged. */
#ifndef PRLKIT_UTIL_HTTP_H
#define PRLKIT_UTIL_HTTP_H

#include <glib.h>
#include <gio/gio.h>
#include "prlkit/PrlErrors.h"

G_BEGIN_DECLS

typedef struct pk_http pk_http;

typedef struct pk_http_options {
	const char *base_url;           /* "https://host:8006"; paths are appended to it */
	const char *ca_file;            /* PEM file of CAs to trust instead of the system's */
	const char *tls_fingerprint;    /* SHA-256 of the server certificate, hex, ':' optional */
	gboolean insecure_skip_verify;  /* no TLS verification at all (logged as a warning) */
	guint connect_timeout_ms;       /* per connection attempt; 0 → 10 s */
	guint timeout_ms;               /* whole request including retries; 0 → 30 s */
	guint max_parallel;             /* concurrent requests and connections; 0 → 4 */
	gint max_retries;               /* for idempotent requests; < 0 → 2 */
	const char *user_agent;         /* NULL → "prlkit/VERSION" */
} pk_http_options;

/* Request flags */
#define PK_HTTP_IDEMPOTENT (1u << 0)   /* may be sent again after a failure (GET) */
#define PK_HTTP_VM         (1u << 1)   /* the path names a VM: 404 → PRL_ERR_VM_UUID_NOT_FOUND */

typedef struct pk_http_request {
	const char *method;             /* "GET", "POST", "PUT", "DELETE" */
	const char *path;               /* appended to base_url, already percent-encoded */
	const char *const *headers;     /* "Name: value", NULL-terminated; never logged */
	const char *content_type;       /* of body; NULL → none */
	const char *body;               /* NULL → no body */
	gsize body_len;
	guint flags;                    /* PK_HTTP_* */
} pk_http_request;

typedef struct pk_http_response {
	guint status;                   /* 100..599 */
	char *reason;                   /* the reason phrase, "" when the server sent none */
	char *body;                     /* NUL-terminated (binary-safe with body_len) */
	gsize body_len;
} pk_http_response;

typedef struct pk_http_stats {
	guint64 requests;               /* attempts sent, retries included */
	guint64 connects;               /* new connections opened */
	guint64 retries;
} pk_http_stats;

/* Validates the options (base URL, fingerprint syntax, ca_file readable); no network. */
pk_http *pk_http_new(const pk_http_options *opts, GError **error);
/* Waits for nothing: the caller guarantees no request is in flight. */
void pk_http_free(pk_http *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pk_http, pk_http_free)

/* Sends a request. TRUE with *out set whenever an HTTP answer arrived, whatever its status
 * (use pk_http_status_error for non-2xx); FALSE with a PK_ERROR on transport failure:
 * refused/unresolvable → PRL_ERR_CANT_CONNECT_TO_DISPATCHER, deadline passed →
 * PRL_ERR_IO_CONNECTION_TIMEOUT, certificate not trusted →
 * PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL, connection lost → PRL_ERR_IO_NO_CONNECTION,
 * cancelled → PRL_ERR_OPERATION_WAS_CANCELED. */
gboolean pk_http_send(pk_http *http, const pk_http_request *req, pk_http_response **out,
                      GCancellable *cancel, GError **error);
void pk_http_response_free(pk_http_response *resp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(pk_http_response, pk_http_response_free)

/* The PRL_RESULT of an HTTP status (PRL_ERR_SUCCESS for 2xx): 400 → INVALID_PARAM,
 * 401 → AUTHENTICATION_FAILED, 403 → ACCESS_DENIED, 404 → VM_UUID_NOT_FOUND with
 * PK_HTTP_VM else OBJECT_NOT_FOUND, 408/504/596 → IO_CONNECTION_TIMEOUT,
 * 502/503/595 → CANT_CONNECT_TO_DISPATCHER, any other → OPERATION_FAILED. */
PRL_RESULT pk_http_status_result(guint status, guint flags);
/* Sets *error to that code with message (the platform's words, redacted), or
 * "HTTP <status>" when message is NULL or blank. Returns FALSE (for `return ...;`). */
gboolean pk_http_status_error(guint status, guint flags, const char *message, GError **error);

void pk_http_get_stats(pk_http *http, pk_http_stats *out);
const char *pk_http_get_base_url(pk_http *http);

/* "https://host:port" from "host", "host:port", "https://host[:port][/]" or "[v6]:port";
 * default_port when none is given. Plain http:// and anything with a path, user info,
 * query or fragment are refused (naming setting_name). */
char *pk_http_base_url_from_host(const char *host, guint default_port, const char *setting_name,
                                 GError **error);
/* Parses 64 hex digits, with or without ':' (or spaces) between bytes. */
gboolean pk_http_parse_fingerprint(const char *text, guint8 out[32], GError **error);
/* Percent-encodes everything but unreserved characters (RFC 3986). */
char *pk_http_escape(const char *s);
/* Appends "key=value" (both escaped) to an application/x-www-form-urlencoded string. */
void pk_http_form_add(GString *form, const char *key, const char *value);
void pk_http_form_add_int(GString *form, const char *key, gint64 value);

G_END_DECLS
#endif

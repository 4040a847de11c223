/* HTTP(S) client over libcurl (see util-http.h for the contract). */
#include "config.h"

#include <string.h>
#define CURL_DISABLE_TYPECHECK        /* curl_easy_setopt is called through a pointer */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "core-error.h"
#include "util-http.h"
#include "util-http-dl.h"
#include "util-log.h"
#include "util-time.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_TIMEOUT_MS         30000
#define HTTP_DEFAULT_MAX_PARALLEL       4
#define HTTP_DEFAULT_MAX_RETRIES        2
#define HTTP_MAX_BODY                   (64u << 20)   /* refuse answers larger than this */
#define HTTP_BACKOFF_FIRST_MS           100
#define HTTP_BACKOFF_MAX_MS             2000

/* One transfer slot: an easy handle and the multi handle that drives it (and keeps its
 * connection cache, so the connection outlives the transfer). Used by one thread at a time:
 * the one that took it from the pool. */
typedef struct http_slot {
	pk_http *http;                  /* immutable */
	CURL *easy;                     /* slot owner only */
	CURLM *multi;                   /* slot owner only */
	char errbuf[CURL_ERROR_SIZE];   /* slot owner only */
	/* Set by the TLS verify callback during a handshake (runs in the owner's thread). */
	gboolean cert_rejected;         /* slot owner only */
	char cert_fp[32 * 3];           /* slot owner only: "AB:CD:..." of the refused cert */
} http_slot;

struct pk_http {
	char *base_url;                 /* immutable */
	char *label;                    /* immutable: host:port for messages */
	char *ca_file;                  /* immutable */
	char *user_agent;               /* immutable */
	gboolean pinned;                /* immutable */
	guint8 pin[32];                 /* immutable */
	gboolean insecure;              /* immutable */
	gboolean openssl;               /* immutable: libcurl's TLS backend is OpenSSL */
	guint connect_timeout_ms;       /* immutable */
	guint timeout_ms;               /* immutable */
	guint max_parallel;             /* immutable */
	guint max_retries;              /* immutable */

	CURLSH *share;                  /* DNS + TLS sessions; locked through share_locks */
	GMutex share_locks[CURL_LOCK_DATA_LAST];

	GMutex lock;
	GCond slot_freed;               /* signalled (under lock) when in_use drops */
	GQueue idle;                    /* lock: http_slot*, most recently used first */
	guint in_use;                   /* lock */
	pk_http_stats stats;            /* lock */
};

/* ---------- global init ---------- */

static gboolean http_global_init(GError **error)
{
	static gsize once;
	static CURLcode rc;

	if (!pk_http_dl_load(error))
		return FALSE;
	if (g_once_init_enter(&once)) {
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&once, 1);
	}
	if (rc != CURLE_OK) {
		g_set_error(error, PK_ERROR, PRL_ERR_UNEXPECTED, "libcurl initialization failed: %s",
		            curl_easy_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

static gboolean http_backend_is_openssl(void)
{
	return pk_http_dl.openssl;
}

/* ---------- helpers: URL, fingerprint, escaping ---------- */

static void fp_to_text(const guint8 *md, char out[32 * 3])
{
	for (int i = 0; i < 32; i++)
		g_snprintf(out + 3 * i, 4, "%02X%s", md[i], i < 31 ? ":" : "");
}

gboolean pk_http_parse_fingerprint(const char *text, guint8 out[32], GError **error)
{
	if (text == NULL)
		text = "";
	const char *p = text;
	while (g_ascii_isspace(*p))
		p++;
	/* Accept what `openssl x509 -fingerprint -sha256` and some UIs print in front. */
	static const char *const prefixes[] = { "sha256 fingerprint=", "sha256:", "sha256=", NULL };
	for (int i = 0; prefixes[i] != NULL; i++)
		if (g_ascii_strncasecmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
			p += strlen(prefixes[i]);
			break;
		}
	int n = 0;
	for (; *p != '\0'; p++) {
		if (*p == ':' || *p == '-' || g_ascii_isspace(*p))
			continue;
		if (!g_ascii_isxdigit(*p) || n >= 64) {
			n = -1;
			break;
		}
		int v = g_ascii_xdigit_value(*p);
		if (n % 2 == 0)
			out[n / 2] = (guint8)(v << 4);
		else
			out[n / 2] |= (guint8)v;
		n++;
	}
	if (n != 64) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "invalid setting 'tls_fingerprint': expected the SHA-256 fingerprint of the "
		            "server certificate (64 hex digits, colons optional)");
		return FALSE;
	}
	return TRUE;
}

char *pk_http_escape(const char *s)
{
	return g_uri_escape_string(s != NULL ? s : "", NULL, FALSE);
}

void pk_http_form_add(GString *form, const char *key, const char *value)
{
	g_autofree char *k = pk_http_escape(key);
	g_autofree char *v = pk_http_escape(value);
	g_string_append_printf(form, "%s%s=%s", form->len > 0 ? "&" : "", k, v);
}

void pk_http_form_add_int(GString *form, const char *key, gint64 value)
{
	char buf[32];
	g_snprintf(buf, sizeof buf, "%" G_GINT64_FORMAT, value);
	pk_http_form_add(form, key, buf);
}

char *pk_http_base_url_from_host(const char *host, guint default_port, const char *setting_name,
                                 GError **error)
{
	const char *key = setting_name != NULL ? setting_name : "host";
	g_autofree char *t = g_strstrip(g_strdup(host != NULL ? host : ""));
	g_autofree char *with_scheme = NULL;

	if (*t == '\0') {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "missing required setting '%s'", key);
		return NULL;
	}
	if (strstr(t, "://") != NULL) {
		if (g_ascii_strncasecmp(t, "https://", 8) != 0) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "invalid setting '%s': only https:// is supported", key);
			return NULL;
		}
		with_scheme = g_strdup(t);
	} else if (strchr(t, ':') != strrchr(t, ':') && t[0] != '[') {
		/* A bare IPv6 address: bracket it so the port is not confused with it. */
		with_scheme = g_strdup_printf("https://[%s]", t);
	} else {
		with_scheme = g_strdup_printf("https://%s", t);
	}

	g_autoptr(GError) perr = NULL;
	g_autoptr(GUri) uri = g_uri_parse(with_scheme, G_URI_FLAGS_NONE, &perr);
	if (uri == NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "invalid setting '%s': not a host name, host:port or https URL", key);
		return NULL;
	}
	const char *h = g_uri_get_host(uri);
	const char *path = g_uri_get_path(uri);
	if (h == NULL || *h == '\0' || g_uri_get_userinfo(uri) != NULL ||
	    g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL ||
	    (path != NULL && *path != '\0' && strcmp(path, "/") != 0)) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "invalid setting '%s': expected host, host:port or https://host:port "
		            "without user, path or query", key);
		return NULL;
	}
	int port = g_uri_get_port(uri);
	if (port <= 0)
		port = (int)default_port;
	if (port <= 0 || port > 65535) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "invalid setting '%s': bad port", key);
		return NULL;
	}
	gboolean v6 = strchr(h, ':') != NULL;
	return g_strdup_printf("https://%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "", port);
}

/* ---------- status mapping (the one place) ---------- */

PRL_RESULT pk_http_status_result(guint status, guint flags)
{
	if (status >= 200 && status < 300)
		return PRL_ERR_SUCCESS;
	switch (status) {
	case 400:
		return PRL_ERR_INVALID_PARAM;
	case 401:
		return PRL_ERR_AUTHENTICATION_FAILED;
	case 403:
		return PRL_ERR_ACCESS_DENIED;
	case 404:
		return (flags & PK_HTTP_VM) ? PRL_ERR_VM_UUID_NOT_FOUND : PRL_ERR_OBJECT_NOT_FOUND;
	case 408:
	case 504:
	case 596:   /* Proxmox: timeout while proxying to another node */
		return PRL_ERR_IO_CONNECTION_TIMEOUT;
	case 502:
	case 503:
	case 595:   /* Proxmox: no connection to the node that holds the resource */
		return PRL_ERR_CANT_CONNECT_TO_DISPATCHER;
	default:
		return PRL_ERR_OPERATION_FAILED;
	}
}

gboolean pk_http_status_error(guint status, guint flags, const char *message, GError **error)
{
	PRL_RESULT code = pk_http_status_result(status, flags);
	if (code == PRL_ERR_SUCCESS)
		code = PRL_ERR_OPERATION_FAILED;   /* a caller-detected failure inside a 2xx */
	g_autofree char *m = NULL;
	if (message != NULL) {
		m = g_strstrip(g_strdup(message));
		if (*m == '\0')
			g_clear_pointer(&m, g_free);
	}
	if (m == NULL)
		m = g_strdup_printf("HTTP %u", status);
	g_autofree char *red = pk_redact(m);
	g_set_error_literal(error, PK_ERROR, code, red);
	return FALSE;
}

/* ---------- TLS: fingerprint pinning and better messages (OpenSSL only) ---------- */

static int http_cert_verify(X509_STORE_CTX *store, void *arg)
{
	http_slot *slot = arg;
	pk_http *http = slot->http;
	X509 *cert = X509_STORE_CTX_get0_cert(store);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	gboolean have_fp = cert != NULL && X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32;

	if (http->pinned) {
		/* The pin replaces chain and name checks: exactly this certificate is trusted. */
		if (have_fp && CRYPTO_memcmp(md, http->pin, 32) == 0) {
			X509_STORE_CTX_set_error(store, X509_V_OK);
			return 1;
		}
		slot->cert_rejected = TRUE;
		if (have_fp)
			fp_to_text(md, slot->cert_fp);
		X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	/* What OpenSSL does without a callback; we only remember the fingerprint on failure so
	 * the error can tell the user what to pin. */
	int ok = X509_verify_cert(store);
	if (ok <= 0 && have_fp) {
		slot->cert_rejected = TRUE;
		fp_to_text(md, slot->cert_fp);
	}
	return ok;
}

static CURLcode http_ssl_ctx(CURL *easy, void *ssl_ctx, void *arg)
{
	http_slot *slot = arg;
	SSL_CTX *ctx = ssl_ctx;
	if (slot->http->pinned)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, http_cert_verify, slot);
	return CURLE_OK;
}

/* ---------- share locks ---------- */

static void http_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
	pk_http *http = user;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		g_mutex_lock(&http->share_locks[data]);
}

static void http_share_unlock(CURL *h, curl_lock_data data, void *user)
{
	pk_http *http = user;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		g_mutex_unlock(&http->share_locks[data]);
}

/* ---------- slots ---------- */

static void http_slot_free(http_slot *slot)
{
	if (slot == NULL)
		return;
	if (slot->easy != NULL)
		curl_easy_cleanup(slot->easy);
	if (slot->multi != NULL)
		curl_multi_cleanup(slot->multi);
	g_free(slot);
}

static http_slot *http_slot_new(pk_http *http, GError **error)
{
	http_slot *slot = g_new0(http_slot, 1);
	slot->http = http;
	slot->easy = curl_easy_init();
	slot->multi = curl_multi_init();
	if (slot->easy == NULL || slot->multi == NULL) {
		http_slot_free(slot);
		g_set_error(error, PK_ERROR, PRL_ERR_OUT_OF_MEMORY, "cannot create an HTTP handle");
		return NULL;
	}
	CURL *e = slot->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_SHARE, http->share);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, slot->errbuf);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, http->user_agent);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "https,http");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	if (http->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		/* A pinned certificate is trusted whatever name it carries (hosts are often
		 * reached by IP while the certificate names the node). */
		SET(CURLOPT_SSL_VERIFYHOST, http->pinned ? 0L : 2L);
		if (http->ca_file != NULL) {
			SET(CURLOPT_CAINFO, http->ca_file);
		} else if (http->pinned) {
			/* The pin replaces the CA store: do not load the system bundle at all. */
			SET(CURLOPT_CAINFO, NULL);
			SET(CURLOPT_CAPATH, NULL);
		}
	}
	if (rc == CURLE_OK && http->openssl && !http->insecure) {
		CURLcode r2 = curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx);
		if (r2 == CURLE_OK)
			r2 = curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, slot);
		if (r2 != CURLE_OK && http->pinned)
			rc = r2;
	}
#undef SET
	if (rc != CURLE_OK) {
		g_set_error(error, PK_ERROR, PRL_ERR_UNEXPECTED, "cannot configure libcurl: %s",
		            curl_easy_strerror(rc));
		http_slot_free(slot);
		return NULL;
	}
	return slot;
}

/* Waits for a free slot until the deadline (monotonic µs). */
static http_slot *http_slot_take(pk_http *http, gint64 deadline, GCancellable *cancel,
                                 GError **error)
{
	g_mutex_lock(&http->lock);
	while (http->in_use >= http->max_parallel) {
		if (g_cancellable_is_cancelled(cancel)) {
			g_mutex_unlock(&http->lock);
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
			return NULL;
		}
		gint64 now = g_get_monotonic_time();
		if (now >= deadline) {
			g_mutex_unlock(&http->lock);
			g_set_error(error, PK_ERROR, PRL_ERR_IO_CONNECTION_TIMEOUT,
			            "no free connection to %s within %u ms", http->label, http->timeout_ms);
			return NULL;
		}
		/* Short waits so cancellation is noticed without a wakeup hook. */
		g_cond_wait_until(&http->slot_freed, &http->lock, MIN(deadline, now + 50000));
	}
	http->in_use++;
	http_slot *slot = g_queue_pop_head(&http->idle);
	g_mutex_unlock(&http->lock);

	if (slot == NULL) {
		slot = http_slot_new(http, error);
		if (slot == NULL) {
			g_mutex_lock(&http->lock);
			http->in_use--;
			g_cond_signal(&http->slot_freed);
			g_mutex_unlock(&http->lock);
		}
	}
	return slot;
}

static void http_slot_give_back(pk_http *http, http_slot *slot)
{
	g_mutex_lock(&http->lock);
	g_queue_push_head(&http->idle, slot);
	http->in_use--;
	g_cond_signal(&http->slot_freed);
	g_mutex_unlock(&http->lock);
}

/* ---------- one transfer ---------- */

typedef struct {
	GByteArray *body;
	GString *reason;
	guint status;
	gboolean too_large;
} http_capture;

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *user)
{
	http_capture *cap = user;
	size_t n = size * nmemb;
	if (cap->body->len + n > HTTP_MAX_BODY) {
		cap->too_large = TRUE;
		return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
	}
	g_byte_array_append(cap->body, (const guint8 *)data, (guint)n);
	return n;
}

static size_t http_on_header(char *data, size_t size, size_t nmemb, void *user)
{
	http_capture *cap = user;
	size_t n = size * nmemb;
	/* "HTTP/1.1 500 Configuration file ... does not exist\r\n": keep status and reason. */
	if (n >= 12 && memcmp(data, "HTTP/", 5) == 0) {
		const char *p = memchr(data, ' ', n);
		const char *end = data + n;
		if (p != NULL) {
			p++;
			guint st = 0;
			int digits = 0;
			while (p < end && g_ascii_isdigit(*p) && digits < 3) {
				st = st * 10 + (guint)(*p - '0');
				p++;
				digits++;
			}
			if (p < end && *p == ' ')
				p++;
			const char *r_end = end;
			while (r_end > p && (r_end[-1] == '\r' || r_end[-1] == '\n'))
				r_end--;
			cap->status = st;
			g_string_truncate(cap->reason, 0);
			g_string_append_len(cap->reason, p, r_end - p);
			/* A new status line starts a new answer (e.g. after a 1xx). */
			g_byte_array_set_size(cap->body, 0);
		}
	}
	return n;
}

/* Belt and braces next to the cancellable's fd in the poll loop (which wakes at once):
 * a cancelled transfer also stops at curl's next progress report. */
static int http_on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
	return g_cancellable_is_cancelled(user) ? 1 : 0;
}

static gboolean http_transport_retryable(CURLcode rc, const http_slot *slot)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_BAD_CONTENT_ENCODING:
		return TRUE;
	case CURLE_SSL_CONNECT_ERROR:
		return !slot->cert_rejected;
	default:
		return FALSE;
	}
}

/* budget_ms: what the attempt was given; took_ms: what it took. */
static void http_transport_error(pk_http *http, http_slot *slot, CURLcode rc, guint budget_ms,
                                 guint took_ms, GError **error)
{
	const char *detail = slot->errbuf[0] != '\0' ? slot->errbuf : curl_easy_strerror(rc);
	g_autofree char *msg = NULL;
	PRL_RESULT code;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		code = PRL_ERR_CANT_CONNECT_TO_DISPATCHER;
		msg = g_strdup_printf("cannot connect to %s: %s", http->label, detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		code = PRL_ERR_IO_CONNECTION_TIMEOUT;
		/* Say which bound ran out. Ending well before the attempt's budget means the
		 * connect timeout (TCP and TLS) did; curl's message may then describe a reused
		 * connection that failed first, so it is left out. */
		if (http->connect_timeout_ms < budget_ms && took_ms + 100 < budget_ms)
			msg = g_strdup_printf("cannot connect to %s within %u ms", http->label,
			                      http->connect_timeout_ms);
		else
			msg = g_strdup_printf("no answer from %s within %u ms (%s)", http->label,
			                      http->timeout_ms, detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CONNECT_ERROR:
		if (rc == CURLE_SSL_CONNECT_ERROR && !slot->cert_rejected) {
			code = PRL_ERR_CANT_CONNECT_TO_DISPATCHER;
			msg = g_strdup_printf("TLS handshake with %s failed: %s", http->label, detail);
			break;
		}
		code = PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL;
		if (http->pinned && slot->cert_fp[0] != '\0') {
			char want[32 * 3];
			fp_to_text(http->pin, want);
			msg = g_strdup_printf("TLS certificate of %s has SHA-256 fingerprint %s, not the "
			                      "pinned %s (tls_fingerprint): refusing to talk to it",
			                      http->label, slot->cert_fp, want);
		} else if (slot->cert_fp[0] != '\0') {
			msg = g_strdup_printf("TLS certificate of %s is not trusted (%s); its SHA-256 "
			                      "fingerprint is %s: set ca_file to the CA that signed it, "
			                      "or tls_fingerprint to this value once you have checked it "
			                      "on the server", http->label, detail, slot->cert_fp);
		} else {
			msg = g_strdup_printf("TLS certificate of %s is not trusted (%s): set ca_file "
			                      "or tls_fingerprint", http->label, detail);
		}
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		code = PRL_ERR_IO_NO_CONNECTION;
		msg = g_strdup_printf("connection to %s lost: %s", http->label, detail);
		break;
	case CURLE_WRITE_ERROR:
		code = PRL_ERR_OPERATION_FAILED;
		msg = g_strdup_printf("answer from %s is larger than %u MiB", http->label,
		                      HTTP_MAX_BODY >> 20);
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		code = PRL_ERR_OPERATION_WAS_CANCELED;
		msg = g_strdup("operation cancelled");
		break;
	default:
		code = PRL_ERR_OPERATION_FAILED;
		msg = g_strdup_printf("request to %s failed: %s", http->label, detail);
		break;
	}
	g_autofree char *red = pk_redact(msg);
	g_set_error_literal(error, PK_ERROR, code, red);
}

typedef enum { ATTEMPT_ANSWER, ATTEMPT_TRANSPORT_ERROR, ATTEMPT_CANCELLED } attempt_outcome;

static attempt_outcome http_attempt(pk_http *http, http_slot *slot, const pk_http_request *req,
                                    const char *url, struct curl_slist *headers, guint budget_ms,
                                    http_capture *cap, CURLcode *rc_out, GCancellable *cancel)
{
	CURL *e = slot->easy;
	const char *m = req->method != NULL ? req->method : "GET";

	slot->errbuf[0] = '\0';
	slot->cert_rejected = FALSE;
	slot->cert_fp[0] = '\0';
	g_byte_array_set_size(cap->body, 0);
	g_string_truncate(cap->reason, 0);
	cap->status = 0;
	cap->too_large = FALSE;

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, cap);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, cap);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, cancel != NULL ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, http_on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, cancel);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)budget_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(budget_ms, http->connect_timeout_ms));
	if (req->body != NULL || g_ascii_strcasecmp(m, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body != NULL ? req->body_len : 0));
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		                 g_ascii_strcasecmp(m, "POST") == 0 ? NULL : m);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		                 g_ascii_strcasecmp(m, "GET") == 0 ? NULL : m);
	}

	int cancel_fd = cancel != NULL ? g_cancellable_get_fd(cancel) : -1;
	gboolean cancelled = FALSE;
	CURLcode rc = CURLE_OK;
	CURLMcode mc = curl_multi_add_handle(slot->multi, e);

	if (mc != CURLM_OK) {
		rc = CURLE_FAILED_INIT;
	} else {
		for (;;) {
			int running = 0;
			mc = curl_multi_perform(slot->multi, &running);
			if (mc != CURLM_OK) {
				rc = CURLE_FAILED_INIT;
				break;
			}
			if (running == 0) {
				int queued = 0;
				CURLMsg *msg;
				while ((msg = curl_multi_info_read(slot->multi, &queued)) != NULL)
					if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
						rc = msg->data.result;
				break;
			}
			if (g_cancellable_is_cancelled(cancel)) {
				cancelled = TRUE;
				break;
			}
			struct curl_waitfd wfd = { .fd = cancel_fd, .events = CURL_WAIT_POLLIN };
			mc = curl_multi_poll(slot->multi, cancel_fd >= 0 ? &wfd : NULL,
			                     cancel_fd >= 0 ? 1 : 0, cancel != NULL && cancel_fd < 0 ? 50 : 1000,
			                     NULL);
			if (mc != CURLM_OK) {
				rc = CURLE_FAILED_INIT;
				break;
			}
		}
		/* Removing an unfinished transfer closes its connection; a finished one stays in
		 * the multi's cache for the next request. */
		curl_multi_remove_handle(slot->multi, e);
	}
	if (cancel_fd >= 0)
		g_cancellable_release_fd(cancel);
	/* The pointers set above die with this call. */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, NULL);

	long connects = 0;
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	g_mutex_lock(&http->lock);
	http->stats.requests++;
	http->stats.connects += (guint64)MAX(connects, 0);
	g_mutex_unlock(&http->lock);

	*rc_out = rc;
	if (cancelled || rc == CURLE_ABORTED_BY_CALLBACK)
		return ATTEMPT_CANCELLED;
	if (rc == CURLE_WRITE_ERROR && !cap->too_large)
		rc = *rc_out = CURLE_RECV_ERROR;
	if (rc != CURLE_OK || cap->status == 0) {
		if (rc == CURLE_OK)
			*rc_out = CURLE_GOT_NOTHING;
		return ATTEMPT_TRANSPORT_ERROR;
	}
	return ATTEMPT_ANSWER;
}

gboolean pk_http_send(pk_http *http, const pk_http_request *req, pk_http_response **out,
                      GCancellable *cancel, GError **error)
{
	g_return_val_if_fail(http != NULL && req != NULL && req->path != NULL && out != NULL, FALSE);
	*out = NULL;

	const char *method = req->method != NULL ? req->method : "GET";
	gboolean idempotent = (req->flags & PK_HTTP_IDEMPOTENT) != 0;
	g_autofree char *url = g_strconcat(http->base_url, req->path, NULL);
	gint64 start = g_get_monotonic_time();
	gint64 deadline = start + (gint64)http->timeout_ms * 1000;

	struct curl_slist *headers = NULL;
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
		headers = curl_slist_append(headers, *h);
	headers = curl_slist_append(headers, "Expect:");
	if (req->content_type != NULL) {
		g_autofree char *ct = g_strdup_printf("Content-Type: %s", req->content_type);
		headers = curl_slist_append(headers, ct);
	}

	http_capture cap = { .body = g_byte_array_new(), .reason = g_string_new(NULL) };
	gboolean ok = FALSE;

	for (guint attempt = 0;; attempt++) {
		if (g_cancellable_is_cancelled(cancel)) {
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
			break;
		}
		gint64 now = g_get_monotonic_time();
		if (now >= deadline) {
			g_set_error(error, PK_ERROR, PRL_ERR_IO_CONNECTION_TIMEOUT,
			            "no answer from %s within %u ms", http->label, http->timeout_ms);
			break;
		}
		guint budget_ms = (guint)MAX((deadline - now) / 1000, 1);

		http_slot *slot = http_slot_take(http, deadline, cancel, error);
		if (slot == NULL)
			break;
		CURLcode rc = CURLE_OK;
		attempt_outcome res = http_attempt(http, slot, req, url, headers, budget_ms, &cap, &rc,
		                                   cancel);
		guint took_ms = (guint)((g_get_monotonic_time() - now) / 1000);
		gboolean retry_transport = res == ATTEMPT_TRANSPORT_ERROR &&
		                           http_transport_retryable(rc, slot);
		if (res == ATTEMPT_TRANSPORT_ERROR && (!idempotent || !retry_transport ||
		                                       attempt >= http->max_retries))
			http_transport_error(http, slot, rc, budget_ms, took_ms, error);
		http_slot_give_back(http, slot);

		if (res == ATTEMPT_CANCELLED) {
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
			break;
		}
		gboolean retry_status = res == ATTEMPT_ANSWER &&
		                        (cap.status == 502 || cap.status == 503 || cap.status == 504);
		if (res == ATTEMPT_ANSWER && !(retry_status && idempotent && attempt < http->max_retries)) {
			ok = TRUE;
			break;
		}
		if (res == ATTEMPT_TRANSPORT_ERROR && (!idempotent || !retry_transport ||
		                                       attempt >= http->max_retries))
			break;

		/* Back off (exponential, with jitter), within the deadline. */
		guint backoff = MIN(HTTP_BACKOFF_FIRST_MS << MIN(attempt, 8), HTTP_BACKOFF_MAX_MS);
		backoff = backoff / 2 + (guint)g_random_int_range(0, (gint32)backoff / 2 + 1);
		gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
		if (left_ms <= (gint64)backoff) {
			/* No time left for another try: report what we have. */
			if (res == ATTEMPT_ANSWER) {
				ok = TRUE;
			} else {
				g_set_error(error, PK_ERROR, PRL_ERR_IO_CONNECTION_TIMEOUT,
				            "no usable answer from %s within %u ms (%s)", http->label,
				            http->timeout_ms, curl_easy_strerror(rc));
			}
			break;
		}
		PK_DEBUG("HTTP %s %s: attempt %u failed (%s), retrying in %u ms", method, req->path,
		         attempt + 1, res == ATTEMPT_ANSWER ? "server busy" : curl_easy_strerror(rc),
		         backoff);
		g_mutex_lock(&http->lock);
		http->stats.retries++;
		g_mutex_unlock(&http->lock);
		if (!pk_time_sleep_ms(backoff, cancel)) {
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
			break;
		}
	}
	curl_slist_free_all(headers);

	if (ok) {
		pk_http_response *resp = g_new0(pk_http_response, 1);
		resp->status = cap.status;
		resp->reason = g_string_free(cap.reason, FALSE);
		resp->body_len = cap.body->len;
		g_byte_array_append(cap.body, (const guint8 *)"", 1);
		resp->body = (char *)g_byte_array_free(cap.body, FALSE);
		*out = resp;
		PK_DEBUG("HTTP %s %s -> %u (%.1f ms)", method, req->path, resp->status,
		         (g_get_monotonic_time() - start) / 1000.0);
	} else {
		g_byte_array_free(cap.body, TRUE);
		g_string_free(cap.reason, TRUE);
		PK_DEBUG("HTTP %s %s failed (%.1f ms)", method, req->path,
		         (g_get_monotonic_time() - start) / 1000.0);
	}
	return ok;
}

void pk_http_response_free(pk_http_response *resp)
{
	if (resp == NULL)
		return;
	g_free(resp->reason);
	g_free(resp->body);
	g_free(resp);
}

/* ---------- life cycle ---------- */

pk_http *pk_http_new(const pk_http_options *opts, GError **error)
{
	g_return_val_if_fail(opts != NULL, NULL);
	if (!http_global_init(error))
		return NULL;

	if (opts->base_url == NULL || (g_ascii_strncasecmp(opts->base_url, "https://", 8) != 0 &&
	                               g_ascii_strncasecmp(opts->base_url, "http://", 7) != 0)) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "invalid base URL");
		return NULL;
	}
	guint8 pin[32];
	gboolean pinned = opts->tls_fingerprint != NULL && *opts->tls_fingerprint != '\0';
	if (pinned && !pk_http_parse_fingerprint(opts->tls_fingerprint, pin, error))
		return NULL;
	gboolean openssl = http_backend_is_openssl();
	if (pinned && !openssl) {
		const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "setting 'tls_fingerprint' needs libcurl built with OpenSSL (this one uses "
		            "%s); use ca_file instead", v && v->ssl_version ? v->ssl_version : "no TLS");
		return NULL;
	}
	if (opts->ca_file != NULL && *opts->ca_file != '\0' &&
	    !g_file_test(opts->ca_file, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "invalid setting 'ca_file': '%s' is not a readable file", opts->ca_file);
		return NULL;
	}

	pk_http *http = g_new0(pk_http, 1);
	http->base_url = g_strdup(opts->base_url);
	while (g_str_has_suffix(http->base_url, "/"))
		http->base_url[strlen(http->base_url) - 1] = '\0';
	const char *after = strstr(http->base_url, "://");
	http->label = g_strdup(after != NULL ? after + 3 : http->base_url);
	http->ca_file = opts->ca_file != NULL && *opts->ca_file != '\0' ? g_strdup(opts->ca_file) : NULL;
	http->user_agent = g_strdup(opts->user_agent != NULL ? opts->user_agent
	                                                     : "prlkit/" PACKAGE_VERSION);
	http->pinned = pinned;
	if (pinned)
		memcpy(http->pin, pin, sizeof pin);
	http->insecure = opts->insecure_skip_verify && !pinned;
	http->openssl = openssl;
	http->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms
	                                                    : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	http->timeout_ms = opts->timeout_ms ? opts->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	http->max_parallel = opts->max_parallel ? opts->max_parallel : HTTP_DEFAULT_MAX_PARALLEL;
	http->max_retries = opts->max_retries < 0 ? HTTP_DEFAULT_MAX_RETRIES : (guint)opts->max_retries;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		g_mutex_init(&http->share_locks[i]);
	g_mutex_init(&http->lock);
	g_cond_init(&http->slot_freed);
	g_queue_init(&http->idle);

	http->share = curl_share_init();
	if (http->share == NULL) {
		pk_http_free(http);
		g_set_error(error, PK_ERROR, PRL_ERR_OUT_OF_MEMORY, "cannot create an HTTP share");
		return NULL;
	}
	curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, http_share_lock);
	curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, http_share_unlock);
	curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
	curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

	if (opts->insecure_skip_verify && pinned)
		g_info("%s: tls_fingerprint is set, so insecure_skip_verify is ignored", http->label);
	else if (http->insecure)
		g_warning("TLS verification of %s is disabled (insecure_skip_verify): anyone on the "
		          "network path can impersonate it and read the credentials; prefer "
		          "tls_fingerprint or ca_file", http->label);
	return http;
}

void pk_http_free(pk_http *http)
{
	if (http == NULL)
		return;
	http_slot *slot;
	while ((slot = g_queue_pop_head(&http->idle)) != NULL)
		http_slot_free(slot);
	if (http->share != NULL)
		curl_share_cleanup(http->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		g_mutex_clear(&http->share_locks[i]);
	g_mutex_clear(&http->lock);
	g_cond_clear(&http->slot_freed);
	g_free(http->base_url);
	g_free(http->label);
	g_free(http->ca_file);
	g_free(http->user_agent);
	g_free(http);
}

void pk_http_get_stats(pk_http *http, pk_http_stats *out)
{
	g_mutex_lock(&http->lock);
	*out = http->stats;
	g_mutex_unlock(&http->lock);
}

const char *pk_http_get_base_url(pk_http *http)
{
	return http->base_url;
}

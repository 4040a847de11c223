/* The libvirt driver (doc/drivers/libvirt.md): QEMU/KVM through libvirt's C API, locally
 * (qemu:///system), remotely (qemu+ssh://host/system) or against libvirt's in-process test
 * hypervisor (test:///default). This file holds the vtable, connection setup (URI and
 * settings), reconnecting after libvirt closed the connection, error mapping, host
 * information and the task references of graceful stops; domains are in libvirt-domain.c,
 * snapshots and clones in libvirt-snapshots.c. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "libvirt-private.h"
#include "util-log.h"
#include "util-settings.h"
#include "util-time.h"

/* ---------------------------------------------------------------- errors ---- */

int lv_last_error_code(void)
{
	virErrorPtr e = virGetLastError();
	return e != NULL ? e->code : VIR_ERR_OK;
}

void lv_reset_error(void)
{
	virResetLastError();
}

static PRL_RESULT map_code(int code, PRL_RESULT def)
{
	switch (code) {
	case VIR_ERR_NO_DOMAIN:
		return PRL_ERR_VM_UUID_NOT_FOUND;
	case VIR_ERR_NO_DOMAIN_SNAPSHOT:
		return PRL_ERR_VM_SNAPSHOT_NOT_FOUND;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
	case VIR_ERR_AUTH_UNAVAILABLE:
		return PRL_ERR_AUTHENTICATION_FAILED;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
		return PRL_ERR_ACCESS_DENIED;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		return PRL_ERR_TIMEOUT;
	case VIR_ERR_NO_SUPPORT:
		return def == PRL_ERR_CANT_CONNECT_TO_DISPATCHER ? def : PRL_ERR_VM_REQUEST_NOT_SUPPORTED;
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_RPC:
		return def == PRL_ERR_CANT_CONNECT_TO_DISPATCHER ? def : PRL_ERR_IO_NO_CONNECTION;
	case VIR_ERR_OPERATION_ABORTED:
		return PRL_ERR_OPERATION_WAS_CANCELED;
	default:
		return def;
	}
}

static gboolean set_error_va(GError **error, PRL_RESULT code, const char *detail,
                             const char *fmt, va_list ap)
{
	g_autofree char *what = g_strdup_vprintf(fmt, ap);
	g_autofree char *text = detail != NULL ? g_strdup_printf("libvirt: %s: %s", what, detail)
	                                       : g_strdup_printf("libvirt: %s", what);
	g_autofree char *safe = pk_redact(text);
	g_set_error_literal(error, PK_ERROR, code, safe);
	return FALSE;
}

gboolean lv_fail(GError **error, PRL_RESULT def, const char *fmt, ...)
{
	virErrorPtr e = virGetLastError();
	g_autofree char *detail = g_strdup(e != NULL && e->message != NULL ? e->message
	                                                                   : "unknown error");
	PRL_RESULT code = map_code(e != NULL ? e->code : VIR_ERR_OK, def);
	virResetLastError();
	va_list ap;
	va_start(ap, fmt);
	set_error_va(error, code, detail, fmt, ap);
	va_end(ap);
	return FALSE;
}

gboolean lv_set_error(GError **error, PRL_RESULT code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error_va(error, code, NULL, fmt, ap);
	va_end(ap);
	return FALSE;
}

/* libvirt prints every error on stderr unless told otherwise; the driver reports them
 * itself, so they only reach the debug log. */
static void lv_error_sink(void *data, virErrorPtr e)
{
	if (e != NULL && pk_log_level_enabled(G_LOG_LEVEL_DEBUG)) {
		g_autofree char *safe = pk_redact(e->message);
		g_debug("libvirt error %d: %s", e->code, safe != NULL ? safe : "");
	}
}

gboolean lv_dom_uuid(virDomainPtr dom, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[VIR_UUID_BUFLEN];
	if (virDomainGetUUID(dom, raw) < 0) {
		virResetLastError();
		buf[0] = '\0';
		return FALSE;
	}
	char *p = buf;
	for (int i = 0; i < VIR_UUID_BUFLEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[raw[i] >> 4];
		*p++ = hex[raw[i] & 15];
	}
	*p = '\0';
	return TRUE;
}

virDomainPtr lv_dom_lookup(virConnectPtr conn, const char *id, GError **error)
{
	if (id == NULL || !g_uuid_string_is_valid(id)) {
		lv_set_error(error, PRL_ERR_VM_UUID_NOT_FOUND, "VM '%s' not found (ids are domain "
		             "UUIDs)", id != NULL ? id : "");
		return NULL;
	}
	virDomainPtr dom = virDomainLookupByUUIDString(conn, id);
	/* Not found only when libvirt says so (VIR_ERR_NO_DOMAIN): a closed connection must
	 * not read as a deleted VM. */
	if (dom == NULL)
		lv_fail(error, PRL_ERR_VM_GET_CONFIG_FAILED, "VM '%s'", id);
	return dom;
}

void lv_dom_busy_enter(lv_conn *lc, const char *uuid)
{
	g_mutex_lock(&lc->busy_lock);
	while (g_hash_table_contains(lc->busy, uuid))
		g_cond_wait(&lc->busy_cond, &lc->busy_lock);
	g_hash_table_add(lc->busy, g_strdup(uuid));
	g_mutex_unlock(&lc->busy_lock);
}

void lv_dom_busy_leave(lv_conn *lc, const char *uuid)
{
	g_mutex_lock(&lc->busy_lock);
	g_hash_table_remove(lc->busy, uuid);
	g_cond_broadcast(&lc->busy_cond);
	g_mutex_unlock(&lc->busy_lock);
}

/* -------------------------------------------------------------- settings ---- */

static void lv_settings_clear(lv_settings *s)
{
	g_free(s->uri);
	g_free(s->username);
	g_free(s->password);
	g_free(s->pool);
	g_free(s->network);
	memset(s, 0, sizeof(*s));
}

/* Every setting the driver reads (pk_driver.settings_keys): prlkit's own, then the query
 * parameters libvirt's own URIs understand (remote driver), which are passed on; everything
 * else in a prlkit URI's query is a prlkit setting. */
#define LV_OWN_SETTINGS 7
static const char *const lv_settings_keys[] = {
	"storage_pool", "image_dir", "network", "stop_mode", "force_stop_after", "suspend_mode",
	"ip_source",
	"name", "command", "socket", "auth", "netcat", "keyfile", "no_verify", "no_tty",
	"pkipath", "known_hosts", "known_hosts_verify", "sshauth", "mode", "proxy",
	"tls_priority", NULL,
};
static const char *const *const libvirt_uri_params = lv_settings_keys + LV_OWN_SETTINGS;

static gboolean is_libvirt_param(const char *key)
{
	for (const char *const *p = libvirt_uri_params; *p != NULL; p++)
		if (g_ascii_strcasecmp(*p, key) == 0)
			return TRUE;
	return FALSE;
}

/* The ssh transport runs the ssh program, which asks for passphrases and host keys on a
 * terminal when the process has one: a provider would hang on connect. */
static gboolean ssh_needs_no_tty(const char *scheme, const GString *query)
{
	gsize n = strlen(scheme);
	if (n < 4 || g_ascii_strcasecmp(scheme + n - 4, "+ssh") != 0)
		return FALSE;
	g_auto(GStrv) pairs = g_strsplit(query->str, "&", -1);
	for (guint i = 0; pairs[i] != NULL; i++)
		if (g_ascii_strncasecmp(pairs[i], "no_tty", 6) == 0 &&
		    (pairs[i][6] == '\0' || pairs[i][6] == '='))
			return FALSE;
	return TRUE;
}

gboolean lv_uri_from(GUri *uri, char **out, GError **error)
{
	const char *scheme = g_uri_get_scheme(uri);
	*out = NULL;
	if (g_ascii_strcasecmp(scheme, "libvirt") == 0)
		return TRUE;   /* the `uri` setting (or the default) says which */
	if (g_ascii_strncasecmp(scheme, "libvirt+", 8) == 0)
		scheme += 8;
	GString *q = g_string_new(NULL);
	const char *query = g_uri_get_query(uri);
	if (query != NULL) {
		g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
		for (guint i = 0; pairs[i] != NULL; i++) {
			g_autofree char *key = g_strndup(pairs[i], strcspn(pairs[i], "="));
			g_autofree char *plain = g_uri_unescape_string(key, NULL);
			if (*pairs[i] != '\0' && plain != NULL && is_libvirt_param(plain))
				g_string_append_printf(q, "%s%s", q->len ? "&" : "", pairs[i]);
		}
	}
	if (*scheme == '\0') {
		g_string_free(q, TRUE);
		return lv_set_error(error, PRL_ERR_INVALID_PARAM, "not a libvirt URI");
	}
	if (ssh_needs_no_tty(scheme, q))
		g_string_append_printf(q, "%sno_tty=1", q->len ? "&" : "");
	/* Built by hand: libvirt wants "test:///default" (an empty authority kept) and never a
	 * password in the URI (the auth callback gives it). */
	GString *u = g_string_new(scheme);
	g_string_append(u, "://");
	const char *user = g_uri_get_user(uri);
	const char *host = g_uri_get_host(uri);
	if (user != NULL && *user != '\0') {
		g_autofree char *esc = g_uri_escape_string(user,
		                                           G_URI_RESERVED_CHARS_ALLOWED_IN_USERINFO,
		                                           FALSE);
		g_string_append_printf(u, "%s@", esc);
	}
	if (host != NULL)
		g_string_append_printf(u, strchr(host, ':') != NULL ? "[%s]" : "%s", host);
	if (g_uri_get_port(uri) > 0)
		g_string_append_printf(u, ":%d", g_uri_get_port(uri));
	g_autofree char *path = g_uri_escape_string(g_uri_get_path(uri),
	                                            G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
	g_string_append(u, path);
	if (q->len > 0)
		g_string_append_printf(u, "?%s", q->str);
	g_string_free(q, TRUE);
	*out = g_string_free(u, FALSE);
	return TRUE;
}

static gboolean get_string(GHashTable *settings, const char *key, char **out)
{
	const char *v = g_hash_table_lookup(settings, key);
	g_autofree char *t = v != NULL ? g_strstrip(g_strdup(v)) : NULL;
	*out = t != NULL && *t != '\0' ? g_steal_pointer(&t) : NULL;
	return TRUE;
}

static gboolean lv_settings_parse(GHashTable *settings, GUri *uri, lv_settings *s,
                                  GError **error)
{
	static const char *const stop_modes[] = { "shutdown", "destroy", "stop", NULL };
	static const char *const suspend_modes[] = { "managedsave", "pause", NULL };
	static const char *const ip_sources[] = { "auto", "lease", "agent", "none", NULL };
	const char *choice = NULL;
	gint64 n = 0;

	memset(s, 0, sizeof(*s));
	if (uri != NULL && !lv_uri_from(uri, &s->uri, error))
		return FALSE;
	if (s->uri == NULL) {
		/* Chosen by name (or as "libvirt:"): the `uri` setting, cleaned the same way. */
		g_autofree char *text = NULL;
		get_string(settings, "uri", &text);
		if (text != NULL) {
			g_autoptr(GUri) u = g_uri_parse(text, G_URI_FLAGS_ENCODED_QUERY |
			                                G_URI_FLAGS_NON_DNS, NULL);
			if (u == NULL)
				return lv_set_error(error, PRL_ERR_INVALID_PARAM,
				                    "invalid value for setting 'uri'");
			if (!lv_uri_from(u, &s->uri, error))
				return FALSE;
		}
	}
	if (s->uri == NULL)
		s->uri = g_strdup("qemu:///system");
	get_string(settings, "username", &s->username);
	get_string(settings, "password", &s->password);
	get_string(settings, "storage_pool", &s->pool);
	if (s->pool == NULL)
		get_string(settings, "image_dir", &s->pool);
	get_string(settings, "network", &s->network);
	if (!pk_settings_get_choice(settings, "stop_mode", "shutdown", stop_modes, &choice, error))
		return FALSE;
	s->stop_hard = strcmp(choice, "shutdown") != 0;
	if (!pk_settings_get_int(settings, "force_stop_after", 60, 1, 3600, &n, error))
		return FALSE;
	s->force_stop_after_s = (guint)n;
	if (!pk_settings_get_choice(settings, "suspend_mode", "managedsave", suspend_modes,
	                            &choice, error))
		return FALSE;
	s->suspend_pause = strcmp(choice, "pause") == 0;
	if (!pk_settings_get_choice(settings, "ip_source", "auto", ip_sources, &choice, error))
		return FALSE;
	s->ip_source = strcmp(choice, "lease") == 0 ? LV_IP_LEASE
	             : strcmp(choice, "agent") == 0 ? LV_IP_AGENT
	             : strcmp(choice, "none") == 0 ? LV_IP_NONE : LV_IP_AUTO;
	return TRUE;
}

/* ------------------------------------------------------------ connecting ---- */

/* Answers only what the settings hold; never prompts (stdin may be a protocol). */
static int auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *data)
{
	const lv_settings *s = data;
	for (unsigned int i = 0; i < ncred; i++) {
		const char *v = NULL;
		switch (cred[i].type) {
		case VIR_CRED_AUTHNAME:
		case VIR_CRED_USERNAME:
			v = s->username;
			break;
		case VIR_CRED_PASSPHRASE:
			v = s->password;
			break;
		default:
			break;
		}
		if (v == NULL)
			return -1;
		cred[i].result = strdup(v);
		if (cred[i].result == NULL)
			return -1;
		cred[i].resultlen = (unsigned int)strlen(v);
	}
	return 0;
}

/* storage_pool may name a pool or its target directory. */
static gboolean resolve_pool(lv_conn *lc, virConnectPtr conn, GError **error)
{
	if (lc->s.pool == NULL)
		return TRUE;
	if (lc->s.pool[0] != '/') {
		virStoragePoolPtr p = virStoragePoolLookupByName(conn, lc->s.pool);
		if (p == NULL)
			return lv_fail(error, PRL_ERR_INVALID_PARAM,
			               "invalid value for setting 'storage_pool': no pool '%s'",
			               lc->s.pool);
		virStoragePoolFree(p);
		return TRUE;
	}
	virStoragePoolPtr *pools = NULL;
	int n = virConnectListAllStoragePools(conn, &pools, 0);
	g_autofree char *want = g_canonicalize_filename(lc->s.pool, "/");
	char *found = NULL;
	for (int i = 0; i < n; i++) {
		char *xml = found == NULL ? virStoragePoolGetXMLDesc(pools[i], 0) : NULL;
		g_autoptr(lv_node) root = xml != NULL ? lv_xml_parse(xml, NULL) : NULL;
		free(xml);
		lv_node *path = lv_xml_path(root, "target/path");
		g_autofree char *t = path != NULL ? lv_xml_text(path) : NULL;
		g_autofree char *canon = t != NULL ? g_canonicalize_filename(g_strstrip(t), "/") : NULL;
		if (canon != NULL && strcmp(canon, want) == 0)
			found = g_strdup(virStoragePoolGetName(pools[i]));
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	if (n < 0)
		return lv_fail(error, PRL_ERR_INVALID_PARAM, "setting 'storage_pool'");
	if (found == NULL)
		return lv_set_error(error, PRL_ERR_INVALID_PARAM,
		                    "invalid value for setting 'storage_pool': no storage pool has "
		                    "the directory '%s' (define one: virsh pool-define-as NAME dir "
		                    "--target %s)", want, want);
	g_free(lc->s.pool);
	lc->s.pool = found;
	return TRUE;
}

static gboolean check_network(lv_conn *lc, virConnectPtr conn, GError **error)
{
	if (lc->s.network == NULL)
		return TRUE;
	virNetworkPtr n = virNetworkLookupByName(conn, lc->s.network);
	if (n == NULL)
		return lv_fail(error, PRL_ERR_INVALID_PARAM,
		               "invalid value for setting 'network': no network '%s'", lc->s.network);
	virNetworkFree(n);
	return TRUE;
}

/* ------------------------------------------------------------ reconnecting ---- */

static const char *close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_ERROR:
		return "I/O error";
	case VIR_CONNECT_CLOSE_REASON_EOF:
		return "closed by the other end";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		return "no answer to keep-alives";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:
		return "closed by the client";
	default:
		return "unknown reason";
	}
}

/* conn, if it is still the current connection, is lost: the first to notice logs it (once
 * per outage, under the lock, so that whoever sees `lost` knows it is logged) and empties
 * the cache. Caller holds conn_lock. */
static void mark_lost_locked(lv_conn *lc, virConnectPtr conn, const char *why)
{
	if (lc->conn != conn || lc->lost)
		return;
	lc->lost = TRUE;
	lc->lost_at_us = g_get_monotonic_time();
	lc->attempts = 0;
	g_autofree char *text = g_strdup_printf("the connection to '%s' was closed (%s)",
	                                        lc->s.uri, why);
	g_free(lc->lost_why);
	lc->lost_why = pk_redact(text);
	g_warning("libvirt: %s; reconnecting", lc->lost_why);
	lv_cache_invalidate(lc->ev, NULL);
	g_cond_broadcast(&lc->conn_cond);
}

static void mark_lost(lv_conn *lc, virConnectPtr conn, const char *why)
{
	g_mutex_lock(&lc->conn_lock);
	mark_lost_locked(lc, conn, why);
	g_mutex_unlock(&lc->conn_lock);
}

/* libvirt closed a connection: called on libvirt's event loop thread, or on a thread whose
 * call noticed it, holding libvirt's lock of the close callback (so conn_lock is never held
 * around libvirt calls that may take that lock). */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	mark_lost(opaque, conn, close_reason(reason));
}

/* A libvirt connection as the settings say: credentials from the settings only, libvirt's
 * errors to the debug log, keep-alives, the close callback. */
static virConnectPtr link_open(lv_conn *lc, GError **error)
{
	virConnectAuth auth = {
		.credtype = (int[]){ VIR_CRED_AUTHNAME, VIR_CRED_USERNAME, VIR_CRED_PASSPHRASE },
		.ncredtype = 3,
		.cb = auth_cb,
		.cbdata = &lc->s,
	};
	virConnectPtr conn = virConnectOpenAuth(lc->s.uri, &auth, 0);
	if (conn == NULL) {
		lv_fail(error, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "cannot connect to '%s'",
		        lc->s.uri);
		return NULL;
	}
	virConnSetErrorFunc(conn, NULL, lv_error_sink);
	/* Remote connections notice a dead peer; local drivers do not support it. */
	if (virConnectSetKeepAlive(conn, 5, 3) < 0)
		virResetLastError();
	/* Drivers whose connection cannot break (test://) accept it and never call it. */
	if (virConnectRegisterCloseCallback(conn, on_close, lc, NULL) < 0)
		virResetLastError();
	return conn;
}

/* Drops our reference; requests still running on conn keep theirs. */
static void link_close(lv_conn *lc, virConnectPtr conn)
{
	lv_events_detach(lc->ev, conn);
	/* The registration holds a reference to conn. */
	if (virConnectUnregisterCloseCallback(conn, on_close) < 0)
		virResetLastError();
	if (virConnectClose(conn) < 0)
		virResetLastError();
}

/* The caller set `reconnecting`: nothing else touches the callbacks meanwhile. Both ways to
 * reconnect come here: a request's lv_conn_acquire and the watcher's (lv_watch). */
static virConnectPtr reconnect(lv_conn *lc, virConnectPtr old, GError **error)
{
	if (old != NULL)
		link_close(lc, old);
	virConnectPtr conn = link_open(lc, error);
	if (conn != NULL) {
		lv_events_attach(lc->ev, conn);
		/* Events missed meanwhile: what changed is reported (on libvirt's event thread,
		 * after the callbacks just registered; this request does not wait for it). */
		lv_events_resync(lc->ev, conn, TRUE);
	}
	return conn;
}

static const char *without_prefix(const char *message)
{
	return g_str_has_prefix(message, "libvirt: ") ? message + 9 : message;
}

/* Whether conn is still open by its local state (no round trip); if not, it is marked lost.
 * -1 (the driver cannot tell) counts as open: such a connection does not break. */
static gboolean conn_alive(lv_conn *lc, virConnectPtr conn)
{
	int alive = virConnectIsAlive(conn);
	if (alive < 0)
		virResetLastError();
	if (alive != 0)
		return TRUE;
	mark_lost(lc, conn, "found closed");
	return FALSE;
}

virConnectPtr lv_conn_acquire(lv_conn *lc, GError **error)
{
	gint64 wait_until = 0;
	g_mutex_lock(&lc->conn_lock);
	for (;;) {
		if (lc->conn != NULL && !lc->lost) {
			virConnectPtr conn = lc->conn;
			virConnectRef(conn);   /* an atomic increment: fine under conn_lock */
			g_mutex_unlock(&lc->conn_lock);
			if (conn_alive(lc, conn))   /* a close libvirt has not reported yet? */
				return conn;
			lv_conn_release(conn);
			g_mutex_lock(&lc->conn_lock);
			continue;
		}
		if (!lc->reconnecting)
			break;
		/* Another thread reconnects: share its outcome. */
		if (wait_until == 0)
			wait_until = g_get_monotonic_time() + LV_RECONNECT_WAIT_MS * G_TIME_SPAN_MILLISECOND;
		if (!g_cond_wait_until(&lc->conn_cond, &lc->conn_lock, wait_until) &&
		    lc->reconnecting) {
			lv_set_error(error, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "connection lost: "
			             "reconnecting to '%s' takes longer than %d s", lc->s.uri,
			             LV_RECONNECT_WAIT_MS / 1000);
			g_mutex_unlock(&lc->conn_lock);
			return NULL;
		}
		if (!lc->reconnecting && lc->conn == NULL) {
			lv_set_error(error, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "connection lost: %s",
			             lc->lost_why);
			g_mutex_unlock(&lc->conn_lock);
			return NULL;
		}
	}
	/* Lost, and nobody reconnects: at most one attempt per interval, failing fast between. */
	gint64 now = g_get_monotonic_time();
	if (lc->attempts > 0 &&
	    now < lc->attempt_at_us + LV_RECONNECT_INTERVAL_MS * G_TIME_SPAN_MILLISECOND) {
		lv_set_error(error, PRL_ERR_CANT_CONNECT_TO_DISPATCHER, "connection lost: %s",
		             lc->lost_why);
		g_mutex_unlock(&lc->conn_lock);
		return NULL;
	}
	lc->reconnecting = TRUE;
	virConnectPtr old = g_steal_pointer(&lc->conn);
	g_mutex_unlock(&lc->conn_lock);

	GError *local = NULL;
	virConnectPtr conn = reconnect(lc, old, &local);

	g_mutex_lock(&lc->conn_lock);
	lc->reconnecting = FALSE;
	if (conn != NULL) {
		g_message("libvirt: reconnected to '%s' after %.1f s", lc->s.uri,
		          (g_get_monotonic_time() - lc->lost_at_us) / 1e6);
		lc->conn = conn;
		lc->lost = FALSE;
		lc->attempts = 0;
		g_clear_pointer(&lc->lost_why, g_free);
		virConnectRef(conn);
	} else {
		lc->attempts++;
		lc->attempt_at_us = g_get_monotonic_time();
		g_free(lc->lost_why);
		lc->lost_why = g_strdup(without_prefix(local->message));
		PK_DEBUG("libvirt: reconnect attempt %u failed: %s", lc->attempts, lc->lost_why);
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
		            "libvirt: connection lost: %s", lc->lost_why);
		g_error_free(local);
	}
	g_cond_broadcast(&lc->conn_cond);
	g_mutex_unlock(&lc->conn_lock);
	return conn;
}

void lv_conn_release(virConnectPtr conn)
{
	if (conn != NULL && virConnectClose(conn) < 0)
		virResetLastError();
}

/* Whether conn broke: replaced, reported closed, or closed by its local state. */
static gboolean conn_dropped(lv_conn *lc, virConnectPtr conn)
{
	g_mutex_lock(&lc->conn_lock);
	gboolean gone = lc->conn != conn || lc->lost;
	g_mutex_unlock(&lc->conn_lock);
	return gone || !conn_alive(lc, conn);
}

gboolean lv_call_next(lv_conn *lc, lv_call *call, GError **error)
{
	if (call->conn != NULL) {
		/* A failure while the connection broke is the connection's doing, whatever
		 * libvirt's error code says (an internal error, "client socket is closed", an
		 * RPC or system error); a read is then safe to run again. */
		gboolean dropped = !call->ok && conn_dropped(lc, call->conn);
		lv_conn_release(g_steal_pointer(&call->conn));
		if (call->ok)
			return FALSE;
		const char *msg = call->error != NULL ? call->error->message : "unknown error";
		if (dropped && call->kind == LV_READ && call->runs == 1) {
			PK_DEBUG("libvirt: the connection broke during a read (%s); once more", msg);
			g_clear_error(&call->error);
		} else if (dropped) {
			g_set_error(error, PK_ERROR, PRL_ERR_IO_NO_CONNECTION,
			            "libvirt: connection lost during the request%s: %s",
			            call->kind == LV_WRITE ? " (it may have taken effect)" : "",
			            without_prefix(msg));
			g_clear_error(&call->error);
			return FALSE;
		} else {
			g_propagate_error(error, g_steal_pointer(&call->error));
			return FALSE;
		}
	}
	call->ok = FALSE;
	call->conn = lv_conn_acquire(lc, error);
	if (call->conn == NULL)
		return FALSE;
	call->runs++;
	return TRUE;
}

/* ----------------------------------------------------------- open, close ---- */

static void lv_conn_free(lv_conn *lc)
{
	if (lc == NULL)
		return;
	if (lc->conn != NULL)
		link_close(lc, lc->conn);
	if (lc->ev != NULL)
		lv_events_unref(lc->ev);
	lv_settings_clear(&lc->s);
	g_free(lc->lost_why);
	g_hash_table_unref(lc->busy);
	g_cond_clear(&lc->busy_cond);
	g_mutex_clear(&lc->busy_lock);
	g_cond_clear(&lc->conn_cond);
	g_mutex_clear(&lc->conn_lock);
	g_free(lc);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lv_conn, lv_conn_free)

static gboolean scheme_is_ours(const char *scheme)
{
	static const char *const ours[] = { "libvirt", "qemu", "test", NULL };
	const char *s = scheme;
	if (g_ascii_strncasecmp(s, "libvirt+", 8) == 0)
		s += 8;
	for (const char *const *o = ours; *o != NULL; o++) {
		gsize len = strlen(*o);
		if (g_ascii_strncasecmp(s, *o, len) == 0 && (s[len] == '\0' || s[len] == '+'))
			return TRUE;
	}
	return FALSE;
}

static pk_open_status lv_open(pk_conn *c, GUri *uri, GHashTable *settings_in,
                              GCancellable *cancel, GError **error)
{
	g_autoptr(GHashTable) empty = NULL;
	GHashTable *settings = settings_in;
	if (uri != NULL && !scheme_is_ours(g_uri_get_scheme(uri)))
		return PK_OPEN_DECLINED;
	if (settings == NULL)
		settings = empty = g_hash_table_new(g_str_hash, g_str_equal);
	pk_log_add_secrets_from_settings(settings);

	g_autoptr(lv_conn) lc = g_new0(lv_conn, 1);
	g_mutex_init(&lc->conn_lock);
	g_cond_init(&lc->conn_cond);
	g_mutex_init(&lc->busy_lock);
	g_cond_init(&lc->busy_cond);
	lc->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!lv_settings_parse(settings, uri, &lc->s, error) || !lv_event_loop_ensure(error))
		return PK_OPEN_ERROR;
	virSetErrorFunc(NULL, lv_error_sink);
	lc->ev = lv_events_new(c);

	gint64 t0 = pk_time_mono_us();
	/* Not shared yet: no lock needed. */
	lc->conn = link_open(lc, error);
	if (lc->conn == NULL)
		return PK_OPEN_ERROR;
	if (!resolve_pool(lc, lc->conn, error) || !check_network(lc, lc->conn, error))
		return PK_OPEN_ERROR;
	lv_events_attach(lc->ev, lc->conn);
	lv_events_resync(lc->ev, lc->conn, FALSE);   /* which domains there are, to compare with */
	PK_DEBUG("libvirt: connected to %s in %.1f ms", lc->s.uri,
	         (pk_time_mono_us() - t0) / 1000.0);
	pk_conn_set_private(c, g_steal_pointer(&lc));
	return PK_OPEN_OK;
}

static void lv_close(pk_conn *c)
{
	lv_conn_free(lv_conn_of(c));
	pk_conn_set_private(c, NULL);
}

static void watch_wake(GCancellable *cancel, gpointer data)
{
	lv_conn *lc = data;
	g_mutex_lock(&lc->conn_lock);
	g_cond_broadcast(&lc->conn_cond);
	g_mutex_unlock(&lc->conn_lock);
}

/* Reports libvirt's events, and reopens a lost connection without waiting for a request,
 * so that events flow again: LV_RECONNECT_INTERVAL_MS after the loss, then less and less
 * often (twice the wait each time, up to 30 s) while libvirt stays away. */
static void lv_watch(pk_conn *c, GCancellable *cancel)
{
	lv_conn *lc = lv_conn_of(c);
	lv_events_watch_begin(lc->ev);
	gulong handler = g_cancellable_connect(cancel, G_CALLBACK(watch_wake), lc, NULL);
	g_mutex_lock(&lc->conn_lock);
	while (!g_cancellable_is_cancelled(cancel)) {
		if (!lc->lost || lc->reconnecting) {
			g_cond_wait(&lc->conn_cond, &lc->conn_lock);
			continue;
		}
		gint64 wait_ms = MIN((gint64)LV_RECONNECT_INTERVAL_MS << MIN(lc->attempts, 5), 30000);
		gint64 due = (lc->attempts > 0 ? lc->attempt_at_us : lc->lost_at_us) +
		             wait_ms * G_TIME_SPAN_MILLISECOND;
		if (g_get_monotonic_time() < due) {
			g_cond_wait_until(&lc->conn_cond, &lc->conn_lock, due);
			continue;
		}
		g_mutex_unlock(&lc->conn_lock);
		GError *error = NULL;
		virConnectPtr conn = lv_conn_acquire(lc, &error);
		if (conn != NULL)
			lv_conn_release(conn);
		g_clear_error(&error);
		g_mutex_lock(&lc->conn_lock);
	}
	g_mutex_unlock(&lc->conn_lock);
	g_cancellable_disconnect(cancel, handler);
	lv_events_watch_end(lc->ev);
}

/* ------------------------------------------------------------------ host ---- */

static gboolean host_info(virConnectPtr conn, pk_host_data **out, GError **error)
{
	virNodeInfo ni;
	if (virNodeGetInfo(conn, &ni) < 0)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "host information");
	pk_host_data *h = g_new0(pk_host_data, 1);
	char *name = virConnectGetHostname(conn);
	h->hostname = g_strdup(name != NULL ? name : "");
	free(name);
	if (h->hostname[0] == '\0')
		virResetLastError();
	h->cpu_model = g_strdup(ni.model);
	h->cpu_count = ni.cpus;
	h->ram_mb = ni.memory / 1024;
	unsigned long lib = 0, hv = 0;
	const char *type = virConnectGetType(conn);
	if (virConnectGetLibVersion(conn, &lib) < 0)
		virResetLastError();
	if (virConnectGetVersion(conn, &hv) < 0)
		virResetLastError();
	h->product_version = g_strdup_printf("libvirt %lu.%lu.%lu, %s %lu.%lu.%lu", lib / 1000000,
	                                     lib / 1000 % 1000, lib % 1000,
	                                     type != NULL ? type : "hypervisor", hv / 1000000,
	                                     hv / 1000 % 1000, hv % 1000);
	*out = h;
	return TRUE;
}

static gboolean lv_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel,
                             GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = host_info(call.conn, out, &call.error);
	return call.ok;
}

/* Busy/total CPU time of each host CPU, or FALSE when libvirt cannot tell. */
static gboolean cpu_sample(virConnectPtr conn, int cpus, GArray *busy, GArray *total)
{
	for (int i = 0; i < cpus; i++) {
		int n = 0;
		if (virNodeGetCPUStats(conn, i, NULL, &n, 0) < 0 || n <= 0)
			return FALSE;
		virNodeCPUStatsPtr p = g_new0(virNodeCPUStats, n);
		if (virNodeGetCPUStats(conn, i, p, &n, 0) < 0) {
			g_free(p);
			return FALSE;
		}
		guint64 b = 0, t = 0;
		for (int k = 0; k < n; k++) {
			t += p[k].value;
			if (strcmp(p[k].field, VIR_NODE_CPU_STATS_IDLE) != 0 &&
			    strcmp(p[k].field, VIR_NODE_CPU_STATS_IOWAIT) != 0)
				b += p[k].value;
		}
		g_free(p);
		g_array_append_val(busy, b);
		g_array_append_val(total, t);
	}
	return TRUE;
}

static gboolean host_statistics(virConnectPtr conn, pk_stats_data **out,
                                GCancellable *cancel, GError **error)
{
	virNodeInfo ni;
	if (virNodeGetInfo(conn, &ni) < 0)
		return lv_fail(error, PRL_ERR_OPERATION_FAILED, "host statistics");
	pk_stats_data *s = g_new0(pk_stats_data, 1);
	s->cpu_usage = g_array_new(FALSE, TRUE, sizeof(guint32));
	s->ram_total = (guint64)ni.memory * 1024;
	unsigned long long free_b = virNodeGetFreeMemory(conn);
	if (free_b == 0)
		virResetLastError();
	s->ram_free = MIN(free_b, s->ram_total);
	s->ram_used = s->ram_total - s->ram_free;

	g_autoptr(GArray) b0 = g_array_new(FALSE, TRUE, sizeof(guint64));
	g_autoptr(GArray) t0 = g_array_new(FALSE, TRUE, sizeof(guint64));
	g_autoptr(GArray) b1 = g_array_new(FALSE, TRUE, sizeof(guint64));
	g_autoptr(GArray) t1 = g_array_new(FALSE, TRUE, sizeof(guint64));
	if (cpu_sample(conn, (int)ni.cpus, b0, t0) && pk_time_sleep_ms(100, cancel) &&
	    cpu_sample(conn, (int)ni.cpus, b1, t1)) {
		for (guint i = 0; i < b0->len; i++) {
			guint64 db = g_array_index(b1, guint64, i) - g_array_index(b0, guint64, i);
			guint64 dt = g_array_index(t1, guint64, i) - g_array_index(t0, guint64, i);
			guint32 pct = dt > 0 ? (guint32)MIN(100, db * 100 / dt) : 0;
			g_array_append_val(s->cpu_usage, pct);
		}
	} else {
		virResetLastError();   /* per-CPU times are not available (test driver) */
	}
	*out = s;
	return TRUE;
}

static gboolean lv_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel,
                                   GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = host_statistics(call.conn, out, cancel, &call.error);
	return call.ok;
}

/* ------------------------------------------------------------------ tasks ---- */

/* "lv1:stop:<uuid>:<start ms>:<deadline ms>": a graceful stop, forced at the deadline by
 * whichever process checks it then. */
#define LV_REF_STOP "lv1:stop:"

char *lv_task_ref_stop(const char *uuid, gint64 deadline_ms)
{
	return g_strdup_printf(LV_REF_STOP "%s:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, uuid,
	                       MIN(pk_time_wall_ms(), deadline_ms), deadline_ms);
}

static gboolean parse_ms(const char *s, gint64 *out)
{
	if (s == NULL || *s == '\0' || strlen(s) > 15)
		return FALSE;
	for (const char *p = s; *p; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	*out = g_ascii_strtoll(s, NULL, 10);
	return TRUE;
}

static gboolean parse_stop_ref(const char *ref, char **uuid, gint64 *start, gint64 *deadline)
{
	if (ref == NULL || !g_str_has_prefix(ref, LV_REF_STOP))
		return FALSE;
	g_auto(GStrv) parts = g_strsplit(ref + strlen(LV_REF_STOP), ":", -1);
	if (g_strv_length(parts) != 3 || !g_uuid_string_is_valid(parts[0]) ||
	    !parse_ms(parts[1], start) || !parse_ms(parts[2], deadline) || *deadline < *start)
		return FALSE;
	*uuid = g_strdup(parts[0]);
	return TRUE;
}

/* May force the stop; running it again is harmless (a stopped VM is a finished stop), so
 * it counts as a read. */
static gboolean task_status(virConnectPtr conn, const char *uuid, gint64 start,
                            gint64 deadline, pk_task_status *out, GError **error)
{
	GError *local = NULL;
	virDomainPtr dom = lv_dom_lookup(conn, uuid, &local);
	if (dom == NULL) {
		if (local->code != PRL_ERR_VM_UUID_NOT_FOUND) {
			g_propagate_error(error, local);
			return FALSE;
		}
		out->finished = TRUE;
		out->code = PRL_ERR_VM_UUID_NOT_FOUND;
		out->message = g_strdup(local->message);
		g_error_free(local);
		return TRUE;
	}
	gboolean ok = TRUE;
	gint64 now = pk_time_wall_ms();
	if (!lv_dom_is_active(dom)) {
		out->finished = TRUE;
		out->code = PRL_ERR_SUCCESS;
	} else if (now >= deadline) {
		/* The guest did not power off in time: the stop ends as a hard one. */
		g_info("libvirt: VM %s did not shut down in time; destroying it", uuid);
		out->finished = TRUE;
		out->code = PRL_ERR_SUCCESS;
		if (virDomainDestroy(dom) < 0 && lv_dom_is_active(dom)) {
			GError *e = NULL;
			lv_fail(&e, PRL_ERR_VM_POWER_OFF_FAILED, "stop VM %s", uuid);
			out->code = e->code;
			out->message = g_strdup(e->message);
			g_error_free(e);
		}
		lv_reset_error();
	} else {
		out->finished = FALSE;
		out->progress = (guint)CLAMP((now - start) * 100 / MAX(deadline - start, 1), 0, 99);
	}
	virDomainFree(dom);
	return ok;
}

static gboolean lv_task_status(pk_conn *c, const char *task_ref, pk_task_status *out,
                               GCancellable *cancel, GError **error)
{
	lv_conn *lc = lv_conn_of(c);
	g_autofree char *uuid = NULL;
	gint64 start = 0, deadline = 0;
	if (!parse_stop_ref(task_ref, &uuid, &start, &deadline))
		return lv_set_error(error, PRL_ERR_TASK_NOT_FOUND, "not a libvirt task reference");
	lv_call call = { LV_READ };
	while (lv_call_next(lc, &call, error))
		call.ok = task_status(call.conn, uuid, start, deadline, out, &call.error);
	return call.ok;
}

static guint lv_task_poll_interval_ms(pk_conn *c, const char *task_ref)
{
	return 500;
}

static const pk_task_ops lv_task_ops = {
	.status = lv_task_status,
	.cancel = NULL,
	.poll_interval_ms = lv_task_poll_interval_ms,
};

static const pk_host_ops lv_host_ops = {
	.info = lv_host_info,
	.statistics = lv_host_statistics,
};

/* ---------------------------------------------------------------- vtable ---- */

/* "libvirt+qemu://", "libvirt+test://", "libvirt+qemu+ssh://" (the core matches "libvirt"
 * before a '+'), and libvirt's own "qemu://", "qemu+ssh://", "test://". */
static const char *const lv_schemes[] = { "libvirt", "qemu", "test", NULL };

const pk_driver libvirt_driver = {
	.settings_keys = lv_settings_keys,
	.name = "libvirt",
	.display_name = "libvirt/KVM",
	.uri_schemes = lv_schemes,
	.features = PRLK_FEAT_SUSPEND | PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE |
	            PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_LINKED_CLONE | PRLK_FEAT_TEMPLATES |
	            PRLK_FEAT_REVERSIBLE_TEMPLATES | PRLK_FEAT_GUEST_IPS | PRLK_FEAT_EVENTS |
	            PRLK_FEAT_PAUSE | PRLK_FEAT_RESET | PRLK_FEAT_RESTART | PRLK_FEAT_EDIT |
	            PRLK_FEAT_STATISTICS | PRLK_FEAT_TASK_IDS | PRLK_FEAT_DELETE,
	.features_for = NULL,
	.open = lv_open,
	.close = lv_close,
	.watch = lv_watch,
	.vm = &lv_vm_ops,
	.snap = &lv_snap_ops,
	.task = &lv_task_ops,
	.host = &lv_host_ops,
};

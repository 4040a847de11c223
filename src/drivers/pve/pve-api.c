/* Proxmox VE wire client: authentication (API token, or tickets with CSRF and renewal),
 * one call = one HTTP request under /api2/json, and Proxmox's errors (reason phrase,
 * "errors" object, task exit status) turned into PRL_RESULTs. */
#include "config.h"

#include <string.h>

#include "pve-private.h"
#include "util-log.h"
#include "util-time.h"

#define PVE_API_PREFIX "/api2/json"

struct pve_api {
	pk_http *http;                /* immutable; thread-safe */
	char *who;                    /* immutable: token id or user, for messages */
	char *token_header;           /* immutable; holds the secret */
	char *username;               /* immutable */
	char *password;               /* immutable; secret */
	guint ticket_renew_s;         /* immutable */
	guint lock_wait_ms;           /* immutable */

	GMutex lock;
	GCond login_cond;             /* broadcast (under lock) when a login ends */
	char *ticket;                 /* lock; secret */
	char *csrf;                   /* lock; secret */
	gint64 ticket_ms;             /* lock: wall clock when issued */
	guint ticket_gen;             /* lock: bumped by every new ticket */
	gboolean login_running;       /* lock */
};

/* ---------- errors ---------- */

PRL_RESULT pve_error_code_for_message(const char *message, PRL_RESULT fallback)
{
	static const struct { const char *a, *b; PRL_RESULT code; } rules[] = {
		{ "configuration file", "does not exist", PRL_ERR_VM_UUID_NOT_FOUND },
		{ "snapshot '", "does not exist", PRL_ERR_VM_SNAPSHOT_NOT_FOUND },
		{ "vm is locked", NULL, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED },
		{ "detected modified configuration", NULL, PRL_ERR_VM_CONFIG_WAS_CHANGED },
		/* PUT config with a stale digest; older releases spell it "missmatch". */
		{ "checksum mismatch", NULL, PRL_ERR_VM_CONFIG_WAS_CHANGED },
		{ "checksum missmatch", NULL, PRL_ERR_VM_CONFIG_WAS_CHANGED },
		{ "balloon value too large", NULL, PRL_ERR_INVALID_MEMORY_SIZE },
		{ "you can't start a vm if it's a template", NULL, PRL_ERR_CANT_TO_START_VM_TEMPLATE },
		{ "contains snapshots", NULL, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE },
		{ "snapshot if it's a template", NULL, PRL_ERR_VM_REQUEST_NOT_SUPPORTED },
		{ "convert a vm to template if vm is running", NULL, PRL_ERR_DISP_VM_IS_NOT_STOPPED },
		{ "already used", NULL, PRL_ERR_ENTRY_ALREADY_EXISTS },
		{ "already running", NULL, PRL_ERR_VM_ALREADY_RUNNING },
		{ "already exists", NULL, PRL_ERR_VM_ALREADY_REGISTERED_VM_UUID },
		{ "is running - destroy failed", NULL, PRL_ERR_VM_CANT_DELETE_RUNNING },
		{ "not running", NULL, PRL_ERR_DISP_VM_IS_NOT_RUNNING },
		{ "permission check failed", NULL, PRL_ERR_ACCESS_DENIED },
		{ "interrupted by signal", NULL, PRL_ERR_OPERATION_WAS_CANCELED },
		{ "linked clone feature is not supported", NULL, PRL_ERR_VM_REQUEST_NOT_SUPPORTED },
		{ "full clone feature is not supported", NULL, PRL_ERR_VM_REQUEST_NOT_SUPPORTED },
		{ "no such task", NULL, PRL_ERR_TASK_NOT_FOUND },
	};
	if (message == NULL)
		return fallback;
	g_autofree char *low = g_ascii_strdown(message, -1);
	for (gsize i = 0; i < G_N_ELEMENTS(rules); i++)
		if (strstr(low, rules[i].a) != NULL && (rules[i].b == NULL || strstr(low, rules[i].b)))
			return rules[i].code;
	return fallback;
}

gboolean pve_error_is_locked(const GError *error)
{
	return error != NULL && error->domain == PK_ERROR &&
	       error->code == PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED;
}

/* "Parameter verification failed. (name: value does not look like ...; full: ...)" */
static char *error_message(const pk_http_response *resp)
{
	GString *m = g_string_new(resp->reason);
	g_strstrip(m->str);
	g_string_set_size(m, strlen(m->str));
	json_t *root = resp->body_len > 0 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
	json_t *errors = json_object_get(root, "errors");
	if (json_is_object(errors) && json_object_size(errors) > 0) {
		const char *k;
		json_t *v;
		gboolean first = TRUE;
		g_string_append(m, m->len ? " (" : "(");
		json_object_foreach(errors, k, v) {
			const char *text = json_string_value(v);
			g_string_append_printf(m, "%s%s: %s", first ? "" : "; ", k,
			                       text != NULL ? text : "invalid");
			first = FALSE;
		}
		g_string_append(m, ")");
	}
	json_decref(root);
	return g_string_free(m, FALSE);
}

static gboolean api_answer(pve_api *api, const pk_http_response *resp, guint flags, json_t **data,
                           GError **error)
{
	guint http_flags = (flags & PVE_CALL_VM) ? PK_HTTP_VM : 0;
	if (resp->status >= 200 && resp->status < 300) {
		json_error_t jerr;
		json_t *root = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, &jerr);
		if (!json_is_object(root)) {
			json_decref(root);
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED,
			            "invalid answer from %s (not JSON: %s)", pk_http_get_base_url(api->http),
			            root == NULL ? jerr.text : "not an object");
			return FALSE;
		}
		json_t *d = json_object_get(root, "data");
		if (data != NULL)
			*data = d != NULL ? json_incref(d) : json_null();
		json_decref(root);
		return TRUE;
	}

	g_autofree char *msg = error_message(resp);
	if (resp->status == 401) {
		g_autofree char *m = g_strdup_printf("authentication failed for %s: %s", api->who,
		                                     *msg ? msg : "invalid credentials");
		return pk_http_status_error(resp->status, http_flags, m, error);
	}
	GError *err = NULL;
	pk_http_status_error(resp->status, http_flags, msg, &err);
	/* Proxmox answers most failures with a 500 whose reason says what happened. */
	if (err->code == PRL_ERR_OPERATION_FAILED)
		err->code = pve_error_code_for_message(resp->reason, PRL_ERR_OPERATION_FAILED);
	g_propagate_error(error, err);
	return FALSE;
}

/* ---------- tickets ---------- */

static gboolean api_login(pve_api *api, const char *old_ticket, char **ticket, char **csrf,
                          GCancellable *cancel, GError **error)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		/* Renewing with the current ticket as the password avoids resending the password. */
		const char *secret = attempt == 0 && old_ticket != NULL ? old_ticket : api->password;
		if (attempt == 1 && old_ticket == NULL)
			break;
		g_autoptr(GString) form = g_string_new(NULL);
		pk_http_form_add(form, "username", api->username);
		pk_http_form_add(form, "password", secret);
		const char *headers[] = { "Accept: application/json", NULL };
		pk_http_request req = {
			.method = "POST", .path = PVE_API_PREFIX "/access/ticket", .headers = headers,
			.content_type = "application/x-www-form-urlencoded", .body = form->str,
			.body_len = form->len,
		};
		g_autoptr(pk_http_response) resp = NULL;
		if (!pk_http_send(api->http, &req, &resp, cancel, error))
			return FALSE;
		if (resp->status == 401 && attempt == 0 && old_ticket != NULL) {
			PK_DEBUG("ticket renewal refused; logging in with the password");
			continue;
		}
		g_autoptr(json_t) data = NULL;
		if (!api_answer(api, resp, 0, &data, error))
			return FALSE;
		const char *t = json_string_value(json_object_get(data, "ticket"));
		const char *c = json_string_value(json_object_get(data, "CSRFPreventionToken"));
		if (t == NULL || c == NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_AUTHENTICATION_FAILED,
			            "authentication failed for %s: no ticket in the answer", api->who);
			return FALSE;
		}
		pk_log_add_secret(t);
		pk_log_add_secret(c);
		*ticket = g_strdup(t);
		*csrf = g_strdup(c);
		return TRUE;
	}
	g_set_error(error, PK_ERROR, PRL_ERR_AUTHENTICATION_FAILED,
	            "authentication failed for %s", api->who);
	return FALSE;
}

/* A usable ticket: the current one unless it is due for renewal, or newer than the
 * generation that was just refused (bad_gen, 0 = none). One login at a time; no lock is
 * held during the request. */
static gboolean api_ticket(pve_api *api, guint bad_gen, char **ticket, char **csrf, guint *gen,
                           GCancellable *cancel, GError **error)
{
	g_mutex_lock(&api->lock);
	for (;;) {
		if (api->login_running) {
			g_cond_wait_until(&api->login_cond, &api->lock, g_get_monotonic_time() + 50000);
			if (g_cancellable_is_cancelled(cancel)) {
				g_mutex_unlock(&api->lock);
				g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED,
				            "operation cancelled");
				return FALSE;
			}
			continue;
		}
		gint64 age_ms = pk_time_wall_ms() - api->ticket_ms;
		gboolean fresh = api->ticket != NULL && age_ms >= 0 &&
		                 age_ms < (gint64)api->ticket_renew_s * 1000;
		if (fresh && (bad_gen == 0 || api->ticket_gen != bad_gen)) {
			*ticket = g_strdup(api->ticket);
			*csrf = g_strdup(api->csrf);
			*gen = api->ticket_gen;
			g_mutex_unlock(&api->lock);
			return TRUE;
		}
		/* Renew with the old ticket only while Proxmox still accepts it (< 2 h). */
		g_autofree char *old = NULL;
		if (api->ticket != NULL && bad_gen != api->ticket_gen && age_ms >= 0 &&
		    age_ms < 7000 * 1000)
			old = g_strdup(api->ticket);
		api->login_running = TRUE;
		g_mutex_unlock(&api->lock);

		char *t = NULL, *c = NULL;
		gboolean ok = api_login(api, old, &t, &c, cancel, error);
		if (old != NULL)
			PK_DEBUG("Proxmox ticket %s", ok ? "renewed" : "renewal failed");

		g_mutex_lock(&api->lock);
		api->login_running = FALSE;
		if (ok) {
			g_free(api->ticket);
			g_free(api->csrf);
			api->ticket = t;
			api->csrf = c;
			api->ticket_ms = pk_time_wall_ms();
			api->ticket_gen++;
			bad_gen = 0;
		}
		g_cond_broadcast(&api->login_cond);
		if (!ok) {
			g_mutex_unlock(&api->lock);
			return FALSE;
		}
	}
}

/* ---------- calls ---------- */

gboolean pve_api_call(pve_api *api, const char *method, const char *path, const char *form,
                      guint flags, json_t **data, GCancellable *cancel, GError **error)
{
	gboolean query = g_ascii_strcasecmp(method, "GET") == 0 ||
	                 g_ascii_strcasecmp(method, "DELETE") == 0;
	gboolean has_form = form != NULL && *form != '\0';
	g_autofree char *full = g_strconcat(PVE_API_PREFIX, path, query && has_form ? "?" : "",
	                                    query && has_form ? form : "", NULL);
	guint bad_gen = 0;

	if (data != NULL)
		*data = NULL;
	for (int attempt = 0;; attempt++) {
		g_autofree char *ticket = NULL, *csrf = NULL;
		g_autofree char *cookie = NULL, *csrf_header = NULL;
		guint gen = 0;
		const char *headers[4] = { "Accept: application/json", NULL, NULL, NULL };
		if (api->token_header != NULL) {
			headers[1] = api->token_header;
		} else {
			if (!api_ticket(api, bad_gen, &ticket, &csrf, &gen, cancel, error))
				return FALSE;
			g_autofree char *esc = pk_http_escape(ticket);
			cookie = g_strdup_printf("Cookie: PVEAuthCookie=%s", esc);
			headers[1] = cookie;
			if (g_ascii_strcasecmp(method, "GET") != 0) {
				csrf_header = g_strdup_printf("CSRFPreventionToken: %s", csrf);
				headers[2] = csrf_header;
			}
		}
		pk_http_request req = {
			.method = method, .path = full, .headers = headers,
			.content_type = !query ? "application/x-www-form-urlencoded" : NULL,
			.body = !query ? (form != NULL ? form : "") : NULL,
			.body_len = !query && form != NULL ? strlen(form) : 0,
			.flags = (g_ascii_strcasecmp(method, "GET") == 0 ? PK_HTTP_IDEMPOTENT : 0) |
			         ((flags & PVE_CALL_VM) ? PK_HTTP_VM : 0),
		};
		g_autoptr(pk_http_response) resp = NULL;
		if (!pk_http_send(api->http, &req, &resp, cancel, error))
			return FALSE;
		/* An expired or revoked ticket: log in again once. A 401 means Proxmox did not
		 * run the request, so sending it again is safe whatever it is. */
		if (resp->status == 401 && api->token_header == NULL && attempt == 0) {
			PK_DEBUG("Proxmox refused the ticket (%s); logging in again", resp->reason);
			bad_gen = gen;
			continue;
		}
		return api_answer(api, resp, flags, data, error);
	}
}

gboolean pve_api_call_retry_locked(pve_api *api, const char *method, const char *path,
                                   const char *form, guint flags, json_t **data,
                                   GCancellable *cancel, GError **error)
{
	gint64 deadline = pk_time_mono_us() + (gint64)api->lock_wait_ms * 1000;
	guint delay = 250;
	for (;;) {
		GError *err = NULL;
		if (pve_api_call(api, method, path, form, flags, data, cancel, &err))
			return TRUE;
		if (!pve_error_is_locked(err) || pk_time_mono_us() + (gint64)delay * 1000 > deadline) {
			g_propagate_error(error, err);
			return FALSE;
		}
		PK_DEBUG("%s %s: %s; retrying in %u ms", method, path, err->message, delay);
		g_error_free(err);
		if (!pk_time_sleep_ms(delay, cancel)) {
			g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_WAS_CANCELED, "operation cancelled");
			return FALSE;
		}
		delay = MIN(delay * 2, 2000);
	}
}

/* ---------- life cycle ---------- */

pve_api *pve_api_new(const pve_settings *s, GError **error)
{
	pk_http_options o = {
		.base_url = s->base_url,
		.ca_file = s->ca_file,
		.tls_fingerprint = s->tls_fingerprint,
		.insecure_skip_verify = s->insecure_skip_verify,
		.connect_timeout_ms = s->connect_timeout_ms,
		.timeout_ms = s->request_timeout_ms,
		.max_parallel = s->max_parallel,
		.max_retries = -1,
	};
	pk_http *http = pk_http_new(&o, error);
	if (http == NULL)
		return NULL;
	pve_api *api = g_new0(pve_api, 1);
	api->http = http;
	g_mutex_init(&api->lock);
	g_cond_init(&api->login_cond);
	api->ticket_renew_s = s->ticket_renew_s;
	api->lock_wait_ms = s->lock_wait_ms;
	api->username = g_strdup(s->username);
	if (s->token_id != NULL) {
		api->who = g_strdup_printf("API token %s", s->token_id);
		api->token_header = g_strdup_printf("Authorization: PVEAPIToken=%s=%s", s->token_id,
		                                    s->token_secret);
	} else {
		api->who = g_strdup(s->username);
		api->password = g_strdup(s->password);
	}
	return api;
}

void pve_api_free(pve_api *api)
{
	if (api == NULL)
		return;
	pk_http_free(api->http);
	g_mutex_clear(&api->lock);
	g_cond_clear(&api->login_cond);
	g_free(api->who);
	if (api->token_header != NULL)
		memset(api->token_header, 0, strlen(api->token_header));
	g_free(api->token_header);
	if (api->password != NULL)
		memset(api->password, 0, strlen(api->password));
	g_free(api->password);
	g_free(api->username);
	g_free(api->ticket);
	g_free(api->csrf);
	g_free(api);
}

void pve_api_get_stats(pve_api *api, pk_http_stats *out)
{
	pk_http_get_stats(api->http, out);
}

/* Proxmox VE: connection settings (CPF.md §6, doc/drivers/pve.md) and the features they
 * give the driver. Parse leniently ("30", "true"), validate strictly, name the key. */
#include "config.h"

#include <string.h>

#include "pve-private.h"
#include "util-log.h"
#include "util-settings.h"

#define PVE_DEFAULT_TEMPLATE_TAG "prlkit-template"
#define PVE_DEFAULT_BASE_SNAPSHOT "RAS Template Snapshot"

/* A trimmed, non-empty copy of a setting, or NULL. */
static char *opt_str(GHashTable *s, const char *key)
{
	const char *v = s != NULL ? g_hash_table_lookup(s, key) : NULL;
	if (v == NULL)
		return NULL;
	char *t = g_strstrip(g_strdup(v));
	if (*t == '\0')
		g_clear_pointer(&t, g_free);
	return t;
}

static gboolean bad(GError **error, const char *key, const char *why)
{
	g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM, "invalid setting '%s': %s", key, why);
	return FALSE;
}

static gboolean get_ms(GHashTable *s, const char *key, double def_s, double min_s, double max_s,
                       guint *out, GError **error)
{
	double v;
	if (!pk_settings_get_double(s, key, def_s, min_s, max_s, &v, error))
		return FALSE;
	*out = (guint)(v * 1000.0 + 0.5);
	return TRUE;
}

static gboolean get_uint(GHashTable *s, const char *key, gint64 def, gint64 min, gint64 max,
                         guint *out, GError **error)
{
	gint64 v;
	if (!pk_settings_get_int(s, key, def, min, max, &v, error))
		return FALSE;
	*out = (guint)v;
	return TRUE;
}

static gboolean tag_valid(const char *t)
{
	return t != NULL && (g_ascii_isalnum(t[0]) || t[0] == '_') &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_-+.") == strlen(t);
}

static gboolean node_valid(const char *n)
{
	return n != NULL && *n != '\0' && strlen(n) <= 63 &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
	           strlen(n);
}

/* Proxmox's "pve-storage-id". */
static gboolean storage_id_valid(const char *id)
{
	gsize n = strlen(id);
	return n >= 2 && g_ascii_isalpha(id[0]) && g_ascii_isalnum(id[n - 1]) &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

gboolean pve_settings_parse(GHashTable *settings, GUri *uri, pve_settings *out, GError **error)
{
	static const char *const template_modes[] = { "tag", "native", NULL };
	static const char *const stop_modes[] = { "shutdown", "stop", NULL };
	static const char *const suspend_modes[] = { "hibernate", "pause", NULL };
	memset(out, 0, sizeof *out);
	/* Declared before the first goto: cleanup runs on every path. */
	g_autofree char *host = opt_str(settings, "host");
	g_autofree char *user = opt_str(settings, "username");
	g_autofree char *realm = opt_str(settings, "realm");
	g_autofree char *token_name = opt_str(settings, "token_name");

	/* Where: "host" (with or without scheme and port), else the URI's host and port. */
	if (host == NULL && uri != NULL && g_uri_get_host(uri) != NULL && *g_uri_get_host(uri)) {
		const char *h = g_uri_get_host(uri);
		gboolean v6 = strchr(h, ':') != NULL;
		int port = g_uri_get_port(uri);
		host = port > 0 ? g_strdup_printf("%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "", port)
		                : g_strdup_printf("%s%s%s", v6 ? "[" : "", h, v6 ? "]" : "");
	}
	if (host == NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "missing required setting 'host' (the Proxmox VE node, e.g. pve1.example:8006)");
		goto fail;
	}
	out->base_url = pk_http_base_url_from_host(host, PVE_DEFAULT_PORT, "host", error);
	if (out->base_url == NULL)
		goto fail;

	/* Who: an API token (preferred), or user + password (tickets). */
	if (user == NULL)
		user = opt_str(settings, "user");
	out->token_secret = opt_str(settings, "token_secret");
	out->password = opt_str(settings, "password");
	if (user != NULL && strchr(user, '@') == NULL)
		out->username = g_strdup_printf("%s@%s", user, realm != NULL ? realm : "pam");
	else
		out->username = g_strdup(user);

	if (out->token_secret != NULL) {
		if (token_name == NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "missing required setting 'token_name' (the API token's name, "
			            "e.g. 'automation' for root@pam!automation)");
			goto fail;
		}
		if (strchr(token_name, '!') != NULL) {
			/* A full token id "user@realm!name". */
			out->token_id = g_strdup(token_name);
			if (out->username == NULL)
				out->username = g_strndup(token_name, strchr(token_name, '!') - token_name);
		} else if (out->username == NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "missing required setting 'username' (the token's user, e.g. root@pam)");
			goto fail;
		} else {
			out->token_id = g_strdup_printf("%s!%s", out->username, token_name);
		}
		if (strpbrk(out->token_id, "=\r\n ") != NULL) {
			bad(error, "token_name", "must not contain '=', spaces or line breaks");
			goto fail;
		}
		if (out->password != NULL)
			g_info("both an API token and a password are set; using the API token");
		g_clear_pointer(&out->password, g_free);
	} else if (out->password != NULL) {
		if (out->username == NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
			            "missing required setting 'username' (e.g. root@pam)");
			goto fail;
		}
		if (strlen(out->username) > 64) {   /* POST /access/ticket refuses longer ones */
			bad(error, "username", "longer than Proxmox's 64 characters");
			goto fail;
		}
	} else {
		g_set_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM,
		            "missing required setting 'token_secret' (an API token, preferred, "
		            "with 'token_name') or 'password' (with 'username')");
		goto fail;
	}
	if (out->token_secret != NULL && strpbrk(out->token_secret, "\r\n") != NULL) {
		bad(error, "token_secret", "must not contain line breaks");
		goto fail;
	}

	out->node = opt_str(settings, "node");
	if (out->node != NULL && !node_valid(out->node)) {
		bad(error, "node", "not a Proxmox node name");
		goto fail;
	}

	const char *choice;
	if (!pk_settings_get_choice(settings, "template_mode", "tag", template_modes, &choice, error))
		goto fail;
	out->template_mode = strcmp(choice, "native") == 0 ? PVE_TEMPLATE_NATIVE : PVE_TEMPLATE_TAG;
	out->template_tag = opt_str(settings, "template_tag");
	if (out->template_tag == NULL)
		out->template_tag = g_strdup(PVE_DEFAULT_TEMPLATE_TAG);
	if (!tag_valid(out->template_tag)) {
		bad(error, "template_tag", "Proxmox tags use lower-case letters, digits, '_', '-', "
		                           "'+' and '.'");
		goto fail;
	}
	out->base_snapshot = opt_str(settings, "native_base_snapshot");
	if (out->base_snapshot == NULL)
		out->base_snapshot = g_strdup(PVE_DEFAULT_BASE_SNAPSHOT);
	if (!pk_settings_get_bool(settings, "full_clone", FALSE, &out->full_clone, error))
		goto fail;
	if (!pk_settings_get_choice(settings, "stop_mode", "shutdown", stop_modes, &choice, error))
		goto fail;
	out->stop_hard = strcmp(choice, "stop") == 0;
	if (!get_uint(settings, "force_stop_after", 60, 1, 3600, &out->force_stop_after_s, error))
		goto fail;
	if (!pk_settings_get_choice(settings, "suspend_mode", "hibernate", suspend_modes, &choice,
	                            error))
		goto fail;
	out->suspend_mode = strcmp(choice, "pause") == 0 ? PVE_SUSPEND_PAUSE : PVE_SUSPEND_HIBERNATE;
	out->storage = opt_str(settings, "storage");
	if (out->storage != NULL && !storage_id_valid(out->storage)) {
		bad(error, "storage", "not a Proxmox storage id (a letter, then letters, digits, "
		                      "'-', '_' or '.', ending in a letter or digit)");
		goto fail;
	}

	/* Transport */
	out->ca_file = opt_str(settings, "ca_file");
	out->tls_fingerprint = opt_str(settings, "tls_fingerprint");
	if (out->tls_fingerprint != NULL) {
		guint8 fp[32];
		if (!pk_http_parse_fingerprint(out->tls_fingerprint, fp, error))
			goto fail;
	}
	if (!pk_settings_get_bool(settings, "insecure_skip_verify", FALSE,
	                          &out->insecure_skip_verify, error))
		goto fail;
	if (!get_ms(settings, "request_timeout", 30, 0.1, 3600, &out->request_timeout_ms, error) ||
	    !get_ms(settings, "connect_timeout", 10, 0.1, 600, &out->connect_timeout_ms, error) ||
	    !get_uint(settings, "max_parallel", 4, 1, 32, &out->max_parallel, error))
		goto fail;

	/* Caches and waits */
	if (!get_uint(settings, "inventory_cache_ms", 2000, 0, 600000, &out->inventory_ttl_ms,
	              error) ||
	    !get_ms(settings, "config_cache_ttl", 300, 0, 86400, &out->config_ttl_ms, error) ||
	    !get_ms(settings, "ip_cache_ttl", 60, 0, 86400, &out->ip_ttl_ms, error) ||
	    !get_ms(settings, "ip_retry", 10, 0, 3600, &out->ip_retry_ms, error) ||
	    !get_ms(settings, "lock_wait", 30, 0, 3600, &out->lock_wait_ms, error) ||
	    !get_uint(settings, "task_poll_ms", 500, 10, 60000, &out->task_poll_ms, error) ||
	    !get_uint(settings, "ticket_renew", 3600, 1, 7000, &out->ticket_renew_s, error))
		goto fail;
	return TRUE;

fail:
	pve_settings_clear(out);
	return FALSE;
}

void pve_settings_clear(pve_settings *s)
{
	g_free(s->base_url);
	g_free(s->username);
	g_free(s->token_id);
	g_free(s->token_secret);
	g_free(s->password);
	g_free(s->node);
	g_free(s->template_tag);
	g_free(s->base_snapshot);
	g_free(s->storage);
	g_free(s->ca_file);
	g_free(s->tls_fingerprint);
	memset(s, 0, sizeof *s);
}

/* tag mode: templates are VMs with a tag, so they can become VMs again and keep snapshots
 * (template versions work); Proxmox clones normal VMs in full only.
 * native mode: Proxmox templates, which allow linked clones but never become VMs again
 * (no REVERSIBLE_TEMPLATES, so no template versions); a clone "from" the template's base
 * snapshot (native_base_snapshot) is a clone of the template itself.
 * Bad values give the defaults here; open reports them. */
guint64 pve_features_for(GHashTable *settings)
{
	static const char *const template_modes[] = { "tag", "native", NULL };
	static const char *const suspend_modes[] = { "hibernate", "pause", NULL };
	const char *mode = "tag", *suspend = "hibernate";
	gboolean full_clone = FALSE;
	g_autoptr(GError) ignored = NULL;

	if (!pk_settings_get_choice(settings, "template_mode", "tag", template_modes, &mode, &ignored))
		mode = "tag";
	g_clear_error(&ignored);
	if (!pk_settings_get_bool(settings, "full_clone", FALSE, &full_clone, &ignored))
		full_clone = FALSE;
	g_clear_error(&ignored);
	if (!pk_settings_get_choice(settings, "suspend_mode", "hibernate", suspend_modes, &suspend,
	                            &ignored))
		suspend = "hibernate";

	guint64 f = PRLK_FEAT_SUSPEND | PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE |
	            PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_TEMPLATES | PRLK_FEAT_GUEST_IPS |
	            PRLK_FEAT_RESET | PRLK_FEAT_RESTART | PRLK_FEAT_EDIT | PRLK_FEAT_STATISTICS |
	            PRLK_FEAT_TASK_IDS | PRLK_FEAT_DELETE;
	if (strcmp(mode, "native") == 0) {
		if (!full_clone)
			f |= PRLK_FEAT_LINKED_CLONE;
	} else {
		f |= PRLK_FEAT_REVERSIBLE_TEMPLATES;
	}
	if (strcmp(suspend, "pause") == 0)
		f |= PRLK_FEAT_PAUSE;
	return f;
}

/* prlkit-cpf — CPF methods mapped onto the public prlkit API (CPF.md §3–§6). MIT license.
 *
 * Everything here runs on the main thread, one request at a time. Work that takes time is
 * started as a job; we wait only until the platform accepted it (PrlJob_GetTaskId, bounded)
 * and hand RAS a task id that any prlkit-cpf process resolves with PrlSrv_GetTaskInfo. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <prlkit/Parallels.h>

#include "cpf-capabilities.h"
#include "cpf-log.h"
#include "cpf-methods.h"

/* Settings prlkit-cpf consumes itself; the library never sees them. */
static const char *const cpf_own_settings[] = {
	"guests_polling_rate", "tasks_polling_rate", "tasks_polling_retries", "wait_timeout",
	"log_level", NULL,
};

struct cpf_ctx {
	const cpf_options *opts;        /* immutable, owned by main */
	json_t *preconnect;             /* immutable: defaults + command line, for initialize */
	guint64 preconnect_features;    /* immutable */

	/* main thread only, as everything below */
	PRL_HANDLE server;              /* PRL_INVALID_HANDLE while not connected */
	char *driver;                   /* driver name of the connection */
	guint64 features;               /* feature bits of the connection */
	json_t *settings;               /* merged settings of the connection (with own keys) */
	guint wait_ms;                  /* bounded wait in effect */
	guint64 deadline;               /* monotonic us: the current request's wait budget */
	cpf_request *current;           /* the request being dispatched (its prefetched read) */
	gboolean advertised_valid;      /* provider/initialize was answered */
	cpf_caps advertised;            /* what it answered */
};

/* ---- small helpers ---- */

static void
handle_free(PRL_HANDLE *h)
{
	if (*h != PRL_INVALID_HANDLE) {
		PrlHandle_Free(*h);
		*h = PRL_INVALID_HANDLE;
	}
}
#define cpf_handle __attribute__((cleanup(handle_free))) PRL_HANDLE

/* A JSON string of text from the platform or the caller: always a string, valid UTF-8
 * (json_string would give NULL for bad bytes and drop the member). */
static json_t *
jstr(const char *s)
{
	if (!s)
		return json_string("");
	if (g_utf8_validate(s, -1, NULL))
		return json_string(s);
	{
		g_autofree char *valid = g_utf8_make_valid(s, -1);
		return json_string(valid);
	}
}

typedef PRL_RESULT (*str_getter)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR);

/* A string out of an SDK-style getter; NULL on failure. */
static char *
get_str(PRL_HANDLE h, str_getter fn)
{
	char buf[256];
	PRL_UINT32 len = sizeof(buf);
	PRL_RESULT r = fn(h, buf, &len);

	if (PRL_SUCCEEDED(r))
		return g_strdup(buf);
	if (r == PRL_ERR_BUFFER_OVERRUN && len > 0 && len < 64 * 1024 * 1024) {
		char *big = g_malloc(len);
		if (PRL_SUCCEEDED(fn(h, big, &len)))
			return big;
		g_free(big);
	}
	return NULL;
}

static PRL_RESULT
err_string_getter(PRL_HANDLE h, PRL_STR buf, PRL_UINT32_PTR len)
{
	return PrlEvent_GetErrString(h, PRL_FALSE, PRL_FALSE, buf, len);
}

typedef PRL_RESULT (*indexed_str_getter)(PRL_HANDLE, PRL_UINT32, PRL_STR, PRL_UINT32_PTR);

/* Item i of a list or result as a string (PrlStrList_GetItem,
 * PrlResult_GetParamByIndexAsString); NULL on failure. */
static char *
get_indexed_str(PRL_HANDLE h, PRL_UINT32 i, indexed_str_getter fn)
{
	char buf[256];
	PRL_UINT32 len = sizeof(buf);
	PRL_RESULT r = fn(h, i, buf, &len);

	if (PRL_SUCCEEDED(r))
		return g_strdup(buf);
	if (r == PRL_ERR_BUFFER_OVERRUN && len > 0 && len < 1024 * 1024) {
		char *big = g_malloc(len);
		if (PRL_SUCCEEDED(fn(h, i, big, &len)))
			return big;
		g_free(big);
	}
	return NULL;
}

static char *
strlist_item(PRL_HANDLE list, PRL_UINT32 i)
{
	return get_indexed_str(list, i, PrlStrList_GetItem);
}

static char *
result_param_string(PRL_HANDLE result, PRL_UINT32 i)
{
	return get_indexed_str(result, i, PrlResult_GetParamByIndexAsString);
}

/* Drops a "prlkit: " prefix and a trailing " (PRL_ERR_...)" the library may have put on a
 * message: ours come around it once. Edits in place. */
static char *
strip_decorations(char *text)
{
	gsize len;
	char *open;

	if (g_str_has_prefix(text, "prlkit: "))
		memmove(text, text + 8, strlen(text + 8) + 1);
	g_strchomp(text);
	len = strlen(text);
	if (len > 0 && text[len - 1] == ')' && (open = g_strrstr(text, " (PRL_")) &&
	    strspn(open + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == (gsize)(text + len - 1 - (open + 2)))
		*open = '\0';
	return text;
}

/* The platform's message of a failed job (never empty). */
static char *
job_error_text(PRL_HANDLE job, PRL_RESULT rc)
{
	cpf_handle err = PRL_INVALID_HANDLE;
	char *text = NULL;

	if (PRL_SUCCEEDED(PrlJob_GetError(job, &err)))
		text = get_str(err, err_string_getter);
	if (!text || !*text) {
		char buf[512];
		PRL_UINT32 len = sizeof(buf);
		g_free(text);
		text = PRL_SUCCEEDED(PrlApi_GetResultDescription(rc, PRL_TRUE, PRL_FALSE, buf, &len))
		       ? g_strdup(buf) : g_strdup("operation failed");
	}
	return strip_decorations(text);
}

/* Top-level code for a PRL_RESULT: what the caller sent is wrong, or the platform failed. */
static int
code_for_result(PRL_RESULT rc)
{
	switch (rc) {
	case PRL_ERR_INVALID_ARG:
	case PRL_ERR_INVALID_PARAM:
	case PRL_ERR_PARAM_NOT_FOUND:
	case PRL_ERR_VM_SNAPSHOT_NOT_FOUND:
	case PRL_ERR_TASK_NOT_FOUND:
		return CPF_CODE_PARAMS;
	default:
		return CPF_CODE_INTERNAL;
	}
}

/* err from a failed job; `what` names the action ("start guest '104'"). */
static void
set_job_error(cpf_error *err, PRL_HANDLE job, PRL_RESULT rc, const char *what, const char *id)
{
	g_autofree char *text = job_error_text(job, rc);

	if (rc == PRL_ERR_VM_UUID_NOT_FOUND && id)
		cpf_error_set(err, CPF_CODE_INTERNAL, rc, "guest '%s' not found", id);
	else
		cpf_error_set(err, code_for_result(rc), rc, "%s: %s", what, text);
}

static void
cancel_job(PRL_HANDLE job)
{
	cpf_handle c = PrlJob_Cancel(job);
	(void)c;
}

static guint64
deadline_after(guint ms)
{
	return (guint64)g_get_monotonic_time() + (guint64)ms * 1000;
}

static guint
ms_left(guint64 deadline)
{
	gint64 now = g_get_monotonic_time();
	return now >= (gint64)deadline ? 0 : (guint)(((gint64)deadline - now) / 1000);
}

/* Waits (bounded) for a quick job and checks its outcome. */
static gboolean
wait_job(cpf_ctx *ctx, PRL_HANDLE job, const char *what, const char *id, cpf_error *err)
{
	PRL_RESULT r, rc = PRL_ERR_UNEXPECTED;

	if (job == PRL_INVALID_HANDLE) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
		return FALSE;
	}
	r = PrlJob_Wait(job, ms_left(ctx->deadline));
	if (r == PRL_ERR_TIMEOUT) {
		cancel_job(job);
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_TIMEOUT,
		              "%s: no answer from the platform within %u s", what, ctx->wait_ms / 1000);
		return FALSE;
	}
	if (PRL_FAILED(PrlJob_GetRetCode(job, &rc)))
		rc = PRL_FAILED(r) ? r : PRL_ERR_UNEXPECTED;
	if (PRL_FAILED(rc)) {
		set_job_error(err, job, rc, what, id);
		return FALSE;
	}
	return TRUE;
}

/* First result param of a finished job (a new handle), or PRL_INVALID_HANDLE. */
static PRL_HANDLE
job_first_param(PRL_HANDLE job)
{
	cpf_handle result = PRL_INVALID_HANDLE;
	PRL_HANDLE param = PRL_INVALID_HANDLE;

	if (PRL_FAILED(PrlJob_GetResult(job, &result)))
		return PRL_INVALID_HANDLE;
	if (PRL_FAILED(PrlResult_GetParam(result, &param)))
		return PRL_INVALID_HANDLE;
	return param;
}

/* ---- settings and driver selection ---- */

/* The driver a URI belongs to: "sim://…" → sim, "libvirt+qemu://…" → libvirt. Plain
 * libvirt URIs ("qemu:///system", "test:///default") are libvirt's. */
static char *
driver_of_uri(const char *uri)
{
	static const char *const libvirt_schemes[] = {
		"qemu", "test", "xen", "lxc", "vbox", "esx", "vmwareesx", "bhyve", "ch", NULL,
	};
	const char *colon = strchr(uri, ':');
	g_autofree char *scheme = NULL;
	char *plus;

	if (!colon)
		return g_ascii_strdown(uri, -1);
	scheme = g_ascii_strdown(uri, colon - uri);
	if ((plus = strchr(scheme, '+')))
		*plus = '\0';
	if (g_strv_contains(libvirt_schemes, scheme))
		return g_strdup("libvirt");
	return g_steal_pointer(&scheme);
}

static const char *
json_str_member(json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	while (s && g_ascii_isspace(*s))
		s++;
	return s && *s ? s : NULL;
}

/* The driver a settings layer selects (its "driver", else the driver of its "uri"). */
static char *
layer_driver(json_t *layer)
{
	const char *d = json_str_member(layer, "driver");
	const char *u = json_str_member(layer, "uri");

	if (d)
		return g_strstrip(g_ascii_strdown(d, -1));
	if (u)
		return driver_of_uri(u);
	return NULL;
}

/* Drops a lower layer's "driver"/"uri" unless they agree with the chosen driver. */
static void
layer_drop_foreign_selection(json_t *layer, const char *chosen)
{
	const char *d = json_str_member(layer, "driver");
	const char *u = json_str_member(layer, "uri");
	g_autofree char *dd = d ? g_strstrip(g_ascii_strdown(d, -1)) : NULL;
	g_autofree char *ud = u ? driver_of_uri(u) : NULL;

	if (dd && strcmp(dd, chosen) != 0)
		json_object_del(layer, "driver");
	/* A driver-specific "uri" (libvirt's) travels with its driver. */
	if (ud && strcmp(dd ? dd : ud, chosen) != 0)
		json_object_del(layer, "uri");
}

/* Settings layers, lowest first, merged: the --settings file, the command line (--driver,
 * --uri) and what provider/connect sent. The highest layer that selects a driver wins;
 * lower layers keep their selection keys only where they agree with it. */
static json_t *
merge_settings(const cpf_options *opts, json_t *sent)
{
	json_t *file = json_deep_copy(opts->defaults ? opts->defaults : json_object());
	json_t *cli = json_object();
	json_t *layers[3];
	json_t *merged = json_object();
	g_autofree char *chosen = NULL;

	if (opts->driver)
		json_object_set_new(cli, "driver", jstr(opts->driver));
	if (opts->uri)
		json_object_set_new(cli, "uri", jstr(opts->uri));
	layers[0] = file;
	layers[1] = cli;
	layers[2] = sent ? json_deep_copy(sent) : json_object();
	for (int i = 2; i >= 0 && !chosen; i--) {
		chosen = layer_driver(layers[i]);
		if (chosen)
			for (int j = i - 1; j >= 0; j--)
				layer_drop_foreign_selection(layers[j], chosen);
	}
	for (int i = 0; i < 3; i++) {
		json_object_update(merged, layers[i]);
		json_decref(layers[i]);
	}
	/* A null value means "not set" (CPF.md: values may be null or strings). */
	{
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(merged, tmp, k, v)
			if (json_is_null(v))
				json_object_del(merged, k);
	}
	return merged;
}

/* The selection and settings text handed to the library. sUriOrDriver is the driver name
 * when one is given (driver-specific "uri" keys, e.g. libvirt's, stay in the settings),
 * else the prlkit URI, else NULL (the library's default). */
static void
library_selection(json_t *merged, char **target, char **settings_json)
{
	json_t *lib = json_deep_copy(merged);
	const char *d = json_str_member(lib, "driver");
	const char *u = json_str_member(lib, "uri");

	if (d) {
		*target = g_strstrip(g_strdup(d));
		json_object_del(lib, "driver");
	} else if (u) {
		*target = g_strstrip(g_strdup(u));
		json_object_del(lib, "uri");
	} else {
		/* Nothing chose: the library's default connection, as PrlSrv_LoginLocal uses. */
		const char *def = g_getenv("PRLKIT_DEFAULT_URI");
		*target = g_strdup(def && *def ? def : "sim");
	}
	for (int i = 0; cpf_own_settings[i]; i++)
		json_object_del(lib, cpf_own_settings[i]);
	*settings_json = json_dumps(lib, JSON_COMPACT);
	json_decref(lib);
}

/* Whole seconds from a number or a string; FALSE if it is neither. */
static gboolean
json_seconds(json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return TRUE;
	}
	if (json_is_string(v)) {
		g_autofree char *s = g_strstrip(g_strdup(json_string_value(v)));
		char *end = NULL;
		double d = g_ascii_strtod(s, &end);
		if (*s && end && *end == '\0') {
			*out = d;
			return TRUE;
		}
	}
	return FALSE;
}

/* ---- driver display names ---- */

const char *
cpf_driver_display_name(const char *driver)
{
	static const struct { const char *name, *display; } names[] = {
		{ "sim", "prlkit simulator" },
		{ "pve", "Proxmox VE" },
		{ "proxmox", "Proxmox VE" },
		{ "libvirt", "libvirt" },
	};

	if (!driver)
		return "prlkit";
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		if (g_ascii_strcasecmp(driver, names[i].name) == 0)
			return names[i].display;
	return driver;
}

/* ---- context ---- */

cpf_ctx *
cpf_ctx_new(const cpf_options *opts, GError **error)
{
	cpf_ctx *ctx = g_new0(cpf_ctx, 1);
	g_autofree char *target = NULL, *settings = NULL;
	PRL_UINT64 features = 0;
	PRL_RESULT r;

	ctx->opts = opts;
	ctx->server = PRL_INVALID_HANDLE;
	ctx->wait_ms = opts->wait_ms;
	ctx->preconnect = merge_settings(opts, NULL);
	library_selection(ctx->preconnect, &target, &settings);
	r = PrlApi_GetDriverFeatures(target, settings, &features);
	if (PRL_FAILED(r)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "no usable driver for '%s' (%s)", target ? target : "(default)",
		            prl_result_to_string(r));
		cpf_ctx_free(ctx);
		return NULL;
	}
	ctx->preconnect_features = features;
	g_debug("command-line driver '%s': features 0x%" G_GINT64_MODIFIER "x",
	        target ? target : "(default)", (guint64)features);
	return ctx;
}

static void
ctx_disconnect(cpf_ctx *ctx, gboolean wait)
{
	if (ctx->server == PRL_INVALID_HANDLE)
		return;
	if (wait) {
		cpf_handle job = PrlSrv_Logoff(ctx->server);
		if (job != PRL_INVALID_HANDLE && PrlJob_Wait(job, MIN(ctx->wait_ms, 5000u)) ==
		    PRL_ERR_TIMEOUT)
			g_warning("disconnect from '%s' is taking long; not waiting", ctx->driver);
	}
	handle_free(&ctx->server);
	g_clear_pointer(&ctx->driver, g_free);
	if (ctx->settings) {
		json_decref(ctx->settings);
		ctx->settings = NULL;
	}
	ctx->features = 0;
	ctx->wait_ms = ctx->opts->wait_ms;
}

void
cpf_ctx_free(cpf_ctx *ctx)
{
	if (!ctx)
		return;
	/* EOF must not wait for the platform (CPF.md §1): drop the connection as it is. */
	ctx_disconnect(ctx, FALSE);
	if (ctx->preconnect)
		json_decref(ctx->preconnect);
	g_free(ctx);
}

/* ---- params ---- */

/* The "id" param: a non-blank string, or a one-element array holding one. */
static char *
param_id(json_t *params, const char *key, cpf_error *err)
{
	json_t *v = json_object_get(params, key);
	g_autofree char *s = NULL;

	if (json_is_array(v) && json_array_size(v) == 1)
		v = json_array_get(v, 0);
	if (!v || json_is_null(v)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: missing required param '%s'", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' must be a string", key);
		return NULL;
	}
	s = g_strstrip(g_strdup(json_string_value(v)));
	if (!*s) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' must not be blank", key);
		return NULL;
	}
	if (strlen(s) > 4096) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' is too long", key);
		return NULL;
	}
	return g_steal_pointer(&s);
}

/* A required non-blank string kept as sent (names may hold spaces). */
static char *
param_name(json_t *params, const char *key, cpf_error *err)
{
	json_t *v = json_object_get(params, key);
	const char *s;

	if (!v || json_is_null(v)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: missing required param '%s'", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' must be a string", key);
		return NULL;
	}
	s = json_string_value(v);
	if (strspn(s, " \t\r\n\f\v") == strlen(s)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' must not be blank", key);
		return NULL;
	}
	if (strlen(s) > 1024) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: '%s' is too long", key);
		return NULL;
	}
	return g_strdup(s);
}

typedef enum { PARAM_ABSENT, PARAM_SET, PARAM_BAD } param_state;

/* A boolean sent as true/false or as the strings "true"/"false" (any case). */
static param_state
param_bool(json_t *params, const char *key, gboolean *out, cpf_error *err)
{
	json_t *v = json_object_get(params, key);

	if (!v || json_is_null(v))
		return PARAM_ABSENT;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return PARAM_SET;
	}
	if (json_is_string(v)) {
		g_autofree char *s = g_strstrip(g_ascii_strdown(json_string_value(v), -1));
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
			*out = s[0] == 't';
			return PARAM_SET;
		}
	}
	cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
	              "invalid params: '%s' must be true or false", key);
	return PARAM_BAD;
}

/* ---- guests ---- */

/* A VM handle by platform id. */
static PRL_HANDLE
lookup_vm(cpf_ctx *ctx, const char *id, cpf_error *err)
{
	cpf_handle job = PRL_INVALID_HANDLE;
	g_autofree char *what = g_strdup_printf("get guest '%s'", id);
	PRL_HANDLE vm;

	if (ctx->current && ctx->current->prefetch && g_strcmp0(ctx->current->prefetch_id, id) == 0)
		job = g_steal_pointer(&ctx->current->prefetch);
	else
		job = PrlSrv_GetVmConfig(ctx->server, id, PGVC_SEARCH_BY_UUID);

	if (!wait_job(ctx, job, what, id, err))
		return PRL_INVALID_HANDLE;
	vm = job_first_param(job);
	if (vm == PRL_INVALID_HANDLE)
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_VM_UUID_NOT_FOUND,
		              "guest '%s' not found", id);
	return vm;
}

static VIRTUAL_MACHINE_STATE
vm_state(PRL_HANDLE vm, char **raw_word)
{
	cpf_handle info = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;

	if (raw_word)
		*raw_word = NULL;
	if (PRL_FAILED(PrlVmCfg_GetVmInfo(vm, &info)))
		return VMS_UNKNOWN;
	if (PRL_FAILED(PrlVmInfo_GetState(info, &st)))
		st = VMS_UNKNOWN;
	if (raw_word)
		*raw_word = get_str(info, PrlVmInfo_GetPowerStateName);
	return st;
}

/* The six RAS words (CPF.md §5). NULL for states that have no word of their own. */
static const char *
state_word(VIRTUAL_MACHINE_STATE st)
{
	switch (st) {
	case VMS_STOPPED:
	case VMS_COMPACTING:
	case VMS_DELETING_STATE:
		return "powered_off";
	case VMS_STARTING:
	case VMS_RESTORING:
	case VMS_RESUMING:
	case VMS_CONTINUING:
		return "powering_on";
	case VMS_RUNNING:
	case VMS_RESETTING:
	case VMS_SNAPSHOTING:
	case VMS_MIGRATING:
		return "powered_on";
	case VMS_STOPPING:
		return "powering_off";
	case VMS_PAUSED:
	case VMS_SUSPENDED:
		return "suspended";
	case VMS_PAUSING:
	case VMS_SUSPENDING:
		return "suspending";
	default:
		return NULL;
	}
}

/* The platform's word when the driver gives none. */
static const char *
state_raw_fallback(VIRTUAL_MACHINE_STATE st)
{
	switch (st) {
	case VMS_STOPPED: return "stopped";
	case VMS_STARTING: return "starting";
	case VMS_RESTORING: return "restoring";
	case VMS_RUNNING: return "running";
	case VMS_PAUSED: return "paused";
	case VMS_SUSPENDING: return "suspending";
	case VMS_STOPPING: return "stopping";
	case VMS_COMPACTING: return "compacting";
	case VMS_SUSPENDED: return "suspended";
	case VMS_SNAPSHOTING: return "snapshotting";
	case VMS_RESETTING: return "resetting";
	case VMS_PAUSING: return "pausing";
	case VMS_CONTINUING: return "continuing";
	case VMS_MIGRATING: return "migrating";
	case VMS_DELETING_STATE: return "deleting-state";
	case VMS_RESUMING: return "resuming";
	default: return "unknown";
	}
}

static const char *
os_type_word(PRL_UINT32 type)
{
	switch (type) {
	case PVS_GUEST_TYPE_WINDOWS: return "windows";
	case PVS_GUEST_TYPE_LINUX: return "linux";
	case PVS_GUEST_TYPE_MACOS: return "macos";
	case PVS_GUEST_TYPE_FREEBSD: return "freebsd";
	case PVS_GUEST_TYPE_SOLARIS: return "solaris";
	case PVS_GUEST_TYPE_CHROMEOS: return "chromeos";
	case PVS_GUEST_TYPE_ANDROID: return "android";
	case PVS_GUEST_TYPE_OS2: return "os2";
	case PVS_GUEST_TYPE_MSDOS: return "msdos";
	case PVS_GUEST_TYPE_NETWARE: return "netware";
	case PVS_GUEST_TYPE_OTHER: return "other";
	default: return "";
	}
}

/* 0 = drop (loopback, link-local, not an address), 4 or 6. */
static int
ip_family(const char *text)
{
	g_autoptr(GInetAddress) a = NULL;
	g_autofree char *s = g_strstrip(g_strdup(text));
	char *slash = strchr(s, '/');

	if (slash)
		*slash = '\0';   /* "10.0.0.5/24" */
	a = g_inet_address_new_from_string(s);
	if (!a || g_inet_address_get_is_loopback(a) || g_inet_address_get_is_link_local(a) ||
	    g_inet_address_get_is_any(a))
		return 0;
	return g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
}

/* IPv4 first, then IPv6, each in the platform's order, without duplicates. */
static json_t *
guest_ips(PRL_HANDLE vm)
{
	cpf_handle list = PRL_INVALID_HANDLE;
	PRL_UINT32 n = 0;
	json_t *out = json_array();
	g_autoptr(GPtrArray) v4 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) v6 = g_ptr_array_new_with_free_func(g_free);

	if (PRL_FAILED(PrlVmCfg_GetIpAddresses(vm, &list)) ||
	    PRL_FAILED(PrlStrList_GetItemsCount(list, &n)))
		return out;
	for (PRL_UINT32 i = 0; i < n; i++) {
		char *ip = strlist_item(list, i);
		int fam;
		char *slash;
		if (!ip)
			continue;
		g_strstrip(ip);
		if ((slash = strchr(ip, '/')))
			*slash = '\0';
		fam = ip_family(ip);
		if (fam == 4) {
			g_ptr_array_add(v4, ip);
		} else if (fam == 6) {
			g_ptr_array_add(v6, g_ascii_strdown(ip, -1));
			g_free(ip);
		} else {
			g_free(ip);
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		GPtrArray *a = pass == 0 ? v4 : v6;
		for (guint i = 0; i < a->len; i++) {
			gboolean dup = FALSE;
			for (guint j = 0; j < i && !dup; j++)
				dup = strcmp(a->pdata[i], a->pdata[j]) == 0;
			if (!dup)
				json_array_append_new(out, jstr(a->pdata[i]));
		}
	}
	return out;
}

/* "bc-24-11-8a-3c-ff" / "bc2411..." → "BC:24:11:8A:3C:FF"; NULL if not a MAC. */
static char *
mac_normalize(const char *text)
{
	char hex[12];
	int n = 0;

	for (const char *p = text; *p; p++) {
		if (g_ascii_isxdigit(*p)) {
			if (n == 12)
				return NULL;
			hex[n++] = g_ascii_toupper(*p);
		} else if (*p != ':' && *p != '-' && *p != '.' && !g_ascii_isspace(*p)) {
			return NULL;
		}
	}
	if (n != 12)
		return NULL;
	return g_strdup_printf("%c%c:%c%c:%c%c:%c%c:%c%c:%c%c", hex[0], hex[1], hex[2], hex[3],
	                       hex[4], hex[5], hex[6], hex[7], hex[8], hex[9], hex[10], hex[11]);
}

static json_t *
guest_macs(PRL_HANDLE vm)
{
	cpf_handle list = PRL_INVALID_HANDLE;
	PRL_UINT32 n = 0;
	json_t *out = json_array();

	if (PRL_SUCCEEDED(PrlVmCfg_GetMacAddresses(vm, &list)) &&
	    PRL_SUCCEEDED(PrlStrList_GetItemsCount(list, &n))) {
		for (PRL_UINT32 i = 0; i < n; i++) {
			g_autofree char *raw = strlist_item(list, i);
			g_autofree char *mac = raw ? mac_normalize(raw) : NULL;
			if (mac)
				json_array_append_new(out, jstr(mac));
		}
		return out;
	}
	/* Fall back on the network adapters of the configuration. */
	if (PRL_SUCCEEDED(PrlVmCfg_GetNetAdaptersCount(vm, &n))) {
		for (PRL_UINT32 i = 0; i < n; i++) {
			cpf_handle dev = PRL_INVALID_HANDLE;
			g_autofree char *raw = NULL, *mac = NULL;
			if (PRL_FAILED(PrlVmCfg_GetNetAdapter(vm, i, &dev)))
				continue;
			raw = get_str(dev, PrlVmDevNet_GetMacAddress);
			mac = raw ? mac_normalize(raw) : NULL;
			if (mac)
				json_array_append_new(out, jstr(mac));
		}
	}
	return out;
}

static json_t *
guest_object(cpf_ctx *ctx, PRL_HANDLE vm, const char *asked_id)
{
	json_t *g = json_object();
	g_autofree char *id = get_str(vm, PrlVmCfg_GetUuid);
	g_autofree char *name = get_str(vm, PrlVmCfg_GetName);
	g_autofree char *raw = NULL, *os = NULL;
	VIRTUAL_MACHINE_STATE st = vm_state(vm, &raw);
	const char *word = state_word(st);
	PRL_BOOL tmpl = PRL_FALSE;

	if (!word) {
		g_info("guest '%s': platform state 0x%x ('%s') has no RAS word; reporting powered_off",
		       asked_id, (unsigned)st, raw ? raw : "");
		word = "powered_off";
	}
	if (PRL_FAILED(PrlVmCfg_IsTemplate(vm, &tmpl)))
		tmpl = PRL_FALSE;
	os = get_str(vm, PrlVmCfg_GetOsTypeName);
	if (!os || !*os) {
		PRL_UINT32 type = 0;
		g_free(os);
		os = g_strdup(PRL_SUCCEEDED(PrlVmCfg_GetOsType(vm, &type)) ? os_type_word(type) : "");
	}
	json_object_set_new(g, "id", jstr(id && *id ? id : asked_id));
	json_object_set_new(g, "name", jstr(name ? name : ""));
	json_object_set_new(g, "state", jstr(word));
	json_object_set_new(g, "power_state",
	                    jstr(raw && *raw ? raw : state_raw_fallback(st)));
	json_object_set_new(g, "ip_addresses", guest_ips(vm));
	json_object_set_new(g, "mac_addresses", guest_macs(vm));
	json_object_set_new(g, "is_template", json_boolean(tmpl));
	json_object_set_new(g, "host_os", jstr(os));
	json_object_set_new(g, "provider", jstr(cpf_driver_display_name(ctx->driver)));
	json_object_set_new(g, "type", jstr("Virtual Machine"));
	return g;
}

/* ---- task ids ---- */

/* Waits (bounded) until the platform accepted the job's work and returns its task id;
 * *finished tells whether the work is done already.
 *
 * Work that failed on the platform is reported through its task (tasks/get: failed, code
 * 1), however quickly it failed: whether a failure comes before or after the reply is a
 * matter of timing, and RAS should see the same answer either way. Only what the caller
 * got wrong (-32602) and work never accepted (no task id, timeout) are error replies. */
static char *
job_task_id(cpf_ctx *ctx, PRL_HANDLE job, const char *what, const char *id,
            gboolean *finished, cpf_error *err)
{
	char buf[512];
	PRL_UINT32 len = sizeof(buf);
	PRL_RESULT r;
	PRL_JOB_STATUS status = PJS_UNKNOWN;
	char *task = NULL;

	if (job == PRL_INVALID_HANDLE) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
		return NULL;
	}
	r = PrlJob_GetTaskId(job, ms_left(ctx->deadline), buf, &len);
	if (r == PRL_ERR_BUFFER_OVERRUN && len > 0 && len < 1024 * 1024) {
		task = g_malloc(len);
		r = PrlJob_GetTaskId(job, 0, task, &len);
		if (PRL_FAILED(r))
			g_clear_pointer(&task, g_free);
	} else if (PRL_SUCCEEDED(r)) {
		task = g_strdup(buf);
	}
	if (PRL_SUCCEEDED(PrlJob_GetStatus(job, &status)) && status == PJS_FINISHED) {
		PRL_RESULT rc = PRL_ERR_UNEXPECTED;
		if (PRL_SUCCEEDED(PrlJob_GetRetCode(job, &rc)) && PRL_FAILED(rc)) {
			if (!task || code_for_result(rc) == CPF_CODE_PARAMS ||
			    rc == PRL_ERR_VM_UUID_NOT_FOUND) {
				g_free(task);
				set_job_error(err, job, rc, what, id);
				return NULL;
			}
			g_info("%s: failed at once (%s); reported through its task", what,
			       prl_result_to_string(rc));
		}
		*finished = TRUE;
	} else {
		*finished = FALSE;
	}
	if (!task) {
		if (r == PRL_ERR_TIMEOUT) {
			cancel_job(job);
			cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_TIMEOUT,
			              "%s: the platform did not accept the work within %u s", what,
			              ctx->wait_ms / 1000);
		} else {
			cpf_error_set(err, CPF_CODE_INTERNAL, r, "%s: no task id for the work", what);
		}
		return NULL;
	}
	return task;
}

/* Work RAS follows through tasks/get needs ids any process resolves; without them the
 * work is refused before it starts (the capabilities advertised no template method). */
static gboolean
need_task_ids(cpf_ctx *ctx, const char *method, cpf_error *err)
{
	if (ctx->features & PRLK_FEAT_TASK_IDS)
		return TRUE;
	cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNIMPLEMENTED,
	              "%s: driver '%s' has no task ids", method, ctx->driver);
	return FALSE;
}

static json_t *
task_reply(char *task_id)
{
	json_t *o = json_object();

	json_object_set_new(o, "task_id", jstr(task_id));
	g_free(task_id);
	return o;
}

/* ---- snapshots ---- */

/* 1 = exists, 0 = not, -1 = error. */
static int
snapshot_exists(cpf_ctx *ctx, PRL_HANDLE vm, const char *id, const char *name, cpf_error *err)
{
	cpf_handle job = PrlVm_GetSnapshotsList(vm);
	cpf_handle result = PRL_INVALID_HANDLE;
	g_autofree char *what = g_strdup_printf("list snapshots of guest '%s'", id);
	PRL_UINT32 n = 0;

	if (!wait_job(ctx, job, what, id, err))
		return -1;
	if (PRL_FAILED(PrlJob_GetResult(job, &result)) ||
	    PRL_FAILED(PrlResult_GetParamsCount(result, &n))) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNEXPECTED, "%s: no result", what);
		return -1;
	}
	for (PRL_UINT32 i = 0; i < n; i++) {
		g_autofree char *s = result_param_string(result, i);
		if (s && strcmp(s, name) == 0)
			return 1;
	}
	return 0;
}

/* ---- methods ---- */

typedef json_t *(*method_fn)(cpf_ctx *ctx, json_t *params, cpf_error *err);

static gboolean
advertised_or_features(cpf_ctx *ctx, gboolean advertised, guint64 feature)
{
	if (ctx->advertised_valid)
		return advertised && (ctx->features & feature);
	return (ctx->features & feature) != 0;
}

static json_t *
m_initialize(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	json_t *o = json_object();
	cpf_caps caps;
	g_autofree char *bad = NULL;

	if (ctx->server != PRL_INVALID_HANDLE)
		cpf_caps_compute(ctx->features, ctx->settings, &caps, &bad);
	else
		cpf_caps_compute(ctx->preconnect_features, ctx->preconnect, &caps, &bad);
	ctx->advertised = caps;
	ctx->advertised_valid = TRUE;
	json_object_set_new(o, "version", jstr("1.0.0"));
	json_object_set_new(o, "capabilities", cpf_caps_to_json(&caps));
	return o;
}

static void
fail_feature_mismatch(cpf_error *err, const char *driver, const char *missing)
{
	cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
	              "driver '%s' cannot do what provider/initialize advertised (%s); start "
	              "prlkit-cpf with --driver %s (or --uri) so capabilities and connection agree",
	              driver, missing, driver);
}

static json_t *
m_connect(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	json_t *sent = json_object_get(params, "settings");
	json_t *merged;
	g_autofree char *target = NULL, *settings_text = NULL, *redacted = NULL, *bad = NULL;
	g_autofree char *missing = NULL;
	cpf_handle server = PRL_INVALID_HANDLE;
	cpf_handle job = PRL_INVALID_HANDLE;
	char name[128];
	PRL_UINT32 name_len = sizeof(name);
	PRL_UINT64 features = 0;
	guint wait_ms = ctx->opts->wait_ms;
	cpf_caps caps;
	json_t *v;

	/* A connect that fails, however early, leaves the process not connected. */
	ctx_disconnect(ctx, TRUE);
	if (!sent || json_is_null(sent)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: missing required param 'settings'");
		return NULL;
	}
	if (!json_is_object(sent)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: 'settings' must be an object");
		return NULL;
	}
	/* Before anything can echo them. */
	cpf_log_add_secrets_from_json(sent);

	merged = merge_settings(ctx->opts, sent);
	redacted = cpf_settings_redacted_json(merged);
	g_debug("provider/connect settings: %s", redacted);

	v = json_object_get(merged, "wait_timeout");
	if (v && !(ctx->opts->wait_from_cli && !json_object_get(sent, "wait_timeout"))) {
		double s = 0;
		if (!json_seconds(v, &s) || s < 1 || s > 3600) {
			json_decref(merged);
			cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
			              "invalid setting 'wait_timeout': seconds from 1 to 3600 expected");
			return NULL;
		}
		wait_ms = (guint)(s * 1000);
	}
	v = json_object_get(merged, "log_level");
	if (v && !ctx->opts->log_level_from_cli) {
		cpf_log_level lvl;
		if (json_is_string(v) && cpf_log_level_parse(json_string_value(v), &lvl))
			cpf_log_set_level(lvl);
		else
			g_warning("setting 'log_level' is not one of error, warning, info, debug; ignored");
	}
	{
		/* Settings are scalars (the console has only strings): name the first one that
		 * is not, rather than letting the library refuse the whole object. */
		const char *key;
		json_t *value;
		json_object_foreach(merged, key, value) {
			if (json_is_object(value) || json_is_array(value)) {
				g_autofree char *safe = cpf_sanitize(key, 64);
				cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
				              "invalid setting '%s' (it must be a string, number or boolean, "
				              "not %s)", safe, json_is_object(value) ? "an object" : "an array");
				json_decref(merged);
				return NULL;
			}
		}
	}
	cpf_caps_compute(0, merged, &caps, &bad);
	if (bad) {
		json_decref(merged);
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid setting '%s': a whole number of seconds expected", bad);
		return NULL;
	}

	library_selection(merged, &target, &settings_text);
	/* An unknown driver or a malformed URI is a bad setting, and a driver that cannot do
	 * what initialize advertised is refused before any credential goes on the wire. */
	{
		PRL_UINT64 f = 0;
		PRL_RESULT r = PrlApi_GetDriverFeatures(target, settings_text, &f);
		g_autofree char *safe = cpf_sanitize(target ? target : "(default)", 200);
		if (PRL_FAILED(r)) {
			json_decref(merged);
			cpf_error_set(err, CPF_CODE_PARAMS, r,
			              "invalid setting 'driver'/'uri': no driver for '%s'", safe);
			return NULL;
		}
		if (ctx->advertised_valid && (missing = cpf_caps_missing(&ctx->advertised, f))) {
			json_decref(merged);
			fail_feature_mismatch(err, safe, missing);
			return NULL;
		}
	}
	if (PRL_FAILED(PrlSrv_Create(&server))) {
		json_decref(merged);
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_OUT_OF_MEMORY, "cannot create a server");
		return NULL;
	}
	ctx->wait_ms = wait_ms;
	ctx->deadline = deadline_after(wait_ms);
	job = PrlSrv_Connect(server, target, settings_text, 0);
	{
		g_autofree char *what = g_strdup_printf("connect to %s",
		                                        target ? target : "the default driver");
		g_autofree char *safe = cpf_sanitize(what, 300);
		if (!wait_job(ctx, job, safe, NULL, err)) {
			ctx->wait_ms = ctx->opts->wait_ms;
			json_decref(merged);
			return NULL;
		}
	}
	if (PRL_FAILED(PrlSrv_GetDriverInfo(server, name, &name_len, &features))) {
		g_strlcpy(name, target ? target : "unknown", sizeof(name));
		features = 0;
	}
	if (ctx->advertised_valid && (missing = cpf_caps_missing(&ctx->advertised, features))) {
		cpf_handle off = PrlSrv_Logoff(server);
		(void)off;
		ctx->wait_ms = ctx->opts->wait_ms;
		json_decref(merged);
		fail_feature_mismatch(err, name, missing);
		return NULL;
	}
	ctx->server = server;
	server = PRL_INVALID_HANDLE;
	ctx->driver = g_strdup(name);
	ctx->features = features;
	ctx->settings = merged;
	g_info("connected: driver '%s' (%s), features 0x%" G_GINT64_MODIFIER "x, wait %u s",
	       ctx->driver, cpf_driver_display_name(ctx->driver), (guint64)features,
	       ctx->wait_ms / 1000);
	return json_object();
}

static json_t *
m_disconnect(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	g_info("disconnect from driver '%s'", ctx->driver);
	ctx_disconnect(ctx, TRUE);
	return json_object();
}

static json_t *
m_list(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	cpf_handle job = PrlSrv_GetVmList(ctx->server);
	cpf_handle result = PRL_INVALID_HANDLE;
	PRL_UINT32 n = 0;
	json_t *ids, *o;

	if (!wait_job(ctx, job, "list guests", NULL, err))
		return NULL;
	if (PRL_FAILED(PrlJob_GetResult(job, &result)) ||
	    PRL_FAILED(PrlResult_GetParamsCount(result, &n))) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNEXPECTED, "list guests: no result");
		return NULL;
	}
	ids = json_array();
	for (PRL_UINT32 i = 0; i < n; i++) {
		cpf_handle vm = PRL_INVALID_HANDLE;
		char *id;
		if (PRL_FAILED(PrlResult_GetParamByIndex(result, i, &vm)))
			continue;
		id = get_str(vm, PrlVmCfg_GetUuid);
		if (id && *id)
			json_array_append_new(ids, jstr(id));
		g_free(id);
	}
	o = json_object();
	json_object_set_new(o, "guests", ids);
	return o;
}

static json_t *
m_get(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	g_autofree char *id = param_id(params, "id", err);
	cpf_handle vm = PRL_INVALID_HANDLE;

	if (!id)
		return NULL;
	vm = lookup_vm(ctx, id, err);
	if (vm == PRL_INVALID_HANDLE)
		return NULL;
	return guest_object(ctx, vm, id);
}

typedef enum { CTL_START, CTL_STOP, CTL_RESET, CTL_RESTART, CTL_SUSPEND, CTL_DELETE } control;

static json_t *
m_control(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	static const struct { const char *word; control c; } words[] = {
		{ "start", CTL_START }, { "stop", CTL_STOP }, { "reset", CTL_RESET },
		{ "restart", CTL_RESTART }, { "reboot", CTL_RESTART }, { "suspend", CTL_SUSPEND },
		{ "delete", CTL_DELETE },
	};
	g_autofree char *id = param_id(params, "id", err);
	g_autofree char *word = NULL, *what = NULL, *task = NULL, *raw = NULL;
	cpf_handle vm = PRL_INVALID_HANDLE;
	cpf_handle job = PRL_INVALID_HANDLE;
	json_t *v;
	control c = CTL_START;
	gboolean known = FALSE, finished = FALSE;
	VIRTUAL_MACHINE_STATE st;

	if (!id)
		return NULL;
	v = json_object_get(params, "control");
	if (!v || json_is_null(v) || !json_is_string(v)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              v && !json_is_null(v) ? "invalid params: 'control' must be a string"
		                                    : "invalid params: missing required param 'control'");
		return NULL;
	}
	word = g_strstrip(g_ascii_strdown(json_string_value(v), -1));
	for (gsize i = 0; i < G_N_ELEMENTS(words) && !known; i++)
		if (strcmp(word, words[i].word) == 0)
			c = words[i].c, known = TRUE;
	if (!known) {
		g_autofree char *safe = cpf_sanitize(json_string_value(v), 64);
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: unknown control '%s' (start, stop, reset, restart, "
		              "suspend, delete)", safe);
		return NULL;
	}
	if (c == CTL_SUSPEND &&
	    !advertised_or_features(ctx, ctx->advertised.can_suspend_guests, PRLK_FEAT_SUSPEND)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: control 'suspend' is not available: driver '%s' does "
		              "not advertise can_suspend_guests", ctx->driver);
		return NULL;
	}
	vm = lookup_vm(ctx, id, err);
	if (vm == PRL_INVALID_HANDLE)
		return NULL;
	st = vm_state(vm, &raw);
	what = g_strdup_printf("%s guest '%s'", word, id);
	/* RAS repeats controls; a VM already where it was sent is success, not an error. */
	if ((c == CTL_START && st == VMS_RUNNING) || (c == CTL_STOP && st == VMS_STOPPED) ||
	    (c == CTL_SUSPEND && st == VMS_SUSPENDED)) {
		g_debug("%s: already %s", what, raw ? raw : state_raw_fallback(st));
		return json_object();
	}
	switch (c) {
	case CTL_START:
		job = (st == VMS_SUSPENDED || st == VMS_PAUSED) ? PrlVm_Resume(vm) : PrlVm_Start(vm);
		break;
	case CTL_STOP:
		/* Graceful: the driver applies its stop_mode / force_stop_after settings. A paused
		 * or suspended guest cannot shut down; powering it off drops the saved state. */
		job = (st == VMS_SUSPENDED || st == VMS_PAUSED) ? PrlVm_StopEx(vm, PSM_KILL, 0)
		                                                 : PrlVm_Stop(vm, PRL_TRUE);
		break;
	case CTL_RESET:
		job = PrlVm_Reset(vm);
		break;
	case CTL_RESTART:
		job = PrlVm_Restart(vm);
		break;
	case CTL_SUSPEND:
		job = PrlVm_Suspend(vm);
		break;
	case CTL_DELETE:
		job = PrlVm_Delete(vm, PRL_INVALID_HANDLE);
		break;
	}
	if (!(ctx->features & PRLK_FEAT_TASK_IDS)) {
		/* No task form: "accepted" can only be "done" (bounded all the same). */
		if (!wait_job(ctx, job, what, id, err))
			return NULL;
		return json_object();
	}
	task = job_task_id(ctx, job, what, id, &finished, err);
	if (!task)
		return NULL;
	if (finished) {
		/* No task to report through: an action the platform refused is the reply. */
		PRL_RESULT rc = PRL_ERR_SUCCESS;
		if (PRL_SUCCEEDED(PrlJob_GetRetCode(job, &rc)) && PRL_FAILED(rc)) {
			set_job_error(err, job, rc, what, id);
			return NULL;
		}
	}
	g_debug("%s: accepted (%s)", what, finished ? "done" : "running");
	return json_object();
}

static json_t *
m_convert(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	g_autofree char *id = param_id(params, "id", err);
	g_autofree char *what = NULL, *raw = NULL;
	cpf_handle vm = PRL_INVALID_HANDLE;
	cpf_handle edit = PRL_INVALID_HANDLE;
	cpf_handle job = PRL_INVALID_HANDLE;
	gboolean to_template = FALSE, finished = FALSE;
	param_state ps;
	VIRTUAL_MACHINE_STATE st;
	PRL_RESULT r;
	char *task;

	if (!id)
		return NULL;
	ps = param_bool(params, "is_template", &to_template, err);
	if (ps == PARAM_BAD)
		return NULL;
	if (ps == PARAM_ABSENT) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: missing required param 'is_template'");
		return NULL;
	}
	if (!need_task_ids(ctx, "guests/convert", err))
		return NULL;
	if (!(ctx->features & PRLK_FEAT_TEMPLATES)) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNIMPLEMENTED,
		              "convert guest '%s': driver '%s' has no templates", id, ctx->driver);
		return NULL;
	}
	vm = lookup_vm(ctx, id, err);
	if (vm == PRL_INVALID_HANDLE)
		return NULL;
	what = g_strdup_printf("convert guest '%s' to %s", id, to_template ? "a template" : "a VM");
	st = vm_state(vm, &raw);
	/* RAS stops the VM first; converting stops nothing by itself (CPF.md §3). */
	if (to_template && st != VMS_STOPPED && st != VMS_UNKNOWN) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_DISP_VM_IS_NOT_STOPPED,
		              "%s: the guest is %s; stop it first", what,
		              raw && *raw ? raw : state_raw_fallback(st));
		return NULL;
	}
	edit = PrlVm_BeginEdit(vm);
	if (!wait_job(ctx, edit, what, id, err))
		return NULL;
	r = PrlVmCfg_SetTemplateSign(vm, to_template ? PRL_TRUE : PRL_FALSE);
	if (PRL_FAILED(r)) {
		cpf_error_set(err, CPF_CODE_INTERNAL, r, "%s: cannot change the template flag", what);
		return NULL;
	}
	job = PrlVm_Commit(vm);
	task = job_task_id(ctx, job, what, id, &finished, err);
	return task ? task_reply(task) : NULL;
}

static json_t *
m_clone(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	g_autofree char *id = param_id(params, "id", err);
	g_autofree char *name = NULL, *snap = NULL, *what = NULL, *task = NULL, *clone_id = NULL;
	cpf_handle vm = PRL_INVALID_HANDLE;
	cpf_handle job = PRL_INVALID_HANDLE;
	gboolean linked = FALSE, finished = FALSE, failed = FALSE;
	param_state ps;
	json_t *v, *o;
	PRL_UINT32 flags = 0;

	if (!id)
		return NULL;
	if (!(name = param_name(params, "name", err)))
		return NULL;
	if (!need_task_ids(ctx, "guests/clone", err))
		return NULL;
	v = json_object_get(params, "snapshot");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
			              "invalid params: 'snapshot' must be a string");
			return NULL;
		}
		{
			g_autofree char *t = g_strstrip(g_strdup(json_string_value(v)));
			/* missing, null, "" (and white space) all mean "no snapshot" */
			if (*t)
				snap = g_strdup(json_string_value(v));
		}
	}
	ps = param_bool(params, "is_link_clone", &linked, err);
	if (ps == PARAM_BAD)
		return NULL;
	if (ps == PARAM_ABSENT)
		linked = advertised_or_features(ctx, ctx->advertised.can_link_clones,
		                                PRLK_FEAT_LINKED_CLONE);
	else if (linked && !(ctx->features & PRLK_FEAT_LINKED_CLONE)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: driver '%s' cannot make linked clones", ctx->driver);
		return NULL;
	}
	if (snap && !(ctx->features & PRLK_FEAT_CLONE_FROM_SNAPSHOT)) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: driver '%s' cannot clone from a snapshot", ctx->driver);
		return NULL;
	}
	if (linked)
		flags |= PCVF_LINKED_CLONE;
	vm = lookup_vm(ctx, id, err);
	if (vm == PRL_INVALID_HANDLE)
		return NULL;
	if (snap) {
		int e = snapshot_exists(ctx, vm, id, snap, err);
		if (e < 0)
			return NULL;
		if (e == 0) {
			cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
			              "snapshot '%s' not found on guest '%s'", snap, id);
			return NULL;
		}
	}
	what = g_strdup_printf("clone guest '%s' as '%s'", id, name);
	g_debug("%s (%s%s%s)", what, linked ? "linked" : "full", snap ? ", snapshot " : "",
	        snap ? snap : "");
	job = snap ? PrlVm_CloneFromSnapshot(vm, name, snap, flags)
	           : PrlVm_CloneEx(vm, name, NULL, flags);
	task = job_task_id(ctx, job, what, id, &finished, err);
	if (!task)
		return NULL;
	/* The clone's id as soon as it is known; accepted work normally has it already. */
	for (;;) {
		char buf[256];
		PRL_UINT32 len = sizeof(buf);
		PRL_JOB_STATUS status = PJS_UNKNOWN;
		if (PRL_SUCCEEDED(PrlJob_GetVmId(job, buf, &len)) && *buf) {
			clone_id = g_strdup(buf);
			break;
		}
		if (PRL_SUCCEEDED(PrlJob_GetStatus(job, &status)) && status == PJS_FINISHED) {
			PRL_RESULT rc = PRL_ERR_UNEXPECTED;
			cpf_handle cl = PRL_INVALID_HANDLE;
			if (PRL_SUCCEEDED(PrlJob_GetRetCode(job, &rc)) && PRL_FAILED(rc)) {
				failed = TRUE;   /* no clone; its task tells why */
				break;
			}
			cl = job_first_param(job);
			if (cl != PRL_INVALID_HANDLE)
				clone_id = get_str(cl, PrlVmCfg_GetUuid);
			break;
		}
		if (ms_left(ctx->deadline) == 0)
			break;
		g_usleep(2000);
	}
	o = json_object();
	json_object_set_new(o, "task_id", jstr(task));
	if (clone_id)
		json_object_set_new(o, "clone_id", jstr(clone_id));
	else if (!failed)
		g_warning("%s: the clone's id is not known yet; tasks/get will report it", what);
	return o;
}

typedef enum { SNAP_CREATE, SNAP_DELETE, SNAP_EXISTS, SNAP_REVERT } snap_method;

static json_t *
snapshot_method(cpf_ctx *ctx, json_t *params, snap_method m, cpf_error *err)
{
	static const char *const verbs[] = { "create", "delete", "check", "revert to" };
	g_autofree char *id = param_id(params, "id", err);
	g_autofree char *name = NULL, *what = NULL;
	cpf_handle vm = PRL_INVALID_HANDLE;
	cpf_handle job = PRL_INVALID_HANDLE;
	gboolean finished = FALSE;
	char *task;
	int e;

	if (!id)
		return NULL;
	if (!(name = param_name(params, "name", err)))
		return NULL;
	if (m != SNAP_EXISTS && !need_task_ids(ctx, "guests/snapshots", err))
		return NULL;
	if (!(ctx->features & PRLK_FEAT_SNAPSHOTS)) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNIMPLEMENTED,
		              "snapshots: driver '%s' has no snapshots", ctx->driver);
		return NULL;
	}
	vm = lookup_vm(ctx, id, err);
	if (vm == PRL_INVALID_HANDLE)
		return NULL;
	what = g_strdup_printf("%s snapshot '%s' of guest '%s'", verbs[m], name, id);
	switch (m) {
	case SNAP_EXISTS:
		e = snapshot_exists(ctx, vm, id, name, err);
		return e < 0 ? NULL : json_boolean(e == 1);
	case SNAP_CREATE:
		job = PrlVm_ReplaceSnapshot(vm, name, "");
		break;
	case SNAP_DELETE:
		job = PrlVm_DeleteSnapshotIfExists(vm, name);
		break;
	case SNAP_REVERT:
		e = snapshot_exists(ctx, vm, id, name, err);
		if (e < 0)
			return NULL;
		if (e == 0) {
			cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
			              "snapshot '%s' not found on guest '%s'", name, id);
			return NULL;
		}
		job = PrlVm_SwitchToSnapshot(vm, name);
		break;
	}
	task = job_task_id(ctx, job, what, id, &finished, err);
	return task ? task_reply(task) : NULL;
}

static json_t *
m_snap_create(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	return snapshot_method(ctx, params, SNAP_CREATE, err);
}

static json_t *
m_snap_delete(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	return snapshot_method(ctx, params, SNAP_DELETE, err);
}

static json_t *
m_snap_exists(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	return snapshot_method(ctx, params, SNAP_EXISTS, err);
}

static json_t *
m_snap_revert(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	return snapshot_method(ctx, params, SNAP_REVERT, err);
}

/* A completed task's output: the clone's id for clones, else {}. */
static json_t *
task_output(PRL_HANDLE task)
{
	json_t *out = json_object();
	cpf_handle result = PRL_INVALID_HANDLE;
	cpf_handle param = PRL_INVALID_HANDLE;
	PRL_HANDLE_TYPE type = PHT_ERROR;

	if (PRL_SUCCEEDED(PrlRunningTask_GetResult(task, &result)) &&
	    PRL_SUCCEEDED(PrlResult_GetParam(result, &param)) &&
	    PRL_SUCCEEDED(PrlHandle_GetType(param, &type)) && type == PHT_VIRTUAL_MACHINE) {
		g_autofree char *id = get_str(param, PrlVmCfg_GetUuid);
		if (id && *id)
			json_object_set_new(out, "clone_id", jstr(id));
	}
	return out;
}

static gboolean
task_id_rejected(PRL_RESULT rc)
{
	switch (rc) {
	case PRL_ERR_INVALID_ARG:
	case PRL_ERR_INVALID_PARAM:
	case PRL_ERR_TASK_NOT_FOUND:
	case PRL_ERR_UNRECOGNIZED_REQUEST:
	case PRL_ERR_WRONG_PROTOCOL_VERSION:
	case PRL_ERR_API_INCOMPATIBLE:
	case PRL_ERR_OBJECT_NOT_FOUND:
	case PRL_ERR_ENTRY_DOES_NOT_EXIST:
		return TRUE;
	default:
		return FALSE;
	}
}

static json_t *
m_task_get(cpf_ctx *ctx, json_t *params, cpf_error *err)
{
	g_autofree char *id = param_id(params, "id", err);
	cpf_handle job = PRL_INVALID_HANDLE;
	cpf_handle task = PRL_INVALID_HANDLE;
	PRL_JOB_STATUS st = PJS_UNKNOWN;
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	json_t *o;

	if (!id)
		return NULL;
	for (const char *p = id; *p; p++) {
		if ((guchar)*p < 0x20 || *p == 0x7f) {
			cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_ARG,
			              "invalid params: not a prlkit task id");
			return NULL;
		}
	}
	job = PrlSrv_GetTaskInfo(ctx->server, id);
	if (!wait_job(ctx, job, "resolve task", NULL, err)) {
		/* An id the library cannot parse or find is the caller's mistake, never a
		 * finished task. */
		PRL_RESULT rc2 = PRL_ERR_UNEXPECTED;
		if (PRL_SUCCEEDED(PrlJob_GetRetCode(job, &rc2)) && task_id_rejected(rc2))
			err->code = CPF_CODE_PARAMS;
		return NULL;
	}
	task = job_first_param(job);
	if (task == PRL_INVALID_HANDLE || PRL_FAILED(PrlRunningTask_GetState(task, &st))) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_UNEXPECTED, "resolve task: no status");
		return NULL;
	}
	o = json_object();
	if (st != PJS_FINISHED) {
		json_object_set_new(o, "state", jstr("running"));
		return o;
	}
	if (PRL_FAILED(PrlRunningTask_GetRetCode(task, &rc)))
		rc = PRL_ERR_UNEXPECTED;
	if (PRL_SUCCEEDED(rc)) {
		json_object_set_new(o, "state", jstr("completed"));
		json_object_set_new(o, "output", task_output(task));
	} else {
		cpf_error terr = { 0 };
		g_autofree char *msg = get_str(task, PrlRunningTask_GetMessage);
		json_t *e = json_object();
		if (!msg || !*msg) {
			char buf[512];
			PRL_UINT32 len = sizeof(buf);
			g_free(msg);
			msg = PRL_SUCCEEDED(PrlApi_GetResultDescription(rc, PRL_TRUE, PRL_FALSE, buf, &len))
			      ? g_strdup(buf) : g_strdup("the task failed");
		}
		cpf_error_set(&terr, CPF_CODE_TASK, rc, "%s", strip_decorations(msg));
		json_object_set_new(o, "state", jstr("failed"));
		json_object_set_new(e, "code", json_integer(CPF_CODE_TASK));
		json_object_set_new(e, "message", jstr(terr.message));
		json_object_set_new(o, "error", e);
		cpf_error_clear(&terr);
	}
	return o;
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	method_fn fn;
	gboolean needs_connection;
} methods[] = {
	{ "provider/initialize", m_initialize, FALSE },
	{ "provider/connect", m_connect, FALSE },
	{ "provider/disconnect", m_disconnect, TRUE },
	{ "guests/list", m_list, TRUE },
	{ "hosts/list", m_list, TRUE },
	{ "guests/get", m_get, TRUE },
	{ "hosts/get", m_get, TRUE },
	{ "guests/control", m_control, TRUE },
	{ "hosts/control", m_control, TRUE },
	{ "guests/convert", m_convert, TRUE },
	{ "guests/clone", m_clone, TRUE },
	{ "guests/snapshots/create", m_snap_create, TRUE },
	{ "guests/snapshots/delete", m_snap_delete, TRUE },
	{ "guests/snapshots/exists", m_snap_exists, TRUE },
	{ "guests/snapshots/revert", m_snap_revert, TRUE },
	{ "tasks/get", m_task_get, TRUE },
};

static gboolean
is_get(const char *method)
{
	return strcmp(method, "guests/get") == 0 || strcmp(method, "hosts/get") == 0;
}

void
cpf_prefetch(cpf_ctx *ctx, cpf_request *const *reqs, guint n)
{
	if (ctx->server == PRL_INVALID_HANDLE)
		return;
	for (guint i = 0; i < n && reqs[i] && reqs[i]->method && is_get(reqs[i]->method); i++) {
		cpf_request *r = reqs[i];
		cpf_error ignored = { 0 };
		char *id;

		if (r->prefetch || !json_is_object(r->params))
			continue;
		/* Bad params are reported in the request's turn. */
		id = param_id(r->params, "id", &ignored);
		cpf_error_clear(&ignored);
		if (!id)
			continue;
		r->prefetch_id = id;
		r->prefetch = PrlSrv_GetVmConfig(ctx->server, id, PGVC_SEARCH_BY_UUID);
	}
}

json_t *
cpf_dispatch(cpf_ctx *ctx, cpf_request *req, cpf_error *err)
{
	json_t *params = req->params, *result;
	gsize i;
	gint64 t0 = g_get_monotonic_time();

	for (i = 0; i < G_N_ELEMENTS(methods); i++)
		if (strcmp(req->method, methods[i].name) == 0)
			break;
	if (i == G_N_ELEMENTS(methods)) {
		g_autofree char *safe = cpf_sanitize(req->method, 100);
		cpf_error_set(err, CPF_CODE_METHOD, PRL_ERR_UNRECOGNIZED_REQUEST,
		              "unknown method '%s'", safe);
		return NULL;
	}
	if (methods[i].needs_connection && ctx->server == PRL_INVALID_HANDLE) {
		cpf_error_set(err, CPF_CODE_INTERNAL, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER,
		              "not connected: call provider/connect first");
		return NULL;
	}
	if (params && !json_is_null(params) && !json_is_object(params) &&
	    methods[i].fn != m_initialize) {
		cpf_error_set(err, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM,
		              "invalid params: 'params' must be an object");
		return NULL;
	}
	/* One budget for every wait of this request (CPF.md §3: bounded, never a hang). */
	ctx->deadline = deadline_after(ctx->wait_ms);
	ctx->current = req;
	if (!params || !json_is_object(params)) {
		json_t *empty = json_object();
		result = methods[i].fn(ctx, empty, err);
		json_decref(empty);
	} else {
		result = methods[i].fn(ctx, params, err);
	}
	ctx->current = NULL;
	if (cpf_log_enabled(CPF_LOG_DEBUG))
		g_debug("%s: %s in %.1f ms", methods[i].name, result ? "ok" : err->message,
		        (g_get_monotonic_time() - t0) / 1000.0);
	return result;
}

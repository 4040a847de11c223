/* The sim driver: a complete, persistent, simulated hypervisor (doc/drivers/sim.md).
 * This file holds the vtable, connection setup (URI, settings), failure injection and the
 * event watcher; the state file is in sim-state.c, the semantics in sim-ops.c. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "sim-private.h"
#include "util-log.h"
#include "util-settings.h"
#include "util-time.h"

#define SIM_SPEED_MAX 1000.0
#define SIM_INSTANCE_MAX 64

/* ---- result names ---- */

static const struct {
	const char *name;
	PRL_RESULT value;
} sim_results[] = {
#define SIM_RESULT_ENTRY_(name, value, desc) { #name, (PRL_RESULT)(value) },
	PRLK_ERROR_LIST(SIM_RESULT_ENTRY_)
#undef SIM_RESULT_ENTRY_
};

gboolean
sim_result_from_name(const char *name, PRL_RESULT *out)
{
	gsize i;

	for (i = 0; name && i < G_N_ELEMENTS(sim_results); i++) {
		if (g_ascii_strcasecmp(sim_results[i].name, name) == 0) {
			*out = sim_results[i].value;
			return TRUE;
		}
	}
	return FALSE;
}

/* ---- failure injection ----
 *
 * fail := rule { (',' | ';' | ' ') rule }
 * rule := op { ':' option }         op: an operation name or '*' (every task operation)
 * option := 'once' | 'always' | N '%' | 'after=' N | PRL_ERR_<NAME> */

/* The message names the key and the rule's position, never the value. */
static gboolean
fail_error(GError **error, guint rule, const char *why)
{
	sim_set_error(error, PRL_ERR_INVALID_PARAM, "invalid value for setting 'fail': rule %u: %s",
	              rule, why);
	return FALSE;
}

static gboolean
fail_parse_rule(const char *text, guint pos, sim_fail_rule *r, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(text, ":", -1);
	guint i;

	r->percent = 100;
	if (strcmp(parts[0], "*") == 0) {
		r->any_task_op = TRUE;
		r->op = SIM_OP_COUNT_;
	} else {
		r->op = sim_op_from_name(parts[0]);
		if (r->op == SIM_OP_COUNT_)
			return fail_error(error, pos,
			                  "unknown operation (start, stop, kill, reset, restart, pause, "
			                  "suspend, resume, clone, delete, edit, snapshot-create, "
			                  "snapshot-delete, snapshot-revert, list, get, statistics, host, "
			                  "task, connect or *)");
	}
	r->code = r->any_task_op ? PRL_ERR_OPERATION_FAILED : sim_op_default_error(r->op);
	for (i = 1; parts[i]; i++) {
		const char *o = parts[i];
		gsize len = strlen(o);
		char *end = NULL;

		if (g_ascii_strcasecmp(o, "once") == 0) {
			r->once = TRUE;
		} else if (g_ascii_strcasecmp(o, "always") == 0) {
			r->once = FALSE;
			r->percent = 100;
		} else if (len > 1 && o[len - 1] == '%' && g_ascii_isdigit(o[0])) {
			guint64 p = g_ascii_strtoull(o, &end, 10);
			if (end != o + len - 1 || p < 1 || p > 100)
				return fail_error(error, pos, "a percentage is 1% to 100%");
			r->percent = (guint)p;
		} else if (g_ascii_strncasecmp(o, "after=", 6) == 0) {
			if (!g_ascii_isdigit(o[6]) ||
			    (r->after = g_ascii_strtoull(o + 6, &end, 10), *end != '\0'))
				return fail_error(error, pos, "after= takes a number of calls");
		} else if (g_ascii_strncasecmp(o, "PRL_ERR_", 8) == 0) {
			if (!sim_result_from_name(o, &r->code) || !PRL_FAILED(r->code))
				return fail_error(error, pos, "unknown or non-failure PRL_ERR_ code");
		} else {
			return fail_error(error, pos,
			                  "options are once, always, N%, after=N and PRL_ERR_<NAME>");
		}
	}
	return TRUE;
}

gboolean
sim_fail_parse(const char *spec, GPtrArray **out, GError **error)
{
	g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) tokens = NULL;
	guint i;

	if (spec) {
		g_autofree char *norm = g_strdup(spec);
		g_strdelimit(norm, ";\t\r\n ", ',');
		tokens = g_strsplit(norm, ",", -1);
		for (i = 0; tokens[i]; i++) {
			sim_fail_rule *r;
			if (!*tokens[i])
				continue;
			r = g_new0(sim_fail_rule, 1);
			g_ptr_array_add(rules, r);
			if (!fail_parse_rule(tokens[i], rules->len, r, error))
				return FALSE;
		}
	}
	*out = g_steal_pointer(&rules);
	return TRUE;
}

static gboolean
fail_rule_matches(const sim_fail_rule *r, sim_op op)
{
	if (r->any_task_op)
		return op < SIM_OP_LIST;
	return r->op == op || (r->op == SIM_OP_STOP && op == SIM_OP_KILL);
}

/* Decide under fail_lock; deterministic: call k (after the skipped ones) fires when
 * floor(k * percent / 100) grows, so 50% fails every second call. */
static gboolean
fail_fire(sim_conn *sc, sim_op op, PRL_RESULT *code)
{
	gboolean fired = FALSE;
	guint i;

	if (!sc->fail_rules || sc->fail_rules->len == 0)
		return FALSE;
	g_mutex_lock(&sc->fail_lock);
	for (i = 0; i < sc->fail_rules->len; i++) {
		sim_fail_rule *r = g_ptr_array_index(sc->fail_rules, i);
		guint64 k;

		if (!fail_rule_matches(r, op))
			continue;
		r->calls++;
		if (fired || r->calls <= r->after)
			continue;
		k = r->calls - r->after;
		if (r->once ? r->fired == 0
		            : (k * r->percent / 100) > ((k - 1) * r->percent / 100)) {
			r->fired++;
			*code = r->code;
			fired = TRUE;
		}
	}
	g_mutex_unlock(&sc->fail_lock);
	return fired;
}

/* The platform's words only: the layers above add the PRL_RESULT name themselves. */
static char *
fail_message(sim_op op, PRL_RESULT code)
{
	return g_strdup_printf("sim: injected %s failure", sim_op_name(op));
}

gboolean
sim_conn_fail_check(sim_conn *sc, sim_op op, const char *what, GError **error)
{
	PRL_RESULT code;
	g_autofree char *msg = NULL;

	if (!fail_fire(sc, op, &code))
		return TRUE;
	msg = fail_message(op, code);
	g_set_error_literal(error, PK_ERROR, code, msg);
	return FALSE;
}

gboolean
sim_conn_fail_task(sim_conn *sc, sim_op op, PRL_RESULT *code, char **message)
{
	if (!fail_fire(sc, op, code))
		return FALSE;
	*message = fail_message(op, *code);
	return TRUE;
}

gint64
sim_conn_duration(const sim_conn *sc, gint64 base_ms)
{
	return (gint64)(base_ms * sc->speed + 0.5);
}

/* ---- connection setup ---- */

static gboolean
instance_name_valid(const char *s)
{
	const char *p;

	if (!s || !*s || strlen(s) > SIM_INSTANCE_MAX || !g_ascii_isalnum(s[0]))
		return FALSE;
	for (p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	return TRUE;
}

static char *
state_root(void)
{
	return g_build_filename(g_get_user_state_dir(), "prlkit", "sim", NULL);
}

/* The directory a URI names, or NULL with no error when it names none (the default). */
static gboolean
dir_from_uri(GUri *uri, char **out, GError **error)
{
	const char *host = g_uri_get_host(uri);
	const char *raw = g_uri_get_path(uri);
	g_autofree char *path = NULL;

	*out = NULL;
	if (host && *host && g_ascii_strcasecmp(host, "localhost") != 0) {
		sim_set_error(error, PRL_ERR_INVALID_PARAM,
		              "sim: a sim URI names no host: use sim:///NAME (an instance) or "
		              "sim:///ABSOLUTE/DIRECTORY");
		return FALSE;
	}
	if (g_uri_get_flags(uri) & (G_URI_FLAGS_ENCODED | G_URI_FLAGS_ENCODED_PATH))
		path = g_uri_unescape_string(raw ? raw : "", NULL);
	else
		path = g_strdup(raw ? raw : "");
	if (!path) {
		sim_set_error(error, PRL_ERR_INVALID_PARAM, "sim: the URI path is not valid");
		return FALSE;
	}
	if (*path == '\0' || strcmp(path, "/") == 0)
		return TRUE;
	if (path[0] != '/') {
		sim_set_error(error, PRL_ERR_INVALID_PARAM,
		              "sim: the URI path must be absolute (sim:///NAME or sim:///DIR/NAME)");
		return FALSE;
	}
	if (!strchr(path + 1, '/')) {
		g_autofree char *root = NULL;
		if (!instance_name_valid(path + 1)) {
			sim_set_error(error, PRL_ERR_INVALID_PARAM,
			              "sim: '%s' is not a valid instance name (letters, digits, '.', '-', "
			              "'_'; at most %d)", path + 1, SIM_INSTANCE_MAX);
			return FALSE;
		}
		root = state_root();
		*out = g_build_filename(root, path + 1, NULL);
		return TRUE;
	}
	*out = g_canonicalize_filename(path, "/");
	return TRUE;
}

static gboolean
resolve_dir(GUri *uri, GHashTable *settings, char **out, GError **error)
{
	g_autofree char *from_uri = NULL;
	const char *setting = g_hash_table_lookup(settings, "state_dir");
	g_autofree char *trimmed = setting ? g_strstrip(g_strdup(setting)) : NULL;
	g_autofree char *root = NULL;

	if (uri && !dir_from_uri(uri, &from_uri, error))
		return FALSE;
	if (trimmed && *trimmed) {
		g_autofree char *canon = NULL;
		if (!g_path_is_absolute(trimmed)) {
			sim_set_error(error, PRL_ERR_INVALID_PARAM,
			              "invalid value for setting 'state_dir': an absolute directory is "
			              "required");
			return FALSE;
		}
		canon = g_canonicalize_filename(trimmed, "/");
		if (from_uri && strcmp(from_uri, canon) != 0) {
			sim_set_error(error, PRL_ERR_INVALID_PARAM,
			              "invalid value for setting 'state_dir': it differs from the "
			              "directory the URI names");
			return FALSE;
		}
		*out = g_steal_pointer(&canon);
		return TRUE;
	}
	if (from_uri) {
		*out = g_steal_pointer(&from_uri);
		return TRUE;
	}
	root = state_root();
	*out = g_build_filename(root, "default", NULL);
	return TRUE;
}

static void
sim_conn_free(sim_conn *sc)
{
	if (!sc)
		return;
	sim_store_unref(sc->store);
	if (sc->fail_rules)
		g_ptr_array_unref(sc->fail_rules);
	g_mutex_clear(&sc->fail_lock);
	g_free(sc->instance);
	g_free(sc->dir);
	g_free(sc);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sim_conn, sim_conn_free)

typedef struct {
	const sim_seed *seed;
	const char *instance;
	gboolean created;
} seed_req;

static sim_update_result
seed_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	seed_req *req = data;

	if (*mp)
		return SIM_UPDATE_NONE;  /* another process was first */
	*mp = sim_seed_build(req->seed, req->instance, now);
	req->created = TRUE;
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_conn_init_state(sim_conn *sc, const sim_seed *seed, GError **error)
{
	seed_req req = { seed, sc->instance, FALSE };
	g_autoptr(sim_model) view = NULL;

	if (g_mkdir_with_parents(sc->dir, 0700) < 0) {
		int err = errno;
		sim_set_error(error, err == EACCES || err == EPERM || err == EROFS
		                     ? PRL_ERR_ACCESS_DENIED : PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
		              "sim: cannot create the state directory '%s': %s", sc->dir,
		              g_strerror(err));
		return FALSE;
	}
	if (!sim_store_exists(sc->store)) {
		if (!sim_store_update(sc->store, seed_apply, &req, error))
			return FALSE;
		if (req.created)
			g_info("sim: new state in %s (seed %s+%u)", sc->dir, seed->base, seed->extra);
	}
	/* Load once now, so a broken state file fails the connection, not a later op. */
	view = sim_store_view(sc->store, error);
	return view != NULL;
}

static pk_open_status
sim_open(pk_conn *c, GUri *uri, GHashTable *settings_in, GCancellable *cancel, GError **error)
{
	g_autoptr(GHashTable) empty = NULL;
	GHashTable *settings = settings_in;
	g_autoptr(sim_conn) sc = NULL;
	g_auto(sim_seed) seed = { 0 };
	const char *seed_spec;

	if (uri && g_ascii_strcasecmp(g_uri_get_scheme(uri), "sim") != 0)
		return PK_OPEN_DECLINED;
	if (!settings)
		settings = empty = g_hash_table_new(g_str_hash, g_str_equal);
	if (pk_log_level_enabled(G_LOG_LEVEL_DEBUG)) {
		g_autofree char *shown = pk_settings_to_redacted_json(settings);
		g_debug("sim: open with settings %s", shown);
	}

	sc = g_new0(sim_conn, 1);
	g_mutex_init(&sc->fail_lock);
	seed_spec = g_hash_table_lookup(settings, "seed");
	if (!resolve_dir(uri, settings, &sc->dir, error) ||
	    !pk_settings_get_double(settings, "speed", 1.0, 0.0, SIM_SPEED_MAX, &sc->speed, error) ||
	    !pk_settings_get_bool(settings, "fsync", FALSE, &sc->fsync, error) ||
	    !sim_seed_parse(seed_spec, &seed, error) ||
	    !sim_fail_parse(g_hash_table_lookup(settings, "fail"), &sc->fail_rules, error))
		return PK_OPEN_ERROR;
	sc->instance = g_path_get_basename(sc->dir);
	sc->store = sim_store_get(sc->dir);
	sim_store_set_fsync(sc->store, sc->fsync);

	if (!sim_conn_fail_check(sc, SIM_OP_CONNECT, NULL, error) ||
	    !sim_conn_init_state(sc, &seed, error))
		return PK_OPEN_ERROR;
	g_debug("sim: connected to %s (speed %g)", sc->dir, sc->speed);
	pk_conn_set_private(c, g_steal_pointer(&sc));
	return PK_OPEN_OK;
}

static void
sim_close(pk_conn *c)
{
	sim_conn_free(pk_conn_get_private(c));
	pk_conn_set_private(c, NULL);
}

/* ---- events ----
 * Poll the file identity (one stat) every ~100 ms scaled by speed; rescan the VMs when it
 * changed or when a stored transition is due, and report every VM whose state differs. */

static guint
watch_interval_ms(const sim_conn *sc)
{
	if (sc->speed <= 0.0)
		return 50;
	return (guint)CLAMP(100.0 * sc->speed, 5.0, 1000.0);
}

/* The VMS_* at t of the VM of m that has v's id, or VMS_UNKNOWN when there is none then.
 * i: v's position in its own model; a VM a write left alone is the same object at the same
 * position in the next model (copy on write), which spares the lookup. */
static VIRTUAL_MACHINE_STATE
state_at(sim_model *m, const sim_vm *v, guint i, gint64 t)
{
	VIRTUAL_MACHINE_STATE st;

	if (i >= m->vms->len || g_ptr_array_index(m->vms, i) != v)
		v = sim_model_lookup(m, v->id);

	return v && sim_vm_eval(v, t, &st, NULL) ? st : VMS_UNKNOWN;
}

static void
sim_watch(pk_conn *c, GCancellable *cancel)
{
	sim_conn *sc = sim_conn_of(c);
	/* The model of the last scan and its time: what every VM looked like then follows from
	 * them, so a scan allocates nothing (it runs after every write, at any scale). */
	g_autoptr(sim_model) last = NULL;
	gint64 last_now = 0;
	sim_file_id seen_id = { 0 };
	gint64 next_due = G_MAXINT64;

	for (;;) {
		g_autoptr(sim_model) view = NULL;
		g_autoptr(GError) error = NULL;
		sim_file_id id;
		gint64 now;
		guint i;

		if (last && !pk_time_sleep_ms(watch_interval_ms(sc), cancel))
			break;
		if (g_cancellable_is_cancelled(cancel))
			break;
		if (!sim_store_stat(sc->store, &id))
			continue;
		if (last && sim_file_id_equal(&id, &seen_id) && pk_time_wall_ms() < next_due)
			continue;
		view = sim_store_view(sc->store, &error);
		if (!view) {
			g_debug("sim: watch: %s", error->message);
			continue;
		}
		seen_id = id;
		now = pk_time_wall_ms();
		next_due = G_MAXINT64;
		for (i = 0; i < view->vms->len; i++) {
			const sim_vm *v = g_ptr_array_index(view->vms, i);
			VIRTUAL_MACHINE_STATE st, old;

			if (v->via && v->until > now)
				next_due = MIN(next_due, v->until);
			if (v->gone_at > now)
				next_due = MIN(next_due, v->gone_at);
			if (!last || !sim_vm_eval(v, now, &st, NULL))
				continue;  /* the first scan is the baseline: nothing to report */
			old = state_at(last, v, i, last_now);
			if (old == VMS_UNKNOWN) {
				pk_conn_emit_vm_event(c, v->id, PET_DSP_EVT_VM_ADDED);
				pk_conn_emit_vm_state(c, v->id, st);
			} else if (old != st) {
				pk_conn_emit_vm_state(c, v->id, st);
			}
		}
		for (i = 0; last && i < last->vms->len; i++) {
			const sim_vm *v = g_ptr_array_index(last->vms, i);
			if (sim_vm_eval(v, last_now, NULL, NULL) &&
			    state_at(view, v, i, now) == VMS_UNKNOWN)
				pk_conn_emit_vm_event(c, v->id, PET_DSP_EVT_VM_DELETED);
		}
		g_clear_pointer(&last, sim_model_unref);
		last = g_steal_pointer(&view);
		last_now = now;
	}
}

/* ---- the vtable ---- */

static const char *const sim_schemes[] = { "sim", NULL };

static const char *const sim_settings_keys[] = { "state_dir", "speed", "seed", "fail", "fsync",
                                                 NULL };

const pk_driver sim_driver = {
	.settings_keys = sim_settings_keys,
	.name = "sim",
	.display_name = "prlkit simulator",
	.uri_schemes = sim_schemes,
	.features = PRLK_FEAT_SUSPEND | PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE |
	            PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_LINKED_CLONE | PRLK_FEAT_TEMPLATES |
	            PRLK_FEAT_REVERSIBLE_TEMPLATES | PRLK_FEAT_GUEST_IPS | PRLK_FEAT_EVENTS |
	            PRLK_FEAT_PAUSE | PRLK_FEAT_RESET | PRLK_FEAT_RESTART | PRLK_FEAT_EDIT |
	            PRLK_FEAT_STATISTICS | PRLK_FEAT_TASK_IDS | PRLK_FEAT_DELETE,
	.features_for = NULL,
	.open = sim_open,
	.close = sim_close,
	.watch = sim_watch,
	.vm = &sim_vm_ops,
	.snap = &sim_snap_ops,
	.task = &sim_task_ops,
	.host = &sim_host_ops,
};

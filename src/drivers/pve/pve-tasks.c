/* Proxmox VE: task references and their stateless resolution.
 *
 * A reference is a small URL-encoded record, free of secrets:
 *   v=1&op=<op>&node=<node>&vm=<vmid>&task=<first task>[&<step parameters>]
 * where <first task> is its UPID without the node and the user ("pid:pstart:start:type:id"):
 * the user of an API token carries the token's name, which must not travel in task ids. The
 * task is found again in the node's task list (one request, which later steps need anyway).
 * Any process connected to the same cluster resolves it from what Proxmox shows: the
 * task's status, later tasks on the same VM (GET /nodes/{node}/tasks?vmid=&since=), the
 * VM's snapshots and config. Multi-step work (replace a snapshot = delete then create;
 * clone then un-tag; fold the RAS base snapshot then make a native template; delete a
 * snapshot subtree) is driven forward by whoever checks the status: each check starts the
 * next step when the state shows the previous one done and nothing running.
 *
 * "VM is locked" task failures of repeatable operations are retried until the reference's
 * deadline ("until"): the next check looks for a newer task of the same type (a retry
 * started by any process) and, when none runs and the VM is unlocked, starts one. */
#include "config.h"

#include <string.h>

#include "pve-private.h"
#include "util-log.h"
#include "util-time.h"

#define PVE_REF_VERSION "1"

/* ---------- building ---------- */

struct pve_ref {
	GString *s;
};

/* "UPID:node:pid:pstart:start:type:id:user:" → "pid:pstart:start:type:id" */
static char *upid_key(const char *upid)
{
	pve_upid u;
	if (!pve_upid_parse(upid, &u))
		return NULL;
	g_auto(GStrv) f = g_strsplit(upid, ":", -1);
	pve_upid_clear(&u);
	return g_strdup_printf("%s:%s:%s:%s:%s", f[2], f[3], f[4], f[5], f[6]);
}

pve_ref *pve_ref_new(const char *op, const char *node, guint vmid, const char *upid)
{
	pve_ref *ref = g_new0(pve_ref, 1);
	ref->s = g_string_new("v=" PVE_REF_VERSION);
	pve_ref_set(ref, "op", op);
	pve_ref_set(ref, "node", node);
	pve_ref_set_int(ref, "vm", vmid);
	g_autofree char *key = upid_key(upid);
	if (key != NULL)
		pve_ref_set(ref, "task", key);
	return ref;
}

void pve_ref_set(pve_ref *ref, const char *key, const char *value)
{
	g_autofree char *v = pk_http_escape(value != NULL ? value : "");
	g_string_append_printf(ref->s, "&%s=%s", key, v);
}

void pve_ref_set_int(pve_ref *ref, const char *key, gint64 value)
{
	g_string_append_printf(ref->s, "&%s=%" G_GINT64_FORMAT, key, value);
}

char *pve_ref_finish(pve_ref *ref)
{
	char *s = g_string_free(ref->s, FALSE);
	g_free(ref);
	return s;
}

/* ---------- parsing ---------- */

typedef enum {
	OP_START, OP_STOP, OP_SHUTDOWN, OP_RESET, OP_REBOOT, OP_SUSPEND, OP_RESUME, OP_DELETE,
	OP_SNAP_CREATE, OP_SNAP_DELETE, OP_ROLLBACK, OP_TEMPLATE,
	OP_CLONE, OP_SNAP_REPLACE, OP_SNAP_DELETE_TREE, OP_NATIVE_TEMPLATE,
} ref_op;

static const struct {
	const char *name;
	const char *task_type;        /* Proxmox worker type of the (repeatable) step */
	gboolean repeatable;          /* may be sent again after "VM is locked" */
	PRL_RESULT failure;           /* code when Proxmox's message says nothing more */
} ops[] = {
	[OP_START] = { "start", "qmstart", TRUE, PRL_ERR_VM_START_FAILED },
	[OP_STOP] = { "stop", "qmstop", TRUE, PRL_ERR_VM_POWER_OFF_FAILED },
	[OP_SHUTDOWN] = { "shutdown", "qmshutdown", TRUE, PRL_ERR_VM_POWER_OFF_FAILED },
	[OP_RESET] = { "reset", "qmreset", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_REBOOT] = { "reboot", "qmreboot", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_SUSPEND] = { "suspend", "qmsuspend", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_RESUME] = { "resume", "qmresume", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_DELETE] = { "delete", "qmdestroy", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_SNAP_CREATE] = { "snap-create", "qmsnapshot", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_SNAP_DELETE] = { "snap-delete", "qmdelsnapshot", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_ROLLBACK] = { "rollback", "qmrollback", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_TEMPLATE] = { "template", "qmtemplate", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_CLONE] = { "clone", "qmclone", FALSE, PRL_ERR_VM_NOT_CREATED },
	[OP_SNAP_REPLACE] = { "snap-replace", "qmdelsnapshot", TRUE, PRL_ERR_OPERATION_FAILED },
	[OP_SNAP_DELETE_TREE] = { "snap-delete-tree", "qmdelsnapshot", TRUE,
	                          PRL_ERR_OPERATION_FAILED },
	[OP_NATIVE_TEMPLATE] = { "native-template", "qmdelsnapshot", TRUE,
	                         PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE },
};

typedef struct {
	ref_op op;
	char *node;
	guint vmid;
	char *key;                    /* the first task: "pid:pstart:start:type:id" */
	pve_upid u;                   /* ... parsed (node from the reference) */
	GHashTable *kv;               /* every field, decoded */
} ref_parsed;

static void ref_parsed_clear(ref_parsed *r)
{
	g_free(r->node);
	g_free(r->key);
	pve_upid_clear(&r->u);
	if (r->kv != NULL)
		g_hash_table_unref(r->kv);
}

static const char *ref_get(const ref_parsed *r, const char *key)
{
	return g_hash_table_lookup(r->kv, key);
}

static gint64 ref_get_int(const ref_parsed *r, const char *key, gint64 def)
{
	const char *v = ref_get(r, key);
	gint64 n;
	if (v == NULL || !g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL))
		return def;
	return n;
}

static gboolean ref_parse(const char *text, ref_parsed *out, GError **error)
{
	g_autofree char *upid = NULL;   /* before the first goto: cleaned up on every path */
	memset(out, 0, sizeof *out);
	if (text == NULL || strlen(text) > 16384)
		goto bad;
	out->kv = g_uri_parse_params(text, -1, "&", G_URI_PARAMS_NONE, NULL);
	if (out->kv == NULL || g_strcmp0(ref_get(out, "v"), PVE_REF_VERSION) != 0)
		goto bad;
	const char *op = ref_get(out, "op");
	gsize i;
	for (i = 0; i < G_N_ELEMENTS(ops); i++)
		if (g_strcmp0(op, ops[i].name) == 0)
			break;
	if (i == G_N_ELEMENTS(ops))
		goto bad;
	out->op = (ref_op)i;
	if (!pve_vmid_parse(ref_get(out, "vm"), &out->vmid))
		goto bad;
	out->node = g_strdup(ref_get(out, "node"));
	out->key = g_strdup(ref_get(out, "task"));
	if (out->node == NULL || out->key == NULL || strchr(out->node, ':') != NULL)
		goto bad;
	/* Rebuild a UPID (with a placeholder user) to validate and parse the key. */
	upid = g_strdup_printf("UPID:%s:%s:-:", out->node, out->key);
	guint first_vm;
	if (!pve_upid_parse(upid, &out->u) || !pve_vmid_parse(out->u.id, &first_vm))
		goto bad;
	return TRUE;
bad:
	ref_parsed_clear(out);
	memset(out, 0, sizeof *out);
	g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND, "not a Proxmox VE task reference");
	return FALSE;
}

/* ---------- Proxmox task queries ---------- */

typedef struct {
	gboolean running;
	char *exitstatus;
} task_state;

static gboolean entry_running(json_t *t);
static const char *entry_status(json_t *t);

/* The entry of the task whose key is key in list, or NULL. */
static json_t *list_find(json_t *list, const char *key)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		g_autofree char *k = upid_key(json_string_value(json_object_get(e, "upid")));
		if (k != NULL && strcmp(k, key) == 0)
			return e;
	}
	return NULL;
}

/* Tasks on vmid that started with or after the reference's first task, newest first.
 * Proxmox filters by second; within that second the worker pid orders them. */
static gboolean tasks_since(pve_conn *pc, const char *node, guint vmid, const pve_upid *first,
                            json_t **list, GCancellable *cancel, GError **error)
{
	g_autofree char *n = pk_http_escape(node);
	g_autofree char *path = g_strdup_printf("/nodes/%s/tasks", n);
	g_autoptr(GString) q = g_string_new(NULL);
	g_autoptr(json_t) all = NULL;
	pk_http_form_add_int(q, "vmid", vmid);
	pk_http_form_add_int(q, "since", first->starttime);
	pk_http_form_add(q, "source", "all");
	pk_http_form_add_int(q, "limit", 100);
	if (!pve_api_call(pc->api, "GET", path, q->str, 0, &all, cancel, error))
		return FALSE;
	if (!json_is_array(all)) {
		g_set_error(error, PK_ERROR, PRL_ERR_OPERATION_FAILED, "unexpected task list answer");
		return FALSE;
	}
	*list = json_array();
	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *e = json_array_get(all, i);
		pve_upid u;
		if (!pve_upid_parse(json_string_value(json_object_get(e, "upid")), &u))
			continue;
		gboolean keep = u.starttime > first->starttime ||
		                (u.starttime == first->starttime && u.pid >= first->pid);
		pve_upid_clear(&u);
		if (keep)
			json_array_append(*list, e);
	}
	return TRUE;
}

/* The reference's first task (and the list it was found in, for later steps). */
static gboolean task_get(pve_conn *pc, const ref_parsed *r, task_state *st, json_t **list_out,
                         GCancellable *cancel, GError **error)
{
	g_autoptr(json_t) list = NULL;
	if (!tasks_since(pc, r->node, (guint)g_ascii_strtoull(r->u.id, NULL, 10), &r->u, &list,
	                 cancel, error))   /* u.id is a VM id: ref_parse checked it */
		return FALSE;
	json_t *e = list_find(list, r->key);
	if (e == NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND,
		            "no such task on node '%s' (it may have been purged from the task log)",
		            r->node);
		return FALSE;
	}
	st->running = entry_running(e);
	st->exitstatus = st->running ? NULL : g_strdup(entry_status(e));
	if (list_out != NULL)
		*list_out = g_steal_pointer(&list);
	return TRUE;
}

/* The newest task (by start time, then pid) of one of types (NULL-terminated) in list,
 * skipping `except` (a key). */
static json_t *tasks_newest(json_t *list, const char *const *types, const char *except)
{
	size_t i;
	json_t *t;
	json_t *best = NULL;
	gint64 best_start = -1;
	guint64 best_pid = 0;
	json_array_foreach(list, i, t) {
		const char *type = json_string_value(json_object_get(t, "type"));
		const char *upid = json_string_value(json_object_get(t, "upid"));
		g_autofree char *key = upid_key(upid);
		pve_upid u;
		if (type == NULL || key == NULL || (except != NULL && strcmp(key, except) == 0) ||
		    !g_strv_contains(types, type) || !pve_upid_parse(upid, &u))
			continue;
		if (u.starttime > best_start || (u.starttime == best_start && u.pid > best_pid)) {
			best = t;
			best_start = u.starttime;
			best_pid = u.pid;
		}
		pve_upid_clear(&u);
	}
	return best;
}

/* A task list entry: running when it has no end yet (Proxmox lists a running task with
 * status "RUNNING" and no endtime). */
static gboolean entry_running(json_t *t)
{
	json_t *end = json_object_get(t, "endtime");
	const char *st = json_string_value(json_object_get(t, "status"));
	return (end == NULL || json_is_null(end)) &&
	       (st == NULL || g_ascii_strcasecmp(st, "running") == 0);
}

static const char *entry_status(json_t *t)
{
	const char *st = json_string_value(json_object_get(t, "status"));
	return st != NULL ? st : "unknown task outcome";
}

/* ---------- outcomes ---------- */

static void out_running(pk_task_status *out, const char *result_vm)
{
	out->finished = FALSE;
	out->code = PRL_ERR_SUCCESS;
	out->progress = 0;
	g_free(out->result_vm_id);
	out->result_vm_id = g_strdup(result_vm);
}

static void out_done(pk_task_status *out, const char *result_vm)
{
	out->finished = TRUE;
	out->code = PRL_ERR_SUCCESS;
	out->progress = 100;
	g_clear_pointer(&out->message, g_free);
	g_free(out->result_vm_id);
	out->result_vm_id = g_strdup(result_vm);
}

static void out_failed(pk_task_status *out, PRL_RESULT code, const char *message)
{
	out->finished = TRUE;
	out->code = code != PRL_ERR_SUCCESS ? code : PRL_ERR_OPERATION_FAILED;
	out->progress = 100;
	g_free(out->message);
	g_autofree char *m = g_strdup(message != NULL && *message ? message : "task failed");
	out->message = pk_redact(m);
}

static gboolean locked_message(const char *exitstatus)
{
	return pve_error_code_for_message(exitstatus, PRL_ERR_OPERATION_FAILED) ==
	       PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED;
}

static gboolean retry_allowed(const ref_parsed *r)
{
	return ops[r->op].repeatable && pk_time_wall_ms() < ref_get_int(r, "until", 0);
}

/* The VM's current lock ("" = none); FALSE when the VM is gone or Proxmox failed. */
static gboolean vm_lock_now(pve_conn *pc, const ref_parsed *r, char **lock, GCancellable *cancel,
                            GError **error)
{
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/status/current");
	g_autoptr(json_t) data = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &data, cancel, error))
		return FALSE;
	const char *l = json_string_value(json_object_get(data, "lock"));
	*lock = g_strdup(l != NULL ? l : "");
	return TRUE;
}

/* Send the step `op` again (after a lock failure) or for the first time (next step). */
static gboolean step_send(pve_conn *pc, const ref_parsed *r, ref_op op, const char *snap,
                          GCancellable *cancel, GError **error)
{
	g_autoptr(GString) form = g_string_new(NULL);
	g_autofree char *suffix = NULL;
	const char *method = "POST";
	g_autofree char *esc = snap != NULL ? pk_http_escape(snap) : NULL;

	switch (op) {
	case OP_START: suffix = g_strdup("/status/start"); break;
	case OP_STOP: suffix = g_strdup("/status/stop"); break;
	case OP_SHUTDOWN:
		suffix = g_strdup("/status/shutdown");
		pk_http_form_add_int(form, "timeout", ref_get_int(r, "t", 60));
		pk_http_form_add(form, "forceStop", "1");
		break;
	case OP_RESET: suffix = g_strdup("/status/reset"); break;
	case OP_REBOOT: suffix = g_strdup("/status/reboot"); break;
	case OP_SUSPEND:
		suffix = g_strdup("/status/suspend");
		if (ref_get_int(r, "todisk", 0))
			pk_http_form_add(form, "todisk", "1");
		break;
	case OP_RESUME: suffix = g_strdup("/status/resume"); break;
	case OP_DELETE:
		method = "DELETE";
		suffix = g_strdup("");
		pk_http_form_add(form, "purge", "1");
		pk_http_form_add(form, "destroy-unreferenced-disks", "1");
		break;
	case OP_SNAP_CREATE:
	case OP_SNAP_REPLACE:
		suffix = g_strdup("/snapshot");
		pk_http_form_add(form, "snapname", snap);
		if (ref_get(r, "desc") != NULL)
			pk_http_form_add(form, "description", ref_get(r, "desc"));
		break;
	case OP_SNAP_DELETE:
	case OP_SNAP_DELETE_TREE:
		method = "DELETE";
		suffix = g_strdup_printf("/snapshot/%s", esc);
		break;
	case OP_ROLLBACK: suffix = g_strdup_printf("/snapshot/%s/rollback", esc); break;
	case OP_TEMPLATE:
	case OP_NATIVE_TEMPLATE:
		suffix = g_strdup("/template");
		break;
	default:
		g_set_error(error, PK_ERROR, PRL_ERR_UNEXPECTED, "step cannot be repeated");
		return FALSE;
	}
	g_autofree char *path = pve_vm_path(r->node, r->vmid, suffix);
	g_autoptr(json_t) data = NULL;
	PK_DEBUG("task %s: sending %s %s", ops[r->op].name, method, path);
	return pve_api_call(pc->api, method, path, form->str, PVE_CALL_VM, &data, cancel, error);
}

/* The step failed with "VM is locked": follow a newer attempt, or make one when the VM is
 * free again. */
static gboolean retry_after_lock(pve_conn *pc, const ref_parsed *r, json_t *list, ref_op step,
                                 const char *snap, const char *last_failure, pk_task_status *out,
                                 GCancellable *cancel, GError **error)
{
	/* A suspend without todisk runs as Proxmox's "qmpause" worker. */
	const char *type = step == OP_SUSPEND && !ref_get_int(r, "todisk", 0) ? "qmpause"
	                                                                     : ops[step].task_type;
	const char *types[] = { type, NULL };
	json_t *newer = tasks_newest(list, types, r->key);
	const char *failure = last_failure;
	if (newer != NULL) {
		if (entry_running(newer)) {
			out_running(out, NULL);
			return TRUE;
		}
		if (pve_exitstatus_ok(entry_status(newer)))
			return FALSE;   /* the caller treats FALSE without error as "step done" */
		failure = entry_status(newer);
		if (!locked_message(failure)) {
			out_failed(out, pve_error_code_for_message(failure, ops[r->op].failure), failure);
			return TRUE;
		}
	}
	if (!retry_allowed(r)) {
		out_failed(out, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED, failure);
		return TRUE;
	}
	g_autofree char *lock = NULL;
	if (!vm_lock_now(pc, r, &lock, cancel, error))
		return FALSE;
	if (*lock == '\0' || (step == OP_START && strcmp(lock, "suspended") == 0)) {
		GError *err = NULL;
		if (!step_send(pc, r, step, snap, cancel, &err)) {
			if (!pve_error_is_locked(err)) {
				g_propagate_error(error, err);
				return FALSE;
			}
			g_error_free(err);
		}
	}
	out_running(out, NULL);
	return TRUE;
}

/* Resolve a one-task step. *done: the step ended well (possibly through a retry). */
static gboolean step_resolve(pve_conn *pc, const ref_parsed *r, ref_op step, const char *snap,
                             gboolean missing_ok, gboolean *done, pk_task_status *out,
                             GCancellable *cancel, GError **error)
{
	task_state st = { 0 };
	g_autoptr(json_t) list = NULL;
	*done = FALSE;
	if (!task_get(pc, r, &st, &list, cancel, error))
		return FALSE;
	g_autofree char *exitstatus = st.exitstatus;
	if (st.running) {
		out_running(out, NULL);
		return TRUE;
	}
	if (pve_exitstatus_ok(exitstatus)) {
		if (g_str_has_prefix(exitstatus, "WARNINGS"))
			PK_DEBUG("task %s on %s ended with %s", r->key, r->node, exitstatus);
		*done = TRUE;
		return TRUE;
	}
	PRL_RESULT code = pve_error_code_for_message(exitstatus, ops[r->op].failure);
	if (missing_ok && code == PRL_ERR_VM_SNAPSHOT_NOT_FOUND) {
		*done = TRUE;
		return TRUE;
	}
	if (code == PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED && ops[step].repeatable) {
		GError *err = NULL;
		if (retry_after_lock(pc, r, list, step, snap, exitstatus, out, cancel, &err))
			return TRUE;
		if (err != NULL) {
			g_propagate_error(error, err);
			return FALSE;
		}
		*done = TRUE;   /* a newer attempt succeeded */
		return TRUE;
	}
	out_failed(out, code, exitstatus);
	return TRUE;
}

static void forget_vm(pve_conn *pc, guint vmid)
{
	pve_vm_forget(pc, vmid);
	pve_inventory_invalidate(pc);
}

/* ---------- multi-step resolvers ---------- */

/* The newest finished task of these types since the reference began failed: its message. */
static const char *failed_since(json_t *list, const char *const *types, gboolean *running)
{
	json_t *t = tasks_newest(list, types, NULL);
	*running = FALSE;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *type = json_string_value(json_object_get(e, "type"));
		if (type != NULL && g_strv_contains(types, type) && entry_running(e))
			*running = TRUE;
	}
	if (t == NULL || entry_running(t) || pve_exitstatus_ok(entry_status(t)))
		return NULL;
	return entry_status(t);
}

/* Drive "make this true" steps: the caller saw the goal unmet; if a step runs, wait; if the
 * last attempt failed (not on a lock), report it; else start the next attempt. */
static gboolean converge_step(pve_conn *pc, const ref_parsed *r, ref_op step, const char *snap,
                              const char *failure, gboolean running, pk_task_status *out,
                              GCancellable *cancel, GError **error)
{
	if (running) {
		out_running(out, NULL);
		return TRUE;
	}
	if (failure != NULL && (!locked_message(failure) || !retry_allowed(r))) {
		out_failed(out, pve_error_code_for_message(failure, ops[r->op].failure), failure);
		return TRUE;
	}
	g_autofree char *lock = NULL;
	if (!vm_lock_now(pc, r, &lock, cancel, error))
		return FALSE;
	if (*lock == '\0') {
		GError *err = NULL;
		if (!step_send(pc, r, step, snap, cancel, &err)) {
			if (!pve_error_is_locked(err) || !retry_allowed(r)) {
				out_failed(out, err->code, err->message);
				g_error_free(err);
				return TRUE;
			}
			g_error_free(err);
		}
	}
	out_running(out, NULL);
	return TRUE;
}

static gboolean resolve_snap_replace(pve_conn *pc, const ref_parsed *r, pk_task_status *out,
                                     GCancellable *cancel, GError **error)
{
	const char *snap = ref_get(r, "snap");
	gboolean done;
	if (snap == NULL || !pve_snapname_valid(snap)) {
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND, "not a Proxmox VE task reference");
		return FALSE;
	}
	/* Step 1: the old snapshot is deleted (or was already gone). */
	if (!step_resolve(pc, r, OP_SNAP_DELETE, snap, TRUE, &done, out, cancel, error))
		return FALSE;
	if (!done)
		return TRUE;
	/* Step 2: the new one exists. Tasks first, then the state: a task seen finished has
	 * its effect in the state read after it. */
	g_autoptr(json_t) list = NULL;
	if (!tasks_since(pc, r->node, r->vmid, &r->u, &list, cancel, error))
		return FALSE;
	g_autoptr(json_t) snaps = NULL;
	if (!pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	static const char *const types[] = { "qmsnapshot", NULL };
	gboolean running = FALSE;
	const char *failure = failed_since(list, types, &running);
	if (pve_snapshot_exists(snaps, snap) && !running) {
		forget_vm(pc, r->vmid);
		out_done(out, NULL);
		return TRUE;
	}
	return converge_step(pc, r, OP_SNAP_CREATE, snap, failure, running, out, cancel, error);
}

static gboolean resolve_delete_tree(pve_conn *pc, const ref_parsed *r, pk_task_status *out,
                                    GCancellable *cancel, GError **error)
{
	g_auto(GStrv) names = g_strsplit(ref_get(r, "names") ? ref_get(r, "names") : "", ",", -1);
	g_autoptr(json_t) snaps = NULL;
	g_autoptr(json_t) list = NULL;
	if (!tasks_since(pc, r->node, r->vmid, &r->u, &list, cancel, error) ||
	    !pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	static const char *const types[] = { "qmdelsnapshot", NULL };
	gboolean running = FALSE;
	const char *failure = failed_since(list, types, &running);
	if (running) {
		out_running(out, NULL);
		return TRUE;
	}
	const char *next = NULL;
	for (int i = 0; names[i] != NULL && next == NULL; i++)
		if (pve_snapname_valid(names[i]) && pve_snapshot_exists(snaps, names[i]))
			next = names[i];
	if (next == NULL) {
		forget_vm(pc, r->vmid);
		out_done(out, NULL);
		return TRUE;
	}
	if (failure != NULL && pve_error_code_for_message(failure, 0) == PRL_ERR_VM_SNAPSHOT_NOT_FOUND)
		failure = NULL;   /* raced with someone deleting it too */
	return converge_step(pc, r, OP_SNAP_DELETE_TREE, next, failure, FALSE, out, cancel, error);
}

static gboolean resolve_native_template(pve_conn *pc, const ref_parsed *r, pk_task_status *out,
                                        GCancellable *cancel, GError **error)
{
	const char *snap = ref_get(r, "snap");
	g_autoptr(json_t) list = NULL;
	if (!tasks_since(pc, r->node, r->vmid, &r->u, &list, cancel, error))
		return FALSE;
	g_autofree char *path = pve_vm_path(r->node, r->vmid, "/config");
	g_autoptr(json_t) conf = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &conf, cancel, error))
		return FALSE;
	static const char *const all[] = { "qmdelsnapshot", "qmtemplate", NULL };
	gboolean running = FALSE;
	failed_since(list, all, &running);
	gboolean ignored_running;
	json_t *tmpl = json_object_get(conf, "template");
	if (!running && ((json_is_integer(tmpl) && json_integer_value(tmpl) == 1) ||
	                 g_strcmp0(json_string_value(tmpl), "1") == 0)) {
		forget_vm(pc, r->vmid);
		out_done(out, NULL);
		return TRUE;
	}
	if (running) {
		out_running(out, NULL);
		return TRUE;
	}
	g_autoptr(json_t) snaps = NULL;
	if (!pve_snapshot_list(pc, r->node, r->vmid, &snaps, cancel, error))
		return FALSE;
	if (snap != NULL && pve_snapshot_exists(snaps, snap)) {
		static const char *const del[] = { "qmdelsnapshot", NULL };
		const char *failure = failed_since(list, del, &ignored_running);
		return converge_step(pc, r, OP_SNAP_DELETE_TREE, snap, failure, FALSE, out, cancel,
		                     error);
	}
	static const char *const tmp[] = { "qmtemplate", NULL };
	const char *failure = failed_since(list, tmp, &ignored_running);
	return converge_step(pc, r, OP_TEMPLATE, NULL, failure, FALSE, out, cancel, error);
}

static gboolean resolve_clone(pve_conn *pc, const ref_parsed *r, pk_task_status *out,
                              GCancellable *cancel, GError **error)
{
	guint newid;
	if (!pve_vmid_parse(ref_get(r, "new"), &newid)) {
		g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND, "not a Proxmox VE task reference");
		return FALSE;
	}
	const char *new_id = ref_get(r, "new");
	const char *target = ref_get(r, "target") ? ref_get(r, "target") : r->node;
	task_state st = { 0 };
	if (!task_get(pc, r, &st, NULL, cancel, error))
		return FALSE;
	g_autofree char *exitstatus = st.exitstatus;
	if (st.running) {
		out_running(out, new_id);
		return TRUE;
	}
	if (!pve_exitstatus_ok(exitstatus)) {
		out_failed(out, pve_error_code_for_message(exitstatus, PRL_ERR_VM_NOT_CREATED), exitstatus);
		return TRUE;
	}

	/* The clone copied the source's tags: it carries the template tag only if asked. */
	gboolean want_tag = ref_get_int(r, "tmpl", 0) != 0;
	gboolean want_native = ref_get_int(r, "native", 0) != 0;
	const char *tag = ref_get(r, "tag");
	g_autofree char *path = pve_vm_path(target, newid, "/config");
	g_autoptr(json_t) conf = NULL;
	GError *gone = NULL;
	if (!pve_api_call(pc->api, "GET", path, NULL, PVE_CALL_VM, &conf, cancel, &gone)) {
		if (!g_error_matches(gone, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND)) {
			g_propagate_error(error, gone);
			return FALSE;
		}
		/* Proxmox made the clone and someone deleted it since: the clone task completed
		 * (nothing is left to fix up). */
		g_error_free(gone);
		out_done(out, new_id);
		return TRUE;
	}

	const char *tags = json_string_value(json_object_get(conf, "tags"));
	if (tag != NULL && pve_tags_has(tags, tag) != want_tag) {
		g_autofree char *new_tags = pve_tags_with(tags, tag, want_tag);
		g_autoptr(GString) form = g_string_new(NULL);
		if (*new_tags != '\0')
			pk_http_form_add(form, "tags", new_tags);
		else
			pk_http_form_add(form, "delete", "tags");
		const char *digest = json_string_value(json_object_get(conf, "digest"));
		if (digest != NULL)
			pk_http_form_add(form, "digest", digest);
		g_autoptr(json_t) ignored = NULL;
		GError *err = NULL;
		if (!pve_api_call(pc->api, "PUT", path, form->str, PVE_CALL_VM, &ignored, cancel, &err)) {
			/* Locked or edited meanwhile: the next check tries again. */
			if (pve_error_is_locked(err) || err->code == PRL_ERR_VM_CONFIG_WAS_CHANGED) {
				g_error_free(err);
				out_running(out, new_id);
				return TRUE;
			}
			g_propagate_error(error, err);
			return FALSE;
		}
	}
	json_t *t = json_object_get(conf, "template");
	gboolean is_native = (json_is_integer(t) && json_integer_value(t) == 1) ||
	                     g_strcmp0(json_string_value(t), "1") == 0;
	if (want_native && !is_native) {
		/* Native mode: the clone becomes a Proxmox template. */
		g_autoptr(json_t) list = NULL;
		if (!tasks_since(pc, target, newid, &r->u, &list, cancel, error))
			return FALSE;
		static const char *const types[] = { "qmtemplate", NULL };
		gboolean running = FALSE;
		const char *failure = failed_since(list, types, &running);
		if (!running && failure != NULL) {
			out_failed(out, pve_error_code_for_message(failure, ops[r->op].failure), failure);
			return TRUE;
		}
		if (!running) {
			g_autofree char *tp = pve_vm_path(target, newid, "/template");
			g_autoptr(json_t) ignored = NULL;
			GError *err = NULL;
			if (!pve_api_call(pc->api, "POST", tp, NULL, PVE_CALL_VM, &ignored, cancel, &err)) {
				if (!pve_error_is_locked(err)) {
					g_propagate_error(error, err);
					return FALSE;
				}
				g_error_free(err);
			}
		}
		out_running(out, new_id);
		return TRUE;
	}
	forget_vm(pc, newid);
	out_done(out, new_id);
	return TRUE;
}

/* ---------- entry points ---------- */

gboolean pve_task_status(pk_conn *c, const char *task_ref, pk_task_status *out,
                         GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	ref_parsed r;
	if (!ref_parse(task_ref, &r, error))
		return FALSE;
	gboolean ok;
	gboolean done = FALSE;
	switch (r.op) {
	case OP_CLONE:
		ok = resolve_clone(pc, &r, out, cancel, error);
		break;
	case OP_SNAP_REPLACE:
		ok = resolve_snap_replace(pc, &r, out, cancel, error);
		break;
	case OP_SNAP_DELETE_TREE:
		ok = resolve_delete_tree(pc, &r, out, cancel, error);
		break;
	case OP_NATIVE_TEMPLATE:
		ok = resolve_native_template(pc, &r, out, cancel, error);
		break;
	default: {
		const char *snap = ref_get(&r, "snap");
		if (snap != NULL && !pve_snapname_valid(snap)) {
			g_set_error(error, PK_ERROR, PRL_ERR_TASK_NOT_FOUND,
			            "not a Proxmox VE task reference");
			ok = FALSE;
			break;
		}
		ok = step_resolve(pc, &r, r.op, snap, ref_get_int(&r, "missing", 0) != 0, &done, out,
		                  cancel, error);
		if (ok && done) {
			forget_vm(pc, r.vmid);
			out_done(out, NULL);
		}
		break;
	}
	}
	ref_parsed_clear(&r);
	return ok;
}

/* A Proxmox worker type that one of prlkit's operations starts. */
static gboolean is_own_task_type(const char *type)
{
	if (type == NULL)
		return FALSE;
	if (strcmp(type, "qmpause") == 0 || strcmp(type, "qmconfig") == 0)
		return TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(ops); i++)
		if (strcmp(type, ops[i].task_type) == 0)
			return TRUE;
	return FALSE;
}

gboolean pve_task_cancel(pk_conn *c, const char *task_ref, GCancellable *cancel, GError **error)
{
	pve_conn *pc = pve_conn_get(c);
	ref_parsed r;
	if (!ref_parse(task_ref, &r, error))
		return FALSE;
	/* Stop the reference's first task and any task still running on the VM since then
	 * (later steps or lock retries). */
	g_autoptr(GPtrArray) upids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(json_t) list = NULL;
	if (!tasks_since(pc, r.node, r.vmid, &r.u, &list, cancel, error)) {
		ref_parsed_clear(&r);
		return FALSE;
	}
	guint source = (guint)g_ascii_strtoull(r.u.id, NULL, 10);
	g_autoptr(json_t) first_list = NULL;
	if (source != r.vmid)
		tasks_since(pc, r.node, source, &r.u, &first_list, cancel, NULL);
	/* Only tasks of the user who started the reference, of the kinds prlkit starts: never
	 * somebody else's backup or migration of the same VM. */
	json_t *first = list_find(source != r.vmid ? first_list : list, r.key);
	const char *user = first != NULL ? json_string_value(json_object_get(first, "user")) : NULL;
	json_t *lists[] = { list, first_list };
	for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
		for (size_t i = 0; lists[l] != NULL && i < json_array_size(lists[l]); i++) {
			json_t *e = json_array_get(lists[l], i);
			const char *u = json_string_value(json_object_get(e, "upid"));
			const char *eu = json_string_value(json_object_get(e, "user"));
			const char *type = json_string_value(json_object_get(e, "type"));
			if (u != NULL && entry_running(e) && is_own_task_type(type) &&
			    (user == NULL || g_strcmp0(eu, user) == 0))
				g_ptr_array_add(upids, g_strdup(u));
		}
	gboolean ok = TRUE;
	for (guint i = 0; i < upids->len; i++) {
		g_autofree char *n = pk_http_escape(r.node);
		g_autofree char *u = pk_http_escape(g_ptr_array_index(upids, i));
		g_autofree char *path = g_strdup_printf("/nodes/%s/tasks/%s", n, u);
		g_autoptr(json_t) data = NULL;
		GError *err = NULL;
		if (!pve_api_call(pc->api, "DELETE", path, NULL, 0, &data, cancel, &err)) {
			/* A task that ended meanwhile cannot be stopped: nothing to do. */
			if (err->code != PRL_ERR_TASK_NOT_FOUND) {
				g_propagate_error(error, err);
				ok = FALSE;
				break;
			}
			g_error_free(err);
		}
	}
	forget_vm(pc, r.vmid);
	ref_parsed_clear(&r);
	return ok;
}

guint pve_task_poll_interval(pk_conn *c, const char *task_ref)
{
	pve_conn *pc = pve_conn_get(c);
	return pc != NULL ? pc->s.task_poll_ms : 500;
}

/* The operations behind the asynchronous public functions (see core-ops.h). Steps run on
 * workers with no lock held; every driver call goes through core-drv. */
#include "config.h"

#include <string.h>
#include "core-ops.h"
#include "core-conn.h"
#include "core-drv.h"
#include "core-info.h"
#include "core-server.h"
#include "core-vm.h"
#include "util-log.h"

/* Arguments of one operation (what a step needs besides the job). */
typedef struct {
	PRL_JOB_OPERATION_CODE op;
	pk_power_op power;
	guint flags;
	char *name;
	char *description;
	char *snapshot;
	pk_vm_data *edit_base;     /* commit: taken from the VM; given back if the commit fails */
	pk_vm_data *edited;
	pk_vm *vm;                 /* commit: where to give the edit back (reference) */
} op_args;

static op_args *op_args_new(PRL_JOB_OPERATION_CODE op)
{
	op_args *a = g_new0(op_args, 1);
	a->op = op;
	return a;
}

static void op_args_free(gpointer p)
{
	op_args *a = p;
	if (a->edited != NULL && a->vm != NULL)
		pk_vm_restore_edit(a->vm, a->edit_base, a->edited);
	else if (a->edited != NULL || a->edit_base != NULL) {
		if (a->edited != NULL)
			pk_vm_data_free(a->edited);
		if (a->edit_base != NULL)
			pk_vm_data_free(a->edit_base);
	}
	pk_object_unref_ptr(a->vm);
	g_free(a->name);
	g_free(a->description);
	g_free(a->snapshot);
	g_free(a);
}

/* A server job, or an already-failed one when the server is not connected. */
static PRL_HANDLE srv_submit(pk_server *srv, PRL_JOB_OPERATION_CODE op, pk_job_func step,
                             op_args *a)
{
	pk_job *job = pk_job_new(op, srv, NULL);
	if (pk_job_get_conn(job) == NULL) {
		op_args_free(a);
		return pk_job_fail(job, PRL_ERR_NOT_CONNECTED_TO_DISPATCHER,
		                   "the server handle is not connected (PrlSrv_Login first)");
	}
	return pk_job_submit(job, step, a, op_args_free);
}

static PRL_HANDLE vm_submit(pk_vm *vm, PRL_JOB_OPERATION_CODE op, pk_job_func step, op_args *a)
{
	return pk_job_submit(pk_job_new(op, NULL, vm), step, a, op_args_free);
}

/* ------------------------------------------------------------ completion ---- */

/* Re-read the VM after a change; its new state reaches handlers as events. A failure here
 * does not undo the operation, so it is only logged. */
static pk_vm *refresh_vm(pk_job *job, const char *vm_id, GCancellable *cancel)
{
	pk_conn *c = pk_job_get_conn(job);
	pk_vm_data *d = NULL;
	GError *error = NULL;
	if (!pk_drv_vm_get(c, vm_id, 0, &d, cancel, &error)) {
		PK_DEBUG("refreshing VM %s: %s", vm_id, error->message);
		g_error_free(error);
		return NULL;
	}
	VIRTUAL_MACHINE_STATE state = d->state;
	pk_vm *vm = pk_vm_from_data(c, pk_job_get_server(job), d);
	pk_conn_emit_vm_state(c, vm_id, state);
	return vm;
}

gboolean pk_ops_complete(pk_job *job, PRL_JOB_OPERATION_CODE op, const char *vm_id,
                         GCancellable *cancel, GError **error)
{
	pk_conn *c = pk_job_get_conn(job);
	if (c == NULL || vm_id == NULL)
		return TRUE;
	switch (op) {
	case PJOC_VM_START:
	case PJOC_VM_START_EX:
	case PJOC_VM_STOP:
	case PJOC_VM_PAUSE:
	case PJOC_VM_SUSPEND:
	case PJOC_VM_RESTART:
	case PJOC_VM_RESET:
		pk_object_unref_ptr(refresh_vm(job, vm_id, cancel));
		if (op == PJOC_VM_RESET)
			pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_RESETED);
		return TRUE;
	case PJOC_VM_COMMIT:
		pk_object_unref_ptr(refresh_vm(job, vm_id, cancel));
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_CONFIG_CHANGED);
		return TRUE;
	case PJOC_VM_DELETE: {
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_DELETED);
		pk_vm *gone = pk_conn_lookup_vm(c, vm_id);
		if (gone != NULL) {   /* a VM later created with that id is a new object */
			pk_conn_forget_vm(c, gone);
			pk_object_unref(gone);
		}
		pk_conn_drop_vm_state(c, vm_id);
		return TRUE;
	}
	case PJOC_VM_CREATE_SNAPSHOT:
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_SNAPSHOTED);
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_SNAPSHOTS_TREE_CHANGED);
		return TRUE;
	case PJOC_VM_DELETE_SNAPSHOT:
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_SNAPSHOTS_TREE_CHANGED);
		return TRUE;
	case PJOC_VM_SWITCH_TO_SNAPSHOT:
		pk_object_unref_ptr(refresh_vm(job, vm_id, cancel));
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_RESTORED);
		pk_conn_emit_vm_event(c, vm_id, PET_DSP_EVT_VM_SNAPSHOTS_TREE_CHANGED);
		return TRUE;
	case PJOC_VM_CLONE:
	case PJOC_VM_CLONE_FROM_SNAPSHOT: {
		char *new_id = pk_job_dup_vm_id(job);
		if (new_id == NULL) {
			g_set_error(error, PK_ERROR, PRL_ERR_UNEXPECTED,
			            "the %s driver did not report the id of the clone",
			            pk_conn_get_driver(c)->name);
			return FALSE;
		}
		pk_vm_data *d = NULL;
		if (!pk_drv_vm_get(c, new_id, 0, &d, cancel, error)) {
			g_free(new_id);
			return FALSE;
		}
		pk_vm *clone = pk_vm_from_data(c, pk_job_get_server(job), d);
		pk_result_add_object(pk_job_get_result(job), clone);
		pk_object_unref(clone);
		pk_conn_emit_vm_event(c, new_id, PET_DSP_EVT_VM_ADDED);
		g_free(new_id);
		return TRUE;
	}
	default:
		return TRUE;
	}
}

static gboolean complete_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	return pk_ops_complete(job, a->op, pk_vm_get_id(pk_job_get_vm(job)), cancel, error);
}

/* --------------------------------------------------------------- server ---- */

static gboolean vm_list_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	GPtrArray *list = NULL;
	if (!pk_drv_vm_list(pk_job_get_conn(job), a->flags, &list, cancel, error))
		return FALSE;
	GPtrArray *vms = pk_vm_from_list(pk_job_get_conn(job), pk_job_get_server(job), list);
	g_ptr_array_unref(list);
	pk_result_take_objects(pk_job_get_result(job), vms);
	g_ptr_array_unref(vms);
	return TRUE;
}

PRL_HANDLE pk_ops_srv_vm_list(pk_server *srv, guint flags)
{
	op_args *a = op_args_new(PJOC_SRV_GET_VM_LIST);
	a->flags = flags;
	return srv_submit(srv, PJOC_SRV_GET_VM_LIST, vm_list_step, a);
}

/* The id of the VM named name (newly allocated), or NULL with an error. */
static char *find_by_name(pk_conn *c, const char *name, gboolean also_id,
                          GCancellable *cancel, GError **error)
{
	GPtrArray *list = NULL;
	if (!pk_drv_vm_list(c, PK_GET_NO_GUEST_INFO, &list, cancel, error))
		return NULL;
	char *id = NULL;
	for (guint i = 0; i < list->len && id == NULL; i++) {
		pk_vm_data *v = list->pdata[i];
		if (v != NULL && v->id != NULL && g_strcmp0(v->name, name) == 0)
			id = g_strdup(v->id);
	}
	g_ptr_array_set_free_func(list, (GDestroyNotify)pk_vm_data_free);
	g_ptr_array_unref(list);
	if (id == NULL)
		g_set_error(error, PK_ERROR, PRL_ERR_VM_UUID_NOT_FOUND, "no VM with %s '%s'",
		            also_id ? "id or name" : "name", name);
	return id;
}

static gboolean vm_config_step(pk_job *job, gpointer data, GCancellable *cancel,
                               GError **error)
{
	op_args *a = data;
	pk_conn *c = pk_job_get_conn(job);
	gboolean by_id = a->flags == 0 || (a->flags & PGVC_SEARCH_BY_UUID);
	gboolean by_name = a->flags == 0 || (a->flags & PGVC_SEARCH_BY_NAME);
	pk_vm_data *d = NULL;
	GError *local = NULL;

	if (by_id && !pk_drv_vm_get(c, a->name, 0, &d, cancel, &local)) {
		if (!by_name || local->code != PRL_ERR_VM_UUID_NOT_FOUND) {
			g_propagate_error(error, local);
			return FALSE;
		}
		g_clear_error(&local);
	}
	if (d == NULL) {
		char *id = find_by_name(c, a->name, by_id, cancel, error);
		gboolean ok = id != NULL && pk_drv_vm_get(c, id, 0, &d, cancel, error);
		g_free(id);
		if (!ok)
			return FALSE;
	}
	pk_vm *vm = pk_vm_from_data(c, pk_job_get_server(job), d);
	pk_result_add_object(pk_job_get_result(job), vm);
	pk_object_unref(vm);
	return TRUE;
}

PRL_HANDLE pk_ops_srv_vm_config(pk_server *srv, const char *search, guint search_flags)
{
	op_args *a = op_args_new(PJOC_SRV_GET_VM_CONFIG);
	a->name = g_strdup(search);
	a->flags = search_flags & (PGVC_SEARCH_BY_UUID | PGVC_SEARCH_BY_NAME);
	return srv_submit(srv, PJOC_SRV_GET_VM_CONFIG, vm_config_step, a);
}

static gboolean srv_config_step(pk_job *job, gpointer data, GCancellable *cancel,
                                GError **error)
{
	pk_host_data *h = NULL;
	if (!pk_drv_host_info(pk_job_get_conn(job), &h, cancel, error))
		return FALSE;
	pk_server_config *cfg = pk_server_config_new(h);
	pk_host_data_free(h);
	pk_result_add_object(pk_job_get_result(job), cfg);
	pk_object_unref(cfg);
	return TRUE;
}

PRL_HANDLE pk_ops_srv_config(pk_server *srv)
{
	return srv_submit(srv, PJOC_SRV_GET_SRV_CONFIG, srv_config_step,
	                  op_args_new(PJOC_SRV_GET_SRV_CONFIG));
}

static void add_statistics(pk_job *job, pk_stats_data *s)
{
	pk_statistics *st = pk_statistics_new(s);
	pk_stats_data_free(s);
	pk_result_add_object(pk_job_get_result(job), st);
	pk_object_unref(st);
}

static gboolean srv_statistics_step(pk_job *job, gpointer data, GCancellable *cancel,
                                    GError **error)
{
	pk_stats_data *s = NULL;
	if (!pk_drv_host_statistics(pk_job_get_conn(job), &s, cancel, error))
		return FALSE;
	add_statistics(job, s);
	return TRUE;
}

PRL_HANDLE pk_ops_srv_statistics(pk_server *srv)
{
	return srv_submit(srv, PJOC_SRV_GET_STATISTICS, srv_statistics_step,
	                  op_args_new(PJOC_SRV_GET_STATISTICS));
}

/* ------------------------------------------------------------------- VM ---- */

static gboolean power_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	pk_vm *vm = pk_job_get_vm(job);
	if (a->power == PK_POWER_START && pk_vm_is_template(vm)) {
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_TO_START_VM_TEMPLATE,
		            "VM '%s' is a template; templates cannot be started", pk_vm_get_id(vm));
		return FALSE;
	}
	char *ref = NULL;
	if (!pk_drv_vm_power(pk_job_get_conn(job), pk_vm_get_id(vm), a->power, 0, &ref, cancel,
	                     error))
		return FALSE;
	pk_job_await_task(job, ref, complete_step);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_power(pk_vm *vm, PRL_JOB_OPERATION_CODE op, pk_power_op power)
{
	op_args *a = op_args_new(op);
	a->power = power;
	return vm_submit(vm, op, power_step, a);
}

static gboolean delete_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	char *ref = NULL;
	if (!pk_drv_vm_remove(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), 0, &ref,
	                      cancel, error))
		return FALSE;
	pk_job_await_task(job, ref, complete_step);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_delete(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_DELETE, delete_step, op_args_new(PJOC_VM_DELETE));
}

static gboolean clone_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	char *new_id = NULL, *ref = NULL;
	if (!pk_drv_vm_clone(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), a->name,
	                     a->snapshot, a->flags, &new_id, &ref, cancel, error)) {
		g_free(new_id);
		return FALSE;
	}
	if (new_id != NULL)
		pk_job_accepted(job, NULL, new_id);
	pk_job_await_task(job, ref, complete_step);
	g_free(new_id);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_clone(pk_vm *vm, PRL_JOB_OPERATION_CODE op, const char *name,
                           const char *snapshot, guint flags)
{
	op_args *a = op_args_new(op);
	a->name = g_strdup(name);
	a->snapshot = snapshot != NULL && *snapshot != '\0' ? g_strdup(snapshot) : NULL;
	a->flags = flags;
	return vm_submit(vm, op, clone_step, a);
}

static gboolean refresh_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	pk_vm *vm = pk_job_get_vm(job);
	pk_vm_data *d = NULL;
	if (!pk_drv_vm_get(pk_job_get_conn(job), pk_vm_get_id(vm), 0, &d, cancel, error))
		return FALSE;
	VIRTUAL_MACHINE_STATE state = d->state;
	pk_vm_info *info = a->op == PJOC_VM_GET_STATE ? pk_vm_info_new(d->state, d->power_state)
	                                              : NULL;
	pk_vm_data *base = NULL, *edited = NULL;
	if (a->op == PJOC_VM_REFRESH_CONFIG && pk_vm_take_edit(vm, &base, &edited)) {
		/* The SDK's refresh replaces the local copy, the one an edit (or a failed commit)
		 * left changed: the edit goes on from the platform's data, its base is kept so a
		 * change made by someone else since BeginEdit is still detected at commit. */
		pk_vm_data_free(edited);
		pk_vm_restore_edit(vm, base, pk_vm_data_copy(d));
	}
	pk_vm_update(vm, d);
	pk_conn_emit_vm_state(pk_job_get_conn(job), pk_vm_get_id(vm), state);
	if (info != NULL) {
		pk_result_add_object(pk_job_get_result(job), info);
		pk_object_unref(info);
	} else {
		pk_result_add_object(pk_job_get_result(job), vm);
	}
	return TRUE;
}

PRL_HANDLE pk_ops_vm_refresh(pk_vm *vm, PRL_JOB_OPERATION_CODE op)
{
	return vm_submit(vm, op, refresh_step, op_args_new(op));
}

static gboolean begin_edit_step(pk_job *job, gpointer data, GCancellable *cancel,
                                GError **error)
{
	pk_vm *vm = pk_job_get_vm(job);
	pk_vm_data *d = NULL;
	GError *local = NULL;
	/* Start from the platform's current configuration (and edit token) where possible. */
	if (!pk_drv_vm_get(pk_job_get_conn(job), pk_vm_get_id(vm), 0, &d, cancel, &local)) {
		if (local->code != PRL_ERR_UNIMPLEMENTED) {
			g_propagate_error(error, local);
			return FALSE;
		}
		g_clear_error(&local);
		const pk_vm_data *cur = pk_vm_lock_config(vm);
		gboolean partial = cur->identity_only;
		pk_vm_unlock(vm);
		if (partial) {   /* never edit (and commit) a configuration we do not have */
			g_set_error(error, PK_ERROR, PRL_ERR_VM_GET_CONFIG_FAILED,
			            "the configuration of VM '%s' is not known: it came from an "
			            "identity-only list and the driver cannot read it",
			            pk_vm_get_id(vm));
			return FALSE;
		}
	}
	pk_vm_begin_edit(vm, d);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_begin_edit(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_BEGIN_EDIT, begin_edit_step, op_args_new(PJOC_VM_BEGIN_EDIT));
}

static gboolean commit_done_step(pk_job *job, gpointer data, GCancellable *cancel,
                                 GError **error)
{
	op_args *a = data;
	/* Committed: the edit is spent (not given back by op_args_free). */
	g_clear_pointer(&a->edited, pk_vm_data_free);
	g_clear_pointer(&a->edit_base, pk_vm_data_free);
	return complete_step(job, data, cancel, error);
}

static gboolean commit_step(pk_job *job, gpointer data, GCancellable *cancel, GError **error)
{
	op_args *a = data;
	pk_vm *vm = pk_job_get_vm(job);
	if (!pk_vm_take_edit(vm, &a->edit_base, &a->edited)) {
		g_set_error_literal(error, PK_ERROR, PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID,
		                    "PrlVm_Commit without PrlVm_BeginEdit");
		return FALSE;
	}
	a->vm = pk_object_ref(vm);
	char *ref = NULL;
	if (!pk_drv_vm_commit(pk_job_get_conn(job), pk_vm_get_id(vm), a->edit_base, a->edited, 0,
	                      &ref, cancel, error))
		return FALSE;
	pk_job_await_task(job, ref, commit_done_step);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_commit(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_COMMIT, commit_step, op_args_new(PJOC_VM_COMMIT));
}

static gboolean vm_statistics_step(pk_job *job, gpointer data, GCancellable *cancel,
                                   GError **error)
{
	pk_stats_data *s = NULL;
	if (!pk_drv_vm_statistics(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), &s,
	                          cancel, error))
		return FALSE;
	add_statistics(job, s);
	return TRUE;
}

PRL_HANDLE pk_ops_vm_statistics(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_GET_STATISTICS, vm_statistics_step,
	                 op_args_new(PJOC_VM_GET_STATISTICS));
}

/* ------------------------------------------------------------ snapshots ---- */

static gboolean snap_create_done(pk_job *job, gpointer data, GCancellable *cancel,
                                 GError **error)
{
	op_args *a = data;
	if (!complete_step(job, data, cancel, error))
		return FALSE;
	pk_result_add_string(pk_job_get_result(job), a->name);
	return TRUE;
}

static gboolean snap_create_step(pk_job *job, gpointer data, GCancellable *cancel,
                                 GError **error)
{
	op_args *a = data;
	char *ref = NULL;
	if (!pk_drv_snap_create(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), a->name,
	                        a->description, a->flags, &ref, cancel, error))
		return FALSE;
	pk_job_await_task(job, ref, snap_create_done);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_snap_create(pk_vm *vm, const char *name, const char *description, guint flags)
{
	op_args *a = op_args_new(PJOC_VM_CREATE_SNAPSHOT);
	a->name = g_strdup(name);
	a->description = g_strdup(description != NULL ? description : "");
	a->flags = flags;
	return vm_submit(vm, PJOC_VM_CREATE_SNAPSHOT, snap_create_step, a);
}

static gboolean snap_remove_step(pk_job *job, gpointer data, GCancellable *cancel,
                                 GError **error)
{
	op_args *a = data;
	char *ref = NULL;
	if (!pk_drv_snap_remove(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), a->name,
	                        a->flags, &ref, cancel, error))
		return FALSE;
	pk_job_await_task(job, ref, complete_step);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_snap_remove(pk_vm *vm, const char *name, guint flags)
{
	op_args *a = op_args_new(PJOC_VM_DELETE_SNAPSHOT);
	a->name = g_strdup(name);
	a->flags = flags;
	return vm_submit(vm, PJOC_VM_DELETE_SNAPSHOT, snap_remove_step, a);
}

static gboolean snap_revert_step(pk_job *job, gpointer data, GCancellable *cancel,
                                 GError **error)
{
	op_args *a = data;
	char *ref = NULL;
	if (!pk_drv_snap_revert(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), a->name,
	                        0, &ref, cancel, error))
		return FALSE;
	pk_job_await_task(job, ref, complete_step);
	g_free(ref);
	return TRUE;
}

PRL_HANDLE pk_ops_snap_revert(pk_vm *vm, const char *name)
{
	op_args *a = op_args_new(PJOC_VM_SWITCH_TO_SNAPSHOT);
	a->name = g_strdup(name);
	return vm_submit(vm, PJOC_VM_SWITCH_TO_SNAPSHOT, snap_revert_step, a);
}

static GPtrArray *list_snapshots(pk_job *job, GCancellable *cancel, GError **error)
{
	GPtrArray *list = NULL;
	if (!pk_drv_snap_list(pk_job_get_conn(job), pk_vm_get_id(pk_job_get_vm(job)), &list,
	                      cancel, error))
		return NULL;
	g_ptr_array_set_free_func(list, (GDestroyNotify)pk_snapshot_data_free);
	return list;
}

/* Markup-escaped text for the tree. GMarkup's escaper needs valid UTF-8, and XML parsers
 * normalize CR in text and tab, CR and LF in attribute values: those go out as character
 * references, so every reader gets names and descriptions back exactly. */
static char *xml_escape(const char *text)
{
	char *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
	char *esc = g_markup_escape_text(valid, -1);
	GString *out = g_string_sized_new(strlen(esc));
	for (const char *p = esc; *p != '\0'; p++) {
		if (*p == '\r')
			g_string_append(out, "&#13;");
		else if (*p == '\n')
			g_string_append(out, "&#10;");
		else if (*p == '\t')
			g_string_append(out, "&#9;");
		else
			g_string_append_c(out, *p);
	}
	g_free(esc);
	g_free(valid);
	return g_string_free(out, FALSE);
}

static void xml_item(GString *out, GPtrArray *snaps, GHashTable *children, guint index,
                     GHashTable *done, guint depth)
{
	pk_snapshot_data *s = snaps->pdata[index];
	g_hash_table_add(done, s);
	char *indent = g_strnfill(depth, ' ');
	char *date = NULL;
	if (s->created > 0) {
		GDateTime *dt = g_date_time_new_from_unix_local(s->created);
		if (dt != NULL) {
			date = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
			g_date_time_unref(dt);
		}
	}
	char *guid = xml_escape(s->name);
	char *desc = xml_escape(s->description);
	g_string_append_printf(out,
	                       "%s<SavedStateItem guid=\"%s\" CurrentSnapshot=\"%d\">\n"
	                       "%s <Name>%s</Name>\n"
	                       "%s <DateTime>%s</DateTime>\n"
	                       "%s <Description>%s</Description>\n",
	                       indent, guid, s->current ? 1 : 0, indent, guid, indent,
	                       date != NULL ? date : "", indent, desc);
	GArray *kids = s->name != NULL ? g_hash_table_lookup(children, s->name) : NULL;
	for (guint i = 0; kids != NULL && i < kids->len; i++) {
		guint k = g_array_index(kids, guint, i);
		if (!g_hash_table_contains(done, snaps->pdata[k]))   /* a cycle is a driver bug */
			xml_item(out, snaps, children, k, done, depth + 1);
	}
	g_string_append_printf(out, "%s</SavedStateItem>\n", indent);
	g_free(guid);
	g_free(desc);
	g_free(date);
	g_free(indent);
}

char *pk_ops_snapshots_xml(GPtrArray *snaps)
{
	/* parent name → indexes of its children, in list order (oldest first) */
	GHashTable *children = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                             (GDestroyNotify)g_array_unref);
	GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < snaps->len; i++) {
		pk_snapshot_data *s = snaps->pdata[i];
		if (s->name != NULL)
			g_hash_table_add(names, s->name);
	}
	for (guint i = 0; i < snaps->len; i++) {
		pk_snapshot_data *s = snaps->pdata[i];
		if (s->parent == NULL || !g_hash_table_contains(names, s->parent))
			continue;
		GArray *kids = g_hash_table_lookup(children, s->parent);
		if (kids == NULL) {
			kids = g_array_new(FALSE, FALSE, sizeof(guint));
			g_hash_table_insert(children, s->parent, kids);
		}
		g_array_append_val(kids, i);
	}
	GString *out = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                            "<ParallelsSavedStates>\n");
	GHashTable *done = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < snaps->len; i++) {
		pk_snapshot_data *s = snaps->pdata[i];
		gboolean root = s->parent == NULL || !g_hash_table_contains(names, s->parent);
		if (root && !g_hash_table_contains(done, s))
			xml_item(out, snaps, children, i, done, 1);
	}
	/* Whatever a parent cycle left out still shows, at the top level. */
	for (guint i = 0; i < snaps->len; i++)
		if (!g_hash_table_contains(done, snaps->pdata[i]))
			xml_item(out, snaps, children, i, done, 1);
	g_string_append(out, "</ParallelsSavedStates>\n");
	g_hash_table_unref(done);
	g_hash_table_unref(names);
	g_hash_table_unref(children);
	return g_string_free(out, FALSE);
}

static gboolean snap_tree_step(pk_job *job, gpointer data, GCancellable *cancel,
                               GError **error)
{
	GPtrArray *list = list_snapshots(job, cancel, error);
	if (list == NULL)
		return FALSE;
	char *xml = pk_ops_snapshots_xml(list);
	g_ptr_array_unref(list);
	pk_result_add_string(pk_job_get_result(job), xml);
	g_free(xml);
	return TRUE;
}

PRL_HANDLE pk_ops_snap_tree(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_GET_SNAPSHOTS_TREE, snap_tree_step,
	                 op_args_new(PJOC_VM_GET_SNAPSHOTS_TREE));
}

static gboolean snap_list_step(pk_job *job, gpointer data, GCancellable *cancel,
                               GError **error)
{
	GPtrArray *list = list_snapshots(job, cancel, error);
	if (list == NULL)
		return FALSE;
	pk_result *res = pk_job_get_result(job);
	for (guint i = 0; i < list->len; i++) {
		pk_snapshot_data *s = list->pdata[i];
		if (s->name != NULL)
			pk_result_add_string(res, s->name);
	}
	g_ptr_array_unref(list);
	return TRUE;
}

PRL_HANDLE pk_ops_snap_list(pk_vm *vm)
{
	return vm_submit(vm, PJOC_VM_GET_SNAPSHOTS_LIST, snap_list_step,
	                 op_args_new(PJOC_VM_GET_SNAPSHOTS_LIST));
}

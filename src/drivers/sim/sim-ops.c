/* The sim's semantics: VM power transitions, clones, deletes, edits, snapshots, tasks and
 * statistics, as a real hypervisor would behave (doc/drivers/sim.md has the table).
 *
 * Every mutating op is one read-modify-write of the state document (sim_store_update):
 * validate first (errors leave the document untouched), then decide failure injection,
 * then record the outcome as timestamps: the VM's stable state (what it will be), the
 * transitional phase shown until `until`, when its guest IP appears, a busy lock until
 * the task ends, and the task itself with its end time and result code. Readers evaluate
 * all of that against the clock. */
#include "config.h"

#include <string.h>

#include "sim-private.h"
#include "util-time.h"

/* Durations at speed 1 (ms). */
enum {
	SIM_MS_START = 3000,
	SIM_MS_STOP = 4000,
	SIM_MS_KILL = 500,
	SIM_MS_RESET = 1000,
	SIM_MS_RESTART = 4000,
	SIM_MS_PAUSE = 500,
	SIM_MS_CONTINUE = 500,
	SIM_MS_SUSPEND = 2000,
	SIM_MS_RESUME = 2000,
	SIM_MS_CLONE = 8000,
	SIM_MS_LINKED_CLONE = 1000,
	SIM_MS_DELETE = 1000,
	SIM_MS_EDIT = 500,
	SIM_MS_CONVERT = 1000,
	SIM_MS_SNAP_CREATE = 2000,
	SIM_MS_SNAP_DELETE = 1000,
	SIM_MS_SNAP_REVERT = 3000,
	SIM_MS_IP_AFTER_BOOT = 5000,
	SIM_MS_IP_AFTER_RESUME = 1000,
};

#define SIM_RAM_MIN_MB 32
#define SIM_RAM_MAX_MB (4u * 1024 * 1024)
#define SIM_CPUS_MAX 128
#define SIM_NAME_MAX 255

/* ---- words and ops ---- */

static const struct {
	const char *word;
	VIRTUAL_MACHINE_STATE state;
} sim_words[] = {
	{ "stopped", VMS_STOPPED },
	{ "running", VMS_RUNNING },
	{ "paused", VMS_PAUSED },
	{ "suspended", VMS_SUSPENDED },
	{ "starting", VMS_STARTING },
	{ "stopping", VMS_STOPPING },
	{ "resetting", VMS_RESETTING },
	{ "restarting", VMS_RUNNING },  /* a guest reboot: the hypervisor still runs it */
	{ "pausing", VMS_PAUSING },
	{ "continuing", VMS_CONTINUING },
	{ "suspending", VMS_SUSPENDING },
	{ "resuming", VMS_RESUMING },
	{ "restoring", VMS_RESTORING },
	{ "cloning", VMS_STOPPED },
	{ "deleting", VMS_STOPPED },
};

const char *
sim_word_intern(const char *word)
{
	gsize i;

	if (!word)
		return NULL;
	for (i = 0; i < G_N_ELEMENTS(sim_words); i++)
		if (strcmp(sim_words[i].word, word) == 0)
			return sim_words[i].word;
	return NULL;
}

VIRTUAL_MACHINE_STATE
sim_word_state(const char *word)
{
	gsize i;

	for (i = 0; word && i < G_N_ELEMENTS(sim_words); i++)
		if (strcmp(sim_words[i].word, word) == 0)
			return sim_words[i].state;
	return VMS_UNKNOWN;
}

static const char *const sim_op_names[SIM_OP_COUNT_] = {
	[SIM_OP_START] = "start",
	[SIM_OP_STOP] = "stop",
	[SIM_OP_KILL] = "kill",
	[SIM_OP_RESET] = "reset",
	[SIM_OP_RESTART] = "restart",
	[SIM_OP_PAUSE] = "pause",
	[SIM_OP_SUSPEND] = "suspend",
	[SIM_OP_RESUME] = "resume",
	[SIM_OP_CLONE] = "clone",
	[SIM_OP_DELETE] = "delete",
	[SIM_OP_EDIT] = "edit",
	[SIM_OP_SNAP_CREATE] = "snapshot-create",
	[SIM_OP_SNAP_DELETE] = "snapshot-delete",
	[SIM_OP_SNAP_REVERT] = "snapshot-revert",
	[SIM_OP_LIST] = "list",
	[SIM_OP_GET] = "get",
	[SIM_OP_STATISTICS] = "statistics",
	[SIM_OP_HOST] = "host",
	[SIM_OP_TASK] = "task",
	[SIM_OP_CONNECT] = "connect",
};

const char *
sim_op_name(sim_op op)
{
	return op < SIM_OP_COUNT_ ? sim_op_names[op] : "?";
}

sim_op
sim_op_from_name(const char *name)
{
	guint i;

	for (i = 0; name && i < SIM_OP_COUNT_; i++)
		if (g_ascii_strcasecmp(sim_op_names[i], name) == 0)
			return (sim_op)i;
	return SIM_OP_COUNT_;
}

PRL_RESULT
sim_op_default_error(sim_op op)
{
	switch (op) {
	case SIM_OP_START:
	case SIM_OP_RESUME:
		return PRL_ERR_VM_START_FAILED;
	case SIM_OP_STOP:
	case SIM_OP_KILL:
		return PRL_ERR_VM_POWER_OFF_FAILED;
	case SIM_OP_CLONE:
		return PRL_ERR_VM_NOT_CREATED;
	case SIM_OP_CONNECT:
		return PRL_ERR_CANT_CONNECT_TO_DISPATCHER;
	default:
		return PRL_ERR_OPERATION_FAILED;
	}
}

/* ---- evaluation ---- */

gboolean
sim_vm_eval(const sim_vm *v, gint64 now, VIRTUAL_MACHINE_STATE *state, const char **word)
{
	const char *w;

	if (v->gone_at && now >= v->gone_at)
		return FALSE;
	w = (v->via && now < v->until) ? v->via : v->st;
	if (state)
		*state = sim_word_state(w);
	if (word)
		*word = w;
	return TRUE;
}

static gboolean
vm_has_ip(const sim_vm *v, gint64 now)
{
	return v->has_ipn && strcmp(v->st, "running") == 0 && !(v->via && now < v->until) &&
	       now >= (v->has_ip_at ? v->ip_at : 0);
}

/* The VM's disk image path (a name only: no file exists). Cheaper than g_build_filename,
 * which shows when a list of 10,000 VMs is built; dir is canonical (no trailing '/'
 * except the root itself). */
static char *
disk_path(const char *dir, const char *id)
{
	return g_strconcat(dir, dir[0] && dir[1] ? "/vms/" : "vms/", id, "/harddisk.hdd", NULL);
}

/* Decimal text of v, cheaper than printf. */
static char *
int_text(gint64 v)
{
	char buf[24];
	char *end = buf + sizeof(buf), *p = end;
	guint64 u = v < 0 ? -(guint64)v : (guint64)v;

	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return g_memdup2(p, end - p);
}

pk_vm_data *
sim_vm_output(const sim_vm *v, const char *dir, gint64 now, guint flags)
{
	pk_vm_data *d;
	const char *word;
	VIRTUAL_MACHINE_STATE state;

	if (!sim_vm_eval(v, now, &state, &word))
		return NULL;
	if (flags & PK_LIST_IDENTITY_ONLY)
		return pk_vm_data_new_identity(v->id, v->name, v->tpl, state, word);
	d = pk_vm_data_new();
	d->id = g_strdup(v->id);
	d->name = g_strdup(v->name);
	d->description = g_strdup(v->desc ? v->desc : "");
	d->os_type_name = g_strdup(v->os);
	d->os_type = (guint32)v->ost;
	d->os_version = (guint32)v->osv;
	d->ram_mb = (guint32)v->ram;
	d->cpus = (guint32)v->cpus;
	d->is_template = v->tpl;
	d->state = state;
	d->power_state = g_strdup(word);
	d->digest = int_text(v->gen);
	if (v->mac) {
		pk_net_data *n = g_new0(pk_net_data, 1);
		n->mac = g_strdup(v->mac);
		n->network = g_strdup(v->net);
		g_ptr_array_add(d->nets, n);
		g_ptr_array_add(d->macs, g_strdup(v->mac));
	}
	if (v->disk_mb > 0) {
		pk_disk_data *disk = g_new0(pk_disk_data, 1);
		disk->image_path = disk_path(dir, v->id);
		disk->size_mb = (guint64)v->disk_mb;
		disk->type = PDE_HARD_DISK;
		g_ptr_array_add(d->disks, disk);
	}
	if (!(flags & PK_GET_NO_GUEST_INFO) && vm_has_ip(v, now)) {
		g_ptr_array_add(d->ips, sim_ip4_format(v->ipn));
		g_ptr_array_add(d->ips, sim_ip6_format(v->ipn));
	}
	return d;
}

/* ---- small helpers over the model ---- */

sim_conn *
sim_conn_of(pk_conn *c)
{
	return pk_conn_get_private(c);
}

static sim_model *
conn_view(sim_conn *sc, GError **error)
{
	return sim_store_view(sc->store, error);
}

/* The VM of that id in the draft, made private so the caller may change it. */
static sim_vm *
draft_vm(sim_model *d, const char *id, guint *index, GError **error)
{
	sim_vm *vm;

	if (!d) {
		/* Someone removed the state file under a live connection. */
		sim_set_error(error, PRL_ERR_FILE_NOT_FOUND, "sim: the state file is gone");
		return NULL;
	}
	vm = sim_model_vm_mut_by_id(d, id, index);
	if (!vm)
		sim_set_error(error, PRL_ERR_VM_UUID_NOT_FOUND, "sim: VM '%s' not found", id);
	return vm;
}

static const char *
vm_label(const sim_vm *vm)
{
	return vm->name;
}

/* Exclusive lock: a task of this VM is in flight (the draft is folded to now). */
static gboolean
vm_check_idle(const sim_vm *vm, gint64 now, gboolean also_clone_source, GError **error)
{
	if (vm->busy && vm->busy_until > now) {
		sim_set_error(error, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED,
		              "sim: VM '%s' is locked by a %s task in progress", vm_label(vm),
		              vm->busy_op ? vm->busy_op : "running");
		return FALSE;
	}
	if (also_clone_source && vm->src_until > now) {
		sim_set_error(error, PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED,
		              "sim: VM '%s' is locked: it is being cloned", vm_label(vm));
		return FALSE;
	}
	return TRUE;
}

static gboolean
vm_is(const sim_vm *vm, const char *word)
{
	return strcmp(vm->st, word) == 0;
}

static gboolean
name_valid(const char *name)
{
	const char *p;

	if (!name || strlen(name) > SIM_NAME_MAX || !g_utf8_validate(name, -1, NULL))
		return FALSE;
	for (p = name; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			return FALSE;
	return TRUE;
}

static gboolean
name_blank(const char *name)
{
	const char *p;
	for (p = name ? name : ""; *p; p++)
		if (!g_ascii_isspace(*p))
			return FALSE;
	return TRUE;
}

static const sim_vm *
model_vm_by_name(sim_model *d, const char *name)
{
	guint i;

	for (i = 0; i < d->vms->len; i++) {
		const sim_vm *vm = g_ptr_array_index(d->vms, i);
		if (g_strcmp0(vm->name, name) == 0)
			return vm;
	}
	return NULL;
}

/* The phase shown until `until`; none when the phase is already over. */
static void
vm_set_phase(sim_vm *vm, const char *via, gint64 now, gint64 until)
{
	if (via && until > now) {
		vm->via = sim_word_intern(via);
		vm->until = until;
	} else {
		vm->via = NULL;
		vm->until = 0;
	}
}

static void
vm_clear_busy(sim_vm *vm)
{
	g_clear_pointer(&vm->busy, g_free);
	vm->busy_until = 0;
	vm->busy_op = NULL;
}

static void
vm_set_ip_at(sim_vm *vm, gint64 at)
{
	vm->has_ip_at = TRUE;
	vm->ip_at = at;
}

static void
vm_clear_ip_at(sim_vm *vm)
{
	vm->has_ip_at = FALSE;
	vm->ip_at = 0;
}

/* ---- tasks ---- */

typedef struct sim_req {
	sim_conn *sc;
	sim_op op;
	const char *vm_id;
	const char *name;
	const char *description;
	const char *snapshot;
	guint flags;
	const pk_vm_data *old;
	const pk_vm_data *new_;
	/* out */
	char *task_id;
	char *new_id;
} sim_req;

/* Record a task on vm (locked until t1) and return it to add details. */
static sim_task *
task_add(sim_model *d, sim_req *req, sim_op op, sim_vm *vm, gint64 now, gint64 t1,
         PRL_RESULT code, const char *message)
{
	g_autofree char *uuid = g_uuid_string_random();
	sim_task *task = sim_task_new();

	g_free(req->task_id);
	req->task_id = g_strconcat(SIM_TASK_PREFIX, uuid, NULL);
	task->id = g_strdup(req->task_id);
	task->op = op;
	task->vm = g_strdup(vm->id);
	task->t0 = now;
	task->t1 = t1;
	task->code = code;
	task->msg = g_strdup(message);
	sim_model_add_task(d, task);
	if (t1 > now) {
		sim_str_set(&vm->busy, req->task_id);
		vm->busy_until = t1;
		vm->busy_op = g_intern_static_string(sim_op_name(op));
	}
	return task;
}

/* Failure injection for an accepted op: code and message are set when it fires. */
static gboolean
req_fails(sim_req *req, sim_op op, PRL_RESULT *code, char **message)
{
	*code = PRL_ERR_SUCCESS;
	*message = NULL;
	return sim_conn_fail_task(req->sc, op, code, message);
}

static gboolean
run_update(sim_req *req, sim_update_fn fn, char **task_ref, GError **error)
{
	gboolean ok = sim_store_update(req->sc->store, fn, req, error);

	if (ok && task_ref)
		*task_ref = g_steal_pointer(&req->task_id);
	g_free(req->task_id);
	return ok;
}

/* ---- power ---- */

static sim_op
power_sim_op(pk_power_op op)
{
	switch (op) {
	case PK_POWER_START: return SIM_OP_START;
	case PK_POWER_STOP_GRACEFUL: return SIM_OP_STOP;
	case PK_POWER_STOP_HARD: return SIM_OP_KILL;
	case PK_POWER_RESET: return SIM_OP_RESET;
	case PK_POWER_RESTART: return SIM_OP_RESTART;
	case PK_POWER_PAUSE: return SIM_OP_PAUSE;
	case PK_POWER_SUSPEND: return SIM_OP_SUSPEND;
	case PK_POWER_RESUME: return SIM_OP_RESUME;
	}
	return SIM_OP_COUNT_;
}

typedef struct {
	sim_op op;           /* what actually happens (start on suspended = resume) */
	const char *via;
	const char *to;
	gint64 ms;
	gint64 ip_ms;        /* IP after the phase ends; -1: unchanged */
} power_plan;

static gboolean
power_plan_for(const sim_vm *vm, sim_op op, power_plan *p, GError **error)
{
	const char *name = vm_label(vm);
	gboolean running = vm_is(vm, "running"), stopped = vm_is(vm, "stopped");
	gboolean paused = vm_is(vm, "paused"), suspended = vm_is(vm, "suspended");

	memset(p, 0, sizeof(*p));
	p->op = op;
	p->ip_ms = -1;
	switch (op) {
	case SIM_OP_START:
	case SIM_OP_RESUME:
		if (paused) {
			*p = (power_plan){ SIM_OP_RESUME, "continuing", "running", SIM_MS_CONTINUE, 0 };
			return TRUE;
		}
		if (suspended) {
			*p = (power_plan){ SIM_OP_RESUME, "resuming", "running", SIM_MS_RESUME,
			                   SIM_MS_IP_AFTER_RESUME };
			return TRUE;
		}
		if (op == SIM_OP_RESUME) {
			sim_set_error(error, PRL_ERR_VM_IS_NOT_SUSPENDED,
			              "sim: VM '%s' is not paused or suspended", name);
			return FALSE;
		}
		if (running) {
			sim_set_error(error, PRL_ERR_VM_ALREADY_RUNNING,
			              "sim: VM '%s' is already running", name);
			return FALSE;
		}
		*p = (power_plan){ SIM_OP_START, "starting", "running", SIM_MS_START,
		                   SIM_MS_IP_AFTER_BOOT };
		return TRUE;
	case SIM_OP_STOP:
	case SIM_OP_KILL:
		if (stopped) {
			sim_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STARTED,
			              "sim: VM '%s' is not started", name);
			return FALSE;
		}
		if (op == SIM_OP_STOP && !running) {
			sim_set_error(error, PRL_ERR_DISP_VM_IS_NOT_RUNNING,
			              "sim: VM '%s' is %s: its guest cannot shut down", name, vm->st);
			return FALSE;
		}
		*p = (power_plan){ op, "stopping", "stopped",
		                   op == SIM_OP_STOP ? SIM_MS_STOP : SIM_MS_KILL, -1 };
		return TRUE;
	case SIM_OP_SUSPEND:
		if (suspended) {
			sim_set_error(error, PRL_ERR_VM_ALREADY_SUSPENDED,
			              "sim: VM '%s' is already suspended", name);
			return FALSE;
		}
		if (!running && !paused)
			break;
		*p = (power_plan){ op, "suspending", "suspended", SIM_MS_SUSPEND, -1 };
		return TRUE;
	case SIM_OP_PAUSE:
		if (!running)
			break;
		*p = (power_plan){ op, "pausing", "paused", SIM_MS_PAUSE, -1 };
		return TRUE;
	case SIM_OP_RESET:
		if (!running)
			break;
		*p = (power_plan){ op, "resetting", "running", SIM_MS_RESET, SIM_MS_IP_AFTER_BOOT };
		return TRUE;
	case SIM_OP_RESTART:
		if (!running)
			break;
		*p = (power_plan){ op, "restarting", "running", SIM_MS_RESTART,
		                   SIM_MS_IP_AFTER_BOOT };
		return TRUE;
	default:
		break;
	}
	sim_set_error(error, PRL_ERR_DISP_VM_IS_NOT_RUNNING, "sim: VM '%s' is not running (%s)",
	              name, vm->st);
	return FALSE;
}

/* A hard stop may overtake a guest shutdown in progress (the usual "force after timeout");
 * the shutdown task then ends now, successfully: the VM is going down either way. */
static void
preempt_graceful_stop(sim_model *d, sim_vm *vm, gint64 now)
{
	sim_task *task = sim_model_task_mut(d, vm->busy);

	if (task && task->t1 > now)
		task->t1 = now;
	vm_clear_busy(vm);
}

static sim_update_result
power_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	sim_task *task;
	power_plan plan;
	PRL_RESULT code;
	g_autofree char *msg = NULL;
	gint64 t1;
	gboolean fails;

	vm = draft_vm(d, req->vm_id, NULL, error);
	if (!vm)
		return SIM_UPDATE_ERROR;
	if (req->op == SIM_OP_START && vm->tpl) {
		sim_set_error(error, PRL_ERR_CANT_TO_START_VM_TEMPLATE,
		              "sim: VM '%s' is a template and cannot be started", vm_label(vm));
		return SIM_UPDATE_ERROR;
	}
	if (req->op == SIM_OP_KILL && vm->busy && g_strcmp0(vm->busy_op, "stop") == 0 &&
	    vm->busy_until > now && vm->src_until <= now) {
		preempt_graceful_stop(d, vm, now);
		vm->st = "running";  /* plan from running */
	}
	if (!vm_check_idle(vm, now, TRUE, error) || !power_plan_for(vm, req->op, &plan, error))
		return SIM_UPDATE_ERROR;

	fails = req_fails(req, plan.op, &code, &msg);
	t1 = now + sim_conn_duration(req->sc, plan.ms);
	task = task_add(d, req, plan.op, vm, now, t1, code, msg);
	task->from = vm->st;
	if (vm->has_ip_at) {
		task->has_ip_from = TRUE;
		task->ip_from = vm->ip_at;
	}
	vm_set_phase(vm, plan.via, now, t1);
	if (fails)
		return SIM_UPDATE_WRITE;  /* shows the phase, then the VM is as it was */
	vm->st = sim_word_intern(plan.to);
	if (strcmp(plan.to, "running") != 0)
		vm_clear_ip_at(vm);
	else if (plan.ip_ms >= 0)
		vm_set_ip_at(vm, t1 + sim_conn_duration(req->sc, plan.ip_ms));
	else if (!vm->has_ip_at)
		vm_set_ip_at(vm, t1);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_vm_power(pk_conn *c, const char *id, pk_power_op op, guint flags, char **task_ref,
             GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = id, .op = power_sim_op(op) };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	if (req.op == SIM_OP_COUNT_) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: unknown power operation %d", op);
		return FALSE;
	}
	return run_update(&req, power_apply, task_ref, error);
}

/* ---- clone ---- */

static gboolean
check_new_name(sim_model *d, const char *name, PRL_RESULT blank_code, PRL_RESULT bad_code,
               const sim_vm *self, GError **error)
{
	const sim_vm *other;

	if (name_blank(name)) {
		sim_set_error(error, blank_code, "sim: the VM name is empty");
		return FALSE;
	}
	if (!name_valid(name)) {
		sim_set_error(error, bad_code,
		              "sim: invalid VM name (control characters, bad UTF-8, or longer than "
		              "%d bytes)", SIM_NAME_MAX);
		return FALSE;
	}
	other = model_vm_by_name(d, name);
	if (other && (!self || strcmp(other->id, self->id) != 0)) {
		sim_set_error(error, PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME,
		              "sim: a VM named '%s' already exists", name);
		return FALSE;
	}
	return TRUE;
}

static sim_update_result
clone_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *src, *vm;
	const sim_snap *snap = NULL;
	sim_task *task;
	gboolean linked = (req->flags & PK_CLONE_LINKED) != 0;
	g_autofree char *id = NULL;
	g_autofree char *msg = NULL;
	PRL_RESULT code;
	gboolean fails;
	gint64 t1;

	src = draft_vm(d, req->vm_id, NULL, error);
	if (!src || !check_new_name(d, req->name, PRL_ERR_VM_EMPTY_NAME_OF_CLONE,
	                                PRL_ERR_INVALID_ARG, NULL, error) ||
	    !vm_check_idle(src, now, FALSE, error))
		return SIM_UPDATE_ERROR;
	if (req->snapshot) {
		snap = sim_vm_find_snap(src, req->snapshot, NULL);
		if (!snap) {
			sim_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
			              "sim: VM '%s' has no snapshot '%s'", vm_label(src), req->snapshot);
			return SIM_UPDATE_ERROR;
		}
	} else if (!vm_is(src, "stopped")) {
		sim_set_error(error, PRL_ERR_VM_CANT_CLONE_RUNNING,
		              "sim: VM '%s' is %s; stop it or clone one of its snapshots",
		              vm_label(src), src->st);
		return SIM_UPDATE_ERROR;
	}

	fails = req_fails(req, SIM_OP_CLONE, &code, &msg);
	t1 = now + sim_conn_duration(req->sc, linked ? SIM_MS_LINKED_CLONE : SIM_MS_CLONE);
	id = g_uuid_string_random();
	vm = sim_vm_create(d, id, req->name, src->os, now);
	vm->ost = src->ost;
	vm->osv = src->osv;
	vm->disk_mb = src->disk_mb;
	vm->ram = snap ? snap->ram : src->ram;
	vm->cpus = snap ? snap->cpus : src->cpus;
	vm->desc = g_strdup(snap ? snap->vdesc : src->desc);
	if (req->flags & PK_CLONE_TO_TEMPLATE)
		vm->tpl = TRUE;
	if (linked) {
		vm->base_vm = g_strdup(src->id);
		if (snap)
			vm->base_snap = g_strdup(req->snapshot);
	}
	vm_set_phase(vm, "cloning", now, t1);
	if (fails)
		vm->gone_at = t1;
	sim_model_add_vm(d, vm);
	task = task_add(d, req, SIM_OP_CLONE, vm, now, t1, code, msg);
	task->src = g_strdup(src->id);
	if (t1 > now && src->src_until < t1)
		src->src_until = t1;
	req->new_id = g_steal_pointer(&id);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_vm_clone(pk_conn *c, const char *id, const char *new_name, const char *snapshot,
             guint flags, char **new_id, char **task_ref, GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = id, .name = new_name,
	                .snapshot = (snapshot && *snapshot) ? snapshot : NULL, .flags = flags };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	if (!run_update(&req, clone_apply, task_ref, error)) {
		g_free(req.new_id);
		return FALSE;
	}
	if (new_id)
		*new_id = req.new_id;
	else
		g_free(req.new_id);
	return TRUE;
}

/* ---- delete ---- */

static sim_update_result
delete_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	g_autofree char *msg = NULL;
	PRL_RESULT code;
	gboolean fails;
	gint64 t1;
	guint i, index = 0;

	vm = draft_vm(d, req->vm_id, &index, error);
	if (!vm)
		return SIM_UPDATE_ERROR;
	if (!vm_check_idle(vm, now, TRUE, error))
		return SIM_UPDATE_ERROR;
	if (!vm_is(vm, "stopped")) {
		sim_set_error(error, PRL_ERR_VM_CANT_DELETE_RUNNING,
		              "sim: VM '%s' is %s; stop it before deleting it", vm_label(vm), vm->st);
		return SIM_UPDATE_ERROR;
	}
	for (i = 0; i < d->vms->len; i++) {
		const sim_vm *other = g_ptr_array_index(d->vms, i);
		if (g_strcmp0(other->base_vm, req->vm_id) == 0 && !other->gone_at) {
			sim_set_error(error, PRL_ERR_OPERATION_FAILED,
			              "sim: VM '%s' is the base of linked clone '%s'; delete the linked "
			              "clones first", vm_label(vm), vm_label(other));
			return SIM_UPDATE_ERROR;
		}
	}
	fails = req_fails(req, SIM_OP_DELETE, &code, &msg);
	t1 = now + sim_conn_duration(req->sc, SIM_MS_DELETE);
	task_add(d, req, SIM_OP_DELETE, vm, now, t1, code, msg);
	vm_set_phase(vm, "deleting", now, t1);
	if (!fails) {
		if (t1 > now)
			vm->gone_at = t1;
		else
			sim_model_remove_vm(d, index);
	}
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_vm_remove(pk_conn *c, const char *id, guint flags, char **task_ref,
              GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = id };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	return run_update(&req, delete_apply, task_ref, error);
}

/* ---- edit ---- */

static sim_update_result
commit_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	const pk_vm_data *o = req->old, *n = req->new_;
	gboolean ch_name, ch_desc, ch_ram, ch_cpus, ch_tpl;
	g_autofree char *msg = NULL;
	char gen[24];
	PRL_RESULT code;
	gint64 t1;

	vm = draft_vm(d, req->vm_id, NULL, error);
	if (!vm)
		return SIM_UPDATE_ERROR;
	g_snprintf(gen, sizeof(gen), "%" G_GINT64_FORMAT, vm->gen);
	if (o && o->digest && *o->digest && strcmp(o->digest, gen) != 0) {
		sim_set_error(error, PRL_ERR_VM_CONFIG_WAS_CHANGED,
		              "sim: VM '%s' was changed since its configuration was read", vm_label(vm));
		return SIM_UPDATE_ERROR;
	}
	/* Without an old copy, compare with what is stored. */
	ch_name = n->name && g_strcmp0(n->name, o ? o->name : vm->name) != 0;
	ch_desc = g_strcmp0(n->description ? n->description : "",
	                    o ? (o->description ? o->description : "")
	                      : (vm->desc ? vm->desc : "")) != 0;
	ch_ram = n->ram_mb != (o ? o->ram_mb : (guint32)vm->ram);
	ch_cpus = n->cpus != (o ? o->cpus : (guint32)vm->cpus);
	ch_tpl = !n->is_template != !(o ? o->is_template : vm->tpl);
	if (!ch_name && !ch_desc && !ch_ram && !ch_cpus && !ch_tpl)
		return SIM_UPDATE_NONE;

	if (!vm_check_idle(vm, now, TRUE, error))
		return SIM_UPDATE_ERROR;
	if (ch_name && !check_new_name(d, n->name, PRL_ERR_INVALID_PARAM, PRL_ERR_INVALID_PARAM,
	                                 vm, error))
		return SIM_UPDATE_ERROR;
	if (ch_desc && n->description && !g_utf8_validate(n->description, -1, NULL)) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: the description is not UTF-8");
		return SIM_UPDATE_ERROR;
	}
	if (ch_ram && (n->ram_mb < SIM_RAM_MIN_MB || n->ram_mb > SIM_RAM_MAX_MB || n->ram_mb % 4)) {
		sim_set_error(error, PRL_ERR_INVALID_MEMORY_SIZE,
		              "sim: %u MB is not a valid memory size (%u to %u, a multiple of 4)",
		              n->ram_mb, SIM_RAM_MIN_MB, SIM_RAM_MAX_MB);
		return SIM_UPDATE_ERROR;
	}
	if (ch_cpus && (n->cpus < 1 || n->cpus > SIM_CPUS_MAX)) {
		sim_set_error(error, PRL_ERR_INVALID_PARAM, "sim: %u is not a valid CPU count (1 to %u)",
		              n->cpus, SIM_CPUS_MAX);
		return SIM_UPDATE_ERROR;
	}
	if ((ch_ram || ch_cpus) && !vm_is(vm, "stopped")) {
		sim_set_error(error, PRL_ERR_DISP_VM_IS_NOT_STOPPED,
		              "sim: VM '%s' is %s; memory and CPUs change only while it is stopped",
		              vm_label(vm), vm->st);
		return SIM_UPDATE_ERROR;
	}
	if (ch_tpl && n->is_template && !vm_is(vm, "stopped")) {
		sim_set_error(error, PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE,
		              "sim: VM '%s' is %s; only a stopped VM can become a template",
		              vm_label(vm), vm->st);
		return SIM_UPDATE_ERROR;
	}

	t1 = now + sim_conn_duration(req->sc, ch_tpl ? SIM_MS_CONVERT : SIM_MS_EDIT);
	if (req_fails(req, SIM_OP_EDIT, &code, &msg)) {
		task_add(d, req, SIM_OP_EDIT, vm, now, t1, code, msg);
		return SIM_UPDATE_WRITE;
	}
	if (ch_name)
		sim_str_set(&vm->name, n->name);
	if (ch_desc)
		sim_str_set(&vm->desc, n->description && *n->description ? n->description : NULL);
	if (ch_ram)
		vm->ram = n->ram_mb;
	if (ch_cpus)
		vm->cpus = n->cpus;
	if (ch_tpl)
		vm->tpl = n->is_template != 0;
	vm->gen++;
	task_add(d, req, SIM_OP_EDIT, vm, now, t1, PRL_ERR_SUCCESS, NULL);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_vm_commit(pk_conn *c, const char *id, const pk_vm_data *old, const pk_vm_data *new_,
              guint flags, char **task_ref, GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = id, .old = old, .new_ = new_ };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	if (!new_) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: nothing to commit");
		return FALSE;
	}
	if (task_ref)
		*task_ref = NULL;
	return run_update(&req, commit_apply, task_ref, error);
}

/* ---- reads ---- */

static gboolean
sim_vm_list(pk_conn *c, guint flags, GPtrArray **out, GCancellable *cancel, GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	GPtrArray *arr;
	gint64 now;
	guint i;

	if (g_cancellable_set_error_if_cancelled(cancel, error) ||
	    !sim_conn_fail_check(sc, SIM_OP_LIST, NULL, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	now = pk_time_wall_ms();
	arr = g_ptr_array_new_full(view->vms->len, (GDestroyNotify)pk_vm_data_free);
	for (i = 0; i < view->vms->len; i++) {
		pk_vm_data *d = sim_vm_output(g_ptr_array_index(view->vms, i), sc->dir, now, flags);
		if (d)
			g_ptr_array_add(arr, d);
	}
	*out = arr;
	return TRUE;
}

static const sim_vm *
view_vm(sim_model *view, const char *id, gint64 now, GError **error)
{
	const sim_vm *v = sim_model_lookup(view, id);

	if (!v || !sim_vm_eval(v, now, NULL, NULL)) {
		sim_set_error(error, PRL_ERR_VM_UUID_NOT_FOUND, "sim: VM '%s' not found",
		              id ? id : "(null)");
		return NULL;
	}
	return v;
}

static gboolean
sim_vm_get(pk_conn *c, const char *id, guint flags, pk_vm_data **out, GCancellable *cancel,
           GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	const sim_vm *v;
	gint64 now;

	if (!sim_conn_fail_check(sc, SIM_OP_GET, id, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	now = pk_time_wall_ms();
	v = view_vm(view, id, now, error);
	if (!v)
		return FALSE;
	*out = sim_vm_output(v, sc->dir, now, flags);
	return TRUE;
}

/* Deterministic, plausible figures: a hash of the VM id (and CPU index) decides them. */
static guint32
mix32(guint32 h, guint32 x)
{
	h ^= x + 0x9e3779b9u + (h << 6) + (h >> 2);
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h;
}

static gboolean
sim_vm_statistics(pk_conn *c, const char *id, pk_stats_data **out, GCancellable *cancel,
                  GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	const sim_vm *v;
	VIRTUAL_MACHINE_STATE state;
	pk_stats_data *s;
	guint32 h, i;
	gboolean up;
	gint64 now;

	if (!sim_conn_fail_check(sc, SIM_OP_STATISTICS, id, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	now = pk_time_wall_ms();
	v = view_vm(view, id, now, error);
	if (!v)
		return FALSE;
	sim_vm_eval(v, now, &state, NULL);
	up = state == VMS_RUNNING || state == VMS_PAUSED;
	h = g_str_hash(v->id);
	s = g_new0(pk_stats_data, 1);
	s->ram_total = (guint64)(guint32)v->ram * 1024 * 1024;
	s->ram_used = up ? s->ram_total / 100 * (30 + mix32(h, 0xffff) % 50) : 0;
	s->ram_free = s->ram_total - s->ram_used;
	s->cpu_usage = g_array_new(FALSE, TRUE, sizeof(guint32));
	for (i = 0; i < (guint32)v->cpus; i++) {
		guint32 pct = state == VMS_RUNNING ? 2 + mix32(h, i) % 60 : 0;
		g_array_append_val(s->cpu_usage, pct);
	}
	*out = s;
	return TRUE;
}

const pk_vm_ops sim_vm_ops = {
	.list = sim_vm_list,
	.get = sim_vm_get,
	.power = sim_vm_power,
	.remove = sim_vm_remove,
	.commit = sim_vm_commit,
	.clone = sim_vm_clone,
	.statistics = sim_vm_statistics,
};

/* ---- snapshots ---- */

void
sim_vm_snapshot_add(sim_vm *vm, const char *name, const char *description, gint64 now)
{
	sim_snap *s = sim_snap_new();

	if (!vm->snaps)
		vm->snaps = g_ptr_array_new_with_free_func((GDestroyNotify)sim_snap_free);
	s->name = g_strdup(name);
	s->desc = description && *description ? g_strdup(description) : NULL;
	s->parent = g_strdup(vm->cur);
	s->created = now / 1000;
	s->st = vm->st;
	s->ram = vm->ram;
	s->cpus = vm->cpus;
	s->vdesc = g_strdup(vm->desc);
	g_ptr_array_add(vm->snaps, s);
	sim_str_set(&vm->cur, name);
}

static gboolean
name_in(GPtrArray *names, const char *name)
{
	guint i;
	for (i = 0; name && i < names->len; i++)
		if (strcmp(g_ptr_array_index(names, i), name) == 0)
			return TRUE;
	return FALSE;
}

/* Remove a snapshot (and its subtree with children=TRUE; otherwise its children move up to
 * its parent); the current marker moves to the nearest surviving ancestor. */
static void
vm_snapshot_remove(sim_vm *vm, const char *name, gboolean children)
{
	sim_snap *snap = sim_vm_find_snap(vm, name, NULL);
	g_autofree char *parent = g_strdup(snap ? snap->parent : NULL);
	g_autofree char *gone_name = g_strdup(name);
	g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
	gboolean grew = TRUE;
	guint i;

	if (!vm->snaps)
		return;
	g_ptr_array_add(gone, g_strdup(name));
	while (children && grew) {
		grew = FALSE;
		for (i = 0; i < vm->snaps->len; i++) {
			const sim_snap *s = g_ptr_array_index(vm->snaps, i);
			if (name_in(gone, s->parent) && !name_in(gone, s->name)) {
				g_ptr_array_add(gone, g_strdup(s->name));
				grew = TRUE;
			}
		}
	}
	i = 0;
	while (i < vm->snaps->len) {
		sim_snap *s = g_ptr_array_index(vm->snaps, i);
		if (name_in(gone, s->name)) {
			g_ptr_array_remove_index(vm->snaps, i);
			continue;
		}
		if (g_strcmp0(s->parent, gone_name) == 0)
			sim_str_set(&s->parent, parent);
		i++;
	}
	if (name_in(gone, vm->cur))
		sim_str_set(&vm->cur, parent);
	if (vm->snaps->len == 0)
		g_clear_pointer(&vm->snaps, g_ptr_array_unref);
}

static gboolean
check_snapshot_name(const char *name, GError **error)
{
	if (name_blank(name) || !name_valid(name)) {
		sim_set_error(error, PRL_ERR_INVALID_ARG,
		              "sim: invalid snapshot name (empty, control characters, bad UTF-8, or "
		              "longer than %d bytes)", SIM_NAME_MAX);
		return FALSE;
	}
	return TRUE;
}

static sim_update_result
snap_create_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	g_autofree char *msg = NULL;
	PRL_RESULT code;
	gboolean exists;
	gint64 t1;

	vm = draft_vm(d, req->vm_id, NULL, error);
	if (!vm || !vm_check_idle(vm, now, TRUE, error))
		return SIM_UPDATE_ERROR;
	exists = sim_vm_find_snap(vm, req->name, NULL) != NULL;
	if (exists && !(req->flags & PK_SNAP_REPLACE)) {
		sim_set_error(error, PRL_ERR_ENTRY_ALREADY_EXISTS,
		              "sim: VM '%s' already has a snapshot '%s'", vm_label(vm), req->name);
		return SIM_UPDATE_ERROR;
	}
	t1 = now + sim_conn_duration(req->sc, SIM_MS_SNAP_CREATE + (exists ? SIM_MS_SNAP_DELETE : 0));
	if (req_fails(req, SIM_OP_SNAP_CREATE, &code, &msg)) {
		task_add(d, req, SIM_OP_SNAP_CREATE, vm, now, t1, code, msg);
		return SIM_UPDATE_WRITE;
	}
	if (exists)
		vm_snapshot_remove(vm, req->name, FALSE);
	sim_vm_snapshot_add(vm, req->name, req->description, now);
	task_add(d, req, SIM_OP_SNAP_CREATE, vm, now, t1, PRL_ERR_SUCCESS, NULL);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_snap_create(pk_conn *c, const char *vm_id, const char *name, const char *description,
                guint flags, char **task_ref, GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = vm_id, .name = name,
	                .description = description, .flags = flags };

	if (g_cancellable_set_error_if_cancelled(cancel, error) ||
	    !check_snapshot_name(name, error))
		return FALSE;
	if (description && !g_utf8_validate(description, -1, NULL)) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: the description is not UTF-8");
		return FALSE;
	}
	return run_update(&req, snap_create_apply, task_ref, error);
}

static sim_update_result
snap_delete_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	g_autofree char *msg = NULL;
	PRL_RESULT code;
	gint64 t1;

	vm = draft_vm(d, req->vm_id, NULL, error);
	if (!vm)
		return SIM_UPDATE_ERROR;
	if (!sim_vm_find_snap(vm, req->name, NULL)) {
		if (req->flags & PK_SNAP_MISSING_OK)
			return SIM_UPDATE_NONE;
		sim_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
		              "sim: VM '%s' has no snapshot '%s'", vm_label(vm), req->name);
		return SIM_UPDATE_ERROR;
	}
	if (!vm_check_idle(vm, now, TRUE, error))
		return SIM_UPDATE_ERROR;
	t1 = now + sim_conn_duration(req->sc, SIM_MS_SNAP_DELETE);
	if (req_fails(req, SIM_OP_SNAP_DELETE, &code, &msg)) {
		task_add(d, req, SIM_OP_SNAP_DELETE, vm, now, t1, code, msg);
		return SIM_UPDATE_WRITE;
	}
	vm_snapshot_remove(vm, req->name, (req->flags & PK_SNAP_WITH_CHILDREN) != 0);
	task_add(d, req, SIM_OP_SNAP_DELETE, vm, now, t1, PRL_ERR_SUCCESS, NULL);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_snap_remove(pk_conn *c, const char *vm_id, const char *name, guint flags,
                char **task_ref, GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = vm_id, .name = name, .flags = flags };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	if (!name || !*name) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: empty snapshot name");
		return FALSE;
	}
	if (task_ref)
		*task_ref = NULL;
	return run_update(&req, snap_delete_apply, task_ref, error);
}

static sim_update_result
snap_revert_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	sim_req *req = data;
	sim_model *d = *mp;
	sim_vm *vm;
	const sim_snap *snap;
	sim_task *task;
	g_autofree char *msg = NULL;
	const char *to;
	PRL_RESULT code;
	gint64 t1;

	vm = draft_vm(d, req->vm_id, NULL, error);
	if (!vm)
		return SIM_UPDATE_ERROR;
	snap = sim_vm_find_snap(vm, req->name, NULL);
	if (!snap) {
		sim_set_error(error, PRL_ERR_VM_SNAPSHOT_NOT_FOUND,
		              "sim: VM '%s' has no snapshot '%s'", vm_label(vm), req->name);
		return SIM_UPDATE_ERROR;
	}
	if (!vm_check_idle(vm, now, TRUE, error))
		return SIM_UPDATE_ERROR;
	t1 = now + sim_conn_duration(req->sc, SIM_MS_SNAP_REVERT);
	if (req_fails(req, SIM_OP_SNAP_REVERT, &code, &msg)) {
		task_add(d, req, SIM_OP_SNAP_REVERT, vm, now, t1, code, msg);
		return SIM_UPDATE_WRITE;
	}
	task = task_add(d, req, SIM_OP_SNAP_REVERT, vm, now, t1, PRL_ERR_SUCCESS, NULL);
	task->from = vm->st;
	/* A snapshot of a running (or paused) VM holds its memory: it comes back running. */
	to = snap->st ? snap->st : "stopped";
	if (vm->tpl)
		to = "stopped";
	vm->ram = snap->ram;
	vm->cpus = snap->cpus;
	sim_str_set(&vm->desc, snap->vdesc);
	sim_str_set(&vm->cur, req->name);
	vm->st = to;
	vm->gen++;
	if (strcmp(to, "running") == 0 || strcmp(to, "paused") == 0)
		vm_set_phase(vm, "restoring", now, t1);
	if (strcmp(to, "running") == 0)
		vm_set_ip_at(vm, t1 + sim_conn_duration(req->sc, SIM_MS_IP_AFTER_RESUME));
	else
		vm_clear_ip_at(vm);
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_snap_revert(pk_conn *c, const char *vm_id, const char *name, guint flags,
                char **task_ref, GCancellable *cancel, GError **error)
{
	sim_req req = { .sc = sim_conn_of(c), .vm_id = vm_id, .name = name, .flags = flags };

	if (g_cancellable_set_error_if_cancelled(cancel, error))
		return FALSE;
	if (!name || !*name) {
		sim_set_error(error, PRL_ERR_INVALID_ARG, "sim: empty snapshot name");
		return FALSE;
	}
	return run_update(&req, snap_revert_apply, task_ref, error);
}

static gboolean
sim_snap_list(pk_conn *c, const char *vm_id, GPtrArray **out, GCancellable *cancel,
              GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	const sim_vm *v;
	GPtrArray *arr;
	guint i, n;

	if (!sim_conn_fail_check(sc, SIM_OP_GET, vm_id, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	v = view_vm(view, vm_id, pk_time_wall_ms(), error);
	if (!v)
		return FALSE;
	n = v->snaps ? v->snaps->len : 0;
	arr = g_ptr_array_new_full(n, (GDestroyNotify)pk_snapshot_data_free);
	for (i = 0; i < n; i++) {
		const sim_snap *s = g_ptr_array_index(v->snaps, i);
		pk_snapshot_data *d = g_new0(pk_snapshot_data, 1);
		d->name = g_strdup(s->name);
		d->description = g_strdup(s->desc ? s->desc : "");
		d->parent = g_strdup(s->parent);
		d->created = s->created;
		d->current = v->cur && strcmp(v->cur, s->name) == 0;
		g_ptr_array_add(arr, d);
	}
	*out = arr;
	return TRUE;
}

const pk_snap_ops sim_snap_ops = {
	.list = sim_snap_list,
	.create = sim_snap_create,
	.remove = sim_snap_remove,
	.revert = sim_snap_revert,
};

/* ---- tasks ---- */

static gboolean
task_ref_valid(const char *ref)
{
	return ref && g_str_has_prefix(ref, SIM_TASK_PREFIX) &&
	       g_uuid_string_is_valid(ref + strlen(SIM_TASK_PREFIX));
}

static gboolean
task_not_found(const char *ref, GError **error)
{
	/* The ref is ours or garbage; either way no secret: quote it only if it looks sane. */
	if (task_ref_valid(ref))
		sim_set_error(error, PRL_ERR_TASK_NOT_FOUND, "sim: task '%s' not found", ref);
	else
		sim_set_error(error, PRL_ERR_TASK_NOT_FOUND, "sim: not a sim task reference");
	return FALSE;
}

static gboolean
sim_task_status(pk_conn *c, const char *task_ref, pk_task_status *out, GCancellable *cancel,
                GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	const sim_task *t;
	gint64 now;

	if (!task_ref_valid(task_ref))
		return task_not_found(task_ref, error);
	if (!sim_conn_fail_check(sc, SIM_OP_TASK, NULL, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	t = g_hash_table_lookup(view->tasks, task_ref);
	if (!t)
		return task_not_found(task_ref, error);
	now = pk_time_wall_ms();
	memset(out, 0, sizeof(*out));
	out->finished = now >= t->t1;
	if (out->finished) {
		out->code = t->code;
		out->progress = 100;
		if (t->code != PRL_ERR_SUCCESS)
			out->message = g_strdup(t->msg ? t->msg : "sim: the task failed");
	} else {
		out->code = PRL_ERR_SUCCESS;
		out->progress = (guint)CLAMP((now - t->t0) * 100 / MAX(t->t1 - t->t0, 1), 0, 99);
	}
	if (t->op == SIM_OP_CLONE && t->vm && t->code == PRL_ERR_SUCCESS)
		out->result_vm_id = g_strdup(t->vm);
	return TRUE;
}

typedef struct {
	const char *ref;
} cancel_req;

static sim_update_result
cancel_apply(sim_model **mp, gint64 now, gpointer data, GError **error)
{
	cancel_req *req = data;
	sim_model *d = *mp;
	sim_task *task = d ? sim_model_task_mut(d, req->ref) : NULL;
	sim_vm *vm;
	guint i = 0;

	if (!task) {
		task_not_found(req->ref, error);
		return SIM_UPDATE_ERROR;
	}
	if (task->t1 <= now)
		return SIM_UPDATE_NONE;  /* already over: nothing to stop */
	vm = task->vm ? sim_model_vm_mut_by_id(d, task->vm, &i) : NULL;
	switch (task->op) {
	case SIM_OP_START: case SIM_OP_STOP: case SIM_OP_KILL: case SIM_OP_RESET:
	case SIM_OP_RESTART: case SIM_OP_PAUSE: case SIM_OP_SUSPEND: case SIM_OP_RESUME:
		if (vm && task->from) {
			vm->st = task->from;
			vm_set_phase(vm, NULL, now, 0);
			if (task->has_ip_from)
				vm_set_ip_at(vm, task->ip_from);
			else
				vm_clear_ip_at(vm);
		}
		break;
	case SIM_OP_CLONE:
		if (vm)
			sim_model_remove_vm(d, i);
		vm = NULL;
		break;
	case SIM_OP_DELETE:
		if (vm) {
			vm->gone_at = 0;
			vm_set_phase(vm, NULL, now, 0);
		}
		break;
	default:
		sim_set_error(error, PRL_ERR_INVALID_ACTION_REQUESTED,
		              "sim: a %s task cannot be cancelled once started",
		              sim_op_name(task->op));
		return SIM_UPDATE_ERROR;
	}
	if (vm && g_strcmp0(vm->busy, req->ref) == 0)
		vm_clear_busy(vm);
	task->t1 = now;
	task->code = PRL_ERR_OPERATION_WAS_CANCELED;
	sim_str_set(&task->msg, "sim: the task was cancelled");
	return SIM_UPDATE_WRITE;
}

static gboolean
sim_task_cancel(pk_conn *c, const char *task_ref, GCancellable *cancel, GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	cancel_req req = { task_ref };

	if (!task_ref_valid(task_ref))
		return task_not_found(task_ref, error);
	return sim_store_update(sc->store, cancel_apply, &req, error);
}

static guint
sim_task_poll_interval_ms(pk_conn *c, const char *task_ref)
{
	sim_conn *sc = sim_conn_of(c);
	return (guint)CLAMP(200.0 * sc->speed, 1.0, 1000.0);
}

const pk_task_ops sim_task_ops = {
	.status = sim_task_status,
	.cancel = sim_task_cancel,
	.poll_interval_ms = sim_task_poll_interval_ms,
};

/* ---- host ---- */

#define SIM_HOST_CPUS 16
#define SIM_HOST_RAM_MB (128u * 1024)

static gboolean
sim_host_info(pk_conn *c, pk_host_data **out, GCancellable *cancel, GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	pk_host_data *h;

	if (!sim_conn_fail_check(sc, SIM_OP_HOST, NULL, error))
		return FALSE;
	h = g_new0(pk_host_data, 1);
	h->hostname = g_strdup_printf("sim-%s", sc->instance);
	h->cpu_model = g_strdup("prlkit Simulated CPU @ 3.00GHz");
	h->cpu_count = SIM_HOST_CPUS;
	h->ram_mb = SIM_HOST_RAM_MB;
	h->product_version = g_strdup("prlkit-sim " PACKAGE_VERSION);
	*out = h;
	return TRUE;
}

static gboolean
sim_host_statistics(pk_conn *c, pk_stats_data **out, GCancellable *cancel, GError **error)
{
	sim_conn *sc = sim_conn_of(c);
	g_autoptr(sim_model) view = NULL;
	pk_stats_data *s;
	guint64 used_mb;
	guint i;

	if (!sim_conn_fail_check(sc, SIM_OP_HOST, NULL, error))
		return FALSE;
	view = conn_view(sc, error);
	if (!view)
		return FALSE;
	used_mb = MIN(2048 + (guint64)view->running_ram_mb, (guint64)SIM_HOST_RAM_MB * 95 / 100);
	s = g_new0(pk_stats_data, 1);
	s->ram_total = (guint64)SIM_HOST_RAM_MB * 1024 * 1024;
	s->ram_used = used_mb * 1024 * 1024;
	s->ram_free = s->ram_total - s->ram_used;
	s->cpu_usage = g_array_new(FALSE, TRUE, sizeof(guint32));
	for (i = 0; i < SIM_HOST_CPUS; i++) {
		guint32 pct = MIN(100u, 1 + view->running_count * 4 + mix32(view->running_count, i) % 8);
		g_array_append_val(s->cpu_usage, pct);
	}
	*out = s;
	return TRUE;
}

const pk_host_ops sim_host_ops = {
	.info = sim_host_info,
	.statistics = sim_host_statistics,
};

/* Small read-only objects (see core-info.h). */
#include "config.h"

#include "core-info.h"

/* ---- PHT_VM_INFO ---- */

const char *pk_vm_state_word(VIRTUAL_MACHINE_STATE state)
{
	switch (state) {
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
	case VMS_UNKNOWN:
	default: return "unknown";
	}
}

static void vm_info_dispose(pk_object *obj)
{
	g_free(((pk_vm_info *)obj)->power_state);
}

static char *vm_info_to_string(pk_object *obj)
{
	return g_strdup(((pk_vm_info *)obj)->power_state);
}

static const pk_class vm_info_class = {
	.name = "vm-info",
	.type = PHT_VM_INFO,
	.size = sizeof(pk_vm_info),
	.dispose = vm_info_dispose,
	.to_string = vm_info_to_string,
};

pk_vm_info *pk_vm_info_new(VIRTUAL_MACHINE_STATE state, const char *power_state)
{
	pk_vm_info *info = pk_object_new(&vm_info_class);
	info->state = state;
	info->power_state = g_strdup(power_state != NULL && *power_state != '\0'
	                             ? power_state : pk_vm_state_word(state));
	return info;
}

/* ---- devices ---- */

static void device_dispose(pk_object *obj)
{
	pk_device *d = (pk_device *)obj;
	g_free(d->image_path);
	g_free(d->mac);
}

static char *device_to_string(pk_object *obj)
{
	pk_device *d = (pk_device *)obj;
	return g_strdup(d->type == PDE_GENERIC_NETWORK_ADAPTER ? d->mac : d->image_path);
}

static const pk_class hard_disk_class = {
	.name = "hard-disk",
	.type = PHT_VIRTUAL_DEV_HARD_DISK,
	.size = sizeof(pk_device),
	.dispose = device_dispose,
	.to_string = device_to_string,
};

static const pk_class optical_disk_class = {
	.name = "optical-disk",
	.type = PHT_VIRTUAL_DEV_OPTICAL_DISK,
	.size = sizeof(pk_device),
	.dispose = device_dispose,
	.to_string = device_to_string,
};

static const pk_class net_adapter_class = {
	.name = "net-adapter",
	.type = PHT_VIRTUAL_DEV_NET_ADAPTER,
	.size = sizeof(pk_device),
	.dispose = device_dispose,
	.to_string = device_to_string,
};

pk_device *pk_device_new_disk(const pk_disk_data *d)
{
	gboolean optical = d->type == PDE_OPTICAL_DISK;
	pk_device *dev = pk_object_new(optical ? &optical_disk_class : &hard_disk_class);
	dev->type = optical ? PDE_OPTICAL_DISK : PDE_HARD_DISK;
	dev->image_path = g_strdup(d->image_path != NULL ? d->image_path : "");
	dev->size_mb = d->size_mb;
	dev->mac = g_strdup("");
	return dev;
}

pk_device *pk_device_new_net(const pk_net_data *n)
{
	pk_device *dev = pk_object_new(&net_adapter_class);
	dev->type = PDE_GENERIC_NETWORK_ADAPTER;
	dev->image_path = g_strdup(n->network != NULL ? n->network : "");
	dev->mac = g_strdup(n->mac != NULL ? n->mac : "");
	return dev;
}

/* ---- PHT_SERVER_CONFIG ---- */

static void server_config_dispose(pk_object *obj)
{
	pk_server_config *c = (pk_server_config *)obj;
	g_free(c->hostname);
	g_free(c->cpu_model);
}

static char *server_config_to_string(pk_object *obj)
{
	return g_strdup(((pk_server_config *)obj)->hostname);
}

static const pk_class server_config_class = {
	.name = "server-config",
	.type = PHT_SERVER_CONFIG,
	.size = sizeof(pk_server_config),
	.dispose = server_config_dispose,
	.to_string = server_config_to_string,
};

pk_server_config *pk_server_config_new(const pk_host_data *h)
{
	pk_server_config *c = pk_object_new(&server_config_class);
	c->hostname = g_strdup(h->hostname != NULL ? h->hostname : "");
	c->cpu_model = g_strdup(h->cpu_model != NULL ? h->cpu_model : "");
	c->cpu_count = h->cpu_count;
	c->ram_mb = h->ram_mb;
	return c;
}

/* ---- PHT_LOGIN_RESPONSE ---- */

static void login_response_dispose(pk_object *obj)
{
	pk_login_response *lr = (pk_login_response *)obj;
	g_free(lr->session_uuid);
	g_free(lr->product_version);
}

static char *login_response_to_string(pk_object *obj)
{
	return g_strdup(((pk_login_response *)obj)->session_uuid);
}

static const pk_class login_response_class = {
	.name = "login-response",
	.type = PHT_LOGIN_RESPONSE,
	.size = sizeof(pk_login_response),
	.dispose = login_response_dispose,
	.to_string = login_response_to_string,
};

pk_login_response *pk_login_response_new(const char *session_uuid, const char *product_version)
{
	pk_login_response *lr = pk_object_new(&login_response_class);
	lr->session_uuid = g_strdup(session_uuid != NULL ? session_uuid : "");
	lr->product_version = g_strdup(product_version != NULL ? product_version : "");
	return lr;
}

/* ---- PHT_SYSTEM_STATISTICS / _CPU ---- */

static void statistics_dispose(pk_object *obj)
{
	g_array_unref(((pk_statistics *)obj)->cpu_usage);
}

static const pk_class statistics_class = {
	.name = "statistics",
	.type = PHT_SYSTEM_STATISTICS,
	.size = sizeof(pk_statistics),
	.dispose = statistics_dispose,
};

pk_statistics *pk_statistics_new(const pk_stats_data *s)
{
	pk_statistics *st = pk_object_new(&statistics_class);
	st->ram_total = s->ram_total;
	st->ram_used = s->ram_used;
	st->ram_free = s->ram_free;
	st->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	if (s->cpu_usage != NULL)
		g_array_append_vals(st->cpu_usage, s->cpu_usage->data, s->cpu_usage->len);
	return st;
}

static const pk_class cpu_stat_class = {
	.name = "cpu-statistics",
	.type = PHT_SYSTEM_STATISTICS_CPU,
	.size = sizeof(pk_cpu_stat),
};

pk_cpu_stat *pk_cpu_stat_new(guint32 usage)
{
	pk_cpu_stat *c = pk_object_new(&cpu_stat_class);
	c->usage = usage;
	return c;
}

/* ---- PHT_RUNNING_TASK ---- */

static void running_task_dispose(pk_object *obj)
{
	pk_running_task *t = (pk_running_task *)obj;
	g_free(t->task_id);
	g_free(t->message);
	g_free(t->vm_id);
	pk_object_unref_ptr(t->result);
}

static char *running_task_to_string(pk_object *obj)
{
	return g_strdup(((pk_running_task *)obj)->task_id);
}

static const pk_class running_task_class = {
	.name = "running-task",
	.type = PHT_RUNNING_TASK,
	.size = sizeof(pk_running_task),
	.dispose = running_task_dispose,
	.to_string = running_task_to_string,
};

pk_running_task *pk_running_task_new(const char *task_id, gboolean finished, PRL_RESULT code,
                                     const char *message, pk_result *result, const char *vm_id)
{
	pk_running_task *t = pk_object_new(&running_task_class);
	t->task_id = g_strdup(task_id != NULL ? task_id : "");
	t->state = finished ? PJS_FINISHED : PJS_RUNNING;
	t->code = finished ? code : PRL_ERR_OPERATION_PENDING;
	t->message = g_strdup(message);
	t->result = finished && PRL_SUCCEEDED(code) && result != NULL ? pk_object_ref(result) : NULL;
	t->vm_id = g_strdup(vm_id);
	return t;
}

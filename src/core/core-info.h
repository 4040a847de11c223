/* Small read-only objects behind handles: PHT_VM_INFO, PHT_VIRTUAL_DEV_HARD_DISK /
 * _NET_ADAPTER, PHT_SERVER_CONFIG, PHT_LOGIN_RESPONSE, PHT_SYSTEM_STATISTICS(_CPU) and
 * PHT_RUNNING_TASK. Every field is immutable once the constructor returns, so the public
 * getters read them without a lock. */
#ifndef PRLKIT_CORE_INFO_H
#define PRLKIT_CORE_INFO_H

#include "core-object.h"
#include "core-result.h"
#include "driver.h"

G_BEGIN_DECLS

typedef struct pk_vm_info {
	pk_object base;
	VIRTUAL_MACHINE_STATE state;
	char *power_state;             /* the platform's word; never NULL */
} pk_vm_info;
/* power_state NULL → a generic word for state ("running", "stopped", ...). */
pk_vm_info *pk_vm_info_new(VIRTUAL_MACHINE_STATE state, const char *power_state);
const char *pk_vm_state_word(VIRTUAL_MACHINE_STATE state);

typedef struct pk_device {
	pk_object base;
	PRL_DEVICE_TYPE type;
	char *image_path;              /* disks: the image; adapters: the network; never NULL */
	guint64 size_mb;
	char *mac;                     /* adapters; never NULL */
} pk_device;
pk_device *pk_device_new_disk(const pk_disk_data *d);
pk_device *pk_device_new_net(const pk_net_data *n);

typedef struct pk_server_config {
	pk_object base;
	char *hostname;                /* never NULL */
	char *cpu_model;               /* never NULL */
	guint32 cpu_count;
	guint64 ram_mb;
} pk_server_config;
pk_server_config *pk_server_config_new(const pk_host_data *h);

typedef struct pk_login_response {
	pk_object base;
	char *session_uuid;
	char *product_version;
} pk_login_response;
pk_login_response *pk_login_response_new(const char *session_uuid, const char *product_version);

typedef struct pk_statistics {
	pk_object base;
	guint64 ram_total, ram_used, ram_free;   /* bytes */
	GArray *cpu_usage;                       /* guint32 percent per CPU; never NULL */
} pk_statistics;
pk_statistics *pk_statistics_new(const pk_stats_data *s);

typedef struct pk_cpu_stat {
	pk_object base;
	guint32 usage;                 /* percent */
} pk_cpu_stat;
pk_cpu_stat *pk_cpu_stat_new(guint32 usage);

typedef struct pk_running_task {
	pk_object base;
	char *task_id;
	PRL_JOB_STATUS state;          /* PJS_RUNNING or PJS_FINISHED */
	PRL_RESULT code;               /* when finished */
	char *message;                 /* nullable */
	pk_result *result;             /* reference when finished successfully, else NULL */
	char *vm_id;                   /* nullable */
} pk_running_task;
/* result: a reference is taken (nullable). */
pk_running_task *pk_running_task_new(const char *task_id, gboolean finished, PRL_RESULT code,
                                     const char *message, pk_result *result, const char *vm_id);

G_END_DECLS
#endif

/* PrlVmCfg_*, PrlVmDev_*, PrlVmDevHd_*, PrlVmDevNet_*, PrlVmInfo_*: synchronous, on the VM
 * handle's cached configuration (the edit copy between PrlVm_BeginEdit and PrlVm_Commit).
 * Setters need a PrlVm_BeginEdit first (PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID). */
#include "config.h"

#include "api-async.h"
#include "core-info.h"
#include "core-vm.h"

/* Declare `vm` (released at scope exit) from hVmCfg, or return the error. */
#define PK_CFG_GET(hVmCfg, vm)                      \
	PK_AUTO pk_vm *vm = NULL;                       \
	PK_SYNC_GET(hVmCfg, PHT_VM_CONFIGURATION, vm)

/* A string field of the configuration. */
#define PK_CFG_STRING(hVmCfg, field, buf, len)                  \
	do {                                                        \
		PK_CFG_GET(hVmCfg, vm);                                 \
		const pk_vm_data *d = pk_vm_lock_config(vm);            \
		PRL_RESULT r = pk_string_out(d->field, (buf), (len));   \
		pk_vm_unlock(vm);                                       \
		return r;                                               \
	} while (0)

/* A number field. */
#define PK_CFG_NUMBER(hVmCfg, expr, out)                        \
	do {                                                        \
		if ((out) == NULL)                                      \
			return PRL_ERR_INVALID_ARG;                         \
		PK_CFG_GET(hVmCfg, vm);                                 \
		const pk_vm_data *d = pk_vm_lock_config(vm);            \
		*(out) = (expr);                                        \
		pk_vm_unlock(vm);                                       \
		return PRL_ERR_SUCCESS;                                 \
	} while (0)

/* Change the edit copy: `d` is the edit copy inside body. */
#define PK_CFG_EDIT(hVmCfg, body)                                               \
	do {                                                                        \
		PK_CFG_GET(hVmCfg, vm);                                                 \
		pk_vm_data *d = pk_vm_lock_edit(vm);                                    \
		if (d == NULL)                                                          \
			return PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID;             \
		body;                                                                   \
		pk_vm_unlock(vm);                                                       \
		return PRL_ERR_SUCCESS;                                                 \
	} while (0)

PRL_METHOD(PrlVmCfg_GetName)(PRL_HANDLE hVmCfg, PRL_STR sVmName, PRL_UINT32_PTR pnVmNameBufLength)
{
	PK_CFG_STRING(hVmCfg, name, sVmName, pnVmNameBufLength);
}

PRL_METHOD(PrlVmCfg_SetName)(PRL_HANDLE hVmCfg, PRL_CONST_STR sNewVmName)
{
	if (sNewVmName == NULL || *sNewVmName == '\0')
		return PRL_ERR_INVALID_ARG;
	PK_CFG_EDIT(hVmCfg, {
		g_free(d->name);
		d->name = g_strdup(sNewVmName);
	});
}

PRL_METHOD(PrlVmCfg_GetUuid)(PRL_HANDLE hVmCfg, PRL_STR sVmUuid, PRL_UINT32_PTR pnVmUuidBufLength)
{
	PK_CFG_GET(hVmCfg, vm);
	return pk_string_out(pk_vm_get_id(vm), sVmUuid, pnVmUuidBufLength);
}

PRL_METHOD(PrlVmCfg_GetDescription)(PRL_HANDLE hVmCfg, PRL_STR sVmDescription,
                                    PRL_UINT32_PTR pnVmDescriptionBufLength)
{
	PK_CFG_STRING(hVmCfg, description, sVmDescription, pnVmDescriptionBufLength);
}

PRL_METHOD(PrlVmCfg_SetDescription)(PRL_HANDLE hVmCfg, PRL_CONST_STR sNewVmDescription)
{
	PK_CFG_EDIT(hVmCfg, {
		g_free(d->description);
		d->description = g_strdup(sNewVmDescription != NULL ? sNewVmDescription : "");
	});
}

PRL_METHOD(PrlVmCfg_GetOsType)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmOsType)
{
	PK_CFG_NUMBER(hVmCfg, d->os_type, pnVmOsType);
}

PRL_METHOD(PrlVmCfg_GetOsVersion)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmOsVersion)
{
	PK_CFG_NUMBER(hVmCfg, d->os_version, pnVmOsVersion);
}

PRL_METHOD(PrlVmCfg_GetRamSize)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmRamSize)
{
	PK_CFG_NUMBER(hVmCfg, d->ram_mb, pnVmRamSize);
}

PRL_METHOD(PrlVmCfg_SetRamSize)(PRL_HANDLE hVmCfg, PRL_UINT32 nVmRamSize)
{
	if (nVmRamSize == 0)
		return PRL_ERR_INVALID_MEMORY_SIZE;
	PK_CFG_EDIT(hVmCfg, d->ram_mb = nVmRamSize);
}

PRL_METHOD(PrlVmCfg_GetCpuCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnVmCpuCount)
{
	PK_CFG_NUMBER(hVmCfg, d->cpus, pnVmCpuCount);
}

PRL_METHOD(PrlVmCfg_SetCpuCount)(PRL_HANDLE hVmCfg, PRL_UINT32 nVmCpuCount)
{
	if (nVmCpuCount == 0)
		return PRL_ERR_INVALID_ARG;
	PK_CFG_EDIT(hVmCfg, d->cpus = nVmCpuCount);
}

PRL_METHOD(PrlVmCfg_IsTemplate)(PRL_HANDLE hVmCfg, PRL_BOOL_PTR pbVmIsTemplate)
{
	PK_CFG_NUMBER(hVmCfg, d->is_template ? PRL_TRUE : PRL_FALSE, pbVmIsTemplate);
}

PRL_METHOD(PrlVmCfg_SetTemplateSign)(PRL_HANDLE hVmCfg, PRL_BOOL bVmIsTemplate)
{
	PK_CFG_EDIT(hVmCfg, d->is_template = bVmIsTemplate ? TRUE : FALSE);
}

PRL_METHOD(PrlVmCfg_GetVmInfo)(PRL_HANDLE hVmCfg, PRL_HANDLE_PTR phVmInfo)
{
	if (phVmInfo == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_CFG_GET(hVmCfg, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	pk_vm_info *info = pk_vm_info_new(d->state, d->power_state);
	pk_vm_unlock(vm);
	*phVmInfo = pk_object_give(info);
	return PRL_ERR_SUCCESS;
}

/* ---- devices ---- */

static gboolean is_hard_disk(const pk_disk_data *disk)
{
	return disk != NULL && disk->type != PDE_OPTICAL_DISK;
}

PRL_METHOD(PrlVmCfg_GetHardDisksCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnHardDisksCount)
{
	if (pnHardDisksCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_CFG_GET(hVmCfg, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	PRL_UINT32 n = 0;
	for (guint i = 0; d->disks != NULL && i < d->disks->len; i++)
		n += is_hard_disk(d->disks->pdata[i]) ? 1 : 0;
	pk_vm_unlock(vm);
	*pnHardDisksCount = n;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlVmCfg_GetHardDisk)(PRL_HANDLE hVmCfg, PRL_UINT32 nIndex, PRL_HANDLE_PTR phDevice)
{
	if (phDevice == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_CFG_GET(hVmCfg, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	pk_disk_data copy = { 0 };
	gboolean found = FALSE;
	for (guint i = 0, n = 0; d->disks != NULL && i < d->disks->len && !found; i++) {
		const pk_disk_data *disk = d->disks->pdata[i];
		if (is_hard_disk(disk) && n++ == nIndex) {
			copy.image_path = g_strdup(disk->image_path);
			copy.size_mb = disk->size_mb;
			copy.type = PDE_HARD_DISK;
			found = TRUE;
		}
	}
	pk_vm_unlock(vm);
	if (!found)
		return PRL_ERR_INVALID_ARG;
	*phDevice = pk_object_give(pk_device_new_disk(&copy));
	g_free(copy.image_path);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlVmCfg_GetNetAdaptersCount)(PRL_HANDLE hVmCfg, PRL_UINT32_PTR pnNetAdaptersCount)
{
	PK_CFG_NUMBER(hVmCfg, d->nets != NULL ? d->nets->len : 0, pnNetAdaptersCount);
}

PRL_METHOD(PrlVmCfg_GetNetAdapter)(PRL_HANDLE hVmCfg, PRL_UINT32 nIndex, PRL_HANDLE_PTR phDevice)
{
	if (phDevice == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_CFG_GET(hVmCfg, vm);
	const pk_vm_data *d = pk_vm_lock_config(vm);
	pk_net_data copy = { 0 };
	gboolean found = d->nets != NULL && nIndex < d->nets->len && d->nets->pdata[nIndex] != NULL;
	if (found) {
		const pk_net_data *net = d->nets->pdata[nIndex];
		copy.mac = g_strdup(net->mac);
		copy.network = g_strdup(net->network);
	}
	pk_vm_unlock(vm);
	if (!found)
		return PRL_ERR_INVALID_ARG;
	*phDevice = pk_object_give(pk_device_new_net(&copy));
	g_free(copy.mac);
	g_free(copy.network);
	return PRL_ERR_SUCCESS;
}

/* A device handle of any device type. */
static PRL_RESULT get_device(PRL_HANDLE h, pk_device **out)
{
	pk_object *obj = NULL;
	PK_SYNC_GET(h, PHT_ERROR, obj);
	switch (pk_object_type(obj)) {
	case PHT_VIRTUAL_DEV_HARD_DISK:
	case PHT_VIRTUAL_DEV_OPTICAL_DISK:
	case PHT_VIRTUAL_DEV_NET_ADAPTER:
		*out = (pk_device *)obj;
		return PRL_ERR_SUCCESS;
	default:
		pk_object_unref(obj);
		return PRL_ERR_INVALID_ARG;
	}
}

PRL_METHOD(PrlVmDev_GetType)(PRL_HANDLE hVmDev, PRL_DEVICE_TYPE_PTR pnType)
{
	if (pnType == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_device *dev = NULL;
	PK_RETURN_IF_FAILED(get_device(hVmDev, &dev));
	*pnType = dev->type;
	return PRL_ERR_SUCCESS;
}

/* Disks: the image; network adapters: the network (bridge) they are attached to. */
PRL_METHOD(PrlVmDev_GetImagePath)(PRL_HANDLE hVmDev, PRL_STR sImagePath,
                                  PRL_UINT32_PTR pnImagePathBufLength)
{
	PK_AUTO pk_device *dev = NULL;
	PK_RETURN_IF_FAILED(get_device(hVmDev, &dev));
	return pk_string_out(dev->image_path, sImagePath, pnImagePathBufLength);
}

/* MB (saturates). */
PRL_METHOD(PrlVmDevHd_GetDiskSize)(PRL_HANDLE hVmDev, PRL_UINT32_PTR pnDiskSize)
{
	if (pnDiskSize == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_device *dev = NULL;
	PK_SYNC_GET(hVmDev, PHT_VIRTUAL_DEV_HARD_DISK, dev);
	*pnDiskSize = (PRL_UINT32)MIN(dev->size_mb, (guint64)G_MAXUINT32);
	return PRL_ERR_SUCCESS;
}

/* Upper-case, colon-separated ("BC:24:11:8A:3C:FF"). */
PRL_METHOD(PrlVmDevNet_GetMacAddress)(PRL_HANDLE hVmDev, PRL_STR sMacAddress,
                                      PRL_UINT32_PTR pnMacAddressBufLength)
{
	PK_AUTO pk_device *dev = NULL;
	PK_SYNC_GET(hVmDev, PHT_VIRTUAL_DEV_NET_ADAPTER, dev);
	return pk_string_out(dev->mac, sMacAddress, pnMacAddressBufLength);
}

PRL_METHOD(PrlVmInfo_GetState)(PRL_HANDLE hVmInfo, VIRTUAL_MACHINE_STATE_PTR pVmState)
{
	if (pVmState == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_vm_info *info = NULL;
	PK_SYNC_GET(hVmInfo, PHT_VM_INFO, info);
	*pVmState = info->state;
	return PRL_ERR_SUCCESS;
}

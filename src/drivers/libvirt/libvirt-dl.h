/* libvirt, loaded on first use: libprlkit does not link libvirt (its ~17 dependencies cost
 * a process that never connects to libvirt several milliseconds of relocation at start-up),
 * so the driver calls libvirt through a table of pointers filled by lv_dl_load.
 *
 * Include after <libvirt/libvirt.h>: every libvirt function the driver calls is listed in
 * LV_DL_FUNCS and redirected to its pointer; a function missing from the list fails to
 * link (no libvirt on the link line), so the list cannot silently fall behind. */
#ifndef PRLKIT_LIBVIRT_DL_H
#define PRLKIT_LIBVIRT_DL_H

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

G_BEGIN_DECLS

#define LV_DL_FUNCS(X) \
	X(virConnSetErrorFunc) \
	X(virConnectClose) \
	X(virConnectDomainEventDeregisterAny) \
	X(virConnectDomainEventRegisterAny) \
	X(virConnectGetAllDomainStats) \
	X(virConnectGetHostname) \
	X(virConnectGetLibVersion) \
	X(virConnectGetType) \
	X(virConnectGetVersion) \
	X(virConnectIsAlive) \
	X(virConnectListAllDomains) \
	X(virConnectListAllNetworks) \
	X(virConnectListAllStoragePools) \
	X(virConnectOpenAuth) \
	X(virConnectRef) \
	X(virConnectRegisterCloseCallback) \
	X(virConnectSetKeepAlive) \
	X(virConnectUnregisterCloseCallback) \
	X(virDomainCreate) \
	X(virDomainDefineXML) \
	X(virDomainDestroy) \
	X(virDomainFree) \
	X(virDomainGetBlockInfo) \
	X(virDomainGetInfo) \
	X(virDomainGetMetadata) \
	X(virDomainGetName) \
	X(virDomainGetState) \
	X(virDomainGetUUID) \
	X(virDomainGetVcpus) \
	X(virDomainGetXMLDesc) \
	X(virDomainHasManagedSaveImage) \
	X(virDomainInterfaceAddresses) \
	X(virDomainInterfaceFree) \
	X(virDomainIsActive) \
	X(virDomainLookupByName) \
	X(virDomainLookupByUUIDString) \
	X(virDomainManagedSave) \
	X(virDomainManagedSaveRemove) \
	X(virDomainMemoryStats) \
	X(virDomainPMWakeup) \
	X(virDomainReboot) \
	X(virDomainRename) \
	X(virDomainReset) \
	X(virDomainResume) \
	X(virDomainSetMetadata) \
	X(virDomainShutdown) \
	X(virDomainSnapshotCreateXML) \
	X(virDomainSnapshotFree) \
	X(virDomainStatsRecordListFree) \
	X(virDomainSuspend) \
	X(virDomainUndefineFlags) \
	X(virEventAddTimeout) \
	X(virEventRegisterDefaultImpl) \
	X(virEventRemoveTimeout) \
	X(virEventRunDefaultImpl) \
	X(virGetLastError) \
	X(virNetworkDHCPLeaseFree) \
	X(virNetworkFree) \
	X(virNetworkGetDHCPLeases) \
	X(virNetworkLookupByName) \
	X(virNodeGetCPUStats) \
	X(virNodeGetFreeMemory) \
	X(virNodeGetInfo) \
	X(virResetLastError) \
	X(virSetErrorFunc) \
	X(virStoragePoolFree) \
	X(virStoragePoolGetName) \
	X(virStoragePoolGetXMLDesc) \
	X(virStoragePoolIsActive) \
	X(virStoragePoolListAllVolumes) \
	X(virStoragePoolLookupByName) \
	X(virStoragePoolLookupByVolume) \
	X(virStoragePoolRefresh) \
	X(virStorageVolCreateXML) \
	X(virStorageVolCreateXMLFrom) \
	X(virStorageVolDelete) \
	X(virStorageVolFree) \
	X(virStorageVolGetInfo) \
	X(virStorageVolGetName) \
	X(virStorageVolGetPath) \
	X(virStorageVolGetXMLDesc) \
	X(virStorageVolLookupByPath)

/* Written once by lv_dl_load (under g_once), read-only afterwards. */
typedef struct lv_dl_table {
#define LV_DL_FIELD(name) __typeof__(&name) name;
	LV_DL_FUNCS(LV_DL_FIELD)
#undef LV_DL_FIELD
} lv_dl_table;

extern lv_dl_table lv_dl;

/* Loads libvirt and resolves every function of LV_DL_FUNCS, once per process; later calls
 * return the first outcome. Every path into the driver that may call libvirt runs it first. */
gboolean lv_dl_load(GError **error);

G_END_DECLS

/* The redirections; libvirt-dl.c, which fills the table, goes without them. */
#ifndef LV_DL_NO_REDIRECT
#define virConnSetErrorFunc (lv_dl.virConnSetErrorFunc)
#define virConnectClose (lv_dl.virConnectClose)
#define virConnectDomainEventDeregisterAny (lv_dl.virConnectDomainEventDeregisterAny)
#define virConnectDomainEventRegisterAny (lv_dl.virConnectDomainEventRegisterAny)
#define virConnectGetAllDomainStats (lv_dl.virConnectGetAllDomainStats)
#define virConnectGetHostname (lv_dl.virConnectGetHostname)
#define virConnectGetLibVersion (lv_dl.virConnectGetLibVersion)
#define virConnectGetType (lv_dl.virConnectGetType)
#define virConnectGetVersion (lv_dl.virConnectGetVersion)
#define virConnectIsAlive (lv_dl.virConnectIsAlive)
#define virConnectListAllDomains (lv_dl.virConnectListAllDomains)
#define virConnectListAllNetworks (lv_dl.virConnectListAllNetworks)
#define virConnectListAllStoragePools (lv_dl.virConnectListAllStoragePools)
#define virConnectOpenAuth (lv_dl.virConnectOpenAuth)
#define virConnectRef (lv_dl.virConnectRef)
#define virConnectRegisterCloseCallback (lv_dl.virConnectRegisterCloseCallback)
#define virConnectSetKeepAlive (lv_dl.virConnectSetKeepAlive)
#define virConnectUnregisterCloseCallback (lv_dl.virConnectUnregisterCloseCallback)
#define virDomainCreate (lv_dl.virDomainCreate)
#define virDomainDefineXML (lv_dl.virDomainDefineXML)
#define virDomainDestroy (lv_dl.virDomainDestroy)
#define virDomainFree (lv_dl.virDomainFree)
#define virDomainGetBlockInfo (lv_dl.virDomainGetBlockInfo)
#define virDomainGetInfo (lv_dl.virDomainGetInfo)
#define virDomainGetMetadata (lv_dl.virDomainGetMetadata)
#define virDomainGetName (lv_dl.virDomainGetName)
#define virDomainGetState (lv_dl.virDomainGetState)
#define virDomainGetUUID (lv_dl.virDomainGetUUID)
#define virDomainGetVcpus (lv_dl.virDomainGetVcpus)
#define virDomainGetXMLDesc (lv_dl.virDomainGetXMLDesc)
#define virDomainHasManagedSaveImage (lv_dl.virDomainHasManagedSaveImage)
#define virDomainInterfaceAddresses (lv_dl.virDomainInterfaceAddresses)
#define virDomainInterfaceFree (lv_dl.virDomainInterfaceFree)
#define virDomainIsActive (lv_dl.virDomainIsActive)
#define virDomainLookupByName (lv_dl.virDomainLookupByName)
#define virDomainLookupByUUIDString (lv_dl.virDomainLookupByUUIDString)
#define virDomainManagedSave (lv_dl.virDomainManagedSave)
#define virDomainManagedSaveRemove (lv_dl.virDomainManagedSaveRemove)
#define virDomainMemoryStats (lv_dl.virDomainMemoryStats)
#define virDomainPMWakeup (lv_dl.virDomainPMWakeup)
#define virDomainReboot (lv_dl.virDomainReboot)
#define virDomainRename (lv_dl.virDomainRename)
#define virDomainReset (lv_dl.virDomainReset)
#define virDomainResume (lv_dl.virDomainResume)
#define virDomainSetMetadata (lv_dl.virDomainSetMetadata)
#define virDomainShutdown (lv_dl.virDomainShutdown)
#define virDomainSnapshotCreateXML (lv_dl.virDomainSnapshotCreateXML)
#define virDomainSnapshotFree (lv_dl.virDomainSnapshotFree)
#define virDomainStatsRecordListFree (lv_dl.virDomainStatsRecordListFree)
#define virDomainSuspend (lv_dl.virDomainSuspend)
#define virDomainUndefineFlags (lv_dl.virDomainUndefineFlags)
#define virEventAddTimeout (lv_dl.virEventAddTimeout)
#define virEventRegisterDefaultImpl (lv_dl.virEventRegisterDefaultImpl)
#define virEventRemoveTimeout (lv_dl.virEventRemoveTimeout)
#define virEventRunDefaultImpl (lv_dl.virEventRunDefaultImpl)
#define virGetLastError (lv_dl.virGetLastError)
#define virNetworkDHCPLeaseFree (lv_dl.virNetworkDHCPLeaseFree)
#define virNetworkFree (lv_dl.virNetworkFree)
#define virNetworkGetDHCPLeases (lv_dl.virNetworkGetDHCPLeases)
#define virNetworkLookupByName (lv_dl.virNetworkLookupByName)
#define virNodeGetCPUStats (lv_dl.virNodeGetCPUStats)
#define virNodeGetFreeMemory (lv_dl.virNodeGetFreeMemory)
#define virNodeGetInfo (lv_dl.virNodeGetInfo)
#define virResetLastError (lv_dl.virResetLastError)
#define virSetErrorFunc (lv_dl.virSetErrorFunc)
#define virStoragePoolFree (lv_dl.virStoragePoolFree)
#define virStoragePoolGetName (lv_dl.virStoragePoolGetName)
#define virStoragePoolGetXMLDesc (lv_dl.virStoragePoolGetXMLDesc)
#define virStoragePoolIsActive (lv_dl.virStoragePoolIsActive)
#define virStoragePoolListAllVolumes (lv_dl.virStoragePoolListAllVolumes)
#define virStoragePoolLookupByName (lv_dl.virStoragePoolLookupByName)
#define virStoragePoolLookupByVolume (lv_dl.virStoragePoolLookupByVolume)
#define virStoragePoolRefresh (lv_dl.virStoragePoolRefresh)
#define virStorageVolCreateXML (lv_dl.virStorageVolCreateXML)
#define virStorageVolCreateXMLFrom (lv_dl.virStorageVolCreateXMLFrom)
#define virStorageVolDelete (lv_dl.virStorageVolDelete)
#define virStorageVolFree (lv_dl.virStorageVolFree)
#define virStorageVolGetInfo (lv_dl.virStorageVolGetInfo)
#define virStorageVolGetName (lv_dl.virStorageVolGetName)
#define virStorageVolGetPath (lv_dl.virStorageVolGetPath)
#define virStorageVolGetXMLDesc (lv_dl.virStorageVolGetXMLDesc)
#define virStorageVolLookupByPath (lv_dl.virStorageVolLookupByPath)
#endif

#endif

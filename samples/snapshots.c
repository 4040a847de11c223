/* prlkit sample: create, list, revert to and delete snapshots.
 *
 *   snapshots [VM]     VM = name or id; default: the first stopped VM
 *
 * In prlkit a snapshot's id is its name (names are unique per VM on every platform
 * prlkit drives), so the id given to PrlVm_SwitchToSnapshot is the name given to
 * PrlVm_CreateSnapshot. MIT license. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample-util.h"

static PRL_RESULT create_snapshot(PRL_HANDLE hVm, const char *name, const char *description)
{
	PRL_RESULT ret;

	sample_step("Create snapshot '%s' (PrlVm_CreateSnapshot)", name);
	ret = sample_wait(PrlVm_CreateSnapshot(hVm, name, description), "PrlVm_CreateSnapshot",
	                  NULL);
	if (PRL_SUCCEEDED(ret))
		sample_info("created");
	return ret;
}

/* Print the VM's snapshot ids (PrlVm_GetSnapshotsList, a prlkit extension) and count how
 * many of the given names are among them. */
static PRL_RESULT list_snapshots(PRL_HANDLE hVm, const char *const *names, int nNames,
                                 int *pnFound)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_UINT32 nCount = 0, i;
	PRL_RESULT ret;
	int j;

	*pnFound = 0;
	sample_step("List the snapshots (PrlVm_GetSnapshotsList)");
	ret = sample_wait(PrlVm_GetSnapshotsList(hVm), "PrlVm_GetSnapshotsList", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	PrlResult_GetParamsCount(hResult, &nCount);
	sample_info("%u snapshot(s), oldest first:", nCount);
	for (i = 0; i < nCount; i++) {
		PRL_UINT32 len = 0;
		char *id;

		/* Two-call convention: size first, then the string. */
		ret = PrlResult_GetParamByIndexAsString(hResult, i, NULL, &len);
		if (PRL_FAILED(ret))
			break;
		id = malloc(len);
		if (id == NULL) {
			ret = PRL_ERR_OUT_OF_MEMORY;
			break;
		}
		ret = PrlResult_GetParamByIndexAsString(hResult, i, id, &len);
		if (PRL_SUCCEEDED(ret)) {
			sample_info("  - %s", id);
			for (j = 0; j < nNames; j++)
				if (strcmp(id, names[j]) == 0)
					(*pnFound)++;
		}
		free(id);
		if (PRL_FAILED(ret))
			break;
	}
	if (PRL_FAILED(ret))
		sample_print_error("PrlResult_GetParamByIndexAsString", ret);
	PrlHandle_Free(hResult);
	return ret;
}

/* The SDK's own view: an XML tree of <SavedStateItem> elements. */
static PRL_RESULT show_tree(PRL_HANDLE hVm)
{
	PRL_HANDLE hResult = PRL_INVALID_HANDLE;
	PRL_RESULT ret;
	char *xml;

	sample_step("Show the snapshot tree (PrlVm_GetSnapshotsTree)");
	ret = sample_wait(PrlVm_GetSnapshotsTree(hVm), "PrlVm_GetSnapshotsTree", &hResult);
	if (PRL_FAILED(ret))
		return ret;
	xml = sample_get_string(hResult, PrlResult_GetParamAsString, "PrlResult_GetParamAsString");
	PrlHandle_Free(hResult);
	if (xml == NULL)
		return PRL_ERR_FAILURE;
	printf("%s%s", xml, xml[0] && xml[strlen(xml) - 1] == '\n' ? "" : "\n");
	free(xml);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT delete_snapshot(PRL_HANDLE hVm, const char *id)
{
	PRL_RESULT ret;

	/* PRL_FALSE: delete only this snapshot; its children are kept. */
	sample_step("Delete snapshot '%s' (PrlVm_DeleteSnapshot)", id);
	ret = sample_wait(PrlVm_DeleteSnapshot(hVm, id, PRL_FALSE), "PrlVm_DeleteSnapshot", NULL);
	if (PRL_SUCCEEDED(ret))
		sample_info("deleted");
	return ret;
}

static PRL_RESULT snapshots(PRL_HANDLE hVm)
{
	char first[64], second[64];
	const char *ours[2] = { first, second };
	PRL_RESULT ret, del;
	int nCreated = 0, nFound = 0;

	snprintf(first, sizeof(first), "sample-snap-1-%ld", (long)getpid());
	snprintf(second, sizeof(second), "sample-snap-2-%ld", (long)getpid());

	ret = create_snapshot(hVm, first, "taken by the prlkit snapshots sample");
	if (PRL_SUCCEEDED(ret)) {
		nCreated = 1;
		ret = create_snapshot(hVm, second, "a second one, child of the first");
	}
	if (PRL_SUCCEEDED(ret)) {
		nCreated = 2;
		ret = list_snapshots(hVm, ours, 2, &nFound);
		if (PRL_SUCCEEDED(ret) && nFound != 2) {
			fprintf(stderr, "ERROR: %d of the 2 new snapshots are listed\n", nFound);
			ret = PRL_ERR_FAILURE;
		}
	}
	if (PRL_SUCCEEDED(ret))
		ret = show_tree(hVm);
	if (PRL_SUCCEEDED(ret)) {
		sample_step("Revert to '%s' (PrlVm_SwitchToSnapshot)", first);
		ret = sample_wait(PrlVm_SwitchToSnapshot(hVm, first), "PrlVm_SwitchToSnapshot", NULL);
		if (PRL_SUCCEEDED(ret))
			sample_info("reverted; state: %s", sample_state_name(sample_get_state(hVm)));
	}

	/* Remove what this sample made, newest first, even after a failure. */
	if (nCreated == 2) {
		del = delete_snapshot(hVm, second);
		if (PRL_SUCCEEDED(ret))
			ret = del;
	}
	if (nCreated >= 1) {
		del = delete_snapshot(hVm, first);
		if (PRL_SUCCEEDED(ret))
			ret = del;
	}
	if (PRL_SUCCEEDED(ret)) {
		ret = list_snapshots(hVm, ours, 2, &nFound);
		if (PRL_SUCCEEDED(ret) && nFound != 0) {
			fprintf(stderr, "ERROR: a deleted snapshot is still listed\n");
			ret = PRL_ERR_FAILURE;
		}
	}
	return ret;
}

int main(int argc, char **argv)
{
	PRL_HANDLE hServer, hVm = PRL_INVALID_HANDLE;
	int status = 1;
	char *name;

	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [VM-NAME-OR-ID]\n", argv[0]);
		return 2;
	}
	if (PRL_FAILED(sample_login_local(&hServer)))
		return 1;

	sample_step("Find the VM (PrlSrv_GetVmList)");
	if (PRL_SUCCEEDED(sample_find_vm(hServer, argc > 1 ? argv[1] : NULL,
	                                 SAMPLE_PICK_STOPPED_VM, &hVm))) {
		name = sample_get_string(hVm, PrlVmCfg_GetName, "PrlVmCfg_GetName");
		sample_info("using VM '%s'", name ? name : "?");
		free(name);
		if (PRL_SUCCEEDED(snapshots(hVm)))
			status = 0;
		PrlHandle_Free(hVm);
	}

	if (sample_logoff(hServer) != 0)
		status = 1;
	if (status == 0)
		printf("snapshots: done\n");
	return status;
}

/* Fuzz target: the pve driver's mapping of Proxmox answers (src/drivers/pve/pve-types.c)
 * and its small codecs. Whatever a Proxmox node (or something pretending to be one)
 * answers, the driver must not crash, leak or misbehave.
 *
 * The first byte picks what the rest is:
 *   0 cluster/resources "data"   1 VM config "data"   2 guest agent network-get-interfaces
 *   3 fields: status, qmpstatus, lock, ostype, vmid, UPID, exitstatus, error message
 *   4 fields: a snapshot name, a Proxmox snapshot name, a description (name codec)
 *   5 fields: tags, a tag
 * Invariants beyond "no crash": inventories hold each qemu vmid once, sorted, all
 * findable; the snapshot name codec round-trips both ways; descriptions round-trip
 * through wrap/unwrap; tag edits do what they say. */
#include "config.h"

#include <string.h>
#include <jansson.h>
#include "core-error.h"
#include "drivers/pve/pve-private.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

static json_t *
load(fuzz_input *in)
{
	g_autofree char *text = fuzz_rest(in);
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

static void
inventory(fuzz_input *in)
{
	json_t *data = load(in);
	g_autoptr(GError) error = NULL;
	g_autoptr(pve_inventory) inv = pve_inventory_parse(data, &error);

	json_decref(data);
	if (!inv) {
		FUZZ_CHECK(error != NULL, "failure without an error");
		return;
	}
	for (guint i = 0; i < inv->vms->len; i++) {
		const pve_resource *r = g_ptr_array_index(inv->vms, i);
		FUZZ_CHECK(r->is_qemu && r->node != NULL, "a listed VM must be qemu with a node");
		FUZZ_CHECK(r->vmid >= 100 && r->vmid <= 999999999, "vmid %u", r->vmid);
		FUZZ_CHECK(pve_inventory_find(inv, r->vmid) == r, "vmid %u not findable", r->vmid);
		if (i > 0) {
			const pve_resource *p = g_ptr_array_index(inv->vms, i - 1);
			FUZZ_CHECK(p->vmid < r->vmid, "not sorted or listed twice: %u, %u", p->vmid,
			           r->vmid);
		}
		(void)pve_state_map(r->status, NULL, r->lock, NULL);
		(void)pve_tags_has(r->tags, "ras-template");
	}
}

static void
vmconf(fuzz_input *in)
{
	json_t *data = load(in);
	g_autoptr(GError) error = NULL;
	g_autoptr(pve_vmconf) c = pve_vmconf_parse(data, &error);
	guint32 type, version;

	json_decref(data);
	if (!c) {
		FUZZ_CHECK(error != NULL, "failure without an error");
		return;
	}
	FUZZ_CHECK(c->cores >= 1 && c->sockets >= 1, "cores %u sockets %u", c->cores, c->sockets);
	for (guint i = 0; i < c->nets->len; i++) {
		const pk_net_data *n = g_ptr_array_index(c->nets, i);
		if (n->mac)
			FUZZ_CHECK(strlen(n->mac) == 17, "MAC '%s' not normalized", n->mac);
	}
	pve_os_map(c->ostype, &type, &version);
}

static void
agent_ips(fuzz_input *in)
{
	json_t *data = load(in);
	g_autoptr(GPtrArray) ips = pve_agent_ips_parse(data);

	json_decref(data);
	FUZZ_CHECK(ips != NULL, "NULL address list");
	for (guint i = 0; i < ips->len; i++) {
		const char *ip = ips->pdata[i];
		FUZZ_CHECK(g_hostname_is_ip_address(ip), "'%s' is not an address", ip);
		for (guint j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ip, ips->pdata[j]) != 0, "'%s' listed twice", ip);
	}
}

static void
words(fuzz_input *in)
{
	g_autofree char *status = fuzz_field(in, 256);
	g_autofree char *qmp = fuzz_field(in, 256);
	g_autofree char *lock = fuzz_field(in, 256);
	g_autofree char *ostype = fuzz_field(in, 256);
	g_autofree char *vmid = fuzz_field(in, 256);
	g_autofree char *upid = fuzz_field(in, 1024);
	g_autofree char *exitstatus = fuzz_field(in, 1024);
	g_autofree char *message = fuzz_rest(in);
	const char *raw = NULL;
	guint32 type, version;
	guint id = 0;
	pve_upid u;

	(void)pve_state_map(status, qmp, lock, &raw);
	FUZZ_CHECK(raw != NULL, "no raw state word");
	pve_os_map(ostype, &type, &version);
	if (pve_vmid_parse(vmid, &id))
		FUZZ_CHECK(id >= 100 && id <= 999999999, "vmid %u", id);
	if (pve_upid_parse(upid, &u)) {
		FUZZ_CHECK(u.node && *u.node && u.type && *u.type && u.id, "UPID fields");
		pve_upid_clear(&u);
	} else {
		FUZZ_CHECK(!u.node && !u.type && !u.id, "failed UPID parse left fields");
	}
	(void)pve_exitstatus_ok(exitstatus);
	(void)pve_error_code_for_message(message, PRL_ERR_OPERATION_FAILED);
}

static void
snapnames(fuzz_input *in)
{
	g_autofree char *name = fuzz_field(in, 1024);
	g_autofree char *pve_name = fuzz_field(in, 1024);
	g_autofree char *desc = fuzz_rest(in);
	g_autoptr(GError) error = NULL;
	g_autofree char *enc = NULL;

	if (!name)
		return;
	enc = pve_snapname_encode(name, &error);
	if (enc) {
		g_autofree char *dec = pve_snapname_decode(enc);
		g_autofree char *wrapped = pve_snapdesc_wrap(name, enc, desc);
		g_autofree char *unwrapped = pve_snapdesc_unwrap(name, enc, wrapped);

		FUZZ_CHECK(pve_snapname_valid(enc), "'%s' encodes to invalid '%s'", name, enc);
		FUZZ_CHECK(strcmp(enc, "current") != 0, "'%s' encodes to 'current'", name);
		FUZZ_CHECK(strcmp(dec, name) == 0, "'%s' → '%s' → '%s'", name, enc, dec);
		FUZZ_CHECK(strcmp(unwrapped, desc ? desc : "") == 0, "description of '%s' changed",
		           name);
	} else {
		FUZZ_CHECK(error != NULL && error->domain == PK_ERROR, "failure without an error");
		FUZZ_CHECK(g_utf8_validate(error->message, -1, NULL), "error not UTF-8");
	}
	/* The other way: a name found on Proxmox decodes to a name that encodes back to it. */
	if (pve_name && pve_snapname_valid(pve_name) && strcmp(pve_name, "current") != 0) {
		g_autofree char *dec = pve_snapname_decode(pve_name);
		g_autoptr(GError) e2 = NULL;
		g_autofree char *again = pve_snapname_encode(dec, &e2);
		FUZZ_CHECK(again != NULL, "'%s' decodes to '%s', which does not encode: %s", pve_name,
		           dec, e2->message);
		FUZZ_CHECK(strcmp(again, pve_name) == 0, "'%s' → '%s' → '%s'", pve_name, dec, again);
	}
}

static void
tags(fuzz_input *in)
{
	g_autofree char *list = fuzz_field(in, 4096);
	g_autofree char *tag = fuzz_rest(in);
	g_autofree char *with = NULL, *without = NULL;

	if (!tag || !*tag || strpbrk(tag, ";, ") != NULL)
		return;
	with = pve_tags_with(list, tag, TRUE);
	without = pve_tags_with(list, tag, FALSE);
	FUZZ_CHECK(pve_tags_has(with, tag), "'%s' + '%s' = '%s'", list, tag, with);
	FUZZ_CHECK(!pve_tags_has(without, tag), "'%s' - '%s' = '%s'", list, tag, without);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = { data, size };

	switch (fuzz_byte(&in) % 6) {
	case 0: inventory(&in); break;
	case 1: vmconf(&in); break;
	case 2: agent_ips(&in); break;
	case 3: words(&in); break;
	case 4: snapnames(&in); break;
	default: tags(&in); break;
	}
	return 0;
}

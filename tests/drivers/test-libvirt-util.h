/* Helpers for the libvirt driver tests: a private test:// hypervisor described by a node
 * XML file (libvirt's in-process mock: fresh state for every connection to the file), and
 * driver connections through the vtable. */
#ifndef PRLKIT_TEST_LIBVIRT_UTIL_H
#define PRLKIT_TEST_LIBVIRT_UTIL_H

#include "libvirt-private.h"

G_BEGIN_DECLS

/* Fixed UUIDs of the node's domains: "gold" (shut off), "run1" (running), "blk" (running,
 * a block-device disk). */
#define TL_GOLD "11111111-2222-3333-4444-555555555555"
#define TL_RUN1 "11111111-2222-3333-4444-666666666666"
#define TL_BLK "11111111-2222-3333-4444-888888888888"
#define TL_POOL "pk-pool"

/* "test:///<srcdir>/tests/drivers/libvirt-node.xml": domains gold and run1 with qcow2
 * disks in pool pk-pool, blk with a block device, networks default and isolated; fresh
 * for every connection. */
char *tl_node_uri(void);

pk_conn *tl_open_full(const char *uri, const char *settings_json, pk_open_status *status,
                      GError **error);
pk_conn *tl_open(const char *uri, const char *settings_json);
/* A fresh node with storage_pool=pk-pool. */
pk_conn *tl_open_node(void);
void tl_close(pk_conn *c);
/* The driver's own libvirt connection (the node's only instance). */
virConnectPtr tl_raw(pk_conn *c);

pk_vm_data *tl_get(pk_conn *c, const char *id);
char *tl_id_by_name(pk_conn *c, const char *name);   /* NULL if none */
/* The file behind a domain's disk (persistent definition). */
char *tl_disk_path(pk_conn *c, const char *id, const char *target);
/* The backing file of a volume (NULL for none); fails the test if the volume is missing. */
char *tl_backing_of(pk_conn *c, const char *path);
gboolean tl_vol_exists(pk_conn *c, const char *path);
/* How many volumes the driver created (named prlkit-...) exist. */
guint tl_count_ours(pk_conn *c);
/* Asserts a failed call with that PRL_RESULT; clears the error. */
#define tl_assert_error(ok, error, code) tl_assert_error_at(__FILE__, __LINE__, ok, error, code)
void tl_assert_error_at(const char *file, int line, gboolean ok, GError **error,
                        PRL_RESULT code);

G_END_DECLS
#endif

/* Driver registry internals: lookup by URI scheme and a hook for unit tests.
 * pk_driver_lookup / pk_driver_list themselves are declared in driver.h. */
#ifndef PRLKIT_CORE_REGISTRY_H
#define PRLKIT_CORE_REGISTRY_H

#include "driver.h"

G_BEGIN_DECLS

/* TRUE when drv handles URIs of this scheme: an exact (case-insensitive) match with one of
 * its uri_schemes, or with the part before '+' ("libvirt+qemu" matches "libvirt"). */
gboolean pk_driver_handles_scheme(const pk_driver *drv, const char *scheme);

/* Tests only: make drv known to the registry, ahead of the built-in drivers (so a test can
 * use an in-test fake). Call before other threads use the registry. Registering the same
 * driver twice is a no-op; at most 8 test drivers. */
void pk_driver_register_for_tests(const pk_driver *drv);

G_END_DECLS
#endif

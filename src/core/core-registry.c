/* The drivers built into the library, in lookup order (by name, or by URI scheme). */
#include "config.h"

#include <string.h>
#include "core-registry.h"

extern const pk_driver sim_driver;
extern const pk_driver pve_driver __attribute__((weak));
#ifdef WITH_LIBVIRT
extern const pk_driver libvirt_driver;
#endif

#define PK_MAX_TEST_DRIVERS 8

static const pk_driver *const builtin_drivers[] = {
	&sim_driver,
	&pve_driver,
#ifdef WITH_LIBVIRT
	&libvirt_driver,
#endif
};

/* Test drivers first, then the built-in ones; NULL-terminated. Written only by
 * pk_driver_register_for_tests (under registry_lock, before other threads run); read
 * without a lock afterwards. */
static const pk_driver *all_drivers[PK_MAX_TEST_DRIVERS + G_N_ELEMENTS(builtin_drivers) + 1];
static guint n_test_drivers;            /* registry_lock */
static gsize all_drivers_ready;         /* g_once_init */
static GMutex registry_lock;

static void rebuild_list(void)
{
	guint n = n_test_drivers;   /* the test drivers already sit in front */
	for (guint i = 0; i < G_N_ELEMENTS(builtin_drivers); i++)
		if (builtin_drivers[i] != NULL)   /* a weak driver that is not linked in */
			all_drivers[n++] = builtin_drivers[i];
	all_drivers[n] = NULL;
}

static void ensure_list(void)
{
	if (g_once_init_enter(&all_drivers_ready)) {
		g_mutex_lock(&registry_lock);
		rebuild_list();
		g_mutex_unlock(&registry_lock);
		g_once_init_leave(&all_drivers_ready, 1);
	}
}

void pk_driver_register_for_tests(const pk_driver *drv)
{
	g_return_if_fail(drv != NULL && drv->name != NULL);
	ensure_list();
	g_mutex_lock(&registry_lock);
	gboolean known = FALSE;
	for (guint i = 0; i < n_test_drivers; i++)
		known = known || all_drivers[i] == drv;
	if (!known && n_test_drivers < PK_MAX_TEST_DRIVERS) {
		/* Test drivers occupy the first slots: shift them and put the new one in front. */
		memmove(&all_drivers[1], &all_drivers[0], n_test_drivers * sizeof(all_drivers[0]));
		all_drivers[0] = drv;
		n_test_drivers++;
		rebuild_list();
	}
	g_mutex_unlock(&registry_lock);
}

const pk_driver *const *pk_driver_list(void)
{
	ensure_list();
	return all_drivers;
}

const pk_driver *pk_driver_lookup(const char *name)
{
	if (name == NULL || *name == '\0')
		return NULL;
	for (const pk_driver *const *d = pk_driver_list(); *d != NULL; d++)
		if (g_ascii_strcasecmp((*d)->name, name) == 0)
			return *d;
	return NULL;
}

gboolean pk_driver_handles_scheme(const pk_driver *drv, const char *scheme)
{
	if (drv == NULL || drv->uri_schemes == NULL || scheme == NULL || *scheme == '\0')
		return FALSE;
	const char *plus = strchr(scheme, '+');
	gsize prefix = plus != NULL ? (gsize)(plus - scheme) : 0;
	for (const char *const *s = drv->uri_schemes; *s != NULL; s++) {
		if (g_ascii_strcasecmp(*s, scheme) == 0)
			return TRUE;
		if (prefix > 0 && strlen(*s) == prefix && g_ascii_strncasecmp(*s, scheme, prefix) == 0)
			return TRUE;
	}
	return FALSE;
}

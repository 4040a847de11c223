/* Loads libvirt on the first libvirt connection of the process (libvirt-dl.h). */
#include "config.h"

#include <dlfcn.h>

#define LV_DL_NO_REDIRECT
#include "libvirt-private.h"

lv_dl_table lv_dl;

gboolean lv_dl_load(GError **error)
{
	static gsize done;
	static char *why;             /* written once under g_once: NULL when loaded */

	if (g_once_init_enter(&done)) {
		/* Never unloaded: libvirt keeps threads and callbacks into us. */
		void *lib = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_GLOBAL);
		if (lib == NULL)
			why = g_strdup(dlerror());
#define LV_DL_RESOLVE(name) \
		if (why == NULL && (lv_dl.name = (__typeof__(&name))dlsym(lib, #name)) == NULL) \
			why = g_strdup("missing symbol " #name);
		LV_DL_FUNCS(LV_DL_RESOLVE)
#undef LV_DL_RESOLVE
		g_once_init_leave(&done, 1);
	}
	if (why != NULL) {
		g_set_error(error, PK_ERROR, PRL_ERR_CANT_CONNECT_TO_DISPATCHER,
		            "libvirt driver: cannot load %s: %s", LIBVIRT_SONAME, why);
		return FALSE;
	}
	return TRUE;
}

/* PrlHandle_AddRef / Free / GetType. They work with or without PrlApi_InitEx (see
 * api-lib.c). Event handler registration lives with the runtime. */
#include "config.h"

#include "prlkit/PrlApiCore.h"
#include "core-object.h"

PRL_METHOD(PrlHandle_AddRef)(PRL_HANDLE handle)
{
	gpointer obj;
	/* The reference pk_handle_get takes is the one the caller asked for. */
	return pk_handle_get(handle, PHT_ERROR, &obj);
}

PRL_METHOD(PrlHandle_Free)(PRL_HANDLE handle)
{
	return pk_handle_free(handle);
}

PRL_METHOD(PrlHandle_GetType)(PRL_HANDLE handle, PRL_HANDLE_TYPE_PTR type)
{
	if (type == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_object *obj = NULL;
	PRL_RESULT r = pk_handle_get(handle, PHT_ERROR, (gpointer *)&obj);
	if (PRL_FAILED(r))
		return r;
	*type = pk_object_type(obj);
	return PRL_ERR_SUCCESS;
}

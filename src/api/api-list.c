/* PrlStrList_* and PrlHndlList_*. An index out of range is PRL_ERR_INVALID_ARG. */
#include "config.h"

#include "prlkit/PrlApiCore.h"
#include "core-api.h"
#include "core-error.h"
#include "core-result.h"

/* ---- strings lists ---- */

PRL_METHOD(PrlStrList_GetItemsCount)(PRL_HANDLE hStringsList, PRL_UINT32_PTR pnItemsCount)
{
	if (pnItemsCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_strlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hStringsList, PHT_STRINGS_LIST, (gpointer *)&l));
	*pnItemsCount = pk_strlist_count(l);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlStrList_AddItem)(PRL_HANDLE hStringsList, PRL_CONST_STR sItem)
{
	if (sItem == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_strlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hStringsList, PHT_STRINGS_LIST, (gpointer *)&l));
	pk_strlist_add(l, sItem);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlStrList_GetItem)(PRL_HANDLE hStringsList, PRL_UINT32 nItemIndex, PRL_STR sItem,
                               PRL_UINT32_PTR pnItemBufLength)
{
	if (pnItemBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_strlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hStringsList, PHT_STRINGS_LIST, (gpointer *)&l));
	g_autofree char *item = pk_strlist_get(l, nItemIndex);
	if (item == NULL)
		return PRL_ERR_INVALID_ARG;
	return pk_string_out(item, sItem, pnItemBufLength);
}

PRL_METHOD(PrlStrList_RemoveItem)(PRL_HANDLE hStringsList, PRL_UINT32 nItemIndex)
{
	PK_AUTO pk_strlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hStringsList, PHT_STRINGS_LIST, (gpointer *)&l));
	return pk_strlist_remove(l, nItemIndex) ? PRL_ERR_SUCCESS : PRL_ERR_INVALID_ARG;
}

/* ---- handles lists ---- */

PRL_METHOD(PrlHndlList_GetItemsCount)(PRL_HANDLE hHandlesList, PRL_UINT32_PTR pnItemsCount)
{
	if (pnItemsCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_hndlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hHandlesList, PHT_HANDLES_LIST, (gpointer *)&l));
	*pnItemsCount = pk_hndlist_count(l);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlHndlList_AddItem)(PRL_HANDLE hHandlesList, PRL_HANDLE hItem)
{
	PK_AUTO pk_hndlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hHandlesList, PHT_HANDLES_LIST, (gpointer *)&l));
	PK_AUTO pk_object *item = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hItem, PHT_ERROR, (gpointer *)&item));
	/* A list that (indirectly) contains itself would never be freed. */
	if (pk_object_type(item) == PHT_HANDLES_LIST &&
	    pk_hndlist_reaches((pk_hndlist *)item, l))
		return PRL_ERR_INVALID_ARG;
	pk_hndlist_add(l, item);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlHndlList_GetItem)(PRL_HANDLE hHandlesList, PRL_UINT32 nItemIndex,
                                PRL_HANDLE_PTR phItem)
{
	if (phItem == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_hndlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hHandlesList, PHT_HANDLES_LIST, (gpointer *)&l));
	gpointer item = pk_hndlist_get(l, nItemIndex);
	if (item == NULL)
		return PRL_ERR_INVALID_ARG;
	*phItem = pk_object_give(item);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlHndlList_RemoveItem)(PRL_HANDLE hHandlesList, PRL_UINT32 nItemIndex)
{
	PK_AUTO pk_hndlist *l = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hHandlesList, PHT_HANDLES_LIST, (gpointer *)&l));
	return pk_hndlist_remove(l, nItemIndex) ? PRL_ERR_SUCCESS : PRL_ERR_INVALID_ARG;
}

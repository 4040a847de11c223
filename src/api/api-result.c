/* PrlResult_*: a job's result params, each an object or a string.
 *
 * - GetParamByIndex on an object param gives a new reference; on a string param it is
 *   PRL_ERR_INVALID_ARG (read strings with GetParamByIndexAsString).
 * - GetParamByIndexAsString on a string param gives the string; on an object param its
 *   string form where its class has one, else PRL_ERR_INVALID_ARG.
 * - An index out of range is PRL_ERR_INVALID_ARG; GetParam/GetParamAsString are index 0. */
#include "config.h"

#include "prlkit/PrlApiCore.h"
#include "core-api.h"
#include "core-error.h"
#include "core-result.h"

PRL_METHOD(PrlResult_GetParamsCount)(PRL_HANDLE hResult, PRL_UINT32_PTR pnCount)
{
	if (pnCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_result *res = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hResult, PHT_RESULT, (gpointer *)&res));
	*pnCount = pk_result_count(res);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlResult_GetParamByIndex)(PRL_HANDLE hResult, PRL_UINT32 nIndex,
                                      PRL_HANDLE_PTR phParam)
{
	if (phParam == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_result *res = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hResult, PHT_RESULT, (gpointer *)&res));
	gpointer obj = NULL;
	if (!pk_result_get(res, nIndex, &obj, NULL) || obj == NULL)
		return PRL_ERR_INVALID_ARG;
	*phParam = pk_object_give(obj);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlResult_GetParam)(PRL_HANDLE hResult, PRL_HANDLE_PTR phParam)
{
	return PrlResult_GetParamByIndex(hResult, 0, phParam);
}

PRL_METHOD(PrlResult_GetParamByIndexAsString)(PRL_HANDLE hResult, PRL_UINT32 nIndex,
                                              PRL_STR sParamBuf, PRL_UINT32_PTR pnParamBufLength)
{
	if (pnParamBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_result *res = NULL;
	PK_RETURN_IF_FAILED(pk_handle_get(hResult, PHT_RESULT, (gpointer *)&res));
	g_autofree char *s = NULL;
	if (!pk_result_get(res, nIndex, NULL, &s) || s == NULL)
		return PRL_ERR_INVALID_ARG;
	return pk_string_out(s, sParamBuf, pnParamBufLength);
}

PRL_METHOD(PrlResult_GetParamAsString)(PRL_HANDLE hResult, PRL_STR sParamBuf,
                                       PRL_UINT32_PTR pnParamBufLength)
{
	return PrlResult_GetParamByIndexAsString(hResult, 0, sParamBuf, pnParamBufLength);
}

/* PrlEvent_* and PrlEvtPrm_*.
 *
 * - GetServer/GetVm/GetJob: a new reference, or PRL_ERR_NO_DATA when the event has none.
 * - GetErrString: brief = the message (or, without one, the code's description); not brief
 *   = that text + " (PRL_ERR_NAME)". bFormated is accepted and has nothing to substitute.
 * - Params: ToString works for every type; the numeric conversions work on numeric params
 *   that fit, on booleans (0/1) and on string params holding a number, else
 *   PRL_ERR_INVALID_ARG; ToHandle works on handle (PFD_ENTITY) params only. */
#include "config.h"

#include "prlkit/PrlApiCore.h"
#include "core-api.h"
#include "core-error.h"
#include "core-result.h"

static PRL_RESULT event_get(PRL_HANDLE h, pk_event **ev)
{
	return pk_handle_get(h, PHT_EVENT, (gpointer *)ev);
}

static PRL_RESULT param_get(PRL_HANDLE h, pk_evtprm **p)
{
	return pk_handle_get(h, PHT_EVENT_PARAMETER, (gpointer *)p);
}

PRL_METHOD(PrlEvent_GetType)(PRL_HANDLE hEvent, PRL_EVENT_TYPE_PTR pnEventType)
{
	if (pnEventType == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	*pnEventType = pk_event_get_type(ev);
	return PRL_ERR_SUCCESS;
}

static PRL_RESULT give_or_no_data(gpointer obj, PRL_HANDLE_PTR out)
{
	if (obj == NULL)
		return PRL_ERR_NO_DATA;
	*out = pk_object_give(obj);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetServer)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phServer)
{
	if (phServer == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	return give_or_no_data(pk_event_get_server(ev), phServer);
}

PRL_METHOD(PrlEvent_GetVm)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phVm)
{
	if (phVm == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	return give_or_no_data(pk_event_get_vm(ev), phVm);
}

PRL_METHOD(PrlEvent_GetJob)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phJob)
{
	if (phJob == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	return give_or_no_data(pk_event_get_job(ev), phJob);
}

PRL_METHOD(PrlEvent_GetParamsCount)(PRL_HANDLE hEvent, PRL_UINT32_PTR pnParamsCount)
{
	if (pnParamsCount == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	*pnParamsCount = pk_event_param_count(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetParam)(PRL_HANDLE hEvent, PRL_UINT32 nIndex, PRL_HANDLE_PTR phEventParam)
{
	if (phEventParam == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	pk_evtprm *p = pk_event_get_param(ev, nIndex);
	if (p == NULL)
		return PRL_ERR_INVALID_ARG;
	*phEventParam = pk_object_give(p);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetParamByName)(PRL_HANDLE hEvent, PRL_CONST_STR sParamName,
                                    PRL_HANDLE_PTR phEventParam)
{
	if (sParamName == NULL || phEventParam == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	pk_evtprm *p = pk_event_find_param(ev, sParamName);
	if (p == NULL)
		return PRL_ERR_PARAM_NOT_FOUND;
	*phEventParam = pk_object_give(p);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetErrCode)(PRL_HANDLE hEvent, PRL_RESULT_PTR pnErrCode)
{
	if (pnErrCode == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	*pnErrCode = pk_event_get_error(ev, NULL);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetErrString)(PRL_HANDLE hEvent, PRL_BOOL bIsBriefMessage, PRL_BOOL bFormated,
                                  PRL_STR sErrString, PRL_UINT32_PTR pnErrStringBufLength)
{
	if (pnErrStringBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));

	g_autofree char *message = NULL;
	PRL_RESULT code = pk_event_get_error(ev, &message);
	const char *text = message;
	if (text == NULL || *text == '\0')
		text = pk_result_description(code);
	if (text == NULL)
		text = "";
	const char *name = pk_result_name(code);
	g_autofree char *unknown = NULL;
	if (name == NULL)
		name = unknown = g_strdup_printf("0x%08X", (guint)code);
	g_autofree char *full = bIsBriefMessage ? g_strdup(text)
	                                        : g_strdup_printf("%s (%s)", text, name);
	return pk_string_out(full, sErrString, pnErrStringBufLength);
}

PRL_METHOD(PrlEvent_GetIssuerType)(PRL_HANDLE hEvent, PRL_EVENT_ISSUER_TYPE_PTR pnIssuerType)
{
	if (pnIssuerType == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	*pnIssuerType = pk_event_get_issuer_type(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetIssuerId)(PRL_HANDLE hEvent, PRL_STR sIssuerId,
                                 PRL_UINT32_PTR pnIssuerIdBufLength)
{
	if (pnIssuerIdBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, &ev));
	return pk_string_out(pk_event_get_issuer_id(ev), sIssuerId, pnIssuerIdBufLength);
}

/* ---- event parameters ---- */

PRL_METHOD(PrlEvtPrm_GetName)(PRL_HANDLE hEvtParam, PRL_STR sParamName,
                              PRL_UINT32_PTR pnParamNameBufLength)
{
	if (pnParamNameBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	return pk_string_out(pk_evtprm_get_name(p), sParamName, pnParamNameBufLength);
}

PRL_METHOD(PrlEvtPrm_GetType)(PRL_HANDLE hEvtParam, PRL_PARAM_FIELD_DATA_TYPE_PTR pnParamType)
{
	if (pnParamType == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	*pnParamType = pk_evtprm_get_type(p);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToString)(PRL_HANDLE hEvtParam, PRL_STR sParamValue,
                               PRL_UINT32_PTR pnParamValueBufLength)
{
	if (pnParamValueBufLength == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	g_autofree char *s = pk_evtprm_to_string(p);
	return pk_string_out(s, sParamValue, pnParamValueBufLength);
}

PRL_METHOD(PrlEvtPrm_ToUint32)(PRL_HANDLE hEvtParam, PRL_UINT32_PTR pnParamValue)
{
	if (pnParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	guint64 v;
	if (!pk_evtprm_to_uint64(p, G_MAXUINT32, &v))
		return PRL_ERR_INVALID_ARG;
	*pnParamValue = (PRL_UINT32)v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToInt32)(PRL_HANDLE hEvtParam, PRL_INT32_PTR pnParamValue)
{
	if (pnParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	gint64 v;
	if (!pk_evtprm_to_int64(p, G_MININT32, G_MAXINT32, &v))
		return PRL_ERR_INVALID_ARG;
	*pnParamValue = (PRL_INT32)v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToUint64)(PRL_HANDLE hEvtParam, PRL_UINT64_PTR pnParamValue)
{
	if (pnParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	guint64 v;
	if (!pk_evtprm_to_uint64(p, G_MAXUINT64, &v))
		return PRL_ERR_INVALID_ARG;
	*pnParamValue = v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToInt64)(PRL_HANDLE hEvtParam, PRL_INT64_PTR pnParamValue)
{
	if (pnParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	gint64 v;
	if (!pk_evtprm_to_int64(p, G_MININT64, G_MAXINT64, &v))
		return PRL_ERR_INVALID_ARG;
	*pnParamValue = v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToBoolean)(PRL_HANDLE hEvtParam, PRL_BOOL_PTR pbParamValue)
{
	if (pbParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	gboolean v;
	if (!pk_evtprm_to_boolean(p, &v))
		return PRL_ERR_INVALID_ARG;
	*pbParamValue = v ? PRL_TRUE : PRL_FALSE;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToHandle)(PRL_HANDLE hEvtParam, PRL_HANDLE_PTR phParamValue)
{
	if (phParamValue == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, &p));
	gpointer obj = pk_evtprm_get_object(p);
	if (obj == NULL)
		return PRL_ERR_INVALID_ARG;
	*phParamValue = pk_object_give(obj);
	return PRL_ERR_SUCCESS;
}

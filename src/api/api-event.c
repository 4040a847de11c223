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

/* The event (parameter) behind h, a reference; PRL_ERR_INVALID_ARG first when the caller's
 * out pointer is NULL. */
static PRL_RESULT event_get(PRL_HANDLE h, const void *out, pk_event **ev)
{
	if (out == NULL)
		return PRL_ERR_INVALID_ARG;
	return pk_handle_get(h, PHT_EVENT, (gpointer *)ev);
}

static PRL_RESULT param_get(PRL_HANDLE h, const void *out, pk_evtprm **p)
{
	if (out == NULL)
		return PRL_ERR_INVALID_ARG;
	return pk_handle_get(h, PHT_EVENT_PARAMETER, (gpointer *)p);
}

/* Hand out obj (a reference, consumed) as a new handle, or return missing if it is NULL. */
static PRL_RESULT give(gpointer obj, PRL_HANDLE_PTR out, PRL_RESULT missing)
{
	if (obj == NULL)
		return missing;
	*out = pk_object_give(obj);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetType)(PRL_HANDLE hEvent, PRL_EVENT_TYPE_PTR pnEventType)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnEventType, &ev));
	*pnEventType = pk_event_get_type(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetServer)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phServer)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, phServer, &ev));
	return give(pk_event_get_server(ev), phServer, PRL_ERR_NO_DATA);
}

PRL_METHOD(PrlEvent_GetVm)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phVm)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, phVm, &ev));
	return give(pk_event_get_vm(ev), phVm, PRL_ERR_NO_DATA);
}

PRL_METHOD(PrlEvent_GetJob)(PRL_HANDLE hEvent, PRL_HANDLE_PTR phJob)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, phJob, &ev));
	return give(pk_event_get_job(ev), phJob, PRL_ERR_NO_DATA);
}

PRL_METHOD(PrlEvent_GetParamsCount)(PRL_HANDLE hEvent, PRL_UINT32_PTR pnParamsCount)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnParamsCount, &ev));
	*pnParamsCount = pk_event_param_count(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetParam)(PRL_HANDLE hEvent, PRL_UINT32 nIndex, PRL_HANDLE_PTR phEventParam)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, phEventParam, &ev));
	return give(pk_event_get_param(ev, nIndex), phEventParam, PRL_ERR_INVALID_ARG);
}

PRL_METHOD(PrlEvent_GetParamByName)(PRL_HANDLE hEvent, PRL_CONST_STR sParamName,
                                    PRL_HANDLE_PTR phEventParam)
{
	if (sParamName == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, phEventParam, &ev));
	return give(pk_event_find_param(ev, sParamName), phEventParam, PRL_ERR_PARAM_NOT_FOUND);
}

PRL_METHOD(PrlEvent_GetErrCode)(PRL_HANDLE hEvent, PRL_RESULT_PTR pnErrCode)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnErrCode, &ev));
	*pnErrCode = pk_event_get_error(ev, NULL);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetErrString)(PRL_HANDLE hEvent, PRL_BOOL bIsBriefMessage, PRL_BOOL bFormated,
                                  PRL_STR sErrString, PRL_UINT32_PTR pnErrStringBufLength)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnErrStringBufLength, &ev));

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
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnIssuerType, &ev));
	*pnIssuerType = pk_event_get_issuer_type(ev);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvent_GetIssuerId)(PRL_HANDLE hEvent, PRL_STR sIssuerId,
                                 PRL_UINT32_PTR pnIssuerIdBufLength)
{
	PK_AUTO pk_event *ev = NULL;
	PK_RETURN_IF_FAILED(event_get(hEvent, pnIssuerIdBufLength, &ev));
	return pk_string_out(pk_event_get_issuer_id(ev), sIssuerId, pnIssuerIdBufLength);
}

/* ---- event parameters ---- */

/* The parameter as an integer in [min, max] (signed or unsigned); PRL_ERR_INVALID_ARG
 * when it is not a number or does not fit. */
static PRL_RESULT param_to_int(PRL_HANDLE h, const void *out, gint64 min, gint64 max, gint64 *v)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(h, out, &p));
	return pk_evtprm_to_int64(p, min, max, v) ? PRL_ERR_SUCCESS : PRL_ERR_INVALID_ARG;
}

static PRL_RESULT param_to_uint(PRL_HANDLE h, const void *out, guint64 max, guint64 *v)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(h, out, &p));
	return pk_evtprm_to_uint64(p, max, v) ? PRL_ERR_SUCCESS : PRL_ERR_INVALID_ARG;
}

PRL_METHOD(PrlEvtPrm_GetName)(PRL_HANDLE hEvtParam, PRL_STR sParamName,
                              PRL_UINT32_PTR pnParamNameBufLength)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, pnParamNameBufLength, &p));
	return pk_string_out(pk_evtprm_get_name(p), sParamName, pnParamNameBufLength);
}

PRL_METHOD(PrlEvtPrm_GetType)(PRL_HANDLE hEvtParam, PRL_PARAM_FIELD_DATA_TYPE_PTR pnParamType)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, pnParamType, &p));
	*pnParamType = pk_evtprm_get_type(p);
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToString)(PRL_HANDLE hEvtParam, PRL_STR sParamValue,
                               PRL_UINT32_PTR pnParamValueBufLength)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, pnParamValueBufLength, &p));
	g_autofree char *s = pk_evtprm_to_string(p);
	return pk_string_out(s, sParamValue, pnParamValueBufLength);
}

PRL_METHOD(PrlEvtPrm_ToUint32)(PRL_HANDLE hEvtParam, PRL_UINT32_PTR pnParamValue)
{
	guint64 v;
	PK_RETURN_IF_FAILED(param_to_uint(hEvtParam, pnParamValue, G_MAXUINT32, &v));
	*pnParamValue = (PRL_UINT32)v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToInt32)(PRL_HANDLE hEvtParam, PRL_INT32_PTR pnParamValue)
{
	gint64 v;
	PK_RETURN_IF_FAILED(param_to_int(hEvtParam, pnParamValue, G_MININT32, G_MAXINT32, &v));
	*pnParamValue = (PRL_INT32)v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToUint64)(PRL_HANDLE hEvtParam, PRL_UINT64_PTR pnParamValue)
{
	guint64 v;
	PK_RETURN_IF_FAILED(param_to_uint(hEvtParam, pnParamValue, G_MAXUINT64, &v));
	*pnParamValue = v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToInt64)(PRL_HANDLE hEvtParam, PRL_INT64_PTR pnParamValue)
{
	gint64 v;
	PK_RETURN_IF_FAILED(param_to_int(hEvtParam, pnParamValue, G_MININT64, G_MAXINT64, &v));
	*pnParamValue = v;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToBoolean)(PRL_HANDLE hEvtParam, PRL_BOOL_PTR pbParamValue)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, pbParamValue, &p));
	gboolean v;
	if (!pk_evtprm_to_boolean(p, &v))
		return PRL_ERR_INVALID_ARG;
	*pbParamValue = v ? PRL_TRUE : PRL_FALSE;
	return PRL_ERR_SUCCESS;
}

PRL_METHOD(PrlEvtPrm_ToHandle)(PRL_HANDLE hEvtParam, PRL_HANDLE_PTR phParamValue)
{
	PK_AUTO pk_evtprm *p = NULL;
	PK_RETURN_IF_FAILED(param_get(hEvtParam, phParamValue, &p));
	return give(pk_evtprm_get_object(p), phParamValue, PRL_ERR_INVALID_ARG);
}

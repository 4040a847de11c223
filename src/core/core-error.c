/* The error domain, the tables generated from PRLK_ERROR_LIST, and the string-out rule. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "core-error.h"

G_DEFINE_QUARK(prlkit-error-quark, pk_error)

typedef struct {
	PRL_RESULT code;
	const char *name;
	const char *description;
} pk_error_entry;

#define PK_ERROR_ENTRY_(name, value, desc) { (PRL_RESULT)(value), #name, desc },
static const pk_error_entry error_table[] = { PRLK_ERROR_LIST(PK_ERROR_ENTRY_) };
#undef PK_ERROR_ENTRY_

/* The table is small (tens of entries) and lookups are rare (error paths, debugging). */
static const pk_error_entry *error_find(PRL_RESULT r)
{
	for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++)
		if (error_table[i].code == r)
			return &error_table[i];
	return NULL;
}

const char *pk_result_name(PRL_RESULT r)
{
	const pk_error_entry *e = error_find(r);
	return e != NULL ? e->name : NULL;
}

const char *pk_result_description(PRL_RESULT r)
{
	const pk_error_entry *e = error_find(r);
	return e != NULL ? e->description : NULL;
}

PRL_RESULT pk_error_result(const GError *error)
{
	if (error == NULL)
		return PRL_ERR_SUCCESS;
	if (error->domain == PK_ERROR)
		return PRL_FAILED(error->code) ? error->code : PRL_ERR_OPERATION_FAILED;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return PRL_ERR_OPERATION_WAS_CANCELED;
	return PRL_ERR_OPERATION_FAILED;
}

/* Bytes of s that fit in room bytes without splitting a UTF-8 sequence. */
static gsize utf8_fit(const char *s, gsize len, gsize room)
{
	if (room >= len)
		return len;
	gsize n = room;
	/* Step back over continuation bytes (10xxxxxx) to the start of the cut character. */
	while (n > 0 && ((guchar)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

PRL_RESULT pk_string_out(const char *value, PRL_STR buf, PRL_UINT32_PTR len)
{
	if (len == NULL)
		return PRL_ERR_INVALID_ARG;
	if (value == NULL)
		value = "";

	gsize slen = strlen(value);
	if (slen >= G_MAXUINT32)
		return PRL_ERR_UNEXPECTED;
	PRL_UINT32 need = (PRL_UINT32)slen + 1;

	if (buf == NULL || *len == 0) {
		*len = need;
		return PRL_ERR_SUCCESS;
	}
	if (*len < need) {
		gsize n = utf8_fit(value, slen, *len - 1);
		memcpy(buf, value, n);
		buf[n] = '\0';
		*len = need;
		return PRL_ERR_BUFFER_OVERRUN;
	}
	memcpy(buf, value, need);
	*len = need;
	return PRL_ERR_SUCCESS;
}

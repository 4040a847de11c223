/* Shared by the fuzz targets: see fuzz-common.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz== invariant broken at %s:%d: %s\n==fuzz== ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		const char *message = "";
		for (gsize i = 0; i < n_fields; i++)
			if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
				message = fields[i].value;
		fuzz_fail(__FILE__, __LINE__, "no critical log message", "%s", message);
	}
	return G_LOG_WRITER_HANDLED;
}

/* Old-style g_log() calls (GLib's own g_return_if_fail) come here. */
static void
fuzz_log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		fuzz_fail(__FILE__, __LINE__, "no critical log message", "%s: %s",
		          domain ? domain : "", message);
}

void
fuzz_setup(void)
{
	static gboolean done;

	if (done)
		return;
	done = TRUE;
	/* Read once, at GLib's first slice allocation: set before anything allocates. */
	g_setenv("G_SLICE", "always-malloc", TRUE);
	/* The library's threshold follows PRLKIT_DEBUG; the writer below swallows the rest. */
	g_unsetenv("PRLKIT_DEBUG");
	g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
	g_log_set_default_handler(fuzz_log_handler, NULL);
}

guint8
fuzz_byte(fuzz_input *in)
{
	guint8 b;

	if (in->n == 0)
		return 0;
	b = in->p[0];
	in->p++;
	in->n--;
	return b;
}

guint32
fuzz_u32(fuzz_input *in)
{
	guint32 v = 0;

	for (int i = 0; i < 4; i++)
		v |= (guint32)fuzz_byte(in) << (8 * i);
	return v;
}

char *
fuzz_field(fuzz_input *in, gsize max)
{
	const uint8_t *sep;
	gsize len;

	if (in->n == 0)
		return NULL;
	sep = memchr(in->p, FUZZ_SEP, in->n);
	len = sep ? (gsize)(sep - in->p) : in->n;
	{
		char *s = g_strndup((const char *)in->p, MIN(len, max));
		in->p += len;
		in->n -= len;
		if (in->n > 0) {   /* the separator */
			in->p++;
			in->n--;
		}
		return s;
	}
}

char *
fuzz_rest(fuzz_input *in)
{
	char *s = g_strndup((const char *)in->p, in->n);

	in->p += in->n;
	in->n = 0;
	return s;
}

gboolean
fuzz_contains(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle) != NULL;
}

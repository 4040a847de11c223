/* Shared by the fuzz targets (tests/fuzz/fuzz-*.c): input slicing and process setup.
 *
 * Every target defines LLVMFuzzerInitialize and LLVMFuzzerTestOneInput. Built with clang
 * -fsanitize=fuzzer they are libFuzzer programs (make fuzz); built with fuzz-main.c they
 * replay committed inputs under make check, so every crash ever found stays a test.
 *
 * A target aborts (FUZZ_CHECK) when an invariant of the code under test breaks: a crash,
 * a leak or a broken promise (a task id that does not decode, a secret in a message, ...)
 * are all findings. */
#ifndef PRLKIT_FUZZ_COMMON_H
#define PRLKIT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the condition and a message when cond is false. */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (G_UNLIKELY(!(cond))) \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

G_NORETURN void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

/* Process setup every target needs first: GLib's slice allocator off (leak checks see
 * plain malloc), every log message swallowed except criticals and errors, which abort
 * (a g_return_if_fail hit is an API misuse worth reporting). */
void fuzz_setup(void);

/* A cursor over the input. Fields are separated by FUZZ_SEP (0xFF never occurs in UTF-8,
 * so every other byte, valid UTF-8 or not, can be part of a field). */
#define FUZZ_SEP 0xFF

typedef struct fuzz_input {
	const uint8_t *p;
	size_t n;
} fuzz_input;

/* Next byte (0 once the input is used up). */
guint8 fuzz_byte(fuzz_input *in);
/* Next 4 bytes, little-endian (missing bytes are 0). */
guint32 fuzz_u32(fuzz_input *in);
/* Next field as a NUL-terminated string (NUL bytes inside cut it short), at most max
 * bytes; NULL once the input is used up. */
char *fuzz_field(fuzz_input *in, gsize max);
/* The rest of the input as a NUL-terminated string. */
char *fuzz_rest(fuzz_input *in);

/* TRUE when needle occurs in hay (both may be NULL: FALSE). */
gboolean fuzz_contains(const char *hay, const char *needle);

#endif

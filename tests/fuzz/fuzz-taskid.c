/* Fuzz target: task ids (src/core/core-task.h).
 *
 * First byte even: the rest is an id as RAS would send it back (any bytes). Decoding must
 * never crash; an id that decodes must re-encode to an id that decodes to the same fields.
 * First byte odd: the rest describes a task (fields separated by 0xFF); its encoding must
 * always decode again to the same fields (messages redacted), and no registered secret may
 * survive in the decoded message: whatever a platform puts into an error message, the id
 * stays resolvable by any process, and secret-free. */
#include "config.h"

#include <string.h>
#include "core-error.h"
#include "core-task.h"
#include "util-log.h"
#include "fuzz-common.h"

#define SECRET "fuzz-Secret-Token-6f1e0c2a"
/* Longest id field the generator uses: ids of real platforms are far shorter. */
#define ID_MAX 128

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	pk_log_add_secret(SECRET);
	return 0;
}

static void
check_same(const pk_task_info *a, const pk_task_info *b)
{
	FUZZ_CHECK(g_strcmp0(a->driver, b->driver) == 0, "driver '%s' vs '%s'", a->driver, b->driver);
	FUZZ_CHECK(g_strcmp0(a->conn, b->conn) == 0, "conn");
	FUZZ_CHECK(a->op == b->op, "op %d vs %d", a->op, b->op);
	FUZZ_CHECK(g_strcmp0(a->vm_id, b->vm_id) == 0, "vm_id");
	FUZZ_CHECK(g_strcmp0(a->task_ref, b->task_ref) == 0, "task_ref");
	FUZZ_CHECK(g_strcmp0(a->target_vm_id, b->target_vm_id) == 0, "target_vm_id");
	FUZZ_CHECK(a->finished == b->finished, "finished");
	FUZZ_CHECK(!a->finished || a->code == b->code, "code");
}

/* decode(encode(t)) must succeed; returns the decoded copy. */
static pk_task_info *
round_trip(const pk_task_info *t, char **id_out)
{
	g_autoptr(GError) error = NULL;
	pk_task_info *back = NULL;
	char *id = pk_task_id_encode(t);

	FUZZ_CHECK(id != NULL, "encode gave NULL");
	FUZZ_CHECK(strlen(id) <= PK_TASK_ID_MAX_LEN, "encoded id of %zu bytes", strlen(id));
	FUZZ_CHECK(pk_task_id_decode(id, &back, &error), "own id does not decode: %s",
	           error->message);
	FUZZ_CHECK(!fuzz_contains(back->message, SECRET), "secret in the message");
	FUZZ_CHECK(!fuzz_contains(id, SECRET), "secret in the id");
	if (id_out)
		*id_out = id;
	else
		g_free(id);
	return back;
}

static void
decode_any(fuzz_input *in)
{
	g_autofree char *text = fuzz_rest(in);
	g_autoptr(GError) error = NULL;
	g_autoptr(pk_task_info) t = NULL;
	g_autoptr(pk_task_info) back = NULL;
	g_autoptr(pk_task_info) again = NULL;
	g_autofree char *id1 = NULL, *id2 = NULL;

	if (!pk_task_id_decode(text, &t, &error)) {
		FUZZ_CHECK(t == NULL && error != NULL, "failure without an error");
		FUZZ_CHECK(error->code == (gint)PRL_ERR_INVALID_ARG, "code 0x%x", error->code);
		FUZZ_CHECK(g_utf8_validate(error->message, -1, NULL), "error not UTF-8");
		return;
	}
	FUZZ_CHECK(t->driver != NULL, "decoded without a driver");
	back = round_trip(t, &id1);
	check_same(t, back);
	/* Encoding is deterministic: the same fields give the same id. */
	again = round_trip(back, &id2);
	FUZZ_CHECK(strcmp(id1, id2) == 0, "ids differ: %s vs %s", id1, id2);
}

/* A valid UTF-8 id of at most ID_MAX bytes without control characters, or NULL. */
static char *
id_field(fuzz_input *in, gboolean present)
{
	g_autofree char *raw = fuzz_field(in, ID_MAX);
	char *valid;

	if (!raw || !present)
		return NULL;
	valid = g_utf8_make_valid(raw, -1);
	for (char *p = valid; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = '_';
	if (strlen(valid) > ID_MAX) {   /* U+FFFD replacements grow it */
		const char *end = valid + ID_MAX;
		while (end > valid && (((guchar)*end) & 0xC0) == 0x80)
			end--;
		valid[end - valid] = '\0';
	}
	return valid;
}

static void
encode_any(fuzz_input *in)
{
	g_autoptr(pk_task_info) t = pk_task_info_new();
	g_autoptr(pk_task_info) back = NULL;
	guint8 flags = fuzz_byte(in);

	t->op = (PRL_JOB_OPERATION_CODE)(fuzz_u32(in) & 0x7fffffff);
	t->code = (PRL_RESULT)fuzz_u32(in);
	t->finished = (flags & 1) != 0;
	t->driver = id_field(in, TRUE);
	t->conn = id_field(in, flags & 2);
	t->vm_id = id_field(in, flags & 4);
	t->task_ref = id_field(in, flags & 8);
	t->target_vm_id = id_field(in, flags & 16);
	/* The message is the platform's: any bytes, any length. */
	t->message = (flags & 32) ? fuzz_rest(in) : NULL;
	if (!t->driver)
		t->driver = g_strdup("");
	/* An id stands for a backend task or an outcome (core-task.h). */
	if (!t->finished && (!t->task_ref || !*t->task_ref))
		return;
	back = round_trip(t, NULL);
	check_same(t, back);
	if (t->finished && t->message && *t->message) {
		FUZZ_CHECK(back->message != NULL, "message lost");
		FUZZ_CHECK(g_utf8_validate(back->message, -1, NULL), "message not UTF-8");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = { data, size };

	if (fuzz_byte(&in) & 1)
		encode_any(&in);
	else
		decode_any(&in);
	return 0;
}

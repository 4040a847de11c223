/* The sim state in memory (src/drivers/sim/sim-model.c): the loader that scans the
 * document and decodes one element at a time, the writer, and copy-on-write drafts. The
 * driver's behaviour on top of it is test-sim.c's. */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "sim-private.h"

/* A hand-edited document: members this version does not know at every level, strings
 * that need escapes, a snapshot tree, a linked clone and two tasks. */
static const char doc_text[] =
	"{\"format\":\"prlkit-sim\",\"version\":1,\"instance\":\"lab\",\"seed\":\"default+0\","
	"\"created\":1700000000000,\"next_mac\":9,\"next_ip\":12,\"note\":{\"by\":\"hand\"},\n"
	"\"vms\":[\n"
	"{\"id\":\"a\",\"name\":\"quote\\\" back\\\\ tab\\t nl\\n \\u0001 \\u00e9 \\u2028\","
	"\"desc\":\"gold\",\"os\":\"win11\",\"ost\":9,\"osv\":2313,\"ram\":8192,\"cpus\":4,"
	"\"disk_mb\":65536,\"mac\":\"52:54:00:00:00:01\",\"net\":\"sim-shared\",\"ipn\":1,"
	"\"st\":\"running\",\"gen\":3,\"created\":1700000000,\"tpl\":false,\"ip_at\":5,"
	"\"via\":\"restarting\",\"until\":99,\"busy\":\"sim-task-1\",\"busy_until\":99,"
	"\"busy_op\":\"restart\",\"cur\":\"s2\",\"snaps\":["
	"{\"name\":\"s1\",\"desc\":\"\",\"created\":1,\"st\":\"stopped\",\"ram\":4096,\"cpus\":2,"
	"\"vdesc\":\"old\",\"color\":\"red\"},"
	"{\"name\":\"s2\",\"desc\":\"two\",\"parent\":\"s1\",\"created\":2,\"st\":\"running\","
	"\"ram\":8192,\"cpus\":4,\"vdesc\":\"gold\"}],\"owner\":[1,2.5,null,true]},\n"
	"{\"id\":\"b\",\"name\":\"linked\",\"st\":\"stopped\",\"base\":{\"vm\":\"a\",\"snapshot\":\"s2\"},"
	"\"gone_at\":123,\"src_until\":77}\n"
	"],\n"
	"\"tasks\":{\"sim-task-1\":{\"op\":\"restart\",\"vm\":\"a\",\"t0\":1,\"t1\":99,\"code\":0,"
	"\"from\":\"running\",\"ip_from\":5,\"why\":\"x\"},"
	"\"sim-task-2\":{\"op\":\"clone\",\"vm\":\"b\",\"src\":\"a\",\"t0\":1,\"t1\":2,"
	"\"code\":-2147483629,\"msg\":\"sim: injected clone failure\"}}}\n";

/* The model written to a string, through a real file descriptor. */
static char *
model_text(sim_model *m)
{
	g_autofree char *path = NULL;
	g_autoptr(GError) error = NULL;
	char *text = NULL;
	int fd = g_file_open_tmp("sim-model-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_true(sim_model_write(m, fd));
	close(fd);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_unlink(path);
	return text;
}

static sim_model *
parse_ok(const char *text)
{
	g_autoptr(GError) error = NULL;
	sim_model *m = sim_model_from_json(text, strlen(text), "test", &error);

	g_assert_no_error(error);
	g_assert_nonnull(m);
	return m;
}

static void
parse_fails(const char *text, gsize len, const char *message_part)
{
	g_autoptr(GError) error = NULL;
	sim_model *m = sim_model_from_json(text, len, "test", &error);

	g_assert_null(m);
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_CONFIGURATION);
	if (message_part && !strstr(error->message, message_part))
		g_error("'%s' does not say '%s'", error->message, message_part);
}

/* Written, a loaded document says the same as the original: jansson reads both as equal
 * values, unknown members included; and writing what was read back changes nothing. */
static void
test_round_trip(void)
{
	g_autoptr(sim_model) m = parse_ok(doc_text);
	g_autofree char *out = model_text(m);
	g_autoptr(sim_model) again = parse_ok(out);
	g_autofree char *out2 = model_text(again);
	json_t *want = json_loads(doc_text, 0, NULL);
	json_t *got = json_loads(out, 0, NULL);
	json_t *vm;

	g_assert_nonnull(want);
	g_assert_nonnull(got);
	g_assert_true(sim_doc_validate(got, NULL));
	/* What the writer adds or normalizes: defaults it always writes. */
	vm = json_array_get(json_object_get(want, "vms"), 0);
	json_object_del(vm, "tpl");  /* false is not written */
	vm = json_array_get(json_object_get(want, "vms"), 1);
	json_object_set_new(vm, "desc", json_string(""));
	json_object_set_new(vm, "ost", json_integer(0));
	json_object_set_new(vm, "osv", json_integer(0));
	json_object_set_new(vm, "ram", json_integer(0));
	json_object_set_new(vm, "cpus", json_integer(0));
	json_object_set_new(vm, "disk_mb", json_integer(0));
	json_object_set_new(vm, "gen", json_integer(0));
	json_object_set_new(vm, "created", json_integer(0));
	if (!json_equal(want, got)) {
		g_autofree char *a = json_dumps(want, JSON_SORT_KEYS);
		g_autofree char *b = json_dumps(got, JSON_SORT_KEYS);
		g_error("round trip differs:\n%s\n%s", a, b);
	}
	g_assert_cmpstr(out, ==, out2);
	json_decref(want);
	json_decref(got);

	g_assert_cmpuint(m->vms->len, ==, 2);
	g_assert_cmpuint(g_hash_table_size(m->tasks), ==, 2);
	sim_model_index(m);
	g_assert_nonnull(sim_model_lookup(m, "a"));
	g_assert_cmpstr(sim_model_lookup(m, "b")->base_snap, ==, "s2");
	g_assert_null(sim_model_lookup(m, "c"));
	g_assert_cmpuint(m->running_count, ==, 1);
	g_assert_cmpuint(m->running_ram_mb, ==, 8192);
}

/* A document cut anywhere is refused as invalid JSON, never half loaded. */
static void
test_every_prefix_fails(void)
{
	gsize len = strlen(doc_text), n;

	for (n = 0; n + 1 < len; n++)  /* the last byte is a newline: the whole document */
		parse_fails(doc_text, n, "not valid JSON");
}

static void
test_malformed(void)
{
	static const struct {
		const char *text;
		const char *says;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "   \n", "not valid JSON" },
		{ "\"prlkit-sim\"", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[]} x", "end of file expected" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[]}}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",}]}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\"]}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[1 2]}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[\"\\x\"]}", "not valid JSON" },
		{ "{\"format\" \"prlkit-sim\"}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"a\":tru}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"a\":}", "not valid JSON" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"x\":\"\xff\"}", "not valid JSON" },
		{ "[]", "not a prlkit-sim document" },
		{ "{}", "not a prlkit-sim document" },
		{ "{\"format\":\"other\",\"vms\":[]}", "not a prlkit-sim document" },
		{ "{\"format\":\"prlkit-sim\",\"version\":2,\"vms\":[]}", "unsupported state file version 2" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1}", "lacks its 'vms' array" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":{}}", "lacks its 'vms' array" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"tasks\":[]}", "bad 'tasks'" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"tasks\":null}", "bad 'tasks'" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"flying\"}]}", "VM #0 of the state file is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"stopped\"},7]}", "VM #1 of the state file is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"\",\"name\":\"x\","
		  "\"st\":\"stopped\"}]}", "VM #0 of the state file is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"stopped\",\"via\":\"x\"}]}", "VM #0 of the state file is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"stopped\",\"snaps\":{}}]}", "VM #0 of the state file is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"stopped\",\"snaps\":[{}]}]}", "a snapshot of VM 'a' is malformed" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		  "\"st\":\"stopped\"},{\"id\":\"a\",\"name\":\"y\",\"st\":\"stopped\"}]}",
		  "VM id 'a' appears twice" },
		{ "{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"tasks\":{\"t\":{\"op\":\"fly\"}}}",
		  "task 't' of the state file is malformed" },
		/* The header is checked first, wherever it is. */
		{ "{\"vms\":[{\"id\":\"a\"}],\"format\":\"prlkit-sim\",\"version\":3}",
		  "unsupported state file version 3" },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		parse_fails(cases[i].text, strlen(cases[i].text), cases[i].says);
}

/* What the loader accepts is what sim_doc_validate accepts; the last of duplicate members
 * counts, as with jansson. */
static void
test_agrees_with_validate(void)
{
	static const char *const docs[] = {
		"{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[]}",
		"  {\"version\":1,\"vms\":[],\"format\":\"prlkit-sim\",\"tasks\":{}}  \n",
		"{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		"\"st\":\"stopped\"}],\"vms\":[]}",
		"{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":{},\"vms\":[{\"id\":\"a\","
		"\"name\":\"x\",\"st\":\"deleting\"}]}",
		"{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[{\"id\":\"a\",\"name\":\"x\","
		"\"st\":\"flying\"}],\"vms\":[]}",
		"{\"format\":\"prlkit-sim\",\"version\":1,\"vms\":[],\"tasks\":[],\"tasks\":{}}",
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(docs); i++) {
		json_t *doc = json_loads(docs[i], 0, NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(sim_model) m = NULL;

		g_assert_nonnull(doc);
		g_assert_true(sim_doc_validate(doc, NULL));
		m = sim_model_from_json(docs[i], strlen(docs[i]), "test", &error);
		g_assert_no_error(error);
		g_assert_cmpuint(m->vms->len, ==, json_array_size(json_object_get(doc, "vms")));
		json_decref(doc);
	}
}

/* A draft shares what it does not change; its base stays as it was. */
static void
test_draft_copy_on_write(void)
{
	g_autoptr(sim_model) base = parse_ok(doc_text);
	g_autoptr(sim_model) d = sim_model_draft(base);
	g_autofree char *before = model_text(base);
	g_autofree char *after = NULL;
	sim_vm *a0 = g_ptr_array_index(base->vms, 0), *b0 = g_ptr_array_index(base->vms, 1);
	sim_vm *a;
	sim_task *t;
	guint i = 99;

	g_assert_true(g_ptr_array_index(d->vms, 0) == a0);
	a = sim_model_vm_mut_by_id(d, "a", &i);
	g_assert_cmpuint(i, ==, 0);
	g_assert_true(a != a0);
	g_assert_true(sim_model_vm_mut(d, 0) == a);  /* private already: no second copy */
	sim_str_set(&a->name, "renamed");
	a->ram = 4096;
	g_clear_pointer(&a->snaps, g_ptr_array_unref);
	t = sim_model_task_mut(d, "sim-task-1");
	g_assert_true(t != g_hash_table_lookup(base->tasks, "sim-task-1"));
	t->t1 = 1;
	g_assert_null(sim_model_task_mut(d, "sim-task-none"));
	g_assert_cmpint(sim_model_find(d, "b"), ==, 1);
	sim_model_remove_vm(d, 1);
	g_assert_cmpint(sim_model_find(d, "b"), ==, -1);

	g_assert_true(g_ptr_array_index(base->vms, 1) == b0);
	g_assert_cmpstr(a0->name, !=, "renamed");
	g_assert_cmpuint(a0->ram, ==, 8192);
	g_assert_cmpuint(a0->snaps->len, ==, 2);
	g_assert_cmpint(((sim_task *)g_hash_table_lookup(base->tasks, "sim-task-1"))->t1, ==, 99);
	after = model_text(base);
	g_assert_cmpstr(before, ==, after);
}

/* Folding drops what is over, in the draft only. */
static void
test_fold(void)
{
	g_autoptr(sim_model) base = parse_ok(doc_text);
	g_autoptr(sim_model) d = sim_model_draft(base);
	sim_vm *a;

	sim_model_fold(d, 100);
	g_assert_cmpuint(d->vms->len, ==, 2);            /* b goes at 123 */
	a = g_ptr_array_index(d->vms, 0);
	g_assert_null(a->via);
	g_assert_null(a->busy);
	g_assert_true(a->has_ip_at);                     /* running: kept */
	g_assert_cmpint(((sim_vm *)g_ptr_array_index(d->vms, 1))->src_until, ==, 0);
	g_assert_cmpstr(((sim_vm *)g_ptr_array_index(base->vms, 0))->via, ==, "restarting");
	sim_model_fold(d, 200);
	g_assert_cmpuint(d->vms->len, ==, 1);
	g_assert_cmpuint(g_hash_table_size(d->tasks), ==, 2);
	sim_model_fold(d, SIM_TASK_KEEP_MS + 1000);
	g_assert_cmpuint(g_hash_table_size(d->tasks), ==, 0);
}

/* A draft written after a change shows the change, and reads back the same. */
static void
test_write_after_change(void)
{
	g_autoptr(sim_model) m = parse_ok(doc_text);
	g_autofree char *first = model_text(m);
	g_autofree char *second = NULL, *fresh = NULL;
	g_autoptr(sim_model) d = NULL, copy = NULL;
	sim_vm *a;

	d = sim_model_draft(m);
	a = sim_model_vm_mut(d, 0);
	a->cpus = 7;
	second = model_text(d);
	g_assert_null(strstr(first, "\"cpus\":7"));
	g_assert_nonnull(strstr(second, "\"cpus\":7"));
	copy = parse_ok(second);
	fresh = model_text(copy);
	g_assert_cmpstr(second, ==, fresh);
}

/* Any text reads back as it was written: control characters, quotes, backslashes and
 * UTF-8 at every position and alignment. */
static void
test_escapes(void)
{
	static const char *const pieces[] = {
		"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "abcdefgh",
	};
	g_autoptr(sim_model) m = sim_model_new();
	g_autofree char *text = NULL;
	json_t *doc, *vms;
	guint i, j;

	for (i = 0; i < 400; i++) {
		g_autoptr(GString) name = g_string_new(NULL);
		g_autofree char *id = g_strdup_printf("e%u", i);
		guint len = (guint)g_test_rand_int_range(0, 24);
		sim_vm *vm;

		for (j = 0; j < len; j++)
			g_string_append(name, pieces[g_test_rand_int_range(0, G_N_ELEMENTS(pieces))]);
		vm = sim_vm_create(m, id, name->str, "other", 0);
		vm->desc = g_strdup(name->str);
		sim_model_add_vm(m, vm);
	}
	text = model_text(m);
	doc = json_loads(text, 0, NULL);
	g_assert_nonnull(doc);
	vms = json_object_get(doc, "vms");
	g_assert_cmpuint(json_array_size(vms), ==, 400);
	for (i = 0; i < 400; i++) {
		const sim_vm *vm = g_ptr_array_index(m->vms, i);
		g_assert_cmpstr(sim_jstr(json_array_get(vms, i), "name"), ==, vm->name);
		g_assert_cmpstr(sim_jstr(json_array_get(vms, i), "desc"), ==, vm->desc);
	}
	json_decref(doc);
}

/* Many VMs: every one is found, and a large document loads back the same. */
static void
test_many(void)
{
	g_autoptr(sim_model) m = sim_model_new();
	g_autoptr(sim_model) back = NULL;
	g_autofree char *text = NULL, *text2 = NULL;
	guint i;

	for (i = 0; i < 5000; i++) {
		g_autofree char *id = g_strdup_printf("vm-%u", i);
		g_autofree char *name = g_strdup_printf("name \"%u\"", i);
		sim_model_add_vm(m, sim_vm_create(m, id, name, i % 2 ? "ubuntu" : "win11", 0));
	}
	text = model_text(m);
	back = parse_ok(text);
	g_assert_cmpuint(back->vms->len, ==, 5000);
	sim_model_index(back);
	for (i = 0; i < 5000; i++) {
		g_autofree char *id = g_strdup_printf("vm-%u", i);
		sim_vm *vm = sim_model_lookup(back, id);
		g_assert_nonnull(vm);
		g_assert_cmpstr(vm->id, ==, id);
		g_assert_cmpint(vm->ipn, ==, i + 1);
	}
	text2 = model_text(back);
	g_assert_cmpstr(text, ==, text2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sim/model/round-trip", test_round_trip);
	g_test_add_func("/sim/model/every-prefix-fails", test_every_prefix_fails);
	g_test_add_func("/sim/model/malformed", test_malformed);
	g_test_add_func("/sim/model/agrees-with-validate", test_agrees_with_validate);
	g_test_add_func("/sim/model/draft-copy-on-write", test_draft_copy_on_write);
	g_test_add_func("/sim/model/fold", test_fold);
	g_test_add_func("/sim/model/write-after-change", test_write_after_change);
	g_test_add_func("/sim/model/escapes", test_escapes);
	g_test_add_func("/sim/model/many", test_many);
	return g_test_run();
}

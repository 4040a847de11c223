/* Replays fuzz inputs without libFuzzer: every file named on the command line, and every
 * file inside a directory named there, goes once through LLVMFuzzerTestOneInput. make check
 * runs the committed corpora and regression inputs this way (tests/fuzz/replay.sh), so the
 * targets build and pass with any compiler, under the sanitizer build and under valgrind. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

static int
run_file(const char *path)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &error)) {
		fprintf(stderr, "fuzz-main: %s\n", error->message);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	return 0;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	guint n = 0;
	int bad = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
			g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
			const char *name;

			while (dir && (name = g_dir_read_name(dir)))
				if (name[0] != '.')
					g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
			/* A stable order: a failure reproduces the same way every time. */
			g_ptr_array_sort(names, cmp_names);
			for (guint j = 0; j < names->len; j++, n++)
				bad |= run_file(names->pdata[j]);
		} else {
			bad |= run_file(argv[i]);
			n++;
		}
	}
	printf("replayed %u inputs\n", n);
	return bad;
}

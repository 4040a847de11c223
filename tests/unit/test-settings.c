/* Settings: lenient parsing, strict validation, errors naming the key, URI query merge,
 * secret keys. */
#include "config.h"

#include <string.h>

#include "core-error.h"
#include "util-settings.h"

static GHashTable *from_json(const char *json)
{
	GHashTable *s = pk_settings_new();
	g_autoptr(GError) error = NULL;
	g_assert_true(pk_settings_merge_json(s, json, &error));
	g_assert_no_error(error);
	return s;
}

static void assert_invalid_param(GError *error, const char *must_contain)
{
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	if (strstr(error->message, must_contain) == NULL)
		g_error("'%s' does not contain '%s'", error->message, must_contain);
}

static void test_merge_json(void)
{
	g_autoptr(GHashTable) s = from_json(
		"{\"host\":\"pve1\",\"port\":8006,\"ratio\":0.5,\"verify\":true,\"off\":false,"
		"\"skip\":null,\"empty\":\"\"}");
	g_assert_cmpstr(g_hash_table_lookup(s, "host"), ==, "pve1");
	g_assert_cmpstr(g_hash_table_lookup(s, "port"), ==, "8006");
	g_assert_cmpstr(g_hash_table_lookup(s, "ratio"), ==, "0.5");
	g_assert_cmpstr(g_hash_table_lookup(s, "verify"), ==, "true");
	g_assert_cmpstr(g_hash_table_lookup(s, "off"), ==, "false");
	g_assert_false(g_hash_table_contains(s, "skip"));
	g_assert_cmpstr(g_hash_table_lookup(s, "empty"), ==, "");

	/* Later merges override; NULL and blank text are no-ops. */
	g_autoptr(GError) error = NULL;
	g_assert_true(pk_settings_merge_json(s, "{\"host\":\"pve2\"}", &error));
	g_assert_cmpstr(g_hash_table_lookup(s, "host"), ==, "pve2");
	g_assert_true(pk_settings_merge_json(s, NULL, &error));
	g_assert_true(pk_settings_merge_json(s, "  ", &error));
	g_assert_no_error(error);
}

static void test_merge_json_errors(void)
{
	g_autoptr(GHashTable) s = pk_settings_new();
	GError *error = NULL;

	g_assert_false(pk_settings_merge_json(s, "{\"nested\":{\"a\":1}}", &error));
	assert_invalid_param(error, "'nested'");
	g_clear_error(&error);
	g_assert_false(pk_settings_merge_json(s, "{\"ok\":\"1\",\"list\":[1,2]}", &error));
	assert_invalid_param(error, "'list'");
	g_clear_error(&error);
	/* A failed merge leaves the map untouched. */
	g_assert_cmpuint(g_hash_table_size(s), ==, 0);

	g_assert_false(pk_settings_merge_json(s, "[1,2]", &error));
	assert_invalid_param(error, "JSON object");
	g_clear_error(&error);

	/* The parse error does not quote the text (it could be a secret). */
	g_assert_false(pk_settings_merge_json(s, "{\"password\": hunter2secret}", &error));
	assert_invalid_param(error, "not valid JSON");
	g_assert_null(strstr(error->message, "hunter2"));
	g_clear_error(&error);
}

static void test_merge_uri(void)
{
	g_autoptr(GHashTable) s = pk_settings_new();
	g_autoptr(GError) error = NULL;
	g_assert_true(pk_settings_merge_uri_query(
		s, "?speed=0&node=pve%201&token=a+b%2Bc&verbose&&empty=", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(g_hash_table_lookup(s, "speed"), ==, "0");
	g_assert_cmpstr(g_hash_table_lookup(s, "node"), ==, "pve 1");
	g_assert_cmpstr(g_hash_table_lookup(s, "token"), ==, "a+b+c");
	g_assert_cmpstr(g_hash_table_lookup(s, "verbose"), ==, "true");
	g_assert_cmpstr(g_hash_table_lookup(s, "empty"), ==, "");
	g_assert_cmpuint(g_hash_table_size(s), ==, 5);

	/* Merging over JSON settings: the query wins for the keys it has. */
	g_autoptr(GHashTable) t = from_json("{\"speed\":\"5\",\"seed\":\"1\"}");
	g_assert_true(pk_settings_merge_uri_query(t, "speed=0", &error));
	g_assert_cmpstr(g_hash_table_lookup(t, "speed"), ==, "0");
	g_assert_cmpstr(g_hash_table_lookup(t, "seed"), ==, "1");
	g_assert_true(pk_settings_merge_uri_query(t, NULL, &error));
	g_assert_true(pk_settings_merge_uri_query(t, "", &error));
	g_assert_no_error(error);
}

static void test_merge_uri_errors(void)
{
	g_autoptr(GHashTable) s = pk_settings_new();
	GError *error = NULL;
	g_assert_false(pk_settings_merge_uri_query(s, "a=1&node=%zz", &error));
	assert_invalid_param(error, "'node'");
	g_clear_error(&error);
	g_assert_false(pk_settings_merge_uri_query(s, "=5", &error));
	assert_invalid_param(error, "URI query");
	g_clear_error(&error);
	/* Nothing merged from a bad query. */
	g_assert_cmpuint(g_hash_table_size(s), ==, 0);
}

static void test_bool(void)
{
	g_autoptr(GHashTable) s = from_json(
		"{\"a\":\"true\",\"b\":\" YES \",\"c\":\"1\",\"d\":\"on\",\"e\":true,"
		"\"f\":\"false\",\"g\":\"0\",\"h\":\"Off\",\"i\":false,\"j\":\"no\","
		"\"bad\":\"maybe\",\"blank\":\"  \",\"api_key\":\"notabool\"}");
	const char *yes[] = { "a", "b", "c", "d", "e" };
	const char *no[] = { "f", "g", "h", "i", "j" };
	gboolean v;
	GError *error = NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
		v = FALSE;
		g_assert_true(pk_settings_get_bool(s, yes[i], FALSE, &v, &error));
		g_assert_true(v);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(no); i++) {
		v = TRUE;
		g_assert_true(pk_settings_get_bool(s, no[i], TRUE, &v, &error));
		g_assert_false(v);
	}
	g_assert_no_error(error);

	/* Missing and blank: the default. */
	g_assert_true(pk_settings_get_bool(s, "missing", TRUE, &v, &error));
	g_assert_true(v);
	g_assert_true(pk_settings_get_bool(s, "blank", FALSE, &v, &error));
	g_assert_false(v);
	g_assert_true(pk_settings_get_bool(NULL, "x", TRUE, &v, &error));
	g_assert_true(v);

	g_assert_false(pk_settings_get_bool(s, "bad", FALSE, &v, &error));
	assert_invalid_param(error, "'bad'");
	g_assert_nonnull(strstr(error->message, "maybe"));
	g_clear_error(&error);

	/* A secret key's value never appears in the error. */
	g_assert_false(pk_settings_get_bool(s, "api_key", FALSE, &v, &error));
	assert_invalid_param(error, "'api_key'");
	g_assert_null(strstr(error->message, "notabool"));
	g_clear_error(&error);
}

static void test_int(void)
{
	g_autoptr(GHashTable) s = from_json(
		"{\"a\":\"30\",\"b\":\" 30 \",\"c\":30,\"d\":\"30.0\",\"e\":\"-7\",\"f\":3e1,"
		"\"big\":\"99999\",\"word\":\"abc\",\"frac\":\"1.5\",\"blank\":\"\","
		"\"password\":\"12345678\"}");
	gint64 v;
	GError *error = NULL;
	const char *thirty[] = { "a", "b", "c", "d", "f" };
	for (gsize i = 0; i < G_N_ELEMENTS(thirty); i++) {
		v = 0;
		g_assert_true(pk_settings_get_int(s, thirty[i], 0, 0, 100, &v, &error));
		g_assert_no_error(error);
		g_assert_cmpint(v, ==, 30);
	}
	g_assert_true(pk_settings_get_int(s, "e", 0, -10, 10, &v, &error));
	g_assert_cmpint(v, ==, -7);
	g_assert_true(pk_settings_get_int(s, "missing", 42, 0, 100, &v, &error));
	g_assert_cmpint(v, ==, 42);
	g_assert_true(pk_settings_get_int(s, "blank", 43, 0, 100, &v, &error));
	g_assert_cmpint(v, ==, 43);
	g_assert_no_error(error);

	g_assert_false(pk_settings_get_int(s, "big", 0, 0, 100, &v, &error));
	assert_invalid_param(error, "'big'");
	g_assert_nonnull(strstr(error->message, "from 0 to 100"));
	g_clear_error(&error);
	g_assert_false(pk_settings_get_int(s, "word", 0, 0, 100, &v, &error));
	assert_invalid_param(error, "'word'");
	g_clear_error(&error);
	g_assert_false(pk_settings_get_int(s, "frac", 0, 0, 100, &v, &error));
	assert_invalid_param(error, "'frac'");
	g_clear_error(&error);
	g_assert_false(pk_settings_get_int(s, "e", 0, 0, 100, &v, &error));
	assert_invalid_param(error, "'e'");
	g_clear_error(&error);
	g_assert_false(pk_settings_get_int(s, "password", 0, 0, 100, &v, &error));
	assert_invalid_param(error, "'password'");
	g_assert_null(strstr(error->message, "12345678"));
	g_clear_error(&error);
}

static void test_double(void)
{
	g_autoptr(GHashTable) s = from_json(
		"{\"a\":\"0.25\",\"b\":2,\"c\":\" 1e-3 \",\"bad\":\"1.5x\",\"inf\":\"inf\",\"nan\":\"nan\"}");
	double v;
	GError *error = NULL;
	g_assert_true(pk_settings_get_double(s, "a", 0, 0, 10, &v, &error));
	g_assert_cmpfloat(v, ==, 0.25);
	g_assert_true(pk_settings_get_double(s, "b", 0, 0, 10, &v, &error));
	g_assert_cmpfloat(v, ==, 2.0);
	g_assert_true(pk_settings_get_double(s, "c", 0, 0, 10, &v, &error));
	g_assert_cmpfloat(v, ==, 0.001);
	g_assert_true(pk_settings_get_double(s, "missing", 1.5, 0, 10, &v, &error));
	g_assert_cmpfloat(v, ==, 1.5);
	g_assert_no_error(error);

	const char *bad[] = { "bad", "inf", "nan" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(pk_settings_get_double(s, bad[i], 0, 0, 10, &v, &error));
		g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);
		assert_invalid_param(error, quoted);
		g_clear_error(&error);
	}
	g_assert_false(pk_settings_get_double(s, "b", 0, 0, 1, &v, &error));
	assert_invalid_param(error, "'b'");
	g_clear_error(&error);
}

static void test_choice(void)
{
	static const char *const modes[] = { "full", "linked", NULL };
	g_autoptr(GHashTable) s = from_json("{\"m\":\" LINKED \",\"bad\":\"thin\"}");
	const char *v = NULL;
	GError *error = NULL;
	g_assert_true(pk_settings_get_choice(s, "m", "full", modes, &v, &error));
	g_assert_true(v == modes[1]);
	g_assert_true(pk_settings_get_choice(s, "missing", "full", modes, &v, &error));
	g_assert_cmpstr(v, ==, "full");
	g_assert_no_error(error);
	g_assert_false(pk_settings_get_choice(s, "bad", "full", modes, &v, &error));
	assert_invalid_param(error, "'bad'");
	g_assert_nonnull(strstr(error->message, "full, linked"));
	g_clear_error(&error);
}

static void test_require(void)
{
	g_autoptr(GHashTable) s = from_json("{\"host\":\"  pve1 \",\"blank\":\" \"}");
	const char *v = NULL;
	GError *error = NULL;
	g_assert_true(pk_settings_require(s, "host", &v, &error));
	g_assert_cmpstr(v, ==, "pve1");
	g_assert_no_error(error);
	g_assert_false(pk_settings_require(s, "blank", &v, &error));
	g_assert_error(error, PK_ERROR, PRL_ERR_INVALID_PARAM);
	g_assert_cmpstr(error->message, ==, "missing required setting 'blank'");
	g_clear_error(&error);
	g_assert_false(pk_settings_require(s, "user", &v, &error));
	g_assert_cmpstr(error->message, ==, "missing required setting 'user'");
	g_clear_error(&error);
}

static void test_secret_keys(void)
{
	const char *secret[] = { "password", "PASSWORD", "api_token", "api_token_id", "secret",
	                         "client_secret", "key", "apiKey", "ssh_key_file", "TokenSecret" };
	const char *plain[] = { "host", "user", "port", "node", "verify_tls", "ca_file",
	                        "tls_fingerprint", "insecure_skip_verify", "", "pass" };
	for (gsize i = 0; i < G_N_ELEMENTS(secret); i++)
		g_assert_true(pk_settings_key_is_secret(secret[i]));
	for (gsize i = 0; i < G_N_ELEMENTS(plain); i++)
		g_assert_false(pk_settings_key_is_secret(plain[i]));
	g_assert_false(pk_settings_key_is_secret(NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/settings/merge-json", test_merge_json);
	g_test_add_func("/settings/merge-json-errors", test_merge_json_errors);
	g_test_add_func("/settings/merge-uri", test_merge_uri);
	g_test_add_func("/settings/merge-uri-errors", test_merge_uri_errors);
	g_test_add_func("/settings/bool", test_bool);
	g_test_add_func("/settings/int", test_int);
	g_test_add_func("/settings/double", test_double);
	g_test_add_func("/settings/choice", test_choice);
	g_test_add_func("/settings/require", test_require);
	g_test_add_func("/settings/secret-keys", test_secret_keys);
	return g_test_run();
}

/* Secrets never survive pk_redact; the log threshold; nothing logged reaches stdout. */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "util-log.h"
#include "util-settings.h"

static void assert_redacted(const char *text, const char *secret, const char *expect)
{
	g_autofree char *r = pk_redact(text);
	if (secret != NULL && strstr(r, secret) != NULL)
		g_error("secret '%s' survived: %s", secret, r);
	if (expect != NULL)
		g_assert_cmpstr(r, ==, expect);
}

static void test_registered(void)
{
	pk_log_add_secret("s3cr3t-Value");
	assert_redacted("login with s3cr3t-Value failed", "s3cr3t-Value", "login with *** failed");
	assert_redacted("s3cr3t-Values3cr3t-Value", "s3cr3t-Value", "******");
	/* Registered values are found anywhere, whatever the surrounding syntax. */
	assert_redacted("opaque:s3cr3t-Value;", "s3cr3t-Value", "opaque:***;");

	/* JSON-escaped and percent-encoded spellings too. */
	pk_log_add_secret("pa\"ss w/rd");
	assert_redacted("{\"x\":\"pa\\\"ss w/rd\"}", "ss w/rd", "{\"x\":\"***\"}");
	assert_redacted("/login?x=pa%22ss%20w%2Frd&y=1", "ss%20w", "/login?x=***&y=1");

	/* Too short to register: left alone (it would mangle every log line). */
	pk_log_add_secret("abc");
	pk_log_add_secret(NULL);
	assert_redacted("abc abc", NULL, "abc abc");

	/* A secret that contains another is replaced whole. */
	pk_log_add_secret("longsecret");
	pk_log_add_secret("longsecret-and-more");
	assert_redacted("x longsecret-and-more y", "and-more", "x *** y");
}

static void test_key_value(void)
{
	assert_redacted("password=hunter22 user=bob", "hunter22", "password=*** user=bob");
	assert_redacted("GET /api?api_token=abcd1234&node=pve1", "abcd1234",
	                "GET /api?api_token=***&node=pve1");
	assert_redacted("client_secret = 'quoted value' rest", "quoted value",
	                "client_secret = '***' rest");
	assert_redacted("Authorization: PVEAPIToken=root@pam!ci=0b2c-44d1\r\nHost: x", "0b2c",
	                "Authorization: ***\r\nHost: x");
	assert_redacted("PVEAPIToken=root@pam!ci=0b2c-44d1", "0b2c", "PVEAPIToken=***");
	assert_redacted("Cookie: PVEAuthCookie=PVE:root@pam:ABC::sig", "ABC", "Cookie: ***");
	assert_redacted("ssh_key: -----BEGIN KEY-----", "BEGIN", "ssh_key: ***");
	assert_redacted("sent Bearer eyJhbGciOi.xyz to host", "eyJhbG", "sent Bearer *** to host");
	assert_redacted("MyPassword=x1", "x1", "MyPassword=***");
}

static void test_json(void)
{
	assert_redacted("{\"user\":\"bob\",\"password\":\"p@ss:w0rd\",\"port\":8006}", "p@ss",
	                "{\"user\":\"bob\",\"password\":\"***\",\"port\":8006}");
	assert_redacted("{\"api_token\" : \"a\\\"b\\\\c\", \"x\": 1}", "a\\\"b",
	                "{\"api_token\" : \"***\", \"x\": 1}");
	assert_redacted("{\"apiKey\": 123456789}", "123456789", "{\"apiKey\": ***}");
	/* JSON inside a JSON string (a CPF request logged as a string field). */
	assert_redacted("{\"line\":\"{\\\"password\\\":\\\"topsecret\\\",\\\"a\\\":1}\"}", "topsecret",
	                "{\"line\":\"{\\\"password\\\":\\\"***\\\",\\\"a\\\":1}\"}");
	/* Pretty-printed. */
	assert_redacted("{\n  \"token\": \"t0k3n\",\n  \"host\": \"h\"\n}", "t0k3n",
	                "{\n  \"token\": \"***\",\n  \"host\": \"h\"\n}");
}

static void test_uri(void)
{
	assert_redacted("connect pve://root:Sup3rPw@10.0.0.1:8006/api", "Sup3rPw",
	                "connect pve://root:***@10.0.0.1:8006/api");
	assert_redacted("https://u:p%40ss@h/", "p%40ss", "https://u:***@h/");
	/* No password, nothing to hide. */
	assert_redacted("libvirt+qemu:///system and https://host:8006/", NULL,
	                "libvirt+qemu:///system and https://host:8006/");
}

static void test_untouched(void)
{
	const char *plain[] = {
		"", "VM 101 started", "key", "no secrets here: just text", "the token expired",
		"a=b c=d", "{\"name\":\"monkey business\",\"vmid\":101}", "100%", "x:",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(plain); i++)
		assert_redacted(plain[i], NULL, plain[i]);
	g_assert_null(pk_redact(NULL));
}

static void test_settings(void)
{
	g_autoptr(GHashTable) s = pk_settings_new();
	g_hash_table_insert(s, g_strdup("host"), g_strdup("pve1"));
	g_hash_table_insert(s, g_strdup("password"), g_strdup("FromSettings1"));
	g_hash_table_insert(s, g_strdup("use_key"), g_strdup("true"));
	g_hash_table_insert(s, g_strdup("note"), g_strdup("password=inline"));

	g_autofree char *json = pk_settings_to_redacted_json(s);
	g_assert_cmpstr(json, ==,
	                "{\"host\":\"pve1\",\"note\":\"password=***\",\"password\":\"***\","
	                "\"use_key\":\"***\"}");
	g_autofree char *empty = pk_settings_to_redacted_json(NULL);
	g_assert_cmpstr(empty, ==, "{}");

	/* Registering from settings: secret values, but not boolean words. */
	pk_log_add_secrets_from_settings(s);
	assert_redacted("error for FromSettings1", "FromSettings1", "error for ***");
	assert_redacted("flag is true", NULL, "flag is true");
	pk_log_add_secrets_from_settings(NULL);
}

/* Whatever the text, no registered secret comes out. */
static void test_random(void)
{
	static const char *const secrets[] = { "RandSecretA", "x9!@#$%^", "tok_ABCDEF", NULL };
	static const char alphabet[] = "ab=:\"'{}&;, \n\\/@%xRandSecretAtok_ABCDEFx9!@#$%^";
	for (int i = 0; secrets[i] != NULL; i++)
		pk_log_add_secret(secrets[i]);
	GRand *rand = g_rand_new_with_seed(42);
	for (int round = 0; round < 3000; round++) {
		GString *s = g_string_new(NULL);
		int len = g_rand_int_range(rand, 0, 80);
		for (int i = 0; i < len; i++) {
			if (g_rand_int_range(rand, 0, 20) == 0)
				g_string_append(s, secrets[g_rand_int_range(rand, 0, 3)]);
			else
				g_string_append_c(s, alphabet[g_rand_int_range(rand, 0, sizeof alphabet - 1)]);
		}
		g_autofree char *r = pk_redact(s->str);
		for (int i = 0; secrets[i] != NULL; i++)
			if (strstr(r, secrets[i]) != NULL)
				g_error("'%s' survived in '%s' (from '%s')", secrets[i], r, s->str);
		g_string_free(s, TRUE);
	}
	g_rand_free(rand);
}

static void test_level(void)
{
	pk_log_set_level("error");
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_CRITICAL));
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_WARNING));
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_DEBUG));
	pk_log_set_level("warning");
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_WARNING));
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_MESSAGE));
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_INFO));
	pk_log_set_level("info");
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_INFO));
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_DEBUG));
	pk_log_set_level("DEBUG");
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_DEBUG));
	pk_log_set_level("0");
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_INFO));
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_WARNING));
	pk_log_set_level("1");  /* PRLKIT_DEBUG=1 means debug */
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_DEBUG));

	g_setenv("PRLKIT_DEBUG", "info", TRUE);
	pk_log_set_level(NULL);
	g_assert_true(pk_log_level_enabled(G_LOG_LEVEL_INFO));
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_DEBUG));
	g_unsetenv("PRLKIT_DEBUG");
	pk_log_set_level(NULL);
	g_assert_false(pk_log_level_enabled(G_LOG_LEVEL_INFO));
}

/* With every level enabled, the library's logging writes nothing to stdout. */
static void test_no_stdout(void)
{
	g_autofree char *path = g_build_filename(g_get_tmp_dir(), "prlkit-test-stdout.XXXXXX", NULL);
	int fd = g_mkstemp(path);
	g_assert_cmpint(fd, >=, 0);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	g_assert_cmpint(dup2(fd, STDOUT_FILENO), ==, STDOUT_FILENO);

	pk_log_init();
	pk_log_set_level("debug");
	g_info("an info line from the test");
	g_debug("a debug line from the test");
	PK_DEBUG("a PK_DEBUG line %d", 1);
	g_message("a message line from the test");

	fflush(stdout);
	g_assert_cmpint(dup2(saved, STDOUT_FILENO), ==, STDOUT_FILENO);
	close(saved);
	struct stat st;
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, 0);
	close(fd);
	g_unlink(path);
	pk_log_set_level("warning");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/redact/registered", test_registered);
	g_test_add_func("/redact/key-value", test_key_value);
	g_test_add_func("/redact/json", test_json);
	g_test_add_func("/redact/uri", test_uri);
	g_test_add_func("/redact/untouched", test_untouched);
	g_test_add_func("/redact/settings", test_settings);
	g_test_add_func("/redact/random", test_random);
	g_test_add_func("/log/level", test_level);
	g_test_add_func("/log/no-stdout", test_no_stdout);
	return g_test_run();
}

/* Unit tests of prlkit-cpf's own modules: redaction, message sanitizing, request parsing,
 * the line reader and capabilities. The protocol as a whole is tested by running the
 * program (the Python tests next to this file). MIT license. */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <prlkit/Parallels.h>

#include "cpf/cpf-capabilities.h"
#include "cpf/cpf-log.h"
#include "cpf/cpf-protocol.h"

static void
test_key_is_secret(void)
{
	g_assert_true(cpf_key_is_secret("password"));
	g_assert_true(cpf_key_is_secret("token_secret"));
	g_assert_true(cpf_key_is_secret("API_TOKEN"));
	g_assert_true(cpf_key_is_secret("private_key"));
	g_assert_true(cpf_key_is_secret("ClientSecret"));
	g_assert_false(cpf_key_is_secret("host"));
	g_assert_false(cpf_key_is_secret("username"));
	g_assert_false(cpf_key_is_secret(NULL));
}

static void
assert_redacted(const char *in, const char *must_not, const char *must)
{
	g_autofree char *out = cpf_redact(in);

	if (must_not)
		g_assert_null(strstr(out, must_not));
	if (must)
		g_assert_nonnull(strstr(out, must));
}

static void
test_redact_patterns(void)
{
	assert_redacted("login password=hunter22 failed", "hunter22", "password=***");
	assert_redacted("{\"token_secret\":\"abc-123-xyz\",\"host\":\"pve1\"}", "abc-123-xyz",
	                "\"host\":\"pve1\"");
	assert_redacted("token_secret: s3cr3t-v4lue; next", "s3cr3t-v4lue", "next");
	assert_redacted("Authorization: PVEAPIToken root@pam!ras=0a1b2c3d", "0a1b2c3d", NULL);
	assert_redacted("Authorization: PVEAPIToken root@pam!ras=0a1b2c3d", "root@pam!ras", NULL);
	assert_redacted("Cookie: PVEAuthCookie=PVE:root@pam:ABCDEF::sig", "ABCDEF", NULL);
	assert_redacted("GET https://root:topsecret@pve1:8006/api2", "topsecret", "root:***@pve1");
	assert_redacted("api_key = 'quoted value here'", "quoted value here", "'***'");
	/* Ordinary text stays as it is. */
	{
		g_autofree char *out = cpf_redact("guest '104' not found (PRL_ERR_VM_UUID_NOT_FOUND)");
		g_assert_cmpstr(out, ==, "guest '104' not found (PRL_ERR_VM_UUID_NOT_FOUND)");
	}
	{
		g_autofree char *out = cpf_redact("keyboard layout: us");
		g_assert_cmpstr(out, ==, "keyboard layout: us");
	}
}

static void
test_redact_registered(void)
{
	json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:i, s:s}", "password", "Pw-Unit-Test-1",
	                      "host", "pve1.example", "nested", "client_secret", "Nested-Secret-2",
	                      "apikey", 123456789, "tiny_token", "abc");
	g_autofree char *out = NULL, *js = NULL;

	cpf_log_add_secrets_from_json(s);
	out = cpf_redact("error near Pw-Unit-Test-1 and Nested-Secret-2 and 123456789 on pve1.example");
	g_assert_null(strstr(out, "Pw-Unit-Test-1"));
	g_assert_null(strstr(out, "Nested-Secret-2"));
	g_assert_null(strstr(out, "123456789"));
	g_assert_nonnull(strstr(out, "pve1.example"));
	/* Too short to register; it would blank out ordinary words. */
	g_free(out);
	out = cpf_redact("abcdef");
	g_assert_cmpstr(out, ==, "abcdef");
	js = cpf_settings_redacted_json(s);
	g_assert_null(strstr(js, "Pw-Unit-Test-1"));
	g_assert_null(strstr(js, "abc\""));
	g_assert_nonnull(strstr(js, "\"password\":\"***\""));
	g_assert_nonnull(strstr(js, "pve1.example"));
	json_decref(s);
}

static void
test_error_message(void)
{
	cpf_error e = { 0 };

	cpf_error_set(&e, CPF_CODE_INTERNAL, PRL_ERR_VM_UUID_NOT_FOUND, "guest '%s' not found", "104");
	g_assert_cmpint(e.code, ==, CPF_CODE_INTERNAL);
	g_assert_cmpstr(e.message, ==, "prlkit: guest '104' not found (PRL_ERR_VM_UUID_NOT_FOUND)");
	cpf_error_set(&e, CPF_CODE_PARAMS, PRL_ERR_INVALID_PARAM, "line1\nline2\r\tend\n");
	g_assert_null(strchr(e.message, '\n'));
	g_assert_null(strchr(e.message, '\r'));
	g_assert_true(g_str_has_prefix(e.message, "prlkit: line1 line2"));
	cpf_error_clear(&e);
	g_assert_null(e.message);
	{
		/* Invalid UTF-8 and overlong text from the platform come out valid and bounded. */
		g_autofree char *big = g_strnfill(5000, 'x');
		g_autofree char *s1 = cpf_sanitize("bad \xff\xfe bytes", 100);
		g_autofree char *s2 = cpf_sanitize(big, 100);
		g_assert_true(g_utf8_validate(s1, -1, NULL));
		g_assert_cmpuint(strlen(s2), <=, 103);
	}
}

static int
parse(const char *line, gssize len, cpf_request *req, cpf_error *err)
{
	memset(err, 0, sizeof(*err));
	if (cpf_request_parse(line, len < 0 ? strlen(line) : (gsize)len, CPF_DEFAULT_MAX_DEPTH, req,
	                      err))
		return 0;
	return err->code;
}

static void
test_request_parse(void)
{
	cpf_request req;
	cpf_error err;
	g_autofree char *deep = NULL;

	g_assert_cmpint(parse("\xEF\xBB\xBF {\"method\":\" Guests/List \"}\r", -1, &req, &err), ==, 0);
	g_assert_cmpstr(req.method, ==, "guests/list");
	g_assert_null(req.params);
	cpf_request_clear(&req);
	g_assert_cmpint(parse("{\"params\":{\"id\":\"1\"},\"method\":\"guests/get\",\"id\":3}", -1,
	                      &req, &err), ==, 0);
	g_assert_true(json_is_object(req.params));
	cpf_request_clear(&req);
	g_assert_cmpint(parse("", -1, &req, &err), ==, CPF_CODE_PARSE);
	cpf_error_clear(&err);
	g_assert_cmpint(parse(" \t\r", -1, &req, &err), ==, CPF_CODE_PARSE);
	cpf_error_clear(&err);
	g_assert_cmpint(parse("[]", -1, &req, &err), ==, CPF_CODE_PARSE);
	cpf_error_clear(&err);
	g_assert_cmpint(parse("{\"method\":1}", -1, &req, &err), ==, CPF_CODE_METHOD);
	cpf_error_clear(&err);
	g_assert_cmpint(parse("{}", -1, &req, &err), ==, CPF_CODE_METHOD);
	cpf_error_clear(&err);
	g_assert_cmpint(parse("{\"method\":\"a\"}\0x", 17, &req, &err), ==, CPF_CODE_PARSE);
	cpf_error_clear(&err);
	g_assert_cmpint(parse("{\"method\":\"\xc3\x28\"}", -1, &req, &err), ==, CPF_CODE_PARSE);
	cpf_error_clear(&err);
	deep = g_strnfill(100000, '[');
	g_assert_cmpint(parse(deep, -1, &req, &err), ==, CPF_CODE_PARSE);
	g_assert_nonnull(strstr(err.message, "nested too deeply"));
	cpf_error_clear(&err);
	/* Brackets inside strings do not count as nesting. */
	{
		g_autofree char *s = g_strdup_printf("{\"method\":\"x\",\"params\":{\"a\":\"%s\"}}",
		                                     deep + 90000);
		g_assert_cmpint(parse(s, -1, &req, &err), ==, 0);
		cpf_request_clear(&req);
	}
}

static void
test_reader(void)
{
	int fds[2];
	cpf_reader *r;
	const char *line;
	gsize len;
	g_autofree char *big = g_strnfill(300, 'y');

	g_assert_cmpint(pipe(fds), ==, 0);
	g_assert_cmpint(write(fds[1], "one\n\ntwo\r\n", 10), ==, 10);
	g_assert_cmpint(write(fds[1], big, 300), ==, 300);
	g_assert_cmpint(write(fds[1], "\nthree\nlast", 11), ==, 11);
	close(fds[1]);
	r = cpf_reader_new(fds[0], 100);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_LINE);
	g_assert_cmpmem(line, len, "one", 3);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_LINE);
	g_assert_cmpuint(len, ==, 0);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_LINE);
	g_assert_cmpmem(line, len, "two\r", 4);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_TOO_LARGE);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_LINE);
	g_assert_cmpmem(line, len, "three", 5);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_LINE);
	g_assert_cmpmem(line, len, "last", 4);
	g_assert_cmpint(cpf_reader_next(r, &line, &len), ==, CPF_READ_EOF);
	cpf_reader_free(r);
	close(fds[0]);
}

static void
test_caps(void)
{
	cpf_caps c;
	g_autofree char *bad = NULL, *missing = NULL;
	json_t *s = json_pack("{s:i, s:s, s:i}", "guests_polling_rate", 1, "tasks_polling_rate", "7",
	                      "tasks_polling_retries", 999);
	json_t *j;

	cpf_caps_compute(PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE_FROM_SNAPSHOT | PRLK_FEAT_SUSPEND |
	                 PRLK_FEAT_TASK_IDS | PRLK_FEAT_REVERSIBLE_TEMPLATES, s, &c, &bad);
	g_assert_null(bad);
	g_assert_cmpint(c.guests_polling_rate, ==, 3);
	g_assert_cmpint(c.tasks_polling_rate, ==, 7);
	g_assert_cmpint(c.tasks_polling_retries, ==, 180);
	g_assert_cmpstr(c.template_method, ==, "versioning");
	g_assert_true(c.can_suspend_guests);
	g_assert_false(c.can_link_clones);
	j = cpf_caps_to_json(&c);
	g_assert_cmpuint(json_object_size(j), ==, 6);
	json_decref(j);
	missing = cpf_caps_missing(&c, PRLK_FEAT_TEMPLATES | PRLK_FEAT_CLONE | PRLK_FEAT_TASK_IDS);
	g_assert_nonnull(strstr(missing, "suspend"));
	g_assert_nonnull(strstr(missing, "versioning"));
	g_assert_null(cpf_caps_missing(&c, ~0ULL));
	g_assert_cmpstr(cpf_template_method_for(PRLK_FEAT_TEMPLATES | PRLK_FEAT_CLONE |
	                                        PRLK_FEAT_TASK_IDS), ==, "basic");
	/* Without task ids RAS could not follow any template workflow. */
	g_assert_cmpstr(cpf_template_method_for(PRLK_FEAT_SNAPSHOTS | PRLK_FEAT_CLONE_FROM_SNAPSHOT |
	                                        PRLK_FEAT_TEMPLATES | PRLK_FEAT_CLONE), ==, "none");
	cpf_caps_compute(PRLK_FEAT_LINKED_CLONE, NULL, &c, NULL);
	g_assert_false(c.can_link_clones);
	cpf_caps_compute(PRLK_FEAT_LINKED_CLONE | PRLK_FEAT_TASK_IDS, NULL, &c, NULL);
	g_assert_true(c.can_link_clones);
	g_assert_cmpstr(cpf_template_method_for(0), ==, "none");
	json_object_set_new(s, "tasks_polling_rate", json_string("often"));
	cpf_caps_compute(0, s, &c, &bad);
	g_assert_cmpstr(bad, ==, "tasks_polling_rate");
	g_assert_cmpint(c.tasks_polling_rate, ==, 3);
	cpf_caps_compute(0, NULL, &c, NULL);
	g_assert_cmpint(c.guests_polling_rate, ==, 15);
	g_assert_cmpint(c.tasks_polling_retries, ==, 180);
	json_decref(s);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* Warnings about clamping are expected; keep them off the TAP stream. */
	cpf_log_init(CPF_LOG_ERROR, NULL, TRUE);
	g_test_add_func("/cpf/log/key-is-secret", test_key_is_secret);
	g_test_add_func("/cpf/log/redact-patterns", test_redact_patterns);
	g_test_add_func("/cpf/log/redact-registered", test_redact_registered);
	g_test_add_func("/cpf/protocol/error-message", test_error_message);
	g_test_add_func("/cpf/protocol/request-parse", test_request_parse);
	g_test_add_func("/cpf/protocol/reader", test_reader);
	g_test_add_func("/cpf/capabilities", test_caps);
	return g_test_run();
}

/*
 * test-common.c: error names and the sanitiser of untrusted strings
 */
#include "config.h"

#include <string.h>

#include "usbpass-error.h"
#include "usbpass-string.h"

static void
test_error_names(void)
{
	for (guint i = 0; i < USBPASS_ERROR_LAST; i++) {
		const gchar *name = usbpass_error_to_string((UsbpassError)i);
		g_assert_nonnull(name);
		g_assert_cmpint(usbpass_error_from_string(name), ==, i);
	}
	g_assert_cmpstr(usbpass_error_to_string(USBPASS_ERROR_IN_USE), ==, "in-use");
	g_assert_cmpint(usbpass_error_from_string("no-such-code"), ==, USBPASS_ERROR_INTERNAL);
	g_assert_cmpstr(usbpass_error_to_string(USBPASS_ERROR_LAST + 7), ==, "internal");
}

static void
test_error_map(void)
{
	/* every code has a 4xx/5xx status and an exit code that is neither success nor usage */
	for (guint i = 0; i < USBPASS_ERROR_LAST; i++) {
		guint status = usbpass_error_to_http_status((UsbpassError)i);
		gint exit_code = usbpass_error_to_exit_code((UsbpassError)i);
		g_assert_cmpuint(status, >=, 400);
		g_assert_cmpuint(status, <=, 599);
		/* 1 is "usbpassd unreachable", the one code that is never an answer */
		if (i == USBPASS_ERROR_UNREACHABLE)
			g_assert_cmpint(exit_code, ==, 1);
		else
			g_assert_cmpint(exit_code, >, 2);
		g_assert_cmpint(exit_code, <, 126);
	}
	g_assert_cmpuint(usbpass_error_to_http_status(USBPASS_ERROR_NOT_FOUND), ==, 404);
	g_assert_cmpuint(usbpass_error_to_http_status(USBPASS_ERROR_IN_USE), ==, 409);
	g_assert_cmpuint(usbpass_error_to_http_status(USBPASS_ERROR_LAST + 1), ==, 500);
}

typedef struct {
	const gchar *raw;
	gssize raw_len;
	gsize max_bytes;
	const gchar *expected; /* NULL: nothing printable remains */
} SanitizeCase;

static void
test_string_sanitize(void)
{
	const SanitizeCase cases[] = {
	    {"SanDisk\n", -1, 256, "SanDisk"},
	    {"  Cruzer Blade  \n", -1, 256, "Cruzer Blade"},
	    {"a\tb\rc\x1b[31m", -1, 256, "a b c [31m"},
	    {"<x & 'y' \"z\">", -1, 256, "<x & 'y' \"z\">"},
	    {"bad\xff\xfeutf8", -1, 256, "bad\xef\xbf\xbd\xef\xbf\xbdutf8"},
	    {"\x7f\xc2\x80", -1, 256, NULL},
	    {"\n\n", -1, 256, NULL},
	    {"", -1, 256, NULL},
	    /* an embedded NUL is invalid UTF-8 to GLib: it becomes U+FFFD, never a terminator */
	    {"nul\0hidden", 10, 256, "nul\xef\xbf\xbdhidden"},
	    {"abcdefghij", -1, 8, "abcde\xe2\x80\xa6"},
	    /* never cut inside a multi-byte character */
	    {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", -1, 6, "\xc3\xa9\xe2\x80\xa6"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *got = usbpass_string_sanitize(cases[i].raw, cases[i].raw_len, cases[i].max_bytes);
		g_assert_cmpstr(got, ==, cases[i].expected);
		if (got != NULL) {
			g_assert_true(g_utf8_validate(got, -1, NULL));
			g_assert_cmpuint(strlen(got), <=, cases[i].max_bytes);
		}
	}
	g_assert_null(usbpass_string_sanitize(NULL, -1, 256));
}

static void
test_string_sanitize_garbage(void)
{
	/* every byte value, at every length up to 300: always valid, bounded, no controls */
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	for (guint round = 0; round < 2000; round++) {
		guint len = g_rand_int_range(rand, 0, 300);
		g_autofree guint8 *raw = g_malloc(len + 1);
		g_autofree gchar *got = NULL;
		for (guint i = 0; i < len; i++)
			raw[i] = (guint8)g_rand_int_range(rand, 0, 256);
		raw[len] = '\0';
		got = usbpass_string_sanitize((const gchar *)raw, len, 64);
		if (got == NULL)
			continue;
		g_assert_true(g_utf8_validate(got, -1, NULL));
		g_assert_cmpuint(strlen(got), <=, 64);
		for (const gchar *p = got; *p != '\0'; p++)
			g_assert_false((guchar)*p < 0x20 || *p == 0x7f);
	}
}

static void
test_string_identifier(void)
{
	g_assert_true(usbpass_string_is_identifier("4C530001", 64));
	g_assert_true(usbpass_string_is_identifier("a.b_c-d", 64));
	g_assert_false(usbpass_string_is_identifier("", 64));
	g_assert_false(usbpass_string_is_identifier(NULL, 64));
	g_assert_false(usbpass_string_is_identifier("a/b", 64));
	g_assert_false(usbpass_string_is_identifier("a b", 64));
	g_assert_false(usbpass_string_is_identifier("abcdef", 5));
}

typedef struct {
	const gchar *text;
	guint base;
	guint64 min;
	guint64 max;
	gboolean ok;
	guint64 value;
} ParseCase;

static void
test_string_parse_uint(void)
{
	const ParseCase cases[] = {
	    {"4\n", 10, 1, 127, TRUE, 4},
	    {"127", 10, 1, 127, TRUE, 127},
	    {"0781\n", 16, 0, 0xffff, TRUE, 0x0781},
	    {"ffff", 16, 0, 0xffff, TRUE, 0xffff},
	    {"128", 10, 1, 127, FALSE, 0},
	    {"0", 10, 1, 127, FALSE, 0},
	    {"-1", 10, 0, 127, FALSE, 0},
	    {"+1", 10, 0, 127, FALSE, 0},
	    {"0x10", 16, 0, 0xffff, FALSE, 0},
	    {"12abc", 10, 0, 1000, FALSE, 0},
	    {"", 10, 0, 1000, FALSE, 0},
	    {"\xff\xfe", 10, 0, 1000, FALSE, 0},
	    {"99999999999999999999999", 10, 0, G_MAXUINT64, FALSE, 0},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		guint64 value = 777;
		gboolean ok = usbpass_string_parse_uint(cases[i].text, cases[i].base, cases[i].min, cases[i].max, &value, &error);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (ok) {
			g_assert_no_error(error);
			g_assert_cmpuint(value, ==, cases[i].value);
		} else {
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_true(g_utf8_validate(error->message, -1, NULL));
			/* output untouched on failure */
			g_assert_cmpuint(value, ==, 777);
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/common/error-names", test_error_names);
	g_test_add_func("/usbpass/common/error-map", test_error_map);
	g_test_add_func("/usbpass/common/sanitize", test_string_sanitize);
	g_test_add_func("/usbpass/common/sanitize{garbage}", test_string_sanitize_garbage);
	g_test_add_func("/usbpass/common/identifier", test_string_identifier);
	g_test_add_func("/usbpass/common/parse-uint", test_string_parse_uint);
	return g_test_run();
}

/*
 * test-json-guard.c: the strict JSON guard against good and hostile texts
 */
#include "config.h"

#include <string.h>

#include "usbpass-error.h"
#include "usbpass-json-guard.h"

#define TEST_MAX_DEPTH 8

typedef struct {
	const gchar *name;
	const gchar *text;
	gssize length;       /* -1: strlen(text); else the text holds NUL bytes */
	const gchar *reason; /* NULL: accepted; else a part of the message */
} GuardCase;

static const GuardCase guard_cases[] = {
	/* strict JSON passes */
	{ "object", "{\"device\": \"1-3\"}", -1, NULL },
	{ "scalars", "[1, -2.5e+3, 0, 0.5, 1E9, -0, true, false, null]", -1, NULL },
	{ "string-root", "\"x\"", -1, NULL },
	{ "number-root", "  42\n", -1, NULL },
	{ "escapes", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uFFFD\"]", -1, NULL },
	{ "surrogate-pair", "[\"\\ud83d\\ude00\"]", -1, NULL },
	{ "utf8", "{\"name\": \"Gerät \xe2\x82\xac\"}", -1, NULL },
	{ "same-name-different-objects",
	  "[{\"a\": 1}, {\"a\": 2}, {\"b\": {\"a\": 3}}]",
	  -1,
	  NULL },
	{ "brackets-in-strings", "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", -1, NULL },
	{ "comment-in-string", "{\"a\": \"it's /* no */ comment // here\"}", -1, NULL },
	{ "depth-limit", "[[[[[[[[]]]]]]]]", -1, NULL },
	{ "empty-object-reused", "[{}, {}, {\"a\": {}}]", -1, NULL },
	/* NUL, escaped or raw, anywhere */
	{ "nul-escape-value", "{\"device\": \"1-3\\u0000;rm -rf /\"}", -1, "escaped NUL" },
	{ "nul-escape-key", "{\"ops\\u0000<script>\": 1}", -1, "escaped NUL" },
	{ "nul-escape-upper", "[\"a\\U0000\"]", -1, "is not a JSON escape" },
	{ "nul-escape-nested", "{\"a\": [{\"b\": \"\\u0000\"}]}", -1, "escaped NUL" },
	{ "nul-raw-in-string", "{\"a\": \"x\0y\"}", 12, "control byte 0x00" },
	{ "nul-raw-outside", "{\"a\": 1}\0", 9, "outside JSON's syntax" },
	{ "control-in-string", "[\"a\tb\"]", -1, "control byte 0x09" },
	/* one document only */
	{ "concatenated-objects", "{\"a\": 1}{\"b\": 2}", -1, "a second value" },
	{ "concatenated-arrays", "[1] [2]", -1, "a second value" },
	{ "concatenated-scalars", "1 2", -1, "a second value" },
	{ "concatenated-strings", "\"a\"\"b\"", -1, "a second value" },
	{ "trailing-garbage", "{\"a\": 1} x", -1, "a second value" },
	{ "trailing-bracket", "{\"a\": 1}}", -1, "closes nothing" },
	/* duplicate member names at any depth, also when spelt differently */
	{ "duplicate-top",
	  "{\"device\": \"1-3\", \"device\": \"1-4\"}",
	  -1,
	  "two members named 'device'" },
	{ "duplicate-nested", "{\"a\": {\"b\": 1, \"b\": 2}}", -1, "two members named 'b'" },
	{ "duplicate-in-array",
	  "[1, [{\"x\": 1, \"y\": 2, \"x\": 3}]]",
	  -1,
	  "two members named 'x'" },
	{ "duplicate-escaped", "{\"a\": 1, \"\\u0061\": 2}", -1, "two members named 'a'" },
	{ "duplicate-after-object",
	  "{\"a\": {\"c\": 1}, \"b\": 2, \"a\": 3}",
	  -1,
	  "two members named 'a'" },
	/* encoding */
	{ "bom", "\xef\xbb\xbf{\"a\": 1}", -1, "byte order mark" },
	{ "invalid-utf8-string", "{\"a\": \"\xff\xfe\"}", -1, "not valid UTF-8" },
	{ "overlong-utf8", "{\"a\": \"\xc0\xaf\"}", -1, "not valid UTF-8" },
	{ "utf8-outside-string", "{\"a\": \xc3\xa9}", -1, "outside JSON's syntax" },
	{ "lone-high-surrogate", "[\"\\ud800\"]", -1, "lone high surrogate" },
	{ "high-surrogate-then-text", "[\"\\ud800x\"]", -1, "lone high surrogate" },
	{ "two-high-surrogates", "[\"\\ud800\\ud800\"]", -1, "lone high surrogate" },
	{ "lone-low-surrogate", "[\"\\udc00\"]", -1, "lone low surrogate" },
	{ "short-u-escape", "[\"\\u12\"]", -1, "four hex digits" },
	{ "unknown-escape", "[\"\\x41\"]", -1, "'\\x' is not a JSON escape" },
	/* json-glib's leniencies */
	{ "single-quoted", "{\"a\": 'x'}", -1, "single-quoted" },
	{ "block-comment", "{\"a\": 1 /* c */}", -1, "comment" },
	{ "line-comment", "{\"a\": 1 // c\n}", -1, "comment" },
	{ "hex-number", "{\"a\": 0x10}", -1, "'0x10' is not a number" },
	{ "leading-zero", "{\"a\": 01}", -1, "'01' is not a number" },
	{ "bare-fraction", "{\"a\": .5}", -1, "'.5' is not a number" },
	{ "trailing-dot", "{\"a\": 1.}", -1, "'1.' is not a number" },
	{ "plus-sign", "{\"a\": +1}", -1, "'+1' is not a number" },
	{ "nan", "[NaN]", -1, "'NaN' is not a number" },
	{ "capital-true", "[True]", -1, "'True' is not a number" },
	/* nesting */
	{ "too-deep", "[[[[[[[[[]]]]]]]]]", -1, "nests deeper than 8 levels" },
	{ "too-deep-objects",
	  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}",
	  -1,
	  "nests deeper than 8 levels" },
	{ "hidden-brackets",
	  "{\"device\": '\"', \"x\": [[[[[[[[[[]]]]]]]]]]}",
	  -1,
	  "single-quoted" },
	/* the parser's own refusals */
	{ "empty", "", -1, "the text is empty" },
	{ "blank", " \n\t", -1, "the text is empty" },
	{ "unterminated", "{\"a\": ", -1, "not JSON" },
	{ "trailing-comma", "[1,]", -1, "not JSON" },
};

static void
test_guard_cases(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(guard_cases); i++) {
		const GuardCase *c = &guard_cases[i];
		gsize length = c->length >= 0 ? (gsize)c->length : strlen(c->text);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node = NULL;

		g_test_message("guard{%s}", c->name);
		node = usbpass_json_guard_parse(c->text, length, TEST_MAX_DEPTH, &error);
		if (c->reason == NULL) {
			g_assert_no_error(error);
			g_assert_nonnull(node);
			continue;
		}
		g_assert_null(node);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		if (strstr(error->message, c->reason) == NULL)
			g_test_message("'%s' lacks '%s'", error->message, c->reason);
		g_assert_nonnull(strstr(error->message, c->reason));
		/* messages are safe to print: valid UTF-8, no control characters */
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		for (const gchar *p = error->message; *p != '\0'; p++)
			g_assert_cmpint((guchar)*p, >=, 0x20);
	}
}

/* the value json-glib hands out is whole: nothing after a NUL was cut off */
static void
test_guard_values(void)
{
	const gchar *text = "{\"device\": \"1-3\", \"name\": \"\\u00e9\\ud83d\\ude00\"}";
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = usbpass_json_guard_parse(text, strlen(text), 4, &error);
	JsonObject *object;

	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	object = json_node_get_object(node);
	g_assert_cmpuint(json_object_get_size(object), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(object, "device"), ==, "1-3");
	g_assert_cmpstr(
	  json_object_get_string_member(object, "name"), ==, "\xc3\xa9\xf0\x9f\x98\x80");
}

/* the byte check alone: what the parser never sees */
static void
test_guard_check_only(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *deep = g_strnfill(64 * 1024, '[');

	/* json-glib would recurse 64 Ki levels deep on this */
	g_assert_false(usbpass_json_guard_check(deep, strlen(deep), 32, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "nests deeper than 32 levels"));
	g_clear_error(&error);

	/* no NUL terminator needed: the length is the text */
	g_assert_true(usbpass_json_guard_check("[1]]]]", 3, 32, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_json_guard_check(NULL, 0, 32, &error));
	g_assert_no_error(error);
}

typedef struct {
	const gchar *charset; /* as libsoup hands it out: unquoted */
	gboolean ok;
} CharsetCase;

static void
test_guard_charset(void)
{
	const CharsetCase cases[] = {
		{ NULL, TRUE },      { "utf-8", TRUE },     { "UTF-8", TRUE },
		{ "Utf-8", TRUE },   { "latin1", FALSE },   { "iso-8859-1", FALSE },
		{ "utf-16", FALSE }, { "UTF-16LE", FALSE }, { "utf8", FALSE },
		{ "", FALSE },       { "utf-8\n", FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		gboolean ok = usbpass_json_guard_check_charset(cases[i].charset, &error);
		g_test_message("charset{%s}", cases[i].charset != NULL ? cases[i].charset : "none");
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (ok) {
			g_assert_no_error(error);
		} else {
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_nonnull(strstr(error->message, "is not utf-8"));
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/json/guard{cases}", test_guard_cases);
	g_test_add_func("/usbpass/json/guard{values}", test_guard_values);
	g_test_add_func("/usbpass/json/guard{check-only}", test_guard_check_only);
	g_test_add_func("/usbpass/json/guard{charset}", test_guard_charset);
	return g_test_run();
}

/*
 * test-api-parsers.c: what usbpassd reads from untrusted text before acting on it
 *
 * In-process, no daemon: the router and the path segment decoding
 * (usbpass-api-server-private.h), the strict-JSON guard of request bodies and
 * the messages of the configuration loader. Cases found by the fuzzers of
 * fuzz/ are kept here, each with the input that found it.
 */
#include "config.h"

#include <string.h>

#include "api/usbpass-api-json.h"
#include "api/usbpass-api-server-private.h"
#include "usbpass-json-guard.h"
#include "daemon/usbpass-config.h"
#include "usbpass-error.h"

/* one line of printable UTF-8 */
static void
assert_printable(const gchar *text)
{
	g_assert_nonnull(text);
	g_assert_true(g_utf8_validate(text, -1, NULL));
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029) {
			g_test_message("U+%04X at offset %u of: %s", c, (guint)(p - text), text);
			g_assert_not_reached();
		}
	}
}

typedef struct {
	const gchar *body;
	gboolean ok;
} EscapeCase;

/* json-glib 1.6 reads GScanner's octal escapes: "\615" became the byte 0x8d,
 * a token name of invalid UTF-8 (found by fuzz/fuzz-api-json) */
static void
test_json_escapes(void)
{
	const EscapeCase cases[] = {
		{ "{\"name\": \"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}", TRUE },
		{ "{\"name\": \"\\u00e9\\u20AC\"}", TRUE },
		{ "{\"name\": \"\\\\\", \"role\": \"admin\"}", TRUE },
		{ "{\"name\": \"a\\615b\", \"role\": \"admin\"}", FALSE },
		{ "{\"name\": \"\\0\", \"role\": \"admin\"}", FALSE },
		{ "{\"name\": \"\\x41\"}", FALSE },
		{ "{\"name\": \"\\q\"}", FALSE },
		{ "{\"name\": \"\\u12\"}", FALSE },
		{ "{\"name\": \"\\u12g4\"}", FALSE },
		{ "{\"name\": \"\\", FALSE },
		{ "{\"name\": \"\\u004", FALSE },
		/* lone surrogates gave invalid UTF-8 too (found by fuzz/fuzz-api-json) */
		{ "{\"name\": \"\\ud83d\\ude00\\uD83D\\uDE00\"}", TRUE },
		{ "{\"device\": \"0781:5567:\\ud8000001231122117043\"}", FALSE },
		{ "{\"name\": \"\\udc00\"}", FALSE },
		{ "{\"name\": \"\\ud800\\u0041\"}", FALSE },
		{ "{\"name\": \"\\ud800\\ud800\"}", FALSE },
		{ "{\"name\": \"\\ud800\"}", FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) object = NULL;
		const gchar *text = cases[i].body;

		g_test_message("escape case %u: %s", i, text);
		object = usbpass_api_json_parse_object(text, strlen(text), &error);
		if (cases[i].ok) {
			const gchar *name = NULL;
			g_assert_no_error(error);
			g_assert_nonnull(object);
			g_assert_true(
			  usbpass_api_json_get_string(object, "name", TRUE, &name, &error));
			g_assert_true(g_utf8_validate(name, -1, NULL));
			continue;
		}
		g_assert_null(object);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		assert_printable(error->message);
	}
	/* the guard alone names the cause */
	{
		g_autoptr(GError) error = NULL;
		const gchar *text = "{\"name\": \"a\\615b\"}";
		g_assert_false(usbpass_json_guard_check(
		  text, strlen(text), USBPASS_API_JSON_MAX_DEPTH, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_cmpstr(error->message,
		                ==,
		                "the JSON text is not strict JSON: '\\6' is not a JSON escape at byte 11");
	}
}

typedef struct {
	const gchar *path;
	gboolean ok;
	const gchar *arg1;
	const gchar *arg2;
	gint code; /* when !ok */
} RouteCase;

static void
test_routes(void)
{
	const RouteCase cases[] = {
		{ "/v1/health", TRUE, NULL, NULL },
		{ "/v1/devices/0781%3A5567%3As%3AXYZ", TRUE, "0781:5567:s:XYZ", NULL },
		{ "/v1/devices/h1%2F0781:5567:p:1-1.4/policy", TRUE, "h1/0781:5567:p:1-1.4", NULL },
		{ "/v1/instances/web01/usb-devices/1-1.4", TRUE, "web01", "1-1.4" },
		{ "/v1/instances/caf%C3%A9/usb-devices", TRUE, "caf\u00e9", NULL },
		{ "/v1/nothing", FALSE, NULL, NULL, USBPASS_ERROR_NOT_FOUND },
		{ "/v2/health", FALSE, NULL, NULL, USBPASS_ERROR_NOT_FOUND },
		{ "/v1/devices/", FALSE, NULL, NULL, USBPASS_ERROR_NOT_FOUND },
		{ "/v1/devices/a/b/c/d", FALSE, NULL, NULL, USBPASS_ERROR_NOT_FOUND },
		{ "/v1/devices/%00", FALSE, NULL, NULL, USBPASS_ERROR_INVALID_DATA },
		{ "/v1/devices/%zz", FALSE, NULL, NULL, USBPASS_ERROR_INVALID_DATA },
		{ "/v1/devices/%1B%5B2J", FALSE, NULL, NULL, USBPASS_ERROR_INVALID_DATA },
		{ "/v1/devices/%FF", FALSE, NULL, NULL, USBPASS_ERROR_INVALID_DATA },
		{ "/v1/devices/%20x", FALSE, NULL, NULL, USBPASS_ERROR_INVALID_DATA },
		{ "/v1/instances/web01/usb-devices/%C2%9B",
		  FALSE,
		  NULL,
		  NULL,
		  USBPASS_ERROR_INVALID_DATA },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *arg1 = NULL;
		g_autofree gchar *arg2 = NULL;
		guint route = G_MAXUINT;
		gboolean ok;

		g_test_message("route case %s", cases[i].path);
		ok = usbpass_api_server_parse_path(cases[i].path, &route, &arg1, &arg2, &error);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (!ok) {
			g_assert_error(error, USBPASS_ERROR, cases[i].code);
			g_assert_cmpuint(route, ==, G_MAXUINT);
			g_assert_null(arg1);
			continue;
		}
		g_assert_cmpuint(route, <, usbpass_api_server_get_n_routes());
		g_assert_cmpstr(arg1, ==, cases[i].arg1);
		g_assert_cmpstr(arg2, ==, cases[i].arg2);
	}
}

static void
test_route_query(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) good = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) bad = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) unknown = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree gchar *arg1 = NULL;
	g_autofree gchar *arg2 = NULL;
	guint devices = 0;
	guint health = 0;

	g_assert_true(usbpass_api_server_parse_path("/v1/devices", &devices, &arg1, &arg2, NULL));
	g_assert_true(usbpass_api_server_parse_path("/v1/health", &health, &arg1, &arg2, NULL));
	g_hash_table_insert(good, "vendor_id", "0781");
	g_hash_table_insert(good, "present", "true");
	g_hash_table_insert(bad, "vendor_id", "781");
	g_hash_table_insert(unknown, "colour", "red");

	g_assert_true(usbpass_api_server_check_query(devices, NULL, &error));
	g_assert_true(usbpass_api_server_check_query(devices, good, &error));
	g_assert_no_error(error);
	g_assert_false(usbpass_api_server_check_query(devices, bad, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_api_server_check_query(health, good, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_api_server_check_query(devices, unknown, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	g_assert_true(usbpass_api_server_check_spec("device", "1-1.4", &error));
	g_assert_false(usbpass_api_server_check_spec("device", " 1-1.4", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
}

/* GKeyFile quotes a bad line as it is and takes invalid UTF-8 in group
 * names; the messages of the daemon's start-up must still be one printable
 * line (found by fuzz/fuzz-config) */
static void
test_config_messages(void)
{
	const struct {
		const gchar *text;
		const gchar *needle;
	} cases[] = {
		{ "[daemon\xe0]\nenabled=true\n", "unknown group" },
		{ "[daemon\xc2\x9b]\n", "unknown group" },
		{ "[daemon]\nenabled\x1b[2J=true\n", "f.conf" },
		{ "[daemon]\nen\xff=true\n", "unknown key" },
		{ "[daemon]\n\x01garbage\n", "f.conf" },
		{ "[daemon]\ndriver=xen\\nsecond line\n", "driver" },
		{ "[daemon]\nsocket-mode=07\\r\\n\xff\n", "socket-mode" },
		{ "[daemon]\nlog-level=loud\\tly\n", "log level" },
		{ "[daemon]\nhost=\\q\n", "host" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassConfig) config = usbpass_config_new();
		g_autoptr(GError) error = NULL;
		g_test_message("config case %u", i);
		g_assert_false(usbpass_config_load_data(
		  config, cases[i].text, strlen(cases[i].text), "f.conf", &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_test_message("%s", error->message);
		assert_printable(error->message);
		g_assert_nonnull(strstr(error->message, cases[i].needle));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/api/json{escapes}", test_json_escapes);
	g_test_add_func("/usbpass/api/route", test_routes);
	g_test_add_func("/usbpass/api/route{query}", test_route_query);
	g_test_add_func("/usbpass/api/config{messages}", test_config_messages);
	return g_test_run();
}

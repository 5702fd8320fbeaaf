/*
 * fuzz-api-route.c: request URIs -> the REST API's router and query checks
 *
 * Runs what usbpassd runs on the path and query of every request before it
 * looks at credentials: usbpass_api_parse_route() with the decoding of the
 * {device}/{instance}/{name} segments, and the query check of the endpoint
 * found, on the query as libsoup form-decodes it. Asserted: a route found is
 * an endpoint, a decoded segment is 1 to 512 bytes of printable UTF-8 without
 * outer blanks, and each refusal is NOT_FOUND or INVALID_DATA with a printable
 * message.
 *
 * Input: "PATH" or "PATH?QUERY", as on the request line.
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "api/usbpass-api-server-private.h"
#include "usbpass-error.h"
#include "usbpass-fuzz.h"
#include "usbpass-string.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	usbpass_fuzz_init();
	return 0;
}

static void
fuzz_assert_refused(GError *error)
{
	g_assert(error != NULL);
	g_assert(g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA) ||
	         g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND));
	usbpass_fuzz_assert_text("refusal", error->message, NULL);
}

static void
fuzz_assert_segment(const gchar *segment)
{
	g_autofree gchar *clean = NULL;
	if (segment == NULL)
		return;
	usbpass_fuzz_assert_text("segment", segment, NULL);
	g_assert(strlen(segment) >= 1 && strlen(segment) <= 512);
	clean = usbpass_string_sanitize(segment, -1, 600);
	g_assert_cmpstr(clean, ==, segment);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autofree gchar *uri = g_strndup((const gchar *)data, size);
	g_autofree gchar *path = NULL;
	g_autoptr(GHashTable) query = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *arg1 = NULL;
	g_autofree gchar *arg2 = NULL;
	gchar *mark = strchr(uri, '?');
	guint route = G_MAXUINT;

	if (mark != NULL) {
		*mark = '\0';
		query = soup_form_decode(mark + 1);
	}
	path = g_strdup(uri);

	/* every segment on its own, as the router decodes them */
	{
		g_auto(GStrv) segments = g_strsplit(path, "/", 8);
		for (guint i = 0; segments[i] != NULL; i++) {
			g_autofree gchar *decoded = NULL;
			if (usbpass_api_server_decode_segment(segments[i], &decoded, &error)) {
				fuzz_assert_segment(decoded);
			} else {
				fuzz_assert_refused(error);
				g_clear_error(&error);
			}
		}
	}

	if (!usbpass_api_server_parse_path(path, &route, &arg1, &arg2, &error)) {
		fuzz_assert_refused(error);
		g_assert(arg1 == NULL && arg2 == NULL && route == G_MAXUINT);
		return 0;
	}
	g_assert(route < usbpass_api_server_get_n_routes());
	g_assert(g_str_has_prefix(path, "/v1/"));
	fuzz_assert_segment(arg1);
	fuzz_assert_segment(arg2);
	if (!usbpass_api_server_check_query(route, query, &error))
		fuzz_assert_refused(error);
	return 0;
}

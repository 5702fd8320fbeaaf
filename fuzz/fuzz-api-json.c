/*
 * fuzz-api-json.c: request bodies -> the REST API's JSON parser and checks
 *
 * Runs what usbpassd runs on the body of POST /v1/instances/{i}/usb-devices
 * and POST /v1/tokens before anything acts on it: the size, UTF-8 and depth
 * checks, json-glib, the member checks and the check of the device named.
 * Asserted: an accepted body is one object, each accepted string is valid
 * UTF-8 and an accepted device spec is printable; every refusal is
 * INVALID_DATA with a printable message.
 *
 * Input: the body.
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <string.h>

#include "api/usbpass-api-json.h"
#include "api/usbpass-api-server-private.h"
#include "usbpass-json-guard.h"
#include "usbpass-error.h"
#include "usbpass-fuzz.h"

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
	g_assert(g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA));
	usbpass_fuzz_assert_text("refusal", error->message, NULL);
}

/* the members of one request: what the handler reads, in its order */
static void
fuzz_check_request(JsonObject *body, const gchar *const *members)
{
	g_autoptr(GError) error = NULL;

	if (!usbpass_api_json_check_members(body, members, &error)) {
		fuzz_assert_refused(error);
		return;
	}
	for (guint i = 0; members[i] != NULL; i++) {
		const gchar *value = NULL;
		if (!usbpass_api_json_get_string(body, members[i], TRUE, &value, &error)) {
			fuzz_assert_refused(error);
			return;
		}
		g_assert(value != NULL);
		g_assert(g_utf8_validate(value, -1, NULL));
		if (usbpass_api_server_check_spec(members[i], value, &error)) {
			usbpass_fuzz_assert_text("device spec", value, NULL);
			g_assert(strlen(value) > 0);
		} else {
			fuzz_assert_refused(error);
			g_clear_error(&error);
		}
	}
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	static const gchar *const attach[] = { "device", NULL };
	static const gchar *const token[] = { "name", "role", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) body = NULL;
	gboolean shallow;

	shallow = usbpass_json_guard_check(
	  (const gchar *)data, size, USBPASS_API_JSON_MAX_DEPTH, &error);
	if (!shallow)
		fuzz_assert_refused(error);
	g_clear_error(&error);

	body = usbpass_api_json_parse_object((const gchar *)data, size, &error);
	if (body == NULL) {
		fuzz_assert_refused(error);
		return 0;
	}
	g_assert_no_error(error);
	/* nothing deeper than the limit, nothing but UTF-8 gets through */
	g_assert(shallow);
	g_assert(g_utf8_validate((const gchar *)data, (gssize)size, NULL));
	g_assert(size <= USBPASS_API_BODY_MAX_BYTES);
	fuzz_check_request(body, attach);
	fuzz_check_request(body, token);
	return 0;
}

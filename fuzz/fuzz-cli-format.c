/*
 * fuzz-cli-format.c: whatever JSON a daemon sends -> the CLI's text and the client's records
 *
 * The CLI trusts no server: every formatter must print only terminal-safe
 * text (usbpass-cli-format.h) for any JSON, and usbpass_device_from_json()
 * must give a sanitised record or an error.
 *
 * Input: an event name, '\n', then a JSON document (the reply of one endpoint,
 * or the data of one event of GET /v1/events).
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <string.h>

#include "cli/usbpass-cli-format.h"
#include "inventory/usbpass-device-json.h"
#include "inventory/usbpass-identity.h"
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

typedef gchar *(*FuzzFormatList)(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error);

static void
fuzz_check_list(const gchar *what, FuzzFormatList func, JsonObject *answer)
{
	UsbpassCliFormatFlags flags[] = { USBPASS_CLI_FORMAT_NONE, USBPASS_CLI_FORMAT_WIDE };
	for (guint i = 0; i < G_N_ELEMENTS(flags); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *text = func(answer, flags[i], &error);
		if (text == NULL) {
			g_assert(error != NULL);
			usbpass_fuzz_assert_text(what, error->message, NULL);
			continue;
		}
		g_assert_no_error(error);
		usbpass_fuzz_assert_terminal(what, text);
	}
}

static gchar *
fuzz_format_status(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	return usbpass_cli_format_status(answer, TRUE, flags, error);
}

static gchar *
fuzz_format_status_some(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	return usbpass_cli_format_status(answer, FALSE, flags, error);
}

static void
fuzz_check_device(JsonObject *object)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassDevice) device = usbpass_device_from_json(object, &error);
	g_autofree gchar *shown = usbpass_cli_format_device(object);
	g_autofree gchar *attached = usbpass_cli_format_assignment(object, TRUE, "web01");
	g_autofree gchar *detached = usbpass_cli_format_assignment(object, FALSE, NULL);

	usbpass_fuzz_assert_terminal("usbpass show", shown);
	usbpass_fuzz_assert_terminal("usbpass attach", attached);
	usbpass_fuzz_assert_terminal("usbpass detach", detached);
	if (device == NULL) {
		g_assert(error != NULL);
		usbpass_fuzz_assert_text("device JSON error", error->message, NULL);
		return;
	}
	/* the client's records are as safe as the inventory's */
	g_assert(usbpass_identity_split(device->id, NULL, NULL, NULL));
	usbpass_fuzz_assert_text("id", device->id, NULL);
	usbpass_fuzz_assert_text_or_null("name", device->name, NULL);
	usbpass_fuzz_assert_text_or_null("serial", device->serial, NULL);
	usbpass_fuzz_assert_text_or_null("port", device->port, NULL);
	usbpass_fuzz_assert_text_or_null("error", device->error, NULL);
	usbpass_fuzz_assert_text_or_null("syspath", device->syspath, NULL);
	g_assert(device->interfaces->len <= 32);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	const guint8 *newline = memchr(data, '\n', size);
	g_autofree gchar *event = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root;
	JsonObject *answer;
	const gchar *json;
	gsize json_len;

	if (newline == NULL)
		return 0;
	event = g_strndup((const gchar *)data, (gsize)(newline - data));
	json = (const gchar *)newline + 1;
	json_len = size - (gsize)(newline - data) - 1;
	if (!json_parser_load_from_data(parser, json, (gssize)json_len, NULL))
		return 0;
	root = json_parser_get_root(parser);
	if (root == NULL)
		return 0;

	{
		g_autofree gchar *pretty = usbpass_cli_format_json(root, TRUE);
		g_autofree gchar *compact = usbpass_cli_format_json(root, FALSE);
		g_autoptr(JsonNode) back = NULL;
		usbpass_fuzz_assert_terminal("JSON for the terminal", pretty);
		usbpass_fuzz_assert_terminal("JSON for the terminal", compact);
		g_autofree gchar *plain = json_to_string(root, FALSE);
		/* still JSON, and the same data unless json-glib's lax parser made
		 * invalid UTF-8 of an octal escape, which the CLI shows as U+FFFD */
		back = json_from_string(compact, NULL);
		g_assert(back != NULL);
		if (g_utf8_validate(plain, -1, NULL))
			g_assert(json_node_equal(back, root));
	}
	if (g_utf8_validate(event, -1, NULL)) {
		g_autofree gchar *line = usbpass_cli_format_event(event, root);
		usbpass_fuzz_assert_terminal("usbpass watch", line != NULL ? line : "");
	}
	if (!JSON_NODE_HOLDS_OBJECT(root))
		return 0;
	answer = json_node_get_object(root);

	fuzz_check_list("usbpass list", usbpass_cli_format_devices, answer);
	fuzz_check_list("usbpass list --tree", usbpass_cli_format_tree, answer);
	fuzz_check_list("usbpass status --all", fuzz_format_status, answer);
	fuzz_check_list("usbpass status", fuzz_format_status_some, answer);
	fuzz_check_list("usbpass instances", usbpass_cli_format_instances, answer);
	fuzz_check_list("usbpass audit", usbpass_cli_format_audit, answer);
	fuzz_check_list("usbpass token list", usbpass_cli_format_tokens, answer);
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *created = usbpass_cli_format_token_created(answer, &error);
		g_autofree gchar *policy = usbpass_cli_format_policy(answer);
		g_autofree gchar *check = usbpass_cli_format_policy_check(answer);
		g_autofree gchar *host = usbpass_cli_format_host(answer);
		if (created != NULL)
			usbpass_fuzz_assert_terminal("usbpass token create", created);
		usbpass_fuzz_assert_terminal("usbpass policy show", policy);
		usbpass_fuzz_assert_terminal("usbpass policy check", check);
		usbpass_fuzz_assert_terminal("usbpass host", host);
	}
	fuzz_check_device(answer);
	{
		JsonNode *devices = json_object_get_member(answer, "devices");
		if (devices != NULL && JSON_NODE_HOLDS_ARRAY(devices)) {
			JsonArray *array = json_node_get_array(devices);
			for (guint i = 0; i < json_array_get_length(array) && i < 64; i++) {
				JsonNode *element = json_array_get_element(array, i);
				if (JSON_NODE_HOLDS_OBJECT(element))
					fuzz_check_device(json_node_get_object(element));
			}
		}
	}
	return 0;
}

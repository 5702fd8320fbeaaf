/*
 * usbpass-cli-local.c: the host's USB devices read by the CLI itself
 *
 * See usbpass-cli-local.h. The objects carry the members of
 * usbpass_device_to_json() and then the assignment members of the API's Device
 * (host, present, state, instance_uuid, instance_name, state_error, updated),
 * so that usbpass-cli-format.c and `--json` readers see the usual shape.
 */
#define G_LOG_DOMAIN "UsbpassCli"

#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "usbpass-cli-local.h"
#include "usbpass-device-json.h"
#include "usbpass-error.h"
#include "usbpass-inventory.h"
#include "usbpass-string.h"

gboolean
usbpass_cli_local_daemon_absent(const gchar *socket_path)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(socket_path);
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(socket_path != NULL, FALSE);

	connection =
	  g_socket_client_connect(client, G_SOCKET_CONNECTABLE(address), NULL, &error_local);
	if (connection != NULL)
		return FALSE;
	return g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
	       g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* "0781" -> 0x0781; the API's rule, so that both paths accept the same filters */
static gboolean
usbpass_cli_local_parse_hex16(const gchar *what, const gchar *value, guint16 *out, GError **error)
{
	guint64 parsed = 0;

	if (strlen(value) != 4 ||
	    !g_ascii_string_to_unsigned(value, 16, 0, G_MAXUINT16, &parsed, NULL)) {
		g_autofree gchar *shown = usbpass_string_sanitize(value, -1, 32);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s '%s' is not 4 hex digits",
		            what,
		            shown != NULL ? shown : "");
		return FALSE;
	}
	*out = (guint16)parsed;
	return TRUE;
}

static void
usbpass_cli_local_add_null(JsonBuilder *builder, const gchar *name)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_null_value(builder);
}

JsonObject *
usbpass_cli_local_list_devices(const gchar *vendor_id, const gchar *product_id, GError **error)
{
	g_autoptr(UsbpassInventory) inventory = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *host = usbpass_string_sanitize(g_get_host_name(), -1, 255);
	guint16 vendor = 0;
	guint16 product = 0;

	if (vendor_id != NULL &&
	    !usbpass_cli_local_parse_hex16("vendor_id", vendor_id, &vendor, error))
		return NULL;
	if (product_id != NULL &&
	    !usbpass_cli_local_parse_hex16("product_id", product_id, &product, error))
		return NULL;

	inventory = usbpass_inventory_new();
	if (!usbpass_inventory_enumerate(inventory, error))
		return NULL;
	devices = usbpass_inventory_get_devices(inventory);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "generation");
	json_builder_add_int_value(builder, (gint64)usbpass_inventory_get_generation(inventory));
	json_builder_set_member_name(builder, "devices");
	json_builder_begin_array(builder);
	for (guint i = 0; i < devices->len; i++) {
		const UsbpassDevice *device = g_ptr_array_index(devices, i);
		if (vendor_id != NULL && device->vendor_id != vendor)
			continue;
		if (product_id != NULL && device->product_id != product)
			continue;
		json_builder_begin_object(builder);
		usbpass_device_to_json(device, builder);
		json_builder_set_member_name(builder, "host");
		if (host != NULL)
			json_builder_add_string_value(builder, host);
		else
			json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "present");
		json_builder_add_boolean_value(builder, TRUE);
		json_builder_set_member_name(builder, "state");
		json_builder_add_string_value(builder, USBPASS_CLI_LOCAL_STATE);
		usbpass_cli_local_add_null(builder, "instance_uuid");
		usbpass_cli_local_add_null(builder, "instance_name");
		usbpass_cli_local_add_null(builder, "state_error");
		usbpass_cli_local_add_null(builder, "updated");
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_object_ref(json_node_get_object(root));
}

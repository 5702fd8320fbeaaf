/*
 * usbpass-device-json.c: the stable JSON form of a UsbpassDevice
 */
#define G_LOG_DOMAIN "UsbpassInventory"

#include "config.h"

#include "usbpass-device-json.h"
#include "usbpass-error.h"
#include "usbpass-identity.h"
#include "usbpass-string.h"

#include <string.h>

/* USB allows 32 interfaces per configuration */
#define INTERFACES_MAX 32
/* longer texts than a descriptor string: a name joins two, messages list problems */
#define TEXT_MAX_BYTES    1024
#define SYSPATH_MAX_BYTES 4096

static void
add_string(JsonBuilder *builder, const gchar *member, const gchar *value)
{
	json_builder_set_member_name(builder, member);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static void
add_int(JsonBuilder *builder, const gchar *member, gint64 value)
{
	json_builder_set_member_name(builder, member);
	json_builder_add_int_value(builder, value);
}

static void
add_bool(JsonBuilder *builder, const gchar *member, gboolean value)
{
	json_builder_set_member_name(builder, member);
	json_builder_add_boolean_value(builder, value);
}

static void
add_hex16(JsonBuilder *builder, const gchar *member, guint16 value)
{
	gchar buf[5];
	g_snprintf(buf, sizeof(buf), "%04x", value);
	add_string(builder, member, buf);
}

/**
 * usbpass_device_to_json:
 * @device: a record
 * @builder: a builder inside an object (after json_builder_begin_object())
 *
 * Writes the members of docs/inventory-json.md, so that a caller can add its
 * own (state, host) to the same object.
 */
void
usbpass_device_to_json(const UsbpassDevice *device, JsonBuilder *builder)
{
	g_return_if_fail(device != NULL);
	g_return_if_fail(JSON_IS_BUILDER(builder));

	add_string(builder, "id", device->id);
	add_string(builder, "id_kind", device->id_kind);
	add_string(builder, "id_conflict", device->id_conflict);
	add_string(builder, "syspath", device->syspath);
	add_string(builder, "port", device->port);
	add_string(builder, "parent_port", device->parent_port);
	add_int(builder, "bus", device->bus);
	add_int(builder, "device", device->device);
	add_hex16(builder, "vendor_id", device->vendor_id);
	add_hex16(builder, "product_id", device->product_id);
	add_hex16(builder, "bcd_device", device->bcd_device);
	add_string(builder, "manufacturer", device->manufacturer);
	add_string(builder, "product", device->product);
	add_string(builder, "serial", device->serial);
	add_string(builder, "vendor_name", device->vendor_name);
	add_string(builder, "product_name", device->product_name);
	add_string(builder, "name", device->name);
	add_int(builder, "device_class", device->device_class);
	add_int(builder, "device_subclass", device->device_subclass);
	add_int(builder, "device_protocol", device->device_protocol);
	add_string(builder, "class_name", usbpass_device_get_class_name(device));

	json_builder_set_member_name(builder, "interfaces");
	json_builder_begin_array(builder);
	for (guint i = 0; device->interfaces != NULL && i < device->interfaces->len; i++) {
		const UsbpassInterface *iface = g_ptr_array_index(device->interfaces, i);
		json_builder_begin_object(builder);
		add_int(builder, "number", iface->number);
		add_int(builder, "class", iface->interface_class);
		add_int(builder, "subclass", iface->interface_subclass);
		add_int(builder, "protocol", iface->interface_protocol);
		add_string(
		  builder, "class_name", usbpass_usb_class_to_string(iface->interface_class));
		add_string(builder, "driver", iface->driver);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);

	add_string(builder, "speed", device->speed);
	add_int(builder, "speed_mbps", device->speed_mbps);
	add_bool(builder, "is_hub", device->is_hub);
	add_bool(builder, "is_root_hub", device->is_root_hub);
	add_int(builder, "num_ports", device->num_ports);

	json_builder_set_member_name(builder, "controller");
	if (device->controller_pci_address != NULL || device->controller_name != NULL) {
		json_builder_begin_object(builder);
		add_string(builder, "pci_address", device->controller_pci_address);
		add_string(builder, "name", device->controller_name);
		json_builder_end_object(builder);
	} else {
		json_builder_add_null_value(builder);
	}
	add_string(builder, "error", device->error);
}

/**
 * usbpass_device_to_json_node:
 * @device: a record
 *
 * Records never change once shared, so the node is built once per record and
 * then shared by every answer that holds the device.
 *
 * Returns: (transfer full): a sealed object node with the members of
 * usbpass_device_to_json()
 */
JsonNode *
usbpass_device_to_json_node(const UsbpassDevice *device)
{
	/* the cache is not part of the record's value: filling it keeps the record const */
	UsbpassDevice *record = (UsbpassDevice *)device;
	JsonNode *node;

	g_return_val_if_fail(device != NULL, NULL);

	node = g_atomic_pointer_get(&record->json_cache);
	if (node == NULL) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		JsonNode *built;
		json_builder_begin_object(builder);
		usbpass_device_to_json(device, builder);
		json_builder_end_object(builder);
		built = json_builder_get_root(builder);
		json_node_seal(built);
		/* another thread may have been first: keep its node */
		if (g_atomic_pointer_compare_and_exchange(&record->json_cache, NULL, built))
			node = built;
		else {
			json_node_unref(built);
			node = g_atomic_pointer_get(&record->json_cache);
		}
	}
	return json_node_ref(node);
}

/**
 * usbpass_inventory_devices_to_json:
 * @devices: (element-type UsbpassDevice): the devices, in the order to show
 *
 * Returns: (transfer full): an object whose "devices" array holds one object
 * per device; the device objects are sealed and shared with the records' caches
 */
JsonNode *
usbpass_inventory_devices_to_json(GPtrArray *devices)
{
	JsonArray *array;
	JsonObject *object;
	JsonNode *root;

	g_return_val_if_fail(devices != NULL, NULL);

	/* the devices' cached sealed nodes are shared, not copied */
	array = json_array_sized_new(devices->len);
	for (guint i = 0; i < devices->len; i++)
		json_array_add_element(array,
		                       usbpass_device_to_json_node(g_ptr_array_index(devices, i)));
	object = json_object_new();
	json_object_set_array_member(object, "devices", array);
	root = json_node_init_object(json_node_alloc(), object);
	json_object_unref(object);
	return root;
}

/* --- parsing: every member is checked for its type; null means absent --- */

static JsonNode *
get_member(JsonObject *object, const gchar *member)
{
	JsonNode *node = json_object_get_member(object, member);
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return NULL;
	return node;
}

static gboolean
read_string(JsonObject *object, const gchar *member, gsize max_bytes, gchar **value, GError **error)
{
	JsonNode *node = get_member(object, member);
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be a string or null",
		            member);
		return FALSE;
	}
	g_free(*value);
	*value = usbpass_string_sanitize(json_node_get_string(node), -1, max_bytes);
	return TRUE;
}

static gboolean
read_uint(JsonObject *object, const gchar *member, guint64 max, guint64 *value, GError **error)
{
	JsonNode *node = get_member(object, member);
	gint64 number;
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be an integer",
		            member);
		return FALSE;
	}
	number = json_node_get_int(node);
	if (number < 0 || (guint64)number > max) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be from 0 to %" G_GUINT64_FORMAT
		            ", not %" G_GINT64_FORMAT,
		            member,
		            max,
		            number);
		return FALSE;
	}
	*value = (guint64)number;
	return TRUE;
}

static gboolean
read_bool(JsonObject *object, const gchar *member, gboolean *value, GError **error)
{
	JsonNode *node = get_member(object, member);
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be true or false",
		            member);
		return FALSE;
	}
	*value = json_node_get_boolean(node);
	return TRUE;
}

static gboolean
read_hex16(JsonObject *object,
           const gchar *member,
           gboolean required,
           guint16 *value,
           GError **error)
{
	JsonNode *node = get_member(object, member);
	const gchar *text;
	guint64 number = 0;

	if (node == NULL) {
		if (!required)
			return TRUE;
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' is missing",
		            member);
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be a string of 4 hex digits",
		            member);
		return FALSE;
	}
	text = json_node_get_string(node);
	for (guint i = 0; i < 4; i++) {
		if (!g_ascii_isxdigit(text[i]) || g_ascii_isupper(text[i])) {
			number = G_MAXUINT64;
			break;
		}
	}
	if (number == G_MAXUINT64 || strlen(text) != 4 ||
	    !usbpass_string_parse_uint(text, 16, 0, G_MAXUINT16, &number, NULL)) {
		g_autofree gchar *shown = usbpass_string_sanitize(text, -1, 16);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member '%s' must be 4 lower-case hex digits, not '%s'",
		            member,
		            shown != NULL ? shown : "");
		return FALSE;
	}
	*value = (guint16)number;
	return TRUE;
}

static UsbpassInterface *
interface_from_json(JsonNode *node, GError **error)
{
	JsonObject *object;
	g_autoptr(UsbpassInterface) iface = usbpass_interface_new();
	guint64 number = 0;
	guint64 iface_class = 0;
	guint64 subclass = 0;
	guint64 protocol = 0;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "an interface must be an object");
		return NULL;
	}
	object = json_node_get_object(node);
	if (!read_uint(object, "number", G_MAXUINT8, &number, error) ||
	    !read_uint(object, "class", G_MAXUINT8, &iface_class, error) ||
	    !read_uint(object, "subclass", G_MAXUINT8, &subclass, error) ||
	    !read_uint(object, "protocol", G_MAXUINT8, &protocol, error) ||
	    !read_string(object, "driver", USBPASS_STRING_MAX_BYTES, &iface->driver, error)) {
		g_prefix_error(error, "interface: ");
		return NULL;
	}
	iface->number = (guint8)number;
	iface->interface_class = (guint8)iface_class;
	iface->interface_subclass = (guint8)subclass;
	iface->interface_protocol = (guint8)protocol;
	return g_steal_pointer(&iface);
}

static gboolean
read_interfaces(JsonObject *object, UsbpassDevice *device, GError **error)
{
	JsonNode *node = get_member(object, "interfaces");
	JsonArray *array;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "member 'interfaces' must be an array");
		return FALSE;
	}
	array = json_node_get_array(node);
	if (json_array_get_length(array) > INTERFACES_MAX) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member 'interfaces' holds %u entries, at most %u are allowed",
		            json_array_get_length(array),
		            (guint)INTERFACES_MAX);
		return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(array); i++) {
		UsbpassInterface *iface =
		  interface_from_json(json_array_get_element(array, i), error);
		if (iface == NULL)
			return FALSE;
		g_ptr_array_add(device->interfaces, iface);
	}
	return TRUE;
}

static gboolean
read_controller(JsonObject *object, UsbpassDevice *device, GError **error)
{
	JsonNode *node = get_member(object, "controller");
	JsonObject *controller;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "member 'controller' must be an object or null");
		return FALSE;
	}
	controller = json_node_get_object(node);
	if (!read_string(controller,
	                 "pci_address",
	                 USBPASS_STRING_MAX_BYTES,
	                 &device->controller_pci_address,
	                 error) ||
	    !read_string(controller, "name", TEXT_MAX_BYTES, &device->controller_name, error)) {
		g_prefix_error(error, "controller: ");
		return FALSE;
	}
	return TRUE;
}

/**
 * usbpass_device_from_json:
 * @object: an object as written by usbpass_device_to_json()
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when a member has the wrong
 *   type or range, or "id", "vendor_id" or "product_id" is missing
 *
 * Reads a device back, for the REST client. Unknown members are ignored, a
 * missing or null member leaves its field empty; "class_name" is derived, not
 * read. Every string is sanitised.
 *
 * Returns: (transfer full): a new record, or %NULL
 */
UsbpassDevice *
usbpass_device_from_json(JsonObject *object, GError **error)
{
	g_autoptr(UsbpassDevice) device = usbpass_device_new();
	guint64 bus = 0;
	guint64 address = 0;
	guint64 device_class = 0;
	guint64 device_subclass = 0;
	guint64 device_protocol = 0;
	guint64 speed_mbps = 0;
	guint64 num_ports = 0;
	const struct {
		const gchar *member;
		gsize max_bytes;
		gchar **field;
	} strings[] = {
		{ "id", USBPASS_STRING_MAX_BYTES, &device->id },
		{ "id_kind", USBPASS_STRING_MAX_BYTES, &device->id_kind },
		{ "id_conflict", TEXT_MAX_BYTES, &device->id_conflict },
		{ "syspath", SYSPATH_MAX_BYTES, &device->syspath },
		{ "port", USBPASS_STRING_MAX_BYTES, &device->port },
		{ "parent_port", USBPASS_STRING_MAX_BYTES, &device->parent_port },
		{ "manufacturer", USBPASS_STRING_MAX_BYTES, &device->manufacturer },
		{ "product", USBPASS_STRING_MAX_BYTES, &device->product },
		{ "serial", USBPASS_STRING_MAX_BYTES, &device->serial },
		{ "vendor_name", USBPASS_STRING_MAX_BYTES, &device->vendor_name },
		{ "product_name", USBPASS_STRING_MAX_BYTES, &device->product_name },
		{ "name", TEXT_MAX_BYTES, &device->name },
		{ "speed", USBPASS_STRING_MAX_BYTES, &device->speed },
		{ "error", TEXT_MAX_BYTES, &device->error },
	};

	g_return_val_if_fail(object != NULL, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
		if (!read_string(
		      object, strings[i].member, strings[i].max_bytes, strings[i].field, error))
			return NULL;
	}
	if (device->id == NULL) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "member 'id' is missing");
		return NULL;
	}
	if (!usbpass_identity_split(device->id, NULL, NULL, error)) {
		g_prefix_error(error, "member 'id': ");
		return NULL;
	}
	if (device->id_kind != NULL &&
	    g_strcmp0(device->id_kind, USBPASS_IDENTITY_KIND_SERIAL) != 0 &&
	    g_strcmp0(device->id_kind, USBPASS_IDENTITY_KIND_PORT) != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "member 'id_kind' must be '%s' or '%s', not '%s'",
		            USBPASS_IDENTITY_KIND_SERIAL,
		            USBPASS_IDENTITY_KIND_PORT,
		            device->id_kind);
		return NULL;
	}
	if (!read_hex16(object, "vendor_id", TRUE, &device->vendor_id, error) ||
	    !read_hex16(object, "product_id", TRUE, &device->product_id, error) ||
	    !read_hex16(object, "bcd_device", FALSE, &device->bcd_device, error) ||
	    !read_uint(object, "bus", G_MAXUINT8, &bus, error) ||
	    !read_uint(object, "device", G_MAXUINT8, &address, error) ||
	    !read_uint(object, "device_class", G_MAXUINT8, &device_class, error) ||
	    !read_uint(object, "device_subclass", G_MAXUINT8, &device_subclass, error) ||
	    !read_uint(object, "device_protocol", G_MAXUINT8, &device_protocol, error) ||
	    !read_uint(object, "speed_mbps", G_MAXUINT32, &speed_mbps, error) ||
	    !read_uint(object, "num_ports", G_MAXUINT8, &num_ports, error) ||
	    !read_bool(object, "is_hub", &device->is_hub, error) ||
	    !read_bool(object, "is_root_hub", &device->is_root_hub, error) ||
	    !read_interfaces(object, device, error) || !read_controller(object, device, error))
		return NULL;
	device->bus = (guint)bus;
	device->device = (guint)address;
	device->device_class = (guint8)device_class;
	device->device_subclass = (guint8)device_subclass;
	device->device_protocol = (guint8)device_protocol;
	device->speed_mbps = (guint)speed_mbps;
	device->num_ports = (guint)num_ports;
	return g_steal_pointer(&device);
}

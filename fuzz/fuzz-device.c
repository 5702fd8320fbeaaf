/*
 * fuzz-device.c: device strings and sysfs attributes -> every form usbpass gives a device
 *
 * Builds UsbpassDevice records the way usbpass-device-reader.c does (the
 * "descriptors" attribute through the reader's own parser, every string
 * through usbpass_string_sanitize() with the reader's limits), names them,
 * gives them identities, and pushes them through the inventory JSON, the
 * REST API's device JSON, the CLI's tables and the libvirt hostdev XML.
 * Asserted: every output is valid UTF-8 without control characters (a table
 * may hold '\n'), identities are valid and unique, the JSON reads back to an
 * equal record, the XML reads back to the same hostdev.
 *
 * Input: a 21-byte header, then fields separated by "\x1e\x1e" (a missing
 * field is a missing attribute file):
 *   header  0-1 idVendor, 2-3 idProduct, 4-5 bcdDevice (LE), 6-8 class,
 *           subclass, protocol, 9 busnum, 10 devnum, 11 bConfigurationValue,
 *           12 maxchild, 13 interfaces without descriptors, 14 their class,
 *           15-16 PCI vendor, 17-18 PCI device, 19 copies sharing the
 *           serial, 20 state of the store row
 *   fields  0 kernel name, 1 syspath, 2 manufacturer, 3 product, 4 serial,
 *           5 speed, 6 descriptors (binary), 7 interface driver, 8 PCI
 *           address of the controller, 9 host name, 10 instance name
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/usbpass-api-json.h"
#include "cli/usbpass-cli-format.h"
#include "drivers/libvirt/usbpass-libvirt-xml.h"
#include "inventory/usbpass-device-json.h"
#include "inventory/usbpass-device-reader-private.h"
#include "inventory/usbpass-identity.h"
#include "inventory/usbpass-names.h"
#include "usbpass-fuzz.h"
#include "usbpass-string.h"

#define HEADER_LEN 21
/* the reader's limits (usbpass-device-reader.c) */
#define TEXT_ATTR_MAX   4096
#define DESCRIPTORS_MAX (18 + 4 * 65535)

enum {
	FIELD_NAME,
	FIELD_SYSPATH,
	FIELD_MANUFACTURER,
	FIELD_PRODUCT,
	FIELD_SERIAL,
	FIELD_SPEED,
	FIELD_DESCRIPTORS,
	FIELD_DRIVER,
	FIELD_PCI_ADDRESS,
	FIELD_HOST,
	FIELD_INSTANCE,
};

static UsbpassNames *names = NULL;
static gchar *attr_dir = NULL; /* holds bConfigurationValue */

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	usbpass_fuzz_init();
	names = usbpass_names_new();
	attr_dir = g_dir_make_tmp("usbpass-fuzz-device-XXXXXX", NULL);
	g_assert(attr_dir != NULL);
	return 0;
}

static guint16
fuzz_le16(const UsbpassFuzzInput *input, gsize offset)
{
	return (guint16)(usbpass_fuzz_input_get_byte(input, offset) |
	                 (usbpass_fuzz_input_get_byte(input, offset + 1) << 8));
}

/* an attribute file as the reader reads it: at most @max bytes */
static gchar *
fuzz_read_string(const UsbpassFuzzInput *input, guint field, gsize max_bytes)
{
	gsize len = 0;
	const guint8 *raw = usbpass_fuzz_input_get_field(input, field, &len);
	if (raw == NULL)
		return NULL;
	return usbpass_string_sanitize(
	  (const gchar *)raw, (gssize)MIN(len, TEXT_ATTR_MAX), max_bytes);
}

/* usbpass_parent_port() of the reader */
static gchar *
fuzz_parent_port(const gchar *syspath)
{
	const gchar *last = strrchr(syspath, '/');
	const gchar *before;
	if (last == NULL || last == syspath)
		return NULL;
	before = g_strrstr_len(syspath, last - syspath, "/");
	if (before == NULL)
		return NULL;
	return usbpass_string_sanitize(before + 1, last - before - 1, USBPASS_STRING_MAX_BYTES);
}

static void
fuzz_add_problem(GPtrArray *problems, const gchar *what, const gchar *why)
{
	g_ptr_array_add(problems, g_strdup_printf("%s: %s", what, why));
}

static UsbpassDevice *
fuzz_build_device(const UsbpassFuzzInput *input)
{
	g_autoptr(UsbpassDevice) device = usbpass_device_new();
	g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *name = usbpass_fuzz_input_dup_field(input, FIELD_NAME);
	g_autofree gchar *syspath = usbpass_fuzz_input_dup_field(input, FIELD_SYSPATH);
	g_autofree gchar *driver = NULL;
	const guint8 *descriptors;
	gsize descriptors_len = 0;
	gboolean have_descriptors = FALSE;
	guint8 bus = usbpass_fuzz_input_get_byte(input, 9);
	guint8 devnum = usbpass_fuzz_input_get_byte(input, 10);
	gsize speed_len = 0;
	const guint8 *speed;

	/* udev never gives an empty name or path */
	if (name == NULL || name[0] == '\0') {
		g_free(name);
		name = g_strdup("1-1");
	}
	if (syspath == NULL || syspath[0] == '\0') {
		g_free(syspath);
		syspath = g_strconcat("/sys/devices/pci0000:00/0000:00:14.0/usb1/", name, NULL);
	}
	device->syspath = usbpass_string_sanitize(syspath, -1, 4096);
	device->port = usbpass_string_sanitize(name, -1, USBPASS_STRING_MAX_BYTES);
	device->is_root_hub = g_str_has_prefix(name, "usb");
	if (!device->is_root_hub)
		device->parent_port = fuzz_parent_port(syspath);
	if (bus >= 1)
		device->bus = bus;
	else
		fuzz_add_problem(problems, "busnum", "'0' is not a decimal number from 1 to 255");
	if (devnum >= 1 && devnum <= 127)
		device->device = devnum;
	else
		fuzz_add_problem(problems, "devnum", "not a decimal number from 1 to 127");

	descriptors = usbpass_fuzz_input_get_field(input, FIELD_DESCRIPTORS, &descriptors_len);
	if (descriptors != NULL) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = g_build_filename(attr_dir, "bConfigurationValue", NULL);
		g_autofree gchar *value =
		  g_strdup_printf("%u\n", usbpass_fuzz_input_get_byte(input, 11));
		guint config_value = 1;

		FILE *file = fopen(path, "w");
		/* not g_file_set_contents(): its fsync would make every run wait for the disk */
		g_assert(file != NULL);
		fputs(value, file);
		fclose(file);
		have_descriptors =
		  usbpass_device_reader_parse_descriptors(device,
		                                          attr_dir,
		                                          descriptors,
		                                          MIN(descriptors_len, DESCRIPTORS_MAX),
		                                          &config_value,
		                                          &error);
		if (!have_descriptors) {
			g_assert(error != NULL);
			usbpass_fuzz_assert_text("descriptors error", error->message, NULL);
			fuzz_add_problem(problems, "descriptors", error->message);
		} else {
			g_assert(config_value <= 255);
		}
	}
	driver = fuzz_read_string(input, FIELD_DRIVER, USBPASS_STRING_MAX_BYTES);
	if (!have_descriptors) {
		guint n_interfaces = usbpass_fuzz_input_get_byte(input, 13) % 5;
		g_ptr_array_set_size(device->interfaces, 0);
		device->vendor_id = fuzz_le16(input, 0);
		device->product_id = fuzz_le16(input, 2);
		device->bcd_device = fuzz_le16(input, 4);
		device->device_class = usbpass_fuzz_input_get_byte(input, 6);
		device->device_subclass = usbpass_fuzz_input_get_byte(input, 7);
		device->device_protocol = usbpass_fuzz_input_get_byte(input, 8);
		for (guint i = 0; i < n_interfaces; i++) {
			UsbpassInterface *iface = usbpass_interface_new();
			iface->number = (guint8)i;
			iface->interface_class = usbpass_fuzz_input_get_byte(input, 14);
			iface->driver = g_strdup(driver);
			g_ptr_array_add(device->interfaces, iface);
		}
	} else {
		for (guint i = 0; i < device->interfaces->len; i++) {
			UsbpassInterface *iface = g_ptr_array_index(device->interfaces, i);
			iface->driver = g_strdup(driver);
		}
	}

	device->manufacturer =
	  fuzz_read_string(input, FIELD_MANUFACTURER, USBPASS_STRING_MAX_BYTES);
	device->product = fuzz_read_string(input, FIELD_PRODUCT, USBPASS_STRING_MAX_BYTES);
	device->serial = fuzz_read_string(input, FIELD_SERIAL, USBPASS_STRING_MAX_BYTES);
	speed = usbpass_fuzz_input_get_field(input, FIELD_SPEED, &speed_len);
	if (speed == NULL) {
		fuzz_add_problem(problems, "speed", "missing");
	} else {
		device->speed = fuzz_read_string(input, FIELD_SPEED, 16);
		device->speed_mbps = usbpass_usb_speed_to_mbps(device->speed);
		if (device->speed_mbps == 0 && g_strcmp0(device->speed, "unknown") != 0) {
			g_autofree gchar *why = g_strdup_printf(
			  "'%s' is not a speed", device->speed != NULL ? device->speed : "");
			fuzz_add_problem(problems, "speed", why);
		}
	}
	device->is_hub = usbpass_device_has_class(device, 9);
	if (device->is_hub)
		device->num_ports = usbpass_fuzz_input_get_byte(input, 12);
	if (strstr(syspath, "/usb") != NULL) {
		g_autofree gchar *pci = usbpass_fuzz_input_dup_field(input, FIELD_PCI_ADDRESS);
		device->controller_pci_address =
		  usbpass_string_sanitize(pci, -1, USBPASS_STRING_MAX_BYTES);
		device->controller_name = g_strdup(
		  usbpass_names_get_pci_device(names, fuzz_le16(input, 15), fuzz_le16(input, 17)));
	}
	usbpass_names_apply(names, device);
	if (problems->len > 0) {
		g_ptr_array_add(problems, NULL);
		device->error = g_strjoinv("; ", (gchar **)problems->pdata);
	}
	return g_steal_pointer(&device);
}

static void
fuzz_assert_device(const UsbpassDevice *device)
{
	const struct {
		const gchar *what;
		const gchar *value;
	} strings[] = {
		{ "id_kind", device->id_kind },
		{ "id_conflict", device->id_conflict },
		{ "syspath", device->syspath },
		{ "port", device->port },
		{ "parent_port", device->parent_port },
		{ "manufacturer", device->manufacturer },
		{ "product", device->product },
		{ "serial", device->serial },
		{ "speed", device->speed },
		{ "controller_pci_address", device->controller_pci_address },
		{ "controller_name", device->controller_name },
		{ "error", device->error },
	};

	if (!usbpass_identity_is_valid(device->id))
		usbpass_fuzz_assert_text("invalid identity", "", NULL);
	usbpass_fuzz_assert_text("id", device->id, NULL);
	usbpass_fuzz_assert_text("vendor_name", device->vendor_name, NULL);
	usbpass_fuzz_assert_text("product_name", device->product_name, NULL);
	usbpass_fuzz_assert_text("name", device->name, NULL);
	usbpass_fuzz_assert_text("class name", usbpass_device_get_class_name(device), NULL);
	for (guint i = 0; i < G_N_ELEMENTS(strings); i++)
		usbpass_fuzz_assert_text_or_null(strings[i].what, strings[i].value, NULL);
	for (guint i = 0; i < device->interfaces->len; i++) {
		const UsbpassInterface *iface = g_ptr_array_index(device->interfaces, i);
		usbpass_fuzz_assert_text_or_null("interface driver", iface->driver, NULL);
		if (i > 0) {
			const UsbpassInterface *prev = g_ptr_array_index(device->interfaces, i - 1);
			g_assert(prev->number < iface->number);
		}
	}
	g_assert(device->interfaces->len <= 32);
}

/* the inventory JSON, text and back */
static void
fuzz_check_inventory_json(GPtrArray *devices)
{
	g_autoptr(JsonNode) node = usbpass_inventory_devices_to_json(devices);
	g_autofree gchar *text = json_to_string(node, FALSE);
	g_autoptr(JsonNode) parsed = NULL;
	g_autoptr(GError) error = NULL;
	JsonArray *array;

	usbpass_fuzz_assert_text("inventory JSON", text, NULL);
	parsed = json_from_string(text, &error);
	g_assert_no_error(error);
	g_assert(JSON_NODE_HOLDS_OBJECT(parsed));
	array = json_object_get_array_member(json_node_get_object(parsed), "devices");
	g_assert(array != NULL);
	g_assert(json_array_get_length(array) == devices->len);
	for (guint i = 0; i < devices->len; i++) {
		g_autoptr(UsbpassDevice) back = NULL;
		back = usbpass_device_from_json(json_array_get_object_element(array, i), &error);
		g_assert_no_error(error);
		g_assert(back != NULL);
		if (!usbpass_device_equal(g_ptr_array_index(devices, i), back)) {
			g_autoptr(JsonNode) node_back = usbpass_device_to_json_node(back);
			g_autofree gchar *text_back = json_to_string(node_back, FALSE);
			g_printerr("usbpass-fuzz: JSON round trip of device %u changed it:\n%s\n"
			           "read back as:\n%s\n",
			           i,
			           text,
			           text_back);
			abort();
		}
	}
}

/* the REST API's device objects, as `usbpass list` and `usbpass status` show them */
static void
fuzz_check_tables(const UsbpassFuzzInput *input, GPtrArray *devices, const gchar *host)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(UsbpassStoreDevice) record = usbpass_store_device_new();
	g_autofree gchar *instance = fuzz_read_string(input, FIELD_INSTANCE, 256);
	JsonObject *answer;
	JsonArray *array;
	UsbpassCliFormatFlags flags[] = { USBPASS_CLI_FORMAT_NONE, USBPASS_CLI_FORMAT_WIDE };

	record->state = usbpass_fuzz_input_get_byte(input, 20) % USBPASS_DEVICE_STATE_LAST;
	record->instance_name = g_strdup(instance);
	record->instance_uuid =
	  instance != NULL ? g_strdup("8a5d1f4e-2b7c-4c39-9f0e-1d2c3b4a5968") : NULL;
	record->updated_usec = G_GINT64_CONSTANT(1700000000) * G_USEC_PER_SEC;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "devices");
	json_builder_begin_array(builder);
	for (guint i = 0; i < devices->len; i++) {
		const UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_free(record->device_id);
		record->device_id = g_strdup(device->id);
		usbpass_api_json_add_device(builder, host, device, i == 0 ? record : NULL, TRUE);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	answer = json_node_get_object(root);

	for (guint f = 0; f < G_N_ELEMENTS(flags); f++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *list = usbpass_cli_format_devices(answer, flags[f], &error);
		g_autofree gchar *tree = NULL;
		g_autofree gchar *status = NULL;
		g_assert_no_error(error);
		usbpass_fuzz_assert_terminal("usbpass list", list);
		tree = usbpass_cli_format_tree(answer, flags[f], &error);
		g_assert_no_error(error);
		usbpass_fuzz_assert_terminal("usbpass list --tree", tree);
		status = usbpass_cli_format_status(answer, TRUE, flags[f], &error);
		g_assert_no_error(error);
		usbpass_fuzz_assert_terminal("usbpass status", status);
	}
	array = json_object_get_array_member(answer, "devices");
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonObject *object = json_array_get_object_element(array, i);
		g_autofree gchar *shown = usbpass_cli_format_device(object);
		g_autofree gchar *attached = usbpass_cli_format_assignment(object, TRUE, instance);
		g_autofree gchar *json =
		  usbpass_cli_format_json(json_array_get_element(array, i), TRUE);
		usbpass_fuzz_assert_terminal("usbpass show", shown);
		usbpass_fuzz_assert_terminal("usbpass attach", attached);
		usbpass_fuzz_assert_terminal("usbpass show --json", json);
	}
}

/* the hostdev XML usbpass would attach, and read back from a domain */
static void
fuzz_check_xml(const UsbpassDevice *device)
{
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *element = NULL;
	g_autofree gchar *domain = NULL;
	g_autoptr(GPtrArray) parsed = NULL;
	const UsbpassHostdev *back;

	hostdev->vendor_id = device->vendor_id;
	hostdev->product_id = device->product_id;
	hostdev->bus = device->bus;
	hostdev->device = device->device;
	element = usbpass_libvirt_xml_build_hostdev(hostdev, &error);
	if (element == NULL) {
		g_assert(error != NULL);
		return;
	}
	usbpass_fuzz_assert_text("hostdev XML", element, NULL);
	domain = usbpass_libvirt_xml_add_hostdev(
	  "<domain type='kvm'><name>fuzz</name><devices/></domain>", hostdev, &error);
	g_assert_no_error(error);
	parsed = usbpass_libvirt_xml_parse_hostdevs(domain, FALSE, &error);
	/* libvirt's grammar has no vendor id 0: the reader refuses it as libvirt
	 * does, so such a device's attach fails at the hypervisor, not here */
	if (parsed == NULL && hostdev->vendor_id == 0 && hostdev->product_id != 0) {
		g_assert(g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA));
		return;
	}
	g_assert_no_error(error);
	g_assert(parsed->len == 1);
	back = g_ptr_array_index(parsed, 0);
	g_assert(usbpass_hostdev_matches(back, hostdev));
	g_assert(back->vendor_id == hostdev->vendor_id);
	g_assert(back->product_id == hostdev->product_id);
	g_assert(back->bus == hostdev->bus);
	if (hostdev->bus != 0)
		g_assert(back->device == hostdev->device);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autoptr(UsbpassFuzzInput) input = usbpass_fuzz_input_new(data, size, HEADER_LEN);
	g_autoptr(UsbpassDevice) first = fuzz_build_device(input);
	g_autoptr(GPtrArray) devices =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_autofree gchar *host = usbpass_fuzz_input_dup_field(input, FIELD_HOST);
	guint copies = 1 + usbpass_fuzz_input_get_byte(input, 19) % 3;

	g_ptr_array_add(devices, usbpass_device_ref(first));
	/* the same device in other ports: a shared serial must not give shared identities */
	for (guint i = 1; i < copies; i++) {
		UsbpassDevice *copy = usbpass_device_copy(first);
		g_autofree gchar *port = copy->port;
		g_autofree gchar *longer = g_strdup_printf("%s.%u", port != NULL ? port : "1", i);
		/* within the reader's limit, as a kernel name would be */
		copy->port = usbpass_string_sanitize(longer, -1, USBPASS_STRING_MAX_BYTES);
		copy->is_root_hub = FALSE;
		usbpass_device_invalidate(copy);
		g_ptr_array_add(devices, copy);
	}
	usbpass_identity_assign(devices);
	for (guint i = 0; i < devices->len; i++) {
		const UsbpassDevice *device = g_ptr_array_index(devices, i);
		fuzz_assert_device(device);
		for (guint j = 0; j < i; j++) {
			const UsbpassDevice *other = g_ptr_array_index(devices, j);
			if (g_strcmp0(device->port, other->port) != 0)
				g_assert_cmpstr(device->id, !=, other->id);
		}
	}

	/* a host-qualified identity splits back into its parts */
	if (host != NULL && usbpass_string_is_identifier(host, 253)) {
		g_autofree gchar *qualified = usbpass_identity_qualify(host, first->id);
		g_autofree gchar *host_back = NULL;
		g_autofree gchar *id_back = NULL;
		g_assert(usbpass_identity_split(qualified, &host_back, &id_back, NULL));
		g_assert_cmpstr(host_back, ==, host);
		g_assert_cmpstr(id_back, ==, first->id);
	} else {
		g_clear_pointer(&host, g_free);
		host = g_strdup("fuzzhost");
	}

	fuzz_check_inventory_json(devices);
	fuzz_check_tables(input, devices, host);
	fuzz_check_xml(first);
	return 0;
}

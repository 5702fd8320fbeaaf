/*
 * test-inventory-unit.c: the inventory's pure parts, without udev or umockdev
 *
 * Device records, class names, port order, identities, names (with the hwdb
 * when installed), the JSON mapping and the batch logic of the inventory fed
 * through usbpass_inventory_apply_snapshot().
 */
#include "config.h"

#include <string.h>

#include "usbpass-device-json.h"
#include "usbpass-error.h"
#include "usbpass-identity.h"
#include "usbpass-inventory-private.h"
#include "usbpass-names.h"
#include "usbpass-string.h"

/* --- helpers --- */

static UsbpassDevice *
make_device(guint bus,
            guint address,
            const gchar *port,
            guint16 vendor_id,
            guint16 product_id,
            const gchar *serial)
{
	UsbpassDevice *device = usbpass_device_new();
	device->bus = bus;
	device->device = address;
	device->port = g_strdup(port);
	device->syspath =
	  g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb%u/%s", bus, port);
	device->is_root_hub = g_str_has_prefix(port, "usb");
	device->vendor_id = vendor_id;
	device->product_id = product_id;
	device->bcd_device = 0x0100;
	device->serial = g_strdup(serial);
	device->manufacturer = g_strdup("Maker");
	device->product = g_strdup("Gadget");
	device->vendor_name = g_strdup("Maker");
	device->product_name = g_strdup("Gadget");
	device->name = g_strdup("Maker Gadget");
	device->speed = g_strdup("480");
	device->speed_mbps = 480;
	return device;
}

static void
add_interface(UsbpassDevice *device, guint8 number, guint8 iface_class, const gchar *driver)
{
	UsbpassInterface *iface = usbpass_interface_new();
	iface->number = number;
	iface->interface_class = iface_class;
	iface->driver = g_strdup(driver);
	g_ptr_array_add(device->interfaces, iface);
}

/* every field set, with strings that need escaping */
static UsbpassDevice *
make_full_device(void)
{
	UsbpassDevice *device = make_device(3, 17, "3-1.4.2", 0x0781, 0x5567, "4C53\"<&>'0001");
	g_free(device->manufacturer);
	device->manufacturer = g_strdup("Evil \"Corp\" <b>&amp;</b> \\ \u00e9\u2026");
	device->parent_port = g_strdup("3-1.4");
	device->id = g_strdup("0781:5567:s:xabc");
	device->id_kind = g_strdup("serial");
	device->id_conflict = g_strdup("none really");
	device->device_class = 0xef;
	device->device_subclass = 2;
	device->device_protocol = 1;
	device->is_hub = TRUE;
	device->num_ports = 4;
	device->controller_pci_address = g_strdup("0000:00:14.0");
	device->controller_name = g_strdup("Intel Corporation xHCI");
	device->error = g_strdup("speed: missing");
	add_interface(device, 0, 8, "usb-storage");
	add_interface(device, 1, 0xff, NULL);
	return device;
}

/* --- records --- */

static void
test_class_names(void)
{
	const struct {
		guint8 usb_class;
		const gchar *name;
	} cases[] = {
		{ 0x00, "(Defined at Interface level)" },
		{ 0x03, "Human Interface Device" },
		{ 0x08, "Mass Storage" },
		{ 0x09, "Hub" },
		{ 0x0b, "Chip/SmartCard" },
		{ 0x0e, "Video" },
		{ 0xe0, "Wireless" },
		{ 0xef, "Miscellaneous Device" },
		{ 0xff, "Vendor Specific Class" },
		/* failure cases: codes without a name */
		{ 0x04, "[unknown]" },
		{ 0x42, "[unknown]" },
	};
	g_autoptr(UsbpassDevice) composite = make_device(1, 2, "1-1", 0x1050, 0x0407, NULL);
	g_autoptr(UsbpassDevice) bare = make_device(1, 3, "1-2", 0x1050, 0x0407, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpstr(usbpass_usb_class_to_string(cases[i].usb_class), ==, cases[i].name);

	/* class 0: the first interface names the device */
	add_interface(composite, 0, 3, "usbhid");
	add_interface(composite, 1, 0x0b, NULL);
	g_assert_cmpstr(usbpass_device_get_class_name(composite), ==, "Human Interface Device");
	g_assert_true(usbpass_device_has_class(composite, 0x0b));
	g_assert_false(usbpass_device_has_class(composite, 0x08));
	g_assert_cmpstr(usbpass_device_get_class_name(bare), ==, "(Defined at Interface level)");
	bare->device_class = 9;
	g_assert_cmpstr(usbpass_device_get_class_name(bare), ==, "Hub");
	g_assert_true(usbpass_device_has_class(bare, 9));
	{
		g_autofree gchar *vid_pid = usbpass_device_get_vid_pid(bare);
		g_assert_cmpstr(vid_pid, ==, "1050:0407");
	}
}

static void
test_speed(void)
{
	const struct {
		const gchar *text;
		guint mbps;
	} cases[] = {
		{ "1.5", 1 },
		{ "12", 12 },
		{ "480", 480 },
		{ "5000", 5000 },
		{ "10000", 10000 },
		{ "20000", 20000 },
		{ "480\n", 480 },
		/* failure cases */
		{ "", 0 },
		{ "fast", 0 },
		{ "-12", 0 },
		{ "1.5x", 0 },
		{ "0x1e0", 0 },
		{ "99999999999", 0 },
		{ NULL, 0 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpuint(usbpass_usb_speed_to_mbps(cases[i].text), ==, cases[i].mbps);
}

static void
test_port_order(void)
{
	const struct {
		const gchar *a;
		const gchar *b;
		gint sign;
	} cases[] = {
		{ "usb1", "1-1", -1 }, { "1-1", "1-1.1", -1 }, { "1-1.2", "1-1.10", -1 },
		{ "1-2", "1-1.4", 1 }, { "1-10", "1-9.7", 1 }, { "1-4.1", "1-4.1", 0 },
		{ NULL, "1-1", -1 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		gint got = usbpass_port_compare(cases[i].a, cases[i].b);
		gint back = usbpass_port_compare(cases[i].b, cases[i].a);
		g_assert_cmpint((got > 0) - (got < 0), ==, cases[i].sign);
		g_assert_cmpint((back > 0) - (back < 0), ==, -cases[i].sign);
	}
	{
		/* the bus comes first */
		g_autoptr(UsbpassDevice) a = make_device(1, 5, "1-9", 1, 1, NULL);
		g_autoptr(UsbpassDevice) b = make_device(2, 1, "usb2", 1, 1, NULL);
		g_assert_cmpint(usbpass_device_compare(a, b), <, 0);
		g_assert_cmpint(usbpass_device_compare(b, a), >, 0);
		g_assert_cmpint(usbpass_device_compare(a, a), ==, 0);
	}
}

typedef void (*DeviceMutator)(UsbpassDevice *device);

static void
mutate_bus(UsbpassDevice *d)
{
	d->bus++;
}
static void
mutate_address(UsbpassDevice *d)
{
	d->device++;
}
static void
mutate_vendor(UsbpassDevice *d)
{
	d->vendor_id++;
}
static void
mutate_bcd(UsbpassDevice *d)
{
	d->bcd_device++;
}
static void
mutate_class(UsbpassDevice *d)
{
	d->device_protocol++;
}
static void
mutate_hub(UsbpassDevice *d)
{
	d->num_ports++;
}
static void
mutate_speed(UsbpassDevice *d)
{
	d->speed_mbps = 12;
}
static void
mutate_id(UsbpassDevice *d)
{
	g_free(d->id);
	d->id = g_strdup("0781:5567:p:3-1");
}
static void
mutate_conflict(UsbpassDevice *d)
{
	g_clear_pointer(&d->id_conflict, g_free);
}
static void
mutate_product(UsbpassDevice *d)
{
	g_free(d->product);
	d->product = g_strdup("Other");
}
static void
mutate_serial(UsbpassDevice *d)
{
	g_clear_pointer(&d->serial, g_free);
}
static void
mutate_error(UsbpassDevice *d)
{
	g_clear_pointer(&d->error, g_free);
}
static void
mutate_controller(UsbpassDevice *d)
{
	g_free(d->controller_name);
	d->controller_name = NULL;
}
static void
mutate_driver(UsbpassDevice *d)
{
	UsbpassInterface *iface = g_ptr_array_index(d->interfaces, 1);
	iface->driver = g_strdup("vfio");
}
static void
mutate_interfaces(UsbpassDevice *d)
{
	g_ptr_array_remove_index(d->interfaces, 1);
}

static void
test_device_copy_equal(void)
{
	const DeviceMutator mutators[] = { mutate_bus,        mutate_address, mutate_vendor,
		                           mutate_bcd,        mutate_class,   mutate_hub,
		                           mutate_speed,      mutate_id,      mutate_conflict,
		                           mutate_product,    mutate_serial,  mutate_error,
		                           mutate_controller, mutate_driver,  mutate_interfaces };
	g_autoptr(UsbpassDevice) device = make_full_device();
	g_autoptr(UsbpassDevice) copy = usbpass_device_copy(device);

	g_assert_true(usbpass_device_equal(device, copy));
	g_assert_true(copy != device);
	g_assert_cmpuint(copy->interfaces->len, ==, 2);
	g_assert_cmpstr(
	  ((UsbpassInterface *)g_ptr_array_index(copy->interfaces, 0))->driver, ==, "usb-storage");
	for (guint i = 0; i < G_N_ELEMENTS(mutators); i++) {
		g_autoptr(UsbpassDevice) changed = usbpass_device_copy(device);
		mutators[i](changed);
		g_assert_false(usbpass_device_equal(device, changed));
		g_assert_false(usbpass_device_equal(changed, device));
	}
	/* the boxed type shares, it does not copy: records are immutable */
	{
		UsbpassDevice *boxed = g_boxed_copy(USBPASS_TYPE_DEVICE, device);
		g_assert_true(boxed == device);
		g_boxed_free(USBPASS_TYPE_DEVICE, boxed);
	}
}

/* --- identity --- */

static void
test_identity_encode(void)
{
	const struct {
		const gchar *serial;
		gboolean kept;
	} cases[] = {
		{ "4C530001231122117043", TRUE },
		{ "A50285BI", TRUE },
		{ "0.1_a-b", TRUE },
		{ "x0123456789abcdef0123456789ABCDEF", TRUE },
		{ "xyz", TRUE },
		/* 64 characters: still kept */
		{ "0123456789012345678901234567890123456789012345678901234567890123", TRUE },
		/* failure cases: encoded */
		{ "01234567890123456789012345678901234567890123456789012345678901234", FALSE },
		{ "with space", FALSE },
		{ "a/b", FALSE },
		{ "a:b", FALSE },
		{ "\u00e9t\u00e9", FALSE },
		{ "\"quoted\"", FALSE },
		{ "", FALSE },
		/* looks like an encoded serial: encoded, so that the mapping stays one-to-one */
		{ "x0123456789abcdef0123456789abcdef", FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *encoded = usbpass_identity_encode_serial(cases[i].serial);
		g_autofree gchar *again = usbpass_identity_encode_serial(cases[i].serial);
		g_autofree gchar *id = usbpass_identity_for_serial(0x0781, 0x5567, cases[i].serial);
		g_assert_cmpstr(encoded, ==, again);
		if (cases[i].kept) {
			g_assert_cmpstr(encoded, ==, cases[i].serial);
		} else {
			g_assert_cmpstr(encoded, !=, cases[i].serial);
			g_assert_cmpuint(strlen(encoded), ==, 33);
			g_assert_true(encoded[0] == 'x');
		}
		g_assert_true(usbpass_string_is_identifier(encoded, USBPASS_IDENTITY_SERIAL_MAX));
		g_assert_true(g_str_has_prefix(id, "0781:5567:s:"));
		g_assert_cmpstr(id + 12, ==, encoded);
		g_assert_true(usbpass_identity_is_valid(id));
	}
	{
		g_autofree gchar *a = usbpass_identity_encode_serial("serial one");
		g_autofree gchar *b = usbpass_identity_encode_serial("serial two");
		g_assert_cmpstr(a, !=, b);
	}
	{
		g_autofree gchar *id = usbpass_identity_for_port(0x1d6b, 0x0002, "usb1");
		g_assert_cmpstr(id, ==, "1d6b:0002:p:usb1");
	}
	{
		g_autofree gchar *id = usbpass_identity_for_port(0x0781, 0x5567, "1-1.4");
		g_assert_cmpstr(id, ==, "0781:5567:p:1-1.4");
	}
}

static void
test_identity_valid(void)
{
	const struct {
		const gchar *id;
		gboolean valid;
	} cases[] = {
		{ "0781:5567:s:4C530001231122117043", TRUE },
		{ "0781:5567:p:1-1.4", TRUE },
		{ "1d6b:0002:p:usb1", TRUE },
		/* failure cases */
		{ "0781:5567", FALSE },
		{ "0781:5567:s:", FALSE },
		{ "0781:5567:q:abc", FALSE },
		{ "0781-5567:s:abc", FALSE },
		{ "078G:5567:s:abc", FALSE },
		{ "0781:5567:S:abc", FALSE },
		{ "0781:55AB:s:abc", FALSE },
		{ "0781:5567:s:a b", FALSE },
		{ "0781:5567:s:a/b", FALSE },
		{ "host/0781:5567:s:abc", FALSE },
		{ "", FALSE },
		{ NULL, FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpint(usbpass_identity_is_valid(cases[i].id), ==, cases[i].valid);
}

static void
test_identity_assign(void)
{
	g_autoptr(GPtrArray) devices =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	UsbpassDevice *root = make_device(1, 1, "usb1", 0x1d6b, 0x0002, "0000:00:14.0");
	UsbpassDevice *stick = make_device(1, 9, "1-3", 0x0781, 0x5567, "4C530001231122117043");
	UsbpassDevice *ch340_a = make_device(1, 6, "1-4.3", 0x1a86, 0x7523, NULL);
	UsbpassDevice *ch340_b = make_device(1, 7, "1-4.4", 0x1a86, 0x7523, NULL);
	UsbpassDevice *shared_a = make_device(1, 3, "1-2.1", 0x058f, 0x6387, "0123456789ABCDEF");
	UsbpassDevice *shared_b = make_device(1, 4, "1-2.2", 0x058f, 0x6387, "0123456789ABCDEF");
	/* the same serial on another vendor:product is no conflict */
	UsbpassDevice *other = make_device(1, 5, "1-2.3", 0x0403, 0x6001, "0123456789ABCDEF");
	UsbpassDevice *hostile = make_device(1, 8, "1-5", 0x1234, 0xabcd, "a \"b\" <c>");

	g_ptr_array_add(devices, root);
	g_ptr_array_add(devices, stick);
	g_ptr_array_add(devices, ch340_a);
	g_ptr_array_add(devices, ch340_b);
	g_ptr_array_add(devices, shared_a);
	g_ptr_array_add(devices, shared_b);
	g_ptr_array_add(devices, other);
	g_ptr_array_add(devices, hostile);
	usbpass_identity_assign(devices);

	g_assert_cmpstr(root->id, ==, "1d6b:0002:p:usb1");
	g_assert_cmpstr(root->id_kind, ==, "port");
	g_assert_null(root->id_conflict);
	g_assert_cmpstr(stick->id, ==, "0781:5567:s:4C530001231122117043");
	g_assert_cmpstr(stick->id_kind, ==, "serial");
	g_assert_null(stick->id_conflict);
	/* identical devices without serial: told apart by port */
	g_assert_cmpstr(ch340_a->id, ==, "1a86:7523:p:1-4.3");
	g_assert_cmpstr(ch340_b->id, ==, "1a86:7523:p:1-4.4");
	g_assert_null(ch340_a->id_conflict);
	/* a shared serial: both by port, and the inventory says why */
	g_assert_cmpstr(shared_a->id, ==, "058f:6387:p:1-2.1");
	g_assert_cmpstr(shared_b->id, ==, "058f:6387:p:1-2.2");
	g_assert_cmpstr(shared_a->id_kind, ==, "port");
	g_assert_nonnull(shared_a->id_conflict);
	g_assert_nonnull(strstr(shared_a->id_conflict, "'0123456789ABCDEF'"));
	g_assert_nonnull(strstr(shared_a->id_conflict, "2 devices"));
	g_assert_cmpstr(shared_a->id_conflict, ==, shared_b->id_conflict);
	g_assert_cmpstr(other->id, ==, "0403:6001:s:0123456789ABCDEF");
	g_assert_null(other->id_conflict);
	g_assert_true(g_str_has_prefix(hostile->id, "1234:abcd:s:x"));
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_assert_true(usbpass_identity_is_valid(device->id));
	}
}

static void
test_identity_split(void)
{
	const struct {
		const gchar *qualified;
		const gchar *host;
		const gchar *id;
	} good[] = {
		{ "node1/0781:5567:s:ABC", "node1", "0781:5567:s:ABC" },
		{ "rack-2.example.org/1d6b:0002:p:usb1", "rack-2.example.org", "1d6b:0002:p:usb1" },
		{ "0781:5567:p:1-1.4", NULL, "0781:5567:p:1-1.4" },
	};
	const gchar *bad[] = {
		"/0781:5567:s:ABC",
		"a b/0781:5567:s:ABC",
		"node1/",
		"node1/not-an-id",
		"node1/0781:5567:s:ABC/x",
		"a/b/c",
		"",
	};
	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autofree gchar *host = NULL;
		g_autofree gchar *id = NULL;
		g_autoptr(GError) error = NULL;
		g_assert_true(usbpass_identity_split(good[i].qualified, &host, &id, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(host, ==, good[i].host);
		g_assert_cmpstr(id, ==, good[i].id);
		if (host != NULL) {
			g_autofree gchar *again = usbpass_identity_qualify(host, id);
			g_assert_cmpstr(again, ==, good[i].qualified);
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *host = g_strdup("untouched");
		g_autofree gchar *id = g_strdup("untouched");
		g_autoptr(GError) error = NULL;
		g_assert_false(usbpass_identity_split(bad[i], &host, &id, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		/* outputs untouched on failure */
		g_assert_cmpstr(host, ==, "untouched");
		g_assert_cmpstr(id, ==, "untouched");
	}
}

/* --- names --- */

static void
test_names_join(void)
{
	const struct {
		const gchar *vendor;
		const gchar *product;
		const gchar *name;
	} cases[] = {
		{ "SanDisk", "Cruzer Blade", "SanDisk Cruzer Blade" },
		{ "Dell", "Dell KB216 Wired Keyboard", "Dell KB216 Wired Keyboard" },
		{ "dell", "DELL KB216", "DELL KB216" },
		{ "Dell", "Dellwood", "Dell Dellwood" },
		{ "Logitech", "Logitech", "Logitech" },
		{ NULL, "Cruzer Blade", "Cruzer Blade" },
		{ "SanDisk", NULL, "SanDisk" },
		{ NULL, NULL, NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *name = usbpass_names_join(cases[i].vendor, cases[i].product);
		g_assert_cmpstr(name, ==, cases[i].name);
	}
}

static void
test_names_apply(void)
{
	g_autoptr(UsbpassNames) names = usbpass_names_new();
	const struct {
		guint16 vendor_id;
		guint16 product_id;
		const gchar *manufacturer;
		const gchar *product;
		gboolean needs_hwdb;
		const gchar *vendor_name;
		const gchar *product_name;
		const gchar *name;
	} cases[] = {
		/* descriptor strings first */
		{ 0x0781,
		  0x5567,
		  "SanDisk",
		  "Cruzer Blade",
		  FALSE,
		  "SanDisk",
		  "Cruzer Blade",
		  "SanDisk Cruzer Blade" },
		{ 0xf055, 0x9999, "Maker", "Thing", FALSE, "Maker", "Thing", "Maker Thing" },
		/* then the hwdb */
		{ 0x0781,
		  0x5567,
		  NULL,
		  NULL,
		  TRUE,
		  "SanDisk Corp.",
		  "Cruzer Blade",
		  "SanDisk Corp. Cruzer Blade" },
		{ 0x1a86,
		  0x7523,
		  NULL,
		  "USB Serial",
		  TRUE,
		  "QinHeng Electronics",
		  "USB Serial",
		  "QinHeng Electronics USB Serial" },
		{ 0x413c,
		  0x2113,
		  NULL,
		  NULL,
		  TRUE,
		  "Dell Computer Corp.",
		  "KB216 Wired Keyboard",
		  "Dell Computer Corp. KB216 Wired Keyboard" },
		/* the hwdb knows the vendor only */
		{ 0x0c45,
		  0x636b,
		  NULL,
		  NULL,
		  TRUE,
		  "Microdia",
		  "Device 636b",
		  "Microdia Device 636b" },
		/* then the readable fallback */
		{ 0xf055,
		  0x9999,
		  NULL,
		  NULL,
		  FALSE,
		  "Unknown vendor f055",
		  "Device 9999",
		  "Unknown vendor f055 Device 9999" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassDevice) device = usbpass_device_new();
		if (cases[i].needs_hwdb && !usbpass_names_has_hwdb(names))
			continue;
		device->vendor_id = cases[i].vendor_id;
		device->product_id = cases[i].product_id;
		device->manufacturer = g_strdup(cases[i].manufacturer);
		device->product = g_strdup(cases[i].product);
		usbpass_names_apply(names, device);
		g_assert_cmpstr(device->vendor_name, ==, cases[i].vendor_name);
		g_assert_cmpstr(device->product_name, ==, cases[i].product_name);
		g_assert_cmpstr(device->name, ==, cases[i].name);
		/* the cache gives the same answer */
		usbpass_names_apply(names, device);
		g_assert_cmpstr(device->name, ==, cases[i].name);
	}
	if (!usbpass_names_has_hwdb(names)) {
		g_test_skip("no udev hwdb (/usr/lib/udev/hwdb.bin): hwdb cases skipped");
		return;
	}
	g_assert_cmpstr(usbpass_names_get_usb_vendor(names, 0x1d6b), ==, "Linux Foundation");
	g_assert_cmpstr(usbpass_names_get_usb_product(names, 0x1d6b, 0x0003), ==, "3.0 root hub");
	g_assert_null(usbpass_names_get_usb_vendor(names, 0xf055));
	g_assert_null(usbpass_names_get_usb_product(names, 0xf055, 0x9999));
	g_assert_cmpstr(usbpass_names_get_pci_device(names, 0x8086, 0xa36d),
	                ==,
	                "Intel Corporation Cannon Lake PCH USB 3.1 xHCI Host Controller");
	g_assert_cmpstr(
	  usbpass_names_get_pci_device(names, 0x8086, 0xffff), ==, "Intel Corporation device ffff");
	g_assert_cmpstr(
	  usbpass_names_get_pci_device(names, 0x0bad, 0x0001), ==, "PCI device 0bad:0001");
}

/* --- JSON --- */

static gchar *
device_to_text(const UsbpassDevice *device)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	json_builder_begin_object(builder);
	usbpass_device_to_json(device, builder);
	/* a caller's own member in the same object */
	json_builder_set_member_name(builder, "state");
	json_builder_add_string_value(builder, "available");
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static UsbpassDevice *
device_from_text(const gchar *text, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	if (!json_parser_load_from_data(parser, text, -1, error))
		return NULL;
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return usbpass_device_from_json(json_node_get_object(json_parser_get_root(parser)), error);
}

static void
test_json_round_trip(void)
{
	g_autoptr(UsbpassDevice) device = make_full_device();
	g_autoptr(UsbpassDevice) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *object;
	const gchar *members[] = { "id",
		                   "id_kind",
		                   "id_conflict",
		                   "syspath",
		                   "port",
		                   "parent_port",
		                   "bus",
		                   "device",
		                   "vendor_id",
		                   "product_id",
		                   "bcd_device",
		                   "manufacturer",
		                   "product",
		                   "serial",
		                   "vendor_name",
		                   "product_name",
		                   "name",
		                   "device_class",
		                   "device_subclass",
		                   "device_protocol",
		                   "class_name",
		                   "interfaces",
		                   "speed",
		                   "speed_mbps",
		                   "is_hub",
		                   "is_root_hub",
		                   "num_ports",
		                   "controller",
		                   "error" };

	/* a real identity, so that from_json accepts it */
	g_free(device->id);
	device->id =
	  usbpass_identity_for_serial(device->vendor_id, device->product_id, device->serial);
	text = device_to_text(device);
	for (const gchar *p = text; *p != '\0'; p++)
		g_assert_cmpint((guchar)*p, >=, 0x20);

	g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
	g_assert_no_error(error);
	object = json_node_get_object(json_parser_get_root(parser));
	for (guint i = 0; i < G_N_ELEMENTS(members); i++)
		g_assert_true(json_object_has_member(object, members[i]));
	g_assert_cmpstr(json_object_get_string_member(object, "vendor_id"), ==, "0781");
	g_assert_cmpstr(json_object_get_string_member(object, "bcd_device"), ==, "0100");
	g_assert_cmpint(json_object_get_int_member(object, "bus"), ==, 3);
	g_assert_cmpstr(
	  json_object_get_string_member(object, "class_name"), ==, "Miscellaneous Device");
	g_assert_cmpstr(json_object_get_string_member(object, "state"), ==, "available");
	g_assert_cmpstr(json_object_get_string_member(
	                  json_object_get_object_member(object, "controller"), "pci_address"),
	                ==,
	                "0000:00:14.0");
	{
		JsonArray *interfaces = json_object_get_array_member(object, "interfaces");
		JsonObject *second = json_array_get_object_element(interfaces, 1);
		g_assert_cmpuint(json_array_get_length(interfaces), ==, 2);
		g_assert_cmpstr(
		  json_object_get_string_member(second, "class_name"), ==, "Vendor Specific Class");
		g_assert_true(json_object_get_null_member(second, "driver"));
	}

	back = device_from_text(text, &error);
	g_assert_no_error(error);
	g_assert_nonnull(back);
	g_assert_true(usbpass_device_equal(device, back));

	/* absent strings are null, and come back as NULL */
	{
		g_autoptr(UsbpassDevice) sparse = make_device(1, 2, "1-1", 0x0403, 0x6001, NULL);
		g_autoptr(UsbpassDevice) sparse_back = NULL;
		g_autofree gchar *sparse_text = NULL;
		g_clear_pointer(&sparse->manufacturer, g_free);
		sparse->id = usbpass_identity_for_port(0x0403, 0x6001, "1-1");
		sparse_text = device_to_text(sparse);
		g_assert_nonnull(strstr(sparse_text, "\"serial\":null"));
		g_assert_nonnull(strstr(sparse_text, "\"controller\":null"));
		g_assert_nonnull(strstr(sparse_text, "\"error\":null"));
		sparse_back = device_from_text(sparse_text, &error);
		g_assert_no_error(error);
		g_assert_null(sparse_back->serial);
		g_assert_null(sparse_back->manufacturer);
		g_assert_true(usbpass_device_equal(sparse, sparse_back));
	}
}

static void
test_json_from_json_invalid(void)
{
	const gchar *base =
	  "\"vendor_id\":\"0781\",\"product_id\":\"5567\",\"id\":\"0781:5567:p:1-1\"";
	const struct {
		const gchar *members;
		const gchar *mentions;
	} cases[] = {
		{ "\"vendor_id\":\"0781\",\"product_id\":\"5567\"", "'id'" },
		{ "\"id\":\"0781:5567:p:1-1\",\"product_id\":\"5567\"", "'vendor_id'" },
		{ "\"id\":42,\"vendor_id\":\"0781\",\"product_id\":\"5567\"", "'id'" },
		{ "\"id\":\"nope\",\"vendor_id\":\"0781\",\"product_id\":\"5567\"", "'id'" },
		{ "\"id\":\"0781:5567:p:1-1\",\"vendor_id\":\"ZZZZ\",\"product_id\":\"5567\"",
		  "'vendor_id'" },
		{ "\"id\":\"0781:5567:p:1-1\",\"vendor_id\":\"781\",\"product_id\":\"5567\"",
		  "'vendor_id'" },
		{ "\"id\":\"0781:5567:p:1-1\",\"vendor_id\":\"05E3\",\"product_id\":\"5567\"",
		  "'vendor_id'" },
		{ "\"id\":\"0781:5567:p:1-1\",\"vendor_id\":\"0781\",\"product_id\":5567",
		  "'product_id'" },
		{ "\"bus\":-1", "'bus'" },
		{ "\"bus\":256", "'bus'" },
		{ "\"bus\":\"1\"", "'bus'" },
		{ "\"device\":1.5", "'device'" },
		{ "\"is_hub\":\"yes\"", "'is_hub'" },
		{ "\"serial\":[1]", "'serial'" },
		{ "\"manufacturer\":{}", "'manufacturer'" },
		{ "\"id_kind\":\"magic\"", "'id_kind'" },
		{ "\"interfaces\":{}", "'interfaces'" },
		{ "\"interfaces\":[1]", "interface" },
		{ "\"interfaces\":[{\"number\":0,\"class\":300}]", "'class'" },
		{ "\"interfaces\":[{\"driver\":7}]", "'driver'" },
		{ "\"controller\":\"0000:00:14.0\"", "'controller'" },
		{ "\"controller\":{\"pci_address\":5}", "'pci_address'" },
		{ "\"speed_mbps\":-5", "'speed_mbps'" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device = NULL;
		/* the first cases replace the base, the others add one bad member to it */
		if (g_str_has_prefix(cases[i].members, "\"id\"") ||
		    g_str_has_prefix(cases[i].members, "\"vendor_id\""))
			text = g_strdup_printf("{%s}", cases[i].members);
		else
			text = g_strdup_printf("{%s,%s}", base, cases[i].members);
		device = device_from_text(text, &error);
		g_assert_null(device);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, cases[i].mentions));
	}
	{
		/* more interfaces than USB allows */
		g_autoptr(GString) text = g_string_new("{");
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device = NULL;
		g_string_append_printf(text, "%s,\"interfaces\":[", base);
		for (guint i = 0; i < 33; i++)
			g_string_append_printf(text, "%s{\"number\":%u}", i > 0 ? "," : "", i);
		g_string_append(text, "]}");
		device = device_from_text(text->str, &error);
		g_assert_null(device);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
	{
		/* the minimum, with host-qualified id, nulls and unknown members */
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device = device_from_text(
		  "{\"id\":\"node1/"
		  "0781:5567:p:1-1\",\"vendor_id\":\"0781\",\"product_id\":\"5567\","
		  "\"serial\":null,\"bus\":null,\"state\":\"available\",\"name\":\"a\\u001b["
		  "31mb\\u0007c\"}",
		  &error);
		g_assert_no_error(error);
		g_assert_nonnull(device);
		g_assert_cmpuint(device->vendor_id, ==, 0x0781);
		g_assert_null(device->serial);
		g_assert_cmpuint(device->bus, ==, 0);
		/* strings from the other side of a socket are sanitised too */
		g_assert_cmpstr(device->name, ==, "a [31mb c");
	}
}

static void
test_json_devices(void)
{
	g_autoptr(GPtrArray) devices =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_autoptr(JsonNode) first = NULL;
	g_autoptr(JsonNode) second = NULL;
	JsonArray *array;

	g_ptr_array_add(devices, make_device(1, 1, "usb1", 0x1d6b, 0x0002, NULL));
	g_ptr_array_add(devices, make_device(1, 2, "1-1", 0x0781, 0x5567, "S1"));
	usbpass_identity_assign(devices);

	first = usbpass_inventory_devices_to_json(devices);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(first));
	array = json_object_get_array_member(json_node_get_object(first), "devices");
	g_assert_cmpuint(json_array_get_length(array), ==, 2);
	g_assert_cmpstr(
	  json_object_get_string_member(json_array_get_object_element(array, 1), "id"),
	  ==,
	  "0781:5567:s:S1");

	/* the device objects are built once per record and shared */
	second = usbpass_inventory_devices_to_json(devices);
	g_assert_true(json_array_get_element(array, 0) ==
	              json_array_get_element(
	                json_object_get_array_member(json_node_get_object(second), "devices"), 0));
	g_assert_true(json_node_is_immutable(json_array_get_element(array, 0)));
	{
		g_autofree gchar *a = json_to_string(first, FALSE);
		g_autofree gchar *b = json_to_string(second, FALSE);
		g_assert_cmpstr(a, ==, b);
	}
	{
		/* the builder of a record who changes it drops the cached form */
		UsbpassDevice *device = g_ptr_array_index(devices, 1);
		g_autoptr(JsonNode) before = usbpass_device_to_json_node(device);
		g_autoptr(JsonNode) after = NULL;
		g_free(device->product);
		device->product = g_strdup("Changed");
		usbpass_device_invalidate(device);
		after = usbpass_device_to_json_node(device);
		g_assert_true(before != after);
		g_assert_cmpstr(
		  json_object_get_string_member(json_node_get_object(after), "product"),
		  ==,
		  "Changed");
		g_assert_cmpstr(
		  json_object_get_string_member(json_node_get_object(before), "product"),
		  ==,
		  "Gadget");
	}
	{
		g_autoptr(GPtrArray) none = g_ptr_array_new();
		g_autoptr(JsonNode) empty = usbpass_inventory_devices_to_json(none);
		g_autofree gchar *text = json_to_string(empty, FALSE);
		g_assert_cmpstr(text, ==, "{\"devices\":[]}");
	}
}

/* --- the inventory's batches, fed by snapshots --- */

typedef struct {
	UsbpassInventory *inventory;
	GPtrArray *events; /* of UsbpassInventoryEvent */
	guint changed;
	GPtrArray *snapshot; /* of UsbpassDevice: what the next apply gives */
} SnapshotFixture;

static void
on_event(UsbpassInventory *inventory, UsbpassInventoryEvent *event, gpointer user_data)
{
	SnapshotFixture *fixture = user_data;
	g_ptr_array_add(fixture->events, usbpass_inventory_event_copy(event));
}

static void
on_changed(UsbpassInventory *inventory, gpointer user_data)
{
	SnapshotFixture *fixture = user_data;
	fixture->changed++;
}

static void
snapshot_setup(SnapshotFixture *fixture, gconstpointer user_data)
{
	fixture->inventory = usbpass_inventory_new_for_testing();
	fixture->events =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_inventory_event_free);
	fixture->snapshot = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_signal_connect(fixture->inventory, "event", G_CALLBACK(on_event), fixture);
	g_signal_connect(fixture->inventory, "changed", G_CALLBACK(on_changed), fixture);
	g_ptr_array_add(fixture->snapshot,
	                make_device(1, 1, "usb1", 0x1d6b, 0x0002, "0000:00:14.0"));
	g_ptr_array_add(fixture->snapshot, make_device(1, 2, "1-1", 0x0781, 0x5567, "4C530001"));
	g_ptr_array_add(fixture->snapshot, make_device(1, 3, "1-2", 0x1a86, 0x7523, NULL));
}

static void
snapshot_teardown(SnapshotFixture *fixture, gconstpointer user_data)
{
	g_clear_object(&fixture->inventory);
	g_ptr_array_unref(fixture->events);
	g_ptr_array_unref(fixture->snapshot);
}

static void
apply(SnapshotFixture *fixture)
{
	g_ptr_array_set_size(fixture->events, 0);
	fixture->changed = 0;
	usbpass_inventory_apply_snapshot(fixture->inventory, fixture->snapshot);
}

static UsbpassInventoryEvent *
event_at(SnapshotFixture *fixture, guint index)
{
	g_assert_cmpuint(index, <, fixture->events->len);
	return g_ptr_array_index(fixture->events, index);
}

static UsbpassDevice *
snapshot_take(SnapshotFixture *fixture, const gchar *port)
{
	for (guint i = 0; i < fixture->snapshot->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(fixture->snapshot, i);
		if (g_strcmp0(device->port, port) == 0)
			return g_ptr_array_steal_index(fixture->snapshot, i);
	}
	g_assert_not_reached();
}

static void
test_snapshot_add_remove(SnapshotFixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;
	guint64 generation;

	g_assert_true(usbpass_inventory_enumerate(fixture->inventory, NULL));
	g_assert_true(usbpass_inventory_start_monitor(fixture->inventory, NULL));
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 0);

	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 3);
	g_assert_cmpuint(fixture->changed, ==, 1);
	for (guint i = 0; i < 3; i++) {
		g_assert_cmpint(event_at(fixture, i)->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
		g_assert_false(event_at(fixture, i)->replugged);
		g_assert_cmpint(event_at(fixture, i)->uevent_usec, >, 0);
	}
	generation = usbpass_inventory_get_generation(fixture->inventory);
	g_assert_cmpuint(generation, >, 0);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	g_assert_cmpuint(devices->len, ==, 3);
	g_assert_cmpstr(
	  ((UsbpassDevice *)g_ptr_array_index(devices, 0))->id, ==, "1d6b:0002:p:usb1");
	g_assert_cmpstr(
	  ((UsbpassDevice *)g_ptr_array_index(devices, 1))->id, ==, "0781:5567:s:4C530001");
	g_assert_cmpstr(
	  ((UsbpassDevice *)g_ptr_array_index(devices, 2))->id, ==, "1a86:7523:p:1-2");

	/* the same set again: no event, no new generation */
	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 0);
	g_assert_cmpuint(fixture->changed, ==, 0);
	g_assert_cmpuint(usbpass_inventory_get_generation(fixture->inventory), ==, generation);

	/* unplug the stick: removed as it was */
	{
		g_autoptr(UsbpassDevice) stick = snapshot_take(fixture, "1-1");
		apply(fixture);
	}
	g_assert_cmpuint(fixture->events->len, ==, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	g_assert_cmpstr(event_at(fixture, 0)->device->id, ==, "0781:5567:s:4C530001");
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 2);
	g_assert_cmpuint(usbpass_inventory_get_generation(fixture->inventory), ==, generation + 1);
}

static void
test_snapshot_replug(SnapshotFixture *fixture, gconstpointer user_data)
{
	UsbpassInventoryEvent *event;

	apply(fixture);
	{
		g_autoptr(UsbpassDevice) stick = snapshot_take(fixture, "1-1");
		g_autoptr(UsbpassDevice) serial = snapshot_take(fixture, "1-2");
		apply(fixture);
	}
	g_assert_cmpuint(fixture->events->len, ==, 2);

	/* the stick comes back at another port with a new device number: same identity */
	g_ptr_array_add(fixture->snapshot, make_device(1, 7, "1-3", 0x0781, 0x5567, "4C530001"));
	/* the serial adapter comes back at the same port */
	g_ptr_array_add(fixture->snapshot, make_device(1, 8, "1-2", 0x1a86, 0x7523, NULL));
	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpuint(fixture->changed, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpstr(event->device->id, ==, "0781:5567:s:4C530001");
	g_assert_true(event->replugged);
	g_assert_cmpuint(event->previous_bus, ==, 1);
	g_assert_cmpuint(event->previous_device, ==, 2);
	g_assert_cmpstr(event->previous_port, ==, "1-1");
	event = event_at(fixture, 1);
	g_assert_cmpstr(event->device->id, ==, "1a86:7523:p:1-2");
	g_assert_true(event->replugged);
	g_assert_cmpuint(event->previous_device, ==, 3);
	g_assert_null(event->previous_port);

	/* within one batch: removed at one port, added at another */
	{
		g_autoptr(UsbpassDevice) stick = snapshot_take(fixture, "1-3");
		g_ptr_array_add(fixture->snapshot,
		                make_device(1, 9, "1-4", 0x0781, 0x5567, "4C530001"));
		apply(fixture);
	}
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	event = event_at(fixture, 1);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_true(event->replugged);
	g_assert_cmpuint(event->previous_device, ==, 7);
	g_assert_cmpstr(event->previous_port, ==, "1-3");

	/* the same port with a new device number is a re-plug too, not a change */
	{
		g_autoptr(UsbpassDevice) stick = snapshot_take(fixture, "1-4");
		g_ptr_array_add(fixture->snapshot,
		                make_device(1, 10, "1-4", 0x0781, 0x5567, "4C530001"));
		apply(fixture);
	}
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	g_assert_cmpint(event_at(fixture, 1)->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_true(event_at(fixture, 1)->replugged);
	g_assert_cmpuint(event_at(fixture, 1)->previous_device, ==, 9);
}

static void
test_snapshot_replug_bounded(SnapshotFixture *fixture, gconstpointer user_data)
{
	/* 300 different sticks come and go; only the last 256 are remembered */
	apply(fixture);
	for (guint i = 0; i < 300; i++) {
		g_autofree gchar *serial = g_strdup_printf("S%04u", i);
		g_ptr_array_add(fixture->snapshot,
		                make_device(2, 2 + i % 100, "2-1", 0x0781, 0x5567, serial));
		apply(fixture);
		g_assert_cmpuint(fixture->events->len, ==, 1);
		{
			g_autoptr(UsbpassDevice) gone = snapshot_take(fixture, "2-1");
			apply(fixture);
		}
	}
	g_ptr_array_add(fixture->snapshot, make_device(2, 5, "2-1", 0x0781, 0x5567, "S0000"));
	g_ptr_array_add(fixture->snapshot, make_device(2, 6, "2-2", 0x0781, 0x5567, "S0299"));
	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_false(event_at(fixture, 0)->replugged);
	g_assert_true(event_at(fixture, 1)->replugged);
	g_assert_cmpstr(event_at(fixture, 1)->previous_port, ==, "2-1");
}

static void
test_snapshot_change_and_conflict(SnapshotFixture *fixture, gconstpointer user_data)
{
	UsbpassDevice *stick;
	UsbpassInventoryEvent *event;
	g_autoptr(UsbpassDevice) found = NULL;
	g_autoptr(GError) error = NULL;

	apply(fixture);

	/* a change of a string is one CHANGED event, same address */
	stick = g_ptr_array_index(fixture->snapshot, 1);
	g_free(stick->product);
	stick->product = g_strdup("Cruzer Blade II");
	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event->device->product, ==, "Cruzer Blade II");

	/* a second stick with the same serial: neither keeps the serial identity */
	g_ptr_array_add(fixture->snapshot, make_device(1, 4, "1-3", 0x0781, 0x5567, "4C530001"));
	apply(fixture);
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpuint(fixture->changed, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpstr(event->device->id, ==, "0781:5567:p:1-3");
	g_assert_nonnull(event->device->id_conflict);
	event = event_at(fixture, 1);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event->device->id, ==, "0781:5567:p:1-1");
	g_assert_nonnull(strstr(event->device->id_conflict, "shared by 2 devices"));
	found = usbpass_inventory_find_by_id(fixture->inventory, "0781:5567:s:4C530001", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(found);
	g_clear_error(&error);

	/* the twin leaves: the first gets its serial identity back */
	{
		g_autoptr(UsbpassDevice) twin = snapshot_take(fixture, "1-3");
		apply(fixture);
	}
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	g_assert_cmpint(event_at(fixture, 1)->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event_at(fixture, 1)->device->id, ==, "0781:5567:s:4C530001");
	g_assert_null(event_at(fixture, 1)->device->id_conflict);
	found = usbpass_inventory_find_by_id(fixture->inventory, "0781:5567:s:4C530001", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->port, ==, "1-1");
}

static void
test_snapshot_find(SnapshotFixture *fixture, gconstpointer user_data)
{
	const struct {
		const gchar *spec;
		const gchar *port; /* NULL: NOT_FOUND */
	} cases[] = {
		{ "0781:5567:s:4C530001", "1-1" },
		{ "1d6b:0002:p:usb1", "usb1" },
		{ "1:2", "1-1" },
		{ "001:003", "1-2" },
		{ "1-2", "1-2" },
		{ "usb1", "usb1" },
		/* failure cases */
		{ "0781:5567:s:NOPE", NULL },
		{ "1:9", NULL },
		{ "2:1", NULL },
		{ "1:", NULL },
		{ "1:2:3", NULL },
		{ "1-9", NULL },
		{ "", NULL },
		{ "\x1b[31m", NULL },
	};

	apply(fixture);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device =
		  usbpass_inventory_find(fixture->inventory, cases[i].spec, &error);
		if (cases[i].port == NULL) {
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
			g_assert_null(device);
			g_assert_true(g_utf8_validate(error->message, -1, NULL));
			g_assert_null(strchr(error->message, '\x1b'));
			continue;
		}
		g_assert_no_error(error);
		g_assert_cmpstr(device->port, ==, cases[i].port);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device =
		  usbpass_inventory_find_by_address(fixture->inventory, 1, 3, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(device->port, ==, "1-2");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device =
		  usbpass_inventory_find_by_address(fixture->inventory, 7, 7, &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
		g_assert_null(device);
	}
}

static void
test_event_kinds(void)
{
	for (guint i = 0; i < USBPASS_INVENTORY_EVENT_LAST; i++) {
		const gchar *name = usbpass_inventory_event_kind_to_string(i);
		g_assert_cmpint(usbpass_inventory_event_kind_from_string(name), ==, i);
	}
	g_assert_cmpstr(
	  usbpass_inventory_event_kind_to_string(USBPASS_INVENTORY_EVENT_ADDED), ==, "added");
	g_assert_cmpstr(
	  usbpass_inventory_event_kind_to_string(USBPASS_INVENTORY_EVENT_LAST + 3), ==, "unknown");
	g_assert_cmpint(
	  usbpass_inventory_event_kind_from_string("plugged"), ==, USBPASS_INVENTORY_EVENT_LAST);
	{
		g_autoptr(UsbpassDevice) device = make_device(1, 2, "1-1", 1, 2, NULL);
		g_autoptr(UsbpassInventoryEvent) event =
		  usbpass_inventory_event_new(USBPASS_INVENTORY_EVENT_ADDED, device);
		g_autoptr(UsbpassInventoryEvent) copy = NULL;
		event->replugged = TRUE;
		event->previous_port = g_strdup("1-4");
		copy = g_boxed_copy(USBPASS_TYPE_INVENTORY_EVENT, event);
		g_assert_true(copy->device == device);
		g_assert_true(copy->replugged);
		g_assert_cmpstr(copy->previous_port, ==, "1-4");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/usbpass/inventory/device{class-names}", test_class_names);
	g_test_add_func("/usbpass/inventory/device{speed}", test_speed);
	g_test_add_func("/usbpass/inventory/device{order}", test_port_order);
	g_test_add_func("/usbpass/inventory/device{copy-equal}", test_device_copy_equal);
	g_test_add_func("/usbpass/inventory/identity{encode}", test_identity_encode);
	g_test_add_func("/usbpass/inventory/identity{valid}", test_identity_valid);
	g_test_add_func("/usbpass/inventory/identity{assign}", test_identity_assign);
	g_test_add_func("/usbpass/inventory/identity{split}", test_identity_split);
	g_test_add_func("/usbpass/inventory/names{join}", test_names_join);
	g_test_add_func("/usbpass/inventory/names{apply}", test_names_apply);
	g_test_add_func("/usbpass/inventory/json{round-trip}", test_json_round_trip);
	g_test_add_func("/usbpass/inventory/json{invalid}", test_json_from_json_invalid);
	g_test_add_func("/usbpass/inventory/json{devices}", test_json_devices);
	g_test_add_func("/usbpass/inventory/event{kinds}", test_event_kinds);
	g_test_add("/usbpass/inventory/snapshot{add-remove}",
	           SnapshotFixture,
	           NULL,
	           snapshot_setup,
	           test_snapshot_add_remove,
	           snapshot_teardown);
	g_test_add("/usbpass/inventory/snapshot{replug}",
	           SnapshotFixture,
	           NULL,
	           snapshot_setup,
	           test_snapshot_replug,
	           snapshot_teardown);
	g_test_add("/usbpass/inventory/snapshot{replug-bounded}",
	           SnapshotFixture,
	           NULL,
	           snapshot_setup,
	           test_snapshot_replug_bounded,
	           snapshot_teardown);
	g_test_add("/usbpass/inventory/snapshot{change-conflict}",
	           SnapshotFixture,
	           NULL,
	           snapshot_setup,
	           test_snapshot_change_and_conflict,
	           snapshot_teardown);
	g_test_add("/usbpass/inventory/snapshot{find}",
	           SnapshotFixture,
	           NULL,
	           snapshot_setup,
	           test_snapshot_find,
	           snapshot_teardown);
	return g_test_run();
}

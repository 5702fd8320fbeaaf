/*
 * test-inventory.c: the inventory against umockdev testbeds
 *
 * Runs under umockdev-wrapper (meson does that): the records of tests/data/
 * are loaded into a fresh testbed per test, then enumerated, and hotplug goes
 * through umockdev_testbed_uevent() to the inventory's GUdevClient.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <umockdev.h>
#include <unistd.h>

#include "usbpass-device-json.h"
#include "usbpass-error.h"
#include "usbpass-identity.h"
#include "usbpass-inventory-private.h"
#include "usbpass-mock-usb.h"
#include "usbpass-names.h"
#include "usbpass-string.h"

/* how long a hotplug may take to arrive; a deadline, never a sleep */
#define DEADLINE_MS 10000

#define XHCI "0000:00:14.0"
#define EHCI "0000:00:1d.0"

typedef struct {
	UMockdevTestbed *testbed;
	UsbpassInventory *inventory;
	GPtrArray *events; /* of UsbpassInventoryEvent */
	guint changed;
	gchar *tmpdir;
} Fixture;

static void
on_event(UsbpassInventory *inventory, UsbpassInventoryEvent *event, gpointer user_data)
{
	Fixture *fixture = user_data;
	g_ptr_array_add(fixture->events, usbpass_inventory_event_copy(event));
}

static void
on_changed(UsbpassInventory *inventory, gpointer user_data)
{
	Fixture *fixture = user_data;
	fixture->changed++;
}

static void
fixture_setup(Fixture *fixture, gconstpointer user_data)
{
	const gchar *record = user_data;
	g_autoptr(GError) error = NULL;

	fixture->tmpdir = g_dir_make_tmp("usbpass-inventory-XXXXXX", &error);
	g_assert_no_error(error);
	fixture->events =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_inventory_event_free);
	/* umockdev caches whether /sys is redirected: ask once a testbed exists */
	fixture->testbed = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		g_clear_object(&fixture->testbed);
		return;
	}
	if (record != NULL) {
		g_autofree gchar *path =
		  g_build_filename(g_getenv("USBPASS_TEST_DATA"), record, NULL);
		g_assert_true(umockdev_testbed_add_from_file(fixture->testbed, path, &error));
		g_assert_no_error(error);
	}
	fixture->inventory = usbpass_inventory_new();
	g_signal_connect(fixture->inventory, "event", G_CALLBACK(on_event), fixture);
	g_signal_connect(fixture->inventory, "changed", G_CALLBACK(on_changed), fixture);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer user_data)
{
	g_clear_object(&fixture->inventory);
	g_clear_object(&fixture->testbed);
	g_ptr_array_unref(fixture->events);
	if (fixture->tmpdir != NULL) {
		g_rmdir(fixture->tmpdir);
		g_free(fixture->tmpdir);
	}
}

static gboolean
skip_without_umockdev(Fixture *fixture)
{
	if (fixture->testbed != NULL)
		return FALSE;
	g_test_skip("not under umockdev-wrapper: run through meson test");
	return TRUE;
}

static void
enumerate(Fixture *fixture)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(usbpass_inventory_start_monitor(fixture->inventory, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_inventory_enumerate(fixture->inventory, &error));
	g_assert_no_error(error);
}

static UsbpassDevice *
find(Fixture *fixture, const gchar *spec)
{
	g_autoptr(GError) error = NULL;
	UsbpassDevice *device = usbpass_inventory_find(fixture->inventory, spec, &error);
	g_assert_no_error(error);
	g_assert_nonnull(device);
	return device;
}

static const UsbpassInterface *
interface_at(const UsbpassDevice *device, guint index)
{
	g_assert_cmpuint(index, <, device->interfaces->len);
	return g_ptr_array_index(device->interfaces, index);
}

static gboolean
on_deadline(gpointer user_data)
{
	gboolean *expired = user_data;
	*expired = TRUE;
	return G_SOURCE_REMOVE;
}

/* runs the main loop until @changed batches were applied, or fails at the deadline */
static void
wait_for_batches(Fixture *fixture, guint changed)
{
	gboolean expired = FALSE;
	guint deadline = g_timeout_add(DEADLINE_MS, on_deadline, &expired);
	while (fixture->changed < changed && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(deadline);
	g_assert_false(expired);
	/* whatever else is ready now belongs to this burst too: it must not make a second batch */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_cmpuint(usbpass_inventory_get_pending(fixture->inventory), ==, 0);
}

/* takes the uevents out of the socket (its queue is short) without letting the
 * batch run: the socket's source outranks the idle callback while it has data */
static void
receive_uevents(Fixture *fixture, guint pending)
{
	while (usbpass_inventory_get_pending(fixture->inventory) < pending)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(fixture->changed, ==, 0);
}

static UsbpassInventoryEvent *
event_at(Fixture *fixture, guint index)
{
	g_assert_cmpuint(index, <, fixture->events->len);
	return g_ptr_array_index(fixture->events, index);
}

static void
reset_events(Fixture *fixture)
{
	g_ptr_array_set_size(fixture->events, 0);
	fixture->changed = 0;
}

/* --- enumeration --- */

static void
test_enumerate_demo(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(UsbpassNames) names = usbpass_names_new();
	gboolean hwdb = usbpass_names_has_hwdb(names);
	const gchar *order[] = { "usb1",  "1-1",   "1-3",  "1-4",  "1-4.1", "1-4.2",
		                 "1-4.3", "1-4.4", "usb2", "usb3", "3-1",   "3-1.1" };

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	g_assert_cmpuint(devices->len, ==, G_N_ELEMENTS(order));
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_assert_cmpstr(device->port, ==, order[i]);
		g_assert_null(device->error);
		g_assert_true(usbpass_identity_is_valid(device->id));
	}
	g_assert_cmpuint(usbpass_inventory_get_generation(fixture->inventory), >, 0);

	/* the SanDisk stick: every field */
	{
		g_autoptr(UsbpassDevice) stick = find(fixture, "1-3");
		g_assert_cmpstr(stick->id, ==, "0781:5567:s:4C530001231122117043");
		g_assert_cmpstr(stick->id_kind, ==, "serial");
		g_assert_null(stick->id_conflict);
		g_assert_cmpstr(stick->syspath, ==, "/sys/devices/pci0000:00/" XHCI "/usb1/1-3");
		g_assert_cmpstr(stick->parent_port, ==, "usb1");
		g_assert_cmpuint(stick->bus, ==, 1);
		g_assert_cmpuint(stick->device, ==, 9);
		g_assert_cmpuint(stick->vendor_id, ==, 0x0781);
		g_assert_cmpuint(stick->product_id, ==, 0x5567);
		g_assert_cmpuint(stick->bcd_device, ==, 0x0100);
		g_assert_cmpstr(stick->manufacturer, ==, "SanDisk");
		g_assert_cmpstr(stick->product, ==, "Cruzer Blade");
		g_assert_cmpstr(stick->serial, ==, "4C530001231122117043");
		g_assert_cmpstr(stick->vendor_name, ==, "SanDisk");
		g_assert_cmpstr(stick->product_name, ==, "Cruzer Blade");
		g_assert_cmpstr(stick->name, ==, "SanDisk Cruzer Blade");
		g_assert_cmpuint(stick->device_class, ==, 0);
		g_assert_cmpuint(stick->device_subclass, ==, 0);
		g_assert_cmpuint(stick->device_protocol, ==, 0);
		g_assert_cmpstr(usbpass_device_get_class_name(stick), ==, "Mass Storage");
		g_assert_cmpuint(stick->interfaces->len, ==, 1);
		g_assert_cmpuint(interface_at(stick, 0)->number, ==, 0);
		g_assert_cmpuint(interface_at(stick, 0)->interface_class, ==, 8);
		g_assert_cmpuint(interface_at(stick, 0)->interface_subclass, ==, 6);
		g_assert_cmpuint(interface_at(stick, 0)->interface_protocol, ==, 0x50);
		g_assert_cmpstr(interface_at(stick, 0)->driver, ==, "usb-storage");
		g_assert_cmpstr(stick->speed, ==, "480");
		g_assert_cmpuint(stick->speed_mbps, ==, 480);
		g_assert_false(stick->is_hub);
		g_assert_false(stick->is_root_hub);
		g_assert_cmpuint(stick->num_ports, ==, 0);
		g_assert_cmpstr(stick->controller_pci_address, ==, XHCI);
		if (hwdb)
			g_assert_cmpstr(
			  stick->controller_name,
			  ==,
			  "Intel Corporation Cannon Lake PCH USB 3.1 xHCI Host Controller");
		else
			g_assert_cmpstr(stick->controller_name, ==, "PCI device 8086:a36d");
		g_assert_null(stick->error);
	}
	/* the YubiKey: composite HID + CCID, the CCID interface without kernel driver */
	{
		g_autoptr(UsbpassDevice) key = find(fixture, "1050:0407:s:16123456");
		g_assert_cmpstr(key->port, ==, "1-4.1");
		g_assert_cmpstr(key->parent_port, ==, "1-4");
		g_assert_cmpuint(key->device, ==, 4);
		g_assert_cmpuint(key->bcd_device, ==, 0x0543);
		g_assert_cmpstr(key->name, ==, "Yubico YubiKey OTP+FIDO+CCID");
		g_assert_cmpuint(key->speed_mbps, ==, 12);
		g_assert_cmpuint(key->interfaces->len, ==, 3);
		g_assert_cmpuint(interface_at(key, 0)->interface_class, ==, 3);
		g_assert_cmpuint(interface_at(key, 0)->interface_subclass, ==, 1);
		g_assert_cmpuint(interface_at(key, 0)->interface_protocol, ==, 1);
		g_assert_cmpstr(interface_at(key, 0)->driver, ==, "usbhid");
		g_assert_cmpuint(interface_at(key, 1)->interface_class, ==, 3);
		g_assert_cmpuint(interface_at(key, 2)->number, ==, 2);
		g_assert_cmpuint(interface_at(key, 2)->interface_class, ==, 0x0b);
		g_assert_null(interface_at(key, 2)->driver);
		g_assert_true(usbpass_device_has_class(key, 0x0b));
		g_assert_cmpstr(usbpass_device_get_class_name(key), ==, "Human Interface Device");
	}
	/* the FTDI adapter and the Logitech receiver */
	{
		g_autoptr(UsbpassDevice) ftdi = find(fixture, "1:5");
		g_autoptr(UsbpassDevice) receiver = find(fixture, "001:002");
		g_assert_cmpstr(ftdi->id, ==, "0403:6001:s:A50285BI");
		g_assert_cmpstr(ftdi->product, ==, "FT232R USB UART");
		g_assert_cmpstr(interface_at(ftdi, 0)->driver, ==, "ftdi_sio");
		g_assert_cmpuint(interface_at(ftdi, 0)->interface_class, ==, 0xff);
		g_assert_cmpstr(receiver->id, ==, "046d:c52b:p:1-1");
		g_assert_null(receiver->serial);
		g_assert_cmpuint(receiver->interfaces->len, ==, 3);
		g_assert_cmpuint(interface_at(receiver, 1)->interface_protocol, ==, 2);
		g_assert_cmpuint(receiver->bcd_device, ==, 0x1211);
	}
	/* no manufacturer string: the vendor name comes from the hwdb, as in lsusb */
	{
		g_autoptr(UsbpassDevice) keyboard = find(fixture, "3-1.1");
		g_assert_null(keyboard->manufacturer);
		g_assert_cmpstr(keyboard->product, ==, "Dell KB216 Wired Keyboard");
		g_assert_cmpstr(keyboard->speed, ==, "1.5");
		g_assert_cmpuint(keyboard->speed_mbps, ==, 1);
		g_assert_cmpuint(keyboard->bus, ==, 3);
		if (hwdb) {
			g_assert_cmpstr(keyboard->vendor_name, ==, "Dell Computer Corp.");
			g_assert_cmpstr(
			  keyboard->name, ==, "Dell Computer Corp. Dell KB216 Wired Keyboard");
		} else {
			g_assert_cmpstr(keyboard->vendor_name, ==, "Unknown vendor 413c");
		}
	}
	/* no strings at all */
	{
		g_autoptr(UsbpassDevice) rmh = find(fixture, "3-1");
		g_assert_null(rmh->manufacturer);
		g_assert_null(rmh->product);
		if (hwdb)
			g_assert_cmpstr(rmh->name, ==, "Intel Corp. Integrated Rate Matching Hub");
		else
			g_assert_cmpstr(rmh->name, ==, "Unknown vendor 8087 Device 0024");
	}
}

static void
test_enumerate_empty(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassDevice) none = NULL;

	if (skip_without_umockdev(fixture))
		return;
	/* a host without USB (no /sys/bus/usb): no devices, no error */
	enumerate(fixture);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	g_assert_cmpuint(devices->len, ==, 0);
	none = usbpass_inventory_find(fixture->inventory, "1-1", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(none);
}

static void
test_enumerate_topology(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		if (device->is_root_hub) {
			g_autofree gchar *expected = g_strdup_printf("usb%u", device->bus);
			g_assert_null(device->parent_port);
			g_assert_cmpstr(device->port, ==, expected);
			g_assert_cmpuint(device->device, ==, 1);
			g_assert_true(device->is_hub);
			g_assert_cmpuint(device->vendor_id, ==, 0x1d6b);
			g_assert_cmpstr(device->id_kind, ==, "port");
		} else {
			/* the parent is listed, on the same bus, and is a hub */
			g_autoptr(UsbpassDevice) parent = find(fixture, device->parent_port);
			g_assert_true(parent->is_hub);
			g_assert_cmpuint(parent->bus, ==, device->bus);
			g_assert_true(g_str_has_prefix(device->syspath, parent->syspath));
		}
		g_assert_cmpstr(device->controller_pci_address, ==, device->bus == 3 ? EHCI : XHCI);
		g_assert_nonnull(device->controller_name);
	}
	{
		g_autoptr(UsbpassDevice) usb1 = find(fixture, "1d6b:0002:p:usb1");
		g_autoptr(UsbpassDevice) usb2 = find(fixture, "1d6b:0003:p:usb2");
		g_autoptr(UsbpassDevice) usb3 = find(fixture, "1d6b:0002:p:usb3");
		g_autoptr(UsbpassDevice) hub = find(fixture, "1-4");
		g_assert_cmpuint(usb1->num_ports, ==, 12);
		g_assert_cmpstr(usb1->speed, ==, "480");
		g_assert_cmpstr(usb1->manufacturer, ==, "Linux 6.1.0-13-amd64 xhci-hcd");
		g_assert_cmpstr(interface_at(usb1, 0)->driver, ==, "hub");
		g_assert_cmpuint(usb2->num_ports, ==, 6);
		g_assert_cmpuint(usb2->speed_mbps, ==, 10000);
		g_assert_cmpuint(usb2->device_protocol, ==, 3);
		g_assert_cmpuint(usb3->num_ports, ==, 2);
		g_assert_cmpstr(usb3->product, ==, "EHCI Host Controller");
		g_assert_true(hub->is_hub);
		g_assert_false(hub->is_root_hub);
		g_assert_cmpuint(hub->num_ports, ==, 4);
		g_assert_cmpuint(hub->device_protocol, ==, 2);
		/* the multi-TT hub's second alternate setting is not a second interface */
		g_assert_cmpuint(hub->interfaces->len, ==, 1);
	}
}

static void
test_enumerate_identities(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(UsbpassDevice) a = NULL;
	g_autoptr(UsbpassDevice) b = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	/* two identical CH340 adapters without serial: told apart by port */
	a = find(fixture, "1a86:7523:p:1-4.3");
	b = find(fixture, "1a86:7523:p:1-4.4");
	g_assert_cmpstr(a->id_kind, ==, "port");
	g_assert_null(a->id_conflict);
	g_assert_cmpstr(a->name, ==, b->name);
	g_assert_cmpuint(a->device, !=, b->device);
	g_assert_cmpstr(a->id, !=, b->id);
}

static void
test_enumerate_shared_serial(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(UsbpassDevice) first = NULL;
	g_autoptr(UsbpassDevice) second = NULL;
	g_autoptr(UsbpassDevice) unique = NULL;
	g_autoptr(UsbpassDevice) ftdi = NULL;
	g_autoptr(UsbpassDevice) none = NULL;
	g_autoptr(GError) error = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	first = find(fixture, "1-1");
	second = find(fixture, "1-2.1");
	g_assert_cmpstr(first->serial, ==, "0123456789ABCDEF");
	g_assert_cmpstr(second->serial, ==, "0123456789ABCDEF");
	/* never guessed: both by port, and said why */
	g_assert_cmpstr(first->id, ==, "0781:5567:p:1-1");
	g_assert_cmpstr(second->id, ==, "0781:5567:p:1-2.1");
	g_assert_cmpstr(first->id_kind, ==, "port");
	g_assert_nonnull(first->id_conflict);
	g_assert_nonnull(strstr(first->id_conflict, "'0123456789ABCDEF'"));
	g_assert_nonnull(strstr(first->id_conflict, "2 devices"));
	g_assert_nonnull(strstr(first->id_conflict, "0781:5567"));
	g_assert_cmpstr(first->id_conflict, ==, second->id_conflict);
	none = usbpass_inventory_find(fixture->inventory, "0781:5567:s:0123456789ABCDEF", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(none);
	/* the third stick's serial is its own */
	unique = find(fixture, "1-2.2");
	g_assert_cmpstr(unique->id, ==, "0781:5567:s:4C530001231122117043");
	g_assert_null(unique->id_conflict);
	/* the same serial on another vendor:product is no conflict */
	ftdi = find(fixture, "1-2.3");
	g_assert_cmpstr(ftdi->id, ==, "0403:6001:s:0123456789ABCDEF");
	g_assert_null(ftdi->id_conflict);
}

static void
assert_safe_string(const gchar *str)
{
	if (str == NULL)
		return;
	g_assert_true(g_utf8_validate(str, -1, NULL));
	g_assert_cmpuint(strlen(str), <=, 1024);
	for (const gchar *p = str; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		g_assert_false(c < 0x20 || (c >= 0x7f && c < 0xa0));
	}
}

static void
test_enumerate_hostile(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonArray *array;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	g_assert_cmpuint(devices->len, ==, 4);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		const gchar *strings[] = { device->manufacturer, device->product,
			                   device->serial,       device->vendor_name,
			                   device->product_name, device->name,
			                   device->id,           device->id_conflict,
			                   device->error };
		for (guint j = 0; j < G_N_ELEMENTS(strings); j++)
			assert_safe_string(strings[j]);
		g_assert_true(usbpass_identity_is_valid(device->id));
		if (device->manufacturer != NULL)
			g_assert_cmpuint(
			  strlen(device->manufacturer), <=, USBPASS_STRING_MAX_BYTES);
		if (device->product != NULL)
			g_assert_cmpuint(strlen(device->product), <=, USBPASS_STRING_MAX_BYTES);
		if (device->serial != NULL)
			g_assert_cmpuint(strlen(device->serial), <=, USBPASS_STRING_MAX_BYTES);
	}
	{
		g_autoptr(UsbpassDevice) evil = find(fixture, "1-1");
		g_assert_cmpstr(evil->manufacturer, ==, "Evil \"Corp\" <b>&amp;</b> 'x'\\");
		/* newlines, escape sequences and the NUL became spaces or U+FFFD, nothing was cut
		 * off */
		g_assert_true(g_str_has_prefix(evil->product, "line1 line2"));
		g_assert_nonnull(strstr(evil->product, "[31mred"));
		g_assert_true(g_str_has_suffix(evil->product, "hidden"));
		g_assert_nonnull(strstr(evil->serial, "\xef\xbf\xbd"));
		g_assert_true(g_str_has_prefix(evil->id, "1234:abcd:s:x"));
	}
	{
		/* 4 KiB product and 300-byte serial: cut, marked with an ellipsis */
		g_autoptr(UsbpassDevice) longer = find(fixture, "1-2");
		g_assert_true(g_str_has_suffix(longer->product, "\u2026"));
		g_assert_true(g_str_has_suffix(longer->serial, "\u2026"));
		g_assert_null(strstr(longer->manufacturer, "\x1b"));
	}
	{
		/* strings with nothing printable are absent, names fall back */
		g_autoptr(UsbpassDevice) blank = find(fixture, "1-3");
		g_assert_null(blank->manufacturer);
		g_assert_null(blank->product);
		g_assert_cmpstr(blank->serial, ==, "ok serial 1");
		g_assert_cmpstr(blank->product_name, ==, "Device abcf");
		g_assert_true(g_str_has_prefix(blank->id, "1234:abcf:s:x"));
	}

	/* JSON: valid, no raw control byte, and every string survives the round trip */
	node = usbpass_inventory_devices_to_json(devices);
	text = json_to_string(node, TRUE);
	g_assert_true(g_utf8_validate(text, -1, NULL));
	for (const gchar *p = text; *p != '\0'; p++)
		g_assert_true((guchar)*p >= 0x20 || *p == '\n');
	g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
	g_assert_no_error(error);
	array = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)),
	                                     "devices");
	g_assert_cmpuint(json_array_get_length(array), ==, devices->len);
	for (guint i = 0; i < devices->len; i++) {
		g_autoptr(UsbpassDevice) back =
		  usbpass_device_from_json(json_array_get_object_element(array, i), &error);
		g_assert_no_error(error);
		g_assert_true(usbpass_device_equal(g_ptr_array_index(devices, i), back));
	}
}

static void
test_enumerate_broken(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GPtrArray) devices = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	/* every device is listed: a broken one never hides its siblings */
	devices = usbpass_inventory_get_devices(fixture->inventory);
	g_assert_cmpuint(devices->len, ==, 5);
	{
		/* no busnum, devnum "abc", idVendor "zzzz", no descriptors */
		g_autoptr(UsbpassDevice) garbled = find(fixture, "1-1");
		g_assert_nonnull(garbled->error);
		g_assert_nonnull(strstr(garbled->error, "busnum: missing"));
		g_assert_nonnull(strstr(garbled->error, "devnum: 'abc' is not a decimal number"));
		g_assert_nonnull(
		  strstr(garbled->error, "idVendor: 'zzzz' is not a hexadecimal number"));
		g_assert_cmpuint(garbled->bus, ==, 0);
		g_assert_cmpuint(garbled->device, ==, 0);
		g_assert_cmpuint(garbled->vendor_id, ==, 0);
		/* what could be read was */
		g_assert_cmpuint(garbled->product_id, ==, 0x7523);
		g_assert_cmpstr(garbled->product, ==, "USB Serial");
		g_assert_cmpuint(garbled->interfaces->len, ==, 1);
		g_assert_cmpstr(interface_at(garbled, 0)->driver, ==, "ch341");
		g_assert_cmpstr(garbled->id, ==, "0000:7523:p:1-1");
		assert_safe_string(garbled->error);
	}
	{
		g_autoptr(UsbpassDevice) sibling = find(fixture, "1-2");
		g_assert_null(sibling->error);
		g_assert_cmpstr(sibling->id, ==, "0403:6001:s:A50285BI");
		g_assert_cmpuint(sibling->device, ==, 3);
	}
	{
		/* a truncated descriptors attribute, no bcdDevice, a garbled speed */
		g_autoptr(UsbpassDevice) truncated = find(fixture, "1-3");
		g_assert_nonnull(
		  strstr(truncated->error, "descriptors: no device descriptor in 3 bytes"));
		g_assert_nonnull(strstr(truncated->error, "bcdDevice: missing"));
		g_assert_nonnull(strstr(truncated->error, "speed: 'warp' is not a speed"));
		g_assert_cmpuint(truncated->vendor_id, ==, 0x0781);
		g_assert_cmpstr(truncated->id, ==, "0781:5567:s:4C530001231122117043");
		g_assert_cmpuint(truncated->speed_mbps, ==, 0);
	}
	{
		/* one garbled interface attribute */
		g_autoptr(UsbpassDevice) bad_iface = find(fixture, "1-4");
		g_assert_nonnull(strstr(bad_iface->error, "1-4:1.0 bInterfaceClass: 'xx' is not"));
		g_assert_cmpuint(bad_iface->interfaces->len, ==, 1);
		g_assert_cmpstr(interface_at(bad_iface, 0)->driver, ==, "ftdi_sio");
		g_assert_cmpuint(bad_iface->vendor_id, ==, 0x0403);
	}
	{
		g_autoptr(UsbpassDevice) root = find(fixture, "usb1");
		g_assert_null(root->error);
	}
}

static void
test_enumerate_names_lsusb(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(UsbpassNames) names = usbpass_names_new();
	g_autoptr(GPtrArray) devices = NULL;
	g_autofree gchar *lsusb = g_find_program_in_path("lsusb");
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *argv[] = { NULL, NULL };
	gint status = 0;

	if (skip_without_umockdev(fixture))
		return;
	if (lsusb == NULL) {
		g_test_skip("lsusb not installed");
		return;
	}
	if (!usbpass_names_has_hwdb(names)) {
		g_test_skip("no udev hwdb");
		return;
	}
	enumerate(fixture);
	devices = usbpass_inventory_get_devices(fixture->inventory);
	/* lsusb runs in our testbed: the preload and UMOCKDEV_DIR are inherited */
	argv[0] = lsusb;
	g_assert_true(g_spawn_sync(
	  NULL, (gchar **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_autofree gchar *prefix = g_strdup_printf("Bus %03u Device %03u: ID %04x:%04x ",
		                                           device->bus,
		                                           device->device,
		                                           device->vendor_id,
		                                           device->product_id);
		const gchar *line = strstr(out, prefix);
		g_autofree gchar *rest = NULL;
		g_assert_nonnull(line);
		rest = g_strndup(line + strlen(prefix), strcspn(line + strlen(prefix), "\n"));
		/* lsusb 014 shows the hwdb names: where we have no descriptor string we show the
		 * same */
		if (device->manufacturer == NULL)
			g_assert_true(g_str_has_prefix(rest, device->vendor_name));
		if (device->product == NULL)
			g_assert_true(g_str_has_suffix(rest, device->product_name));
	}
}

/* --- hotplug --- */

static void
add_record(Fixture *fixture, const gchar *pci_address, const UsbpassMockDevice *device)
{
	g_autoptr(GString) record = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	usbpass_mock_append_device(record, pci_address, device);
	/* in the mock environment this sends the "add" uevents too */
	g_assert_true(umockdev_testbed_add_from_string(fixture->testbed, record->str, &error));
	g_assert_no_error(error);
}

/* as the kernel does: the interfaces' remove uevents, the device's, then sysfs is gone */
static void
unplug(Fixture *fixture, const gchar *pci_address, guint bus, const gchar *port, guint n_interfaces)
{
	g_autofree gchar *syspath = usbpass_mock_syspath(pci_address, bus, port);
	for (guint i = 0; i < n_interfaces; i++) {
		g_autofree gchar *iface = g_strdup_printf("%s/%s:1.%u", syspath, port, i);
		umockdev_testbed_uevent(fixture->testbed, iface, "remove");
		/* also drops its /sys/bus/usb/devices link, so the port can be plugged again */
		umockdev_testbed_remove_device(fixture->testbed, iface);
	}
	umockdev_testbed_uevent(fixture->testbed, syspath, "remove");
	umockdev_testbed_remove_device(fixture->testbed, syspath);
}

static const UsbpassMockDevice sandisk = {
	.bus = 1,
	.devnum = 10,
	.port = "1-2",
	.vendor_id = 0x0781,
	.product_id = 0x5567,
	.bcd_device = 0x0100,
	.manufacturer = "SanDisk",
	.product = "Cruzer Blade",
	.serial = "20060266531A8A31C3B1",
	.speed = "480",
	.n_interfaces = 1,
	.interfaces = { { 8, 6, 0x50, "usb-storage" } },
};

static void
test_hotplug_add(Fixture *fixture, gconstpointer user_data)
{
	UsbpassInventoryEvent *event;
	guint64 generation;
	g_autoptr(UsbpassDevice) found = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	generation = usbpass_inventory_get_generation(fixture->inventory);
	add_record(fixture, XHCI, &sandisk);
	wait_for_batches(fixture, 1);

	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_false(event->replugged);
	g_assert_cmpint(event->uevent_usec, >, 0);
	g_assert_cmpstr(event->device->id, ==, "0781:5567:s:20060266531A8A31C3B1");
	g_assert_cmpstr(event->device->port, ==, "1-2");
	g_assert_cmpuint(event->device->device, ==, 10);
	g_assert_cmpstr(event->device->parent_port, ==, "usb1");
	g_assert_cmpstr(interface_at(event->device, 0)->driver, ==, "usb-storage");
	g_assert_cmpstr(event->device->controller_pci_address, ==, XHCI);
	g_assert_null(event->device->error);
	g_assert_cmpuint(usbpass_inventory_get_generation(fixture->inventory), ==, generation + 1);
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 13);
	found = find(fixture, "1:10");
	g_assert_true(found == event->device);
}

static void
test_hotplug_remove(Fixture *fixture, gconstpointer user_data)
{
	UsbpassInventoryEvent *event;
	g_autoptr(UsbpassDevice) gone = NULL;
	g_autoptr(GError) error = NULL;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	unplug(fixture, XHCI, 1, "1-4.2", 1);
	wait_for_batches(fixture, 1);

	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	/* as it was: sysfs was already gone when the batch ran */
	g_assert_cmpstr(event->device->id, ==, "0403:6001:s:A50285BI");
	g_assert_cmpstr(event->device->product, ==, "FT232R USB UART");
	g_assert_cmpuint(event->device->device, ==, 5);
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 11);
	gone = usbpass_inventory_find(fixture->inventory, "0403:6001:s:A50285BI", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(gone);
}

static void
test_hotplug_change(Fixture *fixture, gconstpointer user_data)
{
	g_autofree gchar *syspath = usbpass_mock_syspath(XHCI, 1, "1-1");
	g_autofree gchar *iface = NULL;
	UsbpassInventoryEvent *event;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	umockdev_testbed_set_attribute(
	  fixture->testbed, syspath, "product", "Unifying Receiver II\n");
	umockdev_testbed_uevent(fixture->testbed, syspath, "change");
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event->device->product, ==, "Unifying Receiver II");
	g_assert_cmpstr(event->device->name, ==, "Logitech Unifying Receiver II");
	g_assert_cmpstr(event->device->id, ==, "046d:c52b:p:1-1");

	/* a driver unbound from an interface: the interface's uevent updates its device */
	reset_events(fixture);
	iface = g_strdup_printf("%s/1-1:1.2", syspath);
	{
		/* umockdev cannot replace a link: drop the old one in the testbed directly */
		g_autofree gchar *root = umockdev_testbed_get_root_dir(fixture->testbed);
		g_autofree gchar *link = g_build_filename(root, iface, "driver", NULL);
		g_assert_cmpint(g_unlink(link), ==, 0);
	}
	umockdev_testbed_set_attribute_link(
	  fixture->testbed, iface, "driver", "../../../../../../bus/usb/drivers/vfio-usb");
	umockdev_testbed_uevent(fixture->testbed, iface, "bind");
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(interface_at(event->device, 2)->driver, ==, "vfio-usb");

	/* a change uevent that changes nothing is no event */
	reset_events(fixture);
	umockdev_testbed_uevent(fixture->testbed, syspath, "change");
	while (usbpass_inventory_get_pending(fixture->inventory) == 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(usbpass_inventory_flush(fixture->inventory), ==, 0);
	g_assert_cmpuint(fixture->changed, ==, 0);

	/* teardown: the kernel unbinds before it removes, and a read in between
	 * finds the serial gone; that is not a new identity, and no event */
	{
		g_autofree gchar *ftdi = usbpass_mock_syspath(XHCI, 1, "1-4.2");
		g_autofree gchar *root = umockdev_testbed_get_root_dir(fixture->testbed);
		g_autofree gchar *serial = g_build_filename(root, ftdi, "serial", NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) still = NULL;
		g_assert_cmpint(g_unlink(serial), ==, 0);
		umockdev_testbed_uevent(fixture->testbed, ftdi, "unbind");
		while (usbpass_inventory_get_pending(fixture->inventory) == 0)
			g_main_context_iteration(NULL, TRUE);
		g_assert_cmpuint(usbpass_inventory_flush(fixture->inventory), ==, 0);
		still = usbpass_inventory_find(fixture->inventory, "0403:6001:s:A50285BI", &error);
		g_assert_no_error(error);
		g_assert_cmpstr(still->serial, ==, "A50285BI");
	}
}

static void
test_hotplug_burst(Fixture *fixture, gconstpointer user_data)
{
	UsbpassMockDevice hub = {
		.bus = 1,
		.devnum = 20,
		.port = "1-2",
		.vendor_id = 0x05e3,
		.product_id = 0x0610,
		.bcd_device = 0x6060,
		.device_class = 9,
		.manufacturer = "GenesysLogic",
		.product = "USB2.0 Hub",
		.speed = "480",
		.maxchild = 7,
		.n_interfaces = 1,
		.interfaces = { { 9, 0, 0, "hub" } },
	};

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	/* a hub with seven devices appears: one batch */
	add_record(fixture, XHCI, &hub);
	receive_uevents(fixture, 2);
	for (guint i = 1; i <= 7; i++) {
		g_autofree gchar *port = g_strdup_printf("1-2.%u", i);
		UsbpassMockDevice device = sandisk;
		device.port = port;
		device.devnum = 20 + i;
		device.serial = NULL;
		add_record(fixture, XHCI, &device);
		receive_uevents(fixture, 2 + 2 * i);
	}
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 8);
	for (guint i = 0; i < 8; i++)
		g_assert_cmpint(event_at(fixture, i)->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 20);
	{
		g_autoptr(UsbpassDevice) added_hub = find(fixture, "05e3:0610:p:1-2");
		g_autoptr(UsbpassDevice) last = find(fixture, "0781:5567:p:1-2.7");
		g_assert_cmpuint(added_hub->num_ports, ==, 7);
		g_assert_cmpstr(last->parent_port, ==, "1-2");
	}

	/* and goes: the kernel's remove uevents, children first; one batch again */
	reset_events(fixture);
	for (guint i = 7; i >= 1; i--) {
		g_autofree gchar *port = g_strdup_printf("1-2.%u", i);
		g_autofree gchar *syspath = usbpass_mock_syspath(XHCI, 1, port);
		umockdev_testbed_uevent(fixture->testbed, syspath, "remove");
		receive_uevents(fixture, 8 - i);
	}
	unplug(fixture, XHCI, 1, "1-2", 1);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 8);
	for (guint i = 0; i < 8; i++)
		g_assert_cmpint(event_at(fixture, i)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 12);
}

static void
test_hotplug_hub_lost_children(Fixture *fixture, gconstpointer user_data)
{
	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	/* only the hub's remove arrives: its four children go with it */
	unplug(fixture, XHCI, 1, "1-4", 1);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 5);
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 7);
}

static void
test_hotplug_replug(Fixture *fixture, gconstpointer user_data)
{
	UsbpassInventoryEvent *event;
	UsbpassMockDevice key = {
		.bus = 1,
		.devnum = 30,
		.port = "1-2",
		.vendor_id = 0x1050,
		.product_id = 0x0407,
		.bcd_device = 0x0543,
		.manufacturer = "Yubico",
		.product = "YubiKey OTP+FIDO+CCID",
		.serial = "16123456",
		.speed = "12",
		.n_interfaces = 3,
		.interfaces = { { 3, 1, 1, "usbhid" },
		                { 3, 0, 0, "usbhid" },
		                { 0x0b, 0, 0, NULL } },
	};
	UsbpassMockDevice ch340 = {
		.bus = 1,
		.devnum = 31,
		.port = "1-4.3",
		.vendor_id = 0x1a86,
		.product_id = 0x7523,
		.bcd_device = 0x0264,
		.bcd_usb = 0x0110,
		.device_class = 0xff,
		.product = "USB Serial",
		.speed = "12",
		.n_interfaces = 1,
		.interfaces = { { 0xff, 1, 2, "ch341" } },
	};

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);

	/* the YubiKey (identified by serial) is pulled from the hub ... */
	unplug(fixture, XHCI, 1, "1-4.1", 3);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);

	/* ... and plugged into a port of the root hub: new device number, same identity */
	reset_events(fixture);
	add_record(fixture, XHCI, &key);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpstr(event->device->id, ==, "1050:0407:s:16123456");
	g_assert_true(event->replugged);
	g_assert_cmpuint(event->previous_bus, ==, 1);
	g_assert_cmpuint(event->previous_device, ==, 4);
	g_assert_cmpstr(event->previous_port, ==, "1-4.1");
	g_assert_cmpuint(event->device->device, ==, 30);
	g_assert_cmpstr(event->device->port, ==, "1-2");

	/* a serial-less adapter re-plugged into the same port keeps its port identity */
	reset_events(fixture);
	unplug(fixture, XHCI, 1, "1-4.3", 1);
	add_record(fixture, XHCI, &ch340);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 2);
	g_assert_cmpint(event_at(fixture, 0)->kind, ==, USBPASS_INVENTORY_EVENT_REMOVED);
	event = event_at(fixture, 1);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpstr(event->device->id, ==, "1a86:7523:p:1-4.3");
	g_assert_true(event->replugged);
	g_assert_cmpuint(event->previous_device, ==, 6);
	g_assert_null(event->previous_port);
	g_assert_cmpuint(event->device->device, ==, 31);
}

static void
test_hotplug_flood(Fixture *fixture, gconstpointer user_data)
{
	g_autofree gchar *syspath = usbpass_mock_syspath(XHCI, 1, "1-4.2");
	g_autoptr(GUdevClient) client = g_udev_client_new(NULL);
	g_autoptr(GUdevDevice) udev_device = NULL;
	UsbpassInventoryEvent *event;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	udev_device = g_udev_client_query_by_sysfs_path(client, syspath);
	g_assert_nonnull(udev_device);
	/* more uevents than the queue keeps: one full re-read instead, still one batch */
	for (guint i = 0; i < 5000; i++)
		usbpass_inventory_queue_uevent(fixture->inventory, "change", udev_device);
	g_assert_cmpuint(usbpass_inventory_get_pending(fixture->inventory), ==, 4096);
	umockdev_testbed_set_attribute(
	  fixture->testbed, syspath, "product", "FT232R USB UART (2)\n");
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->changed, ==, 1);
	g_assert_cmpuint(fixture->events->len, ==, 1);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event->device->product, ==, "FT232R USB UART (2)");
	g_assert_cmpuint(usbpass_inventory_get_size(fixture->inventory), ==, 12);
}

static void
test_hotplug_twin(Fixture *fixture, gconstpointer user_data)
{
	UsbpassMockDevice twin = {
		.bus = 3,
		.devnum = 9,
		.port = "3-1.2",
		.vendor_id = 0x0403,
		.product_id = 0x6001,
		.bcd_device = 0x0600,
		.manufacturer = "FTDI",
		.product = "FT232R USB UART",
		.serial = "A50285BI",
		.speed = "12",
		.n_interfaces = 1,
		.interfaces = { { 0xff, 0xff, 0xff, "ftdi_sio" } },
	};
	UsbpassInventoryEvent *event;

	if (skip_without_umockdev(fixture))
		return;
	enumerate(fixture);
	/* a second FTDI adapter with the same serial appears on the other controller */
	add_record(fixture, EHCI, &twin);
	wait_for_batches(fixture, 1);
	g_assert_cmpuint(fixture->events->len, ==, 2);
	event = event_at(fixture, 0);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_ADDED);
	g_assert_cmpstr(event->device->id, ==, "0403:6001:p:3-1.2");
	g_assert_cmpstr(event->device->controller_pci_address, ==, EHCI);
	g_assert_nonnull(event->device->id_conflict);
	event = event_at(fixture, 1);
	g_assert_cmpint(event->kind, ==, USBPASS_INVENTORY_EVENT_CHANGED);
	g_assert_cmpstr(event->device->id, ==, "0403:6001:p:1-4.2");
	g_assert_nonnull(strstr(event->device->id_conflict, "'A50285BI'"));
}

int
main(int argc, char **argv)
{
	const struct {
		const gchar *path;
		const gchar *record;
		void (*func)(Fixture *, gconstpointer);
	} tests[] = {
		{ "/usbpass/inventory/enumerate{demo}", "demo.umockdev", test_enumerate_demo },
		{ "/usbpass/inventory/enumerate{empty}", NULL, test_enumerate_empty },
		{ "/usbpass/inventory/enumerate{topology}",
		  "demo.umockdev",
		  test_enumerate_topology },
		{ "/usbpass/inventory/enumerate{identical}",
		  "demo.umockdev",
		  test_enumerate_identities },
		{ "/usbpass/inventory/enumerate{shared-serial}",
		  "shared-serial.umockdev",
		  test_enumerate_shared_serial },
		{ "/usbpass/inventory/enumerate{hostile}",
		  "hostile.umockdev",
		  test_enumerate_hostile },
		{ "/usbpass/inventory/enumerate{broken}",
		  "broken.umockdev",
		  test_enumerate_broken },
		{ "/usbpass/inventory/enumerate{lsusb}",
		  "demo.umockdev",
		  test_enumerate_names_lsusb },
		{ "/usbpass/inventory/hotplug{add}", "demo.umockdev", test_hotplug_add },
		{ "/usbpass/inventory/hotplug{remove}", "demo.umockdev", test_hotplug_remove },
		{ "/usbpass/inventory/hotplug{change}", "demo.umockdev", test_hotplug_change },
		{ "/usbpass/inventory/hotplug{burst}", "demo.umockdev", test_hotplug_burst },
		{ "/usbpass/inventory/hotplug{hub-children}",
		  "demo.umockdev",
		  test_hotplug_hub_lost_children },
		{ "/usbpass/inventory/hotplug{replug}", "demo.umockdev", test_hotplug_replug },
		{ "/usbpass/inventory/hotplug{twin}", "demo.umockdev", test_hotplug_twin },
		{ "/usbpass/inventory/hotplug{flood}", "demo.umockdev", test_hotplug_flood },
	};

	/* umockdev writes a file per attribute with fsync: a tmpfs makes the testbeds instant */
	if (g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) && g_access("/dev/shm", W_OK) == 0)
		g_setenv("TMPDIR", "/dev/shm", TRUE);
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(tests); i++)
		g_test_add(tests[i].path,
		           Fixture,
		           tests[i].record,
		           fixture_setup,
		           tests[i].func,
		           fixture_teardown);
	return g_test_run();
}

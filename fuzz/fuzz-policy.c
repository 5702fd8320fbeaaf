/*
 * fuzz-policy.c: any policy file -> the policy loader and its verdicts
 *
 * Asserted: loading either fails with INVALID_DATA and a printable one-line
 * message, or gives a policy whose description and verdicts on a set of
 * devices (a hub, a keyboard, storage, a device without strings, one with
 * hostile strings) are printable text; the built-in rules still come first
 * (a hub and a root hub are always denied).
 *
 * Input: the file.
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <string.h>

#include "engine/usbpass-policy.h"
#include "usbpass-error.h"
#include "usbpass-fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static GPtrArray *devices = NULL; /* of UsbpassDevice */
static gchar *empty_dir = NULL;

static UsbpassDevice *
fuzz_device_new(guint16 vendor_id,
                guint16 product_id,
                const gchar *port,
                const gchar *serial,
                guint8 device_class,
                guint8 iface_class,
                guint8 iface_subclass,
                guint8 iface_protocol)
{
	UsbpassDevice *device = usbpass_device_new();
	UsbpassInterface *iface = usbpass_interface_new();
	device->vendor_id = vendor_id;
	device->product_id = product_id;
	device->port = g_strdup(port);
	device->serial = g_strdup(serial);
	device->device_class = device_class;
	device->is_root_hub = g_str_has_prefix(port, "usb");
	device->is_hub = device_class == 9;
	device->syspath = g_strconcat("/sys/devices/pci0000:00/0000:00:14.0/usb1/", port, NULL);
	iface->interface_class = iface_class;
	iface->interface_subclass = iface_subclass;
	iface->interface_protocol = iface_protocol;
	g_ptr_array_add(device->interfaces, iface);
	return device;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	usbpass_fuzz_init();
	empty_dir = g_dir_make_tmp("usbpass-fuzz-policy-XXXXXX", NULL);
	g_assert(empty_dir != NULL);
	devices = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_ptr_array_add(devices,
	                fuzz_device_new(0x1d6b, 0x0002, "usb1", "0000:00:14.0", 9, 9, 0, 0));
	g_ptr_array_add(devices, fuzz_device_new(0x05e3, 0x0610, "1-1", NULL, 9, 9, 0, 1));
	g_ptr_array_add(devices, fuzz_device_new(0x413c, 0x2113, "1-2", NULL, 0, 3, 1, 1));
	g_ptr_array_add(
	  devices, fuzz_device_new(0x0781, 0x5567, "1-1.4", "4C530001231122117043", 0, 8, 6, 0x50));
	g_ptr_array_add(devices,
	                fuzz_device_new(0x0bda, 0x2838, "2-3.1.2", NULL, 0, 0xff, 0xff, 0xff));
	g_ptr_array_add(
	  devices, fuzz_device_new(0xffff, 0x0000, "3-1", "\xe2\x80\xae*?[x]\\", 0xef, 2, 2, 1));
	return 0;
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPolicy) policy = NULL;
	g_autoptr(GPtrArray) lines = NULL;

	policy = usbpass_policy_new_from_data((const gchar *)data, size, &error);
	if (policy == NULL) {
		g_assert(g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA));
		usbpass_fuzz_assert_text("policy error", error->message, NULL);
		return 0;
	}
	g_assert_no_error(error);
	/* no host paths: nothing counts as mounted, nothing is read from the host */
	usbpass_policy_set_mountinfo_path(policy, "/nonexistent/mountinfo");
	usbpass_policy_set_sysfs_path(policy, empty_dir);

	lines = usbpass_policy_describe(policy);
	g_assert(lines->len >= 5);
	for (guint i = 0; i < lines->len; i++)
		usbpass_fuzz_assert_text("policy line", g_ptr_array_index(lines, i), NULL);
	for (guint i = 0; i < devices->len; i++) {
		const UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_autoptr(UsbpassPolicyVerdict) verdict = usbpass_policy_check(policy, device);
		usbpass_fuzz_assert_text("verdict rule", verdict->rule, NULL);
		usbpass_fuzz_assert_text("verdict reason", verdict->reason, NULL);
		if (device->is_hub || device->is_root_hub) {
			g_assert(!verdict->allowed);
			g_assert(g_str_has_prefix(verdict->rule, "builtin-"));
		}
	}
	return 0;
}

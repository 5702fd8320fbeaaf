/*
 * usbpass-mock-usb.h: umockdev records of USB hardware, generated
 *
 * Writes the text format of umockdev_testbed_add_from_string() for PCI host
 * controllers and USB devices the way the kernel shows them in sysfs: string
 * attributes ending in "\n", the uevent properties (BUSNUM, DEVNUM, DEVTYPE,
 * ...), one child device per interface with its driver link, and the binary
 * "descriptors" attribute (device descriptor plus configuration), so that
 * lsusb sees the devices too. Used by the inventory tests (hotplug) and the
 * inventory benchmark (testbeds of 100 and 1,000 devices from a fixed seed).
 * GLib only; no global state.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define USBPASS_MOCK_INTERFACES_MAX 8

typedef struct {
	guint8 interface_class;
	guint8 interface_subclass;
	guint8 interface_protocol;
	const gchar *driver; /* NULL: no driver bound */
} UsbpassMockInterface;

typedef struct {
	guint bus;
	const gchar *port; /* "1-4.1", or "usb1" for a root hub */
	guint devnum;
	guint16 vendor_id;
	guint16 product_id;
	guint16 bcd_device;
	guint16 bcd_usb;
	guint8 device_class;
	guint8 device_subclass;
	guint8 device_protocol;
	const gchar *manufacturer; /* NULL: no such string */
	const gchar *product;
	const gchar *serial;
	const gchar *speed; /* "1.5", "12", "480", "5000", ... */
	guint maxchild;     /* ports of a hub */
	guint n_interfaces;
	UsbpassMockInterface interfaces[USBPASS_MOCK_INTERFACES_MAX];
} UsbpassMockDevice;

/* "/devices/pci0000:00/0000:00:14.0" */
gchar *
usbpass_mock_pci_devpath(const gchar *pci_address);
/* "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4.1" */
gchar *
usbpass_mock_syspath(const gchar *pci_address, guint bus, const gchar *port);

void
usbpass_mock_append_pci(GString *out,
                        const gchar *pci_address,
                        guint16 vendor_id,
                        guint16 device_id,
                        guint32 pci_class,
                        const gchar *driver);
void
usbpass_mock_append_device(GString *out, const gchar *pci_address, const UsbpassMockDevice *device);

/* the binary "descriptors" attribute of @device */
GByteArray *
usbpass_mock_descriptors(const UsbpassMockDevice *device);

/* a host of @n_devices USB devices (root hubs and hubs included) on as many
 * xHCI controllers as needed, from @seed: the same seed gives the same host */
gchar *
usbpass_mock_generate_host(guint n_devices, guint32 seed);

G_END_DECLS

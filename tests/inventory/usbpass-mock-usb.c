/*
 * usbpass-mock-usb.c: umockdev records of USB hardware, generated
 */
#define G_LOG_DOMAIN "UsbpassTest"

#include "usbpass-mock-usb.h"

#include <string.h>

/**
 * usbpass_mock_pci_devpath:
 * @pci_address: "0000:00:14.0"
 *
 * Returns: (transfer full): the record path of the PCI function
 */
gchar *
usbpass_mock_pci_devpath(const gchar *pci_address)
{
	return g_strdup_printf("/devices/pci0000:00/%s", pci_address);
}

static gchar *
usbpass_mock_devpath(const gchar *pci_address, guint bus, const gchar *port)
{
	g_autofree gchar *pci = usbpass_mock_pci_devpath(pci_address);
	GString *path = g_string_new(pci);
	const gchar *dash = strchr(port, '-');

	g_string_append_printf(path, "/usb%u", bus);
	if (dash != NULL && !g_str_has_prefix(port, "usb")) {
		/* "1-4.1" lives in ".../usb1/1-4/1-4.1" */
		const gchar *p = dash + 1;
		for (;;) {
			const gchar *dot = strchr(p, '.');
			gsize len = dot != NULL ? (gsize)(dot - port) : strlen(port);
			g_string_append_c(path, '/');
			g_string_append_len(path, port, (gssize)len);
			if (dot == NULL)
				break;
			p = dot + 1;
		}
	}
	return g_string_free(path, FALSE);
}

/**
 * usbpass_mock_syspath:
 * @pci_address: the controller
 * @bus: the bus number
 * @port: "1-4.1" or "usb1"
 *
 * Returns: (transfer full): the device's path as libudev reports it
 */
gchar *
usbpass_mock_syspath(const gchar *pci_address, guint bus, const gchar *port)
{
	g_autofree gchar *devpath = usbpass_mock_devpath(pci_address, bus, port);
	return g_strconcat("/sys", devpath, NULL);
}

static void
append_le16(GByteArray *out, guint16 value)
{
	guint8 bytes[2] = { value & 0xff, value >> 8 };
	g_byte_array_append(out, bytes, 2);
}

static gboolean
usbpass_mock_is_superspeed(const UsbpassMockDevice *device)
{
	return g_strcmp0(device->speed, "5000") == 0 || g_strcmp0(device->speed, "10000") == 0 ||
	       g_strcmp0(device->speed, "20000") == 0;
}

/**
 * usbpass_mock_descriptors:
 * @device: a device
 *
 * Returns: (transfer full): the device descriptor followed by one configuration
 * with one endpoint per interface
 */
GByteArray *
usbpass_mock_descriptors(const UsbpassMockDevice *device)
{
	GByteArray *out = g_byte_array_new();
	gboolean superspeed = usbpass_mock_is_superspeed(device);
	guint config_start;
	guint8 header[4];

	header[0] = 18;
	header[1] = 1;
	g_byte_array_append(out, header, 2);
	append_le16(out, device->bcd_usb != 0 ? device->bcd_usb : 0x0200);
	{
		guint8 classes[4] = { device->device_class,
			              device->device_subclass,
			              device->device_protocol,
			              superspeed ? 9 : 64 };
		g_byte_array_append(out, classes, 4);
	}
	append_le16(out, device->vendor_id);
	append_le16(out, device->product_id);
	append_le16(out, device->bcd_device);
	{
		guint8 strings[4] = { device->manufacturer != NULL ? 1 : 0,
			              device->product != NULL ? 2 : 0,
			              device->serial != NULL ? 3 : 0,
			              1 };
		g_byte_array_append(out, strings, 4);
	}

	config_start = out->len;
	{
		guint8 config[9] = { 9, 2, 0, 0, (guint8)device->n_interfaces, 1, 0, 0x80, 50 };
		g_byte_array_append(out, config, 9);
	}
	for (guint i = 0; i < device->n_interfaces; i++) {
		const UsbpassMockInterface *iface = &device->interfaces[i];
		guint8 desc[9] = { 9,
			           4,
			           (guint8)i,
			           0,
			           1,
			           iface->interface_class,
			           iface->interface_subclass,
			           iface->interface_protocol,
			           0 };
		guint8 endpoint[7] = { 7, 5, (guint8)(0x81 + i), 3, 8, 0, 10 };
		g_byte_array_append(out, desc, 9);
		g_byte_array_append(out, endpoint, 7);
		if (superspeed) {
			guint8 companion[6] = { 6, 0x30, 0, 0, 8, 0 };
			g_byte_array_append(out, companion, 6);
		}
	}
	out->data[config_start + 2] = (out->len - config_start) & 0xff;
	out->data[config_start + 3] = (out->len - config_start) >> 8;
	return out;
}

static void
append_hex(GString *out, const guint8 *data, guint len)
{
	static const gchar digits[] = "0123456789ABCDEF";
	for (guint i = 0; i < len; i++) {
		g_string_append_c(out, digits[data[i] >> 4]);
		g_string_append_c(out, digits[data[i] & 0xf]);
	}
}

/* "A: name=value\n" with the kernel's trailing newline escaped as umockdev wants */
static void
append_attr(GString *out, const gchar *name, const gchar *value)
{
	g_string_append_printf(out, "A: %s=", name);
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_string_append(out, "\\n\n");
}

/**
 * usbpass_mock_append_pci:
 * @out: the record text
 * @pci_address: "0000:00:14.0"
 * @vendor_id: PCI vendor
 * @device_id: PCI device
 * @pci_class: e.g. 0x0c0330 for xHCI
 * @driver: "xhci_hcd"
 */
void
usbpass_mock_append_pci(GString *out,
                        const gchar *pci_address,
                        guint16 vendor_id,
                        guint16 device_id,
                        guint32 pci_class,
                        const gchar *driver)
{
	g_autofree gchar *devpath = usbpass_mock_pci_devpath(pci_address);
	gchar buf[32];

	g_string_append_printf(out, "P: %s\n", devpath);
	g_string_append_printf(out, "E: DRIVER=%s\n", driver);
	g_string_append_printf(out, "E: PCI_CLASS=%X\n", pci_class);
	g_string_append_printf(out, "E: PCI_ID=%04X:%04X\n", vendor_id, device_id);
	g_string_append_printf(out, "E: PCI_SLOT_NAME=%s\n", pci_address);
	g_string_append(out, "E: SUBSYSTEM=pci\n");
	g_snprintf(buf, sizeof(buf), "0x%06x", pci_class);
	append_attr(out, "class", buf);
	g_snprintf(buf, sizeof(buf), "0x%04x", device_id);
	append_attr(out, "device", buf);
	g_snprintf(buf, sizeof(buf), "0x%04x", vendor_id);
	append_attr(out, "vendor", buf);
	g_string_append_printf(out, "L: driver=../../../bus/pci/drivers/%s\n\n", driver);
}

/**
 * usbpass_mock_append_device:
 * @out: the record text
 * @pci_address: the controller the device hangs off
 * @device: the device
 *
 * Appends the usb_device and its usb_interface children.
 */
void
usbpass_mock_append_device(GString *out, const gchar *pci_address, const UsbpassMockDevice *device)
{
	g_autofree gchar *devpath = usbpass_mock_devpath(pci_address, device->bus, device->port);
	g_autoptr(GByteArray) descriptors = usbpass_mock_descriptors(device);
	gboolean root_hub = g_str_has_prefix(device->port, "usb");
	guint minor = (device->bus - 1) * 128 + device->devnum - 1;
	guint depth = 0;
	g_autofree gchar *dots = NULL;
	g_autofree gchar *interface_prefix = NULL;
	gchar buf[64];

	for (const gchar *p = devpath; *p != '\0'; p++)
		depth += *p == '/' ? 1 : 0;
	{
		g_autoptr(GString) up = g_string_new("..");
		for (guint i = 1; i < depth; i++)
			g_string_append(up, "/..");
		dots = g_string_free(g_steal_pointer(&up), FALSE);
	}

	g_string_append_printf(out, "P: %s\n", devpath);
	g_string_append_printf(out, "N: bus/usb/%03u/%03u=", device->bus, device->devnum);
	append_hex(out, descriptors->data, descriptors->len);
	g_string_append_c(out, '\n');
	g_string_append_printf(out, "E: BUSNUM=%03u\n", device->bus);
	g_string_append_printf(out, "E: DEVNUM=%03u\n", device->devnum);
	g_string_append_printf(
	  out, "E: DEVNAME=/dev/bus/usb/%03u/%03u\n", device->bus, device->devnum);
	g_string_append(out, "E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: MAJOR=189\n");
	g_string_append_printf(out, "E: MINOR=%u\n", minor);
	g_string_append_printf(
	  out, "E: PRODUCT=%x/%x/%x\n", device->vendor_id, device->product_id, device->bcd_device);
	g_string_append_printf(out,
	                       "E: TYPE=%u/%u/%u\n",
	                       device->device_class,
	                       device->device_subclass,
	                       device->device_protocol);
	g_string_append(out, "E: SUBSYSTEM=usb\n");
	append_attr(out, "bConfigurationValue", "1");
	g_snprintf(buf, sizeof(buf), "%02x", device->device_class);
	append_attr(out, "bDeviceClass", buf);
	g_snprintf(buf, sizeof(buf), "%02x", device->device_protocol);
	append_attr(out, "bDeviceProtocol", buf);
	g_snprintf(buf, sizeof(buf), "%02x", device->device_subclass);
	append_attr(out, "bDeviceSubClass", buf);
	g_snprintf(buf, sizeof(buf), "%2u", device->n_interfaces);
	append_attr(out, "bNumInterfaces", buf);
	g_snprintf(buf, sizeof(buf), "%04x", device->bcd_device);
	append_attr(out, "bcdDevice", buf);
	g_snprintf(buf, sizeof(buf), "%u", device->bus);
	append_attr(out, "busnum", buf);
	g_string_append(out, "H: descriptors=");
	append_hex(out, descriptors->data, descriptors->len);
	g_string_append_c(out, '\n');
	g_snprintf(buf, sizeof(buf), "189:%u", minor);
	append_attr(out, "dev", buf);
	g_snprintf(buf, sizeof(buf), "%u", device->devnum);
	append_attr(out, "devnum", buf);
	g_string_append_printf(out, "L: driver=%s/bus/usb/drivers/usb\n", dots);
	g_snprintf(buf, sizeof(buf), "%04x", device->product_id);
	append_attr(out, "idProduct", buf);
	g_snprintf(buf, sizeof(buf), "%04x", device->vendor_id);
	append_attr(out, "idVendor", buf);
	if (device->manufacturer != NULL)
		append_attr(out, "manufacturer", device->manufacturer);
	g_snprintf(buf, sizeof(buf), "%u", device->maxchild);
	append_attr(out, "maxchild", buf);
	if (device->product != NULL)
		append_attr(out, "product", device->product);
	if (device->serial != NULL)
		append_attr(out, "serial", device->serial);
	append_attr(out, "speed", device->speed != NULL ? device->speed : "480");
	g_string_append_c(out, '\n');

	interface_prefix = root_hub ? g_strdup_printf("%u-0", device->bus) : g_strdup(device->port);
	for (guint i = 0; i < device->n_interfaces; i++) {
		const UsbpassMockInterface *iface = &device->interfaces[i];
		g_string_append_printf(out, "P: %s/%s:1.%u\n", devpath, interface_prefix, i);
		g_string_append(out, "E: DEVTYPE=usb_interface\n");
		if (iface->driver != NULL)
			g_string_append_printf(out, "E: DRIVER=%s\n", iface->driver);
		g_string_append_printf(out,
		                       "E: INTERFACE=%u/%u/%u\n",
		                       iface->interface_class,
		                       iface->interface_subclass,
		                       iface->interface_protocol);
		g_string_append(out, "E: SUBSYSTEM=usb\n");
		g_snprintf(buf, sizeof(buf), "%02x", iface->interface_class);
		append_attr(out, "bInterfaceClass", buf);
		g_snprintf(buf, sizeof(buf), "%02x", i);
		append_attr(out, "bInterfaceNumber", buf);
		g_snprintf(buf, sizeof(buf), "%02x", iface->interface_protocol);
		append_attr(out, "bInterfaceProtocol", buf);
		g_snprintf(buf, sizeof(buf), "%02x", iface->interface_subclass);
		append_attr(out, "bInterfaceSubClass", buf);
		if (iface->driver != NULL)
			g_string_append_printf(
			  out, "L: driver=../%s/bus/usb/drivers/%s\n", dots, iface->driver);
		g_string_append_c(out, '\n');
	}
}

/* --- a generated host --- */

typedef struct {
	guint16 vendor_id;
	guint16 product_id;
	guint16 bcd_device;
	guint8 device_class;
	const gchar *manufacturer;
	const gchar *product;
	gboolean has_serial;
	const gchar *speed;
	guint n_interfaces;
	UsbpassMockInterface interfaces[4];
} UsbpassMockTemplate;

static const UsbpassMockTemplate templates[] = {
	{ 0x0781,
	  0x5567,
	  0x0100,
	  0,
	  "SanDisk",
	  "Cruzer Blade",
	  TRUE,
	  "480",
	  1,
	  { { 8, 6, 0x50, "usb-storage" } } },
	{ 0x0403,
	  0x6001,
	  0x0600,
	  0,
	  "FTDI",
	  "FT232R USB UART",
	  TRUE,
	  "12",
	  1,
	  { { 0xff, 0xff, 0xff, "ftdi_sio" } } },
	{ 0x1a86,
	  0x7523,
	  0x0264,
	  0xff,
	  NULL,
	  "USB Serial",
	  FALSE,
	  "12",
	  1,
	  { { 0xff, 1, 2, "ch341" } } },
	{ 0x1050,
	  0x0407,
	  0x0543,
	  0,
	  "Yubico",
	  "YubiKey OTP+FIDO+CCID",
	  TRUE,
	  "12",
	  3,
	  { { 3, 1, 1, "usbhid" }, { 3, 0, 0, "usbhid" }, { 0x0b, 0, 0, NULL } } },
	{ 0x046d,
	  0xc52b,
	  0x1211,
	  0,
	  "Logitech",
	  "USB Receiver",
	  FALSE,
	  "12",
	  3,
	  { { 3, 1, 1, "usbhid" }, { 3, 1, 2, "usbhid" }, { 3, 0, 0, "usbhid" } } },
	{ 0x413c,
	  0x2113,
	  0x0108,
	  0,
	  NULL,
	  "Dell KB216 Wired Keyboard",
	  FALSE,
	  "1.5",
	  2,
	  { { 3, 1, 1, "usbhid" }, { 3, 0, 0, "usbhid" } } },
	{ 0x0c45,
	  0x6366,
	  0x0100,
	  0xef,
	  "Sonix Technology Co., Ltd.",
	  "USB 2.0 Camera",
	  FALSE,
	  "480",
	  4,
	  { { 0x0e, 1, 0, "uvcvideo" },
	    { 0x0e, 2, 0, "uvcvideo" },
	    { 1, 1, 0, "snd-usb-audio" },
	    { 1, 2, 0, "snd-usb-audio" } } },
	{ 0xf055, 0x9999, 0x0001, 0xff, NULL, NULL, TRUE, "12", 1, { { 0xff, 0, 0, NULL } } },
};

static void
usbpass_mock_from_template(UsbpassMockDevice *device,
                           const UsbpassMockTemplate *template,
                           const gchar *serial)
{
	device->vendor_id = template->vendor_id;
	device->product_id = template->product_id;
	device->bcd_device = template->bcd_device;
	device->bcd_usb = 0x0200;
	device->device_class = template->device_class;
	device->manufacturer = template->manufacturer;
	device->product = template->product;
	device->serial = template->has_serial ? serial : NULL;
	device->speed = template->speed;
	device->n_interfaces = template->n_interfaces;
	memcpy(device->interfaces, template->interfaces, sizeof(template->interfaces));
}

/**
 * usbpass_mock_generate_host:
 * @n_devices: how many USB devices in all, root hubs and hubs included
 * @seed: for the choice of devices and serials
 *
 * Each xHCI controller ("0000:NN:00.0", bus NN) has a root hub with twelve
 * ports, up to twelve hubs with seven ports each and devices behind them.
 *
 * Returns: (transfer full): the record text for umockdev
 */
gchar *
usbpass_mock_generate_host(guint n_devices, guint32 seed)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	GString *out = g_string_sized_new(n_devices * 2048);
	guint count = 0;

	for (guint bus = 1; count < n_devices && bus < 256; bus++) {
		g_autofree gchar *pci_address = g_strdup_printf("0000:%02x:00.0", bus);
		guint devnum = 1;
		UsbpassMockDevice root = {
			.bus = bus,
			.devnum = devnum++,
			.vendor_id = 0x1d6b,
			.product_id = 0x0002,
			.bcd_device = 0x0601,
			.bcd_usb = 0x0200,
			.device_class = 9,
			.manufacturer = "Linux 6.1.0-13-amd64 xhci-hcd",
			.product = "xHCI Host Controller",
			.serial = pci_address,
			.speed = "480",
			.maxchild = 12,
			.n_interfaces = 1,
			.interfaces = { { 9, 0, 0, "hub" } },
		};
		g_autofree gchar *root_port = g_strdup_printf("usb%u", bus);

		usbpass_mock_append_pci(out, pci_address, 0x8086, 0xa36d, 0x0c0330, "xhci_hcd");
		root.port = root_port;
		usbpass_mock_append_device(out, pci_address, &root);
		count++;
		for (guint hub_port = 1; hub_port <= 12 && count < n_devices; hub_port++) {
			g_autofree gchar *hub_name = g_strdup_printf("%u-%u", bus, hub_port);
			UsbpassMockDevice hub = {
				.bus = bus,
				.port = hub_name,
				.devnum = devnum++,
				.vendor_id = 0x05e3,
				.product_id = 0x0610,
				.bcd_device = 0x6060,
				.bcd_usb = 0x0200,
				.device_class = 9,
				.device_protocol = 2,
				.manufacturer = "GenesysLogic",
				.product = "USB2.0 Hub",
				.speed = "480",
				.maxchild = 7,
				.n_interfaces = 1,
				.interfaces = { { 9, 0, 1, "hub" } },
			};
			usbpass_mock_append_device(out, pci_address, &hub);
			count++;
			for (guint leaf = 1; leaf <= 7 && count < n_devices; leaf++) {
				g_autofree gchar *port = g_strdup_printf("%s.%u", hub_name, leaf);
				g_autofree gchar *serial =
				  g_strdup_printf("%08X%04X",
				                  g_rand_int(rand),
				                  (guint)g_rand_int_range(rand, 0, 0x10000));
				const UsbpassMockTemplate *template =
				  &templates[g_rand_int_range(rand, 0, G_N_ELEMENTS(templates))];
				UsbpassMockDevice device = { .bus = bus,
					                     .port = port,
					                     .devnum = devnum++ };
				usbpass_mock_from_template(&device, template, serial);
				usbpass_mock_append_device(out, pci_address, &device);
				count++;
			}
		}
	}
	return g_string_free(out, FALSE);
}

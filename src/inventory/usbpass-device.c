/*
 * usbpass-device.c: one USB device of a host, as a plain value record
 */
#define G_LOG_DOMAIN "UsbpassInventory"

#include "config.h"

#include "usbpass-device.h"
#include "usbpass-string.h"

#include <json-glib/json-glib.h>

#include <string.h>

G_DEFINE_BOXED_TYPE(UsbpassDevice, usbpass_device, usbpass_device_ref, usbpass_device_unref)

/**
 * usbpass_device_new:
 *
 * Returns: (transfer full): an empty record with a reference count of one
 */
UsbpassDevice *
usbpass_device_new(void)
{
	UsbpassDevice *self = g_new0(UsbpassDevice, 1);
	self->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_interface_free);
	self->refcount = 1;
	return self;
}

/**
 * usbpass_device_ref:
 * @self: a record
 *
 * Returns: (transfer full): @self with one more reference; safe from any thread
 */
UsbpassDevice *
usbpass_device_ref(UsbpassDevice *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->refcount > 0, NULL);
	g_atomic_int_inc(&self->refcount);
	return self;
}

static void
usbpass_device_free(UsbpassDevice *self)
{
	g_free(self->id);
	g_free(self->id_kind);
	g_free(self->id_conflict);
	g_free(self->syspath);
	g_free(self->port);
	g_free(self->parent_port);
	g_free(self->manufacturer);
	g_free(self->product);
	g_free(self->serial);
	g_free(self->vendor_name);
	g_free(self->product_name);
	g_free(self->name);
	if (self->interfaces != NULL)
		g_ptr_array_unref(self->interfaces);
	g_free(self->speed);
	g_free(self->controller_pci_address);
	g_free(self->controller_name);
	g_free(self->error);
	if (self->json_cache != NULL)
		json_node_unref(self->json_cache);
	g_free(self);
}

/**
 * usbpass_device_invalidate:
 * @self: a record that has not been shared yet
 *
 * Drops what was derived from the fields (the cached JSON form), for the
 * builder of a record who changes a field after reading it.
 */
void
usbpass_device_invalidate(UsbpassDevice *self)
{
	JsonNode *node;
	g_return_if_fail(self != NULL);
	node = g_atomic_pointer_exchange(&self->json_cache, NULL);
	if (node != NULL)
		json_node_unref(node);
}

/**
 * usbpass_device_unref:
 * @self: (nullable): a record
 *
 * Drops one reference; the last one frees the record.
 */
void
usbpass_device_unref(UsbpassDevice *self)
{
	if (self == NULL)
		return;
	g_return_if_fail(self->refcount > 0);
	if (g_atomic_int_dec_and_test(&self->refcount))
		usbpass_device_free(self);
}

/**
 * usbpass_device_copy:
 * @self: a record
 *
 * Deep copy, for a caller that wants to change a record it did not build.
 *
 * Returns: (transfer full): a new record with a reference count of one
 */
UsbpassDevice *
usbpass_device_copy(const UsbpassDevice *self)
{
	UsbpassDevice *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = usbpass_device_new();
	copy->id = g_strdup(self->id);
	copy->id_kind = g_strdup(self->id_kind);
	copy->id_conflict = g_strdup(self->id_conflict);
	copy->syspath = g_strdup(self->syspath);
	copy->port = g_strdup(self->port);
	copy->parent_port = g_strdup(self->parent_port);
	copy->bus = self->bus;
	copy->device = self->device;
	copy->vendor_id = self->vendor_id;
	copy->product_id = self->product_id;
	copy->bcd_device = self->bcd_device;
	copy->manufacturer = g_strdup(self->manufacturer);
	copy->product = g_strdup(self->product);
	copy->serial = g_strdup(self->serial);
	copy->vendor_name = g_strdup(self->vendor_name);
	copy->product_name = g_strdup(self->product_name);
	copy->name = g_strdup(self->name);
	copy->device_class = self->device_class;
	copy->device_subclass = self->device_subclass;
	copy->device_protocol = self->device_protocol;
	if (self->interfaces != NULL) {
		for (guint i = 0; i < self->interfaces->len; i++)
			g_ptr_array_add(
			  copy->interfaces,
			  usbpass_interface_copy(g_ptr_array_index(self->interfaces, i)));
	}
	copy->speed_mbps = self->speed_mbps;
	copy->speed = g_strdup(self->speed);
	copy->is_hub = self->is_hub;
	copy->is_root_hub = self->is_root_hub;
	copy->num_ports = self->num_ports;
	copy->controller_pci_address = g_strdup(self->controller_pci_address);
	copy->controller_name = g_strdup(self->controller_name);
	copy->error = g_strdup(self->error);
	return copy;
}

/**
 * usbpass_interface_new:
 *
 * Returns: (transfer full): an empty interface record
 */
UsbpassInterface *
usbpass_interface_new(void)
{
	return g_new0(UsbpassInterface, 1);
}

/**
 * usbpass_interface_copy:
 * @self: an interface record
 *
 * Returns: (transfer full): a deep copy of @self
 */
UsbpassInterface *
usbpass_interface_copy(const UsbpassInterface *self)
{
	UsbpassInterface *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = usbpass_interface_new();
	copy->number = self->number;
	copy->interface_class = self->interface_class;
	copy->interface_subclass = self->interface_subclass;
	copy->interface_protocol = self->interface_protocol;
	copy->driver = g_strdup(self->driver);
	return copy;
}

/**
 * usbpass_interface_free:
 * @self: (nullable): an interface record
 */
void
usbpass_interface_free(UsbpassInterface *self)
{
	if (self == NULL)
		return;
	g_free(self->driver);
	g_free(self);
}

static gboolean
usbpass_interface_equal(const UsbpassInterface *a, const UsbpassInterface *b)
{
	return a->number == b->number && a->interface_class == b->interface_class &&
	       a->interface_subclass == b->interface_subclass &&
	       a->interface_protocol == b->interface_protocol &&
	       g_strcmp0(a->driver, b->driver) == 0;
}

/**
 * usbpass_device_equal:
 * @a: a record
 * @b: another record
 *
 * Compares every field, identity and names included; the inventory reports a
 * device as changed exactly when this is %FALSE for its old and new record.
 *
 * Returns: %TRUE when @a and @b describe the same state
 */
gboolean
usbpass_device_equal(const UsbpassDevice *a, const UsbpassDevice *b)
{
	guint a_len;
	guint b_len;

	g_return_val_if_fail(a != NULL, FALSE);
	g_return_val_if_fail(b != NULL, FALSE);

	if (a == b)
		return TRUE;
	if (a->bus != b->bus || a->device != b->device || a->vendor_id != b->vendor_id ||
	    a->product_id != b->product_id || a->bcd_device != b->bcd_device ||
	    a->device_class != b->device_class || a->device_subclass != b->device_subclass ||
	    a->device_protocol != b->device_protocol || a->speed_mbps != b->speed_mbps ||
	    a->is_hub != b->is_hub || a->is_root_hub != b->is_root_hub ||
	    a->num_ports != b->num_ports)
		return FALSE;
	if (g_strcmp0(a->id, b->id) != 0 || g_strcmp0(a->id_kind, b->id_kind) != 0 ||
	    g_strcmp0(a->id_conflict, b->id_conflict) != 0 ||
	    g_strcmp0(a->syspath, b->syspath) != 0 || g_strcmp0(a->port, b->port) != 0 ||
	    g_strcmp0(a->parent_port, b->parent_port) != 0 ||
	    g_strcmp0(a->manufacturer, b->manufacturer) != 0 ||
	    g_strcmp0(a->product, b->product) != 0 || g_strcmp0(a->serial, b->serial) != 0 ||
	    g_strcmp0(a->vendor_name, b->vendor_name) != 0 ||
	    g_strcmp0(a->product_name, b->product_name) != 0 || g_strcmp0(a->name, b->name) != 0 ||
	    g_strcmp0(a->speed, b->speed) != 0 ||
	    g_strcmp0(a->controller_pci_address, b->controller_pci_address) != 0 ||
	    g_strcmp0(a->controller_name, b->controller_name) != 0 ||
	    g_strcmp0(a->error, b->error) != 0)
		return FALSE;
	a_len = a->interfaces != NULL ? a->interfaces->len : 0;
	b_len = b->interfaces != NULL ? b->interfaces->len : 0;
	if (a_len != b_len)
		return FALSE;
	for (guint i = 0; i < a_len; i++) {
		if (!usbpass_interface_equal(g_ptr_array_index(a->interfaces, i),
		                             g_ptr_array_index(b->interfaces, i)))
			return FALSE;
	}
	return TRUE;
}

/* splits "1-1.10" into the numbers after the dash; "usb1" and garbage give none */
static const gchar *
usbpass_port_path(const gchar *port)
{
	const gchar *dash;
	if (port == NULL)
		return "";
	dash = strchr(port, '-');
	return dash != NULL ? dash + 1 : "";
}

/**
 * usbpass_port_compare:
 * @a: (nullable): a port such as "1-1.10" or "usb1"
 * @b: (nullable): another port
 *
 * Orders port paths number by number within a bus, a root hub ("usb1") first;
 * the bus number itself is compared by usbpass_device_compare().
 *
 * Returns: negative, zero or positive as for strcmp()
 */
gint
usbpass_port_compare(const gchar *a, const gchar *b)
{
	const gchar *pa = usbpass_port_path(a);
	const gchar *pb = usbpass_port_path(b);

	while (*pa != '\0' && *pb != '\0') {
		if (g_ascii_isdigit(*pa) && g_ascii_isdigit(*pb)) {
			guint64 na = g_ascii_strtoull(pa, (gchar **)&pa, 10);
			guint64 nb = g_ascii_strtoull(pb, (gchar **)&pb, 10);
			if (na != nb)
				return na < nb ? -1 : 1;
			continue;
		}
		if (*pa != *pb)
			return (guchar)*pa < (guchar)*pb ? -1 : 1;
		pa++;
		pb++;
	}
	if (*pa != *pb)
		return *pa == '\0' ? -1 : 1;
	/* same path: a total order all the same, so sorting is stable across runs */
	return g_strcmp0(a, b);
}

/**
 * usbpass_device_compare:
 * @a: a record
 * @b: another record
 *
 * Returns: negative, zero or positive: by bus, then by port path
 */
gint
usbpass_device_compare(const UsbpassDevice *a, const UsbpassDevice *b)
{
	g_return_val_if_fail(a != NULL, 0);
	g_return_val_if_fail(b != NULL, 0);
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	return usbpass_port_compare(a->port, b->port);
}

/**
 * usbpass_device_get_vid_pid:
 * @self: a record
 *
 * Returns: (transfer full): "vvvv:pppp" in lower-case hex, e.g. "0781:5567"
 */
gchar *
usbpass_device_get_vid_pid(const UsbpassDevice *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_strdup_printf("%04x:%04x", self->vendor_id, self->product_id);
}

/* the names lsusb shows, from the usb.ids classes in udev's hwdb
 * (ID_USB_CLASS_FROM_DATABASE); the device library must not need libudev */
static const struct {
	guint8 usb_class;
	const gchar *name;
} usb_classes[] = {
	{ 0x00, "(Defined at Interface level)" },
	{ 0x01, "Audio" },
	{ 0x02, "Communications" },
	{ 0x03, "Human Interface Device" },
	{ 0x05, "Physical Interface Device" },
	{ 0x06, "Imaging" },
	{ 0x07, "Printer" },
	{ 0x08, "Mass Storage" },
	{ 0x09, "Hub" },
	{ 0x0a, "CDC Data" },
	{ 0x0b, "Chip/SmartCard" },
	{ 0x0d, "Content Security" },
	{ 0x0e, "Video" },
	{ 0x0f, "Personal Healthcare" },
	{ 0x10, "Audio/Video" },
	{ 0x11, "Billboard" },
	{ 0x12, "Type-C Bridge" },
	{ 0x13, "Bulk Display" },
	{ 0x14, "MCTCP over USB" },
	{ 0x3c, "I3C" },
	{ 0x58, "Xbox" },
	{ 0xdc, "Diagnostic" },
	{ 0xe0, "Wireless" },
	{ 0xef, "Miscellaneous Device" },
	{ 0xfe, "Application Specific Interface" },
	{ 0xff, "Vendor Specific Class" },
};

/**
 * usbpass_usb_class_to_string:
 * @usb_class: a USB class code
 *
 * Returns: the class name as lsusb prints it, "[unknown]" for a code without one
 */
const gchar *
usbpass_usb_class_to_string(guint8 usb_class)
{
	for (guint i = 0; i < G_N_ELEMENTS(usb_classes); i++) {
		if (usb_classes[i].usb_class == usb_class)
			return usb_classes[i].name;
	}
	return "[unknown]";
}

/**
 * usbpass_device_get_class_name:
 * @self: a record
 *
 * Returns: the name of the device class, or of the class of its first
 * interface when the device class is 0 (defined per interface)
 */
const gchar *
usbpass_device_get_class_name(const UsbpassDevice *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (self->device_class == 0 && self->interfaces != NULL && self->interfaces->len > 0) {
		const UsbpassInterface *first = g_ptr_array_index(self->interfaces, 0);
		return usbpass_usb_class_to_string(first->interface_class);
	}
	return usbpass_usb_class_to_string(self->device_class);
}

/**
 * usbpass_device_has_class:
 * @self: a record
 * @usb_class: a USB class code
 *
 * Returns: %TRUE when the device or one of its interfaces has @usb_class
 */
gboolean
usbpass_device_has_class(const UsbpassDevice *self, guint8 usb_class)
{
	g_return_val_if_fail(self != NULL, FALSE);
	if (self->device_class == usb_class)
		return TRUE;
	if (self->interfaces == NULL)
		return FALSE;
	for (guint i = 0; i < self->interfaces->len; i++) {
		const UsbpassInterface *iface = g_ptr_array_index(self->interfaces, i);
		if (iface->interface_class == usb_class)
			return TRUE;
	}
	return FALSE;
}

/**
 * usbpass_usb_speed_to_mbps:
 * @speed: (nullable): the kernel's speed attribute, e.g. "1.5", "480", "10000"
 *
 * Returns: the speed in Mb/s, 1 for low speed (1.5 Mb/s), 0 when unknown
 */
guint
usbpass_usb_speed_to_mbps(const gchar *speed)
{
	guint64 value = 0;
	if (speed == NULL)
		return 0;
	if (g_strcmp0(speed, "1.5") == 0)
		return 1;
	/* the fastest USB4 link is 80 Gb/s; anything beyond is garbage */
	if (!usbpass_string_parse_uint(speed, 10, 1, 1000000, &value, NULL))
		return 0;
	return (guint)value;
}

/*
 * usbpass-names.c: names people recognise for USB devices and controllers
 */
#define G_LOG_DOMAIN "UsbpassInventory"

#include "config.h"

#include "usbpass-names.h"
#include "usbpass-string.h"

#include <libudev.h>
#include <string.h>

struct _UsbpassNames {
	struct udev *udev;
	struct udev_hwdb *hwdb; /* NULL between batches, see usbpass_names_release_hwdb() */
	gboolean has_hwdb;
	/* vendor_id -> name; product (vendor_id << 16 | product_id) -> name; a
	 * present key with a NULL value caches "the hwdb has none" */
	GHashTable *usb_vendors;
	GHashTable *usb_products;
	GHashTable *pci_devices; /* (vendor_id << 16 | device_id) -> name, never NULL */
};

/**
 * usbpass_names_new:
 *
 * Opens udev's hwdb; without one (no udev package) names come from descriptor
 * strings and fallbacks only.
 *
 * Returns: (transfer full): a name cache
 */
UsbpassNames *
usbpass_names_new(void)
{
	UsbpassNames *self = g_new0(UsbpassNames, 1);
	self->udev = udev_new();
	if (self->udev != NULL)
		self->hwdb = udev_hwdb_new(self->udev);
	self->has_hwdb = self->hwdb != NULL;
	self->usb_vendors = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	self->usb_products = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	self->pci_devices = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	return self;
}

/**
 * usbpass_names_free:
 * @self: (nullable): a name cache
 */
void
usbpass_names_free(UsbpassNames *self)
{
	if (self == NULL)
		return;
	if (self->hwdb != NULL)
		udev_hwdb_unref(self->hwdb);
	if (self->udev != NULL)
		udev_unref(self->udev);
	g_clear_pointer(&self->usb_vendors, g_hash_table_unref);
	g_clear_pointer(&self->usb_products, g_hash_table_unref);
	g_clear_pointer(&self->pci_devices, g_hash_table_unref);
	g_free(self);
}

/**
 * usbpass_names_has_hwdb:
 * @self: a name cache
 *
 * Returns: %TRUE when udev's hwdb was opened
 */
gboolean
usbpass_names_has_hwdb(UsbpassNames *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->has_hwdb;
}

/**
 * usbpass_names_release_hwdb:
 * @self: a name cache
 *
 * Unmaps udev's hwdb until the next lookup the cache cannot answer. The pages
 * of hwdb.bin a batch of lookups touched (0.4-0.9 MB of proportional set size
 * when no udevd maps the file too) stay charged to a long-running daemon
 * otherwise; reopening it costs an open() and an mmap(), once per batch.
 */
void
usbpass_names_release_hwdb(UsbpassNames *self)
{
	g_return_if_fail(self != NULL);
	g_clear_pointer(&self->hwdb, udev_hwdb_unref);
}

/* looks up @modalias once and returns the sanitised values of the two keys lsusb uses */
static void
usbpass_names_query(UsbpassNames *self, const gchar *modalias, gchar **vendor, gchar **model)
{
	struct udev_list_entry *entry;

	*vendor = NULL;
	*model = NULL;
	if (self->hwdb == NULL && self->has_hwdb)
		self->hwdb = udev_hwdb_new(self->udev);
	if (self->hwdb == NULL)
		return;
	udev_list_entry_foreach(entry, udev_hwdb_get_properties_list_entry(self->hwdb, modalias, 0))
	{
		const gchar *key = udev_list_entry_get_name(entry);
		const gchar *value = udev_list_entry_get_value(entry);
		if (value == NULL)
			continue;
		if (g_strcmp0(key, "ID_VENDOR_FROM_DATABASE") == 0 && *vendor == NULL)
			*vendor = usbpass_string_sanitize(value, -1, USBPASS_STRING_MAX_BYTES);
		else if (g_strcmp0(key, "ID_MODEL_FROM_DATABASE") == 0 && *model == NULL)
			*model = usbpass_string_sanitize(value, -1, USBPASS_STRING_MAX_BYTES);
	}
}

/**
 * usbpass_names_get_usb_vendor:
 * @self: a name cache
 * @vendor_id: idVendor
 *
 * Returns: (nullable): the hwdb's vendor name ("usb:vXXXX"), cached
 */
const gchar *
usbpass_names_get_usb_vendor(UsbpassNames *self, guint16 vendor_id)
{
	gpointer key = GUINT_TO_POINTER((guint)vendor_id);
	gpointer value = NULL;
	gchar modalias[16];
	gchar *vendor = NULL;
	g_autofree gchar *model = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	if (g_hash_table_lookup_extended(self->usb_vendors, key, NULL, &value))
		return value;
	g_snprintf(modalias, sizeof(modalias), "usb:v%04X", vendor_id);
	usbpass_names_query(self, modalias, &vendor, &model);
	g_hash_table_insert(self->usb_vendors, key, vendor);
	return vendor;
}

/**
 * usbpass_names_get_usb_product:
 * @self: a name cache
 * @vendor_id: idVendor
 * @product_id: idProduct
 *
 * Returns: (nullable): the hwdb's product name ("usb:vXXXXpYYYY"), cached
 */
const gchar *
usbpass_names_get_usb_product(UsbpassNames *self, guint16 vendor_id, guint16 product_id)
{
	gpointer key = GUINT_TO_POINTER(((guint)vendor_id << 16) | product_id);
	gpointer value = NULL;
	gchar modalias[24];
	g_autofree gchar *vendor = NULL;
	gchar *model = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	if (g_hash_table_lookup_extended(self->usb_products, key, NULL, &value))
		return value;
	g_snprintf(modalias, sizeof(modalias), "usb:v%04Xp%04X", vendor_id, product_id);
	usbpass_names_query(self, modalias, &vendor, &model);
	/* the same answer names the vendor: saves the second lookup */
	if (!g_hash_table_contains(self->usb_vendors, GUINT_TO_POINTER((guint)vendor_id)))
		g_hash_table_insert(
		  self->usb_vendors, GUINT_TO_POINTER((guint)vendor_id), g_steal_pointer(&vendor));
	g_hash_table_insert(self->usb_products, key, model);
	return model;
}

/**
 * usbpass_names_get_pci_device:
 * @self: a name cache
 * @vendor_id: the PCI vendor
 * @device_id: the PCI device
 *
 * Returns: the hwdb's "VENDOR MODEL" ("pci:vXXXXXXXXdXXXXXXXX"), else
 * "VENDOR device xxxx", else "PCI device vvvv:dddd"; cached
 */
const gchar *
usbpass_names_get_pci_device(UsbpassNames *self, guint16 vendor_id, guint16 device_id)
{
	gpointer key = GUINT_TO_POINTER(((guint)vendor_id << 16) | device_id);
	gchar *name = NULL;
	gchar modalias[32];
	g_autofree gchar *vendor = NULL;
	g_autofree gchar *model = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	name = g_hash_table_lookup(self->pci_devices, key);
	if (name != NULL)
		return name;
	g_snprintf(modalias, sizeof(modalias), "pci:v%08Xd%08X", vendor_id, device_id);
	usbpass_names_query(self, modalias, &vendor, &model);
	if (vendor != NULL && model != NULL)
		name = usbpass_names_join(vendor, model);
	else if (vendor != NULL)
		name = g_strdup_printf("%s device %04x", vendor, device_id);
	else
		name = g_strdup_printf("PCI device %04x:%04x", vendor_id, device_id);
	g_hash_table_insert(self->pci_devices, key, name);
	return name;
}

/**
 * usbpass_names_join:
 * @vendor_name: (nullable): a vendor name
 * @product_name: (nullable): a product name
 *
 * Joins the two halves of a name for people; "Dell" and "Dell KB216 Wired
 * Keyboard" give the product name alone rather than "Dell Dell KB216 ...".
 *
 * Returns: (transfer full) (nullable): the name, %NULL when both are %NULL
 */
gchar *
usbpass_names_join(const gchar *vendor_name, const gchar *product_name)
{
	gsize vendor_len;

	if (vendor_name == NULL)
		return g_strdup(product_name);
	if (product_name == NULL)
		return g_strdup(vendor_name);
	vendor_len = strlen(vendor_name);
	if (g_ascii_strncasecmp(product_name, vendor_name, vendor_len) == 0 &&
	    (product_name[vendor_len] == ' ' || product_name[vendor_len] == '\0'))
		return g_strdup(product_name);
	return g_strdup_printf("%s %s", vendor_name, product_name);
}

/**
 * usbpass_names_apply:
 * @self: a name cache
 * @device: a record not yet shared, with its ids and descriptor strings set
 *
 * Sets vendor_name (manufacturer string, else hwdb vendor, else "Unknown
 * vendor xxxx"), product_name (product string, else hwdb product, else "Device
 * xxxx") and name (the two joined by usbpass_names_join()).
 */
void
usbpass_names_apply(UsbpassNames *self, UsbpassDevice *device)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(device != NULL);

	g_free(device->vendor_name);
	g_free(device->product_name);
	g_free(device->name);

	if (device->manufacturer != NULL) {
		device->vendor_name = g_strdup(device->manufacturer);
	} else {
		/* the product lookup also answers the vendor, so ask it first */
		if (device->product == NULL)
			(void)usbpass_names_get_usb_product(
			  self, device->vendor_id, device->product_id);
		device->vendor_name =
		  g_strdup(usbpass_names_get_usb_vendor(self, device->vendor_id));
		if (device->vendor_name == NULL)
			device->vendor_name =
			  g_strdup_printf("Unknown vendor %04x", device->vendor_id);
	}
	if (device->product != NULL) {
		device->product_name = g_strdup(device->product);
	} else {
		device->product_name = g_strdup(
		  usbpass_names_get_usb_product(self, device->vendor_id, device->product_id));
		if (device->product_name == NULL)
			device->product_name = g_strdup_printf("Device %04x", device->product_id);
	}
	device->name = usbpass_names_join(device->vendor_name, device->product_name);
	usbpass_device_invalidate(device);
}

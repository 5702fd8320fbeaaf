/*
 * usbpass-device-reader.h: reads USB devices from sysfs into UsbpassDevice records
 *
 * Internal to the inventory module. A reader owns the GUdevClient it reads
 * through, the hwdb name cache and a cache of USB controllers (PCI address and
 * name, by sysfs path), so reading the same host twice costs only the sysfs
 * reads of the devices themselves.
 *
 * What is read, and from where, is in docs/inventory-json.md. Per device the
 * reader opens: the uevent file (via libudev), the binary "descriptors"
 * attribute (ids, bcdDevice, classes, interfaces), "manufacturer", "product",
 * "serial", "speed", "maxchild" for hubs, and one "driver" link per interface;
 * when "descriptors" is missing or malformed it falls back to the individual
 * attribute files. A missing or garbled attribute is recorded in the record's
 * "error" and the record is still returned: a broken device never hides its
 * siblings.
 *
 * Records come back with ids unset (identity needs the whole set, see
 * usbpass-identity.h). Main-loop thread only (GUdevClient).
 */
#pragma once

#include "usbpass-device.h"
#include "usbpass-names.h"

#include <gudev/gudev.h>

G_BEGIN_DECLS

typedef struct _UsbpassDeviceReader UsbpassDeviceReader;

/* @client: (transfer none): the client to read through; @names: (transfer none) */
UsbpassDeviceReader *
usbpass_device_reader_new(GUdevClient *client, UsbpassNames *names) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2);
void
usbpass_device_reader_free(UsbpassDeviceReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassDeviceReader, usbpass_device_reader_free)

/* Returns: (transfer full): the record of a "usb_device", or NULL (with
 * USBPASS_ERROR_INVALID_DATA) when @udev_device is not one */
UsbpassDevice *
usbpass_device_reader_read(UsbpassDeviceReader *self,
                           GUdevDevice *udev_device,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): the record at @syspath, or NULL with NOT_FOUND when it is gone */
UsbpassDevice *
usbpass_device_reader_read_syspath(UsbpassDeviceReader *self,
                                   const gchar *syspath,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type UsbpassDevice): every USB device, ordered */
GPtrArray *
usbpass_device_reader_enumerate(UsbpassDeviceReader *self, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* forgets cached controllers (a PCI device may have gone) */
void
usbpass_device_reader_clear_cache(UsbpassDeviceReader *self) USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-names.h: names people recognise for USB devices and controllers
 *
 * As lsusb: the device's own descriptor strings (manufacturer, product) first,
 * then udev's hwdb (keys "usb:vXXXXpYYYY" and "usb:vXXXX" in upper-case hex,
 * "pci:vXXXXXXXXdXXXXXXXX" for controllers; ID_VENDOR_FROM_DATABASE,
 * ID_MODEL_FROM_DATABASE), then a readable fallback ("Unknown vendor 1234",
 * "Device abcd"). A UsbpassNames caches every hwdb answer, so naming a
 * thousand devices costs a thousand hash lookups. Works without a hwdb (then
 * only descriptors and fallbacks). Not thread-safe: one per thread.
 */
#pragma once

#include "usbpass-device.h"

G_BEGIN_DECLS

typedef struct _UsbpassNames UsbpassNames;

UsbpassNames *
usbpass_names_new(void) G_GNUC_WARN_UNUSED_RESULT;
void
usbpass_names_free(UsbpassNames *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassNames, usbpass_names_free)

/* FALSE when udev's hwdb could not be opened: only descriptors and fallbacks */
gboolean
usbpass_names_has_hwdb(UsbpassNames *self) USBPASS_NONNULL(1);

/* unmaps the hwdb until the next lookup the cache cannot answer: call it after a batch */
void
usbpass_names_release_hwdb(UsbpassNames *self) USBPASS_NONNULL(1);

/* hwdb answers (sanitised), NULL when the hwdb has none */
const gchar *
usbpass_names_get_usb_vendor(UsbpassNames *self, guint16 vendor_id) USBPASS_NONNULL(1);
const gchar *
usbpass_names_get_usb_product(UsbpassNames *self, guint16 vendor_id, guint16 product_id)
  USBPASS_NONNULL(1);
/* "Intel Corporation Cannon Lake PCH USB 3.1 xHCI Host Controller", never NULL */
const gchar *
usbpass_names_get_pci_device(UsbpassNames *self, guint16 vendor_id, guint16 device_id)
  USBPASS_NONNULL(1);

/* sets vendor_name, product_name and name of @device from its descriptor
 * strings, the hwdb and the fallbacks; @device must not be shared yet */
void
usbpass_names_apply(UsbpassNames *self, UsbpassDevice *device) USBPASS_NONNULL(1, 2);

/* "VENDOR PRODUCT", or PRODUCT alone when it already begins with VENDOR */
gchar *
usbpass_names_join(const gchar *vendor_name, const gchar *product_name) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS

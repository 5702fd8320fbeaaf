/*
 * usbpass-device-json.h: the stable JSON form of a UsbpassDevice
 *
 * The field names and types are documented in docs/inventory-json.md and are a
 * contract of the REST API and of `usbpass list --json`: fields may be added,
 * never renamed or retyped. Strings are written through json-glib, which
 * escapes them; usbpass_device_from_json() checks every type and sanitises
 * every string, because the other side of a socket is untrusted too.
 * Thread-safe: the cached node of a record is published atomically.
 */
#pragma once

#include "usbpass-device.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* writes the members of one device object; the caller opens and closes it */
void
usbpass_device_to_json(const UsbpassDevice *device, JsonBuilder *builder) USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): the device as a sealed (immutable, shareable) object
 * node; built on the first call and cached in the record, so serving the live
 * inventory again costs only the text generation */
JsonNode *
usbpass_device_to_json_node(const UsbpassDevice *device) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* Returns: (transfer full): the device, or NULL with USBPASS_ERROR_INVALID_DATA */
UsbpassDevice *
usbpass_device_from_json(JsonObject *object, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* Returns: (transfer full): {"devices": [...]} for @devices (of UsbpassDevice) */
JsonNode *
usbpass_inventory_devices_to_json(GPtrArray *devices) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

G_END_DECLS

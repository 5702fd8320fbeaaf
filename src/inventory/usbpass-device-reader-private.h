/*
 * usbpass-device-reader-private.h: the reader's parsers, for tests and fuzzers
 *
 * Not part of the API. The same code the reader runs on sysfs attributes, fed
 * with bytes from elsewhere; pure apart from the one attribute file named below.
 */
#pragma once

#include "usbpass-device-reader.h"

G_BEGIN_DECLS

/* parses the binary "descriptors" attribute @data into the ids, classes and
 * interfaces of @device, as usbpass_device_reader_read() does; a device with
 * several configurations reads "bConfigurationValue" from the directory
 * @syspath. On failure (INVALID_DATA) @device may hold part of the result. */
gboolean
usbpass_device_reader_parse_descriptors(UsbpassDevice *device,
                                        const gchar *syspath,
                                        const guint8 *data,
                                        gsize len,
                                        guint *config_value,
                                        GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2, 3, 5);

G_END_DECLS

/*
 * usbpass-identity.h: the stable identity of a USB device (docs/identity.md)
 *
 * An identity survives re-plugging, unlike the address bus:device:
 *
 *   vvvv:pppp:s:SERIAL   the serial is present and unique among the present
 *                        devices with that vendor:product on the host
 *   vvvv:pppp:p:PORT     otherwise, and for root hubs: the kernel's port path
 *                        ("1-1.4", "usb1")
 *
 * A serial that is not 1 to 64 characters of [A-Za-z0-9._-] (or that looks
 * like an encoded one) is encoded as "x" and 32 hex digits of its SHA-256, so an
 * identity is always made of [0-9A-Za-z._:-] and safe in a URL path segment,
 * a file name, a log line and XML. When present devices share a serial, all of
 * them get port identities and an id_conflict message: the inventory says so
 * instead of guessing. A host-qualified identity is "HOST/ID".
 *
 * Pure functions on records; thread-safe; GLib only.
 */
#pragma once

#include "usbpass-device.h"

G_BEGIN_DECLS

#define USBPASS_IDENTITY_KIND_SERIAL "serial"
#define USBPASS_IDENTITY_KIND_PORT   "port"

/* the longest serial used verbatim in an identity */
#define USBPASS_IDENTITY_SERIAL_MAX 64

gchar *
usbpass_identity_encode_serial(const gchar *serial) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_identity_for_serial(guint16 vendor_id,
                            guint16 product_id,
                            const gchar *serial) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(3);
gchar *
usbpass_identity_for_port(guint16 vendor_id,
                          guint16 product_id,
                          const gchar *port) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(3);
gboolean
usbpass_identity_is_valid(const gchar *id);

/* Returns: (transfer full) (element-type utf8 guint): "vvvv:pppp:SERIAL" -> how many of
 * @devices carry it */
GHashTable *
usbpass_identity_count_serials(GPtrArray *devices) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_identity_compute(const UsbpassDevice *device,
                         GHashTable *serial_counts,
                         gchar **id,
                         gchar **id_kind,
                         gchar **id_conflict) USBPASS_NONNULL(1, 2, 3, 4, 5);
/* sets id, id_kind and id_conflict of every record of @devices, which must not
 * have been handed out yet (records are immutable once shared) */
void
usbpass_identity_assign(GPtrArray *devices) USBPASS_NONNULL(1);

gchar *
usbpass_identity_qualify(const gchar *host, const gchar *id) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2);
gboolean
usbpass_identity_split(const gchar *qualified, gchar **host, gchar **id, GError **error)
  USBPASS_NONNULL(1);

G_END_DECLS

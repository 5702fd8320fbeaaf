/*
 * usbpass-string.h: making untrusted strings safe where they enter
 *
 * Strings from devices, sysfs and callers may hold any bytes at any length.
 * usbpass_string_sanitize() is applied once, where such a string enters
 * usbpass; everything downstream (tables, JSON, XML, SQL parameters) may then
 * rely on valid UTF-8 without control characters and of bounded length.
 * GLib only; thread-safe.
 */
#pragma once

#include "usbpass-common.h"

G_BEGIN_DECLS

/* the longest string usbpass keeps from a device descriptor, in bytes */
#define USBPASS_STRING_MAX_BYTES 256

gchar *
usbpass_string_sanitize(const gchar *raw, gssize raw_len, gsize max_bytes) G_GNUC_WARN_UNUSED_RESULT;
gboolean
usbpass_string_is_identifier(const gchar *str, gsize max_bytes);
gboolean
usbpass_string_parse_uint(const gchar *str,
			  guint base,
			  guint64 min,
			  guint64 max,
			  guint64 *value,
			  GError **error) USBPASS_NONNULL(1);

G_END_DECLS

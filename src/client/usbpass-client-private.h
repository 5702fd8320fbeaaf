/*
 * usbpass-client-private.h: the parsers of UsbpassClient, for its tests
 *
 * Not part of the client's API; same threading and limits as usbpass-client.h.
 */
#pragma once

#include "usbpass-client.h"

G_BEGIN_DECLS

JsonNode *
usbpass_client_parse_json(const gchar *data,
                          gsize data_len,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_client_escape_segment(const gchar *segment, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
gboolean
usbpass_client_read_events(GInputStream *stream,
                           const gchar *location,
                           UsbpassClientEventFunc func,
                           gpointer user_data,
                           GCancellable *cancellable,
                           GError **error) USBPASS_NONNULL(1, 2, 3);

G_END_DECLS

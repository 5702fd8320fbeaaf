/*
 * usbpass-api-events.h: the watchers of GET /v1/events (server-sent events)
 *
 * Each watcher is one open, chunked HTTP response. Broadcasting appends one
 * "event: NAME\ndata: JSON\n\n" chunk to every watcher; the bytes are shared,
 * not copied. Both what a caller can make us hold are bounded: the number of
 * watchers (usbpass_api_events_add_watcher() fails with BUSY beyond it) and
 * the chunks waiting to be written to one watcher (a watcher that falls that
 * far behind is disconnected; it may reconnect and re-read the state). A
 * comment line every keep-alive interval keeps idle connections open through
 * proxies. Main-loop thread only.
 */
#pragma once

#include <libsoup/soup.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

#define USBPASS_API_EVENTS_MAX_WATCHERS_DEFAULT      64
#define USBPASS_API_EVENTS_MAX_QUEUE_DEFAULT         256
#define USBPASS_API_EVENTS_KEEPALIVE_SECONDS_DEFAULT 15

#define USBPASS_TYPE_API_EVENTS (usbpass_api_events_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiEvents, usbpass_api_events, USBPASS, API_EVENTS, GObject)

UsbpassApiEvents *
usbpass_api_events_new(void) G_GNUC_WARN_UNUSED_RESULT;
void
usbpass_api_events_set_limits(UsbpassApiEvents *self, guint max_watchers, guint max_queue)
  USBPASS_NONNULL(1);
void
usbpass_api_events_set_keepalive(UsbpassApiEvents *self, guint seconds) USBPASS_NONNULL(1);

gboolean
usbpass_api_events_add_watcher(UsbpassApiEvents *self, SoupServerMessage *msg, GError **error)
  USBPASS_NONNULL(1, 2);
void
usbpass_api_events_broadcast(UsbpassApiEvents *self, const gchar *event, GBytes *data)
  USBPASS_NONNULL(1, 2, 3);
guint
usbpass_api_events_get_watcher_count(UsbpassApiEvents *self) USBPASS_NONNULL(1);
guint64
usbpass_api_events_get_dropped_count(UsbpassApiEvents *self) USBPASS_NONNULL(1);
void
usbpass_api_events_close_all(UsbpassApiEvents *self) USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-api-events-private.h: the state of UsbpassApiEvents, for its tests
 *
 * Not part of the API; same threading as usbpass-api-events.h (main loop only).
 */
#pragma once

#include "usbpass-api-events.h"

G_BEGIN_DECLS

gboolean
usbpass_api_events_get_keepalive_armed(UsbpassApiEvents *self) USBPASS_NONNULL(1);

G_END_DECLS

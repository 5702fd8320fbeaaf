/*
 * usbpass-api-server.h: the REST API of usbpassd (docs/api.md) over libsoup-3
 *
 * UsbpassApiServer answers /v1/... from the engine it was given: JSON in and
 * out through json-glib, errors as {"error": {"code", "message"}} with the
 * HTTP status of usbpass_error_to_http_status(). It listens on a Unix socket
 * (peer credentials decide, see usbpass-auth.h) and optionally on TCP (bearer
 * tokens, TLS when a certificate is given).
 *
 * What callers may rely on:
 *  - the handlers never block on the hypervisor for attach and detach: the
 *    request is paused, the engine works in its worker thread, the main loop
 *    keeps serving; other reads call the engine on the main thread.
 *  - every input is bounded and checked before use: the request body (64 KiB,
 *    by Content-Length and by what actually arrives), the JSON nesting and
 *    types, every percent-decoded path segment, every query parameter.
 *  - GET /v1/devices is answered from a serialised copy that is rebuilt only
 *    after a change (inventory generation or engine device-changed), with an
 *    ETag that changes with it; If-None-Match gives 304.
 *  - every refused request (401, 403) is written to the audit log with its
 *    actor, method and path (rate-limited, and the count of what was left out
 *    is written by a timer when its minute ends, see usbpass-api-refusals.h);
 *    attach and detach are audited by the engine.
 *
 * Main-loop thread only: create it, listen and shut it down from the thread
 * running the main context that is thread-default at creation.
 */
#pragma once

#include <gio/gio.h>

#include "engine/usbpass-engine.h"
#include "usbpass-auth.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_API_SERVER (usbpass_api_server_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiServer, usbpass_api_server, USBPASS, API_SERVER, GObject)

UsbpassApiServer *
usbpass_api_server_new(UsbpassEngine *engine, UsbpassAuth *auth) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2);

gboolean
usbpass_api_server_listen_unix(UsbpassApiServer *self,
                               const gchar *path,
                               guint mode,
                               const gchar *group,
                               GError **error) USBPASS_NONNULL(1, 2);
gboolean
usbpass_api_server_listen_tcp(UsbpassApiServer *self,
                              const gchar *address,
                              guint16 port,
                              GTlsCertificate *tls_certificate,
                              GError **error) USBPASS_NONNULL(1, 2);
gboolean
usbpass_api_server_listen_spec(UsbpassApiServer *self,
                               const gchar *spec,
                               GTlsCertificate *tls_certificate,
                               GError **error) USBPASS_NONNULL(1, 2);

/* appended to the message of a DISABLED attach: how to switch passthrough on */
void
usbpass_api_server_set_disabled_hint(UsbpassApiServer *self, const gchar *hint) USBPASS_NONNULL(1);
void
usbpass_api_server_set_event_limits(UsbpassApiServer *self,
                                    guint max_watchers,
                                    guint max_queue,
                                    guint keepalive_seconds) USBPASS_NONNULL(1);

void
usbpass_api_server_set_connection_limits(UsbpassApiServer *self,
                                         guint max_connections,
                                         guint request_timeout_ms,
                                         guint idle_timeout_ms) USBPASS_NONNULL(1);

/* Returns: (transfer full): where the server listens, one URL per listener */
GStrv
usbpass_api_server_get_urls(UsbpassApiServer *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* attach and detach requests still running in the engine */
guint
usbpass_api_server_get_pending(UsbpassApiServer *self) USBPASS_NONNULL(1);
/* stopping, in two halves: first no new work (503) and no event streams,
 * then, once get_pending() is 0, no listener, no connection, no socket file */
void
usbpass_api_server_shutdown(UsbpassApiServer *self) USBPASS_NONNULL(1);
void
usbpass_api_server_disconnect(UsbpassApiServer *self) USBPASS_NONNULL(1);

G_END_DECLS

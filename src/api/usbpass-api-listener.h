/*
 * usbpass-api-listener.h: accepting API connections, and keeping them bounded
 *
 * UsbpassApiListener owns the listening sockets of the API and the accept
 * loop, and hands every connection to the SoupServer with
 * soup_server_accept_iostream(), so that usbpassd, not libsoup, decides how
 * long a connection may live. libsoup 3.2.3 (Debian 12) cannot be trusted
 * with that: its own listener stops for good on the first failed accept
 * (EMFILE), and it never closes a keep-alive connection whose client left
 * between requests (CLOSE_WAIT, one descriptor per connection, fixed in
 * 3.3.0). Switching to another HTTP library (libmicrohttpd) would have meant
 * rewriting every handler and the event streams; the accept path is small.
 *
 * What callers may rely on:
 *  - a connection whose peer closes or resets it between requests is closed
 *    at once; so is one idle longer than the idle timeout after a response,
 *    and one that has not delivered a complete request (headers and body)
 *    within the request timeout of its first byte (or of its accept);
 *  - at most max_connections are open: beyond, the connection idle the
 *    longest is closed to make room; when none is idle, a few more are
 *    accepted and marked over the limit (usbpass_api_listener_is_over_limit():
 *    the server answers 503) and the rest are closed unanswered;
 *  - when accept() fails for lack of descriptors or memory, the idle
 *    connection of longest standing is closed and accepting resumes by
 *    itself (retried every 100 ms), never stopping for good;
 *  - the listen backlog is USBPASS_API_LISTENER_BACKLOG.
 *
 * Main-loop thread only, the thread whose context was thread-default at
 * creation; the SoupServer must run there too.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

#define USBPASS_API_LISTENER_MAX_CONNECTIONS_DEFAULT 1024
#define USBPASS_API_LISTENER_REQUEST_TIMEOUT_DEFAULT 10 /* seconds */
#define USBPASS_API_LISTENER_IDLE_TIMEOUT_DEFAULT    30 /* seconds */
#define USBPASS_API_LISTENER_BACKLOG                 1024

#define USBPASS_TYPE_API_LISTENER (usbpass_api_listener_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiListener, usbpass_api_listener, USBPASS, API_LISTENER, GObject)

UsbpassApiListener *
usbpass_api_listener_new(SoupServer *server, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
void
usbpass_api_listener_set_limits(UsbpassApiListener *self,
                                guint max_connections,
                                guint request_timeout_ms,
                                guint idle_timeout_ms) USBPASS_NONNULL(1);
gboolean
usbpass_api_listener_add_socket(UsbpassApiListener *self,
                                GSocket *socket,
                                GTlsCertificate *tls_certificate,
                                GError **error) USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type GSocket): the listening sockets */
GPtrArray *
usbpass_api_listener_get_sockets(UsbpassApiListener *self) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* Returns: (transfer none) (nullable): the socket @msg arrived on (the
 * connection's, as soup_server_message_get_socket() cannot tell) */
GSocket *
usbpass_api_listener_get_message_socket(SoupServerMessage *msg) USBPASS_NONNULL(1);
gboolean
usbpass_api_listener_is_over_limit(SoupServerMessage *msg) USBPASS_NONNULL(1);
guint
usbpass_api_listener_get_connection_count(UsbpassApiListener *self) USBPASS_NONNULL(1);
/* stops accepting and closes every connection; idempotent */
void
usbpass_api_listener_close(UsbpassApiListener *self) USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-api-stream.h: the stream of one API connection, as libsoup sees it
 *
 * UsbpassApiStream wraps the accepted connection (a GSocketConnection, or
 * the GTlsServerConnection on top of it) and passes reads and writes through,
 * with two hooks for the connection's owner (usbpass-api-listener.c):
 *  - activity: bytes arrived;
 *  - gone: the peer closed (end of stream) or reset the connection. When the
 *    hook answers TRUE, libsoup never sees it: the read reports "would block"
 *    and the stream goes dormant (no more data, no readiness), and the owner
 *    takes the connection back from libsoup. libsoup 3.2.3 leaks a keep-alive
 *    connection whose peer closes between requests (its idle message has no
 *    completion callback, so nothing disconnects it; fixed in 3.3.0 by
 *    "server: do not leak idle connections closed by the client"); this is
 *    how that state is never reached.
 * The owner also learns when libsoup (or anybody) closes the stream.
 *
 * Main-loop thread only: the hooks run in the thread that reads.
 */
#pragma once

#include <gio/gio.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_API_STREAM (usbpass_api_stream_get_type())
G_DECLARE_FINAL_TYPE(UsbpassApiStream, usbpass_api_stream, USBPASS, API_STREAM, GIOStream)

typedef struct {
	void (*activity)(gpointer user_data);
	/* TRUE: hide the end from libsoup, the owner closes the connection */
	gboolean (*gone)(gpointer user_data);
	void (*closed)(gpointer user_data);
} UsbpassApiStreamHooks;

UsbpassApiStream *
usbpass_api_stream_new(GIOStream *base,
                       const UsbpassApiStreamHooks *hooks,
                       gpointer user_data) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* forget the hooks (the owner goes away before the stream) */
void
usbpass_api_stream_clear_hooks(UsbpassApiStream *self) USBPASS_NONNULL(1);

G_END_DECLS

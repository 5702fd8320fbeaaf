/*
 * usbpass-libvirt-event-loop.h: libvirt's event loop, in a thread of its own
 *
 * libvirt dispatches domain events, connection close and keepalive through an
 * event loop implementation registered once per process. Its default one
 * (virEventRegisterDefaultImpl) runs on GLib's global default main context
 * since libvirt 6, so a thread iterating it with virEventRunDefaultImpl()
 * would also dispatch the application's own sources, in the wrong thread.
 * This module registers, once per process, an implementation on a private
 * GMainContext instead, iterated by one thread "usbpass-libvirt" while at
 * least one holder exists. libvirt's callbacks run in that thread: they must
 * hand their work to another context and return.
 *
 * Process-wide state by necessity: libvirt's registration is process-wide and
 * cannot be undone. Thread-safe. Hold before opening a connection; release
 * after closing it.
 */
#pragma once

#include <glib.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

gboolean
usbpass_libvirt_event_loop_hold(GError **error);
void
usbpass_libvirt_event_loop_release(void);
/* for tests: whether the thread runs now */
gboolean
usbpass_libvirt_event_loop_is_running(void);

G_END_DECLS

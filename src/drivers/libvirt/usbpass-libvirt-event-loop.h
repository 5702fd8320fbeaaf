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
 * Process-global because virEventRegisterImpl is: libvirt takes one event
 * implementation per process and cannot drop it, so the watches it hands us,
 * the private context and the thread are process-global too. These are the
 * only globals outside daemon/ (besides GObject signal ids and libxml2's
 * once-only set-up): every other module keeps its state in objects.
 *
 * Thread-safe: all three functions may be called from any thread at once,
 * and libvirt calls the implementation from any thread. The state is under
 * one mutex; at most one loop thread exists at a time (a new holder waits
 * until the last holder's thread, still stopping, has let go of the
 * context). Hold before opening a connection; release after closing it, and
 * never from a libvirt callback: release joins the thread those run in.
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

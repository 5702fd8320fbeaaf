/*
 * usbpass-libvirt-driver.h: UsbpassDriver over the libvirt C API
 *
 * Talks to libvirtd at a URI (default qemu:///system). Attach and detach pick
 * their flags from the domain as usbpass-driver.h's table says:
 *   active (running, paused, crashed)  VIR_DOMAIN_AFFECT_LIVE, | _CONFIG when persistent
 *   inactive                           VIR_DOMAIN_AFFECT_CONFIG
 *   inactive with a managed-save image _CONFIG and the saved definition through
 *                                      virDomainManagedSaveDefineXML(), or
 *                                      USBPASS_ERROR_NOT_SUPPORTED when libvirt
 *                                      refuses it (libvirt 9 always does: its ABI
 *                                      check wants the same host device count)
 * The hostdev always carries startupPolicy='optional'. libvirt then accepts a
 * live attach of a device it cannot find and marks it missing='yes'; this
 * driver takes that back and fails with "Did not find USB device", so that a
 * successful live attach means the instance has the device. Every hostdev it
 * writes carries usbpass's user alias (usbpass-driver.h, "Ownership"). Detach
 * removes each <hostdev> element usbpass wrote for the device
 * (usbpass_hostdev_is_removable_for()) from each definition, passing libvirt
 * its own element; it never removes one without the mark, and fails with
 * IN_USE when only such an element holds the device.
 *
 * libvirt errors become USBPASS_ERROR codes (VIR_ERR_NO_DOMAIN -> NOT_FOUND,
 * unsupported -> NOT_SUPPORTED, access -> PERMISSION_DENIED, timeouts ->
 * TIMED_OUT, the rest DRIVER) with libvirt's message kept; libvirt's own
 * stderr printer is silenced.
 *
 * Events: libvirt's event loop runs in a thread of its own while a driver is
 * open (usbpass-libvirt-event-loop.h: not libvirt's default implementation,
 * which would iterate the application's default main context). Lifecycle,
 * reboot and device-removed events and the connection's close are handed to
 * the main context that was the thread default when the driver was created,
 * and emitted there. A lost connection
 * emits connection-changed FALSE, is retried with exponential back-off
 * (250 ms doubling to 30 s) in a worker thread, and emits connection-changed
 * TRUE once back; a successful usbpass_driver_open() emits nothing. The
 * connection has libvirt keepalive (5 s, 3 probes).
 *
 * Thread-safe: the blocking methods may run in any thread at once.
 */
#pragma once

#include "drivers/usbpass-driver.h"

G_BEGIN_DECLS

#define USBPASS_LIBVIRT_DRIVER_DEFAULT_URI "qemu:///system"

#define USBPASS_TYPE_LIBVIRT_DRIVER (usbpass_libvirt_driver_get_type())
G_DECLARE_FINAL_TYPE(UsbpassLibvirtDriver, usbpass_libvirt_driver, USBPASS, LIBVIRT_DRIVER, GObject)

/* @uri: (nullable): a libvirt URI; NULL for USBPASS_LIBVIRT_DRIVER_DEFAULT_URI */
UsbpassLibvirtDriver *
usbpass_libvirt_driver_new(const gchar *uri) G_GNUC_WARN_UNUSED_RESULT;
const gchar *
usbpass_libvirt_driver_get_uri(UsbpassLibvirtDriver *self) USBPASS_NONNULL(1);
/* the reconnect back-off: the first retry after @min_ms, doubling up to @max_ms */
void
usbpass_libvirt_driver_set_reconnect_delays(UsbpassLibvirtDriver *self, guint min_ms, guint max_ms)
  USBPASS_NONNULL(1);

G_END_DECLS

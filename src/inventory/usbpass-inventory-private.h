/*
 * usbpass-inventory-private.h: test and embedding hooks of UsbpassInventory
 *
 * For tests of the inventory and of its users (the engine): feed complete
 * device sets without udev and get the same "event" and "changed" signals a
 * real hotplug would give. Main-loop thread only, like the rest.
 */
#pragma once

#include "usbpass-inventory.h"

#include <gudev/gudev.h>

G_BEGIN_DECLS

/* an inventory that never touches udev: enumerate() and start_monitor()
 * succeed and keep the current set, which only apply_snapshot() changes */
UsbpassInventory *
usbpass_inventory_new_for_testing(void) G_GNUC_WARN_UNUSED_RESULT;

/* diffs @devices (of UsbpassDevice: the complete new set, keyed by syspath,
 * else by port) against the current set and applies the difference as one
 * batch: identities recomputed, "event" per change, one "changed". The
 * records are copied; their id fields are ignored. */
void
usbpass_inventory_apply_snapshot(UsbpassInventory *self, GPtrArray *devices) USBPASS_NONNULL(1, 2);

/* applies queued uevents now instead of from the idle callback (benchmarks);
 * Returns: how many events were emitted */
guint
usbpass_inventory_flush(UsbpassInventory *self) USBPASS_NONNULL(1);

/* the number of uevents queued and not applied yet */
guint
usbpass_inventory_get_pending(UsbpassInventory *self) USBPASS_NONNULL(1);

/* feeds one uevent as GUdevClient would deliver it (tests and benchmarks) */
void
usbpass_inventory_queue_uevent(UsbpassInventory *self,
                               const gchar *action,
                               GUdevDevice *udev_device) USBPASS_NONNULL(1, 2, 3);

G_END_DECLS

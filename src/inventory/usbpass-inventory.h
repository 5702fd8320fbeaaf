/*
 * usbpass-inventory.h: the live set of USB devices of this host
 *
 * UsbpassInventory enumerates the USB devices through libgudev (subsystem "usb",
 * devtype "usb_device"), root hubs and hubs included, and keeps that set current
 * from udev's uevents once usbpass_inventory_start_monitor() was called. Readers
 * (the daemon's API) answer from the live set and never re-enumerate.
 *
 * Uevents are queued and applied together from one main-loop idle callback, so a
 * burst (a hub and its seven devices appearing) gives one consistent update: the
 * identities are recomputed over the whole set, then one "event" signal per
 * change and finally one "changed" signal. A device that re-appears with the same
 * identity (re-plug: new device number, perhaps another port when it is
 * identified by serial) is reported as ADDED with the previous address filled in.
 *
 * Main-loop thread only: create, query and monitor from the thread that runs the
 * GMainContext that was the thread-default when the object was created.
 *
 * Test and embedding hooks (feeding device sets without udev) are in
 * usbpass-inventory-private.h; the JSON form is in usbpass-device-json.h.
 */
#pragma once

#include "usbpass-device.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_INVENTORY (usbpass_inventory_get_type())
G_DECLARE_FINAL_TYPE(UsbpassInventory, usbpass_inventory, USBPASS, INVENTORY, GObject)

typedef enum {
	USBPASS_INVENTORY_EVENT_ADDED,
	USBPASS_INVENTORY_EVENT_REMOVED,
	USBPASS_INVENTORY_EVENT_CHANGED,
	USBPASS_INVENTORY_EVENT_LAST
} UsbpassInventoryEventKind;

const gchar *
usbpass_inventory_event_kind_to_string(UsbpassInventoryEventKind kind);
UsbpassInventoryEventKind
usbpass_inventory_event_kind_from_string(const gchar *str) USBPASS_NONNULL(1);

/* one applied change; emitted by the "event" signal */
typedef struct {
	UsbpassInventoryEventKind kind;
	UsbpassDevice *device; /* the device as it is now; for REMOVED, as it was */
	gboolean replugged;    /* ADDED: this identity was seen before, since removed */
	guint previous_bus;    /* ADDED+replugged: the address it had, else 0 */
	guint previous_device;
	gchar *previous_port; /* ADDED+replugged: NULL when unchanged */
	gint64 uevent_usec;   /* g_get_monotonic_time() when the uevent arrived */
} UsbpassInventoryEvent;

GType
usbpass_inventory_event_get_type(void);
#define USBPASS_TYPE_INVENTORY_EVENT (usbpass_inventory_event_get_type())
UsbpassInventoryEvent *
usbpass_inventory_event_new(UsbpassInventoryEventKind kind,
                            UsbpassDevice *device) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(2);
UsbpassInventoryEvent *
usbpass_inventory_event_copy(const UsbpassInventoryEvent *self) USBPASS_NONNULL(1);
void
usbpass_inventory_event_free(UsbpassInventoryEvent *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassInventoryEvent, usbpass_inventory_event_free)

/**
 * UsbpassInventory::event:
 * @self: the inventory
 * @event: (type UsbpassInventoryEvent): what changed
 *
 * Emitted once per applied device change, after the whole batch was applied.
 *
 * UsbpassInventory::changed:
 *
 * Emitted once after each batch that emitted at least one "event".
 */

UsbpassInventory *
usbpass_inventory_new(void) G_GNUC_WARN_UNUSED_RESULT;

/* reads sysfs for every USB device; replaces the current set (no events) */
gboolean
usbpass_inventory_enumerate(UsbpassInventory *self, GError **error) USBPASS_NONNULL(1);

/* starts listening to uevents; idempotent */
gboolean
usbpass_inventory_start_monitor(UsbpassInventory *self, GError **error) USBPASS_NONNULL(1);

/* Returns: (transfer container) (element-type UsbpassDevice): ordered by bus, then port */
GPtrArray *
usbpass_inventory_get_devices(UsbpassInventory *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* Returns: (transfer full): the device, or NULL with USBPASS_ERROR_NOT_FOUND */
UsbpassDevice *
usbpass_inventory_find_by_id(UsbpassInventory *self,
                             const gchar *id,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): the device at @bus:@device, or NULL with NOT_FOUND */
UsbpassDevice *
usbpass_inventory_find_by_address(UsbpassInventory *self, guint bus, guint device, GError **error)
  G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* accepts an identity, "BUS:DEVICE" ("1:4", "001:004") or a port ("1-1.4") */
UsbpassDevice *
usbpass_inventory_find(UsbpassInventory *self,
                       const gchar *spec,
                       GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* a counter bumped by each enumeration and each batch that changed the set
 * (a batch that changed nothing emits nothing and keeps it): an ETag */
guint64
usbpass_inventory_get_generation(UsbpassInventory *self) USBPASS_NONNULL(1);

/* how many devices the live set holds */
guint
usbpass_inventory_get_size(UsbpassInventory *self) USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-engine.h: who holds which host USB device, and making it so
 *
 * The engine joins the inventory (what is plugged in), the store (who holds
 * what, durably) and a hypervisor driver (what the instances' definitions say).
 * It owns the assignment state machine of host_usb_devices:
 *
 *  - attach: policy check, atomic claim in the store (available -> attaching),
 *    a check of every instance's live and persistent definition (a device put
 *    there by hand is "in use by instance X"), the driver call, then attached;
 *    or failed with the driver's message, with nothing left half-done.
 *  - detach: attached/failed/missing -> detaching -> available.
 *  - unplug of an assigned device -> missing (the assignment stays); re-plug ->
 *    the definition gets the new address and a running instance gets the
 *    device again, without anyone asking.
 *  - instance undefined -> its devices released; started/rebooted -> checked.
 *  - reconcile (at start-up and after each driver reconnect): rows left in
 *    attaching/detaching by a crash are finished or rolled back from what the
 *    driver reports, hostdevs found in instances are imported, vanished
 *    devices marked. Idempotent.
 *
 * Passthrough is off by default: until usbpass_engine_set_enabled(TRUE) every
 * attach fails with USBPASS_ERROR_DISABLED.
 *
 * Main-loop thread only; the driver calls of attach and detach run in a worker
 * thread in the _async variants, and the store is touched only from the main
 * thread. Emits "device-changed" (UsbpassEngineDevice) after each row change.
 */
#pragma once

#include <gio/gio.h>

#include "drivers/usbpass-driver.h"
#include "inventory/usbpass-inventory.h"
#include "store/usbpass-store.h"
#include "usbpass-policy.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_ENGINE (usbpass_engine_get_type())
G_DECLARE_FINAL_TYPE(UsbpassEngine, usbpass_engine, USBPASS, ENGINE, GObject)

/* what callers see of a device: the inventory's view joined with its row */
typedef struct {
	UsbpassDevice *device; /* NULL when not plugged in (state missing, or known but absent) */
	UsbpassStoreDevice *record; /* NULL when never recorded */
	gint refcount;
} UsbpassEngineDevice;

UsbpassEngineDevice *
usbpass_engine_device_ref(UsbpassEngineDevice *self) USBPASS_NONNULL(1);
void
usbpass_engine_device_unref(UsbpassEngineDevice *self);
GType
usbpass_engine_device_get_type(void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassEngineDevice, usbpass_engine_device_unref)

UsbpassEngine *
usbpass_engine_new(const gchar *host,
                   UsbpassInventory *inventory,
                   UsbpassStore *store,
                   UsbpassDriver *driver) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3, 4);

const gchar *
usbpass_engine_get_host(UsbpassEngine *self) USBPASS_NONNULL(1);
void
usbpass_engine_set_enabled(UsbpassEngine *self, gboolean enabled) USBPASS_NONNULL(1);
gboolean
usbpass_engine_get_enabled(UsbpassEngine *self) USBPASS_NONNULL(1);
void
usbpass_engine_set_policy(UsbpassEngine *self, UsbpassPolicy *policy) USBPASS_NONNULL(1, 2);
UsbpassPolicy *
usbpass_engine_get_policy(UsbpassEngine *self) USBPASS_NONNULL(1);

/* records the inventory, listens to inventory and driver events, reconciles */
gboolean
usbpass_engine_start(UsbpassEngine *self, GError **error) USBPASS_NONNULL(1);

/* Returns: (transfer container) (element-type UsbpassEngineDevice): present
 * devices and recorded ones, ordered by bus then port, absent ones last */
GPtrArray *
usbpass_engine_list_devices(UsbpassEngine *self, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* @spec: identity, "BUS:DEVICE" or port path */
UsbpassEngineDevice *
usbpass_engine_find_device(UsbpassEngine *self,
                           const gchar *spec,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* would @spec be allowed, by which rule; never attaches */
UsbpassPolicyVerdict *
usbpass_engine_check_policy(UsbpassEngine *self,
                            const gchar *spec,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* @actor: who asks, for the audit log ("uid:1000", "token:ops") */
void
usbpass_engine_attach_async(UsbpassEngine *self,
                            const gchar *device_spec,
                            const gchar *instance_spec,
                            const gchar *actor,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data) USBPASS_NONNULL(1, 2, 3, 4);
/* Returns: (transfer full): the device after the attach */
UsbpassEngineDevice *
usbpass_engine_attach_finish(UsbpassEngine *self,
                             GAsyncResult *res,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
void
usbpass_engine_detach_async(UsbpassEngine *self,
                            const gchar *device_spec,
                            const gchar *actor,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data) USBPASS_NONNULL(1, 2, 3);
UsbpassEngineDevice *
usbpass_engine_detach_finish(UsbpassEngine *self,
                             GAsyncResult *res,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* blocking wrappers for the CLI and tests: run the thread-default main context */
UsbpassEngineDevice *
usbpass_engine_attach(UsbpassEngine *self,
                      const gchar *device_spec,
                      const gchar *instance_spec,
                      const gchar *actor,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3, 4);
UsbpassEngineDevice *
usbpass_engine_detach(UsbpassEngine *self,
                      const gchar *device_spec,
                      const gchar *actor,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3);

gboolean
usbpass_engine_reconcile(UsbpassEngine *self, GError **error) USBPASS_NONNULL(1);

/* how many hypervisor calls (attach, detach, re-attach) are under way; a
 * clean shutdown waits for none, so no row is left attaching or detaching */
guint
usbpass_engine_get_jobs_in_flight(UsbpassEngine *self) USBPASS_NONNULL(1);

/* instances with the devices assigned to each: (element-type UsbpassInstance) */
GPtrArray *
usbpass_engine_list_instances(UsbpassEngine *self, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
UsbpassInstance *
usbpass_engine_lookup_instance(UsbpassEngine *self,
                               const gchar *spec,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type UsbpassStoreDevice): rows assigned to @uuid */
GPtrArray *
usbpass_engine_list_instance_devices(UsbpassEngine *self,
                                     const gchar *uuid,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2);

UsbpassStore *
usbpass_engine_get_store(UsbpassEngine *self) USBPASS_NONNULL(1);
UsbpassInventory *
usbpass_engine_get_inventory(UsbpassEngine *self) USBPASS_NONNULL(1);
UsbpassDriver *
usbpass_engine_get_driver(UsbpassEngine *self) USBPASS_NONNULL(1);

G_END_DECLS

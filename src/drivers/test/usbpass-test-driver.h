/*
 * usbpass-test-driver.h: an in-memory hypervisor for the engine's tests
 *
 * Holds instances with a state, an optional persistent definition and three
 * lists of USB hostdevs: live, persistent and the managed-save image's. Attach
 * and detach follow the flag table of usbpass-driver.h exactly, as the libvirt
 * driver does against libvirt 9:
 *   running, paused, crashed   live, and persistent when the instance has a definition
 *   shut off                   persistent
 *   saved                      persistent and the saved image; refused with
 *                              NOT_SUPPORTED unless saved images are updatable
 *                              (libvirt 9 refuses: "host device count ... does not match")
 * Ownership follows usbpass-driver.h as the libvirt driver does: attach writes
 * entries marked with usbpass's user alias (owned), a user alias ("ua-") is
 * kept in every definition and any other alias is replaced by "hostdevN" live
 * and dropped from the persistent one, an alias already in a definition is
 * refused as libvirt refuses it ("non unique alias"), and detach removes only
 * owned entries (IN_USE when only entries usbpass did not write hold the
 * device).
 * A live attach of a device that is not present on the host fails like
 * libvirt's "Did not find USB device" (every device is present until
 * usbpass_test_driver_set_device_present() says otherwise); a device live in
 * another instance fails as "in use". Starting an instance copies its
 * persistent hostdevs into the live definition, absent ones marked missing, as
 * startupPolicy='optional' does; a live detach emits DEVICE_REMOVED, as
 * libvirt does.
 *
 * The test controls the rest: failures of the next call of a method, a hook
 * called around each change (to block, fail or "crash" at that point), the
 * connection, instance events, and counts of the calls made. Instance UUIDs
 * handed out are deterministic ("00000000-0000-4000-8000-000000000001", ...).
 *
 * Optionally durable (usbpass_test_driver_set_state_file(), usbpassd's
 * test-state= key): the instances, their live, persistent and saved hostdevs
 * and the absent devices are then kept in a GKeyFile, written atomically after
 * each change and read back at start, so that a usbpassd killed with SIGKILL
 * and started again finds the "hypervisor" as it was at the kill, as it would
 * find libvirtd. The file has a [test-driver] group (next-uuid,
 * saved-image-updatable, absent=BUS:DEVICE;...) and one [instance UUID] group
 * per instance, in creation order (name, state, persistent, has-saved-image,
 * next-alias, and live-, persistent- and saved-hostdevs lists of
 * VENDOR:PRODUCT:BUS:DEVICE:MISSING:ALIAS, ids in hex). Failures, hooks,
 * counters and the connection are not kept.
 *
 * Thread-safe (one mutex); no threads of its own. Signals are emitted in the
 * main context that was the thread default when the driver was created: at
 * once when that context is the caller's, queued from other threads.
 */
#pragma once

#include "drivers/usbpass-driver.h"
#include "usbpass-error.h"

G_BEGIN_DECLS

#define USBPASS_TYPE_TEST_DRIVER (usbpass_test_driver_get_type())
G_DECLARE_FINAL_TYPE(UsbpassTestDriver, usbpass_test_driver, USBPASS, TEST_DRIVER, GObject)

typedef enum {
	USBPASS_TEST_DRIVER_SCOPE_LIVE,
	USBPASS_TEST_DRIVER_SCOPE_PERSISTENT,
	USBPASS_TEST_DRIVER_SCOPE_SAVED, /* the managed-save image */
	USBPASS_TEST_DRIVER_SCOPE_LAST
} UsbpassTestDriverScope;

/**
 * UsbpassTestDriverHookFunc:
 * @self: the driver
 * @method: "attach" or "detach"
 * @uuid: the instance
 * @hostdev: the device asked for
 * @applied: %FALSE just before the change, %TRUE just after it
 * @user_data: data given to usbpass_test_driver_set_hook()
 *
 * Called without the driver's lock, in the thread making the call, so it may
 * block (to hold a call in flight) or call the driver. Returning %FALSE makes
 * the call fail with %USBPASS_ERROR_DRIVER: before the change, nothing
 * changes; after it, the change stays, as when the connection drops after the
 * hypervisor did the work. A "crash" of the engine at that point is the
 * test's to simulate from here.
 *
 * Returns: %TRUE to let the call go on
 */
typedef gboolean (*UsbpassTestDriverHookFunc)(UsbpassTestDriver *self,
					      const gchar *method,
					      const gchar *uuid,
					      const UsbpassHostdev *hostdev,
					      gboolean applied,
					      gpointer user_data);

UsbpassTestDriver *
usbpass_test_driver_new(void) G_GNUC_WARN_UNUSED_RESULT;

/* durability: read @path if it exists, else write it; then written after
 * every change (see above) */
gboolean
usbpass_test_driver_set_state_file(UsbpassTestDriver *self, const gchar *path, GError **error)
  USBPASS_NONNULL(1, 2);

/* instances; each emits the events libvirt would */
UsbpassInstance *
usbpass_test_driver_add_instance(UsbpassTestDriver *self,
				 const gchar *uuid,
				 const gchar *name,
				 UsbpassInstanceState state,
				 gboolean persistent,
				 GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 3);
gboolean
usbpass_test_driver_remove_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
  USBPASS_NONNULL(1, 2);
gboolean
usbpass_test_driver_define_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
  USBPASS_NONNULL(1, 2);
gboolean
usbpass_test_driver_undefine_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
  USBPASS_NONNULL(1, 2);
gboolean
usbpass_test_driver_set_state(UsbpassTestDriver *self,
			      const gchar *uuid,
			      UsbpassInstanceState state,
			      GError **error) USBPASS_NONNULL(1, 2);
gboolean
usbpass_test_driver_reboot_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
  USBPASS_NONNULL(1, 2);

/* definitions, behind the driver's back (a device attached by hand) */
gboolean
usbpass_test_driver_add_hostdev(UsbpassTestDriver *self,
				const gchar *uuid,
				UsbpassTestDriverScope scope,
				const UsbpassHostdev *hostdev,
				GError **error) USBPASS_NONNULL(1, 2, 4);
/* Returns: (transfer container) (element-type UsbpassHostdev): copies */
GPtrArray *
usbpass_test_driver_get_hostdevs(UsbpassTestDriver *self,
				 const gchar *uuid,
				 UsbpassTestDriverScope scope,
				 GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

/* the host */
void
usbpass_test_driver_set_device_present(UsbpassTestDriver *self,
				       guint bus,
				       guint device,
				       gboolean present) USBPASS_NONNULL(1);
void
usbpass_test_driver_set_saved_image_updatable(UsbpassTestDriver *self, gboolean updatable)
  USBPASS_NONNULL(1);

/* failures, hooks, connection, events, counters; @method is one of "open",
 * "list_instances", "lookup_instance", "list_hostdevs", "attach", "detach",
 * and for usbpass_test_driver_fail_next() also "list" (either list method).
 * Queued failures are used in order, one per call, before anything changes. */
void
usbpass_test_driver_fail_next(UsbpassTestDriver *self,
			      const gchar *method,
			      UsbpassError code,
			      const gchar *message) USBPASS_NONNULL(1, 2, 4);
void
usbpass_test_driver_set_hook(UsbpassTestDriver *self,
			     UsbpassTestDriverHookFunc func,
			     gpointer user_data,
			     GDestroyNotify destroy) USBPASS_NONNULL(1);
void
usbpass_test_driver_set_connected(UsbpassTestDriver *self, gboolean connected) USBPASS_NONNULL(1);
void
usbpass_test_driver_emit_event(UsbpassTestDriver *self,
			       const gchar *uuid,
			       UsbpassInstanceEventKind kind) USBPASS_NONNULL(1, 2);
guint
usbpass_test_driver_get_call_count(UsbpassTestDriver *self, const gchar *method)
  USBPASS_NONNULL(1, 2);
void
usbpass_test_driver_reset_call_counts(UsbpassTestDriver *self) USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-driver.h: what usbpass needs from a hypervisor
 *
 * A driver lists instances (VMs), attaches and detaches host USB devices and
 * reports instance lifecycle events. The engine sees only this interface; the
 * libvirt driver (drivers/libvirt/) is the first implementation, an in-memory
 * test driver (drivers/test/) serves the engine's tests, and a QEMU QMP driver
 * is planned.
 *
 * Attach and detach choose their scope from the instance's state, as
 * `virsh attach-device` users must do by hand:
 *   running or paused             live + persistent config
 *   shut off                      persistent config only
 *   transient (no persistent def) live only
 *   has a managed-save image      the saved definition too, or NOT_SUPPORTED
 * Detach mirrors attach. A hostdev is always added with an optional startup
 * policy, so that a missing device never stops an instance from booting.
 *
 * Threading: the methods block (they talk to the hypervisor) and may be called
 * from a worker thread, one call at a time per driver is NOT required: drivers
 * are thread-safe. Signals are emitted in the main context the driver was
 * created in.
 */
#pragma once

#include <glib-object.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

typedef enum {
	USBPASS_INSTANCE_STATE_UNKNOWN,
	USBPASS_INSTANCE_STATE_RUNNING,
	USBPASS_INSTANCE_STATE_PAUSED,
	USBPASS_INSTANCE_STATE_SHUTOFF,
	USBPASS_INSTANCE_STATE_SAVED, /* shut off with a managed-save image */
	USBPASS_INSTANCE_STATE_CRASHED,
	USBPASS_INSTANCE_STATE_LAST
} UsbpassInstanceState;

const gchar *
usbpass_instance_state_to_string(UsbpassInstanceState state);
UsbpassInstanceState
usbpass_instance_state_from_string(const gchar *str);

typedef struct {
	gchar *uuid; /* lower-case, 36 characters */
	gchar *name;
	UsbpassInstanceState state;
	gboolean persistent; /* has a persistent definition */
	/*< private >*/
	gint refcount;
} UsbpassInstance;

UsbpassInstance *
usbpass_instance_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassInstance *
usbpass_instance_new_full(const gchar *uuid,
			  const gchar *name,
			  UsbpassInstanceState state,
			  gboolean persistent) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
UsbpassInstance *
usbpass_instance_ref(UsbpassInstance *self) USBPASS_NONNULL(1);
void
usbpass_instance_unref(UsbpassInstance *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassInstance, usbpass_instance_unref)

/* a USB host device as an instance's definition names it */
typedef struct {
	guint16 vendor_id; /* 0 in libvirt's placeholder for a missing device */
	guint16 product_id;
	guint bus; /* 0 when the definition has no address */
	guint device;
	gboolean live;       /* in the running instance */
	gboolean persistent; /* in the persistent definition */
	gboolean missing;    /* the hypervisor marks it absent (startupPolicy optional) */
	gchar *alias;        /* hypervisor's alias (e.g. "hostdev0"), NULL when none */
} UsbpassHostdev;

UsbpassHostdev *
usbpass_hostdev_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassHostdev *
usbpass_hostdev_copy(const UsbpassHostdev *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_hostdev_free(UsbpassHostdev *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassHostdev, usbpass_hostdev_free)
/* same vendor:product and, when both have one, the same address */
gboolean
usbpass_hostdev_matches(const UsbpassHostdev *self, const UsbpassHostdev *other)
  USBPASS_NONNULL(1, 2);
/* INVALID_DATA unless it has vendor and product ids or an address with a
 * device number: what an attach needs */
gboolean
usbpass_hostdev_validate(const UsbpassHostdev *self, GError **error) USBPASS_NONNULL(1);
/* for messages: "0781:5567 bus 1 device 4", "0781:5567" without an address */
gchar *
usbpass_hostdev_to_string(const UsbpassHostdev *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* an instance with the USB host devices of its definitions, as
 * usbpass_driver_list_hostdevs() returns them */
typedef struct {
	UsbpassInstance *instance;
	GPtrArray *hostdevs; /* of UsbpassHostdev */
} UsbpassInstanceHostdevs;

UsbpassInstanceHostdevs *
usbpass_instance_hostdevs_new(UsbpassInstance *instance,
			      GPtrArray *hostdevs) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
UsbpassInstanceHostdevs *
usbpass_instance_hostdevs_copy(const UsbpassInstanceHostdevs *self) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
void
usbpass_instance_hostdevs_free(UsbpassInstanceHostdevs *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassInstanceHostdevs, usbpass_instance_hostdevs_free)

typedef enum {
	USBPASS_INSTANCE_EVENT_DEFINED,
	USBPASS_INSTANCE_EVENT_UNDEFINED,
	USBPASS_INSTANCE_EVENT_STARTED,
	USBPASS_INSTANCE_EVENT_STOPPED,
	USBPASS_INSTANCE_EVENT_SUSPENDED,
	USBPASS_INSTANCE_EVENT_RESUMED,
	USBPASS_INSTANCE_EVENT_REBOOTED,
	USBPASS_INSTANCE_EVENT_MIGRATED, /* left this host */
	USBPASS_INSTANCE_EVENT_DEVICE_REMOVED,
	USBPASS_INSTANCE_EVENT_LAST
} UsbpassInstanceEventKind;

const gchar *
usbpass_instance_event_kind_to_string(UsbpassInstanceEventKind kind);
UsbpassInstanceEventKind
usbpass_instance_event_kind_from_string(const gchar *str);

#define USBPASS_TYPE_DRIVER (usbpass_driver_get_type())
G_DECLARE_INTERFACE(UsbpassDriver, usbpass_driver, USBPASS, DRIVER, GObject)

/**
 * UsbpassDriver::instance-event:
 * @self: the driver
 * @uuid: (type utf8): the instance
 * @kind: (type gint): a #UsbpassInstanceEventKind
 *
 * UsbpassDriver::connection-changed:
 * @self: the driver
 * @connected: TRUE after (re)connecting, FALSE when the connection was lost
 *
 * After a reconnect the engine reconciles: events may have been missed.
 */
struct _UsbpassDriverInterface {
	GTypeInterface parent_iface;

	const gchar *(*get_name)(UsbpassDriver *self);
	gboolean (*open)(UsbpassDriver *self, GError **error);
	gboolean (*is_connected)(UsbpassDriver *self);
	GPtrArray *(*list_instances)(UsbpassDriver *self, GError **error);
	UsbpassInstance *(*lookup_instance)(UsbpassDriver *self,
					    const gchar *uuid_or_name,
					    GError **error);
	GPtrArray *(*list_hostdevs)(UsbpassDriver *self, const gchar *uuid, GError **error);
	gboolean (*attach)(UsbpassDriver *self,
			   const gchar *uuid,
			   const UsbpassHostdev *hostdev,
			   GError **error);
	gboolean (*detach)(UsbpassDriver *self,
			   const gchar *uuid,
			   const UsbpassHostdev *hostdev,
			   GError **error);
	/* optional: without it, list_instances and list_hostdevs for each */
	GPtrArray *(*list_all_hostdevs)(UsbpassDriver *self, GError **error);
};

const gchar *
usbpass_driver_get_name(UsbpassDriver *self) USBPASS_NONNULL(1);
/* connects and starts delivering events; on failure the driver keeps trying
 * to reconnect in the background and emits connection-changed */
gboolean
usbpass_driver_open(UsbpassDriver *self, GError **error) USBPASS_NONNULL(1);
gboolean
usbpass_driver_is_connected(UsbpassDriver *self) USBPASS_NONNULL(1);
/* Returns: (transfer container) (element-type UsbpassInstance) */
GPtrArray *
usbpass_driver_list_instances(UsbpassDriver *self, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* Returns: (transfer full): the instance, or NULL with USBPASS_ERROR_NOT_FOUND */
UsbpassInstance *
usbpass_driver_lookup_instance(UsbpassDriver *self,
			       const gchar *uuid_or_name,
			       GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* Returns: (transfer container) (element-type UsbpassHostdev): the USB host
 * devices of the live and the persistent definition, merged: one entry per
 * device with live/persistent set */
GPtrArray *
usbpass_driver_list_hostdevs(UsbpassDriver *self,
			     const gchar *uuid,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* every instance with its hostdevs in one pass over the hypervisor, for scans
 * of all definitions (the in-use check, reconcile); an instance undefined
 * meanwhile is left out. Returns: (transfer container) (element-type
 * UsbpassInstanceHostdevs) */
GPtrArray *
usbpass_driver_list_all_hostdevs(UsbpassDriver *self, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
gboolean
usbpass_driver_attach(UsbpassDriver *self,
		      const gchar *uuid,
		      const UsbpassHostdev *hostdev,
		      GError **error) USBPASS_NONNULL(1, 2, 3);
/* detaches every definition of the device (matched by usbpass_hostdev_matches());
 * NOT_FOUND when the instance has no such device */
gboolean
usbpass_driver_detach(UsbpassDriver *self,
		      const gchar *uuid,
		      const UsbpassHostdev *hostdev,
		      GError **error) USBPASS_NONNULL(1, 2, 3);

/* for implementations: merges the hostdevs of a live and a persistent
 * definition into one entry per device with live/persistent set (a live entry
 * keeps its alias and missing flag); Returns: (transfer container) */
GPtrArray *
usbpass_driver_merge_hostdevs(GPtrArray *live, GPtrArray *persistent) G_GNUC_WARN_UNUSED_RESULT;

/* for implementations: the main context the signals are emitted in, and the
 * calling thread as the one that iterates it; without one they are emitted in
 * whatever thread emits them */
void
usbpass_driver_set_main_context(UsbpassDriver *self, GMainContext *context) USBPASS_NONNULL(1, 2);
/* for implementations: emit the signals in the driver's main context, from any
 * thread (queued when called from another thread); a queued signal does not
 * keep the driver alive */
void
usbpass_driver_emit_instance_event(UsbpassDriver *self,
				   const gchar *uuid,
				   UsbpassInstanceEventKind kind) USBPASS_NONNULL(1, 2);
void
usbpass_driver_emit_connection_changed(UsbpassDriver *self, gboolean connected) USBPASS_NONNULL(1);

G_END_DECLS

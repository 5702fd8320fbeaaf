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

/*
 * Ownership: usbpass removes from a definition only what it wrote there itself.
 * Every hostdev it writes carries a user alias, USBPASS_HOSTDEV_ALIAS_PREFIX
 * followed by ids and address ("ua-usbpass-0781-5567-1-4",
 * usbpass_hostdev_make_alias()). libvirt keeps user aliases ("ua-" prefix) in
 * the live, persistent and managed-save definitions, also for an entry it
 * marks missing, so the mark travels with the element itself: it is written
 * in the same call as the hostdev, which a crash cannot split, unlike a second
 * record in the domain's <metadata>. Drivers set @owned on the hostdevs they
 * list from that mark and nothing else; detach, the removal of stale entries
 * on re-plug or retry, and reconcile never remove an entry without it. Any
 * other USB hostdev (written by hand, by another tool, or by a usbpass older
 * than the mark) is the operator's: it counts as holding its device, and
 * usbpass never changes it.
 */
#define USBPASS_HOSTDEV_ALIAS_PREFIX "ua-usbpass-"

/* a USB host device as an instance's definition names it, in any form
 * libvirt accepts: vendor and product ids, an address, or both */
typedef struct {
	guint16 vendor_id; /* 0 when the definition names no ids (libvirt refuses vendor 0) */
	guint16 product_id;
	guint bus; /* 0 when the definition has no address */
	guint device;
	gboolean live;       /* in the running instance */
	gboolean persistent; /* in the persistent definition */
	gboolean missing;    /* the hypervisor marks it absent (startupPolicy optional) */
	gchar *alias;        /* hypervisor's alias (e.g. "hostdev0"), NULL when none */
	gboolean owned;      /* usbpass wrote it: it carries usbpass's alias (see above) */
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
/* whether @self, an entry of a definition, claims the host device @device
 * (its ids and current address) as libvirt resolves the entry: ids and
 * address must both match when both are given, ids alone name any device
 * with those ids, an address alone the device at that address; an entry with
 * neither (an absent device's placeholder) claims nothing. Ownership, scope
 * and the missing flag do not count: a missing entry still holds its device
 * for the instance. */
gboolean
usbpass_hostdev_holds(const UsbpassHostdev *self, const UsbpassHostdev *device)
  USBPASS_NONNULL(1, 2);
/* Returns: (transfer full): the alias usbpass writes for @self,
 * USBPASS_HOSTDEV_ALIAS_PREFIX "VVVV-PPPP-BUS-DEVICE" (libvirt allows
 * [a-zA-Z0-9_-] in a user alias, unique within a definition) */
gchar *
usbpass_hostdev_make_alias(const UsbpassHostdev *self) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* for drivers' detach: whether the entry @self of a definition is one usbpass
 * may remove when asked to detach @wanted: it must be @owned, and carry
 * @wanted's alias (or the one usbpass_hostdev_make_alias() gives @wanted) or
 * match @wanted (usbpass_hostdev_matches()) */
gboolean
usbpass_hostdev_is_removable_for(const UsbpassHostdev *self, const UsbpassHostdev *wanted)
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
/* detaches every entry of the device that usbpass wrote
 * (usbpass_hostdev_is_removable_for()) from each definition; never removes
 * any other. IN_USE when no such entry exists but one usbpass did not write
 * holds the device (usbpass_hostdev_holds()): nothing is changed; NOT_FOUND
 * when the instance has neither */
gboolean
usbpass_driver_detach(UsbpassDriver *self,
		      const gchar *uuid,
		      const UsbpassHostdev *hostdev,
		      GError **error) USBPASS_NONNULL(1, 2, 3);

/* for implementations: merges the hostdevs of a live and a persistent
 * definition into one entry per device with live/persistent set (a live entry
 * keeps its alias and missing flag; an owned entry pairs only with an owned
 * one of the same alias); Returns: (transfer container) */
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

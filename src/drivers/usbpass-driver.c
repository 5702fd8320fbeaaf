/*
 * usbpass-driver.c: what usbpass needs from a hypervisor
 */
#define G_LOG_DOMAIN "UsbpassDriver"

#include "config.h"

#include "usbpass-driver.h"
#include "usbpass-error.h"

/* the names are shown by the CLI and the REST API: never rename one */
/* clang-format off */
static const gchar *const instance_state_names[USBPASS_INSTANCE_STATE_LAST] = {
	[USBPASS_INSTANCE_STATE_UNKNOWN] = "unknown",
	[USBPASS_INSTANCE_STATE_RUNNING] = "running",
	[USBPASS_INSTANCE_STATE_PAUSED] = "paused",
	[USBPASS_INSTANCE_STATE_SHUTOFF] = "shutoff",
	[USBPASS_INSTANCE_STATE_SAVED] = "saved",
	[USBPASS_INSTANCE_STATE_CRASHED] = "crashed",
};
/* clang-format on */

static const gchar *const instance_event_names[USBPASS_INSTANCE_EVENT_LAST] = {
	[USBPASS_INSTANCE_EVENT_DEFINED] = "defined",
	[USBPASS_INSTANCE_EVENT_UNDEFINED] = "undefined",
	[USBPASS_INSTANCE_EVENT_STARTED] = "started",
	[USBPASS_INSTANCE_EVENT_STOPPED] = "stopped",
	[USBPASS_INSTANCE_EVENT_SUSPENDED] = "suspended",
	[USBPASS_INSTANCE_EVENT_RESUMED] = "resumed",
	[USBPASS_INSTANCE_EVENT_REBOOTED] = "rebooted",
	[USBPASS_INSTANCE_EVENT_MIGRATED] = "migrated",
	[USBPASS_INSTANCE_EVENT_DEVICE_REMOVED] = "device-removed",
};

/**
 * usbpass_instance_state_to_string:
 * @state: a #UsbpassInstanceState
 *
 * Returns: the stable name of @state, e.g. "shutoff"; "unknown" when out of range
 */
const gchar *
usbpass_instance_state_to_string(UsbpassInstanceState state)
{
	if ((guint)state >= USBPASS_INSTANCE_STATE_LAST)
		return instance_state_names[USBPASS_INSTANCE_STATE_UNKNOWN];
	return instance_state_names[state];
}

/**
 * usbpass_instance_state_from_string:
 * @str: (nullable): a name as returned by usbpass_instance_state_to_string()
 *
 * Returns: the state, or %USBPASS_INSTANCE_STATE_UNKNOWN for an unknown name
 */
UsbpassInstanceState
usbpass_instance_state_from_string(const gchar *str)
{
	for (guint i = 0; i < USBPASS_INSTANCE_STATE_LAST; i++) {
		if (g_strcmp0(str, instance_state_names[i]) == 0)
			return (UsbpassInstanceState)i;
	}
	return USBPASS_INSTANCE_STATE_UNKNOWN;
}

/**
 * usbpass_instance_event_kind_to_string:
 * @kind: a #UsbpassInstanceEventKind
 *
 * Returns: the stable name of @kind, e.g. "device-removed"; %NULL when out of range
 */
const gchar *
usbpass_instance_event_kind_to_string(UsbpassInstanceEventKind kind)
{
	if ((guint)kind >= USBPASS_INSTANCE_EVENT_LAST)
		return NULL;
	return instance_event_names[kind];
}

/**
 * usbpass_instance_event_kind_from_string:
 * @str: (nullable): a name as returned by usbpass_instance_event_kind_to_string()
 *
 * Returns: the kind, or %USBPASS_INSTANCE_EVENT_LAST for an unknown name
 */
UsbpassInstanceEventKind
usbpass_instance_event_kind_from_string(const gchar *str)
{
	for (guint i = 0; i < USBPASS_INSTANCE_EVENT_LAST; i++) {
		if (g_strcmp0(str, instance_event_names[i]) == 0)
			return (UsbpassInstanceEventKind)i;
	}
	return USBPASS_INSTANCE_EVENT_LAST;
}

/**
 * usbpass_instance_new:
 *
 * Returns: (transfer full): an empty instance record with one reference
 */
UsbpassInstance *
usbpass_instance_new(void)
{
	UsbpassInstance *self = g_new0(UsbpassInstance, 1);
	self->refcount = 1;
	return self;
}

/**
 * usbpass_instance_new_full:
 * @uuid: the instance's UUID, lower-case
 * @name: its name
 * @state: its state
 * @persistent: whether it has a persistent definition
 *
 * Returns: (transfer full): a new instance record
 */
UsbpassInstance *
usbpass_instance_new_full(const gchar *uuid,
			  const gchar *name,
			  UsbpassInstanceState state,
			  gboolean persistent)
{
	UsbpassInstance *self;

	g_return_val_if_fail(uuid != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	self = usbpass_instance_new();
	self->uuid = g_ascii_strdown(uuid, -1);
	self->name = g_strdup(name);
	self->state = state;
	self->persistent = persistent;
	return self;
}

/**
 * usbpass_instance_ref:
 * @self: an instance record
 *
 * Returns: (transfer full): @self
 */
UsbpassInstance *
usbpass_instance_ref(UsbpassInstance *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_int_inc(&self->refcount);
	return self;
}

/**
 * usbpass_instance_unref:
 * @self: (nullable): an instance record
 *
 * Drops a reference; the last one frees the record.
 */
void
usbpass_instance_unref(UsbpassInstance *self)
{
	if (self == NULL)
		return;
	if (!g_atomic_int_dec_and_test(&self->refcount))
		return;
	g_free(self->uuid);
	g_free(self->name);
	g_free(self);
}

/**
 * usbpass_hostdev_new:
 *
 * Returns: (transfer full): an empty hostdev record
 */
UsbpassHostdev *
usbpass_hostdev_new(void)
{
	return g_new0(UsbpassHostdev, 1);
}

/**
 * usbpass_hostdev_copy:
 * @self: a hostdev record
 *
 * Returns: (transfer full): a deep copy of @self
 */
UsbpassHostdev *
usbpass_hostdev_copy(const UsbpassHostdev *self)
{
	UsbpassHostdev *copy;

	g_return_val_if_fail(self != NULL, NULL);

	copy = g_memdup2(self, sizeof(*self));
	copy->alias = g_strdup(self->alias);
	return copy;
}

/**
 * usbpass_hostdev_free:
 * @self: (nullable): a hostdev record
 */
void
usbpass_hostdev_free(UsbpassHostdev *self)
{
	if (self == NULL)
		return;
	g_free(self->alias);
	g_free(self);
}

/**
 * usbpass_hostdev_matches:
 * @self: a hostdev
 * @other: another hostdev
 *
 * Whether two records name the same host device: the same vendor and product
 * ids (both 0 for libvirt's placeholder of an absent device) and, when both
 * carry an address, the same bus and device number. Scope, the missing flag
 * and the alias do not count.
 *
 * Returns: %TRUE when they match
 */
gboolean
usbpass_hostdev_matches(const UsbpassHostdev *self, const UsbpassHostdev *other)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(other != NULL, FALSE);

	if (self->vendor_id != other->vendor_id || self->product_id != other->product_id)
		return FALSE;
	if (self->bus != 0 && other->bus != 0)
		return self->bus == other->bus && self->device == other->device;
	return TRUE;
}

/**
 * usbpass_hostdev_holds:
 * @self: an entry of a definition
 * @device: a host device: its ids and its current address
 *
 * Whether @self claims @device the way libvirt resolves the entry when the
 * instance starts or the entry is hot-plugged: by ids and address when it
 * gives both, by ids alone, or by address alone. An entry with neither names
 * no device. This is the in-use answer: an entry holds its device whoever
 * wrote it and whether or not the device is there.
 *
 * Returns: %TRUE when @self names @device
 */
gboolean
usbpass_hostdev_holds(const UsbpassHostdev *self, const UsbpassHostdev *device)
{
	gboolean has_ids;
	gboolean has_address;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(device != NULL, FALSE);

	/* libvirt refuses vendor id 0, while product id 0 is valid */
	has_ids = self->vendor_id != 0;
	has_address = self->bus != 0;
	if (!has_ids && !has_address)
		return FALSE;
	if (has_ids &&
	    (self->vendor_id != device->vendor_id || self->product_id != device->product_id))
		return FALSE;
	if (has_address && (self->bus != device->bus || self->device != device->device))
		return FALSE;
	return TRUE;
}

/**
 * usbpass_hostdev_make_alias:
 * @self: the device usbpass is about to write into a definition
 *
 * Returns: (transfer full): the user alias that marks the entry as usbpass's,
 * e.g. "ua-usbpass-0781-5567-1-4"
 */
gchar *
usbpass_hostdev_make_alias(const UsbpassHostdev *self)
{
	g_return_val_if_fail(self != NULL, NULL);

	return g_strdup_printf(USBPASS_HOSTDEV_ALIAS_PREFIX "%04x-%04x-%u-%u",
			       self->vendor_id,
			       self->product_id,
			       self->bus,
			       self->device);
}

/**
 * usbpass_hostdev_is_removable_for:
 * @self: an entry of a definition
 * @wanted: what a detach asks to remove: a device, or an entry as listed
 *
 * The ownership rule of detach: only an entry usbpass wrote (@owned) may go,
 * and only the one for @wanted: the same alias, or the same device.
 *
 * Returns: %TRUE when a detach of @wanted may remove @self
 */
gboolean
usbpass_hostdev_is_removable_for(const UsbpassHostdev *self, const UsbpassHostdev *wanted)
{
	g_autofree gchar *alias = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(wanted != NULL, FALSE);

	if (!self->owned)
		return FALSE;
	if (self->alias != NULL && wanted->owned && g_strcmp0(self->alias, wanted->alias) == 0)
		return TRUE;
	alias = usbpass_hostdev_make_alias(wanted);
	if (g_strcmp0(self->alias, alias) == 0)
		return TRUE;
	/* an owned entry without ids (an absent device's placeholder) is found by
	 * its alias only, never as "vendor 0" */
	if (self->vendor_id == 0 && self->bus == 0)
		return FALSE;
	return usbpass_hostdev_matches(self, wanted);
}

/**
 * usbpass_hostdev_validate:
 * @self: a hostdev
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: %TRUE when @self names a device a hypervisor can find: by vendor
 * and product ids, by bus and device number, or both
 */
gboolean
usbpass_hostdev_validate(const UsbpassHostdev *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);

	if (self->vendor_id == 0 && self->product_id == 0 && self->bus == 0) {
		g_set_error_literal(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "a USB host device needs vendor and product ids or an address");
		return FALSE;
	}
	if (self->bus != 0 && self->device == 0) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "the USB address on bus %u has no device number",
			    self->bus);
		return FALSE;
	}
	return TRUE;
}

/**
 * usbpass_hostdev_to_string:
 * @self: a hostdev
 *
 * Returns: (transfer full): e.g. "0781:5567 bus 1 device 4", for messages
 */
gchar *
usbpass_hostdev_to_string(const UsbpassHostdev *self)
{
	g_return_val_if_fail(self != NULL, NULL);

	if (self->bus == 0)
		return g_strdup_printf("%04x:%04x", self->vendor_id, self->product_id);
	return g_strdup_printf(
	  "%04x:%04x bus %u device %u", self->vendor_id, self->product_id, self->bus, self->device);
}

/**
 * usbpass_instance_hostdevs_new:
 * @instance: an instance
 * @hostdevs: (element-type UsbpassHostdev): its USB host devices
 *
 * Returns: (transfer full): a record holding a reference on each
 */
UsbpassInstanceHostdevs *
usbpass_instance_hostdevs_new(UsbpassInstance *instance, GPtrArray *hostdevs)
{
	UsbpassInstanceHostdevs *self;

	g_return_val_if_fail(instance != NULL, NULL);
	g_return_val_if_fail(hostdevs != NULL, NULL);

	self = g_new0(UsbpassInstanceHostdevs, 1);
	self->instance = usbpass_instance_ref(instance);
	self->hostdevs = g_ptr_array_ref(hostdevs);
	return self;
}

static gpointer
usbpass_instance_hostdevs_copy_cb(gconstpointer hostdev, gpointer user_data)
{
	return usbpass_hostdev_copy(hostdev);
}

/**
 * usbpass_instance_hostdevs_copy:
 * @self: a record
 *
 * Returns: (transfer full): a copy with its own hostdev list; the instance,
 * which nobody changes, is shared
 */
UsbpassInstanceHostdevs *
usbpass_instance_hostdevs_copy(const UsbpassInstanceHostdevs *self)
{
	g_autoptr(GPtrArray) hostdevs = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	hostdevs = g_ptr_array_copy(self->hostdevs, usbpass_instance_hostdevs_copy_cb, NULL);
	g_ptr_array_set_free_func(hostdevs, (GDestroyNotify)usbpass_hostdev_free);
	return usbpass_instance_hostdevs_new(self->instance, hostdevs);
}

/**
 * usbpass_instance_hostdevs_free:
 * @self: (nullable): a record
 */
void
usbpass_instance_hostdevs_free(UsbpassInstanceHostdevs *self)
{
	if (self == NULL)
		return;
	usbpass_instance_unref(self->instance);
	if (self->hostdevs != NULL)
		g_ptr_array_unref(self->hostdevs);
	g_free(self);
}

enum { SIGNAL_INSTANCE_EVENT, SIGNAL_CONNECTION_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

G_DEFINE_INTERFACE(UsbpassDriver, usbpass_driver, G_TYPE_OBJECT)

static void
usbpass_driver_default_init(UsbpassDriverInterface *iface)
{
	signals[SIGNAL_INSTANCE_EVENT] = g_signal_new("instance-event",
						      G_TYPE_FROM_INTERFACE(iface),
						      G_SIGNAL_RUN_LAST,
						      0,
						      NULL,
						      NULL,
						      NULL,
						      G_TYPE_NONE,
						      2,
						      G_TYPE_STRING,
						      G_TYPE_INT);
	signals[SIGNAL_CONNECTION_CHANGED] = g_signal_new("connection-changed",
							  G_TYPE_FROM_INTERFACE(iface),
							  G_SIGNAL_RUN_LAST,
							  0,
							  NULL,
							  NULL,
							  NULL,
							  G_TYPE_NONE,
							  1,
							  G_TYPE_BOOLEAN);
}

static gboolean
usbpass_driver_not_supported(UsbpassDriver *self, const gchar *what, GError **error)
{
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_NOT_SUPPORTED,
		    "driver '%s' cannot %s",
		    G_OBJECT_TYPE_NAME(self),
		    what);
	return FALSE;
}

/**
 * usbpass_driver_get_name:
 * @self: a driver
 *
 * Returns: a short name such as "libvirt" or "test"
 */
const gchar *
usbpass_driver_get_name(UsbpassDriver *self)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), NULL);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->get_name == NULL)
		return G_OBJECT_TYPE_NAME(self);
	return iface->get_name(self);
}

/**
 * usbpass_driver_open:
 * @self: a driver
 * @error: (nullable): the reason when the first connection fails
 *
 * Connects and starts delivering events. When this fails the driver keeps
 * trying in the background and emits #UsbpassDriver::connection-changed
 * once connected.
 *
 * Returns: %TRUE when connected now
 */
gboolean
usbpass_driver_open(UsbpassDriver *self, GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->open == NULL)
		return TRUE;
	return iface->open(self, error);
}

/**
 * usbpass_driver_is_connected:
 * @self: a driver
 *
 * Returns: %TRUE while the hypervisor connection is up
 */
gboolean
usbpass_driver_is_connected(UsbpassDriver *self)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), FALSE);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->is_connected == NULL)
		return TRUE;
	return iface->is_connected(self);
}

/**
 * usbpass_driver_list_instances:
 * @self: a driver
 * @error: (nullable): #USBPASS_ERROR_DRIVER when the hypervisor fails
 *
 * Returns: (transfer container) (element-type UsbpassInstance): every
 * instance, active or not
 */
GPtrArray *
usbpass_driver_list_instances(UsbpassDriver *self, GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->list_instances == NULL) {
		usbpass_driver_not_supported(self, "list instances", error);
		return NULL;
	}
	return iface->list_instances(self, error);
}

/**
 * usbpass_driver_lookup_instance:
 * @self: a driver
 * @uuid_or_name: a UUID or a name
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when there is no such instance
 *
 * Returns: (transfer full): the instance
 */
UsbpassInstance *
usbpass_driver_lookup_instance(UsbpassDriver *self, const gchar *uuid_or_name, GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), NULL);
	g_return_val_if_fail(uuid_or_name != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->lookup_instance == NULL) {
		usbpass_driver_not_supported(self, "look instances up", error);
		return NULL;
	}
	return iface->lookup_instance(self, uuid_or_name, error);
}

/**
 * usbpass_driver_list_hostdevs:
 * @self: a driver
 * @uuid: the instance
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when there is no such instance
 *
 * Returns: (transfer container) (element-type UsbpassHostdev): the USB host
 * devices of the live and the persistent definition, one entry per device
 * with live and persistent set
 */
GPtrArray *
usbpass_driver_list_hostdevs(UsbpassDriver *self, const gchar *uuid, GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), NULL);
	g_return_val_if_fail(uuid != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->list_hostdevs == NULL) {
		usbpass_driver_not_supported(self, "list USB host devices", error);
		return NULL;
	}
	return iface->list_hostdevs(self, uuid, error);
}

/* for drivers without list_all_hostdevs: one listing, then each instance */
static GPtrArray *
usbpass_driver_list_all_hostdevs_default(UsbpassDriver *self, GError **error)
{
	g_autoptr(GPtrArray) instances = usbpass_driver_list_instances(self, error);
	g_autoptr(GPtrArray) all = NULL;

	if (instances == NULL)
		return NULL;
	all = g_ptr_array_new_full(instances->len, (GDestroyNotify)usbpass_instance_hostdevs_free);
	for (guint i = 0; i < instances->len; i++) {
		UsbpassInstance *instance = g_ptr_array_index(instances, i);
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GPtrArray) hostdevs =
		  usbpass_driver_list_hostdevs(self, instance->uuid, &error_local);

		if (hostdevs == NULL) {
			/* undefined between the listing and now */
			if (g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND))
				continue;
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		g_ptr_array_add(all, usbpass_instance_hostdevs_new(instance, hostdevs));
	}
	return g_steal_pointer(&all);
}

/**
 * usbpass_driver_list_all_hostdevs:
 * @self: a driver
 * @error: (nullable): #USBPASS_ERROR_DRIVER when the hypervisor fails
 *
 * What usbpass_driver_list_instances() and usbpass_driver_list_hostdevs() for
 * each instance return, read in as few calls as the driver can: the scans of
 * every definition (the in-use check of an attach, reconcile) use this. An
 * instance undefined between the listing and the read of its definition is
 * left out.
 *
 * Returns: (transfer container) (element-type UsbpassInstanceHostdevs): every
 * instance, active or not, with its hostdevs
 */
GPtrArray *
usbpass_driver_list_all_hostdevs(UsbpassDriver *self, GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->list_all_hostdevs == NULL)
		return usbpass_driver_list_all_hostdevs_default(self, error);
	return iface->list_all_hostdevs(self, error);
}

/**
 * usbpass_driver_attach:
 * @self: a driver
 * @uuid: the instance
 * @hostdev: the host device; its scope, missing flag and alias are ignored
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_DRIVER,
 *   #USBPASS_ERROR_NOT_SUPPORTED (a managed-save image that cannot be updated)
 *
 * Adds @hostdev to the definitions the instance's state calls for (see the
 * table at the top of usbpass-driver.h). On failure nothing was changed.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_driver_attach(UsbpassDriver *self,
		      const gchar *uuid,
		      const UsbpassHostdev *hostdev,
		      GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);
	g_return_val_if_fail(hostdev != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->attach == NULL)
		return usbpass_driver_not_supported(self, "attach USB devices", error);
	return iface->attach(self, uuid, hostdev, error);
}

/**
 * usbpass_driver_detach:
 * @self: a driver
 * @uuid: the instance
 * @hostdev: the host device, matched with usbpass_hostdev_matches()
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when the instance or the
 *   device in it is not there, #USBPASS_ERROR_DRIVER, #USBPASS_ERROR_NOT_SUPPORTED
 *
 * Removes every definition of @hostdev from the instance.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_driver_detach(UsbpassDriver *self,
		      const gchar *uuid,
		      const UsbpassHostdev *hostdev,
		      GError **error)
{
	UsbpassDriverInterface *iface;

	g_return_val_if_fail(USBPASS_IS_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);
	g_return_val_if_fail(hostdev != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	iface = USBPASS_DRIVER_GET_IFACE(self);
	if (iface->detach == NULL)
		return usbpass_driver_not_supported(self, "detach USB devices", error);
	return iface->detach(self, uuid, hostdev, error);
}

static GQuark
usbpass_driver_context_quark(void)
{
	return g_quark_from_static_string("usbpass-driver-main-context");
}

typedef struct {
	GMainContext *context;
	GThread *thread; /* the one that iterates @context */
} UsbpassDriverHome;

static void
usbpass_driver_home_free(UsbpassDriverHome *home)
{
	g_main_context_unref(home->context);
	g_thread_unref(home->thread);
	g_free(home);
}

/**
 * usbpass_driver_set_main_context:
 * @self: a driver
 * @context: the main context its signals are emitted in
 *
 * For implementations, usually with g_main_context_ref_thread_default() at
 * construction: the calling thread is taken to be the one iterating @context.
 */
void
usbpass_driver_set_main_context(UsbpassDriver *self, GMainContext *context)
{
	UsbpassDriverHome *home;

	g_return_if_fail(USBPASS_IS_DRIVER(self));
	g_return_if_fail(context != NULL);

	home = g_new0(UsbpassDriverHome, 1);
	home->context = g_main_context_ref(context);
	home->thread = g_thread_ref(g_thread_self());
	g_object_set_qdata_full(G_OBJECT(self),
				usbpass_driver_context_quark(),
				home,
				(GDestroyNotify)usbpass_driver_home_free);
}

typedef struct {
	GWeakRef driver;
	guint signal_id;
	gchar *uuid;
	gint kind;
	gboolean connected;
} UsbpassDriverEmission;

static void
usbpass_driver_emission_free(UsbpassDriverEmission *emission)
{
	g_weak_ref_clear(&emission->driver);
	g_free(emission->uuid);
	g_free(emission);
}

static gboolean
usbpass_driver_emission_cb(gpointer user_data)
{
	UsbpassDriverEmission *emission = user_data;
	g_autoptr(GObject) driver = g_weak_ref_get(&emission->driver);

	/* the driver went away while the signal waited in the queue */
	if (driver == NULL)
		return G_SOURCE_REMOVE;
	if (emission->signal_id == signals[SIGNAL_INSTANCE_EVENT])
		g_signal_emit(driver, emission->signal_id, 0, emission->uuid, emission->kind);
	else
		g_signal_emit(driver, emission->signal_id, 0, emission->connected);
	return G_SOURCE_REMOVE;
}

static void
usbpass_driver_emit(UsbpassDriver *self, UsbpassDriverEmission *emission)
{
	UsbpassDriverHome *home =
	  g_object_get_qdata(G_OBJECT(self), usbpass_driver_context_quark());
	g_autoptr(GSource) source = NULL;

	g_weak_ref_init(&emission->driver, self);
	/* not g_main_context_invoke(): a worker thread whose default context is
	 * the same would acquire it and emit in the worker when the main thread
	 * happens not to be iterating */
	if (home == NULL || home->thread == g_thread_self() ||
	    g_main_context_is_owner(home->context)) {
		usbpass_driver_emission_cb(emission);
		usbpass_driver_emission_free(emission);
		return;
	}
	source = g_idle_source_new();
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source,
			      usbpass_driver_emission_cb,
			      emission,
			      (GDestroyNotify)usbpass_driver_emission_free);
	g_source_set_static_name(source, "[usbpass] driver signal");
	g_source_attach(source, home->context);
}

/**
 * usbpass_driver_emit_instance_event:
 * @self: a driver
 * @uuid: the instance
 * @kind: what happened
 *
 * For implementations: emits #UsbpassDriver::instance-event in the driver's
 * main context, from any thread.
 */
void
usbpass_driver_emit_instance_event(UsbpassDriver *self,
				   const gchar *uuid,
				   UsbpassInstanceEventKind kind)
{
	UsbpassDriverEmission *emission;

	g_return_if_fail(USBPASS_IS_DRIVER(self));
	g_return_if_fail(uuid != NULL);
	g_return_if_fail((guint)kind < USBPASS_INSTANCE_EVENT_LAST);

	emission = g_new0(UsbpassDriverEmission, 1);
	emission->signal_id = signals[SIGNAL_INSTANCE_EVENT];
	emission->uuid = g_strdup(uuid);
	emission->kind = (gint)kind;
	usbpass_driver_emit(self, emission);
}

/**
 * usbpass_driver_emit_connection_changed:
 * @self: a driver
 * @connected: whether the connection is up now
 *
 * For implementations: emits #UsbpassDriver::connection-changed in the
 * driver's main context, from any thread.
 */
void
usbpass_driver_emit_connection_changed(UsbpassDriver *self, gboolean connected)
{
	UsbpassDriverEmission *emission;

	g_return_if_fail(USBPASS_IS_DRIVER(self));

	emission = g_new0(UsbpassDriverEmission, 1);
	emission->signal_id = signals[SIGNAL_CONNECTION_CHANGED];
	emission->connected = connected;
	usbpass_driver_emit(self, emission);
}

/**
 * usbpass_driver_merge_hostdevs:
 * @live: (nullable) (element-type UsbpassHostdev): the live definition's hostdevs
 * @persistent: (nullable) (element-type UsbpassHostdev): the persistent definition's
 *
 * For implementations of list_hostdevs: pairs each persistent entry with a
 * matching live one (usbpass_hostdev_matches(), each live entry used once).
 *
 * Returns: (transfer container) (element-type UsbpassHostdev): copies, live
 * entries first in their order, then the persistent-only ones
 */
GPtrArray *
usbpass_driver_merge_hostdevs(GPtrArray *live, GPtrArray *persistent)
{
	g_autoptr(GPtrArray) merged =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
	guint n_live = 0;

	for (guint i = 0; live != NULL && i < live->len; i++) {
		UsbpassHostdev *copy = usbpass_hostdev_copy(g_ptr_array_index(live, i));
		copy->live = TRUE;
		copy->persistent = FALSE;
		g_ptr_array_add(merged, copy);
	}
	n_live = merged->len;
	for (guint i = 0; persistent != NULL && i < persistent->len; i++) {
		const UsbpassHostdev *entry = g_ptr_array_index(persistent, i);
		UsbpassHostdev *copy = NULL;
		gboolean paired = FALSE;

		for (guint j = 0; j < n_live; j++) {
			UsbpassHostdev *candidate = g_ptr_array_index(merged, j);
			/* an owned entry is the same element in both definitions
			 * exactly when the alias is the same; never pair it with
			 * one somebody else wrote */
			if (candidate->persistent || candidate->owned != entry->owned)
				continue;
			if (candidate->owned ? g_strcmp0(candidate->alias, entry->alias) == 0
					     : usbpass_hostdev_matches(candidate, entry)) {
				candidate->persistent = TRUE;
				paired = TRUE;
				break;
			}
		}
		if (paired)
			continue;
		copy = usbpass_hostdev_copy(entry);
		copy->live = FALSE;
		copy->persistent = TRUE;
		g_ptr_array_add(merged, copy);
	}
	return g_steal_pointer(&merged);
}

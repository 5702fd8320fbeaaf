/*
 * usbpass-test-driver.c: an in-memory hypervisor for the engine's tests
 */
#define G_LOG_DOMAIN "UsbpassTestDriver"

#include "config.h"

#include <string.h>

#include "usbpass-string.h"
#include "usbpass-test-driver.h"

typedef struct {
	gchar *uuid;
	gchar *name;
	UsbpassInstanceState state;
	gboolean persistent;
	gboolean has_saved_image;
	guint next_alias;
	GPtrArray *hostdevs[USBPASS_TEST_DRIVER_SCOPE_LAST]; /* of UsbpassHostdev */
} UsbpassTestInstance;

typedef struct {
	UsbpassError code;
	gchar *message;
} UsbpassTestFailure;

typedef struct {
	gchar *uuid;
	UsbpassInstanceEventKind kind;
} UsbpassTestEvent;

struct _UsbpassTestDriver {
	GObject parent_instance;
	GMutex mutex;         /* protects everything below */
	GPtrArray *instances; /* of UsbpassTestInstance, in creation order */
	GHashTable *absent;   /* "bus:device" of devices not on the host */
	GHashTable *failures; /* method -> GQueue of UsbpassTestFailure */
	GHashTable *calls;    /* method -> count */
	gboolean connected;
	gboolean saved_image_updatable;
	guint next_uuid;
	UsbpassTestDriverHookFunc hook;
	gpointer hook_data;
	GDestroyNotify hook_destroy;
	gchar *state_path; /* written after each change; NULL: memory only */
};

static void
usbpass_test_driver_iface_init(UsbpassDriverInterface *iface);
static gboolean
usbpass_test_driver_save_locked(UsbpassTestDriver *self, GError **error);
static void
usbpass_test_driver_save_or_warn_locked(UsbpassTestDriver *self);

G_DEFINE_TYPE_WITH_CODE(UsbpassTestDriver,
			usbpass_test_driver,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(USBPASS_TYPE_DRIVER, usbpass_test_driver_iface_init))

static void
usbpass_test_instance_free(UsbpassTestInstance *instance)
{
	if (instance == NULL)
		return;
	g_free(instance->uuid);
	g_free(instance->name);
	for (guint i = 0; i < USBPASS_TEST_DRIVER_SCOPE_LAST; i++)
		g_clear_pointer(&instance->hostdevs[i], g_ptr_array_unref);
	g_free(instance);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassTestInstance, usbpass_test_instance_free)

static void
usbpass_test_failure_free(UsbpassTestFailure *failure)
{
	g_free(failure->message);
	g_free(failure);
}

static void
usbpass_test_failure_queue_free(GQueue *queue)
{
	g_queue_free_full(queue, (GDestroyNotify)usbpass_test_failure_free);
}

static void
usbpass_test_event_free(UsbpassTestEvent *event)
{
	g_free(event->uuid);
	g_free(event);
}

static gboolean
usbpass_test_instance_is_active(const UsbpassTestInstance *instance)
{
	return instance->state == USBPASS_INSTANCE_STATE_RUNNING ||
	       instance->state == USBPASS_INSTANCE_STATE_PAUSED ||
	       instance->state == USBPASS_INSTANCE_STATE_CRASHED;
}

/* all of these run with the mutex held */

static UsbpassTestInstance *
usbpass_test_driver_find_locked(UsbpassTestDriver *self, const gchar *uuid_or_name)
{
	for (guint i = 0; i < self->instances->len; i++) {
		UsbpassTestInstance *instance = g_ptr_array_index(self->instances, i);
		if (g_ascii_strcasecmp(instance->uuid, uuid_or_name) == 0 ||
		    g_strcmp0(instance->name, uuid_or_name) == 0)
			return instance;
	}
	return NULL;
}

static UsbpassTestInstance *
usbpass_test_driver_get_locked(UsbpassTestDriver *self, const gchar *uuid_or_name, GError **error)
{
	UsbpassTestInstance *instance = usbpass_test_driver_find_locked(self, uuid_or_name);
	if (instance == NULL) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_NOT_FOUND,
			    "instance '%s' not found: Domain not found",
			    uuid_or_name);
	}
	return instance;
}

static gboolean
usbpass_test_driver_is_present_locked(UsbpassTestDriver *self, const UsbpassHostdev *hostdev)
{
	g_autofree gchar *key = NULL;
	/* libvirt looks a device without an address up by vendor:product; the
	 * placeholder of an absent device has neither */
	if (hostdev->bus == 0)
		return hostdev->vendor_id != 0;
	key = g_strdup_printf("%u:%u", hostdev->bus, hostdev->device);
	return !g_hash_table_contains(self->absent, key);
}

static gboolean
usbpass_test_alias_is_user(const gchar *alias)
{
	return alias != NULL && g_str_has_prefix(alias, "ua-");
}

static UsbpassHostdev *
usbpass_test_driver_live_copy_locked(UsbpassTestDriver *self,
				     UsbpassTestInstance *instance,
				     const UsbpassHostdev *hostdev)
{
	UsbpassHostdev *copy = usbpass_hostdev_copy(hostdev);
	copy->missing = !usbpass_test_driver_is_present_locked(self, hostdev);
	/* libvirt keeps a user alias ("ua-") and names the others itself */
	if (!usbpass_test_alias_is_user(copy->alias)) {
		g_free(copy->alias);
		copy->alias = g_strdup_printf("hostdev%u", instance->next_alias++);
	}
	return copy;
}

static UsbpassHostdev *
usbpass_test_driver_config_copy(const UsbpassHostdev *hostdev)
{
	UsbpassHostdev *copy = usbpass_hostdev_copy(hostdev);
	copy->missing = FALSE;
	/* only a user alias is part of a persistent definition */
	if (!usbpass_test_alias_is_user(copy->alias))
		g_clear_pointer(&copy->alias, g_free);
	return copy;
}

static void
usbpass_test_driver_count_locked(UsbpassTestDriver *self, const gchar *method)
{
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->calls, method));
	g_hash_table_insert(self->calls, g_strdup(method), GUINT_TO_POINTER(count + 1));
}

/* counts the call and applies a queued failure or the lost connection */
static gboolean
usbpass_test_driver_enter_locked(UsbpassTestDriver *self, const gchar *method, GError **error)
{
	const gchar *keys[] = { method, g_str_has_prefix(method, "list_") ? "list" : NULL };

	usbpass_test_driver_count_locked(self, method);
	for (guint i = 0; i < G_N_ELEMENTS(keys) && keys[i] != NULL; i++) {
		GQueue *queue = g_hash_table_lookup(self->failures, keys[i]);
		UsbpassTestFailure *failure = queue != NULL ? g_queue_pop_head(queue) : NULL;
		if (failure != NULL) {
			g_set_error_literal(error, USBPASS_ERROR, failure->code, failure->message);
			usbpass_test_failure_free(failure);
			return FALSE;
		}
	}
	if (!self->connected) {
		g_set_error_literal(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_DRIVER,
		  "not connected to the test hypervisor: client socket is closed");
		return FALSE;
	}
	return TRUE;
}

static GPtrArray *
usbpass_test_hostdev_array_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
}

static UsbpassInstance *
usbpass_test_instance_to_record(const UsbpassTestInstance *instance)
{
	UsbpassInstanceState state = instance->state;
	if (state == USBPASS_INSTANCE_STATE_SHUTOFF && instance->has_saved_image)
		state = USBPASS_INSTANCE_STATE_SAVED;
	return usbpass_instance_new_full(
	  instance->uuid, instance->name, state, instance->persistent);
}

/* events are collected under the lock and emitted after it is released */
static void
usbpass_test_events_add(GPtrArray *events, const gchar *uuid, UsbpassInstanceEventKind kind)
{
	UsbpassTestEvent *event = g_new0(UsbpassTestEvent, 1);
	event->uuid = g_strdup(uuid);
	event->kind = kind;
	g_ptr_array_add(events, event);
}

static void
usbpass_test_driver_emit_events(UsbpassTestDriver *self, GPtrArray *events)
{
	for (guint i = 0; i < events->len; i++) {
		UsbpassTestEvent *event = g_ptr_array_index(events, i);
		usbpass_driver_emit_instance_event(USBPASS_DRIVER(self), event->uuid, event->kind);
	}
}

static GPtrArray *
usbpass_test_events_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_test_event_free);
}

static const gchar *
usbpass_test_driver_get_name(UsbpassDriver *driver)
{
	return "test";
}

static gboolean
usbpass_test_driver_open(UsbpassDriver *driver, GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	return usbpass_test_driver_enter_locked(self, "open", error);
}

static gboolean
usbpass_test_driver_is_connected(UsbpassDriver *driver)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	return self->connected;
}

static GPtrArray *
usbpass_test_driver_list_instances(UsbpassDriver *driver, GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	g_autoptr(GPtrArray) records = NULL;

	if (!usbpass_test_driver_enter_locked(self, "list_instances", error))
		return NULL;
	records = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_instance_unref);
	for (guint i = 0; i < self->instances->len; i++)
		g_ptr_array_add(
		  records, usbpass_test_instance_to_record(g_ptr_array_index(self->instances, i)));
	return g_steal_pointer(&records);
}

static UsbpassInstance *
usbpass_test_driver_lookup_instance(UsbpassDriver *driver,
				    const gchar *uuid_or_name,
				    GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	UsbpassTestInstance *instance;

	if (!usbpass_test_driver_enter_locked(self, "lookup_instance", error))
		return NULL;
	instance = usbpass_test_driver_get_locked(self, uuid_or_name, error);
	if (instance == NULL)
		return NULL;
	return usbpass_test_instance_to_record(instance);
}

static GPtrArray *
usbpass_test_driver_list_hostdevs(UsbpassDriver *driver, const gchar *uuid, GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	UsbpassTestInstance *instance;

	if (!usbpass_test_driver_enter_locked(self, "list_hostdevs", error))
		return NULL;
	instance = usbpass_test_driver_get_locked(self, uuid, error);
	if (instance == NULL)
		return NULL;
	return usbpass_driver_merge_hostdevs(
	  instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_LIVE],
	  instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT]);
}

static gint
usbpass_test_hostdev_find(GPtrArray *hostdevs, const UsbpassHostdev *hostdev)
{
	for (guint i = 0; i < hostdevs->len; i++) {
		if (usbpass_hostdev_matches(g_ptr_array_index(hostdevs, i), hostdev))
			return (gint)i;
	}
	return -1;
}

/* the ownership rule of usbpass-driver.h, as the libvirt driver applies it */
static gint
usbpass_test_hostdev_find_removable(GPtrArray *hostdevs, const UsbpassHostdev *hostdev)
{
	for (guint i = 0; i < hostdevs->len; i++) {
		if (usbpass_hostdev_is_removable_for(g_ptr_array_index(hostdevs, i), hostdev))
			return (gint)i;
	}
	return -1;
}

static gboolean
usbpass_test_hostdev_has_alias(GPtrArray *hostdevs, const gchar *alias)
{
	for (guint i = 0; i < hostdevs->len; i++) {
		UsbpassHostdev *entry = g_ptr_array_index(hostdevs, i);
		if (g_strcmp0(entry->alias, alias) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
usbpass_test_driver_saved_refusal(UsbpassTestInstance *instance, const gchar *verb, GError **error)
{
	g_set_error(
	  error,
	  USBPASS_ERROR,
	  USBPASS_ERROR_NOT_SUPPORTED,
	  "instance '%s' has a managed-save image whose definition cannot be changed to %s "
	  "the USB device (unsupported configuration: Target domain host device count does "
	  "not match source); start the instance or remove the image first",
	  instance->name,
	  verb);
	return FALSE;
}

/* the scopes an attach or detach touches, as usbpass-driver.h's table says */
static gboolean
usbpass_test_instance_scopes(UsbpassTestInstance *instance,
			     gboolean scopes[USBPASS_TEST_DRIVER_SCOPE_LAST])
{
	gboolean active = usbpass_test_instance_is_active(instance);
	scopes[USBPASS_TEST_DRIVER_SCOPE_LIVE] = active;
	scopes[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT] = instance->persistent;
	scopes[USBPASS_TEST_DRIVER_SCOPE_SAVED] = !active && instance->has_saved_image;
	return active;
}

static gboolean
usbpass_test_driver_run_hook(UsbpassTestDriver *self,
			     const gchar *method,
			     const gchar *uuid,
			     const UsbpassHostdev *hostdev,
			     gboolean applied,
			     GError **error)
{
	UsbpassTestDriverHookFunc hook;
	gpointer hook_data;

	g_mutex_lock(&self->mutex);
	hook = self->hook;
	hook_data = self->hook_data;
	g_mutex_unlock(&self->mutex);
	if (hook == NULL || hook(self, method, uuid, hostdev, applied, hook_data))
		return TRUE;
	if (applied) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "connection to the test hypervisor lost after '%s' was applied",
			    method);
	} else {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "the test hypervisor failed '%s' (hook)",
			    method);
	}
	return FALSE;
}

static gboolean
usbpass_test_driver_attach_locked(UsbpassTestDriver *self,
				  UsbpassTestInstance *instance,
				  const UsbpassHostdev *hostdev,
				  GError **error)
{
	gboolean scopes[USBPASS_TEST_DRIVER_SCOPE_LAST];
	g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
	g_autoptr(UsbpassHostdev) marked = usbpass_hostdev_copy(hostdev);

	/* what the libvirt driver writes: usbpass's user alias on every entry */
	g_free(marked->alias);
	marked->alias = usbpass_hostdev_make_alias(hostdev);
	marked->owned = TRUE;
	hostdev = marked;

	usbpass_test_instance_scopes(instance, scopes);
	if (scopes[USBPASS_TEST_DRIVER_SCOPE_SAVED] && !self->saved_image_updatable)
		return usbpass_test_driver_saved_refusal(instance, "add", error);
	for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
		if (scopes[scope] &&
		    usbpass_test_hostdev_has_alias(instance->hostdevs[scope], marked->alias)) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_DRIVER,
				    "cannot attach USB device %s to instance '%s': unsupported "
				    "configuration: non unique alias detected: %s",
				    shown,
				    instance->name,
				    marked->alias);
			return FALSE;
		}
	}
	if (scopes[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT] &&
	    usbpass_test_hostdev_find(instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT],
				      hostdev) >= 0) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_DRIVER,
		  "cannot attach USB device %s to instance '%s': Requested operation is not "
		  "valid: device is already in the domain configuration",
		  shown,
		  instance->name);
		return FALSE;
	}
	if (scopes[USBPASS_TEST_DRIVER_SCOPE_LIVE]) {
		if (!usbpass_test_driver_is_present_locked(self, hostdev)) {
			g_set_error(
			  error,
			  USBPASS_ERROR,
			  USBPASS_ERROR_DRIVER,
			  "cannot attach USB device %s to instance '%s': internal error: Did not "
			  "find USB device %04x:%04x bus:%u device:%u",
			  shown,
			  instance->name,
			  hostdev->vendor_id,
			  hostdev->product_id,
			  hostdev->bus,
			  hostdev->device);
			return FALSE;
		}
		/* libvirt's hostdev manager lets one running instance hold a device */
		for (guint i = 0; i < self->instances->len; i++) {
			UsbpassTestInstance *other = g_ptr_array_index(self->instances, i);
			GPtrArray *live = other->hostdevs[USBPASS_TEST_DRIVER_SCOPE_LIVE];
			gboolean busy = FALSE;
			for (guint j = 0; j < live->len; j++) {
				UsbpassHostdev *entry = g_ptr_array_index(live, j);
				if (!entry->missing && usbpass_hostdev_holds(entry, hostdev))
					busy = TRUE;
			}
			if (busy) {
				g_set_error(
				  error,
				  USBPASS_ERROR,
				  USBPASS_ERROR_DRIVER,
				  "cannot attach USB device %s to instance '%s': Requested "
				  "operation is not valid: USB device %03u:%03u is in use by "
				  "driver QEMU, domain %s",
				  shown,
				  instance->name,
				  hostdev->bus,
				  hostdev->device,
				  other->name);
				return FALSE;
			}
		}
	}

	if (scopes[USBPASS_TEST_DRIVER_SCOPE_LIVE]) {
		g_ptr_array_add(instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_LIVE],
				usbpass_test_driver_live_copy_locked(self, instance, hostdev));
	}
	for (guint scope = USBPASS_TEST_DRIVER_SCOPE_PERSISTENT;
	     scope < USBPASS_TEST_DRIVER_SCOPE_LAST;
	     scope++) {
		if (scopes[scope])
			g_ptr_array_add(instance->hostdevs[scope],
					usbpass_test_driver_config_copy(hostdev));
	}
	return TRUE;
}

static gboolean
usbpass_test_driver_attach(UsbpassDriver *driver,
			   const gchar *uuid,
			   const UsbpassHostdev *hostdev,
			   GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		if (!usbpass_test_driver_enter_locked(self, "attach", error))
			return FALSE;
		if (usbpass_test_driver_get_locked(self, uuid, error) == NULL)
			return FALSE;
		if (!usbpass_hostdev_validate(hostdev, error))
			return FALSE;
	}
	if (!usbpass_test_driver_run_hook(self, "attach", uuid, hostdev, FALSE, error))
		return FALSE;
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		/* the instance may have gone while the hook ran */
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (!usbpass_test_driver_attach_locked(self, instance, hostdev, error))
			return FALSE;
		/* the change is the hypervisor's once it is on disk: a failure
		 * here is a connection lost after the work was done */
		if (!usbpass_test_driver_save_locked(self, error))
			return FALSE;
	}
	return usbpass_test_driver_run_hook(self, "attach", uuid, hostdev, TRUE, error);
}

static gboolean
usbpass_test_driver_detach_locked(UsbpassTestDriver *self,
				  UsbpassTestInstance *instance,
				  const UsbpassHostdev *hostdev,
				  GPtrArray *events,
				  GError **error)
{
	gboolean scopes[USBPASS_TEST_DRIVER_SCOPE_LAST];
	gboolean found = FALSE;

	usbpass_test_instance_scopes(instance, scopes);
	for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
		if (scopes[scope] &&
		    usbpass_test_hostdev_find_removable(instance->hostdevs[scope], hostdev) >= 0)
			found = TRUE;
	}
	if (!found) {
		g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
		for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
			GPtrArray *entries = instance->hostdevs[scope];
			for (guint i = 0; scopes[scope] && i < entries->len; i++) {
				UsbpassHostdev *entry = g_ptr_array_index(entries, i);
				if (entry->owned || !usbpass_hostdev_holds(entry, hostdev))
					continue;
				g_set_error(error,
					    USBPASS_ERROR,
					    USBPASS_ERROR_IN_USE,
					    "USB device %s is in instance '%s' by a hostdev usbpass "
					    "did not write (no alias '" USBPASS_HOSTDEV_ALIAS_PREFIX
					    "…'); usbpass never removes it: use virsh detach-device",
					    shown,
					    instance->name);
				return FALSE;
			}
		}
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_NOT_FOUND,
			    "USB device %s is not attached to instance '%s'",
			    shown,
			    instance->name);
		return FALSE;
	}
	if (scopes[USBPASS_TEST_DRIVER_SCOPE_SAVED] && !self->saved_image_updatable &&
	    usbpass_test_hostdev_find_removable(
	      instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_SAVED], hostdev) >= 0)
		return usbpass_test_driver_saved_refusal(instance, "remove", error);

	for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
		gint idx;
		if (!scopes[scope])
			continue;
		while ((idx = usbpass_test_hostdev_find_removable(instance->hostdevs[scope],
								  hostdev)) >= 0) {
			g_ptr_array_remove_index(instance->hostdevs[scope], (guint)idx);
			if (scope == USBPASS_TEST_DRIVER_SCOPE_LIVE)
				usbpass_test_events_add(
				  events, instance->uuid, USBPASS_INSTANCE_EVENT_DEVICE_REMOVED);
		}
	}
	return TRUE;
}

static gboolean
usbpass_test_driver_detach(UsbpassDriver *driver,
			   const gchar *uuid,
			   const UsbpassHostdev *hostdev,
			   GError **error)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(driver);
	g_autoptr(GPtrArray) events = usbpass_test_events_new();

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		if (!usbpass_test_driver_enter_locked(self, "detach", error))
			return FALSE;
		if (usbpass_test_driver_get_locked(self, uuid, error) == NULL)
			return FALSE;
	}
	if (!usbpass_test_driver_run_hook(self, "detach", uuid, hostdev, FALSE, error))
		return FALSE;
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (!usbpass_test_driver_detach_locked(self, instance, hostdev, events, error))
			return FALSE;
		if (!usbpass_test_driver_save_locked(self, error))
			return FALSE;
	}
	usbpass_test_driver_emit_events(self, events);
	return usbpass_test_driver_run_hook(self, "detach", uuid, hostdev, TRUE, error);
}

static void
usbpass_test_driver_iface_init(UsbpassDriverInterface *iface)
{
	iface->get_name = usbpass_test_driver_get_name;
	iface->open = usbpass_test_driver_open;
	iface->is_connected = usbpass_test_driver_is_connected;
	iface->list_instances = usbpass_test_driver_list_instances;
	iface->lookup_instance = usbpass_test_driver_lookup_instance;
	iface->list_hostdevs = usbpass_test_driver_list_hostdevs;
	iface->attach = usbpass_test_driver_attach;
	iface->detach = usbpass_test_driver_detach;
}

/**
 * usbpass_test_driver_add_instance:
 * @self: a test driver
 * @uuid: (nullable): the UUID, or %NULL for the next deterministic one
 * @name: the name
 * @state: running, paused or shut off (persistent instances only)
 * @persistent: whether it has a persistent definition; a transient instance runs
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a taken UUID or name or
 *   an impossible state
 *
 * Defines and/or starts an instance with no hostdevs. Emits DEFINED for a
 * persistent instance, then STARTED (and SUSPENDED) for an active one.
 *
 * Returns: (transfer full): the instance
 */
UsbpassInstance *
usbpass_test_driver_add_instance(UsbpassTestDriver *self,
				 const gchar *uuid,
				 const gchar *name,
				 UsbpassInstanceState state,
				 gboolean persistent,
				 GError **error)
{
	g_autoptr(GPtrArray) events = usbpass_test_events_new();
	g_autofree gchar *uuid_new = NULL;
	UsbpassTestInstance *instance;
	UsbpassInstance *record;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), NULL);
	g_return_val_if_fail(name != NULL, NULL);

	if (uuid != NULL && !g_uuid_string_is_valid(uuid)) {
		g_set_error(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "'%s' is not a UUID", uuid);
		return NULL;
	}
	if (state != USBPASS_INSTANCE_STATE_RUNNING && state != USBPASS_INSTANCE_STATE_PAUSED &&
	    !(persistent && state == USBPASS_INSTANCE_STATE_SHUTOFF)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "a new %s instance cannot be '%s'",
			    persistent ? "persistent" : "transient",
			    usbpass_instance_state_to_string(state));
		return NULL;
	}
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		if (uuid == NULL) {
			uuid_new =
			  g_strdup_printf("00000000-0000-4000-8000-%012x", ++self->next_uuid);
			uuid = uuid_new;
		}
		if (usbpass_test_driver_find_locked(self, uuid) != NULL ||
		    usbpass_test_driver_find_locked(self, name) != NULL) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "an instance '%s' or '%s' already exists",
				    name,
				    uuid);
			return NULL;
		}
		instance = g_new0(UsbpassTestInstance, 1);
		instance->uuid = g_ascii_strdown(uuid, -1);
		instance->name = g_strdup(name);
		instance->state = state;
		instance->persistent = persistent;
		for (guint i = 0; i < USBPASS_TEST_DRIVER_SCOPE_LAST; i++)
			instance->hostdevs[i] = usbpass_test_hostdev_array_new();
		g_ptr_array_add(self->instances, instance);
		record = usbpass_test_instance_to_record(instance);
		usbpass_test_driver_save_or_warn_locked(self);
	}
	if (persistent)
		usbpass_test_events_add(events, record->uuid, USBPASS_INSTANCE_EVENT_DEFINED);
	if (state != USBPASS_INSTANCE_STATE_SHUTOFF)
		usbpass_test_events_add(events, record->uuid, USBPASS_INSTANCE_EVENT_STARTED);
	if (state == USBPASS_INSTANCE_STATE_PAUSED)
		usbpass_test_events_add(events, record->uuid, USBPASS_INSTANCE_EVENT_SUSPENDED);
	usbpass_test_driver_emit_events(self, events);
	return record;
}

/**
 * usbpass_test_driver_remove_instance:
 * @self: a test driver
 * @uuid: the instance (UUID or name)
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND
 *
 * Destroys (STOPPED) and undefines (UNDEFINED) the instance, saved image included.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_remove_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
{
	g_autoptr(GPtrArray) events = usbpass_test_events_new();

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (usbpass_test_instance_is_active(instance))
			usbpass_test_events_add(
			  events, instance->uuid, USBPASS_INSTANCE_EVENT_STOPPED);
		if (instance->persistent)
			usbpass_test_events_add(
			  events, instance->uuid, USBPASS_INSTANCE_EVENT_UNDEFINED);
		g_ptr_array_remove(self->instances, instance);
		usbpass_test_driver_save_or_warn_locked(self);
	}
	usbpass_test_driver_emit_events(self, events);
	return TRUE;
}

/**
 * usbpass_test_driver_define_instance:
 * @self: a test driver
 * @uuid: a transient instance (UUID or name)
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_INVALID_DATA when
 *   already persistent
 *
 * Gives a running transient instance a persistent definition made from its
 * live one, as virDomainDefineXML with its XML does. Emits DEFINED.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_define_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
{
	g_autoptr(GPtrArray) events = usbpass_test_events_new();

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		GPtrArray *live;
		if (instance == NULL)
			return FALSE;
		if (instance->persistent) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "instance '%s' is already persistent",
				    instance->name);
			return FALSE;
		}
		instance->persistent = TRUE;
		live = instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_LIVE];
		g_ptr_array_set_size(instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT], 0);
		for (guint i = 0; i < live->len; i++) {
			g_ptr_array_add(
			  instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT],
			  usbpass_test_driver_config_copy(g_ptr_array_index(live, i)));
		}
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_DEFINED);
		usbpass_test_driver_save_or_warn_locked(self);
	}
	usbpass_test_driver_emit_events(self, events);
	return TRUE;
}

/**
 * usbpass_test_driver_undefine_instance:
 * @self: a test driver
 * @uuid: a persistent instance (UUID or name)
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_INVALID_DATA when transient
 *
 * Drops the persistent definition and any saved image: an active instance
 * becomes transient, an inactive one is gone. Emits UNDEFINED.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_undefine_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
{
	g_autoptr(GPtrArray) events = usbpass_test_events_new();

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (!instance->persistent) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "instance '%s' is transient",
				    instance->name);
			return FALSE;
		}
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_UNDEFINED);
		if (usbpass_test_instance_is_active(instance)) {
			instance->persistent = FALSE;
			g_ptr_array_set_size(
			  instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT], 0);
		} else {
			g_ptr_array_remove(self->instances, instance);
		}
		usbpass_test_driver_save_or_warn_locked(self);
	}
	usbpass_test_driver_emit_events(self, events);
	return TRUE;
}

static gboolean
usbpass_test_driver_transition_locked(UsbpassTestDriver *self,
				      UsbpassTestInstance *instance,
				      UsbpassInstanceState state,
				      GPtrArray *events,
				      GError **error)
{
	UsbpassInstanceState from = instance->state;
	GPtrArray *live = instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_LIVE];
	GPtrArray *saved = instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_SAVED];
	gboolean active = usbpass_test_instance_is_active(instance);

	if (from == USBPASS_INSTANCE_STATE_SHUTOFF && instance->has_saved_image)
		from = USBPASS_INSTANCE_STATE_SAVED;
	if (from == state)
		return TRUE;

	/* start or restore */
	if (!active &&
	    (state == USBPASS_INSTANCE_STATE_RUNNING || state == USBPASS_INSTANCE_STATE_PAUSED)) {
		GPtrArray *source = instance->has_saved_image
				      ? saved
				      : instance->hostdevs[USBPASS_TEST_DRIVER_SCOPE_PERSISTENT];
		g_ptr_array_set_size(live, 0);
		for (guint i = 0; i < source->len; i++) {
			g_ptr_array_add(live,
					usbpass_test_driver_live_copy_locked(
					  self, instance, g_ptr_array_index(source, i)));
		}
		g_ptr_array_set_size(saved, 0);
		instance->has_saved_image = FALSE;
		instance->state = state;
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_STARTED);
		if (state == USBPASS_INSTANCE_STATE_PAUSED)
			usbpass_test_events_add(
			  events, instance->uuid, USBPASS_INSTANCE_EVENT_SUSPENDED);
		return TRUE;
	}
	/* managedsave-remove */
	if (from == USBPASS_INSTANCE_STATE_SAVED && state == USBPASS_INSTANCE_STATE_SHUTOFF) {
		g_ptr_array_set_size(saved, 0);
		instance->has_saved_image = FALSE;
		return TRUE;
	}
	if (active && state == USBPASS_INSTANCE_STATE_SAVED && !instance->persistent) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_DRIVER,
		  "Requested operation is not valid: cannot do managed save for transient domain");
		return FALSE;
	}
	if (active &&
	    (state == USBPASS_INSTANCE_STATE_SHUTOFF || state == USBPASS_INSTANCE_STATE_SAVED)) {
		if (state == USBPASS_INSTANCE_STATE_SAVED) {
			g_ptr_array_set_size(saved, 0);
			for (guint i = 0; i < live->len; i++) {
				g_ptr_array_add(
				  saved,
				  usbpass_test_driver_config_copy(g_ptr_array_index(live, i)));
			}
			instance->has_saved_image = TRUE;
		}
		g_ptr_array_set_size(live, 0);
		instance->state = USBPASS_INSTANCE_STATE_SHUTOFF;
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_STOPPED);
		/* a transient instance exists only while it runs */
		if (!instance->persistent)
			g_ptr_array_remove(self->instances, instance);
		return TRUE;
	}
	if (from == USBPASS_INSTANCE_STATE_RUNNING && state == USBPASS_INSTANCE_STATE_PAUSED) {
		instance->state = state;
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_SUSPENDED);
		return TRUE;
	}
	if (from == USBPASS_INSTANCE_STATE_PAUSED && state == USBPASS_INSTANCE_STATE_RUNNING) {
		instance->state = state;
		usbpass_test_events_add(events, instance->uuid, USBPASS_INSTANCE_EVENT_RESUMED);
		return TRUE;
	}
	/* the guest crashed and on_crash=preserve keeps QEMU: libvirt has no
	 * usbpass event for it */
	if (active && state == USBPASS_INSTANCE_STATE_CRASHED) {
		instance->state = state;
		return TRUE;
	}
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_INVALID_DATA,
		    "instance '%s' cannot go from '%s' to '%s'",
		    instance->name,
		    usbpass_instance_state_to_string(from),
		    usbpass_instance_state_to_string(state));
	return FALSE;
}

/**
 * usbpass_test_driver_set_state:
 * @self: a test driver
 * @uuid: the instance (UUID or name)
 * @state: the state to move to
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_INVALID_DATA for
 *   a move libvirt cannot make, #USBPASS_ERROR_DRIVER for a managed save of a
 *   transient instance
 *
 * Moves the instance as virsh would: start (the live hostdevs become the
 * persistent ones, absent devices missing), restore from the saved image,
 * stop (live hostdevs dropped; a transient instance is gone), managed save
 * (the saved image gets the live hostdevs), suspend, resume, crash, or
 * SAVED -> SHUTOFF (managedsave-remove). Emits STARTED, STOPPED, SUSPENDED,
 * RESUMED as libvirt does.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_set_state(UsbpassTestDriver *self,
			      const gchar *uuid,
			      UsbpassInstanceState state,
			      GError **error)
{
	g_autoptr(GPtrArray) events = usbpass_test_events_new();

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (!usbpass_test_driver_transition_locked(self, instance, state, events, error))
			return FALSE;
		usbpass_test_driver_save_or_warn_locked(self);
	}
	usbpass_test_driver_emit_events(self, events);
	return TRUE;
}

/**
 * usbpass_test_driver_reboot_instance:
 * @self: a test driver
 * @uuid: an active instance (UUID or name)
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_INVALID_DATA when not active
 *
 * A guest reboot: the live definition stays. Emits REBOOTED.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_reboot_instance(UsbpassTestDriver *self, const gchar *uuid, GError **error)
{
	g_autofree gchar *uuid_found = NULL;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		UsbpassTestInstance *instance = usbpass_test_driver_get_locked(self, uuid, error);
		if (instance == NULL)
			return FALSE;
		if (!usbpass_test_instance_is_active(instance)) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "instance '%s' is not running",
				    instance->name);
			return FALSE;
		}
		uuid_found = g_strdup(instance->uuid);
	}
	usbpass_driver_emit_instance_event(
	  USBPASS_DRIVER(self), uuid_found, USBPASS_INSTANCE_EVENT_REBOOTED);
	return TRUE;
}

/**
 * usbpass_test_driver_add_hostdev:
 * @self: a test driver
 * @uuid: the instance (UUID or name)
 * @scope: the definition to change
 * @hostdev: the device; in the live scope its missing flag and alias are kept
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND, #USBPASS_ERROR_INVALID_DATA when
 *   the instance has no such definition
 *
 * Changes a definition behind the driver's back, as `virsh attach-device` by
 * hand would. No flag rules, no presence check, no hook, not counted.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_add_hostdev(UsbpassTestDriver *self,
				const gchar *uuid,
				UsbpassTestDriverScope scope,
				const UsbpassHostdev *hostdev,
				GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	UsbpassTestInstance *instance;
	gboolean has_scope = FALSE;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(uuid != NULL, FALSE);
	g_return_val_if_fail(scope < USBPASS_TEST_DRIVER_SCOPE_LAST, FALSE);
	g_return_val_if_fail(hostdev != NULL, FALSE);

	locker = g_mutex_locker_new(&self->mutex);
	instance = usbpass_test_driver_get_locked(self, uuid, error);
	if (instance == NULL)
		return FALSE;
	if (scope == USBPASS_TEST_DRIVER_SCOPE_LIVE)
		has_scope = usbpass_test_instance_is_active(instance);
	else if (scope == USBPASS_TEST_DRIVER_SCOPE_PERSISTENT)
		has_scope = instance->persistent;
	else
		has_scope = instance->has_saved_image;
	if (!has_scope) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "instance '%s' has no %s definition",
			    instance->name,
			    scope == USBPASS_TEST_DRIVER_SCOPE_LIVE         ? "live"
			    : scope == USBPASS_TEST_DRIVER_SCOPE_PERSISTENT ? "persistent"
									    : "saved");
		return FALSE;
	}
	if (scope == USBPASS_TEST_DRIVER_SCOPE_LIVE) {
		UsbpassHostdev *copy = usbpass_hostdev_copy(hostdev);
		if (copy->alias == NULL)
			copy->alias = g_strdup_printf("hostdev%u", instance->next_alias++);
		g_ptr_array_add(instance->hostdevs[scope], copy);
	} else {
		g_ptr_array_add(instance->hostdevs[scope],
				usbpass_test_driver_config_copy(hostdev));
	}
	return usbpass_test_driver_save_locked(self, error);
}

/**
 * usbpass_test_driver_get_hostdevs:
 * @self: a test driver
 * @uuid: the instance (UUID or name)
 * @scope: which definition
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND
 *
 * Not counted as a call; an instance without that definition has none.
 *
 * Returns: (transfer container) (element-type UsbpassHostdev): copies of the
 * entries of one definition, live and persistent flags cleared
 */
GPtrArray *
usbpass_test_driver_get_hostdevs(UsbpassTestDriver *self,
				 const gchar *uuid,
				 UsbpassTestDriverScope scope,
				 GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	UsbpassTestInstance *instance;
	GPtrArray *copies;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), NULL);
	g_return_val_if_fail(uuid != NULL, NULL);
	g_return_val_if_fail(scope < USBPASS_TEST_DRIVER_SCOPE_LAST, NULL);

	locker = g_mutex_locker_new(&self->mutex);
	instance = usbpass_test_driver_get_locked(self, uuid, error);
	if (instance == NULL)
		return NULL;
	copies = usbpass_test_hostdev_array_new();
	for (guint i = 0; i < instance->hostdevs[scope]->len; i++) {
		UsbpassHostdev *copy =
		  usbpass_hostdev_copy(g_ptr_array_index(instance->hostdevs[scope], i));
		copy->live = FALSE;
		copy->persistent = FALSE;
		g_ptr_array_add(copies, copy);
	}
	return copies;
}

/**
 * usbpass_test_driver_set_device_present:
 * @self: a test driver
 * @bus: the device's bus number
 * @device: its device number
 * @present: whether the host has it now
 *
 * Every device is present until marked otherwise. A live attach of an absent
 * device fails; an instance started with it gets it marked missing.
 */
void
usbpass_test_driver_set_device_present(UsbpassTestDriver *self,
				       guint bus,
				       guint device,
				       gboolean present)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree gchar *key = NULL;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));

	locker = g_mutex_locker_new(&self->mutex);
	key = g_strdup_printf("%u:%u", bus, device);
	if (present)
		g_hash_table_remove(self->absent, key);
	else
		g_hash_table_add(self->absent, g_steal_pointer(&key));
	usbpass_test_driver_save_or_warn_locked(self);
}

/**
 * usbpass_test_driver_set_saved_image_updatable:
 * @self: a test driver
 * @updatable: whether attach and detach may change a managed-save image
 *
 * %FALSE by default, as with libvirt 9, whose ABI check refuses a saved
 * definition with another host device count: they fail with
 * #USBPASS_ERROR_NOT_SUPPORTED.
 */
void
usbpass_test_driver_set_saved_image_updatable(UsbpassTestDriver *self, gboolean updatable)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));

	locker = g_mutex_locker_new(&self->mutex);
	self->saved_image_updatable = updatable;
}

/**
 * usbpass_test_driver_fail_next:
 * @self: a test driver
 * @method: the method whose next call fails (see the header)
 * @code: the #UsbpassError
 * @message: the message
 *
 * Queues one failure; several queue up in order.
 */
void
usbpass_test_driver_fail_next(UsbpassTestDriver *self,
			      const gchar *method,
			      UsbpassError code,
			      const gchar *message)
{
	g_autoptr(GMutexLocker) locker = NULL;
	UsbpassTestFailure *failure;
	GQueue *queue;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));
	g_return_if_fail(method != NULL);
	g_return_if_fail(message != NULL);

	locker = g_mutex_locker_new(&self->mutex);
	queue = g_hash_table_lookup(self->failures, method);
	if (queue == NULL) {
		queue = g_queue_new();
		g_hash_table_insert(self->failures, g_strdup(method), queue);
	}
	failure = g_new0(UsbpassTestFailure, 1);
	failure->code = code;
	failure->message = g_strdup(message);
	g_queue_push_tail(queue, failure);
}

/**
 * usbpass_test_driver_set_hook:
 * @self: a test driver
 * @func: (nullable): the hook, or %NULL to remove it
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the hook is replaced or the driver goes
 *
 * Set it while no attach or detach is in flight.
 */
void
usbpass_test_driver_set_hook(UsbpassTestDriver *self,
			     UsbpassTestDriverHookFunc func,
			     gpointer user_data,
			     GDestroyNotify destroy)
{
	gpointer old_data;
	GDestroyNotify old_destroy;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));

	g_mutex_lock(&self->mutex);
	old_data = self->hook_data;
	old_destroy = self->hook_destroy;
	self->hook = func;
	self->hook_data = user_data;
	self->hook_destroy = destroy;
	g_mutex_unlock(&self->mutex);
	if (old_destroy != NULL)
		old_destroy(old_data);
}

/**
 * usbpass_test_driver_set_connected:
 * @self: a test driver
 * @connected: whether the hypervisor connection is up
 *
 * While down, every method fails with #USBPASS_ERROR_DRIVER. A change emits
 * #UsbpassDriver::connection-changed.
 */
void
usbpass_test_driver_set_connected(UsbpassTestDriver *self, gboolean connected)
{
	gboolean changed;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));

	g_mutex_lock(&self->mutex);
	changed = self->connected != connected;
	self->connected = connected;
	g_mutex_unlock(&self->mutex);
	if (changed)
		usbpass_driver_emit_connection_changed(USBPASS_DRIVER(self), connected);
}

/**
 * usbpass_test_driver_emit_event:
 * @self: a test driver
 * @uuid: an instance UUID, known or not
 * @kind: the event
 *
 * Emits #UsbpassDriver::instance-event without changing anything.
 */
void
usbpass_test_driver_emit_event(UsbpassTestDriver *self,
			       const gchar *uuid,
			       UsbpassInstanceEventKind kind)
{
	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));
	g_return_if_fail(uuid != NULL);
	usbpass_driver_emit_instance_event(USBPASS_DRIVER(self), uuid, kind);
}

/**
 * usbpass_test_driver_get_call_count:
 * @self: a test driver
 * @method: a method name (see the header)
 *
 * Returns: how many calls of @method were made, failed ones included
 */
guint
usbpass_test_driver_get_call_count(UsbpassTestDriver *self, const gchar *method)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), 0);
	g_return_val_if_fail(method != NULL, 0);

	locker = g_mutex_locker_new(&self->mutex);
	return GPOINTER_TO_UINT(g_hash_table_lookup(self->calls, method));
}

/**
 * usbpass_test_driver_reset_call_counts:
 * @self: a test driver
 */
void
usbpass_test_driver_reset_call_counts(UsbpassTestDriver *self)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_if_fail(USBPASS_IS_TEST_DRIVER(self));

	locker = g_mutex_locker_new(&self->mutex);
	g_hash_table_remove_all(self->calls);
}

/* ---- the durable state file ---------------------------------------------- */

#define USBPASS_TEST_DRIVER_STATE_GROUP	  "test-driver"
#define USBPASS_TEST_DRIVER_INSTANCE_GROUP "instance "

static const gchar *const usbpass_test_driver_scope_keys[USBPASS_TEST_DRIVER_SCOPE_LAST] = {
	"live-hostdevs",
	"persistent-hostdevs",
	"saved-hostdevs",
};

/* "VENDOR:PRODUCT:BUS:DEVICE:MISSING:ALIAS", hex ids, an empty alias for none */
static gchar *
usbpass_test_hostdev_to_state(const UsbpassHostdev *hostdev)
{
	return g_strdup_printf("%04x:%04x:%u:%u:%d:%s",
			       hostdev->vendor_id,
			       hostdev->product_id,
			       hostdev->bus,
			       hostdev->device,
			       hostdev->missing ? 1 : 0,
			       hostdev->alias != NULL ? hostdev->alias : "");
}

static UsbpassHostdev *
usbpass_test_hostdev_from_state(const gchar *str, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(str, ":", 6);
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	guint64 values[5] = { 0 };
	static const struct {
		guint base;
		guint64 max;
	} fields[] = { { 16, G_MAXUINT16 }, { 16, G_MAXUINT16 }, { 10, 255 }, { 10, 127 }, { 10, 1 } };

	if (g_strv_length(parts) != 6) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "hostdev '%s' is not VENDOR:PRODUCT:BUS:DEVICE:MISSING:ALIAS",
			    str);
		return NULL;
	}
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (!usbpass_string_parse_uint(
		      parts[i], fields[i].base, 0, fields[i].max, &values[i], error)) {
			g_prefix_error(error, "hostdev '%s': ", str);
			return NULL;
		}
	}
	hostdev->vendor_id = (guint16)values[0];
	hostdev->product_id = (guint16)values[1];
	hostdev->bus = (guint)values[2];
	hostdev->device = (guint)values[3];
	hostdev->missing = values[4] != 0;
	if (parts[5][0] != '\0')
		hostdev->alias = g_strdup(parts[5]);
	/* as libvirt's definitions: what carries usbpass's mark is usbpass's */
	hostdev->owned = g_str_has_prefix(parts[5], USBPASS_HOSTDEV_ALIAS_PREFIX);
	return g_steal_pointer(&hostdev);
}

static GKeyFile *
usbpass_test_driver_to_keyfile_locked(UsbpassTestDriver *self)
{
	g_autoptr(GKeyFile) keyfile = g_key_file_new();
	g_autoptr(GPtrArray) absent = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key = NULL;

	g_key_file_set_uint64(
	  keyfile, USBPASS_TEST_DRIVER_STATE_GROUP, "next-uuid", self->next_uuid);
	g_key_file_set_boolean(keyfile,
			       USBPASS_TEST_DRIVER_STATE_GROUP,
			       "saved-image-updatable",
			       self->saved_image_updatable);
	g_hash_table_iter_init(&iter, self->absent);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(absent, key);
	g_ptr_array_sort(absent, (GCompareFunc)g_strcmp0);
	g_key_file_set_string_list(keyfile,
				   USBPASS_TEST_DRIVER_STATE_GROUP,
				   "absent",
				   (const gchar *const *)absent->pdata,
				   absent->len);
	for (guint i = 0; i < self->instances->len; i++) {
		UsbpassTestInstance *instance = g_ptr_array_index(self->instances, i);
		g_autofree gchar *group =
		  g_strconcat(USBPASS_TEST_DRIVER_INSTANCE_GROUP, instance->uuid, NULL);

		g_key_file_set_string(keyfile, group, "name", instance->name);
		g_key_file_set_string(
		  keyfile, group, "state", usbpass_instance_state_to_string(instance->state));
		g_key_file_set_boolean(keyfile, group, "persistent", instance->persistent);
		g_key_file_set_boolean(
		  keyfile, group, "has-saved-image", instance->has_saved_image);
		g_key_file_set_uint64(keyfile, group, "next-alias", instance->next_alias);
		for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
			GPtrArray *hostdevs = instance->hostdevs[scope];
			g_autoptr(GPtrArray) strs = g_ptr_array_new_with_free_func(g_free);
			for (guint j = 0; j < hostdevs->len; j++)
				g_ptr_array_add(strs,
						usbpass_test_hostdev_to_state(
						  g_ptr_array_index(hostdevs, j)));
			g_key_file_set_string_list(keyfile,
						   group,
						   usbpass_test_driver_scope_keys[scope],
						   (const gchar *const *)strs->pdata,
						   strs->len);
		}
	}
	return g_steal_pointer(&keyfile);
}

/* atomic (g_file_set_contents renames a complete file over the old one), so a
 * process killed at any point leaves the state before or after the change */
static gboolean
usbpass_test_driver_save_locked(UsbpassTestDriver *self, GError **error)
{
	g_autoptr(GKeyFile) keyfile = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *data = NULL;
	gsize length = 0;

	if (self->state_path == NULL)
		return TRUE;
	keyfile = usbpass_test_driver_to_keyfile_locked(self);
	data = g_key_file_to_data(keyfile, &length, NULL);
	if (!g_file_set_contents(self->state_path, data, (gssize)length, &error_local)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "the test hypervisor cannot write its state '%s': %s",
			    self->state_path,
			    error_local->message);
		return FALSE;
	}
	return TRUE;
}

/* for the changes the test makes, which have no error to return */
static void
usbpass_test_driver_save_or_warn_locked(UsbpassTestDriver *self)
{
	g_autoptr(GError) error_local = NULL;
	if (!usbpass_test_driver_save_locked(self, &error_local))
		g_warning("%s, ignoring", error_local->message);
}

static gboolean
usbpass_test_driver_state_error(GError **error, const gchar *group, GError *error_local)
{
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_INVALID_DATA,
		    "[%s]: %s",
		    group,
		    error_local->message);
	return FALSE;
}

static UsbpassTestInstance *
usbpass_test_instance_from_keyfile(GKeyFile *keyfile, const gchar *group, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *state_str = NULL;
	g_autofree gchar *name = NULL;
	const gchar *uuid = group + strlen(USBPASS_TEST_DRIVER_INSTANCE_GROUP);
	UsbpassInstanceState state;
	g_autoptr(UsbpassTestInstance) instance = g_new0(UsbpassTestInstance, 1);
	gboolean persistent;
	gboolean has_saved_image = FALSE;
	guint64 next_alias = 0;

	if (!g_uuid_string_is_valid(uuid)) {
		g_set_error(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "[%s]: not a UUID", group);
		return NULL;
	}
	name = g_key_file_get_string(keyfile, group, "name", &error_local);
	if (name == NULL) {
		usbpass_test_driver_state_error(error, group, error_local);
		return NULL;
	}
	state_str = g_key_file_get_string(keyfile, group, "state", &error_local);
	if (state_str == NULL) {
		usbpass_test_driver_state_error(error, group, error_local);
		return NULL;
	}
	state = usbpass_instance_state_from_string(state_str);
	if (state == USBPASS_INSTANCE_STATE_UNKNOWN || state == USBPASS_INSTANCE_STATE_SAVED) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "[%s]: state '%s' is not running, paused, shutoff or crashed",
			    group,
			    state_str);
		return NULL;
	}
	persistent = g_key_file_get_boolean(keyfile, group, "persistent", &error_local);
	if (error_local == NULL)
		has_saved_image =
		  g_key_file_get_boolean(keyfile, group, "has-saved-image", &error_local);
	if (error_local == NULL)
		next_alias = g_key_file_get_uint64(keyfile, group, "next-alias", &error_local);
	if (error_local != NULL) {
		usbpass_test_driver_state_error(error, group, error_local);
		return NULL;
	}
	for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
		g_auto(GStrv) strs = g_key_file_get_string_list(
		  keyfile, group, usbpass_test_driver_scope_keys[scope], NULL, &error_local);
		if (strs == NULL) {
			usbpass_test_driver_state_error(error, group, error_local);
			return NULL;
		}
		instance->hostdevs[scope] = usbpass_test_hostdev_array_new();
		for (guint i = 0; strs[i] != NULL; i++) {
			UsbpassHostdev *hostdev = usbpass_test_hostdev_from_state(strs[i], error);
			if (hostdev == NULL) {
				g_prefix_error(error, "[%s]: ", group);
				return NULL;
			}
			g_ptr_array_add(instance->hostdevs[scope], hostdev);
		}
	}

	instance->uuid = g_ascii_strdown(uuid, -1);
	instance->name = g_steal_pointer(&name);
	instance->state = state;
	instance->persistent = persistent;
	instance->has_saved_image = has_saved_image;
	instance->next_alias = (guint)MIN(next_alias, G_MAXUINT);
	return g_steal_pointer(&instance);
}

/* replaces instances, absent devices and counters with the file's; @self is
 * unchanged on failure */
static gboolean
usbpass_test_driver_load_locked(UsbpassTestDriver *self,
				const gchar *path,
				const gchar *data,
				gsize length,
				GError **error)
{
	g_autoptr(GKeyFile) keyfile = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) instances =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_test_instance_free);
	g_autoptr(GHashTable) absent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_auto(GStrv) groups = NULL;
	g_auto(GStrv) absent_strs = NULL;
	guint64 next_uuid = 0;
	gboolean updatable = FALSE;

	if (g_key_file_load_from_data(keyfile, data, length, G_KEY_FILE_NONE, &error_local))
		next_uuid = g_key_file_get_uint64(
		  keyfile, USBPASS_TEST_DRIVER_STATE_GROUP, "next-uuid", &error_local);
	if (error_local == NULL)
		updatable = g_key_file_get_boolean(
		  keyfile, USBPASS_TEST_DRIVER_STATE_GROUP, "saved-image-updatable", &error_local);
	if (error_local == NULL)
		absent_strs = g_key_file_get_string_list(
		  keyfile, USBPASS_TEST_DRIVER_STATE_GROUP, "absent", NULL, &error_local);
	if (error_local != NULL) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "test hypervisor state '%s': %s",
			    path,
			    error_local->message);
		return FALSE;
	}
	for (guint i = 0; absent_strs[i] != NULL; i++)
		g_hash_table_add(absent, g_strdup(absent_strs[i]));
	groups = g_key_file_get_groups(keyfile, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		UsbpassTestInstance *instance;
		if (g_strcmp0(groups[i], USBPASS_TEST_DRIVER_STATE_GROUP) == 0)
			continue;
		if (!g_str_has_prefix(groups[i], USBPASS_TEST_DRIVER_INSTANCE_GROUP)) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "test hypervisor state '%s': unknown group [%s]",
				    path,
				    groups[i]);
			return FALSE;
		}
		instance = usbpass_test_instance_from_keyfile(keyfile, groups[i], error);
		if (instance == NULL) {
			g_prefix_error(error, "test hypervisor state '%s': ", path);
			return FALSE;
		}
		g_ptr_array_add(instances, instance);
	}

	g_ptr_array_unref(self->instances);
	self->instances = g_steal_pointer(&instances);
	g_hash_table_unref(self->absent);
	self->absent = g_steal_pointer(&absent);
	self->next_uuid = (guint)MIN(next_uuid, G_MAXUINT);
	self->saved_image_updatable = updatable;
	return TRUE;
}

/**
 * usbpass_test_driver_set_state_file:
 * @self: a test driver
 * @path: a file; its directory must exist
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a file that does not
 *   parse, #USBPASS_ERROR_DRIVER when it cannot be read or written
 *
 * Makes the "hypervisor" durable: when @path exists, its instances, their
 * live, persistent and saved hostdevs and the absent devices replace the
 * driver's (no events are emitted: the state is what the hypervisor had all
 * along); otherwise the driver's state is written to it. From then on every
 * change is written atomically before the call that made it returns, and
 * before the hook's "applied" call, so a process killed at any point leaves
 * the state before or after each change. Set it before the driver is used.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_test_driver_set_state_file(UsbpassTestDriver *self, const gchar *path, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *data = NULL;
	gsize length = 0;

	g_return_val_if_fail(USBPASS_IS_TEST_DRIVER(self), FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	locker = g_mutex_locker_new(&self->mutex);
	if (g_file_get_contents(path, &data, &length, &error_local)) {
		if (!usbpass_test_driver_load_locked(self, path, data, length, error))
			return FALSE;
	} else if (!g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "cannot read the test hypervisor state: %s",
			    error_local->message);
		return FALSE;
	}
	g_free(self->state_path);
	self->state_path = g_strdup(path);
	if (data == NULL && !usbpass_test_driver_save_locked(self, error)) {
		g_clear_pointer(&self->state_path, g_free);
		return FALSE;
	}
	return TRUE;
}

static void
usbpass_test_driver_finalize(GObject *object)
{
	UsbpassTestDriver *self = USBPASS_TEST_DRIVER(object);

	if (self->hook_destroy != NULL)
		self->hook_destroy(self->hook_data);
	g_ptr_array_unref(self->instances);
	g_hash_table_unref(self->absent);
	g_hash_table_unref(self->failures);
	g_hash_table_unref(self->calls);
	g_free(self->state_path);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(usbpass_test_driver_parent_class)->finalize(object);
}

static void
usbpass_test_driver_class_init(UsbpassTestDriverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_test_driver_finalize;
}

static void
usbpass_test_driver_init(UsbpassTestDriver *self)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();

	g_mutex_init(&self->mutex);
	self->instances =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_test_instance_free);
	self->absent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->failures = g_hash_table_new_full(
	  g_str_hash, g_str_equal, g_free, (GDestroyNotify)usbpass_test_failure_queue_free);
	self->calls = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->connected = TRUE;
	usbpass_driver_set_main_context(USBPASS_DRIVER(self), context);
}

/**
 * usbpass_test_driver_new:
 *
 * Returns: (transfer full): a connected test driver with no instances, whose
 * signals are emitted in the calling thread's default main context
 */
UsbpassTestDriver *
usbpass_test_driver_new(void)
{
	return g_object_new(USBPASS_TYPE_TEST_DRIVER, NULL);
}

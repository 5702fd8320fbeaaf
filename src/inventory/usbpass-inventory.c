/*
 * usbpass-inventory.c: the live set of USB devices of this host
 */
#define G_LOG_DOMAIN "UsbpassInventory"

#include "config.h"

#include "usbpass-device-reader.h"
#include "usbpass-error.h"
#include "usbpass-identity.h"
#include "usbpass-inventory-private.h"
#include "usbpass-names.h"
#include "usbpass-string.h"

#include <string.h>

/* uevents queued beyond this between two idle callbacks trigger one full
 * re-read instead: a flood must not grow memory without bound */
#define PENDING_MAX 4096
/* removed identities remembered to recognise a re-plug */
#define REMOVED_MAX 256

typedef struct {
	gchar *action;
	gchar *key; /* syspath of the usb_device concerned */
	gboolean is_device;
	gint64 usec;
} UsbpassPendingUevent;

typedef struct {
	gboolean remove;
	gint64 usec;
} UsbpassPendingState;

typedef struct {
	UsbpassDevice *old; /* NULL: not in the set before */
	UsbpassDevice *new; /* NULL: not in the set after */
	gint64 usec;
} UsbpassChange;

typedef struct {
	guint bus;
	guint device;
	gchar *port;
} UsbpassRemoved;

struct _UsbpassInventory {
	GObject parent_instance;
	GMainContext *context;
	gboolean testing;
	GUdevClient *client;  /* reads */
	GUdevClient *monitor; /* uevents, NULL until start_monitor() */
	UsbpassNames *names;
	UsbpassDeviceReader *reader;
	GPtrArray *sorted;  /* of UsbpassDevice (owned), by bus then port */
	GHashTable *by_key; /* syspath (else port) -> UsbpassDevice (borrowed) */
	GHashTable *by_id;  /* identity -> UsbpassDevice (borrowed) */
	GPtrArray *pending; /* of UsbpassPendingUevent */
	gboolean pending_overflow;
	GSource *idle_source;
	GHashTable *removed;  /* identity -> UsbpassRemoved */
	GQueue removed_order; /* identities, oldest first (owned) */
	guint64 generation;
};

G_DEFINE_TYPE(UsbpassInventory, usbpass_inventory, G_TYPE_OBJECT)

enum { SIGNAL_EVENT, SIGNAL_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

/* --- events --- */

static const gchar *event_kind_names[] = { "added", "removed", "changed" };
G_STATIC_ASSERT(G_N_ELEMENTS(event_kind_names) == USBPASS_INVENTORY_EVENT_LAST);

/**
 * usbpass_inventory_event_kind_to_string:
 * @kind: an event kind
 *
 * Returns: "added", "removed" or "changed"; "unknown" for anything else
 */
const gchar *
usbpass_inventory_event_kind_to_string(UsbpassInventoryEventKind kind)
{
	if ((guint)kind >= USBPASS_INVENTORY_EVENT_LAST)
		return "unknown";
	return event_kind_names[kind];
}

/**
 * usbpass_inventory_event_kind_from_string:
 * @str: "added", "removed" or "changed"
 *
 * Returns: the kind, or %USBPASS_INVENTORY_EVENT_LAST when @str is none of them
 */
UsbpassInventoryEventKind
usbpass_inventory_event_kind_from_string(const gchar *str)
{
	g_return_val_if_fail(str != NULL, USBPASS_INVENTORY_EVENT_LAST);
	for (guint i = 0; i < USBPASS_INVENTORY_EVENT_LAST; i++) {
		if (g_strcmp0(str, event_kind_names[i]) == 0)
			return (UsbpassInventoryEventKind)i;
	}
	return USBPASS_INVENTORY_EVENT_LAST;
}

/**
 * usbpass_inventory_event_new:
 * @kind: what happened
 * @device: the device (a reference is taken)
 *
 * Returns: (transfer full): an event, not re-plugged
 */
UsbpassInventoryEvent *
usbpass_inventory_event_new(UsbpassInventoryEventKind kind, UsbpassDevice *device)
{
	UsbpassInventoryEvent *self;
	g_return_val_if_fail(device != NULL, NULL);
	self = g_new0(UsbpassInventoryEvent, 1);
	self->kind = kind;
	self->device = usbpass_device_ref(device);
	return self;
}

/**
 * usbpass_inventory_event_copy:
 * @self: an event
 *
 * Returns: (transfer full): a copy sharing the (immutable) device record
 */
UsbpassInventoryEvent *
usbpass_inventory_event_copy(const UsbpassInventoryEvent *self)
{
	UsbpassInventoryEvent *copy;
	g_return_val_if_fail(self != NULL, NULL);
	copy = g_new0(UsbpassInventoryEvent, 1);
	copy->kind = self->kind;
	copy->device = self->device != NULL ? usbpass_device_ref(self->device) : NULL;
	copy->replugged = self->replugged;
	copy->previous_bus = self->previous_bus;
	copy->previous_device = self->previous_device;
	copy->previous_port = g_strdup(self->previous_port);
	copy->uevent_usec = self->uevent_usec;
	return copy;
}

/**
 * usbpass_inventory_event_free:
 * @self: (nullable): an event
 */
void
usbpass_inventory_event_free(UsbpassInventoryEvent *self)
{
	if (self == NULL)
		return;
	usbpass_device_unref(self->device);
	g_free(self->previous_port);
	g_free(self);
}

G_DEFINE_BOXED_TYPE(UsbpassInventoryEvent,
                    usbpass_inventory_event,
                    usbpass_inventory_event_copy,
                    usbpass_inventory_event_free)

/* --- small records --- */

static void
usbpass_pending_uevent_free(UsbpassPendingUevent *self)
{
	g_free(self->action);
	g_free(self->key);
	g_free(self);
}

static void
usbpass_change_free(UsbpassChange *self)
{
	usbpass_device_unref(self->old);
	usbpass_device_unref(self->new);
	g_free(self);
}

static void
usbpass_removed_free(UsbpassRemoved *self)
{
	g_free(self->port);
	g_free(self);
}

static const gchar *
usbpass_inventory_key(const UsbpassDevice *device)
{
	return device->syspath != NULL ? device->syspath : device->port;
}

static guint
usbpass_vid_pid(const UsbpassDevice *device)
{
	return ((guint)device->vendor_id << 16) | device->product_id;
}

/* --- the sorted set --- */

/* the first index whose device does not sort before @device */
static guint
usbpass_inventory_lower_bound(UsbpassInventory *self, const UsbpassDevice *device)
{
	guint low = 0;
	guint high = self->sorted->len;
	while (low < high) {
		guint mid = low + (high - low) / 2;
		if (usbpass_device_compare(g_ptr_array_index(self->sorted, mid), device) < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

static gboolean
usbpass_inventory_find_index(UsbpassInventory *self, const UsbpassDevice *device, guint *index)
{
	guint i = usbpass_inventory_lower_bound(self, device);
	if (i < self->sorted->len && g_ptr_array_index(self->sorted, i) == device) {
		*index = i;
		return TRUE;
	}
	/* records that compare equal (no port) are not ordered among themselves */
	return g_ptr_array_find(self->sorted, device, index);
}

static void
usbpass_inventory_remove_record(UsbpassInventory *self, UsbpassDevice *device)
{
	guint index = 0;
	if (device->id != NULL && g_hash_table_lookup(self->by_id, device->id) == device)
		g_hash_table_remove(self->by_id, device->id);
	if (g_hash_table_lookup(self->by_key, usbpass_inventory_key(device)) == device)
		g_hash_table_remove(self->by_key, usbpass_inventory_key(device));
	if (usbpass_inventory_find_index(self, device, &index))
		g_ptr_array_remove_index(self->sorted, index);
}

/* inserts without identity: by_id is filled once identities are known */
static void
usbpass_inventory_insert_record(UsbpassInventory *self, UsbpassDevice *device)
{
	g_ptr_array_insert(self->sorted,
	                   (gint)usbpass_inventory_lower_bound(self, device),
	                   usbpass_device_ref(device));
	g_hash_table_replace(self->by_key, g_strdup(usbpass_inventory_key(device)), device);
}

/* @replacement differs from @device only in its identity, so it keeps its place */
static void
usbpass_inventory_replace_record(UsbpassInventory *self,
                                 UsbpassDevice *device,
                                 UsbpassDevice *replacement)
{
	guint index = 0;
	if (device->id != NULL && g_hash_table_lookup(self->by_id, device->id) == device)
		g_hash_table_remove(self->by_id, device->id);
	g_hash_table_replace(
	  self->by_key, g_strdup(usbpass_inventory_key(replacement)), replacement);
	g_hash_table_replace(self->by_id, g_strdup(replacement->id), replacement);
	if (usbpass_inventory_find_index(self, device, &index)) {
		usbpass_device_unref(g_ptr_array_index(self->sorted, index));
		g_ptr_array_index(self->sorted, index) = usbpass_device_ref(replacement);
	}
}

static void
usbpass_inventory_clear_set(UsbpassInventory *self)
{
	g_hash_table_remove_all(self->by_id);
	g_hash_table_remove_all(self->by_key);
	g_ptr_array_set_size(self->sorted, 0);
}

/* --- re-plug memory --- */

static void
usbpass_inventory_remember_removed(UsbpassInventory *self, const UsbpassDevice *device)
{
	UsbpassRemoved *removed;

	if (device->id == NULL)
		return;
	if (g_hash_table_contains(self->removed, device->id)) {
		GList *link =
		  g_queue_find_custom(&self->removed_order, device->id, (GCompareFunc)g_strcmp0);
		if (link != NULL) {
			g_free(link->data);
			g_queue_delete_link(&self->removed_order, link);
		}
	}
	removed = g_new0(UsbpassRemoved, 1);
	removed->bus = device->bus;
	removed->device = device->device;
	removed->port = g_strdup(device->port);
	g_hash_table_replace(self->removed, g_strdup(device->id), removed);
	g_queue_push_tail(&self->removed_order, g_strdup(device->id));
	while (g_queue_get_length(&self->removed_order) > REMOVED_MAX) {
		g_autofree gchar *oldest = g_queue_pop_head(&self->removed_order);
		g_hash_table_remove(self->removed, oldest);
	}
}

static void
usbpass_inventory_recall_removed(UsbpassInventory *self, UsbpassInventoryEvent *event)
{
	const UsbpassDevice *device = event->device;
	UsbpassRemoved *removed;
	GList *link;

	if (device->id == NULL)
		return;
	removed = g_hash_table_lookup(self->removed, device->id);
	if (removed == NULL)
		return;
	event->replugged = TRUE;
	event->previous_bus = removed->bus;
	event->previous_device = removed->device;
	if (g_strcmp0(removed->port, device->port) != 0)
		event->previous_port = g_strdup(removed->port);
	link = g_queue_find_custom(&self->removed_order, device->id, (GCompareFunc)g_strcmp0);
	if (link != NULL) {
		g_free(link->data);
		g_queue_delete_link(&self->removed_order, link);
	}
	g_hash_table_remove(self->removed, device->id);
}

/* --- applying a batch --- */

static gboolean
usbpass_same_identity(const UsbpassDevice *device,
                      const gchar *id,
                      const gchar *kind,
                      const gchar *conflict)
{
	return g_strcmp0(device->id, id) == 0 && g_strcmp0(device->id_kind, kind) == 0 &&
	       g_strcmp0(device->id_conflict, conflict) == 0;
}

/* recomputes the identities of every device sharing a vendor:product with one
 * in @touched: a serial's uniqueness is only ever decided within such a group */
static void
usbpass_inventory_update_identities(UsbpassInventory *self,
                                    GHashTable *touched,
                                    GHashTable *fresh,
                                    GPtrArray *identity_changes)
{
	g_autoptr(GPtrArray) group = g_ptr_array_new();
	g_autoptr(GHashTable) counts = NULL;

	if (g_hash_table_size(touched) == 0)
		return;
	for (guint i = 0; i < self->sorted->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(self->sorted, i);
		if (g_hash_table_contains(touched, GUINT_TO_POINTER(usbpass_vid_pid(device))))
			g_ptr_array_add(group, device);
	}
	counts = usbpass_identity_count_serials(group);
	for (guint i = 0; i < group->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(group, i);
		g_autofree gchar *id = NULL;
		g_autofree gchar *kind = NULL;
		g_autofree gchar *conflict = NULL;

		usbpass_identity_compute(device, counts, &id, &kind, &conflict);
		if (g_hash_table_contains(fresh, device)) {
			/* not handed out yet: still ours to fill in */
			g_free(device->id);
			g_free(device->id_kind);
			g_free(device->id_conflict);
			device->id = g_steal_pointer(&id);
			device->id_kind = g_steal_pointer(&kind);
			device->id_conflict = g_steal_pointer(&conflict);
			usbpass_device_invalidate(device);
			g_hash_table_replace(self->by_id, g_strdup(device->id), device);
		} else if (!usbpass_same_identity(device, id, kind, conflict)) {
			UsbpassChange *change = g_new0(UsbpassChange, 1);
			UsbpassDevice *copy = usbpass_device_copy(device);
			g_free(copy->id);
			g_free(copy->id_kind);
			g_free(copy->id_conflict);
			copy->id = g_steal_pointer(&id);
			copy->id_kind = g_steal_pointer(&kind);
			copy->id_conflict = g_steal_pointer(&conflict);
			usbpass_device_invalidate(copy);
			change->old = usbpass_device_ref(device);
			change->new = copy;
			change->usec = g_get_monotonic_time();
			usbpass_inventory_replace_record(self, device, copy);
			g_ptr_array_add(identity_changes, change);
		}
	}
}

static gboolean
usbpass_address_differs(const UsbpassDevice *a, const UsbpassDevice *b)
{
	return a->bus != b->bus || a->device != b->device;
}

static UsbpassInventoryEvent *
usbpass_inventory_event_for(UsbpassInventoryEventKind kind, UsbpassDevice *device, gint64 usec)
{
	UsbpassInventoryEvent *event = usbpass_inventory_event_new(kind, device);
	event->uevent_usec = usec;
	return event;
}

/* applies @changes (of UsbpassChange) as one batch and emits its events;
 * Returns: the number of events */
static guint
usbpass_inventory_apply_changes(UsbpassInventory *self, GPtrArray *changes)
{
	g_autoptr(GHashTable) touched = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GHashTable) fresh = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GPtrArray) identity_changes =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_change_free);
	g_autoptr(GPtrArray) events =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_inventory_event_free);

	/* the set first, so that identities are computed over what is present now */
	for (guint i = 0; i < changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(changes, i);
		if (change->old == NULL)
			continue;
		g_hash_table_add(touched, GUINT_TO_POINTER(usbpass_vid_pid(change->old)));
		usbpass_inventory_remove_record(self, change->old);
	}
	for (guint i = 0; i < changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(changes, i);
		if (change->new == NULL)
			continue;
		g_hash_table_add(touched, GUINT_TO_POINTER(usbpass_vid_pid(change->new)));
		g_hash_table_add(fresh, change->new);
		usbpass_inventory_insert_record(self, change->new);
	}
	usbpass_inventory_update_identities(self, touched, fresh, identity_changes);

	/* removals first, so that a device re-plugged within the batch is recognised */
	for (guint i = 0; i < changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(changes, i);
		if (change->old == NULL)
			continue;
		if (change->new != NULL && !usbpass_address_differs(change->old, change->new))
			continue;
		g_ptr_array_add(events,
		                usbpass_inventory_event_for(
		                  USBPASS_INVENTORY_EVENT_REMOVED, change->old, change->usec));
		usbpass_inventory_remember_removed(self, change->old);
	}
	for (guint i = 0; i < changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(changes, i);
		UsbpassInventoryEvent *event;
		if (change->new == NULL)
			continue;
		if (change->old != NULL && !usbpass_address_differs(change->old, change->new))
			continue;
		event = usbpass_inventory_event_for(
		  USBPASS_INVENTORY_EVENT_ADDED, change->new, change->usec);
		usbpass_inventory_recall_removed(self, event);
		g_ptr_array_add(events, event);
	}
	for (guint i = 0; i < changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(changes, i);
		if (change->old == NULL || change->new == NULL ||
		    usbpass_address_differs(change->old, change->new) ||
		    usbpass_device_equal(change->old, change->new))
			continue;
		g_ptr_array_add(events,
		                usbpass_inventory_event_for(
		                  USBPASS_INVENTORY_EVENT_CHANGED, change->new, change->usec));
	}
	for (guint i = 0; i < identity_changes->len; i++) {
		UsbpassChange *change = g_ptr_array_index(identity_changes, i);
		g_ptr_array_add(events,
		                usbpass_inventory_event_for(
		                  USBPASS_INVENTORY_EVENT_CHANGED, change->new, change->usec));
	}

	if (events->len == 0)
		return 0;
	self->generation++;
	/* a handler may drop the last reference to us */
	g_object_ref(self);
	for (guint i = 0; i < events->len; i++)
		g_signal_emit(self, signals[SIGNAL_EVENT], 0, g_ptr_array_index(events, i));
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
	g_object_unref(self);
	return events->len;
}

/* diffs a complete set against the current one; takes @devices' records as they are */
static guint
usbpass_inventory_apply_set(UsbpassInventory *self, GPtrArray *devices, gint64 usec)
{
	g_autoptr(GPtrArray) changes =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_change_free);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		const gchar *key = usbpass_inventory_key(device);
		UsbpassChange *change;
		UsbpassDevice *old;

		if (key == NULL || !g_hash_table_add(seen, (gpointer)key))
			continue;
		old = g_hash_table_lookup(self->by_key, key);
		change = g_new0(UsbpassChange, 1);
		change->old = old != NULL ? usbpass_device_ref(old) : NULL;
		change->new = usbpass_device_ref(device);
		change->usec = usec;
		g_ptr_array_add(changes, change);
	}
	for (guint i = 0; i < self->sorted->len; i++) {
		UsbpassDevice *old = g_ptr_array_index(self->sorted, i);
		UsbpassChange *change;
		if (g_hash_table_contains(seen, usbpass_inventory_key(old)))
			continue;
		change = g_new0(UsbpassChange, 1);
		change->old = usbpass_device_ref(old);
		change->usec = usec;
		g_ptr_array_add(changes, change);
	}
	return usbpass_inventory_apply_changes(self, changes);
}

static UsbpassDeviceReader *
usbpass_inventory_get_reader(UsbpassInventory *self)
{
	if (self->reader == NULL) {
		self->client = g_udev_client_new(NULL);
		self->reader = usbpass_device_reader_new(self->client, self->names);
	}
	return self->reader;
}

/* the uevents queued since the last batch, as one batch */
static guint
usbpass_inventory_apply_pending(UsbpassInventory *self)
{
	g_autoptr(GPtrArray) pending = self->pending;
	g_autoptr(GPtrArray) changes =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_change_free);
	g_autoptr(GPtrArray) order = g_ptr_array_new();
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	UsbpassDeviceReader *reader = usbpass_inventory_get_reader(self);
	gboolean overflow = self->pending_overflow;

	self->pending = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_pending_uevent_free);
	self->pending_overflow = FALSE;

	if (overflow) {
		g_autoptr(GPtrArray) devices = usbpass_device_reader_enumerate(reader, NULL);
		g_debug("more than %u uevents queued: re-reading every device", (guint)PENDING_MAX);
		usbpass_device_reader_clear_cache(reader);
		return usbpass_inventory_apply_set(self, devices, g_get_monotonic_time());
	}

	/* the last word on each device wins: remove, or read what is there now */
	for (guint i = 0; i < pending->len; i++) {
		UsbpassPendingUevent *uevent = g_ptr_array_index(pending, i);
		UsbpassPendingState *state = g_hash_table_lookup(states, uevent->key);
		if (state == NULL) {
			state = g_new0(UsbpassPendingState, 1);
			state->usec = uevent->usec;
			g_hash_table_insert(states, uevent->key, state);
			g_ptr_array_add(order, uevent->key);
		} else if (!uevent->is_device) {
			/* an interface's event never undoes its device's removal */
			continue;
		}
		if (uevent->is_device)
			state->remove = g_strcmp0(uevent->action, "remove") == 0;
	}

	for (guint i = 0; i < order->len; i++) {
		const gchar *key = g_ptr_array_index(order, i);
		UsbpassPendingState *state = g_hash_table_lookup(states, key);
		UsbpassDevice *old = g_hash_table_lookup(self->by_key, key);
		g_autoptr(UsbpassDevice) new = NULL;
		UsbpassChange *change;

		/* in a remove the sysfs directory is gone already: what we knew is kept by syspath
		 */
		if (!state->remove)
			new = usbpass_device_reader_read_syspath(reader, key, NULL);
		if (old == NULL && new == NULL)
			continue;
		/* the kernel unbinds drivers ~10 ms before it removes a device, and a
		 * read in between may find its attributes half gone; a serial never
		 * vanishes from a device that stays plugged, so such a read is not a
		 * new identity (the lab saw an attached stick re-identified by port
		 * and its assignment never marked missing): keep what we knew, the
		 * remove that follows takes it */
		if (old != NULL && new != NULL &&
		    ((new->error != NULL && old->error == NULL) ||
		     (old->serial != NULL && new->serial == NULL &&
		      old->vendor_id == new->vendor_id && old->product_id == new->product_id))) {
			g_debug("ignoring a half-read of '%s' during its removal", key);
			continue;
		}
		change = g_new0(UsbpassChange, 1);
		change->old = old != NULL ? usbpass_device_ref(old) : NULL;
		change->new = g_steal_pointer(&new);
		change->usec = state->usec;
		g_ptr_array_add(changes, change);

		/* a hub that went takes its children along, even if their own
		 * uevents were lost */
		if (change->new == NULL) {
			gsize key_len = strlen(key);
			for (guint j = 0; j < self->sorted->len; j++) {
				UsbpassDevice *child = g_ptr_array_index(self->sorted, j);
				UsbpassChange *child_change;
				UsbpassPendingState *child_state;
				const gchar *child_key = usbpass_inventory_key(child);
				if (strncmp(child_key, key, key_len) != 0 ||
				    child_key[key_len] != '/' ||
				    g_hash_table_contains(states, child_key))
					continue;
				child_change = g_new0(UsbpassChange, 1);
				child_change->old = usbpass_device_ref(child);
				child_change->usec = state->usec;
				g_ptr_array_add(changes, child_change);
				child_state = g_new0(UsbpassPendingState, 1);
				child_state->remove = TRUE;
				child_state->usec = state->usec;
				g_hash_table_insert(states, (gpointer)child_key, child_state);
			}
		}
	}
	return usbpass_inventory_apply_changes(self, changes);
}

static gboolean
usbpass_inventory_idle_cb(gpointer user_data)
{
	UsbpassInventory *self = USBPASS_INVENTORY(user_data);
	g_clear_pointer(&self->idle_source, g_source_unref);
	(void)usbpass_inventory_apply_pending(self);
	/* hotplug is rare: do not keep the hwdb mapped between batches */
	usbpass_names_release_hwdb(self->names);
	return G_SOURCE_REMOVE;
}

static void
usbpass_inventory_schedule(UsbpassInventory *self)
{
	if (self->idle_source != NULL)
		return;
	/* idle priority: every uevent already in the socket is dispatched first,
	 * so a burst becomes one batch */
	self->idle_source = g_idle_source_new();
	g_source_set_priority(self->idle_source, G_PRIORITY_DEFAULT_IDLE);
	g_source_set_callback(self->idle_source, usbpass_inventory_idle_cb, self, NULL);
	g_source_set_name(self->idle_source, "[usbpass] inventory batch");
	g_source_attach(self->idle_source, self->context);
}

/**
 * usbpass_inventory_queue_uevent:
 * @self: an inventory
 * @action: "add", "remove", "change", "bind", ...
 * @udev_device: the device of the uevent
 *
 * Queues one uevent of subsystem "usb" for the next batch; what GUdevClient's
 * "uevent" signal does once usbpass_inventory_start_monitor() was called.
 */
void
usbpass_inventory_queue_uevent(UsbpassInventory *self,
                               const gchar *action,
                               GUdevDevice *udev_device)
{
	const gchar *syspath;
	const gchar *devtype;
	const gchar *name;
	UsbpassPendingUevent *uevent;
	gboolean is_device;

	g_return_if_fail(USBPASS_IS_INVENTORY(self));
	g_return_if_fail(action != NULL);
	g_return_if_fail(G_UDEV_IS_DEVICE(udev_device));

	if (g_strcmp0(g_udev_device_get_subsystem(udev_device), "usb") != 0)
		return;
	syspath = g_udev_device_get_sysfs_path(udev_device);
	name = g_udev_device_get_name(udev_device);
	devtype = g_udev_device_get_devtype(udev_device);
	if (syspath == NULL || name == NULL)
		return;
	/* without DEVTYPE (a remove whose uevent file is gone), the kernel name tells */
	if (devtype != NULL)
		is_device = g_strcmp0(devtype, "usb_device") == 0;
	else
		is_device = strchr(name, ':') == NULL;
	if (!is_device && devtype != NULL && g_strcmp0(devtype, "usb_interface") != 0)
		return;

	if (self->pending->len >= PENDING_MAX) {
		self->pending_overflow = TRUE;
	} else {
		uevent = g_new0(UsbpassPendingUevent, 1);
		uevent->action = g_strdup(action);
		uevent->is_device = is_device;
		uevent->key = is_device ? g_strdup(syspath) : g_path_get_dirname(syspath);
		uevent->usec = g_get_monotonic_time();
		g_ptr_array_add(self->pending, uevent);
	}
	usbpass_inventory_schedule(self);
}

static void
usbpass_inventory_uevent_cb(GUdevClient *client,
                            const gchar *action,
                            GUdevDevice *udev_device,
                            gpointer user_data)
{
	usbpass_inventory_queue_uevent(USBPASS_INVENTORY(user_data), action, udev_device);
}

/**
 * usbpass_inventory_flush:
 * @self: an inventory
 *
 * Applies the queued uevents now, as the idle callback would.
 *
 * Returns: the number of events emitted
 */
guint
usbpass_inventory_flush(UsbpassInventory *self)
{
	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), 0);
	if (self->idle_source != NULL) {
		g_source_destroy(self->idle_source);
		g_clear_pointer(&self->idle_source, g_source_unref);
	}
	if (self->pending->len == 0 && !self->pending_overflow)
		return 0;
	return usbpass_inventory_apply_pending(self);
}

/**
 * usbpass_inventory_get_pending:
 * @self: an inventory
 *
 * Returns: the number of uevents queued and not applied yet
 */
guint
usbpass_inventory_get_pending(UsbpassInventory *self)
{
	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), 0);
	return self->pending->len;
}

/* --- public API --- */

/**
 * usbpass_inventory_new:
 *
 * Returns: (transfer full): an empty inventory; call
 * usbpass_inventory_start_monitor() and then usbpass_inventory_enumerate()
 */
UsbpassInventory *
usbpass_inventory_new(void)
{
	return g_object_new(USBPASS_TYPE_INVENTORY, NULL);
}

/**
 * usbpass_inventory_new_for_testing:
 *
 * Returns: (transfer full): an inventory that never reads udev: fed by
 * usbpass_inventory_apply_snapshot() only
 */
UsbpassInventory *
usbpass_inventory_new_for_testing(void)
{
	UsbpassInventory *self = usbpass_inventory_new();
	self->testing = TRUE;
	return self;
}

/**
 * usbpass_inventory_enumerate:
 * @self: an inventory
 * @error: (nullable): never set so far: a host without USB has no devices
 *
 * Reads every USB device from sysfs and replaces the current set without
 * emitting events (the generation is bumped). Devices whose sysfs entry is
 * half-broken are kept, with their error field set.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_inventory_enumerate(UsbpassInventory *self, GError **error)
{
	UsbpassDeviceReader *reader;
	g_autoptr(GPtrArray) devices = NULL;

	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), FALSE);

	if (self->testing)
		return TRUE;
	reader = usbpass_inventory_get_reader(self);
	usbpass_device_reader_clear_cache(reader);
	devices = usbpass_device_reader_enumerate(reader, error);
	usbpass_names_release_hwdb(self->names);
	if (devices == NULL)
		return FALSE;
	usbpass_identity_assign(devices);

	usbpass_inventory_clear_set(self);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		/* already ordered: append */
		g_ptr_array_add(self->sorted, usbpass_device_ref(device));
		g_hash_table_replace(self->by_key, g_strdup(usbpass_inventory_key(device)), device);
		g_hash_table_replace(self->by_id, g_strdup(device->id), device);
	}
	self->generation++;
	return TRUE;
}

/**
 * usbpass_inventory_start_monitor:
 * @self: an inventory
 * @error: (nullable): never set so far
 *
 * Listens to uevents of subsystem "usb" from now on; idempotent. Start the
 * monitor before usbpass_inventory_enumerate() so that no device plugged in
 * between is missed (a uevent for a device already read changes nothing).
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_inventory_start_monitor(UsbpassInventory *self, GError **error)
{
	const gchar *subsystems[] = { "usb", NULL };

	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), FALSE);

	if (self->testing || self->monitor != NULL)
		return TRUE;
	self->monitor = g_udev_client_new(subsystems);
	g_signal_connect(self->monitor, "uevent", G_CALLBACK(usbpass_inventory_uevent_cb), self);
	return TRUE;
}

/**
 * usbpass_inventory_apply_snapshot:
 * @self: an inventory
 * @devices: (element-type UsbpassDevice): the complete new set; each record
 *   needs a syspath or a port, which is what matches it with the current set
 *
 * Applies the difference to the current set as one batch, with the events a
 * hotplug would give. The records are copied and their identities computed.
 */
void
usbpass_inventory_apply_snapshot(UsbpassInventory *self, GPtrArray *devices)
{
	g_autoptr(GPtrArray) copies =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);

	g_return_if_fail(USBPASS_IS_INVENTORY(self));
	g_return_if_fail(devices != NULL);

	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *copy = usbpass_device_copy(g_ptr_array_index(devices, i));
		g_clear_pointer(&copy->id, g_free);
		g_clear_pointer(&copy->id_kind, g_free);
		g_clear_pointer(&copy->id_conflict, g_free);
		g_ptr_array_add(copies, copy);
	}
	(void)usbpass_inventory_apply_set(self, copies, g_get_monotonic_time());
}

/**
 * usbpass_inventory_get_devices:
 * @self: an inventory
 *
 * Returns: (transfer container) (element-type UsbpassDevice): the live set,
 * ordered by bus, then port
 */
GPtrArray *
usbpass_inventory_get_devices(UsbpassInventory *self)
{
	GPtrArray *devices;

	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), NULL);

	devices = g_ptr_array_new_full(self->sorted->len, (GDestroyNotify)usbpass_device_unref);
	for (guint i = 0; i < self->sorted->len; i++)
		g_ptr_array_add(devices, usbpass_device_ref(g_ptr_array_index(self->sorted, i)));
	return devices;
}

/**
 * usbpass_inventory_get_size:
 * @self: an inventory
 *
 * Returns: the number of devices in the live set
 */
guint
usbpass_inventory_get_size(UsbpassInventory *self)
{
	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), 0);
	return self->sorted->len;
}

/**
 * usbpass_inventory_find_by_id:
 * @self: an inventory
 * @id: an identity
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when no present device has it
 *
 * Returns: (transfer full): the device, or %NULL
 */
UsbpassDevice *
usbpass_inventory_find_by_id(UsbpassInventory *self, const gchar *id, GError **error)
{
	UsbpassDevice *device;

	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), NULL);
	g_return_val_if_fail(id != NULL, NULL);

	device = g_hash_table_lookup(self->by_id, id);
	if (device == NULL) {
		g_autofree gchar *shown = usbpass_string_sanitize(id, -1, 96);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_FOUND,
		            "no USB device with identity '%s' on this host",
		            shown != NULL ? shown : "");
		return NULL;
	}
	return usbpass_device_ref(device);
}

/**
 * usbpass_inventory_find_by_address:
 * @self: an inventory
 * @bus: the bus number
 * @device: the device number
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when no device has this address
 *
 * Returns: (transfer full): the device, or %NULL
 */
UsbpassDevice *
usbpass_inventory_find_by_address(UsbpassInventory *self, guint bus, guint device, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), NULL);

	for (guint i = 0; i < self->sorted->len; i++) {
		UsbpassDevice *candidate = g_ptr_array_index(self->sorted, i);
		if (candidate->bus == bus && candidate->device == device)
			return usbpass_device_ref(candidate);
	}
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_NOT_FOUND,
	            "no USB device at bus %03u device %03u on this host",
	            bus,
	            device);
	return NULL;
}

/* "1:4" or "001:004" */
static gboolean
usbpass_parse_address(const gchar *spec, guint *bus, guint *device)
{
	g_auto(GStrv) parts = g_strsplit(spec, ":", 3);
	guint64 b = 0;
	guint64 d = 0;
	if (g_strv_length(parts) != 2 || strlen(parts[0]) > 3 || strlen(parts[1]) > 3)
		return FALSE;
	if (!usbpass_string_parse_uint(parts[0], 10, 1, 255, &b, NULL) ||
	    !usbpass_string_parse_uint(parts[1], 10, 1, 255, &d, NULL))
		return FALSE;
	*bus = (guint)b;
	*device = (guint)d;
	return TRUE;
}

/**
 * usbpass_inventory_find:
 * @self: an inventory
 * @spec: an identity, an address "BUS:DEVICE" ("1:4", "001:004") or a port
 *   ("1-1.4", "usb1")
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when nothing matches
 *
 * Returns: (transfer full): the device, or %NULL
 */
UsbpassDevice *
usbpass_inventory_find(UsbpassInventory *self, const gchar *spec, GError **error)
{
	UsbpassDevice *device;
	guint bus = 0;
	guint address = 0;

	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), NULL);
	g_return_val_if_fail(spec != NULL, NULL);

	device = g_hash_table_lookup(self->by_id, spec);
	if (device != NULL)
		return usbpass_device_ref(device);
	if (usbpass_parse_address(spec, &bus, &address))
		return usbpass_inventory_find_by_address(self, bus, address, error);
	for (guint i = 0; i < self->sorted->len; i++) {
		UsbpassDevice *candidate = g_ptr_array_index(self->sorted, i);
		if (g_strcmp0(candidate->port, spec) == 0)
			return usbpass_device_ref(candidate);
	}
	{
		g_autofree gchar *shown = usbpass_string_sanitize(spec, -1, 96);
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_NOT_FOUND,
		  "no USB device '%s' on this host (give an identity, BUS:DEVICE or a port)",
		  shown != NULL ? shown : "");
	}
	return NULL;
}

/**
 * usbpass_inventory_get_generation:
 * @self: an inventory
 *
 * Returns: a counter bumped by every enumeration and every batch that changed
 * something: equal generations mean an equal set
 */
guint64
usbpass_inventory_get_generation(UsbpassInventory *self)
{
	g_return_val_if_fail(USBPASS_IS_INVENTORY(self), 0);
	return self->generation;
}

/* --- GObject --- */

static void
usbpass_inventory_dispose(GObject *object)
{
	UsbpassInventory *self = USBPASS_INVENTORY(object);

	if (self->idle_source != NULL) {
		g_source_destroy(self->idle_source);
		g_clear_pointer(&self->idle_source, g_source_unref);
	}
	if (self->monitor != NULL) {
		g_signal_handlers_disconnect_by_data(self->monitor, self);
		g_clear_object(&self->monitor);
	}
	g_clear_pointer(&self->reader, usbpass_device_reader_free);
	g_clear_object(&self->client);
	G_OBJECT_CLASS(usbpass_inventory_parent_class)->dispose(object);
}

static void
usbpass_inventory_finalize(GObject *object)
{
	UsbpassInventory *self = USBPASS_INVENTORY(object);

	g_hash_table_unref(self->by_id);
	g_hash_table_unref(self->by_key);
	g_ptr_array_unref(self->sorted);
	g_ptr_array_unref(self->pending);
	g_hash_table_unref(self->removed);
	g_queue_clear_full(&self->removed_order, g_free);
	usbpass_names_free(self->names);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(usbpass_inventory_parent_class)->finalize(object);
}

static void
usbpass_inventory_init(UsbpassInventory *self)
{
	self->context = g_main_context_ref_thread_default();
	self->names = usbpass_names_new();
	self->sorted = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	self->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->pending = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_pending_uevent_free);
	self->removed = g_hash_table_new_full(
	  g_str_hash, g_str_equal, g_free, (GDestroyNotify)usbpass_removed_free);
	g_queue_init(&self->removed_order);
}

static void
usbpass_inventory_class_init(UsbpassInventoryClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = usbpass_inventory_dispose;
	object_class->finalize = usbpass_inventory_finalize;

	/* static scope: handlers that keep the event copy it */
	signals[SIGNAL_EVENT] =
	  g_signal_new("event",
	               G_TYPE_FROM_CLASS(klass),
	               G_SIGNAL_RUN_LAST,
	               0,
	               NULL,
	               NULL,
	               NULL,
	               G_TYPE_NONE,
	               1,
	               USBPASS_TYPE_INVENTORY_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE);
	signals[SIGNAL_CHANGED] = g_signal_new("changed",
	                                       G_TYPE_FROM_CLASS(klass),
	                                       G_SIGNAL_RUN_LAST,
	                                       0,
	                                       NULL,
	                                       NULL,
	                                       NULL,
	                                       G_TYPE_NONE,
	                                       0);
}

/*
 * usbpass-engine.c: who holds which host USB device, and making it so
 *
 * The store is the truth about assignments, the driver the truth about what
 * instances' definitions contain, the inventory the truth about what is plugged
 * in. Every operation moves a row through the store with compare-and-set
 * transitions, so a stale or concurrent caller can never overwrite a newer
 * state, and a crash leaves a row in "attaching" or "detaching" that
 * usbpass_engine_reconcile() finishes or rolls back from what the driver says.
 */
#define G_LOG_DOMAIN "UsbpassEngine"

#include "config.h"

#include "usbpass-engine.h"
#include "usbpass-error.h"

struct _UsbpassEngine {
	GObject parent_instance;
	gchar *host;
	UsbpassInventory *inventory;
	UsbpassStore *store;
	UsbpassDriver *driver;
	UsbpassPolicy *policy;
	gboolean enabled;
	gboolean started;
	gulong inventory_event_id;
	gulong driver_event_id;
	gulong driver_connection_id;
	/* device_id -> GUINT_TO_POINTER(1) while a worker thread acts on it */
	GHashTable *in_flight;
};

G_DEFINE_TYPE(UsbpassEngine, usbpass_engine, G_TYPE_OBJECT)

enum { SIGNAL_DEVICE_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

/* the actor of automatic actions in the audit log */
#define ENGINE_ACTOR "usbpassd"

G_DEFINE_BOXED_TYPE(UsbpassEngineDevice,
                    usbpass_engine_device,
                    usbpass_engine_device_ref,
                    usbpass_engine_device_unref)

static UsbpassEngineDevice *
usbpass_engine_device_new(UsbpassDevice *device, UsbpassStoreDevice *record)
{
	UsbpassEngineDevice *self = g_new0(UsbpassEngineDevice, 1);
	self->refcount = 1;
	self->device = device != NULL ? usbpass_device_ref(device) : NULL;
	self->record = record != NULL ? usbpass_store_device_copy(record) : NULL;
	return self;
}

/**
 * usbpass_engine_device_ref:
 * @self: a #UsbpassEngineDevice
 *
 * Returns: (transfer full): @self
 */
UsbpassEngineDevice *
usbpass_engine_device_ref(UsbpassEngineDevice *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_int_inc(&self->refcount);
	return self;
}

/**
 * usbpass_engine_device_unref:
 * @self: (nullable): a #UsbpassEngineDevice
 */
void
usbpass_engine_device_unref(UsbpassEngineDevice *self)
{
	if (self == NULL)
		return;
	if (!g_atomic_int_dec_and_test(&self->refcount))
		return;
	if (self->device != NULL)
		usbpass_device_unref(self->device);
	usbpass_store_device_free(self->record);
	g_free(self);
}

/* ---- small helpers ------------------------------------------------------ */

static const gchar *
record_label(const UsbpassStoreDevice *record)
{
	return record->port != NULL ? record->port : record->device_id;
}

static UsbpassStoreDevice *
record_from_device(const gchar *host, const UsbpassDevice *device)
{
	UsbpassStoreDevice *record = usbpass_store_device_new();
	record->host = g_strdup(host);
	record->device_id = g_strdup(device->id);
	record->name = g_strdup(device->name);
	record->bus = device->bus;
	record->device = device->device;
	record->vendor_id = device->vendor_id;
	record->product_id = device->product_id;
	record->serial = g_strdup(device->serial);
	record->port = g_strdup(device->port);
	record->present = TRUE;
	return record;
}

static UsbpassHostdev *
hostdev_from_record(const UsbpassStoreDevice *record)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = record->vendor_id;
	hostdev->product_id = record->product_id;
	hostdev->bus = record->bus;
	hostdev->device = record->device;
	return hostdev;
}

static UsbpassHostdev *
hostdev_from_device(const UsbpassDevice *device)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = device->vendor_id;
	hostdev->product_id = device->product_id;
	hostdev->bus = device->bus;
	hostdev->device = device->device;
	return hostdev;
}

static void
engine_audit(UsbpassEngine *self,
             const gchar *actor,
             const gchar *action,
             const gchar *device_id,
             const gchar *instance_uuid,
             const GError *error,
             const gchar *message)
{
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(GError) error_local = NULL;

	entry->created_usec = g_get_real_time();
	entry->host = g_strdup(self->host);
	entry->actor = g_strdup(actor);
	entry->action = g_strdup(action);
	entry->device_id = g_strdup(device_id);
	entry->instance_uuid = g_strdup(instance_uuid);
	if (error != NULL && error->domain == USBPASS_ERROR) {
		entry->outcome = g_strdup(usbpass_error_to_string((UsbpassError)error->code));
		entry->message = g_strdup(error->message);
	} else if (error != NULL) {
		entry->outcome = g_strdup(usbpass_error_to_string(USBPASS_ERROR_INTERNAL));
		entry->message = g_strdup(error->message);
	} else {
		entry->outcome = g_strdup("ok");
		entry->message = g_strdup(message);
	}
	/* the audit log must never turn a done operation into a failed one */
	if (!usbpass_store_append_audit(self->store, entry, &error_local))
		g_warning("failed to write audit entry for '%s': %s, ignoring",
		          action,
		          error_local->message);
}

static UsbpassStoreDevice *
engine_get_record(UsbpassEngine *self, const gchar *device_id, GError **error)
{
	return usbpass_store_get_device(self->store, self->host, device_id, error);
}

static void
engine_emit_changed(UsbpassEngine *self, const gchar *device_id)
{
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassEngineDevice) engine_device = NULL;

	record = engine_get_record(self, device_id, NULL);
	device = usbpass_inventory_find_by_id(self->inventory, device_id, NULL);
	if (record == NULL && device == NULL)
		return;
	engine_device = usbpass_engine_device_new(device, record);
	g_signal_emit(self, signals[SIGNAL_DEVICE_CHANGED], 0, engine_device);
}

/* a transition that is expected to succeed; the caller only logs a failure */
static gboolean
engine_transition(UsbpassEngine *self,
                  const gchar *device_id,
                  UsbpassDeviceState from,
                  UsbpassDeviceState to,
                  const gchar *instance_uuid,
                  const gchar *instance_name,
                  const gchar *error_message,
                  GError **error)
{
	if (!usbpass_store_transition(self->store,
	                              self->host,
	                              device_id,
	                              from,
	                              to,
	                              instance_uuid,
	                              instance_name,
	                              error_message,
	                              error))
		return FALSE;
	engine_emit_changed(self, device_id);
	return TRUE;
}

/* ---- resolution --------------------------------------------------------- */

/* finds a present device by spec, else a recorded one by identity */
static gboolean
engine_resolve(UsbpassEngine *self,
               const gchar *spec,
               UsbpassDevice **device_out,
               UsbpassStoreDevice **record_out,
               GError **error)
{
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(GError) error_inventory = NULL;

	device = usbpass_inventory_find(self->inventory, spec, &error_inventory);
	if (device != NULL) {
		record = engine_get_record(self, device->id, NULL);
	} else {
		g_autoptr(GError) error_store = NULL;
		record = engine_get_record(self, spec, &error_store);
		if (record == NULL) {
			if (!g_error_matches(error_store, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
				g_propagate_error(error, g_steal_pointer(&error_store));
				return FALSE;
			}
			g_propagate_error(error, g_steal_pointer(&error_inventory));
			return FALSE;
		}
	}
	if (device_out != NULL)
		*device_out = g_steal_pointer(&device);
	if (record_out != NULL)
		*record_out = g_steal_pointer(&record);
	return TRUE;
}

/* ---- hostdev scans (worker thread or main thread; driver only) ---------- */

typedef struct {
	UsbpassInstance *instance;
	UsbpassHostdev *hostdev;
} HostdevOwner;

static void
hostdev_owner_free(HostdevOwner *self)
{
	if (self == NULL)
		return;
	if (self->instance != NULL)
		usbpass_instance_unref(self->instance);
	usbpass_hostdev_free(self->hostdev);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HostdevOwner, hostdev_owner_free)

/* the first instance whose live or persistent definition holds @wanted */
static HostdevOwner *
driver_find_owner(UsbpassDriver *driver, const UsbpassHostdev *wanted, GError **error)
{
	/* one pass over the hypervisor: instances undefined meanwhile are left out */
	g_autoptr(GPtrArray) all = usbpass_driver_list_all_hostdevs(driver, error);
	if (all == NULL)
		return NULL;
	for (guint i = 0; i < all->len; i++) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, i);
		for (guint j = 0; j < entry->hostdevs->len; j++) {
			UsbpassHostdev *hostdev = g_ptr_array_index(entry->hostdevs, j);
			/* libvirt's placeholder for an absent optional device holds nothing */
			if (hostdev->vendor_id == 0 && hostdev->product_id == 0)
				continue;
			if (usbpass_hostdev_matches(hostdev, wanted)) {
				HostdevOwner *owner = g_new0(HostdevOwner, 1);
				owner->instance = usbpass_instance_ref(entry->instance);
				owner->hostdev = usbpass_hostdev_copy(hostdev);
				return owner;
			}
		}
	}
	g_set_error_literal(
	  error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND, "no instance holds the device");
	return NULL;
}

/* removes the stale definitions of a device from @uuid: the address it had
 * (@old) and, only when no entry names its vendor:product, a placeholder
 * without one (older libvirt's form of an absent optional device);
 * placeholders cannot be told apart, so with entries of the same model
 * present, the placeholders are somebody else's */
static gboolean
driver_remove_stale(UsbpassDriver *driver,
                    const gchar *uuid,
                    const UsbpassHostdev *old,
                    GError **error)
{
	g_autoptr(GPtrArray) hostdevs = usbpass_driver_list_hostdevs(driver, uuid, error);
	gboolean model_defined = FALSE;
	if (hostdevs == NULL)
		return FALSE;
	for (guint i = 0; i < hostdevs->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, i);
		if (hostdev->vendor_id == old->vendor_id && hostdev->product_id == old->product_id)
			model_defined = TRUE;
	}
	for (guint i = 0; i < hostdevs->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, i);
		/* an address-only hostdev (no ids, an address) is somebody's
		 * definition of a device, never the placeholder */
		gboolean placeholder =
		  hostdev->vendor_id == 0 && hostdev->product_id == 0 && hostdev->bus == 0;
		gboolean same_model =
		  hostdev->vendor_id == old->vendor_id && hostdev->product_id == old->product_id;
		gboolean stale =
		  (placeholder && !model_defined) ||
		  (same_model && old->bus == hostdev->bus && old->device == hostdev->device);
		g_autoptr(GError) error_local = NULL;
		if (!stale)
			continue;
		if (!usbpass_driver_detach(driver, uuid, hostdev, &error_local) &&
		    !g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
	}
	return TRUE;
}

/* ---- worker jobs -------------------------------------------------------- */

typedef enum {
	JOB_ATTACH,
	JOB_DETACH,
	JOB_REATTACH,
} JobKind;

typedef struct {
	JobKind kind;
	UsbpassEngine *engine; /* unowned: the outer task, alive until the job ends, holds it */
	gchar *device_id;
	gchar *device_label;
	gchar *instance_uuid;
	gchar *instance_name;
	gchar *actor;
	UsbpassHostdev *hostdev;     /* the address to attach, or to detach */
	UsbpassHostdev *old_hostdev; /* the address the definition may still name: removed first */
	/* results, written by the worker */
	gboolean driver_failed; /* the hypervisor call itself failed: row -> failed */
	gboolean already_there; /* ATTACH: the target instance already had it */
} Job;

static void
job_free(Job *job)
{
	g_free(job->device_id);
	g_free(job->device_label);
	g_free(job->instance_uuid);
	g_free(job->instance_name);
	g_free(job->actor);
	usbpass_hostdev_free(job->hostdev);
	usbpass_hostdev_free(job->old_hostdev);
	g_free(job);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Job, job_free)

static void
job_attach_thread(GTask *task,
                  gpointer source_object,
                  gpointer task_data,
                  GCancellable *cancellable)
{
	Job *job = task_data;
	UsbpassEngine *self = job->engine;
	g_autoptr(HostdevOwner) owner = NULL;
	g_autoptr(GError) error_local = NULL;

	/* a device put into some definition by hand is somebody's: never steal it */
	owner = driver_find_owner(self->driver, job->hostdev, &error_local);
	if (owner != NULL && g_strcmp0(owner->instance->uuid, job->instance_uuid) == 0) {
		/* a re-attach must replace what the instance holds: the live device
		 * vanished with the unplug even where the address is the same */
		if (job->kind == JOB_ATTACH) {
			job->already_there = TRUE;
			g_task_return_boolean(task, TRUE);
			return;
		}
		g_clear_pointer(&owner, hostdev_owner_free);
	} else if (owner != NULL) {
		g_task_return_new_error(
		  task,
		  USBPASS_ERROR,
		  USBPASS_ERROR_IN_USE,
		  "USB device %s is in use by instance '%s' (attached outside usbpass)",
		  job->device_label,
		  owner->instance->name);
		return;
	}
	if (error_local != NULL &&
	    !g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
		job->driver_failed = TRUE;
		g_task_return_error(task, g_steal_pointer(&error_local));
		return;
	}
	g_clear_error(&error_local);

	if (job->old_hostdev != NULL &&
	    !driver_remove_stale(
	      self->driver, job->instance_uuid, job->old_hostdev, &error_local)) {
		job->driver_failed = TRUE;
		g_task_return_error(task, g_steal_pointer(&error_local));
		return;
	}
	if (!usbpass_driver_attach(self->driver, job->instance_uuid, job->hostdev, &error_local)) {
		job->driver_failed = TRUE;
		g_task_return_error(task, g_steal_pointer(&error_local));
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
job_detach_thread(GTask *task,
                  gpointer source_object,
                  gpointer task_data,
                  GCancellable *cancellable)
{
	Job *job = task_data;
	UsbpassEngine *self = job->engine;
	g_autoptr(GError) error_local = NULL;

	if (!usbpass_driver_detach(self->driver, job->instance_uuid, job->hostdev, &error_local)) {
		/* gone already (removed by hand, or the instance was undefined): released */
		if (g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
			g_task_return_boolean(task, TRUE);
			return;
		}
		job->driver_failed = TRUE;
		g_task_return_error(task, g_steal_pointer(&error_local));
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
engine_job_done(UsbpassEngine *self, Job *job)
{
	g_hash_table_remove(self->in_flight, job->device_id);
}

static void
engine_reattach(UsbpassEngine *self, const gchar *device_id);

/* after a job: events that arrived meanwhile only marked presence, because the
 * row of an assigned device keeps the address its definition names until a
 * re-attach rewrites both; catch up with them now */
static void
engine_catch_up(UsbpassEngine *self, const gchar *device_id)
{
	g_autoptr(UsbpassStoreDevice) record = engine_get_record(self, device_id, NULL);
	g_autoptr(UsbpassDevice) device =
	  usbpass_inventory_find_by_id(self->inventory, device_id, NULL);
	g_autoptr(GError) error = NULL;

	if (record == NULL)
		return;
	if (record->instance_uuid == NULL) {
		/* released: the row may take the device's current address */
		if (device != NULL) {
			g_autoptr(UsbpassStoreDevice) fresh =
			  record_from_device(self->host, device);
			if (!usbpass_store_upsert_device(self->store, fresh, &error))
				g_warning("cannot record '%s': %s", device_id, error->message);
		}
		return;
	}
	if (device == NULL) {
		/* unplugged while the job ran: a failed re-attach of a device that is
		 * gone again keeps its assignment too (found by the lab) */
		if ((record->state == USBPASS_DEVICE_STATE_ATTACHED ||
		     record->state == USBPASS_DEVICE_STATE_FAILED) &&
		    !engine_transition(self,
		                       device_id,
		                       record->state,
		                       USBPASS_DEVICE_STATE_MISSING,
		                       record->instance_uuid,
		                       record->instance_name,
		                       NULL,
		                       &error))
			g_warning("cannot mark '%s' missing: %s", device_id, error->message);
		return;
	}
	if (record->state == USBPASS_DEVICE_STATE_MISSING ||
	    (record->state == USBPASS_DEVICE_STATE_ATTACHED &&
	     (record->bus != device->bus || record->device != device->device)))
		engine_reattach(self, device_id);
}

/* main thread: the worker of an attach or re-attach has finished */
static void
engine_attach_finished_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) outer = G_TASK(user_data);
	UsbpassEngine *self = USBPASS_ENGINE(g_task_get_source_object(outer));
	Job *job = g_task_get_task_data(outer);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_store = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	const gchar *action = job->kind == JOB_REATTACH ? "reattach" : "attach";

	engine_job_done(self, job);
	if (!g_task_propagate_boolean(G_TASK(res), &error)) {
		if (job->driver_failed) {
			/* the hypervisor's own words stay on the row */
			if (!engine_transition(self,
			                       job->device_id,
			                       USBPASS_DEVICE_STATE_ATTACHING,
			                       USBPASS_DEVICE_STATE_FAILED,
			                       job->instance_uuid,
			                       job->instance_name,
			                       error->message,
			                       &error_store))
				g_warning(
				  "cannot record failure of %s: %s", action, error_store->message);
		} else {
			/* a refusal (in use elsewhere): nothing was done, the row is free again */
			UsbpassDeviceState back = job->kind == JOB_REATTACH
			                            ? USBPASS_DEVICE_STATE_FAILED
			                            : USBPASS_DEVICE_STATE_AVAILABLE;
			if (!engine_transition(
			      self,
			      job->device_id,
			      USBPASS_DEVICE_STATE_ATTACHING,
			      back,
			      back == USBPASS_DEVICE_STATE_AVAILABLE ? NULL : job->instance_uuid,
			      back == USBPASS_DEVICE_STATE_AVAILABLE ? NULL : job->instance_name,
			      back == USBPASS_DEVICE_STATE_AVAILABLE ? NULL : error->message,
			      &error_store))
				g_warning("cannot roll back %s: %s", action, error_store->message);
		}
		engine_audit(
		  self, job->actor, action, job->device_id, job->instance_uuid, error, NULL);
		engine_catch_up(self, job->device_id);
		g_task_return_error(outer, g_steal_pointer(&error));
		return;
	}

	if (!engine_transition(self,
	                       job->device_id,
	                       USBPASS_DEVICE_STATE_ATTACHING,
	                       USBPASS_DEVICE_STATE_ATTACHED,
	                       job->instance_uuid,
	                       job->instance_name,
	                       NULL,
	                       &error_store)) {
		engine_audit(
		  self, job->actor, action, job->device_id, job->instance_uuid, error_store, NULL);
		g_task_return_error(outer, g_steal_pointer(&error_store));
		return;
	}
	engine_audit(self,
	             job->actor,
	             action,
	             job->device_id,
	             job->instance_uuid,
	             NULL,
	             job->already_there ? "the instance already had the device" : NULL);

	/* unplugged or re-plugged while we were attaching */
	engine_catch_up(self, job->device_id);
	device = usbpass_inventory_find_by_id(self->inventory, job->device_id, NULL);

	record = engine_get_record(self, job->device_id, &error);
	if (record == NULL) {
		g_task_return_error(outer, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(outer,
	                      usbpass_engine_device_new(device, record),
	                      (GDestroyNotify)usbpass_engine_device_unref);
}

static void
engine_detach_finished_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) outer = G_TASK(user_data);
	UsbpassEngine *self = USBPASS_ENGINE(g_task_get_source_object(outer));
	Job *job = g_task_get_task_data(outer);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_store = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(UsbpassDevice) device = NULL;

	engine_job_done(self, job);
	if (!g_task_propagate_boolean(G_TASK(res), &error)) {
		if (!engine_transition(self,
		                       job->device_id,
		                       USBPASS_DEVICE_STATE_DETACHING,
		                       USBPASS_DEVICE_STATE_FAILED,
		                       job->instance_uuid,
		                       job->instance_name,
		                       error->message,
		                       &error_store))
			g_warning("cannot record failure of detach: %s", error_store->message);
		engine_audit(
		  self, job->actor, "detach", job->device_id, job->instance_uuid, error, NULL);
		engine_catch_up(self, job->device_id);
		g_task_return_error(outer, g_steal_pointer(&error));
		return;
	}
	if (!engine_transition(self,
	                       job->device_id,
	                       USBPASS_DEVICE_STATE_DETACHING,
	                       USBPASS_DEVICE_STATE_AVAILABLE,
	                       NULL,
	                       NULL,
	                       NULL,
	                       &error_store)) {
		engine_audit(self,
		             job->actor,
		             "detach",
		             job->device_id,
		             job->instance_uuid,
		             error_store,
		             NULL);
		g_task_return_error(outer, g_steal_pointer(&error_store));
		return;
	}
	engine_audit(self, job->actor, "detach", job->device_id, job->instance_uuid, NULL, NULL);
	engine_catch_up(self, job->device_id);

	record = engine_get_record(self, job->device_id, &error);
	if (record == NULL) {
		g_task_return_error(outer, g_steal_pointer(&error));
		return;
	}
	device = usbpass_inventory_find_by_id(self->inventory, job->device_id, NULL);
	g_task_return_pointer(outer,
	                      usbpass_engine_device_new(device, record),
	                      (GDestroyNotify)usbpass_engine_device_unref);
}

static void
engine_run_job(UsbpassEngine *self, GTask *outer, GTaskThreadFunc func, GAsyncReadyCallback done)
{
	Job *job = g_task_get_task_data(outer);
	/* not cancellable: once the hypervisor call is under way its outcome must
	 * reach the store, or the row would lie about the definition; and without
	 * a source object: the worker thread drops its reference to this task
	 * whenever it gets round to it, and must never drop the engine's last */
	g_autoptr(GTask) inner = g_task_new(NULL, NULL, done, g_object_ref(outer));
	job->engine = self;
	g_hash_table_insert(self->in_flight, g_strdup(job->device_id), GUINT_TO_POINTER(1));
	g_task_set_task_data(inner, job, NULL);
	g_task_run_in_thread(inner, func);
}

/* ---- public operations -------------------------------------------------- */

static gboolean
engine_refuse(UsbpassEngine *self,
              GTask *task,
              const gchar *actor,
              const gchar *action,
              const gchar *device_id,
              const gchar *instance_uuid,
              GError *error)
{
	engine_audit(self, actor, action, device_id, instance_uuid, error, NULL);
	g_task_return_error(task, error);
	return FALSE;
}

/**
 * usbpass_engine_attach_async:
 * @self: a #UsbpassEngine
 * @device_spec: identity, "BUS:DEVICE" or port path
 * @instance_spec: instance uuid or name
 * @actor: who asks, for the audit log
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the main thread when done
 * @user_data: for @callback
 *
 * Hands the device to the instance: policy, atomic claim, in-use check over
 * every instance, the hypervisor call, and the row's final state.
 */
void
usbpass_engine_attach_async(UsbpassEngine *self,
                            const gchar *device_spec,
                            const gchar *instance_spec,
                            const gchar *actor,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(UsbpassPolicyVerdict) verdict = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(Job) job = NULL;
	g_autoptr(UsbpassHostdev) old_hostdev = NULL;
	g_autofree gchar *vid_pid = NULL;

	g_return_if_fail(USBPASS_IS_ENGINE(self));
	g_return_if_fail(device_spec != NULL);
	g_return_if_fail(instance_spec != NULL);
	g_return_if_fail(actor != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, usbpass_engine_attach_async);

	if (!self->enabled) {
		engine_refuse(
		  self,
		  task,
		  actor,
		  "attach",
		  NULL,
		  NULL,
		  g_error_new(USBPASS_ERROR,
		              USBPASS_ERROR_DISABLED,
		              "USB passthrough is disabled on host '%s': set enabled=true in "
		              "[daemon] of usbpassd.conf or start usbpassd with --enable",
		              self->host));
		return;
	}
	if (!engine_resolve(self, device_spec, &device, &record, &error)) {
		engine_refuse(self, task, actor, "attach", NULL, NULL, g_steal_pointer(&error));
		return;
	}
	if (device == NULL) {
		engine_refuse(self,
		              task,
		              actor,
		              "attach",
		              record->device_id,
		              NULL,
		              g_error_new(USBPASS_ERROR,
		                          USBPASS_ERROR_NOT_FOUND,
		                          "USB device '%s' (%04x:%04x) is not plugged in",
		                          record->device_id,
		                          record->vendor_id,
		                          record->product_id));
		return;
	}
	vid_pid = usbpass_device_get_vid_pid(device);
	if (device->id_conflict != NULL) {
		engine_refuse(self,
		              task,
		              actor,
		              "attach",
		              device->id,
		              NULL,
		              g_error_new(USBPASS_ERROR,
		                          USBPASS_ERROR_INVALID_DATA,
		                          "USB device '%s' (%s) has no stable identity: %s",
		                          device->port,
		                          vid_pid,
		                          device->id_conflict));
		return;
	}
	verdict = usbpass_policy_check(self->policy, device);
	if (!verdict->allowed) {
		engine_refuse(self,
		              task,
		              actor,
		              "attach",
		              device->id,
		              NULL,
		              g_error_new(USBPASS_ERROR,
		                          USBPASS_ERROR_DENIED_BY_POLICY,
		                          "USB device '%s' (%s) is denied by policy rule '%s': %s",
		                          device->port,
		                          vid_pid,
		                          verdict->rule,
		                          verdict->reason));
		return;
	}
	instance = usbpass_driver_lookup_instance(self->driver, instance_spec, &error);
	if (instance == NULL) {
		engine_refuse(
		  self, task, actor, "attach", device->id, NULL, g_steal_pointer(&error));
		return;
	}

	/* a retry after a failure: whatever the failed operation left in the
	 * definition names the row's address, which the job removes first */
	if (record != NULL && record->state == USBPASS_DEVICE_STATE_FAILED &&
	    g_strcmp0(record->instance_uuid, instance->uuid) == 0)
		old_hostdev = hostdev_from_record(record);
	/* the row must exist before it can be claimed, and name the address the
	 * definition will name; an assigned row keeps its own until re-attach */
	if (record == NULL || record->state == USBPASS_DEVICE_STATE_AVAILABLE ||
	    old_hostdev != NULL) {
		g_autoptr(UsbpassStoreDevice) fresh = record_from_device(self->host, device);
		if (!usbpass_store_upsert_device(self->store, fresh, &error)) {
			engine_refuse(self,
			              task,
			              actor,
			              "attach",
			              device->id,
			              instance->uuid,
			              g_steal_pointer(&error));
			return;
		}
	}
	g_clear_pointer(&record, usbpass_store_device_free);
	record = engine_get_record(self, device->id, &error);
	if (record == NULL) {
		engine_refuse(
		  self, task, actor, "attach", device->id, instance->uuid, g_steal_pointer(&error));
		return;
	}
	if (record->state == USBPASS_DEVICE_STATE_ATTACHED &&
	    g_strcmp0(record->instance_uuid, instance->uuid) == 0) {
		/* idempotent: asking again for what is already so is not an error */
		engine_audit(
		  self, actor, "attach", device->id, instance->uuid, NULL, "already attached");
		g_task_return_pointer(task,
		                      usbpass_engine_device_new(device, record),
		                      (GDestroyNotify)usbpass_engine_device_unref);
		return;
	}
	if (!usbpass_store_claim_device(
	      self->store, self->host, device->id, instance->uuid, instance->name, &error)) {
		if (g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE) &&
		    record->instance_name != NULL) {
			g_clear_error(&error);
			g_set_error(&error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_IN_USE,
			            "USB device '%s' (%s) is in use by instance '%s'",
			            device->port,
			            vid_pid,
			            record->instance_name);
		}
		engine_refuse(
		  self, task, actor, "attach", device->id, instance->uuid, g_steal_pointer(&error));
		return;
	}
	engine_emit_changed(self, device->id);

	job = g_new0(Job, 1);
	job->kind = JOB_ATTACH;
	job->device_id = g_strdup(device->id);
	job->device_label = g_strdup_printf("'%s' (%s)", device->port, vid_pid);
	job->instance_uuid = g_strdup(instance->uuid);
	job->instance_name = g_strdup(instance->name);
	job->actor = g_strdup(actor);
	job->hostdev = hostdev_from_device(device);
	job->old_hostdev = g_steal_pointer(&old_hostdev);
	g_task_set_task_data(task, g_steal_pointer(&job), (GDestroyNotify)job_free);
	engine_run_job(self, task, job_attach_thread, engine_attach_finished_cb);
}

/**
 * usbpass_engine_attach_finish:
 * @self: a #UsbpassEngine
 * @res: the result
 * @error: (nullable): the reason the attach did not happen
 *
 * Returns: (transfer full): the device after the attach
 */
UsbpassEngineDevice *
usbpass_engine_attach_finish(UsbpassEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/**
 * usbpass_engine_detach_async:
 * @self: a #UsbpassEngine
 * @device_spec: identity, "BUS:DEVICE" or port path
 * @actor: who asks, for the audit log
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the main thread when done
 * @user_data: for @callback
 *
 * Takes the device back from whatever instance holds it, also when it is
 * unplugged (missing) or its last attach failed.
 */
void
usbpass_engine_detach_async(UsbpassEngine *self,
                            const gchar *device_spec,
                            const gchar *actor,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(Job) job = NULL;
	UsbpassDeviceState from;

	g_return_if_fail(USBPASS_IS_ENGINE(self));
	g_return_if_fail(device_spec != NULL);
	g_return_if_fail(actor != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, usbpass_engine_detach_async);

	if (!engine_resolve(self, device_spec, &device, &record, &error)) {
		engine_refuse(self, task, actor, "detach", NULL, NULL, g_steal_pointer(&error));
		return;
	}
	if (record == NULL || record->state == USBPASS_DEVICE_STATE_AVAILABLE) {
		engine_refuse(self,
		              task,
		              actor,
		              "detach",
		              device != NULL ? device->id : record->device_id,
		              NULL,
		              g_error_new(USBPASS_ERROR,
		                          USBPASS_ERROR_NOT_FOUND,
		                          "USB device '%s' is not attached to any instance",
		                          device != NULL ? device->port : record_label(record)));
		return;
	}
	from = record->state;
	if (from != USBPASS_DEVICE_STATE_ATTACHED && from != USBPASS_DEVICE_STATE_FAILED &&
	    from != USBPASS_DEVICE_STATE_MISSING) {
		engine_refuse(self,
		              task,
		              actor,
		              "detach",
		              record->device_id,
		              record->instance_uuid,
		              g_error_new(USBPASS_ERROR,
		                          USBPASS_ERROR_BUSY,
		                          "USB device '%s' is %s: try again when that has finished",
		                          record_label(record),
		                          usbpass_device_state_to_string(from)));
		return;
	}
	if (!engine_transition(self,
	                       record->device_id,
	                       from,
	                       USBPASS_DEVICE_STATE_DETACHING,
	                       record->instance_uuid,
	                       record->instance_name,
	                       NULL,
	                       &error)) {
		engine_refuse(self,
		              task,
		              actor,
		              "detach",
		              record->device_id,
		              record->instance_uuid,
		              g_steal_pointer(&error));
		return;
	}

	job = g_new0(Job, 1);
	job->kind = JOB_DETACH;
	job->device_id = g_strdup(record->device_id);
	job->device_label = g_strdup(record_label(record));
	job->instance_uuid = g_strdup(record->instance_uuid);
	job->instance_name = g_strdup(record->instance_name);
	job->actor = g_strdup(actor);
	/* the definition names the address of the last attach, which the row keeps */
	job->hostdev = hostdev_from_record(record);
	g_task_set_task_data(task, g_steal_pointer(&job), (GDestroyNotify)job_free);
	engine_run_job(self, task, job_detach_thread, engine_detach_finished_cb);
}

/**
 * usbpass_engine_detach_finish:
 * @self: a #UsbpassEngine
 * @res: the result
 * @error: (nullable): the reason the detach did not happen
 *
 * Returns: (transfer full): the device after the detach
 */
UsbpassEngineDevice *
usbpass_engine_detach_finish(UsbpassEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

typedef struct {
	GAsyncResult *res;
} SyncHelper;

static void
engine_sync_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	SyncHelper *helper = user_data;
	helper->res = g_object_ref(res);
}

static GAsyncResult *
engine_wait(SyncHelper *helper)
{
	while (helper->res == NULL)
		g_main_context_iteration(g_main_context_get_thread_default(), TRUE);
	return helper->res;
}

/**
 * usbpass_engine_attach:
 * @self: a #UsbpassEngine
 * @device_spec: identity, "BUS:DEVICE" or port path
 * @instance_spec: instance uuid or name
 * @actor: who asks, for the audit log
 * @error: (nullable): the reason the attach did not happen
 *
 * Blocking form of usbpass_engine_attach_async(), iterating the thread-default
 * main context until done.
 *
 * Returns: (transfer full): the device after the attach
 */
UsbpassEngineDevice *
usbpass_engine_attach(UsbpassEngine *self,
                      const gchar *device_spec,
                      const gchar *instance_spec,
                      const gchar *actor,
                      GError **error)
{
	SyncHelper helper = { NULL };
	g_autoptr(GAsyncResult) res = NULL;
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	usbpass_engine_attach_async(
	  self, device_spec, instance_spec, actor, NULL, engine_sync_cb, &helper);
	res = engine_wait(&helper);
	return usbpass_engine_attach_finish(self, res, error);
}

/**
 * usbpass_engine_detach:
 * @self: a #UsbpassEngine
 * @device_spec: identity, "BUS:DEVICE" or port path
 * @actor: who asks, for the audit log
 * @error: (nullable): the reason the detach did not happen
 *
 * Blocking form of usbpass_engine_detach_async().
 *
 * Returns: (transfer full): the device after the detach
 */
UsbpassEngineDevice *
usbpass_engine_detach(UsbpassEngine *self,
                      const gchar *device_spec,
                      const gchar *actor,
                      GError **error)
{
	SyncHelper helper = { NULL };
	g_autoptr(GAsyncResult) res = NULL;
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	usbpass_engine_detach_async(self, device_spec, actor, NULL, engine_sync_cb, &helper);
	res = engine_wait(&helper);
	return usbpass_engine_detach_finish(self, res, error);
}

/* ---- automatic re-attach after re-plug ------------------------------------ */

static void
engine_reattach_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UsbpassEngine *self = USBPASS_ENGINE(source);
	g_autoptr(UsbpassEngineDevice) engine_device = NULL;
	g_autoptr(GError) error = NULL;

	engine_device = g_task_propagate_pointer(G_TASK(res), &error);
	if (engine_device == NULL)
		g_warning("cannot re-attach re-plugged USB device: %s", error->message);
	else
		g_info("re-attached USB device '%s' to instance '%s'",
		       engine_device->record->device_id,
		       engine_device->record->instance_name);
	(void)self;
}

/* the device of an assigned row is (back) in the inventory: give it to the
 * instance again at its new address, replacing the stale definition */
static void
engine_reattach(UsbpassEngine *self, const gchar *device_id)
{
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GTask) task = NULL;
	g_autoptr(Job) job = NULL;
	g_autofree gchar *vid_pid = NULL;

	/* the job acting on it catches up when it ends */
	if (g_hash_table_contains(self->in_flight, device_id))
		return;
	record = engine_get_record(self, device_id, NULL);
	device = usbpass_inventory_find_by_id(self->inventory, device_id, NULL);
	if (record == NULL || device == NULL || record->instance_uuid == NULL)
		return;
	if (record->state != USBPASS_DEVICE_STATE_MISSING &&
	    record->state != USBPASS_DEVICE_STATE_ATTACHED)
		return;
	if (!engine_transition(self,
	                       device_id,
	                       record->state,
	                       USBPASS_DEVICE_STATE_ATTACHING,
	                       record->instance_uuid,
	                       record->instance_name,
	                       NULL,
	                       &error)) {
		g_warning("cannot re-attach '%s': %s", device_id, error->message);
		return;
	}
	vid_pid = usbpass_device_get_vid_pid(device);
	job = g_new0(Job, 1);
	job->kind = JOB_REATTACH;
	job->device_id = g_strdup(device_id);
	job->device_label = g_strdup_printf("'%s' (%s)", device->port, vid_pid);
	job->instance_uuid = g_strdup(record->instance_uuid);
	job->instance_name = g_strdup(record->instance_name);
	job->actor = g_strdup(ENGINE_ACTOR);
	job->old_hostdev = hostdev_from_record(record);
	job->hostdev = hostdev_from_device(device);

	/* the row keeps the new address from now on: the definition will name it */
	{
		g_autoptr(UsbpassStoreDevice) fresh = record_from_device(self->host, device);
		if (!usbpass_store_upsert_device(self->store, fresh, &error))
			g_warning(
			  "cannot record new address of '%s': %s", device_id, error->message);
		g_clear_error(&error);
	}
	task = g_task_new(self, NULL, engine_reattach_cb, NULL);
	g_task_set_task_data(task, g_steal_pointer(&job), (GDestroyNotify)job_free);
	engine_run_job(self, task, job_attach_thread, engine_attach_finished_cb);
}

/* ---- inventory and driver events ------------------------------------------ */

static void
engine_inventory_event_cb(UsbpassInventory *inventory,
                          UsbpassInventoryEvent *event,
                          gpointer user_data)
{
	UsbpassEngine *self = USBPASS_ENGINE(user_data);
	UsbpassDevice *device = event->device;
	g_autoptr(UsbpassStoreDevice) record = NULL;
	g_autoptr(GError) error = NULL;

	if (event->kind == USBPASS_INVENTORY_EVENT_REMOVED) {
		record = engine_get_record(self, device->id, NULL);
		if (record == NULL)
			return;
		if (!usbpass_store_set_present(
		      self->store, self->host, device->id, FALSE, &error)) {
			g_warning("cannot record unplug of '%s': %s", device->id, error->message);
			return;
		}
		if (record->state == USBPASS_DEVICE_STATE_ATTACHED ||
		    record->state == USBPASS_DEVICE_STATE_FAILED) {
			/* the assignment outlives the unplug: re-plug gives it back */
			if (!engine_transition(self,
			                       device->id,
			                       record->state,
			                       USBPASS_DEVICE_STATE_MISSING,
			                       record->instance_uuid,
			                       record->instance_name,
			                       NULL,
			                       &error)) {
				g_warning(
				  "cannot mark '%s' missing: %s", device->id, error->message);
				return;
			}
			engine_audit(self,
			             ENGINE_ACTOR,
			             "unplug",
			             device->id,
			             record->instance_uuid,
			             NULL,
			             "device unplugged while attached");
		} else {
			engine_emit_changed(self, device->id);
		}
		return;
	}

	/* added or changed: refresh the row's name and address */
	/* every device the host has gets a row, so host_usb_devices lists them all */
	record = engine_get_record(self, device->id, NULL);
	{
		g_autoptr(UsbpassStoreDevice) fresh = record_from_device(self->host, device);
		gboolean moved = record != NULL &&
		                 (record->bus != device->bus || record->device != device->device);
		/* a re-attach needs the old address to find the stale definition */
		if (record != NULL && record->instance_uuid != NULL && moved) {
			/* the row keeps the address the definition names: a re-attach
			 * rewrites both, or the job acting on it catches up later, or
			 * (failed) the next attach or detach of the operator does */
			if (record->state == USBPASS_DEVICE_STATE_MISSING ||
			    record->state == USBPASS_DEVICE_STATE_ATTACHED) {
				engine_reattach(self, device->id);
			} else if (!record->present &&
			           !usbpass_store_set_present(
			             self->store, self->host, device->id, TRUE, &error)) {
				g_warning(
				  "cannot record re-plug of '%s': %s", device->id, error->message);
			}
			return;
		}
		if (!usbpass_store_upsert_device(self->store, fresh, &error)) {
			g_warning("cannot record '%s': %s", device->id, error->message);
			return;
		}
		if (record != NULL && record->state == USBPASS_DEVICE_STATE_MISSING) {
			/* same address again (the kernel may reuse a devnum): re-attach anyway */
			engine_reattach(self, device->id);
			return;
		}
		engine_emit_changed(self, device->id);
	}
}

/* every row assigned to @uuid */
static GPtrArray *
engine_rows_of_instance(UsbpassEngine *self, const gchar *uuid, GError **error)
{
	g_autoptr(GPtrArray) rows = usbpass_store_list_devices(self->store, self->host, error);
	g_autoptr(GPtrArray) result =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_store_device_free);
	if (rows == NULL)
		return NULL;
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		if (g_strcmp0(row->instance_uuid, uuid) == 0)
			g_ptr_array_add(result, usbpass_store_device_copy(row));
	}
	return g_steal_pointer(&result);
}

static void
engine_release_instance(UsbpassEngine *self, const gchar *uuid, const gchar *why)
{
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GError) error = NULL;

	rows = engine_rows_of_instance(self, uuid, &error);
	if (rows == NULL) {
		g_warning("cannot list devices of instance '%s': %s", uuid, error->message);
		return;
	}
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_autoptr(GError) error_local = NULL;
		if (g_hash_table_contains(self->in_flight, row->device_id))
			continue;
		if (!engine_transition(self,
		                       row->device_id,
		                       row->state,
		                       USBPASS_DEVICE_STATE_AVAILABLE,
		                       NULL,
		                       NULL,
		                       NULL,
		                       &error_local)) {
			g_warning("cannot release '%s': %s", row->device_id, error_local->message);
			continue;
		}
		engine_audit(self, ENGINE_ACTOR, "release", row->device_id, uuid, NULL, why);
	}
}

/* an instance (re)started: make sure its assigned, present devices are in it */
static void
engine_check_instance(UsbpassEngine *self, const gchar *uuid)
{
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(GError) error = NULL;

	rows = engine_rows_of_instance(self, uuid, &error);
	if (rows == NULL || rows->len == 0)
		return;
	hostdevs = usbpass_driver_list_hostdevs(self->driver, uuid, &error);
	if (hostdevs == NULL) {
		g_debug("cannot check instance '%s': %s", uuid, error->message);
		return;
	}
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_autoptr(UsbpassDevice) device = NULL;
		g_autoptr(UsbpassHostdev) wanted = NULL;
		gboolean live_ok = FALSE;

		if (row->state != USBPASS_DEVICE_STATE_ATTACHED &&
		    row->state != USBPASS_DEVICE_STATE_MISSING)
			continue;
		device = usbpass_inventory_find_by_id(self->inventory, row->device_id, NULL);
		if (device == NULL)
			continue;
		wanted = hostdev_from_device(device);
		for (guint j = 0; j < hostdevs->len; j++) {
			UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, j);
			if (usbpass_hostdev_matches(hostdev, wanted) && !hostdev->missing)
				live_ok = TRUE;
		}
		/* started while the device was absent: the hypervisor kept only a
		 * placeholder that never picks the device up, so attach it for real */
		if (!live_ok)
			engine_reattach(self, row->device_id);
	}
}

static void
engine_instance_event_cb(UsbpassDriver *driver, const gchar *uuid, gint kind, gpointer user_data)
{
	UsbpassEngine *self = USBPASS_ENGINE(user_data);

	switch ((UsbpassInstanceEventKind)kind) {
	case USBPASS_INSTANCE_EVENT_UNDEFINED:
		engine_release_instance(self, uuid, "instance undefined");
		break;
	case USBPASS_INSTANCE_EVENT_STOPPED: {
		/* a transient instance vanishes when it stops */
		g_autoptr(UsbpassInstance) instance = NULL;
		g_autoptr(GError) error = NULL;
		instance = usbpass_driver_lookup_instance(self->driver, uuid, &error);
		if (instance == NULL &&
		    g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND))
			engine_release_instance(self, uuid, "transient instance stopped");
		break;
	}
	case USBPASS_INSTANCE_EVENT_MIGRATED:
		engine_release_instance(self, uuid, "instance migrated to another host");
		break;
	case USBPASS_INSTANCE_EVENT_STARTED:
	case USBPASS_INSTANCE_EVENT_REBOOTED:
	case USBPASS_INSTANCE_EVENT_RESUMED:
		engine_check_instance(self, uuid);
		break;
	default:
		break;
	}
}

static void
engine_connection_changed_cb(UsbpassDriver *driver, gboolean connected, gpointer user_data)
{
	UsbpassEngine *self = USBPASS_ENGINE(user_data);
	g_autoptr(GError) error = NULL;

	if (!connected) {
		g_warning("lost the connection to the %s driver; will reconcile on reconnect",
		          usbpass_driver_get_name(driver));
		return;
	}
	/* events may have been missed while disconnected */
	if (!usbpass_engine_reconcile(self, &error))
		g_warning("reconcile after reconnect failed: %s", error->message);
}

/* ---- reconcile ------------------------------------------------------------ */

typedef struct {
	UsbpassInstance *instance;
	GPtrArray *hostdevs; /* of UsbpassHostdev */
} InstanceDefinition;

static void
instance_definition_free(InstanceDefinition *self)
{
	if (self == NULL)
		return;
	if (self->instance != NULL)
		usbpass_instance_unref(self->instance);
	if (self->hostdevs != NULL)
		g_ptr_array_unref(self->hostdevs);
	g_free(self);
}

/* uuid -> InstanceDefinition */
static GHashTable *
engine_read_definitions(UsbpassEngine *self, GError **error)
{
	g_autoptr(GPtrArray) all = usbpass_driver_list_all_hostdevs(self->driver, error);
	g_autoptr(GHashTable) definitions = NULL;
	if (all == NULL)
		return NULL;
	definitions = g_hash_table_new_full(
	  g_str_hash, g_str_equal, NULL, (GDestroyNotify)instance_definition_free);
	for (guint i = 0; i < all->len; i++) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, i);
		InstanceDefinition *definition = g_new0(InstanceDefinition, 1);
		definition->instance = usbpass_instance_ref(entry->instance);
		definition->hostdevs = g_ptr_array_ref(entry->hostdevs);
		g_hash_table_insert(definitions, definition->instance->uuid, definition);
	}
	return g_steal_pointer(&definitions);
}

static gboolean
definition_has(InstanceDefinition *definition, const UsbpassHostdev *wanted)
{
	if (definition == NULL)
		return FALSE;
	for (guint i = 0; i < definition->hostdevs->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(definition->hostdevs, i);
		if (usbpass_hostdev_matches(hostdev, wanted))
			return TRUE;
	}
	return FALSE;
}

/* same vendor:product at any address, or a placeholder */
static gboolean
definition_has_model(InstanceDefinition *definition, const UsbpassHostdev *wanted)
{
	if (definition == NULL)
		return FALSE;
	for (guint i = 0; i < definition->hostdevs->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(definition->hostdevs, i);
		if (hostdev->vendor_id == 0 && hostdev->product_id == 0)
			return TRUE;
		if (hostdev->vendor_id == wanted->vendor_id &&
		    hostdev->product_id == wanted->product_id)
			return TRUE;
	}
	return FALSE;
}

/* whether the row says what the inventory says of the device */
static gboolean
record_matches_device(const UsbpassStoreDevice *record, const UsbpassDevice *device)
{
	return record->present && record->bus == device->bus && record->device == device->device &&
	       record->vendor_id == device->vendor_id && record->product_id == device->product_id &&
	       g_strcmp0(record->name, device->name) == 0 &&
	       g_strcmp0(record->serial, device->serial) == 0 &&
	       g_strcmp0(record->port, device->port) == 0;
}

/* one read of all rows, then a write only for what changed: a steady pass
 * over a thousand devices writes nothing */
static gboolean
engine_record_inventory(UsbpassEngine *self, GError **error)
{
	g_autoptr(GPtrArray) devices = usbpass_inventory_get_devices(self->inventory);
	g_autoptr(GPtrArray) rows = usbpass_store_list_devices(self->store, self->host, error);
	/* device_id -> UsbpassStoreDevice of @rows */
	g_autoptr(GHashTable) by_id = g_hash_table_new(g_str_hash, g_str_equal);
	/* device ids the inventory has; TRUE when this pass wrote the row */
	g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);

	if (rows == NULL)
		return FALSE;
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_hash_table_insert(by_id, row->device_id, row);
	}
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		UsbpassStoreDevice *existing = g_hash_table_lookup(by_id, device->id);
		g_autoptr(UsbpassStoreDevice) fresh = NULL;
		g_hash_table_insert(present, device->id, GINT_TO_POINTER(FALSE));
		/* an assigned row keeps its old address until re-attach rewrites the definition */
		if (existing != NULL && existing->instance_uuid != NULL &&
		    (existing->bus != device->bus || existing->device != device->device))
			continue;
		if (existing != NULL && record_matches_device(existing, device))
			continue;
		fresh = record_from_device(self->host, device);
		if (!usbpass_store_upsert_device(self->store, fresh, error))
			return FALSE;
		g_hash_table_insert(present, device->id, GINT_TO_POINTER(TRUE));
	}
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		gpointer written = NULL;
		gboolean is_present =
		  g_hash_table_lookup_extended(present, row->device_id, NULL, &written);
		/* the upsert marked it present already */
		if (GPOINTER_TO_INT(written))
			continue;
		if (row->present != is_present &&
		    !usbpass_store_set_present(
		      self->store, self->host, row->device_id, is_present, error))
			return FALSE;
	}
	return TRUE;
}

/* one move of reconcile and its audit line; the row keeps its instance
 * unless it becomes available */
static gboolean
engine_reconcile_move(UsbpassEngine *self,
                      const UsbpassStoreDevice *row,
                      UsbpassDeviceState to,
                      const gchar *action,
                      const gchar *why,
                      GError **error)
{
	gboolean release = to == USBPASS_DEVICE_STATE_AVAILABLE;
	if (!engine_transition(self,
	                       row->device_id,
	                       row->state,
	                       to,
	                       release ? NULL : row->instance_uuid,
	                       release ? NULL : row->instance_name,
	                       NULL,
	                       error))
		return FALSE;
	engine_audit(self, ENGINE_ACTOR, action, row->device_id, row->instance_uuid, NULL, why);
	return TRUE;
}

/**
 * usbpass_engine_reconcile:
 * @self: a #UsbpassEngine
 * @error: (nullable): why the store or the driver could not be read
 *
 * Brings the store in line with the inventory and the instances' definitions:
 * rows left in attaching/detaching by a crash are finished or rolled back,
 * hostdevs found in definitions are imported, assignments of vanished
 * instances released, unplugged devices marked missing and re-plugged ones
 * re-attached. Running it twice changes nothing the second time.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_engine_reconcile(UsbpassEngine *self, GError **error)
{
	g_autoptr(GHashTable) definitions = NULL;
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) reattach = g_ptr_array_new_with_free_func(g_free);
	/* rows this pass already acted on: the definitions read above are stale for them */
	g_autoptr(GHashTable) settled =
	  g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	g_return_val_if_fail(USBPASS_IS_ENGINE(self), FALSE);

	if (!engine_record_inventory(self, error))
		return FALSE;
	definitions = engine_read_definitions(self, error);
	if (definitions == NULL)
		return FALSE;
	rows = usbpass_store_list_devices(self->store, self->host, error);
	if (rows == NULL)
		return FALSE;

	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_autoptr(UsbpassHostdev) hostdev = hostdev_from_record(row);
		g_autoptr(GError) error_local = NULL;
		InstanceDefinition *definition = NULL;
		gboolean held;

		/* this process is acting on it right now */
		if (g_hash_table_contains(self->in_flight, row->device_id))
			continue;
		if (row->instance_uuid != NULL)
			definition = g_hash_table_lookup(definitions, row->instance_uuid);
		held = definition_has(definition, hostdev);
		if (row->state != USBPASS_DEVICE_STATE_AVAILABLE)
			g_hash_table_add(settled, g_strdup(row->device_id));

		switch (row->state) {
		case USBPASS_DEVICE_STATE_ATTACHING:
			/* crashed mid-attach: the definition says whether it happened */
			if (held)
				engine_reconcile_move(self,
				                      row,
				                      USBPASS_DEVICE_STATE_ATTACHED,
				                      "reconcile",
				                      "interrupted attach finished",
				                      &error_local);
			else if (definition_has_model(definition, hostdev)) {
				/* an interrupted re-attach: the instance still names the device
				 * at its old address or as a placeholder, so keep the assignment */
				if (engine_reconcile_move(self,
				                          row,
				                          USBPASS_DEVICE_STATE_MISSING,
				                          "reconcile",
				                          "interrupted re-attach resumed",
				                          &error_local) &&
				    row->present)
					g_ptr_array_add(reattach, g_strdup(row->device_id));
			} else
				engine_reconcile_move(self,
				                      row,
				                      USBPASS_DEVICE_STATE_AVAILABLE,
				                      "reconcile",
				                      "interrupted attach rolled back",
				                      &error_local);
			break;
		case USBPASS_DEVICE_STATE_DETACHING:
			/* crashed mid-detach: the caller wanted it gone, so finish the job */
			if (held &&
			    !usbpass_driver_detach(
			      self->driver, row->instance_uuid, hostdev, &error_local) &&
			    !g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
				g_autoptr(GError) error_store = NULL;
				if (!engine_transition(self,
				                       row->device_id,
				                       row->state,
				                       USBPASS_DEVICE_STATE_FAILED,
				                       row->instance_uuid,
				                       row->instance_name,
				                       error_local->message,
				                       &error_store))
					g_warning("cannot record failure of '%s': %s",
					          row->device_id,
					          error_store->message);
				engine_audit(self,
				             ENGINE_ACTOR,
				             "reconcile",
				             row->device_id,
				             row->instance_uuid,
				             error_local,
				             NULL);
				g_clear_error(&error_local);
				break;
			}
			g_clear_error(&error_local);
			engine_reconcile_move(self,
			                      row,
			                      USBPASS_DEVICE_STATE_AVAILABLE,
			                      "reconcile",
			                      "interrupted detach finished",
			                      &error_local);
			break;
		case USBPASS_DEVICE_STATE_ATTACHED:
		case USBPASS_DEVICE_STATE_MISSING:
		case USBPASS_DEVICE_STATE_FAILED: {
			g_autoptr(UsbpassDevice) device = NULL;
			if (definition == NULL) {
				/* the instance is gone: so is the assignment */
				engine_reconcile_move(self,
				                      row,
				                      USBPASS_DEVICE_STATE_AVAILABLE,
				                      "release",
				                      "instance no longer exists",
				                      &error_local);
				break;
			}
			if (row->state == USBPASS_DEVICE_STATE_FAILED) {
				/* the hypervisor did the work and then reported an error */
				if (held && row->present)
					engine_reconcile_move(
					  self,
					  row,
					  USBPASS_DEVICE_STATE_ATTACHED,
					  "reconcile",
					  "failed row found in the instance's definition",
					  &error_local);
				break;
			}
			if (!row->present) {
				if (row->state == USBPASS_DEVICE_STATE_ATTACHED)
					engine_reconcile_move(
					  self,
					  row,
					  USBPASS_DEVICE_STATE_MISSING,
					  "reconcile",
					  "device unplugged while usbpassd was away",
					  &error_local);
				break;
			}
			device =
			  usbpass_inventory_find_by_id(self->inventory, row->device_id, NULL);
			if (row->state == USBPASS_DEVICE_STATE_MISSING ||
			    (device != NULL &&
			     (device->bus != row->bus || device->device != row->device)))
				g_ptr_array_add(reattach, g_strdup(row->device_id));
			else if (!held)
				engine_reconcile_move(
				  self,
				  row,
				  USBPASS_DEVICE_STATE_AVAILABLE,
				  "release",
				  "device no longer in the instance's definition",
				  &error_local);
			break;
		}
		default:
			break;
		}
		if (error_local != NULL)
			g_warning("reconcile of '%s': %s", row->device_id, error_local->message);
	}

	/* import devices that instances hold but no row says so */
	devices = usbpass_inventory_get_devices(self->inventory);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		g_autoptr(UsbpassHostdev) hostdev = hostdev_from_device(device);
		g_autoptr(UsbpassStoreDevice) row = NULL;
		GHashTableIter iter;
		InstanceDefinition *definition;

		if (g_hash_table_contains(settled, device->id))
			continue;
		row = engine_get_record(self, device->id, NULL);
		if (row == NULL || row->state != USBPASS_DEVICE_STATE_AVAILABLE)
			continue;
		g_hash_table_iter_init(&iter, definitions);
		while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&definition)) {
			g_autoptr(GError) error_local = NULL;
			if (!definition_has(definition, hostdev))
				continue;
			if (!usbpass_store_claim_device(self->store,
			                                self->host,
			                                device->id,
			                                definition->instance->uuid,
			                                definition->instance->name,
			                                &error_local) ||
			    !engine_transition(self,
			                       device->id,
			                       USBPASS_DEVICE_STATE_ATTACHING,
			                       USBPASS_DEVICE_STATE_ATTACHED,
			                       definition->instance->uuid,
			                       definition->instance->name,
			                       NULL,
			                       &error_local)) {
				g_warning("cannot import '%s' of instance '%s': %s",
				          device->id,
				          definition->instance->name,
				          error_local->message);
				break;
			}
			engine_audit(self,
			             ENGINE_ACTOR,
			             "import",
			             device->id,
			             definition->instance->uuid,
			             NULL,
			             "found in the instance's definition");
			break;
		}
	}

	for (guint i = 0; i < reattach->len; i++)
		engine_reattach(self, g_ptr_array_index(reattach, i));
	return TRUE;
}

/* ---- queries -------------------------------------------------------------- */

static gint
engine_device_sort_cb(gconstpointer a, gconstpointer b)
{
	const UsbpassEngineDevice *da = *(const UsbpassEngineDevice *const *)a;
	const UsbpassEngineDevice *db = *(const UsbpassEngineDevice *const *)b;
	/* present first, in the inventory's order (kept by a stable sort) */
	if ((da->device == NULL) != (db->device == NULL))
		return da->device == NULL ? 1 : -1;
	if (da->device == NULL)
		return g_strcmp0(da->record->device_id, db->record->device_id);
	return 0;
}

/**
 * usbpass_engine_list_devices:
 * @self: a #UsbpassEngine
 * @error: (nullable): why the store could not be read
 *
 * Returns: (transfer container) (element-type UsbpassEngineDevice): present
 * devices in the inventory's order, then recorded absent ones
 */
GPtrArray *
usbpass_engine_list_devices(UsbpassEngine *self, GError **error)
{
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) result = NULL;
	g_autoptr(GHashTable) rows_by_id = g_hash_table_new(g_str_hash, g_str_equal);

	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);

	rows = usbpass_store_list_devices(self->store, self->host, error);
	if (rows == NULL)
		return NULL;
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_hash_table_insert(rows_by_id, row->device_id, row);
	}
	devices = usbpass_inventory_get_devices(self->inventory);
	result = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_engine_device_unref);
	for (guint i = 0; i < devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(devices, i);
		UsbpassStoreDevice *row = g_hash_table_lookup(rows_by_id, device->id);
		g_ptr_array_add(result, usbpass_engine_device_new(device, row));
		g_hash_table_remove(rows_by_id, device->id);
	}
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		if (g_hash_table_contains(rows_by_id, row->device_id))
			g_ptr_array_add(result, usbpass_engine_device_new(NULL, row));
	}
	g_ptr_array_sort(result, engine_device_sort_cb);
	return g_steal_pointer(&result);
}

/**
 * usbpass_engine_find_device:
 * @self: a #UsbpassEngine
 * @spec: identity, "BUS:DEVICE" or port path
 * @error: (nullable): %USBPASS_ERROR_NOT_FOUND when neither plugged in nor recorded
 *
 * Returns: (transfer full): the device
 */
UsbpassEngineDevice *
usbpass_engine_find_device(UsbpassEngine *self, const gchar *spec, GError **error)
{
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassStoreDevice) record = NULL;

	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(spec != NULL, NULL);

	if (!engine_resolve(self, spec, &device, &record, error))
		return NULL;
	return usbpass_engine_device_new(device, record);
}

/**
 * usbpass_engine_check_policy:
 * @self: a #UsbpassEngine
 * @spec: identity, "BUS:DEVICE" or port path of a plugged-in device
 * @error: (nullable): %USBPASS_ERROR_NOT_FOUND when not plugged in
 *
 * Returns: (transfer full): whether an attach would be allowed, and by which rule
 */
UsbpassPolicyVerdict *
usbpass_engine_check_policy(UsbpassEngine *self, const gchar *spec, GError **error)
{
	g_autoptr(UsbpassDevice) device = NULL;

	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(spec != NULL, NULL);

	device = usbpass_inventory_find(self->inventory, spec, error);
	if (device == NULL)
		return NULL;
	return usbpass_policy_check(self->policy, device);
}

/**
 * usbpass_engine_list_instances:
 * @self: a #UsbpassEngine
 * @error: (nullable): the driver's failure
 *
 * Returns: (transfer container) (element-type UsbpassInstance)
 */
GPtrArray *
usbpass_engine_list_instances(UsbpassEngine *self, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return usbpass_driver_list_instances(self->driver, error);
}

/**
 * usbpass_engine_lookup_instance:
 * @self: a #UsbpassEngine
 * @spec: uuid or name
 * @error: (nullable): %USBPASS_ERROR_NOT_FOUND for an unknown instance
 *
 * Returns: (transfer full): the instance
 */
UsbpassInstance *
usbpass_engine_lookup_instance(UsbpassEngine *self, const gchar *spec, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(spec != NULL, NULL);
	return usbpass_driver_lookup_instance(self->driver, spec, error);
}

/**
 * usbpass_engine_list_instance_devices:
 * @self: a #UsbpassEngine
 * @uuid: an instance uuid
 * @error: (nullable): the store's failure
 *
 * Returns: (transfer container) (element-type UsbpassStoreDevice): rows assigned to @uuid
 */
GPtrArray *
usbpass_engine_list_instance_devices(UsbpassEngine *self, const gchar *uuid, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	g_return_val_if_fail(uuid != NULL, NULL);
	return engine_rows_of_instance(self, uuid, error);
}

/* ---- life cycle ----------------------------------------------------------- */

/**
 * usbpass_engine_start:
 * @self: a #UsbpassEngine
 * @error: (nullable): why the first reconcile failed
 *
 * Listens to the inventory and the driver, then reconciles. When the driver is
 * not connected yet, the reconcile waits for its connection-changed signal and
 * this still succeeds.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_engine_start(UsbpassEngine *self, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), FALSE);

	if (self->started)
		return TRUE;
	self->inventory_event_id =
	  g_signal_connect(self->inventory, "event", G_CALLBACK(engine_inventory_event_cb), self);
	self->driver_event_id = g_signal_connect(
	  self->driver, "instance-event", G_CALLBACK(engine_instance_event_cb), self);
	self->driver_connection_id = g_signal_connect(
	  self->driver, "connection-changed", G_CALLBACK(engine_connection_changed_cb), self);
	self->started = TRUE;
	if (!usbpass_driver_is_connected(self->driver))
		return engine_record_inventory(self, error);
	return usbpass_engine_reconcile(self, error);
}

/**
 * usbpass_engine_get_jobs_in_flight:
 * @self: a #UsbpassEngine
 *
 * Returns: the number of attach, detach and re-attach jobs whose hypervisor
 * call has not finished, whoever started them
 */
guint
usbpass_engine_get_jobs_in_flight(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), 0);
	return g_hash_table_size(self->in_flight);
}

const gchar *
usbpass_engine_get_host(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return self->host;
}

void
usbpass_engine_set_enabled(UsbpassEngine *self, gboolean enabled)
{
	g_return_if_fail(USBPASS_IS_ENGINE(self));
	self->enabled = enabled;
}

gboolean
usbpass_engine_get_enabled(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), FALSE);
	return self->enabled;
}

void
usbpass_engine_set_policy(UsbpassEngine *self, UsbpassPolicy *policy)
{
	g_return_if_fail(USBPASS_IS_ENGINE(self));
	g_return_if_fail(USBPASS_IS_POLICY(policy));
	g_set_object(&self->policy, policy);
}

UsbpassPolicy *
usbpass_engine_get_policy(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return self->policy;
}

UsbpassStore *
usbpass_engine_get_store(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return self->store;
}

UsbpassInventory *
usbpass_engine_get_inventory(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return self->inventory;
}

UsbpassDriver *
usbpass_engine_get_driver(UsbpassEngine *self)
{
	g_return_val_if_fail(USBPASS_IS_ENGINE(self), NULL);
	return self->driver;
}

static void
usbpass_engine_dispose(GObject *object)
{
	UsbpassEngine *self = USBPASS_ENGINE(object);
	if (self->inventory != NULL && self->inventory_event_id != 0)
		g_clear_signal_handler(&self->inventory_event_id, self->inventory);
	if (self->driver != NULL) {
		g_clear_signal_handler(&self->driver_event_id, self->driver);
		g_clear_signal_handler(&self->driver_connection_id, self->driver);
	}
	g_clear_object(&self->inventory);
	g_clear_object(&self->store);
	g_clear_object(&self->driver);
	g_clear_object(&self->policy);
	G_OBJECT_CLASS(usbpass_engine_parent_class)->dispose(object);
}

static void
usbpass_engine_finalize(GObject *object)
{
	UsbpassEngine *self = USBPASS_ENGINE(object);
	g_free(self->host);
	g_hash_table_unref(self->in_flight);
	G_OBJECT_CLASS(usbpass_engine_parent_class)->finalize(object);
}

static void
usbpass_engine_class_init(UsbpassEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = usbpass_engine_dispose;
	object_class->finalize = usbpass_engine_finalize;

	/**
	 * UsbpassEngine::device-changed:
	 * @self: the engine
	 * @device: (type UsbpassEngineDevice): the device after the change
	 *
	 * Emitted after each change of a row of host_usb_devices.
	 */
	signals[SIGNAL_DEVICE_CHANGED] = g_signal_new("device-changed",
	                                              G_TYPE_FROM_CLASS(klass),
	                                              G_SIGNAL_RUN_LAST,
	                                              0,
	                                              NULL,
	                                              NULL,
	                                              NULL,
	                                              G_TYPE_NONE,
	                                              1,
	                                              usbpass_engine_device_get_type());
}

static void
usbpass_engine_init(UsbpassEngine *self)
{
	self->in_flight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * usbpass_engine_new:
 * @host: this host's name, qualifying every identity in the store
 * @inventory: the live inventory
 * @store: the assignment store
 * @driver: the hypervisor driver
 *
 * Creates a disabled engine with the built-in policy.
 *
 * Returns: (transfer full): a new #UsbpassEngine
 */
UsbpassEngine *
usbpass_engine_new(const gchar *host,
                   UsbpassInventory *inventory,
                   UsbpassStore *store,
                   UsbpassDriver *driver)
{
	UsbpassEngine *self;

	g_return_val_if_fail(host != NULL, NULL);
	g_return_val_if_fail(USBPASS_IS_INVENTORY(inventory), NULL);
	g_return_val_if_fail(USBPASS_IS_STORE(store), NULL);
	g_return_val_if_fail(USBPASS_IS_DRIVER(driver), NULL);

	self = g_object_new(USBPASS_TYPE_ENGINE, NULL);
	self->host = g_strdup(host);
	self->inventory = g_object_ref(inventory);
	self->store = g_object_ref(store);
	self->driver = g_object_ref(driver);
	self->policy = usbpass_policy_new();
	return self;
}

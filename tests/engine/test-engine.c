/*
 * test-engine.c: the assignment state machine against the in-memory driver
 *
 * Every transition, every refusal, unplug and re-plug, instance events, crash
 * recovery at each transition, reconcile idempotence and concurrent claims.
 * The inventory is fed complete device sets through its private snapshot hook,
 * the store is a SQLite file in a fresh temporary directory per test.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-engine.h"
#include "usbpass-error.h"
#include "usbpass-inventory-private.h"
#include "usbpass-test-driver.h"

#define HOST "host-a"

typedef struct {
	gchar *tmpdir;
	gchar *db_path;
	UsbpassInventory *inventory;
	UsbpassStore *store;
	UsbpassTestDriver *driver;
	UsbpassEngine *engine;
	GPtrArray *devices; /* of UsbpassDevice: the host's current set */
	gchar *off_uuid;    /* shut off, persistent */
	gchar *on_uuid;     /* running, persistent */
	gchar *paused_uuid;
	gchar *transient_uuid;
	guint changed_count;
} Fixture;

static UsbpassDevice *
make_device(const gchar *port,
            guint bus,
            guint devnum,
            guint16 vendor_id,
            guint16 product_id,
            const gchar *serial,
            guint8 device_class)
{
	UsbpassDevice *device = usbpass_device_new();
	device->syspath =
	  g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb%u/%s", bus, port);
	device->port = g_strdup(port);
	device->parent_port = g_strdup_printf("usb%u", bus);
	device->bus = bus;
	device->device = devnum;
	device->vendor_id = vendor_id;
	device->product_id = product_id;
	device->serial = g_strdup(serial);
	device->device_class = device_class;
	device->is_hub = device_class == 9;
	device->vendor_name = g_strdup("Vendor");
	device->product_name = g_strdup_printf("Product %04x", product_id);
	device->name = g_strdup_printf("Vendor Product %04x", product_id);
	return device;
}

/* the inventory's copy of the device at @port, for its identity */
static gchar *
device_id_at(Fixture *fx, const gchar *port)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassDevice) device = usbpass_inventory_find(fx->inventory, port, &error);
	g_assert_no_error(error);
	g_assert_nonnull(device);
	return g_strdup(device->id);
}

static void
fixture_apply(Fixture *fx)
{
	usbpass_inventory_apply_snapshot(fx->inventory, fx->devices);
}

/* unplugs the device at @port; Returns: (transfer full): what was unplugged */
static UsbpassDevice *
fixture_unplug(Fixture *fx, const gchar *port)
{
	for (guint i = 0; i < fx->devices->len; i++) {
		UsbpassDevice *device = g_ptr_array_index(fx->devices, i);
		if (g_strcmp0(device->port, port) == 0) {
			UsbpassDevice *removed = usbpass_device_ref(device);
			g_ptr_array_remove_index(fx->devices, i);
			fixture_apply(fx);
			return removed;
		}
	}
	g_assert_not_reached();
}

static void
fixture_remove_port(Fixture *fx, const gchar *port)
{
	g_autoptr(UsbpassDevice) removed = fixture_unplug(fx, port);
}

static void
on_device_changed(UsbpassEngine *engine, UsbpassEngineDevice *device, Fixture *fx)
{
	fx->changed_count++;
}

static gchar *
add_instance(Fixture *fx, const gchar *name, UsbpassInstanceState state, gboolean persistent)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) instance =
	  usbpass_test_driver_add_instance(fx->driver, NULL, name, state, persistent, &error);
	g_assert_no_error(error);
	g_assert_nonnull(instance);
	return g_strdup(instance->uuid);
}

static void
fixture_open_engine(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	gboolean ret;

	fx->engine = usbpass_engine_new(HOST, fx->inventory, fx->store, USBPASS_DRIVER(fx->driver));
	usbpass_engine_set_enabled(fx->engine, TRUE);
	g_signal_connect(fx->engine, "device-changed", G_CALLBACK(on_device_changed), fx);
	ret = usbpass_engine_start(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	fx->tmpdir = g_dir_make_tmp("usbpass-engine-XXXXXX", &error);
	g_assert_no_error(error);
	fx->db_path = g_build_filename(fx->tmpdir, "usbpass.db", NULL);
	fx->store = USBPASS_STORE(usbpass_sqlite_store_new(fx->db_path, &error));
	g_assert_no_error(error);

	fx->inventory = usbpass_inventory_new_for_testing();
	fx->devices = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_ptr_array_add(fx->devices, make_device("usb1", 1, 1, 0x1d6b, 0x0002, NULL, 9));
	g_ptr_array_add(fx->devices, make_device("1-1", 1, 2, 0x0781, 0x5567, "4C530001", 0));
	g_ptr_array_add(fx->devices, make_device("1-2", 1, 3, 0x1050, 0x0407, "16123456", 0));
	g_ptr_array_add(fx->devices, make_device("1-3", 1, 4, 0x1a86, 0x7523, NULL, 255));
	g_ptr_array_add(fx->devices, make_device("1-4", 1, 5, 0x1a86, 0x7523, NULL, 255));
	fixture_apply(fx);

	fx->driver = usbpass_test_driver_new();
	fx->off_uuid = add_instance(fx, "off", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	fx->on_uuid = add_instance(fx, "on", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	fx->paused_uuid = add_instance(fx, "paused", USBPASS_INSTANCE_STATE_PAUSED, TRUE);
	fx->transient_uuid = add_instance(fx, "transient", USBPASS_INSTANCE_STATE_RUNNING, FALSE);
	fixture_open_engine(fx);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_clear_object(&fx->engine);
	g_clear_object(&fx->driver);
	g_clear_object(&fx->store);
	g_clear_object(&fx->inventory);
	g_ptr_array_unref(fx->devices);
	/* the store may leave -wal and -shm files next to the database */
	{
		g_autoptr(GDir) dir = g_dir_open(fx->tmpdir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
			g_unlink(path);
		}
	}
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->db_path);
	g_free(fx->off_uuid);
	g_free(fx->on_uuid);
	g_free(fx->paused_uuid);
	g_free(fx->transient_uuid);
}

static UsbpassStoreDevice *
row_of(Fixture *fx, const gchar *device_id)
{
	g_autoptr(GError) error = NULL;
	UsbpassStoreDevice *row = usbpass_store_get_device(fx->store, HOST, device_id, &error);
	g_assert_no_error(error);
	g_assert_nonnull(row);
	return row;
}

static void
assert_state(Fixture *fx,
             const gchar *device_id,
             UsbpassDeviceState state,
             const gchar *instance_uuid)
{
	g_autoptr(UsbpassStoreDevice) row = row_of(fx, device_id);
	g_assert_cmpstr(
	  usbpass_device_state_to_string(row->state), ==, usbpass_device_state_to_string(state));
	g_assert_cmpstr(row->instance_uuid, ==, instance_uuid);
}

static guint
count_hostdevs(Fixture *fx,
               const gchar *uuid,
               UsbpassTestDriverScope scope,
               guint16 vendor_id,
               guint bus,
               guint devnum)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) hostdevs =
	  usbpass_test_driver_get_hostdevs(fx->driver, uuid, scope, &error);
	guint count = 0;
	g_assert_no_error(error);
	for (guint i = 0; i < hostdevs->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, i);
		if (hostdev->vendor_id == vendor_id &&
		    (bus == 0 || (hostdev->bus == bus && hostdev->device == devnum)))
			count++;
	}
	return count;
}

/* ---- attach / detach across instance states ------------------------------- */

typedef struct {
	const gchar *instance;
	gboolean live;
	gboolean persistent;
} ScopeCase;

static void
test_attach_detach_scopes(Fixture *fx, gconstpointer user_data)
{
	const ScopeCase cases[] = {
		{ "off", FALSE, TRUE },
		{ "on", TRUE, TRUE },
		{ "paused", TRUE, TRUE },
		{ "transient", TRUE, FALSE },
	};
	g_autofree gchar *id = device_id_at(fx, "1-1");

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassEngineDevice) attached = NULL;
		g_autoptr(UsbpassEngineDevice) detached = NULL;
		g_autoptr(UsbpassInstance) instance = NULL;

		instance = usbpass_engine_lookup_instance(fx->engine, cases[i].instance, &error);
		g_assert_no_error(error);
		attached =
		  usbpass_engine_attach(fx->engine, "1-1", cases[i].instance, "uid:0", &error);
		g_assert_no_error(error);
		g_assert_nonnull(attached);
		g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
		g_assert_cmpstr(attached->record->instance_uuid, ==, instance->uuid);
		g_assert_cmpstr(attached->record->instance_name, ==, cases[i].instance);
		g_assert_cmpuint(
		  count_hostdevs(fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 1, 2),
		  ==,
		  cases[i].live ? 1 : 0);
		g_assert_cmpuint(
		  count_hostdevs(
		    fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 1, 2),
		  ==,
		  cases[i].persistent ? 1 : 0);

		/* asking again is idempotent; asking for another instance is refused */
		g_clear_pointer(&attached, usbpass_engine_device_unref);
		attached = usbpass_engine_attach(fx->engine, id, instance->uuid, "uid:0", &error);
		g_assert_no_error(error);
		g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
		g_clear_pointer(&attached, usbpass_engine_device_unref);
		attached =
		  usbpass_engine_attach(fx->engine,
		                        id,
		                        g_strcmp0(cases[i].instance, "off") == 0 ? "on" : "off",
		                        "uid:0",
		                        &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
		g_assert_nonnull(strstr(error->message, cases[i].instance));
		g_assert_null(attached);
		g_clear_error(&error);

		detached = usbpass_engine_detach(fx->engine, "1:2", "uid:0", &error);
		g_assert_no_error(error);
		g_assert_cmpint(detached->record->state, ==, USBPASS_DEVICE_STATE_AVAILABLE);
		g_assert_null(detached->record->instance_uuid);
		g_assert_cmpuint(
		  count_hostdevs(fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 0, 0),
		  ==,
		  0);
		g_assert_cmpuint(
		  count_hostdevs(
		    fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
		  ==,
		  0);
	}
}

static void
test_attach_saved(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	g_autofree gchar *saved_uuid =
	  add_instance(fx, "saved", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	gboolean ret = usbpass_test_driver_set_state(
	  fx->driver, saved_uuid, USBPASS_INSTANCE_STATE_SAVED, &error);

	g_assert_no_error(error);
	g_assert_true(ret);

	/* libvirt 9 cannot change a saved image: a clear refusal, the row failed */
	attached = usbpass_engine_attach(fx->engine, "1-1", "saved", "uid:0", &error);
	g_assert_nonnull(error);
	g_assert_null(attached);
	assert_state(fx, id, USBPASS_DEVICE_STATE_FAILED, saved_uuid);
	{
		g_autoptr(UsbpassStoreDevice) row = row_of(fx, id);
		g_assert_nonnull(row->error);
	}
	g_clear_error(&error);

	/* where the image can be updated, all three definitions get it */
	usbpass_test_driver_set_saved_image_updatable(fx->driver, TRUE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "saved", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_null(attached->record->error);
	g_assert_cmpuint(
	  count_hostdevs(fx, saved_uuid, USBPASS_TEST_DRIVER_SCOPE_SAVED, 0x0781, 1, 2), ==, 1);
	g_assert_cmpuint(
	  count_hostdevs(fx, saved_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 1, 2),
	  ==,
	  1);
}

/* ---- refusals -------------------------------------------------------------- */

typedef struct {
	const gchar *device;
	const gchar *instance;
	UsbpassError code;
} RefusalCase;

static void
test_attach_refusals(Fixture *fx, gconstpointer user_data)
{
	const RefusalCase cases[] = {
		{ "9-9", "off", USBPASS_ERROR_NOT_FOUND },
		{ "1:99", "off", USBPASS_ERROR_NOT_FOUND },
		{ "1-1", "no-such-instance", USBPASS_ERROR_NOT_FOUND },
		{ "usb1", "off", USBPASS_ERROR_DENIED_BY_POLICY },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassEngineDevice) attached = usbpass_engine_attach(
		  fx->engine, cases[i].device, cases[i].instance, "uid:1000", &error);
		g_assert_error(error, USBPASS_ERROR, (gint)cases[i].code);
		g_assert_null(attached);
	}
	/* nothing reached the hypervisor */
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 0);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) audit =
		  usbpass_store_list_audit(fx->store, HOST, 0, 100, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(audit->len, >=, G_N_ELEMENTS(cases));
	}
}

static void
test_attach_disabled(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(GPtrArray) audit = NULL;

	usbpass_engine_set_enabled(fx->engine, FALSE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DISABLED);
	g_assert_nonnull(strstr(error->message, "enabled=true"));
	g_assert_null(attached);
	g_clear_error(&error);

	audit = usbpass_store_list_audit(fx->store, HOST, 0, 10, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(audit->len, ==, 1);
	g_assert_cmpstr(
	  ((UsbpassAuditEntry *)g_ptr_array_index(audit, 0))->outcome, ==, "disabled");
	g_assert_cmpstr(((UsbpassAuditEntry *)g_ptr_array_index(audit, 0))->actor, ==, "uid:0");
}

static void
test_attach_in_use_by_hand(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autofree gchar *id = device_id_at(fx, "1-2");
	gboolean ret;

	/* somebody ran `virsh attach-device --config off yubikey.xml` */
	hostdev->vendor_id = 0x1050;
	hostdev->product_id = 0x0407;
	hostdev->bus = 1;
	hostdev->device = 3;
	ret = usbpass_test_driver_add_hostdev(
	  fx->driver, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, hostdev, &error);
	g_assert_no_error(error);
	g_assert_true(ret);

	attached = usbpass_engine_attach(fx->engine, "1-2", "on", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_nonnull(strstr(error->message, "'off'"));
	g_assert_null(attached);
	/* refused, not failed: nothing was attached, and the row says at once
	 * who holds the device (issue 9, item 3) */
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 0, 0),
	  ==,
	  0);
	g_clear_error(&error);

	/* asking for the instance that already holds it records what is so */
	attached = usbpass_engine_attach(fx->engine, "1-2", "off", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 0, 0),
	  ==,
	  1);
}

/* found by bench/kill: the retry of a failed attach removes the stale
 * definition, and took every hostdev without ids for libvirt's placeholder,
 * a hand-written address-only one of another device included */
static void
test_attach_retry_keeps_address_only(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassHostdev) by_hand = usbpass_hostdev_new();

	by_hand->bus = 3;
	by_hand->device = 7;
	g_assert_true(usbpass_test_driver_add_hostdev(
	  fx->driver, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, by_hand, &error));
	g_assert_no_error(error);
	usbpass_test_driver_set_device_present(fx->driver, 1, 2, FALSE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);

	usbpass_test_driver_set_device_present(fx->driver, 1, 2, TRUE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 3, 7), ==, 1);
}

static void
test_attach_driver_failure(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassEngineDevice) detached = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");

	/* the device vanished for QEMU: libvirt's own message is kept */
	usbpass_test_driver_set_device_present(fx->driver, 1, 2, FALSE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_null(attached);
	row = row_of(fx, id);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_FAILED);
	g_assert_cmpstr(row->instance_uuid, ==, fx->on_uuid);
	g_assert_cmpstr(row->error, ==, error->message);
	/* nothing half-done: no definition names the device */
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 0, 0), ==, 0);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  0);
	g_clear_error(&error);

	/* a failed row belongs to its instance until released */
	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_clear_error(&error);

	/* retry for the same instance once the device is back */
	usbpass_test_driver_set_device_present(fx->driver, 1, 2, TRUE);
	attached = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_null(attached->record->error);
	g_clear_pointer(&attached, usbpass_engine_device_unref);

	/* a failing detach keeps the assignment and says why */
	usbpass_test_driver_fail_next(fx->driver,
	                              "detach",
	                              USBPASS_ERROR_DRIVER,
	                              "internal error: unable to execute QEMU command");
	detached = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_null(detached);
	g_clear_pointer(&row, usbpass_store_device_free);
	row = row_of(fx, id);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_FAILED);
	g_assert_cmpstr(row->instance_uuid, ==, fx->on_uuid);
	g_assert_nonnull(strstr(row->error, "unable to execute QEMU command"));
	g_clear_error(&error);

	detached = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(detached->record->state, ==, USBPASS_DEVICE_STATE_AVAILABLE);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 0, 0), ==, 0);
}

static void
test_detach_refusals(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) detached = NULL;

	detached = usbpass_engine_detach(fx->engine, "1-1", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(detached);
	g_clear_error(&error);
	detached = usbpass_engine_detach(fx->engine, "no-such-device", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(detached);
}

/* ---- unplug, re-plug -------------------------------------------------------- */

/* plugs @old back in at @new_port with a new device number */
static void
replug(Fixture *fx, const UsbpassDevice *old, const gchar *new_port, guint new_devnum)
{
	g_ptr_array_add(fx->devices,
	                make_device(new_port,
	                            old->bus,
	                            new_devnum,
	                            old->vendor_id,
	                            old->product_id,
	                            old->serial,
	                            old->device_class));
	fixture_apply(fx);
}

static void
wait_for_state(Fixture *fx, const gchar *device_id, UsbpassDeviceState state)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(UsbpassStoreDevice) row = row_of(fx, device_id);
		if (row->state == state)
			return;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	assert_state(fx, device_id, state, NULL);
}

static void
test_unplug_replug(Fixture *fx, gconstpointer user_data)
{
	const gchar *variant = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-2");
	const gchar *new_port = g_strcmp0(variant, "other-port") == 0 ? "1-5" : "1-2";
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autoptr(UsbpassDevice) unplugged = NULL;

	attached = usbpass_engine_attach(fx->engine, "1-2", "on", "uid:0", &error);
	g_assert_no_error(error);

	/* pulled out: the assignment stays, marked missing */
	unplugged = fixture_unplug(fx, "1-2");
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->on_uuid);
	row = row_of(fx, id);
	g_assert_false(row->present);
	g_clear_pointer(&row, usbpass_store_device_free);

	/* the instance can still reboot: its definition never blocks a boot */
	g_assert_true(usbpass_test_driver_reboot_instance(fx->driver, fx->on_uuid, &error));
	g_assert_no_error(error);

	/* plugged back in: new device number, maybe another port, same identity */
	replug(fx, unplugged, new_port, 17);
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	row = row_of(fx, id);
	g_assert_cmpstr(row->instance_uuid, ==, fx->on_uuid);
	g_assert_cmpuint(row->device, ==, 17);
	g_assert_cmpstr(row->port, ==, new_port);
	g_assert_true(row->present);
	/* the definitions name the new address only */
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x1050, 1, 17), ==, 1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 1, 17),
	  ==,
	  1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 0, 0),
	  ==,
	  1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x1050, 0, 0), ==, 1);
}

static void
test_unplug_shutoff(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassDevice) unplugged = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	unplugged = fixture_unplug(fx, "1-1");
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->off_uuid);

	/* a missing device never stops the instance from booting */
	ret = usbpass_test_driver_set_state(
	  fx->driver, fx->off_uuid, USBPASS_INSTANCE_STATE_RUNNING, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->off_uuid);

	/* and when it comes back, the running instance gets it */
	replug(fx, unplugged, "1-1", 30);
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 1, 30), ==, 1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  1);
}

static void
test_detach_missing(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassEngineDevice) detached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	fixture_remove_port(fx, "1-1");

	/* detaching an unplugged device takes it out of the definition too */
	detached = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
	g_assert_no_error(error);
	g_assert_null(detached->device);
	g_assert_cmpint(detached->record->state, ==, USBPASS_DEVICE_STATE_AVAILABLE);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  0);
}

/* ---- instance events -------------------------------------------------------- */

static void
test_instance_undefined(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	ret = usbpass_test_driver_remove_instance(fx->driver, fx->off_uuid, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
}

static void
test_instance_started_placeholder(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassDevice) unplugged = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	/* unplugged, then the instance starts: the hypervisor boots it with a
	 * placeholder for the absent optional device */
	unplugged = fixture_unplug(fx, "1-1");
	usbpass_test_driver_set_device_present(fx->driver, 1, 2, FALSE);
	ret = usbpass_test_driver_set_state(
	  fx->driver, fx->off_uuid, USBPASS_INSTANCE_STATE_RUNNING, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->off_uuid);

	/* plugged back in, even at the very same address: the placeholder never
	 * picks a device up, so the engine must replace it */
	usbpass_test_driver_set_device_present(fx->driver, 1, 2, TRUE);
	replug(fx, unplugged, "1-1", 2);
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	{
		g_autoptr(GPtrArray) live = usbpass_test_driver_get_hostdevs(
		  fx->driver, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, &error);
		guint usable = 0;
		g_assert_no_error(error);
		for (guint i = 0; i < live->len; i++) {
			UsbpassHostdev *hostdev = g_ptr_array_index(live, i);
			g_assert_false(hostdev->missing);
			if (hostdev->vendor_id == 0x0781 && hostdev->bus == 1 &&
			    hostdev->device == 2)
				usable++;
		}
		g_assert_cmpuint(usable, ==, 1);
	}
}

/* ---- crash recovery ------------------------------------------------------- */

typedef struct {
	const gchar *method;
	gboolean applied;   /* crash after the hypervisor changed the definition */
	const gchar *setup; /* "attached" before a detach crash */
	UsbpassDeviceState after;
	gboolean in_definition;
} CrashCase;

typedef struct {
	const gchar *method;
	gboolean applied;
	gboolean fired;
} CrashPoint;

static gboolean
crash_hook(UsbpassTestDriver *driver,
           const gchar *method,
           const gchar *uuid,
           const UsbpassHostdev *hostdev,
           gboolean applied,
           gpointer user_data)
{
	CrashPoint *point = user_data;
	if (g_strcmp0(method, point->method) != 0 || applied != point->applied)
		return TRUE;
	point->fired = TRUE;
	/* the engine "dies" here: the call never returns to it normally */
	return FALSE;
}

static void
test_crash_recovery(Fixture *fx, gconstpointer user_data)
{
	const CrashCase cases[] = {
		{ "attach", FALSE, NULL, USBPASS_DEVICE_STATE_AVAILABLE, FALSE },
		{ "attach", TRUE, NULL, USBPASS_DEVICE_STATE_ATTACHED, TRUE },
		{ "detach", FALSE, "attached", USBPASS_DEVICE_STATE_AVAILABLE, FALSE },
		{ "detach", TRUE, "attached", USBPASS_DEVICE_STATE_AVAILABLE, FALSE },
	};
	g_autofree gchar *id = device_id_at(fx, "1-1");

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassEngineDevice) result = NULL;
		CrashPoint point = { cases[i].method, cases[i].applied, FALSE };
		UsbpassDeviceState crashed_in = g_strcmp0(cases[i].method, "attach") == 0
		                                  ? USBPASS_DEVICE_STATE_ATTACHING
		                                  : USBPASS_DEVICE_STATE_DETACHING;
		gboolean ret;

		if (cases[i].setup != NULL) {
			result = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
			g_assert_no_error(error);
			g_clear_pointer(&result, usbpass_engine_device_unref);
		}
		/* the engine dies mid-call: simulate by a row left in flight and a
		 * definition changed (or not) behind it */
		usbpass_test_driver_set_hook(fx->driver, crash_hook, &point, NULL);
		if (crashed_in == USBPASS_DEVICE_STATE_ATTACHING) {
			ret = usbpass_store_claim_device(
			  fx->store, HOST, id, fx->off_uuid, "off", &error);
			g_assert_no_error(error);
			g_assert_true(ret);
			{
				g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
				hostdev->vendor_id = 0x0781;
				hostdev->product_id = 0x5567;
				hostdev->bus = 1;
				hostdev->device = 2;
				ret = usbpass_driver_attach(
				  USBPASS_DRIVER(fx->driver), fx->off_uuid, hostdev, &error);
			}
		} else {
			ret = usbpass_store_transition(fx->store,
			                               HOST,
			                               id,
			                               USBPASS_DEVICE_STATE_ATTACHED,
			                               USBPASS_DEVICE_STATE_DETACHING,
			                               fx->off_uuid,
			                               "off",
			                               NULL,
			                               &error);
			g_assert_no_error(error);
			g_assert_true(ret);
			{
				g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
				hostdev->vendor_id = 0x0781;
				hostdev->product_id = 0x5567;
				hostdev->bus = 1;
				hostdev->device = 2;
				ret = usbpass_driver_detach(
				  USBPASS_DRIVER(fx->driver), fx->off_uuid, hostdev, &error);
			}
		}
		g_assert_true(point.fired);
		g_assert_false(ret);
		g_clear_error(&error);
		usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);
		assert_state(fx, id, crashed_in, fx->off_uuid);

		/* a new engine on the same store and hypervisor: start reconciles */
		g_clear_object(&fx->engine);
		fixture_open_engine(fx);
		{
			g_autoptr(UsbpassStoreDevice) row = row_of(fx, id);
			g_assert_cmpint(row->state, ==, cases[i].after);
		}
		g_assert_cmpuint(
		  count_hostdevs(
		    fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
		  ==,
		  cases[i].in_definition ? 1 : 0);

		/* back to a clean slate for the next case */
		if (cases[i].after == USBPASS_DEVICE_STATE_ATTACHED) {
			result = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
			g_assert_no_error(error);
		}
		assert_state(fx, id, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
	}
}

static void
test_replug_after_failed_detach(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) result = NULL;
	g_autoptr(UsbpassDevice) unplugged = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");

	result = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	g_clear_pointer(&result, usbpass_engine_device_unref);
	usbpass_test_driver_fail_next(
	  fx->driver, "detach", USBPASS_ERROR_DRIVER, "internal error: detach refused");
	result = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);

	/* re-plugged while failed: the row keeps the address the definition names */
	unplugged = fixture_unplug(fx, "1-1");
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->off_uuid);
	replug(fx, unplugged, "1-1", 40);
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 1, 40),
	  ==,
	  1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  1);

	/* and a detach now leaves nothing behind */
	result = usbpass_engine_detach(fx->engine, id, "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  0);
	row = row_of(fx, id);
	g_assert_cmpuint(row->device, ==, 40);
}

typedef struct {
	Fixture *fx;
	UsbpassDevice *unplugged;
	gboolean fired;
} ReplugDuringAttach;

static gboolean
replug_idle_cb(gpointer user_data)
{
	ReplugDuringAttach *helper = user_data;
	/* on the main thread, while the worker waits in the hook */
	helper->unplugged = fixture_unplug(helper->fx, "1-2");
	replug(helper->fx, helper->unplugged, "1-2", 50);
	return G_SOURCE_REMOVE;
}

static gboolean
replug_hook(UsbpassTestDriver *driver,
            const gchar *method,
            const gchar *uuid,
            const UsbpassHostdev *hostdev,
            gboolean applied,
            gpointer user_data)
{
	ReplugDuringAttach *helper = user_data;
	if (g_strcmp0(method, "attach") != 0 || !applied || helper->fired)
		return TRUE;
	helper->fired = TRUE;
	g_idle_add(replug_idle_cb, helper);
	/* give the main thread time to process the unplug and the re-plug */
	g_usleep(200 * 1000);
	return TRUE;
}

static void
test_replug_during_attach(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) result = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-2");
	ReplugDuringAttach helper = { fx, NULL, FALSE };

	usbpass_test_driver_set_hook(fx->driver, replug_hook, &helper, NULL);
	result = usbpass_engine_attach(fx->engine, "1-2", "off", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_true(helper.fired);
	usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);
	/* the attach caught up with the re-plug: the new address, and only it */
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	{
		gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
		while (count_hostdevs(
		         fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 1, 50) ==
		         0 &&
		       g_get_monotonic_time() < deadline)
			g_main_context_iteration(NULL, TRUE);
	}
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 1, 50),
	  ==,
	  1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 0, 0),
	  ==,
	  1);
	{
		g_autoptr(UsbpassStoreDevice) row = row_of(fx, id);
		g_assert_cmpuint(row->device, ==, 50);
	}
	g_clear_pointer(&helper.unplugged, usbpass_device_unref);
}

static void
test_reconcile_failed_but_held(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) result = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	/* the hypervisor applied the change, then the connection dropped */
	usbpass_test_driver_set_hook(
	  fx->driver, crash_hook, &(CrashPoint){ "attach", TRUE, FALSE }, NULL);
	result = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);
	usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);
	assert_state(fx, id, USBPASS_DEVICE_STATE_FAILED, fx->off_uuid);
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
}

typedef struct {
	Fixture *fx;
	UsbpassDevice *unplugged;
	gboolean fired;
} FlapHelper;

static gboolean
flap_idle_cb(gpointer user_data)
{
	FlapHelper *helper = user_data;
	helper->unplugged = fixture_unplug(helper->fx, "1-2");
	return G_SOURCE_REMOVE;
}

static gboolean
flap_hook(UsbpassTestDriver *driver,
          const gchar *method,
          const gchar *uuid,
          const UsbpassHostdev *hostdev,
          gboolean applied,
          gpointer user_data)
{
	FlapHelper *helper = user_data;
	if (g_strcmp0(method, "attach") != 0 || applied || helper->fired)
		return TRUE;
	/* pulled again while the re-attach runs: QEMU cannot find it */
	helper->fired = TRUE;
	g_idle_add(flap_idle_cb, helper);
	g_usleep(200 * 1000);
	return FALSE;
}

static void
test_replug_flapping(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) result = NULL;
	g_autoptr(UsbpassDevice) unplugged = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-2");
	FlapHelper helper = { fx, NULL, FALSE };

	result = usbpass_engine_attach(fx->engine, "1-2", "on", "uid:0", &error);
	g_assert_no_error(error);
	unplugged = fixture_unplug(fx, "1-2");
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->on_uuid);

	usbpass_test_driver_set_hook(fx->driver, flap_hook, &helper, NULL);
	replug(fx, unplugged, "1-2", 60);
	while (!helper.fired || helper.unplugged == NULL ||
	       usbpass_engine_get_jobs_in_flight(fx->engine) > 0)
		g_main_context_iteration(NULL, TRUE);
	usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);
	/* the failed re-attach of a device that is gone again keeps the assignment */
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_MISSING);
	assert_state(fx, id, USBPASS_DEVICE_STATE_MISSING, fx->on_uuid);

	/* and the next re-plug gives it back */
	replug(fx, helper.unplugged, "1-2", 61);
	wait_for_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x1050, 1, 61), ==, 1);
	g_clear_pointer(&helper.unplugged, usbpass_device_unref);
}

static gchar *
dump_rows(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows = usbpass_store_list_devices(fx->store, HOST, &error);
	g_autoptr(GString) out = g_string_new(NULL);
	g_assert_no_error(error);
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		g_string_append_printf(out,
		                       "%s %s %s %u:%u %d\n",
		                       row->device_id,
		                       usbpass_device_state_to_string(row->state),
		                       row->instance_uuid,
		                       row->bus,
		                       row->device,
		                       row->present);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
test_reconcile_import_idempotent(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autofree gchar *id = device_id_at(fx, "1-3");
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	gboolean ret;

	/* a hostdev put in a definition while usbpassd was away is imported */
	hostdev->vendor_id = 0x1a86;
	hostdev->product_id = 0x7523;
	hostdev->bus = 1;
	hostdev->device = 4;
	ret = usbpass_test_driver_add_hostdev(
	  fx->driver, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, hostdev, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->on_uuid);
	/* its identical twin at 1-4 is not confused with it */
	{
		g_autofree gchar *twin = device_id_at(fx, "1-4");
		g_assert_cmpstr(twin, !=, id);
		assert_state(fx, twin, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
	}

	first = dump_rows(fx);
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	second = dump_rows(fx);
	g_assert_cmpstr(first, ==, second);
}

/* counts every row written to host_usb_devices by any connection, even when
 * the values stay the same (SQLite then commits nothing visible otherwise) */
static void
count_row_writes(sqlite3 *db)
{
	const gchar *sql = "CREATE TABLE test_row_writes (device_id TEXT);"
	                   "CREATE TRIGGER test_row_inserted AFTER INSERT ON host_usb_devices"
	                   " BEGIN INSERT INTO test_row_writes VALUES (new.device_id); END;"
	                   "CREATE TRIGGER test_row_updated AFTER UPDATE ON host_usb_devices"
	                   " BEGIN INSERT INTO test_row_writes VALUES (new.device_id); END;";
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

static gint64
row_writes(sqlite3 *db)
{
	sqlite3_stmt *stmt = NULL;
	gint64 count;
	g_assert_cmpint(
	  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM test_row_writes", -1, &stmt, NULL),
	  ==,
	  SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	count = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return count;
}

typedef struct {
	const gchar *name;
	const gchar *port; /* whose row goes stale */
} StaleCase;

/* rows that differ from the inventory are rewritten, and only those: a
 * steady pass writes no row */
static void
test_reconcile_stale_rows(Fixture *fx, gconstpointer user_data)
{
	const StaleCase cases[] = {
		{ "name", "1-2" },
		{ "serial", "1-2" },
		{ "port", "1-2" },
		{ "address", "1-2" },
		{ "vendor", "1-2" },
		{ "absent", "1-2" },
		/* an assigned row at its own address is kept up to date too */
		{ "name", "1-1" },
		{ "absent", "1-1" },
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassSqliteStore) other = usbpass_sqlite_store_new(fx->db_path, &error);
	sqlite3 *db = NULL;
	gint64 before;
	gboolean ret;

	g_assert_no_error(error);
	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(sqlite3_open(fx->db_path, &db), ==, SQLITE_OK);
	count_row_writes(db);

	before = row_writes(db);
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	g_assert_cmpint(row_writes(db), ==, before);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassDevice) device =
		  usbpass_inventory_find(fx->inventory, cases[i].port, &error);
		g_autoptr(UsbpassStoreDevice) stale = NULL;
		g_autoptr(UsbpassStoreDevice) row = NULL;

		g_test_message("case %s of %s", cases[i].name, cases[i].port);
		g_assert_no_error(error);
		stale = row_of(fx, device->id);
		if (g_strcmp0(cases[i].name, "name") == 0) {
			g_free(stale->name);
			stale->name = g_strdup("stale name");
		} else if (g_strcmp0(cases[i].name, "serial") == 0) {
			g_free(stale->serial);
			stale->serial = g_strdup("STALE");
		} else if (g_strcmp0(cases[i].name, "port") == 0) {
			g_free(stale->port);
			stale->port = g_strdup("9-9");
		} else if (g_strcmp0(cases[i].name, "address") == 0) {
			stale->bus = 9;
			stale->device = 99;
		} else if (g_strcmp0(cases[i].name, "vendor") == 0) {
			stale->vendor_id = 0xdead;
		} else {
			stale->present = FALSE;
		}
		ret = usbpass_store_upsert_device(USBPASS_STORE(other), stale, &error);
		g_assert_no_error(error);
		g_assert_true(ret);

		/* one write: the stale row */
		before = row_writes(db);
		ret = usbpass_engine_reconcile(fx->engine, &error);
		g_assert_no_error(error);
		g_assert_true(ret);
		g_assert_cmpint(row_writes(db), ==, before + 1);
		row = row_of(fx, device->id);
		g_assert_cmpstr(row->name, ==, device->name);
		g_assert_cmpstr(row->serial, ==, device->serial);
		g_assert_cmpstr(row->port, ==, device->port);
		g_assert_cmpuint(row->bus, ==, device->bus);
		g_assert_cmpuint(row->device, ==, device->device);
		g_assert_cmpuint(row->vendor_id, ==, device->vendor_id);
		g_assert_true(row->present);
		g_assert_cmpint(row->state, ==, stale->state);
		g_assert_cmpstr(row->instance_uuid, ==, stale->instance_uuid);

		/* and the next pass has nothing to write */
		before = row_writes(db);
		ret = usbpass_engine_reconcile(fx->engine, &error);
		g_assert_no_error(error);
		g_assert_true(ret);
		g_assert_cmpint(row_writes(db), ==, before);
	}
	assert_state(fx, attached->record->device_id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
	sqlite3_close(db);
}

static void
test_reconcile_vanished_instance(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	/* undefined while the engine was not listening */
	g_clear_object(&fx->engine);
	ret = usbpass_test_driver_remove_instance(fx->driver, fx->off_uuid, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	fixture_open_engine(fx);
	assert_state(fx, id, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
}

static void
test_reconcile_on_reconnect(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autofree gchar *id = device_id_at(fx, "1-2");
	gboolean ret;

	usbpass_test_driver_set_connected(fx->driver, FALSE);
	hostdev->vendor_id = 0x1050;
	hostdev->product_id = 0x0407;
	hostdev->bus = 1;
	hostdev->device = 3;
	ret = usbpass_test_driver_add_hostdev(
	  fx->driver, fx->paused_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, hostdev, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
	/* reconnecting reconciles: the change made meanwhile is seen */
	usbpass_test_driver_set_connected(fx->driver, TRUE);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->paused_uuid);
}

/* ---- concurrency ---------------------------------------------------------- */

typedef struct {
	guint done;
	guint won;
	guint busy;
	guint in_use;
} RaceCounters;

static void
race_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RaceCounters *counters = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) device =
	  usbpass_engine_attach_finish(USBPASS_ENGINE(source), res, &error);
	counters->done++;
	if (device != NULL)
		counters->won++;
	else if (g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_BUSY))
		counters->busy++;
	else if (g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
		counters->in_use++;
	else
		g_error("unexpected error: %s", error->message);
}

static gboolean
slow_hook(UsbpassTestDriver *driver,
          const gchar *method,
          const gchar *uuid,
          const UsbpassHostdev *hostdev,
          gboolean applied,
          gpointer user_data)
{
	/* keep the winner's call in flight while the others arrive */
	if (!applied)
		g_usleep(20 * 1000);
	return TRUE;
}

static void
test_claim_concurrent(Fixture *fx, gconstpointer user_data)
{
	const gchar *instances[] = { "off", "on", "paused", "transient" };
	RaceCounters counters = { 0 };
	g_autofree gchar *id = device_id_at(fx, "1-1");
	const guint requests = 32;

	usbpass_test_driver_set_hook(fx->driver, slow_hook, NULL, NULL);
	for (guint i = 0; i < requests; i++)
		usbpass_engine_attach_async(fx->engine,
		                            "1-1",
		                            instances[i % G_N_ELEMENTS(instances)],
		                            "uid:0",
		                            NULL,
		                            race_cb,
		                            &counters);
	g_assert_cmpuint(usbpass_engine_get_jobs_in_flight(fx->engine), ==, 1);
	while (counters.done < requests)
		g_main_context_iteration(NULL, TRUE);
	/* every request arrived while the winner's call was in flight */
	g_assert_cmpuint(counters.won, ==, 1);
	g_assert_cmpuint(counters.busy + counters.in_use, ==, requests - 1);
	{
		g_autoptr(UsbpassStoreDevice) row = row_of(fx, id);
		guint holders = 0;
		g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
		for (guint i = 0; i < G_N_ELEMENTS(instances); i++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(UsbpassInstance) instance =
			  usbpass_engine_lookup_instance(fx->engine, instances[i], &error);
			guint n =
			  count_hostdevs(
			    fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0x0781, 0, 0) +
			  count_hostdevs(
			    fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0);
			if (n > 0) {
				holders++;
				g_assert_cmpstr(instance->uuid, ==, row->instance_uuid);
			}
		}
		g_assert_cmpuint(holders, ==, 1);
	}
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 1);
	g_assert_cmpuint(usbpass_engine_get_jobs_in_flight(fx->engine), ==, 0);
}

static void
test_list_devices(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	fixture_remove_port(fx, "1-1");
	devices = usbpass_engine_list_devices(fx->engine, &error);
	g_assert_no_error(error);
	/* four present devices first, the missing one last */
	g_assert_cmpuint(devices->len, ==, 5);
	for (guint i = 0; i < 4; i++)
		g_assert_nonnull(((UsbpassEngineDevice *)g_ptr_array_index(devices, i))->device);
	{
		UsbpassEngineDevice *last = g_ptr_array_index(devices, 4);
		g_assert_null(last->device);
		g_assert_cmpint(last->record->state, ==, USBPASS_DEVICE_STATE_MISSING);
	}
	g_assert_cmpuint(fx->changed_count, >, 0);
}

/* ---- ownership: hostdevs usbpass did not write (issue 9) ------------------ */

/* a hostdev written by hand, as `virsh attach-device --config` would */
static void
add_by_hand(Fixture *fx,
            const gchar *uuid,
            UsbpassTestDriverScope scope,
            guint16 vendor_id,
            guint16 product_id,
            guint bus,
            guint devnum)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	gboolean ret;

	hostdev->vendor_id = vendor_id;
	hostdev->product_id = product_id;
	hostdev->bus = bus;
	hostdev->device = devnum;
	ret = usbpass_test_driver_add_hostdev(fx->driver, uuid, scope, hostdev, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
}

/* item 1: an address-only hostdev (no vendor, no product) holds its device */
static void
test_in_use_address_only(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-2");
	gboolean ret;

	/* the yubikey at 1:3, named by its address only */
	add_by_hand(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 0, 1, 3);

	/* reconcile at start-up: the row says who holds it */
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);

	/* and nobody else gets it */
	attached = usbpass_engine_attach(fx->engine, "1-2", "on", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_null(attached);
	g_clear_error(&error);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1050, 0, 0),
	  ==,
	  0);
}

/* item 1 without a reconcile in between: the in-use check itself refuses,
 * and the refusal records the holder at once (item 3) */
static void
test_in_use_address_only_live(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-3");

	/* the first of the two identical adapters, live in the paused instance */
	add_by_hand(fx, fx->paused_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0, 0, 1, 4);
	attached = usbpass_engine_attach(fx->engine, "1-3", "off", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_nonnull(strstr(error->message, "'paused'"));
	g_assert_null(attached);
	g_clear_error(&error);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->paused_uuid);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x1a86, 0, 0),
	  ==,
	  0);

	/* its twin at 1:5 is somebody else's to take */
	attached = usbpass_engine_attach(fx->engine, "1-4", "off", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(attached->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
}

/* item 2: after a failed attach, the retry removes only what usbpass wrote */
static void
test_retry_keeps_hand_written(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassEngineDevice) retried = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");

	/* another device's hostdev, by address only, written by hand */
	add_by_hand(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0, 0, 1, 3);
	add_by_hand(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 0, 1, 3);

	usbpass_test_driver_fail_next(fx->driver,
	                              "attach",
	                              USBPASS_ERROR_DRIVER,
	                              "internal error: No free USB ports");
	attached = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);
	assert_state(fx, id, USBPASS_DEVICE_STATE_FAILED, fx->on_uuid);

	retried = usbpass_engine_attach(fx->engine, "1-1", "on", "uid:0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(retried->record->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 1, 3), ==, 1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, 0, 1, 3), ==, 1);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->on_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 1, 2),
	  ==,
	  1);
}

/* item 2 for detach: a device imported from a hand-written hostdev is never
 * removed by usbpass; the row keeps saying the instance holds it */
static void
test_detach_hand_written(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) detached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	add_by_hand(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0x5567, 0, 0);
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);

	detached = usbpass_engine_detach(fx->engine, "1-1", "uid:0", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_nonnull(strstr(error->message, "virsh detach-device"));
	g_assert_null(detached);
	g_clear_error(&error);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  1);

	/* a reconcile after all that changes nothing */
	ret = usbpass_engine_reconcile(fx->engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->off_uuid);
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->off_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0, 0),
	  ==,
	  1);
}

/* item 3: two definitions name the device; undefining one moves the row to
 * the other at once */
static void
test_undefine_other_holder(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	/* the paused instance names it too, by ids and address, by hand */
	add_by_hand(fx, fx->paused_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0x0781, 0x5567, 1, 2);

	ret = usbpass_test_driver_remove_instance(fx->driver, fx->off_uuid, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->paused_uuid);

	/* and when that one goes too, nobody holds it */
	ret = usbpass_test_driver_remove_instance(fx->driver, fx->paused_uuid, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_state(fx, id, USBPASS_DEVICE_STATE_AVAILABLE, NULL);
}

/* item 3 after a restart: reconcile moves the row of a vanished instance to
 * the remaining holder rather than releasing it */
static void
test_reconcile_other_holder(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autofree gchar *id = device_id_at(fx, "1-1");
	gboolean ret;

	attached = usbpass_engine_attach(fx->engine, "1-1", "off", "uid:0", &error);
	g_assert_no_error(error);
	add_by_hand(fx, fx->paused_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 0, 1, 2);

	/* usbpassd is down while "off" is undefined */
	g_clear_object(&fx->engine);
	ret = usbpass_test_driver_remove_instance(fx->driver, fx->off_uuid, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	fixture_open_engine(fx);
	assert_state(fx, id, USBPASS_DEVICE_STATE_ATTACHED, fx->paused_uuid);
	/* the hand-written entry is untouched */
	g_assert_cmpuint(
	  count_hostdevs(fx, fx->paused_uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, 0, 1, 2), ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
#define ADD(path, func, data) g_test_add(path, Fixture, data, fixture_setup, func, fixture_teardown)
	ADD("/usbpass/engine/attach-detach{scopes}", test_attach_detach_scopes, NULL);
	ADD("/usbpass/engine/attach{saved}", test_attach_saved, NULL);
	ADD("/usbpass/engine/attach{refusals}", test_attach_refusals, NULL);
	ADD("/usbpass/engine/attach{disabled}", test_attach_disabled, NULL);
	ADD("/usbpass/engine/attach{in-use-by-hand}", test_attach_in_use_by_hand, NULL);
	ADD("/usbpass/engine/attach{driver-failure}", test_attach_driver_failure, NULL);
	ADD("/usbpass/engine/attach{retry-keeps-address-only}",
	    test_attach_retry_keeps_address_only,
	    NULL);
	ADD("/usbpass/engine/detach{refusals}", test_detach_refusals, NULL);
	ADD("/usbpass/engine/detach{missing}", test_detach_missing, NULL);
	ADD("/usbpass/engine/replug{same-port}", test_unplug_replug, "same-port");
	ADD("/usbpass/engine/replug{other-port}", test_unplug_replug, "other-port");
	ADD("/usbpass/engine/replug{shutoff-then-started}", test_unplug_shutoff, NULL);
	ADD("/usbpass/engine/instance{undefined}", test_instance_undefined, NULL);
	ADD("/usbpass/engine/instance{started-with-placeholder}",
	    test_instance_started_placeholder,
	    NULL);
	ADD("/usbpass/engine/crash-recovery", test_crash_recovery, NULL);
	ADD("/usbpass/engine/in-use{address-only}", test_in_use_address_only, NULL);
	ADD("/usbpass/engine/in-use{address-only-live}", test_in_use_address_only_live, NULL);
	ADD("/usbpass/engine/retry{keeps-hand-written}", test_retry_keeps_hand_written, NULL);
	ADD("/usbpass/engine/detach{hand-written}", test_detach_hand_written, NULL);
	ADD("/usbpass/engine/undefine{other-holder}", test_undefine_other_holder, NULL);
	ADD("/usbpass/engine/reconcile{other-holder}", test_reconcile_other_holder, NULL);
	ADD("/usbpass/engine/replug{after-failed-detach}", test_replug_after_failed_detach, NULL);
	ADD("/usbpass/engine/replug{during-attach}", test_replug_during_attach, NULL);
	ADD("/usbpass/engine/replug{flapping}", test_replug_flapping, NULL);
	ADD("/usbpass/engine/reconcile{failed-but-held}", test_reconcile_failed_but_held, NULL);
	ADD("/usbpass/engine/reconcile{import-idempotent}", test_reconcile_import_idempotent, NULL);
	ADD("/usbpass/engine/reconcile{stale-rows}", test_reconcile_stale_rows, NULL);
	ADD("/usbpass/engine/reconcile{vanished-instance}", test_reconcile_vanished_instance, NULL);
	ADD("/usbpass/engine/reconcile{reconnect}", test_reconcile_on_reconnect, NULL);
	ADD("/usbpass/engine/claim{concurrent}", test_claim_concurrent, NULL);
	ADD("/usbpass/engine/list-devices", test_list_devices, NULL);
#undef ADD
	return g_test_run();
}

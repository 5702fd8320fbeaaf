/*
 * engine-bench.c: the engine's benchmark of issue 4
 *
 * Measured side by side in one run against the same libvirtd:
 *  - attach+detach of one USB hostdev on a shut-off TCG domain, bare
 *    (virDomainAttachDeviceFlags/DetachDeviceFlags with VIR_DOMAIN_AFFECT_CONFIG)
 *    against usbpass_engine_attach/detach with the libvirt driver, a SQLite
 *    store and a testing inventory; the two alternate in one loop (ABAB) after
 *    a warm-up, and the overhead is the median of the paired differences;
 *  - usbpass_engine_reconcile() over 200 shut-off domains with 5 USB hostdevs
 *    each and 1,000 matching devices: the first pass on a fresh store (imports
 *    everything, checked row by row) and the steady state.
 * The same figures with the in-memory test driver show the engine's and the
 * store's own cost. Beside the keys: attach+detach again once the 200
 * domains exist (keys with _200dom: the engine's in-use check reads every
 * domain on each attach), and the driver and bare libvirt calls reconcile and
 * that check are made of (libvirt_* keys), to show where the time goes.
 * Without USBPASS_TEST_LIBVIRT_URI (scripts/with-libvirtd
 * sets it) only those are printed, with libvirt=skipped.
 *
 * Prints key=value lines; never fails on time. Exits non-zero only when an
 * operation fails or reconcile does not leave every device attached to its
 * domain. Every domain it defines is undefined before it exits.
 */
#define G_LOG_DOMAIN "UsbpassBench"

#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>
#include <unistd.h>

#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-autocleanups.h"
#include "usbpass-engine.h"
#include "usbpass-error.h"
#include "usbpass-inventory-private.h"
#include "usbpass-libvirt-driver.h"
#include "usbpass-test-driver.h"

#define HOST                 "bench-host"
#define ACTOR                "uid:0"
#define CYCLES               50
#define WARMUP_CYCLES        5
#define SCALED_CYCLES        5 /* attach+detach with the 200 domains defined */
#define RPC_SAMPLES          200
#define INSTANCES            200
#define DEVICES_PER_INSTANCE 5
#define DEVICES              (INSTANCES * DEVICES_PER_INSTANCE)
#define STEADY_RUNS          3
#define DEVICES_PER_BUS      125 /* devnum 2..126 */
#define ATTACH_VENDOR_ID     0x0781
#define ATTACH_PRODUCT_ID    0x5567
#define ATTACH_BUS           1
#define ATTACH_DEVICE        2
#define ATTACH_SERIAL        "4C530001230123456789"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

/* ---- small helpers ------------------------------------------------------ */

static gint
compare_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a;
	gdouble y = *(const gdouble *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

/* of a copy: the callers keep their samples in measuring order */
static gdouble
median(GArray *values)
{
	g_autoptr(GArray) sorted = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), values->len);
	guint n = values->len;

	if (n == 0)
		return 0.0;
	g_array_append_vals(sorted, values->data, n);
	g_array_sort(sorted, compare_double);
	if (n % 2 == 1)
		return g_array_index(sorted, gdouble, n / 2);
	return (g_array_index(sorted, gdouble, n / 2 - 1) + g_array_index(sorted, gdouble, n / 2)) /
	       2.0;
}

static gdouble
elapsed_ms(gint64 begin_usec)
{
	return (gdouble)(g_get_monotonic_time() - begin_usec) / 1000.0;
}

static void
print_ms(const gchar *key, gdouble ms)
{
	g_print("%s=%.3f\n", key, ms);
}

static void
drain_main_context(void)
{
	/* driver events queued by earlier calls are not part of what is timed next */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static void
set_libvirt_error(GError **error, const gchar *what)
{
	const gchar *message = virGetLastErrorMessage();
	g_set_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER, "%s: %s", what, message);
	virResetLastError();
}

static void
silent_libvirt_error_func(void *user_data, virErrorPtr error)
{
	/* errors are read with virGetLastErrorMessage() where they happen */
}

/* a fresh directory with the SQLite files of one store */
typedef struct {
	gchar *tmpdir;
} BenchDir;

static void
bench_dir_free(BenchDir *self)
{
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	if (self == NULL)
		return;
	if (self->tmpdir != NULL) {
		/* the store leaves -wal and -shm files next to the database */
		dir = g_dir_open(self->tmpdir, 0, NULL);
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(self->tmpdir, name, NULL);
			g_unlink(path);
		}
		g_rmdir(self->tmpdir);
	}
	g_free(self->tmpdir);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchDir, bench_dir_free)

static BenchDir *
bench_dir_new(GError **error)
{
	g_autoptr(BenchDir) self = g_new0(BenchDir, 1);
	self->tmpdir = g_dir_make_tmp("usbpass-bench-engine-XXXXXX", error);
	if (self->tmpdir == NULL)
		return NULL;
	return g_steal_pointer(&self);
}

static UsbpassStore *
bench_store_new(BenchDir *dir, const gchar *name, GError **error)
{
	g_autofree gchar *path = g_build_filename(dir->tmpdir, name, NULL);
	return USBPASS_STORE(usbpass_sqlite_store_new(path, error));
}

/* ---- the devices -------------------------------------------------------- */

static UsbpassDevice *
make_device(guint bus,
            guint devnum,
            guint port_number,
            guint16 vendor_id,
            guint16 product_id,
            const gchar *serial)
{
	UsbpassDevice *device = usbpass_device_new();
	device->port = g_strdup_printf("%u-%u", bus, port_number);
	device->syspath =
	  g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb%u/%s", bus, device->port);
	device->parent_port = g_strdup_printf("usb%u", bus);
	device->bus = bus;
	device->device = devnum;
	device->vendor_id = vendor_id;
	device->product_id = product_id;
	device->serial = g_strdup(serial);
	device->vendor_name = g_strdup("Bench Vendor");
	device->product_name = g_strdup_printf("Bench Product %04x", product_id);
	device->name = g_strdup_printf("Bench Vendor Bench Product %04x", product_id);
	device->speed_mbps = 480;
	device->speed = g_strdup("480");
	return device;
}

/* the device of the attach benchmark: 0781:5567 at 1:2 with a serial */
static GPtrArray *
attach_devices_new(void)
{
	GPtrArray *devices = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_ptr_array_add(
	  devices,
	  make_device(
	    ATTACH_BUS, ATTACH_DEVICE, 1, ATTACH_VENDOR_ID, ATTACH_PRODUCT_ID, ATTACH_SERIAL));
	return devices;
}

/* device @index of the reconcile benchmark: its own vendor, product and
 * address (buses 2.., away from the attach device), owned by instance
 * @index / DEVICES_PER_INSTANCE */
static void
reconcile_device_address(guint index, guint *bus, guint *devnum)
{
	*bus = 2 + index / DEVICES_PER_BUS;
	*devnum = 2 + index % DEVICES_PER_BUS;
}

static UsbpassHostdev *
reconcile_hostdev_new(guint index)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = (guint16)(0x1000 + index);
	hostdev->product_id = (guint16)(0x8000 + index);
	reconcile_device_address(index, &hostdev->bus, &hostdev->device);
	hostdev->persistent = TRUE;
	return hostdev;
}

static GPtrArray *
reconcile_devices_new(void)
{
	GPtrArray *devices = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	for (guint i = 0; i < DEVICES; i++) {
		g_autoptr(UsbpassHostdev) hostdev = reconcile_hostdev_new(i);
		g_autofree gchar *serial = g_strdup_printf("BENCH%06u", i);
		g_ptr_array_add(devices,
		                make_device(hostdev->bus,
		                            hostdev->device,
		                            hostdev->device - 1,
		                            hostdev->vendor_id,
		                            hostdev->product_id,
		                            serial));
	}
	return devices;
}

/* ---- engine set-up -------------------------------------------------------- */

static UsbpassEngine *
bench_engine_new(UsbpassStore *store,
                 GPtrArray *devices,
                 UsbpassDriver *driver,
                 UsbpassInventory **inventory_out)
{
	g_autoptr(UsbpassInventory) inventory = usbpass_inventory_new_for_testing();
	UsbpassEngine *engine;

	usbpass_inventory_apply_snapshot(inventory, devices);
	engine = usbpass_engine_new(HOST, inventory, store, driver);
	usbpass_engine_set_enabled(engine, TRUE);
	*inventory_out = g_steal_pointer(&inventory);
	return engine;
}

/* one usbpass attach+detach; @attach_ms and @detach_ms are added to */
static gboolean
engine_cycle(UsbpassEngine *engine,
             const gchar *device_id,
             const gchar *uuid,
             GArray *attach_ms,
             GArray *detach_ms,
             gdouble *total_ms,
             GError **error)
{
	g_autoptr(UsbpassEngineDevice) attached = NULL;
	g_autoptr(UsbpassEngineDevice) detached = NULL;
	gint64 begin_usec;
	gdouble attach = 0;
	gdouble detach = 0;

	drain_main_context();
	begin_usec = g_get_monotonic_time();
	attached = usbpass_engine_attach(engine, device_id, uuid, ACTOR, error);
	if (attached == NULL)
		return FALSE;
	attach = elapsed_ms(begin_usec);
	begin_usec = g_get_monotonic_time();
	detached = usbpass_engine_detach(engine, device_id, ACTOR, error);
	if (detached == NULL)
		return FALSE;
	detach = elapsed_ms(begin_usec);

	if (attached->record == NULL || attached->record->state != USBPASS_DEVICE_STATE_ATTACHED ||
	    g_strcmp0(attached->record->instance_uuid, uuid) != 0 || detached->record == NULL ||
	    detached->record->state != USBPASS_DEVICE_STATE_AVAILABLE) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "attach+detach of '%s' on '%s' did not end available after attached",
		            device_id,
		            uuid);
		return FALSE;
	}
	if (attach_ms != NULL)
		g_array_append_val(attach_ms, attach);
	if (detach_ms != NULL)
		g_array_append_val(detach_ms, detach);
	*total_ms = attach + detach;
	return TRUE;
}

/* ---- reconcile ---------------------------------------------------------- */

/* how many rows are attached to the instance @uuids says owns their address */
static guint
count_imported(UsbpassStore *store, GPtrArray *uuids, GError **error)
{
	g_autoptr(GPtrArray) rows = usbpass_store_list_devices(store, HOST, error);
	guint count = 0;

	if (rows == NULL)
		return G_MAXUINT;
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		guint index;
		if (row->bus < 2 || row->device < 2)
			continue;
		index = (row->bus - 2) * DEVICES_PER_BUS + (row->device - 2);
		if (index >= DEVICES)
			continue;
		if (row->state == USBPASS_DEVICE_STATE_ATTACHED &&
		    g_strcmp0(row->instance_uuid,
		              g_ptr_array_index(uuids, index / DEVICES_PER_INSTANCE)) == 0 &&
		    row->vendor_id == (guint16)(0x1000 + index))
			count++;
	}
	return count;
}

typedef struct {
	gdouble first_ms;
	gdouble steady_ms; /* median of STEADY_RUNS */
	guint imported;
} ReconcileResult;

/* @uuids: of the INSTANCES instances, in order; instance i holds devices
 * i * DEVICES_PER_INSTANCE .. +4 in its persistent definition */
static gboolean
bench_reconcile(BenchDir *dir,
                const gchar *store_name,
                UsbpassDriver *driver,
                GPtrArray *uuids,
                ReconcileResult *result,
                GError **error)
{
	g_autoptr(UsbpassStore) store = bench_store_new(dir, store_name, error);
	g_autoptr(GPtrArray) devices = reconcile_devices_new();
	g_autoptr(UsbpassInventory) inventory = NULL;
	g_autoptr(UsbpassEngine) engine = NULL;
	g_autoptr(GArray) steady = g_array_new(FALSE, FALSE, sizeof(gdouble));
	gint64 begin_usec;
	guint imported;

	if (store == NULL)
		return FALSE;
	engine = bench_engine_new(store, devices, driver, &inventory);

	/* not usbpass_engine_start(): it reconciles, and the first pass is timed here */
	drain_main_context();
	begin_usec = g_get_monotonic_time();
	if (!usbpass_engine_reconcile(engine, error))
		return FALSE;
	result->first_ms = elapsed_ms(begin_usec);
	result->imported = count_imported(store, uuids, error);
	if (result->imported == G_MAXUINT)
		return FALSE;

	for (guint i = 0; i < STEADY_RUNS; i++) {
		gdouble ms;
		drain_main_context();
		begin_usec = g_get_monotonic_time();
		if (!usbpass_engine_reconcile(engine, error))
			return FALSE;
		ms = elapsed_ms(begin_usec);
		g_array_append_val(steady, ms);
	}
	result->steady_ms = median(steady);

	/* idempotent: the steady passes must not have changed a row */
	imported = count_imported(store, uuids, error);
	if (imported == G_MAXUINT)
		return FALSE;
	if (imported != result->imported) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "reconcile is not idempotent: %u devices attached after the first "
		            "pass, %u after %u more",
		            result->imported,
		            imported,
		            (guint)STEADY_RUNS);
		return FALSE;
	}
	return TRUE;
}

/* what the engine reads of the driver in one reconcile (and in the in-use
 * check of each attach), alone */
static gboolean
bench_driver_read(UsbpassDriver *driver, gdouble *ms, GError **error)
{
	gint64 begin_usec = g_get_monotonic_time();
	g_autoptr(GPtrArray) all = usbpass_driver_list_all_hostdevs(driver, error);

	if (all == NULL)
		return FALSE;
	*ms = elapsed_ms(begin_usec);
	return TRUE;
}

/* ---- the in-memory test driver ------------------------------------------ */

static guint
test_driver_calls(UsbpassTestDriver *driver)
{
	const gchar *methods[] = {
		"list_instances", "lookup_instance", "list_hostdevs", "attach", "detach"
	};
	guint calls = 0;
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++)
		calls += usbpass_test_driver_get_call_count(driver, methods[i]);
	return calls;
}

static gboolean
bench_test_driver_attach(BenchDir *dir, GError **error)
{
	g_autoptr(UsbpassTestDriver) driver = usbpass_test_driver_new();
	g_autoptr(UsbpassStore) store = bench_store_new(dir, "testdriver-attach.db", error);
	g_autoptr(GPtrArray) devices = attach_devices_new();
	g_autoptr(UsbpassInventory) inventory = NULL;
	g_autoptr(UsbpassEngine) engine = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(GArray) cycle_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	guint attach_calls = 0;
	guint detach_calls = 0;

	if (store == NULL)
		return FALSE;
	instance = usbpass_test_driver_add_instance(
	  driver, NULL, "bench-attach", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE, error);
	if (instance == NULL)
		return FALSE;
	engine = bench_engine_new(store, devices, USBPASS_DRIVER(driver), &inventory);
	if (!usbpass_engine_start(engine, error))
		return FALSE;
	device = usbpass_inventory_find_by_address(inventory, ATTACH_BUS, ATTACH_DEVICE, error);
	if (device == NULL)
		return FALSE;

	for (guint i = 0; i < WARMUP_CYCLES + CYCLES; i++) {
		gdouble ms;
		if (!engine_cycle(engine, device->id, instance->uuid, NULL, NULL, &ms, error))
			return FALSE;
		if (i >= WARMUP_CYCLES)
			g_array_append_val(cycle_ms, ms);
	}

	/* what one attach and one detach ask of the driver */
	{
		g_autoptr(UsbpassEngineDevice) attached = NULL;
		g_autoptr(UsbpassEngineDevice) detached = NULL;
		usbpass_test_driver_reset_call_counts(driver);
		attached = usbpass_engine_attach(engine, device->id, instance->uuid, ACTOR, error);
		if (attached == NULL)
			return FALSE;
		attach_calls = test_driver_calls(driver);
		usbpass_test_driver_reset_call_counts(driver);
		detached = usbpass_engine_detach(engine, device->id, ACTOR, error);
		if (detached == NULL)
			return FALSE;
		detach_calls = test_driver_calls(driver);
	}

	print_ms("usbpass_attach_detach_testdriver_ms_median", median(cycle_ms));
	g_print("usbpass_attach_driver_calls=%u\n", attach_calls);
	g_print("usbpass_detach_driver_calls=%u\n", detach_calls);
	return TRUE;
}

static gboolean
bench_test_driver_reconcile(BenchDir *dir, GError **error)
{
	g_autoptr(UsbpassTestDriver) driver = usbpass_test_driver_new();
	g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
	ReconcileResult result = { 0 };
	gdouble read_ms = 0;

	for (guint i = 0; i < INSTANCES; i++) {
		g_autofree gchar *name = g_strdup_printf("bench-r%03u", i);
		g_autoptr(UsbpassInstance) instance = NULL;

		instance = usbpass_test_driver_add_instance(
		  driver, NULL, name, USBPASS_INSTANCE_STATE_SHUTOFF, TRUE, error);
		if (instance == NULL)
			return FALSE;
		for (guint j = 0; j < DEVICES_PER_INSTANCE; j++) {
			g_autoptr(UsbpassHostdev) hostdev =
			  reconcile_hostdev_new(i * DEVICES_PER_INSTANCE + j);
			if (!usbpass_test_driver_add_hostdev(driver,
			                                     instance->uuid,
			                                     USBPASS_TEST_DRIVER_SCOPE_PERSISTENT,
			                                     hostdev,
			                                     error))
				return FALSE;
		}
		g_ptr_array_add(uuids, g_strdup(instance->uuid));
	}
	if (!bench_driver_read(USBPASS_DRIVER(driver), &read_ms, error))
		return FALSE;
	if (!bench_reconcile(
	      dir, "testdriver-reconcile.db", USBPASS_DRIVER(driver), uuids, &result, error))
		return FALSE;
	print_ms("reconcile_200x5_testdriver_first_ms", result.first_ms);
	print_ms("reconcile_200x5_testdriver_ms", result.steady_ms);
	print_ms("reconcile_200x5_testdriver_driver_read_ms", read_ms);
	g_print("reconcile_200x5_testdriver_imported=%u\n", result.imported);
	if (result.imported != DEVICES) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INTERNAL,
		  "reconcile with the test driver left %u of %u devices attached to their instance",
		  result.imported,
		  (guint)DEVICES);
		return FALSE;
	}
	return TRUE;
}

/* ---- libvirt ------------------------------------------------------------ */

static void
xml_add_hostdev(xmlNodePtr parent, const UsbpassHostdev *hostdev)
{
	xmlNodePtr node = xmlNewChild(parent, NULL, BAD_CAST "hostdev", NULL);
	xmlNodePtr source;
	xmlNodePtr child;
	gchar buf[16];

	xmlNewProp(node, BAD_CAST "mode", BAD_CAST "subsystem");
	xmlNewProp(node, BAD_CAST "type", BAD_CAST "usb");
	xmlNewProp(node, BAD_CAST "managed", BAD_CAST "yes");
	source = xmlNewChild(node, NULL, BAD_CAST "source", NULL);
	xmlNewProp(source, BAD_CAST "startupPolicy", BAD_CAST "optional");
	child = xmlNewChild(source, NULL, BAD_CAST "vendor", NULL);
	g_snprintf(buf, sizeof(buf), "0x%04x", hostdev->vendor_id);
	xmlNewProp(child, BAD_CAST "id", BAD_CAST buf);
	child = xmlNewChild(source, NULL, BAD_CAST "product", NULL);
	g_snprintf(buf, sizeof(buf), "0x%04x", hostdev->product_id);
	xmlNewProp(child, BAD_CAST "id", BAD_CAST buf);
	child = xmlNewChild(source, NULL, BAD_CAST "address", NULL);
	g_snprintf(buf, sizeof(buf), "%u", hostdev->bus);
	xmlNewProp(child, BAD_CAST "bus", BAD_CAST buf);
	g_snprintf(buf, sizeof(buf), "%u", hostdev->device);
	xmlNewProp(child, BAD_CAST "device", BAD_CAST buf);
}

static gchar *
xml_doc_to_string(xmlDocPtr doc)
{
	xmlChar *buf = NULL;
	gint len = 0;
	gchar *result;

	xmlDocDumpMemory(doc, &buf, &len);
	result = g_strndup((const gchar *)buf, len);
	xmlFree(buf);
	return result;
}

/* the <hostdev> element alone, as virDomainAttachDeviceFlags() takes it */
static gchar *
hostdev_xml_new(const UsbpassHostdev *hostdev)
{
	g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "devices");
	g_autoptr(xmlBuffer) buffer = xmlBufferCreate();

	xmlDocSetRootElement(doc, root);
	xml_add_hostdev(root, hostdev);
	xmlNodeDump(buffer, doc, root->children, 0, 0);
	return g_strdup((const gchar *)xmlBufferContent(buffer));
}

/* a shut-off TCG domain: 64 MiB, no disk, network boot, an xHCI controller */
static gchar *
domain_xml_new(const gchar *name, GPtrArray *hostdevs)
{
	g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "domain");
	xmlNodePtr node;
	xmlNodePtr os;
	xmlNodePtr devices;

	xmlDocSetRootElement(doc, root);
	xmlNewProp(root, BAD_CAST "type", BAD_CAST "qemu");
	xmlNewTextChild(root, NULL, BAD_CAST "name", BAD_CAST name);
	node = xmlNewChild(root, NULL, BAD_CAST "memory", BAD_CAST "64");
	xmlNewProp(node, BAD_CAST "unit", BAD_CAST "MiB");
	xmlNewChild(root, NULL, BAD_CAST "vcpu", BAD_CAST "1");
	os = xmlNewChild(root, NULL, BAD_CAST "os", NULL);
	node = xmlNewChild(os, NULL, BAD_CAST "type", BAD_CAST "hvm");
	xmlNewProp(node, BAD_CAST "machine", BAD_CAST "pc");
	node = xmlNewChild(os, NULL, BAD_CAST "boot", NULL);
	xmlNewProp(node, BAD_CAST "dev", BAD_CAST "network");
	devices = xmlNewChild(root, NULL, BAD_CAST "devices", NULL);
	node = xmlNewChild(devices, NULL, BAD_CAST "controller", NULL);
	xmlNewProp(node, BAD_CAST "type", BAD_CAST "usb");
	xmlNewProp(node, BAD_CAST "model", BAD_CAST "qemu-xhci");
	for (guint i = 0; hostdevs != NULL && i < hostdevs->len; i++)
		xml_add_hostdev(devices, g_ptr_array_index(hostdevs, i));
	return xml_doc_to_string(doc);
}

/* the domains this run defined: undefined again whatever happens */
typedef struct {
	virConnectPtr conn;
	GPtrArray *names; /* of gchar */
} BenchDomains;

static void
bench_domains_free(BenchDomains *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; self->names != NULL && i < self->names->len; i++) {
		const gchar *name = g_ptr_array_index(self->names, i);
		g_autoptr(virDomain) domain = virDomainLookupByName(self->conn, name);
		if (domain == NULL || virDomainUndefine(domain) < 0) {
			g_printerr("cannot undefine domain '%s': %s, ignoring\n",
			           name,
			           virGetLastErrorMessage());
			virResetLastError();
		}
	}
	if (self->names != NULL)
		g_ptr_array_unref(self->names);
	if (self->conn != NULL)
		virConnectClose(self->conn);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchDomains, bench_domains_free)

static BenchDomains *
bench_domains_new(virConnectPtr conn)
{
	BenchDomains *self = g_new0(BenchDomains, 1);
	virConnectRef(conn);
	self->conn = conn;
	self->names = g_ptr_array_new_with_free_func(g_free);
	return self;
}

/* Returns: (transfer full): the domain, its UUID in @uuid_out */
static virDomainPtr
bench_domains_define(BenchDomains *self,
                     const gchar *name,
                     GPtrArray *hostdevs,
                     gchar **uuid_out,
                     GError **error)
{
	g_autofree gchar *xml = domain_xml_new(name, hostdevs);
	g_autoptr(virDomain) domain = virDomainDefineXML(self->conn, xml);
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };

	if (domain == NULL) {
		g_autofree gchar *what = g_strdup_printf("cannot define domain '%s'", name);
		set_libvirt_error(error, what);
		return NULL;
	}
	g_ptr_array_add(self->names, g_strdup(name));
	if (virDomainGetUUIDString(domain, uuid) < 0) {
		g_autofree gchar *what =
		  g_strdup_printf("cannot read the UUID of domain '%s'", name);
		set_libvirt_error(error, what);
		return NULL;
	}
	*uuid_out = g_strdup(uuid);
	return g_steal_pointer(&domain);
}

static gboolean
bare_cycle(virDomainPtr domain,
           const gchar *element,
           GArray *attach_ms,
           GArray *detach_ms,
           gdouble *total_ms,
           GError **error)
{
	gint64 begin_usec = g_get_monotonic_time();
	gdouble attach;
	gdouble detach;

	if (virDomainAttachDeviceFlags(domain, element, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
		set_libvirt_error(error, "bare attach failed");
		return FALSE;
	}
	attach = elapsed_ms(begin_usec);
	begin_usec = g_get_monotonic_time();
	if (virDomainDetachDeviceFlags(domain, element, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
		set_libvirt_error(error, "bare detach failed");
		return FALSE;
	}
	detach = elapsed_ms(begin_usec);
	if (attach_ms != NULL)
		g_array_append_val(attach_ms, attach);
	if (detach_ms != NULL)
		g_array_append_val(detach_ms, detach);
	*total_ms = attach + detach;
	return TRUE;
}

/* one cheap round trip to libvirtd, for scale: the engine's overhead is mostly these */
static gboolean
bench_rpc(virDomainPtr domain, GError **error)
{
	g_autoptr(GArray) samples = g_array_new(FALSE, FALSE, sizeof(gdouble));
	for (guint i = 0; i < RPC_SAMPLES; i++) {
		gint64 begin_usec = g_get_monotonic_time();
		gdouble ms;
		if (virDomainIsActive(domain) < 0) {
			set_libvirt_error(error, "virDomainIsActive failed");
			return FALSE;
		}
		ms = elapsed_ms(begin_usec);
		g_array_append_val(samples, ms);
	}
	print_ms("libvirt_rpc_ms_median", median(samples));
	return TRUE;
}

typedef struct {
	virDomainPtr domain;
	gchar *uuid;
	gchar *element;
	gchar *device_id;
	UsbpassEngine *engine;
} AttachSetup;

/* @cycles after WARMUP_CYCLES of each, alternating bare and usbpass in one
 * loop (ABAB) so that drift hits both; @suffix goes into the keys */
static gboolean
bench_attach_loop(AttachSetup *setup, guint cycles, const gchar *suffix, GError **error)
{
	g_autoptr(GArray) bare_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) usbpass_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) diff_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) bare_attach_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) bare_detach_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) usbpass_attach_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) usbpass_detach_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	gdouble bare_median;
	gdouble usbpass_median;
	g_autofree gchar *key = NULL;

	for (guint i = 0; i < WARMUP_CYCLES + cycles; i++) {
		gboolean measured = i >= WARMUP_CYCLES;
		gdouble bare = 0;
		gdouble engine = 0;
		gdouble diff;

		if (!bare_cycle(setup->domain,
		                setup->element,
		                measured ? bare_attach_ms : NULL,
		                measured ? bare_detach_ms : NULL,
		                &bare,
		                error))
			return FALSE;
		if (!engine_cycle(setup->engine,
		                  setup->device_id,
		                  setup->uuid,
		                  measured ? usbpass_attach_ms : NULL,
		                  measured ? usbpass_detach_ms : NULL,
		                  &engine,
		                  error))
			return FALSE;
		if (!measured)
			continue;
		diff = engine - bare;
		g_array_append_val(bare_ms, bare);
		g_array_append_val(usbpass_ms, engine);
		g_array_append_val(diff_ms, diff);
	}

	bare_median = median(bare_ms);
	usbpass_median = median(usbpass_ms);
	g_print("attach_detach_cycles%s=%u\n", suffix, cycles);
	key = g_strdup_printf("bare_attach_detach%s_ms_median", suffix);
	print_ms(key, bare_median);
	g_free(key);
	key = g_strdup_printf("usbpass_attach_detach%s_ms_median", suffix);
	print_ms(key, usbpass_median);
	g_free(key);
	key = g_strdup_printf("engine_attach_overhead%s_ms", suffix);
	print_ms(key, median(diff_ms));
	g_free(key);
	key = g_strdup_printf("engine_attach_overhead%s_ratio", suffix);
	g_print("%s=%.2f\n", key, bare_median > 0 ? usbpass_median / bare_median : 0.0);
	g_free(key);
	key = g_strdup_printf("bare_attach%s_ms_median", suffix);
	print_ms(key, median(bare_attach_ms));
	g_free(key);
	key = g_strdup_printf("bare_detach%s_ms_median", suffix);
	print_ms(key, median(bare_detach_ms));
	g_free(key);
	key = g_strdup_printf("usbpass_attach%s_ms_median", suffix);
	print_ms(key, median(usbpass_attach_ms));
	g_free(key);
	key = g_strdup_printf("usbpass_detach%s_ms_median", suffix);
	print_ms(key, median(usbpass_detach_ms));
	return TRUE;
}

typedef gboolean (*SampleFunc)(gpointer user_data, GError **error);

/* median of @samples timed calls of @func */
static gboolean
sample_ms(SampleFunc func, gpointer user_data, guint samples, gdouble *ms, GError **error)
{
	g_autoptr(GArray) values = g_array_new(FALSE, FALSE, sizeof(gdouble));
	for (guint i = 0; i < samples; i++) {
		gint64 begin_usec = g_get_monotonic_time();
		gdouble value;
		if (!func(user_data, error))
			return FALSE;
		value = elapsed_ms(begin_usec);
		g_array_append_val(values, value);
	}
	*ms = median(values);
	return TRUE;
}

typedef struct {
	virConnectPtr conn;
	virDomainPtr domain;
	UsbpassDriver *driver;
	const gchar *uuid;
} Breakdown;

static gboolean
sample_list_all(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	virDomainPtr *domains = NULL;
	gint n = virConnectListAllDomains(self->conn, &domains, 0);
	if (n < 0) {
		set_libvirt_error(error, "virConnectListAllDomains failed");
		return FALSE;
	}
	for (gint i = 0; i < n; i++)
		virDomainFree(domains[i]);
	free(domains);
	return TRUE;
}

/* the least an uncached scan of every persistent definition costs */
static gboolean
sample_scan_xml(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	virDomainPtr *domains = NULL;
	gint n = virConnectListAllDomains(self->conn, &domains, 0);
	gboolean ok = n >= 0;
	if (n < 0)
		set_libvirt_error(error, "virConnectListAllDomains failed");
	for (gint i = 0; i < n; i++) {
		if (ok) {
			gchar *xml = virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE);
			if (xml == NULL) {
				set_libvirt_error(error, "virDomainGetXMLDesc failed");
				ok = FALSE;
			}
			free(xml);
		}
		virDomainFree(domains[i]);
	}
	free(domains);
	return ok;
}

static gboolean
sample_xml_fetch(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	gchar *xml = virDomainGetXMLDesc(self->domain, VIR_DOMAIN_XML_INACTIVE);
	if (xml == NULL) {
		set_libvirt_error(error, "virDomainGetXMLDesc failed");
		return FALSE;
	}
	free(xml);
	return TRUE;
}

static gboolean
sample_driver_list_instances(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	g_autoptr(GPtrArray) instances = usbpass_driver_list_instances(self->driver, error);
	return instances != NULL;
}

static gboolean
sample_driver_list_hostdevs(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	g_autoptr(GPtrArray) hostdevs =
	  usbpass_driver_list_hostdevs(self->driver, self->uuid, error);
	return hostdevs != NULL;
}

static gboolean
sample_driver_lookup_instance(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	g_autoptr(UsbpassInstance) instance =
	  usbpass_driver_lookup_instance(self->driver, self->uuid, error);
	return instance != NULL;
}

static gboolean
sample_driver_read(gpointer user_data, GError **error)
{
	Breakdown *self = user_data;
	gdouble ms;
	return bench_driver_read(self->driver, &ms, error);
}

/* where the libvirt side of reconcile and of the in-use check goes, with
 * the 200 domains defined: whole listings, and single calls on @uuid */
static gboolean
bench_libvirt_breakdown(virConnectPtr conn,
                        UsbpassDriver *driver,
                        const gchar *uuid,
                        GError **error)
{
	g_autoptr(virDomain) domain = virDomainLookupByUUIDString(conn, uuid);
	Breakdown self = { conn, domain, driver, uuid };
	gdouble ms;

	if (domain == NULL) {
		set_libvirt_error(error, "cannot look the first reconcile domain up");
		return FALSE;
	}
	if (!sample_ms(sample_driver_read, &self, STEADY_RUNS, &ms, error))
		return FALSE;
	print_ms("reconcile_200x5_driver_read_ms", ms);
	if (!sample_ms(sample_driver_list_instances, &self, STEADY_RUNS, &ms, error))
		return FALSE;
	print_ms("libvirt_driver_list_instances_200dom_ms", ms);
	if (!sample_ms(sample_list_all, &self, STEADY_RUNS, &ms, error))
		return FALSE;
	print_ms("libvirt_list_all_domains_200dom_ms", ms);
	if (!sample_ms(sample_scan_xml, &self, STEADY_RUNS, &ms, error))
		return FALSE;
	print_ms("libvirt_scan_xml_200dom_ms", ms);
	if (!sample_ms(sample_driver_list_hostdevs, &self, CYCLES, &ms, error))
		return FALSE;
	print_ms("libvirt_driver_list_hostdevs_ms_median", ms);
	if (!sample_ms(sample_driver_lookup_instance, &self, CYCLES, &ms, error))
		return FALSE;
	print_ms("libvirt_driver_lookup_instance_ms_median", ms);
	if (!sample_ms(sample_xml_fetch, &self, CYCLES, &ms, error))
		return FALSE;
	print_ms("libvirt_xml_fetch_ms_median", ms);
	return TRUE;
}

static gboolean
bench_libvirt(BenchDir *dir, const gchar *uri, GError **error)
{
	g_autoptr(virConnect) conn = NULL;
	g_autoptr(BenchDomains) domains = NULL;
	g_autoptr(virDomain) attach_domain = NULL;
	g_autoptr(UsbpassLibvirtDriver) attach_driver = NULL;
	g_autoptr(UsbpassStore) attach_store = NULL;
	g_autoptr(UsbpassInventory) attach_inventory = NULL;
	g_autoptr(UsbpassEngine) attach_engine = NULL;
	g_autoptr(GPtrArray) attach_devices = attach_devices_new();
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(UsbpassHostdev) hostdev = usbpass_hostdev_new();
	g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *prefix = NULL;
	g_autofree gchar *attach_name = NULL;
	g_autofree gchar *attach_uuid = NULL;
	g_autofree gchar *element = NULL;
	g_autoptr(UsbpassLibvirtDriver) reconcile_driver = NULL;
	ReconcileResult result = { 0 };
	AttachSetup setup = { 0 };
	gint64 begin_usec;

	conn = virConnectOpen(uri);
	if (conn == NULL) {
		g_autofree gchar *what = g_strdup_printf("cannot connect to '%s'", uri);
		set_libvirt_error(error, what);
		return FALSE;
	}
	domains = bench_domains_new(conn);
	prefix = g_strdup_printf(
	  "usbpass-bench-%d-%" G_GINT64_MODIFIER "x", (gint)getpid(), g_get_real_time());

	/* 1. attach+detach, bare and through the engine, on one shut-off domain */
	attach_name = g_strdup_printf("%s-attach", prefix);
	attach_domain = bench_domains_define(domains, attach_name, NULL, &attach_uuid, error);
	if (attach_domain == NULL)
		return FALSE;
	hostdev->vendor_id = ATTACH_VENDOR_ID;
	hostdev->product_id = ATTACH_PRODUCT_ID;
	hostdev->bus = ATTACH_BUS;
	hostdev->device = ATTACH_DEVICE;
	element = hostdev_xml_new(hostdev);

	attach_driver = usbpass_libvirt_driver_new(uri);
	if (!usbpass_driver_open(USBPASS_DRIVER(attach_driver), error))
		return FALSE;
	attach_store = bench_store_new(dir, "libvirt-attach.db", error);
	if (attach_store == NULL)
		return FALSE;
	attach_engine = bench_engine_new(
	  attach_store, attach_devices, USBPASS_DRIVER(attach_driver), &attach_inventory);
	if (!usbpass_engine_start(attach_engine, error))
		return FALSE;
	device =
	  usbpass_inventory_find_by_address(attach_inventory, ATTACH_BUS, ATTACH_DEVICE, error);
	if (device == NULL)
		return FALSE;

	setup.domain = attach_domain;
	setup.uuid = attach_uuid;
	setup.element = element;
	setup.device_id = device->id;
	setup.engine = attach_engine;
	if (!bench_rpc(attach_domain, error))
		return FALSE;
	if (!bench_attach_loop(&setup, CYCLES, "", error))
		return FALSE;

	/* 2. reconcile of 200 domains x 5 hostdevs */
	begin_usec = g_get_monotonic_time();
	for (guint i = 0; i < INSTANCES; i++) {
		g_autoptr(GPtrArray) hostdevs =
		  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
		g_autofree gchar *name = g_strdup_printf("%s-r%03u", prefix, i);
		g_autoptr(virDomain) domain = NULL;
		gchar *uuid = NULL;

		for (guint j = 0; j < DEVICES_PER_INSTANCE; j++)
			g_ptr_array_add(hostdevs,
			                reconcile_hostdev_new(i * DEVICES_PER_INSTANCE + j));
		domain = bench_domains_define(domains, name, hostdevs, &uuid, error);
		if (domain == NULL)
			return FALSE;
		g_ptr_array_add(uuids, uuid);
	}
	print_ms("libvirt_define_200_ms", elapsed_ms(begin_usec));

	reconcile_driver = usbpass_libvirt_driver_new(uri);
	if (!usbpass_driver_open(USBPASS_DRIVER(reconcile_driver), error))
		return FALSE;
	if (!bench_reconcile(
	      dir, "libvirt-reconcile.db", USBPASS_DRIVER(reconcile_driver), uuids, &result, error))
		return FALSE;
	print_ms("reconcile_200x5_first_ms", result.first_ms);
	print_ms("reconcile_200x5_ms", result.steady_ms);
	g_print("reconcile_200x5_imported=%u\n", result.imported);
	if (result.imported != DEVICES) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "reconcile with libvirt left %u of %u devices attached to their domain",
		            result.imported,
		            (guint)DEVICES);
		return FALSE;
	}
	if (!bench_libvirt_breakdown(
	      conn, USBPASS_DRIVER(reconcile_driver), g_ptr_array_index(uuids, 0), error))
		return FALSE;

	/* 3. attach+detach again, now that the engine's in-use check has 201 domains to read */
	if (!bench_attach_loop(&setup, SCALED_CYCLES, "_200dom", error))
		return FALSE;
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(BenchDir) dir = NULL;
	const gchar *uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");

	virSetErrorFunc(NULL, silent_libvirt_error_func);
	dir = bench_dir_new(&error);
	if (dir == NULL) {
		g_printerr("engine-bench: %s\n", error->message);
		return 1;
	}
	g_print("reconcile_instances=%u\n", (guint)INSTANCES);
	g_print("reconcile_devices=%u\n", (guint)DEVICES);
	if (!bench_test_driver_attach(dir, &error) || !bench_test_driver_reconcile(dir, &error)) {
		g_printerr("engine-bench: %s\n", error->message);
		return 1;
	}
	if (uri == NULL || uri[0] == '\0') {
		g_print("libvirt=skipped\n");
		return 0;
	}
	g_print("libvirt=yes\n");
	if (!bench_libvirt(dir, uri, &error)) {
		g_printerr("engine-bench: %s\n", error->message);
		return 1;
	}
	return 0;
}

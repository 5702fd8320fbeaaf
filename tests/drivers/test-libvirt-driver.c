/*
 * test-libvirt-driver.c: the libvirt driver against a real libvirtd + QEMU
 *
 * scripts/with-libvirtd starts a private libvirtd whose /sys/bus has an empty
 * usb/devices and exports USBPASS_TEST_LIBVIRT_URI; without it these cases
 * skip, except those that need no daemon (test:///default, a dead socket).
 * Each case defines TCG domains named usbpass-test-PID-N from
 * tests/data/domain-tcg.xml and destroys and undefines them in teardown.
 *
 * This kernel has no USB subsystem: every device is absent, so a live attach
 * is checked through its refusal ("Did not find USB device") and booting with
 * an optional device through missing='yes'. A live attach of a present device
 * is the lab's to prove.
 */
#include "config.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-libvirt-driver.h"
#include "usbpass-libvirt-event-loop.h"
#include "usbpass-libvirt-xml.h"

#define EVENT_TIMEOUT_MS     15000
#define RECONNECT_TIMEOUT_MS 60000

typedef struct {
	const gchar *uri; /* NULL: no libvirtd, skip */
	virConnectPtr conn;
	UsbpassDriver *driver;
	GPtrArray *domains; /* of names to clean up */
	GPtrArray *events;  /* of "uuid kind" */
	GPtrArray *connections;
	GThread *main_thread;
	gboolean off_thread;
} Fixture;

static guint domain_counter = 0;

static void
silent_error_func(void *user_data, virErrorPtr error)
{
}

static void
on_instance_event(UsbpassDriver *driver, const gchar *uuid, gint kind, Fixture *fx)
{
	if (g_thread_self() != fx->main_thread)
		fx->off_thread = TRUE;
	g_ptr_array_add(
	  fx->events, g_strdup_printf("%s %s", uuid, usbpass_instance_event_kind_to_string(kind)));
}

static void
on_connection_changed(UsbpassDriver *driver, gboolean connected, Fixture *fx)
{
	if (g_thread_self() != fx->main_thread)
		fx->off_thread = TRUE;
	g_ptr_array_add(fx->connections, g_strdup(connected ? "up" : "down"));
}

static UsbpassDriver *
driver_new(Fixture *fx, const gchar *uri)
{
	UsbpassDriver *driver = USBPASS_DRIVER(usbpass_libvirt_driver_new(uri));
	g_signal_connect(driver, "instance-event", G_CALLBACK(on_instance_event), fx);
	g_signal_connect(driver, "connection-changed", G_CALLBACK(on_connection_changed), fx);
	return driver;
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	virSetErrorFunc(NULL, silent_error_func);
	fx->uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	fx->domains = g_ptr_array_new_with_free_func(g_free);
	fx->events = g_ptr_array_new_with_free_func(g_free);
	fx->connections = g_ptr_array_new_with_free_func(g_free);
	fx->main_thread = g_thread_self();
	if (fx->uri == NULL)
		return;
	fx->conn = virConnectOpen(fx->uri);
	g_assert_nonnull(fx->conn);
	fx->driver = driver_new(fx, fx->uri);
	g_assert_true(usbpass_driver_open(fx->driver, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_driver_is_connected(fx->driver));
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	/* a case may have restarted libvirtd under our connection */
	if (fx->conn != NULL && virConnectIsAlive(fx->conn) != 1) {
		virConnectClose(fx->conn);
		fx->conn = virConnectOpen(fx->uri);
	}
	for (guint i = 0; fx->conn != NULL && i < fx->domains->len; i++) {
		g_autoptr(virDomain) domain =
		  virDomainLookupByName(fx->conn, g_ptr_array_index(fx->domains, i));
		if (domain == NULL)
			continue;
		if (virDomainIsActive(domain) == 1)
			virDomainDestroy(domain);
		if (virDomainIsPersistent(domain) == 1)
			virDomainUndefineFlags(
			  domain, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM);
	}
	g_assert_false(fx->off_thread);
	g_clear_object(&fx->driver);
	if (fx->conn != NULL)
		virConnectClose(fx->conn);
	g_ptr_array_unref(fx->domains);
	g_ptr_array_unref(fx->events);
	g_ptr_array_unref(fx->connections);
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static gboolean
skip_without_libvirtd(Fixture *fx)
{
	if (fx->uri != NULL)
		return FALSE;
	g_test_skip("USBPASS_TEST_LIBVIRT_URI is not set: run under scripts/with-libvirtd");
	return TRUE;
}

static UsbpassHostdev *
hostdev_new(guint16 vendor_id, guint16 product_id, guint bus, guint device)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = vendor_id;
	hostdev->product_id = product_id;
	hostdev->bus = bus;
	hostdev->device = device;
	return hostdev;
}

/* tests/data/domain-tcg.xml under a fresh name, with @hostdev in it if given */
static gchar *
domain_xml_new(Fixture *fx, const UsbpassHostdev *hostdev, gchar **name_out)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path =
	  g_build_filename(g_getenv("USBPASS_TEST_DATA"), "domain-tcg.xml", NULL);
	g_autofree gchar *name =
	  g_strdup_printf("usbpass-test-%u-%u", (guint)getpid(), ++domain_counter);
	g_autoptr(xmlDoc) doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	g_autoptr(xmlXPathContext) ctx = NULL;
	g_autoptr(xmlXPathObject) obj = NULL;
	g_auto(xmlCharPtr) dumped = NULL;
	gchar *xml;
	int len = 0;

	g_assert_nonnull(doc);
	ctx = xmlXPathNewContext(doc);
	obj = xmlXPathEvalExpression((const xmlChar *)"/domain/name", ctx);
	g_assert_false(xmlXPathNodeSetIsEmpty(obj->nodesetval));
	xmlNodeSetContent(xmlXPathNodeSetItem(obj->nodesetval, 0), (const xmlChar *)name);
	xmlDocDumpMemory(doc, &dumped, &len);
	xml = g_strdup((const gchar *)dumped);
	if (hostdev != NULL) {
		gchar *with = usbpass_libvirt_xml_add_hostdev(xml, hostdev, &error);
		g_assert_no_error(error);
		g_free(xml);
		xml = with;
	}
	g_ptr_array_add(fx->domains, g_strdup(name));
	if (name_out != NULL)
		*name_out = g_steal_pointer(&name);
	return xml;
}

static virDomainPtr
domain_define(Fixture *fx, const UsbpassHostdev *hostdev)
{
	g_autofree gchar *xml = domain_xml_new(fx, hostdev, NULL);
	virDomainPtr domain = virDomainDefineXML(fx->conn, xml);
	if (domain == NULL)
		g_error("cannot define a domain: %s", virGetLastErrorMessage());
	return domain;
}

static void
domain_start(virDomainPtr domain, guint flags)
{
	if (virDomainCreateWithFlags(domain, flags) < 0)
		g_error("cannot start domain '%s': %s",
			virDomainGetName(domain),
			virGetLastErrorMessage());
}

static gchar *
domain_uuid(virDomainPtr domain)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
	g_assert_cmpint(virDomainGetUUIDString(domain, uuid), ==, 0);
	return g_strdup(uuid);
}

static guint
count_xml_hostdevs(virDomainPtr domain, guint flags)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = virDomainGetXMLDesc(domain, flags);
	g_autoptr(GPtrArray) hostdevs = NULL;

	g_assert_nonnull(xml);
	hostdevs =
	  usbpass_libvirt_xml_parse_hostdevs(xml, (flags & VIR_DOMAIN_XML_INACTIVE) == 0, &error);
	g_assert_no_error(error);
	return hostdevs->len;
}

static gboolean
deadline_cb(gpointer user_data)
{
	gboolean *expired = user_data;
	*expired = TRUE;
	return G_SOURCE_REMOVE;
}

/* runs the main loop until @found says so or @timeout_ms pass */
static gboolean
run_until(gboolean (*found)(Fixture *, gconstpointer),
	  Fixture *fx,
	  gconstpointer data,
	  guint timeout_ms)
{
	gboolean expired = FALSE;
	guint id = g_timeout_add(timeout_ms, deadline_cb, &expired);

	while (!found(fx, data) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	return found(fx, data);
}

static gboolean
has_event(Fixture *fx, gconstpointer data)
{
	for (guint i = 0; i < fx->events->len; i++) {
		if (g_strcmp0(g_ptr_array_index(fx->events, i), data) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
wait_event(Fixture *fx, const gchar *uuid, UsbpassInstanceEventKind kind)
{
	g_autofree gchar *wanted =
	  g_strdup_printf("%s %s", uuid, usbpass_instance_event_kind_to_string(kind));
	if (!run_until(has_event, fx, wanted, EVENT_TIMEOUT_MS))
		g_error("no '%s' event within %u ms", wanted, EVENT_TIMEOUT_MS);
}

static gboolean
has_connections(Fixture *fx, gconstpointer data)
{
	return fx->connections->len >= GPOINTER_TO_UINT(data);
}

/* list_all_hostdevs says what list_instances and list_hostdevs say, domain by
 * domain (nothing else changes the domains meanwhile) */
static GPtrArray *
list_all_checked(UsbpassDriver *driver)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) all = usbpass_driver_list_all_hostdevs(driver, &error);
	g_autoptr(GPtrArray) instances = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(all);
	instances = usbpass_driver_list_instances(driver, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, instances->len);
	for (guint i = 0; i < all->len; i++) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, i);
		UsbpassInstance *instance = g_ptr_array_index(instances, i);
		g_autoptr(GPtrArray) hostdevs = NULL;

		g_assert_cmpstr(entry->instance->uuid, ==, instance->uuid);
		g_assert_cmpstr(entry->instance->name, ==, instance->name);
		g_assert_cmpint(entry->instance->state, ==, instance->state);
		g_assert_cmpint(entry->instance->persistent, ==, instance->persistent);
		hostdevs = usbpass_driver_list_hostdevs(driver, instance->uuid, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entry->hostdevs->len, ==, hostdevs->len);
		for (guint j = 0; j < hostdevs->len; j++) {
			UsbpassHostdev *a = g_ptr_array_index(entry->hostdevs, j);
			UsbpassHostdev *b = g_ptr_array_index(hostdevs, j);
			g_assert_true(usbpass_hostdev_matches(a, b));
			g_assert_cmpint(a->live, ==, b->live);
			g_assert_cmpint(a->persistent, ==, b->persistent);
			g_assert_cmpint(a->missing, ==, b->missing);
			g_assert_cmpstr(a->alias, ==, b->alias);
		}
	}
	return g_steal_pointer(&all);
}

static UsbpassInstanceHostdevs *
find_entry(GPtrArray *all, const gchar *uuid)
{
	for (guint i = 0; i < all->len; i++) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, i);
		if (g_strcmp0(entry->instance->uuid, uuid) == 0)
			return entry;
	}
	return NULL;
}

/* ---- without libvirtd --------------------------------------------------------------------- */

static void
test_no_daemon(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassDriver) driver = NULL;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(GPtrArray) instances = NULL;
	const gchar *uri = "qemu+unix:///system?socket=/nonexistent/usbpass-test-sock";

	driver = driver_new(fx, uri);
	g_assert_cmpstr(usbpass_driver_get_name(driver), ==, "libvirt");
	g_assert_cmpstr(usbpass_libvirt_driver_get_uri(USBPASS_LIBVIRT_DRIVER(driver)), ==, uri);
	usbpass_libvirt_driver_set_reconnect_delays(USBPASS_LIBVIRT_DRIVER(driver), 10, 40);

	/* before open and after a failed one: not connected, calls refused */
	g_assert_false(usbpass_driver_is_connected(driver));
	instances = usbpass_driver_list_instances(driver, &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_null(instances);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_open(driver, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	/* libvirt's own words are kept */
	g_assert_nonnull(strstr(error->message, "/nonexistent/usbpass-test-sock"));
	g_clear_error(&error);
	g_assert_false(usbpass_driver_attach(driver, "x", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);

	/* retries go on in the background without a signal until one works;
	 * a second open while a retry is pending reports that */
	for (guint i = 0; i < 5; i++)
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(usbpass_driver_open(driver, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_cmpuint(fx->connections->len, ==, 0);
	/* dropped while a retry is pending or in flight: no leak, no late callback */
	g_clear_object(&driver);
	while (g_main_context_iteration(NULL, FALSE))
		;
}

typedef struct {
	GMutex mutex;
	GCond cond;
	GThread *dispatched_in;
	gint fired;
	gint freed;
	gint watch;
} LoopProbe;

static void
probe_timeout_cb(int timer, void *opaque)
{
	LoopProbe *probe = opaque;
	g_mutex_lock(&probe->mutex);
	probe->dispatched_in = g_thread_self();
	probe->fired++;
	g_mutex_unlock(&probe->mutex);
	/* removing itself from its own callback is what libvirt does */
	virEventRemoveTimeout(timer);
}

static void
probe_handle_cb(int watch, int fd, int events, void *opaque)
{
	LoopProbe *probe = opaque;
	gchar byte;
	g_assert_true(events & VIR_EVENT_HANDLE_READABLE);
	g_assert_cmpint(read(fd, &byte, 1), ==, 1);
	g_mutex_lock(&probe->mutex);
	probe->dispatched_in = g_thread_self();
	probe->fired++;
	g_mutex_unlock(&probe->mutex);
	virEventRemoveHandle(watch);
}

static void
probe_free_cb(void *opaque)
{
	LoopProbe *probe = opaque;
	g_mutex_lock(&probe->mutex);
	probe->freed++;
	g_cond_broadcast(&probe->cond);
	g_mutex_unlock(&probe->mutex);
}

static void
probe_wait_freed(LoopProbe *probe)
{
	gint64 deadline = g_get_monotonic_time() + EVENT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&probe->mutex);
	while (probe->freed == 0) {
		if (!g_cond_wait_until(&probe->cond, &probe->mutex, deadline))
			break;
	}
	g_mutex_unlock(&probe->mutex);
}

/* libvirt's callbacks run in the loop's own thread, never in the caller's
 * main context; free functions come after the last callback */
static void
test_event_loop(void)
{
	g_autoptr(GError) error = NULL;
	LoopProbe timeout_probe = { 0 };
	LoopProbe handle_probe = { 0 };
	gint fds[2];

	g_assert_true(usbpass_libvirt_event_loop_hold(&error));
	g_assert_no_error(error);
	g_assert_true(usbpass_libvirt_event_loop_hold(&error));
	g_assert_true(usbpass_libvirt_event_loop_is_running());

	g_mutex_init(&timeout_probe.mutex);
	g_cond_init(&timeout_probe.cond);
	timeout_probe.watch =
	  virEventAddTimeout(10, probe_timeout_cb, &timeout_probe, probe_free_cb);
	g_assert_cmpint(timeout_probe.watch, >, 0);
	probe_wait_freed(&timeout_probe);
	g_assert_cmpint(timeout_probe.fired, ==, 1);
	g_assert_cmpint(timeout_probe.freed, ==, 1);
	g_assert_true(timeout_probe.dispatched_in != g_thread_self());
	/* gone: updates and removals of it are refused quietly */
	virEventUpdateTimeout(timeout_probe.watch, 0);
	g_assert_cmpint(virEventRemoveTimeout(timeout_probe.watch), ==, -1);

	g_mutex_init(&handle_probe.mutex);
	g_cond_init(&handle_probe.cond);
	g_assert_true(g_unix_open_pipe(fds, FD_CLOEXEC, &error));
	g_assert_no_error(error);
	/* added idle, then armed: an update brings it to life */
	handle_probe.watch =
	  virEventAddHandle(fds[0], 0, probe_handle_cb, &handle_probe, probe_free_cb);
	g_assert_cmpint(handle_probe.watch, >, 0);
	virEventUpdateHandle(handle_probe.watch, VIR_EVENT_HANDLE_READABLE);
	g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
	probe_wait_freed(&handle_probe);
	g_assert_cmpint(handle_probe.fired, ==, 1);
	g_assert_true(handle_probe.dispatched_in != g_thread_self());
	g_assert_cmpint(virEventRemoveHandle(handle_probe.watch), ==, -1);
	close(fds[0]);
	close(fds[1]);

	usbpass_libvirt_event_loop_release();
	g_assert_true(usbpass_libvirt_event_loop_is_running());
	usbpass_libvirt_event_loop_release();
	g_assert_false(usbpass_libvirt_event_loop_is_running());
	g_mutex_clear(&timeout_probe.mutex);
	g_cond_clear(&timeout_probe.cond);
	g_mutex_clear(&handle_probe.mutex);
	g_cond_clear(&handle_probe.cond);
}

#define LOOP_THREADS 4
#define LOOP_ROUNDS  200

static gpointer
loop_hold_release_cb(gpointer user_data)
{
	for (guint i = 0; i < LOOP_ROUNDS; i++) {
		g_autoptr(GError) error = NULL;
		g_assert_true(usbpass_libvirt_event_loop_hold(&error));
		g_assert_no_error(error);
		g_assert_true(usbpass_libvirt_event_loop_is_running());
		usbpass_libvirt_event_loop_release();
	}
	return NULL;
}

/* holders come and go in several threads at once: the last one's thread may
 * still be stopping when the next holder starts another on the same context;
 * the loop still runs libvirt's callbacks afterwards */
static void
test_event_loop_concurrent(void)
{
	g_autoptr(GError) error = NULL;
	GThread *threads[LOOP_THREADS];
	LoopProbe probe = { 0 };

	for (guint i = 0; i < LOOP_THREADS; i++)
		threads[i] = g_thread_new("hold", loop_hold_release_cb, NULL);
	for (guint i = 0; i < LOOP_THREADS; i++)
		g_thread_join(threads[i]);
	g_assert_false(usbpass_libvirt_event_loop_is_running());

	g_assert_true(usbpass_libvirt_event_loop_hold(&error));
	g_assert_no_error(error);
	g_mutex_init(&probe.mutex);
	g_cond_init(&probe.cond);
	probe.watch = virEventAddTimeout(1, probe_timeout_cb, &probe, probe_free_cb);
	g_assert_cmpint(probe.watch, >, 0);
	probe_wait_freed(&probe);
	g_assert_cmpint(probe.fired, ==, 1);
	g_assert_cmpint(probe.freed, ==, 1);
	usbpass_libvirt_event_loop_release();
	g_assert_false(usbpass_libvirt_event_loop_is_running());
	g_mutex_clear(&probe.mutex);
	g_cond_clear(&probe.cond);
}

/* libvirt's test driver runs in-process: error translation and events
 * without a daemon */
static void
test_test_uri(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassDriver) driver = driver_new(fx, "test:///default");
	g_autoptr(GPtrArray) instances = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(UsbpassInstance) by_uuid = NULL;
	g_autoptr(UsbpassInstance) missing = NULL;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(virConnect) conn = NULL;
	g_autoptr(virDomain) domain = NULL;

	g_assert_true(usbpass_driver_open(driver, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_driver_open(driver, &error));
	instances = usbpass_driver_list_instances(driver, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(instances->len, ==, 1);
	instance = usbpass_driver_lookup_instance(driver, "test", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(instance->name, ==, "test");
	g_assert_cmpint(instance->state, ==, USBPASS_INSTANCE_STATE_RUNNING);
	g_assert_true(instance->persistent);
	g_assert_cmpuint(strlen(instance->uuid), ==, 36);
	by_uuid = usbpass_driver_lookup_instance(driver, instance->uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(by_uuid->name, ==, "test");

	missing = usbpass_driver_lookup_instance(driver, "no-such-domain", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no-such-domain"));
	g_clear_error(&error);
	missing =
	  usbpass_driver_lookup_instance(driver, "00000000-0000-4000-8000-00000000dead", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	hostdevs = usbpass_driver_list_hostdevs(driver, "test", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 0);
	{
		g_autoptr(GPtrArray) all = list_all_checked(driver);
		UsbpassInstanceHostdevs *entry = find_entry(all, instance->uuid);
		g_assert_cmpuint(all->len, ==, 1);
		g_assert_nonnull(entry);
		g_assert_cmpint(entry->instance->state, ==, USBPASS_INSTANCE_STATE_RUNNING);
		g_assert_true(entry->instance->persistent);
	}
	/* the test driver cannot attach devices: libvirt's "not supported" */
	g_assert_false(usbpass_driver_attach(driver, "test", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_detach(driver, "test", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_detach(driver, "no-such-domain", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* test:///default is one state per process: a second connection changes
	 * the domain, the driver's connection hears it through the event thread */
	conn = virConnectOpen("test:///default");
	g_assert_nonnull(conn);
	domain = virDomainLookupByName(conn, "test");
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainSuspend(domain), ==, 0);
	wait_event(fx, instance->uuid, USBPASS_INSTANCE_EVENT_SUSPENDED);
	g_assert_cmpint(virDomainResume(domain), ==, 0);
	wait_event(fx, instance->uuid, USBPASS_INSTANCE_EVENT_RESUMED);
	g_assert_cmpuint(fx->connections->len, ==, 0);
}

#define OPEN_THREADS 4
#define OPEN_ROUNDS  25

typedef struct {
	UsbpassDriver *driver;
	GMutex mutex;
	GCond cond;
	gboolean go;
	gint failures;
} OpenRace;

static gpointer
open_race_cb(gpointer user_data)
{
	OpenRace *race = user_data;
	g_autoptr(GError) error = NULL;

	g_mutex_lock(&race->mutex);
	while (!race->go)
		g_cond_wait(&race->cond, &race->mutex);
	g_mutex_unlock(&race->mutex);
	if (!usbpass_driver_open(race->driver, &error)) {
		g_test_message("open failed: %s", error->message);
		g_atomic_int_inc(&race->failures);
	}
	return NULL;
}

/* open() from several threads at once: each opens a connection of its own
 * outside the lock, one is kept, the others are closed, and every caller is
 * told it is connected, without a critical */
static void
test_open_concurrent(Fixture *fx, gconstpointer user_data)
{
	for (guint round = 0; round < OPEN_ROUNDS; round++) {
		g_autoptr(UsbpassDriver) driver = driver_new(fx, "test:///default");
		g_autoptr(GPtrArray) instances = NULL;
		g_autoptr(GError) error = NULL;
		GThread *threads[OPEN_THREADS];
		OpenRace race = { .driver = driver };

		g_mutex_init(&race.mutex);
		g_cond_init(&race.cond);
		for (guint i = 0; i < OPEN_THREADS; i++)
			threads[i] = g_thread_new("open", open_race_cb, &race);
		g_mutex_lock(&race.mutex);
		race.go = TRUE;
		g_cond_broadcast(&race.cond);
		g_mutex_unlock(&race.mutex);
		for (guint i = 0; i < OPEN_THREADS; i++)
			g_thread_join(threads[i]);
		g_assert_cmpint(race.failures, ==, 0);
		g_assert_true(usbpass_driver_is_connected(driver));
		/* the connection kept works */
		instances = usbpass_driver_list_instances(driver, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(instances->len, ==, 1);
		g_mutex_clear(&race.mutex);
		g_cond_clear(&race.cond);
	}
	while (g_main_context_iteration(NULL, FALSE))
		;
	/* open() emits nothing, neither for the kept connection nor the others */
	g_assert_cmpuint(fx->connections->len, ==, 0);
}

/* ---- against libvirtd --------------------------------------------------------------------- */

static void
test_lookup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(GPtrArray) instances = NULL;
	g_autoptr(UsbpassInstance) by_name = NULL;
	g_autoptr(UsbpassInstance) by_uuid = NULL;
	g_autoptr(UsbpassInstance) missing = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autofree gchar *uuid = NULL;
	gboolean listed = FALSE;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);

	instances = usbpass_driver_list_instances(fx->driver, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < instances->len; i++) {
		UsbpassInstance *instance = g_ptr_array_index(instances, i);
		if (g_strcmp0(instance->uuid, uuid) != 0)
			continue;
		listed = TRUE;
		g_assert_cmpstr(instance->name, ==, virDomainGetName(domain));
		g_assert_cmpint(instance->state, ==, USBPASS_INSTANCE_STATE_SHUTOFF);
		g_assert_true(instance->persistent);
	}
	g_assert_true(listed);

	by_name = usbpass_driver_lookup_instance(fx->driver, virDomainGetName(domain), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(by_name->uuid, ==, uuid);
	by_uuid = usbpass_driver_lookup_instance(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(by_uuid->name, ==, virDomainGetName(domain));

	missing = usbpass_driver_lookup_instance(fx->driver, "usbpass-no-such-domain", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	hostdevs =
	  usbpass_driver_list_hostdevs(fx->driver, "00000000-0000-4000-8000-00000000dead", &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 0);
}

static void
test_attach_shutoff(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) invalid = hostdev_new(0, 0, 0, 0);
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *xml = NULL;
	UsbpassHostdev *entry;
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);

	start = g_get_monotonic_time();
	g_assert_true(usbpass_driver_attach(fx->driver, uuid, hostdev, &error));
	g_assert_no_error(error);
	g_test_message("persistent attach: %.1f ms", (g_get_monotonic_time() - start) / 1000.0);

	/* persistent only, with the optional startup policy */
	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	entry = g_ptr_array_index(hostdevs, 0);
	g_assert_false(entry->live);
	g_assert_true(entry->persistent);
	g_assert_true(usbpass_hostdev_matches(entry, hostdev));
	g_assert_cmpuint(entry->bus, ==, 1);
	xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_nonnull(strstr(xml, "startupPolicy='optional'"));
	g_assert_nonnull(strstr(xml, "managed='yes'"));

	/* twice: libvirt refuses, the definition keeps one */
	g_assert_false(usbpass_driver_attach(fx->driver, uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);
	g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 1);
	g_assert_false(usbpass_driver_attach(fx->driver, uuid, invalid, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	start = g_get_monotonic_time();
	g_assert_true(usbpass_driver_detach(fx->driver, uuid, hostdev, &error));
	g_assert_no_error(error);
	g_test_message("persistent detach: %.1f ms", (g_get_monotonic_time() - start) / 1000.0);
	g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 0);

	g_assert_false(usbpass_driver_detach(fx->driver, uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(
	  usbpass_driver_attach(fx->driver, "usbpass-no-such-domain", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

/* issue 9: a hostdev written by hand (address only, no alias) is the
 * operator's. It holds its device, usbpass's detach never removes it (IN_USE),
 * a request without ids never finds it, and usbpass's own hostdev next to it,
 * marked by its alias in the persistent and the live definition, comes and
 * goes leaving the definition byte for byte as it was */
static void
test_ownership(Fixture *fx, gconstpointer user_data)
{
	const gchar *by_hand = "<hostdev mode='subsystem' type='usb'><source startupPolicy='optional'>"
			       "<address bus='0x1' device='0x9'/></source></hostdev>";
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(UsbpassHostdev) held = hostdev_new(0x0781, 0x5567, 1, 9);
	g_autoptr(UsbpassHostdev) no_ids = hostdev_new(0, 0, 1, 9);
	g_autoptr(UsbpassHostdev) ours = hostdev_new(0x1050, 0x0407, 1, 4);
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *live_before = NULL;
	g_autofree gchar *live_after = NULL;
	UsbpassHostdev *entry;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);
	g_assert_cmpint(virDomainAttachDeviceFlags(domain, by_hand, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
	before = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);

	/* listed, not usbpass's, and holding the device at 1:9 whatever its ids */
	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	entry = g_ptr_array_index(hostdevs, 0);
	g_assert_false(entry->owned);
	g_assert_cmpuint(entry->vendor_id, ==, 0);
	g_assert_cmpuint(entry->bus, ==, 1);
	g_assert_cmpuint(entry->device, ==, 9);
	g_assert_true(usbpass_hostdev_holds(entry, held));
	g_clear_pointer(&hostdevs, g_ptr_array_unref);

	g_assert_false(usbpass_driver_detach(fx->driver, uuid, held, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_detach(fx->driver, uuid, no_ids, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_clear_error(&error);

	/* usbpass's own, next to it: marked, and removed alone */
	g_assert_true(usbpass_driver_attach(fx->driver, uuid, ours, &error));
	g_assert_no_error(error);
	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 2);
	entry = g_ptr_array_index(hostdevs, 1);
	g_assert_true(entry->owned);
	g_assert_cmpstr(entry->alias, ==, "ua-usbpass-1050-0407-1-4");
	g_assert_true(usbpass_driver_detach(fx->driver, uuid, ours, &error));
	g_assert_no_error(error);
	after = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_cmpstr(after, ==, before);

	/* started: the hand-written entry boots missing and stays the operator's */
	domain_start(domain, 0);
	live_before = virDomainGetXMLDesc(domain, 0);
	g_assert_nonnull(strstr(live_before, "missing='yes'"));
	g_assert_false(usbpass_driver_detach(fx->driver, uuid, held, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_clear_error(&error);
	/* a live attach of an absent device fails, and takes back only its own entry */
	g_assert_false(usbpass_driver_attach(fx->driver, uuid, ours, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	live_after = virDomainGetXMLDesc(domain, 0);
	g_assert_cmpstr(live_after, ==, live_before);
	g_free(after);
	after = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_cmpstr(after, ==, before);
}

typedef struct {
	const gchar *name;
	guint start_flags;
	UsbpassInstanceState state;
} ActiveCase;

static const ActiveCase active_cases[] = {
	{ "running", 0, USBPASS_INSTANCE_STATE_RUNNING },
	{ "paused", VIR_DOMAIN_START_PAUSED, USBPASS_INSTANCE_STATE_PAUSED },
};

/* a running or paused domain: the absent device is refused live, the optional
 * device of the definition booted as missing and is detached from both */
static void
test_attach_active(Fixture *fx, gconstpointer user_data)
{
	const ActiveCase *tc = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(UsbpassHostdev) booted = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) absent = hostdev_new(0x1234, 0x5678, 2, 3);
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(GPtrArray) after = NULL;
	g_autofree gchar *uuid = NULL;
	UsbpassHostdev *entry;
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, booted);
	uuid = domain_uuid(domain);
	start = g_get_monotonic_time();
	domain_start(domain, tc->start_flags);
	g_test_message("start with an absent optional device: %.0f ms",
		       (g_get_monotonic_time() - start) / 1000.0);
	instance = usbpass_driver_lookup_instance(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpint(instance->state, ==, tc->state);

	/* an optional device does not stop the domain from booting */
	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	entry = g_ptr_array_index(hostdevs, 0);
	g_assert_true(entry->live);
	g_assert_true(entry->persistent);
	g_assert_true(entry->missing);
	g_assert_nonnull(entry->alias);
	g_assert_true(usbpass_hostdev_matches(entry, booted));

	/* a device the host does not have: refused live, definitions unchanged */
	g_assert_false(usbpass_driver_attach(fx->driver, uuid, absent, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(
	  strstr(error->message, "Did not find USB device 1234:5678 bus:2 device:3"));
	g_test_message("refusal: %s", error->message);
	g_clear_error(&error);
	g_assert_cmpuint(count_xml_hostdevs(domain, 0), ==, 1);
	g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 1);

	/* devices put in one definition by hand: listed with their scope,
	 * detached from that definition only */
	{
		g_autoptr(UsbpassHostdev) live_only = hostdev_new(0x0aaa, 0x0001, 5, 1);
		g_autoptr(UsbpassHostdev) config_only = hostdev_new(0x0bbb, 0x0002, 5, 2);
		g_autofree gchar *live_xml = usbpass_libvirt_xml_build_hostdev(live_only, &error);
		g_autofree gchar *config_xml =
		  usbpass_libvirt_xml_build_hostdev(config_only, &error);
		g_autoptr(GPtrArray) listed = NULL;

		g_assert_no_error(error);
		g_assert_cmpint(
		  virDomainAttachDeviceFlags(domain, live_xml, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
		g_assert_cmpint(
		  virDomainAttachDeviceFlags(domain, config_xml, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
		listed = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(listed->len, ==, 3);
		for (guint i = 0; i < listed->len; i++) {
			UsbpassHostdev *item = g_ptr_array_index(listed, i);
			if (usbpass_hostdev_matches(item, live_only)) {
				g_assert_true(item->live && !item->persistent && item->missing);
			} else if (usbpass_hostdev_matches(item, config_only)) {
				g_assert_true(!item->live && item->persistent);
			} else {
				g_assert_true(usbpass_hostdev_matches(item, booted));
				g_assert_true(item->live && item->persistent);
			}
		}
		g_assert_true(usbpass_driver_detach(fx->driver, uuid, live_only, &error));
		g_assert_no_error(error);
		g_assert_true(usbpass_driver_detach(fx->driver, uuid, config_only, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(count_xml_hostdevs(domain, 0), ==, 1);
		g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 1);
	}

	/* detach mirrors attach: live and persistent, with libvirt's event */
	g_ptr_array_set_size(fx->events, 0);
	g_assert_true(usbpass_driver_detach(fx->driver, uuid, booted, &error));
	g_assert_no_error(error);
	after = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(after->len, ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_DEVICE_REMOVED);
}

static void
test_attach_transient(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) booted = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) absent = hostdev_new(0x1234, 0x5678, 2, 3);
	g_autofree gchar *xml = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autofree gchar *uuid = NULL;
	UsbpassHostdev *entry;

	if (skip_without_libvirtd(fx))
		return;
	xml = domain_xml_new(fx, booted, NULL);
	domain = virDomainCreateXML(fx->conn, xml, 0);
	g_assert_nonnull(domain);
	uuid = domain_uuid(domain);
	instance = usbpass_driver_lookup_instance(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_false(instance->persistent);
	g_assert_cmpint(instance->state, ==, USBPASS_INSTANCE_STATE_RUNNING);

	hostdevs = usbpass_driver_list_hostdevs(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	entry = g_ptr_array_index(hostdevs, 0);
	g_assert_true(entry->live);
	g_assert_false(entry->persistent);

	/* live only: refused for the absent device, nothing left behind */
	g_assert_false(usbpass_driver_attach(fx->driver, uuid, absent, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(strstr(error->message, "Did not find USB device"));
	g_clear_error(&error);
	g_assert_cmpuint(count_xml_hostdevs(domain, 0), ==, 1);

	g_assert_true(usbpass_driver_detach(fx->driver, uuid, booted, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count_xml_hostdevs(domain, 0), ==, 0);
	g_assert_false(usbpass_driver_detach(fx->driver, uuid, booted, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

static guint
count_saved_hostdevs(virDomainPtr domain)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = virDomainManagedSaveGetXMLDesc(domain, 0);
	g_autoptr(GPtrArray) hostdevs = NULL;

	g_assert_nonnull(xml);
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, FALSE, &error);
	g_assert_no_error(error);
	return hostdevs->len;
}

static gchar *
saved_xml(virDomainPtr domain)
{
	g_autofree gchar *xml = virDomainManagedSaveGetXMLDesc(domain, 0);
	g_assert_nonnull(xml);
	return g_strdup(xml);
}

static gchar *
persistent_xml(virDomainPtr domain)
{
	g_autofree gchar *xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_nonnull(xml);
	return g_strdup(xml);
}

static void
test_attach_saved(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(UsbpassHostdev) booted = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) other = hostdev_new(0x1234, 0x5678, 2, 3);
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *saved_before = NULL;
	g_autofree gchar *persistent_before = NULL;
	gint64 start;
	gboolean ok;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, booted);
	uuid = domain_uuid(domain);
	domain_start(domain, 0);
	start = g_get_monotonic_time();
	if (virDomainManagedSave(domain, 0) < 0) {
		g_autofree gchar *why = g_strdup_printf(
		  "managed save of a TCG domain failed here: %s", virGetLastErrorMessage());
		g_test_skip(why);
		return;
	}
	g_test_message("managed save: %.0f ms", (g_get_monotonic_time() - start) / 1000.0);
	instance = usbpass_driver_lookup_instance(fx->driver, uuid, &error);
	g_assert_no_error(error);
	g_assert_cmpint(instance->state, ==, USBPASS_INSTANCE_STATE_SAVED);
	g_assert_cmpuint(count_saved_hostdevs(domain), ==, 1);
	/* the listings say so too */
	{
		g_autoptr(GPtrArray) all = list_all_checked(fx->driver);
		UsbpassInstanceHostdevs *entry = find_entry(all, uuid);
		g_assert_nonnull(entry);
		g_assert_cmpint(entry->instance->state, ==, USBPASS_INSTANCE_STATE_SAVED);
		g_assert_true(entry->instance->persistent);
		g_assert_cmpuint(entry->hostdevs->len, ==, 1);
	}

	/* the saved definition must change too; libvirt 9 refuses that (its ABI
	 * check wants the same host device count): a clear refusal, nothing changed */
	saved_before = saved_xml(domain);
	persistent_before = persistent_xml(domain);
	ok = usbpass_driver_attach(fx->driver, uuid, other, &error);
	if (ok) {
		g_assert_no_error(error);
		g_assert_cmpuint(count_saved_hostdevs(domain), ==, 2);
		g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 2);
		g_assert_true(usbpass_driver_detach(fx->driver, uuid, other, &error));
		g_assert_no_error(error);
	} else {
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error->message, "managed-save image"));
		g_test_message("refusal: %s", error->message);
		g_clear_error(&error);
		g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 1);
		{
			g_autofree gchar *saved_after = saved_xml(domain);
			g_autofree gchar *persistent_after = persistent_xml(domain);
			g_assert_cmpstr(saved_after, ==, saved_before);
			g_assert_cmpstr(persistent_after, ==, persistent_before);
		}
	}
	g_assert_cmpuint(count_saved_hostdevs(domain), ==, 1);
	/* detach refused the same way leaves both definitions as they were, to
	 * the byte: nothing was changed or everything was put back */
	g_clear_pointer(&saved_before, g_free);
	g_clear_pointer(&persistent_before, g_free);
	saved_before = saved_xml(domain);
	persistent_before = persistent_xml(domain);
	ok = usbpass_driver_detach(fx->driver, uuid, booted, &error);
	if (!ok) {
		g_autofree gchar *saved_after = NULL;
		g_autofree gchar *persistent_after = NULL;

		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error->message, "managed-save image"));
		g_assert_null(strstr(error->message, "restoring"));
		g_clear_error(&error);
		saved_after = saved_xml(domain);
		persistent_after = persistent_xml(domain);
		g_assert_cmpstr(saved_after, ==, saved_before);
		g_assert_cmpstr(persistent_after, ==, persistent_before);
		g_assert_cmpuint(count_saved_hostdevs(domain), ==, 1);
		g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 1);
	} else {
		g_assert_no_error(error);
		g_assert_cmpuint(count_saved_hostdevs(domain), ==, 0);
		g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 0);
	}

	/* a device only the persistent definition has (put there after the
	 * save): detached from it, the image is not touched */
	{
		g_autoptr(UsbpassHostdev) config_only = hostdev_new(0x0ccc, 0x0003, 6, 1);
		g_autofree gchar *element = usbpass_libvirt_xml_build_hostdev(config_only, &error);
		g_autofree gchar *saved_after = NULL;

		g_assert_no_error(error);
		g_clear_pointer(&saved_before, g_free);
		saved_before = saved_xml(domain);
		g_assert_cmpint(
		  virDomainAttachDeviceFlags(domain, element, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
		g_assert_true(usbpass_driver_detach(fx->driver, uuid, config_only, &error));
		g_assert_no_error(error);
		saved_after = saved_xml(domain);
		g_assert_cmpstr(saved_after, ==, saved_before);
		g_assert_false(usbpass_driver_detach(fx->driver, uuid, config_only, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}

	/* without the image it is an ordinary shut-off domain */
	g_assert_cmpint(virDomainManagedSaveRemove(domain, 0), ==, 0);
	g_assert_true(usbpass_driver_attach(fx->driver, uuid, other, &error));
	g_assert_no_error(error);
}

typedef struct {
	const gchar *what;
	virDomainPtr domain;
	UsbpassInstanceState state;
	gboolean persistent;
	guint n_hostdevs;
	guint n_live;
	guint n_persistent;
} ListCase;

/* every state a domain can be in here, read by the few listings of
 * list_instances and list_all_hostdevs, against the per-domain calls */
static void
test_list_all(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) first = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) second = hostdev_new(0x1234, 0x5678, 2, 3);
	g_autoptr(UsbpassHostdev) live_only = hostdev_new(0x0aaa, 0x0001, 5, 1);
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) after = NULL;
	g_autofree gchar *live_xml = NULL;
	g_autofree gchar *transient_xml = NULL;
	ListCase cases[4] = {
		{ "shutoff", NULL, USBPASS_INSTANCE_STATE_SHUTOFF, TRUE, 2, 0, 2 },
		{ "running", NULL, USBPASS_INSTANCE_STATE_RUNNING, TRUE, 2, 2, 1 },
		{ "paused", NULL, USBPASS_INSTANCE_STATE_PAUSED, TRUE, 1, 1, 1 },
		{ "transient", NULL, USBPASS_INSTANCE_STATE_RUNNING, FALSE, 1, 1, 0 },
	};
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	/* shut off with two devices; running with one booted (missing) and one
	 * put in the live definition by hand; paused; transient */
	cases[0].domain = domain_define(fx, first);
	g_assert_true(usbpass_driver_attach(
	  fx->driver, virDomainGetName(cases[0].domain), second, &error));
	g_assert_no_error(error);
	cases[1].domain = domain_define(fx, first);
	domain_start(cases[1].domain, 0);
	live_xml = usbpass_libvirt_xml_build_hostdev(live_only, &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	  virDomainAttachDeviceFlags(cases[1].domain, live_xml, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
	cases[2].domain = domain_define(fx, second);
	domain_start(cases[2].domain, VIR_DOMAIN_START_PAUSED);
	transient_xml = domain_xml_new(fx, first, NULL);
	cases[3].domain = virDomainCreateXML(fx->conn, transient_xml, 0);
	g_assert_nonnull(cases[3].domain);

	start = g_get_monotonic_time();
	all = list_all_checked(fx->driver);
	g_test_message("list_all_hostdevs + list_instances + list_hostdevs of %u domains: %.1f ms",
		       all->len,
		       (g_get_monotonic_time() - start) / 1000.0);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *uuid = domain_uuid(cases[i].domain);
		UsbpassInstanceHostdevs *entry = find_entry(all, uuid);
		guint n_live = 0;
		guint n_persistent = 0;

		g_test_message("%s", cases[i].what);
		g_assert_nonnull(entry);
		g_assert_cmpstr(entry->instance->name, ==, virDomainGetName(cases[i].domain));
		g_assert_cmpint(entry->instance->state, ==, cases[i].state);
		g_assert_cmpint(entry->instance->persistent, ==, cases[i].persistent);
		g_assert_cmpuint(entry->hostdevs->len, ==, cases[i].n_hostdevs);
		for (guint j = 0; j < entry->hostdevs->len; j++) {
			UsbpassHostdev *hostdev = g_ptr_array_index(entry->hostdevs, j);
			n_live += hostdev->live ? 1 : 0;
			n_persistent += hostdev->persistent ? 1 : 0;
		}
		g_assert_cmpuint(n_live, ==, cases[i].n_live);
		g_assert_cmpuint(n_persistent, ==, cases[i].n_persistent);
	}

	/* a transient domain that stopped and a persistent one that was
	 * undefined are simply not there any more */
	g_assert_cmpint(virDomainDestroy(cases[3].domain), ==, 0);
	g_assert_cmpint(virDomainUndefine(cases[0].domain), ==, 0);
	after = list_all_checked(fx->driver);
	g_assert_cmpuint(after->len, ==, all->len - 2);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *uuid = domain_uuid(cases[i].domain);
		g_assert_true((find_entry(after, uuid) == NULL) == (i == 0 || i == 3));
		virDomainFree(cases[i].domain);
	}

	/* refused like the other calls without a connection */
	{
		g_autoptr(UsbpassDriver) closed = driver_new(fx, fx->uri);
		g_autoptr(GPtrArray) refused = usbpass_driver_list_all_hostdevs(closed, &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_assert_null(refused);
	}
}

static void
test_events(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *uuid = NULL;
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);
	start = g_get_monotonic_time();
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_DEFINED);
	g_test_message("defined event after %.1f ms", (g_get_monotonic_time() - start) / 1000.0);
	domain_start(domain, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_STARTED);
	g_assert_cmpint(virDomainSuspend(domain), ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_SUSPENDED);
	g_assert_cmpint(virDomainResume(domain), ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_RESUMED);
	g_assert_cmpint(virDomainReset(domain, 0), ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_REBOOTED);
	g_assert_cmpint(virDomainDestroy(domain), ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_STOPPED);
	g_assert_cmpint(virDomainUndefine(domain), ==, 0);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_UNDEFINED);
}

static void
test_reconnect(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) instances = NULL;
	g_autoptr(GPtrArray) refused = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *pid_text = NULL;
	const gchar *pidfile = g_getenv("USBPASS_TEST_LIBVIRTD_PIDFILE");
	guint64 pid = 0;
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	if (pidfile == NULL) {
		g_test_skip(
		  "USBPASS_TEST_LIBVIRTD_PIDFILE is not set: libvirtd is not ours to restart");
		return;
	}
	usbpass_libvirt_driver_set_reconnect_delays(USBPASS_LIBVIRT_DRIVER(fx->driver), 100, 2000);
	g_assert_true(g_file_get_contents(pidfile, &pid_text, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(
	  g_ascii_string_to_unsigned(g_strstrip(pid_text), 10, 2, G_MAXINT32, &pid, NULL));

	/* the harness starts libvirtd again when it exits */
	start = g_get_monotonic_time();
	g_assert_cmpint(kill((pid_t)pid, SIGKILL), ==, 0);
	g_assert_true(run_until(has_connections, fx, GUINT_TO_POINTER(1), EVENT_TIMEOUT_MS));
	g_assert_cmpstr(g_ptr_array_index(fx->connections, 0), ==, "down");
	g_test_message("connection loss noticed after %.0f ms",
		       (g_get_monotonic_time() - start) / 1000.0);
	if (!usbpass_driver_is_connected(fx->driver)) {
		refused = usbpass_driver_list_instances(fx->driver, &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_assert_null(refused);
		g_clear_error(&error);
	}
	g_assert_true(run_until(has_connections, fx, GUINT_TO_POINTER(2), RECONNECT_TIMEOUT_MS));
	g_assert_cmpstr(g_ptr_array_index(fx->connections, 1), ==, "up");
	g_test_message("reconnected after %.0f ms", (g_get_monotonic_time() - start) / 1000.0);
	g_assert_true(usbpass_driver_is_connected(fx->driver));

	/* calls and events work again */
	instances = usbpass_driver_list_instances(fx->driver, &error);
	g_assert_no_error(error);
	g_assert_nonnull(instances);
	virConnectClose(fx->conn);
	fx->conn = virConnectOpen(fx->uri);
	g_assert_nonnull(fx->conn);
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);
	wait_event(fx, uuid, USBPASS_INSTANCE_EVENT_DEFINED);
	g_assert_cmpuint(fx->connections->len, ==, 2);
}

typedef struct {
	UsbpassDriver *driver;
	const gchar *uuid;
	guint index;
	guint failures;
} StressData;

static gpointer
stress_cb(gpointer user_data)
{
	StressData *data = user_data;
	g_autoptr(UsbpassHostdev) hostdev =
	  hostdev_new(0x2000 + data->index, 0x0001, 9, 10 + data->index);

	for (guint i = 0; i < 10; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) instances = NULL;
		if (!usbpass_driver_attach(data->driver, data->uuid, hostdev, &error)) {
			g_test_message("attach %u: %s", data->index, error->message);
			data->failures++;
			continue;
		}
		instances = usbpass_driver_list_instances(data->driver, &error);
		if (instances == NULL)
			data->failures++;
		g_clear_error(&error);
		if (!usbpass_driver_detach(data->driver, data->uuid, hostdev, &error)) {
			g_test_message("detach %u: %s", data->index, error->message);
			data->failures++;
		}
	}
	return NULL;
}

/* the driver is called from several threads at once, as the engine does */
static void
test_concurrent(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *uuid = NULL;
	StressData data[4];
	GThread *threads[4];
	gint64 start;

	if (skip_without_libvirtd(fx))
		return;
	domain = domain_define(fx, NULL);
	uuid = domain_uuid(domain);
	start = g_get_monotonic_time();
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		data[i] = (StressData){ .driver = fx->driver, .uuid = uuid, .index = i };
		threads[i] = g_thread_new("stress", stress_cb, &data[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		g_thread_join(threads[i]);
		g_assert_cmpuint(data[i].failures, ==, 0);
	}
	g_test_message("4 threads x 10 persistent attach+list+detach: %.0f ms",
		       (g_get_monotonic_time() - start) / 1000.0);
	g_assert_cmpuint(count_xml_hostdevs(domain, VIR_DOMAIN_XML_INACTIVE), ==, 0);
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/usbpass/drivers/libvirt/event-loop", test_event_loop);
	g_test_add_func("/usbpass/drivers/libvirt/event-loop{concurrent}",
			test_event_loop_concurrent);
	ADD("/usbpass/drivers/libvirt/open{no-daemon}", test_no_daemon);
	ADD("/usbpass/drivers/libvirt/test-uri", test_test_uri);
	ADD("/usbpass/drivers/libvirt/open{concurrent}", test_open_concurrent);
	ADD("/usbpass/drivers/libvirt/lookup", test_lookup);
	ADD("/usbpass/drivers/libvirt/attach{shutoff}", test_attach_shutoff);
	for (guint i = 0; i < G_N_ELEMENTS(active_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/drivers/libvirt/attach{%s}", active_cases[i].name);
		g_test_add(path,
			   Fixture,
			   &active_cases[i],
			   fixture_setup,
			   test_attach_active,
			   fixture_teardown);
	}
	ADD("/usbpass/drivers/libvirt/attach{transient}", test_attach_transient);
	ADD("/usbpass/drivers/libvirt/ownership", test_ownership);
	ADD("/usbpass/drivers/libvirt/attach{saved}", test_attach_saved);
	ADD("/usbpass/drivers/libvirt/list-all", test_list_all);
	ADD("/usbpass/drivers/libvirt/events", test_events);
	ADD("/usbpass/drivers/libvirt/concurrent", test_concurrent);
	/* last: it restarts libvirtd */
	ADD("/usbpass/drivers/libvirt/reconnect", test_reconnect);
	return g_test_run();
}

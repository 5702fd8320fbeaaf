/*
 * test-driver-test.c: the driver records and the in-memory test driver
 *
 * The test driver stands in for libvirt in the engine's tests, so its flag
 * rules, failures and events are checked here against what libvirt does.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "usbpass-test-driver.h"

typedef struct {
	UsbpassTestDriver *driver;
	GPtrArray *events;      /* of "uuid kind" */
	GPtrArray *connections; /* of "up"/"down" */
	GThread *main_thread;
	gboolean off_thread; /* a signal arrived in another thread */
} Fixture;

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

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	fx->driver = usbpass_test_driver_new();
	fx->events = g_ptr_array_new_with_free_func(g_free);
	fx->connections = g_ptr_array_new_with_free_func(g_free);
	fx->main_thread = g_thread_self();
	g_signal_connect(fx->driver, "instance-event", G_CALLBACK(on_instance_event), fx);
	g_signal_connect(fx->driver, "connection-changed", G_CALLBACK(on_connection_changed), fx);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_assert_false(fx->off_thread);
	g_clear_object(&fx->driver);
	g_ptr_array_unref(fx->events);
	g_ptr_array_unref(fx->connections);
	/* nothing queued may outlive the driver */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

/* the events since the last call, joined: "UUID started,UUID stopped" */
static gchar *
take_events(Fixture *fx)
{
	g_autoptr(GString) str = g_string_new(NULL);
	for (guint i = 0; i < fx->events->len; i++) {
		if (i > 0)
			g_string_append_c(str, ',');
		g_string_append(str, g_ptr_array_index(fx->events, i));
	}
	g_ptr_array_set_size(fx->events, 0);
	return g_string_free(g_steal_pointer(&str), FALSE);
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

static guint
count_scope(Fixture *fx, const gchar *uuid, UsbpassTestDriverScope scope)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) hostdevs =
	  usbpass_test_driver_get_hostdevs(fx->driver, uuid, scope, &error);
	g_assert_no_error(error);
	return hostdevs->len;
}

/* an instance in @state; SAVED goes through a managed save of a running one */
static UsbpassInstance *
add_instance(Fixture *fx, const gchar *name, UsbpassInstanceState state, gboolean persistent)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	UsbpassInstanceState initial = state;

	if (state == USBPASS_INSTANCE_STATE_SAVED || state == USBPASS_INSTANCE_STATE_CRASHED)
		initial = USBPASS_INSTANCE_STATE_RUNNING;
	instance =
	  usbpass_test_driver_add_instance(fx->driver, NULL, name, initial, persistent, &error);
	g_assert_no_error(error);
	g_assert_nonnull(instance);
	if (initial != state) {
		g_assert_true(
		  usbpass_test_driver_set_state(fx->driver, instance->uuid, state, &error));
		g_assert_no_error(error);
	}
	g_ptr_array_set_size(fx->events, 0);
	return g_steal_pointer(&instance);
}

static void
test_records(void)
{
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) copy = NULL;
	g_autofree gchar *shown = NULL;
	g_autofree gchar *shown_no_address = NULL;

	for (guint i = 0; i < USBPASS_INSTANCE_STATE_LAST; i++) {
		const gchar *name = usbpass_instance_state_to_string(i);
		g_assert_cmpint(usbpass_instance_state_from_string(name), ==, i);
	}
	g_assert_cmpstr(
	  usbpass_instance_state_to_string(USBPASS_INSTANCE_STATE_SAVED), ==, "saved");
	g_assert_cmpstr(
	  usbpass_instance_state_to_string(USBPASS_INSTANCE_STATE_LAST + 3), ==, "unknown");
	g_assert_cmpint(
	  usbpass_instance_state_from_string("nope"), ==, USBPASS_INSTANCE_STATE_UNKNOWN);
	g_assert_cmpint(
	  usbpass_instance_state_from_string(NULL), ==, USBPASS_INSTANCE_STATE_UNKNOWN);
	for (guint i = 0; i < USBPASS_INSTANCE_EVENT_LAST; i++) {
		const gchar *name = usbpass_instance_event_kind_to_string(i);
		g_assert_nonnull(name);
		g_assert_cmpint(usbpass_instance_event_kind_from_string(name), ==, i);
	}
	g_assert_null(usbpass_instance_event_kind_to_string(USBPASS_INSTANCE_EVENT_LAST));
	g_assert_cmpint(
	  usbpass_instance_event_kind_from_string("exploded"), ==, USBPASS_INSTANCE_EVENT_LAST);

	instance = usbpass_instance_new_full(
	  "6F1D3A52-0000-4000-8000-00000000ABCD", "web01", USBPASS_INSTANCE_STATE_PAUSED, TRUE);
	g_assert_cmpstr(instance->uuid, ==, "6f1d3a52-0000-4000-8000-00000000abcd");
	g_assert_cmpstr(instance->name, ==, "web01");
	g_assert_cmpint(instance->state, ==, USBPASS_INSTANCE_STATE_PAUSED);
	g_assert_true(instance->persistent);
	g_assert_true(usbpass_instance_ref(instance) == instance);
	usbpass_instance_unref(instance);
	usbpass_instance_unref(NULL);

	hostdev->alias = g_strdup("hostdev0");
	hostdev->live = TRUE;
	copy = usbpass_hostdev_copy(hostdev);
	g_assert_true(copy->alias != hostdev->alias);
	g_assert_cmpstr(copy->alias, ==, "hostdev0");
	g_assert_cmpuint(copy->bus, ==, 1);
	g_assert_true(copy->live);
	usbpass_hostdev_free(NULL);

	shown = usbpass_hostdev_to_string(hostdev);
	g_assert_cmpstr(shown, ==, "0781:5567 bus 1 device 4");
	hostdev->bus = 0;
	shown_no_address = usbpass_hostdev_to_string(hostdev);
	g_assert_cmpstr(shown_no_address, ==, "0781:5567");
}

typedef struct {
	guint16 vendor_a, product_a;
	guint bus_a, device_a;
	guint16 vendor_b, product_b;
	guint bus_b, device_b;
	gboolean matches;
} MatchCase;

static void
test_hostdev_matches(void)
{
	const MatchCase cases[] = {
		{ 0x0781, 0x5567, 1, 4, 0x0781, 0x5567, 1, 4, TRUE },
		/* an entry without an address matches any address */
		{ 0x0781, 0x5567, 0, 0, 0x0781, 0x5567, 1, 4, TRUE },
		{ 0x0781, 0x5567, 1, 4, 0x0781, 0x5567, 0, 0, TRUE },
		/* libvirt's placeholder (no ids) matches a request with vendor 0 */
		{ 0, 0, 1, 4, 0, 0, 1, 4, TRUE },
		{ 0, 0, 0, 0, 0, 0, 1, 4, TRUE },
		/* failures */
		{ 0, 0, 1, 4, 0x0781, 0x5567, 1, 4, FALSE },
		{ 0x0781, 0x5567, 1, 4, 0x0781, 0x5567, 1, 5, FALSE },
		{ 0x0781, 0x5567, 1, 4, 0x0781, 0x5567, 2, 4, FALSE },
		{ 0x0781, 0x5567, 1, 4, 0x0781, 0x5568, 1, 4, FALSE },
		{ 0x0781, 0x5567, 1, 4, 0x0782, 0x5567, 1, 4, FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassHostdev) a = hostdev_new(
		  cases[i].vendor_a, cases[i].product_a, cases[i].bus_a, cases[i].device_a);
		g_autoptr(UsbpassHostdev) b = hostdev_new(
		  cases[i].vendor_b, cases[i].product_b, cases[i].bus_b, cases[i].device_b);
		/* scope, missing and alias never count */
		a->live = TRUE;
		b->missing = TRUE;
		b->alias = g_strdup("ua-x");
		g_assert_cmpint(usbpass_hostdev_matches(a, b), ==, cases[i].matches);
		g_assert_cmpint(usbpass_hostdev_matches(b, a), ==, cases[i].matches);
	}
}

typedef struct {
	guint16 vendor_id, product_id;
	guint bus, device;
	gboolean valid;
} ValidateCase;

static void
test_hostdev_validate(void)
{
	const ValidateCase cases[] = {
		{ 0x0781, 0x5567, 1, 4, TRUE },
		{ 0x0781, 0x5567, 0, 0, TRUE },
		{ 0, 0, 3, 7, TRUE },
		{ 0, 0, 0, 0, FALSE },
		{ 0x0781, 0x5567, 1, 0, FALSE },
		{ 0, 0, 0, 9, FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassHostdev) hostdev = hostdev_new(
		  cases[i].vendor_id, cases[i].product_id, cases[i].bus, cases[i].device);
		gboolean ok = usbpass_hostdev_validate(hostdev, &error);
		g_assert_cmpint(ok, ==, cases[i].valid);
		if (cases[i].valid)
			g_assert_no_error(error);
		else
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
}

static void
test_merge(void)
{
	g_autoptr(GPtrArray) live =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
	g_autoptr(GPtrArray) persistent =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
	g_autoptr(GPtrArray) merged = NULL;
	g_autoptr(GPtrArray) empty = NULL;
	UsbpassHostdev *entry;

	/* live: A (missing), B twice; persistent: B, C */
	entry = hostdev_new(0x0781, 0x5567, 1, 4);
	entry->missing = TRUE;
	entry->alias = g_strdup("hostdev0");
	g_ptr_array_add(live, entry);
	g_ptr_array_add(live, hostdev_new(0x046d, 0xc52b, 1, 5));
	g_ptr_array_add(live, hostdev_new(0x046d, 0xc52b, 1, 5));
	g_ptr_array_add(persistent, hostdev_new(0x046d, 0xc52b, 0, 0));
	g_ptr_array_add(persistent, hostdev_new(0x1d6b, 0x0002, 2, 1));

	merged = usbpass_driver_merge_hostdevs(live, persistent);
	g_assert_cmpuint(merged->len, ==, 4);
	entry = g_ptr_array_index(merged, 0);
	g_assert_true(entry->live && !entry->persistent && entry->missing);
	g_assert_cmpstr(entry->alias, ==, "hostdev0");
	entry = g_ptr_array_index(merged, 1);
	g_assert_true(entry->live && entry->persistent);
	/* each live entry pairs with one persistent entry at most */
	entry = g_ptr_array_index(merged, 2);
	g_assert_true(entry->live && !entry->persistent);
	entry = g_ptr_array_index(merged, 3);
	g_assert_true(!entry->live && entry->persistent);
	g_assert_cmpuint(entry->vendor_id, ==, 0x1d6b);

	empty = usbpass_driver_merge_hostdevs(NULL, NULL);
	g_assert_cmpuint(empty->len, ==, 0);
}

typedef struct {
	const gchar *name;
	UsbpassInstanceState state;
	gboolean persistent;
	gboolean saved_updatable;
	/* what attach must touch, or the refusal */
	gboolean live;
	gboolean config;
	gboolean saved;
	gint error_code; /* -1: success */
} ScopeCase;

static const ScopeCase scope_cases[] = {
	{ "running", USBPASS_INSTANCE_STATE_RUNNING, TRUE, FALSE, TRUE, TRUE, FALSE, -1 },
	{ "paused", USBPASS_INSTANCE_STATE_PAUSED, TRUE, FALSE, TRUE, TRUE, FALSE, -1 },
	{ "crashed", USBPASS_INSTANCE_STATE_CRASHED, TRUE, FALSE, TRUE, TRUE, FALSE, -1 },
	{ "shutoff", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE, FALSE, FALSE, TRUE, FALSE, -1 },
	{ "transient", USBPASS_INSTANCE_STATE_RUNNING, FALSE, FALSE, TRUE, FALSE, FALSE, -1 },
	{ "transient-paused", USBPASS_INSTANCE_STATE_PAUSED, FALSE, FALSE, TRUE, FALSE, FALSE, -1 },
	{ "saved", USBPASS_INSTANCE_STATE_SAVED, TRUE, TRUE, FALSE, TRUE, TRUE, -1 },
	{ "saved-refused",
	  USBPASS_INSTANCE_STATE_SAVED,
	  TRUE,
	  FALSE,
	  FALSE,
	  FALSE,
	  FALSE,
	  USBPASS_ERROR_NOT_SUPPORTED },
};

static void
test_attach_scope(Fixture *fx, gconstpointer user_data)
{
	const ScopeCase *tc = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) instance = add_instance(fx, "vm", tc->state, tc->persistent);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(UsbpassInstance) looked_up = NULL;
	g_autofree gchar *events = NULL;
	gboolean ok;

	usbpass_test_driver_set_saved_image_updatable(fx->driver, tc->saved_updatable);
	looked_up = usbpass_driver_lookup_instance(USBPASS_DRIVER(fx->driver), "vm", &error);
	g_assert_no_error(error);
	g_assert_cmpint(looked_up->state, ==, tc->state);
	g_assert_cmpint(looked_up->persistent, ==, tc->persistent);

	ok = usbpass_driver_attach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error);
	if (tc->error_code >= 0) {
		g_assert_error(error, USBPASS_ERROR, tc->error_code);
		g_assert_false(ok);
		g_assert_nonnull(strstr(error->message, "managed-save image"));
		g_clear_error(&error);
	} else {
		g_assert_no_error(error);
		g_assert_true(ok);
	}
	g_assert_cmpuint(
	  count_scope(fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, tc->live ? 1 : 0);
	g_assert_cmpuint(count_scope(fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT),
			 ==,
			 tc->config ? 1 : 0);
	g_assert_cmpuint(
	  count_scope(fx, instance->uuid, USBPASS_TEST_DRIVER_SCOPE_SAVED), ==, tc->saved ? 1 : 0);

	listed = usbpass_driver_list_hostdevs(USBPASS_DRIVER(fx->driver), instance->uuid, &error);
	g_assert_no_error(error);
	if (tc->live || tc->config) {
		UsbpassHostdev *entry = g_ptr_array_index(listed, 0);
		g_assert_cmpuint(listed->len, ==, 1);
		g_assert_cmpint(entry->live, ==, tc->live);
		g_assert_cmpint(entry->persistent, ==, tc->config);
		g_assert_false(entry->missing);
		g_assert_cmpuint(entry->vendor_id, ==, 0x0781);
		g_assert_cmpuint(entry->device, ==, 4);
		/* marked as usbpass's in every definition, as libvirt keeps a user alias */
		g_assert_cmpstr(entry->alias, ==, "ua-usbpass-0781-5567-1-4");
		g_assert_true(entry->owned);
	} else {
		g_assert_cmpuint(listed->len, ==, 0);
	}

	/* detach mirrors attach */
	ok = usbpass_driver_detach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error);
	if (tc->error_code >= 0) {
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
		g_assert_false(ok);
		g_clear_error(&error);
	} else {
		g_assert_no_error(error);
		g_assert_true(ok);
	}
	for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++)
		g_assert_cmpuint(count_scope(fx, instance->uuid, scope), ==, 0);
	/* libvirt reports a device removed from the running guest */
	events = take_events(fx);
	if (tc->live) {
		g_autofree gchar *expected = g_strdup_printf("%s device-removed", instance->uuid);
		g_assert_cmpstr(events, ==, expected);
	} else {
		g_assert_cmpstr(events, ==, "");
	}

	/* detaching again finds nothing */
	g_assert_false(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

static void
test_saved_refusal_detach(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) instance =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassInstance) saved = NULL;

	g_assert_true(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error));
	g_assert_no_error(error);
	/* the image keeps what the guest had */
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, "vm", USBPASS_INSTANCE_STATE_SAVED, &error));
	g_assert_no_error(error);
	saved = usbpass_driver_lookup_instance(USBPASS_DRIVER(fx->driver), instance->uuid, &error);
	g_assert_cmpint(saved->state, ==, USBPASS_INSTANCE_STATE_SAVED);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_SAVED), ==, 1);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 0);

	/* the image cannot be changed: refused, nothing changed */
	g_assert_false(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_SAVED), ==, 1);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);

	/* restoring brings the saved devices back live */
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, "vm", USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_SAVED), ==, 0);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);
	g_assert_true(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), instance->uuid, hostdev, &error));
	g_assert_no_error(error);
}

static void
test_attach_absent(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) running =
	  add_instance(fx, "running", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassInstance) shutoff =
	  add_instance(fx, "shutoff", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) placeholder = hostdev_new(0, 0, 0, 0);
	g_autoptr(GPtrArray) live = NULL;
	UsbpassHostdev *entry;

	usbpass_test_driver_set_device_present(fx->driver, 1, 4, FALSE);

	/* a running instance: refused like libvirt, definitions unchanged */
	g_assert_false(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), running->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(
	  strstr(error->message, "Did not find USB device 0781:5567 bus:1 device:4"));
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, running->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 0);
	g_assert_cmpuint(
	  count_scope(fx, running->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);

	/* a shut-off instance takes it (persistent only) and boots with it missing */
	g_assert_true(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), shutoff->uuid, hostdev, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_test_driver_set_state(
	  fx->driver, "shutoff", USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_no_error(error);
	live = usbpass_test_driver_get_hostdevs(
	  fx->driver, "shutoff", USBPASS_TEST_DRIVER_SCOPE_LIVE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(live->len, ==, 1);
	entry = g_ptr_array_index(live, 0);
	g_assert_true(entry->missing);
	g_assert_cmpstr(entry->alias, ==, "ua-usbpass-0781-5567-1-4");
	g_assert_true(entry->owned);

	/* present again: a live attach works */
	usbpass_test_driver_set_device_present(fx->driver, 1, 4, TRUE);
	g_assert_true(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), running->uuid, hostdev, &error));
	g_assert_no_error(error);

	/* neither ids nor an address */
	g_assert_false(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), running->uuid, placeholder, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
}

static void
test_attach_in_use(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) a = add_instance(fx, "a", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassInstance) b = add_instance(fx, "b", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassInstance) c = add_instance(fx, "c", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);

	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), a->uuid, hostdev, &error));
	g_assert_no_error(error);
	/* libvirt lets one running instance hold a device */
	g_assert_false(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), b->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(strstr(error->message, "in use by driver QEMU, domain a"));
	g_clear_error(&error);
	/* but any number of definitions may name it */
	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), c->uuid, hostdev, &error));
	g_assert_no_error(error);
	/* twice in one definition */
	g_assert_false(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), c->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(strstr(error->message, "non unique alias detected"));
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "b", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);
	g_assert_cmpuint(count_scope(fx, "c", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);
}

static void
test_by_hand(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) running =
	  add_instance(fx, "running", USBPASS_INSTANCE_STATE_RUNNING, FALSE);
	g_autoptr(UsbpassInstance) shutoff =
	  add_instance(fx, "shutoff", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_autoptr(UsbpassHostdev) placeholder = hostdev_new(0, 0, 0, 0);
	g_autoptr(UsbpassHostdev) request = hostdev_new(0, 0, 0, 0);
	g_autoptr(GPtrArray) listed = NULL;
	UsbpassHostdev *entry;

	/* libvirt's placeholder for an absent device, put there by hand */
	placeholder->missing = TRUE;
	g_assert_true(usbpass_test_driver_add_hostdev(
	  fx->driver, "running", USBPASS_TEST_DRIVER_SCOPE_LIVE, placeholder, &error));
	g_assert_no_error(error);
	listed = usbpass_driver_list_hostdevs(USBPASS_DRIVER(fx->driver), "running", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(listed->len, ==, 1);
	entry = g_ptr_array_index(listed, 0);
	g_assert_true(entry->live && entry->missing && !entry->persistent);
	g_assert_cmpstr(entry->alias, ==, "hostdev0");
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 0);

	/* usbpass did not write it: a request with vendor 0 does not find it, and
	 * it holds no device, so nothing is in use either */
	g_assert_false(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), running->uuid, request, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "running", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);

	/* definitions an instance does not have */
	g_assert_false(usbpass_test_driver_add_hostdev(
	  fx->driver, "shutoff", USBPASS_TEST_DRIVER_SCOPE_LIVE, placeholder, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_add_hostdev(
	  fx->driver, "running", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, placeholder, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_add_hostdev(
	  fx->driver, "shutoff", USBPASS_TEST_DRIVER_SCOPE_SAVED, placeholder, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_add_hostdev(
	  fx->driver, "nope", USBPASS_TEST_DRIVER_SCOPE_LIVE, placeholder, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(usbpass_test_driver_get_hostdevs(
	  fx->driver, "nope", USBPASS_TEST_DRIVER_SCOPE_LIVE, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

static void
test_not_found(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	UsbpassDriver *driver;
	g_autoptr(GError) error = NULL;

	driver = USBPASS_DRIVER(fx->driver);
	g_assert_null(usbpass_driver_lookup_instance(driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(usbpass_driver_list_hostdevs(driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_attach(driver, "ghost", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_driver_detach(driver, "ghost", hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_set_state(
	  fx->driver, "ghost", USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_remove_instance(fx->driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_define_instance(fx->driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_undefine_instance(fx->driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_reboot_instance(fx->driver, "ghost", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

typedef struct {
	const gchar *method; /* queued with fail_next */
	const gchar *called; /* the method then called */
	UsbpassError code;
} FailCase;

static gboolean
call_method(Fixture *fx, const gchar *method, const gchar *uuid, GError **error)
{
	UsbpassDriver *driver = USBPASS_DRIVER(fx->driver);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);

	if (g_strcmp0(method, "open") == 0)
		return usbpass_driver_open(driver, error);
	if (g_strcmp0(method, "list_instances") == 0) {
		g_autoptr(GPtrArray) instances = usbpass_driver_list_instances(driver, error);
		return instances != NULL;
	}
	if (g_strcmp0(method, "lookup_instance") == 0) {
		g_autoptr(UsbpassInstance) instance =
		  usbpass_driver_lookup_instance(driver, uuid, error);
		return instance != NULL;
	}
	if (g_strcmp0(method, "list_hostdevs") == 0) {
		g_autoptr(GPtrArray) hostdevs = usbpass_driver_list_hostdevs(driver, uuid, error);
		return hostdevs != NULL;
	}
	if (g_strcmp0(method, "attach") == 0)
		return usbpass_driver_attach(driver, uuid, hostdev, error);
	if (g_strcmp0(method, "detach") == 0)
		return usbpass_driver_detach(driver, uuid, hostdev, error);
	g_assert_not_reached();
}

static void
test_fail_next(Fixture *fx, gconstpointer user_data)
{
	const FailCase cases[] = {
		{ "open", "open", USBPASS_ERROR_DRIVER },
		{ "list_instances", "list_instances", USBPASS_ERROR_TIMED_OUT },
		{ "lookup_instance", "lookup_instance", USBPASS_ERROR_PERMISSION_DENIED },
		{ "list_hostdevs", "list_hostdevs", USBPASS_ERROR_DRIVER },
		{ "list", "list_instances", USBPASS_ERROR_DRIVER },
		{ "list", "list_hostdevs", USBPASS_ERROR_INVALID_DATA },
		{ "attach", "attach", USBPASS_ERROR_DRIVER },
		{ "detach", "detach", USBPASS_ERROR_NOT_SUPPORTED },
	};
	g_autoptr(UsbpassInstance) instance =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *message = g_strdup_printf("injected failure %u", i);
		guint calls = usbpass_test_driver_get_call_count(fx->driver, cases[i].called);

		usbpass_test_driver_fail_next(fx->driver, cases[i].method, cases[i].code, message);
		g_assert_false(call_method(fx, cases[i].called, instance->uuid, &error));
		g_assert_error(error, USBPASS_ERROR, (gint)cases[i].code);
		g_assert_cmpstr(error->message, ==, message);
		g_clear_error(&error);
		g_assert_cmpuint(
		  usbpass_test_driver_get_call_count(fx->driver, cases[i].called), ==, calls + 1);
		/* a failed attach changed nothing */
		g_assert_cmpuint(
		  count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);
		/* one failure per queued entry: the next call of the same method works */
		if (g_strcmp0(cases[i].called, "detach") != 0) {
			g_assert_true(call_method(fx, cases[i].called, instance->uuid, &error));
			g_assert_no_error(error);
		}
		if (g_strcmp0(cases[i].called, "attach") == 0) {
			g_assert_true(call_method(fx, "detach", instance->uuid, &error));
			g_assert_no_error(error);
		}
	}

	/* queued failures are used in order */
	{
		g_autoptr(GError) error = NULL;
		usbpass_test_driver_fail_next(fx->driver, "attach", USBPASS_ERROR_DRIVER, "first");
		usbpass_test_driver_fail_next(
		  fx->driver, "attach", USBPASS_ERROR_TIMED_OUT, "second");
		g_assert_false(call_method(fx, "attach", instance->uuid, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_assert_cmpstr(error->message, ==, "first");
		g_clear_error(&error);
		g_assert_false(call_method(fx, "attach", instance->uuid, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_TIMED_OUT);
		g_assert_cmpstr(error->message, ==, "second");
		g_clear_error(&error);
		g_assert_true(call_method(fx, "attach", instance->uuid, &error));
		g_assert_no_error(error);
	}
	usbpass_test_driver_reset_call_counts(fx->driver);
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 0);
}

static void
test_connection(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) instance =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	const gchar *methods[] = { "open",          "list_instances", "lookup_instance",
				   "list_hostdevs", "attach",         "detach" };

	g_assert_cmpstr(usbpass_driver_get_name(USBPASS_DRIVER(fx->driver)), ==, "test");
	g_assert_true(usbpass_driver_is_connected(USBPASS_DRIVER(fx->driver)));
	g_assert_true(usbpass_driver_open(USBPASS_DRIVER(fx->driver), &error));
	g_assert_no_error(error);

	usbpass_test_driver_set_connected(fx->driver, FALSE);
	usbpass_test_driver_set_connected(fx->driver, FALSE);
	g_assert_cmpuint(fx->connections->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(fx->connections, 0), ==, "down");
	g_assert_false(usbpass_driver_is_connected(USBPASS_DRIVER(fx->driver)));
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		g_assert_false(call_method(fx, methods[i], instance->uuid, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_clear_error(&error);
		g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, methods[i]), >=, 1);
	}
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 0);

	usbpass_test_driver_set_connected(fx->driver, TRUE);
	g_assert_cmpuint(fx->connections->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(fx->connections, 1), ==, "up");
	g_assert_true(call_method(fx, "attach", instance->uuid, &error));
	g_assert_no_error(error);
}

static void
test_events(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) vm = NULL;
	g_autoptr(UsbpassInstance) transient = NULL;
	g_autoptr(GPtrArray) instances = NULL;
	g_autofree gchar *events = NULL;
	g_autofree gchar *expected = NULL;
	const gchar *u;

	vm = usbpass_test_driver_add_instance(fx->driver,
					      "C0FFEE00-0000-4000-8000-000000000001",
					      "vm",
					      USBPASS_INSTANCE_STATE_SHUTOFF,
					      TRUE,
					      &error);
	g_assert_no_error(error);
	u = vm->uuid;
	g_assert_cmpstr(u, ==, "c0ffee00-0000-4000-8000-000000000001");
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_PAUSED, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_true(usbpass_test_driver_reboot_instance(fx->driver, u, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_SAVED, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_PAUSED, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_CRASHED, &error));
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, u, USBPASS_INSTANCE_STATE_SHUTOFF, &error));
	usbpass_test_driver_emit_event(fx->driver, u, USBPASS_INSTANCE_EVENT_MIGRATED);
	g_assert_true(usbpass_test_driver_undefine_instance(fx->driver, u, &error));
	g_assert_no_error(error);
	events = take_events(fx);
	expected = g_strjoin(",",
			     "c0ffee00-0000-4000-8000-000000000001 defined",
			     "c0ffee00-0000-4000-8000-000000000001 started",
			     "c0ffee00-0000-4000-8000-000000000001 suspended",
			     "c0ffee00-0000-4000-8000-000000000001 resumed",
			     "c0ffee00-0000-4000-8000-000000000001 rebooted",
			     "c0ffee00-0000-4000-8000-000000000001 stopped",
			     "c0ffee00-0000-4000-8000-000000000001 started",
			     "c0ffee00-0000-4000-8000-000000000001 suspended",
			     "c0ffee00-0000-4000-8000-000000000001 stopped",
			     "c0ffee00-0000-4000-8000-000000000001 migrated",
			     "c0ffee00-0000-4000-8000-000000000001 undefined",
			     NULL);
	g_assert_cmpstr(events, ==, expected);
	g_clear_pointer(&events, g_free);

	/* a transient instance is gone once stopped; deterministic UUIDs */
	transient = usbpass_test_driver_add_instance(
	  fx->driver, NULL, "t", USBPASS_INSTANCE_STATE_RUNNING, FALSE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(transient->uuid, ==, "00000000-0000-4000-8000-000000000001");
	g_assert_false(transient->persistent);
	g_assert_true(
	  usbpass_test_driver_set_state(fx->driver, "t", USBPASS_INSTANCE_STATE_SHUTOFF, &error));
	g_assert_no_error(error);
	events = take_events(fx);
	g_assert_cmpstr(events,
			==,
			"00000000-0000-4000-8000-000000000001 "
			"started,00000000-0000-4000-8000-000000000001 stopped");
	instances = usbpass_driver_list_instances(USBPASS_DRIVER(fx->driver), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(instances->len, ==, 0);
}

typedef struct {
	UsbpassInstanceState from;
	gboolean persistent;
	UsbpassInstanceState to;
	gint error_code; /* -1: allowed */
} TransitionCase;

static void
test_transitions(Fixture *fx, gconstpointer user_data)
{
	const TransitionCase cases[] = {
		{ USBPASS_INSTANCE_STATE_SHUTOFF, TRUE, USBPASS_INSTANCE_STATE_PAUSED, -1 },
		{ USBPASS_INSTANCE_STATE_SAVED, TRUE, USBPASS_INSTANCE_STATE_SHUTOFF, -1 },
		{ USBPASS_INSTANCE_STATE_RUNNING, TRUE, USBPASS_INSTANCE_STATE_RUNNING, -1 },
		{ USBPASS_INSTANCE_STATE_SHUTOFF,
		  TRUE,
		  USBPASS_INSTANCE_STATE_SAVED,
		  USBPASS_ERROR_INVALID_DATA },
		{ USBPASS_INSTANCE_STATE_SHUTOFF,
		  TRUE,
		  USBPASS_INSTANCE_STATE_CRASHED,
		  USBPASS_ERROR_INVALID_DATA },
		{ USBPASS_INSTANCE_STATE_CRASHED,
		  TRUE,
		  USBPASS_INSTANCE_STATE_RUNNING,
		  USBPASS_ERROR_INVALID_DATA },
		{ USBPASS_INSTANCE_STATE_RUNNING,
		  TRUE,
		  USBPASS_INSTANCE_STATE_UNKNOWN,
		  USBPASS_ERROR_INVALID_DATA },
		{ USBPASS_INSTANCE_STATE_RUNNING,
		  FALSE,
		  USBPASS_INSTANCE_STATE_SAVED,
		  USBPASS_ERROR_DRIVER },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *name = g_strdup_printf("vm%u", i);
		g_autoptr(UsbpassInstance) instance =
		  add_instance(fx, name, cases[i].from, cases[i].persistent);
		g_autoptr(UsbpassInstance) after = NULL;
		gboolean ok = usbpass_test_driver_set_state(fx->driver, name, cases[i].to, &error);

		if (cases[i].error_code >= 0) {
			g_assert_false(ok);
			g_assert_error(error, USBPASS_ERROR, cases[i].error_code);
			g_clear_error(&error);
		} else {
			g_assert_true(ok);
			g_assert_no_error(error);
		}
		after = usbpass_driver_lookup_instance(USBPASS_DRIVER(fx->driver), name, &error);
		g_assert_no_error(error);
		g_assert_cmpint(
		  after->state, ==, cases[i].error_code >= 0 ? cases[i].from : cases[i].to);
	}
}

static void
test_define_undefine(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) vm =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_RUNNING, FALSE);
	g_autoptr(UsbpassInstance) after = NULL;
	g_autoptr(UsbpassInstance) dup = NULL;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);

	/* transient: live only */
	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), vm->uuid, hostdev, &error));
	g_assert_no_error(error);
	g_assert_false(usbpass_test_driver_undefine_instance(fx->driver, "vm", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* defined from the live definition */
	g_assert_true(usbpass_test_driver_define_instance(fx->driver, "vm", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);
	g_assert_false(usbpass_test_driver_define_instance(fx->driver, "vm", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* undefined while running: transient again, the device stays live */
	g_assert_true(usbpass_test_driver_undefine_instance(fx->driver, "vm", &error));
	g_assert_no_error(error);
	after = usbpass_driver_lookup_instance(USBPASS_DRIVER(fx->driver), "vm", &error);
	g_assert_no_error(error);
	g_assert_false(after->persistent);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);

	/* bad additions */
	dup = usbpass_test_driver_add_instance(
	  fx->driver, NULL, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE, &error);
	g_assert_null(dup);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	dup = usbpass_test_driver_add_instance(
	  fx->driver, "not-a-uuid", "x", USBPASS_INSTANCE_STATE_RUNNING, TRUE, &error);
	g_assert_null(dup);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	dup = usbpass_test_driver_add_instance(
	  fx->driver, NULL, "x", USBPASS_INSTANCE_STATE_SHUTOFF, FALSE, &error);
	g_assert_null(dup);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	dup = usbpass_test_driver_add_instance(
	  fx->driver, NULL, "x", USBPASS_INSTANCE_STATE_SAVED, TRUE, &error);
	g_assert_null(dup);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* remove: stopped and gone */
	g_ptr_array_set_size(fx->events, 0);
	g_assert_true(usbpass_test_driver_remove_instance(fx->driver, "vm", &error));
	g_assert_no_error(error);
	g_assert_null(usbpass_driver_lookup_instance(USBPASS_DRIVER(fx->driver), "vm", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_cmpuint(fx->events->len, ==, 1);
	g_assert_true(g_str_has_suffix(g_ptr_array_index(fx->events, 0), " stopped"));
	g_clear_error(&error);
	g_assert_false(usbpass_test_driver_reboot_instance(fx->driver, "nope", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

static void
test_reboot_shutoff(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) vm =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_assert_false(usbpass_test_driver_reboot_instance(fx->driver, "vm", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_cmpuint(fx->events->len, ==, 0);
}

typedef struct {
	GPtrArray *calls; /* of "method applied" */
	gboolean fail_before;
	gboolean fail_after;
} HookData;

static gboolean
hook_cb(UsbpassTestDriver *driver,
	const gchar *method,
	const gchar *uuid,
	const UsbpassHostdev *hostdev,
	gboolean applied,
	gpointer user_data)
{
	HookData *data = user_data;
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(GError) error = NULL;

	/* the driver is usable from the hook: no lock is held */
	hostdevs = usbpass_test_driver_get_hostdevs(
	  driver, uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, &error);
	g_assert_no_error(error);
	g_ptr_array_add(data->calls,
			g_strdup_printf("%s %s %04x %u",
					method,
					applied ? "after" : "before",
					hostdev->vendor_id,
					hostdevs->len));
	return applied ? !data->fail_after : !data->fail_before;
}

static void
hook_data_free(gpointer user_data)
{
	HookData *data = user_data;
	g_ptr_array_unref(data->calls);
	g_free(data);
}

static void
test_hook(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) vm =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	HookData *data = g_new0(HookData, 1);
	g_autofree gchar *calls = NULL;

	data->calls = g_ptr_array_new_with_free_func(g_free);
	usbpass_test_driver_set_hook(fx->driver, hook_cb, data, hook_data_free);

	/* fails before: nothing changed */
	data->fail_before = TRUE;
	g_assert_false(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), vm->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);

	/* fails after: the hypervisor did it, the caller hears of a failure */
	data->fail_before = FALSE;
	data->fail_after = TRUE;
	g_assert_false(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), vm->uuid, hostdev, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_assert_nonnull(strstr(error->message, "after 'attach' was applied"));
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);

	data->fail_after = FALSE;
	g_assert_true(usbpass_driver_detach(USBPASS_DRIVER(fx->driver), vm->uuid, hostdev, &error));
	g_assert_no_error(error);

	g_ptr_array_add(data->calls, NULL);
	calls = g_strjoinv(",", (gchar **)data->calls->pdata);
	g_assert_cmpstr(calls,
			==,
			"attach before 0781 0,attach before 0781 0,attach after 0781 1,detach "
			"before 0781 1,detach after 0781 0");

	/* replacing the hook frees the old data */
	usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);
	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), vm->uuid, hostdev, &error));
	g_assert_no_error(error);
}

/* a call held in flight by the hook while the main thread goes on */
typedef struct {
	GMutex mutex;
	GCond cond;
	gboolean entered;
	gboolean release;
} Gate;

static gboolean
gate_hook_cb(UsbpassTestDriver *driver,
	     const gchar *method,
	     const gchar *uuid,
	     const UsbpassHostdev *hostdev,
	     gboolean applied,
	     gpointer user_data)
{
	Gate *gate = user_data;
	if (applied)
		return TRUE;
	g_mutex_lock(&gate->mutex);
	gate->entered = TRUE;
	g_cond_broadcast(&gate->cond);
	while (!gate->release)
		g_cond_wait(&gate->cond, &gate->mutex);
	g_mutex_unlock(&gate->mutex);
	return TRUE;
}

typedef struct {
	UsbpassDriver *driver;
	const gchar *uuid;
	const gchar *method;
	gboolean ok;
	GError *error;
} ThreadCall;

static gpointer
thread_call_cb(gpointer user_data)
{
	ThreadCall *call = user_data;
	g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
	if (g_strcmp0(call->method, "attach") == 0)
		call->ok = usbpass_driver_attach(call->driver, call->uuid, hostdev, &call->error);
	else
		call->ok = usbpass_driver_detach(call->driver, call->uuid, hostdev, &call->error);
	return NULL;
}

static void
test_thread(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) vm =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(GPtrArray) instances = NULL;
	Gate gate = { 0 };
	ThreadCall call = { .driver = USBPASS_DRIVER(fx->driver),
			    .uuid = vm->uuid,
			    .method = "attach" };
	GThread *thread;

	g_mutex_init(&gate.mutex);
	g_cond_init(&gate.cond);
	usbpass_test_driver_set_hook(fx->driver, gate_hook_cb, &gate, NULL);
	thread = g_thread_new("attach", thread_call_cb, &call);
	g_mutex_lock(&gate.mutex);
	while (!gate.entered)
		g_cond_wait(&gate.cond, &gate.mutex);
	g_mutex_unlock(&gate.mutex);

	/* the attach is in flight in the worker; the driver still answers */
	instances = usbpass_driver_list_instances(USBPASS_DRIVER(fx->driver), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(instances->len, ==, 1);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 0);

	g_mutex_lock(&gate.mutex);
	gate.release = TRUE;
	g_cond_broadcast(&gate.cond);
	g_mutex_unlock(&gate.mutex);
	g_thread_join(thread);
	g_assert_no_error(call.error);
	g_assert_true(call.ok);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);
	usbpass_test_driver_set_hook(fx->driver, NULL, NULL, NULL);

	/* a detach in a worker: DEVICE_REMOVED is queued for the main thread */
	call.method = "detach";
	thread = g_thread_new("detach", thread_call_cb, &call);
	g_thread_join(thread);
	g_assert_no_error(call.error);
	g_assert_true(call.ok);
	g_assert_cmpuint(fx->events->len, ==, 0);
	while (fx->events->len == 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(fx->events->len, ==, 1);
	g_assert_true(g_str_has_suffix(g_ptr_array_index(fx->events, 0), " device-removed"));
	g_mutex_clear(&gate.mutex);
	g_cond_clear(&gate.cond);
}

static void
test_queued_signal_after_free(void)
{
	g_autoptr(GError) error = NULL;
	UsbpassTestDriver *driver = usbpass_test_driver_new();
	g_autoptr(UsbpassInstance) vm = NULL;
	ThreadCall call = { .driver = USBPASS_DRIVER(driver), .method = "attach" };
	GThread *thread;

	vm = usbpass_test_driver_add_instance(
	  driver, NULL, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE, &error);
	g_assert_no_error(error);
	call.uuid = vm->uuid;
	thread = g_thread_new("attach", thread_call_cb, &call);
	g_thread_join(thread);
	call.method = "detach";
	thread = g_thread_new("detach", thread_call_cb, &call);
	g_thread_join(thread);
	g_assert_true(call.ok);
	/* a signal queued for a driver that is gone is dropped, not a crash */
	g_object_unref(driver);
	while (g_main_context_iteration(NULL, FALSE))
		;
}

typedef struct {
	UsbpassDriver *driver;
	gchar *uuid;
	guint index;
	guint failures;
} StressData;

static gpointer
stress_cb(gpointer user_data)
{
	StressData *data = user_data;
	g_autoptr(UsbpassHostdev) hostdev =
	  hostdev_new(0x1000 + data->index, 0x0001, 3, 10 + data->index);
	for (guint i = 0; i < 200; i++) {
		g_autoptr(GError) error = NULL;
		if (!usbpass_driver_attach(data->driver, data->uuid, hostdev, &error))
			data->failures++;
		if (!usbpass_driver_detach(data->driver, data->uuid, hostdev, &error))
			data->failures++;
	}
	return NULL;
}

static void
test_concurrent(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassInstance) vm =
	  add_instance(fx, "vm", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	StressData data[8];
	GThread *threads[8];

	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		data[i] = (StressData){ .driver = USBPASS_DRIVER(fx->driver),
					.uuid = vm->uuid,
					.index = i };
		threads[i] = g_thread_new("stress", stress_cb, &data[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		g_thread_join(threads[i]);
		g_assert_cmpuint(data[i].failures, ==, 0);
	}
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 8 * 200);
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "detach"), ==, 8 * 200);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 0);
	g_assert_cmpuint(count_scope(fx, "vm", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 0);
	/* every live detach queued one DEVICE_REMOVED for this thread */
	while (fx->events->len < 8 * 200)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(fx->events->len, ==, 8 * 200);
}

typedef struct {
	const gchar *name;
	const gchar *fail_method; /* NULL: no failure */
	UsbpassError code;
	guint n_listed; /* without a failure returned */
} ListAllCase;

static const ListAllCase list_all_cases[] = {
	{ "ok", NULL, 0, 3 },
	/* the first instance undefined between the listing and its read */
	{ "vanished", "list_hostdevs", USBPASS_ERROR_NOT_FOUND, 2 },
	{ "list-failed", "list_instances", USBPASS_ERROR_TIMED_OUT, 0 },
	{ "read-failed", "list_hostdevs", USBPASS_ERROR_DRIVER, 0 },
};

/* a driver without list_all_hostdevs gets the interface's default: one
 * listing, then each instance's hostdevs */
static void
test_list_all(Fixture *fx, gconstpointer user_data)
{
	const ListAllCase *tc = user_data;
	UsbpassDriver *driver = USBPASS_DRIVER(fx->driver);
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassHostdev) first = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) second = hostdev_new(0x1234, 0x5678, 2, 3);
	g_autoptr(UsbpassInstance) running =
	  add_instance(fx, "running", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassInstance) shutoff =
	  add_instance(fx, "shutoff", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_autoptr(UsbpassInstance) transient =
	  add_instance(fx, "transient", USBPASS_INSTANCE_STATE_PAUSED, FALSE);
	g_autoptr(GPtrArray) instances = NULL;
	g_autoptr(GPtrArray) all = NULL;

	g_assert_true(usbpass_driver_attach(driver, running->uuid, first, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_test_driver_add_hostdev(
	  fx->driver, running->uuid, USBPASS_TEST_DRIVER_SCOPE_LIVE, second, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_driver_attach(driver, shutoff->uuid, second, &error));
	g_assert_no_error(error);
	instances = usbpass_driver_list_instances(driver, &error);
	g_assert_no_error(error);
	usbpass_test_driver_reset_call_counts(fx->driver);

	if (tc->fail_method != NULL)
		usbpass_test_driver_fail_next(fx->driver, tc->fail_method, tc->code, "injected");
	all = usbpass_driver_list_all_hostdevs(driver, &error);
	if (tc->n_listed == 0) {
		g_assert_error(error, USBPASS_ERROR, (gint)tc->code);
		g_assert_null(all);
		return;
	}
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, tc->n_listed);
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "list_instances"), ==, 1);
	g_assert_cmpuint(
	  usbpass_test_driver_get_call_count(fx->driver, "list_hostdevs"), ==, instances->len);
	for (guint i = 0; i < all->len; i++) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, i);
		UsbpassInstance *instance =
		  g_ptr_array_index(instances, i + instances->len - all->len);
		g_autoptr(GPtrArray) hostdevs = NULL;
		g_autoptr(UsbpassInstanceHostdevs) copy = usbpass_instance_hostdevs_copy(entry);

		g_assert_cmpstr(entry->instance->uuid, ==, instance->uuid);
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
		}
		/* a copy has its own list of its own records, the same instance */
		g_assert_true(copy->instance == entry->instance);
		g_assert_true(copy->hostdevs != entry->hostdevs);
		g_assert_cmpuint(copy->hostdevs->len, ==, entry->hostdevs->len);
		for (guint j = 0; j < copy->hostdevs->len; j++) {
			UsbpassHostdev *a = g_ptr_array_index(copy->hostdevs, j);
			UsbpassHostdev *b = g_ptr_array_index(entry->hostdevs, j);
			g_assert_true(a != b);
			g_assert_true(usbpass_hostdev_matches(a, b));
			g_assert_cmpint(a->live, ==, b->live);
		}
	}
	if (g_strcmp0(tc->name, "ok") == 0) {
		UsbpassInstanceHostdevs *entry = g_ptr_array_index(all, 0);
		g_assert_cmpstr(entry->instance->name, ==, "running");
		g_assert_cmpuint(entry->hostdevs->len, ==, 2);
	}
	usbpass_instance_hostdevs_free(NULL);
}

typedef struct {
	guint16 vendor, product; /* the definition's entry */
	guint bus, device;
	gboolean holds; /* the stick 0781:5567 at 1:4 */
} HoldsCase;

/* every form of libvirt's grammar claims its device; only an entry with
 * neither ids nor an address claims none */
static void
test_hostdev_holds(void)
{
	const HoldsCase cases[] = {
		{ 0x0781, 0x5567, 1, 4, TRUE },  /* both */
		{ 0x0781, 0x5567, 0, 0, TRUE },  /* ids only: any address */
		{ 0, 0, 1, 4, TRUE },            /* address only: any ids */
		{ 0, 0, 0, 0, FALSE },           /* a placeholder names nothing */
		{ 0x0781, 0x5567, 1, 5, FALSE }, /* both given: both must match */
		{ 0x0781, 0x5568, 1, 4, FALSE },
		{ 0x0781, 0x0000, 0, 0, FALSE }, /* product 0 is a real product id */
		{ 0, 0, 2, 4, FALSE },
		{ 0, 0, 1, 3, FALSE },
	};
	g_autoptr(UsbpassHostdev) stick = hostdev_new(0x0781, 0x5567, 1, 4);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassHostdev) entry =
		  hostdev_new(cases[i].vendor, cases[i].product, cases[i].bus, cases[i].device);
		g_test_message("case %u", i);
		g_assert_cmpint(usbpass_hostdev_holds(entry, stick), ==, cases[i].holds);
		/* ownership, scope and absence do not change the answer */
		entry->owned = TRUE;
		entry->missing = TRUE;
		entry->alias = usbpass_hostdev_make_alias(entry);
		g_assert_cmpint(usbpass_hostdev_holds(entry, stick), ==, cases[i].holds);
	}
}

typedef struct {
	const gchar *alias; /* of the entry */
	gboolean owned;
	guint16 vendor, product;
	guint bus, device;
	gboolean removable; /* for a detach of 0781:5567 at 1:4 */
} RemovableCase;

static void
test_hostdev_removable(void)
{
	const RemovableCase cases[] = {
		{ "ua-usbpass-0781-5567-1-4", TRUE, 0x0781, 0x5567, 1, 4, TRUE },
		/* usbpass's placeholder for it: by its alias */
		{ "ua-usbpass-0781-5567-1-4", TRUE, 0, 0, 0, 0, TRUE },
		/* usbpass's placeholder for another device */
		{ "ua-usbpass-0781-5567-1-5", TRUE, 0, 0, 0, 0, FALSE },
		{ "ua-usbpass-0781-5567-1-5", TRUE, 0x0781, 0x5567, 1, 5, FALSE },
		/* never what usbpass did not write, whatever it names */
		{ "ua-usbpass-0781-5567-1-4", FALSE, 0x0781, 0x5567, 1, 4, FALSE },
		{ "hostdev0", FALSE, 0x0781, 0x5567, 1, 4, FALSE },
		{ NULL, FALSE, 0x0781, 0x5567, 1, 4, FALSE },
		{ NULL, FALSE, 0, 0, 1, 4, FALSE },
		{ NULL, FALSE, 0, 0, 0, 0, FALSE },
	};
	g_autoptr(UsbpassHostdev) wanted = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autofree gchar *alias = usbpass_hostdev_make_alias(wanted);

	g_assert_cmpstr(alias, ==, "ua-usbpass-0781-5567-1-4");
	g_assert_true(g_str_has_prefix(alias, USBPASS_HOSTDEV_ALIAS_PREFIX));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassHostdev) entry =
		  hostdev_new(cases[i].vendor, cases[i].product, cases[i].bus, cases[i].device);
		entry->alias = g_strdup(cases[i].alias);
		entry->owned = cases[i].owned;
		g_test_message("case %u", i);
		g_assert_cmpint(usbpass_hostdev_is_removable_for(entry, wanted),
				==,
				cases[i].removable);
		/* a listed entry asks for itself by its alias */
		if (cases[i].owned)
			g_assert_true(usbpass_hostdev_is_removable_for(entry, entry));
	}
}

/* the driver's ownership rule: a detach removes what usbpass wrote and
 * refuses, changing nothing, when only a hand-written entry holds the device */
static void
test_detach_ownership(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassInstance) running =
	  add_instance(fx, "running", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autoptr(UsbpassHostdev) stick = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) by_address = hostdev_new(0, 0, 1, 4);
	g_autoptr(UsbpassHostdev) other = hostdev_new(0x1050, 0x0407, 1, 9);

	/* written by hand, address only, in both definitions */
	for (guint scope = USBPASS_TEST_DRIVER_SCOPE_LIVE;
	     scope <= USBPASS_TEST_DRIVER_SCOPE_PERSISTENT;
	     scope++) {
		g_assert_true(usbpass_test_driver_add_hostdev(
		  fx->driver, "running", scope, by_address, &error));
		g_assert_no_error(error);
	}
	g_assert_false(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), running->uuid, stick, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_nonnull(strstr(error->message, "usbpass did not write"));
	g_clear_error(&error);
	g_assert_cmpuint(count_scope(fx, "running", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);
	g_assert_cmpuint(count_scope(fx, "running", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);

	/* usbpass's own entry of another device next to it goes alone */
	g_assert_true(
	  usbpass_driver_attach(USBPASS_DRIVER(fx->driver), running->uuid, other, &error));
	g_assert_no_error(error);
	g_assert_true(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), running->uuid, other, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count_scope(fx, "running", USBPASS_TEST_DRIVER_SCOPE_LIVE), ==, 1);
	g_assert_cmpuint(count_scope(fx, "running", USBPASS_TEST_DRIVER_SCOPE_PERSISTENT), ==, 1);
	/* and a device nobody names is simply not there */
	g_assert_false(
	  usbpass_driver_detach(USBPASS_DRIVER(fx->driver), running->uuid, other, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

/* every definition as one line per scope, for comparing two drivers */
static gchar *
describe_driver(UsbpassTestDriver *driver)
{
	g_autoptr(GString) str = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) instances =
	  usbpass_driver_list_instances(USBPASS_DRIVER(driver), &error);

	g_assert_no_error(error);
	for (guint i = 0; i < instances->len; i++) {
		UsbpassInstance *instance = g_ptr_array_index(instances, i);
		g_string_append_printf(str,
				       "%s %s %s %d:",
				       instance->uuid,
				       instance->name,
				       usbpass_instance_state_to_string(instance->state),
				       instance->persistent);
		for (guint scope = 0; scope < USBPASS_TEST_DRIVER_SCOPE_LAST; scope++) {
			g_autoptr(GPtrArray) hostdevs =
			  usbpass_test_driver_get_hostdevs(driver, instance->uuid, scope, &error);
			g_assert_no_error(error);
			g_string_append_printf(str, " [%u]", scope);
			for (guint j = 0; j < hostdevs->len; j++) {
				UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, j);
				g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
				g_string_append_printf(str,
						       " %s/%d/%s",
						       shown,
						       hostdev->missing,
						       hostdev->alias != NULL ? hostdev->alias : "-");
			}
		}
		g_string_append_c(str, '\n');
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

static void
test_state_file(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-test-driver-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(tmpdir, "hv.state", NULL);
	g_autoptr(UsbpassTestDriver) again = usbpass_test_driver_new();
	g_autoptr(UsbpassInstance) on = NULL;
	g_autoptr(UsbpassInstance) saved = NULL;
	g_autoptr(UsbpassInstance) off = NULL;
	g_autoptr(UsbpassHostdev) stick = hostdev_new(0x0781, 0x5567, 1, 2);
	g_autoptr(UsbpassHostdev) serial = hostdev_new(0x0403, 0x6001, 1, 3);
	g_autoptr(UsbpassHostdev) by_address = hostdev_new(0, 0, 3, 4);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;

	g_assert_no_error(error);
	/* a new file gets the driver's state, then every change */
	on = add_instance(fx, "on", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_assert_true(usbpass_test_driver_set_state_file(fx->driver, path, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	saved = add_instance(fx, "saved", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	off = add_instance(fx, "off", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE);
	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), on->uuid, stick, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_driver_attach(USBPASS_DRIVER(fx->driver), saved->uuid, serial, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_test_driver_set_state(
	  fx->driver, saved->uuid, USBPASS_INSTANCE_STATE_SAVED, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_test_driver_add_hostdev(
	  fx->driver, off->uuid, USBPASS_TEST_DRIVER_SCOPE_PERSISTENT, by_address, &error));
	g_assert_no_error(error);
	usbpass_test_driver_set_device_present(fx->driver, 1, 9, FALSE);
	g_assert_true(usbpass_test_driver_set_state(
	  fx->driver, off->uuid, USBPASS_INSTANCE_STATE_RUNNING, &error));
	g_assert_no_error(error);

	/* a second driver reading the file sees the same hypervisor */
	g_assert_true(usbpass_test_driver_set_state_file(again, path, &error));
	g_assert_no_error(error);
	before = describe_driver(fx->driver);
	after = describe_driver(again);
	g_assert_cmpstr(after, ==, before);
	g_assert_nonnull(strstr(after, "saved saved"));
	{
		/* the absent device stayed absent */
		g_autoptr(UsbpassHostdev) absent = hostdev_new(0x1234, 0x5678, 1, 9);
		g_assert_false(usbpass_driver_attach(USBPASS_DRIVER(again), on->uuid, absent, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_assert_nonnull(strstr(error->message, "Did not find USB device"));
		g_clear_error(&error);
	}
	/* a detach is on disk before it returns */
	g_assert_true(usbpass_driver_detach(USBPASS_DRIVER(again), on->uuid, stick, &error));
	g_assert_no_error(error);
	{
		g_autoptr(UsbpassTestDriver) third = usbpass_test_driver_new();
		g_autofree gchar *seen = NULL;
		g_autofree gchar *expected = describe_driver(again);
		g_assert_true(usbpass_test_driver_set_state_file(third, path, &error));
		g_assert_no_error(error);
		seen = describe_driver(third);
		g_assert_cmpstr(seen, ==, expected);
		g_assert_cmpstr(seen, !=, before);
	}

	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
}

static void
test_state_file_bad(Fixture *fx, gconstpointer user_data)
{
	static const struct {
		const gchar *text;
		const gchar *needle;
	} cases[] = {
		{ "not a key file", "test hypervisor state" },
		{ "[test-driver]\nnext-uuid=x\n", "next-uuid" },
		{ "[test-driver]\nnext-uuid=1\nsaved-image-updatable=false\nabsent=\n[other]\n",
		  "unknown group [other]" },
		{ "[test-driver]\nnext-uuid=1\nsaved-image-updatable=false\nabsent=\n"
		  "[instance 1234]\n",
		  "not a UUID" },
		{ "[test-driver]\nnext-uuid=1\nsaved-image-updatable=false\nabsent=\n"
		  "[instance 5ca1ab1e-0000-4000-8000-000000000001]\nname=a\nstate=flying\n",
		  "state 'flying'" },
		{ "[test-driver]\nnext-uuid=1\nsaved-image-updatable=false\nabsent=\n"
		  "[instance 5ca1ab1e-0000-4000-8000-000000000001]\nname=a\nstate=running\n"
		  "persistent=true\nhas-saved-image=false\nnext-alias=0\nlive-hostdevs=zz;\n"
		  "persistent-hostdevs=\nsaved-hostdevs=\n",
		  "hostdev 'zz'" },
		{ "[test-driver]\nnext-uuid=1\nsaved-image-updatable=false\nabsent=\n"
		  "[instance 5ca1ab1e-0000-4000-8000-000000000001]\nname=a\nstate=running\n"
		  "persistent=true\nhas-saved-image=false\nnext-alias=0\n"
		  "live-hostdevs=0781:5567:300:2:0:;\npersistent-hostdevs=\nsaved-hostdevs=\n",
		  "hostdev '0781:5567:300:2:0:'" },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-test-driver-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(tmpdir, "hv.state", NULL);
	g_autoptr(UsbpassInstance) kept = add_instance(fx, "kept", USBPASS_INSTANCE_STATE_RUNNING, TRUE);
	g_autofree gchar *before = describe_driver(fx->driver);

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *after = NULL;
		g_test_message("case %u", i);
		g_assert_true(g_file_set_contents(path, cases[i].text, -1, &error));
		g_assert_no_error(error);
		g_assert_false(usbpass_test_driver_set_state_file(fx->driver, path, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, cases[i].needle));
		g_clear_error(&error);
		/* left as it was, and still in memory only */
		after = describe_driver(fx->driver);
		g_assert_cmpstr(after, ==, before);
	}
	/* a directory cannot be read as the state */
	g_assert_false(usbpass_test_driver_set_state_file(fx->driver, tmpdir, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
	g_clear_error(&error);
	/* nor written where there is no directory */
	{
		g_autofree gchar *nowhere = g_build_filename(tmpdir, "no", "such", NULL);
		g_assert_false(usbpass_test_driver_set_state_file(fx->driver, nowhere, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_clear_error(&error);
		g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));
	}
	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/usbpass/drivers/records", test_records);
	g_test_add_func("/usbpass/drivers/hostdev-matches", test_hostdev_matches);
	g_test_add_func("/usbpass/drivers/hostdev-holds", test_hostdev_holds);
	g_test_add_func("/usbpass/drivers/hostdev-removable", test_hostdev_removable);
	g_test_add_func("/usbpass/drivers/hostdev-validate", test_hostdev_validate);
	g_test_add_func("/usbpass/drivers/merge", test_merge);
	for (guint i = 0; i < G_N_ELEMENTS(scope_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/drivers/test/attach{%s}", scope_cases[i].name);
		g_test_add(path,
			   Fixture,
			   &scope_cases[i],
			   fixture_setup,
			   test_attach_scope,
			   fixture_teardown);
	}
	ADD("/usbpass/drivers/test/detach{saved-refused}", test_saved_refusal_detach);
	ADD("/usbpass/drivers/test/attach{absent}", test_attach_absent);
	ADD("/usbpass/drivers/test/attach{in-use}", test_attach_in_use);
	ADD("/usbpass/drivers/test/by-hand", test_by_hand);
	ADD("/usbpass/drivers/test/detach{ownership}", test_detach_ownership);
	ADD("/usbpass/drivers/test/not-found", test_not_found);
	ADD("/usbpass/drivers/test/fail-next", test_fail_next);
	ADD("/usbpass/drivers/test/connection", test_connection);
	ADD("/usbpass/drivers/test/events", test_events);
	ADD("/usbpass/drivers/test/transitions", test_transitions);
	ADD("/usbpass/drivers/test/define-undefine", test_define_undefine);
	ADD("/usbpass/drivers/test/reboot{shutoff}", test_reboot_shutoff);
	ADD("/usbpass/drivers/test/hook", test_hook);
	ADD("/usbpass/drivers/test/events{thread}", test_thread);
	g_test_add_func("/usbpass/drivers/test/events{after-free}", test_queued_signal_after_free);
	ADD("/usbpass/drivers/test/concurrent", test_concurrent);
	ADD("/usbpass/drivers/test/state-file", test_state_file);
	ADD("/usbpass/drivers/test/state-file{bad}", test_state_file_bad);
	for (guint i = 0; i < G_N_ELEMENTS(list_all_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/drivers/test/list-all{%s}", list_all_cases[i].name);
		g_test_add(path,
			   Fixture,
			   &list_all_cases[i],
			   fixture_setup,
			   test_list_all,
			   fixture_teardown);
	}
	return g_test_run();
}

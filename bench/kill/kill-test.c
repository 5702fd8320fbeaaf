/*
 * kill-test.c: SIGKILL usbpassd in the middle of its work, restart it, check
 *
 * What it does (issue 9, "kill tests at scale"): a umockdev host with four USB
 * sticks the scenario moves around (ports 1-1 to 1-4) and one it never touches
 * (1-5), a usbpassd on the test driver (with its durable state file, see
 * usbpass-test-driver.h) or on the libvirtd of scripts/with-libvirtd (a shut
 * off and a running QEMU/TCG domain), and USB hostdevs written "by hand" into
 * the definitions before the first start: an address-only one of the
 * untouched stick, a vendor/product one and an address-only one of devices
 * this host does not have. Each trial:
 *   1. starts usbpassd and waits for /v1/health;
 *   2. picks, from a GRand with a fixed seed, a device and an operation that
 *      fits its row: attach (to a random instance), detach, re-plug (remove
 *      and add again with a new device number through umockdev uevents) or
 *      restart (kill during the start-up reconcile);
 *   3. kills usbpassd with SIGKILL: with the test driver, half of the trials
 *      at a chosen step of its hook (USBPASSD_TEST_DRIVER_KILL_AT_STEP: just
 *      before a driver change, or just after it was written), the others, and
 *      all libvirt ones, after a random delay from issuing the operation;
 *   4. starts usbpassd again, waits for /v1/health (the start-up reconcile is
 *      done by then) and for no row to be left attaching or detaching, and
 *      checks the invariant against the store (host_usb_devices through the
 *      store API) and the hypervisor (the state file, or the live and
 *      inactive XML of each domain):
 *        - every USB hostdev in any definition (live or persistent) of the
 *          scenario's devices has exactly one row, and that row names the
 *          instance;
 *        - every attached or missing row has its hostdev in its instance;
 *        - no row is left attaching or detaching;
 *        - every hostdev written by hand is still there, byte for byte (its
 *          serialised XML with libvirt, every field and the alias with the test
 *          driver).
 * Every violation is printed as a "# violation ..." line with the trial, the
 * seed, the operation and the kill; the figures are key=value lines:
 *   kill_trials_test_driver, kill_violations_test_driver (and _libvirt),
 *   kill_trials, kill_violations (the totals), kill_mid_request (kills that
 *   landed while the request was still unanswered), kill_seed.
 *
 * How to run it: bench/run kill runs 1,000 trials against the test driver and
 * 100 against libvirt (about 15 and 6 minutes here); meson test --suite kill
 * runs 60 and 8 without re-plugs (--no-replug) and fails on any violation:
 * an interrupted re-attach still loses the stale definition's address (the
 * row takes the new address before the driver removed the old hostdev), so
 * re-plug trials find violations until the engine keeps the old address
 * durably. By hand, under umockdev-wrapper (and scripts/with-libvirtd for
 * libvirt), with absolute paths:
 *   scripts/with-libvirtd umockdev-wrapper build/bench/kill/kill-test \
 *     --usbpassd=build/src/daemon/usbpassd --trials-test=200 --trials-libvirt=20 \
 *     --seed=7 [--check] [--verbose]
 * Without USBPASS_TEST_LIBVIRT_URI the libvirt trials are skipped
 * (kill_trials_libvirt=skipped). Every domain it defines is undefined again.
 */
#define G_LOG_DOMAIN "UsbpassKillTest"

#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <umockdev.h>

#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-autocleanups.h"
#include "usbpass-client.h"
#include "usbpass-error.h"
#include "usbpass-libvirt-xml.h"
#include "usbpass-mock-usb.h"
#include "usbpass-test-driver.h"

#define KILL_HOST                "kill"
#define KILL_PCI                 "0000:00:14.0"
#define KILL_HEALTH_TIMEOUT_USEC (60 * G_USEC_PER_SEC)
#define KILL_SETTLE_TIMEOUT_USEC (30 * G_USEC_PER_SEC)
#define KILL_EXIT_TIMEOUT_USEC   (10 * G_USEC_PER_SEC)
#define KILL_N_MANAGED           4
#define KILL_DEVNUM_FIRST        10
#define KILL_DEVNUM_LAST         120

/* the sticks of the host: the first four are the scenario's */
typedef struct {
	const gchar *port;
	guint16 vendor_id;
	guint16 product_id;
	const gchar *serial;
	guint devnum; /* now; a re-plug gives a new one */
} KillDevice;

typedef enum {
	KILL_OP_ATTACH,
	KILL_OP_DETACH,
	KILL_OP_REPLUG,
	KILL_OP_RESTART,
} KillOp;

static const gchar *const kill_op_names[] = { "attach", "detach", "replug", "restart" };

/* a hostdev written by hand: where, and how it must stay */
typedef struct {
	gchar *uuid;
	gboolean live;           /* else the persistent definition */
	UsbpassHostdev *hostdev; /* to find it again */
	gchar *text;             /* serialised (libvirt) or in the state format (test) */
} KillUserHostdev;

typedef struct {
	gboolean libvirt;
	const gchar *usbpassd;
	gchar *tmpdir;
	gchar *config_path;
	gchar *socket_path;
	gchar *store_path;
	gchar *state_path; /* test driver */
	const gchar *uri;  /* libvirt */
	virConnectPtr conn;
	UMockdevTestbed *testbed;
	KillDevice devices[KILL_N_MANAGED + 1];
	guint next_devnum;
	GPtrArray *instances;     /* of gchar* UUID the scenario attaches to */
	GPtrArray *user_hostdevs; /* of KillUserHostdev */
	UsbpassStore *store;
	GRand *rand;
	guint32 seed;
	gboolean verbose;
	gboolean replug; /* re-plugs are among the operations */
	/* the daemon */
	GSubprocess *daemon;
	gboolean daemon_exited;
	/* figures */
	guint trials;
	guint violations;
	guint mid_request;
} KillRun;

static void
kill_user_hostdev_free(KillUserHostdev *self)
{
	g_free(self->uuid);
	usbpass_hostdev_free(self->hostdev);
	g_free(self->text);
	g_free(self);
}

static void
kill_silent_libvirt_error_func(void *user_data, virErrorPtr error)
{
	/* read where they happen */
}

/* ---- the daemon ---------------------------------------------------------- */

static void
kill_daemon_child_setup(gpointer user_data)
{
	/* an aborted run must not leave its daemon behind */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
kill_daemon_exited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	gboolean *exited = user_data;
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	*exited = TRUE;
}

static gboolean
kill_daemon_spawn(KillRun *run, const gchar *kill_at_step, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	  run->verbose ? G_SUBPROCESS_FLAGS_NONE : G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	g_autofree gchar *config_arg = g_strdup_printf("--config=%s", run->config_path);
	const gchar *argv[] = { run->usbpassd, config_arg, NULL };

	g_subprocess_launcher_set_child_setup(launcher, kill_daemon_child_setup, NULL, NULL);
	g_subprocess_launcher_unsetenv(launcher, "USBPASSD_TEST_DRIVER_DELAY_MS");
	g_subprocess_launcher_unsetenv(launcher, "USBPASSD_TEST_DRIVER_ABSENT");
	if (kill_at_step != NULL)
		g_subprocess_launcher_setenv(
		  launcher, "USBPASSD_TEST_DRIVER_KILL_AT_STEP", kill_at_step, TRUE);
	else
		g_subprocess_launcher_unsetenv(launcher, "USBPASSD_TEST_DRIVER_KILL_AT_STEP");
	g_clear_object(&run->daemon);
	run->daemon_exited = FALSE;
	run->daemon = g_subprocess_launcher_spawnv(launcher, argv, error);
	if (run->daemon == NULL)
		return FALSE;
	g_subprocess_wait_async(run->daemon, NULL, kill_daemon_exited_cb, &run->daemon_exited);
	return TRUE;
}

/* runs the main context until the daemon exited or the deadline passed */
static gboolean
kill_daemon_wait_exit(KillRun *run, gint64 timeout_usec)
{
	gint64 deadline = g_get_monotonic_time() + timeout_usec;
	while (!run->daemon_exited && g_get_monotonic_time() < deadline) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	return run->daemon_exited;
}

static void
kill_daemon_kill(KillRun *run)
{
	if (run->daemon == NULL || run->daemon_exited)
		return;
	g_subprocess_send_signal(run->daemon, SIGKILL);
	if (!kill_daemon_wait_exit(run, KILL_EXIT_TIMEOUT_USEC))
		g_warning("usbpassd did not die of SIGKILL within 10 s");
}

static void
kill_daemon_stop(KillRun *run)
{
	if (run->daemon == NULL || run->daemon_exited)
		return;
	g_subprocess_send_signal(run->daemon, SIGTERM);
	if (!kill_daemon_wait_exit(run, 3 * KILL_EXIT_TIMEOUT_USEC))
		kill_daemon_kill(run);
}

/* polls /v1/health: a condition with a deadline */
static gboolean
kill_daemon_wait_health(KillRun *run, GError **error)
{
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(run->socket_path);
	gint64 deadline = g_get_monotonic_time() + KILL_HEALTH_TIMEOUT_USEC;

	usbpass_client_set_timeout(client, 5);
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(JsonObject) health = NULL;
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (run->daemon_exited) {
			g_set_error_literal(error,
			                    USBPASS_ERROR,
			                    USBPASS_ERROR_INTERNAL,
			                    "usbpassd exited during start-up");
			return FALSE;
		}
		health = usbpass_client_health(client, NULL, NULL);
		if (health != NULL)
			return TRUE;
		g_usleep(5000);
	}
	g_set_error_literal(error,
	                    USBPASS_ERROR,
	                    USBPASS_ERROR_TIMED_OUT,
	                    "usbpassd did not answer /v1/health within 60 s");
	return FALSE;
}

/* ---- the request in flight ----------------------------------------------- */

typedef struct {
	gchar *socket_path;
	KillOp op;
	gchar *device;
	gchar *instance;
	gint done; /* atomic: the answer (or the broken connection) arrived */
} KillRequest;

static void
kill_request_free(KillRequest *self)
{
	g_free(self->socket_path);
	g_free(self->device);
	g_free(self->instance);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KillRequest, kill_request_free)

static gpointer
kill_request_thread(gpointer user_data)
{
	KillRequest *request = user_data;
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(UsbpassClient) client = NULL;
	g_autoptr(JsonObject) answer = NULL;

	/* libsoup's sync API belongs to the thread that made the session */
	g_main_context_push_thread_default(context);
	client = usbpass_client_new_for_socket(request->socket_path);
	usbpass_client_set_timeout(client, 30);
	if (request->op == KILL_OP_ATTACH)
		answer =
		  usbpass_client_attach(client, request->instance, request->device, NULL, NULL);
	else
		answer =
		  usbpass_client_detach(client, request->instance, request->device, NULL, NULL);
	g_atomic_int_set(&request->done, 1);
	g_clear_object(&client);
	g_main_context_pop_thread_default(context);
	return NULL;
}

/* ---- the host ------------------------------------------------------------ */

static gboolean
kill_testbed_add(KillRun *run, const KillDevice *device, GError **error)
{
	g_autoptr(GString) record = g_string_new(NULL);
	UsbpassMockDevice mock = {
		.bus = 1,
		.port = device->port,
		.devnum = device->devnum,
		.vendor_id = device->vendor_id,
		.product_id = device->product_id,
		.bcd_device = 0x0100,
		.bcd_usb = 0x0200,
		.manufacturer = "Kill Test",
		.product = "Stick",
		.serial = device->serial,
		.speed = "480",
		.n_interfaces = 1,
		.interfaces = { { 8, 6, 0x50, "usb-storage" } },
	};
	usbpass_mock_append_device(record, KILL_PCI, &mock);
	/* in the mock environment this sends the "add" uevents too */
	return umockdev_testbed_add_from_string(run->testbed, record->str, error);
}

static gboolean
kill_testbed_new(KillRun *run, GError **error)
{
	g_autoptr(GString) record = g_string_new(NULL);
	UsbpassMockDevice root = {
		.bus = 1,
		.port = "usb1",
		.devnum = 1,
		.vendor_id = 0x1d6b,
		.product_id = 0x0002,
		.bcd_device = 0x0601,
		.bcd_usb = 0x0200,
		.device_class = 9,
		.manufacturer = "Linux xhci-hcd",
		.product = "xHCI Host Controller",
		.serial = KILL_PCI,
		.speed = "480",
		.maxchild = 8,
		.n_interfaces = 1,
		.interfaces = { { 9, 0, 0, "hub" } },
	};

	run->testbed = umockdev_testbed_new();
	usbpass_mock_append_pci(record, KILL_PCI, 0x8086, 0xa36d, 0x0c0330, "xhci_hcd");
	usbpass_mock_append_device(record, KILL_PCI, &root);
	if (!umockdev_testbed_add_from_string(run->testbed, record->str, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(run->devices); i++) {
		if (!kill_testbed_add(run, &run->devices[i], error))
			return FALSE;
	}
	return TRUE;
}

/* as the kernel does: the interface's remove uevent, the device's, then
 * sysfs is gone; then the stick comes back at a new device number */
static gboolean
kill_testbed_replug(KillRun *run, KillDevice *device, GError **error)
{
	g_autofree gchar *syspath = usbpass_mock_syspath(KILL_PCI, 1, device->port);
	g_autofree gchar *iface = g_strdup_printf("%s/%s:1.0", syspath, device->port);

	umockdev_testbed_uevent(run->testbed, iface, "remove");
	umockdev_testbed_remove_device(run->testbed, iface);
	umockdev_testbed_uevent(run->testbed, syspath, "remove");
	umockdev_testbed_remove_device(run->testbed, syspath);
	device->devnum = run->next_devnum++;
	if (run->next_devnum > KILL_DEVNUM_LAST)
		run->next_devnum = KILL_DEVNUM_FIRST;
	return kill_testbed_add(run, device, error);
}

/* ---- the hypervisor: definitions as the checker sees them ---------------- */

typedef struct {
	gchar *uuid;
	gchar *name;
	GPtrArray *hostdevs[2]; /* [0] live, [1] persistent; of UsbpassHostdev */
	GPtrArray *texts[2];    /* the same, serialised; of gchar* */
} KillDefinition;

static void
kill_definition_free(KillDefinition *self)
{
	g_free(self->uuid);
	g_free(self->name);
	for (guint i = 0; i < 2; i++) {
		g_clear_pointer(&self->hostdevs[i], g_ptr_array_unref);
		g_clear_pointer(&self->texts[i], g_ptr_array_unref);
	}
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KillDefinition, kill_definition_free)

static gchar *
kill_hostdev_state_text(const UsbpassHostdev *hostdev)
{
	return g_strdup_printf("%04x:%04x:%u:%u:%d:%s",
	                       hostdev->vendor_id,
	                       hostdev->product_id,
	                       hostdev->bus,
	                       hostdev->device,
	                       hostdev->missing ? 1 : 0,
	                       hostdev->alias != NULL ? hostdev->alias : "");
}

/* the test driver's state as the restarted daemon reads it */
static GPtrArray *
kill_read_test_definitions(KillRun *run, GError **error)
{
	g_autoptr(UsbpassTestDriver) driver = usbpass_test_driver_new();
	g_autoptr(GPtrArray) definitions =
	  g_ptr_array_new_with_free_func((GDestroyNotify)kill_definition_free);
	g_autoptr(GPtrArray) instances = NULL;
	g_autofree gchar *copy = g_build_filename(run->tmpdir, "hv.check", NULL);
	g_autofree gchar *data = NULL;
	gsize length = 0;

	/* a copy: reading the file itself would be safe, but a driver given a
	 * state file writes it on its first change */
	if (!g_file_get_contents(run->state_path, &data, &length, error) ||
	    !g_file_set_contents(copy, data, (gssize)length, error))
		return NULL;
	if (!usbpass_test_driver_set_state_file(driver, copy, error))
		return NULL;
	instances = usbpass_driver_list_instances(USBPASS_DRIVER(driver), error);
	if (instances == NULL)
		return NULL;
	for (guint i = 0; i < instances->len; i++) {
		UsbpassInstance *instance = g_ptr_array_index(instances, i);
		g_autoptr(KillDefinition) definition = g_new0(KillDefinition, 1);
		const UsbpassTestDriverScope scopes[2] = { USBPASS_TEST_DRIVER_SCOPE_LIVE,
			                                   USBPASS_TEST_DRIVER_SCOPE_PERSISTENT };
		definition->uuid = g_strdup(instance->uuid);
		definition->name = g_strdup(instance->name);
		for (guint s = 0; s < 2; s++) {
			definition->hostdevs[s] = usbpass_test_driver_get_hostdevs(
			  driver, instance->uuid, scopes[s], error);
			if (definition->hostdevs[s] == NULL)
				return NULL;
			definition->texts[s] = g_ptr_array_new_with_free_func(g_free);
			for (guint j = 0; j < definition->hostdevs[s]->len; j++)
				g_ptr_array_add(definition->texts[s],
				                kill_hostdev_state_text(
				                  g_ptr_array_index(definition->hostdevs[s], j)));
		}
		g_ptr_array_add(definitions, g_steal_pointer(&definition));
	}
	return g_steal_pointer(&definitions);
}

static gboolean
kill_set_libvirt_error(GError **error, const gchar *what)
{
	g_set_error(
	  error, USBPASS_ERROR, USBPASS_ERROR_DRIVER, "%s: %s", what, virGetLastErrorMessage());
	virResetLastError();
	return FALSE;
}

/* each hostdev's element as libvirt wrote it, found again through the parsed record */
static GPtrArray *
kill_libvirt_texts(const gchar *xml, GPtrArray *hostdevs, GError **error)
{
	g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) used = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < hostdevs->len; i++) {
		g_autoptr(GPtrArray) found =
		  usbpass_libvirt_xml_find_hostdevs(xml, g_ptr_array_index(hostdevs, i), error);
		gboolean added = FALSE;
		if (found == NULL)
			return NULL;
		/* two identical elements: each gets one of them */
		for (guint j = 0; j < found->len && !added; j++) {
			const gchar *text = g_ptr_array_index(found, j);
			guint seen = GPOINTER_TO_UINT(g_hash_table_lookup(used, text));
			guint same = 0;
			for (guint k = 0; k < found->len; k++)
				same += g_strcmp0(g_ptr_array_index(found, k), text) == 0 ? 1 : 0;
			if (seen < same) {
				g_ptr_array_add(texts, g_strdup(text));
				g_hash_table_insert(
				  used,
				  (gpointer)g_ptr_array_index(texts, texts->len - 1),
				  GUINT_TO_POINTER(seen + 1));
				added = TRUE;
			}
		}
		if (!added)
			g_ptr_array_add(texts, g_strdup(""));
	}
	return g_steal_pointer(&texts);
}

static GPtrArray *
kill_read_libvirt_definitions(KillRun *run, GError **error)
{
	g_autoptr(GPtrArray) definitions =
	  g_ptr_array_new_with_free_func((GDestroyNotify)kill_definition_free);
	virDomainPtr *domains = NULL;
	gint n = virConnectListAllDomains(run->conn, &domains, 0);

	if (n < 0) {
		kill_set_libvirt_error(error, "cannot list the domains");
		return NULL;
	}
	for (gint i = 0; i < n; i++) {
		g_autoptr(virDomain) domain = domains[i];
		g_autoptr(KillDefinition) definition = g_new0(KillDefinition, 1);
		gchar uuid[VIR_UUID_STRING_BUFLEN];
		gboolean active = virDomainIsActive(domain) == 1;
		gboolean persistent = virDomainIsPersistent(domain) == 1;

		if (virDomainGetUUIDString(domain, uuid) < 0) {
			kill_set_libvirt_error(error, "cannot read a domain's UUID");
			continue;
		}
		definition->uuid = g_strdup(uuid);
		definition->name = g_strdup(virDomainGetName(domain));
		for (guint s = 0; s < 2; s++) {
			g_autofree gchar *xml = NULL;
			gboolean wanted = s == 0 ? active : persistent;
			definition->texts[s] = g_ptr_array_new_with_free_func(g_free);
			if (!wanted) {
				definition->hostdevs[s] = g_ptr_array_new_with_free_func(
				  (GDestroyNotify)usbpass_hostdev_free);
				continue;
			}
			xml = virDomainGetXMLDesc(domain, s == 0 ? 0 : VIR_DOMAIN_XML_INACTIVE);
			if (xml == NULL) {
				for (gint j = i + 1; j < n; j++)
					virDomainFree(domains[j]);
				g_free(domains);
				kill_set_libvirt_error(error, "cannot read a domain's XML");
				return NULL;
			}
			definition->hostdevs[s] =
			  usbpass_libvirt_xml_parse_hostdevs(xml, s == 0, error);
			if (definition->hostdevs[s] != NULL) {
				g_ptr_array_unref(definition->texts[s]);
				definition->texts[s] =
				  kill_libvirt_texts(xml, definition->hostdevs[s], error);
			}
			if (definition->hostdevs[s] == NULL || definition->texts[s] == NULL) {
				for (gint j = i + 1; j < n; j++)
					virDomainFree(domains[j]);
				g_free(domains);
				return NULL;
			}
		}
		g_ptr_array_add(definitions, g_steal_pointer(&definition));
	}
	g_free(domains);
	return g_steal_pointer(&definitions);
}

static GPtrArray *
kill_read_definitions(KillRun *run, GError **error)
{
	return run->libvirt ? kill_read_libvirt_definitions(run, error)
	                    : kill_read_test_definitions(run, error);
}

/* ---- the checker --------------------------------------------------------- */

/* the scenario's device a hostdev names: by ids, or by address for an
 * address-only one; -1 for any other */
static gint
kill_managed_index(KillRun *run, const UsbpassHostdev *hostdev, GPtrArray *rows)
{
	for (guint i = 0; i < KILL_N_MANAGED; i++) {
		const KillDevice *device = &run->devices[i];
		if (hostdev->vendor_id != 0 && hostdev->vendor_id == device->vendor_id &&
		    hostdev->product_id == device->product_id)
			return (gint)i;
	}
	if (hostdev->vendor_id != 0 || hostdev->bus == 0)
		return -1;
	/* an address-only hostdev or a placeholder with an address: the row's
	 * last known address */
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		if (row->bus != hostdev->bus || row->device != hostdev->device)
			continue;
		for (guint j = 0; j < KILL_N_MANAGED; j++) {
			if (row->vendor_id == run->devices[j].vendor_id &&
			    row->product_id == run->devices[j].product_id)
				return (gint)j;
		}
	}
	return -1;
}

static UsbpassStoreDevice *
kill_row_of(KillRun *run, GPtrArray *rows, guint index)
{
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		if (row->vendor_id == run->devices[index].vendor_id &&
		    row->product_id == run->devices[index].product_id)
			return row;
	}
	return NULL;
}

static gboolean
kill_is_user_text(KillRun *run, const gchar *uuid, guint scope, const gchar *text)
{
	for (guint i = 0; i < run->user_hostdevs->len; i++) {
		KillUserHostdev *user = g_ptr_array_index(run->user_hostdevs, i);
		if (g_strcmp0(user->uuid, uuid) == 0 && (user->live ? 0 : 1) == scope &&
		    g_strcmp0(user->text, text) == 0)
			return TRUE;
	}
	return FALSE;
}

static const KillDefinition *
kill_definition_find(GPtrArray *definitions, const gchar *uuid)
{
	for (guint i = 0; i < definitions->len; i++) {
		const KillDefinition *definition = g_ptr_array_index(definitions, i);
		if (g_ascii_strcasecmp(definition->uuid, uuid) == 0)
			return definition;
	}
	return NULL;
}

/* appends one line per broken rule to @violations */
static gboolean
kill_check(KillRun *run, GPtrArray *violations, GError **error)
{
	g_autoptr(GPtrArray) rows = usbpass_store_list_devices(run->store, KILL_HOST, error);
	g_autoptr(GPtrArray) definitions = NULL;
	static const gchar *const scope_names[] = { "live", "persistent" };

	if (rows == NULL)
		return FALSE;
	definitions = kill_read_definitions(run, error);
	if (definitions == NULL)
		return FALSE;

	/* no row is left half-way */
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		if (row->state == USBPASS_DEVICE_STATE_ATTACHING ||
		    row->state == USBPASS_DEVICE_STATE_DETACHING)
			g_ptr_array_add(
			  violations,
			  g_strdup_printf("row '%s' is left %s",
			                  row->device_id,
			                  usbpass_device_state_to_string(row->state)));
	}

	/* every hostdev of a scenario device has its row, naming the instance */
	for (guint d = 0; d < definitions->len; d++) {
		const KillDefinition *definition = g_ptr_array_index(definitions, d);
		for (guint s = 0; s < 2; s++) {
			for (guint h = 0; h < definition->hostdevs[s]->len; h++) {
				const UsbpassHostdev *hostdev =
				  g_ptr_array_index(definition->hostdevs[s], h);
				const gchar *text = g_ptr_array_index(definition->texts[s], h);
				g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
				UsbpassStoreDevice *row;
				gint index;

				if (kill_is_user_text(run, definition->uuid, s, text))
					continue;
				index = kill_managed_index(run, hostdev, rows);
				if (index < 0) {
					g_ptr_array_add(
					  violations,
					  g_strdup_printf(
					    "%s hostdev %s of instance '%s' is neither "
					    "a scenario device nor written by hand",
					    scope_names[s],
					    shown,
					    definition->name));
					continue;
				}
				row = kill_row_of(run, rows, (guint)index);
				if (row == NULL || row->instance_uuid == NULL ||
				    g_ascii_strcasecmp(row->instance_uuid, definition->uuid) != 0) {
					g_ptr_array_add(
					  violations,
					  g_strdup_printf(
					    "%s hostdev %s of instance '%s' has no row naming it "
					    "(row: %s, %s, instance '%s')",
					    scope_names[s],
					    shown,
					    definition->name,
					    row != NULL ? row->device_id : "none",
					    row != NULL ? usbpass_device_state_to_string(row->state)
					                : "-",
					    row != NULL && row->instance_name != NULL
					      ? row->instance_name
					      : "-"));
				}
			}
		}
	}

	/* every attached or missing row has its hostdev */
	for (guint i = 0; i < rows->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
		const KillDefinition *definition;
		gboolean found = FALSE;

		if (row->state != USBPASS_DEVICE_STATE_ATTACHED &&
		    row->state != USBPASS_DEVICE_STATE_MISSING)
			continue;
		definition = kill_definition_find(definitions, row->instance_uuid);
		for (guint s = 0; definition != NULL && s < 2 && !found; s++) {
			for (guint h = 0; h < definition->hostdevs[s]->len && !found; h++) {
				const UsbpassHostdev *hostdev =
				  g_ptr_array_index(definition->hostdevs[s], h);
				gint index = kill_managed_index(run, hostdev, rows);
				if (index >= 0 && kill_row_of(run, rows, (guint)index) == row)
					found = TRUE;
				/* a row of a device the scenario does not move: its
				 * hostdev is one written by hand */
				if (index < 0 && hostdev->vendor_id == row->vendor_id &&
				    hostdev->product_id == row->product_id)
					found = TRUE;
				if (index < 0 && hostdev->vendor_id == 0 &&
				    hostdev->bus == row->bus && hostdev->device == row->device)
					found = TRUE;
			}
		}
		if (!found)
			g_ptr_array_add(
			  violations,
			  g_strdup_printf("row '%s' is %s in instance '%s' (%s), which "
			                  "%s",
			                  row->device_id,
			                  usbpass_device_state_to_string(row->state),
			                  row->instance_name != NULL ? row->instance_name : "-",
			                  row->instance_uuid,
			                  definition == NULL ? "does not exist"
			                                     : "has no hostdev of it"));
	}

	/* hostdevs written by hand are still there, unchanged */
	for (guint i = 0; i < run->user_hostdevs->len; i++) {
		KillUserHostdev *user = g_ptr_array_index(run->user_hostdevs, i);
		const KillDefinition *definition = kill_definition_find(definitions, user->uuid);
		guint s = user->live ? 0 : 1;
		gboolean found = FALSE;
		for (guint h = 0; definition != NULL && h < definition->texts[s]->len; h++) {
			if (g_strcmp0(g_ptr_array_index(definition->texts[s], h), user->text) == 0)
				found = TRUE;
		}
		if (!found)
			g_ptr_array_add(
			  violations,
			  g_strdup_printf("the %s hostdev written by hand in instance "
			                  "%s was changed or removed: %s",
			                  scope_names[s],
			                  user->uuid,
			                  user->text));
	}
	return TRUE;
}

/* no row attaching or detaching: the engine's jobs (a re-attach) are done */
static gboolean
kill_wait_settled(KillRun *run, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + KILL_SETTLE_TIMEOUT_USEC;
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) rows =
		  usbpass_store_list_devices(run->store, KILL_HOST, error);
		gboolean busy = FALSE;
		if (rows == NULL)
			return FALSE;
		for (guint i = 0; i < rows->len; i++) {
			UsbpassStoreDevice *row = g_ptr_array_index(rows, i);
			if (row->state == USBPASS_DEVICE_STATE_ATTACHING ||
			    row->state == USBPASS_DEVICE_STATE_DETACHING)
				busy = TRUE;
		}
		if (!busy)
			return TRUE;
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(10000);
	}
	/* the checker reports the rows */
	return TRUE;
}

/* ---- one trial ----------------------------------------------------------- */

static gboolean
kill_trial(KillRun *run, guint trial, GError **error)
{
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) violations = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(KillRequest) request = NULL;
	g_autoptr(GThread) thread = NULL;
	g_autofree gchar *step_str = NULL;
	g_autofree gchar *kill_desc = NULL;
	guint index = (guint)g_rand_int_range(run->rand, 0, KILL_N_MANAGED);
	KillDevice *device = &run->devices[index];
	UsbpassStoreDevice *row;
	const gchar *instance = NULL;
	gboolean by_step;
	guint step = 0;
	guint delay_us = 0;
	gint roll = g_rand_int_range(run->rand, 0, 100);
	KillOp op;

	rows = usbpass_store_list_devices(run->store, KILL_HOST, error);
	if (rows == NULL)
		return FALSE;
	row = kill_row_of(run, rows, index);
	if (row == NULL || row->state == USBPASS_DEVICE_STATE_AVAILABLE)
		op = roll < 65 ? KILL_OP_ATTACH : roll < 85 ? KILL_OP_REPLUG : KILL_OP_RESTART;
	else
		op = roll < 50 ? KILL_OP_DETACH : roll < 85 ? KILL_OP_REPLUG : KILL_OP_RESTART;
	if (op == KILL_OP_REPLUG && !run->replug)
		op = KILL_OP_RESTART;
	if (op == KILL_OP_ATTACH) {
		/* a failed row is retried on its own instance, or refused on another */
		instance = g_ptr_array_index(
		  run->instances, (guint)g_rand_int_range(run->rand, 0, (gint)run->instances->len));
	}
	by_step = !run->libvirt && g_rand_boolean(run->rand);
	if (by_step) {
		/* an attach or detach has two steps, a re-attach up to four */
		step = (guint)g_rand_int_range(run->rand, 1, op == KILL_OP_REPLUG ? 5 : 3);
		step_str = g_strdup_printf("%u", step);
		kill_desc = g_strdup_printf("at driver step %u", step);
	} else {
		/* the libvirt calls take tens of ms, the test driver's far less;
		 * a start-up takes longer than either */
		guint max_us = op == KILL_OP_RESTART ? 300000 : run->libvirt ? 400000 : 20000;
		delay_us = (guint)g_rand_int_range(run->rand, 0, (gint)max_us);
		kill_desc = g_strdup_printf("after %u us", delay_us);
	}

	if (op == KILL_OP_RESTART) {
		/* the kill lands in the start-up and its reconcile */
		if (!kill_daemon_spawn(run, step_str, error))
			return FALSE;
		if (!by_step)
			g_usleep(delay_us);
		else
			kill_daemon_wait_exit(run, G_USEC_PER_SEC / 2);
		kill_daemon_kill(run);
	} else {
		if (!kill_daemon_spawn(run, step_str, error))
			return FALSE;
		if (!kill_daemon_wait_health(run, error)) {
			/* a step of the start-up reconcile: that is a kill too */
			if (!run->daemon_exited)
				return FALSE;
			g_clear_error(error);
		} else if (op == KILL_OP_REPLUG) {
			if (!kill_testbed_replug(run, device, error))
				return FALSE;
			if (by_step)
				kill_daemon_wait_exit(run, G_USEC_PER_SEC);
			else
				g_usleep(delay_us);
			kill_daemon_kill(run);
		} else {
			request = g_new0(KillRequest, 1);
			request->socket_path = g_strdup(run->socket_path);
			request->op = op;
			request->device = g_strdup(device->port);
			request->instance =
			  g_strdup(op == KILL_OP_ATTACH ? instance : row->instance_uuid);
			thread = g_thread_new("kill-request", kill_request_thread, request);
			if (by_step) {
				/* the step may never come (a refused request) */
				gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
				while (!run->daemon_exited && !g_atomic_int_get(&request->done) &&
				       g_get_monotonic_time() < deadline)
					kill_daemon_wait_exit(run, 2000);
			} else {
				g_usleep(delay_us);
			}
			/* by step, the daemon died with the request in flight */
			if (run->daemon_exited || !g_atomic_int_get(&request->done))
				run->mid_request++;
			kill_daemon_kill(run);
			g_thread_join(g_steal_pointer(&thread));
		}
	}
	if (run->daemon != NULL && !run->daemon_exited)
		kill_daemon_kill(run);

	/* the restart: it must reconcile */
	if (!kill_daemon_spawn(run, NULL, error) || !kill_daemon_wait_health(run, error) ||
	    !kill_wait_settled(run, error) || !kill_check(run, violations, error)) {
		g_prefix_error(error,
		               "trial %u (seed %u, %s of %s, killed %s): ",
		               trial,
		               run->seed,
		               kill_op_names[op],
		               device->port,
		               kill_desc);
		return FALSE;
	}
	kill_daemon_stop(run);
	run->trials++;
	for (guint i = 0; i < violations->len; i++) {
		g_print("# violation: %s trial %u (seed %u, %s of %s%s%s, killed %s): %s\n",
		        run->libvirt ? "libvirt" : "test-driver",
		        trial,
		        run->seed,
		        kill_op_names[op],
		        device->port,
		        instance != NULL ? " to " : "",
		        instance != NULL ? instance : "",
		        kill_desc,
		        (const gchar *)g_ptr_array_index(violations, i));
	}
	run->violations += violations->len;
	if (run->verbose)
		g_printerr("trial %u: %s of %s, killed %s: %u violations\n",
		           trial,
		           kill_op_names[op],
		           device->port,
		           kill_desc,
		           violations->len);
	return TRUE;
}

/* ---- set-up -------------------------------------------------------------- */

static const gchar *const kill_instance_uuids[] = {
	"4b111ed0-0000-4000-8000-000000000001", /* kill-off: shut off */
	"4b111ed0-0000-4000-8000-000000000002", /* kill-on: running */
	"4b111ed0-0000-4000-8000-000000000003", /* kill-transient (test driver) */
};

static UsbpassHostdev *
kill_hostdev_new(guint16 vendor_id, guint16 product_id, guint bus, guint device)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = vendor_id;
	hostdev->product_id = product_id;
	hostdev->bus = bus;
	hostdev->device = device;
	return hostdev;
}

static void
kill_user_add(KillRun *run,
              const gchar *uuid,
              gboolean live,
              const UsbpassHostdev *hostdev,
              const gchar *text)
{
	KillUserHostdev *user = g_new0(KillUserHostdev, 1);
	user->uuid = g_strdup(uuid);
	user->live = live;
	user->hostdev = usbpass_hostdev_copy(hostdev);
	user->text = g_strdup(text);
	g_ptr_array_add(run->user_hostdevs, user);
}

/* the hostdevs written by hand: the untouched stick by address, and two
 * devices this host does not have */
static GPtrArray *
kill_user_hostdevs_new(KillRun *run)
{
	GPtrArray *hostdevs = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_hostdev_free);
	g_ptr_array_add(hostdevs, kill_hostdev_new(0, 0, 1, run->devices[KILL_N_MANAGED].devnum));
	g_ptr_array_add(hostdevs, kill_hostdev_new(0x04e8, 0x61f5, 0, 0));
	g_ptr_array_add(hostdevs, kill_hostdev_new(0, 0, 3, 7));
	return hostdevs;
}

static gboolean
kill_setup_test_driver(KillRun *run, GError **error)
{
	g_autoptr(UsbpassTestDriver) driver = usbpass_test_driver_new();
	g_autoptr(GPtrArray) user = kill_user_hostdevs_new(run);
	static const struct {
		const gchar *name;
		UsbpassInstanceState state;
		gboolean persistent;
	} instances[] = {
		{ "kill-off", USBPASS_INSTANCE_STATE_SHUTOFF, TRUE },
		{ "kill-on", USBPASS_INSTANCE_STATE_RUNNING, TRUE },
		{ "kill-transient", USBPASS_INSTANCE_STATE_RUNNING, FALSE },
	};

	run->state_path = g_build_filename(run->tmpdir, "hv.state", NULL);
	if (!usbpass_test_driver_set_state_file(driver, run->state_path, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(instances); i++) {
		g_autoptr(UsbpassInstance) instance =
		  usbpass_test_driver_add_instance(driver,
		                                   kill_instance_uuids[i],
		                                   instances[i].name,
		                                   instances[i].state,
		                                   instances[i].persistent,
		                                   error);
		if (instance == NULL)
			return FALSE;
		g_ptr_array_add(run->instances, g_strdup(kill_instance_uuids[i]));
	}
	/* kill-off has all three; kill-on the foreign ones, live and persistent;
	 * kill-transient the address-only one of the untouched stick, live */
	for (guint i = 0; i < user->len; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(user, i);
		if (!usbpass_test_driver_add_hostdev(driver,
		                                     kill_instance_uuids[0],
		                                     USBPASS_TEST_DRIVER_SCOPE_PERSISTENT,
		                                     hostdev,
		                                     error))
			return FALSE;
		if (i > 0) {
			g_autoptr(UsbpassHostdev) live = usbpass_hostdev_copy(hostdev);
			live->alias = g_strdup_printf("ua-hand%u", i);
			live->missing = TRUE;
			if (!usbpass_test_driver_add_hostdev(driver,
			                                     kill_instance_uuids[1],
			                                     USBPASS_TEST_DRIVER_SCOPE_PERSISTENT,
			                                     hostdev,
			                                     error) ||
			    !usbpass_test_driver_add_hostdev(driver,
			                                     kill_instance_uuids[1],
			                                     USBPASS_TEST_DRIVER_SCOPE_LIVE,
			                                     live,
			                                     error))
				return FALSE;
		}
	}
	{
		g_autoptr(UsbpassHostdev) live = usbpass_hostdev_copy(g_ptr_array_index(user, 0));
		live->alias = g_strdup("ua-hand-transient");
		if (!usbpass_test_driver_add_hostdev(
		      driver, kill_instance_uuids[2], USBPASS_TEST_DRIVER_SCOPE_LIVE, live, error))
			return FALSE;
	}
	/* what the checker will see, recorded from the file */
	{
		g_autoptr(GPtrArray) definitions = kill_read_test_definitions(run, error);
		if (definitions == NULL)
			return FALSE;
		for (guint d = 0; d < definitions->len; d++) {
			const KillDefinition *definition = g_ptr_array_index(definitions, d);
			for (guint s = 0; s < 2; s++) {
				for (guint h = 0; h < definition->hostdevs[s]->len; h++)
					kill_user_add(run,
					              definition->uuid,
					              s == 0,
					              g_ptr_array_index(definition->hostdevs[s], h),
					              g_ptr_array_index(definition->texts[s], h));
			}
		}
	}
	return TRUE;
}

/* a firmware-only QEMU/TCG guest, as scripts/run-daemon's demo, with the
 * hostdevs written by hand in forms libvirt documents */
static gchar *
kill_domain_xml(KillRun *run, const gchar *name, const gchar *uuid, gboolean with_address)
{
	return g_strdup_printf(
	  "<domain type='qemu'>\n"
	  "  <name>%s</name>\n"
	  "  <uuid>%s</uuid>\n"
	  "  <memory unit='MiB'>64</memory>\n"
	  "  <vcpu>1</vcpu>\n"
	  "  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>\n"
	  "  <devices>\n"
	  "    <controller type='usb' model='qemu-xhci'/>\n"
	  "    <hostdev mode='subsystem' type='usb' managed='no'>\n"
	  "      <source startupPolicy='optional'>\n"
	  "        <vendor id='0x04e8'/>\n"
	  "        <product id='0x61f5'/>\n"
	  "      </source>\n"
	  "    </hostdev>\n"
	  "%s"
	  "  </devices>\n"
	  "</domain>\n",
	  name,
	  uuid,
	  with_address ? "    <hostdev mode='subsystem' type='usb'>\n"
	                 "      <source>\n"
	                 "        <address bus='1' device='6'/>\n"
	                 "      </source>\n"
	                 "    </hostdev>\n"
	                 "    <hostdev mode='subsystem' type='usb' managed='yes'>\n"
	                 "      <source>\n"
	                 "        <address bus='0x3' device='0x7'/>\n"
	                 "      </source>\n"
	                 "    </hostdev>\n"
	               : "");
}

static gboolean
kill_setup_libvirt(KillRun *run, GError **error)
{
	static const gchar *const names[] = { "kill-off", "kill-on" };

	virSetErrorFunc(NULL, kill_silent_libvirt_error_func);
	run->conn = virConnectOpen(run->uri);
	if (run->conn == NULL)
		return kill_set_libvirt_error(error, "cannot connect to libvirtd");
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		/* the running one cannot boot with an address-only hostdev of a
		 * device libvirtd does not see: those go into kill-off only */
		g_autofree gchar *xml =
		  kill_domain_xml(run, names[i], kill_instance_uuids[i], i == 0);
		g_autoptr(virDomain) domain = virDomainLookupByName(run->conn, names[i]);
		if (domain != NULL) {
			if (virDomainIsActive(domain) == 1)
				virDomainDestroy(domain);
			virDomainUndefine(domain);
			g_clear_pointer(&domain, virDomainFree);
		}
		virResetLastError();
		domain = virDomainDefineXML(run->conn, xml);
		if (domain == NULL)
			return kill_set_libvirt_error(error, "cannot define a domain");
		g_ptr_array_add(run->instances, g_strdup(kill_instance_uuids[i]));
		if (i == 1 && virDomainCreate(domain) < 0)
			return kill_set_libvirt_error(error,
			                              "cannot start the QEMU/TCG domain kill-on");
	}
	{
		g_autoptr(GPtrArray) definitions = kill_read_libvirt_definitions(run, error);
		if (definitions == NULL)
			return FALSE;
		for (guint d = 0; d < definitions->len; d++) {
			const KillDefinition *definition = g_ptr_array_index(definitions, d);
			for (guint s = 0; s < 2; s++) {
				for (guint h = 0; h < definition->hostdevs[s]->len; h++)
					kill_user_add(run,
					              definition->uuid,
					              s == 0,
					              g_ptr_array_index(definition->hostdevs[s], h),
					              g_ptr_array_index(definition->texts[s], h));
			}
		}
	}
	return TRUE;
}

static void
kill_teardown_libvirt(KillRun *run)
{
	if (run->conn == NULL)
		return;
	for (guint i = 0; i < run->instances->len; i++) {
		g_autoptr(virDomain) domain =
		  virDomainLookupByUUIDString(run->conn, g_ptr_array_index(run->instances, i));
		if (domain == NULL)
			continue;
		if (virDomainIsActive(domain) == 1)
			virDomainDestroy(domain);
		virDomainUndefine(domain);
	}
	virResetLastError();
	virConnectClose(g_steal_pointer(&run->conn));
}

static gboolean
kill_write_config(KillRun *run, GError **error)
{
	g_autoptr(GKeyFile) keyfile = g_key_file_new();
	g_autofree gchar *data = NULL;
	gsize length = 0;

	g_key_file_set_boolean(keyfile, "daemon", "enabled", TRUE);
	g_key_file_set_string(keyfile, "daemon", "host", KILL_HOST);
	g_key_file_set_string(keyfile, "daemon", "store", run->store_path);
	g_key_file_set_string(keyfile, "daemon", "socket", run->socket_path);
	g_key_file_set_string(keyfile, "daemon", "socket-group", "");
	g_key_file_set_string(keyfile, "daemon", "socket-mode", "0600");
	g_key_file_set_string(keyfile, "daemon", "driver", run->libvirt ? "libvirt" : "test");
	g_key_file_set_string(keyfile, "daemon", "log-level", run->verbose ? "info" : "critical");
	if (run->libvirt)
		g_key_file_set_string(keyfile, "libvirt", "uri", run->uri);
	else
		g_key_file_set_string(keyfile, "daemon", "test-state", run->state_path);
	data = g_key_file_to_data(keyfile, &length, NULL);
	return g_file_set_contents(run->config_path, data, (gssize)length, error);
}

static void
kill_run_free(KillRun *run)
{
	if (run == NULL)
		return;
	kill_daemon_kill(run);
	g_clear_object(&run->daemon);
	kill_teardown_libvirt(run);
	g_clear_object(&run->store);
	g_clear_object(&run->testbed);
	if (run->tmpdir != NULL) {
		g_autoptr(GDir) dir = g_dir_open(run->tmpdir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(run->tmpdir, name, NULL);
			g_unlink(path);
		}
		g_rmdir(run->tmpdir);
	}
	g_free(run->tmpdir);
	g_free(run->config_path);
	g_free(run->socket_path);
	g_free(run->store_path);
	g_free(run->state_path);
	g_clear_pointer(&run->instances, g_ptr_array_unref);
	g_clear_pointer(&run->user_hostdevs, g_ptr_array_unref);
	g_clear_pointer(&run->rand, g_rand_free);
	g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KillRun, kill_run_free)

static KillRun *
kill_run_new(const gchar *usbpassd,
             gboolean libvirt,
             guint32 seed,
             gboolean verbose,
             gboolean replug,
             GError **error)
{
	g_autoptr(KillRun) run = g_new0(KillRun, 1);
	const KillDevice devices[] = {
		{ "1-1", 0x0781, 0x5567, "KILL0001", 2 }, { "1-2", 0x0951, 0x1666, "KILL0002", 3 },
		{ "1-3", 0x090c, 0x1000, "KILL0003", 4 }, { "1-4", 0x058f, 0x6387, "KILL0004", 5 },
		{ "1-5", 0x8564, 0x1000, "KILL0005", 6 }, /* never moved */
	};

	run->libvirt = libvirt;
	run->usbpassd = usbpassd;
	run->seed = seed;
	run->verbose = verbose;
	run->replug = replug;
	run->rand = g_rand_new_with_seed(seed);
	run->uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	run->next_devnum = KILL_DEVNUM_FIRST;
	run->instances = g_ptr_array_new_with_free_func(g_free);
	run->user_hostdevs = g_ptr_array_new_with_free_func((GDestroyNotify)kill_user_hostdev_free);
	memcpy(run->devices, devices, sizeof(devices));
	run->tmpdir = g_dir_make_tmp("usbpass-kill-XXXXXX", error);
	if (run->tmpdir == NULL)
		return NULL;
	run->config_path = g_build_filename(run->tmpdir, "usbpassd.conf", NULL);
	run->socket_path = g_build_filename(run->tmpdir, "usbpassd.sock", NULL);
	run->store_path = g_build_filename(run->tmpdir, "usbpass.db", NULL);
	if (!kill_testbed_new(run, error))
		return NULL;
	if (libvirt ? !kill_setup_libvirt(run, error) : !kill_setup_test_driver(run, error))
		return NULL;
	if (!kill_write_config(run, error))
		return NULL;
	/* the first start creates the store and imports what is defined */
	if (!kill_daemon_spawn(run, NULL, error) || !kill_daemon_wait_health(run, error))
		return NULL;
	kill_daemon_stop(run);
	run->store = USBPASS_STORE(usbpass_sqlite_store_new(run->store_path, error));
	if (run->store == NULL)
		return NULL;
	return g_steal_pointer(&run);
}

static gboolean
kill_run_trials(const gchar *usbpassd,
                gboolean libvirt,
                guint n_trials,
                guint32 seed,
                gboolean verbose,
                gboolean replug,
                guint *trials,
                guint *violations,
                guint *mid_request,
                GError **error)
{
	g_autoptr(KillRun) run = kill_run_new(usbpassd, libvirt, seed, verbose, replug, error);
	if (run == NULL)
		return FALSE;
	for (guint i = 0; i < n_trials; i++) {
		if (!kill_trial(run, i, error))
			return FALSE;
	}
	*trials = run->trials;
	*violations = run->violations;
	*mid_request = run->mid_request;
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *usbpassd = NULL;
	gint trials_test = 1000;
	gint trials_libvirt = 100;
	gint seed = 20240901;
	gboolean check = FALSE;
	gboolean verbose = FALSE;
	gboolean no_replug = FALSE;
	guint total_trials = 0;
	guint total_violations = 0;
	guint total_mid = 0;
	const GOptionEntry entries[] = {
		{ "usbpassd", 0, 0, G_OPTION_ARG_FILENAME, &usbpassd, "The daemon", "PATH" },
		{ "trials-test",
		  0,
		  0,
		  G_OPTION_ARG_INT,
		  &trials_test,
		  "Kills against the test driver",
		  "N" },
		{ "trials-libvirt",
		  0,
		  0,
		  G_OPTION_ARG_INT,
		  &trials_libvirt,
		  "Kills against libvirtd",
		  "N" },
		{ "seed", 0, 0, G_OPTION_ARG_INT, &seed, "The seed of the random choices", "N" },
		{ "no-replug", 0, 0, G_OPTION_ARG_NONE, &no_replug, "Leave re-plugs out", NULL },
		{ "check", 0, 0, G_OPTION_ARG_NONE, &check, "Exit 1 on any violation", NULL },
		{ "verbose",
		  'v',
		  0,
		  G_OPTION_ARG_NONE,
		  &verbose,
		  "One line per trial, daemon logs",
		  NULL },
		{ NULL },
	};

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error_local)) {
		g_printerr("kill-test: %s\n", error_local->message);
		return 2;
	}
	if (usbpassd == NULL || trials_test < 0 || trials_libvirt < 0) {
		g_printerr("kill-test: --usbpassd=PATH is required, trial counts are >= 0\n");
		return 2;
	}
	/* usbpassd inherits the preload and sees the testbed this process makes */
	if (g_strstr_len(g_getenv("LD_PRELOAD"), -1, "umockdev-preload") == NULL) {
		g_printerr("kill-test: run it under umockdev-wrapper\n");
		return 2;
	}
	g_print("kill_seed=%d\n", seed);

	for (guint pass = 0; pass < 2; pass++) {
		gboolean libvirt = pass == 1;
		const gchar *key = libvirt ? "libvirt" : "test_driver";
		guint n = (guint)(libvirt ? trials_libvirt : trials_test);
		guint trials = 0;
		guint violations = 0;
		guint mid = 0;
		gint64 begin = g_get_monotonic_time();

		if (n == 0)
			continue;
		if (libvirt && g_getenv("USBPASS_TEST_LIBVIRT_URI") == NULL) {
			g_print("kill_trials_libvirt=skipped\n");
			continue;
		}
		if (!kill_run_trials(usbpassd,
		                     libvirt,
		                     n,
		                     (guint32)seed,
		                     verbose,
		                     !no_replug,
		                     &trials,
		                     &violations,
		                     &mid,
		                     &error_local)) {
			g_printerr("kill-test: %s: %s\n", key, error_local->message);
			return 1;
		}
		g_print("kill_trials_%s=%u\n", key, trials);
		g_print("kill_violations_%s=%u\n", key, violations);
		g_print("kill_mid_request_%s=%u\n", key, mid);
		g_print("kill_trial_%s_ms=%.1f\n",
		        key,
		        (gdouble)(g_get_monotonic_time() - begin) / 1000.0 / MAX(trials, 1));
		total_trials += trials;
		total_violations += violations;
		total_mid += mid;
	}
	g_print("kill_trials=%u\n", total_trials);
	g_print("kill_violations=%u\n", total_violations);
	g_print("kill_mid_request=%u\n", total_mid);
	return check && total_violations > 0 ? 1 : 0;
}

/*
 * inventory-bench.c: enumeration, hotplug and JSON figures of the inventory
 *
 * Generates hosts of 100 and 1,000 USB devices from a fixed seed (each device
 * with its binary "descriptors", so that lsusb sees it), loads each into a
 * umockdev testbed, and runs, alternately and in fresh processes under the
 * umockdev preload, `inventory-bench --enumerate` (a cold usbpass_inventory_
 * enumerate()) and `lsusb`: wall time and peak RSS of each, side by side.
 * Then one process holds the live inventory of 1,000 devices and measures
 * applying single hotplug events and serialising the set to JSON.
 *
 * Prints key=value lines; never fails on time.
 */
#define G_LOG_DOMAIN "UsbpassBench"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

#include "usbpass-device-json.h"
#include "usbpass-inventory-private.h"
#include "usbpass-mock-usb.h"

#define SEED         20240601
#define ROUNDS       5
#define HOTPLUG_REPS 400

typedef struct {
	gdouble wall_ms;
	glong maxrss_kib;
	gchar *out;
} RunResult;

static void
run_result_clear(RunResult *self)
{
	g_clear_pointer(&self->out, g_free);
}

static gint
compare_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a;
	gdouble y = *(const gdouble *)b;
	return (x > y) - (x < y);
}

static gdouble
median(gdouble *values, guint n)
{
	qsort(values, n, sizeof(gdouble), compare_double);
	return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* runs @argv under the umockdev preload in the testbed of UMOCKDEV_DIR and
 * measures it from outside: wall time, peak RSS, stdout */
static gboolean
run_child(const gchar *const *argv, RunResult *result, GError **error)
{
	g_auto(GStrv) envp = g_get_environ();
	gint out_fd = -1;
	GPid pid = 0;
	gint status = 0;
	struct rusage usage = { 0 };
	g_autoptr(GString) out = g_string_new(NULL);
	gint64 start;
	gchar buf[4096];

	envp = g_environ_setenv(envp, "LD_PRELOAD", "libumockdev-preload.so.0", TRUE);
	start = g_get_monotonic_time();
	if (!g_spawn_async_with_pipes(NULL,
	                              (gchar **)argv,
	                              envp,
	                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                                G_SPAWN_STDERR_TO_DEV_NULL,
	                              NULL,
	                              NULL,
	                              &pid,
	                              NULL,
	                              &out_fd,
	                              NULL,
	                              error))
		return FALSE;
	for (;;) {
		gssize got = read(out_fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		g_string_append_len(out, buf, got);
	}
	close(out_fd);
	while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR)
		;
	result->wall_ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
	result->maxrss_kib = usage.ru_maxrss;
	result->out = g_string_free(g_steal_pointer(&out), FALSE);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		g_set_error(error,
		            G_SPAWN_ERROR,
		            G_SPAWN_ERROR_FAILED,
		            "%s failed (status %d)",
		            argv[0],
		            status);
		return FALSE;
	}
	return TRUE;
}

/* umockdev parses a record in quadratic time: hand it one device at a time */
static gboolean
load_testbed(UMockdevTestbed *testbed, const gchar *record, GError **error)
{
	g_auto(GStrv) chunks = g_strsplit(record, "\n\n", -1);
	for (guint i = 0; chunks[i] != NULL; i++) {
		g_autofree gchar *chunk = NULL;
		if (chunks[i][0] == '\0')
			continue;
		chunk = g_strconcat(chunks[i], "\n", NULL);
		if (!umockdev_testbed_add_from_string(testbed, chunk, error))
			return FALSE;
	}
	return TRUE;
}

static gdouble
parse_value(const gchar *out, const gchar *key)
{
	g_autofree gchar *needle = g_strdup_printf("%s=", key);
	const gchar *at = strstr(out, needle);
	if (at == NULL)
		return -1;
	return g_ascii_strtod(at + strlen(needle), NULL);
}

static guint
count_lines(const gchar *text)
{
	guint n = 0;
	for (const gchar *p = text; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* one host size: usbpass and lsusb, alternately, ROUNDS times each */
static void
bench_enumeration(const gchar *self_exe, const gchar *lsusb, guint n_devices)
{
	g_autoptr(UMockdevTestbed) testbed = NULL;
	g_autofree gchar *record = usbpass_mock_generate_host(n_devices, SEED);
	g_autoptr(GError) error = NULL;
	gdouble inventory_ms[ROUNDS];
	gdouble inventory_process_ms[ROUNDS];
	gdouble lsusb_ms[ROUNDS];
	glong inventory_rss = 0;
	glong lsusb_rss = 0;
	guint inventory_devices = 0;
	guint lsusb_devices = 0;
	const gchar *enumerate_argv[] = { self_exe, "--enumerate", NULL };
	const gchar *lsusb_argv[] = { lsusb, NULL };

	testbed = umockdev_testbed_new();
	if (!load_testbed(testbed, record, &error)) {
		g_printerr("cannot load the testbed: %s\n", error->message);
		return;
	}
	for (guint round = 0; round < ROUNDS; round++) {
		RunResult result = { 0 };
		if (!run_child(enumerate_argv, &result, &error)) {
			g_printerr("%s\n", error->message);
			run_result_clear(&result);
			return;
		}
		inventory_ms[round] = parse_value(result.out, "enum_ms");
		inventory_process_ms[round] = result.wall_ms;
		inventory_rss = MAX(inventory_rss, result.maxrss_kib);
		inventory_devices = (guint)parse_value(result.out, "devices");
		run_result_clear(&result);

		if (lsusb == NULL)
			continue;
		if (!run_child(lsusb_argv, &result, &error)) {
			g_printerr("%s\n", error->message);
			run_result_clear(&result);
			return;
		}
		lsusb_ms[round] = result.wall_ms;
		lsusb_rss = MAX(lsusb_rss, result.maxrss_kib);
		lsusb_devices = count_lines(result.out);
		run_result_clear(&result);
	}

	printf("inventory_enum_%u_ms=%.1f\n", n_devices, median(inventory_ms, ROUNDS));
	printf(
	  "inventory_enum_%u_process_ms=%.1f\n", n_devices, median(inventory_process_ms, ROUNDS));
	printf("inventory_enum_%u_devices=%u\n", n_devices, inventory_devices);
	if (n_devices >= 1000)
		printf("inventory_peak_rss_kib=%ld\n", inventory_rss);
	if (lsusb == NULL) {
		printf("# lsusb not found: no comparison\n");
		return;
	}
	printf("lsusb_enum_%u_ms=%.1f\n", n_devices, median(lsusb_ms, ROUNDS));
	printf("lsusb_enum_%u_devices=%u\n", n_devices, lsusb_devices);
	if (n_devices >= 1000) {
		gdouble ratio = median(lsusb_ms, ROUNDS) / median(inventory_process_ms, ROUNDS);
		printf("lsusb_peak_rss_kib=%ld\n", lsusb_rss);
		/* whole processes on both sides: exec, library start-up and enumeration */
		printf("inventory_vs_lsusb_ratio=%.2f\n", ratio);
	} else {
		printf("inventory_vs_lsusb_%u_ratio=%.2f\n",
		       n_devices,
		       median(lsusb_ms, ROUNDS) / median(inventory_process_ms, ROUNDS));
	}
	fflush(stdout);
}

/* --- the child processes --- */

static int
child_enumerate(void)
{
	g_autoptr(UsbpassInventory) inventory = usbpass_inventory_new();
	g_autoptr(GError) error = NULL;
	gint64 start = g_get_monotonic_time();

	if (!usbpass_inventory_enumerate(inventory, &error)) {
		g_printerr("%s\n", error->message);
		return 1;
	}
	printf("enum_ms=%.2f\n", (gdouble)(g_get_monotonic_time() - start) / 1000.0);
	printf("devices=%u\n", usbpass_inventory_get_size(inventory));
	return 0;
}

static void
count_event(UsbpassInventory *inventory, UsbpassInventoryEvent *event, gpointer user_data)
{
	guint *events = user_data;
	(*events)++;
}

/* a leaf: removing a hub would take its children along */
static UsbpassDevice *
pick_leaf(GPtrArray *devices, GRand *rand)
{
	for (;;) {
		UsbpassDevice *device =
		  g_ptr_array_index(devices, g_rand_int_range(rand, 0, devices->len));
		if (!device->is_hub)
			return device;
	}
}

static gdouble
json_once(UsbpassInventory *inventory, gsize *bytes)
{
	gint64 start = g_get_monotonic_time();
	g_autoptr(GPtrArray) devices = usbpass_inventory_get_devices(inventory);
	g_autoptr(JsonNode) node = usbpass_inventory_devices_to_json(devices);
	g_autofree gchar *text = json_to_string(node, FALSE);
	*bytes = strlen(text);
	return (gdouble)(g_get_monotonic_time() - start) / 1000.0;
}

/* the live inventory of this testbed: single hotplug events and the JSON of the set */
static int
child_live(void)
{
	g_autoptr(UsbpassInventory) inventory = usbpass_inventory_new();
	g_autoptr(GUdevClient) client = g_udev_client_new(NULL);
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GRand) rand = g_rand_new_with_seed(SEED);
	gdouble *apply_us = g_new0(gdouble, HOTPLUG_REPS);
	gdouble change_us[HOTPLUG_REPS / 4];
	gdouble json_ms[ROUNDS];
	gdouble json_cold_ms;
	gsize bytes = 0;
	guint events = 0;

	if (!usbpass_inventory_enumerate(inventory, &error)) {
		g_printerr("%s\n", error->message);
		g_free(apply_us);
		return 1;
	}
	g_signal_connect(inventory, "event", G_CALLBACK(count_event), &events);
	devices = usbpass_inventory_get_devices(inventory);

	/* the first answer builds every record's JSON node once; the others reuse them */
	json_cold_ms = json_once(inventory, &bytes);
	for (guint i = 0; i < ROUNDS; i++)
		json_ms[i] = json_once(inventory, &bytes);

	/* one uevent, one batch: a device goes (its sysfs entry stays, as it would
	 * for a moment), then comes back and is read again; each applied alone */
	for (guint i = 0; i < HOTPLUG_REPS; i += 2) {
		UsbpassDevice *device = pick_leaf(devices, rand);
		g_autoptr(GUdevDevice) udev_device =
		  g_udev_client_query_by_sysfs_path(client, device->syspath);
		gint64 start;

		usbpass_inventory_queue_uevent(inventory, "remove", udev_device);
		start = g_get_monotonic_time();
		(void)usbpass_inventory_flush(inventory);
		apply_us[i] = (gdouble)(g_get_monotonic_time() - start);

		usbpass_inventory_queue_uevent(inventory, "add", udev_device);
		start = g_get_monotonic_time();
		(void)usbpass_inventory_flush(inventory);
		apply_us[i + 1] = (gdouble)(g_get_monotonic_time() - start);
	}
	/* a "change" that changes nothing: read again, compared, no event */
	for (guint i = 0; i < G_N_ELEMENTS(change_us); i++) {
		UsbpassDevice *device = pick_leaf(devices, rand);
		g_autoptr(GUdevDevice) udev_device =
		  g_udev_client_query_by_sysfs_path(client, device->syspath);
		gint64 start;
		usbpass_inventory_queue_uevent(inventory, "change", udev_device);
		start = g_get_monotonic_time();
		(void)usbpass_inventory_flush(inventory);
		change_us[i] = (gdouble)(g_get_monotonic_time() - start);
	}

	printf("hotplug_apply_us=%.0f\n", median(apply_us, HOTPLUG_REPS));
	printf("hotplug_apply_p99_us=%.0f\n", apply_us[(HOTPLUG_REPS * 99) / 100]);
	printf("hotplug_change_us=%.0f\n", median(change_us, G_N_ELEMENTS(change_us)));
	printf("hotplug_events=%u\n", events);
	printf("inventory_json_1000_ms=%.2f\n", median(json_ms, ROUNDS));
	printf("inventory_json_cold_1000_ms=%.2f\n", json_cold_ms);
	printf("inventory_json_1000_bytes=%" G_GSIZE_FORMAT "\n", bytes);
	g_free(apply_us);
	return 0;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *self_exe = NULL;
	g_autofree gchar *lsusb = NULL;

	if (argc > 1 && g_strcmp0(argv[1], "--enumerate") == 0)
		return child_enumerate();
	if (argc > 1 && g_strcmp0(argv[1], "--live") == 0)
		return child_live();

	/* umockdev writes every attribute with fsync: on a tmpfs the 1,000-device
	 * testbed loads in half a second instead of fifteen */
	if (g_access("/dev/shm", W_OK) == 0)
		g_setenv("TMPDIR", "/dev/shm", TRUE);
	self_exe = g_file_read_link("/proc/self/exe", NULL);
	if (self_exe == NULL)
		self_exe = g_strdup(argv[0]);
	lsusb = g_find_program_in_path("lsusb");

	printf(
	  "# inventory: %u rounds each, usbpass and lsusb alternately, seed %u\n", ROUNDS, SEED);
	fflush(stdout);
	bench_enumeration(self_exe, lsusb, 100);
	bench_enumeration(self_exe, lsusb, 1000);
	{
		g_autoptr(UMockdevTestbed) testbed = umockdev_testbed_new();
		g_autofree gchar *record = usbpass_mock_generate_host(1000, SEED);
		g_autoptr(GError) error = NULL;
		const gchar *live_argv[] = { self_exe, "--live", NULL };
		RunResult result = { 0 };
		if (!load_testbed(testbed, record, &error) ||
		    !run_child(live_argv, &result, &error)) {
			g_printerr("live inventory: %s\n", error->message);
		} else {
			fputs(result.out, stdout);
		}
		run_result_clear(&result);
	}
	return 0;
}

/*
 * test-cli-local.c: `usbpass list` and `usbpass tree` when no usbpassd answers
 *
 * Runs under umockdev-wrapper (meson does that): a testbed holds the devices of
 * tests/data/demo.umockdev and the usbpass binary, spawned with the testbed's
 * environment, reads them itself because nothing answers on its socket (the
 * socket is absent, or a bound socket nobody listens on refuses). Every other
 * command keeps failing with exit 1.
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>
#include <umockdev.h>

#define STICK_ID     "0781:5567:s:4C530001231122117043"
#define DEMO_DEVICES 12
#define UNKNOWN_LINE "usbpass: assignment states are unknown because usbpassd is not running"

typedef struct {
	gchar *tmpdir;
	gchar *socket_path;
	GSocket *refusing; /* bound, never listening: connect() is refused */
	UMockdevTestbed *testbed;
} Fixture;

static void
fixture_setup(Fixture *fixture, gconstpointer user_data)
{
	const gchar *variant = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *record = NULL;

	fixture->tmpdir = g_dir_make_tmp("usbpass-cli-local-XXXXXX", &error);
	g_assert_no_error(error);
	fixture->socket_path = g_build_filename(fixture->tmpdir, "usbpassd.sock", NULL);
	if (g_strcmp0(variant, "refused") == 0) {
		g_autoptr(GSocketAddress) address = g_unix_socket_address_new(fixture->socket_path);
		fixture->refusing = g_socket_new(
		  G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
		g_assert_no_error(error);
		g_assert_true(g_socket_bind(fixture->refusing, address, FALSE, &error));
		g_assert_no_error(error);
	}

	/* umockdev caches whether /sys is redirected: ask once a testbed exists */
	fixture->testbed = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		g_clear_object(&fixture->testbed);
		return;
	}
	record = g_build_filename(g_getenv("USBPASS_TEST_DATA"), "demo.umockdev", NULL);
	g_assert_true(umockdev_testbed_add_from_file(fixture->testbed, record, &error));
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer user_data)
{
	g_clear_object(&fixture->testbed);
	if (fixture->refusing != NULL) {
		g_socket_close(fixture->refusing, NULL);
		g_clear_object(&fixture->refusing);
	}
	g_unlink(fixture->socket_path);
	g_rmdir(fixture->tmpdir);
	g_free(fixture->socket_path);
	g_free(fixture->tmpdir);
}

static gboolean
skip_without_umockdev(Fixture *fixture)
{
	if (fixture->testbed != NULL)
		return FALSE;
	g_test_skip("not under umockdev-wrapper: run through meson test");
	return TRUE;
}

/* runs `usbpass --socket SOCKET ARGS…` in the testbed's environment (UMOCKDEV_DIR
 * and the wrapper's preload are inherited); returns the exit status */
static gint
run_cli(Fixture *fixture, const gchar *const *args, gchar **out, gchar **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) envp = g_get_environ();
	g_autoptr(GError) error = NULL;
	gint wait_status = 0;

	g_ptr_array_add(argv, (gpointer)USBPASS_CLI_PATH);
	if (args[0] == NULL || g_strcmp0(args[0], "--url") != 0) {
		g_ptr_array_add(argv, (gpointer) "--socket");
		g_ptr_array_add(argv, fixture->socket_path);
	}
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);

	envp = g_environ_unsetenv(envp, "USBPASS_URL");
	envp = g_environ_unsetenv(envp, "USBPASS_TOKEN");
	envp = g_environ_unsetenv(envp, "USBPASS_TOKEN_FILE");
	envp = g_environ_setenv(envp, "HOME", fixture->tmpdir, TRUE);
	envp = g_environ_setenv(envp, "XDG_CONFIG_HOME", fixture->tmpdir, TRUE);
	envp = g_environ_setenv(envp, "LC_ALL", "C.UTF-8", TRUE);
	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)argv->pdata,
	                           envp,
	                           G_SPAWN_DEFAULT,
	                           NULL,
	                           NULL,
	                           out,
	                           err,
	                           &wait_status,
	                           &error));
	g_assert_no_error(error);
	g_test_message("stdout:\n%s\nstderr:\n%s", *out, *err);
	g_assert_true(WIFEXITED(wait_status));
	return WEXITSTATUS(wait_status);
}

/* stderr holds exactly the one line saying why the states are unknown */
static void
assert_unknown_line(Fixture *fixture, const gchar *err)
{
	g_autofree gchar *expected =
	  g_strdup_printf(UNKNOWN_LINE " (nothing answers at '%s')\n", fixture->socket_path);
	g_assert_cmpstr(err, ==, expected);
}

static void
test_list(Fixture *fixture, gconstpointer user_data)
{
	const gchar *args[] = { "list", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_auto(GStrv) lines = NULL;

	if (skip_without_umockdev(fixture))
		return;
	g_assert_cmpint(run_cli(fixture, args, &out, &err), ==, 0);
	assert_unknown_line(fixture, err);
	lines = g_strsplit(out, "\n", -1);
	/* the header, one row per device, and the empty string after the last '\n' */
	g_assert_cmpuint(g_strv_length(lines), ==, DEMO_DEVICES + 2);
	g_assert_true(g_str_has_prefix(lines[0], "BUS  DEV  ID"));
	g_assert_nonnull(strstr(lines[0], "STATE"));
	for (guint i = 1; i <= DEMO_DEVICES; i++) {
		/* the STATE column, then an empty INSTANCE */
		g_assert_true(g_str_has_suffix(lines[i], "  unknown  -"));
	}
	g_assert_cmpstr(lines[DEMO_DEVICES + 1], ==, "");
	g_assert_nonnull(strstr(out, STICK_ID));
	g_assert_nonnull(strstr(out, "SanDisk Cruzer Blade"));
	g_assert_nonnull(strstr(out, "1d6b:0002:p:usb1"));
}

static void
test_tree(Fixture *fixture, gconstpointer user_data)
{
	const gchar *args_tree[] = { "tree", NULL };
	const gchar *args_list_tree[] = { "list", "--tree", NULL };
	const gchar *const *cases[] = { args_tree, args_list_tree };

	if (skip_without_umockdev(fixture))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;

		g_assert_cmpint(run_cli(fixture, cases[i], &out, &err), ==, 0);
		assert_unknown_line(fixture, err);
		g_assert_true(g_str_has_prefix(out, "Controller 0000:00:14.0"));
		g_assert_nonnull(strstr(out, "Bus 001 usb1  1d6b:0002"));
		g_assert_nonnull(
		  strstr(out, "Port 1-3  Dev 001:009  0781:5567  SanDisk Cruzer Blade"));
		g_assert_nonnull(strstr(out, "Port 3-1.1"));
		/* everything is plugged in: no block of unplugged devices */
		g_assert_null(strstr(out, "Not plugged in"));
	}
}

static JsonObject *
parse_object(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void
test_list_json(Fixture *fixture, gconstpointer user_data)
{
	const gchar *args[] = { "list", "--json", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonObject) answer = NULL;
	JsonArray *devices;
	gboolean stick_seen = FALSE;

	if (skip_without_umockdev(fixture))
		return;
	g_assert_cmpint(run_cli(fixture, args, &out, &err), ==, 0);
	assert_unknown_line(fixture, err);
	answer = parse_object(out);
	g_assert_cmpint(json_object_get_int_member(answer, "generation"), >, 0);
	devices = json_object_get_array_member(answer, "devices");
	g_assert_nonnull(devices);
	g_assert_cmpuint(json_array_get_length(devices), ==, DEMO_DEVICES);
	for (guint i = 0; i < json_array_get_length(devices); i++) {
		JsonObject *device = json_array_get_object_element(devices, i);
		g_assert_cmpstr(json_object_get_string_member(device, "state"), ==, "unknown");
		g_assert_true(json_object_get_boolean_member(device, "present"));
		g_assert_true(json_object_get_null_member(device, "instance_uuid"));
		g_assert_true(json_object_get_null_member(device, "instance_name"));
		g_assert_true(json_object_get_null_member(device, "state_error"));
		g_assert_true(json_object_has_member(device, "syspath"));
		if (g_strcmp0(json_object_get_string_member(device, "id"), STICK_ID) == 0) {
			stick_seen = TRUE;
			g_assert_cmpstr(json_object_get_string_member(device, "port"), ==, "1-3");
			g_assert_cmpstr(
			  json_object_get_string_member(device, "vendor_id"), ==, "0781");
			g_assert_cmpint(json_object_get_int_member(device, "device"), ==, 9);
		}
	}
	g_assert_true(stick_seen);
}

/* the filters the inventory can answer work without the daemon, as they do with it */
static void
test_list_filter(Fixture *fixture, gconstpointer user_data)
{
	const gchar *args[] = { "list", "--json", "--present", "--vendor-id", "1D6B", NULL };
	const gchar *args_product[] = { "list", "--json", "--product-id", "5567", NULL };
	const gchar *args_bad[] = { "list", "--vendor-id", "zz", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonObject) answer = NULL;
	JsonArray *devices;

	if (skip_without_umockdev(fixture))
		return;
	g_assert_cmpint(run_cli(fixture, args, &out, &err), ==, 0);
	assert_unknown_line(fixture, err);
	answer = parse_object(out);
	devices = json_object_get_array_member(answer, "devices");
	/* the three root hubs */
	g_assert_cmpuint(json_array_get_length(devices), ==, 3);
	for (guint i = 0; i < json_array_get_length(devices); i++) {
		JsonObject *device = json_array_get_object_element(devices, i);
		g_assert_cmpstr(json_object_get_string_member(device, "vendor_id"), ==, "1d6b");
		g_assert_true(json_object_get_boolean_member(device, "is_root_hub"));
	}
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_clear_pointer(&answer, json_object_unref);

	g_assert_cmpint(run_cli(fixture, args_product, &out, &err), ==, 0);
	answer = parse_object(out);
	devices = json_object_get_array_member(answer, "devices");
	g_assert_cmpuint(json_array_get_length(devices), ==, 1);
	g_assert_cmpstr(
	  json_object_get_string_member(json_array_get_object_element(devices, 0), "id"),
	  ==,
	  STICK_ID);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	/* the daemon answers INVALID_DATA (65) for a malformed id; so does the fallback */
	g_assert_cmpint(run_cli(fixture, args_bad, &out, &err), ==, 65);
	g_assert_cmpstr(out, ==, "");
	g_assert_cmpstr(err, ==, "usbpass: vendor_id 'zz' is not 4 hex digits\n");
}

/* what only usbpassd knows, and every other command, fails as before */
typedef struct {
	const gchar *args[5];
	const gchar *message; /* what follows "usbpass: " on stderr */
} NeedsDaemonCase;

static void
test_needs_daemon(Fixture *fixture, gconstpointer user_data)
{
	const NeedsDaemonCase cases[] = {
		{ { "status", NULL }, "cannot reach usbpassd at '@SOCKET': " },
		{ { "attach", "1-3", "web01", NULL }, "cannot reach usbpassd at '@SOCKET': " },
		{ { "detach", "1-3", NULL }, "cannot reach usbpassd at '@SOCKET': " },
		{ { "show", "1-3", NULL }, "cannot reach usbpassd at '@SOCKET': " },
		{ { "instances", NULL }, "cannot reach usbpassd at '@SOCKET': " },
		{ { "list", "--state", "attached", NULL },
		  "--state needs usbpassd, which is not running: cannot reach usbpassd at "
		  "'@SOCKET': " },
		{ { "tree", "--instance", "web01", NULL },
		  "--instance needs usbpassd, which is not running: cannot reach usbpassd at "
		  "'@SOCKET': " },
		{ { "list", "--missing", NULL },
		  "--missing needs usbpassd, which is not running: cannot reach usbpassd at "
		  "'@SOCKET': " },
		/* a remote daemon is not this host: no fallback */
		{ { "--url", "http://127.0.0.1:1", "list", NULL },
		  "cannot reach usbpassd at 'http://127.0.0.1:1': " },
	};

	if (skip_without_umockdev(fixture))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;
		g_auto(GStrv) parts = g_strsplit(cases[i].message, "@SOCKET", -1);
		g_autofree gchar *message = g_strjoinv(fixture->socket_path, parts);
		g_autofree gchar *expected = g_strconcat("usbpass: ", message, NULL);

		g_test_message("case %u: %s", i, cases[i].args[0]);
		g_assert_cmpint(run_cli(fixture, cases[i].args, &out, &err), ==, 1);
		g_assert_cmpstr(out, ==, "");
		g_assert_true(g_str_has_prefix(err, expected));
		/* one line, and never the fallback's */
		g_assert_nonnull(strchr(err, '\n'));
		g_assert_cmpint(strchr(err, '\n') - err, ==, (gssize)strlen(err) - 1);
		g_assert_null(strstr(err, "assignment states are unknown"));
	}
}

int
main(int argc, char **argv)
{
	const gchar *variants[] = { "absent", "refused" };

	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(variants); i++) {
		struct {
			const gchar *name;
			void (*func)(Fixture *, gconstpointer);
		} tests[] = {
			{ "list", test_list },
			{ "tree", test_tree },
			{ "list-json", test_list_json },
			{ "list-filter", test_list_filter },
			{ "needs-daemon", test_needs_daemon },
		};
		for (guint j = 0; j < G_N_ELEMENTS(tests); j++) {
			g_autofree gchar *path =
			  g_strdup_printf("/usbpass/cli-local/%s{%s}", tests[j].name, variants[i]);
			g_test_add(path,
			           Fixture,
			           variants[i],
			           fixture_setup,
			           tests[j].func,
			           fixture_teardown);
		}
	}
	return g_test_run();
}

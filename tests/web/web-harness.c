/*
 * web-harness.c: runs a Node.js script (the Playwright suite or the web
 * benchmark) against a usbpassd this program starts under umockdev
 *
 *   umockdev-wrapper web-harness [--testbed=FILE] [--driver=test|libvirt] SCRIPT
 *
 * The harness owns the umockdev testbed (so that hotplug uevents it sends
 * reach the daemon, which inherits the preload and $UMOCKDEV_DIR), a fresh
 * temporary directory (store, sockets, config) and the daemon, started with
 * the TCP listener on a free loopback port. It makes three tokens (admin,
 * operator, reader) over the Unix socket and runs `node SCRIPT` with
 *
 *   USBPASS_WEB_URL         http://127.0.0.1:PORT
 *   USBPASS_WEB_TOKEN_ADMIN, _OPERATOR, _READER
 *   USBPASS_WEB_CONTROL     a Unix socket taking one command a connection:
 *                             "plug NAME"   hotplugs a device (uevent add):
 *                                           "hot" at 1-2, "twin" at 1-4.x
 *                             "unplug NAME" pulls it again (uevent remove)
 *                             "restart"     stops the daemon (SIGTERM) and
 *                                           starts it again on the same port
 *                             "reload FILE" the same with another testbed
 *                           and answering "ok ..." or "error ..."
 *   USBPASS_WEB_DRIVER      the daemon's driver
 *
 * and without the umockdev preload (Chromium has no business with it). The
 * script's standard output (TAP, or key=value figures) passes through; the
 * exit status is the script's, or 1 when the daemon did not stop cleanly.
 * Missing prerequisites (node, Debian's chromium, playwright-core from
 * scripts/install-deps) give "1..0 # SKIP reason".
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <umockdev.h>

#define DAEMON_START_TIMEOUT_USEC (60 * G_USEC_PER_SEC)
#define DAEMON_STOP_TIMEOUT_USEC  (60 * G_USEC_PER_SEC)
#define SCRIPT_TIMEOUT_USEC       (30 * 60 * G_USEC_PER_SEC)

typedef struct {
	gchar *tmpdir;
	gchar *socket_path;
	gchar *config_path;
	gchar *notify_path;
	gchar *control_path;
	gchar *driver;
	guint16 port;
	UMockdevTestbed *testbed;
	GSocket *notify;
	GSubprocess *daemon;
	gboolean daemon_exited;
	gint daemon_status;
	GHashTable *plugged; /* name -> syspath */
	GSubprocess *script;
	gboolean script_exited;
	gint script_status;
	gboolean daemon_unclean;
} WebHarness;

static gboolean
web_harness_wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static gboolean
web_harness_wait_for(const gboolean *flag, gint64 timeout_usec)
{
	gint64 deadline = g_get_monotonic_time() + timeout_usec;
	guint wake_id = g_timeout_add(50, web_harness_wake_cb, NULL);
	while (!*flag && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(wake_id);
	return *flag;
}

static guint16
web_harness_free_port(void)
{
	g_autoptr(GSocket) socket =
	  g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	if (socket == NULL || !g_socket_bind(socket, address, TRUE, NULL))
		return 0;
	bound = g_socket_get_local_address(socket, NULL);
	return bound != NULL ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)) : 0;
}

static void
web_harness_daemon_exited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	WebHarness *self = user_data;
	if (!g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL) ||
	    G_SUBPROCESS(source) != self->daemon)
		return;
	self->daemon_status = g_subprocess_get_status(G_SUBPROCESS(source));
	self->daemon_exited = TRUE;
}

static void
web_harness_child_setup(gpointer user_data)
{
	/* a killed harness must not leave its daemon or browser behind */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
web_harness_write_config(WebHarness *self, GError **error)
{
	const gchar *uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	g_autofree gchar *store = g_build_filename(self->tmpdir, "state", "usbpass.db", NULL);
	g_autofree gchar *text =
	  g_strdup_printf("[daemon]\nenabled=true\nhost=testhost\nstore=%s\nsocket=%s\n"
	                  "socket-mode=0600\nlisten=127.0.0.1:%u\ndriver=%s\nlog-level=%s\n"
	                  "[libvirt]\nuri=%s\n",
	                  store,
	                  self->socket_path,
	                  (guint)self->port,
	                  self->driver,
	                  g_getenv("USBPASS_TEST_VERBOSE") != NULL ? "debug" : "message",
	                  uri != NULL ? uri : "qemu:///system");
	return g_file_set_contents(self->config_path, text, -1, error);
}

static gboolean
web_harness_daemon_start(WebHarness *self, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher =
	  g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autofree gchar *config_arg = g_strdup_printf("--config=%s", self->config_path);
	gint64 deadline = g_get_monotonic_time() + DAEMON_START_TIMEOUT_USEC;
	gboolean ready = FALSE;

	g_subprocess_launcher_set_child_setup(launcher, web_harness_child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "NOTIFY_SOCKET", self->notify_path, TRUE);
	g_clear_object(&self->daemon);
	self->daemon_exited = FALSE;
	self->daemon =
	  g_subprocess_launcher_spawn(launcher, error, USBPASSD_PATH, config_arg, NULL);
	if (self->daemon == NULL)
		return FALSE;
	g_subprocess_wait_async(self->daemon, NULL, web_harness_daemon_exited_cb, self);

	/* READY=1 arrives once the API listens */
	while (!ready && !self->daemon_exited && g_get_monotonic_time() < deadline) {
		gchar buf[512];
		gssize len;
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (!g_socket_condition_timed_wait(self->notify, G_IO_IN, 50 * 1000, NULL, NULL))
			continue;
		len = g_socket_receive(self->notify, buf, sizeof(buf) - 1, NULL, NULL);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strstr(buf, "READY=1") != NULL)
			ready = TRUE;
	}
	if (!ready) {
		g_set_error(error,
		            G_IO_ERROR,
		            G_IO_ERROR_FAILED,
		            "usbpassd did not become ready (%s)",
		            self->daemon_exited ? "it exited" : "timed out");
		return FALSE;
	}
	return TRUE;
}

static void
web_harness_daemon_stop(WebHarness *self)
{
	if (self->daemon == NULL || self->daemon_exited)
		return;
	g_subprocess_send_signal(self->daemon, SIGTERM);
	if (!web_harness_wait_for(&self->daemon_exited, DAEMON_STOP_TIMEOUT_USEC)) {
		g_printerr("web-harness: usbpassd did not stop on SIGTERM; killing it\n");
		g_subprocess_force_exit(self->daemon);
		web_harness_wait_for(&self->daemon_exited, DAEMON_STOP_TIMEOUT_USEC);
		self->daemon_unclean = TRUE;
		return;
	}
	if (!WIFEXITED(self->daemon_status) || WEXITSTATUS(self->daemon_status) != 0) {
		g_printerr("web-harness: usbpassd exited with wait status %d\n",
		           self->daemon_status);
		self->daemon_unclean = TRUE;
	}
}

/* POST /v1/tokens over the Unix socket (root is admin there) */
static gchar *
web_harness_create_token(WebHarness *self, const gchar *name, const gchar *role, GError **error)
{
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(self->socket_path);
	g_autoptr(SoupSession) session =
	  soup_session_new_with_options("remote-connectable", address, "timeout", 30, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("POST", "http://localhost/v1/tokens");
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GBytes) request = NULL;
	g_autoptr(GBytes) answer = NULL;
	g_autofree gchar *body = NULL;
	JsonObject *object;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, name);
	json_builder_set_member_name(builder, "role");
	json_builder_add_string_value(builder, role);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	body = json_to_string(root, FALSE);
	request = g_bytes_new(body, strlen(body));
	soup_message_set_request_body_from_bytes(msg, "application/json", request);
	answer = soup_session_send_and_read(session, msg, NULL, error);
	if (answer == NULL)
		return NULL;
	if (soup_message_get_status(msg) != SOUP_STATUS_CREATED) {
		g_set_error(error,
		            G_IO_ERROR,
		            G_IO_ERROR_FAILED,
		            "POST /v1/tokens answered %u: %.*s",
		            soup_message_get_status(msg),
		            (gint)g_bytes_get_size(answer),
		            (const gchar *)g_bytes_get_data(answer, NULL));
		return NULL;
	}
	if (!json_parser_load_from_data(
	      parser, g_bytes_get_data(answer, NULL), (gssize)g_bytes_get_size(answer), error))
		return NULL;
	object = json_node_get_object(json_parser_get_root(parser));
	return g_strdup(json_object_get_string_member(object, "token"));
}

/* the devices the control socket can plug: free ports of demo.umockdev */
static gchar *
web_harness_plug(WebHarness *self, const gchar *name, GError **error)
{
	gchar *syspath = NULL;

	if (g_hash_table_contains(self->plugged, name)) {
		g_set_error(
		  error, G_IO_ERROR, G_IO_ERROR_EXISTS, "'%s' is plugged in already", name);
		return NULL;
	}
	/* clang-format off */
	if (g_strcmp0(name, "hot") == 0) {
		syspath = umockdev_testbed_add_device(self->testbed, "usb", "1-2",
			"/sys/devices/pci0000:00/0000:00:14.0/usb1",
			"idVendor", "1234\n", "idProduct", "beef\n", "bcdDevice", "0100\n",
			"busnum", "1\n", "devnum", "20\n", "devpath", "2\n", "speed", "480\n",
			"bDeviceClass", "00\n", "bDeviceSubClass", "00\n", "bDeviceProtocol", "00\n",
			"bNumInterfaces", " 0\n", "maxchild", "0\n",
			"manufacturer", "Hotplug\n", "product", "Live Stick\n", "serial", "HOT-1\n",
			NULL,
			"DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", "020",
			"PRODUCT", "1234/beef/100",
			NULL);
	} else if (g_strcmp0(name, "hostile") == 0) {
		/* markup, script and quotes in every string a device controls */
		syspath = umockdev_testbed_add_device(self->testbed, "usb", "1-2",
			"/sys/devices/pci0000:00/0000:00:14.0/usb1",
			"idVendor", "1234\n", "idProduct", "abcd\n", "bcdDevice", "0100\n",
			"busnum", "1\n", "devnum", "21\n", "devpath", "2\n", "speed", "480\n",
			"bDeviceClass", "00\n", "bDeviceSubClass", "00\n", "bDeviceProtocol", "00\n",
			"bNumInterfaces", " 0\n", "maxchild", "0\n",
			"manufacturer", "Evil \"Corp\" <b>&amp;</b>\n",
			"product", "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>\n",
			"serial", "\"><svg onload=window.__pwned=3>\n",
			NULL,
			"DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", "021",
			"PRODUCT", "1234/abcd/100",
			NULL);
	} else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "no device named '%s': hot or hostile", name);
		return NULL;
	}
	/* clang-format on */
	if (syspath == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "umockdev cannot add '%s'", name);
		return NULL;
	}
	g_hash_table_insert(self->plugged, g_strdup(name), g_strdup(syspath));
	return syspath;
}

static gboolean
web_harness_unplug(WebHarness *self, const gchar *name, GError **error)
{
	const gchar *syspath = g_hash_table_lookup(self->plugged, name);
	if (syspath == NULL) {
		g_set_error(
		  error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "'%s' is not plugged in", name);
		return FALSE;
	}
	umockdev_testbed_uevent(self->testbed, syspath, "remove");
	umockdev_testbed_remove_device(self->testbed, syspath);
	g_hash_table_remove(self->plugged, name);
	return TRUE;
}

static gboolean
web_harness_reload(WebHarness *self, const gchar *file, GError **error)
{
	g_autofree gchar *path = NULL;
	const gchar *data_dir = g_getenv("USBPASS_TEST_DATA");

	if (file == NULL || strchr(file, '/') != NULL || !g_str_has_suffix(file, ".umockdev")) {
		g_set_error(error,
		            G_IO_ERROR,
		            G_IO_ERROR_INVALID_ARGUMENT,
		            "reload takes a file name of tests/data/*.umockdev");
		return FALSE;
	}
	path = g_build_filename(data_dir != NULL ? data_dir : "tests/data", file, NULL);
	web_harness_daemon_stop(self);
	umockdev_testbed_clear(self->testbed);
	g_hash_table_remove_all(self->plugged);
	if (!umockdev_testbed_add_from_file(self->testbed, path, error))
		return FALSE;
	return web_harness_daemon_start(self, error);
}

static gchar *
web_harness_command(WebHarness *self, const gchar *line)
{
	g_auto(GStrv) words = g_strsplit(line, " ", 2);
	g_autoptr(GError) error_local = NULL;
	gboolean ok = FALSE;

	if (g_strcmp0(words[0], "plug") == 0 && words[1] != NULL) {
		g_autofree gchar *syspath = web_harness_plug(self, words[1], &error_local);
		ok = syspath != NULL;
	} else if (g_strcmp0(words[0], "unplug") == 0 && words[1] != NULL) {
		ok = web_harness_unplug(self, words[1], &error_local);
	} else if (g_strcmp0(words[0], "restart") == 0) {
		web_harness_daemon_stop(self);
		ok = web_harness_daemon_start(self, &error_local);
	} else if (g_strcmp0(words[0], "reload") == 0) {
		ok = web_harness_reload(self, words[1], &error_local);
	} else {
		g_set_error(
		  &error_local, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown command");
	}
	if (!ok)
		return g_strdup_printf("error %s: %s\n", line, error_local->message);
	return g_strdup_printf("ok %s\n", line);
}

static gboolean
web_harness_incoming_cb(GSocketService *service,
                        GSocketConnection *connection,
                        GObject *source_object,
                        gpointer user_data)
{
	WebHarness *self = user_data;
	g_autoptr(GDataInputStream) input =
	  g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
	g_autofree gchar *line = NULL;
	g_autofree gchar *reply = NULL;

	/* the script writes its one line at once: a blocking read is short */
	line = g_data_input_stream_read_line_utf8(input, NULL, NULL, NULL);
	if (line == NULL)
		return TRUE;
	g_strstrip(line);
	reply = web_harness_command(self, line);
	g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)),
	                          reply,
	                          strlen(reply),
	                          NULL,
	                          NULL,
	                          NULL);
	g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
	return TRUE;
}

static void
web_harness_script_exited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	WebHarness *self = user_data;
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	self->script_status = g_subprocess_get_status(G_SUBPROCESS(source));
	self->script_exited = TRUE;
}

static void
web_harness_remove_tree(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	if (dir == NULL) {
		g_remove(path);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			web_harness_remove_tree(child);
		else
			g_remove(child);
	}
	g_rmdir(path);
}

static void
web_harness_free(WebHarness *self)
{
	if (self->tmpdir != NULL)
		web_harness_remove_tree(self->tmpdir);
	g_free(self->tmpdir);
	g_free(self->socket_path);
	g_free(self->config_path);
	g_free(self->notify_path);
	g_free(self->control_path);
	g_free(self->driver);
	g_clear_object(&self->daemon);
	g_clear_object(&self->script);
	g_clear_object(&self->notify);
	g_clear_object(&self->testbed);
	g_clear_pointer(&self->plugged, g_hash_table_unref);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WebHarness, web_harness_free)

static gint
web_harness_skip(const gchar *reason)
{
	g_print("1..0 # SKIP %s\n", reason);
	return 0;
}

/* the first executable of @names found in $PATH */
static gchar *
web_harness_find_program(const gchar *const *names)
{
	for (guint i = 0; names[i] != NULL; i++) {
		gchar *path = g_find_program_in_path(names[i]);
		if (path != NULL)
			return path;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autoptr(WebHarness) self = g_new0(WebHarness, 1);
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GOptionContext) context = g_option_context_new("SCRIPT - run SCRIPT with node");
	g_autoptr(GSocketAddress) notify_address = NULL;
	g_autoptr(GSocketAddress) control_address = NULL;
	g_autoptr(GSocketService) service = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autofree gchar *testbed_file = NULL;
	g_autofree gchar *driver = NULL;
	g_autofree gchar *node = NULL;
	g_autofree gchar *chromium = NULL;
	g_autofree gchar *playwright = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *token_admin = NULL;
	g_autofree gchar *token_operator = NULL;
	g_autofree gchar *token_reader = NULL;
	const gchar *node_names[] = { "node", "nodejs", NULL };
	const gchar *chromium_names[] = { "chromium", NULL };
	const gchar *modules = g_getenv("USBPASS_WEB_NODE_MODULES");
	const GOptionEntry entries[] = {
		{ "testbed",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &testbed_file,
		  "umockdev record of the host (default: tests/data/demo.umockdev)",
		  "FILE" },
		{ "driver",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &driver,
		  "test (default) or libvirt",
		  "NAME" },
		{ NULL }
	};
	gint status;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error_local) || argc != 2) {
		g_printerr("web-harness: %s\n",
		           error_local != NULL ? error_local->message : "give one SCRIPT");
		return 2;
	}
	self->driver = g_strdup(driver != NULL ? driver : "test");
	if (g_strcmp0(self->driver, "test") != 0 && g_strcmp0(self->driver, "libvirt") != 0) {
		g_printerr("web-harness: --driver must be test or libvirt, not '%s'\n",
		           self->driver);
		return 2;
	}

	/* prerequisites: anything missing is a skip with its reason */
	if (g_strstr_len(g_getenv("LD_PRELOAD"), -1, "libumockdev-preload") == NULL)
		return web_harness_skip("needs the umockdev preload: run under umockdev-wrapper");
	if (g_strcmp0(self->driver, "libvirt") == 0 && g_getenv("USBPASS_TEST_LIBVIRT_URI") == NULL)
		return web_harness_skip("USBPASS_TEST_LIBVIRT_URI is not set: run under "
		                        "scripts/with-libvirtd");
	node = web_harness_find_program(node_names);
	if (node == NULL)
		return web_harness_skip("node is not installed: run scripts/install-deps");
	chromium = g_strdup(g_getenv("USBPASS_WEB_CHROMIUM"));
	if (chromium == NULL)
		chromium = web_harness_find_program(chromium_names);
	if (chromium == NULL || !g_file_test(chromium, G_FILE_TEST_IS_EXECUTABLE))
		return web_harness_skip(
		  "Debian's chromium is not installed: run scripts/install-deps");
	if (modules == NULL)
		return web_harness_skip("USBPASS_WEB_NODE_MODULES is not set");
	playwright = g_build_filename(modules, "playwright-core", "package.json", NULL);
	if (!g_file_test(playwright, G_FILE_TEST_EXISTS))
		return web_harness_skip("playwright-core is not in tests/web/node_modules: run "
		                        "scripts/install-deps");

	self->plugged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->tmpdir = g_dir_make_tmp("usbpass-web-XXXXXX", &error_local);
	if (self->tmpdir == NULL) {
		g_printerr("web-harness: %s\n", error_local->message);
		return 1;
	}
	self->socket_path = g_build_filename(self->tmpdir, "usbpassd.sock", NULL);
	self->config_path = g_build_filename(self->tmpdir, "usbpassd.conf", NULL);
	self->notify_path = g_build_filename(self->tmpdir, "notify", NULL);
	self->control_path = g_build_filename(self->tmpdir, "control", NULL);
	self->port = web_harness_free_port();

	self->testbed = umockdev_testbed_new();
	if (testbed_file == NULL) {
		const gchar *data_dir = g_getenv("USBPASS_TEST_DATA");
		testbed_file = g_build_filename(
		  data_dir != NULL ? data_dir : "tests/data", "demo.umockdev", NULL);
	}
	if (!umockdev_testbed_add_from_file(self->testbed, testbed_file, &error_local)) {
		g_printerr(
		  "web-harness: cannot load '%s': %s\n", testbed_file, error_local->message);
		return 1;
	}

	self->notify = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, &error_local);
	notify_address = g_unix_socket_address_new(self->notify_path);
	if (self->notify == NULL ||
	    !g_socket_bind(self->notify, notify_address, FALSE, &error_local) ||
	    !web_harness_write_config(self, &error_local) ||
	    !web_harness_daemon_start(self, &error_local)) {
		g_printerr("web-harness: %s\n", error_local->message);
		return 1;
	}
	token_admin = web_harness_create_token(self, "web-admin", "admin", &error_local);
	if (token_admin != NULL)
		token_operator =
		  web_harness_create_token(self, "web-operator", "operator", &error_local);
	if (token_operator != NULL)
		token_reader = web_harness_create_token(self, "web-reader", "reader", &error_local);
	if (token_reader == NULL) {
		g_printerr("web-harness: %s\n", error_local->message);
		web_harness_daemon_stop(self);
		return 1;
	}

	service = g_socket_service_new();
	control_address = g_unix_socket_address_new(self->control_path);
	if (!g_socket_listener_add_address(G_SOCKET_LISTENER(service),
	                                   control_address,
	                                   G_SOCKET_TYPE_STREAM,
	                                   G_SOCKET_PROTOCOL_DEFAULT,
	                                   NULL,
	                                   NULL,
	                                   &error_local)) {
		g_printerr("web-harness: %s\n", error_local->message);
		web_harness_daemon_stop(self);
		return 1;
	}
	g_signal_connect(service, "incoming", G_CALLBACK(web_harness_incoming_cb), self);
	g_socket_service_start(service);

	url = g_strdup_printf("http://127.0.0.1:%u", (guint)self->port);
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_subprocess_launcher_set_child_setup(launcher, web_harness_child_setup, NULL, NULL);
	/* Chromium and node have no business with the umockdev preload */
	g_subprocess_launcher_unsetenv(launcher, "LD_PRELOAD");
	g_subprocess_launcher_unsetenv(launcher, "UMOCKDEV_DIR");
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_URL", url, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_TOKEN_ADMIN", token_admin, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_TOKEN_OPERATOR", token_operator, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_TOKEN_READER", token_reader, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_CONTROL", self->control_path, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_DRIVER", self->driver, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_CHROMIUM", chromium, TRUE);
	g_subprocess_launcher_setenv(launcher, "USBPASS_WEB_TMPDIR", self->tmpdir, TRUE);
	self->script = g_subprocess_launcher_spawn(launcher, &error_local, node, argv[1], NULL);
	if (self->script == NULL) {
		g_printerr("web-harness: cannot run %s: %s\n", node, error_local->message);
		web_harness_daemon_stop(self);
		return 1;
	}
	g_subprocess_wait_async(self->script, NULL, web_harness_script_exited_cb, self);
	if (!web_harness_wait_for(&self->script_exited, SCRIPT_TIMEOUT_USEC)) {
		g_printerr("web-harness: %s did not finish in time; stopping it\n", argv[1]);
		g_subprocess_force_exit(self->script);
		web_harness_wait_for(&self->script_exited, DAEMON_STOP_TIMEOUT_USEC);
	}
	g_socket_service_stop(service);
	g_socket_listener_close(G_SOCKET_LISTENER(service));
	web_harness_daemon_stop(self);

	status = WIFEXITED(self->script_status) ? WEXITSTATUS(self->script_status) : 1;
	if (status == 0 && self->daemon_unclean)
		status = 1;
	return status;
}

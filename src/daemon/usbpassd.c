/*
 * usbpassd.c: the usbpass host daemon
 *
 * Reads the configuration (data/usbpassd.conf documents every key), overlays
 * the command line, and wires the modules together on one GLib main loop: the
 * inventory (enumeration + uevent monitor), the store, the hypervisor driver
 * (which keeps retrying in the background when libvirtd is not there yet), the
 * policy, the engine and the REST API. SIGTERM and SIGINT shut down cleanly
 * (in-flight attaches are waited for), SIGHUP reloads the policy file. Logs go
 * to stderr, or to journald when stderr is the journal, filtered by level.
 *
 * --driver=test runs the in-memory test driver with three demo instances
 * (demo-off, demo-on, demo-transient) for demonstrations and the API tests;
 * USBPASSD_TEST_DRIVER_DELAY_MS=N makes its attach and detach take N ms,
 * USBPASSD_TEST_DRIVER_ABSENT=BUS:DEVICE,... makes live attaches of those
 * devices fail as libvirt's do on a host without them. --test-state=FILE
 * (test-state=) keeps its instances in FILE across restarts, created with the
 * demo instances when absent; USBPASSD_TEST_DRIVER_KILL_AT_STEP=N makes the
 * daemon SIGKILL itself at the Nth step of the driver's attaches and detaches
 * (each has two: before the change, and after it was written), so that the
 * kill tests (bench/kill) stop it in the middle of a transition.
 *
 * This file holds the only global state of usbpass: the log threshold.
 */
#define G_LOG_DOMAIN "Usbpassd"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>

#include "api/usbpass-api-server.h"
#include "api/usbpass-auth.h"
#include "drivers/libvirt/usbpass-libvirt-driver.h"
#include "drivers/test/usbpass-test-driver.h"
#include "engine/usbpass-engine.h"
#include "engine/usbpass-policy.h"
#include "inventory/usbpass-inventory.h"
#include "store/usbpass-store-open.h"
#include "usbpass-config.h"
#include "usbpass-error.h"
#include "usbpass-string.h"

/* how long shutdown waits for the attaches, detaches and re-attaches the engine
 * is running */
#define USBPASSD_SHUTDOWN_TIMEOUT_USEC (15 * G_USEC_PER_SEC)

/* the least severe level that is logged; read by the log writer */
static GLogLevelFlags usbpassd_log_threshold = G_LOG_LEVEL_INFO;

typedef struct {
	UsbpassConfig *config;
	GMainLoop *loop;
	UsbpassInventory *inventory;
	UsbpassStore *store;
	UsbpassDriver *driver;
	UsbpassPolicy *policy;
	UsbpassEngine *engine;
	UsbpassAuth *auth;
	UsbpassApiServer *server;
	guint sigterm_id;
	guint sigint_id;
	guint sighup_id;
} UsbpassDaemon;

static void
usbpass_daemon_free(UsbpassDaemon *self)
{
	if (self == NULL)
		return;
	g_clear_handle_id(&self->sigterm_id, g_source_remove);
	g_clear_handle_id(&self->sigint_id, g_source_remove);
	g_clear_handle_id(&self->sighup_id, g_source_remove);
	/* the server first: it listens to the engine and the inventory */
	g_clear_object(&self->server);
	g_clear_object(&self->auth);
	g_clear_object(&self->engine);
	g_clear_object(&self->policy);
	g_clear_object(&self->driver);
	g_clear_object(&self->store);
	g_clear_object(&self->inventory);
	g_clear_pointer(&self->loop, g_main_loop_unref);
	usbpass_config_free(self->config);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassDaemon, usbpass_daemon_free)

static GLogWriterOutput
usbpassd_log_writer(GLogLevelFlags log_level,
                    const GLogField *fields,
                    gsize n_fields,
                    gpointer user_data)
{
	GLogLevelFlags level = log_level & G_LOG_LEVEL_MASK;

	/* GLib's levels grow less severe with their bit value */
	if (level > usbpassd_log_threshold && (log_level & G_LOG_FLAG_FATAL) == 0)
		return G_LOG_WRITER_HANDLED;
	if (g_log_writer_is_journald(fileno(stderr)) &&
	    g_log_writer_journald(log_level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(log_level, fields, n_fields, user_data);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET */
static void
usbpassd_notify(const gchar *state)
{
	const gchar *path = g_getenv("NOTIFY_SOCKET");
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GError) error_local = NULL;

	if (path == NULL || path[0] == '\0')
		return;
	if (path[0] == '@')
		address =
		  g_unix_socket_address_new_with_type(path + 1, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
	else if (path[0] == '/')
		address = g_unix_socket_address_new(path);
	else
		return;
	socket = g_socket_new(
	  G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error_local);
	if (socket == NULL ||
	    g_socket_send_to(socket, address, state, strlen(state), NULL, &error_local) < 0)
		g_debug("cannot notify the service manager, ignoring: %s", error_local->message);
}

static void
usbpassd_set_str(gchar **target, const gchar *value)
{
	g_free(*target);
	*target = g_strdup(value);
}

static gboolean
usbpassd_quit_cb(gpointer user_data)
{
	UsbpassDaemon *self = user_data;
	g_message("shutting down");
	g_main_loop_quit(self->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
usbpassd_load_policy(UsbpassDaemon *self, GError **error)
{
	g_autoptr(UsbpassPolicy) policy = NULL;

	if (self->config->policy_file != NULL)
		policy = usbpass_policy_new_from_file(self->config->policy_file, error);
	else
		policy = usbpass_policy_new();
	if (policy == NULL)
		return FALSE;
	g_set_object(&self->policy, policy);
	if (self->engine != NULL)
		usbpass_engine_set_policy(self->engine, policy);
	return TRUE;
}

static gboolean
usbpassd_reload_cb(gpointer user_data)
{
	UsbpassDaemon *self = user_data;
	g_autoptr(GError) error_local = NULL;

	/* a broken file keeps the rules in force: never fall back to allowing */
	if (!usbpassd_load_policy(self, &error_local)) {
		g_warning("cannot reload the policy, keeping the current rules: %s",
		          error_local->message);
		return G_SOURCE_CONTINUE;
	}
	g_message("policy reloaded from %s",
	          self->config->policy_file != NULL ? self->config->policy_file
	                                            : "the built-in rules");
	return G_SOURCE_CONTINUE;
}

typedef struct {
	guint delay_ms; /* before each change */
	guint kill_at_step; /* 0: never */
	guint steps;	    /* hook calls so far; the hook runs in worker threads */
} UsbpassdTestHook;

/* the test driver's hook: a slow hypervisor, so that the API tests can kill
 * the daemon while an attach is in flight (USBPASSD_TEST_DRIVER_DELAY_MS), and
 * a crash at a chosen step (USBPASSD_TEST_DRIVER_KILL_AT_STEP) */
static gboolean
usbpassd_test_driver_hook_cb(UsbpassTestDriver *driver,
                             const gchar *method,
                             const gchar *uuid,
                             const UsbpassHostdev *hostdev,
                             gboolean applied,
                             gpointer user_data)
{
	UsbpassdTestHook *hook = user_data;
	guint step = (guint)g_atomic_int_add((gint *)&hook->steps, 1) + 1;

	if (hook->kill_at_step != 0 && step == hook->kill_at_step) {
		/* no log, no cleanup: what a crash or an OOM kill leaves */
		raise(SIGKILL);
	}
	if (!applied && hook->delay_ms > 0)
		g_usleep((gulong)hook->delay_ms * 1000);
	return TRUE;
}

/* the in-memory driver with fixed demo instances: the same UUIDs on every
 * start, so that a restarted daemon finds its assignments' instances again */
static UsbpassDriver *
usbpassd_new_test_driver(const gchar *state_path, GError **error)
{
	static const struct {
		const gchar *uuid;
		const gchar *name;
		UsbpassInstanceState state;
		gboolean persistent;
	} demo[] = {
		{ "5ca1ab1e-0000-4000-8000-000000000001",
		  "demo-off",
		  USBPASS_INSTANCE_STATE_SHUTOFF,
		  TRUE },
		{ "5ca1ab1e-0000-4000-8000-000000000002",
		  "demo-on",
		  USBPASS_INSTANCE_STATE_RUNNING,
		  TRUE },
		{ "5ca1ab1e-0000-4000-8000-000000000003",
		  "demo-transient",
		  USBPASS_INSTANCE_STATE_RUNNING,
		  FALSE },
	};
	g_autoptr(UsbpassTestDriver) driver = usbpass_test_driver_new();
	const gchar *delay = g_getenv("USBPASSD_TEST_DRIVER_DELAY_MS");
	const gchar *absent = g_getenv("USBPASSD_TEST_DRIVER_ABSENT");
	const gchar *kill_at_step = g_getenv("USBPASSD_TEST_DRIVER_KILL_AT_STEP");
	g_autofree UsbpassdTestHook *hook = g_new0(UsbpassdTestHook, 1);

	/* a state file that exists holds the instances; a new one gets the demo */
	if (state_path != NULL && g_file_test(state_path, G_FILE_TEST_EXISTS)) {
		if (!usbpass_test_driver_set_state_file(driver, state_path, error))
			return NULL;
	} else {
		for (guint i = 0; i < G_N_ELEMENTS(demo); i++) {
			g_autoptr(UsbpassInstance) instance =
			  usbpass_test_driver_add_instance(driver,
			                                   demo[i].uuid,
			                                   demo[i].name,
			                                   demo[i].state,
			                                   demo[i].persistent,
			                                   error);
			if (instance == NULL)
				return NULL;
		}
		if (state_path != NULL &&
		    !usbpass_test_driver_set_state_file(driver, state_path, error))
			return NULL;
	}
	/* devices the "hypervisor" cannot find on the host, as libvirt on a
	 * machine without USB: a live attach of them fails with its message */
	if (absent != NULL) {
		g_auto(GStrv) addresses = g_strsplit(absent, ",", -1);
		for (guint i = 0; addresses[i] != NULL; i++) {
			g_auto(GStrv) parts = g_strsplit(addresses[i], ":", -1);
			guint64 bus = 0;
			guint64 device = 0;
			if (g_strv_length(parts) != 2 ||
			    !usbpass_string_parse_uint(parts[0], 10, 1, 255, &bus, error) ||
			    !usbpass_string_parse_uint(parts[1], 10, 1, 127, &device, error)) {
				if (error != NULL && *error == NULL) {
					g_set_error(error,
					            USBPASS_ERROR,
					            USBPASS_ERROR_INVALID_DATA,
					            "'%s' is not BUS:DEVICE",
					            addresses[i]);
				}
				g_prefix_error(error, "USBPASSD_TEST_DRIVER_ABSENT: ");
				return NULL;
			}
			usbpass_test_driver_set_device_present(
			  driver, (guint)bus, (guint)device, FALSE);
		}
	}
	if (delay != NULL) {
		guint64 delay_ms = 0;
		if (!usbpass_string_parse_uint(delay, 10, 0, 60000, &delay_ms, error)) {
			g_prefix_error(error, "USBPASSD_TEST_DRIVER_DELAY_MS: ");
			return NULL;
		}
		hook->delay_ms = (guint)delay_ms;
	}
	if (kill_at_step != NULL) {
		guint64 step = 0;
		if (!usbpass_string_parse_uint(kill_at_step, 10, 1, G_MAXINT, &step, error)) {
			g_prefix_error(error, "USBPASSD_TEST_DRIVER_KILL_AT_STEP: ");
			return NULL;
		}
		hook->kill_at_step = (guint)step;
	}
	if (hook->delay_ms > 0 || hook->kill_at_step > 0)
		usbpass_test_driver_set_hook(
		  driver, usbpassd_test_driver_hook_cb, g_steal_pointer(&hook), g_free);
	return USBPASS_DRIVER(g_steal_pointer(&driver));
}

static UsbpassDriver *
usbpassd_new_driver(UsbpassDaemon *self, GError **error)
{
	if (g_strcmp0(self->config->driver, "test") == 0)
		return usbpassd_new_test_driver(self->config->test_state, error);
	return USBPASS_DRIVER(usbpass_libvirt_driver_new(self->config->libvirt_uri));
}

static gboolean
usbpassd_listen(UsbpassDaemon *self, GError **error)
{
	const UsbpassConfig *config = self->config;
	const gchar *group = config->socket_group;

	if (!usbpass_auth_set_admin_group(self->auth, group, NULL)) {
		g_warning("group '%s' does not exist: only root may use %s, ignoring",
		          group,
		          config->socket);
		group = NULL;
	}
	if (!usbpass_api_server_listen_unix(
	      self->server, config->socket, config->socket_mode, group, error))
		return FALSE;
	if (config->listen != NULL) {
		g_autoptr(GTlsCertificate) certificate = NULL;
		if (config->tls_certificate != NULL) {
			g_autoptr(GError) error_local = NULL;
			certificate = g_tls_certificate_new_from_files(
			  config->tls_certificate, config->tls_key, &error_local);
			if (certificate == NULL) {
				g_set_error(error,
				            USBPASS_ERROR,
				            USBPASS_ERROR_INVALID_DATA,
				            "cannot load the TLS certificate '%s' and key '%s': %s",
				            config->tls_certificate,
				            config->tls_key,
				            error_local->message);
				return FALSE;
			}
		} else {
			g_message("the TCP listener %s has no TLS: bearer tokens cross the network "
			          "in clear text",
			          config->listen);
		}
		if (!usbpass_api_server_listen_spec(
		      self->server, config->listen, certificate, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
usbpassd_start(UsbpassDaemon *self, GError **error)
{
	const UsbpassConfig *config = self->config;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *hint = NULL;
	g_autofree gchar *store_shown = usbpass_store_location_to_display(config->store);
	g_auto(GStrv) urls = NULL;

	/* an SQLite path or a PostgreSQL URI; the URI's password is never logged */
	self->store = usbpass_store_open(config->store, error);
	if (self->store == NULL)
		return FALSE;

	self->inventory = usbpass_inventory_new();
	if (!usbpass_inventory_enumerate(self->inventory, &error_local)) {
		g_warning("cannot enumerate the USB devices, starting empty: %s",
		          error_local->message);
		g_clear_error(&error_local);
	}
	if (!usbpass_inventory_start_monitor(self->inventory, &error_local)) {
		g_warning("cannot watch USB hotplug, the inventory will not follow changes: %s",
		          error_local->message);
		g_clear_error(&error_local);
	}

	self->driver = usbpassd_new_driver(self, error);
	if (self->driver == NULL)
		return FALSE;
	if (!usbpass_driver_open(self->driver, &error_local)) {
		/* libvirtd may start after us: the driver keeps reconnecting, and
		 * the engine reconciles once it is there */
		g_warning(
		  "hypervisor driver '%s' is not connected yet, retrying in the background: %s",
		  usbpass_driver_get_name(self->driver),
		  error_local->message);
		g_clear_error(&error_local);
	}

	if (!usbpassd_load_policy(self, error))
		return FALSE;
	self->engine = usbpass_engine_new(config->host, self->inventory, self->store, self->driver);
	usbpass_engine_set_enabled(self->engine, config->enabled);
	usbpass_engine_set_policy(self->engine, self->policy);
	if (!usbpass_engine_start(self->engine, error))
		return FALSE;

	self->auth = usbpass_auth_new(self->store);
	self->server = usbpass_api_server_new(self->engine, self->auth);
	hint = usbpass_config_get_enable_hint(config);
	usbpass_api_server_set_disabled_hint(self->server, hint);
	usbpass_api_server_set_connection_limits(self->server,
	                                         config->max_connections,
	                                         config->request_timeout_seconds * 1000,
	                                         config->idle_timeout_seconds * 1000);
	if (!usbpassd_listen(self, error))
		return FALSE;

	urls = usbpass_api_server_get_urls(self->server);
	for (guint i = 0; urls[i] != NULL; i++)
		g_info("listening on %s", urls[i]);
	g_message("usbpassd %s on host '%s': store %s, driver %s, socket %s%s%s",
	          PACKAGE_VERSION,
	          config->host,
	          store_shown,
	          usbpass_driver_get_name(self->driver),
	          config->socket,
	          config->listen != NULL ? ", TCP " : "",
	          config->listen != NULL ? config->listen : "");
	if (!config->enabled)
		g_message("USB passthrough is disabled (the inventory is read-only): %s", hint);
	return TRUE;
}

/* wakes the main loop of usbpassd_stop() so that its deadline is seen */
static gboolean
usbpassd_stop_tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static guint
usbpassd_api_pending(UsbpassDaemon *self)
{
	return self->server != NULL ? usbpass_api_server_get_pending(self->server) : 0;
}

static guint
usbpassd_engine_jobs(UsbpassDaemon *self)
{
	return self->engine != NULL ? usbpass_engine_get_jobs_in_flight(self->engine) : 0;
}

static void
usbpassd_stop(UsbpassDaemon *self)
{
	gint64 deadline = g_get_monotonic_time() + USBPASSD_SHUTDOWN_TIMEOUT_USEC;
	guint tick_id;

	usbpassd_notify("STOPPING=1");
	if (self->server != NULL)
		usbpass_api_server_shutdown(self->server);
	/* an attach in the engine's worker finishes, is recorded and answered;
	 * leaving now would leave the row in "attaching" for the next reconcile.
	 * The engine's own jobs (a re-attach after re-plug) count as well */
	tick_id = g_timeout_add(100, usbpassd_stop_tick_cb, NULL);
	while ((usbpassd_api_pending(self) > 0 || usbpassd_engine_jobs(self) > 0) &&
	       g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(tick_id);
	if (usbpassd_api_pending(self) > 0) {
		g_warning("%u attach or detach requests did not finish in time; the next start "
		          "reconciles them",
		          usbpassd_api_pending(self));
	}
	if (usbpassd_engine_jobs(self) > 0) {
		g_warning("abandoning %u hypervisor jobs (attach, detach or re-attach) still "
		          "running after %u s; the next start reconciles their devices",
		          usbpassd_engine_jobs(self),
		          (guint)(USBPASSD_SHUTDOWN_TIMEOUT_USEC / G_USEC_PER_SEC));
	}
	if (self->server == NULL)
		return;
	/* let the last answers reach their sockets */
	while (g_main_context_iteration(NULL, FALSE) && g_get_monotonic_time() < deadline)
		;
	usbpass_api_server_disconnect(self->server);
}

int
main(int argc, char *argv[])
{
	g_autoptr(UsbpassDaemon) self = g_new0(UsbpassDaemon, 1);
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *store = NULL;
	g_autofree gchar *socket_path = NULL;
	g_autofree gchar *listen = NULL;
	g_autofree gchar *driver = NULL;
	g_autofree gchar *test_state = NULL;
	g_autofree gchar *libvirt_uri = NULL;
	g_autofree gchar *policy_file = NULL;
	g_autofree gchar *host = NULL;
	gboolean enable = FALSE;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{ "config",
		  'c',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &config_path,
		  "Configuration file (default " USBPASS_CONFIG_DEFAULT_PATH ")",
		  "FILE" },
		{ "enable",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &enable,
		  "Enable USB passthrough (enabled=true)",
		  NULL },
		{ "host",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &host,
		  "Host name devices are recorded under",
		  "NAME" },
		{ "store", 0, 0, G_OPTION_ARG_FILENAME, &store, "SQLite database file or postgresql:// URI", "LOCATION" },
		{ "socket",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &socket_path,
		  "Unix socket of the API",
		  "FILE" },
		{ "listen",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &listen,
		  "Also serve the API on TCP (bearer tokens)",
		  "ADDRESS:PORT" },
		{ "driver",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &driver,
		  "Hypervisor driver: libvirt or test (in-memory demo)",
		  "NAME" },
		{ "test-state",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &test_state,
		  "With --driver=test: keep its instances in FILE across restarts",
		  "FILE" },
		{ "libvirt-uri",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &libvirt_uri,
		  "libvirt connection URI",
		  "URI" },
		{ "policy",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &policy_file,
		  "Policy file with allow and deny rules",
		  "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
		{ "version",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &version,
		  "Print the version and exit",
		  NULL },
		{ NULL },
	};

	setlocale(LC_ALL, "");
	g_log_writer_default_set_use_stderr(TRUE);
	g_log_set_writer_func(usbpassd_log_writer, NULL, NULL);

	context = g_option_context_new(NULL);
	g_option_context_set_summary(
	  context, "The usbpass daemon: hands host USB devices to virtual machines.");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error_local)) {
		g_printerr("usbpassd: %s\n", error_local->message);
		return 2;
	}
	if (version) {
		g_print("usbpassd %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (argc > 1) {
		g_printerr("usbpassd: unexpected argument '%s'\n", argv[1]);
		return 2;
	}

	self->config = usbpass_config_new();
	if (!usbpass_config_load_file(self->config,
	                              config_path != NULL ? config_path
	                                                  : USBPASS_CONFIG_DEFAULT_PATH,
	                              &error_local)) {
		/* no file at the default place: the defaults are documented */
		if (config_path != NULL ||
		    !g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND)) {
			g_printerr("usbpassd: %s\n", error_local->message);
			return EXIT_FAILURE;
		}
		g_clear_error(&error_local);
	}

	/* the command line wins over the file */
	if (enable)
		self->config->enabled = TRUE;
	if (host != NULL)
		usbpassd_set_str(&self->config->host, host);
	if (store != NULL)
		usbpassd_set_str(&self->config->store, store);
	if (socket_path != NULL)
		usbpassd_set_str(&self->config->socket, socket_path);
	if (listen != NULL)
		usbpassd_set_str(&self->config->listen, listen[0] != '\0' ? listen : NULL);
	if (libvirt_uri != NULL)
		usbpassd_set_str(&self->config->libvirt_uri, libvirt_uri);
	if (test_state != NULL)
		usbpassd_set_str(&self->config->test_state,
		                 test_state[0] != '\0' ? test_state : NULL);
	if (policy_file != NULL)
		usbpassd_set_str(&self->config->policy_file,
		                 policy_file[0] != '\0' ? policy_file : NULL);
	if (driver != NULL) {
		if (g_strcmp0(driver, "libvirt") != 0 && g_strcmp0(driver, "test") != 0) {
			g_printerr("usbpassd: --driver must be 'libvirt' or 'test', not '%s'\n",
			           driver);
			return 2;
		}
		usbpassd_set_str(&self->config->driver, driver);
	}
	usbpassd_log_threshold = verbose ? G_LOG_LEVEL_DEBUG : self->config->log_level;

	self->loop = g_main_loop_new(NULL, FALSE);
	self->sigterm_id = g_unix_signal_add(SIGTERM, usbpassd_quit_cb, self);
	self->sigint_id = g_unix_signal_add(SIGINT, usbpassd_quit_cb, self);
	self->sighup_id = g_unix_signal_add(SIGHUP, usbpassd_reload_cb, self);
	/* a client that goes away mid-answer must not kill the daemon */
	signal(SIGPIPE, SIG_IGN);

	if (!usbpassd_start(self, &error_local)) {
		/* the one place a fatal error is logged */
		g_printerr("usbpassd: cannot start: %s\n", error_local->message);
		usbpassd_stop(self);
		return EXIT_FAILURE;
	}
	usbpassd_notify("READY=1\nSTATUS=serving the usbpass API");
	g_main_loop_run(self->loop);
	usbpassd_stop(self);
	return EXIT_SUCCESS;
}

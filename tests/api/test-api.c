/*
 * test-api.c: the REST API over real HTTP against a usbpassd this test starts
 *
 * Each case gets a fresh temporary directory (store, socket, config) and a
 * umockdev testbed with the demo devices of tests/data/demo.umockdev; the
 * daemon is spawned under the same testbed (it inherits the preload and
 * $UMOCKDEV_DIR), so uevents the test sends reach it. Most cases use the
 * in-memory test driver (--driver=test, demo instances demo-off, demo-on and
 * demo-transient); the libvirt case runs when USBPASS_TEST_LIBVIRT_URI names a
 * libvirtd (scripts/with-libvirtd). Readiness is the daemon's sd_notify
 * READY=1 on a socket of the test; every wait has a deadline.
 *
 * USBPASS_TEST_DAEMON_WRAPPER="valgrind --error-exitcode=99 ..." runs the
 * daemon under a wrapper; every case ends with SIGTERM and asserts a clean
 * exit (status 0: no leak reported by LSan or valgrind).
 *
 * Also in-process: the configuration parser, the authenticator (hashes,
 * secrets, token limits, group membership of a peer) and the JSON guards.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <umockdev.h>

#include "api/usbpass-api-events-private.h"
#include "api/usbpass-api-json.h"
#include "api/usbpass-auth-private.h"
#include "api/usbpass-auth.h"
#include "json/usbpass-json-guard.h"
#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-config.h"
#include "usbpass-error.h"

#define DAEMON_START_TIMEOUT_USEC (30 * G_USEC_PER_SEC)
#define DAEMON_STOP_TIMEOUT_USEC  (30 * G_USEC_PER_SEC)
#define WAIT_TIMEOUT_USEC         (15 * G_USEC_PER_SEC)
#define CRUZER_SYSPATH            "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3"
#define DEMO_OFF_UUID             "5ca1ab1e-0000-4000-8000-000000000001"
#define NOBODY_ID                 65534

typedef struct {
	gboolean enabled;
	const gchar *driver; /* NULL: test */
	const gchar *socket_group;
	const gchar *socket_mode;
	const gchar *delay_ms;    /* USBPASSD_TEST_DRIVER_DELAY_MS */
	const gchar *policy;      /* the text of a policy file, NULL for none */
	const gchar *absent;      /* USBPASSD_TEST_DRIVER_ABSENT */
	const gchar *libvirt_uri; /* NULL: $USBPASS_TEST_LIBVIRT_URI */
	gboolean tls;             /* the TCP listener serves HTTPS */
} ApiOptions;

typedef struct {
	const ApiOptions *options;
	gchar *tmpdir;
	gchar *socket_path;
	gchar *store_path;
	gchar *config_path;
	gchar *notify_path;
	gchar *policy_path;
	GSocket *notify;
	guint16 port;
	gchar *base_url;
	UMockdevTestbed *testbed;
	GSubprocess *daemon;
	gboolean daemon_exited;
	gint daemon_wait_status;
	SoupSession *tcp;
	SoupSession *local;
	gchar *admin_token;
	gchar *cruzer_id;
	gboolean skipped;
} ApiFixture;

typedef struct {
	guint status;
	GBytes *body;
	JsonNode *root;
	SoupMessageHeaders *headers;
} ApiResponse;

static void
api_response_free(ApiResponse *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->body, g_bytes_unref);
	g_clear_pointer(&self->root, json_node_unref);
	g_clear_pointer(&self->headers, soup_message_headers_unref);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ApiResponse, api_response_free)

/* main-loop helpers: every wait has a deadline */

static gboolean
wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* iterates the default context until *flag or the deadline; TRUE when set */
static gboolean
wait_for_flag(const gboolean *flag, gint64 timeout_usec)
{
	gint64 deadline = g_get_monotonic_time() + timeout_usec;
	guint wake_id = g_timeout_add(20, wake_cb, NULL);
	while (!*flag && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(wake_id);
	return *flag;
}

/* the daemon */

static void
daemon_exited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	ApiFixture *f = user_data;
	g_autoptr(GError) error_local = NULL;
	/* the callback may run for a daemon the fixture has already replaced */
	if (!g_subprocess_wait_finish(G_SUBPROCESS(source), res, &error_local))
		return;
	if (G_SUBPROCESS(source) != f->daemon)
		return;
	f->daemon_wait_status = g_subprocess_get_status(G_SUBPROCESS(source));
	f->daemon_exited = TRUE;
}

static void
write_config(ApiFixture *f)
{
	const ApiOptions *o = f->options;
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error_local = NULL;

	g_autofree gchar *tls = NULL;
	const gchar *libvirt_uri = o->libvirt_uri;

	if (libvirt_uri == NULL)
		libvirt_uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	if (libvirt_uri == NULL)
		libvirt_uri = "qemu:///system";
	if (o->tls) {
		tls = g_strdup_printf(
		  "tls-certificate=%s/cert.pem\ntls-key=%s/key.pem\n", f->tmpdir, f->tmpdir);
	}
	text = g_strdup_printf("[daemon]\n"
	                       "%s"
	                       "enabled=%s\n"
	                       "host=testhost\n"
	                       "store=%s\n"
	                       "socket=%s\n"
	                       "socket-group=%s\n"
	                       "socket-mode=%s\n"
	                       "listen=127.0.0.1:%u\n"
	                       "driver=%s\n"
	                       "log-level=%s\n"
	                       "[libvirt]\n"
	                       "uri=%s\n"
	                       "[policy]\n"
	                       "file=%s\n",
	                       tls != NULL ? tls : "",
	                       o->enabled ? "true" : "false",
	                       f->store_path,
	                       f->socket_path,
	                       o->socket_group != NULL ? o->socket_group : "",
	                       o->socket_mode != NULL ? o->socket_mode : "0600",
	                       f->port,
	                       o->driver != NULL ? o->driver : "test",
	                       g_getenv("USBPASS_TEST_VERBOSE") != NULL ? "debug" : "message",
	                       libvirt_uri,
	                       o->policy != NULL ? f->policy_path : "");
	g_assert_true(g_file_set_contents(f->config_path, text, -1, &error_local));
	g_assert_no_error(error_local);
}

static void
daemon_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
daemon_start(ApiFixture *f, const gchar *delay_ms)
{
	g_autoptr(GSubprocessLauncher) launcher =
	  g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error_local = NULL;
	const gchar *wrapper = g_getenv("USBPASS_TEST_DAEMON_WRAPPER");
	gint64 deadline;
	gboolean ready = FALSE;

	if (wrapper != NULL && wrapper[0] != '\0') {
		g_auto(GStrv) wrapper_argv = NULL;
		g_assert_true(g_shell_parse_argv(wrapper, NULL, &wrapper_argv, NULL));
		for (guint i = 0; wrapper_argv[i] != NULL; i++)
			g_ptr_array_add(argv, g_strdup(wrapper_argv[i]));
	}
	g_ptr_array_add(argv, g_strdup(USBPASSD_PATH));
	g_ptr_array_add(argv, g_strdup_printf("--config=%s", f->config_path));
	g_ptr_array_add(argv, NULL);

	/* an aborted test must not leave its daemon behind */
	g_subprocess_launcher_set_child_setup(launcher, daemon_child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "NOTIFY_SOCKET", f->notify_path, TRUE);
	if (delay_ms != NULL)
		g_subprocess_launcher_setenv(
		  launcher, "USBPASSD_TEST_DRIVER_DELAY_MS", delay_ms, TRUE);
	else
		g_subprocess_launcher_unsetenv(launcher, "USBPASSD_TEST_DRIVER_DELAY_MS");
	if (f->options->absent != NULL)
		g_subprocess_launcher_setenv(
		  launcher, "USBPASSD_TEST_DRIVER_ABSENT", f->options->absent, TRUE);
	else
		g_subprocess_launcher_unsetenv(launcher, "USBPASSD_TEST_DRIVER_ABSENT");

	g_clear_object(&f->daemon);
	f->daemon_exited = FALSE;
	f->daemon =
	  g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error_local);
	g_assert_no_error(error_local);
	g_subprocess_wait_async(f->daemon, NULL, daemon_exited_cb, f);

	/* READY=1 arrives once the API listens */
	deadline = g_get_monotonic_time() + DAEMON_START_TIMEOUT_USEC * (wrapper != NULL ? 6 : 1);
	while (!ready && !f->daemon_exited && g_get_monotonic_time() < deadline) {
		gchar buf[512];
		gssize len;
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (!g_socket_condition_timed_wait(f->notify, G_IO_IN, 50 * 1000, NULL, NULL))
			continue;
		len = g_socket_receive(f->notify, buf, sizeof(buf) - 1, NULL, NULL);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strstr(buf, "READY=1") != NULL)
			ready = TRUE;
	}
	g_assert_false(f->daemon_exited);
	g_assert_true(ready);
}

/* SIGTERM (or SIGKILL) and wait; TRUE when it exited cleanly with status 0 */
static void
daemon_stop(ApiFixture *f, gint signum)
{
	if (f->daemon == NULL || f->daemon_exited)
		return;
	g_subprocess_send_signal(f->daemon, signum);
	if (!wait_for_flag(&f->daemon_exited, DAEMON_STOP_TIMEOUT_USEC * 6)) {
		g_subprocess_force_exit(f->daemon);
		wait_for_flag(&f->daemon_exited, DAEMON_STOP_TIMEOUT_USEC);
		g_assert_not_reached();
	}
	if (signum == SIGTERM) {
		/* a clean shutdown: exit status 0 (LSan and valgrind make it non-zero) */
		g_assert_true(WIFEXITED(f->daemon_wait_status));
		g_assert_cmpint(WEXITSTATUS(f->daemon_wait_status), ==, 0);
		g_assert_false(g_file_test(f->socket_path, G_FILE_TEST_EXISTS));
	} else {
		g_assert_true(WIFSIGNALED(f->daemon_wait_status));
	}
}

/* HTTP */

static SoupSession *
session_new_unix(const gchar *socket_path)
{
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(socket_path);
	return soup_session_new_with_options("remote-connectable", address, "timeout", 60, NULL);
}

static ApiResponse *
api_request_full(ApiFixture *f,
                 SoupSession *session,
                 const gchar *method,
                 const gchar *path,
                 const gchar *token,
                 const gchar *content_type,
                 const gchar *body,
                 gssize body_len,
                 const gchar *if_none_match)
{
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *url = NULL;
	ApiResponse *response = g_new0(ApiResponse, 1);
	const gchar *type;

	if (session == f->local)
		url = g_strconcat("http://localhost", path, NULL);
	else
		url = g_strconcat(f->base_url, path, NULL);
	uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, &error_local);
	g_assert_no_error(error_local);
	msg = soup_message_new_from_uri(method, uri);
	if (token != NULL) {
		g_autofree gchar *value = g_strdup_printf("Bearer %s", token);
		soup_message_headers_replace(
		  soup_message_get_request_headers(msg), "Authorization", value);
	}
	if (if_none_match != NULL)
		soup_message_headers_replace(
		  soup_message_get_request_headers(msg), "If-None-Match", if_none_match);
	if (body != NULL) {
		g_autoptr(GBytes) bytes =
		  g_bytes_new(body, body_len < 0 ? strlen(body) : (gsize)body_len);
		soup_message_set_request_body_from_bytes(msg, content_type, bytes);
	}
	response->body = soup_session_send_and_read(session, msg, NULL, &error_local);
	g_assert_no_error(error_local);
	response->status = soup_message_get_status(msg);
	response->headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
	type = soup_message_headers_get_content_type(response->headers, NULL);
	if (g_strcmp0(type, "application/json") == 0 && g_bytes_get_size(response->body) > 0) {
		g_autoptr(JsonParser) parser = json_parser_new();
		gsize size = 0;
		const gchar *data = g_bytes_get_data(response->body, &size);
		g_assert_true(json_parser_load_from_data(parser, data, (gssize)size, &error_local));
		g_assert_no_error(error_local);
		response->root = json_node_ref(json_parser_get_root(parser));
	}
	return response;
}

static ApiResponse *
api_get(ApiFixture *f, SoupSession *session, const gchar *path, const gchar *token)
{
	return api_request_full(f, session, "GET", path, token, NULL, NULL, 0, NULL);
}

static ApiResponse *
api_post_json(ApiFixture *f,
              SoupSession *session,
              const gchar *path,
              const gchar *token,
              const gchar *json)
{
	return api_request_full(
	  f, session, "POST", path, token, "application/json", json, -1, NULL);
}

static JsonObject *
api_object(ApiResponse *response)
{
	g_assert_nonnull(response->root);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(response->root));
	return json_node_get_object(response->root);
}

static void
api_assert_error(ApiResponse *response, guint status, const gchar *code)
{
	JsonObject *error_object;
	if (response->status != status) {
		g_autofree gchar *body = g_strndup(g_bytes_get_data(response->body, NULL),
		                                   g_bytes_get_size(response->body));
		g_test_message("expected %u %s, got %u: %s", status, code, response->status, body);
	}
	g_assert_cmpuint(response->status, ==, status);
	g_assert_true(json_object_has_member(api_object(response), "error"));
	error_object = json_object_get_object_member(api_object(response), "error");
	g_assert_nonnull(error_object);
	g_assert_cmpstr(json_object_get_string_member(error_object, "code"), ==, code);
	g_assert_nonnull(json_object_get_string_member(error_object, "message"));
}

static const gchar *
api_error_message(ApiResponse *response)
{
	JsonObject *error_object = json_object_get_object_member(api_object(response), "error");
	return json_object_get_string_member(error_object, "message");
}

/* raw bytes on a TCP connection, for what no well-behaved client sends;
 * returns the status of the answer, 0 when the connection was cut */
static guint
api_raw(ApiFixture *f,
        const gchar *request,
        gsize request_len,
        gsize repeat_body_bytes,
        gchar **answer)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	GOutputStream *out;
	GInputStream *in;
	gchar buf[4096];
	guint status = 0;

	g_socket_client_set_timeout(client, 30);
	connection =
	  g_socket_client_connect_to_host(client, "127.0.0.1", f->port, NULL, &error_local);
	g_assert_no_error(error_local);
	out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
	in = g_io_stream_get_input_stream(G_IO_STREAM(connection));
	if (!g_output_stream_write_all(out, request, request_len, NULL, NULL, &error_local))
		g_clear_error(&error_local);
	/* a body streamed after the headers, until the server stops reading */
	if (repeat_body_bytes > 0) {
		gchar chunk[8192];
		gsize sent = 0;
		memset(chunk, 'x', sizeof(chunk));
		while (sent < repeat_body_bytes) {
			g_autofree gchar *head = g_strdup_printf("%zx\r\n", sizeof(chunk));
			if (!g_output_stream_write_all(out, head, strlen(head), NULL, NULL, NULL) ||
			    !g_output_stream_write_all(
			      out, chunk, sizeof(chunk), NULL, NULL, NULL) ||
			    !g_output_stream_write_all(out, "\r\n", 2, NULL, NULL, NULL))
				break;
			sent += sizeof(chunk);
		}
		g_output_stream_write_all(out, "0\r\n\r\n", 5, NULL, NULL, NULL);
	}
	for (;;) {
		gssize len = g_input_stream_read(in, buf, sizeof(buf), NULL, NULL);
		if (len <= 0)
			break;
		g_string_append_len(text, buf, len);
		/* one answer is all we want: stop at the end of its body */
		if (strstr(text->str, "\r\n\r\n") != NULL) {
			const gchar *cl = strstr(text->str, "Content-Length: ");
			const gchar *end = strstr(text->str, "\r\n\r\n");
			if (cl != NULL && cl < end) {
				gsize want = (gsize)g_ascii_strtoull(cl + 16, NULL, 10);
				if (text->len >= (gsize)(end - text->str) + 4 + want)
					break;
			}
		}
	}
	if (g_str_has_prefix(text->str, "HTTP/1.1 "))
		status = (guint)g_ascii_strtoull(text->str + 9, NULL, 10);
	if (answer != NULL)
		*answer = g_strdup(text->str);
	return status;
}

static gchar *
api_create_token(ApiFixture *f, const gchar *name, const gchar *role)
{
	g_autofree gchar *body =
	  g_strdup_printf("{\"name\": \"%s\", \"role\": \"%s\"}", name, role);
	g_autoptr(ApiResponse) response = api_post_json(f, f->local, "/v1/tokens", NULL, body);
	JsonObject *object;
	g_assert_cmpuint(response->status, ==, 201);
	object = api_object(response);
	g_assert_cmpstr(json_object_get_string_member(object, "name"), ==, name);
	g_assert_cmpstr(json_object_get_string_member(object, "role"), ==, role);
	return g_strdup(json_object_get_string_member(object, "token"));
}

/* the device object of @id from GET /v1/devices/{id} */
static JsonObject *
api_device(ApiFixture *f, ApiResponse **keep, const gchar *id)
{
	g_autofree gchar *escaped = g_uri_escape_string(id, NULL, FALSE);
	g_autofree gchar *path = g_strdup_printf("/v1/devices/%s", escaped);
	*keep = api_get(f, f->local, path, NULL);
	g_assert_cmpuint((*keep)->status, ==, 200);
	return api_object(*keep);
}

static const gchar *
api_device_state(ApiFixture *f, const gchar *id, ApiResponse **keep)
{
	return json_object_get_string_member(api_device(f, keep, id), "state");
}

static gchar *
attach_path(const gchar *instance)
{
	g_autofree gchar *escaped = g_uri_escape_string(instance, NULL, FALSE);
	return g_strdup_printf("/v1/instances/%s/usb-devices", escaped);
}

static gchar *
attach_body(const gchar *device)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "device");
	json_builder_add_string_value(builder, device);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	return json_generator_to_data(generator, NULL);
}

static gchar *
detach_path(const gchar *instance, const gchar *device)
{
	g_autofree gchar *escaped_instance = g_uri_escape_string(instance, NULL, FALSE);
	g_autofree gchar *escaped_device = g_uri_escape_string(device, NULL, FALSE);
	return g_strdup_printf("/v1/instances/%s/usb-devices/%s", escaped_instance, escaped_device);
}

/* the identity of the first listed device with @vendor:@product */
static gchar *
find_device_id(ApiFixture *f, const gchar *vendor_id, const gchar *product_id)
{
	g_autofree gchar *path =
	  g_strdup_printf("/v1/devices?vendor_id=%s&product_id=%s", vendor_id, product_id);
	g_autoptr(ApiResponse) response = api_get(f, f->local, path, NULL);
	JsonArray *devices;
	g_assert_cmpuint(response->status, ==, 200);
	devices = json_object_get_array_member(api_object(response), "devices");
	g_assert_cmpuint(json_array_get_length(devices), >=, 1);
	return g_strdup(
	  json_object_get_string_member(json_array_get_object_element(devices, 0), "id"));
}

static gboolean
audit_has(ApiFixture *f,
          const gchar *action,
          const gchar *actor,
          const gchar *outcome,
          const gchar *needle)
{
	g_autoptr(ApiResponse) response = api_get(f, f->local, "/v1/audit?limit=1000", NULL);
	JsonArray *entries;
	g_assert_cmpuint(response->status, ==, 200);
	entries = json_object_get_array_member(api_object(response), "entries");
	for (guint i = 0; i < json_array_get_length(entries); i++) {
		JsonObject *entry = json_array_get_object_element(entries, i);
		const gchar *message =
		  json_object_get_string_member_with_default(entry, "message", "");
		if (g_strcmp0(json_object_get_string_member(entry, "action"), action) != 0)
			continue;
		if (actor != NULL &&
		    g_strcmp0(json_object_get_string_member(entry, "actor"), actor) != 0)
			continue;
		if (outcome != NULL &&
		    g_strcmp0(json_object_get_string_member(entry, "outcome"), outcome) != 0)
			continue;
		if (needle != NULL && (message == NULL || strstr(message, needle) == NULL))
			continue;
		g_assert_nonnull(json_object_get_string_member(entry, "time"));
		g_assert_cmpstr(json_object_get_string_member(entry, "host"), ==, "testhost");
		return TRUE;
	}
	return FALSE;
}

/* fixture */

static guint16
pick_free_port(void)
{
	g_autoptr(GSocket) socket =
	  g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_assert_true(g_socket_bind(socket, address, TRUE, NULL));
	bound = g_socket_get_local_address(socket, NULL);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

/* a self-signed certificate for 127.0.0.1, which the client then trusts */
static gboolean
make_certificate(ApiFixture *f)
{
	g_autofree gchar *openssl = g_find_program_in_path("openssl");
	g_autofree gchar *key = g_build_filename(f->tmpdir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(f->tmpdir, "cert.pem", NULL);
	g_autoptr(GSubprocess) process = NULL;

	if (openssl == NULL)
		return FALSE;
	process =
	  g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
	                   NULL,
	                   openssl,
	                   "req",
	                   "-x509",
	                   "-newkey",
	                   "ec",
	                   "-pkeyopt",
	                   "ec_paramgen_curve:prime256v1",
	                   "-nodes",
	                   "-days",
	                   "2",
	                   "-subj",
	                   "/CN=127.0.0.1",
	                   "-addext",
	                   "subjectAltName=IP:127.0.0.1",
	                   "-keyout",
	                   key,
	                   "-out",
	                   cert,
	                   NULL);
	return process != NULL && g_subprocess_wait_check(process, NULL, NULL);
}

static void
fixture_setup(ApiFixture *f, gconstpointer user_data)
{
	static const ApiOptions defaults = {
		TRUE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FALSE
	};
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GSocketAddress) notify_address = NULL;
	g_autofree gchar *demo = NULL;
	const gchar *data_dir = g_getenv("USBPASS_TEST_DATA");

	f->options = user_data != NULL ? user_data : &defaults;
	/* umockdev_in_mock_environment() of 0.17 answers FALSE under the wrapper */
	if (g_strstr_len(g_getenv("LD_PRELOAD"), -1, "libumockdev-preload") == NULL) {
		g_test_skip("needs the umockdev preload: run under umockdev-wrapper");
		f->skipped = TRUE;
		return;
	}
	if (g_strcmp0(f->options->driver, "libvirt") == 0 && f->options->libvirt_uri == NULL &&
	    g_getenv("USBPASS_TEST_LIBVIRT_URI") == NULL) {
		g_test_skip("USBPASS_TEST_LIBVIRT_URI is not set: run under scripts/with-libvirtd");
		f->skipped = TRUE;
		return;
	}
	if (f->options->socket_group != NULL && getgrnam(f->options->socket_group) == NULL) {
		g_test_skip("the group of the socket does not exist here");
		f->skipped = TRUE;
		return;
	}
	if (!g_file_test(USBPASSD_PATH, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_skip("usbpassd is not built");
		f->skipped = TRUE;
		return;
	}

	f->tmpdir = g_dir_make_tmp("usbpass-api-XXXXXX", &error_local);
	g_assert_no_error(error_local);
	f->socket_path = g_build_filename(f->tmpdir, "usbpassd.sock", NULL);
	f->store_path = g_build_filename(f->tmpdir, "state", "usbpass.db", NULL);
	f->config_path = g_build_filename(f->tmpdir, "usbpassd.conf", NULL);
	f->notify_path = g_build_filename(f->tmpdir, "notify", NULL);
	f->policy_path = g_build_filename(f->tmpdir, "policy.conf", NULL);
	f->port = pick_free_port();
	f->base_url =
	  g_strdup_printf("%s://127.0.0.1:%u", f->options->tls ? "https" : "http", f->port);
	if (f->options->policy != NULL) {
		g_assert_true(
		  g_file_set_contents(f->policy_path, f->options->policy, -1, &error_local));
		g_assert_no_error(error_local);
	}
	if (f->options->tls && !make_certificate(f)) {
		g_test_skip("openssl cannot make a test certificate");
		f->skipped = TRUE;
		return;
	}

	f->testbed = umockdev_testbed_new();
	demo = g_build_filename(data_dir != NULL ? data_dir : "tests/data", "demo.umockdev", NULL);
	g_assert_true(umockdev_testbed_add_from_file(f->testbed, demo, &error_local));
	g_assert_no_error(error_local);

	f->notify = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, &error_local);
	g_assert_no_error(error_local);
	notify_address = g_unix_socket_address_new(f->notify_path);
	g_assert_true(g_socket_bind(f->notify, notify_address, FALSE, &error_local));
	g_assert_no_error(error_local);

	write_config(f);
	daemon_start(f, f->options->delay_ms);
	f->local = session_new_unix(f->socket_path);
	f->tcp = soup_session_new_with_options(
	  "timeout", 60, "max-conns", 64, "max-conns-per-host", 64, NULL);
	if (f->options->tls) {
		g_autoptr(GTlsDatabase) database = NULL;
		g_autofree gchar *cert = g_build_filename(f->tmpdir, "cert.pem", NULL);
		database = g_tls_file_database_new(cert, &error_local);
		g_assert_no_error(error_local);
		soup_session_set_tls_database(f->tcp, database);
	}
	f->admin_token = api_create_token(f, "test-admin", "admin");
	f->cruzer_id = find_device_id(f, "0781", "5567");
}

static void
remove_tree(const gchar *path)
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
			remove_tree(child);
		else
			g_remove(child);
	}
	g_rmdir(path);
}

static void
fixture_teardown(ApiFixture *f, gconstpointer user_data)
{
	if (f->skipped)
		return;
	g_clear_object(&f->tcp);
	g_clear_object(&f->local);
	daemon_stop(f, SIGTERM);
	g_clear_object(&f->daemon);
	g_clear_object(&f->notify);
	g_clear_object(&f->testbed);
	if (f->tmpdir != NULL)
		remove_tree(f->tmpdir);
	g_free(f->tmpdir);
	g_free(f->socket_path);
	g_free(f->store_path);
	g_free(f->config_path);
	g_free(f->notify_path);
	g_free(f->policy_path);
	g_free(f->base_url);
	g_free(f->admin_token);
	g_free(f->cruzer_id);
}

/* cases over HTTP */

static void
test_health(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) tcp = NULL;
	g_autoptr(ApiResponse) local = NULL;
	g_autoptr(ApiResponse) head = NULL;
	JsonObject *object;

	if (f->skipped)
		return;
	/* anybody may ask, without a token */
	tcp = api_get(f, f->tcp, "/v1/health", NULL);
	g_assert_cmpuint(tcp->status, ==, 200);
	object = api_object(tcp);
	g_assert_cmpstr(json_object_get_string_member(object, "status"), ==, "ok");
	g_assert_true(json_object_get_boolean_member(object, "driver_connected"));
	g_assert_true(json_object_get_boolean_member(object, "store_ok"));
	g_assert_cmpstr(
	  soup_message_headers_get_content_type(tcp->headers, NULL), ==, "application/json");

	local = api_get(f, f->local, "/v1/health", NULL);
	g_assert_cmpuint(local->status, ==, 200);

	head = api_request_full(f, f->tcp, "HEAD", "/v1/health", NULL, NULL, NULL, 0, NULL);
	g_assert_cmpuint(head->status, ==, 200);
	g_assert_cmpuint(g_bytes_get_size(head->body), ==, 0);
}

/* the store fails under a running daemon: its tables are gone */
static void
store_break(ApiFixture *f)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *err = NULL;
	gint wait_status = 0;
	const gchar *argv[] = { "sqlite3",
		                f->store_path,
		                "DROP TABLE api_tokens; DROP TABLE audit_log; "
		                "DROP TABLE host_usb_devices;",
		                NULL };
	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)argv,
	                           NULL,
	                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
	                           NULL,
	                           NULL,
	                           NULL,
	                           &err,
	                           &wait_status,
	                           &error_local));
	g_assert_no_error(error_local);
	g_assert_cmpstr(err, ==, "");
	g_assert_true(g_spawn_check_wait_status(wait_status, &error_local));
	g_assert_no_error(error_local);
}

static void
test_health_store_down(ApiFixture *f, gconstpointer user_data)
{
	/* whatever a probe sends as credentials, health answers without them */
	const gchar *tokens[] = { NULL, "usbp_unknown_secret", "", f->admin_token };
	g_autofree gchar *sqlite3 = g_find_program_in_path("sqlite3");

	if (f->skipped)
		return;
	if (sqlite3 == NULL) {
		g_test_skip("needs the sqlite3 program to break the store");
		return;
	}
	store_break(f);
	for (guint i = 0; i < G_N_ELEMENTS(tokens); i++) {
		g_autoptr(ApiResponse) health = api_get(f, f->tcp, "/v1/health", tokens[i]);
		g_test_message("health with token case %u", i);
		g_assert_cmpuint(health->status, ==, 200);
		g_assert_cmpstr(
		  json_object_get_string_member(api_object(health), "status"), ==, "degraded");
		g_assert_false(json_object_get_boolean_member(api_object(health), "store_ok"));
	}
	/* a route that needs a role still reports the store's failure */
	{
		g_autoptr(ApiResponse) host = api_get(f, f->tcp, "/v1/host", "usbp_unknown_secret");
		g_assert_cmpuint(host->status, ==, 503);
		g_assert_nonnull(api_error_message(host));
	}
}

static void
test_health_driver_down(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) health = NULL;
	g_autoptr(ApiResponse) host = NULL;
	g_autoptr(ApiResponse) devices = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autofree gchar *body = NULL;

	if (f->skipped)
		return;
	/* the daemon runs without its hypervisor: the inventory is served, the
	 * health says so, an attach says why it cannot be done */
	health = api_get(f, f->tcp, "/v1/health", NULL);
	g_assert_cmpuint(health->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(health), "status"), ==, "degraded");
	g_assert_false(json_object_get_boolean_member(api_object(health), "driver_connected"));
	g_assert_true(json_object_get_boolean_member(api_object(health), "store_ok"));
	host = api_get(f, f->local, "/v1/host", NULL);
	g_assert_cmpstr(json_object_get_string_member(api_object(host), "driver"), ==, "libvirt");
	g_assert_false(json_object_get_boolean_member(api_object(host), "driver_connected"));
	devices = api_get(f, f->local, "/v1/devices", NULL);
	g_assert_cmpuint(devices->status, ==, 200);
	body = attach_body(f->cruzer_id);
	attach = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(attach->status, >=, 500);
	g_assert_nonnull(api_error_message(attach));
}

static void
test_host(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) response = NULL;
	JsonObject *object;

	if (f->skipped)
		return;
	response = api_get(f, f->local, "/v1/host", NULL);
	g_assert_cmpuint(response->status, ==, 200);
	object = api_object(response);
	g_assert_cmpstr(json_object_get_string_member(object, "host"), ==, "testhost");
	g_assert_cmpstr(json_object_get_string_member(object, "version"), ==, PACKAGE_VERSION);
	g_assert_true(json_object_get_boolean_member(object, "enabled"));
	g_assert_cmpstr(json_object_get_string_member(object, "driver"), ==, "test");
	g_assert_true(json_object_get_boolean_member(object, "driver_connected"));
	g_assert_cmpstr(json_object_get_string_member(object, "store"), ==, "sqlite");
	/* the demo testbed: three root hubs, two hubs, seven devices */
	g_assert_cmpint(json_object_get_int_member(object, "devices"), >=, 10);
}

typedef struct {
	const gchar *query;
	guint status;
	gint count; /* -1: all devices; -2: do not check */
} DevicesCase;

static void
test_devices(ApiFixture *f, gconstpointer user_data)
{
	static const gchar *const fields[] = {
		"id",           "id_kind",       "bus",           "device",       "port",
		"parent_port",  "vendor_id",     "product_id",    "bcd_device",   "manufacturer",
		"product",      "serial",        "vendor_name",   "product_name", "name",
		"device_class", "class_name",    "interfaces",    "speed",        "speed_mbps",
		"is_hub",       "is_root_hub",   "syspath",       "host",         "present",
		"state",        "instance_uuid", "instance_name", "state_error",  "updated",
	};
	const DevicesCase cases[] = {
		{ "", 200, -1 },
		{ "?vendor_id=0781", 200, 1 },
		{ "?vendor_id=0781&product_id=5567", 200, 1 },
		{ "?vendor_id=0781&product_id=0000", 200, 0 },
		{ "?present=true", 200, -1 },
		{ "?present=false", 200, 0 },
		{ "?state=available", 200, -1 },
		{ "?state=attached", 200, 0 },
		{ "?instance=demo-off", 200, 0 },
		{ "?state=bogus", 400, -2 },
		{ "?vendor_id=781", 400, -2 },
		{ "?vendor_id=zzzz", 400, -2 },
		{ "?product_id=055670", 400, -2 },
		{ "?present=yes", 400, -2 },
		{ "?colour=red", 400, -2 },
	};
	g_autoptr(ApiResponse) all = NULL;
	JsonArray *devices;
	guint total;
	gboolean found = FALSE;

	if (f->skipped)
		return;
	all = api_get(f, f->tcp, "/v1/devices", f->admin_token);
	g_assert_cmpuint(all->status, ==, 200);
	g_assert_true(json_object_has_member(api_object(all), "generation"));
	devices = json_object_get_array_member(api_object(all), "devices");
	total = json_array_get_length(devices);
	g_assert_cmpuint(total, >=, 10);
	for (guint i = 0; i < total; i++) {
		JsonObject *device = json_array_get_object_element(devices, i);
		for (guint j = 0; j < G_N_ELEMENTS(fields); j++) {
			if (!json_object_has_member(device, fields[j]))
				g_test_message("device %u lacks '%s'", i, fields[j]);
			g_assert_true(json_object_has_member(device, fields[j]));
		}
		g_assert_cmpstr(json_object_get_string_member(device, "host"), ==, "testhost");
		g_assert_true(json_object_get_boolean_member(device, "present"));
		g_assert_cmpstr(json_object_get_string_member(device, "state"), ==, "available");
		if (g_strcmp0(json_object_get_string_member(device, "id"), f->cruzer_id) == 0) {
			found = TRUE;
			g_assert_cmpstr(
			  json_object_get_string_member(device, "vendor_id"), ==, "0781");
			g_assert_cmpstr(json_object_get_string_member(device, "serial"),
			                ==,
			                "4C530001231122117043");
			g_assert_true(json_object_get_null_member(device, "instance_uuid"));
		}
	}
	g_assert_true(found);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path = g_strconcat("/v1/devices", cases[i].query, NULL);
		g_autoptr(ApiResponse) response = api_get(f, f->tcp, path, f->admin_token);
		g_test_message("GET %s", path);
		if (cases[i].status != 200) {
			api_assert_error(response, cases[i].status, "invalid-data");
			continue;
		}
		g_assert_cmpuint(response->status, ==, 200);
		devices = json_object_get_array_member(api_object(response), "devices");
		g_assert_cmpuint(json_array_get_length(devices),
		                 ==,
		                 cases[i].count == -1 ? total : (guint)cases[i].count);
	}
}

typedef struct {
	const gchar *raw_path; /* sent as is */
	guint status;
	gboolean by_libsoup; /* refused before usbpassd sees it: no JSON body */
} RawPathCase;

static void
test_device_lookup(ApiFixture *f, gconstpointer user_data)
{
	const RawPathCase bad_paths[] = {
		{ "/v1/devices/%00", 400, FALSE },
		{ "/v1/devices/%FF%FE", 400, FALSE },
		{ "/v1/devices/a%0Ab", 400, FALSE },
		{ "/v1/devices/%zz", 400, TRUE },
		{ "/v1/devices/%20padded", 400, FALSE },
		{ "/v1/devices/", 404, FALSE },
		{ "/v1/devices/no-such-device", 404, FALSE },
		{ "/v1/devices/0000%3A0000%2Fslash", 404, FALSE },
		{ "/v1/devices/99%3A99", 404, FALSE },
	};
	g_autoptr(ApiResponse) by_id = NULL;
	g_autoptr(ApiResponse) by_address = NULL;
	g_autoptr(ApiResponse) by_port = NULL;
	g_autoptr(ApiResponse) too_long = NULL;
	g_autofree gchar *address = NULL;
	g_autofree gchar *address_path = NULL;
	g_autofree gchar *long_path = NULL;
	JsonObject *device;

	if (f->skipped)
		return;
	device = api_device(f, &by_id, f->cruzer_id);
	g_assert_cmpstr(json_object_get_string_member(device, "id"), ==, f->cruzer_id);
	g_assert_cmpstr(json_object_get_string_member(device, "port"), ==, "1-3");

	address = g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
	                          json_object_get_int_member(device, "bus"),
	                          json_object_get_int_member(device, "device"));
	address_path = g_strdup_printf("/v1/devices/%s", address);
	by_address = api_get(f, f->local, address_path, NULL);
	g_assert_cmpuint(by_address->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(by_address), "id"), ==, f->cruzer_id);

	by_port = api_get(f, f->local, "/v1/devices/1-3", NULL);
	g_assert_cmpuint(by_port->status, ==, 200);
	g_assert_cmpstr(json_object_get_string_member(api_object(by_port), "id"), ==, f->cruzer_id);

	long_path = g_strdup_printf("/v1/devices/%0600d", 7);
	too_long = api_get(f, f->local, long_path, NULL);
	api_assert_error(too_long, 400, "invalid-data");

	for (guint i = 0; i < G_N_ELEMENTS(bad_paths); i++) {
		g_autofree gchar *request =
		  g_strdup_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
		                  "%s\r\nConnection: close\r\n\r\n",
		                  bad_paths[i].raw_path,
		                  f->admin_token);
		g_autofree gchar *answer = NULL;
		guint status = api_raw(f, request, strlen(request), 0, &answer);
		g_test_message("GET %s -> %u", bad_paths[i].raw_path, status);
		g_assert_cmpuint(status, ==, bad_paths[i].status);
		if (!bad_paths[i].by_libsoup)
			g_assert_nonnull(strstr(answer,
			                        bad_paths[i].status == 404 ? "\"not-found\""
			                                                   : "\"invalid-data\""));
	}
}

static void
test_etag(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) first = NULL;
	g_autoptr(ApiResponse) cached = NULL;
	g_autoptr(ApiResponse) other = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autoptr(ApiResponse) after = NULL;
	g_autoptr(ApiResponse) one = NULL;
	g_autoptr(ApiResponse) one_cached = NULL;
	g_autofree gchar *etag = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *escaped = NULL;
	g_autofree gchar *device_path = NULL;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	escaped = g_uri_escape_string(f->cruzer_id, NULL, FALSE);
	device_path = g_strdup_printf("/v1/devices/%s", escaped);
	first = api_get(f, f->tcp, "/v1/devices", f->admin_token);
	g_assert_cmpuint(first->status, ==, 200);
	etag = g_strdup(soup_message_headers_get_one(first->headers, "ETag"));
	g_assert_nonnull(etag);

	cached =
	  api_request_full(f, f->tcp, "GET", "/v1/devices", f->admin_token, NULL, NULL, 0, etag);
	g_assert_cmpuint(cached->status, ==, 304);
	g_assert_cmpuint(g_bytes_get_size(cached->body), ==, 0);
	g_assert_cmpstr(soup_message_headers_get_one(cached->headers, "ETag"), ==, etag);

	other = api_request_full(
	  f, f->tcp, "GET", "/v1/devices", f->admin_token, NULL, NULL, 0, "\"stale\"");
	g_assert_cmpuint(other->status, ==, 200);

	one = api_request_full(f, f->tcp, "GET", device_path, f->admin_token, NULL, NULL, 0, NULL);
	g_assert_cmpuint(one->status, ==, 200);
	one_cached = api_request_full(f,
	                              f->tcp,
	                              "GET",
	                              device_path,
	                              f->admin_token,
	                              NULL,
	                              NULL,
	                              0,
	                              soup_message_headers_get_one(one->headers, "ETag"));
	g_assert_cmpuint(one_cached->status, ==, 304);

	/* a change of state is a new version */
	attach =
	  api_post_json(f, f->tcp, "/v1/instances/demo-off/usb-devices", f->admin_token, body);
	g_assert_cmpuint(attach->status, ==, 200);
	after =
	  api_request_full(f, f->tcp, "GET", "/v1/devices", f->admin_token, NULL, NULL, 0, etag);
	g_assert_cmpuint(after->status, ==, 200);
	g_assert_cmpstr(soup_message_headers_get_one(after->headers, "ETag"), !=, etag);
}

static void
test_policy(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) policy = NULL;
	g_autoptr(ApiResponse) hub = NULL;
	g_autoptr(ApiResponse) cruzer = NULL;
	g_autoptr(ApiResponse) unknown = NULL;
	g_autofree gchar *hub_id = NULL;
	g_autofree gchar *hub_path = NULL;
	g_autofree gchar *cruzer_path = NULL;
	g_autofree gchar *escaped = NULL;
	JsonArray *rules;

	if (f->skipped)
		return;
	policy = api_get(f, f->local, "/v1/policy", NULL);
	g_assert_cmpuint(policy->status, ==, 200);
	g_assert_true(json_object_get_boolean_member(api_object(policy), "enabled"));
	rules = json_object_get_array_member(api_object(policy), "rules");
	g_assert_cmpuint(json_array_get_length(rules), >=, 1);
	for (guint i = 0; i < json_array_get_length(rules); i++)
		g_assert_nonnull(json_array_get_string_element(rules, i));

	hub_id = find_device_id(f, "05e3", "0610");
	escaped = g_uri_escape_string(hub_id, NULL, FALSE);
	hub_path = g_strdup_printf("/v1/devices/%s/policy", escaped);
	hub = api_get(f, f->tcp, hub_path, f->admin_token);
	g_assert_cmpuint(hub->status, ==, 200);
	g_assert_false(json_object_get_boolean_member(api_object(hub), "allowed"));
	g_assert_nonnull(json_object_get_string_member(api_object(hub), "rule"));
	g_assert_nonnull(json_object_get_string_member(api_object(hub), "reason"));

	g_free(escaped);
	escaped = g_uri_escape_string(f->cruzer_id, NULL, FALSE);
	cruzer_path = g_strdup_printf("/v1/devices/%s/policy", escaped);
	cruzer = api_get(f, f->tcp, cruzer_path, f->admin_token);
	g_assert_cmpuint(cruzer->status, ==, 200);
	g_assert_true(json_object_get_boolean_member(api_object(cruzer), "allowed"));

	unknown = api_get(f, f->tcp, "/v1/devices/nothing/policy", f->admin_token);
	api_assert_error(unknown, 404, "not-found");
}

static void
test_instances(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) list = NULL;
	g_autoptr(ApiResponse) by_name = NULL;
	g_autoptr(ApiResponse) by_uuid = NULL;
	g_autoptr(ApiResponse) unknown = NULL;
	JsonArray *instances;
	guint seen = 0;

	if (f->skipped)
		return;
	list = api_get(f, f->tcp, "/v1/instances", f->admin_token);
	g_assert_cmpuint(list->status, ==, 200);
	instances = json_object_get_array_member(api_object(list), "instances");
	g_assert_cmpuint(json_array_get_length(instances), ==, 3);
	for (guint i = 0; i < json_array_get_length(instances); i++) {
		JsonObject *instance = json_array_get_object_element(instances, i);
		const gchar *name = json_object_get_string_member(instance, "name");
		g_assert_nonnull(json_object_get_string_member(instance, "uuid"));
		g_assert_nonnull(json_object_get_array_member(instance, "devices"));
		if (g_strcmp0(name, "demo-off") == 0) {
			g_assert_cmpstr(
			  json_object_get_string_member(instance, "state"), ==, "shutoff");
			g_assert_true(json_object_get_boolean_member(instance, "persistent"));
			seen++;
		} else if (g_strcmp0(name, "demo-on") == 0) {
			g_assert_cmpstr(
			  json_object_get_string_member(instance, "state"), ==, "running");
			seen++;
		} else if (g_strcmp0(name, "demo-transient") == 0) {
			g_assert_false(json_object_get_boolean_member(instance, "persistent"));
			seen++;
		}
	}
	g_assert_cmpuint(seen, ==, 3);

	by_name = api_get(f, f->local, "/v1/instances/demo-off", NULL);
	g_assert_cmpuint(by_name->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(by_name), "uuid"), ==, DEMO_OFF_UUID);
	by_uuid = api_get(f, f->local, "/v1/instances/" DEMO_OFF_UUID, NULL);
	g_assert_cmpuint(by_uuid->status, ==, 200);
	g_assert_cmpstr(json_object_get_string_member(api_object(by_uuid), "name"), ==, "demo-off");
	unknown = api_get(f, f->local, "/v1/instances/no-such-vm", NULL);
	api_assert_error(unknown, 404, "not-found");
}

static void
test_attach_detach(ApiFixture *f, gconstpointer user_data)
{
	g_autofree gchar *operator= NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *detach = NULL;
	g_autofree gchar *detach_wrong = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autoptr(ApiResponse) again = NULL;
	g_autoptr(ApiResponse) same = NULL;
	g_autoptr(ApiResponse) device = NULL;
	g_autoptr(ApiResponse) instance = NULL;
	g_autoptr(ApiResponse) filtered = NULL;
	g_autoptr(ApiResponse) wrong = NULL;
	g_autoptr(ApiResponse) released = NULL;
	g_autoptr(ApiResponse) twice = NULL;
	JsonObject *object;
	JsonArray *devices;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	detach = detach_path("demo-off", f->cruzer_id);
	detach_wrong = detach_path("demo-on", f->cruzer_id);
	operator= api_create_token(f, "ops", "operator");
	attach = api_post_json(f, f->tcp, "/v1/instances/demo-off/usb-devices", operator, body);
	g_assert_cmpuint(attach->status, ==, 200);
	object = api_object(attach);
	g_assert_cmpstr(json_object_get_string_member(object, "id"), ==, f->cruzer_id);
	g_assert_cmpstr(json_object_get_string_member(object, "state"), ==, "attached");
	g_assert_cmpstr(json_object_get_string_member(object, "instance_uuid"), ==, DEMO_OFF_UUID);
	g_assert_cmpstr(json_object_get_string_member(object, "instance_name"), ==, "demo-off");
	g_assert_true(json_object_get_null_member(object, "state_error"));
	g_assert_nonnull(json_object_get_string_member(object, "updated"));

	object = api_device(f, &device, f->cruzer_id);
	g_assert_cmpstr(json_object_get_string_member(object, "state"), ==, "attached");

	instance = api_get(f, f->local, "/v1/instances/demo-off", NULL);
	g_assert_cmpuint(instance->status, ==, 200);
	devices = json_object_get_array_member(api_object(instance), "devices");
	g_assert_cmpuint(json_array_get_length(devices), ==, 1);
	g_assert_cmpstr(
	  json_object_get_string_member(json_array_get_object_element(devices, 0), "id"),
	  ==,
	  f->cruzer_id);

	filtered = api_get(f, f->local, "/v1/devices?state=attached&instance=demo-off", NULL);
	g_assert_cmpuint(
	  json_array_get_length(json_object_get_array_member(api_object(filtered), "devices")),
	  ==,
	  1);

	/* asking again for what is so is no error; another instance is */
	same =
	  api_post_json(f, f->tcp, "/v1/instances/" DEMO_OFF_UUID "/usb-devices", operator, body);
	g_assert_cmpuint(same->status, ==, 200);
	g_assert_cmpstr(json_object_get_string_member(api_object(same), "state"), ==, "attached");
	again = api_post_json(f, f->tcp, "/v1/instances/demo-on/usb-devices", operator, body);
	api_assert_error(again, 409, "in-use");
	wrong = api_request_full(f, f->tcp, "DELETE", detach_wrong, operator, NULL, NULL, 0, NULL);
	api_assert_error(wrong, 409, "in-use");

	released = api_request_full(f, f->tcp, "DELETE", detach, operator, NULL, NULL, 0, NULL);
	g_assert_cmpuint(released->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(released), "state"), ==, "available");
	g_assert_true(json_object_get_null_member(api_object(released), "instance_uuid"));
	twice = api_request_full(f, f->tcp, "DELETE", detach, operator, NULL, NULL, 0, NULL);
	api_assert_error(twice, 404, "not-found");

	/* the engine audits both, with the actor of the request */
	g_assert_true(audit_has(f, "attach", "token:ops", "ok", NULL));
	g_assert_true(audit_has(f, "detach", "token:ops", "ok", NULL));
}

typedef struct {
	const gchar *vendor_id; /* NULL: use the spec as it is */
	const gchar *product_id;
	const gchar *spec;
	const gchar *instance;
	guint status;
	const gchar *code;
} AttachCase;

static void
test_attach_refused(ApiFixture *f, gconstpointer user_data)
{
	const AttachCase cases[] = {
		{ "05e3", "0610", NULL, "demo-off", 403, "denied-by-policy" }, /* a hub */
		{ "413c", "2113", NULL, "demo-off", 403, "denied-by-policy" }, /* a keyboard */
		{ "1d6b", "0002", NULL, "demo-off", 403, "denied-by-policy" }, /* a root hub */
		{ NULL, NULL, "no-such-device", "demo-off", 404, "not-found" },
		{ NULL, NULL, "1-3", "no-such-instance", 404, "not-found" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases) && !f->skipped; i++) {
		g_autofree gchar *spec =
		  cases[i].vendor_id != NULL
		    ? find_device_id(f, cases[i].vendor_id, cases[i].product_id)
		    : g_strdup(cases[i].spec);
		g_autofree gchar *path = attach_path(cases[i].instance);
		g_autofree gchar *body = attach_body(spec);
		g_autoptr(ApiResponse) response = api_post_json(f, f->local, path, NULL, body);
		g_test_message("attach %s to %s", spec, cases[i].instance);
		api_assert_error(response, cases[i].status, cases[i].code);
	}
	if (!f->skipped)
		g_assert_true(audit_has(f, "attach", "uid:0", "denied-by-policy", NULL));
}

static void
test_attach_failed(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) running = NULL;
	g_autoptr(ApiResponse) device = NULL;
	g_autoptr(ApiResponse) elsewhere = NULL;
	g_autoptr(ApiResponse) retry = NULL;
	g_autoptr(ApiResponse) released = NULL;
	g_autoptr(ApiResponse) shutoff = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *detach = NULL;
	JsonObject *object;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	/* a running instance needs the device live: the hypervisor cannot find
	 * it, says so, and the row keeps its words */
	running = api_post_json(f, f->local, "/v1/instances/demo-on/usb-devices", NULL, body);
	api_assert_error(running, 502, "driver");
	g_assert_nonnull(strstr(api_error_message(running), "Did not find USB device"));
	object = api_device(f, &device, f->cruzer_id);
	g_assert_cmpstr(json_object_get_string_member(object, "state"), ==, "failed");
	g_assert_cmpstr(json_object_get_string_member(object, "instance_name"), ==, "demo-on");
	g_assert_nonnull(
	  strstr(json_object_get_string_member(object, "state_error"), "Did not find USB device"));
	g_assert_true(audit_has(f, "attach", "uid:0", "driver", NULL));

	/* a failed device stays with its instance until released or retried */
	elsewhere = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(elsewhere->status, ==, 409);
	retry = api_post_json(f, f->local, "/v1/instances/demo-on/usb-devices", NULL, body);
	api_assert_error(retry, 502, "driver");
	detach = detach_path("demo-on", f->cruzer_id);
	released = api_request_full(f, f->local, "DELETE", detach, NULL, NULL, NULL, 0, NULL);
	g_assert_cmpuint(released->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(released), "state"), ==, "available");

	/* a shut-off instance only needs its definition changed: that works */
	shutoff = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(shutoff->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(shutoff), "state"), ==, "attached");
}

static void
test_disabled(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) host = NULL;
	g_autoptr(ApiResponse) list = NULL;
	g_autoptr(ApiResponse) policy = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autofree gchar *body = NULL;
	const gchar *message;

	if (f->skipped)
		return;
	/* read-only: the inventory is there */
	host = api_get(f, f->local, "/v1/host", NULL);
	g_assert_false(json_object_get_boolean_member(api_object(host), "enabled"));
	list = api_get(f, f->local, "/v1/devices", NULL);
	g_assert_cmpuint(list->status, ==, 200);
	policy = api_get(f, f->local, "/v1/policy", NULL);
	g_assert_false(json_object_get_boolean_member(api_object(policy), "enabled"));

	body = attach_body(f->cruzer_id);
	attach = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	api_assert_error(attach, 403, "disabled");
	message = api_error_message(attach);
	g_test_message("%s", message);
	g_assert_nonnull(strstr(message, "enabled=true"));
	g_assert_nonnull(strstr(message, "--enable"));
	g_assert_nonnull(strstr(message, f->config_path));
	g_assert_true(audit_has(f, "attach", "uid:0", "disabled", NULL));
}

/* a body whose brackets hide behind a non-strict token json-glib 1.6 accepts:
 * a ' string holding '"', or a comment holding '"' */
static gchar *
hostile_body(const gchar *prefix, guint depth)
{
	GString *s = g_string_new(prefix);
	for (guint i = 0; i < depth; i++)
		g_string_append_c(s, '[');
	for (guint i = 0; i < depth; i++)
		g_string_append_c(s, ']');
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

#define HOSTILE_SQ      "{\"device\": '\"', \"x\": "
#define HOSTILE_COMMENT "{\"device\": \"1-3\", /* \" */ \"x\": "
#define HOSTILE_LINE    "{\"device\": \"1-3\", // \"\n\"x\": "

typedef struct {
	const gchar *content_type;
	const gchar *body;
	gssize body_len;
	guint status;
	const gchar *code;
} BodyCase;

static void
test_malformed(ApiFixture *f, gconstpointer user_data)
{
	g_autofree gchar *deep = NULL;
	g_autofree gchar *huge = NULL;
	g_autofree gchar *hostile_sq = NULL;
	g_autofree gchar *hostile_comment = NULL;
	g_autofree gchar *hostile_line = NULL;
	g_autofree gchar *exact = NULL;
	g_autofree gchar *raw = NULL;
	g_autofree gchar *answer = NULL;
	g_autoptr(ApiResponse) health = NULL;
	gsize exact_len = USBPASS_API_BODY_MAX_BYTES;
	guint status;

	if (f->skipped)
		return;
	deep = g_strnfill(20000, '[');
	huge = g_strnfill(USBPASS_API_BODY_MAX_BYTES + 1, ' ');
	hostile_sq = hostile_body(HOSTILE_SQ, 32000);
	hostile_comment = hostile_body(HOSTILE_COMMENT, 32000);
	hostile_line = hostile_body(HOSTILE_LINE, 32000);
	/* exactly at the limit: accepted, and then an unknown device */
	exact = g_strnfill(exact_len, ' ');
	memcpy(exact, "{\"device\": \"nothing\"}", strlen("{\"device\": \"nothing\"}"));
	{
		const BodyCase cases[] = {
			{ "application/json", "not json", -1, 400, "invalid-data" },
			{ "application/json", "[]", -1, 400, "invalid-data" },
			{ "application/json", "\"device\"", -1, 400, "invalid-data" },
			{ "application/json", "{\"device\": 5}", -1, 400, "invalid-data" },
			{ "application/json", "{\"device\": null}", -1, 400, "invalid-data" },
			{ "application/json", "{\"device\": [\"1-3\"]}", -1, 400, "invalid-data" },
			{ "application/json", "{}", -1, 400, "invalid-data" },
			{ "application/json",
			  "{\"device\": \"1-3\", \"extra\": 1}",
			  -1,
			  400,
			  "invalid-data" },
			{ "application/json", "{\"device\": \"\"}", -1, 400, "invalid-data" },
			{ "application/json", "{\"device\": \"a\\nb\"}", -1, 400, "invalid-data" },
			{ "application/json",
			  "{\"device\": \"\xff\xfe\"}",
			  -1,
			  400,
			  "invalid-data" },
			{ "application/json", "{\"device\": \"1-3\"", -1, 400, "invalid-data" },
			{ "application/json", "", 0, 400, "invalid-data" },
			{ "application/json", deep, -1, 400, "invalid-data" },
			/* brackets hidden from a count that knows only " strings */
			{ "application/json", hostile_sq, -1, 400, "invalid-data" },
			{ "application/json", hostile_comment, -1, 400, "invalid-data" },
			{ "application/json", hostile_line, -1, 400, "invalid-data" },
			{ "application/json", "{'device': '1-3'}", -1, 400, "invalid-data" },
			{ "application/json; charset=utf-8",
			  exact,
			  (gssize)exact_len,
			  404,
			  "not-found" },
			{ "application/json", huge, -1, 413, "invalid-data" },
			{ "text/plain", "{\"device\": \"1-3\"}", -1, 415, "invalid-data" },
			{ "application/x-www-form-urlencoded",
			  "device=1-3",
			  -1,
			  415,
			  "invalid-data" },
		};
		for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
			g_autoptr(ApiResponse) response =
			  api_request_full(f,
			                   f->tcp,
			                   "POST",
			                   "/v1/instances/demo-off/usb-devices",
			                   f->admin_token,
			                   cases[i].content_type,
			                   cases[i].body,
			                   cases[i].body_len,
			                   NULL);
			g_test_message("body case %u", i);
			api_assert_error(response, cases[i].status, cases[i].code);
		}
	}

	/* no content type at all */
	raw = g_strdup_printf(
	  "POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	  "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
	  f->admin_token);
	status = api_raw(f, raw, strlen(raw), 0, NULL);
	g_assert_cmpuint(status, ==, 415);

	/* a huge announced body is refused before it is sent */
	g_free(raw);
	raw = g_strdup_printf(
	  "POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	  "Content-Type: application/json\r\nContent-Length: 1000000000\r\n"
	  "Expect: 100-continue\r\nConnection: close\r\n\r\n",
	  f->admin_token);
	status = api_raw(f, raw, strlen(raw), 0, &answer);
	g_assert_cmpuint(status, ==, 413);
	g_clear_pointer(&answer, g_free);

	/* a chunked body counts what arrives, not what is announced */
	g_free(raw);
	raw = g_strdup_printf(
	  "POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: "
	  "close\r\n\r\n",
	  f->admin_token);
	status = api_raw(f, raw, strlen(raw), 200 * 1024, &answer);
	g_assert_cmpuint(status, ==, 413);
	g_assert_nonnull(strstr(answer, "larger than"));
	g_clear_pointer(&answer, g_free);
	/* and one that never stops is cut off */
	status = api_raw(f, raw, strlen(raw), 8 * 1024 * 1024, NULL);
	g_assert_true(status == 0 || status == 413);

	/* the daemon is still fine */
	health = api_get(f, f->tcp, "/v1/health", NULL);
	g_assert_cmpuint(health->status, ==, 200);
}

typedef struct {
	const gchar *method;
	const gchar *path;
	guint status;
	const gchar *allow;
} MethodCase;

static void
test_methods(ApiFixture *f, gconstpointer user_data)
{
	const MethodCase cases[] = {
		{ "PUT", "/v1/devices", 405, "GET, HEAD" },
		{ "DELETE", "/v1/health", 405, "GET, HEAD" },
		{ "POST", "/v1/devices/1-3", 405, "GET, HEAD" },
		{ "GET", "/v1/instances/demo-off/usb-devices", 405, "POST" },
		{ "POST", "/v1/instances/demo-off/usb-devices/1-3", 405, "DELETE" },
		{ "PATCH", "/v1/tokens", 405, "GET, HEAD, POST" },
		{ "GET", "/v1/tokens/someone", 405, "DELETE" },
		{ "POST", "/v1/events", 405, "GET" },
		{ "GET", "/v1/nothing", 404, NULL },
		{ "GET", "/v2/devices", 404, NULL },
		{ "GET", "/", 404, NULL },
		{ "GET", "/v1", 404, NULL },
		{ "GET", "/v1/devices/1-3/policy/more", 404, NULL },
		{ "GET", "/v1/instances/demo-off/usb-devices/1-3/more", 404, NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases) && !f->skipped; i++) {
		g_autoptr(ApiResponse) response = api_request_full(
		  f, f->local, cases[i].method, cases[i].path, NULL, NULL, NULL, 0, NULL);
		g_test_message("%s %s", cases[i].method, cases[i].path);
		api_assert_error(
		  response, cases[i].status, cases[i].status == 405 ? "invalid-data" : "not-found");
		g_assert_cmpstr(
		  soup_message_headers_get_one(response->headers, "Allow"), ==, cases[i].allow);
	}
}

typedef struct {
	const gchar *method;
	const gchar *path;
	const gchar *authorization; /* the header; "@reader" etc. for a token of that role */
	guint status;
} AuthCase;

static void
test_auth(ApiFixture *f, gconstpointer user_data)
{
	g_autofree gchar *reader = NULL;
	g_autofree gchar *operator= NULL;
	g_autofree gchar *revoked = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(ApiResponse) revoke = NULL;
	const AuthCase cases[] = {
		{ "GET", "/v1/devices", NULL, 401 },
		{ "GET", "/v1/devices", "Bearer wrong-secret", 401 },
		{ "GET", "/v1/devices", "Bearer ", 401 },
		{ "GET", "/v1/devices", "Bearer a b", 401 },
		{ "GET", "/v1/devices", "Basic dXNlcjpwYXNz", 401 },
		{ "GET", "/v1/devices", "@revoked", 401 },
		{ "GET", "/v1/health", NULL, 200 },
		{ "GET", "/v1/devices", "@reader", 200 },
		{ "GET", "/v1/instances", "@reader", 200 },
		{ "POST", "/v1/instances/demo-off/usb-devices", "@reader", 403 },
		{ "DELETE", "/v1/instances/demo-off/usb-devices/1-3", "@reader", 403 },
		{ "GET", "/v1/audit", "@reader", 403 },
		{ "GET", "/v1/tokens", "@reader", 403 },
		{ "GET", "/v1/audit", "@operator", 403 },
		{ "POST", "/v1/tokens", "@operator", 403 },
		{ "DELETE", "/v1/tokens/test-admin", "@operator", 403 },
		{ "GET", "/v1/audit", "@admin", 200 },
		{ "GET", "/v1/tokens", "@admin", 200 },
	};

	if (f->skipped)
		return;
	reader = api_create_token(f, "reader", "reader");
	operator= api_create_token(f, "operator", "operator");
	revoked = api_create_token(f, "gone", "admin");
	revoke =
	  api_request_full(f, f->local, "DELETE", "/v1/tokens/gone", NULL, NULL, NULL, 0, NULL);
	g_assert_cmpuint(revoke->status, ==, 204);
	body = attach_body(f->cruzer_id);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(SoupMessage) msg = NULL;
		g_autoptr(GBytes) answer = NULL;
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *url = g_strconcat(f->base_url, cases[i].path, NULL);
		g_autofree gchar *header = NULL;
		const gchar *authorization = cases[i].authorization;

		if (g_strcmp0(authorization, "@reader") == 0)
			authorization = header = g_strdup_printf("Bearer %s", reader);
		else if (g_strcmp0(authorization, "@operator") == 0)
			authorization = header = g_strdup_printf("Bearer %s", operator);
		else if (g_strcmp0(authorization, "@admin") == 0)
			authorization = header = g_strdup_printf("Bearer %s", f->admin_token);
		else if (g_strcmp0(authorization, "@revoked") == 0)
			authorization = header = g_strdup_printf("Bearer %s", revoked);
		msg = soup_message_new(cases[i].method, url);
		if (authorization != NULL)
			soup_message_headers_replace(
			  soup_message_get_request_headers(msg), "Authorization", authorization);
		if (g_strcmp0(cases[i].method, "POST") == 0) {
			g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
			soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
		}
		answer = soup_session_send_and_read(f->tcp, msg, NULL, &error_local);
		g_assert_no_error(error_local);
		g_test_message("%s %s with '%s' -> %u",
		               cases[i].method,
		               cases[i].path,
		               cases[i].authorization != NULL ? cases[i].authorization : "(none)",
		               soup_message_get_status(msg));
		g_assert_cmpuint(soup_message_get_status(msg), ==, cases[i].status);
		if (cases[i].status == 401) {
			g_assert_nonnull(soup_message_headers_get_one(
			  soup_message_get_response_headers(msg), "WWW-Authenticate"));
		}
		if (cases[i].status == 401 || cases[i].status == 403) {
			g_assert_nonnull(g_strstr_len(g_bytes_get_data(answer, NULL),
			                              (gssize)g_bytes_get_size(answer),
			                              "\"permission-denied\""));
		}
	}

	/* refusals are audited with the actor and the path */
	g_assert_true(
	  audit_has(f, "auth", "tcp:127.0.0.1", "permission-denied", "GET /v1/devices"));
	g_assert_true(audit_has(f,
	                        "auth",
	                        "token:reader",
	                        "permission-denied",
	                        "POST /v1/instances/demo-off/usb-devices"));
	g_assert_true(audit_has(f, "auth", "token:operator", "permission-denied", "GET /v1/audit"));
}

static void
test_auth_audit_flood(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) audit = NULL;
	JsonArray *entries;
	guint refusals = 0;

	if (f->skipped)
		return;
	/* a flood of refused requests is refused, but not written row by row */
	for (guint i = 0; i < 150; i++) {
		g_autoptr(ApiResponse) response =
		  api_get(f, f->tcp, "/v1/host", "usbp_not-a-token");
		g_assert_cmpuint(response->status, ==, 401);
	}
	audit = api_get(f, f->local, "/v1/audit?limit=1000", NULL);
	entries = json_object_get_array_member(api_object(audit), "entries");
	for (guint i = 0; i < json_array_get_length(entries); i++) {
		JsonObject *entry = json_array_get_object_element(entries, i);
		if (g_strcmp0(json_object_get_string_member(entry, "action"), "auth") == 0)
			refusals++;
	}
	g_assert_cmpuint(refusals, ==, 100);
}

static void
test_tokens(ApiFixture *f, gconstpointer user_data)
{
	const BodyCase bad[] = {
		{ "application/json",
		  "{\"name\": \"reader\", \"role\": \"reader\"}",
		  -1,
		  400,
		  "invalid-data" }, /* taken */
		{ "application/json",
		  "{\"name\": \"a b\", \"role\": \"reader\"}",
		  -1,
		  400,
		  "invalid-data" },
		{ "application/json",
		  "{\"name\": \"\", \"role\": \"reader\"}",
		  -1,
		  400,
		  "invalid-data" },
		{ "application/json",
		  "{\"name\": \"x\", \"role\": \"root\"}",
		  -1,
		  400,
		  "invalid-data" },
		{ "application/json", "{\"name\": \"x\"}", -1, 400, "invalid-data" },
		{ "application/json", "{\"name\": \"x\", \"role\": 2}", -1, 400, "invalid-data" },
		{ "application/json",
		  "{\"name\": 7, \"role\": \"reader\"}",
		  -1,
		  400,
		  "invalid-data" },
		{ "application/json",
		  "{\"name\": \"x\", \"role\": \"reader\", \"secret\": \"mine\"}",
		  -1,
		  400,
		  "invalid-data" },
	};
	g_autofree gchar *secret = NULL;
	g_autofree gchar *remote_secret = NULL;
	g_autoptr(ApiResponse) list = NULL;
	g_autoptr(ApiResponse) revoke = NULL;
	g_autoptr(ApiResponse) revoke_again = NULL;
	g_autoptr(ApiResponse) revoke_bad = NULL;
	g_autoptr(ApiResponse) remote = NULL;
	g_autoptr(ApiResponse) used = NULL;
	g_autofree gchar *list_text = NULL;
	JsonArray *tokens;
	gboolean found = FALSE;

	if (f->skipped)
		return;
	secret = api_create_token(f, "reader", "reader");
	g_assert_true(g_str_has_prefix(secret, "usbp_"));
	g_assert_cmpuint(strlen(secret), >=, 40);
	used = api_get(f, f->tcp, "/v1/host", secret);
	g_assert_cmpuint(used->status, ==, 200);

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ApiResponse) response =
		  api_post_json(f, f->local, "/v1/tokens", NULL, bad[i].body);
		g_test_message("%s", bad[i].body);
		api_assert_error(response, bad[i].status, bad[i].code);
	}

	/* an admin token may make tokens over TCP */
	remote = api_post_json(f,
	                       f->tcp,
	                       "/v1/tokens",
	                       f->admin_token,
	                       "{\"name\": \"made.remotely\", \"role\": \"operator\"}");
	g_assert_cmpuint(remote->status, ==, 201);
	g_assert_cmpstr(
	  soup_message_headers_get_one(remote->headers, "Cache-Control"), ==, "no-store");
	remote_secret = g_strdup(json_object_get_string_member(api_object(remote), "token"));

	/* no secret and no hash is ever shown again */
	list = api_get(f, f->tcp, "/v1/tokens", f->admin_token);
	g_assert_cmpuint(list->status, ==, 200);
	list_text = g_strndup(g_bytes_get_data(list->body, NULL), g_bytes_get_size(list->body));
	g_assert_null(strstr(list_text, secret));
	g_assert_null(strstr(list_text, remote_secret));
	g_assert_null(strstr(list_text, f->admin_token));
	g_assert_null(strstr(list_text, "sha256"));
	tokens = json_object_get_array_member(api_object(list), "tokens");
	g_assert_cmpuint(json_array_get_length(tokens), ==, 3);
	for (guint i = 0; i < json_array_get_length(tokens); i++) {
		JsonObject *token = json_array_get_object_element(tokens, i);
		g_assert_false(json_object_has_member(token, "token"));
		g_assert_nonnull(json_object_get_string_member(token, "created"));
		g_assert_true(json_object_has_member(token, "last_used"));
		if (g_strcmp0(json_object_get_string_member(token, "name"), "reader") == 0) {
			found = TRUE;
			g_assert_cmpstr(json_object_get_string_member(token, "role"), ==, "reader");
			/* it was used above */
			g_assert_nonnull(json_object_get_string_member(token, "last_used"));
		}
	}
	g_assert_true(found);

	revoke =
	  api_request_full(f, f->local, "DELETE", "/v1/tokens/reader", NULL, NULL, NULL, 0, NULL);
	g_assert_cmpuint(revoke->status, ==, 204);
	revoke_again =
	  api_request_full(f, f->local, "DELETE", "/v1/tokens/reader", NULL, NULL, NULL, 0, NULL);
	api_assert_error(revoke_again, 404, "not-found");
	revoke_bad = api_request_full(
	  f, f->local, "DELETE", "/v1/tokens/no%20such", NULL, NULL, NULL, 0, NULL);
	api_assert_error(revoke_bad, 404, "not-found");
	g_assert_true(audit_has(f, "token-create", "uid:0", "ok", "'reader'"));
	g_assert_true(audit_has(f, "token-revoke", "uid:0", "ok", "'reader'"));
}

/* curl as another user against the socket: uid and groups set in the child */
typedef struct {
	guint uid;
	guint gid;
	gint supplementary; /* -1: none */
} CredentialsSetup;

static void
credentials_child_setup(gpointer user_data)
{
	const CredentialsSetup *setup = user_data;
	gid_t groups[1];
	gsize n = 0;
	if (setup->supplementary >= 0)
		groups[n++] = (gid_t)setup->supplementary;
	if (setgroups(n, groups) != 0 || setgid(setup->gid) != 0 || setuid(setup->uid) != 0)
		_exit(127);
}

static guint
curl_as(ApiFixture *f, const CredentialsSetup *setup, const gchar *path)
{
	g_autoptr(GSubprocessLauncher) launcher =
	  g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autoptr(GSubprocess) curl = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *url = g_strconcat("http://localhost", path, NULL);

	g_subprocess_launcher_set_child_setup(
	  launcher, credentials_child_setup, (gpointer)setup, NULL);
	curl = g_subprocess_launcher_spawn(launcher,
	                                   &error_local,
	                                   "curl",
	                                   "-s",
	                                   "-o",
	                                   "/dev/null",
	                                   "-w",
	                                   "%{http_code}",
	                                   "--max-time",
	                                   "30",
	                                   "--unix-socket",
	                                   f->socket_path,
	                                   url,
	                                   NULL);
	g_assert_no_error(error_local);
	g_assert_true(g_subprocess_communicate_utf8(curl, NULL, NULL, &out, NULL, &error_local));
	g_assert_no_error(error_local);
	return (guint)g_ascii_strtoull(out, NULL, 10);
}

static void
test_unix_peer(ApiFixture *f, gconstpointer user_data)
{
	struct group *users;
	CredentialsSetup nobody = { NOBODY_ID, NOBODY_ID, -1 };
	CredentialsSetup member = { NOBODY_ID, NOBODY_ID, -1 };
	g_autofree gchar *curl = g_find_program_in_path("curl");

	if (f->skipped)
		return;
	if (getuid() != 0 || curl == NULL) {
		g_test_skip("needs root and curl to connect as another user");
		return;
	}
	users = getgrnam(f->options->socket_group);
	g_assert_nonnull(users);
	member.supplementary = (gint)users->gr_gid;
	/* let the other user reach the socket */
	g_assert_cmpint(chmod(f->tmpdir, 0711), ==, 0);

	g_assert_cmpuint(curl_as(f, &nobody, "/v1/health"), ==, 200);
	g_assert_cmpuint(curl_as(f, &nobody, "/v1/host"), ==, 403);
	g_assert_cmpuint(curl_as(f, &nobody, "/v1/devices"), ==, 403);
	/* a member of the socket group by a supplementary group is an admin */
	g_assert_cmpuint(curl_as(f, &member, "/v1/host"), ==, 200);
	g_assert_cmpuint(curl_as(f, &member, "/v1/audit"), ==, 200);
	g_assert_true(audit_has(f, "auth", "uid:65534", "permission-denied", "GET /v1/host"));
}

/* 16 clients attach one device at once: exactly one wins */

typedef struct {
	guint done;
	guint ok;
	guint conflict;
	guint other;
	gboolean all_done;
	guint total;
	gint64 start_usec;
} RaceState;

static void
race_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RaceState *state = user_data;
	SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GBytes) body =
	  soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error_local);
	guint status = body != NULL ? soup_message_get_status(msg) : 0;

	g_test_message("attach answered %u after %.3f s",
	               status,
	               (gdouble)(g_get_monotonic_time() - state->start_usec) / G_USEC_PER_SEC);
	if (status == 200)
		state->ok++;
	else if (status == 409)
		state->conflict++;
	else
		state->other++;
	if (++state->done == state->total)
		state->all_done = TRUE;
}

static void
test_concurrent_attach(ApiFixture *f, gconstpointer user_data)
{
	RaceState state = { 0 };
	g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func(g_object_unref);
	g_autofree gchar *body = NULL;
	g_autoptr(ApiResponse) device = NULL;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	state.total = 16;
	/* one session each: 16 connections, all requests on the wire at once,
	 * for three instances; the driver takes 3 s, so every request
	 * arrives while the winner holds the claim */
	for (guint i = 0; i < state.total; i++) {
		const gchar *instances[] = { "demo-off", "demo-on", "demo-transient" };
		g_autofree gchar *url =
		  g_strdup_printf("%s/v1/instances/%s/usb-devices", f->base_url, instances[i % 3]);
		SoupSession *session = soup_session_new_with_options("timeout", 60, NULL);
		SoupMessage *msg = soup_message_new("POST", url);
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		g_autofree gchar *auth = g_strdup_printf("Bearer %s", f->admin_token);
		soup_message_headers_replace(
		  soup_message_get_request_headers(msg), "Authorization", auth);
		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
		g_ptr_array_add(sessions, session);
		g_ptr_array_add(messages, msg);
	}
	state.start_usec = g_get_monotonic_time();
	for (guint i = 0; i < state.total; i++)
		soup_session_send_and_read_async(g_ptr_array_index(sessions, i),
		                                 g_ptr_array_index(messages, i),
		                                 G_PRIORITY_DEFAULT,
		                                 NULL,
		                                 race_cb,
		                                 &state);
	g_assert_true(wait_for_flag(&state.all_done, WAIT_TIMEOUT_USEC * 4));
	g_test_message("ok=%u conflict=%u other=%u", state.ok, state.conflict, state.other);
	g_assert_cmpuint(state.ok, ==, 1);
	g_assert_cmpuint(state.conflict, ==, state.total - 1);
	g_assert_cmpuint(state.other, ==, 0);
	g_assert_cmpstr(api_device_state(f, f->cruzer_id, &device), ==, "attached");
}

/* server-sent events */

typedef struct {
	GInputStream *stream;
	GDataInputStream *data;
	GCancellable *cancellable;
	gchar *line;
	gboolean line_done;
	gboolean eof;
} EventStream;

static void
event_stream_free(EventStream *self)
{
	if (self == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->data);
	g_clear_object(&self->stream);
	g_clear_object(&self->cancellable);
	g_free(self->line);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EventStream, event_stream_free)

typedef struct {
	GInputStream *stream;
	SoupMessage *msg;
	gboolean done;
} OpenState;

static void
event_stream_open_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	OpenState *state = user_data;
	state->stream = soup_session_send_finish(SOUP_SESSION(source), res, NULL);
	state->done = TRUE;
}

static EventStream *
event_stream_open(ApiFixture *f, SoupSession *session, const gchar *token)
{
	g_autofree gchar *url = g_strconcat(f->base_url, "/v1/events", NULL);
	g_autofree gchar *auth = g_strdup_printf("Bearer %s", token);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
	OpenState state = { NULL, msg, FALSE };
	EventStream *self;

	soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
	soup_session_send_async(
	  session, msg, G_PRIORITY_DEFAULT, NULL, event_stream_open_cb, &state);
	g_assert_true(wait_for_flag(&state.done, WAIT_TIMEOUT_USEC));
	g_assert_nonnull(state.stream);
	g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
	g_assert_cmpstr(
	  soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL),
	  ==,
	  "text/event-stream");
	self = g_new0(EventStream, 1);
	self->stream = state.stream;
	self->data = g_data_input_stream_new(self->stream);
	g_data_input_stream_set_newline_type(self->data, G_DATA_STREAM_NEWLINE_TYPE_LF);
	self->cancellable = g_cancellable_new();
	return self;
}

static void
event_stream_line_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	EventStream *self = user_data;
	g_autoptr(GError) error_local = NULL;
	gsize length = 0;
	self->line = g_data_input_stream_read_line_finish_utf8(
	  G_DATA_INPUT_STREAM(source), res, &length, &error_local);
	if (self->line == NULL) {
		g_test_message("the event stream ended: %s",
		               error_local != NULL ? error_local->message : "EOF");
		self->eof = TRUE;
	}
	self->line_done = TRUE;
}

/* the next line, or NULL at the end of the stream or the deadline */
static gchar *
event_stream_read_line(EventStream *self, gint64 deadline)
{
	gint64 now = g_get_monotonic_time();
	self->line_done = FALSE;
	g_data_input_stream_read_line_async(
	  self->data, G_PRIORITY_DEFAULT, self->cancellable, event_stream_line_cb, self);
	if (!wait_for_flag(&self->line_done, deadline > now ? deadline - now : 0)) {
		g_cancellable_cancel(self->cancellable);
		wait_for_flag(&self->line_done, WAIT_TIMEOUT_USEC);
		g_clear_object(&self->cancellable);
		self->cancellable = g_cancellable_new();
		return NULL;
	}
	return g_steal_pointer(&self->line);
}

/* the next event named @name (others are skipped) whose data satisfies @match */
typedef gboolean (*EventMatchFunc)(JsonObject *data, gpointer user_data);

static JsonNode *
event_stream_wait(EventStream *self, const gchar *name, EventMatchFunc match, gpointer user_data)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	g_autofree gchar *event = NULL;
	g_autoptr(GString) data = g_string_new(NULL);

	for (;;) {
		g_autofree gchar *line = event_stream_read_line(self, deadline);
		if (line == NULL)
			return NULL;
		if (line[0] == ':')
			continue;
		if (g_str_has_prefix(line, "event: ")) {
			g_free(event);
			event = g_strdup(line + 7);
		} else if (g_str_has_prefix(line, "data: ")) {
			g_string_append(data, line + 6);
		} else if (line[0] == '\0' && data->len > 0) {
			g_autoptr(JsonParser) parser = json_parser_new();
			g_test_message("event %s: %.200s", event, data->str);
			g_assert_true(
			  json_parser_load_from_data(parser, data->str, (gssize)data->len, NULL));
			if (g_strcmp0(event, name) == 0 &&
			    match(json_node_get_object(json_parser_get_root(parser)), user_data))
				return json_node_ref(json_parser_get_root(parser));
			g_string_truncate(data, 0);
			g_clear_pointer(&event, g_free);
		}
	}
}

static gboolean
event_stream_wait_hello(EventStream *self)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	g_autofree gchar *line = event_stream_read_line(self, deadline);
	return line != NULL && line[0] == ':';
}

typedef struct {
	const gchar *kind;
	const gchar *product_id;
} InventoryMatch;

static gboolean
match_inventory(JsonObject *data, gpointer user_data)
{
	const InventoryMatch *want = user_data;
	JsonObject *device = json_object_get_object_member(data, "device");
	return g_strcmp0(json_object_get_string_member(data, "kind"), want->kind) == 0 &&
	       device != NULL &&
	       g_strcmp0(json_object_get_string_member(device, "product_id"), want->product_id) ==
	         0;
}

static gboolean
match_state(JsonObject *data, gpointer user_data)
{
	const gchar *const *want = user_data; /* id, state */
	return g_strcmp0(json_object_get_string_member(data, "id"), want[0]) == 0 &&
	       g_strcmp0(json_object_get_string_member(data, "state"), want[1]) == 0;
}

static void
test_events(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(EventStream) stream = NULL;
	g_autoptr(JsonNode) added = NULL;
	g_autoptr(JsonNode) removed = NULL;
	g_autoptr(JsonNode) attached = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autofree gchar *reader = NULL;
	g_autofree gchar *syspath = NULL;
	g_autofree gchar *body = NULL;
	const InventoryMatch want_added = { "added", "beef" };
	const InventoryMatch want_removed = { "removed", "beef" };
	const gchar *want_attached[] = { NULL, "attached" };
	JsonObject *device;

	if (f->skipped)
		return;
	want_attached[0] = f->cruzer_id;
	reader = api_create_token(f, "watcher", "reader");
	session = soup_session_new_with_options("timeout", 0, NULL);
	stream = event_stream_open(f, session, reader);
	g_assert_true(event_stream_wait_hello(stream));

	/* a device is plugged into port 2 of the first root hub */
	/* clang-format off */
	syspath = umockdev_testbed_add_device(f->testbed, "usb", "1-2", "/sys/devices/pci0000:00/0000:00:14.0/usb1",
					      "idVendor", "1234\n", "idProduct", "beef\n", "bcdDevice", "0100\n",
					      "busnum", "1\n", "devnum", "9\n", "devpath", "2\n", "speed", "480\n",
					      "bDeviceClass", "00\n", "bDeviceSubClass", "00\n",
					      "bDeviceProtocol", "00\n", "bNumInterfaces", " 0\n", "maxchild", "0\n",
					      "manufacturer", "Test\n", "product", "Hotplugged <thing> & \"co\"\n",
					      "serial", "HOT-1\n",
					      NULL,
					      "DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", "009",
					      "PRODUCT", "1234/beef/100",
					      NULL);
	/* clang-format on */
	g_assert_nonnull(syspath);
	added = event_stream_wait(stream, "inventory", match_inventory, (gpointer)&want_added);
	g_assert_nonnull(added);
	device = json_object_get_object_member(json_node_get_object(added), "device");
	g_assert_true(json_object_get_boolean_member(device, "present"));
	g_assert_cmpstr(
	  json_object_get_string_member(device, "product"), ==, "Hotplugged <thing> & \"co\"");
	g_assert_cmpstr(json_object_get_string_member(device, "state"), ==, "available");

	umockdev_testbed_uevent(f->testbed, syspath, "remove");
	umockdev_testbed_remove_device(f->testbed, syspath);
	removed = event_stream_wait(stream, "inventory", match_inventory, (gpointer)&want_removed);
	g_assert_nonnull(removed);
	device = json_object_get_object_member(json_node_get_object(removed), "device");
	g_assert_false(json_object_get_boolean_member(device, "present"));

	/* a state change */
	body = attach_body(f->cruzer_id);
	attach = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(attach->status, ==, 200);
	attached = event_stream_wait(stream, "state", match_state, (gpointer)want_attached);
	g_assert_nonnull(attached);
	g_assert_cmpstr(
	  json_object_get_string_member(json_node_get_object(attached), "instance_name"),
	  ==,
	  "demo-off");
}

static void
test_events_limit(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autofree gchar *request = NULL;
	g_autofree gchar *answer = NULL;
	gint64 deadline;
	guint status = 0;

	if (f->skipped)
		return;
	request = g_strdup_printf(
	  "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
	  f->admin_token);
	/* the limit is 64 watchers */
	for (guint i = 0; i < 64; i++) {
		g_autoptr(GError) error_local = NULL;
		gchar buf[64] = { 0 };
		GSocketConnection *connection =
		  g_socket_client_connect_to_host(client, "127.0.0.1", f->port, NULL, &error_local);
		g_assert_no_error(error_local);
		g_assert_true(
		  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)),
		                            request,
		                            strlen(request),
		                            NULL,
		                            NULL,
		                            &error_local));
		g_assert_cmpint(
		  g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(connection)),
		                      buf,
		                      12,
		                      NULL,
		                      &error_local),
		  ==,
		  12);
		g_assert_cmpstr(buf, ==, "HTTP/1.1 200");
		g_ptr_array_add(connections, connection);
	}
	status = api_raw(f, request, strlen(request), 0, &answer);
	g_assert_cmpuint(status, ==, 503);
	g_assert_nonnull(strstr(answer, "Retry-After"));
	g_assert_nonnull(strstr(answer, "\"busy\""));

	/* a watcher that leaves frees its place */
	g_ptr_array_set_size(connections, 63);
	deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	do {
		g_autofree gchar *head =
		  g_strdup_printf("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		                  "Authorization: Bearer %s\r\n\r\n",
		                  f->admin_token);
		g_autoptr(GSocketConnection) connection =
		  g_socket_client_connect_to_host(client, "127.0.0.1", f->port, NULL, NULL);
		gchar buf[16] = { 0 };
		g_assert_nonnull(connection);
		g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)),
		                          head,
		                          strlen(head),
		                          NULL,
		                          NULL,
		                          NULL);
		g_input_stream_read(
		  g_io_stream_get_input_stream(G_IO_STREAM(connection)), buf, 12, NULL, NULL);
		status = (guint)g_ascii_strtoull(buf + 9, NULL, 10);
		if (status == 200)
			break;
		/* the server notices the closed connection on its next loop turn */
		{
			gboolean never = FALSE;
			wait_for_flag(&never, 50 * 1000);
		}
	} while (g_get_monotonic_time() < deadline);
	g_assert_cmpuint(status, ==, 200);
}

/* restart: the daemon is killed in the middle of an attach, or after it */

typedef struct {
	gboolean done;
	guint status;
} AsyncState;

static void
async_status_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	AsyncState *state = user_data;
	SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
	g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, NULL);
	state->status = body != NULL ? soup_message_get_status(msg) : 0;
	state->done = TRUE;
}

static void
test_restart_during_attach(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(ApiResponse) state_after = NULL;
	g_autoptr(ApiResponse) retry = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *auth = NULL;
	AsyncState pending = { FALSE, 0 };
	gint64 deadline;
	gboolean attaching = FALSE;
	const gchar *state;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	url = g_strconcat(f->base_url, "/v1/instances/demo-off/usb-devices", NULL);
	auth = g_strdup_printf("Bearer %s", f->admin_token);
	session = soup_session_new_with_options("timeout", 60, NULL);
	msg = soup_message_new("POST", url);
	bytes = g_bytes_new(body, strlen(body));
	soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
	soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	soup_session_send_and_read_async(
	  session, msg, G_PRIORITY_DEFAULT, NULL, async_status_cb, &pending);

	/* the main loop keeps serving while the (slow) driver works */
	deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	while (!attaching && g_get_monotonic_time() < deadline) {
		g_autoptr(ApiResponse) device = NULL;
		g_main_context_iteration(NULL, FALSE);
		attaching = g_strcmp0(api_device_state(f, f->cruzer_id, &device), "attaching") == 0;
	}
	g_assert_true(attaching);
	g_assert_false(pending.done);

	daemon_stop(f, SIGKILL);
	g_assert_true(wait_for_flag(&pending.done, WAIT_TIMEOUT_USEC));
	g_assert_cmpuint(pending.status, !=, 200);

	/* the next start reconciles: nothing stays half-done */
	daemon_start(f, NULL);
	g_clear_object(&f->local);
	f->local = session_new_unix(f->socket_path);
	state = api_device_state(f, f->cruzer_id, &state_after);
	g_test_message("after the restart: %s", state);
	g_assert_cmpstr(state, !=, "attaching");
	g_assert_cmpstr(state, !=, "detaching");
	if (g_strcmp0(state, "available") == 0 || g_strcmp0(state, "failed") == 0) {
		retry =
		  api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
		g_assert_cmpuint(retry->status, ==, 200);
		g_assert_cmpstr(
		  json_object_get_string_member(api_object(retry), "state"), ==, "attached");
	}
}

/* sends an attach from a session of its own; the answer lands in @state */
static SoupSession *
attach_async(ApiFixture *f, const gchar *instance, AsyncState *state)
{
	g_autofree gchar *body = attach_body(f->cruzer_id);
	g_autofree gchar *url =
	  g_strdup_printf("%s/v1/instances/%s/usb-devices", f->base_url, instance);
	g_autofree gchar *auth = g_strdup_printf("Bearer %s", f->admin_token);
	g_autoptr(SoupMessage) msg = soup_message_new("POST", url);
	g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
	SoupSession *session = soup_session_new_with_options("timeout", 60, NULL);

	soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
	soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	soup_session_send_and_read_async(
	  session, msg, G_PRIORITY_DEFAULT, NULL, async_status_cb, state);
	return session;
}

/* waits until the device shows @state; the daemon answers while it attaches */
static gboolean
wait_for_device_state(ApiFixture *f, const gchar *state)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(ApiResponse) device = NULL;
		gboolean never = FALSE;
		if (g_strcmp0(api_device_state(f, f->cruzer_id, &device), state) == 0)
			return TRUE;
		wait_for_flag(&never, 20 * 1000);
	}
	return FALSE;
}

static void
test_attach_client_gone(ApiFixture *f, gconstpointer user_data)
{
	g_autofree gchar *body = NULL;
	g_autofree gchar *request = NULL;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(ApiResponse) health = NULL;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	request =
	  g_strdup_printf("POST /v1/instances/demo-off/usb-devices HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                  "Content-Length: %zu\r\n\r\n%s",
	                  f->admin_token,
	                  strlen(body),
	                  body);
	connection =
	  g_socket_client_connect_to_host(client, "127.0.0.1", f->port, NULL, &error_local);
	g_assert_no_error(error_local);
	g_assert_true(
	  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)),
	                            request,
	                            strlen(request),
	                            NULL,
	                            NULL,
	                            &error_local));
	g_assert_true(wait_for_device_state(f, "attaching"));
	/* the client leaves while the hypervisor works: the outcome stands */
	g_assert_true(g_io_stream_close(G_IO_STREAM(connection), NULL, &error_local));
	g_assert_true(wait_for_device_state(f, "attached"));
	health = api_get(f, f->tcp, "/v1/health", NULL);
	g_assert_cmpuint(health->status, ==, 200);
	g_assert_true(audit_has(f, "attach", "token:test-admin", "ok", NULL));
}

static void
test_shutdown_during_attach(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(SoupSession) session = NULL;
	AsyncState pending = { FALSE, 0 };

	if (f->skipped)
		return;
	session = attach_async(f, "demo-off", &pending);
	g_assert_true(wait_for_device_state(f, "attaching"));
	/* SIGTERM waits for the attach, answers it, then exits cleanly */
	daemon_stop(f, SIGTERM);
	g_assert_true(wait_for_flag(&pending.done, WAIT_TIMEOUT_USEC));
	g_assert_cmpuint(pending.status, ==, 200);
}

/* a re-attach the engine started itself (actor usbpassd) is not cut off by
 * SIGTERM: the row is "attached" in the store, never left "attaching" */
static void
test_shutdown_during_reattach(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) attach = NULL;
	g_autoptr(ApiResponse) device = NULL;
	g_autoptr(UsbpassStore) store = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *syspath = NULL;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	attach = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(attach->status, ==, 200);
	syspath =
	  g_strdup(json_object_get_string_member(api_device(f, &device, f->cruzer_id), "syspath"));
	g_assert_nonnull(syspath);

	/* unplugged while attached, plugged back: the engine re-attaches it */
	umockdev_testbed_uevent(f->testbed, syspath, "remove");
	g_assert_true(wait_for_device_state(f, "missing"));
	umockdev_testbed_uevent(f->testbed, syspath, "add");
	g_assert_true(wait_for_device_state(f, "attaching"));
	daemon_stop(f, SIGTERM);

	store = USBPASS_STORE(usbpass_sqlite_store_new(f->store_path, &error_local));
	g_assert_no_error(error_local);
	row = usbpass_store_get_device(store, "testhost", f->cruzer_id, &error_local);
	g_assert_no_error(error_local);
	g_assert_cmpstr(usbpass_device_state_to_string(row->state), ==, "attached");
	g_assert_cmpstr(row->instance_name, ==, "demo-off");
}

static void
test_restart_after_attach(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) attach = NULL;
	g_autoptr(ApiResponse) device = NULL;
	g_autoptr(ApiResponse) instance = NULL;
	g_autoptr(ApiResponse) token_still = NULL;
	g_autofree gchar *body = NULL;
	const gchar *state;
	JsonArray *devices;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	attach = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(attach->status, ==, 200);

	daemon_stop(f, SIGKILL);
	daemon_start(f, NULL);
	g_clear_object(&f->local);
	f->local = session_new_unix(f->socket_path);

	/* the store kept the token and the row; the in-memory driver forgot its
	 * definitions, and the reconcile at start-up made the row agree */
	token_still = api_get(f, f->tcp, "/v1/host", f->admin_token);
	g_assert_cmpuint(token_still->status, ==, 200);
	state = api_device_state(f, f->cruzer_id, &device);
	g_test_message("after the restart: %s", state);
	g_assert_true(g_strcmp0(state, "attached") == 0 || g_strcmp0(state, "available") == 0 ||
	              g_strcmp0(state, "failed") == 0);
	instance = api_get(f, f->local, "/v1/instances/demo-off", NULL);
	devices = json_object_get_array_member(api_object(instance), "devices");
	/* the instance lists the device exactly when the device names the instance */
	if (g_strcmp0(state, "available") == 0)
		g_assert_cmpuint(json_array_get_length(devices), ==, 0);
	else
		g_assert_cmpuint(json_array_get_length(devices), ==, 1);
	g_assert_true(audit_has(f, "attach", "uid:0", "ok", NULL));
}

/* against a real libvirtd: a shut-off domain gets the device in its definition */

static gchar *
virsh(const gchar *uri, GError **error, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) process = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *arg;
	va_list args;

	g_ptr_array_add(argv, (gpointer) "virsh");
	g_ptr_array_add(argv, (gpointer) "-q");
	g_ptr_array_add(argv, (gpointer) "-c");
	g_ptr_array_add(argv, (gpointer)uri);
	va_start(args, error);
	while ((arg = va_arg(args, const gchar *)) != NULL)
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(args);
	g_ptr_array_add(argv, NULL);
	process = g_subprocess_newv((const gchar *const *)argv->pdata,
	                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
	                            error);
	if (process == NULL ||
	    !g_subprocess_communicate_utf8(process, NULL, NULL, &out, &err, error))
		return NULL;
	if (!g_subprocess_get_successful(process)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "virsh failed: %s", err);
		return NULL;
	}
	return g_steal_pointer(&out);
}

static void
test_libvirt(ApiFixture *f, gconstpointer user_data)
{
	const gchar *uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	g_autofree gchar *name = NULL;
	g_autofree gchar *xml_path = NULL;
	g_autofree gchar *xml = NULL;
	g_autofree gchar *defined = NULL;
	g_autofree gchar *dump = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *detach = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(ApiResponse) host = NULL;
	g_autoptr(ApiResponse) attach = NULL;
	g_autoptr(ApiResponse) device = NULL;
	g_autoptr(ApiResponse) released = NULL;
	g_autoptr(ApiResponse) running = NULL;
	g_autofree gchar *running_name = NULL;

	if (f->skipped)
		return;
	if (uri == NULL) {
		g_test_skip("USBPASS_TEST_LIBVIRT_URI is not set: run under scripts/with-libvirtd");
		return;
	}
	host = api_get(f, f->local, "/v1/host", NULL);
	g_assert_cmpstr(json_object_get_string_member(api_object(host), "driver"), ==, "libvirt");

	name = g_strdup_printf("usbpass-api-test-%d", (gint)getpid());
	xml_path = g_build_filename(f->tmpdir, "domain.xml", NULL);
	xml = g_strdup_printf(
	  "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
	  "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>"
	  "<devices><controller type='usb' model='qemu-xhci'/></devices></domain>",
	  name);
	g_assert_true(g_file_set_contents(xml_path, xml, -1, NULL));
	defined = virsh(uri, &error_local, "define", xml_path, NULL);
	g_assert_no_error(error_local);

	body = attach_body(f->cruzer_id);
	path = attach_path(name);
	/* the driver learns of the new domain by its event; retry until then */
	{
		gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
		do {
			g_clear_pointer(&attach, api_response_free);
			attach = api_post_json(f, f->local, path, NULL, body);
		} while (attach->status == 404 && g_get_monotonic_time() < deadline);
	}
	g_assert_cmpuint(attach->status, ==, 200);
	g_assert_cmpstr(json_object_get_string_member(api_object(attach), "state"), ==, "attached");
	dump = virsh(uri, &error_local, "dumpxml", "--inactive", name, NULL);
	g_assert_no_error(error_local);
	g_assert_nonnull(strstr(dump, "<hostdev"));
	g_assert_nonnull(strstr(dump, "0x0781"));

	/* killed and restarted: the store and the definition still agree */
	daemon_stop(f, SIGKILL);
	daemon_start(f, NULL);
	g_clear_object(&f->local);
	f->local = session_new_unix(f->socket_path);
	g_assert_cmpstr(api_device_state(f, f->cruzer_id, &device), ==, "attached");

	detach = detach_path(name, f->cruzer_id);
	released = api_request_full(f, f->local, "DELETE", detach, NULL, NULL, NULL, 0, NULL);
	g_assert_cmpuint(released->status, ==, 200);
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(released), "state"), ==, "available");
	g_free(dump);
	dump = virsh(uri, &error_local, "dumpxml", "--inactive", name, NULL);
	g_assert_no_error(error_local);
	g_assert_null(strstr(dump, "<hostdev"));

	g_free(virsh(uri, NULL, "undefine", name, NULL));
}

static gboolean
policy_allows(ApiFixture *f, const gchar *id)
{
	g_autofree gchar *escaped = g_uri_escape_string(id, NULL, FALSE);
	g_autofree gchar *path = g_strdup_printf("/v1/devices/%s/policy", escaped);
	g_autoptr(ApiResponse) verdict = api_get(f, f->local, path, NULL);
	g_assert_cmpuint(verdict->status, ==, 200);
	return json_object_get_boolean_member(api_object(verdict), "allowed");
}

static void
test_policy_reload(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) denied = NULL;
	g_autoptr(ApiResponse) verdict = NULL;
	g_autoptr(ApiResponse) policy = NULL;
	g_autoptr(ApiResponse) allowed = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *escaped = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error_local = NULL;
	gint64 deadline;
	gboolean found = FALSE;
	JsonArray *rules;

	if (f->skipped)
		return;
	body = attach_body(f->cruzer_id);
	escaped = g_uri_escape_string(f->cruzer_id, NULL, FALSE);
	path = g_strdup_printf("/v1/devices/%s/policy", escaped);

	/* the operator's rule comes after the built-in ones and decides */
	policy = api_get(f, f->local, "/v1/policy", NULL);
	rules = json_object_get_array_member(api_object(policy), "rules");
	for (guint i = 0; i < json_array_get_length(rules); i++)
		found |= strstr(json_array_get_string_element(rules, i), "sticks") != NULL;
	g_assert_true(found);
	verdict = api_get(f, f->local, path, NULL);
	g_assert_false(json_object_get_boolean_member(api_object(verdict), "allowed"));
	g_assert_cmpstr(
	  json_object_get_string_member(api_object(verdict), "rule"), ==, "[deny sticks]");
	g_assert_cmpstr(json_object_get_string_member(api_object(verdict), "reason"),
	                ==,
	                "sticks stay on this host");
	denied = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	api_assert_error(denied, 403, "denied-by-policy");
	g_assert_nonnull(strstr(api_error_message(denied), "sticks stay on this host"));

	/* a broken file on SIGHUP keeps the rules in force */
	g_assert_true(g_file_set_contents(
	  f->policy_path, "[deny sticks]\nmatch-idd=0781:5567\n", -1, &error_local));
	g_subprocess_send_signal(f->daemon, SIGHUP);
	/* whether the reload ran before this request or not, the rule holds */
	g_assert_false(policy_allows(f, f->cruzer_id));

	/* a fixed file on SIGHUP applies */
	g_assert_true(g_file_set_contents(
	  f->policy_path, "[allow sticks]\nmatch-id=0781:5567\n", -1, &error_local));
	g_subprocess_send_signal(f->daemon, SIGHUP);
	deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	while (!policy_allows(f, f->cruzer_id) && g_get_monotonic_time() < deadline) {
		gboolean never = FALSE;
		wait_for_flag(&never, 20 * 1000);
	}
	g_assert_true(policy_allows(f, f->cruzer_id));
	allowed = api_post_json(f, f->local, "/v1/instances/demo-off/usb-devices", NULL, body);
	g_assert_cmpuint(allowed->status, ==, 200);
}

static void
test_tls(ApiFixture *f, gconstpointer user_data)
{
	g_autoptr(ApiResponse) host = NULL;
	g_autoptr(ApiResponse) anonymous = NULL;
	g_autofree gchar *request = NULL;
	guint status;

	if (f->skipped)
		return;
	g_assert_true(g_str_has_prefix(f->base_url, "https://"));
	host = api_get(f, f->tcp, "/v1/host", f->admin_token);
	g_assert_cmpuint(host->status, ==, 200);
	g_assert_cmpstr(json_object_get_string_member(api_object(host), "host"), ==, "testhost");
	anonymous = api_get(f, f->tcp, "/v1/devices", NULL);
	api_assert_error(anonymous, 401, "permission-denied");

	/* plain HTTP on the TLS port gets no answer */
	request =
	  g_strdup("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	status = api_raw(f, request, strlen(request), 0, NULL);
	g_assert_cmpuint(status, ==, 0);
}

/* in-process: configuration */

static void
test_config_defaults(void)
{
	g_autoptr(UsbpassConfig) config = usbpass_config_new();
	g_autofree gchar *hint = usbpass_config_get_enable_hint(config);
	g_assert_false(config->enabled);
	g_assert_cmpstr(config->host, ==, g_get_host_name());
	g_assert_cmpstr(config->store, ==, "/var/lib/usbpass/usbpass.db");
	g_assert_cmpstr(config->socket, ==, "/run/usbpass/usbpassd.sock");
	g_assert_cmpstr(config->socket_group, ==, "usbpass");
	g_assert_cmpuint(config->socket_mode, ==, 0660);
	g_assert_null(config->listen);
	g_assert_null(config->tls_certificate);
	g_assert_cmpstr(config->driver, ==, "libvirt");
	g_assert_cmpstr(config->libvirt_uri, ==, "qemu:///system");
	g_assert_null(config->policy_file);
	g_assert_cmpint(config->log_level, ==, G_LOG_LEVEL_INFO);
	g_assert_nonnull(strstr(hint, "enabled=true"));
	g_assert_nonnull(strstr(hint, "--enable"));
}

static void
test_config_example(void)
{
	/* the documented example parses and gives the defaults */
	g_autoptr(UsbpassConfig) config = usbpass_config_new();
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *path =
	  g_build_filename(g_getenv("G_TEST_SRCDIR") != NULL ? g_getenv("G_TEST_SRCDIR") : "tests",
	                   "..",
	                   "data",
	                   "usbpassd.conf",
	                   NULL);
	g_autofree gchar *data = NULL;
	gsize length = 0;
	g_autoptr(GString) uncommented = NULL;

	g_assert_true(usbpass_config_load_file(config, path, &error_local));
	g_assert_no_error(error_local);
	g_assert_false(config->enabled);
	g_assert_cmpstr(config->path, ==, path);

	/* every documented key, uncommented, is known and holds its default */
	g_assert_true(g_file_get_contents(path, &data, &length, NULL));
	uncommented = g_string_new(NULL);
	{
		g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
		guint keys = 0;
		for (guint i = 0; lines[i] != NULL; i++) {
			const gchar *line = lines[i];
			if (g_str_has_prefix(line, "#") && strchr(line, '=') != NULL &&
			    strchr(line, ' ') == NULL) {
				line++;
				keys++;
			}
			g_string_append_printf(uncommented, "%s\n", line);
		}
		g_assert_cmpuint(keys, ==, 17);
	}
	{
		g_autoptr(UsbpassConfig) all = usbpass_config_new();
		g_autoptr(UsbpassConfig) defaults = usbpass_config_new();
		g_assert_true(usbpass_config_load_data(
		  all, uncommented->str, uncommented->len, "example", &error_local));
		g_assert_no_error(error_local);
		g_assert_cmpint(all->enabled, ==, defaults->enabled);
		g_assert_cmpstr(all->host, ==, defaults->host);
		g_assert_cmpstr(all->store, ==, defaults->store);
		g_assert_cmpstr(all->socket, ==, defaults->socket);
		g_assert_cmpstr(all->socket_group, ==, defaults->socket_group);
		g_assert_cmpuint(all->socket_mode, ==, defaults->socket_mode);
		g_assert_cmpstr(all->listen, ==, defaults->listen);
		g_assert_cmpstr(all->driver, ==, defaults->driver);
		g_assert_cmpstr(all->test_state, ==, defaults->test_state);
		g_assert_cmpstr(all->libvirt_uri, ==, defaults->libvirt_uri);
		g_assert_cmpstr(all->policy_file, ==, defaults->policy_file);
		g_assert_cmpint(all->log_level, ==, defaults->log_level);
		g_assert_cmpuint(all->max_connections, ==, defaults->max_connections);
		g_assert_cmpuint(all->request_timeout_seconds, ==, defaults->request_timeout_seconds);
		g_assert_cmpuint(all->idle_timeout_seconds, ==, defaults->idle_timeout_seconds);
	}
}

static void
test_config_values(void)
{
	g_autoptr(UsbpassConfig) config = usbpass_config_new();
	g_autoptr(GError) error_local = NULL;
	const gchar *text =
	  "[daemon]\nenabled=true\nhost=node-7\nstore=/tmp/x.db\nsocket=/tmp/x.sock\n"
	  "socket-group=\nsocket-mode=0666\nlisten=127.0.0.1:8484\ntls-certificate=/c.pem\n"
	  "tls-key=/k.pem\ndriver=test\ntest-state=/tmp/hv.state\nlog-level=debug\n[libvirt]\nuri=qemu:///session\n"
	  "[policy]\nfile=/etc/usbpass/policy.conf\n";

	g_assert_true(usbpass_config_load_data(config, text, strlen(text), "t.conf", &error_local));
	g_assert_no_error(error_local);
	g_assert_true(config->enabled);
	g_assert_cmpstr(config->host, ==, "node-7");
	g_assert_cmpstr(config->store, ==, "/tmp/x.db");
	g_assert_cmpstr(config->socket, ==, "/tmp/x.sock");
	g_assert_null(config->socket_group);
	g_assert_cmpuint(config->socket_mode, ==, 0666);
	g_assert_cmpstr(config->listen, ==, "127.0.0.1:8484");
	g_assert_cmpstr(config->tls_certificate, ==, "/c.pem");
	g_assert_cmpstr(config->tls_key, ==, "/k.pem");
	g_assert_cmpstr(config->driver, ==, "test");
	g_assert_cmpstr(config->test_state, ==, "/tmp/hv.state");
	g_assert_cmpint(config->log_level, ==, G_LOG_LEVEL_DEBUG);
	g_assert_cmpstr(config->libvirt_uri, ==, "qemu:///session");
	g_assert_cmpstr(config->policy_file, ==, "/etc/usbpass/policy.conf");
	g_assert_cmpstr(config->path, ==, "t.conf");
}

typedef struct {
	const gchar *text;
	const gchar *needle; /* in the message */
} ConfigFailCase;

static void
test_config_failures(void)
{
	const ConfigFailCase cases[] = {
		{ "[daemon]\nenabeld=true\n", "enabeld" },
		{ "[deamon]\nenabled=true\n", "deamon" },
		{ "[daemon]\nenabled=maybe\n", "enabled" },
		{ "[daemon]\nsocket-mode=0999\n", "socket-mode" },
		{ "[daemon]\nsocket-mode=rw\n", "socket-mode" },
		{ "[daemon]\ndriver=xen\n", "driver" },
		{ "[daemon]\nlog-level=loud\n", "log-level" },
		{ "[daemon]\ntls-certificate=/c.pem\n", "tls-key" },
		{ "[daemon]\nstore=\n", "store" },
		{ "[daemon]\nhost=a\\tb\n", "host" },
		{ "not a key file", "f.conf" },
		{ "[libvirt]\nurl=qemu:///system\n", "url" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassConfig) config = usbpass_config_new();
		g_autoptr(GError) error_local = NULL;
		g_assert_false(usbpass_config_load_data(
		  config, cases[i].text, strlen(cases[i].text), "f.conf", &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_test_message("%s", error_local->message);
		g_assert_nonnull(strstr(error_local->message, cases[i].needle));
		/* a failure leaves the defaults */
		g_assert_false(config->enabled);
		g_assert_cmpstr(config->driver, ==, "libvirt");
		g_assert_null(config->path);
	}
	{
		g_autoptr(UsbpassConfig) config = usbpass_config_new();
		g_autoptr(GError) error_local = NULL;
		g_assert_false(
		  usbpass_config_load_file(config, "/nonexistent/usbpassd.conf", &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	}
	{
		GLogLevelFlags level = G_LOG_LEVEL_INFO;
		g_autoptr(GError) error_local = NULL;
		g_assert_false(usbpass_config_parse_log_level("verbose", &level, &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_cmpint(level, ==, G_LOG_LEVEL_INFO);
		g_assert_cmpstr(
		  usbpass_config_log_level_to_string(G_LOG_LEVEL_WARNING), ==, "warning");
	}
}

/* in-process: authentication */

typedef struct {
	gchar *tmpdir;
	UsbpassStore *store;
	UsbpassAuth *auth;
} AuthFixture;

static void
auth_setup(AuthFixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *path = NULL;
	f->tmpdir = g_dir_make_tmp("usbpass-auth-XXXXXX", &error_local);
	g_assert_no_error(error_local);
	path = g_build_filename(f->tmpdir, "usbpass.db", NULL);
	f->store = USBPASS_STORE(usbpass_sqlite_store_new(path, &error_local));
	g_assert_no_error(error_local);
	f->auth = usbpass_auth_new(f->store);
}

static void
auth_teardown(AuthFixture *f, gconstpointer user_data)
{
	g_clear_object(&f->auth);
	g_clear_object(&f->store);
	remove_tree(f->tmpdir);
	g_free(f->tmpdir);
}

static void
test_auth_secrets(AuthFixture *f, gconstpointer user_data)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree gchar *hash = usbpass_auth_hash_secret("abc");

	/* SHA-256("abc"), as the store keeps it */
	g_assert_cmpstr(
	  hash, ==, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	for (guint i = 0; i < 200; i++) {
		g_autoptr(GError) error_local = NULL;
		gchar *secret = usbpass_auth_generate_secret(&error_local);
		g_assert_no_error(error_local);
		g_assert_true(g_str_has_prefix(secret, USBPASS_AUTH_SECRET_PREFIX));
		g_assert_cmpuint(strlen(secret), ==, strlen(USBPASS_AUTH_SECRET_PREFIX) + 43);
		for (const gchar *p = secret; *p != '\0'; p++)
			g_assert_true(g_ascii_isalnum(*p) || *p == '-' || *p == '_');
		g_assert_false(g_hash_table_contains(seen, secret));
		g_hash_table_add(seen, secret);
	}
}

static void
test_auth_tokens(AuthFixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *secret = NULL;
	g_autofree gchar *header = NULL;
	g_autoptr(UsbpassToken) token = NULL;
	g_autoptr(UsbpassAuthCaller) caller = NULL;
	g_autoptr(UsbpassAuthCaller) after = NULL;
	g_autoptr(GPtrArray) tokens = NULL;
	const gchar *bad_names[] = { "", "a b", "x/y", "ünï", "a\nb", NULL };

	usbpass_auth_set_max_tokens(f->auth, 2);
	token = usbpass_auth_create_token(
	  f->auth, "first", USBPASS_TOKEN_ROLE_OPERATOR, &secret, &error_local);
	g_assert_no_error(error_local);
	g_assert_nonnull(token);
	/* the store keeps only the hash */
	tokens = usbpass_store_list_tokens(f->store, &error_local);
	g_assert_no_error(error_local);
	g_assert_cmpuint(tokens->len, ==, 1);
	{
		g_autofree gchar *hash = usbpass_auth_hash_secret(secret);
		UsbpassToken *stored = g_ptr_array_index(tokens, 0);
		g_assert_cmpstr(stored->secret_hash, ==, hash);
		g_assert_null(strstr(stored->secret_hash, secret));
	}

	for (guint i = 0; bad_names[i] != NULL; i++) {
		g_autoptr(GError) error_name = NULL;
		g_autofree gchar *unused = NULL;
		g_autoptr(UsbpassToken) none = usbpass_auth_create_token(
		  f->auth, bad_names[i], USBPASS_TOKEN_ROLE_READER, &unused, &error_name);
		g_assert_null(none);
		g_assert_null(unused);
		g_assert_error(error_name, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
	{
		g_autoptr(GError) error_taken = NULL;
		g_autofree gchar *unused = NULL;
		g_autoptr(UsbpassToken) none = usbpass_auth_create_token(
		  f->auth, "first", USBPASS_TOKEN_ROLE_READER, &unused, &error_taken);
		g_assert_null(none);
		g_assert_error(error_taken, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
	{
		g_autoptr(GError) error_limit = NULL;
		g_autofree gchar *second_secret = NULL;
		g_autofree gchar *unused = NULL;
		g_autoptr(UsbpassToken) second = usbpass_auth_create_token(
		  f->auth, "second", USBPASS_TOKEN_ROLE_READER, &second_secret, &error_limit);
		g_autoptr(UsbpassToken) third = NULL;
		g_assert_no_error(error_limit);
		g_assert_nonnull(second);
		third = usbpass_auth_create_token(
		  f->auth, "third", USBPASS_TOKEN_ROLE_READER, &unused, &error_limit);
		g_assert_null(third);
		g_assert_error(error_limit, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error_limit->message, "limit"));
	}

	header = g_strdup_printf("Bearer %s", secret);
	caller = usbpass_auth_identify_bearer(f->auth, header, "192.0.2.1", &error_local);
	g_assert_no_error(error_local);
	g_assert_true(caller->authenticated);
	g_assert_cmpstr(caller->actor, ==, "token:first");
	g_assert_cmpint(caller->role, ==, USBPASS_TOKEN_ROLE_OPERATOR);
	g_assert_true(
	  usbpass_auth_caller_authorize(caller, USBPASS_TOKEN_ROLE_READER, &error_local));
	g_assert_true(
	  usbpass_auth_caller_authorize(caller, USBPASS_TOKEN_ROLE_OPERATOR, &error_local));
	g_assert_no_error(error_local);
	g_assert_false(
	  usbpass_auth_caller_authorize(caller, USBPASS_TOKEN_ROLE_ADMIN, &error_local));
	g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_PERMISSION_DENIED);
	g_clear_error(&error_local);

	/* revoked: unknown at once, though it was cached */
	g_assert_true(usbpass_auth_revoke_token(f->auth, "first", &error_local));
	g_assert_no_error(error_local);
	after = usbpass_auth_identify_bearer(f->auth, header, "192.0.2.1", &error_local);
	g_assert_no_error(error_local);
	g_assert_false(after->authenticated);
	g_assert_true(after->credentials_given);
	g_assert_cmpstr(after->actor, ==, "tcp:192.0.2.1");
	g_assert_false(
	  usbpass_auth_caller_authorize(after, USBPASS_TOKEN_ROLE_READER, &error_local));
	g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_PERMISSION_DENIED);
	g_clear_error(&error_local);
	g_assert_false(usbpass_auth_revoke_token(f->auth, "first", &error_local));
	g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

typedef struct {
	const gchar *authorization;
	gboolean credentials_given;
} BearerCase;

static void
test_auth_bearer_garbage(AuthFixture *f, gconstpointer user_data)
{
	g_autofree gchar *long_secret = g_strnfill(100000, 'a');
	g_autofree gchar *long_header = g_strdup_printf("Bearer %s", long_secret);
	const BearerCase cases[] = {
		{ NULL, FALSE },
		{ "", FALSE },
		{ "Basic dXNlcjpwYXNz", FALSE },
		{ "Bearer", FALSE },
		{ "Bearer ", TRUE },
		{ "Bearer usbp_unknown", TRUE },
		{ "bearer usbp_unknown", TRUE },
		{ "Bearer a\"b", TRUE },
		{ "Bearer \xff\xfe", TRUE },
		{ long_header, TRUE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(UsbpassAuthCaller) caller =
		  usbpass_auth_identify_bearer(f->auth, cases[i].authorization, NULL, &error_local);
		g_assert_no_error(error_local);
		g_assert_nonnull(caller);
		g_assert_false(caller->authenticated);
		g_assert_cmpint(caller->credentials_given, ==, cases[i].credentials_given);
		g_assert_cmpstr(caller->actor, ==, "tcp:unknown");
		g_assert_nonnull(caller->detail);
		g_assert_false(
		  usbpass_auth_caller_authorize(caller, USBPASS_TOKEN_ROLE_READER, &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_PERMISSION_DENIED);
	}
	{
		g_autoptr(GError) error_local = NULL;
		g_assert_false(
		  usbpass_auth_set_admin_group(f->auth, "no-such-group-usbpass", &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
		g_assert_null(usbpass_auth_get_admin_group(f->auth));
		g_assert_true(usbpass_auth_set_admin_group(f->auth, "root", NULL));
		g_assert_cmpstr(usbpass_auth_get_admin_group(f->auth), ==, "root");
		g_assert_true(usbpass_auth_set_admin_group(f->auth, NULL, NULL));
		g_assert_null(usbpass_auth_get_admin_group(f->auth));
	}
}

static void
test_auth_peer_group(void)
{
	CredentialsSetup setup = { NOBODY_ID, 4243, 4242 };
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) child = NULL;
	g_autoptr(GError) error_local = NULL;
	guint pid;

	if (getuid() != 0) {
		g_test_skip("needs root to start a process with other groups");
		return;
	}
	/* a child with supplementary group 4242 that lives until its stdin closes */
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE);
	g_subprocess_launcher_set_child_setup(launcher, credentials_child_setup, &setup, NULL);
	child = g_subprocess_launcher_spawn(launcher, &error_local, "cat", NULL);
	g_assert_no_error(error_local);
	pid = (guint)g_ascii_strtoull(g_subprocess_get_identifier(child), NULL, 10);

	/* /proc shows the groups only once the child has set them: wait for it */
	{
		gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
		while (!usbpass_auth_peer_in_group(pid, NOBODY_ID, 1, 4242) &&
		       g_get_monotonic_time() < deadline) {
			gboolean never = FALSE;
			wait_for_flag(&never, 10 * 1000);
		}
	}
	g_assert_true(usbpass_auth_peer_in_group(pid, NOBODY_ID, 1, 4242));
	g_assert_true(usbpass_auth_peer_in_group(pid, NOBODY_ID, 4243, 4243));
	g_assert_false(usbpass_auth_peer_in_group(pid, NOBODY_ID, 4243, 4244));
	g_assert_false(usbpass_auth_peer_in_group(pid, NOBODY_ID, 4243, 0));
	/* a process that is gone: the user database decides (nobody is in no group 4242) */
	g_assert_true(g_output_stream_close(g_subprocess_get_stdin_pipe(child), NULL, NULL));
	g_assert_true(g_subprocess_wait(child, NULL, NULL));
	g_assert_false(usbpass_auth_peer_in_group(pid, NOBODY_ID, 4243, 4242));
	g_assert_true(usbpass_auth_peer_in_group(pid, NOBODY_ID, 4243, 4243));
}

typedef struct {
	const gchar *name;
	const gchar *status;
	guint uid;
	guint gid;
	gboolean answers;
	gboolean in_group;
} StatusCase;

/* the /proc fallback for kernels without SO_PEERGROUPS: a status that is not
 * the credential's user (a reused pid) must not answer */
static void
test_auth_peer_status(void)
{
	const StatusCase cases[] = {
		{ "member",
		  "Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"
		  "Groups:\t24 4242 27 \n",
		  1000,
		  4242,
		  TRUE,
		  TRUE },
		{ "not-member",
		  "Uid:\t1000\t1000\t1000\t1000\nGroups:\t24 27\n",
		  1000,
		  4242,
		  TRUE,
		  FALSE },
		{ "no-groups",
		  "Uid:\t1000\t1000\t1000\t1000\nGroups:\t\n",
		  1000,
		  4242,
		  TRUE,
		  FALSE },
		{ "reused-by-other-user",
		  "Uid:\t0\t0\t0\t0\nGroups:\t4242\n",
		  1000,
		  4242,
		  FALSE,
		  FALSE },
		{ "real-differs",
		  "Uid:\t0\t1000\t1000\t1000\nGroups:\t4242\n",
		  1000,
		  4242,
		  FALSE,
		  FALSE },
		{ "effective-differs",
		  "Uid:\t1000\t0\t1000\t1000\nGroups:\t4242\n",
		  1000,
		  4242,
		  FALSE,
		  FALSE },
		{ "groups-before-uid",
		  "Groups:\t4242\nUid:\t1000\t1000\t1000\t1000\n",
		  1000,
		  4242,
		  TRUE,
		  TRUE },
		{ "no-uid-line", "Groups:\t4242\n", 1000, 4242, FALSE, FALSE },
		{ "no-groups-line", "Uid:\t1000\t1000\t1000\t1000\n", 1000, 4242, FALSE, FALSE },
		{ "garbled-uid", "Uid:\tx\t1000\nGroups:\t4242\n", 1000, 4242, FALSE, FALSE },
		{ "short-uid", "Uid:\t1000\nGroups:\t4242\n", 1000, 4242, FALSE, FALSE },
		{ "empty", "", 1000, 4242, FALSE, FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		gboolean in_group = 2; /* untouched unless it answers */
		gboolean answers = usbpass_auth_status_in_group(
		  cases[i].status, cases[i].uid, cases[i].gid, &in_group);
		g_test_message("status{%s}", cases[i].name);
		g_assert_cmpint(answers, ==, cases[i].answers);
		g_assert_cmpint(in_group, ==, cases[i].answers ? cases[i].in_group : 2);
	}

	/* this process's own status answers for its own user only */
	{
		g_autofree gchar *status = NULL;
		gboolean in_group = FALSE;
		g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL, NULL));
		g_assert_true(usbpass_auth_status_in_group(
		                status, (guint)getuid(), (guint)getgid(), &in_group) ||
		              getuid() != geteuid());
		g_assert_false(
		  usbpass_auth_status_in_group(status, (guint)getuid() + 1, 4242, &in_group));
	}
}

/* SO_PEERGROUPS: the kernel's record of the peer's groups at connect time */
static void
test_auth_peer_socket(void)
{
	gint fds[2] = { -1, -1 };
	gint pipe_fds[2] = { -1, -1 };
	gid_t groups[256];
	gint ngroups = getgroups(G_N_ELEMENTS(groups), groups);
	gboolean in_group = FALSE;

	g_assert_cmpint(ngroups, >=, 0);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	if (!usbpass_auth_socket_in_group(fds[0], 4242, &in_group)) {
		close(fds[0]);
		close(fds[1]);
		g_test_skip("the kernel has no SO_PEERGROUPS (Linux < 4.13)");
		return;
	}
	for (gint i = 0; i < ngroups; i++) {
		in_group = FALSE;
		g_assert_true(usbpass_auth_socket_in_group(fds[0], (guint)groups[i], &in_group));
		g_assert_true(in_group);
	}
	for (guint gid = 4242; gid < 4245; gid++) {
		gboolean ours = FALSE;
		for (gint i = 0; i < ngroups; i++)
			ours = ours || groups[i] == gid;
		in_group = !ours;
		g_assert_true(usbpass_auth_socket_in_group(fds[1], gid, &in_group));
		g_assert_cmpint(in_group, ==, ours);
	}
	close(fds[0]);
	close(fds[1]);

	/* not a socket, or no fd: the kernel cannot tell */
	g_assert_cmpint(pipe(pipe_fds), ==, 0);
	in_group = 2;
	g_assert_false(usbpass_auth_socket_in_group(pipe_fds[0], 0, &in_group));
	g_assert_false(usbpass_auth_socket_in_group(-1, 0, &in_group));
	g_assert_cmpint(in_group, ==, 2);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

/* in-process: the keep-alive timer of the event watchers */

static void
events_handler_cb(SoupServer *server,
                  SoupServerMessage *msg,
                  const char *path,
                  GHashTable *query,
                  gpointer user_data)
{
	UsbpassApiEvents *events = USBPASS_API_EVENTS(user_data);
	g_autoptr(GError) error_local = NULL;
	g_assert_true(usbpass_api_events_add_watcher(events, msg, &error_local));
	g_assert_no_error(error_local);
}

static gboolean
events_tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static gboolean
events_wait_for_watchers(UsbpassApiEvents *events, guint count)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_USEC;
	guint tick_id = g_timeout_add(20, events_tick_cb, NULL);
	while (usbpass_api_events_get_watcher_count(events) != count &&
	       g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(tick_id);
	return usbpass_api_events_get_watcher_count(events) == count;
}

static void
test_events_keepalive(void)
{
	g_autoptr(UsbpassApiEvents) events = usbpass_api_events_new();
	g_autoptr(SoupServer) server = soup_server_new(NULL, NULL);
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GError) error_local = NULL;
	GSList *uris;
	guint port;

	usbpass_api_events_set_keepalive(events, 1);
	soup_server_add_handler(server, "/v1/events", events_handler_cb, events, NULL);
	g_assert_true(
	  soup_server_listen_local(server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error_local));
	g_assert_no_error(error_local);
	uris = soup_server_get_uris(server);
	g_assert_nonnull(uris);
	port = (guint)g_uri_get_port(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	g_assert_false(usbpass_api_events_get_keepalive_armed(events));

	/* twice: the timer starts with the first watcher and stops with the last */
	for (guint round = 0; round < 2; round++) {
		g_autoptr(GSocketConnection) first = NULL;
		g_autoptr(GSocketConnection) second = NULL;
		const gchar *request = "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

		first =
		  g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error_local);
		g_assert_no_error(error_local);
		g_assert_true(
		  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(first)),
		                            request,
		                            strlen(request),
		                            NULL,
		                            NULL,
		                            &error_local));
		g_assert_no_error(error_local);
		g_assert_true(events_wait_for_watchers(events, 1));
		g_assert_true(usbpass_api_events_get_keepalive_armed(events));

		second =
		  g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error_local);
		g_assert_no_error(error_local);
		g_assert_true(
		  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(second)),
		                            request,
		                            strlen(request),
		                            NULL,
		                            NULL,
		                            &error_local));
		g_assert_no_error(error_local);
		g_assert_true(events_wait_for_watchers(events, 2));

		/* one leaves: the other still gets keep-alives */
		g_assert_true(g_io_stream_close(G_IO_STREAM(first), NULL, &error_local));
		g_assert_no_error(error_local);
		g_assert_true(events_wait_for_watchers(events, 1));
		g_assert_true(usbpass_api_events_get_keepalive_armed(events));

		/* the last leaves: no timer fires for nobody */
		g_assert_true(g_io_stream_close(G_IO_STREAM(second), NULL, &error_local));
		g_assert_no_error(error_local);
		g_assert_true(events_wait_for_watchers(events, 0));
		g_assert_false(usbpass_api_events_get_keepalive_armed(events));
	}
	soup_server_disconnect(server);
}

/* in-process: the JSON guards */

typedef struct {
	const gchar *text;
	gboolean ok;
	const gchar *message; /* when !ok, NULL: any */
} DepthCase;

static void
test_json_guards(void)
{
	g_autofree gchar *deep_ok = NULL;
	g_autofree gchar *deep_bad = NULL;
	g_autofree gchar *too_big = g_strnfill(USBPASS_API_BODY_MAX_BYTES + 1, ' ');
	g_autofree gchar *hostile_sq = hostile_body(HOSTILE_SQ, 32000);
	g_autofree gchar *hostile_comment = hostile_body(HOSTILE_COMMENT, 32000);
	g_autofree gchar *hostile_line = hostile_body(HOSTILE_LINE, 32000);
	const gchar *strict = "is not strict JSON: a comment, a single-quoted string";
	const DepthCase cases[] = {
		{ "{}", TRUE },
		{ "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", TRUE },
		{ "{\"a\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", TRUE },
		{ "{\"a\": \"it's /* not */ a comment // here\"}", TRUE },
		{ "{\"a\": [1, -2.5e+3, true, false, null]}", TRUE },
		{ "{\"a\": 'x'}", FALSE, strict },
		{ "{\"a\": 1 /* c */}", FALSE, strict },
		{ "{\"a\": 1 // c\n}", FALSE, strict },
		{ "{\"a\": 1 # c\n}", FALSE, strict },
		{ HOSTILE_SQ "[[[[]]]]}", FALSE, strict },
		{ NULL, TRUE },  /* deep_ok */
		{ NULL, FALSE }, /* deep_bad */
	};
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < USBPASS_API_JSON_MAX_DEPTH; i++)
		g_string_append_c(s, '[');
	for (guint i = 0; i < USBPASS_API_JSON_MAX_DEPTH; i++)
		g_string_append_c(s, ']');
	deep_ok = g_string_free(s, FALSE);
	deep_bad = g_strdup_printf("[%s]", deep_ok);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *text =
		  cases[i].text != NULL ? cases[i].text : (cases[i].ok ? deep_ok : deep_bad);
		g_autoptr(GError) error_local = NULL;
		gboolean ok = usbpass_json_guard_check(
		  text, strlen(text), USBPASS_API_JSON_MAX_DEPTH, &error_local);
		g_test_message("depth case %u", i);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (!ok)
			g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		if (!ok && cases[i].message != NULL)
			g_assert_nonnull(strstr(error_local->message, cases[i].message));
	}
	/* the reported bypass: json-glib would recurse 32000 deep on each of these */
	{
		const gchar *hostile[] = { hostile_sq, hostile_comment, hostile_line };
		for (guint i = 0; i < G_N_ELEMENTS(hostile); i++) {
			g_autoptr(GError) error_local = NULL;
			g_autoptr(JsonObject) object = NULL;
			g_assert_cmpuint(strlen(hostile[i]), <=, USBPASS_API_BODY_MAX_BYTES);
			object = usbpass_api_json_parse_object(
			  hostile[i], strlen(hostile[i]), &error_local);
			g_assert_null(object);
			g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_nonnull(strstr(error_local->message, strict));
		}
	}
	{
		g_autoptr(GError) error_local = NULL;
		g_autoptr(JsonObject) object =
		  usbpass_api_json_parse_object(too_big, strlen(too_big), &error_local);
		g_assert_null(object);
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
	{
		g_autoptr(GError) error_local = NULL;
		const gchar *text = "{\"device\": \"1-3\", \"n\": 1}";
		g_autoptr(JsonObject) object =
		  usbpass_api_json_parse_object(text, strlen(text), &error_local);
		const gchar *value = NULL;
		const gchar *allowed[] = { "device", NULL };
		g_assert_no_error(error_local);
		g_assert_true(
		  usbpass_api_json_get_string(object, "device", TRUE, &value, &error_local));
		g_assert_cmpstr(value, ==, "1-3");
		g_assert_false(
		  usbpass_api_json_get_string(object, "n", TRUE, &value, &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_clear_error(&error_local);
		g_assert_true(
		  usbpass_api_json_get_string(object, "absent", FALSE, &value, &error_local));
		g_assert_null(value);
		g_assert_false(
		  usbpass_api_json_get_string(object, "absent", TRUE, &value, &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_clear_error(&error_local);
		g_assert_false(usbpass_api_json_check_members(object, allowed, &error_local));
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
	{
		g_autofree gchar *time =
		  usbpass_api_json_time((gint64)1700000000 * G_USEC_PER_SEC + 250000);
		g_assert_cmpstr(time, ==, "2023-11-14T22:13:20.250000Z");
		g_assert_null(usbpass_api_json_time(0));
	}
}

#define POLICY_DENY_STICKS "[deny sticks]\nmatch-id=0781:5567\nreason=sticks stay on this host\n"

static const ApiOptions options_default = { .enabled = TRUE };
static const ApiOptions options_disabled = { .enabled = FALSE };
static const ApiOptions options_peer = { .enabled = TRUE,
	                                 .socket_group = "users",
	                                 .socket_mode = "0666" };
static const ApiOptions options_slow = { .enabled = TRUE, .delay_ms = "4000" };
static const ApiOptions options_race = { .enabled = TRUE, .delay_ms = "3000" };
static const ApiOptions options_libvirt = { .enabled = TRUE, .driver = "libvirt" };
static const ApiOptions options_policy = { .enabled = TRUE, .policy = POLICY_DENY_STICKS };
static const ApiOptions options_tls = { .enabled = TRUE, .tls = TRUE };
/* the Cruzer of demo.umockdev is 1:9 */
static const ApiOptions options_absent = { .enabled = TRUE, .absent = "1:9" };
/* a libvirtd that is not there (yet) */
static const ApiOptions options_no_libvirtd = {
	.enabled = TRUE,
	.driver = "libvirt",
	.libvirt_uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock",
};

static GLogFunc previous_log_handler;

static void
quiet_log_handler(const gchar *log_domain,
                  GLogLevelFlags log_level,
                  const gchar *message,
                  gpointer user_data)
{
	if ((log_level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_DEBUG)
		return;
	previous_log_handler(log_domain, log_level, message, user_data);
}

static GLogWriterOutput
quiet_log_writer(GLogLevelFlags log_level,
                 const GLogField *fields,
                 gsize n_fields,
                 gpointer user_data)
{
	if ((log_level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_DEBUG)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_default(log_level, fields, n_fields, user_data);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* the testbed's, GIO's and the store's debug lines drown the cases' messages */
	if (g_getenv("USBPASS_TEST_VERBOSE") == NULL) {
		g_log_set_writer_func(quiet_log_writer, NULL, NULL);
		previous_log_handler = g_log_set_default_handler(quiet_log_handler, NULL);
	}

#define API_TEST(path, func, options)                                                              \
	g_test_add(path, ApiFixture, options, fixture_setup, func, fixture_teardown)
#define AUTH_TEST(path, func) g_test_add(path, AuthFixture, NULL, auth_setup, func, auth_teardown)

	g_test_add_func("/usbpass/api/config{defaults}", test_config_defaults);
	g_test_add_func("/usbpass/api/config{example}", test_config_example);
	g_test_add_func("/usbpass/api/config{values}", test_config_values);
	g_test_add_func("/usbpass/api/config{failures}", test_config_failures);
	g_test_add_func("/usbpass/api/json{guards}", test_json_guards);
	g_test_add_func("/usbpass/api/events{keepalive}", test_events_keepalive);
	AUTH_TEST("/usbpass/api/auth{secrets}", test_auth_secrets);
	AUTH_TEST("/usbpass/api/auth{tokens}", test_auth_tokens);
	AUTH_TEST("/usbpass/api/auth{bearer-garbage}", test_auth_bearer_garbage);
	g_test_add_func("/usbpass/api/auth{peer-group}", test_auth_peer_group);
	g_test_add_func("/usbpass/api/auth{peer-status}", test_auth_peer_status);
	g_test_add_func("/usbpass/api/auth{peer-socket}", test_auth_peer_socket);

	API_TEST("/usbpass/api/health", test_health, &options_default);
	API_TEST("/usbpass/api/health{driver-down}", test_health_driver_down, &options_no_libvirtd);
	API_TEST("/usbpass/api/health{store-down}", test_health_store_down, &options_default);
	API_TEST("/usbpass/api/host", test_host, &options_default);
	API_TEST("/usbpass/api/devices", test_devices, &options_default);
	API_TEST("/usbpass/api/devices{lookup}", test_device_lookup, &options_default);
	API_TEST("/usbpass/api/devices{etag}", test_etag, &options_default);
	API_TEST("/usbpass/api/policy", test_policy, &options_default);
	API_TEST("/usbpass/api/instances", test_instances, &options_default);
	API_TEST("/usbpass/api/attach", test_attach_detach, &options_default);
	API_TEST("/usbpass/api/attach{refused}", test_attach_refused, &options_default);
	API_TEST("/usbpass/api/attach{disabled}", test_disabled, &options_disabled);
	API_TEST("/usbpass/api/attach{hypervisor-fails}", test_attach_failed, &options_absent);
	API_TEST("/usbpass/api/attach{concurrent}", test_concurrent_attach, &options_race);
	API_TEST("/usbpass/api/request{malformed}", test_malformed, &options_default);
	API_TEST("/usbpass/api/request{methods}", test_methods, &options_default);
	API_TEST("/usbpass/api/auth{http}", test_auth, &options_default);
	API_TEST("/usbpass/api/auth{unix-peer}", test_unix_peer, &options_peer);
	API_TEST("/usbpass/api/auth{audit-flood}", test_auth_audit_flood, &options_default);
	API_TEST("/usbpass/api/tokens", test_tokens, &options_default);
	API_TEST("/usbpass/api/events", test_events, &options_default);
	API_TEST("/usbpass/api/events{limit}", test_events_limit, &options_default);
	API_TEST("/usbpass/api/attach{client-gone}", test_attach_client_gone, &options_slow);
	API_TEST(
	  "/usbpass/api/shutdown{during-attach}", test_shutdown_during_attach, &options_slow);
	API_TEST(
	  "/usbpass/api/shutdown{during-reattach}", test_shutdown_during_reattach, &options_slow);
	API_TEST("/usbpass/api/restart{during-attach}", test_restart_during_attach, &options_slow);
	API_TEST("/usbpass/api/restart{after-attach}", test_restart_after_attach, &options_default);
	API_TEST("/usbpass/api/policy{file-reload}", test_policy_reload, &options_policy);
	API_TEST("/usbpass/api/tls", test_tls, &options_tls);
	API_TEST("/usbpass/api/libvirt{shutoff-attach}", test_libvirt, &options_libvirt);

	return g_test_run();
}

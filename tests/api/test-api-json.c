/*
 * test-api-json.c: request bodies that must not slip past the JSON guard
 *
 * An in-process UsbpassApiServer over the test driver, a testing inventory and
 * a SQLite store in a temporary directory, spoken to over loopback TCP with an
 * admin token: every body the strict guard refuses is 400 invalid-data and
 * changes nothing (no attach, no token).
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "api/usbpass-api-server.h"
#include "api/usbpass-auth.h"
#include "drivers/test/usbpass-test-driver.h"
#include "inventory/usbpass-inventory-private.h"
#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-error.h"

#define TEST_HOST "json-host"
/* every wait has this deadline; none is expected to come near it */
#define TEST_DEADLINE_USEC (30 * G_USEC_PER_SEC)

typedef struct {
	gchar *tmpdir;
	UsbpassInventory *inventory;
	UsbpassStore *store;
	UsbpassTestDriver *driver;
	UsbpassEngine *engine;
	UsbpassAuth *auth;
	UsbpassApiServer *server;
	SoupSession *session;
	gchar *base_url;
	gchar *token;
} Fixture;

typedef struct {
	guint status;
	gchar *code;    /* the error code of an error answer */
	gchar *message; /* and its message */
} Answer;

static void
answer_clear(Answer *answer)
{
	g_clear_pointer(&answer->code, g_free);
	g_clear_pointer(&answer->message, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Answer, answer_clear)

static UsbpassDevice *
make_device(const gchar *port, guint devnum, guint16 product_id, guint8 device_class)
{
	UsbpassDevice *device = usbpass_device_new();
	device->syspath = g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb1/%s", port);
	device->port = g_strdup(port);
	device->parent_port = g_strdup("usb1");
	device->bus = 1;
	device->device = devnum;
	device->vendor_id = 0x1a86;
	device->product_id = product_id;
	device->device_class = device_class;
	device->is_hub = device_class == 9;
	device->vendor_name = g_strdup("Vendor");
	device->product_name = g_strdup_printf("Product %04x", product_id);
	device->name = g_strdup_printf("Vendor Product %04x", product_id);
	return device;
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) devices =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(UsbpassToken) token = NULL;
	g_autofree gchar *db_path = NULL;
	g_auto(GStrv) urls = NULL;

	fx->tmpdir = g_dir_make_tmp("usbpass-api-json-XXXXXX", &error);
	g_assert_no_error(error);
	db_path = g_build_filename(fx->tmpdir, "usbpass.db", NULL);
	fx->store = USBPASS_STORE(usbpass_sqlite_store_new(db_path, &error));
	g_assert_no_error(error);

	fx->inventory = usbpass_inventory_new_for_testing();
	g_ptr_array_add(devices, make_device("1-3", 4, 0x7523, 255));
	g_ptr_array_add(devices, make_device("1-4", 5, 0x7524, 255));
	usbpass_inventory_apply_snapshot(fx->inventory, devices);

	fx->driver = usbpass_test_driver_new();
	instance = usbpass_test_driver_add_instance(
	  fx->driver, NULL, "web01", USBPASS_INSTANCE_STATE_RUNNING, TRUE, &error);
	g_assert_no_error(error);

	fx->engine =
	  usbpass_engine_new(TEST_HOST, fx->inventory, fx->store, USBPASS_DRIVER(fx->driver));
	usbpass_engine_set_enabled(fx->engine, TRUE);
	g_assert_true(usbpass_engine_start(fx->engine, &error));
	g_assert_no_error(error);

	fx->auth = usbpass_auth_new(fx->store);
	token = usbpass_auth_create_token(
	  fx->auth, "test-admin", USBPASS_TOKEN_ROLE_ADMIN, &fx->token, &error);
	g_assert_no_error(error);
	fx->server = usbpass_api_server_new(fx->engine, fx->auth);
	g_assert_true(usbpass_api_server_listen_tcp(fx->server, "127.0.0.1", 0, NULL, &error));
	g_assert_no_error(error);
	urls = usbpass_api_server_get_urls(fx->server);
	g_assert_nonnull(urls);
	g_assert_nonnull(urls[0]);
	fx->base_url = g_strdup(urls[0]);
	/* no trailing '/': paths start with one */
	if (g_str_has_suffix(fx->base_url, "/"))
		fx->base_url[strlen(fx->base_url) - 1] = '\0';
	fx->session = soup_session_new_with_options("timeout", 30, NULL);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	g_clear_object(&fx->session);
	if (fx->server != NULL)
		usbpass_api_server_shutdown(fx->server);
	g_clear_object(&fx->server);
	g_clear_object(&fx->auth);
	g_clear_object(&fx->engine);
	g_clear_object(&fx->driver);
	g_clear_object(&fx->store);
	g_clear_object(&fx->inventory);
	/* the store may leave -wal and -shm files next to the database */
	dir = g_dir_open(fx->tmpdir, 0, NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->base_url);
	g_free(fx->token);
}

typedef struct {
	gboolean done;
	GBytes *body;
	GError *error;
} Pending;

static void
request_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Pending *pending = user_data;
	pending->body =
	  soup_session_send_and_read_finish(SOUP_SESSION(source), res, &pending->error);
	pending->done = TRUE;
}

static gboolean
wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* one request, the server answering in this thread's main loop */
static void
request(Fixture *fx,
        const gchar *method,
        const gchar *path,
        const gchar *content_type,
        const gchar *body,
        Answer *answer)
{
	g_autofree gchar *url = g_strconcat(fx->base_url, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", fx->token);
	g_autoptr(GBytes) answer_body = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	gint64 deadline = g_get_monotonic_time() + TEST_DEADLINE_USEC;
	guint wake_id = g_timeout_add(20, wake_cb, NULL);
	Pending pending = { FALSE, NULL, NULL };
	const gchar *data;
	gsize len = 0;

	g_assert_nonnull(msg);
	soup_message_headers_replace(
	  soup_message_get_request_headers(msg), "Authorization", authorization);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		/* set verbatim: libsoup would not send a charset it rewrote */
		soup_message_set_request_body_from_bytes(msg, NULL, bytes);
		soup_message_headers_replace(
		  soup_message_get_request_headers(msg), "Content-Type", content_type);
	}
	soup_session_send_and_read_async(
	  fx->session, msg, G_PRIORITY_DEFAULT, NULL, request_done_cb, &pending);
	while (!pending.done && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(wake_id);
	g_assert_true(pending.done);
	g_assert_no_error(pending.error);
	answer_body = pending.body;

	answer->status = soup_message_get_status(msg);
	data = g_bytes_get_data(answer_body, &len);
	if (answer->status >= 400 && len > 0 &&
	    json_parser_load_from_data(parser, data, (gssize)len, NULL)) {
		JsonObject *root = json_node_get_object(json_parser_get_root(parser));
		JsonObject *error = json_object_get_object_member(root, "error");
		answer->code = g_strdup(json_object_get_string_member(error, "code"));
		answer->message = g_strdup(json_object_get_string_member(error, "message"));
	}
}

typedef struct {
	const gchar *name;
	const gchar *content_type;
	const gchar *body;
	const gchar *reason; /* a part of the message of the 400 */
} BadBodyCase;

#define JSON_TYPE "application/json"

static const BadBodyCase attach_cases[] = {
	/* the reported bypass: json-glib cut the string at the NUL after it was checked */
	{ "nul-escape", JSON_TYPE, "{\"device\": \"1-3\\u0000;rm -rf /\"}", "escaped NUL" },
	{ "nul-escape-key", JSON_TYPE, "{\"device\": \"1-3\", \"x\\u0000\": 1}", "escaped NUL" },
	{ "concatenated",
	  JSON_TYPE,
	  "{\"device\": \"1-4\"}{\"device\": \"1-3\"}",
	  "a second value" },
	{ "trailing-garbage", JSON_TYPE, "{\"device\": \"1-3\"} ;rm", "outside JSON's syntax" },
	{ "duplicate",
	  JSON_TYPE,
	  "{\"device\": \"1-4\", \"device\": \"1-3\"}",
	  "two members named 'device'" },
	{ "duplicate-escaped",
	  JSON_TYPE,
	  "{\"device\": \"1-4\", \"d\\u0065vice\": \"1-3\"}",
	  "two members named 'device'" },
	{ "bom", JSON_TYPE, "\xef\xbb\xbf{\"device\": \"1-3\"}", "byte order mark" },
	{ "lone-surrogate", JSON_TYPE, "{\"device\": \"1-3\\ud800\"}", "lone high surrogate" },
	{ "invalid-utf8", JSON_TYPE, "{\"device\": \"1-3\xff\"}", "not valid UTF-8" },
	{ "latin1",
	  JSON_TYPE "; charset=latin1",
	  "{\"device\": \"1-3\"}",
	  "the charset 'latin1' is not utf-8" },
	{ "iso-8859-1",
	  JSON_TYPE "; charset=iso-8859-1",
	  "{\"device\": \"1-3\"}",
	  "the charset 'iso-8859-1'" },
	{ "utf-16", JSON_TYPE "; charset=utf-16", "{\"device\": \"1-3\"}", "the charset 'utf-16'" },
	{ "quoted-latin1",
	  JSON_TYPE "; charset=\"latin1\"",
	  "{\"device\": \"1-3\"}",
	  "the charset 'latin1'" },
};

static void
test_attach_refused(Fixture *fx, gconstpointer user_data)
{
	for (guint i = 0; i < G_N_ELEMENTS(attach_cases); i++) {
		const BadBodyCase *c = &attach_cases[i];
		g_auto(Answer) answer = { 0 };
		g_test_message("attach{%s}", c->name);
		request(
		  fx, "POST", "/v1/instances/web01/usb-devices", c->content_type, c->body, &answer);
		g_assert_cmpuint(answer.status, ==, 400);
		g_assert_cmpstr(answer.code, ==, "invalid-data");
		if (strstr(answer.message, c->reason) == NULL)
			g_test_message("'%s' lacks '%s'", answer.message, c->reason);
		g_assert_nonnull(strstr(answer.message, c->reason));
	}
	/* nothing reached the hypervisor */
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"), ==, 0);
}

/* the same device, asked for in strict JSON in every UTF-8 spelling: attached */
static void
test_attach_accepted(Fixture *fx, gconstpointer user_data)
{
	const gchar *content_types[] = {
		JSON_TYPE,
		JSON_TYPE "; charset=utf-8",
		JSON_TYPE "; charset=UTF-8",
		JSON_TYPE "; charset=\"utf-8\"",
	};
	for (guint i = 0; i < G_N_ELEMENTS(content_types); i++) {
		g_auto(Answer) attach = { 0 };
		g_auto(Answer) detach = { 0 };
		g_test_message("content-type{%s}", content_types[i]);
		request(fx,
		        "POST",
		        "/v1/instances/web01/usb-devices",
		        content_types[i],
		        "{\"device\": \"1-3\"}",
		        &attach);
		g_assert_cmpuint(attach.status, ==, 200);
		request(fx, "DELETE", "/v1/instances/web01/usb-devices/1-3", NULL, NULL, &detach);
		g_assert_cmpuint(detach.status, ==, 200);
	}
	g_assert_cmpuint(usbpass_test_driver_get_call_count(fx->driver, "attach"),
	                 ==,
	                 G_N_ELEMENTS(content_types));
}

static void
test_token_refused(Fixture *fx, gconstpointer user_data)
{
	const BadBodyCase cases[] = {
		{ "nul-escape",
		  JSON_TYPE,
		  "{\"name\": \"ops\\u0000<script>\", \"role\": \"reader\"}",
		  "escaped NUL" },
		{ "duplicate-role",
		  JSON_TYPE,
		  "{\"name\": \"ops\", \"role\": \"reader\", \"role\": \"admin\"}",
		  "two members named 'role'" },
		{ "concatenated",
		  JSON_TYPE,
		  "{\"name\": \"ops\", \"role\": \"reader\"}\n{\"name\": \"ops2\", \"role\": "
		  "\"admin\"}",
		  "a second value" },
		{ "latin1",
		  JSON_TYPE "; charset=latin1",
		  "{\"name\": \"ops\", \"role\": \"reader\"}",
		  "the charset 'latin1'" },
	};
	g_autoptr(GPtrArray) tokens = NULL;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(Answer) answer = { 0 };
		g_test_message("token{%s}", cases[i].name);
		request(fx, "POST", "/v1/tokens", cases[i].content_type, cases[i].body, &answer);
		g_assert_cmpuint(answer.status, ==, 400);
		g_assert_cmpstr(answer.code, ==, "invalid-data");
		g_assert_nonnull(strstr(answer.message, cases[i].reason));
	}
	/* only the fixture's own token exists: no "ops" was made of any of them */
	tokens = usbpass_store_list_tokens(fx->store, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(tokens->len, ==, 1);

	/* and the strict spelling of the same request works */
	{
		g_auto(Answer) answer = { 0 };
		request(fx,
		        "POST",
		        "/v1/tokens",
		        JSON_TYPE "; charset=utf-8",
		        "{\"name\": \"ops\", \"role\": \"reader\"}",
		        &answer);
		g_assert_cmpuint(answer.status, ==, 201);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/usbpass/api/json/attach{refused}",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_attach_refused,
	           fixture_teardown);
	g_test_add("/usbpass/api/json/attach{accepted}",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_attach_accepted,
	           fixture_teardown);
	g_test_add("/usbpass/api/json/token{refused}",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_token_refused,
	           fixture_teardown);
	return g_test_run();
}

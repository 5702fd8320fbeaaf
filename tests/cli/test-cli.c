/*
 * test-cli.c: the usbpass command and its client library against a fake usbpassd
 *
 * The fake daemon is a SoupServer in a thread of its own, listening on a Unix
 * socket in a fresh temporary directory and on 127.0.0.1, answering canned
 * JSON per docs/api.md and recording every request. The CLI binary is run with
 * g_spawn_sync() (set USBPASS_TEST_CLI_WRAPPER="valgrind -q --error-exitcode=99
 * --leak-check=full" to check it too); the library is also driven directly.
 * Real-daemon tests live in tests/api.
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/wait.h>

#include "usbpass-client.h"
#include "usbpass-error.h"

#define WEB01_UUID "8f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7"
#define SANDISK_ID "0781:5567:s:4C530001230123456789"

#define DEVICE_ATTACHED                                                                            \
	"{\"id\": \"" SANDISK_ID "\", \"port\": \"1-1.1\", \"bus\": 1, \"device\": 5,"             \
	" \"vendor_id\": \"0781\", \"product_id\": \"5567\", \"name\": \"SanDisk Cruzer Blade\","  \
	" \"serial\": \"4C530001230123456789\", \"present\": true, \"state\": \"attached\","       \
	" \"instance_uuid\": \"" WEB01_UUID "\", \"instance_name\": \"web01\","                    \
	" \"state_error\": null}"
#define DEVICE_AVAILABLE                                                                           \
	"{\"id\": \"" SANDISK_ID "\", \"port\": \"1-1.1\", \"bus\": 1, \"device\": 5,"             \
	" \"vendor_id\": \"0781\", \"product_id\": \"5567\", \"name\": \"SanDisk Cruzer Blade\","  \
	" \"serial\": \"4C530001230123456789\", \"present\": true, \"state\": \"available\","      \
	" \"instance_uuid\": null, \"instance_name\": null, \"state_error\": null}"
#define INSTANCES                                                                                  \
	"{\"instances\": [{\"uuid\": \"" WEB01_UUID "\", \"name\": \"web01\","                     \
	" \"state\": \"running\", \"persistent\": true, \"devices\": [" DEVICE_ATTACHED "]},"      \
	" {\"uuid\": \"11111111-2222-3333-4444-555555555555\", \"name\": \"db01\","                \
	" \"state\": \"shutoff\", \"persistent\": true, \"devices\": []}]}"
#define ERROR_BODY(code, message)                                                                  \
	"{\"error\": {\"code\": \"" code "\", \"message\": \"" message "\"}}"
#define EVENTS                                                                                     \
	": usbpass events\n\n"                                                                     \
	"event: inventory\ndata: {\"kind\": \"added\", \"replugged\": false, \"device\": {\"id\":" \
	" \"0781:5567:s:XYZ\", \"port\": \"1-1.4\", \"name\": \"SanDisk Cruzer Blade\"}}\n\n"      \
	": keep-alive\n\n"                                                                         \
	"event: future\ndata: {\"something\": \"new\"}\n\n"                                        \
	"event: state\ndata: " DEVICE_ATTACHED "\n\n"                                              \
	"event: inventory\ndata: {\"kind\": \"removed\", \"replugged\": false,"                    \
	" \"device\": {\"id\":"                                                                    \
	" \"dead:beef:s:EVIL\", \"port\": \"3-3\", \"name\": \"Evil\\u001b[31mRed\\r\\nX\"}}\n\n"

/* ---- the fake daemon ---- */

typedef struct {
	guint status;
	gchar *content_type; /* NULL: no body */
	GBytes *body;
	gboolean stream; /* chunked and never completed, like the real event stream */
	gboolean hang;   /* never answered */
} FakeRoute;

static void
fake_route_free(FakeRoute *route)
{
	g_free(route->content_type);
	if (route->body != NULL)
		g_bytes_unref(route->body);
	g_free(route);
}

typedef struct {
	gchar *tmpdir;
	gchar *socket_path;
	gchar *url; /* http://127.0.0.1:PORT */
	GThread *thread;
	GMainContext *context;
	SoupServer *server; /* belongs to the thread */
	GMutex mutex;
	GCond cond;
	gboolean ready;
	gint stop;
	GHashTable *routes;        /* "METHOD /raw/path?query" -> FakeRoute */
	GPtrArray *requests;       /* of gchar, "METHOD /raw/path?query" */
	GPtrArray *bodies;         /* of gchar, the request bodies */
	GPtrArray *authorizations; /* of gchar, "" when none */
	GPtrArray *paused;         /* of SoupServerMessage, hanging */
} Fixture;

static void
fake_handler(SoupServer *server,
             SoupServerMessage *msg,
             const char *path,
             GHashTable *query,
             gpointer user_data)
{
	Fixture *fx = user_data;
	GUri *uri = soup_server_message_get_uri(msg);
	const gchar *raw_query = g_uri_get_query(uri);
	SoupMessageHeaders *request_headers = soup_server_message_get_request_headers(msg);
	const gchar *auth = soup_message_headers_get_one(request_headers, "Authorization");
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *key = g_strdup_printf("%s %s%s%s",
	                                        soup_server_message_get_method(msg),
	                                        g_uri_get_path(uri),
	                                        raw_query != NULL ? "?" : "",
	                                        raw_query != NULL ? raw_query : "");
	FakeRoute *route;
	guint status = 404;
	g_autofree gchar *content_type = NULL;
	g_autoptr(GBytes) answer = NULL;
	gboolean stream = FALSE;
	gboolean hang = FALSE;

	body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
	g_mutex_lock(&fx->mutex);
	g_ptr_array_add(fx->requests, g_strdup(key));
	g_ptr_array_add(fx->bodies,
	                g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body)));
	g_ptr_array_add(fx->authorizations, g_strdup(auth != NULL ? auth : ""));
	route = g_hash_table_lookup(fx->routes, key);
	if (route != NULL) {
		status = route->status;
		content_type = g_strdup(route->content_type);
		answer = route->body != NULL ? g_bytes_ref(route->body) : NULL;
		stream = route->stream;
		hang = route->hang;
	} else {
		static const gchar not_found[] =
		  ERROR_BODY("not-found", "no route in the fake usbpassd");
		content_type = g_strdup("application/json");
		answer = g_bytes_new_static(not_found, strlen(not_found));
	}
	if (hang) {
		soup_server_message_pause(msg);
		g_ptr_array_add(fx->paused, g_object_ref(msg));
	}
	g_mutex_unlock(&fx->mutex);
	if (hang)
		return;

	soup_server_message_set_status(msg, status, NULL);
	if (stream) {
		SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
		soup_message_headers_set_encoding(headers, SOUP_ENCODING_CHUNKED);
		soup_message_headers_set_content_type(headers, content_type, NULL);
		soup_message_body_append_bytes(soup_server_message_get_response_body(msg), answer);
	} else if (content_type != NULL && answer != NULL) {
		gsize len = 0;
		const gchar *data = g_bytes_get_data(answer, &len);
		soup_server_message_set_response(msg, content_type, SOUP_MEMORY_COPY, data, len);
	}
}

static gpointer
fake_server_thread(gpointer user_data)
{
	Fixture *fx = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) address = NULL;

	g_main_context_push_thread_default(fx->context);
	/* raw paths: the test sees the percent-encoding the client sent */
	fx->server = soup_server_new("raw-paths", TRUE, NULL);
	soup_server_add_handler(fx->server, NULL, fake_handler, fx, NULL);
	socket = g_socket_new(
	  G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
	g_assert_no_error(error);
	address = g_unix_socket_address_new(fx->socket_path);
	g_assert_true(g_socket_bind(socket, address, TRUE, &error));
	g_assert_true(g_socket_listen(socket, &error));
	g_assert_true(soup_server_listen_socket(fx->server, socket, 0, &error));
	/* TCP on a free port of 127.0.0.1; soup_server_get_uris() cannot be used next to a
	 * Unix listener (libsoup 3.2 casts every address to an inet one) */
	{
		g_autoptr(GInetAddress) loopback = NULL;
		g_autoptr(GSocketAddress) any_port = NULL;
		g_autoptr(GSocketAddress) bound = NULL;
		g_autoptr(GSocket) tcp = g_socket_new(
		  G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
		g_assert_no_error(error);
		loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
		any_port = g_inet_socket_address_new(loopback, 0);
		g_assert_true(g_socket_bind(tcp, any_port, TRUE, &error));
		g_assert_true(g_socket_listen(tcp, &error));
		bound = g_socket_get_local_address(tcp, &error);
		g_assert_no_error(error);
		g_assert_true(soup_server_listen_socket(fx->server, tcp, 0, &error));
		fx->url =
		  g_strdup_printf("http://127.0.0.1:%u",
		                  g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
	}

	g_mutex_lock(&fx->mutex);
	fx->ready = TRUE;
	g_cond_signal(&fx->cond);
	g_mutex_unlock(&fx->mutex);

	while (!g_atomic_int_get(&fx->stop))
		g_main_context_iteration(fx->context, TRUE);

	g_mutex_lock(&fx->mutex);
	for (guint i = 0; i < fx->paused->len; i++)
		soup_server_message_unpause(g_ptr_array_index(fx->paused, i));
	g_ptr_array_set_size(fx->paused, 0);
	g_mutex_unlock(&fx->mutex);
	soup_server_disconnect(fx->server);
	g_clear_object(&fx->server);
	while (g_main_context_iteration(fx->context, FALSE))
		;
	g_main_context_pop_thread_default(fx->context);
	return NULL;
}

static void
fixture_set_up(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	fx->tmpdir = g_dir_make_tmp("usbpass-cli-XXXXXX", &error);
	g_assert_no_error(error);
	fx->socket_path = g_build_filename(fx->tmpdir, "usbpassd.sock", NULL);
	fx->context = g_main_context_new();
	g_mutex_init(&fx->mutex);
	g_cond_init(&fx->cond);
	fx->routes =
	  g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fake_route_free);
	fx->requests = g_ptr_array_new_with_free_func(g_free);
	fx->bodies = g_ptr_array_new_with_free_func(g_free);
	fx->authorizations = g_ptr_array_new_with_free_func(g_free);
	fx->paused = g_ptr_array_new_with_free_func(g_object_unref);
	fx->thread = g_thread_new("fake-usbpassd", fake_server_thread, fx);
	g_mutex_lock(&fx->mutex);
	while (!fx->ready)
		g_cond_wait(&fx->cond, &fx->mutex);
	g_mutex_unlock(&fx->mutex);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	g_atomic_int_set(&fx->stop, 1);
	g_main_context_wakeup(fx->context);
	g_thread_join(fx->thread);
	g_main_context_unref(fx->context);
	g_mutex_clear(&fx->mutex);
	g_cond_clear(&fx->cond);
	g_hash_table_unref(fx->routes);
	g_ptr_array_unref(fx->requests);
	g_ptr_array_unref(fx->bodies);
	g_ptr_array_unref(fx->authorizations);
	g_ptr_array_unref(fx->paused);
	dir = g_dir_open(fx->tmpdir, 0, NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->socket_path);
	g_free(fx->url);
}

static GBytes *
load_body(const gchar *body)
{
	if (body == NULL)
		return NULL;
	/* "@file": a fixture of tests/cli */
	if (body[0] == '@') {
		g_autofree gchar *filename =
		  g_test_build_filename(G_TEST_DIST, "cli", body + 1, NULL);
		g_autoptr(GError) error = NULL;
		gchar *contents = NULL;
		gsize len = 0;
		g_assert_true(g_file_get_contents(filename, &contents, &len, &error));
		g_assert_no_error(error);
		return g_bytes_new_take(contents, len);
	}
	return g_bytes_new(body, strlen(body));
}

static void
fixture_route_full(Fixture *fx,
                   const gchar *key,
                   guint status,
                   const gchar *content_type,
                   GBytes *body,
                   gboolean stream,
                   gboolean hang)
{
	FakeRoute *route = g_new0(FakeRoute, 1);
	route->status = status;
	route->content_type = g_strdup(content_type);
	route->body = body != NULL ? g_bytes_ref(body) : NULL;
	route->stream = stream;
	route->hang = hang;
	g_mutex_lock(&fx->mutex);
	g_hash_table_replace(fx->routes, g_strdup(key), route);
	g_mutex_unlock(&fx->mutex);
}

static void
fixture_route(Fixture *fx, const gchar *key, guint status, const gchar *body)
{
	g_autoptr(GBytes) bytes = load_body(body);
	const gchar *content_type = bytes != NULL ? "application/json" : NULL;
	fixture_route_full(fx, key, status, content_type, bytes, FALSE, FALSE);
}

static guint
fixture_n_requests(Fixture *fx)
{
	guint n;
	g_mutex_lock(&fx->mutex);
	n = fx->requests->len;
	g_mutex_unlock(&fx->mutex);
	return n;
}

/* the request @index as "METHOD /path?query", with its body and Authorization */
static void
fixture_get_request(Fixture *fx, guint index, gchar **request, gchar **body, gchar **authorization)
{
	g_mutex_lock(&fx->mutex);
	g_assert_cmpuint(index, <, fx->requests->len);
	*request = g_strdup(g_ptr_array_index(fx->requests, index));
	if (body != NULL)
		*body = g_strdup(g_ptr_array_index(fx->bodies, index));
	if (authorization != NULL)
		*authorization = g_strdup(g_ptr_array_index(fx->authorizations, index));
	g_mutex_unlock(&fx->mutex);
}

/* ---- running the CLI ---- */

static void
assert_terminal_safe(const gchar *text)
{
	g_assert_true(g_utf8_validate(text, -1, NULL));
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if ((c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
		    c == 0x2028 || c == 0x2029 || g_unichar_type(c) == G_UNICODE_FORMAT) {
			g_test_message("unsafe U+%04X in:\n%s", c, text);
			g_assert_not_reached();
		}
	}
}

/* runs `usbpass ARGS…` with a clean environment plus @env ("KEY=VALUE", NULL-terminated) */
static gint
run_cli(Fixture *fx, const gchar *const *env, const gchar *const *args, gchar **out, gchar **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) envp = g_get_environ();
	g_autoptr(GError) error = NULL;
	const gchar *wrapper = g_getenv("USBPASS_TEST_CLI_WRAPPER");
	const gchar *cli = g_getenv("USBPASS_TEST_CLI");
	g_autofree gchar *stdout_text = NULL;
	g_autofree gchar *stderr_text = NULL;
	gint wait_status = 0;

	if (wrapper != NULL && wrapper[0] != '\0') {
		g_auto(GStrv) words = NULL;
		g_assert_true(g_shell_parse_argv(wrapper, NULL, &words, &error));
		for (guint i = 0; words[i] != NULL; i++)
			g_ptr_array_add(argv, g_strdup(words[i]));
	}
	g_ptr_array_add(argv, g_strdup(cli != NULL ? cli : USBPASS_CLI_PATH));
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(args[i]));
	g_ptr_array_add(argv, NULL);

	/* nothing of the caller's may leak in: no token, no URL, no config file */
	envp = g_environ_unsetenv(envp, "USBPASS_TOKEN");
	envp = g_environ_unsetenv(envp, "USBPASS_TOKEN_FILE");
	envp = g_environ_unsetenv(envp, "USBPASS_URL");
	envp = g_environ_unsetenv(envp, "USBPASS_SOCKET");
	envp = g_environ_unsetenv(envp, "http_proxy");
	envp = g_environ_unsetenv(envp, "HTTP_PROXY");
	envp = g_environ_setenv(envp, "HOME", fx->tmpdir, TRUE);
	envp = g_environ_setenv(envp, "XDG_CONFIG_HOME", fx->tmpdir, TRUE);
	envp = g_environ_setenv(envp, "LC_ALL", "C.UTF-8", TRUE);
	for (guint i = 0; env != NULL && env[i] != NULL; i++) {
		g_auto(GStrv) pair = g_strsplit(env[i], "=", 2);
		envp = g_environ_setenv(envp, pair[0], pair[1], TRUE);
	}

	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)argv->pdata,
	                           envp,
	                           G_SPAWN_SEARCH_PATH,
	                           NULL,
	                           NULL,
	                           &stdout_text,
	                           &stderr_text,
	                           &wait_status,
	                           &error));
	g_assert_no_error(error);
	g_test_message("stdout:\n%s\nstderr:\n%s", stdout_text, stderr_text);
	g_assert_true(WIFEXITED(wait_status));
	/* whatever the server sent, the terminal gets no control byte */
	assert_terminal_safe(stdout_text);
	assert_terminal_safe(stderr_text);
	*out = g_steal_pointer(&stdout_text);
	*err = g_steal_pointer(&stderr_text);
	return WEXITSTATUS(wait_status);
}

/* ---- commands, table-driven ---- */

typedef struct {
	const gchar *key; /* "GET /v1/devices" */
	guint status;
	const gchar *body;         /* JSON, "@file", or NULL for none */
	const gchar *content_type; /* NULL: application/json */
	gboolean stream;
} CaseRoute;

typedef struct {
	const gchar *name;
	const gchar *args[12]; /* after "usbpass --socket PATH" */
	CaseRoute routes[3];
	gint exit_code;
	const gchar *out[5];        /* substrings of stdout */
	const gchar *err[3];        /* substrings of stderr */
	const gchar *requests[3];   /* every request, in order */
	const gchar *body;          /* the JSON body of the first request, or NULL */
	gboolean out_is_route_json; /* stdout is the JSON of the first route */
} CliCase;

static const CliCase cli_cases[] = {
	/* list, tree */
	{ "list",
	  { "list" },
	  { { "GET /v1/devices", 200, "@devices-demo.json" } },
	  0,
	  { "BUS  DEV  ID", "001  005  " SANDISK_ID, "SanDisk Cruzer Blade", "Evil [31mRed" },
	  { NULL },
	  { "GET /v1/devices" } },
	{ "list-json",
	  { "list", "--json" },
	  { { "GET /v1/devices", 200, "@devices-demo.json" } },
	  0,
	  { "\"generation\" : 42", "\\u009b" },
	  { NULL },
	  { "GET /v1/devices" },
	  NULL,
	  TRUE },
	{ "list-tree",
	  { "list", "--tree" },
	  { { "GET /v1/devices", 200, "@devices-demo.json" } },
	  0,
	  { "Controller 0000:00:14.0: Intel Corporation",
	    "\u2502   \u2502   \u251c\u2500\u2500 Port 1-1.1  Dev 001:005  0781:5567  SanDisk "
	    "Cruzer "
	    "Blade",
	    "Controller 0000:03:00.0: ASMedia",
	    "Not plugged in" },
	  { NULL },
	  { "GET /v1/devices" } },
	{ "tree",
	  { "tree", "-w" },
	  { { "GET /v1/devices", 200, "@devices-demo.json" } },
	  0,
	  { "\u2514\u2500\u2500 Bus 003 usb3",
	    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW" },
	  { NULL },
	  { "GET /v1/devices" } },
	{ "list-filters",
	  { "list",
	    "--state",
	    "attached",
	    "--instance",
	    "web 01",
	    "--vendor-id",
	    "0781",
	    "--product-id",
	    "55AB",
	    "--present" },
	  { { "GET /v1/devices?state=attached&instance=web%2001&vendor_id=0781&product_id=55ab"
	      "&present=true",
	      200,
	      "{\"generation\": 1, \"devices\": []}" } },
	  0,
	  { "BUS  DEV  ID" },
	  { NULL },
	  { "GET /v1/devices?state=attached&instance=web%2001&vendor_id=0781&product_id=55ab"
	    "&present=true" } },
	{ "list-missing",
	  { "--json", "list", "--missing" },
	  { { "GET /v1/devices?present=false", 200, "{\"generation\": 1, \"devices\": []}" } },
	  0,
	  { "\"devices\" : []" },
	  { NULL },
	  { "GET /v1/devices?present=false" },
	  NULL,
	  TRUE },
	{ "list-wrong-shape",
	  { "list" },
	  { { "GET /v1/devices", 200, "{\"devices\": 3}" } },
	  65,
	  { NULL },
	  { "usbpass: the answer of usbpassd has no \"devices\" array" },
	  { "GET /v1/devices" } },
	/* show */
	{ "show",
	  { "show", "1:5" },
	  { { "GET /v1/devices/1:5", 200, DEVICE_ATTACHED } },
	  0,
	  { "ID:             " SANDISK_ID "\n",
	    "Bus:device:     001:005\n",
	    "Instance:       web01 (" WEB01_UUID ")\n" },
	  { NULL },
	  { "GET /v1/devices/1:5" } },
	{ "show-escaped",
	  { "show", "a/b c?#\u00e9" },
	  { { "GET /v1/devices/a%2Fb%20c%3F%23%C3%A9", 200, DEVICE_AVAILABLE } },
	  0,
	  { "State:" },
	  { NULL },
	  { "GET /v1/devices/a%2Fb%20c%3F%23%C3%A9" } },
	{ "show-dot-dot",
	  { "show", ".." },
	  { { NULL } },
	  65,
	  { NULL },
	  { "usbpass: '..' is not a device, instance or token\n" },
	  { NULL } },
	{ "show-not-found",
	  { "show", "9-9" },
	  { { "GET /v1/devices/9-9", 404, ERROR_BODY("not-found", "USB device '9-9' not found") } },
	  3,
	  { NULL },
	  { "usbpass: USB device '9-9' not found\n" },
	  { "GET /v1/devices/9-9" } },
	{ "show-no-route",
	  { "show", "x" },
	  { { NULL } },
	  3,
	  { NULL },
	  { "no route in the fake usbpassd" },
	  { "GET /v1/devices/x" } },
	/* attach and the error table */
	{ "attach",
	  { "attach", "1-1.1", "web01" },
	  { { "POST /v1/instances/web01/usb-devices", 200, DEVICE_ATTACHED } },
	  0,
	  { "Attached " SANDISK_ID " (SanDisk Cruzer Blade) to web01.\n" },
	  { NULL },
	  { "POST /v1/instances/web01/usb-devices" },
	  "{\"device\": \"1-1.1\"}" },
	{ "attach-json",
	  { "attach", "--json", "1-1.1", WEB01_UUID },
	  { { "POST /v1/instances/" WEB01_UUID "/usb-devices", 200, DEVICE_ATTACHED } },
	  0,
	  { "\"state\" : \"attached\"" },
	  { NULL },
	  { "POST /v1/instances/" WEB01_UUID "/usb-devices" },
	  "{\"device\": \"1-1.1\"}",
	  TRUE },
	{ "attach-in-use",
	  { "attach", "1-1.1", "db01" },
	  { { "POST /v1/instances/db01/usb-devices",
	      409,
	      ERROR_BODY("in-use",
	                 "USB device '1-1.1' (0781:5567) is in use by instance 'web01'") } },
	  4,
	  { NULL },
	  { "usbpass: USB device '1-1.1' (0781:5567) is in use by instance 'web01'\n" },
	  { "POST /v1/instances/db01/usb-devices" } },
	{ "attach-busy",
	  { "attach", "1-1.1", "db01" },
	  { { "POST /v1/instances/db01/usb-devices", 409, ERROR_BODY("busy", "being attached") } },
	  75,
	  { NULL },
	  { "usbpass: being attached\n" },
	  { "POST /v1/instances/db01/usb-devices" } },
	{ "attach-disabled",
	  { "attach", "1-1.1", "db01" },
	  { { "POST /v1/instances/db01/usb-devices",
	      403,
	      ERROR_BODY("disabled",
	                 "USB passthrough is disabled on this host: set enabled=true") } },
	  6,
	  { NULL },
	  { "usbpass: USB passthrough is disabled on this host" },
	  { "POST /v1/instances/db01/usb-devices" } },
	{ "attach-denied",
	  { "attach", "1-1", "db01" },
	  { { "POST /v1/instances/db01/usb-devices",
	      403,
	      ERROR_BODY("denied-by-policy", "hubs are never passed through (rule 'deny hub')") } },
	  5,
	  { NULL },
	  { "rule 'deny hub'" },
	  { "POST /v1/instances/db01/usb-devices" } },
	{ "attach-permission",
	  { "attach", "1-1.1", "db01" },
	  { { "POST /v1/instances/db01/usb-devices",
	      403,
	      ERROR_BODY("permission-denied", "uid 1000 is not in group 'usbpass'") } },
	  77,
	  { NULL },
	  { "usbpass: uid 1000 is not in group 'usbpass'\n" },
	  { "POST /v1/instances/db01/usb-devices" } },
	{ "attach-driver",
	  { "attach", "1-1.1", "web01" },
	  { { "POST /v1/instances/web01/usb-devices",
	      502,
	      ERROR_BODY("driver", "internal error: Did not find USB device 0781:5567") } },
	  7,
	  { NULL },
	  { "Did not find USB device" },
	  { "POST /v1/instances/web01/usb-devices" } },
	{ "attach-unknown-code",
	  { "attach", "1-1.1", "web01" },
	  { { "POST /v1/instances/web01/usb-devices",
	      404,
	      ERROR_BODY("teapot", "no such instance") } },
	  3,
	  { NULL },
	  { "usbpass: no such instance\n" },
	  { "POST /v1/instances/web01/usb-devices" } },
	{ "attach-no-body",
	  { "attach", "1-1.1", "web01" },
	  { { "POST /v1/instances/web01/usb-devices", 500, "oops", "text/plain" } },
	  70,
	  { NULL },
	  { "answered HTTP 500" },
	  { "POST /v1/instances/web01/usb-devices" } },
	{ "attach-hostile-message",
	  { "attach", "1-1.1", "web01" },
	  { { "POST /v1/instances/web01/usb-devices",
	      409,
	      ERROR_BODY("in-use",
	                 "in use\\u001b[2J\\u0007 by \\u009b31m\\u202eweb01\\r\\nFAKE: ok") } },
	  4,
	  { NULL },
	  { "usbpass: in use [2J  by  31m\ufffdweb01  FAKE: ok\n" },
	  { "POST /v1/instances/web01/usb-devices" } },
	/* detach: find the instance, then DELETE by identity */
	{ "detach",
	  { "detach", "1-1.1" },
	  { { "GET /v1/devices/1-1.1", 200, DEVICE_ATTACHED },
	    { "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID,
	      200,
	      DEVICE_AVAILABLE } },
	  0,
	  { "Detached " SANDISK_ID " (SanDisk Cruzer Blade) from web01.\n" },
	  { NULL },
	  { "GET /v1/devices/1-1.1",
	    "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID } },
	{ "detach-json",
	  { "detach", "--json", "1:5" },
	  { { "GET /v1/devices/1:5", 200, DEVICE_ATTACHED },
	    { "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID,
	      200,
	      DEVICE_AVAILABLE } },
	  0,
	  { "\"state\" : \"available\"" },
	  { NULL },
	  { "GET /v1/devices/1:5",
	    "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID } },
	{ "detach-not-assigned",
	  { "detach", "1-1.1" },
	  { { "GET /v1/devices/1-1.1", 200, DEVICE_AVAILABLE } },
	  3,
	  { NULL },
	  { "usbpass: USB device '1-1.1' is not assigned to any instance\n" },
	  { "GET /v1/devices/1-1.1" } },
	{ "detach-not-found",
	  { "detach", "9-9" },
	  { { "GET /v1/devices/9-9", 404, ERROR_BODY("not-found", "USB device '9-9' not found") } },
	  3,
	  { NULL },
	  { "not found" },
	  { "GET /v1/devices/9-9" } },
	{ "detach-failed",
	  { "detach", "1-1.1" },
	  { { "GET /v1/devices/1-1.1", 200, DEVICE_ATTACHED },
	    { "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID,
	      502,
	      ERROR_BODY("driver", "operation failed: device not found") } },
	  7,
	  { NULL },
	  { "usbpass: operation failed: device not found\n" },
	  { "GET /v1/devices/1-1.1",
	    "DELETE /v1/instances/" WEB01_UUID "/usb-devices/" SANDISK_ID } },
	/* instances, status */
	{ "instances",
	  { "instances" },
	  { { "GET /v1/instances", 200, INSTANCES } },
	  0,
	  { "NAME   UUID",
	    "web01  " WEB01_UUID "  running  " SANDISK_ID " SanDisk Cruzer Blade (attached)",
	    "db01   11111111-2222-3333-4444-555555555555  shutoff  -" },
	  { NULL },
	  { "GET /v1/instances" } },
	{ "instances-one",
	  { "instances", "web01" },
	  { { "GET /v1/instances/web01",
	      200,
	      "{\"uuid\": \"" WEB01_UUID
	      "\", \"name\": \"web01\", \"state\": \"paused\", \"devices\": "
	      "[]}" } },
	  0,
	  { "web01  " WEB01_UUID "  paused  -" },
	  { NULL },
	  { "GET /v1/instances/web01" } },
	{ "instances-json",
	  { "instances", "--json" },
	  { { "GET /v1/instances", 200, INSTANCES } },
	  0,
	  { "\"instances\" : [" },
	  { NULL },
	  { "GET /v1/instances" },
	  NULL,
	  TRUE },
	{ "status",
	  { "status" },
	  { { "GET /v1/devices", 200, "@devices-demo.json" } },
	  0,
	  { "ID  ",
	    "BUS:DEV  STATE",
	    "0403:6001:s:A50285BI",
	    "internal error: unable to execute QEMU" },
	  { NULL },
	  { "GET /v1/devices" } },
	{ "status-filtered",
	  { "status", "--all", "--state", "failed" },
	  { { "GET /v1/devices?state=failed", 200, "@devices-demo.json" } },
	  0,
	  { "root hub" },
	  { NULL },
	  { "GET /v1/devices?state=failed" } },
	/* audit, tokens */
	{ "audit",
	  { "audit", "--limit", "5" },
	  { { "GET /v1/audit?limit=5",
	      200,
	      "{\"entries\": [{\"id\": 3, \"time\": \"2026-11-24T10:00:00Z\", \"actor\": \"uid:0\","
	      " \"action\": \"attach\", \"device_id\": \"" SANDISK_ID "\", \"instance_uuid\": "
	      "\"" WEB01_UUID "\", \"outcome\": \"ok\", \"message\": null}]}" } },
	  0,
	  { "ID  TIME", "3   2026-11-24T10:00:00Z  uid:0  attach" },
	  { NULL },
	  { "GET /v1/audit?limit=5" } },
	{ "audit-after",
	  { "audit", "--after", "10", "-n", "2" },
	  { { "GET /v1/audit?after=10&limit=2", 200, "{\"entries\": []}" } },
	  0,
	  { "ID  TIME" },
	  { NULL },
	  { "GET /v1/audit?after=10&limit=2" } },
	{ "audit-permission",
	  { "audit" },
	  { { "GET /v1/audit",
	      403,
	      ERROR_BODY("permission-denied", "the audit log needs the admin role") } },
	  77,
	  { NULL },
	  { "admin role" },
	  { "GET /v1/audit" } },
	{ "token-create",
	  { "token", "create", "ci", "--role", "operator" },
	  { { "POST /v1/tokens",
	      201,
	      "{\"name\": \"ci\", \"role\": \"operator\", \"token\": \"upt_0123abc\"}" } },
	  0,
	  { "Created token 'ci' with role operator.", "once:\nupt_0123abc\n" },
	  { NULL },
	  { "POST /v1/tokens" },
	  "{\"name\": \"ci\", \"role\": \"operator\"}" },
	{ "token-create-exists",
	  { "token", "create", "ci", "-r", "reader" },
	  { { "POST /v1/tokens", 409, ERROR_BODY("busy", "a token named 'ci' exists") } },
	  75,
	  { NULL },
	  { "a token named 'ci' exists" },
	  { "POST /v1/tokens" },
	  "{\"name\": \"ci\", \"role\": \"reader\"}" },
	{ "token-list",
	  { "token", "list" },
	  { { "GET /v1/tokens",
	      200,
	      "{\"tokens\": [{\"name\": \"ci\", \"role\": \"operator\", \"created\": "
	      "\"2026-11-24T10:00:00Z\","
	      " \"last_used\": null}]}" } },
	  0,
	  { "NAME  ROLE", "ci    operator  2026-11-24T10:00:00Z  -\n" },
	  { NULL },
	  { "GET /v1/tokens" } },
	{ "token-revoke",
	  { "token", "revoke", "ci" },
	  { { "DELETE /v1/tokens/ci", 204, NULL } },
	  0,
	  { "Revoked token 'ci'.\n" },
	  { NULL },
	  { "DELETE /v1/tokens/ci" } },
	{ "token-revoke-json",
	  { "token", "revoke", "--json", "ci" },
	  { { "DELETE /v1/tokens/ci", 204, NULL } },
	  0,
	  { "{}\n" },
	  { NULL },
	  { "DELETE /v1/tokens/ci" } },
	{ "token-revoke-not-found",
	  { "token", "revoke", "nope" },
	  { { "DELETE /v1/tokens/nope", 404, ERROR_BODY("not-found", "no token named 'nope'") } },
	  3,
	  { NULL },
	  { "no token named 'nope'" },
	  { "DELETE /v1/tokens/nope" } },
	/* policy, host */
	{ "policy-show",
	  { "policy", "show" },
	  { { "GET /v1/policy",
	      200,
	      "{\"enabled\": true, \"rules\": [\"deny hub\", \"allow 0781:5567\"]}" } },
	  0,
	  { "Passthrough: enabled\nRules:\n    1  deny hub\n    2  allow 0781:5567\n" },
	  { NULL },
	  { "GET /v1/policy" } },
	{ "policy-check-allowed",
	  { "policy", "check", "1-1.1" },
	  { { "GET /v1/devices/1-1.1/policy",
	      200,
	      "{\"allowed\": true, \"rule\": \"allow 0781:5567\", \"reason\": \"the lab's "
	      "sticks\"}" } },
	  0,
	  { "Allowed: yes\nRule:    allow 0781:5567\nReason:  the lab's sticks\n" },
	  { NULL },
	  { "GET /v1/devices/1-1.1/policy" } },
	{ "policy-check-denied",
	  { "policy", "check", "--json", "1-2" },
	  { { "GET /v1/devices/1-2/policy",
	      200,
	      "{\"allowed\": false, \"rule\": \"deny class 03:01:01\", \"reason\": \"HID "
	      "keyboard\"}" } },
	  5,
	  { "\"allowed\" : false" },
	  { NULL },
	  { "GET /v1/devices/1-2/policy" },
	  NULL,
	  TRUE },
	{ "policy-check-garbled",
	  { "policy", "check", "1-2" },
	  { { "GET /v1/devices/1-2/policy", 200, "{\"allowed\": \"yes\"}" } },
	  65,
	  { NULL },
	  { "no \"allowed\" boolean" },
	  { "GET /v1/devices/1-2/policy" } },
	{ "host",
	  { "host" },
	  { { "GET /v1/host",
	      200,
	      "{\"host\": \"demo-host\", \"version\": \"0.1.0\", \"enabled\": false, \"driver\": "
	      "\"libvirt\","
	      " \"driver_connected\": true, \"store\": \"sqlite\", \"devices\": 14}" } },
	  0,
	  { "Host:        demo-host\n",
	    "Passthrough: disabled\n",
	    "Driver:      libvirt (connected)\n" },
	  { NULL },
	  { "GET /v1/host" } },
	/* broken answers: invalid-data (65), as any untrusted input that does not parse */
	{ "garbled",
	  { "host" },
	  { { "GET /v1/host", 200, "{\"host\": " } },
	  65,
	  { NULL },
	  { "sent a garbled answer: not JSON" },
	  { "GET /v1/host" } },
	{ "not-json",
	  { "host" },
	  { { "GET /v1/host", 200, "<html></html>", "text/html" } },
	  65,
	  { NULL },
	  { "answered 'text/html' instead of JSON" },
	  { "GET /v1/host" } },
	{ "array",
	  { "host" },
	  { { "GET /v1/host", 200, "[1, 2]" } },
	  65,
	  { NULL },
	  { "with an array instead of an object" },
	  { "GET /v1/host" } },
	/* watch */
	{ "watch",
	  { "watch", "--count", "3" },
	  { { "GET /v1/events", 200, EVENTS, "text/event-stream", TRUE } },
	  0,
	  { "added 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade\n"
	    "attached " SANDISK_ID " 1-1.1 SanDisk Cruzer Blade \u2192 web01\n"
	    "removed dead:beef:s:EVIL 3-3 Evil [31mRed  X\n" },
	  { NULL },
	  { "GET /v1/events" } },
	{ "watch-json",
	  { "watch", "--json", "-n", "2" },
	  { { "GET /v1/events", 200, EVENTS, "text/event-stream", TRUE } },
	  0,
	  { "{\"event\":\"inventory\",\"data\":{\"kind\":\"added\"",
	    "\n{\"event\":\"future\",\"data\":{\"something\":\"new\"}}\n" },
	  { NULL },
	  { "GET /v1/events" } },
	{ "watch-closed",
	  { "watch" },
	  { { "GET /v1/events", 200, EVENTS, "text/event-stream" } },
	  1,
	  { "added 0781:5567:s:XYZ", "removed dead:beef:s:EVIL" },
	  { "usbpass: usbpassd at '", "' closed the event stream\n" },
	  { "GET /v1/events" } },
	{ "watch-refused",
	  { "watch" },
	  { { "GET /v1/events",
	      401,
	      ERROR_BODY("permission-denied", "a bearer token is required") } },
	  77,
	  { NULL },
	  { "a bearer token is required" },
	  { "GET /v1/events" } },
	{ "watch-not-a-stream",
	  { "watch" },
	  { { "GET /v1/events", 200, "{}" } },
	  65,
	  { NULL },
	  { "instead of an event stream" },
	  { "GET /v1/events" } },
};

static gboolean
json_text_equal(const gchar *a, gsize a_len, const gchar *b, gsize b_len)
{
	g_autoptr(JsonParser) pa = json_parser_new();
	g_autoptr(JsonParser) pb = json_parser_new();
	if (!json_parser_load_from_data(pa, a, (gssize)a_len, NULL) ||
	    !json_parser_load_from_data(pb, b, (gssize)b_len, NULL))
		return FALSE;
	return json_node_equal(json_parser_get_root(pa), json_parser_get_root(pb));
}

static void
test_command(Fixture *fx, gconstpointer user_data)
{
	const CliCase *c = user_data;
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	guint n_requests = 0;
	gint rc;

	for (guint i = 0; i < G_N_ELEMENTS(c->routes) && c->routes[i].key != NULL; i++) {
		g_autoptr(GBytes) body = load_body(c->routes[i].body);
		fixture_route_full(fx,
		                   c->routes[i].key,
		                   c->routes[i].status,
		                   body == NULL                        ? NULL
		                   : c->routes[i].content_type != NULL ? c->routes[i].content_type
		                                                       : "application/json",
		                   body,
		                   c->routes[i].stream,
		                   FALSE);
	}
	g_ptr_array_add(args, (gpointer) "--socket");
	g_ptr_array_add(args, fx->socket_path);
	for (guint i = 0; c->args[i] != NULL; i++)
		g_ptr_array_add(args, (gpointer)c->args[i]);
	g_ptr_array_add(args, NULL);

	rc = run_cli(fx, NULL, (const gchar *const *)args->pdata, &out, &err);
	g_assert_cmpint(rc, ==, c->exit_code);
	for (guint i = 0; c->out[i] != NULL; i++) {
		if (strstr(out, c->out[i]) == NULL)
			g_test_message("stdout lacks '%s'", c->out[i]);
		g_assert_nonnull(strstr(out, c->out[i]));
	}
	for (guint i = 0; c->err[i] != NULL; i++) {
		if (strstr(err, c->err[i]) == NULL)
			g_test_message("stderr lacks '%s'", c->err[i]);
		g_assert_nonnull(strstr(err, c->err[i]));
	}
	/* errors go to stderr only, as "usbpass: <message>"; a denied policy check is an answer */
	if (c->err[0] == NULL)
		g_assert_cmpstr(err, ==, "");
	else
		g_assert_true(g_str_has_prefix(err, "usbpass: "));
	if (c->exit_code != 0 && c->exit_code != 1 && c->exit_code != 5)
		g_assert_cmpstr(out, ==, "");

	for (; n_requests < G_N_ELEMENTS(c->requests) && c->requests[n_requests] != NULL;
	     n_requests++) {
		g_autofree gchar *request = NULL;
		g_autofree gchar *body = NULL;
		fixture_get_request(fx, n_requests, &request, &body, NULL);
		g_assert_cmpstr(request, ==, c->requests[n_requests]);
		if (n_requests == 0 && c->body != NULL)
			g_assert_true(
			  json_text_equal(body, strlen(body), c->body, strlen(c->body)));
	}
	g_assert_cmpuint(fixture_n_requests(fx), ==, n_requests);

	if (c->out_is_route_json) {
		g_autoptr(GBytes) expected = load_body(c->routes[0].body);
		gsize len = 0;
		const gchar *data = g_bytes_get_data(expected, &len);
		g_assert_true(json_text_equal(out, strlen(out), data, len));
	}
}

/* ---- other CLI behaviour ---- */

static void
test_unreachable(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "nothing.sock", NULL);
	g_autofree gchar *expected =
	  g_strdup_printf("usbpass: cannot reach usbpassd at '%s': ", path);
	const gchar *args[] = { "--socket", path, "status", NULL };
	const gchar *env[] = { NULL, NULL };
	g_autofree gchar *env_socket = g_strdup_printf("USBPASS_SOCKET=%s", path);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *args_env[] = { "host", NULL };

	g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 1);
	g_assert_true(g_str_has_prefix(err, expected));
	g_assert_cmpstr(out, ==, "");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	/* USBPASS_SOCKET names the socket when --socket does not */
	env[0] = env_socket;
	g_assert_cmpint(run_cli(fx, env, args_env, &out, &err), ==, 1);
	g_assert_true(g_str_has_prefix(err, expected));
	g_assert_cmpuint(fixture_n_requests(fx), ==, 0);
}

typedef struct {
	const gchar *name;
	const gchar *env[3];
	const gchar *args[6];       /* "@URL" is the fake TCP URL, "@FILE" a token file */
	const gchar *authorization; /* expected; "" for none */
} AuthCase;

static const AuthCase auth_cases[] = {
	{ "url-token",
	  { NULL },
	  { "--url", "@URL", "--token", "upt_cli", "host" },
	  "Bearer upt_cli" },
	{ "url-env-token",
	  { "USBPASS_TOKEN=upt_env" },
	  { "--url", "@URL", "host" },
	  "Bearer upt_env" },
	{ "url-token-file",
	  { "USBPASS_TOKEN=upt_env" },
	  { "host", "--url", "@URL", "--token-file", "@FILE" },
	  "Bearer upt_file" },
	{ "env-url",
	  { "USBPASS_URL=@URL", "USBPASS_TOKEN=upt_env" },
	  { "host" },
	  "Bearer upt_env" },
	{ "url-no-token", { NULL }, { "--url", "@URL", "host" }, "" },
	/* the socket authenticates by peer credentials: no token unless one is asked for */
	{ "socket-env-token", { "USBPASS_TOKEN=upt_env" }, { "--socket", "@SOCKET", "host" }, "" },
	{ "socket-token",
	  { NULL },
	  { "--socket", "@SOCKET", "--token", "upt_cli", "host" },
	  "Bearer upt_cli" },
};

static void
test_auth(Fixture *fx, gconstpointer user_data)
{
	const AuthCase *c = user_data;
	g_autofree gchar *token_file = g_build_filename(fx->tmpdir, "token", NULL);
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *request = NULL;
	g_autofree gchar *authorization = NULL;

	g_assert_true(g_file_set_contents(token_file, "upt_file\n", -1, NULL));
	fixture_route(fx, "GET /v1/host", 200, "{\"host\": \"demo-host\"}");
	for (guint i = 0; c->args[i] != NULL; i++) {
		if (g_strcmp0(c->args[i], "@URL") == 0)
			g_ptr_array_add(args, g_strdup(fx->url));
		else if (g_strcmp0(c->args[i], "@FILE") == 0)
			g_ptr_array_add(args, g_strdup(token_file));
		else if (g_strcmp0(c->args[i], "@SOCKET") == 0)
			g_ptr_array_add(args, g_strdup(fx->socket_path));
		else
			g_ptr_array_add(args, g_strdup(c->args[i]));
	}
	g_ptr_array_add(args, NULL);
	for (guint i = 0; c->env[i] != NULL; i++) {
		if (g_str_has_suffix(c->env[i], "=@URL")) {
			g_autofree gchar *key = g_strndup(c->env[i], strlen(c->env[i]) - 5);
			g_ptr_array_add(env, g_strdup_printf("%s=%s", key, fx->url));
		} else {
			g_ptr_array_add(env, g_strdup(c->env[i]));
		}
	}
	g_ptr_array_add(env, NULL);

	g_assert_cmpint(
	  run_cli(
	    fx, (const gchar *const *)env->pdata, (const gchar *const *)args->pdata, &out, &err),
	  ==,
	  0);
	g_assert_cmpstr(out, ==, "Host: demo-host\n");
	g_assert_cmpuint(fixture_n_requests(fx), ==, 1);
	fixture_get_request(fx, 0, &request, NULL, &authorization);
	g_assert_cmpstr(request, ==, "GET /v1/host");
	g_assert_cmpstr(authorization, ==, c->authorization);
}

typedef struct {
	const gchar *args[6];
	const gchar *err;  /* the message after "usbpass: " */
	const gchar *hint; /* "Try 'usbpass… --help'" */
} UsageCase;

static void
test_usage(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *token_file = g_build_filename(fx->tmpdir, "missing-token", NULL);
	const UsageCase cases[] = {
		{ { NULL }, "no command given", "Try 'usbpass --help'" },
		{ { "frob" }, "unknown command 'frob'", "Try 'usbpass --help'" },
		{ { "--bogus", "list" }, "Unknown option --bogus", "Try 'usbpass --help'" },
		{ { "list", "--bogus" }, "Unknown option --bogus", "Try 'usbpass list --help'" },
		{ { "list", "extra" }, "unexpected argument 'extra'", "Try 'usbpass list --help'" },
		{ { "list", "--present", "--missing" },
		  "--present and --missing",
		  "Try 'usbpass list --help'" },
		{ { "attach", "1-1.1" },
		  "'attach' needs DEVICE INSTANCE",
		  "Try 'usbpass attach --help'" },
		{ { "show" }, "'show' needs DEVICE", "Try 'usbpass show --help'" },
		{ { "show", "a", "b" }, "unexpected argument 'b'", "Try 'usbpass show --help'" },
		{ { "show", "\xff\xfe" },
		  "an argument is not valid UTF-8",
		  "Try 'usbpass show --help'" },
		{ { "detach" }, "'detach' needs DEVICE", "Try 'usbpass detach --help'" },
		{ { "token" }, "'token' needs a subcommand", "Try 'usbpass token --help'" },
		{ { "token", "frob" }, "unknown command 'token frob'", "Try 'usbpass --help'" },
		{ { "token", "create", "ci" },
		  "--role is required",
		  "Try 'usbpass token create --help'" },
		{ { "policy", "check" },
		  "'policy check' needs DEVICE",
		  "Try 'usbpass policy check --help'" },
		{ { "audit", "--limit", "x" },
		  "Cannot parse integer value",
		  "Try 'usbpass audit --help'" },
		{ { "audit", "--limit", "5000" },
		  "--limit must be between 1 and 1000",
		  "Try 'usbpass audit --help'" },
		{ { "watch", "--count", "-1" },
		  "--count must be a positive number",
		  "Try 'usbpass watch --help'" },
		{ { "--url", "ftp://x", "host" },
		  "invalid URL 'ftp://x'",
		  "Try 'usbpass host --help'" },
		{ { "--url", "http://h:1", "--socket", "/x", "host" },
		  "--url and --socket cannot be used together",
		  "Try 'usbpass host --help'" },
		{ { "help", "frob" }, "unknown command 'frob'", "Try 'usbpass help --help'" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;
		g_autofree gchar *expected = g_strdup_printf("usbpass: %s", cases[i].err);
		g_test_message("usage case %u: %s", i, cases[i].err);
		g_assert_cmpint(run_cli(fx, NULL, cases[i].args, &out, &err), ==, 2);
		g_assert_true(g_str_has_prefix(err, expected));
		g_assert_nonnull(strstr(err, cases[i].hint));
		g_assert_cmpstr(out, ==, "");
	}
	/* a named token file that cannot be read is the user's data error */
	{
		const gchar *args[] = {
			"--url", fx->url, "--token-file", token_file, "host", NULL
		};
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;
		g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 65);
		g_assert_true(g_str_has_prefix(err, "usbpass: cannot read token file '"));
	}
	/* nothing reached the daemon */
	g_assert_cmpuint(fixture_n_requests(fx), ==, 0);
}

static void
test_help(Fixture *fx, gconstpointer user_data)
{
	const gchar *commands[][3] = {
		{ "list" },           { "tree" },
		{ "show" },           { "watch" },
		{ "attach" },         { "detach" },
		{ "instances" },      { "status" },
		{ "audit" },          { "token", "create" },
		{ "token", "list" },  { "token", "revoke" },
		{ "policy", "show" }, { "policy", "check" },
		{ "host" },           { "help" },
	};
	const gchar *main_help[][3] = { { "--help" }, { "-h" }, { "help" } };

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autofree gchar *name = g_strjoinv(" ", (gchar **)commands[i]);
		g_autofree gchar *usage = g_strdup_printf("usbpass [OPTION\u2026] %s", name);
		const gchar *variants[][5] = {
			{ commands[i][0],
			  commands[i][1] != NULL ? commands[i][1] : "--help",
			  commands[i][1] != NULL ? "--help" : NULL },
			{ "help", commands[i][0], commands[i][1] },
		};
		for (guint j = 0; j < G_N_ELEMENTS(variants); j++) {
			g_autofree gchar *out = NULL;
			g_autofree gchar *err = NULL;
			g_assert_cmpint(run_cli(fx, NULL, variants[j], &out, &err), ==, 0);
			g_assert_true(g_str_has_prefix(out, "Usage:\n"));
			g_assert_nonnull(strstr(out, usage));
			g_assert_nonnull(strstr(out, "--json"));
			g_assert_cmpstr(err, ==, "");
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(main_help); i++) {
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;
		g_assert_cmpint(run_cli(fx, NULL, main_help[i], &out, &err), ==, 0);
		g_assert_true(g_str_has_prefix(out, "Usage:\n  usbpass [OPTION\u2026] COMMAND"));
		g_assert_nonnull(strstr(out, "  token create NAME --role ROLE"));
		g_assert_nonnull(strstr(out, "Exit status:"));
	}
	{
		const gchar *args[] = { "token", "--help", NULL };
		const gchar *version[] = { "--version", NULL };
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;
		g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 0);
		g_assert_nonnull(strstr(out, "  token revoke NAME"));
		g_assert_null(strstr(out, "policy show"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(run_cli(fx, NULL, version, &out, &err), ==, 0);
		g_assert_cmpstr(out, ==, "usbpass " PACKAGE_VERSION "\n");
	}
	g_assert_cmpuint(fixture_n_requests(fx), ==, 0);
}

static void
test_too_big(Fixture *fx, gconstpointer user_data)
{
	const gchar *args[] = { "--socket", fx->socket_path, "list", NULL };
	gsize len = USBPASS_CLIENT_MAX_RESPONSE_BYTES + 1024;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gchar *big = g_malloc(len);
	g_autoptr(GBytes) body = NULL;

	/* a valid JSON string, just too long */
	memset(big, 'x', len);
	big[0] = '"';
	big[len - 1] = '"';
	body = g_bytes_new_take(big, len);
	fixture_route_full(fx, "GET /v1/devices", 200, "application/json", body, FALSE, FALSE);
	g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 65);
	g_assert_nonnull(strstr(err, "more than the limit of 16777216"));

	/* and the same without a Content-Length: counted while reading */
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	fixture_route_full(fx, "GET /v1/devices", 200, "application/json", body, TRUE, FALSE);
	g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 65);
	g_assert_nonnull(strstr(err, "sent an answer of more than 16777216 bytes"));
}

static void
test_too_deep(Fixture *fx, gconstpointer user_data)
{
	const gchar *args[] = { "--socket", fx->socket_path, "host", NULL };
	gsize depth = 1024 * 1024;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gchar *deep = g_malloc(2 * depth);
	g_autoptr(GBytes) body = NULL;

	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	body = g_bytes_new_take(deep, 2 * depth);
	fixture_route_full(fx, "GET /v1/host", 200, "application/json", body, FALSE, FALSE);
	g_assert_cmpint(run_cli(fx, NULL, args, &out, &err), ==, 65);
	g_assert_nonnull(strstr(err, "nests deeper than 64 levels"));
}

/* ---- the library, driven directly ---- */

typedef struct {
	guint status;
	const gchar *content_type;
	const gchar *body;
	GQuark domain;
	gint code;
	const gchar *message; /* a part of the message */
} ClientErrorCase;

static void
test_client_errors(Fixture *fx, gconstpointer user_data)
{
	const ClientErrorCase cases[] = {
		{ 404,
		  "application/json",
		  ERROR_BODY("not-found", "no such device"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_NOT_FOUND,
		  "no such device" },
		{ 409,
		  "application/json",
		  ERROR_BODY("in-use", "in use by web01"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_IN_USE,
		  "in use by web01" },
		{ 503,
		  "application/json",
		  ERROR_BODY("store", "database is locked"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_STORE,
		  "database is locked" },
		{ 504,
		  "application/json",
		  ERROR_BODY("timed-out", "libvirt did not answer"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_TIMED_OUT,
		  "libvirt did not answer" },
		{ 500,
		  "application/json",
		  ERROR_BODY("internal", "a bug"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_INTERNAL,
		  "a bug" },
		{ 501,
		  "application/json",
		  ERROR_BODY("not-supported", "no"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_NOT_SUPPORTED,
		  "no" },
		{ 400,
		  "application/json",
		  ERROR_BODY("invalid-data", "bad"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "bad" },
		/* without a usable body the status decides */
		{ 401,
		  NULL,
		  NULL,
		  USBPASS_ERROR,
		  USBPASS_ERROR_PERMISSION_DENIED,
		  "answered HTTP 401" },
		{ 404,
		  "text/plain",
		  "nope",
		  USBPASS_ERROR,
		  USBPASS_ERROR_NOT_FOUND,
		  "answered HTTP 404" },
		{ 405,
		  "application/json",
		  "{}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_NOT_SUPPORTED,
		  "HTTP 405" },
		{ 409,
		  "application/json",
		  "{\"error\": \"busy\"}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_BUSY,
		  "409" },
		{ 413, NULL, NULL, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "HTTP 413" },
		{ 502, "application/json", "[", USBPASS_ERROR, USBPASS_ERROR_DRIVER, "HTTP 502" },
		{ 418,
		  "application/json",
		  ERROR_BODY("teapot", "short and stout"),
		  USBPASS_ERROR,
		  USBPASS_ERROR_INTERNAL,
		  "short and stout" },
		{ 403,
		  "application/json",
		  "{\"error\": {\"code\": 7, \"message\": [\"x\"]}}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_PERMISSION_DENIED,
		  "HTTP 403" },
		/* 2xx that do not follow the API */
		{ 200,
		  "application/json",
		  "{\"host\": ",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "garbled" },
		{ 200,
		  "application/json",
		  "\"text\"",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "instead of an object" },
		{ 200,
		  "text/html",
		  "<html/>",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "instead of JSON" },
		/* the strict JSON guard the server uses too */
		{ 200,
		  "application/json; charset=latin1",
		  "{\"host\": \"demo-host\"}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "the charset 'latin1' is not utf-8" },
		{ 200,
		  "application/json",
		  "{\"host\": \"demo\\u0000-host\"}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "escaped NUL" },
		{ 200,
		  "application/json",
		  "{\"host\": \"a\", \"host\": \"b\"}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "two members named 'host'" },
		{ 200,
		  "application/json",
		  "{\"host\": \"a\"}{\"host\": \"b\"}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "a second value follows the first" },
		/* an error body that is not strict JSON is no usable body */
		{ 409,
		  "application/json",
		  "{\"error\": {\"code\": \"in-use\", \"code\": \"internal\", \"message\": \"x\"}}",
		  USBPASS_ERROR,
		  USBPASS_ERROR_BUSY,
		  "answered HTTP 409" },
	};
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(fx->socket_path);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) body = load_body(cases[i].body);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) host = NULL;
		fixture_route_full(
		  fx, "GET /v1/host", cases[i].status, cases[i].content_type, body, FALSE, FALSE);
		host = usbpass_client_get_host(client, NULL, &error);
		g_test_message("case %u: %s", i, error != NULL ? error->message : "no error");
		g_assert_null(host);
		g_assert_error(error, cases[i].domain, cases[i].code);
		g_assert_nonnull(strstr(error->message, cases[i].message));
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) host = NULL;
		fixture_route(fx, "GET /v1/host", 200, "{\"host\": \"demo-host\"}");
		host = usbpass_client_get_host(client, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(json_object_get_string_member(host, "host"), ==, "demo-host");
	}
}

static void
test_client_requests(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassClient) client = NULL;
	g_autoptr(GError) error = NULL;
	UsbpassClientDeviceFilter filter = {
		.state = "failed",
		.instance = "web&01",
		.present = USBPASS_CLIENT_PRESENT_NO,
	};
	const gchar *expected[] = {
		"GET /v1/devices?state=failed&instance=web%2601&present=false",
		"GET /v1/audit?after=7&limit=1000",
		"POST /v1/instances/web01/usb-devices",
		"DELETE /v1/instances/web01/usb-devices/0781:5567:s:X%2FY",
		"POST /v1/tokens",
		"GET /v1/tokens",
		"DELETE /v1/tokens/ci",
		"GET /v1/health",
		"GET /v1/policy",
		"GET /v1/devices/1-1.4/policy",
		"GET /v1/instances",
		"GET /v1/instances/web01",
		"GET /v1/devices",
		"GET /v1/devices/1:5",
	};
	JsonObject *answer;

	client = usbpass_client_new_for_url(fx->url, &error);
	g_assert_no_error(error);
	g_assert_true(usbpass_client_set_token(client, "upt_lib", &error));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
		fixture_route(fx, expected[i], 200, "{\"ok\": true}");
	fixture_route(fx, "DELETE /v1/tokens/ci", 204, NULL);

	answer = usbpass_client_list_devices(client, &filter, NULL, &error);
	g_assert_no_error(error);
	json_object_unref(answer);
	answer = usbpass_client_list_audit(client, 7, 1000, NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_attach(client, "web01", "1-1.4", NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_detach(client, "web01", "0781:5567:s:X/Y", NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_create_token(client, "ci", "reader", NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_list_tokens(client, NULL, &error);
	json_object_unref(answer);
	g_assert_true(usbpass_client_revoke_token(client, "ci", NULL, &error));
	answer = usbpass_client_health(client, NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_get_policy(client, NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_check_policy(client, "1-1.4", NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_list_instances(client, NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_get_instance(client, "web01", NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_list_devices(client, NULL, NULL, &error);
	json_object_unref(answer);
	answer = usbpass_client_get_device(client, "1:5", NULL, &error);
	g_assert_no_error(error);
	g_assert_true(json_object_get_boolean_member(answer, "ok"));
	json_object_unref(answer);

	g_assert_cmpuint(fixture_n_requests(fx), ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		g_autofree gchar *request = NULL;
		g_autofree gchar *body = NULL;
		g_autofree gchar *authorization = NULL;
		fixture_get_request(fx, i, &request, &body, &authorization);
		g_assert_cmpstr(request, ==, expected[i]);
		g_assert_cmpstr(authorization, ==, "Bearer upt_lib");
		if (i == 2)
			g_assert_true(
			  json_text_equal(body, strlen(body), "{\"device\":\"1-1.4\"}", 18));
		else if (i == 4)
			g_assert_true(json_text_equal(
			  body, strlen(body), "{\"name\":\"ci\",\"role\":\"reader\"}", 29));
		else
			g_assert_cmpstr(body, ==, "");
	}

	/* an empty name never becomes a request */
	g_assert_null(usbpass_client_get_device(client, "", NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_null(usbpass_client_attach(client, "web01", "", NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_client_revoke_token(client, "", NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_cmpuint(fixture_n_requests(fx), ==, G_N_ELEMENTS(expected));
}

static void
test_client_limits(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(fx->socket_path);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error2 = NULL;
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GString) json = g_string_new("{\"devices\": [");
	g_autoptr(GBytes) body = NULL;

	for (guint i = 0; i < 200; i++)
		g_string_append_printf(json, "%s{\"id\": \"%u\"}", i > 0 ? ", " : "", i);
	g_string_append(json, "]}");
	body = g_bytes_new(json->str, json->len);
	usbpass_client_set_max_response_bytes(client, 2048);

	fixture_route_full(fx, "GET /v1/devices", 200, "application/json", body, FALSE, FALSE);
	answer = usbpass_client_list_devices(client, NULL, NULL, &error);
	g_assert_null(answer);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "more than the limit of 2048"));

	/* chunked: no Content-Length, counted while reading */
	fixture_route_full(fx, "GET /v1/devices", 200, "application/json", body, TRUE, FALSE);
	answer = usbpass_client_list_devices(client, NULL, NULL, &error2);
	g_assert_null(answer);
	g_assert_error(error2, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error2->message, "more than 2048 bytes"));

	/* the same answer within the limit */
	usbpass_client_set_max_response_bytes(client, json->len);
	fixture_route_full(fx, "GET /v1/devices", 200, "application/json", body, FALSE, FALSE);
	answer = usbpass_client_list_devices(client, NULL, NULL, NULL);
	g_assert_nonnull(answer);
	g_assert_cmpuint(
	  json_array_get_length(json_object_get_array_member(answer, "devices")), ==, 200);
}

static void
test_client_timeout(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(fx->socket_path);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) answer = NULL;
	g_autofree gchar *expected =
	  g_strdup_printf("usbpassd at '%s' did not answer within 1 s", fx->socket_path);

	fixture_route_full(
	  fx, "POST /v1/instances/web01/usb-devices", 200, NULL, NULL, FALSE, TRUE);
	usbpass_client_set_timeout(client, 1);
	answer = usbpass_client_attach(client, "web01", "1-1.1", NULL, &error);
	g_assert_null(answer);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_TIMED_OUT);
	g_assert_cmpstr(error->message, ==, expected);
}

static void
test_client_records(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(fx->socket_path);
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(UsbpassDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	const struct {
		const gchar *body;
		const gchar *message;
	} bad[] = {
		{ "{\"devices\": [{\"id\": 7, \"vendor_id\": \"0781\", \"product_id\": \"5567\"}]}",
		  "sent a garbled device: member 'id'" },
		{ "{\"devices\": [" DEVICE_AVAILABLE ", 3]}", "sent a number instead of a device" },
		{ "{\"devices\": {}}", "without a \"devices\" array" },
		{ "{\"devices\": [{\"id\": \"0781:5567:s:X\", \"vendor_id\": \"XYZ\", "
		  "\"product_id\": "
		  "\"5567\"}]}",
		  "member 'vendor_id' must be 4 lower-case hex digits" },
	};

	fixture_route(fx,
	              "GET /v1/devices?state=attached",
	              200,
	              "{\"generation\": 3, \"devices\": [" DEVICE_ATTACHED ", "
	              "" DEVICE_AVAILABLE "]}");
	fixture_route(fx, "GET /v1/devices/1:5", 200, DEVICE_ATTACHED);
	{
		UsbpassClientDeviceFilter filter = { .state = "attached" };
		devices = usbpass_client_list_device_records(client, &filter, NULL, &error);
	}
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 2);
	device = usbpass_device_ref(g_ptr_array_index(devices, 0));
	g_assert_cmpstr(device->id, ==, SANDISK_ID);
	g_assert_cmpstr(device->port, ==, "1-1.1");
	g_assert_cmpuint(device->bus, ==, 1);
	g_assert_cmpuint(device->device, ==, 5);
	g_assert_cmpuint(device->vendor_id, ==, 0x0781);
	g_assert_cmpuint(device->product_id, ==, 0x5567);
	g_assert_cmpstr(device->serial, ==, "4C530001230123456789");
	g_clear_pointer(&device, usbpass_device_unref);

	device = usbpass_client_get_device_record(client, "1:5", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(device->name, ==, "SanDisk Cruzer Blade");
	g_clear_pointer(&device, usbpass_device_unref);

	g_assert_null(usbpass_client_get_device_record(client, "9-9", NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error_bad = NULL;
		g_autoptr(GPtrArray) none = NULL;
		fixture_route(fx, "GET /v1/devices", 200, bad[i].body);
		none = usbpass_client_list_device_records(client, NULL, NULL, &error_bad);
		g_test_message("%s", error_bad != NULL ? error_bad->message : "no error");
		g_assert_null(none);
		g_assert_error(error_bad, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error_bad->message, bad[i].message));
	}
}

typedef struct {
	GPtrArray *events; /* of gchar */
	GCancellable *cancellable;
	guint stop_after;
} WatchData;

static gboolean
watch_cb(const gchar *event, JsonNode *data, gpointer user_data)
{
	WatchData *watch = user_data;
	g_ptr_array_add(watch->events, g_strdup(event));
	if (watch->cancellable != NULL)
		g_cancellable_cancel(watch->cancellable);
	return watch->stop_after == 0 || watch->events->len < watch->stop_after;
}

static void
test_client_watch(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(fx->socket_path);
	g_autoptr(GBytes) events = g_bytes_new_static(EVENTS, strlen(EVENTS));
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	WatchData watch = { .events = seen, .stop_after = 3 };

	/* the stream stays open: the callback stops it */
	fixture_route_full(fx, "GET /v1/events", 200, "text/event-stream", events, TRUE, FALSE);
	g_assert_true(usbpass_client_watch_events(client, watch_cb, &watch, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(seen->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "inventory");
	g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, "future");
	g_assert_cmpstr(g_ptr_array_index(seen, 2), ==, "state");

	/* a cancellation from elsewhere ends it too */
	g_ptr_array_set_size(seen, 0);
	watch.stop_after = 0;
	watch.cancellable = cancellable;
	g_assert_false(usbpass_client_watch_events(client, watch_cb, &watch, cancellable, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(seen->len, ==, 1);
}

static void
add_test(const gchar *path, gconstpointer data, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, data, fixture_set_up, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(cli_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/cli/command{%s}", cli_cases[i].name);
		add_test(path, &cli_cases[i], test_command);
	}
	for (guint i = 0; i < G_N_ELEMENTS(auth_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/cli/auth{%s}", auth_cases[i].name);
		add_test(path, &auth_cases[i], test_auth);
	}
	add_test("/usbpass/cli/unreachable", NULL, test_unreachable);
	add_test("/usbpass/cli/usage", NULL, test_usage);
	add_test("/usbpass/cli/help", NULL, test_help);
	add_test("/usbpass/cli/limit{size}", NULL, test_too_big);
	add_test("/usbpass/cli/limit{depth}", NULL, test_too_deep);
	add_test("/usbpass/cli/client/errors", NULL, test_client_errors);
	add_test("/usbpass/cli/client/requests", NULL, test_client_requests);
	add_test("/usbpass/cli/client/records", NULL, test_client_records);
	add_test("/usbpass/cli/client/limits", NULL, test_client_limits);
	add_test("/usbpass/cli/client/timeout", NULL, test_client_timeout);
	add_test("/usbpass/cli/client/watch", NULL, test_client_watch);
	return g_test_run();
}

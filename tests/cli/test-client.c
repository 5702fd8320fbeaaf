/*
 * test-client.c: the parsers and the set-up of UsbpassClient, without a daemon
 */
#include "config.h"

#include <glib/gstdio.h>

#include <string.h>

#include "usbpass-client-private.h"
#include "usbpass-error.h"

typedef struct {
	const gchar *name;
	const gchar *json; /* NULL: built by the test */
	gboolean ok;
} JsonCase;

static void
test_json(void)
{
	const JsonCase cases[] = {
		{ "object", "{\"devices\": [1, 2, {\"a\": null}]}", TRUE },
		{ "scalar", "7", TRUE },
		{ "brackets-in-string",
		  "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
		  TRUE },
		{ "escaped-quote",
		  "{\"a\": "
		  "\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
		  TRUE },
		{ "quote-in-string", "{\"a\": \"it's /* no */ comment // here\"}", TRUE },
		{ "literals", "[1, -2.5e+3, true, false, null]", TRUE },
		{ "single-quoted", "{\"a\": 'x'}", FALSE },
		{ "comment", "{\"a\": 1 /* c */}", FALSE },
		{ "line-comment", "{\"a\": 1 // c\n}", FALSE },
		{ "hidden-brackets", "{\"device\": '\"', \"x\": [[[[]]]]}", FALSE },
		{ "garbage", "{\"a\": ", FALSE },
		{ "html", "<html>502 Bad Gateway</html>", FALSE },
		{ "empty", "", FALSE },
		{ "blank", "  \n", FALSE },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node =
		  usbpass_client_parse_json(cases[i].json, strlen(cases[i].json), &error);
		g_test_message("json{%s}", cases[i].name);
		if (cases[i].ok) {
			g_assert_no_error(error);
			g_assert_nonnull(node);
		} else {
			g_assert_null(node);
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		}
	}
}

static gchar *
nested(guint depth, gchar open, gchar close)
{
	gchar *text = g_new(gchar, 2 * depth + 1);
	memset(text, open, depth);
	memset(text + depth, close, depth);
	text[2 * depth] = '\0';
	return text;
}

static void
test_json_depth(void)
{
	const struct {
		guint depth;
		gchar open;
		gchar close;
		gboolean ok;
	} cases[] = {
		{ 1, '[', ']', TRUE },
		{ USBPASS_CLIENT_MAX_JSON_DEPTH, '[', ']', TRUE },
		{ USBPASS_CLIENT_MAX_JSON_DEPTH + 1, '[', ']', FALSE },
		/* json-glib 1.6 overflows the stack on these without the check */
		{ 4 * 1024 * 1024, '[', ']', FALSE },
		{ 4 * 1024 * 1024, '{', '}', FALSE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = nested(cases[i].depth, cases[i].open, cases[i].close);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node = NULL;
		if (cases[i].open == '{') {
			/* objects need members: {"a":{"a":...}} is the same depth test */
			g_autoptr(GString) obj = g_string_new(NULL);
			for (guint j = 0; j < cases[i].depth; j++)
				g_string_append(obj, "{\"a\":");
			g_string_append(obj, "1");
			for (guint j = 0; j < cases[i].depth; j++)
				g_string_append_c(obj, '}');
			node = usbpass_client_parse_json(obj->str, obj->len, &error);
		} else {
			node = usbpass_client_parse_json(text, strlen(text), &error);
		}
		if (cases[i].ok) {
			g_assert_no_error(error);
			g_assert_nonnull(node);
		} else {
			g_assert_null(node);
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		}
	}
}

/* brackets hidden behind a ' string or a comment holding '"': json-glib 1.6
 * accepts both and would recurse 32000 deep */
static void
test_json_not_strict(void)
{
	const gchar *prefixes[] = {
		"{\"device\": '\"', \"x\": ",
		"{\"device\": \"1-3\", /* \" */ \"x\": ",
		"{\"device\": \"1-3\", // \"\n\"x\": ",
	};
	for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
		g_autoptr(GString) text = g_string_new(prefixes[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node = NULL;
		for (guint j = 0; j < 32000; j++)
			g_string_append_c(text, '[');
		for (guint j = 0; j < 32000; j++)
			g_string_append_c(text, ']');
		g_string_append_c(text, '}');
		node = usbpass_client_parse_json(text->str, text->len, &error);
		g_assert_null(node);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "not strict JSON"));
	}
}

typedef struct {
	const gchar *segment;
	const gchar *escaped; /* NULL: INVALID_DATA */
} EscapeCase;

static void
test_escape(void)
{
	const EscapeCase cases[] = {
		{ "1-1.4", "1-1.4" },
		{ "0781:5567:s:4C530001230123456789", "0781:5567:s:4C530001230123456789" },
		{ "1:5", "1:5" },
		{ "web01", "web01" },
		{ "8f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7", "8f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7" },
		{ "a/b c", "a%2Fb%20c" },
		{ "?#%&=+", "%3F%23%25%26%3D%2B" },
		{ "\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9" },
		{ ".", NULL },
		{ "..", NULL },
		{ "...", "..." },
		{ "./x", ".%2Fx" },
		{ "", NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *escaped = usbpass_client_escape_segment(cases[i].segment, &error);
		g_assert_cmpstr(escaped, ==, cases[i].escaped);
		if (cases[i].escaped == NULL)
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		else
			g_assert_no_error(error);
	}
}

/* a stream that hands out one byte per read: every line and CR LF split across reads */
#define TEST_TYPE_TRICKLE_STREAM (test_trickle_stream_get_type())
G_DECLARE_FINAL_TYPE(TestTrickleStream, test_trickle_stream, TEST, TRICKLE_STREAM, GInputStream)

struct _TestTrickleStream {
	GInputStream parent_instance;
	GBytes *bytes;
	gsize offset;
};

G_DEFINE_TYPE(TestTrickleStream, test_trickle_stream, G_TYPE_INPUT_STREAM)

static gssize
test_trickle_stream_read(GInputStream *stream,
                         void *buffer,
                         gsize count,
                         GCancellable *cancellable,
                         GError **error)
{
	TestTrickleStream *self = TEST_TRICKLE_STREAM(stream);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(self->bytes, &len);
	if (self->offset >= len || count == 0)
		return 0;
	((guint8 *)buffer)[0] = data[self->offset++];
	return 1;
}

static void
test_trickle_stream_finalize(GObject *object)
{
	TestTrickleStream *self = TEST_TRICKLE_STREAM(object);
	g_bytes_unref(self->bytes);
	G_OBJECT_CLASS(test_trickle_stream_parent_class)->finalize(object);
}

static void
test_trickle_stream_class_init(TestTrickleStreamClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = test_trickle_stream_finalize;
	G_INPUT_STREAM_CLASS(klass)->read_fn = test_trickle_stream_read;
}

static void
test_trickle_stream_init(TestTrickleStream *self)
{
}

static GInputStream *
test_trickle_stream_new(GBytes *bytes)
{
	TestTrickleStream *self = g_object_new(TEST_TYPE_TRICKLE_STREAM, NULL);
	self->bytes = g_bytes_ref(bytes);
	return G_INPUT_STREAM(self);
}

typedef struct {
	GPtrArray *seen;  /* of gchar, "event=compact json" */
	guint stop_after; /* 0: never */
} EventCollector;

static gboolean
collect_event(const gchar *event, JsonNode *data, gpointer user_data)
{
	EventCollector *collector = user_data;
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;
	json_generator_set_root(generator, data);
	text = json_generator_to_data(generator, NULL);
	g_ptr_array_add(collector->seen, g_strdup_printf("%s=%s", event, text));
	return collector->stop_after == 0 || collector->seen->len < collector->stop_after;
}

typedef struct {
	const gchar *name;
	const gchar *stream; /* NULL: built by the test */
	guint stop_after;
	const gchar *seen[4]; /* what the callback got, NULL-terminated */
	gint error_code;      /* -1: the callback stopped it; else a USBPASS_ERROR code */
} EventCase;

static void
run_event_case(const EventCase *c, GBytes *bytes, gboolean trickle)
{
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	EventCollector collector = { .seen = seen, .stop_after = c->stop_after };
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;
	guint n = 0;

	g_test_message("events{%s}%s", c->name, trickle ? " byte by byte" : "");
	if (trickle)
		stream = test_trickle_stream_new(bytes);
	else
		stream = g_memory_input_stream_new_from_bytes(bytes);
	ok =
	  usbpass_client_read_events(stream, "/test.sock", collect_event, &collector, NULL, &error);
	for (; c->seen[n] != NULL; n++) {
		g_assert_cmpuint(n, <, seen->len);
		g_assert_cmpstr(g_ptr_array_index(seen, n), ==, c->seen[n]);
	}
	g_assert_cmpuint(seen->len, ==, n);
	if (c->error_code < 0) {
		g_assert_no_error(error);
		g_assert_true(ok);
	} else {
		g_assert_false(ok);
		g_assert_error(error, USBPASS_ERROR, c->error_code);
		g_assert_nonnull(strstr(error->message, "'/test.sock'"));
	}
}

static void
test_events(void)
{
	const EventCase cases[] = {
		{ "one",
		  "event: inventory\ndata: {\"kind\": \"added\"}\n\n",
		  0,
		  { "inventory={\"kind\":\"added\"}", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "crlf",
		  "event: state\r\ndata: {\"id\": \"a\"}\r\n\r\nevent: state\r\ndata: 2\r\n\r\n",
		  0,
		  { "state={\"id\":\"a\"}", "state=2", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "keep-alive",
		  ": usbpass events\n\n: keep-alive\n\nevent: state\ndata: 1\n\n: keep-alive\n\n",
		  0,
		  { "state=1", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "multi-line",
		  "event: x\ndata: [1,\ndata: 2]\n\n",
		  0,
		  { "x=[1,2]", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "no-space",
		  "event:x\ndata:{}\n\n",
		  0,
		  { "x={}", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "default-name",
		  "data: 3\n\n",
		  0,
		  { "message=3", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "no-data",
		  "event: lonely\n\nevent: y\nid: 7\nretry: 10\nfoo: bar\ndata: 4\n\n",
		  0,
		  { "y=4", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "hostile-name",
		  "event: st\x1b[2Jate\ndata: 5\n\n",
		  0,
		  { "st [2Jate=5", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "stop",
		  "event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: c\ndata: 3\n\n",
		  2,
		  { "a=1", "b=2", NULL },
		  -1 },
		{ "incomplete",
		  "event: a\ndata: 1\n\nevent: b\ndata: 2\n",
		  0,
		  { "a=1", NULL },
		  USBPASS_ERROR_UNREACHABLE },
		{ "empty", "", 0, { NULL }, USBPASS_ERROR_UNREACHABLE },
		{ "garbled",
		  "event: a\ndata: {\"kind\":\n\n",
		  0,
		  { NULL },
		  USBPASS_ERROR_INVALID_DATA },
		{ "deep", NULL, 0, { NULL }, USBPASS_ERROR_INVALID_DATA },
		{ "huge-data", NULL, 0, { NULL }, USBPASS_ERROR_INVALID_DATA },
		{ "endless-line", NULL, 0, { NULL }, USBPASS_ERROR_INVALID_DATA },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) bytes = NULL;
		if (cases[i].stream != NULL) {
			bytes = g_bytes_new_static(cases[i].stream, strlen(cases[i].stream));
		} else if (g_strcmp0(cases[i].name, "deep") == 0) {
			g_autofree gchar *deep =
			  nested(USBPASS_CLIENT_MAX_JSON_DEPTH + 1, '[', ']');
			gchar *text = g_strdup_printf("event: a\ndata: %s\n\n", deep);
			bytes = g_bytes_new_take(text, strlen(text));
		} else if (g_strcmp0(cases[i].name, "huge-data") == 0) {
			/* many short data lines adding up to more than the limit */
			GString *text = g_string_new("event: a\n");
			while (text->len <= USBPASS_CLIENT_MAX_EVENT_BYTES + 64)
				g_string_append(text, "data: 1111111111111111111111111111111\n");
			g_string_append(text, "\n");
			bytes = g_string_free_to_bytes(text);
		} else {
			gsize len = USBPASS_CLIENT_MAX_EVENT_BYTES + 4096;
			gchar *text = g_malloc(len);
			memset(text, 'x', len);
			bytes = g_bytes_new_take(text, len);
		}
		run_event_case(&cases[i], bytes, FALSE);
		/* byte by byte is slow for the megabyte cases, and they test no boundary */
		if (g_bytes_get_size(bytes) < 4096)
			run_event_case(&cases[i], bytes, TRUE);
	}
}

static void
test_events_cancelled(void)
{
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GBytes) bytes = g_bytes_new_static("data: 1\n\n", 9);
	g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes(bytes);
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	EventCollector collector = { .seen = seen };
	g_autoptr(GError) error = NULL;

	g_cancellable_cancel(cancellable);
	g_assert_false(usbpass_client_read_events(
	  stream, "/test.sock", collect_event, &collector, cancellable, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(seen->len, ==, 0);
}

typedef struct {
	const gchar *url;
	const gchar *location; /* NULL: INVALID_DATA */
} UrlCase;

static void
test_new_for_url(void)
{
	const UrlCase cases[] = {
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
		{ "https://usbpass.example:8443/", "https://usbpass.example:8443/" },
		{ "http://[::1]:8080", "http://[::1]:8080" },
		{ "https://h/prefix/", "https://h/prefix/" },
		{ "ftp://h", NULL },
		{ "http://", NULL },
		{ "not a url", NULL },
		{ "http://user:secret@h:1", NULL },
		{ "http://h:1/?q=1", NULL },
		{ "http://h:1/#frag", NULL },
		{ "http://h:99999", NULL },
		{ "", NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassClient) client = usbpass_client_new_for_url(cases[i].url, &error);
		g_test_message("url '%s'", cases[i].url);
		if (cases[i].location == NULL) {
			g_assert_null(client);
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_true(g_str_has_prefix(error->message, "invalid URL '"));
		} else {
			g_assert_no_error(error);
			g_assert_cmpstr(usbpass_client_get_location(client), ==, cases[i].location);
		}
	}
}

typedef struct {
	const gchar *token;
	gboolean ok;
} TokenCase;

static void
test_set_token(void)
{
	g_autofree gchar *long_token = g_strnfill(4097, 'a');
	g_autofree gchar *max_token = g_strnfill(4096, 'a');
	const TokenCase cases[] = {
		{ "upt_0123456789abcdef", TRUE },
		{ NULL, TRUE },
		{ max_token, TRUE },
		{ "", FALSE },
		{ "a b", FALSE },
		{ "abc\r\nX-Injected: 1", FALSE },
		{ "\xc3\xa9t\xc3\xa9", FALSE },
		{ "tab\there", FALSE },
		{ long_token, FALSE },
	};
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(NULL);

	g_assert_cmpstr(usbpass_client_get_location(client), ==, USBPASS_CLIENT_DEFAULT_SOCKET);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		gboolean ok = usbpass_client_set_token(client, cases[i].token, &error);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (ok)
			g_assert_no_error(error);
		else
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
}

typedef struct {
	gchar *tmpdir;
} TokenFixture;

static void
token_fixture_set_up(TokenFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	fx->tmpdir = g_dir_make_tmp("usbpass-client-XXXXXX", &error);
	g_assert_no_error(error);
	g_unsetenv("USBPASS_TOKEN");
	g_unsetenv("USBPASS_TOKEN_FILE");
}

static void
token_fixture_tear_down(TokenFixture *fx, gconstpointer user_data)
{
	g_autoptr(GFile) dir = g_file_new_for_path(fx->tmpdir);
	g_autoptr(GFileEnumerator) children =
	  g_file_enumerate_children(dir, G_FILE_ATTRIBUTE_STANDARD_NAME, 0, NULL, NULL);
	GFileInfo *info;
	while (children != NULL &&
	       (info = g_file_enumerator_next_file(children, NULL, NULL)) != NULL) {
		g_autofree gchar *path =
		  g_build_filename(fx->tmpdir, g_file_info_get_name(info), NULL);
		g_unlink(path);
		g_object_unref(info);
	}
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
	g_unsetenv("USBPASS_TOKEN");
	g_unsetenv("USBPASS_TOKEN_FILE");
}

static gchar *
write_file(TokenFixture *fx, const gchar *name, const gchar *contents, gssize len)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(fx->tmpdir, name, NULL);
	g_assert_true(g_file_set_contents(path, contents, len, &error));
	g_assert_no_error(error);
	return path;
}

static void
test_load_token(TokenFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *good = write_file(fx, "good", "  upt_secret\n", -1);
	g_autofree gchar *other = write_file(fx, "other", "upt_other", -1);
	g_autofree gchar *empty = write_file(fx, "empty", " \n", -1);
	g_autofree gchar *binary = write_file(fx, "binary", "upt\0secret", 10);
	g_autofree gchar *missing = g_build_filename(fx->tmpdir, "missing", NULL);
	g_autofree gchar *config_dir = g_build_filename(g_get_user_config_dir(), "usbpass", NULL);

	g_assert_cmpstr(g_get_user_config_dir(), ==, g_getenv("XDG_CONFIG_HOME"));
	g_autofree gchar *config_file = g_build_filename(config_dir, "token", NULL);
	g_autoptr(GError) error = NULL;
	gchar *token;

	/* nothing anywhere: no token and no error */
	token = usbpass_client_load_token(NULL, &error);
	g_assert_no_error(error);
	g_assert_null(token);

	/* the default file, then the environment, then a named file: each wins over the last */
	g_assert_cmpint(g_mkdir_with_parents(config_dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(config_file, "upt_default\n", -1, NULL));
	token = usbpass_client_load_token(NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(token, ==, "upt_default");
	g_free(token);

	g_setenv("USBPASS_TOKEN_FILE", other, TRUE);
	token = usbpass_client_load_token(NULL, &error);
	g_assert_cmpstr(token, ==, "upt_other");
	g_free(token);

	g_setenv("USBPASS_TOKEN", "upt_env", TRUE);
	token = usbpass_client_load_token(NULL, &error);
	g_assert_cmpstr(token, ==, "upt_env");
	g_free(token);

	token = usbpass_client_load_token(good, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(token, ==, "upt_secret");
	g_free(token);

	/* a named file that cannot give a token is an error, never a fallback */
	{
		const gchar *bad[] = { missing, empty, binary };
		for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_autoptr(GError) error_bad = NULL;
			g_assert_null(usbpass_client_load_token(bad[i], &error_bad));
			g_assert_error(error_bad, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_nonnull(strstr(error_bad->message, bad[i]));
		}
	}
	g_unsetenv("USBPASS_TOKEN");
	g_setenv("USBPASS_TOKEN_FILE", missing, TRUE);
	g_assert_null(usbpass_client_load_token(NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);

	g_unlink(config_file);
	g_rmdir(config_dir);
}

static void
test_unreachable(TokenFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "nothing.sock", NULL);
	g_autofree gchar *expected = g_strdup_printf("cannot reach usbpassd at '%s': ", path);
	g_autofree gchar *not_socket = write_file(fx, "plain", "x", -1);
	g_autoptr(UsbpassClient) client = usbpass_client_new_for_socket(path);
	g_autoptr(UsbpassClient) client2 = usbpass_client_new_for_socket(not_socket);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error2 = NULL;
	g_autoptr(JsonObject) host = usbpass_client_get_host(client, NULL, &error);
	g_autoptr(JsonObject) health = usbpass_client_health(client2, NULL, &error2);

	g_assert_null(host);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_UNREACHABLE);
	g_assert_true(g_str_has_prefix(error->message, expected));
	g_assert_null(health);
	g_assert_error(error2, USBPASS_ERROR, USBPASS_ERROR_UNREACHABLE);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *config_home = NULL;
	int rc;

	/* GLib caches the config dir: point it at an empty directory before any use
	 * (G_TEST_OPTION_ISOLATE_DIRS would do it, but leaks in GLib 2.74) */
	config_home = g_dir_make_tmp("usbpass-client-config-XXXXXX", NULL);
	g_assert_nonnull(config_home);
	g_setenv("XDG_CONFIG_HOME", config_home, TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/client/json", test_json);
	g_test_add_func("/usbpass/client/json{depth}", test_json_depth);
	g_test_add_func("/usbpass/client/json{not-strict}", test_json_not_strict);
	g_test_add_func("/usbpass/client/escape", test_escape);
	g_test_add_func("/usbpass/client/events", test_events);
	g_test_add_func("/usbpass/client/events{cancelled}", test_events_cancelled);
	g_test_add_func("/usbpass/client/new{url}", test_new_for_url);
	g_test_add_func("/usbpass/client/token{set}", test_set_token);
	g_test_add("/usbpass/client/token{load}",
	           TokenFixture,
	           NULL,
	           token_fixture_set_up,
	           test_load_token,
	           token_fixture_tear_down);
	g_test_add("/usbpass/client/unreachable",
	           TokenFixture,
	           NULL,
	           token_fixture_set_up,
	           test_unreachable,
	           token_fixture_tear_down);
	rc = g_test_run();
	g_rmdir(config_home);
	return rc;
}

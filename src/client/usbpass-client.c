/*
 * usbpass-client.c: a synchronous client of the usbpassd REST API
 */
#define G_LOG_DOMAIN "UsbpassClient"

#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <stdarg.h>
#include <string.h>

#include "usbpass-client-private.h"
#include "usbpass-device-json.h"
#include "usbpass-error.h"
#include "usbpass-json-guard.h"
#include "usbpass-string.h"

/* the longest server message kept in a GError, in bytes */
#define USBPASS_CLIENT_MAX_MESSAGE_BYTES 1024
/* the longest bearer token accepted, in bytes */
#define USBPASS_CLIENT_MAX_TOKEN_BYTES 4096

struct _UsbpassClient {
	GObject parent_instance;
	SoupSession *session;
	gchar *base_url; /* "http://localhost" on the socket, else the URL without a final '/' */
	gchar *location; /* what messages call the daemon: the socket path or the URL */
	gchar *token;    /* bearer token, NULL when none */
	guint timeout_seconds;
	gsize max_response_bytes;
};

G_DEFINE_TYPE(UsbpassClient, usbpass_client, G_TYPE_OBJECT)

static void
usbpass_client_finalize(GObject *object)
{
	UsbpassClient *self = USBPASS_CLIENT(object);
	g_clear_object(&self->session);
	g_free(self->base_url);
	g_free(self->location);
	if (self->token != NULL)
		memset(self->token, 0, strlen(self->token));
	g_free(self->token);
	G_OBJECT_CLASS(usbpass_client_parent_class)->finalize(object);
}

static void
usbpass_client_class_init(UsbpassClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_client_finalize;
}

static void
usbpass_client_init(UsbpassClient *self)
{
	self->timeout_seconds = USBPASS_CLIENT_DEFAULT_TIMEOUT_SECONDS;
	self->max_response_bytes = USBPASS_CLIENT_MAX_RESPONSE_BYTES;
}

/**
 * usbpass_client_new_for_socket:
 * @socket_path: (nullable): the daemon's Unix socket, %NULL for
 * %USBPASS_CLIENT_DEFAULT_SOCKET
 *
 * Creates a client of the daemon's local socket. Nothing is connected yet: a
 * missing socket shows up as %USBPASS_ERROR_UNREACHABLE on the first call.
 *
 * Returns: (transfer full): a new client
 */
UsbpassClient *
usbpass_client_new_for_socket(const gchar *socket_path)
{
	g_autoptr(UsbpassClient) self = g_object_new(USBPASS_TYPE_CLIENT, NULL);
	g_autoptr(GSocketAddress) address = NULL;

	if (socket_path == NULL || socket_path[0] == '\0')
		socket_path = USBPASS_CLIENT_DEFAULT_SOCKET;
	address = g_unix_socket_address_new(socket_path);
	/* every connection goes to the socket whatever the URL says; no proxy may intervene */
	self->session = soup_session_new_with_options("remote-connectable",
	                                              address,
	                                              "proxy-resolver",
	                                              NULL,
	                                              "user-agent",
	                                              "usbpass/" PACKAGE_VERSION,
	                                              "timeout",
	                                              self->timeout_seconds,
	                                              NULL);
	self->base_url = g_strdup("http://localhost");
	self->location = g_strdup(socket_path);
	return g_steal_pointer(&self);
}

/**
 * usbpass_client_new_for_url:
 * @url: the daemon's TCP listener, "http://host:port" or "https://host:port",
 * optionally followed by a path prefix
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when @url is not such a URL
 *
 * Returns: (transfer full): a new client, or %NULL with @error set
 */
UsbpassClient *
usbpass_client_new_for_url(const gchar *url, GError **error)
{
	g_autoptr(UsbpassClient) self = NULL;
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *safe_url = NULL;
	const gchar *scheme;
	gsize len;

	g_return_val_if_fail(url != NULL, NULL);

	safe_url = usbpass_string_sanitize(url, -1, USBPASS_STRING_MAX_BYTES);
	uri = g_uri_parse(url, G_URI_FLAGS_ENCODED, &error_local);
	if (uri == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "invalid URL '%s': %s",
		            safe_url != NULL ? safe_url : "",
		            error_local->message);
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "invalid URL '%s': the scheme must be http or https",
		            safe_url);
		return NULL;
	}
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0' ||
	    g_uri_get_userinfo(uri) != NULL || g_uri_get_query(uri) != NULL ||
	    g_uri_get_fragment(uri) != NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "invalid URL '%s': expected http(s)://host:port",
		            safe_url);
		return NULL;
	}

	self = g_object_new(USBPASS_TYPE_CLIENT, NULL);
	self->session = soup_session_new_with_options(
	  "user-agent", "usbpass/" PACKAGE_VERSION, "timeout", self->timeout_seconds, NULL);
	self->base_url = g_strdup(url);
	len = strlen(self->base_url);
	while (len > 0 && self->base_url[len - 1] == '/')
		self->base_url[--len] = '\0';
	self->location = g_strdup(safe_url);
	return g_steal_pointer(&self);
}

/**
 * usbpass_client_set_token:
 * @self: a #UsbpassClient
 * @token: (nullable): a bearer token, %NULL for none
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when @token is not 1 to 4096
 * printable ASCII characters
 *
 * Sets the token sent as "Authorization: Bearer" with every request.
 *
 * Returns: %TRUE on success; the previous token is kept on failure
 */
gboolean
usbpass_client_set_token(UsbpassClient *self, const gchar *token, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), FALSE);

	if (token != NULL) {
		gsize len = strlen(token);
		if (len == 0 || len > USBPASS_CLIENT_MAX_TOKEN_BYTES) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "invalid token: it must be 1 to %u characters long",
			            (guint)USBPASS_CLIENT_MAX_TOKEN_BYTES);
			return FALSE;
		}
		/* a header value: a line break would inject headers */
		for (gsize i = 0; i < len; i++) {
			if (token[i] <= 0x20 || token[i] >= 0x7f) {
				g_set_error_literal(error,
				                    USBPASS_ERROR,
				                    USBPASS_ERROR_INVALID_DATA,
				                    "invalid token: it may only hold printable "
				                    "ASCII characters without spaces");
				return FALSE;
			}
		}
	}
	if (self->token != NULL)
		memset(self->token, 0, strlen(self->token));
	g_free(self->token);
	self->token = g_strdup(token);
	return TRUE;
}

/**
 * usbpass_client_set_timeout:
 * @self: a #UsbpassClient
 * @timeout_seconds: how long one read or write may block, 0 for ever
 *
 * A request that gets no answer within this time fails with
 * %USBPASS_ERROR_TIMED_OUT. The event stream carries a keep-alive every 15 s, so
 * any value above that also detects a dead stream.
 */
void
usbpass_client_set_timeout(UsbpassClient *self, guint timeout_seconds)
{
	g_return_if_fail(USBPASS_IS_CLIENT(self));
	self->timeout_seconds = timeout_seconds;
	soup_session_set_timeout(self->session, timeout_seconds);
}

/**
 * usbpass_client_set_max_response_bytes:
 * @self: a #UsbpassClient
 * @max_bytes: the largest answer accepted, at least 1 KiB
 *
 * Lowers (or raises) %USBPASS_CLIENT_MAX_RESPONSE_BYTES for this client.
 */
void
usbpass_client_set_max_response_bytes(UsbpassClient *self, gsize max_bytes)
{
	g_return_if_fail(USBPASS_IS_CLIENT(self));
	g_return_if_fail(max_bytes >= 1024);
	self->max_response_bytes = max_bytes;
}

/**
 * usbpass_client_get_location:
 * @self: a #UsbpassClient
 *
 * Returns: the socket path or the URL of the daemon, as messages name it
 */
const gchar *
usbpass_client_get_location(UsbpassClient *self)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return self->location;
}

static gchar *
usbpass_client_read_token_file(const gchar *filename, GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autofree gchar *safe_filename = usbpass_string_sanitize(filename, -1, 4096);
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;

	if (!g_file_get_contents(filename, &contents, &len, &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "cannot read token file '%s': %s",
		            safe_filename != NULL ? safe_filename : "",
		            error_local->message);
		return NULL;
	}
	if (len > USBPASS_CLIENT_MAX_TOKEN_BYTES + 2 || memchr(contents, '\0', len) != NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "token file '%s' does not hold a token",
		            safe_filename);
		return NULL;
	}
	g_strstrip(contents);
	if (contents[0] == '\0') {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "token file '%s' is empty",
		            safe_filename);
		return NULL;
	}
	return g_steal_pointer(&contents);
}

/**
 * usbpass_client_load_token:
 * @token_file: (nullable): a file holding the token, as given by the user
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when a named file cannot be read
 *
 * Finds the bearer token for a remote daemon: @token_file when given, else the
 * environment variable USBPASS_TOKEN, else the file named by USBPASS_TOKEN_FILE,
 * else `$XDG_CONFIG_HOME/usbpass/token` when it exists.
 *
 * Returns: (transfer full) (nullable): the token, or %NULL with @error unset
 * when there is none, or %NULL with @error set
 */
gchar *
usbpass_client_load_token(const gchar *token_file, GError **error)
{
	const gchar *env;
	g_autofree gchar *default_file = NULL;

	if (token_file != NULL)
		return usbpass_client_read_token_file(token_file, error);
	env = g_getenv("USBPASS_TOKEN");
	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	env = g_getenv("USBPASS_TOKEN_FILE");
	if (env != NULL && env[0] != '\0')
		return usbpass_client_read_token_file(env, error);
	default_file = g_build_filename(g_get_user_config_dir(), "usbpass", "token", NULL);
	if (g_file_test(default_file, G_FILE_TEST_EXISTS))
		return usbpass_client_read_token_file(default_file, error);
	return NULL;
}

/**
 * usbpass_client_parse_json:
 * @data: JSON text, not necessarily NUL-terminated
 * @data_len: its length in bytes
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when @data is not strict
 * JSON (usbpass_json_guard_parse()) or nests deeper than %USBPASS_CLIENT_MAX_JSON_DEPTH
 *
 * Returns: (transfer full): the root node, or %NULL with @error set
 */
JsonNode *
usbpass_client_parse_json(const gchar *data, gsize data_len, GError **error)
{
	g_return_val_if_fail(data != NULL, NULL);
	return usbpass_json_guard_parse(data, data_len, USBPASS_CLIENT_MAX_JSON_DEPTH, error);
}

/**
 * usbpass_client_escape_segment:
 * @segment: a device or instance specification, a token name
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when @segment is empty, "." or ".."
 *
 * Escapes @segment for one path segment of a URL: everything but unreserved
 * characters and ':' (identities and BUS:DEVICE hold one) is percent-encoded.
 * "." and "..", which every URL parser removes, are refused.
 *
 * Returns: (transfer full): the escaped segment, or %NULL with @error set
 */
gchar *
usbpass_client_escape_segment(const gchar *segment, GError **error)
{
	g_return_val_if_fail(segment != NULL, NULL);

	if (segment[0] == '\0') {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "an empty name is not a device, instance or token");
		return NULL;
	}
	/* GUri removes dot segments even when percent-encoded: they cannot be sent */
	if (g_strcmp0(segment, ".") == 0 || g_strcmp0(segment, "..") == 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "'%s' is not a device, instance or token",
		            segment);
		return NULL;
	}
	return g_uri_escape_string(segment, ":", FALSE);
}

/* the code of an error answer without a usable error body */
static UsbpassError
usbpass_client_error_from_status(guint status)
{
	switch (status) {
	case SOUP_STATUS_BAD_REQUEST:
	case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
	case SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE:
	case SOUP_STATUS_UNPROCESSABLE_ENTITY:
		return USBPASS_ERROR_INVALID_DATA;
	case SOUP_STATUS_UNAUTHORIZED:
	case SOUP_STATUS_FORBIDDEN:
		return USBPASS_ERROR_PERMISSION_DENIED;
	case SOUP_STATUS_NOT_FOUND:
	case SOUP_STATUS_GONE:
		return USBPASS_ERROR_NOT_FOUND;
	case SOUP_STATUS_METHOD_NOT_ALLOWED:
	case SOUP_STATUS_NOT_IMPLEMENTED:
		return USBPASS_ERROR_NOT_SUPPORTED;
	case SOUP_STATUS_CONFLICT:
		return USBPASS_ERROR_BUSY;
	case SOUP_STATUS_BAD_GATEWAY:
		return USBPASS_ERROR_DRIVER;
	case SOUP_STATUS_SERVICE_UNAVAILABLE:
		return USBPASS_ERROR_STORE;
	case SOUP_STATUS_GATEWAY_TIMEOUT:
		return USBPASS_ERROR_TIMED_OUT;
	default:
		return USBPASS_ERROR_INTERNAL;
	}
}

/* turns an error answer into a GError: the body's code and message when it
 * follows docs/api.md, else what the HTTP status says */
static void
usbpass_client_set_api_error(UsbpassClient *self, SoupMessage *msg, GBytes *body, GError **error)
{
	guint status = soup_message_get_status(msg);
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *safe_message = NULL;
	g_autofree gchar *safe_reason = NULL;
	UsbpassError code = usbpass_client_error_from_status(status);

	if (body != NULL && g_bytes_get_size(body) > 0) {
		gsize len = 0;
		const gchar *data = g_bytes_get_data(body, &len);
		root = usbpass_client_parse_json(data, len, NULL);
	}
	if (root != NULL && JSON_NODE_HOLDS_OBJECT(root)) {
		JsonObject *obj = json_node_get_object(root);
		JsonNode *error_node = json_object_get_member(obj, "error");
		if (error_node != NULL && JSON_NODE_HOLDS_OBJECT(error_node)) {
			JsonObject *error_obj = json_node_get_object(error_node);
			JsonNode *code_node = json_object_get_member(error_obj, "code");
			JsonNode *message_node = json_object_get_member(error_obj, "message");
			if (code_node != NULL && JSON_NODE_HOLDS_VALUE(code_node) &&
			    json_node_get_value_type(code_node) == G_TYPE_STRING) {
				const gchar *name = json_node_get_string(code_node);
				UsbpassError named = usbpass_error_from_string(name);
				/* a code this client does not know yet keeps the status' meaning */
				if (named != USBPASS_ERROR_INTERNAL ||
				    g_strcmp0(name, "internal") == 0)
					code = named;
			}
			if (message_node != NULL && JSON_NODE_HOLDS_VALUE(message_node) &&
			    json_node_get_value_type(message_node) == G_TYPE_STRING) {
				safe_message =
				  usbpass_string_sanitize(json_node_get_string(message_node),
				                          -1,
				                          USBPASS_CLIENT_MAX_MESSAGE_BYTES);
			}
		}
	}
	if (safe_message != NULL) {
		g_set_error_literal(error, USBPASS_ERROR, code, safe_message);
		return;
	}
	safe_reason = usbpass_string_sanitize(soup_message_get_reason_phrase(msg), -1, 128);
	g_set_error(error,
	            USBPASS_ERROR,
	            code,
	            "usbpassd at '%s' answered HTTP %u %s",
	            self->location,
	            status,
	            safe_reason != NULL ? safe_reason : soup_status_get_phrase(status));
}

/* translates what libsoup and GIO say about the connection */
static void
usbpass_client_set_transport_error(UsbpassClient *self,
                                   GError *error_local,
                                   gboolean connected,
                                   GError **error)
{
	g_autofree gchar *safe =
	  usbpass_string_sanitize(error_local->message, -1, USBPASS_CLIENT_MAX_MESSAGE_BYTES);
	if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, error_local->message);
		return;
	}
	if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_TIMED_OUT,
		            "usbpassd at '%s' did not answer within %u s",
		            self->location,
		            self->timeout_seconds);
		return;
	}
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_UNREACHABLE,
	            connected ? "lost the connection to usbpassd at '%s': %s"
	                      : "cannot reach usbpassd at '%s': %s",
	            self->location,
	            safe != NULL ? safe : "unknown error");
}

/* sends one request; on success the answer's head is in @msg and its body is
 * to be read from the returned stream */
static GInputStream *
usbpass_client_send(UsbpassClient *self,
                    const gchar *method,
                    const gchar *path,
                    JsonNode *body,
                    const gchar *accept,
                    SoupMessage **msg_out,
                    GCancellable *cancellable,
                    GError **error)
{
	g_autofree gchar *url = g_strconcat(self->base_url, path, NULL);
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GError) error_local = NULL;
	SoupMessageHeaders *headers;

	msg = soup_message_new(method, url);
	if (msg == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "cannot build a request for '%s%s'",
		            self->location,
		            path);
		return NULL;
	}
	headers = soup_message_get_request_headers(msg);
	soup_message_headers_replace(headers, "Accept", accept);
	if (self->token != NULL) {
		g_autofree gchar *value = g_strdup_printf("Bearer %s", self->token);
		soup_message_headers_replace(headers, "Authorization", value);
	}
	if (body != NULL) {
		g_autoptr(JsonGenerator) generator = json_generator_new();
		g_autoptr(GBytes) bytes = NULL;
		gsize len = 0;
		gchar *text;

		json_generator_set_root(generator, body);
		text = json_generator_to_data(generator, &len);
		bytes = g_bytes_new_take(text, len);
		soup_message_set_request_body_from_bytes(
		  msg, "application/json; charset=utf-8", bytes);
	}
	stream = soup_session_send(self->session, msg, cancellable, &error_local);
	if (stream == NULL) {
		usbpass_client_set_transport_error(self, error_local, FALSE, error);
		return NULL;
	}
	*msg_out = g_steal_pointer(&msg);
	return g_steal_pointer(&stream);
}

/* reads a whole answer, refusing more than max_response_bytes */
static GBytes *
usbpass_client_read_body(UsbpassClient *self,
                         SoupMessage *msg,
                         GInputStream *stream,
                         GCancellable *cancellable,
                         GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GError) error_local = NULL;
	goffset content_length =
	  soup_message_headers_get_content_length(soup_message_get_response_headers(msg));
	guint8 chunk[16384];

	if (content_length > 0 && (guint64)content_length > self->max_response_bytes) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent an answer of %" G_GINT64_FORMAT
		            " bytes, more than the limit of %" G_GSIZE_FORMAT,
		            self->location,
		            (gint64)content_length,
		            self->max_response_bytes);
		return NULL;
	}
	for (;;) {
		gssize n =
		  g_input_stream_read(stream, chunk, sizeof(chunk), cancellable, &error_local);
		if (n < 0) {
			usbpass_client_set_transport_error(self, error_local, TRUE, error);
			return NULL;
		}
		if (n == 0)
			break;
		if (buf->len + (gsize)n > self->max_response_bytes) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "usbpassd at '%s' sent an answer of more than %" G_GSIZE_FORMAT
			            " bytes",
			            self->location,
			            self->max_response_bytes);
			return NULL;
		}
		g_byte_array_append(buf, chunk, (guint)n);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* one request and its whole answer; 204 (and an empty 2xx) give a JSON null */
static JsonNode *
usbpass_client_call(UsbpassClient *self,
                    const gchar *method,
                    const gchar *path,
                    JsonNode *body,
                    GCancellable *cancellable,
                    GError **error)
{
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GBytes) answer = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GHashTable) params = NULL;
	const gchar *content_type;
	const gchar *data;
	gsize len = 0;
	guint status;

	stream = usbpass_client_send(
	  self, method, path, body, "application/json", &msg, cancellable, error);
	if (stream == NULL)
		return NULL;
	answer = usbpass_client_read_body(self, msg, stream, cancellable, error);
	if (answer == NULL)
		return NULL;
	status = soup_message_get_status(msg);
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		usbpass_client_set_api_error(self, msg, answer, error);
		return NULL;
	}
	data = g_bytes_get_data(answer, &len);
	if (status == SOUP_STATUS_NO_CONTENT || len == 0)
		return json_node_new(JSON_NODE_NULL);
	content_type =
	  soup_message_headers_get_content_type(soup_message_get_response_headers(msg), &params);
	if (content_type != NULL && g_ascii_strcasecmp(content_type, "application/json") != 0) {
		g_autofree gchar *safe = usbpass_string_sanitize(content_type, -1, 128);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' answered '%s' instead of JSON",
		            self->location,
		            safe != NULL ? safe : "");
		return NULL;
	}
	if (params != NULL &&
	    !usbpass_json_guard_check_charset(g_hash_table_lookup(params, "charset"), &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent a garbled answer: %s",
		            self->location,
		            error_local->message);
		return NULL;
	}
	root = usbpass_client_parse_json(data, len, &error_local);
	if (root == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent a garbled answer: %s",
		            self->location,
		            error_local->message);
		return NULL;
	}
	return g_steal_pointer(&root);
}

/* what a JSON node is, for messages */
static const gchar *
usbpass_client_json_kind(JsonNode *node)
{
	if (JSON_NODE_HOLDS_ARRAY(node))
		return "an array";
	if (JSON_NODE_HOLDS_NULL(node))
		return "null";
	if (JSON_NODE_HOLDS_OBJECT(node))
		return "an object";
	switch (json_node_get_value_type(node)) {
	case G_TYPE_STRING:
		return "a string";
	case G_TYPE_BOOLEAN:
		return "a boolean";
	default:
		return "a number";
	}
}

/* a call whose answer must be a JSON object */
static JsonObject *
usbpass_client_call_object(UsbpassClient *self,
                           const gchar *method,
                           const gchar *path,
                           JsonNode *body,
                           GCancellable *cancellable,
                           GError **error)
{
	g_autoptr(JsonNode) root = NULL;

	root = usbpass_client_call(self, method, path, body, cancellable, error);
	if (root == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' answered %s %s with %s instead of an object",
		            self->location,
		            method,
		            path,
		            usbpass_client_json_kind(root));
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

/**
 * usbpass_client_health:
 * @self: a #UsbpassClient
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/health.
 *
 * Returns: (transfer full): `{"status", "driver_connected", "store_ok"}`, or %NULL
 */
JsonObject *
usbpass_client_health(UsbpassClient *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return usbpass_client_call_object(self, "GET", "/v1/health", NULL, cancellable, error);
}

/**
 * usbpass_client_get_host:
 * @self: a #UsbpassClient
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/host.
 *
 * Returns: (transfer full): the host object of docs/api.md, or %NULL
 */
JsonObject *
usbpass_client_get_host(UsbpassClient *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return usbpass_client_call_object(self, "GET", "/v1/host", NULL, cancellable, error);
}

static void
usbpass_client_append_query(GString *path, const gchar *key, const gchar *value)
{
	g_autofree gchar *escaped = NULL;
	if (value == NULL)
		return;
	escaped = g_uri_escape_string(value, NULL, FALSE);
	g_string_append_c(path, strchr(path->str, '?') == NULL ? '?' : '&');
	g_string_append_printf(path, "%s=%s", key, escaped);
}

/**
 * usbpass_client_list_devices:
 * @self: a #UsbpassClient
 * @filter: (nullable): what to list, %NULL for every device
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/devices with the filters of @filter.
 *
 * Returns: (transfer full): `{"generation", "devices": [Device…]}`, or %NULL
 */
JsonObject *
usbpass_client_list_devices(UsbpassClient *self,
                            const UsbpassClientDeviceFilter *filter,
                            GCancellable *cancellable,
                            GError **error)
{
	g_autoptr(GString) path = g_string_new("/v1/devices");

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);

	if (filter != NULL) {
		usbpass_client_append_query(path, "state", filter->state);
		usbpass_client_append_query(path, "instance", filter->instance);
		usbpass_client_append_query(path, "vendor_id", filter->vendor_id);
		usbpass_client_append_query(path, "product_id", filter->product_id);
		if (filter->present == USBPASS_CLIENT_PRESENT_YES)
			usbpass_client_append_query(path, "present", "true");
		else if (filter->present == USBPASS_CLIENT_PRESENT_NO)
			usbpass_client_append_query(path, "present", "false");
	}
	return usbpass_client_call_object(self, "GET", path->str, NULL, cancellable, error);
}

/* "/v1/<collection>/<escaped name><suffix>" */
static gchar *
usbpass_client_build_path(const gchar *collection,
                          const gchar *name,
                          const gchar *suffix,
                          GError **error)
{
	g_autofree gchar *escaped = usbpass_client_escape_segment(name, error);
	if (escaped == NULL)
		return NULL;
	return g_strdup_printf("/v1/%s/%s%s", collection, escaped, suffix != NULL ? suffix : "");
}

/* a call on "/v1/<collection>/<escaped name><suffix>" whose answer must be an object */
static JsonObject *
usbpass_client_call_named(UsbpassClient *self,
                          const gchar *method,
                          const gchar *collection,
                          const gchar *name,
                          const gchar *suffix,
                          JsonNode *body,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autofree gchar *path = usbpass_client_build_path(collection, name, suffix, error);
	if (path == NULL)
		return NULL;
	return usbpass_client_call_object(self, method, path, body, cancellable, error);
}

/* a request body of string members: key, value, ..., NULL */
static JsonNode *
usbpass_client_string_body(const gchar *first_key, ...) G_GNUC_NULL_TERMINATED;

static JsonNode *
usbpass_client_string_body(const gchar *first_key, ...)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	va_list args;

	json_builder_begin_object(builder);
	va_start(args, first_key);
	for (const gchar *key = first_key; key != NULL; key = va_arg(args, const gchar *)) {
		json_builder_set_member_name(builder, key);
		json_builder_add_string_value(builder, va_arg(args, const gchar *));
	}
	va_end(args);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/**
 * usbpass_client_get_device:
 * @self: a #UsbpassClient
 * @device: an identity, "BUS:DEVICE" or a port path
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h; %USBPASS_ERROR_NOT_FOUND
 * when the daemon knows no such device
 *
 * GET /v1/devices/{device}.
 *
 * Returns: (transfer full): the Device, or %NULL
 */
JsonObject *
usbpass_client_get_device(UsbpassClient *self,
                          const gchar *device,
                          GCancellable *cancellable,
                          GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(device != NULL, NULL);

	return usbpass_client_call_named(
	  self, "GET", "devices", device, NULL, NULL, cancellable, error);
}

/* one Device object of an answer as a record, or a protocol error */
static UsbpassDevice *
usbpass_client_device_record(UsbpassClient *self, JsonNode *node, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	UsbpassDevice *device;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent %s instead of a device",
		            self->location,
		            usbpass_client_json_kind(node));
		return NULL;
	}
	device = usbpass_device_from_json(json_node_get_object(node), &error_local);
	if (device == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent a garbled device: %s",
		            self->location,
		            error_local->message);
		return NULL;
	}
	return device;
}

/**
 * usbpass_client_list_device_records:
 * @self: a #UsbpassClient
 * @filter: (nullable): what to list, %NULL for every device
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/devices, read into records: the inventory's fields only (the
 * assignment state is in the JSON of usbpass_client_list_devices()).
 *
 * Returns: (transfer container) (element-type UsbpassDevice): the devices in
 * the order of the answer, or %NULL
 */
GPtrArray *
usbpass_client_list_device_records(UsbpassClient *self,
                                   const UsbpassClientDeviceFilter *filter,
                                   GCancellable *cancellable,
                                   GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	JsonNode *array;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);

	answer = usbpass_client_list_devices(self, filter, cancellable, error);
	if (answer == NULL)
		return NULL;
	array = json_object_get_member(answer, "devices");
	if (array == NULL || !JSON_NODE_HOLDS_ARRAY(array)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' answered GET /v1/devices without a \"devices\" array",
		            self->location);
		return NULL;
	}
	devices = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);
	for (guint i = 0; i < json_array_get_length(json_node_get_array(array)); i++) {
		JsonNode *node = json_array_get_element(json_node_get_array(array), i);
		UsbpassDevice *device = usbpass_client_device_record(self, node, error);
		if (device == NULL)
			return NULL;
		g_ptr_array_add(devices, device);
	}
	return g_steal_pointer(&devices);
}

/**
 * usbpass_client_get_device_record:
 * @self: a #UsbpassClient
 * @device: an identity, "BUS:DEVICE" or a port path
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/devices/{device}, read into a record.
 *
 * Returns: (transfer full): the device, or %NULL
 */
UsbpassDevice *
usbpass_client_get_device_record(UsbpassClient *self,
                                 const gchar *device,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(JsonNode) node = NULL;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(device != NULL, NULL);

	answer = usbpass_client_get_device(self, device, cancellable, error);
	if (answer == NULL)
		return NULL;
	node = json_node_init_object(json_node_alloc(), answer);
	return usbpass_client_device_record(self, node, error);
}

/**
 * usbpass_client_check_policy:
 * @self: a #UsbpassClient
 * @device: an identity, "BUS:DEVICE" or a port path
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/devices/{device}/policy: would an attach be allowed, a dry run.
 *
 * Returns: (transfer full): `{"allowed", "rule", "reason"}`, or %NULL
 */
JsonObject *
usbpass_client_check_policy(UsbpassClient *self,
                            const gchar *device,
                            GCancellable *cancellable,
                            GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(device != NULL, NULL);

	return usbpass_client_call_named(
	  self, "GET", "devices", device, "/policy", NULL, cancellable, error);
}

/**
 * usbpass_client_get_policy:
 * @self: a #UsbpassClient
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/policy.
 *
 * Returns: (transfer full): `{"enabled", "rules": [...]}`, or %NULL
 */
JsonObject *
usbpass_client_get_policy(UsbpassClient *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return usbpass_client_call_object(self, "GET", "/v1/policy", NULL, cancellable, error);
}

/**
 * usbpass_client_list_instances:
 * @self: a #UsbpassClient
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/instances.
 *
 * Returns: (transfer full): `{"instances": [Instance…]}`, or %NULL
 */
JsonObject *
usbpass_client_list_instances(UsbpassClient *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return usbpass_client_call_object(self, "GET", "/v1/instances", NULL, cancellable, error);
}

/**
 * usbpass_client_get_instance:
 * @self: a #UsbpassClient
 * @instance: a uuid or a name
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/instances/{instance}.
 *
 * Returns: (transfer full): the Instance, or %NULL
 */
JsonObject *
usbpass_client_get_instance(UsbpassClient *self,
                            const gchar *instance,
                            GCancellable *cancellable,
                            GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(instance != NULL, NULL);

	return usbpass_client_call_named(
	  self, "GET", "instances", instance, NULL, NULL, cancellable, error);
}

/**
 * usbpass_client_attach:
 * @self: a #UsbpassClient
 * @instance: a uuid or a name
 * @device: an identity, "BUS:DEVICE" or a port path
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * POST /v1/instances/{instance}/usb-devices with `{"device": device}`.
 *
 * Returns: (transfer full): the Device as it is now (attached), or %NULL
 */
JsonObject *
usbpass_client_attach(UsbpassClient *self,
                      const gchar *instance,
                      const gchar *device,
                      GCancellable *cancellable,
                      GError **error)
{
	g_autoptr(JsonNode) body = NULL;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(instance != NULL, NULL);
	g_return_val_if_fail(device != NULL, NULL);

	if (device[0] == '\0') {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "an empty name is not a device");
		return NULL;
	}
	body = usbpass_client_string_body("device", device, NULL);
	return usbpass_client_call_named(
	  self, "POST", "instances", instance, "/usb-devices", body, cancellable, error);
}

/**
 * usbpass_client_detach:
 * @self: a #UsbpassClient
 * @instance: a uuid or a name
 * @device: an identity, "BUS:DEVICE" or a port path
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * DELETE /v1/instances/{instance}/usb-devices/{device}.
 *
 * Returns: (transfer full): the Device as it is now (available), or %NULL
 */
JsonObject *
usbpass_client_detach(UsbpassClient *self,
                      const gchar *instance,
                      const gchar *device,
                      GCancellable *cancellable,
                      GError **error)
{
	g_autofree gchar *devices = NULL;
	g_autofree gchar *escaped_device = NULL;
	g_autofree gchar *path = NULL;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(instance != NULL, NULL);
	g_return_val_if_fail(device != NULL, NULL);

	devices = usbpass_client_build_path("instances", instance, "/usb-devices/", error);
	if (devices == NULL)
		return NULL;
	escaped_device = usbpass_client_escape_segment(device, error);
	if (escaped_device == NULL)
		return NULL;
	path = g_strconcat(devices, escaped_device, NULL);
	return usbpass_client_call_object(self, "DELETE", path, NULL, cancellable, error);
}

/**
 * usbpass_client_list_audit:
 * @self: a #UsbpassClient
 * @after_id: only entries with a larger id, 0 for all
 * @limit: the most entries wanted (the daemon allows up to 1000), 0 for its default
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/audit, newest first.
 *
 * Returns: (transfer full): `{"entries": [Audit…]}`, or %NULL
 */
JsonObject *
usbpass_client_list_audit(UsbpassClient *self,
                          gint64 after_id,
                          guint limit,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autoptr(GString) path = g_string_new("/v1/audit");

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);

	if (after_id > 0) {
		g_autofree gchar *value = g_strdup_printf("%" G_GINT64_FORMAT, after_id);
		usbpass_client_append_query(path, "after", value);
	}
	if (limit > 0) {
		g_autofree gchar *value = g_strdup_printf("%u", limit);
		usbpass_client_append_query(path, "limit", value);
	}
	return usbpass_client_call_object(self, "GET", path->str, NULL, cancellable, error);
}

/**
 * usbpass_client_create_token:
 * @self: a #UsbpassClient
 * @name: the token's name
 * @role: "reader", "operator" or "admin"
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * POST /v1/tokens.
 *
 * Returns: (transfer full): `{"name", "role", "token"}` with the secret, shown
 * this once, or %NULL
 */
JsonObject *
usbpass_client_create_token(UsbpassClient *self,
                            const gchar *name,
                            const gchar *role,
                            GCancellable *cancellable,
                            GError **error)
{
	g_autoptr(JsonNode) body = NULL;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(role != NULL, NULL);

	body = usbpass_client_string_body("name", name, "role", role, NULL);
	return usbpass_client_call_object(self, "POST", "/v1/tokens", body, cancellable, error);
}

/**
 * usbpass_client_list_tokens:
 * @self: a #UsbpassClient
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/tokens.
 *
 * Returns: (transfer full): `{"tokens": [{"name", "role", "created", "last_used"}]}`,
 * or %NULL
 */
JsonObject *
usbpass_client_list_tokens(UsbpassClient *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(USBPASS_IS_CLIENT(self), NULL);
	return usbpass_client_call_object(self, "GET", "/v1/tokens", NULL, cancellable, error);
}

/**
 * usbpass_client_revoke_token:
 * @self: a #UsbpassClient
 * @name: the token's name
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * DELETE /v1/tokens/{name}.
 *
 * Returns: %TRUE when the token is gone
 */
gboolean
usbpass_client_revoke_token(UsbpassClient *self,
                            const gchar *name,
                            GCancellable *cancellable,
                            GError **error)
{
	g_autofree gchar *path = NULL;
	g_autoptr(JsonNode) root = NULL;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	path = usbpass_client_build_path("tokens", name, NULL, error);
	if (path == NULL)
		return FALSE;
	root = usbpass_client_call(self, "DELETE", path, NULL, cancellable, error);
	return root != NULL;
}

/* the state of one server-sent event being read */
typedef struct {
	GString *event; /* the "event:" field, empty for the default "message" */
	GString *data;  /* the "data:" lines joined by '\n' */
	const gchar *location;
	UsbpassClientEventFunc func;
	gpointer user_data;
} UsbpassClientEventParser;

typedef enum {
	USBPASS_CLIENT_EVENT_CONTINUE,
	USBPASS_CLIENT_EVENT_STOP,
	USBPASS_CLIENT_EVENT_FAILED,
} UsbpassClientEventResult;

static UsbpassClientEventResult
usbpass_client_event_dispatch(UsbpassClientEventParser *parser, GError **error)
{
	g_autoptr(JsonNode) data = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *name = NULL;
	gboolean keep_going;

	/* an event without data lines is no event (the SSE processing model) */
	if (parser->data->len == 0) {
		g_string_truncate(parser->event, 0);
		return USBPASS_CLIENT_EVENT_CONTINUE;
	}
	g_string_truncate(parser->data, parser->data->len - 1); /* the last '\n' */
	data = usbpass_client_parse_json(parser->data->str, parser->data->len, &error_local);
	if (data == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' sent a garbled event: %s",
		            parser->location,
		            error_local->message);
		return USBPASS_CLIENT_EVENT_FAILED;
	}
	name = usbpass_string_sanitize(parser->event->str, (gssize)parser->event->len, 64);
	g_string_truncate(parser->event, 0);
	g_string_truncate(parser->data, 0);
	keep_going = parser->func(name != NULL ? name : "message", data, parser->user_data);
	return keep_going ? USBPASS_CLIENT_EVENT_CONTINUE : USBPASS_CLIENT_EVENT_STOP;
}

static UsbpassClientEventResult
usbpass_client_event_line(UsbpassClientEventParser *parser,
                          const gchar *line,
                          gsize len,
                          GError **error)
{
	const gchar *colon;
	const gchar *value;
	gsize field_len;
	gsize value_len;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return usbpass_client_event_dispatch(parser, error);
	if (line[0] == ':') /* a comment: the keep-alive */
		return USBPASS_CLIENT_EVENT_CONTINUE;
	colon = memchr(line, ':', len);
	field_len = colon != NULL ? (gsize)(colon - line) : len;
	value = colon != NULL ? colon + 1 : line + len;
	value_len = len - (gsize)(value - line);
	if (value_len > 0 && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (field_len == 5 && memcmp(line, "event", 5) == 0) {
		g_string_truncate(parser->event, 0);
		g_string_append_len(parser->event, value, (gssize)value_len);
	} else if (field_len == 4 && memcmp(line, "data", 4) == 0) {
		if (parser->data->len + value_len + 1 > USBPASS_CLIENT_MAX_EVENT_BYTES) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "usbpassd at '%s' sent an event of more than %u bytes",
			            parser->location,
			            (guint)USBPASS_CLIENT_MAX_EVENT_BYTES);
			return USBPASS_CLIENT_EVENT_FAILED;
		}
		g_string_append_len(parser->data, value, (gssize)value_len);
		g_string_append_c(parser->data, '\n');
	}
	/* "id", "retry" and unknown fields: nothing this client needs */
	return USBPASS_CLIENT_EVENT_CONTINUE;
}

/**
 * usbpass_client_read_events:
 * @stream: a text/event-stream body
 * @location: what messages call the daemon
 * @func: called once per event
 * @user_data: passed to @func
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA for a garbled or oversized
 * event, %USBPASS_ERROR_UNREACHABLE when the stream ends or breaks
 *
 * Reads server-sent events (lines end in LF or CR LF) until @func returns %FALSE.
 * The stream of usbpassd never ends on its own, so its end is an error.
 *
 * Returns: %TRUE when @func asked to stop
 */
gboolean
usbpass_client_read_events(GInputStream *stream,
                           const gchar *location,
                           UsbpassClientEventFunc func,
                           gpointer user_data,
                           GCancellable *cancellable,
                           GError **error)
{
	g_autoptr(GByteArray) pending = g_byte_array_new();
	g_autoptr(GString) event = g_string_new(NULL);
	g_autoptr(GString) data = g_string_new(NULL);
	UsbpassClientEventParser parser = {
		.event = event,
		.data = data,
		.location = location,
		.func = func,
		.user_data = user_data,
	};
	guint8 chunk[8192];

	g_return_val_if_fail(G_IS_INPUT_STREAM(stream), FALSE);
	g_return_val_if_fail(location != NULL, FALSE);
	g_return_val_if_fail(func != NULL, FALSE);

	for (;;) {
		g_autoptr(GError) error_local = NULL;
		gsize start = 0;
		gssize n;

		/* not every stream checks: a cancelled watch stops before the next event */
		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return FALSE;
		n = g_input_stream_read(stream, chunk, sizeof(chunk), cancellable, &error_local);
		if (n < 0) {
			g_autofree gchar *safe = NULL;
			if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return FALSE;
			}
			safe = usbpass_string_sanitize(
			  error_local->message, -1, USBPASS_CLIENT_MAX_MESSAGE_BYTES);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_UNREACHABLE,
			            "lost the event stream of usbpassd at '%s': %s",
			            location,
			            safe != NULL ? safe : "unknown error");
			return FALSE;
		}
		if (n == 0) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_UNREACHABLE,
			            "usbpassd at '%s' closed the event stream",
			            location);
			return FALSE;
		}
		g_byte_array_append(pending, chunk, (guint)n);
		for (;;) {
			const guint8 *line = pending->data + start;
			const guint8 *newline = memchr(line, '\n', pending->len - start);
			UsbpassClientEventResult result;

			if (newline == NULL)
				break;
			if (g_cancellable_set_error_if_cancelled(cancellable, error))
				return FALSE;
			result = usbpass_client_event_line(
			  &parser, (const gchar *)line, (gsize)(newline - line), error);
			start += (gsize)(newline - line) + 1;
			if (result == USBPASS_CLIENT_EVENT_FAILED)
				return FALSE;
			if (result == USBPASS_CLIENT_EVENT_STOP)
				return TRUE;
		}
		g_byte_array_remove_range(pending, 0, (guint)start);
		if (pending->len > USBPASS_CLIENT_MAX_EVENT_BYTES) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "usbpassd at '%s' sent an event line of more than %u bytes",
			            location,
			            (guint)USBPASS_CLIENT_MAX_EVENT_BYTES);
			return FALSE;
		}
	}
}

/**
 * usbpass_client_watch_events:
 * @self: a #UsbpassClient
 * @func: called once per event, with the event name and its parsed data
 * @user_data: passed to @func
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): the error, see usbpass-client.h
 *
 * GET /v1/events: blocks and calls @func for each server-sent event ("inventory"
 * with `{"kind", "replugged", "device"}`, "state" with a Device) until @func
 * returns %FALSE, @cancellable is cancelled or the stream ends (an error: the
 * daemon never ends it on its own).
 *
 * Returns: %TRUE when @func asked to stop
 */
gboolean
usbpass_client_watch_events(UsbpassClient *self,
                            UsbpassClientEventFunc func,
                            gpointer user_data,
                            GCancellable *cancellable,
                            GError **error)
{
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GInputStream) stream = NULL;
	const gchar *content_type;
	guint status;

	g_return_val_if_fail(USBPASS_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(func != NULL, FALSE);

	stream = usbpass_client_send(
	  self, "GET", "/v1/events", NULL, "text/event-stream", &msg, cancellable, error);
	if (stream == NULL)
		return FALSE;
	status = soup_message_get_status(msg);
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_autoptr(GBytes) answer =
		  usbpass_client_read_body(self, msg, stream, cancellable, error);
		if (answer == NULL)
			return FALSE;
		usbpass_client_set_api_error(self, msg, answer, error);
		return FALSE;
	}
	content_type =
	  soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL);
	if (g_strcmp0(content_type, "text/event-stream") != 0) {
		g_autofree gchar *safe =
		  content_type != NULL ? usbpass_string_sanitize(content_type, -1, 128) : NULL;
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "usbpassd at '%s' answered '%s' instead of an event stream",
		            self->location,
		            safe != NULL ? safe : "");
		return FALSE;
	}
	return usbpass_client_read_events(
	  stream, self->location, func, user_data, cancellable, error);
}

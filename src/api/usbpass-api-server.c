/*
 * usbpass-api-server.c: the REST API of usbpassd (docs/api.md) over libsoup-3
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "usbpass-api-events.h"
#include "usbpass-api-json.h"
#include "usbpass-api-refusals.h"
#include "usbpass-api-listener.h"
#include "usbpass-api-server.h"
#include "usbpass-api-web.h"
#include "usbpass-api-server-private.h"
#include "usbpass-error.h"
#include "usbpass-json-guard.h"
#include "usbpass-string.h"

/* a decoded path segment (identity, port, uuid, name) longer than this is no
 * identity of ours */
#define USBPASS_API_SEGMENT_MAX_BYTES 512
#define USBPASS_API_PATH_MAX_BYTES    4096
/* a client that keeps sending after 413 is cut off after this much more */
#define USBPASS_API_BODY_DRAIN_MAX_BYTES (1024 * 1024)
/* serialised single devices kept between changes */
#define USBPASS_API_DEVICE_CACHE_MAX 1024
/* refused requests written to the audit log per window; the rest are counted */
#define USBPASS_API_REFUSALS_PER_WINDOW 100
#define USBPASS_API_REFUSAL_WINDOW_MS   (60 * 1000)
#define USBPASS_API_AUDIT_LIMIT_MAX     1000
#define USBPASS_API_AUDIT_LIMIT_DEFAULT 100

/* the role of an endpoint that anybody may call */
#define USBPASS_API_ROLE_NONE ((gint)USBPASS_TOKEN_ROLE_LAST)
/* a method an endpoint does not have */
#define USBPASS_API_ROLE_NO_METHOD (-1)

typedef enum {
	USBPASS_API_ROUTE_HEALTH,
	USBPASS_API_ROUTE_HOST,
	USBPASS_API_ROUTE_DEVICES,
	USBPASS_API_ROUTE_DEVICE,
	USBPASS_API_ROUTE_DEVICE_POLICY,
	USBPASS_API_ROUTE_POLICY,
	USBPASS_API_ROUTE_INSTANCES,
	USBPASS_API_ROUTE_INSTANCE,
	USBPASS_API_ROUTE_INSTANCE_DEVICES,
	USBPASS_API_ROUTE_INSTANCE_DEVICE,
	USBPASS_API_ROUTE_AUDIT,
	USBPASS_API_ROUTE_EVENTS,
	USBPASS_API_ROUTE_TOKENS,
	USBPASS_API_ROUTE_TOKEN,
	USBPASS_API_ROUTE_LAST
} UsbpassApiRouteKind;

/* the roles of docs/api.md, per method; the Allow header of 405 */
static const gchar *const devices_query[] = { "state",      "instance", "vendor_id",
	                                      "product_id", "present",  NULL };
static const gchar *const audit_query[] = { "after", "limit", NULL };
/* clang-format off */
static const struct {
	gint get;
	gint post;
	gint delete;
	const gchar *allow;
	const gchar *const *query; /* the query parameters it knows */
} route_table[USBPASS_API_ROUTE_LAST] = {
	[USBPASS_API_ROUTE_HEALTH]           = {USBPASS_API_ROLE_NONE,     -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_HOST]             = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_DEVICES]          = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", devices_query},
	[USBPASS_API_ROUTE_DEVICE]           = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_DEVICE_POLICY]    = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_POLICY]           = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_INSTANCES]        = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_INSTANCE]         = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET, HEAD", NULL},
	[USBPASS_API_ROUTE_INSTANCE_DEVICES] = {-1, USBPASS_TOKEN_ROLE_OPERATOR, -1, "POST", NULL},
	[USBPASS_API_ROUTE_INSTANCE_DEVICE]  = {-1, -1, USBPASS_TOKEN_ROLE_OPERATOR, "DELETE", NULL},
	[USBPASS_API_ROUTE_AUDIT]            = {USBPASS_TOKEN_ROLE_ADMIN,  -1, -1, "GET, HEAD", audit_query},
	[USBPASS_API_ROUTE_EVENTS]           = {USBPASS_TOKEN_ROLE_READER, -1, -1, "GET", NULL},
	[USBPASS_API_ROUTE_TOKENS]           = {USBPASS_TOKEN_ROLE_ADMIN, USBPASS_TOKEN_ROLE_ADMIN, -1,
						"GET, HEAD, POST", NULL},
	[USBPASS_API_ROUTE_TOKEN]            = {-1, -1, USBPASS_TOKEN_ROLE_ADMIN, "DELETE", NULL},
};
/* clang-format on */

/* what the early handler learnt about a request, kept on the message */
typedef struct {
	UsbpassApiRouteKind route;
	gchar *arg1; /* decoded {device}, {instance} or {name} */
	gchar *arg2; /* decoded {device} of .../usb-devices/{device} */
	UsbpassAuthCaller *caller;
	GByteArray *body;
	gsize body_received;
	gboolean keep_body;
	gboolean body_too_large;
} UsbpassApiRequest;

/* an attach or detach waiting for the engine */
typedef struct {
	UsbpassApiServer *self;
	SoupServerMessage *msg;
	gulong finished_id;
	gulong disconnected_id;
	gboolean gone;
} UsbpassApiOperation;

struct _UsbpassApiServer {
	GObject parent_instance;
	UsbpassEngine *engine;
	UsbpassAuth *auth;
	SoupServer *server;
	UsbpassApiListener *listener; /* accepts for the server, see its header */
	UsbpassApiEvents *events;
	gchar *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
	gchar *disabled_hint;
	gchar *boot_tag; /* makes ETags of different daemon runs differ */
	guint64 changes; /* engine device changes seen */
	/* GET /v1/devices and /v1/devices/{id}, valid for (generation, changes) */
	guint64 cache_generation;
	guint64 cache_changes;
	gboolean cache_valid;
	GBytes *list_cache;
	guint list_cache_count;
	GHashTable *device_cache; /* decoded spec -> GBytes */
	guint pending;
	gulong inventory_event_id;
	gulong inventory_changed_id;
	gulong engine_changed_id;
	/* refused requests in the audit log */
	UsbpassApiRefusals *refusals;
	gboolean shut_down;
	gboolean disconnected;
	gboolean tls;
	/* connection limits, handed to the listener */
	guint max_connections;
	guint request_timeout_ms;
	guint idle_timeout_ms;
	GBytes *malformed_body; /* the JSON of libsoup's own 400 */
};

G_DEFINE_TYPE(UsbpassApiServer, usbpass_api_server, G_TYPE_OBJECT)

static GQuark
usbpass_api_request_quark(void)
{
	return g_quark_from_static_string("usbpass-api-request");
}

static void
usbpass_api_request_free(UsbpassApiRequest *self)
{
	if (self == NULL)
		return;
	g_free(self->arg1);
	g_free(self->arg2);
	usbpass_auth_caller_free(self->caller);
	if (self->body != NULL)
		g_byte_array_unref(self->body);
	g_free(self);
}

/* responses */

static void
usbpass_api_respond_bytes(SoupServerMessage *msg, guint status, GBytes *bytes)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
	SoupMessageBody *body = soup_server_message_get_response_body(msg);

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(headers, "Content-Type", USBPASS_API_JSON_CONTENT_TYPE);
	soup_message_headers_replace(headers, "X-Content-Type-Options", "nosniff");
	soup_message_body_truncate(body);
	if (bytes != NULL)
		soup_message_body_append_bytes(body, bytes);
}

static void
usbpass_api_respond_builder(SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
	g_autoptr(GBytes) bytes = usbpass_api_json_to_bytes(builder);
	usbpass_api_respond_bytes(msg, status, bytes);
}

static void
usbpass_api_respond_code(SoupServerMessage *msg,
                         guint status,
                         UsbpassError code,
                         const gchar *message)
{
	g_autoptr(GBytes) bytes = usbpass_api_json_error_new(code, message);
	usbpass_api_respond_bytes(msg, status, bytes);
	if (status >= 500)
		g_warning("%s %s: %u %s",
		          soup_server_message_get_method(msg),
		          g_uri_get_path(soup_server_message_get_uri(msg)),
		          status,
		          message);
	else
		g_debug("%s: %u %s", soup_server_message_get_method(msg), status, message);
}

static void
usbpass_api_respond_error(SoupServerMessage *msg, const GError *error)
{
	UsbpassError code = USBPASS_ERROR_INTERNAL;
	if (error->domain == USBPASS_ERROR)
		code = (UsbpassError)error->code;
	usbpass_api_respond_code(msg, usbpass_error_to_http_status(code), code, error->message);
}

/* paths */

static gboolean
usbpass_api_decode_segment(const gchar *raw, gchar **out, GError **error)
{
	g_autofree gchar *decoded = g_uri_unescape_segment(raw, NULL, NULL);
	g_autofree gchar *clean = NULL;

	if (raw[0] == '\0') {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_NOT_FOUND,
		                    "no such API endpoint: empty path segment");
		return FALSE;
	}
	if (decoded == NULL || decoded[0] == '\0') {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "a path segment is badly percent-encoded or holds a NUL");
		return FALSE;
	}
	if (strlen(decoded) > USBPASS_API_SEGMENT_MAX_BYTES) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "a path segment is longer than %u bytes",
		            (guint)USBPASS_API_SEGMENT_MAX_BYTES);
		return FALSE;
	}
	/* identities are sanitised strings: anything the sanitiser would change
	 * (invalid UTF-8, control characters, outer blanks) names nothing of ours */
	clean = usbpass_string_sanitize(decoded, -1, USBPASS_API_SEGMENT_MAX_BYTES + 8);
	if (g_strcmp0(clean, decoded) != 0) {
		g_set_error_literal(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "a path segment holds invalid UTF-8, control characters or outer blanks");
		return FALSE;
	}
	*out = g_steal_pointer(&decoded);
	return TRUE;
}

static UsbpassApiRouteKind
usbpass_api_route_match(GStrv parts, guint n)
{
	static const struct {
		guint n;
		const gchar *first;
		const gchar *third; /* NULL: any */
		UsbpassApiRouteKind route;
	} patterns[] = {
		{ 1, "health", NULL, USBPASS_API_ROUTE_HEALTH },
		{ 1, "host", NULL, USBPASS_API_ROUTE_HOST },
		{ 1, "policy", NULL, USBPASS_API_ROUTE_POLICY },
		{ 1, "audit", NULL, USBPASS_API_ROUTE_AUDIT },
		{ 1, "events", NULL, USBPASS_API_ROUTE_EVENTS },
		{ 1, "devices", NULL, USBPASS_API_ROUTE_DEVICES },
		{ 1, "instances", NULL, USBPASS_API_ROUTE_INSTANCES },
		{ 1, "tokens", NULL, USBPASS_API_ROUTE_TOKENS },
		{ 2, "devices", NULL, USBPASS_API_ROUTE_DEVICE },
		{ 2, "instances", NULL, USBPASS_API_ROUTE_INSTANCE },
		{ 2, "tokens", NULL, USBPASS_API_ROUTE_TOKEN },
		{ 3, "devices", "policy", USBPASS_API_ROUTE_DEVICE_POLICY },
		{ 3, "instances", "usb-devices", USBPASS_API_ROUTE_INSTANCE_DEVICES },
		{ 4, "instances", "usb-devices", USBPASS_API_ROUTE_INSTANCE_DEVICE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(patterns); i++) {
		if (patterns[i].n != n || g_strcmp0(parts[0], patterns[i].first) != 0)
			continue;
		if (patterns[i].third != NULL && g_strcmp0(parts[2], patterns[i].third) != 0)
			continue;
		return patterns[i].route;
	}
	return USBPASS_API_ROUTE_LAST;
}

static gboolean
usbpass_api_parse_route(const gchar *path, UsbpassApiRequest *request, GError **error)
{
	g_auto(GStrv) parts = NULL;
	UsbpassApiRouteKind route = USBPASS_API_ROUTE_LAST;
	guint n = 0;

	if (path != NULL && strlen(path) <= USBPASS_API_PATH_MAX_BYTES &&
	    g_str_has_prefix(path, "/v1/")) {
		parts = g_strsplit(path + 4, "/", 6);
		n = g_strv_length(parts);
		route = usbpass_api_route_match(parts, n);
	}
	if (route == USBPASS_API_ROUTE_LAST) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_NOT_FOUND,
		                    "no such API endpoint; see docs/api.md");
		return FALSE;
	}
	request->route = route;
	if (n >= 2 && !usbpass_api_decode_segment(parts[1], &request->arg1, error))
		return FALSE;
	if (n == 4 && !usbpass_api_decode_segment(parts[3], &request->arg2, error))
		return FALSE;
	return TRUE;
}

/* audit */

static void
usbpass_api_server_append_audit(UsbpassApiServer *self,
                                const gchar *actor,
                                const gchar *action,
                                const gchar *outcome,
                                const gchar *message)
{
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(GError) error_local = NULL;

	entry->created_usec = g_get_real_time();
	entry->host = g_strdup(usbpass_engine_get_host(self->engine));
	entry->actor = g_strdup(actor);
	entry->action = g_strdup(action);
	entry->outcome = g_strdup(outcome);
	entry->message = g_strdup(message);
	if (!usbpass_store_append_audit(
	      usbpass_engine_get_store(self->engine), entry, &error_local))
		g_warning("cannot write the audit log, ignoring: %s", error_local->message);
}

/* the end of a window of refusals: the count of those not written one by one */
static void
usbpass_api_server_refusal_summary_cb(guint suppressed, gpointer user_data)
{
	UsbpassApiServer *self = user_data;
	g_autofree gchar *summary =
	  g_strdup_printf("%u more refused requests were not written one by one", suppressed);
	usbpass_api_server_append_audit(self, "usbpassd", "auth", "permission-denied", summary);
}

static void
usbpass_api_server_audit_refusal(UsbpassApiServer *self,
                                 SoupServerMessage *msg,
                                 const UsbpassAuthCaller *caller,
                                 const gchar *detail)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *message = NULL;

	/* a flood of bad requests must not become a flood of rows: a window of at
	 * most USBPASS_API_REFUSALS_PER_WINDOW entries, then one summary */
	if (!usbpass_api_refusals_admit(self->refusals))
		return;

	path = usbpass_string_sanitize(g_uri_get_path(soup_server_message_get_uri(msg)), -1, 256);
	message = g_strdup_printf(
	  "%s %s: %s", soup_server_message_get_method(msg), path != NULL ? path : "", detail);
	usbpass_api_server_append_audit(self, caller->actor, "auth", "permission-denied", message);
}

/* request intake: routing, authorisation and the body limit, before the body
 * is read */

static void
usbpass_api_server_got_chunk_cb(SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	UsbpassApiRequest *request = user_data;
	gsize size = g_bytes_get_size(chunk);

	request->body_received += size;
	if (request->body_received > USBPASS_API_BODY_MAX_BYTES) {
		if (!request->body_too_large) {
			request->body_too_large = TRUE;
			g_byte_array_set_size(request->body, 0);
			if (soup_server_message_get_status(msg) == 0) {
				g_autofree gchar *text =
				  g_strdup_printf("the request body is larger than %u bytes",
				                  (guint)USBPASS_API_BODY_MAX_BYTES);
				usbpass_api_respond_code(msg,
				                         SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
				                         USBPASS_ERROR_INVALID_DATA,
				                         text);
				soup_message_headers_replace(
				  soup_server_message_get_response_headers(msg),
				  "Connection",
				  "close");
			}
		}
		if (request->body_received >
		    USBPASS_API_BODY_MAX_BYTES + USBPASS_API_BODY_DRAIN_MAX_BYTES) {
			GSocket *socket = usbpass_api_listener_get_message_socket(msg);
			if (socket != NULL)
				g_socket_shutdown(socket, TRUE, TRUE, NULL);
		}
		return;
	}
	if (request->keep_body)
		g_byte_array_append(request->body, g_bytes_get_data(chunk, NULL), (guint)size);
}

static gint
usbpass_api_route_role(UsbpassApiRouteKind route, const gchar *method)
{
	if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
		return route_table[route].get;
	if (method == SOUP_METHOD_POST)
		return route_table[route].post;
	if (method == SOUP_METHOD_DELETE)
		return route_table[route].delete;
	return USBPASS_API_ROLE_NO_METHOD;
}

static gboolean
usbpass_api_server_is_unix(SoupServerMessage *msg)
{
	GSocketAddress *local = soup_server_message_get_local_address(msg);
	return local != NULL && G_IS_UNIX_SOCKET_ADDRESS(local);
}

static guint
usbpass_api_server_count_headers(SoupMessageHeaders *headers, const gchar *name)
{
	SoupMessageHeadersIter iter;
	const char *header_name;
	const char *header_value;
	guint count = 0;

	soup_message_headers_iter_init(&iter, headers);
	while (soup_message_headers_iter_next(&iter, &header_name, &header_value)) {
		if (g_ascii_strcasecmp(header_name, name) == 0)
			count++;
	}
	return count;
}

/* libsoup answers a request it cannot parse (400, 501) itself, with no hook
 * between the parse and the answer: every request starts out with the JSON
 * of that answer, which the early handler drops once the request parsed */
static void
usbpass_api_server_request_started_cb(SoupServer *server,
                                      SoupServerMessage *msg,
                                      gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_message_headers_replace(headers, "Content-Type", USBPASS_API_JSON_CONTENT_TYPE);
	soup_message_headers_replace(headers, "X-Content-Type-Options", "nosniff");
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg),
	                               self->malformed_body);
}

static void
usbpass_api_server_early_cb(SoupServer *server,
                            SoupServerMessage *msg,
                            const char *path,
                            GHashTable *query,
                            gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	UsbpassApiRequest *request;
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *method = soup_server_message_get_method(msg);
	g_autoptr(GError) error_local = NULL;
	gint role;
	goffset content_length = 0;

	/* a request that parsed: forget the answer prepared for one that did not */
	soup_message_body_truncate(soup_server_message_get_response_body(msg));
	soup_message_headers_remove(soup_server_message_get_response_headers(msg), "Content-Type");
	/* the web page (src/web/) on TCP; every other path is the API's */
	if (!self->shut_down && !usbpass_api_server_is_unix(msg) &&
	    usbpass_api_web_respond(msg, path))
		return;
	request = g_new0(UsbpassApiRequest, 1);
	request->body = g_byte_array_new();
	g_object_set_qdata_full(G_OBJECT(msg),
	                        usbpass_api_request_quark(),
	                        request,
	                        (GDestroyNotify)usbpass_api_request_free);
	/* the body is collected here, up to the limit, never by libsoup */
	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
	g_signal_connect(msg, "got-chunk", G_CALLBACK(usbpass_api_server_got_chunk_cb), request);

	if (self->shut_down) {
		usbpass_api_respond_code(msg,
		                         SOUP_STATUS_SERVICE_UNAVAILABLE,
		                         USBPASS_ERROR_BUSY,
		                         "usbpassd is shutting down");
		return;
	}
	if (usbpass_api_server_count_headers(headers, "Authorization") > 1) {
		usbpass_api_respond_code(msg,
		                         SOUP_STATUS_BAD_REQUEST,
		                         USBPASS_ERROR_INVALID_DATA,
		                         "the request has more than one Authorization header");
		return;
	}
	if (usbpass_api_listener_is_over_limit(msg)) {
		usbpass_api_respond_code(msg,
		                         SOUP_STATUS_SERVICE_UNAVAILABLE,
		                         USBPASS_ERROR_BUSY,
		                         "usbpassd has too many connections open; try again");
		soup_message_headers_replace(
		  soup_server_message_get_response_headers(msg), "Retry-After", "1");
		soup_message_headers_replace(
		  soup_server_message_get_response_headers(msg), "Connection", "close");
		return;
	}
	if (!usbpass_api_parse_route(path, request, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}

	role = usbpass_api_route_role(request->route, method);
	if (role == USBPASS_API_ROLE_NO_METHOD) {
		g_autofree gchar *text =
		  g_strdup_printf("method %s is not allowed here; allowed: %s",
		                  method,
		                  route_table[request->route].allow);
		usbpass_api_respond_code(
		  msg, SOUP_STATUS_METHOD_NOT_ALLOWED, USBPASS_ERROR_INVALID_DATA, text);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
		                             "Allow",
		                             route_table[request->route].allow);
		return;
	}

	/* who is calling; health is for anybody (load balancers, the CLI's probe),
	 * so it neither looks at credentials nor depends on the token store */
	if (role == USBPASS_API_ROLE_NONE) {
		request->caller = usbpass_auth_caller_new();
		request->caller->actor = g_strdup("anonymous");
	} else if (usbpass_api_server_is_unix(msg)) {
		request->caller =
		  usbpass_auth_identify_peer(self->auth,
		                             usbpass_api_listener_get_message_socket(msg));
	} else {
		request->caller = usbpass_auth_identify_bearer(
		  self->auth,
		  soup_message_headers_get_one(headers, "Authorization"),
		  soup_server_message_get_remote_host(msg),
		  &error_local);
		if (request->caller == NULL) {
			usbpass_api_respond_error(msg, error_local);
			return;
		}
	}
	if (role != USBPASS_API_ROLE_NONE &&
	    !usbpass_auth_caller_authorize(request->caller, (UsbpassTokenRole)role, &error_local)) {
		gboolean unauthenticated =
		  !request->caller->credentials_given ||
		  (!request->caller->authenticated && !usbpass_api_server_is_unix(msg));
		usbpass_api_respond_code(msg,
		                         unauthenticated ? SOUP_STATUS_UNAUTHORIZED
		                                         : SOUP_STATUS_FORBIDDEN,
		                         USBPASS_ERROR_PERMISSION_DENIED,
		                         error_local->message);
		if (unauthenticated) {
			soup_message_headers_replace(
			  soup_server_message_get_response_headers(msg),
			  "WWW-Authenticate",
			  request->caller->credentials_given
			    ? "Bearer realm=\"usbpass\", error=\"invalid_token\""
			    : "Bearer realm=\"usbpass\"");
		}
		usbpass_api_server_audit_refusal(self, msg, request->caller, error_local->message);
		return;
	}

	if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH)
		content_length = soup_message_headers_get_content_length(headers);
	if (content_length > USBPASS_API_BODY_MAX_BYTES) {
		g_autofree gchar *text = g_strdup_printf("the request body is larger than %u bytes",
		                                         (guint)USBPASS_API_BODY_MAX_BYTES);
		usbpass_api_respond_code(
		  msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, USBPASS_ERROR_INVALID_DATA, text);
		soup_message_headers_replace(
		  soup_server_message_get_response_headers(msg), "Connection", "close");
		request->body_too_large = TRUE;
		return;
	}
	if (method == SOUP_METHOD_POST) {
		g_autoptr(GHashTable) params = NULL;
		const gchar *content_type = soup_message_headers_get_content_type(headers, &params);
		if (content_type == NULL ||
		    g_ascii_strcasecmp(content_type, "application/json") != 0) {
			usbpass_api_respond_code(msg,
			                         SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			                         USBPASS_ERROR_INVALID_DATA,
			                         "the request body must be application/json");
			return;
		}
		if (!usbpass_json_guard_check_charset(
		      params != NULL ? g_hash_table_lookup(params, "charset") : NULL, &error_local)) {
			g_prefix_error(&error_local, "Content-Type: ");
			usbpass_api_respond_error(msg, error_local);
			return;
		}
		request->keep_body = TRUE;
	}
}

/* the device caches */

static void
usbpass_api_server_check_cache(UsbpassApiServer *self)
{
	guint64 generation =
	  usbpass_inventory_get_generation(usbpass_engine_get_inventory(self->engine));
	if (self->cache_valid && self->cache_generation == generation &&
	    self->cache_changes == self->changes)
		return;
	g_clear_pointer(&self->list_cache, g_bytes_unref);
	g_hash_table_remove_all(self->device_cache);
	self->cache_generation = generation;
	self->cache_changes = self->changes;
	self->cache_valid = TRUE;
}

static gchar *
usbpass_api_server_etag(UsbpassApiServer *self)
{
	return g_strdup_printf("\"%s-%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "\"",
	                       self->boot_tag,
	                       self->cache_generation,
	                       self->cache_changes);
}

/* TRUE when If-None-Match names @etag: the answer is then 304 */
static gboolean
usbpass_api_server_etag_matches(SoupServerMessage *msg, const gchar *etag)
{
	const gchar *header = soup_message_headers_get_list(
	  soup_server_message_get_request_headers(msg), "If-None-Match");
	g_autoptr(GSList) list = NULL;
	gboolean matches = FALSE;

	if (header == NULL)
		return FALSE;
	list = soup_header_parse_list(header);
	for (GSList *l = list; l != NULL; l = l->next) {
		const gchar *candidate = l->data;
		if (g_str_has_prefix(candidate, "W/"))
			candidate += 2;
		if (g_strcmp0(candidate, "*") == 0 || g_strcmp0(candidate, etag) == 0) {
			matches = TRUE;
			break;
		}
	}
	g_slist_free_full(g_steal_pointer(&list), g_free);
	return matches;
}

/* answers 304 and returns TRUE when the client has the current version */
static gboolean
usbpass_api_server_not_modified(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autofree gchar *etag = usbpass_api_server_etag(self);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_message_headers_replace(headers, "ETag", etag);
	soup_message_headers_replace(headers, "Cache-Control", "no-cache");
	if (!usbpass_api_server_etag_matches(msg, etag))
		return FALSE;
	soup_server_message_set_status(msg, SOUP_STATUS_NOT_MODIFIED, NULL);
	return TRUE;
}

/* handlers */

static gboolean
usbpass_api_server_probe_store(UsbpassApiServer *self)
{
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autoptr(GError) error_local = NULL;

	/* a read of a row that does not exist touches the database and nothing else */
	row = usbpass_store_get_device(usbpass_engine_get_store(self->engine),
	                               usbpass_engine_get_host(self->engine),
	                               "usbpassd-health-probe",
	                               &error_local);
	if (row != NULL || g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND))
		return TRUE;
	g_debug("the store fails its health probe: %s", error_local->message);
	return FALSE;
}

static void
usbpass_api_server_handle_health(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	gboolean driver_connected =
	  usbpass_driver_is_connected(usbpass_engine_get_driver(self->engine));
	gboolean store_ok = usbpass_api_server_probe_store(self);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "status");
	json_builder_add_string_value(builder, driver_connected && store_ok ? "ok" : "degraded");
	json_builder_set_member_name(builder, "driver_connected");
	json_builder_add_boolean_value(builder, driver_connected);
	json_builder_set_member_name(builder, "store_ok");
	json_builder_add_boolean_value(builder, store_ok);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

/* the store's type name without "Usbpass" and "Store": "sqlite" */
static gchar *
usbpass_api_server_store_name(UsbpassApiServer *self)
{
	const gchar *type_name = G_OBJECT_TYPE_NAME(usbpass_engine_get_store(self->engine));
	g_autofree gchar *name = NULL;
	if (g_str_has_prefix(type_name, "Usbpass"))
		type_name += strlen("Usbpass");
	name = g_ascii_strdown(type_name, -1);
	if (g_str_has_suffix(name, "store") && strlen(name) > strlen("store"))
		name[strlen(name) - strlen("store")] = '\0';
	return g_steal_pointer(&name);
}

/* the tree of a 1,000-device listing is ~10 MB for a moment; give it back to
 * the system rather than keep it as idle heap */
static void
usbpass_api_server_trim_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static gboolean
usbpass_api_server_ensure_list(UsbpassApiServer *self, GError **error)
{
	g_autoptr(GPtrArray) devices = NULL;

	usbpass_api_server_check_cache(self);
	if (self->list_cache != NULL)
		return TRUE;
	devices = usbpass_engine_list_devices(self->engine, error);
	if (devices == NULL)
		return FALSE;
	self->list_cache = usbpass_api_json_device_list_to_bytes(
	  usbpass_engine_get_host(self->engine),
	  (gint64)(self->cache_generation + self->cache_changes),
	  devices);
	self->list_cache_count = devices->len;
	g_clear_pointer(&devices, g_ptr_array_unref);
	usbpass_api_server_trim_memory();
	return TRUE;
}

static void
usbpass_api_server_handle_host(UsbpassApiServer *self,
                               SoupServerMessage *msg,
                               const UsbpassAuthCaller *caller)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *store_name = usbpass_api_server_store_name(self);
	UsbpassDriver *driver = usbpass_engine_get_driver(self->engine);

	if (!usbpass_api_server_ensure_list(self, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "host");
	json_builder_add_string_value(builder, usbpass_engine_get_host(self->engine));
	json_builder_set_member_name(builder, "version");
	json_builder_add_string_value(builder, PACKAGE_VERSION);
	json_builder_set_member_name(builder, "enabled");
	json_builder_add_boolean_value(builder, usbpass_engine_get_enabled(self->engine));
	json_builder_set_member_name(builder, "driver");
	json_builder_add_string_value(builder, usbpass_driver_get_name(driver));
	json_builder_set_member_name(builder, "driver_connected");
	json_builder_add_boolean_value(builder, usbpass_driver_is_connected(driver));
	json_builder_set_member_name(builder, "store");
	json_builder_add_string_value(builder, store_name);
	json_builder_set_member_name(builder, "devices");
	json_builder_add_int_value(builder, self->list_cache_count);
	/* what the caller may do: the web page shows actions by it */
	json_builder_set_member_name(builder, "role");
	json_builder_add_string_value(builder, usbpass_token_role_to_string(caller->role));
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

typedef struct {
	UsbpassDeviceState state; /* LAST: any */
	const gchar *instance;
	gint vendor_id; /* -1: any */
	gint product_id;
	gint present; /* -1: any */
} UsbpassApiDeviceFilter;

static gboolean
usbpass_api_parse_hex16(const gchar *name, const gchar *value, gint *out, GError **error)
{
	guint64 number = 0;
	if (strlen(value) != 4 ||
	    !g_ascii_string_to_unsigned(value, 16, 0, 0xffff, &number, NULL)) {
		g_autofree gchar *shown = usbpass_string_sanitize(value, -1, 32);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s '%s' is not 4 hexadecimal digits",
		            name,
		            shown != NULL ? shown : "");
		return FALSE;
	}
	*out = (gint)number;
	return TRUE;
}

static gboolean
usbpass_api_check_query(UsbpassApiRouteKind route, GHashTable *query, GError **error)
{
	GHashTableIter iter;
	gpointer key;
	const gchar *const *known = route_table[route].query;

	if (query == NULL)
		return TRUE;
	g_hash_table_iter_init(&iter, query);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (known == NULL || !g_strv_contains(known, key)) {
			g_autofree gchar *shown = usbpass_string_sanitize(key, -1, 64);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "unknown query parameter '%s'",
			            shown != NULL ? shown : "");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
usbpass_api_parse_device_filter(GHashTable *query, UsbpassApiDeviceFilter *filter, GError **error)
{
	const gchar *value;

	filter->state = USBPASS_DEVICE_STATE_LAST;
	filter->instance = NULL;
	filter->vendor_id = -1;
	filter->product_id = -1;
	filter->present = -1;
	if (query == NULL)
		return TRUE;

	value = g_hash_table_lookup(query, "state");
	if (value != NULL) {
		filter->state = usbpass_device_state_from_string(value);
		if (filter->state == USBPASS_DEVICE_STATE_LAST) {
			g_autofree gchar *shown = usbpass_string_sanitize(value, -1, 32);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "state '%s' is not one of available, attaching, attached, "
			            "detaching, failed, missing",
			            shown != NULL ? shown : "");
			return FALSE;
		}
	}
	value = g_hash_table_lookup(query, "instance");
	if (value != NULL) {
		if (value[0] == '\0' || strlen(value) > USBPASS_API_SEGMENT_MAX_BYTES ||
		    !g_utf8_validate(value, -1, NULL)) {
			g_set_error_literal(error,
			                    USBPASS_ERROR,
			                    USBPASS_ERROR_INVALID_DATA,
			                    "the instance filter is empty, too long or not UTF-8");
			return FALSE;
		}
		filter->instance = value;
	}
	value = g_hash_table_lookup(query, "vendor_id");
	if (value != NULL &&
	    !usbpass_api_parse_hex16("vendor_id", value, &filter->vendor_id, error))
		return FALSE;
	value = g_hash_table_lookup(query, "product_id");
	if (value != NULL &&
	    !usbpass_api_parse_hex16("product_id", value, &filter->product_id, error))
		return FALSE;
	value = g_hash_table_lookup(query, "present");
	if (value != NULL) {
		if (g_strcmp0(value, "true") == 0) {
			filter->present = 1;
		} else if (g_strcmp0(value, "false") == 0) {
			filter->present = 0;
		} else {
			g_set_error_literal(error,
			                    USBPASS_ERROR,
			                    USBPASS_ERROR_INVALID_DATA,
			                    "present must be 'true' or 'false'");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
usbpass_api_device_filter_is_empty(const UsbpassApiDeviceFilter *filter)
{
	return filter->state == USBPASS_DEVICE_STATE_LAST && filter->instance == NULL &&
	       filter->vendor_id < 0 && filter->product_id < 0 && filter->present < 0;
}

static gboolean
usbpass_api_device_filter_matches(const UsbpassApiDeviceFilter *filter,
                                  const UsbpassEngineDevice *device)
{
	const UsbpassStoreDevice *record = device->record;
	UsbpassDeviceState state = USBPASS_DEVICE_STATE_AVAILABLE;
	guint16 vendor_id = 0;
	guint16 product_id = 0;

	if (record != NULL)
		state = record->state;
	else if (device->device == NULL)
		state = USBPASS_DEVICE_STATE_MISSING;
	if (device->device != NULL) {
		vendor_id = device->device->vendor_id;
		product_id = device->device->product_id;
	} else if (record != NULL) {
		vendor_id = record->vendor_id;
		product_id = record->product_id;
	}
	if (filter->state != USBPASS_DEVICE_STATE_LAST && filter->state != state)
		return FALSE;
	if (filter->instance != NULL &&
	    (record == NULL || (g_strcmp0(record->instance_uuid, filter->instance) != 0 &&
	                        g_strcmp0(record->instance_name, filter->instance) != 0)))
		return FALSE;
	if (filter->vendor_id >= 0 && filter->vendor_id != vendor_id)
		return FALSE;
	if (filter->product_id >= 0 && filter->product_id != product_id)
		return FALSE;
	if (filter->present >= 0 && filter->present != (device->device != NULL))
		return FALSE;
	return TRUE;
}

static void
usbpass_api_server_handle_devices(UsbpassApiServer *self, SoupServerMessage *msg, GHashTable *query)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) matching = NULL;
	g_autoptr(GBytes) bytes = NULL;
	UsbpassApiDeviceFilter filter;
	const gchar *host = usbpass_engine_get_host(self->engine);

	if (!usbpass_api_parse_device_filter(query, &filter, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	if (usbpass_api_device_filter_is_empty(&filter)) {
		if (!usbpass_api_server_ensure_list(self, &error_local)) {
			usbpass_api_respond_error(msg, error_local);
			return;
		}
		if (usbpass_api_server_not_modified(self, msg))
			return;
		usbpass_api_respond_bytes(msg, SOUP_STATUS_OK, self->list_cache);
		return;
	}

	/* a filtered listing is built each time; it is smaller, and rarer */
	usbpass_api_server_check_cache(self);
	if (usbpass_api_server_not_modified(self, msg))
		return;
	devices = usbpass_engine_list_devices(self->engine, &error_local);
	if (devices == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	matching = g_ptr_array_new();
	for (guint i = 0; i < devices->len; i++) {
		UsbpassEngineDevice *device = g_ptr_array_index(devices, i);
		if (usbpass_api_device_filter_matches(&filter, device))
			g_ptr_array_add(matching, device);
	}
	bytes = usbpass_api_json_device_list_to_bytes(
	  host, (gint64)(self->cache_generation + self->cache_changes), matching);
	usbpass_api_respond_bytes(msg, SOUP_STATUS_OK, bytes);
}

static void
usbpass_api_server_handle_device(UsbpassApiServer *self, SoupServerMessage *msg, const gchar *spec)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassEngineDevice) device = NULL;
	g_autoptr(JsonBuilder) builder = NULL;
	GBytes *cached;

	usbpass_api_server_check_cache(self);
	if (usbpass_api_server_not_modified(self, msg))
		return;
	cached = g_hash_table_lookup(self->device_cache, spec);
	if (cached != NULL) {
		usbpass_api_respond_bytes(msg, SOUP_STATUS_OK, cached);
		return;
	}
	device = usbpass_engine_find_device(self->engine, spec, &error_local);
	if (device == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	builder = json_builder_new_immutable();
	usbpass_api_json_add_engine_device(builder, usbpass_engine_get_host(self->engine), device);
	cached = usbpass_api_json_to_bytes(builder);
	if (g_hash_table_size(self->device_cache) >= USBPASS_API_DEVICE_CACHE_MAX)
		g_hash_table_remove_all(self->device_cache);
	g_hash_table_insert(self->device_cache, g_strdup(spec), cached);
	usbpass_api_respond_bytes(msg, SOUP_STATUS_OK, cached);
}

static void
usbpass_api_server_handle_device_policy(UsbpassApiServer *self,
                                        SoupServerMessage *msg,
                                        const gchar *spec)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassPolicyVerdict) verdict = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();

	verdict = usbpass_engine_check_policy(self->engine, spec, &error_local);
	if (verdict == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	usbpass_api_json_add_verdict(builder, verdict);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

static void
usbpass_api_server_handle_policy(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(GPtrArray) rules =
	  usbpass_policy_describe(usbpass_engine_get_policy(self->engine));

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "enabled");
	json_builder_add_boolean_value(builder, usbpass_engine_get_enabled(self->engine));
	json_builder_set_member_name(builder, "rules");
	json_builder_begin_array(builder);
	for (guint i = 0; rules != NULL && i < rules->len; i++)
		json_builder_add_string_value(builder, g_ptr_array_index(rules, i));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

static gboolean
usbpass_api_server_add_instance(UsbpassApiServer *self,
                                JsonBuilder *builder,
                                const UsbpassInstance *instance,
                                GError **error)
{
	g_autoptr(GPtrArray) records =
	  usbpass_engine_list_instance_devices(self->engine, instance->uuid, error);
	if (records == NULL)
		return FALSE;
	usbpass_api_json_add_instance(builder,
	                              usbpass_engine_get_host(self->engine),
	                              instance,
	                              usbpass_engine_get_inventory(self->engine),
	                              records);
	return TRUE;
}

static void
usbpass_api_server_handle_instances(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) instances = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();

	instances = usbpass_engine_list_instances(self->engine, &error_local);
	if (instances == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "instances");
	json_builder_begin_array(builder);
	for (guint i = 0; i < instances->len; i++) {
		if (!usbpass_api_server_add_instance(
		      self, builder, g_ptr_array_index(instances, i), &error_local)) {
			usbpass_api_respond_error(msg, error_local);
			return;
		}
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

static void
usbpass_api_server_handle_instance(UsbpassApiServer *self,
                                   SoupServerMessage *msg,
                                   const gchar *spec)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();

	instance = usbpass_engine_lookup_instance(self->engine, spec, &error_local);
	if (instance == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	if (!usbpass_api_server_add_instance(self, builder, instance, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

/* attach and detach: the request waits, paused, for the engine's worker */

static void
usbpass_api_operation_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	UsbpassApiOperation *op = user_data;
	op->gone = TRUE;
}

static UsbpassApiOperation *
usbpass_api_operation_new(UsbpassApiServer *self, SoupServerMessage *msg)
{
	UsbpassApiOperation *op = g_new0(UsbpassApiOperation, 1);
	op->self = g_object_ref(self);
	op->msg = g_object_ref(msg);
	op->finished_id =
	  g_signal_connect(msg, "finished", G_CALLBACK(usbpass_api_operation_gone_cb), op);
	op->disconnected_id =
	  g_signal_connect(msg, "disconnected", G_CALLBACK(usbpass_api_operation_gone_cb), op);
	soup_server_message_pause(msg);
	self->pending++;
	return op;
}

static void
usbpass_api_operation_free(UsbpassApiOperation *op)
{
	if (op == NULL)
		return;
	op->self->pending--;
	g_clear_signal_handler(&op->finished_id, op->msg);
	g_clear_signal_handler(&op->disconnected_id, op->msg);
	g_object_unref(op->msg);
	g_object_unref(op->self);
	g_free(op);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassApiOperation, usbpass_api_operation_free)

static void
usbpass_api_operation_finish(UsbpassApiOperation *op, UsbpassEngineDevice *device, GError *error)
{
	UsbpassApiServer *self = op->self;

	/* the client went away while the engine worked: the outcome is in the
	 * store and the audit log all the same */
	if (op->gone)
		return;
	if (device != NULL) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		usbpass_api_json_add_engine_device(
		  builder, usbpass_engine_get_host(self->engine), device);
		usbpass_api_respond_builder(op->msg, SOUP_STATUS_OK, builder);
	} else if (g_error_matches(error, USBPASS_ERROR, USBPASS_ERROR_DISABLED) &&
	           self->disabled_hint != NULL) {
		/* the daemon knows which file it read: say that one */
		g_autofree gchar *text =
		  g_strdup_printf("USB passthrough is disabled on host '%s': %s",
		                  usbpass_engine_get_host(self->engine),
		                  self->disabled_hint);
		usbpass_api_respond_code(op->msg,
		                         usbpass_error_to_http_status(USBPASS_ERROR_DISABLED),
		                         USBPASS_ERROR_DISABLED,
		                         text);
	} else {
		usbpass_api_respond_error(op->msg, error);
	}
	soup_server_message_unpause(op->msg);
}

static void
usbpass_api_server_attach_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UsbpassApiOperation) op = user_data;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassEngineDevice) device = NULL;

	device = usbpass_engine_attach_finish(USBPASS_ENGINE(source), res, &error_local);
	usbpass_api_operation_finish(op, device, error_local);
}

static void
usbpass_api_server_detach_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UsbpassApiOperation) op = user_data;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassEngineDevice) device = NULL;

	device = usbpass_engine_detach_finish(USBPASS_ENGINE(source), res, &error_local);
	usbpass_api_operation_finish(op, device, error_local);
}

static gboolean
usbpass_api_check_spec(const gchar *what, const gchar *spec, GError **error)
{
	g_autofree gchar *clean =
	  usbpass_string_sanitize(spec, -1, USBPASS_API_SEGMENT_MAX_BYTES + 8);
	if (spec[0] == '\0' || strlen(spec) > USBPASS_API_SEGMENT_MAX_BYTES ||
	    g_strcmp0(clean, spec) != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the %s must be 1 to %u bytes of printable UTF-8 without outer blanks",
		            what,
		            (guint)USBPASS_API_SEGMENT_MAX_BYTES);
		return FALSE;
	}
	return TRUE;
}

static void
usbpass_api_server_handle_attach(UsbpassApiServer *self,
                                 SoupServerMessage *msg,
                                 UsbpassApiRequest *request)
{
	static const gchar *const members[] = { "device", NULL };
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonObject) body = NULL;
	const gchar *device_spec = NULL;
	UsbpassApiOperation *op;

	body = usbpass_api_json_parse_object(
	  (const gchar *)request->body->data, request->body->len, &error_local);
	if (body == NULL || !usbpass_api_json_check_members(body, members, &error_local) ||
	    !usbpass_api_json_get_string(body, "device", TRUE, &device_spec, &error_local) ||
	    !usbpass_api_check_spec("device", device_spec, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	op = usbpass_api_operation_new(self, msg);
	usbpass_engine_attach_async(self->engine,
	                            device_spec,
	                            request->arg1,
	                            request->caller->actor,
	                            NULL,
	                            usbpass_api_server_attach_cb,
	                            op);
}

/* the device must be assigned to the instance of the path: a DELETE on
 * another instance's device is refused, not obeyed */
static gchar *
usbpass_api_server_resolve_detach(UsbpassApiServer *self,
                                  const gchar *instance_spec,
                                  const gchar *device_spec,
                                  GError **error)
{
	g_autoptr(UsbpassEngineDevice) device = NULL;
	g_autoptr(UsbpassInstance) instance = NULL;
	const UsbpassStoreDevice *record;

	device = usbpass_engine_find_device(self->engine, device_spec, error);
	if (device == NULL)
		return NULL;
	record = device->record;
	if (record == NULL || record->instance_uuid == NULL || record->device_id == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_FOUND,
		            "USB device '%s' is not assigned to any instance",
		            device_spec);
		return NULL;
	}
	if (g_strcmp0(record->instance_uuid, instance_spec) == 0 ||
	    g_strcmp0(record->instance_name, instance_spec) == 0)
		return g_strdup(record->device_id);
	instance = usbpass_engine_lookup_instance(self->engine, instance_spec, NULL);
	if (instance != NULL && g_strcmp0(instance->uuid, record->instance_uuid) == 0)
		return g_strdup(record->device_id);
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_IN_USE,
	            "USB device '%s' is assigned to instance '%s', not to '%s'",
	            device_spec,
	            record->instance_name != NULL ? record->instance_name : record->instance_uuid,
	            instance_spec);
	return NULL;
}

static void
usbpass_api_server_handle_detach(UsbpassApiServer *self,
                                 SoupServerMessage *msg,
                                 UsbpassApiRequest *request)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *device_id = NULL;
	UsbpassApiOperation *op;

	device_id =
	  usbpass_api_server_resolve_detach(self, request->arg1, request->arg2, &error_local);
	if (device_id == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	op = usbpass_api_operation_new(self, msg);
	usbpass_engine_detach_async(
	  self->engine, device_id, request->caller->actor, NULL, usbpass_api_server_detach_cb, op);
}

static void
usbpass_api_server_handle_audit(UsbpassApiServer *self, SoupServerMessage *msg, GHashTable *query)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	const gchar *value;
	guint64 after = 0;
	guint64 limit = USBPASS_API_AUDIT_LIMIT_DEFAULT;

	value = query != NULL ? g_hash_table_lookup(query, "after") : NULL;
	if (value != NULL &&
	    !usbpass_string_parse_uint(value, 10, 0, G_MAXINT64, &after, &error_local)) {
		g_prefix_error(&error_local, "after: ");
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	value = query != NULL ? g_hash_table_lookup(query, "limit") : NULL;
	if (value != NULL && !usbpass_string_parse_uint(
	                       value, 10, 1, USBPASS_API_AUDIT_LIMIT_MAX, &limit, &error_local)) {
		g_prefix_error(&error_local, "limit: ");
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	entries = usbpass_store_list_audit(usbpass_engine_get_store(self->engine),
	                                   usbpass_engine_get_host(self->engine),
	                                   (gint64)after,
	                                   (guint)limit,
	                                   &error_local);
	if (entries == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "entries");
	json_builder_begin_array(builder);
	for (guint i = 0; i < entries->len; i++)
		usbpass_api_json_add_audit_entry(builder, g_ptr_array_index(entries, i));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

static void
usbpass_api_server_handle_events(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autoptr(GError) error_local = NULL;
	if (!usbpass_api_events_add_watcher(self->events, msg, &error_local)) {
		/* not the 409 of BUSY: the limit is a capacity, retrying later helps */
		usbpass_api_respond_code(
		  msg, SOUP_STATUS_SERVICE_UNAVAILABLE, USBPASS_ERROR_BUSY, error_local->message);
		soup_message_headers_replace(
		  soup_server_message_get_response_headers(msg), "Retry-After", "5");
	}
}

static void
usbpass_api_server_handle_create_token(UsbpassApiServer *self,
                                       SoupServerMessage *msg,
                                       UsbpassApiRequest *request)
{
	static const gchar *const members[] = { "name", "role", NULL };
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(UsbpassToken) token = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *secret = NULL;
	g_autofree gchar *message = NULL;
	const gchar *name = NULL;
	const gchar *role_str = NULL;
	UsbpassTokenRole role;

	body = usbpass_api_json_parse_object(
	  (const gchar *)request->body->data, request->body->len, &error_local);
	if (body == NULL || !usbpass_api_json_check_members(body, members, &error_local) ||
	    !usbpass_api_json_get_string(body, "name", TRUE, &name, &error_local) ||
	    !usbpass_api_json_get_string(body, "role", TRUE, &role_str, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	role = usbpass_token_role_from_string(role_str);
	if (role >= USBPASS_TOKEN_ROLE_LAST) {
		g_autofree gchar *shown = usbpass_string_sanitize(role_str, -1, 32);
		g_autofree gchar *text = g_strdup_printf(
		  "role '%s' is not one of reader, operator, admin", shown != NULL ? shown : "");
		usbpass_api_respond_code(
		  msg, SOUP_STATUS_BAD_REQUEST, USBPASS_ERROR_INVALID_DATA, text);
		return;
	}
	token = usbpass_auth_create_token(self->auth, name, role, &secret, &error_local);
	if (token == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	message = g_strdup_printf(
	  "token '%s' with role '%s' created", token->name, usbpass_token_role_to_string(role));
	usbpass_api_server_append_audit(
	  self, request->caller->actor, "token-create", "ok", message);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, token->name);
	json_builder_set_member_name(builder, "role");
	json_builder_add_string_value(builder, usbpass_token_role_to_string(role));
	json_builder_set_member_name(builder, "token");
	json_builder_add_string_value(builder, secret);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_CREATED, builder);
	soup_message_headers_replace(
	  soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
	memset(secret, 0, strlen(secret));
}

static void
usbpass_api_server_handle_tokens(UsbpassApiServer *self, SoupServerMessage *msg)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) tokens = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();

	tokens = usbpass_store_list_tokens(usbpass_engine_get_store(self->engine), &error_local);
	if (tokens == NULL) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "tokens");
	json_builder_begin_array(builder);
	for (guint i = 0; i < tokens->len; i++)
		usbpass_api_json_add_token(builder, g_ptr_array_index(tokens, i));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	usbpass_api_respond_builder(msg, SOUP_STATUS_OK, builder);
}

static void
usbpass_api_server_handle_revoke_token(UsbpassApiServer *self,
                                       SoupServerMessage *msg,
                                       UsbpassApiRequest *request)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *message = NULL;

	if (!usbpass_string_is_identifier(request->arg1, 64)) {
		usbpass_api_respond_code(msg,
		                         SOUP_STATUS_NOT_FOUND,
		                         USBPASS_ERROR_NOT_FOUND,
		                         "no token has this name: token names are 1 to 64 "
		                         "characters of A-Z, a-z, 0-9, '.', '_' and '-'");
		return;
	}
	if (!usbpass_auth_revoke_token(self->auth, request->arg1, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}
	message = g_strdup_printf("token '%s' revoked", request->arg1);
	usbpass_api_server_append_audit(
	  self, request->caller->actor, "token-revoke", "ok", message);
	soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
usbpass_api_server_cb(SoupServer *server,
                      SoupServerMessage *msg,
                      const char *path,
                      GHashTable *query,
                      gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	UsbpassApiRequest *request = g_object_get_qdata(G_OBJECT(msg), usbpass_api_request_quark());
	const gchar *method = soup_server_message_get_method(msg);
	g_autoptr(GError) error_local = NULL;

	/* the early handler decided routing and authorisation, or answered */
	if (request == NULL || request->caller == NULL) {
		usbpass_api_respond_code(msg,
		                         SOUP_STATUS_INTERNAL_SERVER_ERROR,
		                         USBPASS_ERROR_INTERNAL,
		                         "the request skipped authorisation");
		return;
	}
	if (!usbpass_api_check_query(request->route, query, &error_local)) {
		usbpass_api_respond_error(msg, error_local);
		return;
	}

	switch (request->route) {
	case USBPASS_API_ROUTE_HEALTH:
		usbpass_api_server_handle_health(self, msg);
		break;
	case USBPASS_API_ROUTE_HOST:
		usbpass_api_server_handle_host(self, msg, request->caller);
		break;
	case USBPASS_API_ROUTE_DEVICES:
		usbpass_api_server_handle_devices(self, msg, query);
		break;
	case USBPASS_API_ROUTE_DEVICE:
		usbpass_api_server_handle_device(self, msg, request->arg1);
		break;
	case USBPASS_API_ROUTE_DEVICE_POLICY:
		usbpass_api_server_handle_device_policy(self, msg, request->arg1);
		break;
	case USBPASS_API_ROUTE_POLICY:
		usbpass_api_server_handle_policy(self, msg);
		break;
	case USBPASS_API_ROUTE_INSTANCES:
		usbpass_api_server_handle_instances(self, msg);
		break;
	case USBPASS_API_ROUTE_INSTANCE:
		usbpass_api_server_handle_instance(self, msg, request->arg1);
		break;
	case USBPASS_API_ROUTE_INSTANCE_DEVICES:
		usbpass_api_server_handle_attach(self, msg, request);
		break;
	case USBPASS_API_ROUTE_INSTANCE_DEVICE:
		usbpass_api_server_handle_detach(self, msg, request);
		break;
	case USBPASS_API_ROUTE_AUDIT:
		usbpass_api_server_handle_audit(self, msg, query);
		break;
	case USBPASS_API_ROUTE_EVENTS:
		usbpass_api_server_handle_events(self, msg);
		break;
	case USBPASS_API_ROUTE_TOKENS:
		if (method == SOUP_METHOD_POST)
			usbpass_api_server_handle_create_token(self, msg, request);
		else
			usbpass_api_server_handle_tokens(self, msg);
		break;
	case USBPASS_API_ROUTE_TOKEN:
		usbpass_api_server_handle_revoke_token(self, msg, request);
		break;
	case USBPASS_API_ROUTE_LAST:
	default:
		usbpass_api_respond_code(
		  msg, SOUP_STATUS_NOT_FOUND, USBPASS_ERROR_NOT_FOUND, "no such API endpoint");
		break;
	}
}

/* change notifications: invalidate the caches, tell the event watchers */

static void
usbpass_api_server_inventory_event_cb(UsbpassInventory *inventory,
                                      UsbpassInventoryEvent *event,
                                      gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(UsbpassEngineDevice) engine_device = NULL;
	g_autoptr(GBytes) data = NULL;
	gboolean present;

	if (usbpass_api_events_get_watcher_count(self->events) == 0 || event == NULL ||
	    event->device == NULL)
		return;
	present = event->kind != USBPASS_INVENTORY_EVENT_REMOVED;
	if (event->device->id != NULL)
		engine_device = usbpass_engine_find_device(self->engine, event->device->id, NULL);

	builder = json_builder_new_immutable();
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "kind");
	json_builder_add_string_value(builder, usbpass_inventory_event_kind_to_string(event->kind));
	json_builder_set_member_name(builder, "replugged");
	json_builder_add_boolean_value(builder, event->replugged);
	json_builder_set_member_name(builder, "device");
	usbpass_api_json_add_device(builder,
	                            usbpass_engine_get_host(self->engine),
	                            event->device,
	                            engine_device != NULL ? engine_device->record : NULL,
	                            present);
	json_builder_end_object(builder);
	data = usbpass_api_json_to_bytes(builder);
	usbpass_api_events_broadcast(self->events, "inventory", data);
}

static void
usbpass_api_server_inventory_changed_cb(UsbpassInventory *inventory, gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	/* the generation changed too; this also covers a batch without events */
	self->changes++;
}

static void
usbpass_api_server_engine_changed_cb(UsbpassEngine *engine,
                                     UsbpassEngineDevice *device,
                                     gpointer user_data)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(user_data);
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(GBytes) data = NULL;

	self->changes++;
	if (usbpass_api_events_get_watcher_count(self->events) == 0 || device == NULL)
		return;
	builder = json_builder_new_immutable();
	usbpass_api_json_add_engine_device(builder, usbpass_engine_get_host(self->engine), device);
	data = usbpass_api_json_to_bytes(builder);
	usbpass_api_events_broadcast(self->events, "state", data);
}

/* public */

/**
 * usbpass_api_server_new:
 * @engine: the engine whose devices and instances the API shows and changes
 * @auth: who may do what
 *
 * Returns: (transfer full): a server that does not listen yet
 */
UsbpassApiServer *
usbpass_api_server_new(UsbpassEngine *engine, UsbpassAuth *auth)
{
	UsbpassApiServer *self;

	g_return_val_if_fail(USBPASS_IS_ENGINE(engine), NULL);
	g_return_val_if_fail(USBPASS_IS_AUTH(auth), NULL);

	self = g_object_new(USBPASS_TYPE_API_SERVER, NULL);
	self->engine = g_object_ref(engine);
	self->auth = g_object_ref(auth);
	/* raw paths: a %2F inside an identity must stay inside its segment */
	self->server = soup_server_new(
	  "server-header", "usbpassd/" PACKAGE_VERSION " ", "raw-paths", TRUE, NULL);
	soup_server_add_early_handler(self->server, NULL, usbpass_api_server_early_cb, self, NULL);
	g_signal_connect(self->server,
	                 "request-started",
	                 G_CALLBACK(usbpass_api_server_request_started_cb),
	                 self);
	soup_server_add_handler(self->server, NULL, usbpass_api_server_cb, self, NULL);
	self->inventory_event_id =
	  g_signal_connect(usbpass_engine_get_inventory(engine),
	                   "event",
	                   G_CALLBACK(usbpass_api_server_inventory_event_cb),
	                   self);
	self->inventory_changed_id =
	  g_signal_connect(usbpass_engine_get_inventory(engine),
	                   "changed",
	                   G_CALLBACK(usbpass_api_server_inventory_changed_cb),
	                   self);
	self->engine_changed_id = g_signal_connect(
	  engine, "device-changed", G_CALLBACK(usbpass_api_server_engine_changed_cb), self);
	return self;
}

/**
 * usbpass_api_server_set_disabled_hint:
 * @self: the server
 * @hint: how to enable passthrough, e.g. "set enabled=true in [daemon] of
 *   /etc/usbpass/usbpassd.conf or start usbpassd with --enable"
 */
void
usbpass_api_server_set_disabled_hint(UsbpassApiServer *self, const gchar *hint)
{
	g_return_if_fail(USBPASS_IS_API_SERVER(self));
	g_free(self->disabled_hint);
	self->disabled_hint = g_strdup(hint);
}

/**
 * usbpass_api_server_set_event_limits:
 * @self: the server
 * @max_watchers: open event streams allowed at once (503 beyond)
 * @max_queue: events one stream may fall behind before it is cut
 * @keepalive_seconds: interval of keep-alive comments, 0 for none
 */
void
usbpass_api_server_set_event_limits(UsbpassApiServer *self,
                                    guint max_watchers,
                                    guint max_queue,
                                    guint keepalive_seconds)
{
	g_return_if_fail(USBPASS_IS_API_SERVER(self));
	usbpass_api_events_set_limits(self->events, max_watchers, max_queue);
	usbpass_api_events_set_keepalive(self->events, keepalive_seconds);
}

static gboolean
usbpass_api_server_remove_stale_socket(const gchar *path, GError **error)
{
	struct stat st;
	g_autoptr(GSocket) probe = NULL;
	g_autoptr(GSocketAddress) address = NULL;

	if (lstat(path, &st) != 0)
		return TRUE;
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "'%s' exists and is not a socket",
		            path);
		return FALSE;
	}
	/* a socket somebody still answers on belongs to a running daemon */
	probe =
	  g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
	address = g_unix_socket_address_new(path);
	if (probe != NULL && g_socket_connect(probe, address, NULL, NULL)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "another process listens on '%s'; is usbpassd already running?",
		            path);
		return FALSE;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot remove the stale socket '%s': %s",
		            path,
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* the accept loop, made with the first listening socket */
static gboolean
usbpass_api_server_ensure_listener(UsbpassApiServer *self, GError **error)
{
	if (self->listener != NULL)
		return TRUE;
	self->listener = usbpass_api_listener_new(self->server, error);
	if (self->listener == NULL)
		return FALSE;
	usbpass_api_listener_set_limits(self->listener,
	                                self->max_connections,
	                                self->request_timeout_ms,
	                                self->idle_timeout_ms);
	return TRUE;
}

/**
 * usbpass_api_server_set_connection_limits:
 * @self: the server
 * @max_connections: connections open at once, 0 for no limit
 * @request_timeout_ms: the time a client has for a complete request, 0 for none
 * @idle_timeout_ms: the time a kept-alive connection may wait for its next
 *   request, 0 for none
 *
 * See usbpass-api-listener.h.
 */
void
usbpass_api_server_set_connection_limits(UsbpassApiServer *self,
                                         guint max_connections,
                                         guint request_timeout_ms,
                                         guint idle_timeout_ms)
{
	g_return_if_fail(USBPASS_IS_API_SERVER(self));
	self->max_connections = max_connections;
	self->request_timeout_ms = request_timeout_ms;
	self->idle_timeout_ms = idle_timeout_ms;
	if (self->listener != NULL)
		usbpass_api_listener_set_limits(
		  self->listener, max_connections, request_timeout_ms, idle_timeout_ms);
}

/**
 * usbpass_api_server_listen_unix:
 * @self: the server
 * @path: the socket file; its directory is made when missing
 * @mode: permissions of the socket file, e.g. 0660
 * @group: (nullable): the group owning the socket file
 * @error: (nullable): #USBPASS_ERROR_BUSY when a daemon already listens there,
 *   #USBPASS_ERROR_NOT_FOUND for an unknown group, #USBPASS_ERROR_INTERNAL
 *
 * A stale socket file of a dead daemon is replaced. The file is created
 * without access for anybody but the owner and opened to @mode and @group
 * only then.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_server_listen_unix(UsbpassApiServer *self,
                               const gchar *path,
                               guint mode,
                               const gchar *group,
                               GError **error)
{
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *dir = NULL;
	gid_t gid = (gid_t)-1;
	struct stat st;
	mode_t old_umask;
	gboolean ok;

	g_return_val_if_fail(USBPASS_IS_API_SERVER(self), FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	if (strlen(path) >= 108) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the socket path '%s' is longer than 107 bytes",
		            path);
		return FALSE;
	}
	if (group != NULL && group[0] != '\0') {
		struct group *grp = getgrnam(group);
		if (grp == NULL) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_NOT_FOUND,
			            "group '%s' does not exist",
			            group);
			return FALSE;
		}
		gid = grp->gr_gid;
	}
	dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot create the directory '%s': %s",
		            dir,
		            g_strerror(errno));
		return FALSE;
	}
	if (!usbpass_api_server_ensure_listener(self, error))
		return FALSE;
	if (!usbpass_api_server_remove_stale_socket(path, error))
		return FALSE;

	socket = g_socket_new(
	  G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error_local);
	if (socket == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot create a socket: %s",
		            error_local->message);
		return FALSE;
	}
	address = g_unix_socket_address_new(path);
	/* nobody may connect before the permissions below are in place */
	old_umask = umask(0177);
	ok = g_socket_bind(socket, address, FALSE, &error_local);
	umask(old_umask);
	if (!ok) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot bind '%s': %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) ||
	    chmod(path, mode & 0777) != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot set the owner or mode of '%s': %s",
		            path,
		            g_strerror(errno));
		unlink(path);
		return FALSE;
	}
	if (!usbpass_api_listener_add_socket(self->listener, socket, NULL, &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot listen on '%s': %s",
		            path,
		            error_local->message);
		unlink(path);
		return FALSE;
	}
	if (lstat(path, &st) == 0) {
		self->unix_dev = st.st_dev;
		self->unix_ino = st.st_ino;
	}
	g_free(self->unix_path);
	self->unix_path = g_strdup(path);
	return TRUE;
}

/**
 * usbpass_api_server_listen_tcp:
 * @self: the server
 * @address: an IP address to listen on: "127.0.0.1", "::", "0.0.0.0"
 * @port: the port; 0 for one the kernel picks (see usbpass_api_server_get_uris())
 * @tls_certificate: (nullable): serve HTTPS with this certificate and key
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad address,
 *   #USBPASS_ERROR_BUSY when the port is taken, #USBPASS_ERROR_INTERNAL
 *
 * Every request on TCP needs a bearer token, except GET /v1/health.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_server_listen_tcp(UsbpassApiServer *self,
                              const gchar *address,
                              guint16 port,
                              GTlsCertificate *tls_certificate,
                              GError **error)
{
	g_autoptr(GInetAddress) inet_address = NULL;
	g_autoptr(GSocketAddress) socket_address = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(USBPASS_IS_API_SERVER(self), FALSE);
	g_return_val_if_fail(address != NULL, FALSE);

	inet_address = g_inet_address_new_from_string(address);
	if (inet_address == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "'%s' is not an IP address",
		            address);
		return FALSE;
	}
	if (!usbpass_api_server_ensure_listener(self, error))
		return FALSE;
	socket_address = g_inet_socket_address_new(inet_address, port);
	socket = g_socket_new(g_inet_address_get_family(inet_address),
	                      G_SOCKET_TYPE_STREAM,
	                      G_SOCKET_PROTOCOL_DEFAULT,
	                      &error_local);
	/* "::" is IPv6 only, as libsoup made it: "0.0.0.0" is a listener of its own */
	if (socket != NULL && g_inet_address_get_family(inet_address) == G_SOCKET_FAMILY_IPV6)
		g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
	if (socket == NULL || !g_socket_bind(socket, socket_address, TRUE, &error_local) ||
	    !usbpass_api_listener_add_socket(
	      self->listener, socket, tls_certificate, &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)
		              ? USBPASS_ERROR_BUSY
		              : USBPASS_ERROR_INTERNAL,
		            "cannot listen on '%s' port %u: %s",
		            address,
		            (guint)port,
		            error_local->message);
		return FALSE;
	}
	if (tls_certificate != NULL)
		self->tls = TRUE;
	return TRUE;
}

/**
 * usbpass_api_server_listen_spec:
 * @self: the server
 * @spec: "ADDRESS:PORT", e.g. "127.0.0.1:8484" or "[::1]:8484"
 * @tls_certificate: (nullable): serve HTTPS with this certificate and key
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a bad @spec, else as
 *   usbpass_api_server_listen_tcp()
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_server_listen_spec(UsbpassApiServer *self,
                               const gchar *spec,
                               GTlsCertificate *tls_certificate,
                               GError **error)
{
	g_autoptr(GSocketConnectable) connectable = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *hostname;
	guint16 port;

	g_return_val_if_fail(USBPASS_IS_API_SERVER(self), FALSE);
	g_return_val_if_fail(spec != NULL, FALSE);

	connectable = g_network_address_parse(spec, 0, &error_local);
	if (connectable == NULL || strrchr(spec, ':') == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "listen address '%s' is not ADDRESS:PORT: %s",
		            spec,
		            error_local != NULL ? error_local->message : "no port");
		return FALSE;
	}
	hostname = g_network_address_get_hostname(G_NETWORK_ADDRESS(connectable));
	port = g_network_address_get_port(G_NETWORK_ADDRESS(connectable));
	return usbpass_api_server_listen_tcp(self, hostname, port, tls_certificate, error);
}

/**
 * usbpass_api_server_get_urls:
 * @self: the server
 *
 * soup_server_get_uris() cannot describe a Unix socket; this can.
 *
 * Returns: (transfer full): one URL per listener: "http://127.0.0.1:8484/",
 * "https://[::1]:8484/" or "unix:/run/usbpass/usbpassd.sock"
 */
GStrv
usbpass_api_server_get_urls(UsbpassApiServer *self)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autoptr(GPtrArray) sockets = NULL;

	g_return_val_if_fail(USBPASS_IS_API_SERVER(self), NULL);

	if (self->listener == NULL)
		return g_strv_builder_end(builder);
	sockets = usbpass_api_listener_get_sockets(self->listener);
	for (guint i = 0; i < sockets->len; i++) {
		g_autoptr(GSocketAddress) address =
		  g_socket_get_local_address(g_ptr_array_index(sockets, i), NULL);
		if (address != NULL && G_IS_INET_SOCKET_ADDRESS(address)) {
			GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS(address);
			GInetAddress *inet_address = g_inet_socket_address_get_address(inet);
			g_autofree gchar *host = g_inet_address_to_string(inet_address);
			gboolean v6 =
			  g_inet_address_get_family(inet_address) == G_SOCKET_FAMILY_IPV6;
			g_autofree gchar *url =
			  g_strdup_printf("%s://%s%s%s:%u/",
			                  self->tls ? "https" : "http",
			                  v6 ? "[" : "",
			                  host,
			                  v6 ? "]" : "",
			                  (guint)g_inet_socket_address_get_port(inet));
			g_strv_builder_add(builder, url);
		} else if (address != NULL && G_IS_UNIX_SOCKET_ADDRESS(address)) {
			g_autofree gchar *url = g_strdup_printf(
			  "unix:%s",
			  g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(address)));
			g_strv_builder_add(builder, url);
		}
	}
	return g_strv_builder_end(builder);
}

/**
 * usbpass_api_server_get_pending:
 * @self: the server
 *
 * Returns: the attach and detach requests the engine is still working on
 */
guint
usbpass_api_server_get_pending(UsbpassApiServer *self)
{
	g_return_val_if_fail(USBPASS_IS_API_SERVER(self), 0);
	return self->pending;
}

/**
 * usbpass_api_server_shutdown:
 * @self: the server
 *
 * The first half of stopping: ends the event streams and answers every new
 * request with 503, while attaches and detaches already running finish and
 * are answered (see usbpass_api_server_get_pending()). Idempotent.
 */
void
usbpass_api_server_shutdown(UsbpassApiServer *self)
{
	g_return_if_fail(USBPASS_IS_API_SERVER(self));
	if (self->shut_down)
		return;
	self->shut_down = TRUE;
	usbpass_api_events_close_all(self->events);
}

/**
 * usbpass_api_server_disconnect:
 * @self: the server
 *
 * The second half: stops listening, closes every connection and removes the
 * Unix socket file if it is still ours. Idempotent.
 */
void
usbpass_api_server_disconnect(UsbpassApiServer *self)
{
	struct stat st;

	g_return_if_fail(USBPASS_IS_API_SERVER(self));
	usbpass_api_server_shutdown(self);
	if (self->disconnected)
		return;
	self->disconnected = TRUE;
	if (self->listener != NULL)
		usbpass_api_listener_close(self->listener);
	soup_server_disconnect(self->server);
	/* another daemon may have replaced the file since: remove only ours */
	if (self->unix_path != NULL && lstat(self->unix_path, &st) == 0 &&
	    st.st_dev == self->unix_dev && st.st_ino == self->unix_ino)
		unlink(self->unix_path);
}

static void
usbpass_api_server_dispose(GObject *object)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(object);

	if (self->engine != NULL) {
		UsbpassInventory *inventory = usbpass_engine_get_inventory(self->engine);
		g_clear_signal_handler(&self->inventory_event_id, inventory);
		g_clear_signal_handler(&self->inventory_changed_id, inventory);
		g_clear_signal_handler(&self->engine_changed_id, self->engine);
	}
	/* the count of a burst still open goes to the audit log while there is one */
	if (self->refusals != NULL && self->engine != NULL)
		usbpass_api_refusals_flush(self->refusals);
	g_clear_pointer(&self->refusals, usbpass_api_refusals_free);
	if (self->server != NULL)
		usbpass_api_server_disconnect(self);
	g_clear_object(&self->listener);
	g_clear_object(&self->server);
	g_clear_object(&self->events);
	g_clear_object(&self->auth);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(usbpass_api_server_parent_class)->dispose(object);
}

static void
usbpass_api_server_finalize(GObject *object)
{
	UsbpassApiServer *self = USBPASS_API_SERVER(object);
	g_free(self->unix_path);
	g_free(self->disabled_hint);
	g_free(self->boot_tag);
	g_clear_pointer(&self->list_cache, g_bytes_unref);
	g_clear_pointer(&self->malformed_body, g_bytes_unref);
	g_hash_table_unref(self->device_cache);
	G_OBJECT_CLASS(usbpass_api_server_parent_class)->finalize(object);
}

static void
usbpass_api_server_init(UsbpassApiServer *self)
{
	self->events = usbpass_api_events_new();
	self->device_cache =
	  g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
	self->boot_tag = g_strdup_printf("%" G_GINT64_MODIFIER "x", g_get_real_time());
	self->refusals = usbpass_api_refusals_new(USBPASS_API_REFUSAL_WINDOW_MS,
	                                          USBPASS_API_REFUSALS_PER_WINDOW,
	                                          usbpass_api_server_refusal_summary_cb,
	                                          self);
	self->malformed_body =
	  usbpass_api_json_error_new(USBPASS_ERROR_INVALID_DATA, "the request is not valid HTTP/1.1");
	self->max_connections = USBPASS_API_LISTENER_MAX_CONNECTIONS_DEFAULT;
	self->request_timeout_ms = USBPASS_API_LISTENER_REQUEST_TIMEOUT_DEFAULT * 1000;
	self->idle_timeout_ms = USBPASS_API_LISTENER_IDLE_TIMEOUT_DEFAULT * 1000;
}

static void
usbpass_api_server_class_init(UsbpassApiServerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = usbpass_api_server_dispose;
	object_class->finalize = usbpass_api_server_finalize;
}

/* for tests and fuzzers: usbpass-api-server-private.h */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassApiRequest, usbpass_api_request_free)

/**
 * usbpass_api_server_parse_path:
 * @path: the path of a request URI
 * @route: (out): the endpoint
 * @arg1: (out) (transfer full) (nullable): the first decoded segment
 * @arg2: (out) (transfer full) (nullable): the second decoded segment
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND or #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: %TRUE when @path names an endpoint; the outputs are untouched otherwise
 */
gboolean
usbpass_api_server_parse_path(const gchar *path,
                              guint *route,
                              gchar **arg1,
                              gchar **arg2,
                              GError **error)
{
	g_autoptr(UsbpassApiRequest) request = g_new0(UsbpassApiRequest, 1);

	g_return_val_if_fail(route != NULL, FALSE);
	g_return_val_if_fail(arg1 != NULL, FALSE);
	g_return_val_if_fail(arg2 != NULL, FALSE);

	if (!usbpass_api_parse_route(path, request, error))
		return FALSE;
	*route = request->route;
	*arg1 = g_steal_pointer(&request->arg1);
	*arg2 = g_steal_pointer(&request->arg2);
	return TRUE;
}

/**
 * usbpass_api_server_get_n_routes:
 *
 * Returns: the number of endpoints
 */
guint
usbpass_api_server_get_n_routes(void)
{
	return USBPASS_API_ROUTE_LAST;
}

/**
 * usbpass_api_server_decode_segment:
 * @raw: a percent-encoded path segment
 * @out: (out) (transfer full): the decoded segment
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND or #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_server_decode_segment(const gchar *raw, gchar **out, GError **error)
{
	g_return_val_if_fail(raw != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	return usbpass_api_decode_segment(raw, out, error);
}

/**
 * usbpass_api_server_check_query:
 * @route: an endpoint from usbpass_api_server_parse_path()
 * @query: (nullable): the form-decoded query
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: %TRUE when the server would accept the query
 */
gboolean
usbpass_api_server_check_query(guint route, GHashTable *query, GError **error)
{
	UsbpassApiDeviceFilter filter;

	g_return_val_if_fail(route < USBPASS_API_ROUTE_LAST, FALSE);

	if (!usbpass_api_check_query((UsbpassApiRouteKind)route, query, error))
		return FALSE;
	if (route == USBPASS_API_ROUTE_DEVICES)
		return usbpass_api_parse_device_filter(query, &filter, error);
	return TRUE;
}

/**
 * usbpass_api_server_check_spec:
 * @what: what @spec names, for the message
 * @spec: a device or instance from a request body
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA
 *
 * Returns: %TRUE when the server would look @spec up
 */
gboolean
usbpass_api_server_check_spec(const gchar *what, const gchar *spec, GError **error)
{
	g_return_val_if_fail(what != NULL, FALSE);
	g_return_val_if_fail(spec != NULL, FALSE);
	return usbpass_api_check_spec(what, spec, error);
}

/*
 * usbpass-api-listener.c: accepting API connections, and keeping them bounded
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbpass-api-listener.h"
#include "usbpass-api-stream.h"
#include "usbpass-error.h"

/* connections accepted per wake-up of a listening socket, so that one busy
 * listener cannot starve the rest of the main loop */
#define USBPASS_API_LISTENER_ACCEPT_BATCH 64
/* connections accepted beyond the limit only to be answered 503 */
#define USBPASS_API_LISTENER_OVER_LIMIT_MAX 32
/* accepting again after accept() failed for lack of descriptors */
#define USBPASS_API_LISTENER_RETRY_MS 100
/* one warning about exhausted descriptors per this interval */
#define USBPASS_API_LISTENER_WARN_USEC (10 * G_USEC_PER_SEC)

typedef enum {
	USBPASS_API_CONNECTION_FRESH,   /* accepted, no byte yet */
	USBPASS_API_CONNECTION_IDLE,    /* between requests */
	USBPASS_API_CONNECTION_READING, /* a request is arriving */
	USBPASS_API_CONNECTION_BUSY,    /* read; handled, answered or streaming */
} UsbpassApiConnectionPhase;

typedef struct {
	UsbpassApiListener *listener; /* not a reference: it frees us first */
	GSocket *socket;
	UsbpassApiStream *stream;
	GSocketAddress *remote; /* carries us as qdata: msg -> connection */
	SoupServerMessage *msg; /* the latest: for soup_server_message_steal_connection() */
	GList link;             /* in listener->connections */
	UsbpassApiConnectionPhase phase;
	gint64 since_usec;
	gboolean over_limit;
	gboolean closed; /* the stream is closed, by libsoup or by us */
	gboolean queued; /* in listener->pending */
} UsbpassApiConnection;

typedef struct {
	UsbpassApiListener *listener;
	GSocket *socket;
	GTlsCertificate *tls_certificate;
	GSource *source;
} UsbpassApiEndpoint;

struct _UsbpassApiListener {
	GObject parent_instance;
	SoupServer *server;
	GMainContext *context;
	/* a socketpair whose one end is the only listener libsoup knows: libsoup
	 * keeps a connection alive after a response only while it has a
	 * listener, and nobody can connect to this one */
	GSocket *keepalive_pair[2];
	GPtrArray *endpoints; /* of UsbpassApiEndpoint */
	GQueue connections;   /* of UsbpassApiConnection, in order of accept */
	GPtrArray *pending;   /* of UsbpassApiConnection to close or free */
	GSource *pending_source;
	GSource *sweep_source;
	GSource *retry_source;
	guint max_connections;
	guint request_timeout_ms;
	guint idle_timeout_ms;
	guint over_limit_count;
	gint64 warned_usec;
	gulong signal_ids[4];
	gboolean closed;
};

G_DEFINE_TYPE(UsbpassApiListener, usbpass_api_listener, G_TYPE_OBJECT)

static GQuark
usbpass_api_listener_quark(void)
{
	return g_quark_from_static_string("usbpass-api-connection");
}

static void
usbpass_api_listener_start_accepting(UsbpassApiListener *self);

/* connections */

static UsbpassApiConnection *
usbpass_api_listener_lookup(SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);
	if (remote == NULL)
		return NULL;
	return g_object_get_qdata(G_OBJECT(remote), usbpass_api_listener_quark());
}

static void
usbpass_api_connection_free(UsbpassApiConnection *conn)
{
	if (conn == NULL)
		return;
	if (conn->stream != NULL)
		usbpass_api_stream_clear_hooks(conn->stream);
	if (conn->remote != NULL)
		g_object_set_qdata(G_OBJECT(conn->remote), usbpass_api_listener_quark(), NULL);
	g_clear_object(&conn->msg);
	g_clear_object(&conn->stream);
	g_clear_object(&conn->remote);
	g_clear_object(&conn->socket);
	g_free(conn);
}

/* takes the connection out of the count; the record itself goes later */
static void
usbpass_api_listener_forget(UsbpassApiListener *self, UsbpassApiConnection *conn)
{
	if (conn->link.data == NULL)
		return;
	g_queue_unlink(&self->connections, &conn->link);
	conn->link.data = NULL;
	if (conn->over_limit)
		self->over_limit_count--;
}

/* closes our side now; callers are never inside libsoup's I/O of this
 * connection (timers, idles, the accept loop) */
static void
usbpass_api_listener_close_connection(UsbpassApiListener *self, UsbpassApiConnection *conn)
{
	if (!conn->closed) {
		conn->closed = TRUE;
		/* libsoup forgets the connection (it emits "disconnected" and drops
		 * it from its list of clients); the stream it hands back is ours */
		if (conn->msg != NULL) {
			g_autoptr(GIOStream) stolen =
			  soup_server_message_steal_connection(conn->msg);
		}
		g_io_stream_close(G_IO_STREAM(conn->stream), NULL, NULL);
	}
	usbpass_api_listener_forget(self, conn);
}

static gboolean
usbpass_api_listener_pending_cb(gpointer user_data)
{
	UsbpassApiListener *self = USBPASS_API_LISTENER(user_data);
	g_autoptr(GPtrArray) pending = g_steal_pointer(&self->pending);

	self->pending = g_ptr_array_new();
	g_clear_pointer(&self->pending_source, g_source_unref);
	for (guint i = 0; i < pending->len; i++) {
		UsbpassApiConnection *conn = g_ptr_array_index(pending, i);
		usbpass_api_listener_close_connection(self, conn);
		usbpass_api_connection_free(conn);
	}
	return G_SOURCE_REMOVE;
}

/* closes (if still open) and frees @conn soon, outside the current call chain */
static void
usbpass_api_listener_queue(UsbpassApiListener *self, UsbpassApiConnection *conn)
{
	if (conn->queued)
		return;
	conn->queued = TRUE;
	g_ptr_array_add(self->pending, conn);
	if (self->pending_source == NULL) {
		self->pending_source = g_idle_source_new();
		g_source_set_priority(self->pending_source, G_PRIORITY_HIGH);
		g_source_set_callback(
		  self->pending_source, usbpass_api_listener_pending_cb, self, NULL);
		g_source_attach(self->pending_source, self->context);
	}
}

/* stream hooks */

static void
usbpass_api_connection_activity(gpointer user_data)
{
	UsbpassApiConnection *conn = user_data;
	if (conn->phase == USBPASS_API_CONNECTION_IDLE) {
		conn->phase = USBPASS_API_CONNECTION_READING;
		conn->since_usec = g_get_monotonic_time();
	} else if (conn->phase == USBPASS_API_CONNECTION_FRESH) {
		/* the request timeout runs from the accept: no restart by one byte */
		conn->phase = USBPASS_API_CONNECTION_READING;
	}
}

static gboolean
usbpass_api_connection_gone(gpointer user_data)
{
	UsbpassApiConnection *conn = user_data;
	/* within a request libsoup ends it itself; between requests it would not */
	if (conn->phase != USBPASS_API_CONNECTION_FRESH &&
	    conn->phase != USBPASS_API_CONNECTION_IDLE)
		return FALSE;
	usbpass_api_listener_queue(conn->listener, conn);
	return TRUE;
}

static void
usbpass_api_connection_closed(gpointer user_data)
{
	UsbpassApiConnection *conn = user_data;
	conn->closed = TRUE;
	usbpass_api_listener_forget(conn->listener, conn);
	usbpass_api_listener_queue(conn->listener, conn);
}

static const UsbpassApiStreamHooks usbpass_api_connection_hooks = {
	.activity = usbpass_api_connection_activity,
	.gone = usbpass_api_connection_gone,
	.closed = usbpass_api_connection_closed,
};

/* the request cycle, from the SoupServer's signals */

static void
usbpass_api_listener_request_started_cb(SoupServer *server,
                                        SoupServerMessage *msg,
                                        gpointer user_data)
{
	UsbpassApiConnection *conn = usbpass_api_listener_lookup(msg);
	/* any message of the connection can take it back from libsoup; the
	 * latest lets the ones before it go */
	if (conn != NULL)
		g_set_object(&conn->msg, msg);
}

static void
usbpass_api_listener_request_read_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	UsbpassApiConnection *conn = usbpass_api_listener_lookup(msg);
	if (conn != NULL) {
		conn->phase = USBPASS_API_CONNECTION_BUSY;
		conn->since_usec = g_get_monotonic_time();
	}
}

static void
usbpass_api_listener_request_done_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	UsbpassApiConnection *conn = usbpass_api_listener_lookup(msg);
	if (conn != NULL) {
		conn->phase = USBPASS_API_CONNECTION_IDLE;
		conn->since_usec = g_get_monotonic_time();
	}
}

/* limits */

/* the connection idle the longest, or NULL */
static UsbpassApiConnection *
usbpass_api_listener_find_idle(UsbpassApiListener *self)
{
	UsbpassApiConnection *best = NULL;
	for (GList *l = self->connections.head; l != NULL; l = l->next) {
		UsbpassApiConnection *conn = l->data;
		if (conn->phase != USBPASS_API_CONNECTION_FRESH &&
		    conn->phase != USBPASS_API_CONNECTION_IDLE)
			continue;
		if (best == NULL || conn->since_usec < best->since_usec)
			best = conn;
	}
	return best;
}

static gboolean
usbpass_api_listener_evict_idle(UsbpassApiListener *self)
{
	UsbpassApiConnection *conn = usbpass_api_listener_find_idle(self);
	if (conn == NULL)
		return FALSE;
	usbpass_api_listener_close_connection(self, conn);
	usbpass_api_listener_queue(self, conn);
	return TRUE;
}

static gboolean
usbpass_api_listener_sweep_cb(gpointer user_data)
{
	UsbpassApiListener *self = USBPASS_API_LISTENER(user_data);
	gint64 now = g_get_monotonic_time();
	gint64 request_usec = (gint64)self->request_timeout_ms * 1000;
	gint64 idle_usec = (gint64)self->idle_timeout_ms * 1000;
	GList *next;

	for (GList *l = self->connections.head; l != NULL; l = next) {
		UsbpassApiConnection *conn = l->data;
		gint64 limit = 0;
		next = l->next;
		switch (conn->phase) {
		case USBPASS_API_CONNECTION_FRESH:
		case USBPASS_API_CONNECTION_READING:
			limit = request_usec;
			break;
		case USBPASS_API_CONNECTION_IDLE:
			limit = idle_usec;
			break;
		case USBPASS_API_CONNECTION_BUSY:
		default:
			break;
		}
		if (limit == 0 || now - conn->since_usec <= limit)
			continue;
		g_debug("closing a connection %s for %" G_GINT64_FORMAT " ms",
		        conn->phase == USBPASS_API_CONNECTION_IDLE ? "idle"
		                                                   : "without a complete request",
		        (now - conn->since_usec) / 1000);
		usbpass_api_listener_close_connection(self, conn);
		usbpass_api_listener_queue(self, conn);
	}
	return G_SOURCE_CONTINUE;
}

static void
usbpass_api_listener_restart_sweep(UsbpassApiListener *self)
{
	guint shortest = 0;
	guint interval_ms;

	if (self->sweep_source != NULL) {
		g_source_destroy(self->sweep_source);
		g_clear_pointer(&self->sweep_source, g_source_unref);
	}
	if (self->request_timeout_ms > 0)
		shortest = self->request_timeout_ms;
	if (self->idle_timeout_ms > 0 && (shortest == 0 || self->idle_timeout_ms < shortest))
		shortest = self->idle_timeout_ms;
	if (shortest == 0)
		return;
	/* a connection outlives its timeout by at most a quarter of it */
	interval_ms = CLAMP(shortest / 4, 50, 1000);
	self->sweep_source = g_timeout_source_new(interval_ms);
	g_source_set_callback(self->sweep_source, usbpass_api_listener_sweep_cb, self, NULL);
	g_source_attach(self->sweep_source, self->context);
}

/* accepting */

static void
usbpass_api_listener_take(UsbpassApiEndpoint *endpoint, GSocket *client)
{
	UsbpassApiListener *self = endpoint->listener;
	g_autoptr(GIOStream) base = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	g_autoptr(GError) error_local = NULL;
	UsbpassApiConnection *conn;
	gboolean over_limit = FALSE;

	if (self->max_connections > 0 && self->connections.length >= self->max_connections &&
	    !usbpass_api_listener_evict_idle(self)) {
		if (self->over_limit_count >= USBPASS_API_LISTENER_OVER_LIMIT_MAX) {
			g_debug("more than %u connections, closing a new one unanswered",
			        self->max_connections);
			g_socket_close(client, NULL);
			return;
		}
		over_limit = TRUE;
	}
	if (g_socket_get_family(client) != G_SOCKET_FAMILY_UNIX)
		g_socket_set_option(client, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
	local = g_socket_get_local_address(client, NULL);
	conn = g_new0(UsbpassApiConnection, 1);
	conn->listener = self;
	conn->socket = g_object_ref(client);
	conn->remote = g_socket_get_remote_address(client, NULL);
	if (local == NULL || conn->remote == NULL) {
		g_debug("a connection closed before it was taken, ignoring");
		g_socket_close(client, NULL);
		usbpass_api_connection_free(conn);
		return;
	}
	base = G_IO_STREAM(g_socket_connection_factory_create_connection(client));
	if (endpoint->tls_certificate != NULL) {
		GIOStream *tls =
		  g_tls_server_connection_new(base, endpoint->tls_certificate, &error_local);
		if (tls == NULL) {
			g_warning("cannot start TLS on a connection: %s", error_local->message);
			g_socket_close(client, NULL);
			usbpass_api_connection_free(conn);
			return;
		}
		g_object_unref(base);
		base = tls;
	}
	conn->stream = usbpass_api_stream_new(base, &usbpass_api_connection_hooks, conn);
	conn->phase = USBPASS_API_CONNECTION_FRESH;
	conn->since_usec = g_get_monotonic_time();
	conn->over_limit = over_limit;
	if (over_limit)
		self->over_limit_count++;
	conn->link.data = conn;
	g_queue_push_tail_link(&self->connections, &conn->link);
	g_object_set_qdata(G_OBJECT(conn->remote), usbpass_api_listener_quark(), conn);
	/* libsoup emits request-started for the first message right here */
	if (!soup_server_accept_iostream(
	      self->server, G_IO_STREAM(conn->stream), local, conn->remote, &error_local)) {
		g_warning("cannot serve a connection: %s", error_local->message);
		usbpass_api_listener_close_connection(self, conn);
		usbpass_api_listener_queue(self, conn);
	}
}

static gboolean
usbpass_api_listener_retry_cb(gpointer user_data)
{
	UsbpassApiListener *self = USBPASS_API_LISTENER(user_data);
	g_clear_pointer(&self->retry_source, g_source_unref);
	usbpass_api_listener_start_accepting(self);
	return G_SOURCE_REMOVE;
}

/* out of descriptors or memory: pause every listener, try again shortly */
static void
usbpass_api_listener_pause(UsbpassApiListener *self, const GError *error)
{
	gint64 now = g_get_monotonic_time();

	if (now - self->warned_usec > USBPASS_API_LISTENER_WARN_USEC || self->warned_usec == 0) {
		self->warned_usec = now;
		g_warning("cannot accept API connections (%u open): %s; retrying",
		          self->connections.length,
		          error->message);
	}
	for (guint i = 0; i < self->endpoints->len; i++) {
		UsbpassApiEndpoint *endpoint = g_ptr_array_index(self->endpoints, i);
		if (endpoint->source != NULL) {
			g_source_destroy(endpoint->source);
			g_clear_pointer(&endpoint->source, g_source_unref);
		}
	}
	if (self->retry_source == NULL) {
		self->retry_source = g_timeout_source_new(USBPASS_API_LISTENER_RETRY_MS);
		g_source_set_callback(
		  self->retry_source, usbpass_api_listener_retry_cb, self, NULL);
		g_source_attach(self->retry_source, self->context);
	}
}

static gboolean
usbpass_api_listener_accept_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	UsbpassApiEndpoint *endpoint = user_data;
	UsbpassApiListener *self = endpoint->listener;

	for (guint i = 0; i < USBPASS_API_LISTENER_ACCEPT_BATCH; i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GSocket) client = g_socket_accept(socket, NULL, &error_local);
		if (client != NULL) {
			usbpass_api_listener_take(endpoint, client);
			continue;
		}
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			break;
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
		    g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_NO_SPACE)) {
			/* a descriptor freed by an idle connection is one more accept */
			if (usbpass_api_listener_evict_idle(self))
				continue;
			usbpass_api_listener_pause(self, error_local);
			return G_SOURCE_REMOVE;
		}
		/* the client gave up before the accept (ECONNABORTED) and the like */
		g_debug("accept failed: %s, ignoring", error_local->message);
	}
	return G_SOURCE_CONTINUE;
}

static void
usbpass_api_listener_start_accepting(UsbpassApiListener *self)
{
	if (self->closed)
		return;
	for (guint i = 0; i < self->endpoints->len; i++) {
		UsbpassApiEndpoint *endpoint = g_ptr_array_index(self->endpoints, i);
		if (endpoint->source != NULL)
			continue;
		endpoint->source = g_socket_create_source(endpoint->socket, G_IO_IN, NULL);
		g_source_set_callback(
		  endpoint->source, G_SOURCE_FUNC(usbpass_api_listener_accept_cb), endpoint, NULL);
		g_source_attach(endpoint->source, self->context);
	}
}

static void
usbpass_api_endpoint_free(UsbpassApiEndpoint *endpoint)
{
	if (endpoint == NULL)
		return;
	if (endpoint->source != NULL) {
		g_source_destroy(endpoint->source);
		g_source_unref(endpoint->source);
	}
	if (endpoint->socket != NULL)
		g_socket_close(endpoint->socket, NULL);
	g_clear_object(&endpoint->socket);
	g_clear_object(&endpoint->tls_certificate);
	g_free(endpoint);
}

/* public */

/**
 * usbpass_api_listener_new:
 * @server: the server that answers the requests
 * @error: (nullable): #USBPASS_ERROR_INTERNAL when no socket can be made
 *
 * Returns: (transfer full): a listener without sockets, with the default
 * limits
 */
UsbpassApiListener *
usbpass_api_listener_new(SoupServer *server, GError **error)
{
	g_autoptr(UsbpassApiListener) self = NULL;
	g_autoptr(GError) error_local = NULL;
	int fds[2];

	g_return_val_if_fail(SOUP_IS_SERVER(server), NULL);

	self = g_object_new(USBPASS_TYPE_API_LISTENER, NULL);
	self->server = g_object_ref(server);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot make a socket pair: %s",
		            g_strerror(errno));
		return NULL;
	}
	for (guint i = 0; i < 2; i++) {
		self->keepalive_pair[i] =
		  g_socket_new_from_fd(fds[i], error_local == NULL ? &error_local : NULL);
		if (self->keepalive_pair[i] == NULL)
			close(fds[i]);
	}
	if (error_local == NULL && self->keepalive_pair[0] != NULL &&
	    self->keepalive_pair[1] != NULL)
		soup_server_listen_socket(server, self->keepalive_pair[0], 0, &error_local);
	if (error_local != NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot set up the API server: %s",
		            error_local->message);
		return NULL;
	}
	self->signal_ids[0] = g_signal_connect(
	  server, "request-started", G_CALLBACK(usbpass_api_listener_request_started_cb), self);
	self->signal_ids[1] = g_signal_connect(
	  server, "request-read", G_CALLBACK(usbpass_api_listener_request_read_cb), self);
	self->signal_ids[2] = g_signal_connect(
	  server, "request-finished", G_CALLBACK(usbpass_api_listener_request_done_cb), self);
	self->signal_ids[3] = g_signal_connect(
	  server, "request-aborted", G_CALLBACK(usbpass_api_listener_request_done_cb), self);
	usbpass_api_listener_restart_sweep(self);
	return g_steal_pointer(&self);
}

/**
 * usbpass_api_listener_set_limits:
 * @self: the listener
 * @max_connections: connections open at once, 0 for no limit
 * @request_timeout_ms: the time a connection has for a complete request, from
 *   its accept or (on a kept-alive connection) from the request's first
 *   byte; 0 for none
 * @idle_timeout_ms: the time a kept-alive connection may wait for its next
 *   request; 0 for none
 */
void
usbpass_api_listener_set_limits(UsbpassApiListener *self,
                                guint max_connections,
                                guint request_timeout_ms,
                                guint idle_timeout_ms)
{
	g_return_if_fail(USBPASS_IS_API_LISTENER(self));
	self->max_connections = max_connections;
	self->request_timeout_ms = request_timeout_ms;
	self->idle_timeout_ms = idle_timeout_ms;
	usbpass_api_listener_restart_sweep(self);
}

/**
 * usbpass_api_listener_add_socket:
 * @self: the listener
 * @socket: a bound stream socket, not yet listening
 * @tls_certificate: (nullable): serve TLS with this certificate and key
 * @error: (nullable): #USBPASS_ERROR_INTERNAL when it cannot listen
 *
 * Returns: %TRUE when @socket listens and its connections are served
 */
gboolean
usbpass_api_listener_add_socket(UsbpassApiListener *self,
                                GSocket *socket,
                                GTlsCertificate *tls_certificate,
                                GError **error)
{
	g_autoptr(GError) error_local = NULL;
	UsbpassApiEndpoint *endpoint;

	g_return_val_if_fail(USBPASS_IS_API_LISTENER(self), FALSE);
	g_return_val_if_fail(G_IS_SOCKET(socket), FALSE);

	/* GSocket's default backlog is 10: a burst of clients would be refused */
	g_socket_set_listen_backlog(socket, USBPASS_API_LISTENER_BACKLOG);
	if (!g_socket_listen(socket, &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INTERNAL,
		            "cannot listen: %s",
		            error_local->message);
		return FALSE;
	}
	g_socket_set_blocking(socket, FALSE);
	endpoint = g_new0(UsbpassApiEndpoint, 1);
	endpoint->listener = self;
	endpoint->socket = g_object_ref(socket);
	if (tls_certificate != NULL)
		endpoint->tls_certificate = g_object_ref(tls_certificate);
	g_ptr_array_add(self->endpoints, endpoint);
	if (self->retry_source == NULL)
		usbpass_api_listener_start_accepting(self);
	return TRUE;
}

/**
 * usbpass_api_listener_get_sockets:
 * @self: the listener
 *
 * Returns: (transfer container) (element-type GSocket): the listening sockets
 */
GPtrArray *
usbpass_api_listener_get_sockets(UsbpassApiListener *self)
{
	GPtrArray *sockets = g_ptr_array_new_with_free_func(g_object_unref);
	g_return_val_if_fail(USBPASS_IS_API_LISTENER(self), sockets);
	for (guint i = 0; i < self->endpoints->len; i++) {
		UsbpassApiEndpoint *endpoint = g_ptr_array_index(self->endpoints, i);
		g_ptr_array_add(sockets, g_object_ref(endpoint->socket));
	}
	return sockets;
}

/**
 * usbpass_api_listener_get_message_socket:
 * @msg: a request
 *
 * Returns: (transfer none) (nullable): the connected socket, for peer
 * credentials and hang-ups; %NULL when the connection is gone
 */
GSocket *
usbpass_api_listener_get_message_socket(SoupServerMessage *msg)
{
	UsbpassApiConnection *conn;
	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), NULL);
	conn = usbpass_api_listener_lookup(msg);
	if (conn != NULL)
		return conn->socket;
	return soup_server_message_get_socket(msg);
}

/**
 * usbpass_api_listener_is_over_limit:
 * @msg: a request
 *
 * Returns: %TRUE when the connection of @msg was accepted beyond the limit
 * of connections, to be answered 503
 */
gboolean
usbpass_api_listener_is_over_limit(SoupServerMessage *msg)
{
	UsbpassApiConnection *conn;
	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), FALSE);
	conn = usbpass_api_listener_lookup(msg);
	return conn != NULL && conn->over_limit;
}

/**
 * usbpass_api_listener_get_connection_count:
 * @self: the listener
 *
 * Returns: the connections open now
 */
guint
usbpass_api_listener_get_connection_count(UsbpassApiListener *self)
{
	g_return_val_if_fail(USBPASS_IS_API_LISTENER(self), 0);
	return self->connections.length;
}

/**
 * usbpass_api_listener_close:
 * @self: the listener
 *
 * Stops listening and closes every connection. Idempotent.
 */
void
usbpass_api_listener_close(UsbpassApiListener *self)
{
	g_return_if_fail(USBPASS_IS_API_LISTENER(self));
	if (self->closed)
		return;
	self->closed = TRUE;
	if (self->retry_source != NULL) {
		g_source_destroy(self->retry_source);
		g_clear_pointer(&self->retry_source, g_source_unref);
	}
	if (self->sweep_source != NULL) {
		g_source_destroy(self->sweep_source);
		g_clear_pointer(&self->sweep_source, g_source_unref);
	}
	g_ptr_array_set_size(self->endpoints, 0);
	while (self->connections.head != NULL) {
		UsbpassApiConnection *conn = self->connections.head->data;
		usbpass_api_listener_close_connection(self, conn);
		usbpass_api_listener_queue(self, conn);
	}
	if (self->pending_source != NULL) {
		g_source_destroy(self->pending_source);
		usbpass_api_listener_pending_cb(self);
	}
}

static void
usbpass_api_listener_dispose(GObject *object)
{
	UsbpassApiListener *self = USBPASS_API_LISTENER(object);

	usbpass_api_listener_close(self);
	if (self->server != NULL) {
		for (guint i = 0; i < G_N_ELEMENTS(self->signal_ids); i++)
			g_clear_signal_handler(&self->signal_ids[i], self->server);
	}
	g_clear_object(&self->server);
	G_OBJECT_CLASS(usbpass_api_listener_parent_class)->dispose(object);
}

static void
usbpass_api_listener_finalize(GObject *object)
{
	UsbpassApiListener *self = USBPASS_API_LISTENER(object);
	g_ptr_array_unref(self->endpoints);
	g_ptr_array_unref(self->pending);
	g_clear_object(&self->keepalive_pair[0]);
	g_clear_object(&self->keepalive_pair[1]);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(usbpass_api_listener_parent_class)->finalize(object);
}

static void
usbpass_api_listener_init(UsbpassApiListener *self)
{
	self->context = g_main_context_ref_thread_default();
	self->endpoints = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_api_endpoint_free);
	self->pending = g_ptr_array_new();
	g_queue_init(&self->connections);
	self->max_connections = USBPASS_API_LISTENER_MAX_CONNECTIONS_DEFAULT;
	self->request_timeout_ms = USBPASS_API_LISTENER_REQUEST_TIMEOUT_DEFAULT * 1000;
	self->idle_timeout_ms = USBPASS_API_LISTENER_IDLE_TIMEOUT_DEFAULT * 1000;
}

static void
usbpass_api_listener_class_init(UsbpassApiListenerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = usbpass_api_listener_dispose;
	object_class->finalize = usbpass_api_listener_finalize;
}

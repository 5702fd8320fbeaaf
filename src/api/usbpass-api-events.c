/*
 * usbpass-api-events.c: the watchers of GET /v1/events (server-sent events)
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "usbpass-api-events-private.h"
#include "usbpass-api-events.h"
#include "usbpass-api-listener.h"
#include "usbpass-error.h"

typedef struct {
	UsbpassApiEvents *events; /* unowned: the watcher list owns the watcher */
	SoupServerMessage *msg;
	gulong wrote_chunk_id;
	gulong finished_id;
	gulong disconnected_id;
	GSource *hangup_source; /* the client closed or wrote: it is gone */
	guint pending;          /* chunks appended but not yet written */
	gboolean closed;
} UsbpassApiWatcher;

struct _UsbpassApiEvents {
	GObject parent_instance;
	GPtrArray *watchers; /* of UsbpassApiWatcher */
	guint max_watchers;
	guint max_queue;
	guint keepalive_id;
	guint keepalive_seconds;
	guint64 dropped;
	GBytes *keepalive_chunk;
};

G_DEFINE_TYPE(UsbpassApiEvents, usbpass_api_events, G_TYPE_OBJECT)

static void
usbpass_api_watcher_free(UsbpassApiWatcher *self)
{
	if (self == NULL)
		return;
	if (self->hangup_source != NULL) {
		g_source_destroy(self->hangup_source);
		g_source_unref(self->hangup_source);
	}
	if (self->msg != NULL) {
		g_clear_signal_handler(&self->wrote_chunk_id, self->msg);
		g_clear_signal_handler(&self->finished_id, self->msg);
		g_clear_signal_handler(&self->disconnected_id, self->msg);
		g_object_unref(self->msg);
	}
	g_free(self);
}

static void
usbpass_api_events_update_keepalive(UsbpassApiEvents *self);

static void
usbpass_api_events_remove_watcher(UsbpassApiEvents *self, UsbpassApiWatcher *watcher)
{
	/* the message is being finished by libsoup, which holds its own reference */
	g_ptr_array_remove_fast(self->watchers, watcher);
	/* no timer for nobody: the last watcher stops the keep-alive */
	usbpass_api_events_update_keepalive(self);
}

static void
usbpass_api_events_watcher_wrote_chunk_cb(SoupServerMessage *msg, gpointer user_data)
{
	UsbpassApiWatcher *watcher = user_data;
	if (watcher->pending > 0)
		watcher->pending--;
}

static void
usbpass_api_events_watcher_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	UsbpassApiWatcher *watcher = user_data;
	watcher->closed = TRUE;
	usbpass_api_events_remove_watcher(watcher->events, watcher);
}

static void
usbpass_api_events_watcher_drop(UsbpassApiEvents *self, UsbpassApiWatcher *watcher)
{
	GSocket *socket = usbpass_api_listener_get_message_socket(watcher->msg);

	/* a reader this far behind would make us hold every event for it: cut the
	 * connection; libsoup's write then fails and it finishes the message */
	watcher->closed = TRUE;
	self->dropped++;
	g_debug("dropping an event watcher that is %u events behind", watcher->pending);
	if (socket != NULL)
		g_socket_shutdown(socket, TRUE, TRUE, NULL);
	soup_message_body_complete(soup_server_message_get_response_body(watcher->msg));
	soup_server_message_unpause(watcher->msg);
}

/* libsoup does not read while it writes a response, so a watcher that hangs
 * up would hold its place until the next write fails; watch the socket */
static gboolean
usbpass_api_events_watcher_hangup_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	UsbpassApiWatcher *watcher = user_data;
	g_clear_pointer(&watcher->hangup_source, g_source_unref);
	if (!watcher->closed) {
		g_debug("an event watcher hung up");
		watcher->closed = TRUE;
		g_socket_shutdown(socket, TRUE, TRUE, NULL);
		/* libsoup only notices when it writes: the end of the stream */
		soup_message_body_complete(soup_server_message_get_response_body(watcher->msg));
		soup_server_message_unpause(watcher->msg);
	}
	return G_SOURCE_REMOVE;
}

static void
usbpass_api_events_watcher_send(UsbpassApiEvents *self, UsbpassApiWatcher *watcher, GBytes *chunk)
{
	if (watcher->closed)
		return;
	if (watcher->pending >= self->max_queue) {
		usbpass_api_events_watcher_drop(self, watcher);
		return;
	}
	soup_message_body_append_bytes(soup_server_message_get_response_body(watcher->msg), chunk);
	watcher->pending++;
	soup_server_message_unpause(watcher->msg);
}

/* a copy without a free function: iterating it survives changes of the list */
static GPtrArray *
usbpass_api_events_snapshot(UsbpassApiEvents *self)
{
	GPtrArray *watchers = g_ptr_array_sized_new(self->watchers->len);
	for (guint i = 0; i < self->watchers->len; i++)
		g_ptr_array_add(watchers, g_ptr_array_index(self->watchers, i));
	return watchers;
}

static gboolean
usbpass_api_events_keepalive_cb(gpointer user_data)
{
	UsbpassApiEvents *self = USBPASS_API_EVENTS(user_data);
	g_autoptr(GPtrArray) watchers = usbpass_api_events_snapshot(self);
	for (guint i = 0; i < watchers->len; i++)
		usbpass_api_events_watcher_send(
		  self, g_ptr_array_index(watchers, i), self->keepalive_chunk);
	return G_SOURCE_CONTINUE;
}

static void
usbpass_api_events_update_keepalive(UsbpassApiEvents *self)
{
	if (self->watchers->len > 0 && self->keepalive_id == 0 && self->keepalive_seconds > 0) {
		self->keepalive_id = g_timeout_add_seconds(
		  self->keepalive_seconds, usbpass_api_events_keepalive_cb, self);
	} else if (self->watchers->len == 0) {
		g_clear_handle_id(&self->keepalive_id, g_source_remove);
	}
}

/**
 * usbpass_api_events_new:
 *
 * Returns: (transfer full): an empty set of watchers with the default limits
 */
UsbpassApiEvents *
usbpass_api_events_new(void)
{
	return g_object_new(USBPASS_TYPE_API_EVENTS, NULL);
}

/**
 * usbpass_api_events_set_limits:
 * @self: the watchers
 * @max_watchers: how many may watch at once
 * @max_queue: how many events one watcher may fall behind before it is dropped
 */
void
usbpass_api_events_set_limits(UsbpassApiEvents *self, guint max_watchers, guint max_queue)
{
	g_return_if_fail(USBPASS_IS_API_EVENTS(self));
	self->max_watchers = max_watchers;
	self->max_queue = MAX(max_queue, 1);
}

/**
 * usbpass_api_events_set_keepalive:
 * @self: the watchers
 * @seconds: the interval of keep-alive comments; 0 for none
 */
void
usbpass_api_events_set_keepalive(UsbpassApiEvents *self, guint seconds)
{
	g_return_if_fail(USBPASS_IS_API_EVENTS(self));
	self->keepalive_seconds = seconds;
	g_clear_handle_id(&self->keepalive_id, g_source_remove);
	usbpass_api_events_update_keepalive(self);
}

/**
 * usbpass_api_events_add_watcher:
 * @self: the watchers
 * @msg: a GET /v1/events request, authorised, not yet answered
 * @error: (nullable): #USBPASS_ERROR_BUSY when the limit of watchers is reached
 *
 * Answers @msg with 200 and the start of an event stream and keeps it open.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_events_add_watcher(UsbpassApiEvents *self, SoupServerMessage *msg, GError **error)
{
	UsbpassApiWatcher *watcher;
	SoupMessageHeaders *headers;
	SoupMessageBody *body;
	static const gchar hello[] = ": usbpass events\n\n";

	g_return_val_if_fail(USBPASS_IS_API_EVENTS(self), FALSE);
	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), FALSE);

	if (self->watchers->len >= self->max_watchers) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "too many event watchers (%u); try again later",
		            self->max_watchers);
		return FALSE;
	}

	headers = soup_server_message_get_response_headers(msg);
	soup_message_headers_set_content_type(headers, "text/event-stream", NULL);
	soup_message_headers_replace(headers, "Cache-Control", "no-cache");
	soup_message_headers_set_encoding(headers, SOUP_ENCODING_CHUNKED);
	body = soup_server_message_get_response_body(msg);
	soup_message_body_set_accumulate(body, FALSE);
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	/* the first chunk tells the client the stream is open: no event is
	 * missed from then on */
	soup_message_body_append(body, SOUP_MEMORY_STATIC, hello, strlen(hello));

	watcher = g_new0(UsbpassApiWatcher, 1);
	watcher->events = self;
	watcher->msg = g_object_ref(msg);
	watcher->pending = 1;
	watcher->wrote_chunk_id = g_signal_connect(
	  msg, "wrote-chunk", G_CALLBACK(usbpass_api_events_watcher_wrote_chunk_cb), watcher);
	watcher->finished_id = g_signal_connect(
	  msg, "finished", G_CALLBACK(usbpass_api_events_watcher_gone_cb), watcher);
	watcher->disconnected_id = g_signal_connect(
	  msg, "disconnected", G_CALLBACK(usbpass_api_events_watcher_gone_cb), watcher);
	if (usbpass_api_listener_get_message_socket(msg) != NULL) {
		watcher->hangup_source = g_socket_create_source(
		  usbpass_api_listener_get_message_socket(msg), G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
		g_source_set_callback(watcher->hangup_source,
		                      G_SOURCE_FUNC(usbpass_api_events_watcher_hangup_cb),
		                      watcher,
		                      NULL);
		g_source_attach(watcher->hangup_source, NULL);
	}
	g_ptr_array_add(self->watchers, watcher);
	usbpass_api_events_update_keepalive(self);
	return TRUE;
}

/**
 * usbpass_api_events_broadcast:
 * @self: the watchers
 * @event: the event name, a constant such as "inventory"
 * @data: one line of JSON
 *
 * Queues the event for every watcher; drops watchers too far behind.
 */
void
usbpass_api_events_broadcast(UsbpassApiEvents *self, const gchar *event, GBytes *data)
{
	g_autoptr(GString) text = NULL;
	g_autoptr(GBytes) chunk = NULL;
	g_autoptr(GPtrArray) watchers = NULL;

	g_return_if_fail(USBPASS_IS_API_EVENTS(self));
	g_return_if_fail(event != NULL);
	g_return_if_fail(data != NULL);

	if (self->watchers->len == 0)
		return;
	text = g_string_sized_new(g_bytes_get_size(data) + 32);
	g_string_append_printf(text, "event: %s\ndata: ", event);
	g_string_append_len(text, g_bytes_get_data(data, NULL), (gssize)g_bytes_get_size(data));
	g_string_append(text, "\n\n");
	chunk = g_string_free_to_bytes(g_steal_pointer(&text));

	watchers = usbpass_api_events_snapshot(self);
	for (guint i = 0; i < watchers->len; i++)
		usbpass_api_events_watcher_send(self, g_ptr_array_index(watchers, i), chunk);
}

/**
 * usbpass_api_events_get_watcher_count:
 * @self: the watchers
 *
 * Returns: the number of open event streams
 */
guint
usbpass_api_events_get_watcher_count(UsbpassApiEvents *self)
{
	g_return_val_if_fail(USBPASS_IS_API_EVENTS(self), 0);
	return self->watchers->len;
}

/**
 * usbpass_api_events_get_dropped_count:
 * @self: the watchers
 *
 * Returns: how many watchers were dropped for falling behind
 */
guint64
usbpass_api_events_get_dropped_count(UsbpassApiEvents *self)
{
	g_return_val_if_fail(USBPASS_IS_API_EVENTS(self), 0);
	return self->dropped;
}

/**
 * usbpass_api_events_get_keepalive_armed:
 * @self: the watchers
 *
 * Returns: whether the keep-alive timer is running; it runs only while
 * somebody watches
 */
gboolean
usbpass_api_events_get_keepalive_armed(UsbpassApiEvents *self)
{
	g_return_val_if_fail(USBPASS_IS_API_EVENTS(self), FALSE);
	return self->keepalive_id != 0;
}

/**
 * usbpass_api_events_close_all:
 * @self: the watchers
 *
 * Ends every event stream cleanly (at shutdown) and forgets the watchers.
 */
void
usbpass_api_events_close_all(UsbpassApiEvents *self)
{
	g_return_if_fail(USBPASS_IS_API_EVENTS(self));

	while (self->watchers->len > 0) {
		UsbpassApiWatcher *watcher = g_ptr_array_steal_index_fast(self->watchers, 0);
		if (!watcher->closed) {
			watcher->closed = TRUE;
			soup_message_body_complete(
			  soup_server_message_get_response_body(watcher->msg));
			soup_server_message_unpause(watcher->msg);
		}
		usbpass_api_watcher_free(watcher);
	}
	g_clear_handle_id(&self->keepalive_id, g_source_remove);
}

static void
usbpass_api_events_finalize(GObject *object)
{
	UsbpassApiEvents *self = USBPASS_API_EVENTS(object);
	usbpass_api_events_close_all(self);
	g_ptr_array_unref(self->watchers);
	g_bytes_unref(self->keepalive_chunk);
	G_OBJECT_CLASS(usbpass_api_events_parent_class)->finalize(object);
}

static void
usbpass_api_events_init(UsbpassApiEvents *self)
{
	static const gchar keepalive[] = ": keep-alive\n\n";
	self->watchers = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_api_watcher_free);
	self->max_watchers = USBPASS_API_EVENTS_MAX_WATCHERS_DEFAULT;
	self->max_queue = USBPASS_API_EVENTS_MAX_QUEUE_DEFAULT;
	self->keepalive_seconds = USBPASS_API_EVENTS_KEEPALIVE_SECONDS_DEFAULT;
	self->keepalive_chunk = g_bytes_new_static(keepalive, strlen(keepalive));
}

static void
usbpass_api_events_class_init(UsbpassApiEventsClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_api_events_finalize;
}

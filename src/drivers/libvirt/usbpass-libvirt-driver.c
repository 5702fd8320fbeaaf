/*
 * usbpass-libvirt-driver.c: UsbpassDriver over the libvirt C API
 */
#define G_LOG_DOMAIN "UsbpassLibvirt"

#include "config.h"

#include <gio/gio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-libvirt-driver.h"
#include "usbpass-libvirt-event-loop.h"
#include "usbpass-libvirt-xml.h"
#include "usbpass-string.h"

#define RECONNECT_MIN_MS_DEFAULT 250
#define RECONNECT_MAX_MS_DEFAULT 30000
#define KEEPALIVE_INTERVAL_S     5
#define KEEPALIVE_COUNT          3

enum { CALLBACK_LIFECYCLE, CALLBACK_REBOOT, CALLBACK_DEVICE_REMOVED, CALLBACK_LAST };

/*
 * What libvirt's callbacks hold, one per connection: they run in the event
 * thread and only hand data to the main context, where the weak reference is
 * turned into the driver. The event thread never holds the driver, so the
 * driver is never finalised there (finalising stops that very thread).
 */
typedef struct {
	gint refcount;
	gint closed; /* atomic: libvirt reported the connection closed */
	GMainContext *context;
	GWeakRef driver;
} UsbpassLibvirtSink;

struct _UsbpassLibvirtDriver {
	GObject parent_instance;
	gchar *uri;
	GMainContext *context;
	GMutex mutex; /* protects everything below */
	virConnectPtr conn;
	UsbpassLibvirtSink *sink;
	gint callback_ids[CALLBACK_LAST];
	gboolean event_loop_held;
	gboolean opened; /* reconnects only after usbpass_driver_open() */
	gboolean disposed;
	gboolean connecting;
	GSource *reconnect_source;
	guint delay_ms;
	guint min_delay_ms;
	guint max_delay_ms;
};

static void
usbpass_libvirt_driver_iface_init(UsbpassDriverInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UsbpassLibvirtDriver,
			usbpass_libvirt_driver,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(USBPASS_TYPE_DRIVER,
					      usbpass_libvirt_driver_iface_init))

/* ---- errors ---------------------------------------------------------------------------- */

static UsbpassError
usbpass_libvirt_error_code(gint code)
{
	switch (code) {
	case VIR_ERR_NO_DOMAIN:
		return USBPASS_ERROR_NOT_FOUND;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return USBPASS_ERROR_NOT_SUPPORTED;
	case VIR_ERR_INVALID_ARG:
		return USBPASS_ERROR_INVALID_DATA;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
	case VIR_ERR_AUTH_UNAVAILABLE:
	case VIR_ERR_ACCESS_DENIED:
		return USBPASS_ERROR_PERMISSION_DENIED;
	case VIR_ERR_OPERATION_TIMEOUT:
		return USBPASS_ERROR_TIMED_OUT;
	default:
		return USBPASS_ERROR_DRIVER;
	}
}

/* turns libvirt's thread-local last error into @error, prefixed with what we did */
static void
usbpass_libvirt_set_error(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static void
usbpass_libvirt_set_error(GError **error, const gchar *format, ...)
{
	virErrorPtr last = virGetLastError();
	g_autofree gchar *what = NULL;
	g_autofree gchar *reason = NULL;
	va_list args;

	va_start(args, format);
	what = g_strdup_vprintf(format, args);
	va_end(args);
	reason = usbpass_string_sanitize(last != NULL ? last->message : NULL, -1, 1024);
	g_set_error(error,
		    USBPASS_ERROR,
		    last != NULL ? usbpass_libvirt_error_code(last->code) : USBPASS_ERROR_DRIVER,
		    "%s: %s",
		    what,
		    reason != NULL ? reason : "unknown libvirt error");
	virResetLastError();
}

static gboolean
usbpass_libvirt_last_error_is(gint code)
{
	virErrorPtr last = virGetLastError();
	return last != NULL && last->code == code;
}

static void
usbpass_libvirt_silent_error_func(void *user_data, virErrorPtr error)
{
	/* errors are returned as GErrors; libvirt's default prints them to stderr */
}

/* ---- the sink: from libvirt's event thread to the main context --------------------------- */

static UsbpassLibvirtSink *
usbpass_libvirt_sink_new(UsbpassLibvirtDriver *driver)
{
	UsbpassLibvirtSink *sink = g_new0(UsbpassLibvirtSink, 1);
	sink->refcount = 1;
	sink->context = g_main_context_ref(driver->context);
	g_weak_ref_init(&sink->driver, driver);
	return sink;
}

static UsbpassLibvirtSink *
usbpass_libvirt_sink_ref(UsbpassLibvirtSink *sink)
{
	g_atomic_int_inc(&sink->refcount);
	return sink;
}

static void
usbpass_libvirt_sink_unref(void *opaque)
{
	UsbpassLibvirtSink *sink = opaque;
	if (sink == NULL || !g_atomic_int_dec_and_test(&sink->refcount))
		return;
	g_weak_ref_clear(&sink->driver);
	g_main_context_unref(sink->context);
	g_free(sink);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassLibvirtSink, usbpass_libvirt_sink_unref)

typedef struct {
	UsbpassLibvirtSink *sink;
	gchar *uuid; /* NULL: the connection closed */
	UsbpassInstanceEventKind kind;
} UsbpassLibvirtDelivery;

static void
usbpass_libvirt_delivery_free(gpointer data)
{
	UsbpassLibvirtDelivery *delivery = data;
	usbpass_libvirt_sink_unref(delivery->sink);
	g_free(delivery->uuid);
	g_free(delivery);
}

static void
usbpass_libvirt_driver_connection_closed(UsbpassLibvirtDriver *self, UsbpassLibvirtSink *sink);

static gboolean
usbpass_libvirt_delivery_cb(gpointer data)
{
	UsbpassLibvirtDelivery *delivery = data;
	g_autoptr(UsbpassLibvirtDriver) self = g_weak_ref_get(&delivery->sink->driver);

	if (self == NULL)
		return G_SOURCE_REMOVE;
	if (delivery->uuid == NULL)
		usbpass_libvirt_driver_connection_closed(self, delivery->sink);
	else
		usbpass_driver_emit_instance_event(
		  USBPASS_DRIVER(self), delivery->uuid, delivery->kind);
	return G_SOURCE_REMOVE;
}

static void
usbpass_libvirt_sink_deliver(UsbpassLibvirtSink *sink,
			     const gchar *uuid,
			     UsbpassInstanceEventKind kind)
{
	UsbpassLibvirtDelivery *delivery = g_new0(UsbpassLibvirtDelivery, 1);
	g_autoptr(GSource) source = g_idle_source_new();

	delivery->sink = usbpass_libvirt_sink_ref(sink);
	delivery->uuid = g_strdup(uuid);
	delivery->kind = kind;
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(
	  source, usbpass_libvirt_delivery_cb, delivery, usbpass_libvirt_delivery_free);
	g_source_set_static_name(source, "[usbpass] libvirt event");
	g_source_attach(source, sink->context);
}

static void
usbpass_libvirt_deliver_domain(void *opaque, virDomainPtr domain, UsbpassInstanceEventKind kind)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
	if (virDomainGetUUIDString(domain, uuid) < 0) {
		virResetLastError();
		return;
	}
	usbpass_libvirt_sink_deliver(opaque, uuid, kind);
}

static UsbpassInstanceEventKind
usbpass_libvirt_lifecycle_kind(gint event, gint detail)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		return USBPASS_INSTANCE_EVENT_DEFINED;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		return USBPASS_INSTANCE_EVENT_UNDEFINED;
	case VIR_DOMAIN_EVENT_STARTED:
		return USBPASS_INSTANCE_EVENT_STARTED;
	case VIR_DOMAIN_EVENT_SUSPENDED:
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		return USBPASS_INSTANCE_EVENT_SUSPENDED;
	case VIR_DOMAIN_EVENT_RESUMED:
		return USBPASS_INSTANCE_EVENT_RESUMED;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
			return USBPASS_INSTANCE_EVENT_MIGRATED;
		return USBPASS_INSTANCE_EVENT_STOPPED;
	default:
		/* SHUTDOWN is followed by STOPPED; a CRASHED guest is still defined */
		return USBPASS_INSTANCE_EVENT_LAST;
	}
}

static int
usbpass_libvirt_lifecycle_cb(virConnectPtr conn,
			     virDomainPtr domain,
			     int event,
			     int detail,
			     void *opaque)
{
	UsbpassInstanceEventKind kind = usbpass_libvirt_lifecycle_kind(event, detail);
	if (kind != USBPASS_INSTANCE_EVENT_LAST)
		usbpass_libvirt_deliver_domain(opaque, domain, kind);
	return 0;
}

static void
usbpass_libvirt_reboot_cb(virConnectPtr conn, virDomainPtr domain, void *opaque)
{
	usbpass_libvirt_deliver_domain(opaque, domain, USBPASS_INSTANCE_EVENT_REBOOTED);
}

static void
usbpass_libvirt_device_removed_cb(virConnectPtr conn,
				  virDomainPtr domain,
				  const char *alias,
				  void *opaque)
{
	usbpass_libvirt_deliver_domain(opaque, domain, USBPASS_INSTANCE_EVENT_DEVICE_REMOVED);
}

static void
usbpass_libvirt_close_cb(virConnectPtr conn, int reason, void *opaque)
{
	UsbpassLibvirtSink *sink = opaque;
	g_atomic_int_set(&sink->closed, 1);
	usbpass_libvirt_sink_deliver(sink, NULL, USBPASS_INSTANCE_EVENT_LAST);
}

/* ---- connections ------------------------------------------------------------------------ */

typedef struct {
	virConnectPtr conn;
	UsbpassLibvirtSink *sink;
	gint callback_ids[CALLBACK_LAST];
} UsbpassLibvirtConnection;

static void
usbpass_libvirt_connection_close(UsbpassLibvirtConnection *connection)
{
	if (connection->conn != NULL) {
		for (guint i = 0; i < CALLBACK_LAST; i++) {
			/* removed locally even when the daemon is gone; libvirt then
			 * calls the free function, dropping the sink */
			if (connection->callback_ids[i] >= 0)
				virConnectDomainEventDeregisterAny(connection->conn,
								   connection->callback_ids[i]);
			connection->callback_ids[i] = -1;
		}
		virConnectUnregisterCloseCallback(connection->conn, usbpass_libvirt_close_cb);
		virConnectClose(connection->conn);
		virResetLastError();
		connection->conn = NULL;
	}
	g_clear_pointer(&connection->sink, usbpass_libvirt_sink_unref);
}

static void
usbpass_libvirt_connection_free(UsbpassLibvirtConnection *connection)
{
	if (connection == NULL)
		return;
	usbpass_libvirt_connection_close(connection);
	g_free(connection);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassLibvirtConnection, usbpass_libvirt_connection_free)

/* blocking; any thread; takes a reference on @sink */
static UsbpassLibvirtConnection *
usbpass_libvirt_connection_open(const gchar *uri, UsbpassLibvirtSink *sink, GError **error)
{
	g_autoptr(UsbpassLibvirtConnection) connection = g_new0(UsbpassLibvirtConnection, 1);
	const struct {
		gint id;
		virConnectDomainEventGenericCallback cb;
	} callbacks[CALLBACK_LAST] = {
		[CALLBACK_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					 VIR_DOMAIN_EVENT_CALLBACK(usbpass_libvirt_lifecycle_cb) },
		[CALLBACK_REBOOT] = { VIR_DOMAIN_EVENT_ID_REBOOT,
				      VIR_DOMAIN_EVENT_CALLBACK(usbpass_libvirt_reboot_cb) },
		[CALLBACK_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
					      VIR_DOMAIN_EVENT_CALLBACK(
						usbpass_libvirt_device_removed_cb) },
	};

	for (guint i = 0; i < CALLBACK_LAST; i++)
		connection->callback_ids[i] = -1;
	connection->sink = usbpass_libvirt_sink_ref(sink);
	connection->conn = virConnectOpen(uri);
	if (connection->conn == NULL) {
		usbpass_libvirt_set_error(error, "cannot connect to libvirt at '%s'", uri);
		return NULL;
	}
	/* a hung daemon is noticed too, not only a dead socket */
	if (virConnectSetKeepAlive(connection->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0) {
		g_debug("no keepalive on '%s': %s, ignoring", uri, virGetLastErrorMessage());
		virResetLastError();
	}
	/* no reference for libvirt here: drivers without close callbacks (test:///)
	 * accept the registration and never call the free function; the
	 * connection's own reference outlives virConnectUnregisterCloseCallback() */
	if (virConnectRegisterCloseCallback(
	      connection->conn, usbpass_libvirt_close_cb, connection->sink, NULL) < 0) {
		usbpass_libvirt_set_error(error, "cannot watch the connection to '%s'", uri);
		return NULL;
	}
	for (guint i = 0; i < CALLBACK_LAST; i++) {
		connection->callback_ids[i] =
		  virConnectDomainEventRegisterAny(connection->conn,
						   NULL,
						   callbacks[i].id,
						   callbacks[i].cb,
						   usbpass_libvirt_sink_ref(connection->sink),
						   usbpass_libvirt_sink_unref);
		if (connection->callback_ids[i] < 0) {
			usbpass_libvirt_set_error(
			  error, "cannot register for domain events at '%s'", uri);
			/* libvirt did not take the reference given for it */
			usbpass_libvirt_sink_unref(connection->sink);
			return NULL;
		}
	}
	return g_steal_pointer(&connection);
}

static void
usbpass_libvirt_driver_schedule_reconnect_locked(UsbpassLibvirtDriver *self);

typedef enum {
	USBPASS_LIBVIRT_INSTALL_DONE,      /* it is the driver's connection now */
	USBPASS_LIBVIRT_INSTALL_DUPLICATE, /* another came first and is kept */
	USBPASS_LIBVIRT_INSTALL_DEAD,      /* it died before it could be used */
} UsbpassLibvirtInstall;

/* takes @connection */
static UsbpassLibvirtInstall
usbpass_libvirt_driver_install(UsbpassLibvirtDriver *self, UsbpassLibvirtConnection *connection)
{
	/* declared first, so released after the lock: closing talks to the daemon */
	g_autoptr(UsbpassLibvirtConnection) owned = connection;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);

	/* connections are opened outside the lock, so two may finish together:
	 * open() from two threads, or open() and a reconnect that another
	 * thread's failed open() scheduled. The first one stays: callers may
	 * already hold it and its events flow; the later one is closed */
	if (self->conn != NULL)
		return USBPASS_LIBVIRT_INSTALL_DUPLICATE;
	/* the close callback may have fired before anyone listened for it */
	if (g_atomic_int_get(&owned->sink->closed) || virConnectIsAlive(owned->conn) != 1) {
		virResetLastError();
		return USBPASS_LIBVIRT_INSTALL_DEAD;
	}
	self->conn = g_steal_pointer(&owned->conn);
	self->sink = g_steal_pointer(&owned->sink);
	memcpy(self->callback_ids, owned->callback_ids, sizeof(self->callback_ids));
	self->delay_ms = self->min_delay_ms;
	return USBPASS_LIBVIRT_INSTALL_DONE;
}

/* takes the current connection away, if it is still the one of @sink */
static gboolean
usbpass_libvirt_driver_uninstall(UsbpassLibvirtDriver *self, UsbpassLibvirtSink *sink)
{
	g_autoptr(UsbpassLibvirtConnection) connection = g_new0(UsbpassLibvirtConnection, 1);

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		if (self->conn == NULL || (sink != NULL && self->sink != sink))
			return FALSE;
		connection->conn = g_steal_pointer(&self->conn);
		connection->sink = g_steal_pointer(&self->sink);
		memcpy(connection->callback_ids, self->callback_ids, sizeof(self->callback_ids));
		for (guint i = 0; i < CALLBACK_LAST; i++)
			self->callback_ids[i] = -1;
	}
	/* closed outside the lock: deregistering talks to the daemon */
	usbpass_libvirt_connection_close(connection);
	return TRUE;
}

/* what a reconnect attempt needs, without a reference on the driver: a
 * driver dropped meanwhile is simply not there when the attempt ends */
typedef struct {
	gchar *uri;
	UsbpassLibvirtSink *sink;
} UsbpassLibvirtAttempt;

static void
usbpass_libvirt_attempt_free(UsbpassLibvirtAttempt *attempt)
{
	g_free(attempt->uri);
	usbpass_libvirt_sink_unref(attempt->sink);
	g_free(attempt);
}

static void
usbpass_libvirt_reconnect_thread(GTask *task,
				 gpointer source_object,
				 gpointer task_data,
				 GCancellable *cancellable)
{
	UsbpassLibvirtAttempt *attempt = task_data;
	GError *error = NULL;
	UsbpassLibvirtConnection *connection =
	  usbpass_libvirt_connection_open(attempt->uri, attempt->sink, &error);

	if (connection == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, connection, (GDestroyNotify)usbpass_libvirt_connection_free);
}

static void
usbpass_libvirt_reconnect_done_cb(GObject *source_object, GAsyncResult *res, gpointer user_data)
{
	UsbpassLibvirtAttempt *attempt = g_task_get_task_data(G_TASK(res));
	g_autoptr(UsbpassLibvirtDriver) self = g_weak_ref_get(&attempt->sink->driver);
	g_autoptr(GError) error = NULL;
	UsbpassLibvirtConnection *connection = g_task_propagate_pointer(G_TASK(res), &error);
	UsbpassLibvirtInstall install = USBPASS_LIBVIRT_INSTALL_DEAD;

	if (self == NULL) {
		usbpass_libvirt_connection_free(connection);
		return;
	}
	g_mutex_lock(&self->mutex);
	self->connecting = FALSE;
	g_mutex_unlock(&self->mutex);
	if (connection != NULL)
		install = usbpass_libvirt_driver_install(self, connection);
	if (install == USBPASS_LIBVIRT_INSTALL_DONE) {
		g_debug("reconnected to '%s'", self->uri);
		usbpass_driver_emit_connection_changed(USBPASS_DRIVER(self), TRUE);
		return;
	}
	/* open() connected meanwhile, and emits nothing: neither does this */
	if (install == USBPASS_LIBVIRT_INSTALL_DUPLICATE) {
		g_debug("connected to '%s' meanwhile, closed the reconnect's connection", self->uri);
		return;
	}
	g_debug("reconnecting to '%s' failed: %s",
		self->uri,
		error != NULL ? error->message : "closed at once");
	g_mutex_lock(&self->mutex);
	self->delay_ms = MIN(self->delay_ms * 2, self->max_delay_ms);
	usbpass_libvirt_driver_schedule_reconnect_locked(self);
	g_mutex_unlock(&self->mutex);
}

static gboolean
usbpass_libvirt_driver_reconnect_cb(gpointer user_data)
{
	UsbpassLibvirtDriver *self = user_data;
	UsbpassLibvirtAttempt *attempt = g_new0(UsbpassLibvirtAttempt, 1);
	g_autoptr(GTask) task = NULL;

	g_mutex_lock(&self->mutex);
	g_clear_pointer(&self->reconnect_source, g_source_unref);
	self->connecting = TRUE;
	g_mutex_unlock(&self->mutex);

	/* virConnectOpen() blocks, for as long as libvirtd takes to start; the
	 * completion comes back to the driver's context */
	attempt->uri = g_strdup(self->uri);
	attempt->sink = usbpass_libvirt_sink_new(self);
	g_main_context_push_thread_default(self->context);
	task = g_task_new(NULL, NULL, usbpass_libvirt_reconnect_done_cb, NULL);
	g_main_context_pop_thread_default(self->context);
	g_task_set_source_tag(task, usbpass_libvirt_driver_reconnect_cb);
	g_task_set_task_data(task, attempt, (GDestroyNotify)usbpass_libvirt_attempt_free);
	g_task_run_in_thread(task, usbpass_libvirt_reconnect_thread);
	return G_SOURCE_REMOVE;
}

static void
usbpass_libvirt_driver_schedule_reconnect_locked(UsbpassLibvirtDriver *self)
{
	if (self->disposed || !self->opened || self->conn != NULL || self->connecting ||
	    self->reconnect_source != NULL)
		return;
	self->reconnect_source = g_timeout_source_new(self->delay_ms);
	/* no reference: dispose destroys the source */
	g_source_set_callback(
	  self->reconnect_source, usbpass_libvirt_driver_reconnect_cb, self, NULL);
	g_source_set_static_name(self->reconnect_source, "[usbpass] libvirt reconnect");
	g_source_attach(self->reconnect_source, self->context);
}

/* main context: libvirt said the connection of @sink closed */
static void
usbpass_libvirt_driver_connection_closed(UsbpassLibvirtDriver *self, UsbpassLibvirtSink *sink)
{
	if (!usbpass_libvirt_driver_uninstall(self, sink))
		return;
	g_debug("lost the connection to '%s'", self->uri);
	usbpass_driver_emit_connection_changed(USBPASS_DRIVER(self), FALSE);
	g_mutex_lock(&self->mutex);
	usbpass_libvirt_driver_schedule_reconnect_locked(self);
	g_mutex_unlock(&self->mutex);
}

/* a reference on the current connection for one call */
static virConnectPtr
usbpass_libvirt_driver_get_conn(UsbpassLibvirtDriver *self, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	if (self->conn == NULL) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "not connected to libvirt at '%s'",
			    self->uri);
		return NULL;
	}
	virConnectRef(self->conn);
	return self->conn;
}

/* ---- domains ---------------------------------------------------------------------------- */

static virDomainPtr
usbpass_libvirt_lookup_domain(virConnectPtr conn, const gchar *uuid_or_name, GError **error)
{
	virDomainPtr domain = NULL;

	if (g_uuid_string_is_valid(uuid_or_name)) {
		domain = virDomainLookupByUUIDString(conn, uuid_or_name);
		if (domain != NULL)
			return domain;
		if (!usbpass_libvirt_last_error_is(VIR_ERR_NO_DOMAIN)) {
			usbpass_libvirt_set_error(
			  error, "cannot look instance '%s' up", uuid_or_name);
			return NULL;
		}
		virResetLastError();
	}
	domain = virDomainLookupByName(conn, uuid_or_name);
	if (domain == NULL) {
		usbpass_libvirt_set_error(error, "instance '%s' not found", uuid_or_name);
		return NULL;
	}
	return domain;
}

static gchar *
usbpass_libvirt_domain_name(virDomainPtr domain)
{
	g_autofree gchar *name =
	  usbpass_string_sanitize(virDomainGetName(domain), -1, USBPASS_STRING_MAX_BYTES);
	return name != NULL ? g_steal_pointer(&name) : g_strdup("?");
}

/* libvirt's state as ours; a shut-off domain's managed-save image is the caller's to check */
static UsbpassInstanceState
usbpass_libvirt_instance_state(gint vir_state)
{
	switch (vir_state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
	case VIR_DOMAIN_SHUTDOWN: /* still running while the guest shuts down */
		return USBPASS_INSTANCE_STATE_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return USBPASS_INSTANCE_STATE_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
		return USBPASS_INSTANCE_STATE_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return USBPASS_INSTANCE_STATE_CRASHED;
	default:
		return USBPASS_INSTANCE_STATE_UNKNOWN;
	}
}

/* whether the domain was running when libvirt handed out @domain: the remote
 * driver sends the id with every domain it returns, so this costs no call */
static gboolean
usbpass_libvirt_domain_was_active(virDomainPtr domain)
{
	return virDomainGetID(domain) != (guint)-1;
}

static UsbpassInstance *
usbpass_libvirt_instance_new(virDomainPtr domain, GError **error)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
	g_autofree gchar *name = usbpass_libvirt_domain_name(domain);
	UsbpassInstanceState state;
	gint vir_state = 0;
	gint reason = 0;
	gint persistent = 1;
	gint saved = 0;

	/* local: the UUID came with the domain */
	if (virDomainGetUUIDString(domain, uuid) < 0) {
		usbpass_libvirt_set_error(error, "cannot read the state of instance '%s'", name);
		return NULL;
	}
	/* a domain that is not running exists only through its persistent
	 * definition: one call for the image instead of three */
	if (!usbpass_libvirt_domain_was_active(domain)) {
		vir_state = VIR_DOMAIN_SHUTOFF;
	} else {
		persistent = virDomainIsPersistent(domain);
		if (persistent < 0 || virDomainGetState(domain, &vir_state, &reason, 0) < 0) {
			usbpass_libvirt_set_error(
			  error, "cannot read the state of instance '%s'", name);
			return NULL;
		}
	}
	state = usbpass_libvirt_instance_state(vir_state);
	if (state == USBPASS_INSTANCE_STATE_SHUTOFF && persistent == 1) {
		saved = virDomainHasManagedSaveImage(domain, 0);
		if (saved < 0) {
			usbpass_libvirt_set_error(
			  error, "cannot read the state of instance '%s'", name);
			return NULL;
		}
		if (saved > 0)
			state = USBPASS_INSTANCE_STATE_SAVED;
	}
	return usbpass_instance_new_full(uuid, name, state, persistent == 1);
}

/* what attach and detach must touch */
typedef struct {
	gboolean active;
	gboolean persistent;
	gboolean saved;
} UsbpassLibvirtScope;

static gboolean
usbpass_libvirt_domain_scope(virDomainPtr domain,
			     const gchar *name,
			     UsbpassLibvirtScope *scope,
			     GError **error)
{
	gboolean active = usbpass_libvirt_domain_was_active(domain);
	gint persistent = 1;
	gint saved = 0;

	/* one call either way: a running domain may be transient, a shut-off one
	 * is persistent and may have an image */
	if (active)
		persistent = virDomainIsPersistent(domain);
	else
		saved = virDomainHasManagedSaveImage(domain, 0);
	if (persistent < 0 || saved < 0) {
		usbpass_libvirt_set_error(error, "cannot read the state of instance '%s'", name);
		return FALSE;
	}
	scope->active = active;
	scope->persistent = persistent == 1;
	scope->saved = saved > 0;
	return TRUE;
}

static gchar *
usbpass_libvirt_domain_xml(virDomainPtr domain, const gchar *name, guint flags, GError **error)
{
	g_autofree gchar *owned = NULL;
	gchar *xml = virDomainGetXMLDesc(domain, flags);

	if (xml == NULL) {
		usbpass_libvirt_set_error(
		  error, "cannot read the definition of instance '%s'", name);
		return NULL;
	}
	/* libvirt allocates with malloc() */
	owned = g_strdup(xml);
	free(xml);
	return g_steal_pointer(&owned);
}

static gchar *
usbpass_libvirt_saved_xml(virDomainPtr domain, const gchar *name, GError **error)
{
	g_autofree gchar *owned = NULL;
	gchar *xml = virDomainManagedSaveGetXMLDesc(domain, VIR_DOMAIN_SAVE_IMAGE_XML_SECURE);

	if (xml == NULL) {
		usbpass_libvirt_set_error(
		  error, "cannot read the managed-save image of instance '%s'", name);
		return NULL;
	}
	owned = g_strdup(xml);
	free(xml);
	return g_steal_pointer(&owned);
}

static gboolean
usbpass_libvirt_define_saved(virDomainPtr domain,
			     const gchar *name,
			     const gchar *xml,
			     const gchar *verb,
			     GError **error)
{
	if (virDomainManagedSaveDefineXML(domain, xml, 0) == 0)
		return TRUE;
	usbpass_libvirt_set_error(
	  error,
	  "instance '%s' has a managed-save image whose definition libvirt will not "
	  "let usbpass %s the USB device in; start the instance or remove the image first",
	  name,
	  verb);
	/* whatever libvirt's code was, the caller can act on this one */
	if (error != NULL && *error != NULL)
		(*error)->code = USBPASS_ERROR_NOT_SUPPORTED;
	return FALSE;
}

/* after a later step failed: puts back the managed-save image as it was
 * before usbpass_libvirt_define_saved() changed it; @saved_xml NULL when it
 * did not. @error already says what failed */
static void
usbpass_libvirt_restore_saved(virDomainPtr domain, const gchar *saved_xml, GError **error)
{
	if (saved_xml == NULL || virDomainManagedSaveDefineXML(domain, saved_xml, 0) == 0)
		return;
	g_prefix_error(
	  error, "restoring the managed-save image failed too (%s); ", virGetLastErrorMessage());
	virResetLastError();
}

/* the USB hostdevs of a domain, merged: the live definition when it runs, the
 * persistent one when it has one; one XML fetch per definition */
static GPtrArray *
usbpass_libvirt_domain_hostdevs(virDomainPtr domain,
				const gchar *name,
				gboolean active,
				gboolean persistent,
				GError **error)
{
	g_autoptr(GPtrArray) live = NULL;
	g_autoptr(GPtrArray) inactive = NULL;

	if (active) {
		g_autofree gchar *xml = usbpass_libvirt_domain_xml(domain, name, 0, error);
		if (xml == NULL)
			return NULL;
		live = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, error);
		if (live == NULL) {
			g_prefix_error(error, "live definition of instance '%s': ", name);
			return NULL;
		}
	}
	if (persistent) {
		g_autofree gchar *xml =
		  usbpass_libvirt_domain_xml(domain, name, VIR_DOMAIN_XML_INACTIVE, error);
		if (xml == NULL)
			return NULL;
		inactive = usbpass_libvirt_xml_parse_hostdevs(xml, FALSE, error);
		if (inactive == NULL) {
			g_prefix_error(error, "persistent definition of instance '%s': ", name);
			return NULL;
		}
	}
	return usbpass_driver_merge_hostdevs(live, inactive);
}

/* one domain of a listing and what the listing says about it */
typedef struct {
	virDomainPtr domain;
	UsbpassInstance *instance;
	gboolean active;
} UsbpassLibvirtListed;

static void
usbpass_libvirt_listed_free(UsbpassLibvirtListed *listed)
{
	if (listed == NULL)
		return;
	if (listed->domain != NULL)
		virDomainFree(listed->domain);
	if (listed->instance != NULL)
		usbpass_instance_unref(listed->instance);
	g_free(listed);
}

/* the UUIDs of the domains a filtered listing returns */
static GHashTable *
usbpass_libvirt_list_uuids(virConnectPtr conn, const gchar *uri, guint flags, GError **error)
{
	g_autoptr(GHashTable) uuids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	virDomainPtr *domains = NULL;
	gint n_domains = virConnectListAllDomains(conn, &domains, flags);

	if (n_domains < 0) {
		usbpass_libvirt_set_error(error, "cannot list the instances at '%s'", uri);
		return NULL;
	}
	for (gint i = 0; i < n_domains; i++) {
		gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
		if (virDomainGetUUIDString(domains[i], uuid) == 0)
			g_hash_table_add(uuids, g_ascii_strdown(uuid, -1));
		virDomainFree(domains[i]);
	}
	free(domains);
	return g_steal_pointer(&uuids);
}

/* fills in the instance of @listed; FALSE without error when the domain is gone */
static gboolean
usbpass_libvirt_listed_classify(UsbpassLibvirtListed *listed,
				GHashTable *running,
				GHashTable *paused,
				GHashTable *transient,
				GHashTable *saved,
				GError **error)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
	g_autofree gchar *name = usbpass_libvirt_domain_name(listed->domain);
	UsbpassInstanceState state = USBPASS_INSTANCE_STATE_SHUTOFF;
	gboolean persistent = TRUE;

	if (virDomainGetUUIDString(listed->domain, uuid) < 0) {
		usbpass_libvirt_set_error(error, "cannot read the state of instance '%s'", name);
		return FALSE;
	}
	if (listed->active) {
		persistent = !g_hash_table_contains(transient, uuid);
		if (g_hash_table_contains(running, uuid)) {
			state = USBPASS_INSTANCE_STATE_RUNNING;
		} else if (g_hash_table_contains(paused, uuid)) {
			state = USBPASS_INSTANCE_STATE_PAUSED;
		} else {
			/* crashed, shutting down, suspended to memory, or changed
			 * between the listings: asked on its own */
			gint vir_state = 0;
			gint reason = 0;
			if (virDomainGetState(listed->domain, &vir_state, &reason, 0) < 0) {
				/* a transient domain that stopped since the listing is just gone */
				if (usbpass_libvirt_last_error_is(VIR_ERR_NO_DOMAIN)) {
					virResetLastError();
					return FALSE;
				}
				usbpass_libvirt_set_error(
				  error, "cannot read the state of instance '%s'", name);
				return FALSE;
			}
			state = usbpass_libvirt_instance_state(vir_state);
			if (vir_state == VIR_DOMAIN_SHUTOFF) {
				if (!persistent)
					return FALSE;
				listed->active = FALSE;
			}
		}
	} else if (saved != NULL && g_hash_table_contains(saved, uuid)) {
		state = USBPASS_INSTANCE_STATE_SAVED;
	}
	listed->instance = usbpass_instance_new_full(uuid, name, state, persistent);
	return TRUE;
}

/*
 * Every domain with its state from a handful of listings whatever their number:
 * all domains (the listing carries names, UUIDs and ids, so whether each runs),
 * then, when some run, the running, the paused and the transient ones, and when
 * some do not, those with a managed-save image. Only a domain in none of the
 * state listings (crashed, shutting down, or changed meanwhile) costs a call of
 * its own. Returns: (element-type UsbpassLibvirtListed)
 */
static GPtrArray *
usbpass_libvirt_list_domains(virConnectPtr conn, const gchar *uri, GError **error)
{
	g_autoptr(GPtrArray) listed =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_libvirt_listed_free);
	g_autoptr(GPtrArray) classified =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_libvirt_listed_free);
	g_autoptr(GHashTable) running = NULL;
	g_autoptr(GHashTable) paused = NULL;
	g_autoptr(GHashTable) transient = NULL;
	g_autoptr(GHashTable) saved = NULL;
	virDomainPtr *domains = NULL;
	gint n_domains;
	guint n_active = 0;

	n_domains = virConnectListAllDomains(conn, &domains, 0);
	if (n_domains < 0) {
		usbpass_libvirt_set_error(error, "cannot list the instances at '%s'", uri);
		return NULL;
	}
	for (gint i = 0; i < n_domains; i++) {
		UsbpassLibvirtListed *item = g_new0(UsbpassLibvirtListed, 1);
		item->domain = domains[i];
		item->active = usbpass_libvirt_domain_was_active(item->domain);
		if (item->active)
			n_active++;
		g_ptr_array_add(listed, item);
	}
	free(domains);

	if (n_active > 0) {
		running = usbpass_libvirt_list_uuids(conn, uri, VIR_CONNECT_LIST_DOMAINS_RUNNING, error);
		if (running == NULL)
			return NULL;
		paused = usbpass_libvirt_list_uuids(conn, uri, VIR_CONNECT_LIST_DOMAINS_PAUSED, error);
		if (paused == NULL)
			return NULL;
		transient =
		  usbpass_libvirt_list_uuids(conn, uri, VIR_CONNECT_LIST_DOMAINS_TRANSIENT, error);
		if (transient == NULL)
			return NULL;
	}
	if (n_active < listed->len) {
		saved =
		  usbpass_libvirt_list_uuids(conn, uri, VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, error);
		if (saved == NULL)
			return NULL;
	}
	for (guint i = 0; i < listed->len; i++) {
		UsbpassLibvirtListed *item = g_ptr_array_index(listed, i);
		g_autoptr(GError) error_local = NULL;

		if (!usbpass_libvirt_listed_classify(
		      item, running, paused, transient, saved, &error_local)) {
			if (error_local != NULL) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return NULL;
			}
			continue;
		}
		g_ptr_array_add(classified, g_steal_pointer(&listed->pdata[i]));
	}
	return g_steal_pointer(&classified);
}

/* ---- the driver interface ---------------------------------------------------------------- */

static const gchar *
usbpass_libvirt_driver_get_name(UsbpassDriver *driver)
{
	return "libvirt";
}

static gboolean
usbpass_libvirt_driver_open(UsbpassDriver *driver, GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(UsbpassLibvirtConnection) connection = NULL;
	g_autoptr(UsbpassLibvirtSink) sink = NULL;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
		if (self->conn != NULL)
			return TRUE;
		if (!self->event_loop_held) {
			if (!usbpass_libvirt_event_loop_hold(error))
				return FALSE;
			self->event_loop_held = TRUE;
		}
		self->opened = TRUE;
		/* a reconnect in flight will bring the connection */
		if (self->connecting || self->reconnect_source != NULL) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_DRIVER,
				    "not connected to libvirt at '%s' yet, retrying",
				    self->uri);
			return FALSE;
		}
	}
	sink = usbpass_libvirt_sink_new(self);
	connection = usbpass_libvirt_connection_open(self->uri, sink, error);
	if (connection != NULL) {
		/* a duplicate is closed: the caller is connected either way */
		if (usbpass_libvirt_driver_install(self, g_steal_pointer(&connection)) !=
		    USBPASS_LIBVIRT_INSTALL_DEAD)
			return TRUE;
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_DRIVER,
			    "the connection to libvirt at '%s' closed at once",
			    self->uri);
	}
	g_mutex_lock(&self->mutex);
	usbpass_libvirt_driver_schedule_reconnect_locked(self);
	g_mutex_unlock(&self->mutex);
	return FALSE;
}

static gboolean
usbpass_libvirt_driver_is_connected(UsbpassDriver *driver)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	return self->conn != NULL;
}

static GPtrArray *
usbpass_libvirt_driver_list_instances(UsbpassDriver *driver, GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(GPtrArray) instances = NULL;

	if (conn == NULL)
		return NULL;
	listed = usbpass_libvirt_list_domains(conn, self->uri, error);
	if (listed == NULL)
		return NULL;
	instances = g_ptr_array_new_full(listed->len, (GDestroyNotify)usbpass_instance_unref);
	for (guint i = 0; i < listed->len; i++) {
		UsbpassLibvirtListed *item = g_ptr_array_index(listed, i);
		g_ptr_array_add(instances, g_steal_pointer(&item->instance));
	}
	return g_steal_pointer(&instances);
}

static UsbpassInstance *
usbpass_libvirt_driver_lookup_instance(UsbpassDriver *driver,
				       const gchar *uuid_or_name,
				       GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(virDomain) domain = NULL;

	if (conn == NULL)
		return NULL;
	domain = usbpass_libvirt_lookup_domain(conn, uuid_or_name, error);
	if (domain == NULL)
		return NULL;
	return usbpass_libvirt_instance_new(domain, error);
}

static GPtrArray *
usbpass_libvirt_driver_list_hostdevs(UsbpassDriver *driver, const gchar *uuid, GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *name = NULL;
	gboolean active;
	gint persistent = 1;

	if (conn == NULL)
		return NULL;
	domain = usbpass_libvirt_lookup_domain(conn, uuid, error);
	if (domain == NULL)
		return NULL;
	name = usbpass_libvirt_domain_name(domain);
	/* a shut-off domain is persistent: only a running one needs asking */
	active = usbpass_libvirt_domain_was_active(domain);
	if (active) {
		persistent = virDomainIsPersistent(domain);
		if (persistent < 0) {
			usbpass_libvirt_set_error(
			  error, "cannot read the state of instance '%s'", name);
			return NULL;
		}
	}
	return usbpass_libvirt_domain_hostdevs(domain, name, active, persistent == 1, error);
}

static GPtrArray *
usbpass_libvirt_driver_list_all_hostdevs(UsbpassDriver *driver, GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(GPtrArray) all = NULL;

	if (conn == NULL)
		return NULL;
	listed = usbpass_libvirt_list_domains(conn, self->uri, error);
	if (listed == NULL)
		return NULL;
	all = g_ptr_array_new_full(listed->len, (GDestroyNotify)usbpass_instance_hostdevs_free);
	for (guint i = 0; i < listed->len; i++) {
		UsbpassLibvirtListed *item = g_ptr_array_index(listed, i);
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GPtrArray) hostdevs =
		  usbpass_libvirt_domain_hostdevs(item->domain,
						  item->instance->name,
						  item->active,
						  item->instance->persistent,
						  &error_local);
		if (hostdevs == NULL) {
			/* undefined since the listing */
			if (g_error_matches(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND))
				continue;
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		g_ptr_array_add(all, usbpass_instance_hostdevs_new(item->instance, hostdevs));
	}
	return g_steal_pointer(&all);
}

/* libvirt accepts an optional device it cannot find and marks it missing;
 * after a live attach, such an entry means the host does not have the device */
static gboolean
usbpass_libvirt_attach_check_live(virDomainPtr domain,
				  const gchar *name,
				  const UsbpassHostdev *hostdev,
				  guint flags,
				  GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *xml = usbpass_libvirt_domain_xml(domain, name, 0, &error_local);
	g_autoptr(GPtrArray) live = NULL;
	g_autoptr(GPtrArray) elements = NULL;
	g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
	gboolean missing = FALSE;

	if (xml != NULL)
		live = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error_local);
	if (live == NULL) {
		/* the attach went through; whether the host has the device is unknown */
		g_debug("cannot check USB device %s in instance '%s': %s, ignoring",
			shown,
			name,
			error_local->message);
		return TRUE;
	}
	for (guint i = 0; i < live->len; i++) {
		UsbpassHostdev *entry = g_ptr_array_index(live, i);
		if (entry->missing && usbpass_hostdev_matches(entry, hostdev))
			missing = TRUE;
	}
	if (!missing)
		return TRUE;

	/* libvirt's error only after a libvirt call failed: the XML module's
	 * failures have their own, and the last libvirt error is stale */
	elements = usbpass_libvirt_xml_find_hostdevs(xml, hostdev, &error_local);
	if (elements == NULL) {
		g_propagate_prefixed_error(
		  error,
		  g_steal_pointer(&error_local),
		  "cannot attach USB device %s to instance '%s': Did not find USB device "
		  "%04x:%04x bus:%u device:%u, and finding its missing entry failed: ",
		  shown,
		  name,
		  hostdev->vendor_id,
		  hostdev->product_id,
		  hostdev->bus,
		  hostdev->device);
		return FALSE;
	}
	if (elements->len == 0) {
		/* the parser saw it in the same document: a bug, not libvirt's doing */
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INTERNAL,
			    "cannot attach USB device %s to instance '%s': Did not find USB device "
			    "%04x:%04x bus:%u device:%u, and its missing entry could not be found "
			    "to remove it",
			    shown,
			    name,
			    hostdev->vendor_id,
			    hostdev->product_id,
			    hostdev->bus,
			    hostdev->device);
		return FALSE;
	}
	if (virDomainDetachDeviceFlags(
	      domain, g_ptr_array_index(elements, elements->len - 1), flags) < 0) {
		usbpass_libvirt_set_error(
		  error,
		  "cannot attach USB device %s to instance '%s': Did not find USB "
		  "device %04x:%04x bus:%u device:%u, and removing its missing entry "
		  "failed",
		  shown,
		  name,
		  hostdev->vendor_id,
		  hostdev->product_id,
		  hostdev->bus,
		  hostdev->device);
		return FALSE;
	}
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_DRIVER,
		    "cannot attach USB device %s to instance '%s': Did not find USB device "
		    "%04x:%04x bus:%u device:%u",
		    shown,
		    name,
		    hostdev->vendor_id,
		    hostdev->product_id,
		    hostdev->bus,
		    hostdev->device);
	return FALSE;
}

static gboolean
usbpass_libvirt_driver_attach(UsbpassDriver *driver,
			      const gchar *uuid,
			      const UsbpassHostdev *hostdev,
			      GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *element = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
	g_autofree gchar *saved_xml = NULL;
	UsbpassLibvirtScope scope = { 0 };
	guint flags = 0;

	if (conn == NULL)
		return FALSE;
	element = usbpass_libvirt_xml_build_hostdev(hostdev, error);
	if (element == NULL)
		return FALSE;
	domain = usbpass_libvirt_lookup_domain(conn, uuid, error);
	if (domain == NULL)
		return FALSE;
	name = usbpass_libvirt_domain_name(domain);
	if (!usbpass_libvirt_domain_scope(domain, name, &scope, error))
		return FALSE;
	if (scope.active)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (scope.persistent)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;

	/* the saved image first: it is what libvirt most likely refuses */
	if (scope.saved) {
		g_autofree gchar *changed = NULL;
		saved_xml = usbpass_libvirt_saved_xml(domain, name, error);
		if (saved_xml == NULL)
			return FALSE;
		changed = usbpass_libvirt_xml_add_hostdev(saved_xml, hostdev, error);
		if (changed == NULL)
			return FALSE;
		if (!usbpass_libvirt_define_saved(domain, name, changed, "add", error))
			return FALSE;
	}
	if (virDomainAttachDeviceFlags(domain, element, flags) < 0) {
		usbpass_libvirt_set_error(
		  error, "cannot attach USB device %s to instance '%s'", shown, name);
		usbpass_libvirt_restore_saved(domain, saved_xml, error);
		return FALSE;
	}
	if (scope.active)
		return usbpass_libvirt_attach_check_live(domain, name, hostdev, flags, error);
	return TRUE;
}

static gboolean
usbpass_libvirt_detach_elements(virDomainPtr domain,
				const gchar *name,
				const gchar *shown,
				GPtrArray *elements,
				guint flags,
				GError **error)
{
	for (guint i = 0; elements != NULL && i < elements->len; i++) {
		if (virDomainDetachDeviceFlags(domain, g_ptr_array_index(elements, i), flags) < 0) {
			usbpass_libvirt_set_error(
			  error,
			  "cannot detach USB device %s from the %s definition of instance '%s'",
			  shown,
			  flags == VIR_DOMAIN_AFFECT_LIVE ? "live" : "persistent",
			  name);
			return FALSE;
		}
	}
	return TRUE;
}

/* nothing usbpass wrote names the device: IN_USE when an entry somebody else
 * wrote holds it, which usbpass never removes */
static gboolean
usbpass_libvirt_detach_check_foreign(const gchar *xml,
				     const gchar *name,
				     const UsbpassHostdev *hostdev,
				     GError **error)
{
	g_autoptr(GPtrArray) entries = usbpass_libvirt_xml_parse_hostdevs(xml, FALSE, error);
	g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);

	if (entries == NULL)
		return FALSE;
	for (guint i = 0; i < entries->len; i++) {
		UsbpassHostdev *entry = g_ptr_array_index(entries, i);
		if (entry->owned || !usbpass_hostdev_holds(entry, hostdev))
			continue;
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_IN_USE,
			    "USB device %s is in instance '%s' by a hostdev usbpass did not write "
			    "(no alias '" USBPASS_HOSTDEV_ALIAS_PREFIX "…'); usbpass never removes "
			    "it: use virsh detach-device",
			    shown,
			    name);
		return FALSE;
	}
	return TRUE;
}

static gboolean
usbpass_libvirt_driver_detach(UsbpassDriver *driver,
			      const gchar *uuid,
			      const UsbpassHostdev *hostdev,
			      GError **error)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(driver);
	g_autoptr(virConnect) conn = usbpass_libvirt_driver_get_conn(self, error);
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(GPtrArray) live = NULL;
	g_autoptr(GPtrArray) persistent = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *shown = usbpass_hostdev_to_string(hostdev);
	g_autofree gchar *saved_xml = NULL; /* the image as it was, to restore on failure */
	g_autofree gchar *saved_changed = NULL;
	g_autofree gchar *live_xml = NULL;
	g_autofree gchar *persistent_xml = NULL;
	UsbpassLibvirtScope scope = { 0 };
	guint n_saved = 0;

	if (conn == NULL)
		return FALSE;
	domain = usbpass_libvirt_lookup_domain(conn, uuid, error);
	if (domain == NULL)
		return FALSE;
	name = usbpass_libvirt_domain_name(domain);
	if (!usbpass_libvirt_domain_scope(domain, name, &scope, error))
		return FALSE;
	if (scope.active) {
		live_xml = usbpass_libvirt_domain_xml(domain, name, 0, error);
		if (live_xml == NULL)
			return FALSE;
		live = usbpass_libvirt_xml_find_hostdevs(live_xml, hostdev, error);
		if (live == NULL)
			return FALSE;
	}
	if (scope.persistent) {
		persistent_xml =
		  usbpass_libvirt_domain_xml(domain, name, VIR_DOMAIN_XML_INACTIVE, error);
		if (persistent_xml == NULL)
			return FALSE;
		persistent = usbpass_libvirt_xml_find_hostdevs(persistent_xml, hostdev, error);
		if (persistent == NULL)
			return FALSE;
	}
	if (scope.saved) {
		saved_xml = usbpass_libvirt_saved_xml(domain, name, error);
		if (saved_xml == NULL)
			return FALSE;
		saved_changed =
		  usbpass_libvirt_xml_remove_hostdevs(saved_xml, hostdev, &n_saved, error);
		if (saved_changed == NULL)
			return FALSE;
	}
	if ((live == NULL || live->len == 0) && (persistent == NULL || persistent->len == 0) &&
	    n_saved == 0) {
		const gchar *xmls[] = { live_xml, persistent_xml, saved_xml };
		for (guint i = 0; i < G_N_ELEMENTS(xmls); i++) {
			if (xmls[i] == NULL)
				continue;
			if (!usbpass_libvirt_detach_check_foreign(xmls[i], name, hostdev, error))
				return FALSE;
		}
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_NOT_FOUND,
			    "USB device %s is not attached to instance '%s'",
			    shown,
			    name);
		return FALSE;
	}
	/* the saved image first, as attach does: it is what libvirt most likely refuses */
	if (n_saved > 0) {
		if (!usbpass_libvirt_define_saved(domain, name, saved_changed, "remove", error))
			return FALSE;
	} else {
		/* unchanged: nothing to restore */
		g_clear_pointer(&saved_xml, g_free);
	}
	/* live first: if QEMU refuses, the definitions still say what the guest has */
	if (!usbpass_libvirt_detach_elements(
	      domain, name, shown, live, VIR_DOMAIN_AFFECT_LIVE, error) ||
	    !usbpass_libvirt_detach_elements(
	      domain, name, shown, persistent, VIR_DOMAIN_AFFECT_CONFIG, error)) {
		/* a failed detach leaves the device attached: the image
		 * must keep it too, as it was */
		usbpass_libvirt_restore_saved(domain, saved_xml, error);
		return FALSE;
	}
	return TRUE;
}

static void
usbpass_libvirt_driver_iface_init(UsbpassDriverInterface *iface)
{
	iface->get_name = usbpass_libvirt_driver_get_name;
	iface->open = usbpass_libvirt_driver_open;
	iface->is_connected = usbpass_libvirt_driver_is_connected;
	iface->list_instances = usbpass_libvirt_driver_list_instances;
	iface->lookup_instance = usbpass_libvirt_driver_lookup_instance;
	iface->list_hostdevs = usbpass_libvirt_driver_list_hostdevs;
	iface->list_all_hostdevs = usbpass_libvirt_driver_list_all_hostdevs;
	iface->attach = usbpass_libvirt_driver_attach;
	iface->detach = usbpass_libvirt_driver_detach;
}

/* ---- the object ------------------------------------------------------------------------- */

/**
 * usbpass_libvirt_driver_get_uri:
 * @self: a libvirt driver
 *
 * Returns: the URI it connects to
 */
const gchar *
usbpass_libvirt_driver_get_uri(UsbpassLibvirtDriver *self)
{
	g_return_val_if_fail(USBPASS_IS_LIBVIRT_DRIVER(self), NULL);
	return self->uri;
}

/**
 * usbpass_libvirt_driver_set_reconnect_delays:
 * @self: a libvirt driver
 * @min_ms: the delay before the first retry, at least 1
 * @max_ms: the longest delay, at least @min_ms
 *
 * Sets the reconnect back-off (250 ms to 30 s by default).
 */
void
usbpass_libvirt_driver_set_reconnect_delays(UsbpassLibvirtDriver *self, guint min_ms, guint max_ms)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_if_fail(USBPASS_IS_LIBVIRT_DRIVER(self));
	g_return_if_fail(min_ms >= 1);
	g_return_if_fail(max_ms >= min_ms);

	locker = g_mutex_locker_new(&self->mutex);
	self->min_delay_ms = min_ms;
	self->max_delay_ms = max_ms;
	self->delay_ms = min_ms;
}

static void
usbpass_libvirt_driver_dispose(GObject *object)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(object);
	gboolean release_loop;

	g_mutex_lock(&self->mutex);
	self->disposed = TRUE;
	if (self->reconnect_source != NULL) {
		g_source_destroy(self->reconnect_source);
		g_clear_pointer(&self->reconnect_source, g_source_unref);
	}
	g_mutex_unlock(&self->mutex);
	usbpass_libvirt_driver_uninstall(self, NULL);

	g_mutex_lock(&self->mutex);
	release_loop = self->event_loop_held;
	self->event_loop_held = FALSE;
	g_mutex_unlock(&self->mutex);
	/* after the connection is gone: its callbacks are freed by then */
	if (release_loop)
		usbpass_libvirt_event_loop_release();

	G_OBJECT_CLASS(usbpass_libvirt_driver_parent_class)->dispose(object);
}

static void
usbpass_libvirt_driver_finalize(GObject *object)
{
	UsbpassLibvirtDriver *self = USBPASS_LIBVIRT_DRIVER(object);

	g_free(self->uri);
	g_main_context_unref(self->context);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(usbpass_libvirt_driver_parent_class)->finalize(object);
}

static void
usbpass_libvirt_driver_class_init(UsbpassLibvirtDriverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = usbpass_libvirt_driver_dispose;
	object_class->finalize = usbpass_libvirt_driver_finalize;

	/* libvirt's own process-wide set-up, once, before any thread uses it */
	if (virInitialize() < 0)
		g_debug("virInitialize() failed, ignoring");
	virSetErrorFunc(NULL, usbpass_libvirt_silent_error_func);
}

static void
usbpass_libvirt_driver_init(UsbpassLibvirtDriver *self)
{
	g_mutex_init(&self->mutex);
	self->context = g_main_context_ref_thread_default();
	self->min_delay_ms = RECONNECT_MIN_MS_DEFAULT;
	self->max_delay_ms = RECONNECT_MAX_MS_DEFAULT;
	self->delay_ms = RECONNECT_MIN_MS_DEFAULT;
	for (guint i = 0; i < CALLBACK_LAST; i++)
		self->callback_ids[i] = -1;
	usbpass_driver_set_main_context(USBPASS_DRIVER(self), self->context);
}

/**
 * usbpass_libvirt_driver_new:
 * @uri: (nullable): a libvirt URI, %NULL for "qemu:///system"
 *
 * Connects nothing yet: usbpass_driver_open() does.
 *
 * Returns: (transfer full): a libvirt driver whose signals are emitted in the
 * calling thread's default main context
 */
UsbpassLibvirtDriver *
usbpass_libvirt_driver_new(const gchar *uri)
{
	UsbpassLibvirtDriver *self = g_object_new(USBPASS_TYPE_LIBVIRT_DRIVER, NULL);
	self->uri = g_strdup(uri != NULL ? uri : USBPASS_LIBVIRT_DRIVER_DEFAULT_URI);
	return self;
}

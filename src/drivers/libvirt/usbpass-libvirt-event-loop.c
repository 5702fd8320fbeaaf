/*
 * usbpass-libvirt-event-loop.c: libvirt's event loop, in a thread of its own
 *
 * The handle and timeout semantics follow libvirt's own GLib implementation
 * (src/util/vireventglib.c): removal is deferred to an idle callback so that a
 * free function never runs while its callback might, and a source replaced
 * by an update is unreferenced from the loop thread.
 */
#define G_LOG_DOMAIN "UsbpassLibvirt"

#include "config.h"

#include <glib-unix.h>
#include <libvirt/libvirt.h>

#include "usbpass-error.h"
#include "usbpass-libvirt-event-loop.h"

typedef struct {
	gint id;
	gint fd;          /* -1 for a timeout */
	gint events;      /* handles: VIR_EVENT_HANDLE_* wanted */
	gint interval_ms; /* timeouts: -1 disabled */
	gboolean removed;
	GSource *source;
	virEventHandleCallback handle_cb;
	virEventTimeoutCallback timeout_cb;
	gpointer opaque;
	virFreeCallback ff;
} UsbpassLibvirtWatch;

/*
 * libvirt's event implementation is per process, so is its state: the
 * watches, the private context (created once, kept for the process) and the
 * thread while someone holds the loop. All of it under loop_mutex, except
 * loop_context, which is written once inside g_once().
 */
static GMutex loop_mutex;
static GCond loop_cond; /* signalled when a stopping thread has let go of the context */
static GPtrArray *watches = NULL; /* of UsbpassLibvirtWatch */
static gint next_id = 1;
static GMainContext *loop_context = NULL;
static guint loop_holders = 0;
static guint loop_stopping = 0; /* threads told to quit that still own the context */

/* one per thread: a new holder may start a thread while the old one stops */
typedef struct {
	GThread *thread;
	gint quit;
} UsbpassLibvirtLoop;

static UsbpassLibvirtLoop *loop_current = NULL;

static void
usbpass_libvirt_event_loop_idle(GSourceFunc func, gpointer data)
{
	g_autoptr(GSource) source = g_idle_source_new();
	g_source_set_callback(source, func, data, NULL);
	g_source_set_static_name(source, "[usbpass] libvirt event idle");
	g_source_attach(source, loop_context);
}

/* GLib may crash when the last reference of a source goes in another thread
 * than its context's (GNOME glib!1358); libvirt drops it from an idle too */
static gboolean
usbpass_libvirt_event_loop_unref_cb(gpointer data)
{
	g_source_unref(data);
	return G_SOURCE_REMOVE;
}

static void
usbpass_libvirt_watch_drop_source_locked(UsbpassLibvirtWatch *watch)
{
	if (watch->source == NULL)
		return;
	g_source_destroy(watch->source);
	usbpass_libvirt_event_loop_idle(usbpass_libvirt_event_loop_unref_cb,
					g_steal_pointer(&watch->source));
}

static UsbpassLibvirtWatch *
usbpass_libvirt_watch_find_locked(gint id, gboolean timeout)
{
	for (guint i = 0; i < watches->len; i++) {
		UsbpassLibvirtWatch *watch = g_ptr_array_index(watches, i);
		if (watch->id == id && !watch->removed && (watch->fd < 0) == timeout)
			return watch;
	}
	return NULL;
}

static GIOCondition
usbpass_libvirt_events_to_condition(gint events)
{
	GIOCondition cond = 0;
	if (events & VIR_EVENT_HANDLE_READABLE)
		cond |= G_IO_IN;
	if (events & VIR_EVENT_HANDLE_WRITABLE)
		cond |= G_IO_OUT;
	if (events & VIR_EVENT_HANDLE_ERROR)
		cond |= G_IO_ERR;
	if (events & VIR_EVENT_HANDLE_HANGUP)
		cond |= G_IO_HUP;
	return cond;
}

static gint
usbpass_libvirt_condition_to_events(GIOCondition cond)
{
	gint events = 0;
	if (cond & G_IO_IN)
		events |= VIR_EVENT_HANDLE_READABLE;
	if (cond & G_IO_OUT)
		events |= VIR_EVENT_HANDLE_WRITABLE;
	/* libvirt has no "invalid fd": it is an error to it */
	if (cond & (G_IO_ERR | G_IO_NVAL))
		events |= VIR_EVENT_HANDLE_ERROR;
	if (cond & G_IO_HUP)
		events |= VIR_EVENT_HANDLE_HANGUP;
	return events;
}

/* the watch stays valid while dispatching: only the loop thread frees it */
static gboolean
usbpass_libvirt_handle_dispatch_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	UsbpassLibvirtWatch *watch = user_data;
	watch->handle_cb(
	  watch->id, watch->fd, usbpass_libvirt_condition_to_events(condition), watch->opaque);
	return G_SOURCE_CONTINUE;
}

static gboolean
usbpass_libvirt_timeout_dispatch_cb(gpointer user_data)
{
	UsbpassLibvirtWatch *watch = user_data;
	watch->timeout_cb(watch->id, watch->opaque);
	return G_SOURCE_CONTINUE;
}

static void
usbpass_libvirt_handle_watch_locked(UsbpassLibvirtWatch *watch)
{
	watch->source =
	  g_unix_fd_source_new(watch->fd, usbpass_libvirt_events_to_condition(watch->events));
	g_source_set_callback(
	  watch->source, G_SOURCE_FUNC(usbpass_libvirt_handle_dispatch_cb), watch, NULL);
	g_source_set_static_name(watch->source, "[usbpass] libvirt handle");
	g_source_attach(watch->source, loop_context);
}

static void
usbpass_libvirt_timeout_watch_locked(UsbpassLibvirtWatch *watch)
{
	watch->source = g_timeout_source_new((guint)watch->interval_ms);
	g_source_set_callback(watch->source, usbpass_libvirt_timeout_dispatch_cb, watch, NULL);
	g_source_set_static_name(watch->source, "[usbpass] libvirt timeout");
	g_source_attach(watch->source, loop_context);
}

static gboolean
usbpass_libvirt_watch_remove_cb(gpointer data)
{
	UsbpassLibvirtWatch *watch = data;
	if (watch->ff != NULL)
		watch->ff(watch->opaque);
	g_mutex_lock(&loop_mutex);
	g_ptr_array_remove_fast(watches, watch);
	g_mutex_unlock(&loop_mutex);
	return G_SOURCE_REMOVE;
}

static gint
usbpass_libvirt_watch_remove(gint id, gboolean timeout)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	UsbpassLibvirtWatch *watch = usbpass_libvirt_watch_find_locked(id, timeout);

	if (watch == NULL)
		return -1;
	usbpass_libvirt_watch_drop_source_locked(watch);
	/* an update before the idle runs must not bring it back */
	watch->removed = TRUE;
	usbpass_libvirt_event_loop_idle(usbpass_libvirt_watch_remove_cb, watch);
	return 0;
}

static gint
usbpass_libvirt_handle_add(gint fd,
			   gint events,
			   virEventHandleCallback cb,
			   void *opaque,
			   virFreeCallback ff)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	UsbpassLibvirtWatch *watch = g_new0(UsbpassLibvirtWatch, 1);

	watch->id = next_id++;
	watch->fd = fd;
	watch->events = events;
	watch->handle_cb = cb;
	watch->opaque = opaque;
	watch->ff = ff;
	if (events != 0)
		usbpass_libvirt_handle_watch_locked(watch);
	g_ptr_array_add(watches, watch);
	return watch->id;
}

static void
usbpass_libvirt_handle_update(gint id, gint events)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	UsbpassLibvirtWatch *watch = usbpass_libvirt_watch_find_locked(id, FALSE);

	if (watch == NULL || (events == watch->events && (events == 0) == (watch->source == NULL)))
		return;
	usbpass_libvirt_watch_drop_source_locked(watch);
	watch->events = events;
	if (events != 0)
		usbpass_libvirt_handle_watch_locked(watch);
}

static gint
usbpass_libvirt_handle_remove(gint id)
{
	return usbpass_libvirt_watch_remove(id, FALSE);
}

static gint
usbpass_libvirt_timeout_add(gint interval_ms,
			    virEventTimeoutCallback cb,
			    void *opaque,
			    virFreeCallback ff)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	UsbpassLibvirtWatch *watch = g_new0(UsbpassLibvirtWatch, 1);

	watch->id = next_id++;
	watch->fd = -1;
	watch->interval_ms = interval_ms;
	watch->timeout_cb = cb;
	watch->opaque = opaque;
	watch->ff = ff;
	if (interval_ms >= 0)
		usbpass_libvirt_timeout_watch_locked(watch);
	g_ptr_array_add(watches, watch);
	return watch->id;
}

static void
usbpass_libvirt_timeout_update(gint id, gint interval_ms)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	UsbpassLibvirtWatch *watch = usbpass_libvirt_watch_find_locked(id, TRUE);

	if (watch == NULL)
		return;
	/* re-arming restarts the interval, as libvirt's implementations do */
	usbpass_libvirt_watch_drop_source_locked(watch);
	watch->interval_ms = interval_ms;
	if (interval_ms >= 0)
		usbpass_libvirt_timeout_watch_locked(watch);
}

static gint
usbpass_libvirt_timeout_remove(gint id)
{
	return usbpass_libvirt_watch_remove(id, TRUE);
}

static gpointer
usbpass_libvirt_event_loop_register(gpointer data)
{
	watches = g_ptr_array_new_with_free_func(g_free);
	loop_context = g_main_context_new();
	virEventRegisterImpl(usbpass_libvirt_handle_add,
			     usbpass_libvirt_handle_update,
			     usbpass_libvirt_handle_remove,
			     usbpass_libvirt_timeout_add,
			     usbpass_libvirt_timeout_update,
			     usbpass_libvirt_timeout_remove);
	return NULL;
}

static gpointer
usbpass_libvirt_event_loop_run(gpointer data)
{
	UsbpassLibvirtLoop *loop = data;

	g_main_context_push_thread_default(loop_context);
	while (!g_atomic_int_get(&loop->quit))
		g_main_context_iteration(loop_context, TRUE);
	/* deferred frees of watches removed by the last holder's connection */
	while (g_main_context_iteration(loop_context, FALSE))
		;
	g_main_context_pop_thread_default(loop_context);

	g_mutex_lock(&loop_mutex);
	loop_stopping--;
	g_cond_broadcast(&loop_cond);
	g_mutex_unlock(&loop_mutex);
	return NULL;
}

/**
 * usbpass_libvirt_event_loop_hold:
 * @error: (nullable): unused; for a future implementation that can fail
 *
 * Registers the implementation with libvirt the first time, and starts the
 * loop thread unless it runs. When the last holder's thread is still
 * stopping, waits for it first.
 *
 * Returns: %TRUE
 */
gboolean
usbpass_libvirt_event_loop_hold(GError **error)
{
	static GOnce registered = G_ONCE_INIT;
	g_autoptr(GMutexLocker) locker = NULL;

	g_once(&registered, usbpass_libvirt_event_loop_register, NULL);
	locker = g_mutex_locker_new(&loop_mutex);
	/* a new thread waits until the last one has popped the context: GLib
	 * lets one thread own a context, and push_thread_default() fails in a
	 * second one. Bounded: that thread only drains what is pending */
	while (loop_holders == 0 && loop_stopping > 0)
		g_cond_wait(&loop_cond, &loop_mutex);
	if (loop_holders++ == 0) {
		loop_current = g_new0(UsbpassLibvirtLoop, 1);
		loop_current->thread =
		  g_thread_new("usbpass-libvirt", usbpass_libvirt_event_loop_run, loop_current);
	}
	return TRUE;
}

/**
 * usbpass_libvirt_event_loop_release:
 *
 * The last holder stops the loop thread and waits for it. Watches that are
 * left stay registered and run again with the next holder.
 */
void
usbpass_libvirt_event_loop_release(void)
{
	UsbpassLibvirtLoop *loop = NULL;

	g_mutex_lock(&loop_mutex);
	if (loop_holders == 0) {
		g_mutex_unlock(&loop_mutex);
		g_critical("libvirt event loop released more often than held");
		return;
	}
	if (--loop_holders == 0) {
		loop = g_steal_pointer(&loop_current);
		loop_stopping++;
		g_atomic_int_set(&loop->quit, 1);
		g_main_context_wakeup(loop_context);
	}
	g_mutex_unlock(&loop_mutex);
	/* joined outside the lock: the thread's last iteration frees watches,
	 * which takes the lock; a new holder meanwhile waits in hold() until
	 * the thread has let go of the context */
	if (loop != NULL) {
		g_thread_join(loop->thread);
		g_free(loop);
	}
}

/**
 * usbpass_libvirt_event_loop_is_running:
 *
 * Returns: %TRUE while the loop thread runs
 */
gboolean
usbpass_libvirt_event_loop_is_running(void)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&loop_mutex);
	return loop_current != NULL;
}

/*
 * usbpass-api-refusals.c: which refused requests the audit log gets one by one
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include "usbpass-api-refusals.h"

struct _UsbpassApiRefusals {
	guint window_ms;
	guint max_per_window;
	UsbpassApiRefusalsSummaryFunc func;
	gpointer user_data;
	GMainContext *context;
	GSource *timer;           /* armed while a count waits for the end of its window */
	gint64 window_start_usec; /* 0: no window open */
	guint admitted;
	guint suppressed;
};

/**
 * usbpass_api_refusals_new:
 * @window_ms: how long a window lasts, at least 1 ms (60,000 in the daemon)
 * @max_per_window: how many refusals a window admits one by one
 * @func: writes the summary of a window
 * @user_data: for @func
 *
 * Returns: (transfer full): the counter
 */
UsbpassApiRefusals *
usbpass_api_refusals_new(guint window_ms,
                         guint max_per_window,
                         UsbpassApiRefusalsSummaryFunc func,
                         gpointer user_data)
{
	UsbpassApiRefusals *self;

	g_return_val_if_fail(func != NULL, NULL);

	self = g_new0(UsbpassApiRefusals, 1);
	self->window_ms = MAX(window_ms, 1);
	self->max_per_window = max_per_window;
	self->func = func;
	self->user_data = user_data;
	self->context = g_main_context_ref_thread_default();
	return self;
}

static void
usbpass_api_refusals_close_window(UsbpassApiRefusals *self)
{
	guint suppressed = self->suppressed;

	if (self->timer != NULL) {
		g_source_destroy(self->timer);
		g_clear_pointer(&self->timer, g_source_unref);
	}
	self->window_start_usec = 0;
	self->admitted = 0;
	self->suppressed = 0;
	/* last: the summary may refuse again (an audit write failing never does,
	 * but the counter must be consistent whatever it does) */
	if (suppressed > 0)
		self->func(suppressed, self->user_data);
}

static gboolean
usbpass_api_refusals_timer_cb(gpointer user_data)
{
	UsbpassApiRefusals *self = user_data;
	/* the source is being dispatched: dropping our reference is enough */
	g_clear_pointer(&self->timer, g_source_unref);
	usbpass_api_refusals_close_window(self);
	return G_SOURCE_REMOVE;
}

/**
 * usbpass_api_refusals_admit:
 * @self: the counter
 *
 * Counts one refused request.
 *
 * Returns: %TRUE when it is to be written one by one, %FALSE when only
 *   counted for the summary at the end of the window
 */
gboolean
usbpass_api_refusals_admit(UsbpassApiRefusals *self)
{
	gint64 now = g_get_monotonic_time();
	gint64 window_end_usec;

	g_return_val_if_fail(self != NULL, TRUE);

	/* a window past its end whose timer has not run yet (a busy loop) is
	 * closed first, so that a count never spans two windows */
	if (self->window_start_usec != 0 &&
	    now - self->window_start_usec >= (gint64)self->window_ms * 1000)
		usbpass_api_refusals_close_window(self);
	if (self->window_start_usec == 0)
		self->window_start_usec = now;
	if (self->admitted < self->max_per_window) {
		self->admitted++;
		return TRUE;
	}
	self->suppressed++;
	if (self->timer == NULL) {
		window_end_usec = self->window_start_usec + (gint64)self->window_ms * 1000;
		self->timer =
		  g_timeout_source_new((guint)MAX((window_end_usec - now + 999) / 1000, (gint64)1));
		g_source_set_callback(self->timer, usbpass_api_refusals_timer_cb, self, NULL);
		g_source_set_static_name(self->timer, "usbpass-api-refusals");
		g_source_attach(self->timer, self->context);
	}
	return FALSE;
}

/**
 * usbpass_api_refusals_flush:
 * @self: the counter
 *
 * Ends the open window now, calling the summary function when it counted
 * refusals it did not admit (at shutdown, before the audit log goes).
 */
void
usbpass_api_refusals_flush(UsbpassApiRefusals *self)
{
	g_return_if_fail(self != NULL);
	usbpass_api_refusals_close_window(self);
}

/**
 * usbpass_api_refusals_free:
 * @self: (nullable): the counter
 *
 * Stops the timer; a count still waiting is dropped (flush first to keep it).
 */
void
usbpass_api_refusals_free(UsbpassApiRefusals *self)
{
	if (self == NULL)
		return;
	if (self->timer != NULL) {
		g_source_destroy(self->timer);
		g_source_unref(self->timer);
	}
	g_main_context_unref(self->context);
	g_free(self);
}

/*
 * test-api-refusals.c: the audit summary of a refusal flood is written when its
 * window ends, without a refusal after it
 */
#include "config.h"

#include "api/usbpass-api-refusals.h"

/* every wait has this deadline */
#define TEST_DEADLINE_USEC (30 * G_USEC_PER_SEC)
/* short enough to wait for, long enough that the few calls of a burst fall in
 * one window even under valgrind; the assertions hold however they fall */
#define TEST_WINDOW_MS 1000
/* the daemon's minute: no window of these tests ends by itself */
#define TEST_LONG_WINDOW_MS (60 * 1000)

typedef struct {
	guint summaries;
	guint last_suppressed;
	guint total_suppressed;
} Seen;

static void
summary_cb(guint suppressed, gpointer user_data)
{
	Seen *seen = user_data;
	seen->summaries++;
	seen->last_suppressed = suppressed;
	seen->total_suppressed += suppressed;
}

static gboolean
wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* runs the default context until @seen has @summaries or the deadline */
static gboolean
wait_for_summaries(Seen *seen, guint summaries)
{
	gint64 deadline = g_get_monotonic_time() + TEST_DEADLINE_USEC;
	guint wake_id = g_timeout_add(20, wake_cb, NULL);
	while (seen->summaries < summaries && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(wake_id);
	return seen->summaries >= summaries;
}

/* admits a burst of @n; Returns: how many were only counted */
static guint
burst(UsbpassApiRefusals *refusals, guint n)
{
	guint counted = 0;
	for (guint i = 0; i < n; i++) {
		if (!usbpass_api_refusals_admit(refusals))
			counted++;
	}
	return counted;
}

static void
test_refusals_timer(void)
{
	Seen seen = { 0 };
	g_autoptr(UsbpassApiRefusals) refusals =
	  usbpass_api_refusals_new(TEST_WINDOW_MS, 3, summary_cb, &seen);
	guint counted;

	/* three one by one, the rest counted */
	counted = burst(refusals, 8);
	g_assert_cmpuint(counted, >, 0);

	/* no refusal follows: the summary comes by itself when the window ends */
	g_assert_true(wait_for_summaries(&seen, 1));
	g_assert_cmpuint(seen.total_suppressed, ==, counted);

	/* the next refusal opens a fresh window with its own summary */
	counted += burst(refusals, 4);
	g_assert_cmpuint(counted, >, seen.total_suppressed);
	g_assert_true(wait_for_summaries(&seen, 2));
	g_assert_cmpuint(seen.total_suppressed, ==, counted);
}

/* a window that left nothing out ends without a summary */
static void
test_refusals_quiet(void)
{
	Seen seen = { 0 };
	g_autoptr(UsbpassApiRefusals) refusals =
	  usbpass_api_refusals_new(TEST_LONG_WINDOW_MS, 3, summary_cb, &seen);

	g_assert_true(usbpass_api_refusals_admit(refusals));
	g_assert_true(usbpass_api_refusals_admit(refusals));
	/* nothing is armed: a flush has nothing to write either */
	usbpass_api_refusals_flush(refusals);
	g_assert_cmpuint(seen.summaries, ==, 0);
	/* the flush closed the window: three more are admitted */
	for (guint i = 0; i < 3; i++)
		g_assert_true(usbpass_api_refusals_admit(refusals));
	g_assert_false(usbpass_api_refusals_admit(refusals));
}

/* at shutdown the open count is written at once, and only once */
static void
test_refusals_flush(void)
{
	Seen seen = { 0 };
	g_autoptr(UsbpassApiRefusals) refusals =
	  usbpass_api_refusals_new(TEST_LONG_WINDOW_MS, 1, summary_cb, &seen);

	g_assert_true(usbpass_api_refusals_admit(refusals));
	g_assert_false(usbpass_api_refusals_admit(refusals));
	g_assert_false(usbpass_api_refusals_admit(refusals));
	usbpass_api_refusals_flush(refusals);
	g_assert_cmpuint(seen.summaries, ==, 1);
	g_assert_cmpuint(seen.last_suppressed, ==, 2);
	usbpass_api_refusals_flush(refusals);
	g_assert_cmpuint(seen.summaries, ==, 1);
	/* freeing with a count waiting drops it and its timer */
	g_assert_true(usbpass_api_refusals_admit(refusals));
	g_assert_false(usbpass_api_refusals_admit(refusals));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/api/refusals{timer}", test_refusals_timer);
	g_test_add_func("/usbpass/api/refusals{quiet}", test_refusals_quiet);
	g_test_add_func("/usbpass/api/refusals{flush}", test_refusals_flush);
	return g_test_run();
}

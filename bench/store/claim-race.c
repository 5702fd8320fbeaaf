/*
 * claim-race.c: the claim race of issue 4 and the cost of one state change
 *
 * 1,000 trials: 32 threads, each with its own connection to one SQLite file,
 * claim the same device at once; exactly one must win each trial. Then the
 * median time of one transition of the claim -> attached -> detaching ->
 * available cycle. Prints key=value lines; never fails on time.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <pthread.h>

#include "usbpass-sqlite-store.h"

#define HOST	      "bench-host"
#define DEVICE_ID     "0781:5567:s:BENCH0001"
#define THREADS	      32
#define TRIALS	      1000
#define CYCLES	      2000

typedef struct {
	const gchar *path;
	guint index;
	pthread_barrier_t *start;
	pthread_barrier_t *done;
	volatile gint *winners;
	volatile gint *odd_errors; /* neither BUSY nor IN_USE: a bug */
} Worker;

static gpointer
worker_run(gpointer user_data)
{
	Worker *worker = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassSqliteStore) store = usbpass_sqlite_store_new(worker->path, &error);
	g_autofree gchar *uuid = g_strdup_printf("instance-%02u", worker->index);

	if (store == NULL)
		g_error("cannot open '%s': %s", worker->path, error->message);
	for (guint trial = 0; trial < TRIALS; trial++) {
		g_autoptr(GError) claim_error = NULL;

		pthread_barrier_wait(worker->start);
		if (usbpass_store_claim_device(USBPASS_STORE(store),
					       HOST,
					       DEVICE_ID,
					       uuid,
					       NULL,
					       &claim_error))
			g_atomic_int_inc(worker->winners);
		else if (!g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_BUSY) &&
			 !g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
			g_atomic_int_inc(worker->odd_errors);
		pthread_barrier_wait(worker->done);
	}
	return NULL;
}

static gint
compare_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a;
	gdouble y = *(const gdouble *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

static gdouble
median(GArray *values)
{
	g_array_sort(values, compare_double);
	return g_array_index(values, gdouble, values->len / 2);
}

static void
reset_row(UsbpassStore *store)
{
	g_autoptr(GError) error = NULL;
	if (!usbpass_store_transition(store,
				      HOST,
				      DEVICE_ID,
				      USBPASS_DEVICE_STATE_ATTACHING,
				      USBPASS_DEVICE_STATE_AVAILABLE,
				      NULL,
				      NULL,
				      NULL,
				      &error))
		g_error("cannot reset the row: %s", error->message);
}

static void
bench_claim_race(UsbpassStore *store, const gchar *path)
{
	pthread_barrier_t start;
	pthread_barrier_t done;
	Worker workers[THREADS];
	GThread *threads[THREADS];
	volatile gint winners = 0;
	volatile gint odd_errors = 0;
	g_autoptr(GArray) trial_ms = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), TRIALS);
	guint violations = 0;

	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&done, NULL, THREADS + 1);
	for (guint i = 0; i < THREADS; i++) {
		workers[i] = (Worker){path, i, &start, &done, &winners, &odd_errors};
		threads[i] = g_thread_new("claim", worker_run, &workers[i]);
	}
	for (guint trial = 0; trial < TRIALS; trial++) {
		gint64 begin_usec;
		gdouble ms;

		g_atomic_int_set(&winners, 0);
		begin_usec = g_get_monotonic_time();
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		ms = (gdouble)(g_get_monotonic_time() - begin_usec) / 1000.0;
		g_array_append_val(trial_ms, ms);
		if (g_atomic_int_get(&winners) != 1)
			violations++;
		if (g_atomic_int_get(&winners) > 0)
			reset_row(store);
	}
	for (guint i = 0; i < THREADS; i++)
		g_thread_join(threads[i]);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);

	g_print("claim_race_trials=%u\n", (guint)TRIALS);
	g_print("claim_race_threads=%u\n", (guint)THREADS);
	g_print("claim_race_violations=%u\n", violations + (guint)g_atomic_int_get(&odd_errors));
	g_print("claim_race_trial_ms_median=%.3f\n", median(trial_ms));
}

static void
bench_transition(UsbpassStore *store)
{
	g_autoptr(GArray) step_us = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), CYCLES * 4);
	g_autoptr(GArray) claim_us = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), CYCLES);
	const UsbpassDeviceState cycle[] = {USBPASS_DEVICE_STATE_ATTACHING,
					    USBPASS_DEVICE_STATE_ATTACHED,
					    USBPASS_DEVICE_STATE_DETACHING,
					    USBPASS_DEVICE_STATE_AVAILABLE};

	for (guint i = 0; i < CYCLES; i++) {
		g_autoptr(GError) error = NULL;
		gint64 begin_usec = g_get_monotonic_time();
		gdouble us;

		if (!usbpass_store_claim_device(store, HOST, DEVICE_ID, "instance-t", "t", &error))
			g_error("claim: %s", error->message);
		us = (gdouble)(g_get_monotonic_time() - begin_usec);
		g_array_append_val(step_us, us);
		g_array_append_val(claim_us, us);
		for (guint j = 1; j < G_N_ELEMENTS(cycle); j++) {
			begin_usec = g_get_monotonic_time();
			if (!usbpass_store_transition(store,
						      HOST,
						      DEVICE_ID,
						      cycle[j - 1],
						      cycle[j],
						      NULL,
						      NULL,
						      NULL,
						      &error))
				g_error("transition: %s", error->message);
			us = (gdouble)(g_get_monotonic_time() - begin_usec);
			g_array_append_val(step_us, us);
		}
	}
	g_print("store_transition_us=%.1f\n", median(step_us));
	g_print("store_claim_us=%.1f\n", median(claim_us));
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-bench-store-XXXXXX", &error);
	g_autofree gchar *path = NULL;
	g_autoptr(UsbpassSqliteStore) store = NULL;
	g_autoptr(UsbpassStoreDevice) device = usbpass_store_device_new();
	const gchar *suffixes[] = {"", "-wal", "-shm"};

	if (tmpdir == NULL)
		g_error("%s", error->message);
	path = g_build_filename(tmpdir, "usbpass.db", NULL);
	store = usbpass_sqlite_store_new(path, &error);
	if (store == NULL)
		g_error("%s", error->message);
	device->host = g_strdup(HOST);
	device->device_id = g_strdup(DEVICE_ID);
	device->name = g_strdup("SanDisk Corp. Cruzer Blade");
	device->vendor_id = 0x0781;
	device->product_id = 0x5567;
	device->present = TRUE;
	if (!usbpass_store_upsert_device(USBPASS_STORE(store), device, &error))
		g_error("%s", error->message);

	bench_claim_race(USBPASS_STORE(store), path);
	bench_transition(USBPASS_STORE(store));

	g_clear_object(&store);
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *file = g_strdup_printf("%s%s", path, suffixes[i]);
		g_unlink(file);
	}
	g_rmdir(tmpdir);
	return 0;
}

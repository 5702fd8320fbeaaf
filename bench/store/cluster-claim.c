/*
 * cluster-claim.c: claims through the PostgreSQL store of a cluster (issue 11)
 *
 * On a private PostgreSQL server (usbpass-pg-harness): 8 hosts x 1,000
 * devices in the database, then 32 clients, each with its own connection,
 * claim and release random devices (fixed seed); the time of one claim +
 * release is sampled. Then >= 1,000 race trials: the 32 clients claim the same
 * device at once; a trial with other than exactly one winner is a violation.
 * Prints key=value lines; never fails on time.
 */
#include "config.h"

#include <gio/gio.h>
#include <pthread.h>

#include "usbpass-pg-harness.h"
#include "usbpass-pg-store.h"

#define HOSTS            8
#define DEVICES_PER_HOST 1000
#define CLIENTS          32
#define CYCLES           150 /* per client */
#define TRIALS           1000
#define RACE_HOST        "host-0"
#define RACE_DEVICE      "0781:5567:s:RACE"

typedef struct {
	const gchar *uri;
	guint index;
	pthread_barrier_t *start;
	pthread_barrier_t *done;
	GArray *samples_ms; /* of gdouble, this client's */
	guint conflicts;
	gint *winners;
	gint *odd_errors;
} Client;

static gchar *
device_id(guint host, guint device)
{
	return g_strdup_printf("0781:5567:s:H%02uD%04u", host, device);
}

static void
client_populate(UsbpassStore *store, guint index)
{
	/* each client writes its share of the 8,000 rows */
	for (guint n = index; n < HOSTS * DEVICES_PER_HOST; n += CLIENTS) {
		g_autoptr(UsbpassStoreDevice) device = usbpass_store_device_new();
		g_autoptr(GError) error = NULL;
		device->host = g_strdup_printf("host-%u", n / DEVICES_PER_HOST);
		device->device_id = device_id(n / DEVICES_PER_HOST, n % DEVICES_PER_HOST);
		device->name = g_strdup("SanDisk Corp. Cruzer Blade");
		device->vendor_id = 0x0781;
		device->product_id = 0x5567;
		device->present = TRUE;
		if (!usbpass_store_upsert_device(store, device, &error))
			g_error("cannot populate: %s", error->message);
	}
}

static gpointer
client_run(gpointer user_data)
{
	Client *client = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPgStore) pg = usbpass_pg_store_new(client->uri, &error);
	g_autofree gchar *uuid = g_strdup_printf("instance-%02u", client->index);
	g_autoptr(GRand) rand = g_rand_new_with_seed(1100 + client->index);
	UsbpassStore *store;

	if (pg == NULL)
		g_error("cannot open the store: %s", error->message);
	store = USBPASS_STORE(pg);
	client_populate(store, client->index);
	pthread_barrier_wait(client->start);

	/* claim + release of random devices of random hosts */
	for (guint i = 0; i < CYCLES; i++) {
		guint host = (guint)g_rand_int_range(rand, 0, HOSTS);
		g_autofree gchar *host_name = g_strdup_printf("host-%u", host);
		g_autofree gchar *id =
		  device_id(host, (guint)g_rand_int_range(rand, 0, DEVICES_PER_HOST));
		g_autoptr(GError) claim_error = NULL;
		guint64 lease = 0;
		gint64 start = g_get_monotonic_time();
		gdouble ms;

		if (!usbpass_store_claim_device_lease(
		      store, host_name, id, uuid, NULL, &lease, &claim_error)) {
			if (!g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_BUSY) &&
			    !g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
				g_error("claim: %s", claim_error->message);
			/* another client drew the same device */
			client->conflicts++;
			continue;
		}
		if (!usbpass_store_transition_lease(store,
		                                    host_name,
		                                    id,
		                                    lease,
		                                    USBPASS_DEVICE_STATE_ATTACHING,
		                                    USBPASS_DEVICE_STATE_AVAILABLE,
		                                    NULL,
		                                    NULL,
		                                    NULL,
		                                    NULL,
		                                    &error))
			g_error("release: %s", error->message);
		ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
		g_array_append_val(client->samples_ms, ms);
	}
	pthread_barrier_wait(client->done);

	/* the race: everybody at once for one device */
	for (guint trial = 0; trial < TRIALS; trial++) {
		g_autoptr(GError) claim_error = NULL;
		pthread_barrier_wait(client->start);
		if (usbpass_store_claim_device(
		      store, RACE_HOST, RACE_DEVICE, uuid, NULL, &claim_error))
			g_atomic_int_inc(client->winners);
		else if (!g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_BUSY) &&
		         !g_error_matches(claim_error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
			g_atomic_int_inc(client->odd_errors);
		pthread_barrier_wait(client->done);
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
percentile(GArray *sorted, guint pct)
{
	guint idx = MIN(sorted->len - 1, (sorted->len * pct) / 100);
	return g_array_index(sorted, gdouble, idx);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPgHarness) harness = usbpass_pg_harness_new(&error);
	g_autofree gchar *uri = NULL;
	g_autoptr(UsbpassPgStore) main_store = NULL;
	g_autoptr(UsbpassStoreDevice) race_device = usbpass_store_device_new();
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(gdouble));
	Client clients[CLIENTS];
	GThread *threads[CLIENTS];
	pthread_barrier_t start;
	pthread_barrier_t done;
	gint winners = 0;
	gint odd_errors = 0;
	guint violations = 0;
	guint conflicts = 0;
	gint64 populate_start;

	if (harness == NULL) {
		/* a benchmark never fails for a missing prerequisite: it says so */
		g_print("# cluster-claim skipped: %s\n", error->message);
		return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? 0 : 1;
	}
	uri = usbpass_pg_harness_create_database(harness, &error);
	if (uri == NULL)
		g_error("%s", error->message);
	main_store = usbpass_pg_store_new(uri, &error);
	if (main_store == NULL)
		g_error("%s", error->message);
	race_device->host = g_strdup(RACE_HOST);
	race_device->device_id = g_strdup(RACE_DEVICE);
	if (!usbpass_store_upsert_device(USBPASS_STORE(main_store), race_device, &error))
		g_error("%s", error->message);

	pthread_barrier_init(&start, NULL, CLIENTS + 1);
	pthread_barrier_init(&done, NULL, CLIENTS + 1);
	populate_start = g_get_monotonic_time();
	for (guint i = 0; i < CLIENTS; i++) {
		clients[i] = (Client){ uri,
			               i,
			               &start,
			               &done,
			               g_array_new(FALSE, FALSE, sizeof(gdouble)),
			               0,
			               &winners,
			               &odd_errors };
		threads[i] = g_thread_new("client", client_run, &clients[i]);
	}
	pthread_barrier_wait(&start);
	g_print("# %u hosts x %u devices written by %u clients in %.1f s\n",
	        HOSTS,
	        DEVICES_PER_HOST,
	        CLIENTS,
	        (gdouble)(g_get_monotonic_time() - populate_start) / G_USEC_PER_SEC);
	pthread_barrier_wait(&done);

	for (guint trial = 0; trial < TRIALS; trial++) {
		g_autoptr(UsbpassStoreDevice) row = NULL;
		g_atomic_int_set(&winners, 0);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		if (g_atomic_int_get(&winners) != 1)
			violations++;
		row = usbpass_store_get_device(
		  USBPASS_STORE(main_store), RACE_HOST, RACE_DEVICE, &error);
		if (row == NULL)
			g_error("%s", error->message);
		if (row->state != USBPASS_DEVICE_STATE_ATTACHING)
			continue;
		if (!usbpass_store_transition_lease(USBPASS_STORE(main_store),
		                                    RACE_HOST,
		                                    RACE_DEVICE,
		                                    row->generation,
		                                    USBPASS_DEVICE_STATE_ATTACHING,
		                                    USBPASS_DEVICE_STATE_AVAILABLE,
		                                    NULL,
		                                    NULL,
		                                    NULL,
		                                    NULL,
		                                    &error))
			g_error("%s", error->message);
	}
	for (guint i = 0; i < CLIENTS; i++) {
		g_thread_join(threads[i]);
		g_array_append_vals(all, clients[i].samples_ms->data, clients[i].samples_ms->len);
		conflicts += clients[i].conflicts;
		g_array_unref(clients[i].samples_ms);
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);

	g_array_sort(all, compare_double);
	g_print("# claim + release through PostgreSQL, %u clients, %u samples, %u conflicts\n",
	        CLIENTS,
	        all->len,
	        conflicts);
	g_print("cluster_claim_ms_p50=%.2f\n", percentile(all, 50));
	g_print("cluster_claim_ms_p99=%.2f\n", percentile(all, 99));
	g_print("cluster_claim_race_trials=%u\n", TRIALS);
	g_print("cluster_claim_race_violations=%u\n",
	        violations + (guint)g_atomic_int_get(&odd_errors));
	return 0;
}

/*
 * test-store-location.c: a store location that is a URI never becomes a file;
 * usbpass_store_open() picks the backend, and no password reaches a message
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "sqlite/usbpass-sqlite-store.h"
#include "usbpass-error.h"
#include "usbpass-store-open.h"

typedef struct {
	const gchar *location;
	const gchar *message; /* a part of the NOT_SUPPORTED message */
} LocationCase;

static void
test_store_location_uri(void)
{
	const LocationCase cases[] = {
		{ "postgresql://usbpass:s3cret@db.example:5432/"
		  "usbpass?sslmode=require&password=s3cret",
		  "is a PostgreSQL URI, not an SQLite file" },
		{ "postgres://db.example/usbpass", "is a PostgreSQL URI, not an SQLite file" },
		{ "postgresql:///usbpass", "open it with usbpass_store_open()" },
		{ "mysql://db.example/usbpass", "a URI with the scheme 'mysql'" },
		{ "file:///var/lib/usbpass/usbpass.db", "a URI with the scheme 'file'" },
		{ "x+y.z-1://anything", "the scheme 'x+y.z-1'" },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-store-location-XXXXXX", &error);
	g_autofree gchar *cwd = g_get_current_dir();
	g_autoptr(GDir) dir = NULL;

	g_assert_no_error(error);
	/* the old behaviour made "postgresql:/usbpass:s3cret@db.example:5432/" here */
	g_assert_cmpint(chdir(tmpdir), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(UsbpassSqliteStore) store = NULL;
		g_test_message("location{%s}", cases[i].location);
		store = usbpass_sqlite_store_new(cases[i].location, &error_local);
		g_assert_null(store);
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error_local->message, cases[i].message));
		/* a password never reaches a log */
		g_assert_null(strstr(error_local->message, "s3cret"));
	}
	dir = g_dir_open(tmpdir, 0, &error);
	g_assert_no_error(error);
	g_assert_null(g_dir_read_name(dir));
	g_assert_cmpint(chdir(cwd), ==, 0);
	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
}

static void
remove_tree(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR))
			remove_tree(child);
		else
			g_assert_cmpint(g_unlink(child), ==, 0);
	}
	g_assert_cmpint(g_rmdir(path), ==, 0);
}

/* relative paths that only look a little like URIs stay files */
static void
test_store_location_paths(void)
{
	const gchar *names[] = { "usbpass.db", "state:1.db", "x:/usbpass.db", ":memory:" };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-store-location-XXXXXX", &error);
	g_autofree gchar *cwd = g_get_current_dir();

	g_assert_no_error(error);
	g_assert_cmpint(chdir(tmpdir), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(UsbpassSqliteStore) store =
		  usbpass_sqlite_store_new(names[i], &error_local);
		g_test_message("path{%s}", names[i]);
		g_assert_no_error(error_local);
		g_assert_nonnull(store);
	}
	g_assert_true(g_file_test("state:1.db", G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(chdir(cwd), ==, 0);
	remove_tree(tmpdir);
}

/* the factory: every scheme but PostgreSQL's is refused, nothing created */
static void
test_store_location_open(void)
{
	const LocationCase cases[] = {
		{ "mysql://root:s3cret@db.example/usbpass", "a URI with the scheme 'mysql'" },
		{ "file:///var/lib/usbpass/usbpass.db", "a URI with the scheme 'file'" },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-store-location-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(tmpdir, "usbpass.db", NULL);
	g_autofree gchar *cwd = g_get_current_dir();
	g_autoptr(UsbpassStore) store = NULL;

	g_assert_no_error(error);
	g_assert_cmpint(chdir(tmpdir), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(UsbpassStore) refused = usbpass_store_open(cases[i].location, &error_local);
		g_test_message("location{%s}", cases[i].location);
		g_assert_null(refused);
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error_local->message, cases[i].message));
		g_assert_null(strstr(error_local->message, "s3cret"));
	}
#ifdef USBPASS_HAVE_LIBPQ
	{
		/* a server that is not there: STORE, naming it without the password */
		g_autoptr(GError) error_local = NULL;
		g_autoptr(UsbpassStore) absent = usbpass_store_open(
		  "postgresql://usbpass:s3cret@/usbpass?host=/nonexistent/usbpass&password=s3cret",
		  &error_local);
		g_assert_null(absent);
		g_assert_error(error_local, USBPASS_ERROR, USBPASS_ERROR_STORE);
		g_assert_nonnull(strstr(error_local->message, "'postgresql://usbpass@/nonexistent/usbpass/usbpass'"));
		g_assert_null(strstr(error_local->message, "s3cret"));
	}
#endif
	g_assert_cmpint(chdir(cwd), ==, 0);

	store = usbpass_store_open(path, &error);
	g_assert_no_error(error);
	g_assert_true(USBPASS_IS_SQLITE_STORE(store));
	g_clear_object(&store);
	remove_tree(tmpdir);
}

/* what the daemon logs for a location */
static void
test_store_location_display(void)
{
	const struct {
		const gchar *location;
		const gchar *shown;
	} cases[] = {
		{ "/var/lib/usbpass/usbpass.db", "/var/lib/usbpass/usbpass.db" },
#ifdef USBPASS_HAVE_LIBPQ
		{ "postgresql://usbpass:s3cret@db.example:5433/cluster?sslmode=require&password=s3cret",
		  "postgresql://usbpass@db.example:5433/cluster" },
		{ "postgres://db.example/cluster", "postgresql://db.example/cluster" },
		{ "postgresql:///cluster?host=/run/postgresql&password=s3cret",
		  "postgresql:///run/postgresql/cluster" },
#endif
		{ "mysql://root:s3cret@db.example/usbpass", "mysql://db.example/usbpass" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *shown = usbpass_store_location_to_display(cases[i].location);
		g_assert_cmpstr(shown, ==, cases[i].shown);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/store/location{open}", test_store_location_open);
	g_test_add_func("/usbpass/store/location{display}", test_store_location_display);
	g_test_add_func("/usbpass/store/location{uri}", test_store_location_uri);
	g_test_add_func("/usbpass/store/location{paths}", test_store_location_paths);
	return g_test_run();
}

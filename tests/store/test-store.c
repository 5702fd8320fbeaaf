/*
 * test-store.c: the store's contract on both backends, SQLite and PostgreSQL
 * (one suite, the fixture parametrised by backend): every field, every
 * transition, fencing, the audit log, tokens, hostile strings and concurrent
 * claims; and what only one backend has (SQLite files and migrations, busy
 * timeouts; PostgreSQL concurrent migrations, claim races between
 * connections, a server restart). The PostgreSQL cases run on a private
 * server (usbpass-pg-harness) and are skipped, with the reason, without one.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef USBPASS_HAVE_LIBPQ
#include <libpq-fe.h>
#endif
#include <gio/gio.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-sqlite-store.h"
#include "usbpass-store-open.h"
#ifdef USBPASS_HAVE_LIBPQ
#include "usbpass-pg-harness.h"
#include "usbpass-pg-store.h"
#endif

#define HOST "host-a"
#define DEVICE_ID "0781:5567:s:4C530001230123456789"
#define UUID_A "0b6c6f5a-5e1a-4c1e-9d55-000000000001"
#define UUID_B "0b6c6f5a-5e1a-4c1e-9d55-000000000002"

typedef enum {
	BACKEND_SQLITE,
	BACKEND_PG,
} Backend;

typedef struct {
	Backend backend;
	gchar *tmpdir;
	gchar *path; /* the SQLite file, or the PostgreSQL URI */
	UsbpassStore *store;
} Fixture;

#ifdef USBPASS_HAVE_LIBPQ
/* one private server for the whole run, started by main() */
static UsbpassPgHarness *pg_harness = NULL;
#endif

static UsbpassStore *
open_store(Backend backend, const gchar *location, GError **error)
{
#ifdef USBPASS_HAVE_LIBPQ
	if (backend == BACKEND_PG)
		return USBPASS_STORE(usbpass_pg_store_new(location, error));
#endif
	return USBPASS_STORE(usbpass_sqlite_store_new(location, error));
}

static void
set_audit_max_rows(Fixture *fx, guint max_rows)
{
#ifdef USBPASS_HAVE_LIBPQ
	if (fx->backend == BACKEND_PG) {
		usbpass_pg_store_set_audit_max_rows(USBPASS_PG_STORE(fx->store), max_rows);
		return;
	}
#endif
	usbpass_sqlite_store_set_audit_max_rows(USBPASS_SQLITE_STORE(fx->store), max_rows);
}

static void
rm_rf(const gchar *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			rm_rf(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	fx->backend = (Backend)GPOINTER_TO_INT(user_data);
	fx->tmpdir = g_dir_make_tmp("usbpass-store-XXXXXX", &error);
	g_assert_no_error(error);
#ifdef USBPASS_HAVE_LIBPQ
	if (fx->backend == BACKEND_PG) {
		/* a fresh database for every test */
		fx->path = usbpass_pg_harness_create_database(pg_harness, &error);
		g_assert_no_error(error);
	}
#endif
	/* the store creates the missing directories itself */
	if (fx->path == NULL)
		fx->path = g_build_filename(fx->tmpdir, "var", "lib", "usbpass", "usbpass.db", NULL);
	fx->store = open_store(fx->backend, fx->path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(fx->store);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_clear_object(&fx->store);
	rm_rf(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->path);
}

static UsbpassStoreDevice *
make_device(const gchar *host, const gchar *device_id)
{
	UsbpassStoreDevice *device = usbpass_store_device_new();
	device->host = g_strdup(host);
	device->device_id = g_strdup(device_id);
	device->name = g_strdup("SanDisk Corp. Cruzer Blade");
	device->bus = 2;
	device->device = 7;
	device->vendor_id = 0x0781;
	device->product_id = 0x5567;
	device->serial = g_strdup("4C530001230123456789");
	device->port = g_strdup("2-1.4");
	device->present = TRUE;
	device->created_usec = 1700000000000001;
	device->updated_usec = 1700000000000002;
	return device;
}

static void
add_device(UsbpassStore *store, const gchar *host, const gchar *device_id)
{
	g_autoptr(UsbpassStoreDevice) device = make_device(host, device_id);
	g_autoptr(GError) error = NULL;
	g_assert_true(usbpass_store_upsert_device(store, device, &error));
	g_assert_no_error(error);
}

static UsbpassStoreDevice *
get_device(UsbpassStore *store, const gchar *device_id)
{
	g_autoptr(GError) error = NULL;
	UsbpassStoreDevice *device = usbpass_store_get_device(store, HOST, device_id, &error);
	g_assert_no_error(error);
	g_assert_nonnull(device);
	return device;
}

static void
assert_device_equal(const UsbpassStoreDevice *a, const UsbpassStoreDevice *b)
{
	g_assert_cmpstr(a->host, ==, b->host);
	g_assert_cmpstr(a->device_id, ==, b->device_id);
	g_assert_cmpstr(a->name, ==, b->name);
	g_assert_cmpuint(a->bus, ==, b->bus);
	g_assert_cmpuint(a->device, ==, b->device);
	g_assert_cmpuint(a->vendor_id, ==, b->vendor_id);
	g_assert_cmpuint(a->product_id, ==, b->product_id);
	g_assert_cmpstr(a->serial, ==, b->serial);
	g_assert_cmpstr(a->port, ==, b->port);
	g_assert_cmpstr(a->instance_uuid, ==, b->instance_uuid);
	g_assert_cmpstr(a->instance_name, ==, b->instance_name);
	g_assert_cmpint(a->state, ==, b->state);
	g_assert_cmpint(a->present, ==, b->present);
	g_assert_cmpstr(a->error, ==, b->error);
	g_assert_cmpint(a->created_usec, ==, b->created_usec);
	g_assert_cmpint(a->updated_usec, ==, b->updated_usec);
}

/* drives a fresh row into @state by the ways the engine uses */
static void
drive_to_state(UsbpassStore *store, const gchar *device_id, UsbpassDeviceState state)
{
	g_autoptr(GError) error = NULL;
	const UsbpassDeviceState via_attached[] = {USBPASS_DEVICE_STATE_DETACHING,
						   USBPASS_DEVICE_STATE_MISSING};

	if (state == USBPASS_DEVICE_STATE_AVAILABLE)
		return;
	g_assert_true(usbpass_store_claim_device(store, HOST, device_id, UUID_A, "web01", &error));
	g_assert_no_error(error);
	if (state == USBPASS_DEVICE_STATE_ATTACHING)
		return;
	if (state == USBPASS_DEVICE_STATE_FAILED) {
		g_assert_true(usbpass_store_transition(store,
						       HOST,
						       device_id,
						       USBPASS_DEVICE_STATE_ATTACHING,
						       USBPASS_DEVICE_STATE_FAILED,
						       NULL,
						       NULL,
						       "internal error: cannot attach",
						       &error));
		g_assert_no_error(error);
		return;
	}
	g_assert_true(usbpass_store_transition(store,
					       HOST,
					       device_id,
					       USBPASS_DEVICE_STATE_ATTACHING,
					       USBPASS_DEVICE_STATE_ATTACHED,
					       NULL,
					       NULL,
					       NULL,
					       &error));
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(via_attached); i++) {
		if (state != via_attached[i])
			continue;
		g_assert_true(usbpass_store_transition(store,
						       HOST,
						       device_id,
						       USBPASS_DEVICE_STATE_ATTACHED,
						       state,
						       NULL,
						       NULL,
						       NULL,
						       &error));
		g_assert_no_error(error);
	}
}

/* names and records */

static void
test_names(void)
{
	for (guint i = 0; i < USBPASS_DEVICE_STATE_LAST; i++) {
		const gchar *name = usbpass_device_state_to_string((UsbpassDeviceState)i);
		g_assert_cmpint(usbpass_device_state_from_string(name), ==, i);
		/* only a claim leads from a free row to attaching; a transition
		 * reaches it only for a re-attach of an assigned row */
		g_assert_cmpint(usbpass_device_state_can_transition((UsbpassDeviceState)i,
								    USBPASS_DEVICE_STATE_ATTACHING),
				==,
				i == USBPASS_DEVICE_STATE_ATTACHED || i == USBPASS_DEVICE_STATE_MISSING);
	}
	g_assert_cmpstr(usbpass_device_state_to_string(USBPASS_DEVICE_STATE_MISSING), ==, "missing");
	g_assert_cmpint(usbpass_device_state_from_string("Attached"), ==, USBPASS_DEVICE_STATE_LAST);
	g_assert_cmpint(usbpass_device_state_from_string(NULL), ==, USBPASS_DEVICE_STATE_LAST);
	g_assert_cmpstr(usbpass_device_state_to_string(USBPASS_DEVICE_STATE_LAST), ==, "unknown");
	g_assert_false(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_LAST,
							   USBPASS_DEVICE_STATE_AVAILABLE));
	g_assert_false(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_AVAILABLE,
							   USBPASS_DEVICE_STATE_LAST));

	for (guint i = 0; i < USBPASS_TOKEN_ROLE_LAST; i++) {
		const gchar *name = usbpass_token_role_to_string((UsbpassTokenRole)i);
		g_assert_cmpint(usbpass_token_role_from_string(name), ==, i);
	}
	g_assert_cmpstr(usbpass_token_role_to_string(USBPASS_TOKEN_ROLE_OPERATOR), ==, "operator");
	g_assert_cmpint(usbpass_token_role_from_string("root"), ==, USBPASS_TOKEN_ROLE_LAST);
	g_assert_cmpint(usbpass_token_role_from_string(NULL), ==, USBPASS_TOKEN_ROLE_LAST);
	g_assert_cmpstr(usbpass_token_role_to_string(USBPASS_TOKEN_ROLE_LAST), ==, "unknown");
}

static void
test_records_copy(void)
{
	g_autoptr(UsbpassStoreDevice) device = make_device(HOST, DEVICE_ID);
	g_autoptr(UsbpassStoreDevice) device_copy = NULL;
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(UsbpassAuditEntry) entry_copy = NULL;
	g_autoptr(UsbpassToken) token = usbpass_token_new();
	g_autoptr(UsbpassToken) token_copy = NULL;

	device->instance_uuid = g_strdup(UUID_A);
	device->instance_name = g_strdup("web01");
	device->error = g_strdup("boom");
	device->state = USBPASS_DEVICE_STATE_FAILED;
	device_copy = usbpass_store_device_copy(device);
	assert_device_equal(device, device_copy);
	g_assert_true(device->name != device_copy->name);

	entry->id = 7;
	entry->created_usec = 9;
	entry->host = g_strdup(HOST);
	entry->actor = g_strdup("uid:0");
	entry->action = g_strdup("attach");
	entry->device_id = g_strdup(DEVICE_ID);
	entry->instance_uuid = g_strdup(UUID_A);
	entry->outcome = g_strdup("ok");
	entry->message = g_strdup("fine");
	entry_copy = usbpass_audit_entry_copy(entry);
	g_assert_cmpint(entry_copy->id, ==, 7);
	g_assert_cmpint(entry_copy->created_usec, ==, 9);
	g_assert_cmpstr(entry_copy->host, ==, HOST);
	g_assert_cmpstr(entry_copy->actor, ==, "uid:0");
	g_assert_cmpstr(entry_copy->action, ==, "attach");
	g_assert_cmpstr(entry_copy->device_id, ==, DEVICE_ID);
	g_assert_cmpstr(entry_copy->instance_uuid, ==, UUID_A);
	g_assert_cmpstr(entry_copy->outcome, ==, "ok");
	g_assert_cmpstr(entry_copy->message, ==, "fine");

	g_assert_cmpint(token->role, ==, USBPASS_TOKEN_ROLE_READER);
	token->name = g_strdup("ops");
	token->role = USBPASS_TOKEN_ROLE_ADMIN;
	token->secret_hash = g_strdup("sha256:00");
	token->created_usec = 3;
	token->last_used_usec = 4;
	token_copy = usbpass_token_copy(token);
	g_assert_cmpstr(token_copy->name, ==, "ops");
	g_assert_cmpint(token_copy->role, ==, USBPASS_TOKEN_ROLE_ADMIN);
	g_assert_cmpstr(token_copy->secret_hash, ==, "sha256:00");
	g_assert_cmpint(token_copy->created_usec, ==, 3);
	g_assert_cmpint(token_copy->last_used_usec, ==, 4);

	/* destructors accept NULL */
	usbpass_store_device_free(NULL);
	usbpass_audit_entry_free(NULL);
	usbpass_token_free(NULL);
}

/* a store that implements nothing: every call is NOT_SUPPORTED */

#define TEST_TYPE_EMPTY_STORE (test_empty_store_get_type())
G_DECLARE_FINAL_TYPE(TestEmptyStore, test_empty_store, TEST, EMPTY_STORE, GObject)
struct _TestEmptyStore {
	GObject parent_instance;
};
static void
test_empty_store_iface_init(UsbpassStoreInterface *iface)
{
}
G_DEFINE_TYPE_WITH_CODE(TestEmptyStore,
			test_empty_store,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(USBPASS_TYPE_STORE, test_empty_store_iface_init))
static void
test_empty_store_class_init(TestEmptyStoreClass *klass)
{
}
static void
test_empty_store_init(TestEmptyStore *self)
{
}

static void
test_not_supported(void)
{
	g_autoptr(TestEmptyStore) empty = g_object_new(TEST_TYPE_EMPTY_STORE, NULL);
	UsbpassStore *store = USBPASS_STORE(empty);
	g_autoptr(UsbpassStoreDevice) device = make_device(HOST, DEVICE_ID);
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(UsbpassToken) token = usbpass_token_new();
	g_autoptr(GError) error = NULL;

#define EXPECT_NOT_SUPPORTED(call)                                                                 \
	do {                                                                                       \
		g_assert_false((call) != 0);                                                       \
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_SUPPORTED);                 \
		g_assert_nonnull(strstr(error->message, "TestEmptyStore"));                        \
		g_clear_error(&error);                                                             \
	} while (0)

	EXPECT_NOT_SUPPORTED(usbpass_store_upsert_device(store, device, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_get_device(store, HOST, DEVICE_ID, &error) != NULL);
	EXPECT_NOT_SUPPORTED(usbpass_store_list_devices(store, NULL, &error) != NULL);
	EXPECT_NOT_SUPPORTED(usbpass_store_claim_device(store, HOST, DEVICE_ID, UUID_A, NULL, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_transition(store,
						      HOST,
						      DEVICE_ID,
						      USBPASS_DEVICE_STATE_ATTACHING,
						      USBPASS_DEVICE_STATE_ATTACHED,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_set_present(store, HOST, DEVICE_ID, TRUE, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_delete_device(store, HOST, DEVICE_ID, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_append_audit(store, entry, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_list_audit(store, NULL, 0, 0, &error) != NULL);
	EXPECT_NOT_SUPPORTED(usbpass_store_add_token(store, token, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_lookup_token(store, "sha256:00", &error) != NULL);
	EXPECT_NOT_SUPPORTED(usbpass_store_list_tokens(store, &error) != NULL);
	EXPECT_NOT_SUPPORTED(usbpass_store_revoke_token(store, "ops", &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_touch_token(store, "ops", 1, &error));
	EXPECT_NOT_SUPPORTED(
	    usbpass_store_claim_device_lease(store, HOST, DEVICE_ID, UUID_A, NULL, NULL, &error));
	EXPECT_NOT_SUPPORTED(usbpass_store_transition_lease(store,
							    HOST,
							    DEVICE_ID,
							    1,
							    USBPASS_DEVICE_STATE_ATTACHING,
							    USBPASS_DEVICE_STATE_ATTACHED,
							    NULL,
							    NULL,
							    NULL,
							    NULL,
							    &error));
#undef EXPECT_NOT_SUPPORTED
}

/* opening */

static void
test_open_modes(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *dirname = g_path_get_dirname(fx->path);
	g_autofree gchar *wal = g_strdup_printf("%s-wal", fx->path);
	GStatBuf st;

	g_assert_cmpint(g_stat(dirname, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0700);
	g_assert_cmpint(g_stat(fx->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	add_device(fx->store, HOST, DEVICE_ID);
	g_assert_cmpint(g_stat(wal, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpuint(usbpass_sqlite_store_get_schema_version(USBPASS_SQLITE_STORE(fx->store)),
			 ==,
			 USBPASS_SQLITE_STORE_SCHEMA_VERSION);
	g_assert_cmpstr(usbpass_sqlite_store_get_path(USBPASS_SQLITE_STORE(fx->store)), ==, fx->path);
}

static void
test_open_memory(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassSqliteStore) store = usbpass_sqlite_store_new(":memory:", &error);
	g_autoptr(UsbpassStoreDevice) device = NULL;

	g_assert_no_error(error);
	add_device(USBPASS_STORE(store), HOST, DEVICE_ID);
	device = get_device(USBPASS_STORE(store), DEVICE_ID);
	g_assert_cmpstr(device->port, ==, "2-1.4");
}

typedef struct {
	const gchar *name;
	const gchar *contents; /* of the file "db"; NULL: make "db" a directory */
	const gchar *path;     /* relative to the temp dir */
	const gchar *message;  /* part of the error message */
} OpenFailCase;

static void
test_open_fail(void)
{
	const OpenFailCase cases[] = {
	    {"not-a-database", "this is not SQLite, just text long enough to be a header\n", "db", "not a database"},
	    {"directory", NULL, "db", "cannot open database"},
	    {"below-a-file", "x", "db/sub/usbpass.db", "cannot create directory"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-store-XXXXXX", &error);
		g_autofree gchar *file = g_build_filename(tmpdir, "db", NULL);
		g_autofree gchar *path = g_build_filename(tmpdir, cases[i].path, NULL);
		g_autoptr(UsbpassSqliteStore) store = NULL;

		g_assert_no_error(error);
		g_test_message("case %s", cases[i].name);
		if (cases[i].contents != NULL)
			g_assert_true(g_file_set_contents(file, cases[i].contents, -1, NULL));
		else
			g_assert_cmpint(g_mkdir(file, 0700), ==, 0);
		store = usbpass_sqlite_store_new(path, &error);
		g_assert_null(store);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_STORE);
		g_assert_nonnull(strstr(error->message, cases[i].message));
		rm_rf(tmpdir);
	}
}

static void
exec_sql(sqlite3 *db, const gchar *sql)
{
	gchar *errmsg = NULL;
	gint rc = sqlite3_exec(db, sql, NULL, NULL, &errmsg);
	if (rc != SQLITE_OK)
		g_error("%s: %s", sql, errmsg);
}

static void
test_open_newer_schema(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassSqliteStore) store = NULL;
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open(fx->path, &db), ==, SQLITE_OK);
	exec_sql(db, "INSERT INTO schema_version (version, migrated_usec) VALUES (99, 0)");
	sqlite3_close(db);

	store = usbpass_sqlite_store_new(fx->path, &error);
	g_assert_null(store);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_STORE);
	g_assert_nonnull(strstr(error->message, "schema version 99"));
}

/* the schema of version 1, as the first release wrote it */
static const gchar *schema_v1 =
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, migrated_usec INTEGER NOT NULL) STRICT;"
    "CREATE TABLE host_usb_devices ("
    " host TEXT NOT NULL CHECK (length(host) > 0),"
    " device_id TEXT NOT NULL CHECK (length(device_id) > 0),"
    " name TEXT,"
    " bus INTEGER NOT NULL DEFAULT 0 CHECK (bus >= 0),"
    " device INTEGER NOT NULL DEFAULT 0 CHECK (device >= 0),"
    " vendor_id INTEGER NOT NULL DEFAULT 0 CHECK (vendor_id BETWEEN 0 AND 65535),"
    " product_id INTEGER NOT NULL DEFAULT 0 CHECK (product_id BETWEEN 0 AND 65535),"
    " serial TEXT,"
    " port TEXT,"
    " instance_uuid TEXT CHECK (instance_uuid IS NULL OR length(instance_uuid) > 0),"
    " instance_name TEXT,"
    " state TEXT NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'attaching',"
    "  'attached', 'detaching', 'failed', 'missing')),"
    " present INTEGER NOT NULL DEFAULT 0 CHECK (present IN (0, 1)),"
    " error TEXT,"
    " created_usec INTEGER NOT NULL,"
    " updated_usec INTEGER NOT NULL,"
    " PRIMARY KEY (host, device_id),"
    " CHECK ((state = 'available') = (instance_uuid IS NULL)),"
    " CHECK (instance_name IS NULL OR instance_uuid IS NOT NULL)"
    ") STRICT;"
    "CREATE INDEX host_usb_devices_instance ON host_usb_devices (instance_uuid)"
    " WHERE instance_uuid IS NOT NULL;"
    "CREATE TABLE audit_log ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_usec INTEGER NOT NULL,"
    " host TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " device_id TEXT,"
    " instance_uuid TEXT,"
    " outcome TEXT NOT NULL,"
    " message TEXT"
    ") STRICT;"
    "INSERT INTO schema_version VALUES (1, 1600000000000000);"
    "INSERT INTO host_usb_devices (host, device_id, name, bus, device, vendor_id, product_id,"
    " serial, port, instance_uuid, instance_name, state, present, error, created_usec,"
    " updated_usec) VALUES ('host-a', '0781:5567:s:OLD', 'Old stick', 1, 4, 1921, 21863,"
    " 'OLD', '1-2', '" UUID_A "', 'web01', 'missing', 0, NULL, 10, 20);"
    "INSERT INTO audit_log (created_usec, host, actor, action, device_id, instance_uuid,"
    " outcome, message) VALUES (30, 'host-a', 'uid:0', 'attach', '0781:5567:s:OLD',"
    " '" UUID_A "', 'ok', NULL);";

static void
test_migrate_v1(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-store-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(tmpdir, "usbpass.db", NULL);
	g_autoptr(UsbpassSqliteStore) store = NULL;
	g_autoptr(UsbpassStoreDevice) device = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(UsbpassToken) token = usbpass_token_new();
	g_autoptr(UsbpassToken) found = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	sqlite3 *db = NULL;

	g_assert_no_error(error);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	exec_sql(db, schema_v1);
	sqlite3_close(db);

	store = usbpass_sqlite_store_new(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(usbpass_sqlite_store_get_schema_version(store), ==, 3);

	/* the old rows survive, the new table works */
	device = usbpass_store_get_device(USBPASS_STORE(store), HOST, "0781:5567:s:OLD", &error);
	g_assert_no_error(error);
	g_assert_cmpint(device->state, ==, USBPASS_DEVICE_STATE_MISSING);
	g_assert_cmpstr(device->instance_name, ==, "web01");
	g_assert_cmpuint(device->vendor_id, ==, 0x0781);
	/* leases start at 0 for rows older than fencing */
	g_assert_cmpuint(device->generation, ==, 0);
	entries = usbpass_store_list_audit(USBPASS_STORE(store), HOST, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 1);
	token->name = g_strdup("ops");
	token->role = USBPASS_TOKEN_ROLE_OPERATOR;
	token->secret_hash = g_strdup("sha256:" "0123456789abcdef0123456789abcdef"
				      "0123456789abcdef0123456789abcdef");
	g_assert_true(usbpass_store_add_token(USBPASS_STORE(store), token, &error));
	g_assert_no_error(error);
	found = usbpass_store_lookup_token(USBPASS_STORE(store), token->secret_hash, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->name, ==, "ops");
	g_clear_object(&store);

	/* the log of migrations: version 1 as found, versions 2 and 3 added once,
	 * even when opened again */
	store = usbpass_sqlite_store_new(path, &error);
	g_assert_no_error(error);
	g_clear_object(&store);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db,
					   "SELECT group_concat(version) FROM "
					   "(SELECT version FROM schema_version ORDER BY version)",
					   -1,
					   &stmt,
					   NULL),
			==,
			SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	g_assert_cmpstr((const gchar *)sqlite3_column_text(stmt, 0), ==, "1,2,3");
	g_clear_pointer(&stmt, sqlite3_finalize);
	sqlite3_close(db);
	rm_rf(tmpdir);
}

/* devices */

static void
test_device_round_trip(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassStoreDevice) device = make_device(HOST, DEVICE_ID);
	g_autoptr(UsbpassStoreDevice) got = NULL;
	g_autoptr(UsbpassStoreDevice) after = NULL;
	g_autoptr(GError) error = NULL;
	gint64 before_usec;

	/* state, instance and error given to upsert are ignored: a new row is available */
	device->state = USBPASS_DEVICE_STATE_ATTACHED;
	device->instance_uuid = g_strdup(UUID_B);
	device->error = g_strdup("ignored");
	g_assert_true(usbpass_store_upsert_device(fx->store, device, &error));
	g_assert_no_error(error);
	got = get_device(fx->store, DEVICE_ID);
	g_clear_pointer(&device->instance_uuid, g_free);
	g_clear_pointer(&device->error, g_free);
	device->state = USBPASS_DEVICE_STATE_AVAILABLE;
	assert_device_equal(got, device);

	/* instance, name, state and error round-trip through claim and transition */
	before_usec = g_get_real_time();
	g_assert_true(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, UUID_A, "web01", &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_ATTACHING,
					       USBPASS_DEVICE_STATE_FAILED,
					       NULL,
					       NULL,
					       "Requested operation is not valid: USB device 002:007 is in use",
					       &error));
	g_assert_no_error(error);
	after = get_device(fx->store, DEVICE_ID);
	g_assert_cmpstr(after->instance_uuid, ==, UUID_A);
	g_assert_cmpstr(after->instance_name, ==, "web01");
	g_assert_cmpint(after->state, ==, USBPASS_DEVICE_STATE_FAILED);
	g_assert_cmpstr(after->error,
			==,
			"Requested operation is not valid: USB device 002:007 is in use");
	g_assert_cmpint(after->created_usec, ==, device->created_usec);
	g_assert_cmpint(after->updated_usec, >=, before_usec);
	g_assert_cmpint(after->updated_usec, <=, g_get_real_time());

	/* a record with no optional field, timestamps chosen by the store */
	{
		g_autoptr(UsbpassStoreDevice) bare = usbpass_store_device_new();
		g_autoptr(UsbpassStoreDevice) bare_got = NULL;
		bare->host = g_strdup(HOST);
		bare->device_id = g_strdup("1d6b:0002:p:usb1");
		g_assert_true(usbpass_store_upsert_device(fx->store, bare, &error));
		g_assert_no_error(error);
		bare_got = get_device(fx->store, "1d6b:0002:p:usb1");
		g_assert_null(bare_got->name);
		g_assert_null(bare_got->serial);
		g_assert_null(bare_got->port);
		g_assert_false(bare_got->present);
		g_assert_cmpuint(bare_got->bus, ==, 0);
		g_assert_cmpint(bare_got->created_usec, >=, before_usec);
		g_assert_cmpint(bare_got->updated_usec, ==, bare_got->created_usec);
	}
}

static void
test_device_upsert_keeps_state(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassStoreDevice) device = make_device(HOST, DEVICE_ID);
	g_autoptr(UsbpassStoreDevice) before = NULL;
	g_autoptr(UsbpassStoreDevice) after = NULL;
	g_autoptr(GError) error = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	drive_to_state(fx->store, DEVICE_ID, USBPASS_DEVICE_STATE_FAILED);
	before = get_device(fx->store, DEVICE_ID);

	/* re-plugged elsewhere: new address and port, a new name from the hwdb */
	g_free(device->name);
	device->name = g_strdup("SanDisk Cruzer");
	device->bus = 3;
	device->device = 12;
	g_free(device->port);
	device->port = g_strdup("3-2");
	g_clear_pointer(&device->serial, g_free);
	device->present = FALSE;
	device->created_usec = 5;
	device->updated_usec = 6;
	g_assert_true(usbpass_store_upsert_device(fx->store, device, &error));
	g_assert_no_error(error);
	after = get_device(fx->store, DEVICE_ID);
	g_assert_cmpstr(after->name, ==, "SanDisk Cruzer");
	g_assert_cmpuint(after->bus, ==, 3);
	g_assert_cmpuint(after->device, ==, 12);
	g_assert_cmpstr(after->port, ==, "3-2");
	g_assert_null(after->serial);
	g_assert_false(after->present);
	/* untouched by upsert */
	g_assert_cmpint(after->state, ==, before->state);
	g_assert_cmpstr(after->instance_uuid, ==, before->instance_uuid);
	g_assert_cmpstr(after->instance_name, ==, before->instance_name);
	g_assert_cmpstr(after->error, ==, before->error);
	g_assert_cmpint(after->created_usec, ==, before->created_usec);
	g_assert_cmpint(after->updated_usec, ==, before->updated_usec);
}

static void
test_device_list(Fixture *fx, gconstpointer user_data)
{
	const gchar *ids[] = {"b", "a", "c"};
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) one_host = NULL;
	g_autoptr(GPtrArray) none = NULL;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		add_device(fx->store, "host-b", ids[i]);
		add_device(fx->store, HOST, ids[i]);
	}
	all = usbpass_store_list_devices(fx->store, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 6);
	for (guint i = 0; i < all->len; i++) {
		UsbpassStoreDevice *row = g_ptr_array_index(all, i);
		g_assert_cmpstr(row->host, ==, i < 3 ? HOST : "host-b");
		const gchar *expected[] = {"a", "b", "c"};
		g_assert_cmpstr(row->device_id, ==, expected[i % 3]);
	}
	one_host = usbpass_store_list_devices(fx->store, "host-b", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(one_host->len, ==, 3);
	none = usbpass_store_list_devices(fx->store, "host-c", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
}

typedef struct {
	const gchar *name;
	const gchar *host;
	const gchar *device_id;
	const gchar *field; /* "name", "serial" or "port" to set to @value */
	const gchar *value;
	const gchar *message;
} UpsertFailCase;

static void
test_device_invalid(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *long_text = g_strnfill(1025, 'x');
	const UpsertFailCase cases[] = {
	    {"no-host", NULL, DEVICE_ID, NULL, NULL, "host is missing"},
	    {"empty-host", "", DEVICE_ID, NULL, NULL, "host is empty"},
	    {"no-id", HOST, NULL, NULL, NULL, "identity is missing"},
	    {"empty-id", HOST, "", NULL, NULL, "identity is empty"},
	    {"bad-utf8-id", HOST, "0781:5567:s:\xff\xfe", NULL, NULL, "not valid UTF-8"},
	    {"bad-utf8-name", HOST, DEVICE_ID, "name", "Cruzer \xc3", "name is not valid UTF-8"},
	    {"long-serial", HOST, DEVICE_ID, "serial", long_text, "longer than 1024 bytes"},
	    {"bad-utf8-port", HOST, DEVICE_ID, "port", "1-\x80", "port is not valid UTF-8"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassStoreDevice) device = make_device(HOST, DEVICE_ID);
		g_autoptr(GPtrArray) rows = NULL;
		g_autoptr(GError) error = NULL;

		g_test_message("case %s", cases[i].name);
		g_free(device->host);
		device->host = g_strdup(cases[i].host);
		g_free(device->device_id);
		device->device_id = g_strdup(cases[i].device_id);
		if (g_strcmp0(cases[i].field, "name") == 0) {
			g_free(device->name);
			device->name = g_strdup(cases[i].value);
		} else if (g_strcmp0(cases[i].field, "serial") == 0) {
			g_free(device->serial);
			device->serial = g_strdup(cases[i].value);
		} else if (g_strcmp0(cases[i].field, "port") == 0) {
			g_free(device->port);
			device->port = g_strdup(cases[i].value);
		}
		g_assert_false(usbpass_store_upsert_device(fx->store, device, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, cases[i].message));
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		rows = usbpass_store_list_devices(fx->store, NULL, NULL);
		g_assert_cmpuint(rows->len, ==, 0);
	}
}

static void
test_device_not_found(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) device = NULL;

	/* a row of another host is not this host's row */
	add_device(fx->store, "host-b", DEVICE_ID);

	device = usbpass_store_get_device(fx->store, HOST, DEVICE_ID, &error);
	g_assert_null(device);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_cmpstr(error->message,
			==,
			"USB device '" DEVICE_ID "' is not known on host '" HOST "'");
	g_clear_error(&error);

	g_assert_false(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, UUID_A, NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_ATTACHING,
						USBPASS_DEVICE_STATE_ATTACHED,
						NULL,
						NULL,
						NULL,
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_store_set_present(fx->store, HOST, DEVICE_ID, TRUE, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(usbpass_store_delete_device(fx->store, HOST, DEVICE_ID, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

static void
test_device_present(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	for (guint i = 0; i < 3; i++) {
		gboolean present = i % 2 == 0 ? FALSE : TRUE;
		g_autoptr(UsbpassStoreDevice) device = NULL;
		g_assert_true(usbpass_store_set_present(fx->store, HOST, DEVICE_ID, present, &error));
		g_assert_no_error(error);
		device = get_device(fx->store, DEVICE_ID);
		g_assert_cmpint(device->present, ==, present);
	}
}

static void
test_device_delete(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) device = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	drive_to_state(fx->store, DEVICE_ID, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_false(usbpass_store_delete_device(fx->store, HOST, DEVICE_ID, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
	g_assert_nonnull(strstr(error->message, "in use by instance 'web01'"));
	g_clear_error(&error);

	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_ATTACHED,
					       USBPASS_DEVICE_STATE_AVAILABLE,
					       NULL,
					       NULL,
					       NULL,
					       &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_store_delete_device(fx->store, HOST, DEVICE_ID, &error));
	g_assert_no_error(error);
	device = usbpass_store_get_device(fx->store, HOST, DEVICE_ID, &error);
	g_assert_null(device);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
}

/* transitions */

static void
test_transition_table(Fixture *fx, gconstpointer user_data)
{
	guint n_allowed = 0;

	/* every pair: a fresh row driven into @from, then moved to @to */
	for (guint from = 0; from < USBPASS_DEVICE_STATE_LAST; from++) {
		for (guint to = 0; to < USBPASS_DEVICE_STATE_LAST; to++) {
			g_autofree gchar *device_id = g_strdup_printf("dev-%u-%u", from, to);
			g_autoptr(UsbpassStoreDevice) row = NULL;
			g_autoptr(GError) error = NULL;
			gboolean allowed = usbpass_device_state_can_transition(from, to);
			/* from available, the target needs an instance */
			const gchar *uuid = from == USBPASS_DEVICE_STATE_AVAILABLE && to != from
						? UUID_B
						: NULL;
			gboolean ok;

			add_device(fx->store, HOST, device_id);
			drive_to_state(fx->store, device_id, from);
			ok = usbpass_store_transition(fx->store,
						      HOST,
						      device_id,
						      from,
						      to,
						      uuid,
						      NULL,
						      NULL,
						      &error);
			row = get_device(fx->store, device_id);
			if (allowed) {
				g_assert_no_error(error);
				g_assert_true(ok);
				g_assert_cmpint(row->state, ==, to);
				if (to == USBPASS_DEVICE_STATE_AVAILABLE) {
					g_assert_null(row->instance_uuid);
					g_assert_null(row->instance_name);
				} else {
					g_assert_cmpstr(row->instance_uuid, ==, uuid != NULL ? uuid : UUID_A);
				}
				/* the error of a settled row is replaced: NULL clears */
				g_assert_null(row->error);
				n_allowed++;
			} else {
				g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
				g_assert_false(ok);
				g_assert_cmpint(row->state, ==, from);
			}
		}
	}
	/* the table of docs/states.md: 23 moves, plus the re-attach of an assigned
	 * row (attached/missing -> attaching) and its crash rollback (-> missing) */
	g_assert_cmpuint(n_allowed, ==, 26);
	g_assert_true(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_ATTACHING,
							  USBPASS_DEVICE_STATE_ATTACHED));
	g_assert_true(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_MISSING,
							  USBPASS_DEVICE_STATE_ATTACHED));
	g_assert_false(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_AVAILABLE,
							   USBPASS_DEVICE_STATE_DETACHING));
	g_assert_false(usbpass_device_state_can_transition(USBPASS_DEVICE_STATE_DETACHING,
							   USBPASS_DEVICE_STATE_MISSING));
}

static void
test_transition_stale(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	drive_to_state(fx->store, DEVICE_ID, USBPASS_DEVICE_STATE_ATTACHED);

	/* a second worker that still believes the attach is running */
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_ATTACHING,
						USBPASS_DEVICE_STATE_FAILED,
						NULL,
						NULL,
						"late failure",
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
	g_assert_cmpstr(error->message,
			==,
			"USB device '" DEVICE_ID "' is 'attached', not 'attaching': another "
			"request changed it first");
	row = get_device(fx->store, DEVICE_ID);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_null(row->error);
}

static void
test_transition_instance(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_message = g_strnfill(USBPASS_STORE_MESSAGE_MAX * 2, 'e');

	add_device(fx->store, HOST, DEVICE_ID);

	/* from available: an instance is required, and made only by a claim or an import */
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_AVAILABLE,
						USBPASS_DEVICE_STATE_ATTACHED,
						NULL,
						NULL,
						NULL,
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "without an instance"));
	g_clear_error(&error);
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_AVAILABLE,
						USBPASS_DEVICE_STATE_ATTACHED,
						"",
						NULL,
						NULL,
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_AVAILABLE,
						USBPASS_DEVICE_STATE_ATTACHING,
						UUID_A,
						NULL,
						NULL,
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "only a claim or a re-attach attaches"));
	g_clear_error(&error);

	/* reconcile imports a hostdev it found in instance A's definition */
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_AVAILABLE,
					       USBPASS_DEVICE_STATE_ATTACHED,
					       UUID_A,
					       "web01",
					       NULL,
					       &error));
	g_assert_no_error(error);

	/* the name stays when not given */
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_ATTACHED,
					       USBPASS_DEVICE_STATE_MISSING,
					       NULL,
					       NULL,
					       NULL,
					       &error));
	g_assert_no_error(error);
	{
		g_autoptr(UsbpassStoreDevice) row = get_device(fx->store, DEVICE_ID);
		g_assert_cmpstr(row->instance_uuid, ==, UUID_A);
		g_assert_cmpstr(row->instance_name, ==, "web01");
	}

	/* a renamed instance: same uuid, new name */
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_MISSING,
					       USBPASS_DEVICE_STATE_MISSING,
					       UUID_A,
					       "web01-renamed",
					       NULL,
					       &error));
	g_assert_no_error(error);
	{
		g_autoptr(UsbpassStoreDevice) row = get_device(fx->store, DEVICE_ID);
		g_assert_cmpstr(row->instance_name, ==, "web01-renamed");
	}

	/* another instance without a name: the old name must not stick to it */
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_MISSING,
					       USBPASS_DEVICE_STATE_FAILED,
					       UUID_B,
					       NULL,
					       long_message,
					       &error));
	g_assert_no_error(error);
	{
		g_autoptr(UsbpassStoreDevice) row = get_device(fx->store, DEVICE_ID);
		g_assert_cmpstr(row->instance_uuid, ==, UUID_B);
		g_assert_null(row->instance_name);
		/* a hypervisor's message is kept, bounded */
		g_assert_cmpuint(strlen(row->error), <=, USBPASS_STORE_MESSAGE_MAX);
		g_assert_true(g_str_has_prefix(row->error, "eeee"));
	}

	/* released: instance, name gone; the error says why, on one line */
	g_assert_false(usbpass_store_transition(fx->store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_FAILED,
						USBPASS_DEVICE_STATE_AVAILABLE,
						UUID_B,
						NULL,
						NULL,
						&error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_true(usbpass_store_transition(fx->store,
					       HOST,
					       DEVICE_ID,
					       USBPASS_DEVICE_STATE_FAILED,
					       USBPASS_DEVICE_STATE_AVAILABLE,
					       NULL,
					       "ignored",
					       "released:\ninstance undefined",
					       &error));
	g_assert_no_error(error);
	{
		g_autoptr(UsbpassStoreDevice) row = get_device(fx->store, DEVICE_ID);
		g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_AVAILABLE);
		g_assert_null(row->instance_uuid);
		g_assert_null(row->instance_name);
		g_assert_cmpstr(row->error, ==, "released: instance undefined");
	}
}

/* claims */

typedef struct {
	const gchar *name;
	UsbpassDeviceState state; /* of the row, assigned to UUID_A "web01" unless available */
	const gchar *uuid;	  /* who claims */
	gint code;		  /* -1: success */
	const gchar *message;
} ClaimCase;

static void
test_claim(Fixture *fx, gconstpointer user_data)
{
	const ClaimCase cases[] = {
	    {"available", USBPASS_DEVICE_STATE_AVAILABLE, UUID_B, -1, NULL},
	    {"failed-same", USBPASS_DEVICE_STATE_FAILED, UUID_A, -1, NULL},
	    {"failed-other",
	     USBPASS_DEVICE_STATE_FAILED,
	     UUID_B,
	     USBPASS_ERROR_IN_USE,
	     "USB device '%s' is in use by instance 'web01'"},
	    {"attaching",
	     USBPASS_DEVICE_STATE_ATTACHING,
	     UUID_B,
	     USBPASS_ERROR_BUSY,
	     "USB device '%s' is being attached to instance 'web01' right now"},
	    {"attaching-same",
	     USBPASS_DEVICE_STATE_ATTACHING,
	     UUID_A,
	     USBPASS_ERROR_BUSY,
	     "USB device '%s' is being attached to instance 'web01' right now"},
	    {"detaching",
	     USBPASS_DEVICE_STATE_DETACHING,
	     UUID_B,
	     USBPASS_ERROR_BUSY,
	     "USB device '%s' is being detached from instance 'web01' right now"},
	    {"attached-other",
	     USBPASS_DEVICE_STATE_ATTACHED,
	     UUID_B,
	     USBPASS_ERROR_IN_USE,
	     "USB device '%s' is in use by instance 'web01'"},
	    {"attached-same",
	     USBPASS_DEVICE_STATE_ATTACHED,
	     UUID_A,
	     USBPASS_ERROR_IN_USE,
	     "USB device '%s' is already assigned to instance 'web01' (attached)"},
	    {"missing-other",
	     USBPASS_DEVICE_STATE_MISSING,
	     UUID_B,
	     USBPASS_ERROR_IN_USE,
	     "USB device '%s' is in use by instance 'web01'"},
	    {"missing-same",
	     USBPASS_DEVICE_STATE_MISSING,
	     UUID_A,
	     USBPASS_ERROR_IN_USE,
	     "USB device '%s' is already assigned to instance 'web01' (missing)"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassStoreDevice) before = NULL;
		g_autoptr(UsbpassStoreDevice) after = NULL;
		g_autofree gchar *device_id = g_strdup_printf("0781:5567:s:%s", cases[i].name);
		gboolean ok;

		g_test_message("case %s", cases[i].name);
		add_device(fx->store, HOST, device_id);
		drive_to_state(fx->store, device_id, cases[i].state);
		before = get_device(fx->store, device_id);
		ok = usbpass_store_claim_device(fx->store, HOST, device_id, cases[i].uuid, NULL, &error);
		after = get_device(fx->store, device_id);
		if (cases[i].code < 0) {
			g_assert_no_error(error);
			g_assert_true(ok);
			g_assert_cmpint(after->state, ==, USBPASS_DEVICE_STATE_ATTACHING);
			g_assert_cmpstr(after->instance_uuid, ==, cases[i].uuid);
			/* a retry keeps the known name; a claim starts without an error */
			g_assert_cmpstr(after->instance_name,
					==,
					g_strcmp0(cases[i].uuid, before->instance_uuid) == 0
					    ? before->instance_name
					    : NULL);
			g_assert_null(after->error);
		} else {
			g_auto(GStrv) parts = g_strsplit(cases[i].message, "%s", 2);
			g_autofree gchar *expected = g_strjoinv(device_id, parts);
			g_assert_error(error, USBPASS_ERROR, cases[i].code);
			g_assert_cmpstr(error->message, ==, expected);
			g_assert_false(ok);
			assert_device_equal(before, after);
		}
	}
}

static void
test_claim_invalid(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	g_assert_false(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, "", NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "instance uuid is empty"));
	g_clear_error(&error);
	g_assert_false(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, UUID_A, "\xfe", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "instance name is not valid UTF-8"));
}

/* another connection holds the write lock: the store waits, then says BUSY */
static void
test_busy_timeout(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	sqlite3 *db = NULL;
	gint64 start;

	add_device(fx->store, HOST, DEVICE_ID);
	g_assert_cmpint(sqlite3_open(fx->path, &db), ==, SQLITE_OK);
	exec_sql(db, "BEGIN IMMEDIATE");

	usbpass_sqlite_store_set_busy_timeout(USBPASS_SQLITE_STORE(fx->store), 100);
	start = g_get_monotonic_time();
	g_assert_false(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, UUID_A, NULL, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "stayed locked by another writer for 100 ms"));
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 100 * 1000);
	g_clear_error(&error);

	/* readers are not blocked by the writer (WAL) */
	row = get_device(fx->store, DEVICE_ID);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_AVAILABLE);

	exec_sql(db, "COMMIT");
	sqlite3_close(db);
	g_assert_true(usbpass_store_claim_device(fx->store, HOST, DEVICE_ID, UUID_A, NULL, &error));
	g_assert_no_error(error);
}

/* statements are prepared once and reused: after every method, failed or
 * not, the store holds no read snapshot (a checkpoint can finish, another
 * connection's change is seen) and the next call gets clean bindings */
typedef struct {
	const gchar *name;
	gint code; /* -1: success */
} StatementCase;

static void
append_audit(UsbpassStore *store, const gchar *host, guint n);

static gboolean
run_statement_case(UsbpassStore *store, const gchar *name, GError **error)
{
	if (g_strcmp0(name, "get") == 0) {
		g_autoptr(UsbpassStoreDevice) row =
		  usbpass_store_get_device(store, HOST, DEVICE_ID, error);
		return row != NULL;
	}
	if (g_strcmp0(name, "get-missing") == 0) {
		g_autoptr(UsbpassStoreDevice) row =
		  usbpass_store_get_device(store, HOST, "no-such-device", error);
		return row != NULL;
	}
	if (g_strcmp0(name, "list") == 0 || g_strcmp0(name, "list-all-hosts") == 0) {
		g_autoptr(GPtrArray) rows = usbpass_store_list_devices(
		  store, g_strcmp0(name, "list") == 0 ? HOST : NULL, error);
		if (rows != NULL)
			g_assert_cmpuint(rows->len, ==, 2);
		return rows != NULL;
	}
	if (g_strcmp0(name, "upsert") == 0) {
		g_autoptr(UsbpassStoreDevice) device = make_device(HOST, "0781:5567:s:other");
		return usbpass_store_upsert_device(store, device, error);
	}
	if (g_strcmp0(name, "claim-refused") == 0)
		return usbpass_store_claim_device(store, HOST, DEVICE_ID, UUID_B, NULL, error);
	if (g_strcmp0(name, "transition-stale") == 0)
		return usbpass_store_transition(store,
						HOST,
						DEVICE_ID,
						USBPASS_DEVICE_STATE_ATTACHING,
						USBPASS_DEVICE_STATE_ATTACHED,
						NULL,
						NULL,
						NULL,
						error);
	if (g_strcmp0(name, "present-missing") == 0)
		return usbpass_store_set_present(store, HOST, "no-such-device", TRUE, error);
	if (g_strcmp0(name, "delete-in-use") == 0)
		return usbpass_store_delete_device(store, HOST, DEVICE_ID, error);
	if (g_strcmp0(name, "audit") == 0) {
		g_autoptr(GPtrArray) entries = NULL;
		append_audit(store, HOST, 1);
		entries = usbpass_store_list_audit(store, HOST, 0, 10, error);
		return entries != NULL;
	}
	if (g_strcmp0(name, "token-missing") == 0) {
		g_autoptr(UsbpassToken) token = usbpass_store_lookup_token(
		  store,
		  "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		  error);
		return token != NULL;
	}
	if (g_strcmp0(name, "tokens") == 0) {
		g_autoptr(GPtrArray) tokens = usbpass_store_list_tokens(store, error);
		return tokens != NULL;
	}
	if (g_strcmp0(name, "revoke-missing") == 0)
		return usbpass_store_revoke_token(store, "no-such-token", error);
	g_assert_not_reached();
}

static void
test_statements(Fixture *fx, gconstpointer user_data)
{
	const StatementCase cases[] = {
	    {"get", -1},
	    {"get-missing", USBPASS_ERROR_NOT_FOUND},
	    {"list", -1},
	    {"list-all-hosts", -1},
	    {"upsert", -1},
	    {"claim-refused", USBPASS_ERROR_IN_USE},
	    {"transition-stale", USBPASS_ERROR_BUSY},
	    {"present-missing", USBPASS_ERROR_NOT_FOUND},
	    {"delete-in-use", USBPASS_ERROR_IN_USE},
	    {"audit", -1},
	    {"token-missing", USBPASS_ERROR_NOT_FOUND},
	    {"tokens", -1},
	    {"revoke-missing", USBPASS_ERROR_NOT_FOUND},
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassSqliteStore) other = NULL;
	sqlite3 *db = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	add_device(fx->store, HOST, "0781:5567:s:other");
	drive_to_state(fx->store, DEVICE_ID, USBPASS_DEVICE_STATE_ATTACHED);
	other = usbpass_sqlite_store_new(fx->path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sqlite3_open(fx->path, &db), ==, SQLITE_OK);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("case %s", cases[i].name);
		/* twice: the second run takes the statements the first one left */
		for (guint round = 0; round < 2; round++) {
			g_autoptr(GError) error_local = NULL;
			g_autoptr(UsbpassStoreDevice) changed = make_device(HOST, DEVICE_ID);
			g_autoptr(UsbpassStoreDevice) seen = NULL;
			g_autofree gchar *name = g_strdup_printf("renamed %u.%u", i, round);
			sqlite3_stmt *checkpoint = NULL;
			gboolean ok = run_statement_case(fx->store, cases[i].name, &error_local);

			if (cases[i].code < 0) {
				g_assert_no_error(error_local);
				g_assert_true(ok);
			} else {
				g_assert_error(error_local, USBPASS_ERROR, cases[i].code);
				g_assert_false(ok);
				g_clear_error(&error_local);
			}
			/* TRUNCATE waits for no reader: busy (column 0) is 1 while any
			 * connection still reads an old snapshot */
			g_assert_cmpint(
			  sqlite3_prepare_v2(
			    db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &checkpoint, NULL),
			  ==,
			  SQLITE_OK);
			g_assert_cmpint(sqlite3_step(checkpoint), ==, SQLITE_ROW);
			g_assert_cmpint(sqlite3_column_int(checkpoint, 0), ==, 0);
			sqlite3_finalize(checkpoint);

			/* another connection's change is seen at once */
			g_free(changed->name);
			changed->name = g_strdup(name);
			g_assert_true(
			  usbpass_store_upsert_device(USBPASS_STORE(other), changed, &error_local));
			g_assert_no_error(error_local);
			seen = get_device(fx->store, DEVICE_ID);
			g_assert_cmpstr(seen->name, ==, name);
			g_assert_cmpint(seen->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
		}
	}
	sqlite3_close(db);
}

static void
test_reopen(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) before = NULL;
	g_autoptr(UsbpassStoreDevice) after = NULL;
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(GPtrArray) entries = NULL;

	add_device(fx->store, HOST, DEVICE_ID);
	drive_to_state(fx->store, DEVICE_ID, USBPASS_DEVICE_STATE_MISSING);
	entry->host = g_strdup(HOST);
	entry->actor = g_strdup("usbpassd");
	entry->action = g_strdup("unplug");
	entry->outcome = g_strdup("ok");
	g_assert_true(usbpass_store_append_audit(fx->store, entry, &error));
	g_assert_no_error(error);
	before = get_device(fx->store, DEVICE_ID);
	g_clear_object(&fx->store);

	fx->store = open_store(fx->backend, fx->path, &error);
	g_assert_no_error(error);
	after = get_device(fx->store, DEVICE_ID);
	assert_device_equal(before, after);
	entries = usbpass_store_list_audit(fx->store, NULL, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(((UsbpassAuditEntry *)g_ptr_array_index(entries, 0))->action, ==, "unplug");
}

/* audit */

static void
append_audit(UsbpassStore *store, const gchar *host, guint n)
{
	g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
	g_autoptr(GError) error = NULL;

	entry->created_usec = 1000 + n;
	entry->host = g_strdup(host);
	entry->actor = g_strdup("token:ops-1");
	entry->action = g_strdup("attach");
	entry->device_id = g_strdup(DEVICE_ID);
	entry->instance_uuid = g_strdup(UUID_A);
	entry->outcome = g_strdup(n % 2 == 0 ? "ok" : "in-use");
	entry->message = g_strdup_printf("entry %u", n);
	g_assert_true(usbpass_store_append_audit(store, entry, &error));
	g_assert_no_error(error);
}

static void
test_audit(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) after = NULL;
	g_autoptr(GPtrArray) limited = NULL;
	g_autoptr(GPtrArray) host_b = NULL;
	g_autoptr(GPtrArray) none = NULL;
	UsbpassAuditEntry *first;

	for (guint i = 0; i < 10; i++)
		append_audit(fx->store, i < 7 ? HOST : "host-b", i);

	all = usbpass_store_list_audit(fx->store, NULL, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 10);
	for (guint i = 0; i < all->len; i++) {
		UsbpassAuditEntry *entry = g_ptr_array_index(all, i);
		g_autofree gchar *message = g_strdup_printf("entry %u", 9 - i);
		/* newest first, ids increasing with time */
		g_assert_cmpint(entry->id, ==, 10 - i);
		g_assert_cmpstr(entry->message, ==, message);
	}
	first = g_ptr_array_index(all, 9);
	g_assert_cmpint(first->created_usec, ==, 1000);
	g_assert_cmpstr(first->host, ==, HOST);
	g_assert_cmpstr(first->actor, ==, "token:ops-1");
	g_assert_cmpstr(first->action, ==, "attach");
	g_assert_cmpstr(first->device_id, ==, DEVICE_ID);
	g_assert_cmpstr(first->instance_uuid, ==, UUID_A);
	g_assert_cmpstr(first->outcome, ==, "ok");

	after = usbpass_store_list_audit(fx->store, NULL, 6, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(after->len, ==, 4);
	g_assert_cmpint(((UsbpassAuditEntry *)g_ptr_array_index(after, 3))->id, ==, 7);

	limited = usbpass_store_list_audit(fx->store, NULL, 2, 3, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(limited->len, ==, 3);
	g_assert_cmpint(((UsbpassAuditEntry *)g_ptr_array_index(limited, 0))->id, ==, 10);

	host_b = usbpass_store_list_audit(fx->store, "host-b", 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(host_b->len, ==, 3);
	for (guint i = 0; i < host_b->len; i++)
		g_assert_cmpstr(((UsbpassAuditEntry *)g_ptr_array_index(host_b, i))->host, ==, "host-b");

	none = usbpass_store_list_audit(fx->store, NULL, 10, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
}

static void
test_audit_limits(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) kept = NULL;
	g_autoptr(GPtrArray) page = NULL;
	g_autoptr(GPtrArray) capped = NULL;

	/* retention: only the newest rows stay */
	set_audit_max_rows(fx, 5);
	for (guint i = 0; i < 12; i++)
		append_audit(fx->store, HOST, i);
	kept = usbpass_store_list_audit(fx->store, NULL, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kept->len, ==, 5);
	g_assert_cmpint(((UsbpassAuditEntry *)g_ptr_array_index(kept, 0))->id, ==, 12);
	g_assert_cmpint(((UsbpassAuditEntry *)g_ptr_array_index(kept, 4))->id, ==, 8);

	/* the default page and the cap */
	set_audit_max_rows(fx, 5000);
	for (guint i = 0; i < USBPASS_STORE_AUDIT_LIMIT_MAX + 10; i++)
		append_audit(fx->store, HOST, i);
	page = usbpass_store_list_audit(fx->store, NULL, -5, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(page->len, ==, USBPASS_STORE_AUDIT_LIMIT);
	capped = usbpass_store_list_audit(fx->store, NULL, 0, G_MAXUINT, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(capped->len, ==, USBPASS_STORE_AUDIT_LIMIT_MAX);
}

static void
test_audit_invalid(Fixture *fx, gconstpointer user_data)
{
	const gchar *fields[] = {"host", "actor", "action", "outcome", "device_id"};
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
		g_autoptr(GPtrArray) entries = NULL;
		g_autoptr(GError) error = NULL;

		g_test_message("case %s", fields[i]);
		entry->host = g_strdup(g_strcmp0(fields[i], "host") == 0 ? NULL : HOST);
		entry->actor = g_strdup(g_strcmp0(fields[i], "actor") == 0 ? "" : "uid:0");
		entry->action = g_strdup(g_strcmp0(fields[i], "action") == 0 ? NULL : "attach");
		entry->outcome = g_strdup(g_strcmp0(fields[i], "outcome") == 0 ? NULL : "ok");
		entry->device_id = g_strdup(g_strcmp0(fields[i], "device_id") == 0 ? "\xc0\xaf" : NULL);
		g_assert_false(usbpass_store_append_audit(fx->store, entry, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, "cannot append to the audit log: audit "));
		entries = usbpass_store_list_audit(fx->store, NULL, 0, 0, NULL);
		g_assert_cmpuint(entries->len, ==, 0);
	}
}

/* tokens */

static UsbpassToken *
make_token(const gchar *name, UsbpassTokenRole role, gchar digit)
{
	UsbpassToken *token = usbpass_token_new();
	g_autofree gchar *hex = g_strnfill(64, digit);
	token->name = g_strdup(name);
	token->role = role;
	token->secret_hash = g_strdup_printf("sha256:%s", hex);
	return token;
}

static void
test_tokens(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassToken) ops = make_token("ops-1", USBPASS_TOKEN_ROLE_OPERATOR, 'a');
	g_autoptr(UsbpassToken) admin = make_token("admin", USBPASS_TOKEN_ROLE_ADMIN, 'b');
	g_autoptr(UsbpassToken) found = NULL;
	g_autoptr(UsbpassToken) touched = NULL;
	g_autoptr(GPtrArray) tokens = NULL;
	g_autoptr(GPtrArray) left = NULL;
	gint64 before_usec = g_get_real_time();

	ops->created_usec = 111;
	g_assert_true(usbpass_store_add_token(fx->store, ops, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_store_add_token(fx->store, admin, &error));
	g_assert_no_error(error);

	found = usbpass_store_lookup_token(fx->store, ops->secret_hash, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->name, ==, "ops-1");
	g_assert_cmpint(found->role, ==, USBPASS_TOKEN_ROLE_OPERATOR);
	g_assert_cmpstr(found->secret_hash, ==, ops->secret_hash);
	g_assert_cmpint(found->created_usec, ==, 111);
	g_assert_cmpint(found->last_used_usec, ==, 0);

	tokens = usbpass_store_list_tokens(fx->store, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(tokens->len, ==, 2);
	g_assert_cmpstr(((UsbpassToken *)g_ptr_array_index(tokens, 0))->name, ==, "admin");
	g_assert_cmpint(((UsbpassToken *)g_ptr_array_index(tokens, 0))->created_usec, >=, before_usec);
	g_assert_cmpstr(((UsbpassToken *)g_ptr_array_index(tokens, 1))->name, ==, "ops-1");

	/* last use only moves forward */
	g_assert_true(usbpass_store_touch_token(fx->store, "ops-1", 5000, &error));
	g_assert_no_error(error);
	g_assert_true(usbpass_store_touch_token(fx->store, "ops-1", 4000, &error));
	g_assert_no_error(error);
	touched = usbpass_store_lookup_token(fx->store, ops->secret_hash, &error);
	g_assert_no_error(error);
	g_assert_cmpint(touched->last_used_usec, ==, 5000);

	g_assert_true(usbpass_store_revoke_token(fx->store, "ops-1", &error));
	g_assert_no_error(error);
	g_assert_null(usbpass_store_lookup_token(fx->store, ops->secret_hash, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_null(strstr(error->message, "aaaa"));
	g_clear_error(&error);
	g_assert_false(usbpass_store_revoke_token(fx->store, "ops-1", &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_cmpstr(error->message, ==, "token 'ops-1' does not exist");
	g_clear_error(&error);
	g_assert_false(usbpass_store_touch_token(fx->store, "ops-1", 6000, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);
	left = usbpass_store_list_tokens(fx->store, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(left->len, ==, 1);
}

typedef struct {
	const gchar *name;
	const gchar *token_name;
	UsbpassTokenRole role;
	const gchar *secret_hash;
	const gchar *message;
} TokenFailCase;

static void
test_tokens_invalid(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(UsbpassToken) taken = make_token("taken", USBPASS_TOKEN_ROLE_READER, 'c');
	g_autoptr(GError) error = NULL;
	const gchar *good = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
	const TokenFailCase cases[] = {
	    {"duplicate-name", "taken", USBPASS_TOKEN_ROLE_ADMIN, good, "token 'taken' already exists"},
	    {"duplicate-secret",
	     "other",
	     USBPASS_TOKEN_ROLE_ADMIN,
	     "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	     "same secret"},
	    {"empty-name", "", USBPASS_TOKEN_ROLE_READER, good, "is not 1 to 64 characters"},
	    {"no-name", NULL, USBPASS_TOKEN_ROLE_READER, good, "is not 1 to 64 characters"},
	    {"slash", "a/b", USBPASS_TOKEN_ROLE_READER, good, "token name 'a/b'"},
	    {"quote", "o'brien", USBPASS_TOKEN_ROLE_READER, good, "is not 1 to 64 characters"},
	    {"long-name",
	     "n1234567890123456789012345678901234567890123456789012345678901234",
	     USBPASS_TOKEN_ROLE_READER,
	     good,
	     "is not 1 to 64 characters"},
	    {"role", "r", USBPASS_TOKEN_ROLE_LAST, good, "no valid role"},
	    {"no-hash", "h", USBPASS_TOKEN_ROLE_READER, NULL, "secret hash"},
	    {"md5", "h", USBPASS_TOKEN_ROLE_READER, "md5:d41d8cd98f00b204e9800998ecf8427e", "secret hash"},
	    {"short", "h", USBPASS_TOKEN_ROLE_READER, "sha256:abc", "secret hash"},
	    {"upper",
	     "h",
	     USBPASS_TOKEN_ROLE_READER,
	     "sha256:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
	     "secret hash"},
	    {"not-hex",
	     "h",
	     USBPASS_TOKEN_ROLE_READER,
	     "sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
	     "secret hash"},
	};

	g_assert_true(usbpass_store_add_token(fx->store, taken, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassToken) token = usbpass_token_new();
		g_autoptr(GPtrArray) tokens = NULL;

		g_test_message("case %s", cases[i].name);
		token->name = g_strdup(cases[i].token_name);
		token->role = cases[i].role;
		token->secret_hash = g_strdup(cases[i].secret_hash);
		g_assert_false(usbpass_store_add_token(fx->store, token, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, cases[i].message));
		g_clear_error(&error);
		tokens = usbpass_store_list_tokens(fx->store, NULL);
		g_assert_cmpuint(tokens->len, ==, 1);
	}
}

static void
test_tokens_limit(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassToken) extra = make_token("one-too-many", USBPASS_TOKEN_ROLE_READER, 'f');

	for (guint i = 0; i < USBPASS_STORE_TOKENS_MAX; i++) {
		g_autoptr(UsbpassToken) token = usbpass_token_new();
		token->name = g_strdup_printf("t%u", i);
		token->secret_hash = g_strdup_printf("sha256:%064x", i);
		g_assert_true(usbpass_store_add_token(fx->store, token, &error));
		g_assert_no_error(error);
	}
	g_assert_false(usbpass_store_add_token(fx->store, extra, &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "the most it keeps"));
}

/* hostile strings go in and come out unchanged: bound parameters only */

static void
test_hostile_strings(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *long_utf8 = NULL;
	g_autoptr(GString) tmp = g_string_new(NULL);
	const gchar *strings[] = {
	    "'; DROP TABLE host_usb_devices; --",
	    "\" OR 1=1 --",
	    "%s%n%x%p",
	    "back\\slash and 'quotes' \"both\"",
	    "?1 ?2 :name @name $name",
	    "\xe2\x80\xae" "RTL override \xf0\x9f\x92\xa3 bomb \xef\xbf\xbd replacement",
	    "\xc3\xa9\xe4\xb8\xad\xf0\x90\x8d\x88",
	    "new\nline\ttab\x7f del \x01 soh",
	    NULL, /* filled below: long, multi-byte */
	};

	while (tmp->len < 500)
		g_string_append(tmp, "\xe2\x82\xac'\"");
	long_utf8 = g_string_free(g_steal_pointer(&tmp), FALSE);
	strings[G_N_ELEMENTS(strings) - 1] = long_utf8;

	for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
		g_autoptr(UsbpassStoreDevice) device = usbpass_store_device_new();
		g_autoptr(UsbpassStoreDevice) got = NULL;
		g_autoptr(UsbpassAuditEntry) entry = usbpass_audit_entry_new();
		g_autoptr(GPtrArray) entries = NULL;
		g_autoptr(GPtrArray) all = NULL;
		g_autoptr(GError) error = NULL;
		UsbpassAuditEntry *back;
		const gchar *str = strings[i];

		g_test_message("case %u", i);
		device->host = g_strdup(str);
		device->device_id = g_strdup(str);
		device->name = g_strdup(str);
		device->serial = g_strdup(str);
		device->port = g_strdup(str);
		g_assert_true(usbpass_store_upsert_device(fx->store, device, &error));
		g_assert_no_error(error);
		g_assert_true(usbpass_store_claim_device(fx->store, str, str, str, str, &error));
		g_assert_no_error(error);
		got = usbpass_store_get_device(fx->store, str, str, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(got->host, ==, str);
		g_assert_cmpstr(got->device_id, ==, str);
		g_assert_cmpstr(got->name, ==, str);
		g_assert_cmpstr(got->serial, ==, str);
		g_assert_cmpstr(got->port, ==, str);
		g_assert_cmpstr(got->instance_uuid, ==, str);
		g_assert_cmpstr(got->instance_name, ==, str);

		entry->host = g_strdup(str);
		entry->actor = g_strdup(str);
		entry->action = g_strdup(str);
		entry->device_id = g_strdup(str);
		entry->instance_uuid = g_strdup(str);
		entry->outcome = g_strdup(str);
		g_assert_true(usbpass_store_append_audit(fx->store, entry, &error));
		g_assert_no_error(error);
		entries = usbpass_store_list_audit(fx->store, str, 0, 1, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 1);
		back = g_ptr_array_index(entries, 0);
		g_assert_cmpstr(back->host, ==, str);
		g_assert_cmpstr(back->actor, ==, str);
		g_assert_cmpstr(back->action, ==, str);
		g_assert_cmpstr(back->device_id, ==, str);
		g_assert_cmpstr(back->instance_uuid, ==, str);
		g_assert_cmpstr(back->outcome, ==, str);

		/* errors naming a hostile device stay printable */
		g_assert_false(usbpass_store_claim_device(fx->store, str, str, "other", NULL, &error));
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		g_assert_null(strchr(error->message, '\n'));
		g_clear_error(&error);

		/* the tables survived every one of them */
		all = usbpass_store_list_devices(fx->store, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(all->len, ==, i + 1);
	}
}

/* concurrency: one connection per thread, all racing for one device */

#define RACE_THREADS 32
#define RACE_ROUNDS  50

typedef struct {
	Backend backend;
	const gchar *path;
	guint index;
	GMutex *mutex;
	GCond *cond;
	gboolean *go;
	GError *error; /* the claim's outcome */
} RaceWorker;

static gpointer
race_worker(gpointer user_data)
{
	RaceWorker *worker = user_data;
	g_autoptr(UsbpassStore) store = NULL;
	g_autofree gchar *uuid = g_strdup_printf("instance-%02u", worker->index);
	GError *error = NULL;

	/* opening races too: every thread migrates-or-finds-migrated the file */
	store = open_store(worker->backend, worker->path, &error);
	if (store == NULL) {
		worker->error = error;
		return NULL;
	}
	g_mutex_lock(worker->mutex);
	while (!*worker->go)
		g_cond_wait(worker->cond, worker->mutex);
	g_mutex_unlock(worker->mutex);
	usbpass_store_claim_device(store, HOST, DEVICE_ID, uuid, uuid, &error);
	worker->error = error;
	return NULL;
}

static void
test_claim_concurrent(Fixture *fx, gconstpointer user_data)
{
	/* a PostgreSQL connection costs a server process: fewer rounds here,
	 * /usbpass/store/postgresql/claim{race} races long-lived connections */
	guint rounds = fx->backend == BACKEND_PG ? 2 : RACE_ROUNDS;

	for (guint round = 0; round < rounds; round++) {
		RaceWorker workers[RACE_THREADS] = {{0}};
		GThread *threads[RACE_THREADS];
		GMutex mutex;
		GCond cond;
		gboolean go = FALSE;
		guint winners = 0;
		g_autoptr(UsbpassStoreDevice) row = NULL;
		g_autoptr(GError) error = NULL;

		g_mutex_init(&mutex);
		g_cond_init(&cond);
		for (guint i = 0; i < RACE_THREADS; i++) {
			workers[i] = (RaceWorker){fx->backend, fx->path, i, &mutex, &cond, &go, NULL};
			threads[i] = g_thread_new("race", race_worker, &workers[i]);
		}
		g_mutex_lock(&mutex);
		go = TRUE;
		g_cond_broadcast(&cond);
		g_mutex_unlock(&mutex);
		for (guint i = 0; i < RACE_THREADS; i++)
			g_thread_join(threads[i]);
		g_mutex_clear(&mutex);
		g_cond_clear(&cond);

		row = get_device(fx->store, DEVICE_ID);
		for (guint i = 0; i < RACE_THREADS; i++) {
			if (workers[i].error == NULL) {
				g_autofree gchar *uuid = g_strdup_printf("instance-%02u", i);
				winners++;
				g_assert_cmpstr(row->instance_uuid, ==, uuid);
				continue;
			}
			/* the loser sees the winner attaching */
			if (!g_error_matches(workers[i].error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
				g_assert_error(workers[i].error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
			g_clear_error(&workers[i].error);
		}
		g_assert_cmpuint(winners, ==, 1);
		g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHING);

		/* the engine's rollback, for the next round */
		g_assert_true(usbpass_store_transition(fx->store,
						       HOST,
						       DEVICE_ID,
						       USBPASS_DEVICE_STATE_ATTACHING,
						       USBPASS_DEVICE_STATE_AVAILABLE,
						       NULL,
						       NULL,
						       NULL,
						       &error));
		g_assert_no_error(error);
	}
}

/* the same race between processes: each child opens the file itself */
#define RACE_PROCESSES	     8
#define RACE_PROCESS_ROUNDS 10

/* a child's claim: 0 won, 1 lost (BUSY, IN_USE), 2 anything else. Frees what
 * it made before the child's _exit, which runs no cleanup: valgrind follows
 * the child and would count a leak as an error */
static gint
claim_in_child(Fixture *fx, guint index)
{
	g_autoptr(UsbpassStore) store = NULL;
	g_autofree gchar *uuid = g_strdup_printf("process-%u", index);
	g_autoptr(GError) child_error = NULL;

	store = open_store(fx->backend, fx->path, &child_error);
	if (store != NULL &&
	    usbpass_store_claim_device(store, HOST, DEVICE_ID, uuid, NULL, &child_error))
		return 0;
	if (g_error_matches(child_error, USBPASS_ERROR, USBPASS_ERROR_BUSY) ||
	    g_error_matches(child_error, USBPASS_ERROR, USBPASS_ERROR_IN_USE))
		return 1;
	return 2;
}

static void
test_claim_processes(Fixture *fx, gconstpointer user_data)
{
	guint rounds = fx->backend == BACKEND_PG ? 3 : RACE_PROCESS_ROUNDS;

	for (guint round = 0; round < rounds; round++) {
		pid_t pids[RACE_PROCESSES];
		guint winners = 0;
		g_autoptr(GError) error = NULL;

		for (guint i = 0; i < RACE_PROCESSES; i++) {
			pids[i] = fork();
			g_assert_cmpint(pids[i], >=, 0);
			/* no atexit handlers of the parent, no flush of its stdio */
			if (pids[i] == 0)
				_exit(claim_in_child(fx, i));
		}
		for (guint i = 0; i < RACE_PROCESSES; i++) {
			gint status = 0;
			g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
			g_assert_true(WIFEXITED(status));
			g_assert_cmpint(WEXITSTATUS(status), <=, 1);
			if (WEXITSTATUS(status) == 0)
				winners++;
		}
		g_assert_cmpuint(winners, ==, 1);
		g_assert_true(usbpass_store_transition(fx->store,
						       HOST,
						       DEVICE_ID,
						       USBPASS_DEVICE_STATE_ATTACHING,
						       USBPASS_DEVICE_STATE_AVAILABLE,
						       NULL,
						       NULL,
						       NULL,
						       &error));
		g_assert_no_error(error);
	}
}

static void
test_claim_concurrent_setup(Fixture *fx, gconstpointer user_data)
{
	fixture_setup(fx, user_data);
	add_device(fx->store, HOST, DEVICE_ID);
}


/* fencing: a holder whose lease was ended and given to another cannot touch
 * the newer lease, even when the row is in the state it expects */
static void
test_fencing(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	guint64 lease_a = 0;
	guint64 lease_b = 0;
	guint64 after = 0;

	add_device(fx->store, HOST, DEVICE_ID);
	row = get_device(fx->store, DEVICE_ID);
	g_assert_cmpuint(row->generation, ==, 0);
	g_clear_pointer(&row, usbpass_store_device_free);

	/* host A claims: lease 1 */
	g_assert_true(usbpass_store_claim_device_lease(fx->store,
						       HOST,
						       DEVICE_ID,
						       UUID_A,
						       "web01",
						       &lease_a,
						       &error));
	g_assert_no_error(error);
	g_assert_cmpuint(lease_a, ==, 1);

	/* A is declared dead; its lease is ended (a new holder: a new lease)
	 * and B claims the device: lease 3 */
	g_assert_true(usbpass_store_transition_lease(fx->store,
						     HOST,
						     DEVICE_ID,
						     lease_a,
						     USBPASS_DEVICE_STATE_ATTACHING,
						     USBPASS_DEVICE_STATE_AVAILABLE,
						     NULL,
						     NULL,
						     "host-a unreachable",
						     &after,
						     &error));
	g_assert_no_error(error);
	g_assert_cmpuint(after, ==, lease_a + 1);
	g_assert_true(usbpass_store_claim_device_lease(fx->store,
						       HOST,
						       DEVICE_ID,
						       UUID_B,
						       "web02",
						       &lease_b,
						       &error));
	g_assert_no_error(error);
	g_assert_cmpuint(lease_b, ==, lease_a + 2);

	/* A comes back and finishes its attach: the row is "attaching" as A
	 * expects, but it is B's lease */
	g_assert_false(usbpass_store_transition_lease(fx->store,
						      HOST,
						      DEVICE_ID,
						      lease_a,
						      USBPASS_DEVICE_STATE_ATTACHING,
						      USBPASS_DEVICE_STATE_ATTACHED,
						      NULL,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
	g_assert_cmpstr(error->message,
			==,
			"USB device '" DEVICE_ID "' is lease 3, not 1: a newer lease replaced it");
	g_clear_error(&error);
	row = get_device(fx->store, DEVICE_ID);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHING);
	g_assert_cmpstr(row->instance_uuid, ==, UUID_B);
	g_assert_cmpstr(row->instance_name, ==, "web02");
	g_assert_cmpuint(row->generation, ==, lease_b);
	g_clear_pointer(&row, usbpass_store_device_free);

	/* B's own moves keep its lease */
	g_assert_true(usbpass_store_transition_lease(fx->store,
						     HOST,
						     DEVICE_ID,
						     lease_b,
						     USBPASS_DEVICE_STATE_ATTACHING,
						     USBPASS_DEVICE_STATE_ATTACHED,
						     NULL,
						     NULL,
						     NULL,
						     &after,
						     &error));
	g_assert_no_error(error);
	g_assert_cmpuint(after, ==, lease_b);

	/* nor can A detach B's device */
	g_assert_false(usbpass_store_transition_lease(fx->store,
						      HOST,
						      DEVICE_ID,
						      lease_a,
						      USBPASS_DEVICE_STATE_ATTACHED,
						      USBPASS_DEVICE_STATE_DETACHING,
						      NULL,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
	g_clear_error(&error);
	/* the state is checked as before: a stale state is BUSY too */
	g_assert_false(usbpass_store_transition_lease(fx->store,
						      HOST,
						      DEVICE_ID,
						      lease_b,
						      USBPASS_DEVICE_STATE_ATTACHING,
						      USBPASS_DEVICE_STATE_FAILED,
						      NULL,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "is 'attached', not 'attaching'"));
	g_clear_error(&error);
	g_assert_false(usbpass_store_transition_lease(fx->store,
						      HOST,
						      "no-such-device",
						      lease_b,
						      USBPASS_DEVICE_STATE_ATTACHED,
						      USBPASS_DEVICE_STATE_DETACHING,
						      NULL,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_clear_error(&error);

	row = get_device(fx->store, DEVICE_ID);
	g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpstr(row->instance_uuid, ==, UUID_B);
	g_assert_cmpuint(row->generation, ==, lease_b);
}

/* PostgreSQL only */

#ifdef USBPASS_HAVE_LIBPQ

static PGresult *
pg_query(const gchar *uri, const gchar *sql)
{
	PGconn *conn = PQconnectdb(uri);
	PGresult *res;

	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		g_error("%s: %s", sql, PQerrorMessage(conn));
	PQfinish(conn);
	return res;
}

typedef struct {
	const gchar *uri;
	GMutex *mutex;
	GCond *cond;
	gboolean *go;
	UsbpassStore *store; /* out */
	GError *error;	     /* out */
} OpenWorker;

static gpointer
open_worker(gpointer user_data)
{
	OpenWorker *worker = user_data;

	g_mutex_lock(worker->mutex);
	while (!*worker->go)
		g_cond_wait(worker->cond, worker->mutex);
	g_mutex_unlock(worker->mutex);
	worker->store = USBPASS_STORE(usbpass_pg_store_new(worker->uri, &worker->error));
	return NULL;
}

/* ten hosts start at once on an empty database: one of them migrates it */
#define OPENERS 10

static void
test_pg_migrate_concurrent(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uri = usbpass_pg_harness_create_database(pg_harness, &error);
	g_autoptr(PGresult) res = NULL;
	OpenWorker workers[OPENERS];
	GThread *threads[OPENERS];
	GMutex mutex;
	GCond cond;
	gboolean go = FALSE;
	guint applied = 0;

	g_assert_no_error(error);
	g_mutex_init(&mutex);
	g_cond_init(&cond);
	for (guint i = 0; i < OPENERS; i++) {
		workers[i] = (OpenWorker){uri, &mutex, &cond, &go, NULL, NULL};
		threads[i] = g_thread_new("open", open_worker, &workers[i]);
	}
	g_mutex_lock(&mutex);
	go = TRUE;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&mutex);
	for (guint i = 0; i < OPENERS; i++) {
		g_thread_join(threads[i]);
		g_assert_no_error(workers[i].error);
		g_assert_cmpuint(
		    usbpass_pg_store_get_schema_version(USBPASS_PG_STORE(workers[i].store)),
		    ==,
		    USBPASS_PG_STORE_SCHEMA_VERSION);
		applied += usbpass_pg_store_get_migrations_applied(USBPASS_PG_STORE(workers[i].store));
	}
	g_mutex_clear(&mutex);
	g_cond_clear(&cond);
	/* every step ran exactly once, by one of the openers */
	g_assert_cmpuint(applied, ==, USBPASS_PG_STORE_SCHEMA_VERSION);
	res = pg_query(uri, "SELECT count(*), count(DISTINCT version) FROM schema_version");
	g_assert_cmpstr(PQgetvalue(res, 0, 0), ==, G_STRINGIFY(USBPASS_PG_STORE_SCHEMA_VERSION));
	g_assert_cmpstr(PQgetvalue(res, 0, 1), ==, G_STRINGIFY(USBPASS_PG_STORE_SCHEMA_VERSION));

	/* and every one of them works on the same tables */
	for (guint i = 0; i < OPENERS; i++) {
		g_autofree gchar *device_id = g_strdup_printf("dev-%u", i);
		add_device(workers[i].store, HOST, device_id);
	}
	{
		g_autoptr(GPtrArray) rows = usbpass_store_list_devices(workers[0].store, HOST, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(rows->len, ==, OPENERS);
	}
	for (guint i = 0; i < OPENERS; i++)
		g_object_unref(workers[i].store);
}

static void
test_pg_open_newer_schema(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uri = usbpass_pg_harness_create_database(pg_harness, &error);
	g_autoptr(UsbpassPgStore) store = NULL;
	g_autoptr(PGresult) res = NULL;

	g_assert_no_error(error);
	store = usbpass_pg_store_new(uri, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(usbpass_pg_store_get_migrations_applied(store), ==, 1);
	g_clear_object(&store);
	/* opened again: up to date, nothing applied */
	store = usbpass_pg_store_new(uri, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(usbpass_pg_store_get_migrations_applied(store), ==, 0);
	g_clear_object(&store);

	res = pg_query(uri, "INSERT INTO schema_version (version, migrated_usec) VALUES (99, 0)");
	store = usbpass_pg_store_new(uri, &error);
	g_assert_null(store);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_STORE);
	g_assert_nonnull(strstr(error->message, "schema version 99"));
}

typedef struct {
	const gchar *name;
	const gchar *uri;
	gint code;
	const gchar *message;
} PgOpenFailCase;

static void
test_pg_open_fail(void)
{
	const PgOpenFailCase cases[] = {
	    {"no-server",
	     "postgresql://usbpass:s3cret@/usbpass?host=/nonexistent/usbpass-test&password=s3cret",
	     USBPASS_ERROR_STORE,
	     "cannot connect to PostgreSQL 'postgresql://usbpass@/nonexistent/usbpass-test/usbpass'"},
	    {"bad-option",
	     "postgres://usbpass:s3cret@/usbpass?host=/tmp&no_such_option=1",
	     USBPASS_ERROR_INVALID_DATA,
	     "is not a valid PostgreSQL URI: invalid URI query parameter: \"no_such_option\""},
	    {"bad-percent",
	     "postgresql://usbpass:s3cret@/usbpass%zz",
	     USBPASS_ERROR_INVALID_DATA,
	     "is not a valid PostgreSQL URI"},
	    {"not-a-uri", "/var/lib/usbpass/usbpass.db", USBPASS_ERROR_INVALID_DATA, "not a postgresql://"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassPgStore) store = NULL;

		g_test_message("case %s", cases[i].name);
		store = usbpass_pg_store_new(cases[i].uri, &error);
		g_assert_null(store);
		g_assert_error(error, USBPASS_ERROR, cases[i].code);
		if (strstr(error->message, cases[i].message) == NULL)
			g_error("'%s' lacks '%s'", error->message, cases[i].message);
		/* a password never reaches a message, nor a log */
		g_assert_null(strstr(error->message, "s3cret"));
		g_assert_null(strchr(error->message, '\n'));
	}
}

/* many connections race for one device, trial after trial: the main thread
 * joins both barriers, and checks and resets the row between them */
#define PG_RACE_THREADS 16
#define PG_RACE_TRIALS	200

typedef struct {
	const gchar *uri;
	guint index;
	pthread_barrier_t *start;
	pthread_barrier_t *done;
	gint *winners; /* of this trial */
	gint *odd_errors;
} PgRaceWorker;

static gpointer
pg_race_worker(gpointer user_data)
{
	PgRaceWorker *worker = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPgStore) store = usbpass_pg_store_new(worker->uri, &error);
	g_autofree gchar *uuid = g_strdup_printf("instance-%02u", worker->index);

	g_assert_no_error(error);
	for (guint trial = 0; trial < PG_RACE_TRIALS; trial++) {
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

static void
test_pg_claim_race(Fixture *fx, gconstpointer user_data)
{
	PgRaceWorker workers[PG_RACE_THREADS];
	GThread *threads[PG_RACE_THREADS];
	pthread_barrier_t start;
	pthread_barrier_t done;
	gint winners = 0;
	gint odd_errors = 0;
	guint64 generation = 0;

	pthread_barrier_init(&start, NULL, PG_RACE_THREADS + 1);
	pthread_barrier_init(&done, NULL, PG_RACE_THREADS + 1);
	for (guint i = 0; i < PG_RACE_THREADS; i++) {
		workers[i] = (PgRaceWorker){fx->path, i, &start, &done, &winners, &odd_errors};
		threads[i] = g_thread_new("race", pg_race_worker, &workers[i]);
	}
	for (guint trial = 0; trial < PG_RACE_TRIALS; trial++) {
		g_autoptr(UsbpassStoreDevice) row = NULL;
		g_autoptr(GError) error = NULL;

		g_atomic_int_set(&winners, 0);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		/* exactly one winner, and the row says who */
		g_assert_cmpint(g_atomic_int_get(&winners), ==, 1);
		g_assert_cmpint(g_atomic_int_get(&odd_errors), ==, 0);
		row = get_device(fx->store, DEVICE_ID);
		g_assert_cmpint(row->state, ==, USBPASS_DEVICE_STATE_ATTACHING);
		g_assert_true(g_str_has_prefix(row->instance_uuid, "instance-"));
		/* one claim, one lease: generations count the winners */
		g_assert_cmpuint(row->generation, ==, generation + 1);
		g_assert_true(usbpass_store_transition_lease(fx->store,
							     HOST,
							     DEVICE_ID,
							     row->generation,
							     USBPASS_DEVICE_STATE_ATTACHING,
							     USBPASS_DEVICE_STATE_AVAILABLE,
							     NULL,
							     NULL,
							     NULL,
							     &generation,
							     &error));
		g_assert_no_error(error);
	}
	for (guint i = 0; i < PG_RACE_THREADS; i++)
		g_thread_join(threads[i]);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	g_assert_cmpuint(generation, ==, 2 * PG_RACE_TRIALS);
}

/* the server restarts under an open store: the call that finds the
 * connection gone fails with STORE, the next one reconnects and works, and
 * nothing committed before is lost */
static void
test_pg_restart(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStoreDevice) before = NULL;
	g_autoptr(UsbpassStoreDevice) after = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	guint64 lease = 0;

	add_device(fx->store, HOST, DEVICE_ID);
	add_device(fx->store, HOST, "0781:5567:s:other");
	append_audit(fx->store, HOST, 0);
	g_assert_true(usbpass_store_claim_device_lease(fx->store,
						       HOST,
						       DEVICE_ID,
						       UUID_A,
						       "web01",
						       &lease,
						       &error));
	g_assert_no_error(error);
	before = get_device(fx->store, DEVICE_ID);

	g_assert_true(usbpass_pg_harness_restart(pg_harness, &error));
	g_assert_no_error(error);

	/* the change in flight is refused whole: not applied */
	g_assert_false(usbpass_store_transition_lease(fx->store,
						      HOST,
						      DEVICE_ID,
						      lease,
						      USBPASS_DEVICE_STATE_ATTACHING,
						      USBPASS_DEVICE_STATE_ATTACHED,
						      NULL,
						      NULL,
						      NULL,
						      NULL,
						      &error));
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_STORE);
	g_assert_nonnull(strstr(error->message, "lost the connection to PostgreSQL"));
	g_clear_error(&error);

	/* the next call reconnects; every row is as it was */
	after = get_device(fx->store, DEVICE_ID);
	assert_device_equal(before, after);
	g_assert_cmpuint(after->generation, ==, lease);
	{
		g_autoptr(GPtrArray) rows = usbpass_store_list_devices(fx->store, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(rows->len, ==, 2);
	}
	entries = usbpass_store_list_audit(fx->store, NULL, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 1);

	/* and the retried change applies once */
	g_assert_true(usbpass_store_transition_lease(fx->store,
						     HOST,
						     DEVICE_ID,
						     lease,
						     USBPASS_DEVICE_STATE_ATTACHING,
						     USBPASS_DEVICE_STATE_ATTACHED,
						     NULL,
						     NULL,
						     NULL,
						     NULL,
						     &error));
	g_assert_no_error(error);
	g_clear_pointer(&after, usbpass_store_device_free);
	after = get_device(fx->store, DEVICE_ID);
	g_assert_cmpint(after->state, ==, USBPASS_DEVICE_STATE_ATTACHED);
	g_assert_cmpuint(after->generation, ==, lease);
}

/* the factory: a URI opens the PostgreSQL store, a path the SQLite one */
static void
test_pg_store_open(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassStore) pg = usbpass_store_open(fx->path, &error);
	g_autofree gchar *file = g_build_filename(fx->tmpdir, "usbpass.db", NULL);
	g_autoptr(UsbpassStore) sqlite = NULL;
	g_autofree gchar *postgres_uri = g_strdup_printf("postgres%s", fx->path + strlen("postgresql"));
	g_autoptr(UsbpassStore) pg_short = NULL;

	g_assert_no_error(error);
	g_assert_true(USBPASS_IS_PG_STORE(pg));
	add_device(pg, HOST, DEVICE_ID);
	/* the same database through the other scheme */
	pg_short = usbpass_store_open(postgres_uri, &error);
	g_assert_no_error(error);
	g_assert_true(USBPASS_IS_PG_STORE(pg_short));
	{
		g_autoptr(UsbpassStoreDevice) row = get_device(pg_short, DEVICE_ID);
		g_assert_cmpstr(row->device_id, ==, DEVICE_ID);
	}
	sqlite = usbpass_store_open(file, &error);
	g_assert_no_error(error);
	g_assert_true(USBPASS_IS_SQLITE_STORE(sqlite));
}

#endif /* USBPASS_HAVE_LIBPQ */

int
main(int argc, char **argv)
{
#ifdef USBPASS_HAVE_LIBPQ
	g_autoptr(GError) pg_error = NULL;
#endif
	gint rc;

	g_test_init(&argc, &argv, NULL);

#ifdef USBPASS_HAVE_LIBPQ
	pg_harness = usbpass_pg_harness_new(&pg_error);
	/* binaries present but failing is a failure, not a skip */
	if (pg_harness == NULL && !g_error_matches(pg_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
		g_error("cannot start the PostgreSQL of the tests: %s", pg_error->message);
#define ADD_PG(path, func)                                                                         \
	do {                                                                                       \
		if (pg_harness != NULL)                                                            \
			g_test_add("/usbpass/store/postgresql/" path,                              \
				   Fixture,                                                        \
				   GINT_TO_POINTER(BACKEND_PG),                                    \
				   fixture_setup,                                                  \
				   func,                                                           \
				   fixture_teardown);                                              \
	} while (0)
#define ADD_PG_SETUP(path, setup, func)                                                            \
	do {                                                                                       \
		if (pg_harness != NULL)                                                            \
			g_test_add("/usbpass/store/postgresql/" path,                              \
				   Fixture,                                                        \
				   GINT_TO_POINTER(BACKEND_PG),                                    \
				   setup,                                                          \
				   func,                                                           \
				   fixture_teardown);                                              \
	} while (0)
#else
#define ADD_PG(path, func)
#define ADD_PG_SETUP(path, setup, func)
#endif
	/* the contract: every backend */
#define ADD(path, func)                                                                            \
	do {                                                                                       \
		g_test_add("/usbpass/store/" path,                                                 \
			   Fixture,                                                                \
			   GINT_TO_POINTER(BACKEND_SQLITE),                                        \
			   fixture_setup,                                                          \
			   func,                                                                   \
			   fixture_teardown);                                                      \
		ADD_PG(path, func);                                                                \
	} while (0)
	/* SQLite only */
#define ADD_SQLITE(path, func)                                                                     \
	g_test_add("/usbpass/store/" path,                                                         \
		   Fixture,                                                                        \
		   GINT_TO_POINTER(BACKEND_SQLITE),                                                \
		   fixture_setup,                                                                  \
		   func,                                                                           \
		   fixture_teardown)

	g_test_add_func("/usbpass/store/names", test_names);
	g_test_add_func("/usbpass/store/records{copy}", test_records_copy);
	g_test_add_func("/usbpass/store/not-supported", test_not_supported);
	ADD_SQLITE("open{modes}", test_open_modes);
	g_test_add_func("/usbpass/store/open{memory}", test_open_memory);
	g_test_add_func("/usbpass/store/open{fail}", test_open_fail);
	ADD_SQLITE("open{newer-schema}", test_open_newer_schema);
	g_test_add_func("/usbpass/store/migrate{v1}", test_migrate_v1);
	ADD("reopen", test_reopen);
	ADD("device{round-trip}", test_device_round_trip);
	ADD("device{upsert-keeps-state}", test_device_upsert_keeps_state);
	ADD("device{list}", test_device_list);
	ADD("device{invalid}", test_device_invalid);
	ADD("device{not-found}", test_device_not_found);
	ADD("device{present}", test_device_present);
	ADD("device{delete}", test_device_delete);
	ADD("transition{table}", test_transition_table);
	ADD("transition{stale}", test_transition_stale);
	ADD("transition{instance}", test_transition_instance);
	ADD("transition{fencing}", test_fencing);
	ADD("claim", test_claim);
	ADD("claim{invalid}", test_claim_invalid);
	ADD_SQLITE("busy-timeout", test_busy_timeout);
	ADD_SQLITE("statements", test_statements);
	ADD("audit", test_audit);
	ADD("audit{limits}", test_audit_limits);
	ADD("audit{invalid}", test_audit_invalid);
	ADD("tokens", test_tokens);
	ADD("tokens{invalid}", test_tokens_invalid);
	ADD("tokens{limit}", test_tokens_limit);
	ADD("hostile-strings", test_hostile_strings);
	g_test_add("/usbpass/store/claim{concurrent}",
		   Fixture,
		   GINT_TO_POINTER(BACKEND_SQLITE),
		   test_claim_concurrent_setup,
		   test_claim_concurrent,
		   fixture_teardown);
	ADD_PG_SETUP("claim{concurrent}", test_claim_concurrent_setup, test_claim_concurrent);
	g_test_add("/usbpass/store/claim{processes}",
		   Fixture,
		   GINT_TO_POINTER(BACKEND_SQLITE),
		   test_claim_concurrent_setup,
		   test_claim_processes,
		   fixture_teardown);
	ADD_PG_SETUP("claim{processes}", test_claim_concurrent_setup, test_claim_processes);
#ifdef USBPASS_HAVE_LIBPQ
	if (pg_harness != NULL) {
		g_test_add_func("/usbpass/store/postgresql/migrate{concurrent}",
				test_pg_migrate_concurrent);
		g_test_add_func("/usbpass/store/postgresql/open{newer-schema}",
				test_pg_open_newer_schema);
		g_test_add_func("/usbpass/store/postgresql/open{fail}", test_pg_open_fail);
		ADD_PG_SETUP("claim{race}", test_claim_concurrent_setup, test_pg_claim_race);
		ADD_PG("restart", test_pg_restart);
		ADD_PG("open{factory}", test_pg_store_open);
	} else {
		g_test_add_data_func_full("/usbpass/store/postgresql",
					  g_strdup(pg_error->message),
					  (GTestDataFunc)g_test_skip,
					  g_free);
	}
#else
	g_test_add_data_func("/usbpass/store/postgresql",
			     "usbpass was built without libpq: no PostgreSQL store to test",
			     (GTestDataFunc)g_test_skip);
#endif
#undef ADD
#undef ADD_SQLITE
#undef ADD_PG
#undef ADD_PG_SETUP
	rc = g_test_run();
#ifdef USBPASS_HAVE_LIBPQ
	g_clear_pointer(&pg_harness, usbpass_pg_harness_free);
#endif
	return rc;
}

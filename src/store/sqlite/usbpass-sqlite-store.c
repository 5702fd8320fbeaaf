/*
 * usbpass-sqlite-store.c: the embedded store, one SQLite file per host
 */
#define G_LOG_DOMAIN "UsbpassStore"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-sqlite-store.h"
#include "usbpass-string.h"

struct _UsbpassSqliteStore {
	GObject parent_instance;
	sqlite3 *db;
	gchar *path;
	guint busy_timeout_ms;
	guint audit_max_rows;
	guint schema_version;
	gint64 busy_since_usec; /* monotonic start of the current wait for the lock */
	/* SQL text -> GPtrArray of sqlite3_stmt: each text is prepared once and
	 * kept (usually one statement, more only while one is being stepped) */
	GHashTable *statements;
};

static void
usbpass_sqlite_store_iface_init(UsbpassStoreInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UsbpassSqliteStore,
			usbpass_sqlite_store,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(USBPASS_TYPE_STORE, usbpass_sqlite_store_iface_init))

/* the longest texts a row keeps; the inventory already cut device strings to
 * USBPASS_STRING_MAX_BYTES, these bound what other callers can make us store */
#define USBPASS_SQLITE_STORE_ID_MAX   512
#define USBPASS_SQLITE_STORE_TEXT_MAX 1024

/*
 * Migrations, oldest first: each takes a file from version - 1 to version and
 * runs in the one transaction of usbpass_sqlite_store_migrate(). Never edit a
 * released step: add the next one. SQLite cannot add a CHECK to an existing
 * table, so a step that needs one rebuilds the table (CREATE new, INSERT ...
 * SELECT, DROP, ALTER ... RENAME).
 */
typedef struct {
	guint version;
	const gchar *sql;
} UsbpassSqliteMigration;

static const UsbpassSqliteMigration migrations[] = {
    {1,
     /* one row per (host, device identity); the CHECKs keep the state machine's
      * invariant in the file itself: an instance exactly when not available */
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
     ") STRICT;"},
    {2,
     /* API tokens (issue 5); the audit API filters by host, newest first */
     "CREATE TABLE api_tokens ("
     " name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
     " role TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'admin')),"
     " secret_hash TEXT NOT NULL UNIQUE,"
     " created_usec INTEGER NOT NULL,"
     " last_used_usec INTEGER NOT NULL DEFAULT 0"
     ") STRICT;"
     "CREATE INDEX audit_log_host ON audit_log (host, id);"},
    {3,
     /* lease generations (issue 11): fencing of stale holders; existing rows
      * start at 0, their next claim makes lease 1 */
     "ALTER TABLE host_usb_devices ADD COLUMN generation INTEGER NOT NULL DEFAULT 0"
     " CHECK (generation >= 0);"},
};

#define DEVICE_COLUMNS                                                                             \
	"host, device_id, name, bus, device, vendor_id, product_id, serial, port, instance_uuid, " \
	"instance_name, state, present, error, created_usec, updated_usec, generation"
#define AUDIT_COLUMNS                                                                              \
	"id, created_usec, host, actor, action, device_id, instance_uuid, outcome, message"
#define TOKEN_COLUMNS "name, role, secret_hash, created_usec, last_used_usec"

/* errors */

static gboolean
usbpass_sqlite_store_set_error(UsbpassSqliteStore *self, gint rc, const gchar *what, GError **error)
{
	const gchar *msg = self->db != NULL ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_BUSY,
			    "cannot %s: database '%s' stayed locked by another writer for %u ms: %s",
			    what,
			    self->path,
			    self->busy_timeout_ms,
			    msg);
		break;
	case SQLITE_CONSTRAINT:
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "cannot %s: database '%s' refused the values: %s",
			    what,
			    self->path,
			    msg);
		break;
	default:
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_STORE,
			    "cannot %s: database '%s': %s",
			    what,
			    self->path,
			    msg);
		break;
	}
	return FALSE;
}

/* a caller's string in a message: printable, bounded */
static gchar *
usbpass_sqlite_store_shown(const gchar *str)
{
	gchar *shown = usbpass_string_sanitize(str, -1, 128);
	return shown != NULL ? shown : g_strdup("");
}

static gboolean
usbpass_sqlite_store_check_text(const gchar *what,
				const gchar *value,
				gboolean required,
				gsize max_bytes,
				GError **error)
{
	if (value == NULL) {
		if (!required)
			return TRUE;
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "%s is missing",
			    what);
		return FALSE;
	}
	if (required && value[0] == '\0') {
		g_set_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "%s is empty", what);
		return FALSE;
	}
	if (!g_utf8_validate(value, -1, NULL)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "%s is not valid UTF-8",
			    what);
		return FALSE;
	}
	if (strlen(value) > max_bytes) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "%s is longer than %" G_GSIZE_FORMAT " bytes",
			    what,
			    max_bytes);
		return FALSE;
	}
	return TRUE;
}

/* statements */

/*
 * A statement from the store's cache, taken for one use: bind, step, read.
 * Going out of scope hands it back reset (its read snapshot and locks
 * released) with its bindings cleared (they point into the caller's strings).
 * Parsing SQL cost more than running it: every method prepared its
 * statements anew on every call.
 */
typedef sqlite3_stmt UsbpassSqliteCachedStmt;

static void
usbpass_sqlite_cached_stmt_release(UsbpassSqliteCachedStmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassSqliteCachedStmt, usbpass_sqlite_cached_stmt_release)

static void
usbpass_sqlite_store_finalize_stmt(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

/* a cached statement for @sql; @stmt is to be held in a
 * g_autoptr(UsbpassSqliteCachedStmt), never finalized by the caller */
static gboolean
usbpass_sqlite_store_prepare(UsbpassSqliteStore *self,
			     const gchar *sql,
			     UsbpassSqliteCachedStmt **stmt,
			     GError **error)
{
	GPtrArray *pool = g_hash_table_lookup(self->statements, sql);
	sqlite3_stmt *fresh = NULL;
	gint rc;

	/* a statement still being stepped belongs to a caller up the stack (a
	 * method calling another that runs the same SQL): take or make another.
	 * Between taking a statement and its first step nothing else is
	 * prepared, so an idle one is nobody's */
	for (guint i = 0; pool != NULL && i < pool->len; i++) {
		sqlite3_stmt *cached = g_ptr_array_index(pool, i);
		if (sqlite3_stmt_busy(cached))
			continue;
		sqlite3_reset(cached);
		sqlite3_clear_bindings(cached);
		*stmt = cached;
		return TRUE;
	}
	rc = sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &fresh, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(fresh);
		return usbpass_sqlite_store_set_error(self, rc, "prepare a statement", error);
	}
	if (pool == NULL) {
		pool = g_ptr_array_new_with_free_func(usbpass_sqlite_store_finalize_stmt);
		g_hash_table_insert(self->statements, g_strdup(sql), pool);
	}
	g_ptr_array_add(pool, fresh);
	*stmt = fresh;
	return TRUE;
}

/* steps a statement that returns no row */
static gboolean
usbpass_sqlite_store_step_done(UsbpassSqliteStore *self,
			       sqlite3_stmt *stmt,
			       const gchar *what,
			       GError **error)
{
	gint rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return usbpass_sqlite_store_set_error(self, rc, what, error);
	return TRUE;
}

static gboolean
usbpass_sqlite_store_exec(UsbpassSqliteStore *self,
			  const gchar *sql,
			  const gchar *what,
			  GError **error)
{
	gint rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return usbpass_sqlite_store_set_error(self, rc, what, error);
	return TRUE;
}

/* one statement without parameters or rows, through the cache */
static gboolean
usbpass_sqlite_store_run(UsbpassSqliteStore *self,
			 const gchar *sql,
			 const gchar *what,
			 GError **error)
{
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;

	if (!usbpass_sqlite_store_prepare(self, sql, &stmt, error))
		return FALSE;
	return usbpass_sqlite_store_step_done(self, stmt, what, error);
}

static void
usbpass_sqlite_store_bind_text(sqlite3_stmt *stmt, gint idx, const gchar *value)
{
	/* a NULL pointer binds SQL NULL; the caller's string outlives the step */
	sqlite3_bind_text(stmt, idx, value, -1, SQLITE_STATIC);
}

static gchar *
usbpass_sqlite_store_column_text(sqlite3_stmt *stmt, gint idx)
{
	return g_strdup((const gchar *)sqlite3_column_text(stmt, idx));
}

/* transactions: the guard rolls back unless committed, so every early return
 * of a failed state change leaves the file as it was */

typedef struct {
	UsbpassSqliteStore *store;
} UsbpassSqliteTransaction;

static void
usbpass_sqlite_transaction_clear(UsbpassSqliteTransaction *txn)
{
	if (txn->store == NULL)
		return;
	/* ROLLBACK cannot be busy; an error here means there was nothing to undo */
	sqlite3_exec(txn->store->db, "ROLLBACK", NULL, NULL, NULL);
	txn->store = NULL;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbpassSqliteTransaction, usbpass_sqlite_transaction_clear)

/* BEGIN IMMEDIATE takes the write lock now, waiting in the busy handler, so a
 * transaction never has to upgrade a read snapshot that another writer made
 * stale (SQLITE_BUSY_SNAPSHOT, which no busy handler retries) */
static gboolean
usbpass_sqlite_transaction_begin(UsbpassSqliteTransaction *txn,
				 UsbpassSqliteStore *self,
				 const gchar *what,
				 GError **error)
{
	if (!usbpass_sqlite_store_run(self, "BEGIN IMMEDIATE", what, error))
		return FALSE;
	txn->store = self;
	return TRUE;
}

static gboolean
usbpass_sqlite_transaction_commit(UsbpassSqliteTransaction *txn, const gchar *what, GError **error)
{
	UsbpassSqliteStore *self = txn->store;
	if (!usbpass_sqlite_store_run(self, "COMMIT", what, error))
		return FALSE;
	txn->store = NULL;
	return TRUE;
}

/* sqlite's own busy handler sleeps whole milliseconds, and more as it waits;
 * a state change holds the lock for some tens of microseconds, so start short
 * and back off, with jitter so that waiters do not wake in step */
static gint
usbpass_sqlite_store_busy_cb(gpointer user_data, gint count)
{
	UsbpassSqliteStore *self = user_data;
	gint64 now = g_get_monotonic_time();
	gulong sleep_usec;

	if (count == 0)
		self->busy_since_usec = now;
	if (now - self->busy_since_usec >= (gint64)self->busy_timeout_ms * 1000)
		return 0;
	sleep_usec = MIN(20UL << MIN(count, 8), 2000UL);
	sleep_usec += (gulong)g_random_int_range(0, (gint32)sleep_usec);
	g_usleep(sleep_usec);
	return 1;
}

/* opening and migrating */

static gboolean
usbpass_sqlite_store_get_version(UsbpassSqliteStore *self, guint *version, GError **error)
{
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint rc;

	if (!usbpass_sqlite_store_prepare(self,
					  "SELECT COALESCE(MAX(version), 0) FROM schema_version",
					  &stmt,
					  error))
		return FALSE;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		return usbpass_sqlite_store_set_error(self, rc, "read the schema version", error);
	*version = (guint)MAX(sqlite3_column_int64(stmt, 0), 0);
	return TRUE;
}

static gboolean
usbpass_sqlite_store_migrate(UsbpassSqliteStore *self, GError **error)
{
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	guint version = 0;

	/* concurrent openers of a new file queue here; the second finds it done */
	if (!usbpass_sqlite_transaction_begin(&txn, self, "migrate the schema", error))
		return FALSE;
	if (!usbpass_sqlite_store_exec(self,
				       "CREATE TABLE IF NOT EXISTS schema_version ("
				       " version INTEGER PRIMARY KEY,"
				       " migrated_usec INTEGER NOT NULL"
				       ") STRICT",
				       "create the schema version table",
				       error))
		return FALSE;
	if (!usbpass_sqlite_store_get_version(self, &version, error))
		return FALSE;
	if (version > USBPASS_SQLITE_STORE_SCHEMA_VERSION) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_STORE,
			    "database '%s' has schema version %u, newer than the %u this usbpass "
			    "knows: it was written by a newer usbpass",
			    self->path,
			    version,
			    (guint)USBPASS_SQLITE_STORE_SCHEMA_VERSION);
		return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(migrations); i++) {
		g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
		g_autofree gchar *what = NULL;

		if (migrations[i].version <= version)
			continue;
		what = g_strdup_printf("migrate the schema to version %u", migrations[i].version);
		if (!usbpass_sqlite_store_exec(self, migrations[i].sql, what, error))
			return FALSE;
		if (!usbpass_sqlite_store_prepare(
			self,
			"INSERT INTO schema_version (version, migrated_usec) VALUES (?1, ?2)",
			&stmt,
			error))
			return FALSE;
		sqlite3_bind_int64(stmt, 1, migrations[i].version);
		sqlite3_bind_int64(stmt, 2, g_get_real_time());
		if (!usbpass_sqlite_store_step_done(self, stmt, what, error))
			return FALSE;
		g_debug("migrated '%s' to schema version %u", self->path, migrations[i].version);
		version = migrations[i].version;
	}
	if (!usbpass_sqlite_transaction_commit(&txn, "migrate the schema", error))
		return FALSE;
	self->schema_version = version;
	return TRUE;
}

static gboolean
usbpass_sqlite_store_create_file(const gchar *path, GError **error)
{
	g_autofree gchar *dirname = g_path_get_dirname(path);
	gint fd;

	if (!g_file_test(dirname, G_FILE_TEST_IS_DIR) && g_mkdir_with_parents(dirname, 0700) != 0) {
		gint errsv = errno;
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_STORE,
			    "cannot create directory '%s' for database '%s': %s",
			    dirname,
			    path,
			    g_strerror(errsv));
		return FALSE;
	}
	/* create it ourselves: SQLite would honour the umask, and the journal and
	 * WAL files it adds later copy the mode of the database file */
	fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		gint errsv = errno;
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_STORE,
			    "cannot open database '%s': %s",
			    path,
			    g_strerror(errsv));
		return FALSE;
	}
	g_close(fd, NULL);
	return TRUE;
}

static gboolean
usbpass_sqlite_store_open(UsbpassSqliteStore *self, GError **error)
{
	gboolean in_memory = g_strcmp0(self->path, ":memory:") == 0;
	gint rc;

	if (!in_memory && !usbpass_sqlite_store_create_file(self->path, error))
		return FALSE;
	rc = sqlite3_open_v2(self->path,
			     &self->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
				 SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		usbpass_sqlite_store_set_error(self, rc, "open the database", error);
		sqlite3_close_v2(self->db);
		self->db = NULL;
		return FALSE;
	}
	sqlite3_busy_handler(self->db, usbpass_sqlite_store_busy_cb, self);
	/* SQL in the file never runs functions with side effects, and a damaged
	 * file cannot be made worse through SQL */
	sqlite3_db_config(self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(self->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	/* WAL: readers never block the writer. synchronous=NORMAL: a commit
	 * survives a crash of usbpass, only a power cut may lose the last ones,
	 * and reconcile rebuilds the assignments from the hypervisor after that */
	if (!usbpass_sqlite_store_exec(self, "PRAGMA journal_mode = WAL", "switch to WAL", error))
		return FALSE;
	if (!usbpass_sqlite_store_exec(self,
				       "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
				       "set up the connection",
				       error))
		return FALSE;
	return usbpass_sqlite_store_migrate(self, error);
}

/* a store location "scheme://..." names a server, never a file: opened as a
 * path it would become a directory "postgresql:" in the working directory */
static gboolean
usbpass_sqlite_store_check_not_uri(const gchar *path, GError **error)
{
	const gchar *scheme = g_uri_peek_scheme(path);
	g_autoptr(GUri) uri = NULL;
	g_autofree gchar *shown = NULL;

	if (scheme == NULL || !g_str_has_prefix(path + strlen(scheme) + 1, "//"))
		return TRUE;
	/* the message never shows a password or the query, which may hold one */
	uri = g_uri_parse(path, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED, NULL);
	if (uri != NULL) {
		g_autofree gchar *joined = g_uri_join(G_URI_FLAGS_ENCODED,
		                                      scheme,
		                                      NULL,
		                                      g_uri_get_host(uri),
		                                      g_uri_get_port(uri),
		                                      g_uri_get_path(uri),
		                                      NULL,
		                                      NULL);
		shown = usbpass_string_sanitize(joined, -1, 256);
	}
	if (shown == NULL)
		shown = g_strdup_printf("%s://", scheme);
	if (g_strcmp0(scheme, "postgresql") == 0 || g_strcmp0(scheme, "postgres") == 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_SUPPORTED,
		            "store '%s' is a PostgreSQL URI, not an SQLite file: open it with "
		            "usbpass_store_open()",
		            shown);
		return FALSE;
	}
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_NOT_SUPPORTED,
	            "store '%s' is a URI with the scheme '%s', which no store supports; give the "
	            "path of an SQLite file",
	            shown,
	            scheme);
	return FALSE;
}

/**
 * usbpass_sqlite_store_new:
 * @path: the database file; its directory is created (0700) and the file
 *   (0600) when absent; ":memory:" for a private in-memory database
 * @error: (nullable): #USBPASS_ERROR_STORE naming the file and SQLite's
 *   reason, #USBPASS_ERROR_BUSY when another writer held the file too long,
 *   #USBPASS_ERROR_NOT_SUPPORTED when @path is a URI ("postgresql://...",
 *   any "scheme://"): nothing is created then
 *
 * Opens the database and brings its schema to
 * %USBPASS_SQLITE_STORE_SCHEMA_VERSION.
 *
 * Returns: (transfer full): the store, or %NULL
 */
UsbpassSqliteStore *
usbpass_sqlite_store_new(const gchar *path, GError **error)
{
	g_autoptr(UsbpassSqliteStore) self = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!usbpass_sqlite_store_check_not_uri(path, error))
		return NULL;
	self = g_object_new(USBPASS_TYPE_SQLITE_STORE, NULL);
	self->path = g_strdup(path);
	if (!usbpass_sqlite_store_open(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * usbpass_sqlite_store_get_path:
 * @self: a #UsbpassSqliteStore
 *
 * Returns: the database file
 */
const gchar *
usbpass_sqlite_store_get_path(UsbpassSqliteStore *self)
{
	g_return_val_if_fail(USBPASS_IS_SQLITE_STORE(self), NULL);
	return self->path;
}

/**
 * usbpass_sqlite_store_get_schema_version:
 * @self: a #UsbpassSqliteStore
 *
 * Returns: the schema version of the open file, after migration
 */
guint
usbpass_sqlite_store_get_schema_version(UsbpassSqliteStore *self)
{
	g_return_val_if_fail(USBPASS_IS_SQLITE_STORE(self), 0);
	return self->schema_version;
}

/**
 * usbpass_sqlite_store_set_busy_timeout:
 * @self: a #UsbpassSqliteStore
 * @timeout_ms: how long a write waits for another writer's lock; 0 fails at once
 */
void
usbpass_sqlite_store_set_busy_timeout(UsbpassSqliteStore *self, guint timeout_ms)
{
	g_return_if_fail(USBPASS_IS_SQLITE_STORE(self));
	self->busy_timeout_ms = timeout_ms;
}

/**
 * usbpass_sqlite_store_set_audit_max_rows:
 * @self: a #UsbpassSqliteStore
 * @max_rows: how many of the newest audit entries to keep, at least 1
 */
void
usbpass_sqlite_store_set_audit_max_rows(UsbpassSqliteStore *self, guint max_rows)
{
	g_return_if_fail(USBPASS_IS_SQLITE_STORE(self));
	g_return_if_fail(max_rows >= 1);
	self->audit_max_rows = max_rows;
}

/* devices */

static UsbpassStoreDevice *
usbpass_sqlite_store_device_from_stmt(sqlite3_stmt *stmt)
{
	UsbpassStoreDevice *device = usbpass_store_device_new();
	g_autofree gchar *state = NULL;

	device->host = usbpass_sqlite_store_column_text(stmt, 0);
	device->device_id = usbpass_sqlite_store_column_text(stmt, 1);
	device->name = usbpass_sqlite_store_column_text(stmt, 2);
	device->bus = (guint)sqlite3_column_int64(stmt, 3);
	device->device = (guint)sqlite3_column_int64(stmt, 4);
	device->vendor_id = (guint16)sqlite3_column_int(stmt, 5);
	device->product_id = (guint16)sqlite3_column_int(stmt, 6);
	device->serial = usbpass_sqlite_store_column_text(stmt, 7);
	device->port = usbpass_sqlite_store_column_text(stmt, 8);
	device->instance_uuid = usbpass_sqlite_store_column_text(stmt, 9);
	device->instance_name = usbpass_sqlite_store_column_text(stmt, 10);
	/* the CHECK constraint admits only known names */
	state = usbpass_sqlite_store_column_text(stmt, 11);
	device->state = usbpass_device_state_from_string(state);
	device->present = sqlite3_column_int(stmt, 12) != 0;
	device->error = usbpass_sqlite_store_column_text(stmt, 13);
	device->created_usec = sqlite3_column_int64(stmt, 14);
	device->updated_usec = sqlite3_column_int64(stmt, 15);
	device->generation = (guint64)MAX(sqlite3_column_int64(stmt, 16), 0);
	return device;
}

/* reads one row inside the caller's transaction; NULL without error when absent */
static gboolean
usbpass_sqlite_store_read_device(UsbpassSqliteStore *self,
				 const gchar *host,
				 const gchar *device_id,
				 UsbpassStoreDevice **device,
				 GError **error)
{
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint rc;

	if (!usbpass_sqlite_store_prepare(self,
					  "SELECT " DEVICE_COLUMNS " FROM host_usb_devices "
					  "WHERE host = ?1 AND device_id = ?2",
					  &stmt,
					  error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, host);
	usbpass_sqlite_store_bind_text(stmt, 2, device_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*device = usbpass_sqlite_store_device_from_stmt(stmt);
		return TRUE;
	}
	if (rc != SQLITE_DONE)
		return usbpass_sqlite_store_set_error(self, rc, "read a USB device", error);
	*device = NULL;
	return TRUE;
}

static gboolean
usbpass_sqlite_store_not_found(const gchar *host, const gchar *device_id, GError **error)
{
	g_autofree gchar *shown_id = usbpass_sqlite_store_shown(device_id);
	g_autofree gchar *shown_host = usbpass_sqlite_store_shown(host);
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_NOT_FOUND,
		    "USB device '%s' is not known on host '%s'",
		    shown_id,
		    shown_host);
	return FALSE;
}

/* the instance of a row as people know it: its name, else its uuid */
static gchar *
usbpass_sqlite_store_instance_label(const UsbpassStoreDevice *row)
{
	return usbpass_sqlite_store_shown(row->instance_name != NULL ? row->instance_name
								      : row->instance_uuid);
}

static gboolean
usbpass_sqlite_store_upsert_device(UsbpassStore *store,
				   const UsbpassStoreDevice *device,
				   GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint64 now = g_get_real_time();
	gint64 created_usec = device->created_usec > 0 ? device->created_usec : now;
	gint64 updated_usec = device->updated_usec > 0 ? device->updated_usec : created_usec;

	if (!usbpass_sqlite_store_check_text("USB device host",
					     device->host,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("USB device identity",
					     device->device_id,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("USB device name",
					     device->name,
					     FALSE,
					     USBPASS_SQLITE_STORE_TEXT_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("USB device serial",
					     device->serial,
					     FALSE,
					     USBPASS_SQLITE_STORE_TEXT_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("USB device port",
					     device->port,
					     FALSE,
					     USBPASS_SQLITE_STORE_TEXT_MAX,
					     error)) {
		g_autofree gchar *shown = usbpass_sqlite_store_shown(device->device_id);
		g_prefix_error(error, "cannot record USB device '%s': ", shown);
		return FALSE;
	}

	if (!usbpass_sqlite_transaction_begin(&txn, self, "record a USB device", error))
		return FALSE;
	if (!usbpass_sqlite_store_prepare(
		self,
		"INSERT INTO host_usb_devices (host, device_id, name, bus, device, vendor_id, "
		"product_id, serial, port, present, created_usec, updated_usec) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
		"ON CONFLICT (host, device_id) DO UPDATE SET name = excluded.name, "
		"bus = excluded.bus, device = excluded.device, vendor_id = excluded.vendor_id, "
		"product_id = excluded.product_id, serial = excluded.serial, port = excluded.port, "
		"present = excluded.present",
		&stmt,
		error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, device->host);
	usbpass_sqlite_store_bind_text(stmt, 2, device->device_id);
	usbpass_sqlite_store_bind_text(stmt, 3, device->name);
	sqlite3_bind_int64(stmt, 4, device->bus);
	sqlite3_bind_int64(stmt, 5, device->device);
	sqlite3_bind_int(stmt, 6, device->vendor_id);
	sqlite3_bind_int(stmt, 7, device->product_id);
	usbpass_sqlite_store_bind_text(stmt, 8, device->serial);
	usbpass_sqlite_store_bind_text(stmt, 9, device->port);
	sqlite3_bind_int(stmt, 10, device->present ? 1 : 0);
	sqlite3_bind_int64(stmt, 11, created_usec);
	sqlite3_bind_int64(stmt, 12, updated_usec);
	if (!usbpass_sqlite_store_step_done(self, stmt, "record a USB device", error))
		return FALSE;
	return usbpass_sqlite_transaction_commit(&txn, "record a USB device", error);
}

static UsbpassStoreDevice *
usbpass_sqlite_store_get_device(UsbpassStore *store,
				const gchar *host,
				const gchar *device_id,
				GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_autoptr(UsbpassStoreDevice) row = NULL;

	if (!usbpass_sqlite_store_read_device(self, host, device_id, &row, error))
		return NULL;
	if (row == NULL) {
		usbpass_sqlite_store_not_found(host, device_id, error);
		return NULL;
	}
	return g_steal_pointer(&row);
}

static GPtrArray *
usbpass_sqlite_store_list_devices(UsbpassStore *store, const gchar *host, GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(GPtrArray) rows = NULL; /* of UsbpassStoreDevice */
	gint rc;

	rows = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_store_device_free);
	if (!usbpass_sqlite_store_prepare(self,
					  host != NULL ? "SELECT " DEVICE_COLUMNS
							 " FROM host_usb_devices WHERE host = ?1 "
							 "ORDER BY host, device_id"
						       : "SELECT " DEVICE_COLUMNS
							 " FROM host_usb_devices "
							 "ORDER BY host, device_id",
					  &stmt,
					  error))
		return NULL;
	if (host != NULL)
		usbpass_sqlite_store_bind_text(stmt, 1, host);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(rows, usbpass_sqlite_store_device_from_stmt(stmt));
	if (rc != SQLITE_DONE) {
		usbpass_sqlite_store_set_error(self, rc, "list USB devices", error);
		return NULL;
	}
	return g_steal_pointer(&rows);
}

/* explains why a claim changed nothing, from the row read under the lock */
static gboolean
usbpass_sqlite_store_claim_refused(const gchar *host,
				   const gchar *device_id,
				   const gchar *instance_uuid,
				   const UsbpassStoreDevice *row,
				   GError **error)
{
	g_autofree gchar *shown = NULL;
	g_autofree gchar *label = NULL;

	if (row == NULL)
		return usbpass_sqlite_store_not_found(host, device_id, error);
	shown = usbpass_sqlite_store_shown(device_id);
	label = usbpass_sqlite_store_instance_label(row);
	switch (row->state) {
	case USBPASS_DEVICE_STATE_ATTACHING:
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_BUSY,
			    "USB device '%s' is being attached to instance '%s' right now",
			    shown,
			    label);
		return FALSE;
	case USBPASS_DEVICE_STATE_DETACHING:
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_BUSY,
			    "USB device '%s' is being detached from instance '%s' right now",
			    shown,
			    label);
		return FALSE;
	default:
		break;
	}
	if (g_strcmp0(row->instance_uuid, instance_uuid) == 0) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_IN_USE,
			    "USB device '%s' is already assigned to instance '%s' (%s)",
			    shown,
			    label,
			    usbpass_device_state_to_string(row->state));
		return FALSE;
	}
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_IN_USE,
		    "USB device '%s' is in use by instance '%s'",
		    shown,
		    label);
	return FALSE;
}

static gboolean
usbpass_sqlite_store_claim_device_lease(UsbpassStore *store,
					const gchar *host,
					const gchar *device_id,
					const gchar *instance_uuid,
					const gchar *instance_name,
					guint64 *generation,
					GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	gint rc;

	if (!usbpass_sqlite_store_check_text("instance uuid",
					     instance_uuid,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("instance name",
					     instance_name,
					     FALSE,
					     USBPASS_SQLITE_STORE_TEXT_MAX,
					     error)) {
		g_autofree gchar *shown = usbpass_sqlite_store_shown(device_id);
		g_prefix_error(error, "cannot claim USB device '%s': ", shown);
		return FALSE;
	}

	if (!usbpass_sqlite_transaction_begin(&txn, self, "claim a USB device", error))
		return FALSE;
	/* the compare-and-set: the WHERE clause is the whole rule of who may claim */
	if (!usbpass_sqlite_store_prepare(
		self,
		"UPDATE host_usb_devices SET state = 'attaching', instance_uuid = ?3, "
		"instance_name = CASE WHEN ?4 IS NOT NULL THEN ?4 "
		" WHEN instance_uuid IS ?3 THEN instance_name END, "
		"error = NULL, updated_usec = ?5, generation = generation + 1 "
		"WHERE host = ?1 AND device_id = ?2 AND (state = 'available' OR "
		"(state = 'failed' AND (instance_uuid IS NULL OR instance_uuid = ?3))) "
		"RETURNING generation",
		&stmt,
		error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, host);
	usbpass_sqlite_store_bind_text(stmt, 2, device_id);
	usbpass_sqlite_store_bind_text(stmt, 3, instance_uuid);
	usbpass_sqlite_store_bind_text(stmt, 4, instance_name);
	sqlite3_bind_int64(stmt, 5, g_get_real_time());
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		guint64 claimed = (guint64)MAX(sqlite3_column_int64(stmt, 0), 0);
		if (!usbpass_sqlite_store_step_done(self, stmt, "claim a USB device", error))
			return FALSE;
		if (!usbpass_sqlite_transaction_commit(&txn, "claim a USB device", error))
			return FALSE;
		if (generation != NULL)
			*generation = claimed;
		return TRUE;
	}
	if (rc != SQLITE_DONE)
		return usbpass_sqlite_store_set_error(self, rc, "claim a USB device", error);

	/* still under the lock: the row cannot change while we explain */
	if (!usbpass_sqlite_store_read_device(self, host, device_id, &row, error))
		return FALSE;
	return usbpass_sqlite_store_claim_refused(host, device_id, instance_uuid, row, error);
}

/* @generation 0: any lease (the unfenced transition) */
static gboolean
usbpass_sqlite_store_transition_lease(UsbpassStore *store,
				      const gchar *host,
				      const gchar *device_id,
				      guint64 generation,
				      UsbpassDeviceState from,
				      UsbpassDeviceState to,
				      const gchar *instance_uuid,
				      const gchar *instance_name,
				      const gchar *error_message,
				      guint64 *new_generation,
				      GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;
	g_autofree gchar *shown = usbpass_sqlite_store_shown(device_id);
	g_autofree gchar *message = NULL;
	const gchar *new_uuid = NULL;
	const gchar *new_name = NULL;
	guint64 next_generation;

	if (!usbpass_device_state_can_transition(from, to)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "USB device '%s' cannot go from '%s' to '%s'%s",
			    shown,
			    usbpass_device_state_to_string(from),
			    usbpass_device_state_to_string(to),
			    to == USBPASS_DEVICE_STATE_ATTACHING ? ": only a claim or a re-attach attaches" : "");
		return FALSE;
	}
	if (to == USBPASS_DEVICE_STATE_AVAILABLE && instance_uuid != NULL) {
		g_autofree gchar *shown_uuid = usbpass_sqlite_store_shown(instance_uuid);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "USB device '%s' cannot become available and stay assigned to instance '%s'",
			    shown,
			    shown_uuid);
		return FALSE;
	}
	if (!usbpass_sqlite_store_check_text("instance uuid",
					     instance_uuid,
					     FALSE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("instance name",
					     instance_name,
					     FALSE,
					     USBPASS_SQLITE_STORE_TEXT_MAX,
					     error)) {
		g_prefix_error(error, "cannot change USB device '%s': ", shown);
		return FALSE;
	}
	if (instance_uuid != NULL && instance_uuid[0] == '\0') {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "cannot change USB device '%s': instance uuid is empty",
			    shown);
		return FALSE;
	}
	/* hypervisor messages span lines and any length: keep one bounded line */
	message = usbpass_string_sanitize(error_message, -1, USBPASS_STORE_MESSAGE_MAX);

	if (!usbpass_sqlite_transaction_begin(&txn, self, "change a USB device", error))
		return FALSE;
	if (!usbpass_sqlite_store_read_device(self, host, device_id, &row, error))
		return FALSE;
	if (row == NULL)
		return usbpass_sqlite_store_not_found(host, device_id, error);
	if (row->state != from) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_BUSY,
			    "USB device '%s' is '%s', not '%s': another request changed it first",
			    shown,
			    usbpass_device_state_to_string(row->state),
			    usbpass_device_state_to_string(from));
		return FALSE;
	}
	if (generation != 0 && row->generation != generation) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_BUSY,
			    "USB device '%s' is lease %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT
			    ": a newer lease replaced it",
			    shown,
			    row->generation,
			    generation);
		return FALSE;
	}
	if (to != USBPASS_DEVICE_STATE_AVAILABLE) {
		new_uuid = instance_uuid != NULL ? instance_uuid : row->instance_uuid;
		if (instance_name != NULL)
			new_name = instance_name;
		else if (g_strcmp0(new_uuid, row->instance_uuid) == 0)
			new_name = row->instance_name;
		if (new_uuid == NULL) {
			g_set_error(error,
				    USBPASS_ERROR,
				    USBPASS_ERROR_INVALID_DATA,
				    "USB device '%s' cannot become '%s' without an instance",
				    shown,
				    usbpass_device_state_to_string(to));
			return FALSE;
		}
	}

	/* a new holder is a new lease */
	next_generation = row->generation + (g_strcmp0(new_uuid, row->instance_uuid) != 0 ? 1 : 0);
	if (!usbpass_sqlite_store_prepare(
		self,
		"UPDATE host_usb_devices SET state = ?4, instance_uuid = ?5, instance_name = ?6, "
		"error = ?7, updated_usec = ?8, generation = ?9 "
		"WHERE host = ?1 AND device_id = ?2 AND state = ?3",
		&stmt,
		error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, host);
	usbpass_sqlite_store_bind_text(stmt, 2, device_id);
	usbpass_sqlite_store_bind_text(stmt, 3, usbpass_device_state_to_string(from));
	usbpass_sqlite_store_bind_text(stmt, 4, usbpass_device_state_to_string(to));
	usbpass_sqlite_store_bind_text(stmt, 5, new_uuid);
	usbpass_sqlite_store_bind_text(stmt, 6, new_name);
	usbpass_sqlite_store_bind_text(stmt, 7, message);
	sqlite3_bind_int64(stmt, 8, g_get_real_time());
	sqlite3_bind_int64(stmt, 9, (gint64)next_generation);
	if (!usbpass_sqlite_store_step_done(self, stmt, "change a USB device", error))
		return FALSE;
	if (!usbpass_sqlite_transaction_commit(&txn, "change a USB device", error))
		return FALSE;
	if (new_generation != NULL)
		*new_generation = next_generation;
	return TRUE;
}

static gboolean
usbpass_sqlite_store_set_present(UsbpassStore *store,
				 const gchar *host,
				 const gchar *device_id,
				 gboolean present,
				 GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;

	if (!usbpass_sqlite_transaction_begin(&txn, self, "mark a USB device present", error))
		return FALSE;
	if (!usbpass_sqlite_store_prepare(self,
					  "UPDATE host_usb_devices SET present = ?3 "
					  "WHERE host = ?1 AND device_id = ?2",
					  &stmt,
					  error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, host);
	usbpass_sqlite_store_bind_text(stmt, 2, device_id);
	sqlite3_bind_int(stmt, 3, present ? 1 : 0);
	if (!usbpass_sqlite_store_step_done(self, stmt, "mark a USB device present", error))
		return FALSE;
	if (sqlite3_changes(self->db) == 0)
		return usbpass_sqlite_store_not_found(host, device_id, error);
	return usbpass_sqlite_transaction_commit(&txn, "mark a USB device present", error);
}

static gboolean
usbpass_sqlite_store_delete_device(UsbpassStore *store,
				   const gchar *host,
				   const gchar *device_id,
				   GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;

	if (!usbpass_sqlite_transaction_begin(&txn, self, "forget a USB device", error))
		return FALSE;
	if (!usbpass_sqlite_store_read_device(self, host, device_id, &row, error))
		return FALSE;
	if (row == NULL)
		return usbpass_sqlite_store_not_found(host, device_id, error);
	if (row->state != USBPASS_DEVICE_STATE_AVAILABLE) {
		g_autofree gchar *shown = usbpass_sqlite_store_shown(device_id);
		g_autofree gchar *label = usbpass_sqlite_store_instance_label(row);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_IN_USE,
			    "USB device '%s' is in use by instance '%s' (%s): detach it first",
			    shown,
			    label,
			    usbpass_device_state_to_string(row->state));
		return FALSE;
	}
	if (!usbpass_sqlite_store_prepare(self,
					  "DELETE FROM host_usb_devices WHERE host = ?1 AND "
					  "device_id = ?2 AND state = 'available'",
					  &stmt,
					  error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, host);
	usbpass_sqlite_store_bind_text(stmt, 2, device_id);
	if (!usbpass_sqlite_store_step_done(self, stmt, "forget a USB device", error))
		return FALSE;
	return usbpass_sqlite_transaction_commit(&txn, "forget a USB device", error);
}

/* audit log */

static gboolean
usbpass_sqlite_store_append_audit(UsbpassStore *store,
				  const UsbpassAuditEntry *entry,
				  GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(UsbpassSqliteCachedStmt) trim = NULL;
	g_autofree gchar *message = NULL;
	gint64 now = g_get_real_time();
	gint64 id;

	if (!usbpass_sqlite_store_check_text("audit host",
					     entry->host,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("audit actor",
					     entry->actor,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("audit action",
					     entry->action,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("audit device identity",
					     entry->device_id,
					     FALSE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("audit instance uuid",
					     entry->instance_uuid,
					     FALSE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error) ||
	    !usbpass_sqlite_store_check_text("audit outcome",
					     entry->outcome,
					     TRUE,
					     USBPASS_SQLITE_STORE_ID_MAX,
					     error)) {
		g_prefix_error(error, "cannot append to the audit log: ");
		return FALSE;
	}
	message = usbpass_string_sanitize(entry->message, -1, USBPASS_STORE_MESSAGE_MAX);

	if (!usbpass_sqlite_transaction_begin(&txn, self, "append to the audit log", error))
		return FALSE;
	if (!usbpass_sqlite_store_prepare(self,
					  "INSERT INTO audit_log (created_usec, host, actor, action, "
					  "device_id, instance_uuid, outcome, message) "
					  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
					  &stmt,
					  error))
		return FALSE;
	sqlite3_bind_int64(stmt, 1, entry->created_usec > 0 ? entry->created_usec : now);
	usbpass_sqlite_store_bind_text(stmt, 2, entry->host);
	usbpass_sqlite_store_bind_text(stmt, 3, entry->actor);
	usbpass_sqlite_store_bind_text(stmt, 4, entry->action);
	usbpass_sqlite_store_bind_text(stmt, 5, entry->device_id);
	usbpass_sqlite_store_bind_text(stmt, 6, entry->instance_uuid);
	usbpass_sqlite_store_bind_text(stmt, 7, entry->outcome);
	usbpass_sqlite_store_bind_text(stmt, 8, message);
	if (!usbpass_sqlite_store_step_done(self, stmt, "append to the audit log", error))
		return FALSE;
	id = sqlite3_last_insert_rowid(self->db);

	/* AUTOINCREMENT ids never go back, so the oldest rows are a range of the
	 * primary key: normally one row leaves for each that comes */
	if (!usbpass_sqlite_store_prepare(self,
					  "DELETE FROM audit_log WHERE id <= ?1",
					  &trim,
					  error))
		return FALSE;
	sqlite3_bind_int64(trim, 1, id - (gint64)self->audit_max_rows);
	if (!usbpass_sqlite_store_step_done(self, trim, "trim the audit log", error))
		return FALSE;
	return usbpass_sqlite_transaction_commit(&txn, "append to the audit log", error);
}

static GPtrArray *
usbpass_sqlite_store_list_audit(UsbpassStore *store,
				const gchar *host,
				gint64 after_id,
				guint limit,
				GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(GPtrArray) entries = NULL; /* of UsbpassAuditEntry */
	gint rc;

	entries = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_audit_entry_free);

	if (!usbpass_sqlite_store_prepare(self,
					  host != NULL ? "SELECT " AUDIT_COLUMNS " FROM audit_log "
							 "WHERE host = ?3 AND id > ?1 "
							 "ORDER BY id DESC LIMIT ?2"
						       : "SELECT " AUDIT_COLUMNS " FROM audit_log "
							 "WHERE id > ?1 ORDER BY id DESC LIMIT ?2",
					  &stmt,
					  error))
		return NULL;
	sqlite3_bind_int64(stmt, 1, after_id);
	sqlite3_bind_int64(stmt, 2, limit);
	if (host != NULL)
		usbpass_sqlite_store_bind_text(stmt, 3, host);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		UsbpassAuditEntry *entry = usbpass_audit_entry_new();
		entry->id = sqlite3_column_int64(stmt, 0);
		entry->created_usec = sqlite3_column_int64(stmt, 1);
		entry->host = usbpass_sqlite_store_column_text(stmt, 2);
		entry->actor = usbpass_sqlite_store_column_text(stmt, 3);
		entry->action = usbpass_sqlite_store_column_text(stmt, 4);
		entry->device_id = usbpass_sqlite_store_column_text(stmt, 5);
		entry->instance_uuid = usbpass_sqlite_store_column_text(stmt, 6);
		entry->outcome = usbpass_sqlite_store_column_text(stmt, 7);
		entry->message = usbpass_sqlite_store_column_text(stmt, 8);
		g_ptr_array_add(entries, entry);
	}
	if (rc != SQLITE_DONE) {
		usbpass_sqlite_store_set_error(self, rc, "list the audit log", error);
		return NULL;
	}
	return g_steal_pointer(&entries);
}

/* tokens */

static gboolean
usbpass_sqlite_store_check_secret_hash(const gchar *secret_hash)
{
	const gchar *prefix = "sha256:";
	gsize prefix_len = strlen(prefix);

	if (secret_hash == NULL || !g_str_has_prefix(secret_hash, prefix))
		return FALSE;
	if (strlen(secret_hash) != prefix_len + 64)
		return FALSE;
	for (gsize i = prefix_len; secret_hash[i] != '\0'; i++) {
		if (!g_ascii_isxdigit(secret_hash[i]) || g_ascii_isupper(secret_hash[i]))
			return FALSE;
	}
	return TRUE;
}

static UsbpassToken *
usbpass_sqlite_store_token_from_stmt(sqlite3_stmt *stmt)
{
	UsbpassToken *token = usbpass_token_new();
	token->name = usbpass_sqlite_store_column_text(stmt, 0);
	token->role = usbpass_token_role_from_string((const gchar *)sqlite3_column_text(stmt, 1));
	token->secret_hash = usbpass_sqlite_store_column_text(stmt, 2);
	token->created_usec = sqlite3_column_int64(stmt, 3);
	token->last_used_usec = sqlite3_column_int64(stmt, 4);
	return token;
}

/* counts the rows of a one-column query inside the caller's transaction */
static gboolean
usbpass_sqlite_store_count(UsbpassSqliteStore *self,
			   const gchar *sql,
			   const gchar *arg,
			   gint64 *count,
			   GError **error)
{
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint rc;

	if (!usbpass_sqlite_store_prepare(self, sql, &stmt, error))
		return FALSE;
	if (arg != NULL)
		usbpass_sqlite_store_bind_text(stmt, 1, arg);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		return usbpass_sqlite_store_set_error(self, rc, "count tokens", error);
	*count = sqlite3_column_int64(stmt, 0);
	return TRUE;
}

static gboolean
usbpass_sqlite_store_add_token(UsbpassStore *store, const UsbpassToken *token, GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint64 now = g_get_real_time();
	gint64 count = 0;

	if (!usbpass_string_is_identifier(token->name, 64)) {
		g_autofree gchar *shown = usbpass_sqlite_store_shown(token->name);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "token name '%s' is not 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'",
			    shown);
		return FALSE;
	}
	if ((guint)token->role >= USBPASS_TOKEN_ROLE_LAST) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "token '%s' has no valid role",
			    token->name);
		return FALSE;
	}
	if (!usbpass_sqlite_store_check_secret_hash(token->secret_hash)) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "token '%s' has a secret hash that is not 'sha256:' and 64 lower-case hex digits",
			    token->name);
		return FALSE;
	}

	if (!usbpass_sqlite_transaction_begin(&txn, self, "add a token", error))
		return FALSE;
	if (!usbpass_sqlite_store_count(self,
					"SELECT COUNT(*) FROM api_tokens WHERE name = ?1",
					token->name,
					&count,
					error))
		return FALSE;
	if (count > 0) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "token '%s' already exists",
			    token->name);
		return FALSE;
	}
	if (!usbpass_sqlite_store_count(self,
					"SELECT COUNT(*) FROM api_tokens WHERE secret_hash = ?1",
					token->secret_hash,
					&count,
					error))
		return FALSE;
	if (count > 0) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "token '%s' has the same secret as another token",
			    token->name);
		return FALSE;
	}
	if (!usbpass_sqlite_store_count(self,
					"SELECT COUNT(*) FROM api_tokens",
					NULL,
					&count,
					error))
		return FALSE;
	if (count >= USBPASS_STORE_TOKENS_MAX) {
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "cannot add token '%s': the store already holds %u tokens, the most it keeps",
			    token->name,
			    (guint)USBPASS_STORE_TOKENS_MAX);
		return FALSE;
	}
	if (!usbpass_sqlite_store_prepare(self,
					  "INSERT INTO api_tokens (" TOKEN_COLUMNS ") "
					  "VALUES (?1, ?2, ?3, ?4, ?5)",
					  &stmt,
					  error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, token->name);
	usbpass_sqlite_store_bind_text(stmt, 2, usbpass_token_role_to_string(token->role));
	usbpass_sqlite_store_bind_text(stmt, 3, token->secret_hash);
	sqlite3_bind_int64(stmt, 4, token->created_usec > 0 ? token->created_usec : now);
	sqlite3_bind_int64(stmt, 5, MAX(token->last_used_usec, 0));
	if (!usbpass_sqlite_store_step_done(self, stmt, "add a token", error))
		return FALSE;
	return usbpass_sqlite_transaction_commit(&txn, "add a token", error);
}

static UsbpassToken *
usbpass_sqlite_store_lookup_token(UsbpassStore *store, const gchar *secret_hash, GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	gint rc;

	if (!usbpass_sqlite_store_prepare(self,
					  "SELECT " TOKEN_COLUMNS
					  " FROM api_tokens WHERE secret_hash = ?1",
					  &stmt,
					  error))
		return NULL;
	usbpass_sqlite_store_bind_text(stmt, 1, secret_hash);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		return usbpass_sqlite_store_token_from_stmt(stmt);
	if (rc != SQLITE_DONE) {
		usbpass_sqlite_store_set_error(self, rc, "look up a token", error);
		return NULL;
	}
	/* never echo the hash: it is as good as the secret for a lookup */
	g_set_error_literal(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_NOT_FOUND,
			    "no token has this secret");
	return NULL;
}

static GPtrArray *
usbpass_sqlite_store_list_tokens(UsbpassStore *store, GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;
	g_autoptr(GPtrArray) tokens = NULL; /* of UsbpassToken */
	gint rc;

	tokens = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_token_free);

	if (!usbpass_sqlite_store_prepare(self,
					  "SELECT " TOKEN_COLUMNS " FROM api_tokens ORDER BY name",
					  &stmt,
					  error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(tokens, usbpass_sqlite_store_token_from_stmt(stmt));
	if (rc != SQLITE_DONE) {
		usbpass_sqlite_store_set_error(self, rc, "list tokens", error);
		return NULL;
	}
	return g_steal_pointer(&tokens);
}

static gboolean
usbpass_sqlite_store_token_not_found(const gchar *name, GError **error)
{
	g_autofree gchar *shown = usbpass_sqlite_store_shown(name);
	g_set_error(error,
		    USBPASS_ERROR,
		    USBPASS_ERROR_NOT_FOUND,
		    "token '%s' does not exist",
		    shown);
	return FALSE;
}

static gboolean
usbpass_sqlite_store_revoke_token(UsbpassStore *store, const gchar *name, GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;

	if (!usbpass_sqlite_transaction_begin(&txn, self, "revoke a token", error))
		return FALSE;
	if (!usbpass_sqlite_store_prepare(self,
					  "DELETE FROM api_tokens WHERE name = ?1",
					  &stmt,
					  error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, name);
	if (!usbpass_sqlite_store_step_done(self, stmt, "revoke a token", error))
		return FALSE;
	if (sqlite3_changes(self->db) == 0)
		return usbpass_sqlite_store_token_not_found(name, error);
	return usbpass_sqlite_transaction_commit(&txn, "revoke a token", error);
}

static gboolean
usbpass_sqlite_store_touch_token(UsbpassStore *store,
				 const gchar *name,
				 gint64 used_usec,
				 GError **error)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(store);
	g_auto(UsbpassSqliteTransaction) txn = {NULL};
	g_autoptr(UsbpassSqliteCachedStmt) stmt = NULL;

	if (!usbpass_sqlite_transaction_begin(&txn, self, "record the use of a token", error))
		return FALSE;
	/* concurrent requests may finish out of order: the time only moves forward */
	if (!usbpass_sqlite_store_prepare(
		self,
		"UPDATE api_tokens SET last_used_usec = MAX(last_used_usec, ?2) WHERE name = ?1",
		&stmt,
		error))
		return FALSE;
	usbpass_sqlite_store_bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, used_usec);
	if (!usbpass_sqlite_store_step_done(self, stmt, "record the use of a token", error))
		return FALSE;
	if (sqlite3_changes(self->db) == 0)
		return usbpass_sqlite_store_token_not_found(name, error);
	return usbpass_sqlite_transaction_commit(&txn, "record the use of a token", error);
}

/* object */

static void
usbpass_sqlite_store_iface_init(UsbpassStoreInterface *iface)
{
	iface->upsert_device = usbpass_sqlite_store_upsert_device;
	iface->get_device = usbpass_sqlite_store_get_device;
	iface->list_devices = usbpass_sqlite_store_list_devices;
	iface->set_present = usbpass_sqlite_store_set_present;
	iface->delete_device = usbpass_sqlite_store_delete_device;
	iface->append_audit = usbpass_sqlite_store_append_audit;
	iface->list_audit = usbpass_sqlite_store_list_audit;
	iface->add_token = usbpass_sqlite_store_add_token;
	iface->lookup_token = usbpass_sqlite_store_lookup_token;
	iface->list_tokens = usbpass_sqlite_store_list_tokens;
	iface->revoke_token = usbpass_sqlite_store_revoke_token;
	iface->touch_token = usbpass_sqlite_store_touch_token;
	iface->claim_device_lease = usbpass_sqlite_store_claim_device_lease;
	iface->transition_lease = usbpass_sqlite_store_transition_lease;
}

static void
usbpass_sqlite_store_dispose(GObject *object)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(object);

	/* finalizes the cached statements */
	if (self->statements != NULL)
		g_hash_table_remove_all(self->statements);
	G_OBJECT_CLASS(usbpass_sqlite_store_parent_class)->dispose(object);
}

static void
usbpass_sqlite_store_finalize(GObject *object)
{
	UsbpassSqliteStore *self = USBPASS_SQLITE_STORE(object);

	g_hash_table_unref(self->statements);
	/* close_v2 defers the close until the last statement is finalized */
	if (self->db != NULL)
		sqlite3_close_v2(self->db);
	g_free(self->path);
	G_OBJECT_CLASS(usbpass_sqlite_store_parent_class)->finalize(object);
}

static void
usbpass_sqlite_store_class_init(UsbpassSqliteStoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = usbpass_sqlite_store_dispose;
	object_class->finalize = usbpass_sqlite_store_finalize;
}

static void
usbpass_sqlite_store_init(UsbpassSqliteStore *self)
{
	self->busy_timeout_ms = USBPASS_SQLITE_STORE_BUSY_TIMEOUT_MS;
	self->audit_max_rows = USBPASS_SQLITE_STORE_AUDIT_MAX_ROWS;
	self->statements =
	  g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
}

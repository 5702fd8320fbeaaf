/*
 * usbpass-pg-store.c: the cluster store, one PostgreSQL database for many hosts
 */
#define G_LOG_DOMAIN "UsbpassStore"

#include "config.h"

#include <libpq-fe.h>
#include <string.h>

#include "usbpass-autocleanups.h"
#include "usbpass-error.h"
#include "usbpass-pg-store.h"
#include "usbpass-string.h"

struct _UsbpassPgStore {
	GObject parent_instance;
	GMutex mutex; /* held for every call: guards conn and the fields below */
	PGconn *conn;
	gchar *location; /* without password, for messages */
	guint audit_max_rows;
	guint schema_version;
	guint migrations_applied;
	/* SQL text -> its prepared statement's name on this connection; emptied
	 * on reconnect, since a new session knows none */
	GHashTable *prepared;
};

static void
usbpass_pg_store_iface_init(UsbpassStoreInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UsbpassPgStore,
                        usbpass_pg_store,
                        G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(USBPASS_TYPE_STORE, usbpass_pg_store_iface_init))

/* the same bounds as the SQLite store: what other callers can make us store */
#define USBPASS_PG_STORE_ID_MAX   512
#define USBPASS_PG_STORE_TEXT_MAX 1024
/* key of the advisory lock that serialises token additions (the count limit) */
#define USBPASS_PG_STORE_TOKEN_LOCK G_GINT64_CONSTANT(0x7573627061737302)

/*
 * Migrations, oldest first: each takes the database from version - 1 to
 * version, all in the one transaction of usbpass_pg_store_migrate(). Never
 * edit a released step: add the next one. The key columns sort bytewise
 * (COLLATE "C"), as SQLite does, whatever the database's locale.
 */
typedef struct {
	guint version;
	const gchar *sql;
} UsbpassPgMigration;

static const UsbpassPgMigration migrations[] = {
	{ 1,
	  /* the SQLite schema of version 3, in PostgreSQL types: one row per
	   * (host, device identity); the CHECKs keep the state machine's invariant
	   * in the database itself, an instance exactly when not available */
	  "CREATE TABLE host_usb_devices ("
	  " host text COLLATE \"C\" NOT NULL CHECK (length(host) > 0),"
	  " device_id text COLLATE \"C\" NOT NULL CHECK (length(device_id) > 0),"
	  " name text,"
	  " bus bigint NOT NULL DEFAULT 0 CHECK (bus >= 0),"
	  " device bigint NOT NULL DEFAULT 0 CHECK (device >= 0),"
	  " vendor_id integer NOT NULL DEFAULT 0 CHECK (vendor_id BETWEEN 0 AND 65535),"
	  " product_id integer NOT NULL DEFAULT 0 CHECK (product_id BETWEEN 0 AND 65535),"
	  " serial text,"
	  " port text,"
	  " instance_uuid text CHECK (instance_uuid IS NULL OR length(instance_uuid) > 0),"
	  " instance_name text,"
	  " state text NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'attaching',"
	  "  'attached', 'detaching', 'failed', 'missing')),"
	  " present boolean NOT NULL DEFAULT false,"
	  " error text,"
	  " created_usec bigint NOT NULL,"
	  " updated_usec bigint NOT NULL,"
	  " generation bigint NOT NULL DEFAULT 0 CHECK (generation >= 0),"
	  " PRIMARY KEY (host, device_id),"
	  " CHECK ((state = 'available') = (instance_uuid IS NULL)),"
	  " CHECK (instance_name IS NULL OR instance_uuid IS NOT NULL)"
	  ");"
	  "CREATE INDEX host_usb_devices_instance ON host_usb_devices (instance_uuid)"
	  " WHERE instance_uuid IS NOT NULL;"
	  "CREATE TABLE audit_log ("
	  " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	  " created_usec bigint NOT NULL,"
	  " host text NOT NULL,"
	  " actor text NOT NULL,"
	  " action text NOT NULL,"
	  " device_id text,"
	  " instance_uuid text,"
	  " outcome text NOT NULL,"
	  " message text"
	  ");"
	  "CREATE INDEX audit_log_host ON audit_log (host, id);"
	  "CREATE TABLE api_tokens ("
	  " name text COLLATE \"C\" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
	  " role text NOT NULL CHECK (role IN ('reader', 'operator', 'admin')),"
	  " secret_hash text NOT NULL UNIQUE,"
	  " created_usec bigint NOT NULL,"
	  " last_used_usec bigint NOT NULL DEFAULT 0"
	  ");" },
};

#define DEVICE_COLUMNS                                                                             \
	"host, device_id, name, bus, device, vendor_id, product_id, serial, port, instance_uuid, " \
	"instance_name, state, present, error, created_usec, updated_usec, generation"
#define AUDIT_COLUMNS                                                                              \
	"id, created_usec, host, actor, action, device_id, instance_uuid, outcome, message"
#define TOKEN_COLUMNS "name, role, secret_hash, created_usec, last_used_usec"

/* locations */

/**
 * usbpass_pg_store_is_uri:
 * @location: (nullable): a store location
 *
 * Returns: %TRUE when @location is a PostgreSQL connection URI
 */
gboolean
usbpass_pg_store_is_uri(const gchar *location)
{
	return location != NULL && (g_str_has_prefix(location, "postgresql://") ||
	                            g_str_has_prefix(location, "postgres://"));
}

/**
 * usbpass_pg_store_location_to_display:
 * @uri: a PostgreSQL connection URI
 *
 * Returns: (transfer full): the URI's user, host, port and database, never its
 * password or other parameters; printable and bounded
 */
gchar *
usbpass_pg_store_location_to_display(const gchar *uri)
{
	PQconninfoOption *options;
	const gchar *user = NULL;
	const gchar *host = NULL;
	const gchar *port = NULL;
	const gchar *dbname = NULL;
	g_autoptr(GString) shown = g_string_new("postgresql://");

	g_return_val_if_fail(uri != NULL, NULL);

	/* libpq's own parser: it knows percent-encoding, lists and ?host= */
	options = PQconninfoParse(uri, NULL);
	if (options == NULL)
		return g_strdup("postgresql://(malformed)");
	for (PQconninfoOption *opt = options; opt->keyword != NULL; opt++) {
		if (opt->val == NULL || opt->val[0] == '\0')
			continue;
		if (g_strcmp0(opt->keyword, "user") == 0)
			user = opt->val;
		else if (g_strcmp0(opt->keyword, "host") == 0)
			host = opt->val;
		else if (g_strcmp0(opt->keyword, "port") == 0)
			port = opt->val;
		else if (g_strcmp0(opt->keyword, "dbname") == 0)
			dbname = opt->val;
	}
	if (user != NULL)
		g_string_append_printf(shown, "%s@", user);
	if (host != NULL)
		g_string_append(shown, host);
	if (port != NULL)
		g_string_append_printf(shown, ":%s", port);
	g_string_append_printf(shown, "/%s", dbname != NULL ? dbname : "");
	PQconninfoFree(options);
	return usbpass_string_sanitize(shown->str, -1, 256);
}

/* errors */

/* a caller's string in a message: printable, bounded */
static gchar *
usbpass_pg_store_shown(const gchar *str)
{
	gchar *shown = usbpass_string_sanitize(str, -1, 128);
	return shown != NULL ? shown : g_strdup("");
}

/* libpq's messages end in a newline and may span lines: one bounded line */
static gchar *
usbpass_pg_store_server_message(UsbpassPgStore *self, const PGresult *res)
{
	const gchar *msg = NULL;
	g_autofree gchar *stripped = NULL;
	gchar *shown;

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL && res != NULL && PQresultErrorMessage(res)[0] != '\0')
		msg = PQresultErrorMessage(res);
	if (msg == NULL)
		msg = PQerrorMessage(self->conn);
	stripped = g_strstrip(g_strdup(msg));
	shown = usbpass_string_sanitize(stripped, -1, 1024);
	return shown != NULL ? shown : g_strdup("unknown error");
}

static gboolean
usbpass_pg_store_set_error(UsbpassPgStore *self,
                           const PGresult *res,
                           const gchar *what,
                           GError **error)
{
	const gchar *sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	g_autofree gchar *msg = usbpass_pg_store_server_message(self, res);

	if (PQstatus(self->conn) == CONNECTION_BAD) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_STORE,
		  "cannot %s: lost the connection to PostgreSQL '%s', reconnecting on the "
		  "next call: %s",
		  what,
		  self->location,
		  msg);
	} else if (sqlstate != NULL && g_str_has_prefix(sqlstate, "23")) {
		/* integrity constraint violation: the CHECKs, keys and NOT NULLs */
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "cannot %s: PostgreSQL '%s' refused the values: %s",
		            what,
		            self->location,
		            msg);
	} else if (g_strcmp0(sqlstate, "40001") == 0 || g_strcmp0(sqlstate, "40P01") == 0 ||
	           g_strcmp0(sqlstate, "55P03") == 0) {
		/* serialization failure, deadlock, lock not available: try again */
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "cannot %s: PostgreSQL '%s' is busy with another writer: %s",
		            what,
		            self->location,
		            msg);
	} else {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_STORE,
		            "cannot %s: PostgreSQL '%s': %s",
		            what,
		            self->location,
		            msg);
	}
	return FALSE;
}

static gboolean
usbpass_pg_store_check_text(const gchar *what,
                            const gchar *value,
                            gboolean required,
                            gsize max_bytes,
                            GError **error)
{
	if (value == NULL) {
		if (!required)
			return TRUE;
		g_set_error(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "%s is missing", what);
		return FALSE;
	}
	if (required && value[0] == '\0') {
		g_set_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "%s is empty", what);
		return FALSE;
	}
	if (!g_utf8_validate(value, -1, NULL)) {
		g_set_error(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "%s is not valid UTF-8", what);
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

/* parameters: every value travels as text, bound, never pasted into SQL */

#define USBPASS_PG_PARAMS_MAX 12

typedef struct {
	const gchar *values[USBPASS_PG_PARAMS_MAX];
	gchar *owned[USBPASS_PG_PARAMS_MAX];
	gint n;
} UsbpassPgParams;

static void
usbpass_pg_params_clear(UsbpassPgParams *params)
{
	for (gint i = 0; i < params->n; i++)
		g_free(params->owned[i]);
	params->n = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbpassPgParams, usbpass_pg_params_clear)

/* @value NULL binds SQL NULL; the caller's string outlives the call */
static void
usbpass_pg_params_text(UsbpassPgParams *params, const gchar *value)
{
	g_assert(params->n < USBPASS_PG_PARAMS_MAX);
	params->owned[params->n] = NULL;
	params->values[params->n++] = value;
}

static void
usbpass_pg_params_int(UsbpassPgParams *params, gint64 value)
{
	g_assert(params->n < USBPASS_PG_PARAMS_MAX);
	params->owned[params->n] = g_strdup_printf("%" G_GINT64_FORMAT, value);
	params->values[params->n] = params->owned[params->n];
	params->n++;
}

static void
usbpass_pg_params_bool(UsbpassPgParams *params, gboolean value)
{
	usbpass_pg_params_text(params, value ? "true" : "false");
}

/* statements */

/* runs @sql with @params (NULL: none) and returns its result, or NULL with the
 * error set; a dropped connection leaves the PGconn bad for the next call.
 * Each text is prepared once per session: parsing and planning cost more than
 * running the claim's compare-and-set */
static PGresult *
usbpass_pg_store_exec(UsbpassPgStore *self,
                      const gchar *sql,
                      const UsbpassPgParams *params,
                      const gchar *what,
                      GError **error)
{
	const gchar *name = g_hash_table_lookup(self->prepared, sql);
	PGresult *res;
	ExecStatusType status;

	if (name == NULL) {
		g_autofree gchar *fresh =
		  g_strdup_printf("usbpass_%u", g_hash_table_size(self->prepared));
		g_autoptr(PGresult) prepared =
		  PQprepare(self->conn, fresh, sql, params != NULL ? params->n : 0, NULL);
		if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
			usbpass_pg_store_set_error(self, prepared, what, error);
			return NULL;
		}
		name = fresh;
		g_hash_table_insert(self->prepared, g_strdup(sql), g_steal_pointer(&fresh));
	}
	res = PQexecPrepared(self->conn,
	                     name,
	                     params != NULL ? params->n : 0,
	                     params != NULL ? params->values : NULL,
	                     NULL,
	                     NULL,
	                     0);
	status = PQresultStatus(res);
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
		return res;
	usbpass_pg_store_set_error(self, res, what, error);
	PQclear(res);
	return NULL;
}

/* a statement whose result is not needed */
static gboolean
usbpass_pg_store_run(UsbpassPgStore *self,
                     const gchar *sql,
                     const UsbpassPgParams *params,
                     const gchar *what,
                     GError **error)
{
	g_autoptr(PGresult) res = usbpass_pg_store_exec(self, sql, params, what, error);
	return res != NULL;
}

static gchar *
usbpass_pg_store_get_text(const PGresult *res, gint row, gint col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return g_strdup(PQgetvalue(res, row, col));
}

static gint64
usbpass_pg_store_get_int(const PGresult *res, gint row, gint col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static gboolean
usbpass_pg_store_get_bool(const PGresult *res, gint row, gint col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* "3" from an UPDATE or DELETE */
static guint64
usbpass_pg_store_changes(const PGresult *res)
{
	return g_ascii_strtoull(PQcmdTuples((PGresult *)res), NULL, 10);
}

/* the connection: a call that finds it lost fails; the next one reconnects */

static gboolean
usbpass_pg_store_ensure_connected(UsbpassPgStore *self, GError **error)
{
	if (PQstatus(self->conn) == CONNECTION_OK &&
	    PQtransactionStatus(self->conn) == PQTRANS_IDLE)
		return TRUE;
	/* a transaction left open (its ROLLBACK was lost) is ended by the reset too */
	PQreset(self->conn);
	g_hash_table_remove_all(self->prepared);
	if (PQstatus(self->conn) != CONNECTION_OK) {
		g_autofree gchar *msg = usbpass_pg_store_server_message(self, NULL);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_STORE,
		            "cannot reach PostgreSQL '%s': %s",
		            self->location,
		            msg);
		return FALSE;
	}
	g_debug("reconnected to PostgreSQL '%s'", self->location);
	return TRUE;
}

/* holds the store's mutex and a usable connection for one call */
typedef struct {
	UsbpassPgStore *store;
} UsbpassPgCall;

static void
usbpass_pg_call_clear(UsbpassPgCall *call)
{
	if (call->store == NULL)
		return;
	g_mutex_unlock(&call->store->mutex);
	call->store = NULL;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbpassPgCall, usbpass_pg_call_clear)

static gboolean
usbpass_pg_call_begin(UsbpassPgCall *call, UsbpassPgStore *self, GError **error)
{
	g_mutex_lock(&self->mutex);
	call->store = self;
	return usbpass_pg_store_ensure_connected(self, error);
}

/* transactions: the guard rolls back unless committed */

typedef struct {
	UsbpassPgStore *store;
} UsbpassPgTransaction;

static void
usbpass_pg_transaction_clear(UsbpassPgTransaction *txn)
{
	if (txn->store == NULL)
		return;
	/* on a lost connection the server rolls back by itself */
	if (PQstatus(txn->store->conn) == CONNECTION_OK)
		PQclear(PQexec(txn->store->conn, "ROLLBACK"));
	txn->store = NULL;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbpassPgTransaction, usbpass_pg_transaction_clear)

static gboolean
usbpass_pg_transaction_begin(UsbpassPgTransaction *txn,
                             UsbpassPgStore *self,
                             const gchar *what,
                             GError **error)
{
	if (!usbpass_pg_store_run(self, "BEGIN", NULL, what, error))
		return FALSE;
	txn->store = self;
	return TRUE;
}

static gboolean
usbpass_pg_transaction_commit(UsbpassPgTransaction *txn, const gchar *what, GError **error)
{
	UsbpassPgStore *self = txn->store;
	txn->store = NULL;
	/* a COMMIT that failed was rolled back by the server */
	return usbpass_pg_store_run(self, "COMMIT", NULL, what, error);
}

/* opening and migrating */

static gboolean
usbpass_pg_store_migrate(UsbpassPgStore *self, GError **error)
{
	g_auto(UsbpassPgTransaction) txn = { NULL };
	g_auto(UsbpassPgParams) lock = { 0 };
	g_autoptr(PGresult) res = NULL;
	guint version;

	/* the lock is released by COMMIT or ROLLBACK, or when the connection of a
	 * crashed opener closes: concurrent openers queue here, and the next one
	 * finds the schema up to date */
	if (!usbpass_pg_transaction_begin(&txn, self, "migrate the schema", error))
		return FALSE;
	usbpass_pg_params_int(&lock, USBPASS_PG_STORE_MIGRATION_LOCK);
	if (!usbpass_pg_store_run(self,
	                          "SELECT pg_advisory_xact_lock($1::bigint)",
	                          &lock,
	                          "lock the schema for migration",
	                          error))
		return FALSE;
	if (!usbpass_pg_store_run(self,
	                          "CREATE TABLE IF NOT EXISTS schema_version ("
	                          " version integer PRIMARY KEY,"
	                          " migrated_usec bigint NOT NULL)",
	                          NULL,
	                          "create the schema version table",
	                          error))
		return FALSE;
	res = usbpass_pg_store_exec(self,
	                            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
	                            NULL,
	                            "read the schema version",
	                            error);
	if (res == NULL)
		return FALSE;
	version = (guint)MAX(usbpass_pg_store_get_int(res, 0, 0), 0);
	if (version > USBPASS_PG_STORE_SCHEMA_VERSION) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_STORE,
		            "database '%s' has schema version %u, newer than the %u this usbpass "
		            "knows: it was written by a newer usbpass",
		            self->location,
		            version,
		            (guint)USBPASS_PG_STORE_SCHEMA_VERSION);
		return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(migrations); i++) {
		g_auto(UsbpassPgParams) params = { 0 };
		g_autofree gchar *what = NULL;
		g_autoptr(PGresult) step = NULL;

		if (migrations[i].version <= version)
			continue;
		what = g_strdup_printf("migrate the schema to version %u", migrations[i].version);
		/* several statements, no parameters: the simple query protocol */
		step = PQexec(self->conn, migrations[i].sql);
		if (PQresultStatus(step) != PGRES_COMMAND_OK)
			return usbpass_pg_store_set_error(self, step, what, error);
		usbpass_pg_params_int(&params, migrations[i].version);
		usbpass_pg_params_int(&params, g_get_real_time());
		if (!usbpass_pg_store_run(
		      self,
		      "INSERT INTO schema_version (version, migrated_usec) VALUES ($1, $2)",
		      &params,
		      what,
		      error))
			return FALSE;
		g_debug(
		  "migrated '%s' to schema version %u", self->location, migrations[i].version);
		version = migrations[i].version;
		self->migrations_applied++;
	}
	if (!usbpass_pg_transaction_commit(&txn, "migrate the schema", error))
		return FALSE;
	self->schema_version = version;
	return TRUE;
}

/* libpq prints notices (e.g. "relation already exists, skipping") on stderr */
static void
usbpass_pg_store_notice_cb(void *arg, const PGresult *res)
{
}

/**
 * usbpass_pg_store_new:
 * @uri: a libpq connection URI, "postgresql://..." or "postgres://..."
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for a malformed URI,
 *   #USBPASS_ERROR_STORE when the server cannot be reached or refuses the
 *   schema (a newer one); messages never show the password
 *
 * Connects and brings the schema to %USBPASS_PG_STORE_SCHEMA_VERSION.
 *
 * Returns: (transfer full): the store, or %NULL
 */
UsbpassPgStore *
usbpass_pg_store_new(const gchar *uri, GError **error)
{
	g_autoptr(UsbpassPgStore) self = NULL;
	PQconninfoOption *options;
	gchar *parse_error = NULL;
	/* our defaults first: a setting in the URI overrides them. The keepalive
	 * and user timeouts turn a silent network cut into an error instead of a
	 * hang; client_encoding last: usbpass speaks UTF-8 only */
	const gchar *const keywords[] = { "connect_timeout",
		                          "application_name",
		                          "keepalives_idle",
		                          "keepalives_interval",
		                          "keepalives_count",
		                          "tcp_user_timeout",
		                          "dbname",
		                          "client_encoding",
		                          NULL };
	const gchar *const values[] = {
		"10", "usbpassd", "10", "5", "3", "30000", uri, "UTF8", NULL
	};

	g_return_val_if_fail(uri != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self = g_object_new(USBPASS_TYPE_PG_STORE, NULL);
	self->location = usbpass_pg_store_location_to_display(uri);
	if (!usbpass_pg_store_is_uri(uri)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "store location is not a postgresql:// or postgres:// URI");
		return NULL;
	}
	options = PQconninfoParse(uri, &parse_error);
	if (options == NULL) {
		/* libpq's reason names the bad part, not the password */
		g_autofree gchar *reason = usbpass_string_sanitize(
		  parse_error != NULL ? parse_error : "out of memory", -1, 256);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "store '%s' is not a valid PostgreSQL URI: %s",
		            self->location,
		            reason != NULL ? g_strstrip(reason) : "");
		PQfreemem(parse_error);
		return NULL;
	}
	PQconninfoFree(options);

	self->conn = PQconnectdbParams(keywords, values, 1);
	if (self->conn == NULL) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_STORE,
		            "cannot connect to PostgreSQL '%s': out of memory",
		            self->location);
		return NULL;
	}
	if (PQstatus(self->conn) != CONNECTION_OK) {
		g_autofree gchar *msg = usbpass_pg_store_server_message(self, NULL);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_STORE,
		            "cannot connect to PostgreSQL '%s': %s",
		            self->location,
		            msg);
		return NULL;
	}
	PQsetNoticeReceiver(self->conn, usbpass_pg_store_notice_cb, NULL);
	if (!usbpass_pg_store_migrate(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * usbpass_pg_store_get_location:
 * @self: a #UsbpassPgStore
 *
 * Returns: the database as shown in messages, without password
 */
const gchar *
usbpass_pg_store_get_location(UsbpassPgStore *self)
{
	g_return_val_if_fail(USBPASS_IS_PG_STORE(self), NULL);
	return self->location;
}

/**
 * usbpass_pg_store_get_schema_version:
 * @self: a #UsbpassPgStore
 *
 * Returns: the schema version of the database, after migration
 */
guint
usbpass_pg_store_get_schema_version(UsbpassPgStore *self)
{
	g_return_val_if_fail(USBPASS_IS_PG_STORE(self), 0);
	return self->schema_version;
}

/**
 * usbpass_pg_store_get_migrations_applied:
 * @self: a #UsbpassPgStore
 *
 * Returns: how many migration steps opening @self applied; 0 when another
 *   opener had brought the schema up to date
 */
guint
usbpass_pg_store_get_migrations_applied(UsbpassPgStore *self)
{
	g_return_val_if_fail(USBPASS_IS_PG_STORE(self), 0);
	return self->migrations_applied;
}

/**
 * usbpass_pg_store_set_audit_max_rows:
 * @self: a #UsbpassPgStore
 * @max_rows: how many of the newest audit entries to keep, at least 1
 */
void
usbpass_pg_store_set_audit_max_rows(UsbpassPgStore *self, guint max_rows)
{
	g_return_if_fail(USBPASS_IS_PG_STORE(self));
	g_return_if_fail(max_rows >= 1);
	g_mutex_lock(&self->mutex);
	self->audit_max_rows = max_rows;
	g_mutex_unlock(&self->mutex);
}

/* devices */

static UsbpassStoreDevice *
usbpass_pg_store_device_from_result(const PGresult *res, gint row)
{
	UsbpassStoreDevice *device = usbpass_store_device_new();

	device->host = usbpass_pg_store_get_text(res, row, 0);
	device->device_id = usbpass_pg_store_get_text(res, row, 1);
	device->name = usbpass_pg_store_get_text(res, row, 2);
	device->bus = (guint)usbpass_pg_store_get_int(res, row, 3);
	device->device = (guint)usbpass_pg_store_get_int(res, row, 4);
	device->vendor_id = (guint16)usbpass_pg_store_get_int(res, row, 5);
	device->product_id = (guint16)usbpass_pg_store_get_int(res, row, 6);
	device->serial = usbpass_pg_store_get_text(res, row, 7);
	device->port = usbpass_pg_store_get_text(res, row, 8);
	device->instance_uuid = usbpass_pg_store_get_text(res, row, 9);
	device->instance_name = usbpass_pg_store_get_text(res, row, 10);
	/* the CHECK constraint admits only known names */
	device->state = usbpass_device_state_from_string(PQgetvalue(res, row, 11));
	device->present = usbpass_pg_store_get_bool(res, row, 12);
	device->error = usbpass_pg_store_get_text(res, row, 13);
	device->created_usec = usbpass_pg_store_get_int(res, row, 14);
	device->updated_usec = usbpass_pg_store_get_int(res, row, 15);
	device->generation = (guint64)MAX(usbpass_pg_store_get_int(res, row, 16), 0);
	return device;
}

/* one row; NULL without error when absent */
static gboolean
usbpass_pg_store_read_device(UsbpassPgStore *self,
                             const gchar *host,
                             const gchar *device_id,
                             UsbpassStoreDevice **device,
                             GError **error)
{
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	usbpass_pg_params_text(&params, host);
	usbpass_pg_params_text(&params, device_id);
	res = usbpass_pg_store_exec(self,
	                            "SELECT " DEVICE_COLUMNS " FROM host_usb_devices "
	                            "WHERE host = $1 AND device_id = $2",
	                            &params,
	                            "read a USB device",
	                            error);
	if (res == NULL)
		return FALSE;
	*device = PQntuples(res) > 0 ? usbpass_pg_store_device_from_result(res, 0) : NULL;
	return TRUE;
}

static gboolean
usbpass_pg_store_not_found(const gchar *host, const gchar *device_id, GError **error)
{
	g_autofree gchar *shown_id = usbpass_pg_store_shown(device_id);
	g_autofree gchar *shown_host = usbpass_pg_store_shown(host);
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
usbpass_pg_store_instance_label(const gchar *instance_uuid, const gchar *instance_name)
{
	return usbpass_pg_store_shown(instance_name != NULL ? instance_name : instance_uuid);
}

static gboolean
usbpass_pg_store_upsert_device(UsbpassStore *store,
                               const UsbpassStoreDevice *device,
                               GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	gint64 now = g_get_real_time();
	gint64 created_usec = device->created_usec > 0 ? device->created_usec : now;
	gint64 updated_usec = device->updated_usec > 0 ? device->updated_usec : created_usec;

	if (!usbpass_pg_store_check_text(
	      "USB device host", device->host, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "USB device identity", device->device_id, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "USB device name", device->name, FALSE, USBPASS_PG_STORE_TEXT_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "USB device serial", device->serial, FALSE, USBPASS_PG_STORE_TEXT_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "USB device port", device->port, FALSE, USBPASS_PG_STORE_TEXT_MAX, error)) {
		g_autofree gchar *shown = usbpass_pg_store_shown(device->device_id);
		g_prefix_error(error, "cannot record USB device '%s': ", shown);
		return FALSE;
	}

	usbpass_pg_params_text(&params, device->host);
	usbpass_pg_params_text(&params, device->device_id);
	usbpass_pg_params_text(&params, device->name);
	usbpass_pg_params_int(&params, device->bus);
	usbpass_pg_params_int(&params, device->device);
	usbpass_pg_params_int(&params, device->vendor_id);
	usbpass_pg_params_int(&params, device->product_id);
	usbpass_pg_params_text(&params, device->serial);
	usbpass_pg_params_text(&params, device->port);
	usbpass_pg_params_bool(&params, device->present);
	usbpass_pg_params_int(&params, created_usec);
	usbpass_pg_params_int(&params, updated_usec);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	return usbpass_pg_store_run(
	  self,
	  "INSERT INTO host_usb_devices (host, device_id, name, bus, device, vendor_id, "
	  "product_id, serial, port, present, created_usec, updated_usec) "
	  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
	  "ON CONFLICT (host, device_id) DO UPDATE SET name = excluded.name, "
	  "bus = excluded.bus, device = excluded.device, vendor_id = excluded.vendor_id, "
	  "product_id = excluded.product_id, serial = excluded.serial, port = excluded.port, "
	  "present = excluded.present",
	  &params,
	  "record a USB device",
	  error);
}

static UsbpassStoreDevice *
usbpass_pg_store_get_device(UsbpassStore *store,
                            const gchar *host,
                            const gchar *device_id,
                            GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_autoptr(UsbpassStoreDevice) row = NULL;

	if (!usbpass_pg_call_begin(&call, self, error))
		return NULL;
	if (!usbpass_pg_store_read_device(self, host, device_id, &row, error))
		return NULL;
	if (row == NULL) {
		usbpass_pg_store_not_found(host, device_id, error);
		return NULL;
	}
	return g_steal_pointer(&row);
}

static GPtrArray *
usbpass_pg_store_list_devices(UsbpassStore *store, const gchar *host, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;
	g_autoptr(GPtrArray) rows = NULL; /* of UsbpassStoreDevice */

	if (host != NULL)
		usbpass_pg_params_text(&params, host);
	if (!usbpass_pg_call_begin(&call, self, error))
		return NULL;
	res = usbpass_pg_store_exec(
	  self,
	  host != NULL ? "SELECT " DEVICE_COLUMNS " FROM host_usb_devices WHERE host = $1 "
	                 "ORDER BY host, device_id"
	               : "SELECT " DEVICE_COLUMNS " FROM host_usb_devices ORDER BY host, device_id",
	  &params,
	  "list USB devices",
	  error);
	if (res == NULL)
		return NULL;
	rows =
	  g_ptr_array_new_full((guint)PQntuples(res), (GDestroyNotify)usbpass_store_device_free);
	for (gint i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(rows, usbpass_pg_store_device_from_result(res, i));
	return g_steal_pointer(&rows);
}

/* explains why a claim changed nothing, from the row as it is now */
static gboolean
usbpass_pg_store_claim_refused(const gchar *host,
                               const gchar *device_id,
                               const gchar *instance_uuid,
                               const UsbpassStoreDevice *row,
                               GError **error)
{
	g_autofree gchar *shown = NULL;
	g_autofree gchar *label = NULL;

	if (row == NULL)
		return usbpass_pg_store_not_found(host, device_id, error);
	shown = usbpass_pg_store_shown(device_id);
	label = usbpass_pg_store_instance_label(row->instance_uuid, row->instance_name);
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
	case USBPASS_DEVICE_STATE_AVAILABLE:
		/* claimed and released again between our claim and this read */
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "USB device '%s' was changed by another request meanwhile: try again",
		            shown);
		return FALSE;
	default:
		break;
	}
	if (row->state == USBPASS_DEVICE_STATE_FAILED &&
	    g_strcmp0(row->instance_uuid, instance_uuid) == 0) {
		/* claimable again: it failed for us between our claim and this read */
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "USB device '%s' was changed by another request meanwhile: try again",
		            shown);
		return FALSE;
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
usbpass_pg_store_claim_device_lease(UsbpassStore *store,
                                    const gchar *host,
                                    const gchar *device_id,
                                    const gchar *instance_uuid,
                                    const gchar *instance_name,
                                    guint64 *generation,
                                    GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;
	g_autoptr(UsbpassStoreDevice) row = NULL;

	if (!usbpass_pg_store_check_text(
	      "instance uuid", instance_uuid, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "instance name", instance_name, FALSE, USBPASS_PG_STORE_TEXT_MAX, error)) {
		g_autofree gchar *shown = usbpass_pg_store_shown(device_id);
		g_prefix_error(error, "cannot claim USB device '%s': ", shown);
		return FALSE;
	}

	usbpass_pg_params_text(&params, host);
	usbpass_pg_params_text(&params, device_id);
	usbpass_pg_params_text(&params, instance_uuid);
	usbpass_pg_params_text(&params, instance_name);
	usbpass_pg_params_int(&params, g_get_real_time());
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	/* the compare-and-set: one statement, and its WHERE clause is the whole
	 * rule of who may claim. Concurrent claims queue on the row lock; each
	 * re-checks the WHERE on the row the winner left, so exactly one wins.
	 * The outer SELECT tells "no row" from "refused" in the same round trip */
	res = usbpass_pg_store_exec(
	  self,
	  "WITH claimed AS (UPDATE host_usb_devices SET state = 'attaching', "
	  "instance_uuid = $3, instance_name = CASE WHEN $4::text IS NOT NULL THEN $4::text "
	  " WHEN instance_uuid = $3 THEN instance_name END, "
	  "error = NULL, updated_usec = $5, generation = generation + 1 "
	  "WHERE host = $1 AND device_id = $2 AND (state = 'available' OR "
	  "(state = 'failed' AND (instance_uuid IS NULL OR instance_uuid = $3))) "
	  "RETURNING generation) "
	  "SELECT (SELECT generation FROM claimed) FROM host_usb_devices "
	  "WHERE host = $1 AND device_id = $2",
	  &params,
	  "claim a USB device",
	  error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0)
		return usbpass_pg_store_not_found(host, device_id, error);
	if (!PQgetisnull(res, 0, 0)) {
		if (generation != NULL)
			*generation = (guint64)MAX(usbpass_pg_store_get_int(res, 0, 0), 0);
		return TRUE;
	}

	/* refused: explain from the row as the winner left it (a fresh snapshot) */
	if (!usbpass_pg_store_read_device(self, host, device_id, &row, error))
		return FALSE;
	return usbpass_pg_store_claim_refused(host, device_id, instance_uuid, row, error);
}

/* @generation 0: any lease (the unfenced transition) */
static gboolean
usbpass_pg_store_transition_lease(UsbpassStore *store,
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
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *shown = usbpass_pg_store_shown(device_id);
	g_autofree gchar *message = NULL;
	UsbpassDeviceState state;
	guint64 row_generation;

	if (!usbpass_device_state_can_transition(from, to)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "USB device '%s' cannot go from '%s' to '%s'%s",
		            shown,
		            usbpass_device_state_to_string(from),
		            usbpass_device_state_to_string(to),
		            to == USBPASS_DEVICE_STATE_ATTACHING
		              ? ": only a claim or a re-attach attaches"
		              : "");
		return FALSE;
	}
	if (to == USBPASS_DEVICE_STATE_AVAILABLE && instance_uuid != NULL) {
		g_autofree gchar *shown_uuid = usbpass_pg_store_shown(instance_uuid);
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "USB device '%s' cannot become available and stay assigned to instance '%s'",
		  shown,
		  shown_uuid);
		return FALSE;
	}
	if (!usbpass_pg_store_check_text(
	      "instance uuid", instance_uuid, FALSE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "instance name", instance_name, FALSE, USBPASS_PG_STORE_TEXT_MAX, error)) {
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

	usbpass_pg_params_text(&params, host);
	usbpass_pg_params_text(&params, device_id);
	usbpass_pg_params_text(&params, usbpass_device_state_to_string(from));
	usbpass_pg_params_text(&params, usbpass_device_state_to_string(to));
	usbpass_pg_params_text(&params, instance_uuid);
	usbpass_pg_params_text(&params, instance_name);
	usbpass_pg_params_text(&params, message);
	usbpass_pg_params_int(&params, g_get_real_time());
	usbpass_pg_params_int(&params, (gint64)generation);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	/* the compare-and-set of state and lease in one statement; SET sees the
	 * old row, so the new instance, name and generation derive from it: a
	 * new holder is a new lease. The outer SELECT reads the row as the
	 * statement found it, to explain a refusal */
	res = usbpass_pg_store_exec(
	  self,
	  "WITH changed AS (UPDATE host_usb_devices SET state = $4::text, "
	  "instance_uuid = CASE WHEN $4::text = 'available' THEN NULL "
	  " ELSE COALESCE($5::text, instance_uuid) END, "
	  "instance_name = CASE WHEN $4::text = 'available' THEN NULL "
	  " WHEN $6::text IS NOT NULL THEN $6::text "
	  " WHEN COALESCE($5::text, instance_uuid) = instance_uuid THEN instance_name END, "
	  "error = $7::text, updated_usec = $8::bigint, "
	  "generation = generation + CASE WHEN (CASE WHEN $4::text = 'available' THEN NULL "
	  " ELSE COALESCE($5::text, instance_uuid) END) IS DISTINCT FROM instance_uuid "
	  " THEN 1 ELSE 0 END "
	  "WHERE host = $1 AND device_id = $2 AND state = $3::text "
	  "AND ($9::bigint = 0 OR generation = $9::bigint) "
	  "AND ($4::text = 'available' OR COALESCE($5::text, instance_uuid) IS NOT NULL) "
	  "RETURNING generation) "
	  "SELECT (SELECT generation FROM changed), state, generation, "
	  "instance_uuid IS NULL FROM host_usb_devices WHERE host = $1 AND device_id = $2",
	  &params,
	  "change a USB device",
	  error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0)
		return usbpass_pg_store_not_found(host, device_id, error);
	if (!PQgetisnull(res, 0, 0)) {
		if (new_generation != NULL)
			*new_generation = (guint64)MAX(usbpass_pg_store_get_int(res, 0, 0), 0);
		return TRUE;
	}
	state = usbpass_device_state_from_string(PQgetvalue(res, 0, 1));
	row_generation = (guint64)MAX(usbpass_pg_store_get_int(res, 0, 2), 0);
	if (state != from) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "USB device '%s' is '%s', not '%s': another request changed it first",
		            shown,
		            usbpass_device_state_to_string(state),
		            usbpass_device_state_to_string(from));
		return FALSE;
	}
	if (generation != 0 && row_generation != generation) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_BUSY,
		            "USB device '%s' is lease %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT
		            ": a newer lease replaced it",
		            shown,
		            row_generation,
		            generation);
		return FALSE;
	}
	if (to != USBPASS_DEVICE_STATE_AVAILABLE && instance_uuid == NULL &&
	    usbpass_pg_store_get_bool(res, 0, 3)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "USB device '%s' cannot become '%s' without an instance",
		            shown,
		            usbpass_device_state_to_string(to));
		return FALSE;
	}
	/* the row matched when the statement began, another writer changed it
	 * before our turn on its lock */
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_BUSY,
	            "USB device '%s' was changed by another request first",
	            shown);
	return FALSE;
}

static gboolean
usbpass_pg_store_set_present(UsbpassStore *store,
                             const gchar *host,
                             const gchar *device_id,
                             gboolean present,
                             GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	usbpass_pg_params_text(&params, host);
	usbpass_pg_params_text(&params, device_id);
	usbpass_pg_params_bool(&params, present);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	res = usbpass_pg_store_exec(self,
	                            "UPDATE host_usb_devices SET present = $3 "
	                            "WHERE host = $1 AND device_id = $2",
	                            &params,
	                            "mark a USB device present",
	                            error);
	if (res == NULL)
		return FALSE;
	if (usbpass_pg_store_changes(res) == 0)
		return usbpass_pg_store_not_found(host, device_id, error);
	return TRUE;
}

static gboolean
usbpass_pg_store_delete_device(UsbpassStore *store,
                               const gchar *host,
                               const gchar *device_id,
                               GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *shown = NULL;
	g_autofree gchar *label = NULL;

	usbpass_pg_params_text(&params, host);
	usbpass_pg_params_text(&params, device_id);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	res = usbpass_pg_store_exec(
	  self,
	  "WITH gone AS (DELETE FROM host_usb_devices WHERE host = $1 AND device_id = $2 "
	  "AND state = 'available' RETURNING 1) "
	  "SELECT (SELECT count(*) FROM gone), state, instance_uuid, instance_name "
	  "FROM host_usb_devices WHERE host = $1 AND device_id = $2",
	  &params,
	  "forget a USB device",
	  error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0)
		return usbpass_pg_store_not_found(host, device_id, error);
	if (usbpass_pg_store_get_int(res, 0, 0) == 1)
		return TRUE;
	shown = usbpass_pg_store_shown(device_id);
	if (g_strcmp0(PQgetvalue(res, 0, 1), "available") == 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_IN_USE,
		            "USB device '%s' was claimed by another request first",
		            shown);
		return FALSE;
	}
	label = usbpass_pg_store_instance_label(
	  PQgetvalue(res, 0, 2), PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3));
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_IN_USE,
	            "USB device '%s' is in use by instance '%s' (%s): detach it first",
	            shown,
	            label,
	            PQgetvalue(res, 0, 1));
	return FALSE;
}

/* audit log */

static gboolean
usbpass_pg_store_append_audit(UsbpassStore *store, const UsbpassAuditEntry *entry, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autofree gchar *message = NULL;

	if (!usbpass_pg_store_check_text(
	      "audit host", entry->host, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "audit actor", entry->actor, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "audit action", entry->action, TRUE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "audit device identity", entry->device_id, FALSE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "audit instance uuid", entry->instance_uuid, FALSE, USBPASS_PG_STORE_ID_MAX, error) ||
	    !usbpass_pg_store_check_text(
	      "audit outcome", entry->outcome, TRUE, USBPASS_PG_STORE_ID_MAX, error)) {
		g_prefix_error(error, "cannot append to the audit log: ");
		return FALSE;
	}
	message = usbpass_string_sanitize(entry->message, -1, USBPASS_STORE_MESSAGE_MAX);

	usbpass_pg_params_int(&params,
	                      entry->created_usec > 0 ? entry->created_usec : g_get_real_time());
	usbpass_pg_params_text(&params, entry->host);
	usbpass_pg_params_text(&params, entry->actor);
	usbpass_pg_params_text(&params, entry->action);
	usbpass_pg_params_text(&params, entry->device_id);
	usbpass_pg_params_text(&params, entry->instance_uuid);
	usbpass_pg_params_text(&params, entry->outcome);
	usbpass_pg_params_text(&params, message);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	usbpass_pg_params_int(&params, self->audit_max_rows);
	/* one statement: the entry and the trim commit together. Identity ids
	 * only grow, so the oldest rows are a range of the key */
	return usbpass_pg_store_run(
	  self,
	  "WITH added AS (INSERT INTO audit_log (created_usec, host, actor, action, device_id, "
	  "instance_uuid, outcome, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
	  "RETURNING id) "
	  "DELETE FROM audit_log WHERE id <= (SELECT id FROM added) - $9::bigint",
	  &params,
	  "append to the audit log",
	  error);
}

static GPtrArray *
usbpass_pg_store_list_audit(UsbpassStore *store,
                            const gchar *host,
                            gint64 after_id,
                            guint limit,
                            GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;
	g_autoptr(GPtrArray) entries = NULL; /* of UsbpassAuditEntry */

	usbpass_pg_params_int(&params, after_id);
	usbpass_pg_params_int(&params, limit);
	if (host != NULL)
		usbpass_pg_params_text(&params, host);
	if (!usbpass_pg_call_begin(&call, self, error))
		return NULL;
	res = usbpass_pg_store_exec(self,
	                            host != NULL ? "SELECT " AUDIT_COLUMNS " FROM audit_log "
	                                           "WHERE host = $3 AND id > $1 "
	                                           "ORDER BY id DESC LIMIT $2"
	                                         : "SELECT " AUDIT_COLUMNS " FROM audit_log "
	                                           "WHERE id > $1 ORDER BY id DESC LIMIT $2",
	                            &params,
	                            "list the audit log",
	                            error);
	if (res == NULL)
		return NULL;
	entries =
	  g_ptr_array_new_full((guint)PQntuples(res), (GDestroyNotify)usbpass_audit_entry_free);
	for (gint i = 0; i < PQntuples(res); i++) {
		UsbpassAuditEntry *entry = usbpass_audit_entry_new();
		entry->id = usbpass_pg_store_get_int(res, i, 0);
		entry->created_usec = usbpass_pg_store_get_int(res, i, 1);
		entry->host = usbpass_pg_store_get_text(res, i, 2);
		entry->actor = usbpass_pg_store_get_text(res, i, 3);
		entry->action = usbpass_pg_store_get_text(res, i, 4);
		entry->device_id = usbpass_pg_store_get_text(res, i, 5);
		entry->instance_uuid = usbpass_pg_store_get_text(res, i, 6);
		entry->outcome = usbpass_pg_store_get_text(res, i, 7);
		entry->message = usbpass_pg_store_get_text(res, i, 8);
		g_ptr_array_add(entries, entry);
	}
	return g_steal_pointer(&entries);
}

/* tokens */

static gboolean
usbpass_pg_store_check_secret_hash(const gchar *secret_hash)
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
usbpass_pg_store_token_from_result(const PGresult *res, gint row)
{
	UsbpassToken *token = usbpass_token_new();
	token->name = usbpass_pg_store_get_text(res, row, 0);
	token->role = usbpass_token_role_from_string(PQgetvalue(res, row, 1));
	token->secret_hash = usbpass_pg_store_get_text(res, row, 2);
	token->created_usec = usbpass_pg_store_get_int(res, row, 3);
	token->last_used_usec = usbpass_pg_store_get_int(res, row, 4);
	return token;
}

static gboolean
usbpass_pg_store_add_token(UsbpassStore *store, const UsbpassToken *token, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgTransaction) txn = { NULL };
	g_auto(UsbpassPgParams) lock = { 0 };
	g_auto(UsbpassPgParams) check = { 0 };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	if (!usbpass_string_is_identifier(token->name, 64)) {
		g_autofree gchar *shown = usbpass_pg_store_shown(token->name);
		g_set_error(
		  error,
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
	if (!usbpass_pg_store_check_secret_hash(token->secret_hash)) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "token '%s' has a secret hash that is not 'sha256:' and 64 lower-case hex digits",
		  token->name);
		return FALSE;
	}

	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	/* the limit counts every host's additions: they take turns on a lock
	 * that the transaction's end releases */
	if (!usbpass_pg_transaction_begin(&txn, self, "add a token", error))
		return FALSE;
	usbpass_pg_params_int(&lock, USBPASS_PG_STORE_TOKEN_LOCK);
	if (!usbpass_pg_store_run(
	      self, "SELECT pg_advisory_xact_lock($1::bigint)", &lock, "add a token", error))
		return FALSE;
	usbpass_pg_params_text(&check, token->name);
	usbpass_pg_params_text(&check, token->secret_hash);
	res = usbpass_pg_store_exec(self,
	                            "SELECT (SELECT count(*) FROM api_tokens WHERE name = $1), "
	                            "(SELECT count(*) FROM api_tokens WHERE secret_hash = $2), "
	                            "(SELECT count(*) FROM api_tokens)",
	                            &check,
	                            "count tokens",
	                            error);
	if (res == NULL)
		return FALSE;
	if (usbpass_pg_store_get_int(res, 0, 0) > 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "token '%s' already exists",
		            token->name);
		return FALSE;
	}
	if (usbpass_pg_store_get_int(res, 0, 1) > 0) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "token '%s' has the same secret as another token",
		            token->name);
		return FALSE;
	}
	if (usbpass_pg_store_get_int(res, 0, 2) >= USBPASS_STORE_TOKENS_MAX) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "cannot add token '%s': the store already holds %u tokens, the most it keeps",
		  token->name,
		  (guint)USBPASS_STORE_TOKENS_MAX);
		return FALSE;
	}
	usbpass_pg_params_text(&params, token->name);
	usbpass_pg_params_text(&params, usbpass_token_role_to_string(token->role));
	usbpass_pg_params_text(&params, token->secret_hash);
	usbpass_pg_params_int(&params,
	                      token->created_usec > 0 ? token->created_usec : g_get_real_time());
	usbpass_pg_params_int(&params, MAX(token->last_used_usec, 0));
	if (!usbpass_pg_store_run(self,
	                          "INSERT INTO api_tokens (" TOKEN_COLUMNS ") "
	                          "VALUES ($1, $2, $3, $4, $5)",
	                          &params,
	                          "add a token",
	                          error))
		return FALSE;
	return usbpass_pg_transaction_commit(&txn, "add a token", error);
}

static UsbpassToken *
usbpass_pg_store_lookup_token(UsbpassStore *store, const gchar *secret_hash, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	usbpass_pg_params_text(&params, secret_hash);
	if (!usbpass_pg_call_begin(&call, self, error))
		return NULL;
	res =
	  usbpass_pg_store_exec(self,
	                        "SELECT " TOKEN_COLUMNS " FROM api_tokens WHERE secret_hash = $1",
	                        &params,
	                        "look up a token",
	                        error);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) > 0)
		return usbpass_pg_store_token_from_result(res, 0);
	/* never echo the hash: it is as good as the secret for a lookup */
	g_set_error_literal(
	  error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND, "no token has this secret");
	return NULL;
}

static GPtrArray *
usbpass_pg_store_list_tokens(UsbpassStore *store, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_autoptr(PGresult) res = NULL;
	g_autoptr(GPtrArray) tokens = NULL; /* of UsbpassToken */

	if (!usbpass_pg_call_begin(&call, self, error))
		return NULL;
	res = usbpass_pg_store_exec(self,
	                            "SELECT " TOKEN_COLUMNS " FROM api_tokens ORDER BY name",
	                            NULL,
	                            "list tokens",
	                            error);
	if (res == NULL)
		return NULL;
	tokens = g_ptr_array_new_full((guint)PQntuples(res), (GDestroyNotify)usbpass_token_free);
	for (gint i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(tokens, usbpass_pg_store_token_from_result(res, i));
	return g_steal_pointer(&tokens);
}

static gboolean
usbpass_pg_store_token_not_found(const gchar *name, GError **error)
{
	g_autofree gchar *shown = usbpass_pg_store_shown(name);
	g_set_error(
	  error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND, "token '%s' does not exist", shown);
	return FALSE;
}

static gboolean
usbpass_pg_store_revoke_token(UsbpassStore *store, const gchar *name, GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	usbpass_pg_params_text(&params, name);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	res = usbpass_pg_store_exec(
	  self, "DELETE FROM api_tokens WHERE name = $1", &params, "revoke a token", error);
	if (res == NULL)
		return FALSE;
	if (usbpass_pg_store_changes(res) == 0)
		return usbpass_pg_store_token_not_found(name, error);
	return TRUE;
}

static gboolean
usbpass_pg_store_touch_token(UsbpassStore *store,
                             const gchar *name,
                             gint64 used_usec,
                             GError **error)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(store);
	g_auto(UsbpassPgCall) call = { NULL };
	g_auto(UsbpassPgParams) params = { 0 };
	g_autoptr(PGresult) res = NULL;

	usbpass_pg_params_text(&params, name);
	usbpass_pg_params_int(&params, used_usec);
	if (!usbpass_pg_call_begin(&call, self, error))
		return FALSE;
	/* concurrent requests may finish out of order: the time only moves forward */
	res = usbpass_pg_store_exec(
	  self,
	  "UPDATE api_tokens SET last_used_usec = GREATEST(last_used_usec, $2) WHERE name = $1",
	  &params,
	  "record the use of a token",
	  error);
	if (res == NULL)
		return FALSE;
	if (usbpass_pg_store_changes(res) == 0)
		return usbpass_pg_store_token_not_found(name, error);
	return TRUE;
}

/* object */

static void
usbpass_pg_store_iface_init(UsbpassStoreInterface *iface)
{
	iface->upsert_device = usbpass_pg_store_upsert_device;
	iface->get_device = usbpass_pg_store_get_device;
	iface->list_devices = usbpass_pg_store_list_devices;
	iface->set_present = usbpass_pg_store_set_present;
	iface->delete_device = usbpass_pg_store_delete_device;
	iface->append_audit = usbpass_pg_store_append_audit;
	iface->list_audit = usbpass_pg_store_list_audit;
	iface->add_token = usbpass_pg_store_add_token;
	iface->lookup_token = usbpass_pg_store_lookup_token;
	iface->list_tokens = usbpass_pg_store_list_tokens;
	iface->revoke_token = usbpass_pg_store_revoke_token;
	iface->touch_token = usbpass_pg_store_touch_token;
	iface->claim_device_lease = usbpass_pg_store_claim_device_lease;
	iface->transition_lease = usbpass_pg_store_transition_lease;
}

static void
usbpass_pg_store_finalize(GObject *object)
{
	UsbpassPgStore *self = USBPASS_PG_STORE(object);

	if (self->conn != NULL)
		PQfinish(self->conn);
	g_free(self->location);
	g_hash_table_unref(self->prepared);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(usbpass_pg_store_parent_class)->finalize(object);
}

static void
usbpass_pg_store_class_init(UsbpassPgStoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = usbpass_pg_store_finalize;
}

static void
usbpass_pg_store_init(UsbpassPgStore *self)
{
	g_mutex_init(&self->mutex);
	self->prepared = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->audit_max_rows = USBPASS_PG_STORE_AUDIT_MAX_ROWS;
}

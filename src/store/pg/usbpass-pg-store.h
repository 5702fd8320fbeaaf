/*
 * usbpass-pg-store.h: the cluster store, one PostgreSQL database for many hosts
 *
 * Implements UsbpassStore through libpq on a database named by a libpq
 * connection URI (postgresql://... or postgres://..., including
 * ?host=/unix/socket/dir). Rows are keyed by (host, device identity), so every
 * host of a cluster keeps its own rows in the same tables. The schema is
 * versioned: opening applies the migrations the database lacks, in one
 * transaction under a transaction-level advisory lock
 * (USBPASS_PG_STORE_MIGRATION_LOCK), so hosts starting at once migrate it once;
 * a database written by a newer usbpass is refused.
 *
 * Every state change is one statement or one transaction: a claim is a single
 * conditional UPDATE (compare-and-set, never read-then-write) that also
 * increases the row's lease generation; a transition checks the state (and,
 * fenced, the generation) in its WHERE clause. Values are bound parameters.
 * A change whose connection dropped is committed or not, never half.
 *
 * Errors: USBPASS_ERROR_STORE with the server's message. A lost connection (a
 * PostgreSQL restart, a network cut) fails the call that found it with STORE
 * ("lost the connection"); the next call reconnects (PQreset) first and fails
 * with STORE only if the server is still unreachable. Messages name the
 * database without its password.
 *
 * Threading: a store owns one connection and a mutex around it; any thread may
 * call it, and concurrent calls on one store run one after the other. Open one
 * store per thread (one connection each) for parallel calls. Every call may
 * block on the network up to the connection's timeouts: call it off the main
 * loop.
 */
#pragma once

#include "store/usbpass-store.h"

G_BEGIN_DECLS

/* the newest schema this code writes */
#define USBPASS_PG_STORE_SCHEMA_VERSION 1
/* the audit log keeps this many of the newest entries */
#define USBPASS_PG_STORE_AUDIT_MAX_ROWS 100000
/* key of the advisory lock migrations run under ("usbpass" schema, 1) */
#define USBPASS_PG_STORE_MIGRATION_LOCK G_GINT64_CONSTANT(0x7573627061737301)

#define USBPASS_TYPE_PG_STORE (usbpass_pg_store_get_type())
G_DECLARE_FINAL_TYPE(UsbpassPgStore, usbpass_pg_store, USBPASS, PG_STORE, GObject)

/* TRUE when @location is a postgresql:// or postgres:// URI */
gboolean
usbpass_pg_store_is_uri(const gchar *location);
/* Returns: (transfer full): @uri without password or query, for messages and
 * logs: "postgresql://user@host:port/dbname" */
gchar *
usbpass_pg_store_location_to_display(const gchar *uri) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* @uri: a libpq connection URI. INVALID_DATA for a malformed URI, STORE when
 * the server cannot be reached or the schema cannot be brought up to date */
UsbpassPgStore *
usbpass_pg_store_new(const gchar *uri, GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

/* the database as shown in messages, without password */
const gchar *
usbpass_pg_store_get_location(UsbpassPgStore *self) USBPASS_NONNULL(1);
/* the schema version after opening: USBPASS_PG_STORE_SCHEMA_VERSION */
guint
usbpass_pg_store_get_schema_version(UsbpassPgStore *self) USBPASS_NONNULL(1);
/* how many migration steps this open applied: 0 when the database was up to
 * date (another host migrated it) */
guint
usbpass_pg_store_get_migrations_applied(UsbpassPgStore *self) USBPASS_NONNULL(1);
/* at least 1; applies from the next append */
void
usbpass_pg_store_set_audit_max_rows(UsbpassPgStore *self, guint max_rows) USBPASS_NONNULL(1);

G_END_DECLS

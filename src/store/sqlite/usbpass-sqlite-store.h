/*
 * usbpass-sqlite-store.h: the embedded store, one SQLite file per host
 *
 * Implements UsbpassStore on a SQLite database in WAL mode. The schema is
 * versioned: opening a file applies the migrations it lacks, in order, inside
 * one transaction, and refuses a file written by a newer usbpass. The file and
 * its parent directory are created private to the owner (0600, 0700).
 *
 * Every state change is one BEGIN IMMEDIATE transaction, so any number of
 * UsbpassSqliteStore objects (one per thread) and processes may share a file:
 * writers queue for the lock up to the busy timeout (default 5 s), then fail
 * with USBPASS_ERROR_BUSY. One object is used from one thread at a time.
 */
#pragma once

#include "store/usbpass-store.h"

G_BEGIN_DECLS

/* the newest schema this code writes */
#define USBPASS_SQLITE_STORE_SCHEMA_VERSION 3
/* how long a writer waits for another one before USBPASS_ERROR_BUSY */
#define USBPASS_SQLITE_STORE_BUSY_TIMEOUT_MS 5000
/* the audit log keeps this many of the newest entries */
#define USBPASS_SQLITE_STORE_AUDIT_MAX_ROWS 100000

#define USBPASS_TYPE_SQLITE_STORE (usbpass_sqlite_store_get_type())
G_DECLARE_FINAL_TYPE(UsbpassSqliteStore, usbpass_sqlite_store, USBPASS, SQLITE_STORE, GObject)

/* @path: the database file, created with its directory when absent; ":memory:"
 * for a private in-memory database (tests). STORE names the file and SQLite's
 * reason; BUSY when another writer held the file throughout the busy timeout */
UsbpassSqliteStore *
usbpass_sqlite_store_new(const gchar *path, GError **error)
    G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);

const gchar *
usbpass_sqlite_store_get_path(UsbpassSqliteStore *self) USBPASS_NONNULL(1);
/* the schema version of the open file: USBPASS_SQLITE_STORE_SCHEMA_VERSION */
guint
usbpass_sqlite_store_get_schema_version(UsbpassSqliteStore *self) USBPASS_NONNULL(1);
void
usbpass_sqlite_store_set_busy_timeout(UsbpassSqliteStore *self, guint timeout_ms)
    USBPASS_NONNULL(1);
/* at least 1; applies from the next append */
void
usbpass_sqlite_store_set_audit_max_rows(UsbpassSqliteStore *self, guint max_rows)
    USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-pg-harness.h: a private PostgreSQL server for tests and benchmarks
 *
 * Runs Debian's initdb and postgres (USBPASS_PG_BINDIR, else the newest
 * /usr/lib/postgresql/N/bin) in a fresh temporary directory, as the user
 * "postgres" when we are root, listening only on a Unix socket in that
 * directory. The server is our direct child: it is stopped by pid (SIGINT, the
 * fast shutdown of "pg_ctl stop -m fast") and reaped by us, since PID 1 here
 * does not reap orphans, and it gets SIGQUIT if we die first. Tuned for tests
 * (fsync off): never for data anyone keeps. Main thread only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _UsbpassPgHarness UsbpassPgHarness;

/* Returns: (transfer full): a running server, or NULL with
 * G_IO_ERROR_NOT_FOUND when the PostgreSQL binaries are missing (skip), any
 * other error when they failed */
UsbpassPgHarness *
usbpass_pg_harness_new(GError **error);
/* Returns: (transfer full): the URI of a new empty database: a new schema of
 * the database "usbpass", the URI setting search_path to it */
gchar *
usbpass_pg_harness_create_database(UsbpassPgHarness *self, GError **error);
/* the fast shutdown and a start on the same data: every connection is cut */
gboolean
usbpass_pg_harness_restart(UsbpassPgHarness *self, GError **error);
void
usbpass_pg_harness_free(UsbpassPgHarness *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassPgHarness, usbpass_pg_harness_free)

G_END_DECLS

/*
 * usbpass-store-open.h: opening the store a location names
 *
 * A location is either the path of an SQLite file (the embedded default, one
 * host) or a libpq connection URI, postgresql://... or postgres://... (a
 * cluster of hosts on one PostgreSQL database). Any other "scheme://" is
 * refused. Thread-safe; opening a PostgreSQL store blocks on the network.
 */
#pragma once

#include "usbpass-store.h"

G_BEGIN_DECLS

/* Returns: (transfer full): the store, or NULL: NOT_SUPPORTED for a URI no
 * backend takes (or PostgreSQL in a build without libpq), else the backend's
 * error */
UsbpassStore *
usbpass_store_open(const gchar *location, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* Returns: (transfer full): @location fit for a log: a URI without its
 * password or parameters, a path as it is */
gchar *
usbpass_store_location_to_display(const gchar *location) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);

G_END_DECLS

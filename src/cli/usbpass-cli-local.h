/*
 * usbpass-cli-local.h: `usbpass list` and `usbpass tree` without usbpassd
 *
 * lsusb needs no daemon, and a look at the host's USB devices should not either:
 * when nothing answers on the local socket, the CLI reads the inventory itself
 * (UsbpassInventory: sysfs through gudev, names from udev's hwdb) and builds the
 * answer GET /v1/devices would give, {"generation", "devices"}, every device
 * with "present": true and "state": "unknown", because only usbpassd knows the
 * assignments. Only the local socket falls back: a remote daemon (--url) that
 * does not answer is an error, since this host's devices are not its devices.
 *
 * Synchronous, no main loop; call from one thread.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

/* the "state" of every device of a local listing */
#define USBPASS_CLI_LOCAL_STATE "unknown"

/* TRUE when no usbpassd listens on @socket_path: the socket does not exist or
 * refuses the connection. A socket that accepts, or that this user may not
 * open (the daemon runs, the user is not in its group), is a running daemon. */
gboolean
usbpass_cli_local_daemon_absent(const gchar *socket_path) USBPASS_NONNULL(1);

/**
 * usbpass_cli_local_list_devices:
 * @vendor_id: (nullable): only devices of this vendor, 4 hex digits
 * @product_id: (nullable): only devices of this product, 4 hex digits
 * @error: (nullable): USBPASS_ERROR_INVALID_DATA for a malformed id, or the
 * inventory's error when sysfs cannot be enumerated
 *
 * Returns: (transfer full): {"generation": N, "devices": [Device…]} as the
 * API spells it, or %NULL
 */
JsonObject *
usbpass_cli_local_list_devices(const gchar *vendor_id,
                               const gchar *product_id,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS

/*
 * usbpass-config.h: the settings of usbpassd
 *
 * A plain record: usbpass_config_new() holds the defaults documented in
 * data/usbpassd.conf, usbpass_config_load_file() overlays a GKeyFile on them,
 * and the daemon overlays its command line last. Loading is strict: an
 * unknown group or key, or a value that does not parse, is INVALID_DATA naming
 * the file and the key, so that a typo in a security setting never passes
 * silently. On failure the record is left as it was. Any thread; no globals.
 */
#pragma once

#include "usbpass-common.h"

G_BEGIN_DECLS

#define USBPASS_CONFIG_DEFAULT_PATH USBPASS_SYSCONFDIR "/usbpass/usbpassd.conf"
/* not under the prefix: the unit's StateDirectory= and RuntimeDirectory= and
 * the client's default socket name these very directories */
#define USBPASS_CONFIG_DEFAULT_STORE       "/var/lib/usbpass/usbpass.db"
#define USBPASS_CONFIG_DEFAULT_SOCKET      "/run/usbpass/usbpassd.sock"
#define USBPASS_CONFIG_DEFAULT_GROUP       "usbpass"
#define USBPASS_CONFIG_DEFAULT_LIBVIRT_URI "qemu:///system"
/* [api]: the same as the listener's defaults (usbpass-api-listener.h) */
#define USBPASS_CONFIG_DEFAULT_MAX_CONNECTIONS 1024
#define USBPASS_CONFIG_DEFAULT_REQUEST_TIMEOUT 10 /* seconds */
#define USBPASS_CONFIG_DEFAULT_IDLE_TIMEOUT    30 /* seconds */

typedef struct {
	gchar *path; /* the file read last, NULL when none */

	/* [daemon] */
	gboolean enabled;
	gchar *host;
	gchar *store;
	gchar *socket;
	gchar *socket_group; /* "" or NULL: root only */
	guint socket_mode;
	gchar *listen; /* "ADDRESS:PORT", NULL: no TCP listener */
	gchar *tls_certificate;
	gchar *tls_key;
	gchar *driver;            /* "libvirt" or "test" */
	gchar *test_state;        /* the test driver's state file, NULL: in memory */
	GLogLevelFlags log_level; /* the least severe level logged */

	/* [libvirt] */
	gchar *libvirt_uri;

	/* [policy] */
	gchar *policy_file; /* NULL: the built-in rules only */

	/* [api] */
	guint max_connections;         /* 0: no limit */
	guint request_timeout_seconds; /* 0: none */
	guint idle_timeout_seconds;    /* 0: none */
} UsbpassConfig;

UsbpassConfig *
usbpass_config_new(void) G_GNUC_WARN_UNUSED_RESULT;
UsbpassConfig *
usbpass_config_copy(const UsbpassConfig *self) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_config_free(UsbpassConfig *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassConfig, usbpass_config_free)

gboolean
usbpass_config_load_file(UsbpassConfig *self, const gchar *path, GError **error)
  USBPASS_NONNULL(1, 2);
gboolean
usbpass_config_load_data(UsbpassConfig *self,
                         const gchar *data,
                         gsize length,
                         const gchar *origin,
                         GError **error) USBPASS_NONNULL(1, 2);

/* "error", "critical", "warning", "message", "info", "debug" */
gboolean
usbpass_config_parse_log_level(const gchar *str, GLogLevelFlags *level, GError **error)
  USBPASS_NONNULL(1, 2);
const gchar *
usbpass_config_log_level_to_string(GLogLevelFlags level);
/* how a user switches passthrough on, for the message of a refused attach */
gchar *
usbpass_config_get_enable_hint(const UsbpassConfig *self) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);

G_END_DECLS

/*
 * usbpass-config.c: the settings of usbpassd
 */
#define G_LOG_DOMAIN "Usbpassd"

#include "config.h"

#include <string.h>

#include "usbpass-config.h"
#include "usbpass-error.h"
#include "usbpass-string.h"

/* every key a file may set; data/usbpassd.conf documents each */
static const struct {
	const gchar *group;
	const gchar *const keys[16];
} known_keys[] = {
	{ "daemon",
	  { "enabled",
	    "host",
	    "store",
	    "socket",
	    "socket-group",
	    "socket-mode",
	    "listen",
	    "tls-certificate",
	    "tls-key",
	    "driver",
	    "test-state",
	    "log-level",
	    NULL } },
	{ "libvirt", { "uri", NULL } },
	{ "policy", { "file", NULL } },
	{ "api", { "max-connections", "request-timeout", "idle-timeout", NULL } },
};

static const struct {
	const gchar *name;
	GLogLevelFlags level;
} log_levels[] = {
	{ "error", G_LOG_LEVEL_ERROR },     { "critical", G_LOG_LEVEL_CRITICAL },
	{ "warning", G_LOG_LEVEL_WARNING }, { "message", G_LOG_LEVEL_MESSAGE },
	{ "info", G_LOG_LEVEL_INFO },       { "debug", G_LOG_LEVEL_DEBUG },
};

/**
 * usbpass_config_new:
 *
 * Returns: (transfer full): the defaults: passthrough off, the SQLite store
 * and socket under the standard directories, no TCP listener, libvirt at
 * qemu:///system, the built-in policy, log level "info"
 */
UsbpassConfig *
usbpass_config_new(void)
{
	UsbpassConfig *self = g_new0(UsbpassConfig, 1);
	self->enabled = FALSE;
	self->host = g_strdup(g_get_host_name());
	self->store = g_strdup(USBPASS_CONFIG_DEFAULT_STORE);
	self->socket = g_strdup(USBPASS_CONFIG_DEFAULT_SOCKET);
	self->socket_group = g_strdup(USBPASS_CONFIG_DEFAULT_GROUP);
	self->socket_mode = 0660;
	self->driver = g_strdup("libvirt");
	self->log_level = G_LOG_LEVEL_INFO;
	self->libvirt_uri = g_strdup(USBPASS_CONFIG_DEFAULT_LIBVIRT_URI);
	self->max_connections = USBPASS_CONFIG_DEFAULT_MAX_CONNECTIONS;
	self->request_timeout_seconds = USBPASS_CONFIG_DEFAULT_REQUEST_TIMEOUT;
	self->idle_timeout_seconds = USBPASS_CONFIG_DEFAULT_IDLE_TIMEOUT;
	return self;
}

/**
 * usbpass_config_free:
 * @self: (nullable): a config
 */
void
usbpass_config_free(UsbpassConfig *self)
{
	if (self == NULL)
		return;
	g_free(self->path);
	g_free(self->host);
	g_free(self->store);
	g_free(self->socket);
	g_free(self->socket_group);
	g_free(self->listen);
	g_free(self->tls_certificate);
	g_free(self->tls_key);
	g_free(self->driver);
	g_free(self->test_state);
	g_free(self->libvirt_uri);
	g_free(self->policy_file);
	g_free(self);
}

/**
 * usbpass_config_copy:
 * @self: a config
 *
 * Returns: (transfer full): a deep copy
 */
UsbpassConfig *
usbpass_config_copy(const UsbpassConfig *self)
{
	UsbpassConfig *copy;
	g_return_val_if_fail(self != NULL, NULL);
	copy = g_new0(UsbpassConfig, 1);
	copy->path = g_strdup(self->path);
	copy->enabled = self->enabled;
	copy->host = g_strdup(self->host);
	copy->store = g_strdup(self->store);
	copy->socket = g_strdup(self->socket);
	copy->socket_group = g_strdup(self->socket_group);
	copy->socket_mode = self->socket_mode;
	copy->listen = g_strdup(self->listen);
	copy->tls_certificate = g_strdup(self->tls_certificate);
	copy->tls_key = g_strdup(self->tls_key);
	copy->driver = g_strdup(self->driver);
	copy->test_state = g_strdup(self->test_state);
	copy->log_level = self->log_level;
	copy->libvirt_uri = g_strdup(self->libvirt_uri);
	copy->policy_file = g_strdup(self->policy_file);
	copy->max_connections = self->max_connections;
	copy->request_timeout_seconds = self->request_timeout_seconds;
	copy->idle_timeout_seconds = self->idle_timeout_seconds;
	return copy;
}

/**
 * usbpass_config_parse_log_level:
 * @str: a level name
 * @level: (out): the GLib level
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for an unknown name
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_config_parse_log_level(const gchar *str, GLogLevelFlags *level, GError **error)
{
	g_return_val_if_fail(str != NULL, FALSE);
	g_return_val_if_fail(level != NULL, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(log_levels); i++) {
		if (g_ascii_strcasecmp(str, log_levels[i].name) == 0) {
			*level = log_levels[i].level;
			return TRUE;
		}
	}
	{
		g_autofree gchar *shown = usbpass_string_sanitize(str, -1, 64);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "log level '%s' is not one of error, critical, warning, message, info, "
		            "debug",
		            shown != NULL ? shown : "");
	}
	return FALSE;
}

/**
 * usbpass_config_log_level_to_string:
 * @level: a GLib level
 *
 * Returns: its name, "info" for anything unknown
 */
const gchar *
usbpass_config_log_level_to_string(GLogLevelFlags level)
{
	for (guint i = 0; i < G_N_ELEMENTS(log_levels); i++) {
		if (log_levels[i].level == level)
			return log_levels[i].name;
	}
	return "info";
}

/**
 * usbpass_config_get_enable_hint:
 * @self: the config
 *
 * Returns: (transfer full): what to do to enable passthrough
 */
gchar *
usbpass_config_get_enable_hint(const UsbpassConfig *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_strdup_printf("set enabled=true in [daemon] of %s or start usbpassd with --enable",
	                       self->path != NULL ? self->path : USBPASS_CONFIG_DEFAULT_PATH);
}

/* file text for a message: a name or value may hold any bytes, and GKeyFile
 * quotes whole lines in its own messages */
static gchar *
usbpass_config_shown(const gchar *text)
{
	gchar *shown = usbpass_string_sanitize(text, -1, 128);
	return shown != NULL ? shown : g_strdup("");
}

static gboolean
usbpass_config_check_keys(GKeyFile *keyfile, const gchar *origin, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(keyfile, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = NULL;
		const gchar *const *allowed = NULL;
		for (guint j = 0; j < G_N_ELEMENTS(known_keys); j++) {
			if (g_strcmp0(groups[i], known_keys[j].group) == 0)
				allowed = known_keys[j].keys;
		}
		if (allowed == NULL) {
			g_autofree gchar *shown = usbpass_config_shown(groups[i]);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "%s: unknown group [%s]",
			            origin,
			            shown);
			return FALSE;
		}
		keys = g_key_file_get_keys(keyfile, groups[i], NULL, NULL);
		for (guint k = 0; keys != NULL && keys[k] != NULL; k++) {
			if (!g_strv_contains(allowed, keys[k])) {
				g_autofree gchar *shown = usbpass_config_shown(keys[k]);
				g_set_error(error,
				            USBPASS_ERROR,
				            USBPASS_ERROR_INVALID_DATA,
				            "%s: unknown key '%s' in [%s]",
				            origin,
				            shown,
				            groups[i]);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/* a string key: absent keeps @value; empty sets NULL when @empty_is_null */
static gboolean
usbpass_config_get_string(GKeyFile *keyfile,
                          const gchar *origin,
                          const gchar *group,
                          const gchar *key,
                          gboolean empty_is_null,
                          gchar **value,
                          GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *str = NULL;

	if (!g_key_file_has_key(keyfile, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string(keyfile, group, key, &error_local);
	/* an invalid escape sets the error yet returns the raw text */
	if (str == NULL || error_local != NULL) {
		g_autofree gchar *shown = usbpass_config_shown(error_local->message);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: [%s] %s: %s",
		            origin,
		            group,
		            key,
		            shown);
		return FALSE;
	}
	g_strstrip(str);
	if (str[0] == '\0' && !empty_is_null) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: [%s] %s must not be empty",
		            origin,
		            group,
		            key);
		return FALSE;
	}
	g_free(*value);
	*value = str[0] != '\0' ? g_steal_pointer(&str) : NULL;
	return TRUE;
}

/* an unsigned key from @min to @max: absent keeps @value */
static gboolean
usbpass_config_get_unsigned(GKeyFile *keyfile,
                            const gchar *origin,
                            const gchar *group,
                            const gchar *key,
                            guint64 min,
                            guint64 max,
                            guint *value,
                            GError **error)
{
	g_autofree gchar *str = NULL;
	guint64 parsed = 0;

	if (!usbpass_config_get_string(keyfile, origin, group, key, TRUE, &str, error))
		return FALSE;
	if (str == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(str, 10, min, max, &parsed, NULL)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: [%s] %s '%s' is not a whole number from %" G_GUINT64_FORMAT
		            " to %" G_GUINT64_FORMAT,
		            origin,
		            group,
		            key,
		            str,
		            min,
		            max);
		return FALSE;
	}
	*value = (guint)parsed;
	return TRUE;
}

/**
 * usbpass_config_load_data:
 * @self: the config to overlay
 * @data: GKeyFile text
 * @length: its length
 * @origin: (nullable): a name for messages, e.g. the file name
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA naming the bad group or key
 *
 * Keys that are absent keep their current value. @self is unchanged on failure.
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_config_load_data(UsbpassConfig *self,
                         const gchar *data,
                         gsize length,
                         const gchar *origin,
                         GError **error)
{
	g_autoptr(GKeyFile) keyfile = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_autoptr(UsbpassConfig) tmp = NULL;
	g_autofree gchar *mode_str = NULL;
	g_autofree gchar *level_str = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL, FALSE);
	if (origin == NULL)
		origin = "configuration";

	if (!g_key_file_load_from_data(keyfile, data, length, G_KEY_FILE_NONE, &error_local)) {
		g_autofree gchar *shown = usbpass_config_shown(error_local->message);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: %s",
		            origin,
		            shown);
		return FALSE;
	}
	if (!usbpass_config_check_keys(keyfile, origin, error))
		return FALSE;

	/* work on a copy so that a failure leaves @self untouched */
	tmp = usbpass_config_copy(self);

	if (g_key_file_has_key(keyfile, "daemon", "enabled", NULL)) {
		gboolean enabled =
		  g_key_file_get_boolean(keyfile, "daemon", "enabled", &error_local);
		if (error_local != NULL) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "%s: [daemon] enabled must be true or false",
			            origin);
			return FALSE;
		}
		tmp->enabled = enabled;
	}
	if (!usbpass_config_get_string(
	      keyfile, origin, "daemon", "host", TRUE, &tmp->host, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "store", FALSE, &tmp->store, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "socket", FALSE, &tmp->socket, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "socket-group", TRUE, &tmp->socket_group, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "socket-mode", TRUE, &mode_str, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "listen", TRUE, &tmp->listen, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "tls-certificate", TRUE, &tmp->tls_certificate, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "tls-key", TRUE, &tmp->tls_key, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "driver", FALSE, &tmp->driver, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "test-state", TRUE, &tmp->test_state, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "daemon", "log-level", TRUE, &level_str, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "libvirt", "uri", FALSE, &tmp->libvirt_uri, error) ||
	    !usbpass_config_get_string(
	      keyfile, origin, "policy", "file", TRUE, &tmp->policy_file, error) ||
	    !usbpass_config_get_unsigned(
	      keyfile, origin, "api", "max-connections", 0, 1000000, &tmp->max_connections, error) ||
	    !usbpass_config_get_unsigned(keyfile,
	                                 origin,
	                                 "api",
	                                 "request-timeout",
	                                 0,
	                                 86400,
	                                 &tmp->request_timeout_seconds,
	                                 error) ||
	    !usbpass_config_get_unsigned(keyfile,
	                                 origin,
	                                 "api",
	                                 "idle-timeout",
	                                 0,
	                                 86400,
	                                 &tmp->idle_timeout_seconds,
	                                 error))
		return FALSE;

	/* an empty host means "this machine's name", as when the key is absent */
	if (tmp->host == NULL)
		tmp->host = g_strdup(g_get_host_name());
	{
		g_autofree gchar *clean = usbpass_string_sanitize(tmp->host, -1, 255);
		if (g_strcmp0(clean, tmp->host) != 0) {
			g_set_error(
			  error,
			  USBPASS_ERROR,
			  USBPASS_ERROR_INVALID_DATA,
			  "%s: [daemon] host must be printable UTF-8 of at most 255 bytes",
			  origin);
			return FALSE;
		}
	}
	if (mode_str != NULL) {
		guint64 mode = 0;
		if (!g_ascii_string_to_unsigned(mode_str, 8, 0, 0777, &mode, NULL)) {
			g_autofree gchar *shown = usbpass_config_shown(mode_str);
			g_set_error(
			  error,
			  USBPASS_ERROR,
			  USBPASS_ERROR_INVALID_DATA,
			  "%s: [daemon] socket-mode '%s' is not an octal mode from 0 to 0777",
			  origin,
			  shown);
			return FALSE;
		}
		tmp->socket_mode = (guint)mode;
	}
	if (level_str != NULL &&
	    !usbpass_config_parse_log_level(level_str, &tmp->log_level, error)) {
		g_prefix_error(error, "%s: [daemon] log-level: ", origin);
		return FALSE;
	}
	if (g_strcmp0(tmp->driver, "libvirt") != 0 && g_strcmp0(tmp->driver, "test") != 0) {
		g_autofree gchar *shown = usbpass_config_shown(tmp->driver);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: [daemon] driver '%s' is not 'libvirt' or 'test'",
		            origin,
		            shown);
		return FALSE;
	}
	if ((tmp->tls_certificate == NULL) != (tmp->tls_key == NULL)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "%s: [daemon] tls-certificate and tls-key go together",
		            origin);
		return FALSE;
	}

	/* success: take everything over */
	g_free(tmp->path);
	tmp->path = g_strdup(origin);
	{
		UsbpassConfig swap = *self;
		*self = *tmp;
		*tmp = swap;
	}
	return TRUE;
}

/**
 * usbpass_config_load_file:
 * @self: the config to overlay
 * @path: a GKeyFile
 * @error: (nullable): #USBPASS_ERROR_NOT_FOUND when @path does not exist,
 *   #USBPASS_ERROR_INVALID_DATA when it does not parse
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_config_load_file(UsbpassConfig *self, const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	g_autoptr(GError) error_local = NULL;
	gsize length = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	if (!g_file_get_contents(path, &data, &length, &error_local)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
		              ? USBPASS_ERROR_NOT_FOUND
		              : USBPASS_ERROR_INVALID_DATA,
		            "cannot read the configuration: %s",
		            error_local->message);
		return FALSE;
	}
	return usbpass_config_load_data(self, data, length, path, error);
}

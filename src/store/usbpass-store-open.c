/*
 * usbpass-store-open.c: opening the store a location names
 */
#define G_LOG_DOMAIN "UsbpassStore"

#include "config.h"

#include <string.h>

#include "usbpass-store-open.h"
#include "usbpass-string.h"
#include "sqlite/usbpass-sqlite-store.h"
#ifdef USBPASS_HAVE_LIBPQ
#include "pg/usbpass-pg-store.h"
#endif

static gboolean
usbpass_store_open_is_pg_uri(const gchar *location)
{
	return g_str_has_prefix(location, "postgresql://") ||
	       g_str_has_prefix(location, "postgres://");
}

/**
 * usbpass_store_open:
 * @location: an SQLite file, or a "postgresql://" / "postgres://" URI
 * @error: (nullable): #USBPASS_ERROR_NOT_SUPPORTED for a URI that no backend
 *   of this build takes; otherwise the error of usbpass_sqlite_store_new() or
 *   usbpass_pg_store_new()
 *
 * Returns: (transfer full): the store, or %NULL
 */
UsbpassStore *
usbpass_store_open(const gchar *location, GError **error)
{
	g_return_val_if_fail(location != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (usbpass_store_open_is_pg_uri(location)) {
#ifdef USBPASS_HAVE_LIBPQ
		return USBPASS_STORE(usbpass_pg_store_new(location, error));
#else
		g_autofree gchar *shown = usbpass_store_location_to_display(location);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_NOT_SUPPORTED,
		            "store '%s' is a PostgreSQL URI, but this usbpass was built without "
		            "libpq: give the path of an SQLite file",
		            shown);
		return NULL;
#endif
	}
	/* the SQLite store refuses every other URI itself, creating nothing */
	return USBPASS_STORE(usbpass_sqlite_store_new(location, error));
}

/**
 * usbpass_store_location_to_display:
 * @location: a store location
 *
 * Returns: (transfer full): @location without a URI's password, user
 *   parameters or query; printable and bounded
 */
gchar *
usbpass_store_location_to_display(const gchar *location)
{
	const gchar *scheme;
	g_autoptr(GUri) uri = NULL;

	g_return_val_if_fail(location != NULL, NULL);

#ifdef USBPASS_HAVE_LIBPQ
	if (usbpass_store_open_is_pg_uri(location))
		return usbpass_pg_store_location_to_display(location);
#endif
	scheme = g_uri_peek_scheme(location);
	if (scheme == NULL || !g_str_has_prefix(location + strlen(scheme) + 1, "//"))
		return usbpass_string_sanitize(location, -1, 1024);
	/* any other URI: scheme, host, port and path only */
	uri = g_uri_parse(location, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED, NULL);
	if (uri != NULL) {
		g_autofree gchar *joined = g_uri_join(G_URI_FLAGS_ENCODED,
		                                      scheme,
		                                      NULL,
		                                      g_uri_get_host(uri),
		                                      g_uri_get_port(uri),
		                                      g_uri_get_path(uri),
		                                      NULL,
		                                      NULL);
		return usbpass_string_sanitize(joined, -1, 256);
	}
	return g_strdup_printf("%s://", scheme);
}

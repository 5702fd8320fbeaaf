/*
 * usbpass-api-server-private.h: the request parsers of UsbpassApiServer, for
 * tests and fuzzers
 *
 * Not part of the API. Each function runs exactly the code the server runs on
 * a request, without a socket: the path router, the decoding of a path
 * segment, the query check and the check of a device named in a body.
 * Pure functions of their arguments; any thread.
 */
#pragma once

#include "usbpass-api-server.h"

G_BEGIN_DECLS

/* routes @path ("/v1/devices/X"); @route: (out): the endpoint, an index below
 * usbpass_api_server_get_n_routes(); @arg1, @arg2: (out) (transfer full)
 * (nullable): the decoded {device}/{instance}/{name} segments. NOT_FOUND for
 * no endpoint, INVALID_DATA for a bad segment. */
gboolean
usbpass_api_server_parse_path(const gchar *path,
                              guint *route,
                              gchar **arg1,
                              gchar **arg2,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(2, 3, 4);
guint
usbpass_api_server_get_n_routes(void);
/* one percent-encoded path segment; @out: (out) (transfer full) */
gboolean
usbpass_api_server_decode_segment(const gchar *raw, gchar **out, GError **error)
  G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
/* the query parameters of @route (form-decoded, as libsoup hands them over):
 * unknown names, and for GET /v1/devices bad filter values, are INVALID_DATA */
gboolean
usbpass_api_server_check_query(guint route, GHashTable *query, GError **error)
  G_GNUC_WARN_UNUSED_RESULT;
/* the device or instance named in a request body ("device" of an attach) */
gboolean
usbpass_api_server_check_spec(const gchar *what, const gchar *spec, GError **error)
  G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);

G_END_DECLS

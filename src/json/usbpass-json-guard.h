/*
 * usbpass-json-guard.h: the one gate untrusted JSON text passes through
 *
 * The REST server (request bodies) and the REST client (answers and events)
 * both parse JSON written by someone else, with json-glib 1.6, which is
 * lenient where it must not be: it recurses once per nesting level, takes
 * single-quoted strings, comments, hex and leading-zero numbers and unknown
 * escapes, cuts a string at an escaped NUL (\u0000) after it was validated,
 * decodes lone surrogates into invalid UTF-8, keeps the last of duplicate
 * members and reads concatenated documents. usbpass_json_guard_parse() lets
 * through only strict JSON (RFC 8259): one value, UTF-8 without a byte order
 * mark, no NUL escapes, no lone surrogates, no duplicate member names at any
 * depth, nested at most max_depth levels; everything else fails with
 * USBPASS_ERROR_INVALID_DATA and a message naming the reason and the byte
 * offset. The caller limits the size before. Stateless; any thread.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

gboolean
usbpass_json_guard_check(const gchar *data, gsize length, guint max_depth, GError **error);
JsonNode *
usbpass_json_guard_parse(const gchar *data, gsize length, guint max_depth, GError **error)
  G_GNUC_WARN_UNUSED_RESULT;
gboolean
usbpass_json_guard_check_charset(const gchar *charset, GError **error);

G_END_DECLS

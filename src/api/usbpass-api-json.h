/*
 * usbpass-api-json.h: the JSON objects of the REST API (docs/api.md)
 *
 * Builders write one object each into a JsonBuilder that the caller owns and
 * that is positioned where a value may go (an array element or after
 * json_builder_set_member_name()). The parser side takes untrusted bytes: it
 * checks the size, then hands them to the strict JSON guard shared with the
 * client (src/json/usbpass-json-guard.h: UTF-8, depth, no NUL escapes, no
 * duplicate members, one document), and type-checks every member it hands out.
 * Stateless; any thread.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "drivers/usbpass-driver.h"
#include "engine/usbpass-engine.h"
#include "engine/usbpass-policy.h"
#include "store/usbpass-store.h"

G_BEGIN_DECLS

/* the largest request body accepted, in bytes (413 beyond) */
#define USBPASS_API_BODY_MAX_BYTES (64 * 1024)
/* the deepest nesting of arrays and objects accepted in a request body */
#define USBPASS_API_JSON_MAX_DEPTH 32
/* the content type of every JSON answer */
#define USBPASS_API_JSON_CONTENT_TYPE "application/json; charset=utf-8"

gchar *
usbpass_api_json_time(gint64 usec) G_GNUC_WARN_UNUSED_RESULT;

void
usbpass_api_json_add_device(JsonBuilder *builder,
                            const gchar *host,
                            const UsbpassDevice *device,
                            const UsbpassStoreDevice *record,
                            gboolean present) USBPASS_NONNULL(1, 2);
void
usbpass_api_json_add_engine_device(JsonBuilder *builder,
                                   const gchar *host,
                                   const UsbpassEngineDevice *device) USBPASS_NONNULL(1, 2, 3);
GBytes *
usbpass_api_json_device_list_to_bytes(const gchar *host,
                                      gint64 generation,
                                      GPtrArray *devices) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 3);
void
usbpass_api_json_add_instance(JsonBuilder *builder,
                              const gchar *host,
                              const UsbpassInstance *instance,
                              UsbpassInventory *inventory,
                              GPtrArray *records) USBPASS_NONNULL(1, 2, 3, 4);
void
usbpass_api_json_add_audit_entry(JsonBuilder *builder, const UsbpassAuditEntry *entry)
  USBPASS_NONNULL(1, 2);
void
usbpass_api_json_add_token(JsonBuilder *builder, const UsbpassToken *token) USBPASS_NONNULL(1, 2);
void
usbpass_api_json_add_verdict(JsonBuilder *builder, const UsbpassPolicyVerdict *verdict)
  USBPASS_NONNULL(1, 2);

GBytes *
usbpass_api_json_to_bytes(JsonBuilder *builder) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
GBytes *
usbpass_api_json_error_new(UsbpassError code, const gchar *message) G_GNUC_WARN_UNUSED_RESULT;

JsonObject *
usbpass_api_json_parse_object(const gchar *data,
                              gsize length,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean
usbpass_api_json_get_string(JsonObject *object,
                            const gchar *member,
                            gboolean required,
                            const gchar **value,
                            GError **error) USBPASS_NONNULL(1, 2, 4);
gboolean
usbpass_api_json_check_members(JsonObject *object, const gchar *const *allowed, GError **error)
  USBPASS_NONNULL(1, 2);

G_END_DECLS

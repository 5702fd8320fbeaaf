/*
 * usbpass-client.h: a synchronous client of the usbpassd REST API
 *
 * UsbpassClient speaks the API of docs/api.md over libsoup-3, either on the
 * daemon's Unix socket (default USBPASS_CLIENT_DEFAULT_SOCKET) or on a
 * http(s)://host:port URL with a bearer token. Every method blocks until the
 * answer is complete and returns the parsed JSON object of the answer, never
 * more than USBPASS_CLIENT_MAX_RESPONSE_BYTES of it and never nested deeper than
 * USBPASS_CLIENT_MAX_JSON_DEPTH.
 *
 * Errors: one domain, USBPASS_ERROR. An API error body {"error": {"code",
 * "message"}} becomes the code of usbpass_error_from_string() and the server's
 * message (sanitised); an error answer without such a body is mapped from its
 * HTTP status (docs/cli.md); a failure to reach the daemon, or a broken connection, is
 * USBPASS_ERROR_UNREACHABLE; an answer that does not follow docs/api.md
 * (not strict JSON by src/json/usbpass-json-guard.h, not UTF-8, too big, too
 * deep, wrong type) is USBPASS_ERROR_INVALID_DATA. A timeout is
 * USBPASS_ERROR_TIMED_OUT; a cancellation stays GIO's G_IO_ERROR_CANCELLED,
 * which GLib callers test for.
 *
 * The JSON handed out is the server's, unchanged: its strings are untrusted and
 * must be sanitised (usbpass_string_sanitize()) before they reach a terminal.
 * The *_record() variants read devices into UsbpassDevice records instead
 * (usbpass_device_from_json(): every member type-checked, every string
 * sanitised); a device that does not follow docs/inventory-json.md fails the
 * call with USBPASS_ERROR_INVALID_DATA.
 *
 * Threading: a client and the JSON it returned belong to the thread that
 * created the client (libsoup's sync API); use one client per thread.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "usbpass-common.h"
#include "usbpass-device.h"
#include "usbpass-error.h"

G_BEGIN_DECLS

#define USBPASS_CLIENT_DEFAULT_SOCKET "/run/usbpass/usbpassd.sock"
/* the largest answer read, in bytes; a full listing of 1,000 devices is ~1.5 MiB */
#define USBPASS_CLIENT_MAX_RESPONSE_BYTES (16 * 1024 * 1024)
/* the largest server-sent event (its data lines together), in bytes */
#define USBPASS_CLIENT_MAX_EVENT_BYTES (1024 * 1024)
/* json-glib 1.6 parses recursively: bound the nesting before it overflows the stack */
#define USBPASS_CLIENT_MAX_JSON_DEPTH 64
/* the default I/O timeout; the event stream carries a keep-alive every 15 s */
#define USBPASS_CLIENT_DEFAULT_TIMEOUT_SECONDS 120

/* a filter of GET /v1/devices; NULL members (and PRESENT_ANY) do not filter */
typedef enum {
	USBPASS_CLIENT_PRESENT_ANY,
	USBPASS_CLIENT_PRESENT_YES,
	USBPASS_CLIENT_PRESENT_NO,
} UsbpassClientPresent;

typedef struct {
	const gchar *state;      /* "attached", ... */
	const gchar *instance;   /* uuid or name */
	const gchar *vendor_id;  /* "0781" */
	const gchar *product_id; /* "5567" */
	UsbpassClientPresent present;
} UsbpassClientDeviceFilter;

/**
 * UsbpassClientEventFunc:
 * @event: the event name ("inventory", "state", ...), sanitised
 * @data: the parsed JSON of the event's data lines
 * @user_data: what was passed to usbpass_client_watch_events()
 *
 * Returns: %TRUE to go on watching, %FALSE to stop
 */
typedef gboolean (*UsbpassClientEventFunc)(const gchar *event, JsonNode *data, gpointer user_data);

#define USBPASS_TYPE_CLIENT (usbpass_client_get_type())
G_DECLARE_FINAL_TYPE(UsbpassClient, usbpass_client, USBPASS, CLIENT, GObject)

UsbpassClient *
usbpass_client_new_for_socket(const gchar *socket_path) G_GNUC_WARN_UNUSED_RESULT;
UsbpassClient *
usbpass_client_new_for_url(const gchar *url, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);

gboolean
usbpass_client_set_token(UsbpassClient *self, const gchar *token, GError **error)
  USBPASS_NONNULL(1);
void
usbpass_client_set_timeout(UsbpassClient *self, guint timeout_seconds) USBPASS_NONNULL(1);
void
usbpass_client_set_max_response_bytes(UsbpassClient *self, gsize max_bytes) USBPASS_NONNULL(1);
const gchar *
usbpass_client_get_location(UsbpassClient *self) USBPASS_NONNULL(1);

gchar *
usbpass_client_load_token(const gchar *token_file, GError **error) G_GNUC_WARN_UNUSED_RESULT;

JsonObject *
usbpass_client_health(UsbpassClient *self,
                      GCancellable *cancellable,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_get_host(UsbpassClient *self,
                        GCancellable *cancellable,
                        GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_list_devices(UsbpassClient *self,
                            const UsbpassClientDeviceFilter *filter,
                            GCancellable *cancellable,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_get_device(UsbpassClient *self,
                          const gchar *device,
                          GCancellable *cancellable,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
GPtrArray *
usbpass_client_list_device_records(UsbpassClient *self,
                                   const UsbpassClientDeviceFilter *filter,
                                   GCancellable *cancellable,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
UsbpassDevice *
usbpass_client_get_device_record(UsbpassClient *self,
                                 const gchar *device,
                                 GCancellable *cancellable,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
JsonObject *
usbpass_client_check_policy(UsbpassClient *self,
                            const gchar *device,
                            GCancellable *cancellable,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
JsonObject *
usbpass_client_get_policy(UsbpassClient *self,
                          GCancellable *cancellable,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_list_instances(UsbpassClient *self,
                              GCancellable *cancellable,
                              GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_get_instance(UsbpassClient *self,
                            const gchar *instance,
                            GCancellable *cancellable,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2);
JsonObject *
usbpass_client_attach(UsbpassClient *self,
                      const gchar *instance,
                      const gchar *device,
                      GCancellable *cancellable,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3);
JsonObject *
usbpass_client_detach(UsbpassClient *self,
                      const gchar *instance,
                      const gchar *device,
                      GCancellable *cancellable,
                      GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3);
JsonObject *
usbpass_client_list_audit(UsbpassClient *self,
                          gint64 after_id,
                          guint limit,
                          GCancellable *cancellable,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
JsonObject *
usbpass_client_create_token(UsbpassClient *self,
                            const gchar *name,
                            const gchar *role,
                            GCancellable *cancellable,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1, 2, 3);
JsonObject *
usbpass_client_list_tokens(UsbpassClient *self,
                           GCancellable *cancellable,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gboolean
usbpass_client_revoke_token(UsbpassClient *self,
                            const gchar *name,
                            GCancellable *cancellable,
                            GError **error) USBPASS_NONNULL(1, 2);
gboolean
usbpass_client_watch_events(UsbpassClient *self,
                            UsbpassClientEventFunc func,
                            gpointer user_data,
                            GCancellable *cancellable,
                            GError **error) USBPASS_NONNULL(1, 2);

G_END_DECLS

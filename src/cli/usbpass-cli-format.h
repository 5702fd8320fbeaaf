/*
 * usbpass-cli-format.h: text for a terminal from the JSON of usbpassd
 *
 * Every function here takes the server's JSON as the client returned it and
 * gives a string for stdout. The server may be old, buggy or hostile: every
 * string taken from the JSON goes through usbpass_string_sanitize() again, so
 * the text never holds a control character other than '\n' (no escape
 * sequence, no carriage return, no C1 code), and a member of the wrong type
 * counts as absent. Only a reply whose top-level shape is wrong (no "devices"
 * array in a device listing...) is an error, USBPASS_ERROR_INVALID_DATA.
 *
 * Columns are aligned by display width (wide characters count two) and wide
 * columns are cut with "…" unless USBPASS_CLI_FORMAT_WIDE is given.
 * Pure functions of their input: thread-safe, no I/O.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "usbpass-common.h"

G_BEGIN_DECLS

typedef enum {
	USBPASS_CLI_FORMAT_NONE = 0,
	USBPASS_CLI_FORMAT_WIDE = 1 << 0, /* never cut a column */
} UsbpassCliFormatFlags;

/* the longest string kept from the server for one cell or line, in bytes */
#define USBPASS_CLI_MAX_FIELD_BYTES 1024

/* terminal columns taken by @str: wide characters two, combining marks none */
guint
usbpass_cli_display_width(const gchar *str) USBPASS_NONNULL(1);
/* @str cut to at most @max_width columns, ending in "…" when cut */
gchar *
usbpass_cli_truncate(const gchar *str, guint max_width) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
/* a server string made safe for the terminal; NULL when absent or empty */
gchar *
usbpass_cli_safe(const gchar *untrusted) G_GNUC_WARN_UNUSED_RESULT;

/* a table: header cells, rows of cells; NULL or empty cells show as "-" */
typedef struct _UsbpassCliTable UsbpassCliTable;

UsbpassCliTable *
usbpass_cli_table_new(const gchar *const *headers) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_cli_table_set_max_width(UsbpassCliTable *self, guint column, guint max_width)
  USBPASS_NONNULL(1);
void
usbpass_cli_table_add_row(UsbpassCliTable *self, const gchar *const *cells) USBPASS_NONNULL(1, 2);
void
usbpass_cli_table_add_continuation(UsbpassCliTable *self, const gchar *const *cells)
  USBPASS_NONNULL(1, 2);
guint
usbpass_cli_table_get_rows(UsbpassCliTable *self) USBPASS_NONNULL(1);
gchar *
usbpass_cli_table_render(UsbpassCliTable *self,
                         UsbpassCliFormatFlags flags) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
void
usbpass_cli_table_free(UsbpassCliTable *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassCliTable, usbpass_cli_table_free)

/* JSON text that is safe on a terminal: the same data, with DEL, C1 controls,
 * U+2028, U+2029 and format characters escaped as \uXXXX as well; ends in '\n' */
gchar *
usbpass_cli_format_json(JsonNode *node, gboolean pretty) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);

/* `usbpass list`: {"devices": [...]} as a table */
gchar *
usbpass_cli_format_devices(JsonObject *answer,
                           UsbpassCliFormatFlags flags,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* `usbpass list --tree`: controller -> root hub -> ports -> devices */
gchar *
usbpass_cli_format_tree(JsonObject *answer,
                        UsbpassCliFormatFlags flags,
                        GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* `usbpass status`: ID NAME BUS:DEV STATE INSTANCE ERROR; hubs only with @all */
gchar *
usbpass_cli_format_status(JsonObject *answer,
                          gboolean all,
                          UsbpassCliFormatFlags flags,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* one Device as "key: value" lines */
gchar *
usbpass_cli_format_device(JsonObject *device) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* "Attached 0781:5567:s:X (SanDisk Cruzer Blade) to web01 ..." after attach/detach */
gchar *
usbpass_cli_format_assignment(JsonObject *device,
                              gboolean attached,
                              const gchar *instance) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_instances(JsonObject *answer,
                             UsbpassCliFormatFlags flags,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_audit(JsonObject *answer,
                         UsbpassCliFormatFlags flags,
                         GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_tokens(JsonObject *answer,
                          UsbpassCliFormatFlags flags,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_token_created(JsonObject *answer, GError **error) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_policy(JsonObject *answer) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_policy_check(JsonObject *answer) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
gchar *
usbpass_cli_format_host(JsonObject *answer) G_GNUC_WARN_UNUSED_RESULT USBPASS_NONNULL(1);
/* one line for `usbpass watch`, or NULL for an event this CLI does not know */
gchar *
usbpass_cli_format_event(const gchar *event, JsonNode *data) G_GNUC_WARN_UNUSED_RESULT
  USBPASS_NONNULL(1, 2);

G_END_DECLS

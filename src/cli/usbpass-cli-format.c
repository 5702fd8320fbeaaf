/*
 * usbpass-cli-format.c: text for a terminal from the JSON of usbpassd
 */
#define G_LOG_DOMAIN "UsbpassCli"

#include "config.h"

#include <string.h>

#include "usbpass-cli-format.h"
#include "usbpass-client.h"
#include "usbpass-string.h"

/* USB allows 7 tiers; anything deeper comes from a broken or hostile server */
#define USBPASS_CLI_TREE_MAX_DEPTH 16

/* ---- strings ---- */

static guint
usbpass_cli_char_width(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	if (g_unichar_iswide(c))
		return 2;
	return 1;
}

/**
 * usbpass_cli_display_width:
 * @str: valid UTF-8
 *
 * Returns: the number of terminal columns @str takes
 */
guint
usbpass_cli_display_width(const gchar *str)
{
	guint width = 0;
	g_return_val_if_fail(str != NULL, 0);
	for (const gchar *p = str; *p != '\0'; p = g_utf8_next_char(p))
		width += usbpass_cli_char_width(g_utf8_get_char(p));
	return width;
}

/**
 * usbpass_cli_truncate:
 * @str: valid UTF-8
 * @max_width: the most terminal columns wanted
 *
 * Returns: (transfer full): @str, or its beginning followed by "…" so that the
 * whole takes at most @max_width columns
 */
gchar *
usbpass_cli_truncate(const gchar *str, guint max_width)
{
	g_autoptr(GString) out = NULL;
	guint width = 0;

	g_return_val_if_fail(str != NULL, NULL);

	if (usbpass_cli_display_width(str) <= max_width)
		return g_strdup(str);
	if (max_width == 0)
		return g_strdup("");
	out = g_string_new(NULL);
	for (const gchar *p = str; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		guint w = usbpass_cli_char_width(c);
		if (width + w > max_width - 1)
			break;
		g_string_append_unichar(out, c);
		width += w;
	}
	g_string_append(out, "\u2026");
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * usbpass_cli_safe:
 * @untrusted: (nullable): a string from the server
 *
 * Sanitises @untrusted once more (the server may be old or hostile) and also
 * replaces Unicode format characters (bidirectional overrides, zero-width
 * characters), which could make a terminal line read differently from what it
 * holds.
 *
 * Returns: (transfer full) (nullable): a string safe to print, or %NULL when
 * @untrusted is %NULL or holds nothing printable
 */
gchar *
usbpass_cli_safe(const gchar *untrusted)
{
	g_autofree gchar *sane = NULL;
	g_autoptr(GString) out = NULL;

	sane = usbpass_string_sanitize(untrusted, -1, USBPASS_CLI_MAX_FIELD_BYTES);
	if (sane == NULL)
		return NULL;
	out = g_string_sized_new(strlen(sane));
	for (const gchar *p = sane; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_type(c) == G_UNICODE_FORMAT)
			c = 0xfffd;
		g_string_append_unichar(out, c);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- typed access to untrusted JSON: a member of the wrong type is absent ---- */

static const gchar *
usbpass_cli_json_string(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static gchar *
usbpass_cli_json_safe(JsonObject *obj, const gchar *name)
{
	return usbpass_cli_safe(usbpass_cli_json_string(obj, name));
}

static gboolean
usbpass_cli_json_uint(JsonObject *obj, const gchar *name, guint64 max, guint64 *value)
{
	JsonNode *node = json_object_get_member(obj, name);
	gint64 tmp;
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_INT64)
		return FALSE;
	tmp = json_node_get_int(node);
	if (tmp < 0 || (guint64)tmp > max)
		return FALSE;
	*value = (guint64)tmp;
	return TRUE;
}

static gboolean
usbpass_cli_json_bool(JsonObject *obj, const gchar *name, gboolean *value)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_BOOLEAN)
		return FALSE;
	*value = json_node_get_boolean(node);
	return TRUE;
}

/* TRUE only when the member is the JSON true */
static gboolean
usbpass_cli_json_is_true(JsonObject *obj, const gchar *name)
{
	gboolean value = FALSE;
	return usbpass_cli_json_bool(obj, name, &value) && value;
}

static JsonObject *
usbpass_cli_json_object(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	return json_node_get_object(node);
}

/* the array member @name of a reply, or a protocol error */
static JsonArray *
usbpass_cli_json_reply_array(JsonObject *answer, const gchar *name, GError **error)
{
	JsonNode *node = json_object_get_member(answer, name);
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the answer of usbpassd has no \"%s\" array",
		            name);
		return NULL;
	}
	return json_node_get_array(node);
}

/* the objects of an array; other elements are skipped */
static GPtrArray *
usbpass_cli_json_objects(JsonArray *array)
{
	GPtrArray *objects = g_ptr_array_new(); /* of JsonObject, borrowed */
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		if (JSON_NODE_HOLDS_OBJECT(node))
			g_ptr_array_add(objects, json_node_get_object(node));
	}
	return objects;
}

/* "007", or NULL when absent */
static gchar *
usbpass_cli_json_number3(JsonObject *obj, const gchar *name)
{
	guint64 value = 0;
	if (!usbpass_cli_json_uint(obj, name, 999, &value))
		return NULL;
	return g_strdup_printf("%03u", (guint)value);
}

/* "001:005", or NULL when the address is unknown */
static gchar *
usbpass_cli_device_address(JsonObject *device)
{
	guint64 bus = 0;
	guint64 devnum = 0;
	if (!usbpass_cli_json_uint(device, "bus", 999, &bus) ||
	    !usbpass_cli_json_uint(device, "device", 999, &devnum) || bus == 0)
		return NULL;
	return g_strdup_printf("%03u:%03u", (guint)bus, (guint)devnum);
}

/* "0781:5567", or NULL */
static gchar *
usbpass_cli_device_vid_pid(JsonObject *device)
{
	g_autofree gchar *vid = usbpass_cli_json_safe(device, "vendor_id");
	g_autofree gchar *pid = usbpass_cli_json_safe(device, "product_id");
	if (vid == NULL || pid == NULL)
		return NULL;
	return g_strdup_printf("%s:%s", vid, pid);
}

/* the instance a device is assigned to: its name, else its uuid */
static gchar *
usbpass_cli_device_instance(JsonObject *device)
{
	gchar *instance = usbpass_cli_json_safe(device, "instance_name");
	if (instance == NULL)
		instance = usbpass_cli_json_safe(device, "instance_uuid");
	return instance;
}

/* the PCI address and name of a device's host controller, accepting the
 * object form {"pci_address", "name"} and flat members */
static void
usbpass_cli_device_controller(JsonObject *device, gchar **pci_address, gchar **name)
{
	JsonObject *controller = usbpass_cli_json_object(device, "controller");
	if (controller != NULL) {
		*pci_address = usbpass_cli_json_safe(controller, "pci_address");
		*name = usbpass_cli_json_safe(controller, "name");
		return;
	}
	*pci_address = usbpass_cli_json_safe(device, "controller_pci_address");
	if (*pci_address == NULL)
		*pci_address = usbpass_cli_json_safe(device, "controller");
	*name = usbpass_cli_json_safe(device, "controller_name");
}

/* ---- tables ---- */

struct _UsbpassCliTable {
	guint n_columns;
	GPtrArray *headers; /* of gchar */
	guint *max_widths;  /* per column, 0 for no limit */
	GPtrArray *rows;    /* of GStrv, n_columns safe cells each */
};

/**
 * usbpass_cli_table_new:
 * @headers: (array zero-terminated=1): the column titles, trusted
 *
 * Returns: (transfer full): an empty table
 */
UsbpassCliTable *
usbpass_cli_table_new(const gchar *const *headers)
{
	UsbpassCliTable *self;

	g_return_val_if_fail(headers != NULL, NULL);

	self = g_new0(UsbpassCliTable, 1);
	self->headers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; headers[i] != NULL; i++)
		g_ptr_array_add(self->headers, g_strdup(headers[i]));
	self->n_columns = self->headers->len;
	self->max_widths = g_new0(guint, MAX(self->n_columns, 1));
	self->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	return self;
}

/**
 * usbpass_cli_table_set_max_width:
 * @self: a #UsbpassCliTable
 * @column: a column index
 * @max_width: the widest the column may be unless the output is wide, 0 for no limit
 */
void
usbpass_cli_table_set_max_width(UsbpassCliTable *self, guint column, guint max_width)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(column < self->n_columns);
	self->max_widths[column] = max_width;
}

static void
usbpass_cli_table_add(UsbpassCliTable *self, const gchar *const *cells, const gchar *empty)
{
	gchar **row = g_new0(gchar *, self->n_columns + 1);
	for (guint i = 0; i < self->n_columns; i++) {
		gchar *safe = usbpass_cli_safe(cells[i]);
		row[i] = safe != NULL ? safe : g_strdup(empty);
	}
	g_ptr_array_add(self->rows, row);
}

/**
 * usbpass_cli_table_add_row:
 * @self: a #UsbpassCliTable
 * @cells: (array): exactly one cell per column, untrusted; %NULL cells show "-"
 *
 * Adds a row; each cell is sanitised.
 */
void
usbpass_cli_table_add_row(UsbpassCliTable *self, const gchar *const *cells)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(cells != NULL);
	usbpass_cli_table_add(self, cells, "-");
}

/**
 * usbpass_cli_table_add_continuation:
 * @self: a #UsbpassCliTable
 * @cells: (array): exactly one cell per column, untrusted; %NULL cells stay blank
 *
 * Adds a row that continues the previous one (a second device of an instance).
 */
void
usbpass_cli_table_add_continuation(UsbpassCliTable *self, const gchar *const *cells)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(cells != NULL);
	usbpass_cli_table_add(self, cells, "");
}

/**
 * usbpass_cli_table_get_rows:
 * @self: a #UsbpassCliTable
 *
 * Returns: the number of rows added, the header not counted
 */
guint
usbpass_cli_table_get_rows(UsbpassCliTable *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->rows->len;
}

static void
usbpass_cli_table_render_line(GString *out, gchar **cells, const guint *widths, guint n_columns)
{
	gsize line_start = out->len;
	for (guint i = 0; i < n_columns; i++) {
		g_string_append(out, cells[i]);
		if (i + 1 < n_columns) {
			guint pad = widths[i] - usbpass_cli_display_width(cells[i]) + 2;
			for (guint j = 0; j < pad; j++)
				g_string_append_c(out, ' ');
		}
	}
	/* no trailing blanks when the last cells are empty */
	while (out->len > line_start && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	g_string_append_c(out, '\n');
}

/**
 * usbpass_cli_table_render:
 * @self: a #UsbpassCliTable
 * @flags: %USBPASS_CLI_FORMAT_WIDE to cut no column
 *
 * Returns: (transfer full): the header and the rows, columns aligned by display
 * width and separated by two spaces, one line each
 */
gchar *
usbpass_cli_table_render(UsbpassCliTable *self, UsbpassCliFormatFlags flags)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autofree guint *widths = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	widths = g_new0(guint, MAX(self->n_columns, 1));
	for (guint r = 0; r <= self->rows->len; r++) {
		gchar **src =
		  r == 0 ? (gchar **)self->headers->pdata : g_ptr_array_index(self->rows, r - 1);
		gchar **line = g_new0(gchar *, self->n_columns + 1);
		for (guint i = 0; i < self->n_columns; i++) {
			gboolean cut = (flags & USBPASS_CLI_FORMAT_WIDE) == 0;
			if (r > 0 && self->max_widths[i] > 0 && cut)
				line[i] = usbpass_cli_truncate(src[i], self->max_widths[i]);
			else
				line[i] = g_strdup(src[i]);
			widths[i] = MAX(widths[i], usbpass_cli_display_width(line[i]));
		}
		g_ptr_array_add(lines, line);
	}
	for (guint r = 0; r < lines->len; r++)
		usbpass_cli_table_render_line(
		  out, g_ptr_array_index(lines, r), widths, self->n_columns);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * usbpass_cli_table_free:
 * @self: (nullable): a #UsbpassCliTable
 */
void
usbpass_cli_table_free(UsbpassCliTable *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->headers);
	g_ptr_array_unref(self->rows);
	g_free(self->max_widths);
	g_free(self);
}

/* "Key:   value" lines, keys trusted, values untrusted; absent values are skipped */
typedef struct {
	GPtrArray *keys;   /* of gchar */
	GPtrArray *values; /* of gchar, safe */
} UsbpassCliPairs;

static void
usbpass_cli_pairs_init(UsbpassCliPairs *pairs)
{
	pairs->keys = g_ptr_array_new_with_free_func(g_free);
	pairs->values = g_ptr_array_new_with_free_func(g_free);
}

static void
usbpass_cli_pairs_add(UsbpassCliPairs *pairs, const gchar *key, const gchar *untrusted)
{
	gchar *safe = usbpass_cli_safe(untrusted);
	if (safe == NULL)
		return;
	g_ptr_array_add(pairs->keys, g_strdup(key));
	g_ptr_array_add(pairs->values, safe);
}

static gchar *
usbpass_cli_pairs_render(UsbpassCliPairs *pairs)
{
	GString *out = g_string_new(NULL);
	guint width = 0;
	for (guint i = 0; i < pairs->keys->len; i++)
		width = MAX(width, (guint)strlen(g_ptr_array_index(pairs->keys, i)) + 1);
	for (guint i = 0; i < pairs->keys->len; i++) {
		const gchar *key = g_ptr_array_index(pairs->keys, i);
		g_string_append_printf(out,
		                       "%s:%*s%s\n",
		                       key,
		                       (gint)(width - strlen(key)),
		                       "",
		                       (const gchar *)g_ptr_array_index(pairs->values, i));
	}
	g_ptr_array_unref(pairs->keys);
	g_ptr_array_unref(pairs->values);
	return g_string_free(out, FALSE);
}

/* ---- JSON ---- */

/**
 * usbpass_cli_format_json:
 * @node: the server's JSON
 * @pretty: indent, or one line
 *
 * json-glib escapes C0 controls in strings but writes DEL, C1 controls (U+009B is
 * a CSI to many terminals), the line separators and format characters (a
 * bidirectional override) as they are; those are escaped too, which keeps the
 * JSON equal in meaning.
 *
 * Returns: (transfer full): JSON text ending in a newline
 */
gchar *
usbpass_cli_format_json(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;
	g_autofree gchar *valid = NULL;
	g_autoptr(GString) out = NULL;

	g_return_val_if_fail(node != NULL, NULL);

	json_generator_set_pretty(generator, pretty);
	json_generator_set_root(generator, node);
	text = json_generator_to_data(generator, NULL);
	valid = g_utf8_make_valid(text, -1);
	out = g_string_sized_new(strlen(valid) + 2);
	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 && c != '\n' && c != '\t')
			g_string_append_printf(out, "\\u%04x", c);
		else if (c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029)
			g_string_append_printf(out, "\\u%04x", c);
		else if (g_unichar_type(c) == G_UNICODE_FORMAT && c <= 0xffff)
			g_string_append_printf(out, "\\u%04x", c);
		else if (g_unichar_type(c) == G_UNICODE_FORMAT) /* a UTF-16 surrogate pair */
			g_string_append_printf(out,
			                       "\\u%04x\\u%04x",
			                       0xd800 + ((c - 0x10000) >> 10),
			                       0xdc00 + ((c - 0x10000) & 0x3ff));
		else
			g_string_append_unichar(out, c);
	}
	g_string_append_c(out, '\n');
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- devices ---- */

static gchar *
usbpass_cli_format_device_notes(GPtrArray *devices)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < devices->len; i++) {
		JsonObject *device = g_ptr_array_index(devices, i);
		g_autofree gchar *id = usbpass_cli_json_safe(device, "id");
		g_autofree gchar *port = usbpass_cli_json_safe(device, "port");
		g_autofree gchar *error = usbpass_cli_json_safe(device, "error");
		g_autofree gchar *conflict = usbpass_cli_json_safe(device, "id_conflict");
		const gchar *who = port != NULL ? port : (id != NULL ? id : "?");
		if (error != NULL)
			g_string_append_printf(out, "note: USB device '%s': %s\n", who, error);
		if (conflict != NULL)
			g_string_append_printf(out, "note: USB device '%s': %s\n", who, conflict);
	}
	return g_string_free(out, FALSE);
}

/**
 * usbpass_cli_format_devices:
 * @answer: the reply of GET /v1/devices
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "devices" array
 *
 * Returns: (transfer full): the table BUS DEV ID NAME SERIAL PORT CLASS STATE
 * INSTANCE, then one "note:" line per device with an error or identity conflict
 */
gchar *
usbpass_cli_format_devices(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	const gchar *headers[] = { "BUS",  "DEV",   "ID",    "NAME",     "SERIAL",
		                   "PORT", "CLASS", "STATE", "INSTANCE", NULL };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autoptr(GPtrArray) devices = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *notes = NULL;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "devices", error);
	if (array == NULL)
		return NULL;
	devices = usbpass_cli_json_objects(array);
	usbpass_cli_table_set_max_width(table, 2, 36);
	usbpass_cli_table_set_max_width(table, 3, 36);
	usbpass_cli_table_set_max_width(table, 4, 20);
	usbpass_cli_table_set_max_width(table, 5, 16);
	usbpass_cli_table_set_max_width(table, 6, 20);
	usbpass_cli_table_set_max_width(table, 7, 10);
	usbpass_cli_table_set_max_width(table, 8, 24);
	for (guint i = 0; i < devices->len; i++) {
		JsonObject *device = g_ptr_array_index(devices, i);
		g_autofree gchar *bus = usbpass_cli_json_number3(device, "bus");
		g_autofree gchar *devnum = usbpass_cli_json_number3(device, "device");
		g_autofree gchar *instance = usbpass_cli_device_instance(device);
		const gchar *cells[] = {
			bus,
			devnum,
			usbpass_cli_json_string(device, "id"),
			usbpass_cli_json_string(device, "name"),
			usbpass_cli_json_string(device, "serial"),
			usbpass_cli_json_string(device, "port"),
			usbpass_cli_json_string(device, "class_name"),
			usbpass_cli_json_string(device, "state"),
			instance,
		};
		usbpass_cli_table_add_row(table, cells);
	}
	text = usbpass_cli_table_render(table, flags);
	notes = usbpass_cli_format_device_notes(devices);
	return g_strconcat(text, notes, NULL);
}

/**
 * usbpass_cli_format_status:
 * @answer: the reply of GET /v1/devices
 * @all: include hubs and root hubs, which are never passed through
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "devices" array
 *
 * Returns: (transfer full): the table ID NAME BUS:DEV STATE INSTANCE ERROR, the
 * host_usb_devices view of the devices
 */
gchar *
usbpass_cli_format_status(JsonObject *answer,
                          gboolean all,
                          UsbpassCliFormatFlags flags,
                          GError **error)
{
	const gchar *headers[] = { "ID", "NAME", "BUS:DEV", "STATE", "INSTANCE", "ERROR", NULL };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autoptr(GPtrArray) devices = NULL;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "devices", error);
	if (array == NULL)
		return NULL;
	devices = usbpass_cli_json_objects(array);
	usbpass_cli_table_set_max_width(table, 0, 36);
	usbpass_cli_table_set_max_width(table, 1, 32);
	usbpass_cli_table_set_max_width(table, 3, 10);
	usbpass_cli_table_set_max_width(table, 4, 24);
	usbpass_cli_table_set_max_width(table, 5, 60);
	for (guint i = 0; i < devices->len; i++) {
		JsonObject *device = g_ptr_array_index(devices, i);
		g_autofree gchar *address = usbpass_cli_device_address(device);
		g_autofree gchar *instance = usbpass_cli_device_instance(device);
		const gchar *message = usbpass_cli_json_string(device, "state_error");
		if (!all && (usbpass_cli_json_is_true(device, "is_hub") ||
		             usbpass_cli_json_is_true(device, "is_root_hub")))
			continue;
		if (message == NULL)
			message = usbpass_cli_json_string(device, "error");
		{
			const gchar *cells[] = {
				usbpass_cli_json_string(device, "id"),
				usbpass_cli_json_string(device, "name"),
				address,
				usbpass_cli_json_string(device, "state"),
				instance,
				message,
			};
			usbpass_cli_table_add_row(table, cells);
		}
	}
	return usbpass_cli_table_render(table, flags);
}

/* ---- tree ---- */

typedef struct {
	JsonObject *device; /* borrowed */
	const gchar *port;  /* untrusted, for matching only */
	const gchar *parent_port;
	guint64 bus;
	gboolean visited;
	GPtrArray *children; /* of UsbpassCliTreeNode, borrowed */
} UsbpassCliTreeNode;

static void
usbpass_cli_tree_node_free(UsbpassCliTreeNode *node)
{
	g_ptr_array_unref(node->children);
	g_free(node);
}

/* "1-1.2" before "1-1.10": digit runs compare as numbers */
static gint
usbpass_cli_port_compare(const gchar *a, const gchar *b)
{
	if (a == NULL || b == NULL)
		return a == NULL ? (b == NULL ? 0 : -1) : 1;
	while (*a != '\0' && *b != '\0') {
		if (g_ascii_isdigit(*a) && g_ascii_isdigit(*b)) {
			const gchar *ea = a;
			const gchar *eb = b;
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			for (ea = a; g_ascii_isdigit(*ea); ea++)
				;
			for (eb = b; g_ascii_isdigit(*eb); eb++)
				;
			if (ea - a != eb - b)
				return ea - a < eb - b ? -1 : 1;
			for (; a < ea; a++, b++) {
				if (*a != *b)
					return *a < *b ? -1 : 1;
			}
			continue;
		}
		if (*a != *b)
			return (guchar)*a < (guchar)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a == '\0' ? (*b == '\0' ? 0 : -1) : 1;
}

static gint
usbpass_cli_tree_node_compare(gconstpointer pa, gconstpointer pb)
{
	const UsbpassCliTreeNode *a = *(UsbpassCliTreeNode *const *)pa;
	const UsbpassCliTreeNode *b = *(UsbpassCliTreeNode *const *)pb;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	return usbpass_cli_port_compare(a->port, b->port);
}

/* "Bus 001 usb1  1d6b:0002  Linux Foundation 2.0 root hub  [Hub]  480M" */
static gchar *
usbpass_cli_tree_label(JsonObject *device, UsbpassCliFormatFlags flags)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree gchar *port = usbpass_cli_json_safe(device, "port");
	g_autofree gchar *address = usbpass_cli_device_address(device);
	g_autofree gchar *vid_pid = usbpass_cli_device_vid_pid(device);
	g_autofree gchar *name = usbpass_cli_json_safe(device, "name");
	g_autofree gchar *class_name = usbpass_cli_json_safe(device, "class_name");
	g_autofree gchar *speed = usbpass_cli_json_safe(device, "speed");
	g_autofree gchar *state = usbpass_cli_json_safe(device, "state");
	g_autofree gchar *instance = usbpass_cli_device_instance(device);
	g_autofree gchar *error = usbpass_cli_json_safe(device, "error");
	guint64 bus = 0;

	if (usbpass_cli_json_is_true(device, "is_root_hub") &&
	    usbpass_cli_json_uint(device, "bus", 999, &bus))
		g_string_append_printf(out, "Bus %03u %s", (guint)bus, port != NULL ? port : "-");
	else
		g_string_append_printf(out,
		                       "Port %s  Dev %s",
		                       port != NULL ? port : "-",
		                       address != NULL ? address : "-");
	if (vid_pid != NULL)
		g_string_append_printf(out, "  %s", vid_pid);
	if (name != NULL) {
		g_autofree gchar *cut = (flags & USBPASS_CLI_FORMAT_WIDE)
		                          ? g_strdup(name)
		                          : usbpass_cli_truncate(name, 60);
		g_string_append_printf(out, "  %s", cut);
	}
	if (class_name != NULL)
		g_string_append_printf(out, "  [%s]", class_name);
	if (speed != NULL)
		g_string_append_printf(out, "  %sM", speed);
	if (!usbpass_cli_json_is_true(device, "present") &&
	    json_object_has_member(device, "present"))
		g_string_append(out, "  (not plugged in)");
	if (instance != NULL)
		g_string_append_printf(
		  out, "  \u2192 %s (%s)", instance, state != NULL ? state : "?");
	else if (state != NULL && g_strcmp0(state, "available") != 0)
		g_string_append_printf(out, "  (%s)", state);
	if (error != NULL)
		g_string_append_printf(out, "  error: %s", error);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* marks @node's descendants as shown, without recursion: a hostile answer may nest deep */
static void
usbpass_cli_tree_skip(UsbpassCliTreeNode *node)
{
	g_autoptr(GPtrArray) stack = g_ptr_array_new();
	g_ptr_array_add(stack, node);
	while (stack->len > 0) {
		UsbpassCliTreeNode *top = g_ptr_array_steal_index_fast(stack, stack->len - 1);
		for (guint i = 0; i < top->children->len; i++) {
			UsbpassCliTreeNode *child = g_ptr_array_index(top->children, i);
			if (!child->visited) {
				child->visited = TRUE;
				g_ptr_array_add(stack, child);
			}
		}
	}
}

static void
usbpass_cli_tree_render(GString *out,
                        UsbpassCliTreeNode *node,
                        const gchar *prefix,
                        gboolean last,
                        guint depth,
                        UsbpassCliFormatFlags flags)
{
	g_autofree gchar *label = NULL;
	g_autofree gchar *child_prefix = NULL;
	g_autoptr(GPtrArray) todo = g_ptr_array_new();

	node->visited = TRUE;
	label = usbpass_cli_tree_label(node->device, flags);
	g_string_append_printf(
	  out, "%s%s%s\n", prefix, last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ", label);
	child_prefix = g_strconcat(prefix, last ? "    " : "\u2502   ", NULL);

	/* a child seen before (a cycle in a hostile answer) is not followed again */
	for (guint i = 0; i < node->children->len; i++) {
		UsbpassCliTreeNode *child = g_ptr_array_index(node->children, i);
		if (!child->visited)
			g_ptr_array_add(todo, child);
	}
	if (depth >= USBPASS_CLI_TREE_MAX_DEPTH && todo->len > 0) {
		g_string_append_printf(
		  out, "%s\u2514\u2500\u2500 \u2026 (nested too deep)\n", child_prefix);
		usbpass_cli_tree_skip(node);
		return;
	}
	for (guint i = 0; i < todo->len; i++) {
		UsbpassCliTreeNode *child = g_ptr_array_index(todo, i);
		if (child->visited)
			continue;
		usbpass_cli_tree_render(
		  out, child, child_prefix, i + 1 == todo->len, depth + 1, flags);
	}
}

/* one top-level group: a controller, or a pseudo-group for loose devices */
typedef struct {
	gchar *key;       /* sort key: the PCI address, or "~..." for pseudo-groups (last) */
	gchar *title;     /* safe */
	GPtrArray *roots; /* of UsbpassCliTreeNode, borrowed */
} UsbpassCliTreeGroup;

static void
usbpass_cli_tree_group_free(UsbpassCliTreeGroup *group)
{
	g_free(group->key);
	g_free(group->title);
	g_ptr_array_unref(group->roots);
	g_free(group);
}

static gint
usbpass_cli_tree_group_compare(gconstpointer pa, gconstpointer pb)
{
	const UsbpassCliTreeGroup *a = *(UsbpassCliTreeGroup *const *)pa;
	const UsbpassCliTreeGroup *b = *(UsbpassCliTreeGroup *const *)pb;
	return g_strcmp0(a->key, b->key);
}

static UsbpassCliTreeGroup *
usbpass_cli_tree_group_get(GHashTable *groups, const gchar *key, const gchar *title)
{
	UsbpassCliTreeGroup *group = g_hash_table_lookup(groups, key);
	if (group == NULL) {
		group = g_new0(UsbpassCliTreeGroup, 1);
		group->key = g_strdup(key);
		group->title = g_strdup(title);
		group->roots = g_ptr_array_new();
		g_hash_table_insert(groups, group->key, group);
	}
	return group;
}

static void
usbpass_cli_tree_render_group(GString *out, UsbpassCliTreeGroup *group, UsbpassCliFormatFlags flags)
{
	guint n = 0;
	g_ptr_array_sort(group->roots, usbpass_cli_tree_node_compare);
	for (guint i = 0; i < group->roots->len; i++) {
		UsbpassCliTreeNode *root = g_ptr_array_index(group->roots, i);
		if (!root->visited)
			n++;
	}
	if (n == 0)
		return;
	g_string_append_printf(out, "%s\n", group->title);
	for (guint i = 0; i < group->roots->len; i++) {
		UsbpassCliTreeNode *root = g_ptr_array_index(group->roots, i);
		if (root->visited)
			continue;
		usbpass_cli_tree_render(out, root, "", --n == 0, 1, flags);
	}
}

/**
 * usbpass_cli_format_tree:
 * @answer: the reply of GET /v1/devices
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "devices" array
 *
 * Builds the topology from the "port", "parent_port" and "controller" members:
 * one block per PCI controller, its root hubs, the hubs and devices behind their
 * ports, like `lsusb -t` with names. Every device of @answer appears exactly
 * once: a device whose parent is not listed hangs off its controller, one not
 * plugged in (an assigned, missing device) goes to a block of its own, and one
 * that a cyclic answer leaves unreachable to a last block.
 *
 * Returns: (transfer full): the tree
 */
gchar *
usbpass_cli_format_tree(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) nodes = NULL;
	g_autoptr(GHashTable) by_port = NULL;
	g_autoptr(GHashTable) groups = NULL;
	g_autoptr(GPtrArray) sorted = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	UsbpassCliTreeGroup *leftover;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "devices", error);
	if (array == NULL)
		return NULL;
	devices = usbpass_cli_json_objects(array);
	nodes = g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_cli_tree_node_free);
	by_port = g_hash_table_new(g_str_hash, g_str_equal);
	groups = g_hash_table_new_full(
	  g_str_hash, g_str_equal, NULL, (GDestroyNotify)usbpass_cli_tree_group_free);

	for (guint i = 0; i < devices->len; i++) {
		UsbpassCliTreeNode *node = g_new0(UsbpassCliTreeNode, 1);
		node->device = g_ptr_array_index(devices, i);
		node->port = usbpass_cli_json_string(node->device, "port");
		node->parent_port = usbpass_cli_json_string(node->device, "parent_port");
		node->children = g_ptr_array_new();
		if (!usbpass_cli_json_uint(node->device, "bus", 999, &node->bus))
			node->bus = 0;
		g_ptr_array_add(nodes, node);
		/* the first device claims a port; a duplicate (a buggy server) is still shown */
		if (node->port != NULL && !g_hash_table_contains(by_port, node->port))
			g_hash_table_insert(by_port, (gpointer)node->port, node);
	}

	for (guint i = 0; i < nodes->len; i++) {
		UsbpassCliTreeNode *node = g_ptr_array_index(nodes, i);
		UsbpassCliTreeNode *parent = NULL;
		gboolean present = TRUE;

		if (node->parent_port != NULL)
			parent = g_hash_table_lookup(by_port, node->parent_port);
		if (parent != NULL && parent != node) {
			g_ptr_array_add(parent->children, node);
			continue;
		}
		if (usbpass_cli_json_bool(node->device, "present", &present) && !present) {
			UsbpassCliTreeGroup *missing = usbpass_cli_tree_group_get(
			  groups, "~1", "Not plugged in (assigned devices)");
			g_ptr_array_add(missing->roots, node);
			continue;
		}
		{
			g_autofree gchar *pci_address = NULL;
			g_autofree gchar *name = NULL;
			g_autofree gchar *title = NULL;
			UsbpassCliTreeGroup *group;

			usbpass_cli_device_controller(node->device, &pci_address, &name);
			if (pci_address != NULL) {
				title = g_strdup_printf("Controller %s%s%s",
				                        pci_address,
				                        name != NULL ? ": " : "",
				                        name != NULL ? name : "");
				group = usbpass_cli_tree_group_get(groups, pci_address, title);
			} else {
				group =
				  usbpass_cli_tree_group_get(groups, "~0", "Controller not on PCI");
			}
			g_ptr_array_add(group->roots, node);
		}
	}
	for (guint i = 0; i < nodes->len; i++) {
		UsbpassCliTreeNode *node = g_ptr_array_index(nodes, i);
		g_ptr_array_sort(node->children, usbpass_cli_tree_node_compare);
	}

	sorted = g_ptr_array_new();
	{
		GHashTableIter iter;
		gpointer value = NULL;
		g_hash_table_iter_init(&iter, groups);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			g_ptr_array_add(sorted, value);
	}
	g_ptr_array_sort(sorted, usbpass_cli_tree_group_compare);
	for (guint i = 0; i < sorted->len; i++)
		usbpass_cli_tree_render_group(out, g_ptr_array_index(sorted, i), flags);

	/* devices in a parent cycle were reached from no group */
	leftover = usbpass_cli_tree_group_get(groups, "~2", "Inconsistent topology (parent cycle)");
	for (guint i = 0; i < nodes->len; i++) {
		UsbpassCliTreeNode *node = g_ptr_array_index(nodes, i);
		if (!node->visited)
			g_ptr_array_add(leftover->roots, node);
	}
	if (leftover->roots->len > 0) {
		/* render each cycle member once: rendering one marks the rest visited */
		guint n = leftover->roots->len;
		g_string_append_printf(out, "%s\n", leftover->title);
		for (guint i = 0; i < n; i++) {
			UsbpassCliTreeNode *node = g_ptr_array_index(leftover->roots, i);
			if (!node->visited)
				usbpass_cli_tree_render(out, node, "", TRUE, 1, flags);
		}
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- one device ---- */

/**
 * usbpass_cli_format_device:
 * @device: a Device of docs/api.md
 *
 * Returns: (transfer full): "Key: value" lines for every known member
 */
gchar *
usbpass_cli_format_device(JsonObject *device)
{
	UsbpassCliPairs pairs;
	g_autofree gchar *address = NULL;
	g_autofree gchar *vid_pid = NULL;
	g_autofree gchar *pci_address = NULL;
	g_autofree gchar *controller_name = NULL;
	g_autofree gchar *controller = NULL;
	g_autofree gchar *speed = NULL;
	g_autofree gchar *instance = NULL;
	gboolean present = TRUE;

	g_return_val_if_fail(device != NULL, NULL);

	address = usbpass_cli_device_address(device);
	vid_pid = usbpass_cli_device_vid_pid(device);
	usbpass_cli_device_controller(device, &pci_address, &controller_name);
	if (pci_address != NULL)
		controller = g_strdup_printf("%s%s%s",
		                             pci_address,
		                             controller_name != NULL ? " " : "",
		                             controller_name != NULL ? controller_name : "");
	if (usbpass_cli_json_string(device, "speed") != NULL)
		speed = g_strdup_printf("%s Mb/s", usbpass_cli_json_string(device, "speed"));
	{
		g_autofree gchar *name = usbpass_cli_json_safe(device, "instance_name");
		g_autofree gchar *uuid = usbpass_cli_json_safe(device, "instance_uuid");
		if (name != NULL && uuid != NULL)
			instance = g_strdup_printf("%s (%s)", name, uuid);
		else
			instance = g_strdup(name != NULL ? name : uuid);
	}

	usbpass_cli_pairs_init(&pairs);
	usbpass_cli_pairs_add(&pairs, "ID", usbpass_cli_json_string(device, "id"));
	usbpass_cli_pairs_add(&pairs, "Name", usbpass_cli_json_string(device, "name"));
	usbpass_cli_pairs_add(&pairs, "Vendor:product", vid_pid);
	usbpass_cli_pairs_add(
	  &pairs, "Manufacturer", usbpass_cli_json_string(device, "manufacturer"));
	usbpass_cli_pairs_add(&pairs, "Product", usbpass_cli_json_string(device, "product"));
	usbpass_cli_pairs_add(&pairs, "Serial", usbpass_cli_json_string(device, "serial"));
	usbpass_cli_pairs_add(&pairs, "Bus:device", address);
	usbpass_cli_pairs_add(&pairs, "Port", usbpass_cli_json_string(device, "port"));
	usbpass_cli_pairs_add(
	  &pairs, "Parent port", usbpass_cli_json_string(device, "parent_port"));
	usbpass_cli_pairs_add(&pairs, "Class", usbpass_cli_json_string(device, "class_name"));
	usbpass_cli_pairs_add(&pairs, "Speed", speed);
	usbpass_cli_pairs_add(&pairs, "Controller", controller);
	usbpass_cli_pairs_add(&pairs, "Host", usbpass_cli_json_string(device, "host"));
	if (usbpass_cli_json_bool(device, "present", &present))
		usbpass_cli_pairs_add(&pairs, "Present", present ? "yes" : "no");
	usbpass_cli_pairs_add(&pairs, "State", usbpass_cli_json_string(device, "state"));
	usbpass_cli_pairs_add(&pairs, "Instance", instance);
	usbpass_cli_pairs_add(
	  &pairs, "State error", usbpass_cli_json_string(device, "state_error"));
	usbpass_cli_pairs_add(&pairs, "Updated", usbpass_cli_json_string(device, "updated"));
	usbpass_cli_pairs_add(&pairs, "Error", usbpass_cli_json_string(device, "error"));
	usbpass_cli_pairs_add(
	  &pairs, "Identity conflict", usbpass_cli_json_string(device, "id_conflict"));
	return usbpass_cli_pairs_render(&pairs);
}

/**
 * usbpass_cli_format_assignment:
 * @device: the Device answered by attach or detach
 * @attached: %TRUE after an attach, %FALSE after a detach
 * @instance: (nullable): the instance as known before a detach (the answer no
 * longer names it), untrusted
 *
 * Returns: (transfer full): one line such as "Attached 0781:5567:s:X (SanDisk
 * Cruzer Blade) to web01."
 */
gchar *
usbpass_cli_format_assignment(JsonObject *device, gboolean attached, const gchar *instance)
{
	g_autofree gchar *id = usbpass_cli_json_safe(device, "id");
	g_autofree gchar *name = usbpass_cli_json_safe(device, "name");
	g_autofree gchar *state = usbpass_cli_json_safe(device, "state");
	g_autofree gchar *target = usbpass_cli_device_instance(device);
	g_autoptr(GString) out = g_string_new(NULL);

	g_return_val_if_fail(device != NULL, NULL);

	if (target == NULL)
		target = usbpass_cli_safe(instance);
	g_string_append_printf(
	  out, "%s %s", attached ? "Attached" : "Detached", id != NULL ? id : "USB device");
	if (name != NULL)
		g_string_append_printf(out, " (%s)", name);
	if (target != NULL)
		g_string_append_printf(out, " %s %s", attached ? "to" : "from", target);
	g_string_append_c(out, '.');
	if (state != NULL && g_strcmp0(state, attached ? "attached" : "available") != 0)
		g_string_append_printf(out, " State: %s.", state);
	g_string_append_c(out, '\n');
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- instances ---- */

/**
 * usbpass_cli_format_instances:
 * @answer: the reply of GET /v1/instances
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "instances" array
 *
 * Returns: (transfer full): the table NAME UUID STATE DEVICES, one line per
 * device of an instance
 */
gchar *
usbpass_cli_format_instances(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	const gchar *headers[] = { "NAME", "UUID", "STATE", "DEVICES", NULL };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autoptr(GPtrArray) instances = NULL;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "instances", error);
	if (array == NULL)
		return NULL;
	instances = usbpass_cli_json_objects(array);
	usbpass_cli_table_set_max_width(table, 0, 32);
	usbpass_cli_table_set_max_width(table, 3, 72);
	for (guint i = 0; i < instances->len; i++) {
		JsonObject *instance = g_ptr_array_index(instances, i);
		JsonNode *devices_node = json_object_get_member(instance, "devices");
		g_autoptr(GPtrArray) devices = NULL;
		g_autofree gchar *state = usbpass_cli_json_safe(instance, "state");
		gboolean persistent = TRUE;

		if (usbpass_cli_json_bool(instance, "persistent", &persistent) && !persistent) {
			gchar *tmp = g_strdup_printf("%s (transient)", state != NULL ? state : "-");
			g_free(state);
			state = tmp;
		}
		if (devices_node != NULL && JSON_NODE_HOLDS_ARRAY(devices_node))
			devices = usbpass_cli_json_objects(json_node_get_array(devices_node));
		else
			devices = g_ptr_array_new();
		for (guint j = 0; j < MAX(devices->len, 1); j++) {
			g_autofree gchar *summary = NULL;
			if (j < devices->len) {
				JsonObject *device = g_ptr_array_index(devices, j);
				g_autofree gchar *id = usbpass_cli_json_safe(device, "id");
				g_autofree gchar *name = usbpass_cli_json_safe(device, "name");
				g_autofree gchar *state_now = NULL;

				state_now = usbpass_cli_json_safe(device, "state");
				summary = g_strdup_printf("%s %s (%s)",
				                          id != NULL ? id : "-",
				                          name != NULL ? name : "-",
				                          state_now != NULL ? state_now : "-");
			}
			if (j == 0) {
				const gchar *cells[] = {
					usbpass_cli_json_string(instance, "name"),
					usbpass_cli_json_string(instance, "uuid"),
					state,
					summary,
				};
				usbpass_cli_table_add_row(table, cells);
			} else {
				const gchar *cells[] = { NULL, NULL, NULL, summary };
				usbpass_cli_table_add_continuation(table, cells);
			}
		}
	}
	return usbpass_cli_table_render(table, flags);
}

/* ---- audit, tokens ---- */

/**
 * usbpass_cli_format_audit:
 * @answer: the reply of GET /v1/audit
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "entries" array
 *
 * Returns: (transfer full): the table ID TIME ACTOR ACTION DEVICE INSTANCE
 * OUTCOME MESSAGE, newest first as the server sent it
 */
gchar *
usbpass_cli_format_audit(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	const gchar *headers[] = { "ID",       "TIME",    "ACTOR",   "ACTION", "DEVICE",
		                   "INSTANCE", "OUTCOME", "MESSAGE", NULL };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autoptr(GPtrArray) entries = NULL;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "entries", error);
	if (array == NULL)
		return NULL;
	entries = usbpass_cli_json_objects(array);
	usbpass_cli_table_set_max_width(table, 2, 20);
	usbpass_cli_table_set_max_width(table, 4, 36);
	usbpass_cli_table_set_max_width(table, 5, 36);
	usbpass_cli_table_set_max_width(table, 7, 60);
	for (guint i = 0; i < entries->len; i++) {
		JsonObject *entry = g_ptr_array_index(entries, i);
		guint64 id = 0;
		g_autofree gchar *id_str = NULL;
		if (usbpass_cli_json_uint(entry, "id", G_MAXINT64, &id))
			id_str = g_strdup_printf("%" G_GUINT64_FORMAT, id);
		{
			const gchar *cells[] = {
				id_str,
				usbpass_cli_json_string(entry, "time"),
				usbpass_cli_json_string(entry, "actor"),
				usbpass_cli_json_string(entry, "action"),
				usbpass_cli_json_string(entry, "device_id"),
				usbpass_cli_json_string(entry, "instance_uuid"),
				usbpass_cli_json_string(entry, "outcome"),
				usbpass_cli_json_string(entry, "message"),
			};
			usbpass_cli_table_add_row(table, cells);
		}
	}
	return usbpass_cli_table_render(table, flags);
}

/**
 * usbpass_cli_format_tokens:
 * @answer: the reply of GET /v1/tokens
 * @flags: #UsbpassCliFormatFlags
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "tokens" array
 *
 * Returns: (transfer full): the table NAME ROLE CREATED LAST-USED
 */
gchar *
usbpass_cli_format_tokens(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	const gchar *headers[] = { "NAME", "ROLE", "CREATED", "LAST-USED", NULL };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autoptr(GPtrArray) tokens = NULL;
	JsonArray *array;

	g_return_val_if_fail(answer != NULL, NULL);

	array = usbpass_cli_json_reply_array(answer, "tokens", error);
	if (array == NULL)
		return NULL;
	tokens = usbpass_cli_json_objects(array);
	usbpass_cli_table_set_max_width(table, 0, 40);
	for (guint i = 0; i < tokens->len; i++) {
		JsonObject *token = g_ptr_array_index(tokens, i);
		const gchar *cells[] = {
			usbpass_cli_json_string(token, "name"),
			usbpass_cli_json_string(token, "role"),
			usbpass_cli_json_string(token, "created"),
			usbpass_cli_json_string(token, "last_used"),
		};
		usbpass_cli_table_add_row(table, cells);
	}
	return usbpass_cli_table_render(table, flags);
}

/**
 * usbpass_cli_format_token_created:
 * @answer: the reply of POST /v1/tokens
 * @error: (nullable): %USBPASS_ERROR_INVALID_DATA when there is no "token" string
 *
 * Returns: (transfer full): a sentence, then the secret alone on the last line
 */
gchar *
usbpass_cli_format_token_created(JsonObject *answer, GError **error)
{
	g_autofree gchar *name = NULL;
	g_autofree gchar *role = NULL;
	const gchar *secret;

	g_return_val_if_fail(answer != NULL, NULL);

	/* the secret is used verbatim in a header: only the characters a header allows */
	secret = usbpass_cli_json_string(answer, "token");
	for (const gchar *p = secret; p != NULL && *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			secret = NULL;
			break;
		}
	}
	if (secret == NULL || secret[0] == '\0') {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the answer of usbpassd has no usable \"token\"");
		return NULL;
	}
	name = usbpass_cli_json_safe(answer, "name");
	role = usbpass_cli_json_safe(answer, "role");
	return g_strdup_printf("Created token '%s' with role %s. Its secret is shown only this "
	                       "once:\n%s\n",
	                       name != NULL ? name : "-",
	                       role != NULL ? role : "-",
	                       secret);
}

/* ---- policy, host ---- */

/**
 * usbpass_cli_format_policy:
 * @answer: the reply of GET /v1/policy
 *
 * Returns: (transfer full): whether passthrough is enabled, then the rules numbered
 */
gchar *
usbpass_cli_format_policy(JsonObject *answer)
{
	g_autoptr(GString) out = g_string_new(NULL);
	JsonNode *rules_node;
	gboolean enabled = FALSE;
	guint n = 0;

	g_return_val_if_fail(answer != NULL, NULL);

	if (usbpass_cli_json_bool(answer, "enabled", &enabled))
		g_string_append_printf(out, "Passthrough: %s\n", enabled ? "enabled" : "disabled");
	rules_node = json_object_get_member(answer, "rules");
	if (rules_node != NULL && JSON_NODE_HOLDS_ARRAY(rules_node)) {
		JsonArray *rules = json_node_get_array(rules_node);
		g_string_append(out, "Rules:\n");
		for (guint i = 0; i < json_array_get_length(rules); i++) {
			JsonNode *rule = json_array_get_element(rules, i);
			g_autofree gchar *safe = NULL;
			if (!JSON_NODE_HOLDS_VALUE(rule) ||
			    json_node_get_value_type(rule) != G_TYPE_STRING)
				continue;
			safe = usbpass_cli_safe(json_node_get_string(rule));
			if (safe != NULL)
				g_string_append_printf(out, "  %3u  %s\n", ++n, safe);
		}
		if (n == 0)
			g_string_append(out, "  (none)\n");
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * usbpass_cli_format_policy_check:
 * @answer: the reply of GET /v1/devices/{device}/policy
 *
 * Returns: (transfer full): "Allowed: yes", the rule and the reason
 */
gchar *
usbpass_cli_format_policy_check(JsonObject *answer)
{
	UsbpassCliPairs pairs;
	gboolean allowed = FALSE;

	g_return_val_if_fail(answer != NULL, NULL);

	usbpass_cli_pairs_init(&pairs);
	if (usbpass_cli_json_bool(answer, "allowed", &allowed))
		usbpass_cli_pairs_add(&pairs, "Allowed", allowed ? "yes" : "no");
	usbpass_cli_pairs_add(&pairs, "Rule", usbpass_cli_json_string(answer, "rule"));
	usbpass_cli_pairs_add(&pairs, "Reason", usbpass_cli_json_string(answer, "reason"));
	return usbpass_cli_pairs_render(&pairs);
}

/**
 * usbpass_cli_format_host:
 * @answer: the reply of GET /v1/host
 *
 * Returns: (transfer full): "Key: value" lines
 */
gchar *
usbpass_cli_format_host(JsonObject *answer)
{
	UsbpassCliPairs pairs;
	g_autofree gchar *driver = NULL;
	g_autofree gchar *devices = NULL;
	gboolean enabled = FALSE;
	gboolean connected = FALSE;
	guint64 n_devices = 0;

	g_return_val_if_fail(answer != NULL, NULL);

	if (usbpass_cli_json_string(answer, "driver") != NULL) {
		const gchar *suffix = "";
		if (usbpass_cli_json_bool(answer, "driver_connected", &connected))
			suffix = connected ? " (connected)" : " (not connected)";
		driver = g_strdup_printf("%s%s", usbpass_cli_json_string(answer, "driver"), suffix);
	}
	if (usbpass_cli_json_uint(answer, "devices", G_MAXINT64, &n_devices))
		devices = g_strdup_printf("%" G_GUINT64_FORMAT, n_devices);

	usbpass_cli_pairs_init(&pairs);
	usbpass_cli_pairs_add(&pairs, "Host", usbpass_cli_json_string(answer, "host"));
	usbpass_cli_pairs_add(&pairs, "Version", usbpass_cli_json_string(answer, "version"));
	if (usbpass_cli_json_bool(answer, "enabled", &enabled))
		usbpass_cli_pairs_add(&pairs, "Passthrough", enabled ? "enabled" : "disabled");
	usbpass_cli_pairs_add(&pairs, "Driver", driver);
	usbpass_cli_pairs_add(&pairs, "Store", usbpass_cli_json_string(answer, "store"));
	usbpass_cli_pairs_add(&pairs, "Devices", devices);
	return usbpass_cli_pairs_render(&pairs);
}

/* ---- events ---- */

/* "<id> <port> <name>" of a device, absent parts as "-" */
static gchar *
usbpass_cli_event_device(JsonObject *device)
{
	g_autofree gchar *id = usbpass_cli_json_safe(device, "id");
	g_autofree gchar *port = usbpass_cli_json_safe(device, "port");
	g_autofree gchar *name = usbpass_cli_json_safe(device, "name");
	return g_strdup_printf(
	  "%s %s %s", id != NULL ? id : "-", port != NULL ? port : "-", name != NULL ? name : "-");
}

/**
 * usbpass_cli_format_event:
 * @event: the event name
 * @data: its data
 *
 * "inventory" events give "added 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade"
 * (with " (replugged)" for a re-plug), "state" events the new state first:
 * "attached 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade -> web01", and
 * ": <message>" for a failure.
 *
 * Returns: (transfer full) (nullable): one line ending in '\n', or %NULL for an
 * event name this CLI does not know or data of the wrong shape
 */
gchar *
usbpass_cli_format_event(const gchar *event, JsonNode *data)
{
	JsonObject *obj;

	g_return_val_if_fail(event != NULL, NULL);
	g_return_val_if_fail(data != NULL, NULL);

	if (!JSON_NODE_HOLDS_OBJECT(data))
		return NULL;
	obj = json_node_get_object(data);
	if (g_strcmp0(event, "inventory") == 0) {
		JsonObject *device = usbpass_cli_json_object(obj, "device");
		g_autofree gchar *kind = usbpass_cli_json_safe(obj, "kind");
		g_autofree gchar *what = NULL;
		if (device == NULL || kind == NULL)
			return NULL;
		what = usbpass_cli_event_device(device);
		gboolean replugged = usbpass_cli_json_is_true(obj, "replugged");
		return g_strdup_printf("%s %s%s\n", kind, what, replugged ? " (replugged)" : "");
	}
	if (g_strcmp0(event, "state") == 0) {
		g_autofree gchar *state = usbpass_cli_json_safe(obj, "state");
		g_autofree gchar *instance = usbpass_cli_device_instance(obj);
		g_autofree gchar *message = usbpass_cli_json_safe(obj, "state_error");
		g_autofree gchar *what = usbpass_cli_event_device(obj);
		g_autoptr(GString) out = g_string_new(NULL);
		g_string_append_printf(out, "%s %s", state != NULL ? state : "state", what);
		if (instance != NULL)
			g_string_append_printf(out, " \u2192 %s", instance);
		if (message != NULL)
			g_string_append_printf(out, ": %s", message);
		g_string_append_c(out, '\n');
		return g_string_free(g_steal_pointer(&out), FALSE);
	}
	return NULL;
}

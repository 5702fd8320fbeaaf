/*
 * usbpass-api-json.c: the JSON objects of the REST API (docs/api.md)
 */
#define G_LOG_DOMAIN "UsbpassApi"

#include "config.h"

#include <string.h>

#include "inventory/usbpass-device-json.h"
#include "usbpass-api-json.h"
#include "usbpass-error.h"
#include "usbpass-string.h"

/**
 * usbpass_api_json_time:
 * @usec: wall-clock microseconds since the epoch; 0 or less for "never"
 *
 * Returns: (transfer full) (nullable): ISO 8601 in UTC, %NULL for @usec <= 0
 */
gchar *
usbpass_api_json_time(gint64 usec)
{
	g_autoptr(GDateTime) seconds = NULL;
	g_autoptr(GDateTime) dt = NULL;

	if (usec <= 0)
		return NULL;
	seconds = g_date_time_new_from_unix_utc(usec / G_USEC_PER_SEC);
	if (seconds == NULL)
		return NULL;
	dt = g_date_time_add(seconds, usec % G_USEC_PER_SEC);
	if (dt == NULL)
		return NULL;
	return g_date_time_format_iso8601(dt);
}

static void
usbpass_api_json_add_string_or_null(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static void
usbpass_api_json_add_hex16(JsonBuilder *builder, const gchar *name, guint16 value)
{
	gchar buf[5];
	g_snprintf(buf, sizeof(buf), "%04x", value);
	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, buf);
}

/**
 * usbpass_api_json_add_device:
 * @builder: where the object goes
 * @host: this host, when @record does not name one
 * @device: (nullable): the inventory's record, %NULL when not plugged in
 * @record: (nullable): the row of host_usb_devices, %NULL when never recorded
 * @present: whether the device is plugged in (FALSE for a removed @device)
 *
 * Writes a Device object: every field of the inventory (docs/inventory-json.md)
 * when @device is present, else the few fields the store knows, and then the
 * assignment fields host, present, state, instance_uuid, instance_name,
 * state_error and updated.
 */
void
usbpass_api_json_add_device(JsonBuilder *builder,
                            const gchar *host,
                            const UsbpassDevice *device,
                            const UsbpassStoreDevice *record,
                            gboolean present)
{
	g_autofree gchar *updated = NULL;
	UsbpassDeviceState state = USBPASS_DEVICE_STATE_AVAILABLE;

	g_return_if_fail(JSON_IS_BUILDER(builder));
	g_return_if_fail(host != NULL);

	json_builder_begin_object(builder);
	if (device != NULL) {
		usbpass_device_to_json(device, builder);
	} else if (record != NULL) {
		/* an absent device: only what the store remembers is known */
		usbpass_api_json_add_string_or_null(builder, "id", record->device_id);
		json_builder_set_member_name(builder, "bus");
		json_builder_add_int_value(builder, record->bus);
		json_builder_set_member_name(builder, "device");
		json_builder_add_int_value(builder, record->device);
		usbpass_api_json_add_string_or_null(builder, "port", record->port);
		usbpass_api_json_add_hex16(builder, "vendor_id", record->vendor_id);
		usbpass_api_json_add_hex16(builder, "product_id", record->product_id);
		usbpass_api_json_add_string_or_null(builder, "name", record->name);
		usbpass_api_json_add_string_or_null(builder, "serial", record->serial);
	}

	if (record != NULL && record->state < USBPASS_DEVICE_STATE_LAST)
		state = record->state;
	else if (device == NULL)
		state = USBPASS_DEVICE_STATE_MISSING;
	usbpass_api_json_add_string_or_null(
	  builder, "host", record != NULL && record->host != NULL ? record->host : host);
	json_builder_set_member_name(builder, "present");
	json_builder_add_boolean_value(builder, present);
	json_builder_set_member_name(builder, "state");
	json_builder_add_string_value(builder, usbpass_device_state_to_string(state));
	usbpass_api_json_add_string_or_null(
	  builder, "instance_uuid", record != NULL ? record->instance_uuid : NULL);
	usbpass_api_json_add_string_or_null(
	  builder, "instance_name", record != NULL ? record->instance_name : NULL);
	usbpass_api_json_add_string_or_null(
	  builder, "state_error", record != NULL ? record->error : NULL);
	if (record != NULL)
		updated = usbpass_api_json_time(record->updated_usec);
	usbpass_api_json_add_string_or_null(builder, "updated", updated);
	json_builder_end_object(builder);
}

/**
 * usbpass_api_json_add_engine_device:
 * @builder: where the object goes
 * @host: this host
 * @device: the engine's view of one device
 *
 * Writes the Device object of @device, see usbpass_api_json_add_device().
 */
void
usbpass_api_json_add_engine_device(JsonBuilder *builder,
                                   const gchar *host,
                                   const UsbpassEngineDevice *device)
{
	g_return_if_fail(device != NULL);
	usbpass_api_json_add_device(
	  builder, host, device->device, device->record, device->device != NULL);
}

/**
 * usbpass_api_json_device_list_to_bytes:
 * @host: this host
 * @generation: the "generation" member
 * @devices: (element-type UsbpassEngineDevice): the devices to list
 *
 * Serialises {"generation": N, "devices": [Device…]} one device at a time:
 * the tree of a 1,000-device listing would be ~10 MB at once, which GLib
 * 2.74's slice allocator keeps for good once freed; one small tree per
 * device, each written by json-glib, keeps the daemon's heap flat.
 *
 * Returns: (transfer full): the JSON text
 */
GBytes *
usbpass_api_json_device_list_to_bytes(const gchar *host, gint64 generation, GPtrArray *devices)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(GString) out = NULL;

	g_return_val_if_fail(host != NULL, NULL);
	g_return_val_if_fail(devices != NULL, NULL);

	out = g_string_sized_new(64 + (gsize)devices->len * 1536);
	g_string_append_printf(
	  out, "{\"generation\":%" G_GINT64_FORMAT ",\"devices\":[", generation);
	for (guint i = 0; i < devices->len; i++) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		g_autoptr(JsonNode) root = NULL;
		usbpass_api_json_add_engine_device(builder, host, g_ptr_array_index(devices, i));
		root = json_builder_get_root(builder);
		json_generator_set_root(generator, root);
		if (i > 0)
			g_string_append_c(out, ',');
		json_generator_to_gstring(generator, out);
	}
	g_string_append(out, "]}");
	return g_string_free_to_bytes(g_steal_pointer(&out));
}

/**
 * usbpass_api_json_add_instance:
 * @builder: where the object goes
 * @host: this host
 * @instance: the instance
 * @inventory: the live inventory, to tell which of @records are plugged in
 * @records: (element-type UsbpassStoreDevice) (nullable): the rows assigned to it
 *
 * Writes an Instance object.
 */
void
usbpass_api_json_add_instance(JsonBuilder *builder,
                              const gchar *host,
                              const UsbpassInstance *instance,
                              UsbpassInventory *inventory,
                              GPtrArray *records)
{
	g_return_if_fail(JSON_IS_BUILDER(builder));
	g_return_if_fail(instance != NULL);
	g_return_if_fail(USBPASS_IS_INVENTORY(inventory));

	json_builder_begin_object(builder);
	usbpass_api_json_add_string_or_null(builder, "uuid", instance->uuid);
	usbpass_api_json_add_string_or_null(builder, "name", instance->name);
	json_builder_set_member_name(builder, "state");
	json_builder_add_string_value(builder, usbpass_instance_state_to_string(instance->state));
	json_builder_set_member_name(builder, "persistent");
	json_builder_add_boolean_value(builder, instance->persistent);
	json_builder_set_member_name(builder, "devices");
	json_builder_begin_array(builder);
	for (guint i = 0; records != NULL && i < records->len; i++) {
		const UsbpassStoreDevice *record = g_ptr_array_index(records, i);
		g_autoptr(UsbpassDevice) device = NULL;
		if (record->device_id != NULL)
			device = usbpass_inventory_find_by_id(inventory, record->device_id, NULL);
		usbpass_api_json_add_device(builder, host, device, record, device != NULL);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
}

/**
 * usbpass_api_json_add_audit_entry:
 * @builder: where the object goes
 * @entry: one line of the audit log
 *
 * Writes an Audit entry object.
 */
void
usbpass_api_json_add_audit_entry(JsonBuilder *builder, const UsbpassAuditEntry *entry)
{
	g_autofree gchar *time = NULL;

	g_return_if_fail(JSON_IS_BUILDER(builder));
	g_return_if_fail(entry != NULL);

	time = usbpass_api_json_time(entry->created_usec);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_int_value(builder, entry->id);
	usbpass_api_json_add_string_or_null(builder, "time", time);
	usbpass_api_json_add_string_or_null(builder, "host", entry->host);
	usbpass_api_json_add_string_or_null(builder, "actor", entry->actor);
	usbpass_api_json_add_string_or_null(builder, "action", entry->action);
	usbpass_api_json_add_string_or_null(builder, "device_id", entry->device_id);
	usbpass_api_json_add_string_or_null(builder, "instance_uuid", entry->instance_uuid);
	usbpass_api_json_add_string_or_null(builder, "outcome", entry->outcome);
	usbpass_api_json_add_string_or_null(builder, "message", entry->message);
	json_builder_end_object(builder);
}

/**
 * usbpass_api_json_add_token:
 * @builder: where the object goes
 * @token: a stored token
 *
 * Writes the public part of @token: name, role, created and last_used; never
 * its hash.
 */
void
usbpass_api_json_add_token(JsonBuilder *builder, const UsbpassToken *token)
{
	g_autofree gchar *created = NULL;
	g_autofree gchar *last_used = NULL;

	g_return_if_fail(JSON_IS_BUILDER(builder));
	g_return_if_fail(token != NULL);

	created = usbpass_api_json_time(token->created_usec);
	last_used = usbpass_api_json_time(token->last_used_usec);
	json_builder_begin_object(builder);
	usbpass_api_json_add_string_or_null(builder, "name", token->name);
	usbpass_api_json_add_string_or_null(
	  builder, "role", usbpass_token_role_to_string(token->role));
	usbpass_api_json_add_string_or_null(builder, "created", created);
	usbpass_api_json_add_string_or_null(builder, "last_used", last_used);
	json_builder_end_object(builder);
}

/**
 * usbpass_api_json_add_verdict:
 * @builder: where the object goes
 * @verdict: a policy verdict
 *
 * Writes {"allowed", "rule", "reason"}.
 */
void
usbpass_api_json_add_verdict(JsonBuilder *builder, const UsbpassPolicyVerdict *verdict)
{
	g_return_if_fail(JSON_IS_BUILDER(builder));
	g_return_if_fail(verdict != NULL);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "allowed");
	json_builder_add_boolean_value(builder, verdict->allowed);
	usbpass_api_json_add_string_or_null(builder, "rule", verdict->rule);
	usbpass_api_json_add_string_or_null(builder, "reason", verdict->reason);
	json_builder_end_object(builder);
}

/**
 * usbpass_api_json_to_bytes:
 * @builder: a builder holding one complete value
 *
 * Returns: (transfer full): the compact JSON text, without a trailing NUL
 */
GBytes *
usbpass_api_json_to_bytes(JsonBuilder *builder)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	gchar *text;
	gsize length = 0;

	g_return_val_if_fail(JSON_IS_BUILDER(builder), NULL);

	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, &length);
	return g_bytes_new_take(text, length);
}

/**
 * usbpass_api_json_error_new:
 * @code: the error code
 * @message: (nullable): the human message
 *
 * Returns: (transfer full): {"error": {"code": ..., "message": ...}}
 */
GBytes *
usbpass_api_json_error_new(UsbpassError code, const gchar *message)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "error");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "code");
	json_builder_add_string_value(builder, usbpass_error_to_string(code));
	json_builder_set_member_name(builder, "message");
	json_builder_add_string_value(builder,
	                              message != NULL ? message : usbpass_error_to_string(code));
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	return usbpass_api_json_to_bytes(builder);
}

/* the bytes strict JSON may hold outside double-quoted strings */
static gboolean
usbpass_api_json_is_strict_byte(gchar c)
{
	return c != '\0' && (g_ascii_isalnum(c) || strchr(" \t\r\n{}[],:+-.", c) != NULL);
}

/* the UTF-16 code unit of a "\\uXXXX" at data[at], if one is there */
static gboolean
usbpass_api_json_get_unit(const gchar *data, gsize length, gsize at, guint *unit)
{
	guint value = 0;
	if (at + 5 >= length || data[at] != '\\' || data[at + 1] != 'u')
		return FALSE;
	for (gsize k = at + 2; k < at + 6; k++) {
		if (!g_ascii_isxdigit(data[k]))
			return FALSE;
		value = value * 16 + (guint)g_ascii_xdigit_value(data[k]);
	}
	*unit = value;
	return TRUE;
}

/* the escape at data[*i] ('\\'), leaving *i on its last byte: json-glib 1.6
 * also takes GScanner's octal escapes ("\\615") and lone UTF-16 surrogates
 * ("\\ud800"), which make invalid UTF-8, and keeps unknown ones; strict JSON
 * has only these, a surrogate only as half of a pair */
static gboolean
usbpass_api_json_check_escape(const gchar *data, gsize length, gsize *i, GError **error)
{
	guint unit = 0;
	guint low = 0;
	gsize len = 0;

	if (*i + 1 < length && data[*i + 1] != '\0' && strchr("\"\\/bfnrt", data[*i + 1]) != NULL)
		len = 1;
	else if (usbpass_api_json_get_unit(data, length, *i, &unit) &&
	         (unit < 0xd800 || unit > 0xdfff))
		len = 5;
	else if (unit >= 0xd800 && unit <= 0xdbff &&
	         usbpass_api_json_get_unit(data, length, *i + 6, &low) && low >= 0xdc00 &&
	         low <= 0xdfff)
		len = 11;
	if (len == 0) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "request body is not strict JSON: a string holds an escape "
		                    "other than \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, or half "
		                    "of a surrogate pair");
		return FALSE;
	}
	*i += len;
	return TRUE;
}

/**
 * usbpass_api_json_check_depth:
 * @data: JSON text
 * @length: its length in bytes
 * @max_depth: the deepest nesting of arrays and objects allowed
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when nested deeper
 *
 * json-glib parses recursively; a body of 64 KiB of '[' would exhaust the stack
 * of a sanitizer build. This counts brackets outside strings. json-glib 1.6
 * also accepts single-quoted strings and comments, which this count would not
 * see into, so outside double-quoted strings only the bytes of strict JSON
 * (structure, whitespace, numbers and literals) pass, and inside them only the
 * escapes of strict JSON (json-glib would also take octal ones, which can make
 * invalid UTF-8); anything else fails with "request body is not strict JSON".
 * It is not a validator: the parser still sees everything that passes.
 *
 * Returns: %TRUE when @data is strict JSON text nested at most @max_depth deep
 */
gboolean
usbpass_api_json_check_depth(const gchar *data, gsize length, guint max_depth, GError **error)
{
	guint depth = 0;
	gboolean in_string = FALSE;

	g_return_val_if_fail(data != NULL || length == 0, FALSE);

	for (gsize i = 0; i < length; i++) {
		gchar c = data[i];
		if (in_string) {
			if (c == '\\' && !usbpass_api_json_check_escape(data, length, &i, error))
				return FALSE;
			else if (c == '"')
				in_string = FALSE;
			continue;
		}
		if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				g_set_error(error,
				            USBPASS_ERROR,
				            USBPASS_ERROR_INVALID_DATA,
				            "the JSON body is nested deeper than %u levels",
				            max_depth);
				return FALSE;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		} else if (!usbpass_api_json_is_strict_byte(c)) {
			/* a ' string or a comment would hide brackets from this count */
			g_set_error_literal(error,
			                    USBPASS_ERROR,
			                    USBPASS_ERROR_INVALID_DATA,
			                    "request body is not strict JSON");
			return FALSE;
		}
	}
	return TRUE;
}

/**
 * usbpass_api_json_parse_object:
 * @data: an untrusted request body
 * @length: its length in bytes
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when @data is not one JSON
 *   object of at most %USBPASS_API_BODY_MAX_BYTES in UTF-8
 *
 * Returns: (transfer full): the object
 */
JsonObject *
usbpass_api_json_parse_object(const gchar *data, gsize length, GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) error_local = NULL;
	JsonNode *root;

	if (data == NULL || length == 0) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the request needs a JSON body");
		return NULL;
	}
	if (length > USBPASS_API_BODY_MAX_BYTES) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the JSON body is larger than %u bytes",
		            (guint)USBPASS_API_BODY_MAX_BYTES);
		return NULL;
	}
	if (!g_utf8_validate(data, (gssize)length, NULL)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the JSON body is not valid UTF-8");
		return NULL;
	}
	if (!usbpass_api_json_check_depth(data, length, USBPASS_API_JSON_MAX_DEPTH, error))
		return NULL;

	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, data, (gssize)length, &error_local)) {
		g_autofree gchar *shown = usbpass_string_sanitize(error_local->message, -1, 256);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the body is not JSON: %s",
		            shown != NULL ? shown : "parse error");
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the JSON body must be an object");
		return NULL;
	}
	return json_node_dup_object(root);
}

/**
 * usbpass_api_json_get_string:
 * @object: a parsed request body
 * @member: the member's name
 * @required: whether a missing member is an error
 * @value: (out) (transfer none): the string, owned by @object; %NULL when
 *   absent and not required
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when missing (and required)
 *   or not a string
 *
 * Returns: %TRUE on success
 */
gboolean
usbpass_api_json_get_string(JsonObject *object,
                            const gchar *member,
                            gboolean required,
                            const gchar **value,
                            GError **error)
{
	JsonNode *node;

	g_return_val_if_fail(object != NULL, FALSE);
	g_return_val_if_fail(member != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);

	node = json_object_get_member(object, member);
	if (node == NULL) {
		if (required) {
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "the member '%s' is missing",
			            member);
			return FALSE;
		}
		*value = NULL;
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "the member '%s' must be a string",
		            member);
		return FALSE;
	}
	*value = json_node_get_string(node);
	return TRUE;
}

/**
 * usbpass_api_json_check_members:
 * @object: a parsed request body
 * @allowed: (array zero-terminated=1): the member names the request knows
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA naming the first other member
 *
 * A misspelt member is an error rather than silently ignored.
 *
 * Returns: %TRUE when @object has no other members
 */
gboolean
usbpass_api_json_check_members(JsonObject *object, const gchar *const *allowed, GError **error)
{
	g_autoptr(GList) members = NULL;

	g_return_val_if_fail(object != NULL, FALSE);
	g_return_val_if_fail(allowed != NULL, FALSE);

	members = json_object_get_members(object);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		if (!g_strv_contains(allowed, name)) {
			g_autofree gchar *shown = usbpass_string_sanitize(name, -1, 64);
			g_set_error(error,
			            USBPASS_ERROR,
			            USBPASS_ERROR_INVALID_DATA,
			            "the member '%s' is unknown",
			            shown != NULL ? shown : "");
			return FALSE;
		}
	}
	return TRUE;
}

/*
 * usbpass-json-guard.c: the one gate untrusted JSON text passes through
 */
#define G_LOG_DOMAIN "UsbpassJson"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "usbpass-error.h"
#include "usbpass-json-guard.h"
#include "usbpass-string.h"

/* the longest member name or token quoted in a message, in bytes */
#define USBPASS_JSON_GUARD_SHOWN_BYTES 64

static gboolean
usbpass_json_guard_fail(GError **error, gsize offset, const gchar *format, ...) G_GNUC_PRINTF(3, 4);

static gboolean
usbpass_json_guard_fail(GError **error, gsize offset, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *reason = NULL;

	va_start(args, format);
	reason = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_INVALID_DATA,
	            "the JSON text is not strict JSON: %s at byte %" G_GSIZE_FORMAT,
	            reason,
	            offset);
	return FALSE;
}

/* the bytes of numbers and of the literals true, false and null */
static gboolean
usbpass_json_guard_is_token_byte(gchar c)
{
	return g_ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
}

static gsize
usbpass_json_guard_skip_digits(const gchar *token, gsize length, gsize i)
{
	while (i < length && g_ascii_isdigit(token[i]))
		i++;
	return i;
}

/* RFC 8259 section 6; json-glib also takes 0x10, 01, .5 and 1. */
static gboolean
usbpass_json_guard_is_number(const gchar *token, gsize length)
{
	gsize i = 0;
	gsize start;

	if (i < length && token[i] == '-')
		i++;
	if (i < length && token[i] == '0') {
		i++;
	} else {
		start = i;
		i = usbpass_json_guard_skip_digits(token, length, i);
		if (i == start)
			return FALSE;
	}
	if (i < length && token[i] == '.') {
		start = ++i;
		i = usbpass_json_guard_skip_digits(token, length, i);
		if (i == start)
			return FALSE;
	}
	if (i < length && (token[i] == 'e' || token[i] == 'E')) {
		i++;
		if (i < length && (token[i] == '+' || token[i] == '-'))
			i++;
		start = i;
		i = usbpass_json_guard_skip_digits(token, length, i);
		if (i == start)
			return FALSE;
	}
	return i == length;
}

static gboolean
usbpass_json_guard_check_token(const gchar *data, gsize start, gsize end, GError **error)
{
	const gchar *token = data + start;
	gsize length = end - start;
	g_autofree gchar *shown = NULL;

	if ((length == 4 && memcmp(token, "true", 4) == 0) ||
	    (length == 5 && memcmp(token, "false", 5) == 0) ||
	    (length == 4 && memcmp(token, "null", 4) == 0) ||
	    usbpass_json_guard_is_number(token, length))
		return TRUE;
	shown = usbpass_string_sanitize(token, (gssize)length, USBPASS_JSON_GUARD_SHOWN_BYTES);
	return usbpass_json_guard_fail(
	  error, start, "'%s' is not a number, true, false or null", shown != NULL ? shown : "");
}

/* four hex digits at data[i]; FALSE when fewer */
static gboolean
usbpass_json_guard_read_hex4(const gchar *data, gsize length, gsize i, guint *value)
{
	guint v = 0;

	if (i + 4 > length)
		return FALSE;
	for (gsize j = i; j < i + 4; j++) {
		gint digit = g_ascii_xdigit_value(data[j]);
		if (digit < 0)
			return FALSE;
		v = (v << 4) | (guint)digit;
	}
	*value = v;
	return TRUE;
}

/* the escape at data[i] == '\\' inside a string; *next is its last byte */
static gboolean
usbpass_json_guard_check_escape(const gchar *data,
                                gsize length,
                                gsize i,
                                gsize *next,
                                GError **error)
{
	guint unit = 0;
	guint low = 0;

	if (i + 1 >= length)
		return usbpass_json_guard_fail(error, i, "the text ends inside an escape");
	switch (data[i + 1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		*next = i + 1;
		return TRUE;
	case 'u':
		break;
	default:
		/* json-glib would keep the character and drop the backslash */
		if (g_ascii_isprint(data[i + 1]))
			return usbpass_json_guard_fail(
			  error, i, "'\\%c' is not a JSON escape", data[i + 1]);
		return usbpass_json_guard_fail(
		  error, i, "a backslash escapes a non-printable byte");
	}
	if (!usbpass_json_guard_read_hex4(data, length, i + 2, &unit))
		return usbpass_json_guard_fail(error, i, "a \\u escape needs four hex digits");
	/* json-glib would end the string there, after the checks saw all of it */
	if (unit == 0)
		return usbpass_json_guard_fail(error, i, "a string holds an escaped NUL (\\u0000)");
	if (unit >= 0xdc00 && unit <= 0xdfff)
		return usbpass_json_guard_fail(
		  error, i, "a string holds a lone low surrogate (\\u%04x)", unit);
	if (unit >= 0xd800 && unit <= 0xdbff) {
		if (i + 7 >= length || data[i + 6] != '\\' || data[i + 7] != 'u' ||
		    !usbpass_json_guard_read_hex4(data, length, i + 8, &low) || low < 0xdc00 ||
		    low > 0xdfff)
			return usbpass_json_guard_fail(
			  error, i, "a string holds a lone high surrogate (\\u%04x)", unit);
		*next = i + 11;
		return TRUE;
	}
	*next = i + 5;
	return TRUE;
}

/**
 * usbpass_json_guard_check:
 * @data: (nullable): untrusted JSON text, not necessarily NUL-terminated
 * @length: its length in bytes
 * @max_depth: the deepest nesting of arrays and objects allowed
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA naming the reason
 *
 * The part of the guard that reads bytes, before any parser sees them: UTF-8
 * without a byte order mark; outside strings only structure, whitespace,
 * numbers and the three literals, and after the first value only whitespace;
 * inside strings no control characters and only the escapes of RFC 8259, none
 * of them \u0000 or a lone surrogate; nested at most @max_depth deep (json-glib
 * recurses once per level: 64 KiB of '[' overflow a sanitizer build's stack).
 * It does not check the grammar (a ',' in the wrong place): the parser does.
 * Duplicate member names need the parser: see usbpass_json_guard_parse().
 *
 * Returns: %TRUE when @data passes
 */
gboolean
usbpass_json_guard_check(const gchar *data, gsize length, guint max_depth, GError **error)
{
	guint depth = 0;
	gboolean in_string = FALSE;
	gboolean root_done = FALSE;
	gssize token_start = -1;

	g_return_val_if_fail(data != NULL || length == 0, FALSE);

	if (length >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		return usbpass_json_guard_fail(error, 0, "the text starts with a byte order mark");
	for (gsize i = 0; i < length; i++) {
		gchar c = data[i];

		if (in_string) {
			if (c == '"') {
				in_string = FALSE;
				root_done = depth == 0;
			} else if (c == '\\') {
				if (!usbpass_json_guard_check_escape(data, length, i, &i, error))
					return FALSE;
			} else if ((guchar)c < 0x20) {
				return usbpass_json_guard_fail(
				  error, i, "a string holds the control byte 0x%02x", (guchar)c);
			}
			continue;
		}
		if (usbpass_json_guard_is_token_byte(c)) {
			if (token_start < 0) {
				if (root_done)
					return usbpass_json_guard_fail(
					  error, i, "a second value follows the first");
				token_start = (gssize)i;
			}
			continue;
		}
		if (token_start >= 0) {
			if (!usbpass_json_guard_check_token(data, (gsize)token_start, i, error))
				return FALSE;
			token_start = -1;
			root_done = depth == 0;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (strchr("\"[]{},:", c) == NULL || c == '\0') {
			/* a ' string or a comment would hide brackets from the count */
			return usbpass_json_guard_fail(
			  error,
			  i,
			  "a comment, a single-quoted string or a byte outside JSON's syntax");
		}
		if (root_done && (c == ']' || c == '}'))
			return usbpass_json_guard_fail(error, i, "'%c' closes nothing", c);
		if (root_done)
			return usbpass_json_guard_fail(
			  error, i, "a second value follows the first");
		if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				g_set_error(error,
				            USBPASS_ERROR,
				            USBPASS_ERROR_INVALID_DATA,
				            "the JSON text nests deeper than %u levels",
				            max_depth);
				return FALSE;
			}
		} else if (c == ']' || c == '}') {
			if (depth == 0)
				return usbpass_json_guard_fail(error, i, "'%c' closes nothing", c);
			root_done = --depth == 0;
		}
	}
	if (token_start >= 0 &&
	    !usbpass_json_guard_check_token(data, (gsize)token_start, length, error))
		return FALSE;
	/* embedded NULs too: a C string of it would end early */
	if (!g_utf8_validate_len(data, length, NULL)) {
		g_set_error_literal(error,
		                    USBPASS_ERROR,
		                    USBPASS_ERROR_INVALID_DATA,
		                    "the JSON text is not valid UTF-8");
		return FALSE;
	}
	return TRUE;
}

/* json-glib 1.6 keeps the last of duplicate members without a word; it emits
 * object-member after each member was set, so a member that did not grow its
 * object replaced an earlier one */
typedef struct {
	GHashTable *members; /* JsonObject (borrowed) -> members seen so far */
	gchar *duplicate;    /* the first duplicate name, sanitised */
} UsbpassJsonGuardMembers;

static void
usbpass_json_guard_object_member_cb(JsonParser *parser,
                                    JsonObject *object,
                                    const gchar *member_name,
                                    gpointer user_data)
{
	UsbpassJsonGuardMembers *seen = user_data;
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(seen->members, object)) + 1;

	if (count != json_object_get_size(object) && seen->duplicate == NULL) {
		seen->duplicate =
		  usbpass_string_sanitize(member_name, -1, USBPASS_JSON_GUARD_SHOWN_BYTES);
		if (seen->duplicate == NULL)
			seen->duplicate = g_strdup("");
	}
	g_hash_table_insert(seen->members, object, GUINT_TO_POINTER(count));
}

static void
usbpass_json_guard_object_end_cb(JsonParser *parser, JsonObject *object, gpointer user_data)
{
	UsbpassJsonGuardMembers *seen = user_data;
	/* a finished object may be freed and its address reused by the next one */
	g_hash_table_remove(seen->members, object);
}

/**
 * usbpass_json_guard_parse:
 * @data: (nullable): untrusted JSON text, not necessarily NUL-terminated
 * @length: its length in bytes, already limited by the caller
 * @max_depth: the deepest nesting of arrays and objects allowed
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA naming the reason
 *
 * usbpass_json_guard_check(), then json-glib's parser, refusing objects with
 * two members of one name (after unescaping: "a" and "\u0061" are one name).
 *
 * Returns: (transfer full): the one value of @data, or %NULL with @error set
 */
JsonNode *
usbpass_json_guard_parse(const gchar *data, gsize length, guint max_depth, GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GHashTable) members = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autofree gchar *duplicate = NULL;
	UsbpassJsonGuardMembers seen = { members, NULL };
	gboolean ok;

	g_return_val_if_fail(data != NULL || length == 0, NULL);

	if (length > G_MAXSSIZE) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "the JSON text is too long");
		return NULL;
	}
	if (!usbpass_json_guard_check(data, length, max_depth, error))
		return NULL;

	parser = json_parser_new_immutable();
	g_signal_connect(
	  parser, "object-member", G_CALLBACK(usbpass_json_guard_object_member_cb), &seen);
	g_signal_connect(parser, "object-end", G_CALLBACK(usbpass_json_guard_object_end_cb), &seen);
	ok =
	  json_parser_load_from_data(parser, length > 0 ? data : "", (gssize)length, &error_local);
	duplicate = g_steal_pointer(&seen.duplicate);
	if (!ok) {
		g_autofree gchar *shown = usbpass_string_sanitize(error_local->message, -1, 256);
		g_set_error(error,
		            USBPASS_ERROR,
		            USBPASS_ERROR_INVALID_DATA,
		            "not JSON: %s",
		            shown != NULL ? shown : "parse error");
		return NULL;
	}
	if (duplicate != NULL) {
		g_set_error(
		  error,
		  USBPASS_ERROR,
		  USBPASS_ERROR_INVALID_DATA,
		  "the JSON text is not strict JSON: an object has two members named '%s'",
		  duplicate);
		return NULL;
	}
	if (json_parser_get_root(parser) == NULL) {
		g_set_error_literal(
		  error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA, "not JSON: the text is empty");
		return NULL;
	}
	return json_parser_steal_root(parser);
}

/**
 * usbpass_json_guard_check_charset:
 * @charset: (nullable): the charset parameter of an application/json media
 *   type, unquoted; %NULL when absent
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA for any other charset
 *
 * JSON exchanged between systems is UTF-8 (RFC 8259 section 8.1), and
 * usbpass reads it as such: a body declared in another charset would be read
 * as something its sender did not mean.
 *
 * Returns: %TRUE when @charset is absent or names UTF-8
 */
gboolean
usbpass_json_guard_check_charset(const gchar *charset, GError **error)
{
	g_autofree gchar *shown = NULL;

	if (charset == NULL || g_ascii_strcasecmp(charset, "utf-8") == 0)
		return TRUE;
	shown = usbpass_string_sanitize(charset, -1, USBPASS_JSON_GUARD_SHOWN_BYTES);
	g_set_error(error,
	            USBPASS_ERROR,
	            USBPASS_ERROR_INVALID_DATA,
	            "the charset '%s' is not utf-8: JSON text must be UTF-8",
	            shown != NULL ? shown : "");
	return FALSE;
}

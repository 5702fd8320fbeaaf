/*
 * usbpass-string.c: making untrusted strings safe where they enter
 */
#define G_LOG_DOMAIN "UsbpassCommon"

#include "config.h"

#include "usbpass-error.h"
#include "usbpass-string.h"

#include <string.h>

/**
 * usbpass_string_sanitize:
 * @raw: (nullable): untrusted bytes
 * @raw_len: length of @raw, or -1 when NUL-terminated
 * @max_bytes: the longest result wanted, in bytes (at least 4)
 *
 * Makes a string from a device or sysfs safe to show and store: invalid UTF-8
 * becomes U+FFFD, control characters (C0, DEL, C1) become a space, leading and
 * trailing white space (the kernel's trailing newline) is removed and the
 * result is cut at a character boundary to at most @max_bytes bytes, ending in
 * "…" when cut. This is what usbutils' read_sysfs_prop() does for lsusb.
 *
 * Returns: (transfer full) (nullable): the safe string, or %NULL when @raw is
 * %NULL or nothing printable remains
 */
gchar *
usbpass_string_sanitize(const gchar *raw, gssize raw_len, gsize max_bytes)
{
	g_autofree gchar *valid = NULL;
	g_autoptr(GString) out = NULL;
	const gchar *ellipsis = "\u2026";
	const gsize ellipsis_len = strlen(ellipsis);

	g_return_val_if_fail(max_bytes >= 4, NULL);

	if (raw == NULL)
		return NULL;
	if (raw_len < 0)
		raw_len = (gssize)strlen(raw);

	valid = g_utf8_make_valid(raw, raw_len);
	out = g_string_sized_new(MIN((gsize)raw_len, max_bytes) + 1);
	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
			g_string_append_c(out, ' ');
		else
			g_string_append_unichar(out, c);
	}

	/* trim at both ends: the kernel appends '\n' to every string attribute */
	while (out->len > 0 && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	{
		gsize lead = 0;
		while (lead < out->len && out->str[lead] == ' ')
			lead++;
		g_string_erase(out, 0, (gssize)lead);
	}
	if (out->len == 0)
		return NULL;

	if (out->len > max_bytes) {
		gsize keep = max_bytes - ellipsis_len;
		/* back up to the start of a UTF-8 character */
		while (keep > 0 && (out->str[keep] & 0xc0) == 0x80)
			keep--;
		g_string_truncate(out, keep);
		g_string_append(out, ellipsis);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * usbpass_string_is_identifier:
 * @str: (nullable): a string
 * @max_bytes: the longest allowed
 *
 * Returns: %TRUE when @str is 1 to @max_bytes characters from
 * [A-Za-z0-9._-], i.e. safe in a URL path segment, a file name and a log line
 */
gboolean
usbpass_string_is_identifier(const gchar *str, gsize max_bytes)
{
	gsize len;
	if (str == NULL)
		return FALSE;
	len = strlen(str);
	if (len == 0 || len > max_bytes)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(str[i]) && str[i] != '.' && str[i] != '_' && str[i] != '-')
			return FALSE;
	}
	return TRUE;
}

/**
 * usbpass_string_parse_uint:
 * @str: text such as a sysfs attribute, possibly ending in white space
 * @base: 10 or 16
 * @min: smallest value accepted
 * @max: largest value accepted
 * @value: (out): the number
 * @error: (nullable): #USBPASS_ERROR_INVALID_DATA when @str is not a number in range
 *
 * Parses strictly: no sign, no "0x", no trailing garbage other than white space.
 *
 * Returns: %TRUE on success; @value is untouched on failure
 */
gboolean
usbpass_string_parse_uint(const gchar *str,
			  guint base,
			  guint64 min,
			  guint64 max,
			  guint64 *value,
			  GError **error)
{
	g_autofree gchar *trimmed = NULL;
	guint64 tmp = 0;

	g_return_val_if_fail(str != NULL, FALSE);
	g_return_val_if_fail(base == 10 || base == 16, FALSE);

	trimmed = g_strstrip(g_strdup(str));
	/* GLib's own message quotes the raw text, which may be invalid UTF-8 */
	if (!g_ascii_string_to_unsigned(trimmed, base, min, max, &tmp, NULL)) {
		g_autofree gchar *shown = usbpass_string_sanitize(trimmed, -1, 32);
		g_set_error(error,
			    USBPASS_ERROR,
			    USBPASS_ERROR_INVALID_DATA,
			    "'%s' is not a %s number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
			    shown != NULL ? shown : "",
			    base == 16 ? "hexadecimal" : "decimal",
			    min,
			    max);
		return FALSE;
	}
	if (value != NULL)
		*value = tmp;
	return TRUE;
}

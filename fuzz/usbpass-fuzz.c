/*
 * usbpass-fuzz.c: what every libFuzzer target of fuzz/ shares
 */
#define G_LOG_DOMAIN "UsbpassFuzz"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usbpass-fuzz.h"

/* GLib raises SIGTRAP for a fatal message, which libFuzzer does not catch:
 * abort() instead, so that the input is kept */
static GLogWriterOutput
usbpass_fuzz_log_writer(GLogLevelFlags log_level,
                        const GLogField *fields,
                        gsize n_fields,
                        gpointer user_data)
{
	GLogWriterOutput output = g_log_writer_standard_streams(log_level, fields, n_fields, NULL);
	if (log_level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
		abort();
	return output;
}

void
usbpass_fuzz_init(void)
{
	/* warnings stay warnings: GLib 2.74 itself warns when one GKeyFile value
	 * holds two bad escapes (it sets its GError twice), which is no bug of ours */
	g_log_set_writer_func(usbpass_fuzz_log_writer, NULL, NULL);
}

static void G_GNUC_NORETURN
usbpass_fuzz_fail(const gchar *what, const gchar *why, const gchar *text)
{
	g_autofree gchar *shown = g_strescape(text != NULL ? text : "(null)", NULL);
	fprintf(stderr, "usbpass-fuzz: invariant broken: %s %s: \"%.2000s\"\n", what, why, shown);
	abort();
}

void
usbpass_fuzz_assert_text(const gchar *what, const gchar *text, const gchar *allowed)
{
	if (text == NULL)
		usbpass_fuzz_fail(what, "is NULL", text);
	if (!g_utf8_validate(text, -1, NULL))
		usbpass_fuzz_fail(what, "is not valid UTF-8", text);
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x80 && allowed != NULL && strchr(allowed, (gint)c) != NULL)
			continue;
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
			usbpass_fuzz_fail(what, "holds a control character", text);
	}
}

void
usbpass_fuzz_assert_terminal(const gchar *what, const gchar *text)
{
	usbpass_fuzz_assert_text(what, text, "\n");
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		if (g_unichar_type(g_utf8_get_char(p)) == G_UNICODE_FORMAT)
			usbpass_fuzz_fail(what, "holds a format character", text);
	}
}

void
usbpass_fuzz_assert_text_or_null(const gchar *what, const gchar *text, const gchar *allowed)
{
	if (text != NULL)
		usbpass_fuzz_assert_text(what, text, allowed);
}

UsbpassFuzzInput *
usbpass_fuzz_input_new(const guint8 *data, gsize size, gsize header_len)
{
	UsbpassFuzzInput *self = g_new0(UsbpassFuzzInput, 1);
	const guint8 *p;
	const guint8 *end = data + size;

	self->header = data;
	self->header_len = MIN(size, header_len);
	self->fields = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	if (size <= header_len)
		return self;
	p = data + header_len;
	for (;;) {
		const guint8 *sep =
		  memmem(p, (gsize)(end - p), USBPASS_FUZZ_SEPARATOR, USBPASS_FUZZ_SEPARATOR_LEN);
		if (sep == NULL) {
			g_ptr_array_add(self->fields, g_bytes_new(p, (gsize)(end - p)));
			break;
		}
		g_ptr_array_add(self->fields, g_bytes_new(p, (gsize)(sep - p)));
		p = sep + USBPASS_FUZZ_SEPARATOR_LEN;
	}
	return self;
}

void
usbpass_fuzz_input_free(UsbpassFuzzInput *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->fields);
	g_free(self);
}

guint8
usbpass_fuzz_input_get_byte(const UsbpassFuzzInput *self, gsize index)
{
	return index < self->header_len ? self->header[index] : 0;
}

const guint8 *
usbpass_fuzz_input_get_field(const UsbpassFuzzInput *self, guint index, gsize *len)
{
	GBytes *bytes;
	const guint8 *data;
	if (index >= self->fields->len) {
		*len = 0;
		return NULL;
	}
	bytes = g_ptr_array_index(self->fields, index);
	data = g_bytes_get_data(bytes, len);
	/* an empty field is an empty attribute, not a missing one */
	return data != NULL ? data : (const guint8 *)"";
}

gchar *
usbpass_fuzz_input_dup_field(const UsbpassFuzzInput *self, guint index)
{
	gsize len = 0;
	const guint8 *data = usbpass_fuzz_input_get_field(self, index, &len);
	if (data == NULL)
		return NULL;
	return g_strndup((const gchar *)data, len);
}

/*
 * usbpass-fuzz.h: what every libFuzzer target of fuzz/ shares
 *
 * The invariants the targets assert about usbpass's output, and a reader that
 * cuts a fuzz input into fields. A failed invariant aborts, which libFuzzer
 * reports as a crash and keeps the input of. Single-threaded, like libFuzzer.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* the separator of fields in an input, and the size of the header before them */
#define USBPASS_FUZZ_SEPARATOR     "\x1e\x1e"
#define USBPASS_FUZZ_SEPARATOR_LEN 2

/* makes GLib criticals fatal (an abort libFuzzer reports): a
 * g_return_if_fail() in product code that fuzzed input reaches is a bug too */
void
usbpass_fuzz_init(void);

/* aborts unless @text is valid UTF-8 without C0 or C1 control characters,
 * DEL, U+2028 or U+2029; @allowed lists control characters that may occur
 * (e.g. "\n" for a multi-line table) */
void
usbpass_fuzz_assert_text(const gchar *what, const gchar *text, const gchar *allowed);
/* usbpass_fuzz_assert_text() for text the CLI prints: '\n' is allowed, and
 * format characters (bidi overrides) are not */
void
usbpass_fuzz_assert_terminal(const gchar *what, const gchar *text);
/* the same for a string that may be NULL */
void
usbpass_fuzz_assert_text_or_null(const gchar *what, const gchar *text, const gchar *allowed);

/* cuts @data after @header_len bytes into fields at USBPASS_FUZZ_SEPARATOR */
typedef struct {
	const guint8 *header;
	gsize header_len;  /* may be less than asked when the input is short */
	GPtrArray *fields; /* of GBytes */
} UsbpassFuzzInput;

UsbpassFuzzInput *
usbpass_fuzz_input_new(const guint8 *data, gsize size, gsize header_len);
void
usbpass_fuzz_input_free(UsbpassFuzzInput *self);
/* the header byte @index, 0 when the input is shorter */
guint8
usbpass_fuzz_input_get_byte(const UsbpassFuzzInput *self, gsize index);
/* field @index (NULL when absent), with its length in @len */
const guint8 *
usbpass_fuzz_input_get_field(const UsbpassFuzzInput *self, guint index, gsize *len);
/* field @index up to its first NUL, as a C string (a kernel name, a path);
 * NULL when absent */
gchar *
usbpass_fuzz_input_dup_field(const UsbpassFuzzInput *self, guint index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbpassFuzzInput, usbpass_fuzz_input_free)

G_END_DECLS

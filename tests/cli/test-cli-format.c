/*
 * test-cli-format.c: the terminal output of usbpass, without a daemon
 *
 * The demo topology of tests/cli/devices-demo.json holds two controllers, an
 * external hub, the usual demo devices, a device with hostile strings (escape
 * sequences, CR LF, BEL, DEL, a C1 CSI, a bidi override, a 300-character name),
 * a half-broken device, an unplugged assigned device and a wide-character name.
 */
#include "config.h"

#include <string.h>

#include "usbpass-cli-format.h"
#include "usbpass-client.h"

/* no byte a terminal could act on: C0 but '\n', DEL, C1, line separators, format chars */
static void
assert_terminal_safe(const gchar *text)
{
	g_assert_nonnull(text);
	g_assert_true(g_utf8_validate(text, -1, NULL));
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if ((c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
		    c == 0x2028 || c == 0x2029 || g_unichar_type(c) == G_UNICODE_FORMAT) {
			g_test_message(
			  "unsafe U+%04X at offset %u of:\n%s", c, (guint)(p - text), text);
			g_assert_not_reached();
		}
	}
}

static JsonObject *
load_object(const gchar *json)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static JsonObject *
load_demo(void)
{
	g_autofree gchar *filename =
	  g_test_build_filename(G_TEST_DIST, "cli", "devices-demo.json", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_true(g_file_get_contents(filename, &contents, NULL, &error));
	g_assert_no_error(error);
	return load_object(contents);
}

/* the number of lines of @text, each ending in '\n' */
static guint
count_lines(const gchar *text)
{
	guint n = 0;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (*p == '\n')
			n++;
	}
	return n;
}

/* the lines of @text that contain @needle */
static guint
count_lines_with(const gchar *text, const gchar *needle)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = 0;
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], needle) != NULL)
			n++;
	}
	return n;
}

/* the one line of @text that contains @needle */
static gchar *
line_with(const gchar *text, const gchar *needle)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], needle) != NULL)
			return g_strdup(lines[i]);
	}
	g_test_message("no line with '%s' in:\n%s", needle, text);
	g_assert_not_reached();
	return NULL;
}

typedef struct {
	const gchar *text;
	guint width;
	guint cut_to;
	const gchar *cut; /* usbpass_cli_truncate(text, cut_to) */
} WidthCase;

static void
test_width(void)
{
	const WidthCase cases[] = {
		{ "", 0, 0, "" },
		{ "SanDisk", 7, 7, "SanDisk" },
		{ "SanDisk", 7, 4, "San\u2026" },
		{ "SanDisk", 7, 1, "\u2026" },
		{ "SanDisk", 7, 0, "" },
		/* wide characters take two columns and are never split */
		{ "\u6f22\u5b57", 4, 4, "\u6f22\u5b57" },
		{ "\u6f22\u5b57", 4, 3, "\u6f22\u2026" },
		{ "\u6f22\u5b57x", 5, 2, "\u2026" },
		/* a combining accent takes none */
		{ "e\u0301te\u0301", 3, 3, "e\u0301te\u0301" },
		{ "\u2026\u2026", 2, 2, "\u2026\u2026" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *cut = usbpass_cli_truncate(cases[i].text, cases[i].cut_to);
		g_assert_cmpuint(usbpass_cli_display_width(cases[i].text), ==, cases[i].width);
		g_assert_cmpstr(cut, ==, cases[i].cut);
		g_assert_cmpuint(usbpass_cli_display_width(cut), <=, cases[i].cut_to);
	}
}

typedef struct {
	const gchar *untrusted;
	const gchar *safe; /* NULL: nothing printable */
} SafeCase;

static void
test_safe(void)
{
	const SafeCase cases[] = {
		{ "SanDisk", "SanDisk" },
		{ NULL, NULL },
		{ "", NULL },
		{ "\n\r\t", NULL },
		{ "a\x1b[31mb", "a [31mb" },
		{ "a\xc2\x9b"
		  "2Jb",
		  "a 2Jb" },
		{ "x\x7fy", "x y" },
		{ "L\u202eR", "L\ufffdR" },
		{ "zero\u200bwidth", "zero\ufffdwidth" },
		{ "line\u2028sep", "line sep" },
		{ "bad\xff", "bad\ufffd" },
		{ "<b>&amp;</b>", "<b>&amp;</b>" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *safe = usbpass_cli_safe(cases[i].untrusted);
		g_assert_cmpstr(safe, ==, cases[i].safe);
	}
}

static void
test_table(void)
{
	const gchar *headers[] = { "ID", "NAME", "STATE", NULL };
	const gchar *row1[] = { "1-1", "\u30d6\u30e9\u30b6\u30fc", "attached" };
	const gchar *row2[] = { "1-1.10", "Evil\x1b[2J\r\nname that is much too long", NULL };
	const gchar *row3[] = { NULL, "second", "" };
	g_autoptr(UsbpassCliTable) table = usbpass_cli_table_new(headers);
	g_autofree gchar *text = NULL;
	g_autofree gchar *wide = NULL;
	g_auto(GStrv) lines = NULL;
	glong state_col = -1;

	usbpass_cli_table_set_max_width(table, 1, 12);
	usbpass_cli_table_add_row(table, row1);
	usbpass_cli_table_add_row(table, row2);
	usbpass_cli_table_add_continuation(table, row3);
	g_assert_cmpuint(usbpass_cli_table_get_rows(table), ==, 3);
	text = usbpass_cli_table_render(table, USBPASS_CLI_FORMAT_NONE);
	assert_terminal_safe(text);

	/* every STATE cell starts at the same display column */
	lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 5); /* header, 3 rows, "" after the last '\n' */
	g_assert_true(g_str_has_prefix(lines[0], "ID      NAME"));
	for (guint i = 0; i < 3; i++) {
		const gchar *cells[] = { "STATE", "attached", "-" };
		const gchar *hit = g_strrstr(lines[i], cells[i]);
		g_autofree gchar *before = NULL;
		g_assert_nonnull(hit);
		before = g_strndup(lines[i], (gsize)(hit - lines[i]));
		if (state_col < 0)
			state_col = usbpass_cli_display_width(before);
		g_assert_cmpint(usbpass_cli_display_width(before), ==, state_col);
	}
	/* the long name is cut to 12 columns, the continuation row leaves ID blank */
	g_assert_nonnull(strstr(lines[2], "Evil [2J  n\u2026"));
	g_assert_true(g_str_has_prefix(lines[3], "        second"));
	g_assert_false(g_str_has_suffix(lines[3], " "));

	wide = usbpass_cli_table_render(table, USBPASS_CLI_FORMAT_WIDE);
	assert_terminal_safe(wide);
	g_assert_nonnull(strstr(wide, "name that is much too long"));
}

static void
test_devices(void)
{
	g_autoptr(JsonObject) demo = load_demo();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = usbpass_cli_format_devices(demo, USBPASS_CLI_FORMAT_NONE, &error);
	g_autofree gchar *sandisk = NULL;
	g_autofree gchar *missing = NULL;
	g_autofree gchar *hostile = NULL;
	g_autofree gchar *wide = NULL;
	JsonArray *devices = json_object_get_array_member(demo, "devices");

	g_assert_no_error(error);
	assert_terminal_safe(text);
	g_assert_true(g_str_has_prefix(text, "BUS  DEV  ID"));
	g_assert_nonnull(strstr(text, "CLASS"));
	/* one line per device, the header, and notes for the broken device */
	g_assert_cmpuint(count_lines_with(text, "note: "), ==, 1);
	g_assert_cmpuint(count_lines(text), ==, json_array_get_length(devices) + 1 + 1);

	sandisk = line_with(text, "0781:5567:s:4C530001230123456789");
	g_assert_true(g_str_has_prefix(sandisk, "001  005  "));
	g_assert_nonnull(strstr(sandisk, "SanDisk Cruzer Blade"));
	g_assert_nonnull(strstr(sandisk, "Mass Storage"));
	g_assert_nonnull(strstr(sandisk, "attached"));
	g_assert_nonnull(strstr(sandisk, "web01"));

	/* an unplugged device has no class: a dash */
	missing = line_with(text, "1a86:7523:s:ABC123");
	g_assert_nonnull(strstr(missing, "missing"));

	/* the hostile device: escapes gone, the name cut, the instance name made safe */
	hostile = line_with(text, "dead:beef:s:EVIL");
	g_assert_nonnull(strstr(hostile, "Evil [31mRed"));
	g_assert_nonnull(strstr(hostile, "\u2026"));
	g_assert_null(strstr(hostile, "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"));
	g_assert_nonnull(strstr(hostile, "SER IAL\ufffdLIVE"));
	g_assert_nonnull(strstr(hostile, "[1mweb [0m"));
	g_assert_nonnull(strstr(text, "note: USB device '3-4': cannot read 'idVendor'"));

	/* --wide keeps the whole name */
	wide = usbpass_cli_format_devices(demo, USBPASS_CLI_FORMAT_WIDE, &error);
	g_assert_no_error(error);
	assert_terminal_safe(wide);
	g_assert_nonnull(strstr(wide, "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"));
}

typedef struct {
	const gchar *needle; /* a unique part of the device's line */
	const gchar *prefix; /* what the line starts with: its place in the tree */
} TreeLineCase;

static void
test_tree(void)
{
	g_autoptr(JsonObject) demo = load_demo();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = usbpass_cli_format_tree(demo, USBPASS_CLI_FORMAT_NONE, &error);
	JsonArray *devices = json_object_get_array_member(demo, "devices");
	const TreeLineCase cases[] = {
		{ "Controller 0000:00:14.0: Intel Corporation Sunrise Point-LP", "Controller" },
		{ "Bus 001 usb1",
		  "\u251c\u2500\u2500 Bus 001 usb1  1d6b:0002  Linux Foundation 2.0 root hub" },
		{ "Port 1-1  ", "\u2502   \u251c\u2500\u2500 Port 1-1  Dev 001:002  05e3:0610" },
		{ "Port 1-1.1  ",
		  "\u2502   \u2502   \u251c\u2500\u2500 Port 1-1.1  Dev 001:005  0781:5567" },
		{ "Port 1-1.2  ", "\u2502   \u2502   \u251c\u2500\u2500 Port 1-1.2  " },
		{ "Port 1-1.10  ", "\u2502   \u2502   \u2514\u2500\u2500 Port 1-1.10  " },
		{ "Port 1-2  ", "\u2502   \u251c\u2500\u2500 Port 1-2  " },
		{ "Port 1-3  ", "\u2502   \u2514\u2500\u2500 Port 1-3  " },
		{ "Bus 002 usb2", "\u2514\u2500\u2500 Bus 002 usb2" },
		{ "Controller 0000:03:00.0: ASMedia", "Controller" },
		{ "Bus 003 usb3", "\u2514\u2500\u2500 Bus 003 usb3" },
		{ "Port 3-1  ", "    \u251c\u2500\u2500 Port 3-1  Dev 003:002  067b:2303" },
		{ "Port 3-2  ", "    \u251c\u2500\u2500 Port 3-2  Dev 003:003  067b:2303" },
		{ "Port 3-3  ", "    \u251c\u2500\u2500 Port 3-3  " },
		{ "Port 3-4  ", "    \u2514\u2500\u2500 Port 3-4  " },
		{ "Not plugged in", "Not plugged in" },
		{ "Port 1-4  ", "\u2514\u2500\u2500 Port 1-4  Dev 001:007  1a86:7523" },
	};
	g_autofree gchar *sandisk = NULL;
	g_autofree gchar *broken = NULL;
	g_autofree gchar *hostile = NULL;

	g_assert_no_error(error);
	assert_terminal_safe(text);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *line = line_with(text, cases[i].needle);
		g_assert_cmpuint(count_lines_with(text, cases[i].needle), ==, 1);
		if (!g_str_has_prefix(line, cases[i].prefix))
			g_test_message("line '%s' should start with '%s'", line, cases[i].prefix);
		g_assert_true(g_str_has_prefix(line, cases[i].prefix));
	}
	/* every device exactly once: three controller/pseudo-group titles besides */
	g_assert_cmpuint(count_lines(text), ==, json_array_get_length(devices) + 3);

	sandisk = line_with(text, "Port 1-1.1  ");
	g_assert_nonnull(strstr(sandisk, "SanDisk Cruzer Blade  [Mass Storage]  480M"));
	g_assert_nonnull(strstr(sandisk, "\u2192 web01 (attached)"));
	broken = line_with(text, "Port 3-4  ");
	g_assert_nonnull(strstr(broken, "error: cannot read 'idVendor'"));
	hostile = line_with(text, "Port 3-3  ");
	g_assert_nonnull(strstr(hostile, "Evil [31mRed"));
}

typedef struct {
	const gchar *name;
	const gchar *json;
	guint n_devices;    /* lines with "Port " or "Bus " */
	const gchar *group; /* a title line expected, or NULL */
} TreeHostileCase;

static void
test_tree_hostile(void)
{
	const TreeHostileCase cases[] = {
		{ "cycle",
		  "{\"devices\": [{\"port\": \"1-1\", \"parent_port\": \"1-2\"},"
		  " {\"port\": \"1-2\", \"parent_port\": \"1-1\"}, {\"port\": \"1-3\", "
		  "\"parent_port\": "
		  "\"1-3\"}]}",
		  3,
		  "Inconsistent topology (parent cycle)" },
		{ "orphan",
		  "{\"devices\": [{\"port\": \"2-1.4\", \"parent_port\": \"2-1\", \"bus\": 2, "
		  "\"device\": 9,"
		  " \"controller\": {\"pci_address\": \"0000:00:1d.0\", \"name\": null}}]}",
		  1,
		  "Controller 0000:00:1d.0" },
		{ "no-controller",
		  "{\"devices\": [{\"port\": \"usb1\", \"is_root_hub\": true, \"bus\": 1}, "
		  "{\"port\": \"1-1\", \"parent_port\": \"usb1\"}]}",
		  2,
		  "Controller not on PCI" },
		{ "duplicate-port",
		  "{\"devices\": [{\"port\": \"usb1\", \"is_root_hub\": true, \"bus\": 1},"
		  " {\"port\": \"1-1\", \"parent_port\": \"usb1\"}, {\"port\": \"1-1\", "
		  "\"parent_port\": \"usb1\"}]}",
		  3,
		  NULL },
		{ "wrong-types",
		  "{\"devices\": [{\"port\": 7, \"parent_port\": [], \"bus\": \"x\", \"name\": {},"
		  " \"controller\": \"0000:00:14.0\", \"present\": \"no\"}, 3, null, \"text\"]}",
		  1,
		  NULL },
		{ "empty", "{\"devices\": []}", 0, NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) answer = load_object(cases[i].json);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *text = NULL;

		text = usbpass_cli_format_tree(answer, USBPASS_CLI_FORMAT_NONE, &error);
		g_test_message("tree{%s}:\n%s", cases[i].name, text);
		g_assert_no_error(error);
		assert_terminal_safe(text);
		g_assert_cmpuint(count_lines_with(text, "Port ") + count_lines_with(text, "Bus "),
		                 ==,
		                 cases[i].n_devices);
		if (cases[i].group != NULL)
			g_assert_cmpuint(count_lines_with(text, cases[i].group), ==, 1);
	}
}

static void
test_tree_deep(void)
{
	g_autoptr(GString) json =
	  g_string_new("{\"devices\": [{\"port\": \"usb1\", \"is_root_hub\": true}");
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *parent = g_strdup("usb1");

	/* a chain of 40 hubs: far deeper than USB allows */
	for (guint i = 1; i <= 40; i++) {
		g_autofree gchar *port = g_strdup_printf("1-%u", i);
		g_string_append_printf(
		  json, ", {\"port\": \"%s\", \"parent_port\": \"%s\"}", port, parent);
		g_free(parent);
		parent = g_steal_pointer(&port);
	}
	g_string_append(json, "]}");
	answer = load_object(json->str);
	text = usbpass_cli_format_tree(answer, USBPASS_CLI_FORMAT_NONE, &error);
	g_assert_no_error(error);
	assert_terminal_safe(text);
	g_assert_cmpuint(count_lines_with(text, "(nested too deep)"), ==, 1);
	g_assert_cmpuint(count_lines_with(text, "Port 1-15  "), ==, 1);
	g_assert_cmpuint(count_lines_with(text, "Port 1-16  "), ==, 0);
}

static void
test_status(void)
{
	g_autoptr(JsonObject) demo = load_demo();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text =
	  usbpass_cli_format_status(demo, FALSE, USBPASS_CLI_FORMAT_NONE, &error);
	g_autofree gchar *all = NULL;
	g_autofree gchar *failed = NULL;
	g_autofree gchar *missing = NULL;

	g_assert_no_error(error);
	assert_terminal_safe(text);
	g_assert_true(g_str_has_prefix(text, "ID  "));
	g_assert_nonnull(strstr(text, "BUS:DEV"));
	/* hubs are left out unless --all: 4 of the 14 demo devices are hubs */
	g_assert_cmpuint(count_lines(text), ==, 1 + 10);
	g_assert_cmpuint(count_lines_with(text, "root hub"), ==, 0);
	failed = line_with(text, "0403:6001:s:A50285BI");
	g_assert_nonnull(strstr(failed, "001:009"));
	g_assert_nonnull(strstr(failed, "failed"));
	g_assert_nonnull(strstr(failed, "internal error: unable to execute QEMU command"));
	missing = line_with(text, "1a86:7523:s:ABC123");
	g_assert_nonnull(strstr(missing, "missing"));
	g_assert_nonnull(strstr(missing, "web01"));
	g_assert_nonnull(strstr(text, "boom ]0;title"));

	all = usbpass_cli_format_status(demo, TRUE, USBPASS_CLI_FORMAT_NONE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(count_lines_with(all, "root hub"), ==, 3);
}

static void
test_json(void)
{
	g_autoptr(JsonObject) demo = load_demo();
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), demo);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pretty = usbpass_cli_format_json(node, TRUE);
	g_autofree gchar *compact = usbpass_cli_format_json(node, FALSE);

	assert_terminal_safe(pretty);
	assert_terminal_safe(compact);
	g_assert_true(g_str_has_suffix(pretty, "}\n"));
	g_assert_cmpuint(count_lines_with(compact, "\""), ==, 1);
	/* the same data: every escape was a JSON escape */
	g_assert_nonnull(strstr(pretty, "\\u009b"));
	g_assert_nonnull(strstr(pretty, "\\u007f"));
	g_assert_nonnull(strstr(pretty, "\\u2028"));
	g_assert_true(json_parser_load_from_data(parser, pretty, -1, &error));
	g_assert_no_error(error);
	g_assert_true(json_node_equal(json_parser_get_root(parser), node));
	g_assert_true(json_parser_load_from_data(parser, compact, -1, &error));
	g_assert_true(json_node_equal(json_parser_get_root(parser), node));

	/* a format character outside the BMP becomes a surrogate pair */
	{
		g_autoptr(JsonNode) tag = json_node_new(JSON_NODE_VALUE);
		g_autofree gchar *text = NULL;
		json_node_set_string(tag, "a\U000e0041b");
		text = usbpass_cli_format_json(tag, FALSE);
		g_assert_cmpstr(text, ==, "\"a\\udb40\\udc41b\"\n");
		assert_terminal_safe(text);
		g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
		g_assert_no_error(error);
		g_assert_true(json_node_equal(json_parser_get_root(parser), tag));
	}
}

static void
test_instances(void)
{
	g_autoptr(JsonObject) answer = load_object(
	  "{\"instances\": ["
	  "{\"uuid\": \"8f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7\", \"name\": \"web01\", \"state\": "
	  "\"running\","
	  " \"persistent\": true, \"devices\": ["
	  "  {\"id\": \"0781:5567:s:X\", \"name\": \"SanDisk Cruzer Blade\", \"state\": "
	  "\"attached\"},"
	  "  {\"id\": \"1a86:7523:s:ABC123\", \"name\": \"QinHeng\\u001b[2J\", \"state\": "
	  "\"missing\"}]},"
	  "{\"uuid\": \"11111111-2222-3333-4444-555555555555\", \"name\": \"db\\r\\n01\", "
	  "\"state\": \"shutoff\","
	  " \"persistent\": false, \"devices\": []}]}");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text =
	  usbpass_cli_format_instances(answer, USBPASS_CLI_FORMAT_NONE, &error);
	g_auto(GStrv) lines = NULL;

	g_assert_no_error(error);
	assert_terminal_safe(text);
	lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 5);
	g_assert_true(g_str_has_prefix(lines[0], "NAME "));
	g_assert_true(g_str_has_prefix(lines[1], "web01 "));
	g_assert_nonnull(strstr(lines[1], "0781:5567:s:X SanDisk Cruzer Blade (attached)"));
	g_assert_true(g_str_has_prefix(lines[2], "      "));
	g_assert_nonnull(strstr(lines[2], "1a86:7523:s:ABC123 QinHeng [2J (missing)"));
	g_assert_true(g_str_has_prefix(lines[3], "db  01"));
	g_assert_nonnull(strstr(lines[3], "shutoff (transient)"));
	g_assert_true(g_str_has_suffix(lines[3], "-"));
}

static void
test_small(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) audit = load_object(
	  "{\"entries\": [{\"id\": 7, \"time\": \"2026-11-24T10:00:00Z\", \"host\": \"h\","
	  " \"actor\": \"uid:0\", \"action\": \"attach\", \"device_id\": \"0781:5567:s:X\","
	  " \"instance_uuid\": \"8f1c\", \"outcome\": \"in-use\", \"message\": \"in "
	  "use\\u001b[2J\"}]}");
	g_autoptr(JsonObject) tokens =
	  load_object("{\"tokens\": [{\"name\": \"ci\", \"role\": \"operator\", \"created\": "
	              "\"2026-11-24T10:00:00Z\","
	              " \"last_used\": null}]}");
	g_autoptr(JsonObject) created = load_object(
	  "{\"name\": \"ci\", \"role\": \"operator\", \"token\": \"upt_0123456789abcdef\"}");
	g_autoptr(JsonObject) policy =
	  load_object("{\"enabled\": false, \"rules\": [\"deny class 09 (hubs)\", 7, \"allow "
	              "0781:5567\\u0007\"]}");
	g_autoptr(JsonObject) check =
	  load_object("{\"allowed\": false, \"rule\": \"deny class 03:01:01\", \"reason\": \"HID "
	              "keyboards\"}");
	g_autoptr(JsonObject) host = load_object(
	  "{\"host\": \"demo-host\", \"version\": \"0.1.0\", \"enabled\": true, \"driver\": "
	  "\"libvirt\","
	  " \"driver_connected\": false, \"store\": \"sqlite\", \"devices\": 14}");
	g_autoptr(JsonObject) device = load_object(
	  "{\"id\": \"0781:5567:s:X\", \"name\": \"SanDisk Cruzer Blade\", \"bus\": 1, "
	  "\"device\": 5,"
	  " \"vendor_id\": \"0781\", \"product_id\": \"5567\", \"state\": \"attached\","
	  " \"instance_uuid\": \"8f1c\", \"instance_name\": \"web01\", \"present\": true,"
	  " \"controller\": {\"pci_address\": \"0000:00:14.0\", \"name\": \"Intel xHCI\"}}");
	g_autofree gchar *text = NULL;

	text = usbpass_cli_format_audit(audit, USBPASS_CLI_FORMAT_NONE, &error);
	g_assert_no_error(error);
	assert_terminal_safe(text);
	g_assert_true(g_str_has_prefix(text, "ID  TIME"));
	g_assert_nonnull(strstr(text, "7   2026-11-24T10:00:00Z  uid:0"));
	g_assert_nonnull(strstr(text, "in-use   in use [2J\n"));
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_tokens(tokens, USBPASS_CLI_FORMAT_NONE, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(text, "ci    operator  2026-11-24T10:00:00Z  -\n"));
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_token_created(created, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_suffix(text, "\nupt_0123456789abcdef\n"));
	g_assert_nonnull(strstr(text, "'ci' with role operator"));
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_policy(policy);
	assert_terminal_safe(text);
	g_assert_cmpstr(text,
	                ==,
	                "Passthrough: disabled\nRules:\n    1  deny class 09 (hubs)\n    2  allow "
	                "0781:5567\n");
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_policy_check(check);
	g_assert_cmpstr(
	  text, ==, "Allowed: no\nRule:    deny class 03:01:01\nReason:  HID keyboards\n");
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_host(host);
	g_assert_nonnull(strstr(text, "Host:        demo-host\n"));
	g_assert_nonnull(strstr(text, "Passthrough: enabled\n"));
	g_assert_nonnull(strstr(text, "Driver:      libvirt (not connected)\n"));
	g_assert_nonnull(strstr(text, "Devices:     14\n"));
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_device(device);
	g_assert_nonnull(strstr(text, "Bus:device:     001:005\n"));
	g_assert_nonnull(strstr(text, "Instance:       web01 (8f1c)\n"));
	g_assert_nonnull(strstr(text, "Controller:     0000:00:14.0 Intel xHCI\n"));
	g_assert_null(strstr(text, "Serial"));
	g_clear_pointer(&text, g_free);

	text = usbpass_cli_format_assignment(device, TRUE, "ignored");
	g_assert_cmpstr(text, ==, "Attached 0781:5567:s:X (SanDisk Cruzer Blade) to web01.\n");
	g_clear_pointer(&text, g_free);
	json_object_set_null_member(device, "instance_uuid");
	json_object_set_null_member(device, "instance_name");
	json_object_set_string_member(device, "state", "failed");
	text = usbpass_cli_format_assignment(device,
	                                     FALSE,
	                                     "web\x1b"
	                                     "01");
	g_assert_cmpstr(text,
	                ==,
	                "Detached 0781:5567:s:X (SanDisk Cruzer Blade) from web 01. State: "
	                "failed.\n");
}

typedef struct {
	const gchar *event;
	const gchar *json;
	const gchar *line; /* NULL: not shown */
} EventCase;

static void
test_events(void)
{
	const EventCase cases[] = {
		{ "inventory",
		  "{\"kind\": \"added\", \"replugged\": false, \"device\": {\"id\": "
		  "\"0781:5567:s:XYZ\","
		  " \"port\": \"1-1.4\", \"name\": \"SanDisk Cruzer Blade\"}}",
		  "added 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade\n" },
		{ "inventory",
		  "{\"kind\": \"added\", \"replugged\": true, \"device\": {\"id\": "
		  "\"0781:5567:s:XYZ\","
		  " \"port\": \"1-2\", \"name\": \"SanDisk Cruzer Blade\"}}",
		  "added 0781:5567:s:XYZ 1-2 SanDisk Cruzer Blade (replugged)\n" },
		{ "inventory",
		  "{\"kind\": \"removed\", \"device\": {\"id\": \"x\", \"port\": null, \"name\": "
		  "\"a\\nb\"}}",
		  "removed x - a b\n" },
		{ "inventory",
		  "{\"kind\": \"added\\u001b[2J\", \"device\": {}}",
		  "added [2J - - -\n" },
		{ "state",
		  "{\"id\": \"0781:5567:s:XYZ\", \"port\": \"1-1.4\", \"name\": \"SanDisk Cruzer "
		  "Blade\","
		  " \"state\": \"attached\", \"instance_uuid\": \"8f1c\", \"instance_name\": "
		  "\"web01\"}",
		  "attached 0781:5567:s:XYZ 1-1.4 SanDisk Cruzer Blade \u2192 web01\n" },
		{ "state",
		  "{\"id\": \"a\", \"port\": \"1-1\", \"name\": \"n\", \"state\": \"failed\","
		  " \"instance_uuid\": \"8f1c\", \"state_error\": \"Did not find USB "
		  "device\\r\\n\"}",
		  "failed a 1-1 n \u2192 8f1c: Did not find USB device\n" },
		{ "state", "{\"id\": \"a\", \"state\": \"available\"}", "available a - -\n" },
		/* unknown events and wrong shapes are not shown (--json shows them) */
		{ "inventory", "{\"kind\": \"added\"}", NULL },
		{ "inventory", "[1, 2]", NULL },
		{ "future", "{\"kind\": \"added\"}", NULL },
		{ "message", "{}", NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonParser) parser = json_parser_new();
		g_autofree gchar *line = NULL;
		g_assert_true(json_parser_load_from_data(parser, cases[i].json, -1, NULL));
		line = usbpass_cli_format_event(cases[i].event, json_parser_get_root(parser));
		g_assert_cmpstr(line, ==, cases[i].line);
		if (line != NULL)
			assert_terminal_safe(line);
	}
}

typedef gchar *(*ReplyFormatter)(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error);

static gchar *
format_status_all(JsonObject *answer, UsbpassCliFormatFlags flags, GError **error)
{
	return usbpass_cli_format_status(answer, TRUE, flags, error);
}

static void
test_reply_shape(void)
{
	const struct {
		const gchar *name;
		ReplyFormatter func;
		const gchar *member;
	} formatters[] = {
		{ "devices", usbpass_cli_format_devices, "devices" },
		{ "tree", usbpass_cli_format_tree, "devices" },
		{ "status", format_status_all, "devices" },
		{ "instances", usbpass_cli_format_instances, "instances" },
		{ "audit", usbpass_cli_format_audit, "entries" },
		{ "tokens", usbpass_cli_format_tokens, "tokens" },
	};
	/* the member missing (NULL), or of the wrong type */
	const gchar *bad[] = { NULL, "3", "{}", "null", "\"[]\"" };
	const gchar *bad_secrets[] = { "{}",
		                       "{\"token\": 7}",
		                       "{\"token\": \"\"}",
		                       "{\"token\": \"ab\\ncd\"}",
		                       "{\"token\": \"ab cd\"}",
		                       "{\"token\": \"\\u00e9t\\u00e9\"}" };

	for (guint i = 0; i < G_N_ELEMENTS(formatters); i++) {
		for (guint j = 0; j < G_N_ELEMENTS(bad); j++) {
			g_autoptr(GError) error = NULL;
			g_autofree gchar *json =
			  bad[j] == NULL
			    ? g_strdup("{}")
			    : g_strconcat("{\"", formatters[i].member, "\": ", bad[j], "}", NULL);
			g_autoptr(JsonObject) answer = load_object(json);
			g_autofree gchar *text = NULL;

			text = formatters[i].func(answer, USBPASS_CLI_FORMAT_NONE, &error);
			g_assert_null(text);
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		}
		{
			g_autoptr(GError) error = NULL;
			g_autofree gchar *json =
			  g_strconcat("{\"", formatters[i].member, "\": []}", NULL);
			g_autoptr(JsonObject) answer = load_object(json);
			g_autofree gchar *text = NULL;

			text = formatters[i].func(answer, USBPASS_CLI_FORMAT_NONE, &error);
			g_assert_no_error(error);
			g_assert_nonnull(text);
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad_secrets); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) answer = load_object(bad_secrets[i]);
		g_autofree gchar *text = usbpass_cli_format_token_created(answer, &error);
		g_assert_null(text);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbpass/cli/format/width", test_width);
	g_test_add_func("/usbpass/cli/format/safe", test_safe);
	g_test_add_func("/usbpass/cli/format/table", test_table);
	g_test_add_func("/usbpass/cli/format/devices{demo}", test_devices);
	g_test_add_func("/usbpass/cli/format/tree{demo}", test_tree);
	g_test_add_func("/usbpass/cli/format/tree{hostile}", test_tree_hostile);
	g_test_add_func("/usbpass/cli/format/tree{deep}", test_tree_deep);
	g_test_add_func("/usbpass/cli/format/status{demo}", test_status);
	g_test_add_func("/usbpass/cli/format/json{demo}", test_json);
	g_test_add_func("/usbpass/cli/format/instances", test_instances);
	g_test_add_func("/usbpass/cli/format/small", test_small);
	g_test_add_func("/usbpass/cli/format/events", test_events);
	g_test_add_func("/usbpass/cli/format/reply{wrong-shape}", test_reply_shape);
	return g_test_run();
}

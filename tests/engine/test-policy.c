/*
 * test-policy.c: the attach policy: built-in rules, operator rules, malformed
 * files, and mounted filesystems found through a fake sysfs and mountinfo
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "usbpass-error.h"
#include "usbpass-policy.h"

typedef struct {
	guint8 number;
	guint8 iclass;
	guint8 subclass;
	guint8 protocol;
} IfaceSpec;

/* a device as the inventory would describe it */
typedef struct {
	const gchar *name;
	guint16 vendor_id;
	guint16 product_id;
	guint8 device_class;
	gboolean is_hub;
	gboolean is_root_hub;
	const gchar *serial;
	const gchar *port;
	IfaceSpec ifaces[4]; /* up to the first with class 0 and number 0 after index 0 */
	guint n_ifaces;
} DeviceSpec;

static UsbpassDevice *
make_device(const DeviceSpec *spec)
{
	UsbpassDevice *device = usbpass_device_new();
	device->vendor_id = spec->vendor_id;
	device->product_id = spec->product_id;
	device->device_class = spec->device_class;
	device->is_hub = spec->is_hub;
	device->is_root_hub = spec->is_root_hub;
	device->serial = g_strdup(spec->serial);
	device->port = g_strdup(spec->port);
	device->bus = 1;
	device->device = 5;
	for (guint i = 0; i < spec->n_ifaces; i++) {
		UsbpassInterface *iface = usbpass_interface_new();
		iface->number = spec->ifaces[i].number;
		iface->interface_class = spec->ifaces[i].iclass;
		iface->interface_subclass = spec->ifaces[i].subclass;
		iface->interface_protocol = spec->ifaces[i].protocol;
		g_ptr_array_add(device->interfaces, iface);
	}
	return device;
}

typedef struct {
	DeviceSpec device;
	gboolean allowed;
	const gchar *rule;
	const gchar *reason; /* a part of the reason */
} CheckCase;

static void
run_check_cases(UsbpassPolicy *policy, const CheckCase *cases, guint n_cases)
{
	for (guint i = 0; i < n_cases; i++) {
		g_autoptr(UsbpassDevice) device = make_device(&cases[i].device);
		g_autoptr(UsbpassPolicyVerdict) verdict = NULL;

		g_test_message("case %s", cases[i].device.name);
		verdict = usbpass_policy_check(policy, device);
		g_assert_nonnull(verdict);
		g_assert_cmpstr(verdict->rule, ==, cases[i].rule);
		g_assert_cmpint(verdict->allowed, ==, cases[i].allowed);
		g_assert_nonnull(verdict->reason);
		if (strstr(verdict->reason, cases[i].reason) == NULL)
			g_error("reason '%s' lacks '%s'", verdict->reason, cases[i].reason);
	}
}

#define STORAGE {0, 0x08, 0x06, 0x50}

static void
test_builtin(void)
{
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new();
	const gchar *hub_reason = "USB hub: passing a hub would hand every device behind it to the guest";
	const CheckCase cases[] = {
	    {{"root-hub", 0x1d6b, 0x0002, 9, TRUE, TRUE, NULL, "usb1", {{0, 9, 0, 0}}, 1},
	     FALSE,
	     "builtin-root-hub",
	     "every device of bus 1"},
	    {{"hub-class", 0x05e3, 0x0610, 9, FALSE, FALSE, NULL, "1-1", {{0, 9, 0, 1}}, 1},
	     FALSE,
	     "builtin-hub",
	     hub_reason},
	    {{"hub-flag", 0x05e3, 0x0610, 0, TRUE, FALSE, NULL, "1-1", {{0}}, 0},
	     FALSE,
	     "builtin-hub",
	     hub_reason},
	    {{"hub-interface", 0x0424, 0x2514, 0, FALSE, FALSE, NULL, "1-1", {{0, 9, 0, 2}}, 1},
	     FALSE,
	     "builtin-hub",
	     hub_reason},
	    {{"keyboard", 0x046d, 0xc31c, 0, FALSE, FALSE, NULL, "1-2", {{0, 3, 1, 1}}, 1},
	     FALSE,
	     "builtin-hid-boot",
	     "HID boot keyboard (interface 0)"},
	    {{"mouse", 0x046d, 0xc077, 0, FALSE, FALSE, NULL, "1-3", {{0, 3, 1, 2}}, 1},
	     FALSE,
	     "builtin-hid-boot",
	     "HID boot mouse (interface 0)"},
	    /* class 3 on the device without the boot subclass */
	    {{"device-level-hid", 0x1234, 0x0001, 3, FALSE, FALSE, NULL, "1-3", {{0}}, 0},
	     TRUE,
	     "default",
	     "no rule"},
	    {{"combo-keyboard-on-2",
	      0x1050,
	      0x0407,
	      0,
	      FALSE,
	      FALSE,
	      "123",
	      "1-4",
	      {{0, 3, 0, 0}, {1, 0x0b, 0, 0}, {2, 3, 1, 1}},
	      3},
	     FALSE,
	     "builtin-hid-boot",
	     "HID boot keyboard (interface 2)"},
	    /* HID, but not a boot keyboard or mouse: a FIDO key, a boot device of protocol 0 */
	    {{"fido", 0x1050, 0x0120, 0, FALSE, FALSE, NULL, "1-5", {{0, 3, 0, 0}}, 1},
	     TRUE,
	     "default",
	     "no rule"},
	    {{"hid-boot-other", 0x1050, 0x0121, 0, FALSE, FALSE, NULL, "1-5", {{0, 3, 1, 0}}, 1},
	     TRUE,
	     "default",
	     "no rule"},
	    {{"storage", 0x0781, 0x5567, 0, FALSE, FALSE, "4C53", "1-6", {STORAGE}, 1},
	     TRUE,
	     "default",
	     "no rule of the policy matches this device"},
	    {{"no-interfaces", 0x0781, 0x5567, 0, FALSE, FALSE, NULL, NULL, {{0}}, 0},
	     TRUE,
	     "default",
	     "no rule"},
	};
	g_autoptr(UsbpassDevice) device_level = usbpass_device_new();
	g_autoptr(UsbpassPolicyVerdict) verdict = NULL;

	run_check_cases(policy, cases, G_N_ELEMENTS(cases));

	/* a boot mouse said by the device descriptor itself */
	device_level->device_class = 3;
	device_level->device_subclass = 1;
	device_level->device_protocol = 2;
	verdict = usbpass_policy_check(policy, device_level);
	g_assert_false(verdict->allowed);
	g_assert_cmpstr(verdict->rule, ==, "builtin-hid-boot");
	g_assert_true(g_str_has_prefix(verdict->reason, "HID boot mouse: "));
}

static const gchar *operator_policy =
    "# a comment\n"
    "[deny dongles]\n"
    "match-id=0BDA:*\n"
    "reason=no radio dongles on this host\n"
    "\n"
    "[allow yubikeys]\n"
    "match-id=1050:0407\n"
    "match-serial=1234*\n"
    "reason=the team's keys\n"
    "\n"
    "[deny any-5567]\n"
    "match-id=*:5567\n"
    "match-serial=BAD?\n"
    "\n"
    "[deny front-ports]\n"
    "match-port=1-1.*\n"
    "\n"
    "[allow exact-port]\n"
    "match-port=2-3\n"
    "\n"
    "[deny vendor-class]\n"
    "match-class=0xff\n"
    "reason=vendor-specific devices are reviewed first\n"
    "\n"
    "[allow storage]\n"
    "match-class=8\n"
    "reason=storage is fine\n"
    "\n"
    "[deny everything-else]\n"
    "reason=this host denies by default\n";

static void
test_operator_rules(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new_from_data(operator_policy, (gsize)-1, &error);
	const CheckCase cases[] = {
	    /* by id, either side a wildcard, hex in any case */
	    {{"dongle", 0x0bda, 0x2838, 0, FALSE, FALSE, NULL, "3-1", {{0, 0xff, 0xff, 0xff}}, 1},
	     FALSE,
	     "[deny dongles]",
	     "no radio dongles on this host"},
	    /* by id and serial glob: both must match */
	    {{"yubikey", 0x1050, 0x0407, 0, FALSE, FALSE, "12345", "3-2", {{0, 3, 0, 0}}, 1},
	     TRUE,
	     "[allow yubikeys]",
	     "the team's keys"},
	    {{"yubikey-other-serial", 0x1050, 0x0407, 0, FALSE, FALSE, "999", "3-2", {{0, 3, 0, 0}}, 1},
	     FALSE,
	     "[deny everything-else]",
	     "this host denies by default"},
	    {{"yubikey-no-serial", 0x1050, 0x0407, 0, FALSE, FALSE, NULL, "3-2", {{0, 3, 0, 0}}, 1},
	     FALSE,
	     "[deny everything-else]",
	     "denies by default"},
	    /* product only, serial with '?': no reason given, a default one */
	    {{"bad-serial", 0x0781, 0x5567, 0, FALSE, FALSE, "BAD1", "3-3", {STORAGE}, 1},
	     FALSE,
	     "[deny any-5567]",
	     "denied by rule '[deny any-5567]' of the policy file"},
	    /* by port glob, first match wins over a later allow */
	    {{"front-storage", 0x0781, 0x5567, 0, FALSE, FALSE, "GOOD", "1-1.4", {STORAGE}, 1},
	     FALSE,
	     "[deny front-ports]",
	     "[deny front-ports]"},
	    {{"front-prefix-only", 0x0781, 0x5567, 0, FALSE, FALSE, "GOOD", "1-10", {STORAGE}, 1},
	     TRUE,
	     "[allow storage]",
	     "storage is fine"},
	    {{"exact-port", 0x2222, 0x0001, 0xff, FALSE, FALSE, NULL, "2-3", {{0}}, 0},
	     TRUE,
	     "[allow exact-port]",
	     "allowed by rule '[allow exact-port]'"},
	    {{"exact-port-longer", 0x2222, 0x0001, 0xff, FALSE, FALSE, NULL, "2-3.1", {{0}}, 0},
	     FALSE,
	     "[deny vendor-class]",
	     "reviewed first"},
	    /* by class: of the device, or of any interface */
	    {{"vendor-interface", 0x3333, 0x0001, 0, FALSE, FALSE, NULL, "4-1", {STORAGE, {1, 0xff, 0, 0}}, 2},
	     FALSE,
	     "[deny vendor-class]",
	     "reviewed first"},
	    {{"storage", 0x0781, 0x5581, 0, FALSE, FALSE, NULL, "4-2", {STORAGE}, 1},
	     TRUE,
	     "[allow storage]",
	     "storage is fine"},
	    {{"storage-device-class", 0x0781, 0x5581, 8, FALSE, FALSE, NULL, "4-2", {{0}}, 0},
	     TRUE,
	     "[allow storage]",
	     "storage is fine"},
	    /* built-in rules come first, whatever the file says */
	    {{"hub", 0x05e3, 0x0610, 9, TRUE, FALSE, NULL, "4-3", {{0, 9, 0, 0}}, 1},
	     FALSE,
	     "builtin-hub",
	     "USB hub"},
	    {{"keyboard", 0x1050, 0x0407, 0, FALSE, FALSE, "12345", "3-2", {{0, 3, 1, 1}}, 1},
	     FALSE,
	     "builtin-hid-boot",
	     "keyboard"},
	    /* a catch-all rule matches every device */
	    {{"webcam", 0x046d, 0x0825, 0xef, FALSE, FALSE, NULL, "4-4", {{0, 0x0e, 1, 0}}, 1},
	     FALSE,
	     "[deny everything-else]",
	     "this host denies by default"},
	};

	g_assert_no_error(error);
	g_assert_nonnull(policy);
	run_check_cases(policy, cases, G_N_ELEMENTS(cases));
}

static void
test_default_rule(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *data = "[deny dongles]\nmatch-id=0bda:2838\n";
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new_from_data(data, strlen(data), &error);
	const CheckCase cases[] = {
	    {{"dongle", 0x0bda, 0x2838, 0, FALSE, FALSE, NULL, "1-1", {{0}}, 0},
	     FALSE,
	     "[deny dongles]",
	     "denied by rule"},
	    {{"other-product", 0x0bda, 0x2839, 0, FALSE, FALSE, NULL, "1-1", {{0}}, 0},
	     TRUE,
	     "default",
	     "no rule of the policy matches this device"},
	};

	g_assert_no_error(error);
	run_check_cases(policy, cases, G_N_ELEMENTS(cases));
}

/* a key given twice in a rule: GKeyFile lists it twice and its value is the
 * last one; the first was leaked (found by fuzz/fuzz-policy under LSan) */
static void
test_repeated_keys(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *data = "[deny x]\nmatch-id=0BDA:*\nreason=first\nmatch-serial=A*\n"
			    "match-port=1-1\nmatch-id=0781:5567\nreason=second\nmatch-serial=B*\n"
			    "match-port=2-*\n[deny x]\nreason=third\n";
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new_from_data(data, strlen(data), &error);
	g_autoptr(GPtrArray) lines = NULL;
	const gchar *line;

	g_assert_no_error(error);
	g_assert_nonnull(policy);
	lines = usbpass_policy_describe(policy);
	g_assert_cmpuint(lines->len, ==, 6);
	line = g_ptr_array_index(lines, 4);
	g_test_message("%s", line);
	g_assert_nonnull(strstr(line, "match-id=0781:5567"));
	g_assert_nonnull(strstr(line, "match-serial=B*"));
	g_assert_nonnull(strstr(line, "match-port=2-*"));
	g_assert_true(g_str_has_suffix(line, ": third"));
}

typedef struct {
	const gchar *name;
	const gchar *data;
	const gchar *message; /* a part of the error message */
} FailCase;

#define DO_TEST_FAIL(name, data, message) {name, data, message}

static void
test_malformed(void)
{
	const FailCase cases[] = {
	    DO_TEST_FAIL("not-a-keyfile", "this is not a key file\n", "not a valid key file"),
	    DO_TEST_FAIL("key-before-group", "match-id=0781:5567\n[deny x]\n", "not a valid key file"),
	    DO_TEST_FAIL("no-verb", "[dongles]\n", "policy group '[dongles]' is neither"),
	    DO_TEST_FAIL("bad-verb", "[permit dongles]\n", "'[permit dongles]' is neither"),
	    DO_TEST_FAIL("no-name", "[allow ]\n", "policy group '[allow ]': the rule name"),
	    DO_TEST_FAIL("verb-only", "[allow]\n", "policy group '[allow]' is neither"),
	    DO_TEST_FAIL("bad-name", "[deny two words]\n", "policy group '[deny two words]': the rule name"),
	    DO_TEST_FAIL("duplicate-name", "[allow x]\n[deny x]\n", "policy rule '[deny x]': another rule is named 'x'"),
	    DO_TEST_FAIL("unknown-key", "[deny x]\ncolour=red\n", "policy rule '[deny x]' has an unknown key 'colour'"),
	    DO_TEST_FAIL("localised-key", "[deny x]\nreason[de]=nein\n", "unknown key 'reason[de]'"),
	    DO_TEST_FAIL("id-no-colon", "[deny x]\nmatch-id=0781\n", "policy rule '[deny x]' key 'match-id': '0781' is not VVVV:PPPP"),
	    DO_TEST_FAIL("id-long", "[deny x]\nmatch-id=0781:55670\n", "key 'match-id': '0781:55670'"),
	    DO_TEST_FAIL("id-short", "[deny x]\nmatch-id=781:5567\n", "key 'match-id': '781:5567'"),
	    DO_TEST_FAIL("id-not-hex", "[deny x]\nmatch-id=zzzz:5567\n", "key 'match-id'"),
	    DO_TEST_FAIL("id-sign", "[deny x]\nmatch-id=+781:5567\n", "key 'match-id'"),
	    DO_TEST_FAIL("id-three-parts", "[deny x]\nmatch-id=0781:5567:1\n", "key 'match-id'"),
	    DO_TEST_FAIL("id-empty-side", "[deny x]\nmatch-id=:5567\n", "key 'match-id'"),
	    DO_TEST_FAIL("id-glob", "[deny x]\nmatch-id=07*:5567\n", "key 'match-id'"),
	    DO_TEST_FAIL("id-empty", "[deny x]\nmatch-id=\n", "key 'match-id': ''"),
	    DO_TEST_FAIL("class-256", "[deny x]\nmatch-class=256\n", "policy rule '[deny x]' key 'match-class': '256' is not a USB class"),
	    DO_TEST_FAIL("class-hex-256", "[deny x]\nmatch-class=0x100\n", "key 'match-class': '0x100'"),
	    DO_TEST_FAIL("class-negative", "[deny x]\nmatch-class=-1\n", "key 'match-class': '-1'"),
	    DO_TEST_FAIL("class-0x", "[deny x]\nmatch-class=0x\n", "key 'match-class': '0x'"),
	    DO_TEST_FAIL("class-word", "[deny x]\nmatch-class=hub\n", "key 'match-class': 'hub'"),
	    DO_TEST_FAIL("class-hex-garbage", "[deny x]\nmatch-class=0xg1\n", "key 'match-class'"),
	    DO_TEST_FAIL("class-trailing", "[deny x]\nmatch-class=8x\n", "key 'match-class': '8x'"),
	    DO_TEST_FAIL("serial-empty", "[deny x]\nmatch-serial=\n", "key 'match-serial': ''"),
	    DO_TEST_FAIL("port-empty", "[allow x]\nmatch-port=\n", "policy rule '[allow x]' key 'match-port'"),
	    DO_TEST_FAIL("bad-escape", "[deny x]\nreason=bad \\q escape\n", "key 'reason'"),
	    DO_TEST_FAIL("later-rule", "[allow ok]\nmatch-class=8\n[deny bad]\nmatch-class=x\n", "'[deny bad]' key 'match-class'"),
	    DO_TEST_FAIL("bad-utf8", "[deny x]\nreason=\xff\xfe\n", "policy rule '[deny x]' key 'reason'"),
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassPolicy) policy = NULL;

		g_test_message("case %s", cases[i].name);
		policy = usbpass_policy_new_from_data(cases[i].data, strlen(cases[i].data), &error);
		g_assert_null(policy);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		if (strstr(error->message, cases[i].message) == NULL)
			g_error("message '%s' lacks '%s'", error->message, cases[i].message);
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
	}
}

/* the messages name what the file holds, yet stay one printable line:
 * GKeyFile quotes bad lines raw and admits any bytes but ASCII controls in
 * group and key names (found by fuzz/fuzz-policy) */
static void
test_malformed_printable(void)
{
	const FailCase cases[] = {
	    DO_TEST_FAIL("control-line", "[deny x]\nrny all]\x01 \n", "not a valid key file"),
	    DO_TEST_FAIL("escape-line", "[deny x]\n\x1b[2J\x9b\n", "not a valid key file"),
	    DO_TEST_FAIL("invalid-utf8-group", "[deny \xe0x]\n", "the rule name"),
	    DO_TEST_FAIL("c1-group", "[deny \xc2\x9bx]\n", "the rule name"),
	    DO_TEST_FAIL("bad-escape-odd-key", "[deny x]\n\xff\xc2\x85=\\q\n", "is not UTF-8 text"),
	    DO_TEST_FAIL("serial-newline", "[deny x]\nmatch-serial=AB\\nC\n", "key 'match-serial': 'AB C'"),
	    DO_TEST_FAIL("serial-control", "[deny x]\nmatch-serial=4C53\x11*\n", "key 'match-serial'"),
	    DO_TEST_FAIL("port-c1", "[allow x]\nmatch-port=1-\xc2\x9b" "1\n", "key 'match-port'"),
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassPolicy) policy = NULL;

		g_test_message("case %s", cases[i].name);
		policy = usbpass_policy_new_from_data(cases[i].data, strlen(cases[i].data), &error);
		g_assert_null(policy);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		if (strstr(error->message, cases[i].message) == NULL)
			g_error("message '%s' lacks '%s'", error->message, cases[i].message);
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		for (const gchar *p = error->message; *p != '\0'; p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			g_assert_false(c < 0x20 || (c >= 0x7f && c < 0xa0));
		}
	}
}

static void
test_limits(void)
{
	g_autoptr(GString) many = g_string_new(NULL);
	g_autofree gchar *huge = g_strnfill(1024 * 1024 + 1, '#');
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPolicy) too_many = NULL;
	g_autoptr(UsbpassPolicy) too_big = NULL;
	g_autoptr(UsbpassPolicy) most = NULL;
	g_autoptr(GPtrArray) lines = NULL;

	for (guint i = 0; i < 1025; i++)
		g_string_append_printf(many, "[deny r%u]\nmatch-class=%u\n", i, i % 256);
	too_many = usbpass_policy_new_from_data(many->str, many->len, &error);
	g_assert_null(too_many);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "1025 rules, more than the 1024 allowed"));
	g_clear_error(&error);

	too_big = usbpass_policy_new_from_data(huge, strlen(huge), &error);
	g_assert_null(too_big);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "more than the 1048576 allowed"));
	g_clear_error(&error);

	/* 1024 rules are fine */
	g_string_truncate(many, 0);
	for (guint i = 0; i < 1024; i++)
		g_string_append_printf(many, "[deny r%u]\nmatch-class=%u\n", i, i % 256);
	most = usbpass_policy_new_from_data(many->str, many->len, &error);
	g_assert_no_error(error);
	lines = usbpass_policy_describe(most);
	g_assert_cmpuint(lines->len, ==, 4 + 1024 + 1);
}

static void
test_describe(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UsbpassPolicy) builtin = usbpass_policy_new();
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new_from_data(operator_policy, (gsize)-1, &error);
	g_autoptr(GPtrArray) builtin_lines = usbpass_policy_describe(builtin);
	g_autoptr(GPtrArray) lines = NULL;
	const gchar *expected_prefixes[] = {
	    "deny builtin-root-hub (root hubs): ",
	    "deny builtin-hub (hubs (device or interface class 9)): USB hub: ",
	    "deny builtin-hid-boot (HID boot keyboards and mice",
	    "deny builtin-mounted-filesystem (devices holding a mounted filesystem of the host): ",
	    "deny [deny dongles] (match-id=0bda:*): no radio dongles on this host",
	    "allow [allow yubikeys] (match-id=1050:0407 match-serial=1234*): the team's keys",
	    "deny [deny any-5567] (match-id=*:5567 match-serial=BAD?): denied",
	    "deny [deny front-ports] (match-port=1-1.*): denied",
	    "allow [allow exact-port] (match-port=2-3): allowed",
	    "deny [deny vendor-class] (match-class=0xff): vendor-specific",
	    "allow [allow storage] (match-class=0x08): storage is fine",
	    "deny [deny everything-else] (every device): this host denies by default",
	    "allow default (every other device): ",
	};

	g_assert_no_error(error);
	g_assert_cmpuint(builtin_lines->len, ==, 5);
	g_assert_cmpstr(g_ptr_array_index(builtin_lines, 4),
			==,
			"allow default (every other device): no rule of the policy matches this device");
	lines = usbpass_policy_describe(policy);
	g_assert_cmpuint(lines->len, ==, G_N_ELEMENTS(expected_prefixes));
	for (guint i = 0; i < lines->len; i++) {
		const gchar *line = g_ptr_array_index(lines, i);
		if (!g_str_has_prefix(line, expected_prefixes[i]))
			g_error("line %u '%s' does not start with '%s'", i, line, expected_prefixes[i]);
	}
}

static void
test_from_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *example = g_test_build_filename(G_TEST_DIST, "..", "data", "policy.conf", NULL);
	g_autofree gchar *tmpdir = g_dir_make_tmp("usbpass-policy-XXXXXX", &error);
	g_autofree gchar *bad = g_build_filename(tmpdir, "bad.conf", NULL);
	g_autofree gchar *missing = g_build_filename(tmpdir, "missing.conf", NULL);
	g_autofree gchar *huge = g_build_filename(tmpdir, "huge.conf", NULL);
	g_autofree gchar *huge_data = g_strnfill(1024 * 1024 + 10, '#');
	g_autoptr(UsbpassPolicy) policy = NULL;
	g_autoptr(UsbpassPolicy) failed = NULL;
	g_autoptr(GPtrArray) lines = NULL;

	g_assert_no_error(error);

	/* the documented example loads, every key in it */
	policy = usbpass_policy_new_from_file(example, &error);
	g_assert_no_error(error);
	g_assert_nonnull(policy);
	lines = usbpass_policy_describe(policy);
	g_assert_cmpuint(lines->len, >, 5);

	failed = usbpass_policy_new_from_file(missing, &error);
	g_assert_null(failed);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "missing.conf"));
	g_clear_error(&error);

	g_assert_true(g_file_set_contents(bad, "[deny x]\nmatch-port=\n", -1, NULL));
	failed = usbpass_policy_new_from_file(bad, &error);
	g_assert_null(failed);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, "policy file '"));
	g_assert_nonnull(strstr(error->message, "bad.conf': policy rule '[deny x]' key 'match-port'"));
	g_clear_error(&error);

	g_assert_true(g_file_set_contents(huge, huge_data, -1, NULL));
	failed = usbpass_policy_new_from_file(huge, &error);
	g_assert_null(failed);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "more than the 1048576 allowed"));
	g_clear_error(&error);

	/* a directory is not a policy file */
	failed = usbpass_policy_new_from_file(tmpdir, &error);
	g_assert_null(failed);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_clear_error(&error);

	g_unlink(bad);
	g_unlink(huge);
	g_rmdir(tmpdir);
}

/* mounted filesystems: a fake sysfs tree and fake mountinfo files */

#define PCI "devices/pci0000:00/0000:00:14.0"

typedef struct {
	gchar *tmpdir;
	gchar *sys;
} SysfsFixture;

static void
write_file(const gchar *path, const gchar *contents)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;
	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

/* a block device at @devpath (relative to sys) and its /sys/class/block link */
static void
add_block(SysfsFixture *fx, const gchar *devpath, const gchar *majmin)
{
	g_autofree gchar *dev = g_build_filename(fx->sys, devpath, "dev", NULL);
	g_autofree gchar *name = g_path_get_basename(devpath);
	g_autofree gchar *link = g_build_filename(fx->sys, "class", "block", name, NULL);
	g_autofree gchar *target = g_build_filename("..", "..", devpath, NULL);
	g_autofree gchar *contents = g_strdup_printf("%s\n", majmin);

	write_file(dev, contents);
	g_assert_cmpint(symlink(target, link), ==, 0);
}

static void
add_holder(SysfsFixture *fx, const gchar *devpath, const gchar *holder_devpath)
{
	g_autofree gchar *holder_name = g_path_get_basename(holder_devpath);
	g_autofree gchar *dir = g_build_filename(fx->sys, devpath, "holders", NULL);
	g_autofree gchar *link = g_build_filename(dir, holder_name, NULL);
	g_autofree gchar *target = g_build_filename(fx->sys, holder_devpath, NULL);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_assert_cmpint(symlink(target, link), ==, 0);
}

static void
rm_rf(const gchar *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			rm_rf(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

#define DISK_2_1  PCI "/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
#define DISK_2_10 PCI "/usb2/2-10/2-10:1.0/host7/target7:0:0/7:0:0:0/block/sdc"
#define DISK_2_2  PCI "/usb2/2-2/2-2:1.0/host8/target8:0:0/8:0:0:0/block/sdd"
#define DISK_SATA "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
#define DM_0	  "devices/virtual/block/dm-0"

static void
sysfs_setup(SysfsFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *class_block = NULL;

	fx->tmpdir = g_dir_make_tmp("usbpass-policy-XXXXXX", &error);
	g_assert_no_error(error);
	fx->sys = g_build_filename(fx->tmpdir, "sys", NULL);
	class_block = g_build_filename(fx->sys, "class", "block", NULL);
	g_assert_cmpint(g_mkdir_with_parents(class_block, 0755), ==, 0);

	/* 2-1: a stick with a partition that carries a dm-crypt volume */
	add_block(fx, DISK_2_1, "8:16");
	add_block(fx, DISK_2_1 "/sdb1", "8:17");
	add_block(fx, DISK_2_1 "/sdb2", "8:18");
	add_block(fx, DM_0, "254:0");
	add_holder(fx, DISK_2_1 "/sdb2", DM_0);
	/* 2-10: a name that 2-1 is a string prefix of */
	add_block(fx, DISK_2_10, "8:32");
	add_block(fx, DISK_2_10 "/sdc1", "8:33");
	/* 2-2: a stick with no partition table */
	add_block(fx, DISK_2_2, "8:48");
	/* the host's own disk */
	add_block(fx, DISK_SATA, "8:0");
	add_block(fx, DISK_SATA "/sda1", "8:1");
}

static void
sysfs_teardown(SysfsFixture *fx, gconstpointer user_data)
{
	rm_rf(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->sys);
}

#define MI_ROOT	 "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define MI_PROC	 "23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
#define MI_SDB1	 "40 22 8:17 / /media/my\\040stick rw,nosuid shared:30 - vfat /dev/sdb1 rw\n"
#define MI_DM	 "41 22 254:0 / /home/secret rw shared:31 - ext4 /dev/mapper/luks-1 rw\n"
#define MI_BTRFS "42 22 0:45 /@ /data rw shared:32 - btrfs /dev/sdb1 rw,ssd\n"
#define MI_SDC1	 "43 22 8:33 / /media/other rw shared:33 - vfat /dev/sdc1 rw\n"
#define MI_SDD	 "44 22 8:48 / /mnt/whole\\011disk rw shared:34 - ext4 /dev/sdd rw\n"
#define MI_OPT	 "45 22 8:17 / /media/opt rw shared:35 master:2 propagate_from:3 - vfat /dev/sdb1 rw\n"
#define MI_JUNK	 "garbage\n\n1 2\n46 22 8:99 / /x rw - \n"

typedef struct {
	const gchar *name;
	const gchar *port;      /* of the USB device under PCI/usb2 */
	const gchar *mountinfo; /* NULL: the file does not exist */
	gboolean allowed;
	const gchar *reason;
} MountCase;

static void
test_mounted(SysfsFixture *fx, gconstpointer user_data)
{
	const MountCase cases[] = {
	    {"partition", "2-1", MI_ROOT MI_PROC MI_SDB1, FALSE, "filesystem '/media/my stick' (sdb1)"},
	    {"holder", "2-1", MI_ROOT MI_DM, FALSE, "filesystem '/home/secret' (dm-0)"},
	    {"btrfs-by-source", "2-1", MI_ROOT MI_BTRFS, FALSE, "filesystem '/data' (sdb1)"},
	    {"optional-fields", "2-1", MI_ROOT MI_OPT, FALSE, "filesystem '/media/opt' (sdb1)"},
	    {"other-stick-mounted", "2-1", MI_ROOT MI_SDC1 MI_SDD, TRUE, "no rule"},
	    {"prefix-is-not-parent", "2-10", MI_ROOT MI_SDC1, FALSE, "'/media/other' (sdc1)"},
	    {"whole-disk", "2-2", MI_ROOT MI_SDD, FALSE, "filesystem '/mnt/whole disk' (sdd)"},
	    {"nothing-mounted", "2-1", MI_ROOT MI_PROC, TRUE, "no rule"},
	    {"junk-lines", "2-1", MI_JUNK MI_ROOT, TRUE, "no rule"},
	    {"no-disk", "2-3", MI_ROOT MI_SDB1, TRUE, "no rule"},
	    {"unreadable-mountinfo", "2-1", NULL, FALSE, "cannot tell whether it holds a mounted filesystem"},
	    {"no-disk-unreadable-mountinfo", "2-3", NULL, TRUE, "no rule"},
	};
	g_autofree gchar *mountinfo = g_build_filename(fx->tmpdir, "mountinfo", NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(UsbpassPolicy) policy = usbpass_policy_new();
		g_autoptr(UsbpassDevice) device = usbpass_device_new();
		g_autoptr(UsbpassPolicyVerdict) verdict = NULL;

		g_test_message("case %s", cases[i].name);
		g_unlink(mountinfo);
		if (cases[i].mountinfo != NULL)
			write_file(mountinfo, cases[i].mountinfo);
		usbpass_policy_set_mountinfo_path(policy, mountinfo);
		usbpass_policy_set_sysfs_path(policy, fx->sys);
		device->vendor_id = 0x0781;
		device->product_id = 0x5567;
		device->port = g_strdup(cases[i].port);
		device->syspath = g_strdup_printf("/sys/" PCI "/usb2/%s", cases[i].port);
		verdict = usbpass_policy_check(policy, device);
		g_assert_cmpint(verdict->allowed, ==, cases[i].allowed);
		g_assert_cmpstr(verdict->rule, ==, cases[i].allowed ? "default" : "builtin-mounted-filesystem");
		if (strstr(verdict->reason, cases[i].reason) == NULL)
			g_error("reason '%s' lacks '%s'", verdict->reason, cases[i].reason);
	}
}

/* without a setter: $UMOCKDEV_DIR/sys stands for /sys, as under umockdev */
static void
test_mounted_umockdev_dir(SysfsFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *mountinfo = g_build_filename(fx->tmpdir, "mountinfo", NULL);
	g_autofree gchar *saved = g_strdup(g_getenv("UMOCKDEV_DIR"));
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new();
	g_autoptr(UsbpassDevice) device = usbpass_device_new();
	g_autoptr(UsbpassDevice) no_syspath = usbpass_device_new();
	g_autoptr(UsbpassPolicyVerdict) verdict = NULL;
	g_autoptr(UsbpassPolicyVerdict) verdict_no_syspath = NULL;

	write_file(mountinfo, MI_ROOT MI_SDB1);
	usbpass_policy_set_mountinfo_path(policy, mountinfo);
	device->syspath = g_strdup("/sys/" PCI "/usb2/2-1");
	g_setenv("UMOCKDEV_DIR", fx->tmpdir, TRUE);
	verdict = usbpass_policy_check(policy, device);
	verdict_no_syspath = usbpass_policy_check(policy, no_syspath);
	if (saved != NULL)
		g_setenv("UMOCKDEV_DIR", saved, TRUE);
	else
		g_unsetenv("UMOCKDEV_DIR");
	g_assert_false(verdict->allowed);
	g_assert_cmpstr(verdict->rule, ==, "builtin-mounted-filesystem");
	/* a device known only from the store has no syspath: nothing to find */
	g_assert_true(verdict_no_syspath->allowed);
}

/* the mounted check runs after the hub rule: a hub with a mounted stick behind it is a hub */
static void
test_mounted_order(SysfsFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *mountinfo = g_build_filename(fx->tmpdir, "mountinfo", NULL);
	g_autoptr(UsbpassPolicy) policy = usbpass_policy_new();
	g_autoptr(UsbpassDevice) root_hub = usbpass_device_new();
	g_autoptr(UsbpassPolicyVerdict) verdict = NULL;

	write_file(mountinfo, MI_ROOT MI_SDB1);
	usbpass_policy_set_mountinfo_path(policy, mountinfo);
	usbpass_policy_set_sysfs_path(policy, fx->sys);
	root_hub->syspath = g_strdup("/sys/" PCI "/usb2");
	root_hub->is_root_hub = TRUE;
	root_hub->is_hub = TRUE;
	root_hub->device_class = 9;
	root_hub->bus = 2;
	verdict = usbpass_policy_check(policy, root_hub);
	g_assert_false(verdict->allowed);
	g_assert_cmpstr(verdict->rule, ==, "builtin-root-hub");
	g_assert_nonnull(strstr(verdict->reason, "every device of bus 2"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/usbpass/policy/builtin", test_builtin);
	g_test_add_func("/usbpass/policy/operator-rules", test_operator_rules);
	g_test_add_func("/usbpass/policy/operator-rules{default}", test_default_rule);
	g_test_add_func("/usbpass/policy/malformed", test_malformed);
	g_test_add_func("/usbpass/policy/malformed{limits}", test_limits);
	g_test_add_func("/usbpass/policy/malformed{printable}", test_malformed_printable);
	g_test_add_func("/usbpass/policy/repeated-keys", test_repeated_keys);
	g_test_add_func("/usbpass/policy/describe", test_describe);
	g_test_add_func("/usbpass/policy/from-file", test_from_file);
	g_test_add("/usbpass/policy/mounted", SysfsFixture, NULL, sysfs_setup, test_mounted, sysfs_teardown);
	g_test_add("/usbpass/policy/mounted{umockdev-dir}",
		   SysfsFixture,
		   NULL,
		   sysfs_setup,
		   test_mounted_umockdev_dir,
		   sysfs_teardown);
	g_test_add("/usbpass/policy/mounted{after-hubs}",
		   SysfsFixture,
		   NULL,
		   sysfs_setup,
		   test_mounted_order,
		   sysfs_teardown);
	return g_test_run();
}

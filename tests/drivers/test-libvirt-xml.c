/*
 * test-libvirt-xml.c: building and reading libvirt's <hostdev> XML
 *
 * Fixtures are in tests/data/domain-*.xml, taken from libvirt 9.0's dumpxml
 * and trimmed; the garbled ones are hand-made.
 */
#include "config.h"

#include <string.h>

#include "usbpass-error.h"
#include "usbpass-libvirt-xml.h"

static gchar *
load_fixture(const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(g_getenv("USBPASS_TEST_DATA"), name, NULL);
	gchar *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
	g_assert_no_error(error);
	return contents;
}

static UsbpassHostdev *
hostdev_new(guint16 vendor_id, guint16 product_id, guint bus, guint device)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = vendor_id;
	hostdev->product_id = product_id;
	hostdev->bus = bus;
	hostdev->device = device;
	return hostdev;
}

typedef struct {
	guint16 vendor_id, product_id;
	guint bus, device;
	const gchar *expected; /* NULL: INVALID_DATA */
} BuildCase;

static void
test_build(void)
{
	const BuildCase cases[] = {
		{ 0x0781,
		  0x5567,
		  1,
		  4,
		  "<hostdev mode=\"subsystem\" type=\"usb\" managed=\"yes\"><source "
		  "startupPolicy=\"optional\">"
		  "<vendor id=\"0x0781\"/><product id=\"0x5567\"/><address bus=\"1\" "
		  "device=\"4\"/></source><alias name=\"ua-usbpass-0781-5567-1-4\"/></hostdev>" },
		{ 0xabcd,
		  0x0001,
		  0,
		  0,
		  "<hostdev mode=\"subsystem\" type=\"usb\" managed=\"yes\"><source "
		  "startupPolicy=\"optional\">"
		  "<vendor id=\"0xabcd\"/><product id=\"0x0001\"/></source>"
		  "<alias name=\"ua-usbpass-abcd-0001-0-0\"/></hostdev>" },
		{ 0,
		  0,
		  255,
		  127,
		  "<hostdev mode=\"subsystem\" type=\"usb\" managed=\"yes\"><source "
		  "startupPolicy=\"optional\">"
		  "<address bus=\"255\" device=\"127\"/></source>"
		  "<alias name=\"ua-usbpass-0000-0000-255-127\"/></hostdev>" },
		{ 0, 0, 0, 0, NULL },
		{ 0x0781, 0x5567, 1, 0, NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassHostdev) hostdev = hostdev_new(
		  cases[i].vendor_id, cases[i].product_id, cases[i].bus, cases[i].device);
		g_autofree gchar *xml = NULL;

		/* scope, missing and alias are not part of what is attached: the
		 * alias is always usbpass's own mark */
		hostdev->missing = TRUE;
		hostdev->alias = g_strdup("hostdev9");
		xml = usbpass_libvirt_xml_build_hostdev(hostdev, &error);
		if (cases[i].expected == NULL) {
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
			g_assert_null(xml);
			continue;
		}
		g_assert_no_error(error);
		g_assert_cmpstr(xml, ==, cases[i].expected);
	}
}

typedef struct {
	guint16 vendor_id, product_id;
	guint bus, device;
	gboolean missing;
	const gchar *alias;
} ParsedEntry;

static void
assert_entries(GPtrArray *hostdevs, const ParsedEntry *expected, guint n_expected, gboolean live)
{
	g_assert_cmpuint(hostdevs->len, ==, n_expected);
	for (guint i = 0; i < n_expected; i++) {
		UsbpassHostdev *hostdev = g_ptr_array_index(hostdevs, i);
		g_assert_cmpuint(hostdev->vendor_id, ==, expected[i].vendor_id);
		g_assert_cmpuint(hostdev->product_id, ==, expected[i].product_id);
		g_assert_cmpuint(hostdev->bus, ==, expected[i].bus);
		g_assert_cmpuint(hostdev->device, ==, expected[i].device);
		g_assert_cmpint(hostdev->missing, ==, expected[i].missing);
		g_assert_cmpstr(hostdev->alias, ==, expected[i].alias);
		g_assert_cmpint(hostdev->live, ==, live);
		g_assert_cmpint(hostdev->persistent, ==, !live);
	}
}

static void
test_parse_live(void)
{
	const ParsedEntry expected[] = {
		{ 0x0781, 0x5567, 1, 4, TRUE, "hostdev0" },
		{ 0x046d, 0xc52b, 3, 17, FALSE, "ua-receiver" },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = load_fixture("domain-live.xml");
	g_autoptr(GPtrArray) hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error);

	g_assert_no_error(error);
	/* the PCI hostdev and the redirdev are not USB hostdevs */
	assert_entries(hostdevs, expected, G_N_ELEMENTS(expected), TRUE);
}

static void
test_parse_inactive(void)
{
	const ParsedEntry expected[] = {
		{ 0x0781, 0x5567, 0, 0, FALSE, NULL },
		{ 0, 0, 2, 9, FALSE, NULL },
		{ 0x0781, 0x5567, 1, 5, FALSE, NULL },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = load_fixture("domain-inactive.xml");
	g_autoptr(GPtrArray) hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, FALSE, &error);

	g_assert_no_error(error);
	assert_entries(hostdevs, expected, G_N_ELEMENTS(expected), FALSE);
}

static void
test_parse_placeholder(void)
{
	const ParsedEntry expected[] = {
		{ 0, 0, 0, 0, TRUE, "hostdev0" },
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = load_fixture("domain-placeholder.xml");
	g_autoptr(GPtrArray) hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error);
	g_autoptr(UsbpassHostdev) request = hostdev_new(0, 0, 0, 0);
	g_autoptr(UsbpassHostdev) real = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(GPtrArray) found = NULL;
	g_autoptr(GPtrArray) not_found = NULL;

	g_assert_no_error(error);
	assert_entries(hostdevs, expected, G_N_ELEMENTS(expected), TRUE);

	/* a placeholder usbpass did not write is never found, not even by a
	 * request without ids; it holds no device */
	g_assert_false(((UsbpassHostdev *)g_ptr_array_index(hostdevs, 0))->owned);
	g_assert_false(usbpass_hostdev_holds(g_ptr_array_index(hostdevs, 0), real));
	found = usbpass_libvirt_xml_find_hostdevs(xml, request, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(found->len, ==, 0);
	not_found = usbpass_libvirt_xml_find_hostdevs(xml, real, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(not_found->len, ==, 0);
}

/* usbpass's own placeholder, marked with the alias it wrote for the device:
 * found by that alias (the device it was written for), nothing else */
static void
test_parse_owned_placeholder(void)
{
	const gchar *xml =
	  "<domain><devices><hostdev mode='subsystem' type='usb' managed='yes'>"
	  "<source startupPolicy='optional' missing='yes'/>"
	  "<alias name='ua-usbpass-0781-5567-1-4'/></hostdev></devices></domain>";
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) hostdevs = usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error);
	g_autoptr(UsbpassHostdev) device = hostdev_new(0x0781, 0x5567, 1, 4);
	g_autoptr(UsbpassHostdev) other = hostdev_new(0x0781, 0x5567, 1, 5);
	g_autoptr(UsbpassHostdev) no_ids = hostdev_new(0, 0, 0, 0);
	g_autoptr(GPtrArray) found = NULL;
	g_autoptr(GPtrArray) not_found = NULL;
	g_autoptr(GPtrArray) nor_this = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	g_assert_true(((UsbpassHostdev *)g_ptr_array_index(hostdevs, 0))->owned);
	g_assert_false(usbpass_hostdev_holds(g_ptr_array_index(hostdevs, 0), device));
	found = usbpass_libvirt_xml_find_hostdevs(xml, device, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(found->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(found, 0), "missing=\"yes\""));
	not_found = usbpass_libvirt_xml_find_hostdevs(xml, other, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(not_found->len, ==, 0);
	nor_this = usbpass_libvirt_xml_find_hostdevs(xml, no_ids, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(nor_this->len, ==, 0);
}

typedef struct {
	const gchar *name;
	const gchar *xml; /* NULL: the fixture named */
} GarbageCase;

static void
test_parse_garbage(void)
{
	const GarbageCase cases[] = {
		{ "domain-garbage.xml", NULL },
		{ "domain-bad-ids.xml", NULL },
		{ "empty", "" },
		{ "not xml", "hello" },
		{ "unclosed", "<domain><devices>" },
		{ "wrong root", "<network><devices/></network>" },
		{ "dtd",
		  "<!DOCTYPE domain [<!ENTITY v \"0x0781\">]><domain><devices><hostdev "
		  "mode='subsystem' type='usb'>"
		  "<source><vendor id='&v;'/><product "
		  "id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor 0x only",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor too big",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x12345'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor negative",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x-1'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor not hex",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0xgg'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor 0",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x0'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor bad octal",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0781'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor plus",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='+1'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "vendor 0x0x",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x0x1'/><product id='0x1'/></source></hostdev></devices></domain>" },
		{ "no mode, bus only",
		  "<domain><devices><hostdev type='usb'><source><address "
		  "bus='1'/></source></hostdev></devices></domain>" },
		{ "product trailing",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x0781'/><product id='0x1z'/></source></hostdev></devices></domain>" },
		{ "vendor only",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor "
		  "id='0x0781'/></source></hostdev></devices></domain>" },
		{ "bus negative",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address bus='-1' "
		  "device='4'/></source></hostdev></devices></domain>" },
		{ "bus fraction",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address "
		  "bus='1.5' device='4'/></source></hostdev></devices></domain>" },
		{ "bus space",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address "
		  "bus=' 1' device='4'/></source></hostdev></devices></domain>" },
		{ "device huge",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address bus='1' "
		  "device='99999999999'/></source></hostdev></devices></domain>" },
		{ "device empty",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address bus='1' "
		  "device=''/></source></hostdev></devices></domain>" },
		{ "bus only",
		  "<domain><devices><hostdev mode='subsystem' type='usb'><source><address "
		  "bus='1'/></source></hostdev></devices></domain>" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *xml =
		  cases[i].xml == NULL ? load_fixture(cases[i].name) : g_strdup(cases[i].xml);
		g_autoptr(GPtrArray) hostdevs =
		  usbpass_libvirt_xml_parse_hostdevs(xml, TRUE, &error);
		g_autoptr(UsbpassHostdev) hostdev = hostdev_new(0x0781, 0x5567, 1, 4);
		g_autoptr(GPtrArray) found = NULL;
		g_autofree gchar *added = NULL;
		g_autofree gchar *removed = NULL;

		g_test_message("case '%s'", cases[i].name);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_null(hostdevs);
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		g_clear_error(&error);
		/* every entry point refuses it the same way */
		found = usbpass_libvirt_xml_find_hostdevs(xml, hostdev, &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_null(found);
		g_clear_error(&error);
		removed = usbpass_libvirt_xml_remove_hostdevs(xml, hostdev, NULL, &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
		g_assert_null(removed);
		g_clear_error(&error);
		/* add reads no hostdev, so only malformed documents fail there */
		added = usbpass_libvirt_xml_add_hostdev(xml, hostdev, &error);
		if (added == NULL)
			g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	}
}

static void
test_parse_limits(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) big = g_string_new("<domain><devices>");
	g_autoptr(GPtrArray) hostdevs = NULL;
	g_autoptr(GPtrArray) none = NULL;
	const gchar *hostile =
	  "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor id='0x0781'/>"
	  "<product id='0x5567'/></source><alias "
	  "name='a&#x9;[31mb&#x7f;c&#x85;d\xc3\xa9'/></hostdev></devices></domain>";
	UsbpassHostdev *hostdev;

	/* over the cap: refused before parsing */
	while (big->len <= USBPASS_LIBVIRT_XML_MAX_BYTES)
		g_string_append(big,
				"<x/><!-- padding padding padding padding padding padding -->");
	g_string_append(big, "</devices></domain>");
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(big->str, TRUE, &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_null(hostdevs);
	g_clear_error(&error);

	/* control characters in the alias are made harmless */
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(hostile, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 1);
	hostdev = g_ptr_array_index(hostdevs, 0);
	g_assert_cmpstr(hostdev->alias, ==, "a [31mb c d\xc3\xa9");

	/* a domain without devices has no hostdevs */
	none = usbpass_libvirt_xml_parse_hostdevs("<domain/>", FALSE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
}

typedef struct {
	guint16 vendor_id, product_id;
	guint bus, device;
	guint n_found;
	const gchar *alias; /* of the first found, or NULL */
} FindCase;

static void
test_find(void)
{
	const FindCase cases[] = {
		{ 0x0781, 0x5567, 1, 4, 1, "ua-usbpass-0781-5567-1-4" },
		{ 0x046d, 0xc52b, 3, 17, 1, "ua-usbpass-046d-c52b-3-17" },
		/* a request without an address matches the ids at any address */
		{ 0x046d, 0xc52b, 0, 0, 1, "ua-usbpass-046d-c52b-3-17" },
		{ 0x0781, 0x5567, 1, 5, 0, NULL },
		{ 0x1234, 0x5678, 1, 4, 0, NULL },
		{ 0, 0, 1, 4, 0, NULL },
	};
	g_autofree gchar *fixture = load_fixture("domain-live.xml");
	g_autofree gchar *xml = NULL;

	/* the fixture's entries were not written by usbpass: never found */
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassHostdev) hostdev = hostdev_new(
		  cases[i].vendor_id, cases[i].product_id, cases[i].bus, cases[i].device);
		g_autoptr(GPtrArray) found =
		  usbpass_libvirt_xml_find_hostdevs(fixture, hostdev, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(found->len, ==, 0);
	}
	/* the same devices as usbpass writes them, guest address as libvirt adds it */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassHostdev) stick = hostdev_new(0x0781, 0x5567, 1, 4);
		g_autoptr(UsbpassHostdev) receiver = hostdev_new(0x046d, 0xc52b, 3, 17);
		g_autofree gchar *one = usbpass_libvirt_xml_add_hostdev(fixture, stick, &error);
		g_autofree gchar *two = NULL;
		g_autoptr(GString) guest = NULL;
		g_assert_no_error(error);
		two = usbpass_libvirt_xml_add_hostdev(one, receiver, &error);
		g_assert_no_error(error);
		guest = g_string_new(two);
		/* usbpass's elements are the only ones ending in "/></hostdev>" */
		g_string_replace(guest,
				 "\"/></hostdev>",
				 "\"/><address type=\"usb\" bus=\"0\" port=\"3\"/></hostdev>",
				 0);
		xml = g_string_free(g_steal_pointer(&guest), FALSE);
	}

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassHostdev) hostdev = hostdev_new(
		  cases[i].vendor_id, cases[i].product_id, cases[i].bus, cases[i].device);
		g_autoptr(GPtrArray) found =
		  usbpass_libvirt_xml_find_hostdevs(xml, hostdev, &error);

		g_assert_no_error(error);
		g_assert_cmpuint(found->len, ==, cases[i].n_found);
		if (cases[i].alias != NULL) {
			const gchar *element = g_ptr_array_index(found, 0);
			g_autofree gchar *alias =
			  g_strdup_printf("<alias name=\"%s\"/>", cases[i].alias);
			g_autofree gchar *wrapped =
			  g_strdup_printf("<domain><devices>%s</devices></domain>", element);
			g_autoptr(GPtrArray) reparsed = NULL;

			/* the document's own element, alias and guest address included */
			g_assert_true(
			  g_str_has_prefix(element, "<hostdev mode=\"subsystem\" type=\"usb\""));
			g_assert_nonnull(strstr(element, alias));
			g_assert_nonnull(strstr(element, "<address type=\"usb\""));
			reparsed = usbpass_libvirt_xml_parse_hostdevs(wrapped, TRUE, &error);
			g_assert_no_error(error);
			g_assert_cmpuint(reparsed->len, ==, 1);
			g_assert_true(
			  usbpass_hostdev_matches(g_ptr_array_index(reparsed, 0), hostdev));
		}
	}
}

static void
test_add_remove(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = load_fixture("domain-inactive.xml");
	g_autoptr(UsbpassHostdev) added_dev = hostdev_new(0x1d6b, 0x0104, 4, 2);
	g_autoptr(UsbpassHostdev) ids_only = hostdev_new(0x0781, 0x5567, 0, 0);
	g_autoptr(UsbpassHostdev) absent = hostdev_new(0x1111, 0x2222, 7, 7);
	g_autoptr(UsbpassHostdev) invalid = hostdev_new(0, 0, 0, 0);
	g_autofree gchar *added = NULL;
	g_autofree gchar *removed = NULL;
	g_autofree gchar *removed_ids = NULL;
	g_autofree gchar *unchanged = NULL;
	g_autofree gchar *nothing = NULL;
	g_autoptr(GPtrArray) hostdevs = NULL;
	UsbpassHostdev *last;
	guint n_removed = 99;

	added = usbpass_libvirt_xml_add_hostdev(xml, added_dev, &error);
	g_assert_no_error(error);
	/* the rest of the document is kept */
	g_assert_nonnull(strstr(added, "<name>usbpass-inactive</name>"));
	g_assert_nonnull(strstr(added, "<uuid>3f7c1bde-5a48-4c7e-9f0a-2b6d8e1c9a40</uuid>"));
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(added, FALSE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 4);
	last = g_ptr_array_index(hostdevs, 3);
	g_assert_true(usbpass_hostdev_matches(last, added_dev));
	g_assert_cmpuint(last->bus, ==, 4);
	g_clear_pointer(&hostdevs, g_ptr_array_unref);

	removed = usbpass_libvirt_xml_remove_hostdevs(added, added_dev, &n_removed, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(n_removed, ==, 1);
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(removed, FALSE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 3);
	g_clear_pointer(&hostdevs, g_ptr_array_unref);

	/* ids only: the fixture's elements with those ids were not written by
	 * usbpass, so none goes */
	removed_ids = usbpass_libvirt_xml_remove_hostdevs(removed, ids_only, &n_removed, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(n_removed, ==, 0);
	hostdevs = usbpass_libvirt_xml_parse_hostdevs(removed_ids, FALSE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hostdevs->len, ==, 3);

	unchanged = usbpass_libvirt_xml_remove_hostdevs(xml, absent, &n_removed, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(n_removed, ==, 0);

	/* failures */
	nothing = usbpass_libvirt_xml_add_hostdev(xml, invalid, &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_null(nothing);
	g_clear_error(&error);
	nothing =
	  usbpass_libvirt_xml_add_hostdev("<domain><name>x</name></domain>", added_dev, &error);
	g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_INVALID_DATA);
	g_assert_null(nothing);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/usbpass/drivers/xml/build", test_build);
	g_test_add_func("/usbpass/drivers/xml/parse{live}", test_parse_live);
	g_test_add_func("/usbpass/drivers/xml/parse{inactive}", test_parse_inactive);
	g_test_add_func("/usbpass/drivers/xml/parse{placeholder}", test_parse_placeholder);
	g_test_add_func("/usbpass/drivers/xml/parse{owned-placeholder}",
			test_parse_owned_placeholder);
	g_test_add_func("/usbpass/drivers/xml/parse{garbage}", test_parse_garbage);
	g_test_add_func("/usbpass/drivers/xml/parse{limits}", test_parse_limits);
	g_test_add_func("/usbpass/drivers/xml/find", test_find);
	g_test_add_func("/usbpass/drivers/xml/add-remove", test_add_remove);
	return g_test_run();
}

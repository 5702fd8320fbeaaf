/*
 * test-hostdev-corpus.c: every USB hostdev form of libvirt's grammar
 *
 * tests/data/hostdev-corpus/ holds one domain per form (written from
 * libvirt's domaincommon.rng and its parser's rules, checked against
 * libvirt 9.0). For each, with a fixed host of four devices:
^ *   in-use/FORM     the XML reader's answer: which host devices the
 *                    definition holds (usbpass_hostdev_holds()), which entries
 *                    are usbpass's, and that no entry usbpass did not write is
 *                    ever found for removal; no daemon needed
 *   libvirt/reconcile/FORM against the private libvirtd of scripts/with-libvirtd
 *                    (skipped without it): the domain is defined, the engine
 *                    reconciles over the libvirt driver, every held device's
 *                    row names the domain, every other row is available, an
 *                    attach of a held device to another domain and a detach
 *                    of a hand-written one are refused as in use, and after
 *                    all that the persistent definitions are byte for byte
 *                    what they were
 *   libvirt/reconcile/retry-after-no-free-ports: a domain whose USB ports hand-written
 *                    hostdevs fill refuses usbpass's attach; the retry leaves
 *                    them where they are (issue 9, item 2)
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <unistd.h>

#include "store/sqlite/usbpass-sqlite-store.h"
#include "usbpass-autocleanups.h"
#include "usbpass-engine.h"
#include "usbpass-error.h"
#include "usbpass-inventory-private.h"
#include "usbpass-libvirt-driver.h"
#include "usbpass-libvirt-xml.h"

#define HOST "corpus-host"

/* the host: two identical sticks, a yubikey, a device whose product id is 0 */
typedef struct {
	const gchar *port;
	guint bus, device;
	guint16 vendor_id, product_id;
} HostDevice;

enum { DEV_A = 1 << 0, DEV_B = 1 << 1, DEV_C = 1 << 2, DEV_D = 1 << 3 };

static const HostDevice host_devices[] = {
	{ "1-1", 1, 9, 0x0781, 0x5567 }, /* A */
	{ "1-2", 1, 4, 0x1050, 0x0407 }, /* B */
	{ "2-1", 2, 3, 0x0781, 0x5567 }, /* C */
	{ "3-1", 3, 2, 0x0781, 0x0000 }, /* D */
};

typedef struct {
	const gchar *form;
	gboolean live_only; /* only a running domain's XML has it: not defined */
	guint held;         /* DEV_* the definition holds */
	guint owned;        /* DEV_* held by an entry usbpass wrote */
} CorpusCase;

static const CorpusCase corpus_cases[] = {
	{ "ids-only", FALSE, DEV_A | DEV_C, 0 },
	{ "address-only", FALSE, DEV_A, 0 },
	{ "ids-and-address", FALSE, DEV_C, 0 },
	{ "address-hex", FALSE, DEV_A, 0 },
	{ "address-octal", FALSE, DEV_A, 0 },
	{ "ids-decimal", FALSE, DEV_A | DEV_C, 0 },
	{ "ids-upper-hex", FALSE, DEV_B, 0 },
	{ "product-zero", FALSE, DEV_D, 0 },
	{ "startup-mandatory", FALSE, DEV_B, 0 },
	{ "startup-requisite", FALSE, DEV_B, 0 },
	{ "startup-optional", FALSE, DEV_A, 0 },
	{ "boot-order", FALSE, DEV_B, 0 },
	{ "guest-address", FALSE, DEV_C, 0 },
	{ "no-mode", FALSE, DEV_D, 0 },
	{ "user-alias", FALSE, DEV_C, 0 },
	{ "interface-hostdev", FALSE, DEV_B, 0 },
	{ "two-forms", FALSE, DEV_B | DEV_D, 0 },
	{ "owned-and-not", FALSE, DEV_A | DEV_B, DEV_A },
	{ "non-usb", FALSE, 0, 0 },
	{ "live-missing", TRUE, DEV_A, 0 },
	{ "live-empty-source", TRUE, 0, 0 },
};

static gchar *
corpus_load(const gchar *form)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *name = g_strdup_printf("%s.xml", form);
	g_autofree gchar *path =
	  g_build_filename(g_getenv("USBPASS_TEST_DATA"), "hostdev-corpus", name, NULL);
	gchar *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
	g_assert_no_error(error);
	return contents;
}

static UsbpassHostdev *
host_hostdev(guint i)
{
	UsbpassHostdev *hostdev = usbpass_hostdev_new();
	hostdev->vendor_id = host_devices[i].vendor_id;
	hostdev->product_id = host_devices[i].product_id;
	hostdev->bus = host_devices[i].bus;
	hostdev->device = host_devices[i].device;
	return hostdev;
}

static void
test_in_use(gconstpointer user_data)
{
	const CorpusCase *tc = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = corpus_load(tc->form);
	g_autoptr(GPtrArray) entries =
	  usbpass_libvirt_xml_parse_hostdevs(xml, tc->live_only, &error);
	guint held = 0;
	guint owned = 0;

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(host_devices); i++) {
		g_autoptr(UsbpassHostdev) device = host_hostdev(i);
		g_autoptr(GPtrArray) removable = NULL;
		guint n_owned = 0;

		for (guint j = 0; j < entries->len; j++) {
			UsbpassHostdev *entry = g_ptr_array_index(entries, j);
			if (!usbpass_hostdev_holds(entry, device))
				continue;
			held |= 1u << i;
			if (entry->owned) {
				owned |= 1u << i;
				n_owned++;
			}
		}
		/* what a detach of this device would remove: usbpass's entries only */
		removable = usbpass_libvirt_xml_find_hostdevs(xml, device, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(removable->len, ==, n_owned);
	}
	g_assert_cmphex(held, ==, tc->held);
	g_assert_cmphex(owned, ==, tc->owned);
}

/* ---- against libvirtd ------------------------------------------------------ */

typedef struct {
	const gchar *uri;
	virConnectPtr conn;
	gchar *tmpdir;
	GPtrArray *names; /* of domains to undefine */
} Fixture;

static void
silent_error_func(void *user_data, virErrorPtr error)
{
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	virSetErrorFunc(NULL, silent_error_func);
	fx->names = g_ptr_array_new_with_free_func(g_free);
	fx->uri = g_getenv("USBPASS_TEST_LIBVIRT_URI");
	if (fx->uri == NULL)
		return;
	fx->conn = virConnectOpen(fx->uri);
	g_assert_nonnull(fx->conn);
	fx->tmpdir = g_dir_make_tmp("usbpass-corpus-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	for (guint i = 0; fx->conn != NULL && i < fx->names->len; i++) {
		g_autoptr(virDomain) domain =
		  virDomainLookupByName(fx->conn, g_ptr_array_index(fx->names, i));
		if (domain != NULL)
			virDomainUndefine(domain);
	}
	if (fx->tmpdir != NULL) {
		g_autoptr(GDir) dir = g_dir_open(fx->tmpdir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
			g_unlink(path);
		}
		g_rmdir(fx->tmpdir);
		g_free(fx->tmpdir);
	}
	g_ptr_array_unref(fx->names);
	if (fx->conn != NULL)
		virConnectClose(fx->conn);
}

/* defines @xml under a name of this run; Returns: (transfer full): the domain */
static virDomainPtr
define_domain(Fixture *fx, const gchar *xml, const gchar *form)
{
	g_autofree gchar *old_name = g_strdup_printf("<name>usbpass-corpus-%s</name>", form);
	g_autofree gchar *new_name = g_strdup_printf("usbpass-corpus-%d-%s", (gint)getpid(), form);
	g_autofree gchar *new_element = g_strdup_printf("<name>%s</name>", new_name);
	g_autoptr(GString) renamed = g_string_new(xml);
	virDomainPtr domain;

	g_assert_cmpuint(g_string_replace(renamed, old_name, new_element, 1), ==, 1);
	domain = virDomainDefineXML(fx->conn, renamed->str);
	if (domain == NULL)
		g_error("libvirt refused corpus form '%s': %s", form, virGetLastErrorMessage());
	g_ptr_array_add(fx->names, g_steal_pointer(&new_name));
	return domain;
}

static gchar *
domain_uuid(virDomainPtr domain)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = { 0 };
	g_assert_cmpint(virDomainGetUUIDString(domain, uuid), ==, 0);
	return g_ascii_strdown(uuid, -1);
}

static gchar *
inactive_xml(virDomainPtr domain)
{
	g_autofree gchar *xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_nonnull(xml);
	return g_strdup(xml);
}

static UsbpassInventory *
inventory_new(void)
{
	UsbpassInventory *inventory = usbpass_inventory_new_for_testing();
	g_autoptr(GPtrArray) devices =
	  g_ptr_array_new_with_free_func((GDestroyNotify)usbpass_device_unref);

	for (guint i = 0; i < G_N_ELEMENTS(host_devices); i++) {
		UsbpassDevice *device = usbpass_device_new();
		device->syspath = g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb%u/%s",
		                                  host_devices[i].bus,
		                                  host_devices[i].port);
		device->port = g_strdup(host_devices[i].port);
		device->parent_port = g_strdup_printf("usb%u", host_devices[i].bus);
		device->bus = host_devices[i].bus;
		device->device = host_devices[i].device;
		device->vendor_id = host_devices[i].vendor_id;
		device->product_id = host_devices[i].product_id;
		device->serial = g_strdup_printf("CORPUS%u", i);
		device->vendor_name = g_strdup("Vendor");
		device->product_name = g_strdup("Product");
		device->name = g_strdup("Vendor Product");
		g_ptr_array_add(devices, device);
	}
	usbpass_inventory_apply_snapshot(inventory, devices);
	return inventory;
}

static void
assert_rows(UsbpassStore *store,
            UsbpassInventory *inventory,
            const CorpusCase *tc,
            const gchar *uuid)
{
	for (guint i = 0; i < G_N_ELEMENTS(host_devices); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UsbpassDevice) device =
		  usbpass_inventory_find(inventory, host_devices[i].port, &error);
		g_autoptr(UsbpassStoreDevice) row = NULL;
		gboolean held = (tc->held & (1u << i)) != 0;

		g_assert_no_error(error);
		row = usbpass_store_get_device(store, HOST, device->id, &error);
		g_assert_no_error(error);
		g_test_message("device %s", host_devices[i].port);
		g_assert_cmpstr(
		  usbpass_device_state_to_string(row->state), ==, held ? "attached" : "available");
		/* with two holders of one form (ids only), either may be named */
		g_assert_cmpstr(row->instance_uuid, ==, held ? uuid : NULL);
	}
}

static void
test_reconcile(Fixture *fx, gconstpointer user_data)
{
	const CorpusCase *tc = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = corpus_load(tc->form);
	g_autofree gchar *other_form = g_strdup_printf("%s-other", tc->form);
	g_autofree gchar *other_xml = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autoptr(virDomain) other = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *other_name = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *other_before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *other_after = NULL;
	g_autofree gchar *db_path = NULL;
	g_autoptr(UsbpassInventory) inventory = NULL;
	g_autoptr(UsbpassStore) store = NULL;
	g_autoptr(UsbpassLibvirtDriver) driver = NULL;
	g_autoptr(UsbpassEngine) engine = NULL;
	gboolean ret;

	if (fx->uri == NULL) {
		g_test_skip("no libvirtd: run under scripts/with-libvirtd");
		return;
	}
	domain = define_domain(fx, xml, tc->form);
	uuid = domain_uuid(domain);
	/* a domain without any hostdev, to try to take the devices to */
	{
		g_autofree gchar *plain = corpus_load("non-usb");
		g_autoptr(GString) renamed = g_string_new(plain);
		g_string_replace(renamed, "usbpass-corpus-non-usb", "usbpass-corpus-OTHER", 1);
		g_string_replace(renamed, "OTHER", other_form, 1);
		other_xml = g_string_free(g_steal_pointer(&renamed), FALSE);
	}
	other = define_domain(fx, other_xml, other_form);
	other_name = g_strdup(virDomainGetName(other));
	before = inactive_xml(domain);
	other_before = inactive_xml(other);

	inventory = inventory_new();
	db_path = g_build_filename(fx->tmpdir, "usbpass.db", NULL);
	store = USBPASS_STORE(usbpass_sqlite_store_new(db_path, &error));
	g_assert_no_error(error);
	driver = usbpass_libvirt_driver_new(fx->uri);
	ret = usbpass_driver_open(USBPASS_DRIVER(driver), &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	engine = usbpass_engine_new(HOST, inventory, store, USBPASS_DRIVER(driver));
	usbpass_engine_set_enabled(engine, TRUE);
	/* start-up reconcile: the rows say what the definitions say */
	ret = usbpass_engine_start(engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_rows(store, inventory, tc, uuid);

	for (guint i = 0; i < G_N_ELEMENTS(host_devices); i++) {
		g_autoptr(UsbpassEngineDevice) attached = NULL;
		g_autoptr(UsbpassEngineDevice) detached = NULL;

		if ((tc->held & (1u << i)) == 0)
			continue;
		g_test_message("device %s", host_devices[i].port);
		/* never a second definition */
		attached =
		  usbpass_engine_attach(engine, host_devices[i].port, other_name, "uid:0", &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
		g_assert_null(attached);
		g_clear_error(&error);
		/* never removed by usbpass when usbpass did not write it */
		if ((tc->owned & (1u << i)) != 0)
			continue;
		detached = usbpass_engine_detach(engine, host_devices[i].port, "uid:0", &error);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_IN_USE);
		g_assert_null(detached);
		g_clear_error(&error);
	}
	ret = usbpass_engine_reconcile(engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_rows(store, inventory, tc, uuid);

	after = inactive_xml(domain);
	other_after = inactive_xml(other);
	g_assert_cmpstr(after, ==, before);
	g_assert_cmpstr(other_after, ==, other_before);
}

/* issue 9 item 2 against libvirt: a domain whose USB ports are all taken by
 * hand-written address-only hostdevs refuses usbpass's attach ("No free USB
 * ports"); the retry must not make room by removing one of them */
static void
test_retry_no_free_ports(Fixture *fx, gconstpointer user_data)
{
	const gchar *full = "<domain type='qemu'><name>usbpass-corpus-full</name>"
	                    "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
	                    "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
	                    "<controller type='usb' index='0' model='piix3-uhci'/>"
	                    "<hostdev mode='subsystem' type='usb'><source startupPolicy='optional'>"
	                    "<address bus='1' device='9'/></source></hostdev>"
	                    "<hostdev mode='subsystem' type='usb'><source startupPolicy='optional'>"
	                    "<address bus='1' device='4'/></source></hostdev>"
	                    "</devices></domain>";
	const CorpusCase held = { "full", FALSE, DEV_A | DEV_B, 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(virDomain) domain = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *db_path = NULL;
	g_autoptr(UsbpassInventory) inventory = NULL;
	g_autoptr(UsbpassStore) store = NULL;
	g_autoptr(UsbpassLibvirtDriver) driver = NULL;
	g_autoptr(UsbpassEngine) engine = NULL;
	gboolean ret;

	if (fx->uri == NULL) {
		g_test_skip("no libvirtd: run under scripts/with-libvirtd");
		return;
	}
	domain = define_domain(fx, full, "full");
	uuid = domain_uuid(domain);
	before = inactive_xml(domain);

	inventory = inventory_new();
	db_path = g_build_filename(fx->tmpdir, "usbpass.db", NULL);
	store = USBPASS_STORE(usbpass_sqlite_store_new(db_path, &error));
	g_assert_no_error(error);
	driver = usbpass_libvirt_driver_new(fx->uri);
	ret = usbpass_driver_open(USBPASS_DRIVER(driver), &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	engine = usbpass_engine_new(HOST, inventory, store, USBPASS_DRIVER(driver));
	usbpass_engine_set_enabled(engine, TRUE);
	ret = usbpass_engine_start(engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	assert_rows(store, inventory, &held, uuid);

	for (guint attempt = 0; attempt < 2; attempt++) {
		g_autoptr(UsbpassEngineDevice) attached =
		  usbpass_engine_attach(engine, "2-1", virDomainGetName(domain), "uid:0", &error);
		g_test_message("attempt %u", attempt);
		g_assert_error(error, USBPASS_ERROR, USBPASS_ERROR_DRIVER);
		g_assert_nonnull(strstr(error->message, "No free USB ports"));
		g_assert_null(attached);
		g_clear_error(&error);
		after = inactive_xml(domain);
		g_assert_cmpstr(after, ==, before);
		g_clear_pointer(&after, g_free);
	}
	ret = usbpass_engine_reconcile(engine, &error);
	g_assert_no_error(error);
	g_assert_true(ret);
	after = inactive_xml(domain);
	g_assert_cmpstr(after, ==, before);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(corpus_cases); i++) {
		g_autofree gchar *path =
		  g_strdup_printf("/usbpass/corpus/in-use/%s", corpus_cases[i].form);
		g_test_add_data_func(path, &corpus_cases[i], test_in_use);
	}
	for (guint i = 0; i < G_N_ELEMENTS(corpus_cases); i++) {
		g_autofree gchar *path = NULL;
		if (corpus_cases[i].live_only)
			continue;
		path =
		  g_strdup_printf("/usbpass/corpus/libvirt/reconcile/%s", corpus_cases[i].form);
		g_test_add(
		  path, Fixture, &corpus_cases[i], fixture_setup, test_reconcile, fixture_teardown);
	}
	g_test_add("/usbpass/corpus/libvirt/reconcile/retry-after-no-free-ports",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_retry_no_free_ports,
	           fixture_teardown);
	return g_test_run();
}
